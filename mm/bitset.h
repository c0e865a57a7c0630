/*
 * bitset_: a bitmap with 64-ary summary levels, so "last set bit at or below i" and "first set bit
 * at or above i" cost a few word operations at any size. Metadata: n/8 bytes plus about 1/64 of
 * that for the summaries. Used by the system PTE region to mark reservation starts (0.13 byte per
 * page). Not locked.
 */
#ifndef BITSET_H
#define BITSET_H

#include "types.h"

#define BITSET_MAX_LEVELS 6

struct bitset {
	uint64_t nbits;
	unsigned nlevels;
	uint64_t *level[BITSET_MAX_LEVELS];   /* level 0: the bits; level l+1: one bit per word of l */
	uint64_t words[BITSET_MAX_LEVELS];
};

/* Bytes bitset_init needs for nbits. */
size_t bitset_meta_bytes(uint64_t nbits);
/* Initialises over meta (bitset_meta_bytes bytes) with every bit clear. */
void bitset_init(struct bitset *s, uint64_t nbits, void *meta);
void bitset_set(struct bitset *s, uint64_t i);
void bitset_clear(struct bitset *s, uint64_t i);
bool bitset_test(const struct bitset *s, uint64_t i);
/* The highest set bit <= i, or UINT64_MAX when none. */
uint64_t bitset_prev(const struct bitset *s, uint64_t i);
/* The lowest set bit >= i, or UINT64_MAX when none (i past the end included). */
uint64_t bitset_next(const struct bitset *s, uint64_t i);
/* Number of set bits (a full scan: for checkers). */
uint64_t bitset_count(const struct bitset *s);
/* Verifies that every summary bit equals "word below is non-zero"; 0 or -1 with a message. */
int bitset_check(const struct bitset *s);

#endif
