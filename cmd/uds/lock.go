package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/instance"
)

// lock's own exit codes; otherwise it exits with the command's status.
const (
	exitLockHeld    = 75  // EX_TEMPFAIL
	exitCannotExec  = 126 // as a shell reports a command it cannot run
	exitCmdNotFound = 127
)

var lockCmd = &command{
	name:    "lock",
	summary: "run a command while holding a single-instance lock (like flock)",
	usage: `Usage: uds lock [--file] [--wait DURATION] NAME [--] CMD [ARGS...]

Run CMD with ARGS while holding the single-instance lock NAME, like
'flock(1)', and exit with CMD's exit status. If another process holds
the lock, print which one and exit 75 without running CMD.

NAME is a Linux abstract socket name ("app" or "@app", written as in
the uds text form), bound by uds for as long as CMD runs: the kernel frees
it when uds exits or is killed, even by SIGKILL, so no stale lock is ever
left. Its scope is the network namespace, and any process in it can take
the name first: choose a name specific to the program and user
(myjob-$(id -u)), or use --file. The holder is found by connecting to the
lock, so 'uds who @NAME' and 'uds ls --name @NAME' show it too.

With --file, NAME is a lock file, created if missing and locked with
flock(2); the holder's PID is read from /proc/locks and written into the
file if it is empty or holds only a PID (a file with other contents is
locked without being changed). A symbolic link is not followed.

CMD holds the lock too, as with flock(1): the lock's descriptor is passed
to CMD as descriptor 3 (UDS_LOCK_FD=3 in its environment), and the kernel
keeps the lock while any process has it open. So if uds is killed, even by
SIGKILL, the lock stays held until CMD exits; and a background process that
CMD starts and that keeps descriptor 3 open keeps the lock after CMD exits.
A CMD that closes every descriptor it did not open gives the lock up to
uds alone. A SIGINT or SIGTERM that uds receives is passed on to CMD, and
uds waits for CMD to exit before releasing its own copy. Options come
before CMD; use "--" before a CMD that starts with "-".

Options:
  --file            NAME is a lock file, not an abstract name
  --wait DURATION   if the lock is held, retry until it is free, for at
                    most DURATION (500ms, 30s, 5m); 0, the default, fails
                    at once

Exit status:
  CMD's exit status, once it ran (128+N if signal N killed it)
  64   usage error
  69   the lock could not be taken (not Linux without --file, permission
       denied, ...)
  75   the lock is held by another process (the message names it)
  126  CMD could not be executed; 127 CMD was not found
  130  SIGINT, 143 SIGTERM while waiting for the lock
`,
	examples: []string{
		"uds lock backup -- rsync -a /src /dst  # exits 75 if a backup runs",
		"uds lock --wait 5m --file /var/lock/deploy.lock -- ./deploy.sh",
		"uds lock myjob-$(id -u) -- sh -c 'exit 3'; echo $?   # 3",
	},
	run: runLock,
}

func runLock(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	file := fs.Bool("file", false, "")
	wait := fs.Duration("wait", 0, "")

	var name string
	var cmdArgs []string
	if i := slices.Index(args, "--"); i >= 0 {
		operands, code, ok := parseArgs(st, c, fs, args[:i], 0, 1)
		if !ok {
			return code
		}
		if len(operands) == 0 {
			return usageError(st, c, "missing NAME")
		}
		name, cmdArgs = operands[0], args[i+1:]
	} else {
		// Options, NAME, options again, then CMD: parsing stops at CMD so
		// that its own options are left to it.
		rest, code, ok := parseLeading(st, c, fs, args)
		if !ok {
			return code
		}
		if len(rest) == 0 {
			return usageError(st, c, "missing NAME")
		}
		name = rest[0]
		if rest, code, ok = parseLeading(st, c, fs, rest[1:]); !ok {
			return code
		}
		cmdArgs = rest
	}
	if len(cmdArgs) == 0 {
		return usageError(st, c, "missing CMD: uds lock NAME -- CMD [ARGS...]")
	}
	if *wait < 0 {
		return usageError(st, c, "--wait %v: must not be negative", *wait)
	}

	take, what, code, ok := lockTaker(st, c, name, *file)
	if !ok {
		return code
	}
	l, err := takeLock(ctx, take, *wait)
	if err != nil {
		if ctx.Err() != nil {
			return signalExit(ctx)
		}
		var inUse *uds.InUseError
		if errors.As(err, &inUse) {
			holder := "another process"
			if inUse.PID > 0 {
				holder = fmt.Sprintf("process %d", inUse.PID)
				if comm := processName(inUse.PID); comm != "" {
					holder += " (" + comm + ")"
				}
			}
			fmt.Fprintf(st.err, "uds lock: %s is held by %s\n", what, holder)
			return exitLockHeld
		}
		return fail(st, err, exitUnavailable)
	}
	defer l.Close()
	if ctx.Err() != nil {
		return signalExit(ctx) // a signal came while taking the lock
	}
	f, err := l.File()
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	defer f.Close()
	return runLocked(ctx, st, cmdArgs, f)
}

// parseLeading parses the options at the start of args and returns the
// rest, from the first operand on.
func parseLeading(st *stdio, c *command, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(st.out, c)
			return nil, exitOK, false
		}
		return nil, usageError(st, c, "%s", flagMessage(err)), false
	}
	return fs.Args(), exitOK, true
}

// lockTaker returns the function that takes the lock NAME, and how to name
// it in messages.
func lockTaker(st *stdio, c *command, name string, file bool) (func(context.Context) (*instance.Guard, error), string, int, bool) {
	if file {
		if name == "" {
			return nil, "", usageError(st, c, "NAME: empty path"), false
		}
		return func(ctx context.Context) (*instance.Guard, error) { return instance.LockFile(ctx, name) }, name, exitOK, true
	}
	raw := name
	if name == "" {
		return nil, "", usageError(st, c, "NAME: empty name"), false
	}
	if scheme, ok := urlScheme(name); ok {
		return nil, "", usageError(st, c, "NAME: %s is a %s URL, not a lock name", name, scheme), false
	}
	switch {
	case strings.HasPrefix(name, "@") || strings.HasPrefix(name, "unix-abstract:"):
		a, code, ok := parseAddr(st, c, "NAME", name)
		if !ok {
			return nil, "", code, false
		}
		raw = a.Name()
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, "./") || strings.HasPrefix(name, "unix:"):
		return nil, "", usageError(st, c, "NAME %q looks like a path: use --file for a lock file (or @%s for an abstract name)", name, name), false
	}
	a := uds.Abstract(raw)
	if err := a.Valid(); err != nil {
		return nil, "", usageError(st, c, "NAME: %v", err), false
	}
	return func(ctx context.Context) (*instance.Guard, error) { return instance.Lock(ctx, raw) }, a.String(), exitOK, true
}

// takeLock takes the lock, retrying with backoff for up to wait while it is
// held.
func takeLock(ctx context.Context, take func(context.Context) (*instance.Guard, error), wait time.Duration) (*instance.Guard, error) {
	deadline := time.Now().Add(wait)
	delay := 5 * time.Millisecond
	for {
		l, err := take(ctx)
		if err == nil || !errors.Is(err, uds.ErrInUse) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, err
		}
		t := time.NewTimer(min(delay, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// runLocked runs the command with the lock as its descriptor 3 and returns
// its exit status, passing on the signal that cancels ctx.
func runLocked(ctx context.Context, st *stdio, argv []string, lock *os.File) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = st.in, st.out, st.err
	cmd.ExtraFiles = []*os.File{lock}
	cmd.Env = append(os.Environ(), "UDS_LOCK_FD=3")
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(st.err, "uds lock: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitCmdNotFound
		}
		return exitCannotExec
	}
	lock.Close() // CMD has its copy; uds keeps the lock's own
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sig := os.Signal(syscall.SIGTERM)
		var se signalError
		if errors.As(context.Cause(ctx), &se) {
			sig = se.sig
		}
		_ = cmd.Process.Signal(sig)
		err = <-done
	}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ps.ExitCode()
	}
	fmt.Fprintf(st.err, "uds lock: %v\n", err)
	return exitUnavailable
}
