# Sourced by bench/run.sh: the processes under test and the targets wrk and
# vegeta drive. A process is something started once per scenario (the
# backend, a gateway with one configuration, nginx, HAProxy, redis-server);
# a target is a process plus what is asked of it: a path, a header, a wrk
# script, the answer that means it is ready. Several targets may share a
# process (the aggregate and its sequential comparison use one gateway).

declare -A ADMIN_OF=() # gateway process -> admin port (for the profile)
declare -A PROC_OF=()  # target -> process measured
declare -A PATH_OF=()  # target -> request path
declare -A HDR_OF=()   # target -> one request header, if any
declare -A SCRIPT_OF=() # target -> wrk script
declare -A CONNS_OF=() # target -> wrk connections, when not CONNS
declare -A EXPECT_OF=() # target -> readiness: "429", "200" or "200 SIZE"
TOKEN=
API_KEY=

start_backend() { # SIZE
	start backend "${SUT_CPU[@]}" bin/bench-backend -listen "127.0.0.1:${PORT_OF[backend]}" -size "$1"
	wait_ready backend "http://127.0.0.1:${PORT_OF[backend]}/bench" "200 $1"
}

# start_gateway NAME TEMPLATE NAME=VALUE...: render TEMPLATE into
# $WORK/NAME.yaml, check it with `gateway check`, start the gateway.
start_gateway() {
	local name=$1 tmpl=$2
	shift 2
	local port=${PORT_OF[$name]}
	ADMIN_OF[$name]=$((port + 1))
	render "$tmpl" "$WORK/$name.yaml" PORT="$port" ADMIN_PORT="$((port + 1))" \
		BACKEND_PORT="${PORT_OF[backend]}" "$@"
	if [[ $name == gateway-10k ]]; then routes_10k >>"$WORK/$name.yaml"; fi
	timeout 60 bin/gateway check -config "$WORK/$name.yaml" >"$WORK/$name.check" 2>&1 ||
		die "gateway check rejected $WORK/$name.yaml: $(head -c 600 "$WORK/$name.check")"
	start "$name" "${SUT_CPU[@]}" bin/gateway -config "$WORK/$name.yaml"
}

# routes_10k prints 10,000 routes: even numbers static (/api/sN/items),
# odd ones with a parameter (/api/pN/{id}/items).
routes_10k() {
	awk 'BEGIN {
		for (i = 0; i < 10000; i++) {
			if (i % 2 == 0) printf "  - {name: s%d, match: {path: /api/s%d/items}, service: backend}\n", i, i
			else printf "  - {name: p%d, match: {path: \"/api/p%d/{id}/items\"}, service: backend}\n", i, i
		}
	}'
}

start_nginx() { # NAME ACCESS_LOG
	local name=$1 accesslog=$2 dir="$ROOT/$WORK/$1" user=""
	mkdir -p "$dir"
	# Workers of a root master would run as nobody; keep them as the invoking
	# user so they can use the temporary directories.
	if ((EUID == 0)); then user="user $(id -un) $(id -gn);"; fi
	render "$BENCH/nginx.conf.tmpl" "$dir/nginx.conf" \
		USER_DIRECTIVE="$user" WORKERS="$WORKERS" DIR="$dir" PORT="${PORT_OF[$name]}" \
		BACKEND_PORT="${PORT_OF[backend]}" ACCESS_LOG="$accesslog"
	"$NGINX" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
		die "nginx rejected $dir/nginx.conf"
	start "$name" "${SUT_CPU[@]}" "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
}

# start_haproxy NAME LOG: LOG=on writes `option httplog` lines to HAProxy's
# standard output, which start() appends to $WORK/NAME.log.
start_haproxy() {
	local name=$1 dir="$ROOT/$WORK/$1" lg="" ld=""
	mkdir -p "$dir"
	if [[ $2 == on ]]; then
		lg="log stdout format raw local0 info"
		ld=$'log global\n    option httplog'
	fi
	render "$BENCH/haproxy.cfg.tmpl" "$dir/haproxy.cfg" \
		WORKERS="$WORKERS" DIR="$dir" PORT="${PORT_OF[$name]}" BACKEND_PORT="${PORT_OF[backend]}" \
		LOG_GLOBAL="$lg" LOG_DEFAULTS="$ld"
	"$HAPROXY" -c -q -f "$dir/haproxy.cfg" || die "haproxy rejected $dir/haproxy.cfg"
	start "$name" "${SUT_CPU[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg"
}

# start_redis: a redis-server with its own configuration and directory in
# $WORK, on loopback, persisting nothing.
start_redis() {
	local dir="$ROOT/$WORK/redis" i
	mkdir -p "$dir"
	printf '%s\n' "bind 127.0.0.1" "port ${PORT_OF[redis]}" "dir $dir" 'save ""' "appendonly no" \
		"daemonize no" "protected-mode yes" "logfile \"\"" >"$dir/redis.conf"
	start redis "$REDIS" "$dir/redis.conf"
	for ((i = 0; i < 100; i++)); do
		[[ $(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${PORT_OF[redis]}; printf 'PING\r\n' >&3; head -c 5 <&3" 2>/dev/null) == +PONG ]] && return 0
		check_alive redis "before answering PING"
		sleep 0.1
	done
	die "redis-server did not answer PING within 10s (log: $WORK/redis.log)"
}

# start_process NAME: start NAME unless this scenario already did.
start_process() {
	local name=$1
	[[ -n ${PID_OF[$name]:-} ]] && return 0
	case $name in
	backend) die "the backend is started by the scenario" ;;
	gateway) start_gateway gateway "$BENCH/gateway.yaml" ACCESS_LOG=off ;;
	gateway-log) start_gateway gateway-log "$BENCH/gateway.yaml" ACCESS_LOG="$ROOT/$WORK/gateway-access.log" ;;
	gateway-chain)
		head -c 32 /dev/urandom | base64 | tr -d '\n' >"$WORK/jwt.secret"
		TOKEN=$(timeout 30 bin/bench-tokens -secret-file "$WORK/jwt.secret" -kid bench \
			-issuer https://bench.local -audience bench -subject user-1) || die "bench/tokens failed"
		start_gateway gateway-chain "$BENCH/gateway-chain.yaml" \
			ACCESS_LOG="$ROOT/$WORK/gateway-chain-access.log" SECRET_FILE="$ROOT/$WORK/jwt.secret"
		;;
	gateway-apikey)
		start_process redis
		start_gateway gateway-apikey "$BENCH/gateway-apikey.yaml" REDIS_PORT="${PORT_OF[redis]}"
		API_KEY=$(timeout 30 bin/gateway keys issue -config "$WORK/gateway-apikey.yaml" -consumer bench -plan gold \
			2>"$WORK/keys-issue.err" | head -n 1) || true
		[[ -n $API_KEY ]] || die "bin/gateway keys issue failed: $(head -c 600 "$WORK/keys-issue.err")"
		COMMANDS+=("bin/gateway keys issue -config $WORK/gateway-apikey.yaml -consumer bench -plan gold")
		;;
	gateway-flood) start_gateway gateway-flood "$BENCH/gateway-flood.yaml" ;;
	gateway-aggregate) start_gateway gateway-aggregate "$BENCH/gateway-aggregate.yaml" ;;
	gateway-10k) start_gateway gateway-10k "$BENCH/gateway-10k.yaml" ;;
	nginx) start_nginx nginx off ;;
	nginx-log) start_nginx nginx-log "$ROOT/$WORK/nginx-access.log" ;;
	haproxy) start_haproxy haproxy off ;;
	haproxy-log) start_haproxy haproxy-log on ;;
	redis) start_redis ;;
	*) die "unknown process $name" ;;
	esac
}

# define_target TARGET: fill in what TARGET runs and asks.
define_target() {
	local t=$1
	PROC_OF[$t]=$t PATH_OF[$t]=/bench HDR_OF[$t]="" SCRIPT_OF[$t]=$BENCH/report.lua
	CONNS_OF[$t]=$CONNS EXPECT_OF[$t]="200 $SIZE"
	case $t in
	direct) PROC_OF[$t]=backend ;;
	gateway | gateway-log | nginx | nginx-log | haproxy | haproxy-log) ;;
	gateway-chain) HDR_OF[$t]="Authorization: Bearer $TOKEN" ;;
	gateway-apikey) HDR_OF[$t]="X-API-Key: $API_KEY" ;;
	gateway-429) PROC_OF[$t]=gateway-flood EXPECT_OF[$t]=429 ;;
	gateway-aggregate)
		PATH_OF[$t]=/aggregate CONNS_OF[$t]=$AGG_CONNS EXPECT_OF[$t]=200
		;;
	gateway-sequential)
		PROC_OF[$t]=gateway-aggregate PATH_OF[$t]=/slow/5ms SCRIPT_OF[$t]=$BENCH/sequential.lua
		CONNS_OF[$t]=$AGG_CONNS EXPECT_OF[$t]=200
		;;
	gateway-10k) PATH_OF[$t]=/api/p5001/42/items ;;
	*) die "unknown target $t" ;;
	esac
}

# start_target TARGET: start its process (the token and the key are made
# then), define it, wait until it answers as expected.
start_target() {
	local t=$1 proc
	define_target "$t"
	proc=${PROC_OF[$t]}
	[[ $proc == backend ]] || start_process "$proc"
	define_target "$t" # again: the header may hold a token or key made just now
	wait_ready "$proc" "$(target_url "$t")" "${EXPECT_OF[$t]}" "${HDR_OF[$t]}"
}

target_url() { echo "http://127.0.0.1:${PORT_OF[${PROC_OF[$1]}]}${PATH_OF[$1]}"; }
