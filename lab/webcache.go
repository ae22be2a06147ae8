package lab

import (
	"context"
	"net"

	"github.com/applayer/applayer/web/proxy"
)

func init() {
	Kinds["web-cache"] = newWebCache
	defaultSpecs = append(defaultSpecs,
		// The institution's cache: the browsers' forward proxy.
		Spec{Name: "cache", Kind: "web-cache", Host: "127.0.80.3", Port: 3128},
		// A reverse cache (an accelerator) in front of www.someschool.edu.
		Spec{Name: "www-cache", Kind: "web-cache", Host: "127.0.80.2", Port: 8080, Args: map[string]string{"reverse": "web"}},
	)
}

// webCacheService is a caching proxy (web/proxy): forward, or with the
// Arg "reverse" naming another service, a reverse cache in front of it.
type webCacheService struct {
	spec   Spec
	addr   string
	origin string // the reverse role's origin address
	www    string // the web service's address, for the try lines
	bin    string
	srv    *proxy.Server
	l      net.Listener
}

func newWebCache(spec Spec, env *Env) (Service, error) {
	s := &webCacheService{spec: spec, addr: env.Addr(spec), bin: env.Bin}
	s.www, _ = env.Lookup("web")
	if name := spec.Args["reverse"]; name != "" {
		o, ok := env.Lookup(name)
		if !ok {
			return nil, &net.AddrError{Err: "reverse: no service named " + name, Addr: name}
		}
		s.origin = o
	}
	logger := env.Logger.With("service", spec.Name)
	s.srv = &proxy.Server{Origin: s.origin, Logger: logger, Trace: env.Trace}
	s.srv.HTTP.Logger = logger
	s.srv.HTTP.Trace = env.Trace
	return s, nil
}

func (s *webCacheService) Bind(ctx context.Context) ([]Endpoint, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	s.l = l
	// Each line shows a miss (run again: a hit, or a revalidation once the
	// copy is stale), a hit (max-stale: the client takes the copy even if
	// stale; the sample's files are new, so their heuristic lifetime,
	// RFC 9111 §4.2.2, is short), and a revalidation: a reload (no-cache)
	// makes the cache ask the origin with If-None-Match, the textbook's
	// conditional GET, and the origin's 304 lets it answer from its copy.
	show := " -s -o /dev/null -w '%{http_code} %header{x-cache}\\n'"
	if s.origin != "" {
		u := "http://" + s.addr + "/"
		return []Endpoint{{Service: s.spec.Name, Proto: "http reverse cache", Addr: s.addr,
			Try: "curl" + show + " " + u + " && curl" + show + " -H 'Cache-Control: max-stale=3600' " + u + " && curl" + show + " -H 'Cache-Control: no-cache' " + u}}, nil
	}
	u := "http://" + s.www + "/"
	px := " -x http://" + s.addr
	return []Endpoint{{Service: s.spec.Name, Proto: "http proxy cache", Addr: s.addr,
		Try: "curl" + show + px + " " + u + " && curl" + show + px + " -H 'Cache-Control: max-stale=3600' " + u + " && curl" + show + px + " -H 'Cache-Control: no-cache' " + u}}, nil
}

func (s *webCacheService) Serve() error { return s.srv.Serve(s.l) }

func (s *webCacheService) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.l.Close()
	return err
}
