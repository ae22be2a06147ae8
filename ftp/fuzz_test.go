package ftp

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/textline"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice", "RETR  two  spaces ", "\xff\xf4\xff\xf2ABOR", "\xff\xff", "abor", "X", "STOR a\x00b", "PORT 127,0,0,1,4,1", "EPRT |2|::1|5000|", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		if len(c.Verb) < 3 || len(c.Verb) > 4 || strings.ToUpper(c.Verb) != c.Verb {
			t.Fatalf("verb %q", c.Verb)
		}
		if strings.ContainsAny(c.Arg, "\x00\r\n") {
			t.Fatalf("arg %q", c.Arg)
		}
		// Arguments of the address commands never panic.
		ParseHostPort(c.Arg)
		ParseEPRT(c.Arg)
	})
}

func FuzzAddressReplies(f *testing.F) {
	for _, s := range []string{"Entering Passive Mode (127,0,0,1,200,10).", "=127,0,0,1,1,1", "Entering Extended Passive Mode (|||6446|)", "(!!!1!)", "(|||0|)", "(||||)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ap, err := ParsePASVReply(s); err == nil {
			if back, err := ParseHostPort(FormatHostPort(ap)); err != nil || back != ap {
				t.Fatalf("PASV %q: %v round-trips to %v (%v)", s, ap, back, err)
			}
		}
		if p, err := ParseEPSVReply(s); err == nil && p == 0 {
			t.Fatalf("EPSV %q: port 0", s)
		}
		if ap, err := ParseEPRT(s); err == nil {
			if back, err := ParseEPRT(FormatEPRT(ap)); err != nil || back != ap {
				t.Fatalf("EPRT %q: %v round-trips to %v (%v)", s, ap, back, err)
			}
		}
	})
}

func FuzzParseListLine(f *testing.F) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"-rw-r--r--    1 ftp      ftp             3 Dec 02 15:35 a.txt",
		"drwxr-xr-x   2 ftp      ftp          4096 Jan  2  2006 pub",
		"lrwxrwxrwx 1 ftp ftp 9 Dec  1 10:00 link -> hello.txt",
		"-rw-r--r-- 1 owner 12 Mar 3 2020 name with  spaces ",
		"total 12",
		"-rw-r--r-- 1 a b -1 Dec 02 15:35 x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseListLine(s, now)
		if err != nil {
			return
		}
		if e.Name == "" || e.Size < 0 {
			t.Fatalf("%q gave %+v", s, e)
		}
	})
}

func FuzzParseMLSxLine(f *testing.F) {
	for _, s := range []string{
		"type=file;size=13;modify=20261202153500;perm=r; hello.txt",
		"type=dir;modify=20261202153500.123;perm=el;UNIX.mode=0755; pub",
		"type=cdir; /",
		" name only",
		"size=-1; x",
		"=x; y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseMLSxLine(s)
		if err != nil {
			return
		}
		if e.Name == "" || e.Size < -1 {
			t.Fatalf("%q gave %+v", s, e)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 ready\r\n",
		"211-Features:\r\n EPSV\r\n211 End\r\n",
		"150-a\r\n150 b\r\n226 done\r\n",
		"200\r\n",
		"999 no\r\n",
		"21",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := textline.NewReader(bufio.NewReader(bytes.NewReader(b)), 512)
		for i := 0; i < 100; i++ {
			rep, err := ReadReply(r, nil)
			if err != nil {
				return
			}
			if rep.Code < 100 || rep.Code > 599 {
				t.Fatalf("code %d", rep.Code)
			}
			// What the server would send reads back the same.
			again, err := ReadReply(textline.NewReader(bytes.NewReader(rep.Append(nil)), 1<<20), nil)
			if err != nil || again.Code != rep.Code {
				t.Fatalf("%+v wrote %q read back %+v %v", rep, rep.Append(nil), again, err)
			}
		}
	})
}
