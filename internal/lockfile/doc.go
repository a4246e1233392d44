// Package lockfile takes flock(2) locks on files without following links or
// opening anything but a regular file, and reads and writes the PID that a
// holder keeps in its lock file for systems where the kernel does not name
// a lock's holder (Linux names it in /proc/locks).
//
// It serves a listener's path lock ("<path>.lock") and the instance
// package's file lock. It exists on Linux, darwin and FreeBSD.
package lockfile
