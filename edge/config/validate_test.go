package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// validConfig returns a small Config, completed by Defaults, that
// validates; tests break one thing at a time.
func validConfig() *Config {
	c := &Config{
		Services: map[string]*Service{
			"users":  {Instances: []string{"127.0.0.1:9001"}},
			"orders": {Instances: []string{"127.0.0.1:9101"}},
		},
		RateLimits: map[string]*RateLimit{
			"per_ip": {Key: "ip", Limit: 10, Window: Duration(time.Second)},
		},
		Routes: []*Route{
			{Name: "users", Match: Match{Path: "/users/{id}", Methods: []string{"GET"}}, Service: "users", RateLimit: []string{"per_ip"}},
			{Name: "orders", Match: Match{Path: "/orders/{rest...}"}, Rewrite: "/{rest}", Service: "orders"},
		},
	}
	c.Defaults()
	return c
}

// problems returns the "path: msg" lines of c.Validate().
func problems(t *testing.T, c *Config) []string {
	t.Helper()
	err := c.Validate()
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate returned %T, want Errors", err)
	}
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return lines
}

func TestValidateValid(t *testing.T) {
	if p := problems(t, validConfig()); p != nil {
		t.Fatalf("valid config: %q", p)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"unknown service", func(c *Config) { c.Routes[0].Service = "userz" }, `routes[0].service: unknown service "userz"`},
		{"duplicate name", func(c *Config) { c.Routes[1].Name = "users" }, `routes[1].name: duplicate route name "users" (first at routes[0])`},
		{"no path", func(c *Config) { c.Routes[0].Match.Path = "" }, "routes[0].match.path: required"},
		{"lower-case method", func(c *Config) { c.Routes[0].Match.Methods = []string{"get"} }, "routes[0].match.methods[0]: methods are upper case: write GET"},
		{"connect", func(c *Config) { c.Routes[0].Match.Methods = []string{"CONNECT"} }, `routes[0].match.methods[0]: unknown method "CONNECT" (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`},
		{"no target", func(c *Config) { c.Routes[0].Service = "" }, "routes[0]: needs a service or an aggregate"},
		{"rate limit", func(c *Config) { c.Routes[0].RateLimit = []string{"nope"} }, `routes[0].rate_limit[0]: unknown rate limit "nope"`},
		{"auth block", func(c *Config) { c.Routes[0].Auth = []string{"jwt"} }, "routes[0].auth[0]: jwt needs auth.jwt to be configured"},
		{"split weight", func(c *Config) { c.Routes[0].Split = []Split{{Service: "orders", Weight: 101}} }, "routes[0].split[0].weight: must be between 1 and 100 (percent), got 101"},
		{"split service", func(c *Config) { c.Routes[0].Split = []Split{{Service: "x", Weight: 1}} }, `routes[0].split[0].service: unknown service "x"`},
		{"split total", func(c *Config) {
			c.Routes[0].Split = []Split{{Service: "orders", Weight: 60}, {Service: "orders", Weight: 60}}
		}, "routes[0].split: weights add up to 120; the total must not exceed 100"},
		{"split hash", func(c *Config) { c.Routes[0].Split = []Split{{Service: "orders", Weight: 5, HashOn: "body"}} }, `routes[0].split[0].hash_on: unknown value "body" (want ip, header:NAME or cookie:NAME)`},
		{"rewrite param", func(c *Config) { c.Routes[1].Rewrite = "/{rst}" }, "routes[1].rewrite: unknown parameter {rst}: match.path has {rest}"},
		{"response header", func(c *Config) { c.Routes[0].ResponseHeaders.Remove = []string{"X:Y"} }, `routes[0].response_headers.remove[0]: invalid header name "X:Y" (letters, digits and !#$%&'*+-.^_` + "`" + `|~ only)`},
		{"cache ttl", func(c *Config) { c.Routes[0].Cache = &Cache{Vary: []string{"header:Accept"}} }, "routes[0].cache.ttl: must be greater than 0"},
		{"aggregate and rewrite", func(c *Config) {
			c.Routes[0].Service = ""
			c.Routes[0].Rewrite = "/x"
			c.Routes[0].Aggregate = &Aggregate{Timeout: Duration(time.Second), Calls: []AggregateCall{{Name: "a", Service: "users", Path: "/a"}}}
		}, "routes[0].rewrite: applies only to routes with a service"},
		{"aggregate calls", func(c *Config) {
			c.Routes[0].Service = ""
			c.Routes[0].Aggregate = &Aggregate{Timeout: Duration(time.Second)}
		}, "routes[0].aggregate.calls: at least one call is required"},
		{"aggregate call climbs", func(c *Config) {
			c.Routes[0].Service = ""
			c.Routes[0].Aggregate = &Aggregate{Timeout: Duration(time.Second), Calls: []AggregateCall{{Name: "a", Service: "users", Path: "/a/%2E%2E/{id}"}}}
		}, `routes[0].aggregate.calls.a.path: segments must not be dot-segments, malformed escapes or escaped slashes, got "/a/%2E%2E/{id}"`},
		{"aggregate call name", func(c *Config) {
			c.Routes[0].Service = ""
			c.Routes[0].Aggregate = &Aggregate{Timeout: Duration(time.Second), Calls: []AggregateCall{{Name: "a,b", Service: "users", Path: "/a#x"}}}
		}, `routes[0].aggregate.calls["a,b"]: call names must be letters, digits and -._~ (they are JSON keys and X-Partial entries), got "a,b"`},
		{"nil route", func(c *Config) { c.Routes = append(c.Routes, nil) }, "routes[2]: empty route"},
		{"instance", func(c *Config) { c.Services["users"].Instances = []string{"localhost"} }, `services.users.instances[0]: want host:port with a numeric port, such as 127.0.0.1:9001, got "localhost"`},
		{"hash_on", func(c *Config) { c.Services["users"].HashOn = "cookie:a b" }, `services.users.hash_on: invalid cookie name "a b" in "cookie:a b"`},
		{"mode redis", func(c *Config) { c.RateLimits["per_ip"].Mode = "redis" }, "rate_limits.per_ip.mode: redis needs redis.addrs"},
		{"listen", func(c *Config) { c.Server.Listen = "localhost" }, `server.listen: want host:port such as :8080 or 127.0.0.1:8080, got "localhost"`},
		{"header count", func(c *Config) { c.Server.MaxHeaderCount = -1 }, "server.max_header_count: must be greater than 0, got -1"},
		{"requests per conn", func(c *Config) { c.Server.MaxRequestsPerConn = -1 }, "server.max_requests_per_conn: must not be negative (0 is unlimited), got -1"},
		{"response cache bytes", func(c *Config) { c.Server.ResponseCacheBytes = -1 }, "server.response_cache_bytes: must be greater than 0, got -1"},
		{"max keys", func(c *Config) { c.RateLimits["per_ip"].MaxKeys = -5 }, "rate_limits.per_ip.max_keys: must be greater than 0, got -5"},
		{"admin same", func(c *Config) { c.Admin.Listen = c.Server.Listen }, "admin.listen: same address as server.listen (:8080)"},
		{"redis addr", func(c *Config) { c.Redis.Addrs = []string{"redis"} }, `redis.addrs[0]: want host:port with a numeric port, such as 127.0.0.1:9001, got "redis"`},
		{"log level", func(c *Config) { c.Logging.Level = "trace" }, `logging.level: unknown value "trace" (want debug, info, warn or error)`},
		{"tls certs", func(c *Config) { c.Server.TLS = &TLS{Listen: ":8443", MinVersion: "1.2"} }, "server.tls.certificates: at least one certificate is required"},
		{"jwt none", func(c *Config) {
			c.Auth.JWT = &JWT{Algorithms: []string{"none"}, JWKS: &JWKS{URL: "https://x/jwks", Refresh: Duration(time.Minute)}, CacheEntries: 1}
		}, `auth.jwt.algorithms[0]: "none" is never allowed: it would accept unsigned tokens`},
		{"jwks url", func(c *Config) {
			c.Auth.JWT = &JWT{Algorithms: []string{"RS256"}, JWKS: &JWKS{URL: "file:///etc/jwks", Refresh: Duration(time.Minute)}, CacheEntries: 1}
		}, `auth.jwt.jwks.url: want an http:// or https:// URL, got "file:///etc/jwks"`},
		{"api keys redis", func(c *Config) { c.Auth.APIKeys = &APIKeys{Header: "X-API-Key", Source: "redis"} }, "auth.api_keys.source: redis needs redis.addrs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(c)
			got := problems(t, c)
			if !slices.Contains(got, tc.want) {
				t.Errorf("got %q\nwant a line %q", got, tc.want)
			}
		})
	}
}

// TestValidateWithoutDefaults checks that a Config built in code without
// Defaults is refused rather than served with zero limits.
func TestValidateWithoutDefaults(t *testing.T) {
	got := problems(t, &Config{})
	for _, want := range []string{
		"server.listen: required",
		"server.read_timeout: must be greater than 0",
		"server.max_body_bytes: must be greater than 0, got 0",
		"redis.on_error: required (fail_open or fail_closed)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
}

func TestAdminOff(t *testing.T) {
	c, err := Parse([]byte("admin: { listen: \"off\" }\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "" {
		t.Errorf("admin.listen = %q, want empty (disabled)", c.Admin.Listen)
	}
}

func TestDuplicateRoutes(t *testing.T) {
	route := func(path, host string, methods ...string) *Route {
		return &Route{Name: path + host + strings.Join(methods, ","), Match: Match{Path: path, Host: host, Methods: methods}, Service: "users"}
	}
	for _, tc := range []struct {
		name string
		a, b *Route
		dup  bool
	}{
		{"param names ignored", route("/a/{x}", ""), route("/a/{y}", ""), true},
		{"static vs param", route("/a/b", ""), route("/a/{y}", ""), false},
		{"param vs catch-all", route("/a/{x}", ""), route("/a/{x...}", ""), false},
		{"trailing slash", route("/a", ""), route("/a/", ""), false},
		{"disjoint methods", route("/a", "", "GET"), route("/a", "", "POST"), false},
		{"GET implies HEAD", route("/a", "", "GET"), route("/a", "", "HEAD"), true},
		{"all methods", route("/a", ""), route("/a", "", "OPTIONS"), true},
		{"host case", route("/a", "API.example.com"), route("/a", "api.example.com"), true},
		{"other host", route("/a", "a.example.com"), route("/a", "b.example.com"), false},
		{"host vs none", route("/a", "a.example.com"), route("/a", ""), false},
		{"query differs", route("/a", ""), &Route{Name: "q", Match: Match{Path: "/a", Query: map[string]string{"v": "2"}}, Service: "users"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Routes = []*Route{tc.a, tc.b}
			got := problems(t, c)
			dup := slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "routes[1].match: duplicates routes[0]") })
			if dup != tc.dup {
				t.Errorf("duplicate = %v, want %v; problems %q", dup, tc.dup, got)
			}
		})
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in       string
		params   []string
		shape    string
		problems int
	}{
		{"/", nil, "/", 0},
		{"/users", nil, "/users", 0},
		{"/users/", nil, "/users/", 0},
		{"/users/{id}", []string{"id"}, "/users/{}", 0},
		{"/a/{x}/b/{rest...}", []string{"x", "rest"}, "/a/{}/b/{...}", 0},
		{"/{rest...}", []string{"rest"}, "/{...}", 0},
		{"users", nil, "/users", 1},
		{"/a/{rest...}/b", []string{"rest"}, "/a/{...}/b", 1},
		{"/a/{x}{y}", nil, "/a/", 1},
		{"/a/{x}/{x}", []string{"x", "x"}, "/a/{}/{}", 1},
		{"/a/{}", []string{""}, "/a/{}", 1},
		{"/a/{...}", []string{""}, "/a/{...}", 1},
	} {
		pat, problems := parsePattern(tc.in)
		if !reflect.DeepEqual(pat.params, tc.params) || pat.shape != tc.shape || len(problems) != tc.problems {
			t.Errorf("parsePattern(%q) = %q %q %q, want %q %q and %d problems", tc.in, pat.params, pat.shape, problems, tc.params, tc.shape, tc.problems)
		}
	}
}

func TestCheckRewrite(t *testing.T) {
	params := []string{"id", "rest"}
	for in, want := range map[string]int{
		"/users/{id}":     0,
		"/v2-{id}/{rest}": 0,
		"/static":         0,
		"/{nope}":         1,
		"/{rest...}":      1,
		"/{id":            1,
		"/id}":            1,
		"users/{id}":      1,
		"/u?{id}":         1,
	} {
		if got := checkRewrite(in, params); len(got) != want {
			t.Errorf("checkRewrite(%q) = %q, want %d problems", in, got, want)
		}
	}
}

func TestValidToken(t *testing.T) {
	for s, want := range map[string]bool{
		"X-User-ID": true, "x_y": true, "A!#$%&'*+-.^_`|~9": true,
		"": false, "X User": false, "X:Y": false, "Ü": false, "a\r\nb": false,
	} {
		if got := validToken(s); got != want {
			t.Errorf("validToken(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFollowOnProblemsSuppressed checks that a value that could not be
// decoded is reported once, without the semantic problems its absence
// causes, while unrelated problems of the same entry are still reported.
func TestFollowOnProblemsSuppressed(t *testing.T) {
	_, err := Parse([]byte(`
services:
  users:
    instances: "127.0.0.1:9001"
routes:
  - name: users
    match: { path: /users, methods: [get] }
    service: [users]
`), "")
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`services.users.instances: want a list, got "127.0.0.1:9001"`,
		`routes[0].match.methods[0]: methods are upper case: write GET`,
		`routes[0].service: want a string, got a list`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
