//go:build linux

package reliability_test

import (
	"os/exec"
	"testing"

	"github.com/udskit/uds/internal/testutil"
)

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
