package procfs

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestLocksHolder(t *testing.T) {
	data := []byte("1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF\n" +
		"1: -> FLOCK  ADVISORY  WRITE 999 08:01:5678 0 EOF\n" +
		"2: POSIX  ADVISORY  WRITE 77 08:01:42 0 EOF\n")
	assert.Equal(t, 1234, locksHolder(data, unix.Mkdev(8, 1), 5678))
	assert.Zero(t, locksHolder(data, unix.Mkdev(8, 1), 42), "a POSIX lock is not a flock")
	assert.Zero(t, locksHolder(data, unix.Mkdev(8, 2), 5678))
}

func TestFlockHolderAndComm(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/l")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	assert.Equal(t, os.Getpid(), FlockHolder(int(f.Fd()), &st))
	assert.NotEmpty(t, Comm(os.Getpid()))
	assert.Empty(t, Comm(0))
}

func TestScanSocketFDs(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fds[0], &st))
	found := -1
	require.NoError(t, ScanSocketFDs(context.Background(), func(pid int, comm func() string, fd int, ino uint64) {
		if pid == os.Getpid() && ino == st.Ino {
			found = fd
			assert.NotEmpty(t, comm())
		}
	}))
	assert.Equal(t, fds[0], found)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, ScanSocketFDs(ctx, func(int, func() string, int, uint64) {}), context.Canceled)
}
