package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixtureDir holds the files the test configs name (certificates, keys,
// secrets), generated once per test binary by TestMain. Configs are parsed
// as if they lived in this directory, so their relative names resolve to
// these files.
var fixtureDir string

// fixtureEnv are the environment variables the test configs name.
var fixtureEnv = map[string]string{
	"JWT_HMAC_SECRET":      "0123456789abcdef0123456789abcdef",
	"REDIS_PASSWORD":       "redis-secret",
	"INTROSPECTION_SECRET": "introspection-secret",
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "config-fixtures-")
	if err != nil {
		panic(err)
	}
	if err := writeFixtures(dir); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setFixtureEnv sets the environment variables the test configs name, for
// the duration of t.
func setFixtureEnv(t testing.TB) {
	for k, v := range fixtureEnv {
		t.Setenv(k, v)
	}
}

// fixturePath returns the path a test config named name is parsed as.
func fixturePath(name string) string {
	return filepath.Join(fixtureDir, name)
}

// writeFixtures writes the files named by testdata/*.yaml:
//
//	certs/api.pem, certs/api-key.pem  a matching certificate and key
//	certs/other-key.pem               a key that matches no certificate
//	keys/rsa-1.pub                    an RSA public key
//	keys/ec-1.pub                     an ECDSA P-256 public key
//	keys/private.pem                  a private key (refused as pem_file)
//	keys/hmac.secret, keys/empty.secret
//	keys/api-keys.yaml, keys/jwks.json
//	logs/                             a directory for access logs
func writeFixtures(dir string) error {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "api.example.com"},
		DNSNames:     []string{"api.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		return err
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		return err
	}
	otherDER, err := x509.MarshalECPrivateKey(otherKey)
	if err != nil {
		return err
	}
	rsaPub, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		return err
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"certs/api.pem":       pemBlock("CERTIFICATE", certDER),
		"certs/api-key.pem":   pemBlock("EC PRIVATE KEY", ecDER),
		"certs/other-key.pem": pemBlock("EC PRIVATE KEY", otherDER),
		"keys/rsa-1.pub":      pemBlock("PUBLIC KEY", rsaPub),
		"keys/ec-1.pub":       pemBlock("PUBLIC KEY", ecPub),
		"keys/private.pem":    pemBlock("EC PRIVATE KEY", ecDER),
		"keys/hmac.secret":    []byte("0123456789abcdef0123456789abcdef\n"),
		"keys/empty.secret":   []byte("\n"),
		"keys/api-keys.yaml":  []byte("keys: []\n"),
		"keys/jwks.json":      []byte(`{"keys":[]}` + "\n"),
		"logs/.keep":          nil,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
