/*
 * login-flood.c — many failed CHAP logins, each with a fresh InitiatorName, for the
 * kernel-state lab test (test-login-slab.sh, issue 8 §4).
 *
 *   login-flood HOST PORT TARGET CHAP_USER COUNT NAME_PREFIX [JOBS]
 *
 * Each login is its own TCP connection to HOST:PORT (the portal) and runs the
 * security stage of a Normal session (RFC 7143 §11.12, §12.1.3): the leading Login
 * Request offers AuthMethod=CHAP with InitiatorName NAME_PREFIX.<n>, the second
 * selects CHAP_A=5 (MD5), the third answers the challenge with CHAP_N=CHAP_USER and a
 * CHAP_R that is all zeros — a wrong response, whatever the secret. The target must
 * answer it with status class 2 (initiator error; LIO: 0x0201 authentication
 * failure). JOBS connections run at a time (fork, default 2), each taking every
 * JOBS-th name. Every read has a 20 s timeout.
 *
 * Prints "logins=N refused=R other=O errors=E seconds=S" (refused: class-2 answers to
 * the wrong response; other: any other final status; errors: connection or protocol
 * failures). Exit status 0 when refused == COUNT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monotime.h"

#define BHS 48
#define MAX_DATA 8192

enum result { R_REFUSED, R_OTHER, R_ERROR };

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Send one Login Request: flags byte (T, CSG, NSG), keys as "k=v\0..." of len bytes. */
static int send_login(int fd, uint8_t flags, const uint8_t isid[6], uint32_t itt,
		      uint32_t exp_statsn, const char *keys, size_t len)
{
	uint8_t pdu[BHS + MAX_DATA + 4];
	size_t padded = (len + 3) & ~(size_t)3;

	if (len > MAX_DATA)
		return -1;
	memset(pdu, 0, BHS + padded);
	pdu[0] = 0x40 | 0x03;               /* immediate, Login Request */
	pdu[1] = flags;
	pdu[5] = (uint8_t)(len >> 16);
	pdu[6] = (uint8_t)(len >> 8);
	pdu[7] = (uint8_t)len;
	memcpy(pdu + 8, isid, 6);
	pdu[16] = (uint8_t)(itt >> 24);
	pdu[17] = (uint8_t)(itt >> 16);
	pdu[18] = (uint8_t)(itt >> 8);
	pdu[19] = (uint8_t)itt;
	/* CID 0, CmdSN 0 (one login, immediate). */
	pdu[28] = (uint8_t)(exp_statsn >> 24);
	pdu[29] = (uint8_t)(exp_statsn >> 16);
	pdu[30] = (uint8_t)(exp_statsn >> 8);
	pdu[31] = (uint8_t)exp_statsn;
	memcpy(pdu + BHS, keys, len);
	return write_all(fd, pdu, BHS + padded);
}

/* Read one Login Response: status (class << 8 | detail), StatSN, data into buf. */
static int recv_login(int fd, uint16_t *status, uint32_t *statsn, char *buf, size_t *len)
{
	uint8_t bhs[BHS];
	size_t dlen, padded;

	if (read_all(fd, bhs, BHS) < 0 || (bhs[0] & 0x3f) != 0x23)
		return -1;
	dlen = (size_t)bhs[5] << 16 | (size_t)bhs[6] << 8 | bhs[7];
	padded = (dlen + 3) & ~(size_t)3;
	if (bhs[4] || padded > MAX_DATA)
		return -1;
	if (read_all(fd, (uint8_t *)buf, padded) < 0)
		return -1;
	buf[dlen] = '\0';
	*len = dlen;
	*status = (uint16_t)(bhs[36] << 8 | bhs[37]);
	*statsn = (uint32_t)bhs[24] << 24 | (uint32_t)bhs[25] << 16 | (uint32_t)bhs[26] << 8 |
		  bhs[27];
	return 0;
}

/* keys "k=v\0k=v\0" with printf-style fields separated by '\n' in fmt. */
static size_t keys_of(char *out, size_t cap, const char *text)
{
	size_t n = strlen(text);

	if (n + 1 > cap)
		return 0;
	memcpy(out, text, n + 1);
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n')
			out[i] = '\0';
	return n + 1;
}

static int connect_to(const struct addrinfo *ai)
{
	struct timeval tv = { .tv_sec = 20 };
	int one = 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static enum result one_login(const struct addrinfo *ai, const char *target,
			     const char *user, const char *name, uint32_t n)
{
	uint8_t isid[6] = { 0x80, 0x00, 0x5a, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	char text[1024], keys[1024], data[MAX_DATA + 4];
	enum result res = R_ERROR;
	uint32_t statsn = 0, itt = n;
	uint16_t st;
	size_t len;
	int fd = connect_to(ai);

	if (fd < 0)
		return R_ERROR;
	/* 1: security stage, transit to operational once CHAP is done. */
	snprintf(text, sizeof(text), "InitiatorName=%s\nTargetName=%s\nSessionType=Normal\n"
		 "AuthMethod=CHAP", name, target);
	len = keys_of(keys, sizeof(keys), text);
	if (!len || send_login(fd, 0x81, isid, itt, 0, keys, len) < 0 ||
	    recv_login(fd, &st, &statsn, data, &len) < 0)
		goto out;
	if (st) {
		res = st >> 8 == 2 ? R_REFUSED : R_OTHER;
		goto out;
	}
	/* 2: CHAP_A (MD5). */
	len = keys_of(keys, sizeof(keys), "CHAP_A=5");
	if (send_login(fd, 0x00, isid, itt, statsn + 1, keys, len) < 0 ||
	    recv_login(fd, &st, &statsn, data, &len) < 0)
		goto out;
	if (st) {
		res = R_OTHER;
		goto out;
	}
	/* 3: a wrong response. */
	snprintf(text, sizeof(text), "CHAP_N=%s\nCHAP_R=0x%032d", user, 0);
	len = keys_of(keys, sizeof(keys), text);
	if (send_login(fd, 0x81, isid, itt, statsn + 1, keys, len) < 0 ||
	    recv_login(fd, &st, &statsn, data, &len) < 0)
		goto out;
	res = st >> 8 == 2 ? R_REFUSED : R_OTHER;
out:
	close(fd);
	return res;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	unsigned long count, jobs = 2, tot[3] = { 0, 0, 0 };
	double t0, t1;
	int pipes[64][2];
	pid_t pids[64];

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: %s HOST PORT TARGET CHAP_USER COUNT NAME_PREFIX [JOBS]\n",
			argv[0]);
		return 2;
	}
	count = strtoul(argv[5], NULL, 10);
	if (argc == 8)
		jobs = strtoul(argv[7], NULL, 10);
	if (!jobs || jobs > 64 || getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	t0 = monotime_sec();
	for (unsigned long j = 0; j < jobs; j++) {
		if (pipe(pipes[j]) < 0 || (pids[j] = fork()) < 0) {
			perror("fork");
			return 1;
		}
		if (pids[j] == 0) {
			unsigned long mine[3] = { 0, 0, 0 };
			char name[256];

			close(pipes[j][0]);
			for (unsigned long n = j; n < count; n += jobs) {
				snprintf(name, sizeof(name), "%s.%lu", argv[6], n);
				mine[one_login(ai, argv[3], argv[4], name, (uint32_t)n)]++;
			}
			if (write_all(pipes[j][1], (const uint8_t *)mine, sizeof(mine)) < 0)
				_exit(1);
			_exit(0);
		}
		close(pipes[j][1]);
	}
	for (unsigned long j = 0; j < jobs; j++) {
		unsigned long got[3] = { 0, 0, 0 };

		if (read_all(pipes[j][0], (uint8_t *)got, sizeof(got)) == 0)
			for (int k = 0; k < 3; k++)
				tot[k] += got[k];
		close(pipes[j][0]);
		waitpid(pids[j], NULL, 0);
	}
	t1 = monotime_sec();
	freeaddrinfo(ai);
	printf("logins=%lu refused=%lu other=%lu errors=%lu seconds=%.1f\n", count,
	       tot[R_REFUSED], tot[R_OTHER], count - tot[R_REFUSED] - tot[R_OTHER],
	       t1 - t0);
	return tot[R_REFUSED] == count ? 0 : 1;
}
