package mta

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Envelope is what ID.env holds.
type Envelope struct {
	From    string    `json:"from"` // "" for the null sender <>
	To      []string  `json:"to"`
	Arrived time.Time `json:"arrived"`
	// DSN marks a delivery status notification we generated.
	DSN bool `json:"dsn,omitempty"`
}

// RcptState is one recipient's progress, kept in ID.st.
type RcptState struct {
	Done     bool      `json:"done,omitempty"`
	Failed   bool      `json:"failed,omitempty"`   // permanently
	Reported bool      `json:"reported,omitempty"` // the failure's DSN is sent
	Attempts int       `json:"attempts,omitempty"`
	Next     time.Time `json:"next,omitempty"`
	Last     string    `json:"last,omitempty"` // last answer or error
	Remote   string    `json:"remote,omitempty"`
}

// State is what ID.st holds.
type State struct {
	Rcpts map[string]*RcptState `json:"rcpts"`
}

// QueueItem is one queued message as `applayer mail queue list` shows it.
type QueueItem struct {
	ID    string
	Size  int64
	Env   Envelope
	State State
}

// Pending returns the recipients still to be delivered.
func (q QueueItem) Pending() []string {
	var out []string
	for _, r := range q.Env.To {
		if st := q.State.Rcpts[r]; st == nil || !st.Done && !st.Failed {
			out = append(out, r)
		}
	}
	return out
}

// QueueDir returns the queue directory under a data directory.
func QueueDir(dataDir string) string { return filepath.Join(dataDir, "queue") }

// newID returns a queue ID: time-ordered, unique across restarts.
func newID() string {
	var b [3]byte
	rand.Read(b[:])
	return strings.ToUpper(strconv.FormatInt(time.Now().UnixMicro(), 36)) + fmt.Sprintf("%06X", b[:])
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ListQueue reads the queue of a data directory: the server need not run.
func ListQueue(dataDir string) ([]QueueItem, error) {
	qd := QueueDir(dataDir)
	ents, err := os.ReadDir(qd)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	var out []QueueItem
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".env")
		if !ok || !validID(id) {
			continue
		}
		it, err := readItem(qd, id)
		if err != nil {
			continue // deleted meanwhile, or being written
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Env.Arrived.Before(out[j].Env.Arrived) })
	return out, nil
}

func readItem(qd, id string) (QueueItem, error) {
	it := QueueItem{ID: id}
	b, err := os.ReadFile(filepath.Join(qd, id+".env"))
	if err != nil {
		return it, err
	}
	if err := json.Unmarshal(b, &it.Env); err != nil {
		return it, fmt.Errorf("mta: %s.env: %w", id, err)
	}
	st, err := os.Stat(filepath.Join(qd, id+".msg"))
	if err != nil {
		return it, err
	}
	it.Size = st.Size()
	it.State.Rcpts = map[string]*RcptState{}
	if b, err := os.ReadFile(filepath.Join(qd, id+".st")); err == nil {
		json.Unmarshal(b, &it.State)
		if it.State.Rcpts == nil {
			it.State.Rcpts = map[string]*RcptState{}
		}
	}
	return it, nil
}

// DeleteQueued removes a message from the queue of a data directory, also
// while the server runs: the envelope goes first, which is the point
// after which the worker no longer sees the message.
func DeleteQueued(dataDir, id string) error {
	if !validID(id) {
		return fmt.Errorf("mta: %q is not a queue ID", id)
	}
	qd := QueueDir(dataDir)
	if err := os.Remove(filepath.Join(qd, id+".env")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mta: no queued message %s", id)
		}
		return fmt.Errorf("mta: %w", err)
	}
	os.Remove(filepath.Join(qd, id+".msg"))
	os.Remove(filepath.Join(qd, id+".st"))
	return nil
}

// FlushFile is the trigger file `applayer mail queue flush` creates.
const FlushFile = "flush"

// RequestFlush asks the server using dataDir to retry every queued message
// now; the worker notices within about a second.
func RequestFlush(dataDir string) error {
	qd := QueueDir(dataDir)
	if err := os.MkdirAll(qd, 0o700); err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	return os.WriteFile(filepath.Join(qd, FlushFile), nil, 0o600)
}

// writeState rewrites ID.st by rename (no fsync: see the package doc).
// It does nothing once the message has been deleted.
func writeState(qd, id string, st *State) error {
	if _, err := os.Stat(filepath.Join(qd, id+".env")); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(qd, id+".st.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(qd, id+".st"))
}

// writeEnvelope writes ID.env durably: temporary file, fsync, rename.
// The caller fsyncs the directory.
func writeEnvelope(qd, id string, env *Envelope) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	tmp := filepath.Join(qd, id+".env.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(qd, id+".env"))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// cleanQueue removes what a crash left half-made: temporary files, and
// message files without an envelope (never acknowledged).
func cleanQueue(qd string) error {
	ents, err := os.ReadDir(qd)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range ents {
		have[e.Name()] = true
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".tmp"):
			os.Remove(filepath.Join(qd, n))
		case strings.HasSuffix(n, ".msg") && !have[strings.TrimSuffix(n, ".msg")+".env"]:
			os.Remove(filepath.Join(qd, n))
		case strings.HasSuffix(n, ".env") && !have[strings.TrimSuffix(n, ".env")+".msg"]:
			os.Remove(filepath.Join(qd, n))
		case strings.HasSuffix(n, ".st") && !have[strings.TrimSuffix(n, ".st")+".env"]:
			os.Remove(filepath.Join(qd, n))
		}
	}
	return nil
}
