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
 *    and an unfrozen walk reported runs that are part of a mapping, and runs of 0 pages; walks paused
 *    at a mapping while its CPU replaces it catch that every time, a race besides.
 *  - A request that only the free chunk of a cache holding no reservation can hold is placed when
 *    memory is exhausted and the index cannot grow for every cache's reservations, since the index
 *    has room for its own record and dissolving that one chunk needs no memory (docs/contract.md
 *    section 6, "a reservation is refused only when no run exists in the allocator's and the
 *    caches' free space together"); the drain once took every cache or none.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/*
 * CPU 1 maps and unmaps whole reservations of its cache, sizes 2 .. 16 (each map and unmap writes one
 * whole mapping under the cache's lock alone), while CPU 0 walks the mapped pages
 * (syspte_for_each_mapped, under the region's lock). CPU 1 holds at most one mapping at a time, so a
 * walk, which reports a state the region was in, reports at most one run, and that run one whole
 * mapping. A walk that does not freeze the caches (docs/design.md, "Walks freeze the caches ... so a
 * walk reads every cache as one consistent state") runs beside CPU 1's cached calls, which never
 * wait for it: it reports part of a mapping, a run of 0 pages, or one mapping and then the next.
 *
 * Two parts. The paused walks force that interleaving every time: each stops at CPU 1's mapping (the
 * lowest of its reservations) until CPU 1 has unmapped it and mapped a higher one, or has begun to
 * wait for a lock holding none (the region's: the freeze sent its cached unmap there). A frozen
 * walk thus reports the first mapping alone, CPU 1 waiting; an unfrozen one reports both. The race
 * then lets the two CPUs run freely, for the interleavings no pause chose (a walk inside a cached
 * map's PTE writes).
 */

#define WALK_TAG 0x7070614d       /* CPU 1's reservations' tag */
#define WALK_WAIT_SECONDS 60      /* a wait for the other CPU this long is a hang: the test fails */
static struct syspte_region *MR;
static vaddr_t mapper_va[SYSPTE_CACHE_MAX_PAGES + 1];   /* CPU 1's reservation of n pages, n = 2 .. 16 */
static uint64_t mapper_pfns[SYSPTE_CACHE_MAX_PAGES];    /* the frames every mapping maps */
/* What the walks reported (written by CPU 0 alone; runs_seen read by CPU 1 too): runs, runs that are
 * not one whole mapping (the first one's pages), runs of 0 pages, walks that reported more than one
 * run (the first one's count). */
static uint64_t runs_seen, runs_torn, first_torn, runs_empty, walks_crowded, first_crowded;
static uint64_t walk_runs;   /* runs the walk under way reported so far (CPU 0's) */

/* The paused walks' hand-shake: each field counts the rounds (1, 2, ...) whose step is done, written
 * by one CPU with release and read by the other with acquire. */
static struct {
	unsigned rounds;    /* rounds to make (set before the CPUs start) */
	unsigned low;       /* the size whose reservation lies lowest: the mapping a walk stops at */
	unsigned ready;     /* CPU 1: its mapping of low pages made */
	unsigned paused;    /* CPU 0: its walk stopped at that mapping */
	unsigned blocked;   /* CPU 1 (poll hook): inside its calls, spinning for a lock while holding none */
	unsigned moved;     /* CPU 1: that mapping unmapped and the next one mapped */
	unsigned walked;    /* CPU 0: its walk ended */
	unsigned stopped;   /* either CPU: a wait timed out or a walk missed the mapping; both CPUs stop */
	unsigned waited;    /* CPU 0: rounds whose walk CPU 1's calls waited for */
	unsigned passed;    /* CPU 0: rounds whose walk CPU 1's calls finished during */
} walk_pause;
static unsigned walk_pause_walking;   /* CPU 0 alone: the round whose walk is under way, 0 outside */
static unsigned walk_pause_calling;   /* CPU 1 alone: the round whose unmap and map it is making, 0 outside */

static double walk_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Waits, taking this CPU's mailbox (the other's unmap waits for its TLB shootdown), until *at counts
 * round k, or *alt does (alt may be NULL). False when the hand-shake stopped, or after
 * WALK_WAIT_SECONDS, which stops it. */
static bool walk_pause_wait(const unsigned *at, const unsigned *alt, unsigned k)
{
	double limit = walk_now() + WALK_WAIT_SECONDS;
	for (;;) {
		if (__atomic_load_n(at, __ATOMIC_ACQUIRE) >= k || (alt && __atomic_load_n(alt, __ATOMIC_ACQUIRE) >= k))
			return true;
		if (__atomic_load_n(&walk_pause.stopped, __ATOMIC_ACQUIRE))
			return false;
		if (walk_now() > limit) {
			printf("# CPU %u: round %u of the paused walks waited %d s for the other CPU\n", fake_cpu, k,
			       WALK_WAIT_SECONDS);
			__atomic_store_n(&walk_pause.stopped, 1, __ATOMIC_RELEASE);
			return false;
		}
		arch_cpu_poll();
		arch_cpu_relax();
	}
}

/* The poll hook while the paused walks run: CPU 1 polling inside its calls while it holds no lock
 * spins for one (its cached unmap sent to the region's lock, which the paused walker holds; the
 * unmap's TLB shootdown waits holding its cache's lock). */
static void walk_pause_poll_hook(void)
{
	if (fake_cpu == 1 && walk_pause_calling && spin_cpus[1].held == 0)
		__atomic_store_n(&walk_pause.blocked, walk_pause_calling, __ATOMIC_RELEASE);
}

/* A run of mapped pages a walk reported: one reservation's pages, all of them, and the only run of
 * its walk. In a paused walk's round, the first run (the mapping of walk_pause.low pages) stops the
 * walk until CPU 1 has made its calls or waits for a lock. */
static void walk_run_cb(vaddr_t va, uint64_t n, void *arg)
{
	(void)arg;
	__atomic_fetch_add(&runs_seen, 1, __ATOMIC_RELAXED);
	bool whole = false;
	for (unsigned k = 2; k <= SYSPTE_CACHE_MAX_PAGES; k++)
		whole |= va == mapper_va[k] && n == k;
	runs_empty += n == 0;
	if (!whole && runs_torn++ == 0)
		first_torn = n;
	unsigned k = walk_pause_walking;
	if (walk_runs++ || !k || va != mapper_va[walk_pause.low])
		return;
	__atomic_store_n(&walk_pause.paused, k, __ATOMIC_RELEASE);
	if (!walk_pause_wait(&walk_pause.moved, &walk_pause.blocked, k))
		return;
	if (__atomic_load_n(&walk_pause.moved, __ATOMIC_ACQUIRE) >= k)
		walk_pause.passed++;
	else
		walk_pause.waited++;
}

/* One walk of CPU 0's (round k of the paused walks, 0 in the race): its runs counted, more than one
 * counted as a crowded walk. */
static void walk_once(unsigned k)
{
	walk_runs = 0;
	walk_pause_walking = k;
	syspte_for_each_mapped(MR, walk_run_cb, NULL);
	walk_pause_walking = 0;
	if (walk_runs > 1 && walks_crowded++ == 0)
		first_crowded = walk_runs;
}

/* The paused walks: round k, CPU 1 maps its reservation of walk_pause.low pages; CPU 0 walks and
 * stops at that mapping; CPU 1 unmaps it and maps the next size's (higher: they all are) while CPU
 * 0 waits; CPU 0's walk ends; CPU 1 unmaps the second mapping. */
static void walk_pause_cpu(unsigned cpu, void *arg)
{
	(void)arg;
	unsigned low = walk_pause.low;
	for (unsigned k = 1, next = low; k <= walk_pause.rounds; k++) {
		if (cpu == 0) {
			if (!walk_pause_wait(&walk_pause.ready, NULL, k))
				return;
			walk_once(k);
			if (__atomic_load_n(&walk_pause.paused, __ATOMIC_RELAXED) < k) {
				printf("# round %u of the paused walks: the walk did not report the mapping of %u pages\n", k, low);
				__atomic_store_n(&walk_pause.stopped, 1, __ATOMIC_RELEASE);
				return;
			}
			__atomic_store_n(&walk_pause.walked, k, __ATOMIC_RELEASE);
			continue;
		}
		if (cpu != 1)
			return;
		do   /* the sizes other than low in turn */
			next = next % SYSPTE_CACHE_MAX_PAGES + 1;
		while (next < 2 || next == low);
		syspte_map(MR, mapper_va[low], WALK_TAG, mapper_pfns, low, PT_CACHE_WB);
		__atomic_store_n(&walk_pause.ready, k, __ATOMIC_RELEASE);
		if (!walk_pause_wait(&walk_pause.paused, NULL, k))
			return;
		walk_pause_calling = k;
		syspte_unmap(MR, mapper_va[low], WALK_TAG, low);
		syspte_map(MR, mapper_va[next], WALK_TAG, mapper_pfns, next, PT_CACHE_WB);
		walk_pause_calling = 0;
		__atomic_store_n(&walk_pause.moved, k, __ATOMIC_RELEASE);
		bool on = walk_pause_wait(&walk_pause.walked, NULL, k);
		syspte_unmap(MR, mapper_va[next], WALK_TAG, next);
		if (!on)
			return;
	}
}

/* ---- the race */

#ifndef MAPPER_ROUNDS
#define MAPPER_ROUNDS 1000u
#endif
#define RACE_SECONDS 1.0   /* the race ends after MAPPER_ROUNDS rounds or this long, whichever is first */
#define RACE_HOLD_EVERY 4u /* every so many rounds, one mapping is held for two walks */
#define WALKS_PER_OP 4u    /* walks CPU 0 makes at most while CPU 1's map or unmap has not finished */
static volatile int mapper_done;
static uint64_t walks, mapper_ops, walker_waits, mapper_rounds;
static unsigned mapper_holding;   /* CPU 1 holds a mapping for two walks: CPU 0 does not wait for it */

/* CPU 1: maps and unmaps whole reservations of its cache, sizes 2 .. 16, each mapping in one call,
 * from the walker's first walk on, MAPPER_ROUNDS rounds or RACE_SECONDS, whichever ends first: on a
 * busy host the two CPUs' threads take turns on its cores, so an interleaving costs a time slice
 * and the race meets few; the paused walks, not the race, are what catches a walk that does not
 * freeze. Every RACE_HOLD_EVERY rounds, from the first, one mapping (each size in turn) stays until
 * two more walks have ended, so walks meet mappings however the threads are scheduled (the second
 * began after the map). Each map and unmap done is counted (mapper_ops) for the walker's pace.
 *
 * CPU 0 walks until CPU 1 is done, but at most WALKS_PER_OP walks while one map or unmap of CPU 1's
 * is under way: then it waits for that call to finish (not while CPU 1 holds a mapping for walks,
 * which would wait for each other). The region's lock is a test-and-set lock, and
 * a walk that freezes the caches sends CPU 1's map to it; a walker that took it again at once starved
 * CPU 1 there (tens of seconds when the host was busy, millions of walks). A walk that does not
 * freeze the caches runs beside CPU 1's writes, which never wait for it: the pace changes nothing
 * there. The wait polls CPU 0's mailbox: CPU 1's unmap waits for its TLB shootdown. */
static void mapper(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		double limit = walk_now() + RACE_SECONDS;
		while (!__atomic_load_n(&walks, __ATOMIC_ACQUIRE))
			arch_cpu_relax();
		for (unsigned round = 0; round < MAPPER_ROUNDS && (round == 0 || walk_now() < limit); round++) {
			unsigned held = round % RACE_HOLD_EVERY ? 0 : 2 + round / RACE_HOLD_EVERY % (SYSPTE_CACHE_MAX_PAGES - 1);
			for (unsigned n = 2; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
				syspte_map(MR, mapper_va[n], WALK_TAG, mapper_pfns, n, PT_CACHE_WB);
				__atomic_fetch_add(&mapper_ops, 1, __ATOMIC_RELEASE);
				if (n == held) {   /* CPU 0 walks on meanwhile, whatever its pace */
					__atomic_store_n(&mapper_holding, 1, __ATOMIC_RELEASE);
					for (uint64_t w = __atomic_load_n(&walks, __ATOMIC_ACQUIRE);
					     __atomic_load_n(&walks, __ATOMIC_ACQUIRE) < w + 2;) {
						arch_cpu_poll();
						arch_cpu_relax();
					}
					__atomic_store_n(&mapper_holding, 0, __ATOMIC_RELEASE);
				}
				syspte_unmap(MR, mapper_va[n], WALK_TAG, n);
				__atomic_fetch_add(&mapper_ops, 1, __ATOMIC_RELEASE);
			}
			mapper_rounds = round + 1;
		}
		__atomic_store_n(&mapper_done, 1, __ATOMIC_RELEASE);
		return;
	}
	if (cpu != 0)
		return;
	uint64_t seen = 0;
	unsigned ahead = 0;   /* walks since mapper_ops last changed */
	while (!__atomic_load_n(&mapper_done, __ATOMIC_ACQUIRE)) {
		walk_once(0);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELEASE);
		uint64_t now = __atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE);
		if (now != seen) {
			seen = now;
			ahead = 0;
		} else if (++ahead >= WALKS_PER_OP && !__atomic_load_n(&mapper_holding, __ATOMIC_ACQUIRE)) {
			walker_waits++;   /* let CPU 1's call finish */
			while (__atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE) == seen &&
			       !__atomic_load_n(&mapper_done, __ATOMIC_ACQUIRE) &&
			       !__atomic_load_n(&mapper_holding, __ATOMIC_ACQUIRE)) {
				arch_cpu_poll();   /* the unmap's TLB shootdown waits for this CPU */
				arch_cpu_relax();
			}
			seen = __atomic_load_n(&mapper_ops, __ATOMIC_ACQUIRE);
			ahead = 0;
		}
	}
}

static void test_for_each_mapped_torn(void)
{
	host_machine_create(64ULL << 20, 4096 * PAGE_SIZE);
	MR = reserved_region();
	for (unsigned k = 0; k < SYSPTE_CACHE_MAX_PAGES; k++)
		mapper_pfns[k] = 0x200 + k;
	fake_cpu_switch(1);
	bool all = true;
	walk_pause.low = 2;
	for (unsigned n = 2; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
		mapper_va[n] = syspte_reserve(MR, n, WALK_TAG, 0);
		all &= mapper_va[n] && syspte_cache_owner_page(MR, (mapper_va[n] - MR->base) >> PAGE_SHIFT) == 2;
		if (mapper_va[n] < mapper_va[walk_pause.low])
			walk_pause.low = n;
	}
	fake_cpu_switch(0);
	ok(all, "CPU 1's cache holds reservations of 2 .. 16 pages");

	walk_pause.rounds = SYSPTE_CACHE_MAX_PAGES - 2;   /* each other size once */
	fake_cpu_poll_hook = walk_pause_poll_hook;
	fake_smp_run(2, walk_pause_cpu, NULL);
	fake_cpu_poll_hook = NULL;
	uint64_t paused_torn = runs_torn, paused_crowded = walks_crowded;
	ok(!walk_pause.stopped && walk_pause.walked == walk_pause.rounds,
	   "%u of %u walks stopped at CPU 1's mapping of %u pages while CPU 1 unmapped it and mapped another",
	   walk_pause.walked, walk_pause.rounds, walk_pause.low);
	is(walk_pause.passed, 0, "none of CPU 1's unmaps and maps finished while such a walk was under way (each "
	   "waited for the region's lock: %u)", walk_pause.waited);
	is(paused_torn + paused_crowded, 0, "each such walk reported that mapping alone (%llu reported two or more runs, "
	   "the first %llu; %llu runs not one whole mapping)", (unsigned long long)paused_crowded,
	   (unsigned long long)first_crowded, (unsigned long long)paused_torn);

	runs_seen = runs_torn = first_torn = runs_empty = walks_crowded = first_crowded = 0;   /* the race's own */
	fake_smp_run(2, mapper, NULL);
	ok(walks > 0 && runs_seen > 0, "%llu walks during %llu maps and unmaps (%llu rounds) saw %llu runs of mapped pages "
	   "(the walker waited for a map or unmap %llu times)", (unsigned long long)walks, (unsigned long long)mapper_ops,
	   (unsigned long long)mapper_rounds, (unsigned long long)runs_seen, (unsigned long long)walker_waits);
	is(runs_torn + walks_crowded, 0, "no run walked is part of a mapping (the first torn one: %llu pages; %llu runs "
	   "of 0 pages), no walk reported two (%llu)", (unsigned long long)first_torn, (unsigned long long)runs_empty,
	   (unsigned long long)walks_crowded);
	is(MR->cache.frozen, 0, "the walks thawed the caches they froze");
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
