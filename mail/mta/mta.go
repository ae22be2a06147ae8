package mta

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/dmarc"
	"github.com/applayer/applayer/mail/maildir"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpserver"
)

// DefaultRetry is the default back-off schedule: the wait before the first
// retry, the second, and so on; the last entry repeats.
var DefaultRetry = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

// Defaults of Config's fields.
const (
	// DefaultGiveUp is how long a message may wait in the queue.
	DefaultGiveUp      = 5 * 24 * time.Hour
	DefaultMaxHops     = 50
	DefaultMXPort      = 25
	DefaultConcurrency = 8
)

// Config configures an MTA. Dir and Domains are required.
type Config struct {
	// Dir is the data directory: users, Maildirs, queue.
	Dir string
	// Domains are the domains whose mail is delivered here.
	Domains []string
	// RelayDomains are other domains this server takes mail for from
	// anyone, to queue and relay to their exchangers: the backup-MX or
	// mail-gateway role (Postfix's relay_domains). Mail for any domain in
	// neither list needs an authenticated sender.
	RelayDomains []string
	// MaxHops refuses a message that already carries this many Received:
	// fields when it is to be relayed (RFC 5321 section 6.3, mail loops;
	// default DefaultMaxHops).
	MaxHops int
	// Hostname is this server's name (greeting, Received:, DSNs; default
	// "mail." + the first domain).
	Hostname string
	// DKIM signs submitted mail as it is relayed (RFC 6376): the signer
	// whose Domain is the From: field's domain, or a parent of it, signs;
	// mail from a domain with none, and mail that was not submitted by an
	// authenticated user, goes unsigned. The stored copy is never changed.
	DKIM []*dkim.Signer
	// CheckIncoming checks mail that arrives unauthenticated for local
	// users: SPF of the client for MAIL FROM, DKIM, and DMARC, recorded
	// in an Authentication-Results field (RFC 8601) at the top of each
	// copy; a message failing DMARC for a domain whose policy is reject is
	// refused with 550 5.7.1. It costs DNS look-ups and one more copy of
	// each such message before the 250 (default false).
	CheckIncoming bool
	// Resolver finds exchangers (default: the system's resolver).
	Resolver Resolver
	// MXPort is the port exchangers are reached on (default
	// DefaultMXPort).
	MXPort int
	// Retry is the back-off schedule (default DefaultRetry); tests use
	// milliseconds.
	Retry []time.Duration
	// GiveUp is how long a temporary failure is retried (default
	// DefaultGiveUp; negative for none: the first temporary failure
	// bounces).
	GiveUp time.Duration
	// Concurrency bounds delivery attempts at once (default
	// DefaultConcurrency).
	Concurrency int
	// Timeout bounds each SMTP command of a relay (default
	// smtpclient.DefaultTimeout, 2 minutes).
	Timeout time.Duration
	// Logger receives log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records the relay dialogues; nil records nothing.
	Trace *transcript.Recorder
	// LocalAddr, when set, is the address relays connect from (in the
	// lab, the host's own loopback address, so that the receiving side
	// sees 127.0.25.1 rather than 127.0.0.1).
	LocalAddr net.IP
	// AuthLimit slows password guessing across sessions
	// (internal/authlimit); nil gives the server's two listeners one of
	// their own, shared. A process with other servers that check
	// passwords gives them all the same one.
	AuthLimit *authlimit.Limiter
}

// MTA is the mail system behind one or more SMTP listeners. It implements
// smtpserver.Backend and smtpserver.Authenticator.
type MTA struct {
	cfg     Config
	store   *maildir.Store
	qdir    string
	domains map[string]bool
	relayTo map[string]bool
	log     *slog.Logger
	routes  routeCache
	pool    connPool

	mu    sync.Mutex
	queue map[string]*entry // every queued message, by ID
	ready []*entry          // due now, in arrival order
	later entryHeap         // due later, earliest first
	wake  chan struct{}
}

// entry is one queued message in the worker's memory.
type entry struct {
	id       string
	env      Envelope
	state    State
	inFlight bool
	flushed  bool      // a flush came while in flight: due again when it ends
	hold     time.Time // no attempt before this (a bounce failed)
	at       time.Time // when it was scheduled for, in later
}

// Open opens (creating when needed) the data directory and loads the queue.
func Open(cfg Config) (*MTA, error) {
	if cfg.Dir == "" {
		return nil, errors.New("mta: Config.Dir is empty")
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("mta: Config.Domains is empty")
	}
	m := &MTA{cfg: cfg, domains: map[string]bool{}, relayTo: map[string]bool{}, queue: map[string]*entry{}, wake: make(chan struct{}, 1)}
	for _, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !smtp.ValidDomain(d) {
			return nil, fmt.Errorf("mta: %q is not a domain name", d)
		}
		m.domains[d] = true
	}
	for _, d := range cfg.RelayDomains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !smtp.ValidDomain(d) {
			return nil, fmt.Errorf("mta: relay domain %q is not a domain name", d)
		}
		if m.domains[d] {
			return nil, fmt.Errorf("mta: %s is both a local and a relay domain", d)
		}
		m.relayTo[d] = true
	}
	// Zero means the default; a negative hop or attempt count would
	// refuse or stall everything, so it means the default too.
	if m.cfg.MaxHops <= 0 {
		m.cfg.MaxHops = DefaultMaxHops
	}
	if m.cfg.Concurrency <= 0 {
		m.cfg.Concurrency = DefaultConcurrency
	}
	m.cfg.Hostname = cmp.Or(m.cfg.Hostname, "mail."+strings.ToLower(cfg.Domains[0]))
	m.cfg.Resolver = cmp.Or(m.cfg.Resolver, DNSResolver(""))
	m.cfg.MXPort = cmp.Or(m.cfg.MXPort, DefaultMXPort)
	if len(m.cfg.Retry) == 0 {
		m.cfg.Retry = DefaultRetry
	}
	m.cfg.GiveUp = cmp.Or(m.cfg.GiveUp, DefaultGiveUp)
	m.log = cmp.Or(cfg.Logger, slog.Default())
	st, err := maildir.Open(cfg.Dir)
	if err != nil {
		return nil, err
	}
	m.store = st
	m.qdir = QueueDir(cfg.Dir)
	if err := os.MkdirAll(filepath.Join(m.qdir, doneDir), 0o700); err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	m.sweep()
	if err := cleanQueue(m.qdir); err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	items, err := ListQueue(cfg.Dir)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, it := range items { // ListQueue sorts by arrival
		e := &entry{id: it.ID, env: it.Env, state: it.State}
		m.queue[it.ID] = e
		m.schedule(e, now)
	}
	if len(items) > 0 {
		m.log.Info("mta: queue loaded", "messages", len(items))
	}
	return m, nil
}

// Store returns the mail storage.
func (m *MTA) Store() *maildir.Store { return m.store }

// Hostname returns the server's name.
func (m *MTA) Hostname() string { return m.cfg.Hostname }

// IsLocal reports whether domain is one of ours.
func (m *MTA) IsLocal(domain string) bool { return m.domains[strings.ToLower(domain)] }

// Authenticate implements smtpserver.Authenticator: users are addresses.
func (m *MTA) Authenticate(user, password string) bool {
	return m.store.Users().Check(user, password)
}

// qualify gives the bare "postmaster" of RCPT TO:<Postmaster> (RFC 5321
// section 4.1.1.3) this server's first domain.
func (m *MTA) qualify(a smtp.Address) smtp.Address {
	if a.Domain == "" {
		a.Domain = strings.ToLower(m.cfg.Domains[0])
	}
	return a
}

// Rcpt implements smtpserver.Backend: the relay policy.
func (m *MTA) Rcpt(s *smtpserver.Session, from smtp.Path, to smtp.Address) error {
	if s.User != "" && !from.Null && !strings.EqualFold(from.Mailbox.String(), s.User) {
		return smtp.R(550, smtp.CodeRelayDenied, "Sender "+from.String()+" not owned by user "+s.User)
	}
	to = m.qualify(to)
	if m.IsLocal(to.Domain) {
		if strings.EqualFold(to.Local, "postmaster") || m.store.Users().Exists(to.String()) {
			return nil
		}
		return smtp.R(550, smtp.CodeBadMailbox, "<"+to.String()+">... No such user here")
	}
	if s.User == "" && !m.relayTo[strings.ToLower(to.Domain)] {
		return smtp.R(550, smtp.CodeRelayDenied, "<"+to.String()+">... Relaying denied")
	}
	return nil
}

// Open implements smtpserver.Backend.
func (m *MTA) Open(s *smtpserver.Session, env *smtpserver.Envelope) (smtpserver.Delivery, error) {
	d := &delivery{m: m, id: newID(), from: env.From, body8: env.Body8Bit, auth: s.User, helo: s.Helo}
	if ap, err := netip.ParseAddrPort(s.RemoteAddr.String()); err == nil {
		d.client = ap.Addr().Unmap()
	}
	seen := map[string]bool{}
	for _, a := range env.To {
		a = m.qualify(a)
		if k := strings.ToLower(a.String()); seen[k] {
			continue // RCPT given twice: one copy
		} else {
			seen[k] = true
		}
		if m.IsLocal(a.Domain) {
			d.local = append(d.local, a.String())
		} else {
			d.remote = append(d.remote, a.String())
		}
	}
	sp, err := m.store.Create()
	if err != nil {
		return nil, err
	}
	d.sp = sp
	switch {
	case len(d.local) == 0:
		// Only relayed: the spool is the queue file itself, envelope
		// line first, so one fsync makes it durable.
		sp.Write(envelopeLine(d.envelope()))
	default:
		// Final delivery adds Return-Path (RFC 5321 section 4.4). The
		// queue's copy of a mixed message leaves it out.
		rp := "Return-Path: " + env.From.String() + "\r\n"
		io.WriteString(sp, rp)
		d.rpLen = int64(len(rp))
	}
	return d, nil
}

type delivery struct {
	m       *MTA
	sp      *maildir.Spool
	id      string
	from    smtp.Path
	local   []string
	remote  []string
	arrived time.Time
	rpLen   int64 // length of the Return-Path line at the spool's start
	body8   bool
	auth    string // the submitting user
	helo    string
	client  netip.Addr
}

func (d *delivery) envelope() *Envelope {
	if d.arrived.IsZero() {
		d.arrived = time.Now().UTC()
	}
	env := &Envelope{To: d.remote, Arrived: d.arrived, Body8Bit: d.body8, Auth: d.auth}
	if !d.from.Null {
		env.From = d.from.Mailbox.String()
	}
	return env
}

func (d *delivery) Write(p []byte) (int, error) { return d.sp.Write(p) }
func (d *delivery) ID() string                  { return d.id }
func (d *delivery) Abort()                      { d.sp.Remove() }

// Commit makes the message durable everywhere it goes before the server
// says 250.
func (d *delivery) Commit() error {
	defer d.sp.Remove()
	if err := d.sp.Finish(); err != nil {
		return err
	}
	// A looping message is refused whole, before any local copy is made
	// (RFC 5321 section 6.3).
	if len(d.remote) > 0 {
		if n := countReceived(d.sp.Path()); n >= d.m.cfg.MaxHops {
			return smtp.R(554, smtp.EnhancedCode{5, 4, 6}, fmt.Sprintf("Too many hops (%d Received: fields): mail loop?", n))
		}
	}
	if len(d.local) > 0 && d.auth == "" && d.m.cfg.CheckIncoming {
		if err := d.check(); err != nil {
			return err
		}
		defer d.sp.Remove()
	}
	if len(d.local) > 0 {
		if err := d.m.store.LinkInto(d.sp, d.local); err != nil {
			return err
		}
	}
	if len(d.remote) == 0 {
		return nil
	}
	if len(d.local) == 0 {
		return d.m.enqueue(d.id, d.sp.Path(), *d.envelope())
	}
	// Mixed: the queue gets its own copy, with the envelope line and
	// without the Return-Path.
	f, err := os.Open(d.sp.Path())
	if err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(d.rpLen, io.SeekStart); err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	q, err := d.m.store.Create()
	if err != nil {
		return err
	}
	defer q.Remove()
	q.Write(envelopeLine(d.envelope()))
	if _, err := io.Copy(q, f); err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	if err := q.Finish(); err != nil {
		return err
	}
	return d.m.enqueue(d.id, q.Path(), *d.envelope())
}

// check runs the SPF, DKIM and DMARC checks on a finished spool and
// replaces it with a copy that carries their Authentication-Results
// after the Return-Path; a DMARC reject is refused instead.
func (d *delivery) check() error {
	mailFrom := ""
	if !d.from.Null {
		mailFrom = d.from.Mailbox.String()
	}
	ar, v := d.m.authResults(d.sp.Path(), d.rpLen, d.client, d.helo, mailFrom)
	d.m.log.Info("mta: checked", "id", d.id, "client", d.client, "from", v.From, "dmarc", v.Result, "disposition", v.Disposition)
	if v.Result == dmarc.Fail && v.Disposition == dmarc.PolicyReject {
		return dmarcRefusal(v)
	}
	if ar == "" {
		return nil
	}
	f, err := os.Open(d.sp.Path())
	if err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	defer f.Close()
	q, err := d.m.store.Create()
	if err != nil {
		return err
	}
	if _, err := io.CopyN(q, f, d.rpLen); err != nil {
		q.Remove()
		return fmt.Errorf("mta: %w", err)
	}
	io.WriteString(q, ar)
	if _, err := io.Copy(q, f); err != nil {
		q.Remove()
		return fmt.Errorf("mta: %w", err)
	}
	if err := q.Finish(); err != nil {
		q.Remove()
		return err
	}
	d.rpLen += int64(len(ar))
	d.sp = q
	return nil
}

// enqueue links a finished spool file (envelope line, then message) into
// the queue, fsyncs the queue directory, and tells the worker.
func (m *MTA) enqueue(id, spoolPath string, env Envelope) error {
	if err := os.Link(spoolPath, filepath.Join(m.qdir, id+queueSuffix)); err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	if err := m.store.Sync.SyncDir(m.qdir); err != nil {
		return fmt.Errorf("mta: %w", err)
	}
	e := &entry{id: id, env: env, state: State{Rcpts: map[string]*RcptState{}}}
	m.mu.Lock()
	m.queue[id] = e
	m.ready = append(m.ready, e)
	m.mu.Unlock()
	m.poke()
	return nil
}

// enqueueBytes queues a message we made ourselves (a DSN).
func (m *MTA) enqueueBytes(msg []byte, env Envelope) (string, error) {
	sp, err := m.store.Create()
	if err != nil {
		return "", err
	}
	defer sp.Remove()
	sp.Write(envelopeLine(&env))
	sp.Write(msg)
	if err := sp.Finish(); err != nil {
		return "", err
	}
	id := newID()
	return id, m.enqueue(id, sp.Path(), env)
}

func (m *MTA) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// OpenUsers opens the users file of a data directory without starting
// anything else (for `applayer mail user`).
func OpenUsers(dir string) (*maildir.Users, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	return &maildir.Users{Path: filepath.Join(dir, "users")}, nil
}

// countReceived counts the Received: fields in the header of a message
// file (RFC 5321 section 6.3: a simple count detects mail loops).
func countReceived(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 16<<10)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(line) <= 2 && (len(line) == 0 || line[0] == '\r' || line[0] == '\n') {
			return n // the blank line ends the header
		}
		if len(line) >= 9 && strings.EqualFold(string(line[:9]), "received:") {
			n++
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n
		}
	}
}
