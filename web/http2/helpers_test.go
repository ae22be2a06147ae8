package http2

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/internal/webtest"
	"golang.org/x/net/http2/hpack"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testSite is what the tests serve: the shared site under /, and a few
// handlers that exercise bodies and streaming.
func testSite(t testing.TB) web.Handler {
	fsrv, err := web.NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsrv.Close() })
	mux := &web.Mux{}
	mux.Handle("/", fsrv)
	mux.Handle("/echo", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			web.WriteError(w, 400, err.Error())
			return
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
		w.Write(b)
	}))
	mux.Handle("/stream/", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		// /stream/N writes N bytes in pieces of 10000, with no length.
		n, _ := strconv.Atoi(strings.TrimPrefix(r.Path, "/stream/"))
		piece := []byte(strings.Repeat("x", 10000))
		for n > 0 {
			k := min(n, len(piece))
			if _, err := w.Write(piece[:k]); err != nil {
				return
			}
			n -= k
		}
	}))
	mux.Handle("/hints", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(103)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<link rel=stylesheet href=/style.css>hello")
	}))
	mux.Handle("/panic", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) { panic("test panic") }))
	return mux
}

type testServer struct {
	web     *web.Server
	h2      *Server
	addr    string // h2c and HTTP/1.1
	tlsAddr string // h2 and HTTP/1.1 over TLS
	pool    *x509.CertPool
	certPEM []byte
	site    map[string]string
}

// startServer runs a web.Server with HTTP/2 on, plain and TLS, on
// loopback ports; configure may adjust the HTTP/2 server.
func startServer(t testing.TB, h web.Handler, configure func(*Server)) *testServer {
	t.Helper()
	return startServerWeb(t, h, configure, nil)
}

// startServerWeb is startServer with the web.Server configured too.
func startServerWeb(t testing.TB, h web.Handler, configure func(*Server), configureWeb func(*web.Server)) *testServer {
	t.Helper()
	h2 := &Server{Handler: h, Logger: quietLogger()}
	if configure != nil {
		configure(h2)
	}
	certPEM, keyPEM, err := tlsutil.SelfSigned([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	srv := &web.Server{Handler: h, HTTP2: h2, Logger: quietLogger(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	if configureWeb != nil {
		configureWeb(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { srv.Serve(l); done <- struct{}{} }()
	go func() { srv.ServeTLS(tl); done <- struct{}{} }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		<-done
	})
	return &testServer{web: srv, h2: h2, addr: l.Addr().String(), tlsAddr: tl.Addr().String(), pool: pool, certPEM: certPEM, site: webtest.SiteFiles}
}

// rawConn is a hand-driven HTTP/2 client for tests of bad input.
type rawConn struct {
	t   testing.TB
	nc  net.Conn
	br  *bufio.Reader
	enc *hpack.Encoder
	buf strings.Builder
	dec *hpack.Decoder
	hdr [FrameHeaderLen]byte
}

// dialRaw connects and sends the preface and an empty SETTINGS.
func dialRaw(t testing.TB, addr string, settings ...Setting) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.enc = newEncoder(&c.buf)
	c.dec = hpack.NewDecoder(4096, nil)
	c.send(append([]byte(ClientPreface), AppendSettings(nil, settings...)...))
	return c
}

func newEncoder(w io.Writer) *hpack.Encoder { return hpack.NewEncoder(w) }

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// block encodes a request head.
func (c *rawConn) block(fields ...string) []byte {
	c.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return []byte(c.buf.String())
}

func (c *rawConn) get(path string) []byte {
	return c.block(":method", "GET", ":scheme", "http", ":authority", "x", ":path", path)
}

// readFrame reads the next frame, or returns an error at the end.
func (c *rawConn) readFrame() (Frame, error) {
	return ReadFrame(c.br, &c.hdr, nil, MaxMaxFrameSize)
}

// until reads frames until match accepts one; it fails the test if the
// connection ends first.
func (c *rawConn) until(what string, match func(Frame) bool) Frame {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("connection ended (%v) before %s", err, what)
		}
		if match(f) {
			return f
		}
	}
}

// goAway waits for a GOAWAY and returns its code.
func (c *rawConn) goAway() ErrCode {
	c.t.Helper()
	f := c.until("GOAWAY", func(f Frame) bool { return f.Type == FrameGoAway })
	g, err := ParseGoAway(f)
	if err != nil {
		c.t.Fatal(err)
	}
	return g.Code
}

// status decodes a HEADERS frame's :status.
func (c *rawConn) status(f Frame) string {
	c.t.Helper()
	h, err := ParseHeaders(f)
	if err != nil {
		c.t.Fatal(err)
	}
	fields, err := c.dec.DecodeFull(h.Fragment)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, hf := range fields {
		if hf.Name == ":status" {
			return hf.Value
		}
	}
	return ""
}

// response waits for the final response head on stream id.
func (c *rawConn) response(id uint32) string {
	c.t.Helper()
	for {
		f := c.until("HEADERS on stream "+strconv.Itoa(int(id)), func(f Frame) bool { return f.Type == FrameHeaders && f.StreamID == id })
		if s := c.status(f); s != "" && s[0] != '1' {
			return s
		}
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
