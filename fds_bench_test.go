//go:build linux

package uds_test

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/udskit/uds"
)

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
			b.Run("uds-ints", func(b *testing.B) {
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
			b.Run("uds-files", func(b *testing.B) {
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
			b.Run("std", func(b *testing.B) {
				w, r := msgStdPair(b, tc.typ)
				buf := make([]byte, 8)
				oob := make([]byte, syscall.CmsgSpace(4))
				fdBenchRate(b,
					func() error {
						_, _, err := w.WriteMsgUnix(msg, syscall.UnixRights(fd), nil)
						return err
					},
					func() error { return fdStdRecv(r, buf, oob) })
			})
		})
	}
}

// fdStdRecv is the standard library's way: read, parse, close.
func fdStdRecv(r *net.UnixConn, buf, oob []byte) error {
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
			syscall.Close(fd)
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
