//go:build linux || darwin || freebsd

package testutil

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Foreign is a running child program (a real peer tool, or the test binary
// in another role) with its standard streams.
type Foreign struct {
	Cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Stdout *bufio.Reader
	Stderr *SyncBuffer
	Exited <-chan struct{} // closed once the program has exited and been waited for
}

// StartForeign starts cmd (its Env and ExtraFiles as the caller set them)
// in a process group of its own, with a pipe to its stdin and from its
// stdout, and its stderr kept. At the end of the test the group is killed
// if the program is still running, and its stderr is logged if the test
// failed.
func StartForeign(t testing.TB, cmd *exec.Cmd) *Foreign {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	// Not StdoutPipe: Wait, which runs at once below, would close it when
	// the program exits, maybe before its last line is read.
	stdout, stdoutW, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { stdout.Close() })
	cmd.Stdout = stdoutW
	stderr := new(SyncBuffer)
	cmd.Stderr = stderr
	err = cmd.Start()
	stdoutW.Close()
	require.NoError(t, err)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s (%v) stderr:\n%s", cmd.Path, cmd.ProcessState, stderr.String())
		}
	})
	return &Foreign{Cmd: cmd, Stdin: stdin, Stdout: bufio.NewReader(stdout), Stderr: stderr, Exited: exited}
}

// ReadLine reads one line of the program's output within timeout; past it,
// the program's group is killed and the test fails.
func (f *Foreign) ReadLine(t testing.TB, timeout time.Duration) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := f.Stdout.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "reading %s's output (stderr: %s)", f.Cmd.Path, f.Stderr.String())
		return r.s
	case <-time.After(timeout):
		_ = syscall.Kill(-f.Cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("%s printed no line within %v (stderr: %s)", f.Cmd.Path, timeout, f.Stderr.String())
		return ""
	}
}
