package web

import (
	"io"
	"strconv"
	"strings"
)

// accessLog writes one Combined Log Format line for the exchange just
// finished:
//
//	host ident authuser [date] "request line" status bytes "referer" "user-agent"
func (c *conn) accessLog() {
	w := c.s.AccessLog
	if w == nil {
		return
	}
	r, resp := &c.req, &c.resp
	b := c.line[:0]
	b = append(b, c.host...)
	b = append(b, " - "...)
	if u := resp.user(); u != "" {
		b = appendQuoted(b, u, false)
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = append(b, c.s.clock.tick().clf...)
	b = append(b, " \""...)
	if r.Method != "" {
		b = appendQuoted(b, r.Method, false)
		b = append(b, ' ')
		b = appendQuoted(b, r.Target, false)
		b = append(b, ' ')
		b = append(b, r.Proto...)
	} else {
		b = append(b, '-')
	}
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(resp.status), 10)
	b = append(b, ' ')
	if resp.sent > 0 {
		b = strconv.AppendInt(b, resp.sent, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendQuoted(b, r.Header.Get("Referer"), true)
	b = append(b, "\" \""...)
	b = appendQuoted(b, r.Header.Get("User-Agent"), true)
	b = append(b, "\"\n"...)
	c.line = b
	c.s.writeLog(w, b)
}

// writeLog writes one access-log line; the lock is released even if the
// writer panics, so that one bad writer cannot stop every connection.
func (s *Server) writeLog(w io.Writer, b []byte) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	w.Write(b)
}

// appendQuoted appends s with quotes, backslashes and non-printable bytes
// escaped as \xHH, so that a client cannot forge log lines.
func appendQuoted(b []byte, s string, dashIfEmpty bool) []byte {
	if s == "" && dashIfEmpty {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < ' ' || ch >= 0x7f:
			b = append(b, '\\', 'x', "0123456789abcdef"[ch>>4], "0123456789abcdef"[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return b
}

// user is the authenticated user a handler reported with the
// "X-Applayer-User" pseudo-field, which is removed before sending.
func (r *response) user() string { return r.authUser }

// traceRequest records the request head as C: lines.
func (c *conn) traceRequest() {
	if !c.tr.Enabled() {
		return
	}
	r := &c.req
	c.tr.Client(r.Method + " " + r.Target + " " + r.Proto)
	for _, f := range r.Header {
		if equalFold(f.Name, "Authorization") || equalFold(f.Name, "Proxy-Authorization") {
			scheme, cred, _ := strings.Cut(f.Value, " ")
			c.tr.ClientSecret(f.Name+": "+scheme+" ", cred)
			continue
		}
		c.tr.Client(f.Name + ": " + f.Value)
	}
	c.tr.Client("")
}

// traceHead records a response head as S: lines.
func (c *conn) traceHead(head []byte) {
	for line := range strings.SplitSeq(strings.TrimSuffix(string(head), "\r\n"), "\r\n") {
		c.tr.Server(line)
	}
}
