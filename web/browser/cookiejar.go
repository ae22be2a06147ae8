package browser

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/web"
)

// Jar keeps cookies (RFC 6265) for a client and stores them in the
// Netscape cookies.txt format that curl's -b/-c use, so that the same file
// works with both:
//
//	# Netscape HTTP Cookie File
//	#HttpOnly_127.0.0.1	FALSE	/_demo/	FALSE	1795000000	name	value
//
// Fields: domain (with "#HttpOnly_" before it for HttpOnly cookies),
// whether subdomains match, path, secure only, expiry in Unix seconds (0:
// a session cookie), name, value.
type Jar struct {
	mu      sync.Mutex
	cookies []Cookie
}

// Cookie is one stored cookie.
type Cookie struct {
	Domain     string // without a leading dot
	Subdomains bool   // false: host-only (no Domain attribute)
	Path       string
	Secure     bool
	HTTPOnly   bool
	Expires    time.Time // zero: session cookie
	Name       string
	Value      string
}

// LoadJar reads a cookies.txt file; a missing file is an empty jar.
func LoadJar(path string) (*Jar, error) {
	j := &Jar{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return j, j.Read(f)
}

// Read adds the cookies of a cookies.txt file.
func (j *Jar) Read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		httpOnly := false
		if rest, ok := strings.CutPrefix(line, "#HttpOnly_"); ok {
			line, httpOnly = rest, true
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return fmt.Errorf("cookie file line %d: want 7 tab-separated fields, got %d", n, len(f))
		}
		exp, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			return fmt.Errorf("cookie file line %d: bad expiry %q", n, f[4])
		}
		if !validCookiePair(f[5], f[6]) || hasCTL(f[0]+f[2]) {
			return fmt.Errorf("cookie file line %d: a control character or an empty name", n)
		}
		c := Cookie{Domain: strings.TrimPrefix(f[0], "."), Subdomains: f[1] == "TRUE", Path: f[2], Secure: f[3] == "TRUE", HTTPOnly: httpOnly, Name: f[5], Value: f[6]}
		if exp > 0 {
			c.Expires = time.Unix(exp, 0)
		}
		j.cookies = append(j.cookies, c)
	}
	return sc.Err()
}

// Save writes the jar to path atomically; expired cookies are dropped and
// session cookies kept, as curl does.
func (j *Jar) Save(path string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var b strings.Builder
	b.WriteString("# Netscape HTTP Cookie File\n# Written by applayer web get; the format curl's -b and -c read.\n\n")
	now := time.Now()
	for _, c := range j.cookies {
		if !c.Expires.IsZero() && c.Expires.Before(now) {
			continue
		}
		if c.HTTPOnly {
			b.WriteString("#HttpOnly_")
		}
		dom := c.Domain
		if c.Subdomains {
			dom = "." + dom
		}
		exp := int64(0)
		if !c.Expires.IsZero() {
			exp = c.Expires.Unix()
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dom, upperBool(c.Subdomains), c.Path, upperBool(c.Secure), exp, c.Name, c.Value)
	}
	return atomicfile.WriteFile(path, []byte(b.String()), 0o600)
}

func upperBool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// SetCookies stores the cookies of a response's Set-Cookie fields for a
// request to host (without port) and path (RFC 6265 §5.2, §5.3).
func (j *Jar) SetCookies(host, reqPath string, h web.Header) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, v := range h.Values("Set-Cookie") {
		c, ok := parseSetCookie(v, host, reqPath)
		if !ok {
			continue
		}
		j.replace(c)
	}
}

func (j *Jar) replace(c Cookie) {
	for i := range j.cookies {
		o := &j.cookies[i]
		if o.Name == c.Name && o.Domain == c.Domain && o.Path == c.Path {
			*o = c
			return
		}
	}
	j.cookies = append(j.cookies, c)
}

// parseSetCookie parses one Set-Cookie value (RFC 6265 §5.2).
// validCookiePair reports whether a cookie's name and value can be sent
// back in a Cookie field: a name, and no control characters (RFC 6265
// section 5.2 ignores a pair with them), which would otherwise let a
// cookies.txt file or a Set-Cookie field inject a line break.
func validCookiePair(name, value string) bool {
	return name != "" && !hasCTL(name) && !hasCTL(value)
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func parseSetCookie(v, host, reqPath string) (Cookie, bool) {
	parts := strings.Split(v, ";")
	name, value, ok := strings.Cut(parts[0], "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || !validCookiePair(name, value) {
		return Cookie{}, false
	}
	c := Cookie{Domain: strings.ToLower(host), Name: name, Value: value, Path: defaultPath(reqPath)}
	var maxAge *int64
	domain := ""
	for _, attr := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(attr), "=")
		val = strings.TrimSpace(val)
		switch strings.ToLower(k) {
		case "expires":
			if t, ok := web.ParseTime(val); ok {
				c.Expires = t
			} else if t, err := time.Parse("Mon, 02-Jan-2006 15:04:05 MST", val); err == nil {
				c.Expires = t
			}
		case "max-age":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				maxAge = &n
			}
		case "domain":
			// The last Domain attribute counts (§5.3 step 4).
			if d := strings.ToLower(strings.TrimPrefix(val, ".")); d != "" {
				domain = d
			}
		case "path":
			if strings.HasPrefix(val, "/") {
				c.Path = val
			}
		case "secure":
			c.Secure = true
		case "httponly":
			c.HTTPOnly = true
		}
	}
	if domain != "" {
		// §5.3 step 5: a public suffix ("co.uk", "com", per the Public
		// Suffix List, as browsers and curl use it) is refused unless it
		// is the host itself, which then gets a host-only cookie, so that
		// one site cannot set cookies for every site under a suffix.
		// §5.3 step 6: the request host must domain-match.
		switch {
		case isPublicSuffix(domain) && domain != c.Domain:
			return Cookie{}, false
		case isPublicSuffix(domain):
			// host-only
		case !domainMatch(c.Domain, domain):
			return Cookie{}, false
		default:
			c.Domain, c.Subdomains = domain, true
		}
	}
	if maxAge != nil {
		// Max-Age wins over Expires (§5.3 step 3).
		// A year in seconds is far from overflowing a Duration; a larger
		// Max-Age is cut to 400 days, as RFC 6265bis §5.6.2 does.
		const maxMaxAge = 400 * 24 * 3600
		switch {
		case *maxAge <= 0:
			c.Expires = time.Unix(1, 0)
		case *maxAge > maxMaxAge:
			c.Expires = time.Now().Add(maxMaxAge * time.Second)
		default:
			c.Expires = time.Now().Add(time.Duration(*maxAge) * time.Second)
		}
	}
	return c, true
}

// defaultPath is the directory of the request path (RFC 6265 §5.1.4).
func defaultPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// isPublicSuffix reports whether domain is a public suffix under which
// independent parties register names. A name the list does not know (a
// single label such as "test" or "localhost") counts as one, by the
// list's default rule "*". An IP address is not a suffix of anything.
func isPublicSuffix(domain string) bool {
	if net.ParseIP(domain) != nil {
		return false
	}
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}

func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return net.ParseIP(host) == nil && strings.HasSuffix(host, "."+domain)
}

func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if strings.HasPrefix(reqPath, cookiePath) {
		return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
	}
	return false
}

// Header returns the Cookie field value for a request to host and path over
// plain HTTP (RFC 6265 §5.4), or "" when no cookie applies.
func (j *Jar) Header(host, reqPath string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	host = strings.ToLower(host)
	now := time.Now()
	var out []string
	for _, c := range j.cookies {
		if !c.Expires.IsZero() && c.Expires.Before(now) || c.Secure {
			continue
		}
		if c.Subdomains && !domainMatch(host, c.Domain) || !c.Subdomains && host != c.Domain {
			continue
		}
		if !pathMatch(reqPath, c.Path) {
			continue
		}
		out = append(out, c.Name+"="+c.Value)
	}
	return strings.Join(out, "; ")
}

// Cookies returns a copy of the stored cookies.
func (j *Jar) Cookies() []Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Cookie(nil), j.cookies...)
}
