package browser

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/applayer/applayer/internal/atomicfile"
)

// Cache is a client's local copy of fetched objects in a directory,
// revalidated with conditional GET (RFC 9110 §13.1, the textbook's
// If-Modified-Since exchange): an object with a validator is requested with
// If-None-Match / If-Modified-Since, and a 304 answer means the stored copy
// is used. Each object is two files named by the SHA-256 of its URL:
// NAME.body and NAME.json (URL, validators, Content-Type).
type Cache struct {
	Dir string
}

// CacheEntry is what the cache knows of one URL.
type CacheEntry struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	Size         int64  `json:"size"`
}

func (c *Cache) name(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16]))
}

// Lookup returns the entry for url, if a complete one is stored.
func (c *Cache) Lookup(url string) (CacheEntry, bool) {
	var e CacheEntry
	b, err := os.ReadFile(c.name(url) + ".json")
	if err != nil || json.Unmarshal(b, &e) != nil || e.URL != url {
		return CacheEntry{}, false
	}
	if fi, err := os.Stat(c.name(url) + ".body"); err != nil || fi.Size() != e.Size {
		return CacheEntry{}, false
	}
	return e, true
}

// Open opens the stored body of url.
func (c *Cache) Open(url string) (*os.File, error) { return os.Open(c.name(url) + ".body") }

// Store keeps body (already written to the temporary file tmp, which it
// takes over) under url: the old metadata is removed, the body renamed into
// place, then the new metadata written, so a crash leaves either no entry
// or a complete one.
func (c *Cache) Store(e CacheEntry, tmp string) error {
	n := c.name(e.URL)
	os.Remove(n + ".json") // no moment where old metadata describes a new body
	if err := os.Rename(tmp, n+".body"); err != nil {
		os.Remove(tmp)
		return err
	}
	b, _ := json.Marshal(e)
	return atomicfile.WriteFile(n+".json", b, 0o644)
}

// Temp creates a temporary file in the cache directory for a body being
// downloaded.
func (c *Cache) Temp() (*os.File, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(c.Dir, ".download-*.tmp")
}
