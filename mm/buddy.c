/*
 * buddy_: an allocator of exact runs over unit indices [0, npages), all of its state in bitmaps
 * inside the caller's metadata block (nothing lives in the managed units: the system PTE region has
 * no memory behind them). It keeps the binary buddy's API and guarantees (powers of two naturally
 * aligned, coalescing on free), but the free set is kept as maximal free extents, not as blocks.
 *
 * Representation. A free extent [s, e) is maximal (units s-1 and e are allocated or outside).
 *   start, end: bit s of start and bit e-1 of end are set for every free extent (2 bits/unit).
 *     The extent holding unit u, if any: s = last start <= u, e-1 = first end >= s, free iff
 *     e-1 >= u. Each bitmap has 64-ary summary levels (bit j of level l+1 set iff word j of level
 *     l is non-zero), so a next/previous set bit is one find-first-set per level.
 *   classes: extents by length; class 0 = 1 unit, 1 = 2..3, 2 = 4..7, then each octave p >= 3 split
 *     in quarters [2^p + q 2^(p-2), 2^p + (q+1) 2^(p-2)), capped at max_order. A class of octave p
 *     has a summarised bitmap with one bit per 2^p-unit window: bit s >> p for an extent starting at
 *     s. This is injective (two extents of length >= 2^p start more than 2^p apart), and the extent
 *     of window i is found again from start/end alone: it covers the window's last unit, so it is
 *     the last start <= (i+1) 2^p - 1. Class 0 has no bitmap of its own: its "level 0" is
 *     start & end (a one-unit extent has both bits), with stored summaries (x0) above it.
 *   Per class: extent count, a bit in a two-word mask of non-empty classes, and a hint, an upper
 *     bound of its longest extent (raised on insertion, tightened to the truth by a failed full scan).
 * Metadata: 2 bits/unit for start/end, 1/2 + 1/4 + 4(1/8 + 1/16 + ...) = 1.75 bits/unit of class
 * windows, 1/64 for x0, plus summaries (1/63): 0.48 byte/unit (125736 bytes for 262144 units).
 * buddy_init zeroes it; a free never touches anything per unit.
 *
 * Free [s, s+n): if end bit s-1 is set, merge with the extent ending there (its start: the last
 * start before s); if start bit s+n is set, merge with the extent starting there (its end: the
 * next end bit); fix the class bits. O(levels) whatever n is; no list, no per-extent record.
 *
 * Allocation of n units (align: n for a power of two <= 2^max_order, or a power-of-two divisor
 * when origin allows; else divisor d, or no constraint). Every extent of a class whose shortest
 * length is >= n + slack (slack = align-1 or d-1, 0 without constraint) holds a placement: those
 * classes are "certain"; the classes from class(n) below them are "uncertain".
 *   (lo > 0: the extent holding lo, which no window at or after lo shows, is tried first.)
 *   A. aligned or divisible requests only: up to BUDDY_TIGHT_ALIGNED candidates of the uncertain
 *      classes (a tight fit keeps large extents whole; with 0, pow2 rounding fragments visibly);
 *   B. the lowest-address extent of the smallest non-empty certain class (class mask: ctz), taken
 *      from its first valid start; only [lo, hi) can make such a candidate fail (at most one per
 *      class at each bound), so the scan of a certain class is O(1) candidates;
 *   C. every extent of the uncertain classes whose hint is >= n, in address order; a failed full
 *      scan (no bounds) sets the hint to the longest extent seen, so failures of the same size are
 *      O(1) until a longer extent joins the class.
 * A request with no bounds, no divisor and no alignment (not a power of two, or 1) skips the
 * request set-up: buddy_alloc goes to phase B itself, and to the general path only when no certain
 * class has an extent. An extent that changes but stays in its class moves one window bit, or none.
 * The search is exhaustive: a request fails only when no free run of n units in [lo, hi) has a valid
 * start (natural alignment for powers of two, the divisor, else any start). Taking a run removes
 * the extent and indexes what is left before and after it (usually one start bit moves).
 *
 * Costs: free and phases A and B are O(levels) bit operations (levels <= 6); phase C is linear in
 * the extents of a quarter-octave class, only when no certain class has an extent, and amortised by
 * the hints. buddy_check is O(metadata + extents); buddy_census is O(extents).
 *
 * Measured (tests/bench/bench_buddy.c: 262144 units, median ns/op of 5 seeds x 10^7 steps, this code
 * and the plain power-of-two rounding on the same code, run back to back on a shared, loaded 2-core
 * machine; instructions per step from callgrind, deterministic, the benchmark loop's ~70 included):
 *                     this design                      pow2 rounding (same code)
 *   uniform/50 %      56 ns, 0.00 %, 425 instr/op      45 ns, 0 %,             446 instr/op
 *   uniform/75 %      56 ns, 0.00 %, 424 instr/op      42 ns, 27.2 % failures, 532 instr/op
 *   skewed/50 %       53 ns, 0.00 %, 366 instr/op      44 ns, 0 %,             399 instr/op
 *   skewed/75 %       54 ns, 0.00 %, 367 instr/op      50 ns, 21.3 % failures, 426 instr/op
 * (before the unbounded fast path and class moves: 523/522/449/450 instr/op, 64-70 ns.) Still above
 * the 40 ns/op target: the rest is ~6-8 summarised-bitmap updates and searches per operation (start,
 * end, class bits; class bitmaps are sparse, so a set or clear usually walks every level), plus the
 * benchmark loop's cache misses on its 2 MiB reservation table. The previous design (per-order buddy
 * bitmaps, runs as binary decompositions) measured 110/298-405/76/94 ns with 2.73 % failures at
 * uniform/75 %. Rejected: phase A for unconstrained requests (2 candidates: +20 %
 * time for nothing now that failures are 0); one class per octave (uncertain classes twice as wide:
 * more phase C, 0.3 % failures without phase A); a unit bitmap instead of start/end (n/64 word
 * writes per run, O(n) for large runs).
 */
#include "buddy.h"
#include "kprintf.h"
#include "kassert.h"

#define BUDDY_NONE UINT64_MAX
#define BUDDY_ONE ((uint64_t)1)

/* Candidates tried in phase A (classes that may or may not fit) before phase B: for requests
 * without a constraint, and for aligned or divisible ones. */
#ifndef BUDDY_TIGHT
#define BUDDY_TIGHT 0
#endif
#ifndef BUDDY_TIGHT_ALIGNED
#define BUDDY_TIGHT_ALIGNED 4
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

/* Largest order of a block inside npages units (0 for an empty allocator). */
static unsigned buddy_max_order_for(uint64_t npages)
{
	if (npages == 0)
		return 0;
	return MIN(buddy_log2_floor(npages), (unsigned)BUDDY_MAX_ORDER);
}

/* Size classes of free extents, by length: 0: 1; 1: 2..3; 2: 4..7; then for each octave p >= 3
 * four quarters, class 3 + 4(p-3) + q holding [2^p + q 2^(p-2), 2^p + (q+1) 2^(p-2)). Octaves
 * stop at max_order (longer extents, only in regions over 2^31 units, join its last class). */
#define BUDDY_O4(p) p, p, p, p
#define BUDDY_M4(p) BUDDY_ONE << (p), 5 * BUDDY_ONE << ((p) - 2), 6 * BUDDY_ONE << ((p) - 2), 7 * BUDDY_ONE << ((p) - 2)
#define BUDDY_X28(F) F(3), F(4), F(5), F(6), F(7), F(8), F(9), F(10), F(11), F(12), F(13), F(14), F(15), \
	F(16), F(17), F(18), F(19), F(20), F(21), F(22), F(23), F(24), F(25), F(26), F(27), F(28), F(29), F(30)
_Static_assert(BUDDY_MAX_ORDER == 30 && BUDDY_CLASSES == 3 + 4 * 28, "class tables: octaves 3..30");
/* Octave (window shift) and shortest extent of each class, as tables (see buddy_class). */
static const uint8_t buddy_octave_tab[BUDDY_CLASSES] = { 0, 1, 2, BUDDY_X28(BUDDY_O4) };
static const uint64_t buddy_min_tab[BUDDY_CLASSES] = { 1, 2, 4, BUDDY_X28(BUDDY_M4) };

static inline unsigned buddy_class_octave(unsigned c)
{
	return buddy_octave_tab[c];
}

/* Shortest extent of class c. */
static inline uint64_t buddy_class_min(unsigned c)
{
	return buddy_min_tab[c];
}

/* Classes used with largest order maxo. */
static inline unsigned buddy_nclasses(unsigned maxo)
{
	return maxo < 3 ? maxo + 1 : 4 * maxo - 5;
}

/* Class of a free extent of len >= 1 units. */
static inline unsigned buddy_class(const struct buddy *b, uint64_t len)
{
	unsigned p = buddy_log2_floor(len);
	if (p > b->max_order)
		return b->nclasses - 1;
	return p < 3 ? p : 3 + 4 * (p - 3) + (unsigned)((len >> (p - 2)) & 3);
}

/* Class of a free extent of len units, 1 <= len <= npages, and in *p the octave of its windows
 * (the same as buddy_class, without looking at b: only regions over 2^31 units cap the octave). */
static inline unsigned buddy_ext_class(uint64_t len, unsigned *p)
{
	unsigned q = buddy_log2_floor(len);
	if (__builtin_expect(q > BUDDY_MAX_ORDER, 0)) {
		*p = BUDDY_MAX_ORDER;
		return BUDDY_CLASSES - 1;
	}
	*p = q;
	return q < 3 ? q : 4 * q - 9 + (unsigned)((len >> (q - 2)) & 3);
}

/* ------------------------------------------------------------------ summarised bitmaps */

/* Lays out a bitmap of nbits bits at word offset *off of meta (b's fields filled when b is set). */
static void bm_layout(struct buddy_bm *bm, uint64_t nbits, void *meta, uint64_t *off)
{
	unsigned l = 0;
	do {
		KASSERT(l < BUDDY_LEVELS, "buddy: %llu bits need too many levels", (unsigned long long)nbits);
		uint64_t words = (nbits + 63) >> 6;
		if (bm) {
			bm->lv[l] = (uint64_t *)meta + *off;
			bm->nb[l] = nbits;
		}
		*off += words;
		nbits = words;
		l++;
	} while (nbits > 1);
	if (bm)
		bm->nl = l;
}

static inline bool bm_test(const struct buddy_bm *bm, uint64_t i)
{
	return (bm->lv[0][i >> 6] >> (i & 63)) & 1;
}

/* Sets bit i and the summary bits above it that were clear. */
static inline void bm_set(struct buddy_bm *bm, uint64_t i)
{
	uint64_t *w = &bm->lv[0][i >> 6], old = *w;
	*w = old | (BUDDY_ONE << (i & 63));
	for (unsigned l = 1; !old && l < bm->nl; l++) {
		i >>= 6;
		w = &bm->lv[l][i >> 6];
		old = *w;
		*w = old | (BUDDY_ONE << (i & 63));
	}
}

/* Clears bit i and the summary bits above it whose word became empty. */
static inline void bm_clear(struct buddy_bm *bm, uint64_t i)
{
	uint64_t *w = &bm->lv[0][i >> 6];
	*w &= ~(BUDDY_ONE << (i & 63));
	for (unsigned l = 1; !*w && l < bm->nl; l++) {
		i >>= 6;
		w = &bm->lv[l][i >> 6];
		*w &= ~(BUDDY_ONE << (i & 63));
	}
}

/* Moves set bit i to clear bit j (same effect as bm_clear(i), bm_set(j)). */
static inline void bm_move(struct buddy_bm *bm, uint64_t i, uint64_t j)
{
	if ((i >> 6) == (j >> 6)) {
		bm->lv[0][i >> 6] ^= (BUDDY_ONE << (i & 63)) | (BUDDY_ONE << (j & 63));
		return;
	}
	bm_clear(bm, i);
	bm_set(bm, j);
}

/* First set bit at or after i, or BUDDY_NONE. */
static inline uint64_t bm_next(const struct buddy_bm *bm, uint64_t i)
{
	unsigned l = 0;
	for (;;) {
		if (i >= bm->nb[l])
			return BUDDY_NONE;
		uint64_t w = bm->lv[l][i >> 6] & (~(uint64_t)0 << (i & 63));
		if (w) {
			i = (i & ~(uint64_t)63) | (uint64_t)__builtin_ctzll(w);
			break;
		}
		if (++l == bm->nl)
			return BUDDY_NONE;
		i = (i >> 6) + 1;
	}
	while (l > 0) {
		l--;
		i = (i << 6) | (uint64_t)__builtin_ctzll(bm->lv[l][i]);
	}
	return i;
}

/* First set bit, or BUDDY_NONE: straight down from the top word. */
static inline uint64_t bm_first(const struct buddy_bm *bm)
{
	unsigned l = bm->nl - 1;
	uint64_t w = bm->lv[l][0], i;
	if (!w)
		return BUDDY_NONE;
	i = (uint64_t)__builtin_ctzll(w);
	while (l > 0) {
		l--;
		i = (i << 6) | (uint64_t)__builtin_ctzll(bm->lv[l][i]);
	}
	return i;
}

/* Last set bit at or before i (i < nbits), or BUDDY_NONE. */
static inline uint64_t bm_prev(const struct buddy_bm *bm, uint64_t i)
{
	unsigned l = 0;
	for (;;) {
		uint64_t w = bm->lv[l][i >> 6] & (~(uint64_t)0 >> (63 - (i & 63)));
		if (w) {
			i = (i & ~(uint64_t)63) | (uint64_t)(63 - __builtin_clzll(w));
			break;
		}
		if ((i >> 6) == 0 || ++l == bm->nl)
			return BUDDY_NONE;
		i = (i >> 6) - 1;
	}
	while (l > 0) {
		l--;
		i = (i << 6) | (uint64_t)(63 - __builtin_clzll(bm->lv[l][i]));
	}
	return i;
}

/* ------------------------------------------------------------------ extents */

/* Indexes the free extent [s, s+len) in its class (its start and end bits are already set; a
 * one-unit extent sets its word's x0 bit). */
static inline void buddy_class_add_cp(struct buddy *b, uint64_t s, uint64_t len, unsigned c, unsigned p)
{
	if (c)
		bm_set(&b->cls[c], s >> p);
	else
		bm_set(&b->x0, s >> 6);
	b->next[c]++;
	b->classmask[c >> 6] |= BUDDY_ONE << (c & 63);
	if (b->hint[c] < len)
		b->hint[c] = len;
}

static inline void buddy_class_add(struct buddy *b, uint64_t s, uint64_t len)
{
	unsigned p, c = buddy_ext_class(len, &p);
	buddy_class_add_cp(b, s, len, c, p);
}

/* Drops the free extent [s, s+len) from its class (a one-unit extent clears its word's x0 bit
 * unless another one-unit extent starts in that word; its own start/end bits may or may not be
 * cleared yet, and no other one-unit extent of the word may be half-built). */
static inline void buddy_class_del_cp(struct buddy *b, uint64_t s, unsigned c, unsigned p)
{
	if (c)
		bm_clear(&b->cls[c], s >> p);
	else if (!(b->start.lv[0][s >> 6] & b->end.lv[0][s >> 6] & ~(BUDDY_ONE << (s & 63))))
		bm_clear(&b->x0, s >> 6);
	if (--b->next[c] == 0) {
		b->classmask[c >> 6] &= ~(BUDDY_ONE << (c & 63));
		b->hint[c] = 0;
	}
}

static inline void buddy_class_del(struct buddy *b, uint64_t s, uint64_t len)
{
	unsigned p, c = buddy_ext_class(len, &p);
	buddy_class_del_cp(b, s, c, p);
}

/* The free extent [os, os+olen) becomes [ns, ns+nlen) (same conditions as buddy_class_del and
 * buddy_class_add): when the class stays, one window bit moves (or none), the count is unchanged. */
static inline void buddy_class_move(struct buddy *b, uint64_t os, uint64_t olen, uint64_t ns, uint64_t nlen)
{
	unsigned op, np, oc = buddy_ext_class(olen, &op), nc = buddy_ext_class(nlen, &np);
	if (oc == nc && oc) {
		uint64_t oi = os >> op, ni = ns >> op;
		if (oi != ni)
			bm_move(&b->cls[oc], oi, ni);
		if (b->hint[oc] < nlen)
			b->hint[oc] = nlen;
		return;
	}
	buddy_class_del_cp(b, os, oc, op);
	buddy_class_add_cp(b, ns, nlen, nc, np);
}

/* The free extent containing unit u: its start, and its end in *e; BUDDY_NONE when u is not free. */
static inline uint64_t buddy_extent_at(const struct buddy *b, uint64_t u, uint64_t *e)
{
	uint64_t s = bm_prev(&b->start, u);
	if (s == BUDDY_NONE)
		return BUDDY_NONE;
	uint64_t last = bm_next(&b->end, s);
	if (last == BUDDY_NONE || last < u)
		return BUDDY_NONE;
	*e = last + 1;
	return s;
}

/* First bit at or after window i of class c (class 0: a one-unit extent at unit >= i). */
static inline uint64_t buddy_class_next(const struct buddy *b, unsigned c, uint64_t i)
{
	if (c)
		return i ? bm_next(&b->cls[c], i) : bm_first(&b->cls[c]);
	uint64_t w = i >> 6;
	if (w >= b->x0.nb[0])
		return BUDDY_NONE;
	uint64_t v = b->start.lv[0][w] & b->end.lv[0][w] & (~(uint64_t)0 << (i & 63));
	if (!v) {
		w = bm_next(&b->x0, w + 1);
		if (w == BUDDY_NONE)
			return BUDDY_NONE;
		v = b->start.lv[0][w] & b->end.lv[0][w];
	}
	return (w << 6) | (uint64_t)__builtin_ctzll(v);
}

/* The extent of class c starting in window i (windows of class c are 2^p units, p its octave; the
 * extent is at least 2^p long, so it covers the window's last unit and is the last extent starting
 * in the window); its end in *e. */
static inline uint64_t buddy_class_extent(const struct buddy *b, unsigned c, uint64_t i, uint64_t *e)
{
	if (c == 0) {
		*e = i + 1;
		return i;
	}
	uint64_t s = bm_prev(&b->start, ((i + 1) << buddy_class_octave(c)) - 1);
	*e = bm_next(&b->end, s + buddy_class_min(c) - 1) + 1;
	return s;
}

/* ------------------------------------------------------------------ setup and free */

/* Lays out the metadata for npages units (b's bitmaps set when b is not NULL); returns words. */
static uint64_t buddy_layout(uint64_t npages, struct buddy *b, void *meta)
{
	uint64_t off = 0;
	unsigned maxo = buddy_max_order_for(npages);

	bm_layout(b ? &b->start : NULL, npages, meta, &off);
	bm_layout(b ? &b->end : NULL, npages, meta, &off);
	bm_layout(b ? &b->x0 : NULL, (npages + 63) >> 6, meta, &off);
	for (unsigned c = 1; c < buddy_nclasses(maxo); c++)
		bm_layout(b ? &b->cls[c] : NULL, npages >> buddy_class_octave(c), meta, &off);
	return off;
}

/* Bytes of metadata buddy_init needs for npages units. */
size_t buddy_meta_bytes(uint64_t npages)
{
	if (npages > BUDDY_MAX_PAGES)
		return 0;
	return (size_t)(buddy_layout(npages, NULL, NULL) * sizeof(uint64_t));
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
	b->classmask[0] = b->classmask[1] = 0;
	b->nclasses = buddy_nclasses(b->max_order);
	for (unsigned c = 0; c < BUDDY_CLASSES; c++) {
		b->next[c] = 0;
		b->hint[c] = 0;
		b->cls[c].nl = 0;
		for (unsigned l = 0; l < BUDDY_LEVELS; l++) {
			b->cls[c].lv[l] = meta;
			b->cls[c].nb[l] = 0;
		}
	}
	uint64_t words = buddy_layout(npages, b, meta);
	uint64_t *w = meta;
	for (uint64_t j = 0; j < words; j++)
		w[j] = 0;
}

/* Marks [start, start+count) free, merging it with the free extents on either side: O(levels). */
void buddy_free(struct buddy *b, uint64_t start, uint64_t count)
{
	KASSERT(!range_overflows(start, count) && start + count <= b->npages,
		"buddy: freeing [%llu, +%llu) outside [0, %llu)", (unsigned long long)start,
		(unsigned long long)count, (unsigned long long)b->npages);
	if (count == 0)
		return;
	uint64_t s = start, e = start + count, x;
	if (b->paranoid) {
		uint64_t ps = bm_prev(&b->start, e - 1);
		KASSERT(ps == BUDDY_NONE || bm_next(&b->end, ps) < start,
			"buddy: double free: [%llu, +%llu) meets a free extent", (unsigned long long)start,
			(unsigned long long)count);
	}
	bool left = s > 0 && bm_test(&b->end, s - 1), right = e < b->npages && bm_test(&b->start, e);
	if (!left && !right) {
		bm_set(&b->start, s);
		bm_set(&b->end, e - 1);
		buddy_class_add(b, s, count);
	} else if (!right) {                     /* grows the extent ending at s-1 */
		x = bm_prev(&b->start, s - 1);
		bm_move(&b->end, s - 1, e - 1);
		buddy_class_move(b, x, s - x, x, e - x);
	} else if (!left) {                      /* grows the extent starting at e */
		x = bm_next(&b->end, e) + 1;
		bm_move(&b->start, e, s);
		buddy_class_move(b, e, x - e, s, x - s);
	} else {                                 /* joins both */
		uint64_t ls = bm_prev(&b->start, s - 1), re = bm_next(&b->end, e) + 1;
		bm_clear(&b->end, s - 1);
		bm_clear(&b->start, e);
		buddy_class_del(b, e, re - e);
		buddy_class_move(b, ls, s - ls, ls, re - ls);
	}
	b->free_units += count;
}

/* ------------------------------------------------------------------ allocation */

/* A normalised allocation request. */
struct buddy_req {
	uint64_t n;       /* units wanted */
	uint64_t lo, hi;  /* the run lies in [lo, hi), hi <= npages, hi - lo >= n */
	bool div;         /* divisor mode, else alignment mode */
	uint64_t align;   /* alignment mode: the start is a multiple of align (a power of two) */
	uint64_t d, dmod; /* divisor mode: (dmod + start) % d == 0, with dmod = origin % d */
	unsigned kmin;    /* lowest class that can hold n units */
	unsigned g;       /* classes >= g always hold a placement (inside [lo, hi)) */
};

/* A placement found by the search: the run starts at x inside free extent [s, e) of class c. */
struct buddy_hit {
	uint64_t x, s, e;
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

/* The first placement of r inside free extent [s, e), or BUDDY_NONE. */
static inline uint64_t buddy_fit(const struct buddy_req *r, uint64_t s, uint64_t e)
{
	uint64_t cs = MAX(s, r->lo), ce = MIN(e, r->hi), x;
	if (ce <= cs || ce - cs < r->n)
		return BUDDY_NONE;
	if (!r->div)
		x = (cs + (r->align - 1)) & ~(r->align - 1);
	else
		x = buddy_next_multiple(r, cs);
	return x <= ce - r->n ? x : BUDDY_NONE;
}

/* Tries the extents of class c starting in windows meeting [lo, hi) in address order, at most
 * *budget of them (no limit when budget is NULL); fills h and returns true on a fit. *maxlen: the
 * longest extent seen. */
static bool buddy_scan_class(const struct buddy *b, const struct buddy_req *r, unsigned c,
			     unsigned *budget, uint64_t *maxlen, struct buddy_hit *h)
{
	unsigned p = buddy_class_octave(c);
	uint64_t last = (r->hi - 1) >> p;

	for (uint64_t i = r->lo >> p;; i++) {
		if (budget && *budget == 0)
			return false;
		i = buddy_class_next(b, c, i);
		if (i == BUDDY_NONE || i > last)
			return false;
		if (budget)
			(*budget)--;
		uint64_t e, s = buddy_class_extent(b, c, i, &e);
		if (e - s > *maxlen)
			*maxlen = e - s;
		uint64_t x = buddy_fit(r, s, e);
		if (x != BUDDY_NONE) {
			h->x = x;
			h->s = s;
			h->e = e;
			return true;
		}
		if (c == 0)
			i = s;
	}
}

/* The first class >= c whose mask bit is set, or >= nclasses. */
static inline unsigned buddy_mask_next(const struct buddy *b, unsigned c)
{
	uint64_t m;
	if (c < 64) {
		m = b->classmask[0] & (~(uint64_t)0 << c);
		if (m)
			return (unsigned)__builtin_ctzll(m);
		c = 64;
	}
	if (c >= 128)
		return 128;
	m = b->classmask[1] & (~(uint64_t)0 << (c - 64));
	return m ? 64 + (unsigned)__builtin_ctzll(m) : 128;
}

/* Finds a placement for r (phases A, B, C of the comment at the top); true when found. */
static bool buddy_search(struct buddy *b, const struct buddy_req *r, struct buddy_hit *h)
{
	unsigned budget = r->div || r->align > 1 ? BUDDY_TIGHT_ALIGNED : BUDDY_TIGHT;
	uint64_t maxlen = 0;

	/* the free extent holding lo, when it starts before lo, is not seen from the class windows */
	if (r->lo > 0 && bm_prev(&b->start, r->lo) != r->lo) {
		uint64_t e, s = buddy_extent_at(b, r->lo, &e);
		if (s != BUDDY_NONE && (h->x = buddy_fit(r, s, e)) != BUDDY_NONE) {
			h->s = s;
			h->e = e;
			return true;
		}
	}
	/* A: the classes that may hold a fit, a few candidates (tight fits keep big extents whole) */
	for (unsigned c = r->kmin; c < r->g && budget; c++)
		if (b->hint[c] >= r->n && buddy_scan_class(b, r, c, &budget, &maxlen, h))
			return true;
	/* B: the smallest class whose every extent holds a placement (only [lo, hi) can cut one) */
	for (unsigned c = buddy_mask_next(b, r->g); c < b->nclasses; c = buddy_mask_next(b, c + 1)) {
		if (r->lo == 0 && r->hi == b->npages) {
			/* no bounds: the class's first extent fits */
			uint64_t i = buddy_class_next(b, c, 0);
			h->s = buddy_class_extent(b, c, i, &h->e);
			h->x = buddy_fit(r, h->s, h->e);
			KASSERT(h->x != BUDDY_NONE, "buddy: class %u extent [%llu, %llu) cannot hold %llu units",
				c, (unsigned long long)h->s, (unsigned long long)h->e, (unsigned long long)r->n);
			return true;
		}
		if (buddy_scan_class(b, r, c, NULL, &maxlen, h))
			return true;
	}
	/* C: every extent of the uncertain classes; a failed full scan tightens the class's hint */
	for (unsigned c = r->kmin; c < r->g; c++) {
		if (b->hint[c] < r->n)
			continue;
		maxlen = 0;
		if (buddy_scan_class(b, r, c, NULL, &maxlen, h))
			return true;
		if (r->lo == 0 && r->hi == b->npages)
			b->hint[c] = maxlen;
	}
	return false;
}

/* Fills r for count units, divisor, inside [lo, hi) (already clipped and checked). */
static void buddy_make_req(const struct buddy *b, struct buddy_req *r, uint64_t count,
			   uint64_t divisor, uint64_t lo, uint64_t hi)
{
	unsigned p = buddy_log2_floor(count), maxo = b->max_order;
	uint64_t slack;


	r->n = count;
	r->lo = lo;
	r->hi = hi;
	r->div = divisor > 1 && ((divisor & (divisor - 1)) != 0 || (b->origin & (divisor - 1)) != 0);
	if (!r->div) {
		uint64_t a = (count & (count - 1)) == 0 && p <= maxo ? count : 1;
		r->align = divisor > a ? divisor : a;
		slack = r->align - 1;
	} else {
		r->d = divisor;
		r->dmod = b->origin % divisor;
		slack = divisor - 1;
	}
	r->kmin = buddy_class(b, count);
	if (slack > b->npages) {
		r->g = b->nclasses;
	} else {
		r->g = buddy_class(b, count + slack);
		if (buddy_class_min(r->g) < count + slack)
			r->g++;
	}
}

/* Allocates count contiguous units (see buddy.h); the placement policy is described at the top. */
bool buddy_alloc(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
		 uint64_t *start)
{
	struct buddy_req r;
	struct buddy_hit h;

	if (hi > b->npages)
		hi = b->npages;
	if (count == 0 || lo >= hi || count > hi - lo || count > b->free_units)
		return false;
	if (lo == 0 && hi == b->npages && divisor <= 1 && (count == 1 || (count & (count - 1))) &&
	    count < (BUDDY_ONE << BUDDY_MAX_ORDER)) {
		/* the common request, no bounds nor alignment: phase B straight, from the smallest class
		 * whose shortest extent is >= count (the class of count, or the next one) */
		unsigned p, g = buddy_ext_class(count, &p), gran = p < 3 ? p : p - 2;
		g += (count & ((BUDDY_ONE << gran) - 1)) != 0;
		unsigned c = buddy_mask_next(b, g);
		if (c < b->nclasses) {
			uint64_t i = buddy_class_next(b, c, 0);
			h.s = buddy_class_extent(b, c, i, &h.e);
			h.x = h.s;
			goto take;
		}
	}
	buddy_make_req(b, &r, count, divisor, lo, hi);
	if (!buddy_search(b, &r, &h))
		return false;
take:;
	uint64_t x = h.x, end = x + count;
	KASSERT(x >= lo && end <= hi && h.s <= x && end <= h.e, "buddy: placement %llu outside bounds",
		(unsigned long long)x);
	if (x == h.s && end < h.e) {
		bm_move(&b->start, x, end);   /* the common case: the front of the extent */
		buddy_class_move(b, h.s, h.e - h.s, end, h.e - end);
	} else {
		buddy_class_del(b, h.s, h.e - h.s);
		if (x == h.s)
			bm_clear(&b->start, x);
		else {
			bm_set(&b->end, x - 1);
			buddy_class_add(b, h.s, x - h.s);
		}
		if (end == h.e)
			bm_clear(&b->end, end - 1);
		else {
			bm_set(&b->start, end);
			buddy_class_add(b, end, h.e - end);
		}
	}
	b->free_units -= count;
	*start = x;
	return true;
}

/* Turns the double-free check of buddy_free on or off (off after buddy_init). */
void buddy_set_paranoid(struct buddy *b, bool on)
{
	b->paranoid = on;
}

/* ------------------------------------------------------------------ queries and checks */

/* True when every unit of [start, start+count) is free (false when the range leaves [0, npages)). */
bool buddy_range_is_free(const struct buddy *b, uint64_t start, uint64_t count)
{
	uint64_t e;

	if (range_overflows(start, count) || start > b->npages || count > b->npages - start)
		return false;
	return count == 0 || (buddy_extent_at(b, start, &e) != BUDDY_NONE && e >= start + count);
}

/* Free blocks per order: the maximal naturally aligned blocks (at most 2^max_order units) of the
 * free extents, i.e. what a binary buddy with the same free units would hold. O(extents). */
void buddy_census(const struct buddy *b, uint64_t out[BUDDY_ORDERS])
{
	for (unsigned k = 0; k < BUDDY_ORDERS; k++)
		out[k] = 0;
	for (uint64_t s = bm_next(&b->start, 0); s != BUDDY_NONE; s = bm_next(&b->start, s + 1)) {
		uint64_t e = bm_next(&b->end, s) + 1;
		for (uint64_t a = s; a < e;) {
			unsigned k = MIN(buddy_log2_floor(e - a), b->max_order);
			if (a)
				k = MIN(k, (unsigned)__builtin_ctzll(a));
			out[k]++;
			a += BUDDY_ONE << k;
		}
	}
}

/* Checks the summary levels of bm and its bits past the end; 0 or -1. */
static int buddy_check_bm(const struct buddy_bm *bm, const char *name, unsigned c)
{
	for (unsigned l = 0; l < bm->nl; l++) {
		const uint64_t *w = bm->lv[l];
		uint64_t nbits = bm->nb[l], words = (nbits + 63) >> 6;
		if ((nbits & 63) && words && (w[words - 1] >> (nbits & 63))) {
			kprintf("buddy_check: %s %u level %u: bits set past the end (word %llx)\n", name, c, l,
				(unsigned long long)w[words - 1]);
			return -1;
		}
		if (l + 1u < bm->nl) {
			const uint64_t *up = bm->lv[l + 1];
			for (uint64_t j = 0; j < words; j++) {
				bool sum = (up[j >> 6] >> (j & 63)) & 1;
				if (sum != (w[j] != 0)) {
					kprintf("buddy_check: %s %u level %u: summary bit %llu is %d but word is %llx\n",
						name, c, l + 1, (unsigned long long)j, sum, (unsigned long long)w[j]);
					return -1;
				}
			}
		}
	}
	return 0;
}

/* Verifies every invariant; returns 0, or -1 after printing the first violation. */
int buddy_check(const struct buddy *b)
{
	uint64_t total = 0, cnt[BUDDY_CLASSES] = { 0 }, longest[BUDDY_CLASSES] = { 0 };
	unsigned maxo = b->max_order;

	if (maxo != buddy_max_order_for(b->npages) || b->free_units > b->npages ||
	    b->nclasses != buddy_nclasses(maxo)) {
		kprintf("buddy_check: header: npages %llu max_order %u free %llu\n",
			(unsigned long long)b->npages, maxo, (unsigned long long)b->free_units);
		return -1;
	}
	if (buddy_check_bm(&b->start, "starts", 0) < 0 || buddy_check_bm(&b->end, "ends", 0) < 0 ||
	    buddy_check_bm(&b->x0, "x0", 0) < 0)
		return -1;
	for (uint64_t w = 0; w < b->x0.nb[0]; w++) {
		if (bm_test(&b->x0, w) != ((b->start.lv[0][w] & b->end.lv[0][w]) != 0)) {
			kprintf("buddy_check: x0 bit %llu disagrees with the one-unit extents\n",
				(unsigned long long)w);
			return -1;
		}
	}
	for (unsigned c = 1; c < b->nclasses; c++)
		if (buddy_check_bm(&b->cls[c], "class", c) < 0)
			return -1;
	/* the extents: starts and ends alternate, each extent is followed by an allocated unit */
	uint64_t s = bm_next(&b->start, 0), last_end = bm_next(&b->end, 0);
	if (s == BUDDY_NONE ? last_end != BUDDY_NONE : last_end == BUDDY_NONE || last_end < s) {
		kprintf("buddy_check: first end %llu before first start %llu\n",
			(unsigned long long)last_end, (unsigned long long)s);
		return -1;
	}
	while (s != BUDDY_NONE) {
		uint64_t le = bm_next(&b->end, s), ns = bm_next(&b->start, s + 1);
		uint64_t ne = le == BUDDY_NONE ? BUDDY_NONE : bm_next(&b->end, le + 1);
		if (le == BUDDY_NONE || (ns != BUDDY_NONE && ns <= le + 1) ||
		    (ne != BUDDY_NONE && (ns == BUDDY_NONE || ne < ns))) {
			kprintf("buddy_check: extent at %llu: end %llu, next start %llu, next end %llu\n",
				(unsigned long long)s, (unsigned long long)le, (unsigned long long)ns,
				(unsigned long long)ne);
			return -1;
		}
		uint64_t len = le + 1 - s;
		unsigned c = buddy_class(b, len);
		if (c && !bm_test(&b->cls[c], s >> buddy_class_octave(c))) {
			kprintf("buddy_check: extent [%llu, +%llu) missing from class %u\n",
				(unsigned long long)s, (unsigned long long)len, c);
			return -1;
		}
		cnt[c]++;
		longest[c] = MAX(longest[c], len);
		total += len;
		s = ns;
	}
	for (unsigned c = 0; c < BUDDY_CLASSES; c++) {
		uint64_t bits = 0;
		bool inmask = (b->classmask[c >> 6] >> (c & 63)) & 1;
		if (c && c < b->nclasses)
			for (uint64_t i = bm_next(&b->cls[c], 0); i != BUDDY_NONE; i = bm_next(&b->cls[c], i + 1))
				bits++;
		if (c == 0 || c >= b->nclasses)
			bits = cnt[c];
		if (cnt[c] != b->next[c] || bits != cnt[c] || inmask != (cnt[c] != 0) || b->hint[c] < longest[c]) {
			kprintf("buddy_check: class %u: %llu extents, %llu bits, count %llu, mask %d, hint %llu < %llu\n",
				c, (unsigned long long)cnt[c], (unsigned long long)bits,
				(unsigned long long)b->next[c], (int)inmask, (unsigned long long)b->hint[c],
				(unsigned long long)longest[c]);
			return -1;
		}
	}
	if (b->classmask[1] >> (BUDDY_CLASSES - 64)) {
		kprintf("buddy_check: class mask %llx\n", (unsigned long long)b->classmask[1]);
		return -1;
	}
	if (total != b->free_units) {
		kprintf("buddy_check: extents sum to %llu free units, free_units says %llu\n",
			(unsigned long long)total, (unsigned long long)b->free_units);
		return -1;
	}
	return 0;
}

/* Prints the free extents per class, the census and the totals. */
void buddy_dump(const struct buddy *b)
{
	unsigned long long pct = b->npages ? b->free_units * 1000 / b->npages : 0;
	uint64_t census[BUDDY_ORDERS];

	kprintf("buddy: %llu units at origin %llu, %llu free (%llu.%llu%%), %llu metadata bytes\n",
		(unsigned long long)b->npages, (unsigned long long)b->origin,
		(unsigned long long)b->free_units, pct / 10, pct % 10,
		(unsigned long long)buddy_meta_bytes(b->npages));
	buddy_census(b, census);
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t ext = 0;
		for (unsigned c = 0; c < b->nclasses; c++)
			if (buddy_class_octave(c) == k)
				ext += b->next[c];
		if (ext || census[k])
			kprintf("  order %2u (%10llu units): %8llu free extents of [2^k, 2^(k+1)), %8llu aligned blocks\n",
				k, (unsigned long long)(BUDDY_ONE << k), (unsigned long long)ext,
				(unsigned long long)census[k]);
	}
}
