/*
 * Per-CPU caches of a system PTE region's free space (design, state and locking in
 * mm/syspte_cache.h; the region's contract in mm/syspte.h).
 *
 * The fast paths (syspte_cache_reserve, syspte_cache_release, and through syspte_cache_hold the
 * map, unmap and lookup of a cached reservation in mm/syspte_map.c and mm/syspte.c) take one lock,
 * the cache's, and write only what the cache owns: its chunks' words, the records of their
 * reservations (in the chunks' states), its counters, and a map's or unmap's PTEs of such a
 * reservation. Everything that moves space or records between a cache and the region
 * (a new chunk, an adopted or a dissolved one, a drain) holds the region's lock and then the cache's.
 */
#include "syspte_impl.h"
#include "phys.h"
#include "kstring.h"
#include "kprintf.h"
#include "kassert.h"
#include "verifier.h"

#define SYSPTE_CHUNK_MASK ((uint64_t)SYSPTE_CHUNK_PAGES - 1)
_Static_assert(SYSPTE_CACHE_MAX_PAGES + 1 < SYSPTE_CHUNK_PAGES, "a cached reservation and its guard fit a chunk");
_Static_assert(PT_ENTRIES % SYSPTE_CHUNK_PAGES == 0, "regions are whole chunks, each inside one page table");

/* ---- small helpers */

/* The owner of chunk idx: 0, or its CPU + 1. Acquire: the owner's cache is published before. */
static inline unsigned syspte_owner_load(const struct syspte_region *r, uint64_t idx)
{
	return __atomic_load_n(&r->cache.owner[idx], __ATOMIC_ACQUIRE);
}

static inline void syspte_owner_store(struct syspte_region *r, uint64_t idx, unsigned owner)
{
	__atomic_store_n(&r->cache.owner[idx], (uint8_t)owner, __ATOMIC_RELEASE);
}

/* CPU cpu's cache, or NULL before it first needed one. */
static inline struct syspte_cache *syspte_cache_of(const struct syspte_region *r, unsigned cpu)
{
	return __atomic_load_n(&r->cache.cpu[cpu], __ATOMIC_ACQUIRE);
}

/* True while a walker holds the region's lock with the caches frozen. Acquire: a fast path that
 * finds the caches thawed sees the walker's reads done (the thaw is a release). */
static inline bool syspte_cache_frozen(const struct syspte_region *r)
{
	return __atomic_load_n(&r->cache.frozen, __ATOMIC_ACQUIRE) != 0;
}

/* ---- the chunk directory: the state of an owned chunk from its index */

/* The state of chunk idx, owned (its owner's lock or the region's held, or the caches frozen). */
static inline struct syspte_chunk *syspte_dir_get(const struct syspte_region *r, uint64_t idx)
{
	struct syspte_chunk **leaf = r->cache.dir[idx >> SYSPTE_DIR_SHIFT].leaf;
	return leaf ? leaf[idx & (SYSPTE_DIR_LEAF - 1)] : NULL;
}

/* Makes sure the directory has the page covering chunk idx (made empty when missing); false when
 * no page is left. Region's lock held. */
static bool syspte_dir_reserve_locked(struct syspte_region *r, uint64_t idx)
{
	spin_assert_held(&r->lock);
	struct syspte_dir *d = &r->cache.dir[idx >> SYSPTE_DIR_SHIFT];
	if (d->leaf)
		return true;
	_Static_assert(SYSPTE_DIR_LEAF * sizeof(struct syspte_chunk *) == PAGE_SIZE, "a directory page is one page");
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	if (!pa) {
		r->cache.refused++;
		return false;
	}
	struct syspte_chunk **leaf = arch_phys_to_virt(pa);
	for (unsigned j = 0; j < SYSPTE_DIR_LEAF; j++)
		leaf[j] = NULL;
	*d = (struct syspte_dir){ .leaf = leaf, .pa = pa, .used = 0 };
	r->cache.cache_pages++;
	return true;
}

/* Frees the directory page covering chunk idx when it holds no entry (after syspte_dir_reserve_locked
 * for a chunk not taken after all, or the last entry cleared). Region's lock held. */
static void syspte_dir_trim_locked(struct syspte_region *r, uint64_t idx)
{
	struct syspte_dir *d = &r->cache.dir[idx >> SYSPTE_DIR_SHIFT];
	if (!d->leaf || d->used)
		return;
	phys_free(d->pa, 1);
	*d = (struct syspte_dir){ .leaf = NULL };
	r->cache.cache_pages--;
}

/* Enters k (chunk k->index, its directory page made) in the directory. Both locks held. */
static void syspte_dir_set_locked(struct syspte_region *r, struct syspte_chunk *k)
{
	struct syspte_dir *d = &r->cache.dir[k->index >> SYSPTE_DIR_SHIFT];
	KASSERT(d->leaf && !d->leaf[k->index & (SYSPTE_DIR_LEAF - 1)],
		"syspte: chunk %llu entered twice in the directory", (unsigned long long)k->index);
	d->leaf[k->index & (SYSPTE_DIR_LEAF - 1)] = k;
	d->used++;
}

/* Takes chunk idx out of the directory, freeing its page when it was the last. Both locks held. */
static void syspte_dir_clear_locked(struct syspte_region *r, uint64_t idx)
{
	struct syspte_dir *d = &r->cache.dir[idx >> SYSPTE_DIR_SHIFT];
	KASSERT(syspte_dir_get(r, idx), "syspte: chunk %llu not in the directory", (unsigned long long)idx);
	d->leaf[idx & (SYSPTE_DIR_LEAF - 1)] = NULL;
	d->used--;
	syspte_dir_trim_locked(r, idx);
}

/* ---- a cache's parked chunks, on lists by class (c's lock held) */

/* The class of a chunk whose longest free run is run pages. */
static inline unsigned syspte_class_of(unsigned run)
{
	return run >= SYSPTE_CHUNK_PAGES ? SYSPTE_CACHE_EMPTY : MIN(run, SYSPTE_CACHE_EMPTY - 1);
}

/* Puts k on c's list of class cls. */
static void syspte_park_in(struct syspte_cache *c, struct syspte_chunk *k, unsigned cls)
{
	k->cls = cls;
	k->prev = NULL;
	k->next = c->parked[cls];
	if (k->next)
		k->next->prev = k;
	c->parked[cls] = k;
	c->parked_mask |= (uint64_t)1 << cls;
}

/* Takes parked k off its list. */
static void syspte_unpark(struct syspte_cache *c, struct syspte_chunk *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		c->parked[k->cls] = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (!c->parked[k->cls])
		c->parked_mask &= ~((uint64_t)1 << k->cls);
	k->cls = SYSPTE_CHUNK_ACTIVE;
}

/* Parks k (no longer active) on the list of its class. */
static void syspte_park(struct syspte_cache *c, struct syspte_chunk *k)
{
	syspte_park_in(c, k, syspte_class_of(syspte_longest_run(k->free)));
}

/* The parked chunk of c of the highest class (the longest free run), or NULL when none is parked. */
static inline struct syspte_chunk *syspte_parked_top(const struct syspte_cache *c)
{
	return c->parked_mask ? c->parked[63u - (unsigned)__builtin_clzll(c->parked_mask)] : NULL;
}

/* Active slots in use. */
static inline unsigned syspte_nactive(const struct syspte_cache *c)
{
	return MIN(c->nchunks, SYSPTE_CACHE_ACTIVE);
}

/* ---- the active slots' run bounds (c->runs: byte s for slot s; c's lock held) */

_Static_assert(SYSPTE_CACHE_ACTIVE <= 8, "a byte of one word per active slot");

/* The run bound of active slot s. */
static inline unsigned syspte_run_bound(const struct syspte_cache *c, unsigned s)
{
	return (unsigned)(c->runs >> (8 * s)) & 0xffu;
}

/* Sets the run bound of active slot s to n (0 .. SYSPTE_CHUNK_PAGES). */
static inline void syspte_set_run_bound(struct syspte_cache *c, unsigned s, unsigned n)
{
	c->runs = (c->runs & ~((uint64_t)0xff << (8 * s))) | ((uint64_t)n << (8 * s));
}

/* A run bound for a chunk of class cls: its longest free run or more. */
static inline unsigned syspte_class_bound(unsigned cls)
{
	return cls == SYSPTE_CACHE_EMPTY ? SYSPTE_CHUNK_PAGES : cls == SYSPTE_CACHE_EMPTY - 1 ? SYSPTE_CHUNK_PAGES - 1 : cls;
}

/* Puts k (no longer parked) in active slot s, with run bound bound (its longest free run or more). */
static inline void syspte_slot_set(struct syspte_cache *c, unsigned s, struct syspte_chunk *k, unsigned bound)
{
	c->active[s] = k;
	k->cls = SYSPTE_CHUNK_ACTIVE;
	k->slot = s;
	syspte_set_run_bound(c, s, bound);
}

/* The state of chunk idx when c owns it, else NULL (c's lock held, or the caches frozen). */
static inline struct syspte_chunk *syspte_chunk_in(const struct syspte_region *r, const struct syspte_cache *c,
						   uint64_t idx)
{
	return syspte_owner_load(r, idx) == c->cpu + 1 ? syspte_dir_get(r, idx) : NULL;
}

/* The chunk of index idx of c, which owns it (c's lock held, or the caches frozen). */
static inline struct syspte_chunk *syspte_owned_chunk(const struct syspte_region *r, const struct syspte_cache *c,
						      uint64_t idx)
{
	struct syspte_chunk *k = syspte_chunk_in(r, c, idx);
	KASSERT(k, "syspte: cached chunk %llu not in its cache", (unsigned long long)idx);
	return k;
}

/* The cache owning chunk idx, which a cache owns (the region's lock or the owner's held: an owner
 * changes under both). */
static inline struct syspte_cache *syspte_owner_cache(const struct syspte_region *r, uint64_t idx)
{
	unsigned o = syspte_owner_load(r, idx);
	struct syspte_cache *c = o ? syspte_cache_of(r, o - 1) : NULL;
	KASSERT(c, "syspte: cached chunk %llu (owner %u) without its cache", (unsigned long long)idx, o);
	return c;
}

/* The chunk of owned chunk index idx (the region's lock held and the caches frozen, or the owner's
 * lock held). */
static struct syspte_chunk *syspte_chunk_of(const struct syspte_region *r, uint64_t idx)
{
	struct syspte_chunk *k = syspte_dir_get(r, idx);
	KASSERT(k && syspte_owner_load(r, idx), "syspte: chunk %llu is no cache's", (unsigned long long)idx);
	return k;
}

/* In verifier mode, checks the whole region after a fast path (under the region's lock). */
void syspte_cache_verify(struct syspte_region *r)
{
	if (!mm_verifier)
		return;
	uint64_t f = spin_lock(&r->lock);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
}

/* ---- set-up */

size_t syspte_cache_meta_bytes(uint64_t npages)
{
	uint64_t n = npages >> SYSPTE_CHUNK_SHIFT;
	uint64_t ndir = (n + SYSPTE_DIR_LEAF - 1) >> SYSPTE_DIR_SHIFT;
	return ndir * sizeof(struct syspte_dir) + ALIGN_UP(n, 8) + bitset_meta_bytes(n);
}

void syspte_cache_init(struct syspte_region *r, void *meta, bool on)
{
	struct syspte_caches *k = &r->cache;
	uint64_t n = r->npages >> SYSPTE_CHUNK_SHIFT, ndir = (n + SYSPTE_DIR_LEAF - 1) >> SYSPTE_DIR_SHIFT;
	uint8_t *m = meta;
	_Static_assert(sizeof(struct syspte_dir) % 8 == 0, "the owner bytes follow the directory aligned");
	*k = (struct syspte_caches){ .on = on, .nchunks = n, .ndir = ndir, .dir = meta,
				     .owner = m + ndir * sizeof(struct syspte_dir) };
	k->max_chunks = (unsigned)MIN(MAX(n / SYSPTE_CACHE_SHARE, 1), UINT32_MAX);   /* the bound is the type's */
	for (uint64_t l = 0; l < ndir; l++)
		k->dir[l] = (struct syspte_dir){ .leaf = NULL };
	for (uint64_t i = 0; i < n; i++)
		k->owner[i] = 0;
	bitset_init(&k->owned, n, k->owner + ALIGN_UP(n, 8));
}

/* True when the region may give a cache one more chunk: its allocator keeps a sixteenth of the
 * region free besides, so caches stop growing before the region fills and drains stay rare. */
static bool syspte_may_carve(const struct syspte_region *r)
{
	return buddy_free_units(&r->buddy) >= SYSPTE_CHUNK_PAGES + r->npages / 16;
}

/* CPU cpu's cache, made now in pages of its own; NULL when the region could not give it a chunk at
 * once (so a refused reservation allocates nothing) or memory is exhausted. Region's lock held. */
static struct syspte_cache *syspte_cache_create_locked(struct syspte_region *r, unsigned cpu)
{
	spin_assert_held(&r->lock);
	if (!syspte_may_carve(r))
		return NULL;
	_Static_assert(sizeof(struct syspte_cache) <= PAGE_SIZE, "a cache is one page");
	uint64_t pages = 1;
	paddr_t pa = phys_alloc(pages, 0, UINT64_MAX);
	if (!pa)
		return NULL;
	struct syspte_cache *c = arch_phys_to_virt(pa);
	memset(c, 0, sizeof(*c));
	spin_init(&c->lock, LOCK_RANK_SYSPTE_CACHE, "syspte-cache");
	c->cpu = cpu;
	r->cache.cache_pages += pages;
	__atomic_store_n(&r->cache.cpu[cpu], c, __ATOMIC_RELEASE);
	return c;
}

/* ---- placing and freeing in a chunk (the cache's lock held) */

/* Natural alignments preferred for power-of-two sizes: bit k set where k is a multiple of n. */
static const uint64_t syspte_align_pref[SYSPTE_CACHE_MAX_PAGES + 1] = {
	[1] = UINT64_MAX, [2] = 0x5555555555555555ULL, [4] = 0x1111111111111111ULL,
	[8] = 0x0101010101010101ULL, [16] = 0x0001000100010001ULL,
};

/*
 * Where npages pages (span with the guard) go in chunk k: a page offset, or -1 when nowhere. With
 * DIVISIBLE the lowest fit whose address is a multiple of npages pages; otherwise the lowest fit,
 * a multiple of npages preferred for a power of two (chunks are aligned, so that is the address
 * alignment the allocator prefers too).
 */
static int syspte_chunk_place(const struct syspte_region *r, const struct syspte_chunk *k, uint64_t npages,
			      unsigned span, bool divisible)
{
	uint64_t fit = syspte_chunk_fits(k->free, span);
	if (!fit)
		return -1;
	if (divisible && npages > 1) {
		uint64_t first = (r->base >> PAGE_SHIFT) + (k->index << SYSPTE_CHUNK_SHIFT);
		for (uint64_t o = (npages - first % npages) % npages; o + span <= SYSPTE_CHUNK_PAGES; o += npages)
			if ((fit >> o) & 1)
				return (int)o;
		return -1;
	}
	uint64_t pref = fit & syspte_align_pref[npages];
	return __builtin_ctzll(pref ? pref : fit);
}

/*
 * True while c has no room for span pages as far as it knows: a search found none for this span or
 * a smaller one, and since then no free made a run that long, fewer than SYSPTE_CACHE_ROOMY pages
 * were freed into it and it got no new chunk (syspte_cache_room_again clears it). Read without
 * c's lock by the fast path and the region's path (a stale answer only sends a request the other
 * way), so a cache at its share, its chunks full of long-lived reservations, costs its CPU's small
 * requests two loads.
 */
static inline bool syspte_cache_full(const struct syspte_cache *c, unsigned span)
{
	unsigned nofit = __atomic_load_n(&c->nofit, __ATOMIC_RELAXED);
	return nofit && span >= nofit;
}

/* Forgets that c had no room (c's lock held). */
static inline void syspte_cache_room_again(struct syspte_cache *c)
{
	__atomic_store_n(&c->nofit, 0, __ATOMIC_RELAXED);
}

/* The slot of c's active chunk with the fewest free pages (the one parked for another). */
static unsigned syspte_fullest_active(const struct syspte_cache *c)
{
	unsigned best = 0;
	for (unsigned s = 1; s < syspte_nactive(c); s++)
		if (c->active[s]->nfree < c->active[best]->nfree)
			best = s;
	return best;
}

/*
 * A parked chunk of c with room for npages pages (span with the guard), and the page offset in
 * *off; NULL when none. The chunk of the highest class is taken (the longest free run, an empty
 * chunk first): every chunk of a class of span or more has room, so one look at the mask finds it.
 * A DIVISIBLE request may find no aligned place in such a chunk: it tries SYSPTE_CACHE_TRIES of
 * them, highest classes first, then gives up (the allocator places it).
 */
static struct syspte_chunk *syspte_parked_find(const struct syspte_region *r, const struct syspte_cache *c,
					       uint64_t npages, unsigned span, bool divisible, int *off)
{
	uint64_t mask = c->parked_mask & ~syspte_bits(0, span);
	unsigned tries = 0;
	while (mask) {
		unsigned cls = 63u - (unsigned)__builtin_clzll(mask);
		for (struct syspte_chunk *k = c->parked[cls]; k; k = k->next) {
			if ((*off = syspte_chunk_place(r, k, npages, span, divisible)) >= 0)
				return k;
			KASSERT(divisible, "syspte: parked chunk %llu of class %u has no room for %u pages",
				(unsigned long long)k->index, cls, span);
			if (++tries >= SYSPTE_CACHE_TRIES)
				return NULL;
		}
		mask &= ~((uint64_t)1 << cls);
	}
	return NULL;
}

/* True when one of c's chunks has a free run of span pages. */
static bool syspte_cache_has_run(const struct syspte_cache *c, unsigned span)
{
	if (c->parked_mask & ~syspte_bits(0, span))
		return true;
	for (unsigned s = 0; s < syspte_nactive(c); s++)
		if (syspte_chunk_fits(c->active[s]->free, span))
			return true;
	return false;
}

/* As syspte_cache_find's look at the active chunks, for a DIVISIBLE request (syspte_chunk_place's
 * alignment), the bounds left as they are (an aligned start missed says nothing of the longest run). */
static int syspte_active_find_divisible(const struct syspte_region *r, struct syspte_cache *c, uint64_t npages,
					unsigned span, int *off)
{
	uint64_t m = syspte_slots_fitting(c->runs, span);
	if (((m >> (8 * c->last)) & 0x80) && (*off = syspte_chunk_place(r, c->active[c->last], npages, span, true)) >= 0)
		return (int)c->last;
	for (; m; m &= m - 1) {
		unsigned s = (unsigned)__builtin_ctzll(m) >> 3;
		if (s != c->last && (*off = syspte_chunk_place(r, c->active[s], npages, span, true)) >= 0)
			return (int)(c->last = s);
	}
	return -1;
}

/*
 * Where npages pages go when no active chunk of c has room (syspte_cache_find): a parked chunk
 * (syspte_parked_find) takes the place of the fullest active one, which is parked; its slot and
 * page offset in *off. -1 when no chunk has room: a failure for a span with no free run that long
 * sets c->nofit (syspte_cache_full), so the cache then answers "no room" to that span or a larger
 * one at once.
 */
static int syspte_parked_take(const struct syspte_region *r, struct syspte_cache *c, uint64_t npages, unsigned span,
			      bool divisible, int *off)
{
	/* without DIVISIBLE, the first chunk of the highest class with a run of span pages or more */
	struct syspte_chunk *k = syspte_parked_find(r, c, npages, span, divisible, off);
	if (!k) {
		if (!divisible || !syspte_cache_has_run(c, span)) {   /* an aligned start missed is no "full" */
			unsigned was = __atomic_load_n(&c->nofit, __ATOMIC_RELAXED);
			__atomic_store_n(&c->nofit, was ? MIN(was, span) : span, __ATOMIC_RELAXED);
			c->nofit_free = c->free;
		}
		return -1;
	}
	unsigned slot = syspte_fullest_active(c), bound = syspte_class_bound(k->cls);
	syspte_unpark(c, k);
	syspte_park(c, c->active[slot]);
	syspte_slot_set(c, slot, k, bound);
	return (int)(c->last = slot);
}

/* syspte_cache_find past the active chunks' bounds (a DIVISIBLE request tries its active chunks
 * here): a parked chunk (syspte_parked_take). */
static __attribute__((noinline)) int syspte_cache_find_more(const struct syspte_region *r, struct syspte_cache *c,
							    uint64_t npages, unsigned span, bool divisible, int *off)
{
	int s = divisible ? syspte_active_find_divisible(r, c, npages, span, off) : -1;
	return s >= 0 ? s : syspte_parked_take(r, c, npages, span, divisible, off);
}

/*
 * Where npages pages (span with the guard) go among c's chunks: an active slot and page offset in
 * *off, or -1 when no chunk has room. Inline, for a request with no alignment (most end there):
 * the slot used last when its run bound admits span, else the lowest slot whose bound does (so a
 * chunk fills before the next one is touched), found with one look at c->runs; a chunk whose
 * bound was high (no run of span pages after all) gets span - 1 as bound and the next slot is
 * looked at. The rest is syspte_cache_find_more. The callers asked syspte_cache_full first (a
 * stale "full" only costs a search).
 */
static inline __attribute__((always_inline)) int syspte_cache_find(const struct syspte_region *r,
								   struct syspte_cache *c, uint64_t npages,
								   unsigned span, bool divisible, int *off)
{
	for (uint64_t m; !divisible && (m = syspte_slots_fitting(c->runs, span)) != 0;) {
		unsigned last = c->last, s = (m >> (8 * last)) & 0x80 ? last : (unsigned)__builtin_ctzll(m) >> 3;
		uint64_t fit = syspte_chunk_fits(c->active[s]->free, span);
		if (__builtin_expect(fit != 0, 1)) {
			uint64_t pref = fit & syspte_align_pref[npages];
			*off = __builtin_ctzll(pref ? pref : fit);
			c->last = s;
			return (int)s;
		}
		syspte_set_run_bound(c, s, span - 1);   /* it was high: no run of span pages, s is out of m */
	}
	return syspte_cache_find_more(r, c, npages, span, divisible, off);
}

/* Places a reservation in one of c's chunks (syspte_cache_find), its record in the chunk's slot of
 * its first page; its page index in *start, or false when no chunk has room. */
static inline __attribute__((always_inline)) bool syspte_cache_take(struct syspte_region *r, struct syspte_cache *c,
								    uint64_t npages, uint32_t tag, uint32_t flags,
								    uint64_t *start)
{
	unsigned span = (unsigned)(npages + r->guard);
	int o, s = syspte_cache_find(r, c, npages, span, flags & SYSPTE_FLAG_DIVISIBLE, &o);
	if (s < 0)
		return false;
	struct syspte_chunk *k = c->active[s];
	*start = (k->index << SYSPTE_CHUNK_SHIFT) + (unsigned)o;
	k->rec[o] = syspte_resv_make(*start, npages, tag, flags, r->guard != 0);
	k->free &= ~syspte_span_bits((unsigned)o, span);
	k->nfree -= span;
	k->starts |= (uint64_t)1 << o;
	c->nempty -= k->live++ == 0;
	c->live++;
	c->pages += npages;
	c->free -= span;
	return true;
}

/*
 * Frees the reservation starting at page i (in chunk k of cache c), after the region's checks in
 * the contract's order (0x102 not a start, 0x101 tag, 0x103 still mapped); a misuse in *m with
 * nothing changed. The record's slot is free again with its start bit; an active chunk's run bound
 * rises to the free run made, a parked chunk whose longest run grows moves up to its new class.
 */
static inline __attribute__((always_inline)) int syspte_chunk_free(struct syspte_region *r, struct syspte_cache *c,
								   struct syspte_chunk *k, vaddr_t addr, uint64_t i,
								   uint32_t tag, struct syspte_misuse *m)
{
	unsigned o = (unsigned)(i & SYSPTE_CHUNK_MASK);
	struct syspte_resv *v = &k->rec[o];
	if (!((k->starts >> o) & 1))
		return syspte_misuse(m, SYSPTE_BUGCHECK_FREE_NOT_START, addr, tag, 0);
	if (v->tag != tag)
		return syspte_misuse(m, SYSPTE_BUGCHECK_FREE_WRONG_TAG, addr, tag, v->tag);
	if (v->mapped)
		return syspte_misuse(m, SYSPTE_BUGCHECK_FREE_STILL_MAPPED,
				     syspte_va(r, syspte_first_present(r, v->start, v->start + v->npages)), tag, v->mapped);
	uint64_t bits = syspte_span_bits(o, (unsigned)syspte_span(v));
	KASSERT(!(k->free & bits), "syspte: cached reservation at page %llu overlaps free pages", (unsigned long long)i);
	k->free |= bits;
	k->nfree += (uint32_t)syspte_span(v);
	unsigned run = syspte_run_at(k->free, o), cls = syspte_class_of(run);
	if (k->cls == SYSPTE_CHUNK_ACTIVE) {
		if (run > syspte_run_bound(c, k->slot))
			syspte_set_run_bound(c, k->slot, run);
	} else if (cls > k->cls) {   /* a free run only grows while parked */
		syspte_unpark(c, k);
		syspte_park_in(c, k, cls);
	}
	k->starts &= ~((uint64_t)1 << o);
	c->nempty += --k->live == 0;
	c->live--;
	c->pages -= v->npages;
	c->free += syspte_span(v);
	unsigned nofit = __atomic_load_n(&c->nofit, __ATOMIC_RELAXED);
	if (nofit && (run >= nofit || c->free >= c->nofit_free + SYSPTE_CACHE_ROOMY))
		syspte_cache_room_again(c);
	return SYSPTE_OK;
}

/* ---- the allocator's side: every page a cache takes from the region's allocator or gives back
 * goes through these three (the region's lock held) */

/*
 * What chunk idx needs before a cache takes it, all or nothing: its directory page, the allocator's
 * and the start bitmap's metadata for its pages (in *mc, for the caller to install), and page
 * tables for pages [ts, te) (none when ts == te). False, nothing changed, when a page is missing.
 */
static bool syspte_chunk_prepare_locked(struct syspte_region *r, uint64_t idx, uint64_t ts, uint64_t te,
					struct syspte_meta_chunks *mc)
{
	uint64_t b = idx << SYSPTE_CHUNK_SHIFT;
	if (!syspte_dir_reserve_locked(r, idx))
		return false;
	if (!syspte_meta_alloc_locked(r, b, b + SYSPTE_CHUNK_PAGES, mc)) {
		syspte_dir_trim_locked(r, idx);
		return false;
	}
	if (ts < te && !syspte_tables_locked(r, ts, te)) {
		syspte_meta_drop(mc);
		syspte_dir_trim_locked(r, idx);
		return false;
	}
	return true;
}

/* An aligned chunk of free pages taken from the allocator, with its span's page table (and the
 * table of the two pages after it when its free extent goes on there, as a reservation's) and its
 * directory page: its first page in *start; false, nothing changed, when no aligned run or no page
 * for a table or the directory is free. */
static bool syspte_alloc_chunk_locked(struct syspte_region *r, uint64_t *start)
{
	spin_assert_held(&r->lock);
	struct buddy_place p;
	if (!buddy_find(&r->buddy, SYSPTE_CHUNK_PAGES, SYSPTE_CHUNK_PAGES, 1, 0, &p))
		return false;
	uint64_t need = p.start + SYSPTE_CHUNK_PAGES;
	if (need < p.ext_end)
		need = MIN(need + 2, p.ext_end);
	struct syspte_meta_chunks mc;   /* the allocator's and the start bitmap's, for the chunk's life */
	if (!syspte_chunk_prepare_locked(r, p.start >> SYSPTE_CHUNK_SHIFT, p.start, need, &mc))
		return false;
	syspte_meta_install(r, &mc);
	buddy_take(&r->buddy, &p, SYSPTE_CHUNK_PAGES);
	*start = p.start;
	return true;
}

/* Takes the free pages of chunk idx (bit k of free: page k) out of the allocator, its directory
 * page made; false, nothing changed, when it cannot: a free extent that goes on past the chunk
 * keeps its record in the two pages after it, whose table may have to be made first. The chunk's
 * own span has its table (a reservation lies in it). */
static bool syspte_take_chunk_free_locked(struct syspte_region *r, uint64_t idx, uint64_t free)
{
	spin_assert_held(&r->lock);
	uint64_t b = idx << SYSPTE_CHUNK_SHIFT, e = b + SYSPTE_CHUNK_PAGES;
	bool next = (free >> (SYSPTE_CHUNK_PAGES - 1)) && e < r->npages && buddy_range_is_free(&r->buddy, e, 1);
	struct syspte_meta_chunks mc;   /* the allocator's and the start bitmap's, for the chunk's life */
	if (!syspte_chunk_prepare_locked(r, idx, e, next ? MIN(e + 2, r->npages) : e, &mc))
		return false;
	syspte_meta_install(r, &mc);
	for (uint64_t x = free; x;) {
		unsigned o = (unsigned)__builtin_ctzll(x);
		uint64_t rest = ~(x >> o), got;
		unsigned n = rest ? (unsigned)__builtin_ctzll(rest) : SYSPTE_CHUNK_PAGES - o;
		bool taken = buddy_alloc(&r->buddy, n, 1, b + o, b + o + n, &got);
		KASSERT(taken && got == b + o, "syspte: free run at page %llu not taken", (unsigned long long)(b + o));
		x &= ~syspte_bits(o, n);
	}
	return true;
}

/* Gives the free pages [start, start + n) back to the allocator, merging with their neighbours. */
static void syspte_give_run_locked(struct syspte_region *r, uint64_t start, uint64_t n)
{
	spin_assert_held(&r->lock);
	buddy_free_allocated(&r->buddy, start, n);
}

/* ---- moving space and records between a cache and the region (both locks held) */

/* Takes k out of c's chunks: off its parked list, or out of its active slot, which the parked
 * chunk of the highest class takes (or the last active one when none is parked). */
static void syspte_chunk_remove(struct syspte_cache *c, struct syspte_chunk *k)
{
	unsigned s = k->slot, na = syspte_nactive(c);
	c->nchunks--;
	if (k->cls != SYSPTE_CHUNK_ACTIVE) {
		syspte_unpark(c, k);
		return;
	}
	KASSERT(s < na && c->active[s] == k, "syspte: active chunk %llu not in its active slot", (unsigned long long)k->index);
	struct syspte_chunk *p = syspte_parked_top(c);
	if (p) {
		unsigned bound = syspte_class_bound(p->cls);
		syspte_unpark(c, p);
		syspte_slot_set(c, s, p, bound);
	} else {
		struct syspte_chunk *q = c->active[na - 1];
		unsigned bound = syspte_run_bound(c, na - 1);
		c->active[na - 1] = NULL;
		syspte_set_run_bound(c, na - 1, 0);
		if (q != k)
			syspte_slot_set(c, s, q, bound);
	}
	if (c->last >= syspte_nactive(c))
		c->last = 0;
}

/*
 * Empties chunk k of c into the region: its reservations enter the region's own index (room made
 * for them: syspte_index_room), its free runs go back to the allocator
 * (merging with their neighbours), and the chunk has no owner.
 */
static void syspte_chunk_dissolve_locked(struct syspte_region *r, struct syspte_cache *c, struct syspte_chunk *k)
{
	spin_assert_held(&r->lock);
	c->nempty -= k->live == 0;
	uint64_t base = k->index << SYSPTE_CHUNK_SHIFT;
	for (uint64_t b = k->starts; b; b &= b - 1) {
		const struct syspte_resv *v = &k->rec[__builtin_ctzll(b)];
		c->live--;
		c->pages -= v->npages;
		syspte_link_locked(r, v);
	}
	c->free -= k->nfree;
	for (uint64_t x = k->free; x;) {
		unsigned o = (unsigned)__builtin_ctzll(x);
		uint64_t rest = ~(x >> o);
		unsigned n = rest ? (unsigned)__builtin_ctzll(rest) : SYSPTE_CHUNK_PAGES - o;
		syspte_give_run_locked(r, base + o, n);
		x &= ~syspte_bits(o, n);
	}
	bitset_clear(&r->cache.owned, k->index);
	syspte_owner_store(r, k->index, 0);
	syspte_dir_clear_locked(r, k->index);
	r->cache.dissolved++;
	syspte_chunk_remove(c, k);
	k->next = c->spare;
	c->spare = k;
}

/* One of c's chunks (which has some): a parked one of the highest class, else the last active. */
static struct syspte_chunk *syspte_cache_some_chunk(const struct syspte_cache *c)
{
	struct syspte_chunk *p = syspte_parked_top(c);
	return p ? p : c->active[syspte_nactive(c) - 1];
}

/* Dissolves c's empty chunks beyond SYSPTE_CACHE_EMPTY_KEEP, parked ones first (their class is
 * SYSPTE_CACHE_EMPTY). Only empty ones: it makes no room in the region's index, so a chunk with a
 * live reservation must never be taken here (the empty class is exact: a 63-page run is not it). */
static void syspte_empties_trim_locked(struct syspte_region *r, struct syspte_cache *c)
{
	while (c->nempty > SYSPTE_CACHE_EMPTY_KEEP) {
		struct syspte_chunk *k = c->parked[SYSPTE_CACHE_EMPTY];
		for (unsigned s = 0; !k && s < syspte_nactive(c); s++)
			if (!c->active[s]->live)
				k = c->active[s];
		KASSERT(k, "syspte: cache %u counts %u empty chunks and has none", c->cpu, c->nempty);
		syspte_chunk_dissolve_locked(r, c, k);
	}
}

/* A chunk's state for c, from its spare list, which takes a page of them when it is empty; NULL
 * when no page is left. Region's lock held. */
static struct syspte_chunk *syspte_chunk_state_locked(struct syspte_region *r, struct syspte_cache *c)
{
	spin_assert_held(&r->lock);
	if (!c->spare) {
		paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
		if (!pa)
			return NULL;
		struct syspte_chunk *a = arch_phys_to_virt(pa);
		for (unsigned i = 0; i < PAGE_SIZE / sizeof(*a); i++) {
			a[i].next = c->spare;
			c->spare = &a[i];
		}
		c->state_pages++;
		r->cache.cache_pages++;
	}
	struct syspte_chunk *k = c->spare;
	c->spare = k->next;
	return k;
}

/* Makes k (its index, free and start bits and records set; its directory page made) c's, in an
 * active slot: the fullest active chunk is parked when all are in use. */
static void syspte_chunk_own_locked(struct syspte_region *r, struct syspte_cache *c, struct syspte_chunk *k)
{
	unsigned s = c->nchunks++;
	if (s >= SYSPTE_CACHE_ACTIVE) {
		s = syspte_fullest_active(c);
		syspte_park(c, c->active[s]);
	}
	syspte_slot_set(c, s, k, syspte_longest_run(k->free));
	k->next = k->prev = NULL;
	c->nempty += k->live == 0;
	c->free += k->nfree;
	syspte_cache_room_again(c);
	bitset_set(&r->cache.owned, k->index);
	syspte_dir_set_locked(r, k);
	syspte_owner_store(r, k->index, c->cpu + 1);
}

/*
 * Gives c one more chunk: an aligned run of SYSPTE_CHUNK_PAGES from the allocator. False when c
 * owns its share already, the region keeps its free pages for everyone (syspte_may_carve) or has
 * no aligned run, or no page is left for the chunk's state or its directory page (nothing changed:
 * the cache then works as at its share).
 */
static bool syspte_chunk_carve_locked(struct syspte_region *r, struct syspte_cache *c)
{
	spin_assert_held(&r->lock);
	if (c->nchunks >= r->cache.max_chunks || !syspte_may_carve(r))
		return false;
	struct syspte_chunk *k = syspte_chunk_state_locked(r, c);
	uint64_t start;
	if (!k)
		return false;
	if (!syspte_alloc_chunk_locked(r, &start)) {
		k->next = c->spare;
		c->spare = k;
		return false;
	}
	KASSERT(!(start & SYSPTE_CHUNK_MASK), "syspte: chunk at page %llu not aligned", (unsigned long long)start);
	*k = (struct syspte_chunk){ .index = start >> SYSPTE_CHUNK_SHIFT, .free = UINT64_MAX, .nfree = SYSPTE_CHUNK_PAGES };
	syspte_chunk_own_locked(r, c, k);
	r->cache.carved++;
	return true;
}

/*
 * True when chunk idx may be adopted: no cache owns it, and no reservation of the region's index
 * crosses its first or its last page's edge (each one starting in it lies wholly in it).
 */
static bool syspte_chunk_adoptable_locked(struct syspte_region *r, uint64_t idx)
{
	uint64_t b = idx << SYSPTE_CHUNK_SHIFT, e = b + SYSPTE_CHUNK_PAGES;
	if (syspte_owner_load(r, idx))
		return false;
	uint64_t p = b ? bitset_prev(&r->starts, b - 1) : UINT64_MAX;
	if (p != UINT64_MAX && p + syspte_span(syspte_find_start_locked(r, p)) > b)
		return false;
	uint64_t q = bitset_prev(&r->starts, e - 1);
	return q == UINT64_MAX || q < b || q + syspte_span(syspte_find_start_locked(r, q)) <= e;
}

/* The free pages of chunk idx in the allocator: bit k for page k. */
static uint64_t syspte_chunk_free_in_allocator(const struct syspte_region *r, uint64_t idx)
{
	uint64_t b = idx << SYSPTE_CHUNK_SHIFT, free = 0;
	for (unsigned o = 0; o < SYSPTE_CHUNK_PAGES; o++)
		free |= (uint64_t)buddy_range_is_free(&r->buddy, b + o, 1) << o;
	return free;
}

/* Makes chunk idx (adoptable) c's: its free runs leave the allocator, its reservations leave the
 * region's index for the chunk's, copied into its slots. False, nothing changed, when the allocator
 * cannot give the runs or no page is left for the chunk's state. */
static bool syspte_chunk_adopt_locked(struct syspte_region *r, struct syspte_cache *c, uint64_t idx)
{
	spin_assert_held(&r->lock);
	uint64_t b = idx << SYSPTE_CHUNK_SHIFT, free = syspte_chunk_free_in_allocator(r, idx);
	struct syspte_chunk *k = syspte_chunk_state_locked(r, c);
	if (!k)
		return false;
	if (!syspte_take_chunk_free_locked(r, idx, free)) {
		k->next = c->spare;
		c->spare = k;
		return false;
	}
	*k = (struct syspte_chunk){ .index = idx, .free = free, .nfree = (unsigned)bitset_popcount(free) };
	for (uint64_t s = bitset_next(&r->starts, b); s != UINT64_MAX && s < b + SYSPTE_CHUNK_PAGES;
	     s = bitset_next(&r->starts, s + 1)) {
		struct syspte_resv *v = &k->rec[s - b];
		*v = *syspte_find_start_locked(r, s);
		syspte_unlink_locked(r, syspte_find_start_locked(r, s));
		k->starts |= (uint64_t)1 << (s - b);
		k->live++;
		c->live++;
		c->pages += v->npages;
	}
	syspte_chunk_own_locked(r, c, k);
	r->cache.adopted++;
	return true;
}

void syspte_cache_adopt_locked(struct syspte_region *r, uint64_t start, uint64_t npages)
{
	spin_assert_held(&r->lock);
	uint64_t idx = start >> SYSPTE_CHUNK_SHIFT;
	unsigned cpu = arch_cpu_index();
	struct syspte_cache *c = syspte_cache_of(r, cpu);
	if (!syspte_cache_sized(r, npages) || (c && c->nchunks >= r->cache.max_chunks) || !syspte_may_carve(r) ||
	    syspte_owner_load(r, idx))
		return;   /* a cache at its share keeps what it has */
	KASSERT(syspte_find_start_locked(r, start), "syspte: adopting around page %llu, where no reservation starts",
		(unsigned long long)start);
	if (!syspte_chunk_adoptable_locked(r, idx))
		return;
	if (!c && !(c = syspte_cache_create_locked(r, cpu)))
		return;
	uint64_t f = spin_lock(&c->lock);
	syspte_chunk_adopt_locked(r, c, idx);
	spin_unlock(&c->lock, f);
}

/* ---- reserve and free */

vaddr_t syspte_cache_reserve(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags)
{
	KASSERT(npages - 1 < SYSPTE_CACHE_MAX_PAGES, "syspte: %llu pages asked of the caches", (unsigned long long)npages);
	/* A CPU that may not take the region's lock goes to it all the same, where the lock order's
	 * report names the misuse: a call of the region is one whether or not its cache would serve it. */
	if (!spin_may_take(&r->lock))
		return 0;
	struct syspte_cache *c = syspte_cache_of(r, arch_cpu_index());
	if (!c || syspte_cache_full(c, (unsigned)(npages + r->guard)))
		return 0;
	uint64_t start, f = spin_lock(&c->lock);
	bool ok = !syspte_cache_frozen(r) && syspte_cache_take(r, c, npages, tag, flags, &start);
	if (ok)   /* written only when it changes: a walker may be reading the caches, frozen */
		c->fast++;
	spin_unlock(&c->lock, f);
	if (!ok)
		return 0;
	syspte_cache_verify(r);
	return syspte_va(r, start);
}

bool syspte_cache_reserve_locked(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags,
				 uint64_t *start)
{
	spin_assert_held(&r->lock);
	if (npages > SYSPTE_CACHE_MAX_PAGES || !r->cache.on)
		return false;
	r->cache.slow++;
	unsigned cpu = arch_cpu_index();
	struct syspte_cache *c = syspte_cache_of(r, cpu);
	if (!c && !(c = syspte_cache_create_locked(r, cpu)))
		return false;
	/* A cache at its share with no room leaves the request to the allocator without its lock (the
	 * region's lock fixes its chunk count). */
	if (c->nchunks >= r->cache.max_chunks && syspte_cache_full(c, (unsigned)(npages + r->guard)))
		return false;   /* (read again under the cache's lock below: its frees may clear it meanwhile) */
	uint64_t f = spin_lock(&c->lock);
	bool ok = false;
	int off;
	unsigned span = (unsigned)(npages + r->guard);
	if ((!syspte_cache_full(c, span) && syspte_cache_find(r, c, npages, span, flags & SYSPTE_FLAG_DIVISIBLE, &off) >= 0) ||
	    syspte_chunk_carve_locked(r, c))
		ok = syspte_cache_take(r, c, npages, tag, flags, start);
	syspte_empties_trim_locked(r, c);
	spin_unlock(&c->lock, f);
	return ok;
}

/* syspte_cache_would_fit's request and answer. */
struct syspte_fit {
	uint64_t span, divisor, origin;
	bool found;
};

/* Whether free run [start, start + count) holds the request at a start obeying its divisor. */
static void syspte_fit_run(uint64_t start, uint64_t count, void *arg)
{
	struct syspte_fit *q = arg;
	if (q->found || count < q->span)
		return;
	uint64_t skip = q->divisor > 1 ? (q->divisor - (q->origin + start) % q->divisor) % q->divisor : 0;
	q->found = skip <= count - q->span;
}

/*
 * True when draining may let the allocator place span pages (at a multiple of divisor): a run of
 * every free page, the caches' merged with the allocator's, holds the request. Makes room in the
 * region's index for the caches' reservations when it can (it may grow: room for their records,
 * kept); when it cannot, the drain takes the caches whose records fit (syspte_cache_drain_fits).
 * Caches frozen for the look.
 */
static bool syspte_cache_drain_helps(struct syspte_region *r, uint64_t span, uint64_t divisor)
{
	struct syspte_cache_totals t;
	struct syspte_fit q = { span, divisor, r->base >> PAGE_SHIFT, false };
	syspte_cache_freeze_locked(r);
	syspte_cache_totals_locked(r, &t);
	if (t.free)
		syspte_free_runs_locked(r, syspte_fit_run, &q);
	syspte_cache_thaw_locked(r);
	if (q.found)
		(void)syspte_index_room(&r->index, t.live);
	return q.found;
}

/*
 * True when the index has room for live more records (a cache's, made here: it may grow, kept) and
 * then for the request's one more: free already, or a growth the memory allows, probed (built and
 * freed) since the request's record is the reserve's to make, in two steps given back if it is
 * refused. So a drain empties no cache whose records would leave the request no room.
 */
static bool syspte_cache_drain_fits(struct syspte_region *r, uint64_t live)
{
	struct syspte_index *ix = &r->index;
	unsigned bits;
	if (!syspte_index_room(ix, live))
		return false;
	if (ix->count + live + 1 <= ix->cap)
		return true;
	if (!syspte_index_grow_prepare(ix, live + 1, &bits))
		return false;
	syspte_index_grow_abort(ix, bits);
	return true;
}

bool syspte_cache_drain_locked(struct syspte_region *r, uint64_t span, uint64_t divisor)
{
	spin_assert_held(&r->lock);
	bool any = false;
	if (!r->cache.on || !syspte_cache_drain_helps(r, span, divisor))
		return false;
	for (unsigned cpu = 0; r->cache.on && cpu < ARCH_MAX_CPUS; cpu++) {
		struct syspte_cache *c = syspte_cache_of(r, cpu);
		if (!c)
			continue;
		uint64_t f = spin_lock(&c->lock);
		/* its fast path may have placed more since the look: room for what it holds now (a
		 * cache left as it is when memory is short; the request may then be refused) */
		if (!syspte_cache_drain_fits(r, c->live)) {
			spin_unlock(&c->lock, f);
			continue;
		}
		any |= c->nchunks != 0;
		while (c->nchunks)
			syspte_chunk_dissolve_locked(r, c, syspte_cache_some_chunk(c));
		spin_unlock(&c->lock, f);
	}
	r->cache.drains += any;
	return any;
}

int syspte_cache_release(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t i, unsigned o)
{
	uint64_t idx = i >> SYSPTE_CHUNK_SHIFT;
	if (!spin_may_take(&r->lock))   /* as in syspte_cache_reserve */
		return SYSPTE_CACHE_PASS;
	struct syspte_cache *c = syspte_cache_of(r, o - 1);
	struct syspte_misuse m;
	int st = SYSPTE_CACHE_PASS;
	uint64_t f = spin_lock(&c->lock);
	/* The owner changes only under this lock too: checked again, it holds until the unlock. */
	if (!syspte_cache_frozen(r) && syspte_owner_load(r, idx) == o) {
		struct syspte_chunk *k = syspte_dir_get(r, idx);
		KASSERT(k, "syspte: cached chunk %llu not in the directory", (unsigned long long)idx);
		st = syspte_chunk_free(r, c, k, addr, i, tag, &m);
		c->fast += st == SYSPTE_OK;
	}
	spin_unlock(&c->lock, f);
	if (st == SYSPTE_CACHE_PASS)
		return st;
	syspte_cache_verify(r);
	if (st == SYSPTE_MISUSE)
		syspte_raise(&m);
	return st;
}

int syspte_cache_release_locked(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t i, unsigned o,
				struct syspte_misuse *m)
{
	spin_assert_held(&r->lock);
	struct syspte_cache *c = syspte_cache_of(r, o - 1);
	uint64_t f = spin_lock(&c->lock);
	int st = syspte_chunk_free(r, c, syspte_chunk_in(r, c, i >> SYSPTE_CHUNK_SHIFT), addr, i, tag, m);
	spin_unlock(&c->lock, f);
	r->cache.slow += st == SYSPTE_OK;
	return st;
}

/* ---- finding cached reservations */

bool syspte_cache_owns_locked(struct syspte_region *r, uint64_t i)
{
	spin_assert_held(&r->lock);
	return r->cache.on && syspte_owner_load(r, i >> SYSPTE_CHUNK_SHIFT) != 0;
}

struct syspte_resv *syspte_cache_resv_at_locked(struct syspte_region *r, uint64_t i, struct syspte_hold *h)
{
	spin_assert_held(&r->lock);
	uint64_t idx = i >> SYSPTE_CHUNK_SHIFT;
	struct syspte_cache *c = syspte_owner_cache(r, idx);   /* steady under the region's lock */
	h->flags = spin_lock(&c->lock);
	h->cache = c;
	struct syspte_chunk *k = syspte_owned_chunk(r, c, idx);
	uint64_t before = k->starts & syspte_bits(0, (unsigned)(i & SYSPTE_CHUNK_MASK) + 1);
	if (!before)
		return NULL;
	struct syspte_resv *v = &k->rec[63 - __builtin_clzll(before)];
	return i < v->start + v->npages ? v : NULL;
}

const spinlock_t *syspte_cache_lock(const struct syspte_region *r, unsigned cpu)
{
	const struct syspte_cache *c = syspte_cache_of(r, cpu);
	return c ? &c->lock : NULL;
}

struct syspte_resv *syspte_cache_hold(struct syspte_region *r, uint64_t i, unsigned o, struct syspte_hold *h)
{
	uint64_t idx = i >> SYSPTE_CHUNK_SHIFT;
	h->cache = NULL;
	if (!spin_may_take(&r->lock))   /* as in syspte_cache_reserve */
		return NULL;
	struct syspte_cache *c = syspte_cache_of(r, o - 1);
	uint64_t f = spin_lock(&c->lock);
	/* The owner changes only under this lock too: checked again, it holds until the unlock; a walker
	 * that froze the caches reads them until it thaws them, so nothing here may change meanwhile. */
	if (syspte_cache_frozen(r) || syspte_owner_load(r, idx) != o) {
		spin_unlock(&c->lock, f);
		return NULL;
	}
	h->cache = c;
	h->flags = f;
	struct syspte_chunk *k = syspte_dir_get(r, idx);
	KASSERT(k, "syspte: cached chunk %llu not in the directory", (unsigned long long)idx);
	uint64_t before = k->starts & syspte_bits(0, (unsigned)(i & SYSPTE_CHUNK_MASK) + 1);
	if (!before)
		return NULL;
	struct syspte_resv *v = &k->rec[63 - __builtin_clzll(before)];
	KASSERT(v->start + syspte_span(v) <= (idx + 1) << SYSPTE_CHUNK_SHIFT,
		"syspte: cached reservation of %llu pages at page %llu leaves its chunk", (unsigned long long)v->npages,
		(unsigned long long)v->start);
	return i < v->start + v->npages ? v : NULL;
}

struct syspte_resv *syspte_cache_next_locked(struct syspte_region *r, uint64_t i, uint64_t limit)
{
	spin_assert_held(&r->lock);
	if (!r->cache.on)
		return NULL;
	KASSERT(syspte_cache_frozen(r), "syspte: a walk of the reservations with the caches not frozen");
	uint64_t first = i >> SYSPTE_CHUNK_SHIFT;
	for (uint64_t idx = bitset_next(&r->cache.owned, first); idx != UINT64_MAX && (idx << SYSPTE_CHUNK_SHIFT) < limit;
	     idx = bitset_next(&r->cache.owned, idx + 1)) {
		struct syspte_chunk *k = syspte_chunk_of(r, idx);
		uint64_t b = k->starts & (idx == first ? ~syspte_bits(0, (unsigned)(i & SYSPTE_CHUNK_MASK)) : UINT64_MAX);
		if (b) {
			unsigned o = (unsigned)__builtin_ctzll(b);
			return (idx << SYSPTE_CHUNK_SHIFT) + o < limit ? &k->rec[o] : NULL;
		}
	}
	return NULL;
}

/* ---- walks, accounting, check */

void syspte_cache_freeze_locked(struct syspte_region *r)
{
	spin_assert_held(&r->lock);
	if (!r->cache.on)
		return;
	uint32_t n = __atomic_load_n(&r->cache.frozen, __ATOMIC_RELAXED);
	__atomic_store_n(&r->cache.frozen, n + 1, __ATOMIC_RELAXED);
	if (n)
		return;
	/* A fast path in progress finishes before its lock is ours; one that starts after sees the count
	 * (published by the release of each lock) and goes to the region's lock, held here. */
	for (unsigned cpu = 0; cpu < ARCH_MAX_CPUS; cpu++) {
		struct syspte_cache *c = syspte_cache_of(r, cpu);
		if (c) {
			uint64_t f = spin_lock(&c->lock);
			spin_unlock(&c->lock, f);
		}
	}
}

void syspte_cache_thaw_locked(struct syspte_region *r)
{
	spin_assert_held(&r->lock);
	if (!r->cache.on)
		return;
	KASSERT(syspte_cache_frozen(r), "syspte: caches thawed more often than frozen");
	/* Release: what the walker read of the caches happens before any change a fast path makes after
	 * it finds them thawed. */
	__atomic_store_n(&r->cache.frozen, __atomic_load_n(&r->cache.frozen, __ATOMIC_RELAXED) - 1, __ATOMIC_RELEASE);
}

void syspte_cache_totals_locked(struct syspte_region *r, struct syspte_cache_totals *t)
{
	spin_assert_held(&r->lock);
	*t = (struct syspte_cache_totals){ 0 };
	if (!r->cache.on)
		return;
	KASSERT(syspte_cache_frozen(r), "syspte: caches counted without being frozen");
	for (unsigned cpu = 0; cpu < ARCH_MAX_CPUS; cpu++) {
		const struct syspte_cache *c = syspte_cache_of(r, cpu);
		if (!c)
			continue;
		t->live += c->live;
		t->pages += c->pages;
		t->spans += c->pages + c->live * r->guard;
		t->free += c->free;
		t->chunks += c->nchunks;
		t->fast += c->fast;
		t->mapped += c->mapped;
	}
}

/* syspte_free_runs_locked's state: the run being gathered and the next cached chunk to feed. */
struct syspte_runs {
	struct syspte_region *r;
	void (*fn)(uint64_t start, uint64_t count, void *arg);
	void *arg;
	uint64_t s, n;        /* the run gathered so far (n 0: none) */
	uint64_t next;        /* the first chunk index not fed yet */
};

/* Adds free pages [s, s + n) (in address order) to the run, or reports the run and starts anew. */
static void syspte_runs_feed(struct syspte_runs *w, uint64_t s, uint64_t n)
{
	if (w->n && w->s + w->n == s) {
		w->n += n;
		return;
	}
	if (w->n)
		w->fn(w->s, w->n, w->arg);
	w->s = s;
	w->n = n;
}

/* Feeds the free runs of the cached chunks below page limit not fed yet. */
static void syspte_runs_chunks(struct syspte_runs *w, uint64_t limit)
{
	const struct syspte_region *r = w->r;
	if (!r->cache.on)
		return;
	for (uint64_t idx = bitset_next(&r->cache.owned, w->next); idx != UINT64_MAX && (idx << SYSPTE_CHUNK_SHIFT) < limit;
	     idx = bitset_next(&r->cache.owned, idx + 1)) {
		uint64_t x = syspte_chunk_of(r, idx)->free, base = idx << SYSPTE_CHUNK_SHIFT;
		while (x) {
			unsigned o = (unsigned)__builtin_ctzll(x);
			uint64_t rest = ~(x >> o);
			unsigned n = rest ? (unsigned)__builtin_ctzll(rest) : SYSPTE_CHUNK_PAGES - o;
			syspte_runs_feed(w, base + o, n);
			x &= ~syspte_bits(o, n);
		}
		w->next = idx + 1;
	}
}

/* The allocator's extents come in address order: the chunks before each are fed first. */
static void syspte_runs_extent(uint64_t start, uint64_t count, void *arg)
{
	struct syspte_runs *w = arg;
	syspte_runs_chunks(w, start);
	syspte_runs_feed(w, start, count);
}

void syspte_free_runs_locked(struct syspte_region *r, void (*fn)(uint64_t start, uint64_t count, void *arg),
			     void *arg)
{
	spin_assert_held(&r->lock);
	KASSERT(!r->cache.on || syspte_cache_frozen(r), "syspte: free runs walked with the caches not frozen");
	struct syspte_runs w = { .r = r, .fn = fn, .arg = arg };
	buddy_for_each_free(&r->buddy, syspte_runs_extent, &w);
	syspte_runs_chunks(&w, UINT64_MAX);
	if (w.n)
		fn(w.s, w.n, arg);
}

/* syspte_census_locked's counts and the largest order. */
struct syspte_census_walk {
	uint64_t *out;
	unsigned max_order;
};

/* Counts a free run as the naturally aligned blocks a binary buddy would hold (as buddy_census). */
static void syspte_census_run(uint64_t start, uint64_t count, void *arg)
{
	const struct syspte_census_walk *w = arg;
	for (uint64_t a = start, e = start + count; a < e;) {
		unsigned k = MIN(63u - (unsigned)__builtin_clzll(e - a), w->max_order);
		if (a)
			k = MIN(k, (unsigned)__builtin_ctzll(a));
		w->out[k]++;
		a += (uint64_t)1 << k;
	}
}

void syspte_census_locked(struct syspte_region *r, uint64_t *out)
{
	for (unsigned k = 0; k < BUDDY_ORDERS; k++)
		out[k] = 0;
	struct syspte_census_walk w = { out, r->buddy.max_order };
	syspte_free_runs_locked(r, syspte_census_run, &w);
}

bool syspte_page_free_locked(struct syspte_region *r, uint64_t i)
{
	if (buddy_range_is_free(&r->buddy, i, 1))
		return true;
	if (!syspte_cache_owns_locked(r, i))
		return false;
	return (syspte_chunk_of(r, i >> SYSPTE_CHUNK_SHIFT)->free >> (i & SYSPTE_CHUNK_MASK)) & 1;
}

int syspte_cache_indexes_locked(struct syspte_region *r, const struct syspte_resv *v)
{
	if (!syspte_cache_owns_locked(r, v->start))
		return 0;
	const struct syspte_chunk *k = syspte_chunk_of(r, v->start >> SYSPTE_CHUNK_SHIFT);
	unsigned o = (unsigned)(v->start & SYSPTE_CHUNK_MASK);
	return ((k->starts >> o) & 1) && &k->rec[o] == v ? 1 : -1;
}

/* Reports a failed invariant of the caches; returns -1. */
static int syspte_cache_bad(const char *what, uint64_t a, uint64_t b)
{
	kprintf("syspte_check: caches: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
	return -1;
}

/* Checks one cached chunk against the allocator, the region's index and its records; adds its
 * reservations and their pages. */
static int syspte_chunk_check_locked(struct syspte_region *r, const struct syspte_chunk *k, uint64_t *live,
				     uint64_t *pages)
{
	uint64_t base = k->index << SYSPTE_CHUNK_SHIFT, used = 0, n = 0;
	if (buddy_range_first_free(&r->buddy, base, SYSPTE_CHUNK_PAGES) != UINT64_MAX)
		return syspte_cache_bad("cached chunk free in the allocator", k->index, base);
	uint64_t s = bitset_next(&r->starts, base);
	if (s < base + SYSPTE_CHUNK_PAGES)
		return syspte_cache_bad("a reservation of the region's index starts in a cached chunk", k->index, s);
	const struct syspte_resv *p = base ? syspte_find_start_locked(r, bitset_prev(&r->starts, base - 1)) : NULL;
	if (p && p->start + syspte_span(p) > base)
		return syspte_cache_bad("a reservation of the region's index runs into a cached chunk", k->index, p->start);
	if (k->starts & k->free)
		return syspte_cache_bad("a cached reservation starts on a free page", k->index, k->starts & k->free);
	for (uint64_t b = k->starts; b; b &= b - 1) {
		unsigned o = (unsigned)__builtin_ctzll(b);
		const struct syspte_resv *v = &k->rec[o];
		if (v->start != base + o || v->npages == 0 || v->guard != (r->guard != 0))
			return syspte_cache_bad("a start bit without its record (one of another page, empty, or with "
						"another guard)", k->index, o);
		uint64_t span = syspte_span(v);
		if (o + span > SYSPTE_CHUNK_PAGES)
			return syspte_cache_bad("a cached reservation past its chunk", v->start, v->npages);
		uint64_t bits = syspte_bits(o, (unsigned)span);
		if (bits & (used | k->free))
			return syspte_cache_bad("cached reservations overlap each other or free pages", v->start, v->npages);
		used |= bits;
		n++;
		*pages += v->npages;
	}
	if (n != k->live)
		return syspte_cache_bad("chunk's count differs from its start bits", k->live, n);
	if ((used | k->free) != UINT64_MAX)
		return syspte_cache_bad("chunk pages neither free nor reserved", k->index, ~(used | k->free));
	*live += n;
	return 0;
}

/* Checks chunk k of cache c (at position cls: SYSPTE_CHUNK_ACTIVE, or the parked list it was found
 * on) and adds its counts. */
static int syspte_cache_check_chunk(struct syspte_region *r, unsigned cpu, const struct syspte_chunk *k, unsigned cls,
				    uint64_t *n, uint64_t *pages, uint64_t *free, uint64_t *empty)
{
	if (k->index >= r->cache.nchunks || syspte_owner_load(r, k->index) != cpu + 1)
		return syspte_cache_bad("a cache holds a chunk it does not own", cpu, k->index);
	if (syspte_dir_get(r, k->index) != k)
		return syspte_cache_bad("the directory does not find a cache's chunk", cpu, k->index);
	if (k->cls != cls)
		return syspte_cache_bad("a chunk's class differs from where its cache keeps it", k->index, k->cls);
	if (cls != SYSPTE_CHUNK_ACTIVE && cls != syspte_class_of(syspte_longest_run(k->free)))
		return syspte_cache_bad("a parked chunk's class differs from its longest free run", k->index, cls);
	if (k->nfree != bitset_popcount(k->free))
		return syspte_cache_bad("a chunk's free count differs from its free bits", k->index, k->nfree);
	if (syspte_chunk_check_locked(r, k, n, pages))
		return -1;
	*free += k->nfree;
	*empty += k->live == 0;
	return 0;
}

/* Checks one CPU's cache: its chunks (each owned by it and found by the directory; the active ones
 * in their slots, the parked ones on the list of their class, linked both ways), its counts, its
 * pages of chunk states. Adds its chunks and its pages. */
static int syspte_cache_check_one(struct syspte_region *r, unsigned cpu, const struct syspte_cache *c,
				  uint64_t *chunks, uint64_t *pages_held)
{
	if (c->cpu != cpu || c->nchunks > r->cache.max_chunks || c->lock.rank != LOCK_RANK_SYSPTE_CACHE)
		return syspte_cache_bad("a cache's header is wrong", cpu, c->nchunks);
	uint64_t n = 0, pages = 0, free = 0, empty = 0, walked = 0;
	unsigned na = syspte_nactive(c);
	if (c->last >= SYSPTE_CACHE_ACTIVE)
		return syspte_cache_bad("a cache's last slot is no slot", cpu, c->last);
	for (unsigned s = 0; s < SYSPTE_CACHE_ACTIVE; s++) {
		const struct syspte_chunk *k = c->active[s];
		unsigned bound = syspte_run_bound(c, s);
		if ((s < na) != (k != NULL))
			return syspte_cache_bad("a cache's active slots differ from its chunk count", cpu, s);
		if (k ? k->slot != s || bound > SYSPTE_CHUNK_PAGES || bound < syspte_longest_run(k->free) : bound != 0)
			return syspte_cache_bad("an active slot's run bound below its chunk's longest free run, or "
						"a bound on an unused slot", cpu, s);
		if (k && syspte_cache_check_chunk(r, cpu, k, SYSPTE_CHUNK_ACTIVE, &n, &pages, &free, &empty))
			return -1;
		walked += k != NULL;
	}
	for (unsigned cls = 0; cls < SYSPTE_CACHE_CLASSES; cls++) {
		if (((c->parked_mask >> cls) & 1) != (c->parked[cls] != NULL))
			return syspte_cache_bad("a cache's mask of classes differs from its lists", cpu, cls);
		const struct syspte_chunk *prev = NULL;
		for (const struct syspte_chunk *k = c->parked[cls]; k; prev = k, k = k->next) {
			if (k->prev != prev || ++walked > c->nchunks)
				return syspte_cache_bad("a cache's parked list is broken", cpu, cls);
			if (syspte_cache_check_chunk(r, cpu, k, cls, &n, &pages, &free, &empty))
				return -1;
		}
	}
	if (walked != c->nchunks)
		return syspte_cache_bad("a cache's chunks differ from its count", cpu, walked);
	if (n != c->live || pages != c->pages || free != c->free || empty != c->nempty)
		return syspte_cache_bad("a cache's counts differ from its chunks", cpu, c->live);
	uint64_t states = c->state_pages * (PAGE_SIZE / sizeof(struct syspte_chunk)), spare = 0;
	for (const struct syspte_chunk *k = c->spare; k && c->nchunks + spare <= states; k = k->next)
		spare++;
	if (c->nchunks + spare != states)
		return syspte_cache_bad("a cache's chunk states, used and spare, differ from its pages of them", cpu, spare);
	*chunks += c->nchunks;
	*pages_held += 1 + c->state_pages;   /* its own page and its chunk states' */
	return 0;
}

/* Checks the chunk directory: each page present holds as many entries as it counts (at least one),
 * each entry the state of its own chunk, owned. Adds the pages. */
static int syspte_dir_check_locked(struct syspte_region *r, uint64_t *dir_pages)
{
	for (uint64_t l = 0; l < r->cache.ndir; l++) {
		const struct syspte_dir *d = &r->cache.dir[l];
		if (!d->leaf) {
			if (d->used)
				return syspte_cache_bad("an absent directory page counts entries", l, d->used);
			continue;
		}
		uint64_t set = 0;
		for (unsigned j = 0; j < SYSPTE_DIR_LEAF; j++) {
			const struct syspte_chunk *k = d->leaf[j];
			uint64_t idx = (l << SYSPTE_DIR_SHIFT) + j;
			if (!k)
				continue;
			if (idx >= r->cache.nchunks || k->index != idx || !syspte_owner_load(r, idx))
				return syspte_cache_bad("a directory entry for a chunk no cache owns, or for another", idx,
							k->index);
			set++;
		}
		if (!set || set != d->used || arch_phys_to_virt(d->pa) != (void *)d->leaf)
			return syspte_cache_bad("a directory page's count or address is wrong", l, set);
		(*dir_pages)++;
	}
	return 0;
}

int syspte_cache_check_locked(struct syspte_region *r)
{
	spin_assert_held(&r->lock);
	if (r->cache.on && !syspte_cache_frozen(r))
		return syspte_cache_bad("checked with the caches not frozen", 0, 0);
	uint64_t owned = 0, chunks = 0;
	/* Every owner byte that is set: read a word at a time, since the array spans the region and is
	 * mostly zero (a check costs what the caches hold, not the region's size). */
	for (uint64_t idx = 0; idx < r->cache.nchunks; idx++) {
		uint64_t word;
		if (!(idx & 7) && idx + 8 <= r->cache.nchunks) {
			memcpy(&word, (const void *)&r->cache.owner[idx], sizeof(word));
			if (!word) {
				idx += 7;
				continue;
			}
		}
		unsigned o = syspte_owner_load(r, idx);
		const struct syspte_cache *c = o && o <= ARCH_MAX_CPUS ? syspte_cache_of(r, o - 1) : NULL;
		if (o && (!r->cache.on || !c || !syspte_dir_get(r, idx)))
			return syspte_cache_bad("an owned chunk not in its owner's cache", idx, o);
		if ((o != 0) != bitset_test(&r->cache.owned, idx))
			return syspte_cache_bad("a chunk's owner differs from the owned bits", idx, o);
		owned += o != 0;
	}
	/* and every owned bit has its owner */
	for (uint64_t idx = r->cache.nchunks ? bitset_next(&r->cache.owned, 0) : UINT64_MAX; idx != UINT64_MAX;
	     idx = idx + 1 < r->cache.nchunks ? bitset_next(&r->cache.owned, idx + 1) : UINT64_MAX)
		if (!syspte_owner_load(r, idx))
			return syspte_cache_bad("a chunk's owner differs from the owned bits", idx, 0);
	if (bitset_check(&r->cache.owned))
		return -1;
	uint64_t dir_pages = 0;
	if (syspte_dir_check_locked(r, &dir_pages))
		return -1;
	for (unsigned cpu = 0; cpu < ARCH_MAX_CPUS; cpu++) {
		const struct syspte_cache *c = syspte_cache_of(r, cpu);
		if (c && syspte_cache_check_one(r, cpu, c, &chunks, &dir_pages))
			return -1;
	}
	if (dir_pages != r->cache.cache_pages)   /* now the directory's, the caches' and their chunk states' */
		return syspte_cache_bad("the caches' pages differ from their count", dir_pages, r->cache.cache_pages);
	if (chunks != owned)
		return syspte_cache_bad("caches hold other chunks than those owned", chunks, owned);
	return 0;
}

void syspte_cache_dump_locked(struct syspte_region *r)
{
	struct syspte_cache_totals t;
	syspte_cache_totals_locked(r, &t);
	uint64_t caches = 0;
	for (unsigned cpu = 0; cpu < ARCH_MAX_CPUS; cpu++)
		caches += syspte_cache_of(r, cpu) != NULL;
	kprintf("  CPU caches %s: %llu (%llu bytes), %llu chunks, %llu free pages held, %llu reservations; "
		"%llu calls without the region's lock, %llu with it; %llu chunks carved, %llu adopted, %llu dissolved, "
		"%llu drains\n",
		r->cache.on ? "on" : "off",
		(unsigned long long)caches, (unsigned long long)(r->cache.cache_pages * PAGE_SIZE),
		(unsigned long long)t.chunks, (unsigned long long)t.free, (unsigned long long)t.live,
		(unsigned long long)t.fast, (unsigned long long)r->cache.slow, (unsigned long long)r->cache.carved,
		(unsigned long long)r->cache.adopted, (unsigned long long)r->cache.dissolved, (unsigned long long)r->cache.drains);
}
