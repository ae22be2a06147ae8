package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeepsCertificate(t *testing.T) {
	dir := t.TempDir()
	c1, err := LoadOrCreate(dir, []string{"mail.crepes.fr", "127.0.25.1"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := LoadOrCreate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Error("second LoadOrCreate made a new certificate; want the kept one")
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	pool, err := CertPool(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(c1.Certificate[0])
	for _, name := range []string{"mail.crepes.fr", "127.0.25.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("Verify(%s) = %v", name, err)
		}
	}
	_ = tls.Certificate{}
}

func TestLoadOrCreateRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, CertFile), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600)
	if _, err := LoadOrCreate(dir, nil); err == nil {
		t.Error("LoadOrCreate over garbage files succeeded; want an error, not a silent overwrite")
	}
}
