//go:build linux

package udshttp_test

import (
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/peertool"
)

// peerSkips records the tests skipped because a peer program (curl) is
// missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

func TestMain(m *testing.M) {
	code := childproc.Run(m) // or a child's role (identity_test.go), which exits
	if s := peerSkips.Summary("udshttp"); s != "" {
		fmt.Println(s)
	}
	os.Exit(code)
}

// mkSockDir returns a new short temporary directory, removed after the test.
func mkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "udshttp")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var uniqSeq atomic.Uint64

// uniqTag returns a string unique to this process and call, so that
// abstract names do not collide with other test binaries running at the
// same time.
func uniqTag() string {
	return fmt.Sprintf("udshttpt-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, uniqSeq.Add(1))
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// dirNames returns the sorted names of dir's entries.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
