# Sourced by bench/run.sh: starting, watching and stopping the processes of
# a run, and reading their CPU time. Every process started here is stopped
# when the script exits, however it exits.

declare -a PIDS=()     # every long-running process this script started
declare -A PID_OF=()   # process name -> pid
declare -a COMMANDS=() # exact command lines, for the report
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

# start_watchdog SECONDS: stop the whole run (through cleanup) after SECONDS.
start_watchdog() {
	(
		sleep "$1"
		echo "[bench] DEADLINE: run exceeded ${1}s, stopping" >&2
		kill -TERM $$
	) &
	WATCHDOG=$!
}

# show prints a command line the way the report shows it: paths relative to
# the repository root, which is where this script runs.
show() {
	local s="$*"
	echo "${s//$ROOT\//}"
}

# start NAME CMD... runs CMD in the background with its output appended to
# $WORK/NAME.log (append mode, so that truncating the file while the process
# writes to it leaves no hole) and remembers its pid.
start() {
	local name=$1
	shift
	: >"$WORK/$name.log"
	"$@" >>"$WORK/$name.log" 2>&1 &
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

# check_alive NAME WHAT: die with the end of NAME's log if it has exited.
check_alive() {
	if ! kill -0 "${PID_OF[$1]}" 2>/dev/null; then
		tail -n 20 "$WORK/$1.log" >&2 || true
		die "$1 exited $2 (log: $WORK/$1.log)"
	fi
}

# wait_ready NAME URL EXPECT [HEADER]: until URL answers EXPECT, which is a
# status ("429") or a status and a body size ("200 1024").
wait_ready() {
	local name=$1 url=$2 expect=$3 header=${4:-} out deadline=$((SECONDS + 30))
	local -a h=()
	[[ -n $header ]] && h=(-H "$header")
	while :; do
		out=$(curl -sS --max-time 2 "${h[@]}" -o /dev/null -w '%{http_code} %{size_download}' "$url" 2>/dev/null) || true
		[[ $out == "$expect" || ($expect != *" "* && ${out%% *} == "$expect") ]] && return 0
		check_alive "$name" "before answering"
		if ((SECONDS >= deadline)); then
			tail -n 20 "$WORK/$name.log" >&2 || true
			die "$name did not answer '$expect' at $url within 30s (last: '$out')"
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

# ticks_to_s TICKS: CPU ticks as seconds with three decimals.
ticks_to_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'; }
