// Package reliability holds no code: its tests are the long reliability
// suites of github.com/udskit/uds, kept out of the root package so that its
// tests stay one file per source file. They use only the public API, run
// real processes (the test binary re-executes itself for child roles, see
// main_test.go and internal/childproc; some suites also run socat, nc,
// python3, prlimit or unshare) and many need root. RELIABILITY.md records
// their figures.
//
// Every test runs a short version by default; UDS_LONG=1 runs the sizes
// RELIABILITY.md records:
//
//	UDS_LONG=1 go test -run Reliability -timeout 60m -v ./reliability
//
// The files:
//
//   - reliability_test.go: the shared figures and reports, racing starts
//     (area 1) and crash recovery (area 2);
//   - paths_test.go: adversarial paths (area 3);
//   - perm_test.go: permissions from the first instant (area 4);
//   - fds_test.go: descriptor leaks (area 5);
//   - ns_test.go: namespaces and chroot (area 7);
//   - badinput_test.go: bad configuration, destinations and descriptors
//     (area 8);
//   - adversary_test.go: stale-path safety against a hostile neighbour
//     running as another user;
//   - fsmatrix_test.go: stale-path safety on btrfs, XFS, ext4, tmpfs and
//     overlayfs;
//   - sandbox_test.go: stale-path safety without AF_NETLINK or with too few
//     free descriptors;
//   - listener_proc_test.go: Listen, crash reclaim, takeover and the lock
//     between server processes;
//   - handoff_test.go: zero-downtime restart, a listening socket handed from
//     an old server process to a new one;
//   - interop_test.go: interop with programs no one here wrote (socat, nc,
//     python3, ss);
//   - helpers_test.go, main_test.go: helpers copied from the root package's
//     tests, and the TestMain that runs child roles.
//
// The fuzzing of the kernel-reply decoders (area 6) needs the package's
// internals and stays in the root package (sockaddr_internal_test.go,
// msgconn_internal_test.go).
package reliability
