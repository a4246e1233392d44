package sockdiag

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// message builds one netlink message of type typ and flags around body.
func message(typ, flags uint16, body []byte) []byte {
	l := unix.NLMSG_HDRLEN + len(body)
	b := make([]byte, nlmAlign(l))
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(l))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	copy(b[unix.NLMSG_HDRLEN:], body)
	return b
}

func attr(typ uint16, v []byte) []byte {
	l := unix.SizeofRtAttr + len(v)
	b := make([]byte, (l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1))
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], v)
	return b
}

func TestParseMessages(t *testing.T) {
	ne := binary.NativeEndian
	body := make([]byte, sizeofUnixDiagMsg)
	body[1], body[2] = unix.SOCK_STREAM, unix.BPF_TCP_LISTEN
	ne.PutUint32(body[4:], 1234)
	vfs := make([]byte, 8)
	ne.PutUint32(vfs[0:], 99)
	ne.PutUint32(vfs[4:], 8<<20|1) // major 8, minor 1
	icons := make([]byte, 8)
	ne.PutUint32(icons[0:], 5)
	ne.PutUint32(icons[4:], 6)
	uid := make([]byte, 4)
	ne.PutUint32(uid, 1000)
	rq := make([]byte, 8)
	ne.PutUint32(rq[0:], 2)
	ne.PutUint32(rq[4:], 128)
	peer := make([]byte, 4)
	ne.PutUint32(peer, 77)
	body = append(body, attr(unixDiagName, []byte("\x00abc"))...)
	body = append(body, attr(unixDiagVFS, vfs)...)
	body = append(body, attr(unixDiagIcons, icons)...)
	body = append(body, attr(unixDiagUID, uid)...)
	body = append(body, attr(unixDiagRQLen, rq)...)
	body = append(body, attr(unixDiagPeer, peer)...)
	b := append(message(unix.SOCK_DIAG_BY_FAMILY, 0, body), message(unix.NLMSG_DONE, 0, make([]byte, 4))...)

	var out []Socket
	done, err := parseMessages(b, &out)
	require.NoError(t, err)
	assert.True(t, done)
	require.Len(t, out, 1)
	s := out[0]
	assert.Equal(t, uint32(1234), s.Ino)
	assert.True(t, s.Listening())
	assert.Equal(t, "\x00abc", s.Name)
	assert.True(t, s.HasVFS)
	assert.Equal(t, unix.Mkdev(8, 1), s.VFSDev)
	assert.Equal(t, uint64(99), s.VFSIno)
	assert.Equal(t, []uint32{5, 6}, s.Icons)
	assert.True(t, s.HasUID)
	assert.Equal(t, uint32(1000), s.UID)
	assert.Equal(t, uint32(2), s.RQueue)
	assert.Equal(t, uint32(128), s.WQueue)
	assert.Equal(t, uint32(77), s.Peer)

	_, err = parseMessages(message(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP_INTR, body), &out)
	assert.ErrorIs(t, err, ErrDumpInterrupted)

	errBody := make([]byte, 4)
	errno := -int32(unix.EPERM)
	ne.PutUint32(errBody, uint32(errno))
	_, err = parseMessages(message(unix.NLMSG_ERROR, 0, errBody), &out)
	assert.ErrorIs(t, err, unix.EPERM)

	_, err = parseMessages([]byte{200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, &out)
	assert.Error(t, err, "a length past the buffer")
}

func TestRequest(t *testing.T) {
	req := request(unix.NLM_F_DUMP, 42, ShowAll, Connected)
	ne := binary.NativeEndian
	assert.Equal(t, uint32(len(req)), ne.Uint32(req[0:]))
	assert.Equal(t, uint16(unix.SOCK_DIAG_BY_FAMILY), ne.Uint16(req[4:]))
	assert.Equal(t, uint16(unix.NLM_F_REQUEST|unix.NLM_F_DUMP), ne.Uint16(req[6:]))
	r := req[unix.NLMSG_HDRLEN:]
	assert.Equal(t, byte(unix.AF_UNIX), r[0])
	assert.Equal(t, uint32(1<<unix.BPF_TCP_ESTABLISHED), ne.Uint32(r[4:]), "the states asked for")
	assert.Equal(t, uint32(42), ne.Uint32(r[8:]))
	assert.Equal(t, uint32(ShowAll), ne.Uint32(r[12:]))
}

// TestDumpFindsListener lists the sockets of the namespace, finds a
// listener bound to an abstract name and to a file, and its holder.
func TestDumpFindsListener(t *testing.T) {
	if Available() != nil {
		t.Skip("no sock_diag here")
	}
	dir := t.TempDir()
	path := dir + "/s"
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
	require.NoError(t, unix.Listen(fd, 1))
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))

	socks, err := Exact(uint32(st.Ino), ShowVFS|ShowName)
	require.NoError(t, err)
	require.Len(t, socks, 1)
	assert.Equal(t, path+"\x00", socks[0].Name)

	pfd, pst, err := Pin(unix.AT_FDCWD, path)
	require.NoError(t, err)
	defer unix.Close(pfd)
	all, err := Dump(ShowVFS)
	require.NoError(t, err)
	bound, err := NewFile(pfd, &pst).Bound(all)
	require.NoError(t, err)
	require.Len(t, bound, 1)
	assert.Equal(t, uint32(st.Ino), bound[0].Ino)
	assert.Equal(t, unix.Getpid(), Holder(bound))
	found, err := NewFile(pfd, &pst).BoundTo(context.Background())
	require.NoError(t, err)
	assert.Equal(t, bound, found, "BoundTo keeps what Dump and Bound find")

	afd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(afd)
	name := "sockdiag-test-" + t.Name()
	require.NoError(t, unix.Bind(afd, &unix.SockaddrUnix{Name: "@" + name}))
	match, err := AbstractBound(name, unix.SOCK_SEQPACKET)
	require.NoError(t, err)
	assert.Len(t, match, 1)
	match, err = AbstractBound(name, unix.SOCK_STREAM)
	require.NoError(t, err)
	assert.Empty(t, match, "each type has its own abstract names")
}

// inode returns the socket inode of fd.
func inode(t *testing.T, fd int) uint32 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	return uint32(st.Ino)
}

// TestScanStates checks that the kernel keeps to the states asked for: a
// socketpair is connected, a listener is not.
func TestScanStates(t *testing.T) {
	if Available() != nil {
		t.Skip("no sock_diag here")
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(ln)
	require.NoError(t, unix.Bind(ln, &unix.SockaddrUnix{Name: t.TempDir() + "/s"}))
	require.NoError(t, unix.Listen(ln, 1))
	pairIno, lnIno := inode(t, pair[0]), inode(t, ln)

	seen := func(states uint32) (pairSeen, lnSeen bool) {
		require.NoError(t, Scan(context.Background(), 0, states, func(s *Socket) {
			pairSeen = pairSeen || s.Ino == pairIno
			lnSeen = lnSeen || s.Ino == lnIno
		}))
		return
	}
	p, l := seen(Connected)
	assert.True(t, p, "a socketpair is connected")
	assert.False(t, l, "a listener is not connected")
	p, l = seen(Unconnected)
	assert.False(t, p)
	assert.True(t, l)
	p, l = seen(AllStates)
	assert.True(t, p)
	assert.True(t, l)
}

// TestBoundToConnected finds a bound socket that connected out, which the
// first, unconnected-only dump of BoundTo skips, and reports none for a
// file that no socket is bound to.
func TestBoundToConnected(t *testing.T) {
	if Available() != nil {
		t.Skip("no sock_diag here")
	}
	dir := t.TempDir()
	srv, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(srv)
	require.NoError(t, unix.Bind(srv, &unix.SockaddrUnix{Name: dir + "/srv"}))
	cli, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(cli)
	require.NoError(t, unix.Bind(cli, &unix.SockaddrUnix{Name: dir + "/cli"}))
	require.NoError(t, unix.Connect(cli, &unix.SockaddrUnix{Name: dir + "/srv"}))

	pfd, pst, err := Pin(unix.AT_FDCWD, dir+"/cli")
	require.NoError(t, err)
	defer unix.Close(pfd)
	found, err := NewFile(pfd, &pst).BoundTo(context.Background())
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, inode(t, cli), found[0].Ino)
	assert.Equal(t, uint8(unix.BPF_TCP_ESTABLISHED), found[0].State)

	unix.Close(srv) // the file stays; nothing is bound to it any more
	require.NoError(t, unix.Unlink(dir+"/cli"))
	require.NoError(t, unix.Mknod(dir+"/cli", unix.S_IFSOCK|0o600, 0))
	pfd2, pst2, err := Pin(unix.AT_FDCWD, dir+"/cli")
	require.NoError(t, err)
	defer unix.Close(pfd2)
	found, err = NewFile(pfd2, &pst2).BoundTo(context.Background())
	require.NoError(t, err)
	assert.Empty(t, found, "a socket file no socket is bound to")
}

// TestHolderBudget: Holder names this process as the holder of its own
// socket, and gives up (0, unknown) once its time budget is spent.
func TestHolderBudget(t *testing.T) {
	if Available() != nil {
		t.Skip("no sock_diag here")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	path := t.TempDir() + "/s"
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
	pfd, pst, err := Pin(unix.AT_FDCWD, path)
	require.NoError(t, err)
	defer unix.Close(pfd)
	bound, err := NewFile(pfd, &pst).BoundTo(context.Background())
	require.NoError(t, err)
	require.Len(t, bound, 1)

	assert.Equal(t, unix.Getpid(), Holder(bound), "within the default budget")
	saved := HolderBudget
	defer func() { HolderBudget = saved }()
	HolderBudget = 0 // spent before the first process is read
	assert.Zero(t, Holder(bound), "a spent budget names no one")
}
