/*
 * The fuzzers' input as a stream of choices (fuzz_phys, fuzz_reserved): each choice takes as many
 * of the next bytes as its range needs, little-endian; an exhausted input gives 0.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

static const uint8_t *fuzz_in;   /* the input's next byte */
static size_t fuzz_in_left;      /* the bytes not drawn yet */

/* Starts drawing from the size bytes at data. */
static inline void fuzz_input_begin(const uint8_t *data, size_t size)
{
	fuzz_in = data;
	fuzz_in_left = size;
}

/* Choice in [0, n) from the next input bytes (as many as n needs, little-endian); 0 once the
 * input is exhausted. */
static inline uint64_t fuzz_draw(uint64_t n)
{
	if (n <= 1)
		return 0;
	uint64_t v = 0, span = n - 1;
	for (unsigned shift = 0; span && fuzz_in_left; shift += 8, span >>= 8, fuzz_in++, fuzz_in_left--)
		v |= (uint64_t)*fuzz_in << shift;
	return v % n;
}

#endif
