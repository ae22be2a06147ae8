package web

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/applayer/applayer/internal/password"
)

// Credentials checks HTTP Basic authentication (RFC 7617) against users
// with bcrypt-hashed passwords, read from a file of "user:hash" lines (the
// format of `htpasswd -B`; lines starting with # are comments). Create a
// line with `applayer web passwd USER`.
type Credentials struct {
	realm string
	users map[string]string
	// decoyCost is the users' bcrypt cost, at which an unknown user's
	// password is checked (internal/password).
	decoyCost int
	// slots bounds the password checks running at once. Each costs tens
	// of milliseconds of CPU by design, so a flood of guesses waits here
	// for half the cores instead of taking all of them from the requests
	// that need no check.
	slots chan struct{}
	// check is password.Check (replaced in tests).
	check func(hash, password string, decoyCost int) bool
}

// LoadCredentials reads a credentials file.
func LoadCredentials(path, realm string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCredentials(f, realm)
}

// ParseCredentials reads "user:bcrypt-hash" lines.
func ParseCredentials(r io.Reader, realm string) (*Credentials, error) {
	c := &Credentials{realm: realm, users: map[string]string{},
		slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		check: password.Check}
	if c.realm == "" {
		c.realm = "applayer"
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("credentials line %d: want user:hash", n)
		}
		if password.Cost(hash) == 0 {
			return nil, fmt.Errorf("credentials line %d: user %q: the password is not a bcrypt hash", n, user)
		}
		c.users[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.users) == 0 {
		return nil, errors.New("credentials file names no user")
	}
	c.decoyCost = password.DecoyCost(c.users)
	password.Decoy(c.decoyCost)
	return c, nil
}

// HashPassword returns a credentials-file line for user.
func HashPassword(user, pw string) (string, error) {
	if user == "" || strings.ContainsAny(user, ":\n") {
		return "", errors.New("user names must be non-empty and have no colon")
	}
	h, err := password.Hash(pw, 0)
	if err != nil {
		return "", err
	}
	return user + ":" + h, nil
}

// Realm is the protection space named in WWW-Authenticate.
func (c *Credentials) Realm() string { return c.realm }

// Check verifies an Authorization field value ("Basic base64(user:pass)")
// and returns the user.
func (c *Credentials) Check(authorization string) (string, bool) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !equalFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", false
	}
	// An unknown user is checked against a decoy of the users' cost, so
	// that timing does not tell which users exist.
	c.slots <- struct{}{}
	ok = c.check(c.users[user], pass, c.decoyCost)
	<-c.slots
	if !ok {
		return "", false
	}
	return user, true
}
