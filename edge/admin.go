package edge

import (
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/edgegate/gateway/edge/metrics"
	"github.com/edgegate/gateway/pool"
)

// serveAdmin serves the operator's endpoints. The admin listener binds to
// loopback by default: profiles and metrics are not for the internet.
func (g *Gateway) serveAdmin(ctx *fasthttp.RequestCtx) {
	switch path := string(ctx.Path()); {
	case path == "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		if err := g.metrics.WritePrometheus(ctx); err != nil {
			ctx.Error("metrics unavailable", fasthttp.StatusInternalServerError)
		}
	case path == "/healthz":
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok\n")
	case path == "/readyz":
		ctx.SetContentType("text/plain; charset=utf-8")
		if !g.ready.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready\n")
			return
		}
		ctx.SetBodyString("ready\n")
	case len(path) >= len("/debug/pprof/") && path[:len("/debug/pprof/")] == "/debug/pprof/":
		pprofhandler.PprofHandler(ctx)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

// instanceSeries are the per-instance series, each read from an Instance.
var instanceSeries = []struct {
	name, typ, help string
	value           func(in *pool.Instance) float64
}{
	{"gateway_upstream_in_flight", "gauge", "Requests in flight to an upstream instance.",
		func(in *pool.Instance) float64 { return float64(in.InFlight()) }},
	{"gateway_upstream_requests_total", "counter", "Requests sent to an upstream instance.",
		func(in *pool.Instance) float64 { return float64(in.Requests()) }},
	{"gateway_upstream_failures_total", "counter", "Upstream exchanges that failed (refused, reset, timed out, invalid).",
		func(in *pool.Instance) float64 { return float64(in.Failures()) }},
	// Static instances are always in rotation until active health checks
	// can take one out.
	{"gateway_upstream_healthy", "gauge", "1 when an upstream instance is in rotation.",
		func(*pool.Instance) float64 { return 1 }},
}

// collect writes the series owned by the current configuration's pools and
// by the servers at scrape time.
func (g *Gateway) collect(w *metrics.Writer) {
	c := g.current.Load()
	services := sortedKeys(c.services)
	for _, series := range instanceSeries {
		w.Help(series.name, series.typ, series.help)
		for _, name := range services {
			for _, in := range c.services[name].Instances() {
				w.Sample(series.name, series.value(in), "service", name, "instance", in.Addr())
			}
		}
	}
	w.Help("gateway_open_connections", "gauge", "Client connections open, by listener.")
	w.Sample("gateway_open_connections", float64(g.plain.GetOpenConnectionsCount()), "listener", "http")
	if g.secure != nil {
		w.Sample("gateway_open_connections", float64(g.secure.GetOpenConnectionsCount()), "listener", "https")
	}
}
