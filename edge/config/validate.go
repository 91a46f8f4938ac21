package config

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Validate checks a Config that has been completed by Defaults and returns
// an Errors with every semantic problem it finds: values out of range,
// references to services, rate limits or auth blocks that do not exist,
// pattern mistakes, routes that shadow each other, and files (certificates,
// keys) that cannot be read or do not fit together. It returns nil when the
// config can be compiled and served.
//
// Validate reads the files the config names (relative names resolved with
// Resolve) and looks up the environment variables it names, so its answer
// holds for this machine at this moment; it changes nothing. Problems are
// listed section by section, services and rate limits in name order; Parse
// re-sorts them into file order.
func (c *Config) Validate() error {
	return c.validate().err()
}

// validator collects the problems of one Config.
type validator struct {
	c    *Config
	errs Errors
}

func (c *Config) validate() Errors {
	v := &validator{c: c}
	v.server()
	v.admin()
	v.redis()
	v.logging()
	v.auth()
	v.services()
	v.rateLimits()
	v.routes()
	return v.errs
}

func (v *validator) add(path, format string, args ...any) {
	v.errs.add(path, format, args...)
}

func (v *validator) server() {
	s := &v.c.Server
	v.listenAddr("server.listen", s.Listen)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	v.positiveInt("server.max_header_bytes", s.MaxHeaderBytes)
	v.positiveInt("server.max_header_count", s.MaxHeaderCount)
	v.positiveInt("server.max_body_bytes", s.MaxBodyBytes)
	v.positiveInt("server.max_connections", s.MaxConnections)
	v.positiveInt("server.response_cache_bytes", s.ResponseCacheBytes)
	if s.MaxRequestsPerConn < 0 {
		v.add("server.max_requests_per_conn", "must not be negative (0 is unlimited), got %d", s.MaxRequestsPerConn)
	}
	t := s.TLS
	if t == nil {
		return
	}
	v.listenAddr("server.tls.listen", t.Listen)
	if t.Listen != "" && t.Listen == s.Listen {
		v.add("server.tls.listen", "same address as server.listen (%s)", s.Listen)
	}
	v.enum("server.tls.min_version", t.MinVersion, "1.2", "1.3")
	if len(t.Certificates) == 0 {
		v.add("server.tls.certificates", "at least one certificate is required")
	}
	for i := range t.Certificates {
		v.certificate(indexPath("server.tls.certificates", i), &t.Certificates[i])
	}
}

func (v *validator) admin() {
	a := v.c.Admin.Listen
	if a == "" { // disabled with "off"
		return
	}
	v.listenAddr("admin.listen", a)
	if a == v.c.Server.Listen {
		v.add("admin.listen", "same address as server.listen (%s)", a)
	}
}

func (v *validator) redis() {
	r := &v.c.Redis
	for i, a := range r.Addrs {
		v.hostPort(indexPath("redis.addrs", i), a)
	}
	if r.PasswordEnv != "" {
		v.env("redis.password_env", r.PasswordEnv)
	}
	v.positive("redis.client_cache_ttl", r.ClientCacheTTL)
	v.enum("redis.on_error", r.OnError, "fail_open", "fail_closed")
	v.positive("redis.timeout", r.Timeout)
}

func (v *validator) logging() {
	l := &v.c.Logging
	v.enum("logging.level", l.Level, "debug", "info", "warn", "error")
	switch l.AccessLog {
	case "":
		v.add("logging.access_log", "must not be empty (stdout, stderr, off or a file path)")
	case "stdout", "stderr", "off":
	default:
		dir := filepath.Dir(v.c.Resolve(l.AccessLog))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			v.add("logging.access_log", "directory of %q does not exist", l.AccessLog)
		}
	}
}

// redisConfigured reports whether Redis addresses are configured, which
// the redis and hybrid modes need.
func (v *validator) redisConfigured() bool {
	return len(v.c.Redis.Addrs) > 0
}

// listenAddr checks an address to listen on: host:port where the host may
// be empty (all interfaces) and the port may be 0 (any free port, as tests
// use).
func (v *validator) listenAddr(path, addr string) {
	if addr == "" {
		v.add(path, "required")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || !validPort(port, true) {
		v.add(path, "want host:port such as :8080 or 127.0.0.1:8080, got %q", addr)
	}
}

// hostPort checks an address to connect to: a host and a port 1-65535.
func (v *validator) hostPort(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || !validPort(port, false) {
		v.add(path, "want host:port with a numeric port, such as 127.0.0.1:9001, got %q", addr)
	}
}

func validPort(port string, zeroOK bool) bool {
	n, err := strconv.Atoi(port)
	if err != nil || port[0] == '+' || port[0] == '-' {
		return false
	}
	return n <= 65535 && (n > 0 || zeroOK)
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be greater than 0")
	}
}

func (v *validator) positiveInt(path string, n int) {
	if n <= 0 {
		v.add(path, "must be greater than 0, got %d", n)
	}
}

// enum checks that value is one of allowed.
func (v *validator) enum(path, value string, allowed ...string) {
	if slices.Contains(allowed, value) {
		return
	}
	if value == "" {
		v.add(path, "required (%s)", orList(allowed))
		return
	}
	v.add(path, "unknown value %q (want %s)", value, orList(allowed))
}

// orList writes a list of choices for a message: "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// header checks an HTTP header name.
func (v *validator) header(path, name string) {
	if !validToken(name) {
		v.add(path, "invalid header name %q (letters, digits and !#$%%&'*+-.^_`|~ only)", name)
	}
}

// validToken reports whether s is an RFC 9110 token, the syntax of header
// and cookie names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// selector checks a request attribute written as one of the given plain
// words, or header:NAME / cookie:NAME when those prefixes are allowed. It
// is the syntax of hash_on, rate-limit keys and cache vary entries.
func (v *validator) selector(path, s string, words, prefixes []string) {
	for _, w := range words {
		if s == w {
			return
		}
	}
	for _, p := range prefixes {
		if name, ok := strings.CutPrefix(s, p+":"); ok {
			if !validToken(name) {
				v.add(path, "invalid %s name %q in %q", p, name, s)
			}
			return
		}
	}
	forms := slices.Clone(words)
	for _, p := range prefixes {
		forms = append(forms, p+":NAME")
	}
	if s == "" {
		v.add(path, "required (%s)", orList(forms))
		return
	}
	v.add(path, "unknown value %q (want %s)", s, orList(forms))
}

// env checks that the environment variable name is set and not empty: a
// secret that silently resolves to "" would disable authentication or
// connect without a password.
func (v *validator) env(path, name string) {
	switch val, ok := os.LookupEnv(name); {
	case !ok:
		v.add(path, "environment variable %s is not set", name)
	case val == "":
		v.add(path, "environment variable %s is empty", name)
	}
}

// httpURL checks an http or https URL with a host.
func (v *validator) httpURL(path, s string) {
	if s == "" {
		v.add(path, "required")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "want an http:// or https:// URL, got %q", s)
	}
}

// maxReadBytes bounds the files Validate reads whole (certificates, keys,
// secrets), so that a config naming /dev/zero cannot stall `check`.
const maxReadBytes = 1 << 20

// readFile reads a small file named in the config, reporting at path why it
// cannot. Messages quote the name as written, not resolved, so that they
// read the same on every machine.
func (v *validator) readFile(path, name string) ([]byte, bool) {
	f, ok := v.open(path, name)
	if !ok {
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReadBytes+1))
	if err != nil {
		v.add(path, "cannot read %q: %v", name, fileErr(err))
		return nil, false
	}
	if len(data) > maxReadBytes {
		v.add(path, "%q is larger than %d bytes", name, maxReadBytes)
		return nil, false
	}
	return data, true
}

// readable checks that a file named in the config can be opened, without
// reading it: it may be large (API keys) or re-read later (JWKS).
func (v *validator) readable(path, name string) {
	if f, ok := v.open(path, name); ok {
		f.Close()
	}
}

func (v *validator) open(path, name string) (*os.File, bool) {
	if name == "" {
		v.add(path, "required")
		return nil, false
	}
	// Stat before opening: opening a named pipe would block until a
	// writer comes.
	file := v.c.Resolve(name)
	fi, err := os.Stat(file)
	if err == nil && !fi.Mode().IsRegular() {
		v.add(path, "%q is not a regular file", name)
		return nil, false
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(file)
	}
	if err != nil {
		v.add(path, "cannot read %q: %v", name, fileErr(err))
		return nil, false
	}
	return f, true
}

// fileErr drops the file name from an fs.PathError: the caller names the
// file as the config wrote it.
func fileErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sortedKeys returns the keys of m in order, so that Validate reports the
// problems of a map in the same order every time.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
