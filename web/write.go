package web

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var syscallENOTDIR error = syscall.ENOTDIR

// put stores the request body as rel, atomically: the body goes to a
// temporary file in the same directory, is synced to disk, and is renamed
// over the target only when complete. A client that disconnects, a body
// over the limit, or a full disk leaves the old file untouched (RFC 9110
// §9.3.4: 201 when created, 204 when replaced).
func (fsrv *FileServer) put(w ResponseWriter, r *Request, rel string) {
	if rel == "." || strings.HasSuffix(r.Path, "/") {
		WriteError(w, StatusConflict, "PUT needs a file name, not a directory")
		return
	}
	old, err := fsrv.root.Stat(rel)
	exists := err == nil
	if exists && old.IsDir() {
		WriteError(w, StatusConflict, "a directory has that name")
		return
	}
	var e *fileEntry
	if exists {
		e, _ = fsrv.lookup(rel, time.Now().Unix())
	}
	if status := checkPreconditions(r, e); status != 0 {
		WriteError(w, StatusPreconditionFailed, "precondition failed")
		return
	}
	if dir := path.Dir(rel); dir != "." {
		if err := fsrv.root.MkdirAll(dir, 0o755); err != nil {
			fsrv.writeError(w, r, err)
			return
		}
	}
	fsrv.sweepTemps(path.Dir(rel))
	tmp := path.Join(path.Dir(rel), ".put-"+strconv.FormatUint(fsrv.seq.Add(1), 36)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".tmp")
	f, err := fsrv.root.OpenFile(tmp, syscallOCreateExcl, 0o644)
	if err != nil {
		fsrv.writeError(w, r, err)
		return
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			fsrv.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r.Body); err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			WriteError(w, pe.Status, pe.Reason)
			return
		}
		fsrv.logger().Info("web: PUT body incomplete; nothing stored", "path", r.Path, "err", err)
		WriteError(w, StatusBadRequest, "body incomplete; nothing stored")
		return
	}
	if err := f.Sync(); err != nil {
		fsrv.writeError(w, r, err)
		return
	}
	if err := f.Close(); err != nil {
		fsrv.writeError(w, r, err)
		return
	}
	if err := fsrv.root.Rename(tmp, rel); err != nil {
		fsrv.writeError(w, r, err)
		return
	}
	committed = true
	fsrv.forget(rel)
	if exists {
		w.WriteHeader(StatusNoContent)
		return
	}
	w.Header().Set("Location", "/"+strings.TrimLeft(r.RawPath, "/")) // never "//host/..."
	WriteError(w, StatusCreated, "stored "+r.Path)
}

// delete removes rel (RFC 9110 §9.3.5): 204, or 404 when it is not there.
func (fsrv *FileServer) delete(w ResponseWriter, r *Request, rel string) {
	if rel == "." {
		WriteError(w, StatusForbidden, "the root cannot be deleted")
		return
	}
	fi, err := fsrv.root.Stat(rel)
	if err != nil {
		fsrv.writeError(w, r, err)
		return
	}
	var e *fileEntry
	if !fi.IsDir() {
		e, _ = fsrv.lookup(rel, time.Now().Unix())
	}
	if e != nil {
		if status := checkPreconditions(r, e); status != 0 {
			WriteError(w, StatusPreconditionFailed, "precondition failed")
			return
		}
	}
	if err := fsrv.root.Remove(rel); err != nil {
		if fi.IsDir() {
			WriteError(w, StatusConflict, "directory not empty")
			return
		}
		fsrv.writeError(w, r, err)
		return
	}
	fsrv.forget(rel)
	w.WriteHeader(StatusNoContent)
}

func (fsrv *FileServer) writeError(w ResponseWriter, r *Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		NotFound(w, r)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		WriteError(w, StatusInsufficientStorage, "no space left")
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.EISDIR):
		WriteError(w, StatusConflict, "a file is in the way")
	default:
		fsrv.fileError(w, r, err)
	}
}

const syscallOCreateExcl = os.O_WRONLY | os.O_CREATE | os.O_EXCL

// staleTemp is the age past which an upload's temporary file is left over
// from a server that died (kill -9, a crash, a power cut) rather than in
// progress: an upload in progress writes at least every BodyTimeout.
const staleTemp = 10 * time.Minute

// sweepTemps removes the stale temporary files of uploads in dir, at most
// once per staleTemp per directory, before an upload there.
func (fsrv *FileServer) sweepTemps(dir string) {
	now := time.Now()
	if last, ok := fsrv.swept.Load(dir); ok && now.Sub(last.(time.Time)) < staleTemp {
		return
	}
	fsrv.swept.Store(dir, now)
	d, err := fsrv.root.Open(dir)
	if err != nil {
		return
	}
	ents, _ := d.ReadDir(-1)
	d.Close()
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasPrefix(name, ".put-") || !strings.HasSuffix(name, ".tmp") || !ent.Type().IsRegular() {
			continue
		}
		if fi, err := ent.Info(); err == nil && now.Sub(fi.ModTime()) > staleTemp {
			if fsrv.root.Remove(path.Join(dir, name)) == nil {
				fsrv.logger().Info("web: removed an upload left over by an earlier run", "file", path.Join(dir, name))
			}
		}
	}
}
