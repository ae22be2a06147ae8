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

	"github.com/applayer/applayer/internal/transcript"
	"github.com/spf13/cobra"
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
		return fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(newVersionCmd(), newUpperCmd(g), newWebCmd(g), newDNSCmd(g), newMailCmd(g), newLabCmd(g))
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
