//go:build !linux

package uds_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/instance"
)

// These tests run where Linux's features are missing: every operation that
// needs one must fail with an error wrapping ErrUnsupported (and so
// errors.ErrUnsupported), never panic or half-work.

// bsd is true where the Unix socket engine runs (darwin and FreeBSD).
const bsd = runtime.GOOS == "darwin" || runtime.GOOS == "freebsd"

func requireUnsupported(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

// shortDir is a directory with a short path: t.TempDir() overflows the
// 104 bytes of sun_path on macOS.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestPlatformConstants(t *testing.T) {
	assert.ErrorIs(t, uds.Abstract("x").Valid(), errors.ErrUnsupported, "no abstract names here")
	want := 103
	if runtime.GOOS == "windows" {
		want = 107
	}
	assert.Equal(t, want, uds.MaxPathLen)
}

func TestPlatformAbstractAndAutobind(t *testing.T) {
	ctx := context.Background()
	for _, a := range []uds.Addr{uds.Abstract("x"), uds.Abstract(""), uds.Autobind()} {
		t.Run(a.String(), func(t *testing.T) {
			requireUnsupported(t, a.Valid())
			_, err := uds.Listen(ctx, a)
			requireUnsupported(t, err)
			_, err = uds.Listen(ctx, a.WithType(uds.SeqPacket))
			requireUnsupported(t, err)
			_, err = uds.ListenDatagram(ctx, a)
			requireUnsupported(t, err)
			_, err = diag.Probe(ctx, a)
			requireUnsupported(t, err)
			if a.Kind() == uds.KindAbstract {
				_, err = uds.Dial(ctx, a)
				requireUnsupported(t, err)
				_, err = uds.DialDatagram(ctx, a)
				requireUnsupported(t, err)
			}
		})
	}
	_, err := uds.ParseAddr("@name")
	requireUnsupported(t, err)
	_, err = uds.ParseAddr("(autobind)")
	requireUnsupported(t, err)
	d := uds.Dialer{LocalAddr: uds.Autobind()}
	_, err = d.Dial(ctx, uds.Path(filepath.Join(shortDir(t), "s.sock")))
	requireUnsupported(t, err)
}

func TestPlatformLinuxOnly(t *testing.T) {
	ctx := context.Background()
	_, err := instance.Lock(ctx, "uds-platform-test")
	requireUnsupported(t, err)
	_, err = diag.Sockets(ctx)
	requireUnsupported(t, err)
	_, err = diag.Who(ctx, uds.Path(filepath.Join(shortDir(t), "s.sock")))
	requireUnsupported(t, err)
}

func TestPlatformLongPath(t *testing.T) {
	long := filepath.Join(shortDir(t), strings.Repeat("a", uds.MaxPathLen))
	_, err := uds.Listen(context.Background(), uds.Path(long))
	require.Error(t, err)
	assert.ErrorIs(t, err, uds.ErrInvalidAddr)
}

// TestPlatformPathStream runs a pathname stream socket where the platform
// has them (darwin, FreeBSD, Windows): listen, dial, exchange, and removal
// of the file on Close.
func TestPlatformPathStream(t *testing.T) {
	if !bsd && runtime.GOOS != "windows" {
		t.Skip("no socket support on " + runtime.GOOS)
	}
	ctx := context.Background()
	p := filepath.Join(shortDir(t), "s.sock")
	l, err := uds.Listen(ctx, uds.Path(p))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, err = c.Write([]byte("hi"))
			c.Close()
		}
		done <- err
	}()
	c, err := uds.Dial(ctx, uds.Path(p))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
	require.NoError(t, <-done)
	require.NoError(t, c.Close())
	require.NoError(t, l.Close())
	_, err = os.Lstat(p)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestPlatformWindowsStubs checks each operation Windows lacks.
func TestPlatformWindowsStubs(t *testing.T) {
	if runtime.GOOS != "windows" {
		t.Skip("Windows only")
	}
	ctx := context.Background()
	p := uds.Path(filepath.Join(shortDir(t), "s.sock"))
	_, _, err := uds.Pair(uds.Stream)
	requireUnsupported(t, err)
	_, _, err = uds.Pair(uds.SeqPacket)
	requireUnsupported(t, err)
	_, _, err = uds.DatagramPair()
	requireUnsupported(t, err)
	_, err = uds.Listen(ctx, p.WithType(uds.SeqPacket))
	requireUnsupported(t, err)
	_, err = uds.ListenDatagram(ctx, p)
	requireUnsupported(t, err)
	_, err = uds.Dial(ctx, p.WithType(uds.SeqPacket))
	requireUnsupported(t, err)
	_, err = uds.DialDatagram(ctx, p)
	requireUnsupported(t, err)
	_, err = diag.Probe(ctx, p)
	requireUnsupported(t, err)
	_, err = instance.LockFile(ctx, p.Name()+".lock")
	requireUnsupported(t, err)
	_, err = uds.FileListener(os.Stdin)
	requireUnsupported(t, err)
	_, err = uds.FileConn(os.Stdin)
	requireUnsupported(t, err)
	_, err = uds.FileDatagramConn(os.Stdin)
	requireUnsupported(t, err)
	for _, lc := range []uds.ListenConfig{{Mode: 0o600}, {Owner: "0"}, {Backlog: 1}, {PassCred: true}, {RefuseFiles: true}, {Authorize: uds.SameUser()}} {
		_, err = lc.Listen(ctx, p)
		requireUnsupported(t, err)
	}

	l, err := uds.Listen(ctx, p)
	require.NoError(t, err)
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			buf := make([]byte, 1)
			_, _ = c.Read(buf)
		}
	}()
	for _, d := range []uds.Dialer{{PassCred: true}, {RefuseFiles: true}, {LocalAddr: p}} {
		_, err = d.Dial(ctx, p)
		requireUnsupported(t, err)
	}
	c, err := uds.Dial(ctx, p)
	require.NoError(t, err)
	defer c.Close()
	_, err = uds.PeerCred(c)
	requireUnsupported(t, err)
	requireUnsupported(t, uds.WriteMsg(c, &uds.Message{Buf: []byte("x"), Files: []*os.File{os.Stdin}}))
	requireUnsupported(t, uds.ReadMsg(c, &uds.Message{Buf: make([]byte, 1), Files: make([]*os.File, 0, 1)}))
	own := &uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}
	requireUnsupported(t, uds.WriteMsg(c, &uds.Message{Buf: []byte("x"), Cred: own}))
	_, err = c.File()
	requireUnsupported(t, err)
	requireUnsupported(t, uds.PassCred(c, false))
	var _ net.Conn = c
}

// TestPlatformBSDStubs checks what darwin and FreeBSD lack.
func TestPlatformBSDStubs(t *testing.T) {
	if !bsd {
		t.Skip("darwin and FreeBSD only")
	}
	ctx := context.Background()
	if runtime.GOOS == "darwin" {
		_, _, err := uds.Pair(uds.SeqPacket)
		requireUnsupported(t, err)
		_, err = uds.Listen(ctx, uds.Path(filepath.Join(shortDir(t), "s.sock")).WithType(uds.SeqPacket))
		requireUnsupported(t, err)
	}
	a, b, err := uds.Pair(uds.Stream)
	require.NoError(t, err)
	defer a.Close()
	defer b.Close()
	requireUnsupported(t, uds.PassCred(a, false))
	own := &uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}
	requireUnsupported(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("x"), Cred: own}))
	// PeerCred works, without a PIDFD (SO_PEERPIDFD is Linux's).
	pc, err := uds.PeerCred(a)
	require.NoError(t, err)
	assert.Nil(t, pc.PIDFD)
	assert.Equal(t, os.Geteuid(), pc.UID)
	lc := uds.ListenConfig{PassCred: true}
	_, err = lc.Listen(ctx, uds.Path(filepath.Join(shortDir(t), "c.sock")))
	requireUnsupported(t, err)
	lc = uds.ListenConfig{RefuseFiles: true}
	_, err = lc.Listen(ctx, uds.Path(filepath.Join(shortDir(t), "r.sock")))
	requireUnsupported(t, err)
	l, err := uds.Listen(ctx, uds.Path(filepath.Join(shortDir(t), "d.sock")))
	require.NoError(t, err)
	defer l.Close()
	_, err = (&uds.Dialer{RefuseFiles: true}).Dial(ctx, l.Addr().(uds.Addr))
	requireUnsupported(t, err)
}
