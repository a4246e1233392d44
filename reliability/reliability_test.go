//go:build linux

package reliability_test

// The reliability suite (issue 9): stress, fault and adversarial tests with
// real processes. Every test runs a short version by default; UDS_LONG=1
// runs the sizes whose figures RELIABILITY.md records:
//
//	UDS_LONG=1 go test -run Reliability -timeout 60m -v ./reliability
//
// Each test logs one "RELIABILITY <area>: ..." line with its figures.
//
// This file: the shared helpers, racing starts (area 1) and crash recovery
// (area 2).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// ---- shared helpers ---------------------------------------------------------

// relLong reports whether the long versions run (UDS_LONG=1).
func relLong() bool {
	v := os.Getenv("UDS_LONG")
	return v != "" && v != "0"
}

// relSize returns short normally and long under UDS_LONG=1.
func relSize(short, long int) int {
	if relLong() {
		return long
	}
	return short
}

// relReport logs the figures of an area on one line that RELIABILITY.md
// quotes.
func relReport(t *testing.T, area string, format string, args ...any) {
	t.Helper()
	mode := "short"
	if relLong() {
		mode = "long"
	}
	t.Logf("RELIABILITY %s (%s): %s", area, mode, fmt.Sprintf(format, args...))
}

func relOneLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "\n", " | ")
}

// relProcsHold reports whether one of s's processes is pid.
func relProcsHold(s diag.Socket, pid int) bool {
	for _, p := range s.Procs {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// relHeldBy returns the sockets of the namespace that a process in pids
// holds and that are bound or listening: orphans when no test expects them.
// Connections (accepted or not) are left out.
func relHeldBy(t *testing.T, pids []int) []diag.Socket {
	t.Helper()
	socks, err := diag.Sockets(context.Background())
	require.NoError(t, err, "diag.Sockets")
	var out []diag.Socket
	for _, s := range socks {
		if s.State == diag.StateEstablished || s.State == diag.StateConnecting {
			continue
		}
		if s.Addr.Kind() != uds.KindPath && s.Addr.Kind() != uds.KindAbstract && s.State != diag.StateListen {
			continue
		}
		for _, pid := range pids {
			if relProcsHold(s, pid) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// relHeldAfter is relHeldBy after up to a second for sockets that are
// closing (a server's end of a connection whose client just closed) to go.
func relHeldAfter(t *testing.T, pids []int) []diag.Socket {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		held := relHeldBy(t, pids)
		if len(held) == 0 || time.Now().After(deadline) {
			return held
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relListeners returns the listening sockets that Who finds for path.
func relListeners(t *testing.T, path string) []diag.Socket {
	t.Helper()
	socks, err := diag.Who(context.Background(), uds.Path(path))
	require.NoError(t, err, "diag.Who(%s)", path)
	var out []diag.Socket
	for _, s := range socks {
		if s.State == diag.StateListen {
			out = append(out, s)
		}
	}
	return out
}

// ---- 1. racing starts -------------------------------------------------------

// Racer protocol: fd 3 carries commands, one per line; fd 4 is the gate
// shared by all racers, one byte per racer and round.
//
//	ARM <path>  -> "ARMED", then wait for a byte on the gate, Listen, and
//	               report "WON", "INUSE <pid> <how>" or "ERR <message>"
//	CLOSE       -> close the listener won, "CLOSED <error or <nil>>"
const roleRelRacer = "rel-racer"

func init() { childproc.Register(roleRelRacer, childRelRacer) }

func childRelRacer([]string) int {
	cmds := bufio.NewScanner(os.NewFile(3, "commands"))
	gate := os.NewFile(4, "gate")
	var ln *uds.Listener
	fmt.Println(childproc.Ready, os.Getpid())
	for cmds.Scan() {
		f := strings.Fields(cmds.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ARM":
			fmt.Println("ARMED")
			var b [1]byte
			if _, err := io.ReadFull(gate, b[:]); err != nil {
				fmt.Println("ERR gate:", err)
				return 1
			}
			l, err := uds.Listen(context.Background(), uds.Path(f[1]))
			var ie *uds.InUseError
			switch {
			case err == nil:
				ln = l
				go echoLoop(l)
				fmt.Println("WON")
			case errors.As(err, &ie):
				fmt.Printf("INUSE %d %s\n", ie.PID, ie.How)
			default:
				fmt.Println("ERR", relOneLine(err))
			}
		case "CLOSE":
			var err error
			if ln != nil {
				err = ln.Close()
				ln = nil
			}
			fmt.Println("CLOSED", relOneLine(err))
		}
	}
	return 0
}

type relRacer struct {
	c   *childproc.Child
	cmd *os.File
}

func (r *relRacer) send(t *testing.T, line string) {
	t.Helper()
	_, err := io.WriteString(r.cmd, line+"\n")
	require.NoError(t, err)
}

// TestReliabilityRacingStarts: 8 processes race Listen on one path, which is
// missing, stale (a crashed server's socket file, with or without its lock
// file) or live (a uds server holding the lock, or a net.Listen server
// without one). Each round: exactly one process serves the path afterwards
// (a racer for missing and stale, the existing server for live), the loser
// racers get ErrInUse, no live socket is unlinked, and sock_diag
// (diag.Who, diag.Sockets) shows one listener and no orphan.
func TestReliabilityRacingStarts(t *testing.T) {
	const nRacers = 8
	rounds := relSize(25, 1000) // per kind of path
	dir := testutil.MkSockDir(t)
	path := filepath.Join(dir, "s.sock")
	ctx := context.Background()

	gateR, gateW, err := os.Pipe()
	require.NoError(t, err)
	defer gateW.Close()
	racers := make([]*relRacer, nRacers)
	pids := make([]int, nRacers)
	for i := range racers {
		cmdR, cmdW, err := os.Pipe()
		require.NoError(t, err)
		c := childproc.Start(t, childproc.Options{ExtraFiles: []*os.File{cmdR, gateR}}, roleRelRacer)
		cmdR.Close()
		t.Cleanup(func() { cmdW.Close() })
		racers[i] = &relRacer{c: c, cmd: cmdW}
	}
	gateR.Close()
	for i, r := range racers {
		pids[i], err = strconv.Atoi(r.c.WaitReady())
		require.NoError(t, err)
	}
	gate := make([]byte, nRacers)

	type stats struct{ rounds, winners, inUse, errs, unlinkedLive, orphans, reclaimed int }
	st := map[string]*stats{"missing": {}, "stale": {}, "live": {}}
	start := time.Now()
	for round := 0; round < 3*rounds; round++ {
		kind := []string{"missing", "stale", "live"}[round%3]
		s := st[kind]
		s.rounds++
		var staleIno uint64
		pin := -1
		var liveIno uint64
		var liveClose func()
		livePID := os.Getpid()
		switch kind {
		case "stale":
			// What a SIGKILLed server leaves: its socket file, and its lock
			// file (unlocked, naming a dead process) every other round.
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
			require.NoError(t, unix.Listen(fd, 8))
			unix.Close(fd)
			if round%2 == 0 {
				require.NoError(t, os.WriteFile(path+".lock", []byte("2147483646\n"), 0o600))
			}
			staleIno = testutil.LstatIno(t, path)
			// Pinned for the round, so that its inode number cannot be
			// reused by the winner's socket file.
			pin, err = unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			require.NoError(t, err)
		case "live":
			var ln net.Listener
			if round%2 == 0 {
				ln, err = uds.Listen(ctx, uds.Path(path))
			} else {
				ln, err = net.Listen("unix", path) // no lock file: the racers must probe
			}
			require.NoError(t, err)
			done := make(chan struct{})
			go func() { defer close(done); echoLoop(ln) }()
			liveClose = func() { ln.Close(); <-done }
			liveIno = testutil.LstatIno(t, path)
		}

		for _, r := range racers {
			r.send(t, "ARM "+path)
		}
		for _, r := range racers {
			require.Equal(t, "ARMED", r.c.Line(20*time.Second))
		}
		_, err := gateW.Write(gate) // release them all at once
		require.NoError(t, err)
		var winners []int
		holders := map[int]int{} // racer -> the holder its ErrInUse named
		for i, r := range racers {
			l := r.c.Line(30 * time.Second)
			f := strings.Fields(l)
			switch {
			case l == "WON":
				winners = append(winners, i)
			case len(f) == 3 && f[0] == "INUSE":
				s.inUse++
				holders[i], _ = strconv.Atoi(f[1])
			default:
				s.errs++
				assert.Failf(t, "racer neither won nor got ErrInUse", "round %d (%s): racer %d: %q", round, kind, i, l)
			}
		}
		for i, h := range holders {
			switch {
			case kind == "live" && round%2 == 0:
				assert.Equal(t, livePID, h, "round %d: racer %d: ErrInUse names the lock's holder", round, i)
			case kind == "live":
				// No lock: the holder is the server (found by the probe)
				// or a racer that had the lock at that moment.
				// 0 when the racer that had the lock released it before
				// /proc/locks was read.
				assert.True(t, h == 0 || h == livePID || slices.Contains(pids, h), "round %d: racer %d: ErrInUse names pid %d", round, i, h)
			case len(winners) == 1:
				assert.Equal(t, pids[winners[0]], h, "round %d (%s): racer %d: ErrInUse names the winner", round, kind, i)
			}
		}
		s.winners += len(winners)

		wantPID := livePID
		if kind == "live" {
			assert.Empty(t, winners, "round %d: no racer may win a live path", round)
			if testutil.LstatIno(t, path) != liveIno {
				s.unlinkedLive++
				assert.Failf(t, "live socket replaced", "round %d: the live server's socket file was replaced", round)
			}
		} else {
			if !assert.Len(t, winners, 1, "round %d (%s): exactly one racer must win", round, kind) {
				t.FailNow()
			}
			wantPID = pids[winners[0]]
			if kind == "stale" && testutil.LstatIno(t, path) != staleIno {
				s.reclaimed++
			}
		}
		// sock_diag: one listener on the path's file, the expected one.
		ls := relListeners(t, path)
		if assert.Len(t, ls, 1, "round %d (%s): listeners on %s: %+v", round, kind, path, ls) {
			assert.False(t, ls[0].Shadowed, "round %d: the serving socket is shadowed", round)
			if !relProcsHold(ls[0], wantPID) {
				s.unlinkedLive++
				assert.Failf(t, "wrong listener", "round %d (%s): listener held by %+v, want pid %d", round, kind, ls[0].Procs, wantPID)
			}
		} else {
			s.unlinkedLive++
		}
		pid, err := echoCheckPID(path)
		assert.NoError(t, err, "round %d (%s): the path serves", round, kind)
		assert.Equal(t, wantPID, pid, "round %d (%s): a dial reaches the server", round, kind)
		// No racer other than the winner holds any bound socket.
		var losers []int
		for i, p := range pids {
			if len(winners) == 0 || i != winners[0] {
				losers = append(losers, p)
			}
		}
		if o := relHeldAfter(t, losers); len(o) > 0 {
			s.orphans += len(o)
			assert.Failf(t, "orphan sockets", "round %d (%s): losers hold %+v", round, kind, o)
		}

		// Tear down: the winner (or the live server) closes; the path and
		// its lock file go.
		if kind == "live" {
			liveClose()
			if round%2 == 1 {
				os.Remove(path) // net.Listen's file is removed on Close; in case
			}
		} else {
			r := racers[winners[0]]
			r.send(t, "CLOSE")
			assert.Equal(t, "CLOSED <nil>", r.c.Line(20*time.Second), "round %d: the winner's Close", round)
		}
		if o := relHeldAfter(t, pids); len(o) > 0 {
			s.orphans += len(o)
			assert.Failf(t, "orphan sockets after Close", "round %d (%s): racers hold %+v", round, kind, o)
		}
		assert.Empty(t, testutil.DirNames(t, dir), "round %d (%s): Close leaves nothing behind", round, kind)
		if pin >= 0 {
			unix.Close(pin)
		}
		if t.Failed() {
			break
		}
	}
	for _, k := range []string{"missing", "stale", "live"} {
		s := st[k]
		relReport(t, "racing starts", "%d processes, %s path: %d rounds, %d winners, %d ErrInUse, %d other errors, %d live sockets unlinked, %d orphan sockets, %d stale files reclaimed",
			nRacers, k, s.rounds, s.winners, s.inUse, s.errs, s.unlinkedLive, s.orphans, s.reclaimed)
	}
	relReport(t, "racing starts", "%d rounds in %v", 3*rounds, time.Since(start).Round(time.Millisecond))
}

// ---- 2. crash recovery ------------------------------------------------------

// TestReliabilityCrashRecovery: a server (a child running uds.Listen) is
// killed with SIGKILL at a moment that varies: right after it is ready,
// while clients are connected and in the middle of a message, or while it is
// still starting (before, during or after its Listen). The next server must
// always start on the same path: a stale socket and lock file are reclaimed.
// sock_diag shows one listener, the new server's, and nothing of the dead one.
func TestReliabilityCrashRecovery(t *testing.T) {
	cycles := relSize(20, 200)
	dir := testutil.MkSockDir(t)
	path := filepath.Join(dir, "s.sock")
	var modes [3]int
	var restarts, failed, reclaimedStale, lockLeft, orphans int
	var prevPID int
	start := time.Now()
	for i := 0; i <= cycles; i++ {
		// Start on whatever the previous crash left.
		before, err := diag.Probe(context.Background(), uds.Path(path))
		require.NoError(t, err)
		if i > 0 {
			assert.Contains(t, []diag.ProbeState{diag.ProbeStale, diag.ProbeMissing}, before.State, "cycle %d: after a crash: %+v", i, before)
			if _, err := os.Lstat(path + ".lock"); err == nil {
				lockLeft++
			}
			if ls := relListeners(t, path); len(ls) > 0 {
				orphans += len(ls)
				assert.Failf(t, "listener after SIGKILL", "cycle %d: %+v", i, ls)
			}
		}
		c := childproc.Start(t, childproc.Options{}, roleListen, path)
		mode := i % 3
		if i < cycles && mode == 2 {
			// Kill it while it starts: a moment in its first 20ms.
			modes[2]++
			time.Sleep(time.Duration(i*7919%20000) * time.Microsecond)
			c.Kill()
			continue
		}
		v := c.Line(30 * time.Second)
		pidText, ok := strings.CutPrefix(v, childproc.Ready+" ")
		if !ok {
			failed++
			require.Failf(t, "restart failed", "cycle %d: the restarted server must listen; it said %q, stderr: %s", i, v, c.Stderr())
		}
		pid, _ := strconv.Atoi(pidText)
		restarts++
		if before.State == diag.ProbeStale {
			reclaimedStale++
		}
		got, err := echoCheckPID(path)
		require.NoError(t, err, "cycle %d: the new server serves", i)
		require.Equal(t, pid, got, "cycle %d: a dial reaches the new server", i)
		ls := relListeners(t, path)
		if assert.Len(t, ls, 1, "cycle %d: one listener", i) {
			assert.True(t, relProcsHold(ls[0], pid), "cycle %d: the listener is the new server's: %+v", i, ls[0].Procs)
			assert.False(t, prevPID != 0 && relProcsHold(ls[0], prevPID), "cycle %d: the dead server's socket", i)
		}
		prevPID = pid
		if i == cycles {
			break // the last server stays up until the test ends
		}
		modes[mode]++
		if mode == 1 {
			// Clients connected, some in the middle of a message.
			for k := 0; k < 4; k++ {
				conn, err := uds.Dial(context.Background(), uds.Path(path))
				require.NoError(t, err)
				defer conn.Close()
				if k%2 == 0 {
					_, err = conn.Write([]byte("half a messa"))
					require.NoError(t, err)
				}
			}
		}
		c.Kill()
	}
	relReport(t, "crash recovery", "%d SIGKILL cycles (%d after ready, %d with clients connected, %d during start-up); %d restarts listened (%d on a stale socket file, %d with the dead server's lock file), %d failed, %d orphan listeners; %v",
		cycles, modes[0], modes[1], modes[2], restarts, reclaimedStale, lockLeft, failed, orphans, time.Since(start).Round(time.Millisecond))
}
