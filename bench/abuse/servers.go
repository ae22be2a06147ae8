//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A server is one target, running as its own process on 127.0.0.1.
type server struct {
	name string // "applayer", "nginx", "postfix"
	addr string // the attacked TCP address (and UDP for DNS)
	sub  string // applayer mail: the submission address
	data string // applayer mail: the data directory
	cmd  *exec.Cmd
	env  *env
}

func (s *server) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// pids is the server's process and its children.
func (s *server) pids() []int { return procTree(s.cmd.Process.Pid) }

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		// Postfix's children, nginx's workers: the whole group.
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	// What the master left behind in its group (nginx's worker).
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.env.mu.Lock()
	delete(s.env.running, s)
	s.env.mu.Unlock()
}

// env is what starting servers needs.
type env struct {
	bin string // the applayer binary
	dir string // scratch directory, removed at the end
	n   int    // servers started, for unique directories

	mu      sync.Mutex
	running map[*server]bool
}

// killAll kills every server still running, with its process group (an
// interrupted run).
func (e *env) killAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.running {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (e *env) subdir(name string) (string, error) {
	e.n++
	d := filepath.Join(e.dir, fmt.Sprintf("%02d-%s", e.n, name))
	return d, os.MkdirAll(d, 0o755)
}

// start runs argv with its output in dir/log, in its own process group,
// and waits until addr accepts connections.
func (e *env) start(name, dir, addr string, argv ...string) (*server, error) {
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: name, addr: addr, cmd: cmd, env: e}
	e.mu.Lock()
	if e.running == nil {
		e.running = map[*server]bool{}
	}
	e.running[s] = true
	e.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			out, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("%s never listened on %s: %s", name, addr, strings.TrimSpace(string(out)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// site is the document root the web servers serve: index.html of 1 KiB.
func site(dir string) (string, error) {
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	return root, os.WriteFile(filepath.Join(root, "index.html"), []byte(strings.Repeat("a", 1023)+"\n"), 0o644)
}

func (e *env) applayerWeb() (*server, error) {
	dir, err := e.subdir("web")
	if err != nil {
		return nil, err
	}
	root, err := site(dir)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return e.start("applayer", dir, addr, e.bin, "web", "serve", "--root", root, "--listen", addr, "--no-demo", "--log-level", "error")
}

// nginx runs Debian's nginx with a private configuration shaped like
// applayer's defaults: one worker, 4,096 connections, keep-alive 60 s,
// 10 s for a request head.
func (e *env) nginx() (*server, error) {
	if _, err := exec.LookPath("nginx"); err != nil {
		return nil, errors.New("nginx not installed (Debian package nginx)")
	}
	dir, err := e.subdir("nginx")
	if err != nil {
		return nil, err
	}
	root, err := site(dir)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_timeout 60s;
	client_header_timeout 10s;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s;
		root %[3]s;
	}
}
`, dir, addr, root)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return e.start("nginx", dir, addr, "nginx", "-c", cf, "-e", filepath.Join(dir, "error.log"))
}

func (e *env) applayerMail() (*server, error) {
	dir, err := e.subdir("mail")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	add := exec.Command(e.bin, "mail", "user", "add", "--data", data, "alice@crepes.fr")
	add.Stdin = strings.NewReader("right-password\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mail user add: %v: %s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	sub, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s, err := e.start("applayer", dir, addr, e.bin, "mail", "serve", "--domain", "crepes.fr", "--data", data,
		"--listen", addr, "--submission", sub, "--log-level", "error")
	if err != nil {
		return nil, err
	}
	s.sub, s.data = sub, data
	return s, nil
}

// postfix runs a private Postfix instance (its master in the foreground,
// as root; the daemons drop to the postfix user) on a loopback port: one
// smtpd process per session up to procs, mail for example.org discarded.
// Loopback clients are not exempt from anvil's per-client limits, so that
// the attacker on 127.0.0.1 meets them as a remote one would.
func (e *env) postfix(procs int) (*server, error) {
	if _, err := os.Stat("/usr/lib/postfix/sbin/master"); err != nil {
		return nil, errors.New("postfix not installed (Debian package postfix)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a private Postfix needs root (its daemons drop to the postfix user)")
	}
	dir, err := e.subdir("postfix")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, d := range []string{"etc", "queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.abuse.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = example.org
default_transport = discard
relay_transport = discard
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_client_event_limit_exceptions =
alias_maps =
alias_database =
local_recipient_maps =
maillog_file = /dev/stdout
default_process_limit = %[2]d
`, dir, procs)
	if err := os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(main), 0o644); err != nil {
		return nil, err
	}
	mc, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(mc), "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			if f[0] == "smtp" && f[1] == "inet" {
				f[0] = port
			}
			if f[4] == "y" || f[4] == "-" {
				f[4] = "n" // no chroot: the private queue is not in it
			}
			line = strings.Join(f, " ")
		}
		out = append(out, line)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "master.cf"), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		return nil, err
	}
	exec.Command("chown", "postfix", filepath.Join(dir, "data")).Run()
	exec.Command("postfix", "-c", filepath.Join(dir, "etc"), "check").Run() // creates the queue directories
	return e.start("postfix", dir, addr, "/usr/lib/postfix/sbin/master", "-c", filepath.Join(dir, "etc"), "-d")
}

// zone is the DNS target's zone: a name with many records at the apex, so
// that a full ANY answer would be large.
const zone = `$ORIGIN abuse.test.
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
@    IN NS  ns2
@    IN A   127.0.0.1
@    IN AAAA ::1
@    IN MX  10 mail
@    IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
@    IN TXT "google-site-verification=0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
@    IN TXT "MS=ms0123456789 an attacker's favourite: a long text record at the apex"
@    IN TXT "another long text record at the apex, padding the full ANY answer out"
@    IN TXT "and one more, because real apexes carry a dozen verification tokens"
ns1  IN A   127.0.0.1
ns2  IN A   127.0.0.1
mail IN A   127.0.0.1
www  IN A   127.0.0.1
`

func (e *env) applayerDNS() (*server, error) {
	dir, err := e.subdir("dns")
	if err != nil {
		return nil, err
	}
	zf := filepath.Join(dir, "abuse.test.zone")
	if err := os.WriteFile(zf, []byte(zone), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return e.start("applayer", dir, addr, e.bin, "dns", "serve", "--zone", zf, "--listen", addr, "--log-level", "error")
}

func (e *env) applayerUpper() (*server, error) {
	dir, err := e.subdir("upper")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return e.start("applayer", dir, addr, e.bin, "upper", "serve", "--tcp", "--listen", addr, "--log-level", "error")
}
