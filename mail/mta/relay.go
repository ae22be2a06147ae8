package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
)

// relay delivers msg to rcpts of one domain: the exchangers in order,
// until one gives an answer for every recipient.
func (m *MTA) relay(ctx context.Context, e *entry, domain string, rcpts []smtp.Address, msg *queuedMessage) map[string]outcome {
	out := map[string]outcome{}
	all := func(o outcome) map[string]outcome {
		for _, a := range rcpts {
			out[a.String()] = o
		}
		return out
	}
	if m.IsLocal(domain) {
		// A queued message for a local user (a DSN to a local sender).
		for _, a := range rcpts {
			r := io.MultiReader(strings.NewReader("Return-Path: <"+e.env.From+">\r\n"), msg.Reader())
			if err := m.store.DeliverFrom(a.String(), r); err != nil {
				out[a.String()] = outcome{answer: "4.3.0 local delivery failed: " + err.Error()}
			} else {
				out[a.String()] = outcome{done: true, answer: "2.0.0 delivered to Maildir"}
			}
		}
		return out
	}
	hops, err := m.routes.get(ctx, m.cfg.Resolver, domain, m.cfg.MXPort)
	if err != nil {
		var re *routeError
		if errors.As(err, &re) {
			return all(outcome{perm: re.reply.Permanent(), answer: re.reply.Error()})
		}
		return all(outcome{answer: err.Error()})
	}
	var last outcome
	for _, h := range hops {
		res, final := m.session(ctx, e, h, rcpts, msg)
		if final {
			return res
		}
		for _, o := range res {
			last = o
			break
		}
	}
	return all(last)
}

// session runs one SMTP transaction with one exchanger. final is false
// when the exchanger could not take responsibility for any recipient
// (unreachable, or a 4xx before RCPT), so the next one should be tried.
func (m *MTA) session(ctx context.Context, e *entry, h hop, rcpts []smtp.Address, msg *queuedMessage) (map[string]outcome, bool) {
	out := map[string]outcome{}
	all := func(o outcome, final bool) (map[string]outcome, bool) {
		for _, a := range rcpts {
			if _, ok := out[a.String()]; !ok {
				out[a.String()] = o
			}
		}
		return out, final
	}
	fail := func(err error) (map[string]outcome, bool) {
		var r *smtp.Reply
		if errors.As(err, &r) {
			return all(outcome{perm: r.Permanent(), answer: r.Error(), remote: h.Host}, r.Permanent())
		}
		return all(outcome{answer: "4.4.1 " + h.Host + " [" + h.Addr + "]: " + err.Error(), remote: h.Host}, false)
	}
	var from smtp.Path
	if e.env.From == "" {
		from.Null = true
	} else if a, err := smtp.ParseAddress(e.env.From); err == nil {
		from.Mailbox = a
	}
	// A pooled connection may have been closed by the other side while
	// idle: then the transaction fails before any reply (or with 421),
	// which is safe to repeat on a fresh connection.
	var (
		c        *smtpclient.Client
		rcptErrs []error
		final    *smtp.Reply
		err      error
	)
	for {
		reused := true
		if c = m.pool.get(h.Addr); c == nil {
			reused = false
			if c, err = m.dial(ctx, h); err != nil {
				return fail(err)
			}
		}
		rcptErrs, final, err = c.Transaction(ctx, from, rcpts, msg.Size(), e.env.Body8Bit, msg.Reader())
		var r *smtp.Reply
		if reused && rcptErrs == nil && err != nil && (!errors.As(err, &r) || r.Code == 421) {
			c.Close()
			continue
		}
		break
	}
	keep := false
	defer func() {
		if keep {
			m.pool.put(h.Addr, c)
		} else {
			c.Close()
		}
	}()
	if rcptErrs == nil { // MAIL refused, or the session failed before any answer
		if _, ok := err.(*smtp.Reply); ok {
			keep = c.Reset(ctx) == nil
		}
		return fail(err)
	}
	var r *smtp.Reply
	isReply := errors.As(err, &r)
	accepted := 0
	for i, a := range rcpts {
		var rr *smtp.Reply
		switch {
		case errors.As(rcptErrs[i], &rr):
			out[a.String()] = outcome{perm: rr.Permanent(), answer: rr.Error(), remote: h.Host}
		case err == nil:
			out[a.String()] = outcome{done: true, answer: final.Error(), remote: h.Host}
			accepted++
		case isReply:
			// DATA or the body refused.
			out[a.String()] = outcome{perm: r.Permanent(), answer: r.Error(), remote: h.Host}
		default:
			// The connection broke during DATA: we cannot know whether the
			// exchanger took it; retrying risks a duplicate, never a loss.
			out[a.String()] = outcome{answer: "4.4.2 " + h.Host + ": " + err.Error(), remote: h.Host}
		}
	}
	switch {
	case err == nil:
		keep = true
	case isReply && r.Code != 421:
		keep = c.Reset(ctx) == nil
	}
	if accepted > 0 {
		m.log.Info("mta: relayed", "id", e.id, "to", h.Host, "addr", h.Addr, "rcpts", accepted)
	}
	return out, true
}

// errTLSFailed marks a relay session lost in the STARTTLS handshake.
var errTLSFailed = errors.New("mta: STARTTLS failed")

// dial opens a relay session: greeting, EHLO, and opportunistic STARTTLS
// (RFC 7435: encrypt without authenticating, as between MTAs without DANE
// or MTA-STS). Opportunistic means that a failed TLS does not stop the
// mail: a refused STARTTLS goes on in clear on the same connection (RFC
// 3207 section 4), a failed handshake on a new one without STARTTLS, as
// Postfix does at its "may" security level.
func (m *MTA) dial(ctx context.Context, h hop) (*smtpclient.Client, error) {
	c, err := m.dialOnce(ctx, h, true)
	if errors.Is(err, errTLSFailed) {
		m.log.Info("mta: TLS with the exchanger failed; trying again in clear", "to", h.Host, "addr", h.Addr, "err", err)
		return m.dialOnce(ctx, h, false)
	}
	return c, err
}

func (m *MTA) dialOnce(ctx context.Context, h hop, tryTLS bool) (*smtpclient.Client, error) {
	c, err := smtpclient.Dial(ctx, h.Addr, smtpclient.Options{LocalName: m.cfg.Hostname, Timeout: m.cfg.Timeout, Trace: m.cfg.Trace, LocalAddr: m.cfg.LocalAddr})
	if err != nil {
		return nil, err
	}
	if err := c.Hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if ok, _ := c.Extension("STARTTLS"); ok && tryTLS {
		err := c.StartTLS(ctx, &tls.Config{InsecureSkipVerify: true, ServerName: h.Host})
		var r *smtp.Reply
		switch {
		case err == nil:
		case errors.As(err, &r) && !c.TLS():
			// STARTTLS refused: the session goes on unencrypted.
		default:
			c.Close()
			return nil, fmt.Errorf("%w: %w", errTLSFailed, err)
		}
	}
	return c, nil
}
