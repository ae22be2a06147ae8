package lab

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/applayer/applayer/ftp"
)

func init() {
	Kinds["ftp"] = newFTPService
	defaultSpecs = append(defaultSpecs, Spec{
		Name: "ftp", Kind: "ftp", Host: "127.0.21.1", Port: 21,
		Records: []string{"ftp.someschool.edu. 300 IN A 127.0.21.1"},
	})
}

// ftpService is ftp.someschool.edu: an anonymous, read-only FTP server on
// a sample tree written into the service's directory.
type ftpService struct {
	spec Spec
	env  *Env
	addr string
	dir  string
	temp bool
	srv  *ftp.Server
	l    net.Listener
}

func newFTPService(spec Spec, env *Env) (Service, error) {
	return &ftpService{spec: spec, env: env, addr: env.Addr(spec)}, nil
}

// ftpSample is the tree the lab's FTP server offers.
var ftpSample = map[string]string{
	"README.txt": "Welcome to ftp.someschool.edu, the lab's FTP server.\n" +
		"Anonymous access is read only. Try: ls, cd pub, get notes.txt\n",
	"pub/notes.txt": "FTP runs two connections: a control connection for commands and\n" +
		"replies (USER, PASS, LIST, RETR, ... and 331, 150, 226), and a new data\n" +
		"connection for each file or listing. The control information is sent\n" +
		"out of band, and the server keeps state: the user, the current directory.\n",
	"pub/rfc/README.txt": "RFC 959 (File Transfer Protocol), RFC 2428 (EPSV, EPRT),\n" +
		"RFC 3659 (SIZE, MDTM, MLSD), RFC 4217 (FTP over TLS).\n",
}

func (s *ftpService) Bind(ctx context.Context) ([]Endpoint, error) {
	dir, temp, err := s.env.ServiceDir(s.spec.Name)
	if err != nil {
		return nil, err
	}
	s.dir, s.temp = dir, temp
	root := filepath.Join(dir, "root")
	for name, text := range ftpSample {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	s.srv = &ftp.Server{
		Root:      root,
		Anonymous: true,
		ReadOnly:  true,
		AuthLimit: s.env.AuthLimit,
		Logger:    s.env.Logger.With("service", s.spec.Name),
		Trace:     s.env.Trace,
	}
	var lc net.ListenConfig
	if s.l, err = lc.Listen(ctx, "tcp", s.addr); err != nil {
		return nil, err
	}
	base := "ftp://" + s.addr + "/"
	name := "ftp.someschool.edu"
	for _, r := range s.spec.Records {
		if f := strings.Fields(r); len(f) > 0 {
			name = strings.TrimSuffix(f[0], ".")
			break
		}
	}
	return []Endpoint{
		{Service: s.spec.Name, Proto: "ftp " + name, Addr: s.addr, Try: "curl -sS " + base + "pub/"},
		{Service: s.spec.Name, Proto: "ftp list", Addr: s.addr, Try: s.env.Bin + " ftp ls " + base + "pub/"},
		{Service: s.spec.Name, Proto: "ftp get", Addr: s.addr, Try: s.env.Bin + " ftp get " + base + "pub/notes.txt --trace"},
	}, nil
}

func (s *ftpService) Serve() error { return s.srv.Serve(s.l) }

func (s *ftpService) Shutdown(ctx context.Context) error {
	var err error
	if s.srv != nil {
		err = s.srv.Shutdown(ctx)
	}
	if s.l != nil {
		s.l.Close()
	}
	if s.temp {
		os.RemoveAll(s.dir)
	}
	return err
}
