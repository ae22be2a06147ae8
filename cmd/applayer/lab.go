package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/lab"
	"github.com/spf13/cobra"
)

func newLabCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run every applayer service together as a small Internet on loopback",
	}
	c.AddCommand(newLabUpCmd(g))
	return c
}

func newLabUpCmd(g *globals) *cobra.Command {
	var (
		basePort int
		dataDir  string
	)
	c := &cobra.Command{
		Use:   "up [--base-port N] [--data DIR] [--trace [SERVICE...]]",
		Short: "Start every service on loopback, print how to try each, and run until Ctrl-C",
		Long: `Start every service built so far on loopback addresses, print a table of
service, protocol, address and a command to try each, and run until Ctrl-C or
SIGTERM, then shut everything down gracefully. Started by 'go run', the lab
also stops when 'go run' does (kill %1 in the shell that started it).

Every port is the base port plus an offset (the protocol's well-known port
where it has one), so --base-port moves the whole lab.

--trace prints every service's protocol dialogue on stderr, each line
labelled with its service; names after it (a SERVICE column entry or a host
name: mail-crepes, mail.hamburger.edu, www.someschool.edu) trace only those.

The lab keeps its files in --data (default ~/.cache/applayer/lab): each
service's files (Maildirs, queues, certificates, passwords, the cookie demo's
database) in a directory of its own, emptied when the lab starts and kept
after it stops, and a copy of the applayer binary in DIR/bin, so that every
command in the TRY column runs as printed, from any directory.`,
		Example: exampleLines("go run ./cmd/applayer lab up", "go run ./cmd/applayer lab up --trace mail.hamburger.edu", "applayer lab up --base-port 20000 --trace"),
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && !g.trace {
				return fmt.Errorf("unexpected %q: service names go with --trace (lab up --trace %s)", args, strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			stopWithParent()
			if dataDir == "" {
				if dataDir, err = defaultLabDir(basePort); err != nil {
					return err
				}
			}
			if dataDir, err = filepath.Abs(dataDir); err != nil {
				return err
			}
			bin, err := labBinary(filepath.Join(dataDir, "bin"))
			if err != nil {
				return fmt.Errorf("lab up: a copy of the binary for the try lines: %w", err)
			}
			topo := lab.DefaultTopology()
			topo.BasePort = basePort
			l := &lab.Lab{Topology: topo, Logger: logger, Bin: bin, Dir: dataDir, TraceOnly: args, TraceSecrets: g.secrets}
			if g.trace {
				l.TraceSink = transcript.NewTextSink(os.Stderr)
			}
			ctx, cancel := signalContext()
			defer cancel()
			eps, err := l.Start(ctx)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			printTable(out, eps)
			fmt.Fprintf(out, "\nThe lab is up; its files are in %s. Ctrl-C stops it.\n", lab.ShowPath(dataDir))

			var runErr error
			select {
			case <-ctx.Done():
			case runErr = <-l.Err():
			}
			fmt.Fprintln(out, "Stopping the lab...")
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := l.Shutdown(sctx); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	c.Flags().IntVar(&basePort, "base-port", lab.DefaultBasePort, "every service's port is this plus its offset")
	c.Flags().StringVar(&dataDir, "data", "", "the lab's files (default ~/.cache/applayer/lab, or lab-BASE for another --base-port)")
	g.addTrace(c)
	return c
}

func printTable(out io.Writer, eps []lab.Endpoint) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPROTOCOL\tADDRESS\tTRY")
	for _, e := range eps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Service, e.Proto, e.Addr, e.Try)
	}
	tw.Flush()
}

// defaultLabDir is the user cache directory's applayer/lab, with the base
// port in the name when it is not the default one, so that two labs do not
// share files.
func defaultLabDir(base int) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lab up: no cache directory (%w): give --data DIR", err)
	}
	name := "lab"
	if base != lab.DefaultBasePort {
		name += "-" + strconv.Itoa(base)
	}
	return filepath.Join(dir, "applayer", name), nil
}

// labBinary returns how the try lines spell the applayer command: plain
// "applayer" when that is this binary on the PATH; else a copy of this
// binary in dir (a `go run` binary is deleted when go run exits), named by
// its path.
func labBinary(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if onPath, err := exec.LookPath("applayer"); err == nil && sameFile(onPath, self) {
		return "applayer", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "applayer")
	if sameFile(dst, self) {
		return lab.ShowPath(dst), nil
	}
	src, err := os.Open(self)
	if err != nil {
		return "", err
	}
	defer src.Close()
	// A rename, not a rewrite: a try line running the old copy keeps it.
	tmp, err := atomicfile.Create(dst, 0o755)
	if err != nil {
		return "", err
	}
	defer tmp.Discard()
	if _, err := io.Copy(tmp, src); err != nil {
		return "", err
	}
	if err := tmp.Commit(); err != nil {
		return "", err
	}
	return lab.ShowPath(dst), nil
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
