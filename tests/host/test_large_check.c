/*
 * The 2 MiB leaves' checks and placement, each test holding the code to a rule it once broke:
 *
 * 1. syspte_check checks a 2 MiB leaf's frame alignment, frame width and attributes
 *    (docs/design.md, "2 MiB leaves"); it once read the frame through arch_pte_frame, which masks
 *    bits 12..20 off, so its alignment test could never fire.
 * 2. syspte_check checks that the level-1 table a leaf hides has no present entry (docs/design.md:
 *    "the table stays allocated (and all its PTEs not present) for the unmap to restore"); such an
 *    entry would come back as a mapping no reservation counts when the leaf is unmapped.
 * 3. MmMapLockedPagesSpecifyCache finds the MDL's first aligned run of 512 frames wherever it lies
 *    (mdl_large_phase), not only at its first 2 MiB-aligned frame (docs/contract.md section 6:
 *    "MmMapLockedPagesSpecifyCache prefers the address that lets them map so").
 * 4. A run the machine's memory types split (arch_phys_span_uniform false: MTRRs of two types
 *    inside its 2 MiB) maps with 4 KiB PTEs, each page its own frame, never one leaf, whose memory
 *    type the SDM leaves undefined (Vol. 3A 11.11.9); the runs it does not split still get leaves.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "test_rng.h"
#include "pt.h"

static uint64_t rng = 0x1a26e5eedULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* A fresh 64 MiB machine, its region in *r and a DIVISIBLE reservation of spans 2 MiB spans there
 * (returned); 0 when either could not be made. */
static vaddr_t fresh_divisible(struct syspte_region **r, uint64_t spans, uint32_t tag)
{
	if (host_machine_create(64ULL << 20, 64ULL << 20))
		return 0;
	*r = reserved_region();
	return syspte_reserve(*r, spans * SYSPTE_SPAN_PAGES, tag, SYSPTE_FLAG_DIVISIBLE);
}

/*
 * 1: leaves of every memory type at generated spans of a DIVISIBLE reservation, each
 * corrupted in one way a correct map never writes (a reserved address bit 13..20: the frame not
 * 2 MiB aligned; a frame bit at or beyond the physical width; the user bit; NX cleared; writable
 * cleared; global cleared) and syspte_check called: it must report the region inconsistent. The
 * entry is restored and the leaf unmapped after each case. Returns the corruptions it missed.
 */
static unsigned test_check_leaf_entry(unsigned *cases)
{
	const uint32_t tag = 0x6b636843;   /* 'Chck' */
	unsigned missed = 0;
	*cases = 0;
	struct syspte_region *r;
	vaddr_t v = fresh_divisible(&r, 8, tag);
	if (!v || v % (8 * SIZE_2M))
		return 1;
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	const unsigned width = arch_phys_addr_bits();
	for (unsigned c = 0; c < 64; c++) {
		uint64_t s = draw(8), first = SYSPTE_SPAN_PAGES * (1 + draw(1 << 12));
		for (uint64_t q = 0; q < SYSPTE_SPAN_PAGES; q++)
			pfns[q] = first + q;
		vaddr_t at = v + s * SIZE_2M;
		if (syspte_map(r, at, tag, pfns, SYSPTE_SPAN_PAGES, (unsigned)draw(PT_CACHE_TYPES)) != SYSPTE_OK ||
		    syspte_check(r) != 0)
			return missed + 1;
		volatile pte_t *pde = syspte_pde(r, (at - r->base) >> (PAGE_SHIFT + SYSPTE_SPAN_SHIFT));
		pte_t good = *pde;
		if (!(good & X86_PTE_PS))
			return missed + 1;
		const pte_t bad[] = {
			good | 1ULL << (13 + c % 8),        /* the frame not 2 MiB aligned */
			good | 1ULL << (width + c % 4),     /* the frame beyond the physical width */
			good | X86_PTE_U,                   /* user-accessible */
			good & ~X86_PTE_NX,                 /* executable */
			good & ~X86_PTE_W,                  /* read-only */
			good & ~X86_PTE_G,                  /* not global */
		};
		for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++, (*cases)++) {
			*pde = bad[k];
			int st = syspte_check(r);
			*pde = good;
			if (st == 0 && missed++ < 8)
				printf("# leaf of span %llu: entry 0x%016llx (good 0x%016llx) passes syspte_check\n",
				       (unsigned long long)s, (unsigned long long)bad[k], (unsigned long long)good);
		}
		if (syspte_unmap(r, at, tag, SYSPTE_SPAN_PAGES) != SYSPTE_OK)
			return missed + 1;
	}
	syspte_release(r, v, tag);
	return missed;
}

/*
 * 2: a leaf whose hidden level-1 table holds a present entry (generated spans and slots):
 * syspte_check must report it while the leaf is there, before the unmap that restores the table
 * pointer makes the entry a live mapping nothing counts. Shown too: after that unmap the page is
 * mapped (pt_query) with no reservation counting it. Returns the cases syspte_check passed.
 */
static unsigned test_check_table_under_leaf(unsigned *cases)
{
	const uint32_t tag = 0x72646e55;   /* 'Undr' */
	unsigned missed = 0;
	*cases = 0;
	struct syspte_region *r;
	vaddr_t v = fresh_divisible(&r, 4, tag);
	if (!v)
		return 1;
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	for (unsigned c = 0; c < 32; c++, (*cases)++) {
		uint64_t s = draw(4), slot = draw(SYSPTE_SPAN_PAGES);
		for (uint64_t q = 0; q < SYSPTE_SPAN_PAGES; q++)
			pfns[q] = SYSPTE_SPAN_PAGES * 0x50 + q;
		vaddr_t at = v + s * SIZE_2M;
		if (syspte_map(r, at, tag, pfns, SYSPTE_SPAN_PAGES, PT_CACHE_WB) != SYSPTE_OK)
			return missed + 1;
		uint64_t i = (at - r->base) >> PAGE_SHIFT;
		volatile uint64_t *pte = syspte_slot(r, i + slot);
		*pte = r->attrs[PT_CACHE_WB] | (0x7777ULL << PAGE_SHIFT);   /* a present 4 KiB entry under the leaf */
		int st = syspte_check(r);
		syspte_unmap(r, at, tag, SYSPTE_SPAN_PAGES);
		bool stale = pt_query(host_machine_pt(), at + slot * PAGE_SIZE, NULL, NULL, NULL);
		*pte = 0;
		if (st == 0 && missed++ < 4)
			printf("# a present entry at slot %llu under the leaf of span %llu passes syspte_check; after the "
			       "unmap the page is %s\n", (unsigned long long)slot, (unsigned long long)s,
			       stale ? "mapped with nothing counting it" : "unmapped");
	}
	syspte_release(r, v, tag);
	return missed;
}

/*
 * 3: MmMapLockedPagesSpecifyCache of generated MDLs (n = 600 .. 3000 pages, any ByteOffset)
 * whose frame 0 lies on a 2 MiB boundary but starts no run, and whose frames j .. j + 511 (j >= 1)
 * are one aligned run; every other frame odd. The region is empty and large, so the placement that
 * maps the run with a 2 MiB leaf is free; the contract's preference asks for it. Returns the cases
 * mapped without the leaf.
 */
static unsigned test_specify_cache_later_run(unsigned *cases)
{
	unsigned missed = 0;
	*cases = 0;
	if (host_machine_create(64ULL << 20, 64ULL << 20))
		return 1;
	struct syspte_region *r = reserved_region();
	for (unsigned c = 0; c < 64; c++, (*cases)++) {
		uint64_t n = 600 + draw(2400), j = 1 + draw(n - SYSPTE_SPAN_PAGES);
		MDL *m = calloc(1, sizeof(MDL) + 8 * n);
		PFN_NUMBER *pfn = MmGetMdlPfnArray(m);
		uint64_t base = SYSPTE_SPAN_PAGES * (2 + draw(1000));
		for (uint64_t k = 0; k < n; k++)
			pfn[k] = k >= j && k < j + SYSPTE_SPAN_PAGES ? base + (k - j) : (0x100 + 2 * draw(1 << 20)) | 1;
		pfn[0] = SYSPTE_SPAN_PAGES * (1 + draw(1000)) + (1 + draw(4)) * 0x100000;   /* aligned, a single page */
		m->Size = (CSHORT)(sizeof(MDL) + 8 * n);
		m->StartVa = (PVOID)0x60000000ULL;
		m->ByteOffset = draw(2) ? 0 : (ULONG)draw(PAGE_SIZE);
		m->ByteCount = (ULONG)(n * PAGE_SIZE - m->ByteOffset);
		m->MdlFlags = MDL_PAGES_LOCKED;
		char *p = MmMapLockedPagesSpecifyCache(m, KernelMode, MmCached, NULL, 0, NormalPagePriority);
		struct syspte_stats st;
		syspte_get_stats(r, &st);
		if ((!p || st.large_leaves != 1) && missed++ < 4)
			printf("# %llu pages, frame 0 aligned alone, a run from frame %llu: mapped at %p, %llu leaves\n",
			       (unsigned long long)n, (unsigned long long)j, (void *)p, (unsigned long long)st.large_leaves);
		if (p)
			MmUnmapLockedPages(p, m);
		free(m);
	}
	return missed;
}

/* 4: the fake machine's memory types are split in every 2 MiB run whose frame number has bit 9
 * of its span index set (a run chosen by its address, as MTRRs choose). */
static bool split_span(paddr_t pa, uint64_t bytes)
{
	return bytes != SIZE_2M || !((pa >> 21) & 1);
}

/* 4: maps of 8 aligned runs into a DIVISIBLE reservation, each run drawn at an odd or even 2 MiB
 * index; the region's leaves must be the even ones alone, and every page of an odd run a level-1
 * PTE of its own frame. Returns the runs mapped the wrong way. */
static unsigned test_split_runs_get_small_pages(unsigned *cases)
{
	const uint32_t tag = 0x7470534d;   /* 'MSpt' */
	unsigned wrong = 0;
	*cases = 0;
	struct syspte_region *r;
	vaddr_t v = fresh_divisible(&r, 8, tag);
	if (!v)
		return 1;
	fake_arch_set_span_uniform(split_span);
	static uint64_t pfns[8 * SYSPTE_SPAN_PAGES];
	uint64_t i0 = (v - r->base) >> PAGE_SHIFT;
	for (unsigned c = 0; c < 32; c++) {
		unsigned even = 0;
		bool odd[8];
		for (unsigned s = 0; s < 8; s++) {
			uint64_t run = 2 * (1 + draw(1 << 12)) + (odd[s] = draw(2));
			even += !odd[s];
			for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES; k++)
				pfns[s * SYSPTE_SPAN_PAGES + k] = run * SYSPTE_SPAN_PAGES + k;
		}
		if (syspte_map(r, v, tag, pfns, 8 * SYSPTE_SPAN_PAGES, PT_CACHE_WB) != 0) {
			wrong++;
			continue;
		}
		struct syspte_stats st;
		syspte_get_stats(r, &st);
		wrong += st.large_leaves != even;
		for (unsigned s = 0; s < 8; s++, (*cases)++) {
			bool bad = false;
			for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES && !bad; k++) {
				int level;
				pte_t e = syspte_entry(r, i0 + s * SYSPTE_SPAN_PAGES + k, &level);
				paddr_t want = pfn_to_pa(pfns[s * SYSPTE_SPAN_PAGES + k]);
				bad = !arch_pte_present(e) || level != (odd[s] ? 1 : 2) ||
				      arch_pte_frame(e, level) + (level == 2 ? k << PAGE_SHIFT : 0) != want ||
				      arch_pte_cache(e, level, r->pt->features) != PT_CACHE_WB;
			}
			if (bad && wrong++ < 4)
				printf("# case %u, run %u (%s): not mapped as wanted (present, level, frame, write-back)\n", c, s, odd[s] ? "split" : "one type");
		}
		wrong += syspte_check(r) != 0;
		syspte_unmap(r, v, tag, 8 * SYSPTE_SPAN_PAGES);
	}
	fake_arch_set_span_uniform(NULL);
	return wrong;
}

int main(void)
{
	unsigned cases;
	is(test_check_leaf_entry(&cases), 0, "syspte_check reports a 2 MiB leaf whose frame is unaligned or beyond the width, "
	   "or whose attributes are not the mapping's (%u corruptions)", cases);
	is(test_check_table_under_leaf(&cases), 0, "syspte_check reports a present entry in the table a 2 MiB leaf hides "
	   "(%u cases)", cases);
	is(test_specify_cache_later_run(&cases), 0, "MmMapLockedPagesSpecifyCache maps an aligned run with a 2 MiB leaf when "
	   "the MDL's first aligned frame is a single page (%u MDLs)", cases);
	is(test_split_runs_get_small_pages(&cases), 0, "a run whose memory types are split maps with 4 KiB PTEs of its own "
	   "frames, the others with 2 MiB leaves (%u runs)", cases);
	return tap_done();
}
