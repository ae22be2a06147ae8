package lab

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/demo"
	"github.com/applayer/applayer/web/http2"
	"github.com/applayer/applayer/web/sample"
	"github.com/applayer/applayer/web/store"
)

func init() {
	Kinds["web"] = newWebService
	defaultSpecs = append(defaultSpecs, Spec{
		Name: "web", Kind: "web", Host: "127.0.80.1", Port: 8080,
		Records: []string{"www.someschool.edu. 300 IN A 127.0.80.1"},
	})
}

// webService is www.someschool.edu: the sample site (a page and a dozen
// objects) and the cookie demo with its SQLite database, both in the
// service's directory (see [Env.ServiceDir]). Args: "root" serves that
// directory instead of the generated site.
type webService struct {
	spec Spec
	env  *Env
	addr string
	dir  string
	temp bool // dir is removed at shutdown
	srv  *web.Server
	fsrv *web.FileServer
	st   store.Store
	l    net.Listener
}

func newWebService(spec Spec, env *Env) (Service, error) {
	return &webService{spec: spec, env: env, addr: env.Addr(spec)}, nil
}

func (s *webService) Bind(ctx context.Context) ([]Endpoint, error) {
	dir, temp, err := s.env.ServiceDir(s.spec.Name)
	if err != nil {
		return nil, err
	}
	s.dir, s.temp = dir, temp
	root := s.spec.Args["root"]
	generated := root == ""
	if generated {
		root = filepath.Join(dir, "site")
		if err := sample.Write(root); err != nil {
			return nil, err
		}
	}
	if s.fsrv, err = web.NewFileServer(root); err != nil {
		return nil, err
	}
	if s.st, err = store.OpenSQLite(ctx, filepath.Join(dir, "demo.sqlite")); err != nil {
		return nil, err
	}
	logger := s.env.Logger.With("service", s.spec.Name)
	s.fsrv.Logger = logger
	mux := &web.Mux{}
	mux.Handle("/", s.fsrv)
	dh := &demo.Handler{Store: s.st, Logger: logger}
	mux.Handle(demo.Prefix, dh)
	mux.Handle(strings.TrimSuffix(demo.Prefix, "/"), dh)
	if generated {
		mux.Handle(demo.HOLPrefix, &demo.HOL{Origin: "http://" + s.addr, Page: "/" + sample.HOLPage, Logger: logger})
	}
	s.srv = &web.Server{Handler: mux, Logger: logger, Trace: s.env.Trace,
		HTTP2: &http2.Server{Handler: mux, Logger: logger, Trace: s.env.Trace}}
	var lc net.ListenConfig
	if s.l, err = lc.Listen(ctx, "tcp", s.addr); err != nil {
		return nil, err
	}
	base := "http://" + s.addr + "/"
	name := "www.someschool.edu"
	for _, r := range s.spec.Records {
		if f := strings.Fields(r); len(f) > 0 {
			name = strings.TrimSuffix(f[0], ".")
			break
		}
	}
	try := s.env.Bin + " web get " + base + " --objects"
	if res, ok := s.env.Lookup("resolver"); ok {
		// By name, through the lab's DNS: the textbook's whole sequence.
		_, port, _ := net.SplitHostPort(s.addr)
		try = s.env.Bin + " web get http://" + name + ":" + port + "/ --objects --dns " + res
	}
	// One curl visits the demo page (a visit counted, the cookie set or
	// sent) and then asks whoami: run again, the count grows, because the
	// jar keeps the cookie between runs.
	jar := ShowPath(filepath.Join(dir, "cookies.txt"))
	cookie := "curl -sS -b " + jar + " -c " + jar + " " + base + "_demo/ -o /dev/null " + base + "_demo/whoami"
	// The textbook's RTT model on one machine: a 20 ms round trip added
	// by the client, persistent then non-persistent.
	rtt := s.env.Bin + " web get " + base + " --objects --rtt 20ms"
	eps := []Endpoint{
		{Service: s.spec.Name, Proto: "http " + name, Addr: s.addr, Try: try},
		{Service: s.spec.Name, Proto: "http persistent", Addr: s.addr, Try: rtt},
		{Service: s.spec.Name, Proto: "http non-persistent", Addr: s.addr, Try: rtt + " --non-persistent"},
		{Service: s.spec.Name, Proto: "http cookie demo", Addr: s.addr, Try: cookie},
		// HTTP/2 on the same port (h2c): every object on one connection,
		// at once, with the per-stream timeline of their interleaved
		// frames.
		{Service: s.spec.Name, Proto: "http/2 (h2c)", Addr: s.addr, Try: s.env.Bin + " web get " + base + " --http2 --objects"},
	}
	if generated {
		// Head-of-line blocking (section 2.2.6): one large object, then
		// small ones, through a simulated 20 Mbit/s link; the page at
		// /_hol/ draws both timelines side by side.
		hol := base + sample.HOLPage
		eps = append(eps,
			Endpoint{Service: s.spec.Name, Proto: "http/1.1 head-of-line", Addr: s.addr, Try: s.env.Bin + " web get " + hol + " --objects --rate 20Mbit"},
			Endpoint{Service: s.spec.Name, Proto: "http/2 interleaved", Addr: s.addr, Try: s.env.Bin + " web get " + hol + " --http2 --objects --rate 20Mbit"},
			Endpoint{Service: s.spec.Name, Proto: "http/1.1 vs http/2 (page " + demo.HOLPrefix + ")", Addr: s.addr, Try: "curl -sS " + base + strings.TrimPrefix(demo.HOLPrefix, "/") + "summary"},
		)
	}
	return eps, nil
}

func (s *webService) Serve() error { return s.srv.Serve(s.l) }

func (s *webService) Shutdown(ctx context.Context) error {
	var err error
	if s.srv != nil {
		err = s.srv.Shutdown(ctx)
	}
	if s.l != nil {
		s.l.Close()
	}
	if s.st != nil {
		s.st.Close()
	}
	if s.fsrv != nil {
		s.fsrv.Close()
	}
	if s.temp {
		os.RemoveAll(s.dir)
	}
	return err
}
