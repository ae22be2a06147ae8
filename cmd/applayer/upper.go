package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/applayer/applayer/upper"
	"github.com/spf13/cobra"
)

func newUpperCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "upper",
		Short: "The textbook's socket apps: a server that answers sentences in upper case, over UDP and TCP",
	}
	c.AddCommand(newUpperServeCmd(g), newUpperSendCmd(g))
	return c
}

func newUpperServeCmd(g *globals) *cobra.Command {
	var (
		useUDP, useTCP bool
		srv            upper.Server
	)
	c := &cobra.Command{
		Use:   "serve [--udp] [--tcp] [--listen ADDR]",
		Short: "Run the uppercase server (UDP and TCP unless one is chosen)",
		Long: `Run the uppercase server. Each UDP datagram is answered with its content in
upper case; each TCP client gets back, as a stream, the upper case of whatever
it sends, until it closes. UTF-8 aware; bytes that are not UTF-8 pass through.`,
		Example: exampleLines(
			"applayer upper serve",
			"applayer upper serve --tcp --listen 127.0.0.1:12001 --trace",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			switch {
			case useUDP && !useTCP:
				srv.Network = "udp"
			case useTCP && !useUDP:
				srv.Network = "tcp"
			}
			srv.Logger = logger
			srv.Trace = g.recorder(os.Stderr)
			return serveUntilSignal(srv.ListenAndServe, srv.Shutdown, upper.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.BoolVar(&useUDP, "udp", false, "serve UDP")
	f.BoolVar(&useTCP, "tcp", false, "serve TCP")
	f.StringVarP(&srv.Addr, "listen", "l", upper.DefaultAddr, "address to listen on")
	f.MarkShorthandDeprecated("listen", "use --listen, as every server does")
	f.DurationVar(&srv.IdleTimeout, "idle-timeout", 5*time.Minute, "drop a TCP client that sends nothing for this long")
	f.DurationVar(&srv.WriteTimeout, "write-timeout", 30*time.Second, "drop a TCP client that does not read its answers for this long")
	limitFlags(f, &srv.MaxConns, &srv.MaxConnsPerClient, "TCP connections", "")
	g.addTrace(c)
	return c
}

// serveUntilSignal runs serve until it fails or a signal arrives, then shuts
// down, giving work in flight up to ten seconds.
func serveUntilSignal(serve func() error, shutdown func(context.Context) error, closed error) error {
	ctx, cancel := signalContext()
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	err := shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, closed) && serr != nil {
		return serr
	}
	return err
}

func newUpperSendCmd(g *globals) *cobra.Command {
	var (
		useUDP, useTCP bool
		server         string
		timeout        time.Duration
		retries        int
		count          int
		interval       time.Duration
	)
	c := &cobra.Command{
		Use:   "send [--udp|--tcp] [--server HOST:PORT] [SENTENCE...]",
		Short: "Send sentences to an uppercase server and print the answers",
		Long: `Send a sentence to an uppercase server and print the answer.

With words on the command line, they are sent as one sentence. Without, the
client is interactive like the textbook's: it prompts "Input lowercase
sentence:", and "end" or the end of input quits.

UDP (the default) is unreliable: the client waits --timeout for each answer,
resends up to --retries times, says when a datagram was lost, and prints each
exchange's round-trip time on stderr. --count N sends the sentence N times,
--interval apart, and ends with a ping-like summary; each datagram then
carries " #SEQ" after the sentence so that a late answer is told apart.

TCP sends the sentence, half-closes the connection and prints everything that
comes back; interactive TCP keeps one connection and sends a line at a time.`,
		Example: exampleLines(
			"applayer upper send hello world",
			"applayer upper send --tcp --server 127.0.0.1:12000 'a sentence'",
			"applayer upper send --count 10 --interval 200ms ping",
			"applayer upper send            # interactive",
		),
		RunE: func(c *cobra.Command, args []string) error {
			if useUDP && useTCP {
				return errors.New("upper send: choose one of --udp and --tcp")
			}
			if count < 0 || retries < 0 {
				return errors.New("upper send: --count and --retries must not be negative")
			}
			if count > 0 && len(args) == 0 {
				args = []string{"ping"}
			}
			ctx, cancel := signalContext()
			defer cancel()
			s := &sender{
				out: c.OutOrStdout(), info: c.ErrOrStderr(), server: server,
				timeout: timeout, retries: retries, g: g,
			}
			switch {
			case useTCP && len(args) > 0:
				return s.tcpOnce(ctx, strings.Join(args, " "))
			case useTCP:
				return s.tcpInteractive(ctx, c.InOrStdin())
			case count > 0:
				return s.udpCount(ctx, strings.Join(args, " "), count, interval)
			case len(args) > 0:
				return s.udpOnce(ctx, strings.Join(args, " "))
			default:
				return s.udpInteractive(ctx, c.InOrStdin())
			}
		},
	}
	f := c.Flags()
	f.BoolVar(&useUDP, "udp", false, "use UDP (the default)")
	f.BoolVar(&useTCP, "tcp", false, "use TCP")
	f.StringVarP(&server, "server", "s", upper.DefaultAddr, "server address, HOST:PORT")
	f.MarkShorthandDeprecated("server", "use --server, as every client does")
	f.DurationVar(&timeout, "timeout", upper.DefaultUDPTimeout, "UDP: how long to wait for each answer; TCP: for the whole exchange (10s when unset)")
	f.IntVar(&retries, "retries", 2, "UDP: how many times to resend an unanswered datagram")
	f.IntVarP(&count, "count", "c", 0, "UDP: send the sentence this many times and print a summary")
	f.DurationVarP(&interval, "interval", "i", time.Second, "UDP: pause between datagrams with --count")
	g.addTrace(c)
	return c
}

// sender holds one `upper send` run's settings.
type sender struct {
	out, info io.Writer
	server    string
	timeout   time.Duration
	retries   int
	g         *globals
}

const prompt = "Input lowercase sentence:"

// lines calls f for each sentence typed at the textbook's prompt, until
// "end", the end of input, or a signal.
func (s *sender) lines(ctx context.Context, in io.Reader, f func(string) error) error {
	interactive := isTerminal(in)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), upper.MaxDatagram)
	for {
		if interactive {
			fmt.Fprint(s.out, prompt+" ")
		}
		if !sc.Scan() {
			return sc.Err()
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "end" {
			return nil
		}
		if err := f(line); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (s *sender) udpOnce(ctx context.Context, sentence string) error {
	conn, err := upper.DialUDP(ctx, s.server, upper.Options{Trace: s.g.recorder(s.info)})
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.udpExchange(ctx, conn, sentence)
}

func (s *sender) udpExchange(ctx context.Context, conn *upper.UDPConn, sentence string) error {
	ans, attempts, err := conn.Exchange(ctx, []byte(sentence), s.timeout, s.retries)
	for i, a := range attempts {
		switch {
		case a.Lost && i < len(attempts)-1 || a.Lost && err == nil:
			fmt.Fprintf(s.info, "no answer within %v: datagram lost; resending\n", s.timeout)
		case a.Lost:
			fmt.Fprintf(s.info, "no answer within %v: datagram lost\n", s.timeout)
		}
	}
	if err != nil {
		if errors.Is(err, upper.ErrTimeout) {
			return fmt.Errorf("no answer from %s after %d attempts", s.server, len(attempts))
		}
		return err
	}
	fmt.Fprintln(s.out, string(ans))
	fmt.Fprintf(s.info, "rtt %s\n", upper.FormatRTT(attempts[len(attempts)-1].RTT))
	return nil
}

func (s *sender) udpInteractive(ctx context.Context, in io.Reader) error {
	conn, err := upper.DialUDP(ctx, s.server, upper.Options{Trace: s.g.recorder(s.info)})
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.lines(ctx, in, func(line string) error {
		err := s.udpExchange(ctx, conn, line)
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(s.info, err) // a lost sentence is no reason to quit
			return nil
		}
		return err
	})
}

func (s *sender) udpCount(ctx context.Context, sentence string, count int, interval time.Duration) error {
	conn, err := upper.DialUDP(ctx, s.server, upper.Options{Trace: s.g.recorder(s.info)})
	if err != nil {
		return err
	}
	defer conn.Close()
	var st upper.Stats
	fmt.Fprintf(s.out, "UPPER %s: %q, %d datagrams\n", s.server, sentence, count)
	for seq := 1; seq <= count && ctx.Err() == nil; seq++ {
		if seq > 1 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		payload := fmt.Sprintf("%s #%d", sentence, seq)
		ans, attempts, err := conn.Exchange(ctx, []byte(payload), s.timeout, 0)
		for _, a := range attempts {
			st.Add(a)
		}
		switch {
		case errors.Is(err, upper.ErrTimeout):
			fmt.Fprintf(s.out, "seq=%d lost (no answer within %v)\n", seq, s.timeout)
		case err != nil && ctx.Err() != nil:
		case err != nil:
			return err
		default:
			fmt.Fprintf(s.out, "%d bytes from %s: seq=%d rtt=%s %q\n", len(ans), s.server, seq, upper.FormatRTT(attempts[0].RTT), ans)
		}
	}
	fmt.Fprintf(s.out, "--- %s upper statistics ---\n%s\n", s.server, st.String())
	if conn.Late > 0 {
		fmt.Fprintf(s.out, "%d late answers discarded\n", conn.Late)
	}
	return nil
}

func (s *sender) tcpTimeout() time.Duration {
	if s.timeout == upper.DefaultUDPTimeout {
		return 10 * time.Second
	}
	return s.timeout
}

func (s *sender) tcpOnce(ctx context.Context, sentence string) error {
	ctx, cancel := context.WithTimeout(ctx, s.tcpTimeout())
	defer cancel()
	start := time.Now()
	ans, err := upper.SendTCP(ctx, s.server, []byte(sentence), upper.Options{Trace: s.g.recorder(s.info)})
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, string(ans))
	fmt.Fprintf(s.info, "connection and exchange took %s\n", upper.FormatRTT(time.Since(start)))
	return nil
}

func (s *sender) tcpInteractive(ctx context.Context, in io.Reader) error {
	conn, err := upper.DialTCP(ctx, s.server, upper.Options{Trace: s.g.recorder(s.info)})
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.lines(ctx, in, func(line string) error {
		lctx, cancel := context.WithTimeout(ctx, s.tcpTimeout())
		defer cancel()
		ans, err := conn.Line(lctx, line)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.out, "From Server:", ans)
		return nil
	})
}
