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

#define NCPUS 4
#define PAGES 1024u                    /* 16 chunks: one a cache */
#define MAXL 40
#define INBOX 32
#define TAG_OF(cpu) (0x30525244u + ((uint32_t)(cpu) << 24))   /* 'DRR0' .. */

struct item { vaddr_t va; uint64_t n, mn; uint32_t tag, id; };
struct cpu_state {
	unsigned cpu;
	uint64_t rng, ops, big_ok, big_refused;
	struct item own[MAXL];
	unsigned nown;
	pthread_mutex_t lock;
	struct item inbox[INBOX];
	unsigned ninbox;
};

static struct cpu_state cpus[NCPUS];
static struct syspte_region *R;
static uint32_t shadow[PAGES];
static uint32_t next_id = 1;
static uint64_t guard, failures;

static void bad(unsigned cpu, const char *what, uint64_t a, uint64_t b)
{
	if (__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED) < 20)
		printf("# CPU %u: %s (0x%llx, 0x%llx)\n", cpu, what, (unsigned long long)a, (unsigned long long)b);
}

static void no_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	(void)p3, (void)p4;
	bad(fake_cpu, "unexpected bug check", code, p1 ^ p2);
}

static uint64_t draw(struct cpu_state *c, uint64_t n) { return n ? test_rng_next(&c->rng) % n : 0; }
static uint64_t page_of(vaddr_t va) { return (va - SYSPTE_BASE) >> PAGE_SHIFT; }

static void claim(unsigned cpu, const struct item *it)
{
	for (uint64_t k = 0; k < it->n + guard; k++) {
		uint32_t zero = 0;
		if (!__atomic_compare_exchange_n(&shadow[page_of(it->va) + k], &zero, it->id, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			bad(cpu, "a reservation overlaps a live one", it->va + k * PAGE_SIZE, zero);
	}
}

static void unclaim(const struct item *it)
{
	for (uint64_t k = 0; k < it->n + guard; k++)
		__atomic_store_n(&shadow[page_of(it->va) + k], 0, __ATOMIC_RELEASE);
}

static void lookup_own(struct cpu_state *c, const struct item *it)
{
	struct syspte_info info;
	vaddr_t va = it->va + draw(c, it->n) * PAGE_SIZE;
	if (!syspte_lookup(R, va, &info) || info.base != it->va || info.npages != it->n || info.tag != it->tag ||
	    info.mapped != it->mn)
		bad(c->cpu, "a lookup of an own reservation differs", va, info.base);
}

static void unmap_item(struct cpu_state *c, struct item *it)
{
	if (it->mn && syspte_unmap(R, it->va, it->tag, it->mn) != SYSPTE_OK)
		bad(c->cpu, "unmap refused", it->va, it->mn);
	it->mn = 0;
}

static void map_item(struct cpu_state *c, struct item *it)
{
	uint64_t pfns[256], n = 1 + draw(c, it->n);
	for (uint64_t k = 0; k < n; k++)
		pfns[k] = 0x300 + k;
	if (it->mn)
		return unmap_item(c, it);
	if (syspte_map(R, it->va, it->tag, pfns, n, PT_CACHE_WB) != SYSPTE_OK)
		return bad(c->cpu, "map refused", it->va, n);
	it->mn = n;
}

static void free_item(struct cpu_state *c, struct item *it)
{
	unmap_item(c, it);
	unclaim(it);
	if (syspte_release(R, it->va, it->tag) != SYSPTE_OK)
		bad(c->cpu, "free refused", it->va, it->n);
}

static bool reserve(struct cpu_state *c, uint64_t n, uint32_t flags)
{
	if (c->nown == MAXL)
		return false;
	vaddr_t va = syspte_reserve(R, n, TAG_OF(c->cpu), flags);
	if (!va)
		return false;
	if (page_of(va) + n + guard > PAGES || (flags && (va >> PAGE_SHIFT) % n))
		bad(c->cpu, "a reservation misplaced", va, n);
	struct item *it = &c->own[c->nown++];
	*it = (struct item){ .va = va, .n = n, .tag = TAG_OF(c->cpu), .id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED) };
	claim(c->cpu, it);
	return true;
}

static void hand_off(struct cpu_state *c, unsigned k)
{
	struct cpu_state *to = &cpus[1 + draw(c, NCPUS - 1)];
	if (to == c)
		return;
	unmap_item(c, &c->own[k]);
	pthread_mutex_lock(&to->lock);
	bool room = to->ninbox < INBOX;
	if (room)
		to->inbox[to->ninbox++] = c->own[k];
	pthread_mutex_unlock(&to->lock);
	if (room)
		c->own[k] = c->own[--c->nown];
}

/* Frees what other CPUs handed this one: taken out under the inbox's mutex, freed after it (a CPU
 * blocked on a host mutex takes no TLB shootdown, so no region call is made holding one). */
static void free_inbox(struct cpu_state *c)
{
	struct item got[INBOX];
	pthread_mutex_lock(&c->lock);
	unsigned n = c->ninbox;
	memcpy(got, c->inbox, n * sizeof(got[0]));
	c->ninbox = 0;
	pthread_mutex_unlock(&c->lock);
	while (n)
		free_item(c, &got[--n]);
}

static void check_identity(unsigned cpu)
{
	struct syspte_stats s;
	syspte_get_stats(R, &s);
	if (s.free_pages + s.pages_reserved + s.live * guard != PAGES || s.cached_pages > s.free_pages)
		bad(cpu, "free + reserved + guards != region", s.free_pages, s.pages_reserved);
	if (syspte_check(R))
		bad(cpu, "syspte_check failed while the CPUs work", 0, 0);
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
		c->big_ok++;
	else
		c->big_refused++;
	if (c->nown && draw(c, 2))
		map_item(c, &c->own[draw(c, c->nown)]);
	if (k % 8 == 0)
		check_identity(c->cpu);
}

static void small_step(struct cpu_state *c)
{
	struct item *it = c->nown ? &c->own[draw(c, c->nown)] : NULL;
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
	failures = 0;
	bugcheck_set_hook(no_bugcheck);
	for (unsigned c = 0; c < NCPUS; c++) {
		cpus[c] = (struct cpu_state){ .cpu = c, .rng = 0x2545F4914F6CDD1DULL * (c + 1) + verifier,
					      .ops = c ? ops : ops / 4 };
		pthread_mutex_init(&cpus[c].lock, NULL);
	}
	fake_smp_run(NCPUS, cpu_main, NULL);
	struct syspte_stats s;
	syspte_get_stats(R, &s);
	ok(failures == 0, "%s: %u CPUs at once, %llu small calls each, CPU 0's %llu runs placed and %llu refused: no "
	   "overlap, every lookup, check and identity right", mode, NCPUS, (unsigned long long)ops,
	   (unsigned long long)cpus[0].big_ok, (unsigned long long)cpus[0].big_refused);
	ok(s.cache_drains > 0 && cpus[0].big_ok > 0 && s.cache_fast > 0, "%s: %llu drains ran among %llu calls "
	   "without the region's lock", mode, (unsigned long long)s.cache_drains, (unsigned long long)s.cache_fast);
	for (unsigned c = 0; c < NCPUS; c++) {
		fake_cpu_online((c + 1) % NCPUS, true);
		fake_cpu_online(fake_cpu, false);
		fake_cpu_set((c + 1) % NCPUS);
		while (cpus[c].nown)
			free_item(&cpus[fake_cpu], &cpus[c].own[--cpus[c].nown]);
		while (cpus[c].ninbox)
			free_item(&cpus[fake_cpu], &cpus[c].inbox[--cpus[c].ninbox]);
	}
	fake_cpu_online(0, true);
	fake_cpu_online(fake_cpu, false);
	fake_cpu_set(0);
	syspte_get_stats(R, &s);
	ok(failures == 0 && syspte_check(R) == 0 && s.free_pages == PAGES && s.live == 0 && s.pages_mapped == 0,
	   "%s: everything freed from other CPUs, the region whole", mode);
	bugcheck_set_hook(NULL);
	for (unsigned c = 0; c < NCPUS; c++)
		pthread_mutex_destroy(&cpus[c].lock);
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
