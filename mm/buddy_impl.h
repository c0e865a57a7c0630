/*
 * The buddy allocator's state (contract in mm/buddy.h, representation at the top of mm/buddy.c).
 * Included by the allocator, by the code that embeds a struct buddy (mm/phys.c, the system PTE
 * region), and by tests; everyone else goes through the functions of mm/buddy.h.
 */
#ifndef BUDDY_IMPL_H
#define BUDDY_IMPL_H

#include "buddy.h"
#include "prefetch.h"

#define BUDDY_LEVELS 6                      /* 64-ary summary levels: up to 64^6 = 2^36 bits */
#define BUDDY_CLASSES (4 * BUDDY_ORDERS)    /* free extent size classes (see mm/buddy.c) */
#define BUDDY_PIECE_SHIFT 8                 /* a level-0 piece: 2^8 words of one bitmap */
#define BUDDY_PIECE_WORDS (1u << BUDDY_PIECE_SHIFT)
/* Level 0 of the start and end bitmaps is one array of word pairs: word w of start at 2w, word w
 * of end at 2w + 1, so the two bits a free tests around a short run (end bit s-1, start bit e)
 * and the bits it then moves share a cache line. A bitmap's level-0 words lie BUDDY_BM_STRIDE
 * words apart; only the accessors below and bm_* in mm/buddy.c know it. */
#define BUDDY_BM_STRIDE 2

/* What every missing piece of a chunked bitmap reads: zero words, never written (buddy_check
 * verifies it); a piece spans BUDDY_PIECE_WORDS strided words. */
extern uint64_t buddy_zero_piece[BUDDY_PIECE_WORDS * BUDDY_BM_STRIDE];


struct buddy {
	uint64_t npages;      /* units managed: [0, npages) */
	uint64_t origin;      /* absolute unit number of index 0; divisibility is judged on origin+index */
	uint64_t free_units;  /* units currently free */
	unsigned max_order;   /* largest order that fits in npages */
	void *meta;           /* caller-provided metadata, buddy_meta_bytes(npages) bytes */
	struct buddy_bm {                             /* a bitmap with 64-ary summary levels, in meta */
		uint64_t *lv[BUDDY_LEVELS];           /* level l: bit j set iff word j of level l-1 != 0;
							 lv[0]: the flat level 0 (buddy_init), word w at
							 lv[0][w * BUDDY_BM_STRIDE]; NULL when chunked */
		uint64_t **piece;                     /* level 0 in pieces of BUDDY_PIECE_WORDS words: word w is
							 buddy_bm_word0(bm, w), in piece w >> BUDDY_PIECE_SHIFT;
							 a missing piece is buddy_zero_piece (all zero, never written) */
		uint64_t nb[BUDDY_LEVELS];            /* bits per level */
		unsigned nl;                          /* levels; the top one is one word */
	} start, end;                                 /* a bit at each free extent's first / last unit */
	uint64_t *slots;                              /* flat (buddy_init): unit u's slot is slots[u << slot_shift] */
	unsigned slot_shift;
	uint64_t *const *slot_dir;                    /* chunked (buddy_init_dir): slot_dir[u >> BUDDY_DIR_SHIFT]
							 [u & (BUDDY_DIR_UNITS - 1)] */
	uint64_t head[BUDDY_CLASSES];                 /* first extent of each class list */
	uint64_t count[BUDDY_CLASSES];                /* free extents per class */
	uint64_t hint[BUDDY_CLASSES];                 /* >= the longest free extent of each class */
	uint64_t classmask[2];                        /* bit c set iff count[c] != 0 */
	unsigned nclasses;                            /* classes in use for npages */
	bool chunked;                                 /* buddy_init_dir: level 0 in chunks the caller installs */
	uint64_t ready_from;                          /* buddy_set_ready_from: a run starting at or above it is
							 taken in buddy_find_take (0: flat; npages + 1: none) */
	uint64_t chunks;                              /* chunks installed (buddy_chunk_install) */
	uint64_t probes;      /* test hook: extents the searches examined (phases A and C, bounded scans) */
};

/* Word w of bm's level 0 through its piece directory (either form): the one place outside
 * mm/buddy.c's bm_* that knows the pairing (tests corrupt words through it). */
static inline uint64_t *buddy_bm_word0(const struct buddy_bm *bm, uint64_t w)
{
	return bm->piece[w >> BUDDY_PIECE_SHIFT] + (w & (BUDDY_PIECE_WORDS - 1)) * BUDDY_BM_STRIDE;
}

/* b's ready point (buddy_set_ready_from). */
static inline uint64_t buddy_ready_from(const struct buddy *b) { return b->ready_from; }

/* True when unit u has its chunk (buddy_chunk_present, inline for the region's reserve path). */
static inline bool buddy_chunk_here(const struct buddy *b, uint64_t u)
{
	return b->start.piece[u >> (BUDDY_PIECE_SHIFT + 6)] != buddy_zero_piece;
}

/* Asks for the line of unit u's level-0 word pair (u < npages): its start and end bits, which a
 * free tests at the units around the run (its start word also begins the search to the left). */
static inline __attribute__((always_inline)) void buddy_prefetch_pair(const struct buddy *b, uint64_t u)
{
	prefetchw_line(buddy_bm_word0(&b->start, u >> 6));
}

/* The address of unit u's slot (u < npages) in a chunked allocator, for prefetches only: computed
 * as an integer, so a missing piece (a null directory entry) gives an address nobody reads. */
static inline __attribute__((always_inline)) const void *buddy_slot_hint(const struct buddy *b, uint64_t u)
{
	return (const void *)((uintptr_t)b->slot_dir[u >> BUDDY_DIR_SHIFT] + (u & (BUDDY_DIR_UNITS - 1)) * sizeof(uint64_t));
}

/* Asks, for a write, for the line of unit u's slot in a chunked allocator (u < npages): where a
 * free of a run starting at u writes the new extent's record. A hint, never a fault. */
static inline __attribute__((always_inline)) void buddy_prefetch_slot(const struct buddy *b, uint64_t u)
{
	prefetchw_line(buddy_slot_hint(b, u));
}

#endif
