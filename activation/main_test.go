//go:build linux

package activation_test

import (
	"context"
	"net"
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
	peerSkips.Exit("activation", childproc.Run(m)) // or runs the child role the environment names
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
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
