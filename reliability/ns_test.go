//go:build linux

package reliability_test

// Reliability area 7: namespaces and chroot, the abstract namespace's real
// use. A client re-executed inside a chroot reaches an abstract server
// outside it and cannot see a pathname socket outside it. A child in a new
// network namespace (CLONE_NEWNET, and `unshare -n`) cannot reach an
// abstract socket of the parent's (ECONNREFUSED) but can reach a pathname
// socket, and can bind the same abstract name without the parent seeing it.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
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

// The namespace client: args are operations, each "dial <addr>" (stream:
// echo, report the server's PID), "dialgram <addr>" (datagram: send, wait
// for the echo), "probe <addr>", or "bind <addr>" (bind a stream listener
// and report that it is bound). It prints one JSON line per operation.
const roleRelNSClient = "rel-ns-client"

func init() { childproc.Register(roleRelNSClient, childRelNSClient) }

type relNSResult struct {
	Op, Addr string
	OK       bool
	PID      int    // the server's PID (SO_PEERCRED) for dial
	State    string // probe
	Errno    string // the system error, if any
	Err      string
}

func childRelNSClient(args []string) int {
	ctx := context.Background()
	for _, a := range args {
		op, text, _ := strings.Cut(a, " ")
		r := relNSResult{Op: op, Addr: text}
		addr, err := uds.ParseAddr(text)
		if err == nil {
			switch op {
			case "dial":
				r.PID, err = relEcho(ctx, addr)
			case "dialgram":
				err = relEchoGram(ctx, addr)
			case "probe":
				var pr diag.ProbeResult
				pr, err = diag.Probe(ctx, addr)
				r.State = pr.State.String()
			case "bind":
				var ln *uds.Listener
				ln, err = uds.Listen(ctx, addr)
				if err == nil {
					ln.Close()
				}
			}
		}
		r.OK = err == nil
		if err != nil {
			r.Err = err.Error()
			var errno syscall.Errno
			if errors.As(err, &errno) {
				r.Errno = unix.ErrnoName(errno)
			}
		}
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	return 0
}

func relEcho(ctx context.Context, a uds.Addr) (int, error) {
	c, err := uds.Dial(ctx, a)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cred, err := uds.PeerCred(c)
	if err != nil {
		return 0, err
	}
	defer cred.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return 0, err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	if string(buf) != "ping\n" {
		return 0, fmt.Errorf("echo: %q", buf)
	}
	return cred.PID, nil
}

func relEchoGram(ctx context.Context, a uds.Addr) error {
	c, err := uds.DialDatagram(ctx, a)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 8)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "ping" {
		return fmt.Errorf("echo: %q", buf[:n])
	}
	return nil
}

// relServeGram echoes datagrams back to their senders until c is closed.
func relServeGram(t *testing.T, c *uds.DatagramConn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m := uds.Message{Buf: make([]byte, 64)}
		for {
			m.Buf = m.Buf[:cap(m.Buf)]
			if err := uds.ReadMsg(c, &m); err != nil {
				return
			}
			m.Buf = m.Buf[:m.N]
			_ = uds.WriteMsg(c, &m)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

// relRunNS runs the namespace client with cmd's settings and returns its
// results by operation index.
func relRunNS(t *testing.T, cmd *exec.Cmd, ops ...string) []relNSResult {
	t.Helper()
	enc, _ := json.Marshal(ops)
	cmd.Env = append(os.Environ(), "UDS_CHILD_ROLE="+roleRelNSClient, "UDS_CHILD_ARGS="+string(enc), relGorace())
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var res []relNSResult
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r relNSResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Op != "" {
			res = append(res, r)
		}
	}
	require.NoError(t, cmd.Wait(), "namespace client: stderr: %s", stderr.String())
	require.Len(t, res, len(ops), "results; stderr: %s", stderr.String())
	return res
}

// relGorace is the environment entry that spares a -race child the race
// runtime's one-second sleep at exit.
func relGorace() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

var relLddRe = regexp.MustCompile(`(/\S+)`)

// relChroot makes a directory that can run this test binary as its root:
// the binary and the libraries it is linked with (go test -race links
// libc). It returns the directory and the binary's path inside it.
func relChroot(t *testing.T) (root, exe string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	root, err = os.MkdirTemp("", "uds-chroot-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	copyFile := func(src, dst string) {
		t.Helper()
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, data, 0o755))
	}
	copyFile(self, filepath.Join(root, "uds.test"))
	if out, err := exec.Command(requireTool(t, "ldd"), self).CombinedOutput(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			for _, m := range relLddRe.FindAllString(line, -1) {
				if real, err := filepath.EvalSymlinks(m); err == nil {
					copyFile(real, filepath.Join(root, m))
				}
			}
		}
	} else if !strings.Contains(string(out), "not a dynamic executable") {
		t.Skipf("ldd %s: %v: %s", self, err, out)
	}
	return root, "/uds.test"
}

// TestReliabilityChroot: a client chrooted into a directory holding only
// the test binary reaches an abstract server of the parent (stream and
// datagram) and a pathname socket inside its root, but a pathname socket
// outside its root is missing to it (ENOENT, Probe "missing").
func TestReliabilityChroot(t *testing.T) {
	testutil.RequireRoot(t)
	runs := relSize(2, 50)
	ctx := context.Background()
	root, exe := relChroot(t)

	abs := uds.Abstract("rel-chroot-" + testutil.UniqTag())
	ln, err := uds.Listen(ctx, abs)
	require.NoError(t, err)
	serveEcho(t, ln)
	gram, err := uds.ListenDatagram(ctx, abs)
	require.NoError(t, err)
	relServeGram(t, gram)
	outside := filepath.Join(testutil.MkSockDir(t), "out.sock")
	lnOut, err := uds.Listen(ctx, uds.Path(outside))
	require.NoError(t, err)
	serveEcho(t, lnOut)
	lnIn, err := uds.Listen(ctx, uds.Path(filepath.Join(root, "in.sock")))
	require.NoError(t, err)
	serveEcho(t, lnIn)

	var reached, refused, missing int
	start := time.Now()
	for run := 0; run < runs; run++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		res := relRunNS(t, cmd,
			"dial "+abs.String(), "dialgram "+abs.String(), "dial /in.sock",
			"dial "+outside, "probe "+outside)
		if assert.True(t, res[0].OK, "the abstract stream server is reachable from the chroot: %+v", res[0]) {
			assert.Equal(t, os.Getpid(), res[0].PID, "and it is this process")
			reached++
		}
		if assert.True(t, res[1].OK, "the abstract datagram server is reachable from the chroot: %+v", res[1]) {
			reached++
		}
		if assert.True(t, res[2].OK, "a pathname socket inside the root is reachable: %+v", res[2]) {
			assert.Equal(t, os.Getpid(), res[2].PID)
		}
		if assert.False(t, res[3].OK, "a pathname socket outside the root must not be reachable: %+v", res[3]) {
			assert.Equal(t, "ENOENT", res[3].Errno, "%+v", res[3])
			refused++
		}
		if assert.Equal(t, "missing", res[4].State, "Probe from the chroot: %+v", res[4]) {
			missing++
		}
	}
	relReport(t, "namespaces", "chroot: %d re-executed clients: %d abstract dials (stream and datagram) reached the server outside, %d dials of the pathname socket outside failed with ENOENT, %d probes said missing; %v",
		runs, reached, refused, missing, time.Since(start).Round(time.Millisecond))
}

// TestReliabilityNetns: a child in a new network namespace, started with
// CLONE_NEWNET and with `unshare -n`, cannot reach the parent's abstract
// socket (ECONNREFUSED; Probe "missing"), reaches its pathname socket, and
// binds the same abstract name, which the parent does not see.
func TestReliabilityNetns(t *testing.T) {
	testutil.RequireRoot(t)
	runs := relSize(2, 50)
	ctx := context.Background()
	self, err := os.Executable()
	require.NoError(t, err)

	abs := uds.Abstract("rel-netns-" + testutil.UniqTag())
	ln, err := uds.Listen(ctx, abs)
	require.NoError(t, err)
	serveEcho(t, ln)
	path := filepath.Join(testutil.MkSockDir(t), "s.sock")
	lnPath, err := uds.Listen(ctx, uds.Path(path))
	require.NoError(t, err)
	serveEcho(t, lnPath)

	variants := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"CLONE_NEWNET", func() *exec.Cmd {
			cmd := exec.Command(self, "-test.run=^$")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			return cmd
		}},
		{"unshare -n", func() *exec.Cmd {
			unshare := requireTool(t, "unshare")
			return exec.Command(unshare, "-n", self, "-test.run=^$")
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			var refused, reached, bound int
			start := time.Now()
			for run := 0; run < runs; run++ {
				res := relRunNS(t, v.cmd(), "dial "+abs.String(), "probe "+abs.String(), "dial "+path, "bind "+abs.String())
				if assert.False(t, res[0].OK, "the parent's abstract socket must be out of reach: %+v", res[0]) {
					assert.Equal(t, "ECONNREFUSED", res[0].Errno, "%+v", res[0])
					refused++
				}
				assert.Equal(t, "missing", res[1].State, "Probe in the new namespace: %+v", res[1])
				if assert.True(t, res[2].OK, "the pathname socket is reachable: %+v", res[2]) {
					assert.Equal(t, os.Getpid(), res[2].PID)
					reached++
				}
				if assert.True(t, res[3].OK, "the same abstract name is free in the new namespace: %+v", res[3]) {
					bound++
				}
			}
			// The parent's namespace has one socket at the name: its own.
			socks, err := diag.Who(ctx, abs)
			require.NoError(t, err)
			require.Len(t, socks, 1)
			assert.True(t, relProcsHold(socks[0], os.Getpid()))
			relReport(t, "namespaces", "new network namespace (%s): %d children: %d dials of the parent's abstract socket refused (ECONNREFUSED), %d dials of its pathname socket served, %d binds of the same abstract name succeeded; %v",
				v.name, runs, refused, reached, bound, time.Since(start).Round(time.Millisecond))
		})
	}
}
