// Package lab runs applayer's mini-Internet: every service built so far, on
// loopback addresses, in one process.
//
// The topology is data (a [Topology] of [Spec]s, with [DefaultTopology]
// built in), validated before anything starts. Each kind of service is a
// [Kind] registered in [Kinds]: a constructor from a Spec to a [Service]. A
// new protocol joins the lab by adding one Kind and its Specs to the default
// topology.
//
// Start runs in phases, so that a port conflict is found before anything is
// served and every service can learn the others' addresses: bind every
// service, then serve them all. Shutdown stops them in reverse order.
//
// Ports are the base port plus an offset (the protocol's well-known port
// where it has one: DNS is base+53, SMTP base+25; HTTP is base+8080, the
// HTTP alternate port, because browsers refuse base+80 = 10080), so that no
// service needs root and --base-port moves the whole lab. No default port
// is on the browsers' restricted list (see [RestrictedPorts]). Hosts differ by loopback address
// (127.0.0.0/8 needs no set-up on Linux).
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/transcript"
)

// DefaultBasePort is the base port of the default lab: the uppercase server
// sits at base+2000, the textbook's port 12000.
const DefaultBasePort = 10000

// Spec places one service in the topology.
type Spec struct {
	Name string // unique, e.g. "upper" or "dns-root"
	Kind string // key into Kinds
	Host string // a loopback IP address, e.g. "127.0.0.1" or "127.0.1.1"
	Port int    // offset added to the base port
	// Args carries kind-specific settings (a zone name, a mail domain).
	Args map[string]string
	// Records are resource records, in zone-file syntax with absolute
	// names ("mail.hamburger.edu. 300 IN A 127.0.25.2"), that the lab's
	// DNS serves so that other services find this one by name. The DNS
	// kinds place each record in the zone that contains its name.
	Records []string
}

// Topology is the whole lab.
type Topology struct {
	BasePort int
	Services []Spec
}

// Endpoint is one row of the table that `applayer lab up` prints.
type Endpoint struct {
	Service string // the Spec's name
	Proto   string // e.g. "upper/udp"
	Addr    string // host:port
	Try     string // one command line to try it
}

// A Service is one running server in the lab.
type Service interface {
	// Bind opens the service's sockets and reports its endpoints. It must
	// not serve yet.
	Bind(ctx context.Context) ([]Endpoint, error)
	// Serve serves until Shutdown; it returns nil or the protocol's
	// "server closed" error after Shutdown.
	Serve() error
	// Shutdown stops the service gracefully.
	Shutdown(ctx context.Context) error
}

// Env is what a Kind gets besides its Spec.
type Env struct {
	BasePort int
	Logger   *slog.Logger
	Trace    *transcript.Recorder
	// Bin is how "try" lines spell the applayer command.
	Bin string
	// Dir is the lab's data directory: each service keeps its files in a
	// directory of its own under it (emptied when the service starts, kept
	// after it stops), so that the paths the try lines print are short and
	// stay the same from one run to the next. Empty: each service uses a
	// temporary directory, removed at shutdown.
	Dir string
	// Lookup returns the address (host:port) of another service by Spec
	// name, so that services can find each other.
	Lookup func(name string) (string, bool)
	// Topology is the whole lab, for services that gather every Spec's
	// Records (the DNS servers).
	Topology Topology
	// AuthLimit is the lab's one login limiter, shared by every service
	// that checks passwords.
	AuthLimit *authlimit.Limiter
}

// ServiceDir returns a fresh, empty directory for a service's files: Dir/name,
// emptied, when the lab has a data directory; else a new temporary
// directory, and temp is true (the service removes it at shutdown).
func (env *Env) ServiceDir(name string) (dir string, temp bool, err error) {
	if env.Dir == "" {
		dir, err = os.MkdirTemp("", "applayer-lab-"+name+"-")
		return dir, true, err
	}
	dir = filepath.Join(env.Dir, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", false, err
	}
	return dir, false, os.MkdirAll(dir, 0o700)
}

// Addr returns the host:port of spec under env's base port.
func (env *Env) Addr(spec Spec) string {
	return net.JoinHostPort(spec.Host, strconv.Itoa(env.BasePort+spec.Port))
}

// A Kind builds a Service from its Spec.
type Kind func(spec Spec, env *Env) (Service, error)

// Kinds maps Spec.Kind to its constructor. Each protocol's file in this
// package adds itself here from an init function: the table is the only
// package-level state, and it is written only at start-up.
var Kinds = map[string]Kind{}

// DefaultTopology returns the built-in lab.
func DefaultTopology() Topology {
	return Topology{BasePort: DefaultBasePort, Services: append([]Spec(nil), defaultSpecs...)}
}

// defaultSpecs collects the default Specs of every protocol, each added from
// that protocol's file.
var defaultSpecs []Spec

// Validate checks the topology before anything starts: known kinds, unique
// names, loopback hosts only, ports in range, no two services on one
// address.
func (t Topology) Validate() error {
	var errs []error
	names := map[string]bool{}
	addrs := map[string]string{}
	for _, s := range t.Services {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("a %q service has no name", s.Kind))
		}
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("service %q: name used twice", s.Name))
		}
		names[s.Name] = true
		if _, ok := Kinds[s.Kind]; !ok {
			errs = append(errs, fmt.Errorf("service %q: unknown kind %q", s.Name, s.Kind))
		}
		ip, err := netip.ParseAddr(s.Host)
		if err != nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("service %q: host %q is not a loopback address", s.Name, s.Host))
		}
		p := t.BasePort + s.Port
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("service %q: port %d (base %d + %d) out of range", s.Name, p, t.BasePort, s.Port))
		}
		a := net.JoinHostPort(s.Host, strconv.Itoa(p))
		if other, ok := addrs[a]; ok {
			errs = append(errs, fmt.Errorf("services %q and %q both want %s", other, s.Name, a))
		}
		addrs[a] = s.Name
	}
	return errors.Join(errs...)
}

// Lab is a running topology.
type Lab struct {
	Topology Topology
	Logger   *slog.Logger
	Trace    *transcript.Recorder
	// TraceSink, when set, takes every service's dialogues instead of
	// Trace, each line labelled with its service's name; TraceOnly
	// limits them to the services named (a Spec name, or a host name
	// among its Records: "mail-crepes" or "mail.crepes.fr"), and
	// TraceSecrets shows passwords instead of <redacted>.
	TraceSink    transcript.Sink
	TraceOnly    []string
	TraceSecrets bool
	// Bin and Dir are the Env's (see there).
	Bin string
	Dir string

	mu       sync.Mutex
	running  []named
	stopping bool
	errc     chan error
	wg       sync.WaitGroup
}

type named struct {
	name string
	svc  Service
}

// Start validates the topology, binds every service, then serves them all.
// If any bind fails, the services already bound are shut down and the error
// names the service.
func (l *Lab) Start(ctx context.Context) ([]Endpoint, error) {
	if err := l.Topology.Validate(); err != nil {
		return nil, fmt.Errorf("lab: invalid topology: %w", err)
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	env := &Env{BasePort: l.Topology.BasePort, Logger: logger, Trace: l.Trace, Bin: l.Bin, Dir: l.Dir, Topology: l.Topology, AuthLimit: &authlimit.Limiter{}}
	if env.Bin == "" {
		env.Bin = "applayer"
	}
	byName := map[string]Spec{}
	for _, s := range l.Topology.Services {
		byName[s.Name] = s
	}
	env.Lookup = func(name string) (string, bool) {
		s, ok := byName[name]
		if !ok {
			return "", false
		}
		return env.Addr(s), true
	}

	var eps []Endpoint
	if err := l.checkTraceOnly(); err != nil {
		return nil, err
	}
	// A dialogue between two traced services is recorded by both ends;
	// the server's side is shown, the client's (whose peer is a lab
	// service's listening address) left out.
	tracedAddr := map[string]bool{}
	for _, sp := range l.Topology.Services {
		if l.traced(sp) {
			tracedAddr[env.Addr(sp)] = true
			if p, err := strconv.Atoi(sp.Args["submission"]); err == nil {
				tracedAddr[net.JoinHostPort(sp.Host, strconv.Itoa(l.Topology.BasePort+p))] = true
			}
		}
	}
	for _, spec := range l.Topology.Services {
		senv := *env
		if l.TraceSink != nil {
			senv.Trace = nil
			if l.traced(spec) {
				name := spec.Name
				senv.Trace = transcript.New(transcript.SinkFunc(func(e transcript.Event) {
					if tracedAddr[e.Peer] {
						return
					}
					e.Proto = name + " " + e.Proto
					l.TraceSink.Record(e)
				})).ShowSecrets(l.TraceSecrets)
			}
		}
		svc, err := Kinds[spec.Kind](spec, &senv)
		if err == nil {
			var e []Endpoint
			e, err = svc.Bind(ctx)
			eps = append(eps, e...)
		}
		if err != nil {
			l.Shutdown(context.Background())
			return nil, bindError(spec.Name, err, l.Topology.BasePort)
		}
		l.mu.Lock()
		l.running = append(l.running, named{spec.Name, svc})
		l.mu.Unlock()
	}

	l.errc = make(chan error, len(l.running))
	for _, n := range l.running {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			err := n.svc.Serve()
			l.mu.Lock()
			stopping := l.stopping
			l.mu.Unlock()
			if !stopping {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				l.errc <- fmt.Errorf("lab: %s: %w", n.name, err)
			}
		}()
	}
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Service < eps[j].Service })
	return eps, nil
}

// Err delivers the first error of a service that stopped on its own.
func (l *Lab) Err() <-chan error { return l.errc }

// Shutdown stops every service, last started first, and waits for them.
func (l *Lab) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.stopping = true
	running := l.running
	l.running = nil
	l.mu.Unlock()
	var errs []error
	for i := len(running) - 1; i >= 0; i-- {
		if err := running[i].svc.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", running[i].name, err))
		}
	}
	l.wg.Wait()
	return errors.Join(errs...)
}

// serviceNames are the names a service answers to in TraceOnly: its Spec
// name and the host names of its Records.
func serviceNames(s Spec) []string {
	names := []string{s.Name}
	for _, r := range s.Records {
		if f := strings.Fields(r); len(f) > 0 {
			names = append(names, strings.TrimSuffix(strings.ToLower(f[0]), "."))
		}
	}
	return names
}

func (l *Lab) traced(s Spec) bool {
	if len(l.TraceOnly) == 0 {
		return true
	}
	for _, n := range serviceNames(s) {
		for _, want := range l.TraceOnly {
			if strings.EqualFold(strings.TrimSuffix(want, "."), n) {
				return true
			}
		}
	}
	return false
}

// checkTraceOnly refuses a name in TraceOnly that no service answers to.
func (l *Lab) checkTraceOnly() error {
	for _, want := range l.TraceOnly {
		found := false
		var all []string
		for _, s := range l.Topology.Services {
			all = append(all, s.Name)
			for _, n := range serviceNames(s) {
				found = found || strings.EqualFold(strings.TrimSuffix(want, "."), n)
			}
		}
		if !found {
			return fmt.Errorf("lab: --trace %s: no such service (services: %s; or a host name such as mail.crepes.fr)", want, strings.Join(all, ", "))
		}
	}
	return nil
}
