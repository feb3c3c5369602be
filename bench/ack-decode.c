// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What reading one Ack costs cokeeperd: N Ack frames, as an agent writes them (the
 * daemon's epoch is a random 64-bit number), through ck_frame_decoder_feed(), one feed per
 * frame.  Count it under callgrind, decode_all alone (bench/RESULTS.md, issue 19):
 *
 *   valgrind --tool=callgrind --toggle-collect=decode_all build/bench/ack-decode
 */
#include <stdio.h>
#include <stdlib.h>

#include "frame.h"

enum { N = 1000 };
static uint8_t *frames[N];
static size_t lens[N];

static int on_ack(struct ck_msg *msg, void *userdata)
{
	if (msg->type != CK_MSG_ACK)
		abort();
	(*(size_t *)userdata)++;
	return 0;
}

size_t decode_all(struct ck_frame_decoder *dec);

__attribute__((noinline)) size_t decode_all(struct ck_frame_decoder *dec)
{
	size_t acks = 0;

	for (size_t i = 0; i < N; i++)
		if (ck_frame_decoder_feed(dec, frames[i], lens[i], on_ack, &acks, NULL) < 0)
			abort();
	return acks;
}

int main(void)
{
	struct ck_frame_decoder *dec;

	for (size_t i = 0; i < N; i++) {
		const struct ck_msg ack = {
			.type = CK_MSG_ACK,
			.ack = { .epoch = 0xe7f27a7964da9622ull, .gen = 100000 + i },
		};

		if (ck_frame_encode(&ack, &frames[i], &lens[i]) < 0)
			abort();
	}
	if (ck_frame_decoder_new(&dec) < 0)
		abort();
	printf("%zu Acks decoded\n", decode_all(dec));
	ck_frame_decoder_free(dec);
	for (size_t i = 0; i < N; i++)
		free(frames[i]);
	return 0;
}
