//go:build linux

package uds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/udshttp"
)

// Child roles of the credential tests. Addresses are passed in their text
// form (uds.ParseAddr).
const (
	roleCredDial     = "cred-dial"      // args: stream|seqpacket, addr, hold|send|ping|exit
	roleCredListen   = "cred-listen"    // args: stream|seqpacket, addr, hold|greet; hold (greet) what connects
	roleCredHTTP     = "cred-http"      // args: addr; one GET per byte read from fd 3
	roleCredSendgram = "cred-sendgram"  // args: addr; DialDatagram, send "hello <pid>", hold
	roleCredWrite    = "cred-writecred" // args: addr; WriteMsg with its own credentials, then claims of others
	roleCredHold     = "cred-hold"      // print READY <pid> and wait to be killed
)

func init() {
	childproc.Register(roleCredDial, childCredDial)
	childproc.Register(roleCredListen, childCredListen)
	childproc.Register(roleCredHTTP, childCredHTTP)
	childproc.Register(roleCredSendgram, childCredSendgram)
	childproc.Register(roleCredWrite, childCredWrite)
	childproc.Register(roleCredHold, childCredHold)
}

// ---- child roles ----------------------------------------------------------

func credOneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func childCredDial(args []string) int {
	a, err := uds.ParseAddr(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c net.Conn
	switch args[0] {
	case "stream":
		c, err = uds.Dial(ctx, a)
	case "seqpacket":
		c, err = uds.Dial(ctx, a.WithType(uds.SeqPacket))
	default:
		err = fmt.Errorf("unknown type %q", args[0])
	}
	if err != nil {
		fmt.Println(childproc.Ready, "DIALERR", credOneLine(err))
		return 0
	}
	pid := os.Getpid()
	switch args[2] {
	case "hold":
		fmt.Println(childproc.Ready, pid)
		select {}
	case "send":
		if _, err := c.Write([]byte("early " + strconv.Itoa(pid))); err != nil {
			fmt.Println(childproc.Ready, "WRITEERR", credOneLine(err))
			return 0
		}
		fmt.Println(childproc.Ready, pid)
		select {}
	case "exit":
		fmt.Println(childproc.Ready, pid)
		return 0
	case "ping":
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			fmt.Println(childproc.Ready, "REFUSED", credOneLine(err))
			return 0
		}
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		switch {
		case err != nil:
			fmt.Println(childproc.Ready, "REFUSED", credOneLine(err))
		case string(buf[:n]) != "pong":
			fmt.Println(childproc.Ready, "BADREPLY", strconv.Quote(string(buf[:n])))
		default:
			fmt.Println(childproc.Ready, "OK")
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown mode", args[2])
	return 2
}

func childCredListen(args []string) int {
	a, err := uds.ParseAddr(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var ln net.Listener
	if args[0] == "seqpacket" {
		ln, err = uds.Listen(context.Background(), a.WithType(uds.SeqPacket))
	} else {
		ln, err = uds.Listen(context.Background(), a)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	var held []net.Conn // keep accepted conns open until the child ends
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return 0
		}
		if args[2] == "greet" {
			c.Write([]byte("hello " + strconv.Itoa(os.Getpid())))
		}
		held = append(held, c)
	}
}

func childCredHTTP(args []string) int {
	a, err := uds.ParseAddr(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	client := udshttp.Client(a)
	client.Transport.(*http.Transport).DisableKeepAlives = true // every GET goes through Accept
	client.Timeout = 10 * time.Second
	ctl := os.NewFile(3, "ctl")
	fmt.Println(childproc.Ready, os.Getpid())
	var b [1]byte
	for {
		if _, err := ctl.Read(b[:]); err != nil {
			return 0
		}
		resp, err := client.Get("http://unix/who")
		if err != nil {
			fmt.Println("RESULT ERR", credOneLine(err))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("RESULT", resp.StatusCode, string(body))
	}
}

func childCredSendgram(args []string) int {
	a, err := uds.ParseAddr(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := uds.DialDatagram(context.Background(), a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	if _, err := c.Write([]byte("hello " + strconv.Itoa(os.Getpid()))); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

// credWriteReport is what roleCredWrite reports: the errors of its writes
// ("" for success) and whether they were EPERM.
type credWriteReport struct {
	PID            int
	Own            string
	ClaimUID       string
	ClaimUIDIsPerm bool
	ClaimPID       string
	ClaimPIDIsPerm bool
}

func childCredWrite(args []string) int {
	a, err := uds.ParseAddr(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := uds.Dial(context.Background(), a.WithType(uds.SeqPacket))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return credOneLine(err)
	}
	r := credWriteReport{PID: os.Getpid()}
	err = uds.WriteMsg(c, &uds.Message{Buf: []byte("own"), Cred: credOwn()})
	r.Own = errText(err)
	err = uds.WriteMsg(c, &uds.Message{Buf: []byte("claim uid 0"), Cred: &uds.Cred{PID: os.Getpid(), UID: 0, GID: os.Getegid()}})
	r.ClaimUID, r.ClaimUIDIsPerm = errText(err), errors.Is(err, syscall.EPERM)
	err = uds.WriteMsg(c, &uds.Message{Buf: []byte("claim pid 1"), Cred: &uds.Cred{PID: 1, UID: os.Geteuid(), GID: os.Getegid()}})
	r.ClaimPID, r.ClaimPIDIsPerm = errText(err), errors.Is(err, syscall.EPERM)
	b, _ := json.Marshal(r)
	fmt.Println(childproc.Ready, string(b))
	select {}
}

func childCredHold([]string) int {
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

// ---- helpers --------------------------------------------------------------

// credNobody runs a child as uid 65534, gid 65534, with the supplementary
// groups 65534 and 4242.
func credNobody() *syscall.Credential {
	return &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 4242}}
}

// credOwn returns this process's credentials, to send with uds.WriteMsg.
func credOwn() *uds.Cred {
	return &uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}
}

// credRead reads one message into buf and its sender's credentials into
// cred (uds.ReadMsg with Message.Cred) and returns the bytes read.
func credRead(c syscall.Conn, buf []byte, cred *uds.Cred) (int, error) {
	m := uds.Message{Buf: buf, Cred: cred}
	err := uds.ReadMsg(c, &m)
	return m.N, err
}

// credAbstract returns a unique abstract address.
func credAbstract() uds.Addr { return uds.Abstract("cred-" + uniqTag()) }

// credStart starts role as cred (nil: this process's user) and returns the
// child and the PID it reports in its READY line.
func credStart(t *testing.T, cred *syscall.Credential, role string, args ...string) (*childproc.Child, int) {
	t.Helper()
	return credStartOpts(t, childproc.Options{Credential: cred}, role, args...)
}

func credStartOpts(t *testing.T, opts childproc.Options, role string, args ...string) (*childproc.Child, int) {
	t.Helper()
	c := childproc.Start(t, opts, role, args...)
	v := c.WaitReady()
	pid, err := strconv.Atoi(v)
	require.NoError(t, err, "child's READY line: %q; stderr: %s", v, c.Stderr())
	require.Equal(t, c.PID(), pid, "the child reports its own PID")
	return c, pid
}

// credFdinfoPid returns the "Pid:" line of a pidfd's /proc/self/fdinfo entry:
// the process it refers to (-1 once the process has been reaped).
func credFdinfoPid(t testing.TB, f *os.File) int {
	t.Helper()
	require.NotNil(t, f, "no PIDFD")
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err, "fdinfo: %s", data)
			return pid
		}
	}
	t.Fatalf("no Pid line in the fdinfo of descriptor %d (not a pidfd?):\n%s", f.Fd(), data)
	return 0
}

// credCheck asserts a connection's peer credentials.
func credCheck(t *testing.T, cred *uds.Cred, pid, uid, gid int, groups []int) {
	t.Helper()
	require.NotNil(t, cred)
	assert.Equal(t, pid, cred.PID, "PID")
	assert.Equal(t, uid, cred.UID, "UID")
	assert.Equal(t, gid, cred.GID, "GID")
	if groups != nil {
		assert.ElementsMatch(t, groups, cred.Groups, "supplementary groups")
	}
	if assert.NotNil(t, cred.PIDFD, "a PIDFD from SO_PEERPIDFD (kernel %s)", credKernel()) {
		assert.Equal(t, pid, credFdinfoPid(t, cred.PIDFD), "the PIDFD refers to the peer")
	}
}

func credKernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// credListen listens on a with lc (stream or seqpacket) and returns the
// listener as a net.Listener.
func credListen(t *testing.T, lc *uds.ListenConfig, typ string, a uds.Addr) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	switch typ {
	case "stream":
		ln, err = lc.Listen(context.Background(), a)
	case "seqpacket":
		ln, err = lc.Listen(context.Background(), a.WithType(uds.SeqPacket))
	default:
		t.Fatalf("unknown type %q", typ)
	}
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// credAccept accepts one connection within ten seconds.
func credAccept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		ln.Close()
		t.Fatal("no connection accepted within 10s")
	}
	return nil
}

// credRefusals records what OnRefuse hears.
type credRefusals struct {
	mu   sync.Mutex
	list []credRefusal
}

type credRefusal struct {
	cred *uds.Cred // a copy, nil if the credentials could not be read
	err  error
}

func (r *credRefusals) onRefuse(cred *uds.Cred, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cp *uds.Cred
	if cred != nil {
		c := *cred
		c.PIDFD = nil // valid only during Authorize
		cp = &c
	}
	r.list = append(r.list, credRefusal{cp, err})
}

func (r *credRefusals) get() []credRefusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

// ---- PeerCred --------------------------------------------------------------

// A child running as another user connects; PeerCred on the accepted
// connection (a stream or seqpacket *Conn) names it exactly, its PIDFD refers
// to it, and once it has exited PeerCred fails with os.ErrProcessDone instead of
// returning a PID that may name another process by now.
func TestCredPeerCredAccepted(t *testing.T) {
	requireRoot(t)
	for _, typ := range []string{"stream", "seqpacket"} {
		t.Run(typ, func(t *testing.T) {
			a := credAbstract()
			ln := credListen(t, &uds.ListenConfig{}, typ, a)
			child, pid := credStart(t, credNobody(), roleCredDial, typ, a.String(), "hold")
			c := credAccept(t, ln)
			require.IsType(t, &uds.Conn{}, c)
			assert.Equal(t, typ, c.LocalAddr().(uds.Addr).Type().String())
			sc := c.(syscall.Conn)

			before := openFDCount(t)
			cred, err := uds.PeerCred(sc)
			require.NoError(t, err)
			credCheck(t, cred, pid, 65534, 65534, []int{65534, 4242})
			assert.Equal(t, before+1, openFDCount(t), "the Cred holds one descriptor, its PIDFD")
			assert.Contains(t, cred.String(), "pid="+strconv.Itoa(pid))
			require.NoError(t, cred.Close())
			assert.Nil(t, cred.PIDFD)
			assert.NoError(t, cred.Close(), "Close twice")
			assert.Equal(t, before, openFDCount(t), "Close closed the PIDFD")

			// Cred.PIDFD is the peer's PIDFD (SO_PEERPIDFD).
			cred, err = uds.PeerCred(sc)
			require.NoError(t, err)
			assert.Equal(t, pid, credFdinfoPid(t, cred.PIDFD))
			require.NoError(t, cred.Close())

			// A PIDFD taken while the peer lives sees it die.
			cred, err = uds.PeerCred(sc)
			require.NoError(t, err)
			defer cred.Close()

			child.Kill() // and reaped
			cred2, err := uds.PeerCred(sc)
			require.ErrorIs(t, err, os.ErrProcessDone, "PeerCred after the peer exited")
			assert.Nil(t, cred2, "no stale PID")
			assert.NotErrorIs(t, err, errors.ErrUnsupported, "peer gone is not 'kernel too old'")
			assert.Equal(t, -1, credFdinfoPid(t, cred.PIDFD), "the earlier PIDFD now refers to a reaped process")
		})
	}
}

// A peer in more supplementary groups than PeerCred's first guess (32)
// still has them all reported: the kernel says ERANGE and how many.
func TestCredPeerCredManyGroups(t *testing.T) {
	requireRoot(t)
	var groups []uint32
	var want []int
	for g := 5000; g < 5100; g++ {
		groups = append(groups, uint32(g))
		want = append(want, g)
	}
	a := credAbstract()
	ln := credListen(t, &uds.ListenConfig{}, "stream", a)
	_, pid := credStart(t, &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}, roleCredDial, "stream", a.String(), "hold")
	c := credAccept(t, ln)
	cred, err := uds.PeerCred(c.(syscall.Conn))
	require.NoError(t, err)
	defer cred.Close()
	credCheck(t, cred, pid, 65534, 65534, want)
	assert.NoError(t, uds.AllowGIDs(5099)(cred), "the last group counts")
}

// A plain *net.UnixConn from net.Dial works too: a client sees the
// credentials the listening process had when it called listen.
func TestCredPeerCredNetUnixConn(t *testing.T) {
	requireRoot(t)
	a := credAbstract()
	child, pid := credStart(t, credNobody(), roleCredListen, "stream", a.String(), "hold")
	nc, err := net.Dial("unix", "@"+a.Name())
	require.NoError(t, err)
	defer nc.Close()
	uc, ok := nc.(*net.UnixConn)
	require.True(t, ok, "net.Dial returned a %T", nc)

	cred, err := uds.PeerCred(uc)
	require.NoError(t, err)
	credCheck(t, cred, pid, 65534, 65534, []int{65534, 4242})
	require.NoError(t, cred.Close())

	child.Kill()
	cred, err = uds.PeerCred(uc)
	require.ErrorIs(t, err, os.ErrProcessDone)
	assert.Nil(t, cred)
}

// Datagram sockets: a socket pair records its creator on both ends (a
// snapshot: it still names this process after the other end was handed to
// a child running as another user), while connect(2) on a datagram socket
// records nothing, which is reported as ErrNoCredentials, not as PID 0.
func TestCredPeerCredDatagram(t *testing.T) {
	t.Run("pair", func(t *testing.T) {
		fa, fb := pairFiles(t, uds.Datagram)
		defer fa.Close()
		if os.Geteuid() == 0 {
			// The other end now belongs to a process of another user.
			_, _ = credStartOpts(t, childproc.Options{Credential: credNobody(), ExtraFiles: []*os.File{fb}}, roleCredHold)
		}
		fb.Close()
		cred, err := uds.PeerCred(fa)
		require.NoError(t, err)
		defer cred.Close()
		groups, err := os.Getgroups()
		require.NoError(t, err)
		credCheck(t, cred, os.Getpid(), os.Geteuid(), os.Getegid(), groups)
	})
	t.Run("pair-conn", func(t *testing.T) {
		_, b := pairOf(t, uds.DatagramPair)
		cred, err := uds.PeerCred(b)
		require.NoError(t, err)
		defer cred.Close()
		credCheck(t, cred, os.Getpid(), os.Geteuid(), os.Getegid(), nil)
	})
	t.Run("dial", func(t *testing.T) {
		a := credAbstract()
		srv, err := uds.ListenDatagram(context.Background(), a)
		require.NoError(t, err)
		defer srv.Close()
		cli, err := uds.DialDatagram(context.Background(), a)
		require.NoError(t, err)
		defer cli.Close()
		require.NotNil(t, cli.RemoteAddr(), "the client is connected")
		for name, c := range map[string]syscall.Conn{"connected client": cli, "bound server": srv} {
			cred, err := uds.PeerCred(c)
			assert.ErrorIs(t, err, uds.ErrNoCredentials, "%s: the kernel records no peer for datagram connect", name)
			assert.Nil(t, cred, name)
			assert.NotErrorIs(t, err, os.ErrProcessDone, "%s: nobody has gone", name)
			assert.NotErrorIs(t, err, errors.ErrUnsupported, "%s: the kernel has SO_PEERPIDFD", name)
		}
	})
}

// A stream pair in one process: everything is this process's, and the
// groups are its supplementary groups.
func TestCredPeerCredPair(t *testing.T) {
	a, b := pairOf(t, pairType(uds.Stream))
	groups, err := os.Getgroups()
	require.NoError(t, err)
	for _, c := range []*uds.Conn{a, b} {
		cred, err := uds.PeerCred(c)
		require.NoError(t, err)
		credCheck(t, cred, os.Getpid(), os.Geteuid(), os.Getegid(), groups)
		assert.Empty(t, cred.Label, "no security module labels sockets here")
		require.NoError(t, cred.Close())
	}
}

// ---- Authorize -------------------------------------------------------------

type credCtxKey struct{}

// http.Serve on a listener with Authorize: SameUser keeps serving while
// another user's requests are refused, one after the other, interleaved
// with accepted ones from this process and from a child of the same user.
func TestAuthorizeHTTPServeKeepsServing(t *testing.T) {
	requireRoot(t)
	dir := mkSockDir(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	addr := uds.Path(filepath.Join(dir, "api.sock"))
	var refusals credRefusals
	lc := uds.ListenConfig{Mode: 0o666, Authorize: uds.SameUser(), OnRefuse: refusals.onRefuse}
	ln, err := lc.Listen(context.Background(), addr)
	require.NoError(t, err)
	defer ln.Close()

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "pid=%v", r.Context().Value(credCtxKey{}))
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			cred, err := uds.PeerCred(c.(syscall.Conn))
			if err != nil {
				return ctx
			}
			cred.Close()
			return context.WithValue(ctx, credCtxKey{}, cred.PID)
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	startHTTPChild := func(cred *syscall.Credential) (*childproc.Child, int, *os.File) {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		t.Cleanup(func() { w.Close() })
		c := childproc.Start(t, childproc.Options{Credential: cred, ExtraFiles: []*os.File{r}}, roleCredHTTP, addr.String())
		r.Close()
		pid, err := strconv.Atoi(c.WaitReady())
		require.NoError(t, err)
		return c, pid, w
	}
	other, otherPID, otherCtl := startHTTPChild(credNobody())
	same, samePID, sameCtl := startHTTPChild(nil)
	childGet := func(c *childproc.Child, ctl *os.File) string {
		_, err := ctl.Write([]byte{1})
		require.NoError(t, err)
		return strings.TrimPrefix(c.Line(20*time.Second), "RESULT ")
	}
	self := udshttp.Client(addr)
	self.Transport.(*http.Transport).DisableKeepAlives = true
	self.Timeout = 10 * time.Second

	const rounds = 20
	for i := range rounds {
		got := childGet(other, otherCtl)
		require.True(t, strings.HasPrefix(got, "ERR "), "round %d: another user's request must fail, got %q", i, got)

		resp, err := self.Get("http://unix/who")
		require.NoError(t, err, "round %d: this process's request", i)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "pid="+strconv.Itoa(os.Getpid()), string(body), "round %d", i)

		got = childGet(same, sameCtl)
		require.Equal(t, "200 pid="+strconv.Itoa(samePID), got, "round %d: a same-user child's request", i)

		select {
		case err := <-served:
			t.Fatalf("round %d: http.Serve returned: %v", i, err)
		default:
		}
	}

	require.Eventually(t, func() bool { return len(refusals.get()) >= rounds }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	list := refusals.get()
	require.Len(t, list, rounds, "exactly one refusal per refused request")
	for i, r := range list {
		require.NotNil(t, r.cred, "refusal %d: OnRefuse gets the credentials (err %v)", i, r.err)
		assert.Equal(t, 65534, r.cred.UID, "refusal %d", i)
		assert.Equal(t, otherPID, r.cred.PID, "refusal %d", i)
		assert.ErrorIs(t, r.err, os.ErrPermission, "refusal %d", i)
	}

	select {
	case err := <-served:
		t.Fatalf("http.Serve returned: %v", err)
	default:
	}
	require.NoError(t, srv.Close())
	select {
	case err := <-served:
		assert.ErrorIs(t, err, http.ErrServerClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("http.Serve did not return after Close")
	}
}

// The ready-made policies on stream and seqpacket listeners (abstract
// addresses, which have no file permissions), against children running as
// uid 65534 with and without the supplementary group 4242, and as this
// process's user (root).
func TestAuthorizePolicies(t *testing.T) {
	requireRoot(t)
	ourGroups, err := os.Getgroups()
	require.NoError(t, err)
	rootIn := func(gid int) bool { return os.Getegid() == gid || slices.Contains(ourGroups, gid) }

	type client struct {
		name string
		cred *syscall.Credential
	}
	nobodyG := client{"uid65534+group4242", credNobody()}
	nobody := client{"uid65534", &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534}}}
	root := client{"root", nil}
	clients := []client{nobodyG, nobody, root}

	policies := []struct {
		name   string
		policy func(*uds.Cred) error
		admit  map[string]bool
	}{
		{"SameUser", uds.SameUser(), map[string]bool{root.name: true}},
		{"AllowUIDs", uds.AllowUIDs(1000, 65534), map[string]bool{nobodyG.name: true, nobody.name: true}},
		{"AllowGIDs-supplementary", uds.AllowGIDs(4242), map[string]bool{nobodyG.name: true, root.name: rootIn(4242)}},
		{"AllowGIDs-primary", uds.AllowGIDs(65534), map[string]bool{nobodyG.name: true, nobody.name: true, root.name: rootIn(65534)}},
		{"AllowUIDs(0)", uds.AllowUIDs(0), map[string]bool{root.name: true}},
	}
	for _, typ := range []string{"stream", "seqpacket"} {
		for _, p := range policies {
			t.Run(typ+"/"+p.name, func(t *testing.T) {
				a := credAbstract()
				var refusals credRefusals
				ln := credListen(t, &uds.ListenConfig{Authorize: p.policy, OnRefuse: refusals.onRefuse}, typ, a)
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						go func() {
							defer c.Close()
							buf := make([]byte, 16)
							if n, err := c.Read(buf); err == nil && string(buf[:n]) == "ping" {
								c.Write([]byte("pong"))
							}
						}()
					}
				}()
				wantRefused := 0
				for _, cl := range clients {
					child := childproc.Start(t, childproc.Options{Credential: cl.cred}, roleCredDial, typ, a.String(), "ping")
					got := child.WaitReady()
					if p.admit[cl.name] {
						assert.Equal(t, "OK", got, "%s must be admitted", cl.name)
						continue
					}
					wantRefused++
					assert.True(t, strings.HasPrefix(got, "REFUSED"), "%s must be refused, got %q", cl.name, got)
					require.Eventually(t, func() bool { return len(refusals.get()) == wantRefused }, 5*time.Second, 5*time.Millisecond,
						"OnRefuse is told about %s", cl.name)
					r := refusals.get()[wantRefused-1]
					if assert.NotNil(t, r.cred) {
						assert.Equal(t, child.PID(), r.cred.PID)
						if cl.cred != nil {
							assert.Equal(t, int(cl.cred.Uid), r.cred.UID)
						}
					}
					assert.ErrorIs(t, r.err, os.ErrPermission)
				}
				assert.Len(t, refusals.get(), wantRefused)
			})
		}
	}
}

// The policies themselves, on credentials made up in the test.
func TestAuthorizePolicyFuncs(t *testing.T) {
	me := os.Geteuid()
	assert.NoError(t, uds.SameUser()(&uds.Cred{UID: me}))
	assert.ErrorIs(t, uds.SameUser()(&uds.Cred{UID: me + 1}), os.ErrPermission)
	assert.NoError(t, uds.AllowUIDs(5, 7)(&uds.Cred{UID: 7}))
	assert.ErrorIs(t, uds.AllowUIDs(5, 7)(&uds.Cred{UID: 6}), os.ErrPermission)
	assert.ErrorIs(t, uds.AllowUIDs()(&uds.Cred{UID: 0}), os.ErrPermission, "an empty list admits nobody")
	assert.NoError(t, uds.AllowGIDs(9)(&uds.Cred{UID: 1, GID: 9}))
	assert.NoError(t, uds.AllowGIDs(9)(&uds.Cred{UID: 1, GID: 1, Groups: []int{3, 9}}))
	assert.ErrorIs(t, uds.AllowGIDs(9)(&uds.Cred{UID: 1, GID: 1, Groups: []int{3}}), os.ErrPermission)
	assert.NoError(t, uds.AllowUIDs(0)(&uds.Cred{UID: 0}))
	assert.ErrorIs(t, uds.AllowUIDs(0)(&uds.Cred{UID: 1, GID: 0}), os.ErrPermission)
	// The lists are copied: changing the caller's slice changes nothing.
	uids := []int{4}
	p := uds.AllowUIDs(uids...)
	uids[0] = 5
	assert.NoError(t, p(&uds.Cred{UID: 4}))
}

// A peer that connected and exited before Accept cannot be identified: it
// is refused (OnRefuse hears about it with no credentials and os.ErrProcessDone),
// even by a policy that admits everyone, and the same Accept call goes on
// to return the next, live, connection.
func TestAuthorizeExitedPeer(t *testing.T) {
	a := credAbstract()
	var refusals credRefusals
	admitted := 0
	lc := uds.ListenConfig{
		Authorize: func(*uds.Cred) error { admitted++; return nil },
		OnRefuse:  refusals.onRefuse,
	}
	ln := credListen(t, &lc, "stream", a)
	child := childproc.Start(t, childproc.Options{}, roleCredDial, "stream", a.String(), "exit")
	require.NotEmpty(t, child.WaitReady())
	require.Equal(t, 0, child.Wait(10*time.Second))

	live, err := uds.Dial(context.Background(), a)
	require.NoError(t, err)
	defer live.Close()

	c := credAccept(t, ln)
	cred, err := uds.PeerCred(c.(syscall.Conn))
	require.NoError(t, err)
	defer cred.Close()
	assert.Equal(t, os.Getpid(), cred.PID, "Accept skipped the dead peer and returned the live one")
	assert.Equal(t, 1, admitted, "Authorize saw only the live peer")
	list := refusals.get()
	require.Len(t, list, 1)
	assert.Nil(t, list[0].cred)
	assert.ErrorIs(t, list[0].err, os.ErrProcessDone)
}

// ---- SCM_CREDENTIALS -------------------------------------------------------

// A datagram server with PassCred reads each sender's credentials with its
// message; with PassPIDFD the Cred also holds the sender's PIDFD.
func TestCredDatagramPassCred(t *testing.T) {
	requireRoot(t)
	for _, pidfd := range []bool{false, true} {
		t.Run(fmt.Sprintf("pidfd=%v", pidfd), func(t *testing.T) {
			a := credAbstract()
			lc := uds.ListenConfig{PassCred: true, PassPIDFD: pidfd}
			srv, err := lc.ListenDatagram(context.Background(), a)
			require.NoError(t, err)
			defer srv.Close()
			_, pid := credStart(t, credNobody(), roleCredSendgram, a.String())

			before := openFDCount(t)
			require.NoError(t, srv.SetReadDeadline(time.Now().Add(10*time.Second)))
			var cred uds.Cred
			m := uds.Message{Buf: make([]byte, 64), Cred: &cred}
			require.NoError(t, uds.ReadMsg(srv, &m))
			assert.Equal(t, "hello "+strconv.Itoa(pid), string(m.Buf[:m.N]))
			assert.Equal(t, uds.KindAbstract, m.Addr.Kind(), "the child's autobind name")
			assert.Equal(t, pid, cred.PID)
			assert.Equal(t, 65534, cred.UID)
			assert.Equal(t, 65534, cred.GID)
			assert.Nil(t, cred.Groups, "per-message credentials carry no groups")
			if pidfd {
				assert.Equal(t, before+1, openFDCount(t))
				assert.Equal(t, pid, credFdinfoPid(t, cred.PIDFD), "SCM_PIDFD refers to the sender")
			} else {
				assert.Nil(t, cred.PIDFD)
			}
			require.NoError(t, cred.Close())
			assert.Equal(t, before, openFDCount(t))
		})
	}
}

// Per-message credentials are a snapshot of when the message was sent: a
// message from a sender that has exited since still names it, and its
// PIDFD (SO_PASSPIDFD) is how to tell that it is gone.
func TestCredDatagramSenderGone(t *testing.T) {
	requireRoot(t)
	a := credAbstract()
	srv, err := (&uds.ListenConfig{PassCred: true, PassPIDFD: true}).ListenDatagram(context.Background(), a)
	require.NoError(t, err)
	defer srv.Close()
	child, pid := credStart(t, credNobody(), roleCredSendgram, a.String())
	child.Kill() // and reaped

	require.NoError(t, srv.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 64)
	var cred uds.Cred
	n, err := credRead(srv, buf, &cred)
	assert.Equal(t, "hello "+strconv.Itoa(pid), string(buf[:n]))
	if err != nil {
		require.ErrorIs(t, err, uds.ErrNoCredentials)
		assert.Zero(t, cred.PID)
		return
	}
	defer cred.Close()
	assert.Equal(t, pid, cred.PID, "the sender, as it was when it sent")
	assert.Equal(t, 65534, cred.UID)
	if cred.PIDFD != nil {
		assert.Equal(t, -1, credFdinfoPid(t, cred.PIDFD), "the PIDFD shows the sender is gone")
	}
}

// PassCred on a listener is inherited by the connections it accepts, so
// that even data sent before Accept carries its sender's credentials.
func TestCredPassCredBeforeAccept(t *testing.T) {
	requireRoot(t)
	for _, typ := range []string{"stream", "seqpacket"} {
		t.Run(typ, func(t *testing.T) {
			a := credAbstract()
			ln := credListen(t, &uds.ListenConfig{PassCred: true}, typ, a)
			_, pid := credStart(t, credNobody(), roleCredDial, typ, a.String(), "send")
			// The child wrote before it said READY: the data is queued on a
			// connection nobody has accepted yet.
			c := credAccept(t, ln)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			buf := make([]byte, 64)
			var cred uds.Cred
			require.IsType(t, &uds.Conn{}, c)
			n, err := credRead(c.(*uds.Conn), buf, &cred)
			require.NoError(t, err)
			defer cred.Close()
			assert.Equal(t, "early "+strconv.Itoa(pid), string(buf[:n]))
			assert.Equal(t, pid, cred.PID)
			assert.Equal(t, 65534, cred.UID)
			assert.Equal(t, 65534, cred.GID)
		})
	}
}

// Dialer.PassCred sets SO_PASSCRED before connecting, so that what the
// server sends, even before the client reads, carries the server's
// credentials. The kernel autobinds such a socket; LocalAddr must say so, as
// the server's RemoteAddr does.
func TestCredDialerPassCred(t *testing.T) {
	requireRoot(t)
	for _, typ := range []string{"stream", "seqpacket"} {
		t.Run(typ, func(t *testing.T) {
			a := credAbstract()
			_, pid := credStart(t, credNobody(), roleCredListen, typ, a.String(), "greet")
			d := uds.Dialer{PassCred: true, Timeout: 10 * time.Second}
			if typ == "seqpacket" {
				a = a.WithType(uds.SeqPacket)
			}
			c, err := d.Dial(context.Background(), a)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			buf := make([]byte, 64)
			var cred uds.Cred
			n, err := credRead(c, buf, &cred)
			require.NoError(t, err)
			defer cred.Close()
			assert.Equal(t, "hello "+strconv.Itoa(pid), string(buf[:n]))
			assert.Equal(t, pid, cred.PID)
			assert.Equal(t, 65534, cred.UID)
			assert.Equal(t, 65534, cred.GID)

			kname := kernelName(t, c, false)
			require.True(t, strings.HasPrefix(kname, "\x00"), "the kernel autobound the socket: %q", kname)
			la, ok := c.LocalAddr().(uds.Addr)
			require.True(t, ok)
			assert.Equal(t, uds.KindAbstract, la.Kind(), "LocalAddr of a socket the kernel autobound (kernel name %q)", kname)
			assert.Equal(t, kname[1:], la.Name())
		})
	}
}

// SO_PASSCRED turned on after the peer sent is too late: the kernel then
// attaches a bogus credential (pid 0, the overflow uid 65534) to the
// message. uds returns the data with ErrNoCredentials and never that
// credential as an identity. Messages sent after carry the real one.
func TestCredLatePassCred(t *testing.T) {
	// What the kernel does, read raw, to show what the library must hide.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	_, err = unix.Write(fds[0], []byte("x"))
	require.NoError(t, err)
	require.NoError(t, unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_PASSCRED, 1))
	oob := make([]byte, 128)
	_, oobn, _, _, err := unix.Recvmsg(fds[1], make([]byte, 8), oob, 0)
	require.NoError(t, err)
	unix.Close(fds[0])
	unix.Close(fds[1])
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
		if uc, err := unix.ParseUnixCredentials(&msgs[0]); err == nil {
			t.Logf("kernel %s, SO_PASSCRED set late: the raw credential is pid=%d uid=%d gid=%d", credKernel(), uc.Pid, uc.Uid, uc.Gid)
		}
	}

	checkLate := func(t *testing.T, n int, err error, buf []byte, cred *uds.Cred) {
		t.Helper()
		require.ErrorIs(t, err, uds.ErrNoCredentials)
		assert.Equal(t, "before", string(buf[:n]), "the data is returned with the error")
		assert.Zero(t, cred.PID, "no PID")
		assert.NotEqual(t, 65534, cred.UID, "the kernel's overflow uid is not an identity")
		assert.NotEqual(t, 65534, cred.GID)
		assert.Nil(t, cred.PIDFD)
	}
	checkReal := func(t *testing.T, n int, err error, buf []byte, cred *uds.Cred) {
		t.Helper()
		require.NoError(t, err)
		assert.Equal(t, "after", string(buf[:n]))
		assert.Equal(t, os.Getpid(), cred.PID)
		assert.Equal(t, os.Geteuid(), cred.UID)
		assert.Equal(t, os.Getegid(), cred.GID)
		cred.Close()
	}
	buf := make([]byte, 16)

	// Message sockets: the first read finds no credentials, the next the
	// real ones. pidfd alternates to cover both option forms.
	type msgPair struct {
		w    io.Writer
		r    syscall.Conn
		read func(buf []byte, cred *uds.Cred) (int, error)
	}
	for _, tc := range []struct {
		name  string
		pidfd bool
		pair  func(t *testing.T) msgPair
	}{
		{"seqpacket", false, func(t *testing.T) msgPair {
			a, b := pairOf(t, pairType(uds.SeqPacket))
			read := func(buf []byte, cred *uds.Cred) (int, error) { return credRead(b, buf, cred) }
			return msgPair{a, b, read}
		}},
		{"datagram", true, func(t *testing.T) msgPair {
			a, b := pairOf(t, uds.DatagramPair)
			read := func(buf []byte, cred *uds.Cred) (int, error) { return credRead(b, buf, cred) }
			return msgPair{a, b, read}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pair(t)
			_, err := p.w.Write([]byte("before"))
			require.NoError(t, err)
			require.NoError(t, uds.PassCred(p.r, tc.pidfd))
			cred := uds.Cred{PID: 99, UID: 99} // overwritten
			n, err := p.read(buf, &cred)
			checkLate(t, n, err, buf, &cred)
			_, err = p.w.Write([]byte("after"))
			require.NoError(t, err)
			n, err = p.read(buf, &cred)
			checkReal(t, n, err, buf, &cred)
		})
	}
	t.Run("stream", func(t *testing.T) {
		// Stream sockets happen to carry real credentials even when the
		// option is set late; either that or "not recorded" is right,
		// never PID 0.
		a, b := pairOf(t, pairType(uds.Stream))
		_, err = a.Write([]byte("before"))
		require.NoError(t, err)
		require.NoError(t, uds.PassCred(b, false))
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		assert.Equal(t, "before", string(buf[:n]))
		if err != nil {
			require.ErrorIs(t, err, uds.ErrNoCredentials)
			assert.Zero(t, cred.PID)
		} else {
			assert.Equal(t, os.Getpid(), cred.PID)
			cred.Close()
		}
	})
	t.Run("never-set", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		_, err = a.Write([]byte("before"))
		require.NoError(t, err)
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		checkLate(t, n, err, buf, &cred)
	})
}

// WriteMsg with this process's own credentials works on every socket type;
// the receiver needs SO_PASSCRED to see them.
func TestCredWriteMsgOwnCred(t *testing.T) {
	buf := make([]byte, 16)
	check := func(t *testing.T, n int, err error, cred *uds.Cred) {
		t.Helper()
		require.NoError(t, err)
		assert.Equal(t, "own", string(buf[:n]))
		assert.Equal(t, os.Getpid(), cred.PID)
		assert.Equal(t, os.Geteuid(), cred.UID)
		assert.Equal(t, os.Getegid(), cred.GID)
		cred.Close()
	}
	t.Run("stream", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.Stream))
		require.NoError(t, uds.PassCred(b, false))
		require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("own"), Cred: credOwn()}))
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		check(t, n, err, &cred)
		err = uds.WriteMsg(a, &uds.Message{Cred: credOwn()})
		assert.ErrorIs(t, err, uds.ErrInvalidAddr, "a stream write with credentials needs data")
	})
	t.Run("seqpacket", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		require.NoError(t, uds.PassCred(b, false))
		require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("own"), Cred: credOwn()}))
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		check(t, n, err, &cred)
	})
	t.Run("datagram-connected", func(t *testing.T) {
		a, b := pairOf(t, uds.DatagramPair)
		require.NoError(t, uds.PassCred(b, false))
		require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("own"), Addr: uds.Unnamed(), Cred: credOwn()}))
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		check(t, n, err, &cred)
	})
	t.Run("datagram-to", func(t *testing.T) {
		addr := credAbstract()
		srv, err := (&uds.ListenConfig{PassCred: true}).ListenDatagram(context.Background(), addr)
		require.NoError(t, err)
		defer srv.Close()
		cli, err := (&uds.ListenConfig{}).ListenDatagram(context.Background(), uds.Autobind())
		require.NoError(t, err)
		defer cli.Close()
		require.NoError(t, uds.WriteMsg(cli, &uds.Message{Buf: []byte("own"), Addr: addr, Cred: credOwn()}))
		var cred uds.Cred
		m := uds.Message{Buf: buf, Cred: &cred}
		err = uds.ReadMsg(srv, &m)
		check(t, m.N, err, &cred)
		assert.Equal(t, cli.LocalAddr(), m.Addr)
	})
	t.Run("receiver-without-passcred", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("own"), Cred: credOwn()}))
		var cred uds.Cred
		n, err := credRead(b, buf, &cred)
		assert.ErrorIs(t, err, uds.ErrNoCredentials, "credentials are delivered only with SO_PASSCRED")
		assert.Equal(t, "own", string(buf[:n]))
	})
}

// With privilege (root has CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID) a process
// may send another process's PID and other IDs, and the receiver sees them.
func TestCredWriteMsgOthersAsRoot(t *testing.T) {
	requireRoot(t)
	_, other := credStart(t, nil, roleCredHold)
	a, b := pairOf(t, pairType(uds.SeqPacket))
	require.NoError(t, uds.PassCred(b, true))
	buf := make([]byte, 16)

	require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("other"), Cred: &uds.Cred{PID: other, UID: 0, GID: 0}}))
	var cred uds.Cred
	n, err := credRead(b, buf, &cred)
	require.NoError(t, err)
	assert.Equal(t, "other", string(buf[:n]))
	assert.Equal(t, other, cred.PID, "the receiver sees the PID sent")
	assert.Equal(t, other, credFdinfoPid(t, cred.PIDFD), "and a PIDFD for it")
	cred.Close()

	require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("nobody"), Cred: &uds.Cred{PID: os.Getpid(), UID: 65534, GID: 65534}}))
	n, err = credRead(b, buf, &cred)
	require.NoError(t, err)
	assert.Equal(t, "nobody", string(buf[:n]))
	assert.Equal(t, os.Getpid(), cred.PID)
	assert.Equal(t, 65534, cred.UID)
	assert.Equal(t, 65534, cred.GID)
	cred.Close()
}

// Without privilege a process may send only its own credentials: claiming
// uid 0 or PID 1 fails with EPERM, and nothing is delivered.
func TestCredWriteMsgUnprivileged(t *testing.T) {
	requireRoot(t)
	a := credAbstract()
	ln, err := (&uds.ListenConfig{PassCred: true}).Listen(context.Background(), a.WithType(uds.SeqPacket))
	require.NoError(t, err)
	defer ln.Close()
	child := childproc.Start(t, childproc.Options{Credential: credNobody()}, roleCredWrite, a.String())
	var r credWriteReport
	require.NoError(t, json.Unmarshal([]byte(child.WaitReady()), &r))
	assert.Empty(t, r.Own, "a process may send its own credentials")
	assert.True(t, r.ClaimUIDIsPerm, "claiming uid 0: %q", r.ClaimUID)
	assert.True(t, r.ClaimPIDIsPerm, "claiming PID 1: %q", r.ClaimPID)

	c := credAccept(t, ln).(*uds.Conn)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 32)
	var cred uds.Cred
	n, err := credRead(c, buf, &cred)
	require.NoError(t, err)
	assert.Equal(t, "own", string(buf[:n]))
	assert.Equal(t, r.PID, cred.PID)
	assert.Equal(t, 65534, cred.UID)
	assert.Equal(t, 65534, cred.GID)

	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	n, err = credRead(c, buf, &cred)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the refused writes delivered nothing (read %q)", buf[:n])
}

// ---- python3 interop -------------------------------------------------------

const credPyDrop = `
import os, socket, struct, sys
def drop():
    if sys.argv[2] == "drop":
        os.setgroups([65534, 4242]); os.setgid(65534); os.setuid(65534)
def peercred(s):
    return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
`

const credPyServer = credPyDrop + `
drop()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + sys.argv[1])
s.listen(1)
print("READY", os.getpid(), os.geteuid(), os.getegid(), flush=True)
c, _ = s.accept()
print("PEER %d %d %d" % peercred(c), flush=True)
c.recv(1)
`

const credPyClient = credPyDrop + `
drop()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("\0" + sys.argv[1])
print("PEER", os.getpid(), os.geteuid(), os.getegid(), "%d %d %d" % peercred(s), flush=True)
s.recv(1)
`

// A python3 process's view of SO_PEERCRED and ours agree, in both
// directions. python3 may be a shim that starts the interpreter as another
// process, so the interpreter prints its own PID.
func TestCredPythonInterop(t *testing.T) {
	py := requireTool(t, "python3")
	drop, uid, gid, groups := "keep", os.Geteuid(), os.Getegid(), []int(nil)
	if os.Geteuid() == 0 {
		drop, uid, gid, groups = "drop", 65534, 65534, []int{65534, 4242}
	}
	ints := func(t *testing.T, fields []string) []int {
		t.Helper()
		out := make([]int, len(fields))
		for i, f := range fields {
			v, err := strconv.Atoi(f)
			require.NoError(t, err, "%q", fields)
			out[i] = v
		}
		return out
	}
	ours := []int{os.Getpid(), os.Geteuid(), os.Getegid()}

	t.Run("python-server", func(t *testing.T) {
		name := "cred-py-" + uniqTag()
		f := msgStartForeign(t, py, "-c", credPyServer, name, drop)
		ready := strings.Fields(f.ReadLine(t, 20*time.Second))
		require.Equal(t, "READY", ready[0], "%q", ready)
		py := ints(t, ready[1:])
		require.Equal(t, []int{uid, gid}, py[1:], "python's identity")

		c, err := uds.Dial(context.Background(), uds.Abstract(name))
		require.NoError(t, err)
		defer c.Close()
		cred, err := uds.PeerCred(c)
		require.NoError(t, err)
		defer cred.Close()
		credCheck(t, cred, py[0], uid, gid, groups)

		peer := strings.Fields(f.ReadLine(t, 20*time.Second))
		require.Equal(t, "PEER", peer[0], "%q", peer)
		assert.Equal(t, ours, ints(t, peer[1:]), "python's SO_PEERCRED of our uds.Dial connection")
	})
	t.Run("python-client", func(t *testing.T) {
		a := credAbstract()
		ln := credListen(t, &uds.ListenConfig{}, "stream", a)
		f := msgStartForeign(t, py, "-c", credPyClient, a.Name(), drop)
		peer := strings.Fields(f.ReadLine(t, 20*time.Second))
		require.Equal(t, "PEER", peer[0], "%q", peer)
		v := ints(t, peer[1:])
		require.Len(t, v, 6)
		require.Equal(t, []int{uid, gid}, v[1:3], "python's identity")
		assert.Equal(t, ours, v[3:], "python's SO_PEERCRED of our uds listener")

		c := credAccept(t, ln)
		cred, err := uds.PeerCred(c.(syscall.Conn))
		require.NoError(t, err)
		defer cred.Close()
		credCheck(t, cred, v[0], uid, gid, groups)
	})
}

// ---- descriptor hygiene ----------------------------------------------------

// Nothing leaks: not the PIDFDs of PeerCred, not those of SCM_PIDFD (read
// with a Cred and closed, or read without one, when uds closes them), not
// the connections Authorize refuses.
func TestCredNoFDLeaks(t *testing.T) {
	const iterations = 200
	measure := func(t *testing.T, fn func(i int)) {
		t.Helper()
		fn(-1) // warm up: lazily made buffers, poller registrations
		before := openFDCount(t)
		for i := range iterations {
			fn(i)
		}
		assert.Equal(t, before, openFDCount(t), "descriptors open before and after %d iterations", iterations)
	}

	t.Run("PeerCred", func(t *testing.T) {
		a := credAbstract()
		ln := credListen(t, &uds.ListenConfig{}, "stream", a)
		cli, err := uds.Dial(context.Background(), a)
		require.NoError(t, err)
		defer cli.Close()
		srv := credAccept(t, ln).(*uds.Conn)
		measure(t, func(int) {
			for _, c := range []*uds.Conn{cli, srv} {
				cred, err := uds.PeerCred(c)
				require.NoError(t, err)
				require.NotNil(t, cred.PIDFD)
				require.NoError(t, cred.Close())
			}
		})
	})
	t.Run("ReadMsg-Cred-PassPIDFD", func(t *testing.T) {
		a, b := pairOf(t, uds.DatagramPair)
		require.NoError(t, uds.PassCred(b, true))
		buf := make([]byte, 16)
		measure(t, func(int) {
			_, err := a.Write([]byte("m"))
			require.NoError(t, err)
			var cred uds.Cred
			_, err = credRead(b, buf, &cred)
			require.NoError(t, err)
			require.NotNil(t, cred.PIDFD)
			require.NoError(t, cred.Close())
		})
	})
	t.Run("Read-PassPIDFD-no-cred", func(t *testing.T) {
		for _, typ := range []string{"seqpacket", "datagram"} {
			var w, r interface {
				Write([]byte) (int, error)
				Read([]byte) (int, error)
				syscall.Conn
				io.Closer
			}
			if typ == "seqpacket" {
				w, r = pairOf(t, pairType(uds.SeqPacket))
			} else {
				w, r = pairOf(t, uds.DatagramPair)
			}
			require.NoError(t, uds.PassCred(r, true))
			buf := make([]byte, 16)
			measure(t, func(int) {
				_, err := w.Write([]byte("m"))
				require.NoError(t, err)
				n, err := r.Read(buf)
				require.NoError(t, err, typ)
				require.Equal(t, "m", string(buf[:n]))
			})
			w.Close()
			r.Close()
		}
	})
	t.Run("ReadMsg-Cred-late", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		buf := make([]byte, 16)
		measure(t, func(int) {
			_, err := a.Write([]byte("m"))
			require.NoError(t, err)
			var cred uds.Cred
			_, err = credRead(b, buf, &cred)
			require.ErrorIs(t, err, uds.ErrNoCredentials)
		})
	})
	t.Run("ReadMsg-Cred-pushed-rights", func(t *testing.T) {
		// A peer pushes descriptors at a reader that asked only for
		// credentials (no room for descriptors): uds closes them and
		// reports it, with the data.
		a, b := pairOf(t, pairType(uds.SeqPacket))
		require.NoError(t, uds.PassCred(b, true))
		raw, err := a.SyscallConn()
		require.NoError(t, err)
		buf := make([]byte, 16)
		measure(t, func(int) {
			rights := unix.UnixRights(int(os.Stdin.Fd()), int(os.Stdout.Fd()), int(os.Stderr.Fd()))
			var serr error
			require.NoError(t, raw.Control(func(fd uintptr) { serr = unix.Sendmsg(int(fd), []byte("m"), rights, nil, 0) }))
			require.NoError(t, serr)
			var cred uds.Cred
			n, err := credRead(b, buf, &cred)
			var te *uds.TruncatedError
			require.ErrorAs(t, err, &te)
			require.Equal(t, 3, te.Files, "the three descriptors arrived and were closed")
			require.Zero(t, te.MaxFiles)
			require.Equal(t, "m", string(buf[:n]))
			require.Nil(t, cred.PIDFD, "the PIDFD is closed with the rest")
		})
	})
	t.Run("Authorize-refusals", func(t *testing.T) {
		a := credAbstract()
		var refusals credRefusals
		ln := credListen(t, &uds.ListenConfig{
			Authorize: func(*uds.Cred) error { return os.ErrPermission },
			OnRefuse:  refusals.onRefuse,
		}, "stream", a)
		accepted := make(chan struct{})
		go func() {
			defer close(accepted)
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		measure(t, func(i int) {
			c, err := uds.Dial(context.Background(), a)
			require.NoError(t, err)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "a refused connection is closed")
			require.NoError(t, c.Close())
		})
		ln.Close()
		<-accepted
		assert.Len(t, refusals.get(), iterations+1)
	})
}
