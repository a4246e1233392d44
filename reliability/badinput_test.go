//go:build linux

package reliability_test

// Reliability area 8: bad input. This extends ../errors_test.go (addresses:
// empty, NUL, too long, missing directory, unnamed, autobind, regular file)
// with the malformed arguments it does not cover: configuration values,
// destinations, files to send, receive room. Each call must fail with a
// clear error, without a panic, and change nothing: no file created or
// removed, nothing sent, no queued message consumed.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
)

// relBadEnv is what a bad-input case works on.
type relBadEnv struct {
	dir  string
	a, b *uds.DatagramConn // a sends to b
	file *os.File          // a regular file
}

type relBadCase struct {
	name string
	// kind says what "nothing changed" means beyond the directory: "send"
	// (b receives nothing), "recv" (a message queued on b before the call
	// is still there, intact, after it).
	kind string
	op   string   // the *net.OpError's Op; "" if the error need not be one
	is   []error  // errors.Is targets
	msg  []string // substrings of the message
	run  func(e *relBadEnv) error
}

// relListenCall runs a listen and closes what it may wrongly return.
func relListenCall(kind string, lc uds.ListenConfig, a uds.Addr) error {
	ctx := context.Background()
	var c interface{ Close() error }
	var err error
	switch kind {
	case "stream":
		var ln *uds.Listener
		if ln, err = lc.Listen(ctx, a); ln != nil {
			c = ln
		}
	case "datagram":
		var dc *uds.DatagramConn
		if dc, err = lc.ListenDatagram(ctx, a); dc != nil {
			c = dc
		}
	default:
		var sl *uds.Listener
		if sl, err = lc.Listen(ctx, a.WithType(uds.SeqPacket)); sl != nil {
			c = sl
		}
	}
	if c != nil {
		c.Close()
	}
	return err
}

func relBadCases() []relBadCase {
	var cases []relBadCase
	sockPath := func(e *relBadEnv) uds.Addr { return uds.Path(filepath.Join(e.dir, "s.sock")) }
	for _, kind := range []string{"stream", "datagram", "seqpacket"} {
		lcCase := func(name string, lc uds.ListenConfig, is []error, msg ...string) relBadCase {
			return relBadCase{name: kind + " " + name, op: "listen", is: is, msg: msg,
				run: func(e *relBadEnv) error { return relListenCall(kind, lc, sockPath(e)) }}
		}
		if kind != "datagram" {
			cases = append(cases, lcCase("negative Backlog", uds.ListenConfig{Backlog: -1}, nil, "acklog"))
		}
		cases = append(cases,
			lcCase("Mode with the setuid bit", uds.ListenConfig{Mode: 0o4600}, nil, "ode"),
			lcCase("Mode with os.ModeSetuid", uds.ListenConfig{Mode: os.ModeSetuid | 0o600}, nil, "ode"),
			lcCase("Mode with os.ModeDir", uds.ListenConfig{Mode: os.ModeDir | 0o600}, nil, "ode"),
			lcCase("unknown Owner", uds.ListenConfig{Owner: "no-such-user-uds"}, nil, "socket owner", "unknown user no-such-user-uds"),
			lcCase("unknown Group", uds.ListenConfig{Group: "no-such-group-uds"}, nil, "socket group", "unknown group no-such-group-uds"),
			lcCase("negative numeric Owner", uds.ListenConfig{Owner: "-1"}, nil, "socket owner"),
			relBadCase{name: kind + " parent is a regular file", op: "listen", is: []error{syscall.ENOTDIR}, msg: []string{"not a directory"},
				run: func(e *relBadEnv) error {
					return relListenCall(kind, uds.ListenConfig{}, uds.Path(filepath.Join(e.file.Name(), "s.sock")))
				}},
		)
	}
	msg := []byte("bad")
	cases = append(cases,
		relBadCase{name: "WriteTo nil net.Addr", kind: "send", op: "write", is: []error{uds.ErrInvalidAddr}, msg: []string{"not a Unix socket address"},
			run: func(e *relBadEnv) error { _, err := e.a.WriteTo(msg, nil); return err }},
		relBadCase{name: "WriteTo nil *uds.Addr", kind: "send", op: "write", is: []error{uds.ErrInvalidAddr},
			run: func(e *relBadEnv) error { var p *uds.Addr; _, err := e.a.WriteTo(msg, p); return err }},
		relBadCase{name: "WriteTo nil *net.UnixAddr", kind: "send", op: "write", is: []error{uds.ErrInvalidAddr},
			run: func(e *relBadEnv) error { var p *net.UnixAddr; _, err := e.a.WriteTo(msg, p); return err }},
		relBadCase{name: "WriteTo a UDP address", kind: "send", op: "write", is: []error{uds.ErrInvalidAddr}, msg: []string{"*net.UDPAddr is not a Unix socket address"},
			run: func(e *relBadEnv) error { _, err := e.a.WriteTo(msg, &net.UDPAddr{}); return err }},
		relBadCase{name: "WriteMsg closed file", kind: "send", op: "write", msg: []string{"file 1 of 1", "closed file"},
			run: func(e *relBadEnv) error {
				f, err := os.Open(os.DevNull)
				if err != nil {
					return err
				}
				f.Close()
				return uds.WriteMsg(e.a, &uds.Message{Buf: msg, Files: []*os.File{f}})
			}},
		relBadCase{name: "WriteMsg closed file after open ones", kind: "send", op: "write", msg: []string{"file 2 of 2", "closed file"},
			run: func(e *relBadEnv) error {
				f, err := os.Open(os.DevNull)
				if err != nil {
					return err
				}
				f.Close()
				return uds.WriteMsg(e.a, &uds.Message{Buf: msg, Files: []*os.File{e.file, f}})
			}},
		relBadCase{name: "WriteMsg nil file", kind: "send", op: "write", is: []error{os.ErrInvalid}, msg: []string{"file 1 of 1"},
			run: func(e *relBadEnv) error { return uds.WriteMsg(e.a, &uds.Message{Buf: msg, Files: []*os.File{nil}}) }},
		relBadCase{name: "WriteMsg descriptor -1", kind: "send", op: "write", is: []error{syscall.EBADF},
			run: func(e *relBadEnv) error { return uds.WriteMsg(e.a, &uds.Message{Buf: msg, FDs: []int{-1}}) }},
		relBadCase{name: "WriteMsg Files and FDs", kind: "send", op: "write", is: []error{uds.ErrInvalidAddr}, msg: []string{"Files or FDs, not both"},
			run: func(e *relBadEnv) error {
				return uds.WriteMsg(e.a, &uds.Message{Buf: msg, Files: []*os.File{e.file}, FDs: []int{int(e.file.Fd())}})
			}},
		relBadCase{name: "WriteMsg nil connection", kind: "send", msg: []string{"nil connection"},
			run: func(e *relBadEnv) error { return uds.WriteMsg(nil, &uds.Message{Buf: msg, Files: []*os.File{e.file}}) }},
		relBadCase{name: "WriteMsg nil *uds.Conn", kind: "send",
			run: func(e *relBadEnv) error {
				var c *uds.Conn
				return uds.WriteMsg(c, &uds.Message{Buf: msg, Files: []*os.File{e.file}})
			}},
		relBadCase{name: "WriteMsg on a regular file", kind: "send", is: []error{uds.ErrNotSocket},
			run: func(e *relBadEnv) error {
				return uds.WriteMsg(e.file, &uds.Message{Buf: msg, Files: []*os.File{e.file}})
			}},
		relBadCase{name: "ReadMsg room in Files and FDs", kind: "recv", op: "read", is: []error{uds.ErrInvalidAddr}, msg: []string{"Files or FDs, not both"},
			run: func(e *relBadEnv) error {
				m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1), FDs: make([]int, 0, 1)}
				err := uds.ReadMsg(e.b, &m)
				testutil.CloseAll(m.Files) // wrongly received
				return err
			}},
		relBadCase{name: "ReadMsg Peek with room for files", kind: "recv", op: "read", is: []error{uds.ErrInvalidAddr}, msg: []string{"Peek"},
			run: func(e *relBadEnv) error {
				m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1), Peek: true}
				err := uds.ReadMsg(e.b, &m)
				testutil.CloseAll(m.Files) // wrongly received
				return err
			}},
		relBadCase{name: "ReadMsg Peek with room for FDs", kind: "recv", op: "read", is: []error{uds.ErrInvalidAddr}, msg: []string{"Peek"},
			run: func(e *relBadEnv) error {
				return uds.ReadMsg(e.b, &uds.Message{Buf: make([]byte, 16), FDs: make([]int, 0, uds.MaxFilesPerMessage+1), Peek: true})
			}},
		relBadCase{name: "ReadMsg nil connection", kind: "recv", msg: []string{"nil connection"},
			run: func(e *relBadEnv) error {
				m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1)}
				err := uds.ReadMsg(nil, &m)
				testutil.CloseAll(m.Files)
				return err
			}},
	)
	return cases
}

// relCall runs f, turning a panic into an error that says so.
func relCall(f func() error) (err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			err, panicked = fmt.Errorf("panic: %v", r), true
		}
	}()
	return f(), false
}

// TestReliabilityBadInput: see the top of this file.
func TestReliabilityBadInput(t *testing.T) {
	rounds := relSize(1, 100)
	cases := relBadCases()
	failed := map[string]bool{}
	fdsBefore := testutil.OpenFDCount(t)
	goroutinesBefore := runtime.NumGoroutine()
	start := time.Now()
	for round := 0; round < rounds; round++ {
		for _, c := range cases {
			if failed[c.name] {
				continue
			}
			ok := t.Run(c.name, func(t *testing.T) { relBadOne(t, c) })
			if !ok {
				failed[c.name] = true
			}
		}
	}
	// Empty batches are no error: they return at once and consume nothing.
	t.Run("ReadBatch empty", func(t *testing.T) {
		a, b := testutil.PairOf(t, uds.DatagramPair)
		_, err := a.Write([]byte("queued"))
		require.NoError(t, err)
		for _, ms := range [][]uds.Message{nil, {}} {
			require.NoError(t, b.SetReadDeadline(time.Now().Add(time.Second)))
			n, err := uds.ReadBatch(b, ms)
			assert.NoError(t, err)
			assert.Zero(t, n)
		}
		_, sb := testutil.PairOf(t, testutil.PairType(uds.SeqPacket))
		n, err := uds.ReadBatch(sb, nil)
		assert.NoError(t, err)
		assert.Zero(t, n)
		buf := make([]byte, 16)
		n, err = b.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, "queued", string(buf[:n]), "the queued message is still there")
		// Messages with empty buffers: each read, truncated, with its length.
		_, err = a.Write([]byte("twelve bytes"))
		require.NoError(t, err)
		ms := []uds.Message{{}, {}}
		n, err = uds.ReadBatch(b, ms)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		assert.ErrorIs(t, ms[0].Err, uds.ErrTruncated)
		assert.Equal(t, 12, ms[0].Len)
		assert.Zero(t, ms[0].N)
	})
	// Nothing accumulates over the rounds.
	assert.Equal(t, fdsBefore, testutil.OpenFDCount(t), "descriptors after %d rounds", rounds)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutinesBefore+2, "goroutines after %d rounds", rounds)
	var bad []string
	for name := range failed {
		bad = append(bad, name)
	}
	sort.Strings(bad)
	relReport(t, "bad input", "%d malformed calls (plus empty batches) x %d rounds: %d without a clear error or with a change (%s); descriptors %d before, %d after; %v",
		len(cases), rounds, len(bad), strings.Join(bad, ", "), fdsBefore, testutil.OpenFDCount(t), time.Since(start).Round(time.Millisecond))
}

func relBadOne(t *testing.T, c relBadCase) {
	dir := testutil.MkSockDir(t)
	file, err := os.Create(filepath.Join(dir, "file"))
	require.NoError(t, err)
	defer file.Close()
	_, err = file.WriteString("precious")
	require.NoError(t, err)
	a, b := testutil.PairOf(t, uds.DatagramPair)
	e := &relBadEnv{dir: dir, a: a, b: b, file: file}
	if c.kind == "recv" {
		require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("queued"), Files: []*os.File{file}}))
	}
	before := testutil.DirListing(t, dir)

	err, panicked := relCall(func() error { return c.run(e) })
	require.False(t, panicked, "the call must not panic: %v", err)
	require.Error(t, err, "the call must fail")
	t.Logf("error: %v", err)
	if c.op != "" {
		var oe *net.OpError
		if assert.ErrorAs(t, err, &oe, "a *net.OpError: %T %v", err, err) {
			assert.Equal(t, c.op, oe.Op)
		}
	}
	for _, target := range c.is {
		assert.ErrorIs(t, err, target)
	}
	for _, m := range c.msg {
		assert.Contains(t, err.Error(), m)
	}
	assert.Equal(t, before, testutil.DirListing(t, dir), "nothing created or removed")
	data, err := os.ReadFile(file.Name())
	require.NoError(t, err)
	assert.Equal(t, "precious", string(data))
	buf := make([]byte, 16)
	require.NoError(t, b.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	switch c.kind {
	case "send":
		n, err := b.Read(buf)
		assert.True(t, errors.Is(err, os.ErrDeadlineExceeded), "nothing may be sent; the peer read %q, %v", buf[:n], err)
	case "recv":
		m := uds.Message{Buf: buf, Files: make([]*os.File, 0, 4)}
		err := uds.ReadMsg(b, &m)
		if assert.NoError(t, err, "the queued message is still there") {
			assert.Equal(t, "queued", string(buf[:m.N]))
			assert.Len(t, m.Files, 1, "with its file")
		}
		testutil.CloseAll(m.Files)
	}
}
