/*
 * msgrate: the near-physical message rate of Unix sockets on this machine,
 * one message per system call with blocking sockets: a writer thread sends
 * N messages of SIZE bytes over a socketpair, the main thread receives them.
 *
 *   msgrate dgram|dgram-bound|seqpacket SIZE N
 *
 * Prints "<type> <size> <messages> <seconds> <messages per second>".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pair.h"

static int fds[2];
static long count;
static size_t size;

static void *writer(void *arg) {
	(void)arg;
	char *buf = calloc(1, size);
	for (long i = 0; i < count; i++) {
		if (send(fds[0], buf, size, 0) != (ssize_t)size) {
			perror("send");
			exit(1);
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: msgrate dgram|dgram-bound|seqpacket SIZE N\n");
		return 2;
	}
	size = strtoul(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	if (make_pair(argv[1], fds) != 0) {
		perror(argv[1]);
		return 1;
	}
	char *buf = malloc(size + 1);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th;
	pthread_create(&th, NULL, writer, NULL);
	for (long i = 0; i < count; i++) {
		if (recv(fds[1], buf, size + 1, 0) != (ssize_t)size) {
			perror("recv");
			return 1;
		}
	}
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s %zu %ld %.3f %.0f\n", argv[1], size, count, secs, count / secs);
	return 0;
}
