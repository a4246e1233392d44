/*
 * epollout: how many epoll events a message costs the sender.
 *
 * Go registers every socket with its one epoll instance for
 * EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered. This program does the same
 * with the sending end of a connected pair, sends N 64-byte messages one at
 * a time, has the peer read each one, and counts the events epoll reports
 * for the sender after each read. A Unix socket's sender is woken
 * (EPOLLOUT) each time the peer frees a message it sent (sock_wfree ->
 * unix_write_space); a TCP sender is woken only after its send buffer was
 * full. Each such event is an ep_poll_callback under the epoll instance's
 * lock, and a wake-up of the thread waiting in epoll_wait if there is one.
 *
 *   gcc -O2 -o epollout epollout.c && ./epollout 100000
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_pair(int sv[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	int one = 1, ln = socket(AF_INET, SOCK_STREAM, 0);
	if (ln < 0 || bind(ln, (void *)&a, sizeof a) < 0 || listen(ln, 1) < 0 ||
	    getsockname(ln, (void *)&a, &l) < 0)
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[0] < 0 || connect(sv[0], (void *)&a, sizeof a) < 0)
		return -1;
	sv[1] = accept(ln, NULL, NULL);
	close(ln);
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return sv[1] < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	static const char *names[] = {"unix stream", "unix seqpacket", "unix dgram", "tcp loopback"};
	char msg[64], buf[64];
	memset(msg, 'x', sizeof msg);
	for (int k = 0; k < 4; k++) {
		int sv[2], r;
		if (k == 3)
			r = tcp_pair(sv);
		else
			r = socketpair(AF_UNIX, k == 0 ? SOCK_STREAM : k == 1 ? SOCK_SEQPACKET : SOCK_DGRAM, 0, sv);
		if (r < 0) {
			perror(names[k]);
			return 1;
		}
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
		epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
		struct epoll_event out[4];
		epoll_wait(ep, out, 4, 0); /* the first, always-writable edge */
		long events = 0;
		for (long i = 0; i < n; i++) {
			if (send(sv[0], msg, sizeof msg, 0) != sizeof msg || recv(sv[1], buf, sizeof buf, 0) <= 0) {
				perror("send/recv");
				return 1;
			}
			events += epoll_wait(ep, out, 4, 0);
		}
		printf("%-15s %.3f sender events per message\n", names[k], (double)events / n);
		close(ep);
		close(sv[0]);
		close(sv[1]);
	}
	return 0;
}
