//go:build linux

package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
)

// Descriptor and message helpers (internal/testutil).
type fdEnd = testutil.FDEnd

var (
	fdExists          = testutil.Exists
	fdWriteFiles      = testutil.WriteFiles
	fdWriteFDs        = testutil.WriteFDs
	fdReadFiles       = testutil.ReadFiles
	fdReadFDs         = testutil.ReadFDs
	fdNetPair         = testutil.NetPair
	fdFiles           = testutil.OpenFiles
	fdCloseAll        = testutil.CloseAll
	fdInts            = testutil.Ints
	fdChildStart      = testutil.ChildStart
	fdProcCount       = testutil.ProcFDCount
	fdCountFree       = testutil.CountFree
	fdConnFromFile    = testutil.ConnFromFile
	msgListenDatagram = testutil.ListenDatagram
	msgCtx            = testutil.Ctx
	msgClose          = testutil.CloseAtEnd
	msgDeadline       = testutil.Deadline
	msgExpect         = testutil.Expect
)

// The module's shared test helpers (internal/testutil), under the names the
// suites use.
var (
	mkSockDir   = testutil.MkSockDir
	uniqTag     = testutil.UniqTag
	requireRoot = testutil.RequireRoot
	openFDCount = testutil.OpenFDCount
	lstatIno    = testutil.LstatIno
	rawSocket   = testutil.RawSocket
	pairType    = testutil.PairType
	pairFiles   = testutil.PairFiles
	acceptConn  = testutil.AcceptConn
	acceptFunc  = testutil.AcceptFunc
	msgReadFrom = testutil.ReadFrom
	msgWriteTo  = testutil.WriteTo
	dirListing  = testutil.DirListing
)

// pairOf is testutil.PairOf.
func pairOf[C io.Closer](t testing.TB, mk func() (C, C, error)) (C, C) {
	t.Helper()
	return testutil.PairOf(t, mk)
}

// acceptWithin is testutil.AcceptWithin.
func acceptWithin[C io.Closer](t testing.TB, ln interface{ SetDeadline(time.Time) error }, accept func() (C, error)) C {
	t.Helper()
	return testutil.AcceptWithin(t, ln, accept)
}

// Helpers the suites share, copied from the root package's tests (test code
// may repeat test helpers): the root's helpers_test.go, and the few of its
// other test files (fds_test.go, message_test.go, seqpacket_test.go, ...)
// that the suites use.

type fdPairCase struct {
	name string
	typ  uds.SocketType
	mk   func(t *testing.T) (a, b fdEnd)
}

// fdPairs are the connections descriptors are tested on: socket pairs of
// each type, a listener's accepted connection, and plain *net.UnixConn
// values.
func fdPairs() []fdPairCase {
	return []fdPairCase{
		{"stream pair", uds.Stream, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, pairType(uds.Stream))
		}},
		{"stream accepted", uds.Stream, func(t *testing.T) (fdEnd, fdEnd) {
			ln, err := uds.Listen(context.Background(), uds.Abstract(uniqTag()))
			require.NoError(t, err)
			defer ln.Close()
			cli, err := uds.Dial(context.Background(), ln.Addr().(uds.Addr))
			require.NoError(t, err)
			srv, err := acceptConn(ln)
			require.NoError(t, err)
			t.Cleanup(func() { cli.Close(); srv.Close() })
			return cli, srv
		}},
		{"seqpacket pair", uds.SeqPacket, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, pairType(uds.SeqPacket))
		}},
		{"datagram pair", uds.Datagram, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, uds.DatagramPair)
		}},
		{"net.UnixConn stream", uds.Stream, fdNetPair(unix.SOCK_STREAM)},
		{"net.UnixConn seqpacket", uds.SeqPacket, fdNetPair(unix.SOCK_SEQPACKET)},
		{"net.UnixConn datagram", uds.Datagram, fdNetPair(unix.SOCK_DGRAM)},
	}
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set to
// anything.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// msgSyncBuffer is a bytes.Buffer safe for one writer and other readers.
type msgSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *msgSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *msgSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// msgForeign is a running external peer.
type msgForeign struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *msgSyncBuffer
}

// msgStartForeign starts a program in its own process group, killed at the
// end of the test.
func msgStartForeign(t *testing.T, name string, args ...string) *msgForeign {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := new(msgSyncBuffer)
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	f := &msgForeign{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: stderr}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s stderr: %s", name, stderr.String())
		}
	})
	return f
}

// readLine reads one line of the program's output within timeout.
func (f *msgForeign) readLine(t *testing.T, timeout time.Duration) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := f.stdout.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "reading %s's output (stderr: %s)", f.cmd.Path, f.stderr.String())
		return r.s
	case <-time.After(timeout):
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("%s printed no line within %v", f.cmd.Path, timeout)
	}
	return ""
}
