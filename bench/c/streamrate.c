/*
 * streamrate: the near-physical throughput of a Unix stream socket on this
 * machine with blocking system calls: a writer thread writes N chunks of
 * SIZE bytes into a socketpair, the main thread reads them into a buffer of
 * SIZE bytes.
 *
 *   streamrate SIZE N
 *
 * Prints "stream <size> <chunks> <seconds> <MB per second>" (MB = 1e6 bytes,
 * as go test reports MB/s).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static long count;
static size_t size;

static void *writer(void *arg) {
	(void)arg;
	char *buf = calloc(1, size);
	for (long i = 0; i < count; i++) {
		size_t off = 0;
		while (off < size) {
			ssize_t n = write(fds[0], buf + off, size - off);
			if (n <= 0) {
				perror("write");
				exit(1);
			}
			off += (size_t)n;
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: streamrate SIZE N\n");
		return 2;
	}
	size = strtoul(argv[1], NULL, 10);
	count = strtol(argv[2], NULL, 10);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
		perror("socketpair");
		return 1;
	}
	char *buf = malloc(size);
	long long total = (long long)size * count, got = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th;
	pthread_create(&th, NULL, writer, NULL);
	while (got < total) {
		ssize_t n = read(fds[1], buf, size);
		if (n <= 0) {
			perror("read");
			return 1;
		}
		got += n;
	}
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("stream %zu %ld %.3f %.1f\n", size, count, secs, total / secs / 1e6);
	return 0;
}
