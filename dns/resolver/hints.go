package resolver

import (
	"os"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/zone"
)

// LoadHints reads a root hints file: NS records for "." and the addresses
// of those servers, in master-file format (like named.root).
func LoadHints(path string) ([]dns.RR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := zone.Parse(f, path, ".")
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for _, r := range recs {
		out = append(out, r.RR)
	}
	if len(out) == 0 {
		return nil, &zone.Error{File: path, Msg: "no records"}
	}
	return out, nil
}
