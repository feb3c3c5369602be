// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "address-file.h"
#include "clock.h"
#include "logging.h"
#include "member-json.h"

#define STATE_LINE_MAX 1024

/*
 * The state file, written whole: a line per orchestrator entry, "UUID MAC|- ADDR...", and
 * one per learned address, "learned MAC ADDR dhcp|arp|ndp EXPIRY" (EXPIRY: the lease's end
 * in seconds since the epoch, or "never"), so that a restarted cokeeperd knows its guests'
 * leases before they renew (a day's lease renews after twelve hours).
 */

struct saver {
	FILE *f;
	uint64_t mono, wall;	/* now, on both clocks: leases are saved in wall-clock time */
};

static void save_one(const uint8_t uuid[CK_UUID_LEN], const uint8_t *mac,
		     const struct ck_addr *v, size_t n, void *userdata)
{
	struct saver *s = userdata;
	char u[37], m[18] = "-", addr[46];

	ck_format_uuid(uuid, u);
	if (mac)
		ck_format_mac(mac, m);
	fprintf(s->f, "%s %s", u, m);
	for (size_t i = 0; i < n; i++) {
		ck_addr_format(&v[i], addr);
		fprintf(s->f, " %s", addr);
	}
	fputc('\n', s->f);
}

static uint64_t wall_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void save_learned(const uint8_t mac[CK_MAC_LEN], const struct ck_addr *addr,
			 enum ck_learned_how how, uint64_t expires, void *userdata)
{
	struct saver *s = userdata;
	char m[18], text[46];

	ck_format_mac(mac, m);
	ck_addr_format(addr, text);
	if (expires == UINT64_MAX)
		fprintf(s->f, "learned %s %s %s never\n", m, text, ck_learned_how_name(how));
	else
		fprintf(s->f, "learned %s %s %s %" PRIu64 "\n", m, text, ck_learned_how_name(how),
			(s->wall + (expires > s->mono ? expires - s->mono : 0)) / 1000000);
}

/* Writes the whole file anew and renames it over the old: never half a file. */
int address_file_save(const char *path, const struct ck_addrbook *book)
{
	char tmp[4096];
	struct saver s;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT) {
		/* Its directory, made once (systemd's StateDirectory= does it for the unit). */
		char dir[4096];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0750) == 0)
				log_info("%s: made, for the address state file", dir);
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return -errno;
	s.f = fdopen(fd, "w");
	if (!s.f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	fputs("# cokeeperd: the orchestrator's addresses (cokeeperctl addresses), "
	      "UUID MAC|- ADDRESS...,\n# and the learned ones, learned MAC ADDRESS HOW "
	      "EXPIRY (seconds since the epoch, or never)\n", s.f);
	s.mono = ck_now_usec();
	s.wall = wall_usec();
	ck_addrbook_foreach_set(book, save_one, &s);
	ck_addrbook_foreach_learned(book, save_learned, &s);
	/* Any write that failed on the way (a full disk) fails the whole file: no short one. */
	if (fflush(s.f) != 0 || ferror(s.f) || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (fclose(s.f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* "learned MAC ADDR HOW EXPIRY" after its first word; one that has run out is dropped. */
static int load_learned(struct ck_addrbook *book, char *save)
{
	char *mac_s = strtok_r(NULL, " \t\n", &save), *addr_s = strtok_r(NULL, " \t\n", &save),
	     *how_s = strtok_r(NULL, " \t\n", &save), *exp_s = strtok_r(NULL, " \t\n", &save);
	uint8_t mac[CK_MAC_LEN], lost[CK_MAC_LEN];
	uint64_t expires = UINT64_MAX, wall, secs;
	struct ck_addr addr;
	unsigned int how;
	char *end;
	int r;

	if (!exp_s || strtok_r(NULL, " \t\n", &save) || ck_parse_mac(mac_s, mac) < 0 ||
	    !ck_mac_valid(mac) || ck_addr_parse(addr_s, &addr) < 0)
		return -EINVAL;
	for (how = 0; how < __CK_LEARNED_LAST && strcmp(how_s, ck_learned_how_name(how)); how++)
		;
	if (how == __CK_LEARNED_LAST)
		return -EINVAL;
	if (strcmp(exp_s, "never")) {
		errno = 0;
		secs = strtoull(exp_s, &end, 10);
		if (errno || *end || end == exp_s || secs > UINT64_MAX / 2000000)
			return -EINVAL;
		wall = wall_usec();
		if (secs * 1000000 <= wall)
			return 0;	/* ran out while cokeeperd was down */
		expires = ck_now_usec() + (secs * 1000000 - wall);
	}
	r = ck_addrbook_learn(book, mac, &addr, how, expires, lost);
	return r < 0 ? r : 0;
}

/* One line of the state file; a bad one is skipped, named, and the rest still read. */
static int load_line(struct ck_addrbook *book, char *line)
{
	struct ck_addr v[2 * CK_ADDRS_MAX];
	uint8_t uuid[CK_UUID_LEN], mac[CK_MAC_LEN];
	char *save = NULL, *tok;
	bool have_mac = false;
	size_t n = 0;

	tok = strtok_r(line, " \t\n", &save);
	if (!tok || tok[0] == '#')
		return 0;
	if (!strcmp(tok, "learned"))
		return load_learned(book, save);
	if (ck_parse_uuid(tok, uuid) < 0)
		return -EINVAL;
	tok = strtok_r(NULL, " \t\n", &save);
	if (!tok)
		return -EINVAL;
	if (strcmp(tok, "-")) {
		if (ck_parse_mac(tok, mac) < 0 || !ck_mac_valid(mac))
			return -EINVAL;
		have_mac = true;
	}
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		if (n == 2 * CK_ADDRS_MAX || ck_addr_parse(tok, &v[n]) < 0)
			return -EINVAL;
		n++;
	}
	return ck_addrbook_set(book, uuid, have_mac ? mac : NULL, v, n);
}

int address_file_load(const char *path, struct ck_addrbook *book)
{
	char line[STATE_LINE_MAX];
	unsigned int lineno = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return -errno;	/* the caller says what it does about it */
	}
	while (fgets(line, sizeof(line), f)) {
		int r;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_warning("%s:%u: longer than %d bytes: the rest of the file is skipped",
				    path, lineno, STATE_LINE_MAX - 1);
			break;
		}
		r = load_line(book, line);
		if (r == -ENOMEM) {
			fclose(f);
			return r;
		}
		if (r < 0)
			log_warning("%s:%u: not an entry (UUID MAC|- ADDRESS...): skipped",
				    path, lineno);
	}
	fclose(f);
	log_info("%s: the orchestrator's and learned addresses read", path);
	return 0;
}

