//go:build unix

package instance_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
)

// TestMain runs a child role when a test re-executes this test binary
// (internal/childproc: the lock holders), and the tests otherwise.
func TestMain(m *testing.M) { childproc.Main(m) }
