//go:build linux || darwin || freebsd

package lockfile

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestLockHeldAndPID(t *testing.T) {
	dir := t.TempDir()
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dfd)
	fd, mine, _, err := Lock(dfd, "x.lock", 0o600, true, "lock file")
	require.NoError(t, err)
	assert.True(t, mine)
	f := os.NewFile(uintptr(fd), "x.lock")
	defer f.Close()
	assert.True(t, WritePID(f))
	assert.Equal(t, os.Getpid(), ReadPID(dfd, "x.lock"))

	// flock locks belong to the open file: a second open is another taker.
	_, _, _, err = Lock(dfd, "x.lock", 0o600, true, "lock file")
	var held *HeldError
	require.True(t, errors.As(err, &held), "%v", err)
	assert.Equal(t, os.Getpid(), held.PID)
	assert.ErrorIs(t, err, unix.EWOULDBLOCK)
	assert.Contains(t, err.Error(), "lock held by process")

	require.NoError(t, unix.Mkdir(dir+"/d", 0o700))
	_, _, _, err = Lock(dfd, "d", 0o600, true, "lock file")
	assert.ErrorContains(t, err, "a directory")
	require.NoError(t, unix.Symlink("x.lock", dir+"/link"))
	_, _, _, err = Lock(dfd, "link", 0o600, true, "lock file")
	assert.ErrorContains(t, err, "symbolic link")
}

func TestParsePID(t *testing.T) {
	assert.Equal(t, 1234, parsePID([]byte("1234\n")))
	assert.Equal(t, 1234, parsePID([]byte("1234")))
	assert.Zero(t, parsePID([]byte("12a")))
	assert.Zero(t, parsePID([]byte("")))
	assert.Zero(t, parsePID([]byte("12345678901")))
}
