// SPDX-License-Identifier: GPL-2.0-only
/*
 * ck-stream: TCP traffic with every byte checked, for the fast path's lab tests (a domU).
 *   ck-stream serve PORT             accept connections one after another, forever
 *   ck-stream send HOST PORT BYTES   send BYTES of a pattern that depends on each byte's
 *                                    offset; the server checks each byte and answers
 *                                    "ok BYTES" or "bad at OFFSET": a loss, a reordering or
 *                                    a corruption anywhere in the stream fails it
 *   ck-stream rr HOST PORT SECONDS   one-byte request/response transactions for SECONDS, and
 *                                    the median and 90th percentile of their round trips
 *   ck-stream udp-serve PORT         echo every UDP datagram back to its sender
 *   ck-stream udp HOST PORT COUNT SIZE   COUNT datagrams of SIZE bytes (an 8 KiB one leaves
 *                                    as IP fragments), each echoed and checked byte for byte;
 *                                    a lost one is sent again, up to 5 times
 * send and rr print one line: "bytes N seconds S MB/s R ok" or "transactions N seconds S
 * per-second R", and exit 0 only if the server agreed.  A reset or any error: exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "number.h"

#define CHUNK (64 * 1024)

struct hello {
	char mode;		/* 's' stream, 'r' request/response */
	char pad[7];
	uint64_t bytes;		/* stream: how many follow */
};

/* The byte at offset i: a hash of i, so a byte in the wrong place is caught. */
static uint8_t pattern(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (i & 7)));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int full_io(int fd, void *buf, size_t len, bool write_it)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write_it ? write(fd, (char *)buf + done, len - done) :
				       read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		done += n;
	}
	return 0;
}

static void serve_one(int fd)
{
	static uint8_t buf[CHUNK];
	struct hello h;
	uint64_t off = 0, bad = UINT64_MAX;
	char answer[64];

	if (full_io(fd, &h, sizeof(h), false))
		return;
	if (h.mode == 'r') {
		while (full_io(fd, buf, 1, false) == 0 && full_io(fd, buf, 1, true) == 0)
			;
		return;
	}
	while (off < h.bytes) {
		ssize_t n = read(fd, buf, h.bytes - off < CHUNK ? h.bytes - off : CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* the sender sees no answer: a failure */
		for (ssize_t i = 0; i < n && bad == UINT64_MAX; i++)
			if (buf[i] != pattern(off + i))
				bad = off + i;
		off += n;
	}
	if (bad == UINT64_MAX)
		snprintf(answer, sizeof(answer), "ok %" PRIu64 "\n", off);
	else
		snprintf(answer, sizeof(answer), "bad at %" PRIu64 "\n", bad);
	full_io(fd, answer, strlen(answer), true);
}

static int serve(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4)) {
		perror("ck-stream: listen");
		return 1;
	}
	for (;;) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("ck-stream: accept");
			return 1;
		}
		serve_one(fd);
		close(fd);
	}
}

static int dial(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "ck-stream: '%s' is not an IPv4 address\n", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("ck-stream: connect");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_stream(const char *host, int port, uint64_t bytes)
{
	static uint8_t buf[CHUNK];
	struct hello h = {.mode = 's', .bytes = bytes};
	char answer[64] = "";
	uint64_t off = 0;
	double t0 = now(), dt;
	int fd = dial(host, port), r;

	if (fd < 0)
		return 1;
	r = full_io(fd, &h, sizeof(h), true);
	while (!r && off < bytes) {
		size_t n = bytes - off < CHUNK ? bytes - off : CHUNK;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		r = full_io(fd, buf, n, true);
		off += n;
	}
	if (!r && read(fd, answer, sizeof(answer) - 1) <= 0)
		r = -ECONNRESET;
	dt = now() - t0;
	close(fd);
	if (r) {
		printf("bytes %" PRIu64 " failed: %s\n", off, strerror(-r));
		return 1;
	}
	answer[strcspn(answer, "\n")] = 0;
	printf("bytes %" PRIu64 " seconds %.3f MB/s %.1f %s\n", bytes, dt, bytes / dt / 1e6, answer);
	return strncmp(answer, "ok ", 3) != 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int request_response(const char *host, int port, double seconds)
{
	enum { MAX_SAMPLES = 1 << 20 };
	struct hello h = {.mode = 'r'};
	double t0, t, dt, *rtt = malloc(MAX_SAMPLES * sizeof(*rtt));
	uint64_t n = 0;
	char c = 'x';
	int fd = dial(host, port), r;

	if (fd < 0 || !rtt)
		return 1;
	r = full_io(fd, &h, sizeof(h), true);
	t0 = now();
	while (!r && (t = now()) - t0 < seconds) {
		r = full_io(fd, &c, 1, true) ?: full_io(fd, &c, 1, false);
		if (!r && n < MAX_SAMPLES)
			rtt[n] = now() - t;
		n += !r;
	}
	dt = now() - t0;
	close(fd);
	if (r || !n) {
		printf("transactions %" PRIu64 " failed: %s\n", n, strerror(r ? -r : EIO));
		return 1;
	}
	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	qsort(rtt, n, sizeof(*rtt), cmp_double);
	printf("transactions %" PRIu64 " seconds %.3f per-second %.1f rtt-median-us %.0f "
	       "rtt-p90-us %.0f\n", n, dt, n / dt, rtt[n / 2] * 1e6, rtt[n * 9 / 10] * 1e6);
	free(rtt);
	return 0;
}

static int udp_serve(int port)
{
	static uint8_t buf[65536];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)}, from;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("ck-stream: udp bind");
		return 1;
	}
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n > 0)
			sendto(fd, buf, n, 0, (struct sockaddr *)&from, fl);
	}
}

static int udp_echo(const char *host, int port, unsigned int count, size_t size)
{
	static uint8_t out[65536], in[65536];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 1};
	unsigned int i, resent = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (size < 8 || size > sizeof(out) || inet_pton(AF_INET, host, &a.sin_addr) != 1 || fd < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		fprintf(stderr, "ck-stream: udp to %s:%d: %s\n", host, port, strerror(errno));
		return 1;
	}
	for (i = 0; i < count; i++) {
		unsigned int tries;
		bool ok = false;

		for (size_t j = 0; j < size; j++)
			out[j] = pattern((uint64_t)i * size + j);
		memcpy(out, &i, sizeof(i));	/* which datagram: a late echo is not taken */
		for (tries = 0; tries < 5 && !ok; tries++) {
			if (tries)
				resent++;
			if (send(fd, out, size, 0) != (ssize_t)size)
				continue;
			for (;;) {
				ssize_t n = recv(fd, in, sizeof(in), 0);

				if (n < 0)
					break;	/* timed out: send again */
				/* An echo of an earlier try carries an earlier index: skipped. */
				if (n < (ssize_t)sizeof(i) || memcmp(in, &i, sizeof(i)))
					continue;
				if ((size_t)n != size || memcmp(in, out, size)) {
					printf("datagram %u came back changed\n", i);
					return 1;
				}
				ok = true;
				break;
			}
		}
		if (!ok) {
			printf("datagrams %u size %zu failed at %u\n", count, size, i);
			return 1;
		}
	}
	printf("datagrams %u size %zu resent %u ok\n", count, size, resent);
	return 0;
}

/* PORT as the sockets take it; 0 (any port) allowed, as it always was. */
static int parse_port(const char *s, int *port)
{
	uint64_t v;
	int r = ck_parse_uint(s, 0, 65535, &v);

	if (r < 0)
		return r;
	*port = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n, size;
	int port;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "serve") && parse_port(argv[2], &port) == 0)
		return serve(port);
	if (argc == 5 && !strcmp(argv[1], "send") && parse_port(argv[3], &port) == 0 &&
	    ck_parse_uint(argv[4], 0, UINT64_MAX, &n) == 0)
		return send_stream(argv[2], port, n);
	/* SECONDS: up to six decimals, at most a day. */
	if (argc == 5 && !strcmp(argv[1], "rr") && parse_port(argv[3], &port) == 0 &&
	    ck_parse_seconds(argv[4], 0, 86400 * 1000000ull, &n) == 0)
		return request_response(argv[2], port, n / 1e6);
	if (argc == 3 && !strcmp(argv[1], "udp-serve") && parse_port(argv[2], &port) == 0)
		return udp_serve(port);
	/* SIZE's own bounds are udp_echo's, which says what they are. */
	if (argc == 6 && !strcmp(argv[1], "udp") && parse_port(argv[3], &port) == 0 &&
	    ck_parse_uint(argv[4], 0, UINT_MAX, &n) == 0 &&
	    ck_parse_uint(argv[5], 0, SIZE_MAX, &size) == 0)
		return udp_echo(argv[2], port, (unsigned int)n, (size_t)size);
	fprintf(stderr, "usage: ck-stream serve PORT | send HOST PORT BYTES | rr HOST PORT SECONDS"
		" | udp-serve PORT | udp HOST PORT COUNT SIZE\n");
	return 2;
}
