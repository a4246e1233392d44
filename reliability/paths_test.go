//go:build linux

package reliability_test

// Reliability area 3: adversarial paths. Listen is run, over many rounds,
// on paths that hold things it must leave alone (a live server with a full
// backlog, regular files, directories, FIFOs, symbolic links to files, to
// live and stale sockets and to nothing, a lock file that is a symbolic
// link), and against a concurrent adversary that swaps the path or its
// parent directory while Listen runs. Nothing may be removed or followed
// that the caller did not own.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
)

// relEntry is one file of a tree snapshot.
type relEntry struct {
	ino, nlink uint64
	mode       uint32
	size       int64
	target     string // symbolic links
	data       string // regular files (small)
}

// relTree snapshots every file under root (not following links).
func relTree(t *testing.T, root string) map[string]relEntry {
	t.Helper()
	out := map[string]relEntry{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := relEntry{ino: st.Ino, nlink: uint64(st.Nlink), mode: st.Mode, size: st.Size}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			e.target, _ = os.Readlink(p)
		case unix.S_IFREG:
			if st.Size < 4096 {
				b, _ := os.ReadFile(p)
				e.data = string(b)
			}
		case unix.S_IFDIR:
			e.size = 0
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = e
		return nil
	})
	require.NoError(t, err)
	return out
}

// relTreeDiff describes how two snapshots differ ("" if they do not).
func relTreeDiff(before, after map[string]relEntry) string {
	var d []string
	for p, e := range before {
		a, ok := after[p]
		switch {
		case !ok:
			d = append(d, "removed "+p)
		case a != e:
			d = append(d, fmt.Sprintf("changed %s: %+v -> %+v", p, e, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "created "+p)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

// relRawListener binds and listens a plain socket (no uds, no lock file) at
// path with the given backlog.
func relRawListener(t *testing.T, path string, backlog int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}), "bind %s", path)
	require.NoError(t, unix.Listen(fd, backlog))
	return fd
}

// relStaleSocket leaves a socket file at path that no socket holds.
func relStaleSocket(t *testing.T, path string) {
	t.Helper()
	unix.Close(relRawListener(t, path, 1))
}

// relFill connects to path until its backlog is full and returns the
// connections.
func relFill(t *testing.T, path string) []int {
	t.Helper()
	var fds []int
	for i := 0; i < 1000; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err == unix.EAGAIN {
			unix.Close(fd)
			return fds
		}
		require.NoError(t, err)
		fds = append(fds, fd)
	}
	t.Fatalf("the backlog of %s never filled", path)
	return nil
}

func relCloseAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func relConnectable(path string) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	return err == nil || err == unix.EAGAIN
}

// relProblems counts what went wrong, by kind, and keeps the first few
// details.
type relProblems struct {
	kinds  map[string]int
	rounds int // rounds with at least one problem
	first  []string
}

func (p *relProblems) add(kind, detail string) {
	if p.kinds == nil {
		p.kinds = map[string]int{}
	}
	p.kinds[kind]++
	if len(p.first) < 6 {
		p.first = append(p.first, detail)
	}
}

// relFindFile reports whether the file (dev, ino) is at one of paths, and
// its mode there.
func relFindFile(id unix.Stat_t, paths ...string) (mode uint32, found bool) {
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Ino == id.Ino && st.Dev == id.Dev {
			return st.Mode, true
		}
	}
	return 0, false
}

// relCheckAdversary checks, after Listen and again after Close, that the
// adversary's file (their) is still at path or theirs with its mode, and
// that nothing changed under target (if not "").
func relCheckAdversary(t *testing.T, p *relProblems, round int, what string, their unix.Stat_t, path, theirs string, listen func() (closer func(), err error), target string) {
	t.Helper()
	var targetBefore map[string]relEntry
	if target != "" {
		targetBefore = relTree(t, target)
	}
	n := len(p.first) + sumMap(p.kinds)
	closeFn, err := listen()
	mode, found := relFindFile(their, path, theirs)
	switch {
	case !found:
		p.add("removed during Listen", fmt.Sprintf("round %d: the %s was removed during Listen (Listen: %v)", round, what, err))
	case mode != their.Mode:
		p.add("mode changed by Listen", fmt.Sprintf("round %d: Listen changed the %s's mode from %#o to %#o", round, what, their.Mode&0o7777, mode&0o7777))
	}
	if closeFn != nil {
		closeFn()
		if _, again := relFindFile(their, path, theirs); found && !again {
			p.add("removed by Close", fmt.Sprintf("round %d: the listener's Close removed the %s (Listen: %v)", round, what, err))
		}
	}
	if target != "" {
		if d := relTreeDiff(targetBefore, relTree(t, target)); d != "" {
			p.add("changed outside the directory", fmt.Sprintf("round %d: outside the directory: %s", round, d))
		}
	}
	if len(p.first)+sumMap(p.kinds) != n {
		p.rounds++
	}
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// relSpin waits d without sleeping, for delays of microseconds.
func relSpin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// TestReliabilityAdversarialPaths: see the top of this file.
func TestReliabilityAdversarialPaths(t *testing.T) {
	t.Run("static", relStaticPaths)
	t.Run("live socket swapped in during reclaim", func(t *testing.T) { relSwapDuringReclaim(t, "live socket") })
	t.Run("regular file swapped in during reclaim", func(t *testing.T) { relSwapDuringReclaim(t, "regular file") })
	t.Run("symlink swapped in during reclaim", func(t *testing.T) { relSwapDuringReclaim(t, "symlink") })
	t.Run("socket swapped in right after bind", relSwapAfterBind)
	t.Run("parent directory swapped for a symlink", relSwapParent)
}

// relStaticPaths: things at the path that Listen must refuse and leave as
// they are, each over many rounds.
func relStaticPaths(t *testing.T) {
	rounds := relSize(10, 500)
	ctx := context.Background()
	type scenario struct {
		name string
		prep func(t *testing.T, dir, path, target string) (cleanup func())
		is   error  // errors.Is
		msg  string // in the message
		// check runs after Listen, beyond the tree comparison.
		check func(t *testing.T, dir, path, target string)
	}
	scenarios := []scenario{
		{name: "live server, full backlog", is: uds.ErrInUse, msg: "backlog full",
			prep: func(t *testing.T, dir, path, target string) func() {
				fd := relRawListener(t, path, 0)
				conns := relFill(t, path)
				return func() { relCloseAll(conns); unix.Close(fd); os.Remove(path) }
			}},
		{name: "regular file", is: uds.ErrNotSocket, msg: "regular file",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, os.WriteFile(path, []byte("precious"), 0o644))
				return nil
			}},
		{name: "directory", is: uds.ErrNotSocket, msg: "directory",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, os.Mkdir(path, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), []byte("precious"), 0o644))
				return nil
			}},
		{name: "named pipe", is: uds.ErrNotSocket, msg: "named pipe",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, unix.Mkfifo(path, 0o644))
				return nil
			}},
		{name: "symlink to regular file", is: uds.ErrNotSocket, msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				f := filepath.Join(target, "file")
				require.NoError(t, os.WriteFile(f, []byte("precious"), 0o644))
				require.NoError(t, os.Symlink(f, path))
				return nil
			}},
		{name: "symlink to live socket", is: uds.ErrNotSocket, msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				s := filepath.Join(target, "live.sock")
				fd := relRawListener(t, s, 16)
				require.NoError(t, os.Symlink(s, path))
				return func() { unix.Close(fd) }
			},
			check: func(t *testing.T, dir, path, target string) {
				assert.True(t, relConnectable(filepath.Join(target, "live.sock")), "the live socket still listens")
			}},
		{name: "symlink to stale socket", is: uds.ErrNotSocket, msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				s := filepath.Join(target, "stale.sock")
				relStaleSocket(t, s)
				require.NoError(t, os.Symlink(s, path))
				return nil
			}},
		{name: "dangling symlink", is: uds.ErrNotSocket, msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, os.Symlink(filepath.Join(target, "missing.sock"), path))
				return nil
			}},
		{name: "lock file is a symlink to a file", msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				f := filepath.Join(target, "victim")
				require.NoError(t, os.WriteFile(f, []byte("precious"), 0o644))
				require.NoError(t, os.Symlink(f, path+".lock"))
				relStaleSocket(t, path) // a stale socket that would otherwise be reclaimed
				return nil
			}},
		{name: "lock file is a dangling symlink", msg: "symbolic link",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, os.Symlink(filepath.Join(target, "created"), path+".lock"))
				return nil
			}},
		{name: "lock file is a directory",
			prep: func(t *testing.T, dir, path, target string) func() {
				require.NoError(t, os.Mkdir(path+".lock", 0o755))
				relStaleSocket(t, path)
				return nil
			}},
	}
	counts := map[string]int{}
	violations := 0
	start := time.Now()
	for round := 0; round < rounds; round++ {
		for _, sc := range scenarios {
			root := testutil.MkSockDir(t)
			dir, target := filepath.Join(root, "d"), filepath.Join(root, "target")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.Mkdir(target, 0o755))
			path := filepath.Join(dir, "s.sock")
			cleanup := sc.prep(t, dir, path, target)
			before := relTree(t, root)
			mode := []uds.SocketType{uds.Stream, uds.Datagram, uds.SeqPacket}[round%3]
			var err error
			var c interface{ Close() error }
			switch mode {
			case uds.Stream:
				c, err = uds.Listen(ctx, uds.Path(path))
			case uds.Datagram:
				c, err = uds.ListenDatagram(ctx, uds.Path(path))
			default:
				c, err = uds.Listen(ctx, uds.Path(path).WithType(uds.SeqPacket))
			}
			if err == nil {
				c.Close()
			}
			ok := assert.Error(t, err, "%s (%s): Listen must fail", sc.name, mode)
			if sc.is != nil {
				ok = assert.ErrorIs(t, err, sc.is, "%s (%s)", sc.name, mode) && ok
			}
			// A stream server with a full backlog is "a socket of another
			// type" to the other types' probes.
			if sc.msg != "" && (sc.name != "live server, full backlog" || mode == uds.Stream) {
				{
					ok = assert.Contains(t, relOneLine(err), sc.msg, "%s (%s)", sc.name, mode) && ok
				}
			}
			if diff := relTreeDiff(before, relTree(t, root)); diff != "" {
				ok = false
				assert.Failf(t, "Listen changed files", "%s (%s): %s (err: %v)", sc.name, mode, diff, err)
			}
			if sc.check != nil {
				sc.check(t, dir, path, target)
			}
			if !ok {
				violations++
			}
			counts[sc.name]++
			if cleanup != nil {
				cleanup()
			}
		}
		if t.Failed() {
			break
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	relReport(t, "adversarial paths", "static: %d scenarios x %d rounds (stream, datagram, seqpacket in turn) = %d Listen calls refused, %d files removed, changed, created or followed; %v",
		len(scenarios), rounds, total, violations, time.Since(start).Round(time.Millisecond))
}

// relListenTime measures how long a Listen that reclaims a stale socket
// takes here, to spread the adversary's moves over it.
func relListenTime(t *testing.T, stale bool) time.Duration {
	t.Helper()
	path := filepath.Join(testutil.MkSockDir(t), "m.sock")
	var ds []time.Duration
	for i := 0; i < 21; i++ {
		if stale {
			relStaleSocket(t, path)
		}
		start := time.Now()
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		ds = append(ds, time.Since(start))
		require.NoError(t, err)
		ln.Close()
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// relSwapDuringReclaim: the path holds a stale socket; while Listen
// reclaims it, an adversary exchanges it (renameat2 RENAME_EXCHANGE) with a
// live socket, a regular file or a symbolic link to a stale socket
// elsewhere, several times at random moments. Whatever the outcome, the
// adversary's file must survive (under the path or under its own name), and
// nothing outside the directory may change. Reclaiming a stale socket is
// allowed: the adversary put it there to be reclaimed.
func relSwapDuringReclaim(t *testing.T, what string) {
	rounds := relSize(1000, 10000)
	ctx := context.Background()
	per := relListenTime(t, true)
	outcomes := map[string]int{}
	var probs relProblems
	start := time.Now()
	for round := 0; round < rounds; round++ {
		root := testutil.MkSockDir(t)
		dir, target := filepath.Join(root, "d"), filepath.Join(root, "target")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.Mkdir(target, 0o755))
		path, theirs := filepath.Join(dir, "s.sock"), filepath.Join(dir, "theirs")
		relStaleSocket(t, path)
		lfd := -1
		switch what {
		case "live socket":
			lfd = relRawListener(t, theirs, 64)
		case "regular file":
			require.NoError(t, os.WriteFile(theirs, []byte("precious"), 0o644))
		case "symlink":
			relStaleSocket(t, filepath.Join(target, "stale.sock"))
			require.NoError(t, os.Symlink(filepath.Join(target, "stale.sock"), theirs))
		}
		var their unix.Stat_t
		require.NoError(t, unix.Lstat(theirs, &their))
		pin, err := unix.Open(theirs, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		require.NoError(t, err)

		// The adversary exchanges the two names 1 to 3 times, at random
		// moments spread over twice a Listen's duration.
		swaps := 1 + rand.IntN(3)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < swaps; k++ {
				relSpin(time.Duration(rand.Int64N(int64(2 * per / time.Duration(swaps)))))
				if unix.Renameat2(unix.AT_FDCWD, theirs, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE) != nil {
					return // the path is gone: Listen reclaimed the stale socket
				}
			}
		}()
		relCheckAdversary(t, &probs, round, what, their, path, theirs, func() (func(), error) {
			ln, err := uds.Listen(ctx, uds.Path(path))
			wg.Wait()
			switch {
			case err == nil:
				outcomes["listened"]++
			case errors.Is(err, uds.ErrInUse):
				outcomes["ErrInUse"]++
			case errors.Is(err, uds.ErrNotSocket):
				outcomes["ErrNotSocket"]++
			default:
				outcomes["other error: "+trimPath(relOneLine(err), path)]++
			}
			if err != nil {
				return nil, err
			}
			return func() { ln.Close() }, nil
		}, target)
		if lfd >= 0 {
			if what == "live socket" && !relLiveFD(lfd) {
				probs.add("stopped listening", fmt.Sprintf("round %d: the adversary's socket stopped listening", round))
				probs.rounds++
			}
			unix.Close(lfd)
		}
		unix.Close(pin)
		os.RemoveAll(root)
	}
	assert.Zero(t, probs.rounds, "an adversary's %s was removed, changed or followed in %d of %d rounds (%v):\n%s",
		what, probs.rounds, rounds, probs.kinds, strings.Join(probs.first, "\n"))
	relReport(t, "adversarial paths", "%s swapped in during reclaim: %d rounds, outcomes %v; %d rounds where the adversary's file was removed, changed or followed %v; Listen takes %v here; %v",
		what, rounds, outcomes, probs.rounds, probs.kinds, per, time.Since(start).Round(time.Millisecond))
}

// relLiveFD reports whether the listening socket fd still listens (its
// file may have been renamed).
func relLiveFD(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v == 1
}

func trimPath(s, path string) string { return strings.ReplaceAll(s, path, "PATH") }

// relSwapAfterBind: the path is free; an adversary waits for Listen's socket
// file to appear and at once exchanges it with its own live socket. Listen
// may succeed (its socket then sits under the adversary's name) or fail,
// but it must never take the adversary's socket for its own: not change its
// mode (Listen is given one), and not remove it on Close.
func relSwapAfterBind(t *testing.T) {
	rounds := relSize(1500, 10000)
	ctx := context.Background()
	outcomes := map[string]int{}
	var probs relProblems
	start := time.Now()
	for round := 0; round < rounds; round++ {
		dir := testutil.MkSockDir(t)
		path, theirs := filepath.Join(dir, "s.sock"), filepath.Join(dir, "theirs")
		lfd := relRawListener(t, theirs, 64)
		require.NoError(t, os.Chmod(theirs, 0o751))
		var their unix.Stat_t
		require.NoError(t, unix.Lstat(theirs, &their))
		pin, err := unix.Open(theirs, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		require.NoError(t, err)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		swapped := false
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if unix.Renameat2(unix.AT_FDCWD, theirs, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE) == nil {
					swapped = true
					return
				}
			}
		}()
		relCheckAdversary(t, &probs, round, "adversary's live socket", their, path, theirs, func() (func(), error) {
			lc := uds.ListenConfig{Mode: 0o600}
			ln, err := lc.Listen(ctx, uds.Path(path))
			deadline := time.Now().Add(100 * time.Millisecond)
			for err == nil && time.Now().Before(deadline) {
				if _, ok := relFindFile(their, path); ok {
					break // swapped
				}
				time.Sleep(100 * time.Microsecond)
			}
			close(stop)
			wg.Wait()
			key := "listened"
			if err != nil {
				key = "error: " + trimPath(relOneLine(err), path)
			}
			if swapped {
				key += ", swapped"
			}
			outcomes[key]++
			if err != nil {
				return nil, err
			}
			return func() { ln.Close() }, nil
		}, "")
		unix.Close(lfd)
		unix.Close(pin)
		os.RemoveAll(dir)
	}
	assert.Zero(t, probs.rounds, "Listen took the adversary's socket for its own in %d of %d rounds (%v):\n%s",
		probs.rounds, rounds, probs.kinds, strings.Join(probs.first, "\n"))
	relReport(t, "adversarial paths", "socket swapped in right after bind: %d rounds, outcomes %v; %d rounds where the adversary's socket was changed or removed %v; %v",
		rounds, outcomes, probs.rounds, probs.kinds, time.Since(start).Round(time.Millisecond))
}

// relSwapParent: Listen(dir/sub/s.sock) while an adversary exchanges the
// directory sub with a symbolic link to another directory (every other
// round, that directory holds a stale socket of the same name). The
// adversary waits until Listen has created its lock file in sub, so Listen
// has opened sub by then, and swaps at a random moment after that. Listen
// must work in the directory it opened or fail: it must not create, remove
// or change anything in the other directory, and Close (or the failure)
// must leave the directory it opened empty.
func relSwapParent(t *testing.T) {
	rounds := relSize(400, 10000)
	ctx := context.Background()
	per := relListenTime(t, false)
	outcomes := map[string]int{}
	violations, litter := 0, 0
	byOutcome := map[string]int{} // rounds with a violation, by Listen's outcome
	var firstViolations []string
	start := time.Now()
	for round := 0; round < rounds; round++ {
		root := testutil.MkSockDir(t)
		sub, alt, other := filepath.Join(root, "sub"), filepath.Join(root, "alt"), filepath.Join(root, "other")
		require.NoError(t, os.Mkdir(sub, 0o755))
		require.NoError(t, os.Mkdir(other, 0o755))
		require.NoError(t, os.Symlink(other, alt))
		if round%2 == 1 {
			relStaleSocket(t, filepath.Join(other, "s.sock"))
		}
		otherBefore := relTree(t, other)
		var subSt unix.Stat_t
		require.NoError(t, unix.Stat(sub, &subSt))
		path := filepath.Join(sub, "s.sock")

		subfd, err := unix.Open(sub, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Add(1)
		stop := make(chan struct{})
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var st unix.Stat_t
				if unix.Fstatat(subfd, "s.sock.lock", &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					break
				}
			}
			relSpin(time.Duration(rand.Int64N(int64(per))))
			_ = unix.Renameat2(unix.AT_FDCWD, sub, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE)
		}()
		ln, err := uds.Listen(ctx, uds.Path(path))
		close(stop)
		wg.Wait()
		unix.Close(subfd)
		key := "listened"
		if err != nil {
			key = "error: " + trimPath(relOneLine(err), path)
		}
		outcomes[key]++
		bad := false
		if d := relTreeDiff(otherBefore, relTree(t, other)); d != "" {
			bad = true
			firstViolations = append(firstViolations, fmt.Sprintf("round %d: after Listen (%v): in the other directory: %s", round, err, d))
		}
		if ln != nil {
			ln.Close()
		}
		if d := relTreeDiff(otherBefore, relTree(t, other)); d != "" && ln != nil && !bad {
			bad = true
			firstViolations = append(firstViolations, fmt.Sprintf("round %d: after Close: in the other directory: %s", round, d))
		}
		// The locked directory (under whichever name) ends empty.
		for _, p := range []string{sub, alt} {
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil && st.Ino == subSt.Ino {
				if names := testutil.DirNames(t, p); len(names) > 0 {
					litter++
					firstViolations = append(firstViolations, fmt.Sprintf("round %d: left in the locked directory: %v (Listen: %v)", round, names, err))
				}
			}
		}
		if bad {
			violations++
			byOutcome[key]++
		}
		os.RemoveAll(root)
	}
	if len(firstViolations) > 5 {
		firstViolations = firstViolations[:5]
	}
	assert.Zero(t, violations+litter, "Listen followed the swapped directory or left files:\n%s", strings.Join(firstViolations, "\n"))
	relReport(t, "adversarial paths", "parent directory swapped for a symlink: %d rounds, outcomes %v, %d rounds with files created/removed/changed in the other directory (by outcome: %v), %d with files left in the locked one; %v",
		rounds, outcomes, violations, byOutcome, litter, time.Since(start).Round(time.Millisecond))
}
