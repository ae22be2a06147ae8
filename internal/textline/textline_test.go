package textline

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	tests := []struct {
		in    string
		max   int
		lines []string // "ERR:too long" marks ErrLineTooLong
		end   error
	}{
		{"HELO a\r\nQUIT\r\n", 100, []string{"HELO a", "QUIT"}, io.EOF},
		{"HELO a\nQUIT\r\n", 100, []string{"HELO a", "QUIT"}, io.EOF},
		{"\r\n\r\n", 100, []string{"", ""}, io.EOF},
		{"partial", 100, nil, io.ErrUnexpectedEOF},
		{strings.Repeat("x", 50) + "\r\nNOOP\r\n", 20, []string{"ERR", "NOOP"}, io.EOF},
		{strings.Repeat("x", 18) + "\r\n", 20, []string{strings.Repeat("x", 18)}, io.EOF},
		{strings.Repeat("x", 19) + "\r\n", 20, []string{"ERR"}, io.EOF},
	}
	for _, tt := range tests {
		r := NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), 16), tt.max)
		var got []string
		var err error
		for {
			var l []byte
			l, err = r.ReadLine()
			if errors.Is(err, ErrLineTooLong) {
				got = append(got, "ERR")
				continue
			}
			if err != nil {
				break
			}
			got = append(got, string(l))
		}
		if strings.Join(got, "|") != strings.Join(tt.lines, "|") || err != tt.end {
			t.Errorf("ReadLine(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.lines, tt.end)
		}
	}
}

func TestBareLF(t *testing.T) {
	r := NewReader(strings.NewReader("a\nb\r\n"), 10)
	r.ReadLine()
	if !r.BareLF() {
		t.Error("BareLF after \"a\\n\" = false, want true")
	}
	r.ReadLine()
	if r.BareLF() {
		t.Error("BareLF after \"b\\r\\n\" = true, want false")
	}
}

// endless yields 'x' forever: a client that never sends a newline.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	e.n -= k
	return int(k), nil
}

func TestLongLineNotBuffered(t *testing.T) {
	r := NewReader(io.MultiReader(&endless{n: 64 << 20}, strings.NewReader("\r\nQUIT\r\n")), 512)
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("ReadLine(64 MiB line) err = %v, want ErrLineTooLong", err)
	}
	if cap(r.line) > 4096 {
		t.Errorf("line buffer grew to %d bytes, want at most 4096", cap(r.line))
	}
	if l, err := r.ReadLine(); err != nil || string(l) != "QUIT" {
		t.Errorf("ReadLine after long line = %q, %v; want QUIT", l, err)
	}
}

func FuzzReadLine(f *testing.F) {
	f.Add([]byte("HELO a\r\nMAIL FROM:<a@b>\r\n"), 10)
	f.Add([]byte("x\ny\r\n\r"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := NewReader(bufio.NewReaderSize(strings.NewReader(string(in)), 16), max)
		for i := 0; i <= len(in); i++ {
			l, err := r.ReadLine()
			if err == nil && len(l) > max {
				t.Fatalf("line of %d bytes over max %d", len(l), max)
			}
			if err != nil && !errors.Is(err, ErrLineTooLong) {
				return
			}
		}
	})
}
