package web

import "strings"

// Mux sends each request to the handler of the longest path prefix that
// matches it. A prefix that ends in "/" matches everything below it; the
// prefix "/" matches everything.
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
	var best *route
	for i := range m.routes {
		rt := &m.routes[i]
		p := rt.prefix
		ok := r.Path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(r.Path, p)
		if ok && (best == nil || len(p) > len(best.prefix)) {
			best = rt
		}
	}
	if best == nil {
		NotFound(w, r)
		return
	}
	best.h.ServeHTTP(w, r)
}
