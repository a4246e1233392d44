//go:build linux

package reliability_test

import (
	"os/exec"
	"testing"

	"github.com/udskit/uds/internal/testutil"
	"golang.org/x/sys/unix"
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

// connectTally counts what a child's connect (or send) attempts met, by
// errno, for the parent to check: a child prints it as JSON.
type connectTally struct {
	Attempts, OK, Sent, ENOENT, EACCES, Refused, EAGAIN, EPROTOTYPE, Other int
	FirstOther                                                             string
}

// add counts the outcome of one attempt; an error it has no field for is
// Other, and the first such is kept in words.
func (r *connectTally) add(err error) {
	switch err {
	case nil:
		r.OK++
	case unix.ENOENT:
		r.ENOENT++
	case unix.EACCES:
		r.EACCES++
	case unix.ECONNREFUSED:
		r.Refused++
	case unix.EAGAIN:
		r.EAGAIN++
	case unix.EPROTOTYPE:
		r.EPROTOTYPE++
	default:
		r.Other++
		if r.FirstOther == "" {
			r.FirstOther = err.Error()
		}
	}
}
