//go:build linux

package instance_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/udskit/uds/diag"
)

// Helpers copied from the root package's tests (test code may repeat
// test helpers).

func pids(s diag.Socket) []int {
	var ps []int
	for _, p := range s.Procs {
		ps = append(ps, p.PID)
	}
	return ps
}

// mkSockDir returns a new short temporary directory, removed after the test.
func mkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var uniqSeq atomic.Uint64

// uniqTag returns a string unique to this process and call, so that
// abstract names do not collide with other test binaries running at the
// same time (the abstract namespace is shared by the network namespace).
func uniqTag() string {
	return fmt.Sprintf("udst-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, uniqSeq.Add(1))
}
