//go:build linux

package udshttp_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
	"github.com/udskit/uds/internal/testutil"
)

// peerSkips records the tests skipped because a peer program (curl) is
// missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

// The module's shared test helpers (internal/testutil).
var (
	mkSockDir = testutil.MkSockDir
	uniqTag   = testutil.UniqTag
)

func TestMain(m *testing.M) {
	peerSkips.Exit("udshttp", childproc.Run(m)) // or a child's role (identity_test.go), which exits
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}
