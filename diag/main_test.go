//go:build unix

package diag_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
)

// peerSkips records the tests skipped because a peer program (socat, nc,
// ...) is missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

// TestMain runs a child role when a test re-executes this test binary
// (internal/childproc), and the tests otherwise.
func TestMain(m *testing.M) {
	peerSkips.Exit("uds/diag", childproc.Run(m))
}
