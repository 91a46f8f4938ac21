# Sourced by bench/run.sh: closed-loop runs with wrk, and the gateway's CPU
# profile under that load.

# wrk_argv TARGET DURATION: set WRK_ARGV to the wrk command line for TARGET.
wrk_argv() {
	local t=$1
	WRK_ARGV=("${LOADGEN_CPU[@]}" "$WRK" "-t$THREADS" "-c${CONNS_OF[$t]}" "-d$2" --timeout 5s --latency
		-s "${SCRIPT_OF[$t]}")
	if [[ -n ${HDR_OF[$t]} ]]; then WRK_ARGV+=(-H "${HDR_OF[$t]}"); fi
	WRK_ARGV+=("$(target_url "$t")")
}

# wrk_shown TARGET DURATION: the command line as the report shows it, with
# the token and the API key (made afresh every run) as variables.
wrk_shown() {
	wrk_argv "$1" "$2"
	local s="" a
	for a in "${WRK_ARGV[@]}"; do
		if [[ $a == *" "* ]]; then s+="'$a' "; else s+="$a "; fi
	done
	[[ -n $TOKEN ]] && s=${s//"$TOKEN"/'$TOKEN'}
	[[ -n $API_KEY ]] && s=${s//"$API_KEY"/'$API_KEY'}
	show "${s% }"
}

# truncate_logs empties every access log, so a run starts with none.
truncate_logs() {
	local f
	for f in "$WORK"/*-access.log "$WORK/haproxy-log.log"; do
		[[ -e $f ]] && : >"$f"
	done
	return 0
}

# run_wrk SCENARIO TARGET ROUND: one measured run, appended to $RUNS.
run_wrk() {
	local scenario=$1 target=$2 round=$3 out file rc=0
	file="$WORK/wrk-$scenario-$target-$round.txt"
	truncate_logs

	local -a proxy=() backend
	if [[ $target != direct ]]; then
		read -r -a proxy <<<"$(proc_pids "${PROC_OF[$target]}" | tr '\n' ' ')"
	fi
	read -r -a backend <<<"$(proc_pids backend | tr '\n' ' ')"
	local p0 b0 s0 p1 b1 s1
	wrk_argv "$target" "$DURATION"
	p0=$(cpu_ticks "${proxy[@]}")
	b0=$(cpu_ticks "${backend[@]}")
	s0=$(busy_ticks)
	# The subshell's `times` reports the CPU wrk used (its reaped children).
	out=$(
		rc=0
		timeout -k 5 $((DUR_S + 30)) "${WRK_ARGV[@]}" || rc=$?
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
	local proxycpu=NA backendcpu busycpu
	if [[ $target != direct ]]; then proxycpu=$(ticks_to_s $((p1 - p0))); fi
	backendcpu=$(ticks_to_s $((b1 - b0)))
	busycpu=$(ticks_to_s $((s1 - s0)))
	local errors=$((v[err_connect] + v[err_read] + v[err_write] + v[err_timeout]))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$scenario" "$target" "$round" "${v[requests]}" \
		"$(awk -v d="${v[duration_us]}" 'BEGIN { printf "%.3f", d / 1e6 }')" \
		"${v[rps]}" "${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" "${v[mean_us]}" \
		"$errors" "${v[err_status]}" \
		"$(awk -v b="${v[bytes]}" -v n="${v[requests]}" 'BEGIN { printf "%.0f", n ? b / n : 0 }')" \
		"$proxycpu" "$backendcpu" "$wrkcpu" "$busycpu" >>"$RUNS"
	local note=""
	if ((errors + v[err_status] > 0)); then note="  (non-2xx: ${v[err_status]}, socket errors: $errors)"; fi
	log "$(printf '%-12s %-18s round %s: %10.0f req/s  p50 %6sus  p99 %6sus  p99.9 %6sus  cpu: proxy %6ss wrk %6ss machine %6ss%s' \
		"$scenario" "$target" "$round" "${v[rps]}" "${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" \
		"$proxycpu" "$wrkcpu" "$busycpu" "$note")"
}

warm_up() { # TARGET
	((WARMUP_S > 0)) || return 0
	wrk_argv "$1" "$WARMUP"
	timeout -k 5 $((WARMUP_S + 30)) "${WRK_ARGV[@]}" >/dev/null || die "warm-up against $1 failed"
}

# profile_gateway SCENARIO TARGET: a CPU profile from the admin listener of
# TARGET's gateway while wrk drives it, outside the measured rounds; the
# whole `pprof -top` goes to $RESULTS/latest-pprof-SCENARIO.txt.
profile_gateway() {
	local id=$1 t=$2 code=000 pid proc=${PROC_OF[$2]}
	local out="$RESULTS/latest-pprof-$id.txt" prof="$WORK/$proc-$id-cpu.pprof"
	meta profile "$id"
	meta "profile.$id.target" "$t"
	if ((PROFILE_SECONDS <= 0)); then
		echo "NOTE: Profiling was disabled (PROFILE_SECONDS=0)." >"$out"
		return 0
	fi
	local url="http://127.0.0.1:${ADMIN_OF[$proc]}/debug/pprof/profile?seconds=$PROFILE_SECONDS"
	log "profiling $proc for ${PROFILE_SECONDS}s under load: $url"
	wrk_argv "$t" "$((PROFILE_SECONDS + 2))s"
	timeout -k 5 $((PROFILE_SECONDS + 40)) "${WRK_ARGV[@]}" >"$WORK/wrk-profile-$id.txt" 2>&1 &
	pid=$!
	sleep 1
	code=$(curl -sS --max-time $((PROFILE_SECONDS + 20)) -o "$prof" -w '%{http_code}' "$url" 2>"$WORK/profile-curl.err") || code=000
	wait "$pid" || log "wrk during the profile exited non-zero (see $WORK/wrk-profile-$id.txt)"
	COMMANDS+=("curl -o $prof '$url'   # while: $(wrk_shown "$t" "$((PROFILE_SECONDS + 2))s")")
	if [[ $code != 200 ]]; then
		log "no profile: $url answered $code"
		echo "NOTE: No CPU profile: GET /debug/pprof/profile on the admin listener answered HTTP $code." >"$out"
		return 0
	fi
	if ! timeout 120 go tool pprof -top -nodecount=1000 "$prof" >"$out" 2>"$WORK/pprof.err"; then
		log "go tool pprof failed (see $WORK/pprof.err)"
		echo "NOTE: No CPU profile: go tool pprof could not read the profile: $(head -c 300 "$WORK/pprof.err")" >"$out"
		return 0
	fi
	COMMANDS+=("go tool pprof -top -nodecount=1000 $prof")
}
