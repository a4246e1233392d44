//go:build linux

package uds_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

func TestMessageInteropSocatSeqPacket(t *testing.T) {
	socat := requireTool(t, "socat")
	cases := map[string]func(t *testing.T) (uds.Addr, string){
		"UNIX-CONNECT": func(t *testing.T) (uds.Addr, string) {
			p := filepath.Join(mkSockDir(t), "socat.sock")
			return uds.Path(p), "UNIX-CONNECT:" + p + ",type=5"
		},
		"ABSTRACT-CONNECT": func(t *testing.T) (uds.Addr, string) {
			name := uniqTag() + "-socat"
			return uds.Abstract(name), "ABSTRACT-CONNECT:" + name + ",type=5"
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			a, target := mk(t)
			ln, err := uds.Listen(msgCtx(t), a.WithType(uds.SeqPacket))
			require.NoError(t, err)
			msgClose(t, ln)
			peer := msgStartForeign(t, socat, "-", target)
			c := acceptWithin(t, ln, acceptFunc(ln))

			// One line from socat's stdin is one message.
			for _, line := range []string{"first line\n", "second, longer line\n", "3\n"} {
				_, err := io.WriteString(peer.Stdin, line)
				require.NoError(t, err)
				msgExpect(t, c, 256, []byte(line))
			}
			// Each message we send is written out by socat.
			for _, msg := range []string{"reply one\n", "reply two\n"} {
				_, err := c.Write([]byte(msg))
				require.NoError(t, err)
				assert.Equal(t, msg, peer.ReadLine(t, 5*time.Second))
			}
			// socat's end of input ends the connection: 0, io.EOF.
			require.NoError(t, peer.Stdin.Close())
			msgDeadline(t, c)
			n, err := c.Read(make([]byte, 64))
			assert.Equal(t, 0, n)
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestMessageInteropNetcatDatagram(t *testing.T) {
	nc := requireTool(t, "nc")
	p := filepath.Join(mkSockDir(t), "nc.sock")
	srv := msgListenDatagram(t, nil, uds.Path(p))

	peer := msgStartForeign(t, nc, "-U", "-u", "-w1", p)
	_, err := io.WriteString(peer.Stdin, "hello from nc\n")
	require.NoError(t, err)
	require.NoError(t, peer.Stdin.Close())

	msgDeadline(t, srv)
	buf := make([]byte, 256)
	n, from, err := srv.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello from nc\n", string(buf[:n]))
	fa, ok := from.(uds.Addr)
	require.True(t, ok)
	assert.Equal(t, uds.KindPath, fa.Kind(), "nc binds a path to receive replies (got %v)", fa)
	fi, err := os.Lstat(fa.Name())
	if assert.NoError(t, err, "nc's reply socket %q", fa.Name()) {
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	}

	_, err = srv.WriteTo([]byte("reply from uds\n"), from)
	require.NoError(t, err)
	assert.Equal(t, "reply from uds\n", peer.ReadLine(t, 5*time.Second))
}

func TestMessageInteropPythonSeqPacket(t *testing.T) {
	py := requireTool(t, "python3")
	const script = `
import socket, sys
addr = sys.argv[1]
if addr.startswith('@'):
    addr = '\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(addr)
s.send(b'')
s.send(b'x')
s.send(b'a' * 100)
s.settimeout(5)
r = s.recv(1000)
print(r.hex(), flush=True)
r = s.recv(1000)
print(len(r), flush=True)
s.close()
`
	for name, a := range map[string]uds.Addr{
		"path":     uds.Path(filepath.Join(mkSockDir(t), "py.sock")),
		"abstract": uds.Abstract(uniqTag() + "-py"),
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := uds.Listen(msgCtx(t), a.WithType(uds.SeqPacket))
			require.NoError(t, err)
			msgClose(t, ln)
			arg := a.Name()
			if a.Kind() == uds.KindAbstract {
				arg = "@" + a.Name()
			}
			peer := msgStartForeign(t, py, "-c", script, arg)
			c := acceptWithin(t, ln, acceptFunc(ln))

			for _, want := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("a"), 100)} {
				msgDeadline(t, c)
				size, err := msgPeek(c)
				require.NoError(t, err)
				assert.Equal(t, len(want), size)
				msgExpect(t, c, 1000, want)
			}
			reply := []byte("uds\x00reply")
			_, err = c.Write(reply)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(reply)+"\n", peer.ReadLine(t, 5*time.Second))
			_, err = c.Write(nil)
			require.NoError(t, err)
			assert.Equal(t, "0\n", peer.ReadLine(t, 5*time.Second), "python reads our empty message")

			// python closed: EOF.
			msgDeadline(t, c)
			n, err := c.Read(make([]byte, 16))
			assert.Equal(t, 0, n)
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestMessageInteropPythonDatagram(t *testing.T) {
	py := requireTool(t, "python3")
	const script = `
import socket, sys
name = bytes.fromhex(sys.argv[1])
srv = sys.argv[2]
if srv.startswith('@'):
    srv = '\0' + srv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(name)
s.sendto(b'hello from python', srv)
s.settimeout(5)
data, addr = s.recvfrom(1000)
print('data', data.hex(), repr(data), flush=True)
print('name', s.getsockname().hex(), repr(s.getsockname()), flush=True)
`
	for srvName, srvAddr := range map[string]uds.Addr{
		"path server":     uds.Path(filepath.Join(mkSockDir(t), "pydg.sock")),
		"abstract server": uds.Abstract(uniqTag() + "-pydg"),
	} {
		t.Run(srvName, func(t *testing.T) {
			srv := msgListenDatagram(t, nil, srvAddr)
			clientName := "\x00py\x00name-" + uniqTag() // as the kernel sees it
			arg := srvAddr.Name()
			if srvAddr.Kind() == uds.KindAbstract {
				arg = "@" + srvAddr.Name()
			}
			peer := msgStartForeign(t, py, "-c", script, hex.EncodeToString([]byte(clientName)), arg)

			msgDeadline(t, srv)
			buf := make([]byte, 256)
			n, from, err := srv.ReadFrom(buf)
			require.NoError(t, err)
			assert.Equal(t, "hello from python", string(buf[:n]))
			want := uds.Abstract(clientName[1:]).WithType(uds.Datagram)
			assert.Equal(t, want, from, "the exact abstract name, NUL bytes included")

			reply := []byte("reply\x00from uds")
			_, err = srv.WriteTo(reply, from)
			require.NoError(t, err)
			line := peer.ReadLine(t, 5*time.Second)
			assert.True(t, strings.HasPrefix(line, "data "+hex.EncodeToString(reply)+" "), "python got %q", line)
			line = peer.ReadLine(t, 5*time.Second)
			assert.True(t, strings.HasPrefix(line, "name "+hex.EncodeToString([]byte(clientName))+" "), "python's getsockname: %q", line)
		})
	}
}

// BenchmarkMsg compares the message rate of uds's message sockets with the
// standard library's in the same run: BenchmarkMsg/<case>/uds and
// BenchmarkMsg/<case>/std. One goroutine writes b.N messages, another reads
// them.
func BenchmarkMsg(b *testing.B) {
	const seq, dgram = syscall.SOCK_SEQPACKET, syscall.SOCK_DGRAM
	cases := []struct {
		name string
		typ  int
		size int
		run  func(b *testing.B, size int, write, read func([]byte) (int, error))
	}{
		{"seqpacket-64B", seq, 64, msgBenchRate},
		{"seqpacket-4KiB", seq, 4096, msgBenchRate},
		{"dgram-connected-64B", dgram, 64, msgBenchRate},
		// One goroutine writes a message and reads it back: the cost of
		// the two calls alone, without the scheduling of two goroutines
		// (whose spread on a 2-CPU machine hides differences of 10 %).
		{"seqpacket-64B-1goroutine", seq, 64, msgBenchSync},
		{"dgram-64B-1goroutine", dgram, 64, msgBenchSync},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			row := newRow(b)
			row.Run("uds", func(b *testing.B) {
				w, r := udsMsgPair(b, tc.typ, false)
				tc.run(b, tc.size, w.Write, r.Read)
			})
			if tc.typ == seq {
				row.Run("uds-zeroeof", func(b *testing.B) {
					w, r := udsMsgPair(b, tc.typ, true)
					tc.run(b, tc.size, w.Write, r.Read)
				})
			}
			row.Run("std", func(b *testing.B) {
				w, r := msgStdPair(b, tc.typ)
				tc.run(b, tc.size, w.Write, r.Read)
			})
			row.Done()
		})
	}

	// Unconnected sends to a receiver that drains in another goroutine. With
	// net.unix.max_dgram_qlen at its default of 10 the receive queue is
	// full most of the time, so this measures how soon a blocked sender
	// finds room again. uds-aa repeats uds (an A/A row, for the noise);
	// uds-WriteTo goes through the net.Addr interface.
	b.Run("dgram-sendto-64B", func(b *testing.B) {
		row := newRow(b)
		udsRows := []struct {
			name    string
			netAddr bool
		}{{"uds", false}, {"uds-aa", false}, {"uds-WriteTo", true}}
		for _, side := range udsRows {
			row.Run(side.name, func(b *testing.B) {
				rAddr := uds.Abstract(uniqTag() + "-bench-r")
				r, err := uds.ListenDatagram(msgCtx(b), rAddr)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				w, err := uds.ListenDatagram(msgCtx(b), uds.Abstract(uniqTag()+"-bench-w"))
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				// WriteMsg and ReadMsg with one Message each, reused.
				out := uds.Message{Addr: rAddr}
				var in uds.Message
				write := func(p []byte) (int, error) {
					out.Buf = p
					err := uds.WriteMsg(w, &out)
					return out.N, err
				}
				if side.netAddr {
					var to net.Addr = rAddr // boxed once
					write = func(p []byte) (int, error) { return w.WriteTo(p, to) }
				}
				msgBenchRate(b, 64, write,
					func(p []byte) (int, error) {
						in.Buf = p
						err := uds.ReadMsg(r, &in)
						return in.N, err
					})
			})
		}
		row.Run("std", func(b *testing.B) {
			rAddr := &net.UnixAddr{Name: "@" + uniqTag() + "-bench-r", Net: "unixgram"}
			r, err := net.ListenUnixgram("unixgram", rAddr)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			w, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@" + uniqTag() + "-bench-w", Net: "unixgram"})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			msgBenchRate(b, 64,
				func(p []byte) (int, error) { return w.WriteToUnix(p, rAddr) },
				func(p []byte) (int, error) {
					n, _, err := r.ReadFromUnix(p)
					return n, err
				})
		})
		row.Done()
	})
}

// msgStdPair returns a socket pair of type typ as package net connections.
func msgStdPair(b *testing.B, typ int) (w, r *net.UnixConn) {
	b.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		b.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

// msgBenchRate sends b.N messages of size bytes from a writer goroutine to a
// reader goroutine and reports the message rate.
func msgBenchRate(b *testing.B, size int, write, read func([]byte) (int, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	msg := make([]byte, size)
	buf := make([]byte, size+1)
	n := b.N
	werr := make(chan error, 1)
	rerr := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for i := 0; i < n; i++ {
			if _, err := write(msg); err != nil {
				werr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()
	go func() {
		for i := 0; i < n; i++ {
			got, err := read(buf)
			if err == nil && got != size {
				err = fmt.Errorf("read %d bytes, want %d", got, size)
			}
			if err != nil {
				rerr <- fmt.Errorf("read %d: %w", i, err)
				return
			}
		}
		rerr <- nil
	}()
	// The first error ends the benchmark; closing the sockets (deferred by
	// the caller) releases the other goroutine.
	for range 2 {
		var err error
		select {
		case err = <-werr:
		case err = <-rerr:
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
}

// msgBenchSync writes a message of size bytes and reads it back, b.N times,
// in one goroutine.
func msgBenchSync(b *testing.B, size int, write, read func([]byte) (int, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	msg := make([]byte, size)
	buf := make([]byte, size+1)
	for i := 0; i < b.N; i++ {
		if _, err := write(msg); err != nil {
			b.Fatal(err)
		}
		if n, err := read(buf); err != nil || n != size {
			b.Fatalf("read %d bytes, %v; want %d", n, err, size)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// udsMsgPair returns a connected uds pair of type typ (SOCK_SEQPACKET or
// SOCK_DGRAM), closed when the benchmark ends. With zeroEOF the seqpacket
// reader takes a zero-byte read for EOF (SetZeroReadIsEOF): no timestamps,
// package net's semantics.
func udsMsgPair(b *testing.B, typ int, zeroEOF bool) (w, r msgEnd) {
	b.Helper()
	if typ != syscall.SOCK_SEQPACKET {
		return pairOf(b, uds.DatagramPair)
	}
	sw, sr := pairOf(b, pairType(uds.SeqPacket))
	if zeroEOF {
		if err := sr.SetZeroReadIsEOF(true); err != nil {
			b.Fatal(err)
		}
	}
	return sw, sr
}
