package imap

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"*", "INBOX", true}, {"%", "a.b", false}, {"%", "a", true}, {"a.%", "a.b", true}, {"a.%", "a.b.c", false},
		{"a*", "a.b.c", true}, {"%.b", "a.b", true}, {"%.%", "a.b", true}, {"*.c", "a.b.c", true}, {"%.c", "a.b.c", false},
		{"", "", true}, {"", "a", false}, {"a", "a", true}, {"a", "b", false}, {"Sent", "Sent", true}, {"%b", "ab", true},
		{"%%", "a.b", false}, {"*%", "a.b", true}, {"a%c", "abc", true}, {"a%c", "a.c", false},
		{strings.Repeat("*%", 500) + "x", strings.Repeat("a", 200), false},
	} {
		if got := match(tc.pat, tc.name); got != tc.want {
			t.Errorf("match(%.20q, %q) = %v; want %v", tc.pat, tc.name, got, tc.want)
		}
	}
}
