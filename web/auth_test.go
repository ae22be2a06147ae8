package web

import (
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/applayer/applayer/internal/password"
	"golang.org/x/crypto/bcrypt"
)

// TestCredentialsBoundChecks: password checks (bcrypt, tens of
// milliseconds of CPU each) run at most cap(slots) at a time, so that a
// flood of guesses cannot take every core; right and wrong passwords are
// still told apart.
func TestCredentialsBoundChecks(t *testing.T) {
	line, err := HashPassword("alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		c, err := ParseCredentials(strings.NewReader(line+"\n"), "")
		if err != nil {
			t.Fatal(err)
		}
		// Each check waits for release, so that every check the slots let
		// through is running at once when synctest.Wait returns.
		var running atomic.Int32
		release := make(chan struct{})
		real := c.check
		c.check = func(hash, pw string, decoy int) bool {
			running.Add(1)
			<-release
			return real(hash, pw, decoy)
		}
		basic := func(user, pass string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		}
		var wg sync.WaitGroup
		var wrongAccepted, rightRefused atomic.Bool
		for i := range 8 {
			wg.Go(func() {
				if i == 0 {
					if _, ok := c.Check(basic("alice", "s3cret")); !ok {
						rightRefused.Store(true)
					}
					return
				}
				if _, ok := c.Check(basic("alice", "guess")); ok {
					wrongAccepted.Store(true)
				}
			})
		}
		synctest.Wait()
		if got := int(running.Load()); got != cap(c.slots) {
			t.Errorf("%d password checks ran at once, want %d", got, cap(c.slots))
		}
		close(release)
		wg.Wait()
		if wrongAccepted.Load() || rightRefused.Load() {
			t.Errorf("wrong password accepted: %v; right one refused: %v", wrongAccepted.Load(), rightRefused.Load())
		}
	})
}

// TestUnknownUserCheckedAtUsersCost: an unknown user's password is checked
// against a decoy of the file's cost (htpasswd -B writes cost 5, ours 10),
// not of a fixed one, so that a refusal takes as long either way.
func TestUnknownUserCheckedAtUsersCost(t *testing.T) {
	h, err := password.Hash("s3cret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCredentials(strings.NewReader("alice:"+h+"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	var costs []int
	real := c.check
	c.check = func(hash, pw string, decoy int) bool {
		if hash == "" {
			costs = append(costs, decoy)
		}
		return real(hash, pw, decoy)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("mallory:s3cret"))
	if _, ok := c.Check(basic); ok || len(costs) != 1 || costs[0] != bcrypt.MinCost {
		t.Errorf("unknown user: accepted %v, checked at costs %v; want refused at cost %d", ok, costs, bcrypt.MinCost)
	}
}
