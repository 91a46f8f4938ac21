# Sourced by bench/run.sh: the rate limiter's own comparisons, which need
# no proxy. Go benchmarks (limiter/bench_test.go, redis_bench_test.go)
# start their own redis-server on a free loopback port:
#
#   - BenchmarkAllow: local and hybrid mode on the same keys, one goroutine
#     and all cores; hybrid answers from memory and syncs every 100 ms.
#   - BenchmarkRedisAllow: redis-mode Allow from 50 goroutines, then
#     redis-benchmark running the same script (EVALSHA, same keys) against
#     the same server from 50 connections, with 1 and with 16 requests in
#     flight per connection.
#
# Each of ROUNDS counts is one such side-by-side pair; the report takes
# medians over them.

LIMITER_BENCHTIME=${LIMITER_BENCHTIME:-3s}

limiter_scenario() {
	command -v redis-benchmark >/dev/null || die "redis-benchmark not found (it comes with redis-server: make bench-deps)"
	log "=== limiter: hybrid against local, redis mode against redis-benchmark ($ROUNDS counts, $LIMITER_BENCHTIME each)"
	local -a argv=(go test -run '^$' -bench '^(BenchmarkAllow|BenchmarkRedisAllow)$' -benchmem
		-benchtime "$LIMITER_BENCHTIME" -count "$ROUNDS" ./limiter/)
	meta limiter.cmd "${argv[*]}"
	timeout $((ROUNDS * 300 + 300)) "${argv[@]}" >"$RESULTS/latest-limiter.txt" 2>&1 ||
		die "limiter benchmarks failed: $(tail -n 20 "$RESULTS/latest-limiter.txt")"
}
