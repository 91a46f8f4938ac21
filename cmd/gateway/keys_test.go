package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/gateway/internal/redistest"
	"github.com/edgegate/gateway/jwtcache"
)

// runKeysCmd runs `gateway keys args...` and returns the exit code and
// what it printed.
func runKeysCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := keysCommand(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// issuedKey returns the raw key and hash an issue or rotate printed.
func issuedKey(t *testing.T, out string) (raw, hash string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], jwtcache.KeyPrefix) || !strings.HasPrefix(lines[1], "hash:") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	raw, hash = lines[0], strings.TrimSpace(strings.TrimPrefix(lines[1], "hash:"))
	if hash != jwtcache.HashKey(raw) {
		t.Fatalf("printed hash %s is not the key's", hash)
	}
	return raw, hash
}

func TestKeysCommandWithKeyFile(t *testing.T) {
	t.Setenv("GATEWAY_REDIS", "")
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gateway.yaml", `
auth:
  api_keys:
    source: file
    file: api-keys.yaml
`)
	keyFile := filepath.Join(dir, "api-keys.yaml")

	// The first issue creates the key file the configuration names.
	code, out, errOut := runKeysCmd(t, "issue", "-config", cfg, "-consumer", "acme", "-plan", "gold", "-expires", "720h")
	if code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errOut)
	}
	raw, hash := issuedKey(t, out)
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), raw) || !strings.Contains(string(data), hash) {
		t.Fatalf("key file holds the raw key or lacks the hash:\n%s", data)
	}

	verifier, err := jwtcache.NewAPIKeys(jwtcache.APIKeyOptions{File: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	if id, verr := verifier.Verify([]byte(raw)); verr != nil || string(id.Consumer) != "acme" {
		t.Fatalf("issued key: %v, %v", id, verr)
	}

	code, out, errOut = runKeysCmd(t, "rotate", "-config", cfg, "-key", raw, "-grace", "1h")
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	successor, _ := issuedKey(t, out)
	if !strings.Contains(out, "replaces: "+hash) {
		t.Fatalf("rotate output does not name the old key:\n%s", out)
	}

	if code, _, errOut = runKeysCmd(t, "revoke", "-config", cfg, "-key", successor); code != 0 {
		t.Fatalf("revoke -key: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runKeysCmd(t, "revoke", "-config", cfg, "-hash", hash); code != 0 {
		t.Fatalf("revoke -hash: exit %d: %s", code, errOut)
	}
	// A fresh verifier reads the file as a gateway would after its poll.
	fresh, err := jwtcache.NewAPIKeys(jwtcache.APIKeyOptions{File: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, k := range []string{raw, successor} {
		if _, verr := fresh.Verify([]byte(k)); verr == nil || verr.Status != 403 {
			t.Fatalf("revoked key: %v, want 403", verr)
		}
	}

	if code, _, errOut = runKeysCmd(t, "revoke", "-config", cfg, "-key", "gw_never-issued"); code != 1 || !strings.Contains(errOut, "no such API key") {
		t.Fatalf("revoking an unknown key: exit %d: %s", code, errOut)
	}
}

func TestKeysCommandWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("GATEWAY_REDIS", "")
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", `
auth:
  api_keys: { header: X-API-Key }
`)
	// -redis makes Redis the key store, as it does for serve.
	code, out, errOut := runKeysCmd(t, "issue", "-config", cfg, "-redis", srv.Addr, "-consumer", "acme")
	if code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errOut)
	}
	raw, hash := issuedKey(t, out)
	if got, err := srv.Do("HGET", "apikey:{"+hash+"}", "consumer"); err != nil || got != "acme" {
		t.Fatalf("stored consumer %q, %v", got, err)
	}

	// GATEWAY_REDIS works like -redis.
	t.Setenv("GATEWAY_REDIS", srv.Addr)
	if code, _, errOut = runKeysCmd(t, "revoke", "-config", cfg, "-key", raw); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	if got, err := srv.Do("HGET", "apikey:{"+hash+"}", "revoked"); err != nil || got != "1" {
		t.Fatalf("revoked = %q, %v", got, err)
	}
	if code, _, errOut = runKeysCmd(t, "rotate", "-config", cfg, "-key", raw); code != 1 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("rotating a revoked key: exit %d: %s", code, errOut)
	}
}

func TestKeysCommandUsage(t *testing.T) {
	t.Setenv("GATEWAY_REDIS", "")
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", "auth: { api_keys: { source: file, file: missing/keys.yaml } }\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"list"}, 2, `unknown command "list"`},
		{[]string{"issue", "-config", cfg}, 2, "-consumer is required"},
		{[]string{"rotate", "-config", cfg}, 2, "-key is required"},
		{[]string{"revoke", "-config", cfg, "-key", "a", "-hash", "b"}, 2, "give -key or -hash"},
		{[]string{"issue", "-config", cfg, "-consumer", "a", "extra"}, 2, "unexpected arguments"},
		// The key file's directory does not exist: nothing is created,
		// and the configuration's problem is reported.
		{[]string{"issue", "-config", cfg, "-consumer", "a"}, 1, "auth.api_keys.file"},
		{[]string{"issue", "-config", filepath.Join(t.TempDir(), "none.yaml"), "-consumer", "a"}, 1, "cannot read config"},
	} {
		code, _, errOut := runKeysCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("keys %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	noStore := writeFile(t, t.TempDir(), "gateway.yaml", "admin: { listen: off }\n")
	if code, _, errOut := runKeysCmd(t, "issue", "-config", noStore, "-consumer", "a"); code != 1 || !strings.Contains(errOut, "no key store") {
		t.Errorf("no key store: exit %d, %q", code, errOut)
	}
}
