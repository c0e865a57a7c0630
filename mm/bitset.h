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
void bitset_set(struct bitset *s, uint64_t i);
void bitset_clear(struct bitset *s, uint64_t i);
bool bitset_test(const struct bitset *s, uint64_t i);
/* The highest set bit <= i, or UINT64_MAX when none. */
uint64_t bitset_prev(const struct bitset *s, uint64_t i);
/* The lowest set bit >= i, or UINT64_MAX when none (i past the end included). */
uint64_t bitset_next(const struct bitset *s, uint64_t i);
/* Number of set bits (a scan of the chunks that exist: for checkers). */
uint64_t bitset_count(const struct bitset *s);
/* Verifies that every summary bit equals "word below is non-zero" (clear over a missing chunk);
 * 0 or -1 with a message. */
int bitset_check(const struct bitset *s);

#endif
