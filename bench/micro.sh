#!/usr/bin/env bash
# The Go benchmarks of the request path's packages, compared with the
# previous run. Writes the raw `go test -bench` output to
# bench/results/micro-new.txt and the report to bench/results/micro.txt
# (which BENCHMARKS.md links): `benchstat old new` when a previous run
# exists in bench/results/micro-old.txt, else `benchstat new`. Then the new
# run becomes the old one for next time.
#
# Settings (environment):
#   COUNT=6         runs of each benchmark (benchstat wants at least 6 for
#                   its confidence intervals)
#   BENCHTIME=1s    go test -benchtime
#   PKGS="./edge ./edge/route ..."  packages to run
#   BENCHSTAT=      path of benchstat (default: on PATH, else GOPATH/bin)
#
# Usage: bash bench/micro.sh     (or: make bench-micro)
# Needs: go install golang.org/x/perf/cmd/benchstat@latest
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
PKGS=${PKGS:-./edge ./edge/route ./edge/respcache ./edge/compress ./edge/aggregate ./pool ./limiter ./jwtcache}
BENCHSTAT=${BENCHSTAT:-$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")}
RESULTS=bench/results
NEW=$RESULTS/micro-new.txt
OLD=$RESULTS/micro-old.txt
REPORT=$RESULTS/micro.txt

[[ -x $BENCHSTAT ]] || {
	echo "micro.sh: benchstat not found (go install golang.org/x/perf/cmd/benchstat@latest)" >&2
	exit 1
}
mkdir -p "$RESULTS"

# shellcheck disable=SC2086 # PKGS is a list
timeout 3600 go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" $PKGS | tee "$NEW"

{
	echo "# Micro-benchmarks of $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(date -u +%Y-%m-%dT%H:%M:%SZ), $(go env GOVERSION), COUNT=$COUNT BENCHTIME=$BENCHTIME"
	echo "#"
	echo "# go test -run '^\$' -bench . -benchmem -count $COUNT -benchtime $BENCHTIME $PKGS"
	if [[ -s $OLD ]]; then
		echo "# compared with the previous run: benchstat micro-old.txt micro-new.txt"
		echo
		"$BENCHSTAT" "$OLD" "$NEW"
	else
		echo "# no previous run to compare with: benchstat micro-new.txt"
		echo
		"$BENCHSTAT" "$NEW"
	fi
} >"$REPORT"
if [[ -s $OLD ]]; then "$BENCHSTAT" "$OLD" "$NEW"; fi
mv "$NEW" "$OLD"
echo "micro.sh: report in $REPORT; this run is now $OLD" >&2
