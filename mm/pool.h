/*
 * pool_: the nonpaged pool behind ExAllocatePoolWithTag / ExFreePoolWithTag / ExFreePool (include/wdm.h),
 * built on the physical page allocator; every address it returns lies in the direct map
 * (arch_phys_to_virt), so pool memory is always mapped and never pages.
 *
 * Design:
 *  - Small blocks (1 .. POOL_SMALL_MAX bytes) come from size classes (16, 32, 64, 128, 256, 512,
 *    1024, 2016 bytes). Each slab is one page: a 32-byte slab header (magic bound to the page's
 *    physical address, class, free count, free list) followed by blocks of a 16-byte block header
 *    (state, tag, requested size) and the data. Data is 16-byte aligned and never page aligned.
 *  - Large blocks (> POOL_SMALL_MAX) are whole contiguous pages from phys_alloc, page aligned, with a
 *    side record (address, pages, bytes, tag) in a hash table; the records are small pool blocks.
 *  - Slabs with free blocks and full slabs sit on two lists per class; one empty slab per class is
 *    kept for reuse, others go back to the physical allocator at once (pool_trim returns all).
 *  - Per-tag accounting like poolmon: allocations, frees, bytes live (bytes asked for).
 *  - One spinlock (interrupts disabled) guards everything; bug checks are raised after it is
 *    dropped, and every misuse is detected before anything changes.
 *
 * Misuse of ExFreePool[WithTag] is bug check 0xC2 BAD_POOL_CALLER with P1 one of POOL_BUGCHECK_*
 * (mm/bugcheck_codes.h); a block or slab header no pool call wrote (an overrun, a write after free)
 * is 0x19 BAD_POOL_HEADER, raised by the free, the allocation or the trim that reads it (a slab's
 * free count lowered is read by none: pool_check finds it, docs/contract.md). Slab pages
 * and large blocks come from the physical allocator under their own owners (phys_alloc_owned): a
 * slab page whose header an overrun reached is still known as one, and MmFreePagesFromMdl cannot
 * free pool pages.
 * Allocation bug-checks only on such a header: it returns NULL for 0 bytes, an unknown pool type,
 * or no memory.
 */
#ifndef POOL_H
#define POOL_H

#include "types.h"

/* A tag from its four characters in memory order: POOL_TAG4('M','d','l',' ') shows as "Mdl ". */
#define POOL_TAG4(a, b, c, d) \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | (uint32_t)(uint8_t)(d) << 24)

#define POOL_ALIGN 16u            /* every block's data is aligned to this */
#define POOL_SMALL_MAX 2016u      /* largest request served from a slab; larger ones take whole pages */
#define POOL_CLASSES 8u           /* small size classes */

struct pool_tag_total {
	uint32_t tag;
	uint64_t allocs;      /* successful allocations since boot */
	uint64_t frees;       /* frees since boot */
	uint64_t bytes_live;  /* bytes asked for by the blocks still allocated */
};

struct pool_stats {
	uint64_t slab_pages;     /* pages held as slabs (including kept empty ones) */
	uint64_t empty_slabs;    /* slabs with no block allocated, kept for reuse */
	uint64_t small_live;     /* small blocks allocated (caller blocks, not internal records) */
	uint64_t large_live;     /* large blocks allocated */
	uint64_t large_pages;    /* pages held by large blocks */
	uint64_t bytes_live;     /* bytes asked for by all live blocks */
	uint64_t allocs, frees;  /* totals since boot */
	uint64_t failures;       /* allocations refused for lack of memory */
	uint64_t untracked_tags; /* allocations accounted to no tag because the tag table was full */
};

/* Allocates n (>= 1) bytes tagged tag; NULL when n is 0 or memory runs out. 16-byte aligned. */
void *pool_alloc(size_t n, uint32_t tag);
/* Frees p; check_tag compares tag with the allocator's. Misuse: bug check 0xC2 (state unchanged). */
void pool_free(void *p, uint32_t tag, bool check_tag);
/* True when p is a live pool block (as returned by pool_alloc); then its size asked for and tag
 * (either pointer may be NULL). Never bug-checks. */
bool pool_block_info(const void *p, size_t *size, uint32_t *tag);

/* Returns every kept empty slab to the physical allocator; returns the pages released. A slab whose
 * header was overwritten ends its class's walk (kept) and raises 0x19 0x03 after the lock is dropped. */
uint64_t pool_trim(void);
/* Forgets all pool state, as at boot, handing nothing back (the machine's memory is being replaced). */
void pool_reset(void);
void pool_get_stats(struct pool_stats *st);
/* Fills at most max per-tag totals sorted by tag; returns the number of tags ever used. */
size_t pool_tag_totals(struct pool_tag_total *out, size_t max);
/* The totals of one tag; false when the tag was never used. */
bool pool_tag_get(uint32_t tag, struct pool_tag_total *out);
/* Verifies every invariant (slab headers, free lists, block states, large records, totals);
 * returns the number of violations (the first few printed). */
uint64_t pool_check(void);
/* Prints the classes, the large blocks count and the per-tag table. */
void pool_dump(void);

#endif
