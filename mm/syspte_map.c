/*
 * Mapping into and unmapping from a system PTE region's reservations: the PTE writes, the unmap
 * rules of docs/contract.md section 3, and the TLB invalidations they owe (contract in
 * mm/syspte.h).
 *
 * Map validates in one pass and writes in a second, so a refused map never makes anything
 * present, even briefly; it owes no TLB invalidation, since every slot it writes was not present
 * (in verifier mode each slot is asserted not present first). Unmap validates the whole span and
 * clears it under the lock, naming its pages in a TLB batch, which it flushes once the lock is
 * released and before it returns (include/tlb_batch.h). A reservation a CPU's cache placed is held
 * through that cache's lock as well (syspte_resv_at_locked), so it cannot be freed meanwhile.
 */
#include "syspte_impl.h"
#include "tlb_batch.h"
#include "verifier.h"
#include "kassert.h"

/* Pages from region page i to the end of its level-1 table (the slots of a run are contiguous). */
static uint64_t syspte_run(uint64_t i, uint64_t left) { return MIN(left, PT_ENTRIES - i % PT_ENTRIES); }

/*
 * In verifier mode, asserts that none of the n slots from page i is present before a map writes
 * them: a map owes no TLB invalidation only because it fills not-present PTEs (include/tlb_batch.h).
 * The validation pass (or a reservation's zero count) has established it; this checks every slot.
 */
static void syspte_verify_unmapped_locked(const struct syspte_region *r, uint64_t i, uint64_t n)
{
	if (mm_verifier)
		for (uint64_t k = i; k < i + n; k++)
			KASSERT(!syspte_pte_present(r, k), "verifier: a map met the present PTE of region page %llu",
				(unsigned long long)k);
}

/*
 * Writes n PTEs (attributes attrs, one frame each) from page i; the first carries the mapping-start
 * mark. The slots were checked non-present, so no TLB entry can exist for them and the map owes no
 * invalidation (include/tlb_batch.h).
 */
static void syspte_write_ptes_locked(struct syspte_region *r, uint64_t i, const uint64_t *pfns, uint64_t n,
				     pte_t attrs)
{
	spin_assert_held(&r->lock);
	syspte_verify_unmapped_locked(r, i, n);
	uint64_t k = 0;
	while (k < n) {
		volatile uint64_t *p = syspte_slot(r, i + k);
		uint64_t run = syspte_run(i + k, n - k);
		for (uint64_t j = 0; j < run; j++, k++)
			arch_pte_write(&p[j], arch_pte_leaf(attrs, pfn_to_pa(pfns[k])));
	}
	syspte_pte_mark_start(r, i);
}

/*
 * Validates a map of n pages at page i of v: SYSPTE_OK, REFUSED, or a misuse report. The span's
 * slots are scanned for a present one only when v has pages mapped at all.
 */
static int syspte_map_check_locked(struct syspte_region *r, struct syspte_resv *v, vaddr_t addr, uint32_t tag,
				   uint64_t i, const uint64_t *pfns, uint64_t n, unsigned cache, struct syspte_misuse *m)
{
	spin_assert_held(&r->lock);
	if (!v)
		return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_NO_RESERVATION, addr, tag, 0);
	if (v->tag != tag)
		return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_WRONG_TAG, addr, tag, v->tag);
	if (!pfns || n == 0 || n > v->start + v->npages - i || cache >= PT_CACHE_TYPES)
		return SYSPTE_REFUSED;
	for (uint64_t k = 0; v->mapped && k < n; k++)
		if (syspte_pte_present(r, i + k))
			return syspte_misuse(m, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, addr, syspte_va(r, i + k),
					     syspte_va(r, i + n) - 1);
	return SYSPTE_OK;
}

int syspte_map(struct syspte_region *r, vaddr_t addr, uint32_t tag, const uint64_t *pfns, uint64_t n,
	       unsigned cache)
{
	struct syspte_misuse m;
	uint64_t i;
	struct syspte_hold h;
	uint64_t f = spin_lock(&r->lock);
	struct syspte_resv *v = syspte_resv_at_locked(r, addr & ~PAGE_MASK, &i, &h);
	int st = syspte_map_check_locked(r, v, addr, tag, i, pfns, n, cache, &m);
	if (st == SYSPTE_OK) {
		syspte_write_ptes_locked(r, i, pfns, n, pt_leaf_attrs(r->pt, PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(cache)));
		v->mapped += n;
		r->pages_mapped += n;
	}
	syspte_unhold_locked(r, &h);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	if (st == SYSPTE_MISUSE)
		syspte_raise(&m);
	return st;
}

/* First page of the mapping that contains present page i (scans back to its start bit). */
static uint64_t syspte_mapping_start(const struct syspte_region *r, uint64_t i, uint64_t floor)
{
	while (i > floor && !syspte_pte_map_start(r, i))
		i--;
	return i;
}

/* Validates an unmap of n pages at page i of v, the contract's rows in order: SYSPTE_OK, REFUSED or
 * a misuse report. */
static int syspte_unmap_check_locked(struct syspte_region *r, struct syspte_resv *v, vaddr_t addr, uint32_t tag,
				     uint64_t i, uint64_t n, struct syspte_misuse *m)
{
	spin_assert_held(&r->lock);
	if (!v)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0);
	if (v->tag != tag)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, addr, tag, v->tag);
	if (n == 0)
		return SYSPTE_REFUSED;
	uint64_t end = v->start + v->npages;
	if (!syspte_pte_present(r, i))
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, v->tag, 0);
	if (n > end - i)
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_PAST_END, addr, end - i, n);
	for (uint64_t k = i; k < i + n; k++)
		if (!syspte_pte_present(r, k))
			return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_HOLE, syspte_va(r, k), 0, 0);
	if (!syspte_pte_map_start(r, i))
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr,
				     syspte_va(r, syspte_mapping_start(r, i, v->start)), n);
	if (i + n < end && syspte_pte_present(r, i + n) && !syspte_pte_map_start(r, i + n))
		return syspte_misuse(m, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr,
				     syspte_va(r, syspte_mapping_start(r, i + n - 1, v->start)), n);
	return SYSPTE_OK;
}

/* Clears the PTEs of n region pages from page i, naming their translations in b (the caller
 * flushes it after the lock is released: the region's one source of invalidations). */
static void syspte_clear_ptes_locked(struct syspte_region *r, uint64_t i, uint64_t n, struct tlb_batch *b)
{
	spin_assert_held(&r->lock);
	for (uint64_t k = i; k < i + n; k++)
		arch_pte_write(syspte_slot(r, k), 0);
	tlb_batch_add_range(b, syspte_va(r, i), n);
}

int syspte_unmap(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t n)
{
	struct syspte_misuse m;
	struct tlb_batch b;
	uint64_t i;
	tlb_batch_init_from(&b, TLB_FROM_REGION_UNMAP);   /* the region's one batch: maps have none */
	struct syspte_hold h;
	uint64_t f = spin_lock(&r->lock);
	struct syspte_resv *v = syspte_resv_at_locked(r, addr & ~PAGE_MASK, &i, &h);
	int st = syspte_unmap_check_locked(r, v, addr, tag, i, n, &m);
	if (st == SYSPTE_OK) {
		syspte_clear_ptes_locked(r, i, n, &b);
		v->mapped -= n;
		r->pages_mapped -= n;
	}
	syspte_unhold_locked(r, &h);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	tlb_batch_flush(&b);
	if (st == SYSPTE_MISUSE)
		syspte_raise(&m);
	return st;
}
