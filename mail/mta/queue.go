package mta

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
)

// Envelope is the first line of a queue file.
type Envelope struct {
	From    string    `json:"from"` // "" for the null sender <>
	To      []string  `json:"to"`
	Arrived time.Time `json:"arrived"`
	// DSN marks a delivery status notification we generated.
	DSN bool `json:"dsn,omitempty"`
	// Body8Bit is set when the message came with BODY=8BITMIME (RFC 6152)
	// and is relayed with it.
	Body8Bit bool `json:"8bit,omitempty"`
	// Auth is the user who submitted the message, "" when it came
	// unauthenticated: only submitted mail is DKIM-signed.
	Auth string `json:"auth,omitempty"`
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

// Queue files: ID.q holds the envelope line, then the message exactly as
// it will be sent (with our Received: field).
const (
	queueSuffix = ".q"
	stateSuffix = ".st"
	// envMagic starts the envelope line of a queue file.
	envMagic = "APPLAYER-QUEUE 1 "
	// doneDir holds finished messages until they are deleted.
	doneDir = "done"
	// maxEnvLine bounds the envelope line (1,000 recipients of 256 octets).
	maxEnvLine = 300 << 10
)

// envelopeLine renders the first line of a queue file.
func envelopeLine(env *Envelope) []byte {
	b, _ := json.Marshal(env) // JSON escapes control characters: one line
	return append(append([]byte(envMagic), b...), '\n')
}

// readEnvelope reads the envelope line of a queue file and returns it
// with the line's length (the offset of the message).
func readEnvelope(f *os.File) (Envelope, int64, error) {
	var env Envelope
	br := bufio.NewReaderSize(f, 4096)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) || len(line) > maxEnvLine {
			return env, 0, fmt.Errorf("mta: %s: no envelope line", filepath.Base(f.Name()))
		}
	}
	body, ok := bytes.CutPrefix(line, []byte(envMagic))
	if !ok {
		return env, 0, fmt.Errorf("mta: %s: not a queue file", filepath.Base(f.Name()))
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return env, 0, fmt.Errorf("mta: %s: %w", filepath.Base(f.Name()), err)
	}
	return env, int64(len(line)), nil
}

// queuedMessage is an open queue file: the message is read from it as a
// section, never held in memory whole.
type queuedMessage struct {
	f      *os.File
	off    int64
	size   int64
	prefix []byte // header fields sent before the stored message (DKIM-Signature)
}

// openQueued opens a queued message.
func openQueued(qd, id string) (*queuedMessage, error) {
	f, err := os.Open(filepath.Join(qd, id+queueSuffix))
	if err != nil {
		return nil, err
	}
	_, off, err := readEnvelope(f)
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			return &queuedMessage{f: f, off: off, size: st.Size() - off}, nil
		}
	}
	f.Close()
	return nil, err
}

// Reader returns a fresh reader of the whole message.
func (q *queuedMessage) Reader() io.Reader {
	return io.MultiReader(bytes.NewReader(q.prefix), io.NewSectionReader(q.f, q.off, q.size))
}

// Size is the message's length.
func (q *queuedMessage) Size() int64 { return int64(len(q.prefix)) + q.size }

// Close closes the file.
func (q *queuedMessage) Close() error { return q.f.Close() }

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
		id, ok := strings.CutSuffix(e.Name(), queueSuffix)
		if !ok || !validID(id) {
			continue
		}
		it, err := readItem(qd, id)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Env.Arrived.Before(out[j].Env.Arrived) })
	return out, nil
}

func readItem(qd, id string) (QueueItem, error) {
	it := QueueItem{ID: id}
	f, err := os.Open(filepath.Join(qd, id+queueSuffix))
	if err != nil {
		return it, err
	}
	defer f.Close()
	env, off, err := readEnvelope(f)
	if err != nil {
		return it, err
	}
	it.Env = env
	if st, err := f.Stat(); err == nil {
		it.Size = st.Size() - off
	}
	it.State.Rcpts = map[string]*RcptState{}
	if b, err := os.ReadFile(filepath.Join(qd, id+stateSuffix)); err == nil {
		json.Unmarshal(b, &it.State)
		if it.State.Rcpts == nil {
			it.State.Rcpts = map[string]*RcptState{}
		}
		for r, st := range it.State.Rcpts {
			if st == nil { // a damaged progress file: start that recipient over
				delete(it.State.Rcpts, r)
			}
		}
	}
	return it, nil
}

// DeleteQueued removes a message from the queue of a data directory, also
// while the server runs: the worker checks that the queue file still
// exists before each attempt.
func DeleteQueued(dataDir, id string) error {
	if !validID(id) {
		return fmt.Errorf("mta: %q is not a queue ID", id)
	}
	qd := QueueDir(dataDir)
	if err := os.Remove(filepath.Join(qd, id+queueSuffix)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mta: no queued message %s", id)
		}
		return fmt.Errorf("mta: %w", err)
	}
	os.Remove(filepath.Join(qd, id+stateSuffix))
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
	if _, err := os.Stat(filepath.Join(qd, id+queueSuffix)); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.WriteFileNoSync(filepath.Join(qd, id+stateSuffix), b, 0o600)
}

// cleanQueue removes what a crash left behind: temporary files, and state
// files whose message is gone. (A queue file appears whole, by a link of
// a file already fsynced, or not at all.)
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
		case strings.HasSuffix(n, stateSuffix) && !have[strings.TrimSuffix(n, stateSuffix)+queueSuffix]:
			os.Remove(filepath.Join(qd, n))
		}
	}
	return nil
}
