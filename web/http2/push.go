package http2

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/browser"
	"golang.org/x/net/http2/hpack"
)

// maxPushesPerResponse bounds the promises one response makes.
const maxPushesPerResponse = 32

// pushPreloads promises the objects st's response names in Link fields
// with rel=preload, and starts their handlers as pushed streams.
func (c *conn) pushPreloads(st *stream, h web.Header) {
	if !c.peerPush || c.goAway || st.req == nil || st.req.Method != "GET" && st.req.Method != "HEAD" {
		return
	}
	n := 0
	for _, f := range h {
		if !equalFold(f.Name, "Link") {
			continue
		}
		for _, target := range preloadTargets(f.Value) {
			if n >= maxPushesPerResponse || c.pushing >= int(c.peerStreams) || c.handlers >= int(c.maxStreams) || c.nextPush > MaxWindowSize {
				return
			}
			n++
			c.push(st, target)
		}
	}
}

// preloadTargets returns the same-origin paths of the rel=preload links in
// a Link field value (RFC 8288): "</style.css>; rel=preload; as=style".
func preloadTargets(v string) []string {
	var out []string
	for _, link := range strings.Split(v, ",") {
		link = strings.TrimSpace(link)
		if !strings.HasPrefix(link, "<") {
			continue
		}
		end := strings.IndexByte(link, '>')
		if end < 0 {
			continue
		}
		target, params := link[1:end], link[end+1:]
		preload, nopush := false, false
		for _, p := range strings.Split(params, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch strings.ToLower(k) {
			case "rel":
				for _, r := range strings.Fields(strings.ToLower(strings.Trim(val, `"`))) {
					preload = preload || r == "preload"
				}
			case "nopush":
				nopush = true
			}
		}
		if preload && !nopush && strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") {
			out = append(out, target)
		}
	}
	return out
}

// push sends PUSH_PROMISE for a GET of target on st and serves it on a
// new server stream.
func (c *conn) push(st *stream, target string) {
	req := &web.Request{Method: "GET", Proto: "HTTP/2.0", RemoteAddr: c.remote, Body: noBody{}, Host: st.req.Host, Scheme: cmpOr(st.req.Scheme, "http")}
	if err := req.SetTarget(target); err != nil {
		return
	}
	id := c.nextPush
	c.nextPush += 2
	c.encBuf.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: req.Scheme}, {Name: ":authority", Value: req.Host}, {Name: ":path", Value: target}} {
		c.enc.WriteField(f)
	}
	c.wbuf = AppendHeaderBlock(c.wbuf[:0], st.id, id, c.encBuf.Bytes(), false, c.peerMaxFrame)
	c.traceSent("PUSH_PROMISE stream=" + itoa(st.id) + " promised=" + itoa(id) + " " + target)
	c.writeFrame(c.wbuf)
	ps := c.newStream(id)
	ps.state = stateReservedLocal
	ps.pushed = true
	ps.req = req
	ps.prio = st.prio
	c.pushing++
	c.startHandler(ps)
}

// LinkPreloads wraps h so that an HTML page answered with one write (the
// file server's pages of up to 256 KiB) names the objects it references
// (images, scripts, stylesheets: browser.ObjectLinks) on its own origin in
// Link fields with rel=preload; an HTTP/2 server with PushPreload pushes
// them, and over HTTP/2 they go first in a 103 Early Hints (RFC 8297).
func LinkPreloads(h web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		if r.Method != "GET" {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&preloadWriter{ResponseWriter: w, req: r}, r)
	})
}

type preloadWriter struct {
	web.ResponseWriter
	req    *web.Request
	status int
	done   bool
}

func (p *preloadWriter) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *preloadWriter) Write(b []byte) (int, error) {
	if !p.done {
		p.done = true
		h := p.Header()
		if (p.status == 0 || p.status == web.StatusOK) && strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			base := &url.URL{Scheme: "http", Host: cmpOr(p.req.Host, "localhost"), Path: p.req.Path}
			var links []string
			for _, u := range browser.ObjectLinks(bytes.NewReader(b), base) {
				if u.Host == base.Host && len(links) < maxPushesPerResponse {
					links = append(links, "<"+u.RequestURI()+">; rel=preload")
				}
			}
			if len(links) > 0 {
				link := strings.Join(links, ", ")
				if p.req.Proto == "HTTP/2.0" {
					// The 103 carries the Link alone.
					saved := append(web.Header(nil), *h...)
					*h = append((*h)[:0], web.Field{Name: "Link", Value: link})
					p.ResponseWriter.WriteHeader(103)
					*h = saved
				}
				h.Add("Link", link)
			}
		}
	}
	return p.ResponseWriter.Write(b)
}
