/*
 * buddy_: the buddy allocator's contract (exact runs, natural alignment preferred, coalescing on
 * free) kept over maximal free extents. It allocates contiguous runs over unit indices
 * [0, npages), of exact sizes, at any start unless the caller asks for a divisor or an alignment;
 * physical page frames (mm/phys.c) and each system PTE region (mm/syspte.c) are ones. Its metadata
 * is one caller-provided block of buddy_meta_bytes(npages) bytes (about 0.26 byte per unit) plus
 * one word per unit that only the free units lend it (their "slots", below). A chunked allocator
 * (buddy_init_dir: the system PTE region) keeps the bulk of that block, the bitmaps' bottom level,
 * in chunks of one page the caller installs where bits may be set (BUDDY_CHUNK_UNITS units each),
 * so its block is buddy_meta_bytes_dir(npages), about 1/400 of a byte per unit.
 *
 * Not locked: callers serialise. The structure's fields are private (mm/buddy_impl.h), for the
 * allocator, the code that embeds one, and tests.
 */
#ifndef BUDDY_H
#define BUDDY_H

#include "types.h"

#define BUDDY_MAX_ORDER 30           /* largest block: 2^30 units */
#define BUDDY_ORDERS (BUDDY_MAX_ORDER + 1)
#define BUDDY_MAX_PAGES (((uint64_t)1 << 31) - 1)   /* 8 TiB of 4 KiB units: records link 31-bit indices */
#define BUDDY_TIGHT_ALIGNED 4        /* aligned/divisible placements: tight-fit candidates tried first */

/*
 * The slot of unit u: one 64-bit word the allocator owns while u is free and
 * never touches while u is allocated. A free extent keeps its record (class-list links; its length
 * when two units or more) in the slots of its first two units, bit 0 always clear: for the system
 * PTE region the slots are the region's own not-present PTEs (the NT design), for physical memory
 * word 0 of each free page through the direct map (as xv6 threads its free list through free
 * pages). A unit comes back from buddy_alloc with its slot undefined but for bit 0, which is clear
 * if it was clear when the unit was freed (it may hold a stale record).
 */

struct buddy;

#define BUDDY_CHUNK_SHIFT 14          /* a chunk covers 2^14 units: its page holds both bitmaps' bits */
#define BUDDY_CHUNK_UNITS ((uint64_t)1 << BUDDY_CHUNK_SHIFT)
#define BUDDY_CHUNK_BYTES 4096
#define BUDDY_DIR_SHIFT 9             /* a chunked allocator's slot piece: 2^9 units (a level-1 table) */
#define BUDDY_DIR_UNITS ((uint64_t)1 << BUDDY_DIR_SHIFT)

/* Bytes of metadata buddy_init needs for npages units (0 when npages > BUDDY_MAX_PAGES). */
size_t buddy_meta_bytes(uint64_t npages);
/* Bytes of metadata buddy_init_dir needs for npages units (its chunks not included). */
size_t buddy_meta_bytes_dir(uint64_t npages);
/* Units currently free. */
uint64_t buddy_free_units(const struct buddy *b);

/* Initialises b over [0, npages) with every unit allocated. meta: buddy_meta_bytes(npages) bytes,
 * 8-byte aligned; npages <= BUDDY_MAX_PAGES; unit u's slot is slots[u << slot_shift] (one array:
 * physical memory's free pages through the direct map). Cost: zeroing the metadata; no slot is
 * touched. b must not move afterwards (it points into itself). */
void buddy_init(struct buddy *b, uint64_t npages, uint64_t origin, void *meta, uint64_t *slots,
		unsigned slot_shift);
/* buddy_init with the slots in pieces of BUDDY_DIR_UNITS units: unit u's slot is
 * dir[u >> BUDDY_DIR_SHIFT][u & (BUDDY_DIR_UNITS - 1)] (a piece: one level-1 table of the system
 * PTE region, a compile-time constant so that the hot paths index it with a fixed shift). An entry
 * of dir is read only while a unit it covers is a free extent's record slot, so pieces that never
 * hold one may be missing (the system PTE region: its level-1 tables, created on demand). dir is
 * the caller's and may change while b lives (an entry set before the allocator can need it).
 * The bitmaps are chunked: meta is buddy_meta_bytes_dir(npages) bytes, and no chunk exists yet. A
 * missing chunk reads as no extent starting or ending in it. The caller installs (buddy_chunk_install)
 * the chunk of every unit whose bit an operation may set before that operation: units 0 and
 * npages - 1 before the first free of [0, npages); for a run [s, e) taken from the free set, units
 * s - 1, s, e - 1 and e (those inside [0, npages)) before buddy_take: its take and every later free
 * of [s, e) set bits there only (a merge clears bits, never sets one), so a free never needs a
 * chunk. buddy_free_list is for flat allocators only. */
void buddy_init_dir(struct buddy *b, uint64_t npages, uint64_t origin, void *meta, uint64_t *const *dir);
/* True when unit u (< npages) has its chunk (always, for buddy_init's flat metadata). */
bool buddy_chunk_present(const struct buddy *b, uint64_t u);
/* Installs page (BUDDY_CHUNK_BYTES zeroed bytes, 8-byte aligned, the caller's for b's lifetime)
 * as the chunk of unit u (< npages), which has none; chunked allocators only. */
void buddy_chunk_install(struct buddy *b, uint64_t u, void *page);
/* Chunks installed so far. */
uint64_t buddy_chunk_count(const struct buddy *b);

/* Marks [start, start+count) free (initial population, or returning any allocated range), merging
 * it with the free units on either side. Returns false, changing nothing, when the range leaves
 * [0, npages) or any unit of it is already free (a double or overlapping free). Cost O(bitmap
 * levels) and at most one record read, independent of count. */
bool buddy_free(struct buddy *b, uint64_t start, uint64_t count);

/* buddy_free without the proof that the range is allocated, for a caller whose own records show it
 * (the system PTE region, freeing a reservation it has just looked up): one bitmap search and a
 * record read less on about half the frees. The range must lie in [0, npages) (a panic otherwise)
 * and be allocated (else the free set is corrupted). */
void buddy_free_allocated(struct buddy *b, uint64_t start, uint64_t count);

/*
 * Frees the n units listed in units[] (consecutive entries u, u+1, ... as one run), all or none:
 * every unit must lie in [0, npages), be allocated, and be listed once. Otherwise returns false,
 * changing nothing, with *bad = the index of the first entry at fault (a unit listed twice: its
 * second listing). Cost O(runs x bitmap levels + n / 64); no memory besides the metadata.
 */
bool buddy_free_list(struct buddy *b, const uint64_t *units, uint64_t n, uint64_t *bad);

/*
 * Allocates count >= 1 contiguous units inside [lo, hi) (pass 0, npages for anywhere).
 * The rule: without a divisor (0 or 1) any start; with divisor > 1, (origin + start) % divisor ==
 * 0 and nothing else (when divisor is a power of two dividing origin that is index alignment: an
 * explicit alignment request). Returns false, changing nothing, only when no free run of count
 * units inside [lo, hi) has a start obeying the rule.
 * Preference, never required: a power-of-two count (up to 2^max_order) starts on a multiple of
 * count when such a placement is found among the O(1) candidates examined first (unbounded), or
 * anywhere inside [lo, hi) (bounded).
 * Cost: O(bitmap levels) and O(1) list operations for an unbounded request (at most
 * 2 (BUDDY_TIGHT_ALIGNED + 1) candidates examined, unless no extent is certain to hold the rule's
 * placement); a request with bounds is linear in the free extents inside them.
 */
bool buddy_alloc(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
		 uint64_t *start);

/*
 * buddy_alloc in two steps, for a caller that must prepare the slots a placement writes before the
 * allocator writes them (the system PTE region creates page tables on demand). buddy_find finds
 * the placement buddy_alloc would choose, unbounded, changing nothing but search hints; prefer > 1
 * (a power of two) asks for a start with (start + phase) a multiple of prefer where one is found
 * among the O(1) candidates examined first (preferred, never required), replacing the natural
 * alignment of a power-of-two count; a preference the rule contradicts (with a power-of-two
 * divisor, a phase that is not a multiple of it) is ignored, never the rule. buddy_take takes it
 * (p as buddy_find filled it), with nothing changed in between; it writes the record slots of
 * ext_start and ext_start + 1 (its extent, already free) and, when the run ends before ext_end, of
 * start + count and start + count + 1 (the extent after the run; the second only when it has two
 * units or more).
 */
struct buddy_place {
	uint64_t start;                  /* the run's first unit */
	uint64_t ext_start, ext_end;     /* the free extent it is taken from */
	unsigned ext_class;              /* that extent's size class, for buddy_take */
};
bool buddy_find(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t prefer, uint64_t phase,
		struct buddy_place *p);
void buddy_take(struct buddy *b, const struct buddy_place *p, uint64_t count);

/*
 * The ready point of b: the caller's promise, from now on, that every unit from from - 1 (from 0
 * when from is 0) to npages - 1 has its chunk and its slot, and whatever else the caller makes
 * before a take there, so that a take of a run starting at or above from needs nothing prepared
 * (a chunked allocator whose caller readies its units from the top down: the system PTE region).
 * buddy_init sets 0 (a flat allocator needs nothing), buddy_init_dir npages + 1 (no run).
 */
void buddy_set_ready_from(struct buddy *b, uint64_t from);

/*
 * buddy_find, then at once buddy_take when the run starts at or above b's ready point: the same
 * placement and outcome as the two calls, in one call and without the take's check that the
 * placement is still the one found (nothing runs in between). BUDDY_FIND_NONE: no placement,
 * nothing changed; BUDDY_FIND_FOUND: *p filled as buddy_find fills it, nothing taken (the caller
 * prepares what the take needs, then calls buddy_take); BUDDY_FIND_TAKEN: taken, p->start its
 * first unit.
 */
enum { BUDDY_FIND_NONE, BUDDY_FIND_FOUND, BUDDY_FIND_TAKEN };
int buddy_find_take(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t prefer, uint64_t phase,
		    struct buddy_place *p);

/* True when every unit of [start, start+count) is free. */
bool buddy_range_is_free(const struct buddy *b, uint64_t start, uint64_t count);

/* The first free unit of [start, start+count), or UINT64_MAX when none is (or the range leaves
 * [0, npages)). O(bitmap levels). */
uint64_t buddy_range_first_free(const struct buddy *b, uint64_t start, uint64_t count);

/* Free blocks per order: the maximal naturally aligned blocks (at most 2^max_order units) of the
 * free units, i.e. what a binary buddy would hold. Cost O(free extents): for reports. */
void buddy_census(const struct buddy *b, uint64_t out[BUDDY_ORDERS]);

/* Calls fn(start, count, arg) for every maximal free extent, in address order; fn must not change b.
 * Cost O(extents): for reports and pictures. */
void buddy_for_each_free(const struct buddy *b, void (*fn)(uint64_t start, uint64_t count, void *arg), void *arg);

/* Calls fn(u, arg) for every unit whose slot holds a free extent's record (its first unit, and its
 * second when it has two or more), reading the bitmaps only: a caller checks that those slots
 * exist before buddy_check follows the records. O(extents). */
void buddy_for_each_record_slot(const struct buddy *b, void (*fn)(uint64_t u, void *arg), void *arg);

/* Verifies every invariant; returns 0, or -1 after printing the first violation with kprintf. */
int buddy_check(const struct buddy *b);

/* buddy_check, but of the level-0 bitmap words that must be zero (those no summary bit names, and
 * the end bits no extent ends on) it reads only the units [from, from + span), wrapping past the
 * last unit, so its cost follows the extents and the window, not npages: a caller that checks
 * often moves the window on each time and calls buddy_check now and then (mm/phys.c). */
int buddy_check_window(const struct buddy *b, uint64_t from, uint64_t span);

/* Prints the totals, the free extents per octave that has some, and the census, with kprintf. */
void buddy_dump(const struct buddy *b);

#endif
