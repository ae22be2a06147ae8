package pop3

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER bob", "PASS a b c", "LIST 1", "TOP 1 10", "AUTH PLAIN AGJvYgB4", "APOP mrose c4c9334bac560ecc979e58001b3e22fb", "", "  ", "RETR\x00", "list  2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		if c.Verb != strings.ToUpper(c.Verb) || len(c.Verb) < 3 || len(c.Verb) > 4 {
			t.Fatalf("verb %q from %q", c.Verb, line)
		}
		if c.Verb != "PASS" {
			for _, a := range c.Args {
				if a == "" || strings.ContainsAny(a, " \r\n\x00") {
					t.Fatalf("argument %q from %q", a, line)
				}
			}
		}
	})
}

// FuzzWriteMessage checks the dot-stuffing: un-stuffing what is written
// gives the message back, and no line of the output is a lone ".".
func FuzzWriteMessage(f *testing.F) {
	f.Add([]byte("a\r\n.\r\n..\r\nb"), -1)
	f.Add([]byte("H: v\r\n\r\n.x\r\ny\r\n"), 1)
	f.Fuzz(func(t *testing.T, msg []byte, n int) {
		if bytes.Contains(msg, []byte("\n")) && !bytes.Contains(msg, []byte("\r\n")) {
			return // writeMessage is given CRLF messages
		}
		var b bytes.Buffer
		if err := writeMessage(&b, bytes.NewReader(msg), -1, nil); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.HasSuffix(out, "\n") && len(msg) > 0 {
			t.Fatalf("output %q does not end a line", out)
		}
		var back []string
		for _, l := range strings.SplitAfter(out, "\n") {
			if strings.TrimRight(l, "\r\n") == "." {
				t.Fatalf("a lone dot in %q", out)
			}
			back = append(back, strings.TrimPrefix(l, "."))
		}
		got := strings.Join(back, "")
		want := string(msg)
		if len(msg) > 0 && !strings.HasSuffix(want, "\n") {
			want += "\r\n"
		}
		if got != want {
			t.Fatalf("writeMessage(%q) un-stuffed = %q", msg, got)
		}
	})
}
