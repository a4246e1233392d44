//go:build unix

package reliability_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
)

// peerSkips records the tests skipped because a peer program (socat, nc,
// ...) is missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

// TestMain runs a child role when the suites re-execute this test binary
// (internal/childproc), and the tests otherwise.
func TestMain(m *testing.M) {
	peerSkips.Exit("uds/reliability", childproc.Run(m))
}
