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
			b.Run("uds", func(b *testing.B) {
				w, r := udsMsgPair(b, tc.typ, false)
				tc.run(b, tc.size, w.Write, r.Read)
			})
			if tc.typ == seq {
				b.Run("uds-zeroeof", func(b *testing.B) {
					w, r := udsMsgPair(b, tc.typ, true)
					tc.run(b, tc.size, w.Write, r.Read)
				})
			}
			b.Run("std", func(b *testing.B) {
				w, r := msgStdPair(b, tc.typ)
				tc.run(b, tc.size, w.Write, r.Read)
			})
		})
	}

	// Unconnected sends to a receiver that drains in another goroutine. With
	// net.unix.max_dgram_qlen at its default of 10 the receive queue is
	// full most of the time, so this measures how soon a blocked sender
	// finds room again. uds-aa repeats uds (an A/A row, for the noise);
	// uds-WriteTo goes through the net.Addr interface.
	b.Run("dgram-sendto-64B", func(b *testing.B) {
		udsRows := []struct {
			name    string
			netAddr bool
		}{{"uds", false}, {"uds-aa", false}, {"uds-WriteTo", true}}
		for _, row := range udsRows {
			b.Run(row.name, func(b *testing.B) {
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
				if row.netAddr {
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
		b.Run("std", func(b *testing.B) {
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
	sw, sr := pairOf(b, pairMaker(uds.SeqPacket))
	if zeroEOF {
		if err := sr.SetZeroReadIsEOF(true); err != nil {
			b.Fatal(err)
		}
	}
	return sw, sr
}
