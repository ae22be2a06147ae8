// Package atomicfile writes a file atomically and durably: the new
// contents go to a temporary file in the same directory, which is synced,
// renamed over the target and followed by a sync of the directory, so
// that a crash leaves the old file or the new one, never a part of
// either, and a returned nil means the new file survives a crash.
//
// Every whole-file write of the project goes through it: the cookie jar,
// the TLS certificates, zone files written by UPDATE, the mail users file,
// the mail queue's state files and `web get -o`.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically and durably, with the
// permission bits perm (not reduced by the umask).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteFileNoSync writes data to path atomically but without the two
// syncs: after a crash the file may be the old one, and on some file
// systems an empty one. It is for files whose loss costs repeated work,
// not data (the mail queue's delivery state).
func WriteFileNoSync(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Discard()
	if _, err := f.Write(data); err != nil {
		return err
	}
	f.durable = durable
	return f.Commit()
}

// File is a temporary file that becomes path on Commit.
type File struct {
	*os.File
	path    string
	perm    os.FileMode
	durable bool
	done    bool
}

// Create opens a temporary file beside path, for a caller that streams
// into it. Commit puts it in place; Discard (deferred) removes it unless
// it was committed.
func Create(path string, perm os.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{File: tmp, path: path, perm: perm, durable: true}, nil
}

// Commit sets the permission bits, syncs and closes the file, renames it
// over the target and syncs the directory.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: " + f.path + " already committed or discarded")
	}
	err := f.Chmod(f.perm)
	if err == nil && f.durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		f.Discard()
		return err
	}
	f.done = true
	if f.durable {
		return SyncDir(filepath.Dir(f.path))
	}
	return nil
}

// Discard closes and removes the temporary file; after Commit it does
// nothing.
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// SyncDir syncs a directory, making the creation, removal or renaming of
// the names in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
