/*
 * The system PTE region's per-CPU caches (mm/syspte_cache.c) on the host, host threads acting as
 * CPUs (fake_smp_run: each thread its own CPU, all online, the TLB shootdown between them).
 *
 *  - Concurrent property test: four CPUs reserve (mostly 1..16 pages, some larger, some
 *    DIVISIBLE), map, unmap, look up and free at once, and hand reservations to each other to free
 *    (so a cache takes frees from other CPUs). A shadow of every region page, claimed with a
 *    compare-exchange by the CPU a reservation was returned to, catches any overlap the moment it
 *    happens; each CPU checks its own reservations (lookups, PTEs); CPU 0 runs syspte_check and the
 *    accounting identity while the others work. Afterwards: syspte_check, and the statistics, the
 *    walkers (reservations, free runs) and the census against the shadow exactly; then everything is
 *    freed from other CPUs and the region must be whole again. Once normally, once in verifier mode
 *    (guard pages, a full check after every call).
 *  - Many long-lived small reservations on one CPU (more than its active chunks hold, freed in
 *    random order): still at least 95 % of the calls without the region's lock, checks pass, and a
 *    reservation of the whole region afterwards drains every chunk; at 2^22 pages the cache grows
 *    to thousands of chunks (its share follows the region).
 *  - Growth: a cache past 256 chunks into a second directory page, refused for memory (nothing
 *    changed, the allocator places the request) and growing again with memory back; a first
 *    reservation with every amount of memory left up to enough (generated), nothing half made; a
 *    full cache trying again after a free, and not taken for full after a DIVISIBLE miss in a parked
 *    chunk's unaligned run (generated sizes); a cache made and given a chunk exactly while the
 *    allocator keeps its sixteenth free (generated, to the page); empty active chunks replaced by
 *    parked ones; every corruption of the parked lists, the mask, the active slots, their run
 *    bounds, the directory, a cached record and each of a cache's counts caught by syspte_check, and
 *    some named by it as themselves (generated: cached reservations overlapping another or free
 *    pages, directory entries past the region's last chunk, owner bytes naming a CPU without a
 *    cache); a high run bound made right by the next reserve, raised by frees. Adoption refused across a
 *    region's reservation crossing a chunk's edge and past a cache's share (generated sizes); the
 *    region's path into a cache refuses every other size and a region without caches.
 *  - Placement and lookup (generated): a DIVISIBLE request at the lowest multiple in an active chunk
 *    other than the one used last; every page of a CPU's cached chunks looked up by its owner, by
 *    another CPU and under the region's lock against a model, at moments of random use.
 *  - The fast paths' bit helpers (longest run, run around a bit, fits of every span, slots whose
 *    bound admits a span) against plain loops on generated words of every kind.
 *  - Drains: requests that only another CPU's cache can satisfy (its whole free chunk; a run made of
 *    a cached chunk's free pages and the allocator's next to them; a DIVISIBLE run) succeed, and
 *    refuse only when nothing is left, or when memory is exhausted and the region's index cannot
 *    grow to take the cache's reservations (then nothing moves), also when the cache grew on its
 *    fast path while the drain waited for its lock (then its lock is released as it was).
 *  - The fast paths take no lock of the region's: with the region's lock held by another CPU, a
 *    warm CPU reserves and frees without spinning; a reservation of CPU 1's cache is freed, mapped
 *    and looked up from other CPUs, and its misuse gives the region's bug checks with nothing
 *    changed; the page-fault path under a cache's lock reads nothing.
 *
 *   build/host/test_pcpu [ops per CPU]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "capture.h"
#include "host_machine.h"
#include "lock_play.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "verifier.h"
#include "vmlayout.h"
#include "phys.h"
#include "reserved.h"
#include "test_rng.h"
#include "cpu_race.h"

#define NCPUS 4
#define REGION_PAGES 4096u             /* 16 MiB: 64 chunks, 4 per cache */
#define MAXL 48                        /* reservations a CPU holds at once */
#define INBOX 64                       /* reservations handed to a CPU, not freed yet */
_Static_assert(INBOX <= RACE_INBOX_MAX, "an inbox holds at most RACE_INBOX_MAX");
#define TAG_OF(cpu) (0x30555043u + ((uint32_t)(cpu) << 24))   /* 'CPU0' .. 'CPU3' */

/* Runs fn(cpu, arg) on CPUs 0..n-1 at once, one host thread each, all online (fake_smp_run); the
 * caller acts as CPU 0 alone again afterwards. */
static void run_cpus(unsigned n, void (*fn)(unsigned cpu, void *arg), void *arg)
{
	fake_cpu_switch(0);
	fake_smp_run(n, fn, arg);
}

/* ---------------------------------------------------------------- the concurrent test */

struct cpu_state {
	unsigned cpu;
	uint64_t rng, ops;
	struct race_item own[MAXL];
	unsigned nown;
	struct race_inbox inbox;
};

static struct cpu_state cpus[NCPUS];
static struct syspte_region *region;
static uint32_t shadow[REGION_PAGES];  /* id of the reservation (guard page included) owning each page; 0 free */
static uint64_t guard;
static volatile int stop_checks;

static uint64_t draw(struct cpu_state *c, uint64_t n)
{
	uint64_t x = test_rng_next(&c->rng);
	return n ? x % n : 0;
}

/* Checks the PTEs of it's pages against its mapping. */
static void check_ptes(unsigned cpu, const struct race_item *it)
{
	for (uint64_t k = 0; k < it->n; k++) {
		paddr_t pa;
		bool m = pt_query(host_machine_pt(), it->va + k * PAGE_SIZE, &pa, NULL, NULL);
		bool want = k >= it->moff && k < it->moff + it->mn;
		if (m != want || (m && pa_to_pfn(pa) != it->pfn0 + k - it->moff))
			race_bad(cpu, "a PTE differs from the mapping made", it->va + k * PAGE_SIZE, m);
	}
}

static void unmap_item(struct cpu_state *c, struct race_item *it)
{
	if (!it->mn)
		return;
	if (syspte_unmap(region, it->va + it->moff * PAGE_SIZE, it->tag, it->mn) != SYSPTE_OK)
		race_bad(c->cpu, "unmap refused", it->va, it->mn);
	it->mn = 0;
	check_ptes(c->cpu, it);
}

static void free_item(struct cpu_state *c, struct race_item *it)
{
	unmap_item(c, it);
	race_unclaim(shadow, guard, it);
	if (syspte_release(region, it->va, it->tag) != SYSPTE_OK)
		race_bad(c->cpu, "free refused", it->va, it->n);
}

static void op_reserve(struct cpu_state *c)
{
	if (c->nown == MAXL) {
		free_item(c, &c->own[0]);
		c->own[0] = c->own[--c->nown];
	}
	uint64_t kind = draw(c, 20), n = kind < 16 ? 1 + draw(c, 16) : kind < 19 ? 17 + draw(c, 48) : 1 + draw(c, 16);
	uint32_t flags = kind == 19 ? SYSPTE_FLAG_DIVISIBLE : 0, tag = TAG_OF(c->cpu);
	vaddr_t va = syspte_reserve(region, n, tag, flags);
	if (!va)
		return;   /* the region may be full for a moment; the drain tests prove refusals exact */
	if (!syspte_in_region(region, va) || va % PAGE_SIZE || race_page_of(va) + n + guard > REGION_PAGES)
		return race_bad(c->cpu, "a reservation outside the region", va, n);
	if (flags && (va / PAGE_SIZE) % n)
		race_bad(c->cpu, "a DIVISIBLE reservation not divisible", va, n);
	struct race_item *it = &c->own[c->nown++];
	*it = (struct race_item){ .va = va, .n = n, .tag = tag, .id = race_new_id() };
	race_claim(shadow, guard, c->cpu, it);
	check_ptes(c->cpu, it);
}

static void op_map(struct cpu_state *c, struct race_item *it)
{
	if (it->mn)
		return;
	uint64_t off = draw(c, it->n), mn = 1 + draw(c, it->n - off), pfns[64];
	uint64_t pfn0 = 0x100 + draw(c, 1 << 20);
	for (uint64_t k = 0; k < mn; k++)
		pfns[k] = pfn0 + k;
	if (syspte_map(region, it->va + off * PAGE_SIZE, it->tag, pfns, mn, PT_CACHE_WB) != SYSPTE_OK)
		return race_bad(c->cpu, "map refused", it->va, mn);
	it->moff = off, it->mn = mn, it->pfn0 = pfn0;
	check_ptes(c->cpu, it);
}

static void op_lookup_own(struct cpu_state *c, const struct race_item *it)
{
	struct syspte_info info;
	vaddr_t va = it->va + draw(c, it->n) * PAGE_SIZE;
	if (!syspte_lookup(region, va, &info) || info.base != it->va || info.npages != it->n || info.tag != it->tag ||
	    info.mapped != it->mn || syspte_reservation_base(region, va) != it->va)
		race_bad(c->cpu, "lookup of an own reservation differs", va, info.base);
}

/* Any page: whatever another CPU does meanwhile, a reservation found contains the page. */
static void op_lookup_any(struct cpu_state *c)
{
	struct syspte_info info;
	vaddr_t va = SYSPTE_BASE + draw(c, REGION_PAGES) * PAGE_SIZE;
	if (syspte_lookup(region, va, &info) && (va < info.base || va >= info.base + info.npages * PAGE_SIZE ||
						 info.mapped > info.npages))
		race_bad(c->cpu, "a lookup found a reservation not containing the page", va, info.base);
}

/* Hands an own reservation (unmapped) to the next CPU, which frees it. */
static void op_hand_off(struct cpu_state *c)
{
	if (!c->nown)
		return;
	unsigned k = (unsigned)draw(c, c->nown);
	struct cpu_state *to = &cpus[(c->cpu + 1 + draw(c, NCPUS - 1)) % NCPUS];
	unmap_item(c, &c->own[k]);
	if (race_inbox_put(&to->inbox, &c->own[k]))
		c->own[k] = c->own[--c->nown];
}

/* Frees what other CPUs handed to this one, first handed first. */
static void free_inbox(struct cpu_state *c)
{
	struct race_item got[RACE_INBOX_MAX];
	unsigned n = race_inbox_take(&c->inbox, got);
	for (unsigned k = 0; k < n; k++)
		free_item(c, &got[k]);
}

static void cpu_main(unsigned cpu, void *arg)
{
	struct cpu_state *c = &((struct cpu_state *)arg)[cpu];
	for (uint64_t k = 0; k < c->ops; k++) {
		struct race_item *it = c->nown ? &c->own[draw(c, c->nown)] : NULL;
		switch (draw(c, 20)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6: op_reserve(c); break;
		case 7: case 8: case 9:
			if (it) {
				free_item(c, it);
				*it = c->own[--c->nown];
			}
			break;
		case 10: op_hand_off(c); break;
		case 11: case 12: case 13: if (it) op_map(c, it); break;
		case 14: case 15: if (it) unmap_item(c, it); break;
		case 16: if (it) op_lookup_own(c, it); break;
		case 17: op_lookup_any(c); break;
		default: free_inbox(c); break;
		}
		if (c->cpu == 0 && k % 256 == 0)
			race_check_identity(region, REGION_PAGES, guard, c->cpu);
	}
}

/* syspte_for_each's callback: every live reservation once, as the shadow has it. */
static void walk_resv(const struct syspte_info *info, void *arg)
{
	uint64_t *n = arg, s = race_page_of(info->base);
	(*n)++;
	for (unsigned c = 0; c < NCPUS; c++)
		for (unsigned k = 0; k < cpus[c].nown; k++)
			if (cpus[c].own[k].va == info->base) {
				const struct race_item *it = &cpus[c].own[k];
				if (info->npages != it->n || info->tag != it->tag || info->mapped != it->mn || shadow[s] != it->id)
					race_bad(0, "a walked reservation differs from the shadow", info->base, info->npages);
				return;
			}
	race_bad(0, "a walked reservation nobody holds", info->base, info->npages);
}

static uint8_t walked_free[REGION_PAGES];

static void walk_free(vaddr_t va, uint64_t n, void *arg)
{
	uint64_t *runs = arg, s = race_page_of(va);
	(*runs)++;
	if ((s && !shadow[s - 1]) || s + n > REGION_PAGES || (s + n < REGION_PAGES && !shadow[s + n]))
		race_bad(0, "a free run not maximal or past the region", va, n);
	for (uint64_t k = s; k < s + n && k < REGION_PAGES; k++)
		walked_free[k]++;
}

/* Free blocks per order of the shadow's free pages, counted as buddy_census does. */
static void shadow_census(uint64_t out[BUDDY_ORDERS])
{
	memset(out, 0, BUDDY_ORDERS * sizeof(out[0]));
	unsigned max_order = 63 - (unsigned)__builtin_clzll(REGION_PAGES);
	for (uint64_t i = 0; i < REGION_PAGES;) {
		if (shadow[i]) {
			i++;
			continue;
		}
		uint64_t e = i;
		while (e < REGION_PAGES && !shadow[e])
			e++;
		for (uint64_t a = i; a < e;) {
			unsigned k = MIN(63u - (unsigned)__builtin_clzll(e - a), max_order);
			if (a)
				k = MIN(k, (unsigned)__builtin_ctzll(a));
			out[k]++;
			a += 1ULL << k;
		}
		i = e;
	}
}

/* The region against the shadow, every CPU stopped. */
static void check_against_shadow(const char *when)
{
	uint64_t live = 0, pages = 0, mapped = 0, free = 0, nwalked = 0, runs = 0;
	for (unsigned c = 0; c < NCPUS; c++)
		for (unsigned k = 0; k < cpus[c].nown; k++)
			live++, pages += cpus[c].own[k].n, mapped += cpus[c].own[k].mn;
	for (unsigned i = 0; i < REGION_PAGES; i++)
		free += !shadow[i];
	struct syspte_stats s;
	syspte_get_stats(region, &s);
	ok(syspte_check(region) == 0, "%s: syspte_check passes", when);
	ok(s.live == live && s.pages_reserved == pages && s.pages_mapped == mapped && s.free_pages == free,
	   "%s: statistics exact (live %llu/%llu, reserved %llu/%llu, mapped %llu/%llu, free %llu/%llu, %llu cached)",
	   when, (unsigned long long)s.live, (unsigned long long)live, (unsigned long long)s.pages_reserved,
	   (unsigned long long)pages, (unsigned long long)s.pages_mapped, (unsigned long long)mapped,
	   (unsigned long long)s.free_pages, (unsigned long long)free, (unsigned long long)s.cached_pages);
	uint64_t f0 = race_failures;
	syspte_for_each(region, walk_resv, &nwalked);
	ok(nwalked == live && race_failures == f0, "%s: the walk of reservations is the shadow's", when);
	memset(walked_free, 0, sizeof(walked_free));
	syspte_for_each_free(region, walk_free, &runs);
	bool same = race_failures == f0;
	for (unsigned i = 0; i < REGION_PAGES; i++)
		same &= walked_free[i] == !shadow[i];
	ok(same, "%s: the free runs (%llu, cached pages among them) are exactly the shadow's free pages", when,
	   (unsigned long long)runs);
	uint64_t want[BUDDY_ORDERS], got[BUDDY_ORDERS];
	shadow_census(want);
	syspte_census(region, got);
	ok(memcmp(want, got, sizeof(got)) == 0, "%s: the census is the shadow's", when);
}

/* One run: a fresh machine (verifier mode or not), NCPUS threads of ops each, the checks. */
static void run_concurrent(bool verifier, uint64_t ops)
{
	const char *mode = verifier ? "verifier mode" : "normal mode";
	mm_verifier_set(verifier);
	if (host_machine_create(256ULL << 20, REGION_PAGES * PAGE_SIZE)) {
		ok(0, "%s: machine created", mode);
		return;
	}
	region = reserved_region();
	guard = syspte_guard_pages(region);
	memset(shadow, 0, sizeof(shadow));
	race_failures = 0;
	bugcheck_set_hook(race_bugcheck_is_failure);
	for (unsigned c = 0; c < NCPUS; c++) {
		cpus[c] = (struct cpu_state){ .cpu = c, .rng = 0x9E3779B97F4A7C15ULL * (c + 1) + verifier, .ops = ops };
		race_inbox_init(&cpus[c].inbox, INBOX);
	}
	run_cpus(NCPUS, cpu_main, cpus);
	ok(race_failures == 0, "%s: %u CPUs, %llu calls each: no overlap, every lookup, PTE, check and identity right "
	   "while they ran", mode, NCPUS, (unsigned long long)ops);
	/* what is still in the inboxes goes back to the CPUs that were handed it */
	for (unsigned c = 0; c < NCPUS; c++) {
		unsigned k = 0;
		for (; k < cpus[c].inbox.n && cpus[c].nown < MAXL; k++)
			cpus[c].own[cpus[c].nown++] = cpus[c].inbox.item[k];
		for (fake_cpu_switch(c); k < cpus[c].inbox.n; k++)
			free_item(&cpus[c], &cpus[c].inbox.item[k]);
		cpus[c].inbox.n = 0;
	}
	fake_cpu_switch(0);
	syspte_dump(region);
	check_against_shadow(mode);
	struct syspte_stats s;
	syspte_get_stats(region, &s);
	printf("# %s: %llu calls without the region's lock, %llu with it, %llu drains\n", mode,
	       (unsigned long long)s.cache_fast, (unsigned long long)s.cache_slow, (unsigned long long)s.cache_drains);
	ok(s.cache_fast > 0 && s.cache_slow > 0, "%s: the caches served calls, and the region the rest", mode);
	/* every CPU frees another CPU's reservations */
	for (unsigned c = 0; c < NCPUS; c++) {
		fake_cpu_switch((c + 1) % NCPUS);
		while (cpus[c].nown)
			free_item(&cpus[fake_cpu], &cpus[c].own[--cpus[c].nown]);
	}
	fake_cpu_switch(0);
	check_against_shadow(verifier ? "verifier mode, all freed" : "normal mode, all freed");
	ok(race_failures == 0, "%s: the teardown's calls all succeeded", mode);
	bugcheck_set_hook(NULL);
	for (unsigned c = 0; c < NCPUS; c++)
		pthread_mutex_destroy(&cpus[c].inbox.lock);
	mm_verifier_set(false);
}

/* ---------------------------------------------------------------- steady state */

#define STEADY_LIVE 8u            /* reservations each CPU holds: 1..16 pages each, its cache's share fits them */

struct steady {
	uint64_t ops, failed;
};

/* CPU cpu: STEADY_LIVE reservations of 1..16 pages (one in eight DIVISIBLE), each op frees one and
 * reserves another, all freed at the end. */
static void steady_cpu(unsigned cpu, void *arg)
{
	struct steady *st = arg;
	vaddr_t v[STEADY_LIVE] = { 0 };
	uint32_t tag = TAG_OF(cpu);
	uint64_t rng = 0x2545F4914F6CDD1DULL * (cpu + 1);
	for (uint64_t k = 0; k < st->ops; k++) {
		unsigned slot = (unsigned)(k % STEADY_LIVE);
		test_rng_next(&rng);
		if (v[slot] && syspte_release(region, v[slot], tag) != SYSPTE_OK)
			race_bad(cpu, "steady state: a free refused", v[slot], 0);
		uint64_t n = 1 + rng % 16;
		uint32_t flags = (rng >> 8) % 8 ? 0 : SYSPTE_FLAG_DIVISIBLE;
		v[slot] = syspte_reserve(region, n, tag, flags);
		if (!v[slot])
			__atomic_fetch_add(&st->failed, 1, __ATOMIC_RELAXED);
		else if (flags && (v[slot] / PAGE_SIZE) % n)
			race_bad(cpu, "steady state: a DIVISIBLE reservation not divisible", v[slot], n);
	}
	for (unsigned k = 0; k < STEADY_LIVE; k++)
		if (v[k] && syspte_release(region, v[k], tag) != SYSPTE_OK)
			race_bad(cpu, "steady state: a free refused", v[k], 0);
}

/*
 * The caches' purpose: when each CPU's small reservations fit its cache's share of chunks, nearly
 * every reserve and free takes no region lock, and nothing is refused or drained.
 */
static void test_steady_state(uint64_t ops)
{
	host_machine_create(64ULL << 20, REGION_PAGES * PAGE_SIZE);
	region = reserved_region();
	race_failures = 0;
	bugcheck_set_hook(race_bugcheck_is_failure);
	struct steady st = { .ops = ops };
	run_cpus(NCPUS, steady_cpu, &st);
	struct syspte_stats s;
	syspte_get_stats(region, &s);
	uint64_t calls = s.cache_fast + s.cache_slow;
	printf("# steady state: %llu calls without the region's lock, %llu with it, %llu drains\n",
	       (unsigned long long)s.cache_fast, (unsigned long long)s.cache_slow, (unsigned long long)s.cache_drains);
	ok(race_failures == 0 && st.failed == 0 && s.cache_drains == 0, "steady state: %u CPUs, %llu reserve+free each, "
	   "none refused or drained", NCPUS, (unsigned long long)ops);
	ok(calls >= 2 * NCPUS * ops && s.cache_fast * 100 >= calls * 95,
	   "steady state: at least 95%% of the reserves and frees took no region lock (%llu of %llu)",
	   (unsigned long long)s.cache_fast, (unsigned long long)calls);
	ok(syspte_check(region) == 0 && s.live == 0 && s.free_pages == REGION_PAGES, "steady state: all freed, check passes");
	bugcheck_set_hook(NULL);
	fake_cpu_switch(0);
}

/* ---------------------------------------------------------------- many long-lived small reservations */

#define LONG_PAGES 262144u        /* 1 GiB: 4096 chunks, 256 per cache */
#define LONG_LIVE 1500u           /* small reservations held at once: about 110 chunks' worth */
#define BIG_PAGES (1u << 22)      /* 16 GiB: 65536 chunks, 4096 per cache */
#define BIG_LIVE 36000u           /* the benchmark's small reservations at that size: far past 256 chunks */
#define LONG_TAG 0x676e6f4cu      /* 'Long' */

/*
 * One CPU holds far more small reservations than its active chunks hold, freed in random order
 * (the standard workload's skewed variants): the cache keeps its partly used chunks and swaps them
 * in, so after the warm-up at least 95 % of the reserves and frees take no region lock, nothing is
 * refused or drained, and syspte_check (each chunk found through the directory, classes, counts) passes
 * along the way. Then everything is freed and one reservation of the whole region must drain
 * every chunk back (0 only when no run exists). On a region of npages with nlive reservations
 * held; below LONG_PAGES the cache reaches its share (a sixteenth of the chunks) and the allocator
 * places the rest: the 95 % is not asked there, but every other property is. At BIG_PAGES the
 * cache grows to thousands of chunks (its share follows the region).
 */
static void test_long_lived_small(uint64_t ops, uint64_t npages, unsigned nlive)
{
	host_machine_create(256ULL << 20, npages * PAGE_SIZE);
	region = reserved_region();
	fake_cpu_switch(0);
	static vaddr_t v[BIG_LIVE];
	uint64_t rng = 0x9E3779B97F4A7C15ULL, refused = 0, checks_failed = 0;
	struct syspte_stats s0, s;
	for (unsigned k = 0; k < nlive; k++) {
		test_rng_next(&rng);
		v[k] = syspte_reserve(region, 1 + (rng >> 4) % (1u << (rng % 5)), LONG_TAG, (rng >> 9) % 8 ? 0 : SYSPTE_FLAG_DIVISIBLE);
		refused += !v[k];
	}
	syspte_get_stats(region, &s0);
	for (uint64_t k = 0; k < ops; k++) {
		test_rng_next(&rng);
		unsigned i = (unsigned)((rng >> 20) % nlive);
		if (v[i] && syspte_release(region, v[i], LONG_TAG) != SYSPTE_OK)
			checks_failed++;
		uint64_t n = 1 + (rng >> 4) % (1u << (rng % 5));   /* 1..16 pages, small ones more often */
		uint32_t flags = (rng >> 9) % 8 ? 0 : SYSPTE_FLAG_DIVISIBLE;
		v[i] = syspte_reserve(region, n, LONG_TAG, flags);
		refused += !v[i];
		if (v[i] && flags && (v[i] / PAGE_SIZE) % n)
			checks_failed++;
		if (k % (ops / 8 + 1) == 0)
			checks_failed += syspte_check(region) != 0;
	}
	syspte_get_stats(region, &s);
	uint64_t fast = s.cache_fast - s0.cache_fast, calls = fast + s.cache_slow - s0.cache_slow;
	printf("# long-lived, %llu pages: %llu calls without the region's lock, %llu with it, %llu cached free pages, %llu drains\n",
	       (unsigned long long)npages, (unsigned long long)fast, (unsigned long long)(calls - fast),
	       (unsigned long long)s.cached_pages, (unsigned long long)s.cache_drains);
	ok(refused == 0 && checks_failed == 0 && s.cache_drains == 0 && syspte_check(region) == 0,
	   "long-lived, %llu pages: %u small reservations churned %llu times on one CPU, none refused or drained, "
	   "checks pass", (unsigned long long)npages, nlive, (unsigned long long)ops);
	if (npages >= LONG_PAGES)
		ok(calls >= 2 * ops && fast * 100 >= calls * 95,
		   "long-lived: at least 95%% of the reserves and frees took no region lock (%llu of %llu)",
		   (unsigned long long)fast, (unsigned long long)calls);
	else
		ok(calls >= 2 * ops && fast > 0 && s.cached_pages <= npages / 16,
		   "long-lived, %llu pages: a cache at its share (a sixteenth) still serves some calls (%llu of %llu)",
		   (unsigned long long)npages, (unsigned long long)fast, (unsigned long long)calls);
	if (npages >= BIG_PAGES)
		ok(region->cache.cpu[0]->nchunks > 256, "long-lived, %llu pages: the cache grew to %u chunks",
		   (unsigned long long)npages, region->cache.cpu[0]->nchunks);
	for (unsigned k = 0; k < nlive; k++)
		if (v[k])
			syspte_release(region, v[k], LONG_TAG);
	syspte_get_stats(region, &s);
	uint64_t guard = region->guard, held = s.cached_pages;
	vaddr_t all = syspte_reserve(region, npages - guard, LONG_TAG, 0);
	struct syspte_stats s2;
	syspte_get_stats(region, &s2);
	ok(held > 0 && all && s2.cached_pages == 0 && s2.cache_drains == 1 && syspte_check(region) == 0,
	   "long-lived, %llu pages: the whole region reserved after the frees drains every cached chunk (%llu "
	   "pages held)", (unsigned long long)npages, (unsigned long long)held);
	ok(all && syspte_release(region, all, LONG_TAG) == SYSPTE_OK && syspte_check(region) == 0,
	   "long-lived, %llu pages: and freed, the region is whole", (unsigned long long)npages);
}

/* ---------------------------------------------------------------- drains */

#define SMALL_PAGES 512u          /* a 2 MiB region: 8 chunks, one per cache */
#define FILL_TAG 0x6c6c6946u      /* 'Fill' */
#define TAG1 0x31757043u          /* 'Cpu1' */

static vaddr_t fills[SMALL_PAGES];
static unsigned nfills;

static void longest_extent(uint64_t start, uint64_t count, void *arg)
{
	(void)start;
	uint64_t *m = arg;
	*m = MAX(*m, count);
}

static uint64_t drains(void)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	return s.cache_drains;
}

/* As CPU 0, reserves the allocator's every free extent (not the caches'), longest first, each by its
 * exact length, so only the caches keep free pages; none of it may drain a cache. */
static bool fill_allocator(void)
{
	struct syspte_region *r = reserved_region();
	uint64_t d = drains();
	nfills = 0;
	fake_cpu_switch(0);
	for (;;) {
		uint64_t longest = 0, f = spin_lock(&r->lock);
		buddy_for_each_free(&r->buddy, longest_extent, &longest);
		spin_unlock(&r->lock, f);
		if (!longest)
			break;
		vaddr_t va = syspte_reserve(r, longest, FILL_TAG, 0);
		if (!va)
			return false;
		fills[nfills++] = va;
	}
	return drains() == d;
}

static void free_fills(void)
{
	for (unsigned k = 0; k < nfills; k++)
		syspte_release(reserved_region(), fills[k], FILL_TAG);
	nfills = 0;
}

static struct syspte_stats stats(void)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	return s;
}

/* The only free pages are CPU 1's whole cached chunk: CPU 0's 64 pages come from it. */
static void test_drain_whole_chunk(void)
{
	host_machine_create(64ULL << 20, SMALL_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t v = syspte_reserve(r, 1, TAG1, 0);
	ok(v && syspte_release(r, v, TAG1) == SYSPTE_OK, "CPU 1 reserved a page from its new cache and freed it there");
	vaddr_t chunk = ALIGN_DOWN(v, SYSPTE_CHUNK_PAGES * PAGE_SIZE);
	struct syspte_stats s = stats();
	ok(s.cached_pages == 64 && s.free_pages == SMALL_PAGES, "its chunk: 64 cached pages, counted free");
	ok(fill_allocator(), "CPU 0 filled every page the allocator had, without draining");
	s = stats();
	ok(s.free_pages == 64 && s.cached_pages == 64, "only CPU 1's cached chunk is free (%llu free)",
	   (unsigned long long)s.free_pages);
	uint64_t d = drains();
	vaddr_t w = syspte_reserve(r, 64, FILL_TAG, 0);
	ok(w == chunk && drains() == d + 1, "CPU 0's 64 pages: CPU 1's chunk, after one drain");
	ok(syspte_check(r) == 0 && stats().free_pages == 0 && stats().cached_pages == 0, "region full, caches empty, check passes");
	ok(syspte_reserve(r, 1, FILL_TAG, 0) == 0, "one page more: refused (nothing is free anywhere)");
	syspte_release(r, w, FILL_TAG);
	free_fills();
	ok(syspte_check(r) == 0 && stats().free_pages == SMALL_PAGES, "all freed");
}

/*
 * CPU 1's chunk holds two live reservations between two free runs; the allocator's free pages are
 * only the reservation next to the chunk, freed: the one run long enough spans both, so CPU 0's
 * request needs the drain, and CPU 1's reservations survive it (in the region's own index).
 */
static void test_drain_run_across_chunk(void)
{
	host_machine_create(64ULL << 20, SMALL_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t v[4];
	for (int k = 0; k < 4; k++)
		v[k] = syspte_reserve(r, 16, TAG1, 0);
	vaddr_t chunk = ALIGN_DOWN(v[0], SYSPTE_CHUNK_PAGES * PAGE_SIZE);
	bool packed = v[0] && v[0] == chunk && v[1] == chunk + 16 * PAGE_SIZE && v[2] == chunk + 32 * PAGE_SIZE &&
		      v[3] == chunk + 48 * PAGE_SIZE;
	ok(packed, "CPU 1 filled one chunk with four 16-page reservations");
	fake_cpu_switch(2);
	ok(syspte_release(r, v[0], TAG1) == SYSPTE_OK && syspte_release(r, v[3], TAG1) == SYSPTE_OK,
	   "CPU 2 freed the first and the last into CPU 1's chunk");
	ok(fill_allocator(), "CPU 0 filled every page the allocator had, without draining");
	/* the neighbour of the chunk: before it, or after it when the chunk is the region's first */
	bool before = chunk > SYSPTE_BASE;
	vaddr_t edge = before ? chunk : chunk + SYSPTE_CHUNK_PAGES * PAGE_SIZE, nb = 0;
	struct syspte_info info;
	for (unsigned k = 0; k < nfills && !nb; k++)
		if (syspte_lookup(r, fills[k], &info) && (before ? info.base + info.npages * PAGE_SIZE == edge : info.base == edge))
			nb = fills[k];
	ok(nb != 0, "a filled reservation borders the chunk");
	if (!nb)
		return;
	syspte_release(r, nb, FILL_TAG);
	for (unsigned k = 0; k < nfills; k++)
		if (fills[k] == nb)
			fills[k] = fills[--nfills];
	uint64_t want = info.npages + 16, d = drains();
	vaddr_t at = before ? info.base : chunk + 48 * PAGE_SIZE;
	vaddr_t w = syspte_reserve(r, want, FILL_TAG, 0);
	ok(w == at && drains() == d + 1, "CPU 0's %llu pages span the allocator's run and the chunk's free pages, after a drain",
	   (unsigned long long)want);
	ok(syspte_lookup(r, v[1] + PAGE_SIZE, &info) && info.base == v[1] && info.npages == 16 && info.tag == TAG1 &&
	   syspte_lookup(r, v[2], &info) && info.base == v[2], "CPU 1's live reservations found after the drain");
	ok(syspte_check(r) == 0, "check passes");
	fake_cpu_switch(3);
	ok(syspte_release(r, v[1], TAG1) == SYSPTE_OK && syspte_release(r, v[2], TAG1) == SYSPTE_OK,
	   "CPU 3 frees them through the region");
	fake_cpu_switch(0);
	syspte_release(r, w, FILL_TAG);
	free_fills();
	ok(syspte_check(r) == 0 && stats().free_pages == SMALL_PAGES && stats().live == 0, "all freed");
}

/* The only divisible run of 32 pages lies in CPU 1's cached chunk. */
static void test_drain_divisible(void)
{
	host_machine_create(64ULL << 20, SMALL_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t v = syspte_reserve(r, 3, TAG1, 0);
	syspte_release(r, v, TAG1);
	vaddr_t chunk = ALIGN_DOWN(v, SYSPTE_CHUNK_PAGES * PAGE_SIZE);
	ok(fill_allocator(), "CPU 0 filled the allocator");
	uint64_t d = drains();
	vaddr_t w = syspte_reserve(r, 32, FILL_TAG, SYSPTE_FLAG_DIVISIBLE);
	ok(w == chunk && w % (32 * PAGE_SIZE) == 0 && drains() == d + 1, "a DIVISIBLE 32-page request: CPU 1's chunk, after a drain");
	syspte_release(r, w, FILL_TAG);
	free_fills();
	ok(syspte_check(r) == 0, "check passes");
}

/* True when each of CPU 1's reservations mine[0, n) is found, with its tag, from its address. */
static bool all_found(const vaddr_t *mine, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct syspte_info info;
		if (!syspte_lookup(reserved_region(), mine[k], &info) || info.base != mine[k] || info.tag != TAG1)
			return false;
	}
	return true;
}

/*
 * Memory exhausted: the only free pages lie in CPU 1's chunks, and a drain would move its 252 live
 * reservations into the region's index, which cannot grow to hold them. CPU 0's request is refused
 * with nothing drained, moved or lost; with memory back, it is placed through the drain.
 */
static void test_drain_index_short(void)
{
	enum { PAGES = 4096, MINE = 4 * 64 - 4 };   /* 64 chunks: 4 a cache; CPU 1's full but 4 pages */
	host_machine_create(64ULL << 20, PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	static vaddr_t mine[MINE];
	bool all = true;
	fake_cpu_switch(1);
	for (unsigned k = 0; k < MINE; k++)
		all &= (mine[k] = syspte_reserve(r, 1, TAG1, 0)) != 0;
	ok(all && stats().cached_pages == 4 && r->cache.cpu[1]->live == MINE,
	   "CPU 1's chunks hold %u one-page reservations and 4 free pages", MINE);
	fake_cpu_switch(0);
	ok(fill_allocator(), "CPU 0 reserved every page the allocator had");
	uint64_t count = r->index.count, bits = r->index.bits;
	ok(count + MINE + 1 > syspte_index_cap((unsigned)bits), "the region's index (%llu entries, %llu slots) must grow to take CPU 1's "
	   "reservations", (unsigned long long)count, 1ULL << bits);
	struct phys_stats ps;
	phys_get_stats(&ps);
	phys_set_budget(ps.allocated_pages);   /* no page more: the index cannot grow */
	uint64_t d = drains();
	ok(syspte_reserve(r, 2, FILL_TAG, 0) == 0 && drains() == d, "CPU 0's 2 pages: refused, nothing drained");
	ok(r->index.count == count && r->index.bits == bits && r->cache.cpu[1]->live == MINE && stats().cached_pages == 4 &&
	   all_found(mine, MINE), "nothing moved: CPU 1's reservations in its chunks, each found");
	ok(syspte_check(r) == 0, "check passes");
	phys_set_budget(UINT64_MAX);
	vaddr_t w = syspte_reserve(r, 2, FILL_TAG, 0);
	ok(w && drains() == d + 1 && r->index.count == count + MINE + 1 && r->index.bits > bits && stats().cached_pages == 0,
	   "with memory back: placed after a drain, the index grown to hold CPU 1's reservations");
	ok(all_found(mine, MINE) && syspte_check(r) == 0, "each of CPU 1's reservations found in the region's index; check passes");
	syspte_release(r, w, FILL_TAG);
	fake_cpu_switch(1);   /* freed by their CPU, from the region's index now */
	for (unsigned k = 0; k < MINE; k++)
		syspte_release(r, mine[k], TAG1);
	fake_cpu_switch(0);
	free_fills();
	ok(syspte_check(r) == 0 && stats().free_pages == PAGES && stats().live == 0, "all freed, check passes");
}

/* test_drain_raced's hook: what CPU 1 does while the drain waits for its cache's lock. */
static struct {
	struct syspte_region *r;
	vaddr_t *mine;
	unsigned have, more;          /* CPU 1's reservations so far; how many it adds */
	bool ran;
} raced;

/* Plays a walker thawing the caches and CPU 1 letting go of its cache's lock, then placing
 * raced.more reservations on its fast path, before the drain gets the lock. Runs once. */
static void raced_spun(void)
{
	if (raced.ran)
		return;
	raced.ran = true;
	__atomic_store_n(&raced.r->cache.frozen, 0, __ATOMIC_RELEASE);
	spinlock_t *l = &raced.r->cache.cpu[1]->lock;
	lock_play_release(l);
	fake_cpu_switch(1);
	for (unsigned k = 0; k < raced.more; k++)
		if ((raced.mine[raced.have] = syspte_reserve(raced.r, 1, TAG1, 0)) != 0)
			raced.have++;
	fake_cpu_switch(0);
}

/* A poll hook: a CPU spinning where it should not counts it and frees the lock, so the test fails
 * rather than hangs. */
static spinlock_t *unstick_lock;
static unsigned unstick_spins;
static void unstick(void)
{
	unstick_spins++;
	lock_play_release(unstick_lock);
}

/*
 * Memory exhausted and CPU 1's cache the only free space: the drain's look finds the region's
 * index has room for CPU 1's reservations and the request, but while it waits for CPU 1's cache
 * lock CPU 1 places one more on its fast path, so there is no longer room: the drain leaves that
 * cache as it is (its lock released) and the request is refused with nothing moved. CPU 1 then
 * reserves and frees without waiting; with memory back, the request is placed after a drain.
 */
static void test_drain_raced(void)
{
	host_machine_create(64ULL << 20, SMALL_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	static vaddr_t mine[SYSPTE_CHUNK_PAGES];
	fake_cpu_switch(1);
	vaddr_t w0 = syspte_reserve(r, 1, TAG1, 0);
	ok(w0 && syspte_release(r, w0, TAG1) == SYSPTE_OK, "CPU 1's cache has a chunk");
	ok(fill_allocator(), "CPU 0 reserved every page the allocator had");
	/* CPU 1's reservations fill the index's room but one: the request's */
	uint64_t room = r->index.cap - r->index.count;
	bool fits = room >= 1 && room <= SYSPTE_CHUNK_PAGES - 4;
	ok(fits, "the index has room for %llu more entries, fewer than a chunk's pages", (unsigned long long)room);
	if (!fits)
		return;
	fake_cpu_switch(1);
	raced = (typeof(raced)){ .r = r, .mine = mine, .have = 0, .more = 1 };
	bool all = true;
	for (uint64_t k = 0; k + 1 < room; k++)
		all &= (mine[raced.have++] = syspte_reserve(r, 1, TAG1, 0)) != 0;
	struct syspte_cache *c1 = r->cache.cpu[1];
	ok(all && c1->live == room - 1 && r->index.count + c1->live + 1 == r->index.cap,
	   "CPU 1 holds %llu reservations in its chunk: the index has room for them and one more", (unsigned long long)room - 1);
	fake_cpu_switch(0);
	struct phys_stats ps;
	phys_get_stats(&ps);
	phys_set_budget(ps.allocated_pages);   /* the index cannot grow */
	uint64_t count = r->index.count, d = drains();
	/* the drain's look runs with the caches frozen (by a walker that thaws them in the hook, so the
	 * look takes no cache lock) and its loop then waits for CPU 1's */
	r->cache.frozen = 1;
	lock_play_hold(&c1->lock, 1);   /* CPU 1 holds its cache's lock */
	fake_cpu_poll_hook = raced_spun;
	vaddr_t w = syspte_reserve(r, 2, FILL_TAG, 0);
	fake_cpu_poll_hook = NULL;
	if (!raced.ran) {   /* a drain that did not wait fails the test, and does not hang it */
		r->cache.frozen = 0;
		lock_play_release(&c1->lock);
	}
	ok(raced.ran && raced.have == room && w == 0 && drains() == d && r->index.count == count && c1->live == room &&
	   all_found(mine, raced.have), "CPU 1 placed one more meanwhile: the request refused, nothing drained or moved");
	fake_cpu_switch(1);
	unstick_lock = &c1->lock;
	unstick_spins = 0;
	fake_cpu_poll_hook = unstick;
	vaddr_t x = syspte_reserve(r, 1, TAG1, 0);
	all = x && syspte_release(r, x, TAG1) == SYSPTE_OK;
	fake_cpu_poll_hook = NULL;
	fake_cpu_switch(0);
	ok(all && unstick_spins == 0 && syspte_check(r) == 0, "CPU 1's cache lock was released: it reserves and frees "
	   "without waiting; check passes");
	phys_set_budget(UINT64_MAX);
	w = syspte_reserve(r, 2, FILL_TAG, 0);
	ok(w && drains() == d + 1 && stats().cached_pages == 0 && all_found(mine, raced.have) && syspte_check(r) == 0,
	   "with memory back: placed after a drain, CPU 1's reservations found");
	syspte_release(r, w, FILL_TAG);
	fake_cpu_switch(1);
	for (unsigned k = 0; k < raced.have; k++)
		syspte_release(r, mine[k], TAG1);
	fake_cpu_switch(0);
	free_fills();
	ok(syspte_check(r) == 0 && stats().live == 0 && stats().free_pages == SMALL_PAGES, "all freed, check passes");
}

/* ---------------------------------------------------------------- the chunk directory */

#define DIR_PAGES (1u << 20)      /* 4 GiB: 16384 chunks, 1024 per cache, 32 directory pages */
#define DIR_TAG 0x20726944u       /* 'Dir ' */

static vaddr_t dir_v[4 * SYSPTE_DIR_LEAF + 8];

/* The directory pages present. */
static unsigned dir_pages(const struct syspte_region *r)
{
	unsigned n = 0;
	for (uint64_t l = 0; l < r->cache.ndir; l++)
		n += r->cache.dir[l].leaf != NULL;
	return n;
}

/*
 * A cache grows past 256 chunks and into a second directory page; when the page cannot be had
 * (memory exhausted), the chunk is not taken, nothing changes, and the request goes to the
 * allocator; with memory back the cache grows again. Freed and drained, the directory is empty.
 */
static void test_directory_grows_and_is_refused(void)
{
	host_machine_create(64ULL << 20, (uint64_t)DIR_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(0);   /* page tables and the allocator's metadata for the first 1024 chunks, made and kept */
	vaddr_t big = syspte_reserve(r, 2 * SYSPTE_DIR_LEAF * SYSPTE_CHUNK_PAGES, FILL_TAG, 0);
	ok(big == SYSPTE_BASE && syspte_release(r, big, FILL_TAG) == SYSPTE_OK, "CPU 0 reserved and freed the first 1024 chunks");
	/* the first chunks kept by the region (its index made): two, or three when the cache's other
	 * chunks would fill their pages of chunk states (it must hold a spare state) */
	const unsigned per_page = PAGE_SIZE / sizeof(struct syspte_chunk);
	const unsigned held = (SYSPTE_DIR_LEAF - 2) % per_page ? 2 : 3;
	vaddr_t kept = syspte_reserve(r, 2 * SYSPTE_CHUNK_PAGES, FILL_TAG, 0);
	vaddr_t kept3 = held == 3 ? syspte_reserve(r, SYSPTE_CHUNK_PAGES, FILL_TAG, 0) : 0;
	ok(held == 2 || kept3 == SYSPTE_BASE + 2 * SYSPTE_CHUNK_PAGES * PAGE_SIZE, "the region keeps chunks 0..%u", held - 1);
	fake_cpu_switch(1);
	unsigned n = 0;
	bool all = true;
	/* four 16-page reservations a chunk: the cache carves chunks in address order until the first
	 * directory page's last one is full */
	struct syspte_cache *c = NULL;
	uint64_t highest = 0;
	while (all && n < 4 * SYSPTE_DIR_LEAF && !(highest == SYSPTE_DIR_LEAF - 1 && n % 4 == 0)) {
		all &= (dir_v[n++] = syspte_reserve(r, 16, TAG1, 0)) != 0;
		c = r->cache.cpu[1];
		uint64_t f = spin_lock(&r->lock);
		highest = bitset_prev(&r->cache.owned, r->cache.nchunks - 1);
		spin_unlock(&r->lock, f);
	}
	ok(all && kept == SYSPTE_BASE && c && c->nchunks == SYSPTE_DIR_LEAF - held && c->spare && highest == SYSPTE_DIR_LEAF - 1 && dir_pages(r) == 1 &&
	   r->cache.max_chunks == DIR_PAGES / 64 / 16, "CPU 1's cache grew to %u chunks (past 256; its share %u), the "
	   "first directory page's", c ? c->nchunks : 0, r->cache.max_chunks);
	ok(syspte_check(r) == 0, "check passes");
	fake_cpu_switch(0);   /* a region's reservation in chunk 512, where the allocator's metadata is made */
	vaddr_t kept2 = syspte_reserve(r, 2 * SYSPTE_CACHE_MAX_PAGES, FILL_TAG, 0);
	ok(kept2 == SYSPTE_BASE + ((uint64_t)SYSPTE_DIR_LEAF << (SYSPTE_CHUNK_SHIFT + PAGE_SHIFT)),
	   "CPU 0 reserved 32 pages at chunk %u", SYSPTE_DIR_LEAF);
	fake_cpu_switch(1);
	struct phys_stats ps;
	phys_get_stats(&ps);
	phys_set_budget(ps.allocated_pages);   /* no page more */
	uint64_t refused = r->cache.refused, pages = r->cache.cache_pages, carved = r->cache.carved;
	vaddr_t w = dir_v[n++] = syspte_reserve(r, 16, TAG1, 0);
	struct syspte_stats s = stats();
	ok(w && r->cache.refused > refused && c->nchunks == SYSPTE_DIR_LEAF - held && r->cache.carved == carved &&
	   r->cache.cache_pages == pages && dir_pages(r) == 1 && s.cached_pages == 0,
	   "memory exhausted: no directory page for chunk %u, none taken; the allocator placed the request", SYSPTE_DIR_LEAF);
	uint64_t f = spin_lock(&r->lock);
	bool owned = syspte_cache_owns_locked(r, (w - SYSPTE_BASE) >> PAGE_SHIFT);
	spin_unlock(&r->lock, f);
	ok(!owned && syspte_check(r) == 0, "it lies in no cached chunk; check passes");
	phys_set_budget(UINT64_MAX);
	w = dir_v[n++] = syspte_reserve(r, 16, TAG1, 0);
	ok(w && c->nchunks == SYSPTE_DIR_LEAF - held + 1 && dir_pages(r) == 2 && r->cache.cache_pages == pages + 1 &&
	   syspte_check(r) == 0, "with memory back: a chunk past %u taken, with a second directory page", SYSPTE_DIR_LEAF - 1);
	fake_cpu_switch(2);   /* freed from another CPU into CPU 1's chunks */
	for (unsigned k = 0; k < n; k++)
		all &= syspte_release(r, dir_v[k], TAG1) == SYSPTE_OK;
	fake_cpu_switch(0);
	all &= syspte_release(r, kept, FILL_TAG) == SYSPTE_OK && syspte_release(r, kept2, FILL_TAG) == SYSPTE_OK &&
	       (!kept3 || syspte_release(r, kept3, FILL_TAG) == SYSPTE_OK);
	vaddr_t whole = syspte_reserve(r, DIR_PAGES - r->guard, FILL_TAG, 0);
	ok(all && whole && c->nchunks == 0 && dir_pages(r) == 0 && r->cache.cache_pages == 1 + c->state_pages &&
	   syspte_check(r) == 0, "all freed, the whole region reserved: every chunk drained, no directory page left");
	syspte_release(r, whole, FILL_TAG);
}

/* Physical pages the region keeps besides its set-up: page tables (at every level), the bitmaps'
 * chunks, the index's pages, the caches' pages. */
static uint64_t region_held_pages(struct syspte_region *r)
{
	struct syspte_stats s;
	syspte_get_stats(r, &s);
	return r->pt->table_pages + s.chunk_pages + s.record_bytes / PAGE_SIZE + s.cache_bytes / PAGE_SIZE;
}

/*
 * Generated: a first small reservation on a fresh region with k pages of memory left, for every k
 * from none to enough (the cache's page, a page of chunk states, the directory's, the allocator's
 * metadata and a page table, in whatever order they are wanted). Whatever step runs out, the
 * request is placed in the cache, by the allocator, or refused, with nothing half made: the check
 * passes and every page the caches hold is counted. The sweep meets the directory's refusal and
 * the cache's success both.
 */
static void test_growth_memory_sweep(void)
{
	bool clean = true, met_refusal = false, met_cache = false;
	for (unsigned k = 0; k < 16; k++) {
		host_machine_create(64ULL << 20, REGION_PAGES * PAGE_SIZE);
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(1);
		struct phys_stats ps;
		phys_get_stats(&ps);
		uint64_t held0 = region_held_pages(r);
		phys_set_budget(ps.allocated_pages + k);
		vaddr_t v = syspte_reserve(r, 1 + k % SYSPTE_CACHE_MAX_PAGES, TAG1, 0);
		const struct syspte_cache *c = r->cache.cpu[1];
		struct syspte_stats s = stats();
		struct phys_stats pa;
		phys_get_stats(&pa);
		/* every page taken is one the region counts as kept: none leaked by a step that failed */
		clean &= pa.allocated_pages - ps.allocated_pages == region_held_pages(r) - held0;
		met_refusal |= r->cache.refused != 0;
		met_cache |= c && c->live == 1;
		clean &= syspte_check(r) == 0 && dir_pages(r) == (c && c->nchunks ? 1u : 0u) && s.live == (v != 0);
		phys_set_budget(UINT64_MAX);
		vaddr_t w = syspte_reserve(r, 1, TAG1, 0);
		clean &= w && (!v || syspte_release(r, v, TAG1) == SYSPTE_OK) && syspte_release(r, w, TAG1) == SYSPTE_OK &&
			 syspte_check(r) == 0 && stats().live == 0;
	}
	fake_cpu_switch(0);
	ok(clean && met_refusal && met_cache, "a first reservation with 0..15 pages of memory left: placed or refused, "
	   "nothing half made (the directory's refusal and the cache's success both met)");
}

/*
 * Generated: adoption with k pages of memory left, for every k from none to enough. No whole chunk
 * is free (a 17-page reservation of the region's in each chunk), so CPU 1's 4 pages are
 * placed by the allocator and its cache adopts the chunk around them (its page, a page of chunk
 * states, the directory's page). Whatever step runs out, every page taken is one the
 * region counts as kept, the check passes, and the reservation is freed.
 */
static void test_adopt_memory_sweep(void)
{
	bool clean = true, met_adopt = false, met_refusal = false;
	static vaddr_t big[REGION_PAGES / SYSPTE_CHUNK_PAGES];
	for (unsigned k = 0; k < 12; k++) {
		host_machine_create(64ULL << 20, REGION_PAGES * PAGE_SIZE);
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(0);
		/* the region filled chunk by chunk; then each chunk's whole reservation becomes 17 pages
		 * and the rest (the chunk is the only free space then), the rest freed at the end */
		static vaddr_t whole[REGION_PAGES / SYSPTE_CHUNK_PAGES], rest[REGION_PAGES / SYSPTE_CHUNK_PAGES];
		for (unsigned j = 0; j < REGION_PAGES / SYSPTE_CHUNK_PAGES; j++)
			clean &= (whole[j] = syspte_reserve(r, SYSPTE_CHUNK_PAGES, FILL_TAG, SYSPTE_FLAG_DIVISIBLE)) != 0;
		for (unsigned j = 0; j < REGION_PAGES / SYSPTE_CHUNK_PAGES; j++) {
			clean &= syspte_release(r, whole[j], FILL_TAG) == SYSPTE_OK;
			big[j] = syspte_reserve(r, SYSPTE_CACHE_MAX_PAGES + 1, FILL_TAG, 0);
			rest[j] = syspte_reserve(r, SYSPTE_CHUNK_PAGES - SYSPTE_CACHE_MAX_PAGES - 1, FILL_TAG, 0);
			clean &= big[j] && rest[j] && (big[j] - whole[j]) / PAGE_SIZE < SYSPTE_CHUNK_PAGES;
		}
		for (unsigned j = 0; j < REGION_PAGES / SYSPTE_CHUNK_PAGES; j++)
			clean &= syspte_release(r, rest[j], FILL_TAG) == SYSPTE_OK;
		fake_cpu_switch(1);
		struct phys_stats ps, pa;
		phys_get_stats(&ps);
		uint64_t held0 = region_held_pages(r);
		phys_set_budget(ps.allocated_pages + k);
		vaddr_t v = syspte_reserve(r, 4, TAG1, 0);
		phys_get_stats(&pa);
		phys_set_budget(UINT64_MAX);
		const struct syspte_cache *c = r->cache.cpu[1];
		met_adopt |= r->cache.adopted != 0;
		met_refusal |= v && r->cache.adopted == 0;
		clean &= pa.allocated_pages - ps.allocated_pages == region_held_pages(r) - held0 && syspte_check(r) == 0 &&
			 dir_pages(r) == (c && c->nchunks ? 1u : 0u) && r->cache.carved == 0;
		clean &= !v || syspte_release(r, v, TAG1) == SYSPTE_OK;
		fake_cpu_switch(0);
		for (unsigned j = 0; j < REGION_PAGES / SYSPTE_CHUNK_PAGES; j++)
			clean &= !big[j] || syspte_release(r, big[j], FILL_TAG) == SYSPTE_OK;
		clean &= syspte_check(r) == 0 && stats().live == 0;
	}
	ok(clean && met_adopt && met_refusal, "adoption with 0..11 pages of memory left: every page taken counted, "
	   "nothing half made (an adoption and a refusal both met)");
}

/*
 * As CPU 0, reserves sizes[0..n) (none of a cache's size) to cover the free pages [first, end) of
 * region r exactly, in that order from first: true when each lands where the layout puts it. The
 * allocator places each request at the top of the highest free run, so they are asked last first.
 * out[k]: the k-th reservation.
 */
#define SMALL_ADOPT_PAGES 1024u   /* 16 chunks: one a cache */
static bool lay_out(struct syspte_region *r, uint64_t first, uint64_t end, const uint64_t *sizes, unsigned n, vaddr_t *out)
{
	bool laid = true;
	fake_cpu_switch(0);
	for (unsigned k = n; k-- > 0;) {
		laid &= sizes[k] > SYSPTE_CACHE_MAX_PAGES && end >= first + sizes[k];
		end -= sizes[k];
		out[k] = syspte_reserve(r, sizes[k], FILL_TAG, 0);
		laid &= out[k] == SYSPTE_BASE + end * PAGE_SIZE;
	}
	return laid && end == first;
}

/*
 * Generated: no chunk may be adopted across a reservation of the region's that crosses one of its
 * edges, nor by a cache at its share. (1) Every chunk but the first has a region's reservation
 * running into it from the one before and another running out of it into the next, with a hole of
 * 23 pages between them: a request of each size 1..16 from a CPU with no cache is placed by the
 * allocator in a hole and no chunk is adopted. (2) CPU 1 owns its one chunk (its share), full; every
 * other chunk holds a region's reservation of 17 pages at its start and 47 free pages: CPU 1's
 * requests of each size are placed by the allocator and its cache stays at one chunk, while CPU 3,
 * with no cache, adopts the chunk around its request (adoption is possible there).
 */
static void test_adopt_refused(void)
{
	static uint64_t sizes[2 * SMALL_ADOPT_PAGES / SYSPTE_CHUNK_PAGES + 2];
	static vaddr_t laid[2 * SMALL_ADOPT_PAGES / SYSPTE_CHUNK_PAGES + 2];
	const unsigned nch = SMALL_ADOPT_PAGES / SYSPTE_CHUNK_PAGES;
	host_machine_create(64ULL << 20, SMALL_ADOPT_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	/* (1) 40 pages; then per chunk k < 15: 41 pages from page 64 k + 40 (crossing into chunk k + 1)
	 * and a hole of 23 at 64 (k + 1) + 17; 24 pages to the end */
	unsigned n = 0;
	sizes[n++] = 40;
	for (unsigned k = 0; k + 1 < nch; k++) {
		sizes[n++] = 41;
		sizes[n++] = 23;
	}
	sizes[n++] = 24;
	bool ok1 = lay_out(r, 0, SMALL_ADOPT_PAGES, sizes, n, laid);
	for (unsigned k = 2; k < n; k += 2)   /* the holes */
		ok1 &= syspte_release(r, laid[k], FILL_TAG) == SYSPTE_OK;
	ok(ok1 && r->guard == 0 && syspte_check(r) == 0,
	   "every chunk but the first crossed into at both edges by the region's reservations, a hole between");
	fake_cpu_switch(2);
	bool refused = true;
	for (uint64_t sz = 1; sz <= SYSPTE_CACHE_MAX_PAGES && ok1; sz++) {
		vaddr_t v = syspte_reserve(r, sz, TAG1, 0);
		uint64_t p = v ? (v - SYSPTE_BASE) >> PAGE_SHIFT : 0;
		refused &= v && p % SYSPTE_CHUNK_PAGES >= 17 && p % SYSPTE_CHUNK_PAGES + sz <= 40 && r->cache.adopted == 0 &&
			   stats().cached_pages == 0 && syspte_check(r) == 0;
		refused &= syspte_release(r, v, TAG1) == SYSPTE_OK;
	}
	ok(ok1 && refused, "a request of 1..16 pages placed in a hole: no chunk adopted across a crossing reservation");
	for (unsigned k = 0; k < n; k++)
		if (k == 0 || k % 2 || k == n - 1)
			syspte_release(r, laid[k], FILL_TAG);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0 && stats().free_pages == SMALL_ADOPT_PAGES, "all freed");

	/* (2) CPU 1's one chunk full; then 17 and 47 pages a chunk, the 47 freed */
	host_machine_create(64ULL << 20, SMALL_ADOPT_PAGES * PAGE_SIZE);
	r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t mine[4];
	bool ok2 = true;
	for (int k = 0; k < 4; k++)
		ok2 &= (mine[k] = syspte_reserve(r, 16, TAG1, 0)) != 0 && mine[k] - mine[0] == (uint64_t)k * 16 * PAGE_SIZE;
	uint64_t own = race_page_of(mine[0]);
	struct syspte_cache *c = r->cache.cpu[1];
	ok2 &= c && c->nchunks == 1 && r->cache.max_chunks == 1 && own % SYSPTE_CHUNK_PAGES == 0 &&
	       (own == 0 || own == SMALL_ADOPT_PAGES - SYSPTE_CHUNK_PAGES);
	n = 0;
	for (unsigned k = 1; k < nch; k++) {
		sizes[n++] = SYSPTE_CACHE_MAX_PAGES + 1;
		sizes[n++] = SYSPTE_CHUNK_PAGES - SYSPTE_CACHE_MAX_PAGES - 1;
	}
	/* the other chunks: after CPU 1's, or before it */
	ok2 &= lay_out(r, own ? 0 : SYSPTE_CHUNK_PAGES, own ? own : SMALL_ADOPT_PAGES, sizes, n, laid);
	for (unsigned k = 1; k < n; k += 2)
		ok2 &= syspte_release(r, laid[k], FILL_TAG) == SYSPTE_OK;
	ok(ok2 && syspte_check(r) == 0, "CPU 1's cache at its share (one chunk, full); 17 pages at each other chunk's start");
	fake_cpu_switch(1);
	bool kept = true;
	for (uint64_t sz = 1; sz <= SYSPTE_CACHE_MAX_PAGES && ok2; sz++) {
		vaddr_t v = syspte_reserve(r, sz, TAG1, 0);
		kept &= v && c->nchunks == 1 && r->cache.adopted == 0 && r->cache.owner[race_page_of(v) >> SYSPTE_CHUNK_SHIFT] == 0 &&
			syspte_check(r) == 0;
		kept &= syspte_release(r, v, TAG1) == SYSPTE_OK;
	}
	ok(ok2 && kept, "CPU 1's requests of 1..16 pages: placed by the allocator, its cache adopts no chunk past its share");
	fake_cpu_switch(3);
	vaddr_t w = syspte_reserve(r, 4, TAG1, 0);
	ok(w && r->cache.adopted == 1 && r->cache.owner[race_page_of(w) >> SYSPTE_CHUNK_SHIFT] == 4 && syspte_check(r) == 0,
	   "CPU 3, with no cache, adopts the chunk around its 4 pages");
	syspte_release(r, w, TAG1);
	fake_cpu_switch(1);
	for (int k = 0; k < 4; k++)
		syspte_release(r, mine[k], TAG1);
	fake_cpu_switch(0);
	for (unsigned k = 0; k < n; k += 2)
		syspte_release(r, laid[k], FILL_TAG);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/*
 * A cache at its share (one chunk on a 1024-page region) with no room answers "full" without its
 * lock; a free that makes a run as long as the request it failed makes it try again at once, on
 * the fast path (fewer pages than SYSPTE_CACHE_ROOMY were freed). A DIVISIBLE request that finds
 * a run but no aligned start in it does not make the cache "full".
 */
static void test_full_cache_tries_again(void)
{
	host_machine_create(64ULL << 20, 1024 * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t v[4];
	bool all = true;
	for (int k = 0; k < 4; k++)
		all &= (v[k] = syspte_reserve(r, 16, TAG1, 0)) != 0;
	struct syspte_cache *c = r->cache.cpu[1];
	vaddr_t w = syspte_reserve(r, 16, TAG1, 0);
	ok(all && r->cache.max_chunks == 1 && c->nchunks == 1 && c->live == 4 && w && c->nofit == 16,
	   "a cache at its share, full: a fifth 16 pages placed by the allocator, the cache knows it has no room");
	struct syspte_stats s0 = stats();
	vaddr_t u = syspte_reserve(r, 16, TAG1, 0);
	struct syspte_stats s1 = stats();
	ok(u && s1.cache_fast == s0.cache_fast && syspte_release(r, u, TAG1) == SYSPTE_OK,
	   "a sixth: refused by the cache, placed by the allocator");
	s0 = stats();
	ok(syspte_release(r, v[1], TAG1) == SYSPTE_OK, "one of the cached four freed (16 pages)");
	vaddr_t x = syspte_reserve(r, 16, TAG1, 0);
	s1 = stats();
	ok(x == v[1] && s1.cache_fast == s0.cache_fast + 2 && s1.cache_slow == s0.cache_slow,
	   "16 pages again: in the freed run, without the region's lock");
	syspte_release(r, x, TAG1);
	syspte_release(r, w, TAG1);
	for (int k = 0; k < 4; k++)
		if (k != 1)
			syspte_release(r, v[k], TAG1);
	/* a run of 16 pages that is not on a multiple of 16: a DIVISIBLE 16 misses it, and the cache
	 * still places a plain 16 there at once */
	vaddr_t e[8];
	for (int k = 0; k < 8; k++)
		all &= (e[k] = syspte_reserve(r, 8, TAG1, 0)) != 0;
	uint64_t first = (e[0] - SYSPTE_BASE) >> PAGE_SHIFT;
	ok(all && c->live == 8 && first % SYSPTE_CHUNK_PAGES == 0 && e[7] == e[0] + 56 * PAGE_SIZE,
	   "its chunk filled with eight 8-page reservations");
	syspte_release(r, e[1], TAG1);
	syspte_release(r, e[2], TAG1);
	vaddr_t d = syspte_reserve(r, 16, TAG1, SYSPTE_FLAG_DIVISIBLE);
	ok(d && d % (16 * PAGE_SIZE) == 0 && (d < e[0] || d >= e[0] + 64 * PAGE_SIZE) && c->nofit == 0,
	   "pages 8..23 freed: a DIVISIBLE 16 placed by the allocator, the cache not taken for full");
	s0 = stats();
	x = syspte_reserve(r, 16, TAG1, 0);
	s1 = stats();
	ok(x == e[1] && s1.cache_fast == s0.cache_fast + 1, "a plain 16: at page 8, without the region's lock");
	syspte_release(r, x, TAG1);
	syspte_release(r, d, TAG1);
	for (int k = 0; k < 8; k++)
		if (k != 1 && k != 2)
			syspte_release(r, e[k], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/*
 * Generated: a DIVISIBLE request that misses in a parked chunk with a run of its span (no aligned
 * start there) does not make the cache "full". For each size n 2..16: CPU 1's cache at its share
 * (9 chunks on a 9216-page region) full of 1-page reservations, n of them freed in its parked chunk
 * at an offset that is no multiple of n (the only run of n pages of every chunk). A DIVISIBLE n is
 * placed by the allocator (outside the cache) and leaves the cache not full; a plain n then goes to
 * that run on the fast path.
 */
static void test_divisible_miss_in_parked_chunk(void)
{
	enum { PAGES = 9216, FILLED = 9 * SYSPTE_CHUNK_PAGES };
	static vaddr_t v[FILLED];
	bool all = true;
	for (uint64_t n = 2; n <= SYSPTE_CACHE_MAX_PAGES && all; n++) {
		host_machine_create(64ULL << 20, (uint64_t)PAGES * PAGE_SIZE);
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(1);
		for (unsigned k = 0; k < FILLED; k++)
			all &= (v[k] = syspte_reserve(r, 1, TAG1, 0)) != 0;
		struct syspte_cache *c = r->cache.cpu[1];
		all &= c && r->guard == 0 && r->cache.max_chunks == 9 && c->nchunks == 9 && c->free == 0 &&
		       c->parked_mask == 1;
		if (!all)
			break;
		vaddr_t chunk = SYSPTE_BASE + ((c->parked[0]->index << SYSPTE_CHUNK_SHIFT) << PAGE_SHIFT), run = chunk + PAGE_SIZE;
		while ((run / PAGE_SIZE) % n == 0)
			run += PAGE_SIZE;
		for (unsigned k = 0; k < FILLED; k++)
			if (v[k] >= run && v[k] < run + n * PAGE_SIZE) {
				all &= syspte_release(r, v[k], TAG1) == SYSPTE_OK;
				v[k] = 0;
			}
		all &= c->parked_mask == 1ULL << n && c->free == n;
		vaddr_t d = syspte_reserve(r, n, TAG1, SYSPTE_FLAG_DIVISIBLE);
		all &= d && (d / PAGE_SIZE) % n == 0 && r->cache.owner[race_page_of(d) >> SYSPTE_CHUNK_SHIFT] != 2 && c->nofit == 0;
		uint64_t fast = stats().cache_fast;
		vaddr_t w = syspte_reserve(r, n, TAG1, 0);
		all &= w == run && stats().cache_fast == fast + 1;
		if (!all)
			printf("# divisible %llu: at 0x%llx (nofit %u); then plain at 0x%llx, the run at 0x%llx\n",
			       (unsigned long long)n, (unsigned long long)d, c->nofit, (unsigned long long)w,
			       (unsigned long long)run);
		all &= syspte_release(r, d, TAG1) == SYSPTE_OK && syspte_release(r, w, TAG1) == SYSPTE_OK;
		for (unsigned k = 0; k < FILLED; k++)
			if (v[k])
				all &= syspte_release(r, v[k], TAG1) == SYSPTE_OK;
		fake_cpu_switch(0);
		all &= syspte_check(r) == 0 && stats().live == 0;
	}
	ok(all, "DIVISIBLE 2..16 pages missing a parked chunk's unaligned run: placed by the allocator, the cache "
	   "not taken for full; a plain request then takes the run on the fast path");
}

/*
 * Generated: a cache is made and given a chunk only while the allocator keeps a sixteenth of the
 * region free besides (syspte_may_carve), to the page. For two region sizes and the allocator's free
 * pages from 3 below that bound to 3 above (the rest one reservation of CPU 0's, not cached), CPU 1's
 * first page goes to a new cache's new chunk exactly when the bound is met, else to the allocator
 * with no cache made.
 */
static void test_carve_bound_exact(void)
{
	bool all = true;
	unsigned carved = 0;
	for (uint64_t npages = 4096; npages <= 8192 && all; npages *= 2)
		for (int delta = -3; delta <= 3 && all; delta++) {
			host_machine_create(64ULL << 20, npages * PAGE_SIZE);
			struct syspte_region *r = reserved_region();
			uint64_t bound = SYSPTE_CHUNK_PAGES + npages / 16, keep = (uint64_t)((int64_t)bound + delta);
			fake_cpu_switch(0);
			vaddr_t big = syspte_reserve(r, npages - keep, FILL_TAG, 0);
			all &= big && r->guard == 0 && stats().free_pages == keep && !r->cache.cpu[0];
			fake_cpu_switch(1);
			vaddr_t v = syspte_reserve(r, 1, TAG1, 0);
			bool cached = v && r->cache.owner[race_page_of(v) >> SYSPTE_CHUNK_SHIFT] == 2;
			bool want = delta >= 0;
			all &= v && cached == want && (r->cache.cpu[1] != NULL) == want && r->cache.carved == (uint64_t)want;
			carved += cached;
			if (!all)
				printf("# %llu pages, %lld free past the bound: at 0x%llx, cached %d\n", (unsigned long long)npages,
				       (long long)delta, (unsigned long long)v, cached);
			all &= syspte_release(r, v, TAG1) == SYSPTE_OK;
			fake_cpu_switch(0);
			all &= syspte_release(r, big, FILL_TAG) == SYSPTE_OK && syspte_check(r) == 0 && stats().live == 0;
		}
	ok(all && carved == 8, "a cache's chunk carved exactly while the allocator keeps 64 + a sixteenth of the region "
	   "free (%u of 14 cases)", carved);
}

/*
 * Empty active chunks beyond SYSPTE_CACHE_EMPTY_KEEP go back to the allocator (on the cache's
 * locked path) while parked chunks hold reservations: each parked chunk of the highest class takes
 * a freed active slot, so the cache keeps MIN(chunks, SYSPTE_CACHE_ACTIVE) active.
 */
static void test_empty_active_chunks_dissolved(void)
{
	host_machine_create(64ULL << 20, REGION_PAGES * 4 * PAGE_SIZE);   /* 256 chunks, 16 a cache */
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	static vaddr_t v[48];
	bool all = true;
	for (int k = 0; k < 48; k++)   /* 12 full chunks */
		all &= (v[k] = syspte_reserve(r, 16, TAG1, 0)) != 0;
	struct syspte_cache *c = r->cache.cpu[1];
	ok(all && c->nchunks == 12 && c->nempty == 0, "CPU 1's cache: 12 full chunks");
	unsigned freed = 0;
	for (int k = 0; k < 48; k++) {   /* every reservation of the active chunks */
		uint64_t idx = ((v[k] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
		bool active = false;
		for (unsigned a = 0; a < SYSPTE_CACHE_ACTIVE; a++)
			active |= c->active[a]->index == idx;
		if (active) {
			all &= syspte_release(r, v[k], TAG1) == SYSPTE_OK;
			v[k] = 0;
			freed++;
		}
	}
	ok(all && freed == 32 && c->nempty == 8 && c->parked_mask == 1, "its 8 active chunks emptied, 4 full ones parked");
	uint64_t start, f = spin_lock(&r->lock);
	bool placed = syspte_cache_reserve_locked(r, 1, TAG1, 0, &start);   /* its locked path: trims the empties */
	spin_unlock(&r->lock, f);
	ok(placed && c->nchunks == 7 && c->nempty == SYSPTE_CACHE_EMPTY_KEEP && c->parked_mask == 0 && c->active[6] &&
	   !c->active[7] && syspte_check(r) == 0,
	   "its locked path placed a page and dissolved 5 empty active chunks; the 4 parked took active slots");
	syspte_release(r, SYSPTE_BASE + (start << PAGE_SHIFT), TAG1);
	for (int k = 0; k < 48; k++)
		if (v[k])
			syspte_release(r, v[k], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/* Runs syspte_check after a corruption, which undo reverts; true when the check caught it and passes
 * again after. */
static bool caught(struct syspte_region *r, void (*undo)(void *), void *arg)
{
	bool bad = syspte_check(r) != 0;
	undo(arg);
	return bad && syspte_check(r) == 0;
}

/* A saved word and where it goes back. */
struct saved {
	void *at;
	uint64_t word;
	size_t size;
};

static struct saved save(void *at, size_t size)
{
	struct saved sv = { at, 0, size };
	memcpy(&sv.word, at, size);
	return sv;
}

static void restore(void *arg)
{
	struct saved *sv = arg;
	memcpy(sv->at, &sv->word, sv->size);
}

/* syspte_check catches each corruption of a cache's new structures: a parked chunk's class, its
 * list links, the mask of classes, an active slot, a directory entry or count, the chunk states'
 * count, the caches' page count. */
static void test_check_catches_cache_corruption(void)
{
	host_machine_create(64ULL << 20, (uint64_t)LONG_PAGES * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	static vaddr_t v[200];
	for (unsigned k = 0; k < 200; k++)
		v[k] = syspte_reserve(r, 1 + k % 16, TAG1, 0);
	for (unsigned k = 0; k < 200; k += 3)   /* holes: parked chunks of several classes */
		syspte_release(r, v[k], TAG1);
	struct syspte_cache *c = r->cache.cpu[1];
	unsigned classes = (unsigned)__builtin_popcountll(c->parked_mask);
	ok(syspte_check(r) == 0 && c->nchunks > SYSPTE_CACHE_ACTIVE && classes >= 2,
	   "CPU 1's cache: %u chunks, parked ones in %u classes", c->nchunks, classes);
	unsigned top = 63u - (unsigned)__builtin_clzll(c->parked_mask), low = (unsigned)__builtin_ctzll(c->parked_mask);
	struct syspte_chunk *p = c->parked[top];
	struct saved sv;
	sv = save(&p->cls, sizeof(p->cls));
	p->cls = low;
	ok(caught(r, restore, &sv), "a parked chunk's class changed: caught");
	sv = save(&p->free, sizeof(p->free));
	p->free &= ~(uint64_t)1 << __builtin_ctzll(p->free);
	bool stale = syspte_check(r) != 0;
	restore(&sv);
	ok(stale && syspte_check(r) == 0, "a parked chunk's free bits changed: caught");
	sv = save(&c->parked_mask, sizeof(c->parked_mask));
	c->parked_mask |= (uint64_t)1 << (low ? low - 1 : 62);
	ok(caught(r, restore, &sv), "a class bit set for an empty list: caught");
	c->parked_mask &= ~((uint64_t)1 << top);
	ok(caught(r, restore, &sv), "a class bit cleared for a list in use: caught");
	struct syspte_chunk *q = NULL;
	for (unsigned cls = 0; cls < SYSPTE_CACHE_CLASSES && !q; cls++)
		if (c->parked[cls] && c->parked[cls]->next)
			q = c->parked[cls]->next;
	ok(q != NULL, "a parked list with two chunks");
	if (q) {
		sv = save(&q->prev, sizeof(q->prev));
		q->prev = NULL;
		ok(caught(r, restore, &sv), "a parked chunk's back link broken: caught");
	}
	sv = save(&c->active[SYSPTE_CACHE_ACTIVE - 1], sizeof(c->active[0]));
	c->active[SYSPTE_CACHE_ACTIVE - 1] = NULL;
	ok(caught(r, restore, &sv), "an active slot emptied: caught");
	c->active[SYSPTE_CACHE_ACTIVE - 1] = c->active[0];
	ok(caught(r, restore, &sv), "an active chunk in two slots: caught");
	uint64_t idx = c->active[0]->index;
	struct syspte_dir *d = &r->cache.dir[idx >> SYSPTE_DIR_SHIFT];
	sv = save(&d->leaf[idx & (SYSPTE_DIR_LEAF - 1)], sizeof(d->leaf[0]));
	d->leaf[idx & (SYSPTE_DIR_LEAF - 1)] = c->active[1];
	ok(caught(r, restore, &sv), "a directory entry naming another chunk: caught");
	d->leaf[idx & (SYSPTE_DIR_LEAF - 1)] = NULL;
	ok(caught(r, restore, &sv), "a directory entry of an owned chunk cleared: caught");
	uint64_t far = (idx + SYSPTE_DIR_LEAF / 2) & (SYSPTE_DIR_LEAF - 1);
	if (!d->leaf[far]) {
		sv = save(&d->leaf[far], sizeof(d->leaf[0]));
		d->leaf[far] = c->active[0];
		ok(caught(r, restore, &sv), "a directory entry for a chunk no cache owns: caught");
	}
	sv = save(&d->used, sizeof(d->used));
	d->used++;
	ok(caught(r, restore, &sv), "a directory page's count off by one: caught");
	sv = save(&c->state_pages, sizeof(c->state_pages));
	c->state_pages++;
	ok(caught(r, restore, &sv), "a cache's chunk-state pages miscounted: caught");
	sv = save(&r->cache.cache_pages, sizeof(r->cache.cache_pages));
	r->cache.cache_pages++;
	ok(caught(r, restore, &sv), "the caches' pages miscounted: caught");
	/* a cached reservation's record, one field at a time: each alone is caught */
	struct syspte_chunk *a = NULL;
	for (unsigned s = 0; s < SYSPTE_CACHE_ACTIVE && !a; s++)
		if (c->active[s]->starts)
			a = c->active[s];
	ok(a != NULL, "an active chunk holds a reservation");
	if (a) {
		struct syspte_resv *rv = &a->rec[__builtin_ctzll(a->starts)];
		sv = save(&rv->word[0], sizeof(rv->word[0]));
		rv->start++;
		ok(caught(r, restore, &sv), "a cached record naming another start page: caught");
		sv = save(&rv->word[1], sizeof(rv->word[1]));
		rv->npages = 0;
		ok(caught(r, restore, &sv), "a cached record of no pages: caught");
		sv = save(&rv->word[2], sizeof(rv->word[2]));
		rv->guard = !rv->guard;
		ok(caught(r, restore, &sv), "a cached record with the other guard: caught");
	}
	/* a cache's header and each of its counts alone */
	sv = save(&c->cpu, sizeof(c->cpu));
	c->cpu = 2;
	ok(caught(r, restore, &sv), "a cache naming another CPU: caught");
	sv = save(&c->lock.rank, sizeof(c->lock.rank));
	c->lock.rank = LOCK_RANK_SYSPTE_CACHE + 1;
	ok(caught(r, restore, &sv), "a cache's lock of another rank: caught");
	uint64_t *counts[] = { &c->live, &c->pages, &c->free };
	static const char *const count_names[] = { "reservations", "pages", "free pages" };
	for (unsigned j = 0; j < 3; j++) {
		sv = save(counts[j], sizeof(*counts[j]));
		(*counts[j])++;
		ok(caught(r, restore, &sv), "a cache's count of %s off by one: caught", count_names[j]);
	}
	sv = save(&c->nempty, sizeof(c->nempty));
	c->nempty++;
	ok(caught(r, restore, &sv), "a cache's count of empty chunks off by one: caught");
	for (unsigned k = 0; k < 200; k++)
		if (k % 3)
			syspte_release(r, v[k], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/* What syspte_check printed last (check_names). */
static char check_text[512];

/* True when syspte_check(r) fails with what as the first violation it prints, a cache's
 * ("syspte_check: caches: WHAT (...)"); prints what it printed instead when not. */
static bool check_names(struct syspte_region *r, const char *what)
{
	static const char head[] = "syspte_check: caches: ";
	capture_begin();
	int st = syspte_check(r);
	capture_end(check_text, sizeof(check_text));
	size_t h = strlen(head), w = strlen(what);
	bool met = st != 0 && strncmp(check_text, head, h) == 0 && strncmp(check_text + h, what, w) == 0 &&
		   check_text[h + w] == ' ';
	if (!met)
		printf("# not caught as '%s': %s", what, check_text[0] ? check_text : "(nothing printed)\n");
	return met;
}

/* Counts of check_names cases: tried, named as themselves, clean once undone. */
struct named { unsigned tried, named, undone; };

/* One case: the check names what, and passes with nothing printed after undo(arg). */
static void name_case(struct syspte_region *r, const char *what, void (*undo)(void *), void *arg, struct named *n)
{
	n->tried++;
	n->named += check_names(r, what);
	undo(arg);
	capture_begin();
	int st = syspte_check(r);
	size_t printed = capture_end(check_text, sizeof(check_text));
	n->undone += st == 0 && printed == 0;
}

/* A cache's chunk and its cache's counts as they were before a corruption. */
struct chunk_saved {
	struct syspte_cache *c, cs;
	struct syspte_chunk *k, ks;
};

static void chunk_restore(void *arg)
{
	struct chunk_saved *sv = arg;
	*sv->k = sv->ks;
	*sv->c = sv->cs;
}

/* A directory entry and its page's count as they were. */
struct dir_saved {
	struct syspte_dir *d;
	uint64_t j, used;
};

static void dir_restore(void *arg)
{
	struct dir_saved *sv = arg;
	sv->d->leaf[sv->j] = NULL;
	sv->d->used = sv->used;
}

/*
 * Generated: syspte_check names each of these corruptions of a cache as its own violation (the
 * first line it prints), and passes once it is undone. In every active chunk of CPU 1's cache
 * (reservations of 1..16 pages): a reservation starting at each page inside another one's span,
 * with its record, the chunk's and the cache's counts raised to match, and each page of a
 * reservation past its first marked free, the free counts and the slot's run bound raised to
 * match ("cached reservations overlap each other or free pages"); a directory entry at each chunk
 * of the directory page past the region's last chunk, naming a state of that index, the page's
 * count raised ("a directory entry for a chunk no cache owns, or for another"); an owned chunk's
 * owner byte naming each CPU without a cache and values past the last CPU ("an owned chunk not in
 * its owner's cache", not the cache's own chunk test later).
 */
static void test_check_names_cache_corruption(void)
{
	host_machine_create(64ULL << 20, REGION_PAGES * PAGE_SIZE);   /* 64 chunks, 4 a cache */
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	static vaddr_t v[SYSPTE_CACHE_MAX_PAGES];
	bool laid = true;
	for (unsigned k = 0; k < SYSPTE_CACHE_MAX_PAGES; k++)
		laid &= (v[k] = syspte_reserve(r, k + 1, TAG1, 0)) != 0;
	struct syspte_cache *c = r->cache.cpu[1];
	laid &= c && c->nchunks >= 2 && c->live == SYSPTE_CACHE_MAX_PAGES && syspte_check(r) == 0;
	ok(laid, "CPU 1's cache: reservations of 1..16 pages in %u chunks", c ? c->nchunks : 0);
	struct named ov = { 0 }, fr = { 0 }, dn = { 0 }, on = { 0 };
	static struct chunk_saved sv;
	for (unsigned s = 0; laid && s < MIN(c->nchunks, SYSPTE_CACHE_ACTIVE); s++) {
		struct syspte_chunk *k = c->active[s];
		uint64_t base = k->index << SYSPTE_CHUNK_SHIFT;
		for (uint64_t b = k->starts; b; b &= b - 1) {
			unsigned o = (unsigned)__builtin_ctzll(b), span = (unsigned)syspte_span(&k->rec[o]);
			for (unsigned p = o + 1; p < o + span; p++) {
				sv = (struct chunk_saved){ c, *c, k, *k };
				if (p + 1 + r->guard <= SYSPTE_CHUNK_PAGES && !((k->starts >> p) & 1)) {
					k->starts |= (uint64_t)1 << p;
					k->rec[p] = syspte_resv_make(base + p, 1, TAG1, 0, r->guard != 0);
					k->live++;
					c->live++;
					c->pages++;
					name_case(r, "cached reservations overlap each other or free pages", chunk_restore, &sv, &ov);
				}
				k->free |= (uint64_t)1 << p;
				k->nfree++;
				c->free++;
				c->runs = (c->runs & ~((uint64_t)0xff << (8 * s))) | ((uint64_t)SYSPTE_CHUNK_PAGES << (8 * s));
				name_case(r, "cached reservations overlap each other or free pages", chunk_restore, &sv, &fr);
			}
		}
	}
	ok(laid && ov.tried > 50 && ov.named == ov.tried && ov.undone == ov.tried,
	   "%u cached reservations starting inside another: each caught as an overlap, undone clean", ov.tried);
	ok(laid && fr.tried > 50 && fr.named == fr.tried && fr.undone == fr.tried,
	   "%u pages inside a cached reservation marked free: each caught as an overlap, undone clean", fr.tried);
	/* the directory page holding the last chunk, its entries past it */
	uint64_t last = r->cache.nchunks - 1;
	struct syspte_dir *d = &r->cache.dir[last >> SYSPTE_DIR_SHIFT];
	static struct syspte_chunk fake;
	static struct dir_saved ds;
	for (uint64_t idx = r->cache.nchunks; laid && d->leaf && idx < (last | (SYSPTE_DIR_LEAF - 1)) + 1; idx += idx < r->cache.nchunks + 8 ? 1 : 37) {
		fake = (struct syspte_chunk){ .index = idx, .free = UINT64_MAX, .nfree = SYSPTE_CHUNK_PAGES };
		ds = (struct dir_saved){ d, idx & (SYSPTE_DIR_LEAF - 1), d->used };
		d->leaf[ds.j] = &fake;
		d->used++;
		name_case(r, "a directory entry for a chunk no cache owns, or for another", dir_restore, &ds, &dn);
	}
	ok(laid && d->leaf && r->cache.nchunks % SYSPTE_DIR_LEAF && dn.tried > 5 && dn.named == dn.tried &&
	   dn.undone == dn.tried, "a directory entry past the region's last chunk (%u of them, the first right after it), "
	   "naming a state of its index: each caught, undone clean", dn.tried);
	/* an owned chunk's owner byte: each CPU without a cache (with 255 CPUs, every other value of the
	 * byte names one: none is past the last) */
	uint64_t idx = c->active[0]->index;
	static struct saved os;
	for (unsigned o = 1; laid && o <= 255; o += o < ARCH_MAX_CPUS + 2 ? 1 : 64) {
		if (o <= ARCH_MAX_CPUS && r->cache.cpu[o - 1])
			continue;
		os = save(&r->cache.owner[idx], sizeof(r->cache.owner[idx]));
		r->cache.owner[idx] = (uint8_t)o;
		name_case(r, "an owned chunk not in its owner's cache", restore, &os, &on);
	}
	ok(laid && on.tried > ARCH_MAX_CPUS - 4 && on.named == on.tried && on.undone == on.tried,
	   "an owned chunk's owner byte naming each of the %u CPUs without a cache: each caught as itself, undone clean",
	   on.tried);
	for (unsigned k = 0; k < SYSPTE_CACHE_MAX_PAGES; k++)
		if (v[k])
			syspte_release(r, v[k], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/*
 * Generated: for each size s 1..16, twelve full chunks, each with a reservation of s pages at its
 * first page; the 8 active ones emptied, the 4 parked ones keeping that reservation alone (a free
 * run of 64 - s pages: the highest class short of empty). The locked path's trim then dissolves
 * empty chunks only: 5 of the active ones, the 4 parked ones taking their slots with their
 * reservations. A chunk whose class took it for empty would be dissolved with them.
 */
static void test_trim_dissolves_only_empty_chunks(void)
{
	bool all = true;
	for (uint64_t sz = 1; sz <= SYSPTE_CACHE_MAX_PAGES; sz++) {
		host_machine_create(64ULL << 20, REGION_PAGES * 4 * PAGE_SIZE);   /* 256 chunks, 16 a cache */
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(1);
		static vaddr_t v[12][5];
		const uint64_t sizes[5] = { sz, 16, 16, 16, 16 - sz };
		for (int k = 0; k < 12; k++)
			for (int j = 0; j < 5; j++)
				v[k][j] = sizes[j] ? syspte_reserve(r, sizes[j], TAG1, 0) : 0;
		struct syspte_cache *c = r->cache.cpu[1];
		bool laid = c && c->nchunks == 12 && c->nempty == 0 && c->free == 0;
		for (int k = 0; k < 12 && laid; k++) {
			uint64_t idx = ((v[k][0] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
			laid &= ((v[k][0] - SYSPTE_BASE) >> PAGE_SHIFT) % SYSPTE_CHUNK_PAGES == 0;
			bool active = false;
			for (unsigned a = 0; a < SYSPTE_CACHE_ACTIVE; a++)
				active |= c->active[a]->index == idx;
			for (int j = active ? 0 : 1; j < 5; j++)
				if (v[k][j])
					laid &= syspte_release(r, v[k][j], TAG1) == SYSPTE_OK;
		}
		laid &= c && c->nempty == 8 && c->live == 4;
		uint64_t start = 0, f = spin_lock(&r->lock);
		bool placed = laid && syspte_cache_reserve_locked(r, 1, TAG1, 0, &start);
		spin_unlock(&r->lock, f);
		all &= laid && placed && c->nchunks == 7 && c->live == 5 && c->nempty == SYSPTE_CACHE_EMPTY_KEEP &&
		       c->parked_mask == 0 && syspte_check(r) == 0;
		if (!all)
			printf("# trim, size %llu: laid %d placed %d chunks %u live %llu\n", (unsigned long long)sz, laid, placed,
			       c ? c->nchunks : 0, c ? (unsigned long long)c->live : 0);
		fake_cpu_switch(0);
		if (!all)
			break;
	}
	ok(all, "a trim of empty chunks, 4 parked ones keeping a reservation of 1..16 pages at their first page: "
	   "only empty ones dissolved");
}

/* The longest run of set bits of x (the test's own count). */
static unsigned longest_ones(uint64_t x)
{
	unsigned best = 0, n = 0;
	for (unsigned b = 0; b < 64; b++) {
		n = (x >> b) & 1 ? n + 1 : 0;
		best = n > best ? n : best;
	}
	return best;
}

/* ---------------------------------------------------------------- a chunk's bit helpers */

/* The run of set bits of x containing bit o, or 0 when o is clear (the test's own count). */
static unsigned run_around(uint64_t x, unsigned o)
{
	if (!((x >> o) & 1))
		return 0;
	unsigned lo = o, hi = o + 1;
	while (lo > 0 && ((x >> (lo - 1)) & 1))
		lo--;
	while (hi < 64 && ((x >> hi) & 1))
		hi++;
	return hi - lo;
}

/* Bit p set where bits p .. p + n - 1 of x are all set (the test's own count). */
static uint64_t runs_of(uint64_t x, unsigned n)
{
	uint64_t m = 0;
	for (unsigned p = 0; p + n <= 64; p++)
		if (n == 64 ? x == UINT64_MAX : ((x >> p) & ((1ULL << n) - 1)) == (1ULL << n) - 1)
			m |= 1ULL << p;
	return m;
}

/* A generated chunk word: sparse, dense, a few runs set on zeros or cleared from ones, or an edge. */
static uint64_t chunk_word(uint64_t *rng)
{
	static const uint64_t edges[] = { 0, UINT64_MAX, 1, 1ULL << 63, ~1ULL, ~(1ULL << 63), 0xffffffffULL,
					  0xffffffff00000000ULL, 0x5555555555555555ULL, 0x8000000000000001ULL };
	uint64_t a = test_rng_next(rng), b = test_rng_next(rng), x;
	switch (a % 5) {
	case 0: return a & b & test_rng_next(rng);
	case 1: return a | b;
	case 2:
	case 3:
		x = a % 5 == 2 ? 0 : UINT64_MAX;
		for (unsigned k = 0, n = 1 + (unsigned)(b % 4); k < n; k++) {
			uint64_t r = test_rng_next(rng);
			unsigned o = (unsigned)(r % 64), len = 1 + (unsigned)((r >> 8) % 40);
			uint64_t bits = (len >= 64 - o ? UINT64_MAX : ((1ULL << len) - 1)) << o;
			x = a % 5 == 2 ? x | bits : x & ~bits;
		}
		return x;
	default: return edges[b % (sizeof(edges) / sizeof(edges[0]))];
	}
}

/*
 * Generated: the fast paths' bit helpers (mm/syspte_cache.h) against plain loops over 20000 words
 * of every kind (sparse, dense, runs, edges): the longest run, the run around every set bit, the
 * starts of runs of every span a cache places, and the slots whose run bounds admit a span.
 */
static void test_chunk_bit_helpers(void)
{
	uint64_t rng = 0x243F6A8885A308D3ULL, bad_words = 0, words = 20000;
	for (uint64_t t = 0; t < words; t++) {
		uint64_t x = chunk_word(&rng);
		bool good = syspte_longest_run(x) == longest_ones(x);
		for (unsigned o = 0; o < 64; o++)
			if ((x >> o) & 1)
				good &= syspte_run_at(x, o) == run_around(x, o);
		for (unsigned span = 1; span <= SYSPTE_FIT_MAX_SPAN; span++)
			good &= syspte_chunk_fits(x, span) == runs_of(x, span);
		uint64_t runs = 0;
		for (unsigned s = 0; s < 8; s++)
			runs |= (test_rng_next(&rng) % (SYSPTE_CHUNK_PAGES + 1)) << (8 * s);
		for (unsigned span = 1; span <= SYSPTE_FIT_MAX_SPAN; span++) {
			uint64_t want = 0;
			for (unsigned s = 0; s < 8; s++)
				want |= (uint64_t)(((runs >> (8 * s)) & 0xff) >= span) << (8 * s + 7);
			good &= syspte_slots_fitting(runs, span) == want;
		}
		if (!good && bad_words++ < 5)
			printf("# bit helpers disagree on 0x%016llx (runs 0x%016llx)\n", (unsigned long long)x,
			       (unsigned long long)runs);
	}
	ok(bad_words == 0, "a chunk's bit helpers (longest run, run around a bit, fits of spans 1..%u, slots "
	   "fitting) agree with plain loops on %llu generated words", SYSPTE_FIT_MAX_SPAN, (unsigned long long)words);
}

/*
 * syspte_check names a cache's chunk numbered nchunks, one past the region's last, that the
 * directory does not hold ("a cache holds a chunk it does not own"), in regions of 4608 to 8192
 * pages, on CPU 1 and on the CPU whose number + 1 is the byte after the owner array (the owned
 * bitset's first metadata byte, read as owner byte nchunks): an owner test of that index alone
 * takes the chunk for that CPU's own.
 */
static void test_check_names_chunk_past_last(void)
{
	struct named pn = { 0 };
	unsigned matched = 0;
	for (uint64_t np = 4608; np <= 8192; np += 512) {
		host_machine_create(64ULL << 20, np * PAGE_SIZE);
		struct syspte_region *r = reserved_region();
		unsigned past = r->cache.owner[r->cache.nchunks], cpus[2] = { 1, past - 1 };
		matched += past > 1 && past <= ARCH_MAX_CPUS;
		for (unsigned i = 0; i < (past > 1 && past <= ARCH_MAX_CPUS ? 2u : 1u); i++) {
			fake_cpu_switch(cpus[i]);
			vaddr_t v = syspte_reserve(r, 1, TAG1, 0);
			struct syspte_cache *c = r->cache.cpu[cpus[i]];
			if (!v || !c || !c->nchunks) {
				pn.tried++;
				continue;
			}
			static struct syspte_chunk copy;
			static struct chunk_saved sv;
			copy = *c->active[0];
			copy.index = r->cache.nchunks;
			sv = (struct chunk_saved){ c, *c, c->active[0], *c->active[0] };
			c->active[0] = &copy;
			name_case(r, "a cache holds a chunk it does not own", chunk_restore, &sv, &pn);
			syspte_release(r, v, TAG1);
		}
		fake_cpu_switch(0);
	}
	ok(matched >= 2 && pn.tried > 8 && pn.named == pn.tried && pn.undone == pn.tried, "a cache's chunk numbered "
	   "one past the last, %u times (%u on the CPU the byte past the owners names): each caught as itself, undone "
	   "clean", pn.tried, matched);
}

/*
 * The active slots' run bounds: a bound below its chunk's longest free run (the fast path would
 * pass the chunk by), a bound on an unused slot, and an active chunk naming another slot are caught
 * by syspte_check; a free raises a bound, and a reservation that finds a bound high makes it right.
 */
static void test_run_bounds_checked(void)
{
	host_machine_create(64ULL << 20, REGION_PAGES * 4 * PAGE_SIZE);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	static vaddr_t v[15];
	for (int k = 0; k < 15; k++)
		v[k] = syspte_reserve(r, 4, TAG1, 0);
	struct syspte_cache *c = r->cache.cpu[1];
	ok(c && c->nchunks == 1 && r->guard == 0 && syspte_check(r) == 0,
	   "CPU 1's cache: one chunk, 15 reservations of 4 pages (a free run of 4 left)");
	if (!c)
		return;
	struct syspte_chunk *k = c->active[0];
	unsigned longest = longest_ones(k->free);
	struct saved sv = save(&c->runs, sizeof(c->runs));
	c->runs = (c->runs & ~0xffULL) | (longest - 1);
	ok(longest > 1 && caught(r, restore, &sv), "a run bound one below its chunk's longest free run (%u): caught", longest);
	c->runs |= 5ULL << 8;
	ok(caught(r, restore, &sv), "a run bound on an unused slot: caught");
	sv = save(&k->slot, sizeof(k->slot));
	k->slot = 1;
	ok(caught(r, restore, &sv), "an active chunk naming another slot: caught");
	/* its bound is high (reservations leave it): a request of 16 pages finds no run, makes the
	 * bound right (below its span) and takes a new chunk: no loop, no wrong place */
	unsigned high = (unsigned)(c->runs & 0xff);
	vaddr_t w = syspte_reserve(r, 16, TAG1, 0);
	unsigned now = (unsigned)(c->runs & 0xff);
	ok(high >= 16 && w && c->nchunks == 2 && now < 16 && now >= longest_ones(k->free) && syspte_check(r) == 0,
	   "a bound found high (%u): the request placed in a new chunk, the bound below its span (%u)", high, now);
	for (int j = 3; j < 9; j++)
		syspte_release(r, v[j], TAG1);
	unsigned raised = (unsigned)(c->runs & 0xff);
	ok(raised > now && raised >= longest_ones(k->free) && syspte_check(r) == 0,
	   "frees in the chunk raise its bound to the run they made (%u)", raised);
	syspte_release(r, w, TAG1);
	for (int j = 0; j < 15; j++)
		if (j < 3 || j >= 9)
			syspte_release(r, v[j], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/* The free bits of chunk idx of c (c's own state; the test plays its only CPU). */
static uint64_t chunk_free_bits(const struct syspte_region *r, uint64_t idx)
{
	const struct syspte_chunk *k = r->cache.dir[idx >> SYSPTE_DIR_SHIFT].leaf[idx & (SYSPTE_DIR_LEAF - 1)];
	return k->free;
}

/*
 * Generated: 16 full chunks of 16-page reservations (8 active, 8 parked), random ones of the parked
 * chunks' reservations freed, then a request of 1..16 pages that no active chunk holds: it goes to
 * a parked chunk with the longest free run of all (the lists by class find it at once).
 */
static void test_parked_longest_run_first(void)
{
	uint64_t rng = 0x5DEECE66DULL;
	bool all = true;
	unsigned tried = 0;
	for (unsigned trial = 0; trial < 24 && all; trial++) {
		host_machine_create(64ULL << 20, REGION_PAGES * 4 * PAGE_SIZE);   /* 256 chunks, 16 a cache */
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(1);
		static vaddr_t v[64];
		for (int k = 0; k < 64; k++)
			all &= (v[k] = syspte_reserve(r, 16, TAG1, 0)) != 0;
		struct syspte_cache *c = r->cache.cpu[1];
		all &= c && c->nchunks == 16 && c->free == 0;
		if (!all)
			break;
		for (int k = 0; k < 64; k++) {
			uint64_t idx = ((v[k] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
			bool active = false;
			for (unsigned a = 0; a < SYSPTE_CACHE_ACTIVE; a++)
				active |= c->active[a]->index == idx;
			if (!active && test_rng_next(&rng) % 3 == 0) {
				all &= syspte_release(r, v[k], TAG1) == SYSPTE_OK;
				v[k] = 0;
			}
		}
		unsigned best = 0;
		for (unsigned cls = 0; cls < SYSPTE_CACHE_CLASSES; cls++)
			for (const struct syspte_chunk *k = c->parked[cls]; k; k = k->next)
				best = MAX(best, longest_ones(k->free));
		uint64_t n = 1 + test_rng_next(&rng) % SYSPTE_CACHE_MAX_PAGES;
		if (best < n + r->guard) {
			fake_cpu_switch(0);
			continue;
		}
		vaddr_t w = syspte_reserve(r, n, TAG1, 0);
		uint64_t idx = ((w - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
		bool owned = w && r->cache.owner[idx] == 2;
		/* the chunk's free bits with w's pages given back: its longest run before the request */
		unsigned run = owned ? longest_ones(chunk_free_bits(r, idx) |
						     (((n >= 64 ? 0 : (1ULL << n)) - 1) << (((w - SYSPTE_BASE) >> PAGE_SHIFT) & 63)))
				     : 0;
		tried++;
		all &= owned && run == best && syspte_release(r, w, TAG1) == SYSPTE_OK && syspte_check(r) == 0;
		if (!all)
			printf("# parked, trial %u: %llu pages in chunk %llu (cached %d) of run %u, longest %u\n", trial,
			       (unsigned long long)n, (unsigned long long)idx, owned, run, best);
		fake_cpu_switch(0);
	}
	ok(all && tried >= 12, "a request no active chunk holds goes to a parked chunk of the longest free run "
	   "(%u random layouts)", tried);
}

/*
 * A DIVISIBLE request tries at most SYSPTE_CACHE_TRIES parked chunks: 8 active chunks full of
 * 8-page reservations, 10 parked with a free run of 16 pages, 9 of them at page 8 (no start on a
 * multiple of 16) tried first, the tenth's at page 0 last. A DIVISIBLE 16 gives up before it
 * (a new chunk or the allocator takes the request) and does not mark the cache full; a plain 16
 * still goes to a parked chunk.
 */
static void test_divisible_tries_bounded(void)
{
	host_machine_create(64ULL << 20, REGION_PAGES * 8 * PAGE_SIZE);   /* 512 chunks, 32 a cache */
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	static vaddr_t v[18][8];
	bool all = true;
	for (int k = 0; k < 18; k++)
		for (int j = 0; j < 8; j++)
			all &= (v[k][j] = syspte_reserve(r, 8, TAG1, 0)) != 0;
	struct syspte_cache *c = r->cache.cpu[1];
	all &= c && c->nchunks == 18 && c->free == 0;
	/* the parked chunks in the order of their first reservation; the aligned one freed first */
	int parked[10], np = 0;
	for (int k = 0; all && k < 18; k++) {
		uint64_t idx = ((v[k][0] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
		bool active = false;
		for (unsigned a = 0; a < SYSPTE_CACHE_ACTIVE; a++)
			active |= c->active[a]->index == idx;
		if (!active && np < 10)
			parked[np++] = k;
	}
	all &= np == 10;
	for (int p = 0; all && p < np; p++) {
		int first = p == 0 ? 0 : 1;   /* pages 0..15, or 8..23 */
		all &= syspte_release(r, v[parked[p]][first], TAG1) == SYSPTE_OK &&
		       syspte_release(r, v[parked[p]][first + 1], TAG1) == SYSPTE_OK;
		v[parked[p]][first] = v[parked[p]][first + 1] = 0;
	}
	uint64_t aligned = ((v[parked[0]][2] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
	ok(all && c->parked_mask == (1ULL << 16) && r->guard == 0,
	   "8 full active chunks; 10 parked with a free run of 16, the one at page 0 freed first");
	vaddr_t d = syspte_reserve(r, 16, TAG1, SYSPTE_FLAG_DIVISIBLE);
	uint64_t didx = ((d - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
	bool in_parked = false;
	for (int p = 0; p < np; p++)
		in_parked |= didx == ((v[parked[p]][2] - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
	ok(d && d % (16 * PAGE_SIZE) == 0 && !in_parked && didx != aligned && c->nofit == 0,
	   "a DIVISIBLE 16 tried 8 parked chunks and gave up: placed elsewhere (a new chunk), not in the tenth");
	vaddr_t w = syspte_reserve(r, 16, TAG1, 0);
	ok(w && r->cache.owner[((w - SYSPTE_BASE) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT] == 2 && syspte_check(r) == 0,
	   "a plain 16 goes to a parked chunk");
	syspte_release(r, d, TAG1);
	syspte_release(r, w, TAG1);
	for (int k = 0; k < 18; k++)
		for (int j = 0; j < 8; j++)
			if (v[k][j])
				syspte_release(r, v[k][j], TAG1);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0 && stats().live == 0, "all freed, check passes");
}

/*
 * Generated: a DIVISIBLE request finds an aligned place in an active chunk other than the one used
 * last. For each size 2..16 and each of the four 16-page runs of chunk A: CPU 1 fills chunks A and B
 * with 16-page reservations (B took the last), frees that run of A, and asks DIVISIBLE n pages: they
 * go on the fast path to the lowest multiple of n in the run when one holds them (the run at page 0
 * of A among them), else to a new chunk at a multiple of n.
 */
static void test_divisible_in_active_chunks(void)
{
	bool all = true;
	unsigned in_run = 0;
	for (uint64_t n = 2; n <= SYSPTE_CACHE_MAX_PAGES && all; n++)
		for (unsigned freed = 0; freed < 4 && all; freed++) {
			host_machine_create(64ULL << 20, 16ULL << 20);
			struct syspte_region *r = reserved_region();
			fake_cpu_switch(1);
			vaddr_t v[8];
			for (int k = 0; k < 8; k++)
				all &= (v[k] = syspte_reserve(r, 16, TAG1, 0)) != 0;
			struct syspte_cache *c = r->cache.cpu[1];
			all &= c && c->nchunks == 2 && c->free == 0 && r->guard == 0 && v[1] == v[0] + 16 * PAGE_SIZE &&
			       race_page_of(v[0]) % SYSPTE_CHUNK_PAGES == 0;
			if (!all)
				break;
			vaddr_t run = v[freed];
			all &= syspte_release(r, run, TAG1) == SYSPTE_OK;
			/* the model: the lowest address in the run that is a multiple of n pages and holds n */
			vaddr_t want = 0;
			for (vaddr_t a = run; !want && a + n * PAGE_SIZE <= run + 16 * PAGE_SIZE; a += PAGE_SIZE)
				if ((a / PAGE_SIZE) % n == 0)
					want = a;
			uint64_t fast = stats().cache_fast;
			vaddr_t w = syspte_reserve(r, n, TAG1, SYSPTE_FLAG_DIVISIBLE);
			uint64_t widx = w ? race_page_of(w) >> SYSPTE_CHUNK_SHIFT : 0;
			bool in_ab = widx == race_page_of(v[0]) >> SYSPTE_CHUNK_SHIFT || widx == race_page_of(v[4]) >> SYSPTE_CHUNK_SHIFT;
			if (want)
				all &= w == want && stats().cache_fast == fast + 1 && c->nchunks == 2;
			else
				all &= w && (w / PAGE_SIZE) % n == 0 && !in_ab;
			in_run += want != 0;
			all &= syspte_check(r) == 0 && syspte_release(r, w, TAG1) == SYSPTE_OK;
			if (!all)
				printf("# divisible %llu, run %u: at 0x%llx, the model's 0x%llx\n", (unsigned long long)n, freed,
				       (unsigned long long)w, (unsigned long long)want);
			for (unsigned k = 0; k < 8; k++)
				if (k != freed)
					all &= syspte_release(r, v[k], TAG1) == SYSPTE_OK;
			fake_cpu_switch(0);
		}
	ok(all && in_run > 0, "DIVISIBLE 2..16 pages in a freed 16-page run of an active chunk not used last: at the "
	   "lowest multiple there (%u of 60), else in a new chunk", in_run);
}

/* lookup_checkpoint's model: CPU 1's live reservations. */
struct lk_item {
	vaddr_t va;
	uint64_t n;
};

/* The model's reservation containing va, or NULL. */
static const struct lk_item *lk_model(const struct lk_item *it, unsigned n, vaddr_t va)
{
	for (unsigned k = 0; k < n; k++)
		if (va >= it[k].va && va < it[k].va + it[k].n * PAGE_SIZE)
			return &it[k];
	return NULL;
}

/* Every page of every chunk CPU 1's cache owns, looked up by its owner and by CPU 2 (the fast paths)
 * and under the region's lock (its path), against the model; the disagreements. */
static unsigned lookup_checkpoint(struct syspte_region *r, const struct lk_item *it, unsigned n)
{
	unsigned wrong = 0;
	for (unsigned how = 0; how < 3; how++) {
		fake_cpu_switch(how == 1 ? 2 : 1);
		for (uint64_t idx = 0; idx < r->cache.nchunks; idx++) {
			if (r->cache.owner[idx] != 2)
				continue;
			for (uint64_t p = idx << SYSPTE_CHUNK_SHIFT; p < (idx + 1) << SYSPTE_CHUNK_SHIFT; p++) {
				vaddr_t va = SYSPTE_BASE + p * PAGE_SIZE, got;
				const struct lk_item *m = lk_model(it, n, va);
				vaddr_t want = m ? m->va : 0;
				struct syspte_info info = { 0 };
				if (how == 0) {
					got = syspte_lookup(r, va, &info) ? info.base : 0;
					if (got && (!m || info.npages != m->n || info.tag != TAG1))
						got = 1;   /* found, but not as reserved */
				} else if (how == 1) {
					got = syspte_reservation_base(r, va);
				} else {
					struct syspte_hold h;
					uint64_t i, f = spin_lock(&r->lock);
					struct syspte_resv *v = syspte_resv_at_locked(r, va, &i, &h);
					got = v ? SYSPTE_BASE + ((uint64_t)v->start << PAGE_SHIFT) : 0;
					syspte_unhold_locked(r, &h);
					spin_unlock(&r->lock, f);
				}
				if (got != want && wrong++ < 4)
					printf("# lookup (%s) of page %llu: 0x%llx, the model's 0x%llx\n",
					       how == 0 ? "owner" : how == 1 ? "CPU 2" : "region's lock", (unsigned long long)p,
					       (unsigned long long)got, (unsigned long long)want);
			}
		}
	}
	fake_cpu_switch(1);
	return wrong;
}

/*
 * Generated: CPU 1 reserves (1..16 pages) and frees at random; every 25 steps every page of its
 * cached chunks is looked up, by CPU 1 and by CPU 2 without the region's lock and by the region's
 * path under it: each finds the reservation containing the page, or none (a free page, a page just
 * past a reservation, its guard page). In normal and in verifier mode (guard pages).
 */
static void test_lookup_every_page(void)
{
	for (int verifier = 0; verifier < 2; verifier++) {
		mm_verifier_set(verifier);
		host_machine_create(64ULL << 20, 16ULL << 20);
		struct syspte_region *r = reserved_region();
		fake_cpu_switch(1);
		struct lk_item it[40];
		unsigned n = 0, wrong = 0, checks = 0;
		uint64_t rng = 0x1F83D9ABFB41BD6BULL + (uint64_t)verifier;
		for (unsigned step = 1; step <= 300; step++) {
			uint64_t x = test_rng_next(&rng);
			if (n < 40 && x % 3) {
				uint64_t np = 1 + (x >> 8) % SYSPTE_CACHE_MAX_PAGES;
				vaddr_t v = syspte_reserve(r, np, TAG1, 0);
				if (v)
					it[n++] = (struct lk_item){ v, np };
				else
					wrong++;
			} else if (n) {
				unsigned k = (unsigned)((x >> 8) % n);
				wrong += syspte_release(r, it[k].va, TAG1) != SYSPTE_OK;
				it[k] = it[--n];
			}
			if (step % 25 == 0) {
				wrong += lookup_checkpoint(r, it, n);
				checks++;
			}
		}
		for (unsigned k = 0; k < n; k++)
			wrong += syspte_release(r, it[k].va, TAG1) != SYSPTE_OK;
		fake_cpu_switch(0);
		mm_verifier_set(false);
		ok(wrong == 0 && r->guard == (uint64_t)verifier && syspte_check(r) == 0 && stats().live == 0,
		   "%s: every page of CPU 1's chunks at %u moments of random use, looked up by its owner, by CPU 2 and "
		   "under the region's lock: the reservation containing it, or none", verifier ? "verifier mode" : "normal mode",
		   checks);
	}
}

/* ---------------------------------------------------------------- fast paths */

static unsigned spins;

/* Plays CPU 0 holding the region's lock: counts a spin on it and releases it, so a regression fails
 * instead of hanging. */
static void region_lock_spun(void)
{
	spins++;
	__atomic_store_n(&reserved_region()->lock.locked, 0, __ATOMIC_RELEASE);
}

/* A fresh 16 MiB region acting as CPU 1, whose cache exists and owns a chunk (one reservation made
 * and freed): the fast paths' set-up. */
static struct syspte_region *region_cpu1_cached(void)
{
	host_machine_create(64ULL << 20, 16ULL << 20);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t warm = syspte_reserve(r, 2, TAG1, 0);
	syspte_release(r, warm, TAG1);
	return r;
}

static void test_fast_paths_take_no_region_lock(void)
{
	struct syspte_region *r = region_cpu1_cached();
	lock_play_hold(&r->lock, 0);   /* CPU 0 holds the region's lock */
	spins = 0;
	fake_cpu_poll_hook = region_lock_spun;
	uint64_t polls = fake_cpu_polls;
	vaddr_t v[8];
	for (int k = 0; k < 8; k++)
		v[k] = syspte_reserve(r, 1 + (uint64_t)k * 2, TAG1, 0);
	for (int k = 0; k < 8; k++)
		syspte_release(r, v[k], TAG1);
	fake_cpu_poll_hook = NULL;
	ok(spins == 0 && fake_cpu_polls == polls && v[7], "with the region's lock held by CPU 0, CPU 1 reserved and freed "
	   "8 times (1..15 pages) without waiting for it");
	lock_play_release(&r->lock);
	fake_cpu_switch(0);
	ok(syspte_check(r) == 0, "check passes");
}

/*
 * Map, unmap and lookup of cached reservations, sizes 1..16 and every offset and length inside them,
 * from the owner and from another CPU, while CPU 0 holds the region's lock: none waits for it, each
 * gives the region path's result, the unmap's shootdown is issued with the cache's lock alone held,
 * naming its pages, and the mapped counts (the record's, the region's) stay exact.
 */
static void test_map_unmap_lookup_take_no_region_lock(void)
{
	struct syspte_region *r = region_cpu1_cached();
	bool all = true, tlb = true, counts = true;
	uint64_t pfns[SYSPTE_CACHE_MAX_PAGES + 1];   /* one past the largest, for a map past the end */
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned k = 0; k <= SYSPTE_CACHE_MAX_PAGES; k++)
		pfns[k] = 0x4000 + k * 3;
	for (uint64_t n = 1; n <= SYSPTE_CACHE_MAX_PAGES; n++)
		for (uint64_t off = 0; off < n; off++)
			for (uint64_t len = 1; off + len <= n; len++) {
				fake_cpu_switch(1);
				vaddr_t v = syspte_reserve(r, n, TAG1, 0);
				all &= v != 0 && r->cache.owner[race_page_of(v) >> SYSPTE_CHUNK_SHIFT] == 2;
				uint64_t mapped0 = stats().pages_mapped;
				fake_cpu_switch((unsigned)(off + len) % 2 ? 1 : 2);   /* the owner, or another CPU */
				lock_play_hold(&r->lock, 0);   /* CPU 0 holds the region's lock */
				spins = 0;
				fake_cpu_poll_hook = region_lock_spun;
				struct syspte_info info = { 0 };
				int m = syspte_map(r, v + off * PAGE_SIZE, TAG1, pfns, len, PT_CACHE_WB);
				bool found = syspte_lookup(r, v + (n - 1) * PAGE_SIZE, &info);
				int again = syspte_map(r, v + (n - 1) * PAGE_SIZE, TAG1, pfns, 1, PT_CACHE_WB);
				int past = syspte_map(r, v + off * PAGE_SIZE, TAG1, pfns, n - off + 1, PT_CACHE_WB);
				fake_tlb_reset();
				int u = syspte_unmap(r, v + off * PAGE_SIZE, TAG1, len);
				fake_cpu_poll_hook = NULL;
				all &= spins == 0 && m == SYSPTE_OK && found && info.base == v && info.npages == n &&
				       info.mapped == len && past == SYSPTE_REFUSED && u == SYSPTE_OK &&
				       again == (off + len == n ? SYSPTE_MISUSE : SYSPTE_OK);
				if (again == SYSPTE_MISUSE)   /* 0xDA: the page already mapped, named */
					all &= bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED &&
					       bugcheck_last.p[2] == v + (n - 1) * PAGE_SIZE;
				uint64_t extra = again == SYSPTE_OK;   /* the last page, mapped by itself */
				tlb &= fake_tlb.flushes == 1 && fake_tlb.ev[0].ranks == 1u << LOCK_RANK_SYSPTE_CACHE &&
				       fake_tlb_flushed_range(0, v + off * PAGE_SIZE, len);
				lock_play_release(&r->lock);
				counts &= stats().pages_mapped == mapped0 + extra;
				if (extra)
					all &= syspte_unmap(r, v + (n - 1) * PAGE_SIZE, TAG1, 1) == SYSPTE_OK;
				counts &= stats().pages_mapped == mapped0 && syspte_check(r) == 0;
				all &= syspte_release(r, v, TAG1) == SYSPTE_OK;
			}
	bugcheck_set_hook(NULL);
	fake_cpu_switch(0);
	ok(all, "with the region's lock held by CPU 0, CPUs 1 and 2 map, look up, unmap cached reservations of "
	   "1..16 pages at every offset and length without waiting for it, with the region's results");
	ok(tlb, "each unmap's one shootdown is issued under the cache's lock alone, naming its pages");
	ok(counts, "the region's mapped count is exact after each, check passes");
}

/* test_frozen_goes_to_region's hook: counts a spin on the region's lock, then thaws the caches and
 * releases the lock, as a walker finishing would. */
static void walker_done(void)
{
	struct syspte_region *r = reserved_region();
	spins++;
	__atomic_store_n(&r->cache.frozen, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&r->lock.locked, 0, __ATOMIC_RELEASE);
}

/* With the caches frozen by a walker (CPU 0, holding the region's lock), a map, unmap or lookup of a
 * cached reservation changes and reads nothing of the cache: it waits for the region's lock. */
static void test_frozen_goes_to_region(void)
{
	host_machine_create(64ULL << 20, 16ULL << 20);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	vaddr_t v = syspte_reserve(r, 4, TAG1, 0);
	uint64_t pfns[4] = { 0x10, 0x11, 0x12, 0x13 };
	bool all = v != 0;
	struct syspte_info info;
	for (int op = 0; op < 3; op++) {
		if (op == 2)
			all &= syspte_map(r, v, TAG1, pfns, 4, PT_CACHE_WB) == SYSPTE_OK;
		lock_play_hold(&r->lock, 0);
		r->cache.frozen = 1;
		spins = 0;
		fake_cpu_poll_hook = walker_done;
		int st = op == 0 ? syspte_map(r, v, TAG1, pfns, 4, PT_CACHE_WB)
			: op == 1 ? (int)syspte_lookup(r, v + PAGE_SIZE, &info) : syspte_unmap(r, v, TAG1, 4);
		fake_cpu_poll_hook = NULL;
		all &= spins == 1 && r->cache.frozen == 0 && st == (op == 1 ? 1 : SYSPTE_OK);
		r->cache.frozen = 0;   /* a path that did not wait fails the test, and does not hang it */
		lock_play_release(&r->lock);
		all &= stats().pages_mapped == (op == 0 || op == 1 ? 4u : 0u) && syspte_check(r) == 0;
		if (op == 1)
			all &= info.base == v && info.mapped == 4 && syspte_unmap(r, v, TAG1, 4) == SYSPTE_OK;
	}
	all &= syspte_release(r, v, TAG1) == SYSPTE_OK;
	fake_cpu_switch(0);
	ok(all, "caches frozen by a walker: a cached map, lookup and unmap each wait for the region's lock, and "
	   "their outcome is the region's");
}

static void test_other_cpus_on_a_cached_reservation(void)
{
	host_machine_create(64ULL << 20, 16ULL << 20);
	struct syspte_region *r = reserved_region();
	bugcheck_set_hook(bugcheck_record_hook);
	fake_cpu_switch(1);
	vaddr_t v = syspte_reserve(r, 6, TAG1, 0);
	ok(v && stats().cached_pages == 64 - 6, "CPU 1: 6 pages from its cache");
	fake_cpu_switch(3);
	uint64_t pfns[4] = { 0x1234, 0x1235, 0x2000, 0x3000 };
	ok(syspte_map(r, v + PAGE_SIZE, TAG1, pfns, 4, PT_CACHE_WB) == SYSPTE_OK, "CPU 3 maps 4 of its pages");
	struct syspte_info info;
	fake_cpu_switch(2);
	ok(syspte_lookup(r, v + 3 * PAGE_SIZE, &info) && info.base == v && info.npages == 6 && info.mapped == 4 &&
	   syspte_reservation_base(r, v + 5 * PAGE_SIZE) == v, "CPU 2 finds it from an inner page");
	struct syspte_stats s0 = stats();
	uint64_t n0 = bugcheck_last.count;
	syspte_release(r, v + PAGE_SIZE, TAG1);
	ok(bugcheck_last.count == n0 + 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_NOT_START &&
	   bugcheck_last.p[1] == v + PAGE_SIZE && bugcheck_last.p[2] == TAG1, "a free of its second page: 0x102");
	syspte_release(r, v, 0x21212121);
	ok(bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_WRONG_TAG && bugcheck_last.p[2] == 0x21212121 &&
	   bugcheck_last.p[3] == TAG1, "another tag: 0x101 naming both");
	syspte_release(r, v + 17, TAG1);
	ok(bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_STILL_MAPPED && bugcheck_last.p[1] == v + PAGE_SIZE &&
	   bugcheck_last.p[3] == 4, "still mapped: 0x103, the first mapped page and the count");
	struct syspte_stats s1 = stats();
	ok(bugcheck_last.count == n0 + 3 && s1.live == s0.live && s1.free_pages == s0.free_pages &&
	   s1.pages_mapped == s0.pages_mapped && syspte_check(r) == 0, "each refused with nothing changed");
	fake_cpu_switch(0);
	ok(syspte_unmap(r, v + PAGE_SIZE, TAG1, 4) == SYSPTE_OK, "CPU 0 unmaps them");
	uint64_t fast = stats().cache_fast, slow = stats().cache_slow;
	fake_cpu_switch(2);
	ok(syspte_release(r, v, TAG1) == SYSPTE_OK && stats().cache_fast == fast + 1 && stats().cache_slow == slow,
	   "CPU 2 frees it into CPU 1's cache without the region's lock");
	ok(stats().cached_pages == 64 && syspte_check(r) == 0, "the chunk is whole again");
	/* the page-fault path, under a cache's lock: may not take the region's lock, reads nothing */
	fake_cpu_switch(1);
	v = syspte_reserve(r, 2, TAG1, 0);
	struct syspte_cache *c = r->cache.cpu[1];
	uint64_t f = spin_lock(&c->lock);
	ok(!spin_may_take(&r->lock) && syspte_reservation_base(r, v) == 0,
	   "under a cache's lock the fault path reads nothing (base 0) and returns");
	spin_unlock(&c->lock, f);
	ok(syspte_reservation_base(r, v) == v, "without it, the base");
	syspte_release(r, v, TAG1);
	bugcheck_set_hook(NULL);
	fake_cpu_switch(0);
}

/* test_stale_owner's hook: what runs while CPU 3's free spins on CPU 1's cache lock. */
static struct {
	struct syspte_region *r;
	spinlock_t *held;             /* the lock "CPU 1" holds: released by the hook */
	uint64_t start, npages;       /* the reservation being freed */
	uint64_t extra;               /* mode 2: CPU 1's reservation in its new chunk (a page index) */
	unsigned readopt;             /* 0: dissolved; 1: adopted by CPU 3; 2: by CPU 1 again */
	bool ran;
} stale;

/* Plays CPU 1 letting go of its cache's lock after its chunk was taken away meanwhile: with the
 * region's lock, every cache is drained (the chunk dissolved, its directory page freed) and, in
 * readopt mode, the running CPU (3) adopts the chunk around the reservation (a new directory page,
 * the chunk another cache's). Runs once, inside the freeing CPU's spin on that lock. */
static void stale_owner_spun(void)
{
	if (stale.ran)
		return;
	stale.ran = true;
	lock_play_release(stale.held);
	if (stale.readopt == 2)
		fake_cpu_switch(1);
	uint64_t f = spin_lock(&stale.r->lock);
	syspte_cache_drain_locked(stale.r, 1, 1);
	/* mode 2: CPU 1 itself takes a new chunk first (its chunk state the dissolved one's), then
	 * adopts the chunk again in a state of its own */
	if (stale.readopt == 2 && !syspte_cache_reserve_locked(stale.r, 1, TAG1, 0, &stale.extra))
		stale.extra = UINT64_MAX;
	if (stale.readopt)
		syspte_cache_adopt_locked(stale.r, stale.start, stale.npages);
	spin_unlock(&stale.r->lock, f);
	if (stale.readopt == 2)
		fake_cpu_switch(3);
}

/*
 * Generated: a free (a map, a lookup, an unmap) from another CPU that read the chunk's owner (CPU 1) before the chunk was
 * dissolved, and then adopted by another cache or by CPU 1's again (in a new chunk state, its old
 * one reused for another chunk), while it waited for CPU 1's cache lock: for each size 1..16 and
 * each mode, the free must look the chunk up again under that lock (the owner changed: the region
 * frees it where it lies now; the same owner: the chunk's state now), never through what it read
 * before.
 */
static void test_stale_owner(void)
{
	static const char *const what[] = { "a free", "a map", "a lookup", "an unmap" };
	uint64_t pfns[SYSPTE_CACHE_MAX_PAGES];
	for (unsigned k = 0; k < SYSPTE_CACHE_MAX_PAGES; k++)
		pfns[k] = 0x7000 + k;
	for (unsigned op = 0; op < 4; op++) {
	bool all = true;
	for (unsigned mode = 0; mode < 3; mode++)
		for (uint64_t n = 1; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
			host_machine_create(64ULL << 20, 16ULL << 20);
			struct syspte_region *r = reserved_region();
			fake_cpu_switch(1);
			vaddr_t v = syspte_reserve(r, n, TAG1, 0);
			struct syspte_cache *c1 = r->cache.cpu[1];
			uint64_t i = (v - SYSPTE_BASE) >> PAGE_SHIFT, idx = i >> SYSPTE_CHUNK_SHIFT;
			if (!v || !c1 || r->cache.owner[idx] != 2) {
				all = false;
				continue;
			}
			if (op == 3)
				all &= syspte_map(r, v, TAG1, pfns, n, PT_CACHE_WB) == SYSPTE_OK;
			stale = (typeof(stale)){ .r = r, .held = &c1->lock, .start = i, .npages = n, .readopt = mode };
			lock_play_hold(&c1->lock, 1);   /* CPU 1 holds its cache's lock */
			fake_cpu_switch(3);
			fake_cpu_poll_hook = stale_owner_spun;
			struct syspte_info info = { 0 };
			int st = op == 0 ? syspte_release(r, v, TAG1)
				: op == 1 ? syspte_map(r, v, TAG1, pfns, n, PT_CACHE_WB)
				: op == 2 ? (syspte_lookup(r, v + (n - 1) * PAGE_SIZE, &info) && info.base == v && info.npages == n
					     ? SYSPTE_OK : SYSPTE_REFUSED)
				: syspte_unmap(r, v, TAG1, n);
			fake_cpu_poll_hook = NULL;
			if (op) {   /* the call's effect seen, then the reservation freed for the checks below */
				all &= stats().pages_mapped == (op == 1 ? n : 0) && syspte_check(r) == 0;
				if (op == 1)
					all &= syspte_unmap(r, v, TAG1, n) == SYSPTE_OK;
				all &= stats().pages_mapped == 0 && syspte_release(r, v, TAG1) == SYSPTE_OK;
			}
			struct syspte_cache *c3 = r->cache.cpu[3];
			if (mode < 2) {
				bool readopted = r->cache.owner[idx] == 4 && c3 && c3->live == 0;
				all &= stale.ran && st == SYSPTE_OK && c1->live == 0 && c1->nchunks == 0 && readopted == mode &&
				       syspte_check(r) == 0 && stats().live == 0;
			} else {
				/* the free went to CPU 1's new state of the chunk; its other chunk keeps its page */
				all &= stale.ran && st == SYSPTE_OK && stale.extra != UINT64_MAX && r->cache.owner[idx] == 2 &&
				       c1->live == 1 && c1->nchunks == 2 && syspte_check(r) == 0 && stats().live == 1 &&
				       syspte_release(r, SYSPTE_BASE + (stale.extra << PAGE_SHIFT), TAG1) == SYSPTE_OK &&
				       stats().live == 0;
			}
			fake_cpu_switch(0);
		}
	ok(all, "%s from another CPU whose chunk was dissolved (then adopted by another cache, or by its owner "
	   "in a new state) while it waited for the owner's lock: done where the reservation lies now, sizes 1..16",
	   what[op]);
	}
}

/* syspte_cache_reserve_locked under the region's lock on r as the running CPU: the page index, or
 * UINT64_MAX when refused. */
static uint64_t reserve_locked(struct syspte_region *r, uint64_t n)
{
	uint64_t start = UINT64_MAX, f = spin_lock(&r->lock);
	bool placed = syspte_cache_reserve_locked(r, n, TAG1, 0, &start);
	spin_unlock(&r->lock, f);
	return placed ? start : UINT64_MAX;
}

/*
 * The region's path into a cache (syspte_cache_reserve_locked) places only a cache's size, and
 * nothing on a region without caches: every other size 17..128 is refused on a fresh region with no
 * cache made and nothing changed, each size 1..16 is placed in the new cache, and on a region
 * created without caches each size 1..16 is refused with no cache made.
 */
static void test_reserve_locked_sizes(void)
{
	host_machine_create(64ULL << 20, 16ULL << 20);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);
	bool refused = true, placed = true;
	for (uint64_t n = SYSPTE_CACHE_MAX_PAGES + 1; n <= 2 * SYSPTE_CHUNK_PAGES; n++)
		refused &= reserve_locked(r, n) == UINT64_MAX;
	struct syspte_stats s = stats();
	ok(refused && !r->cache.cpu[1] && s.cache_bytes == 0 && s.live == 0 && syspte_check(r) == 0,
	   "the region's path into a cache: %u..%u pages refused, no cache made", SYSPTE_CACHE_MAX_PAGES + 1,
	   2 * SYSPTE_CHUNK_PAGES);
	for (uint64_t n = 1; n <= SYSPTE_CACHE_MAX_PAGES; n++) {
		uint64_t i = reserve_locked(r, n);
		placed &= i != UINT64_MAX && r->cache.owner[i >> SYSPTE_CHUNK_SHIFT] == 2 &&
			  syspte_release(r, SYSPTE_BASE + i * PAGE_SIZE, TAG1) == SYSPTE_OK;
	}
	ok(placed && syspte_check(r) == 0 && stats().live == 0, "1..16 pages placed in CPU 1's cache");
	struct syspte_region *nc = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (64ULL << 30), 512, SYSPTE_CREATE_NO_CACHE);
	refused = nc != NULL;
	for (uint64_t n = 1; nc && n <= SYSPTE_CACHE_MAX_PAGES; n++)
		refused &= reserve_locked(nc, n) == UINT64_MAX;
	if (nc)
		syspte_get_stats(nc, &s);
	ok(refused && !nc->cache.cpu[1] && s.cache_bytes == 0 && s.live == 0 && syspte_check(nc) == 0,
	   "a region without caches: 1..16 pages refused by that path, no cache made");
	fake_cpu_switch(0);
}

/* A region created without caches never makes one. */
static void test_no_cache_region(void)
{
	host_machine_create(64ULL << 20, 2ULL << 20);
	struct syspte_region *r = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (64ULL << 30), 512, SYSPTE_CREATE_NO_CACHE);
	vaddr_t v = r ? syspte_reserve(r, 3, TAG1, 0) : 0;
	struct syspte_stats s;
	if (r)
		syspte_get_stats(r, &s);
	ok(v && s.cached_pages == 0 && s.cache_bytes == 0 && s.cache_fast == 0 && syspte_release(r, v, TAG1) == SYSPTE_OK &&
	   syspte_check(r) == 0, "SYSPTE_CREATE_NO_CACHE: reservations through the region's lock only");
}

int main(int argc, char **argv)
{
	uint64_t ops = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000;
	run_concurrent(false, ops);
	run_concurrent(true, ops / 10);
	test_steady_state(ops);
	test_long_lived_small(ops * 3, LONG_PAGES, LONG_LIVE);
	test_long_lived_small(ops * 3, LONG_PAGES / 16, LONG_LIVE);
	test_long_lived_small(ops * 3, BIG_PAGES, BIG_LIVE);
	test_drain_whole_chunk();
	test_drain_run_across_chunk();
	test_drain_divisible();
	test_drain_index_short();
	test_drain_raced();
	test_directory_grows_and_is_refused();
	test_growth_memory_sweep();
	test_adopt_memory_sweep();
	test_adopt_refused();
	test_full_cache_tries_again();
	test_divisible_miss_in_parked_chunk();
	test_carve_bound_exact();
	test_empty_active_chunks_dissolved();
	test_trim_dissolves_only_empty_chunks();
	test_parked_longest_run_first();
	test_divisible_tries_bounded();
	test_divisible_in_active_chunks();
	test_lookup_every_page();
	test_check_catches_cache_corruption();
	test_check_names_cache_corruption();
	test_check_names_chunk_past_last();
	test_run_bounds_checked();
	test_chunk_bit_helpers();
	test_fast_paths_take_no_region_lock();
	test_map_unmap_lookup_take_no_region_lock();
	test_frozen_goes_to_region();
	test_other_cpus_on_a_cached_reservation();
	test_stale_owner();
	test_reserve_locked_sizes();
	test_no_cache_region();
	host_machine_destroy();
	return tap_done();
}
