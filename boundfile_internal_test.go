//go:build linux

package uds

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// bindTestSocket binds a new stream socket at path and returns its
// descriptor.
func bindTestSocket(t *testing.T, path string) int {
	t.Helper()
	fd, err := newSocket(Stream)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, sysBind(fd, Path(path)))
	return fd
}

// ioctlFile stats the file SIOCUNIXFILE names for fd.
func ioctlFile(fd int) (dev, ino uint64, ok bool) {
	bfd, ok := boundFileIoctl(fd)
	if !ok {
		return 0, 0, false
	}
	defer unix.Close(bfd)
	var st unix.Stat_t
	if unix.Fstat(bfd, &st) != nil {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}

func statIno(t *testing.T, path string) (dev, ino uint64) {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	return uint64(st.Dev), uint64(st.Ino)
}

// TestBoundFileMethodsAgree checks that both ways of finding a socket's
// file (SIOCUNIXFILE and sock_diag) name the file bind created, and keep
// naming it after another socket file was renamed over the path, so that
// adopt sees the swap whichever way it asks.
func TestBoundFileMethodsAgree(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	fd := bindTestSocket(t, path)
	wantDev, wantIno := statIno(t, path)

	dev, ino, ok := boundFileDiag(fd)
	require.True(t, ok, "sock_diag must report the bound file")
	assert.Equal(t, wantDev, dev)
	assert.Equal(t, wantIno, ino)

	iDev, iIno, iok := ioctlFile(fd)
	switch {
	case noUnixFileIoctl.Load():
		t.Log("this kernel has no SIOCUNIXFILE; only sock_diag is checked")
		assert.False(t, iok)
	case os.Geteuid() == 0:
		require.True(t, iok, "SIOCUNIXFILE must work with CAP_NET_ADMIN")
		assert.Equal(t, wantDev, iDev)
		assert.Equal(t, wantIno, iIno)
	default:
		t.Log("not root: SIOCUNIXFILE needs CAP_NET_ADMIN; only sock_diag is checked")
		assert.False(t, iok)
	}

	// Another socket is renamed over the path: both ways still name the
	// first (now unlinked) file, which is no longer at the path.
	other := filepath.Join(dir, "other")
	bindTestSocket(t, other)
	require.NoError(t, os.Rename(other, path))
	_, nowIno := statIno(t, path)
	require.NotEqual(t, wantIno, nowIno)

	_, ino, ok = boundFileDiag(fd)
	require.True(t, ok)
	assert.Equal(t, wantIno, ino)
	if iok {
		_, ino, ok = ioctlFile(fd)
		require.True(t, ok)
		assert.Equal(t, wantIno, ino)
	}

	// An unbound socket has no file.
	ufd, err := newSocket(Stream)
	require.NoError(t, err)
	defer unix.Close(ufd)
	_, _, ok = boundFile(ufd)
	assert.False(t, ok)
}
