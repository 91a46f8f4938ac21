package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.errors golden files")

// TestGolden parses every testdata/*.yaml as if it lived in fixtureDir and
// compares the problems reported, one per line, with testdata/*.errors (empty
// for a valid config). Run `go test -update` to rewrite the golden files
// after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	setFixtureEnv(t)
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			c, err := Parse(data, fixturePath(name+".yaml"))
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) || len(errs) == 0 {
					t.Fatalf("Parse returned %T %v, want a non-empty Errors", err, err)
				}
				if c != nil {
					t.Error("Parse returned a Config along with errors")
				}
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestExampleIsTheDesignExample keeps testdata/example.yaml identical to the
// documented example, so that the golden test proves the documented file is
// valid.
func TestExampleIsTheDesignExample(t *testing.T) {
	// The design documents sit beside the repository checkout.
	design, err := os.ReadFile("../../../shared/design/gateway.example.yaml")
	if err != nil {
		t.Skip("design example not available:", err)
	}
	ours, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(design, ours) {
		t.Error("testdata/example.yaml differs from the design's gateway.example.yaml: copy it again")
	}
}

// TestExampleDecoded checks the values decoded from the documented example,
// parsed as if it lived beside the generated certificates and keys.
func TestExampleDecoded(t *testing.T) {
	setFixtureEnv(t)
	// Where it really lives, its relative file names resolve to testdata/,
	// which holds no certificates.
	_, err := Load(filepath.Join("testdata", "example.yaml"))
	if err == nil || !strings.Contains(err.Error(), `server.tls.certificates[0].cert: cannot read "certs/api.pem"`) {
		t.Fatalf("Load(testdata/example.yaml) = %v, want the certificate reported missing", err)
	}
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, fixturePath("gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Server.ReadTimeout.D(), 10*time.Second; got != want {
		t.Errorf("server.read_timeout = %v, want %v", got, want)
	}
	if got := c.Server.TLS.Certificates[0].Cert; got != "certs/api.pem" {
		t.Errorf("certificate = %q", got)
	}
	if got, want := c.Resolve("certs/api.pem"), filepath.Join(fixtureDir, "certs/api.pem"); got != want {
		t.Errorf("Resolve = %q, want %q", got, want)
	}
	if got := c.Services["users"].CircuitBreaker.ErrorRate; got != 0.5 {
		t.Errorf("error_rate = %v", got)
	}
	if got := c.Services["users-v2"].Discovery.DNS; got != "_users._tcp.service.local" {
		t.Errorf("discovery.dns = %q", got)
	}
	users := c.Routes[0]
	if !reflect.DeepEqual(users.Match.Methods, []string{"GET", "POST", "PUT", "DELETE"}) {
		t.Errorf("methods = %q", users.Match.Methods)
	}
	if users.Match.Query["version"] != "2" || users.Match.Headers["X-Client"] != "mobile" {
		t.Errorf("match = %+v", users.Match)
	}
	if !reflect.DeepEqual(users.Split, []Split{{Service: "users-v2", Weight: 5}}) {
		t.Errorf("split = %+v", users.Split)
	}
	if !users.Compress || users.Cache.TTL.D() != 10*time.Second {
		t.Errorf("compress/cache = %v %+v", users.Compress, users.Cache)
	}
	calls := c.Routes[1].Aggregate.Calls
	want := []AggregateCall{
		{Name: "profile", Service: "users", Path: "/users/{claims.sub}"},
		{Name: "notifications", Service: "notifications", Path: "/notifications?user={claims.sub}"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("calls = %+v, want %+v (in file order)", calls, want)
	}
	if got := c.Auth.JWT.ClaimsToHeaders["roles"]; got != "X-Roles" {
		t.Errorf("claims_to_headers.roles = %q", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`
services:
  users:
    instances: ["127.0.0.1:9001"]
    health_check: {}
    circuit_breaker: {}
  users-v2:
    discovery: { dns: "_u._tcp.local" }
rate_limits:
  per_ip: { key: ip, limit: 1, window: 1s }
auth:
  api_keys: { file: keys/api-keys.yaml }
  introspection: { url: "https://auth.example.com/i", client_id: gw }
  jwt:
    algorithms: [RS256]
    jwks: { url: "https://auth.example.com/jwks" }
server:
  tls:
    certificates: [{ cert: certs/api.pem, key: certs/api-key.pem }]
`), fixturePath("gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", s.Listen, ":8080"},
		{"server.read_timeout", s.ReadTimeout.D(), 10 * time.Second},
		{"server.write_timeout", s.WriteTimeout.D(), 10 * time.Second},
		{"server.idle_timeout", s.IdleTimeout.D(), 60 * time.Second},
		{"server.max_header_bytes", s.MaxHeaderBytes, 16384},
		{"server.max_header_count", s.MaxHeaderCount, 100},
		{"server.max_body_bytes", s.MaxBodyBytes, 4194304},
		{"server.max_connections", s.MaxConnections, 100000},
		{"server.max_requests_per_conn", s.MaxRequestsPerConn, 0},
		{"server.shutdown_timeout", s.ShutdownTimeout.D(), 30 * time.Second},
		{"server.tls.listen", s.TLS.Listen, ":8443"},
		{"server.tls.min_version", s.TLS.MinVersion, "1.2"},
		{"admin.listen", c.Admin.Listen, "127.0.0.1:9901"},
		{"redis.client_cache_ttl", c.Redis.ClientCacheTTL.D(), 30 * time.Second},
		{"redis.on_error", c.Redis.OnError, "fail_open"},
		{"redis.timeout", c.Redis.Timeout.D(), 50 * time.Millisecond},
		{"logging.level", c.Logging.Level, "info"},
		{"logging.access_log", c.Logging.AccessLog, "stdout"},
		{"auth.jwt.cache_entries", c.Auth.JWT.CacheEntries, 100000},
		{"auth.jwt.jwks.refresh", c.Auth.JWT.JWKS.Refresh.D(), 5 * time.Minute},
		{"auth.api_keys.header", c.Auth.APIKeys.Header, "X-API-Key"},
		{"auth.api_keys.source", c.Auth.APIKeys.Source, "file"},
		{"auth.introspection.negative_cache", c.Auth.Introspection.NegativeCache.D(), 5 * time.Second},
		{"services.users.balancer", c.Services["users"].Balancer, "least_conn"},
		{"services.users.timeout", c.Services["users"].Timeout.D(), 30 * time.Second},
		{"services.users.max_conns_per_instance", c.Services["users"].MaxConnsPerInstance, 1024},
		{"services.users.max_response_bytes", c.Services["users"].MaxResponseBytes, 64 << 20},
		{"services.users.idle_conn_timeout", c.Services["users"].IdleConnTimeout.D(), 4 * time.Second},
		{"services.users.retries", c.Services["users"].Retries, 0},
		{"services.users.health_check", *c.Services["users"].HealthCheck, HealthCheck{
			Path: "/health", Interval: Duration(10 * time.Second), Timeout: Duration(2 * time.Second),
			UnhealthyThreshold: 2, HealthyThreshold: 2,
		}},
		{"services.users.circuit_breaker", *c.Services["users"].CircuitBreaker, CircuitBreaker{
			Window: Duration(10 * time.Second), MinRequests: 20, ErrorRate: 0.5, OpenFor: Duration(30 * time.Second),
		}},
		{"services.users-v2.discovery.refresh", c.Services["users-v2"].Discovery.Refresh.D(), 5 * time.Second},
		{"services.users-v2.health_check", c.Services["users-v2"].HealthCheck, (*HealthCheck)(nil)},
		{"rate_limits.per_ip.algorithm", c.RateLimits["per_ip"].Algorithm, "token_bucket"},
		{"rate_limits.per_ip.mode", c.RateLimits["per_ip"].Mode, "local"},
		{"rate_limits.per_ip.sync_interval", c.RateLimits["per_ip"].SyncInterval.D(), 100 * time.Millisecond},
	}
	for _, x := range checks {
		if !reflect.DeepEqual(x.got, x.want) {
			t.Errorf("%s = %v, want %v", x.name, x.got, x.want)
		}
	}
}

// TestDefaultsWithRedis checks the defaults that depend on Redis, also when
// Redis comes from an override rather than the file.
func TestDefaultsWithRedis(t *testing.T) {
	const file = `
auth:
  api_keys: {}
rate_limits:
  per_ip: { key: ip, limit: 1, window: 1s }
`
	for _, tc := range []struct {
		name     string
		yaml     string
		override Overrides
	}{
		{"file", file + "redis: { addrs: [\"127.0.0.1:6379\"] }\n", Overrides{}},
		{"override", file, Overrides{Redis: "127.0.0.1:6379, 127.0.0.1:6380"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseWith([]byte(tc.yaml), "", tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Auth.APIKeys.Source; got != "redis" {
				t.Errorf("api_keys.source = %q, want redis", got)
			}
			if got := c.RateLimits["per_ip"].Mode; got != "redis" {
				t.Errorf("rate_limits.per_ip.mode = %q, want redis", got)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	env := map[string]string{
		EnvListen:   ":7070",
		EnvAdmin:    "off",
		EnvRedis:    "10.0.0.1:6379,,10.0.0.2:6379",
		EnvLogLevel: "debug",
	}
	o := EnvOverrides(func(k string) string { return env[k] })
	c, err := ParseWith([]byte("server: { listen: \":8080\" }\nadmin: { listen: \":9000\" }\n"), "", o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != ":7070" || c.Admin.Listen != "" || c.Logging.Level != "debug" {
		t.Errorf("overrides not applied: listen %q admin %q level %q", c.Server.Listen, c.Admin.Listen, c.Logging.Level)
	}
	if want := []string{"10.0.0.1:6379", "10.0.0.2:6379"}; !reflect.DeepEqual(c.Redis.Addrs, want) {
		t.Errorf("redis.addrs = %q, want %q", c.Redis.Addrs, want)
	}

	_, err = ParseWith([]byte("logging: { level: info }\n"), "", Overrides{LogLevel: "loud"})
	if err == nil || err.Error() != `logging.level: unknown value "loud" (want debug, info, warn or error)` {
		t.Errorf("invalid override: got %v", err)
	}
}

func TestResolve(t *testing.T) {
	c := &Config{Path: filepath.Join("etc", "gateway", "gateway.yaml")}
	for name, want := range map[string]string{
		"":                 "",
		"certs/a.pem":      filepath.Join("etc", "gateway", "certs", "a.pem"),
		"../keys/k.pem":    filepath.Join("etc", "keys", "k.pem"),
		"/abs/olute/c.pem": "/abs/olute/c.pem",
	} {
		if got := c.Resolve(name); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", name, got, want)
		}
	}
	if got := (&Config{}).Resolve("certs/a.pem"); got != "certs/a.pem" {
		t.Errorf("Resolve without Path = %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadResolvesAgainstTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	data := "auth:\n  jwt:\n    algorithms: [HS256]\n    keys: [{ secret_file: secret }]\n"
	if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != cfg {
		t.Errorf("Path = %q, want %q", c.Path, cfg)
	}
}

func TestErrorsFormat(t *testing.T) {
	errs := Errors{{Path: "server.foo", Msg: "unknown key"}, {Msg: "config is empty"}}
	if got, want := errs.Error(), "server.foo: unknown key\nconfig is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if (Errors(nil)).err() != nil {
		t.Error("empty Errors must be a nil error")
	}
}

// TestDecodeMessages pins the exact wording of the decoding problems
// that users see most.
func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct {
		yaml, want string
	}{
		{"server: { foo: 1 }", "server.foo: unknown key"},
		{"server: { max_body_bytes: abc }", `server.max_body_bytes: want an integer, got "abc"`},
		{"services: { users: { instances: [\"h:1\"], timeout: 5x } }", `services.users.timeout: invalid duration "5x" (use Go syntax such as 250ms, 2s, 1m)`},
		{"services: { users: { instances: [\"h:1\"], timeout: -5s } }", `services.users.timeout: duration -5s must not be negative`},
		{"routes: [{ name: a, match: { path: /a, methods: GET }, service: s }]\nservices: { s: { instances: [\"h:1\"] } }", `routes[0].match.methods: want a list, got "GET"`},
		{"server: { tls: { redirect_http: yes } }", `server.tls.redirect_http: want true or false, got "yes"`},
		{"server:\n  listen: \":1\"\n  listen: \":2\"\n", "server.listen: duplicate key (first on line 2)"},
		{"", "config is empty"},
		{"~", "config is empty"},
		{"a: 1\n---\nb: 2\n", "config has more than one YAML document (the second starts on line 2); keep one"},
		{"[1, 2]", "want a mapping of settings at the top of the file, got a list"},
		{"server: [", "invalid YAML: line 1: did not find expected node content"},
		{"x: &x { <<: *x }", "x: unknown key"},
		{"server: &s { <<: *s }", "server.<<: alias *s cannot be merged here"},
		{"{[a]: 1}", "keys must be strings, got a list"},
		{"auth: { jwt: { claims_to_headers: { \"https://x/roles\": 1 } } }", "auth.jwt: needs keys or jwks to verify tokens with"},
	} {
		_, err := Parse([]byte(tc.yaml), "")
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.yaml, tc.want)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		found := false
		for _, l := range lines {
			found = found || l == tc.want
		}
		if !found {
			t.Errorf("%q:\n got %s\nwant a line %q", tc.yaml, err, tc.want)
		}
	}
}

// TestAliasBomb checks that aliases that multiply (1000 routes, each with
// the same 1000 splits) are stopped by the node budget instead of
// exhausting time and memory.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &x {service: s, weight: 1}\ns: &s [")
	b.WriteString(strings.Repeat("*x, ", 999) + "*x]\n")
	b.WriteString("r: &r {name: r, match: {path: /}, service: s, split: *s}\nroutes: [")
	b.WriteString(strings.Repeat("*r, ", 999) + "*r]\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "")
	if err == nil || !strings.Contains(err.Error(), "too many nodes") {
		t.Fatalf("got %v, want the node budget to stop decoding", err)
	}
	// Unbounded, this would decode a million splits; bounded, it takes a
	// fraction of a second. The limit leaves room for a loaded machine.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"example", "broken", "anchors", "types", "duplicates"} {
		data, err := os.ReadFile("testdata/" + file + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"---\n---\n",
		"a: &a [*a]\n",
		"routes: &r [{<<: *r}]\n",
		"services: {x: {<<: [*y]}}\n",
		"routes: [{match: {path: \"/{a...}/{\"}, rewrite: \"/{a}}{\"}]\n",
		"server: {max_body_bytes: 0x7fffffffffffffffff}\n",
		"services: {s: {circuit_breaker: {error_rate: .nan}}}\n",
		"? [a]\n: b\n",
		"\xef\xbb\xbfserver: {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T is not a non-empty Errors", err)
			}
		}
	})
}
