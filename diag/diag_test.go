//go:build linux

package diag_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/childproc"
)

const roleDiagListen = "diag-listen" // args: address text; Listen, accept and close

func init() {
	childproc.Register(roleDiagListen, childDiagListen)
}

func childDiagListen(args []string) int {
	a, err := uds.ParseAddr(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := uds.Listen(context.Background(), a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	for {
		c, err := ln.Accept()
		if err != nil {
			return 0
		}
		c.Close()
	}
}

// startTool starts an external program that runs until the test ends.
func startTool(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // kept open: nc and python3 wait on it
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// procKey is one descriptor of one process.
type procKey struct{ PID, FD int }

// ssEntry is one socket as "ss -xlpn" prints it.
type ssEntry struct {
	Addr  string
	Procs []procKey
}

var ssUsers = regexp.MustCompile(`\("[^"]*",pid=(\d+),fd=(\d+)\)`)

// ssByInode runs "ss -xlpn" and returns the listening sockets by inode.
func ssByInode(t *testing.T) map[uint64]ssEntry {
	t.Helper()
	out, err := exec.Command(requireTool(t, "ss"), "-xlpnH").Output()
	require.NoError(t, err)
	m := map[uint64]ssEntry{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// u_str LISTEN 0 5 /tmp/x.sock 12345 * 0 users:(("nc",pid=1,fd=3))
		if len(f) < 8 {
			continue
		}
		ino, err := strconv.ParseUint(f[5], 10, 64)
		if err != nil {
			continue
		}
		e := ssEntry{Addr: f[4]}
		for _, m := range ssUsers.FindAllStringSubmatch(sc.Text(), -1) {
			pid, _ := strconv.Atoi(m[1])
			fd, _ := strconv.Atoi(m[2])
			e.Procs = append(e.Procs, procKey{pid, fd})
		}
		slices.SortFunc(e.Procs, cmpProc)
		m[ino] = e
	}
	return m
}

func cmpProc(a, b procKey) int {
	if a.PID != b.PID {
		return a.PID - b.PID
	}
	return a.FD - b.FD
}

func procKeys(s diag.Socket) []procKey {
	var ks []procKey
	for _, p := range s.Procs {
		ks = append(ks, procKey{p.PID, p.FD})
	}
	slices.SortFunc(ks, cmpProc)
	return ks
}

// requireAgreesWithSS checks that every listener in socks is in "ss -xlpn"
// with the same processes and descriptors, and, when ssAddr is not empty,
// that ss lists no other listener at ssAddr.
func requireAgreesWithSS(t *testing.T, socks []diag.Socket, ssAddr string) {
	t.Helper()
	ss := ssByInode(t)
	var ours []uint64
	for _, s := range socks {
		if s.State != diag.StateListen {
			continue
		}
		ours = append(ours, s.Inode)
		e, ok := ss[s.Inode]
		require.True(t, ok, "ss -xlpn does not list socket %d (%s)", s.Inode, s.Addr)
		assert.Equal(t, e.Procs, procKeys(s), "processes of %s (inode %d)", s.Addr, s.Inode)
		assert.NotEmpty(t, e.Procs)
	}
	if ssAddr != "" {
		var theirs []uint64
		for ino, e := range ss {
			if e.Addr == ssAddr {
				theirs = append(theirs, ino)
			}
		}
		slices.Sort(ours)
		slices.Sort(theirs)
		assert.Equal(t, theirs, ours, "listeners at %s", ssAddr)
	}
}

// waitWho waits until Who(a) returns n sockets and returns them.
func waitWho(t *testing.T, a uds.Addr, n int) []diag.Socket {
	t.Helper()
	var socks []diag.Socket
	require.Eventually(t, func() bool {
		var err error
		socks, err = diag.Who(context.Background(), a)
		require.NoError(t, err)
		if len(socks) != n {
			return false
		}
		for _, s := range socks {
			if len(s.Procs) == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "Who(%s) never found %d sockets", a, n)
	return socks
}

func pids(s diag.Socket) []int {
	var ps []int
	for _, p := range s.Procs {
		ps = append(ps, p.PID)
	}
	return ps
}

func TestWhoExternalListeners(t *testing.T) {
	dir := mkSockDir(t)
	ncPath := filepath.Join(dir, "nc.sock")
	socatPath := filepath.Join(dir, "socat.sock")
	childPath := filepath.Join(dir, "child.sock")
	socatName := uniqTag() + "-socat"
	pyName := uniqTag() + "-py"
	childName := uniqTag() + "-child"

	nc := startTool(t, "nc", "-lU", ncPath)
	socat := startTool(t, "socat", "UNIX-LISTEN:"+socatPath+",fork", "EXEC:cat")
	socatAbs := startTool(t, "socat", "ABSTRACT-LISTEN:"+socatName+",fork", "EXEC:cat")
	py := startTool(t, "python3", "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + bytes.fromhex(sys.argv[1]))
s.listen(3)
sys.stdin.read()
`, hex.EncodeToString([]byte(pyName)))
	childP := childproc.Start(t, childproc.Options{}, roleDiagListen, childPath)
	childA := childproc.Start(t, childproc.Options{}, roleDiagListen, "@"+childName)
	childP.WaitReady()
	childA.WaitReady()

	for _, tc := range []struct {
		addr uds.Addr
		pid  int
	}{
		{uds.Path(ncPath), nc.Process.Pid},
		{uds.Path(socatPath), socat.Process.Pid},
		{uds.Abstract(socatName), socatAbs.Process.Pid},
		{uds.Abstract(pyName), py.Process.Pid},
		{uds.Path(childPath), childP.PID()},
		{uds.Abstract(childName), childA.PID()},
	} {
		t.Run(tc.addr.String(), func(t *testing.T) {
			socks := waitWho(t, tc.addr, 1)
			s := socks[0]
			assert.Equal(t, tc.addr, s.Addr)
			assert.Equal(t, uds.Stream, s.Type)
			assert.Equal(t, diag.StateListen, s.State)
			assert.False(t, s.Shadowed)
			assert.Equal(t, []int{tc.pid}, pids(s))
			assert.NotEmpty(t, s.Procs[0].Comm)
			assert.Equal(t, os.Getuid(), s.UID)
			if tc.addr.Kind() == uds.KindPath {
				var st unix.Stat_t
				require.NoError(t, unix.Lstat(tc.addr.Name(), &st))
				assert.Equal(t, st.Dev, s.FileDev)
				assert.Equal(t, st.Ino, s.FileIno)
			} else {
				assert.Zero(t, s.FileIno)
			}
			requireAgreesWithSS(t, socks, tc.addr.String())
		})
	}
}

func TestWhoShadowedByNC(t *testing.T) {
	path := filepath.Join(mkSockDir(t), "socket")
	a := uds.Path(path)
	nc1 := startTool(t, "nc", "-lU", path)
	first := waitWho(t, a, 1)
	require.Equal(t, []int{nc1.Process.Pid}, pids(first[0]))
	assert.False(t, first[0].Shadowed)

	// The second nc removes the first one's file and binds its own.
	nc2 := startTool(t, "nc", "-lU", path)
	socks := waitWho(t, a, 2)
	assert.Equal(t, []int{nc2.Process.Pid}, pids(socks[0]), "the socket at the path comes first")
	assert.False(t, socks[0].Shadowed)
	assert.Equal(t, []int{nc1.Process.Pid}, pids(socks[1]))
	assert.True(t, socks[1].Shadowed, "the first nc's socket is no longer reachable by its path")
	assert.Equal(t, first[0].Inode, socks[1].Inode)
	for _, s := range socks {
		assert.Equal(t, a, s.Addr, "both are bound under the same name")
		assert.Equal(t, diag.StateListen, s.State)
	}
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	assert.Equal(t, st.Ino, socks[0].FileIno)
	assert.NotEqual(t, st.Ino, socks[1].FileIno)
	requireAgreesWithSS(t, socks, path)

	// Sockets marks the shadowed one too.
	all, err := diag.Sockets(context.Background())
	require.NoError(t, err)
	matched := 0
	for _, s := range all {
		switch s.Inode {
		case socks[0].Inode:
			matched++
			assert.False(t, s.Shadowed)
		case socks[1].Inode:
			matched++
			assert.True(t, s.Shadowed)
		}
	}
	require.Equal(t, 2, matched, "both listeners are in Sockets")

	// A client reaches the second nc only: it serves that one connection
	// and exits, leaving its socket file behind and the first nc shadowed.
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()
	socks = waitWho(t, a, 1)
	assert.Equal(t, []int{nc1.Process.Pid}, pids(socks[0]))
	assert.True(t, socks[0].Shadowed)

	// Still shadowed when the file is gone.
	require.NoError(t, os.Remove(path))
	socks = waitWho(t, a, 1)
	assert.Equal(t, []int{nc1.Process.Pid}, pids(socks[0]))
	assert.True(t, socks[0].Shadowed)
}

func listenerFD(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(f uintptr) { fd = int(f) }))
	return fd
}

func TestWhoRenamedAndRelative(t *testing.T) {
	dir := mkSockDir(t)
	orig := filepath.Join(dir, "orig.sock")
	moved := filepath.Join(dir, "moved.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(orig))
	require.NoError(t, err)
	defer ln.Close()
	fd := listenerFD(t, ln)
	self := []diag.Proc{{PID: os.Getpid(), Comm: comm(t, os.Getpid()), FD: fd}}

	socks, err := diag.Who(context.Background(), uds.Path(orig))
	require.NoError(t, err)
	require.Len(t, socks, 1)
	assert.Equal(t, self, socks[0].Procs)

	require.NoError(t, os.Rename(orig, moved))
	socks, err = diag.Who(context.Background(), uds.Path(moved))
	require.NoError(t, err)
	require.Len(t, socks, 1, "found by the file's inode after a rename")
	assert.Equal(t, uds.Path(orig), socks[0].Addr, "the bound name stays the kernel's")
	assert.False(t, socks[0].Shadowed)
	assert.Equal(t, self, socks[0].Procs)

	cwd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(cwd, moved)
	require.NoError(t, err)
	socks, err = diag.Who(context.Background(), uds.Path(rel))
	require.NoError(t, err)
	require.Len(t, socks, 1, "relative path %s", rel)
	assert.False(t, socks[0].Shadowed)

	// Through another name of the directory.
	link := filepath.Join(mkSockDir(t), "d")
	require.NoError(t, os.Symlink(dir, link))
	socks, err = diag.Who(context.Background(), uds.Path(filepath.Join(link, "moved.sock")))
	require.NoError(t, err)
	require.Len(t, socks, 1)

	// The old name: the socket is bound there by name but unreachable.
	socks, err = diag.Who(context.Background(), uds.Path(orig))
	require.NoError(t, err)
	require.Len(t, socks, 1)
	assert.True(t, socks[0].Shadowed)

	// A symbolic link to the socket is not followed.
	sym := filepath.Join(dir, "sym.sock")
	require.NoError(t, os.Symlink(moved, sym))
	socks, err = diag.Who(context.Background(), uds.Path(sym))
	require.NoError(t, err)
	assert.Empty(t, socks)

	socks, err = diag.Who(context.Background(), uds.Path(filepath.Join(dir, "none.sock")))
	require.NoError(t, err)
	assert.Empty(t, socks)
}

func comm(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestWhoLeavesOutAcceptedConnections(t *testing.T) {
	path := filepath.Join(mkSockDir(t), "acc.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer ln.Close()
	c, err := uds.Dial(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer c.Close()
	sc, err := ln.Accept()
	require.NoError(t, err)
	defer sc.Close()

	socks, err := diag.Who(context.Background(), uds.Path(path))
	require.NoError(t, err)
	require.Len(t, socks, 1)
	assert.Equal(t, diag.StateListen, socks[0].State)

	all, err := diag.Sockets(context.Background())
	require.NoError(t, err)
	acceptedFD := listenerFD(t, sc.(syscall.Conn))
	var accepted *diag.Socket
	for i, s := range all {
		for _, p := range s.Procs {
			if p.PID == os.Getpid() && p.FD == acceptedFD {
				accepted = &all[i]
			}
		}
	}
	require.NotNil(t, accepted)
	assert.Equal(t, uds.Path(path), accepted.Addr, "an accepted connection carries the listener's address")
	assert.Equal(t, diag.StateEstablished, accepted.State)
	assert.Equal(t, socks[0].FileIno, accepted.FileIno)
	assert.NotZero(t, accepted.Peer)
}

func TestAbstractNamesExact(t *testing.T) {
	base := uniqTag() + "-nul"
	names := []string{base, base + "\x00", base + "\x00a", base + "\x00a\x00", "\x00" + base}
	inodes := map[string]uint64{}
	for _, n := range names {
		ln, err := uds.Listen(context.Background(), uds.Abstract(n))
		require.NoError(t, err, "%q", n)
		defer ln.Close()
	}
	// Another process binds a name with NUL bytes too.
	pyName := base + "\x00py\x00\x00"
	py := startTool(t, "python3", "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(b"\0" + bytes.fromhex(sys.argv[1]))
s.listen(3)
sys.stdin.read()
`, hex.EncodeToString([]byte(pyName)))
	pySocks := waitWho(t, uds.Abstract(pyName), 1)
	assert.Equal(t, uds.Abstract(pyName).WithType(uds.SeqPacket), pySocks[0].Addr)
	assert.Equal(t, uds.SeqPacket, pySocks[0].Type)
	assert.Equal(t, []int{py.Process.Pid}, pids(pySocks[0]))
	requireAgreesWithSS(t, pySocks, "")

	all, err := diag.Sockets(context.Background())
	require.NoError(t, err)
	for _, s := range all {
		if s.Addr.Kind() == uds.KindAbstract && strings.Contains(s.Addr.Name(), base) {
			_, dup := inodes[s.Addr.Name()]
			assert.False(t, dup, "%q listed twice", s.Addr.Name())
			inodes[s.Addr.Name()] = s.Inode
		}
	}
	for _, n := range append(names, pyName) {
		assert.Contains(t, inodes, n, "Sockets lists %q exactly", n)
	}
	assert.Len(t, inodes, len(names)+1)

	for _, n := range names {
		socks, err := diag.Who(context.Background(), uds.Abstract(n))
		require.NoError(t, err)
		require.Len(t, socks, 1, "%q", n)
		assert.Equal(t, uds.Abstract(n), socks[0].Addr)
		assert.Equal(t, inodes[n], socks[0].Inode)
		assert.Equal(t, os.Getpid(), socks[0].Procs[0].PID)
		// The text form round-trips.
		back, err := uds.ParseAddr(socks[0].Addr.String())
		require.NoError(t, err)
		assert.Equal(t, uds.Abstract(n), back)
	}
	socks, err := diag.Who(context.Background(), uds.Abstract(base+"\x00a\x00\x00"))
	require.NoError(t, err)
	assert.Empty(t, socks)
}

func TestWhoAbstractEachType(t *testing.T) {
	name := uniqTag() + "-types"
	a := uds.Abstract(name)
	ln, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	defer ln.Close()
	sp, err := uds.Listen(context.Background(), a.WithType(uds.SeqPacket))
	require.NoError(t, err)
	defer sp.Close()
	dg, err := uds.ListenDatagram(context.Background(), a)
	require.NoError(t, err)
	defer dg.Close()

	socks, err := diag.Who(context.Background(), a.WithType(uds.Datagram))
	require.NoError(t, err, "Who ignores the address's type")
	require.Len(t, socks, 3)
	var types []uds.SocketType
	for _, s := range socks {
		types = append(types, s.Type)
		assert.Equal(t, a.WithType(s.Type), s.Addr)
		require.Len(t, s.Procs, 1)
		assert.Equal(t, os.Getpid(), s.Procs[0].PID)
	}
	slices.Sort(types)
	assert.Equal(t, []uds.SocketType{uds.Stream, uds.Datagram, uds.SeqPacket}, types)
	assert.Equal(t, diag.StateUnconnected, socks[2].State, "the datagram socket comes after the listeners")
	assert.Equal(t, listenerFD(t, dg), socks[2].Procs[0].FD)
}

func TestWhoInvalid(t *testing.T) {
	for _, a := range []uds.Addr{uds.Unnamed(), uds.Autobind(), uds.Path("")} {
		_, err := diag.Who(context.Background(), a)
		assert.ErrorIs(t, err, uds.ErrInvalidAddr, "%v", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := diag.Who(ctx, uds.Abstract("x"))
	assert.ErrorIs(t, err, context.Canceled)
	_, err = diag.Sockets(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func fdInode(t testing.TB, fd int) uint64 {
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	return st.Ino
}

func TestSocketsSocketpair(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	ino0, ino1 := fdInode(t, fds[0]), fdInode(t, fds[1])

	all, err := diag.Sockets(context.Background())
	require.NoError(t, err)
	require.True(t, slices.IsSortedFunc(all, func(a, b diag.Socket) int { return int(a.Inode) - int(b.Inode) }))
	byIno := map[uint64]diag.Socket{}
	for _, s := range all {
		byIno[s.Inode] = s
	}
	for i, ino := range []uint64{ino0, ino1} {
		s, ok := byIno[ino]
		require.True(t, ok, "socket %d listed", ino)
		assert.Equal(t, uds.KindUnnamed, s.Addr.Kind())
		assert.Equal(t, uds.SeqPacket, s.Type)
		assert.Equal(t, diag.StateEstablished, s.State)
		assert.Equal(t, []diag.Proc{{PID: os.Getpid(), Comm: comm(t, os.Getpid()), FD: fds[i]}}, s.Procs)
		assert.Equal(t, os.Getuid(), s.UID)
		assert.Zero(t, s.FileIno)
	}
	assert.Equal(t, ino1, byIno[ino0].Peer, "the peers link the two ends")
	assert.Equal(t, ino0, byIno[ino1].Peer)

	// Queued bytes show in the receive queue.
	_, err = unix.Write(fds[0], []byte("hello"))
	require.NoError(t, err)
	all, err = diag.Sockets(context.Background())
	require.NoError(t, err)
	found := false
	for _, s := range all {
		if s.Inode == ino1 {
			found = true
			assert.EqualValues(t, 5, s.RQueue)
		}
	}
	require.True(t, found, "socket %d listed again", ino1)
}

func TestSocketsPendingConnections(t *testing.T) {
	name := uniqTag() + "-pending"
	lc := uds.ListenConfig{Backlog: 7}
	ln, err := lc.Listen(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	defer ln.Close()
	var clients []uint64
	for range 2 {
		c, err := uds.Dial(context.Background(), uds.Abstract(name))
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, fdInode(t, listenerFD(t, c)))
	}
	socks, err := diag.Who(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	require.Len(t, socks, 1, "queued connections are left out")
	l := socks[0]
	assert.EqualValues(t, 2, l.RQueue, "Recv-Q of a listener: connections waiting")
	assert.EqualValues(t, 7, l.WQueue, "Send-Q of a listener: the backlog")
	require.Len(t, l.Pending, 2)

	all, err := diag.Sockets(context.Background())
	require.NoError(t, err)
	assert.ElementsMatch(t, clients, l.Pending, "the clients waiting to be accepted")
	byIno := map[uint64]diag.Socket{}
	for _, s := range all {
		byIno[s.Inode] = s
	}
	for _, ino := range clients {
		c, ok := byIno[ino]
		require.True(t, ok)
		assert.Equal(t, diag.StateEstablished, c.State)
		assert.Zero(t, c.Peer, "the server's end has no inode before accept")
	}

	// Once accepted, the client's peer is the accepted socket.
	sc, err := ln.Accept()
	require.NoError(t, err)
	defer sc.Close()
	accepted := fdInode(t, listenerFD(t, sc.(syscall.Conn)))
	all, err = diag.Sockets(context.Background())
	require.NoError(t, err)
	byIno = map[uint64]diag.Socket{}
	for _, s := range all {
		byIno[s.Inode] = s
	}
	client := byIno[accepted].Peer
	assert.Contains(t, clients, client)
	assert.Equal(t, accepted, byIno[client].Peer)
	assert.Equal(t, uds.Abstract(name), byIno[accepted].Addr, "the accepted end carries the listener's name")
	assert.Len(t, byIno[l.Inode].Pending, 1)
}

func TestSocketStateString(t *testing.T) {
	for s, want := range map[diag.SocketState]string{
		diag.StateListen: "listen", diag.StateEstablished: "established", diag.StateUnconnected: "unconnected",
		diag.StateConnecting: "connecting", 99: "state(99)",
	} {
		assert.Equal(t, want, s.String())
	}
}

// BenchmarkSockets10k lists a namespace with 10,000 more sockets (5,000
// socket pairs) than it had, all held by this process.
func BenchmarkSockets10k(b *testing.B) {
	const n = 10000
	var lim syscall.Rlimit
	require.NoError(b, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	orig := lim
	if need := uint64(n + 1024); lim.Cur < need {
		lim.Cur = need
		if lim.Max < need {
			lim.Max = need
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", need, err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for len(fds) < n {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(b, err)
		fds = append(fds, p[0], p[1])
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var count int
	for b.Loop() {
		socks, err := diag.Sockets(ctx)
		if err != nil {
			b.Fatal(err)
		}
		count = len(socks)
	}
	b.StopTimer()
	if count < n {
		b.Fatalf("listed %d sockets, want at least %d", count, n)
	}
	b.ReportMetric(float64(count), "sockets")
}
