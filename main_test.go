//go:build unix

package uds_test

import (
	"testing"

	"github.com/udskit/uds/internal/childproc"
)

func TestMain(m *testing.M) { childproc.Main(m) }
