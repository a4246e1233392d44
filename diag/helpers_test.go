//go:build linux

package diag_test

import (
	"testing"

	"github.com/udskit/uds/internal/testutil"
)

// The module's shared test helpers (internal/testutil), under the names the
// tests use.
var (
	mkSockDir    = testutil.MkSockDir
	uniqTag      = testutil.UniqTag
	rawSocket    = testutil.RawSocket
	dirListing   = testutil.DirListing
	udsListen    = testutil.Listen
	udsConnect   = testutil.Connect
	exchange     = testutil.Exchange
	fillQueueStd = testutil.FillQueueStd
)

// Helpers copied from the root package's tests (test code may repeat
// test helpers).

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set to
// anything.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}
