/*
 * mmsgrate: the batch counterpart of msgrate. A writer thread sends N
 * messages of SIZE bytes over a socketpair with sendmmsg, BATCH messages per
 * call; the main thread receives them with recvmmsg, up to BATCH per call.
 * Blocking sockets, as msgrate. It is the ceiling for uds's ReadBatch and
 * WriteBatch: the same system calls with no runtime in between.
 *
 *   mmsgrate dgram|dgram-bound|seqpacket SIZE N [BATCH]
 *
 * Prints "<type> <size> <messages> <seconds> <messages per recvmmsg>
 * <messages per second>".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pair.h"

#define MAXBATCH 1024

static int fds[2];
static long count;
static size_t size;
static int batch = 32;

static void *writer(void *arg) {
	(void)arg;
	char *buf = calloc(1, size);
	struct mmsghdr *m = calloc(batch, sizeof *m);
	struct iovec *iov = calloc(batch, sizeof *iov);
	for (int i = 0; i < batch; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = size;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	for (long left = count; left > 0;) {
		int k = left < batch ? (int)left : batch;
		int n = sendmmsg(fds[0], m, k, 0);
		if (n <= 0) {
			perror("sendmmsg");
			exit(1);
		}
		left -= n;
	}
	free(iov);
	free(m);
	free(buf);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: mmsgrate dgram|dgram-bound|seqpacket SIZE N [BATCH]\n");
		return 2;
	}
	size = strtoul(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	if (argc == 5) {
		batch = atoi(argv[4]);
	}
	if (batch < 1 || batch > MAXBATCH) {
		fprintf(stderr, "BATCH must be from 1 to %d\n", MAXBATCH);
		return 2;
	}
	if (make_pair(argv[1], fds) != 0) {
		perror(argv[1]);
		return 1;
	}
	char *bufs = malloc((size + 1) * batch);
	struct mmsghdr *m = calloc(batch, sizeof *m);
	struct iovec *iov = calloc(batch, sizeof *iov);
	for (int i = 0; i < batch; i++) {
		iov[i].iov_base = bufs + (size + 1) * i;
		iov[i].iov_len = size + 1;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th;
	pthread_create(&th, NULL, writer, NULL);
	long calls = 0;
	for (long got = 0; got < count; calls++) {
		/* MSG_WAITFORONE: wait for the first message, take what else is queued. */
		int n = recvmmsg(fds[1], m, batch, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			perror("recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (m[i].msg_len != size) {
				fprintf(stderr, "message of %u bytes, want %zu\n", m[i].msg_len, size);
				return 1;
			}
		}
		got += n;
	}
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s %zu %ld %.3f %.1f %.0f\n", argv[1], size, count, secs, (double)count / calls, count / secs);
	return 0;
}
