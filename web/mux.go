package web

import "strings"

// Mux sends each request to the handler of the longest path prefix that
// matches it. A prefix that ends in "/" matches everything below it; the
// prefix "/" matches everything, including the requests that name no path:
// "OPTIONS *" (asterisk-form) and CONNECT's host:port (authority-form), which
// ask about the server as a whole (RFC 9110 §9.3.6, §9.3.7).
type Mux struct {
	routes []route
}

type route struct {
	prefix string
	h      Handler
}

// Handle routes requests under prefix to h.
func (m *Mux) Handle(prefix string, h Handler) {
	m.routes = append(m.routes, route{prefix, h})
}

// ServeHTTP implements Handler.
func (m *Mux) ServeHTTP(w ResponseWriter, r *Request) {
	h := m.match(r)
	if h == nil {
		NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// inline reports whether the handler r goes to answers it without blocking
// (see inlineHandler).
func (m *Mux) inline(r *Request) bool {
	h, ok := m.match(r).(inlineHandler)
	return ok && h.inline(r)
}

func (m *Mux) match(r *Request) Handler {
	path := r.Path
	if r.Form == AsteriskForm || r.Form == AuthorityForm {
		path = "/"
	}
	var best *route
	for i := range m.routes {
		rt := &m.routes[i]
		p := rt.prefix
		ok := path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)
		if ok && (best == nil || len(p) > len(best.prefix)) {
			best = rt
		}
	}
	if best == nil {
		return nil
	}
	return best.h
}
