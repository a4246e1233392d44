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
 *
 * With EPOLL=1 in the environment both ends are also registered, as Go's
 * runtime registers every socket, with an epoll instance
 * (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET) that nobody waits on: the calls stay
 * blocking, and what changes is what the kernel does for each message on a
 * socket that epoll watches.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int watch(int fds[2])
{
	const char *e = getenv("EPOLL");
	if (e == NULL || strcmp(e, "1") != 0)
		return 0;
	int ep = epoll_create1(0); /* left open for the program's life */
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -1;
	}
	return 0;
}

static int make_pair(const char *kind, int fds[2])
{
	if (strcmp(kind, "seqpacket") == 0)
		return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) < 0 ? -1 : watch(fds);
	if (strcmp(kind, "dgram") == 0)
		return socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) < 0 ? -1 : watch(fds);
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
	return watch(fds);
}
