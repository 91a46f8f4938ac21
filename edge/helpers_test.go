package edge

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/edgegate/gateway/edge/config"
)

// backend is a real HTTP server on loopback that records what it receives
// and answers with a JSON echo of it.
type backend struct {
	name string
	srv  *http.Server
	addr string

	mu   sync.Mutex
	seen []seenRequest
	// handle, when set, answers instead of the echo.
	handle func(w http.ResponseWriter, r *http.Request)
}

type seenRequest struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

func startBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seenRequest{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: string(body)}
	b.mu.Lock()
	b.seen = append(b.seen, s)
	handle := b.handle
	b.mu.Unlock()
	if handle != nil {
		handle(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Backend", b.name)
	json.NewEncoder(w).Encode(s)
}

func (b *backend) setHandler(h func(w http.ResponseWriter, r *http.Request)) {
	b.mu.Lock()
	b.handle = h
	b.mu.Unlock()
}

func (b *backend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.seen...)
}

func (b *backend) last(t testing.TB) seenRequest {
	t.Helper()
	s := b.requests()
	if len(s) == 0 {
		t.Fatalf("backend %s received nothing", b.name)
	}
	return s[len(s)-1]
}

// gatewayFixture is a started gateway on loopback ports.
type gatewayFixture struct {
	gw   *Gateway
	base string // http://127.0.0.1:PORT
	cfg  *config.Config
}

// parseConfig decodes YAML written by a test, with "{{name}}" replaced by
// vars[name]. The file lives in a temp dir so relative paths resolve there.
func parseConfig(t testing.TB, yaml string, vars map[string]string) *config.Config {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

// startGateway starts a gateway on free loopback ports. The YAML needs no
// listen addresses; they are set here.
func startGateway(t testing.TB, yaml string, vars map[string]string, opts ...func(*Options)) *gatewayFixture {
	t.Helper()
	cfg := parseConfig(t, yaml, vars)
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	if cfg.Server.TLS != nil {
		cfg.Server.TLS.Listen = "127.0.0.1:0"
	}
	o := Options{Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	for _, f := range opts {
		f(&o)
	}
	gw, err := New(cfg, o)
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return &gatewayFixture{gw: gw, base: "http://" + gw.Addr().String(), cfg: cfg}
}

var testClient = &http.Client{Timeout: 10 * time.Second}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request; headers alternate name and value.
func do(t testing.TB, method, url string, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// errorBody is the JSON of a gateway error.
type errorBody struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	TraceID string `json:"trace_id"`
}

func wantError(t testing.TB, r response, status int, code string) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Error.Status != status || e.Error.Code != code {
		t.Fatalf("error body %+v, want status %d code %s", e, status, code)
	}
	if e.TraceID == "" || e.TraceID != r.header.Get("X-Trace-ID") {
		t.Fatalf("trace id %q in body, %q in header", e.TraceID, r.header.Get("X-Trace-ID"))
	}
	return e
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func netSplit(addr string) (string, string, error) { return net.SplitHostPort(addr) }
