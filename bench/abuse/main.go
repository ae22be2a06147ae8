//go:build linux

// Command abuse is applayer's abuse suite: the attacks of issue 24, each
// bounded in count and time and on loopback only, run against every
// applayer server as a separate process (`applayer web serve`, `mail
// serve`, `dns serve`, `upper serve`), with nginx and a private Postfix
// as references in the same run. It prints one line per attack: what was
// sent, whether fresh clients were still served (p50 and p99 of their
// tries), the server's RSS before, while holding and after, and its memory
// per held connection.
//
// Attack connections come from 127.0.0.1 (and, in the "spread" variant of
// each exhaustion attack, from -spread addresses 127.0.1.1, 127.0.1.2, ...,
// so that the per-client limit does not stop them and the server's total
// limit and idle eviction are what is tested); fresh clients come from
// 127.0.0.2. The attacks:
//
//   - connection exhaustion: -conns silent or idle connections (SMTP
//     silent, HTTP idle keep-alive after one request, DNS over TCP silent,
//     upper TCP silent), renewed when the server closes them, and
//     slowloris (a request head that never ends);
//   - SMTP pregreet: clients that talk before the greeting (postscreen's
//     test), which the mail exchanger must drop;
//   - SMTP smuggling: a message whose body holds a false end of data
//     (<LF>.<LF>, <CR>.<CR>, ...) followed by a second transaction; the
//     server must neither run the second transaction nor store a bare CR
//     or LF;
//   - password guessing: -guesses parallel sessions each trying a wrong
//     password with AUTH PLAIN on the submission port; the back-off must
//     hold (few checked within 5 s), and the real user's login afterwards
//     is reported;
//   - DNS ANY over UDP: the amplification ratio (answer bytes over query
//     bytes) of ANY beside that of the apex's TXT set;
//   - kill -9 chaos: -chaos-messages messages from -chaos-senders senders
//     while the mail server is killed -chaos-kills times (internal/
//     mailchaos); no acknowledged message may be lost.
//
// Usage (from the repository root; as root for the private Postfix):
//
//	go run ./bench/abuse                   # everything
//	go run ./bench/abuse -only 'smtp|chaos' -conns 4200
//	go run ./bench/abuse -list
//
// Held connections are counted on the server's side (the established
// sockets on its port that its processes hold, from /proc), memory is
// VmRSS (and, for several processes, the summed Pss) from /proc.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Config is one run of the suite.
type Config struct {
	Bin          string         // applayer binary; empty: build it
	Only         *regexp.Regexp // attacks whose "name/server" matches; nil: all
	Conns        int            // connections per exhaustion attack
	Spread       int            // source addresses of the spread variant; 0: none
	Tries        int            // fresh-client tries per attack
	Hold         time.Duration  // how long the fresh clients' tries are spread over
	Talkers      int            // SMTP pregreet talkers
	Guesses      int            // parallel password guesses
	ChaosMsgs    int
	ChaosSenders int
	ChaosKills   int
	MemConns     int  // connections of the memory variant (spread, below the limits, not renewed); 0: none
	PostfixProcs int  // Postfix's default_process_limit
	NoReference  bool // skip nginx and Postfix
	Keep         bool // keep the scratch directory (servers' logs and data)
}

func main() {
	var (
		cfg  Config
		only = flag.String("only", "", "run the attacks whose NAME/SERVER matches this regular expression (see -list)")
		list = flag.Bool("list", false, "list the attacks and exit")
	)
	flag.StringVar(&cfg.Bin, "bin", "", "applayer binary (default: build ./cmd/applayer)")
	flag.IntVar(&cfg.Conns, "conns", 4200, "connections held by each exhaustion attack")
	flag.IntVar(&cfg.Spread, "spread", 16, "source addresses (127.0.1.x) of each exhaustion attack's spread variant (0: no spread variant)")
	flag.IntVar(&cfg.MemConns, "mem-conns", 3000, "connections of each exhaustion attack's memory variant: spread, below the limits, not renewed (0: no memory variant)")
	flag.IntVar(&cfg.Tries, "tries", 20, "fresh-client tries (from 127.0.0.2) during each attack")
	flag.DurationVar(&cfg.Hold, "hold", 10*time.Second, "time the fresh-client tries are spread over, while the attack holds")
	flag.IntVar(&cfg.Talkers, "talkers", 200, "SMTP clients that talk before the greeting")
	flag.IntVar(&cfg.Guesses, "guesses", 50, "parallel sessions guessing a password with SMTP AUTH")
	flag.IntVar(&cfg.ChaosMsgs, "chaos-messages", 3000, "messages sent during the kill -9 chaos run")
	flag.IntVar(&cfg.ChaosSenders, "chaos-senders", 8, "senders of the chaos run")
	flag.IntVar(&cfg.ChaosKills, "chaos-kills", 10, "kill -9s of the mail server during the chaos run")
	flag.IntVar(&cfg.PostfixProcs, "postfix-procs", 100, "Postfix's default_process_limit (its default is 100)")
	flag.BoolVar(&cfg.NoReference, "no-reference", false, "do not run nginx and Postfix")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the scratch directory with the servers' logs and data, and print its name")
	flag.Parse()
	if *list {
		for _, a := range attacks(&runner{cfg: cfg}) {
			fmt.Printf("%s/%s\n", a.name, a.server)
		}
		return
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fatal("-only: %v", err)
		}
		cfg.Only = re
	}
	if _, err := Run(cfg, os.Stdout); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "abuse: "+format+"\n", args...)
	os.Exit(1)
}

// A row is one attack's line.
type row struct {
	attack, server string
	sent           string
	held, heldEnd  int // connections the server held after the attack's connects, at the end
	memHeld        int // the held count rssHeld and pssHeld were measured with
	probes         *probeResult
	target         time.Duration // p99 target for fresh clients; 0: none
	reference      bool          // nginx, Postfix: reported, not judged
	rssBefore      int64         // KiB
	rssHeld        int64
	rssAfter       int64
	pssBefore      int64
	pssHeld        int64
	note           string
	problems       []string // failures other than timing
}

// ok reports whether the row meets its targets.
func (r row) ok() bool {
	if len(r.problems) > 0 {
		return false
	}
	if r.probes != nil {
		if r.probes.served < r.probes.tries {
			return false
		}
		if r.target > 0 && r.probes.quantile(0.99) >= r.target {
			return false
		}
	}
	return true
}

func ms(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func (r row) String() string {
	cols := []string{r.attack, r.server, r.sent}
	if r.rssBefore > 0 && r.held+r.heldEnd > 0 || r.rssHeld > 0 {
		cols = append(cols, fmt.Sprintf("%d / %d", r.held, r.heldEnd))
	} else {
		cols = append(cols, "-")
	}
	if p := r.probes; p != nil {
		s := fmt.Sprintf("%d/%d, p50 %s, p99 %s", p.served, p.tries, ms(p.quantile(0.5)), ms(p.quantile(0.99)))
		if len(p.errs) > 0 {
			s += " (" + strings.Join(p.errs, "; ") + ")"
		}
		cols = append(cols, s)
	} else {
		cols = append(cols, "-")
	}
	if r.rssBefore > 0 {
		mem := fmt.Sprintf("%s / %s / %s", mib(r.rssBefore), mib(r.rssHeld), mib(r.rssAfter))
		if r.rssHeld == 0 {
			mem = mib(r.rssBefore) + " / - / " + mib(r.rssAfter)
		}
		cols = append(cols, mem)
	} else {
		cols = append(cols, "-")
	}
	if r.memHeld >= 50 && r.rssHeld > 0 {
		per := fmt.Sprintf("%.1f", float64(r.rssHeld-r.rssBefore)/float64(r.memHeld))
		if r.pssHeld > 0 && r.pssBefore > 0 && r.server == "postfix" {
			per += fmt.Sprintf(" (Pss %.1f)", float64(r.pssHeld-r.pssBefore)/float64(r.memHeld))
		}
		cols = append(cols, per)
	} else {
		cols = append(cols, "-")
	}
	verdict := "ok"
	switch {
	case r.reference:
		verdict = "reference"
		if len(r.problems) > 0 {
			verdict += ": " + strings.Join(r.problems, "; ")
		}
	case !r.ok():
		var why []string
		why = append(why, r.problems...)
		if p := r.probes; p != nil {
			if p.served < p.tries {
				why = append(why, fmt.Sprintf("%d fresh clients not served", p.tries-p.served))
			}
			if r.target > 0 && p.quantile(0.99) >= r.target {
				why = append(why, "p99 over "+ms(r.target))
			}
		}
		verdict = "FAIL: " + strings.Join(why, "; ")
	}
	if r.target > 0 {
		verdict += " (target p99 < " + ms(r.target) + ")"
	}
	if r.note != "" {
		verdict += "; " + r.note
	}
	cols = append(cols, verdict)
	return "| " + strings.Join(cols, " | ") + " |"
}

const header = "| attack | server | sent | held by the server (after the connects / at the end) | fresh clients from 127.0.0.2 served | RSS before / holding / after (MiB) | KiB per held connection | verdict |\n|---|---|---|---|---|---|---|---|"

// runner carries a run's state.
type runner struct {
	cfg Config
	env *env
	out io.Writer
}

type attack struct {
	name, server string
	run          func() []row
}

var (
	attacker = netip.MustParseAddr("127.0.0.1")
	fresh    = netip.MustParseAddr("127.0.0.2")
)

// spreadAddrs are the spread variant's sources: 127.0.1.1, 127.0.1.2, ...
func spreadAddrs(n int) []netip.Addr {
	var out []netip.Addr
	for i := range n {
		out = append(out, netip.AddrFrom4([4]byte{127, 0, 1 + byte(i/250), 1 + byte(i%250)}))
	}
	return out
}

// Run runs the attacks cfg selects and writes their lines to out; it
// returns the rows.
func Run(cfg Config, out io.Writer) ([]row, error) {
	cfg.Conns = max(cfg.Conns, 1)
	cfg.Tries = max(cfg.Tries, 1)
	limit, err := raiseNOFILE()
	if err != nil {
		return nil, fmt.Errorf("raising RLIMIT_NOFILE: %v", err)
	}
	if need := uint64(cfg.Conns + 500); limit < need {
		return nil, fmt.Errorf("RLIMIT_NOFILE is %d, below the %d the attacks need: raise the hard limit (ulimit -Hn)", limit, need)
	}
	dir, err := os.MkdirTemp("", "applayer-abuse")
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		fmt.Fprintf(out, "# scratch directory (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// nginx's workers and Postfix's daemons run as other users.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if cfg.Bin == "" {
		cfg.Bin = filepath.Join(dir, "applayer")
		if b, err := exec.Command("go", "build", "-o", cfg.Bin, "./cmd/applayer").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building applayer (run from the repository root, or give -bin): %v\n%s", err, b)
		}
	}
	r := &runner{cfg: cfg, env: &env{bin: cfg.Bin, dir: dir}, out: out}
	// Interrupted: kill the servers and remove the scratch directory.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	go func() {
		if _, ok := <-sigc; !ok {
			return
		}
		r.env.killAll()
		if !cfg.Keep {
			os.RemoveAll(dir)
		}
		os.Exit(1)
	}()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "# %s, %d connections per exhaustion attack, spread over %d addresses in the spread variant, %d fresh-client tries over %v; RLIMIT_NOFILE %d; load %s\n",
		time.Now().UTC().Format(time.RFC3339), cfg.Conns, cfg.Spread, cfg.Tries, cfg.Hold, limit, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintln(out, header)
	var rows []row
	for _, a := range attacks(r) {
		if cfg.Only != nil && !cfg.Only.MatchString(a.name+"/"+a.server) {
			continue
		}
		if cfg.NoReference && (a.server == "nginx" || a.server == "postfix") {
			continue
		}
		for _, rw := range a.run() {
			fmt.Fprintln(out, rw)
			rows = append(rows, rw)
		}
	}
	memorySummary(out, rows)
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "# done %s; load %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load))[:3], " "))
	return rows, nil
}

// memorySummary prints, per exhaustion attack, each server's memory per
// held connection, from the memory variant when there is one.
func memorySummary(out io.Writer, rows []row) {
	best := map[string]row{}
	var order []string
	for _, r := range rows {
		if r.memHeld < 50 || r.rssHeld == 0 {
			continue
		}
		k := r.attack + "\x00" + r.server
		// The memory variant when there is one: no churn.
		if b, ok := best[k]; !ok || strings.Contains(r.sent, "(memory)") && !strings.Contains(b.sent, "(memory)") {
			if !ok {
				order = append(order, k)
			}
			best[k] = r
		}
	}
	for _, k := range order {
		r := best[k]
		line := fmt.Sprintf("# memory per held connection, %s, %s: %.1f KiB RSS", r.attack, r.server, float64(r.rssHeld-r.rssBefore)/float64(r.memHeld))
		if r.server == "postfix" && r.pssHeld > 0 {
			line += fmt.Sprintf(", %.1f KiB Pss", float64(r.pssHeld-r.pssBefore)/float64(r.memHeld))
		}
		fmt.Fprintf(out, "%s (%d held; %s)\n", line, r.memHeld, r.sent)
	}
}

// failed is the row of an attack that could not run.
func failed(name, server string, err error) []row {
	return []row{{attack: name, server: server, sent: "-", problems: []string{"not run: " + err.Error()}}}
}

// exhaustion runs h from attacker (and from the spread addresses) against
// a fresh server each time, with fresh clients probing meanwhile.
func (r *runner) exhaustion(name, server string, start func() (*server, error), h holder, p probe, target time.Duration, reference bool) []row {
	type variant struct {
		srcs  []netip.Addr
		n     int
		renew bool
		desc  string
	}
	variants := []variant{{[]netip.Addr{attacker}, r.cfg.Conns, true, "from 127.0.0.1"}}
	if r.cfg.Spread > 0 {
		variants = append(variants, variant{spreadAddrs(r.cfg.Spread), r.cfg.Conns, true, fmt.Sprintf("from %d addresses", r.cfg.Spread)})
		if n := r.cfg.MemConns; n > 0 {
			// Below the limits, nothing evicted nor renewed: the memory a
			// held connection costs, without the churn of the attack.
			if reference && strings.Contains(name, "smtp") {
				n = min(n, r.cfg.PostfixProcs) // what Postfix can hold
			}
			variants = append(variants, variant{spreadAddrs(r.cfg.Spread), n, false, fmt.Sprintf("from %d addresses, not renewed (memory)", r.cfg.Spread)})
		}
	}
	var rows []row
	for _, v := range variants {
		srv, err := start()
		if err != nil {
			rows = append(rows, failed(name, server, err)...)
			continue
		}
		rw := row{attack: name, server: srv.name, target: target, reference: reference,
			sent: fmt.Sprintf("%d %s conns %s", v.n, h.what, v.desc)}
		// One untimed try first: the mail exchanger makes an address it
		// has not seen wait a second for its greeting once.
		p(context.Background(), fresh, srv.addr)
		time.Sleep(500 * time.Millisecond)
		pids := srv.pids()
		rw.rssBefore, rw.pssBefore = rssKiB(pids), pssKiB(pids)
		f := startFlood(srv.addr, v.srcs, v.n, h, v.renew)
		if !f.ready(60 * time.Second) {
			rw.problems = append(rw.problems, "the attack's connections were not all tried within 60 s")
		}
		time.Sleep(time.Second) // let the server settle on what it holds
		pids = srv.pids()
		rw.held = heldConns(pids, srv.port())
		rw.rssHeld, rw.pssHeld = rssKiB(pids), pssKiB(pids)
		pr := runProbes(p, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold)
		rw.probes = &pr
		pids = srv.pids()
		rw.heldEnd = heldConns(pids, srv.port())
		rw.memHeld = rw.held
		// Memory per connection from the moment that held more (Postfix
		// forks its smtpd processes at a bounded rate).
		if rss, pss := rssKiB(pids), pssKiB(pids); rw.heldEnd > rw.held {
			rw.memHeld, rw.rssHeld, rw.pssHeld = rw.heldEnd, rss, pss
		}
		f.stop()
		rw.note = f.summary()
		time.Sleep(2 * time.Second)
		rw.rssAfter = rssKiB(srv.pids())
		srv.stop()
		rows = append(rows, rw)
	}
	return rows
}

func attacks(r *runner) []attack {
	e := r.env
	second := time.Second
	var a []attack
	add := func(name, server string, run func() []row) {
		a = append(a, attack{name, server, run})
	}
	add("smtp-silent", "applayer", func() []row {
		return r.exhaustion("smtp-silent", "applayer", e.applayerMail, silent, probeSMTP, second, false)
	})
	add("smtp-silent", "postfix", func() []row {
		return r.exhaustion("smtp-silent", "postfix", func() (*server, error) { return e.postfix(r.cfg.PostfixProcs) }, silent, probeSMTP, second, true)
	})
	add("http-idle", "applayer", func() []row {
		return r.exhaustion("http-idle", "applayer", e.applayerWeb, httpIdle, probeHTTP, second, false)
	})
	add("http-idle", "nginx", func() []row {
		return r.exhaustion("http-idle", "nginx", e.nginx, httpIdle, probeHTTP, second, true)
	})
	add("http-slowloris", "applayer", func() []row {
		return r.exhaustion("http-slowloris", "applayer", e.applayerWeb, slowloris, probeHTTP, second, false)
	})
	add("http-slowloris", "nginx", func() []row {
		return r.exhaustion("http-slowloris", "nginx", e.nginx, slowloris, probeHTTP, second, true)
	})
	add("dns-tcp-silent", "applayer", func() []row {
		return r.exhaustion("dns-tcp-silent", "applayer", e.applayerDNS, silent, probeDNSTCP, second, false)
	})
	add("upper-tcp-silent", "applayer", func() []row {
		return r.exhaustion("upper-tcp-silent", "applayer", e.applayerUpper, silent, probeUpper, 0, false)
	})
	add("smtp-pregreet", "applayer", func() []row { return r.pregreet(e.applayerMail, false) })
	add("smtp-pregreet", "postfix", func() []row {
		return r.pregreet(func() (*server, error) { return e.postfix(r.cfg.PostfixProcs) }, true)
	})
	add("smtp-smuggling", "applayer", func() []row { return r.smuggling(e.applayerMail, "alice@crepes.fr", false) })
	add("smtp-smuggling", "postfix", func() []row {
		return r.smuggling(func() (*server, error) { return e.postfix(r.cfg.PostfixProcs) }, "bench@example.org", true)
	})
	add("smtp-auth-guess", "applayer", r.authGuess)
	add("dns-any-udp", "applayer", r.dnsAny)
	add("mail-kill9-chaos", "applayer", r.chaos)
	return append(a, registered(r)...)
}
