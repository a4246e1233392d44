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
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/udshttp"
)

// benchSub is one side of a benchmark row: a sub-benchmark's name and body.
type benchSub struct {
	name string
	fn   func(*testing.B)
}

// benchRow runs the sides of one row (uds, std, ...) in an order that
// changes from pass to pass (UDS_BENCH_PASS=p; bench/run.sh and
// bench/scale.sh set it): rotated by p/2, and reversed when p is odd. Over
// 2n passes every side of n runs as often in each position, and with two or
// three sides as often right after each other side (three: all six orders). Where a side
// runs, and after which other, moved ratios by 10-15 % on the machines
// measured: a TCP connect churn, for one, leaves thousands of TIME_WAIT
// sockets whose timers slow whatever runs next.
type benchRow struct {
	b    *testing.B
	subs []benchSub
}

func newRow(b *testing.B) *benchRow { return &benchRow{b: b} }

// Run declares a side of the row; Done runs them.
func (r *benchRow) Run(name string, fn func(*testing.B)) {
	r.subs = append(r.subs, benchSub{name, fn})
}

// Done runs the row's sides in this pass's order (benchOrder).
func (r *benchRow) Done() {
	pass, _ := strconv.Atoi(os.Getenv("UDS_BENCH_PASS"))
	for _, i := range benchOrder(len(r.subs), pass) {
		r.b.Run(r.subs[i].name, r.subs[i].fn)
	}
}

// benchOrder is the order of n sides in pass p: rotated by p/2, reversed
// when p is odd (TestBenchOrder).
func benchOrder(n, p int) []int {
	p = max(p, 0)
	order := make([]int, n)
	for i := range order {
		order[i] = (i + p/2) % n
	}
	if p%2 == 1 {
		slices.Reverse(order)
	}
	return order
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
				w, r := pairOf(b, pairType(uds.Stream))
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
			x, y := pairOf(b, pairType(uds.Stream))
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

// BenchmarkScale measures how each kind of socket serves many clients at
// once (bench/scale.sh): BenchmarkScale/<workload>/clients-<N>/<kind>, with
// workload echo (64-byte round trips on one connection per client), connect
// (dial, one 1-byte round trip, close) or http (GET over one kept-alive
// connection per client), N from 1, 16, 256, and kind uds (uds.Listen and
// uds.Dial), unix (package net's Unix sockets) or tcp (127.0.0.1). b.N
// operations are shared by the N client goroutines; every server serves
// each connection in a goroutine of its own, as net/http does.
func BenchmarkScale(b *testing.B) {
	for _, workload := range []string{"echo", "connect", "http"} {
		b.Run(workload, func(b *testing.B) {
			for _, clients := range []int{1, 16, 256} {
				b.Run(fmt.Sprintf("clients-%d", clients), func(b *testing.B) {
					row := newRow(b)
					for _, kind := range []string{"uds", "unix", "tcp"} {
						row.Run(kind, func(b *testing.B) {
							ln, dial := scaleEndpoints(b, kind)
							switch workload {
							case "echo":
								scaleEcho(b, ln, dial, clients)
							case "connect":
								scaleConnect(b, ln, dial, clients)
							case "http":
								scaleHTTP(b, ln, dial, clients)
							}
						})
					}
					row.Done()
				})
			}
		})
	}
}

// BenchmarkDialDepth shows what the connect-churn rows of BenchmarkScale
// measure besides the system calls: package net's dial runs so deep that a
// new goroutine's 8 KB stack has less than 256 bytes to spare in them, so
// any frame between the client and net.Dialer makes the stack grow at every
// dial once the GC has shrunk it between dials. Connect churn with 256
// clients: net.Dialer called directly ("net"), through one 256-byte frame
// of the benchmark's own ("net-256B"), and uds.Dial ("uds").
//
//	GOMAXPROCS=1 go test -run '^$' -bench BenchmarkDialDepth -count 6 .
func BenchmarkDialDepth(b *testing.B) {
	row := newRow(b)
	for _, side := range []string{"net", "net-256B", "uds"} {
		row.Run(side, func(b *testing.B) {
			kind := "unix"
			if side == "uds" {
				kind = "uds"
			}
			ln, dial := scaleEndpoints(b, kind)
			if side == "net-256B" {
				p := ln.Addr().String()
				var d net.Dialer
				dial = func(ctx context.Context) (net.Conn, error) { return dialThroughFrame(ctx, &d, p) }
			}
			scaleConnect(b, ln, dial, 256)
		})
	}
	row.Done()
}

// dialThroughFrame is net.Dialer.DialContext called from a frame of about
// 256 bytes.
//
//go:noinline
func dialThroughFrame(ctx context.Context, d *net.Dialer, p string) (net.Conn, error) {
	var pad [192]byte
	pad[len(p)%len(pad)] = 1
	c, err := d.DialContext(ctx, "unix", p)
	if pad[0] == 2 { // never: keeps pad alive across the call
		return nil, errors.New("unreachable")
	}
	return c, err
}

// scaleEndpoints returns a listener of kind and a function that dials it.
func scaleEndpoints(b *testing.B, kind string) (net.Listener, func(context.Context) (net.Conn, error)) {
	b.Helper()
	var ln net.Listener
	var dial func(context.Context) (net.Conn, error)
	var err error
	switch kind {
	case "uds":
		a := uds.Path(benchSockPath(b))
		var ul *uds.Listener
		ul, err = uds.Listen(context.Background(), a)
		ln = ul
		dial = func(ctx context.Context) (net.Conn, error) { return uds.Dial(ctx, a) }
	case "unix":
		p := benchSockPath(b)
		ln, err = net.Listen("unix", p)
		var d net.Dialer
		dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", p) }
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			addr := ln.Addr().String()
			var d net.Dialer
			dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	return ln, dial
}

// serveEcho accepts connections on ln until it is closed and echoes each
// one's bytes back in a goroutine of its own. The returned function closes
// ln and waits for every goroutine.
func serveEcho(ln net.Listener) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return func() { ln.Close(); wg.Wait() }
}

// scaleClients runs clients goroutines that together make b.N calls of op
// (each goroutine with the state setup gives it) and reports operations per
// second.
func scaleClients(b *testing.B, clients int, setup func() (op func() error, done func())) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	ops := make([]func() error, clients)
	dones := make([]func(), clients)
	for i := range ops {
		ops[i], dones[i] = setup()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range ops {
		wg.Add(1)
		go func(op func() error) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		}(ops[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	for _, d := range dones {
		d()
	}
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "op/s")
}

// scaleEcho: one connection per client, 64-byte round trips.
func scaleEcho(b *testing.B, ln net.Listener, dial func(context.Context) (net.Conn, error), clients int) {
	stop := serveEcho(ln)
	defer stop()
	scaleClients(b, clients, func() (func() error, func()) {
		c, err := dial(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		out := make([]byte, 64)
		in := make([]byte, 64)
		return func() error {
			if _, err := c.Write(out); err != nil {
				return err
			}
			_, err := io.ReadFull(c, in)
			return err
		}, func() { c.Close() }
	})
}

// scaleConnect: each operation dials, makes a 1-byte round trip and closes.
func scaleConnect(b *testing.B, ln net.Listener, dial func(context.Context) (net.Conn, error), clients int) {
	stop := serveEcho(ln)
	defer stop()
	scaleClients(b, clients, func() (func() error, func()) {
		buf := make([]byte, 1)
		return func() error {
			c, err := dial(context.Background())
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Write(buf); err != nil {
				return err
			}
			_, err = io.ReadFull(c, buf)
			return err
		}, func() {}
	})
}

// scaleHTTP: each client has a kept-alive connection of its own (a
// transport of its own) and sends GETs.
func scaleHTTP(b *testing.B, ln net.Listener, dial func(context.Context) (net.Conn, error), clients int) {
	body := []byte("hello\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
	}()
	scaleClients(b, clients, func() (func() error, func()) {
		tr := benchTransport()
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
		c := &http.Client{Transport: tr}
		return func() error {
			resp, err := c.Get("http://scale/x")
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}, tr.CloseIdleConnections
	})
}

// BenchmarkCrowd times the reclaim of a stale path and the naming of a
// holder, which look at the whole namespace where a probe cannot answer
// alone (sock_diag, /proc). With UDS_CROWD=1 (and gcc) it first crowds the
// machine as a busy host is: 100,000 Unix sockets held by 5,000 other
// processes (bench/c/crowd.c, 10 socket pairs each):
//
//	UDS_CROWD=1 go test -run '^$' -bench BenchmarkCrowd -benchtime 30x .
//
// The rows:
//
//   - stale: Listen over a stale socket file (probed, moved aside,
//     removed), then Close;
//   - live-listen: Listen on a path a listening socket holds: ErrInUse,
//     the holder named by SO_PEERCRED on the probe;
//   - live-bound: Listen on a path a bound socket that does not listen
//     holds: ErrInUse, the holder found through sock_diag and /proc;
//   - who: diag.Who of a path that a socket listens on.
func BenchmarkCrowd(b *testing.B) {
	if os.Getenv("UDS_CROWD") == "1" {
		crowd(b)
	}
	ctx := context.Background()
	b.Run("stale", func(b *testing.B) {
		p := benchSockPath(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			leaveStale(b, p)
			b.StartTimer()
			ln, err := uds.Listen(ctx, uds.Path(p))
			if err != nil {
				b.Fatal(err)
			}
			ln.Close()
		}
	})
	b.Run("live-listen", func(b *testing.B) {
		p := benchSockPath(b)
		held, err := net.Listen("unix", p)
		if err != nil {
			b.Fatal(err)
		}
		defer held.Close()
		crowdInUse(b, ctx, p)
	})
	b.Run("live-bound", func(b *testing.B) {
		p := benchSockPath(b)
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer syscall.Close(fd)
		if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: p}); err != nil {
			b.Fatal(err)
		}
		crowdInUse(b, ctx, p)
	})
	b.Run("who", func(b *testing.B) {
		p := benchSockPath(b)
		held, err := net.Listen("unix", p)
		if err != nil {
			b.Fatal(err)
		}
		defer held.Close()
		b.ReportAllocs()
		for b.Loop() {
			socks, err := diag.Who(ctx, uds.Path(p))
			if err != nil {
				b.Fatal(err)
			}
			if len(socks) == 0 || len(socks[0].Procs) == 0 || socks[0].Procs[0].PID != os.Getpid() {
				b.Fatalf("Who(%s) = %+v, want this process", p, socks)
			}
		}
	})
}

// crowdInUse times Listen on the held path p and checks that every try
// fails with ErrInUse naming this process.
func crowdInUse(b *testing.B, ctx context.Context, p string) {
	b.ReportAllocs()
	for b.Loop() {
		ln, err := uds.Listen(ctx, uds.Path(p))
		if err == nil {
			ln.Close()
			b.Fatal("Listen took a path that is held")
		}
		var ie *uds.InUseError
		if !errors.As(err, &ie) || ie.PID != os.Getpid() {
			b.Fatalf("Listen: %v; want ErrInUse naming process %d", err, os.Getpid())
		}
	}
}

// leaveStale leaves a stale socket file at p: a socket bound there and
// closed.
func leaveStale(b *testing.B, p string) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: p})
	syscall.Close(fd)
	if err != nil {
		b.Fatal(err)
	}
}

// crowd starts 5,000 processes (bench/c/crowd.c, built here with gcc)
// that hold 10 Unix socket pairs each: 100,000 sockets in the namespace,
// spread as on a busy host. They exit when the benchmark ends.
func crowd(b *testing.B) {
	const procs, pairsEach = 5_000, 10
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skip("UDS_CROWD needs gcc to build bench/c/crowd.c")
	}
	bin := filepath.Join(b.TempDir(), "crowd")
	if out, err := exec.Command(gcc, "-O2", "-o", bin, "bench/c/crowd.c").CombinedOutput(); err != nil {
		b.Fatalf("building crowd: %v\n%s", err, out)
	}
	type member struct {
		cmd   *exec.Cmd
		stdin io.Closer
	}
	var members []member
	b.Cleanup(func() {
		for _, m := range members {
			m.stdin.Close()
		}
		for _, m := range members {
			m.cmd.Wait()
		}
	})
	for range procs {
		cmd := exec.Command(bin, strconv.Itoa(pairsEach))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatalf("process %d of %d: %v", len(members)+1, procs, err)
		}
		members = append(members, member{cmd, stdin})
		line := make([]byte, 6)
		if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
			b.Fatalf("process %d of %d did not start: %q %v", len(members), procs, line, err)
		}
	}
	b.Logf("crowd: %d processes holding %d Unix sockets", len(members), procs*pairsEach*2)
}

// TestBenchOrder checks the balance that benchRow promises: over 2n passes
// each side runs in each position equally often, and, with up to three
// sides, right after each other side equally often.
func TestBenchOrder(t *testing.T) {
	for n := 1; n <= 4; n++ {
		pos := make(map[[2]int]int) // side, position
		after := make(map[[2]int]int)
		for p := range 2 * n {
			o := benchOrder(n, p)
			if len(o) != n {
				t.Fatalf("n=%d pass %d: order %v", n, p, o)
			}
			for i, side := range o {
				pos[[2]int{side, i}]++
				if i > 0 {
					after[[2]int{o[i-1], side}]++
				}
			}
		}
		for side := range n {
			for i := range n {
				if got := pos[[2]int{side, i}]; got != 2 {
					t.Errorf("n=%d: side %d in position %d %d times over %d passes, want 2", n, side, i, got, 2*n)
				}
			}
		}
		if n > 3 {
			continue
		}
		const want = 2 // 2n passes × (n-1) neighbours, over n(n-1) ordered pairs
		for a := range n {
			for b := range n {
				if a != b && after[[2]int{a, b}] != want {
					t.Errorf("n=%d: side %d right after side %d %d times, want %d", n, b, a, after[[2]int{a, b}], want)
				}
			}
		}
	}
}
