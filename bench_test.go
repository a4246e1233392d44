//go:build linux

package uds_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/udshttp"
)

// benchSub is one side of a benchmark row: a sub-benchmark's name and body.
type benchSub struct {
	name string
	fn   func(*testing.B)
}

// benchRow runs the sides of one row (uds, std, ...) in the order they are
// declared, or in the reverse order when UDS_BENCH_ORDER is "reverse":
// bench/run.sh alternates the two between passes (ABBA), so that neither
// side of a ratio always runs first, which alone moved ratios by 10-15 % on
// the machines measured.
type benchRow struct {
	b    *testing.B
	subs []benchSub
}

func newRow(b *testing.B) *benchRow { return &benchRow{b: b} }

// Run declares a side of the row; Done runs them.
func (r *benchRow) Run(name string, fn func(*testing.B)) {
	r.subs = append(r.subs, benchSub{name, fn})
}

// Done runs the row's sides in this pass's order.
func (r *benchRow) Done() {
	if os.Getenv("UDS_BENCH_ORDER") == "reverse" {
		slices.Reverse(r.subs)
	}
	for _, s := range r.subs {
		r.b.Run(s.name, s.fn)
	}
}

// BenchmarkSuite holds the rows of the performance table (bench/run.sh,
// BENCHMARKS.md) not covered by BenchmarkMsg, BenchmarkBatch and
// BenchmarkFDs: BenchmarkSuite/<row>/uds against BenchmarkSuite/<row>/std
// (and /tcp for HTTP), in the same run.
func BenchmarkSuite(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("stream-%dKiB", size>>10), func(b *testing.B) {
			row := newRow(b)
			row.Run("uds", func(b *testing.B) {
				w, r := pairOf(b, pairMaker(uds.Stream))
				streamBench(b, size, w, r)
			})
			std := func(b *testing.B) {
				w, r := msgStdPair(b, syscall.SOCK_STREAM)
				streamBench(b, size, w, r)
			}
			row.Run("std", std)
			// std-aa repeats std: an A/A row, which must read 1.00
			// within the spread (bench/run.sh).
			row.Run("std-aa", std)
			row.Done()
		})
	}

	b.Run("pingpong-1B", func(b *testing.B) {
		row := newRow(b)
		row.Run("uds", func(b *testing.B) {
			x, y := pairOf(b, pairMaker(uds.Stream))
			pingPongBench(b, x, y)
		})
		row.Run("std", func(b *testing.B) {
			x, y := msgStdPair(b, syscall.SOCK_STREAM)
			pingPongBench(b, x, y)
		})
		row.Done()
	})

	b.Run("connect-accept-close", func(b *testing.B) {
		row := newRow(b)
		row.Run("uds", func(b *testing.B) {
			a := uds.Path(benchSockPath(b))
			ln, err := uds.Listen(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			ctx := context.Background()
			connectBench(b, ln, func() (net.Conn, error) { return uds.Dial(ctx, a) })
		})
		row.Run("std", func(b *testing.B) {
			p := benchSockPath(b)
			ln, err := net.Listen("unix", p)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			connectBench(b, ln, func() (net.Conn, error) { return net.Dial("unix", p) })
		})
		row.Done()
	})

	b.Run("listen-close", func(b *testing.B) {
		row := newRow(b)
		row.Run("uds", func(b *testing.B) {
			a := uds.Path(benchSockPath(b))
			ctx := context.Background()
			listenBench(b, func() (io.Closer, error) { return uds.Listen(ctx, a) })
		})
		row.Run("std", func(b *testing.B) {
			p := benchSockPath(b)
			listenBench(b, func() (io.Closer, error) { return net.Listen("unix", p) })
		})
		row.Done()
	})

	b.Run("http-get", func(b *testing.B) {
		row := newRow(b)
		row.Run("uds", func(b *testing.B) {
			a := uds.Path(benchSockPath(b))
			ln, err := uds.Listen(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			httpBench(b, ln, udshttp.Client(a), "http://unix/x")
		})
		row.Run("std", func(b *testing.B) {
			p := benchSockPath(b)
			ln, err := net.Listen("unix", p)
			if err != nil {
				b.Fatal(err)
			}
			var d net.Dialer
			tr := benchTransport()
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", p)
			}
			httpBench(b, ln, &http.Client{Transport: tr}, "http://unix/x")
		})
		row.Run("tcp", func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			httpBench(b, ln, &http.Client{Transport: benchTransport()}, "http://"+ln.Addr().String()+"/x")
		})
		row.Done()
	})
}

// benchTransport is the standard library's transport with the settings of
// udshttp.Transport, so that only the connection differs.
func benchTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// benchSockPath returns a short socket path in a fresh directory (b.TempDir
// may exceed the 108-byte sun_path limit for long benchmark names).
func benchSockPath(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("", "udsb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// streamBench moves b.N chunks of size bytes from a writer goroutine to a
// reader goroutine and reports the throughput.
func streamBench(b *testing.B, size int, w io.Writer, r io.Reader) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	msg := make([]byte, size)
	buf := make([]byte, size)
	total := int64(b.N) * int64(size)
	werr := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := w.Write(msg); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for got := int64(0); got < total; {
		n, err := r.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		got += int64(n)
	}
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}

// pingPongBench sends one byte from x to y and back b.N times; an echo
// goroutine serves y.
func pingPongBench(b *testing.B, x, y io.ReadWriter) {
	b.ReportAllocs()
	done := make(chan error, 1)
	n := b.N
	go func() {
		buf := make([]byte, 1)
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(y, buf); err != nil {
				done <- err
				return
			}
			if _, err := y.Write(buf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	buf := []byte{'x'}
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if _, err := x.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(x, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// connectBench dials ln b.N times; an accept goroutine accepts and closes
// each connection, the dialer closes its end.
func connectBench(b *testing.B, ln net.Listener, dial func() (net.Conn, error)) {
	b.ReportAllocs()
	done := make(chan error, 1)
	n := b.N
	go func() {
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			c.Close()
		}
		done <- nil
	}()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// listenBench creates and closes a listener b.N times.
func listenBench(b *testing.B, listen func() (io.Closer, error)) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ln, err := listen()
		if err != nil {
			b.Fatal(err)
		}
		if err := ln.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// httpBench serves a small response on ln and makes b.N GET requests with c
// over kept-alive connections.
func httpBench(b *testing.B, ln net.Listener, c *http.Client, url string) {
	b.ReportAllocs()
	body := []byte("hello\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(body)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
		c.CloseIdleConnections()
	}()
	get := func() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	get() // open the kept-alive connection outside the timing
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		get()
	}
}
