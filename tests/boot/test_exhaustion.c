/*
 * Boot self-tests: physical memory and the pool taken to exhaustion and back (tests/common/exhaust.c).
 * By default "exhaustion" is a 64 MiB allocation budget (phys_set_budget), so the suite's cost and
 * the memory it touches do not grow with RAM; `exhaust=full` on the command line takes all of RAM.
 */
#include "ktest.h"
#include "exhaust.h"
#include "phys.h"
#include "kernel.h"
#include "testhooks.h"

#define EXHAUST_BUDGET_PAGES 16384   /* 64 MiB */

/* Sets the budget for one exhaustion test; returns the cap on allocated pages (UINT64_MAX: none). */
static uint64_t exhaust_begin(void)
{
	if (kernel_cmdline.opts.exhaust == CMDLINE_EXHAUST_FULL)
		return UINT64_MAX;
	struct phys_stats s;
	phys_get_stats(&s);
	phys_set_budget(s.allocated_pages + EXHAUST_BUDGET_PAGES);
	return s.allocated_pages + EXHAUST_BUDGET_PAGES;
}

/* True when allocation stopped because memory (or the budget) really ran out. */
static bool exhaust_ran_out(const struct exhaust_result *r, uint64_t cap, uint64_t slack)
{
	return cap == UINT64_MAX ? r->free_at_end < slack : r->allocated_at_end + slack > cap;
}

KTEST(exhaust_physical_pages_through_mdls)
{
	struct exhaust_result r;
	uint64_t cap = exhaust_begin();
	exhaust_physical_mdl(64ULL << 20, &r);
	phys_set_budget(UINT64_MAX);
	kprintf("# %llu MDLs held %llu pages; %llu free, %llu allocated at NULL (%s)\n", (unsigned long long)r.items,
		(unsigned long long)r.pages, (unsigned long long)r.free_at_end, (unsigned long long)r.allocated_at_end,
		cap == UINT64_MAX ? "all of RAM" : "64 MiB budget");
	KEXPECT(r.items > 0 && r.pages > MIN(r.free_before, EXHAUST_BUDGET_PAGES) / 2, "most of the memory allowed was handed out");
	KEXPECT(exhaust_ran_out(&r, cap, 64), "memory really ran out (a few pages may go to MDL structures)");
	KEXPECT(r.nulls_clean, "NULLs left the allocators consistent");
	KEXPECT(r.census_same, "free census identical after freeing everything");
	KEXPECT(r.checks_pass);
}

KTEST(exhaust_pool)
{
	struct exhaust_result r;
	uint64_t cap = exhaust_begin();
	exhaust_pool(&r);
	phys_set_budget(UINT64_MAX);
	kprintf("# %llu pool blocks before NULL; %llu free, %llu allocated pages left\n", (unsigned long long)r.items,
		(unsigned long long)r.free_at_end, (unsigned long long)r.allocated_at_end);
	KEXPECT(r.items > 0 && exhaust_ran_out(&r, cap, 16), "the pool took memory until none was left");
	KEXPECT(r.nulls_clean);
	KEXPECT(r.census_same, "free census identical after freeing everything");
	KEXPECT(r.checks_pass, "tag totals back to zero, checks pass");
}
