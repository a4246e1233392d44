//go:build linux

package reliability_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// Zero-downtime restart: an old server process hands its listening socket
// to a new one over a Unix socket, while clients keep connecting.
const (
	roleHandoffOld = "handoff-old" // args: path, control path
	roleHandoffNew = "handoff-new" // args: control path
)

func init() {
	childproc.Register(roleHandoffOld, childHandoffOld)
	childproc.Register(roleHandoffNew, childHandoffNew)
}

// handoffServe answers "ping N" lines with "pong N PID" on every connection
// until ln is closed, and returns once the connections it accepted are done.
func handoffServe(ln *uds.Listener, served *atomic.Int64) {
	var wg sync.WaitGroup
	pid := strconv.Itoa(os.Getpid())
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		served.Add(1)
		wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprintf(c, "pong %s %s\n", strings.TrimPrefix(strings.TrimSpace(line), "ping "), pid)
		})
	}
	wg.Wait()
}

func childHandoffOld(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "old:", err); return 1 }
	ln, err := uds.Listen(context.Background(), uds.Path(args[0]))
	if err != nil {
		return fail(err)
	}
	ctl, err := uds.Listen(context.Background(), uds.Path(args[1]))
	if err != nil {
		return fail(err)
	}
	defer ctl.Close()
	var served atomic.Int64
	done := make(chan struct{})
	go func() { handoffServe(ln, &served); close(done) }()
	fmt.Println(childproc.Ready, os.Getpid())

	// The new process asks for the listener.
	c, err := testutil.AcceptConn(ctl)
	if err != nil {
		return fail(err)
	}
	f, err := ln.File()
	if err != nil {
		return fail(err)
	}
	if err := uds.WriteMsg(c, &uds.Message{Buf: []byte("listener"), Files: []*os.File{f}}); err != nil {
		return fail(err)
	}
	f.Close()
	// Keep accepting until the new process says it serves, then stop:
	// connections waiting in the queue belong to the socket, which lives
	// on in the new process.
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "serving" {
		return fail(fmt.Errorf("new process said %q, %v", buf[:n], err))
	}
	time.Sleep(200 * time.Millisecond) // both processes accept for a while
	ln.SetUnlinkOnClose(false)
	if err := ln.Close(); err != nil {
		return fail(err)
	}
	<-done // the connections this process accepted are answered
	fmt.Println("HANDED-OFF", served.Load())
	return 0
}

func childHandoffNew(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "new:", err); return 1 }
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	c, err := uds.Dial(context.Background(), uds.Path(args[0]))
	if err != nil {
		return fail(err)
	}
	buf := make([]byte, 16)
	m := uds.Message{Buf: buf, Files: make([]*os.File, 0, 1)}
	if err := uds.ReadMsg(c, &m); err != nil {
		return fail(err)
	}
	n, files := m.N, m.Files
	if string(buf[:n]) != "listener" || len(files) != 1 {
		return fail(fmt.Errorf("got %q with %d files", buf[:n], len(files)))
	}
	ln, err := uds.FileListener(files[0])
	files[0].Close()
	if err != nil {
		return fail(err)
	}
	var served atomic.Int64
	done := make(chan struct{})
	go func() { handoffServe(ln, &served); close(done) }()
	if _, err := c.Write([]byte("serving")); err != nil {
		return fail(err)
	}
	c.Close()
	fmt.Println(childproc.Ready, os.Getpid(), ln.Addr())
	<-term
	if err := ln.Close(); err != nil {
		return fail(err)
	}
	<-done
	fmt.Println("CLOSED", served.Load())
	return 0
}

// TestHandoff: 2,000 connections over about two seconds, each a request and
// a response, while the old server process hands its listener to a new one
// and exits. No connection is refused or fails; both processes serve; the
// old one exits without removing the socket file, and the new one's Close
// removes nothing either (it did not create the file).
func TestHandoff(t *testing.T) {
	dir := testutil.MkSockDir(t)
	path := filepath.Join(dir, "srv.sock")
	ctlPath := filepath.Join(dir, "ctl.sock")
	old := childproc.Start(t, childproc.Options{}, roleHandoffOld, path, ctlPath)
	oldPID, err := strconv.Atoi(old.WaitReady())
	require.NoError(t, err)
	inode := testutil.LstatIno(t, path)

	const workers, perWorker = 4, 500
	const pause = 4 * time.Millisecond // 500 × ~4ms ≈ 2s per worker
	var (
		mu       sync.Mutex
		failures []string
		byPID    = map[int]int{}
	)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("%d-%d", w, i)
				pid, err := handoffRequest(uds.Path(path), id)
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s after %v: %v", id, time.Since(start).Round(time.Millisecond), err))
				} else {
					byPID[pid]++
				}
				mu.Unlock()
				time.Sleep(pause)
			}
		})
	}

	time.Sleep(700 * time.Millisecond)
	newer := childproc.Start(t, childproc.Options{}, roleHandoffNew, ctlPath)
	ready := strings.Fields(newer.WaitReady())
	require.Len(t, ready, 2)
	newPID, err := strconv.Atoi(ready[0])
	require.NoError(t, err)
	assert.Equal(t, uds.Path(path).String(), ready[1], "the new process's listener has the exact address")
	handedOff := old.Line(10 * time.Second)
	require.True(t, strings.HasPrefix(handedOff, "HANDED-OFF "), handedOff)
	require.Equal(t, 0, old.Wait(10*time.Second), old.Stderr())
	handoffAt := time.Since(start)
	assert.Equal(t, inode, testutil.LstatIno(t, path), "the old process exited without removing the socket file")
	assert.False(t, testutil.Exists(path+".lock"), "the old process released its lock")

	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d connections in %v; old process %d served %d, new process %d served %d; old exited at %v; %s",
		workers*perWorker, elapsed.Round(time.Millisecond), oldPID, byPID[oldPID], newPID, byPID[newPID],
		handoffAt.Round(time.Millisecond), handedOff)
	assert.Empty(t, failures, "no connection may fail across the handoff")
	assert.Equal(t, workers*perWorker, byPID[oldPID]+byPID[newPID], "every response came from the old or the new process")
	assert.Positive(t, byPID[oldPID], "the old process served before the handoff")
	assert.Positive(t, byPID[newPID], "the new process serves after it")

	require.NoError(t, newer.Signal(syscall.SIGTERM))
	closed := newer.Line(10 * time.Second)
	require.True(t, strings.HasPrefix(closed, "CLOSED "), closed)
	require.Equal(t, 0, newer.Wait(10*time.Second), newer.Stderr())
	assert.Equal(t, inode, testutil.LstatIno(t, path), "the new process's Close removes nothing it did not create")

	// The file is now stale, and the next server reclaims it.
	ln, err := uds.Listen(testutil.Ctx(t), uds.Path(path))
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	assert.False(t, testutil.Exists(path))
}

// handoffRequest connects to a, sends one request and returns the PID that
// answered it.
func handoffRequest(a uds.Addr, id string) (int, error) {
	d := uds.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial(context.Background(), a)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "ping %s\n", id); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("reading the response: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "pong" || f[1] != id {
		return 0, fmt.Errorf("response %q", line)
	}
	return strconv.Atoi(f[2])
}

// TestHandoffRefusedWithoutListener is the control: with no process holding
// the socket, the same client fails at once, so the handoff test would see
// any gap.
func TestHandoffRefusedWithoutListener(t *testing.T) {
	path := filepath.Join(testutil.MkSockDir(t), "gone.sock")
	ln, err := uds.Listen(testutil.Ctx(t), uds.Path(path))
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	_, err = handoffRequest(uds.Path(path), "x")
	require.Error(t, err)
	assert.True(t, errors.Is(err, unix.ECONNREFUSED), "%v", err)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
}
