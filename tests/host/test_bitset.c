/*
 * mm/bitset.c against a plain array: for sizes around every level boundary, random sets and clears,
 * then bitset_prev and bitset_next at every index (and past the end), bitset_count, bitset_check;
 * flat, and chunked with a random half of the chunks installed (bits set only in those).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "bitset.h"
#include "test_rng.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* The model's answers at every index: the last set bit at or below i, the first at or above i,
 * computed in one pass each way. */
static void model_scan(const uint8_t *m, uint64_t n, uint64_t *prev, uint64_t *next)
{
	uint64_t last = UINT64_MAX;
	for (uint64_t k = 0; k < n; k++)
		prev[k] = last = m[k] ? k : last;
	last = UINT64_MAX;
	for (uint64_t k = n; k-- > 0;)
		next[k] = last = m[k] ? k : last;
}

/* Runs one size with the given density of set bits (per mille), flat or chunked; returns the
 * mismatches. */
static uint64_t run(uint64_t n, unsigned density, bool chunked)
{
	struct bitset s;
	void *meta = malloc(chunked ? bitset_meta_bytes_chunked(n) : bitset_meta_bytes(n));
	uint8_t *m = calloc(n, 1);
	uint64_t *prev = malloc(n * sizeof(uint64_t)), *next = malloc(n * sizeof(uint64_t));
	uint64_t nchunks = (n + BITSET_CHUNK_BITS - 1) / BITSET_CHUNK_BITS;
	void **pages = calloc(nchunks, sizeof(void *));
	uint64_t bad = 0, count = 0;
	if (chunked) {
		bitset_init_chunked(&s, n, meta);
		for (uint64_t c = 0; c < nchunks; c++)
			if (draw(2)) {
				pages[c] = calloc(1, 4096);
				bitset_chunk_install(&s, c * BITSET_CHUNK_BITS, pages[c]);
			}
	} else {
		bitset_init(&s, n, meta);
	}
	for (uint64_t k = 0; k < n * 2; k++) {
		uint64_t i = draw(n);
		if (chunked && !pages[i / BITSET_CHUNK_BITS])
			continue;   /* a missing chunk: no bit of it is ever set (nor cleared) */
		bool on = draw(1000) < density;
		if (on)
			bitset_set(&s, i);
		else
			bitset_clear(&s, i);
		m[i] = on;
	}
	for (uint64_t i = 0; i < n; i++)
		count += m[i];
	model_scan(m, n, prev, next);
	for (uint64_t i = 0; i <= n + 64; i++) {
		bad += bitset_prev(&s, i) != prev[i < n ? i : n - 1];
		bad += bitset_next(&s, i) != (i < n ? next[i] : UINT64_MAX);
		if (i < n)
			bad += bitset_test(&s, i) != m[i];
	}
	bad += bitset_count(&s) != count;
	bad += bitset_check(&s) != 0;
	for (uint64_t c = 0; c < nchunks; c++)
		free(pages[c]);
	free(pages);
	free(meta);
	free(m);
	free(prev);
	free(next);
	return bad;
}

int main(void)
{
	static const uint64_t sizes[] = { 1, 2, 63, 64, 65, 127, 4095, 4096, 4097, 262143, 262144, 262145 };
	static const unsigned densities[] = { 0, 1, 30, 500, 1000 };
	for (int chunked = 0; chunked < 2; chunked++)
		for (size_t a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++) {
			uint64_t bad = 0;
			for (size_t d = 0; d < sizeof(densities) / sizeof(densities[0]); d++)
				bad += run(sizes[a], densities[d], chunked);
			is(bad, 0, "%s, %llu bits: prev, next, test and count agree with the model at every index, 5 densities",
			   chunked ? "chunked" : "flat", (unsigned long long)sizes[a]);
		}
	return tap_done();
}
