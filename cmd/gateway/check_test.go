package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckValid(t *testing.T) {
	path := writeFile(t, t.TempDir(), "ok.yaml", `
services: { users: { instances: ["127.0.0.1:9001"] } }
routes: [{ name: users, match: { path: "/users/{id}" }, rewrite: "/u/{id}", service: users }]
`)
	var out, errOut bytes.Buffer
	if code := check([]string{"-config", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "valid") {
		t.Fatalf("stdout %q", out.String())
	}
}

// TestCheckListsEveryProblem: one broken file, every problem reported with
// its key path, exit 1.
func TestCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "broken.yaml", `
server:
  listen: ":8080"
  read_timeout: 10 seconds
  bogus: 1
  tls:
    certificates: [{ cert: missing.pem, key: missing-key.pem }]
services:
  users: { instances: ["127.0.0.1:9001"], balancer: fastest }
rate_limits:
  per_ip: { key: ip, limit: 10, window: 1s }
routes:
  - name: users
    match: { path: "/users/{id}" }
    service: userz
  - name: users
    match: { path: "/users/{id}" }
    service: users
    rate_limit: [per_key]
`)
	var out, errOut bytes.Buffer
	code := check([]string{"-config", path}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got := errOut.String()
	for _, want := range []string{
		"server.read_timeout:",
		"server.bogus:",
		"server.tls.certificates[0]",
		"services.users.balancer:",
		"routes[0].service:",
		"routes[1].name:",
		"routes[1].rate_limit",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestFlagsOverrideEnvOverrideFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "gw.yaml", `
server: { listen: ":1111" }
admin: { listen: "127.0.0.1:2222" }
logging: { level: warn }
services: { a: { instances: ["127.0.0.1:9001"] } }
routes: [{ name: a, match: { path: / }, service: a }]
`)
	t.Setenv("GATEWAY_CONFIG", path)
	t.Setenv("GATEWAY_LISTEN", ":3333")
	t.Setenv("GATEWAY_LOG_LEVEL", "debug")
	s, err := parseFlags("gateway", []string{"-listen", ":4444"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":4444" {
		t.Errorf("listen %q: the flag must win", cfg.Server.Listen)
	}
	if cfg.Logging.Level != "debug" {
		t.Errorf("log level %q: the env var must beat the file", cfg.Logging.Level)
	}
	if cfg.Admin.Listen != "127.0.0.1:2222" {
		t.Errorf("admin %q: the file must beat the default", cfg.Admin.Listen)
	}
}
