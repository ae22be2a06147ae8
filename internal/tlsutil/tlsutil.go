// Package tlsutil gives a server its TLS certificate: one loaded from files
// the operator names, or a self-signed one created on first run and kept in
// the server's data directory, so that STARTTLS works out of the box and a
// client can pin the certificate file it finds there.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
)

// Names of the files a self-signed certificate is kept in.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// Load reads a PEM certificate chain and key.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, fmt.Errorf("tlsutil: %w", err)
	}
	return c, nil
}

// LoadOrCreate returns the certificate kept in dir (CertFile and KeyFile),
// creating a self-signed one for hosts (DNS names or IP addresses) when
// there is none. The key is written with mode 0600, and both files are
// written to a temporary name and renamed, so a crash never leaves half a
// key behind.
func LoadOrCreate(dir string, hosts []string) (tls.Certificate, error) {
	cf, kf := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	if c, err := tls.LoadX509KeyPair(cf, kf); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("tlsutil: %w", err)
	}
	certPEM, keyPEM, err := SelfSigned(hosts, 10*365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsutil: %w", err)
	}
	if err := atomicfile.WriteFile(kf, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsutil: %w", err)
	}
	if err := atomicfile.WriteFile(cf, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsutil: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// SelfSigned creates a self-signed ECDSA P-256 certificate for hosts, valid
// for the given time, usable both as a server certificate and as its own
// root (so a client can trust exactly this file).
func SelfSigned(hosts []string, valid time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	cn := "applayer"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"applayer (self-signed)"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(valid),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// CertPool returns a pool holding the certificates of a PEM file, for a
// client that trusts exactly those.
func CertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tlsutil: no certificate in %s", file)
	}
	return p, nil
}

// ClientConfig is cfg (an empty config when nil) with ServerName set to
// host when it has none and verification is on: what a client needs to
// check the certificate of the server it dialled or upgraded to TLS.
func ClientConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	return cfg
}
