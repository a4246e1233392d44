//go:build linux

package uds

// In package uds, not uds_test: these tests call the unexported path-ownership
// code (pathown_linux.go: the bound file of a socket, fileID), as the other
// _internal_test.go files test unexported code.

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
func ioctlFile(fd int) (id fileID, ok bool) {
	bfd, ok := boundFileIoctl(fd)
	if !ok {
		return fileID{}, false
	}
	defer unix.Close(bfd)
	var st unix.Stat_t
	if unix.Fstat(bfd, &st) != nil {
		return fileID{}, false
	}
	return idOf(&st), true
}

// pinned pins path for isBoundFile.
func pinned(t *testing.T, path string) (int, unix.Stat_t) {
	t.Helper()
	pfd, st, err := pinFile(unix.AT_FDCWD, path)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(pfd) })
	return pfd, st
}

// TestBoundFileMethodsAgree checks both ways adopt finds a socket's file
// (SIOCUNIXFILE, and sock_diag through isBoundFile) on the file bind
// created, and after another socket file was renamed over the path: both
// still name the first (now unlinked) file, so adopt sees the swap
// whichever way it asks.
func TestBoundFileMethodsAgree(t *testing.T) {
	dir := t.TempDir()
	dirfd, err := openDir(dir)
	require.NoError(t, err)
	defer unix.Close(dirfd)
	path := filepath.Join(dir, "s")
	fd := bindTestSocket(t, path)
	pfd, st := pinned(t, path)

	ok, err := isBoundFile(dirfd, fd, pfd, &st)
	require.NoError(t, err)
	assert.True(t, ok, "sock_diag must name the file bind created")

	iid, iok := ioctlFile(fd)
	switch {
	case noUnixFileIoctl.Load():
		t.Log("this kernel has no SIOCUNIXFILE; only sock_diag is checked")
		assert.False(t, iok)
	case os.Geteuid() == 0:
		require.True(t, iok, "SIOCUNIXFILE must work with CAP_NET_ADMIN")
		assert.Equal(t, idOf(&st), iid)
	default:
		t.Log("not root: SIOCUNIXFILE needs CAP_NET_ADMIN; only sock_diag is checked")
		assert.False(t, iok)
	}

	// Another socket is renamed over the path.
	other := filepath.Join(dir, "other")
	bindTestSocket(t, other)
	require.NoError(t, os.Rename(other, path))
	npfd, nst := pinned(t, path)
	require.NotEqual(t, idOf(&st), idOf(&nst))

	ok, err = isBoundFile(dirfd, fd, npfd, &nst)
	require.NoError(t, err)
	assert.False(t, ok, "the file swapped in is not the socket's")
	if iok {
		iid, iok = ioctlFile(fd)
		require.True(t, iok)
		assert.Equal(t, idOf(&st), iid, "SIOCUNIXFILE still names the first file")
	}

	// An unbound socket has no file.
	ufd, err := newSocket(Stream)
	require.NoError(t, err)
	defer unix.Close(ufd)
	_, ok = boundFileIoctl(ufd)
	assert.False(t, ok)
	ok, err = isBoundFile(dirfd, ufd, npfd, &nst)
	require.NoError(t, err)
	assert.False(t, ok)
}
