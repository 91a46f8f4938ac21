package jwtcache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/internal/redisconn"
)

// TestFromConfig parses a configuration file whose key files are relative
// to it, builds the verifiers, and uses each.
func TestFromConfig(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "keys/rsa.pub", pemOf(t, k.rsa))
	writeFile(t, dir, "keys/hmac.secret", []byte("file-secret-of-at-least-32-bytes\n"))
	writeFile(t, dir, "keys/jwks.json", []byte(jwks(jwkOf("ed", "EdDSA", k.ed))))
	writeFile(t, dir, "keys/api-keys.yaml", nil)
	t.Setenv("JWTCACHE_TEST_HMAC", "env-secret-of-at-least-32-bytes!")
	t.Setenv("JWTCACHE_TEST_INTROSPECTION", "s3cret:+")
	srv := newIntrospectionServer(t)
	path := writeFile(t, dir, "gateway.yaml", []byte(`
auth:
  jwt:
    issuer: `+testIssuer+`
    audiences: [api]
    leeway: 5s
    algorithms: [HS256, RS256, EdDSA]
    keys:
      - { kid: env, alg: HS256, secret_env: JWTCACHE_TEST_HMAC }
      - { kid: file, alg: HS256, secret_file: keys/hmac.secret }
      - { kid: rsa, pem_file: keys/rsa.pub }
    jwks: { file: keys/jwks.json, refresh: 1h, unknown_kid_cooldown: 2s }
    claims_to_headers: { sub: X-User-ID }
    cache_entries: 500
  api_keys:
    source: file
    file: keys/api-keys.yaml
  introspection:
    url: `+srv.URL+`
    client_id: gateway
    client_secret_env: JWTCACHE_TEST_INTROSPECTION
    cache_entries: 64
`))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o, err := FromConfig(&cfg.Auth, filepath.Dir(cfg.Path), os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.JWT.Keys[2].PEMFile; got != filepath.Join(dir, "keys/rsa.pub") {
		t.Fatalf("pem_file resolved to %q", got)
	}
	if o.JWT.CacheEntries != 500 || o.JWT.UnknownKidCooldown != 2*time.Second || o.Introspection.CacheEntries != 64 {
		t.Fatalf("cache_entries %d, unknown_kid_cooldown %v, introspection cache_entries %d",
			o.JWT.CacheEntries, o.JWT.UnknownKidCooldown, o.Introspection.CacheEntries)
	}
	o.UseRedis(nil, time.Second) // file source: no effect
	v, err := NewVerifiers(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	// Real time here: a configuration has no clock.
	now := claims("iss", testIssuer, "sub", "u1", "aud", "api", "exp", time.Now().Unix()+3600)
	for _, tok := range []string{
		sign(t, "HS256", []byte("env-secret-of-at-least-32-bytes!"), header("HS256", "env"), now),
		sign(t, "HS256", []byte("file-secret-of-at-least-32-bytes"), header("HS256", "file"), now),
		sign(t, "RS256", k.rsa, header("RS256", "rsa"), now),
		sign(t, "EdDSA", k.ed, header("EdDSA", "ed"), now),
	} {
		id, err := v.JWT.Verify([]byte(tok))
		if err != nil {
			t.Fatalf("token %.40s...: %v", tok, err)
		}
		if got := headerLines(id); len(got) != 1 || got[0] != "X-User-ID: u1" {
			t.Fatalf("headers %q", got)
		}
	}

	raw, _, err := Issue(context.Background(), NewFileStore(filepath.Join(dir, "keys/api-keys.yaml")), "acme", "", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "issued key usable", func() bool { return refusal(v.APIKeys, raw) == nil })

	id, verr := v.Introspector.Verify([]byte("good-u9"))
	if verr != nil {
		t.Fatal(verr)
	}
	if got := headerLines(id); len(got) != 1 || got[0] != "X-User-ID: u9" {
		t.Fatalf("introspection headers %q", got)
	}
}

func TestFromConfigRedisSource(t *testing.T) {
	o, err := FromConfig(&config.Auth{APIKeys: &config.APIKeys{Source: "redis"}}, "/etc/gateway", os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifiers(o); err == nil {
		t.Fatal("Redis-backed keys without a connection were accepted")
	}
	conn := redisconn.Static(nil)
	o.UseRedis(conn, 7*time.Second)
	if o.APIKeys.Redis != conn || o.APIKeys.CacheTTL != 7*time.Second {
		t.Fatalf("UseRedis left %+v", o.APIKeys)
	}
	if _, err := FromConfig(&config.Auth{Introspection: &config.Introspection{URL: "http://x", ClientSecretEnv: "JWTCACHE_TEST_UNSET_VAR"}}, "", func(string) string { return "" }, nil); err == nil {
		t.Fatal("an empty introspection secret was accepted")
	}
}
