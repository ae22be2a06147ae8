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

	"golang.org/x/crypto/bcrypt"
)

// Credentials checks HTTP Basic authentication (RFC 7617) against users
// with bcrypt-hashed passwords, read from a file of "user:hash" lines (the
// format of `htpasswd -B`; lines starting with # are comments). Create a
// line with `applayer web passwd USER`.
type Credentials struct {
	realm string
	users map[string][]byte
	// slots bounds the password checks running at once. Each costs tens
	// of milliseconds of CPU by design, so a flood of guesses waits here
	// for half the cores instead of taking all of them from the requests
	// that need no check.
	slots chan struct{}
	// compare is bcrypt's comparison (replaced in tests).
	compare func(hash, password []byte) error
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
	c := &Credentials{realm: realm, users: map[string][]byte{},
		slots:   make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		compare: bcrypt.CompareHashAndPassword}
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
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("credentials line %d: user %q: the password is not a bcrypt hash", n, user)
		}
		c.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.users) == 0 {
		return nil, errors.New("credentials file names no user")
	}
	return c, nil
}

// HashPassword returns a credentials-file line for user.
func HashPassword(user, password string) (string, error) {
	if user == "" || strings.ContainsAny(user, ":\n") {
		return "", errors.New("user names must be non-empty and have no colon")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return user + ":" + string(h), nil
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
	hash, known := c.users[user]
	if !known {
		// Spend the same time as for a known user, so that timing does
		// not tell which users exist.
		hash = dummyHash
	}
	c.slots <- struct{}{}
	err = c.compare(hash, []byte(pass))
	<-c.slots
	if err != nil || !known {
		return "", false
	}
	return user, true
}

// dummyHash is a bcrypt hash of a random password, compared against when
// the user is unknown.
var dummyHash = []byte("$2a$10$OR9iT7F/sU25V9BVSsd/huQR2xakzQDzKQAhimjLEP7W56SQdGSdO")
