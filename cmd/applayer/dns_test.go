package main

import (
	"testing"

	"github.com/applayer/applayer/dns"
)

func TestParseQueryArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want queryArgs
		err  bool
	}{
		{[]string{"www.example.com"}, queryArgs{name: "www.example.com.", typ: dns.TypeA}, false},
		{[]string{"example.com", "MX", "@127.0.0.1:5300", "+tcp"}, queryArgs{name: "example.com.", typ: dns.TypeMX, server: "127.0.0.1", port: 5300, tcp: true}, false},
		{[]string{"+trace", "+norec", "ns", "ns", "@::1"}, queryArgs{name: "ns.", typ: dns.TypeNS, server: "::1", trace: true, norec: true}, false},
		{[]string{"a.", "TYPE65280"}, queryArgs{name: "a.", typ: 65280}, false},
		{[]string{"+bogus", "x"}, queryArgs{}, true},
		{[]string{"MX"}, queryArgs{name: "MX.", typ: dns.TypeA}, false},
		{[]string{"a", "b", "c"}, queryArgs{}, true},
		{[]string{"@127.0.0.1:99999", "a"}, queryArgs{}, true},
	} {
		got, err := parseQueryArgs(tc.args)
		if tc.err {
			if err == nil {
				t.Errorf("parseQueryArgs(%q) = %+v, want an error", tc.args, got)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("parseQueryArgs(%q) = %+v, %v, want %+v", tc.args, got, err, tc.want)
		}
	}
}
