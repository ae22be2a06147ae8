package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/applayer/applayer/ftp"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const ftpShellHelp = `commands:
  open URL            connect and log in (ftp://[user[:password]@]host[:port]/)
  user NAME [PASS]    log in again as NAME on the same server
  ls [DIR]            list (MLSD or LIST)        dir [DIR]  the server's LIST as sent
  cd DIR, pwd         change and show the remote directory
  lcd DIR             change the local directory
  get REMOTE [LOCAL]  download (resumes a partial LOCAL with "reget")
  reget REMOTE [LOCAL]
  put LOCAL [REMOTE]  upload
  mget PATTERN...     download the files matching (path.Match patterns)
  mput PATTERN...     upload the local files matching
  mkdir DIR, rmdir DIR, delete FILE, rename FROM TO, size FILE
  passive, active     data connections from the client (EPSV/PASV) or the server (EPRT/PORT)
  binary, ascii       TYPE I, or TYPE A with line endings converted
  quote LINE          send a raw command and print the reply
  close, quit`

// ftpShell is the interactive client: one line a command, with line
// editing and history on a terminal.
func ftpShell(c *cobra.Command, g *globals, cf *ftpClientFlags, first string) error {
	in := c.InOrStdin()
	out := c.OutOrStdout()
	var readLine func() (string, error)
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return err
		}
		defer term.Restore(int(f.Fd()), old)
		t := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{f, os.Stdout}, "ftp> ")
		out = t
		readLine = t.ReadLine
	} else {
		sc := bufio.NewScanner(in)
		readLine = func() (string, error) {
			if !sc.Scan() {
				if sc.Err() != nil {
					return "", sc.Err()
				}
				return "", io.EOF
			}
			return sc.Text(), nil
		}
	}
	sh := &ftpSh{c: c, g: g, cf: cf, out: out}
	ctx, cancel := signalContext()
	defer cancel()
	if err := sh.open(ctx, first); err != nil {
		fmt.Fprintln(out, "error:", err)
	}
	defer sh.close()
	for {
		line, err := readLine()
		if err != nil {
			return nil
		}
		args := strings.Fields(line)
		if len(args) == 0 {
			continue
		}
		if args[0] == "quit" || args[0] == "bye" || args[0] == "exit" {
			return nil
		}
		if err := sh.run(ctx, args); err != nil {
			fmt.Fprintln(out, "error:", err)
		}
	}
}

type ftpSh struct {
	c    *cobra.Command
	g    *globals
	cf   *ftpClientFlags
	out  io.Writer
	conn *ftp.Conn
	u    ftpURL
}

func (sh *ftpSh) open(ctx context.Context, raw string) error {
	if !strings.Contains(raw, "://") {
		raw = "ftp://" + raw
	}
	u, err := parseFTPURL(raw)
	if err != nil {
		return err
	}
	sh.close()
	conn, err := sh.cf.dial(ctx, sh.g, u)
	if err != nil {
		return err
	}
	sh.conn, sh.u = conn, u
	fmt.Fprintf(sh.out, "connected to %s: %s\n", u.addr, conn.Greeting.Text)
	if u.path != "" {
		return conn.Cwd(ctx, u.path)
	}
	return nil
}

func (sh *ftpSh) close() {
	if sh.conn != nil {
		sh.conn.Quit()
		sh.conn = nil
	}
}

func (sh *ftpSh) run(ctx context.Context, args []string) error {
	cmd, rest := args[0], args[1:]
	need := func(n int) error {
		if len(rest) < n {
			return fmt.Errorf("%s: missing argument (help lists the commands)", cmd)
		}
		return nil
	}
	switch cmd {
	case "help", "?":
		fmt.Fprintln(sh.out, ftpShellHelp)
		return nil
	case "open":
		if err := need(1); err != nil {
			return err
		}
		return sh.open(ctx, rest[0])
	case "lcd":
		if err := need(1); err != nil {
			return err
		}
		return os.Chdir(rest[0])
	}
	if sh.conn == nil {
		return errors.New("not connected (open URL)")
	}
	conn := sh.conn
	switch cmd {
	case "close":
		sh.close()
	case "user":
		if err := need(1); err != nil {
			return err
		}
		u := sh.u
		u.user, u.pass = rest[0], ""
		if len(rest) > 1 {
			u.pass = rest[1]
		}
		sh.close()
		conn, err := sh.cf.dial(ctx, sh.g, u)
		if err != nil {
			return err
		}
		sh.conn, sh.u = conn, u
	case "ls":
		entries, err := conn.List(ctx, strings.Join(rest, " "))
		if err != nil {
			return err
		}
		printEntries(sh.out, entries)
	case "dir":
		text, err := conn.ListRaw(ctx, strings.Join(rest, " "), false)
		if err != nil {
			return err
		}
		io.WriteString(sh.out, strings.ReplaceAll(text, "\r\n", "\n"))
	case "cd":
		if err := need(1); err != nil {
			return err
		}
		return conn.Cwd(ctx, strings.Join(rest, " "))
	case "pwd":
		p, err := conn.Pwd(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(sh.out, p)
	case "get", "reget":
		if err := need(1); err != nil {
			return err
		}
		local := path.Base(rest[0])
		if len(rest) > 1 {
			local = rest[1]
		}
		return getFile(ctx, sh.c, conn, rest[0], local, cmd == "reget")
	case "put":
		if err := need(1); err != nil {
			return err
		}
		remote := filepath.Base(rest[0])
		if len(rest) > 1 {
			remote = rest[1]
		}
		return putFile(ctx, conn, rest[0], remote)
	case "mget":
		if err := need(1); err != nil {
			return err
		}
		entries, err := conn.List(ctx, "")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type != "file" || !matchAny(rest, e.Name) || strings.ContainsAny(e.Name, "/\\") {
				continue
			}
			if err := getFile(ctx, sh.c, conn, e.Name, e.Name, false); err != nil {
				return fmt.Errorf("%s: %w", e.Name, err)
			}
			fmt.Fprintln(sh.out, "got", e.Name)
		}
	case "mput":
		if err := need(1); err != nil {
			return err
		}
		for _, pat := range rest {
			files, _ := filepath.Glob(pat)
			for _, f := range files {
				if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
					continue
				}
				if err := putFile(ctx, conn, f, filepath.Base(f)); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				fmt.Fprintln(sh.out, "put", f)
			}
		}
	case "mkdir":
		if err := need(1); err != nil {
			return err
		}
		return conn.Mkdir(ctx, rest[0])
	case "rmdir":
		if err := need(1); err != nil {
			return err
		}
		return sh.quote(ctx, "RMD "+rest[0], 250)
	case "delete", "rm":
		if err := need(1); err != nil {
			return err
		}
		return conn.Delete(ctx, rest[0])
	case "rename":
		if err := need(2); err != nil {
			return err
		}
		return conn.Rename(ctx, rest[0], rest[1])
	case "size":
		if err := need(1); err != nil {
			return err
		}
		n, err := conn.Size(ctx, rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(sh.out, n)
	case "passive":
		conn.SetActive(false)
		fmt.Fprintln(sh.out, "passive mode (EPSV/PASV)")
	case "active":
		conn.SetActive(true)
		fmt.Fprintln(sh.out, "active mode (EPRT/PORT)")
	case "binary", "ascii":
		if err := conn.SetASCII(ctx, cmd == "ascii"); err != nil {
			return err
		}
		fmt.Fprintln(sh.out, cmd, "mode")
	case "quote":
		if err := need(1); err != nil {
			return err
		}
		r, err := conn.Cmd(ctx, strings.Join(rest, " "))
		if err != nil {
			return err
		}
		fmt.Fprintln(sh.out, r.String())
	default:
		return fmt.Errorf("unknown command %q (help lists them)", cmd)
	}
	return nil
}

func (sh *ftpSh) quote(ctx context.Context, line string, want int) error {
	r, err := sh.conn.Cmd(ctx, line)
	if err != nil {
		return err
	}
	fmt.Fprintln(sh.out, r.String())
	if r.Code != want {
		return &ftp.Error{Reply: r}
	}
	return nil
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func putFile(ctx context.Context, conn *ftp.Conn, local, remote string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = conn.Stor(ctx, remote, f, 0, false)
	return err
}
