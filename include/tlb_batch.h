/*
 * tlb_batch: the TLB invalidations one page-table operation owes, collected while its locks are held
 * and issued once, after they are released. mm/ invalidates translations only through this
 * interface; arch_tlb_flush_batch (include/arch_mm.h) carries a batch out on the machine, and the
 * host's fake machine records each batch it is given.
 *
 * Contract:
 *  - Whoever changes or clears a present entry adds the address it translated:
 *    tlb_batch_add_page names the translation containing va, whatever its page size, so a large
 *    leaf is one entry; tlb_batch_add_range names n pages; tlb_batch_add_all names every
 *    translation. Filling a not-present entry owes nothing: a CPU caches no translation for an
 *    entry that is not present, so a map never adds to a batch.
 *  - The threshold: a batch names at most TLB_BATCH_PAGES pages. One more turns it into a flush
 *    of the whole TLB, which beyond that many pages is cheaper than one invalidation per page and
 *    bounds the cost of any batch. This is the only place the policy lives.
 *  - tlb_batch_flush runs after the operation's locks are released and before it returns, so no
 *    caller ever sees a stale translation of a page it unmapped or reprotected, and a page's
 *    address is not reused (reserved again, freed) before its translations are gone.
 *
 * SMP. arch_tlb_flush_batch invalidates on the running CPU today. The cross-CPU shootdown is a
 * change inside it alone: it will run the same invalidation on every online CPU in one
 * arch_cpu_call round (one interrupt per other CPU per batch, whatever the number of pages) and
 * return when all have done it. Callers change nothing. Since they flush with no lock held, a CPU
 * spinning on one of those locks cannot block the round.
 */
#ifndef TLB_BATCH_H
#define TLB_BATCH_H

#include "types.h"
#include "arch_mm.h"

#define TLB_BATCH_PAGES 32

struct tlb_batch {
	unsigned n;                     /* pages named in va[] */
	bool all;                       /* every translation instead (va[] is then unused) */
	vaddr_t va[TLB_BATCH_PAGES];
};

/* tlb_batch_init: b names nothing. */
static inline void tlb_batch_init(struct tlb_batch *b)
{
	b->n = 0;
	b->all = false;
}

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

/* tlb_batch_flush: carries b out (nothing when empty) and empties it. Call with no lock held. */
static inline void tlb_batch_flush(struct tlb_batch *b)
{
	if (!tlb_batch_empty(b))
		arch_tlb_flush_batch(b);
	tlb_batch_init(b);
}

#endif
