/*
 * tlb_batch: the TLB invalidations one page-table operation owes, collected while its locks are held
 * and issued once, after they are released, on every CPU. mm/ invalidates translations only through
 * this interface; arch_tlb_flush_batch (include/arch_mm.h) carries a batch out on the machine: on
 * the running CPU and, in one round, on every other online CPU (the TLB shootdown).
 *
 * Contract:
 *  - Whoever changes or clears a present entry adds the address it translated:
 *    tlb_batch_add_page names the translation containing va, whatever its page size, so a large
 *    leaf is one entry; tlb_batch_add_range names n pages; tlb_batch_add_all names every
 *    translation. Filling a not-present entry owes nothing: no CPU caches a translation for an
 *    entry that is not present (Intel SDM Vol. 3A, "Caching Translation Information"), so a map
 *    of 4 KiB pages never adds to a batch and never causes a shootdown. The maps assert it: pt_map's
 *    leaf store (no batch to add to, a present entry is a panic) and, in verifier mode, the
 *    region's map. The one exception: the region's 2 MiB leaf replaces a present pointer to the
 *    span's level-1 table, which a CPU's paging-structure caches may hold, so such a map adds one
 *    entry per leaf (TLB_FROM_REGION_MAP_LEAF, mm/syspte_map.c).
 *  - The threshold: a batch names at most TLB_BATCH_PAGES pages. One more turns it into a flush
 *    of the whole TLB, which beyond that many pages is cheaper than one invalidation per page and
 *    bounds the cost of any batch. This is the only place the policy lives: tlb_batch_invalidate
 *    applies it on the CPU that issues the batch and on every CPU that receives it.
 *  - tlb_batch_flush runs after the operation's locks are released and before it returns, so no
 *    CPU ever uses a stale translation of a page after the operation that unmapped or reprotected
 *    it returned, and a page's address is not reused (reserved again, freed) before every CPU's
 *    translations of it are gone. One exception: the unmap of a reservation a per-CPU cache holds
 *    (or the undo of a refused map of one) flushes under that cache's lock alone, on its fast path
 *    and on the region's path alike (mm/syspte_map.c: syspte_region_done releases the region's
 *    lock first), so not even a racing free can reuse its pages first; a CPU spinning on the lock
 *    answers the round (include/spinlock.h).
 *
 * SMP. One batch is one shootdown round whatever its size: each other online CPU is sent the batch
 * once and acknowledges it once it applied it (arch_tlb_flush_batch says how the round cannot
 * deadlock). Since callers flush with no lock held (or, by the exception above, one cache's lock,
 * on which a spinning CPU answers the round), a CPU spinning on one of their locks never holds up
 * the round, and a receiving CPU needs nothing the issuing one holds.
 */
#ifndef TLB_BATCH_H
#define TLB_BATCH_H

#include "types.h"
#include "arch_mm.h"

#define TLB_BATCH_PAGES 32

/*
 * Which operation a batch comes from: the CPUs do the same whatever it is; tests delete one
 * source's shootdown by it (tlb_inject) and the fake machine records it. A map of 4 KiB pages owes
 * nothing (above); the region's map owes an entry per 2 MiB leaf.
 */
enum tlb_origin {
	TLB_FROM_OTHER = 0,        /* set-up and undo paths (pt_map's undo, CR3 switch) */
	TLB_FROM_REGION_UNMAP,     /* syspte_unmap: MmUnmapReservedMapping, and MmUnmapLockedPages through it */
	TLB_FROM_PT_UNMAP,         /* pt_unmap, its large-page splits included */
	TLB_FROM_PT_PROTECT,       /* pt_protect, its large-page splits included */
	TLB_FROM_REGION_MAP_LEAF,  /* syspte_map's 2 MiB leaves, each over its span's table pointer,
				      and the pages of a map it undoes (a frame changed under it) */
	TLB_FROM_COUNT
};

struct tlb_batch {
	unsigned n;                     /* pages named in va[] */
	bool all;                       /* every translation instead (va[] is then unused) */
	uint8_t origin;                 /* enum tlb_origin */
	vaddr_t va[TLB_BATCH_PAGES];
};

/*
 * Fault injection, for the tests that prove a missing shootdown is seen (tests/host/test_shootdown.c,
 * tools/shootdown-deletions.sh): each bit set deletes one part of the shootdown. 0 (the default) in
 * every real run; defined by each implementation of the seam (arch/x86_64/tlb.c, the host's fake
 * machine), read once per batch.
 */
#define TLB_INJECT_NO_ROUND        (1u << 0)   /* no batch is sent to the other CPUs */
#define TLB_INJECT_RECV_NO_PAGES   (1u << 1)   /* a receiving CPU skips the pages of a per-page batch */
#define TLB_INJECT_RECV_NO_ALL     (1u << 2)   /* a receiving CPU skips a flush of everything */
#define TLB_INJECT_RECV_ALL_LOCAL  (1u << 3)   /* ... flushes only non-global translations (a CR3 reload) */
#define TLB_INJECT_LOCAL           (1u << 4)   /* the issuing CPU skips its own invalidation */
#define TLB_INJECT_NO_ROUND_FROM(origin) (1u << (8 + (origin)))   /* no round for batches of that origin */
extern unsigned tlb_inject;

/* tlb_batch_init_from: b names nothing and comes from origin (enum tlb_origin). */
static inline void tlb_batch_init_from(struct tlb_batch *b, enum tlb_origin origin)
{
	b->n = 0;
	b->all = false;
	b->origin = (uint8_t)origin;
}

/* tlb_batch_init: b names nothing (origin TLB_FROM_OTHER). */
static inline void tlb_batch_init(struct tlb_batch *b) { tlb_batch_init_from(b, TLB_FROM_OTHER); }

/* tlb_batch_empty: true when b names nothing (flushing it does nothing). */
static inline bool tlb_batch_empty(const struct tlb_batch *b) { return !b->all && b->n == 0; }

/* tlb_batch_add_all: b names every translation, global ones included. */
static inline void tlb_batch_add_all(struct tlb_batch *b)
{
	b->all = true;
	b->n = 0;
}

/* tlb_batch_add_page: b names the translation containing va (a page or a large leaf). */
static inline void tlb_batch_add_page(struct tlb_batch *b, vaddr_t va)
{
	if (b->all)
		return;
	if (b->n == TLB_BATCH_PAGES) {
		tlb_batch_add_all(b);
		return;
	}
	b->va[b->n++] = va & ~PAGE_MASK;
}

/* tlb_batch_add_range: b names the npages pages from va (page aligned). */
static inline void tlb_batch_add_range(struct tlb_batch *b, vaddr_t va, uint64_t npages)
{
	if (b->all || npages > TLB_BATCH_PAGES - b->n) {
		tlb_batch_add_all(b);
		return;
	}
	for (uint64_t k = 0; k < npages; k++)
		b->va[b->n++] = va + (k << PAGE_SHIFT);
}

/*
 * tlb_batch_invalidate: carries b out on the running CPU by the policy: every translation, global
 * ones included, when b->all, else the translation containing each page named. The issuing CPU
 * runs it for its own TLB, and each CPU that receives the batch runs it (received: true) for its
 * own, so every CPU applies the same threshold. Takes no lock and waits for nothing.
 */
static inline void tlb_batch_invalidate(const struct tlb_batch *b, bool received)
{
	unsigned skip = __atomic_load_n(&tlb_inject, __ATOMIC_RELAXED);
	if (!received && (skip & TLB_INJECT_LOCAL))
		return;
	if (b->all) {
		if (!received || !(skip & (TLB_INJECT_RECV_NO_ALL | TLB_INJECT_RECV_ALL_LOCAL)))
			arch_tlb_invalidate_all();
		else if (!(skip & TLB_INJECT_RECV_NO_ALL))
			arch_tlb_invalidate_nonglobal();
		return;
	}
	if (received && (skip & TLB_INJECT_RECV_NO_PAGES))
		return;
	for (unsigned i = 0; i < b->n && i < TLB_BATCH_PAGES; i++)
		arch_tlb_invalidate_page(b->va[i]);
}

/* tlb_batch_flush: carries b out on every CPU (nothing when empty) and empties it, keeping its
 * origin. Call with no lock held. */
static inline void tlb_batch_flush(struct tlb_batch *b)
{
	if (!tlb_batch_empty(b))
		arch_tlb_flush_batch(b);
	b->n = 0;
	b->all = false;
}

#endif
