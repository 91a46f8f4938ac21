#!/usr/bin/env bash
# Compares redis-mode Allow with redis-benchmark running the same Lua
# script (EVALSHA) against the same redis-server, and hybrid-mode Allow
# with local-mode Allow. The Go benchmarks start their own redis-server on
# a free loopback port and run redis-benchmark themselves, so both sides
# see the same server, scripts, keys and concurrency (50).
#
#   bash bench/limiter/run.sh                 # 5s per benchmark, 3 rounds
#   BENCHTIME=2s COUNT=1 bash bench/limiter/run.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
BENCHTIME=${BENCHTIME:-5s}
COUNT=${COUNT:-3}

for bin in redis-server redis-benchmark; do
	command -v "$bin" >/dev/null || { echo "run.sh: $bin not found (make test-deps installs it)" >&2; exit 1; }
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT

go test -run '^$' -bench '^(BenchmarkRedisAllow|BenchmarkAllow)$' \
	-benchmem -benchtime="$BENCHTIME" -count="$COUNT" ./limiter/ | tee "$out"

echo
echo "== redis mode vs redis-benchmark (target: ratio-P1 >= 0.8) =="
awk '/^BenchmarkRedisAllow/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "allow/s")  ours[name] += $i
		if ($(i+1) == "rb-P1/s")  p1[name] += $i
		if ($(i+1) == "rb-P16/s") p16[name] += $i
	}
	n[name]++
}
END {
	for (k in n)
		printf "%-42s allow %8.0f/s  redis-benchmark -P1 %8.0f/s (ratio %.2f)  -P16 %8.0f/s (ratio %.2f)\n",
			k, ours[k]/n[k], p1[k]/n[k], ours[k]/p1[k], p16[k]/n[k], ours[k]/p16[k]
}' "$out"

echo
echo "== hybrid vs local Allow (target: within 5%) =="
awk '/^BenchmarkAllow\/(local|hybrid)\// {
	split($1, part, "/"); sub(/-[0-9]+$/, "", part[4]); alg = part[3] "/" part[4]
	ns[part[2] "/" alg] += $3; n[part[2] "/" alg]++; algs[alg] = 1
}
END {
	for (a in algs) {
		l = ns["local/" a] / n["local/" a]; h = ns["hybrid/" a] / n["hybrid/" a]
		printf "%-16s local %7.1f ns/op  hybrid %7.1f ns/op  (%+.1f%%)\n", a, l, h, (h - l) / l * 100
	}
}' "$out"
