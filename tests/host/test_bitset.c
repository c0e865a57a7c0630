/*
 * mm/bitset.c against a plain array: for sizes around every level boundary, random sets and clears,
 * then bitset_prev and bitset_next at every index (and past the end), bitset_count, bitset_check;
 * flat, and chunked with a random half of the chunks installed (bits set only in those); then
 * bitset_check against corruptions (test_corruption).
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

/* Sets bit i of summary level l and the bits above it (a corruption the levels above agree with). */
static void poke_summary(struct bitset *s, unsigned l, uint64_t i)
{
	for (; l < s->nlevels; l++, i /= 64)
		s->level[l][i / 64] |= 1ULL << (i % 64);
}

/*
 * bitset_check against corruptions, each on a fresh bitset of three summary words (192 level-0
 * words and more) with a few legitimate bits: a level-0 bit under a clear summary word (flat, and
 * in an installed chunk right after a missing one), a summary bit over an empty word (flat, and
 * over a missing chunk), a bit past the end, a write to the zero piece; and the chunked form's
 * metadata is the summaries and the directory alone.
 */
static void test_corruption(void)
{
	const uint64_t n = 3 * BITSET_CHUNK_BITS + 100;   /* 1538 level-0 words, 25 level-1 words */
	static const uint64_t flat_words[] = { 128, 133, 191, 640, 1000, 1537 };
	struct bitset s;
	void *meta = malloc(bitset_meta_bytes(n)), *cmeta = malloc(bitset_meta_bytes_chunked(n));
	void *page = aligned_alloc(4096, 4096);
	unsigned caught = 0, tried = 0;
	bool clean = true;

	for (unsigned k = 0; k < sizeof(flat_words) / sizeof(flat_words[0]); k++, tried += 2) {
		bitset_init(&s, n, meta);
		bitset_set(&s, 5);
		bitset_set(&s, 64 * 64 * 5 + 3);   /* summary word 1 of level 1 non-empty */
		clean &= bitset_check(&s) == 0;
		*bitset_word0(&s, flat_words[k]) |= 1ULL << 7;   /* a bit without its summary */
		caught += bitset_check(&s) != 0;
		*bitset_word0(&s, flat_words[k]) &= ~(1ULL << 7);
		poke_summary(&s, 1, flat_words[k]);   /* a summary without its bit */
		caught += bitset_check(&s) != 0;
	}
	bitset_init(&s, n, meta);
	*bitset_word0(&s, n / 64) |= 1ULL << (n % 64);   /* past the end, in the last word */
	caught += bitset_check(&s) != 0, tried++;

	/* chunked: chunk 0 missing, chunk 1 installed */
	static const uint64_t chunk_words[] = { BITSET_PIECE_WORDS, BITSET_PIECE_WORDS + 1, BITSET_PIECE_WORDS + 63,
						2 * BITSET_PIECE_WORDS - 1 };
	for (unsigned k = 0; k < sizeof(chunk_words) / sizeof(chunk_words[0]); k++, tried++) {
		bitset_init_chunked(&s, n, cmeta);
		memset(page, 0, 4096);
		bitset_chunk_install(&s, BITSET_CHUNK_BITS, page);
		bitset_set(&s, BITSET_CHUNK_BITS + 64 * 100);
		clean &= bitset_check(&s) == 0;
		*bitset_word0(&s, chunk_words[k]) |= 1ULL << 1;
		caught += bitset_check(&s) != 0;
	}
	static const uint64_t missing_words[] = { 0, 5, 64, 64 * 3 + 40, BITSET_PIECE_WORDS - 1, 2 * BITSET_PIECE_WORDS + 70 };
	for (unsigned k = 0; k < sizeof(missing_words) / sizeof(missing_words[0]); k++, tried++) {
		bitset_init_chunked(&s, n, cmeta);
		memset(page, 0, 4096);
		bitset_chunk_install(&s, BITSET_CHUNK_BITS, page);
		poke_summary(&s, 1, missing_words[k]);   /* over a missing chunk */
		caught += bitset_check(&s) != 0;
	}
	bitset_init_chunked(&s, n, cmeta);
	bitset_zero_piece[9] = 2;
	caught += bitset_check(&s) != 0, tried++;
	bitset_zero_piece[9] = 0;
	clean &= bitset_check(&s) == 0;
	ok(clean && caught == tried, "bitset_check catches %u of %u corruptions: bits without their summary (flat, and "
	   "after a missing chunk), summaries without their bits (flat, over a missing chunk), a bit past the end, the "
	   "zero piece written", caught, tried);
	ok(bitset_meta_bytes_chunked(1ull << 22) * 50 < bitset_meta_bytes(1ull << 22),
	   "chunked metadata of 4M bits: %zu bytes, flat %zu", bitset_meta_bytes_chunked(1ull << 22),
	   bitset_meta_bytes(1ull << 22));
	free(page);
	free(meta);
	free(cmeta);
}

/* bitset_popcount against a count bit by bit: every single bit, every run of low bits, and generated
 * words of every density (a word's bits drawn with probability k/64). */
static void test_popcount(void)
{
	uint64_t rng = 0x243F6A8885A308D3ULL, bad = 0, n = 0;
	for (unsigned k = 0; k <= 64; k++, n += 2) {
		uint64_t run = k == 64 ? ~0ULL : (1ULL << k) - 1;
		bad += bitset_popcount(run) != k;
		bad += k < 64 && bitset_popcount(1ULL << k) != 1;
	}
	for (unsigned k = 0; k <= 64; k++)
		for (int i = 0; i < 200; i++, n++) {
			uint64_t x = 0, want = 0;
			for (unsigned b = 0; b < 64; b++)
				if (test_rng_next(&rng) % 64 < k)
					x |= 1ULL << b, want++;
			bad += bitset_popcount(x) != want;
		}
	is(bad, 0, "bitset_popcount of %llu words (single bits, runs, every density) equals a count bit by bit",
	   (unsigned long long)n);
}

int main(void)
{
	test_popcount();
	test_corruption();
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
