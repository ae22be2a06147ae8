package peer

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/p2p/metainfo"
)

// PartSuffix marks a file still being downloaded; it is renamed to its
// name when every piece of the torrent is verified.
const PartSuffix = ".part"

// storage maps the torrent's byte stream onto its files under a
// directory. ReadAt and WriteAt may be called from several goroutines.
type storage struct {
	info  *metainfo.Info
	dir   string
	files []*sfile
	mu    sync.Mutex // guards the files' handles while Finish renames them
}

type sfile struct {
	metainfo.FileEntry
	final string // path of the finished file
	cur   string // path written now: final, or final + PartSuffix
	f     *os.File
	fresh bool // created empty by openStorage: nothing to verify
}

// openStorage opens (creating as needed) the torrent's files under dir:
// a finished file where one of the right size exists, else the file with
// PartSuffix.
func openStorage(info *metainfo.Info, dir string) (*storage, error) {
	st := &storage{info: info, dir: dir}
	for _, fe := range info.FileList() {
		sf := &sfile{FileEntry: fe, final: filepath.Join(dir, filepath.FromSlash(fe.Path))}
		if fi, err := os.Stat(sf.final); err == nil && fi.Mode().IsRegular() && fi.Size() == fe.Length {
			sf.cur = sf.final
		} else {
			sf.cur = sf.final + PartSuffix
		}
		if err := os.MkdirAll(filepath.Dir(sf.cur), 0o755); err != nil {
			st.Close()
			return nil, err
		}
		_, statErr := os.Stat(sf.cur)
		f, err := os.OpenFile(sf.cur, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			st.Close()
			return nil, err
		}
		sf.f = f
		sf.fresh = os.IsNotExist(statErr)
		if err := f.Truncate(fe.Length); err != nil {
			st.Close()
			return nil, err
		}
		st.files = append(st.files, sf)
	}
	return st, nil
}

// Close closes every file.
func (st *storage) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	var errs []error
	for _, sf := range st.files {
		if sf.f != nil {
			errs = append(errs, sf.f.Close())
			sf.f = nil
		}
	}
	return errors.Join(errs...)
}

// span calls fn for each file range covering [off, off+n).
func (st *storage) span(off int64, n int, fn func(sf *sfile, fileOff int64, lo, hi int) error) error {
	done := 0
	for _, sf := range st.files {
		if done == n {
			break
		}
		end := sf.Offset + sf.Length
		if off+int64(done) >= end || sf.Length == 0 {
			continue
		}
		start := off + int64(done) - sf.Offset
		k := int(min(int64(n-done), sf.Length-start))
		if err := fn(sf, start, done, done+k); err != nil {
			return err
		}
		done += k
	}
	if done != n {
		return fmt.Errorf("peer: range %d+%d beyond the torrent", off, n)
	}
	return nil
}

// ReadAt reads len(p) bytes of the torrent at off.
func (st *storage) ReadAt(p []byte, off int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.span(off, len(p), func(sf *sfile, fo int64, lo, hi int) error {
		if sf.f == nil {
			return os.ErrClosed
		}
		_, err := sf.f.ReadAt(p[lo:hi], fo)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
}

// WriteAt writes p at off.
func (st *storage) WriteAt(p []byte, off int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.span(off, len(p), func(sf *sfile, fo int64, lo, hi int) error {
		if sf.f == nil {
			return os.ErrClosed
		}
		_, err := sf.f.WriteAt(p[lo:hi], fo)
		return err
	})
}

// readPiece reads piece i into buf (which must hold it).
func (st *storage) readPiece(i int, buf []byte) ([]byte, error) {
	n := st.info.PieceSize(i)
	buf = buf[:n]
	return buf, st.ReadAt(buf, int64(i)*st.info.PieceLength)
}

// Verify hashes every piece on disk and returns those that match. Pieces
// that lie in files openStorage just created are not read: they hold
// nothing yet.
func (st *storage) Verify() ([]bool, error) {
	have := make([]bool, st.info.NumPieces())
	buf := make([]byte, st.info.PieceLength)
	for i := range have {
		if st.fresh(i) {
			continue
		}
		b, err := st.readPiece(i, buf)
		if err != nil {
			return nil, err
		}
		have[i] = sha1.Sum(b) == st.info.PieceHash(i)
	}
	return have, nil
}

// fresh reports whether every byte of piece i is in files created empty.
func (st *storage) fresh(i int) bool {
	off := int64(i) * st.info.PieceLength
	all := true
	st.span(off, int(st.info.PieceSize(i)), func(sf *sfile, _ int64, _, _ int) error {
		all = all && sf.fresh
		return nil
	})
	return all
}

// Finish makes the download durable and gives every file its name:
// fsync, then rename from PartSuffix, then fsync the directories.
func (st *storage) Finish() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	dirs := map[string]bool{}
	for _, sf := range st.files {
		if err := sf.f.Sync(); err != nil {
			return err
		}
		if sf.cur == sf.final {
			continue
		}
		if err := os.Rename(sf.cur, sf.final); err != nil {
			return err
		}
		sf.cur = sf.final
		dirs[filepath.Dir(sf.final)] = true
	}
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
