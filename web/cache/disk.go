package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/web"
)

// Disk is a Store that keeps every entry in a file of its directory as
// well as in memory, so that the cache survives a restart. Each file is
// written atomically (a temporary file renamed into place) and ends with
// the SHA-256 of what precedes it: a file cut short or damaged, by a crash
// or by hand, fails the check when the directory is loaded and is removed,
// never served. The bound and the LRU order are those of the memory copy;
// an entry evicted from memory is removed from disk.
type Disk struct {
	dir string
	mem Memory
	seq atomic.Uint64
	// Dropped counts the files found damaged when the directory was
	// loaded.
	Dropped int
}

const diskMagic = "applayer-cache 1\n"

// diskMeta is what a file holds besides the body.
type diskMeta struct {
	Key          string      `json:"key"`
	Vary         []string    `json:"vary,omitempty"`
	VaryKey      string      `json:"vary_key,omitempty"`
	Status       int         `json:"status"`
	Header       [][2]string `json:"header"`
	RequestTime  time.Time   `json:"request_time"`
	ResponseTime time.Time   `json:"response_time"`
	Targets      []string    `json:"targets,omitempty"`
}

// OpenDisk opens (creating it if need be) a cache directory bounded by
// maxSize bytes (0: DefaultMaxSize), loading the entries whose files are
// whole, most recent last so that the bound keeps the newest.
func OpenDisk(dir string, maxSize int64) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d := &Disk{dir: dir}
	d.mem.MaxSize = maxSize
	d.mem.OnEvict = func(e *Entry) {
		if e.file != "" {
			os.Remove(filepath.Join(d.dir, e.file))
		}
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var loaded []*Entry
	for _, de := range names {
		name := de.Name()
		if strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // a write a crash cut short
			continue
		}
		if !strings.HasSuffix(name, ".entry") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		e, err := decodeEntry(b)
		if err != nil {
			d.Dropped++
			os.Remove(filepath.Join(dir, name))
			continue
		}
		e.file = name
		loaded = append(loaded, e)
	}
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].ResponseTime.Before(loaded[j].ResponseTime) })
	for _, e := range loaded {
		d.mem.Put(e)
	}
	return d, nil
}

// Get implements Store.
func (d *Disk) Get(key string) []*Entry { return d.mem.Get(key) }

// Put implements Store: the file is written first, then the entry joins
// the memory copy (which removes the file of the entry it replaces).
func (d *Disk) Put(e *Entry) {
	sum := sha256.Sum256([]byte(e.Key + "\x00" + e.VaryKey))
	c := *e
	c.file = fmt.Sprintf("%s-%d-%d.entry", hex.EncodeToString(sum[:12]), time.Now().UnixNano(), d.seq.Add(1))
	if err := atomicfile.WriteFileNoSync(filepath.Join(d.dir, c.file), encodeEntry(&c), 0o600); err != nil {
		c.file = ""
	}
	d.mem.Put(&c)
	// An entry the bound refused has no memory copy: no file either.
	if c.file != "" && !d.holds(&c) {
		os.Remove(filepath.Join(d.dir, c.file))
	}
}

func (d *Disk) holds(e *Entry) bool {
	for _, x := range d.mem.Get(e.Key) {
		if x.file == e.file {
			return true
		}
	}
	return false
}

// Delete implements Store.
func (d *Disk) Delete(key string) { d.mem.Delete(key) }

// Stats implements Store.
func (d *Disk) Stats() (int, int64) { return d.mem.Stats() }

func encodeEntry(e *Entry) []byte {
	m := diskMeta{Key: e.Key, Vary: e.Vary, VaryKey: e.VaryKey, Status: e.Status, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime, Targets: e.Targets}
	for _, f := range e.Header {
		m.Header = append(m.Header, [2]string{f.Name, f.Value})
	}
	meta, _ := json.Marshal(m)
	var b bytes.Buffer
	b.WriteString(diskMagic)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(meta))))
	b.Write(meta)
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(len(e.Body))))
	b.Write(e.Body)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

var errDamaged = errors.New("cache: damaged entry file")

func decodeEntry(b []byte) (*Entry, error) {
	if len(b) < len(diskMagic)+4+8+sha256.Size || string(b[:len(diskMagic)]) != diskMagic {
		return nil, errDamaged
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(want[:], sum) {
		return nil, errDamaged
	}
	p := body[len(diskMagic):]
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	if uint64(len(p)) < uint64(n)+8 {
		return nil, errDamaged
	}
	var m diskMeta
	if err := json.Unmarshal(p[:n], &m); err != nil {
		return nil, errDamaged
	}
	p = p[n:]
	bl := binary.BigEndian.Uint64(p)
	p = p[8:]
	if uint64(len(p)) != bl {
		return nil, errDamaged
	}
	e := &Entry{Key: m.Key, Vary: m.Vary, VaryKey: m.VaryKey, Status: m.Status, Body: append([]byte(nil), p...), RequestTime: m.RequestTime, ResponseTime: m.ResponseTime, Targets: m.Targets}
	for _, f := range m.Header {
		e.Header = append(e.Header, web.Field{Name: f[0], Value: f[1]})
	}
	return e.parsed(), nil
}
