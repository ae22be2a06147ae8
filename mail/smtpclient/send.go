package smtpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"

	"github.com/applayer/applayer/mail/smtp"
)

// Submission says how Send reaches and logs in to a server.
type Submission struct {
	// Addr is host:port.
	Addr string
	// StartTLS upgrades the connection before anything else; TLSConfig
	// then applies (nil: verify against the system's roots, ServerName
	// from Addr).
	StartTLS  bool
	TLSConfig *tls.Config
	// User and Password, when User is set, authenticate (which needs TLS).
	User, Password string
	Options
}

// RcptError reports the recipients a server refused while it accepted
// others.
type RcptError struct {
	Refused map[string]*smtp.Reply
}

func (e *RcptError) Error() string {
	var b bytes.Buffer
	b.WriteString("smtpclient: recipients refused:")
	for a, r := range e.Refused {
		b.WriteString(" <" + a + "> " + r.Error() + ";")
	}
	return b.String()
}

// Send delivers one message in one session: connect, EHLO, STARTTLS and
// AUTH when asked, MAIL, RCPT for each recipient, DATA, QUIT. It returns
// the final 250 reply. If some recipients were refused and others
// accepted, the message is sent and a *RcptError lists the refused ones;
// if all were refused, the first refusal is returned.
func Send(ctx context.Context, s Submission, from smtp.Path, to []smtp.Address, msg []byte) (*smtp.Reply, error) {
	c, err := Dial(ctx, s.Addr, s.Options)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Hello(ctx); err != nil {
		return nil, err
	}
	if s.StartTLS {
		cfg := s.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName = hostOf(s.Addr)
		}
		if err := c.StartTLS(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if s.User != "" {
		if err := c.Auth(ctx, s.User, s.Password); err != nil {
			return nil, err
		}
	}
	rcptErrs, r, err := c.Transaction(ctx, from, to, int64(len(msg)), has8bit(msg), bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	c.Quit(ctx)
	refused := map[string]*smtp.Reply{}
	for i, e := range rcptErrs {
		var rr *smtp.Reply
		if errors.As(e, &rr) {
			refused[to[i].String()] = rr
		}
	}
	if len(refused) > 0 {
		return r, &RcptError{Refused: refused}
	}
	return r, nil
}

func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			h := addr[:i]
			if len(h) > 1 && h[0] == '[' {
				h = h[1 : len(h)-1]
			}
			return h
		}
	}
	return addr
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
