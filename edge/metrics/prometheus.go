package metrics

import (
	"bufio"
	"io"
	"strconv"
)

var classLabels = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Writer writes Prometheus text exposition format (version 0.0.4).
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// Help writes the HELP and TYPE lines of a metric family.
func (w *Writer) Help(name, typ, help string) {
	w.buf = append(w.buf[:0], "# HELP "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, help...)
	w.buf = append(w.buf, "\n# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
	w.w.Write(w.buf)
}

// Sample writes one sample; labels alternate name and value.
func (w *Writer) Sample(name string, value float64, labels ...string) {
	w.buf = append(w.buf[:0], name...)
	if len(labels) > 0 {
		w.buf = append(w.buf, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, labels[i]...)
			w.buf = append(w.buf, `="`...)
			w.buf = appendEscaped(w.buf, labels[i+1])
			w.buf = append(w.buf, '"')
		}
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendFloat(w.buf, value, 'g', -1, 64)
	w.buf = append(w.buf, '\n')
	w.w.Write(w.buf)
}

// appendEscaped escapes a label value as the text format requires.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, `\\`...)
		case '"':
			dst = append(dst, `\"`...)
		case '\n':
			dst = append(dst, `\n`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// WritePrometheus writes every series to out.
func (r *Registry) WritePrometheus(out io.Writer) error {
	w := &Writer{w: bufio.NewWriter(out)}
	routes := r.sortedRoutes()

	w.Help("gateway_requests_total", "counter", "Requests answered, by route, service and status class.")
	for _, m := range routes {
		for class := 1; class <= 5; class++ {
			if n := m.byClass[class].Load(); n > 0 {
				w.Sample("gateway_requests_total", float64(n),
					"route", m.name, "service", m.service, "class", classLabels[class])
			}
		}
	}

	w.Help("gateway_request_duration_seconds", "histogram", "Time from request received to response ready, by route.")
	for _, m := range routes {
		var cum uint64
		for i, le := range latencyBuckets {
			cum += m.latency.counts[i].Load()
			w.Sample("gateway_request_duration_seconds_bucket", float64(cum),
				"route", m.name, "service", m.service, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		cum += m.latency.counts[len(latencyBuckets)].Load()
		w.Sample("gateway_request_duration_seconds_bucket", float64(cum), "route", m.name, "service", m.service, "le", "+Inf")
		w.Sample("gateway_request_duration_seconds_sum", float64(m.latency.sumNs.Load())/1e9, "route", m.name, "service", m.service)
		w.Sample("gateway_request_duration_seconds_count", float64(cum), "route", m.name, "service", m.service)
	}

	w.Help("gateway_config_reloads_total", "counter", "Configuration reloads, by result.")
	w.Sample("gateway_config_reloads_total", float64(r.ReloadsOK.Load()), "result", "ok")
	w.Sample("gateway_config_reloads_total", float64(r.ReloadsFailed.Load()), "result", "failed")

	for _, f := range r.sortedFamilies() {
		f.write(w)
	}

	r.mu.Lock()
	collectors := append([]func(*Writer){}, r.collectors...)
	r.mu.Unlock()
	for _, c := range collectors {
		c(w)
	}
	return w.w.Flush()
}
