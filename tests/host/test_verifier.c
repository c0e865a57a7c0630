/* Host tests of verifier mode: guard pages, free-page patterns, and checks that stay quiet on good use. */
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "verifier.h"
#include "bugcheck.h"
#include "arch_mm.h"
#include "testhooks.h"
#include "pt.h"

#define TAG 0x66726556u   /* 'Verf' */

/* A pool block's header overwritten (an underrun), then any pool call: the verifier's pool check. */
static void corrupt_pool(void *arg)
{
	(void)arg;
	uint32_t *p = ExAllocatePoolWithTag(NonPagedPool, 40, TAG);
	p[-4] = 0x12345678;   /* the block header's state word */
	ExAllocatePoolWithTag(NonPagedPool, 40, TAG);
}

/* A stray present PTE in free region space, then a map elsewhere: the region check after the map. */
static void corrupt_region(void *arg)
{
	(void)arg;
	char *va = MmAllocateMappingAddress(4096, TAG);
	/* the other page of va's aligned pair: its guard or a neighbour's page, in a span whose table
	 * exists wherever the reservation was placed */
	arch_pte_write(pt_pte_slot(host_machine_pt(), (vaddr_t)va ^ 4096),
		       arch_pte_leaf(pt_leaf_attrs(host_machine_pt(), PT_PROT_W), 0x400000));
	struct { MDL mdl; PFN_NUMBER pfn[1]; } m = { .mdl = { .Size = sizeof(m), .MdlFlags = MDL_PAGES_LOCKED,
							       .ByteCount = 4096 }, .pfn = { 0x400 } };
	MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached);
}

/*
 * A two-page map into a fresh two-page reservation; with plant, a present PTE is first written
 * behind the region's back at its second page. The reservation's count says nothing is mapped, so
 * the validation pass reads no slot: only verifier mode's check before the writes can see it.
 * Returns the map's result.
 */
static bool map_two_pages(bool plant)
{
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	struct { MDL mdl; PFN_NUMBER pfn[2]; } m;
	memset(&m, 0, sizeof(m));
	MmInitializeMdl(&m.mdl, NULL, 2 * 4096);
	m.mdl.MdlFlags = MDL_PAGES_LOCKED;
	m.pfn[0] = 0x400;
	m.pfn[1] = 0x401;
	if (plant)
		arch_pte_write(pt_pte_slot(host_machine_pt(), (vaddr_t)va + 4096),
			       arch_pte_leaf(pt_leaf_attrs(host_machine_pt(), PT_PROT_W), 0x500000));
	bool mapped = va && MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached) == va;
	if (mapped) {
		MmUnmapReservedMapping(va, TAG, &m.mdl);
		MmFreeMappingAddress(va, TAG);
	}
	return mapped;
}

static void map_over_planted_pte(void *arg) { (void)arg; map_two_pages(true); }

int main(void)
{
	mm_verifier_set(true);
	is(host_machine_create(32ULL << 20, 4ULL << 20), 0, "machine in verifier mode");
	is(syspte_guard_pages(reserved_region()), 1, "one guard page per reservation");

	/* A map owes no TLB invalidation because it only fills not-present PTEs; verifier mode checks
	 * every slot before writing. */
	ok(map_two_pages(false), "a map over not-present PTEs succeeds");
	ok(tap_aborts_with(map_over_planted_pte, NULL, "verifier: a map met the present PTE"),
	   "a map meeting a present PTE panics in verifier mode");
	is(syspte_check(reserved_region()), 0, "region consistent after the map and its unmap");

	/* Guard pages: 3-page reservations are 4 pages apart at least, and never adjacent. */
	char *a = MmAllocateMappingAddress(3 * 4096, TAG), *b = MmAllocateMappingAddress(3 * 4096, TAG);
	ok(a && b, "two reservations");
	ok(b != a + 3 * 4096 && a != b + 3 * 4096, "no reservation starts on another's guard page");
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	is(s.free_pages, s.npages - 8, "each reservation took its pages plus a guard");
	bugcheck_set_hook(bugcheck_record_hook);
	struct { MDL mdl; PFN_NUMBER pfn[4]; } m;
	memset(&m, 0, sizeof(m));
	MmInitializeMdl(&m.mdl, NULL, 4096);
	m.mdl.MdlFlags = MDL_PAGES_LOCKED;
	m.pfn[0] = 0x400;
	uint64_t before = bugcheck_last.count;
	ok(!MmMapLockedPagesWithReservedMapping(a + 3 * 4096, TAG, &m.mdl, MmCached), "mapping onto the guard page refused");
	ok(bugcheck_last.count == before + 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_NO_RESERVATION, "as a page in no reservation (0x105)");
	MmFreeMappingAddress(a, TAG);
	MmFreeMappingAddress(b, TAG);
	syspte_get_stats(reserved_region(), &s);
	is(s.free_pages, s.npages, "guards returned with their reservations");
	is(syspte_check(reserved_region()), 0, "region consistent");

	/* Free-page pattern: a write into a freed page is caught when the page is handed out again. */
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	ok(pa != 0, "allocate a page");
	phys_free(pa, 1);
	is(((uint64_t *)arch_phys_to_virt(pa))[VERIFIER_FIRST_WORD], VERIFIER_PATTERN,
	   "freed page holds the pattern (past word 0, the allocator's)");
	((uint64_t *)arch_phys_to_virt(pa))[17] = 0x1234;   /* a use after free */
	before = bugcheck_last.count;
	paddr_t again;
	do   /* the allocator hands out other free pages first; the others stay allocated */
		again = phys_alloc(1, 0, UINT64_MAX);
	while (again && again != pa);
	ok(again == pa, "the page came back");
	ok(bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT && bugcheck_last.p[0] == VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED,
	   "use after free reported as 0x1A/0x5A01");
	is(bugcheck_last.p[1], pa + 17 * 8, "at the modified word");
	is(bugcheck_last.p[2], 0x1234, "with the value found");
	bugcheck_set_hook(NULL);
	is(phys_check(), 0, "physical allocator consistent");

	ok(tap_aborts_with(corrupt_pool, NULL, "verifier: pool inconsistent"), "a pool call after a header was overwritten: caught");
	ok(tap_aborts_with(corrupt_region, NULL, "verifier: system PTE region inconsistent"),
	   "a map after a stray PTE was written: caught by the check after the map");
	return tap_done();
}
