package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CreateOptions are the choices of Create; the zero value makes a
// trackerless torrent with DefaultPieceLength pieces.
type CreateOptions struct {
	// PieceLength is the piece size, a power of two of at least 16 KiB
	// (default DefaultPieceLength).
	PieceLength int64
	// Trackers are announce URLs in tiers (BEP 12): the first URL becomes
	// announce, and announce-list is written when there is more than one.
	Trackers [][]string
	// Name overrides the torrent's name (default the file's base name).
	Name      string
	Comment   string
	CreatedBy string
	// CreationDate is written as a Unix time unless zero.
	CreationDate time.Time
	Private      bool
}

// Create makes a torrent of the file or directory at root. A directory
// becomes a multi-file torrent of its regular files in lexical order of
// their paths (symbolic links are not followed; hidden files are kept).
func Create(root string, opts CreateOptions) (*MetaInfo, error) {
	pl := opts.PieceLength
	if pl == 0 {
		pl = DefaultPieceLength
	}
	if pl < 16<<10 || pl&(pl-1) != 0 || pl > 1<<30 {
		return nil, fmt.Errorf("metainfo: piece length %d: want a power of two from 16 KiB to 1 GiB", pl)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	info := Info{Name: opts.Name, PieceLength: pl}
	if info.Name == "" {
		info.Name = filepath.Base(filepath.Clean(root))
	}
	var paths []string // on disk, in torrent order
	if st.IsDir() {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			paths = append(paths, rel)
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(paths, func(a, b string) int {
			return slices.Compare(strings.Split(filepath.ToSlash(a), "/"), strings.Split(filepath.ToSlash(b), "/"))
		})
		if len(paths) == 0 {
			return nil, fmt.Errorf("metainfo: %s: no files", root)
		}
		info.Files = []File{}
		for i, rel := range paths {
			fi, err := os.Stat(filepath.Join(root, rel))
			if err != nil {
				return nil, err
			}
			info.Files = append(info.Files, File{Length: fi.Size(), Path: strings.Split(filepath.ToSlash(rel), "/")})
			paths[i] = filepath.Join(root, rel)
		}
	} else {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("metainfo: %s is not a regular file", root)
		}
		info.Length = st.Size()
		paths = []string{root}
	}
	if info.Pieces, err = hashFiles(paths, pl); err != nil {
		return nil, err
	}
	if opts.Private {
		info.Private = 1
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	return New(info, opts)
}

// New wraps an info dictionary into a torrent with opts' trackers and
// comments (PieceLength and Name in opts are ignored).
func New(info Info, opts CreateOptions) (*MetaInfo, error) {
	m := &MetaInfo{Comment: opts.Comment, CreatedBy: opts.CreatedBy}
	if !opts.CreationDate.IsZero() {
		m.CreationDate = opts.CreationDate.Unix()
	}
	var n int
	for _, tier := range opts.Trackers {
		n += len(tier)
		if m.Announce == "" && len(tier) > 0 {
			m.Announce = tier[0]
		}
	}
	if n > 1 {
		m.AnnounceList = opts.Trackers
	}
	var err error
	if m.InfoBytes, err = marshalInfo(&info); err != nil {
		return nil, err
	}
	if err := m.setInfo(); err != nil {
		return nil, err
	}
	return m, nil
}

func marshalInfo(info *Info) ([]byte, error) {
	if info.Files == nil && info.Length == 0 {
		return nil, errors.New("metainfo: an empty single file cannot be shared")
	}
	type plain Info
	return marshal((*plain)(info))
}

// hashFiles hashes the concatenation of the files in pieces of pl bytes.
func hashFiles(paths []string, pl int64) ([]byte, error) {
	var hashes []byte
	buf := make([]byte, pl)
	n := 0 // bytes of buf filled
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		for {
			m, err := io.ReadFull(f, buf[n:])
			n += m
			if n == len(buf) {
				h := sha1.Sum(buf)
				hashes = append(hashes, h[:]...)
				n = 0
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, err
			}
		}
		f.Close()
	}
	if n > 0 {
		h := sha1.Sum(buf[:n])
		hashes = append(hashes, h[:]...)
	}
	return hashes, nil
}
