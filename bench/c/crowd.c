/*
 * crowd: one process of a crowded host for BenchmarkCrowd. It opens PAIRS
 * Unix stream socket pairs, writes "ready\n" to stdout, and waits until
 * stdin closes (the benchmark's end, or its death).
 *
 *   crowd PAIRS
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: crowd PAIRS\n");
		return 2;
	}
	long pairs = strtol(argv[1], NULL, 10);
	for (long i = 0; i < pairs; i++) {
		int fds[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
			perror("socketpair");
			return 1;
		}
	}
	if (write(1, "ready\n", 6) != 6) {
		return 1;
	}
	char c;
	while (read(0, &c, 1) > 0) {
	}
	return 0;
}
