package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds/internal/peertool"
	"github.com/udskit/uds/internal/testutil"
)

// envRunMain makes the test binary run the command instead of the tests, so
// that tests can run uds as a real process (for signals) without go build.
const envRunMain = "UDS_CLI_TEST_RUN_MAIN"

// peerSkips records the tests skipped because a peer program (socat, nc,
// ss, ...) is missing; TestMain names them when the tests end.
var peerSkips peertool.Skips

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Unsetenv(envRunMain)
		main()
		return
	}
	peerSkips.Exit("cmd/uds", m.Run())
}

// udsCommand returns a command that runs uds with args in a child process.
func udsCommand(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// syncBuffer is testutil.SyncBuffer: output written and read in different
// goroutines.
type syncBuffer = testutil.SyncBuffer

// runCLI runs the command line in this process and returns its exit code
// and output.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// session is a command running in this process in the background.
type session struct {
	stdout, stderr syncBuffer
	cancel         context.CancelCauseFunc
	done           chan struct{}
	code           int
}

// startCLI runs the command line in the background. The test's cleanup
// stops it as SIGTERM would.
func startCLI(t *testing.T, stdin io.Reader, args ...string) *session {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &session{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.code = run(ctx, args, stdin, &s.stdout, &s.stderr)
	}()
	t.Cleanup(func() {
		cancel(signalError{syscall.SIGTERM})
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Errorf("uds %s did not stop", strings.Join(args, " "))
		}
	})
	return s
}

// signal stops the command as the signal would.
func (s *session) signal(sig syscall.Signal) { s.cancel(signalError{sig}) }

// wait waits for the command to exit and returns its exit code.
func (s *session) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(15 * time.Second):
		t.Fatalf("command did not exit; stderr: %s", s.stderr.String())
		return -1
	}
}

func (s *session) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitListening waits for "listening on" on the command's stderr.
func (s *session) waitListening(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return strings.Contains(s.stderr.String(), "listening on") || s.exited()
	}, 10*time.Second, 5*time.Millisecond)
	if s.exited() { // s.code is read only after done is closed
		t.Fatalf("uds exited early with %d: %s", s.code, s.stderr.String())
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := runCLI(t, "", args...)
		assert.Equal(t, 0, code, args)
		assert.Empty(t, errOut, args)
		assert.Contains(t, out, "Usage: uds COMMAND", args)
		for _, c := range commands {
			assert.Contains(t, out, "  "+c.name+" ", args)
			for _, e := range c.examples {
				assert.Contains(t, out, e, args)
			}
		}
		for _, code := range []string{"0", "1", "2", "3", "64", "69", "73", "130", "143"} {
			assert.Regexp(t, `(?m)^  `+code+` |; `+code+` `, out, "exit code %s in the overview", code)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "--help"}, {c.name, "-h"}, {c.name, "/x", "--help"}} {
			code, out, errOut := runCLI(t, "", args...)
			assert.Equal(t, 0, code, args)
			assert.Empty(t, errOut, args)
			assert.True(t, strings.HasPrefix(out, "Usage: uds "+c.name+" "), "%v: %q", args, out)
			assert.Contains(t, out, "Exit status:", args)
			assert.Contains(t, out, "Examples:\n", args)
			assert.NotEmpty(t, c.examples, c.name)
			for _, e := range c.examples {
				assert.Contains(t, out, e, args)
			}
		}
	}
	code, out, _ := runCLI(t, "", "probe", "--help")
	require.Equal(t, 0, code)
	for _, want := range []string{"0   live", "1   stale", "2   missing", "3   not a socket", "64  usage error", "69 "} {
		assert.Contains(t, out, want)
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "", "--version")
	assert.Equal(t, 0, code)
	assert.Empty(t, errOut)
	assert.Regexp(t, `^uds version \S+ go\S+ \w+/\w+\n$`, out)
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{nil, "Usage: uds COMMAND"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"--bogus"}, "unknown option --bogus"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"probe"}, "missing ADDR"},
		{[]string{"probe", "/a", "/b"}, "too many arguments: /b"},
		{[]string{"probe", "--bogus", "/a"}, "unknown option --bogus"},
		{[]string{"probe", "--type", "raw", "/a"}, `--type "raw"`},
		{[]string{"probe", `@bad\x`}, "bad escape"},
		{[]string{"probe", "(autobind)"}, "names no socket"},
		{[]string{"probe", "(unnamed)"}, "names no socket"},
		{[]string{"probe", ""}, "empty path"},
		{[]string{"listen"}, "missing ADDR"},
		{[]string{"listen", "--once", "-k", "/a"}, "contradict"},
		{[]string{"listen", "--mode", "999", "/a"}, "octal"},
		{[]string{"listen", "--mode", "01777", "/a"}, "0777"},
		{[]string{"listen", "--mode"}, "option needs an argument: --mode"},
		{[]string{"listen", "--mode", "0600", "@a"}, "--mode: only for pathname sockets"},
		{[]string{"listen", "--keep", "--owner", "0", "@a"}, "--keep, --owner: only for pathname sockets"},
		{[]string{"dial"}, "missing ADDR"},
		{[]string{"dial", "--timeout", "soon", "/a"}, "--timeout"},
		{[]string{"dial", "--timeout", "-1s", "/a"}, "must not be negative"},
		{[]string{"dial", "--bind", `@\q`, "/a"}, "--bind"},
		{[]string{"dial", "(autobind)"}, "names no socket"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	st := &stdio{out: io.Discard, err: io.Discard}
	fs := newFlagSet("x")
	k := fs.Bool("k", false, "")
	ops, code, ok := parseArgs(st, probeCmd, fs, []string{"/a", "-k", "--", "-b"}, 0, 5)
	require.True(t, ok, code)
	assert.True(t, *k)
	assert.Equal(t, []string{"/a", "-b"}, ops)
}
