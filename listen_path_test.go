//go:build linux

package uds_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// TestListenRelativeAtPath: a relative path whose name starts with "@" is a
// file in the working directory, never the abstract name.
func TestListenRelativeAtPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := context.Background()
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket} {
		t.Run(typ.String(), func(t *testing.T) {
			tag := uniqTag()
			a := uds.Path("@" + tag).WithType(typ)
			// Listen hands this name to package net, which would read
			// "@..." as abstract: Path keeps it a relative path.
			require.Equal(t, "./@"+tag, a.Name())
			var ln interface{ Close() error }
			var err error
			if typ == uds.SeqPacket {
				ln, err = uds.Listen(ctx, a.WithType(uds.SeqPacket))
			} else {
				ln, err = uds.Listen(ctx, a)
			}
			require.NoError(t, err)
			fi, err := os.Lstat(filepath.Join(dir, "@"+tag))
			require.NoError(t, err, "the socket file must be in the working directory")
			assert.Equal(t, os.ModeSocket, fi.Mode().Type())

			r, err := diag.Probe(ctx, uds.Abstract(tag).WithType(typ))
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeMissing, r.State, "nothing may be bound at the abstract name")
			r, err = diag.Probe(ctx, a)
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeLive, r.State)

			require.NoError(t, ln.Close())
			_, err = os.Lstat(filepath.Join(dir, "@"+tag))
			assert.True(t, os.IsNotExist(err), "Close removes the file: %v", err)
		})
	}
}
