package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/internal/pgtest"
	"github.com/applayer/applayer/web/store"
)

func startDemo(t *testing.T, st store.Store) string {
	t.Helper()
	mux := &web.Mux{}
	mux.Handle(Prefix, &Handler{Store: st})
	srv := &web.Server{Handler: mux, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + l.Addr().String()
}

func TestVisitsAndNotes(t *testing.T) {
	base := startDemo(t, store.NewMemory())
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		resp, err := cl.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get("/_demo/")
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{CookieName + "=", "HttpOnly", "SameSite=Lax", "Path=/_demo/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if !strings.Contains(body, `<strong id="count">1</strong>`) {
		t.Errorf("first visit page:\n%s", body)
	}
	resp, body = get("/_demo/")
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("second visit set a new cookie")
	}
	if !strings.Contains(body, `<strong id="count">2</strong>`) {
		t.Errorf("second visit page:\n%s", body)
	}
	resp, err := cl.PostForm(base+"/_demo/note", url.Values{"note": {"<b>hi</b> & bye"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The client followed the 303 to the page: a third visit.
	if !strings.Contains(string(b), "&lt;b&gt;hi&lt;/b&gt; &amp; bye") || !strings.Contains(string(b), `id="count">3<`) {
		t.Errorf("after posting a note:\n%s", b)
	}
	_, body = get("/_demo/whoami")
	if !strings.Contains(body, "visits 3\n") || !strings.Contains(body, `note "<b>hi</b> & bye"`) {
		t.Errorf("whoami:\n%s", body)
	}
	// Another browser (no cookie) is another visitor.
	resp, err = http.Get(base + "/_demo/whoami")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "visits 0\n") {
		t.Errorf("a new browser:\n%s", b)
	}
	// A forged or stale cookie gets a fresh identity, not an error.
	req, _ := http.NewRequest("GET", base+"/_demo/whoami", nil)
	req.Header.Set("Cookie", CookieName+"=0123456789abcdef0123456789abcdef; other=x")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Set-Cookie") == "" {
		t.Errorf("stale cookie: %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

func TestMethodsAndErrors(t *testing.T) {
	base := startDemo(t, store.NewMemory())
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
	}{
		{"POST", "/_demo/", "", "", 405},
		{"GET", "/_demo/note", "", "", 405},
		{"POST", "/_demo/note", "text/plain", "note=x", 415},
		{"POST", "/_demo/note", "application/x-www-form-urlencoded", "note=" + strings.Repeat("x", 9000), 413},
		{"POST", "/_demo/note", "application/x-www-form-urlencoded", "note=%zz", 400},
		{"GET", "/_demo/nothing", "", "", 404},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

func TestCookieParsing(t *testing.T) {
	h := web.Header{{Name: "Cookie", Value: `a=1; ` + CookieName + `="abc"`}, {Name: "cookie", Value: "z=2"}}
	for _, tc := range []struct{ name, want string }{{CookieName, "abc"}, {"a", "1"}, {"z", "2"}, {"q", ""}} {
		if got := Cookie(h, tc.name); got != tc.want {
			t.Errorf("Cookie(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCurlCookieJar uses curl's Netscape cookie file, as a person following
// the textbook would: the jar keeps the identifier between runs.
func TestCurlCookieJar(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	base := startDemo(t, store.NewMemory())
	jar := filepath.Join(t.TempDir(), "cookies.txt")
	var out string
	for i := 0; i < 3; i++ {
		b, err := exec.Command(curl, "-sS", "--max-time", "10", "-c", jar, "-b", jar, base+"/_demo/whoami").CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v %s", err, b)
		}
		out = string(b)
	}
	b, err := exec.Command(curl, "-sS", "--max-time", "10", "-c", jar, "-b", jar, "-L", "-d", "note=from curl", base+"/_demo/note").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, b)
	}
	if !strings.Contains(string(b), `id="count">1<`) {
		t.Errorf("after POST and 303 (curl -L turns it into GET): %s", b)
	}
	b, _ = exec.Command(curl, "-sS", "--max-time", "10", "-b", jar, base+"/_demo/whoami").CombinedOutput()
	out = string(b)
	if !strings.Contains(out, "visits 1\n") || !strings.Contains(out, `note "from curl"`) {
		t.Errorf("whoami with the jar:\n%s", out)
	}
	jb, _ := os.ReadFile(jar)
	if !strings.Contains(string(jb), "#HttpOnly_127.0.0.1") || !strings.Contains(string(jb), CookieName) {
		t.Errorf("curl's jar:\n%s", jb)
	}
}

// TestTwoServersShareOnePostgres: two web servers, each with its own
// connection pool to one PostgreSQL database, see the same visitors (the
// server from web/internal/pgtest).
func TestTwoServersShareOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	var bases []string
	for i := 0; i < 2; i++ {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bases = append(bases, startDemo(t, st))
	}
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	var last string
	for i := 0; i < 4; i++ {
		// Cookies are per host and port in a browser; carry ours by hand.
		req, _ := http.NewRequest("GET", bases[i%2]+"/_demo/", nil)
		if last != "" {
			req.Header.Set("Cookie", CookieName+"="+last)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sc := resp.Header.Get("Set-Cookie"); sc != "" {
			v, _, _ := strings.Cut(strings.TrimPrefix(sc, CookieName+"="), ";")
			last = v
		}
		if want := fmt.Sprintf(`id="count">%d<`, i+1); !strings.Contains(string(b), want) {
			t.Errorf("visit %d on server %d: page lacks %s", i+1, i%2, want)
		}
	}
}

func FuzzCookie(f *testing.F) {
	f.Add(`a=1; ` + CookieName + `="abc"`)
	f.Add(";;=;" + CookieName)
	f.Fuzz(func(t *testing.T, v string) {
		got := Cookie(web.Header{{Name: "Cookie", Value: v}}, CookieName)
		if len(got) > len(v) {
			t.Fatalf("Cookie(%q) = %q, longer than the field", v, got)
		}
	})
}
