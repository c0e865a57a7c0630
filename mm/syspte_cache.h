/*
 * Per-CPU caches of a system PTE region's free space (mm/syspte_cache.c): their state and the hooks
 * the region's other files call. Private to the region (included by mm/syspte_impl.h).
 *
 * Design (docs/design.md, "Per-CPU caches"):
 *  - The region is cut into aligned chunks of SYSPTE_CHUNK_PAGES pages. A CPU's cache owns chunks,
 *    each taken from the region's allocator as one allocation with its page tables (under the
 *    region's lock) and then managed by the cache alone: a word of free bits and a word of start
 *    bits, and the record of each reservation starting in it, in a slot per page of its own.
 *    Reservations of up to SYSPTE_CACHE_MAX_PAGES pages are placed in the running CPU's chunks
 *    (docs/design.md, "The fast path's look": a word of run bounds, a byte per active chunk, picks
 *    the chunk; shifts of its free word place the reservation) and freed into the chunk
 *    they lie in, under that cache's lock alone. A reservation so placed is a real reservation: the
 *    region finds it from any address in three steps, the chunk's owner (a byte per chunk), the
 *    chunk directory (region-wide: per SYSPTE_DIR_LEAF chunks a page of pointers to the owned
 *    ones' states, made when the first is owned, freed when the last is given back), and the
 *    chunk's start bits.
 *  - A cache keeps every chunk until its reservations are freed, so small reservations live out
 *    their lives in the cache however long they live (many of them, with lifetimes mixed, leave
 *    most chunks partly used). A reservation is placed first in one of SYSPTE_CACHE_ACTIVE
 *    "active" chunks; when none has room, a parked chunk with room takes the place of the fullest
 *    active one (under the cache's lock alone): parked chunks lie on lists by their longest free
 *    run, with a mask of the lists in use, so the one with the longest run is found at once
 *    however many a cache owns. Only when no chunk has room is a new one carved (under the
 *    region's lock), up to max_chunks per cache: a sixteenth of the region's, so a cache's
 *    capacity follows the region (its state grows with its chunks, a page at a time). A chunk
 *    goes back to the allocator when it is empty and its cache holds enough empty ones, or in a
 *    drain; a cache at its limit, or refused a page for its growth, leaves what it cannot place
 *    to the allocator.
 *    Where no whole chunk is free, a cache adopts the chunk around a small reservation the
 *    allocator placed, with the reservations that lie wholly inside it.
 *  - A cached reservation's record lives in its chunk's state, in the slot of its first page (valid
 *    while the page's start bit is set), so placing or freeing one moves no record and the fast
 *    paths touch no memory beyond the chunk's state and the cache's. The region's own reservations
 *    live in its index (mm/syspte_index.h), whose entries move: a reservation entering or leaving
 *    a cache is copied between its chunk's slot and the index.
 *  - A cached page counts as free everywhere: statistics, census, walks, the summary screen.
 *  - A reservation the caches and the allocator cannot place is looked for among every free page,
 *    the caches' merged with the allocator's (caches frozen); when a run is there, every cache
 *    whose records the index can take, with room left for the request's, is drained (its chunks
 *    dissolved: live reservations are copied into the region's own index, free pages go back to
 *    the allocator) and the allocator, whose search is exhaustive, places it. So the region
 *    refuses only when no run exists or memory (for the index, a table) is short, and drains only
 *    when that helps.
 *
 * Locking: a cache's lock (rank LOCK_RANK_SYSPTE_CACHE) guards its chunks, records and counters;
 * it ranks after the region's lock, so the region (a new chunk, a drain, a map of a cached
 * reservation while the caches are frozen or its chunk changed owner) takes it inside its own, and
 * the fast paths (reserve, free, and map, unmap and lookup of a cached reservation:
 * syspte_cache_hold) hold it alone. A chunk changes owner only under both locks, so either one fixes
 * the owner of every chunk the holder cares about. Walkers (accounting,
 * check, census) freeze the caches instead of locking them one by one: under the region's lock they
 * raise the freeze count and take and release each cache's lock once; a fast path that then finds
 * the count raised goes to the region's lock, which the walker holds, so no cache changes until
 * the walker is done.
 */
#ifndef SYSPTE_CACHE_H
#define SYSPTE_CACHE_H

#include "types.h"
#include "bitset.h"
#include "spinlock.h"
#include "syspte_index.h"   /* struct syspte_resv: the chunks hold their records */

#define SYSPTE_CHUNK_SHIFT 6
#define SYSPTE_CHUNK_PAGES (1u << SYSPTE_CHUNK_SHIFT)   /* one word of free bits, one of start bits */
#define SYSPTE_CACHE_MAX_PAGES 16u    /* the largest reservation a cache places (its guard page besides) */
#define SYSPTE_CACHE_SHARE 16u        /* a cache may own 1/SYSPTE_CACHE_SHARE of the region's chunks */
#define SYSPTE_CACHE_ACTIVE 8u        /* chunks a reservation is placed in first */
#define SYSPTE_CACHE_CLASSES 64u      /* lists of parked chunks, by their longest free run */
#define SYSPTE_CACHE_EMPTY 63u        /* the class of an empty chunk (others: MIN(longest run, 62)) */
#define SYSPTE_CACHE_TRIES 8u         /* parked chunks a DIVISIBLE request tries before it gives up */
#define SYSPTE_CACHE_EMPTY_KEEP 2u    /* empty chunks a cache keeps; more go back to the allocator */
#define SYSPTE_CACHE_ROOMY 40u        /* pages freed into a cache after a failed search: it searches again */
#define SYSPTE_DIR_SHIFT 9
#define SYSPTE_DIR_LEAF (1u << SYSPTE_DIR_SHIFT)   /* chunks a page of the chunk directory covers */
_Static_assert(SYSPTE_CACHE_EMPTY == SYSPTE_CACHE_CLASSES - 1, "the empty class is the highest");
_Static_assert(SYSPTE_CACHE_MAX_PAGES + 1 < SYSPTE_CACHE_EMPTY - 1, "every span has a class of chunks with room");

_Static_assert(ARCH_MAX_CPUS < 256, "a chunk's owner is one byte: the CPU index + 1");

struct syspte_region;
struct syspte_misuse;

/* A chunk's class while it is active (it is on no list then). */
#define SYSPTE_CHUNK_ACTIVE 0xffu

/* One chunk a cache owns: region pages [index << SYSPTE_CHUNK_SHIFT, + SYSPTE_CHUNK_PAGES). Its
 * header in one cache line, then the records. */
struct syspte_chunk {
	uint64_t index;
	uint64_t free;                               /* bit k: page k is free */
	uint64_t starts;                             /* bit k: a reservation starts at page k */
	uint32_t live;                               /* reservations in the chunk (set bits of starts) */
	uint32_t nfree;                              /* free pages (set bits of free) */
	uint32_t cls;                                /* SYSPTE_CHUNK_ACTIVE, or its parked list */
	uint32_t slot;                               /* its active slot while active */
	struct syspte_chunk *next, *prev;            /* in its parked list; next: in its cache's spare list */
	struct syspte_resv rec[SYSPTE_CHUNK_PAGES] __attribute__((aligned(64)));
						     /* the record of the reservation starting at each
							page: valid where starts has its bit */
};

/* One CPU's cache, in a page of its own (allocated the first time the CPU needs one); its chunks'
 * state in pages of their own, several chunks a page, taken as the cache grows and kept. The first
 * MIN(nchunks, SYSPTE_CACHE_ACTIVE) chunks are active; the others are parked, each on the list of
 * its class: MIN(its longest free run, 62) pages, SYSPTE_CACHE_EMPTY when it is empty. The active
 * slots' run bounds (runs, a byte each) let a reservation pick its chunk with one look at one word:
 * a bound may be high (a reservation leaves it as it was) but never low (a free raises it), and a
 * bound found high (no run of the span asked) drops below that span on the spot. */
struct syspte_cache {
	spinlock_t lock;
	unsigned cpu;                    /* constant: the CPU index it serves */
	unsigned nchunks;                /* chunks owned */
	unsigned nempty;                 /* owned chunks with no reservation */
	unsigned nofit;                  /* the smallest span no chunk had room for lately, or 0 */
	uint64_t nofit_free;             /* free pages when that was found */
	unsigned last;                   /* the active slot that took the last reservation placed */
	uint64_t runs;                   /* byte s: a bound (>=) on the longest free run of active[s]; 0 when unused */
	uint64_t live, pages;            /* reservations in its chunks, and their pages (guards not counted) */
	uint64_t free;                   /* free pages in its chunks */
	uint64_t fast;                   /* reserves and frees done under this lock alone */
	uint64_t mapped;                 /* pages mapped less pages unmapped under this lock alone (modulo
					    2^64): the region's mapped pages are r->pages_mapped plus every
					    cache's, summed with the caches frozen (syspte_cache_totals_locked) */
	struct syspte_chunk *spare;      /* unused chunk states (linked through next) */
	uint64_t state_pages;            /* pages of chunk states taken (its chunks' and the spare ones) */
	struct syspte_chunk *active[SYSPTE_CACHE_ACTIVE];
	uint64_t parked_mask;            /* bit k: parked[k] is not empty */
	struct syspte_chunk *parked[SYSPTE_CACHE_CLASSES];   /* doubly linked, NULL-terminated lists */
} __attribute__((aligned(64)));

/* One page of the chunk directory (per SYSPTE_DIR_LEAF chunks, in the region's metadata). */
struct syspte_dir {
	struct syspte_chunk **leaf;      /* NULL, or the page: per chunk its state when owned, else NULL */
	paddr_t pa;                      /* the page's physical address */
	uint64_t used;                   /* its entries set */
};

/* The region's part (struct syspte_region's member `cache`). */
struct syspte_caches {
	/* constant after syspte_create */
	bool on;                         /* the region was created with caches */
	unsigned max_chunks;             /* chunks per cache: 1/SYSPTE_CACHE_SHARE of the region's, at least 1 */
	uint64_t nchunks;                /* whole chunks in the region */
	uint64_t ndir;                   /* pages the chunk directory may have: nchunks / SYSPTE_DIR_LEAF, rounded up */
	uint8_t *owner;                  /* per chunk: 0, or the owning CPU + 1 (changed under both locks) */
	/* The chunk directory: per SYSPTE_DIR_LEAF chunks, NULL or a page of the owned ones' states (NULL
	 * for the others), made when the first is owned and freed when the last is given back. A page
	 * pointer changes under the region's lock alone, while no chunk it covers is owned; an entry
	 * under both locks, as the chunk's owner. */
	struct syspte_dir *dir;
	/* set once each, under the region's lock; read by the fast paths */
	struct syspte_cache *cpu[ARCH_MAX_CPUS];
	/* the walkers' freeze count: changed under the region's lock, read by the fast paths */
	uint32_t frozen;
	/* guarded by the region's lock */
	struct bitset owned;             /* owned chunks, for walks in address order */
	uint64_t cache_pages;            /* physical pages the caches occupy (their directory's included) */
	uint64_t slow;                   /* reserves and frees of cache size that took the region's lock */
	uint64_t drains;                 /* drains that returned something */
	uint64_t carved, adopted;        /* chunks given to caches: whole and free, or around a reservation */
	uint64_t dissolved;              /* chunks taken back */
	uint64_t refused;                /* chunks a cache could not take for want of a directory page */
};

/* The cache a caller holds while it works on a cached reservation (filled by syspte_resv_at_locked
 * or syspte_cache_hold, released by syspte_unhold_locked or syspte_cache_unhold). */
struct syspte_hold {
	struct syspte_cache *cache;      /* NULL: none held */
	uint64_t flags;
};

/* Totals of every cache (caches frozen). */
struct syspte_cache_totals {
	uint64_t live, pages, spans, free, chunks, fast;
	uint64_t mapped;                 /* the caches' part of the region's mapped pages (struct syspte_cache) */
};

/* ---- a chunk's words: pure bit helpers (mm/syspte_cache.c; test_pcpu checks them against plain
 * loops over generated words) */

_Static_assert(SYSPTE_CHUNK_PAGES == 64, "a chunk's pages are the bits of one word");

/* Bits [o, o + n) of a chunk's word, n <= 64 - o. */
static inline uint64_t syspte_bits(unsigned o, unsigned n)
{
	return (n >= 64 ? UINT64_MAX : (((uint64_t)1 << n) - 1)) << o;
}

/* Bits [o, o + n) of a chunk's word, o + n <= 64 and n < 64: a cached reservation's span (one an
 * adopted chunk holds shares it with the small one it was adopted for): no test for a whole word. */
static inline uint64_t syspte_span_bits(unsigned o, unsigned n)
{
	return (((uint64_t)1 << n) - 1) << o;
}

/* One step of syspte_longest_run: runs of n + 2^k bits start where runs of n bits (*at) do and runs
 * of 2^k bits (pk) start n bits later; when there are such, they are the new *at and n grows. */
static inline unsigned syspte_run_step(uint64_t *at, unsigned n, uint64_t pk, unsigned k)
{
	uint64_t t = *at & (pk >> n);
	*at = t ? t : *at;
	return t ? n + (1u << k) : n;
}

/* The longest run of set bits of x, with no branch: the starts of runs of 2^k bits by doubling,
 * then the length found bit by bit from the top. */
static inline unsigned syspte_longest_run(uint64_t x)
{
	uint64_t p1 = x & (x >> 1), p2 = p1 & (p1 >> 2), p3 = p2 & (p2 >> 4), p4 = p3 & (p3 >> 8),
		 p5 = p4 & (p4 >> 16);
	uint64_t at = UINT64_MAX;   /* the starts of runs of n bits */
	unsigned n = syspte_run_step(&at, 0, p5, 5);
	n = syspte_run_step(&at, n, p4, 4);
	n = syspte_run_step(&at, n, p3, 3);
	n = syspte_run_step(&at, n, p2, 2);
	n = syspte_run_step(&at, n, p1, 1);
	n = syspte_run_step(&at, n, x, 0);
	return x == UINT64_MAX ? SYSPTE_CHUNK_PAGES : n;
}

/* The run of set bits of x containing bit o (set), with no branch: it starts past the highest
 * clear bit below o (a clear bit below bit 0 stands in when none is), and ends at the lowest clear
 * bit above o (bit 63 stands in when none is, counted one more). */
static inline unsigned syspte_run_at(uint64_t x, unsigned o)
{
	uint64_t below = ~x & (((uint64_t)1 << o) - 1), above = ~x & ~(((uint64_t)1 << o) - 1);
	unsigned lo = 63u - (unsigned)__builtin_clzll((below << 1) | 1);
	unsigned hi = (unsigned)__builtin_ctzll(above | (uint64_t)1 << 63) + (above == 0);
	return hi - lo;
}

#define SYSPTE_BYTES_LO 0x0101010101010101ULL   /* 1 in every byte */
#define SYSPTE_BYTES_HI 0x8080808080808080ULL   /* the top bit of every byte */
_Static_assert(SYSPTE_CHUNK_PAGES < 128, "a run bound leaves its byte's top bit clear");

/* Bit 8 s + 7 set for each byte s of runs (a bound, < 128) that is span or more (span 1..127): a
 * byte with its top bit set, less span, keeps that bit exactly when it is span or more, and borrows
 * from no other byte. */
static inline uint64_t syspte_slots_fitting(uint64_t runs, unsigned span)
{
	return ((runs | SYSPTE_BYTES_HI) - span * SYSPTE_BYTES_LO) & SYSPTE_BYTES_HI;
}

/* The shifts that turn a chunk's free bits into the starts of its free runs of span pages: runs of
 * MIN(2^k, span) pages become runs of MIN(2^(k+1), span) pages at step k (0 once span is reached). */
#define SYSPTE_FIT_STEP(span, k) (MIN(2u << (k), (span)) - MIN(1u << (k), (span)))
#define SYSPTE_FIT_STEPS(span) \
	{ SYSPTE_FIT_STEP(span, 0), SYSPTE_FIT_STEP(span, 1), SYSPTE_FIT_STEP(span, 2), SYSPTE_FIT_STEP(span, 3), \
	  SYSPTE_FIT_STEP(span, 4) }
#define SYSPTE_FIT_NSTEPS 5
#define SYSPTE_FIT_MAX_SPAN (SYSPTE_CACHE_MAX_PAGES + 1)   /* a cached reservation's and its guard's */
_Static_assert(SYSPTE_FIT_MAX_SPAN <= 1u << SYSPTE_FIT_NSTEPS, "the steps reach every span");

/* Bit p set where pages p .. p + span - 1 of free mask f are all free (span 1 .. SYSPTE_FIT_MAX_SPAN):
 * a fixed sequence of shifts, with no branch. */
static inline uint64_t syspte_chunk_fits(uint64_t f, unsigned span)
{
	static const uint8_t steps[SYSPTE_FIT_MAX_SPAN + 1][SYSPTE_FIT_NSTEPS] = {
		SYSPTE_FIT_STEPS(0), SYSPTE_FIT_STEPS(1), SYSPTE_FIT_STEPS(2), SYSPTE_FIT_STEPS(3),
		SYSPTE_FIT_STEPS(4), SYSPTE_FIT_STEPS(5), SYSPTE_FIT_STEPS(6), SYSPTE_FIT_STEPS(7),
		SYSPTE_FIT_STEPS(8), SYSPTE_FIT_STEPS(9), SYSPTE_FIT_STEPS(10), SYSPTE_FIT_STEPS(11),
		SYSPTE_FIT_STEPS(12), SYSPTE_FIT_STEPS(13), SYSPTE_FIT_STEPS(14), SYSPTE_FIT_STEPS(15),
		SYSPTE_FIT_STEPS(16), SYSPTE_FIT_STEPS(17),
	};
	_Static_assert(sizeof(steps) / sizeof(steps[0]) == SYSPTE_FIT_MAX_SPAN + 1, "a row per span");
	_Static_assert(SYSPTE_FIT_NSTEPS == 5, "the steps, one a line");
	const uint8_t *st = steps[span];
	f &= f >> st[0];
	f &= f >> st[1];
	f &= f >> st[2];
	f &= f >> st[3];
	f &= f >> st[4];
	return f;
}

/* A call the caches leave to the region's own path. */
#define SYSPTE_CACHE_PASS (-1)

/* ---- set-up */

/* Bytes of region metadata the caches need for a region of npages. */
size_t syspte_cache_meta_bytes(uint64_t npages);
/* Initialises the region's part over meta (syspte_cache_meta_bytes bytes); on: caches enabled. */
void syspte_cache_init(struct syspte_region *r, void *meta, bool on);

/* ---- reserve and free */

/* The fast path: a reservation of npages pages, a cache's size (syspte_cache_sized, npages >= 1),
 * placed in this CPU's cache under its lock alone; 0 when it cannot (no cache, no room in
 * it, caches frozen). */
vaddr_t syspte_cache_reserve(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags);
/* The same under the region's lock, giving the cache a new chunk first when it has no room; the page index
 * in *start, or false. */
bool syspte_cache_reserve_locked(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags,
				 uint64_t *start);
/* After the allocator placed a reservation of npages pages at page start (in the region's index):
 * when it is of a cache's size and the aligned chunk around it holds no reservation crossing its edges, that chunk
 * becomes this CPU's (its free pages leave the allocator, its reservations the region's index), so
 * caches keep working where no whole chunk is free. */
void syspte_cache_adopt_locked(struct syspte_region *r, uint64_t start, uint64_t npages);
/* After the allocator refused span pages at a multiple of divisor: when the caches' free pages,
 * merged with the allocator's, make such a run, empties into the region (reservations into its
 * index, pages into its allocator) every cache whose reservations the index can take (growing: kept)
 * while it keeps room, free or a growth the memory allows, for the request's own record; a cache
 * that does not fit is left as it is. Returns true when a cache gave something: the allocator is
 * asked again (it may still refuse when a cache was left). Otherwise changes nothing (but the
 * index's room) and returns false: the request is refused, with no run anywhere or no memory for
 * the index. */
bool syspte_cache_drain_locked(struct syspte_region *r, uint64_t span, uint64_t divisor);
/* The fast path of a free of addr, in region page i, whose chunk's owner was o (not 0) a moment
 * ago (syspte_cache_owner_page, a hint checked again under the owner's lock): SYSPTE_OK or
 * SYSPTE_MISUSE (raised) when addr lies in a cached chunk, SYSPTE_CACHE_PASS when the region must
 * handle it. */
int syspte_cache_release(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t i, unsigned o);
/* The same under the region's lock, o read under it (exact; misuse reported in *m, not raised). */
int syspte_cache_release_locked(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t i, unsigned o,
				struct syspte_misuse *m);

/* ---- finding cached reservations (region's lock held) */

/* True when region page i lies in a chunk a cache owns. */
bool syspte_cache_owns_locked(struct syspte_region *r, uint64_t i);
/* The cached reservation containing page i (which lies in an owned chunk), or NULL; the owner's
 * lock is taken into h either way, for syspte_unhold_locked to release. */
struct syspte_resv *syspte_cache_resv_at_locked(struct syspte_region *r, uint64_t i, struct syspte_hold *h);
/* syspte_unhold_locked (mm/syspte_impl.h) releases what h holds. */

/* ---- map, unmap and lookup of a cached reservation under its cache's lock alone */

/* The fast paths' hold: for region page i, whose chunk's owner was o (not 0) a moment ago (read
 * without the region's lock, syspte_cache_owner_page), takes cache o - 1's lock into h and checks
 * again, under it, that the chunk is still o's and the caches are not frozen. When so, h holds the
 * lock (the chunk keeps its owner and its records until syspte_cache_unhold) and the result is the
 * cached reservation containing page i, or NULL when none does; otherwise h holds nothing (h->cache
 * NULL: the caller takes the region's path). NULL too, h holding nothing, when this CPU may not take
 * the region's lock (that path reports the misuse). */
struct syspte_resv *syspte_cache_hold(struct syspte_region *r, uint64_t i, unsigned o, struct syspte_hold *h);
/* The lock of CPU cpu's cache, or NULL when that CPU has none: for a reader that must not wait for
 * it forever (syspte_describe in a fatal report). */
const spinlock_t *syspte_cache_lock(const struct syspte_region *r, unsigned cpu);
/* Releases what syspte_cache_hold took (h->cache not NULL). */
static inline void syspte_cache_unhold(struct syspte_hold *h)
{
	spin_unlock(&h->cache->lock, h->flags);
	h->cache = NULL;
}
/* In verifier mode, checks the whole region (taking its lock; no lock held). */
void syspte_cache_verify(struct syspte_region *r);
/* The first cached reservation starting in [i, limit), or NULL (caches frozen). */
struct syspte_resv *syspte_cache_next_locked(struct syspte_region *r, uint64_t i, uint64_t limit);

/* ---- walks, accounting, check (region's lock held) */

void syspte_cache_freeze_locked(struct syspte_region *r);
void syspte_cache_thaw_locked(struct syspte_region *r);
void syspte_cache_totals_locked(struct syspte_region *r, struct syspte_cache_totals *t);
/* Calls fn for every maximal run of free pages, the allocator's and the caches', in address order
 * (caches frozen). */
void syspte_free_runs_locked(struct syspte_region *r, void (*fn)(uint64_t start, uint64_t count, void *arg),
			     void *arg);
/* Free blocks per order over every free page, as buddy_census counts them (caches frozen). */
void syspte_census_locked(struct syspte_region *r, uint64_t *out);
/* True when page i is free, in the allocator or in a cached chunk (caches frozen). */
bool syspte_page_free_locked(struct syspte_region *r, uint64_t i);
/* 1 when v lies in an owned chunk that indexes it, 0 when v lies in none, -1 when it lies in one
 * that does not (caches frozen). */
int syspte_cache_indexes_locked(struct syspte_region *r, const struct syspte_resv *v);
/* The caches against the region: owners, chunks allocated in the allocator and free of the
 * region's own reservations, chunk bits against records, per-cache counts, records conserved.
 * 0, or -1 after printing the first violation (caches frozen). */
int syspte_cache_check_locked(struct syspte_region *r);
/* Prints one line on the caches (caches frozen). */
void syspte_cache_dump_locked(struct syspte_region *r);

#endif
