package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals holds the flags every subcommand shares.
type globals struct {
	logLevel string
	trace    bool
	secrets  bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "applayer",
		Short: "The Internet's application layer: real servers and clients, and a lab that runs them",
		Long: `applayer implements the systems of a networking course's application-layer
chapter as real servers and clients that interoperate with everyday software,
and runs them together as a small Internet on loopback (applayer lab up).

Every server and client subcommand takes --trace, which prints the protocol
dialogue to stderr the way the textbook prints it (C: ... / S: ...).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: true,
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w%s (see '%s --help')", commandName(c), err, suggestFlag(c, err), c.CommandPath())
	})
	root.AddCommand(newVersionCmd(), newUpperCmd(g), newWebCmd(g), newDNSCmd(g), newMailCmd(g), newFTPCmd(g), newTorrentCmd(g), newDashCmd(g), newLabCmd(g))
	return root
}

// addTrace registers --trace (and --trace-secrets) on a server or client
// subcommand.
func (g *globals) addTrace(c *cobra.Command) {
	c.Flags().BoolVar(&g.trace, "trace", false, "print the protocol dialogue to stderr (C: client, S: server)")
	c.Flags().BoolVar(&g.secrets, "trace-secrets", false, "show passwords and tokens in the trace instead of <redacted>")
}

// recorder returns the transcript recorder the flags ask for, or nil.
func (g *globals) recorder(w io.Writer) *transcript.Recorder {
	if !g.trace {
		return nil
	}
	return transcript.New(transcript.NewTextSink(w)).ShowSecrets(g.secrets)
}

// logger returns a text logger on stderr at the chosen level.
func (g *globals) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// kills the process the default way.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		cancel() // restores default handling, so a second Ctrl-C kills
	}()
	return ctx, cancel
}

// exampleLines indents example command lines for cobra's Example field.
func exampleLines(lines ...string) string {
	return "  " + strings.Join(lines, "\n  ")
}

// commandName is the command's path without the root's name ("mail send"),
// the prefix of its error messages; main adds "applayer: " before it.
func commandName(c *cobra.Command) string {
	p := c.CommandPath()
	if r := c.Root(); r != c {
		p = strings.TrimPrefix(p, r.Name()+" ")
	}
	return p
}

// errorLine is how main prints an error from command c: one "applayer: "
// prefix, then the command's name unless the message already starts with
// its first word, and for a wrong number of arguments the usage line.
func errorLine(c *cobra.Command, err error) string {
	msg := err.Error()
	if c == nil || c == c.Root() {
		return "applayer: " + msg
	}
	name := commandName(c)
	first, _, _ := strings.Cut(name, " ")
	if !strings.HasPrefix(msg, first+":") && !strings.HasPrefix(msg, first+" ") {
		msg = name + ": " + msg
	}
	if strings.Contains(msg, " arg(s)") {
		msg += " (usage: " + c.UseLine() + ")"
	}
	return "applayer: " + msg
}

// namedArgs is a cobra.PositionalArgs for a command that takes exactly the
// arguments named, e.g. namedArgs("URL"): a missing one is named in the
// error.
func namedArgs(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return fmt.Errorf("missing %s (usage: %s)", strings.Join(names[len(args):], " and "), c.UseLine())
		case len(args) > len(names):
			return fmt.Errorf("too many arguments: want %s, got %q (usage: %s)", strings.Join(names, " "), args, c.UseLine())
		}
		return nil
	}
}

// suggestFlag returns "; did you mean --server?" for an unknown flag close
// to one the command has.
func suggestFlag(c *cobra.Command, err error) string {
	msg := err.Error()
	_, bad, ok := strings.Cut(msg, "unknown flag: --")
	if !ok {
		return ""
	}
	bad, _, _ = strings.Cut(bad, "=")
	best, bestD := "", 3
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(bad, f.Name)
		if strings.HasPrefix(f.Name, bad) && len(bad) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if best == "" {
		return ""
	}
	return "; did you mean --" + best + "?"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// limitFlags declares --max-conns and --max-conns-per-client, the limits
// every server takes from internal/lifecycle, with what it counts ("TCP
// connections", "sessions") and a note on where they apply.
func limitFlags(f *pflag.FlagSet, maxConns, perClient *int, what, where string) {
	f.IntVar(maxConns, "max-conns", lifecycle.DefaultMaxConns, "most "+what+" served at once"+where+" (-1: no limit)")
	f.IntVar(perClient, "max-conns-per-client", 0, "most "+what+" of one client address (IPv6: its /64) at once"+where+" (0: max-conns/8; -1: no limit)")
}
