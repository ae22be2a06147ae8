package web

import (
	"strings"
	"testing"
)

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-5", "bytes=10-", "bytes=5-1", "bytes=0-1,2-3", "items=1-2", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		start, n, status := parseRange(v, size)
		switch status {
		case StatusPartialContent:
			if start < 0 || n <= 0 || start+n > size {
				t.Fatalf("parseRange(%q, %d) = %d+%d outside the representation", v, size, start, n)
			}
		case StatusOK, StatusRangeNotSatisfiable:
		default:
			t.Fatalf("status %d", status)
		}
	})
}

func FuzzCredentials(f *testing.F) {
	f.Add("alice:$2a$10$OR9iT7F/sU25V9BVSsd/huQR2xakzQDzKQAhimjLEP7W56SQdGSdO\n", "Basic YWxpY2U6eA==")
	f.Add("# c\n\nbob:x", "Basic !!")
	f.Fuzz(func(t *testing.T, file, authz string) {
		c, err := ParseCredentials(strings.NewReader(file), "")
		if err != nil {
			return
		}
		// A syntactically broken Authorization never authenticates.
		if !strings.HasPrefix(authz, "Basic ") && !strings.HasPrefix(strings.ToLower(authz), "basic ") {
			if _, ok := c.Check(authz); ok {
				t.Fatalf("%q authenticated", authz)
			}
		}
	})
}
