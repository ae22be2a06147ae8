package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/imap"
	"github.com/applayer/applayer/mail/mta"
	"github.com/applayer/applayer/mail/pop3"
	"github.com/applayer/applayer/mail/smtpserver"
)

// The textbook's two mail domains: alice@crepes.fr writes to
// bob@hamburger.edu. Each domain has one server, MX at base+25,
// submission at base+587, POP3 at base+110 and IMAP at base+143 on its
// own loopback address, published in the lab's DNS by its MX and A records.
func init() {
	Kinds["mail"] = newMail
	for _, d := range []struct{ name, domain, host, user, password string }{
		{"mail-crepes", "crepes.fr", "127.0.25.1", "alice", "alice-lab-password"},
		{"mail-hamburger", "hamburger.edu", "127.0.25.2", "bob", "bob-lab-password"},
	} {
		defaultSpecs = append(defaultSpecs, Spec{
			Name: d.name, Kind: "mail", Host: d.host, Port: 25,
			Args: map[string]string{
				"domain":     d.domain,
				"users":      d.user + "@" + d.domain + ":" + d.password,
				"submission": "587",
				"pop3":       "110",
				"imap":       "143",
			},
			Records: []string{
				d.domain + ". 300 IN MX 10 mail." + d.domain + ".",
				"mail." + d.domain + ". 300 IN A " + d.host,
				// The trust layer: who may send for the domain (SPF),
				// its signing key (DKIM), and what to do with mail that
				// neither authenticates (DMARC).
				d.domain + ". 300 IN TXT \"v=spf1 ip4:" + d.host + " -all\"",
				labDKIMSelector + "._domainkey." + d.domain + ". 300 IN TXT \"" + labDKIMRecord(d.domain) + "\"",
				"_dmarc." + d.domain + ". 300 IN TXT \"v=DMARC1; p=reject\"",
			},
		})
	}
}

// labDKIMSelector is the selector of the lab's DKIM keys.
const labDKIMSelector = "lab"

// labDKIMKey is a lab domain's DKIM signing key, derived from its name so
// that the record published at start and the server's key agree without
// a file. Anyone who reads this can sign as a lab domain: the lab shows
// the mechanism, it keeps no secret.
func labDKIMKey(domain string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("applayer lab DKIM key for " + domain))
	return ed25519.NewKeyFromSeed(seed[:])
}

func labDKIMRecord(domain string) string {
	rec, _ := dkim.Record(labDKIMKey(domain))
	return rec
}

// mailService is one mail domain's server: MX, submission and queue.
type mailService struct {
	spec     Spec
	env      *Env
	dir      string
	tempDir  bool
	subAddr  string
	popAddr  string // "" for none
	imapAddr string // "" for none
	srv      *mta.Server
	pop      *pop3.Server
	imap     *imap.Server
	mx, sub  net.Listener
	popL     net.Listener
	imapL    net.Listener
	users    []string // addresses
	passFile map[string]string
}

func newMail(spec Spec, env *Env) (Service, error) {
	domain := spec.Args["domain"]
	if domain == "" {
		return nil, errors.New("mail: Args[\"domain\"] is required")
	}
	subPort := 587
	if p, ok := spec.Args["submission"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("mail: bad submission port %q", p)
		}
		subPort = n
	}
	var popAddr string
	if p, ok := spec.Args["pop3"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("mail: bad pop3 port %q", p)
		}
		popAddr = net.JoinHostPort(spec.Host, strconv.Itoa(env.BasePort+n))
	}
	var imapAddr string
	if p, ok := spec.Args["imap"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("mail: bad imap port %q", p)
		}
		imapAddr = net.JoinHostPort(spec.Host, strconv.Itoa(env.BasePort+n))
	}
	return &mailService{
		imapAddr: imapAddr,
		spec:     spec,
		env:      env,
		dir:      spec.Args["data"],
		subAddr:  net.JoinHostPort(spec.Host, strconv.Itoa(env.BasePort+subPort)),
		popAddr:  popAddr,
		passFile: map[string]string{},
	}, nil
}

// resolver is the lab's DNS when it has a "resolver" service, else a
// static table built from every service's records, so that mail works
// with or without the DNS services.
func (s *mailService) resolver() (mta.Resolver, error) {
	if addr, ok := s.env.Lookup("resolver"); ok {
		return mta.DNSResolver(addr), nil
	}
	var recs []string
	for _, sp := range s.env.Topology.Services {
		recs = append(recs, sp.Records...)
	}
	recs = append(recs, s.spec.Records...)
	return mta.ParseRecords(recs)
}

func (s *mailService) Bind(ctx context.Context) ([]Endpoint, error) {
	domain := s.spec.Args["domain"]
	if s.dir == "" {
		d, temp, err := s.env.ServiceDir(domain)
		if err != nil {
			return nil, err
		}
		s.dir, s.tempDir = d, temp
	}
	res, err := s.resolver()
	if err != nil {
		return nil, err
	}
	m, err := mta.Open(mta.Config{
		Dir:      s.dir,
		Domains:  []string{domain},
		Hostname: "mail." + domain,
		Resolver: res,
		MXPort:   s.env.BasePort + 25,
		Logger:   s.env.Logger.With("service", s.spec.Name),
		Trace:    s.env.Trace,
		// Relays leave from this host's own address.
		LocalAddr: net.ParseIP(s.spec.Host),
		// One limiter for the lab: a guess at crepes.fr counts at
		// hamburger.edu too.
		AuthLimit: s.env.AuthLimit,
		// What users submit leaves signed; what arrives is checked
		// (with the lab's DNS; without it the checks are skipped).
		DKIM:          []*dkim.Signer{{Domain: domain, Selector: labDKIMSelector, Key: labDKIMKey(domain)}},
		CheckIncoming: true,
	})
	if err != nil {
		return nil, s.fail(err)
	}
	for _, up := range strings.Split(s.spec.Args["users"], ",") {
		addr, pass, ok := strings.Cut(strings.TrimSpace(up), ":")
		if !ok {
			continue
		}
		if err := m.Store().Users().Add(addr, pass, true); err != nil {
			return nil, s.fail(err)
		}
		pf := filepath.Join(s.dir, strings.Split(addr, "@")[0]+".pass")
		if err := os.WriteFile(pf, []byte(pass+"\n"), 0o600); err != nil {
			return nil, s.fail(err)
		}
		s.users = append(s.users, addr)
		s.passFile[addr] = pf
		// The Maildir exists from the start, so that the try line's ls
		// works before the first message.
		for _, sub := range []string{"tmp", "new", "cur"} {
			if err := os.MkdirAll(filepath.Join(m.Store().MaildirPath(addr), sub), 0o700); err != nil {
				return nil, s.fail(err)
			}
		}
	}
	cert, err := tlsutil.LoadOrCreate(filepath.Join(s.dir, "tls"), []string{"mail." + domain, domain, s.spec.Host})
	if err != nil {
		return nil, s.fail(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv = mta.NewServer(m, tlsConfig)
	var lc net.ListenConfig
	mxAddr := s.env.Addr(s.spec)
	if s.mx, err = lc.Listen(ctx, "tcp", mxAddr); err != nil {
		return nil, s.fail(err)
	}
	if s.sub, err = lc.Listen(ctx, "tcp", s.subAddr); err != nil {
		s.mx.Close()
		return nil, s.fail(err)
	}
	if s.popAddr != "" {
		if s.popL, err = lc.Listen(ctx, "tcp", s.popAddr); err != nil {
			s.mx.Close()
			s.sub.Close()
			return nil, s.fail(err)
		}
		s.pop = &pop3.Server{
			Hostname: "mail." + domain, Store: m.Store(), Domain: domain, TLSConfig: tlsConfig,
			AuthLimit: s.env.AuthLimit, Logger: s.env.Logger.With("service", s.spec.Name), Trace: s.env.Trace,
		}
	}
	if s.imapAddr != "" {
		if s.imapL, err = lc.Listen(ctx, "tcp", s.imapAddr); err != nil {
			s.mx.Close()
			s.sub.Close()
			if s.popL != nil {
				s.popL.Close()
			}
			return nil, s.fail(err)
		}
		s.imap = &imap.Server{
			Hostname: "mail." + domain, Store: m.Store(), Domain: domain, TLSConfig: tlsConfig,
			AuthLimit: s.env.AuthLimit, Logger: s.env.Logger.With("service", s.spec.Name), Trace: s.env.Trace,
		}
	}
	return s.endpoints(mxAddr, filepath.Join(s.dir, "tls", tlsutil.CertFile)), nil
}

// endpoints tells how to try this domain: crepes.fr's submission line
// sends alice's mail to bob, and hamburger.edu's MX line shows where it
// lands.
func (s *mailService) endpoints(mxAddr, certFile string) []Endpoint {
	domain := s.spec.Args["domain"]
	var user, peer string
	if len(s.users) > 0 {
		user = s.users[0]
	}
	switch domain {
	case "crepes.fr":
		peer = "bob@hamburger.edu"
	case "hamburger.edu":
		peer = "alice@crepes.fr"
	}
	sp := ShowPath
	mxTry := s.env.Bin + " mail send --server " + mxAddr + " --from someone@example.org --to " + user + " --subject hello --body 'straight to the exchanger' --trace"
	eps := []Endpoint{{Service: s.spec.Name, Proto: "smtp", Addr: mxAddr, Try: mxTry}}
	if user != "" {
		eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "maildir " + user, Addr: mxAddr,
			Try: "ls " + sp(filepath.Join(s.srv.MTA.Store().MaildirPath(user), "new"))})
	}
	if user != "" && peer != "" {
		eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "submission", Addr: s.subAddr, Try: s.env.Bin +
			" mail send --server " + s.subAddr + " --starttls --cacert " + sp(certFile) +
			" --user " + user + " --password-file " + sp(s.passFile[user]) +
			" --from " + user + " --to " + peer + " --subject ketchup --body 'Do you like ketchup?' --trace" +
			"   # lands in " + peer + "'s Maildir (" + peerDomain(peer) + "'s maildir row)"})
	}
	if user != "" && s.popAddr != "" {
		// How the user agent reads: the listing, then "/1" for the first
		// message (alice's, once crepes.fr's submission line has run).
		eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "pop3", Addr: s.popAddr, Try: "curl -sS -u \"" + user +
			":$(cat " + sp(s.passFile[user]) + ")\" pop3://" + s.popAddr + "/   # add 1 to the URL to read message 1"})
	}
	if user != "" && s.imapAddr != "" {
		eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "imap", Addr: s.imapAddr, Try: "curl -sS -u \"" + user +
			":$(cat " + sp(s.passFile[user]) + ")\" imap://" + s.imapAddr + "/INBOX -X 'UID FETCH 1:* (FLAGS ENVELOPE)'" +
			"   # imap://.../INBOX;UID=1 reads message 1"})
	}
	eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "queue", Addr: s.subAddr,
		Try: s.env.Bin + " mail queue list --data " + sp(s.dir)})
	return eps
}

// peerDomain is the domain part of an address.
func peerDomain(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}

func (s *mailService) fail(err error) error {
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
	return err
}

// reader is a POP3 or IMAP server beside the MTA.
type reader interface {
	Serve(net.Listener) error
	Close() error
}

func (s *mailService) Serve() error {
	type pair struct {
		srv reader
		l   net.Listener
	}
	var rs []pair
	if s.pop != nil {
		rs = append(rs, pair{s.pop, s.popL})
	}
	if s.imap != nil {
		rs = append(rs, pair{s.imap, s.imapL})
	}
	closed := func(err error) bool {
		return errors.Is(err, pop3.ErrServerClosed) || errors.Is(err, imap.ErrServerClosed) || errors.Is(err, smtpserver.ErrServerClosed)
	}
	errc := make(chan error, len(rs))
	for _, r := range rs {
		go func() {
			err := r.srv.Serve(r.l)
			if !closed(err) {
				s.srv.Close()
			}
			errc <- err
		}()
	}
	err := s.srv.Serve(s.mx, s.sub)
	if closed(err) {
		err = nil
	}
	if err != nil {
		for _, r := range rs {
			r.srv.Close()
		}
	}
	for range rs {
		if rerr := <-errc; err == nil && !closed(rerr) {
			err = rerr
		}
	}
	if err == nil {
		err = smtpserver.ErrServerClosed
	}
	return err
}

func (s *mailService) Shutdown(ctx context.Context) error {
	var err error
	if s.pop != nil {
		err = s.pop.Shutdown(ctx)
	}
	if s.imap != nil {
		err = errors.Join(err, s.imap.Shutdown(ctx))
	}
	if s.srv != nil {
		err = errors.Join(err, s.srv.Shutdown(ctx))
	}
	// Serve may never have run (another service failed to bind).
	if s.mx != nil {
		s.mx.Close()
	}
	if s.sub != nil {
		s.sub.Close()
	}
	if s.popL != nil {
		s.popL.Close()
	}
	if s.imapL != nil {
		s.imapL.Close()
	}
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
	return err
}
