package edge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert makes a self-signed certificate for names and writes it and
// its key as PEM files in dir; it returns the two paths.
func writeCert(t testing.TB, dir, base string, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kb)
	return certFile, keyFile
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsGet connects with SNI serverName and returns the served certificate's
// first DNS name and the response status.
func tlsGet(t testing.TB, addr, serverName, path string) (string, int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + path)
	if err != nil {
		t.Fatalf("GET https://%s%s (SNI %s): %v", addr, path, serverName, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.TLS.PeerCertificates[0].DNSNames[0], resp.StatusCode
}

func TestTLSTerminationWithSNI(t *testing.T) {
	a := startBackend(t, "a")
	dir := t.TempDir()
	apiCert, apiKey := writeCert(t, dir, "api", "api.example.com")
	wwwCert, wwwKey := writeCert(t, dir, "www", "www.example.com")
	f := startGateway(t, `
server:
  tls:
    certificates:
      - { cert: "{{apiCert}}", key: "{{apiKey}}" }
      - { cert: "{{wwwCert}}", key: "{{wwwKey}}" }
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: all, match: { path: "/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr, "apiCert": apiCert, "apiKey": apiKey, "wwwCert": wwwCert, "wwwKey": wwwKey})
	addr := f.gw.TLSAddr().String()

	for _, sni := range []string{"api.example.com", "www.example.com"} {
		name, status := tlsGet(t, addr, sni, "/hello")
		if name != sni || status != 200 {
			t.Errorf("SNI %s: certificate for %s, status %d", sni, name, status)
		}
	}
	if v := a.last(t).Header.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto %q over TLS", v)
	}

	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}

	// A reload re-reads the certificate files.
	writeCert(t, dir, "api", "api.example.com", "api2.example.com")
	if err := f.gw.Reload(parseConfig(t, `
server:
  tls:
    certificates:
      - { cert: "{{apiCert}}", key: "{{apiKey}}" }
      - { cert: "{{wwwCert}}", key: "{{wwwKey}}" }
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: all, match: { path: "/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr, "apiCert": apiCert, "apiKey": apiKey, "wwwCert": wwwCert, "wwwKey": wwwKey})); err != nil {
		t.Fatal(err)
	}
	if name, _ := tlsGet(t, addr, "api2.example.com", "/"); name != "api.example.com" {
		t.Errorf("after reload SNI api2 got certificate for %s", name)
	}
}

func TestRedirectHTTPToHTTPS(t *testing.T) {
	a := startBackend(t, "a")
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "api", "api.example.com")
	f := startGateway(t, `
server:
  tls:
    redirect_http: true
    certificates: [{ cert: "{{cert}}", key: "{{key}}" }]
services: { a: { instances: ["{{a}}"] } }
routes: [{ name: all, match: { path: "/{rest...}" }, service: a }]
`, map[string]string{"a": a.addr, "cert": cert, "key": key})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.base + "/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := netSplit(f.gw.TLSAddr().String())
	want := "https://127.0.0.1:" + port + "/path?q=1"
	if resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("got %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if len(a.requests()) != 0 {
		t.Fatal("plain request reached the backend")
	}
}
