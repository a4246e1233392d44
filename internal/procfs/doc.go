// Package procfs reads what Linux's /proc says about sockets, locks and
// mounts: which processes hold a socket inode (/proc/PID/fd), which process
// holds a flock (/proc/locks), a process's command name (/proc/PID/comm),
// and the device of a file's superblock (/proc/self/mountinfo).
//
// It is Linux's; on other systems only Comm exists, and returns "".
package procfs

// SelfFDPrefix is where this process's descriptors are named: a descriptor
// N of a directory is the directory "/proc/self/fd/N" (the root package
// binds a path longer than sun_path through its parent's descriptor this
// way).
const SelfFDPrefix = "/proc/self/fd/"
