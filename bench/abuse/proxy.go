//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The caching proxy's attacks (`applayer web proxy`), in front of an
// origin run here (127.0.0.8) that records every request it gets and
// answers each with Cache-Control: max-age=60 and a body that reflects the
// headers a careless application trusts (X-Forwarded-Host and the like):
// connection exhaustion through the reverse proxy; the open-proxy checks
// (CONNECT and absolute-form requests to a third address, 127.0.0.9,
// where a listener counts connections); request smuggling (CL.TE, TE.CL,
// duplicate Content-Length, obs-fold, odd Transfer-Encodings), judged by
// what reaches the origin; cache poisoning through unkeyed headers.

func init() { register(proxyAttacks) }

func proxyAttacks(r *runner) []attack {
	start := func() (*server, error) { return r.env.applayerProxy(true) }
	return []attack{
		{"proxy-idle", "applayer", func() []row {
			return r.exhaustion("proxy-idle", "applayer", start, httpIdle, probeHTTP, time.Second, false)
		}},
		{"proxy-slowloris", "applayer", func() []row {
			return r.exhaustion("proxy-slowloris", "applayer", start, slowloris, probeHTTP, time.Second, false)
		}},
		{"proxy-open", "applayer", r.proxyOpen},
		{"proxy-smuggling", "applayer", r.proxySmuggling},
		{"proxy-cache-poison", "applayer", r.proxyPoison},
	}
}

// origin is the recording origin server.
type origin struct {
	l    net.Listener
	mu   sync.Mutex
	reqs []string // request heads as received
}

func startOrigin(host string) (*origin, error) {
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		return nil, err
	}
	o := &origin{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go o.serve(c)
		}
	}()
	return o, nil
}

func (o *origin) close()       { o.l.Close() }
func (o *origin) addr() string { return o.l.Addr().String() }

func (o *origin) heads() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reqs...)
}

func (o *origin) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetDeadline(time.Now().Add(70 * time.Second))
		var head strings.Builder
		hdr := map[string][]string{}
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		head.WriteString(line)
		reqLine := strings.Fields(line)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(l)
			t := strings.TrimRight(l, "\r\n")
			if t == "" {
				break
			}
			if k, v, ok := strings.Cut(t, ":"); ok {
				k = strings.ToLower(strings.TrimSpace(k))
				hdr[k] = append(hdr[k], strings.TrimSpace(v))
			}
		}
		var body []byte
		if te := hdr["transfer-encoding"]; len(te) > 0 && strings.Contains(strings.ToLower(strings.Join(te, ",")), "chunked") {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(l, ";", 2)[0]), 16, 32)
				if err != nil || n < 0 || n > 1<<20 {
					return
				}
				if n == 0 {
					for {
						t, err := br.ReadString('\n')
						if err != nil || strings.TrimRight(t, "\r\n") == "" {
							break
						}
					}
					break
				}
				b := make([]byte, n+2)
				if _, err := io.ReadFull(br, b); err != nil {
					return
				}
				body = append(body, b[:n]...)
			}
		} else if cl := hdr["content-length"]; len(cl) > 0 {
			n, _ := strconv.Atoi(cl[0])
			if n > 1<<20 {
				return
			}
			body = make([]byte, max(n, 0))
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
		}
		o.mu.Lock()
		o.reqs = append(o.reqs, head.String())
		o.mu.Unlock()
		path := ""
		if len(reqLine) > 1 {
			path = reqLine[1]
		}
		resp := "path=" + path
		for _, k := range []string{"x-forwarded-host", "x-forwarded-scheme", "x-forwarded-proto", "x-original-url", "x-rewrite-url", "x-http-method-override", "forwarded", "x-host"} {
			if v := hdr[k]; len(v) > 0 {
				resp += " " + k + "=" + strings.Join(v, ",")
			}
		}
		if len(body) > 0 {
			resp += " body=" + string(body)
		}
		if len(reqLine) > 1 && reqLine[1] == "/" {
			resp = strings.Repeat("o", 1023) + "\n" // the probes' page
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: %d\r\n\r\n%s", len(resp), resp)
	}
}

// applayerProxy runs `applayer web proxy`, reverse in front of a fresh
// recording origin, or forward.
func (e *env) applayerProxy(reverse bool) (*server, error) {
	s, _, err := e.applayerProxyOrigin(reverse)
	return s, err
}

func (e *env) applayerProxyOrigin(reverse bool) (*server, *origin, error) {
	dir, err := e.subdir("proxy")
	if err != nil {
		return nil, nil, err
	}
	o, err := startOrigin("127.0.0.8")
	if err != nil {
		return nil, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		o.close()
		return nil, nil, err
	}
	argv := []string{e.bin, "web", "proxy", "--listen", addr, "--log-level", "error"}
	if reverse {
		argv = append(argv, "--reverse", o.addr())
	}
	s, err := e.start("applayer", dir, addr, argv...)
	if err != nil {
		o.close()
		return nil, nil, err
	}
	return s, o, nil
}

// rawHTTP sends raw on a fresh connection from 127.0.0.1 and returns the
// status codes of the responses read until the server closes or 3 s pass.
func rawHTTP(addr, raw string) ([]int, error) {
	c, err := dialFrom(context.Background(), attacker, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	var codes []int
	for {
		code, err := httpResponse(br)
		if code != 0 {
			codes = append(codes, code)
		}
		if err != nil {
			return codes, nil
		}
	}
}

// proxyOpen: what a stranger would use an open proxy for.
func (r *runner) proxyOpen() []row {
	rw := row{attack: "proxy-open", server: "applayer",
		sent: "reverse: CONNECT and an absolute-form GET to 127.0.0.9; forward: CONNECT to 127.0.0.9 on a port not in --connect-ports, and to port 25"}
	victim, err := net.Listen("tcp", "127.0.0.9:0")
	if err != nil {
		return failed(rw.attack, rw.server, err)
	}
	defer victim.Close()
	var reached atomic.Int64
	go func() {
		for {
			c, err := victim.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	v := victim.Addr().String()
	var got []string
	for _, reverse := range []bool{true, false} {
		srv, o, err := r.env.applayerProxyOrigin(reverse)
		if err != nil {
			return failed(rw.attack, rw.server, err)
		}
		if reverse {
			rw.rssBefore = rssKiB(srv.pids())
		}
		tries := []string{"CONNECT " + v + " HTTP/1.1\r\nHost: " + v + "\r\n\r\n"}
		if reverse {
			tries = append(tries, "GET http://"+v+"/steal HTTP/1.1\r\nHost: "+v+"\r\nConnection: close\r\n\r\n")
		} else {
			tries = append(tries, "CONNECT 127.0.0.9:25 HTTP/1.1\r\nHost: 127.0.0.9:25\r\n\r\n")
		}
		mode := map[bool]string{true: "reverse", false: "forward"}[reverse]
		for _, t := range tries {
			codes, err := rawHTTP(srv.addr, t)
			verb := strings.Fields(t)[0]
			got = append(got, fmt.Sprintf("%s %s: %v", mode, verb, codes))
			if err != nil {
				rw.problems = append(rw.problems, err.Error())
			}
			if verb == "CONNECT" && len(codes) > 0 && codes[0]/100 == 2 {
				rw.problems = append(rw.problems, mode+" CONNECT accepted")
			}
		}
		if reverse {
			for _, h := range o.heads() {
				if strings.Contains(h, "/steal") {
					got = append(got, "the absolute-form GET went to the origin")
				}
			}
			rw.rssAfter = rssKiB(srv.pids())
		}
		srv.stop()
		o.close()
	}
	rw.note = fmt.Sprintf("%s; connections reaching 127.0.0.9: %d; clients off loopback are refused by default (Allow; not testable on loopback)", strings.Join(got, "; "), reached.Load())
	if reached.Load() > 0 {
		rw.problems = append(rw.problems, "the third address was reached")
	}
	return []row{rw}
}

var smuggles = []struct{ name, req string }{
	{"CL.TE", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 49\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"TE.CL", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n\r\n0\r\n\r\n"},
	{"duplicate Content-Length", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"Content-Length list", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 0, 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"obs-fold Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 49\r\nTransfer-Encoding: x\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"obs-fold header", "GET /a HTTP/1.1\r\nHost: abuse.test\r\nX-Folded: a\r\n b\r\n\r\n"},
	{"space before colon", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 49\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"Transfer-Encoding: xchunked", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 49\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"Transfer-Encoding: chunked, identity", "POST /a HTTP/1.1\r\nHost: abuse.test\r\nContent-Length: 49\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
	{"bare LF line ends", "POST /a HTTP/1.1\nHost: abuse.test\nContent-Length: 49\nTransfer-Encoding: chunked\n\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: abuse.test\r\n\r\n"},
}

// proxySmuggling sends each ambiguous request through the reverse proxy;
// none may make the origin see /smuggled, a request with both
// Content-Length and Transfer-Encoding, or a folded line.
func (r *runner) proxySmuggling() []row {
	srv, o, err := r.env.applayerProxyOrigin(true)
	if err != nil {
		return failed("proxy-smuggling", "applayer", err)
	}
	defer o.close()
	defer srv.stop()
	rw := row{attack: "proxy-smuggling", server: "applayer", sent: fmt.Sprintf("%d ambiguous requests through the reverse proxy", len(smuggles))}
	rw.rssBefore = rssKiB(srv.pids())
	var got []string
	for _, s := range smuggles {
		before := len(o.heads())
		codes, err := rawHTTP(srv.addr, s.req)
		if err != nil {
			rw.problems = append(rw.problems, s.name+": "+err.Error())
			continue
		}
		heads := o.heads()[before:]
		bad := ""
		for _, h := range heads {
			lh := strings.ToLower(h)
			switch {
			case strings.Contains(h, "/smuggled"):
				bad = "smuggled request reached the origin"
			case strings.Contains(lh, "content-length") && strings.Contains(lh, "transfer-encoding"):
				bad = "origin got both Content-Length and Transfer-Encoding"
			case strings.Contains(h, "\r\n ") || strings.Contains(h, "\r\n\t"):
				bad = "origin got a folded line"
			}
		}
		got = append(got, fmt.Sprintf("%s: %v, %d at origin", s.name, codes, len(heads)))
		if bad != "" {
			rw.problems = append(rw.problems, s.name+": "+bad)
		}
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = strings.Join(got, "; ")
	return []row{rw}
}

var poisons = []struct{ name, header string }{
	{"X-Forwarded-Host", "X-Forwarded-Host: evil.test"},
	{"X-Host", "X-Host: evil.test"},
	{"X-Forwarded-Scheme", "X-Forwarded-Scheme: evil.test"},
	{"X-Forwarded-Proto", "X-Forwarded-Proto: evil.test"},
	{"Forwarded", "Forwarded: host=evil.test"},
	{"X-Original-URL", "X-Original-URL: /evil.test"},
	{"X-Rewrite-URL", "X-Rewrite-URL: /evil.test"},
	{"X-HTTP-Method-Override", "X-HTTP-Method-Override: evil.test"},
	{"fat GET (a body on GET)", "Content-Length: 9\r\n\r\nevil.test"},
}

// proxyPoison: the attacker fetches /page?n with an unkeyed header the
// origin reflects; then a victim fetches /page?n plainly and must not see
// evil.test.
func (r *runner) proxyPoison() []row {
	srv, o, err := r.env.applayerProxyOrigin(true)
	if err != nil {
		return failed("proxy-cache-poison", "applayer", err)
	}
	defer o.close()
	defer srv.stop()
	rw := row{attack: "proxy-cache-poison", server: "applayer",
		sent: fmt.Sprintf("%d unkeyed headers reflected by the origin, each on its own URL, then a plain GET of it", len(poisons))}
	rw.rssBefore = rssKiB(srv.pids())
	var poisoned, clean []string
	for i, p := range poisons {
		path := fmt.Sprintf("/page?n=%d", i)
		req := "GET " + path + " HTTP/1.1\r\nHost: abuse.test\r\nConnection: close\r\n" + p.header
		if !strings.Contains(p.header, "\r\n\r\n") {
			req += "\r\n\r\n"
		}
		rawHTTP(srv.addr, req)
		body, err := httpBody(srv.addr, path)
		if err != nil {
			rw.problems = append(rw.problems, p.name+": "+err.Error())
			continue
		}
		if strings.Contains(body, "evil.test") {
			poisoned = append(poisoned, p.name)
		} else {
			clean = append(clean, p.name)
		}
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("poisoned: %v; clean: %d of %d", poisoned, len(clean), len(poisons))
	if len(poisoned) > 0 {
		rw.problems = append(rw.problems, "victims got evil.test through "+strings.Join(poisoned, ", "))
	}
	return []row{rw}
}

// httpBody fetches path from 127.0.0.2 and returns the body.
func httpBody(addr, path string) (string, error) {
	c, err := dialFrom(context.Background(), fresh, addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: abuse.test\r\nConnection: close\r\n\r\n", path)
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return body, nil
}
