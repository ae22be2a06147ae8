// Package metainfo reads and creates BitTorrent metainfo (.torrent) files
// (BEP 3), with multitracker announce lists (BEP 12), and reads and writes
// magnet URIs (BEP 9).
//
// A torrent's identity is its info-hash: the SHA-1 of its info dictionary
// exactly as encoded in the file. Parse keeps those bytes (InfoBytes) and
// hashes them, so a torrent made by another tool with keys this package
// does not know keeps its hash.
package metainfo

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/applayer/applayer/p2p/bencode"
)

// DefaultPieceLength is the piece size Create uses unless told otherwise:
// 256 KiB, the textbook's chunk.
const DefaultPieceLength = 256 << 10

// MaxFileSize bounds a .torrent file Load reads (16 MiB).
const MaxFileSize = 16 << 20

// Hash is a 20-byte SHA-1, the info-hash of a torrent or a piece's hash.
type Hash [20]byte

// String is the hash in lower-case hex, as magnet URIs carry it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// File is one file of a multi-file torrent.
type File struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

// Info is the info dictionary (BEP 3).
type Info struct {
	// Files lists the files of a multi-file torrent; nil for a single file.
	Files []File `bencode:"files,omitempty"`
	// Length is a single file's length.
	Length int64 `bencode:"length,omitempty"`
	// Name is the file's name, or the directory's for several files.
	Name        string `bencode:"name"`
	PieceLength int64  `bencode:"piece length"`
	// Pieces is the concatenation of every piece's SHA-1.
	Pieces  []byte `bencode:"pieces"`
	Private int    `bencode:"private,omitempty"`
}

// MetaInfo is a torrent file.
type MetaInfo struct {
	Announce     string     `bencode:"announce,omitempty"`
	AnnounceList [][]string `bencode:"announce-list,omitempty"`
	Comment      string     `bencode:"comment,omitempty"`
	CreatedBy    string     `bencode:"created by,omitempty"`
	CreationDate int64      `bencode:"creation date,omitempty"`
	// InfoBytes is the info dictionary as encoded: its SHA-1 is the
	// info-hash.
	InfoBytes bencode.RawMessage `bencode:"info"`

	// Info is InfoBytes decoded (set by Parse and Create).
	Info Info `bencode:"-"`
	// InfoHash is the SHA-1 of InfoBytes (set by Parse and Create).
	InfoHash Hash `bencode:"-"`
}

// Parse decodes a torrent file and checks its info dictionary.
func Parse(data []byte) (*MetaInfo, error) {
	var m MetaInfo
	if err := bencode.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("metainfo: %w", err)
	}
	if len(m.InfoBytes) == 0 {
		return nil, errors.New("metainfo: no info dictionary")
	}
	if err := m.setInfo(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Load reads and parses the torrent file at path.
func Load(name string) (*MetaInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("metainfo: %s: %d bytes, over the limit of %d", name, st.Size(), MaxFileSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// ParseInfo decodes and checks an info dictionary alone, as BEP 9's
// metadata exchange delivers it, and returns a MetaInfo around it.
func ParseInfo(infoBytes []byte) (*MetaInfo, error) {
	m := &MetaInfo{InfoBytes: bytes.Clone(infoBytes)}
	if err := m.setInfo(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *MetaInfo) setInfo() error {
	var info Info
	if err := bencode.Unmarshal(m.InfoBytes, &info); err != nil {
		return fmt.Errorf("metainfo: info: %w", err)
	}
	if err := info.Validate(); err != nil {
		return err
	}
	m.Info = info
	m.InfoHash = sha1.Sum(m.InfoBytes)
	return nil
}

// Marshal encodes the torrent file.
func (m *MetaInfo) Marshal() ([]byte, error) { return bencode.Marshal(m) }

// Trackers returns the tiers of announce URLs: announce-list when present
// (BEP 12 says it then replaces announce), else announce alone.
func (m *MetaInfo) Trackers() [][]string {
	var tiers [][]string
	for _, tier := range m.AnnounceList {
		var t []string
		for _, u := range tier {
			if u != "" {
				t = append(t, u)
			}
		}
		if len(t) > 0 {
			tiers = append(tiers, t)
		}
	}
	if len(tiers) == 0 && m.Announce != "" {
		tiers = [][]string{{m.Announce}}
	}
	return tiers
}

// Validate checks the info dictionary's consistency: a piece length, one
// hash per piece for the total length, safe file names.
func (info *Info) Validate() error {
	if info.PieceLength <= 0 || info.PieceLength > 1<<30 {
		return fmt.Errorf("metainfo: piece length %d out of range", info.PieceLength)
	}
	if err := checkName(info.Name); err != nil {
		return fmt.Errorf("metainfo: name: %w", err)
	}
	if len(info.Pieces)%20 != 0 {
		return fmt.Errorf("metainfo: pieces is %d bytes, not a multiple of 20", len(info.Pieces))
	}
	if info.Files != nil && info.Length != 0 {
		return errors.New("metainfo: both length and files")
	}
	if info.Length < 0 {
		return errors.New("metainfo: negative length")
	}
	if info.Files != nil && len(info.Files) == 0 {
		return errors.New("metainfo: empty file list")
	}
	seen := map[string]bool{}
	for i, f := range info.Files {
		if f.Length < 0 || f.Length > 1<<50 {
			return fmt.Errorf("metainfo: file %d: length %d out of range", i, f.Length)
		}
		if len(f.Path) == 0 {
			return fmt.Errorf("metainfo: file %d: empty path", i)
		}
		for _, p := range f.Path {
			if err := checkName(p); err != nil {
				return fmt.Errorf("metainfo: file %d: %w", i, err)
			}
		}
		key := strings.Join(f.Path, "/")
		if seen[key] {
			return fmt.Errorf("metainfo: file %q twice", key)
		}
		seen[key] = true
	}
	total := info.TotalLength()
	if total > 1<<50 {
		return fmt.Errorf("metainfo: total length %d out of range", total)
	}
	want := (total + info.PieceLength - 1) / info.PieceLength
	if int64(len(info.Pieces)/20) != want {
		return fmt.Errorf("metainfo: %d piece hashes for %d bytes in pieces of %d (want %d)", len(info.Pieces)/20, total, info.PieceLength, want)
	}
	return nil
}

// checkName refuses path components that would leave the download
// directory or cannot be a file name.
func checkName(s string) error {
	switch {
	case s == "", s == ".", s == "..":
		return fmt.Errorf("bad path component %q", s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("path component %q holds a separator or NUL", s)
	}
	return nil
}

// TotalLength is the sum of the files' lengths.
func (info *Info) TotalLength() int64 {
	if info.Files == nil {
		return info.Length
	}
	var n int64
	for _, f := range info.Files {
		n += f.Length
	}
	return n
}

// NumPieces is how many pieces the torrent has.
func (info *Info) NumPieces() int { return len(info.Pieces) / 20 }

// PieceHash is the SHA-1 of piece i.
func (info *Info) PieceHash(i int) (h Hash) {
	copy(h[:], info.Pieces[i*20:])
	return h
}

// PieceSize is the length of piece i: PieceLength, less for the last.
func (info *Info) PieceSize(i int) int64 {
	if i == info.NumPieces()-1 {
		return info.TotalLength() - int64(i)*info.PieceLength
	}
	return info.PieceLength
}

// FileEntry is a file of the torrent with its place in the byte stream.
type FileEntry struct {
	Path   string // slash-separated, starting with the torrent's name
	Length int64
	Offset int64 // of its first byte in the concatenation of all files
}

// FileList lists the files in order with their offsets; a single-file
// torrent has one whose Path is the name.
func (info *Info) FileList() []FileEntry {
	if info.Files == nil {
		return []FileEntry{{Path: info.Name, Length: info.Length}}
	}
	var out []FileEntry
	var off int64
	for _, f := range info.Files {
		out = append(out, FileEntry{Path: path.Join(append([]string{info.Name}, f.Path...)...), Length: f.Length, Offset: off})
		off += f.Length
	}
	return out
}

func marshal(v any) ([]byte, error) { return bencode.Marshal(v) }
