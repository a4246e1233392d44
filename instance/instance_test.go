//go:build linux

package instance_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/instance"
	"github.com/udskit/uds/internal/childproc"
)

const roleLockHold = "lock-hold" // args: "abstract"|"file", name; take the lock and hold it

func init() {
	childproc.Register(roleLockHold, childLockHold)
}

func childLockHold(args []string) int {
	var err error
	if args[0] == "file" {
		_, err = instance.LockFile(context.Background(), args[1])
	} else {
		_, err = instance.Lock(context.Background(), args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

// requireHeldBy checks that err says the lock is held by pid.
func requireHeldBy(t *testing.T, err error, pid int) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, uds.ErrInUse)
	var inUse *uds.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, pid, inUse.PID, "%v", err)
	assert.Contains(t, err.Error(), "process "+strconv.Itoa(pid))
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "lock", oe.Op)
}

func TestLockHolderKilled(t *testing.T) {
	name := uniqTag() + "-lock"
	holder := childproc.Start(t, childproc.Options{}, roleLockHold, "abstract", name)
	holder.WaitReady()

	for range 3 * 16 { // more probes than the lock's backlog
		_, err := instance.Lock(context.Background(), name)
		requireHeldBy(t, err, holder.PID())
	}
	var socks []diag.Socket
	assert.Eventually(t, func() bool {
		var err error
		socks, err = diag.Who(context.Background(), uds.Abstract(name))
		require.NoError(t, err)
		require.Len(t, socks, 1)
		return socks[0].RQueue == 0
	}, 5*time.Second, time.Millisecond, "the holder accepts and closes the probes")
	assert.Equal(t, diag.StateListen, socks[0].State)
	assert.Equal(t, []int{holder.PID()}, pids(socks[0]))

	holder.Kill() // SIGKILL, and wait for it to be reaped
	l, err := instance.Lock(context.Background(), name)
	require.NoError(t, err, "the kernel frees the name as the holder dies")
	assert.Equal(t, uds.Abstract(name), l.Addr())

	// Held by us now.
	_, err = instance.Lock(context.Background(), name)
	requireHeldBy(t, err, os.Getpid())
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "a second release does nothing")
	l, err = instance.Lock(context.Background(), name)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestLockRacingTakers(t *testing.T) {
	name := uniqTag() + "-race"
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*instance.Guard
	var lost int
	for range 20 {
		wg.Go(func() {
			l, err := instance.Lock(context.Background(), name)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won = append(won, l)
				return
			}
			requireHeldBy(t, err, os.Getpid())
			lost++
		})
	}
	wg.Wait()
	require.Len(t, won, 1)
	assert.Equal(t, 19, lost)
	require.NoError(t, won[0].Close())
}

func TestLockSquatter(t *testing.T) {
	// A socket bound to the name that does not listen (a squatter, or a
	// holder between bind and listen) is found through sock_diag.
	name := uniqTag() + "-squat"
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + name}))
	_, err = instance.Lock(context.Background(), name)
	requireHeldBy(t, err, os.Getpid())
	var inUse *uds.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, uds.HowBound, inUse.How)

	// A socket of another type has its own namespace: no conflict.
	dg, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dg)
	other := uniqTag() + "-squat-dgram"
	require.NoError(t, unix.Bind(dg, &unix.SockaddrUnix{Name: "@" + other}))
	l, err := instance.Lock(context.Background(), other)
	require.NoError(t, err)
	l.Close()
}

func TestLockExactName(t *testing.T) {
	name := uniqTag() + "-exact\x00x"
	l, err := instance.Lock(context.Background(), name)
	require.NoError(t, err)
	defer l.Close()
	l2, err := instance.Lock(context.Background(), strings.TrimSuffix(name, "x"))
	require.NoError(t, err, "a name that is a prefix is another lock")
	l2.Close()

	_, err = instance.Lock(context.Background(), strings.Repeat("x", uds.MaxPathLen+1))
	assert.ErrorIs(t, err, uds.ErrInvalidAddr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = instance.Lock(ctx, uniqTag()+"-cancelled")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLockNotInherited(t *testing.T) {
	// The lock's socket is close-on-exec: a child process does not keep the
	// name bound after the holder releases it.
	name := uniqTag() + "-cloexec"
	l, err := instance.Lock(context.Background(), name)
	require.NoError(t, err)
	child := childproc.Start(t, childproc.Options{}, roleLockHold, "file", filepath.Join(mkSockDir(t), "unrelated"))
	child.WaitReady()
	require.NoError(t, l.Close())
	l, err = instance.Lock(context.Background(), name)
	require.NoError(t, err)
	l.Close()
}

func TestLockFileHolderKilled(t *testing.T) {
	path := filepath.Join(mkSockDir(t), "app.lock")
	holder := childproc.Start(t, childproc.Options{}, roleLockHold, "file", path)
	holder.WaitReady()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(holder.PID())+"\n", string(data), "the holder's PID is in the file")

	_, err = instance.LockFile(context.Background(), path)
	requireHeldBy(t, err, holder.PID())
	var inUse *uds.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, uds.HowLocked, inUse.How)

	holder.Kill()
	l, err := instance.LockFile(context.Background(), path)
	require.NoError(t, err, "the kernel releases the flock as the holder dies")
	assert.Equal(t, uds.Path(path), l.Addr())
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(data))

	_, err = instance.LockFile(context.Background(), path)
	requireHeldBy(t, err, os.Getpid())
	require.NoError(t, l.Close())
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, data, "Unlock clears the PID and keeps the file")
	l, err = instance.LockFile(context.Background(), path)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestLockFileKeepsContents(t *testing.T) {
	dir := mkSockDir(t)
	path := filepath.Join(dir, "script.sh")
	content := "#!/bin/sh\necho hi\n"
	require.NoError(t, os.WriteFile(path, []byte(content), 0o755))
	l, err := instance.LockFile(context.Background(), path)
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, string(data), "a file that is not a PID file is left as it is")
	_, err = instance.LockFile(context.Background(), path)
	requireHeldBy(t, err, os.Getpid())
	require.NoError(t, l.Close())
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, string(data))

	// Refused: a symbolic link, a directory, an empty path.
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(path, link))
	_, err = instance.LockFile(context.Background(), link)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "symbolic link")
	_, err = instance.LockFile(context.Background(), dir)
	require.Error(t, err)
	assert.False(t, errors.Is(err, uds.ErrInUse))
	_, err = instance.LockFile(context.Background(), "")
	assert.ErrorIs(t, err, uds.ErrInvalidAddr)
}

func TestLockFileOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a holder as another user")
	}
	dir := mkSockDir(t)
	require.NoError(t, os.Chmod(dir, 0o777))
	path := filepath.Join(dir, "shared.lock")
	holder := childproc.Start(t, childproc.Options{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}, roleLockHold, "file", path)
	holder.WaitReady()
	_, err := instance.LockFile(context.Background(), path)
	requireHeldBy(t, err, holder.PID())
	holder.Kill()
	l, err := instance.LockFile(context.Background(), path)
	require.NoError(t, err, "root takes the lock on nobody's file")
	require.NoError(t, l.Close())
}
