/*
 * pair.h: the two ends the message benchmarks send over (fds[0] writes,
 * fds[1] reads), by kind:
 *   seqpacket    a SOCK_SEQPACKET socketpair
 *   dgram        a SOCK_DGRAM socketpair: the two ends are each other's
 *                peer, so the kernel does not apply max_dgram_qlen
 *   dgram-bound  a SOCK_DGRAM socket bound to an abstract name, and one
 *                connected to it, as a client sends to a server: the
 *                receive queue holds at most net.unix.max_dgram_qlen
 *                messages before the writer waits
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int make_pair(const char *kind, int fds[2])
{
	if (strcmp(kind, "seqpacket") == 0)
		return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds);
	if (strcmp(kind, "dgram") == 0)
		return socketpair(AF_UNIX, SOCK_DGRAM, 0, fds);
	if (strcmp(kind, "dgram-bound") != 0) {
		fprintf(stderr, "unknown kind %s\n", kind);
		return -1;
	}
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "uds-bench-c-%d", (int)getpid());
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	fds[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
	fds[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fds[0] < 0 || fds[1] < 0 || bind(fds[1], (void *)&a, len) < 0 || connect(fds[0], (void *)&a, len) < 0)
		return -1;
	return 0;
}
