/*
 * The per-CPU caches' drain (mm/syspte_cache.c, syspte_cache_drain_helps and
 * syspte_cache_drain_fits) under generated physical budgets (docs/contract.md section 6: "a
 * reservation is refused only when no run exists in the allocator's and the caches' free space
 * together (the caches are drained first)", memory permitting; section 3: a refused request gives
 * back what it needed):
 *  - memory is never made short by having more of it: CPU 2's cache full of one-page reservations,
 *    CPU 1's holding one free chunk, the allocator full, the index room for one record; a request
 *    of n pages (generated, DIVISIBLE or not) that CPU 1's chunk alone can hold is placed under every
 *    budget of 0 .. 12 pages more (the look's growth of the index for CPU 2's records must leave
 *    what the request needs);
 *  - when refused, the region's free pages, live reservations and reserved pages are unchanged and
 *    syspte_check is clean.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "region_fill.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "phys.h"
#include "reserved.h"
#include "test_rng.h"

static uint64_t rng = 0xD4A1B0D6E7ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }


int main(void)
{
	unsigned asked = 0, refused = 0, changed = 0, setup = 0, mine_cases = 0;
	for (unsigned t = 0; t < 40; t++) {
		uint64_t n = 1 + below(64);
		bool div = 64 % n == 0 && below(2);
		/* CPU 2's reservations: from a few to more than the index holds without growing */
		unsigned want = 1 + (unsigned)below(4 * SYSPTE_CHUNK_PAGES);
		for (uint64_t extra = 0; extra <= 12; extra++) {
			host_machine_create(64ULL << 20, 4096 * PAGE_SIZE);
			struct syspte_region *r = reserved_region();
			fake_cpu_switch(2);
			unsigned mine = 0;
			while (mine < want && mine < r->cache.max_chunks * SYSPTE_CHUNK_PAGES && syspte_reserve(r, 1, 0x32555043, 0))
				mine++;
			fake_cpu_switch(1);
			vaddr_t c = syspte_reserve(r, 1, 0x31555043, 0);
			syspte_release(r, c, 0x31555043);
			if (!region_fill_allocator(r) || r->cache.cpu[1]->live != 0 || r->cache.cpu[1]->free != SYSPTE_CHUNK_PAGES ||
			    r->index.count + 1 > r->index.cap) {
				setup++;
				continue;
			}
			mine_cases += r->index.count + mine + 1 > r->index.cap;
			struct phys_stats ps;
			struct syspte_stats a, b;
			syspte_get_stats(r, &a);
			phys_get_stats(&ps);
			phys_set_budget(ps.allocated_pages + extra);
			asked++;
			vaddr_t v = syspte_reserve(r, n, 0x6b736141, div ? SYSPTE_FLAG_DIVISIBLE : 0);
			phys_set_budget(UINT64_MAX);
			syspte_get_stats(r, &b);
			if (!v) {
				if (refused++ < 4)
					printf("# %llu pages%s, CPU 2 holding %u, a budget of %llu pages more: refused\n",
					       (unsigned long long)n, div ? " DIVISIBLE" : "", mine, (unsigned long long)extra);
				if (a.free_pages != b.free_pages || a.live != b.live || a.pages_reserved != b.pages_reserved ||
				    syspte_check(r) != 0)
					changed++;
			}
		}
	}
	fake_cpu_switch(0);
	host_machine_destroy();
	ok(asked > 400 && setup < asked / 10 && mine_cases > 20,
	   "%u generated cases set up (%u set-ups missed, %u with CPU 2's records past the index's room)", asked, setup,
	   mine_cases);
	is(refused, 0, "of %u requests that CPU 1's free chunk can hold, under budgets of 0 .. 12 pages more, none "
	   "refused (%u of the refusals changed the region)", asked, changed);
	return tap_done();
}
