/*
 * For ThreadSanitizer (build/tsan/test_syspte_pd_race; a review found the race): the map and unmap
 * of a reservation a CPU's cache holds read the region's level-2 directory r->pd (syspte_pde,
 * through syspte_span_leaf, whenever the region has a 2 MiB leaf) under that cache's lock alone.
 * A reservation that needed a new span table used to store r->pd again under the region's lock
 * (syspte_table_made, mm/syspte.c), the same value: a store and a load with no order between them,
 * a data race in C11 that TSan reported every run. Now each 1 GiB's entry is written once, when
 * it is first met. CPU 1 maps and unmaps small cached reservations while CPU 0 reserves 2 MiB runs
 * that each make a span's table, one 2 MiB leaf mapped elsewhere: every call succeeds, no race.
 */
#include <stdlib.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "reserved.h"
#include "syspte.h"
#include "phys.h"

#define TAG 0x65526450u                  /* 'PdRe' */
#define SPAN 512
#define BIG 200                          /* CPU 0's reservations of one span each */

static struct syspte_region *region;
static vaddr_t big[BIG];
static uint64_t wrong[2], cached_rounds;   /* wrong[cpu]: each CPU counts its own */

/* CPU 0 reserves spans that need new tables; CPU 1 maps and unmaps small reservations meanwhile. */
static void race_run(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 0) {
		for (int k = 0; k < BIG; k++)
			wrong[0] += !(big[k] = syspte_reserve(region, SPAN, TAG, SYSPTE_FLAG_DIVISIBLE));
		return;
	}
	paddr_t pa = phys_alloc(4, 0, UINT64_MAX);
	uint64_t pfn[4];
	for (int q = 0; q < 4; q++)
		pfn[q] = (pa >> PAGE_SHIFT) + q;
	for (int k = 0; k < 3000; k++) {
		vaddr_t va = syspte_reserve(region, 4, TAG + 1, 0);
		wrong[1] += !va || syspte_map(region, va, TAG + 1, pfn, 4, PT_CACHE_WB) != SYSPTE_OK ||
			 syspte_unmap(region, va, TAG + 1, 4) != SYSPTE_OK || syspte_release(region, va, TAG + 1) != SYSPTE_OK;
		cached_rounds++;
	}
	phys_free(pa, 4);
}

int main(void)
{
	if (host_machine_create(512ULL << 20, 1ULL << 30))
		abort();
	region = reserved_region();
	paddr_t pa = phys_alloc_aligned(SPAN, SPAN, 0, UINT64_MAX);
	uint64_t pfn[SPAN];
	for (int q = 0; q < SPAN; q++)
		pfn[q] = (pa >> PAGE_SHIFT) + q;
	vaddr_t leaf = syspte_reserve(region, SPAN, TAG, SYSPTE_FLAG_DIVISIBLE);
	struct syspte_stats st;
	ok(leaf && syspte_map(region, leaf, TAG, pfn, SPAN, PT_CACHE_WB) == SYSPTE_OK, "one 2 MiB leaf mapped");
	syspte_get_stats(region, &st);
	is(st.large_leaves, 1, "the region counts one leaf");
	fake_smp_run(2, race_run, NULL);
	is(wrong[0] + wrong[1], 0, "%d span reservations and %llu cached map/unmap rounds at once, every call done", BIG,
	   (unsigned long long)cached_rounds);
	for (int k = 0; k < BIG; k++)
		if (big[k])
			syspte_release(region, big[k], TAG);
	ok(syspte_unmap(region, leaf, TAG, SPAN) == SYSPTE_OK && syspte_release(region, leaf, TAG) == SYSPTE_OK &&
	   syspte_check(region) == 0, "cleaned up, the region consistent");
	phys_free(pa, SPAN);
	host_machine_destroy();
	return tap_done();
}
