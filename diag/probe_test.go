//go:build linux

package diag_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

func probeAddr(t *testing.T, a uds.Addr) diag.ProbeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := diag.Probe(ctx, a)
	require.NoError(t, err, "Probe(%v)", a)
	return r
}

func TestProbeStateStrings(t *testing.T) {
	assert.Equal(t, "missing", diag.ProbeMissing.String())
	assert.Equal(t, "live", diag.ProbeLive.String())
	assert.Equal(t, "stale", diag.ProbeStale.String())
	assert.Equal(t, "not a socket", diag.ProbeNotSocket.String())
	assert.Equal(t, diag.ProbeMissing, diag.ProbeState(0))
}

func TestProbePath(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		dir := mkSockDir(t)
		r := probeAddr(t, uds.Path(filepath.Join(dir, "none.sock")))
		assert.Equal(t, diag.ProbeMissing, r.State)
		assert.Zero(t, r.PID)
		assert.Empty(t, dirListing(t, dir), "Probe creates nothing (no lock file)")
	})
	t.Run("missing directory", func(t *testing.T) {
		dir := mkSockDir(t)
		r := probeAddr(t, uds.Path(filepath.Join(dir, "nodir", "x.sock")))
		assert.Equal(t, diag.ProbeMissing, r.State)
		assert.Contains(t, r.Detail, "nodir")
		assert.Empty(t, dirListing(t, dir))
	})
	t.Run("live listener", func(t *testing.T) {
		dir := mkSockDir(t)
		a := uds.Path(filepath.Join(dir, "live.sock"))
		ln := udsListen(t, nil, a)
		before := dirListing(t, dir)
		r := probeAddr(t, a)
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.NotEmpty(t, r.Detail)
		assert.Equal(t, before, dirListing(t, dir), "Probe changes nothing")
		// The probe's connection was queued and closed: the server reads EOF
		// from it, and the listener still works after being probed.
		require.NoError(t, ln.SetDeadline(time.Now().Add(5*time.Second)))
		pc, err := ln.Accept()
		require.NoError(t, err)
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := pc.Read(make([]byte, 1))
		assert.Zero(t, n)
		assert.ErrorIs(t, err, io.EOF)
		pc.Close()
		require.NoError(t, ln.SetDeadline(time.Time{}))
		c, s := udsConnect(t, ln, &uds.Dialer{}, a)
		exchange(t, c, s)
	})
	t.Run("live raw listener", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "raw.sock")
		rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p}, true)
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
	})
	t.Run("live, backlog full", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "bl.sock")
		udsListen(t, &uds.ListenConfig{Backlog: 1}, uds.Path(p))
		_, _, refusal := fillQueueStd(t, p)
		require.ErrorIs(t, refusal, syscall.EAGAIN)
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Contains(t, r.Detail, "backlog full")
	})
	t.Run("stale after a close that keeps the path", func(t *testing.T) {
		dir := mkSockDir(t)
		a := uds.Path(filepath.Join(dir, "stale.sock"))
		ln, err := uds.Listen(context.Background(), a)
		require.NoError(t, err)
		ln.SetUnlinkOnClose(false)
		require.NoError(t, ln.Close())
		before := dirListing(t, dir)
		r := probeAddr(t, a)
		assert.Equal(t, diag.ProbeStale, r.State)
		assert.Zero(t, r.PID)
		assert.Equal(t, before, dirListing(t, dir), "Probe removes nothing")

		// Listen reclaims what Probe called stale.
		ln = udsListen(t, nil, a)
		assert.Equal(t, diag.ProbeLive, probeAddr(t, a).State)
		require.NoError(t, ln.Close())
		assert.Equal(t, diag.ProbeMissing, probeAddr(t, a).State)
	})
	t.Run("stale raw socket closed without unlink", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "raw.sock")
		sock := rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p}, true)
		require.NoError(t, sock.Close())
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeStale, r.State)
		fi, err := os.Lstat(p)
		require.NoError(t, err, "Probe removes nothing")
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	})
	t.Run("stale socket but lock held", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "locked.sock")
		sock := rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p}, false)
		require.NoError(t, sock.Close())
		lock, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		require.NoError(t, err)
		defer lock.Close()
		require.NoError(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB))
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeLive, r.State, "a server between locking and listening is live")
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Contains(t, r.Detail, "lock")
	})
	t.Run("bound, not listening", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "bound.sock")
		sock := rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p}, false)
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeLive, r.State, "a bound socket refuses connections but is not stale")
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Contains(t, r.Detail, "bound, not listening")

		// Once it is closed the same file is stale.
		require.NoError(t, sock.Close())
		assert.Equal(t, diag.ProbeStale, probeAddr(t, uds.Path(p)).State)
	})
	t.Run("live, another socket type", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "dgram.sock")
		pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
		require.NoError(t, err)
		defer pc.Close()
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Contains(t, r.Detail, "another type")
	})
	t.Run("directory", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "d.sock")
		require.NoError(t, os.Mkdir(p, 0o755))
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeNotSocket, r.State)
		assert.Contains(t, r.Detail, "directory")
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		assert.True(t, fi.IsDir())
	})
	t.Run("regular file", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "f.sock")
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		r := probeAddr(t, uds.Path(p))
		assert.Equal(t, diag.ProbeNotSocket, r.State)
		assert.Contains(t, r.Detail, "regular file")
	})
	t.Run("symlink to live socket", func(t *testing.T) {
		dir := mkSockDir(t)
		target := uds.Path(filepath.Join(dir, "real.sock"))
		udsListen(t, nil, target)
		link := filepath.Join(dir, "link.sock")
		require.NoError(t, os.Symlink(target.Name(), link))
		r := probeAddr(t, uds.Path(link))
		assert.Equal(t, diag.ProbeNotSocket, r.State, "symbolic links are not followed")
		assert.Contains(t, r.Detail, "symbolic link")
	})
}

func TestProbeAbstract(t *testing.T) {
	t.Run("live", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "\x00probe")
		udsListen(t, nil, a)
		r := probeAddr(t, a)
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
	})
	t.Run("live datagram", func(t *testing.T) {
		// A datagram socket has no peer credentials: the holder comes
		// from sock_diag, as for a path.
		a := uds.Abstract(uniqTag() + "-dgram-live").WithType(uds.Datagram)
		c, err := uds.ListenDatagram(context.Background(), a)
		require.NoError(t, err)
		defer c.Close()
		r := probeAddr(t, a)
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Equal(t, "bound", r.Detail)
		// And Listen on it names the holder the same way.
		_, err = uds.ListenDatagram(context.Background(), a)
		var ie *uds.InUseError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, os.Getpid(), ie.PID)
	})
	t.Run("missing", func(t *testing.T) {
		r := probeAddr(t, uds.Abstract(uniqTag()+"\x00none"))
		assert.Equal(t, diag.ProbeMissing, r.State)
		assert.Zero(t, r.PID)
	})
	t.Run("NUL suffix is another name", func(t *testing.T) {
		name := uniqTag() + "HELLO"
		udsListen(t, nil, uds.Abstract(name))
		assert.Equal(t, diag.ProbeLive, probeAddr(t, uds.Abstract(name)).State)
		assert.Equal(t, diag.ProbeMissing, probeAddr(t, uds.Abstract(name+"\x00")).State)
	})
	t.Run("bound, not listening", func(t *testing.T) {
		name := uniqTag() + "-bound"
		rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@" + name}, false)
		r := probeAddr(t, uds.Abstract(name))
		assert.Equal(t, diag.ProbeLive, r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Contains(t, r.Detail, "bound, not listening")
	})
	t.Run("another socket type", func(t *testing.T) {
		// The kernel keeps abstract names per socket type: a datagram socket
		// bound to a name does not stop a stream listener from binding it.
		// Whatever Probe answers for the stream address, it must agree with
		// what Listen then does (see the report: probe_linux.go,
		// probeAbstract).
		name := uniqTag() + "-dgram"
		pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@" + name, Net: "unixgram"})
		require.NoError(t, err)
		defer pc.Close()
		r := probeAddr(t, uds.Abstract(name))
		ln, lerr := uds.Listen(context.Background(), uds.Abstract(name))
		if ln != nil {
			defer ln.Close()
		}
		switch r.State {
		case diag.ProbeLive:
			assert.ErrorIs(t, lerr, uds.ErrInUse, "Probe said live (%q), yet Listen took the name", r.Detail)
		case diag.ProbeMissing:
			assert.NoError(t, lerr, "Probe said missing, yet Listen failed")
		default:
			t.Errorf("Probe of an abstract name: state %v", r.State)
		}
	})
	t.Run("bound, not listening agrees with Listen", func(t *testing.T) {
		name := uniqTag() + "-bound2"
		rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@" + name}, false)
		assert.Equal(t, diag.ProbeLive, probeAddr(t, uds.Abstract(name)).State)
		_, err := uds.Listen(context.Background(), uds.Abstract(name))
		require.Error(t, err)
		assert.ErrorIs(t, err, uds.ErrInUse)
		var ie *uds.InUseError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, os.Getpid(), ie.PID)
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := diag.Probe(ctx, uds.Abstract(uniqTag()))
		assert.ErrorIs(t, err, context.Canceled)
	})
}
