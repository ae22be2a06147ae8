package zone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/netprefix"
)

// axfrChunk bounds the records, and axfrBytes the approximate size, of one
// message of a transfer (a message may not exceed 65535 bytes).
const (
	axfrChunk = 100
	axfrBytes = 16 << 10
)

// ServeTransfer answers an AXFR or IXFR over TCP (RFC 5936 §2.2): the SOA, every
// other record, the SOA again, in as many messages as it takes; an IXFR
// over UDP gets the SOA alone (RFC 1995 §2). Clients outside AllowTransfer
// must sign the request; others are refused.
func (p *Primary) ServeTransfer(w dns.ResponseWriter, r *dns.Request) {
	s, signed, done := p.authenticate(w, r)
	if done {
		return
	}
	req := r.Msg
	var m dns.Msg
	m.SetReply(req)
	ok := signed
	if len(p.AllowTransfer) == 0 && netprefix.IsLoopback(r.Remote.Addr()) || netprefix.ContainsAny(p.AllowTransfer, r.Remote.Addr()) {
		ok = true
	}
	z := p.Authority.Zone(req.Question[0].Name)
	switch {
	case z == nil || !dns.EqualNames(z.Origin, req.Question[0].Name):
		// Not a zone we serve: NOTAUTH, as from BIND, Knot and NSD.
		m.Rcode = dns.RcodeNotAuth
		s.write(w, &m, 0)
		return
	case !ok:
		// Denied: REFUSED, as from NSD (Knot says NOTAUTH; BIND allows
		// any client by default).
		m.Rcode = dns.RcodeRefused
		s.write(w, &m, 0)
		return
	case !r.TCP:
		// IXFR over UDP (RFC 1995 §2): a whole transfer does not fit a
		// datagram, so the answer is the current SOA alone, which tells
		// the client to ask again over TCP.
		m.Authoritative = true
		m.Answer = []dns.RR{z.SOA}
		s.write(w, &m, 0)
		return
	}
	// An IXFR gets the whole zone, in AXFR form: we keep no history of
	// changes, and RFC 1995 §4 allows a full transfer in answer.
	recs := append(append([]dns.RR(nil), z.recs...), z.SOA)
	m.Authoritative = true
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && n < axfrChunk {
			size += len(recs[n].Name) + 12 + len(recs[n].Data.String())
			if n > 0 && size > axfrBytes {
				break
			}
			n++
		}
		m.Answer = recs[:n]
		recs = recs[n:]
		if err := s.write(w, &m, 0); err != nil {
			p.logger().Debug("dns: transfer interrupted", "zone", z.Origin, "err", err)
			return
		}
		m.Question = nil // RFC 5936 §2.2: later messages may omit it
	}
	p.logger().Info("dns: zone transferred", "zone", z.Origin, "serial", z.Serial(), "remote", r.Remote.String())
}

// Transfer fetches a zone by AXFR from addr (host:port) over TCP and
// returns its records, SOA first.
func Transfer(ctx context.Context, addr, origin string, key *dns.TSIGKey) ([]Record, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	q := new(dns.Msg).SetQuestion(uint16(time.Now().UnixNano()), origin, dns.TypeAXFR)
	q.RecursionDesired = false
	wire, err := q.Pack()
	if err != nil {
		return nil, err
	}
	var mac []byte
	if key != nil {
		if wire, mac, err = dns.SignTSIG(wire, key, nil, time.Now(), 0, false); err != nil {
			return nil, err
		}
	}
	if err := dns.WriteTCP(conn, wire); err != nil {
		return nil, err
	}
	var out []Record
	soas := 0
	for msgs := 0; soas < 2; msgs++ {
		b, err := dns.ReadTCP(conn)
		if err != nil {
			return nil, fmt.Errorf("transfer of %s from %s: %w", origin, addr, err)
		}
		var m dns.Msg
		if err := m.Unpack(b); err != nil {
			return nil, err
		}
		if m.ID != q.ID {
			return nil, errors.New("transfer: answer with another ID")
		}
		if m.Rcode != dns.RcodeSuccess {
			return nil, fmt.Errorf("transfer of %s from %s: %v", origin, addr, m.Rcode)
		}
		if key != nil && msgs == 0 {
			// The first message must be signed with our key (RFC 8945 §5.3.1).
			if _, _, err := dns.VerifyTSIG(b, []*dns.TSIGKey{key}, mac, time.Now()); err != nil {
				return nil, fmt.Errorf("transfer: %w", err)
			}
		}
		for _, rr := range m.Answer {
			if rr.Type == dns.TypeTSIG {
				continue
			}
			if rr.Type == dns.TypeSOA {
				soas++
				if soas == 2 {
					break
				}
			}
			out = append(out, Record{RR: rr, File: "axfr from " + addr})
		}
		if len(out) == 0 || out[0].Type != dns.TypeSOA {
			return nil, errors.New("transfer: the first record is not the SOA")
		}
		if len(out) > 10_000_000 {
			return nil, errors.New("transfer: zone too large")
		}
	}
	return out, nil
}

// Secondary keeps a copy of a zone loaded from a primary by AXFR and
// refreshed on the SOA timers (RFC 1034 §4.3.5): every Refresh seconds it
// asks the primary for the SOA and transfers the zone again when the
// serial grew; after a failure it tries again every Retry seconds, and
// after Expire seconds without the primary it stops answering for the zone.
type Secondary struct {
	Origin    string
	Primary   string // host:port
	Key       *dns.TSIGKey
	Authority *Authority
	// File, when set, receives each transferred version (so a restart can
	// serve it before the primary answers).
	File   string
	Logger *slog.Logger
	// MinRefresh bounds the refresh interval from below (default 1 s), so
	// that a zone with tiny timers cannot make us hammer the primary; it
	// also spaces refreshes triggered by NOTIFY.
	MinRefresh time.Duration

	once   sync.Once
	notify chan struct{}
}

func (s *Secondary) notified() chan struct{} {
	s.once.Do(func() { s.notify = make(chan struct{}, 1) })
	return s.notify
}

// ServeNotify acknowledges a NOTIFY for the zone from its primary's
// address and wakes Run to refresh at once (RFC 1996 §3.11); a NOTIFY from
// anywhere else is REFUSED.
func (s *Secondary) ServeNotify(w dns.ResponseWriter, r *dns.Request) {
	var m dns.Msg
	m.SetReply(r.Msg)
	m.Authoritative = true
	host, _, _ := net.SplitHostPort(s.Primary)
	primary, err := netip.ParseAddr(host)
	switch {
	case len(r.Msg.Question) != 1 || !dns.EqualNames(r.Msg.Question[0].Name, s.Origin):
		m.Rcode = dns.RcodeNotAuth
	case err != nil || primary.Unmap() != r.Remote.Addr().Unmap():
		m.Rcode = dns.RcodeRefused
	default:
		select {
		case s.notified() <- struct{}{}:
		default: // a refresh is already due
		}
	}
	w.WriteMsg(&m)
}

// Notifies routes NOTIFY messages to the Secondary of each zone.
type Notifies []*Secondary

// ServeDNS hands the NOTIFY to the secondary for its zone.
func (ns Notifies) ServeDNS(w dns.ResponseWriter, r *dns.Request) {
	for _, s := range ns {
		if len(r.Msg.Question) == 1 && dns.EqualNames(r.Msg.Question[0].Name, s.Origin) {
			s.ServeNotify(w, r)
			return
		}
	}
	var m dns.Msg
	m.SetReply(r.Msg)
	m.Rcode = dns.RcodeNotAuth
	w.WriteMsg(&m)
}

func (s *Secondary) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Load transfers the zone once and starts serving it.
func (s *Secondary) Load(ctx context.Context) (*Zone, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := Transfer(ctx, s.Primary, dns.Fqdn(s.Origin), s.Key)
	if err != nil {
		return nil, err
	}
	z, err := New(s.Origin, recs)
	if err != nil {
		return nil, err
	}
	if s.File != "" {
		if err := WriteFile(s.File, z); err != nil {
			return nil, err
		}
	}
	s.Authority.Put(z)
	s.logger().Info("dns: zone loaded from primary", "zone", z.Origin, "serial", z.Serial(), "primary", s.Primary)
	return z, nil
}

// Run refreshes the zone until ctx ends. The zone must have been loaded.
// An expired zone is no longer served, but Run keeps asking the primary
// every Retry seconds and serves the zone again once a transfer succeeds
// (RFC 1034 §4.3.5).
func (s *Secondary) Run(ctx context.Context) error {
	minRefresh := s.MinRefresh
	if minRefresh <= 0 {
		minRefresh = time.Second
	}
	z := s.Authority.Zone(s.Origin)
	if z == nil {
		return errors.New("secondary: zone not loaded")
	}
	origin := z.Origin
	soa := *z.SOA.Data.(*dns.SOA) // the timers of the last version served
	lastOK := time.Now()
	for {
		var err error
		if z = s.Authority.Zone(origin); z != nil {
			soa = *z.SOA.Data.(*dns.SOA)
			err = s.refresh(ctx, z)
		} else {
			_, err = s.Load(ctx) // expired: try for a whole new copy
		}
		wait := max(time.Duration(soa.Refresh)*time.Second, minRefresh)
		if err != nil {
			wait = max(time.Duration(soa.Retry)*time.Second, minRefresh)
			s.logger().Warn("dns: refresh from primary failed", "zone", origin, "err", err, "retry_in", wait)
			if z != nil && time.Since(lastOK) > time.Duration(soa.Expire)*time.Second {
				s.logger().Error("dns: zone expired; no longer served", "zone", origin)
				s.Authority.Remove(origin)
			}
		} else {
			lastOK = time.Now()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		case <-s.notified():
			t.Stop()
			// Space refreshes, however many NOTIFYs arrive.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(minRefresh):
			}
		}
	}
}

// refresh compares serials and transfers when the primary's is newer.
func (s *Secondary) refresh(ctx context.Context, z *Zone) error {
	c := &dns.Client{Timeout: 5 * time.Second}
	q := new(dns.Msg).SetQuestion(0, z.Origin, dns.TypeSOA)
	q.RecursionDesired = false
	resp, err := c.Exchange(ctx, q, s.Primary)
	if err != nil {
		return err
	}
	for _, rr := range resp.Msg.Answer {
		if sd, ok := rr.Data.(*dns.SOA); ok && serialNewer(sd.Serial, z.Serial()) {
			_, err := s.Load(ctx)
			return err
		}
	}
	if resp.Msg.Rcode != dns.RcodeSuccess || len(resp.Msg.Answer) == 0 {
		return fmt.Errorf("SOA query: %v", resp.Msg.Rcode)
	}
	return nil
}
