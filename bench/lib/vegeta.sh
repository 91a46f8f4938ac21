# Sourced by bench/run.sh: open-loop runs with vegeta. wrk is closed-loop:
# each connection waits for its answer, so a slow target is simply sent
# less. vegeta sends at a fixed rate whatever the answers do, which shows
# the latency a target gives at a load it does not choose, and whether it
# keeps up at all (the success ratio and the achieved rate).

VEGETA_TARGETS=(gateway nginx haproxy)

vegeta_version() {
	if [[ ! -x $VEGETA ]]; then
		echo "not installed"
		return 0
	fi
	# A `go install`ed vegeta prints an empty version; its build info has it.
	go version -m "$VEGETA" 2>/dev/null | awk '$1 == "mod" { print "vegeta " $3; found = 1 } END { if (!found) print "vegeta (unknown version)" }'
}

vegeta_attack_argv() { # RATE
	VEGETA_ARGV=("${LOADGEN_CPU[@]}" "$VEGETA" attack -rate "$1/1s" -duration "${VEGETA_S}s" -timeout 5s -max-body 0)
}

# vegeta_scenario: the plain 1 KiB route of the gateway, nginx and HAProxy
# at each rate of VEGETA_RATES; the targets take turns within a rate. The
# first round of each rate is plotted to $RESULTS/vegeta-RATE-*.png.
vegeta_scenario() {
	if [[ ! -x $VEGETA ]]; then
		log "vegeta not found at $VEGETA: skipping the open-loop runs (go install github.com/tsenart/vegeta/v12@v12.12.0)"
		meta vegeta.skipped "vegeta was not found at $(show "$VEGETA"); install it with go install github.com/tsenart/vegeta/v12@v12.12.0"
		return 0
	fi
	((VEGETA_ROUNDS > 0)) || return 0
	SIZE=1024
	log "=== vegeta: open-loop rates $VEGETA_RATES req/s, ${VEGETA_S}s each (targets: ${VEGETA_TARGETS[*]})"
	meta vegeta.rates "$VEGETA_RATES"
	meta vegeta.targets "${VEGETA_TARGETS[*]}"
	meta vegeta.duration_s "$VEGETA_S"
	vegeta_attack_argv RATE
	meta vegeta.cmd "echo 'GET http://127.0.0.1:PORT/bench' | $(show "${VEGETA_ARGV[*]}") > FILE.bin; $(show "$VEGETA") encode --to csv FILE.bin > FILE.csv; bin/bench-latency stats FILE.csv"

	start_backend "$SIZE"
	local t r rate
	for t in "${VEGETA_TARGETS[@]}"; do start_target "$t"; done
	for t in "${VEGETA_TARGETS[@]}"; do warm_up "$t"; done
	for rate in $VEGETA_RATES; do
		for ((r = 1; r <= VEGETA_ROUNDS; r++)); do
			for t in "${VEGETA_TARGETS[@]}"; do run_vegeta "$rate" "$t" "$r"; done
		done
		local -a series=()
		for t in "${VEGETA_TARGETS[@]}"; do series+=("$t=$WORK/vegeta-$rate-$t-1.csv"); done
		if timeout 300 bin/bench-latency plot -out "$RESULTS/vegeta-$rate" \
			-title "$rate req/s for ${VEGETA_S}s, 1 KiB" "${series[@]}" 2>"$WORK/plot-$rate.err"; then
			meta vegeta.plot "$rate"
		else
			log "plotting $rate req/s failed: $(head -c 300 "$WORK/plot-$rate.err")"
		fi
	done
	stop_all
}

# run_vegeta RATE TARGET ROUND: one attack, summarised into $VRUNS; its
# results stay in $WORK as CSV.
run_vegeta() {
	local rate=$1 t=$2 r=$3 rc=0
	local bin="$WORK/vegeta-$rate-$t-$r.bin" csv="$WORK/vegeta-$rate-$t-$r.csv"
	local -a proxy
	read -r -a proxy <<<"$(proc_pids "${PROC_OF[$t]}" | tr '\n' ' ')"
	local p0 p1
	vegeta_attack_argv "$rate"
	p0=$(cpu_ticks "${proxy[@]}")
	printf 'GET %s\n' "$(target_url "$t")" |
		timeout -k 5 $((VEGETA_S + 30)) "${VEGETA_ARGV[@]}" >"$bin" 2>"$WORK/vegeta-$rate-$t-$r.err" || rc=$?
	p1=$(cpu_ticks "${proxy[@]}")
	((rc == 0)) || die "vegeta against $t at $rate req/s failed (exit $rc): $(head -c 300 "$WORK/vegeta-$rate-$t-$r.err")"
	timeout 300 "$VEGETA" encode --to csv "$bin" >"$csv" || die "vegeta encode failed for $bin"
	rm -f "$bin"
	local line kv
	line=$(timeout 120 bin/bench-latency stats "$csv") || die "bench/latency stats failed for $csv"
	declare -A v=()
	for kv in ${line#LATENCY }; do v[${kv%%=*}]=${kv#*=}; done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rate" "$t" "$r" \
		"${v[requests]}" "${v[ok]}" "${v[success]}" "${v[rate]}" "${v[p50_us]}" "${v[p99_us]}" \
		"${v[p999_us]}" "${v[max_us]}" "${v[mean_us]}" "$(ticks_to_s $((p1 - p0)))" >>"$VRUNS"
	log "$(printf 'vegeta %6s/s %-8s round %s: sent %8.0f/s  success %s  p50 %6sus  p99 %7sus  p99.9 %7sus  max %8sus' \
		"$rate" "$t" "$r" "${v[rate]}" "${v[success]}" "${v[p50_us]}" "${v[p99_us]}" "${v[p999_us]}" "${v[max_us]}")"
}
