/*
 * The per-CPU caches (mm/syspte_cache.c) and the region's index (mm/syspte_index.c) where a walk or
 * a drain meets them, each case holding the code to a rule it once broke:
 *
 *  - A refused reservation gives back the index's growth for its own record when the refusal comes
 *    after a drain (docs/contract.md section 3: "What the request itself would have needed is given
 *    back: ... the index's growth for its record"): the index is full, the caches hold free pages
 *    and no reservation, the request's run exists but a page table for it cannot be made. The
 *    drain's look once grew the index for the request's record too and kept it.
 *  - syspte_for_each_mapped freezes the caches, as every walk does (docs/design.md, "Walks freeze
 *    the caches"): a cached map or unmap writes a reservation's PTEs under its cache's lock alone,
 *    and an unfrozen walk reported runs that are part of a mapping, and runs of 0 pages.
 *  - A request that only the free chunk of a cache holding no reservation can hold is placed when
 *    memory is exhausted and the index cannot grow for every cache's reservations, since the index
 *    has room for its own record and dissolving that one chunk needs no memory (docs/contract.md
 *    section 6, "a reservation is refused only when no run exists in the allocator's and the
 *    caches' free space together"); the drain once took every cache or none.
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


/*
 * Generated: requests of 1 .. 8 2 MiB spans (tables to make), each under budgets of 0 .. 24 more
 * physical pages, on a 4 GiB region whose index is exactly full and whose caches (CPU 1's, CPU 2's)
 * hold empty chunks only. Every refusal must leave the region's statistics as they were, the index's
 * pages (record_bytes) included. Returns the refusals that changed them; *refused counts refusals.
 */
static unsigned refused_keeps_index_growth(unsigned *refused, unsigned *drained)
{
	unsigned changed = 0;
	*refused = *drained = 0;
	for (uint64_t spans = 1; spans <= 8; spans++) {
		host_machine_create(64ULL << 20, 4ULL << 30);
		struct syspte_region *r = reserved_region();
		for (unsigned cpu = 1; cpu <= 2; cpu++) {   /* a cache each, an empty chunk each */
			fake_cpu_switch(cpu);
			vaddr_t c = syspte_reserve(r, 1, 0x65686361, 0);
			syspte_release(r, c, 0x65686361);
		}
		fake_cpu_switch(0);
		while (r->index.cap == 0 || r->index.count < r->index.cap)   /* the index exactly full */
			if (!syspte_reserve(r, SYSPTE_CACHE_MAX_PAGES + 1, 0x6c6c6946, 0))
				return changed + 1;
		for (uint64_t extra = 0; extra <= 24; extra++) {
			struct phys_stats ps;
			struct syspte_stats a, b;
			syspte_get_stats(r, &a);
			if (a.cached_pages == 0 || a.live != r->index.count)
				break;   /* drained by an earlier try: the case is gone */
			phys_get_stats(&ps);
			phys_set_budget(ps.allocated_pages + extra);
			vaddr_t v = syspte_reserve(r, spans * SYSPTE_SPAN_PAGES, 0x67697242, 0);
			phys_set_budget(UINT64_MAX);
			syspte_get_stats(r, &b);
			if (v) {
				syspte_release(r, v, 0x67697242);
				break;
			}
			(*refused)++;
			*drained += b.cache_drains > a.cache_drains;
			bool same = a.live == b.live && a.free_pages == b.free_pages && a.pages_reserved == b.pages_reserved &&
				    a.record_bytes == b.record_bytes && syspte_check(r) == 0;
			if (!same && changed++ < 4)
				printf("# %llu pages under a budget of %llu more: refused, the index's bytes %llu -> %llu "
				       "(%llu entries, %llu before; drains %llu -> %llu)\n",
				       (unsigned long long)(spans * SYSPTE_SPAN_PAGES), (unsigned long long)extra,
				       (unsigned long long)a.record_bytes, (unsigned long long)b.record_bytes,
				       (unsigned long long)r->index.count, (unsigned long long)a.live,
				       (unsigned long long)a.cache_drains, (unsigned long long)b.cache_drains);
		}
	}
	return changed;
}

/* ---- syspte_for_each_mapped does not freeze the caches */

#ifndef MAPPER_ROUNDS
#define MAPPER_ROUNDS 1000u
#endif
#define WALKS_PER_OP 4u   /* walks CPU 0 makes at most while CPU 1's map or unmap has not finished */
static struct syspte_region *MR;
static vaddr_t mapper_va[SYSPTE_CACHE_MAX_PAGES + 1];
static volatile int mapper_done;
static uint64_t walks, runs_seen, runs_torn, runs_empty, first_torn, mapper_ops, walker_waits;

/* CPU 1: maps and unmaps whole reservations of its cache, sizes 2 .. 16, each mapping in one call,
 * from the walker's first walk on, MAPPER_ROUNDS rounds and then on until a walk has met a mapping
 * (at most 20 times as many): on a loaded host the two threads may otherwise barely overlap. Each
 * map and unmap done is counted (mapper_ops) for the walker's pace.
 *
 * CPU 0 walks until CPU 1 is done, but at most WALKS_PER_OP walks while one map or unmap of CPU 1's
 * is under way: then it waits for that call to finish. The region's lock is a test-and-set lock, and
 * a walk that freezes the caches sends CPU 1's map to it; a walker that took it again at once starved
 * CPU 1 there (tens of seconds when the host was busy, millions of walks). A walk that does not
 * freeze the caches runs beside CPU 1's writes, which never wait for it: the pace changes nothing
 * there. The wait polls CPU 0's mailbox: CPU 1's unmap waits for its TLB shootdown. */
static void mapper(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		static uint64_t pfns[SYSPTE_CACHE_MAX_PAGES];
		for (unsigned k = 0; k < SYSPTE_CACHE_MAX_PAGES; k++)
			pfns[k] = 0x200 + k;
		while (!__atomic_load_n(&walks, __ATOMIC_ACQUIRE))
			arch_cpu_relax();
		for (unsigned round = 0; round < MAPPER_ROUNDS ||
		     (!__atomic_load_n(&runs_seen, __ATOMIC_RELAXED) && round < 20 * MAPPER_ROUNDS); round++)
			for (unsigned n = 2; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
				syspte_map(MR, mapper_va[n], 0x7070614d, pfns, n, PT_CACHE_WB);
				__atomic_fetch_add(&mapper_ops, 1, __ATOMIC_RELEASE);
				syspte_unmap(MR, mapper_va[n], 0x7070614d, n);
				__atomic_fetch_add(&mapper_ops, 1, __ATOMIC_RELEASE);
			}
		__atomic_store_n(&mapper_done, 1, __ATOMIC_RELEASE);
		return;
	}
	if (cpu != 0)
		return;
	uint64_t seen = 0;
	unsigned ahead = 0;   /* walks since mapper_ops last changed */
	while (!__atomic_load_n(&mapper_done, __ATOMIC_ACQUIRE)) {
		extern void torn_cb(vaddr_t va, uint64_t n, void *arg);
		syspte_for_each_mapped(MR, torn_cb, NULL);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELEASE);
		uint64_t now = __atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE);
		if (now != seen) {
			seen = now;
			ahead = 0;
		} else if (++ahead >= WALKS_PER_OP) {   /* let CPU 1's call finish */
			walker_waits++;
			while (__atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE) == seen &&
			       !__atomic_load_n(&mapper_done, __ATOMIC_ACQUIRE)) {
				arch_cpu_poll();   /* the unmap's TLB shootdown waits for this CPU */
				arch_cpu_relax();
			}
			seen = __atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE);
			ahead = 0;
		}
	}
}

/* A run of mapped pages the walk reported: at most one mapping is there at a time, of a whole
 * reservation, so a run is one reservation's pages, all of them. */
void torn_cb(vaddr_t va, uint64_t n, void *arg)
{
	(void)arg;
	__atomic_fetch_add(&runs_seen, 1, __ATOMIC_RELAXED);
	bool whole = false;
	for (unsigned k = 2; k <= SYSPTE_CACHE_MAX_PAGES; k++)
		whole |= va == mapper_va[k] && n == k;
	runs_empty += n == 0;
	if (!whole && runs_torn++ == 0)
		first_torn = n;
}

/*
 * CPU 1 maps and unmaps reservations of its cache (each map and unmap writes a whole mapping under
 * the cache's lock alone) while CPU 0 walks the mapped pages (syspte_for_each_mapped, under the
 * region's lock): each run walked must be a whole mapping, a state the region was in. The walk
 * takes the region's lock but does not freeze the caches (docs/design.md, "Walks freeze the caches
 * ... so a walk reads every cache as one consistent state"), so it reads the PTEs while a cached map
 * writes them: runs of part of a mapping.
 */
static void test_for_each_mapped_torn(void)
{
	host_machine_create(64ULL << 20, 4096 * PAGE_SIZE);
	MR = reserved_region();
	fake_cpu_switch(1);
	bool all = true;
	for (unsigned n = 2; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
		mapper_va[n] = syspte_reserve(MR, n, 0x7070614d, 0);
		all &= mapper_va[n] && syspte_cache_owner_page(MR, (mapper_va[n] - MR->base) >> PAGE_SHIFT) == 2;
	}
	fake_cpu_switch(0);
	ok(all, "CPU 1's cache holds reservations of 2 .. 16 pages");
	fake_smp_run(2, mapper, NULL);
	ok(walks > 0 && runs_seen > 0, "%llu walks during %llu maps and unmaps saw %llu runs of mapped pages "
	   "(the walker waited for a map or unmap %llu times)", (unsigned long long)walks, (unsigned long long)mapper_ops,
	   (unsigned long long)runs_seen, (unsigned long long)walker_waits);
	is(runs_torn, 0, "no run walked is part of a mapping (the first torn one: %llu pages; %llu runs of 0 pages)",
	   (unsigned long long)first_torn, (unsigned long long)runs_empty);
}

/* ---- a drain refused for the index although the run lies in a cache holding no reservation */

/*
 * Memory exhausted. CPU 2's cache is full of one-page reservations (more than the region's index
 * could take without growing); CPU 1's cache holds one chunk with no reservation (64 free pages);
 * the allocator has no free page; the index has room for one more record. A request of n pages
 * (1 .. 64, DIVISIBLE or not when n divides 64) from CPU 0 needs nothing but CPU 1's free chunk: its
 * run is there (contract section 6: "a reservation is refused only when no run exists in the
 * allocator's and the caches' free space together (the caches are drained first)"), its page tables
 * and allocator chunks exist, and the index has room for its record (section 3's last row does not
 * apply). syspte_cache_drain_locked drains every cache or none, and the look
 * (syspte_cache_drain_helps) asks the index for room for every cache's reservations (t.live + 1):
 * with no page to grow it, the request is refused although dissolving CPU 1's chunk alone would place
 * it. Returns the requests refused so; *asked counts them all.
 */
/* Requests placed by refused_with_a_free_chunk after which CPU 2's cache no longer held its
 * reservations: a cache whose records the index cannot take, with room left for the request's, is
 * left as it is (docs/design.md; syspte_cache_drain_locked in mm/syspte_cache.h). */
static unsigned cache_not_left;

static unsigned refused_with_a_free_chunk(unsigned *asked)
{
	unsigned refused = 0;
	*asked = 0;
	for (uint64_t n = 1; n <= 64; n++)
		for (unsigned div = 0; div < 2; div++) {
			if (div && 64 % n)
				continue;
			host_machine_create(64ULL << 20, 4096 * PAGE_SIZE);
			struct syspte_region *r = reserved_region();
			fake_cpu_switch(2);
			unsigned mine = 0;
			while (syspte_reserve(r, 1, 0x32555043, 0))   /* CPU 2's cache, full */
				if (++mine == r->cache.max_chunks * SYSPTE_CHUNK_PAGES)
					break;
			fake_cpu_switch(1);
			vaddr_t c = syspte_reserve(r, 1, 0x31555043, 0);
			syspte_release(r, c, 0x31555043);
			if (!region_fill_allocator(r) || r->cache.cpu[2]->live != mine || r->cache.cpu[1]->live != 0 ||
			    r->cache.cpu[1]->free != SYSPTE_CHUNK_PAGES || r->index.count + 1 > r->index.cap ||
			    r->index.count + mine + 1 <= r->index.cap) {
				printf("# set-up failed for %llu pages\n", (unsigned long long)n);
				return refused + 100;
			}
			struct phys_stats ps;
			phys_get_stats(&ps);
			phys_set_budget(ps.allocated_pages);   /* no page more */
			(*asked)++;
			vaddr_t v = syspte_reserve(r, n, 0x6b736141, div ? SYSPTE_FLAG_DIVISIBLE : 0);
			phys_set_budget(UINT64_MAX);
			if (v && (r->cache.cpu[2]->live != mine || r->cache.cpu[2]->nchunks == 0) && cache_not_left++ < 3)
				printf("# %llu pages%s placed: CPU 2's cache holds %llu reservations in %u chunks (had %u)\n",
				       (unsigned long long)n, div ? " DIVISIBLE" : "", (unsigned long long)r->cache.cpu[2]->live,
				       (unsigned)r->cache.cpu[2]->nchunks, mine);
			if (!v && refused++ < 3)
				printf("# %llu pages%s refused: CPU 1's cache holds a free chunk of 64 pages and no reservation, "
				       "the index room for one more record (%llu of %llu)\n", (unsigned long long)n,
				       div ? " DIVISIBLE" : "", (unsigned long long)r->index.count, (unsigned long long)r->index.cap);
		}
	fake_cpu_switch(0);
	return refused;
}

int main(void)
{
	unsigned asked, lost = refused_with_a_free_chunk(&asked);
	is(lost, 0, "of %u requests that only a free chunk of an idle cache can hold, with memory exhausted and the "
	   "index room for their record, none refused", asked);
	is(cache_not_left, 0, "and the cache whose reservations the index could not take with the request's is left as "
	   "it is");
	test_for_each_mapped_torn();
	unsigned refused, drained;
	unsigned changed = refused_keeps_index_growth(&refused, &drained);
	ok(refused >= 4 && drained > 0, "generated requests were refused for memory (%u), some after a drain (%u)", refused, drained);
	is(changed, 0, "a refused reservation gives back the index's growth for its record (contract section 3), "
	   "after a drain too");
	host_machine_destroy();
	return tap_done();
}
