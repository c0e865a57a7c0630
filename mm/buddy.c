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
 * buddies, so the allocator need not remember how a run was laid out. For n not a power of two,
 * with p = floor(log2 n), the start is 2^p-aligned, so the run is the binary decomposition of n laid
 * out in descending block sizes, each piece naturally aligned. Placements are tried in this order:
 *   A. a free block of order p whose following n - 2^p units are free too (it consumes the block
 *      and the front of its neighbour: nothing larger is split), for a few candidates (BUDDY_TIGHT);
 *   B. the first free block of the smallest order >= ceil(log2 n), allocated from its start; the
 *      tail of the block stays free as its binary decomposition;
 *   C. the remaining free blocks of order p (exhaustive: the allocator then fails only when no
 *      2^p-aligned free run of n units exists in [lo, hi)).
 * Measured with tests/bench/bench_buddy.c (1 GiB of 4 KiB pages, uniform sizes 1..512, 75 %
 * occupancy target): rounding each request up to a power of two fails about 1/3 of allocations,
 * since a quarter of every block is wasted; allocating the power-of-two block and giving the tail
 * back fails less but splits a large block for each request; A+B+C is the best of the three
 * and is the policy here. See the numbers at the end of this comment.
 *
 * Divisors. divisor == 2^t with origin % 2^t == 0 is alignment and is folded into the above. Any
 * other divisor d looks for s with (origin + s) % d == 0: per candidate free block, the first
 * multiple of d in it whose run fits (the run may continue into the free blocks after it). Blocks of
 * order >= ceil(log2(n + d - 1)) always hold one, so phase B runs on those and phase A on orders
 * ceil(log2 n) and up below them, both without a linear scan. Phase C then tries every free block of
 * order >= floor(log2 n) - 1, this time extending the run backwards too (at most n-1 units): any
 * run of n units contains an aligned block of that order, which lies inside one free block, and
 * the first multiple of d in the free run reaching that block is found, so the search is exhaustive.
 *
 * Completeness (tested against a model): a power-of-two request (no divisor) fails only when no
 * naturally aligned free block of that size lies in [lo, hi); a non-power-of-two one only when no
 * 2^p-aligned free run fits; a divisor request only when no free run of n units in [lo, hi) starts
 * on a multiple of the divisor.
 */
#include "buddy.h"
#include "kprintf.h"
#include "kassert.h"

#define BUDDY_NONE UINT64_MAX
#define BUDDY_ONE ((uint64_t)1)

/* Candidates tried in phase A (tight placements) before falling back to splitting a larger block. */
#define BUDDY_TIGHT 8

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
	return (uint64_t *)b->meta + b->lvl_off[k][l];
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
				b->lvl_off[k][l] = (uint32_t)off;
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

/* Order (<= kmax) of the free block containing unit u < npages, or -1 when there is none. */
static inline int buddy_cover(const struct buddy *b, uint64_t u, unsigned kmax)
{
	for (unsigned k = 0; k <= kmax; k++) {
		uint64_t i = u >> k;
		if (i >= (b->npages >> k))
			return -1;
		if (buddy_bit_test(b, k, i))
			return (int)k;
	}
	return -1;
}

/* First allocated unit in [pos, limit), or limit when all of it is free (limit <= npages). */
static uint64_t buddy_run_end(const struct buddy *b, uint64_t pos, uint64_t limit)
{
	unsigned kmax = b->max_order;

	while (pos < limit) {
		int k = buddy_cover(b, pos, kmax);
		if (k < 0)
			return pos;
		pos = ((pos >> k) + 1) << k;
		/* pos now starts the next block, so a free block covering it starts there too. */
		kmax = MIN(buddy_ctz(pos), b->max_order);
	}
	return limit;
}

/* Lowest x in [floor, pos] such that [x, pos) is free. */
static uint64_t buddy_run_start(const struct buddy *b, uint64_t pos, uint64_t floor)
{
	while (pos > floor) {
		int k = buddy_cover(b, pos - 1, b->max_order);
		if (k < 0)
			return pos;
		pos = ((pos - 1) >> k) << k;
	}
	return floor;
}

/* Marks [a, a+n) free as maximal aligned blocks without merging; none of them has a free buddy. */
static void buddy_insert(struct buddy *b, uint64_t a, uint64_t n)
{
	while (n) {
		unsigned k = buddy_piece_order(b, a, n);
		KASSERT(k == b->max_order || ((a >> k) ^ 1) >= (b->npages >> k) ||
			!buddy_bit_test(b, k, (a >> k) ^ 1),
			"buddy: inserting block %llu/%u next to a free buddy", (unsigned long long)a, k);
		buddy_add_block(b, k, a >> k);
		a += BUDDY_ONE << k;
		n -= BUDDY_ONE << k;
	}
}

/* Marks the free run [s, s+n) allocated: removes each free block covering part of it and re-inserts
 * the parts of that block outside the run. */
static void buddy_take(struct buddy *b, uint64_t s, uint64_t n)
{
	uint64_t pos = s, end = s + n;
	int k = buddy_cover(b, pos, b->max_order);

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
		k = buddy_cover(b, pos, MIN(buddy_ctz(pos), b->max_order));
	}
}

/* Frees the allocated aligned block [a, a+2^k), merging it with free buddies. */
static void buddy_free_block(struct buddy *b, uint64_t a, unsigned k)
{
	uint64_t i = a >> k;

	KASSERT(buddy_cover(b, a, b->max_order) < 0,
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
	for (unsigned k = 0; k < BUDDY_ORDERS; k++) {
		b->nfree[k] = 0;
		b->nlevels[k] = 0;
		for (unsigned l = 0; l < BUDDY_LEVELS; l++)
			b->lvl_off[k][l] = 0;
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
	unsigned q;       /* lowest order whose free blocks may hold (alignment) or meet (divisor) a run */
	unsigned tight;   /* phase A covers orders [tight, jg) */
	unsigned jg;      /* lowest order whose every free block inside [lo, hi) holds a placement */
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

/* The first placement of r starting in free block i of order k (its run may extend into the free
 * blocks after it), or BUDDY_NONE. With back set, in divisor mode, the first placement meeting the
 * block, which may start in the free blocks before it: no placement meeting the block starts
 * earlier, which makes phase C exhaustive. */
static uint64_t buddy_try_block(const struct buddy *b, const struct buddy_req *r, unsigned k,
				uint64_t i, bool back)
{
	uint64_t b0 = i << k, e = b0 + (BUDDY_ONE << k), s;

	if (!r->div) {
		uint64_t x = MAX(b0, r->lo);
		s = (x + (r->align - 1)) & ~(r->align - 1);
	} else if (b0 <= r->lo || !back) {
		s = buddy_next_multiple(r, MAX(b0, r->lo));
	} else {
		uint64_t floor = b0 - r->lo >= r->n ? b0 - (r->n - 1) : r->lo;
		s = buddy_next_multiple(r, buddy_run_start(b, b0, floor));
	}
	if (s >= e || s > r->hi - r->n)
		return BUDDY_NONE;
	if (s + r->n <= e || buddy_run_end(b, e, s + r->n) == s + r->n)
		return s;
	return BUDDY_NONE;
}

/* Tries the free blocks of order k meeting [lo, hi) in address order from index *cur, at most
 * *budget of them (no limit when budget is NULL; back: see buddy_try_block); returns a start or
 * BUDDY_NONE and leaves *cur at the next block to try (BUDDY_NONE when the order is exhausted). */
static uint64_t buddy_scan_order(const struct buddy *b, const struct buddy_req *r, unsigned k,
				 uint64_t *cur, unsigned *budget, bool back)
{
	uint64_t last = (r->hi - 1) >> k, i = *cur;

	if (i == BUDDY_NONE || b->nfree[k] == 0)
		return BUDDY_NONE;
	for (;;) {
		if (budget && *budget == 0) {
			*cur = i;
			return BUDDY_NONE;
		}
		i = buddy_bit_next(b, k, i);
		if (i == BUDDY_NONE || i > last) {
			*cur = BUDDY_NONE;
			return BUDDY_NONE;
		}
		if (budget)
			(*budget)--;
		uint64_t s = buddy_try_block(b, r, k, i, back);
		if (s != BUDDY_NONE)
			return s;
		i++;
	}
}

/* Finds a placement for r (phases A, B, C of the comment at the top), or BUDDY_NONE. */
static uint64_t buddy_search(const struct buddy *b, const struct buddy_req *r)
{
	unsigned maxo = b->max_order, jg = MIN(r->jg, maxo + 1), budget = BUDDY_TIGHT;
	uint64_t cur[BUDDY_ORDERS], s;

	for (unsigned k = r->q; k < jg; k++)
		cur[k] = r->lo >> k;
	for (unsigned k = r->tight; k < jg; k++) {
		s = buddy_scan_order(b, r, k, &cur[k], &budget, false);
		if (s != BUDDY_NONE)
			return s;
	}
	for (unsigned k = jg; k <= maxo; k++) {
		uint64_t c = r->lo >> k;
		s = buddy_scan_order(b, r, k, &c, NULL, false);
		if (s != BUDDY_NONE)
			return s;
	}
	for (unsigned k = r->q; !r->div && k < jg; k++) {
		s = buddy_scan_order(b, r, k, &cur[k], NULL, false);
		if (s != BUDDY_NONE)
			return s;
	}
	/* divisor mode: every block of order >= q, with runs starting in the free blocks before it */
	for (unsigned k = r->q; r->div && k <= maxo; k++) {
		uint64_t c = r->lo >> k;
		s = buddy_scan_order(b, r, k, &c, NULL, true);
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

	r->n = count;
	r->lo = lo;
	r->hi = hi;
	r->div = divisor > 1 && ((divisor & (divisor - 1)) != 0 || (b->origin & (divisor - 1)) != 0);
	if (!r->div) {
		unsigned t = divisor > 1 ? buddy_log2_floor(divisor) : 0;
		r->align = BUDDY_ONE << MAX(MIN(p, maxo), t);
		r->q = MIN(p, maxo);
		r->tight = r->q;
		r->jg = MAX(pc, t);
	} else {
		r->d = divisor;
		r->dmod = b->origin % divisor;
		r->q = MIN(p > 0 ? p - 1 : 0, maxo);
		r->tight = MIN(pc, maxo);
		r->jg = divisor - 1 > BUDDY_NONE - count ? 64 : buddy_log2_ceil(count + divisor - 1);
	}
}

/* Allocates count contiguous units (see buddy.h); the placement policy is described at the top. */
bool buddy_alloc(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
		 uint64_t *start)
{
	struct buddy_req r;

	if (hi > b->npages)
		hi = b->npages;
	if (count == 0 || lo >= hi || count > hi - lo || count > b->free_units)
		return false;
	buddy_make_req(b, &r, count, divisor, lo, hi);
	uint64_t s = buddy_search(b, &r);
	if (s == BUDDY_NONE)
		return false;
	KASSERT(s >= lo && s + count <= hi, "buddy: placement %llu outside bounds",
		(unsigned long long)s);
	buddy_take(b, s, count);
	*start = s;
	return true;
}

/* ------------------------------------------------------------------ queries and checks */

/* True when every unit of [start, start+count) is free (false when the range leaves [0, npages)). */
bool buddy_range_is_free(const struct buddy *b, uint64_t start, uint64_t count)
{
	if (range_overflows(start, count) || start > b->npages || count > b->npages - start)
		return false;
	return buddy_run_end(b, start, start + count) == start + count;
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
