/*
 * The system PTE region's index of its own live reservations by start page (mm/syspte_index.c):
 * an open-addressed hash table whose slots are the records themselves, so a free finds its
 * reservation in the one cache line its start hashes to. Private to the region (included by
 * mm/syspte_impl.h). Design and alternatives: docs/design.md, "Reservations and their one index".
 *
 *  - Linear probing from a start's home slot (Fibonacci hashing); an empty slot has npages 0.
 *    Removal shifts the following entries of the cluster back (no tombstones), so a probe ends at
 *    the first empty slot and probe lengths never degrade with churn.
 *  - The table grows by doubling (a rehash under the region's lock) before an insert would take it
 *    beyond its capacity (syspte_index_cap: an eighth of its slots up to 256 KiB and a quarter up
 *    to 1 MiB, while it is small enough to stay in the caches, where a sparser table mispredicts
 *    fewer probes; half above, where its size decides), and halves when a removal leaves it under
 *    half the capacity of the smaller table: its memory follows the live reservations, not the
 *    region's pages. Nothing is allocated up front but the top level below (one byte per 512 to
 *    1024 region pages).
 *  - Slots live in pages of their own, found through two levels: a directory page holds the
 *    addresses of SYSPTE_INDEX_DIR_SPAN slot pages, and a top array in the region's metadata
 *    (two halves: the current table's and the one a rehash builds) those of the directory pages.
 *    No allocation needs more than one physically contiguous page.
 *  - Entries move (rehash, backward shift): a record pointer from syspte_index_find is valid
 *    until the next insert or removal. Callers read or change the record under the region's lock
 *    and keep no pointer past a change of the index; the per-CPU caches keep records of their own
 *    (in their chunks' states) and copy them in and out (mm/syspte_cache.c).
 *
 * Locking: the region's lock guards the index; these functions are called with it held.
 */
#ifndef SYSPTE_INDEX_H
#define SYSPTE_INDEX_H

#include "types.h"
#include "kassert.h"

/* One live reservation: a slot of the region's index, or a record of a CPU's cache. Page counts
 * and indices fit 31 bits (a region has at most BUDDY_MAX_PAGES pages), so a record is 16 bytes:
 * four to a cache line, none across one. The flags are bits of their own (syspte_resv_flags). */
struct syspte_resv {
	union {
		struct {
			uint32_t start;          /* page index in the region */
			uint32_t npages : 31;    /* pages asked for (the guard page not included); 0: an empty slot */
			uint32_t divisible : 1;  /* SYSPTE_FLAG_DIVISIBLE */
			uint32_t mapped : 31;    /* pages with a present PTE */
			uint32_t guard : 1;      /* SYSPTE_FLAG_GUARD: a verifier guard page follows */
			uint32_t tag;
		};
		uint32_t word[4];                /* the fields above as the compiler lays them out: start,
						    npages | divisible << 31, mapped | guard << 31, tag
						    (syspte_resv_make builds a record from them in one go;
						    test_syspte_index checks the layout) */
		uint64_t pair[2];                /* words 0 and 1, 2 and 3 (little-endian): syspte_resv_fill
						    writes a record in two stores */
	};
};
_Static_assert(sizeof(struct syspte_resv) == 16, "four records a cache line, none across one");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pair[] holds word[] little-endian");
/* In word[1] and word[2]: the count (npages, mapped) below, the flag (divisible, guard) at the top. */
#define SYSPTE_RESV_COUNT_MASK 0x7fffffffu
#define SYSPTE_RESV_FLAG_SHIFT 31

#define SYSPTE_INDEX_PAGE_SHIFT 8   /* slots a page: PAGE_SIZE / sizeof(struct syspte_resv) */
#define SYSPTE_INDEX_DIR_SHIFT 8    /* slot pages a directory page: their addresses and frames */
#define SYSPTE_INDEX_DIR_SPAN (1u << SYSPTE_INDEX_DIR_SHIFT)
#define SYSPTE_INDEX_MIN_BITS SYSPTE_INDEX_PAGE_SHIFT   /* the smallest table: one slot page */
#define SYSPTE_INDEX_TOP_SHIFT (SYSPTE_INDEX_PAGE_SHIFT + SYSPTE_INDEX_DIR_SHIFT)   /* slots a directory page covers */
#define SYSPTE_INDEX_SLOT_MASK ((1u << SYSPTE_INDEX_PAGE_SHIFT) - 1)
#define SYSPTE_INDEX_HASH 0x9E3779B97F4A7C15ULL   /* 2^64 / the golden ratio: Fibonacci hashing */
#define SYSPTE_INDEX_SPARSE_BITS 14  /* tables of up to 2^14 slots (256 KiB) are filled to an eighth, */
#define SYSPTE_INDEX_DENSE_BITS 16   /* up to 2^16 (1 MiB) to a quarter, larger ones to half */

/* The most entries a table of 2^bits slots holds: the fill trades the probes' mispredicted branches
 * (fewer the emptier the table) against its cache misses (fewer the smaller it is), the first
 * dearer while the table fits a core's caches (docs/design.md, "The table"). */
static inline uint64_t syspte_index_cap(unsigned bits)
{
	return (uint64_t)1 << (bits - (bits <= SYSPTE_INDEX_SPARSE_BITS ? 3 : bits <= SYSPTE_INDEX_DENSE_BITS ? 2 : 1));
}

/* The count under which a table of 2^bits slots halves: half the smaller table's capacity (none
 * for the smallest table). */
static inline uint64_t syspte_index_low(unsigned bits)
{
	return bits > SYSPTE_INDEX_MIN_BITS ? syspte_index_cap(bits - 1) / 2 : 0;
}
_Static_assert(PAGE_SIZE == sizeof(struct syspte_resv) << SYSPTE_INDEX_PAGE_SHIFT, "a slot page");

/* A directory page: the slot pages' addresses, then their frames. */
struct syspte_index_dir {
	struct syspte_resv *page[SYSPTE_INDEX_DIR_SPAN];
	paddr_t pa[SYSPTE_INDEX_DIR_SPAN];
};
_Static_assert(sizeof(struct syspte_index_dir) == PAGE_SIZE, "a directory page");

/* A top entry: a directory page's address and frame. */
struct syspte_index_top {
	struct syspte_index_dir *dir;
	paddr_t pa;
};

struct syspte_index {
	struct syspte_index_top *top;    /* the current table's top level (one of the two halves) */
	struct syspte_index_dir *dir0;   /* top[0].dir: a table of up to 2^SYSPTE_INDEX_TOP_SHIFT slots
					    is found from it with one load less */
	struct syspte_index_top *other;  /* the other half, where a rehash builds the next table */
	uint64_t top_len;                /* entries of each half: enough for the largest table */
	unsigned bits;                   /* 2^bits slots; 0: no table yet */
	unsigned max_bits;               /* the largest table: live reservations never exceed the pages */
	/* Derived from bits at each rehash, so the hot paths do no arithmetic on it: */
	unsigned shift;                  /* 64 - bits: the hash's shift */
	uint64_t mask;                   /* 2^bits - 1: slot numbers wrap with it */
	uint64_t cap;                    /* syspte_index_cap(bits); 0 with no table, so room is one test */
	uint64_t low;                    /* the table halves when a removal leaves fewer entries (lowered
					    after a halving refused for memory: the retry waits) */
	uint64_t count;                  /* entries */
	uint64_t pages;                  /* pages held: slot and directory pages */
	uint64_t grows, shrinks;         /* rehashes, for the reports and tests */
};

/* The home slot of start in a table of 2^bits slots. */
static inline uint64_t syspte_index_hash(uint64_t start, unsigned bits)
{
	return (start * SYSPTE_INDEX_HASH) >> (64 - bits);
}

/* The home slot of start in the current table (which exists). */
static inline uint64_t syspte_index_hash_cur(const struct syspte_index *ix, uint64_t start)
{
	return (start * SYSPTE_INDEX_HASH) >> ix->shift;
}

/* Slot s (< 2^bits) of the current table (which exists). */
static inline struct syspte_resv *syspte_index_cur(const struct syspte_index *ix, uint64_t s)
{
	const struct syspte_index_dir *d = ix->bits <= SYSPTE_INDEX_TOP_SHIFT ? ix->dir0 : ix->top[s >> SYSPTE_INDEX_TOP_SHIFT].dir;
	return d->page[(s >> SYSPTE_INDEX_PAGE_SHIFT) & (SYSPTE_INDEX_DIR_SPAN - 1)] + (s & SYSPTE_INDEX_SLOT_MASK);
}

/* The slot after slot s (now at e) of the current table, s + 1 taken modulo its size: the next
 * one in e's page unless s was a page's last. */
static inline struct syspte_resv *syspte_index_step(const struct syspte_index *ix, uint64_t s, struct syspte_resv *e)
{
	s = (s + 1) & ix->mask;
	return (s & SYSPTE_INDEX_SLOT_MASK) ? e + 1 : syspte_index_cur(ix, s);
}

/* syspte_index_find past the home slot s (at e, neither empty nor start's). */
struct syspte_resv *syspte_index_probe(const struct syspte_index *ix, uint64_t start, uint64_t s, struct syspte_resv *e);

/* The entry of the reservation starting at page start, or NULL; *home says whether it lies in its
 * home slot, which syspte_index_remove_found then knows without hashing again (the home slot inline
 * on the free and lookup paths: at most half full, the table has most entries there). */
static inline struct syspte_resv *syspte_index_find_home(const struct syspte_index *ix, uint64_t start, bool *home)
{
	*home = false;
	if (!ix->bits)
		return NULL;
	uint64_t s = syspte_index_hash_cur(ix, start);
	struct syspte_resv *e = syspte_index_cur(ix, s);
	if (e->start == start && e->npages) {
		*home = true;
		return e;
	}
	return e->npages ? syspte_index_probe(ix, start, s, e) : NULL;
}

/* The entry of the reservation starting at page start, or NULL. */
static inline struct syspte_resv *syspte_index_find(const struct syspte_index *ix, uint64_t start)
{
	bool home;
	return syspte_index_find_home(ix, start, &home);
}

/* Grows the table to hold n more entries (syspte_index_room's slow path). */
bool syspte_index_grow(struct syspte_index *ix, uint64_t n);
/* syspte_index_grow in two steps, for a caller that may still fail after making room and must then
 * change nothing: builds the larger table for n more entries beside the current one and gives its
 * size in *bits (false, nothing changed, when memory is short or the index is at its largest), then
 * either moves the entries into it (commit) or frees it (abort). Only when the table has no room for
 * n more; nothing may read or change the index between the two steps. */
bool syspte_index_grow_prepare(struct syspte_index *ix, uint64_t n, unsigned *bits);
void syspte_index_grow_commit(struct syspte_index *ix, unsigned bits);
void syspte_index_grow_abort(struct syspte_index *ix, unsigned bits);

/* Makes room for n more entries (a rehash into a larger table when they would fill it beyond its
 * capacity); false, nothing changed, when memory is short. */
static inline bool syspte_index_room(struct syspte_index *ix, uint64_t n)
{
	return ix->count + n <= ix->cap || syspte_index_grow(ix, n);
}

/* Bytes of region metadata the index needs for a region of npages pages (its top level's halves). */
size_t syspte_index_meta_bytes(uint64_t npages);
/* Initialises an empty index (no table) over meta (syspte_index_meta_bytes bytes). */
void syspte_index_init(struct syspte_index *ix, uint64_t npages, void *meta);
/* syspte_index_claim past a full home slot: the first empty slot of start's probe. */
struct syspte_resv *syspte_index_claim_probe(const struct syspte_index *ix, uint64_t start);
/* syspte_index_remove's general case: e found in the table, the entries after it shifted back,
 * the table halved when due. */
void syspte_index_remove_shift(struct syspte_index *ix, struct syspte_resv *e);

/* The empty slot an entry of start takes (start has no entry; room made), counted as an entry:
 * the caller fills it with start's record (npages not 0) before the index is read or changed
 * again. Its home slot inline when that is empty: at most half full, the table has most entries
 * there. */
static inline struct syspte_resv *syspte_index_claim(struct syspte_index *ix, uint64_t start)
{
	KASSERT(ix->count < ix->cap, "syspte_index: insert with no room made");
	struct syspte_resv *e = syspte_index_cur(ix, syspte_index_hash_cur(ix, start));
	if (e->npages)
		e = syspte_index_claim_probe(ix, start);
	ix->count++;
	return e;
}

/* Enters a copy of v (whose start has no entry; room made) and returns where it lies. */
static inline struct syspte_resv *syspte_index_insert(struct syspte_index *ix, const struct syspte_resv *v)
{
	KASSERT(v->npages, "syspte_index: an entry of no pages");
	struct syspte_resv *e = syspte_index_claim(ix, v->start);
	*e = *v;
	return e;
}

/* syspte_index_remove of an entry syspte_index_find_home returned (home: what it said), the index
 * unchanged since: inline when e is its home slot, not the last of its slot page (the pages are
 * page aligned), the slot after it is empty, and no halving is due. */
static inline void syspte_index_remove_found(struct syspte_index *ix, struct syspte_resv *e, bool home)
{
	if (!home || !((uintptr_t)(e + 1) & PAGE_MASK) || e[1].npages || ix->count <= ix->low) {
		syspte_index_remove_shift(ix, e);
		return;
	}
	*e = (struct syspte_resv){ .npages = 0 };
	ix->count--;
}
/* Removes entry e (from syspte_index_find), shifting the entries after it back; the table halves
 * when it is left under half the smaller table's capacity and memory for that one is there.
 * Inline when nothing moves (syspte_index_remove_found, home checked against the table). */
static inline void syspte_index_remove(struct syspte_index *ix, struct syspte_resv *e)
{
	syspte_index_remove_found(ix, e, syspte_index_cur(ix, syspte_index_hash_cur(ix, e->start)) == e);
}
/* The home slot of a start page in the current table (tests force collisions with it). */
uint64_t syspte_index_home(const struct syspte_index *ix, uint64_t start);
/* The slot at position s < 2^bits. */
struct syspte_resv *syspte_index_slot(const struct syspte_index *ix, uint64_t s);
/* The index's invariants: every entry reachable from its home with no empty slot between, no
 * start twice, the count and the pages held right. Calls fn for each entry (in slot order) so the
 * caller can match them with its own structures; 0, or -1 after printing the first violation. */
int syspte_index_check(const struct syspte_index *ix, int (*fn)(const struct syspte_resv *, void *), void *arg);

#endif
