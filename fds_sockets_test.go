//go:build linux

package uds_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
)

// fdNonblocking reports whether the socket behind c is in non-blocking mode.
func fdNonblocking(t *testing.T, c syscall.Conn) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var flags int
	var ferr error
	require.NoError(t, rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }))
	require.NoError(t, ferr)
	return flags&unix.O_NONBLOCK != 0
}

func fdExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fdPing connects to a, sends ping and expects it back from an echo server
// running on ln (accepting one connection).
func fdPing(t *testing.T, a uds.Addr, accept func() (net.Conn, error)) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err == nil {
			_, err = c.Write(buf[:n])
		}
		done <- err
	}()
	c, err := uds.Dial(msgCtx(t), a)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:n]))
	require.NoError(t, <-done)
}

// TestFileListener: a listener rebuilt from a descriptor has the exact
// address, accepts from the same queue, and never removes the path; the
// original keeps its ownership, which SetUnlinkOnClose(false) gives up.
func TestFileListener(t *testing.T) {
	addrs := map[string]func(t *testing.T) uds.Addr{
		"path":     func(t *testing.T) uds.Addr { return uds.Path(filepath.Join(mkSockDir(t), "l.sock")) },
		"abstract": func(*testing.T) uds.Addr { return uds.Abstract(uniqTag() + "\x00with NUL") },
		"autobind": func(*testing.T) uds.Addr { return uds.Autobind() },
	}
	for name, mk := range addrs {
		for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket} {
			t.Run(name+"/"+typ.String(), func(t *testing.T) {
				a := mk(t).WithType(typ)
				orig, err := uds.Listen(msgCtx(t), a)
				require.NoError(t, err)
				defer orig.Close()
				f, err := orig.File()
				require.NoError(t, err)
				_ = f.Fd()
				assert.True(t, fdNonblocking(t, orig), "File().Fd() leaves the listener non-blocking")
				copyLn, err := uds.FileListener(f)
				require.NoError(t, err)
				require.NoError(t, f.Close())
				assert.Equal(t, orig.Addr(), copyLn.Addr(), "exact address")
				la := copyLn.Addr().(uds.Addr)
				assert.Equal(t, typ, la.Type())

				fdPing(t, la, copyLn.Accept)
				require.NoError(t, copyLn.Close())
				if a.Kind() == uds.KindPath {
					assert.True(t, fdExists(a.Name()), "the rebuilt listener did not create the path and leaves it")
				}
				fdPing(t, la, orig.Accept) // the original still serves

				if a.Kind() == uds.KindPath {
					orig.SetUnlinkOnClose(false)
					require.NoError(t, orig.Close())
					assert.True(t, fdExists(a.Name()), "SetUnlinkOnClose(false) keeps the path")
					assert.False(t, fdExists(a.Name()+".lock"), "the lock is released and removed")
				}
			})
		}
	}
	t.Run("SetUnlinkOnClose(true) after SetUnlinkOnClose(false)", func(t *testing.T) {
		a := uds.Path(filepath.Join(mkSockDir(t), "k.sock"))
		ln, err := uds.Listen(msgCtx(t), a)
		require.NoError(t, err)
		ln.SetUnlinkOnClose(false)
		ln.SetUnlinkOnClose(true)
		require.NoError(t, ln.Close())
		assert.False(t, fdExists(a.Name()))
	})
}

// TestFileConns: connections and datagram sockets rebuilt from descriptors
// keep their exact addresses and work; a rebuilt datagram socket never
// removes the path.
func TestFileConns(t *testing.T) {
	dir := mkSockDir(t)
	t.Run("stream", func(t *testing.T) {
		ln, err := uds.Listen(msgCtx(t), uds.Path(filepath.Join(dir, "s.sock")))
		require.NoError(t, err)
		defer ln.Close()
		d := uds.Dialer{LocalAddr: uds.Abstract(uniqTag())}
		cli, err := d.Dial(msgCtx(t), ln.Addr().(uds.Addr))
		require.NoError(t, err)
		defer cli.Close()
		srv, err := acceptConn(ln)
		require.NoError(t, err)
		defer srv.Close()
		for _, orig := range []*uds.Conn{cli, srv} {
			f, err := orig.File()
			require.NoError(t, err)
			_ = f.Fd()
			assert.True(t, fdNonblocking(t, orig))
			c, err := uds.FileConn(f)
			f.Close()
			require.NoError(t, err)
			assert.Equal(t, orig.LocalAddr(), c.LocalAddr())
			assert.Equal(t, orig.RemoteAddr(), c.RemoteAddr())
			_, err = c.Write([]byte("via copy"))
			require.NoError(t, err)
			other := srv
			if orig == srv {
				other = cli
			}
			buf := make([]byte, 16)
			n, err := other.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "via copy", string(buf[:n]))
			require.NoError(t, c.Close())
		}
	})
	t.Run("seqpacket", func(t *testing.T) {
		ln := udsListen(t, nil, uds.Abstract(uniqTag()).WithType(uds.SeqPacket))
		cli, srv := udsConnect(t, ln, &uds.Dialer{}, ln.Addr().(uds.Addr))
		for _, orig := range []*uds.Conn{cli, srv} {
			f, err := orig.File()
			require.NoError(t, err)
			c, err := uds.FileConn(f)
			f.Close()
			require.NoError(t, err)
			assert.Equal(t, uds.SeqPacket, c.LocalAddr().(uds.Addr).Type())
			assert.Equal(t, orig.LocalAddr(), c.LocalAddr())
			assert.Equal(t, orig.RemoteAddr(), c.RemoteAddr())
			other := srv
			if orig == srv {
				other = cli
			}
			_, err = c.Write(nil)
			require.NoError(t, err)
			n, err := other.Read(make([]byte, 4))
			require.NoError(t, err, "an empty message, not the end")
			assert.Zero(t, n)
			require.NoError(t, c.Close())
		}
	})
	t.Run("datagram bound to a path", func(t *testing.T) {
		a := uds.Path(filepath.Join(dir, "d.sock"))
		orig := msgListenDatagram(t, nil, a)
		f, err := orig.File()
		require.NoError(t, err)
		c, err := uds.FileDatagramConn(f)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, orig.LocalAddr(), c.LocalAddr())
		assert.Nil(t, c.RemoteAddr())
		sender := msgListenDatagram(t, nil, uds.Autobind())
		require.NoError(t, uds.WriteMsg(sender, &uds.Message{Buf: []byte("hi"), Addr: a}))
		m := uds.Message{Buf: make([]byte, 8)}
		require.NoError(t, uds.ReadMsg(c, &m))
		assert.Equal(t, "hi", string(m.Buf[:m.N]))
		assert.Equal(t, sender.LocalAddr(), m.Addr)
		require.NoError(t, c.Close())
		assert.True(t, fdExists(a.Name()), "the rebuilt socket did not create the path and leaves it")
		orig.SetUnlinkOnClose(false)
		require.NoError(t, orig.Close())
		assert.True(t, fdExists(a.Name()), "SetUnlinkOnClose(false) keeps the path")
	})
	t.Run("datagram connected", func(t *testing.T) {
		srvAddr := uds.Abstract(uniqTag())
		srv := msgListenDatagram(t, nil, srvAddr)
		orig := msgDialDatagram(t, nil, srvAddr)
		f, err := orig.File()
		require.NoError(t, err)
		c, err := uds.FileDatagramConn(f)
		f.Close()
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, orig.LocalAddr(), c.LocalAddr(), "the autobind name")
		assert.Equal(t, orig.RemoteAddr(), c.RemoteAddr())
		_, err = c.Write([]byte("connected"))
		require.NoError(t, err)
		m := uds.Message{Buf: make([]byte, 16)}
		require.NoError(t, uds.ReadMsg(srv, &m))
		assert.Equal(t, "connected", string(m.Buf[:m.N]))
		assert.Equal(t, orig.LocalAddr(), m.Addr)
	})
}

// TestFileWrongKind: the constructors refuse descriptors of the wrong kind,
// name what they got, and leak nothing.
func TestFileWrongKind(t *testing.T) {
	dir := mkSockDir(t)
	ln, err := uds.Listen(msgCtx(t), uds.Abstract(uniqTag()))
	require.NoError(t, err)
	defer ln.Close()
	spl, err := uds.Listen(msgCtx(t), uds.Abstract(uniqTag()).WithType(uds.SeqPacket))
	require.NoError(t, err)
	defer spl.Close()
	a, _ := pairOf(t, pairType(uds.Stream))
	sp, _ := pairOf(t, pairType(uds.SeqPacket))
	dg, _ := pairOf(t, uds.DatagramPair)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tl.Close()
	unconnected, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	unconnectedF := os.NewFile(uintptr(unconnected), "unconnected")
	defer unconnectedF.Close()
	regular, err := os.Create(filepath.Join(dir, "regular"))
	require.NoError(t, err)
	defer regular.Close()

	file := func(c interface{ File() (*os.File, error) }) *os.File {
		f, err := c.File()
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	tf, err := tl.(*net.TCPListener).File()
	require.NoError(t, err)
	defer tf.Close()

	listener := func(f *os.File) error { _, err := uds.FileListener(f); return err }
	cases := []struct {
		name  string
		f     *os.File
		build func(*os.File) error
		want  string
	}{
		{"datagram as listener", file(dg), listener, "is a datagram socket, not a stream or seqpacket socket"},
		{"datagram as connection", file(dg), func(f *os.File) error { _, err := uds.FileConn(f); return err }, "is a datagram socket, not a stream or seqpacket socket"},
		{"connection as listener", file(a), listener, "not listening"},
		{"seqpacket connection as listener", file(sp), listener, "seqpacket socket that is not listening"},
		{"listener as connection", file(ln), func(f *os.File) error { _, err := uds.FileConn(f); return err }, "listening stream socket, not a connection"},
		{"seqpacket listener as connection", file(spl), func(f *os.File) error { _, err := uds.FileConn(f); return err }, "listening seqpacket socket, not a connection"},
		{"stream as datagram", file(a), func(f *os.File) error { _, err := uds.FileDatagramConn(f); return err }, "not a datagram socket"},
		{"seqpacket as datagram", file(sp), func(f *os.File) error { _, err := uds.FileDatagramConn(f); return err }, "is a seqpacket socket, not a datagram socket"},
		{"unconnected stream", unconnectedF, func(f *os.File) error { _, err := uds.FileConn(f); return err }, "not connected"},
		{"TCP listener", tf, listener, "not a Unix socket"},
		{"regular file", regular, func(f *os.File) error { _, err := uds.FileConn(f); return err }, "is not a socket"},
		{"nil file", nil, func(f *os.File) error { _, err := uds.FileConn(f); return err }, "invalid argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := openFDCount(t)
			err := c.build(c.f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			var oe *net.OpError
			assert.ErrorAs(t, err, &oe)
			if strings.Contains(c.name, "TCP") || strings.Contains(c.name, "regular") {
				assert.ErrorIs(t, err, uds.ErrNotSocket)
			}
			assert.Equal(t, before, openFDCount(t), "nothing leaked")
		})
	}
}

// ---- another process rebuilds every kind of socket ----------------------

const roleFDsRebuild = "fds-rebuild" // fd 3: a seqpacket socket bringing the sockets

func init() { childproc.Register(roleFDsRebuild, childFDsRebuild) }

type fdsRebuildReport struct {
	Listener, SeqPacketListener string
	ConnLocal, ConnRemote       string
	SPLocal, SPRemote           string
	Datagram                    string
}

func childFDsRebuild([]string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	f := os.NewFile(3, "carrier")
	carrier, err := uds.FileConn(f)
	if err != nil {
		return fail(err)
	}
	f.Close()
	buf := make([]byte, 256)
	m := uds.Message{Buf: buf, Files: make([]*os.File, 0, 5)}
	if err := uds.ReadMsg(carrier, &m); err != nil {
		return fail(err)
	}
	n, files := m.N, m.Files
	if len(files) != 5 {
		return fail(fmt.Errorf("got %d files", len(files)))
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	ln, err := uds.FileListener(files[0])
	if err != nil {
		return fail(err)
	}
	spl, err := uds.FileListener(files[1])
	if err != nil {
		return fail(err)
	}
	c, err := uds.FileConn(files[2])
	if err != nil {
		return fail(err)
	}
	sp, err := uds.FileConn(files[3])
	if err != nil {
		return fail(err)
	}
	dg, err := uds.FileDatagramConn(files[4])
	if err != nil {
		return fail(err)
	}
	r := fdsRebuildReport{
		Listener: ln.Addr().String(), SeqPacketListener: spl.Addr().String(),
		ConnLocal: c.LocalAddr().String(), ConnRemote: c.RemoteAddr().String(),
		SPLocal: sp.LocalAddr().String(), SPRemote: sp.RemoteAddr().String(),
		Datagram: dg.LocalAddr().String(),
	}
	// Use each: the parent checks what arrives.
	if _, err := c.Write([]byte("stream from child")); err != nil {
		return fail(err)
	}
	if _, err := sp.Write([]byte("seqpacket from child")); err != nil {
		return fail(err)
	}
	to, err := uds.ParseAddr(string(buf[:n]))
	if err != nil {
		return fail(err)
	}
	if err := uds.WriteMsg(dg, &uds.Message{Buf: []byte("datagram from child"), Addr: to}); err != nil {
		return fail(err)
	}
	for _, l := range []*uds.Listener{ln, spl} {
		conn, err := l.Accept()
		if err != nil {
			return fail(err)
		}
		conn.Write([]byte("accepted by child"))
		conn.Close()
	}
	out, _ := json.Marshal(r)
	fmt.Println(childproc.Ready, string(out))
	for _, c := range []interface{ Close() error }{ln, spl, c, sp, dg} {
		if err := c.Close(); err != nil {
			return fail(err)
		}
	}
	return 0
}

// TestFileSocketsToAnotherProcess: listeners, connections and a datagram
// socket sent to another process come back to life there with their exact
// addresses and types, and work; the child's Close removes no path.
func TestFileSocketsToAnotherProcess(t *testing.T) {
	dir := mkSockDir(t)
	ln, err := uds.Listen(msgCtx(t), uds.Path(filepath.Join(dir, "stream.sock")))
	require.NoError(t, err)
	defer ln.Close()
	spl, err := uds.Listen(msgCtx(t), uds.Abstract(uniqTag()+"\x00\x01spl").WithType(uds.SeqPacket))
	require.NoError(t, err)
	defer spl.Close()
	myConn, theirConn := pairOf(t, pairType(uds.Stream))
	spLn := udsListen(t, nil, uds.Abstract(uniqTag()).WithType(uds.SeqPacket))
	mySP, theirSP := udsConnect(t, spLn, &uds.Dialer{}, spLn.Addr().(uds.Addr))
	dgAddr := uds.Path(filepath.Join(dir, "dgram.sock"))
	dg := msgListenDatagram(t, nil, dgAddr)
	sink := msgListenDatagram(t, nil, uds.Abstract(uniqTag()+"-sink"))

	carrier, childEnd := pairFiles(t, uds.SeqPacket)
	defer carrier.Close()
	child := childproc.Start(t, childproc.Options{ExtraFiles: []*os.File{childEnd}}, roleFDsRebuild)
	childEnd.Close()

	var files []*os.File
	for _, s := range []interface{ File() (*os.File, error) }{ln, spl, theirConn, theirSP, dg} {
		f, err := s.File()
		require.NoError(t, err)
		defer f.Close()
		files = append(files, f)
	}
	require.NoError(t, uds.WriteMsg(carrier, &uds.Message{Buf: []byte(sink.LocalAddr().String()), Files: files}))

	// The listeners accept in the child.
	for _, dial := range []func() (net.Conn, error){
		func() (net.Conn, error) { return uds.Dial(msgCtx(t), ln.Addr().(uds.Addr)) },
		func() (net.Conn, error) { return uds.Dial(msgCtx(t), spl.Addr().(uds.Addr)) },
	} {
		c, err := dial()
		require.NoError(t, err)
		buf := make([]byte, 32)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := c.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "accepted by child", string(buf[:n]))
		c.Close()
	}
	var r fdsRebuildReport
	require.NoError(t, json.Unmarshal([]byte(child.WaitReady()), &r))
	assert.Equal(t, 0, child.Wait(10*time.Second), child.Stderr())

	assert.Equal(t, ln.Addr().String(), r.Listener)
	assert.Equal(t, spl.Addr().String(), r.SeqPacketListener)
	assert.Equal(t, theirConn.LocalAddr().String(), r.ConnLocal)
	assert.Equal(t, theirConn.RemoteAddr().String(), r.ConnRemote)
	assert.Equal(t, theirSP.LocalAddr().String(), r.SPLocal)
	assert.Equal(t, theirSP.RemoteAddr().String(), r.SPRemote)
	assert.Equal(t, dg.LocalAddr().String(), r.Datagram)

	buf := make([]byte, 32)
	n, err := myConn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "stream from child", string(buf[:n]))
	n, err = mySP.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "seqpacket from child", string(buf[:n]))
	m := uds.Message{Buf: buf}
	require.NoError(t, uds.ReadMsg(sink, &m))
	assert.Equal(t, "datagram from child", string(buf[:m.N]))
	assert.Equal(t, dg.LocalAddr(), m.Addr, "the child sent from the very socket")

	assert.True(t, fdExists(ln.Addr().(uds.Addr).Name()), "the child's Close removed nothing")
	assert.True(t, fdExists(dgAddr.Name()))
	fdPing(t, ln.Addr().(uds.Addr), ln.Accept) // and the listener still serves here
}
