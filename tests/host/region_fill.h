/*
 * For tests of the per-CPU caches' drains: the system PTE region's allocator emptied by CPU 0, so
 * that only the caches keep free pages.
 */
#ifndef REGION_FILL_H
#define REGION_FILL_H

#include "syspte_impl.h"
#include "fake_arch.h"

/* buddy_for_each_free's callback: the longest extent seen into *arg. */
static void region_fill_longest(uint64_t start, uint64_t count, void *arg)
{
	(void)start;
	uint64_t *m = arg;
	*m = MAX(*m, count);
}

/* As CPU 0, reserves the allocator's every free extent by its exact length, so only the caches keep
 * free pages; false when a reserve failed or drained a cache. */
static inline bool region_fill_allocator(struct syspte_region *r)
{
	struct syspte_stats s0, s1;
	syspte_get_stats(r, &s0);
	fake_cpu_switch(0);
	for (;;) {
		uint64_t longest = 0, f = spin_lock(&r->lock);
		buddy_for_each_free(&r->buddy, region_fill_longest, &longest);
		spin_unlock(&r->lock, f);
		if (!longest)
			break;
		if (!syspte_reserve(r, longest, 0x6c6c6946, 0))
			return false;
	}
	syspte_get_stats(r, &s1);
	return s1.cache_drains == s0.cache_drains;
}

#endif
