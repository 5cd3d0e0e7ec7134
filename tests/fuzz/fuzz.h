/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share: the libFuzzer entry point, an input reader,
 * and the one way a target reports a broken promise (abort(), which
 * libFuzzer and the replay driver both report as a finding). */
#ifndef SHPOOL_FUZZ_H
#define SHPOOL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "shpool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzz input, consumed front to back; past its end every read is 0. */
struct fuzz_in {
	const uint8_t *data;
	size_t size, pos;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)(fuzz_u8(in) | fuzz_u8(in) << 8);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

static inline int fuzz_done(const struct fuzz_in *in)
{
	return in->pos >= in->size;
}

#define FUZZ_REQUIRE(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, " (last error: %s)\n", shpool_last_error()); \
			abort(); \
		} \
	} while (0)

#endif
