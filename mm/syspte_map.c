/*
 * Mapping into and unmapping from a system PTE region's reservations: the PTE writes, the unmap
 * rules of docs/contract.md section 3, and the TLB invalidations they owe (contract in
 * mm/syspte.h).
 *
 * Map validates in one pass and writes in a second, so a map refused by its checks never makes
 * anything present, even briefly; it owes no TLB invalidation for the PTEs it writes, since every
 * one was not present (in verifier mode each is asserted not present first), and one entry per
 * 2 MiB leaf, which replaces a table pointer (syspte_write_ptes_held).
 *
 * The frames are the caller's and are read twice: once before the lock (syspte_frames_scan: the
 * physical width, the 2 MiB runs) and again under it by the write. A caller must not change a
 * locked MDL's frames while a call reads them (docs/contract.md); one that does still gets no
 * malformed entry: the write takes each frame once, writes a 2 MiB leaf only when the frame it
 * read is 2 MiB aligned and its run fits the width (else 4 KiB PTEs), and a 4 KiB PTE only when
 * its frame fits the width; on a frame beyond it, it clears what it wrote (invalidated like an
 * unmap) and the map is refused, nothing changed. Which frames such a map maps is unspecified.
 *
 * Unmap validates the whole span and clears it under the lock, naming its pages in a TLB batch,
 * which it flushes once the lock is released and before it returns (include/tlb_batch.h).
 *
 * A reservation a CPU's cache placed (mm/syspte_cache.h) is mapped and unmapped under that cache's
 * lock alone, as the cache frees it: the chunk's owner is read without the region's lock, the
 * owner's lock taken, and the owner and the caches' freeze checked again under it
 * (syspte_cache_hold); on any doubt the call takes the region's path, which holds the cache's lock
 * inside the region's (syspte_resv_at_locked). Either way the record cannot be freed meanwhile. The
 * functions named *_held below need one of the two: the region's lock, or the lock of the cache
 * owning the chunk of the pages they touch. Such a chunk lies in a span no 2 MiB leaf maps (no
 * reservation of a span's size overlaps an owned chunk), so they read the region's leaf count only
 * to learn that (syspte_leaves_now) and write no leaf and no region-wide field: the pages a cached
 * map or unmap adds or takes away are counted in the cache (struct syspte_cache's mapped), summed
 * into the region's by the readers, caches frozen. A cached unmap (and the undo of a refused
 * cached map) flushes its batch before it releases the cache's lock, on either path (the region's
 * path releases the region's lock first: syspte_region_done), so a free of the reservation, or a
 * map of its pages, cannot come before every CPU's translations of them are gone; a spinner on
 * that lock answers the shootdown (include/spinlock.h), so the round cannot deadlock.
 */
#include "syspte_impl.h"
#include "tlb_batch.h"
#include "verifier.h"
#include "kassert.h"

/*
 * In verifier mode, asserts that none of the n pages from page i is mapped before a map writes
 * them: a map owes no TLB invalidation only because it fills not-present entries
 * (include/tlb_batch.h). The validation pass (or a reservation's zero count) has established it;
 * this reads every PTE, and the level-2 entry of every span.
 */
static void syspte_verify_unmapped_held(const struct syspte_region *r, uint64_t i, uint64_t n)
{
	if (mm_verifier) {
		uint64_t k = syspte_first_present(r, i, i + n);
		KASSERT(k == i + n, "verifier: a map met the present PTE of region page %llu", (unsigned long long)k);
	}
}

/* The OR of the n frames from pfns: below 2^b iff every frame is. Four independent chains, no
 * early exit: the loads set the pace. */
static uint64_t syspte_frames_or(const uint64_t *pfns, uint64_t n)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	for (; n >= 4; n -= 4, pfns += 4) {
		a |= pfns[0];
		b |= pfns[1];
		c |= pfns[2];
		d |= pfns[3];
	}
	for (; n; n--)
		a |= *pfns++;
	return a | b | c | d;
}

/* True when the SYSPTE_SPAN_PAGES frames from pfns are one run starting on a multiple of the span:
 * what one 2 MiB leaf maps. The ends first (most lists that are no run fail there), then one pass
 * of the whole span without an early exit. Since first is span aligned, first + k == first ^ k for
 * k below the span: each frame is xored with first and must leave exactly its index; eight
 * independent chains, each reading one frame per step, keep the loads the limit on any build (the
 * kernel's has no vector registers). Not static: tests/bench/bench_map.c times it as the leaf's
 * floor. */
bool syspte_frames_large(const uint64_t *pfns)
{
	uint64_t first = pfns[0];
	if ((first & (SYSPTE_SPAN_PAGES - 1)) || pfns[SYSPTE_SPAN_PAGES - 1] != first + SYSPTE_SPAN_PAGES - 1)
		return false;
	uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
	for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES; k += 8) {
		uint64_t x = first + k;
		a |= pfns[k] ^ x;
		b |= pfns[k + 1] ^ (x + 1);
		c |= pfns[k + 2] ^ (x + 2);
		d |= pfns[k + 3] ^ (x + 3);
		e |= pfns[k + 4] ^ (x + 4);
		f |= pfns[k + 5] ^ (x + 5);
		g |= pfns[k + 6] ^ (x + 6);
		h |= pfns[k + 7] ^ (x + 7);
	}
	return (a | b | c | d | e | f | g | h) == 0;
}

/* Spans whose leaf decision the frame pass records (bit s of syspte_frame_scan.runs); a span after
 * them is tested again for a run when its PTEs are written (its width was checked by the pass, and
 * its leaf's frame is checked again by the write like every leaf's). */
#define SYSPTE_SCAN_SPANS 64

/* What the one pass over a map's frames found (syspte_frames_scan). */
struct syspte_frame_scan {
	bool fit;          /* every frame below the CPU's physical address width */
	uint64_t runs;     /* bit s: the s-th span the mapping covers whole holds one aligned run */
};

/*
 * The map's one pass over its n frames, for a mapping from region page i: whether every frame is at
 * most maxpfn (the last frame below the physical address width: the contract's rule for an MDL's
 * frames, 2^MAXPHYADDR), and, when
 * leaves is set, which spans the mapping covers whole hold one aligned run of frames. A run's
 * frames are first .. first + 511, so it fits when its last frame does, and its frames are read
 * once; the frames of any other span, and those outside whole spans, are ORed together (a span
 * that is no run may be read up to twice: its run test, then the OR).
 */
static void syspte_frames_scan(const uint64_t *pfns, uint64_t n, uint64_t i, bool leaves, uint64_t maxpfn,
			       struct syspte_frame_scan *sc)
{
	sc->runs = 0;
	if (!leaves) {   /* no 2 MiB leaf possible (fewer pages than a span, or no such leaves): an OR */
		sc->fit = (syspte_frames_or(pfns, n) & ~maxpfn) == 0;
		return;
	}
	uint64_t k = MIN(n, (SYSPTE_SPAN_PAGES - (i & (SYSPTE_SPAN_PAGES - 1))) & (SYSPTE_SPAN_PAGES - 1));
	uint64_t any = syspte_frames_or(pfns, k);
	for (uint64_t s = 0; n - k >= SYSPTE_SPAN_PAGES; s++, k += SYSPTE_SPAN_PAGES) {
		if (syspte_frames_large(pfns + k)) {
			any |= pfns[k] + SYSPTE_SPAN_PAGES - 1;
			sc->runs |= s < SYSPTE_SCAN_SPANS ? 1ULL << s : 0;
		} else
			any |= syspte_frames_or(pfns + k, SYSPTE_SPAN_PAGES);
	}
	any |= syspte_frames_or(pfns + k, n - k);
	sc->fit = (any & ~maxpfn) == 0;
}

/* The last frame below the CPU's physical address width: 2^(MAXPHYADDR - 12) - 1, a mask of the
 * frame bits a PTE may carry (at most bits 12..51 of its address). */
static uint64_t syspte_max_pfn(void)
{
	return (1ULL << (arch_phys_addr_bits() - PAGE_SHIFT)) - 1;
}

/* True when a 2 MiB leaf may map the run from frame first: it is span aligned and its last frame is
 * at most maxpfn, so the leaf's address has no bit below 2 MiB (bit 12 is a leaf's PAT bit) and
 * none beyond the width (of at least 32 bits: maxpfn is above the span); and the machine gives the
 * run one memory type (arch_phys_span_uniform: a leaf over MTRR ranges of different types has an
 * undefined one), else its pages get 4 KiB PTEs, each of an exact type. */
static bool syspte_leaf_frame_ok(uint64_t first, uint64_t maxpfn)
{
	return (first & (SYSPTE_SPAN_PAGES - 1)) == 0 && first <= maxpfn - (SYSPTE_SPAN_PAGES - 1) &&
	       arch_phys_span_uniform(pfn_to_pa(first), SYSPTE_SPAN_PAGES << PAGE_SHIFT);
}

/*
 * The memory types a map writes (docs/contract.md, "Caching types"): the type asked for, except on a
 * frame the kernel's direct map holds, which is RAM mapped there write-back: that page is mapped
 * write-back too, since one page mapped with two memory types at once is undefined (Intel SDM Vol. 3A
 * 11.12.4), and counted as overridden. A write-back request needs no look at the frames.
 */
struct syspte_types {
	pte_t wb, wb2;           /* write-back's level-1 PTE and 2 MiB leaf attributes */
	uint64_t overridden;     /* pages written write-back instead of the requested type */
	paddr_t lo, hi;          /* the last block arch_phys_direct_mapped answered for, [lo, hi); empty at first */
	bool in;                 /* its answer */
};

/* The write-back attributes of r, nothing counted, no block looked up yet. */
static inline void syspte_types_init(const struct syspte_region *r, struct syspte_types *t)
{
	*t = (struct syspte_types){ .wb = r->attrs[PT_CACHE_WB], .wb2 = r->attrs2[PT_CACHE_WB] };
}

/* True when the direct map holds frame pfn (a page of RAM): asks the machine once per block it
 * answers for (arch_phys_direct_mapped), so a list of frames in one block costs one walk. */
static inline bool syspte_frame_direct_mapped(struct syspte_types *t, uint64_t pfn)
{
	paddr_t pa = pfn_to_pa(pfn);
	if (pa - t->lo >= t->hi - t->lo) {
		uint64_t extent;
		t->in = arch_phys_direct_mapped(pa, &extent);
		KASSERT(extent >= PAGE_SIZE && (extent & (extent - 1)) == 0, "arch: a direct-map extent of 0x%llx",
			(unsigned long long)extent);
		t->lo = pa & ~(extent - 1);
		t->hi = t->lo + extent;
	}
	return t->in;
}

/* The level-1 attributes for frame pfn (at most the width) of a map asking for attrs, counting an
 * override. */
static inline pte_t syspte_page_attrs(struct syspte_types *t, pte_t attrs, uint64_t pfn)
{
	if (!syspte_frame_direct_mapped(t, pfn))
		return attrs;
	t->overridden++;
	return t->wb;
}

/* The 2 MiB leaf attributes for the run from frame first (span aligned, fitting the width) of a map
 * asking for attrs2: attrs2 when the direct map holds none of its frames, write-back (counted) when
 * it holds all of them, with one large page or with smaller ones (a RAM descriptor's edge inside the
 * run's 2 MiB), or 0 when it holds some and not others: the run then needs 4 KiB PTEs, each page
 * of its own exact type. One walk per block the direct map answers for. */
static inline pte_t syspte_leaf_attrs(struct syspte_types *t, pte_t attrs2, uint64_t first)
{
	uint64_t held = 0, k = 0;
	paddr_t base = pfn_to_pa(first);
	while (k < SYSPTE_SPAN_PAGES) {
		bool in = syspte_frame_direct_mapped(t, first + k);
		uint64_t upto = (t->hi - base) >> PAGE_SHIFT;   /* the block ends past page k of the run */
		if (upto > SYSPTE_SPAN_PAGES)
			upto = SYSPTE_SPAN_PAGES;
		held += in ? upto - k : 0;
		k = upto;
	}
	if (held == 0)
		return attrs2;
	if (held != SYSPTE_SPAN_PAGES)
		return 0;
	t->overridden += SYSPTE_SPAN_PAGES;
	return t->wb2;
}

/*
 * Maps n frames from page i; returns n, or the pages it wrote before it met a frame above maxpfn,
 * which it leaves unwritten (the caller clears those pages and refuses the map). A span the mapping
 * covers whole, whose frames are one aligned 2 MiB run (bit s of runs for the s-th such span, from
 * syspte_frames_scan; syspte_frames_large for those past SYSPTE_SCAN_SPANS), gets one 2 MiB leaf
 * (attrs2) in its level-2 entry instead of its table pointer; the table stays allocated for the
 * unmap to restore. Other pages get level-1 PTEs (attrs: the region's level-1 attributes of the
 * memory type). A map of another type than write-back passes t: each entry over a frame the direct
 * map holds is then written write-back instead (syspte_page_attrs, syspte_leaf_attrs), counted in t;
 * a write-back map passes NULL and looks at no frame (the call sites pass it as a constant, so each
 * gets its own copy of this body). The first page carries the mapping-start mark.
 *
 * The frames were checked before the lock, but the caller's array is read again here: each frame a
 * PTE is made of is read once into a local and checked against what the entry may hold (a leaf's
 * first frame: syspte_leaf_frame_ok, else the span gets 4 KiB PTEs; a 4 KiB PTE's frame: at most
 * maxpfn), so an entry never has a bit outside its address field's valid frames, whatever the
 * caller does to its array meanwhile.
 *
 * Every level-1 entry written was not present, so no translation of it can be cached. A leaf
 * replaces a present table pointer, which a CPU's paging-structure caches may hold (Intel SDM Vol.
 * 3A 4.10.3: even over a table of not-present entries) and use for the span, faulting on a mapped
 * page: each leaf's address goes into b, whose invalidation clears them (one entry per leaf).
 */
static inline __attribute__((always_inline)) uint64_t syspte_write_ptes_held(struct syspte_region *r, uint64_t i, const uint64_t *pfns, uint64_t n,
					 pte_t attrs, pte_t attrs2, struct syspte_types *t, uint64_t runs, uint64_t maxpfn,
					 struct tlb_batch *b)
{
	syspte_verify_unmapped_held(r, i, n);
	uint64_t k = 0, s = 0;
	pte_t a2 = attrs2;
	while (k < n) {
		uint64_t j = i + k, off = j & (SYSPTE_SPAN_PAGES - 1);
		if (off == 0 && n - k >= SYSPTE_SPAN_PAGES && attrs2 &&
		    (s < SYSPTE_SCAN_SPANS ? (runs >> s++) & 1 : syspte_frames_large(pfns + k))) {
			uint64_t first = pfns[k];   /* the leaf's frame, read once */
			if (syspte_leaf_frame_ok(first, maxpfn) && (!t || (a2 = syspte_leaf_attrs(t, attrs2, first)) != 0)) {
				arch_pte_write(syspte_pde(r, j >> SYSPTE_SPAN_SHIFT), arch_pte_leaf(a2, pfn_to_pa(first)));
				tlb_batch_add_page(b, syspte_va(r, j));
				syspte_leaves_add(r, 1);
				k += SYSPTE_SPAN_PAGES;
				continue;
			}
		}
		volatile uint64_t *p = syspte_slot(r, j);
		uint64_t run = MIN(n - k, SYSPTE_SPAN_PAGES - off);
		if (!t) {   /* write-back asked: no look at the frames */
			for (uint64_t q = 0; q < run; q++, k++) {
				uint64_t pfn = pfns[k];   /* read once: checked, then written */
				if (__builtin_expect(pfn > maxpfn, 0))
					return k;
				arch_pte_write(&p[q], arch_pte_leaf(attrs, pfn_to_pa(pfn)));
			}
			continue;
		}
		for (uint64_t q = 0; q < run; q++, k++) {
			uint64_t pfn = pfns[k];   /* read once: checked, then written */
			if (__builtin_expect(pfn > maxpfn, 0))
				return k;
			arch_pte_write(&p[q], arch_pte_leaf(syspte_page_attrs(t, attrs, pfn), pfn_to_pa(pfn)));
		}
	}
	syspte_pte_mark_start(r, i);
	return n;
}

/* syspte_write_ptes_held for a map of a memory type other than write-back (attrs, attrs2), which
 * writes a frame the direct map holds write-back; *over gets the pages so written. Apart from the
 * write-back maps' body (not inlined into it), so theirs stays as it was. */
static __attribute__((noinline)) uint64_t syspte_write_aliased_held(struct syspte_region *r, uint64_t i, const uint64_t *pfns,
								  uint64_t n, pte_t attrs, pte_t attrs2, uint64_t runs,
								  uint64_t maxpfn, struct tlb_batch *b, uint64_t *over)
{
	struct syspte_types t;
	syspte_types_init(r, &t);
	uint64_t done = syspte_write_ptes_held(r, i, pfns, n, attrs, attrs2, &t, runs, maxpfn, b);
	*over = t.overridden;
	return done;
}

/* syspte_write_ptes_held for a map of memory type cache (attrs2: its 2 MiB leaves' attributes, 0
 * for none): a write-back map looks at no frame; another goes to syspte_write_aliased_held, and *over
 * gets the pages it wrote write-back instead. */
static inline __attribute__((always_inline)) uint64_t
syspte_write_typed_held(struct syspte_region *r, uint64_t i, const uint64_t *pfns, uint64_t n, unsigned cache, pte_t attrs2,
			uint64_t runs, uint64_t maxpfn, struct tlb_batch *b, uint64_t *over)
{
	*over = 0;
	if (__builtin_expect(cache == PT_CACHE_WB, 1))
		return syspte_write_ptes_held(r, i, pfns, n, r->attrs[cache], attrs2, NULL, runs, maxpfn, b);
	return syspte_write_aliased_held(r, i, pfns, n, r->attrs[cache], attrs2, runs, maxpfn, b, over);
}

static inline void syspte_clear_ptes_held(struct syspte_region *r, uint64_t i, uint64_t n, struct tlb_batch *b);

/*
 * Undoes a write that stopped after done pages (a frame beyond the width), invalidating as an unmap
 * of them does: b, which so far names the 2 MiB leaves the write put over their tables' pointers,
 * starts again empty, since the clear names each of those leaves again (once) and every page
 * written besides; the invalidation of a leaf's address also drops any cached pointer to its
 * span's table, so nothing the write named is lost.
 */
static inline __attribute__((always_inline)) void syspte_undo_write_held(struct syspte_region *r, uint64_t i,
									    uint64_t done, struct tlb_batch *b)
{
	tlb_batch_init_from(b, (enum tlb_origin)b->origin);
	syspte_clear_ptes_held(r, i, done, b);
}

/*
 * Validates a map of n pages at page i of v: SYSPTE_OK, REFUSED (fit false: no frames, or one
 * beyond the physical width), or a misuse report. The span is scanned for a mapped page only when
 * v has pages mapped at all.
 */
static inline __attribute__((always_inline)) int syspte_map_check_held(struct syspte_region *r, struct syspte_resv *v, vaddr_t addr, uint32_t tag,
				   uint64_t i, bool fit, uint64_t n, unsigned cache, struct syspte_misuse *m)
{
	if (!v)
		return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_NO_RESERVATION, addr, tag, 0);
	if (v->tag != tag)
		return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_WRONG_TAG, addr, tag, v->tag);
	if (!fit || n == 0 || n > v->start + v->npages - i || cache >= PT_CACHE_TYPES)
		return SYSPTE_REFUSED;
	uint64_t k = v->mapped ? syspte_first_present(r, i, i + n) : i + n;
	if (k < i + n)
		return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, addr, syspte_va(r, k), syspte_va(r, i + n) - 1);
	return SYSPTE_OK;
}

/* The end of a cached map or unmap: the cache's lock released, the region checked in verifier
 * mode, a misuse raised; returns st. */
static int syspte_cached_done(struct syspte_region *r, struct syspte_hold *h, int st, const struct syspte_misuse *m)
{
	syspte_cache_unhold(h);
	syspte_cache_verify(r);
	if (st == SYSPTE_MISUSE)
		syspte_raise(m);
	return st;
}

/*
 * The end of a map or unmap on the region's path (f: the interrupt state the region's lock
 * returned): the region checked in verifier mode, its lock released, b flushed, a misuse raised;
 * returns st. When the reservation is a cache's (h holds that cache's lock, taken inside the
 * region's), b is flushed under the cache's lock alone, as on the fast path (include/tlb_batch.h):
 * the region's lock is released first, keeping interrupts disabled (it is given the cache lock's
 * interrupt state, taken with them disabled), then the batch is flushed, then the cache's lock is
 * released with f; the region is checked after, as the fast path does (a walk's freeze takes every
 * cache's lock).
 */
static int syspte_region_done(struct syspte_region *r, struct syspte_hold *h, uint64_t f, struct tlb_batch *b, int st,
			      const struct syspte_misuse *m)
{
	if (h->cache) {
		spin_unlock(&r->lock, h->flags);
		tlb_batch_flush(b);   /* while the cache's lock keeps the reservation from being freed */
		h->flags = f;
		return syspte_cached_done(r, h, st, m);
	}
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	tlb_batch_flush(b);
	if (st == SYSPTE_MISUSE)
		syspte_raise(m);
	return st;
}

/*
 * syspte_map of a reservation in a chunk a cache owns, under that cache's lock alone: page i is
 * addr's, o its chunk's owner a moment ago, fit the frame pass's verdict. The same checks in the
 * same order as the region's path, and the same outcome; SYSPTE_CACHE_PASS, nothing done, when the
 * chunk changed owner or the caches are frozen (the region's path then decides). A cached
 * reservation lies inside its chunk (one the cache placed has at most SYSPTE_CACHE_MAX_PAGES pages,
 * one an adopted chunk brought fewer than SYSPTE_CHUNK_PAGES), so the map writes no 2 MiB leaf.
 */
static int syspte_map_cached(struct syspte_region *r, vaddr_t addr, uint32_t tag, const uint64_t *pfns, uint64_t n,
			     unsigned cache, uint64_t i, unsigned o, bool fit, uint64_t maxpfn, struct tlb_batch *b)
{
	struct syspte_misuse m;
	struct syspte_hold h;
	struct syspte_resv *v = syspte_cache_hold(r, i, o, &h);
	if (!h.cache)
		return SYSPTE_CACHE_PASS;
	int st = syspte_map_check_held(r, v, addr, tag, i, fit, n, cache, &m);
	if (st == SYSPTE_OK) {
		_Static_assert(SYSPTE_CHUNK_PAGES < SYSPTE_SPAN_PAGES, "a chunk's reservation gets no 2 MiB leaf");
		KASSERT(n < SYSPTE_CHUNK_PAGES, "syspte: a cached map of %llu pages", (unsigned long long)n);
		uint64_t over, done = syspte_write_typed_held(r, i, pfns, n, cache, 0, 0, maxpfn, b, &over);
		if (done == n) {
			syspte_resv_mapped_add(v, (int64_t)n);
			h.cache->mapped += n;
			syspte_overrides_add(r, cache, over);
		} else {   /* a frame changed since the check: undone and invalidated under the lock, refused */
			syspte_undo_write_held(r, i, done, b);
			tlb_batch_flush(b);
			st = SYSPTE_REFUSED;
		}
	}
	return syspte_cached_done(r, &h, st, &m);
}

int syspte_map(struct syspte_region *r, vaddr_t addr, uint32_t tag, const uint64_t *pfns, uint64_t n,
	       unsigned cache)
{
	struct syspte_misuse m;
	struct tlb_batch b;
	struct syspte_frame_scan sc = { .fit = false, .runs = 0 };
	uint64_t i, maxpfn = syspte_max_pfn();
	bool leaves = n >= SYSPTE_SPAN_PAGES && pt_leaf_level_ok(r->pt, 2);
	/* The frames are the caller's: checked before the lock, judged after the address and tag, and
	 * read again by the write, which checks each frame it writes (syspte_write_ptes_held). */
	uint64_t at = (addr - r->base) >> PAGE_SHIFT;   /* addr's page, when it lies in the region */
	if (pfns && addr >= r->base && at < r->npages)
		syspte_frames_scan(pfns, n, at, leaves, maxpfn, &sc);
	tlb_batch_init_from(&b, TLB_FROM_REGION_MAP_LEAF);   /* empty unless a 2 MiB leaf is written (or a write undone) */
	unsigned o = addr >= r->base && at < r->npages ? syspte_cache_owner_page(r, at) : 0;
	if (o) {
		int fst = syspte_map_cached(r, addr, tag, pfns, n, cache, at, o, sc.fit, maxpfn, &b);
		if (fst != SYSPTE_CACHE_PASS)
			return fst;
	}
	struct syspte_hold h;
	uint64_t f = spin_lock(&r->lock);
	struct syspte_resv *v = syspte_resv_at_locked(r, addr & ~PAGE_MASK, &i, &h);
	int st = syspte_map_check_held(r, v, addr, tag, i, sc.fit, n, cache, &m);
	if (st == SYSPTE_OK) {
		uint64_t over, done = syspte_write_typed_held(r, i, pfns, n, cache, leaves ? r->attrs2[cache] : 0, sc.runs,
							     maxpfn, &b, &over);
		if (done == n) {
			syspte_resv_mapped_add(v, (int64_t)n);
			r->pages_mapped += n;
			syspte_overrides_add(r, cache, over);
		} else {   /* the caller changed a frame since the check: undo, as an unmap would, and refuse */
			syspte_undo_write_held(r, i, done, &b);
			st = SYSPTE_REFUSED;
		}
	}
	/* the 2 MiB leaves' spans, if any, or the pages of an undone write */
	return syspte_region_done(r, &h, f, &b, st, &m);
}

/* First page of the mapping that contains mapped page i (scans back to its start mark; a span mapped
 * by a leaf in one step). */
static uint64_t syspte_mapping_start(const struct syspte_region *r, uint64_t i, uint64_t floor)
{
	while (i > floor && !syspte_pte_map_start(r, i))
		i = (i & (SYSPTE_SPAN_PAGES - 1)) && syspte_span_leaf(r, i >> SYSPTE_SPAN_SHIFT)
			    ? i & ~(SYSPTE_SPAN_PAGES - 1) : i - 1;
	return i;
}

/* Validates an unmap of n pages at page i of v, the contract's rows in order: SYSPTE_OK, REFUSED or
 * a misuse report. Whether a page is mapped or starts a mapping does not depend on its leaf. */
static inline __attribute__((always_inline)) int syspte_unmap_check_held(struct syspte_region *r, struct syspte_resv *v, vaddr_t addr, uint32_t tag,
				     uint64_t i, uint64_t n, struct syspte_misuse *m)
{
	if (!v)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0);
	if (v->tag != tag)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, addr, tag, v->tag);
	if (n == 0)
		return SYSPTE_REFUSED;
	uint64_t end = v->start + v->npages, k;
	int level;
	pte_t first = syspte_entry(r, i, &level);   /* page i's entry, read once for both its rows */
	if (!arch_pte_present(first))
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, v->tag, 0);
	if (n > end - i)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_PAST_END, addr, end - i, n);
	/* page i is mapped: the search for a hole starts after it, or after its span's leaf */
	k = level == 2 ? MIN(i + n, (i | (SYSPTE_SPAN_PAGES - 1)) + 1) : i + 1;
	if ((k = syspte_first_absent(r, k, i + n)) < i + n)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_HOLE, syspte_va(r, k), 0, 0);
	if (!arch_pte_map_start(first) || (level == 2 && (i & (SYSPTE_SPAN_PAGES - 1))))
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr,
				     syspte_va(r, syspte_mapping_start(r, i, v->start)), n);
	if (i + n < end) {
		pte_t next = syspte_entry(r, i + n, &level);
		if (arch_pte_present(next) && (!arch_pte_map_start(next) || (level == 2 && ((i + n) & (SYSPTE_SPAN_PAGES - 1)))))
			return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr,
					     syspte_va(r, syspte_mapping_start(r, i + n - 1, v->start)), n);
	}
	return SYSPTE_OK;
}

/*
 * Clears the mappings of n region pages from page i, whole mappings (checked), naming their
 * translations in b (the caller flushes it as syspte_region_done says: after the region's lock is
 * released, under the cache's lock for a cached reservation). A span mapped by a 2 MiB leaf gets
 * its table pointer back and is one entry of the batch; other pages are cleared one PTE each, an
 * entry each. Always inline: the unmap's body (and the map's undo).
 */
static inline __attribute__((always_inline)) void
syspte_clear_ptes_held(struct syspte_region *r, uint64_t i, uint64_t n, struct tlb_batch *b)
{
	for (uint64_t k = i, end = i + n; k < end;) {
		uint64_t s = k >> SYSPTE_SPAN_SHIFT, stop = MIN(end, (s + 1) << SYSPTE_SPAN_SHIFT);
		if (syspte_span_leaf(r, s)) {
			KASSERT((k & (SYSPTE_SPAN_PAGES - 1)) == 0 && stop - k == SYSPTE_SPAN_PAGES,
				"syspte: an unmap cuts the 2 MiB leaf of span %llu", (unsigned long long)s);
			arch_pte_write(syspte_pde(r, s), arch_pte_table(r->table_pa[s]));
			tlb_batch_add_page(b, syspte_va(r, k));
			syspte_leaves_add(r, -1);
		} else {
			volatile uint64_t *p = syspte_slot(r, k);
			for (uint64_t q = 0; q < stop - k; q++)
				arch_pte_write(&p[q], 0);
			tlb_batch_add_range(b, syspte_va(r, k), stop - k);
		}
		k = stop;
	}
}

/* syspte_unmap of a reservation in a chunk a cache owns, under that cache's lock alone (i: addr's
 * page, o: its chunk's owner a moment ago), b flushed before the lock is released; SYSPTE_CACHE_PASS
 * as syspte_map_cached. */
static int syspte_unmap_cached(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t n, uint64_t i,
			       unsigned o, struct tlb_batch *b)
{
	struct syspte_misuse m;
	struct syspte_hold h;
	struct syspte_resv *v = syspte_cache_hold(r, i, o, &h);
	if (!h.cache)
		return SYSPTE_CACHE_PASS;
	int st = syspte_unmap_check_held(r, v, addr, tag, i, n, &m);
	if (st == SYSPTE_OK) {
		syspte_clear_ptes_held(r, i, n, b);
		syspte_resv_mapped_add(v, -(int64_t)n);
		h.cache->mapped -= n;
		tlb_batch_flush(b);   /* while the lock keeps the reservation from being freed */
	}
	return syspte_cached_done(r, &h, st, &m);
}

int syspte_unmap(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t n)
{
	struct syspte_misuse m;
	struct tlb_batch b;
	uint64_t i = (addr - r->base) >> PAGE_SHIFT;   /* addr's page, when it lies in the region */
	tlb_batch_init_from(&b, TLB_FROM_REGION_UNMAP);   /* the call's one batch (a map has its own: its leaves) */
	unsigned o = addr >= r->base && i < r->npages ? syspte_cache_owner_page(r, i) : 0;
	if (o) {
		int fst = syspte_unmap_cached(r, addr, tag, n, i, o, &b);
		if (fst != SYSPTE_CACHE_PASS)
			return fst;
	}
	struct syspte_hold h;
	uint64_t f = spin_lock(&r->lock);
	struct syspte_resv *v = syspte_resv_at_locked(r, addr & ~PAGE_MASK, &i, &h);
	int st = syspte_unmap_check_held(r, v, addr, tag, i, n, &m);
	if (st == SYSPTE_OK) {
		syspte_clear_ptes_held(r, i, n, &b);
		syspte_resv_mapped_add(v, -(int64_t)n);
		r->pages_mapped -= n;
	}
	return syspte_region_done(r, &h, f, &b, st, &m);
}
