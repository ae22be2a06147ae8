//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// More attacks live in a file per server (ftp.go, http2.go, ...), each
// registering its table from an init function, so that adding a server's
// attacks touches no shared line.
var more []func(r *runner) []attack

func register(f func(r *runner) []attack) { more = append(more, f) }

func registered(r *runner) []attack {
	var a []attack
	for _, f := range more {
		a = append(a, f(r)...)
	}
	return a
}

// cpuTime is the user+system CPU time the processes used so far
// (/proc/PID/stat, fields 14 and 15).
func cpuTime(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// fdCount is the number of descriptors the processes hold.
func fdCount(pids []int) int {
	n := 0
	for _, pid := range pids {
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err == nil {
			n += len(ents)
		}
	}
	return n
}

// selfSigned writes a fresh self-signed certificate for abuse.test and
// 127.0.0.1 and its key, PEM, for the TLS servers under attack.
func selfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "abuse.test"},
		DNSNames:     []string{"abuse.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
}
