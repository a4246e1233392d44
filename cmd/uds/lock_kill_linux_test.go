package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockHeldByCommandAfterWrapperKilled: "uds lock NAME -- CMD" must keep
// the lock for as long as CMD runs, as flock(1) does, even when the uds
// process itself is killed with SIGKILL (an OOM kill, a supervisor killing
// the wrong PID): otherwise a second instance starts next to a CMD that is
// still running. Once CMD is gone too, the lock is free.
func TestLockHeldByCommandAfterWrapperKilled(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(t *testing.T) []string // NAME, with its options
	}{
		{"abstract", func(t *testing.T) []string { return []string{abstractName(t)} }},
		{"file", func(t *testing.T) []string { return []string{"--file", filepath.Join(socketDir(t), "job.lock")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lockArgs := tc.args(t)
			tryLock := func() (int, string) {
				code, _, errOut := runCLI(t, "", append(append([]string{"lock"}, lockArgs...), "--", "true")...)
				return code, errOut
			}
			dir := socketDir(t)
			pidFile := filepath.Join(dir, "cmd.pid")
			errFile, err := os.Create(filepath.Join(dir, "uds.stderr"))
			require.NoError(t, err)
			defer errFile.Close()

			// CMD writes its PID (sh execs sleep, which keeps it) once uds
			// holds the lock and runs it.
			script := `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 30`
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			wrapper := udsCommand(t, ctx, append(append([]string{"lock"}, lockArgs...), "--", "sh", "-c", script, pidFile)...)
			wrapper.Stderr = errFile // a file, not a pipe that CMD would keep open
			wrapper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			require.NoError(t, wrapper.Start())
			pgid := wrapper.Process.Pid
			cmdPID := 0
			t.Cleanup(func() {
				_ = syscall.Kill(-pgid, syscall.SIGKILL) // uds and CMD, whichever is left
				if cmdPID > 0 {
					_ = syscall.Kill(cmdPID, syscall.SIGKILL)
				}
				_ = wrapper.Wait()
			})
			stderrOf := func() string {
				b, _ := os.ReadFile(errFile.Name())
				return string(b)
			}

			readPID := func() int {
				b, _ := os.ReadFile(pidFile)
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				return pid
			}
			require.Eventually(t, func() bool { return readPID() > 0 }, 10*time.Second, 5*time.Millisecond,
				"CMD never started; uds stderr: %s", stderrOf())
			cmdPID = readPID()
			require.NotEqual(t, wrapper.Process.Pid, cmdPID, "CMD is a process of its own")
			code, errOut := tryLock()
			require.Equal(t, exitLockHeld, code, "the lock is held while uds and CMD run: %s", errOut)

			// Kill uds alone; CMD keeps running.
			require.NoError(t, wrapper.Process.Kill())
			_ = wrapper.Wait()
			require.NoError(t, syscall.Kill(cmdPID, 0), "CMD (pid %d) still runs after uds was killed", cmdPID)
			comm, _ := os.ReadFile("/proc/" + strconv.Itoa(cmdPID) + "/comm")
			require.Equal(t, "sleep", strings.TrimSpace(string(comm)), "pid %d is CMD", cmdPID)

			code, errOut = tryLock()
			assert.Equal(t, exitLockHeld, code, "CMD still runs, so the lock must still be held after uds was SIGKILLed (got exit %d: %q)", code, errOut)

			// Kill CMD: the lock is free once it is gone.
			require.NoError(t, syscall.Kill(cmdPID, syscall.SIGKILL))
			deadline := time.Now().Add(5 * time.Second)
			for {
				code, errOut = tryLock()
				if code == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			assert.Equal(t, 0, code, "the lock is free once CMD is gone too: %s", errOut)
		})
	}
}
