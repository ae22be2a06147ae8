package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"

	"github.com/applayer/applayer/mail/imap"
	"github.com/applayer/applayer/mail/maildir"
	"github.com/applayer/applayer/mail/pop3"
	"github.com/applayer/applayer/mail/smtpserver"
)

// mailReader is a server that reads the Maildirs (POP3, IMAP) in the
// house shape.
type mailReader interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

type boundReader struct {
	srv mailReader
	l   net.Listener
}

// mailReaders are the POP3 and IMAP listeners of `mail serve`, bound
// before anything is served.
type mailReaders []boundReader

func (rs *mailReaders) listen(addr string, implicitTLS bool, cfg *tls.Config, srv mailReader) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if implicitTLS {
		l = tls.NewListener(l, cfg)
	}
	*rs = append(*rs, boundReader{srv, l})
	return nil
}

func (rs mailReaders) closeAll() {
	for _, r := range rs {
		r.l.Close()
	}
}

// serveWith serves every reader beside main (the SMTP side) until one
// stops; a failure stops the others (stopMain stops main).
func (rs mailReaders) serveWith(main func() error, stopMain func() error) error {
	errc := make(chan error, len(rs)+1)
	for _, r := range rs {
		go func() {
			err := r.srv.Serve(r.l)
			if err != nil && !isClosed(err) {
				stopMain()
				for _, o := range rs {
					o.srv.Close()
				}
			}
			errc <- err
		}()
	}
	err := main()
	if err != nil && !isClosed(err) {
		for _, r := range rs {
			r.srv.Close()
		}
	}
	for range rs {
		if e := <-errc; e != nil && !isClosed(e) && (err == nil || isClosed(err)) {
			err = e
		}
	}
	return err
}

func (rs mailReaders) shutdown(ctx context.Context) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// isClosed reports whether err is one of the mail servers' "closed"
// sentinels.
func isClosed(err error) bool {
	return errors.Is(err, smtpserver.ErrServerClosed) || errors.Is(err, pop3.ErrServerClosed) || errors.Is(err, imap.ErrServerClosed)
}

// apopSecrets reads address:secret lines from file at each lookup, so an
// edit takes effect at once.
func apopSecrets(file string) func(string) (string, bool) {
	return func(user string) (string, bool) {
		f, err := os.Open(file)
		if err != nil {
			return "", false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			a, secret, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if ok && !strings.HasPrefix(a, "#") && maildir.Normalize(a) == maildir.Normalize(user) {
				return secret, true
			}
		}
		return "", false
	}
}
