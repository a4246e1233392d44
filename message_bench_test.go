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
	for _, size := range []int{64, 4096} {
		name := fmt.Sprintf("seqpacket-%dB", size)
		if size == 4096 {
			name = "seqpacket-4KiB"
		}
		b.Run(name, func(b *testing.B) {
			b.Run("uds", func(b *testing.B) {
				w, r, err := uds.SeqPacketPair()
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				defer r.Close()
				msgBenchRate(b, size, w.Write, r.Read)
			})
			b.Run("uds-zeroeof", func(b *testing.B) {
				w, r := seqPairZeroEOF(b)
				msgBenchRate(b, size, w.Write, r.Read)
			})
			b.Run("std", func(b *testing.B) {
				w, r := msgStdPair(b, syscall.SOCK_SEQPACKET)
				msgBenchRate(b, size, w.Write, r.Read)
			})
		})
	}

	b.Run("dgram-connected-64B", func(b *testing.B) {
		b.Run("uds", func(b *testing.B) {
			w, r, err := uds.DatagramPair()
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			defer r.Close()
			msgBenchRate(b, 64, w.Write, r.Read)
		})
		b.Run("std", func(b *testing.B) {
			w, r := msgStdPair(b, syscall.SOCK_DGRAM)
			msgBenchRate(b, 64, w.Write, r.Read)
		})
	})

	// One goroutine writes a message and reads it back: the cost of the two
	// calls alone, without the scheduling of two goroutines (whose spread
	// on a 2-CPU machine hides differences of 10 %).
	b.Run("seqpacket-64B-1goroutine", func(b *testing.B) {
		b.Run("uds", func(b *testing.B) {
			w, r, err := uds.SeqPacketPair()
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			defer r.Close()
			msgBenchSync(b, 64, w.Write, r.Read)
		})
		b.Run("uds-zeroeof", func(b *testing.B) {
			w, r := seqPairZeroEOF(b)
			msgBenchSync(b, 64, w.Write, r.Read)
		})
		b.Run("std", func(b *testing.B) {
			w, r := msgStdPair(b, syscall.SOCK_SEQPACKET)
			msgBenchSync(b, 64, w.Write, r.Read)
		})
	})
	b.Run("dgram-64B-1goroutine", func(b *testing.B) {
		b.Run("uds", func(b *testing.B) {
			w, r, err := uds.DatagramPair()
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			defer r.Close()
			msgBenchSync(b, 64, w.Write, r.Read)
		})
		b.Run("std", func(b *testing.B) {
			w, r := msgStdPair(b, syscall.SOCK_DGRAM)
			msgBenchSync(b, 64, w.Write, r.Read)
		})
	})

	b.Run("dgram-sendto-64B", func(b *testing.B) {
		b.Run("uds", func(b *testing.B) {
			rAddr := uds.Abstract(msgTag() + "-bench-r")
			r, err := uds.ListenDatagram(msgCtx(b), rAddr)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			w, err := uds.ListenDatagram(msgCtx(b), uds.Abstract(msgTag()+"-bench-w"))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			var from uds.Addr
			msgBenchRate(b, 64,
				func(p []byte) (int, error) { return w.WriteToAddr(p, rAddr) },
				func(p []byte) (int, error) { return r.ReadFromAddr(p, &from) })
		})
		b.Run("std", func(b *testing.B) {
			rAddr := &net.UnixAddr{Name: "@" + msgTag() + "-bench-r", Net: "unixgram"}
			r, err := net.ListenUnixgram("unixgram", rAddr)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			w, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@" + msgTag() + "-bench-w", Net: "unixgram"})
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

// seqPairZeroEOF returns a seqpacket pair whose reader takes a zero-byte
// read for EOF (SetZeroReadIsEOF): no timestamps, package net's semantics.
func seqPairZeroEOF(b *testing.B) (w, r *uds.SeqPacketConn) {
	b.Helper()
	w, r, err := uds.SeqPacketPair()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close(); r.Close() })
	if err := r.SetZeroReadIsEOF(true); err != nil {
		b.Fatal(err)
	}
	return w, r
}
