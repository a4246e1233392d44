//go:build linux

package instance_test

import (
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/testutil"
)

// The module's shared test helpers (internal/testutil), under the names the
// tests use.
var (
	mkSockDir = testutil.MkSockDir
	uniqTag   = testutil.UniqTag
)

// pids lists the PIDs of the processes that hold s.
func pids(s diag.Socket) []int {
	var ps []int
	for _, p := range s.Procs {
		ps = append(ps, p.PID)
	}
	return ps
}
