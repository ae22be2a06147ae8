package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Magnet is what a magnet URI says about a torrent (BEP 9): its
// info-hash, and optionally a display name, trackers and peers.
type Magnet struct {
	InfoHash Hash
	Name     string   // dn
	Trackers []string // tr, in order
	Peers    []string // x.pe, host:port
}

// Magnet returns the torrent's magnet link, with its name and every
// tracker.
func (m *MetaInfo) Magnet() Magnet {
	mg := Magnet{InfoHash: m.InfoHash, Name: m.Info.Name}
	for _, tier := range m.Trackers() {
		mg.Trackers = append(mg.Trackers, tier...)
	}
	return mg
}

// String is the URI: magnet:?xt=urn:btih:<hex>&dn=...&tr=...
func (mg Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:")
	b.WriteString(mg.InfoHash.String())
	if mg.Name != "" {
		b.WriteString("&dn=" + url.QueryEscape(mg.Name))
	}
	for _, tr := range mg.Trackers {
		b.WriteString("&tr=" + url.QueryEscape(tr))
	}
	for _, p := range mg.Peers {
		b.WriteString("&x.pe=" + url.QueryEscape(p))
	}
	return b.String()
}

// ParseMagnet reads a magnet URI with a BitTorrent info-hash in hex (40
// digits) or base32 (32 characters).
func ParseMagnet(s string) (Magnet, error) {
	var mg Magnet
	rest, ok := strings.CutPrefix(s, "magnet:?")
	if !ok {
		return mg, errors.New("metainfo: not a magnet URI")
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return mg, fmt.Errorf("metainfo: magnet: %w", err)
	}
	found := false
	for _, xt := range q["xt"] {
		h, ok := strings.CutPrefix(xt, "urn:btih:")
		if !ok {
			continue
		}
		var b []byte
		switch len(h) {
		case 40:
			b, err = hex.DecodeString(h)
		case 32:
			b, err = base32.StdEncoding.DecodeString(strings.ToUpper(h))
		default:
			err = fmt.Errorf("btih of %d characters", len(h))
		}
		if err != nil {
			return mg, fmt.Errorf("metainfo: magnet: info-hash: %w", err)
		}
		copy(mg.InfoHash[:], b)
		found = true
		break
	}
	if !found {
		return mg, errors.New("metainfo: magnet: no urn:btih info-hash")
	}
	mg.Name = q.Get("dn")
	mg.Trackers = q["tr"]
	mg.Peers = q["x.pe"]
	return mg, nil
}
