//go:build linux || darwin || freebsd

// Package childproc runs roles of a test binary in real child processes:
// the test binary re-executes itself with an environment variable naming a
// registered role, and the role's function runs instead of the tests. Tests
// use it for behaviour that only shows between processes (crashes, races
// between servers, other users' credentials).
package childproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	envRole = "UDS_CHILD_ROLE"
	envArgs = "UDS_CHILD_ARGS"
)

var (
	mu    sync.Mutex
	roles = map[string]func(args []string) int{}
)

// Register makes fn runnable as role name in a child. Call it from init. fn
// returns the child's exit code.
func Register(name string, fn func(args []string) int) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := roles[name]; dup {
		panic("childproc: role registered twice: " + name)
	}
	roles[name] = fn
}

// Main runs the role named in the environment, if any, and exits; otherwise
// it runs the tests and exits with their code. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run runs the role named in the environment, if any, and exits; otherwise
// it runs the tests and returns their exit code, for a TestMain that has
// more to do before it exits.
func Run(m *testing.M) int {
	if role := os.Getenv(envRole); role != "" {
		mu.Lock()
		fn := roles[role]
		mu.Unlock()
		if fn == nil {
			fmt.Fprintf(os.Stderr, "childproc: unknown role %q\n", role)
			os.Exit(2)
		}
		var args []string
		if s := os.Getenv(envArgs); s != "" {
			if err := json.Unmarshal([]byte(s), &args); err != nil {
				fmt.Fprintf(os.Stderr, "childproc: bad args: %v\n", err)
				os.Exit(2)
			}
		}
		os.Unsetenv(envRole)
		os.Unsetenv(envArgs)
		os.Exit(fn(args))
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	return code
}

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedExe  string
	sharedErr  error
)

// sharedExecutable returns a copy of the test binary that every user can run:
// go test builds it in a directory only its owner can enter.
func sharedExecutable() (string, error) {
	sharedOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			sharedErr = err
			return
		}
		dir, err := os.MkdirTemp("", "uds-child-")
		if err != nil {
			sharedErr = err
			return
		}
		sharedDir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			sharedErr = err
			return
		}
		data, err := os.ReadFile(exe)
		if err != nil {
			sharedErr = err
			return
		}
		sharedExe = dir + "/" + "test.bin"
		sharedErr = os.WriteFile(sharedExe, data, 0o755)
	})
	return sharedExe, sharedErr
}

// Ready is what a role prints on its own line of standard output to say it
// is ready, optionally followed by a space and a value.
const Ready = "READY"

// Options change how a child starts.
type Options struct {
	// Credential, if not nil, runs the child as that user (needs root).
	Credential *syscall.Credential
	// ExtraFiles are passed to the child as descriptors 3, 4, ...
	ExtraFiles []*os.File
	// Env is added to the child's environment.
	Env []string
	// Dir is the child's working directory.
	Dir string
}

// Child is a running child process.
type Child struct {
	t     testing.TB
	Cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error

	stderr strings.Builder
	mu     sync.Mutex
}

// Start runs role in a new child process with args and waits for nothing;
// use WaitReady to wait for its READY line. The child is killed when the
// test ends.
func Start(t testing.TB, opts Options, role string, args ...string) *Child {
	t.Helper()
	exe, err := os.Executable()
	if opts.Credential != nil {
		// Another user cannot enter go test's private build directory.
		exe, err = sharedExecutable()
	}
	if err != nil {
		t.Fatalf("childproc: %v", err)
	}
	enc, _ := json.Marshal(args)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"="+role, envArgs+"="+string(enc))
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.ExtraFiles = opts.ExtraFiles
	cmd.Dir = opts.Dir
	if opts.Credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.Credential}
	}
	c := &Child{t: t, Cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	// Not StdoutPipe: Wait, which runs at once below, closes that pipe as
	// soon as the child exits, and the lines it wrote last were lost when
	// the reader had not got to them yet (a busy machine: "child exited
	// before writing a line"). This pipe's read end is closed at the end of
	// the test instead.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatalf("childproc: %v", err)
	}
	cmd.Stdout = stdoutW
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.stderr.Write(p)
	})
	err = cmd.Start()
	stdoutW.Close()
	if err != nil {
		stdout.Close()
		t.Fatalf("childproc: start %s: %v", role, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		// Not Kill, which waits without limit: a grandchild holding the
		// child's output open must not hang the test's end.
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
		}
		stdout.Close() // ends the reader, even if a grandchild holds the write end
	})
	return c
}

// Stderr returns what the child wrote to standard error so far.
func (c *Child) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// PID returns the child's process ID.
func (c *Child) PID() int { return c.Cmd.Process.Pid }

// Line returns the child's next line of standard output, or fails the test
// after timeout.
func (c *Child) Line(timeout time.Duration) string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			<-c.done
			c.t.Fatalf("childproc: child exited (%v) before writing a line; stderr:\n%s", c.err, c.Stderr())
		}
		return l
	case <-time.After(timeout):
		c.t.Fatalf("childproc: no line from child after %v; stderr:\n%s", timeout, c.Stderr())
	}
	return ""
}

// WaitReady waits for the child's READY line and returns the value after it.
func (c *Child) WaitReady() string {
	c.t.Helper()
	for {
		l := c.Line(30 * time.Second)
		if l == Ready {
			return ""
		}
		if v, ok := strings.CutPrefix(l, Ready+" "); ok {
			return v
		}
	}
}

// Kill sends SIGKILL to the child and waits for it to exit.
func (c *Child) Kill() {
	if c.Cmd.Process != nil {
		_ = c.Cmd.Process.Kill()
	}
	<-c.done
}

// Signal sends sig to the child.
func (c *Child) Signal(sig os.Signal) error { return c.Cmd.Process.Signal(sig) }

// Wait waits for the child to exit, at most timeout, and returns its exit
// code (-1 if it was killed by a signal).
func (c *Child) Wait(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("childproc: child still running after %v; stderr:\n%s", timeout, c.Stderr())
	}
	if c.Cmd.ProcessState == nil {
		return -1
	}
	return c.Cmd.ProcessState.ExitCode()
}

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)
