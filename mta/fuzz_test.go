package mta

import (
	"context"
	"strings"
	"testing"
)

func FuzzParseRecords(f *testing.F) {
	f.Add("hamburger.edu. 300 IN MX 10 mail.hamburger.edu.\nmail.hamburger.edu. IN A 127.0.25.2")
	f.Add("x. MX 0 .\nx. AAAA ::1 ; comment\nbad")
	f.Fuzz(func(t *testing.T, zone string) {
		r, err := ParseRecords(strings.Split(zone, "\n"))
		if err != nil {
			return
		}
		for name := range r.MX {
			if _, err := route(context.Background(), r, name, 25); err != nil && !strings.Contains(err.Error(), name) {
				t.Fatalf("route(%q) error %q does not name the domain", name, err)
			}
		}
	})
}
