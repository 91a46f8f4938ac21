#!/usr/bin/env bash
# Whole-process benchmark: the gateway against nginx, HAProxy and the bare
# backend, all on loopback, driven by wrk in interleaved rounds, then vegeta
# at fixed rates. Writes the raw runs to bench/results/latest-*.tsv, the
# summary to bench/results/latest.json and regenerates BENCHMARKS.md.
#
# Settings (environment):
#   QUICK=0         1: a check that everything works end to end, not a
#                   measurement: ROUNDS=1 DURATION=2s WARMUP=0s
#                   PROFILE_SECONDS=2 VEGETA_DURATION=2s unless set
#   ROUNDS=3        rounds per scenario; every target runs once per round
#   DURATION=10s    length of one wrk run (s or m suffix, or plain seconds)
#   CONNS=64        wrk connections
#   AGG_CONNS=8     wrk connections in the aggregate scenario, which
#                   measures latency rather than throughput
#   THREADS=2       wrk threads
#   WARMUP=1s       unrecorded wrk run per target before the first round
#   WORKERS=2       nginx worker_processes, HAProxy nbthread (the gateway and
#                   the backend use GOMAXPROCS = the CPUs they may run on)
#   PIN=0           1: wrk on CPU 0, backend and proxy on CPU 1 (WORKERS then
#                   defaults to 1)
#   PROFILE_SECONDS=5  length of each gateway CPU profile (0: none)
#   PROFILE_SCENARIOS="plain-1k full-chain"  scenarios whose gateway is profiled
#   ONLY=""         scenario ids to run (space separated); empty: all
#   VEGETA_RATES="2000 5000 10000"  open-loop rates, requests per second
#   VEGETA_DURATION=10s  length of one vegeta attack
#   VEGETA_ROUNDS=1 attacks per rate and target (interleaved like wrk's)
#   LIMITER_BENCHTIME=3s  length of each limiter Go benchmark (ROUNDS counts)
#   BASE_PORT=19100 first of the 20 consecutive loopback ports used
#   DEADLINE=0      hard limit on the whole run in seconds (0: derived)
#
# Usage: bash bench/run.sh            (or: make bench)
#        QUICK=1 bash bench/run.sh    (about three minutes)
set -euo pipefail

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-2s} WARMUP=${WARMUP:-0s}
	PROFILE_SECONDS=${PROFILE_SECONDS:-2} VEGETA_DURATION=${VEGETA_DURATION:-2s}
	LIMITER_BENCHTIME=${LIMITER_BENCHTIME:-1s}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
AGG_CONNS=${AGG_CONNS:-8}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-1s}
PIN=${PIN:-0}
if [[ $PIN == 1 ]]; then WORKERS=${WORKERS:-1}; else WORKERS=${WORKERS:-2}; fi
PROFILE_SECONDS=${PROFILE_SECONDS:-5}
PROFILE_SCENARIOS=${PROFILE_SCENARIOS:-plain-1k full-chain}
ONLY=${ONLY:-}
VEGETA_RATES=${VEGETA_RATES:-2000 5000 10000}
VEGETA_DURATION=${VEGETA_DURATION:-10s}
VEGETA_ROUNDS=${VEGETA_ROUNDS:-1}
BASE_PORT=${BASE_PORT:-19100}
DEADLINE=${DEADLINE:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=bench
RESULTS=$BENCH/results
WORK=$RESULTS/tmp # ignored by git: configs, logs, wrk and vegeta output, profiles
RUNS=$RESULTS/latest-runs.tsv
VRUNS=$RESULTS/latest-vegeta.tsv
META=$RESULTS/latest-meta.tsv

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
WRK=${WRK:-$(command -v wrk || echo /usr/bin/wrk)}
REDIS=${REDIS:-$(command -v redis-server || echo /usr/bin/redis-server)}
VEGETA=${VEGETA:-$(command -v vegeta || echo "$(go env GOPATH)/bin/vegeta")}

# Ports, as offsets from BASE_PORT; a gateway's admin listener is the next port.
declare -A PORT_OF=(
	[backend]=0 [gateway]=1 [nginx]=3 [haproxy]=4 [gateway-log]=5 [nginx-log]=7
	[haproxy-log]=8 [gateway-chain]=9 [gateway-apikey]=11 [redis]=13
	[gateway-flood]=14 [gateway-aggregate]=16 [gateway-10k]=18
)
NPORTS=20
for p in "${!PORT_OF[@]}"; do PORT_OF[$p]=$((BASE_PORT + PORT_OF[$p])); done

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# seconds converts a wrk duration (10s, 2m, 30) to whole seconds.
seconds() {
	case $1 in
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
DUR_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
VEGETA_S=$(seconds "$VEGETA_DURATION")
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "DURATION must be like 10s, 1m or 10 (got $DURATION)"
[[ $VEGETA_S =~ ^[0-9]+$ && $VEGETA_S -gt 0 ]] || die "VEGETA_DURATION must be like 10s (got $VEGETA_DURATION)"
[[ $WARMUP_S =~ ^[0-9]+$ ]] || die "WARMUP must be like 1s (got $WARMUP)"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be at least 1 (got $ROUNDS)"
[[ $VEGETA_ROUNDS =~ ^[0-9]+$ ]] || die "VEGETA_ROUNDS must be a number (got $VEGETA_ROUNDS)"
((ROUNDS >= 3)) || log "ROUNDS=$ROUNDS: medians need at least 3 rounds; this run checks the suite, it does not measure"

if [[ $PIN == 1 ]]; then
	LOADGEN_CPU=(taskset -c 0)
	SUT_CPU=(taskset -c 1)
else
	LOADGEN_CPU=()
	SUT_CPU=()
fi

source "$BENCH/lib/processes.sh"
source "$BENCH/lib/targets.sh"
source "$BENCH/lib/wrk.sh"
source "$BENCH/lib/vegeta.sh"
source "$BENCH/lib/limiter.sh"

# ---------------------------------------------------------------- scenarios

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

selected() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }

# scenario ID BODY_BYTES TITLE TARGET...: start the backend and the targets'
# processes, warm each target up, run ROUNDS interleaved rounds, profile the
# gateway if asked, stop everything.
scenario() {
	local id=$1
	SIZE=$2
	local title=$3
	shift 3
	local -a targets=("$@")
	selected "$id" || return 0
	log "=== scenario $id: $title (targets: ${targets[*]})"
	meta "scenario" "$id"
	meta "scenario.$id.title" "$title"
	meta "scenario.$id.size" "$SIZE"
	meta "scenario.$id.targets" "${targets[*]}"

	start_backend "$SIZE"
	local t r
	for t in "${targets[@]}"; do start_target "$t"; done
	for t in "${targets[@]}"; do
		meta "target.$t.wrk" "$(wrk_shown "$t" "$DURATION")"
		warm_up "$t"
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		for t in "${targets[@]}"; do run_wrk "$id" "$t" "$r"; done
	done
	if [[ " $PROFILE_SCENARIOS " == *" $id "* ]]; then
		for t in "${targets[@]}"; do
			if [[ -n ${ADMIN_OF[${PROC_OF[$t]}]:-} ]]; then
				profile_gateway "$id" "$t"
				break
			fi
		done
	fi
	stop_all
}

# ------------------------------------------------------------------- main

for tool in "$NGINX" "$HAPROXY" "$WRK" "$REDIS" curl go taskset pgrep timeout awk; do
	command -v "$tool" >/dev/null || die "$tool not found (make bench-deps installs nginx, haproxy, wrk, redis-server and vegeta)"
done
for ((p = BASE_PORT; p < BASE_PORT + NPORTS; p++)); do
	port_free "$p" || die "port $p is in use (set BASE_PORT to move the $NPORTS ports)"
done

nrates=$(wc -w <<<"$VEGETA_RATES")
if ((DEADLINE == 0)); then
	# 20 wrk runs per round plus warm-ups and profiles, 3 targets per rate
	# for vegeta, the limiter benchmarks, and room for starting and stopping
	# processes.
	DEADLINE=$((900 + ROUNDS * DUR_S * 30 + VEGETA_ROUNDS * nrates * 3 * (VEGETA_S + 20) + ROUNDS * 300))
fi
start_watchdog "$DEADLINE"

rm -rf "$WORK"
mkdir -p "$WORK" bin
STARTED=$SECONDS

log "building bin/gateway, bin/bench-backend, bin/bench-tokens, bin/bench-latency, bin/bench-report"
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
timeout 600 go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
	-o bin/gateway ./cmd/gateway || die "go build ./cmd/gateway failed"
for cmd in backend tokens latency report; do
	timeout 300 go build -trimpath -o "bin/bench-$cmd" "./bench/$cmd" || die "building bench/$cmd failed"
done

printf 'scenario\ttarget\tround\trequests\tduration_s\trps\tp50_us\tp99_us\tp999_us\tmean_us\terrors\tnon2xx\tbytes_per_req\tproxy_cpu_s\tbackend_cpu_s\twrk_cpu_s\tmachine_busy_cpu_s\n' >"$RUNS"
printf 'rate\ttarget\tround\trequests\tok\tsuccess\tachieved_rps\tp50_us\tp99_us\tp999_us\tmax_us\tmean_us\tproxy_cpu_s\n' >"$VRUNS"
: >"$META"
rm -f "$RESULTS"/latest-pprof*.txt "$RESULTS"/vegeta-*.png "$RESULTS"/latest-limiter.txt
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta nproc "$(nproc)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta kernel "$(uname -sr)"
meta loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
meta version.go "$(go version)"
meta version.nginx "$("$NGINX" -v 2>&1 | head -n1)"
meta version.haproxy "$("$HAPROXY" -v 2>&1 | head -n1)"
meta version.wrk "$("$WRK" -v 2>&1 | head -n1 | sed 's/ *Copyright.*//')"
meta version.redis "$("$REDIS" --version 2>&1 | head -n1)"
meta version.vegeta "$(vegeta_version)"
meta version.gateway "$(timeout 10 bin/gateway version 2>&1 | paste -sd ';' | sed 's/;/; /g')"
meta rounds "$ROUNDS"
meta settings.agg_conns "$AGG_CONNS"
meta settings.vegeta_rounds "$VEGETA_ROUNDS"
meta quick "$QUICK"
meta settings "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS AGG_CONNS=$AGG_CONNS THREADS=$THREADS WARMUP=$WARMUP WORKERS=$WORKERS PIN=$PIN VEGETA_RATES='$VEGETA_RATES' VEGETA_DURATION=$VEGETA_DURATION VEGETA_ROUNDS=$VEGETA_ROUNDS"
meta cmd.run "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS AGG_CONNS=$AGG_CONNS THREADS=$THREADS WARMUP=$WARMUP WORKERS=$WORKERS PIN=$PIN VEGETA_RATES='$VEGETA_RATES' VEGETA_DURATION=$VEGETA_DURATION VEGETA_ROUNDS=$VEGETA_ROUNDS bash bench/run.sh"
SIZE=1024
define_target gateway
meta cmd.wrk "$(wrk_shown gateway "$DURATION" | sed "s/:${PORT_OF[gateway]}\\//:PORT\\//")"

# Each scenario is one call; the targets run in this order in every round.
scenario plain-1k 1024 "Plain proxy route, 1 KiB response" direct gateway nginx haproxy
scenario plain-64k 65536 "Plain proxy route, 64 KiB response" direct gateway nginx haproxy
scenario accesslog-1k 1024 "Access log on (written to a file), 1 KiB response" gateway-log nginx-log haproxy-log
scenario full-chain 1024 "Full chain: cached JWT, rate limit, header rules, access log; against nginx's plain proxy" nginx gateway-chain
scenario api-key 1024 "API key route, keys in Redis" gateway-apikey
scenario flood-429 1024 "429 flood: a route whose limit is one request per hour, against the plain route" gateway gateway-429
meta aggregate.calls_ms "5 10 15 20 25" # the paths of bench/gateway-aggregate.yaml
scenario aggregate 1024 "Aggregate of 5 calls (5 to 25 ms) against the same 5 calls made one after another" gateway-aggregate gateway-sequential
scenario routes-10k 1024 "10,000 routes loaded, one in the middle requested, against a single route" gateway gateway-10k
if selected vegeta; then vegeta_scenario; fi
if selected limiter; then limiter_scenario; fi

for c in "${COMMANDS[@]}"; do meta cmd.process "$c"; done
meta elapsed_s "$((SECONDS - STARTED))"

timeout 60 bin/bench-report -results "$RESULTS" -out BENCHMARKS.md ||
	die "bench/report failed"
log "done in $((SECONDS - STARTED))s: BENCHMARKS.md, $RESULTS/latest.json, $RUNS, $VRUNS"
