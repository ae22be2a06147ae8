package zone_test

import (
	"fmt"
	"strings"

	"github.com/applayer/applayer/dns/zone"
)

// A zone file is parsed into records, each with its file and line, and
// built into a zone that an Authority serves (dns.Server{Handler: a}).
func Example() {
	src := `$ORIGIN hamburger.edu.
$TTL 1h
@    SOA dns admin 1 2h 1h 2w 5m
@    NS  dns
@    MX  10 mail
dns  A   127.0.53.11
mail A   127.0.25.2
`
	recs, err := zone.Parse(strings.NewReader(src), "hamburger.edu.zone", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	z, err := zone.New("hamburger.edu.", recs)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := zone.NewAuthority(z)
	fmt.Println(a.Find("mail.hamburger.edu.").Origin, z.Serial(), recs[2].RR.String(), "line", recs[2].Line)

	_, err = zone.Parse(strings.NewReader("$ORIGIN x.\nwww A 300.1.2.3\n"), "bad.zone", "")
	fmt.Println(err)
	// Output:
	// hamburger.edu. 1 hamburger.edu.	3600	IN	MX	10 mail.hamburger.edu. line 5
	// bad.zone:2: A: bad address 300.1.2.3
}
