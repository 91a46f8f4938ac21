package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestPrometheusText(t *testing.T) {
	r := New()
	m := r.Route("users", "users-svc")
	m.Observe(200, 3*time.Millisecond)
	m.Observe(204, 40*time.Millisecond)
	m.Observe(503, 2*time.Second)
	if r.Route("users", "users-svc") != m {
		t.Fatal("Route must return the same series for the same names")
	}
	r.Route("odd\"name", "").Observe(404, time.Microsecond)
	r.ReloadsOK.Add(1)
	r.AddCollector(func(w *Writer) {
		w.Help("extra_gauge", "gauge", "An extra series.")
		w.Sample("extra_gauge", 7, "k", "v")
	})

	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE gateway_requests_total counter\n",
		`gateway_requests_total{route="users",service="users-svc",class="2xx"} 2` + "\n",
		`gateway_requests_total{route="users",service="users-svc",class="5xx"} 1` + "\n",
		`gateway_requests_total{route="odd\"name",service="",class="4xx"} 1` + "\n",
		`gateway_request_duration_seconds_bucket{route="users",service="users-svc",le="0.005"} 1` + "\n",
		`gateway_request_duration_seconds_bucket{route="users",service="users-svc",le="0.05"} 2` + "\n",
		`gateway_request_duration_seconds_bucket{route="users",service="users-svc",le="+Inf"} 3` + "\n",
		`gateway_request_duration_seconds_count{route="users",service="users-svc"} 3` + "\n",
		`gateway_request_duration_seconds_sum{route="users",service="users-svc"} 2.043` + "\n",
		`gateway_config_reloads_total{result="ok"} 1` + "\n",
		`extra_gauge{k="v"} 7` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New().Route("r", "s")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(200, 1500*time.Microsecond)
		}
	})
}

func TestCounters(t *testing.T) {
	r := New()
	f := r.Counters("gateway_auth_total", "Credential checks, by kind and result.", "kind", "result")
	f.With("jwt", "ok").Add(3)
	f.With("jwt", "unauthorized").Inc()
	if r.Counters("gateway_auth_total", "", "kind", "result").With("jwt", "ok") != f.With("jwt", "ok") {
		t.Fatal("the same family and values gave a new series")
	}
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE gateway_auth_total counter\n",
		`gateway_auth_total{kind="jwt",result="ok"} 3` + "\n",
		`gateway_auth_total{kind="jwt",result="unauthorized"} 1` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}
