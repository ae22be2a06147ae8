//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The wire side of the attacks and probes is written by hand, byte by
// byte, as an attacker's tool would be: nothing here trusts applayer's own
// clients.

// dialFrom opens a TCP connection from src (port chosen by the kernel).
func dialFrom(ctx context.Context, src netip.Addr, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	return d.DialContext(ctx, "tcp", addr)
}

// readReply reads one SMTP reply, multi-line or not.
func readReply(r *bufio.Reader) (int, string, error) {
	var text strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, text.String(), err
		}
		if len(line) < 4 {
			return 0, text.String(), fmt.Errorf("short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, text.String(), fmt.Errorf("bad reply line %q", line)
		}
		text.WriteString(line)
		if line[3] != '-' {
			return code, text.String(), nil
		}
	}
}

// smtpCmd writes a command line and reads its reply.
func smtpCmd(c net.Conn, r *bufio.Reader, line string) (int, string, error) {
	if _, err := io.WriteString(c, line+"\r\n"); err != nil {
		return 0, "", err
	}
	return readReply(r)
}

// httpResponse reads one response with a Content-Length body and returns
// its status code.
func httpResponse(r *bufio.Reader) (int, error) {
	status, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return 0, fmt.Errorf("bad status line %q", status)
	}
	code, _ := strconv.Atoi(f[1])
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return code, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	_, err = io.CopyN(io.Discard, r, int64(length))
	return code, err
}

const httpGet = "GET / HTTP/1.1\r\nHost: abuse.test\r\nUser-Agent: abuse\r\n\r\n"

// dnsQuery builds a query for name and qtype, with an EDNS0 OPT record
// offering udpSize when udpSize > 0.
func dnsQuery(name string, qtype uint16, udpSize uint16) (id uint16, msg []byte) {
	var b [2]byte
	rand.Read(b[:])
	id = binary.BigEndian.Uint16(b[:])
	msg = binary.BigEndian.AppendUint16(msg, id)
	msg = append(msg, 0x01, 0x00) // RD
	ar := uint16(0)
	if udpSize > 0 {
		ar = 1
	}
	msg = binary.BigEndian.AppendUint16(msg, 1)
	msg = binary.BigEndian.AppendUint16(msg, 0)
	msg = binary.BigEndian.AppendUint16(msg, 0)
	msg = binary.BigEndian.AppendUint16(msg, ar)
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		msg = append(msg, byte(len(l)))
		msg = append(msg, l...)
	}
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint16(msg, qtype)
	msg = binary.BigEndian.AppendUint16(msg, 1) // IN
	if udpSize > 0 {
		msg = append(msg, 0)                         // root
		msg = binary.BigEndian.AppendUint16(msg, 41) // OPT
		msg = binary.BigEndian.AppendUint16(msg, udpSize)
		msg = append(msg, 0, 0, 0, 0, 0, 0) // TTL, RDLENGTH
	}
	return id, msg
}

// dnsCheck reports whether resp answers query id with NOERROR and at least
// one answer record; it returns the answer count and the TC bit.
func dnsCheck(resp []byte, id uint16) (ancount int, tc bool, err error) {
	if len(resp) < 12 {
		return 0, false, errors.New("short DNS message")
	}
	if binary.BigEndian.Uint16(resp) != id {
		return 0, false, errors.New("DNS answer to another query")
	}
	if rc := resp[3] & 0x0f; rc != 0 {
		return 0, false, fmt.Errorf("DNS rcode %d", rc)
	}
	return int(binary.BigEndian.Uint16(resp[6:])), resp[2]&0x02 != 0, nil
}

// A probe is one fresh client's try: connect from src, do one exchange,
// report an error unless it was served.
type probe func(ctx context.Context, src netip.Addr, addr string) error

const probeTimeout = 5 * time.Second

func probeHTTP(ctx context.Context, src netip.Addr, addr string) error {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: abuse.test\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	code, err := httpResponse(bufio.NewReader(c))
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("HTTP %d", code)
	}
	return nil
}

func probeSMTP(ctx context.Context, src netip.Addr, addr string) error {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	r := bufio.NewReader(c)
	code, text, err := readReply(r)
	if err != nil {
		return err
	}
	if code != 220 {
		return fmt.Errorf("greeting %q", strings.TrimSpace(text))
	}
	if code, text, err = smtpCmd(c, r, "EHLO probe.abuse.test"); err != nil {
		return err
	}
	if code != 250 {
		return fmt.Errorf("EHLO: %q", strings.TrimSpace(text))
	}
	smtpCmd(c, r, "QUIT")
	return nil
}

func probeDNSTCP(ctx context.Context, src netip.Addr, addr string) error {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	id, q := dnsQuery("www.abuse.test", 1, 0)
	if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(q)))); err != nil {
		return err
	}
	if _, err := c.Write(q); err != nil {
		return err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	n, _, err := dnsCheck(resp, id)
	if err == nil && n == 0 {
		err = errors.New("no answer")
	}
	return err
}

func probeUpper(ctx context.Context, src netip.Addr, addr string) error {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := io.WriteString(c, "fresh client\n"); err != nil {
		return err
	}
	got := make([]byte, len("FRESH CLIENT\n"))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != "FRESH CLIENT\n" {
		return fmt.Errorf("answered %q", got)
	}
	return nil
}
