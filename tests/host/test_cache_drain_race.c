/*
 * The per-CPU caches under exhaustion with every CPU working at once (host threads as CPUs,
 * fake_smp_run): on a region small enough that it is nearly full, CPUs 1..3 reserve small ranges
 * from their caches, map, unmap, look up and free them and hand some to another CPU to free, while
 * CPU 0 asks for runs only a drain of every cache can give (64 .. 256 pages, some DIVISIBLE) and
 * checks the region. So drains dissolve chunks while the other CPUs' fast paths run on them (a free,
 * map, unmap or lookup whose chunk changed owner under it, a reserve in a cache being emptied), and
 * walks freeze the caches meanwhile. A shadow of every page, claimed by compare-exchange, catches an
 * overlap the moment it happens; every lookup of an own reservation must name it exactly (base,
 * size, tag, pages mapped) wherever it lives by then; no call may bug-check; syspte_check and the
 * identity free + reserved + guards = region hold while they run; afterwards everything is freed
 * from other CPUs and the region is whole, in normal and verifier mode.
 *
 *   build/host/test_cache_drain_race [calls per CPU]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "verifier.h"
#include "vmlayout.h"
#include "reserved.h"
#include "bugcheck.h"
#include "test_rng.h"
#include "cpu_race.h"

#define NCPUS 4
#define PAGES 1024u                    /* 16 chunks: one a cache */
#define MAXL 40
#define INBOX 32
_Static_assert(INBOX <= RACE_INBOX_MAX, "an inbox holds at most RACE_INBOX_MAX");
#define TAG_OF(cpu) (0x30525244u + ((uint32_t)(cpu) << 24))   /* 'DRR0' .. */

struct cpu_state {
	unsigned cpu;
	uint64_t rng, ops;
	struct race_item own[MAXL];
	unsigned nown;
	struct race_inbox inbox;
};

static struct cpu_state cpus[NCPUS];
static struct syspte_region *R;
static uint32_t shadow[PAGES];
static uint64_t guard, big_ok, big_refused;   /* CPU 0's runs placed and refused */

static uint64_t draw(struct cpu_state *c, uint64_t n) { return n ? test_rng_next(&c->rng) % n : 0; }

static void lookup_own(struct cpu_state *c, const struct race_item *it)
{
	struct syspte_info info;
	vaddr_t va = it->va + draw(c, it->n) * PAGE_SIZE;
	if (!syspte_lookup(R, va, &info) || info.base != it->va || info.npages != it->n || info.tag != it->tag ||
	    info.mapped != it->mn)
		race_bad(c->cpu, "a lookup of an own reservation differs", va, info.base);
}

static void unmap_item(struct cpu_state *c, struct race_item *it)
{
	if (it->mn && syspte_unmap(R, it->va, it->tag, it->mn) != SYSPTE_OK)
		race_bad(c->cpu, "unmap refused", it->va, it->mn);
	it->mn = 0;
}

static void map_item(struct cpu_state *c, struct race_item *it)
{
	uint64_t pfns[256], n = 1 + draw(c, it->n);
	for (uint64_t k = 0; k < n; k++)
		pfns[k] = 0x300 + k;
	if (it->mn)
		return unmap_item(c, it);
	if (syspte_map(R, it->va, it->tag, pfns, n, PT_CACHE_WB) != SYSPTE_OK)
		return race_bad(c->cpu, "map refused", it->va, n);
	it->mn = n, it->pfn0 = 0x300;
}

static void free_item(struct cpu_state *c, struct race_item *it)
{
	unmap_item(c, it);
	race_unclaim(shadow, guard, it);
	if (syspte_release(R, it->va, it->tag) != SYSPTE_OK)
		race_bad(c->cpu, "free refused", it->va, it->n);
}

static bool reserve(struct cpu_state *c, uint64_t n, uint32_t flags)
{
	if (c->nown == MAXL)
		return false;
	vaddr_t va = syspte_reserve(R, n, TAG_OF(c->cpu), flags);
	if (!va)
		return false;
	if (race_page_of(va) + n + guard > PAGES || (flags && (va >> PAGE_SHIFT) % n))
		race_bad(c->cpu, "a reservation misplaced", va, n);
	struct race_item *it = &c->own[c->nown++];
	*it = (struct race_item){ .va = va, .n = n, .tag = TAG_OF(c->cpu), .id = race_new_id() };
	race_claim(shadow, guard, c->cpu, it);
	return true;
}

static void hand_off(struct cpu_state *c, unsigned k)
{
	struct cpu_state *to = &cpus[1 + draw(c, NCPUS - 1)];
	if (to == c)
		return;
	unmap_item(c, &c->own[k]);
	if (race_inbox_put(&to->inbox, &c->own[k]))
		c->own[k] = c->own[--c->nown];
}

/* Frees what other CPUs handed this one, last handed first. */
static void free_inbox(struct cpu_state *c)
{
	struct race_item got[RACE_INBOX_MAX];
	unsigned n = race_inbox_take(&c->inbox, got);
	while (n)
		free_item(c, &got[--n]);
}

/* CPU 0: runs a drain may have to give, kept a moment, and the region checked. */
static void big_step(struct cpu_state *c, uint64_t k)
{
	if (c->nown >= 2 || (c->nown && draw(c, 2))) {
		unsigned j = (unsigned)draw(c, c->nown);
		free_item(c, &c->own[j]);
		c->own[j] = c->own[--c->nown];
	}
	uint64_t n = 64 + draw(c, 193);
	uint32_t flags = draw(c, 4) ? 0 : SYSPTE_FLAG_DIVISIBLE;
	if (flags)
		n = 64u << draw(c, 2);
	if (reserve(c, n, flags))
		big_ok++;
	else
		big_refused++;
	if (c->nown && draw(c, 2))
		map_item(c, &c->own[draw(c, c->nown)]);
	if (k % 8 == 0)
		race_check_identity(R, PAGES, guard, c->cpu);
}

static void small_step(struct cpu_state *c)
{
	struct race_item *it = c->nown ? &c->own[draw(c, c->nown)] : NULL;
	switch (draw(c, 12)) {
	case 0: case 1: case 2: case 3:
		if (!reserve(c, 1 + draw(c, SYSPTE_CACHE_MAX_PAGES), draw(c, 8) ? 0 : SYSPTE_FLAG_DIVISIBLE) && it) {
			free_item(c, it);
			*it = c->own[--c->nown];
		}
		break;
	case 4: case 5:
		if (it) {
			free_item(c, it);
			*it = c->own[--c->nown];
		}
		break;
	case 6: case 7: if (it) map_item(c, it); break;
	case 8: case 9: if (it) lookup_own(c, it); break;
	case 10: if (it) hand_off(c, (unsigned)(it - c->own)); break;
	default: free_inbox(c); break;
	}
}

static void cpu_main(unsigned cpu, void *arg)
{
	(void)arg;
	struct cpu_state *c = &cpus[cpu];
	for (uint64_t k = 0; k < c->ops; k++)
		cpu ? small_step(c) : big_step(c, k);
}

static void run(bool verifier, uint64_t ops)
{
	const char *mode = verifier ? "verifier mode" : "normal mode";
	mm_verifier_set(verifier);
	host_machine_create(256ULL << 20, PAGES * PAGE_SIZE);
	R = reserved_region();
	guard = syspte_guard_pages(R);
	memset(shadow, 0, sizeof(shadow));
	race_failures = 0;
	big_ok = big_refused = 0;
	bugcheck_set_hook(race_bugcheck_is_failure);
	for (unsigned c = 0; c < NCPUS; c++) {
		cpus[c] = (struct cpu_state){ .cpu = c, .rng = 0x2545F4914F6CDD1DULL * (c + 1) + verifier,
					      .ops = c ? ops : ops / 4 };
		race_inbox_init(&cpus[c].inbox, INBOX);
	}
	fake_smp_run(NCPUS, cpu_main, NULL);
	struct syspte_stats s;
	syspte_get_stats(R, &s);
	ok(race_failures == 0, "%s: %u CPUs at once, %llu small calls each, CPU 0's %llu runs placed and %llu refused: no "
	   "overlap, every lookup, check and identity right", mode, NCPUS, (unsigned long long)ops,
	   (unsigned long long)big_ok, (unsigned long long)big_refused);
	ok(s.cache_drains > 0 && big_ok > 0 && s.cache_fast > 0, "%s: %llu drains ran among %llu calls "
	   "without the region's lock", mode, (unsigned long long)s.cache_drains, (unsigned long long)s.cache_fast);
	for (unsigned c = 0; c < NCPUS; c++) {
		fake_cpu_online((c + 1) % NCPUS, true);
		fake_cpu_online(fake_cpu, false);
		fake_cpu_set((c + 1) % NCPUS);
		while (cpus[c].nown)
			free_item(&cpus[fake_cpu], &cpus[c].own[--cpus[c].nown]);
		while (cpus[c].inbox.n)
			free_item(&cpus[fake_cpu], &cpus[c].inbox.item[--cpus[c].inbox.n]);
	}
	fake_cpu_online(0, true);
	fake_cpu_online(fake_cpu, false);
	fake_cpu_set(0);
	syspte_get_stats(R, &s);
	ok(race_failures == 0 && syspte_check(R) == 0 && s.free_pages == PAGES && s.live == 0 && s.pages_mapped == 0,
	   "%s: everything freed from other CPUs, the region whole", mode);
	bugcheck_set_hook(NULL);
	for (unsigned c = 0; c < NCPUS; c++)
		pthread_mutex_destroy(&cpus[c].inbox.lock);
	host_machine_destroy();
	mm_verifier_set(false);
}

int main(int argc, char **argv)
{
	uint64_t ops = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000;
	run(false, ops);
	run(true, ops / 10);
	return tap_done();
}
