//go:build linux

package uds_test

import (
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/udskit/uds/internal/testutil"
)

// Descriptor and message helpers (internal/testutil).
type (
	fdEnd         = testutil.FDEnd
	msgEnd        = testutil.MsgEnd
	msgSyncBuffer = testutil.SyncBuffer
)

var (
	fdExists          = testutil.Exists
	fdWriteFiles      = testutil.WriteFiles
	fdWriteFDs        = testutil.WriteFDs
	fdReadFiles       = testutil.ReadFiles
	fdReadFDs         = testutil.ReadFDs
	fdFiles           = testutil.OpenFiles
	fdCloseAll        = testutil.CloseAll
	fdInts            = testutil.Ints
	fdChildStart      = testutil.ChildStart
	fdProcCount       = testutil.ProcFDCount
	fdCountFree       = testutil.CountFree
	fdConnFromFile    = testutil.ConnFromFile
	fdPairs           = testutil.FDPairs
	msgListenDatagram = testutil.ListenDatagram
	msgCtx            = testutil.Ctx
	msgClose          = testutil.CloseAtEnd
	msgDeadline       = testutil.Deadline
	msgExpect         = testutil.Expect
)

// Helpers shared by the Linux tests of this package: most are the module's
// (internal/testutil), under the short names the tests use.
var (
	mkSockDir      = testutil.MkSockDir
	longSockDir    = testutil.LongSockDir
	uniqTag        = testutil.UniqTag
	requireRoot    = testutil.RequireRoot
	openFDCount    = testutil.OpenFDCount
	lstatIno       = testutil.LstatIno
	rawSocket      = testutil.RawSocket
	pairType       = testutil.PairType
	pairFiles      = testutil.PairFiles
	acceptConn     = testutil.AcceptConn
	acceptFunc     = testutil.AcceptFunc
	relLong        = testutil.Long
	msgFilesSender = testutil.FilesSender
	msgReadFrom    = testutil.ReadFrom
	msgWriteTo     = testutil.WriteTo
	dirListing     = testutil.DirListing
	acceptAsync    = testutil.AcceptAsync
	waitAccept     = testutil.WaitAccept
	udsListen      = testutil.Listen
	udsConnect     = testutil.Connect
	exchange       = testutil.Exchange
	fillQueueStd   = testutil.FillQueueStd
)

// pairOf is testutil.PairOf: the ends of mk's pair, closed when the test
// ends.
func pairOf[C io.Closer](t testing.TB, mk func() (C, C, error)) (C, C) {
	t.Helper()
	return testutil.PairOf(t, mk)
}

// acceptWithin is testutil.AcceptWithin: one connection within 5s, closed
// when the test ends.
func acceptWithin[C io.Closer](t testing.TB, ln interface{ SetDeadline(time.Time) error }, accept func() (C, error)) C {
	t.Helper()
	return testutil.AcceptWithin(t, ln, accept)
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set to
// anything.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// msgStartForeign starts the program name with args: testutil.StartForeign.
func msgStartForeign(t *testing.T, name string, args ...string) *testutil.Foreign {
	t.Helper()
	return testutil.StartForeign(t, exec.Command(name, args...))
}
