package smtpclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/smtp"
)

// fakeServer answers each line it reads from a script: for every prefix
// of a client line, the reply lines to send. It records what it got.
func fakeServer(t *testing.T, greeting string, script map[string]string) (string, chan []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []string, 1)
	go func() {
		defer l.Close()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var lines []string
		defer func() { got <- lines }()
		c.Write([]byte(greeting))
		br := bufio.NewReader(c)
		inData := false
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			lines = append(lines, l)
			if inData {
				if l == "." {
					inData = false
					c.Write([]byte(script["."]))
				}
				continue
			}
			for prefix, reply := range script {
				if prefix != "." && strings.HasPrefix(l, prefix) {
					c.Write([]byte(reply))
					inData = prefix == "DATA" && strings.HasPrefix(reply, "354")
					break
				}
			}
			if strings.HasPrefix(l, "QUIT") {
				return
			}
		}
	}()
	return l.Addr().String(), got
}

func TestHeloFallbackAndPartialRefusal(t *testing.T) {
	addr, got := fakeServer(t, "220 old.example ready\r\n", map[string]string{
		"EHLO":         "500 what?\r\n",
		"HELO":         "250 old.example\r\n",
		"MAIL":         "250 ok\r\n",
		"RCPT TO:<ok@": "250 ok\r\n",
		"RCPT TO:<no@": "550-5.1.1 no such user\r\n550 5.1.1 really\r\n",
		"DATA":         "354 go\r\n",
		".":            "250 2.0.0 queued\r\n",
		"QUIT":         "221 bye\r\n",
	})
	ctx := context.Background()
	r, err := Send(ctx, Submission{Addr: addr}, smtp.Path{Mailbox: smtp.Address{Local: "a", Domain: "b.example"}},
		[]smtp.Address{{Local: "ok", Domain: "x.example"}, {Local: "no", Domain: "x.example"}}, []byte("Subject: s\n\n.dot\nend"))
	var re *RcptError
	if !errors.As(err, &re) || re.Refused["no@x.example"] == nil || re.Refused["no@x.example"].Enhanced != smtp.CodeBadMailbox {
		t.Fatalf("Send = %v, %v; want a RcptError for no@x.example with 5.1.1", r, err)
	}
	if r == nil || r.Code != 250 || r.Enhanced != (smtp.EnhancedCode{2, 0, 0}) || r.Lines[0] != "queued" {
		t.Errorf("final reply = %+v", r)
	}
	lines := strings.Join(<-got, "|")
	if want := "EHLO localhost|HELO localhost|MAIL FROM:<a@b.example>|"; !strings.HasPrefix(lines, want) {
		t.Errorf("dialogue %q, want prefix %q", lines, want)
	}
	if !strings.Contains(lines, "|Subject: s||..dot|end|.|QUIT") {
		t.Errorf("body not CRLF-normalised and dot-stuffed: %q", lines)
	}
}

func TestMalformedReply(t *testing.T) {
	addr, _ := fakeServer(t, "hello there\r\n", nil)
	_, err := Dial(context.Background(), addr, Options{Timeout: 2 * time.Second})
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("Dial to a non-SMTP server = %v, want ErrProtocol", err)
	}
	addr, _ = fakeServer(t, "554 go away\r\n", nil)
	_, err = Dial(context.Background(), addr, Options{Timeout: 2 * time.Second})
	var r *smtp.Reply
	if !errors.As(err, &r) || r.Code != 554 {
		t.Errorf("Dial to a refusing server = %v, want the 554 reply", err)
	}
}

func TestTimeout(t *testing.T) {
	addr := testutil.SilentServer(t)
	_, err := Dial(context.Background(), addr, Options{Timeout: 200 * time.Millisecond})
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Errorf("Dial to a silent server = %v; want a timeout error", err)
	}
}

// TestAgainstSmtpSink sends to Postfix's smtp-sink, an independent server.
func TestAgainstSmtpSink(t *testing.T) {
	sink := peertest.Require(t, "smtp-sink", "postfix")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"-c", "127.0.0.1:" + strconv.Itoa(port), "10"}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postfix"}, args...)
	}
	cmd := exec.Command(sink, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	testutil.WaitListening(t, addr)
	c, err := Dial(context.Background(), addr, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("PIPELINING"); !ok {
		t.Error("smtp-sink's EHLO keywords not parsed (no PIPELINING)")
	}
	for i := 0; i < 3; i++ { // several messages on one connection
		if err := c.Mail(ctx, smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}, 100, false); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(ctx, smtp.Address{Local: "bob", Domain: "hamburger.edu"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Data(ctx, strings.NewReader("Subject: x\r\n\r\nDo you like ketchup?\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Error(err)
	}
}

// FuzzClient lets an arbitrary server answer: the client must return an
// error or a result, never panic or hang.
func FuzzClient(f *testing.F) {
	f.Add([]byte("220 x\r\n250-x\r\n250 AUTH PLAIN\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n221 bye\r\n"))
	f.Add([]byte("220-a\r\n221 b\r\n"))
	f.Add([]byte("220 x\r\n500 no\r\n250 x\r\n550 5.1.1 no\r\n"))
	f.Fuzz(func(t *testing.T, script []byte) {
		c, s := net.Pipe()
		go func() {
			s.Write(script)
			s.Close()
		}()
		go io.Copy(io.Discard, s)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cl, err := NewClient(ctx, c, Options{Timeout: time.Second})
		if err != nil {
			c.Close()
			return
		}
		defer cl.Close()
		if cl.Hello(ctx) != nil {
			return
		}
		cl.Extension("AUTH")
		if cl.Mail(ctx, smtp.Path{Null: true}, 10, true) != nil {
			return
		}
		cl.Rcpt(ctx, smtp.Address{Local: "a", Domain: "b.example"})
		cl.Data(ctx, strings.NewReader("x\r\n"))
	})
}

func TestPipelinedTransaction(t *testing.T) {
	ehlo := "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
	tests := []struct {
		name    string
		script  map[string]string
		wantErr int // code of the error reply, 0 for none
		refused []bool
		final   int
	}{
		{"one refused", map[string]string{"EHLO": ehlo, "MAIL": "250 ok\r\n", "RCPT TO:<ok@": "250 ok\r\n",
			"RCPT TO:<no@": "550 5.1.1 no\r\n", "DATA": "354 go\r\n", ".": "250 2.0.0 queued\r\n", "QUIT": "221 bye\r\n"},
			0, []bool{false, true}, 250},
		{"all refused", map[string]string{"EHLO": ehlo, "MAIL": "250 ok\r\n", "RCPT": "550 5.1.1 no\r\n",
			"DATA": "503 5.5.1 no valid recipients\r\n", "QUIT": "221 bye\r\n"},
			550, []bool{true, true}, 0},
		{"DATA accepted anyway", map[string]string{"EHLO": ehlo, "MAIL": "250 ok\r\n", "RCPT": "550 5.1.1 no\r\n",
			"DATA": "354 go\r\n", ".": "554 5.5.1 no valid recipients\r\n", "QUIT": "221 bye\r\n"},
			550, []bool{true, true}, 0},
		// A refused MAIL fails the transaction as a whole: no per-recipient
		// answers (the RCPTs' 503s say nothing about the recipients, and a
		// relay must not take them for permanent refusals).
		{"sender refused", map[string]string{"EHLO": ehlo, "MAIL": "553 5.7.1 not you\r\n", "RCPT": "503 5.5.1 need MAIL\r\n",
			"DATA": "503 5.5.1 need MAIL\r\n", "QUIT": "221 bye\r\n"},
			553, nil, 0},
		{"sender refused for now", map[string]string{"EHLO": ehlo, "MAIL": "451 4.7.1 greylisted\r\n", "RCPT": "503 5.5.1 need MAIL\r\n",
			"DATA": "503 5.5.1 need MAIL\r\n", "QUIT": "221 bye\r\n"},
			451, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, got := fakeServer(t, "220 mx.example\r\n", tt.script)
			ctx := context.Background()
			c, err := Dial(ctx, addr, Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Hello(ctx); err != nil {
				t.Fatal(err)
			}
			rcptErrs, final, err := c.Transaction(ctx, smtp.Path{Mailbox: smtp.Address{Local: "a", Domain: "b.example"}},
				[]smtp.Address{{Local: "ok", Domain: "x.example"}, {Local: "no", Domain: "x.example"}}, 10, false, strings.NewReader("hi\r\n"))
			var r *smtp.Reply
			if code := map[bool]int{true: 0}[err == nil]; err != nil {
				if !errors.As(err, &r) {
					t.Fatalf("Transaction err = %v, want a reply", err)
				}
				code = r.Code
				if code != tt.wantErr {
					t.Errorf("Transaction err = %v, want code %d", err, tt.wantErr)
				}
			} else if tt.wantErr != 0 {
				t.Errorf("Transaction succeeded, want code %d", tt.wantErr)
			}
			if tt.refused == nil && rcptErrs != nil {
				t.Errorf("rcptErrs = %v after a refused MAIL, want nil", rcptErrs)
			}
			if tt.refused != nil {
				for i, want := range tt.refused {
					if (rcptErrs[i] != nil) != want {
						t.Errorf("recipient %d refused = %v, want %v", i, rcptErrs[i], want)
					}
				}
			}
			if tt.final != 0 && (final == nil || final.Code != tt.final) {
				t.Errorf("final = %v, want %d", final, tt.final)
			}
			c.Quit(ctx)
			lines := strings.Join(<-got, "|")
			if !strings.Contains(lines, "MAIL FROM:<a@b.example> SIZE=10|RCPT TO:<ok@x.example>|RCPT TO:<no@x.example>|DATA") {
				t.Errorf("dialogue %q", lines)
			}
		})
	}
}
