//go:build linux

package reliability_test

// Interop with programs no one here wrote, filling what the other test files
// do not cover: curl (../udshttp/udshttp_test.go), socat seqpacket with socat
// connecting, nc -U -u sending and python3 seqpacket and datagram
// (../message_test.go), nc -F (../fds_test.go) and live socat, nc and
// python3 listeners (listener_proc_test.go) are tested there. A missing
// program skips the test, or fails it under CI=true.

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
)

// interopDialer waits for a foreign listener that may not be up yet.
var interopDialer = uds.Dialer{WaitForListener: true, Timeout: 10 * time.Second}

// interopReadLine reads one line from r (a *bufio.Reader on c) within five
// seconds.
func interopReadLine(t *testing.T, c interface{ SetReadDeadline(time.Time) error }, r *bufio.Reader) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return line
}

// interopSendUntilBound sends msg from c to a, retrying while nothing is
// bound there yet.
func interopSendUntilBound(t *testing.T, c *uds.DatagramConn, msg string, a uds.Addr) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := testutil.WriteTo(c, []byte(msg), a)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || !(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
			t.Fatalf("sending to %v: %v", a, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInteropSocatAbstractStream(t *testing.T) {
	socat := requireTool(t, "socat")
	t.Run("uds listens, socat connects", func(t *testing.T) {
		name := testutil.UniqTag() + "-socat"
		ln, err := uds.Listen(testutil.Ctx(t), uds.Abstract(name))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, ln)
		peer := msgStartForeign(t, socat, "-", "ABSTRACT-CONNECT:"+name)
		c := testutil.AcceptWithin(t, ln, testutil.AcceptFunc(ln))
		assert.Equal(t, uds.Abstract(name), c.LocalAddr())
		br := bufio.NewReader(c)

		_, err = io.WriteString(peer.Stdin, "from socat\n")
		require.NoError(t, err)
		assert.Equal(t, "from socat\n", interopReadLine(t, c, br))
		_, err = io.WriteString(c, "from uds\n")
		require.NoError(t, err)
		assert.Equal(t, "from uds\n", peer.ReadLine(t, 5*time.Second))

		// socat's end of input shuts down its sending side.
		require.NoError(t, peer.Stdin.Close())
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = br.ReadByte()
		assert.Equal(t, io.EOF, err)
	})
	t.Run("socat listens, uds dials", func(t *testing.T) {
		name := testutil.UniqTag() + "-socatl"
		peer := msgStartForeign(t, socat, "ABSTRACT-LISTEN:"+name, "-")
		c, err := interopDialer.Dial(testutil.Ctx(t), uds.Abstract(name))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, c)
		assert.Equal(t, uds.Abstract(name), c.RemoteAddr(), "the exact name socat bound")
		br := bufio.NewReader(c)

		_, err = io.WriteString(c, "from uds\n")
		require.NoError(t, err)
		assert.Equal(t, "from uds\n", peer.ReadLine(t, 5*time.Second))
		_, err = io.WriteString(peer.Stdin, "from socat\n")
		require.NoError(t, err)
		assert.Equal(t, "from socat\n", interopReadLine(t, c, br))

		// socat binds the name's bytes, no more: one trailing NUL is
		// another socket.
		_, err = uds.Dial(testutil.Ctx(t), uds.Abstract(name+"\x00"))
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	})
}

// TestInteropSocatSeqPacketListen is the other direction of
// TestMessageInteropSocatSeqPacket: socat listens, uds dials.
func TestInteropSocatSeqPacketListen(t *testing.T) {
	socat := requireTool(t, "socat")
	cases := map[string]func(t *testing.T) (uds.Addr, string){
		"UNIX-LISTEN": func(t *testing.T) (uds.Addr, string) {
			p := filepath.Join(testutil.MkSockDir(t), "socat-sp.sock")
			return uds.Path(p), "UNIX-LISTEN:" + p + ",type=5"
		},
		"ABSTRACT-LISTEN": func(t *testing.T) (uds.Addr, string) {
			name := testutil.UniqTag() + "-socat-spl"
			return uds.Abstract(name), "ABSTRACT-LISTEN:" + name + ",type=5"
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			a, listen := mk(t)
			peer := msgStartForeign(t, socat, listen, "-")
			c, err := interopDialer.Dial(testutil.Ctx(t), a.WithType(uds.SeqPacket))
			require.NoError(t, err)
			testutil.CloseAtEnd(t, c)
			assert.Equal(t, a.WithType(uds.SeqPacket), c.RemoteAddr())

			// Each message we send is written out by socat.
			for _, msg := range []string{"first\n", "second, longer\n"} {
				_, err := c.Write([]byte(msg))
				require.NoError(t, err)
				assert.Equal(t, msg, peer.ReadLine(t, 5*time.Second))
			}
			// Each line socat reads is one message.
			for _, line := range []string{"reply one\n", "2\n"} {
				_, err := io.WriteString(peer.Stdin, line)
				require.NoError(t, err)
				testutil.Expect(t, c, 256, []byte(line))
			}
		})
	}
}

func TestInteropSocatDatagram(t *testing.T) {
	socat := requireTool(t, "socat")
	t.Run("socat sends", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			srv, bound func(t *testing.T) uds.Addr
			addr       func(srv, bound uds.Addr) string
		}{
			{
				"UNIX-SENDTO",
				func(t *testing.T) uds.Addr { return uds.Path(filepath.Join(testutil.MkSockDir(t), "dg-srv.sock")) },
				func(t *testing.T) uds.Addr { return uds.Path(filepath.Join(testutil.MkSockDir(t), "dg-socat.sock")) },
				func(srv, bound uds.Addr) string { return "UNIX-SENDTO:" + srv.Name() + ",bind=" + bound.Name() },
			},
			{
				"ABSTRACT-SENDTO",
				func(*testing.T) uds.Addr { return uds.Abstract(testutil.UniqTag() + "-dg-srv") },
				func(*testing.T) uds.Addr { return uds.Abstract(testutil.UniqTag() + "-dg-socat") },
				func(srv, bound uds.Addr) string { return "ABSTRACT-SENDTO:" + srv.Name() + ",bind=" + bound.Name() },
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srvAddr, bound := tc.srv(t), tc.bound(t)
				srv := testutil.ListenDatagram(t, nil, srvAddr)
				peer := msgStartForeign(t, socat, "-", tc.addr(srvAddr, bound))
				_, err := io.WriteString(peer.Stdin, "hello from socat\n")
				require.NoError(t, err)

				testutil.Deadline(t, srv)
				buf := make([]byte, 256)
				var from uds.Addr
				n, err := testutil.ReadFrom(srv, buf, &from)
				require.NoError(t, err)
				assert.Equal(t, "hello from socat\n", string(buf[:n]))
				assert.Equal(t, bound.WithType(uds.Datagram), from, "the exact address socat bound")

				_, err = testutil.WriteTo(srv, []byte("reply from uds\n"), from)
				require.NoError(t, err)
				assert.Equal(t, "reply from uds\n", peer.ReadLine(t, 5*time.Second))
			})
		}
	})
	t.Run("socat receives", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			addr func(t *testing.T) (uds.Addr, string)
		}{
			{"UNIX-RECV", func(t *testing.T) (uds.Addr, string) {
				p := filepath.Join(testutil.MkSockDir(t), "dg-recv.sock")
				return uds.Path(p), "UNIX-RECV:" + p
			}},
			{"ABSTRACT-RECV", func(t *testing.T) (uds.Addr, string) {
				name := testutil.UniqTag() + "-dg-recv"
				return uds.Abstract(name), "ABSTRACT-RECV:" + name
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, recv := tc.addr(t)
				peer := msgStartForeign(t, socat, "-u", recv, "-")
				client := testutil.ListenDatagram(t, nil, uds.Autobind())
				interopSendUntilBound(t, client, "one datagram\n", a)
				assert.Equal(t, "one datagram\n", peer.ReadLine(t, 5*time.Second))
				_, err := testutil.WriteTo(client, []byte("two\n"), a)
				require.NoError(t, err)
				assert.Equal(t, "two\n", peer.ReadLine(t, 5*time.Second))
			})
		}
	})
}

// TestInteropNetcatStream: nc.openbsd -U both ways, and nc -lUu receiving
// (nc -U -u sending is TestMessageInteropNetcatDatagram).
func TestInteropNetcatStream(t *testing.T) {
	nc := requireTool(t, "nc")
	t.Run("nc connects", func(t *testing.T) {
		p := filepath.Join(testutil.MkSockDir(t), "nc.sock")
		ln, err := uds.Listen(testutil.Ctx(t), uds.Path(p))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, ln)
		peer := msgStartForeign(t, nc, "-U", p)
		c := testutil.AcceptWithin(t, ln, testutil.AcceptFunc(ln))
		br := bufio.NewReader(c)

		_, err = io.WriteString(peer.Stdin, "hello from nc\n")
		require.NoError(t, err)
		assert.Equal(t, "hello from nc\n", interopReadLine(t, c, br))
		_, err = io.WriteString(c, "hello from uds\n")
		require.NoError(t, err)
		assert.Equal(t, "hello from uds\n", peer.ReadLine(t, 5*time.Second))
	})
	t.Run("nc listens", func(t *testing.T) {
		p := filepath.Join(testutil.MkSockDir(t), "ncl.sock")
		peer := msgStartForeign(t, nc, "-lU", p)
		c, err := interopDialer.Dial(testutil.Ctx(t), uds.Path(p))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, c)
		assert.Equal(t, uds.Path(p), c.RemoteAddr())
		br := bufio.NewReader(c)

		_, err = io.WriteString(c, "hello from uds\n")
		require.NoError(t, err)
		assert.Equal(t, "hello from uds\n", peer.ReadLine(t, 5*time.Second))
		_, err = io.WriteString(peer.Stdin, "hello from nc\n")
		require.NoError(t, err)
		assert.Equal(t, "hello from nc\n", interopReadLine(t, c, br))
	})
	t.Run("nc -lUu receives datagrams", func(t *testing.T) {
		p := filepath.Join(testutil.MkSockDir(t), "nclu.sock")
		peer := msgStartForeign(t, nc, "-lUu", p)
		client := testutil.ListenDatagram(t, nil, uds.Autobind())
		interopSendUntilBound(t, client, "dg one\n", uds.Path(p))
		assert.Equal(t, "dg one\n", peer.ReadLine(t, 5*time.Second))
		_, err := testutil.WriteTo(client, []byte("dg two\n"), uds.Path(p))
		require.NoError(t, err)
		assert.Equal(t, "dg two\n", peer.ReadLine(t, 5*time.Second))
	})
}

// TestInteropPythonAbstractNUL: abstract names with NUL bytes inside, as
// python3's socket module writes them (b'\0a\0b...'), both ways, on stream
// sockets.
func TestInteropPythonAbstractNUL(t *testing.T) {
	py := requireTool(t, "python3")
	t.Run("python listens, uds dials", func(t *testing.T) {
		const script = `
import socket, sys
name = b'\0' + bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(name)
s.listen()
print('READY', s.getsockname().hex(), flush=True)
c, _ = s.accept()
data = c.recv(100)
c.sendall(b'py:' + data)
print('GOT', data.hex(), flush=True)
sys.stdin.read()
`
		name := "a\x00b\x00" + testutil.UniqTag()
		peer := msgStartForeign(t, py, "-c", script, hex.EncodeToString([]byte(name)))
		assert.Equal(t, "READY "+hex.EncodeToString([]byte("\x00"+name))+"\n", peer.ReadLine(t, 10*time.Second))

		// Only the exact bytes reach python's socket.
		for _, other := range []string{"a", "a\x00b", name + "\x00", name[:len(name)-1]} {
			_, err := uds.Dial(testutil.Ctx(t), uds.Abstract(other))
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "dialing %q", other)
		}
		c, err := uds.Dial(testutil.Ctx(t), uds.Abstract(name))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, c)
		assert.Equal(t, uds.Abstract(name), c.RemoteAddr(), "the exact name python bound, NULs included")
		msg := "uds\x00says hi"
		_, err = io.WriteString(c, msg)
		require.NoError(t, err)
		assert.Equal(t, "GOT "+hex.EncodeToString([]byte(msg))+"\n", peer.ReadLine(t, 5*time.Second))
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(c, buf, len("py:")+len(msg))
		require.NoError(t, err)
		assert.Equal(t, "py:"+msg, string(buf[:n]))
	})
	t.Run("uds listens, python connects", func(t *testing.T) {
		const script = `
import socket, sys
name = b'\0' + bytes.fromhex(sys.argv[1])
longer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    longer.connect(name + b'\0')
    print('LONGER connected', flush=True)
except OSError as e:
    print('LONGER', e.errno, flush=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(name)
print('PEER', s.getpeername().hex(), flush=True)
s.sendall(b'py\0hello')
s.settimeout(5)
print('GOT', s.recv(100).hex(), flush=True)
sys.stdin.read()
`
		name := "a\x00b\x00" + testutil.UniqTag()
		ln, err := uds.Listen(testutil.Ctx(t), uds.Abstract(name))
		require.NoError(t, err)
		testutil.CloseAtEnd(t, ln)
		peer := msgStartForeign(t, py, "-c", script, hex.EncodeToString([]byte(name)))
		assert.Equal(t, fmt.Sprintf("LONGER %d\n", syscall.ECONNREFUSED), peer.ReadLine(t, 10*time.Second),
			"a name one NUL longer is another socket")
		c := testutil.AcceptWithin(t, ln, testutil.AcceptFunc(ln))
		assert.Equal(t, uds.Abstract(name), c.LocalAddr())
		assert.Equal(t, "PEER "+hex.EncodeToString([]byte("\x00"+name))+"\n", peer.ReadLine(t, 5*time.Second),
			"python sees the exact name uds bound")
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(c, buf, len("py\x00hello"))
		require.NoError(t, err)
		assert.Equal(t, "py\x00hello", string(buf[:n]))
		reply := "uds\x00reply"
		_, err = io.WriteString(c, reply)
		require.NoError(t, err)
		assert.Equal(t, "GOT "+hex.EncodeToString([]byte(reply))+"\n", peer.ReadLine(t, 5*time.Second))
	})
}

// ssSocket is one line of `ss -xlpnH`.
type ssSocket struct {
	local string
	inode uint64
	line  string
}

// ssListening runs `ss -xlpnH` and returns the listening Unix sockets.
func ssListening(t *testing.T) []ssSocket {
	t.Helper()
	ss := requireTool(t, "ss")
	cmd := exec.Command(ss, "-xlpnH")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ss -xlpnH: %s", stderr.String())
	var socks []ssSocket
	for _, line := range strings.Split(string(out), "\n") {
		// u_str LISTEN 0 4096 /tmp/x.sock 12345 * 0 users:(("uds.test",pid=1,fd=3))
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		ino, err := strconv.ParseUint(f[5], 10, 64)
		if err != nil {
			continue
		}
		socks = append(socks, ssSocket{local: f[4], inode: ino, line: line})
	}
	return socks
}

// socketInode returns the inode of the socket behind c.
func socketInode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var st unix.Stat_t
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }))
	require.NoError(t, serr)
	return st.Ino
}

// TestInteropSS: `ss -xlpn` lists a uds listener with this process's PID
// and its exact name (ss shows an abstract name's NUL bytes as '@').
func TestInteropSS(t *testing.T) {
	requireTool(t, "ss")
	tag := testutil.UniqTag()
	for _, tc := range []struct {
		kind string
		addr uds.Addr
		show string
	}{
		{"path", uds.Path(filepath.Join(testutil.MkSockDir(t), "ss.sock")), ""},
		{"abstract", uds.Abstract(tag + "-ss"), "@" + tag + "-ss"},
		{"abstract with NULs", uds.Abstract(tag + "\x00ss\x00"), "@" + tag + "@ss@"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if tc.show == "" {
				tc.show = tc.addr.Name()
			}
			ln, err := uds.Listen(testutil.Ctx(t), tc.addr)
			require.NoError(t, err)
			testutil.CloseAtEnd(t, ln)
			ino := socketInode(t, ln)
			var found []ssSocket
			for _, s := range ssListening(t) {
				if s.inode == ino {
					found = append(found, s)
				}
			}
			require.Len(t, found, 1, "ss lists socket inode %d once", ino)
			assert.Equal(t, tc.show, found[0].local, "ss shows the exact name: %s", found[0].line)
			assert.Contains(t, found[0].line, fmt.Sprintf("pid=%d,", os.Getpid()), "ss names this process")
			assert.True(t, strings.HasPrefix(found[0].line, "u_str"), found[0].line)
		})
	}
}
