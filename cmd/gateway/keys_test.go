package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/gateway/internal/redisconn"
	"github.com/edgegate/gateway/internal/redistest"
	"github.com/edgegate/gateway/jwtcache"
)

// runKeysCmd runs `gateway keys args...` and returns the exit code and
// what it printed.
func runKeysCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runKeysCmdInput(t, "", args...)
}

// runKeysCmdInput is runKeysCmd with stdin as the command's standard input.
func runKeysCmdInput(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := keysCommand(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// rotateKey runs `gateway keys rotate` on raw with grace and returns what
// it printed and the times just before and after it ran, between which
// the rotation's clock read falls.
func rotateKey(t *testing.T, cfg, raw, grace string) (out string, before, after time.Time) {
	t.Helper()
	before = time.Now()
	code, out, errOut := runKeysCmd(t, "rotate", "-config", cfg, "-key", raw, "-grace", grace)
	after = time.Now()
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	return out, before, after
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

	issued, _, err := jwtcache.NewFileStore(keyFile).Get(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	out, before, after := rotateKey(t, cfg, raw, "1h")
	successor, successorHash := issuedKey(t, out)
	if !strings.Contains(out, "replaces: "+hash) {
		t.Fatalf("rotate output does not name the old key:\n%s", out)
	}
	// Both keys are in the file: the old one for the grace period only,
	// the successor with the old one's consumer, plan and expiry.
	store := jwtcache.NewFileStore(keyFile)
	oldRec, ok, err := store.Get(context.Background(), hash)
	if err != nil || !ok {
		t.Fatalf("old record after rotate: %v %v", ok, err)
	}
	wantGraceEnd(t, oldRec.ExpiresAt, before, after, time.Hour)
	newRec, ok, err := store.Get(context.Background(), successorHash)
	if err != nil || !ok || newRec.Consumer != "acme" || newRec.Plan != "gold" || newRec.Revoked || !newRec.ExpiresAt.Equal(issued.ExpiresAt) {
		t.Fatalf("successor record %+v %v %v, want acme/gold expiring at %v", newRec, ok, err, issued.ExpiresAt)
	}
	rotated, err := jwtcache.NewAPIKeys(jwtcache.APIKeyOptions{File: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer rotated.Close()
	for _, k := range []string{raw, successor} {
		if id, verr := rotated.Verify([]byte(k)); verr != nil || string(id.Consumer) != "acme" {
			t.Fatalf("key after rotate: %v, %v", id, verr)
		}
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
	// -redis makes Redis the key store, as it does for serve. Without
	// -expires a key works for 720h.
	before := time.Now()
	code, out, errOut := runKeysCmd(t, "issue", "-config", cfg, "-redis", srv.Addr, "-consumer", "acme")
	if code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errOut)
	}
	raw, hash := issuedKey(t, out)
	if got, err := srv.Do("HGET", "apikey:{"+hash+"}", "consumer"); err != nil || got != "acme" {
		t.Fatalf("stored consumer %q, %v", got, err)
	}
	got, err := srv.Do("HGET", "apikey:{"+hash+"}", "expires_at")
	if err != nil {
		t.Fatal(err)
	}
	if at, _ := strconv.ParseInt(got, 10, 64); at < before.Add(720*time.Hour).Unix()-1 || at > time.Now().Add(720*time.Hour).Unix()+1 {
		t.Fatalf("expires_at %q, want 720h from now", got)
	}

	// GATEWAY_REDIS works like -redis, and -key - reads the key from
	// standard input.
	t.Setenv("GATEWAY_REDIS", srv.Addr)
	if code, _, errOut = runKeysCmdInput(t, raw+"\n", "revoke", "-config", cfg, "-key", "-"); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	if got, err := srv.Do("HGET", "apikey:{"+hash+"}", "revoked"); err != nil || got != "1" {
		t.Fatalf("revoked = %q, %v", got, err)
	}
	if code, _, errOut = runKeysCmd(t, "rotate", "-config", cfg, "-key", raw); code != 1 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("rotating a revoked key: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runKeysCmdInput(t, "\n", "rotate", "-config", cfg, "-key", "-"); code != 2 || !strings.Contains(errOut, "no key on standard input") {
		t.Fatalf("-key - with nothing on standard input: exit %d: %s", code, errOut)
	}
	if code, _, errOut = runKeysCmd(t, "issue", "-config", cfg, "-consumer", "acme", "-expires", "-1h"); code != 2 || !strings.Contains(errOut, "-expires") {
		t.Fatalf("negative -expires: exit %d: %s", code, errOut)
	}
}

// wantGraceEnd fails unless got is when a key rotated between before and
// after with grace stops working: now+grace truncated to the second, as
// Rotate stores it.
func wantGraceEnd(t *testing.T, got, before, after time.Time, grace time.Duration) {
	t.Helper()
	lo, hi := before.Add(grace).Truncate(time.Second), after.Add(grace).Truncate(time.Second)
	if got.Before(lo) || got.After(hi) {
		t.Fatalf("old key expires at %v, want now+%v (between %v and %v)", got, grace, lo, hi)
	}
}

// redisRecord returns the fields of the Redis hash apikey:{hash}.
func redisRecord(t *testing.T, srv *redistest.Server, hash string) map[string]string {
	t.Helper()
	reply, err := srv.Do("HGETALL", "apikey:{"+hash+"}")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if reply == "" {
		return m
	}
	f := strings.Split(reply, "\n")
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m
}

// TestKeysCommandRotateWithRedis rotates a key in Redis mode: the printed
// successor is stored under its SHA-256 with the old key's consumer, plan
// and expiry (a rotation does not extend a key's life), and the old key
// keeps working until now+grace, which the output also states.
func TestKeysCommandRotateWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("GATEWAY_REDIS", srv.Addr)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", `
auth:
  api_keys: { header: X-API-Key }
`)
	code, out, errOut := runKeysCmd(t, "issue", "-config", cfg, "-consumer", "acme", "-plan", "gold", "-expires", "720h")
	if code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errOut)
	}
	raw, hash := issuedKey(t, out)
	expires := redisRecord(t, srv, hash)["expires_at"]
	if sec, err := strconv.ParseInt(expires, 10, 64); err != nil || sec < time.Now().Add(719*time.Hour).Unix() {
		t.Fatalf("issued key expires_at %q, want about now+720h", expires)
	}

	out, before, after := rotateKey(t, cfg, raw, "2h")
	successor, successorHash := issuedKey(t, out)
	if successor == raw || successorHash != jwtcache.HashKey(successor) {
		t.Fatalf("rotate printed %q (hash %s) for old key %q", successor, successorHash, raw)
	}

	rec := redisRecord(t, srv, jwtcache.HashKey(successor))
	want := map[string]string{"consumer": "acme", "plan": "gold", "expires_at": expires, "revoked": "0"}
	if len(rec) != len(want) {
		t.Fatalf("successor record %v, want %v", rec, want)
	}
	for f, v := range want {
		if rec[f] != v {
			t.Fatalf("successor record %v, want %v", rec, want)
		}
	}

	old := redisRecord(t, srv, hash)
	if old["consumer"] != "acme" || old["plan"] != "gold" || old["revoked"] != "0" {
		t.Fatalf("old record %v", old)
	}
	sec, err := strconv.ParseInt(old["expires_at"], 10, 64)
	if err != nil {
		t.Fatalf("old record expires_at %q", old["expires_at"])
	}
	end := time.Unix(sec, 0)
	wantGraceEnd(t, end, before, after, 2*time.Hour)
	if line := "replaces: " + hash + ", which works until " + end.UTC().Format(time.RFC3339); !strings.Contains(out, line) {
		t.Fatalf("rotate output lacks %q:\n%s", line, out)
	}

	// A verifier on that Redis, as a gateway has, takes both keys.
	conn, err := redisconn.Open(redisconn.Options{Addrs: []string{srv.Addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	verifier, err := jwtcache.NewAPIKeys(jwtcache.APIKeyOptions{Redis: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	issuedSec, _ := strconv.ParseInt(expires, 10, 64)
	for k, until := range map[string]time.Time{raw: end, successor: time.Unix(issuedSec, 0)} {
		if id, verr := verifier.Verify([]byte(k)); verr != nil || string(id.Consumer) != "acme" || !id.Expires.Equal(until) {
			t.Fatalf("key after rotate: %+v, %v; want acme until %v", id, verr, until)
		}
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
