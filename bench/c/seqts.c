/*
 * seqts: what telling an empty SEQPACKET message from end-of-stream costs.
 *
 * One thread sends a 64-byte message on a SOCK_SEQPACKET socket pair and
 * receives it, N times, in four ways:
 *   recvfrom       no control data (what package net's Read does, via read)
 *   recvmsg        msghdr with a control buffer, nothing asked
 *   ts+recvfrom    SO_TIMESTAMP on the receiver, control not read
 *   ts+recvmsg     SO_TIMESTAMP and a control buffer (what uds does)
 * and prints the nanoseconds per send+receive pair for each.
 *
 *   gcc -O2 -o seqts seqts.c && ./seqts 500000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 500000;
	static const char *names[] = {"recvfrom", "recvmsg", "ts+recvfrom", "ts+recvmsg"};
	char msg[64], buf[65], ctl[128];
	memset(msg, 'x', sizeof msg);
	for (int mode = 0; mode < 4; mode++) {
		int sv[2], on = 1;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			perror("socketpair");
			return 1;
		}
		if (mode >= 2 && setsockopt(sv[1], SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on) < 0) {
			perror("SO_TIMESTAMP");
			return 1;
		}
		double t0 = seconds();
		for (long i = 0; i < n; i++) {
			ssize_t got;
			if (send(sv[0], msg, sizeof msg, MSG_NOSIGNAL) != sizeof msg) {
				perror("send");
				return 1;
			}
			if (mode % 2 == 0) {
				got = recvfrom(sv[1], buf, sizeof buf, MSG_TRUNC, NULL, NULL);
			} else {
				struct iovec iov = {buf, sizeof buf};
				struct msghdr h = {0};
				h.msg_iov = &iov;
				h.msg_iovlen = 1;
				h.msg_control = ctl;
				h.msg_controllen = sizeof ctl;
				got = recvmsg(sv[1], &h, MSG_TRUNC | MSG_CMSG_CLOEXEC);
			}
			if (got != sizeof msg) {
				perror("recv");
				return 1;
			}
		}
		printf("%-12s %.0f ns per send+receive\n", names[mode], (seconds() - t0) / n * 1e9);
		close(sv[0]);
		close(sv[1]);
	}
	return 0;
}
