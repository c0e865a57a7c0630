/*
 * buddy_: a binary-buddy allocator over unit indices [0, npages) with all of its state in bitmaps.
 *
 * Representation. The free space is kept as maximal naturally aligned blocks: a free block of order
 * k covers [i*2^k, (i+1)*2^k) and is recorded as bit i of the order-k bitmap. Invariants (checked by
 * buddy_check): free blocks never overlap; two buddies are never both free below max_order (they
 * would have been merged), so the decomposition of the free set into blocks is unique; only blocks
 * lying wholly inside [0, npages) exist; nfree[k] counts the bits of order k and free_units sums
 * them. Each order's bitmap has 64-ary summary levels above it (bit j of level l+1 is set iff word
 * j of level l is non-zero, the top level is one word), so "the first free block of order k at or
 * after index i" is a handful of find-first-set operations (one per level) rather than a scan.
 *
 * Why bitmaps and not free lists: the system PTE region has no memory behind its pages, so nothing
 * may live in the managed units, and per-block list nodes elsewhere would cost far more than the
 * 0.5 byte/unit budget. The order bitmaps take n/2^k bits each, 2n bits in all, and the summaries
 * add 1/63 of that: about 0.254 byte per unit plus a few words per order and level. buddy_init
 * zeroes exactly that metadata; buddy_free of a range costs one step per maximal aligned block of
 * the range (plus its merges), so populating 16M units from a RAM map never touches anything per
 * unit. Bitmaps also give address-ordered search for free, which is what lo/hi bounds need.
 *
 * Arbitrary counts. An allocation of n units is any free run [s, s+n); buddy_free(s, n) gives back
 * whatever run it is handed by cutting it into maximal aligned blocks and merging each with free
 * buddies, so the allocator need not remember how a run was laid out, and every piece of every run
 * is a naturally aligned block. A power of two n is one naturally aligned block (classic buddy:
 * the first free block of the smallest order >= log2 n, split down). Otherwise, with
 * p = floor(log2 n), the run starts on a multiple of 2^(p-2) (BUDDY_SLACK), and placements are
 * tried in this order:
 *   A. a free block of order p whose run continues into the free blocks after it (consumes the
 *      block and the front of its neighbour; nothing larger is split), for BUDDY_TIGHT candidates;
 *   B. the first free block of the smallest order >= ceil(log2 n), used from its start; the
 *      block's tail stays free as its binary decomposition;
 *   C. every free block of order >= p-1 in address order, extending its free run backwards (at
 *      most n-1 units) and forwards: any run of n units contains an aligned block of order p-1,
 *      which lies inside one free block, so this finds the first fitting run through each such
 *      block and the search is exhaustive. It only runs when A and B failed (high occupancy).
 * Measured with tests/bench/bench_buddy.c (1 GiB of 4 KiB pages, 10^7 steps, 75 % occupancy
 * target, sizes uniform in 1..512), allocation failures: rounding every request up to a power of
 * two 27 % (a quarter of each block is wasted, so 75 % live is ~100 % used); the power-of-two block
 * with its tail given back 27 % (it still needs a free block of 2^ceil(log2 n)); runs starting
 * 2^p-aligned as the binary decomposition 24 %; 2^(p-1)-aligned 6.5 %; 2^(p-2)-aligned 3 %; any
 * start 1 % but twice the search time (the candidate runs multiply). Bounding phase C to a few
 * dozen candidates cuts the time at 75 % but fails 12-25 %: failures feed on each other. A with 2
 * candidates (against 0) trades ~20 % more time at 50 % occupancy for half the failures at 75 %.
 * Hence 2^(p-2), A with 2 candidates, B, exhaustive C. The price of exact sizes is speed: each
 * operation inserts or merges the blocks of a run's binary decomposition (~8 bitmap updates
 * against ~1 for pow2 rounding), so it runs at ~80-120 ns/op at 50 % occupancy against ~33 for
 * rounding, and at 75 % the exhaustive phase C before a failure costs ~100-300 ns/op on average.
 *
 * Divisors. divisor == 2^t with origin % 2^t == 0 is alignment and is folded into the above. Any
 * other divisor d looks for s with (origin + s) % d == 0: per candidate free block, the first
 * multiple of d in it whose run fits (the run may continue into the free blocks after it). Blocks of
 * order >= ceil(log2(n + d - 1)) always hold one, so phase B runs on those and phase A on orders
 * ceil(log2 n) and up below them, both without a linear scan; phase C as above takes the first
 * multiple of d in the free run reaching each block of order >= floor(log2 n) - 1.
 *
 * Completeness (tested against a model): a power-of-two request (no divisor) fails only when no
 * naturally aligned free block of that size lies in [lo, hi); another one only when no free run of
 * n units in [lo, hi) starts on a multiple of 2^(p-2) (p capped at max_order); a divisor request
 * only when no free run of n units in [lo, hi) starts on a multiple of the divisor.
 *
 * Costs: alloc of a power of two and free are O(max_order * levels) bit operations; phases A and B
 * are O(max_order) find-first-set searches plus a run check of O(log n) blocks; phase C is linear
 * in the free blocks of order >= p-1 in [lo, hi), and only runs when no cheap placement exists.
 */
#include "buddy.h"
#include "kprintf.h"
#include "kassert.h"

#define BUDDY_NONE UINT64_MAX
#define BUDDY_ONE ((uint64_t)1)

/* Candidates tried in phase A (tight placements) before falling back to splitting a larger block. */
#ifndef BUDDY_TIGHT
#define BUDDY_TIGHT 2
#endif
/* Phase C: candidates tried (0: no limit, the search is then exhaustive). */
#ifndef BUDDY_DEEP
#define BUDDY_DEEP 0
#endif
/* Non-power-of-two runs start on a multiple of 2^(floor(log2 n) - BUDDY_SLACK). */
#ifndef BUDDY_SLACK
#define BUDDY_SLACK 2
#endif

/* ------------------------------------------------------------------ small helpers */

/* floor(log2(x)), x >= 1. */
static inline unsigned buddy_log2_floor(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/* ceil(log2(x)), x >= 1. */
static inline unsigned buddy_log2_ceil(uint64_t x)
{
	return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1);
}

/* Trailing zero bits of x; 64 for x == 0. */
static inline unsigned buddy_ctz(uint64_t x)
{
	return x ? (unsigned)__builtin_ctzll(x) : 64u;
}

/* Largest order of a block inside npages units (0 for an empty allocator). */
static unsigned buddy_max_order_for(uint64_t npages)
{
	if (npages == 0)
		return 0;
	return MIN(buddy_log2_floor(npages), (unsigned)BUDDY_MAX_ORDER);
}

/* Order of the largest aligned block that starts at a and fits in n >= 1 units. */
static inline unsigned buddy_piece_order(const struct buddy *b, uint64_t a, uint64_t n)
{
	unsigned k = MIN(buddy_log2_floor(n), buddy_ctz(a));
	return MIN(k, b->max_order);
}

/* ------------------------------------------------------------------ bitmaps */

/* Level l of the bitmap of order k (level 0: one bit per block). */
static inline uint64_t *buddy_level(const struct buddy *b, unsigned k, unsigned l)
{
	return b->lvl[k][l];
}

/* Lays out the bitmaps for npages units (filling b's offsets when b is not NULL); returns words. */
static uint64_t buddy_layout(uint64_t npages, struct buddy *b)
{
	uint64_t off = 0;
	unsigned maxo = buddy_max_order_for(npages);

	for (unsigned k = 0; k <= maxo; k++) {
		uint64_t nbits = npages >> k;
		unsigned l = 0;
		do {
			KASSERT(l < BUDDY_LEVELS, "buddy: %llu units need too many levels",
				(unsigned long long)npages);
			if (b)
				b->lvl[k][l] = (uint64_t *)b->meta + off;
			nbits = (nbits + 63) >> 6;
			off += nbits;
			l++;
		} while (nbits > 1);
		if (b)
			b->nlevels[k] = (uint8_t)l;
	}
	return off;
}

/* True when block i of order k is free. */
static inline bool buddy_bit_test(const struct buddy *b, unsigned k, uint64_t i)
{
	return (buddy_level(b, k, 0)[i >> 6] >> (i & 63)) & 1;
}

/* Sets bit i of order k and the summary bits above it that were clear. */
static inline void buddy_bit_set(struct buddy *b, unsigned k, uint64_t i)
{
	for (unsigned l = 0; l < b->nlevels[k]; l++) {
		uint64_t *w = &buddy_level(b, k, l)[i >> 6];
		uint64_t old = *w;
		*w = old | (BUDDY_ONE << (i & 63));
		if (old)
			return;
		i >>= 6;
	}
}

/* Clears bit i of order k and the summary bits above it whose word became empty. */
static inline void buddy_bit_clear(struct buddy *b, unsigned k, uint64_t i)
{
	for (unsigned l = 0; l < b->nlevels[k]; l++) {
		uint64_t *w = &buddy_level(b, k, l)[i >> 6];
		*w &= ~(BUDDY_ONE << (i & 63));
		if (*w)
			return;
		i >>= 6;
	}
}

/* Index of the first free block of order k at or after index i, or BUDDY_NONE. */
static uint64_t buddy_bit_next(const struct buddy *b, unsigned k, uint64_t i)
{
	uint64_t nbits = b->npages >> k;
	unsigned top = b->nlevels[k] - 1u, l = 0;

	for (;;) {
		if (i >= nbits)
			return BUDDY_NONE;
		uint64_t w = buddy_level(b, k, l)[i >> 6] & (~(uint64_t)0 << (i & 63));
		if (w) {
			i = (i & ~(uint64_t)63) | (uint64_t)__builtin_ctzll(w);
			break;
		}
		if (l == top)
			return BUDDY_NONE;
		i = (i >> 6) + 1;
		nbits = (nbits + 63) >> 6;
		l++;
	}
	while (l > 0) {
		l--;
		i = (i << 6) | (uint64_t)__builtin_ctzll(buddy_level(b, k, l)[i]);
	}
	return i;
}

/* ------------------------------------------------------------------ blocks and runs */

/* Records block i of order k as free (no merging). */
static inline void buddy_add_block(struct buddy *b, unsigned k, uint64_t i)
{
	buddy_bit_set(b, k, i);
	b->nfree[k]++;
	b->free_units += BUDDY_ONE << k;
}

/* Removes free block i of order k. */
static inline void buddy_remove_block(struct buddy *b, unsigned k, uint64_t i)
{
	buddy_bit_clear(b, k, i);
	b->nfree[k]--;
	b->free_units -= BUDDY_ONE << k;
}

/* Order of the free block containing the aligned block [a, a+2^k), or -1 when that block is not
 * wholly free. Such a free block is unique and of order >= k (a wholly free aligned block whose
 * halves lay in different free blocks would have two free buddies), so only orders k..kmax are
 * looked at; kmax = min(ctz(a), max_order) when a cannot lie inside a free block starting before it. */
static inline int buddy_cover(const struct buddy *b, uint64_t a, unsigned k, unsigned kmax)
{
	for (unsigned j = k; j <= kmax; j++) {
		uint64_t i = a >> j;
		if (i >= (b->npages >> j))
			return -1;
		if (buddy_bit_test(b, j, i))
			return (int)j;
	}
	return -1;
}

/* Highest order a free block starting exactly at unit a can have. */
static inline unsigned buddy_start_order(const struct buddy *b, uint64_t a)
{
	return MIN(buddy_ctz(a), b->max_order);
}

/* True when [pos, end) is free (pos < end <= npages). at_edge: pos is not inside a free block that
 * starts before it (it ends a free block, or starts one), which bounds the orders to look at. */
static bool buddy_run_free(const struct buddy *b, uint64_t pos, uint64_t end, bool at_edge)
{
	unsigned kmax = at_edge ? buddy_start_order(b, pos) : b->max_order;

	while (pos < end) {
		int j = buddy_cover(b, pos, buddy_piece_order(b, pos, end - pos), kmax);
		if (j < 0)
			return false;
		pos = ((pos >> j) + 1) << j;
		kmax = buddy_start_order(b, pos);
	}
	return true;
}

/* Lowest x in [floor, pos] such that [x, pos) is free, where pos starts a free block. */
static uint64_t buddy_run_start(const struct buddy *b, uint64_t pos, uint64_t floor)
{
	while (pos > floor) {
		/* the free block holding pos-1, if any, ends at pos: its order is at most ctz(pos) */
		unsigned kmax = buddy_start_order(b, pos), j = 0;
		while (j <= kmax && !buddy_bit_test(b, j, (pos >> j) - 1))
			j++;
		if (j > kmax)
			return pos;
		pos -= BUDDY_ONE << j;
	}
	return floor;
}

/* Marks [a, a+n) free as maximal aligned blocks without merging; none of them has a free buddy. */
static void buddy_insert(struct buddy *b, uint64_t a, uint64_t n)
{
	while (n) {
		unsigned k = buddy_piece_order(b, a, n);
		KASSERT(!b->paranoid || k == b->max_order || ((a >> k) ^ 1) >= (b->npages >> k) ||
			!buddy_bit_test(b, k, (a >> k) ^ 1),
			"buddy: inserting block %llu/%u next to a free buddy", (unsigned long long)a, k);
		buddy_add_block(b, k, a >> k);
		a += BUDDY_ONE << k;
		n -= BUDDY_ONE << k;
	}
}

/* Marks the free run [s, s+n) allocated; k: order of the free block containing s, or -1 when not
 * known. Each free block meeting the run is removed and its parts outside the run re-inserted. */
static void buddy_take(struct buddy *b, uint64_t s, uint64_t n, int k)
{
	uint64_t pos = s, end = s + n;

	if (k < 0)
		k = buddy_cover(b, s, buddy_piece_order(b, s, n), b->max_order);
	for (;;) {
		KASSERT(k >= 0, "buddy: taking unit %llu, which is not free", (unsigned long long)pos);
		uint64_t cb = (pos >> k) << k, ce = cb + (BUDDY_ONE << k);
		buddy_remove_block(b, (unsigned)k, cb >> k);
		if (cb < pos)
			buddy_insert(b, cb, pos - cb);
		if (end <= ce) {
			buddy_insert(b, end, ce - end);
			return;
		}
		pos = ce;
		k = buddy_cover(b, pos, buddy_piece_order(b, pos, end - pos), buddy_start_order(b, pos));
	}
}

/* Frees the allocated aligned block [a, a+2^k), merging it with free buddies. */
static void buddy_free_block(struct buddy *b, uint64_t a, unsigned k)
{
	uint64_t i = a >> k;

	KASSERT(!b->paranoid || buddy_cover(b, a, 0, b->max_order) < 0,
		"buddy: double free: unit %llu is already free", (unsigned long long)a);
	while (k < b->max_order) {
		uint64_t bi = i ^ 1;
		if (bi >= (b->npages >> k) || !buddy_bit_test(b, k, bi))
			break;
		buddy_remove_block(b, k, bi);
		i >>= 1;
		k++;
	}
	buddy_add_block(b, k, i);
}

/* ------------------------------------------------------------------ setup and free */

/* Bytes of metadata buddy_init needs for npages units. */
size_t buddy_meta_bytes(uint64_t npages)
{
	if (npages > BUDDY_MAX_PAGES)
		return 0;
	return (size_t)(buddy_layout(npages, NULL) * sizeof(uint64_t));
}

/* Initialises b over [0, npages) with every unit allocated: zeroes the metadata and nothing else. */
void buddy_init(struct buddy *b, uint64_t npages, uint64_t origin, void *meta)
{
	KASSERT(npages <= BUDDY_MAX_PAGES, "buddy: %llu units is too many", (unsigned long long)npages);
	KASSERT(((uintptr_t)meta & 7) == 0, "buddy: metadata %p is not 8-byte aligned", meta);
	b->npages = npages;
	b->origin = origin;
	b->free_units = 0;
	b->max_order = buddy_max_order_for(npages);
	b->meta = meta;
	b->paranoid = false;
	for (unsigned k = 0; k < BUDDY_ORDERS; k++) {
		b->nfree[k] = 0;
		b->nlevels[k] = 0;
		for (unsigned l = 0; l < BUDDY_LEVELS; l++)
			b->lvl[k][l] = meta;
	}
	uint64_t words = buddy_layout(npages, b);
	uint64_t *w = meta;
	for (uint64_t j = 0; j < words; j++)
		w[j] = 0;
}

/* Marks [start, start+count) free: one coalescing free per maximal aligned block of the range. */
void buddy_free(struct buddy *b, uint64_t start, uint64_t count)
{
	KASSERT(!range_overflows(start, count) && start + count <= b->npages,
		"buddy: freeing [%llu, +%llu) outside [0, %llu)", (unsigned long long)start,
		(unsigned long long)count, (unsigned long long)b->npages);
	while (count) {
		unsigned k = buddy_piece_order(b, start, count);
		buddy_free_block(b, start, k);
		start += BUDDY_ONE << k;
		count -= BUDDY_ONE << k;
	}
}

/* ------------------------------------------------------------------ allocation */

/* A normalised allocation request. */
struct buddy_req {
	uint64_t n;       /* units wanted */
	uint64_t lo, hi;  /* the run lies in [lo, hi), hi <= npages, hi - lo >= n */
	bool div;         /* divisor mode, else alignment mode */
	uint64_t align;   /* alignment mode: the start is a multiple of align (a power of two) */
	uint64_t d, dmod; /* divisor mode: (dmod + start) % d == 0, with dmod = origin % d */
	unsigned tight;   /* phase A: orders [tight, jg), a few candidates */
	unsigned jg;      /* phase B: orders [jg, max_order]; each free block inside [lo, hi) fits */
	unsigned q;       /* phase C: orders [q, max_order]; every placement meets such a block */
};

/* Smallest s >= x with (dmod + s) % d == 0, or BUDDY_NONE on overflow. */
static inline uint64_t buddy_next_multiple(const struct buddy_req *r, uint64_t x)
{
	uint64_t xm = x % r->d;
	uint64_t rem = xm >= r->d - r->dmod ? xm - (r->d - r->dmod) : xm + r->dmod;
	if (rem == 0)
		return x;
	uint64_t add = r->d - rem;
	return add > BUDDY_NONE - x ? BUDDY_NONE : x + add;
}

/* Smallest start >= x allowed by r's alignment or divisor (BUDDY_NONE or >= npages if none). */
static inline uint64_t buddy_valid_start(const struct buddy_req *r, uint64_t x)
{
	if (!r->div)
		return (x + (r->align - 1)) & ~(r->align - 1);
	return buddy_next_multiple(r, x);
}

/* The first placement of r starting in free block i of order k (its run may continue into the free
 * blocks after it), or BUDDY_NONE. With back set, the first placement meeting the block, which may
 * start in the free blocks before it: no placement meeting the block starts earlier. */
static uint64_t buddy_try_block(const struct buddy *b, const struct buddy_req *r, unsigned k,
				uint64_t i, bool back)
{
	uint64_t b0 = i << k, e = b0 + (BUDDY_ONE << k), x;

	if (!back || b0 <= r->lo)
		x = MAX(b0, r->lo);
	else
		x = buddy_run_start(b, b0, b0 - r->lo >= r->n ? b0 - (r->n - 1) : r->lo);
	uint64_t s = buddy_valid_start(r, x);
	if (s >= e || s > r->hi - r->n)
		return BUDDY_NONE;
	if (s + r->n <= e || buddy_run_free(b, e, s + r->n, true))
		return s;
	return BUDDY_NONE;
}

/* Tries the free blocks of order k meeting [lo, hi) in address order, at most *budget of them (no
 * limit when budget is NULL; back: see buddy_try_block); returns a start or BUDDY_NONE, and in *hint
 * the order of the free block holding the start (-1 when it is not the block tried). */
static uint64_t buddy_scan_order(const struct buddy *b, const struct buddy_req *r, unsigned k,
				 unsigned *budget, bool back, int *hint)
{
	uint64_t last = (r->hi - 1) >> k, i = r->lo >> k;

	if (b->nfree[k] == 0)
		return BUDDY_NONE;
	for (;; i++) {
		if (budget && *budget == 0)
			return BUDDY_NONE;
		i = buddy_bit_next(b, k, i);
		if (i == BUDDY_NONE || i > last)
			return BUDDY_NONE;
		if (budget)
			(*budget)--;
		uint64_t s = buddy_try_block(b, r, k, i, back);
		if (s != BUDDY_NONE) {
			*hint = s >= (i << k) ? (int)k : -1;
			return s;
		}
	}
}

/* Finds a placement for r (phases A, B, C of the comment at the top), or BUDDY_NONE. */
static uint64_t buddy_search(const struct buddy *b, const struct buddy_req *r, int *hint)
{
	unsigned maxo = b->max_order, jg = MIN(r->jg, maxo + 1), budget = BUDDY_TIGHT;
	uint64_t s;

	for (unsigned k = r->tight; k < jg; k++) {
		s = buddy_scan_order(b, r, k, &budget, false, hint);
		if (s != BUDDY_NONE)
			return s;
	}
	for (unsigned k = jg; k <= maxo; k++) {
		s = buddy_scan_order(b, r, k, NULL, false, hint);
		if (s != BUDDY_NONE)
			return s;
	}
	budget = BUDDY_DEEP;
	for (unsigned k = r->q; k <= maxo; k++) {
		s = buddy_scan_order(b, r, k, BUDDY_DEEP ? &budget : NULL, true, hint);
		if (s != BUDDY_NONE)
			return s;
	}
	return BUDDY_NONE;
}

/* Fills r for count units, divisor, inside [lo, hi) (already clipped and checked). */
static void buddy_make_req(const struct buddy *b, struct buddy_req *r, uint64_t count,
			   uint64_t divisor, uint64_t lo, uint64_t hi)
{
	unsigned p = buddy_log2_floor(count), pc = buddy_log2_ceil(count), maxo = b->max_order;
	bool natural = p == pc && p <= maxo;

	r->n = count;
	r->lo = lo;
	r->hi = hi;
	r->div = divisor > 1 && ((divisor & (divisor - 1)) != 0 || (b->origin & (divisor - 1)) != 0);
	r->q = p > 0 ? p - 1 : 0;
	if (!r->div) {
		unsigned t = divisor > 1 ? buddy_log2_floor(divisor) : 0;
		unsigned a = natural ? p : MIN(p, maxo) >= BUDDY_SLACK ? MIN(p, maxo) - BUDDY_SLACK : 0;
		r->align = BUDDY_ONE << MAX(a, t);
		r->tight = p;
		r->jg = MAX(pc, t);
		if (natural && t <= p)
			r->q = maxo + 1;   /* phase B alone is exhaustive for a naturally aligned block */
	} else {
		r->d = divisor;
		r->dmod = b->origin % divisor;
		r->tight = pc;
		r->jg = divisor - 1 > BUDDY_NONE - count ? 64 : buddy_log2_ceil(count + divisor - 1);
	}
}

/* Allocates count contiguous units (see buddy.h); the placement policy is described at the top. */
bool buddy_alloc(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
		 uint64_t *start)
{
	struct buddy_req r;
	int hint = -1;

	if (hi > b->npages)
		hi = b->npages;
	if (count == 0 || lo >= hi || count > hi - lo || count > b->free_units)
		return false;
	buddy_make_req(b, &r, count, divisor, lo, hi);
	uint64_t s = buddy_search(b, &r, &hint);
	if (s == BUDDY_NONE)
		return false;
	KASSERT(s >= lo && s + count <= hi, "buddy: placement %llu outside bounds",
		(unsigned long long)s);
	buddy_take(b, s, count, hint);
	*start = s;
	return true;
}

/* Turns the expensive double-free check of buddy_free on or off (off after buddy_init). */
void buddy_set_paranoid(struct buddy *b, bool on)
{
	b->paranoid = on;
}

/* ------------------------------------------------------------------ queries and checks */

/* True when every unit of [start, start+count) is free (false when the range leaves [0, npages)). */
bool buddy_range_is_free(const struct buddy *b, uint64_t start, uint64_t count)
{
	if (range_overflows(start, count) || start > b->npages || count > b->npages - start)
		return false;
	return count == 0 || buddy_run_free(b, start, start + count, false);
}

/* Free blocks per order. */
void buddy_census(const struct buddy *b, uint64_t out[BUDDY_ORDERS])
{
	for (unsigned k = 0; k < BUDDY_ORDERS; k++)
		out[k] = k <= b->max_order ? b->nfree[k] : 0;
}

/* Checks the summary levels of order k against the levels below and for stray bits; 0 or -1. */
static int buddy_check_levels(const struct buddy *b, unsigned k)
{
	uint64_t nbits = b->npages >> k;

	for (unsigned l = 0; l < b->nlevels[k]; l++) {
		const uint64_t *w = buddy_level(b, k, l);
		uint64_t words = (nbits + 63) >> 6;
		if ((nbits & 63) && words && (w[words - 1] >> (nbits & 63))) {
			kprintf("buddy_check: order %u level %u: bits set past the end (word %llx)\n", k, l,
				(unsigned long long)w[words - 1]);
			return -1;
		}
		if (l + 1u < b->nlevels[k]) {
			const uint64_t *up = buddy_level(b, k, l + 1);
			for (uint64_t j = 0; j < words; j++) {
				bool sum = (up[j >> 6] >> (j & 63)) & 1;
				if (sum != (w[j] != 0)) {
					kprintf("buddy_check: order %u level %u: summary bit %llu is %d but word is %llx\n",
						k, l + 1, (unsigned long long)j, sum, (unsigned long long)w[j]);
					return -1;
				}
			}
		}
		nbits = words;
	}
	return 0;
}

/* Checks free block i of order k against its buddy and the blocks of higher orders; 0 or -1. */
static int buddy_check_block(const struct buddy *b, unsigned k, uint64_t i)
{
	uint64_t nb = b->npages >> k;

	if (k < b->max_order && (i ^ 1) < nb && buddy_bit_test(b, k, i ^ 1)) {
		kprintf("buddy_check: order %u: buddies %llu and %llu both free (not merged)\n", k,
			(unsigned long long)(i & ~(uint64_t)1), (unsigned long long)(i | 1));
		return -1;
	}
	for (unsigned j = k + 1; j <= b->max_order; j++) {
		uint64_t a = i >> (j - k);
		if (a < (b->npages >> j) && buddy_bit_test(b, j, a)) {
			kprintf("buddy_check: free block [%llu, +%llu) overlaps free block [%llu, +%llu)\n",
				(unsigned long long)(i << k), (unsigned long long)(BUDDY_ONE << k),
				(unsigned long long)(a << j), (unsigned long long)(BUDDY_ONE << j));
			return -1;
		}
	}
	return 0;
}

/* Verifies every invariant; returns 0, or -1 after printing the first violation. */
int buddy_check(const struct buddy *b)
{
	uint64_t total = 0;

	if (b->max_order != buddy_max_order_for(b->npages) || b->free_units > b->npages) {
		kprintf("buddy_check: header: npages %llu max_order %u free %llu\n",
			(unsigned long long)b->npages, b->max_order, (unsigned long long)b->free_units);
		return -1;
	}
	for (unsigned k = 0; k < BUDDY_ORDERS; k++) {
		if (k > b->max_order) {
			if (b->nfree[k]) {
				kprintf("buddy_check: order %u above max_order has %llu free blocks\n", k,
					(unsigned long long)b->nfree[k]);
				return -1;
			}
			continue;
		}
		if (buddy_check_levels(b, k) < 0)
			return -1;
		uint64_t count = 0;
		for (uint64_t i = buddy_bit_next(b, k, 0); i != BUDDY_NONE; i = buddy_bit_next(b, k, i + 1)) {
			if (buddy_check_block(b, k, i) < 0)
				return -1;
			count++;
		}
		if (count != b->nfree[k]) {
			kprintf("buddy_check: order %u: %llu blocks in the bitmap, nfree says %llu\n", k,
				(unsigned long long)count, (unsigned long long)b->nfree[k]);
			return -1;
		}
		total += count << k;
	}
	if (total != b->free_units) {
		kprintf("buddy_check: blocks sum to %llu free units, free_units says %llu\n",
			(unsigned long long)total, (unsigned long long)b->free_units);
		return -1;
	}
	return 0;
}

/* Prints the free blocks per order and the totals. */
void buddy_dump(const struct buddy *b)
{
	unsigned long long pct = b->npages ? b->free_units * 1000 / b->npages : 0;

	kprintf("buddy: %llu units at origin %llu, %llu free (%llu.%llu%%), %llu metadata bytes\n",
		(unsigned long long)b->npages, (unsigned long long)b->origin,
		(unsigned long long)b->free_units, pct / 10, pct % 10,
		(unsigned long long)buddy_meta_bytes(b->npages));
	for (unsigned k = 0; k <= b->max_order; k++) {
		if (b->nfree[k])
			kprintf("  order %2u (%10llu units): %8llu free blocks, %12llu units\n", k,
				(unsigned long long)(BUDDY_ONE << k), (unsigned long long)b->nfree[k],
				(unsigned long long)(b->nfree[k] << k));
	}
}
