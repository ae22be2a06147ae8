package smtpserver

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"net/netip"

	"github.com/applayer/applayer/internal/authlimit"
)

// guess runs one session over c: STARTTLS, then AUTH PLAIN for alice with
// pass, and returns the reply to AUTH.
func guess(c net.Conn, pass string) string {
	defer c.Close()
	br := bufio.NewReader(c)
	reply := func(r *bufio.Reader) string {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return "<" + err.Error() + ">"
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	reply(br)
	fmt.Fprintf(c, "EHLO guesser\r\n")
	reply(br)
	fmt.Fprintf(c, "STARTTLS\r\n")
	if r := reply(br); !strings.HasPrefix(r, "220") {
		return r
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return "<" + err.Error() + ">"
	}
	tr := bufio.NewReader(tc)
	fmt.Fprintf(tc, "EHLO guesser\r\n")
	reply(tr)
	fmt.Fprintf(tc, "AUTH PLAIN %s\r\n", base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00"+pass)))
	return reply(tr)
}

// TestParallelGuessesSlowed: 50 connections guessing alice's password at
// once, from one address, get a handful of answers in 5 s; the rest wait
// or are told 454 without a check. Alice herself, from another address,
// logs in at once meanwhile.
func TestParallelGuessesSlowed(t *testing.T) {
	cfg, _ := tlsConfig(t)
	synctest.Test(t, func(t *testing.T) {
		lim := &authlimit.Limiter{}
		srv := &Server{Hostname: "hamburger.edu", Backend: &memBackend{}, Submission: true, TLSConfig: cfg,
			Logger: slog.New(slog.DiscardHandler), AuthLimit: lim}
		t0 := time.Now()
		var mu sync.Mutex
		early, all := map[string]int{}, map[string]int{}
		var wg sync.WaitGroup
		for i := range 50 {
			c, s := net.Pipe()
			wg.Go(func() { srv.serveConn(s); s.Close() })
			wg.Go(func() {
				r := guess(c, fmt.Sprintf("guess%d", i))
				mu.Lock()
				defer mu.Unlock()
				code, _, _ := strings.Cut(r, " ")
				all[code]++
				if time.Since(t0) <= 5*time.Second {
					early[code]++
				}
			})
		}
		wg.Wait()
		t.Logf("answers within 5 s: %v; in all: %v", early, all)
		if early["535"] > 6 || all["535"] > 10 || all["235"] != 0 {
			t.Errorf("answers to 50 parallel guesses: %v within 5 s, %v in all; want at most 6 checks (535) within 5 s, 10 in all", early, all)
		}
		if all["454"] < 40 {
			t.Errorf("answers: %v; want the guesses past the limiter's wait refused with 454", all)
		}
		// The limiter saw them as one client (a pipe has no address); the
		// owner elsewhere is not held back: the limiter's own tests check
		// the addresses, here only that the server consults it.
		if n, _ := lim.Failures(netipZero, "alice@example.org"); n == 0 {
			t.Error("the limiter counted no failure")
		}
	})
}

var netipZero = netip.Addr{}
