/*
 * buddy_: the buddy allocator's contract over maximal free extents.
 *
 * Runs are allocated and coalesced as a binary buddy does, and powers of two are naturally aligned
 * where that costs nothing, but sizes are exact and a run may start anywhere: the free set is kept
 * as maximal extents on segregated lists, threaded through the free units' own slots as NT threads
 * its free system PTEs through the not-present PTEs themselves. Unlike a binary buddy it never
 * requires alignment: a request without a divisor fails only when no free run of its length
 * exists (inside its bounds).
 *
 * Representation. A free extent [s, e) is maximal (units s-1 and e are allocated or outside).
 *   start, end (metadata): bit s of start and bit e-1 of end are set for every free extent. start
 *     has 64-ary summary levels (bit j of level l+1 set iff word j of level l is non-zero), so the
 *     last start at or before any unit is one find-last-set per level; end is only ever tested,
 *     so it has none.
 *   record (slots, buddy.h): slot(s) = next and previous links of the extent's class list, each
 *     one 32-bit half of the slot, so an unlink or a push rewrites a list neighbour's link with a
 *     store alone and never waits for that neighbour's line (a random extent's record, which a
 *     large region's caches rarely hold); for two units or more slot(s+1) = its length. Bit 0
 *     stays clear (a not-present PTE). Slots of allocated units are never read or written: they
 *     are the caller's (a mapped PTE).
 *   classes: class 4q + k holds the lengths 2^q + k 2^(q-2) .. (k+1) 2^(q-2) - 1 above 2^q (an
 *     octave split in quarters; 1, 2, 3 alone). Per class: a list head, a count, a bit in a
 *     two-word mask of non-empty classes, and a hint (an upper bound of its longest extent, raised
 *     on insertion, tightened by a failed full scan). A list head's previous link means nothing,
 *     so taking the head touches no other extent.
 * Metadata: 1 + 1/63 bits/unit for start, 1 for end (about a quarter of a byte per unit), plus
 * two slots of each free extent, which the region's free PTEs (or the free pages) provide.
 * buddy_init zeroes the bitmaps and touches no slot.
 * Level 0 of both bitmaps (all but 1/63 of the metadata) is one array of word pairs, start word w
 * then end word w (BUDDY_BM_STRIDE, mm/buddy_impl.h): a free tests end bit s-1 and start bit e,
 * searches the start bitmap back from s-1 and moves bits at s and e-1, so around a short run
 * those are one cache line instead of two or four. It is reached through a directory of pieces
 * of BUDDY_PIECE_WORDS strided words per bitmap: for buddy_init the pieces are consecutive parts of
 * the flat block, for buddy_init_dir (the system PTE region) they are chunks of one page (the
 * paired start and end pieces of the same 2^14 units) that the caller installs before an
 * operation may set a bit in them, and a missing chunk's pieces are buddy_zero_piece, so reads
 * need no test: every word there is zero and so are the summary bits above it. The bits a take or
 * a free sets lie at the run's ends and their neighbours (s - 1, s, e - 1, e); a merge only clears
 * bits. So chunks are made when a range is reserved, never when it is freed, and a region's set-up
 * zeroes only the summaries and the directories (about 1/400 of a byte per unit). A flat allocator reads its
 * block and its slot array straight: the hot functions are compiled once per form (BUDDY_HOT
 * below), so only the chunked one pays the directories' extra dependent loads; the README's
 * benchmark tables measure both against the code before chunks. The hot paths look a unit's pair
 * up once for every bit they test or move there (a take's extent start; a free's units s-1 and e,
 * whose start word also begins the left search) and a record's slots once for all their accesses
 * (a slot store may alias the directories' entries, which would be reread after each); the end
 * bitmap, which has no summaries (buddy_check verifies it), is moved in its pair alone.
 *
 * Free [s, s+n): end bit s-1 set: merge with the extent ending there (its start: the last start
 * before s); start bit s+n set: merge with the extent starting there (its length: its record). The
 * merged extent keeps its list place when its class stays (its record moves if its start moves),
 * else it changes lists. O(levels) bit operations and O(1) list operations, whatever n.
 * buddy_free first proves the range meets no free unit: the last start at or before s+n-1 lies
 * before s and its extent ends at or before s (when end bit s-1 is set, that start is the one to
 * merge with, so the check costs nothing more; else one bitmap search and at most a record read),
 * else it refuses and nothing changes. buddy_free_allocated skips the proof, for a caller whose
 * own records show the range allocated (the system PTE region frees a reservation it has looked
 * up); buddy_free_list proves a whole list (runs, repeats) before it frees any of it.
 *
 * Allocation of n units. The required rule is a divisor d (d-1 units of slack) or, when d is a
 * power of two dividing origin, plain index alignment to d; without a divisor none. Natural
 * alignment of a power of two (a start on a multiple of n) is preferred, never required: it is
 * taken when it costs nothing (phases A and B below), as it keeps large aligned blocks whole and
 * lets 2 MiB runs map with large pages. Every extent of a class whose shortest length is >= n +
 * slack holds a placement: those classes are "certain"; the classes from class(n) below them are
 * "uncertain".
 *   Fast path (no bounds, no divisor, n = 1 or not a power of two): the head of the smallest
 *     non-empty certain class (mask: one find-first-set), allocated from its back, so the record
 *     stays where it is and only its length changes while the class stays (the common case).
 *   Preferred pass (a power of two without a divisor, or with a smaller one): phases A and B with
 *     natural alignment as the rule; no phase C, so it costs O(1) candidates.
 *   A. aligned or divisible requests: up to BUDDY_TIGHT_ALIGNED candidates of the uncertain
 *      classes (from the first whose extents are all >= n), a tight fit keeping large extents
 *      whole;
 *   B. the head of the smallest non-empty certain class, placed at its first valid start (the
 *      first naturally aligned one when that fits in the extent);
 *   C. every extent of the uncertain classes whose hint is >= n; a failed full scan sets the hint
 *      to the longest extent seen, so failures of the same size are O(1) until a longer extent
 *      joins the class. A power of two without a divisor has no uncertain class (2^q is the
 *      shortest length of its class), so its fallback is O(1) too.
 *   With bounds [lo, hi) (physical allocations under an address limit; the region never has any):
 *      first fit over the extents meeting [lo, hi) in address order, through the start bitmap;
 *      the first naturally aligned fit when there is one, else the first fit.
 * The search is exhaustive for the required rule: a request fails only when no free run of n units
 * in [lo, hi) has a valid start (the divisor's multiples, else any start). Divisor remainders use
 * one multiplication per candidate (buddy_mod), not a division.
 *
 * Costs: free and the fast path are O(levels) bit operations (levels <= 6) plus O(1) list
 * operations; phases A and B are O(1) candidates; phase C is linear in the extents of the
 * uncertain classes, only when no certain class has an extent, and amortised by the hints;
 * bounded requests are linear in the extents inside the bounds. buddy_check is O(metadata +
 * extents); buddy_check_window is O(summary levels + extents + its window); buddy_census is
 * O(extents). The measured costs against a plain power-of-two buddy in
 * the same process are the README's allocator benchmark table (tests/bench/bench_buddy.c).
 *
 * Designs this one replaced: per-order buddy bitmaps with runs as binary decompositions (several
 * times slower, and failures at high occupancy from the decompositions); free extents indexed by
 * per-class window bitmaps with 64-ary summaries and nothing in the slots (about twice the
 * metadata, and every class change walked the summary levels of two sparse bitmaps). Lists through
 * the slots replace those walks by a few pointer updates; what remains is mostly cache misses on
 * slots of random extents.
 * Rejected: address-ordered lists (O(n) insertion); allocating from the front (the record moves
 * and its list neighbours are touched even when the class stays: more cache misses per step); one
 * class per octave (uncertain classes twice as wide: more phase C, and more failures of divisible
 * requests); rounding to powers of two (a quarter of the requests refused at high occupancy, the
 * benchmark's "pow2" column) or giving the tail back (as many, "tail"); requiring natural
 * alignment of powers of two (refuses them while longer runs are free); a separate slot array
 * (8 bytes per unit of metadata); summary levels on end (every move of an end bit on the fast
 * path would walk them, to save one record read per checked free); deciding the check from the
 * level-0 words around s alone (at the usual occupancies the nearest start or end is rarely in
 * the same word, so the summaries are searched anyway: more instructions, not fewer); leaving an
 * extent on its class list when a merge grows it out of its class (most merges still move a
 * record or drop an extent, which touch the same neighbours, and a search must then also look
 * below the request's class; docs/design.md); prefetching, once the bitmaps are read, the left
 * neighbour's record and the right one's list neighbours (nothing the out-of-order core did not
 * already overlap); the take's rare cases (an extent's front, middle or whole) out of line (the
 * placement then passes through memory: more instructions on the common back take); the summary
 * loops bounded by a constant to be unrolled (more instructions per free).
 */
#include "buddy_impl.h"
#include "kprintf.h"
#include "kassert.h"

#define BUDDY_NONE UINT64_MAX
#define BUDDY_ONE ((uint64_t)1)

/* ------------------------------------------------------------------ small helpers */

/* floor(log2(x)), x >= 1. */
static inline unsigned buddy_log2_floor(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/* Largest order of a block inside npages units (0 for an empty allocator). */
static unsigned buddy_max_order_for(uint64_t npages)
{
	if (npages == 0)
		return 0;
	return MIN(buddy_log2_floor(npages), (unsigned)BUDDY_MAX_ORDER);
}

/* Size classes of free extents, by length: class 4q + k holds the lengths whose octave is q
 * (2^q <= len < 2^(q+1)) and whose next two bits are k, i.e. [2^q + k 2^(q-2), 2^q + (k+1) 2^(q-2))
 * for q >= 2; lengths 1, 2 and 3 have classes 0, 4 and 6 to themselves (1, 2, 3, 5, 7 stay empty).
 * Classes are ordered as the lengths they hold. */
_Static_assert(BUDDY_CLASSES == 4 * (BUDDY_MAX_ORDER + 1) && BUDDY_CLASSES <= 128 &&
	       BUDDY_MAX_PAGES < (BUDDY_ONE << (BUDDY_MAX_ORDER + 1)), "two mask words hold every class");

/* Octave of class c. */
static inline unsigned buddy_class_octave(unsigned c)
{
	return c >> 2;
}

/* Shortest length of class c (c the class of some length). */
static inline uint64_t buddy_class_min(unsigned c)
{
	return ((((uint64_t)4 + (c & 3)) << (c >> 2)) + 3) >> 2;
}

/* Classes used with largest order maxo. */
static inline unsigned buddy_nclasses(unsigned maxo)
{
	return 4 * (maxo + 1);
}

/* Class of a free extent of len units, 1 <= len <= BUDDY_MAX_PAGES: the octave and the two bits
 * below the leading one (branch-free: small extents are common and their lengths random). */
static inline unsigned buddy_ext_class(uint64_t len)
{
	unsigned q = buddy_log2_floor(len);
	return 4 * q + (unsigned)(((len << 2) >> q) & 3);
}

/* The smallest class whose every extent is >= len units: len's own class when len is its shortest
 * length, else the next one (possibly empty). */
static inline unsigned buddy_class_atleast(uint64_t len)
{
	unsigned c = buddy_ext_class(len);
	return c + (buddy_class_min(c) < len);
}

/* ------------------------------------------------------------------ summarised bitmaps */

uint64_t buddy_zero_piece[BUDDY_PIECE_WORDS * BUDDY_BM_STRIDE];

/* Pieces of level 0 for nbits bits. */
static inline uint64_t bm_npieces(uint64_t nbits)
{
	return (((nbits + 63) >> 6) + BUDDY_PIECE_WORDS - 1) >> BUDDY_PIECE_SHIFT;
}

/* Lays out a bitmap of nbits bits at word offset *off of meta (b's fields filled when b is set):
 * its level-0 piece directory and summary levels up to a single word, or (flat) none: read and
 * written a bit at a time (end_test_at, end_set_at, end_clear_at; counted in the checks).
 * Its level 0 is lane lane of the pair array at word offset l0 of meta (buddy_layout), or,
 * chunked, the pieces the caller installs. */
static void bm_layout(struct buddy_bm *bm, uint64_t nbits, void *meta, uint64_t *off, uint64_t l0,
		      unsigned lane, bool flat, bool chunked)
{
	unsigned l = 0;
	if (bm) {
		bm->piece = (uint64_t **)((uint64_t *)meta + *off);
		bm->lv[0] = chunked ? NULL : (uint64_t *)meta + l0 + lane;
		bm->nb[0] = nbits;
	}
	*off += bm_npieces(nbits);
	for (nbits = (nbits + 63) >> 6, l = 1; nbits > 1 && !flat; nbits = (nbits + 63) >> 6, l++) {
		KASSERT(l < BUDDY_LEVELS, "buddy: %llu bits need too many levels", (unsigned long long)nbits);
		if (bm) {
			bm->lv[l] = (uint64_t *)meta + *off;
			bm->nb[l] = nbits;
		}
		*off += (nbits + 63) >> 6;
	}
	if (bm)
		bm->nl = l;
}

/*
 * The two forms of the allocator. Every function that reads the bitmaps' level 0 or the slots takes
 * ch: the allocator is chunked (buddy_init_dir), else flat (buddy_init). The entry points test
 * b->chunked once and call an always-inlined body with ch a constant, so each has two compiled
 * forms: the flat one reads its block and its slot array straight (the physical allocator's
 * path, as before chunks existed), the chunked one goes through the piece and slot directories.
 * Reports and checks pass b->chunked as it is.
 */
#define BUDDY_HOT static inline __attribute__((always_inline))

/* Word w of level 0: straight into the flat pair array, or (chunked) through the piece directory;
 * either way BUDDY_BM_STRIDE words after word w - 1 (buddy_impl.h: start and end paired). */
BUDDY_HOT uint64_t *bm_w0(const struct buddy_bm *bm, uint64_t w, bool ch)
{
	if (!ch)
		return bm->lv[0] + w * BUDDY_BM_STRIDE;
	return buddy_bm_word0(bm, w);
}

/* Word w of level l. */
BUDDY_HOT uint64_t *bm_word(const struct buddy_bm *bm, unsigned l, uint64_t w, bool ch)
{
	return l ? &bm->lv[l][w] : bm_w0(bm, w, ch);
}

BUDDY_HOT bool bm_test(const struct buddy_bm *bm, uint64_t i, bool ch)
{
	return (*bm_w0(bm, i >> 6, ch) >> (i & 63)) & 1;
}

/* The level-0 word pair of unit i: its start word at [0], its end word at [1] (mm/buddy_impl.h).
 * One lookup serves both bitmaps' bits of a unit, and a start search that begins there. */
BUDDY_HOT uint64_t *bm_pair(const struct buddy *b, uint64_t i, bool ch)
{
	return bm_w0(&b->start, i >> 6, ch);
}

/* True when the level-0 word pair pr lies in the zero piece of the missing chunks (never written:
 * the same test as pr's piece being buddy_zero_piece, from the pointer alone). */
static inline bool bm_pair_missing(const uint64_t *pr)
{
	return (uintptr_t)pr - (uintptr_t)buddy_zero_piece < sizeof(buddy_zero_piece);
}

/* Sets start bit i, in the pair pr, and its summary bits (every level written: no data-dependent
 * branch). Bit i's piece exists (mm/buddy.h: the caller installed its chunk). */
BUDDY_HOT void bm_set_at(struct buddy_bm *bm, uint64_t *pr, uint64_t i, bool ch)
{
	KASSERT(!ch || !bm_pair_missing(pr), "buddy: setting bit %llu of a missing chunk", (unsigned long long)i);
	pr[0] |= BUDDY_ONE << (i & 63);
	i >>= 6;
	for (unsigned l = 1; l < bm->nl; l++, i >>= 6)
		bm->lv[l][i >> 6] |= BUDDY_ONE << (i & 63);
}

BUDDY_HOT void bm_set(struct buddy_bm *bm, uint64_t i, bool ch)
{
	bm_set_at(bm, bm_w0(bm, i >> 6, ch), i, ch);
}

/* Clears start bit i (set, so its piece exists), in the pair pr, and the summary bits above it
 * whose word became empty (branch-free, as bm_set_at). */
BUDDY_HOT void bm_clear_at(struct buddy_bm *bm, uint64_t *pr, uint64_t i)
{
	uint64_t v0 = pr[0] & ~(BUDDY_ONE << (i & 63));
	pr[0] = v0;
	uint64_t clr = v0 == 0;
	i >>= 6;
	for (unsigned l = 1; l < bm->nl; l++, i >>= 6) {
		uint64_t *w = &bm->lv[l][i >> 6], v = *w & ~(clr << (i & 63));
		*w = v;
		clr = v == 0;
	}
}

/* The end bitmap has no summary levels (bm_layout: flat; buddy_check verifies it): its bit i is
 * tested, set and cleared in unit i's pair pr alone. */
BUDDY_HOT bool end_test_at(const uint64_t *pr, uint64_t i)
{
	return (pr[1] >> (i & 63)) & 1;
}

BUDDY_HOT void end_set_at(uint64_t *pr, uint64_t i, bool ch)
{
	KASSERT(!ch || !bm_pair_missing(pr), "buddy: setting bit %llu of a missing chunk", (unsigned long long)i);
	pr[1] |= BUDDY_ONE << (i & 63);
}

BUDDY_HOT void end_clear_at(uint64_t *pr, uint64_t i)
{
	pr[1] &= ~(BUDDY_ONE << (i & 63));
}

BUDDY_HOT bool end_test(const struct buddy *b, uint64_t i, bool ch)
{
	return end_test_at(bm_pair(b, i, ch), i);
}

/* First set bit at or after i, or BUDDY_NONE. */
BUDDY_HOT uint64_t bm_next(const struct buddy_bm *bm, uint64_t i, bool ch)
{
	unsigned l = 0;
	for (;;) {
		if (i >= bm->nb[l])
			return BUDDY_NONE;
		uint64_t w = *bm_word(bm, l, i >> 6, ch) & (~(uint64_t)0 << (i & 63));
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
		i = (i << 6) | (uint64_t)__builtin_ctzll(*bm_word(bm, l, i, ch));
	}
	return i;
}

/* Last set bit at or before bit i of level l (i < nb[l]) and below it, or BUDDY_NONE. */
BUDDY_HOT uint64_t bm_prev_from(const struct buddy_bm *bm, unsigned l, uint64_t i, bool ch)
{
	for (;;) {
		uint64_t w = *bm_word(bm, l, i >> 6, ch) & (~(uint64_t)0 >> (63 - (i & 63)));
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
		i = (i << 6) | (uint64_t)(63 - __builtin_clzll(*bm_word(bm, l, i, ch)));
	}
	return i;
}

/* Last set bit at or before i (i < nbits), or BUDDY_NONE. */
BUDDY_HOT uint64_t bm_prev(const struct buddy_bm *bm, uint64_t i, bool ch)
{
	return bm_prev_from(bm, 0, i, ch);
}

/* bm_prev of the start bitmap at unit i, whose level-0 word w0 the caller has read (from i's pair). */
BUDDY_HOT uint64_t bm_prev_w0(const struct buddy_bm *bm, uint64_t i, uint64_t w0, bool ch)
{
	uint64_t w = w0 & (~(uint64_t)0 >> (63 - (i & 63)));
	if (w)
		return (i & ~(uint64_t)63) | (uint64_t)(63 - __builtin_clzll(w));
	if ((i >> 6) == 0 || bm->nl == 1)
		return BUDDY_NONE;
	return bm_prev_from(bm, 1, (i >> 6) - 1, ch);
}

/* ------------------------------------------------------------------ free-extent records */

/* The record of free extent [s, e) lives in its slots: slot(s) = its class-list links, next + 1 in
 * bits 1..31 and previous + 1 in bits 32..62 (0: none), and for two or more units slot(s+1) =
 * length << 1. Bit 0 stays clear: in a PTE the record reads as not present. */
#define BUDDY_REC_NEXT_SHIFT 1
#define BUDDY_REC_PREV_SHIFT 32
#define BUDDY_REC_LINK_MASK 0x7fffffffULL
_Static_assert(BUDDY_MAX_PAGES <= BUDDY_REC_LINK_MASK, "a link holds every unit index + 1");

/* The slot of unit u. */
BUDDY_HOT uint64_t *buddy_slot(const struct buddy *b, uint64_t u, bool ch)
{
	if (!ch)
		return b->slots + (u << b->slot_shift);
	return b->slot_dir[u >> BUDDY_DIR_SHIFT] + (u & (BUDDY_DIR_UNITS - 1));
}

/* Link field value for unit u (BUDDY_NONE: 0), and back (0: BUDDY_NONE, by wrap-around). */
static inline uint64_t buddy_link_enc(uint64_t u)
{
	return (u + 1) & BUDDY_REC_LINK_MASK;
}

static inline uint64_t buddy_link_dec(uint64_t v)
{
	return v - 1;
}

static inline uint64_t buddy_rec_next(uint64_t w)
{
	return buddy_link_dec((w >> BUDDY_REC_NEXT_SHIFT) & BUDDY_REC_LINK_MASK);
}

static inline uint64_t buddy_rec_prev(uint64_t w)
{
	return buddy_link_dec((w >> BUDDY_REC_PREV_SHIFT) & BUDDY_REC_LINK_MASK);
}

/* Length of the free extent at s of two or more units. */
BUDDY_HOT uint64_t buddy_rec_len(const struct buddy *b, uint64_t s, bool ch)
{
	return *buddy_slot(b, s + 1, ch) >> 1;
}

/*
 * Each link is one 32-bit half of the slot: next (with bit 0, kept clear) in the low half, prev in
 * the high half (bit 63 is always clear). So a link is replaced by one 32-bit store, without
 * reading the slot first: the list neighbours an unlink or a push rewrites are random extents'
 * records, whose lines a large region's caches rarely hold, and a store does not wait for its line
 * where a read-modify-write does. The halves are written through a may_alias type (no aliasing
 * assumption about the 64-bit slot); x86-64 is little-endian, so the low half comes first.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && BUDDY_REC_NEXT_SHIFT + 31 == 32 &&
	       BUDDY_REC_PREV_SHIFT == 32 && BUDDY_REC_LINK_MASK == 0x7fffffffULL,
	       "next fills the low 32-bit half of a record's first slot, prev the high half");
typedef uint32_t __attribute__((may_alias)) buddy_half_t;

/* Replaces the next (prev) link of the extent at s: a store of the slot's low (high) half. */
BUDDY_HOT void buddy_rec_set_next(const struct buddy *b, uint64_t s, uint64_t next, bool ch)
{
	((buddy_half_t *)buddy_slot(b, s, ch))[0] = (uint32_t)(buddy_link_enc(next) << BUDDY_REC_NEXT_SHIFT);
}

BUDDY_HOT void buddy_rec_set_prev(const struct buddy *b, uint64_t s, uint64_t prev, bool ch)
{
	((buddy_half_t *)buddy_slot(b, s, ch))[1] = (uint32_t)buddy_link_enc(prev);
}

/* ------------------------------------------------------------------ class lists */

/* The lists are doubly linked, except that the head's previous link means nothing: taking the
 * head (the common case) then touches no other extent's slot. */

/* Pushes the free extent at s, whose first slot is rs, on the list of class c. */
BUDDY_HOT void buddy_list_push_at(struct buddy *b, unsigned c, uint64_t s, uint64_t *rs, bool ch)
{
	uint64_t h = b->head[c];
	*rs = buddy_link_enc(h) << BUDDY_REC_NEXT_SHIFT;
	if (h != BUDDY_NONE)
		buddy_rec_set_prev(b, h, s, ch);
	b->head[c] = s;
}

/* Takes the free extent at s (record intact; w: its first slot, read) off the list of class c. */
BUDDY_HOT void buddy_list_unlink_w(struct buddy *b, unsigned c, uint64_t s, uint64_t w, bool ch)
{
	uint64_t n = buddy_rec_next(w);
	if (b->head[c] == s) {
		b->head[c] = n;
		return;
	}
	uint64_t p = buddy_rec_prev(w);
	buddy_rec_set_next(b, p, n, ch);
	if (n != BUDDY_NONE)
		buddy_rec_set_prev(b, n, p, ch);
}

/* The free extent at s of class c (its first slot rs) moves to ns (same class) and keeps its
 * place on the list. */
BUDDY_HOT void buddy_list_replace(struct buddy *b, unsigned c, uint64_t s, const uint64_t *rs, uint64_t ns, bool ch)
{
	if (ns == s)
		return;
	uint64_t w = *rs, n = buddy_rec_next(w);
	*buddy_slot(b, ns, ch) = w;
	if (b->head[c] == s)
		b->head[c] = ns;
	else
		buddy_rec_set_next(b, buddy_rec_prev(w), ns, ch);
	if (n != BUDDY_NONE)
		buddy_rec_set_prev(b, n, ns, ch);
}

/* ------------------------------------------------------------------ extents */

/* Counts the free extent [s, s+len) of class c in: mask, count, hint. */
static inline void buddy_class_count_in(struct buddy *b, unsigned c, uint64_t len)
{
	b->count[c]++;
	b->classmask[c >> 6] |= BUDDY_ONE << (c & 63);
	if (b->hint[c] < len)
		b->hint[c] = len;
}

/* Indexes the free extent [s, s+len) of class c (its start and end bits set or not, no matter):
 * rs its first slot, r1 its second (NULL: looked up when needed). */
BUDDY_HOT void buddy_class_add_at(struct buddy *b, unsigned c, uint64_t s, uint64_t *rs, uint64_t *r1,
				  uint64_t len, bool ch)
{
	buddy_list_push_at(b, c, s, rs, ch);
	if (c)
		*(r1 ? r1 : buddy_slot(b, s + 1, ch)) = len << 1;
	buddy_class_count_in(b, c, len);
}

BUDDY_HOT void buddy_class_add(struct buddy *b, uint64_t s, uint64_t len, bool ch)
{
	buddy_class_add_at(b, buddy_ext_class(len), s, buddy_slot(b, s, ch), NULL, len, ch);
}

/* Drops the free extent at s of class c from its class (record intact; w its first slot, read). */
BUDDY_HOT void buddy_class_del_w(struct buddy *b, unsigned c, uint64_t s, uint64_t w, bool ch)
{
	buddy_list_unlink_w(b, c, s, w, ch);
	if (--b->count[c] == 0) {
		b->classmask[c >> 6] &= ~(BUDDY_ONE << (c & 63));
		b->hint[c] = 0;
	}
}

BUDDY_HOT void buddy_class_del_c(struct buddy *b, unsigned c, uint64_t s, bool ch)
{
	buddy_class_del_w(b, c, s, *buddy_slot(b, s, ch), ch);
}

BUDDY_HOT void buddy_class_del(struct buddy *b, uint64_t s, uint64_t len, bool ch)
{
	buddy_class_del_c(b, buddy_ext_class(len), s, ch);
}

/* The free extent [os, os+olen) of class oc becomes [ns, ns+nlen), the two overlapping (record
 * intact): in the same class it keeps its place on the list, else it changes lists. ro: slot(os);
 * r1: slot(ns + 1) when the caller has it, else NULL. One lookup of a slot serves every access
 * to it (the directory's entries are reread after every store otherwise: a slot store may alias
 * them). */
BUDDY_HOT void buddy_class_move_at(struct buddy *b, unsigned oc, uint64_t os, uint64_t *ro, uint64_t ns,
				   uint64_t *r1, uint64_t nlen, bool ch)
{
	unsigned nc = buddy_ext_class(nlen);
	if (oc == nc) {
		buddy_list_replace(b, oc, os, ro, ns, ch);
		if (nc)
			*(r1 ? r1 : buddy_slot(b, ns + 1, ch)) = nlen << 1;
		if (b->hint[oc] < nlen)
			b->hint[oc] = nlen;
		return;
	}
	buddy_class_del_w(b, oc, os, *ro, ch);
	buddy_class_add_at(b, nc, ns, ns == os ? ro : buddy_slot(b, ns, ch), r1, nlen, ch);
}

BUDDY_HOT void buddy_class_move(struct buddy *b, uint64_t os, uint64_t olen, uint64_t ns,
				uint64_t nlen, bool ch)
{
	buddy_class_move_at(b, buddy_ext_class(olen), os, buddy_slot(b, os, ch), ns, NULL, nlen, ch);
}

/* End of the free extent starting at s (a start bit), pr the word pair of s. */
BUDDY_HOT uint64_t buddy_extent_end_at(const struct buddy *b, const uint64_t *pr, uint64_t s, bool ch)
{
	return end_test_at(pr, s) ? s + 1 : s + buddy_rec_len(b, s, ch);
}

/* End of the free extent starting at s (a start bit). */
BUDDY_HOT uint64_t buddy_extent_end(const struct buddy *b, uint64_t s, bool ch)
{
	return buddy_extent_end_at(b, bm_pair(b, s, ch), s, ch);
}

/* The free extent containing unit u: its start, and its end in *e; BUDDY_NONE when u is not free. */
BUDDY_HOT uint64_t buddy_extent_at(const struct buddy *b, uint64_t u, uint64_t *e, bool ch)
{
	uint64_t s = bm_prev(&b->start, u, ch);
	if (s == BUDDY_NONE)
		return BUDDY_NONE;
	*e = buddy_extent_end(b, s, ch);
	return *e > u ? s : BUDDY_NONE;
}

/* End of the free extent at s of class c. */
BUDDY_HOT uint64_t buddy_class_end(const struct buddy *b, unsigned c, uint64_t s, bool ch)
{
	return c ? s + buddy_rec_len(b, s, ch) : s + 1;
}

/* The extent after the one at s on its class list. */
BUDDY_HOT uint64_t buddy_list_after(const struct buddy *b, uint64_t s, bool ch)
{
	return buddy_rec_next(*buddy_slot(b, s, ch));
}

/* ------------------------------------------------------------------ setup and free */

/* Lays out the metadata for npages units, level 0 in chunks or not (b's bitmaps set when b is not
 * NULL); returns words. */
static uint64_t buddy_layout(uint64_t npages, struct buddy *b, void *meta, bool chunked)
{
	uint64_t l0 = 0, off = chunked ? 0 : ((npages + 63) >> 6) * BUDDY_BM_STRIDE;   /* the pair array */

	bm_layout(b ? &b->start : NULL, npages, meta, &off, l0, 0, false, chunked);
	bm_layout(b ? &b->end : NULL, npages, meta, &off, l0, 1, true, chunked);
	return off;
}

/* Bytes of metadata buddy_init needs for npages units. */
uint64_t buddy_free_units(const struct buddy *b) { return b->free_units; }

size_t buddy_meta_bytes(uint64_t npages)
{
	if (npages > BUDDY_MAX_PAGES)
		return 0;
	return (size_t)(buddy_layout(npages, NULL, NULL, false) * sizeof(uint64_t));
}

size_t buddy_meta_bytes_dir(uint64_t npages)
{
	if (npages > BUDDY_MAX_PAGES)
		return 0;
	return (size_t)(buddy_layout(npages, NULL, NULL, true) * sizeof(uint64_t));
}

/* Points every level-0 piece of bm into its flat level 0, or (chunked) at the zero piece. */
static void bm_pieces_init(struct buddy_bm *bm, bool chunked)
{
	for (uint64_t k = 0; k < bm_npieces(bm->nb[0]); k++)
		bm->piece[k] = chunked ? buddy_zero_piece : bm->lv[0] + (k << BUDDY_PIECE_SHIFT) * BUDDY_BM_STRIDE;
}

bool buddy_chunk_present(const struct buddy *b, uint64_t u)
{
	KASSERT(u < b->npages, "buddy: unit %llu outside [0, %llu)", (unsigned long long)u, (unsigned long long)b->npages);
	return b->start.piece[u >> BUDDY_CHUNK_SHIFT] != buddy_zero_piece;
}

void buddy_chunk_install(struct buddy *b, uint64_t u, void *page)
{
	_Static_assert(BUDDY_CHUNK_SHIFT == BUDDY_PIECE_SHIFT + 6 && BUDDY_BM_STRIDE == 2 &&
		       BUDDY_CHUNK_BYTES == BUDDY_BM_STRIDE * 8 * BUDDY_PIECE_WORDS,
		       "a chunk: one piece of each bitmap, paired word by word");
	KASSERT(b->chunked && u < b->npages && !buddy_chunk_present(b, u) && page && ((uintptr_t)page & 7) == 0,
		"buddy: installing chunk %p for unit %llu", page, (unsigned long long)u);
	b->start.piece[u >> BUDDY_CHUNK_SHIFT] = page;
	b->end.piece[u >> BUDDY_CHUNK_SHIFT] = (uint64_t *)page + 1;
	b->chunks++;
}

uint64_t buddy_chunk_count(const struct buddy *b) { return b->chunks; }

/* Initialises b over [0, npages) with every unit allocated, its slots through dir: zeroes the
 * bitmaps (chunked: the summaries, no chunk yet), touches no slot. */
static void buddy_init_common(struct buddy *b, uint64_t npages, uint64_t origin, void *meta, bool chunked)
{
	KASSERT(npages <= BUDDY_MAX_PAGES, "buddy: %llu units is too many", (unsigned long long)npages);
	KASSERT(((uintptr_t)meta & 7) == 0, "buddy: metadata %p is not 8-byte aligned", meta);
	b->npages = npages;
	b->origin = origin;
	b->free_units = 0;
	b->max_order = buddy_max_order_for(npages);
	b->meta = meta;
	b->probes = 0;
	b->classmask[0] = b->classmask[1] = 0;
	b->nclasses = buddy_nclasses(b->max_order);
	for (unsigned c = 0; c < BUDDY_CLASSES; c++) {
		b->head[c] = BUDDY_NONE;
		b->count[c] = 0;
		b->hint[c] = 0;
	}
	uint64_t words = buddy_layout(npages, b, meta, chunked), *w = meta;
	for (uint64_t j = 0; j < words; j++)
		w[j] = 0;
	b->chunked = chunked;
	b->ready_from = chunked ? npages + 1 : 0;
	b->chunks = 0;
	bm_pieces_init(&b->start, chunked);
	bm_pieces_init(&b->end, chunked);
}

void buddy_init(struct buddy *b, uint64_t npages, uint64_t origin, void *meta, uint64_t *slots,
		unsigned slot_shift)
{
	KASSERT(slot_shift < 16, "buddy: slot stride 2^%u words", slot_shift);
	buddy_init_common(b, npages, origin, meta, false);
	b->slots = slots;
	b->slot_shift = slot_shift;
	b->slot_dir = NULL;
}

void buddy_init_dir(struct buddy *b, uint64_t npages, uint64_t origin, void *meta, uint64_t *const *dir)
{
	buddy_init_common(b, npages, origin, meta, true);
	b->slots = NULL;
	b->slot_shift = 0;
	b->slot_dir = dir;
}

/* The first free unit of [s, e) (s < e <= npages), or BUDDY_NONE: O(levels). */
static uint64_t buddy_first_free(const struct buddy *b, uint64_t s, uint64_t e, bool ch)
{
	uint64_t ps = bm_prev(&b->start, s, ch);
	if (ps != BUDDY_NONE && buddy_extent_end(b, ps, ch) > s)
		return s;
	ps = s + 1 < e ? bm_next(&b->start, s + 1, ch) : BUDDY_NONE;
	return ps < e ? ps : BUDDY_NONE;
}

/* Adds the allocated units [s, e) (s < e <= npages) to the free set, merging them with the free
 * extents on either side; ls: the start of the free extent ending at s-1 when the caller knows it
 * (BUDDY_NONE: looked up). O(levels) bit operations and O(1) list operations. The word pairs of
 * units s-1 and e are looked up once: they hold the two bits tested, the start word the left
 * search begins with, the bits a merge clears, and (unless s or e starts a word) the bits it sets. */
BUDDY_HOT void buddy_insert(struct buddy *b, uint64_t s, uint64_t e, uint64_t ls, bool ch)
{
	/* the slot after the run holds the record a merge to the right reads first: its line is asked
	 * for while the bitmaps are read (a hint, never a fault: a missing table's address is computed
	 * as an integer and not read) */
	if (e < b->npages)
		prefetch_line(ch ? buddy_slot_hint(b, e) : buddy_slot(b, e, ch));
	bool in_l = s > 0, in_r = e < b->npages;   /* units s-1 and e exist */
	uint64_t *pl = in_l ? bm_pair(b, s - 1, ch) : NULL, *pr = in_r ? bm_pair(b, e, ch) : NULL;
	bool left = in_l && end_test_at(pl, s - 1), right = in_r && ((pr[0] >> (e & 63)) & 1);
	uint64_t x;
	if (left && ls == BUDDY_NONE)
		ls = bm_prev_w0(&b->start, s - 1, pl[0], ch);
	/* chunked, the pairs of s and e-1 are those of s-1 and e unless s (e) starts a word (flat, a
	 * pair costs less than the test) */
	if (!left && !right) {
		bm_set_at(&b->start, ch && (s & 63) ? pl : bm_pair(b, s, ch), s, ch);
		end_set_at(ch && (e & 63) && in_r ? pr : bm_pair(b, e - 1, ch), e - 1, ch);
		buddy_class_add(b, s, e - s, ch);
	} else if (!right) {                     /* grows the extent [ls, s) */
		end_clear_at(pl, s - 1);
		end_set_at(ch && (e & 63) && in_r ? pr : bm_pair(b, e - 1, ch), e - 1, ch);
		buddy_class_move(b, ls, s - ls, ls, e - ls, ch);
	} else if (!left) {                      /* grows the extent starting at e */
		x = buddy_extent_end_at(b, pr, e, ch);
		bm_clear_at(&b->start, pr, e);
		bm_set_at(&b->start, ch && (s & 63) ? pl : bm_pair(b, s, ch), s, ch);
		buddy_class_move(b, e, x - e, s, x - s, ch);
	} else {                                 /* joins [ls, s) and the extent starting at e */
		x = buddy_extent_end_at(b, pr, e, ch);
		end_clear_at(pl, s - 1);
		bm_clear_at(&b->start, pr, e);
		buddy_class_del(b, e, x - e, ch);
		buddy_class_move(b, ls, s - ls, ls, x - ls, ch);
	}
	b->free_units += e - s;
}

/* Marks [start, start+count) free after checking it; false, nothing changed, when the range leaves
 * [0, npages) or meets a free unit. O(levels) and at most one record read. */
BUDDY_HOT bool buddy_free_k(struct buddy *b, uint64_t start, uint64_t count, bool ch)
{
	if (range_overflows(start, count) || start > b->npages || count > b->npages - start)
		return false;
	if (count == 0)
		return true;
	uint64_t s = start, e = start + count;
	/* the last start before e: inside [s, e), or its extent reaches s unless it ends at s-1 (then
	 * it is the extent to merge with) */
	uint64_t ps = bm_prev(&b->start, e - 1, ch);
	bool left = s > 0 && end_test(b, s - 1, ch);
	if (ps != BUDDY_NONE && (ps >= s || (!left && buddy_extent_end(b, ps, ch) > s)))
		return false;
	buddy_insert(b, s, e, left ? ps : BUDDY_NONE, ch);
	return true;
}

bool buddy_free(struct buddy *restrict b, uint64_t start, uint64_t count)
{
	return b->chunked ? buddy_free_k(b, start, count, true) : buddy_free_k(b, start, count, false);
}

/* The unchecked free of each form, out of line (the entry point's checks and dispatch end in a tail
 * call): each body has its registers to itself. */
static __attribute__((noinline)) void buddy_insert_chunked(struct buddy *restrict b, uint64_t s, uint64_t e)
{
	buddy_insert(b, s, e, BUDDY_NONE, true);
}

static __attribute__((noinline)) void buddy_insert_flat(struct buddy *restrict b, uint64_t s, uint64_t e)
{
	buddy_insert(b, s, e, BUDDY_NONE, false);
}

/* Marks the allocated range [start, start+count) free, unchecked (buddy.h). */
void buddy_free_allocated(struct buddy *restrict b, uint64_t start, uint64_t count)
{
	KASSERT(!range_overflows(start, count) && start + count <= b->npages,
		"buddy: freeing [%llu, +%llu) outside [0, %llu)", (unsigned long long)start,
		(unsigned long long)count, (unsigned long long)b->npages);
	if (count == 0)
		return;
	if (b->chunked)
		buddy_insert_chunked(b, start, start + count);
	else
		buddy_insert_flat(b, start, start + count);
}

/*
 * Batch frees (buddy_free_list). While a list is validated, its units are marked in the end bitmap:
 * a unit's end bit means something only while the unit is free (the last unit of a free extent),
 * so an allocated unit's is clear and free to borrow. Nothing else reads the end bits of
 * allocated units, and every mark is cleared again before the function returns.
 */

/* The bits of word i/64 that [i, e) covers (i < e). */
static inline uint64_t buddy_span_mask(uint64_t i, uint64_t e)
{
	uint64_t top = MIN(e - (i & ~(uint64_t)63), 64);   /* bits below top are inside */
	return (top == 64 ? ~(uint64_t)0 : (BUDDY_ONE << top) - 1) & (~(uint64_t)0 << (i & 63));
}

/* Marks the allocated units [s, e) (e <= npages); false, nothing marked, when one of them is marked
 * already; *dup = the first such unit. O((e - s) / 64 + 1). */
static bool buddy_mark(struct buddy *b, uint64_t s, uint64_t e, uint64_t *dup)
{
	for (uint64_t i = s; i < e; i = (i | 63) + 1) {
		uint64_t hit = *bm_w0(&b->end, i >> 6, false) & buddy_span_mask(i, e);
		if (hit) {
			*dup = (i & ~(uint64_t)63) | (uint64_t)__builtin_ctzll(hit);
			return false;
		}
	}
	for (uint64_t i = s; i < e; i = (i | 63) + 1)
		*bm_w0(&b->end, i >> 6, false) |= buddy_span_mask(i, e);
	return true;
}

/* Clears the marks of [s, e) (e <= npages). */
static void buddy_unmark(struct buddy *b, uint64_t s, uint64_t e)
{
	for (uint64_t i = s; i < e; i = (i | 63) + 1)
		*bm_w0(&b->end, i >> 6, false) &= ~buddy_span_mask(i, e);
}

/* Length of the run of consecutive units starting at list index i (at most n - i). */
static uint64_t buddy_list_run(const uint64_t *units, uint64_t n, uint64_t i)
{
	uint64_t run = 1;
	while (i + run < n && units[i + run] == units[i] + run)
		run++;
	return run;
}

/* Clears the marks of the runs of units[0, n). */
static void buddy_unmark_list(struct buddy *b, const uint64_t *units, uint64_t n)
{
	for (uint64_t i = 0, run; i < n; i += run) {
		run = buddy_list_run(units, n, i);
		buddy_unmark(b, units[i], units[i] + run);
	}
}

/* Frees every unit listed, consecutive ones as one run, or nothing (see buddy.h). */
bool buddy_free_list(struct buddy *b, const uint64_t *units, uint64_t n, uint64_t *bad)
{
	const bool ch = false;
	KASSERT(!b->chunked, "buddy: a list free on a chunked allocator");
	for (uint64_t i = 0, run; i < n; i += run) {
		run = buddy_list_run(units, n, i);
		uint64_t s = units[i], f, dup;
		if (s >= b->npages || run > b->npages - s) {   /* the first unit past the end */
			*bad = i + (s >= b->npages ? 0 : b->npages - s);
		} else if ((f = buddy_first_free(b, s, s + run, ch)) != BUDDY_NONE) {
			/* a unit free already; a repeat of an earlier entry before it comes first */
			if (buddy_mark(b, s, f, &dup)) {
				buddy_unmark(b, s, f);
				dup = f;
			}
			*bad = i + (dup - s);
		} else if (!buddy_mark(b, s, s + run, &dup)) {
			*bad = i + (dup - s);
		} else {
			continue;
		}
		buddy_unmark_list(b, units, i);
		return false;
	}
	buddy_unmark_list(b, units, n);
	for (uint64_t i = 0, run; i < n; i += run) {
		run = buddy_list_run(units, n, i);
		bool ok = buddy_free(b, units[i], run);
		KASSERT(ok, "buddy: validated run at %llu refused", (unsigned long long)units[i]);
	}
	return true;
}

/* ------------------------------------------------------------------ allocation */

/* A normalised allocation request. */
struct buddy_req {
	uint64_t count;           /* units wanted */
	uint64_t lo, hi;          /* the run lies in [lo, hi), hi <= npages, hi - lo >= count */
	bool by_divisor;          /* divisor mode, else alignment mode */
	uint64_t align;           /* alignment mode: the start is a multiple of align (a power of two) */
	uint64_t preferred;       /* alignment mode: start + phase a multiple of preferred (>= align) where one fits */
	uint64_t phase;           /* 0 unless the caller asked for a preference (buddy_find) */
	uint64_t divisor;         /* divisor mode: (origin_mod + start) % divisor == 0 */
	uint64_t origin_mod;      /* divisor mode: origin % divisor */
	uint64_t divisor_inv;     /* divisor mode, divisor < 2^32: 2^64 / divisor rounded up (buddy_mod), else 0 */
	unsigned first_class;     /* the lowest class that can hold count units */
	unsigned first_certain;   /* from this class up every extent holds a placement of the rule (unbounded) */
};

/* A placement found by the search: the run starts at start, inside the free extent
 * [ext_start, ext_end) of class c (the search knows it: the take need not compute it again). */
struct buddy_hit {
	uint64_t start, ext_start, ext_end;
	unsigned c;
};

/* x % divisor for a unit index x (< 2^32): one multiplication when divisor_inv is set (Lemire,
 * Kaser and Kurz, "Faster remainder by direct computation", 2019: exact for 32-bit x and divisor),
 * instead of a division per candidate extent. */
static inline uint64_t buddy_mod(const struct buddy_req *r, uint64_t x)
{
	if (r->divisor_inv && x <= UINT32_MAX)
		return (uint64_t)(((unsigned __int128)(r->divisor_inv * x) * r->divisor) >> 64);
	return x % r->divisor;
}

/* Smallest s >= x with (origin_mod + s) % divisor == 0, or BUDDY_NONE on overflow. */
static inline uint64_t buddy_next_multiple(const struct buddy_req *r, uint64_t x)
{
	uint64_t xm = buddy_mod(r, x);
	uint64_t rem = xm >= r->divisor - r->origin_mod ? xm - (r->divisor - r->origin_mod) : xm + r->origin_mod;
	if (rem == 0)
		return x;
	uint64_t add = r->divisor - rem;
	return add > BUDDY_NONE - x ? BUDDY_NONE : x + add;
}

/* The first placement of r inside free extent [s, e) (the first preferred one when one fits), or
 * BUDDY_NONE. */
static inline uint64_t buddy_fit(const struct buddy_req *r, uint64_t s, uint64_t e)
{
	uint64_t cs = MAX(s, r->lo), ce = MIN(e, r->hi), x;
	if (ce <= cs || ce - cs < r->count)
		return BUDDY_NONE;
	if (r->by_divisor) {
		x = buddy_next_multiple(r, cs);
	} else if ((x = ((cs + r->phase + (r->preferred - 1)) & ~(r->preferred - 1)) - r->phase) > ce - r->count) {
		if (r->preferred == r->align)
			return BUDDY_NONE;
		x = (cs + (r->align - 1)) & ~(r->align - 1);
	}
	return x <= ce - r->count ? x : BUDDY_NONE;
}

/* Tries r in the extent [s, e) of class c; fills h and returns true on a fit. */
static inline bool buddy_try(const struct buddy_req *r, uint64_t s, uint64_t e, unsigned c, struct buddy_hit *h)
{
	uint64_t x = buddy_fit(r, s, e);
	if (x == BUDDY_NONE)
		return false;
	h->start = x;
	h->ext_start = s;
	h->ext_end = e;
	h->c = c;
	return true;
}

/* Tries the extents of class c in list order, at most *budget of them (no limit when budget is
 * NULL); fills h and returns true on a fit. *maxlen: the longest extent seen. */
static bool buddy_scan_class(struct buddy *b, const struct buddy_req *r, unsigned c,
			     unsigned *budget, uint64_t *maxlen, struct buddy_hit *h, bool ch)
{
	for (uint64_t s = b->head[c]; s != BUDDY_NONE; s = buddy_list_after(b, s, ch)) {
		if (budget) {
			if (*budget == 0)
				return false;
			--*budget;
		}
		b->probes++;
		uint64_t e = buddy_class_end(b, c, s, ch);
		if (e - s > *maxlen)
			*maxlen = e - s;
		if (buddy_try(r, s, e, c, h))
			return true;
	}
	return false;
}

/* Tries every free extent meeting [lo, hi) in address order: the first preferred fit, else the
 * first fit; true when found. */
static bool buddy_scan_range(struct buddy *b, const struct buddy_req *r, struct buddy_hit *h, bool ch)
{
	bool any = false;
	uint64_t e, s = buddy_extent_at(b, r->lo, &e, ch);
	if (s == BUDDY_NONE) {
		s = bm_next(&b->start, r->lo, ch);
		e = s == BUDDY_NONE ? 0 : buddy_extent_end(b, s, ch);
	}
	while (s != BUDDY_NONE && s < r->hi) {
		b->probes++;
		uint64_t x = buddy_fit(r, s, e);
		if (x != BUDDY_NONE && (r->by_divisor || ((x + r->phase) & (r->preferred - 1)) == 0)) {
			*h = (struct buddy_hit){ x, s, e, buddy_ext_class(e - s) };
			return true;
		}
		if (x != BUDDY_NONE && !any) {
			*h = (struct buddy_hit){ x, s, e, buddy_ext_class(e - s) };
			any = true;
		}
		s = bm_next(&b->start, e, ch);
		e = s == BUDDY_NONE ? 0 : buddy_extent_end(b, s, ch);
	}
	return any;
}

/* The first class >= c whose mask bit is set, or nclasses when none is (no class at or above
 * nclasses ever has its bit set, so nclasses is the one "no class" value, and a valid bound). */
static inline unsigned buddy_mask_next(const struct buddy *b, unsigned c)
{
	uint64_t m;
	if (c < 64) {
		m = b->classmask[0] & (~(uint64_t)0 << c);
		if (m)
			return (unsigned)__builtin_ctzll(m);
		c = 64;
	}
	if (c >= b->nclasses)
		return b->nclasses;
	m = b->classmask[1] & (~(uint64_t)0 << (c - 64));
	return m ? 64 + (unsigned)__builtin_ctzll(m) : b->nclasses;
}

/* Finds a placement for an unbounded r (phases A, B and, when exhaustive, C of the comment at the
 * top); true when found. */
BUDDY_HOT bool buddy_search(struct buddy *b, const struct buddy_req *r, bool exhaustive,
							       struct buddy_hit *h, bool ch)
{
	unsigned budget = r->by_divisor || r->align > 1 ? BUDDY_TIGHT_ALIGNED : 0;
	uint64_t maxlen = 0;

	/* A: the classes that may hold a fit, a few candidates (tight fits keep big extents whole);
	 * not n's own class when it holds shorter extents too: half its candidates would be wasted */
	for (unsigned c = buddy_class_atleast(r->count); c < r->first_certain && budget; c++)
		if (b->hint[c] >= r->count && buddy_scan_class(b, r, c, &budget, &maxlen, h, ch))
			return true;
	/* B: the smallest class whose every extent holds a placement: its first extent */
	unsigned c = buddy_mask_next(b, r->first_certain);
	if (c < b->nclasses && c < BUDDY_CLASSES) {
		uint64_t s = b->head[c];
		bool hit = buddy_try(r, s, buddy_class_end(b, c, s, ch), c, h);
		KASSERT(hit, "buddy: class %u extent at %llu cannot hold %llu units", c, (unsigned long long)s,
			(unsigned long long)r->count);
		return hit;
	}
	/* C: every extent of the uncertain classes; a failed full scan tightens the class's hint */
	for (c = r->first_class; exhaustive && c < r->first_certain; c++) {
		if (b->hint[c] < r->count)
			continue;
		maxlen = 0;
		if (buddy_scan_class(b, r, c, NULL, &maxlen, h, ch))
			return true;
		b->hint[c] = maxlen;
	}
	return false;
}

/* Sets r's alignment rule to align (alignment mode) and the classes certain to hold it. */
static void buddy_req_align(const struct buddy *b, struct buddy_req *r, uint64_t align)
{
	r->align = align;
	r->first_certain = align - 1 > b->npages ? b->nclasses : MIN(buddy_class_atleast(r->count + (align - 1)), b->nclasses);
}

/* Fills r for count units, divisor, inside [lo, hi) (already clipped and checked): the required
 * rule (buddy.h), and natural alignment preferred for a power of two up to 2^max_order. */
static void buddy_make_req(const struct buddy *b, struct buddy_req *r, uint64_t count,
			   uint64_t divisor, uint64_t lo, uint64_t hi)
{
	r->phase = 0;
	r->count = count;
	r->lo = lo;
	r->hi = hi;
	r->first_class = buddy_ext_class(count);
	r->by_divisor = divisor > 1 && ((divisor & (divisor - 1)) != 0 || (b->origin & (divisor - 1)) != 0);
	if (r->by_divisor) {
		r->divisor = divisor;
		r->origin_mod = b->origin % divisor;
		r->divisor_inv = divisor <= UINT32_MAX ? UINT64_MAX / divisor + 1 : 0;
		r->align = r->preferred = 1;
		r->first_certain = divisor - 1 > b->npages ? b->nclasses
					       : MIN(buddy_class_atleast(count + (divisor - 1)), b->nclasses);
		return;
	}
	uint64_t align = divisor > 1 ? divisor : 1;
	bool natural = (count & (count - 1)) == 0 && buddy_log2_floor(count) <= b->max_order;
	r->preferred = natural && count > align ? count : align;
	buddy_req_align(b, r, align);
}

/* The common request's placement, unbounded (lo = 0, hi = npages): without a divisor nor a
 * preference, count 1 or not a power of two, the head of the smallest non-empty class whose every
 * extent is >= count, from its back (the record stays where it is). False when the request is not
 * that one or no such class has an extent: the full search decides (buddy_place). */
BUDDY_HOT bool buddy_place_common(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t prefer,
				  struct buddy_hit *h, bool ch)
{
	/* count 0 fails the power-of-two test; a count above free_units finds no class below (the
	 * full search then refuses it), so the run found fits in [0, npages) */
	if (divisor > 1 || prefer > 1 || !(count == 1 || (count & (count - 1))) ||
	    count >= (BUDDY_ONE << BUDDY_MAX_ORDER))
		return false;
	unsigned c = buddy_mask_next(b, buddy_class_atleast(count));
	if (c >= b->nclasses || c >= BUDDY_CLASSES)
		return false;
	uint64_t s = b->head[c], e = buddy_class_end(b, c, s, ch);
	*h = (struct buddy_hit){ e - count > s ? e - count : s, s, e, c };
	return true;
}

/*
 * Finds a placement of count units (buddy.h): the rule of divisor inside [lo, hi), preferring a
 * start with (start + phase) a multiple of prefer when prefer > 1 (a power of two), else natural
 * alignment for a power-of-two count; changes nothing but the search hints. The policy is
 * described at the top.
 */
BUDDY_HOT bool buddy_place(struct buddy *b, uint64_t count, uint64_t divisor,
							      uint64_t prefer, uint64_t phase, uint64_t lo,
							      uint64_t hi, struct buddy_hit *h, bool ch)
{
	struct buddy_req r;

	if (hi > b->npages)
		hi = b->npages;
	if (count == 0 || lo >= hi || count > hi - lo || count > b->free_units)
		return false;
	bool bounded = lo != 0 || hi != b->npages;
	if (!bounded && buddy_place_common(b, count, divisor, prefer, h, ch))
		return true;
	buddy_make_req(b, &r, count, divisor, lo, hi);
	/* a preferred start obeys the rule only when the phase is a multiple of the required alignment
	 * (both powers of two, align < prefer): any other preference contradicts the rule and is ignored */
	if (prefer > 1 && !r.by_divisor && prefer > r.align && prefer <= b->npages && !(phase & (r.align - 1))) {
		r.preferred = prefer;
		r.phase = phase & (prefer - 1);
	}
	if (bounded)
		return buddy_scan_range(b, &r, h, ch);
	if (r.preferred > r.align) {
		/* the preferred alignment where it costs O(1) candidates, else the required rule, exhaustively */
		struct buddy_req p = r;
		buddy_req_align(b, &p, r.preferred);
		return buddy_search(b, &p, false, h, ch) || buddy_search(b, &r, true, h, ch);
	}
	return buddy_search(b, &r, true, h, ch);
}

/* Takes the placement h of count units out of the free set: ps is the word pair of its extent's
 * first unit, r1 that extent's second slot when the caller has looked it up (else NULL). */
BUDDY_HOT void buddy_take_hit(struct buddy *b, const struct buddy_hit *h, uint64_t count, uint64_t *ps,
			      uint64_t *r1, bool ch)
{
	uint64_t x = h->start, end = x + count, s = h->ext_start, e = h->ext_end;
	KASSERT(s <= x && end <= e && ((ps[0] >> (s & 63)) & 1), "buddy: placement %llu outside its extent",
		(unsigned long long)x);
	uint64_t *rs = buddy_slot(b, s, ch);
	if (x > s && end == e) {
		/* the back of the extent: the record stays where it is, only its length changes */
		end_clear_at(bm_pair(b, e - 1, ch), e - 1);
		end_set_at(bm_pair(b, x - 1, ch), x - 1, ch);
		buddy_class_move_at(b, h->c, s, rs, s, r1, x - s, ch);
	} else if (x == s && end < e) {
		/* the front of the extent (first fit): the record moves */
		bm_clear_at(&b->start, ps, x);
		bm_set(&b->start, end, ch);
		buddy_class_move_at(b, h->c, s, rs, end, NULL, e - end, ch);
	} else {
		buddy_class_del_w(b, h->c, s, *rs, ch);
		if (x == s) {
			bm_clear_at(&b->start, ps, x);
		} else {
			end_set_at(bm_pair(b, x - 1, ch), x - 1, ch);
			buddy_class_add_at(b, buddy_ext_class(x - s), s, rs, r1, x - s, ch);
		}
		if (end == e) {
			end_clear_at(bm_pair(b, e - 1, ch), e - 1);
		} else {
			bm_set(&b->start, end, ch);
			buddy_class_add(b, end, e - end, ch);
		}
	}
	b->free_units -= count;
}

/* buddy_alloc's body for one form of the allocator. */
BUDDY_HOT bool buddy_alloc_k(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
			     uint64_t *start, bool ch)
{
	struct buddy_hit h;
	if (!buddy_place(b, count, divisor, 1, 0, lo, hi, &h, ch))
		return false;
	KASSERT(h.start >= lo && h.start + count <= MIN(hi, b->npages), "buddy: placement %llu outside bounds",
		(unsigned long long)h.start);
	buddy_take_hit(b, &h, count, bm_pair(b, h.ext_start, ch), NULL, ch);
	*start = h.start;
	return true;
}

/* Allocates count contiguous units (see buddy.h). */
bool buddy_alloc(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t lo, uint64_t hi,
		 uint64_t *start)
{
	if (b->chunked)
		return buddy_alloc_k(b, count, divisor, lo, hi, start, true);
	return buddy_alloc_k(b, count, divisor, lo, hi, start, false);
}

/* buddy_find's body for one form of the allocator. */
BUDDY_HOT bool buddy_find_k(struct buddy *b, uint64_t count, uint64_t divisor, uint64_t prefer, uint64_t phase,
			    struct buddy_place *p, bool ch)
{
	struct buddy_hit h;
	if (!buddy_place(b, count, divisor, prefer, phase, 0, b->npages, &h, ch))
		return false;
	*p = (struct buddy_place){ h.start, h.ext_start, h.ext_end, h.c };
	return true;
}

/* buddy_find_k of each form, out of line: the search's registers and stack are not the common
 * request's. */
static __attribute__((noinline)) bool buddy_find_chunked(struct buddy *b, uint64_t count, uint64_t divisor,
							  uint64_t prefer, uint64_t phase, struct buddy_place *p)
{
	return buddy_find_k(b, count, divisor, prefer, phase, p, true);
}

static __attribute__((noinline)) bool buddy_find_flat(struct buddy *b, uint64_t count, uint64_t divisor,
						       uint64_t prefer, uint64_t phase, struct buddy_place *p)
{
	return buddy_find_k(b, count, divisor, prefer, phase, p, false);
}

/* Finds a placement (buddy.h): the common request inline, anything else by the full search. */
bool buddy_find(struct buddy *restrict b, uint64_t count, uint64_t divisor, uint64_t prefer, uint64_t phase,
		struct buddy_place *p)
{
	struct buddy_hit h;
	bool ch = b->chunked;
	if (!(ch ? buddy_place_common(b, count, divisor, prefer, &h, true)
		 : buddy_place_common(b, count, divisor, prefer, &h, false)))
		return ch ? buddy_find_chunked(b, count, divisor, prefer, phase, p)
			  : buddy_find_flat(b, count, divisor, prefer, phase, p);
	*p = (struct buddy_place){ h.start, h.ext_start, h.ext_end, h.c };
	return true;
}

/* buddy_take's body for one form of the allocator. The placement must still be the free extent
 * buddy_find saw: its first unit's start bit set, and its end bit (one unit) or its record's
 * length (more) giving ext_end; the pair and the length slot read for that serve the take. */
BUDDY_HOT void buddy_take_k(struct buddy *b, const struct buddy_place *p, uint64_t count, bool ch)
{
	struct buddy_hit h = { p->start, p->ext_start, p->ext_end, p->ext_class };
	KASSERT(count && h.ext_start < h.ext_end && h.ext_end <= b->npages,
		"buddy: taking [%llu, +%llu) from a stale placement", (unsigned long long)p->start,
		(unsigned long long)count);
	uint64_t *ps = bm_pair(b, h.ext_start, ch);
	bool one = end_test_at(ps, h.ext_start);
	uint64_t *r1 = one ? NULL : buddy_slot(b, h.ext_start + 1, ch);
	KASSERT((one ? h.ext_start + 1 : h.ext_start + (*r1 >> 1)) == h.ext_end,
		"buddy: taking [%llu, +%llu) from a stale placement", (unsigned long long)p->start,
		(unsigned long long)count);
	buddy_take_hit(b, &h, count, ps, r1, ch);
}

/* The flat form's take, out of line: the chunked one (the region's) has the entry point's registers. */
static __attribute__((noinline)) void buddy_take_flat(struct buddy *restrict b, const struct buddy_place *p,
						       uint64_t count)
{
	buddy_take_k(b, p, count, false);
}

void buddy_take(struct buddy *restrict b, const struct buddy_place *p, uint64_t count)
{
	if (!b->chunked)
		buddy_take_flat(b, p, count);
	else
		buddy_take_k(b, p, count, true);
}

void buddy_set_ready_from(struct buddy *b, uint64_t from) { b->ready_from = from; }

/* Finds and, when the run starts at or above the ready point, takes (buddy.h): the common request's
 * placement in place, as buddy_alloc takes it; any other found by the full search (out of line),
 * then taken the same way. */
int buddy_find_take(struct buddy *restrict b, uint64_t count, uint64_t divisor, uint64_t prefer, uint64_t phase,
		    struct buddy_place *p)
{
	struct buddy_hit h;
	if (!b->chunked) {
		if (!buddy_find_flat(b, count, divisor, prefer, phase, p))
			return BUDDY_FIND_NONE;
		if (p->start < b->ready_from)
			return BUDDY_FIND_FOUND;
		buddy_take_flat(b, p, count);
		return BUDDY_FIND_TAKEN;
	}
	if (!buddy_place_common(b, count, divisor, prefer, &h, true)) {
		if (!buddy_find_chunked(b, count, divisor, prefer, phase, p))
			return BUDDY_FIND_NONE;
		h = (struct buddy_hit){ p->start, p->ext_start, p->ext_end, p->ext_class };
	}
	if (h.start < b->ready_from) {
		*p = (struct buddy_place){ h.start, h.ext_start, h.ext_end, h.c };
		return BUDDY_FIND_FOUND;
	}
	buddy_take_hit(b, &h, count, bm_pair(b, h.ext_start, true), NULL, true);
	p->start = h.start;
	return BUDDY_FIND_TAKEN;
}

/* ------------------------------------------------------------------ queries and checks */

/* True when every unit of [start, start+count) is free (false when the range leaves [0, npages)). */
bool buddy_range_is_free(const struct buddy *b, uint64_t start, uint64_t count)
{
	bool ch = b->chunked;
	uint64_t e;

	if (range_overflows(start, count) || start > b->npages || count > b->npages - start)
		return false;
	return count == 0 || (buddy_extent_at(b, start, &e, ch) != BUDDY_NONE && e >= start + count);
}

/* The first free unit of [start, start+count), or BUDDY_NONE (also when the range leaves [0, npages)). */
uint64_t buddy_range_first_free(const struct buddy *b, uint64_t start, uint64_t count)
{
	bool ch = b->chunked;
	if (range_overflows(start, count) || start > b->npages || count > b->npages - start || count == 0)
		return BUDDY_NONE;
	return buddy_first_free(b, start, start + count, ch);
}

/* Free blocks per order: the maximal naturally aligned blocks (at most 2^max_order units) of the
 * free extents, i.e. what a binary buddy with the same free units would hold. O(extents). */
void buddy_census(const struct buddy *b, uint64_t out[BUDDY_ORDERS])
{
	bool ch = b->chunked;
	for (unsigned k = 0; k < BUDDY_ORDERS; k++)
		out[k] = 0;
	for (uint64_t s = bm_next(&b->start, 0, ch); s != BUDDY_NONE; s = bm_next(&b->start, s + 1, ch)) {
		uint64_t e = buddy_extent_end(b, s, ch);
		for (uint64_t a = s; a < e;) {
			unsigned k = MIN(buddy_log2_floor(e - a), b->max_order);
			if (a)
				k = MIN(k, (unsigned)__builtin_ctzll(a));
			out[k]++;
			a += BUDDY_ONE << k;
		}
	}
}

/* The part of level 0 whose words buddy_check_window reads whatever their summaries say: level-0
 * words [lo, hi) and, when the window wraps past the last word, [0, hi2). */
struct buddy_window {
	uint64_t lo, hi, hi2;
};

/* True when level-0 word j lies in window w. */
static bool buddy_window_has(const struct buddy_window *w, uint64_t j)
{
	return (j >= w->lo && j < w->hi) || j < w->hi2;
}

/* Reports level-0 word j of bm (bit 0 of c's name) against its summary bit sum; 0 or -1. */
static int buddy_check_word0(const struct buddy_bm *bm, const char *name, unsigned c, uint64_t j, bool sum)
{
	bool ch = bm->lv[0] == NULL;
	bool missing = bm->piece[j >> BUDDY_PIECE_SHIFT] == buddy_zero_piece;
	uint64_t w = missing ? 0 : *bm_word(bm, 0, j, ch);
	if (sum == (w != 0))
		return 0;
	kprintf("buddy_check: %s %u level 1: summary bit %llu is %d but word is %llx%s\n", name, c,
		(unsigned long long)j, sum, (unsigned long long)w, missing ? " (its chunk is missing)" : "");
	return -1;
}

/* Checks level 0 of bm against level 1: every word a summary bit names is nonzero (all of them:
 * bm_next descends through those bits), and every word of the window whose bit is clear is zero.
 * O(summary words + set bits + window); 0 or -1. */
static int buddy_check_bm0(const struct buddy_bm *bm, const char *name, unsigned c, const struct buddy_window *win)
{
	uint64_t words = (bm->nb[0] + 63) >> 6;
	const uint64_t *up = bm->lv[1];
	for (uint64_t k = 0; k < (words + 63) >> 6; k++)
		for (uint64_t m = up[k]; m; m &= m - 1) {
			uint64_t j = k * 64 + (uint64_t)__builtin_ctzll(m);
			if (j >= words)
				break;   /* past the end: level 1's own check reports it */
			if (buddy_check_word0(bm, name, c, j, true) < 0)
				return -1;
		}
	for (uint64_t j = 0; j < words; j++) {
		if (!buddy_window_has(win, j)) {
			j = j < win->lo ? win->lo - 1 : words - 1;   /* on to the window's next part, or done */
			continue;
		}
		if (bm->piece[j >> BUDDY_PIECE_SHIFT] == buddy_zero_piece) {
			j |= BUDDY_PIECE_WORDS - 1;   /* a missing piece reads zero: its summary bits were checked */
			continue;
		}
		if (!((up[j >> 6] >> (j & 63)) & 1) && buddy_check_word0(bm, name, c, j, false) < 0)
			return -1;
	}
	return 0;
}

/* Checks the summary levels of bm and its bits past the end (level 0 against level 1 in the window
 * only, as buddy_check_bm0 says); 0 or -1. A missing level-0 piece reads as zero words, so its
 * summary bits must be clear; it is skipped, not read. */
static int buddy_check_bm(const struct buddy_bm *bm, const char *name, unsigned c, const struct buddy_window *win)
{
	bool ch = bm->lv[0] == NULL;
	for (unsigned l = 0; l < bm->nl; l++) {
		uint64_t nbits = bm->nb[l], words = (nbits + 63) >> 6;
		if ((nbits & 63) && words && (*bm_word(bm, l, words - 1, ch) >> (nbits & 63))) {
			kprintf("buddy_check: %s %u level %u: bits set past the end (word %llx)\n", name, c, l,
				(unsigned long long)*bm_word(bm, l, words - 1, ch));
			return -1;
		}
		if (l + 1u < bm->nl && l == 0 && buddy_check_bm0(bm, name, c, win) < 0)
			return -1;
		if (l + 1u < bm->nl && l > 0) {
			const uint64_t *up = bm->lv[l + 1];
			for (uint64_t j = 0; j < words; j++) {
				bool sum = (up[j >> 6] >> (j & 63)) & 1;
				if (sum != (bm->lv[l][j] != 0)) {
					kprintf("buddy_check: %s %u level %u: summary bit %llu is %d but word is %llx\n",
						name, c, l + 1, (unsigned long long)j, sum, (unsigned long long)bm->lv[l][j]);
					return -1;
				}
			}
		}
	}
	return 0;
}

/* The exclusive end of the free extent starting at start bit s, from its end bit at s or its
 * record's length, when that length stays inside the allocator and the last unit it names holds
 * an end bit; BUDDY_NONE otherwise. Reads s's record only inside the allocator (s + 1 < npages;
 * a chunked caller keeps the slots of the start bits' records, buddy_for_each_record_slot). O(1). */
static uint64_t buddy_check_extent_end(const struct buddy *b, uint64_t s, bool ch)
{
	if (end_test(b, s, ch))
		return s + 1;
	if (s + 1 >= b->npages)
		return BUDDY_NONE;
	uint64_t len = buddy_rec_len(b, s, ch);
	if (len < 2 || len > b->npages - s || !end_test(b, s + len - 1, ch))
		return BUDDY_NONE;
	return s + len;
}

/* End bits set in the window's words of the end bitmap (missing pieces read zero). O(window). */
static uint64_t buddy_window_ends(const struct buddy *b, const struct buddy_window *win)
{
	uint64_t n = 0, words = (b->end.nb[0] + 63) >> 6;
	for (uint64_t j = 0; j < words; j++) {
		if (!buddy_window_has(win, j)) {
			j = j < win->lo ? win->lo - 1 : words - 1;
			continue;
		}
		if (b->end.piece[j >> BUDDY_PIECE_SHIFT] == buddy_zero_piece) {
			j |= BUDDY_PIECE_WORDS - 1;
			continue;
		}
		for (uint64_t w = *bm_word(&b->end, 0, j, b->chunked); w; w &= w - 1)
			n++;
	}
	return n;
}

/* Checks the list of class c against the extents: each entry a free extent of class c (a start bit
 * whose record's length ends on an end bit, buddy_check_extent_end) whose record has bit 0 clear,
 * back links consistent past the head (so no entry repeats), cnt entries; 0 or -1. */
static int buddy_check_list(const struct buddy *b, unsigned c, uint64_t cnt)
{
	bool ch = b->chunked;
	uint64_t n = 0, prev = BUDDY_NONE;
	for (uint64_t s = b->head[c]; s != BUDDY_NONE; prev = s, s = buddy_list_after(b, s, ch), n++) {
		uint64_t e = s < b->npages && bm_test(&b->start, s, ch) ? buddy_check_extent_end(b, s, ch) : BUDDY_NONE;
		if (n == cnt || e == BUDDY_NONE || buddy_ext_class(e - s) != c ||
		    (n && buddy_rec_prev(*buddy_slot(b, s, ch)) != prev) ||
		    (*buddy_slot(b, s, ch) & 1) || (c && (*buddy_slot(b, s + 1, ch) & 1))) {
			kprintf("buddy_check: class %u list entry %llu (unit %llu, after %llu): not a free extent "
				"of the class with a matching record (%llu extents in the class)\n", c,
				(unsigned long long)n, (unsigned long long)s, (unsigned long long)prev,
				(unsigned long long)cnt);
			return -1;
		}
	}
	if (n != cnt) {
		kprintf("buddy_check: class %u list holds %llu of its %llu extents\n", c, (unsigned long long)n,
			(unsigned long long)cnt);
		return -1;
	}
	return 0;
}

/* Window [from, from + span) of units, wrapping past the last, as level-0 words (whole words). */
static struct buddy_window buddy_window_of(const struct buddy *b, uint64_t from, uint64_t span)
{
	uint64_t words = (b->npages + 63) >> 6, lo = MIN(from, b->npages) >> 6;
	uint64_t n = span >= b->npages ? words : ((from & 63) + span + 63) >> 6;
	if (n >= words)
		return (struct buddy_window){ 0, words, 0 };
	if (lo + n <= words)
		return (struct buddy_window){ lo, lo + n, 0 };
	return (struct buddy_window){ lo, words, lo + n - words };
}

int buddy_check(const struct buddy *b)
{
	return buddy_check_window(b, 0, UINT64_MAX);
}

int buddy_check_window(const struct buddy *b, uint64_t from, uint64_t span)
{
	bool ch = b->chunked;
	struct buddy_window win = buddy_window_of(b, from, span);
	uint64_t win_ends = 0;
	uint64_t total = 0, cnt[BUDDY_CLASSES] = { 0 }, longest[BUDDY_CLASSES] = { 0 };
	unsigned maxo = b->max_order;

	if (maxo != buddy_max_order_for(b->npages) || b->free_units > b->npages ||
	    b->nclasses != buddy_nclasses(maxo) || b->end.nl != 1 || b->ready_from > b->npages + 1 ||
	    (!ch && b->ready_from)) {
		kprintf("buddy_check: header: npages %llu max_order %u free %llu end levels %u ready from %llu\n",
			(unsigned long long)b->npages, maxo, (unsigned long long)b->free_units, b->end.nl,
			(unsigned long long)b->ready_from);
		return -1;
	}
	/* the ready point's promise, the allocator's part: every unit from ready_from - 1 has its chunk */
	for (uint64_t u = b->ready_from ? b->ready_from - 1 : 0; ch && u < b->npages; u = (u | (BUDDY_CHUNK_UNITS - 1)) + 1)
		if (!buddy_chunk_here(b, u)) {
			kprintf("buddy_check: unit %llu at or above the ready point %llu has no chunk\n", (unsigned long long)u,
				(unsigned long long)b->ready_from);
			return -1;
		}
	for (unsigned k = 0; k < BUDDY_PIECE_WORDS * BUDDY_BM_STRIDE; k++)
		if (buddy_zero_piece[k]) {
			kprintf("buddy_check: the missing chunks' zero piece was written (word %u: %llx)\n", k,
				(unsigned long long)buddy_zero_piece[k]);
			return -1;
		}
	for (uint64_t k = 0; k < bm_npieces(b->npages); k++) {
		const uint64_t *sp = b->start.piece[k], *ep = b->end.piece[k];
		if (sp == buddy_zero_piece ? ep != buddy_zero_piece : ep != sp + 1) {
			kprintf("buddy_check: level-0 piece %llu: start %p and end %p are not one paired piece\n",
				(unsigned long long)k, (const void *)sp, (const void *)ep);
			return -1;
		}
	}
	if (buddy_check_bm(&b->start, "starts", 0, &win) < 0 || buddy_check_bm(&b->end, "ends", 0, &win) < 0)
		return -1;
	/* the extents, through the start bits the summaries show: each record's length ends on an end
	 * bit, and an allocated unit follows before the next start (a start bit the summaries hide is
	 * buddy_check_bm0's, in the window) */
	for (uint64_t s = bm_next(&b->start, 0, ch), ns; s != BUDDY_NONE; s = ns) {
		uint64_t e = buddy_check_extent_end(b, s, ch);
		ns = bm_next(&b->start, s + 1, ch);
		if (e == BUDDY_NONE || (ns != BUDDY_NONE && ns <= e)) {
			kprintf("buddy_check: extent at %llu: %s (next start %llu)\n", (unsigned long long)s,
				e == BUDDY_NONE ? "its record's length ends on no end bit" : "reaches the next start",
				(unsigned long long)ns);
			return -1;
		}
		unsigned c = buddy_ext_class(e - s);
		cnt[c]++;
		longest[c] = MAX(longest[c], e - s);
		total += e - s;
		win_ends += buddy_window_has(&win, (e - 1) >> 6);
	}
	/* no other end bits: inside an extent, between extents, before the first (in the window) */
	uint64_t ends = buddy_window_ends(b, &win);
	if (ends != win_ends) {
		kprintf("buddy_check: %llu end bits in units [%llu, %llu)%s where the extents end %llu times\n",
			(unsigned long long)ends, (unsigned long long)(win.lo << 6),
			(unsigned long long)MIN(win.hi << 6, b->npages), win.hi2 ? " and from 0 (wrapped)" : "",
			(unsigned long long)win_ends);
		return -1;
	}
	for (unsigned c = 0; c < BUDDY_CLASSES; c++) {
		bool inmask = (b->classmask[c >> 6] >> (c & 63)) & 1;
		if (cnt[c] != b->count[c] || inmask != (cnt[c] != 0) || b->hint[c] < longest[c] ||
		    (b->head[c] == BUDDY_NONE) != (cnt[c] == 0)) {
			kprintf("buddy_check: class %u: %llu extents, count %llu, mask %d, head %llu, hint %llu < %llu\n",
				c, (unsigned long long)cnt[c], (unsigned long long)b->count[c], (int)inmask,
				(unsigned long long)b->head[c], (unsigned long long)b->hint[c],
				(unsigned long long)longest[c]);
			return -1;
		}
		if (buddy_check_list(b, c, cnt[c]) < 0)
			return -1;
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

/* Calls fn(start, count, arg) for every maximal free extent, in address order. O(extents). */
void buddy_for_each_free(const struct buddy *b, void (*fn)(uint64_t start, uint64_t count, void *arg), void *arg)
{
	bool ch = b->chunked;
	for (uint64_t s = bm_next(&b->start, 0, ch); s != BUDDY_NONE; s = bm_next(&b->start, s + 1, ch))
		fn(s, buddy_extent_end(b, s, ch) - s, arg);
}

/* Calls fn(u, arg) for every unit whose slot holds a record, from the bitmaps alone. O(extents). */
void buddy_for_each_record_slot(const struct buddy *b, void (*fn)(uint64_t u, void *arg), void *arg)
{
	bool ch = b->chunked;
	for (uint64_t s = bm_next(&b->start, 0, ch); s != BUDDY_NONE; s = bm_next(&b->start, s + 1, ch)) {
		fn(s, arg);
		if (!end_test(b, s, ch))
			fn(s + 1, arg);
	}
}

/* Prints the totals, the free extents per octave (octaves holding some only) and the census on one line. */
void buddy_dump(const struct buddy *b)
{
	unsigned long long pct = b->npages ? b->free_units * 1000 / b->npages : 0;
	uint64_t census[BUDDY_ORDERS];

	kprintf("buddy: %llu units at origin 0x%llx, %llu free (%llu.%llu%%), %llu metadata bytes\n",
		(unsigned long long)b->npages, (unsigned long long)b->origin,
		(unsigned long long)b->free_units, pct / 10, pct % 10,
		(unsigned long long)buddy_meta_bytes(b->npages));
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t ext = 0;
		for (unsigned c = 0; c < b->nclasses; c++)
			if (buddy_class_octave(c) == k)
				ext += b->count[c];
		if (ext)
			kprintf("  %8llu free extents of [2^%u, 2^%u) units\n", (unsigned long long)ext, k, k + 1);
	}
	buddy_census(b, census);
	kprintf("  aligned blocks per order (order:count):");
	for (unsigned k = 0; k <= b->max_order; k++)
		if (census[k])
			kprintf(" %u:%llu", k, (unsigned long long)census[k]);
	kprintf("\n");
}
