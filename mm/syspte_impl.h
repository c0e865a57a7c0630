/*
 * The system PTE region's private state and the helpers its files share: mm/syspte.c (set-up,
 * reservations and their index), mm/syspte_map.c (PTE writes, mapping and unmapping,
 * the invalidation policy), mm/syspte_report.c (accounting, walks, check(), reports) and
 * mm/syspte_cache.c (the per-CPU caches, mm/syspte_cache.h). Only those files include it, and tests
 * that look inside a region.
 *
 * Locking: r->lock (LOCK_RANK_SYSPTE) guards everything in struct syspte_region but the fields
 * marked constant, which syspte_create sets before the region is published, the region's PTEs, and
 * what the per-CPU caches own (their chunks and the records of the reservations in them), which
 * each cache's lock guards (mm/syspte_cache.h). Functions named *_locked require the region's lock
 * held by this CPU and assert so.
 *
 * The region reads and builds PTEs only through the format's functions (include/arch_pte.h), in
 * the syspte_pte_* helpers below and the map's write loop. It owes TLB invalidations in unmap (an
 * entry per page cleared, one per 2 MiB leaf) and in map (one entry per 2 MiB leaf, which replaces
 * a present pointer to its span's table, and a refused map's undone pages, named as an unmap names
 * them), each call through one batch (include/tlb_batch.h), flushed after the region's lock is
 * released and before the call returns; for a reservation a CPU's cache holds, before that cache's
 * lock is released, on the fast path and on the region's path alike (mm/syspte_map.c).
 */
#ifndef SYSPTE_IMPL_H
#define SYSPTE_IMPL_H

#include "syspte.h"
#include "buddy_impl.h"
#include "bitset.h"
#include "spinlock.h"
#include "arch_mm.h"
#include "arch_pte.h"
#include "bugcheck.h"
#include "syspte_cache.h"
#include "syspte_index.h"
#include "verifier.h"

#define SYSPTE_FLAG_GUARD 0x100u   /* the reservation owns one unmapped page past its end */
#define SYSPTE_PROT(cache) (PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(cache))   /* a mapping's protection */

struct syspte_region {
	spinlock_t lock;
	/* constant after syspte_create */
	struct pt *pt;
	vaddr_t base;
	uint64_t npages;
	uint64_t guard;                  /* pages after each reservation: 1 in verifier mode */
	uint64_t nspans;                 /* 2 MiB spans: npages / SYSPTE_SPAN_PAGES */
	uint64_t span0;                  /* base's span number in the address space (base >> 21) */
	uint64_t **tables;               /* per span: its level-1 table (direct map), NULL until created;
					    the allocator's slot directory: tables[0] is slot0 until span 0 has one */
	paddr_t *table_pa;               /* per span: its level-1 table's physical address, 0 until created */
	volatile pte_t **pd;             /* per 1 GiB of address from base's: the level-2 table, NULL until met */
	uint8_t *span_ready;             /* per span: 1 when its table, its allocator chunk and its start bitmap
					    chunk exist (syspte_span_ready_now), so a reservation there makes none */
	uint64_t meta_bytes, meta_pages;
	pte_t attrs[PT_CACHE_TYPES];     /* a mapping's level-1 PTE attributes by memory type (pt_leaf_attrs of
					    SYSPTE_PROT(type), made once: the pt's features are constant) */
	pte_t attrs2[PT_CACHE_TYPES];    /* and its 2 MiB leaves' (pt_leaf_attrs_level); 0 when the CPU has none */
	/* guarded by the lock */
	struct buddy buddy;
	struct syspte_index index;       /* the region's own live reservations by start (mm/syspte_index.h) */
	struct bitset starts;            /* bit i set iff a reservation of the index starts at page i */
	uint64_t live_count, pages_reserved, pages_mapped;
	uint64_t table_pages, large_leaves;
	uint64_t slot0[2];               /* the record slots of pages 0 and 1 until span 0 has a table */
	struct syspte_caches cache;      /* the per-CPU caches (mm/syspte_cache.h) */
	/* added atomically, by maps under the region's lock or a cache's (syspte_overrides_add) */
	uint64_t overrides[PT_CACHE_TYPES];   /* by the type asked for: pages mapped write-back instead,
						 their frames in the direct map (mm/syspte_map.c) */
};

/* Chunk pages allocated for the region's allocator, not installed yet: at most one per unit a
 * reservation sets bits at (mm/buddy.h: s - 1, s, e - 1, e), and the start bitmap's chunk of s. */
struct syspte_meta_chunks {
	uint64_t unit[4];
	paddr_t page[4];
	unsigned n;
	paddr_t starts_page;   /* 0: none needed */
	uint64_t starts_unit;  /* the start bit it is for */
};

/* True when a run [s, e) taken from the region's allocator needs no metadata chunk: its units s - 1
 * .. e lie in one of the allocator's chunks, which exists, and so does the start bitmap's chunk of
 * s (the common case: syspte_meta_alloc_locked's first test). */
static inline bool syspte_meta_ready(const struct syspte_region *r, uint64_t s, uint64_t e)
{
	uint64_t lo = s ? s - 1 : s, hi = e < r->npages ? e : e - 1;
	return (lo >> BUDDY_CHUNK_SHIFT) == (hi >> BUDDY_CHUNK_SHIFT) && buddy_chunk_here(&r->buddy, lo) &&
	       r->starts.piece[s / BITSET_CHUNK_BITS] != bitset_zero_piece;
}

/* Allocates (not installs) the metadata chunks a run [s, e) taken from the region's allocator
 * needs (mm/buddy.h: its units s - 1, s, e - 1, e; the start bitmap's chunk of s), under the lock;
 * false, nothing kept, when memory is short. Every taker of a run calls it before buddy_take or
 * buddy_alloc, then syspte_meta_install once nothing else can fail, else syspte_meta_drop; later
 * frees inside [s, e) and start bits set there need nothing more. */
bool syspte_meta_alloc_locked(struct syspte_region *r, uint64_t s, uint64_t e, struct syspte_meta_chunks *ch);
void syspte_meta_install(struct syspte_region *r, const struct syspte_meta_chunks *ch);
void syspte_meta_drop(struct syspte_meta_chunks *ch);

/* A misuse found under the lock, raised as bug check 0xDA once it is released. */
struct syspte_misuse {
	uint64_t subcode, p2, p3, p4;
};

/* ---- the region's PTEs, read and marked through the format's functions (include/arch_pte.h)
 *
 * Page i lies in span i / SYSPTE_SPAN_PAGES (the region's base is span aligned). A span has a
 * level-1 table once a reservation needed it (syspte_reserve), and keeps it; its level-2 entry
 * (PDE) then points to that table, or is a 2 MiB leaf mapping the whole span while one mapping
 * covers it (mm/syspte_map.c). A page of a span without a table is not mapped. */

#define SYSPTE_SPAN_PAGES ((uint64_t)PT_ENTRIES)   /* pages one level-1 table maps */
#define SYSPTE_SPAN_SHIFT 9
_Static_assert(SYSPTE_SPAN_PAGES == 1u << SYSPTE_SPAN_SHIFT, "span shift");
_Static_assert(SYSPTE_SPAN_SHIFT == BUDDY_DIR_SHIFT, "the allocator's slot pieces are the spans' tables");

/* True when span s has its level-1 table. */
static inline bool syspte_has_table(const struct syspte_region *r, uint64_t s) { return r->table_pa[s] != 0; }

/* True when every span of pages [i, end) (i < end) has its table: syspte_tables_locked has nothing to do. */
static inline bool syspte_tables_ready(const struct syspte_region *r, uint64_t i, uint64_t end)
{
	for (uint64_t s = i >> SYSPTE_SPAN_SHIFT; s <= (end - 1) >> SYSPTE_SPAN_SHIFT; s++)
		if (!syspte_has_table(r, s))
			return false;
	return true;
}

/* True when span k has its level-1 table, and the allocator's and the start bitmap's chunks of its
 * pages exist (a span lies in one chunk of each): what r->span_ready[k] caches. */
static inline bool syspte_span_ready_now(const struct syspte_region *r, uint64_t k)
{
	uint64_t i = k << SYSPTE_SPAN_SHIFT;
	return syspte_has_table(r, k) && buddy_chunk_here(&r->buddy, i) &&
	       r->starts.piece[i / BITSET_CHUNK_BITS] != bitset_zero_piece;
}

/* True when a run [s, e) taken from the region's allocator, with the tables of pages [s, need)
 * (need >= e), needs nothing made (the common case, tested inline before syspte_meta_alloc_locked
 * and syspte_tables_locked): every span of [s, need) is ready, and the allocator's units s - 1 and
 * e, where they lie in the region, fall in the chunks of s and e - 1 (a chunk boundary at either
 * end takes the general path). */
static inline bool syspte_run_ready(const struct syspte_region *r, uint64_t s, uint64_t e, uint64_t need)
{
	const uint64_t edge = BUDDY_CHUNK_UNITS - 1;
	if ((!(s & edge) && s) || (!(e & edge) && e < r->npages))
		return false;
	for (uint64_t k = s >> SYSPTE_SPAN_SHIFT; k <= (need - 1) >> SYSPTE_SPAN_SHIFT; k++)
		if (!r->span_ready[k])
			return false;
	return true;
}

/*
 * The ready top. The allocator takes a run from the back of its extent, so a region fills from its
 * last page down, and the spans that are ready (their bytes set; a byte is never cleared) form a
 * top that grows downwards: spans k .. nspans - 1, all ready, span k - 1 not (k = 0: every span).
 * The region's allocator keeps k as its ready point (buddy_set_ready_from): the lowest page a run
 * may start at with everything it needs there already, k * SYSPTE_SPAN_PAGES + 1 (the run's page
 * s - 1, whose chunk its take may set a bit in, lies in span k or above), 0 when k = 0, npages + 1
 * when no span is (k = nspans). A run starting at or above it has its units s - 1 .. e in ready
 * spans (so their chunks, a span lying in one chunk of each kind), the start bitmap's chunk of s
 * and the tables of every page after s: syspte_run_ready holds for it whatever its end and need.
 * The reserve path's find takes such a run at once (buddy_find_take), after one comparison; below
 * the top, the region tests the run's spans and edges (syspte_run_ready) and makes what is
 * missing first.
 */
static inline uint64_t syspte_ready_from_span(uint64_t k) { return k ? (k << SYSPTE_SPAN_SHIFT) + 1 : 0; }

/* The lowest span of the ready top whose ready point is ready_from (nspans: none). */
static inline uint64_t syspte_ready_span(uint64_t ready_from)
{
	return ready_from ? (ready_from - 1) >> SYSPTE_SPAN_SHIFT : 0;
}

/* The lowest span of the ready top when spans k .. nspans - 1 are known ready: k, lowered past the
 * ready spans just below it. */
static inline uint64_t syspte_ready_down(const struct syspte_region *r, uint64_t k)
{
	while (k > 0 && r->span_ready[k - 1])
		k--;
	return k;
}

/* The ready point the span bytes give (for syspte_check; O(spans of the top)). */
static inline uint64_t syspte_ready_top_of(const struct syspte_region *r)
{
	return syspte_ready_from_span(syspte_ready_down(r, r->nspans));
}

/* The level-2 entry of span s (which has its table): span s is entry (base's entry + s) from the
 * level-2 table of base's 1 GiB, counted on through the next ones. */
static inline volatile pte_t *syspte_pde(const struct syspte_region *r, uint64_t s)
{
	uint64_t a = (r->span0 & (PT_ENTRIES - 1)) + s;
	return r->pd[a >> SYSPTE_SPAN_SHIFT] + (a & (PT_ENTRIES - 1));
}

/* The region's count of 2 MiB leaves, read where the region's lock may not be held: a map or
 * unmap of a cached reservation runs under its cache's lock alone, and its span (which holds an
 * owned chunk, so no reservation of a span's size) never has a leaf, so what it reads only tells it
 * whether to look at its span's level-2 entry, which then points to the span's table. Written with
 * syspte_leaves_add, under the region's lock. */
static inline uint64_t syspte_leaves_now(const struct syspte_region *r)
{
	return __atomic_load_n(&r->large_leaves, __ATOMIC_RELAXED);
}

/* Adds delta to the region's count of 2 MiB leaves (region's lock held: the one writer). */
static inline void syspte_leaves_add(struct syspte_region *r, int64_t delta)
{
	__atomic_store_n(&r->large_leaves, syspte_leaves_now(r) + (uint64_t)delta, __ATOMIC_RELAXED);
}

/* Counts n pages a map of memory type cache wrote write-back instead, their frames being RAM the
 * direct map holds (mm/syspte_map.c). A relaxed atomic add: a map of a cached reservation runs
 * under its cache's lock alone, so two maps may add at once. */
static inline void syspte_overrides_add(struct syspte_region *r, unsigned cache, uint64_t n)
{
	if (n)
		__atomic_fetch_add(&r->overrides[cache], n, __ATOMIC_RELAXED);
}

/* True when span s is mapped by one 2 MiB leaf. None is while the region counts no leaf
 * (large_leaves, which syspte_check matches against the level-2 entries themselves), so then no
 * entry is read. */
static inline bool syspte_span_leaf(const struct syspte_region *r, uint64_t s)
{
	if (!syspte_leaves_now(r) || !syspte_has_table(r, s))
		return false;
	pte_t d = arch_pte_read(syspte_pde(r, s));
	return arch_pte_present(d) && arch_pte_is_leaf(d, 2);
}

/* The level-1 PTE slot of page i, whose span has its table. */
static inline volatile uint64_t *syspte_slot(const struct syspte_region *r, uint64_t i)
{
	return r->tables[i >> SYSPTE_SPAN_SHIFT] + (i & (SYSPTE_SPAN_PAGES - 1));
}

/* What maps page i: its level-1 PTE, or the 2 MiB leaf of its span (*level 2); 0 (not present)
 * when its span has no table. The level-2 entry is read only while the region counts a leaf. */
static inline pte_t syspte_entry(const struct syspte_region *r, uint64_t i, int *level)
{
	uint64_t s = i >> SYSPTE_SPAN_SHIFT;
	*level = 1;
	if (!syspte_has_table(r, s))
		return 0;
	if (syspte_leaves_now(r)) {
		pte_t d = arch_pte_read(syspte_pde(r, s));
		if (arch_pte_present(d) && arch_pte_is_leaf(d, 2)) {
			*level = 2;
			return d;
		}
	}
	return arch_pte_read(syspte_slot(r, i));
}

/* True when region page i is mapped. */
static inline bool syspte_pte_present(const struct syspte_region *r, uint64_t i)
{
	int level;
	return arch_pte_present(syspte_entry(r, i, &level));
}

/* True when mapped region page i is the first page of a mapping: the mark of its PTE, or of its
 * span's leaf for the span's first page (a mapping never starts inside a leaf). */
static inline bool syspte_pte_map_start(const struct syspte_region *r, uint64_t i)
{
	int level;
	pte_t e = syspte_entry(r, i, &level);
	if (level == 2 && (i & (SYSPTE_SPAN_PAGES - 1)))
		return false;
	return arch_pte_present(e) && arch_pte_map_start(e);
}

/* Marks mapped region page i as the first page of a mapping (in its span's leaf when one maps it). */
static inline void syspte_pte_mark_start(struct syspte_region *r, uint64_t i)
{
	volatile pte_t *slot = syspte_span_leaf(r, i >> SYSPTE_SPAN_SHIFT) ? syspte_pde(r, i >> SYSPTE_SPAN_SHIFT)
									     : syspte_slot(r, i);
	arch_pte_write(slot, arch_pte_set_map_start(arch_pte_read(slot)));
}

/* The first mapped page of [i, end), or end: a span at a time (a span without a table, or mapped by
 * a leaf, in one step). */
static inline uint64_t syspte_first_present(const struct syspte_region *r, uint64_t i, uint64_t end)
{
	while (i < end) {
		uint64_t s = i >> SYSPTE_SPAN_SHIFT, stop = MIN(end, (s + 1) << SYSPTE_SPAN_SHIFT);
		if (syspte_span_leaf(r, s))
			return i;
		if (syspte_has_table(r, s))
			for (; i < stop; i++)
				if (arch_pte_present(arch_pte_read(syspte_slot(r, i))))
					return i;
		i = stop;
	}
	return end;
}

/* The first page of [i, end) that is not mapped, or end (a span at a time, as above). */
static inline uint64_t syspte_first_absent(const struct syspte_region *r, uint64_t i, uint64_t end)
{
	while (i < end) {
		uint64_t s = i >> SYSPTE_SPAN_SHIFT, stop = MIN(end, (s + 1) << SYSPTE_SPAN_SHIFT);
		if (!syspte_has_table(r, s))
			return i;
		if (!syspte_span_leaf(r, s))
			for (; i < stop; i++)
				if (!arch_pte_present(arch_pte_read(syspte_slot(r, i))))
					return i;
		i = stop;
	}
	return end;
}

/* Mapped pages in [i, end) (a span at a time). */
static inline uint64_t syspte_count_present(const struct syspte_region *r, uint64_t i, uint64_t end)
{
	uint64_t n = 0;
	while (i < end) {
		uint64_t s = i >> SYSPTE_SPAN_SHIFT, stop = MIN(end, (s + 1) << SYSPTE_SPAN_SHIFT);
		if (syspte_span_leaf(r, s))
			n += stop - i;
		else if (syspte_has_table(r, s))
			for (uint64_t k = i; k < stop; k++)
				n += arch_pte_present(arch_pte_read(syspte_slot(r, k)));
		i = stop;
	}
	return n;
}

/* syspte_in_region inline, for the region's own paths: va lies inside the region. */
static inline bool syspte_inside(const struct syspte_region *r, vaddr_t va)
{
	return va >= r->base && ((va - r->base) >> PAGE_SHIFT) < r->npages;
}

/* The address of region page i. */
static inline vaddr_t syspte_va(const struct syspte_region *r, uint64_t i) { return r->base + (i << PAGE_SHIFT); }

/* Pages the allocator gave a reservation: its own plus the verifier's guard page. */
static inline uint64_t syspte_span(const struct syspte_resv *v) { return (uint64_t)v->npages + v->guard; }

/* The flags of a record whose second and third words are w1 and w2: divisible and guard are
 * their top bits. */
static inline uint32_t syspte_resv_flags_of(uint32_t w1, uint32_t w2)
{
	_Static_assert(SYSPTE_FLAG_DIVISIBLE == 1u << 0 && SYSPTE_FLAG_GUARD == 1u << 8, "the flags' bits");
	return (w1 >> SYSPTE_RESV_FLAG_SHIFT) | (w2 >> SYSPTE_RESV_FLAG_SHIFT << 8);
}

/* A record's flags as the caller gave them, SYSPTE_FLAG_GUARD added when it has a guard page. */
static inline uint32_t syspte_resv_flags(const struct syspte_resv *v)
{
	return syspte_resv_flags_of(v->word[1], v->word[2]);
}

/* A record of npages (< 2^31) pages at page start (< 2^31); guard: a guard page follows. */
static inline struct syspte_resv syspte_resv_make(uint64_t start, uint64_t npages, uint32_t tag, uint32_t flags, bool guard)
{
	return (struct syspte_resv){ .word = { (uint32_t)start,
					       ((uint32_t)npages & SYSPTE_RESV_COUNT_MASK) |
						       (uint32_t)!!(flags & SYSPTE_FLAG_DIVISIBLE) << SYSPTE_RESV_FLAG_SHIFT,
					       (uint32_t)guard << SYSPTE_RESV_FLAG_SHIFT, tag } };
}

/* Writes a record of npages (1 .. 2^31 - 1) pages at page start (< 2^31) into e word by word: the
 * record syspte_resv_make builds, where it lives. */
static inline void syspte_resv_fill(struct syspte_resv *e, uint64_t start, uint64_t npages, uint32_t tag, uint32_t flags,
				    bool guard)
{
	uint32_t w1 = ((uint32_t)npages & SYSPTE_RESV_COUNT_MASK) |
		      (uint32_t)!!(flags & SYSPTE_FLAG_DIVISIBLE) << SYSPTE_RESV_FLAG_SHIFT;
	e->pair[0] = (uint32_t)start | (uint64_t)w1 << 32;
	e->pair[1] = ((uint32_t)guard << SYSPTE_RESV_FLAG_SHIFT) | (uint64_t)tag << 32;
}

/* Adds delta pages (negative: takes them away) to v's mapped count with one add on its word: the
 * map's and unmap's checks keep the count within [0, npages], below the guard bit above it. */
static inline void syspte_resv_mapped_add(struct syspte_resv *v, int64_t delta)
{
	v->word[2] += (uint32_t)delta;
}

/* What a caller may know of a record. */
static inline void syspte_fill_info(const struct syspte_region *r, const struct syspte_resv *v, struct syspte_info *out)
{
	uint32_t w1 = v->word[1], w2 = v->word[2];   /* npages and mapped with the flags' bits, read once */
	*out = (struct syspte_info){ syspte_va(r, v->start), w1 & SYSPTE_RESV_COUNT_MASK, w2 & SYSPTE_RESV_COUNT_MASK, v->tag,
				     syspte_resv_flags_of(w1, w2) };
}

/* ---- the per-CPU caches' part of the lookups (mm/syspte_cache.c), inline on the region's paths */

/* True when the region's caches place and adopt reservations of npages pages (its guard besides). */
static inline bool syspte_cache_sized(const struct syspte_region *r, uint64_t npages)
{
	return npages <= SYSPTE_CACHE_MAX_PAGES && r->cache.on;
}

/* The owner of the chunk holding region page i (< npages): 0 (none, or caches off) or its CPU + 1.
 * Acquire: the owner's cache is published before. Exact under the region's lock (an owner changes
 * under it); without it, a hint a fast path checks again under the cache's lock. */
static inline unsigned syspte_cache_owner_page(const struct syspte_region *r, uint64_t i)
{
	return r->cache.on ? __atomic_load_n(&r->cache.owner[i >> SYSPTE_CHUNK_SHIFT], __ATOMIC_ACQUIRE) : 0;
}

/* Releases what h holds (region's lock held). */
static inline void syspte_unhold_locked(struct syspte_region *r, struct syspte_hold *h)
{
	spin_assert_held(&r->lock);
	if (h->cache)
		spin_unlock(&h->cache->lock, h->flags);
	h->cache = NULL;
}

/* ---- shared between the files */

/* The record whose reservation starts at page index start, or NULL (mm/syspte.c). A record of the
 * region's index is valid until the index changes (an insert or removal: mm/syspte_index.h). */
struct syspte_resv *syspte_find_start_locked(struct syspte_region *r, uint64_t start);

/* The reservation containing va and va's page index in *i; NULL when in none. When va lies in a
 * chunk of a CPU's cache, that cache's lock is taken into h, so the record stays as it is until the
 * caller releases h (syspte_unhold_locked) before its own lock. Always inline: map, unmap and
 * lookup find their reservation with it. */
static inline __attribute__((always_inline)) struct syspte_resv *
syspte_resv_at_locked(struct syspte_region *r, vaddr_t va, uint64_t *i, struct syspte_hold *h)
{
	spin_assert_held(&r->lock);
	h->cache = NULL;
	if (!syspte_inside(r, va)) {
		*i = 0;
		return NULL;
	}
	uint64_t p = (va - r->base) >> PAGE_SHIFT;
	*i = p;
	if (syspte_cache_owner_page(r, p))   /* a cached chunk holds no reservation of the region's own */
		return syspte_cache_resv_at_locked(r, p, h);
	uint64_t s = bitset_prev(&r->starts, p);   /* the last start at or before page p */
	if (s == UINT64_MAX)
		return NULL;
	struct syspte_resv *v = syspte_index_find(&r->index, s);
	KASSERT(v, "start bit %llu without a record", (unsigned long long)s);
	return p < s + v->npages ? v : NULL;   /* v->start is s */
}

/* Fills a misuse report and returns SYSPTE_MISUSE. */
int syspte_misuse(struct syspte_misuse *m, uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4);
/* Raises the misuse as bug check 0xDA (lock released). */
void syspte_raise(const struct syspte_misuse *m);
/* syspte_check with the lock held (mm/syspte_report.c). */
int syspte_check_locked(struct syspte_region *r);
/* In verifier mode, checks every invariant after an operation (syspte_check_locked, which asserts
 * the lock); inline, so every call out of verifier mode is one test. */
static inline void syspte_verify_locked(struct syspte_region *r)
{
	if (mm_verifier)
		KASSERT(syspte_check_locked(r) == 0, "verifier: system PTE region inconsistent");
}
/* The next live record at or after page index i, in address order, or NULL, the caches' included
 * (frozen: syspte_cache_freeze_locked) (mm/syspte.c). */
struct syspte_resv *syspte_next_locked(struct syspte_region *r, uint64_t i);
/* Enters a copy of a filled record into the region's own index (its table and start bitmap) and
 * totals, room made (syspte_index_room); returns the entry. */
static inline struct syspte_resv *syspte_link_locked(struct syspte_region *r, const struct syspte_resv *v)
{
	spin_assert_held(&r->lock);
	bitset_set(&r->starts, v->start);
	r->live_count++;
	r->pages_reserved += v->npages;
	return syspte_index_insert(&r->index, v);
}

/* syspte_link_locked of a new record of npages (1 .. 2^31 - 1) pages at page start, filled in its
 * slot (syspte_resv_fill); for a caller that asserted the region's lock itself
 * (syspte_reserve_locked), so the reserve path makes that check once. */
static inline __attribute__((always_inline)) void syspte_link_new(struct syspte_region *r, uint64_t start,
								      uint64_t npages, uint32_t tag, uint32_t flags)
{
	KASSERT(npages, "syspte: a record of no pages");
	bitset_set(&r->starts, start);
	r->live_count++;
	r->pages_reserved += npages;
	syspte_resv_fill(syspte_index_claim(&r->index, start), start, npages, tag, flags, r->guard != 0);
}

/* Removes an entry of the region's own index from it and the totals (the entry and every other
 * record pointer into the index are stale after it). */
static inline void syspte_unlink_locked(struct syspte_region *r, struct syspte_resv *e)
{
	spin_assert_held(&r->lock);
	bitset_clear(&r->starts, e->start);
	r->live_count--;
	r->pages_reserved -= e->npages;
	syspte_index_remove(&r->index, e);
}

/* syspte_unlink_locked of an entry syspte_index_find_home returned (home: what it said), the index
 * unchanged since; for a caller that asserted the region's lock itself (syspte_release_locked), so
 * the free path makes that check once. */
static inline void syspte_unlink_found(struct syspte_region *r, struct syspte_resv *e, bool home)
{
	bitset_clear(&r->starts, e->start);
	r->live_count--;
	r->pages_reserved -= e->npages;
	syspte_index_remove_found(&r->index, e, home);
}
/* True when the 512 frames from pfns are one run starting on a 2 MiB frame: what one 2 MiB leaf
 * maps (mm/syspte_map.c; tests/bench/bench_map.c times it as the leaf's floor). */
bool syspte_frames_large(const uint64_t *pfns);
/* Creates the level-1 tables pages [i, end) need, all or nothing; false, nothing changed, when
 * memory is short (mm/syspte.c). */
bool syspte_tables_locked(struct syspte_region *r, uint64_t i, uint64_t end);

#endif
