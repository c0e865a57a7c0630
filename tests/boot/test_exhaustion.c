/* Boot self-tests: physical memory and the pool taken to exhaustion and back (tests/common/exhaust.c). */
#include "ktest.h"
#include "exhaust.h"

KTEST(exhaust_physical_pages_through_mdls)
{
	struct exhaust_result r;
	exhaust_physical_mdl(64ULL << 20, &r);
	kprintf("# %llu MDLs held %llu pages; %llu of %llu free pages left at NULL\n", (unsigned long long)r.items,
		(unsigned long long)r.pages, (unsigned long long)r.free_at_end, (unsigned long long)r.free_before);
	KEXPECT(r.items > 0 && r.pages > r.free_before / 2, "most of memory was handed out");
	KEXPECT(r.free_at_end < 64, "memory really ran out (a few pages may go to MDL structures)");
	KEXPECT(r.nulls_clean, "NULLs left the allocators consistent");
	KEXPECT(r.census_same, "free census identical after freeing everything");
	KEXPECT(r.checks_pass);
}

KTEST(exhaust_pool)
{
	struct exhaust_result r;
	exhaust_pool(&r);
	kprintf("# %llu pool blocks before NULL; %llu free pages left\n", (unsigned long long)r.items,
		(unsigned long long)r.free_at_end);
	KEXPECT(r.items > 0 && r.free_at_end < 16, "the pool took memory until none was left");
	KEXPECT(r.nulls_clean);
	KEXPECT(r.census_same, "free census identical after freeing everything");
	KEXPECT(r.checks_pass, "tag totals back to zero, checks pass");
}
