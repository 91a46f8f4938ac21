package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/edge/metrics"
)

// Options are the parts of a Gateway that do not come from the file.
type Options struct {
	// Log receives the gateway's own events. Default: a no-op logger.
	Log *zap.Logger
	// AccessLog, when not nil, gets one line per request.
	AccessLog *zap.Logger
	// Metrics collects the series the admin listener serves. Default: a
	// new registry.
	Metrics *metrics.Registry
	// Dial replaces TCP for upstream connections; benchmarks use it to
	// reach an in-memory backend. Nil: TCP.
	Dial fasthttp.DialFunc
}

// Gateway is the edge proxy: listeners, the current compiled
// configuration and the admin endpoints. Safe for concurrent use; Reload
// may run while requests are served.
type Gateway struct {
	log       *zap.Logger
	accessLog *zap.Logger
	metrics   *metrics.Registry
	dial      fasthttp.DialFunc

	current atomic.Pointer[compiled]
	certs   atomic.Pointer[certSet]
	// reloadMu serialises reloads, so two quick SIGHUPs cannot race.
	reloadMu sync.Mutex

	startCfg *config.Config // the server settings the listeners were built with
	plain    *fasthttp.Server
	secure   *fasthttp.Server
	admin    *fasthttp.Server

	plainLn, secureLn, adminLn net.Listener
	serving                    sync.WaitGroup
	ready                      atomic.Bool
}

// New compiles cfg and builds the servers without binding any port.
// cfg must have been through Defaults and Validate.
func New(cfg *config.Config, o Options) (*Gateway, error) {
	g := &Gateway{log: o.Log, accessLog: o.AccessLog, metrics: o.Metrics, dial: o.Dial, startCfg: cfg}
	if g.log == nil {
		g.log = zap.NewNop()
	}
	if g.metrics == nil {
		g.metrics = metrics.New()
	}
	c, err := compile(cfg, g.compileOptions())
	if err != nil {
		return nil, err
	}
	certs, err := loadCertSet(cfg)
	if err != nil {
		c.close(nil)
		return nil, err
	}
	g.current.Store(c)
	g.certs.Store(certs)
	g.metrics.AddCollector(g.collect)

	g.plain = g.newServer(cfg, g.serve)
	if cfg.Server.TLS != nil {
		g.secure = g.newServer(cfg, g.serve)
		if cfg.Server.TLS.RedirectHTTP {
			g.plain.Handler = g.redirectToHTTPS
		}
	}
	g.admin = &fasthttp.Server{
		Handler:               g.serveAdmin,
		Name:                  "",
		NoDefaultServerHeader: true,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          60 * time.Second, // pprof profiles take a while
		IdleTimeout:           60 * time.Second,
		SecureErrorLogMessage: true,
		Logger:                zapPrintf{log: g.log},
	}
	return g, nil
}

func (g *Gateway) compileOptions() compileOptions {
	return compileOptions{log: g.log, metrics: g.metrics, dial: g.dial}
}

// newServer builds a client-facing server with every limit set on
// purpose: fasthttp's defaults (no timeouts, 4 KiB header buffer, 400 for
// an oversized body, raw requests in error logs, multipart re-encoding)
// are wrong for an edge proxy. The header blocks fasthttp is lenient about
// are refused by serve itself (checkHeaderBlock).
func (g *Gateway) newServer(cfg *config.Config, h fasthttp.RequestHandler) *fasthttp.Server {
	s := cfg.Server
	return &fasthttp.Server{
		Handler:                      h,
		ErrorHandler:                 g.serveParseError,
		ExpectHandler:                g.expect,
		ReadTimeout:                  s.ReadTimeout.D(),
		WriteTimeout:                 s.WriteTimeout.D(),
		IdleTimeout:                  s.IdleTimeout.D(),
		ReadBufferSize:               s.MaxHeaderBytes,
		MaxRequestBodySize:           s.MaxBodyBytes,
		Concurrency:                  s.MaxConnections,
		MaxRequestsPerConn:           s.MaxRequestsPerConn,
		SecureErrorLogMessage:        true,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		Logger:                       zapPrintf{log: g.log, redact: true},
	}
}

// Start binds the listeners and serves in the background. It returns once
// every port is bound, so a bad address fails here, not later.
func (g *Gateway) Start() error {
	cfg := g.startCfg
	var err error
	if g.plainLn, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	if cfg.Server.TLS != nil {
		ln, err := net.Listen("tcp", cfg.Server.TLS.Listen)
		if err != nil {
			g.plainLn.Close()
			return fmt.Errorf("server.tls.listen: %w", err)
		}
		g.secureLn = tls.NewListener(ln, g.tlsConfig(cfg.Server.TLS.MinVersion))
	}
	if cfg.Admin.Listen != "" && cfg.Admin.Listen != config.AdminOff {
		if g.adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			g.plainLn.Close()
			if g.secureLn != nil {
				g.secureLn.Close()
			}
			return fmt.Errorf("admin.listen: %w", err)
		}
	}
	g.goServe(g.plain, g.plainLn)
	g.goServe(g.secure, g.secureLn)
	g.goServe(g.admin, g.adminLn)
	g.ready.Store(true)
	g.log.Info("gateway listening", zap.Stringer("listen", g.plainLn.Addr()),
		zap.Stringer("tls", addrOf(g.secureLn)), zap.Stringer("admin", addrOf(g.adminLn)))
	return nil
}

func (g *Gateway) goServe(s *fasthttp.Server, ln net.Listener) {
	if s == nil || ln == nil {
		return
	}
	g.serving.Add(1)
	go func() {
		defer g.serving.Done()
		if err := s.Serve(ln); err != nil {
			g.log.Error("listener stopped", zap.Stringer("addr", ln.Addr()), zap.Error(err))
		}
	}()
}

// Addr is the plain listener's address, TLSAddr the TLS listener's and
// AdminAddr the admin listener's; nil when not listening.
func (g *Gateway) Addr() net.Addr      { return addrOf(g.plainLn) }
func (g *Gateway) TLSAddr() net.Addr   { return addrOf(g.secureLn) }
func (g *Gateway) AdminAddr() net.Addr { return addrOf(g.adminLn) }

type nilAddr struct{}

func (nilAddr) Network() string { return "" }
func (nilAddr) String() string  { return "" }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nilAddr{}
	}
	return ln.Addr()
}

// Reload compiles cfg and, if it is valid, makes it the configuration new
// requests see. Requests in flight finish on the old one. On error the
// old configuration keeps serving and the error names every problem.
// Listener settings (addresses, timeouts, limits) take effect on restart;
// certificates are re-read now.
func (g *Gateway) Reload(cfg *config.Config) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	o := g.compileOptions()
	o.prev = g.current.Load()
	c, err := compile(cfg, o)
	if err != nil {
		g.metrics.ReloadsFailed.Add(1)
		return err
	}
	certs, err := loadCertSet(cfg)
	if err == nil && (certs == nil) != (g.startCfg.Server.TLS == nil) {
		err = errors.New("server.tls: adding or removing TLS needs a restart")
	}
	if err != nil {
		c.close(o.prev.parts)
		g.metrics.ReloadsFailed.Add(1)
		return err
	}
	if !sameListeners(g.startCfg.Server, cfg.Server) || g.startCfg.Admin != cfg.Admin {
		g.log.Warn("server and admin listener settings changed; they take effect on restart")
	}
	old := g.current.Swap(c)
	if certs != nil {
		g.certs.Store(certs)
	}
	g.metrics.ReloadsOK.Add(1)
	// Requests that loaded the old configuration may still be forwarding
	// through its pools; give them their longest timeout before closing
	// the idle connections and the parts the new one does not reuse.
	// Close never interrupts a request.
	time.AfterFunc(maxTimeout(old), func() { old.close(c.parts) })
	return nil
}

func sameListeners(a, b config.Server) bool {
	a.TLS, b.TLS = nil, nil
	return a == b
}

func maxTimeout(c *compiled) time.Duration {
	d := time.Second
	for _, r := range c.routes {
		d = max(d, r.timeout)
	}
	return d
}

// Shutdown stops accepting, lets in-flight requests finish and closes idle
// keep-alive connections, bounded by ctx. The admin listener stops last,
// so readiness can be watched during the drain.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.ready.Store(false)
	servers := []struct {
		s  *fasthttp.Server
		ln net.Listener
	}{{g.plain, g.plainLn}, {g.secure, g.secureLn}}
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, sv := range servers {
		if sv.ln == nil {
			continue // never started
		}
		wg.Go(func() { errs[i] = sv.s.ShutdownWithContext(ctx) })
	}
	wg.Wait()
	if g.adminLn != nil {
		errs = append(errs, g.admin.ShutdownWithContext(ctx))
	}
	g.serving.Wait()
	g.current.Load().close(nil)
	return errors.Join(errs...)
}

// zapPrintf adapts zap to fasthttp's Logger. fasthttp logs connection
// errors here, and SecureErrorLogMessage does not keep request bytes out of
// all of them: a header parse error quotes the offending value ("invalid
// header value \"Bearer ...\""), so an Authorization header with one bad
// byte would land in the log whole. With redact set, an error argument is
// logged only when it is a network error (an address and a cause, no
// request bytes); any other error is replaced by a fixed text. The client
// was already answered by serveParseError.
type zapPrintf struct {
	log    *zap.Logger
	redact bool
}

// withheld replaces the text of an error that may quote request bytes.
type withheld struct{}

func (withheld) Error() string {
	return "malformed request (details withheld: they may quote credentials)"
}

func (z zapPrintf) Printf(format string, args ...any) {
	if z.redact {
		for i, a := range args {
			err, ok := a.(error)
			var netErr *net.OpError
			if ok && !errors.As(err, &netErr) {
				args[i] = withheld{}
			}
		}
	}
	z.log.Warn(fmt.Sprintf(format, args...))
}
