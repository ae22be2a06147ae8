package ftp

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// unixMode renders a mode as ls -l does ("drwxr-xr-x", "lrwxrwxrwx").
func unixMode(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
		if m&fs.ModeCharDevice != 0 {
			b[0] = 'c'
		}
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[1+i] = rwx[i]
		} else {
			b[1+i] = '-'
		}
	}
	return string(b[:])
}

// listLine is one line of LIST in the Unix ls -l form that every client
// parses: mode, links, owner, group, size, date, name. Dates within six
// months show the time, older ones the year, as ls does.
func listLine(fi fs.FileInfo, name string, now time.Time) string {
	mt := fi.ModTime().UTC()
	date := mt.Format("Jan _2 15:04")
	if now.Sub(mt) > 182*24*time.Hour || mt.After(now.Add(time.Hour)) {
		date = mt.Format("Jan _2  2006")
	}
	links := 1
	if fi.IsDir() {
		links = 2
	}
	return fmt.Sprintf("%s %3d ftp      ftp      %12d %s %s", unixMode(fi.Mode()), links, fi.Size(), date, name)
}

// mlsxTime is RFC 3659 section 2.3's time-val, in UTC.
func mlsxTime(t time.Time) string { return t.UTC().Format("20060102150405") }

// factLine is one RFC 3659 section 7 entry: "fact=value;... name". kind is
// "cdir" or "pdir" for the listed directory and its parent, else "".
func factLine(fi fs.FileInfo, name, kind string, writable bool) string {
	var b strings.Builder
	typ := "file"
	perm := "r"
	if fi.IsDir() {
		typ = "dir"
		perm = "el"
		if writable {
			perm = "eflcmp"
		}
	} else if writable {
		perm = "radfw"
	}
	if kind != "" {
		typ = kind
	}
	b.WriteString("type=" + typ + ";")
	if !fi.IsDir() {
		b.WriteString("size=" + strconv.FormatInt(fi.Size(), 10) + ";")
	}
	b.WriteString("modify=" + mlsxTime(fi.ModTime()) + ";")
	b.WriteString("perm=" + perm + ";")
	b.WriteString("UNIX.mode=0" + strconv.FormatUint(uint64(fi.Mode().Perm()), 8) + ";")
	b.WriteString(" " + name)
	return b.String()
}

// Entry is one directory entry as a client reads it from MLSD or LIST.
type Entry struct {
	Name  string
	Type  string // "file", "dir", "link", or what MLSD said ("cdir", "OS.unix=slink")
	Size  int64  // -1 when unknown
	Time  time.Time
	Perm  string            // MLSD's perm fact, or the LIST mode ("-rw-r--r--")
	Facts map[string]string // every MLSD fact, lower-cased names; nil for LIST
}

// ParseMLSxLine parses one MLSD line or MLST entry (RFC 3659 section 7.2):
// facts separated by ";", a space, and the name (which may contain
// anything but CR and LF).
func ParseMLSxLine(line string) (Entry, error) {
	line = strings.TrimLeft(strings.TrimRight(line, "\r\n"), " ")
	facts, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return Entry{}, fmt.Errorf("ftp: malformed MLSD line %q", line)
	}
	e := Entry{Name: name, Size: -1, Facts: map[string]string{}}
	for _, f := range strings.Split(facts, ";") {
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return Entry{}, fmt.Errorf("ftp: malformed MLSD fact %q", f)
		}
		k = strings.ToLower(k)
		e.Facts[k] = v
		switch k {
		case "type":
			e.Type = strings.ToLower(v)
		case "size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return Entry{}, fmt.Errorf("ftp: malformed MLSD size %q", v)
			}
			e.Size = n
		case "modify":
			if len(v) >= 14 {
				if t, err := time.Parse("20060102150405", v[:14]); err == nil {
					e.Time = t
				}
			}
		case "perm":
			e.Perm = v
		}
	}
	return e, nil
}

// ParseListLine parses one line of a Unix-style LIST ("drwxr-xr-x 2 user
// group 4096 Jan  2 15:04 name", with or without the link count, and
// "name -> target" for links). now decides the year of dates shown with a
// time. Lines it does not understand ("total 12") give an error.
func ParseListLine(line string, now time.Time) (Entry, error) {
	line = strings.TrimRight(line, "\r\n")
	bad := fmt.Errorf("ftp: unrecognized LIST line %q", line)
	if len(line) < 10 || !strings.ContainsRune("-dlpscb", rune(line[0])) {
		return Entry{}, bad
	}
	// Fields: mode, [links], owner, group, size, month, day, time|year, name.
	rest := line
	var fields []string
	for len(fields) < 9 {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		i := strings.IndexByte(rest, ' ')
		if i < 0 || len(fields) == 8 {
			fields = append(fields, rest)
			rest = ""
			break
		}
		fields = append(fields, rest[:i])
		rest = rest[i+1:]
	}
	// Find the month field: the date is month, day, time-or-year, and the
	// size is just before it.
	m := -1
	for i := 3; i+3 < len(fields) && i <= 5; i++ {
		if _, err := time.Parse("Jan", fields[i]); err == nil {
			if _, err := strconv.Atoi(fields[i-1]); err == nil {
				m = i
				break
			}
		}
	}
	if m < 0 {
		return Entry{}, bad
	}
	size, err := strconv.ParseInt(fields[m-1], 10, 64)
	if err != nil || size < 0 {
		return Entry{}, bad
	}
	// The name is what follows the date, spaces included: re-cut the line.
	name := line
	for i := 0; i <= m+2; i++ {
		name = strings.TrimLeft(name, " ")
		j := strings.IndexByte(name, ' ')
		if j < 0 {
			return Entry{}, bad
		}
		name = name[j+1:]
	}
	if name == "" {
		return Entry{}, bad
	}
	e := Entry{Name: name, Size: size, Perm: fields[0]}
	switch line[0] {
	case 'd':
		e.Type = "dir"
	case 'l':
		e.Type = "link"
		if i := strings.Index(e.Name, " -> "); i >= 0 {
			e.Name = e.Name[:i]
		}
	case '-':
		e.Type = "file"
	default:
		e.Type = "other"
	}
	day, err := strconv.Atoi(fields[m+1])
	if err != nil || day < 1 || day > 31 {
		return Entry{}, bad
	}
	mon, _ := time.Parse("Jan", fields[m])
	if strings.Contains(fields[m+2], ":") {
		hm, err := time.Parse("15:04", fields[m+2])
		if err != nil {
			return Entry{}, bad
		}
		t := time.Date(now.Year(), mon.Month(), day, hm.Hour(), hm.Minute(), 0, 0, time.UTC)
		if t.After(now.Add(24 * time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		e.Time = t
	} else {
		y, err := strconv.Atoi(fields[m+2])
		if err != nil {
			return Entry{}, bad
		}
		e.Time = time.Date(y, mon.Month(), day, 0, 0, 0, 0, time.UTC)
	}
	return e, nil
}
