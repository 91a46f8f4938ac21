-- wrk script: only a done() hook, so wrk keeps its static-request fast path.
-- Prints one line that run.sh parses:
--   BENCH requests=N duration_us=N bytes=N rps=F p50_us=F p99_us=F p999_us=F
--         mean_us=F max_us=F err_connect=N err_read=N err_write=N
--         err_status=N err_timeout=N
-- Latencies are in microseconds; err_status counts responses outside 2xx/3xx.
done = function(summary, latency, requests)
   local e = summary.errors
   local rps = 0
   if summary.duration > 0 then
      rps = summary.requests / (summary.duration / 1e6)
   end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d rps=%.1f p50_us=%.0f p99_us=%.0f p999_us=%.0f mean_us=%.1f max_us=%.0f err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.bytes, rps,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
      latency.mean, latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
