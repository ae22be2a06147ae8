package web

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FileServer serves the files under a directory (GET, HEAD, OPTIONS) and,
// with AllowWrite, stores and removes them (PUT, DELETE). Create it with
// NewFileServer; set the exported fields before serving.
type FileServer struct {
	// AllowWrite enables PUT and DELETE; without it they get 405.
	AllowWrite bool
	// Auth, when set, is required for PUT and DELETE (HTTP Basic).
	Auth *Credentials
	// Index is the file served for a directory (default "index.html").
	Index string
	// MaxCached is the largest file kept in memory (default 256 KiB;
	// negative: none). Cached files are re-checked on disk at most once
	// a second.
	MaxCached int64
	// CacheBytes bounds the memory all cached files take together
	// (default 64 MiB).
	CacheBytes int64
	// Logger receives write errors; nil means slog.Default().
	Logger *slog.Logger

	dir   string
	root  *os.Root
	mu    sync.RWMutex
	cache map[string]*fileEntry
	held  int64         // bytes of file content in cache, under mu
	seq   atomic.Uint64 // names temporary files
	swept sync.Map      // directory -> time.Time of its last sweepTemps
}

// fileEntry is what the server knows of one file: its validators and, for a
// small file, its content.
type fileEntry struct {
	checked atomic.Int64 // unix second of the last stat
	rel     string       // name under the root
	isDir   bool
	size    int64
	modTime time.Time
	ctype   string
	clen    string // size, formatted
	lastMod string
	etag    string
	data    []byte // nil when not cached
}

// NewFileServer returns a FileServer for dir, which must be a directory.
func NewFileServer(dir string) (*FileServer, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FileServer{dir: dir, root: root, cache: map[string]*fileEntry{}}, nil
}

// Close releases the directory.
func (fsrv *FileServer) Close() error { return fsrv.root.Close() }

func (fsrv *FileServer) logger() *slog.Logger {
	if fsrv.Logger != nil {
		return fsrv.Logger
	}
	return slog.Default()
}

func (fsrv *FileServer) allow() string {
	if fsrv.AllowWrite {
		return "GET, HEAD, OPTIONS, PUT, DELETE"
	}
	return "GET, HEAD, OPTIONS"
}

// knownMethods are the methods of RFC 9110 §9 and PATCH: a known method the
// server does not allow on a resource gets 405, an unknown one 501.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true}

// inline reports that GET and HEAD are answered without blocking on
// anything but the connection: from the memory cache, or with sendfile,
// which escalates first (see inlineHandler).
func (fsrv *FileServer) inline(r *Request) bool {
	return r.Method == "GET" || r.Method == "HEAD"
}

// ServeHTTP implements Handler.
func (fsrv *FileServer) ServeHTTP(w ResponseWriter, r *Request) {
	if r.Form == AsteriskForm {
		// OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7).
		w.Header().Set("Allow", fsrv.allow())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(StatusNoContent)
		return
	}
	if r.Form == AuthorityForm {
		// CONNECT host:port asks for a tunnel; this is not a proxy.
		w.Header().Set("Allow", fsrv.allow())
		WriteError(w, StatusMethodNotAllowed, "CONNECT is not allowed: this server is not a proxy")
		return
	}
	rel, norm, ok := cleanPath(r.Path)
	if !ok {
		WriteError(w, StatusBadRequest, "path outside the served root")
		return
	}
	if norm != r.Path {
		// "/sub/../a.txt" is "/a.txt": served as that name, and a
		// redirect to a directory's slash names it normalised.
		r.Path, r.RawPath = norm, (&url.URL{Path: norm}).EscapedPath()
	}
	if hidden(rel) {
		// Dot files (.htpasswd, .git, uploads in progress) are never
		// served, written or removed; /.well-known/ is the exception.
		NotFound(w, r)
		return
	}
	switch r.Method {
	case "GET", "HEAD":
		fsrv.serveFile(w, r, rel)
	case "OPTIONS":
		w.Header().Set("Allow", fsrv.allow())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(StatusNoContent)
	case "PUT", "DELETE":
		if !fsrv.AllowWrite {
			w.Header().Set("Allow", fsrv.allow())
			WriteError(w, StatusMethodNotAllowed, r.Method+" is off on this server (start it with --allow-write)")
			return
		}
		if fsrv.Auth != nil {
			user, ok := fsrv.Auth.Check(r.Header.Get("Authorization"))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Basic realm="`+fsrv.Auth.Realm()+`", charset="UTF-8"`)
				WriteError(w, StatusUnauthorized, "credentials required to "+r.Method)
				return
			}
			SetAuthUser(w, user)
		}
		if r.Method == "PUT" {
			fsrv.put(w, r, rel)
		} else {
			fsrv.delete(w, r, rel)
		}
	default:
		if knownMethods[r.Method] {
			w.Header().Set("Allow", fsrv.allow())
			WriteError(w, StatusMethodNotAllowed, r.Method+" is not allowed here")
			return
		}
		WriteError(w, StatusNotImplemented, "unknown method "+r.Method)
	}
}

// cleanPath turns a decoded URL path into a name under the root ("." for
// "/", no leading slash) and the path normalised: dot segments resolved as
// RFC 3986 §5.2.4 does ("/sub/.." is "/", "/a/./b" is "/a/b"), empty
// segments merged. A ".." that would climb above the root, a NUL or a
// backslash is refused rather than resolved: a client that sends one is
// probing. A path that ends in a dot segment names a directory, so its
// normalised form ends in a slash, as the RFC's algorithm leaves it.
func cleanPath(p string) (rel, norm string, ok bool) {
	if p == "" || p[0] != '/' || strings.ContainsAny(p, "\x00\\") {
		return "", "", false
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	dir := false
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case "", ".":
			dir = last
		case "..":
			if len(out) == 0 {
				return "", "", false
			}
			out = out[:len(out)-1]
			dir = last
		default:
			out = append(out, seg)
		}
	}
	rel = strings.Join(out, "/")
	if rel == "" {
		return ".", "/", true
	}
	norm = "/" + rel
	if dir {
		norm += "/"
	}
	return rel, norm, true
}

// hidden reports whether a segment of rel starts with a dot, other than a
// leading ".well-known" (RFC 8615).
func hidden(rel string) bool {
	for i := 0; rel != ""; i++ {
		seg, rest, _ := strings.Cut(rel, "/")
		if strings.HasPrefix(seg, ".") && seg != "." && !(i == 0 && seg == ".well-known") {
			return true
		}
		rel = rest
	}
	return false
}

// lookup returns the entry for rel, from the cache when it was checked
// within the last second.
func (fsrv *FileServer) lookup(rel string, now int64) (*fileEntry, error) {
	fsrv.mu.RLock()
	e := fsrv.cache[rel]
	fsrv.mu.RUnlock()
	if e != nil && e.checked.Load() == now {
		return e, nil
	}
	fi, err := fsrv.root.Stat(rel)
	if err != nil {
		fsrv.forget(rel)
		return nil, err
	}
	if e != nil && e.isDir == fi.IsDir() && e.size == fi.Size() && e.modTime.Equal(fi.ModTime()) {
		e.checked.Store(now)
		return e, nil
	}
	e = &fileEntry{rel: rel, isDir: fi.IsDir(), size: fi.Size(), modTime: fi.ModTime()}
	e.checked.Store(now)
	if !e.isDir {
		if !fi.Mode().IsRegular() {
			return nil, fs.ErrPermission
		}
		e.ctype = ContentType(rel)
		e.clen = strconv.FormatInt(e.size, 10)
		e.lastMod = e.modTime.UTC().Format(TimeFormat)
		e.etag = `"` + strconv.FormatInt(e.modTime.UnixNano(), 16) + "-" + strconv.FormatInt(e.size, 16) + `"`
		max := fsrv.MaxCached
		if max == 0 {
			max = 256 << 10
		}
		budget := fsrv.CacheBytes
		if budget == 0 {
			budget = 64 << 20
		}
		fsrv.mu.RLock()
		room := fsrv.held+e.size <= budget
		fsrv.mu.RUnlock()
		if e.size <= max && room {
			data, err := fsrv.root.ReadFile(rel)
			if err != nil {
				return nil, err
			}
			if int64(len(data)) != e.size {
				// Changed while we read it: serve it uncached this time.
				e.checked.Store(0)
			} else {
				e.data = data
			}
		}
	}
	fsrv.mu.Lock()
	if len(fsrv.cache) >= 10000 {
		clear(fsrv.cache)
		fsrv.held = 0
	}
	if old := fsrv.cache[rel]; old != nil {
		fsrv.held -= int64(len(old.data))
	}
	fsrv.cache[rel] = e
	fsrv.held += int64(len(e.data))
	fsrv.mu.Unlock()
	return e, nil
}

func (fsrv *FileServer) forget(rel string) {
	fsrv.mu.Lock()
	if old := fsrv.cache[rel]; old != nil {
		fsrv.held -= int64(len(old.data))
		delete(fsrv.cache, rel)
	}
	fsrv.mu.Unlock()
}

func (fsrv *FileServer) fileError(w ResponseWriter, r *Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscallENOTDIR):
		NotFound(w, r)
	case errors.Is(err, fs.ErrPermission):
		WriteError(w, StatusForbidden, "not readable")
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
			// os.Root refused a symbolic link out of the root.
			WriteError(w, StatusForbidden, "the path leads outside the served root")
			return
		}
		fsrv.logger().Warn("web: file error", "path", r.Path, "err", err)
		WriteError(w, StatusInternalServerError, "cannot read the file")
	}
}

func (fsrv *FileServer) serveFile(w ResponseWriter, r *Request, rel string) {
	now := time.Now().Unix()
	e, err := fsrv.lookup(rel, now)
	if err != nil {
		fsrv.fileError(w, r, err)
		return
	}
	if !e.isDir && strings.HasSuffix(r.Path, "/") && rel != "." {
		// "/a.txt/" names a directory that does not exist.
		NotFound(w, r)
		return
	}
	if e.isDir {
		if !strings.HasSuffix(r.Path, "/") {
			// A directory named without its slash: send the client to the
			// name with it, so that relative links resolve (301).
			// Only one leading slash: "//host/dir/" would be a
			// network-path reference (RFC 3986 §4.2) and send the
			// browser to another host.
			loc := "/" + strings.TrimLeft(r.RawPath, "/") + "/"
			if r.RawQuery != "" {
				loc += "?" + r.RawQuery
			}
			w.Header().Set("Location", loc)
			WriteError(w, StatusMovedPermanently, "see "+loc)
			return
		}
		index := fsrv.Index
		if index == "" {
			index = "index.html"
		}
		e, err = fsrv.lookup(path.Join(rel, index), now)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				WriteError(w, StatusForbidden, "directory without "+index)
				return
			}
			fsrv.fileError(w, r, err)
			return
		}
		if e.isDir {
			WriteError(w, StatusForbidden, "directory without "+index)
			return
		}
	}
	h := w.Header()
	if status := checkPreconditions(r, e); status != 0 {
		if status == StatusNotModified {
			h.Set("ETag", e.etag)
			h.Set("Last-Modified", e.lastMod)
			w.WriteHeader(StatusNotModified)
			return
		}
		WriteError(w, status, "precondition failed")
		return
	}
	h.Set("Content-Type", e.ctype)
	h.Set("Last-Modified", e.lastMod)
	h.Set("ETag", e.etag)
	h.Set("Accept-Ranges", "bytes")
	start, length := int64(0), e.size
	if rng := r.Header.Get("Range"); rng != "" && r.Method == "GET" && ifRangeHolds(r, e) {
		s, n, status := parseRange(rng, e.size)
		switch status {
		case StatusPartialContent:
			start, length = s, n
			h.Set("Content-Range", "bytes "+strconv.FormatInt(s, 10)+"-"+strconv.FormatInt(s+n-1, 10)+"/"+e.clen)
			h.Set("Content-Length", strconv.FormatInt(n, 10))
			w.WriteHeader(StatusPartialContent)
		case StatusRangeNotSatisfiable:
			h.Del("Content-Type")
			h.Set("Content-Range", "bytes */"+e.clen)
			WriteError(w, StatusRangeNotSatisfiable, "range outside the file's "+e.clen+" bytes")
			return
		}
	}
	if length == e.size {
		h.Set("Content-Length", e.clen)
	}
	if r.Method == "HEAD" {
		return
	}
	if e.data != nil {
		w.Write(e.data[start : start+length])
		return
	}
	f, err := fsrv.root.Open(e.rel)
	if err != nil {
		// The headers are not sent yet: a 404 or 500 can still replace them.
		h.Del("Content-Range")
		h.Del("Content-Length")
		fsrv.fileError(w, r, err)
		return
	}
	defer f.Close()
	if start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return
		}
	}
	if n, err := io.Copy(w, &io.LimitedReader{R: f, N: length}); err != nil || n < length {
		fsrv.logger().Debug("web: file send ended early", "path", r.Path, "sent", n, "err", err)
	}
}

// checkPreconditions evaluates the conditional fields in the order of RFC
// 9110 §13.2.2 and returns 0 (go on), 304 or 412.
func checkPreconditions(r *Request, e *fileEntry) int {
	exists := e != nil
	if im := r.Header.Get("If-Match"); im != "" {
		if !exists || !etagListMatch(im, e.etag, true) {
			return StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && exists {
		if t, ok := ParseTime(ius); ok && e.modTime.Truncate(time.Second).After(t) {
			return StatusPreconditionFailed
		}
	}
	get := r.Method == "GET" || r.Method == "HEAD"
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if exists && etagListMatch(inm, e.etag, false) {
			if get {
				return StatusNotModified
			}
			return StatusPreconditionFailed
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" && get && exists {
		if t, ok := ParseTime(ims); ok && !e.modTime.Truncate(time.Second).After(t) {
			return StatusNotModified
		}
	}
	return 0
}

// etagListMatch compares etag against a field value that is "*" or a list of
// entity tags (RFC 9110 §8.8.3): strong comparison for If-Match, weak for
// If-None-Match (§13.1.1, §13.1.2).
func etagListMatch(list, etag string, strong bool) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		weak := strings.HasPrefix(item, "W/")
		if weak {
			if strong {
				continue
			}
			item = item[2:]
		}
		if item == etag {
			return true
		}
	}
	return false
}

// ifRangeHolds evaluates If-Range (RFC 9110 §13.1.5): the range applies only
// if the validator still matches; otherwise the whole file is sent.
func ifRangeHolds(r *Request, e *fileEntry) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return ir == e.etag
	}
	t, ok := ParseTime(ir)
	return ok && e.modTime.Truncate(time.Second).Equal(t)
}

// parseRange interprets a Range field for a representation of size bytes
// (RFC 9110 §14.1.2). It returns 206 with the one range to send, 416 when
// no range is satisfiable, or 200 when the field is to be ignored: bad
// syntax, another unit, or several ranges (this server does not build
// multipart/byteranges, and may send the whole, §14.2).
func parseRange(v string, size int64) (start, length int64, status int) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, 0, StatusOK
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return 0, 0, StatusOK
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, StatusOK
	}
	if first == "" {
		// A suffix range: the last n bytes.
		n, ok := parseContentLength(last)
		if !ok {
			return 0, 0, StatusOK
		}
		if n == 0 || size == 0 {
			return 0, 0, StatusRangeNotSatisfiable
		}
		n = min(n, size)
		return size - n, n, StatusPartialContent
	}
	s, ok := parseContentLength(first)
	if !ok {
		return 0, 0, StatusOK
	}
	e := size - 1
	if last != "" {
		l, ok := parseContentLength(last)
		if !ok || l < s {
			return 0, 0, StatusOK
		}
		e = min(l, size-1)
	}
	if s >= size {
		return 0, 0, StatusRangeNotSatisfiable
	}
	return s, e - s + 1, StatusPartialContent
}
