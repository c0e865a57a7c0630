/*
 * Boot self-tests of 2 MiB leaves in the system PTE region (README "2 MiB mappings"): the live
 * tables hold a level-2 leaf write-back over RAM for each caching type and as asked over a device,
 * a remap reads the new
 * frames at once, leaves mix with 4 KiB pages in one mapping, every misuse row keeps its outcome
 * on a large mapping, the MDL toolkit's FAST_LARGE_PAGES pages map with leaves, and a run the MTRRs
 * give two memory types maps with 4 KiB PTEs.
 */
#include "ktest.h"
#include "wdm.h"
#include "syspte.h"
#include "syspte_impl.h"   /* syspte_frames_large: the leaf's pass, timed as its floor */
#include "reserved.h"
#include "phys.h"
#include "pt.h"
#include "vm.h"
#include "trap.h"
#include "bugcheck.h"
#include "arch_mm.h"
#include "x86.h"
#include "cpu.h"
#include "mtrr.h"
#include "mdl.h"
#include "testhooks.h"
#include "verifier.h"
#include "kernel.h"
#include "kstring.h"
#include "tsc.h"
#include "smp.h"
#include "percpu.h"

#define TAG 0x6567724cu   /* 'Lrge' */
#define SPAN 512u         /* pages of a 2 MiB leaf */

/* An MDL of up to three spans' frames, built by hand. */
static struct {
	MDL mdl;
	PFN_NUMBER pfn[3 * SPAN];
} lm;

/* Makes lm describe n locked pages: k < lead single pages from singles, then the run from run_pa
 * (run_pages pages), then single pages again. */
static void large_mdl(uint64_t n, uint64_t lead, paddr_t run_pa, uint64_t run_pages, const paddr_t *singles)
{
	lm.mdl = (MDL){ .Size = (CSHORT)sizeof(lm), .MdlFlags = MDL_PAGES_LOCKED, .ByteCount = (ULONG)(n * PAGE_SIZE) };
	for (uint64_t k = 0, s = 0; k < n; k++)
		lm.pfn[k] = k >= lead && k < lead + run_pages ? pa_to_pfn(run_pa) + (k - lead) : pa_to_pfn(singles[s++]);
}

/* The page size and leaf of the live translation of va (0 when not mapped). */
static uint64_t large_page_size(const void *va, uint64_t *pte, paddr_t *pa)
{
	uint64_t size = 0, e = 0;
	paddr_t p = 0;
	if (!pt_query(&kernel_pt, (vaddr_t)va, &p, &e, &size))
		return 0;
	if (pte)
		*pte = e;
	if (pa)
		*pa = p;
	return size;
}

static uint64_t large_leaves(void)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	return s.large_leaves;
}

/* Fills runs[0..n) with 2 MiB-aligned runs of 512 zeroed frames; false, nothing kept, when fewer are
 * free (a small or fragmented machine). */
static bool large_runs(paddr_t *runs, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		runs[k] = phys_alloc_aligned(SPAN, SPAN, 0, UINT64_MAX);
		if (!runs[k]) {
			while (k--)
				phys_free(runs[k], SPAN);
			return false;
		}
		phys_zero(runs[k], SPAN);
	}
	return true;
}

/* Gets n runs into runs[] (large_runs), or skips the test: the machine lacks what it needs. */
#define LARGE_RUNS(runs, n)                                                                                        \
	do {                                                                                                        \
		if (!large_runs(runs, n))                                                                           \
			KTEST_SKIP("needs %u free 2 MiB-aligned run(s) of frames; fewer are free", (unsigned)(n)); \
	} while (0)

/* Skips the test when the region is too small for a 2 MiB-aligned reservation of bytes beside the
 * suite's live ones (syspte=2M boots: tools/syspte-sizes.sh). */
#define LARGE_NEED(bytes)                                                                                          \
	do {                                                                                                        \
		struct syspte_stats s_;                                                                             \
		syspte_get_stats(reserved_region(), &s_);                                                           \
		if ((s_.npages << PAGE_SHIFT) < (uint64_t)(bytes) + SIZE_2M)                                        \
			KTEST_SKIP("the region (%llu MiB) is too small for a %llu KiB 2 MiB-aligned reservation",    \
				   (unsigned long long)(s_.npages >> 8), (unsigned long long)((bytes) >> 10));       \
	} while (0)

/* The caching types, each with its PAT index with the PAT and without it. */
static const struct { MEMORY_CACHING_TYPE t; unsigned pat, no_pat; } large_types[] = {
	{ MmNonCached, 3, 3 }, { MmCached, 0, 0 }, { MmWriteCombined, 4, 2 },
	{ MmHardwareCoherentCached, 0, 0 }, { MmNonCachedUnordered, 2, 2 }, { MmUSWCCached, 4, 2 },
};

/* The PAT index of a leaf (PWT, PCD, and the PAT bit at bit 12). */
static unsigned large_leaf_index(uint64_t pte)
{
	return (unsigned)!!(pte & X86_PTE_PWT) | (unsigned)!!(pte & X86_PTE_PCD) << 1 | (unsigned)!!(pte & X86_PTE_PAT_LARGE) << 2;
}

/* The region's count of pages mapped write-back instead of memory type c. */
static uint64_t large_overrides(enum pt_cache c)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	return s.overrides[c];
}

/* Each caching type over a run of RAM, which the direct map holds write-back: one level-2 leaf (PS)
 * of PAT index 0 whatever was asked (one page of two memory types is undefined: Intel SDM Vol. 3A
 * 11.12.4), its 512 pages counted under a non-write-back type, the mapping start mark, the frame,
 * and through it the memory of the run; unmapped, the span's table is back. */
KTEST(large_leaf_at_level2_with_each_cache_type)
{
	paddr_t run;
	LARGE_RUNS(&run, 1);
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va && IS_ALIGNED((vaddr_t)va, SIZE_2M));
	uint64_t leaves = large_leaves();
	large_mdl(SPAN, 0, run, SPAN, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(large_types); i++) {
		enum pt_cache c = (enum pt_cache)reserved_cache_type(large_types[i].t);
		uint64_t over = large_overrides(c);
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, large_types[i].t) == va);
		uint64_t pte = 0;
		paddr_t pa = 0;
		KEXPECT(large_page_size(va + 7 * PAGE_SIZE, &pte, &pa) == SIZE_2M, "type %d: a 2 MiB leaf", large_types[i].t);
		KEXPECT(pa == run + 7 * PAGE_SIZE, "type %d: the run's frame", large_types[i].t);
		KEXPECT(pte & X86_PTE_PS, "type %d: PS set in the level-2 entry", large_types[i].t);
		KEXPECT(large_leaf_index(pte) == 0, "type %d over RAM: write-back, the direct map's type (PAT index %u)",
			large_types[i].t, large_leaf_index(pte));
		KEXPECT(large_overrides(c) - over == (c == PT_CACHE_WB ? 0 : SPAN), "type %d: the run's pages counted",
			large_types[i].t);
		KEXPECT(!(pte & X86_PTE_PAT_4K) || (pte & X86_PTE_PS), "bit 7 is PS, never the PAT bit, in a leaf");
		KEXPECT(arch_pte_map_start(pte), "the leaf carries the mapping-start mark");
		KEXPECT_EQ(large_leaves(), leaves + 1);
		KEXPECT_EQ(pt_check(&kernel_pt), 0, "the live tables hold no format fault");
		volatile uint64_t *w = (volatile uint64_t *)(va + 300 * PAGE_SIZE);
		*w = 0x1e4f0000ULL + i;
		KEXPECT_EQ(*(volatile uint64_t *)arch_phys_to_virt(run + 300 * PAGE_SIZE), 0x1e4f0000ULL + i,
			   "a write through the leaf reaches the run");
		MmUnmapReservedMapping(va, TAG, &lm.mdl);
		KEXPECT_EQ(large_page_size(va, NULL, NULL), 0, "unmapped");
		KEXPECT(pt_pte_slot(&kernel_pt, (vaddr_t)va) != NULL, "the span's level-1 table is back");
		KEXPECT_EQ(large_leaves(), leaves);
	}
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	MmFreeMappingAddress(va, TAG);
	phys_free(run, SPAN);
}

/* A 2 MiB block of the firmware's flash, below 4 GiB (0xff000000 .. 0xffffffff), that the direct
 * map does not hold and the MTRRs give one memory type; 0 when none is. */
static paddr_t large_device_block(void)
{
	for (paddr_t pa = 0xffe00000; pa >= 0xff000000; pa -= SIZE_2M) {
		uint64_t extent;
		if (!arch_phys_direct_mapped(pa, &extent) && extent >= SIZE_2M && arch_phys_span_uniform(pa, SIZE_2M))
			return pa;
	}
	return 0;
}

/* A 2 MiB block no RAM lies in (the firmware's flash) mapped MmNonCached and MmNonCachedUnordered:
 * one level-2 leaf of the type asked for, PAT index 3 and 2, nothing counted. Nothing is read or
 * written through it. */
KTEST(large_leaf_over_device_keeps_type)
{
	static const struct { MEMORY_CACHING_TYPE t; enum pt_cache c; unsigned idx; } u[] = {
		{ MmNonCached, PT_CACHE_UC, 3 }, { MmNonCachedUnordered, PT_CACHE_UCMINUS, 2 },
	};
	paddr_t dev = large_device_block();
	if (!dev)
		KTEST_SKIP("no 2 MiB block of the firmware's flash lies outside the direct map with one MTRR type");
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va && IS_ALIGNED((vaddr_t)va, SIZE_2M));
	large_mdl(SPAN, 0, dev, SPAN, NULL);
	lm.mdl.MdlFlags |= MDL_IO_SPACE;
	for (unsigned i = 0; i < ARRAY_SIZE(u); i++) {
		uint64_t over = large_overrides(u[i].c), pte = 0;
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, u[i].t) == va);
		KEXPECT(large_page_size(va, &pte, NULL) == SIZE_2M, "type %d: a 2 MiB leaf over 0x%llx", u[i].t,
			(unsigned long long)dev);
		KEXPECT(large_leaf_index(pte) == u[i].idx, "type %d over a device: as asked (PAT index %u)", u[i].t,
			large_leaf_index(pte));
		KEXPECT_EQ(large_overrides(u[i].c), over, "nothing counted");
		KEXPECT_EQ(syspte_check(reserved_region()), 0);
		MmUnmapReservedMapping(va, TAG, &lm.mdl);
	}
	MmFreeMappingAddress(va, TAG);
}

/* The run at physical 0, which the firmware's fixed-range MTRRs type by 4 to 64 KiB (RAM, the
 * legacy video memory, ROMs), maps with 4 KiB PTEs of its own frames, not one leaf of an undefined
 * type (Intel SDM Vol. 3A 11.11.9); nothing is read or written through it. */
KTEST(large_leaf_not_over_split_memory_types)
{
	const struct cpu_mtrrs *m = cpu_mtrr_boot();
	if (!(m->def_type & MTRR_DEF_E) || !m->fixed_present || !(m->def_type & MTRR_DEF_FE))
		KTEST_SKIP("the MTRRs or their fixed ranges are off: no run of two memory types is known");
	KEXPECT(!arch_phys_span_uniform(0, SIZE_2M), "the run at 0 is split by the fixed ranges");
	LARGE_NEED(SIZE_2M);
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va && IS_ALIGNED((vaddr_t)va, SIZE_2M));
	uint64_t leaves = large_leaves();
	large_mdl(SPAN, 0, 0, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached) == va);
	for (uint64_t k = 0; k < SPAN; k += 73) {
		paddr_t pa = 1;
		uint64_t size = large_page_size(va + k * PAGE_SIZE, NULL, &pa);
		KEXPECT(size == PAGE_SIZE && pa == k * PAGE_SIZE, "page %llu: a 4 KiB PTE of its own frame (size 0x%llx, frame 0x%llx)",
			(unsigned long long)k, (unsigned long long)size, (unsigned long long)pa);
	}
	KEXPECT_EQ(large_leaves(), leaves, "no leaf");
	KEXPECT_EQ(pt_check(&kernel_pt), 0, "the live tables hold no format fault");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	KEXPECT_EQ(large_page_size(va, NULL, NULL), 0, "unmapped");
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	MmFreeMappingAddress(va, TAG);
}

/* Read through a leaf, unmap, map other frames at the same address, read again: the new contents
 * (the unmap invalidated the large translation). Then 4 KiB pages over the same span, and a leaf
 * again. */
KTEST(large_leaf_remap_reads_new_frames)
{
	paddr_t ab[2];
	LARGE_RUNS(ab, 2);
	paddr_t a = ab[0], b = ab[1];
	static paddr_t singles[SPAN];
	for (unsigned k = 0; k < SPAN; k++)
		*(volatile uint64_t *)arch_phys_to_virt(a + k * PAGE_SIZE) = 0xa000 + k,
		*(volatile uint64_t *)arch_phys_to_virt(b + k * PAGE_SIZE) = 0xb000 + k;
	for (unsigned k = 0; k < SPAN; k++)
		singles[k] = b + (uint64_t)((k * 7) % SPAN) * PAGE_SIZE;   /* b's frames, shuffled: no run */
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va);
	volatile uint64_t *p = (volatile uint64_t *)va;
	large_mdl(SPAN, 0, a, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT(p[0] == 0xa000 && p[511 * 512] == 0xa000 + 511, "a's contents through the leaf");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, 0, b, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT(p[0] == 0xb000 && p[511 * 512] == 0xb000 + 511, "b's contents at once after the remap");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, SPAN, 0, 0, singles);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT_EQ(large_page_size(va, NULL, NULL), PAGE_SIZE, "shuffled frames: 4 KiB pages");
	bool all = true;
	for (unsigned k = 0; k < SPAN; k++)
		all &= p[k * 512] == 0xb000 + (k * 7) % SPAN;
	KEXPECT(all, "every 4 KiB page over the old leaf reads its own frame");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, 0, a, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT(large_page_size(va, NULL, NULL) == SIZE_2M && p[5 * 512] == 0xa005, "a leaf again over those PTEs");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	MmFreeMappingAddress(va, TAG);
	phys_free(a, SPAN);
	phys_free(b, SPAN);
}

/* What every CPU reads through the mapping at lr.p: pages 0 and 511's first words, against the
 * values wanted. */
static struct {
	volatile uint64_t *p;
	uint64_t want0, want511;
	bool ok[SMP_MAX_CPUS];
} lr;

static void large_read_on_cpu(void *arg)
{
	(void)arg;
	lr.ok[this_cpu()->index] = lr.p[0] == lr.want0 && lr.p[511 * 512] == lr.want511;
}

/* Every online CPU reads the mapping (filling its TLB); the number that read the values wanted. */
static unsigned large_read_everywhere(uint64_t want0, uint64_t want511)
{
	lr.want0 = want0;
	lr.want511 = want511;
	for (unsigned i = 0; i < SMP_MAX_CPUS; i++)
		lr.ok[i] = false;
	smp_call_many(smp_online_mask(), large_read_on_cpu, NULL);
	unsigned n = 0;
	for (unsigned i = 0; i < SMP_MAX_CPUS; i++)
		n += lr.ok[i];
	return n;
}

/* The remap of large_leaf_remap_reads_new_frames with every CPU reading between the steps: each
 * one's 2 MiB translation (and its cached pointer to the span's table) is gone after the unmap (and
 * the leaf's map) returned on the boot CPU: leaf a, leaf b, 4 KiB pages of b shuffled, leaf a. */
KTEST(large_leaf_remap_seen_by_every_cpu)
{
	if (cpumask_weight(smp_online_mask()) < 2)
		KTEST_SKIP("one CPU online: no other TLB to hold the old translation");
	static paddr_t singles[SPAN];
	paddr_t ab[2];
	LARGE_RUNS(ab, 2);
	paddr_t a = ab[0], b = ab[1];
	for (unsigned k = 0; k < SPAN; k++) {
		*(volatile uint64_t *)arch_phys_to_virt(a + k * PAGE_SIZE) = 0xa000 + k;
		*(volatile uint64_t *)arch_phys_to_virt(b + k * PAGE_SIZE) = 0xb000 + k;
		singles[k] = b + (uint64_t)((k * 7) % SPAN) * PAGE_SIZE;
	}
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va);
	lr.p = (volatile uint64_t *)va;
	unsigned online = (unsigned)cpumask_weight(smp_online_mask());
	large_mdl(SPAN, 0, a, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT_EQ(large_read_everywhere(0xa000, 0xa000 + 511), online, "every CPU reads a through the leaf");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, 0, b, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT_EQ(large_read_everywhere(0xb000, 0xb000 + 511), online, "every CPU reads b at once after the leaf's remap");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, SPAN, 0, 0, singles);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT_EQ(large_page_size(va, NULL, NULL), PAGE_SIZE);
	KEXPECT_EQ(large_read_everywhere(0xb000, 0xb000 + (511 * 7) % SPAN), online,
		   "every CPU reads the 4 KiB pages that replaced the leaf");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	large_mdl(SPAN, 0, a, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached));
	KEXPECT_EQ(large_read_everywhere(0xa000, 0xa000 + 511), online, "every CPU reads the leaf that replaced the table");
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	MmFreeMappingAddress(va, TAG);
	phys_free(a, SPAN);
	phys_free(b, SPAN);
}

/* The mixed mappings' set-up: SPAN / 2 zeroed single pages into singles and a DIVISIBLE
 * reservation of two spans into *va; false when either could not be made. */
static bool large_mixed_setup(paddr_t singles[SPAN / 2], char **va)
{
	for (unsigned k = 0; k < SPAN / 2; k++)
		if (!(singles[k] = phys_alloc_zeroed_page()))
			return false;
	*va = MmAllocateMappingAddressEx(2 * SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	return *va && IS_ALIGNED((vaddr_t)*va, SIZE_2M);
}

/* Gives back what large_mixed_setup and LARGE_RUNS took: the reservation, the run, the single pages. */
static void large_mixed_teardown(char *va, paddr_t run, const paddr_t singles[SPAN / 2])
{
	MmFreeMappingAddress(va, TAG);
	phys_free(run, SPAN);
	for (unsigned k = 0; k < SPAN / 2; k++)
		phys_free(singles[k], 1);
}

/* One mapping of a leaf and 256 small pages, then one of 256 small pages and a leaf starting in the
 * middle of a span: each page maps its frame at its size; the accounting counts pages. */
KTEST(large_leaf_mixed_with_small_pages)
{
	LARGE_NEED(2 * SIZE_2M);
	static paddr_t singles[SPAN / 2];
	paddr_t run;
	LARGE_RUNS(&run, 1);
	char *va = NULL;
	KASSERT_TEST(large_mixed_setup(singles, &va), "single pages and a 2 MiB-aligned reservation of two spans");
	struct syspte_info info;
	for (unsigned round = 0; round < 2; round++) {
		uint64_t at = round ? SPAN / 2 : 0, lead = round ? SPAN / 2 : 0;
		large_mdl(SPAN + SPAN / 2, lead, run, SPAN, singles);
		char *m = va + at * PAGE_SIZE;
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(m, TAG, &lm.mdl, MmCached) == m);
		bool sizes = true, frames = true;
		for (uint64_t k = 0; k < SPAN + SPAN / 2; k++) {
			paddr_t pa = 0;
			uint64_t size = large_page_size(m + k * PAGE_SIZE, NULL, &pa);
			sizes &= size == (k >= lead && k < lead + SPAN ? SIZE_2M : PAGE_SIZE);
			frames &= pa == pfn_to_pa(lm.pfn[k]);
			*(volatile uint32_t *)(m + k * PAGE_SIZE + 64) = (uint32_t)(k + 1);
			frames &= *(volatile uint32_t *)((char *)arch_phys_to_virt(pfn_to_pa(lm.pfn[k])) + 64) == k + 1;
		}
		KEXPECT(sizes, "round %u: a 2 MiB leaf where a span is covered by the run, 4 KiB pages elsewhere", round);
		KEXPECT(frames, "round %u: every page writes its own frame", round);
		KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == SPAN + SPAN / 2,
			"round %u: the leaf counts its 512 pages", round);
		KEXPECT_EQ(syspte_check(reserved_region()), 0);
		MmUnmapReservedMapping(m, TAG, &lm.mdl);
		KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 0);
	}
	large_mixed_teardown(va, run, singles);
}

/* Checks the last intercepted bug check: code 0xDA, subcode and P2..P4; then clears it. */
static void large_expect_da(uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4, const char *what)
{
	KEXPECT(bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE && bugcheck_last.p[0] == sub && bugcheck_last.p[1] == p2 &&
		bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4,
		"%s: got 0x%llx/0x%llx (0x%llx, 0x%llx, 0x%llx)", what, (unsigned long long)bugcheck_last.code,
		(unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		(unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
	bugcheck_last.code = 0;
}

/* Every misuse row on a reservation of two spans whose first is one 2 MiB mapping: the outcome and
 * parameters of 4 KiB mappings, and the leaf, the counts and the tables unchanged after each. */
KTEST(large_leaf_misuse_rows)
{
	LARGE_NEED(2 * SIZE_2M);
	static struct { MDL mdl; PFN_NUMBER pfn[SPAN + 8]; } t;
	paddr_t run;
	LARGE_RUNS(&run, 1);
	paddr_t page = phys_alloc_zeroed_page();
	KASSERT_TEST(page);
	char *va = MmAllocateMappingAddressEx(2 * SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va);
	large_mdl(SPAN, 0, run, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached) == va);
	uint64_t leaves = large_leaves();
	char *last = va + 2 * SIZE_2M - 1;
	bugcheck_set_hook(bugcheck_record_hook);
	bugcheck_last.code = 0;
	/* map over the leaf, from its start, from inside it, and from before it */
	t.mdl = (MDL){ .Size = (CSHORT)sizeof(t), .MdlFlags = MDL_PAGES_LOCKED, .ByteCount = 4 * PAGE_SIZE };
	for (unsigned k = 0; k < SPAN + 8; k++)
		t.pfn[k] = pa_to_pfn(page);
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va + 100 * PAGE_SIZE, TAG, &t.mdl, MmCached));
	large_expect_da(SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, (uint64_t)va + 100 * PAGE_SIZE, (uint64_t)va + 100 * PAGE_SIZE,
			(uint64_t)va + 104 * PAGE_SIZE - 1, "map inside a leaf: 0x107");
	/* a span partly mapped: 4 pages at the second span, then a run over all of it */
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va + (SPAN + 10) * PAGE_SIZE, TAG, &t.mdl, MmCached));
	large_mdl(SPAN, 0, run, SPAN, NULL);
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va + SPAN * PAGE_SIZE, TAG, &lm.mdl, MmCached));
	large_expect_da(SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, (uint64_t)va + SPAN * PAGE_SIZE,
			(uint64_t)va + (SPAN + 10) * PAGE_SIZE, (uint64_t)last, "map over a partly mapped span: 0x107");
	MmUnmapReservedMapping(va + (SPAN + 10) * PAGE_SIZE, TAG, &t.mdl);
	KEXPECT_EQ(bugcheck_last.code, 0, "the small mapping unmapped");
	/* unmaps that cut the leaf's mapping, run past it, start inside it */
	t.mdl.ByteCount = 256 * PAGE_SIZE;
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	large_expect_da(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, (uint64_t)va, (uint64_t)va, 256, "unmap of half a leaf: 0x10C");
	MmUnmapReservedMapping(va + 4 * PAGE_SIZE, TAG, &t.mdl);
	large_expect_da(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, (uint64_t)va + 4 * PAGE_SIZE, (uint64_t)va, 256,
			"unmap from inside a leaf: 0x10C");
	t.mdl.ByteCount = (SPAN + 8) * PAGE_SIZE;
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	large_expect_da(SYSPTE_BUGCHECK_UNMAP_HOLE, (uint64_t)va + SPAN * PAGE_SIZE, 0, 0, "unmap past the leaf: 0x10B");
	MmUnmapReservedMapping(va + SPAN * PAGE_SIZE, TAG, &t.mdl);
	large_expect_da(SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, (uint64_t)va + SPAN * PAGE_SIZE, TAG, 0,
			"unmap of the unmapped span: 0x109");
	MmUnmapReservedMapping(va, TAG + 1, &lm.mdl);
	large_expect_da(SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, (uint64_t)va, TAG + 1, TAG, "unmap with another tag: 0x108");
	MmFreeMappingAddress(va, TAG);
	large_expect_da(SYSPTE_BUGCHECK_FREE_STILL_MAPPED, (uint64_t)va, TAG, SPAN, "free while the leaf maps: 0x103");
	/* a touch of the reservation's unmapped span: 0x50 naming the base */
	uint8_t v;
	KEXPECT_EQ(arch_probe_read8(va + SPAN * PAGE_SIZE + 8, &v), (uint64_t)-1);
	KEXPECT(bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA && bugcheck_last.p[0] == (uint64_t)va + SPAN * PAGE_SIZE + 8 &&
		bugcheck_last.p[3] == (uint64_t)va, "touch of the unmapped span: 0x50, P4 the base");
	bugcheck_set_hook(NULL);
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == SPAN, "the leaf's 512 pages still counted");
	KEXPECT(large_leaves() == leaves && large_page_size(va + 5 * PAGE_SIZE, NULL, NULL) == SIZE_2M, "the leaf unchanged");
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	KEXPECT_EQ(large_page_size(va, NULL, NULL), 0);
	MmFreeMappingAddress(va, TAG);
	phys_free(run, SPAN);
	phys_free(page, 1);
}

/* Expects the last intercepted bug check to be 0xDA with subcode sub and P2 p2, P3 p3, P4 p4. */
#define LARGE_DA(sub, p2, p3, p4, what) large_expect_da(sub, (uint64_t)(p2), (uint64_t)(p3), (uint64_t)(p4), what)

/*
 * The rows that depend on where a mapping starts and ends, on mappings that mix a 2 MiB leaf with
 * 4 KiB pages in a reservation of two spans: the leaf first and an 8-page tail, then a 256-page
 * head and the leaf. An unmap that cuts either (at the leaf's edge, from inside, up to the leaf
 * only) is 0x10C naming the mapping's first page; past the reservation 0x10A; over the mapping's
 * end a hole 0x10B; the free rows 0x101, 0x102, 0x103; a map with another tag 0x104; a touch of
 * the reservation's unmapped pages 0x50 naming its base. The mapping, its leaf and the counts stay
 * as they were, and it unmaps whole afterwards.
 */
KTEST(large_leaf_misuse_rows_of_mixed_mappings)
{
	LARGE_NEED(2 * SIZE_2M);
	static paddr_t singles[SPAN / 2];
	static struct { MDL mdl; PFN_NUMBER pfn[2 * SPAN + 1]; } t;
	paddr_t run;
	LARGE_RUNS(&run, 1);
	char *va = NULL;
	KASSERT_TEST(large_mixed_setup(singles, &va), "single pages and a 2 MiB-aligned reservation of two spans");
	uint64_t leaves = large_leaves();
	t.mdl = (MDL){ .Size = (CSHORT)sizeof(t), .MdlFlags = MDL_PAGES_LOCKED };
	for (unsigned k = 0; k < ARRAY_SIZE(t.pfn); k++)
		t.pfn[k] = pa_to_pfn(singles[0]);
	struct syspte_info info;
	for (unsigned shape = 0; shape < 2; shape++) {
		/* shape 0: pages 0..519, a leaf and 8 small pages; shape 1: pages 256..1023, 256 small and a leaf */
		uint64_t at = shape ? SPAN / 2 : 0, n = shape ? SPAN + SPAN / 2 : SPAN + 8, lead = shape ? SPAN / 2 : 0;
		char *m = va + at * PAGE_SIZE, *leaf = va + (shape ? SPAN : 0) * PAGE_SIZE;
		large_mdl(n, lead, run, SPAN, singles);
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(m, TAG, &lm.mdl, MmCached) == m);
		KEXPECT(large_leaves() == leaves + 1, "shape %u: one leaf", shape);
		*(volatile uint64_t *)(leaf + 9 * PAGE_SIZE) = 0x5a5a0000u + shape;
		bugcheck_set_hook(bugcheck_record_hook);
		bugcheck_last.code = 0;
		if (shape == 0) {
			t.mdl.ByteCount = SPAN * PAGE_SIZE;   /* the leaf only: ends inside the mapping */
			MmUnmapReservedMapping(va, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, va, va, SPAN, "unmap of the leaf without the tail: 0x10C");
			t.mdl.ByteCount = 8 * PAGE_SIZE;      /* the tail only: starts inside, right after the leaf */
			MmUnmapReservedMapping(va + SPAN * PAGE_SIZE, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, va + SPAN * PAGE_SIZE, va, 8, "unmap of the tail: 0x10C");
			t.mdl.ByteCount = 600 * PAGE_SIZE;    /* past the mapping's end, inside the reservation */
			MmUnmapReservedMapping(va, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_HOLE, va + (SPAN + 8) * PAGE_SIZE, 0, 0, "unmap past the tail: 0x10B");
			t.mdl.ByteCount = (2 * SPAN + 1) * PAGE_SIZE;   /* past the reservation's end */
			MmUnmapReservedMapping(va, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_PAST_END, va, 2 * SPAN, 2 * SPAN + 1, "unmap past the reservation: 0x10A");
		} else {
			t.mdl.ByteCount = SPAN * PAGE_SIZE;   /* the leaf only: starts inside the mapping */
			MmUnmapReservedMapping(va + SPAN * PAGE_SIZE, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, va + SPAN * PAGE_SIZE, m, SPAN, "unmap of the leaf without the head: 0x10C");
			t.mdl.ByteCount = (SPAN / 2) * PAGE_SIZE;   /* the head only: ends at the leaf */
			MmUnmapReservedMapping(m, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, m, m, SPAN / 2, "unmap of the head: 0x10C");
			t.mdl.ByteCount = (SPAN + 4) * PAGE_SIZE;   /* from inside the head into the leaf */
			MmUnmapReservedMapping(m + (SPAN / 2 - 4) * PAGE_SIZE, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, m + (SPAN / 2 - 4) * PAGE_SIZE, m, SPAN + 4,
				 "unmap from the head into the leaf: 0x10C");
			t.mdl.ByteCount = (SPAN + SPAN / 2) * PAGE_SIZE;   /* from the unmapped head of the reservation */
			MmUnmapReservedMapping(va, TAG, &t.mdl);
			LARGE_DA(SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, va, TAG, 0, "unmap from an unmapped page: 0x109");
			uint8_t b;
			KEXPECT_EQ(arch_probe_read8(va + 8 * PAGE_SIZE, &b), (uint64_t)-1);
			KEXPECT(bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA && bugcheck_last.p[0] == (uint64_t)va + 8 * PAGE_SIZE &&
				bugcheck_last.p[3] == (uint64_t)va, "touch before the mapping, in the leaf's reservation: 0x50, P4 the base");
			bugcheck_last.code = 0;
		}
		t.mdl.ByteCount = PAGE_SIZE;
		KEXPECT(!MmMapLockedPagesWithReservedMapping(leaf, TAG + 1, &t.mdl, MmCached));
		LARGE_DA(SYSPTE_BUGCHECK_MAP_WRONG_TAG, leaf, TAG + 1, TAG, "map with another tag: 0x104");
		MmFreeMappingAddress(va, TAG + 1);
		LARGE_DA(SYSPTE_BUGCHECK_FREE_WRONG_TAG, va, TAG + 1, TAG, "free with another tag: 0x101");
		MmFreeMappingAddress(va + SIZE_2M, TAG);
		LARGE_DA(SYSPTE_BUGCHECK_FREE_NOT_START, va + SIZE_2M, TAG, 0, "free of the second span: 0x102");
		MmFreeMappingAddress(va, TAG);
		LARGE_DA(SYSPTE_BUGCHECK_FREE_STILL_MAPPED, m, TAG, n, "free while mapped: 0x103");
		bugcheck_set_hook(NULL);
		KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == n, "shape %u: every page still counted", shape);
		KEXPECT(large_leaves() == leaves + 1 && large_page_size(leaf + 3 * PAGE_SIZE, NULL, NULL) == SIZE_2M,
			"shape %u: the leaf unchanged", shape);
		KEXPECT(*(volatile uint64_t *)(leaf + 9 * PAGE_SIZE) == 0x5a5a0000u + shape, "shape %u: reads through the leaf", shape);
		KEXPECT_EQ(syspte_check(reserved_region()), 0);
		MmUnmapReservedMapping(m, TAG, &lm.mdl);
		KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 0 && large_leaves() == leaves,
			"shape %u: unmapped whole", shape);
	}
	large_mixed_teardown(va, run, singles);
}

/*
 * In verifier mode (tools/boot-test-verifier.sh boots the suite so) a DIVISIBLE 2 MiB reservation
 * keeps its 2 MiB base and leaf, and its guard page after it: no reservation starts there and an
 * overrun of the leaf's mapping faults with 0x50. The verifier checks the region (leaves counted,
 * level-2 entries read before the map) after every call here. Verifier off: the same reservation
 * has no guard (said as a comment line).
 */
KTEST(large_leaf_verifier_guard_after_the_leaf)
{
	paddr_t run;
	LARGE_RUNS(&run, 1);
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va && IS_ALIGNED((vaddr_t)va, SIZE_2M));
	large_mdl(SPAN, 0, run, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmNonCached) == va);
	KEXPECT(large_page_size(va, NULL, NULL) == SIZE_2M, "a leaf with the verifier %s", mm_verifier ? "on" : "off");
	struct syspte_info info;
	KEXPECT(!syspte_lookup(reserved_region(), (vaddr_t)va + SIZE_2M, &info), "the page after it is in no reservation");
	if (syspte_guard_pages(reserved_region())) {
		void *next[64];
		unsigned n = 0;
		bool hit = false;
		while (n < 64 && (next[n] = MmAllocateMappingAddress(PAGE_SIZE, TAG)))
			hit |= next[n++] == va + SIZE_2M;
		KEXPECT(!hit, "no reservation placed on the leaf's guard page");
		for (unsigned i = 0; i < n; i++)
			MmFreeMappingAddress(next[i], TAG);
		bugcheck_set_hook(bugcheck_record_hook);
		bugcheck_last.code = 0;
		KEXPECT_EQ(arch_probe_write8(va + SIZE_2M, 1), (uint64_t)-1, "an overrun of the leaf faults");
		KEXPECT_EQ(bugcheck_last.code, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA);
		bugcheck_set_hook(NULL);
	} else {
		kprintf("# verifier off: no guard page after the leaf's reservation\n");
	}
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	MmFreeMappingAddress(va, TAG);
	phys_free(run, SPAN);
}

/* FAST_LARGE_PAGES gives 2 MiB-aligned runs and MmMapLockedPagesSpecifyCache places them on 2 MiB:
 * two leaves and a 4 KiB tail, read and written, then unmapped and freed. */
KTEST(large_fast_large_pages_map_locked)
{
	LARGE_NEED(2 * SIZE_2M + 3 * PAGE_SIZE);
	PHYSICAL_ADDRESS z = { .QuadPart = 0 }, any = { .QuadPart = -1 };
	PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, 2 * SIZE_2M + 3 * PAGE_SIZE, MmCached,
					   MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_FULLY_REQUIRED);
	KASSERT_TEST(mdl, "no two 2 MiB-aligned runs free");
	uint64_t leaves = large_leaves();
	char *va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
	KEXPECT(va && IS_ALIGNED((vaddr_t)va, SIZE_2M), "placed on 2 MiB: %p", va);
	if (va) {
		KEXPECT_EQ(large_leaves(), leaves + 2, "two 2 MiB leaves");
		KEXPECT_EQ(large_page_size(va + SIZE_2M, NULL, NULL), SIZE_2M);
		KEXPECT_EQ(large_page_size(va + 2 * SIZE_2M + PAGE_SIZE, NULL, NULL), PAGE_SIZE, "the tail in 4 KiB pages");
		for (unsigned k = 0; k < 2 * SPAN + 3; k += 97)
			*(volatile uint64_t *)(va + k * PAGE_SIZE) = k;
		bool same = true;
		for (unsigned k = 0; k < 2 * SPAN + 3; k += 97)
			same &= *(volatile uint64_t *)arch_phys_to_virt(pfn_to_pa(MmGetMdlPfnArray(mdl)[k])) == k;
		KEXPECT(same, "each page reaches its frame");
		MmUnmapLockedPages(va, mdl);
		KEXPECT_EQ(large_leaves(), leaves);
	}
	MmFreePagesFromMdl(mdl);
	ExFreePool(mdl);
}

#define LARGE_PROBE_NAME "large_tlb_probe"
#define LARGE_PROBE_HOLD_US 8000000u   /* how long a boot of this test alone keeps the mappings */

/*
 * For tools/tlb-test.sh, which reads QEMU's monitor (info tlb): a 2 MiB leaf and, in the next span,
 * one 4 KiB page, their addresses said on serial. When the boot runs this test alone
 * (ktest=large_tlb_probe) it holds them mapped for LARGE_PROBE_HOLD_US between two serial marks, so
 * the script can stop the machine and read the translations; in the whole suite it checks the same
 * mappings and ends at once.
 */
KTEST(large_tlb_probe)
{
	LARGE_NEED(2 * SIZE_2M);
	paddr_t run;
	LARGE_RUNS(&run, 1);
	paddr_t page = phys_alloc_zeroed_page();
	KASSERT_TEST(page);
	char *va = MmAllocateMappingAddressEx(2 * SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	KASSERT_TEST(va && IS_ALIGNED((vaddr_t)va, SIZE_2M));
	static struct { MDL mdl; PFN_NUMBER pfn[1]; } one;
	one.mdl = (MDL){ .Size = (CSHORT)sizeof(one), .MdlFlags = MDL_PAGES_LOCKED, .ByteCount = PAGE_SIZE };
	one.pfn[0] = pa_to_pfn(page);
	large_mdl(SPAN, 0, run, SPAN, NULL);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &lm.mdl, MmCached) == va);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va + SIZE_2M, TAG, &one.mdl, MmCached) == va + SIZE_2M);
	KEXPECT(large_page_size(va, NULL, NULL) == SIZE_2M && large_page_size(va + SIZE_2M, NULL, NULL) == PAGE_SIZE,
		"a 2 MiB leaf and a 4 KiB page");
	*(volatile uint64_t *)(va + 5 * PAGE_SIZE) = 1;   /* both translations used once */
	*(volatile uint64_t *)(va + SIZE_2M) = 2;
	kprintf("# tlbprobe: leaf va 0x%llx pa 0x%llx; page va 0x%llx pa 0x%llx\n", (unsigned long long)(vaddr_t)va,
		(unsigned long long)run, (unsigned long long)(vaddr_t)(va + SIZE_2M), (unsigned long long)page);
	const char *only = kernel_cmdline.opts.ktest;
	if (memcmp(only, LARGE_PROBE_NAME, sizeof(LARGE_PROBE_NAME)) == 0) {
		kprintf("# tlbprobe: holding\n");
		tsc_delay_us(LARGE_PROBE_HOLD_US);
		kprintf("# tlbprobe: released\n");
	}
	MmUnmapReservedMapping(va + SIZE_2M, TAG, &one.mdl);
	MmUnmapReservedMapping(va, TAG, &lm.mdl);
	MmFreeMappingAddress(va, TAG);
	phys_free(run, SPAN);
	phys_free(page, 1);
}

/* ---------------------------------------------------------------- the benchmark */

#define LB_ROUNDS 16            /* blocks of each variant, the variants interleaved block by block */
#define LB_BLOCK 65             /* iterations per block; the first warms up after the other variant */
#define LB_KEPT (LB_ROUNDS * (LB_BLOCK - 1))
#define LB_PATTERN 0x4c42000000000000ULL   /* word 0 of the run's frame k holds LB_PATTERN | k */
#define LB_WALK_STEP 73u        /* a check walks the tables at pages 0, 73, ..., 511: the span's two ends */

enum lb_variant { LB_LEAF, LB_SMALL, LB_LEAF_TOUCH, LB_SMALL_TOUCH, LB_NVARIANTS };

static const struct {
	const char *name;
	bool small, touch;
} lb_variant[LB_NVARIANTS] = {
	[LB_LEAF] = { "2 MiB leaf", false, false },
	[LB_SMALL] = { "512 4 KiB PTEs", true, false },
	[LB_LEAF_TOUCH] = { "2 MiB leaf, touch", false, true },
	[LB_SMALL_TOUCH] = { "512 4 KiB PTEs, touch", true, true },
};

/* TSC ticks of each kept iteration, per variant and phase (an iteration is far below 2^32 ticks). */
enum lb_phase { LB_MAP, LB_TOUCH, LB_UNMAP, LB_TOTAL, LB_NPHASES };
static uint32_t lb_ticks[LB_NVARIANTS][LB_NPHASES][LB_KEPT];

/* The same 512 frames in a second MDL, rotated by one page: no aligned run, so 4 KiB PTEs. */
static struct {
	MDL mdl;
	PFN_NUMBER pfn[SPAN];
} lb_rot;

/* Ticks as stored in lb_ticks: saturated at UINT32_MAX (an interrupted iteration stays the largest). */
static uint32_t lb_clamp(uint64_t ticks) { return ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks; }

/* TSC ticks (below 2^32) in ns. */
static uint64_t lb_ns(uint64_t ticks) { return ticks * 1000000 / (tsc_hz() / 1000); }

/* Sorts a[0, n) ascending (insertion sort: n is small and this runs once per column). */
static void lb_sort(uint32_t *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t v = a[i];
		size_t j = i;
		for (; j > 0 && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

/* Reads word 0 of each of the mapping's pages once, as a driver touching its buffer does; returns
 * their sum (the same for both MDLs: the same frames). */
static uint64_t lb_touch(const char *va)
{
	uint64_t sum = 0;
	for (unsigned k = 0; k < SPAN; k++)
		sum += *(volatile const uint64_t *)(va + (uint64_t)k * PAGE_SIZE);
	return sum;
}

/* One map (+ touch) + unmap of variant v at va; the ticks of its phases in t[]; false when the map
 * failed or its sum was wrong. check: also walk the live tables for the page size, read every
 * page's frame, and after the unmap find va unmapped (outside the timed parts). */
static bool lb_once(enum lb_variant v, char *va, PMDL big, bool check, uint64_t t[LB_NPHASES])
{
	PMDL m = lb_variant[v].small ? &lb_rot.mdl : big;
	uint64_t want = SPAN * LB_PATTERN + (uint64_t)SPAN * (SPAN - 1) / 2, sum = want;
	bool ok = true;

	uint64_t t0 = rdtsc();
	PVOID got = MmMapLockedPagesWithReservedMapping(va, TAG, m, MmCached);
	uint64_t t1 = rdtsc();
	if (got != va)
		return false;
	if (lb_variant[v].touch)
		sum = lb_touch(va);
	uint64_t t2 = rdtsc();
	if (check) {
		uint64_t size = lb_variant[v].small ? PAGE_SIZE : SIZE_2M;
		for (unsigned k = 0; k < SPAN; k += LB_WALK_STEP)
			ok &= large_page_size(va + (uint64_t)k * PAGE_SIZE, NULL, NULL) == size;
		for (unsigned k = 0; k < SPAN; k++)
			ok &= *(volatile uint64_t *)(va + (uint64_t)k * PAGE_SIZE) ==
			      (LB_PATTERN | (lb_variant[v].small ? (k + 1) % SPAN : k));
	}
	uint64_t t3 = rdtsc();
	MmUnmapReservedMapping(va, TAG, m);
	uint64_t t4 = rdtsc();
	if (check)
		for (unsigned k = 0; k < SPAN; k += LB_WALK_STEP)
			ok &= large_page_size(va + (uint64_t)k * PAGE_SIZE, NULL, NULL) == 0;
	t[LB_MAP] = t1 - t0;
	t[LB_TOUCH] = lb_variant[v].touch ? t2 - t1 : 0;
	t[LB_UNMAP] = t4 - t3;
	t[LB_TOTAL] = t[LB_MAP] + t[LB_TOUCH] + t[LB_UNMAP];
	return ok && sum == want;
}

/* Runs LB_ROUNDS blocks of each variant, interleaved; false (with a message) on the first wrong
 * iteration. */
static bool lb_run(char *va, PMDL big)
{
	for (unsigned r = 0; r < LB_ROUNDS; r++)
		for (unsigned v = 0; v < LB_NVARIANTS; v++)
			for (unsigned i = 0; i < LB_BLOCK; i++) {
				uint64_t t[LB_NPHASES];
				if (!lb_once(v, va, big, i == 0, t))
					return KEXPECT(false, "%s, round %u, iteration %u: mapped, each page its frame, "
						       "the page size of its leaves", lb_variant[v].name, r, i);
				if (i == 0)
					continue;   /* warm-up: the block's first pays for the other variant's last */
				size_t s = r * (LB_BLOCK - 1) + i - 1;
				for (unsigned p = 0; p < LB_NPHASES; p++)
					lb_ticks[v][p][s] = lb_clamp(t[p]);
			}
	return true;
}

/* The median of two back-to-back TSC reads, in ticks: the timer's own cost (not subtracted). */
static uint64_t lb_timer_ticks(void)
{
	static uint32_t d[LB_KEPT];
	for (size_t i = 0; i < LB_KEPT; i++) {
		uint64_t a = rdtsc();
		d[i] = lb_clamp(rdtsc() - a);
	}
	lb_sort(d, LB_KEPT);
	return d[LB_KEPT / 2];
}

/* What a floor times alone: a flush of everything, one invlpg of va, a read of every page of the
 * mapping at va with its translations warm, or the map's run test of the 2 MiB run's frames (the
 * contract's pass over an MDL's frames, which a leaf cannot skip). */
enum lb_floor_kind { LB_FLUSH_ALL, LB_INVLPG, LB_WARM_READ, LB_FRAME_PASS };

static const uint64_t *lb_frames;   /* LB_FRAME_PASS: the run's frames */
static size_t lb_runs_seen;          /* LB_FRAME_PASS: passes that found the run */

/* The median, in ns, of LB_KEPT runs of what (LB_WARM_READ: each page read once before). */
static uint64_t lb_floor(enum lb_floor_kind what, char *va)
{
	static uint32_t d[LB_KEPT];
	if (what == LB_WARM_READ)
		(void)lb_touch(va);
	for (size_t i = 0; i < LB_KEPT; i++) {
		uint64_t a = rdtsc();
		if (what == LB_FLUSH_ALL)
			arch_tlb_invalidate_all();
		else if (what == LB_INVLPG)
			arch_tlb_invalidate_page((vaddr_t)va);
		else if (what == LB_FRAME_PASS)
			lb_runs_seen += syspte_frames_large(lb_frames);
		else
			(void)lb_touch(va);
		d[i] = lb_clamp(rdtsc() - a);
	}
	lb_sort(d, LB_KEPT);
	return lb_ns(d[LB_KEPT / 2]);
}

/* Prints the floors: the two invalidations alone, the map's pass over the run's frames alone (each
 * pass must find the run), and a second read of the mapping's pages through each kind of mapping (a
 * failed map or pass is recorded as the test's failure). */
static void lb_floors(char *va, PMDL big)
{
	lb_frames = MmGetMdlPfnArray(big);
	lb_runs_seen = 0;
	uint64_t pass = lb_floor(LB_FRAME_PASS, va);
	if (!KEXPECT(lb_runs_seen == LB_KEPT, "the run test found the 2 MiB run in %zu of %u passes", lb_runs_seen,
		     (unsigned)LB_KEPT))
		return;
	uint64_t all = lb_floor(LB_FLUSH_ALL, va), one = lb_floor(LB_INVLPG, va), warm[2];
	for (unsigned small = 0; small < 2; small++) {
		PMDL m = small ? &lb_rot.mdl : big;
		if (!KEXPECT(MmMapLockedPagesWithReservedMapping(va, TAG, m, MmCached) == va))
			return;
		warm[small] = lb_floor(LB_WARM_READ, va);
		MmUnmapReservedMapping(va, TAG, m);
	}
	kprintf("# bench_large_leaf: floors (medians, ns): flush of everything alone %llu; one invlpg alone %llu; "
		"the map's pass over the run's 512 frames alone %llu; "
		"a second read of the 512 pages (translations warm): through the leaf %llu, through 4 KiB PTEs %llu\n",
		(unsigned long long)all, (unsigned long long)one, (unsigned long long)pass, (unsigned long long)warm[0],
		(unsigned long long)warm[1]);
}

/* x.xx of num / den (0 when den is 0) as value * 100. */
static uint64_t lb_ratio100(uint64_t num, uint64_t den) { return den ? (num * 100 + den / 2) / den : 0; }

/* Prints the table: medians per phase, the total's minimum and 90th percentile, and each 4 KiB
 * row's total against the leaf row of the same kind. */
static void lb_print(void)
{
	uint64_t med[LB_NVARIANTS][LB_NPHASES], lo[LB_NVARIANTS], p90[LB_NVARIANTS];
	for (unsigned v = 0; v < LB_NVARIANTS; v++) {
		for (unsigned p = 0; p < LB_NPHASES; p++) {
			lb_sort(lb_ticks[v][p], LB_KEPT);
			med[v][p] = lb_ns(lb_ticks[v][p][LB_KEPT / 2]);
		}
		lo[v] = lb_ns(lb_ticks[v][LB_TOTAL][0]);
		p90[v] = lb_ns(lb_ticks[v][LB_TOTAL][LB_KEPT * 9 / 10]);
	}
	kprintf("# | variant | map ns | touch ns | unmap ns | total ns | total min | total p90 | 4K / leaf |\n");
	kprintf("# |---|---|---|---|---|---|---|---|\n");
	for (unsigned v = 0; v < LB_NVARIANTS; v++) {
		unsigned leaf = lb_variant[v].touch ? LB_LEAF_TOUCH : LB_LEAF;
		uint64_t x = lb_ratio100(med[v][LB_TOTAL], med[leaf][LB_TOTAL]);
		kprintf("# | %s | %llu | %llu | %llu | %llu | %llu | %llu | %llu.%02llux |\n", lb_variant[v].name,
			(unsigned long long)med[v][LB_MAP], (unsigned long long)med[v][LB_TOUCH],
			(unsigned long long)med[v][LB_UNMAP], (unsigned long long)med[v][LB_TOTAL],
			(unsigned long long)lo[v], (unsigned long long)p90[v], (unsigned long long)(x / 100),
			(unsigned long long)(x % 100));
	}
	for (unsigned touch = 0; touch < 2; touch++) {
		uint64_t l = med[touch ? LB_LEAF_TOUCH : LB_LEAF][LB_TOTAL], s = med[touch ? LB_SMALL_TOUCH : LB_SMALL][LB_TOTAL];
		uint64_t x = lb_ratio100(s, l), y = l && s ? (l * 1000 + s / 2) / s : 0;
		kprintf("# bench_large_leaf: %s: 4K / leaf %llu.%02llux, leaf / 4K %llu.%03llu\n",
			touch ? "map + touch + unmap" : "map + unmap", (unsigned long long)(x / 100),
			(unsigned long long)(x % 100), (unsigned long long)(y / 1000), (unsigned long long)(y % 1000));
		ktest_result("2 MiB %s: 512 4 KiB PTEs %llu ns, one 2 MiB leaf %llu ns: %llu.%02llux (medians)",
			     touch ? "map + read + unmap" : "map + unmap", (unsigned long long)s, (unsigned long long)l,
			     (unsigned long long)(x / 100), (unsigned long long)(x % 100));
	}
}

/*
 * Benchmark (make bench-leaf; runs only when ktest= names it): map + unmap of a 2 MiB, 2 MiB-aligned
 * run of frames into a 2 MiB-aligned reservation as one 2 MiB leaf, against the same 512 frames
 * rotated by one page (no aligned run: 512 4 KiB PTEs in the same span's table, the same address),
 * each also with a read of every page after the map. Timed with the TSC on this machine's own
 * tables and invalidations; medians per phase. Checks what it measured: each map succeeded, each
 * touch read the run's pattern, the first iteration of each block had the expected page size, each
 * page its frame and nothing mapped after the unmap, and nothing leaked. Skips when no 2 MiB-aligned
 * run of frames is free (a small or fragmented machine); FAST_LARGE_PAGES must give one when it is.
 */
KTEST(bench_large_leaf)
{
	if (!tsc_hz())
		KTEST_SKIP("the TSC is not calibrated: no clock to time with");
	LARGE_NEED(SIZE_2M);
	paddr_t probe;
	LARGE_RUNS(&probe, 1);
	phys_free(probe, SPAN);
	PHYSICAL_ADDRESS z = { .QuadPart = 0 }, any = { .QuadPart = -1 };
	struct syspte_stats before, after;
	syspte_get_stats(reserved_region(), &before);
	PMDL big = MmAllocatePagesForMdlEx(z, any, z, SIZE_2M, MmCached,
					   MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_FULLY_REQUIRED);
	KASSERT_TEST(big, "MmAllocatePagesForMdlEx refused 2 MiB while a 2 MiB-aligned run is free");
	PPFN_NUMBER pfn = MmGetMdlPfnArray(big);
	bool run = IS_ALIGNED(pfn_to_pa(pfn[0]), SIZE_2M);
	for (unsigned k = 0; k < SPAN; k++) {
		run &= pfn[k] == pfn[0] + k;
		*(volatile uint64_t *)arch_phys_to_virt(pfn_to_pa(pfn[k])) = LB_PATTERN | k;
	}
	char *va = MmAllocateMappingAddressEx(SIZE_2M, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	if (KEXPECT(run, "FAST_LARGE_PAGES gave one 2 MiB-aligned run") &&
	    KEXPECT(va && IS_ALIGNED((vaddr_t)va, SIZE_2M), "a 2 MiB-aligned reservation: %p", va)) {
		lb_rot.mdl = *big;
		lb_rot.mdl.Size = (CSHORT)sizeof(lb_rot);
		for (unsigned k = 0; k < SPAN; k++)
			lb_rot.pfn[k] = pfn[(k + 1) % SPAN];
		kprintf("# bench_large_leaf: va 0x%llx, frames 0x%llx, %u CPU(s) online, TSC %llu MHz (%s), flush of "
			"everything: %s; %u rounds of %u blocked iterations per variant (first of each block not kept), "
			"medians in ns; two TSC reads: %llu ns (not subtracted); QEMU TCG unless run on hardware\n",
			(unsigned long long)(vaddr_t)va, (unsigned long long)pfn_to_pa(pfn[0]),
			cpumask_weight(smp_online_mask()), (unsigned long long)(tsc_hz() / 1000000), tsc_source(),
			cpu_feat.invpcid ? "INVPCID" : cpu_feat.pge ? "CR4.PGE toggle" : "CR3 reload", LB_ROUNDS,
			LB_BLOCK - 1, (unsigned long long)lb_ns(lb_timer_ticks()));
		if (lb_run(va, big)) {
			lb_print();
			lb_floors(va, big);
		}
	}
	if (va)
		MmFreeMappingAddress(va, TAG);
	MmFreePagesFromMdl(big);
	ExFreePool(big);
	syspte_get_stats(reserved_region(), &after);
	KEXPECT(after.live == before.live && after.pages_mapped == before.pages_mapped &&
		after.large_leaves == before.large_leaves, "no reservation, mapping or leaf left behind");
}
