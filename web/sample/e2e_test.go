package sample

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/demo"
	"github.com/applayer/applayer/web/http2"
	"github.com/applayer/applayer/web/store"
)

// startSite serves the sample site and the cookie demo (on SQLite) the way
// the lab does, on 127.0.0.1:0.
func startSite(t *testing.T) string { return startSiteOver(t, false) }

// startSiteOver serves the site; with h2 it serves it over TLS (a
// self-signed certificate) with HTTP/2 on, as web serve --tls does.
func startSiteOver(t *testing.T, h2 bool) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "site")
	if err := Write(root); err != nil {
		t.Fatal(err)
	}
	fsrv, err := web.NewFileServer(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "demo.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := &web.Mux{}
	mux.Handle("/", fsrv)
	mux.Handle(demo.Prefix, &demo.Handler{Store: st, Logger: logger})
	hol := &demo.HOL{Page: "/" + HOLPage, Logger: logger}
	mux.Handle(demo.HOLPrefix, hol)
	srv := &web.Server{Handler: mux, Logger: logger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hol.Origin = "http://" + l.Addr().String()
	scheme := "http"
	if h2 {
		certPEM, keyPEM, err := tlsutil.SelfSigned([]string{"127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.HTTP2 = &http2.Server{Handler: mux, Logger: logger}
		scheme = "https"
		go srv.ServeTLS(l)
	} else {
		srv.HTTP2 = &http2.Server{Handler: mux, Logger: logger} // h2c, for the HOL page
		go srv.Serve(l)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
		fsrv.Close()
	})
	return scheme + "://" + l.Addr().String()
}

// webDriver is the little of the W3C WebDriver protocol the test needs,
// spoken to chromedriver over HTTP.
type webDriver struct {
	t       *testing.T
	base    string
	session string
}

func (d *webDriver) call(method, path string, body any) json.RawMessage {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 60 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		d.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
		d.t.Fatalf("webdriver %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return out.Value
}

// screenshot saves the page as a PNG when APPLAYER_E2E_SCREENSHOT names a
// file, with suffix before its extension, to be looked at.
func (d *webDriver) screenshot(suffix string) {
	name := os.Getenv("APPLAYER_E2E_SCREENSHOT")
	if name == "" {
		return
	}
	var b64 string
	json.Unmarshal(d.call("GET", "/session/"+d.session+"/screenshot", nil), &b64)
	png, _ := base64.StdEncoding.DecodeString(b64)
	os.WriteFile(strings.TrimSuffix(name, ".png")+suffix+".png", png, 0o644)
}

func (d *webDriver) navigate(url string) {
	d.call("POST", "/session/"+d.session+"/url", map[string]string{"url": url})
}

func (d *webDriver) eval(script string, v any) {
	d.t.Helper()
	raw := d.call("POST", "/session/"+d.session+"/execute/sync", map[string]any{"script": script, "args": []any{}})
	if err := json.Unmarshal(raw, v); err != nil {
		d.t.Fatalf("script result %s: %v", raw, err)
	}
}

func startChrome(t *testing.T, extraArgs ...string) *webDriver {
	chromium := peertest.Require(t, "chromium", "chromium")
	driver := peertest.Require(t, "chromedriver", "chromium-driver")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	logs := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("chromedriver's log:\n%s", logs.String())
		}
	})
	d := &webDriver{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	testutil.WaitFor(t, "chromedriver listening on port "+strconv.Itoa(port), func() bool {
		select {
		case <-exited:
			t.Fatalf("chromedriver exited before listening (its port taken meanwhile?):\n%s", logs.String())
		default:
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	profile := t.TempDir()
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-quic", "--disable-dev-shm-usage", "--user-data-dir=" + profile}, extraArgs...),
		},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(d.call("POST", "/session", caps), &sess); err != nil || sess.SessionID == "" {
		t.Fatalf("no session: %v\n%s", err, logs.String())
	}
	d.session = sess.SessionID
	t.Cleanup(func() { d.call("DELETE", "/session/"+d.session, nil) })
	return d
}

// TestChromium loads the sample page and the cookie demo in headless
// Chromium: every object of the page must load, and the demo's visit
// counter must go up from one visit to the next (the browser sends back the
// cookie it was given, and the count comes from the database).
func TestChromium(t *testing.T) {
	base := startSite(t)
	d := startChrome(t)

	d.navigate(base + "/")
	var st struct {
		Images, OK, Resources int
		CSS                   string
		Script                bool
		Failed                []string
	}
	d.eval(`var s = document.getElementById("status");
var res = performance.getEntriesByType("resource");
return {Images: +s.getAttribute("data-images"), OK: +s.getAttribute("data-images-ok"), CSS: s.getAttribute("data-css"),
  Script: window.applayerScript === true, Resources: res.length,
  Failed: res.filter(function (r) { return r.responseStatus && r.responseStatus != 200; }).map(function (r) { return r.name; })};`, &st)
	t.Logf("sample page: %+v", st)
	if st.Images < 10 || st.OK != st.Images || st.CSS != "true" || !st.Script || len(st.Failed) > 0 {
		t.Errorf("sample page in Chromium: %+v", st)
	}
	// Every object the page references was fetched (the icon may be
	// fetched outside the page's resource timeline).
	if st.Resources < Objects-1 {
		t.Errorf("Chromium fetched %d resources, the page has %d objects", st.Resources, Objects)
	}

	var counts []int
	for i := 0; i < 3; i++ {
		d.navigate(base + "/_demo/")
		var n string
		d.eval(`return document.getElementById("count").textContent;`, &n)
		c, _ := strconv.Atoi(n)
		counts = append(counts, c)
	}
	if fmt.Sprint(counts) != "[1 2 3]" {
		t.Errorf("visit counter across three visits: %v, want [1 2 3]", counts)
	}
	// A note posted through the form is stored under the cookie's
	// identifier; the 303 answer brings the browser back to the page.
	d.call("POST", "/session/"+d.session+"/execute/sync", map[string]any{"script": `document.querySelector("input[name=note]").value = "from <Chromium>"; document.querySelector("form[action=note]").submit();`, "args": []any{}})
	var after struct{ Count, Notes string }
	testutil.WaitFor(t, "the page after posting the form", func() bool {
		d.eval(`var c = document.getElementById("count"), n = document.getElementById("notes"); return {Count: c ? c.textContent : "", Notes: n ? n.textContent : ""};`, &after)
		return after.Count == "4"
	})
	if after.Count != "4" || after.Notes != "from <Chromium>" {
		t.Errorf("after posting the form: count %q, notes %q; want 4 and the note", after.Count, after.Notes)
	}
	// The cookie is HttpOnly: scripts cannot read it.
	var jsCookie string
	d.eval(`return document.cookie;`, &jsCookie)
	if jsCookie != "" {
		t.Errorf("document.cookie = %q: the identifier is visible to scripts", jsCookie)
	}
	d.screenshot("")
}

// TestChromiumHTTP2 loads the sample page over TLS in headless Chromium,
// which chooses h2 by ALPN: the page and every object must come over
// HTTP/2, and all of them must load.
func TestChromiumHTTP2(t *testing.T) {
	base := startSiteOver(t, true)
	d := startChrome(t, "--ignore-certificate-errors")
	d.navigate(base + "/")
	var st struct {
		Nav        string
		Protos     []string
		Images, OK int
		Failed     []string
	}
	d.eval(`var s = document.getElementById("status");
var res = performance.getEntriesByType("resource");
return {Nav: performance.getEntriesByType("navigation")[0].nextHopProtocol,
  Protos: res.map(function (r) { return r.nextHopProtocol; }),
  Images: +s.getAttribute("data-images"), OK: +s.getAttribute("data-images-ok"),
  Failed: res.filter(function (r) { return r.responseStatus && r.responseStatus != 200; }).map(function (r) { return r.name; })};`, &st)
	t.Logf("sample page over h2: %+v", st)
	if st.Nav != "h2" {
		t.Errorf("the page came over %q, want h2", st.Nav)
	}
	for _, p := range st.Protos {
		if p != "h2" {
			t.Errorf("objects' protocols %v, want h2 for all", st.Protos)
			break
		}
	}
	if st.Images < 10 || st.OK != st.Images || len(st.Failed) > 0 || len(st.Protos) < Objects-1 {
		t.Errorf("sample page over h2 in Chromium: %+v (%d objects)", st, Objects)
	}
	// The head-of-line page too: its large picture and every tile over h2.
	d.navigate(base + "/" + HOLPage)
	var hol struct {
		Protos     []string
		Images, OK int
	}
	d.eval(`var imgs = Array.prototype.slice.call(document.images);
return {Protos: performance.getEntriesByType("resource").map(function (r) { return r.nextHopProtocol; }),
  Images: imgs.length, OK: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length};`, &hol)
	if hol.Images != holTiles+1 || hol.OK != hol.Images || len(hol.Protos) < hol.Images || strings.Count(strings.Join(hol.Protos, " "), "h2") != len(hol.Protos) {
		t.Errorf("HOL page over h2 in Chromium: %+v; want %d images, all loaded over h2", hol, holTiles+1)
	}
}

// TestChromiumHOL opens the head-of-line page: both timelines are drawn,
// a bar for the page and each of its objects, with the measured times in
// their captions.
func TestChromiumHOL(t *testing.T) {
	base := startSite(t)
	d := startChrome(t)
	d.navigate(base + demo.HOLPrefix)
	var st struct {
		SVGs     int
		Rows     []int
		Captions []string
	}
	d.eval(`var svgs = Array.prototype.slice.call(document.querySelectorAll("figure svg"));
return {SVGs: svgs.length, Rows: svgs.map(function (s) { return s.querySelectorAll("rect").length; }),
  Captions: Array.prototype.map.call(document.querySelectorAll("figcaption"), function (c) { return c.textContent; })};`, &st)
	t.Logf("HOL page: %+v", st)
	if st.SVGs != 2 || len(st.Captions) != 2 {
		t.Fatalf("HOL page in Chromium: %+v; want two pictures with captions", st)
	}
	for i, c := range st.Captions {
		if !strings.Contains(c, "Small objects done at") || st.Rows[i] < 2*(holTiles+2) {
			t.Errorf("picture %d: %d bars, caption %q", i, st.Rows[i], c)
		}
	}
	d.screenshot("-hol")
}
