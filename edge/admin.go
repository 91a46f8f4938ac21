package edge

import (
	"time"

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
		if r := g.current.Load().parts.redis; r != nil {
			if err := r.Ping(time.Second); err != nil {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				ctx.SetBodyString("redis unreachable\n")
				return
			}
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
	{"gateway_upstream_healthy", "gauge", "1 when an upstream instance is in rotation (health checks pass, not ejected).",
		func(in *pool.Instance) float64 { return bool01(in.Healthy()) }},
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// circuitStates are the values of gateway_circuit_state, one series each.
var circuitStates = []pool.CircuitState{pool.CircuitClosed, pool.CircuitOpen, pool.CircuitHalfOpen}

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
	w.Help("gateway_circuit_state", "gauge", "1 for the state each service's circuit is in.")
	for _, name := range services {
		state := c.services[name].Circuit()
		for _, st := range circuitStates {
			w.Sample("gateway_circuit_state", bool01(state == st), "service", name, "state", st.String())
		}
	}
	c.parts.collect(w)

	w.Help("gateway_open_connections", "gauge", "Client connections open, by listener.")
	w.Sample("gateway_open_connections", float64(g.plain.GetOpenConnectionsCount()), "listener", "http")
	if g.secure != nil {
		w.Sample("gateway_open_connections", float64(g.secure.GetOpenConnectionsCount()), "listener", "https")
	}
}
