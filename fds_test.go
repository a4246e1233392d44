//go:build linux

package uds_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
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

// fdSame reports whether descriptor fd refers to the same file as f.
func fdSame(t testing.TB, f *os.File, fd int) bool {
	t.Helper()
	var a, b unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &a))
	require.NoError(t, unix.Fstat(fd, &b))
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// TestFilesRoundTrip: files arrive as the same open files, close-on-exec,
// with their message, on every kind of connection.
func TestFilesRoundTrip(t *testing.T) {
	for _, p := range fdPairs() {
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			files := fdFiles(t, 2)
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pr.Close()
			defer pw.Close()
			sent := append(files, pw)

			n, err := fdWriteFiles(a, []byte("hello"), sent...)
			require.NoError(t, err)
			assert.Equal(t, 5, n)
			buf := make([]byte, 16)
			n, got, err := fdReadFiles(b, buf, 8)
			require.NoError(t, err)
			defer fdCloseAll(got)
			assert.Equal(t, "hello", string(buf[:n]))
			require.Len(t, got, 3)
			for i, f := range got {
				assert.True(t, fdSame(t, sent[i], int(f.Fd())), "file %d is the file sent", i)
				flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
				require.NoError(t, err)
				assert.NotZero(t, flags&unix.FD_CLOEXEC, "received descriptors are close-on-exec")
			}
			data := make([]byte, 16)
			n, err = got[0].ReadAt(data, 0)
			require.ErrorIs(t, err, io.EOF)
			assert.Equal(t, "file 0", string(data[:n]))
			_, err = got[2].Write([]byte("through the pipe"))
			require.NoError(t, err)
			n, err = pr.Read(data)
			require.NoError(t, err)
			assert.Equal(t, "through the pipe", string(data[:n]))

			// The raw variant, into a caller's slice.
			_, err = fdWriteFDs(a, []byte("raw"), fdInts(files))
			require.NoError(t, err)
			fds := []int{-1, -1, -1}
			n, nfd, err := fdReadFDs(b, buf, fds)
			require.NoError(t, err)
			assert.Equal(t, "raw", string(buf[:n]))
			require.Equal(t, 2, nfd)
			for i := range nfd {
				assert.True(t, fdSame(t, files[i], fds[i]))
				unix.Close(fds[i])
			}
			assert.Equal(t, -1, fds[2])
		})
	}
}

// TestFilesNoLeaks counts this process's descriptors around 1,000 rounds of
// every way of receiving: all files wanted, more files than allowed (sender
// sends 4, receiver allows 2: ErrTruncated with the byte count, every
// descriptor closed), the raw variant with a too-small slice, plain Read,
// which has no way to hand descriptors out, and a read with no room at all.
func TestFilesNoLeaks(t *testing.T) {
	const rounds = 1000
	for _, p := range fdPairs() {
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			files := fdFiles(t, 4)
			ints := fdInts(files)
			buf := make([]byte, 64)
			fds := make([]int, 4)
			before := openFDCount(t)
			for i := range rounds {
				_, err := fdWriteFiles(a, []byte("three"), files[:3]...)
				require.NoError(t, err)
				n, got, err := fdReadFiles(b, buf, 3)
				require.NoError(t, err)
				require.Equal(t, "three", string(buf[:n]))
				require.Len(t, got, 3)
				fdCloseAll(got)

				_, err = fdWriteFiles(a, []byte("four"), files...)
				require.NoError(t, err)
				n, got, err = fdReadFiles(b, buf, 2)
				require.ErrorIs(t, err, uds.ErrTruncated, "round %d", i)
				require.Equal(t, 4, n, "the data is delivered with the error")
				require.Equal(t, "four", string(buf[:n]))
				require.Empty(t, got)

				_, err = fdWriteFDs(a, []byte("raw"), ints)
				require.NoError(t, err)
				n, nfd, err := fdReadFDs(b, buf, fds[:1:1])
				require.ErrorIs(t, err, uds.ErrTruncated)
				require.Equal(t, 3, n)
				require.Zero(t, nfd)
				require.Equal(t, -1, fds[0], "a descriptor given back and closed is not left in the slice")

				_, err = fdWriteFiles(a, []byte("plain"), files...)
				require.NoError(t, err)
				n, err = b.Read(buf)
				require.NoError(t, err)
				require.Equal(t, "plain", string(buf[:n]))

				_, err = fdWriteFiles(a, []byte("none"), files[:1]...)
				require.NoError(t, err)
				n, got, err = fdReadFiles(b, buf, 0)
				require.ErrorIs(t, err, uds.ErrTruncated)
				require.Equal(t, "none", string(buf[:n]))
				require.Empty(t, got)
			}
			assert.Equal(t, before, openFDCount(t), "descriptors open before and after %d rounds", rounds)
		})
	}
}

// TestFilesTruncationError: the error names what happened and wraps
// ErrTruncated inside a *net.OpError.
func TestFilesTruncationError(t *testing.T) {
	a, b := pairOf(t, pairType(uds.SeqPacket))
	files := fdFiles(t, 4)
	_, err := fdWriteFiles(a, []byte("x"), files...)
	require.NoError(t, err)
	_, _, err = fdReadFiles(b, make([]byte, 4), 2)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.ErrorIs(t, err, uds.ErrTruncated)
	assert.Contains(t, err.Error(), "more than the 2 allowed")
	var fe *uds.TruncatedError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 2, fe.MaxFiles)
	assert.Greater(t, fe.Files, 2, "at least one descriptor more than the room was seen")
	assert.False(t, fe.Ctrunc)
	assert.Equal(t, 1, fe.Len, "the data was whole")

	// A message longer than the buffer: the bytes' truncation, and the
	// files closed too.
	before := openFDCount(t)
	_, err = fdWriteFiles(a, []byte("too long"), files...)
	require.NoError(t, err)
	n, got, err := fdReadFiles(b, make([]byte, 3), 4)
	var te *uds.TruncatedError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 8, te.Len)
	assert.Equal(t, 3, te.Buf)
	assert.Zero(t, te.Files, "the data was cut, not the descriptors")
	assert.Equal(t, 3, n)
	assert.Empty(t, got)
	assert.Equal(t, before, openFDCount(t))
}

// TestFilesStreamFraming: after a truncation on a stream, the bytes that
// came with the descriptors were returned and the next read continues where
// they ended.
func TestFilesStreamFraming(t *testing.T) {
	a, b := pairOf(t, pairType(uds.Stream))
	files := fdFiles(t, 4)
	_, err := fdWriteFiles(a, []byte("head"), files...)
	require.NoError(t, err)
	_, err = a.Write([]byte("tail"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, got, err := fdReadFiles(b, buf, 2)
	require.ErrorIs(t, err, uds.ErrTruncated)
	assert.Empty(t, got)
	assert.Equal(t, "head", string(buf[:n]), "a read stops after the bytes that carried descriptors")
	n, err = b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "tail", string(buf[:n]))
}

// TestFilesTooMany: more than 253 descriptors is refused before anything is
// sent; 253 pass.
func TestFilesTooMany(t *testing.T) {
	null, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer null.Close()
	files := make([]*os.File, uds.MaxFilesPerMessage+1)
	for i := range files {
		files[i] = null
	}
	for _, p := range fdPairs() {
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			_, err := fdWriteFiles(a, []byte("x"), files...)
			require.Error(t, err)
			assert.ErrorIs(t, err, syscall.EINVAL)
			assert.Contains(t, err.Error(), "254 descriptors in one message")
			assert.Contains(t, err.Error(), "at most 253")
			_, err = fdWriteFDs(a, nil, fdInts(files))
			assert.ErrorIs(t, err, syscall.EINVAL)

			// Nothing was sent.
			require.NoError(t, b.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			_, err = b.Read(make([]byte, 8))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, b.SetReadDeadline(time.Time{}))

			before := openFDCount(t)
			_, err = fdWriteFiles(a, []byte("max"), files[:uds.MaxFilesPerMessage]...)
			require.NoError(t, err)
			buf := make([]byte, 8)
			n, got, err := fdReadFiles(b, buf, uds.MaxFilesPerMessage)
			require.NoError(t, err)
			assert.Equal(t, "max", string(buf[:n]))
			assert.Len(t, got, uds.MaxFilesPerMessage)
			fdCloseAll(got)

			// Room for more than the limit (cap(Files) > 253) is room
			// for the limit: the message arrives whole.
			_, err = fdWriteFiles(a, []byte("max"), files[:uds.MaxFilesPerMessage]...)
			require.NoError(t, err)
			n, got, err = fdReadFiles(b, buf, 1000)
			require.NoError(t, err)
			assert.Equal(t, "max", string(buf[:n]))
			assert.Len(t, got, uds.MaxFilesPerMessage)
			fdCloseAll(got)
			assert.Equal(t, before, openFDCount(t))
		})
	}
}

// TestFilesEmptyMessage: on SEQPACKET and DGRAM, files travel with a
// zero-length message (no hidden byte), which the receiver reads as an
// empty message, not as the end of the connection.
func TestFilesEmptyMessage(t *testing.T) {
	for _, p := range fdPairs() {
		if p.Type == uds.Stream {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			files := fdFiles(t, 1)
			n, err := fdWriteFiles(a, nil, files...)
			require.NoError(t, err)
			assert.Zero(t, n)
			_, err = a.Write([]byte("next"))
			require.NoError(t, err)

			buf := make([]byte, 16)
			n, got, err := fdReadFiles(b, buf, 1)
			require.NoError(t, err)
			assert.Zero(t, n, "the kernel delivers a zero-length message with the file")
			require.Len(t, got, 1)
			assert.True(t, fdSame(t, files[0], int(got[0].Fd())))
			got[0].Close()
			n, err = b.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "next", string(buf[:n]), "no hidden byte came before")

			// Received with no buffer at all.
			_, err = fdWriteFiles(a, nil, files...)
			require.NoError(t, err)
			n, got, err = fdReadFiles(b, nil, 1)
			require.NoError(t, err)
			assert.Zero(t, n)
			require.Len(t, got, 1)
			got[0].Close()
		})
	}
}

// TestFilesStreamEmptyPayload: a stream carries descriptors only with data,
// so files sent without data take exactly one NUL byte with them, and a
// receive with no buffer consumes that byte.
func TestFilesStreamEmptyPayload(t *testing.T) {
	for _, p := range fdPairs() {
		if p.Type != uds.Stream {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			files := fdFiles(t, 1)
			n, err := fdWriteFiles(a, nil, files...)
			require.NoError(t, err)
			assert.Zero(t, n, "the added byte is not counted")
			_, err = a.Write([]byte("after"))
			require.NoError(t, err)
			buf := make([]byte, 16)
			n, got, err := fdReadFiles(b, buf, 1)
			require.NoError(t, err)
			require.Len(t, got, 1)
			got[0].Close()
			assert.Equal(t, []byte{0}, buf[:n], "exactly one NUL byte came with the file")
			n, err = b.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "after", string(buf[:n]))

			// With no buffer, the byte is consumed and not reported.
			_, err = fdWriteFiles(a, nil, files...)
			require.NoError(t, err)
			_, err = a.Write([]byte("after"))
			require.NoError(t, err)
			n, got, err = fdReadFiles(b, nil, 1)
			require.NoError(t, err)
			assert.Zero(t, n)
			require.Len(t, got, 1)
			got[0].Close()
			n, err = b.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "after", string(buf[:n]), "the NUL byte is gone, not left for the next read")

			// Without files an empty write sends nothing.
			n, err = fdWriteFiles(a, nil)
			require.NoError(t, err)
			assert.Zero(t, n)
			require.NoError(t, b.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
			_, err = b.Read(buf)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		})
	}
}

// TestFilesStreamLargePayload: on a stream the whole payload is written,
// as Write does, even when it is larger than the socket buffer.
func TestFilesStreamLargePayload(t *testing.T) {
	a, b := pairOf(t, pairType(uds.Stream))
	files := fdFiles(t, 1)
	payload := msgPattern(4<<20, 3)
	done := make(chan error, 1)
	go func() {
		n, err := fdWriteFiles(a, payload, files...)
		if err == nil && n != len(payload) {
			err = fmt.Errorf("wrote %d of %d bytes", n, len(payload))
		}
		done <- err
	}()
	got := make([]byte, 0, len(payload))
	buf := make([]byte, 64<<10)
	n, fs, err := fdReadFiles(b, buf, 1)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	fs[0].Close()
	got = append(got, buf[:n]...)
	for len(got) < len(payload) {
		n, err := b.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
	require.NoError(t, <-done)
	assert.True(t, string(got) == string(payload))
}

// TestFilesEOF: the end of a connection is io.EOF, with no descriptors.
func TestFilesEOF(t *testing.T) {
	for _, p := range fdPairs() {
		if p.Type == uds.Datagram {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			require.NoError(t, a.Close())
			n, got, err := fdReadFiles(b, make([]byte, 8), 1)
			assert.Zero(t, n)
			assert.Empty(t, got)
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

// TestFilesDatagramAddresses: WriteMsg and ReadMsg with files and an Addr
// between bound, unconnected sockets carry the sender's exact address.
func TestFilesDatagramAddresses(t *testing.T) {
	srvAddr := uds.Abstract(uniqTag() + "\x00srv")
	srv := msgListenDatagram(t, nil, srvAddr)
	cli := msgListenDatagram(t, nil, uds.Path(filepath.Join(mkSockDir(t), "cli.sock")))
	files := fdFiles(t, 2)
	w := uds.Message{Buf: []byte("to srv"), Addr: srvAddr, Files: files}
	require.NoError(t, uds.WriteMsg(cli, &w))
	assert.Equal(t, 6, w.N)
	buf := make([]byte, 16)
	r := uds.Message{Buf: buf, Files: make([]*os.File, 0, 2)}
	require.NoError(t, uds.ReadMsg(srv, &r))
	assert.Equal(t, "to srv", string(buf[:r.N]))
	assert.Equal(t, 6, r.Len)
	assert.Equal(t, cli.LocalAddr(), r.Addr)
	require.Len(t, r.Files, 2)
	fdCloseAll(r.Files)
	from := r.Addr

	require.NoError(t, uds.WriteMsg(srv, &uds.Message{Addr: from, FDs: fdInts(files[:1])}))
	fds := make([]int, 2)
	r = uds.Message{Buf: buf, FDs: fds[:0]}
	require.NoError(t, uds.ReadMsg(cli, &r))
	assert.Zero(t, r.N)
	assert.Equal(t, srvAddr.WithType(uds.Datagram), r.Addr)
	require.Len(t, r.FDs, 1)
	assert.True(t, fdSame(t, files[0], r.FDs[0]))
	unix.Close(r.FDs[0])

	// An unnamed destination is the connected peer: here there is none.
	assert.Error(t, uds.WriteMsg(cli, &uds.Message{Buf: []byte("x"), Addr: uds.Unnamed(), Files: files[:1]}))
}

// TestFilesUnexpectedPIDFD: a PIDFD the kernel attaches (SO_PASSPIDFD) is
// closed when reading files, which does not ask for credentials.
func TestFilesUnexpectedPIDFD(t *testing.T) {
	a, b := pairOf(t, pairType(uds.SeqPacket))
	if err := uds.PassCred(b, true); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip("no SO_PASSPIDFD:", err)
		}
		require.NoError(t, err)
	}
	files := fdFiles(t, 1)
	buf := make([]byte, 8)
	before := openFDCount(t)
	for range 200 {
		_, err := fdWriteFiles(a, []byte("x"), files...)
		require.NoError(t, err)
		_, got, err := fdReadFiles(b, buf, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got[0].Close()
	}
	assert.Equal(t, before, openFDCount(t), "PIDFDs attached to messages are closed")
}

// TestFilesZeroAlloc: passing descriptors allocates nothing on the uds
// types but the files returned.
func TestFilesZeroAlloc(t *testing.T) {
	files := fdFiles(t, 2)
	ints := fdInts(files)
	msg := []byte("zero")
	buf := make([]byte, 16)
	fds := make([]int, 4)
	for _, p := range fdPairs()[:4] {
		t.Run(p.Name, func(t *testing.T) {
			a, b := p.Make(t)
			var failed error
			round := func(send func() (int, error)) {
				if _, err := send(); err != nil {
					failed = err
				}
				n, nfd, err := fdReadFDs(b, buf, fds)
				if err != nil || n != len(msg) || nfd != 2 {
					failed = errors.Join(failed, err, fmt.Errorf("read %d bytes, %d descriptors", n, nfd))
				}
				for _, fd := range fds[:nfd] {
					unix.Close(fd)
				}
			}
			allocs := testing.AllocsPerRun(200, func() { round(func() (int, error) { return fdWriteFDs(a, msg, ints) }) })
			require.NoError(t, failed)
			assert.Equal(t, 0.0, allocs, "WriteMsg with FDs, ReadMsg with FDs")
			allocs = testing.AllocsPerRun(200, func() { round(func() (int, error) { return fdWriteFiles(a, msg, files...) }) })
			require.NoError(t, failed)
			assert.Equal(t, 0.0, allocs, "WriteMsg with Files, ReadMsg with FDs")
			// The steady state of the doc: one Message reused for every
			// write, one for every read.
			w := uds.Message{Buf: msg, FDs: ints}
			r := uds.Message{Buf: buf}
			allocs = testing.AllocsPerRun(200, func() {
				if err := uds.WriteMsg(a, &w); err != nil {
					failed = err
				}
				r.FDs = fds[:0]
				err := uds.ReadMsg(b, &r)
				if err != nil || r.N != len(msg) || len(r.FDs) != 2 {
					failed = errors.Join(failed, err, fmt.Errorf("read %d bytes, %d descriptors", r.N, len(r.FDs)))
				}
				for _, fd := range r.FDs {
					unix.Close(fd)
				}
			})
			require.NoError(t, failed)
			assert.Equal(t, 0.0, allocs, "reused Messages")

			// ReadMsg with Files allocates the files (and the slice, if new), nothing more.
			perFile := testing.AllocsPerRun(100, func() {
				fd, _ := unix.Dup(ints[0])
				os.NewFile(uintptr(fd), "x").Close()
			})
			allocs = testing.AllocsPerRun(200, func() {
				if _, err := fdWriteFiles(a, msg, files...); err != nil {
					failed = err
				}
				_, got, err := fdReadFiles(b, buf, 2)
				if err != nil || len(got) != 2 {
					failed = errors.Join(failed, err)
				}
				fdCloseAll(got)
			})
			require.NoError(t, failed)
			assert.LessOrEqual(t, allocs, 1+2*perFile, "ReadMsg with a new Files slice: the slice and two files (%.0f allocations each)", perFile)

			// With the Files slice reused, only the files.
			room := make([]*os.File, 0, 2)
			allocs = testing.AllocsPerRun(200, func() {
				if _, err := fdWriteFiles(a, msg, files...); err != nil {
					failed = err
				}
				r := uds.Message{Buf: buf, Files: room}
				err := uds.ReadMsg(b, &r)
				if err != nil || len(r.Files) != 2 {
					failed = errors.Join(failed, err)
				}
				fdCloseAll(r.Files)
			})
			require.NoError(t, failed)
			assert.LessOrEqual(t, allocs, 2*perFile, "ReadMsg with a reused Files slice: two files (%.0f allocations each)", perFile)
		})
	}
	t.Run("datagram with addresses", func(t *testing.T) {
		srvAddr := uds.Abstract(uniqTag())
		srv := msgListenDatagram(t, nil, srvAddr)
		cli := msgListenDatagram(t, nil, uds.Autobind())
		w := uds.Message{Buf: msg, Addr: srvAddr, FDs: ints}
		r := uds.Message{Buf: buf}
		var failed error
		allocs := testing.AllocsPerRun(200, func() {
			if err := uds.WriteMsg(cli, &w); err != nil {
				failed = err
			}
			r.FDs = fds[:0]
			err := uds.ReadMsg(srv, &r)
			if err != nil || len(r.FDs) != 2 {
				failed = errors.Join(failed, err)
			}
			for _, fd := range r.FDs {
				unix.Close(fd)
			}
		})
		require.NoError(t, failed)
		assert.Equal(t, cli.LocalAddr(), r.Addr)
		assert.Equal(t, 0.0, allocs)
	})
}

// TestRefuseFiles: with SO_PASSRIGHTS=0 (Linux 6.16+) the kernel refuses
// the sender (EPERM) and nothing reaches the receiver; plain data still
// flows.
func TestRefuseFiles(t *testing.T) {
	files := fdFiles(t, 1)
	check := func(t *testing.T, snd, rcv fdEnd) {
		t.Helper()
		_, err := fdWriteFiles(snd, []byte("files"), files...)
		require.ErrorIs(t, err, syscall.EPERM, "the kernel refuses the sender")
		_, err = snd.Write([]byte("data"))
		require.NoError(t, err)
		buf := make([]byte, 16)
		n, got, err := fdReadFiles(rcv, buf, 1)
		require.NoError(t, err)
		assert.Equal(t, "data", string(buf[:n]), "the refused message never arrived")
		assert.Empty(t, got)
	}
	t.Run("SO_PASSRIGHTS=0 set on a pair", func(t *testing.T) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		rc, err := b.SyscallConn()
		require.NoError(t, err)
		var serr error
		require.NoError(t, rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSRIGHTS, 0)
		}))
		if errors.Is(serr, unix.ENOPROTOOPT) {
			t.Skip("kernel without SO_PASSRIGHTS:", serr)
		}
		require.NoError(t, serr)
		check(t, a, b)
		// The other direction is unaffected.
		_, err = fdWriteFiles(b, []byte("back"), files...)
		require.NoError(t, err)
		_, got, err := fdReadFiles(a, make([]byte, 8), 1)
		require.NoError(t, err)
		fdCloseAll(got)
	})
	t.Run("ListenConfig.RefuseFiles, accepted connections inherit it", func(t *testing.T) {
		lc := uds.ListenConfig{RefuseFiles: true}
		ln, err := lc.Listen(context.Background(), uds.Path(filepath.Join(mkSockDir(t), "s.sock")))
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip("kernel without SO_PASSRIGHTS:", err)
		}
		require.NoError(t, err)
		defer ln.Close()
		cli, err := uds.Dial(context.Background(), ln.Addr().(uds.Addr))
		require.NoError(t, err)
		defer cli.Close()
		srv, err := acceptConn(ln)
		require.NoError(t, err)
		defer srv.Close()
		check(t, cli, srv)
	})
	t.Run("ListenConfig.RefuseFiles on a datagram socket", func(t *testing.T) {
		lc := uds.ListenConfig{RefuseFiles: true}
		addr := uds.Abstract(uniqTag())
		srv, err := lc.ListenDatagram(context.Background(), addr)
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip("kernel without SO_PASSRIGHTS:", err)
		}
		require.NoError(t, err)
		defer srv.Close()
		cli := msgDialDatagram(t, nil, addr)
		check(t, cli, srv)
	})
	t.Run("Dialer.RefuseFiles", func(t *testing.T) {
		ln := udsListen(t, nil, uds.Abstract(uniqTag()))
		d := uds.Dialer{RefuseFiles: true}
		cli, srv := udsConnect(t, ln, &d, ln.Addr().(uds.Addr))
		check(t, srv, cli)
		// The listener's side still takes files.
		_, err := fdWriteFiles(cli, []byte("back"), files...)
		require.NoError(t, err)
		_, got, err := fdReadFiles(srv, make([]byte, 8), 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		fdCloseAll(got)
	})
	t.Run("Dialer.RefuseFiles on a seqpacket socket", func(t *testing.T) {
		ln := udsListen(t, nil, uds.Abstract(uniqTag()).WithType(uds.SeqPacket))
		d := uds.Dialer{RefuseFiles: true}
		cli, srv := udsConnect(t, ln, &d, ln.Addr().(uds.Addr))
		check(t, srv, cli)
	})
	t.Run("Dialer.RefuseFiles on a datagram socket", func(t *testing.T) {
		addr := uds.Abstract(uniqTag())
		srv := msgListenDatagram(t, nil, addr)
		d := uds.Dialer{RefuseFiles: true, LocalAddr: uds.Autobind()}
		cli := msgDialDatagram(t, &d, addr)
		to := cli.LocalAddr().(uds.Addr)
		err := uds.WriteMsg(srv, &uds.Message{Buf: []byte("files"), Addr: to, Files: files})
		require.ErrorIs(t, err, syscall.EPERM, "the kernel refuses the sender")
		_, err = srv.WriteTo([]byte("data"), to)
		require.NoError(t, err)
		buf := make([]byte, 16)
		n, got, err := fdReadFiles(cli, buf, 1)
		require.NoError(t, err)
		assert.Equal(t, "data", string(buf[:n]), "the refused message never arrived")
		assert.Empty(t, got)
	})
}

// ---- a receiver out of descriptors (RLIMIT_NOFILE) ----------------------

const roleFDsRlimit = "fds-rlimit-recv" // args: socket type; fd 3 is the socket

func init() { childproc.Register(roleFDsRlimit, childFDsRlimit) }

type fdsRlimitReport struct {
	N, Files         int
	Err              string
	Truncated        bool
	Data             string
	FreeAfter        int // descriptors that could be opened right after the truncated read
	N2, Files2       int
	Data2, Err2      string
	Before, After    int
	Limit, Occupying int
}

func childFDsRlimit(args []string) int {
	c, limit, before, fillers, err := fdChildStart(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := fdsRlimitReport{Limit: limit, Before: before}
	// The descriptor table is full: free exactly two slots.
	r.Occupying = len(fillers)
	for range 2 {
		unix.Close(fillers[len(fillers)-1])
		fillers = fillers[:len(fillers)-1]
	}
	fmt.Println(childproc.Ready)
	buf := make([]byte, 64)
	n, files, err := fdReadFiles(c, buf, 8)
	r.N, r.Files, r.Data = n, len(files), string(buf[:n])
	if err != nil {
		r.Err, r.Truncated = err.Error(), errors.Is(err, uds.ErrTruncated)
	}
	for _, f := range files {
		f.Close()
	}
	// The two descriptors that did arrive must have been closed: the two
	// slots are free again, and no more.
	r.FreeAfter = fdCountFree()
	fmt.Println("FIRST")
	n, files, err = fdReadFiles(c, buf, 8)
	r.N2, r.Files2, r.Data2 = n, len(files), string(buf[:n])
	if err != nil {
		r.Err2 = err.Error()
	}
	for _, f := range files {
		f.Close()
	}
	for _, fd := range fillers {
		unix.Close(fd)
	}
	r.After = fdProcCount()
	out, _ := json.Marshal(r)
	fmt.Println("REPORT", string(out))
	return 0
}

// TestFilesRlimitTruncation: a receiver whose descriptor table is full
// (run under prlimit --nofile) gets MSG_CTRUNC with the data delivered:
// ReadMsg returns the byte count and ErrTruncated, the descriptors that
// did arrive are closed (the freed slots are free again), the connection
// stays in step, and the child ends with the descriptors it began with.
func TestFilesRlimitTruncation(t *testing.T) {
	prlimit := requireTool(t, "prlimit")
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		t.Run(typ.String(), func(t *testing.T) {
			mine, theirs := pairFiles(t, typ)
			defer mine.Close()
			cmd := exec.Command(prlimit, "--nofile=12:12", exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "UDS_CHILD_ROLE="+roleFDsRlimit, `UDS_CHILD_ARGS=["`+typ.String()+`"]`)
			cmd.ExtraFiles = []*os.File{theirs}
			var stderr msgSyncBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			theirs.Close()
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stdout)
			next := func() string {
				t.Helper()
				require.True(t, lines.Scan(), "child output ended; stderr:\n%s", stderr.String())
				return lines.Text()
			}
			require.Equal(t, childproc.Ready, next())

			files := fdFiles(t, 4)
			_, err = fdWriteFiles(mine, []byte("payload-1"), files...)
			require.NoError(t, err)
			require.Equal(t, "FIRST", next())
			_, err = fdWriteFiles(mine, []byte("second"), files[:1]...)
			require.NoError(t, err)
			line := next()
			require.NoError(t, cmd.Wait(), "stderr:\n%s", stderr.String())

			var r fdsRlimitReport
			rest, ok := strings.CutPrefix(line, "REPORT ")
			require.True(t, ok, line)
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			t.Logf("child: %+v", r)
			assert.Equal(t, 12, r.Limit)
			assert.True(t, r.Truncated, "ErrTruncated: %s", r.Err)
			assert.Contains(t, r.Err, "MSG_CTRUNC")
			assert.Contains(t, r.Err, "the 2 that arrived were closed")
			assert.Equal(t, 9, r.N, "the data is delivered with the error")
			assert.Equal(t, "payload-1", r.Data)
			assert.Zero(t, r.Files)
			assert.Equal(t, 2, r.FreeAfter, "the two descriptors that arrived were closed at once")
			assert.Equal(t, "second", r.Data2, "the connection stays in step")
			assert.Equal(t, 1, r.Files2)
			assert.Empty(t, r.Err2)
			assert.Equal(t, r.Before, r.After, "no descriptor leaked in the child")
		})
	}
}

// ---- interoperability ---------------------------------------------------

// fdPython starts a python3 script with sock as its descriptor 3 (closed
// here once the child has it); wait returns the script's standard output.
func fdPython(t *testing.T, sock *os.File, script string) (wait func() string) {
	t.Helper()
	py := requireTool(t, "python3")
	cmd := exec.Command(py, "-c", script)
	cmd.ExtraFiles = []*os.File{sock}
	var stdout, stderr msgSyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	sock.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return func() string {
		t.Helper()
		select {
		case err := <-exited:
			require.NoError(t, err, "python3 stderr:\n%s", stderr.String())
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("python3 still running; stderr:\n%s", stderr.String())
		}
		return stdout.String()
	}
}

// TestFilesPythonSender: python3's socket.send_fds to uds.
func TestFilesPythonSender(t *testing.T) {
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		t.Run(typ.String(), func(t *testing.T) {
			mine, theirs := pairFiles(t, typ)
			c := fdConnFromFile(t, mine, typ)
			mine.Close()
			path := filepath.Join(t.TempDir(), "from-python")
			wait := fdPython(t, theirs, fmt.Sprintf(`
import os, socket
s = socket.socket(fileno=3)
fd = os.open(%q, os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b"written by python")
socket.send_fds(s, [b"one file"], [fd])
socket.send_fds(s, [b"four files"], [fd, fd, fd, fd])
socket.send_fds(s, [b"end"], [])
print("sent")
`, path))
			buf := make([]byte, 32)
			n, got, err := fdReadFiles(c, buf, 2)
			require.NoError(t, err)
			assert.Equal(t, "one file", string(buf[:n]))
			require.Len(t, got, 1)
			data := make([]byte, 64)
			m, _ := got[0].ReadAt(data, 0)
			assert.Equal(t, "written by python", string(data[:m]))
			got[0].Close()

			n, got, err = fdReadFiles(c, buf, 2)
			assert.ErrorIs(t, err, uds.ErrTruncated)
			assert.Equal(t, "four files", string(buf[:n]))
			assert.Empty(t, got)
			n, err = c.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "end", string(buf[:n]))
			assert.Equal(t, "sent\n", wait())
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			assert.Zero(t, msgFDsOpenOn(t, f, int(f.Fd())), "no descriptor of python's file is left open here")
		})
	}
}

// TestFilesPythonReceiver: uds to python3's socket.recv_fds, which reads the
// passed file's content.
func TestFilesPythonReceiver(t *testing.T) {
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		t.Run(typ.String(), func(t *testing.T) {
			mine, theirs := pairFiles(t, typ)
			c := fdConnFromFile(t, mine, typ)
			mine.Close()
			f, err := os.CreateTemp(t.TempDir(), "to-python")
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteString("written by uds")
			require.NoError(t, err)
			_, err = fdWriteFiles(c, []byte("take this"), f)
			require.NoError(t, err)
			_, err = fdWriteFiles(c, nil, f, f)
			require.NoError(t, err)
			out := fdPython(t, theirs, `
import json, os, socket
s = socket.socket(fileno=3)
res = []
for _ in range(2):
    msg, fds, flags, addr = socket.recv_fds(s, 100, 4)
    os.lseek(fds[0], 0, 0)
    res.append({"msg": msg.hex(), "n": len(fds), "flags": flags, "data": os.read(fds[0], 100).decode()})
print(json.dumps(res))
`)()
			var res []struct {
				Msg   string
				N     int
				Flags int
				Data  string
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.Len(t, res, 2)
			assert.Equal(t, fmt.Sprintf("%x", "take this"), res[0].Msg)
			assert.Equal(t, 1, res[0].N)
			assert.Zero(t, res[0].Flags)
			assert.Equal(t, "written by uds", res[0].Data)
			assert.Equal(t, 2, res[1].N)
			assert.Equal(t, "written by uds", res[1].Data)
			if typ == uds.Stream {
				assert.Equal(t, "00", res[1].Msg, "files with no data take one NUL byte on a stream")
			} else {
				assert.Equal(t, "", res[1].Msg, "no hidden byte on SEQPACKET and DGRAM")
			}
		})
	}
}

// TestFilesNetcatSender: nc -F, a real SCM_RIGHTS sender, passes its
// connected TCP socket over its standard output; uds receives it and talks
// TCP through it.
func TestFilesNetcatSender(t *testing.T) {
	nc := requireTool(t, "nc")
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tl.Close()
	mine, theirs := pairFiles(t, uds.Stream)
	c := fdConnFromFile(t, mine, uds.Stream)
	mine.Close()

	cmd := exec.Command(nc, "-F", "127.0.0.1", fmt.Sprint(tl.Addr().(*net.TCPAddr).Port))
	cmd.Stdout = theirs
	var stderr msgSyncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	theirs.Close()
	defer cmd.Process.Kill()

	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 8)
	n, got, err := fdReadFiles(c, buf, 1)
	require.NoError(t, err, "nc stderr: %s", stderr.String())
	require.Len(t, got, 1)
	assert.Equal(t, []byte{0}, buf[:n], "nc sends one NUL byte with the descriptor")
	require.NoError(t, cmd.Wait(), "nc exits after passing the socket")

	tc, err := net.FileConn(got[0])
	got[0].Close()
	require.NoError(t, err)
	defer tc.Close()
	require.IsType(t, &net.TCPConn{}, tc)
	srv, err := tl.Accept()
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, srv.RemoteAddr().String(), tc.LocalAddr().String(), "the descriptor is nc's TCP connection")
	_, err = tc.Write([]byte("ping"))
	require.NoError(t, err)
	_, err = io.ReadFull(srv, buf[:4])
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf[:4]))
	_, err = srv.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(tc, buf[:4])
	require.NoError(t, err)
	assert.Equal(t, "pong", string(buf[:4]))
}

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

// BenchmarkFDs compares the rate of descriptor passing, one descriptor per
// one-byte message, of uds with the standard library's pattern
// (WriteMsgUnix + syscall.UnixRights / ReadMsgUnix +
// syscall.ParseSocketControlMessage + syscall.ParseUnixRights) in the same
// run: BenchmarkFDs/<socket type>/<variant>. Each round sends a message and
// receives it, closing the descriptor received.
func BenchmarkFDs(b *testing.B) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	fd := int(null.Fd())
	msg := []byte{'x'}
	for _, tc := range []struct {
		name string
		typ  int
		pair func() (w, r fdEnd, err error)
	}{
		{"stream", syscall.SOCK_STREAM, func() (fdEnd, fdEnd, error) { a, b, err := uds.Pair(uds.Stream); return a, b, err }},
		{"seqpacket", syscall.SOCK_SEQPACKET, func() (fdEnd, fdEnd, error) { a, b, err := uds.Pair(uds.SeqPacket); return a, b, err }},
		{"dgram", syscall.SOCK_DGRAM, func() (fdEnd, fdEnd, error) { a, b, err := uds.DatagramPair(); return a, b, err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			row := newRow(b)
			row.Run("uds-ints", func(b *testing.B) {
				w, r := pairOf(b, tc.pair)
				wm := uds.Message{Buf: msg, FDs: []int{fd}}
				got := make([]int, 1)
				rm := uds.Message{Buf: make([]byte, 8)}
				fdBenchRate(b,
					func() error { return uds.WriteMsg(w, &wm) },
					func() error {
						rm.FDs = got[:0]
						err := uds.ReadMsg(r, &rm)
						n := len(rm.FDs)
						if err == nil && n != 1 {
							err = fmt.Errorf("%d descriptors", n)
						}
						if n > 0 {
							syscall.Close(rm.FDs[0])
						}
						return err
					})
			})
			row.Run("uds-files", func(b *testing.B) {
				w, r := pairOf(b, tc.pair)
				wm := uds.Message{Buf: msg, Files: []*os.File{null}}
				rm := uds.Message{Buf: make([]byte, 8), Files: make([]*os.File, 0, 1)}
				fdBenchRate(b,
					func() error { return uds.WriteMsg(w, &wm) },
					func() error {
						err := uds.ReadMsg(r, &rm)
						if err == nil && len(rm.Files) != 1 {
							err = fmt.Errorf("%d files", len(rm.Files))
						}
						for _, f := range rm.Files {
							f.Close()
						}
						return err
					})
			})
			std := func(files bool) func(b *testing.B) {
				return func(b *testing.B) {
					w, r := msgStdPair(b, tc.typ)
					buf := make([]byte, 8)
					oob := make([]byte, syscall.CmsgSpace(4))
					fdBenchRate(b,
						func() error {
							_, _, err := w.WriteMsgUnix(msg, syscall.UnixRights(fd), nil)
							return err
						},
						func() error { return fdStdRecv(r, buf, oob, files) })
				}
			}
			row.Run("std", std(false))
			// std-files is what a program on package net does to get an
			// *os.File: the row to compare uds-files with.
			row.Run("std-files", std(true))
			row.Done()
		})
	}
}

// fdStdRecv is the standard library's way: read, parse, close; with files,
// each descriptor is made an *os.File (os.NewFile) and closed as one.
func fdStdRecv(r *net.UnixConn, buf, oob []byte, files bool) error {
	_, oobn, _, _, err := r.ReadMsgUnix(buf, oob)
	if err != nil {
		return err
	}
	scms, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return err
	}
	n := 0
	for _, scm := range scms {
		fds, err := syscall.ParseUnixRights(&scm)
		if err != nil {
			return err
		}
		for _, fd := range fds {
			if files {
				os.NewFile(uintptr(fd), "fd").Close()
			} else {
				syscall.Close(fd)
			}
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%d descriptors", n)
	}
	return nil
}

// fdBenchRate sends and receives b.N messages in turn, in one goroutine (so
// that scheduling noise does not drown the cost of the calls), and reports
// descriptors per second.
func fdBenchRate(b *testing.B, send, recv func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := send(); err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
		if err := recv(); err != nil {
			b.Fatalf("receive %d: %v", i, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fds/s")
}

// TestFilesNoCredentialsClosesFiles: a read that asks for credentials and
// files on a socket without SO_PASSCRED fails with ErrNoCredentials, and the
// files that came with the message are closed, not leaked nor returned.
func TestFilesNoCredentialsClosesFiles(t *testing.T) {
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket} {
		t.Run(typ.String(), func(t *testing.T) {
			w, r := pairOf(t, pairType(typ))
			files := fdFiles(t, 3)
			defer fdCloseAll(files)
			before := openFDCount(t)
			_, err := fdWriteFiles(w, []byte("x"), files...)
			require.NoError(t, err)
			var cred uds.Cred
			m := uds.Message{Buf: make([]byte, 8), Cred: &cred, Files: make([]*os.File, 0, 4)}
			require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
			err = uds.ReadMsg(r, &m)
			require.ErrorIs(t, err, uds.ErrNoCredentials)
			assert.Equal(t, "x", string(m.Buf[:m.N]), "the data is kept")
			assert.Empty(t, m.Files, "no files returned with the error")
			assert.Equal(t, -1, cred.UID, "no identity is made up")
			assert.Equal(t, before, openFDCount(t), "the descriptors that came were closed")
		})
	}
}
