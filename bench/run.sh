#!/usr/bin/env bash
# Whole-process benchmark: the gateway against nginx, HAProxy and the bare
# backend, all on loopback, driven by wrk in interleaved rounds. Writes the
# raw runs to bench/results/latest-runs.tsv, the summary to
# bench/results/latest.json and regenerates BENCHMARKS.md.
#
# Settings (environment):
#   ROUNDS=3        rounds per scenario; every target runs once per round
#   DURATION=10s    length of one wrk run (s or m suffix, or plain seconds)
#   CONNS=64        wrk connections
#   THREADS=2       wrk threads
#   WARMUP=1s       unrecorded wrk run per target before the first round
#   WORKERS=2       nginx worker_processes, HAProxy nbthread (the gateway and
#                   the backend use GOMAXPROCS = the CPUs they may run on)
#   PIN=0           1: wrk on CPU 0, backend and proxy on CPU 1 (WORKERS then
#                   defaults to 1)
#   PROFILE_SECONDS=5  length of the gateway CPU profile (0: none)
#   BASE_PORT=19100 first of the 8 consecutive loopback ports used
#   DEADLINE=0      hard limit on the whole run in seconds (0: derived)
#
# Usage: bash bench/run.sh            (or: make bench)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-1s}
PIN=${PIN:-0}
if [[ $PIN == 1 ]]; then WORKERS=${WORKERS:-1}; else WORKERS=${WORKERS:-2}; fi
PROFILE_SECONDS=${PROFILE_SECONDS:-5}
PROFILE_SCENARIO=${PROFILE_SCENARIO:-plain-1k}
BASE_PORT=${BASE_PORT:-19100}
DEADLINE=${DEADLINE:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=bench
RESULTS=$BENCH/results
WORK=$RESULTS/tmp # ignored by git: configs, logs, wrk output, the profile
RUNS=$RESULTS/latest-runs.tsv
META=$RESULTS/latest-meta.tsv
PPROF=$RESULTS/latest-pprof.txt

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
WRK=${WRK:-$(command -v wrk || echo /usr/bin/wrk)}

P_BACKEND=$BASE_PORT
P_GATEWAY=$((BASE_PORT + 1))
P_ADMIN=$((BASE_PORT + 2))
P_NGINX=$((BASE_PORT + 3))
P_HAPROXY=$((BASE_PORT + 4))
P_GATEWAY_LOG=$((BASE_PORT + 5))
P_ADMIN_LOG=$((BASE_PORT + 6))
P_NGINX_LOG=$((BASE_PORT + 7))

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
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "DURATION must be like 10s, 1m or 10 (got $DURATION)"
[[ $WARMUP_S =~ ^[0-9]+$ ]] || die "WARMUP must be like 1s (got $WARMUP)"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 3 ]] || die "ROUNDS must be at least 3 (got $ROUNDS)"

if [[ $PIN == 1 ]]; then
	LOADGEN_CPU=(taskset -c 0)
	SUT_CPU=(taskset -c 1)
else
	LOADGEN_CPU=()
	SUT_CPU=()
fi

# ---------------------------------------------------------------- processes

declare -a PIDS=()      # every long-running process this script started
declare -A PID_OF=()    # name -> pid
declare -A PORT_OF=()   # target -> port
declare -a COMMANDS=()  # exact command lines, for the report
WATCHDOG=

stop_pid() {
	local pid=$1 i kids
	kill -0 "$pid" 2>/dev/null || return 0
	kids=$(pgrep -P "$pid" || true)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for 5s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	for kid in $kids; do kill -KILL "$kid" 2>/dev/null || true; done
	wait "$pid" 2>/dev/null || true
}

stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	PIDS=()
	PID_OF=()
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if [[ -n $WATCHDOG ]]; then
		kill $(pgrep -P "$WATCHDOG" || true) "$WATCHDOG" 2>/dev/null || true
		wait "$WATCHDOG" 2>/dev/null || true
	fi
	if ((rc != 0)); then log "failed (exit $rc); logs are in $WORK/"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show prints a command line the way the report shows it: paths relative to
# the repository root, which is where this script runs.
show() {
	local s="$*"
	echo "${s//$ROOT\//}"
}

# start NAME CMD... runs CMD in the background with its output in
# $WORK/NAME.log and remembers its pid.
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	PID_OF[$name]=$pid
	COMMANDS+=("$(show "$@")")
	log "started $name (pid $pid): $(show "$@")"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# render TEMPLATE OUT NAME=VALUE... replaces @@NAME@@ with VALUE.
render() {
	local tmpl=$1 out=$2 kv
	shift 2
	local text
	text=$(<"$tmpl")
	for kv in "$@"; do
		text=${text//@@${kv%%=*}@@/${kv#*=}}
	done
	[[ $text != *@@*@@* ]] || die "$tmpl: placeholder left in $out"
	printf '%s\n' "$text" >"$out"
}

# wait_ready NAME URL SIZE: until URL answers 200 with SIZE body bytes.
wait_ready() {
	local name=$1 url=$2 size=$3 out deadline=$((SECONDS + 20))
	while :; do
		out=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code} %{size_download}' "$url" 2>/dev/null) || true
		[[ $out == "200 $size" ]] && return 0
		if ! kill -0 "${PID_OF[$name]}" 2>/dev/null; then
			tail -n 20 "$WORK/$name.log" >&2 || true
			die "$name exited before answering (log: $WORK/$name.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$WORK/$name.log" >&2 || true
			die "$name did not answer 200 with $size bytes at $url within 20s (last: '$out')"
		fi
		sleep 0.2
	done
}

# proc_pids NAME: the process and its children (nginx workers).
proc_pids() {
	local pid=${PID_OF[$1]}
	echo "$pid"
	pgrep -P "$pid" || true
}

# cpu_ticks PID...: utime+stime summed over the processes (all threads).
cpu_ticks() {
	local t=0 pid stat rest
	local -a f
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${stat##*) }
		read -r -a f <<<"$rest"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

# busy_ticks: CPU ticks the whole machine spent not idle (all cores), so
# that load from other processes during a run shows in the report.
busy_ticks() {
	local -a f
	read -r -a f </proc/stat
	# cpu user nice system idle iowait irq softirq steal ...
	echo $((f[1] + f[2] + f[3] + f[6] + f[7] + f[8]))
}

# ------------------------------------------------------------------ targets

# start_backend SIZE
start_backend() {
	start backend "${SUT_CPU[@]}" bin/bench-backend -listen "127.0.0.1:$P_BACKEND" -size "$1"
	wait_ready backend "http://127.0.0.1:$P_BACKEND/bench" "$1"
}

start_gateway() { # NAME PORT ADMIN_PORT ACCESS_LOG
	local name=$1 port=$2 admin=$3 accesslog=$4
	render "$BENCH/gateway.yaml" "$WORK/$name.yaml" \
		PORT="$port" ADMIN_PORT="$admin" BACKEND_PORT="$P_BACKEND" ACCESS_LOG="$accesslog"
	start "$name" "${SUT_CPU[@]}" bin/gateway -config "$WORK/$name.yaml"
}

start_nginx() { # NAME PORT ACCESS_LOG
	local name=$1 port=$2 accesslog=$3 dir="$ROOT/$WORK/$1" user=""
	mkdir -p "$dir"
	# Workers of a root master would run as nobody; keep them as the invoking
	# user so they can use the temporary directories.
	if ((EUID == 0)); then user="user $(id -un) $(id -gn);"; fi
	render "$BENCH/nginx.conf.tmpl" "$dir/nginx.conf" \
		USER_DIRECTIVE="$user" WORKERS="$WORKERS" DIR="$dir" PORT="$port" \
		BACKEND_PORT="$P_BACKEND" ACCESS_LOG="$accesslog"
	"$NGINX" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
		die "nginx rejected $dir/nginx.conf"
	start "$name" "${SUT_CPU[@]}" "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
}

start_haproxy() { # NAME PORT
	local name=$1 port=$2 dir="$ROOT/$WORK/$1"
	mkdir -p "$dir"
	render "$BENCH/haproxy.cfg.tmpl" "$dir/haproxy.cfg" \
		WORKERS="$WORKERS" DIR="$dir" PORT="$port" BACKEND_PORT="$P_BACKEND"
	"$HAPROXY" -c -q -f "$dir/haproxy.cfg" || die "haproxy rejected $dir/haproxy.cfg"
	start "$name" "${SUT_CPU[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg"
}

# Targets: direct (the backend itself), gateway, nginx, haproxy, and the
# access-log-on variants gateway-log and nginx-log (log written to a file in
# $WORK, truncated before every run).
start_target() {
	case $1 in
	direct) PORT_OF[direct]=$P_BACKEND ;;
	gateway)
		start_gateway gateway "$P_GATEWAY" "$P_ADMIN" off
		PORT_OF[gateway]=$P_GATEWAY
		;;
	gateway-log)
		start_gateway gateway-log "$P_GATEWAY_LOG" "$P_ADMIN_LOG" "$ROOT/$WORK/gateway-access.log"
		PORT_OF[gateway-log]=$P_GATEWAY_LOG
		;;
	nginx)
		start_nginx nginx "$P_NGINX" off
		PORT_OF[nginx]=$P_NGINX
		;;
	nginx-log)
		start_nginx nginx-log "$P_NGINX_LOG" "$ROOT/$WORK/nginx-access.log"
		PORT_OF[nginx-log]=$P_NGINX_LOG
		;;
	haproxy)
		start_haproxy haproxy "$P_HAPROXY"
		PORT_OF[haproxy]=$P_HAPROXY
		;;
	*) die "unknown target $1" ;;
	esac
	local name=$1
	[[ $name == direct ]] && name=backend
	wait_ready "$name" "$(target_url "$1")" "$SIZE"
}

target_url() { echo "http://127.0.0.1:${PORT_OF[$1]}/bench"; }

# ---------------------------------------------------------------------- wrk

wrk_cmd() { # DURATION URL
	echo "${LOADGEN_CPU[*]:+${LOADGEN_CPU[*]} }$WRK -t$THREADS -c$CONNS -d$1 --timeout 5s --latency -s $BENCH/report.lua $2"
}

# run_wrk SCENARIO TARGET ROUND: one measured run, appended to $RUNS.
run_wrk() {
	local scenario=$1 target=$2 round=$3 url out file rc=0
	url=$(target_url "$target")
	file="$WORK/wrk-$scenario-$target-$round.txt"
	: >"$ROOT/$WORK/nginx-access.log"
	: >"$ROOT/$WORK/gateway-access.log"

	local -a proxy=() backend
	if [[ $target != direct ]]; then
		read -r -a proxy <<<"$(proc_pids "$target" | tr '\n' ' ')"
	fi
	read -r -a backend <<<"$(proc_pids backend | tr '\n' ' ')"
	local p0 b0 s0 p1 b1 s1
	p0=$(cpu_ticks "${proxy[@]}")
	b0=$(cpu_ticks "${backend[@]}")
	s0=$(busy_ticks)
	# The subshell's `times` reports the CPU wrk used (its reaped children).
	# shellcheck disable=SC2046
	out=$(
		rc=0
		timeout -k 5 $((DUR_S + 30)) $(wrk_cmd "$DURATION" "$url") || rc=$?
		times
		exit $rc
	) || rc=$?
	p1=$(cpu_ticks "${proxy[@]}")
	b1=$(cpu_ticks "${backend[@]}")
	s1=$(busy_ticks)
	printf '%s\n' "$out" >"$file"
	((rc == 0)) || die "wrk against $target failed (exit $rc): $file"

	local line wrkcpu
	line=$(grep '^BENCH ' <<<"$out") || die "no BENCH line from wrk: $file"
	# Last line of `times`: children's user and system time, like 0m1.230s 0m0.450s.
	wrkcpu=$(tail -n 1 <<<"$out" | awk '{
		split($1, u, /[ms]/); split($2, s, /[ms]/);
		printf "%.3f", u[1]*60 + u[2] + s[1]*60 + s[2] }')

	declare -A v=()
	local kv
	for kv in ${line#BENCH }; do v[${kv%%=*}]=${kv#*=}; done
	local proxycpu=NA
	if [[ $target != direct ]]; then
		proxycpu=$(awk -v t=$((p1 - p0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
	fi
	local backendcpu busycpu
	backendcpu=$(awk -v t=$((b1 - b0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
	busycpu=$(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
	local errors=$((v[err_connect] + v[err_read] + v[err_write] + v[err_timeout]))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$scenario" "$target" "$round" "${v[requests]}" \
		"$(awk -v d="${v[duration_us]}" 'BEGIN { printf "%.3f", d / 1e6 }')" \
		"${v[rps]}" "${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" "${v[mean_us]}" \
		"$errors" "${v[err_status]}" \
		"$(awk -v b="${v[bytes]}" -v n="${v[requests]}" 'BEGIN { printf "%.0f", n ? b / n : 0 }')" \
		"$proxycpu" "$backendcpu" "$wrkcpu" "$busycpu" >>"$RUNS"
	log "$(printf '%-12s %-11s round %s: %10.0f req/s  p50 %6sus  p99 %6sus  p99.9 %6sus  cpu: proxy %6ss wrk %6ss machine %6ss%s' \
		"$scenario" "$target" "$round" "${v[rps]}" "${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" \
		"$proxycpu" "$wrkcpu" "$busycpu" \
		"$( ((errors + v[err_status] == 0)) || echo "  ERRORS: $errors socket, ${v[err_status]} non-2xx")")"
}

warm_up() { # TARGET
	((WARMUP_S > 0)) || return 0
	# shellcheck disable=SC2046
	timeout -k 5 $((WARMUP_S + 30)) $(wrk_cmd "$WARMUP" "$(target_url "$1")") >/dev/null ||
		die "warm-up against $1 failed"
}

# profile_gateway: a CPU profile from the gateway's admin listener while wrk
# drives it; the top of it goes to $PPROF.
profile_gateway() {
	local code=000 pid
	if ((PROFILE_SECONDS <= 0)); then
		echo "NOTE: Profiling was disabled (PROFILE_SECONDS=0)." >"$PPROF"
		return 0
	fi
	local url="http://127.0.0.1:$P_ADMIN/debug/pprof/profile?seconds=$PROFILE_SECONDS"
	log "profiling the gateway for ${PROFILE_SECONDS}s under load: $url"
	# shellcheck disable=SC2046
	timeout -k 5 $((PROFILE_SECONDS + 40)) $(wrk_cmd "$((PROFILE_SECONDS + 2))s" "$(target_url gateway)") \
		>"$WORK/wrk-profile.txt" 2>&1 &
	pid=$!
	sleep 1
	code=$(curl -sS --max-time $((PROFILE_SECONDS + 20)) -o "$WORK/gateway-cpu.pprof" \
		-w '%{http_code}' "$url" 2>"$WORK/profile-curl.err") || code=000
	wait "$pid" || log "wrk during the profile exited non-zero (see $WORK/wrk-profile.txt)"
	COMMANDS+=("curl -o $WORK/gateway-cpu.pprof '$url'   # while: $(show "$(wrk_cmd "$((PROFILE_SECONDS + 2))s" "$(target_url gateway)")")")
	if [[ $code != 200 ]]; then
		log "no profile: $url answered $code"
		echo "NOTE: No CPU profile: GET /debug/pprof/profile on the admin listener answered HTTP $code." >"$PPROF"
		return 0
	fi
	if ! timeout 120 go tool pprof -top -nodecount=25 "$WORK/gateway-cpu.pprof" >"$PPROF" 2>"$WORK/pprof.err"; then
		log "go tool pprof failed (see $WORK/pprof.err)"
		echo "NOTE: No CPU profile: go tool pprof could not read the profile: $(head -c 300 "$WORK/pprof.err")" >"$PPROF"
		return 0
	fi
	COMMANDS+=("go tool pprof -top -nodecount=25 $WORK/gateway-cpu.pprof")
}

# ---------------------------------------------------------------- scenarios

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# scenario ID BODY_BYTES TITLE TARGET...: start the backend and the targets,
# warm each up, run ROUNDS interleaved rounds, stop everything.
scenario() {
	local id=$1
	SIZE=$2
	local title=$3
	shift 3
	local -a targets=("$@")
	log "=== scenario $id: $title (targets: ${targets[*]})"
	meta "scenario" "$id"
	meta "scenario.$id.title" "$title"
	meta "scenario.$id.size" "$SIZE"
	meta "scenario.$id.targets" "${targets[*]}"

	start_backend "$SIZE"
	local t r
	for t in "${targets[@]}"; do start_target "$t"; done
	for t in "${targets[@]}"; do warm_up "$t"; done
	for ((r = 1; r <= ROUNDS; r++)); do
		for t in "${targets[@]}"; do run_wrk "$id" "$t" "$r"; done
	done
	if [[ $id == "$PROFILE_SCENARIO" && -n ${PID_OF[gateway]:-} ]]; then profile_gateway; fi
	stop_all
}

# ------------------------------------------------------------------- main

for tool in "$NGINX" "$HAPROXY" "$WRK" curl go taskset pgrep timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (make bench-deps installs nginx, haproxy and wrk)"
done
for ((p = BASE_PORT; p < BASE_PORT + 8; p++)); do
	port_free "$p" || die "port $p is in use (set BASE_PORT to move the 8 ports)"
done

if ((DEADLINE == 0)); then DEADLINE=$((900 + ROUNDS * DUR_S * 14)); fi
(
	sleep "$DEADLINE"
	echo "[bench] DEADLINE: run exceeded ${DEADLINE}s, stopping" >&2
	kill -TERM $$
) &
WATCHDOG=$!

rm -rf "$WORK"
mkdir -p "$WORK" bin
: >"$WORK/nginx-access.log"
: >"$WORK/gateway-access.log"
STARTED=$SECONDS

log "building bin/gateway, bin/bench-backend, bin/bench-report"
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
timeout 600 go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
	-o bin/gateway ./cmd/gateway || die "go build ./cmd/gateway failed"
timeout 300 go build -trimpath -o bin/bench-backend ./bench/backend || die "building the backend failed"
timeout 300 go build -trimpath -o bin/bench-report ./bench/report || die "building the report failed"

printf 'scenario\ttarget\tround\trequests\tduration_s\trps\tp50_us\tp99_us\tp999_us\tmean_us\terrors\tnon2xx\tbytes_per_req\tproxy_cpu_s\tbackend_cpu_s\twrk_cpu_s\tmachine_busy_cpu_s\n' >"$RUNS"
: >"$META"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta nproc "$(nproc)"
meta cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta kernel "$(uname -sr)"
meta loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
meta version.go "$(go version)"
meta version.nginx "$("$NGINX" -v 2>&1 | head -n1)"
meta version.haproxy "$("$HAPROXY" -v 2>&1 | head -n1)"
meta version.wrk "$("$WRK" -v 2>&1 | head -n1 | sed 's/ *Copyright.*//')"
meta version.gateway "$(timeout 10 bin/gateway version 2>&1 | paste -sd ';' | sed 's/;/; /g')"
meta settings "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS THREADS=$THREADS WARMUP=$WARMUP WORKERS=$WORKERS PIN=$PIN"
meta cmd.run "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS THREADS=$THREADS WARMUP=$WARMUP WORKERS=$WORKERS PIN=$PIN bash bench/run.sh"
meta cmd.wrk "$(wrk_cmd "$DURATION" "http://127.0.0.1:PORT/bench")"
printf 'NOTE: No CPU profile was taken in this run.\n' >"$PPROF"

# Each scenario is one call; the targets run in this order in every round.
scenario plain-1k 1024 "Plain proxy route, 1 KiB response" direct gateway nginx haproxy
scenario plain-64k 65536 "Plain proxy route, 64 KiB response" direct gateway nginx haproxy
scenario accesslog-1k 1024 "Access log on (written to a file), 1 KiB response" gateway-log nginx-log

for c in "${COMMANDS[@]}"; do meta cmd.process "$c"; done
meta elapsed_s "$((SECONDS - STARTED))"

timeout 60 bin/bench-report -results "$RESULTS" -out BENCHMARKS.md ||
	die "bench/report failed"
log "done in $((SECONDS - STARTED))s: BENCHMARKS.md, $RESULTS/latest.json, $RUNS"
