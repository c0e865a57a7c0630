/*
 * bitset_: a bitmap with 64-ary summary levels, so "last set bit at or below i" and "first set bit
 * at or above i" cost a few word operations at any size. Metadata: n/8 bytes plus about 1/64 of
 * that for the summaries; or, chunked (bitset_init_chunked), the summaries and a directory of
 * level-0 chunks of one page (BITSET_CHUNK_BITS bits) the caller installs before setting a bit in
 * one; a missing chunk reads as clear bits. Used by the system PTE region to mark reservation
 * starts. Not locked.
 */
#ifndef BITSET_H
#define BITSET_H

#include "types.h"
#include "kassert.h"
#include "prefetch.h"

#define BITSET_MAX_LEVELS 6
#define BITSET_PIECE_WORDS 512u                          /* a chunk: one page of level-0 words */
#define BITSET_CHUNK_BITS ((uint64_t)BITSET_PIECE_WORDS * 64)

/* What every missing chunk reads: zero words, never written (bitset_check verifies it). */
extern uint64_t bitset_zero_piece[BITSET_PIECE_WORDS];

struct bitset {
	uint64_t nbits;
	uint64_t **piece;                     /* level 0 by chunk: into level[0], or installed pages (chunked) */
	bool chunked;
	uint64_t chunks;                      /* chunks installed */
	unsigned nlevels;
	uint64_t *level[BITSET_MAX_LEVELS];   /* level 0: the bits (NULL when chunked); level l+1: one bit per word of l */
	uint64_t words[BITSET_MAX_LEVELS];
};

/* Bytes bitset_init needs for nbits. */
size_t bitset_meta_bytes(uint64_t nbits);
/* Initialises over meta (bitset_meta_bytes bytes) with every bit clear. */
void bitset_init(struct bitset *s, uint64_t nbits, void *meta);
/* Bytes bitset_init_chunked needs for nbits (its chunks not included). */
size_t bitset_meta_bytes_chunked(uint64_t nbits);
/* Initialises over meta (bitset_meta_bytes_chunked bytes) with every bit clear and no chunk. */
void bitset_init_chunked(struct bitset *s, uint64_t nbits, void *meta);
/* True when bit i (< nbits) has its chunk (always, unless chunked). */
bool bitset_chunk_present(const struct bitset *s, uint64_t i);
/* Installs page (4 KiB zeroed, the caller's for s's lifetime) as the chunk of bit i, which has none. */
void bitset_chunk_install(struct bitset *s, uint64_t i, void *page);
bool bitset_test(const struct bitset *s, uint64_t i);

/* The general cases of the inline functions below (mm/bitset.c): the summary bits of level 1 and
 * up, and a search past level 1. */
void bitset_set_up(struct bitset *s, unsigned l, uint64_t i);
void bitset_clear_up(struct bitset *s, unsigned l, uint64_t i);
uint64_t bitset_prev_far(const struct bitset *s, uint64_t i);

/* Level-0 word w: through the chunk directory, which a flat bitset fills with its own pieces, so
 * both forms read it the same way. */
static inline uint64_t *bitset_word0(const struct bitset *s, uint64_t w)
{
	return &s->piece[w / BITSET_PIECE_WORDS][w % BITSET_PIECE_WORDS];
}

/* Asks for the line of bit i's level-0 word (i < nbits; a missing chunk's is the zero piece),
 * which bitset_set, bitset_clear and bitset_prev read first. */
static inline __attribute__((always_inline)) void bitset_prefetch(const struct bitset *s, uint64_t i)
{
	prefetchw_line(bitset_word0(s, i / 64));
}

/* Sets bit i (< nbits, its chunk installed), and the summary bits of each word it made non-empty
 * (level 1 inline, the levels above in bitset_set_up). */
static inline void bitset_set(struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	uint64_t *p = s->piece[i / BITSET_CHUNK_BITS];
	KASSERT(p != bitset_zero_piece, "bitset: setting bit %llu of a missing chunk", (unsigned long long)i);
	uint64_t w = i / 64, was = p[w % BITSET_PIECE_WORDS];
	p[w % BITSET_PIECE_WORDS] = was | 1ULL << (i % 64);
	if (was || s->nlevels == 1)
		return;
	uint64_t *u = &s->level[1][w / 64], up = *u;
	*u = up | 1ULL << (w % 64);
	if (!up && s->nlevels > 2)
		bitset_set_up(s, 2, w / 64);
}

/* Clears bit i (< nbits), and the summary bits of each word it left empty (level 1 inline). */
static inline void bitset_clear(struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	uint64_t w = i / 64, *p = bitset_word0(s, w);
	if ((*p &= ~(1ULL << (i % 64))) != 0 || s->nlevels == 1)
		return;
	uint64_t *u = &s->level[1][w / 64];
	if ((*u &= ~(1ULL << (w % 64))) == 0 && s->nlevels > 2)
		bitset_clear_up(s, 2, w / 64);
}

/* The highest set bit <= i, or UINT64_MAX when none. Inline when it lies in i's level-0 word or in
 * an earlier word of the same level-1 word (64 words), else bitset_prev_far. */
static inline uint64_t bitset_prev(const struct bitset *s, uint64_t i)
{
	if (i < s->nbits) {
		uint64_t w = i / 64, bits = *bitset_word0(s, w) & (~0ULL >> (63 - i % 64));
		if (bits)
			return (i & ~63ULL) + 63 - (uint64_t)__builtin_clzll(bits);
		if (w % 64 && s->nlevels > 1 && (bits = s->level[1][w / 64] & (~0ULL >> (64 - w % 64)))) {
			w = (w & ~63ULL) + 63 - (uint64_t)__builtin_clzll(bits);
			return w * 64 + 63 - (uint64_t)__builtin_clzll(*bitset_word0(s, w));
		}
	}
	return bitset_prev_far(s, i);
}
/* The lowest set bit >= i, or UINT64_MAX when none (i past the end included). */
uint64_t bitset_next(const struct bitset *s, uint64_t i);
/* Set bits in one word (the kernel links no libgcc, so no __builtin_popcount): a few arithmetic steps. */
uint64_t bitset_popcount(uint64_t x);
/* Number of set bits (a scan of the chunks that exist: for checkers). */
uint64_t bitset_count(const struct bitset *s);
/* Verifies that every summary bit equals "word below is non-zero" (clear over a missing chunk) and
 * that no level has a bit past its end; 0 or -1 with a message. */
int bitset_check(const struct bitset *s);

#endif
