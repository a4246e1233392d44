//go:build linux

package activation_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
	"github.com/udskit/uds/internal/testutil"
)

// peerSkips records the tests skipped because a peer program
// (systemd-socket-activate, sh) is missing; TestMain names them when the
// tests end.
var peerSkips peertool.Skips

// The module's shared test helpers (internal/testutil).
var (
	mkSockDir = testutil.MkSockDir
	uniqTag   = testutil.UniqTag
)

func TestMain(m *testing.M) {
	code := childproc.Run(m) // or runs the child role the environment names
	if s := peerSkips.Summary("activation"); s != "" {
		fmt.Println(s)
	}
	os.Exit(code)
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// dirNames returns the sorted names of dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// dialSeqPacket connects to the seqpacket socket at a with d.
func dialSeqPacket(d *uds.Dialer, a uds.Addr) (net.Conn, error) {
	return d.Dial(context.Background(), a.WithType(uds.SeqPacket))
}

// listenDatagram binds a datagram socket to a, closed at the end of the
// test.
func listenDatagram(t testing.TB, a uds.Addr) *uds.DatagramConn {
	t.Helper()
	c, err := uds.ListenDatagram(context.Background(), a)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// readDeadline gives c five seconds to read, so that a missing message
// fails the test instead of hanging it.
func readDeadline(t testing.TB, c interface{ SetReadDeadline(time.Time) error }) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
}

// expectMessage reads one message from c into a buffer of bufLen bytes and
// checks it is exactly want.
func expectMessage(t testing.TB, c net.Conn, bufLen int, want []byte) {
	t.Helper()
	readDeadline(t, c)
	buf := make([]byte, bufLen)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, want, buf[:n])
}

// syncBuffer is a bytes.Buffer safe for one writer and other readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// foreign is a running child program with its standard streams.
type foreign struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *syncBuffer
}

// readLine reads one line of the program's output within timeout.
func (f *foreign) readLine(t *testing.T, timeout time.Duration) string {
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
		t.Fatalf("%s printed no line within %v (stderr: %s)", f.cmd.Path, timeout, f.stderr.String())
		return ""
	}
}
