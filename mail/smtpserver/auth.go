package smtpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/mail/smtp"
)

// maxAuthFailures closes a session after this many wrong passwords.
const maxAuthFailures = 3

func (ss *session) authOffered() bool {
	_, ok := ss.srv.Backend.(Authenticator)
	return ok && ss.info.TLS
}

// auth: RFC 4954 section 4, mechanisms PLAIN (RFC 4616) and LOGIN (the
// draft-murchison-sasl-login mechanism Outlook still uses). Offered only
// under TLS: without it the password would cross the network in clear
// (RFC 4954 section 4 and section 6, 538).
func (ss *session) auth(arg string) *smtp.Reply {
	a, ok := ss.srv.Backend.(Authenticator)
	switch {
	case !ok:
		return smtp.R(502, smtp.CodeInvalidCmd, "AUTH not available")
	case !ss.info.TLS:
		return smtp.R(538, smtp.CodeTLSRequired, "Encryption required for requested authentication mechanism")
	case ss.info.User != "":
		return smtp.R(503, smtp.CodeInvalidCmd, "Already authenticated")
	}
	mech, ir, _ := strings.Cut(arg, " ")
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp, r := ss.saslStep(ir, "")
		if r != nil {
			return r
		}
		// authzid NUL authcid NUL passwd (RFC 4616 section 2).
		parts := bytes.Split(resp, []byte{0})
		if len(parts) != 3 || (len(parts[0]) > 0 && string(parts[0]) != string(parts[1])) {
			return smtp.R(501, smtp.CodeSyntax, "Malformed PLAIN response")
		}
		user, pass = string(parts[1]), string(parts[2])
	case "LOGIN":
		u, r := ss.saslStep(ir, "VXNlcm5hbWU6") // "Username:"
		if r != nil {
			return r
		}
		p, r := ss.saslStep("", "UGFzc3dvcmQ6") // "Password:"
		if r != nil {
			return r
		}
		user, pass = string(u), string(p)
	default:
		return smtp.R(504, smtp.CodeBadParam, "Unrecognized authentication type")
	}
	ctx, cancel := ss.shutdownContext()
	defer cancel()
	at, err := ss.srv.lim.Begin(ctx, ss.clientAddr(), user)
	if err != nil {
		// Too many failures from this address or on this account, or a
		// shutdown: nothing was checked (RFC 4954 section 6, 454).
		ss.auths++
		if errors.Is(err, authlimit.ErrTooMany) {
			ss.tr.Note(err.Error())
		}
		if ss.auths >= maxAuthFailures {
			ss.reply(smtp.R(454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure: too many failed logins, try again later"))
			return smtp.R(421, smtp.EnhancedCode{4, 7, 0}, ss.srv.hostname()+" Too many failed authentications")
		}
		return smtp.R(454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure: too many failed logins, try again later")
	}
	good := a.Authenticate(user, pass)
	at.Done(good)
	if !good {
		if d := ss.srv.AuthFailureDelay; d >= 0 {
			time.Sleep(lifecycle.OrDefault(d, time.Second))
		}
		ss.auths++
		if ss.auths >= maxAuthFailures {
			ss.reply(smtp.R(535, smtp.CodeAuthFailed, "Authentication credentials invalid"))
			return smtp.R(421, smtp.EnhancedCode{4, 7, 0}, ss.srv.hostname()+" Too many failed authentications")
		}
		return smtp.R(535, smtp.CodeAuthFailed, "Authentication credentials invalid")
	}
	ss.info.User = user
	ss.tr.Note("authenticated as " + user)
	return smtp.R(235, smtp.CodeAuthOK, "Authentication successful")
}

// clientAddr is the client's IP address, for the login limiter (the zero
// Addr for a connection that has none, such as a pipe).
func (ss *session) clientAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(ss.info.RemoteAddr.String()); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}

// shutdownContext ends when the server shuts down, so that a login held
// back by the limiter does not hold the shutdown too.
func (ss *session) shutdownContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	done := ss.srv.tracker().Done()
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// saslStep returns the decoded client response: the initial response when
// given ("=" means empty, RFC 4954 section 4), else the answer to a 334
// challenge. "*" cancels (501).
func (ss *session) saslStep(initial, challenge string) ([]byte, *smtp.Reply) {
	resp := initial
	if resp == "" {
		ss.reply(smtp.R(334, smtp.EnhancedCode{}, challenge))
		if !ss.flush() {
			ss.closed = true
			return nil, smtp.R(421, smtp.EnhancedCode{4, 4, 2}, "Connection lost")
		}
		line, err := ss.tl.ReadLine()
		if err != nil {
			ss.closed = true
			return nil, smtp.R(421, smtp.EnhancedCode{4, 4, 2}, ss.srv.hostname()+" Closing connection")
		}
		resp = string(line)
		ss.tr.ClientSecret("", resp)
	}
	if resp == "*" {
		return nil, smtp.R(501, smtp.CodeSyntax, "Authentication cancelled")
	}
	if resp == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return nil, smtp.R(501, smtp.CodeSyntax, "Invalid base64 in authentication response")
	}
	return b, nil
}
