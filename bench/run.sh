#!/usr/bin/env bash
# bench/run.sh: runs the uds benchmarks (each paired with the standard
# library in the same run) and the C reference programs of bench/c, and
# prints one markdown table: rates are medians over passes; each ratio is
# the median, with the range, of the ratios of the single passes, and the
# passes change the order of each row's sides (ABBA for a pair). A/A rows (std
# against std, uds against uds) show what the harness's own noise is; a
# ratio whose range crosses 1.00 is marked "tie".
#
#   bench/run.sh                 # COUNT=6 passes over the Go benchmarks (a multiple of 2 and 3: each side of a 2- or 3-sided row in each position, and after each other side, equally often)
#   COUNT=10 BENCHTIME=2s bench/run.sh
#   RAW=/tmp/raw bench/run.sh   # also keep the raw go test and C output
#
# Needs only Go, gcc and coreutils/awk. Rates: higher is better; the ratio
# columns are uds's rate over the other's (> 1: uds faster).
set -euo pipefail

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
CRUNS=${CRUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for p in msgrate mmsgrate streamrate fdrate seqts; do
	gcc -O2 -pthread -o "$tmp/$p" "$root/bench/c/$p.c"
done

# The test binary is built once and run COUNT times with -count 1, so that
# each pass runs every uds benchmark next to its standard-library pair: a
# slow spell of this shared machine then hits both sides of a ratio, not
# five runs of one side in a row.
echo "running Go benchmarks ($COUNT passes, benchtime $BENCHTIME)..." >&2
(cd "$root" && go test -c -o "$tmp/uds.test" .)
: >"$tmp/go.txt"
shm=""
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	shm=/dev/shm
fi
# Passes change the order of each row's sides (UDS_BENCH_PASS, see benchRow
# in bench_test.go: rotated, and reversed every other pass; ABBA for a
# pair), so that the position and the neighbour, which alone move a ratio by
# 10-15 % on a small machine, weigh on every side alike. Every line is tagged with its pass.
for pass in $(seq "$COUNT"); do
	echo "  pass $pass/$COUNT" >&2
	(cd "$root" && UDS_BENCH_PASS=$pass "$tmp/uds.test" -test.run '^$' \
		-test.bench 'BenchmarkSuite|BenchmarkMsg|BenchmarkBatch|BenchmarkFDs' \
		-test.benchmem -test.count 1 -test.benchtime "$BENCHTIME") |
		sed "s/^Benchmark/P$pass Benchmark/" >>"$tmp/go.txt"
	# Sockets usually live on tmpfs (/run, $XDG_RUNTIME_DIR); the run
	# above made its files in $TMPDIR (/tmp, here ext4 over virtio).
	if [ -n "$shm" ]; then
		(cd "$root" && TMPDIR=$shm UDS_BENCH_PASS=$pass "$tmp/uds.test" -test.run '^$' \
			-test.bench 'BenchmarkSuite/listen-close' \
			-test.benchmem -test.count 1 -test.benchtime "$BENCHTIME") |
			sed -e 's|listen-close/|listen-close-tmpfs/|' -e "s/^Benchmark/P$pass Benchmark/" >>"$tmp/go.txt"
	fi
done

# DGRAM to a bound socket (BenchmarkBatch/dgram-bound-64B, C dgram-bound)
# at net.unix.max_dgram_qlen 10, the kernel's default, and 512, what
# systemd sets: the limit is read when a socket is created, so it is set
# before each run and put back afterwards. Only root can set it; others get
# the rows at the machine's value.
qfile=/proc/sys/net/unix/max_dgram_qlen
qlens=""
qold=$(cat "$qfile" 2>/dev/null || echo "")
if [ -n "$qold" ] && [ -w "$qfile" ]; then
	qlens="10 512"
	trap 'echo "$qold" >"$qfile"; rm -rf "$tmp"' EXIT
elif [ -n "$qold" ]; then
	qlens=$qold
fi
for q in $qlens; do
	[ -w "$qfile" ] && echo "$q" >"$qfile"
	echo "  DGRAM to a bound socket, max_dgram_qlen $q" >&2
	for pass in $(seq "$COUNT"); do
		(cd "$root" && UDS_BENCH_PASS=$pass "$tmp/uds.test" -test.run '^$' \
			-test.bench 'BenchmarkBatch/dgram-bound-64B' \
			-test.benchmem -test.count 1 -test.benchtime "$BENCHTIME") |
			sed -e "s|dgram-bound-64B/|dgram-bound-q$q/|" -e "s/^Benchmark/P$pass Benchmark/" >>"$tmp/go.txt"
	done
done

# C reference: key, then the command; the rate is the last field printed.
echo "running C reference ($CRUNS runs each)..." >&2
crun() {
	local key=$1
	shift
	for _ in $(seq "$CRUNS"); do
		printf '%s %s\n' "$key" "$("$tmp/$@" | awk '{print $NF}')"
	done
}
{
	crun stream4k streamrate 4096 500000
	crun stream64k streamrate 65536 100000
	crun seq64 msgrate seqpacket 64 500000
	crun seq4k msgrate seqpacket 4096 300000
	crun dgram64 msgrate dgram 64 500000
	crun dgram64batch mmsgrate dgram 64 500000 32
	crun seq64batch mmsgrate seqpacket 64 500000 32
	crun fdstream fdrate stream 300000
	crun fdseq fdrate seqpacket 300000
	crun fddgram fdrate dgram 300000
	for q in $qlens; do
		[ -w "$qfile" ] && echo "$q" >"$qfile"
		crun "dgrambound$q" msgrate dgram-bound 64 500000
		crun "dgrambound${q}batch" mmsgrate dgram-bound 64 500000 32
	done
} >"$tmp/c.txt"
if [ -n "$qold" ] && [ -w "$qfile" ]; then
	echo "$qold" >"$qfile"
fi
if [ -n "${RAW:-}" ]; then
	cp "$tmp/go.txt" "$RAW.go.txt"
	cp "$tmp/c.txt" "$RAW.c.txt"
fi

# The machine, for the table's reader.
qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo "?")
printf 'machine: %s cores, kernel %s, net.unix.max_dgram_qlen %s, %s; %s passes, the order of the sides of each row changing between passes (benchOrder)\n\n' \
	"$(nproc)" "$(uname -r)" "$qlen" "$(go version | awk '{print $3}')" "$COUNT"

# Rows: label | uds benchmark | std benchmark | C key | unit | bytes per op.
# unit "MB/s" rates are bytes*1e3/ns; the others 1e9/ns (operations/s).
cat >"$tmp/rows.txt" <<'ROWS'
A/A: stream 4 KiB, std against std|Suite/stream-4KiB/std-aa|Suite/stream-4KiB/std|-|MB/s|4096
A/A: DGRAM 64 B sendto, uds against uds|Msg/dgram-sendto-64B/uds-aa|Msg/dgram-sendto-64B/uds|-|msg/s|0
stream 4 KiB chunks|Suite/stream-4KiB/uds|Suite/stream-4KiB/std|stream4k|MB/s|4096
stream 64 KiB chunks|Suite/stream-64KiB/uds|Suite/stream-64KiB/std|stream64k|MB/s|65536
ping-pong 1 B round trip|Suite/pingpong-1B/uds|Suite/pingpong-1B/std|-|op/s|0
SEQPACKET 64 B|Msg/seqpacket-64B/uds|Msg/seqpacket-64B/std|seq64|msg/s|0
SEQPACKET 4 KiB|Msg/seqpacket-4KiB/uds|Msg/seqpacket-4KiB/std|seq4k|msg/s|0
SEQPACKET 64 B, write+read in one goroutine|Msg/seqpacket-64B-1goroutine/uds|Msg/seqpacket-64B-1goroutine/std|-|msg/s|0
SEQPACKET 64 B, SetZeroReadIsEOF(true)|Msg/seqpacket-64B/uds-zeroeof|Msg/seqpacket-64B/std|seq64|msg/s|0
SEQPACKET 4 KiB, SetZeroReadIsEOF(true)|Msg/seqpacket-4KiB/uds-zeroeof|Msg/seqpacket-4KiB/std|seq4k|msg/s|0
SEQPACKET 64 B, SetZeroReadIsEOF(true), one goroutine|Msg/seqpacket-64B-1goroutine/uds-zeroeof|Msg/seqpacket-64B-1goroutine/std|-|msg/s|0
DGRAM 64 B connected|Msg/dgram-connected-64B/uds|Msg/dgram-connected-64B/std|dgram64|msg/s|0
DGRAM 64 B, write+read in one goroutine|Msg/dgram-64B-1goroutine/uds|Msg/dgram-64B-1goroutine/std|-|msg/s|0
DGRAM 64 B sendto address|Msg/dgram-sendto-64B/uds|Msg/dgram-sendto-64B/std|dgram64|msg/s|0
DGRAM 64 B batch (uds ReadBatch/WriteBatch; C: sendmmsg/recvmmsg, 32 a call)|Batch/dgram-64B/batch|Batch/dgram-64B/std|dgram64batch|msg/s|0
SEQPACKET 64 B batch (uds ReadBatch/WriteBatch; C: sendmmsg/recvmmsg, 32 a call)|Batch/seqpacket-64B/batch|Batch/seqpacket-64B/std|seq64batch|msg/s|0
fd passing stream (ReadFDs ints)|FDs/stream/uds-ints|FDs/stream/std|fdstream|fds/s|0
fd passing stream (ReadFiles; std: os.NewFile)|FDs/stream/uds-files|FDs/stream/std-files|fdstream|fds/s|0
fd passing SEQPACKET (ints)|FDs/seqpacket/uds-ints|FDs/seqpacket/std|fdseq|fds/s|0
fd passing DGRAM (ints)|FDs/dgram/uds-ints|FDs/dgram/std|fddgram|fds/s|0
connect+accept+close|Suite/connect-accept-close/uds|Suite/connect-accept-close/std|-|op/s|0
Listen+Close (uds: lock + probe), ext4 /tmp|Suite/listen-close/uds|Suite/listen-close/std|-|op/s|0
Listen+Close (uds: lock + probe), tmpfs /dev/shm|Suite/listen-close-tmpfs/uds|Suite/listen-close-tmpfs/std|-|op/s|0
HTTP GET keep-alive, std = net unix socket|Suite/http-get/uds|Suite/http-get/std|-|req/s|0
HTTP GET keep-alive, std column = TCP 127.0.0.1|Suite/http-get/uds|Suite/http-get/tcp|-|req/s|0
ROWS
for q in $qlens; do
	cat >>"$tmp/rows.txt" <<ROWS
DGRAM 64 B to a bound socket, max_dgram_qlen $q, one message per call|Batch/dgram-bound-q$q/uds-single|Batch/dgram-bound-q$q/std|dgrambound$q|msg/s|0
DGRAM 64 B to a bound socket, max_dgram_qlen $q, batch (C: sendmmsg/recvmmsg, 32 a call)|Batch/dgram-bound-q$q/batch|Batch/dgram-bound-q$q/std|dgrambound${q}batch|msg/s|0
ROWS
done

cat >"$tmp/table.awk" <<'AWK'
function fmt(x) {
	if (x == "") return "–"
	if (x >= 100) return sprintf("%.0f", x)
	return sprintf("%.3g", x)
}
function ratio(a, b) {
	if (a == "" || b == "" || b == 0) return "–"
	return sprintf("%.2f", a / b)
}
BEGIN {
	readbench(gofile, "")
	while ((getline line < cfile) > 0) {
		split(line, f, " ")
		cr[f[1]] = cr[f[1]] " " f[2]
	}
	print "| row | uds | stdlib | C | uds/stdlib: median (min–max over passes) | uds/C | allocs/op (uds / std) |"
	print "|---|---:|---:|---:|---:|---:|---:|"
}
{
	label = $1; u = $2; s = $3; ck = $4; unit = $5; bytes = $6 + 0
	nu = median(ns[u]); nsd = median(ns[s])
	if (nu == "" || nsd == "") { printf "| %s | missing benchmark %s or %s |||||\n", label, u, s; next }
	scale = (unit == "MB/s") ? bytes * 1e3 : 1e9
	ru = scale / nu; rs = scale / nsd
	rc = (ck == "-") ? "" : median(cr[ck])
	cell = span(u, s)
	printf "| %s (%s) | %s | %s | %s | %s | %s | %s / %s |\n", label, unit, fmt(ru), fmt(rs), fmt(rc),
		cell, ratio(ru, rc), median(al[u]), median(al[s])
}
AWK
awk -F'|' -v gofile="$tmp/go.txt" -v cfile="$tmp/c.txt" -f "$root/bench/stats.awk" -f "$tmp/table.awk" "$tmp/rows.txt"

# What telling an empty SEQPACKET message from EOF costs in the kernel
# (SO_TIMESTAMP and recvmsg against recvfrom): see BENCHMARKS.md.
echo
echo "SEQPACKET 64 B, C, one thread (bench/c/seqts.c), best of $CRUNS:"
for _ in $(seq "$CRUNS"); do "$tmp/seqts" 300000; done |
	awk '{ if (!($1 in best) || $2 + 0 < best[$1]) best[$1] = $2 + 0; order[$1] = NR }
	END { for (k in best) printf "%d %s %d\n", (order[k] - 1) % 4, k, best[k] }' |
	sort -n | awk '{ printf "    %-12s %5d ns per send+receive\n", $2, $3 }'

# The batch ceiling in C, plain and with both sockets watched by an epoll
# instance as Go's runtime watches every socket (EPOLL=1, bench/c/pair.h):
# each message then also wakes the epoll callbacks of both ends
# (BENCHMARKS.md, batch ceiling).
echo
echo "C batch (bench/c/mmsgrate.c, 32 a call), median of $CRUNS runs: messages per recvmmsg, messages/s"
for k in dgram seqpacket; do
	for e in 0 1; do
		for _ in $(seq "$CRUNS"); do EPOLL=$e "$tmp/mmsgrate" "$k" 64 500000 32; done |
			sort -k6 -n | awk -v k="$k" -v e="$e" '{ r[NR] = $0 } END { split(r[int((NR + 1) / 2)], f, " ");
				printf "    %-10s %-22s %5s per call  %8d msg/s\n", k, e ? "epoll-watched" : "plain", f[5], f[6] }'
	done
done
