package upper

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

// The textbook's own Python clients against our server.
func TestPeerPythonClients(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	tcpAddr, udpAddr := startServer(t, &Server{})
	for _, tt := range []struct{ script, addr, sentence, want string }{
		{"testdata/UDPClient.py", udpAddr, "hello from python", "HELLO FROM PYTHON\n"},
		{"testdata/UDPClient.py", udpAddr, "héllo wörld", "HÉLLO WÖRLD\n"},
		{"testdata/TCPClient.py", tcpAddr, "hello over tcp", "From Server: HELLO OVER TCP\n"},
		{"testdata/TCPClient.py", tcpAddr, "ça va", "From Server: ÇA VA\n"},
	} {
		host, port, _ := net.SplitHostPort(tt.addr)
		cmd := exec.Command(py, tt.script, host, port, tt.sentence)
		cmd.Env = append(cmd.Environ(), "PYTHONIOENCODING=utf-8")
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != tt.want {
			t.Errorf("%s %q: %q, %v; want %q", tt.script, tt.sentence, out, err, tt.want)
		}
	}
}

// Our client against the textbook's own Python servers.
func TestPeerPythonServers(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	start := func(script string) string {
		cmd := exec.Command(py, script)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		port, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("%s did not print its port: %v", script, err)
		}
		return "127.0.0.1:" + strings.TrimSpace(port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := DialUDP(ctx, start("testdata/UDPServer.py"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ans, _, err := conn.Exchange(ctx, []byte("to the textbook's server"), time.Second, 2)
	if err != nil || string(ans) != "TO THE TEXTBOOK'S SERVER" {
		t.Errorf("UDP exchange with UDPServer.py = %q, %v", ans, err)
	}

	ans, err = SendTCP(ctx, start("testdata/TCPServer.py"), []byte("tcp to the textbook"), Options{})
	if err != nil || string(ans) != "TCP TO THE TEXTBOOK" {
		t.Errorf("TCP exchange with TCPServer.py = %q, %v", ans, err)
	}
}

// nc (OpenBSD netcat) as a plain TCP and UDP peer.
func TestPeerNetcat(t *testing.T) {
	nc := peertest.Require(t, "nc", "netcat-openbsd")
	tcpAddr, udpAddr := startServer(t, &Server{})

	host, port, _ := net.SplitHostPort(tcpAddr)
	// -N shuts down the writing side at end of input: the half-close case.
	cmd := exec.Command(nc, "-N", host, port)
	cmd.Stdin = strings.NewReader("line one\nline two, ça va\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "LINE ONE\nLINE TWO, ÇA VA\n" {
		t.Errorf("nc over TCP: %q, %v", out, err)
	}

	host, port, _ = net.SplitHostPort(udpAddr)
	// -w1: give up one second after the input ends; -q is not portable.
	cmd = exec.Command(nc, "-u", "-w1", host, port)
	cmd.Stdin = strings.NewReader("a datagram")
	out, _ = cmd.Output()
	if string(out) != "A DATAGRAM" {
		t.Errorf("nc over UDP: %q, want %q", out, "A DATAGRAM")
	}
}
