// Package password is the one password check of every server (the mail
// users file behind SMTP AUTH, POP3 and IMAP; HTTP Basic authentication):
// bcrypt hashes, compared in a time that does not tell whether the user
// exists.
package password

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Hash returns the bcrypt hash of password at cost (0: bcrypt.DefaultCost).
func Hash(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// Cost returns the bcrypt cost of hash, or 0 when hash is not a bcrypt hash.
func Cost(hash string) int {
	c, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return 0
	}
	return c
}

// Check reports whether password is the one hashed in hash, the user's
// stored bcrypt hash. For an unknown user, pass hash "": the password is
// then compared with a dummy hash of decoyCost (the cost of the known
// users' hashes; 0 for bcrypt.DefaultCost), so that the answer takes as
// long as a wrong password of a real user and its timing does not tell
// who exists. A stored hash that is not a bcrypt hash is treated the same
// way. bcrypt's own comparison of the digests is constant-time.
func Check(hash, password string, decoyCost int) bool {
	if Cost(hash) == 0 {
		bcrypt.CompareHashAndPassword(Decoy(decoyCost), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

var decoys sync.Map // cost -> []byte, a hash of a random password

// Decoy returns the dummy hash of that cost that Check compares unknown
// users with, making it on first use; a server calls it when it loads its
// users, so that the first unknown user does not pay for its making.
func Decoy(cost int) []byte {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	cost = min(max(cost, bcrypt.MinCost), bcrypt.MaxCost)
	if h, ok := decoys.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("no password is this one"), cost)
	if err != nil {
		panic("password: " + err.Error()) // only for a cost out of range, excluded above
	}
	v, _ := decoys.LoadOrStore(cost, h)
	return v.([]byte)
}

// DecoyCost returns the cost to give Check for the unknown users of a
// table of hashes: the highest cost among them (0 when there is none).
func DecoyCost[M ~map[K]V, K comparable, V ~string | ~[]byte](hashes M) int {
	c := 0
	for _, h := range hashes {
		c = max(c, Cost(string(h)))
	}
	return c
}
