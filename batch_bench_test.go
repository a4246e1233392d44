//go:build linux

package uds_test

import (
	"syscall"
	"testing"

	"github.com/udskit/uds"
)

// BenchmarkBatch compares moving 64-byte messages over a socket pair with
// ReadBatch/WriteBatch (recvmmsg/sendmmsg, 32 messages per call) against
// one message per call with uds and with the standard library, in the same
// run. A writer goroutine sends b.N messages; the benchmark goroutine reads
// them. Compare the rate with bench/c/msgrate (one message per system call).
func BenchmarkBatch(b *testing.B) {
	const size, batch = 64, 32
	for _, tc := range []struct {
		name string
		typ  int
	}{{"dgram-64B", syscall.SOCK_DGRAM}, {"seqpacket-64B", syscall.SOCK_SEQPACKET}} {
		b.Run(tc.name+"/batch", func(b *testing.B) {
			var r, w syscall.Conn
			if tc.typ == syscall.SOCK_DGRAM {
				w, r = pairOf(b, uds.DatagramPair)
			} else {
				w, r = pairOf(b, pairMaker(uds.SeqPacket))
			}
			out := make([]uds.Message, batch)
			for i := range out {
				out[i].Buf = make([]byte, size)
			}
			in := make([]uds.Message, batch)
			for i := range in {
				in[i].Buf = make([]byte, size)
			}
			done := make(chan error, 1)
			b.ReportAllocs()
			b.SetBytes(size)
			b.ResetTimer()
			go func() {
				for left := b.N; left > 0; {
					k := min(left, batch)
					n, err := uds.WriteBatch(w, out[:k])
					if err != nil {
						done <- err
						return
					}
					left -= n
				}
				done <- nil
			}()
			for got := 0; got < b.N; {
				n, err := uds.ReadBatch(r, in)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
		b.Run(tc.name+"/uds-single", func(b *testing.B) {
			var x, y interface {
				Read([]byte) (int, error)
				Write([]byte) (int, error)
			}
			if tc.typ == syscall.SOCK_DGRAM {
				x, y = pairOf(b, uds.DatagramPair)
			} else {
				x, y = pairOf(b, pairMaker(uds.SeqPacket))
			}
			benchOneByOne(b, x, y, size)
		})
		b.Run(tc.name+"/std", func(b *testing.B) {
			x, y := msgStdPair(b, tc.typ)
			benchOneByOne(b, x, y, size)
		})
	}
}

func benchOneByOne(b *testing.B, w, r interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}, size int) {
	out := make([]byte, size)
	in := make([]byte, size)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := w.Write(out); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := r.Read(in); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
