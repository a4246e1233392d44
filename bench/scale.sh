#!/usr/bin/env bash
# bench/scale.sh: how uds, package net's Unix sockets and TCP loopback serve
# 1, 16 and 256 concurrent clients (BenchmarkScale in bench_test.go): echo
# round trips on one connection per client, connect churn (dial, one round
# trip, close), and HTTP GETs on one kept-alive connection per client.
#
#   bench/scale.sh                  # COUNT=6 passes, BENCHTIME=1s
#   COUNT=6 BENCHTIME=2s bench/scale.sh
#   GOMAXPROCS=1 bench/scale.sh     # the runtime on one P
#   CONTEND=1 bench/scale.sh        # with 1 busy loop taking a core meanwhile
#
# Passes change the order of uds, unix and tcp within each row
# (UDS_BENCH_PASS, benchRow in bench_test.go): with COUNT a multiple of 6
# each kind runs in each position, and right after each other kind, equally
# often (a TCP connect churn leaves TIME_WAIT sockets that slow what runs
# next). Rates are medians over passes in operations per second;
# uds/unix is the median of the passes' own ratios with its range ("tie"
# when the range crosses 1.00).
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
CONTEND=${CONTEND:-0}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
busy=()
cleanup() {
	if [ ${#busy[@]} -gt 0 ]; then kill "${busy[@]}" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# 256 clients need 512 descriptors and more per kind on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "running BenchmarkScale ($COUNT passes, benchtime $BENCHTIME)..." >&2
(cd "$root" && go test -c -o "$tmp/uds.test" .)
for _ in $(seq "$CONTEND"); do
	sh -c 'while :; do :; done' &
	busy+=($!)
done
: >"$tmp/go.txt"
for pass in $(seq "$COUNT"); do
	echo "  pass $pass/$COUNT" >&2
	(cd "$root" && UDS_BENCH_PASS=$pass "$tmp/uds.test" -test.run '^$' \
		-test.bench 'BenchmarkScale' -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME") |
		sed "s/^Benchmark/P$pass Benchmark/" >>"$tmp/go.txt"
done

qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo "?")
printf 'machine: %s cores, kernel %s, net.unix.max_dgram_qlen %s, %s, GOMAXPROCS %s, %s busy loops; %s passes, order changing (benchOrder)\n\n' \
	"$(nproc)" "$(uname -r)" "$qlen" "$(go version | awk '{print $3}')" "${GOMAXPROCS:-$(nproc)}" "$CONTEND" "$COUNT"

cat >"$tmp/table.awk" <<'AWK'
BEGIN {
	readbench(gofile, "Scale/")
	print "| workload | clients | uds (op/s) | net unix (op/s) | TCP loopback (op/s) | uds/unix | TCP/unix | allocs/op uds / unix / tcp |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|"
	split("echo connect http", works, " ")
	split("1 16 256", cls, " ")
	for (w = 1; w <= 3; w++) for (c = 1; c <= 3; c++) {
		row = works[w] "/clients-" cls[c]
		u = row "/uds"; x = row "/unix"; t = row "/tcp"
		if (ns[u] == "" || ns[x] == "" || ns[t] == "") continue
		printf "| %s | %s | %.0f | %.0f | %.0f | %s | %s | %s / %s / %s |\n", works[w], cls[c],
			1e9 / median(ns[u]), 1e9 / median(ns[x]), 1e9 / median(ns[t]), span(u, x), span(t, x),
			median(al[u]), median(al[x]), median(al[t])
	}
}
AWK
awk -v gofile="$tmp/go.txt" -f "$root/bench/stats.awk" -f "$tmp/table.awk" </dev/null

# Why Unix sockets lose ground to TCP as cores grow: the epoll events a
# message costs its sender (bench/c/epollout.c; BENCHMARKS.md, Scaling).
if command -v gcc >/dev/null; then
	gcc -O2 -o "$tmp/epollout" "$root/bench/c/epollout.c"
	echo
	echo "epoll events a 64 B message costs its sender (bench/c/epollout.c):"
	"$tmp/epollout" 100000 | sed 's/^/    /'
fi
