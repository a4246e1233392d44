/*
 * fdrate: the near-physical rate of descriptor passing over a Unix socket on
 * this machine, as BenchmarkFDs does it: one thread sends a one-byte message
 * carrying one descriptor (sendmsg, SCM_RIGHTS) over a socketpair, receives
 * it (recvmsg) and closes the descriptor received, N times.
 *
 *   fdrate stream|seqpacket|dgram N
 *
 * Prints "<type> <descriptors> <seconds> <descriptors per second>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: fdrate stream|seqpacket|dgram N\n");
		return 2;
	}
	int type = SOCK_STREAM;
	if (strcmp(argv[1], "seqpacket") == 0)
		type = SOCK_SEQPACKET;
	else if (strcmp(argv[1], "dgram") == 0)
		type = SOCK_DGRAM;
	long count = strtol(argv[2], NULL, 10);
	int fds[2];
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) {
		perror("socketpair");
		return 1;
	}
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		perror("open");
		return 1;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} out, in;
	char byte = 'x', rbyte[8];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		struct iovec iov = {&byte, 1};
		struct msghdr m = {0};
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = out.buf;
		m.msg_controllen = sizeof out.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &null, sizeof(int));
		if (sendmsg(fds[0], &m, 0) != 1) {
			perror("sendmsg");
			return 1;
		}
		struct iovec riov = {rbyte, sizeof rbyte};
		struct msghdr r = {0};
		r.msg_iov = &riov;
		r.msg_iovlen = 1;
		r.msg_control = in.buf;
		r.msg_controllen = sizeof in.buf;
		if (recvmsg(fds[1], &r, MSG_CMSG_CLOEXEC) != 1) {
			perror("recvmsg");
			return 1;
		}
		int n = 0;
		for (c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int fd;
				memcpy(&fd, CMSG_DATA(c), sizeof fd);
				close(fd);
				n++;
			}
		}
		if (n != 1) {
			fprintf(stderr, "%d descriptors\n", n);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s %ld %.3f %.0f\n", argv[1], count, secs, count / secs);
	return 0;
}
