// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes fuzz-learn-parse's seeds into the directory given: the unit test's valid frames
 * (tests/unit/learn-frames.h), one of each kind learnt, each behind the byte that says how
 * it was seen (bit 0: sent by the guest; bit 1: its checksum not filled in).  A lease with
 * no UDP checksum and one marked unfilled let the fuzzer change DHCP options and still
 * reach the option walk.
 */
#include <errno.h>
#include <stdio.h>

#include "learn-frames.h"

#define SEEN_FROM_GUEST 0x01
#define SEEN_CSUM_PARTIAL 0x02

static int write_seed(const char *dir, const char *name, uint8_t seen, const struct lf *f)
{
	char path[4096];
	FILE *out;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (!out)
		return -errno;
	fputc(seen, out);
	fwrite(f->b, 1, f->len, out);
	return fclose(out) ? -errno : 0;
}

static void ack(struct lf *f)
{
	lf_dhcp_ack(f, 0);
}

static void ack_tagged(struct lf *f)
{
	lf_dhcp_ack(f, LF_VLAN);
}

static void ack_no_udp_checksum(struct lf *f)
{
	lf_dhcp_begin(f, 5, 0);
	f->no_udp_csum = true;
	lf_dhcp_end(f);
}

static const struct {
	const char *name;
	void (*build)(struct lf *f);
	uint8_t seen;
} seeds[] = {
	{ "ack", ack, 0 },
	{ "ack-partial", ack, SEEN_CSUM_PARTIAL },
	{ "ack-tagged", ack_tagged, 0 },
	{ "ack-no-udp-checksum", ack_no_udp_checksum, 0 },
	{ "nak", lf_dhcp_nak, 0 },
	{ "release", lf_dhcp_release, SEEN_FROM_GUEST },
	{ "arp", lf_arp_reply, SEEN_FROM_GUEST },
	{ "na", lf_na, SEEN_FROM_GUEST },
	{ "na-partial", lf_na, SEEN_FROM_GUEST | SEEN_CSUM_PARTIAL },
};

int main(int argc, char **argv)
{
	struct lf f;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		seeds[i].build(&f);
		r = write_seed(argv[1], seeds[i].name, seeds[i].seen, &f);
		if (r < 0) {
			fprintf(stderr, "%s: %s/%s: cannot write it (errno %d)\n", argv[0], argv[1],
				seeds[i].name, -r);
			return 1;
		}
	}
	return 0;
}
