// Package sockdiag asks Linux's sock_diag (NETLINK_SOCK_DIAG) about Unix
// sockets: it builds the requests, parses the answers, dumps every socket
// of the network namespace (again when the kernel marks a dump as
// interrupted), looks one socket up by inode, finds the sockets bound to an
// abstract name or to a file, and finds a process holding one of them
// (through package procfs).
//
// sock_diag names a socket's file by the low 32 bits of its inode number
// and by its superblock's device; File compares a pinned file with that
// name (see File.Holds).
//
// It is Linux's; the package is empty elsewhere.
package sockdiag
