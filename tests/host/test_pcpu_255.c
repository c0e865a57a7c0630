/*
 * The region's per-CPU caches and the TLB shootdown on a machine of the kernel's 255 CPUs
 * (include/cpumask.h: CPU indexes 0..254, a chunk's owner byte up to 255), one host thread each
 * (fake_smp_run). The other threaded tests run four CPUs, all in the first word of a CPU mask and
 * owning chunks with owner bytes 1..4; here every word of a mask and the last owner byte are used:
 *  - each CPU, 12 times: reserves 1..16 pages (a cache's sizes; DIVISIBLE in round 8 when the size
 *    divides 64), maps its own frames there, writes them, hands the mapping to the next CPU in a
 *    ring over all 255 (so hand-overs cross from CPU 63 to 64, 127 to 128, 191 to 192 and 254 to
 *    0), which reads it back; then unmaps it, and the next CPU reads every page again, which must
 *    fault, through no stale translation, and frees the reservation into the owner's cache from
 *    its own CPU;
 *  - every page of a live reservation is claimed in a shadow by compare-exchange (an overlap is
 *    caught when it happens), no call bug-checks, and no read goes through a stale translation;
 *  - afterwards CPU 254's cache holds chunks (owner byte 255) and served calls without the
 *    region's lock, CPUs 0 and 254 both applied other CPUs' batches, the region checks clean and
 *    nothing leaked; then CPU 254 alone reserves until the region is full, which drains every one
 *    of the 255 caches: every free page is used, none is left in a cache, and all comes back.
 */
#include <stdlib.h>
#include <time.h>
#include "tap.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "reserved.h"
#include "phys.h"
#include "bugcheck.h"
#include "test_rng.h"
#include "cpu_race.h"

#define NCPUS ARCH_MAX_CPUS              /* 255: every CPU index the kernel runs */
#define PAGES 65536u                     /* the region: 1024 chunks, room for every cache to carve its own */
#define ROUNDS 12u
#define TAG_OF(cpu) (0x35353200u + (uint32_t)(cpu))   /* "?255", the CPU in its first byte */
#define WAIT_SECONDS 120

_Static_assert(NCPUS == 255, "the kernel's CPU limit, whose last index owns chunks as byte 255");

/* The mapping CPU i - 1 hands to CPU i. */
enum box_state { BOX_EMPTY, BOX_PUBLISHED, BOX_CHECKED, BOX_UNMAPPED };
struct box {
	uint64_t state;                   /* enum box_state */
	vaddr_t va;
	uint64_t pages, round;
	unsigned owner;
} __attribute__((aligned(64)));

static struct box boxes[NCPUS];
static uint32_t shadow[PAGES];
static uint64_t guard;
static uint64_t reads_bad, faults_missing, unexpected_faults, refused, finished;

/* What page k of CPU cpu's mapping of round r holds. */
static uint64_t pattern(unsigned cpu, uint64_t r, uint64_t k) { return 0x5D55000000000000ULL | (uint64_t)cpu << 32 | r << 16 | k; }

/* Waits for CPU cpu's condition, checking its own box and taking its mailbox meanwhile, as a kernel
 * loop waiting with interrupts disabled does; aborts when stuck. */
static void check_box(unsigned cpu);
static void wait_box(unsigned cpu, const struct box *b, uint64_t want)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(&b->state, __ATOMIC_ACQUIRE) != want) {
		check_box(cpu);
		arch_cpu_poll();
		arch_cpu_relax();
		if (time(NULL) > end) {
			printf("# CPU %u waited %d s for the next CPU: the test is stuck\n", cpu, WAIT_SECONDS);
			abort();
		}
	}
}

/* The receiver's part: reads a published mapping back; once the owner unmapped it, reads every
 * page again (each must fault, through no stale translation) and frees it from this CPU. */
static void check_box(unsigned cpu)
{
	struct box *b = &boxes[cpu];
	uint64_t s = __atomic_load_n(&b->state, __ATOMIC_ACQUIRE), v;
	if (s == BOX_PUBLISHED) {
		for (uint64_t k = 0; k < b->pages; k++)
			if (!fake_read(b->va + k * PAGE_SIZE, &v) || v != pattern(b->owner, b->round, k))
				__atomic_fetch_add(&reads_bad, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&b->state, BOX_CHECKED, __ATOMIC_RELEASE);
	} else if (s == BOX_UNMAPPED) {
		for (uint64_t k = 0; k < b->pages; k++)
			if (fake_read(b->va + k * PAGE_SIZE, &v))
				__atomic_fetch_add(&faults_missing, 1, __ATOMIC_RELAXED);
		struct race_item it = { .va = b->va, .n = b->pages };
		race_unclaim(shadow, guard, &it);
		if (syspte_release(reserved_region(), b->va, TAG_OF(b->owner)) != SYSPTE_OK)
			race_bad(cpu, "a handed reservation was not freed", b->va, b->owner);
		__atomic_store_n(&b->state, BOX_EMPTY, __ATOMIC_RELEASE);
	}
}

static void run(unsigned cpu, void *arg)
{
	(void)arg;
	struct syspte_region *r = reserved_region();
	struct box *out = &boxes[(cpu + 1) % NCPUS];
	uint64_t x = 0x2545F4914F6CDD1DULL * (cpu + 1);
	for (uint64_t round = 1; round <= ROUNDS; round++) {
		uint64_t n = 1 + test_rng_next(&x) % SYSPTE_CACHE_MAX_PAGES;
		uint32_t flags = round % 8 == 0 && 64 % n == 0 ? SYSPTE_FLAG_DIVISIBLE : 0;
		vaddr_t va = syspte_reserve(r, n, TAG_OF(cpu), flags);
		if (!va) {
			__atomic_fetch_add(&refused, 1, __ATOMIC_RELAXED);
			continue;
		}
		struct race_item it = { .va = va, .n = n, .id = race_new_id() };
		race_claim(shadow, guard, cpu, &it);
		paddr_t pa = phys_alloc(n, 0, UINT64_MAX);
		uint64_t pfns[SYSPTE_CACHE_MAX_PAGES];
		for (uint64_t k = 0; pa && k < n; k++)
			pfns[k] = (pa >> PAGE_SHIFT) + k;
		if (!pa || syspte_map(r, va, TAG_OF(cpu), pfns, n, PT_CACHE_WB) != SYSPTE_OK) {
			race_bad(cpu, "no frames, or a map refused", va, n);
			continue;
		}
		for (uint64_t k = 0; k < n; k++)
			if (!fake_write(va + k * PAGE_SIZE, pattern(cpu, round, k)))
				__atomic_fetch_add(&unexpected_faults, 1, __ATOMIC_RELAXED);
		wait_box(cpu, out, BOX_EMPTY);   /* the next CPU freed what it was handed last */
		out->va = va;   /* the state word is written only atomically: the next CPU polls it */
		out->pages = n;
		out->round = round;
		out->owner = cpu;
		__atomic_store_n(&out->state, BOX_PUBLISHED, __ATOMIC_RELEASE);
		wait_box(cpu, out, BOX_CHECKED);
		if (syspte_unmap(r, va, TAG_OF(cpu), n) != SYSPTE_OK)
			race_bad(cpu, "an unmap refused", va, n);
		phys_free(pa, n);
		__atomic_store_n(&out->state, BOX_UNMAPPED, __ATOMIC_RELEASE);   /* the next CPU frees it */
	}
	wait_box(cpu, out, BOX_EMPTY);
	__atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NCPUS) {
		check_box(cpu);
		arch_cpu_poll();
		arch_cpu_relax();
		if (time(NULL) > end)
			abort();
	}
}

int main(void)
{
	alarm(600);
	if (host_machine_create(256ULL << 20, (uint64_t)PAGES * PAGE_SIZE))
		return 1;
	struct syspte_region *r = reserved_region();
	guard = syspte_guard_pages(r);
	struct syspte_stats before, after, full;
	syspte_get_stats(r, &before);
	bugcheck_set_hook(race_bugcheck_is_failure);
	fake_stale_reset();
	fake_smp_run(NCPUS, run, NULL);
	bugcheck_set_hook(NULL);

	ok(race_failures == 0 && refused == 0, "%u CPUs, %u rounds each: no call refused or bug-checked, no page in two "
	   "live reservations (%llu failures, %llu refused)", NCPUS, ROUNDS, (unsigned long long)race_failures,
	   (unsigned long long)refused);
	ok(reads_bad == 0 && unexpected_faults == 0, "every mapping read back as written by the next CPU (%llu wrong, "
	   "%llu faults)", (unsigned long long)reads_bad, (unsigned long long)unexpected_faults);
	is(faults_missing, 0, "every page read by the next CPU after its owner's unmap faulted");
	is(fake_stale.hits, 0, "no read went through a stale translation");
	fake_stale_print();
	const struct syspte_cache *last = r->cache.cpu[NCPUS - 1];
	ok(last && last->fast > 0, "CPU %u's cache (owner byte %u) served %llu calls without the region's lock", NCPUS - 1,
	   NCPUS, (unsigned long long)(last ? last->fast : 0));
	ok(fake_cpu_stats(0)->received > 0 && fake_cpu_stats(NCPUS - 1)->received > 0 &&
	   fake_cpu_stats(NCPUS - 1)->rounds > 0, "CPUs 0 and %u applied other CPUs' batches (%llu, %llu), CPU %u sent "
	   "%llu rounds", NCPUS - 1, (unsigned long long)fake_cpu_stats(0)->received,
	   (unsigned long long)fake_cpu_stats(NCPUS - 1)->received, NCPUS - 1,
	   (unsigned long long)fake_cpu_stats(NCPUS - 1)->rounds);
	syspte_get_stats(r, &after);
	is(syspte_check(r), 0, "the region and all 255 caches are consistent");
	ok(after.live == before.live && after.free_pages == before.free_pages && after.pages_mapped == 0,
	   "no reservation or mapping leaked (%llu live, %llu free pages before; %llu, %llu after)",
	   (unsigned long long)before.live, (unsigned long long)before.free_pages, (unsigned long long)after.live,
	   (unsigned long long)after.free_pages);
	uint64_t caches = 0;
	for (unsigned c = 0; c < NCPUS; c++)
		caches += r->cache.cpu[c] && r->cache.cpu[c]->nchunks;
	ok(caches > NCPUS / 2 && after.cached_pages > 0, "%llu caches hold chunks, %llu free pages among them",
	   (unsigned long long)caches, (unsigned long long)after.cached_pages);

	/* CPU 254 alone fills the region: the largest runs first, halving to one page, so each NULL
	 * means no run of that length is left anywhere once every cache was drained. */
	fake_cpu_switch(NCPUS - 1);
	static vaddr_t v[PAGES];
	unsigned nv = 0;
	uint64_t used = 0;
	for (uint64_t size = PAGES; size; size /= 2)
		while (nv < PAGES && (v[nv] = syspte_reserve(r, size, TAG_OF(0), 0)) != 0)
			nv++, used += size + guard;
	syspte_get_stats(r, &full);
	ok(full.cache_drains > after.cache_drains && full.cached_pages == 0,
	   "filling the region drained the caches (%llu drains), none holds a free page (%llu)",
	   (unsigned long long)(full.cache_drains - after.cache_drains), (unsigned long long)full.cached_pages);
	ok(full.free_pages + used == after.free_pages && (guard || full.free_pages == 0),
	   "every page accounted for: %llu used, %llu left", (unsigned long long)used, (unsigned long long)full.free_pages);
	is(syspte_check(r), 0, "the full region is consistent");
	for (unsigned i = 0; i < nv; i++)
		syspte_release(r, v[i], TAG_OF(0));
	syspte_get_stats(r, &full);
	ok(full.live == before.live && full.free_pages == before.free_pages && syspte_check(r) == 0, "all back");
	fake_cpu_switch(0);
	host_machine_destroy();
	return tap_done();
}
