package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/udskit/uds"
)

// This file runs listen --exec: each connection served by a command whose
// standard input and output are the connection itself, as inetd, systemd's
// Accept=yes and socat's EXEC do.

// childGrace is how long listen waits for its --exec children after passing
// on SIGINT or SIGTERM before it kills them.
const childGrace = 5 * time.Second

// fileConn is a connection that can hand its descriptor over: a stream or
// seqpacket *uds.Conn.
type fileConn interface {
	net.Conn
	syscall.Conn
	File() (*os.File, error)
}

// child is a running --exec command.
type child struct {
	cmd  *exec.Cmd
	peer string // for messages: the peer's PID or address
	done chan struct{}
	code int // its exit status, once done is closed
}

// startChild starts sh -c script with conn as its standard input and
// output and this process's standard error, and closes conn here: the
// child holds the only descriptor of the connection, and nothing else of
// this process's (every other descriptor is close-on-exec). The child's
// environment is this process's with the connection's addresses and the
// peer's credentials added (UDS_PEER_ADDR, UDS_LOCAL_ADDR, UDS_PEER_PID,
// UDS_PEER_UID, UDS_PEER_GID). The returned child is reaped by a goroutine
// that closes done.
func startChild(st *stdio, conn fileConn, script string) (*child, error) {
	env := append(os.Environ(),
		"UDS_PEER_ADDR="+conn.RemoteAddr().String(),
		"UDS_LOCAL_ADDR="+conn.LocalAddr().String())
	peer := conn.RemoteAddr().String()
	if cred, err := uds.PeerCred(conn); err == nil {
		env = append(env,
			"UDS_PEER_PID="+strconv.Itoa(cred.PID),
			"UDS_PEER_UID="+strconv.Itoa(cred.UID),
			"UDS_PEER_GID="+strconv.Itoa(cred.GID))
		peer = "pid " + strconv.Itoa(cred.PID)
		cred.Close()
	}
	f, err := conn.File()
	conn.Close()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The descriptor shares the socket's non-blocking mode, which the
	// child's plain reads and writes must not see. This process's own
	// descriptor of it is closed, so nothing here depends on that mode.
	if err := setBlocking(f); err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, st.err
	cmd.Env = env
	// Only when stderr is not a file: do not wait for a copy of CMD's
	// stderr held open by what CMD left running.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &child{cmd: cmd, peer: peer, done: make(chan struct{})}
	go func() {
		defer close(ch.done)
		err := cmd.Wait()
		ch.code = exitStatus(cmd.ProcessState, err)
	}()
	return ch, nil
}

// exitStatus is a finished command's exit status as a shell reports it:
// 128+N when signal N killed it.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return exitUnavailable
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if err != nil && ps.ExitCode() == 0 {
		return exitUnavailable // copying its standard error failed
	}
	return ps.ExitCode()
}

// children are the running --exec commands of listen --fork.
type children struct {
	mu  sync.Mutex
	set map[*child]struct{}
	wg  sync.WaitGroup // one for each child until it is removed
	// onChange, if not nil, is called with 1 when a child is added and
	// with -1 when one is removed.
	onChange func(delta int)
}

func (cs *children) add(ch *child) {
	cs.mu.Lock()
	if cs.set == nil {
		cs.set = make(map[*child]struct{})
	}
	cs.set[ch] = struct{}{}
	cs.wg.Add(1)
	cs.mu.Unlock()
	if cs.onChange != nil {
		cs.onChange(1)
	}
}

func (cs *children) remove(ch *child) {
	cs.mu.Lock()
	delete(cs.set, ch)
	cs.mu.Unlock()
	if cs.onChange != nil {
		cs.onChange(-1)
	}
	cs.wg.Done()
}

// watch adds ch, and when it exits, reports a status other than 0 and
// removes it.
func (cs *children) watch(st *stdio, ch *child) {
	cs.add(ch)
	go func() {
		<-ch.done
		reportChild(st, ch)
		cs.remove(ch)
	}()
}

// wait waits until every child has exited and been removed.
func (cs *children) wait() { cs.wg.Wait() }

func (cs *children) list() []*child {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	l := make([]*child, 0, len(cs.set))
	for ch := range cs.set {
		l = append(l, ch)
	}
	return l
}

// stop passes sig on to every running child, waits for them for up to
// childGrace, and then kills the ones left and waits for them (and for
// their reports).
func (cs *children) stop(st *stdio, sig os.Signal) {
	l := cs.list()
	for _, ch := range l {
		_ = ch.cmd.Process.Signal(sig)
	}
	t := time.NewTimer(childGrace)
	defer t.Stop()
	for _, ch := range l {
		select {
		case <-ch.done:
			continue
		case <-t.C:
		}
		break // the time is up
	}
	for _, ch := range l {
		select {
		case <-ch.done:
		default:
			fmt.Fprintf(st.err, "uds: killing CMD %d (%s): still running %v after %v\n", ch.cmd.Process.Pid, ch.peer, sig, childGrace)
			_ = ch.cmd.Process.Kill()
			<-ch.done
		}
	}
	cs.wait()
}

// signalOf returns the signal that cancelled ctx (SIGTERM if none did).
func signalOf(ctx context.Context) os.Signal {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.sig
	}
	return syscall.SIGTERM
}

// reportChild tells about a child that did not exit with status 0.
func reportChild(st *stdio, ch *child) {
	if ch.code != 0 {
		fmt.Fprintf(st.err, "uds: CMD %d (%s) exited with status %d\n", ch.cmd.Process.Pid, ch.peer, ch.code)
	}
}
