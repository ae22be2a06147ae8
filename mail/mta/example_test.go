package mta_test

import (
	"context"
	"fmt"

	"github.com/applayer/applayer/mail/mta"
)

// The lab publishes its mail servers with records like these; without a
// DNS service the MTA answers MX look-ups from them.
func ExampleParseRecords() {
	r, _ := mta.ParseRecords([]string{
		"hamburger.edu. 300 IN MX 10 mail.hamburger.edu.",
		"mail.hamburger.edu. 300 IN A 127.0.25.2",
	})
	mx, _ := r.LookupMX(context.Background(), "hamburger.edu")
	ips, _ := r.LookupIPAddr(context.Background(), mx[0].Host)
	fmt.Println(mx[0].Pref, mx[0].Host, ips[0].IP)
	// Output: 10 mail.hamburger.edu 127.0.25.2
}
