package browser

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/applayer/applayer/web"

	"github.com/applayer/applayer/internal/peertest"
)

func TestCookieJar(t *testing.T) {
	j := &Jar{}
	j.SetCookies("www.example.test", "/a/b", web.Header{
		{Name: "Set-Cookie", Value: "id=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"},
		{Name: "Set-Cookie", Value: "sub=2; Domain=.example.test; Path=/a"},
		{Name: "Set-Cookie", Value: "dir=3"},
		{Name: "Set-Cookie", Value: "gone=4; Max-Age=0"},
		{Name: "Set-Cookie", Value: "evil=5; Domain=other.test"},
		{Name: "Set-Cookie", Value: "sec=6; Secure"},
		{Name: "Set-Cookie", Value: "=nameless"},
		{Name: "Set-Cookie", Value: "tld=7; Domain=test"},
		{Name: "Set-Cookie", Value: "long=8; Max-Age=10000000000"},
	})
	for _, tc := range []struct{ host, path, want string }{
		{"www.example.test", "/", "id=1"},
		{"www.example.test", "/a/b/c", "id=1; sub=2; dir=3; long=8"},
		{"WWW.example.test", "/a", "id=1; sub=2; dir=3; long=8"},
		{"x.example.test", "/a/x", "sub=2"},
		{"example.test", "/ab", ""},
		{"other.test", "/", ""},
		{"elsewhere.test", "/", ""},
	} {
		if got := j.Header(tc.host, tc.path); got != tc.want {
			t.Errorf("Header(%s, %s) = %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "cookies.txt")
	if err := j.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "#HttpOnly_www.example.test\tFALSE\t/\tFALSE\t") || !strings.Contains(string(b), ".example.test\tTRUE\t/a\tFALSE\t0\tsub\t2") {
		t.Errorf("saved jar:\n%s", b)
	}
	j2, err := LoadJar(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := j2.Header("www.example.test", "/a/b/c"); got != "id=1; sub=2; dir=3; long=8" {
		t.Errorf("reloaded jar: %q", got)
	}
}

// TestCookieJarSharedWithCurl: curl writes the jar, our client reads and
// extends it, curl reads it again: one identity throughout.
func TestCookieJarSharedWithCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("id")
		if err != nil {
			http.SetCookie(w, &http.Cookie{Name: "id", Value: fmt.Sprint(n.Add(1)), Path: "/", HttpOnly: true, MaxAge: 3600})
			io.WriteString(w, "new")
			return
		}
		io.WriteString(w, "known "+c.Value)
	}))
	defer ts.Close()
	jar := filepath.Join(t.TempDir(), "jar.txt")
	if out, err := exec.Command(curl, "-sS", "-c", jar, ts.URL+"/").CombinedOutput(); err != nil || string(out) != "new" {
		t.Fatalf("curl: %s %v", out, err)
	}
	j, err := LoadJar(jar)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Jar: j}
	var out bytes.Buffer
	if _, err := f.Get(context.Background(), ts.URL+"/", &out); err != nil || out.String() != "known 1" {
		t.Fatalf("our client with curl's jar: %q %v", out.String(), err)
	}
	j.Save(jar)
	if out, err := exec.Command(curl, "-sS", "-b", jar, ts.URL+"/").CombinedOutput(); err != nil || string(out) != "known 1" {
		t.Fatalf("curl with our jar: %s %v", out, err)
	}
}

// publicSuffixCookies are Set-Cookie fields from a host under a public
// suffix (RFC 6265 §5.3 step 5), with whether a browser keeps them.
var publicSuffixCookies = []struct {
	host, setCookie string
	keep            bool
}{
	{"evil.co.uk", "ps=1; Domain=co.uk", false},
	{"evil.co.uk", "ps2=1; Domain=.CO.UK; Path=/", false},
	{"evil.co.uk", "own=2; Domain=evil.co.uk", true},
	{"evil.github.io", "gh=3; Domain=github.io", false},
	{"evil.example.test", "tld=4; Domain=test", false},
}

// TestCookieJarPublicSuffix: a site cannot set a cookie for every site
// under a public suffix; a public suffix that is the host itself gets a
// host-only cookie.
func TestCookieJarPublicSuffix(t *testing.T) {
	j := &Jar{}
	for _, c := range publicSuffixCookies {
		j.SetCookies(c.host, "/", web.Header{{Name: "Set-Cookie", Value: c.setCookie}})
	}
	j.SetCookies("co.uk", "/", web.Header{{Name: "Set-Cookie", Value: "self=5; Domain=co.uk"}})
	for _, tc := range []struct{ host, want string }{
		{"victim.co.uk", ""},
		{"victim.github.io", ""},
		{"victim.example.test", ""},
		{"www.evil.co.uk", "own=2"},
		{"evil.co.uk", "own=2"},
		{"co.uk", "self=5"},
	} {
		if got := j.Header(tc.host, "/"); got != tc.want {
			t.Errorf("Header(%s) = %q, want %q", tc.host, got, tc.want)
		}
	}
	for _, c := range j.Cookies() {
		if c.Name == "self" && c.Subdomains {
			t.Errorf("Domain=co.uk from co.uk: %+v, want a host-only cookie", c)
		}
	}
}

// TestCookieJarPublicSuffixLikeCurl: curl, built with libpsl, keeps the
// same cookies from the same Set-Cookie fields as our jar does. The names
// are resolved to the loopback test server by --resolve.
func TestCookieJarPublicSuffixLikeCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		for _, c := range publicSuffixCookies {
			if c.host == host {
				w.Header().Add("Set-Cookie", c.setCookie)
			}
		}
	}))
	defer ts.Close()
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	hosts := map[string]bool{}
	for _, c := range publicSuffixCookies {
		hosts[c.host] = true
	}
	for host := range hosts {
		jar := filepath.Join(t.TempDir(), "jar.txt")
		u := fmt.Sprintf("http://%s:%d/", host, port)
		if out, err := exec.Command(curl, "-sS", "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", host, port), "-c", jar, u).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %s %v", u, out, err)
		}
		cj, err := LoadJar(jar)
		if err != nil {
			t.Fatal(err)
		}
		curlKept := map[string]bool{}
		for _, c := range cj.Cookies() {
			curlKept[c.Name] = true
		}
		ours := &Jar{}
		for _, c := range publicSuffixCookies {
			if c.host != host {
				continue
			}
			ours.SetCookies(host, "/", web.Header{{Name: "Set-Cookie", Value: c.setCookie}})
			name, _, _ := strings.Cut(c.setCookie, "=")
			weKept := false
			for _, k := range ours.Cookies() {
				weKept = weKept || k.Name == name
			}
			if curlKept[name] != c.keep || weKept != c.keep {
				t.Errorf("%s from %s: curl keeps it %v, we keep it %v, want %v", c.setCookie, host, curlKept[name], weKept, c.keep)
			}
		}
	}
}

func FuzzCookies(f *testing.F) {
	f.Add("id=1; Path=/; HttpOnly; Max-Age=60", "#HttpOnly_h\tFALSE\t/\tFALSE\t0\tid\t1\n", "/a/b")
	f.Add("a=b; Domain=.example.test; Expires=Wed, 21 Oct 2099 07:28:00 GMT", ".example.test\tTRUE\t/\tFALSE\t4000000000\ta\tb\n", "/")
	f.Fuzz(func(t *testing.T, setCookie, jarFile, path string) {
		j := &Jar{}
		j.Read(strings.NewReader(jarFile))
		j.SetCookies("www.example.test", path, web.Header{{Name: "Set-Cookie", Value: setCookie}})
		h := j.Header("www.example.test", path)
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("Cookie field with a line break: %q", h)
		}
	})
}
