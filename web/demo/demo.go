// Package demo is the cookie site under /_demo/: the textbook's four cookie
// components (section 2.2.4) made real. The first response to a browser
// carries a Set-Cookie field with a new identifier (RFC 6265 §4.1, with
// HttpOnly and SameSite=Lax); the browser keeps it in its cookie file and
// sends it back in a Cookie field (§4.2); the site's back-end database
// (package store) counts that identifier's visits and keeps the notes it
// posts through a form (POST, application/x-www-form-urlencoded).
//
// Pages:
//
//	GET  /_demo/        the visit counter and the notes; sets the cookie
//	POST /_demo/note    stores a note, then 303 See Other back to /_demo/
//	POST /_demo/forget  expires the cookie (the database keeps the row)
//	GET  /_demo/whoami  the same facts as text/plain, for curl and tests
package demo

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/store"
)

// Prefix is where the demo is mounted.
const Prefix = "/_demo/"

// CookieName names the identifying cookie.
const CookieName = "applayer_visitor"

// maxForm bounds a posted form.
const maxForm = 8 << 10

// Handler serves the demo from a Store.
type Handler struct {
	Store  store.Store
	Logger *slog.Logger
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// ServeHTTP implements web.Handler.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	page := strings.TrimPrefix(r.Path, Prefix)
	if r.Path == strings.TrimSuffix(Prefix, "/") {
		w.Header().Set("Location", Prefix)
		web.WriteError(w, web.StatusMovedPermanently, "see "+Prefix)
		return
	}
	switch {
	case page == "" && (r.Method == "GET" || r.Method == "HEAD"):
		h.index(ctx, w, r, false)
	case page == "whoami" && (r.Method == "GET" || r.Method == "HEAD"):
		h.index(ctx, w, r, true)
	case page == "note" && r.Method == "POST":
		h.note(ctx, w, r)
	case page == "forget" && r.Method == "POST":
		w.Header().Add("Set-Cookie", CookieName+"=; Path="+Prefix+"; Max-Age=0; HttpOnly; SameSite=Lax")
		seeOther(w)
	case page == "" || page == "whoami" || page == "note" || page == "forget":
		allow := "GET, HEAD"
		if page == "note" || page == "forget" {
			allow = "POST"
		}
		w.Header().Set("Allow", allow)
		web.WriteError(w, web.StatusMethodNotAllowed, r.Method+" is not allowed here")
	default:
		web.NotFound(w, r)
	}
}

// visitor finds the visitor named by the request's cookie, or creates one
// and sets the cookie. count says whether this is a visit to count.
func (h *Handler) visitor(ctx context.Context, w web.ResponseWriter, r *web.Request, count bool) (store.Visitor, error) {
	id := Cookie(r.Header, CookieName)
	if id != "" {
		var v store.Visitor
		var err error
		if count {
			v, err = h.Store.Visit(ctx, id)
		} else {
			v, err = h.Store.Peek(ctx, id)
		}
		if !errors.Is(err, store.ErrUnknownVisitor) {
			return v, err
		}
	}
	id, err := h.Store.NewVisitor(ctx)
	if err != nil {
		return store.Visitor{}, err
	}
	// RFC 6265 §4.1: a cookie for this site's demo pages only, hidden from
	// scripts, not sent on cross-site subrequests, kept for a year.
	w.Header().Add("Set-Cookie", CookieName+"="+id+"; Path="+Prefix+"; Max-Age=31536000; HttpOnly; SameSite=Lax")
	if count {
		return h.Store.Visit(ctx, id)
	}
	return h.Store.Peek(ctx, id)
}

func (h *Handler) index(ctx context.Context, w web.ResponseWriter, r *web.Request, text bool) {
	v, err := h.visitor(ctx, w, r, !text)
	if err != nil {
		h.storeError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	if text {
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "visitor "+v.ID+"\nvisits "+strconv.FormatInt(v.Visits, 10)+"\nnotes "+strconv.Itoa(len(v.Notes))+"\n")
		for _, n := range v.Notes {
			io.WriteString(w, "note "+strconv.Quote(n.Text)+"\n")
		}
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cookie demo</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.4}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>Cookies, the four components</h1>
<p id="visits">This is visit number <strong id="count">`)
	b.WriteString(strconv.FormatInt(v.Visits, 10))
	b.WriteString(`</strong> from your browser.</p>
<ol>
<li>The server's first answer carried <code>Set-Cookie: ` + CookieName + `=` + v.ID[:8] + `…</code>.</li>
<li>Your browser stored it in its cookie file.</li>
<li>Every request since carries <code>Cookie: ` + CookieName + `=…</code>.</li>
<li>The site's database keeps, under that identifier, your visit count (first visit `)
	b.WriteString(v.FirstSeen.UTC().Format("2006-01-02 15:04:05 UTC"))
	b.WriteString(`) and your notes.</li>
</ol>
<form method="post" action="note"><label>Leave a note: <input name="note" maxlength="2000" autofocus></label> <button>Post</button></form>
<h2>Your notes</h2>
<ul id="notes">`)
	for _, n := range v.Notes {
		b.WriteString("<li>")
		b.WriteString(html.EscapeString(n.Text))
		b.WriteString("</li>")
	}
	b.WriteString(`</ul>
<form method="post" action="forget"><button>Forget me (expire the cookie)</button></form>
</body></html>
`)
	io.WriteString(w, b.String())
}

func (h *Handler) note(ctx context.Context, w web.ResponseWriter, r *web.Request) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		web.WriteError(w, web.StatusUnsupportedMediaType, "post the form as application/x-www-form-urlencoded")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		web.WriteError(w, web.StatusBadRequest, "could not read the form")
		return
	}
	if len(body) > maxForm {
		web.WriteError(w, web.StatusContentTooLarge, "the form is larger than "+strconv.Itoa(maxForm)+" bytes")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		web.WriteError(w, web.StatusBadRequest, "malformed form")
		return
	}
	text := strings.TrimSpace(form.Get("note"))
	if text == "" {
		seeOther(w)
		return
	}
	v, err := h.visitor(ctx, w, r, false)
	if err != nil {
		h.storeError(w, err)
		return
	}
	if err := h.Store.AddNote(ctx, v.ID, strings.ToValidUTF8(text, "\uFFFD")); err != nil {
		h.storeError(w, err)
		return
	}
	seeOther(w)
}

// seeOther sends the browser back to the page after a POST (RFC 9110
// §15.4.4), so that reloading does not post again.
func seeOther(w web.ResponseWriter) {
	w.Header().Set("Location", Prefix)
	web.WriteError(w, web.StatusSeeOther, "see "+Prefix)
}

func (h *Handler) storeError(w web.ResponseWriter, err error) {
	h.logger().Error("demo: store failed", "err", err)
	web.WriteError(w, web.StatusServiceUnavailable, "the database is not answering")
}

// Cookie returns the value of the cookie named name in the request's Cookie
// fields (RFC 6265 §4.2.1: "name=value; name2=value2"), or "".
func Cookie(h web.Header, name string) string {
	for _, v := range h.Values("Cookie") {
		for pair := range strings.SplitSeq(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && k == name {
				return strings.Trim(val, `"`)
			}
		}
	}
	return ""
}
