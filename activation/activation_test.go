//go:build linux

package activation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/activation"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// roleActivated is a child that calls activation.Get and reports what it
// finds as "READY <json actReport>". args[0] is what to take: "report"
// (nothing), "stream", "seqpacket" or "datagram"; a later "unset" calls
// Get(true), "nowarm" leaves the netpoller uninitialized until Get
// runs. Taken sockets are served (each reply is "<name>:" and
// the message) until standard input ends; the child then closes them,
// prints "CLOSED <errors>" and exits 0.
const roleActivated = "activated"

func init() { childproc.Register(roleActivated, childActivated) }

// The childproc variables; the tests set them themselves, since
// systemd-socket-activate must pass them on with -E.
const (
	actEnvRole = "UDS_CHILD_ROLE"
	actEnvArgs = "UDS_CHILD_ARGS"
)

var actEnvVars = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"}

// actFirstFD and actNumFDs are the descriptors the child inspects.
const actFirstFD, actNumFDs = 3, 8

type actFD struct {
	Open, CloseOnExec bool
}

type actTaken struct {
	Name    string
	Addr    string // Addr().String() or LocalAddr().String()
	Kind    string
	Network string
	Err     string
	// WrongType are the errors of asking for the descriptor as the other
	// two types first; WrongNotExist whether any of them wrapped
	// os.ErrNotExist (it must not: the descriptor is there).
	WrongType     []string
	WrongNotExist bool
}

type actReport struct {
	PID           int
	Err           string
	NilSet        bool
	Names         []string
	SameAgain     bool // a second Get call returns the same values
	Before, After []actFD
	Env           map[string]string // value, or "<unset>"
	Taken         []actTaken
	Again         string // taking Names()[0] again
	AgainNotExist bool
	FileAgain     string // the same with File
	FileNotExist  bool
	PollErr       string // a new socket after Get, through the netpoller
}

func actFDs() []actFD {
	out := make([]actFD, actNumFDs)
	for i := range out {
		flags, err := unix.FcntlInt(uintptr(actFirstFD+i), unix.F_GETFD, 0)
		out[i] = actFD{Open: err == nil, CloseOnExec: err == nil && flags&unix.FD_CLOEXEC != 0}
	}
	return out
}

func childActivated(args []string) int {
	mode := args[0]
	unset := slices.Contains(args[1:], "unset")
	r := actReport{PID: os.Getpid(), Env: map[string]string{}}
	// Make the runtime open its own descriptors (the netpoller's) now, so
	// that the snapshot before Get is what Get finds; with "nowarm",
	// Get's first os.NewFile of a non-blocking socket opens
	// them.
	if !slices.Contains(args[1:], "nowarm") {
		if pr, pw, err := os.Pipe(); err == nil {
			pr.Close()
			pw.Close()
		}
	}
	r.Before = actFDs()
	a, err := activation.Get(unset)
	a2, err2 := activation.Get(!unset)
	// Let finalizers run, so that an *os.File dropped by Get (and
	// closing its descriptor when collected) shows in the snapshot.
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	r.After = actFDs()
	// The runtime must still work: a new socket goes through the
	// netpoller, and an idle moment makes the scheduler poll it.
	if c, err := uds.ListenDatagram(context.Background(), uds.Autobind()); err != nil {
		r.PollErr = err.Error()
	} else {
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	r.SameAgain = a == a2 && fmt.Sprint(err) == fmt.Sprint(err2)
	for _, v := range actEnvVars {
		val, ok := os.LookupEnv(v)
		if !ok {
			val = "<unset>"
		}
		r.Env[v] = val
	}
	if err != nil {
		r.Err = err.Error()
	}
	r.NilSet = a == nil
	if a == nil {
		return actPrintReport(r)
	}
	r.Names = a.Names()

	type served struct {
		name string
		c    io.Closer
	}
	var socks []served
	listener := func(name string) (io.Closer, net.Addr, error) {
		l, err := a.Listener(name)
		if err != nil {
			return nil, nil, err
		}
		return l, l.Addr(), nil
	}
	// Listener takes stream and seqpacket listeners alike; the address's
	// type tells which (actAssertAddr checks it).
	take := map[string]func(name string) (io.Closer, net.Addr, error){
		"stream":    listener,
		"seqpacket": listener,
		"datagram": func(name string) (io.Closer, net.Addr, error) {
			c, err := a.DatagramConn(name)
			if err != nil {
				return nil, nil, err
			}
			return c, c.LocalAddr(), nil
		},
	}
	if take[mode] != nil {
		for _, name := range r.Names {
			tk := actTaken{Name: name}
			others := []string{"datagram"}
			if mode == "datagram" {
				others = []string{"stream"}
			}
			for _, other := range others {
				c, _, err := take[other](name)
				if err == nil {
					c.Close()
					tk.WrongType = append(tk.WrongType, "<no error as "+other+">")
					continue
				}
				tk.WrongType = append(tk.WrongType, err.Error())
				tk.WrongNotExist = tk.WrongNotExist || errors.Is(err, os.ErrNotExist)
			}
			c, addr, err := take[mode](name)
			if err != nil {
				tk.Err = err.Error()
			} else {
				tk.Addr, tk.Network = addr.String(), addr.Network()
				if ua, ok := addr.(uds.Addr); ok {
					tk.Kind = ua.Kind().String()
				}
				socks = append(socks, served{name, c})
			}
			r.Taken = append(r.Taken, tk)
		}
		if len(r.Names) > 0 {
			_, _, err := take[mode](r.Names[0])
			if err != nil {
				r.Again = err.Error()
				r.AgainNotExist = errors.Is(err, os.ErrNotExist)
			}
			f, err := a.File(r.Names[0])
			if err != nil {
				r.FileAgain = err.Error()
				r.FileNotExist = errors.Is(err, os.ErrNotExist)
			} else {
				f.Close()
			}
		}
	}
	if code := actPrintReport(r); code != 0 || take[mode] == nil {
		return code
	}

	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actServe(mode, s.name, s.c)
		}()
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes our stdin
	var errs []string
	for _, s := range socks {
		if err := s.c.Close(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	wg.Wait()
	fmt.Println("CLOSED", strings.Join(errs, "; "))
	return 0
}

func actPrintReport(r actReport) int {
	b, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "json:", err)
		return 1
	}
	fmt.Println(childproc.Ready, string(b))
	return 0
}

// actServe answers every message on the socket c, taken as mode, with
// "<name>:<message>" (a line for a line on stream sockets), until c is
// closed.
func actServe(mode, name string, c io.Closer) {
	switch mode {
	case "stream":
		ln := c.(net.Listener)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(conn, name+":"+line); err != nil {
						return
					}
				}
			}()
		}
	case "seqpacket":
		ln := c.(net.Listener)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 512)
				for {
					n, err := conn.Read(buf)
					if err != nil || n == 0 {
						return
					}
					if _, err := conn.Write(append([]byte(name+":"), buf[:n]...)); err != nil {
						return
					}
				}
			}()
		}
	case "datagram":
		pc := c.(net.PacketConn)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			_, _ = pc.WriteTo(append([]byte(name+":"), buf[:n]...), from)
		}
	}
}

// ---- test side -------------------------------------------------------------

// actProc is a running activation child (possibly still
// systemd-socket-activate, before it execs the test binary).
type actProc struct {
	*testutil.Foreign
}

// startActProc runs argv with exactly env and extra files, in its own
// process group, killed at the end of the test.
func startActProc(t *testing.T, argv, env []string, extra ...*os.File) *actProc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.ExtraFiles = extra
	return &actProc{testutil.StartForeign(t, cmd)}
}

// report reads the child's READY line.
func (p *actProc) report(t *testing.T) actReport {
	t.Helper()
	line := strings.TrimSuffix(p.ReadLine(t, 30*time.Second), "\n")
	js, ok := strings.CutPrefix(line, childproc.Ready+" ")
	require.True(t, ok, "child said %q, not READY", line)
	var r actReport
	require.NoError(t, json.Unmarshal([]byte(js), &r), "report %q", js)
	return r
}

// finish closes the child's standard input, which makes it close its
// sockets and exit, and checks that it did so cleanly.
func (p *actProc) finish(t *testing.T) {
	t.Helper()
	require.NoError(t, p.Stdin.Close())
	line := p.ReadLine(t, 10*time.Second)
	assert.Equal(t, "CLOSED \n", line, "closing the activated sockets")
	select {
	case <-p.Exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not exit after its input ended")
	}
	assert.Equal(t, 0, p.Cmd.ProcessState.ExitCode(), "child exit (stderr: %s)", p.Stderr.String())
}

// actChildEnv is this process's environment without the activation
// variables, plus the childproc variables for roleActivated with args, plus
// extra.
func actChildEnv(args []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "LISTEN_") || name == actEnvRole || name == actEnvArgs || name == "GORACE" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, actRoleVars(args)...), extra...)
}

func actRoleVars(args []string) []string {
	enc, _ := json.Marshal(args)
	return []string{
		actEnvRole + "=" + roleActivated, actEnvArgs + "=" + string(enc),
		"GORACE=atexit_sleep_ms=0", // -race children otherwise sleep 1s at exit
	}
}

func actTestBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return exe
}

// startSocketActivate runs systemd-socket-activate with opts (its -l,
// --seqpacket, --datagram and --fdname options) on the activated role with
// args. systemd-socket-activate passes the command only TERM, PATH, USER,
// HOME and what -E names, so the role goes through -E.
func startSocketActivate(t *testing.T, opts []string, args ...string) *actProc {
	t.Helper()
	sa := requireTool(t, "systemd-socket-activate")
	argv := append([]string{sa}, opts...)
	for _, kv := range actRoleVars(args) {
		argv = append(argv, "-E", kv)
	}
	argv = append(argv, actTestBinary(t), "-test.run=^$")
	return startActProc(t, argv, actChildEnv(nil))
}

// actWrapper runs the test binary through sh so that LISTEN_PID, set by
// the shell to its own PID, is the test binary's PID after exec.
func actWrapper(t *testing.T) []string {
	t.Helper()
	sh := requireTool(t, "sh")
	return []string{sh, "-c", `LISTEN_PID=$$ exec "$0" "$@"`, actTestBinary(t), "-test.run=^$"}
}

// actCheckCommon checks what every successful activation must show.
func actCheckCommon(t *testing.T, r actReport, p *actProc, names []string, unset bool) {
	t.Helper()
	assert.Equal(t, p.Cmd.Process.Pid, r.PID, "systemd-socket-activate execs the command in its own process")
	assert.Empty(t, r.Err)
	assert.False(t, r.NilSet)
	assert.Equal(t, names, r.Names)
	assert.True(t, r.SameAgain, "Get reads the environment once and caches the result")
	assert.Empty(t, r.PollErr)
	for i := range names {
		assert.True(t, r.Before[i].Open, "fd %d passed in", actFirstFD+i)
		assert.False(t, r.Before[i].CloseOnExec, "systemd-socket-activate passes fd %d without FD_CLOEXEC", actFirstFD+i)
		assert.True(t, r.After[i].CloseOnExec, "fd %d is close-on-exec once Get has run", actFirstFD+i)
	}
	if unset {
		for _, v := range actEnvVars {
			assert.Equal(t, "<unset>", r.Env[v], "Get(true) removes %s", v)
		}
	} else {
		assert.Equal(t, strconv.Itoa(r.PID), r.Env["LISTEN_PID"])
		assert.Equal(t, strconv.Itoa(len(names)), r.Env["LISTEN_FDS"])
	}
	require.Len(t, r.Taken, len(names))
	for _, tk := range r.Taken {
		assert.Empty(t, tk.Err, "taking %q", tk.Name)
		assert.Len(t, tk.WrongType, 1, "%q asked as the other kind (listener or datagram socket)", tk.Name)
		for _, e := range tk.WrongType {
			assert.Contains(t, e, strconv.Quote(tk.Name), "the error names the descriptor asked for")
			assert.Contains(t, e, "not a", "the error says what the descriptor is not")
		}
		assert.False(t, tk.WrongNotExist, "a descriptor of another type is there, not missing: %q", tk.WrongType)
	}
	assert.True(t, r.AgainNotExist, "a second take of %q: %s", names[0], r.Again)
	assert.True(t, r.FileNotExist, "File after the take of %q: %s", names[0], r.FileAgain)
}

// actAssertAddr checks a reported address: its text is want's, and it
// parses back to want.
func actAssertAddr(t *testing.T, want uds.Addr, tk actTaken) {
	t.Helper()
	assert.Equal(t, want.String(), tk.Addr, "the exact address of %q", tk.Name)
	assert.Equal(t, want.Kind().String(), tk.Kind)
	assert.Equal(t, want.Network(), tk.Network, "the address's socket type")
	got, err := uds.ParseAddr(tk.Addr)
	if assert.NoError(t, err) {
		assert.Equal(t, want, got.WithType(want.Type()))
	}
}

func assertSocketFile(t *testing.T, path string, why string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if assert.NoError(t, err, why) {
		assert.Equal(t, os.ModeSocket, fi.Mode().Type(), why)
	}
}

// actStreamExchange sends a line on c and expects "<name>:" and the line
// back.
func actStreamExchange(t *testing.T, c net.Conn, name, line string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, line+"\n")
	require.NoError(t, err)
	got, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, name+":"+line+"\n", got)
}

func TestSocketActivateStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fdname []string
		names  []string
		unset  bool
	}{
		{"fdnames", []string{"--fdname=a:b"}, []string{"a", "b"}, false},
		{"no fdnames", nil, []string{"unknown", "unknown"}, false},
		{"unset env", []string{"--fdname=a:b"}, []string{"a", "b"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mkSockDir(t)
			path := filepath.Join(dir, "act.sock")
			abstract := uniqTag() + "-act"
			opts := append([]string{"-l", path, "-l", "@" + abstract}, tc.fdname...)
			args := []string{"stream"}
			if tc.unset {
				args = append(args, "unset")
			}
			p := startSocketActivate(t, opts, args...)

			// systemd-socket-activate execs its command on the first
			// connection attempt; this connection waits in the backlog.
			d := uds.Dialer{WaitForListener: true, Timeout: 15 * time.Second}
			c1, err := d.Dial(context.Background(), uds.Path(path))
			require.NoError(t, err, "systemd-socket-activate listens on %s (stderr: %s)", path, p.Stderr.String())
			defer c1.Close()

			r := p.report(t)
			actCheckCommon(t, r, p, tc.names, tc.unset)
			if !tc.unset && tc.fdname != nil {
				assert.Equal(t, "a:b", r.Env["LISTEN_FDNAMES"])
			}
			if tc.fdname == nil && !tc.unset {
				assert.Equal(t, "<unset>", r.Env["LISTEN_FDNAMES"], "no --fdname, no LISTEN_FDNAMES")
			}
			actAssertAddr(t, uds.Path(path).WithType(uds.Stream), r.Taken[0])
			actAssertAddr(t, uds.Abstract(abstract).WithType(uds.Stream), r.Taken[1])

			// The queued connection is served by the listener taken as
			// names[0], and a new one on the abstract name by names[1].
			actStreamExchange(t, c1, tc.names[0], "ping path")
			pid, err := peerPID(c1)
			require.NoError(t, err)
			assert.Equal(t, r.PID, pid, "the activated child serves")
			c2, err := d.Dial(context.Background(), uds.Abstract(abstract))
			require.NoError(t, err)
			defer c2.Close()
			actStreamExchange(t, c2, tc.names[1], "ping abstract")

			p.finish(t)
			assertSocketFile(t, path, "the activated child never unlinks the path it inherited")
			assert.Equal(t, []string{"act.sock"}, testutil.DirNames(t, dir), "no lock file either")
		})
	}
}

func TestSocketActivateSeqPacket(t *testing.T) {
	dir := mkSockDir(t)
	path := filepath.Join(dir, "sp.sock")
	abstract := uniqTag() + "-actsp"
	p := startSocketActivate(t, []string{"--seqpacket", "-l", path, "-l", "@" + abstract, "--fdname=ctl:data"}, "seqpacket")

	d := uds.Dialer{WaitForListener: true, Timeout: 15 * time.Second}
	c1, err := dialSeqPacket(&d, uds.Path(path))
	require.NoError(t, err, "stderr: %s", p.Stderr.String())
	defer c1.Close()

	r := p.report(t)
	actCheckCommon(t, r, p, []string{"ctl", "data"}, false)
	for _, tk := range r.Taken {
		if assert.Len(t, tk.WrongType, 1) {
			assert.Contains(t, tk.WrongType[0], "is a seqpacket socket, not a datagram socket", "asked as a datagram socket")
		}
	}
	actAssertAddr(t, uds.Path(path).WithType(uds.SeqPacket), r.Taken[0])
	actAssertAddr(t, uds.Abstract(abstract).WithType(uds.SeqPacket), r.Taken[1])

	c2, err := dialSeqPacket(&d, uds.Abstract(abstract))
	require.NoError(t, err)
	defer c2.Close()
	for _, tc := range []struct {
		c    net.Conn
		name string
	}{{c1, "ctl"}, {c2, "data"}} {
		_, err := tc.c.Write([]byte("one message"))
		require.NoError(t, err)
		expectMessage(t, tc.c, 512, []byte(tc.name+":one message"))
	}

	p.finish(t)
	assertSocketFile(t, path, "the activated child never unlinks the path it inherited")
}

func TestSocketActivateDatagram(t *testing.T) {
	dir := mkSockDir(t)
	path := filepath.Join(dir, "dg.sock")
	abstract := uniqTag() + "-actdg"
	p := startSocketActivate(t, []string{"--datagram", "-l", path, "-l", "@" + abstract, "--fdname=log:metrics"}, "datagram")

	client := listenDatagram(t, uds.Autobind())
	// The first datagram wakes systemd-socket-activate; it waits in the
	// socket's queue for the child.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := client.WriteTo([]byte("first"), uds.Path(path))
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
			t.Fatalf("sending to %s: %v (stderr: %s)", path, err, p.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	r := p.report(t)
	actCheckCommon(t, r, p, []string{"log", "metrics"}, false)
	for _, tk := range r.Taken {
		if assert.Len(t, tk.WrongType, 1) {
			assert.Contains(t, tk.WrongType[0], "is a datagram socket, not a stream or seqpacket socket")
		}
	}
	actAssertAddr(t, uds.Path(path).WithType(uds.Datagram), r.Taken[0])
	actAssertAddr(t, uds.Abstract(abstract).WithType(uds.Datagram), r.Taken[1])

	buf := make([]byte, 512)
	readDeadline(t, client)
	n, from, err := client.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "log:first", string(buf[:n]), "the datagram that woke the activator is served")
	assert.Equal(t, uds.Path(path).WithType(uds.Datagram), from)

	_, err = client.WriteTo([]byte("second"), uds.Abstract(abstract))
	require.NoError(t, err)
	readDeadline(t, client)
	n, from, err = client.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "metrics:second", string(buf[:n]))
	assert.Equal(t, uds.Abstract(abstract).WithType(uds.Datagram), from)

	p.finish(t)
	assertSocketFile(t, path, "the activated child never unlinks the path it inherited")
}

// actListenerFile returns a listening stream socket's descriptor for
// ExtraFiles.
func actListenerFile(t *testing.T) *os.File {
	t.Helper()
	ln, err := uds.Listen(context.Background(), uds.Abstract(uniqTag()+"-actenv"))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File()
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestOtherPID(t *testing.T) {
	f := actListenerFile(t)
	// PID 1 is never the test binary.
	argv := []string{actTestBinary(t), "-test.run=^$"}
	p := startActProc(t, argv, actChildEnv([]string{"stream"}, "LISTEN_PID=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=x"), f)
	r := p.report(t)
	assert.Empty(t, r.Err, "sockets meant for another process are no error")
	assert.False(t, r.NilSet)
	assert.Empty(t, r.Names, "nothing is ours")
	assert.Empty(t, r.Taken)
	assert.True(t, r.SameAgain)
	assert.True(t, r.Before[0].Open)
	assert.Equal(t, r.Before[0], r.After[0], "a descriptor meant for another process is left alone")
	assert.Equal(t, "1", r.Env["LISTEN_PID"], "Get(false) leaves the environment")
	p.finish(t)
}

func TestMalformed(t *testing.T) {
	for _, fds := range []string{"abc", "-1", "1x", " 1", ""} {
		t.Run(strconv.Quote(fds), func(t *testing.T) {
			f := actListenerFile(t)
			p := startActProc(t, actWrapper(t), actChildEnv([]string{"stream"}, "LISTEN_FDS="+fds), f)
			r := p.report(t)
			assert.Equal(t, strconv.Itoa(p.Cmd.Process.Pid), r.Env["LISTEN_PID"], "the wrapper's LISTEN_PID is the child's")
			assert.Contains(t, r.Err, "LISTEN_FDS="+strconv.Quote(fds))
			assert.False(t, r.NilSet)
			assert.Empty(t, r.Names)
			assert.True(t, r.SameAgain, "the error is cached too")
			p.finish(t)
		})
	}
}

func TestClosedDescriptor(t *testing.T) {
	f := actListenerFile(t)
	// fd 3 is open, the next ones were closed at exec; the Go runtime
	// opens some of its own (cgroup CPU limit files, the netpoller), so
	// the child reports which are open.
	p := startActProc(t, actWrapper(t), actChildEnv([]string{"stream"}, "LISTEN_FDS="+strconv.Itoa(actNumFDs)), f)
	r := p.report(t)
	first := -1
	for i, fd := range r.Before {
		if !fd.Open {
			first = actFirstFD + i
			break
		}
	}
	require.NotEqual(t, -1, first, "one of descriptors 3..%d must be closed: %+v", actFirstFD+actNumFDs-1, r.Before)
	assert.Contains(t, r.Err, fmt.Sprintf("LISTEN_FDS=%d but descriptor %d", actNumFDs, first), "the error names the closed descriptor")
	assert.Contains(t, r.Err, "not open")
	assert.False(t, r.NilSet)
	assert.Empty(t, r.Names)
	assert.True(t, r.SameAgain, "the error is cached")
	p.finish(t)
}

// TestErrorClosesNothing: when LISTEN_FDS counts past the
// descriptors really passed, the ones before the first closed descriptor
// may belong to anyone, the Go runtime included (its cgroup CPU limit
// files, the netpoller's epoll descriptor). A failing Get must leave
// them open, as sd_listen_fds does.
func TestErrorClosesNothing(t *testing.T) {
	t.Run("descriptors stay open", func(t *testing.T) {
		f := actListenerFile(t)
		p := startActProc(t, actWrapper(t), actChildEnv([]string{"stream"}, "LISTEN_FDS="+strconv.Itoa(actNumFDs)), f)
		r := p.report(t)
		require.NotEmpty(t, r.Err)
		for i := range r.Before {
			assert.Equal(t, r.Before[i].Open, r.After[i].Open, "fd %d: open before the failing Get, open after (%s)", actFirstFD+i, r.Err)
		}
		p.finish(t)
	})
	t.Run("runtime survives", func(t *testing.T) {
		// The netpoller is started by Get itself (os.NewFile of the
		// non-blocking fd 3), so its descriptors fall inside the range.
		f := actListenerFile(t)
		p := startActProc(t, actWrapper(t), actChildEnv([]string{"stream", "nowarm"}, "LISTEN_FDS=20"), f)
		r := p.report(t)
		require.NotEmpty(t, r.Err)
		assert.Empty(t, r.PollErr, "sockets still work after the failing Get")
		p.finish(t)
		assert.NotContains(t, p.Stderr.String(), "netpoll failed")
	})
}

// TestWrapperTakes checks the env-only path end to end: a listener
// passed by a plain exec with LISTEN_PID set by the shell is taken and
// served.
func TestWrapperTakes(t *testing.T) {
	dir := mkSockDir(t)
	path := filepath.Join(dir, "w.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(path))
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	require.NoError(t, err)
	defer f.Close()

	p := startActProc(t, actWrapper(t), actChildEnv([]string{"stream", "unset"}, "LISTEN_FDS=1", "LISTEN_FDNAMES=web"), f)
	r := p.report(t)
	require.Empty(t, r.Err)
	assert.Equal(t, []string{"web"}, r.Names)
	require.Len(t, r.Taken, 1)
	actAssertAddr(t, uds.Path(path).WithType(uds.Stream), r.Taken[0])
	assert.True(t, r.After[0].CloseOnExec)
	for _, v := range actEnvVars {
		assert.Equal(t, "<unset>", r.Env[v])
	}
	// Our listener stops accepting; the child's is the same socket.
	require.NoError(t, ln.Close())
	f.Close()
	assertSocketFile(t, path, "KeepPath left it for the child")
	c, err := uds.Dial(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer c.Close()
	actStreamExchange(t, c, "web", "hello")
	p.finish(t)
	assertSocketFile(t, path, "the child never unlinks the path it inherited")
}

// peerPID returns the PID of c's peer (SO_PEERCRED).
func peerPID(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var pid int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if serr == nil {
			pid = int(cred.Pid)
		}
	}); err != nil {
		return 0, err
	}
	return pid, serr
}

// TestAbsurdCount: a LISTEN_FDS far beyond any descriptor table
// (with a few names, so that the names do not match the count) must be an
// error that names LISTEN_FDS, never a panic or an allocation of the count:
// Get is called at startup, where a crash takes the service down.
func TestAbsurdCount(t *testing.T) {
	for _, fds := range []string{"2147483647", "9223372036854775807", "99999999999999999999", "1000000"} {
		t.Run(fds, func(t *testing.T) {
			f := actListenerFile(t)
			p := startActProc(t, actWrapper(t), actChildEnv([]string{"report"}, "LISTEN_FDS="+fds, "LISTEN_FDNAMES=a:b:c"), f)
			select {
			case <-p.Exited:
			case <-time.After(15 * time.Second):
				t.Fatalf("the child did not exit within 15s; stderr:\n%s", p.Stderr.String())
			}
			stderr := p.Stderr.String()
			if len(stderr) > 800 {
				stderr = stderr[:800] + "\n..." // the first lines say what crashed
			}
			assert.Equal(t, 0, p.Cmd.ProcessState.ExitCode(), "the child must exit normally (%v)", p.Cmd.ProcessState)
			assert.False(t, strings.Contains(stderr, "panic") || strings.Contains(stderr, "fatal error"),
				"Get must neither panic nor crash the runtime; stderr:\n%s", stderr)

			line, _ := p.Stdout.ReadString('\n')
			js, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), childproc.Ready+" ")
			require.True(t, ok, "the child printed %q, not its report; stderr:\n%s", line, stderr)
			var r actReport
			require.NoError(t, json.Unmarshal([]byte(js), &r), "report %q", js)
			assert.Equal(t, strconv.Itoa(p.Cmd.Process.Pid), r.Env["LISTEN_PID"], "the wrapper's LISTEN_PID is the child's")
			assert.NotEmpty(t, r.Err, "LISTEN_FDS=%s must be an error", fds)
			assert.Contains(t, r.Err, "LISTEN_FDS", "the error names the variable")
			assert.False(t, r.NilSet)
			assert.Empty(t, r.Names, "no socket is taken")
			assert.True(t, r.SameAgain, "the error is cached")
			assert.Equal(t, r.Before, r.After, "a failing Get leaves every descriptor as it was")
		})
	}
}

// TestNames: LISTEN_FDNAMES follows sd_listen_fds_with_names. Set,
// it is split at every ':' with empty fields kept, and its count must be
// LISTEN_FDS's; unset, every descriptor is "unknown".
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fds   int
		env   []string // LISTEN_FDNAMES=..., or none
		names []string // nil: an error naming both counts
		count int      // the names LISTEN_FDNAMES holds, for the error
	}{
		{"unset", 2, nil, []string{"unknown", "unknown"}, 0},
		{"exact", 2, []string{"LISTEN_FDNAMES=api:admin"}, []string{"api", "admin"}, 0},
		{"empty in the middle", 3, []string{"LISTEN_FDNAMES=a::b"}, []string{"a", "", "b"}, 0},
		{"empty at the end", 2, []string{"LISTEN_FDNAMES=a:"}, []string{"a", ""}, 0},
		{"empty value is one empty name", 1, []string{"LISTEN_FDNAMES="}, []string{""}, 0},
		{"fewer names", 2, []string{"LISTEN_FDNAMES=api"}, nil, 1},
		{"more names", 1, []string{"LISTEN_FDNAMES=api:admin"}, nil, 2},
		{"empty value, two descriptors", 2, []string{"LISTEN_FDNAMES="}, nil, 1},
		{"empty fields counted", 2, []string{"LISTEN_FDNAMES=a::b"}, nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []*os.File
			for range tc.fds {
				files = append(files, actListenerFile(t))
			}
			env := append([]string{"LISTEN_FDS=" + strconv.Itoa(tc.fds)}, tc.env...)
			p := startActProc(t, actWrapper(t), actChildEnv([]string{"report"}, env...), files...)
			r := p.report(t)
			require.Equal(t, strconv.Itoa(p.Cmd.Process.Pid), r.Env["LISTEN_PID"], "the wrapper's LISTEN_PID is the child's")
			assert.True(t, r.SameAgain, "the result is cached")
			if tc.names != nil {
				assert.Empty(t, r.Err)
				assert.Equal(t, tc.names, r.Names)
				for i := range tc.fds {
					assert.True(t, r.After[i].CloseOnExec, "fd %d is taken", actFirstFD+i)
				}
				return
			}
			assert.Contains(t, r.Err, fmt.Sprintf("has %d names but LISTEN_FDS=%d", tc.count, tc.fds), "the error gives both counts")
			assert.Contains(t, r.Err, tc.env[0][len("LISTEN_FDNAMES="):], "the error quotes the names")
			assert.False(t, r.NilSet)
			assert.Empty(t, r.Names, "no socket is handed out under a guessed name")
			assert.Equal(t, r.Before, r.After, "a failing Get leaves every descriptor as it was")
		})
	}
}

// TestNotActivated: in a process started without the variables (this
// test binary), Get returns an empty Set and no error, and taking anything
// fails with os.ErrNotExist, the error saying what was asked for and that
// nothing was passed.
func TestNotActivated(t *testing.T) {
	for _, v := range actEnvVars {
		if _, ok := os.LookupEnv(v); ok {
			t.Skipf("%s is set in the test's environment", v)
		}
	}
	set, err := activation.Get(false)
	require.NoError(t, err)
	require.NotNil(t, set)
	assert.Empty(t, set.Names())
	set2, err := activation.Get(true)
	require.NoError(t, err)
	assert.Same(t, set, set2, "the Set is cached")

	take := map[string]func(name string) (io.Closer, error){
		"Unix stream or seqpacket listener": func(n string) (io.Closer, error) { return set.Listener(n) },
		"Unix datagram socket":              func(n string) (io.Closer, error) { return set.DatagramConn(n) },
		"descriptor":                        func(n string) (io.Closer, error) { return set.File(n) },
	}
	for what, fn := range take {
		for _, name := range []string{"api", ""} {
			c, err := fn(name)
			require.ErrorIs(t, err, os.ErrNotExist, "%s %q", what, name)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), "no "+what)
			assert.Contains(t, err.Error(), "(passed: none)")
			if name != "" || what == "descriptor" {
				assert.Contains(t, err.Error(), strconv.Quote(name))
			}
		}
	}
}
