//go:build unix

package uds_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
)

// peerSkips records the tests skipped because a peer program (socat, nc,
// ...) is missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

func TestMain(m *testing.M) {
	peerSkips.Exit("uds", childproc.Run(m))
}
