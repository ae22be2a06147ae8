//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The FTP server's attacks (`applayer ftp serve --anonymous`): connection
// exhaustion (silent, and a command line trickled a byte every 2 s), a
// PASV flood, a data connection that never comes, PORT and EPRT bounces to
// a third address, and path escapes. A fresh client's try is a whole
// anonymous session: greeting, login, PASV, RETR of a small file, QUIT.

func init() { register(ftpAttacks) }

func ftpAttacks(r *runner) []attack {
	e := r.env
	start := func() (*server, error) { return e.applayerFTP() }
	return []attack{
		{"ftp-silent", "applayer", func() []row {
			return r.exhaustion("ftp-silent", "applayer", start, ftpSilent, probeFTP, time.Second, false)
		}},
		{"ftp-slowloris", "applayer", func() []row {
			return r.exhaustion("ftp-slowloris", "applayer", start, ftpSlowloris, probeFTP, time.Second, false)
		}},
		{"ftp-pasv-flood", "applayer", r.ftpPasvFlood},
		{"ftp-data-never", "applayer", r.ftpDataNever},
		{"ftp-bounce", "applayer", r.ftpBounce},
		{"ftp-path-escape", "applayer", r.ftpEscape},
	}
}

var (
	// ftpSilent connects and says nothing (the greeting is read by hold).
	ftpSilent = holder{what: "silent"}
	// ftpSlowloris sends the start of a command and then a byte every 2 s,
	// never the end of the line.
	ftpSlowloris = holder{what: "slowloris (a command line, a byte every 2 s, never its end)", setup: func(c net.Conn) error {
		_, err := io.WriteString(c, "NOOP")
		return err
	}, trickle: []byte("P"), trickleEvery: 2 * time.Second}
)

const ftpSecret = "secret outside the root\n"

// applayerFTP runs `applayer ftp serve --anonymous` on a root holding
// pub/file (4 KiB) and a symbolic link out of the root to a secret file.
func (e *env) applayerFTP(extra ...string) (*server, error) {
	dir, err := e.subdir("ftp")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "pub"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "pub", "file"), []byte(strings.Repeat("f", 4095)+"\n"), 0o644); err != nil {
		return nil, err
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(ftpSecret), 0o644); err != nil {
		return nil, err
	}
	if err := os.Symlink(secret, filepath.Join(root, "pub", "link")); err != nil {
		return nil, err
	}
	if err := os.Symlink(dir, filepath.Join(root, "up")); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string{e.bin, "ftp", "serve", "--root", root, "--anonymous", "--listen", addr, "--log-level", "error"}, extra...)
	return e.start("applayer", dir, addr, argv...)
}

// ftpConn is a control connection written by hand.
type ftpConn struct {
	c net.Conn
	r *bufio.Reader
}

// ftpReply reads one reply (RFC 959 section 4.2: a multi-line reply ends
// with a line starting with the same code and a space).
func (f *ftpConn) reply() (int, string, error) {
	line, err := f.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	if len(line) < 4 {
		return 0, line, fmt.Errorf("short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, line, fmt.Errorf("bad reply %q", line)
	}
	text := line
	if line[3] == '-' {
		end := line[:3] + " "
		for {
			l, err := f.r.ReadString('\n')
			if err != nil {
				return 0, text, err
			}
			text += l
			if strings.HasPrefix(l, end) {
				break
			}
		}
	}
	return code, strings.TrimSpace(text), nil
}

func (f *ftpConn) cmd(line string) (int, string, error) {
	if _, err := io.WriteString(f.c, line+"\r\n"); err != nil {
		return 0, "", err
	}
	return f.reply()
}

// ftpLogin connects from src, reads the greeting and logs in anonymously.
func ftpLogin(ctx context.Context, src netip.Addr, addr string) (*ftpConn, error) {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	f := &ftpConn{c: c, r: bufio.NewReader(c)}
	fail := func(err error) (*ftpConn, error) { c.Close(); return nil, err }
	code, text, err := f.reply()
	if err != nil {
		return fail(err)
	}
	if code != 220 {
		return fail(fmt.Errorf("greeting %q", text))
	}
	if code, text, err = f.cmd("USER anonymous"); err != nil || code != 331 && code != 230 {
		return fail(fmt.Errorf("USER: %d %q %v", code, text, err))
	}
	if code == 331 {
		if code, text, err = f.cmd("PASS abuse@example.org"); err != nil || code != 230 {
			return fail(fmt.Errorf("PASS: %d %q %v", code, text, err))
		}
	}
	return f, nil
}

// pasv sends PASV and returns the address the reply gives.
func (f *ftpConn) pasv() (string, error) {
	code, text, err := f.cmd("PASV")
	if err != nil {
		return "", err
	}
	if code != 227 {
		return "", fmt.Errorf("PASV: %d %q", code, text)
	}
	i, j := strings.IndexByte(text, '('), strings.IndexByte(text, ')')
	if i < 0 || j < i {
		return "", fmt.Errorf("PASV reply %q", text)
	}
	var h [6]int
	if _, err := fmt.Sscanf(text[i+1:j], "%d,%d,%d,%d,%d,%d", &h[0], &h[1], &h[2], &h[3], &h[4], &h[5]); err != nil {
		return "", fmt.Errorf("PASV reply %q", text)
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", h[0], h[1], h[2], h[3], h[4]<<8|h[5]), nil
}

// retr fetches path over a passive data connection from src.
func (f *ftpConn) retr(ctx context.Context, src netip.Addr, path string) ([]byte, int, error) {
	daddr, err := f.pasv()
	if err != nil {
		return nil, 0, err
	}
	d, err := dialFrom(ctx, src, daddr, probeTimeout)
	if err != nil {
		return nil, 0, err
	}
	defer d.Close()
	if dl, ok := ctx.Deadline(); ok {
		d.SetDeadline(dl)
	}
	code, text, err := f.cmd("RETR " + path)
	if err != nil {
		return nil, 0, err
	}
	if code != 150 && code != 125 {
		return nil, code, fmt.Errorf("RETR %s: %d %q", path, code, text)
	}
	body, err := io.ReadAll(io.LimitReader(d, 1<<20))
	if err != nil {
		return nil, 0, err
	}
	code, text, err = f.reply()
	if err != nil {
		return body, 0, err
	}
	if code != 226 && code != 250 {
		return body, code, fmt.Errorf("after RETR: %d %q", code, text)
	}
	return body, code, nil
}

func probeFTP(ctx context.Context, src netip.Addr, addr string) error {
	f, err := ftpLogin(ctx, src, addr)
	if err != nil {
		return err
	}
	defer f.c.Close()
	if code, text, err := f.cmd("TYPE I"); err != nil || code != 200 {
		return fmt.Errorf("TYPE I: %d %q %v", code, text, err)
	}
	body, _, err := f.retr(ctx, src, "/pub/file")
	if err != nil {
		return err
	}
	if len(body) != 4096 {
		return fmt.Errorf("RETR gave %d bytes, want 4096", len(body))
	}
	f.cmd("QUIT")
	return nil
}

// ftpPasvFlood: sessions from 127.0.0.1 each sending PASV over and over
// (every one opens a listener the server must close when the next
// replaces it), while fresh clients probe. The server's descriptors must
// stay bounded (about one listener per session) and come back after.
func (r *runner) ftpPasvFlood() []row {
	srv, err := r.env.applayerFTP()
	if err != nil {
		return failed("ftp-pasv-flood", "applayer", err)
	}
	defer srv.stop()
	const sessions, per = 20, 500
	rw := row{attack: "ftp-pasv-flood", server: "applayer", target: time.Second,
		sent: fmt.Sprintf("%d sessions from 127.0.0.1 sending %d PASV each (%d in all)", sessions, per, sessions*per)}
	probeFTP(context.Background(), fresh, srv.addr)
	pids := srv.pids()
	rw.rssBefore = rssKiB(pids)
	fdBefore := fdCount(pids)
	var ok, bad atomic.Int64
	var maxFD atomic.Int64
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		fin := make(chan struct{}, sessions)
		for range sessions {
			go func() {
				defer func() { fin <- struct{}{} }()
				f, err := ftpLogin(ctx, attacker, srv.addr)
				if err != nil {
					bad.Add(1)
					return
				}
				defer f.c.Close()
				for range per {
					if code, _, err := f.cmd("PASV"); err != nil {
						bad.Add(1)
						return
					} else if code == 227 {
						ok.Add(1)
					} else {
						bad.Add(1)
					}
				}
				// Hold the session (and its last listener) until the probes end.
				<-stop
			}()
		}
		for range sessions {
			<-fin
		}
	}()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n := int64(fdCount(srv.pids())); n > maxFD.Load() {
					maxFD.Store(n)
				}
			}
		}
	}()
	pr := runProbes(probeFTP, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold)
	rw.probes = &pr
	rw.rssHeld = rssKiB(srv.pids())
	close(stop)
	<-done
	time.Sleep(time.Second)
	rw.rssAfter = rssKiB(srv.pids())
	fdAfter := fdCount(srv.pids())
	rw.note = fmt.Sprintf("227 answers %d, other %d; server descriptors %d before, peak %d, %d after", ok.Load(), bad.Load(), fdBefore, maxFD.Load(), fdAfter)
	if m := maxFD.Load(); m > int64(fdBefore+3*sessions+r.cfg.Tries+20) {
		rw.problems = append(rw.problems, fmt.Sprintf("descriptors grew to %d (from %d) for %d sessions", m, fdBefore, sessions))
	}
	if fdAfter > fdBefore+5 {
		rw.problems = append(rw.problems, fmt.Sprintf("%d descriptors after, %d before", fdAfter, fdBefore))
	}
	return []row{rw}
}

// ftpDataNever: PASV then RETR, and the data connection never comes. The
// server (run with --data-timeout 3s) must answer 425 and close the
// listener; the session must go on (NOOP answered).
func (r *runner) ftpDataNever() []row {
	srv, err := r.env.applayerFTP("--data-timeout", "3s")
	if err != nil {
		return failed("ftp-data-never", "applayer", err)
	}
	defer srv.stop()
	const sessions = 50
	rw := row{attack: "ftp-data-never", server: "applayer", target: time.Second,
		sent: fmt.Sprintf("%d sessions: PASV, RETR, no data connection (server --data-timeout 3s)", sessions)}
	probeFTP(context.Background(), fresh, srv.addr)
	pids := srv.pids()
	rw.rssBefore = rssKiB(pids)
	fdBefore := fdCount(pids)
	codes := make(chan string, sessions)
	for range sessions {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f, err := ftpLogin(ctx, attacker, srv.addr)
			if err != nil {
				codes <- "login: " + err.Error()
				return
			}
			defer f.c.Close()
			if _, err := f.pasv(); err != nil {
				codes <- err.Error()
				return
			}
			code, _, err := f.cmd("RETR /pub/file")
			if err != nil {
				codes <- "RETR: " + err.Error()
				return
			}
			if code == 150 || code == 125 {
				code, _, err = f.reply()
			}
			if err != nil {
				codes <- "after RETR: " + err.Error()
				return
			}
			if n, _, err := f.cmd("NOOP"); err != nil || n != 200 {
				codes <- fmt.Sprintf("%d, then NOOP %d %v", code, n, err)
				return
			}
			codes <- strconv.Itoa(code)
		}()
	}
	pr := runProbes(probeFTP, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold)
	rw.probes = &pr
	rw.rssHeld = rssKiB(srv.pids())
	seen := map[string]int{}
	for range sessions {
		seen[<-codes]++
	}
	time.Sleep(time.Second)
	rw.rssAfter = rssKiB(srv.pids())
	fdAfter := fdCount(srv.pids())
	rw.note = fmt.Sprintf("replies %v; descriptors %d before, %d after", seen, fdBefore, fdAfter)
	if seen["425"] != sessions {
		rw.problems = append(rw.problems, fmt.Sprintf("%d of %d got 425 and NOOP 200", seen["425"], sessions))
	}
	if fdAfter > fdBefore+5 {
		rw.problems = append(rw.problems, fmt.Sprintf("%d descriptors after, %d before", fdAfter, fdBefore))
	}
	return []row{rw}
}

// ftpBounce: PORT and EPRT naming a third address (127.0.0.9, where a
// listener counts connections), then LIST and RETR. Each must be refused
// and the third address never dialled.
func (r *runner) ftpBounce() []row {
	srv, err := r.env.applayerFTP()
	if err != nil {
		return failed("ftp-bounce", "applayer", err)
	}
	defer srv.stop()
	victim, err := net.Listen("tcp", "127.0.0.9:0")
	if err != nil {
		return failed("ftp-bounce", "applayer", err)
	}
	defer victim.Close()
	var reached atomic.Int64
	go func() {
		for {
			c, err := victim.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	vp := victim.Addr().(*net.TCPAddr).Port
	cmds := []string{
		fmt.Sprintf("PORT 127,0,0,9,%d,%d", vp>>8, vp&255),
		fmt.Sprintf("EPRT |1|127.0.0.9|%d|", vp),
		fmt.Sprintf("EPRT |2|::ffff:127.0.0.9|%d|", vp),
		fmt.Sprintf("PORT 127,0,0,1,0,%d", 25), // a privileged port on the client's own address
	}
	rw := row{attack: "ftp-bounce", server: "applayer",
		sent: fmt.Sprintf("PORT/EPRT to a third address 127.0.0.9 (and to port 25), each then LIST and RETR: %d commands", 2*len(cmds))}
	rw.rssBefore = rssKiB(srv.pids())
	var got []string
	for _, c := range cmds {
		for _, verb := range []string{"LIST /pub", "RETR /pub/file"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			f, err := ftpLogin(ctx, attacker, srv.addr)
			if err != nil {
				cancel()
				rw.problems = append(rw.problems, err.Error())
				continue
			}
			code, _, err := f.cmd(c)
			res := fmt.Sprintf("%s: %d", strings.Fields(c)[0], code)
			if err == nil && code/100 == 2 {
				code2, _, _ := f.cmd(verb)
				res += fmt.Sprintf(", %s %d", strings.Fields(verb)[0], code2)
				if code2 == 150 || code2 == 125 {
					f.reply()
				}
				if strings.Contains(c, "127,0,0,1,0,25") {
					// the client's own address: the server may accept PORT; it must not open a privileged port
					if code2 == 150 || code2 == 125 {
						rw.problems = append(rw.problems, "a data connection to port 25 was tried")
					}
				} else {
					rw.problems = append(rw.problems, c+" accepted")
				}
			}
			got = append(got, res)
			f.c.Close()
			cancel()
		}
	}
	time.Sleep(500 * time.Millisecond)
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("replies: %s; connections reaching 127.0.0.9: %d", strings.Join(dedupe(got), "; "), reached.Load())
	if reached.Load() > 0 {
		rw.problems = append(rw.problems, "the third address was dialled")
	}
	return []row{rw}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ftpEscape tries to read the secret file outside the root by every path
// an attacker would try; none may give it (550 or the file not found).
func (r *runner) ftpEscape() []row {
	srv, err := r.env.applayerFTP()
	if err != nil {
		return failed("ftp-path-escape", "applayer", err)
	}
	defer srv.stop()
	paths := []string{
		"../secret", "/../secret", "/pub/../../secret", "../../../../../../etc/passwd",
		"/pub/link", "pub/link", "/up/secret", "up/secret", "/pub/%2e%2e/%2e%2e/secret",
		"..\\secret", "/pub/./../.././secret", "//secret", "/pub/../up/secret",
		"~/../secret", "/pub\x00/../../secret",
	}
	rw := row{attack: "ftp-path-escape", server: "applayer",
		sent: fmt.Sprintf("RETR of %d escaping paths (.., absolute, encoded, backslash, NUL, symlinks to a file and a directory outside), CWD .. x20 then RETR secret", len(paths)+1)}
	rw.rssBefore = rssKiB(srv.pids())
	codes := map[int]int{}
	leaks := 0
	try := func(setup []string, path string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f, err := ftpLogin(ctx, attacker, srv.addr)
		if err != nil {
			rw.problems = append(rw.problems, err.Error())
			return
		}
		defer f.c.Close()
		for _, s := range setup {
			f.cmd(s)
		}
		body, code, err := f.retr(ctx, attacker, path)
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() {
			rw.problems = append(rw.problems, "timeout on "+strconv.Quote(path))
		}
		codes[code]++
		if strings.Contains(string(body), "secret outside") || strings.Contains(string(body), "root:") {
			leaks++
			rw.problems = append(rw.problems, "leaked by "+strconv.Quote(path))
		}
	}
	for _, p := range paths {
		try(nil, p)
	}
	var ups []string
	for range 20 {
		ups = append(ups, "CWD ..")
	}
	try(ups, "secret")
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("RETR replies %v (0: refused before RETR); leaks %d", codes, leaks)
	return []row{rw}
}
