#!/usr/bin/env bash
# bench/scale.sh: how uds, package net's Unix sockets and TCP loopback serve
# 1, 16 and 256 concurrent clients (BenchmarkScale in bench_test.go): echo
# round trips on one connection per client, connect churn (dial, one round
# trip, close), and HTTP GETs on one kept-alive connection per client.
#
#   bench/scale.sh                  # COUNT=6 passes, BENCHTIME=1s
#   COUNT=6 BENCHTIME=2s bench/scale.sh
#
# Passes rotate the order of uds, unix and tcp within each row
# (UDS_BENCH_PASS; with COUNT a multiple of 3 each kind runs in each
# position equally often). Rates are medians over passes in operations per second;
# uds/unix is the median of the passes' own ratios with its range ("tie"
# when the range crosses 1.00).
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 256 clients need 512 descriptors and more per kind on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "running BenchmarkScale ($COUNT passes, benchtime $BENCHTIME)..." >&2
(cd "$root" && go test -c -o "$tmp/uds.test" .)
: >"$tmp/go.txt"
for pass in $(seq "$COUNT"); do
	echo "  pass $pass/$COUNT" >&2
	(cd "$root" && UDS_BENCH_PASS=$pass "$tmp/uds.test" -test.run '^$' \
		-test.bench 'BenchmarkScale' -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME") |
		sed "s/^Benchmark/P$pass Benchmark/" >>"$tmp/go.txt"
done

qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo "?")
printf 'machine: %s cores, kernel %s, net.unix.max_dgram_qlen %s, %s, GOMAXPROCS %s; %s passes, order rotating\n\n' \
	"$(nproc)" "$(uname -r)" "$qlen" "$(go version | awk '{print $3}')" "${GOMAXPROCS:-$(nproc)}" "$COUNT"

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
