//go:build linux

package reliability_test

// Stale-path safety where the kernel's means of telling a stale socket file
// from a live one are out of reach: no AF_NETLINK (a seccomp filter, as
// systemd's RestrictAddressFamilies=AF_UNIX installs), or too few free
// descriptors. Listen must then fail closed: a socket file that a live
// process holds is never removed. And Probe of a datagram socket must leave
// the socket as it found it.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// Child roles of this file.
const (
	// roleSbxNoNetlink denies socket(AF_NETLINK, ...) with EPERM through a
	// seccomp filter, then runs each of its args, "stream:PATH" (uds.Listen)
	// or "dgram:PATH" (uds.ListenDatagram), and prints "READY <json
	// sbxReport>".
	roleSbxNoNetlink = "sbx-nonetlink"
	// roleSbxHold binds a socket of type args[0] ("stream" or "dgram") to
	// the path args[1] without listening, and holds it until killed.
	roleSbxHold = "sbx-hold"
	// roleSbxFewFDs runs uds.Listen(args[0]) with exactly args[1] free
	// descriptors and prints "READY <json sbxFDReport>".
	roleSbxFewFDs = "sbx-fewfds"
)

func init() {
	childproc.Register(roleSbxNoNetlink, childSbxNoNetlink)
	childproc.Register(roleSbxHold, childSbxHold)
	childproc.Register(roleSbxFewFDs, childSbxFewFDs)
}

// ---- the seccomp filter ----------------------------------------------------

// sbxAuditArch returns the seccomp architecture of this build, or 0 and the
// reason the filter below does not apply here: it reads args[0]'s low 32
// bits at offset 16 (little-endian) and needs socket(2) to be a system call
// of its own (not socketcall(2)).
func sbxAuditArch() (uint32, string) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, ""
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, ""
	}
	return 0, "the test's seccomp filter is written for amd64 and arm64, not " + runtime.GOARCH
}

func sbxRequireFilter(t *testing.T) {
	t.Helper()
	if arch, why := sbxAuditArch(); arch == 0 {
		t.Skip(why)
	}
}

// sbxDenyNetlink installs, for every thread of the process (TSYNC), a
// seccomp filter under which socket(AF_NETLINK, ...) fails with EPERM and
// every other system call is allowed.
func sbxDenyNetlink() error {
	arch, why := sbxAuditArch()
	if arch == 0 {
		return errors.New(why)
	}
	// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer;
	// __u64 args[6].
	const offNr, offArch, offArg0 = 0, 4, 16
	load := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	// jumpUnless skips to the ALLOW at the end, skip instructions on, when
	// the accumulator is not k.
	jumpUnless := func(k uint32, skip uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: 0, Jf: skip}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	prog := []unix.SockFilter{
		/* 0 */ load(offArch),
		/* 1 */ jumpUnless(arch, 5),
		/* 2 */ load(offNr),
		/* 3 */ jumpUnless(uint32(unix.SYS_SOCKET), 3),
		/* 4 */ load(offArg0),
		/* 5 */ jumpUnless(unix.AF_NETLINK, 1),
		/* 6 */ ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)),
		/* 7 */ ret(unix.SECCOMP_RET_ALLOW),
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}

	// no_new_privs is a property of the calling thread, which must also be
	// the one that installs the filter; TSYNC then gives both to every
	// other thread of the process.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", err)
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return os.NewSyscallError("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: thread %d could not take the filter", r)
	}
	return nil
}

// sbxNetlinkErr tries the socket that sock_diag needs.
func sbxNetlinkErr() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// ---- child roles -------------------------------------------------------------

// sbxResult is what one Listen in a child did.
type sbxResult struct {
	Op, Path   string
	OK         bool // Listen returned a listener
	InUse      bool // errors.Is(err, uds.ErrInUse)
	Unverified bool // errors.Is(err, uds.ErrUnverified)
	EMFILE     bool // errors.Is(err, syscall.EMFILE)
	Err        string
	Serves     string // a successful stream listener: "" if a connection was accepted, else the error
	CloseErr   string
}

func (r sbxResult) String() string {
	if r.OK {
		return fmt.Sprintf("%s %s: listened (serves: %q, close: %q)", r.Op, filepath.Base(r.Path), r.Serves, r.CloseErr)
	}
	return fmt.Sprintf("%s %s: InUse=%v Unverified=%v EMFILE=%v: %s", r.Op, filepath.Base(r.Path), r.InUse, r.Unverified, r.EMFILE, r.Err)
}

type sbxReport struct {
	UID           int
	NetlinkBefore string // socket(AF_NETLINK) before the filter: "" if it worked
	NetlinkAfter  string // and after it
	NetlinkEPERM  bool   // it failed with EPERM after the filter
	UnixAfter     string // socket(AF_UNIX) after the filter: "" if it worked
	SocketsErr    string // diag.Sockets after the filter (sock_diag through netlink)
	Status        string // the Seccomp and NoNewPrivs lines of /proc/self/status
	Results       []sbxResult
}

func childSbxNoNetlink(args []string) int {
	r := sbxReport{UID: os.Getuid()}
	if err := sbxNetlinkErr(); err != nil {
		r.NetlinkBefore = err.Error()
	}
	if err := sbxDenyNetlink(); err != nil {
		fmt.Fprintln(os.Stderr, "installing the seccomp filter:", err)
		return 1
	}
	err := sbxNetlinkErr()
	if err == nil {
		fmt.Fprintln(os.Stderr, "socket(AF_NETLINK) still works after the seccomp filter")
		return 1
	}
	r.NetlinkAfter, r.NetlinkEPERM = err.Error(), errors.Is(err, unix.EPERM)
	if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		r.UnixAfter = err.Error()
	} else {
		unix.Close(fd)
	}
	if _, err := diag.Sockets(context.Background()); err != nil {
		r.SocketsErr = err.Error()
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Seccomp:") || strings.HasPrefix(l, "NoNewPrivs:") {
				r.Status += strings.Join(strings.Fields(l), " ") + "; "
			}
		}
	}
	for _, arg := range args {
		op, path, _ := strings.Cut(arg, ":")
		r.Results = append(r.Results, sbxListen(op, path))
	}
	b, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "json:", err)
		return 1
	}
	fmt.Println(childproc.Ready, string(b))
	return 0
}

// sbxListen listens on path with the socket type op names, checks that a
// listener it got serves, and closes it.
func sbxListen(op, path string) sbxResult {
	res := sbxResult{Op: op, Path: path}
	ctx := context.Background()
	var c interface{ Close() error }
	var err error
	switch op {
	case "stream":
		var ln *uds.Listener
		if ln, err = uds.Listen(ctx, uds.Path(path)); err == nil {
			c = ln
			if serr := sbxServes(ln, path); serr != nil {
				res.Serves = serr.Error()
			}
		}
	case "dgram":
		var dc *uds.DatagramConn
		if dc, err = uds.ListenDatagram(ctx, uds.Path(path)); err == nil {
			c = dc
		}
	default:
		err = fmt.Errorf("unknown op %q", op)
	}
	if err != nil {
		res.Err = err.Error()
		res.InUse = errors.Is(err, uds.ErrInUse)
		res.Unverified = errors.Is(err, uds.ErrUnverified)
		res.EMFILE = errors.Is(err, syscall.EMFILE)
		return res
	}
	res.OK = true
	if err := c.Close(); err != nil {
		res.CloseErr = err.Error()
	}
	return res
}

// sbxServes checks that a client can connect to ln by its path and that ln
// accepts it.
func sbxServes(ln *uds.Listener, path string) error {
	if err := ln.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if err := <-accepted; err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	return nil
}

func childSbxHold(args []string) int {
	typ := unix.SOCK_STREAM
	if args[0] == "dgram" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: args[1]})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bind:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

// sbxFDReport is what Listen did with K free descriptors.
type sbxFDReport struct {
	K          int
	Limit      int // the RLIMIT_NOFILE soft limit set
	FreeBefore int // descriptors free when Listen was called (must be K)
	sbxResult
	Leaked []int // open after the failed Listen, not before
	Closed []int // open before, not after
}

// sbxOpenFDs returns the open descriptors below limit, found with fcntl so
// that looking takes no descriptor.
func sbxOpenFDs(limit int) []int {
	var open []int
	for fd := 0; fd < limit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			open = append(open, fd)
		}
	}
	return open
}

func childSbxFewFDs(args []string) int {
	path := args[0]
	k, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "k:", err)
		return 1
	}
	// Warm up: the runtime's netpoller and every lazily opened descriptor of
	// a Listen are opened now, so that they do not count as leaks.
	if ln, err := uds.Listen(context.Background(), uds.Path(path+"-warm")); err != nil {
		fmt.Fprintln(os.Stderr, "warm-up listen:", err)
		return 1
	} else if err := ln.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "warm-up close:", err)
		return 1
	}

	// The limit is some way above the highest open descriptor (an
	// inherited one may be high), so that every open one is below it.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fmt.Fprintln(os.Stderr, "readdir:", err)
		return 1
	}
	highest := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			highest = max(highest, n)
		}
	}
	limit := highest + 64
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintln(os.Stderr, "getrlimit:", err)
		return 1
	}
	if rl.Max < uint64(limit) {
		fmt.Fprintf(os.Stderr, "hard RLIMIT_NOFILE %d is below %d\n", rl.Max, limit)
		return 1
	}
	rl.Cur = uint64(limit)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open /dev/null:", err)
		return 1
	}
	var dups []int
	for {
		fd, err := unix.FcntlInt(uintptr(null), unix.F_DUPFD_CLOEXEC, 0)
		if err == unix.EMFILE {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dup:", err)
			return 1
		}
		dups = append(dups, fd)
	}
	if k > len(dups) {
		fmt.Fprintf(os.Stderr, "only %d descriptors could be filled\n", len(dups))
		return 1
	}
	for _, fd := range dups[len(dups)-k:] {
		unix.Close(fd)
	}

	r := sbxFDReport{K: k, Limit: limit}
	before := sbxOpenFDs(limit)
	r.FreeBefore = limit - len(before)
	r.sbxResult = sbxListen("stream", path)
	after := sbxOpenFDs(limit)
	if !r.OK {
		for _, fd := range after {
			if !slices.Contains(before, fd) {
				r.Leaked = append(r.Leaked, fd)
			}
		}
		for _, fd := range before {
			if !slices.Contains(after, fd) {
				r.Closed = append(r.Closed, fd)
			}
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "json:", err)
		return 1
	}
	fmt.Println(childproc.Ready, string(b))
	return 0
}

// ---- test helpers ------------------------------------------------------------

// sbxGORACE keeps -race children from sleeping a second at exit.
func sbxGORACE() string {
	return strings.TrimSpace("GORACE=" + os.Getenv("GORACE") + " atexit_sleep_ms=0")
}

// sbxRunChild runs role to its end and decodes the JSON after its READY.
func sbxRunChild(t *testing.T, opts childproc.Options, into any, role string, args ...string) {
	t.Helper()
	opts.Env = append(opts.Env, sbxGORACE())
	c := childproc.Start(t, opts, role, args...)
	js := c.WaitReady()
	require.Equal(t, 0, c.Wait(20*time.Second), "child exit status; stderr:\n%s", c.Stderr())
	require.NoError(t, json.Unmarshal([]byte(js), into), "report %q", js)
}

// sbxNoNetlink runs a no-netlink child with ops and checks that its filter
// worked.
func sbxNoNetlink(t *testing.T, opts childproc.Options, ops ...string) map[string]sbxResult {
	t.Helper()
	var r sbxReport
	sbxRunChild(t, opts, &r, roleSbxNoNetlink, ops...)
	t.Logf("child uid %d: netlink before the filter: %q, after: %q; %s diag.Sockets: %q", r.UID, r.NetlinkBefore, r.NetlinkAfter, r.Status, r.SocketsErr)
	require.Empty(t, r.NetlinkBefore, "socket(AF_NETLINK) must work before the filter, so that the filter is what takes it away")
	require.True(t, r.NetlinkEPERM, "socket(AF_NETLINK) must fail with EPERM under the filter: %s", r.NetlinkAfter)
	require.Empty(t, r.UnixAfter, "socket(AF_UNIX) must still work under the filter")
	require.NotEmpty(t, r.SocketsErr, "sock_diag is out of reach under the filter")
	require.Len(t, r.Results, len(ops))
	out := map[string]sbxResult{}
	for i, res := range r.Results {
		t.Logf("%s", res)
		out[ops[i]] = res
	}
	return out
}

// sbxAssertFailedClosed checks that a Listen on a path a live process holds
// failed with ErrInUse or ErrUnverified.
func sbxAssertFailedClosed(t *testing.T, res sbxResult, what string) {
	t.Helper()
	if !assert.False(t, res.OK, "%s: Listen must fail, not take the path of a live socket", what) {
		return
	}
	assert.True(t, res.InUse || res.Unverified, "%s: the error must wrap ErrInUse or ErrUnverified: %s", what, res.Err)
}

// sbxAssertListened checks that Listen succeeded, served and closed cleanly.
func sbxAssertListened(t *testing.T, res sbxResult, what string) {
	t.Helper()
	if assert.True(t, res.OK, "%s: Listen on a free path must work: %s", what, res.Err) {
		assert.Empty(t, res.Serves, "%s: the listener accepts a connection", what)
		assert.Empty(t, res.CloseErr, "%s: Close", what)
	}
}

// sbxHold starts a child (as cred, if not nil) that binds a socket of typ
// ("stream" or "dgram") to path without listening, and returns it once
// bound.
func sbxHold(t *testing.T, cred *syscall.Credential, typ, path string) *childproc.Child {
	t.Helper()
	c := childproc.Start(t, childproc.Options{Credential: cred, Env: []string{sbxGORACE()}}, roleSbxHold, typ, path)
	c.WaitReady()
	return c
}

// ---- 1. no AF_NETLINK ----------------------------------------------------------

// TestSandboxNoNetlink runs Listen in children where socket(AF_NETLINK)
// fails with EPERM, so sock_diag, the way to tell a socket bound and not
// listening from a stale one, is out of reach. A refused probe is then no
// evidence that the file is stale: Listen must fail closed (ErrInUse or
// ErrUnverified) and leave the file.
func TestSandboxNoNetlink(t *testing.T) {
	sbxRequireFilter(t)

	t.Run("same user", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		p := func(name string) string { return filepath.Join(dir, name) }

		// (a) bound, not listening, held by this process.
		testutil.RawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p("bound.sock")}, false)
		bound := pinFile(t, p("bound.sock"))
		// (b) a bound datagram socket.
		testutil.RawSocket(t, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: p("dgram.sock")}, false)
		dgram := pinFile(t, p("dgram.sock"))
		// (c) a listener.
		testutil.RawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p("listen.sock")}, true)
		listening := pinFile(t, p("listen.sock"))
		// (d) a stale socket: its holder was killed with SIGKILL.
		makeStale(t, p("stale.sock"))
		stale := pinFile(t, p("stale.sock"))
		// (a') bound, not listening, held by another process.
		sbxHold(t, nil, "stream", p("child.sock"))
		byChild := pinFile(t, p("child.sock"))

		ops := []string{
			"stream:" + p("bound.sock"),
			"dgram:" + p("bound.sock"),
			"stream:" + p("child.sock"),
			"stream:" + p("dgram.sock"),
			"dgram:" + p("dgram.sock"),
			"stream:" + p("listen.sock"),
			"stream:" + p("stale.sock"),
			"stream:" + p("fresh.sock"),
		}
		res := sbxNoNetlink(t, childproc.Options{}, ops...)

		t.Run("a bound not listening", func(t *testing.T) {
			sbxAssertFailedClosed(t, res[ops[0]], "stream Listen on a bound stream socket of this process")
			sbxAssertFailedClosed(t, res[ops[1]], "datagram Listen on a bound stream socket of this process")
			assertSameFile(t, bound)
			sbxAssertFailedClosed(t, res[ops[2]], "stream Listen on a bound stream socket of another child")
			assertSameFile(t, byChild)
		})
		t.Run("b bound datagram", func(t *testing.T) {
			sbxAssertFailedClosed(t, res[ops[3]], "stream Listen on a bound datagram socket")
			sbxAssertFailedClosed(t, res[ops[4]], "datagram Listen on a bound datagram socket")
			assertSameFile(t, dgram)
		})
		t.Run("c listener", func(t *testing.T) {
			r := res[ops[5]]
			if assert.False(t, r.OK, "Listen must not take a live listener's path") {
				assert.True(t, r.InUse, "a listener accepts the probe: ErrInUse: %s", r.Err)
			}
			assertSameFile(t, listening)
		})
		t.Run("d stale", func(t *testing.T) {
			r := res[ops[6]]
			if r.OK {
				t.Logf("the stale socket was reclaimed")
				assert.Empty(t, r.Serves, "the listener that reclaimed the path accepts a connection")
				assert.Empty(t, r.CloseErr)
				assertNotExist(t, p("stale.sock"))
				return
			}
			t.Logf("the stale socket was left: %s", r.Err)
			assert.True(t, r.Unverified, "a stale socket that cannot be reclaimed is ErrUnverified: %s", r.Err)
			assertSameFile(t, stale)
		})
		t.Run("e fresh path", func(t *testing.T) {
			sbxAssertListened(t, res[ops[7]], "fresh path")
			assertNotExist(t, p("fresh.sock"))
			assertNotExist(t, p("fresh.sock.lock"))
		})
	})

	t.Run("uid 65534", func(t *testing.T) {
		testutil.RequireRoot(t)
		nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
		dir := testutil.MkSockDir(t)
		require.NoError(t, os.Chmod(dir, os.ModeSticky|0o777)) // like /tmp
		p := func(name string) string { return filepath.Join(dir, name) }

		// Held by another process of the same user: the child could
		// remove the file (it owns it), so only the probe protects it.
		sbxHold(t, nobody, "stream", p("nobody.sock"))
		byNobody := pinFile(t, p("nobody.sock"))
		// Held by root, mode 0755: the child may not connect to it (nor
		// remove it, the directory being sticky).
		testutil.RawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p("root.sock")}, false)
		require.NoError(t, os.Chmod(p("root.sock"), 0o755))
		byRoot := pinFile(t, p("root.sock"))

		// A directory only 65534 can write to, for comparison.
		own := testutil.MkSockDir(t)
		require.NoError(t, os.Chown(own, 65534, 65534))
		// A directory every user can write to, not sticky: another user
		// could put a file over the new socket, and without sock_diag
		// nothing can tell the two apart, so Listen refuses before bind.
		shared := testutil.MkSockDir(t)
		require.NoError(t, os.Chmod(shared, 0o777))

		ops := []string{
			"stream:" + p("nobody.sock"),
			"stream:" + p("root.sock"),
			"stream:" + p("fresh.sock"),
			"stream:" + filepath.Join(own, "fresh.sock"),
			"stream:" + filepath.Join(shared, "fresh.sock"),
		}
		res := sbxNoNetlink(t, childproc.Options{Credential: nobody}, ops...)

		t.Run("a bound by 65534", func(t *testing.T) {
			sbxAssertFailedClosed(t, res[ops[0]], "Listen on a socket of another process of the same user")
			assertSameFile(t, byNobody)
		})
		t.Run("a bound by root 0755", func(t *testing.T) {
			sbxAssertFailedClosed(t, res[ops[1]], "Listen on a root socket the child may not connect to")
			assertSameFile(t, byRoot)
		})
		t.Run("e fresh path", func(t *testing.T) {
			sbxAssertListened(t, res[ops[2]], "fresh path in a sticky directory")
			assertNotExist(t, p("fresh.sock"))
			assertNotExist(t, p("fresh.sock.lock"))
		})
		t.Run("e fresh path in own directory", func(t *testing.T) {
			sbxAssertListened(t, res[ops[3]], "fresh path in a directory of the child's own")
			assertNotExist(t, filepath.Join(own, "fresh.sock"))
			assertNotExist(t, filepath.Join(own, "fresh.sock.lock"))
		})
		t.Run("e fresh path in a shared non-sticky directory", func(t *testing.T) {
			r := res[ops[4]]
			assert.False(t, r.OK, "Listen must refuse where the bound file cannot be checked")
			assert.True(t, r.Unverified, "the refusal is ErrUnverified: %s", r.Err)
			assert.Contains(t, r.Err, "nothing was bound")
			assertNotExist(t, filepath.Join(shared, "fresh.sock"))
			assertNotExist(t, filepath.Join(shared, "fresh.sock.lock"))
		})
	})
}

// ---- 2. too few descriptors ------------------------------------------------------

// TestSandboxFewDescriptors runs Listen on the path of a socket this
// process holds bound and not listening, in children with only k
// descriptors free: each step of the check (the directory, the lock file,
// the probe socket, the sock_diag socket) may fail for want of one. Listen
// must never succeed, never remove the file, and never leak a descriptor.
func TestSandboxFewDescriptors(t *testing.T) {
	dir := testutil.MkSockDir(t)
	var summary []string
	for k := 0; k <= 8; k++ {
		t.Run("free="+strconv.Itoa(k), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("k%d.sock", k))
			testutil.RawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: path}, false)
			id := pinFile(t, path)

			var r sbxFDReport
			sbxRunChild(t, childproc.Options{}, &r, roleSbxFewFDs, path, strconv.Itoa(k))
			kind := "listened"
			switch {
			case r.OK:
			case r.InUse:
				kind = "ErrInUse"
			case r.Unverified:
				kind = "ErrUnverified"
			case r.EMFILE:
				kind = "EMFILE"
			default:
				kind = "other error"
			}
			summary = append(summary, fmt.Sprintf("k=%d: %s", k, kind))
			t.Logf("k=%d (limit %d, %d free): %s: %s", k, r.Limit, r.FreeBefore, kind, r.Err)

			require.Equal(t, k, r.FreeBefore, "the child must have exactly k descriptors free when Listen runs")
			if assert.False(t, r.OK, "Listen must not take the path of a bound socket (serves: %q)", r.Serves) {
				assert.True(t, r.InUse || r.Unverified || r.EMFILE, "the error must wrap ErrInUse, ErrUnverified or EMFILE: %s", r.Err)
				assert.Empty(t, r.Leaked, "descriptors left open by the failed Listen")
				assert.Empty(t, r.Closed, "descriptors closed by the failed Listen that it did not open")
			}
			assertSameFile(t, id)
		})
	}
	t.Logf("Listen with few free descriptors: %s", strings.Join(summary, ", "))
}

// ---- 3. Probe of a datagram socket -------------------------------------------------

// sbxSockIno returns the inode of the socket behind c (the number ss shows
// after the address).
func sbxSockIno(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var st unix.Stat_t
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }))
	require.NoError(t, serr)
	return st.Ino
}

// sbxSSLine returns the line of "ss -x<flags>H" of the socket with inode
// ino, fields joined by one space, or "" if there is none.
func sbxSSLine(t *testing.T, flags string, ino uint64) string {
	t.Helper()
	out, err := exec.Command(requireTool(t, "ss"), "-x"+flags+"H").Output()
	require.NoError(t, err, "ss -x%sH", flags)
	want := strconv.FormatUint(ino, 10)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// u_dgr UNCONN 0 0 /tmp/udsX/d.sock 12345 * 0
		if len(f) >= 6 && f[5] == want {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// TestProbeDatagramLeavesStateUnchanged probes live datagram sockets, of uds
// and of package net, at a path and at an abstract name. Probe promises to
// change nothing, yet a connect to a datagram socket turns it from UNCONN
// to ESTAB (and out of "ss -xl") for good.
func TestProbeDatagramLeavesStateUnchanged(t *testing.T) {
	requireTool(t, "ss")
	ctx := context.Background()
	dir := testutil.MkSockDir(t)
	type server struct {
		addr uds.Addr
		conn interface {
			syscall.Conn
			Close() error
		}
	}
	cases := map[string]func(t *testing.T) server{
		"uds path": func(t *testing.T) server {
			a := uds.Path(filepath.Join(dir, "uds.sock"))
			c, err := uds.ListenDatagram(ctx, a)
			require.NoError(t, err)
			return server{a, c}
		},
		"uds abstract": func(t *testing.T) server {
			a := uds.Abstract(testutil.UniqTag() + "-sbx-dgram")
			c, err := uds.ListenDatagram(ctx, a)
			require.NoError(t, err)
			return server{a, c}
		},
		"net path": func(t *testing.T) server {
			p := filepath.Join(dir, "net.sock")
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
			require.NoError(t, err)
			return server{uds.Path(p), c}
		},
		"net abstract": func(t *testing.T) server {
			name := testutil.UniqTag() + "-sbx-netdgram"
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@" + name, Net: "unixgram"})
			require.NoError(t, err)
			return server{uds.Abstract(name), c}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			t.Cleanup(func() { s.conn.Close() })
			ino := sbxSockIno(t, s.conn)
			before := sbxSSLine(t, "a", ino)
			require.NotEmpty(t, before, "ss -xa shows the server socket %d", ino)
			require.Contains(t, before, " UNCONN ", "an unconnected datagram socket")
			require.NotEmpty(t, sbxSSLine(t, "l", ino), "ss -xl lists the datagram server before the probe")

			a := s.addr.WithType(uds.Datagram)
			for i := 0; i < 3; i++ {
				r, err := diag.Probe(ctx, a)
				require.NoError(t, err)
				assert.Equal(t, diag.ProbeLive, r.State, "probe %d of %v: %+v", i, a, r)
			}
			assert.Equal(t, before, sbxSSLine(t, "a", ino), "the probe must leave the socket's state as it was")
			assert.NotEmpty(t, sbxSSLine(t, "l", ino), "ss -xl still lists the datagram server after the probe")
		})
	}
}
