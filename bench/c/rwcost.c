/*
 * rwcost: what the system call a message goes through costs the kernel.
 *
 * One thread sends a 64-byte message on a socket pair and receives it, N
 * times, three ways: write+read (package net's Write and Read),
 * sendto(MSG_NOSIGNAL)+recvfrom(MSG_TRUNC) (uds's, when no address or
 * control data is wanted: MSG_TRUNC makes recvfrom return a message's full
 * length, which is how uds reports truncation), and send+recv. Three
 * rounds; nanoseconds per send+receive.
 *
 *   gcc -O2 -o rwcost rwcost.c && ./rwcost 300000 seqpacket
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: rwcost N dgram|seqpacket\n");
		return 2;
	}
	long n = atol(argv[1]);
	int type = strcmp(argv[2], "dgram") == 0 ? SOCK_DGRAM : SOCK_SEQPACKET;
	static const char *names[] = {"write+read", "sendto+recvfrom(TRUNC)", "send+recv"};
	char msg[64], buf[65];
	memset(msg, 'x', sizeof msg);
	for (int round = 0; round < 3; round++) {
		for (int mode = 0; mode < 3; mode++) {
			int sv[2];
			if (socketpair(AF_UNIX, type, 0, sv) < 0) {
				perror("socketpair");
				return 1;
			}
			double t0 = now();
			for (long i = 0; i < n; i++) {
				ssize_t w, r;
				if (mode == 0) {
					w = write(sv[0], msg, sizeof msg);
					r = read(sv[1], buf, sizeof buf);
				} else if (mode == 1) {
					w = sendto(sv[0], msg, sizeof msg, MSG_NOSIGNAL, NULL, 0);
					r = recvfrom(sv[1], buf, sizeof buf, MSG_TRUNC, NULL, NULL);
				} else {
					w = send(sv[0], msg, sizeof msg, 0);
					r = recv(sv[1], buf, sizeof buf, 0);
				}
				if (w != sizeof msg || r != sizeof msg) {
					perror("send/receive");
					return 1;
				}
			}
			printf("%s %-24s %5.0f ns\n", argv[2], names[mode], (now() - t0) / n * 1e9);
			close(sv[0]);
			close(sv[1]);
		}
	}
	return 0;
}
