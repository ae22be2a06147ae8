package zone

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/atomicfile"
)

// Primary lets a registrar change an Authority's zones with RFC 2136
// UPDATE messages authenticated by TSIG (RFC 8945), and gives the zones to
// secondaries by AXFR (RFC 5936). Every accepted update bumps the SOA
// serial and is written to the zone's file (a new file written, synced and
// renamed over the old one) before it is acknowledged: after a crash the
// file holds either the zone before the update or after it.
type Primary struct {
	Authority *Authority
	// Keys authenticate updates; with no keys every update is REFUSED.
	Keys []*dns.TSIGKey
	// Files maps a zone's origin to the file it is rewritten to; a zone
	// without a file is updated in memory only.
	Files map[string]string
	// AllowTransfer lists the networks that may AXFR without a TSIG
	// signature (default loopback); a valid signature is always enough.
	AllowTransfer []netip.Prefix
	Logger        *slog.Logger
	// Now is the clock for TSIG (default time.Now).
	Now func() time.Time
	// Notify lists secondaries (host:port) told of every accepted update
	// with a NOTIFY (RFC 1996), so they transfer the new version at once
	// rather than on their refresh timer.
	Notify []string

	mu sync.Mutex // one update at a time
}

func (p *Primary) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Primary) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// Attach makes a handle UPDATE and AXFR through p.
func (p *Primary) Attach(a *Authority) {
	p.Authority = a
	a.Updates = dns.HandlerFunc(p.ServeUpdate)
	a.Transfers = dns.HandlerFunc(p.ServeTransfer)
}

// signer answers a possibly signed request, signing the answer with the
// request's key (RFC 8945 §5.3).
type signer struct {
	p    *Primary
	key  *dns.TSIGKey
	mac  []byte
	next bool // later messages of a stream sign timers only
}

func (s *signer) write(w dns.ResponseWriter, m *dns.Msg, tsigErr dns.Rcode) error {
	if s.key == nil {
		return w.WriteMsg(m)
	}
	wire, err := m.Pack()
	if err != nil {
		return err
	}
	signed, mac, err := dns.SignTSIG(wire, s.key, s.mac, s.p.now(), tsigErr, s.next)
	if err != nil {
		return err
	}
	s.mac, s.next = mac, true
	var back dns.Msg
	if err := back.Unpack(signed); err != nil {
		return err
	}
	return w.WriteMsg(&back)
}

// authenticate checks the request's TSIG. A bad signature is answered
// NOTAUTH with the TSIG error (RFC 8945 §5.2) and reported as handled.
func (p *Primary) authenticate(w dns.ResponseWriter, r *dns.Request) (*signer, bool, bool) {
	t, key, err := dns.VerifyTSIG(r.Raw, p.Keys, nil, p.now())
	switch {
	case errors.Is(err, dns.ErrNoTSIG):
		return &signer{p: p}, false, false
	case err == nil:
		return &signer{p: p, key: key, mac: t.MAC}, true, false
	}
	var m dns.Msg
	m.SetReply(r.Msg)
	m.Rcode = dns.RcodeNotAuth
	code := dns.RcodeBadSig
	switch {
	case errors.Is(err, dns.ErrBadKey):
		code = dns.RcodeBadKey
	case errors.Is(err, dns.ErrBadTime):
		code = dns.RcodeBadTime
	}
	if t != nil {
		// An unsigned TSIG record carrying the error (RFC 8945 §5.2: no MAC
		// for BADKEY and BADSIG).
		m.Additional = append(m.Additional, dns.RR{Name: dns.CanonicalName(r.Msg.Additional[len(r.Msg.Additional)-1].Name), Type: dns.TypeTSIG, Class: dns.ClassANY,
			Data: &dns.TSIG{Algorithm: t.Algorithm, TimeSigned: uint64(p.now().Unix()), Fudge: 300, OrigID: r.Msg.ID, Error: code}})
	}
	p.logger().Warn("dns: rejected signature", "remote", r.Remote.String(), "err", err)
	w.WriteMsg(&m)
	return nil, false, true
}

// ServeUpdate applies an RFC 2136 UPDATE: zone section, prerequisites
// (§3.2), update section (§3.4), in that order, all or nothing.
func (p *Primary) ServeUpdate(w dns.ResponseWriter, r *dns.Request) {
	s, signed, done := p.authenticate(w, r)
	if done {
		return
	}
	req := r.Msg
	var m dns.Msg
	m.SetReply(req)
	m.EDNS = nil
	reply := func(rc dns.Rcode) {
		m.Rcode = rc
		s.write(w, &m, 0)
	}
	if !signed || len(p.Keys) == 0 {
		reply(dns.RcodeRefused)
		return
	}
	// §3.1: exactly one zone, class IN, type SOA.
	if len(req.Question) != 1 || req.Question[0].Type != dns.TypeSOA {
		reply(dns.RcodeFormErr)
		return
	}
	z := p.Authority.Zone(req.Question[0].Name)
	if z == nil || !dns.EqualNames(z.Origin, req.Question[0].Name) {
		reply(dns.RcodeNotAuth)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	z = p.Authority.Zone(z.Origin) // the latest version, under the lock
	if rc := checkPrereqs(z, req.Answer); rc != dns.RcodeSuccess {
		reply(rc)
		return
	}
	recs, changed, rc := applyUpdates(z, req.Authority)
	if rc != dns.RcodeSuccess {
		reply(rc)
		return
	}
	if !changed {
		reply(dns.RcodeSuccess)
		return
	}
	nz, err := New(z.Origin, recs)
	if err != nil {
		p.logger().Warn("dns: update would break the zone", "zone", z.Origin, "err", err)
		reply(dns.RcodeRefused)
		return
	}
	if path := p.Files[z.Origin]; path != "" {
		if err := WriteFile(path, nz); err != nil {
			p.logger().Error("dns: could not save the zone; update refused", "zone", z.Origin, "err", err)
			reply(dns.RcodeServFail)
			return
		}
	}
	p.Authority.Put(nz)
	p.logger().Info("dns: zone updated", "zone", z.Origin, "serial", nz.Serial(), "remote", r.Remote.String())
	reply(dns.RcodeSuccess)
	for _, addr := range p.Notify {
		go p.notify(addr, nz)
	}
}

// notify tells one secondary that z changed (RFC 1996 §3.7): a NOTIFY with
// the zone's SOA, retried a few times until it is acknowledged.
func (p *Primary) notify(addr string, z *Zone) {
	for attempt := 0; attempt < 3; attempt++ {
		q := new(dns.Msg).SetQuestion(0, z.Origin, dns.TypeSOA)
		q.Opcode, q.RecursionDesired, q.Authoritative = dns.OpcodeNotify, false, true
		q.Answer = []dns.RR{z.SOA}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(ctx, q, addr)
		cancel()
		if err == nil && resp.Msg.Rcode == dns.RcodeSuccess {
			return
		}
		p.logger().Debug("dns: notify unanswered", "secondary", addr, "zone", z.Origin, "err", err)
	}
}

// checkPrereqs evaluates the prerequisite section (RFC 2136 §3.2).
func checkPrereqs(z *Zone, pre []dns.RR) dns.Rcode {
	type set struct {
		name string
		t    dns.Type
	}
	valueDep := map[set][]string{}
	for _, rr := range pre {
		if rr.TTL != 0 || !dns.IsSubdomain(rr.Name, z.Origin) {
			if !dns.IsSubdomain(rr.Name, z.Origin) {
				return dns.RcodeNotZone
			}
			return dns.RcodeFormErr
		}
		n := z.nodes[dns.CanonicalName(rr.Name)]
		exists := n != nil && len(n.sets) > 0
		switch rr.Class {
		case dns.ClassANY:
			if rr.Type == dns.TypeANY {
				if !exists {
					return dns.RcodeNXDomain // name is not in use
				}
			} else if !exists || n.get(rr.Type) == nil {
				return dns.RcodeNXRRSet
			}
		case dns.ClassNONE:
			if rr.Type == dns.TypeANY {
				if exists {
					return dns.RcodeYXDomain
				}
			} else if exists && n.get(rr.Type) != nil {
				return dns.RcodeYXRRSet
			}
		case dns.ClassIN:
			k := set{dns.CanonicalName(rr.Name), rr.Type}
			valueDep[k] = append(valueDep[k], dataKey(rr.Type, rr.Data))
		default:
			return dns.RcodeFormErr
		}
	}
	// Value-dependent: the RRset must be exactly these records (§3.2.3).
	for k, want := range valueDep {
		n := z.nodes[k.name]
		if n == nil || n.get(k.t) == nil {
			return dns.RcodeNXRRSet
		}
		have := map[string]bool{}
		for _, rr := range n.get(k.t).rrs {
			have[dataKey(rr.Type, rr.Data)] = true
		}
		wantSet := map[string]bool{}
		for _, w := range want {
			wantSet[w] = true
		}
		if len(have) != len(wantSet) {
			return dns.RcodeNXRRSet
		}
		for w := range wantSet {
			if !have[w] {
				return dns.RcodeNXRRSet
			}
		}
	}
	return dns.RcodeSuccess
}

// applyUpdates runs the update section (RFC 2136 §3.4) over a copy of the
// zone's records and bumps the serial when anything changed.
func applyUpdates(z *Zone, ups []dns.RR) ([]Record, bool, dns.Rcode) {
	// §3.4.1: check everything before changing anything.
	for _, rr := range ups {
		if !dns.IsSubdomain(rr.Name, z.Origin) {
			return nil, false, dns.RcodeNotZone
		}
		switch rr.Class {
		case dns.ClassIN:
			if rr.Type == dns.TypeANY || rr.Type == dns.TypeAXFR || rr.Type == dns.TypeIXFR || rr.Type == dns.TypeTSIG || rr.Type == dns.TypeOPT {
				return nil, false, dns.RcodeFormErr
			}
			if _, ok := rr.Data.(*dns.Unknown); ok && rr.Type < 256 && typeHasStruct(rr.Type) {
				return nil, false, dns.RcodeFormErr
			}
		case dns.ClassANY, dns.ClassNONE:
			if rr.TTL != 0 || rr.Class == dns.ClassNONE && rr.Type == dns.TypeANY {
				return nil, false, dns.RcodeFormErr
			}
		default:
			return nil, false, dns.RcodeFormErr
		}
	}
	recs := append([]dns.RR(nil), z.recs...)
	changed := false
	apex := func(rr dns.RR) bool { return dns.EqualNames(rr.Name, z.Origin) }
	same := func(a, b dns.RR) bool {
		return dns.EqualNames(a.Name, b.Name) && a.Type == b.Type && dataKey(a.Type, a.Data) == dataKey(b.Type, b.Data)
	}
	remove := func(keep func(dns.RR) bool) {
		out := recs[:0]
		for _, rr := range recs {
			if keep(rr) {
				out = append(out, rr)
			} else {
				changed = true
			}
		}
		recs = out
	}
	for _, u := range ups {
		switch u.Class {
		case dns.ClassIN:
			if u.TTL > 1<<31-1 {
				u.TTL = 0 // RFC 2181 §8: a TTL with the top bit set counts as zero
			}
			if u.Type == dns.TypeSOA {
				// §3.4.2.2: an SOA replaces the old one if its serial is newer.
				if !apex(u) || !serialNewer(u.Data.(*dns.SOA).Serial, recs[0].Data.(*dns.SOA).Serial) {
					continue
				}
				recs[0] = u
				changed = true
				continue
			}
			conflict, dup := false, false
			for i, rr := range recs {
				if !dns.EqualNames(rr.Name, u.Name) {
					continue
				}
				if rr.Type == dns.TypeCNAME && u.Type != dns.TypeCNAME || rr.Type != dns.TypeCNAME && u.Type == dns.TypeCNAME {
					conflict = true // §3.4.2.2: ignored, not an error
				}
				if rr.Type == dns.TypeCNAME && u.Type == dns.TypeCNAME && !same(rr, u) {
					recs[i] = u // §3.4.2.2: a name has one CNAME; the new one replaces it
					changed, dup = true, true
				}
				if same(rr, u) {
					dup = true
					if rr.TTL != u.TTL {
						recs[i].TTL = u.TTL
						changed = true
					}
				}
			}
			if !conflict && !dup {
				recs = append(recs, u)
				changed = true
			}
		case dns.ClassANY:
			remove(func(rr dns.RR) bool {
				if !dns.EqualNames(rr.Name, u.Name) {
					return true
				}
				if apex(rr) && (rr.Type == dns.TypeSOA || rr.Type == dns.TypeNS) {
					return true // §3.4.2.3: the apex SOA and NS stay
				}
				return u.Type != dns.TypeANY && rr.Type != u.Type
			})
		case dns.ClassNONE:
			if apex(u) && u.Type == dns.TypeSOA {
				continue
			}
			if apex(u) && u.Type == dns.TypeNS {
				n := 0
				for _, rr := range recs {
					if apex(rr) && rr.Type == dns.TypeNS {
						n++
					}
				}
				if n <= 1 {
					continue // §3.4.2.4: never the last NS
				}
			}
			u := u
			remove(func(rr dns.RR) bool { return !same(rr, u) })
		}
	}
	if !changed {
		return nil, false, dns.RcodeSuccess
	}
	// Bump the serial (RFC 1982 arithmetic wraps at 2^32).
	soa := recs[0]
	sd := *soa.Data.(*dns.SOA)
	sd.Serial++
	if sd.Serial == 0 {
		sd.Serial = 1
	}
	soa.Data = &sd
	recs[0] = soa
	out := make([]Record, len(recs))
	for i, rr := range recs {
		out[i] = Record{RR: rr, File: "update"}
	}
	return out, true, dns.RcodeSuccess
}

// dataKey is the form in which RDATA of type t are compared: domain names
// in them without regard to case (RFC 4343 §3), everything else exactly (a
// TXT string "ABC" is not "abc").
func dataKey(t dns.Type, d dns.RData) string {
	switch t {
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMX, dns.TypeSOA, dns.TypeSRV:
		// Their presentation forms hold only names and numbers.
		return strings.ToLower(d.String())
	}
	return d.String()
}

func typeHasStruct(t dns.Type) bool {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMX, dns.TypeSOA, dns.TypeTXT, dns.TypeSRV:
		return true
	}
	return false
}

// serialNewer reports whether a is after b in RFC 1982 serial arithmetic.
func serialNewer(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}

// WriteFile saves z as a master file at path, atomically and durably: a
// new file beside it is written and synced, renamed over path, and the
// directory synced, so that a crash leaves the old zone or the new one.
func WriteFile(path string, z *Zone) error {
	var b strings.Builder
	b.WriteString("; zone " + z.Origin + ", written by applayer\n$ORIGIN .\n")
	for _, rr := range z.recs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	perm := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	return atomicfile.WriteFile(path, []byte(b.String()), perm)
}
