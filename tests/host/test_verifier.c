/* Host tests of verifier mode: guard pages, free-page patterns, and checks that stay quiet on good use. */
#include <string.h>
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

#define TAG 0x66726556u   /* 'Verf' */

int main(void)
{
	mm_verifier_set(true);
	is(host_machine_create(32ULL << 20, 4ULL << 20), 0, "machine in verifier mode");
	is(syspte_guard_pages(reserved_region()), 1, "one guard page per reservation");

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
	return tap_done();
}
