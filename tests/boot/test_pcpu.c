/*
 * Boot self-tests of the system PTE region's per-CPU caches (mm/syspte_cache.c) on every CPU. They
 * are named syspte_cache_* so that they run after region_a_reserve_without_table_memory_is_null
 * (the suite runs in name order): the exhaustion test makes every span's page table, for good.
 *
 *  - All CPUs at once, interrupts disabled (a call runs so): each keeps a few reservations of 1..16
 *    pages (some DIVISIBLE), frees one and reserves another, looks each up, and frees a reservation
 *    another CPU placed; every page of every reservation is claimed in a shared bitmap the moment it
 *    is returned, so an overlap fails at once. Then: every CPU's cache served it without the
 *    region's lock, syspte_check passes, and the statistics are what they were.
 *  - Exhaustion with the caches full: every CPU holds free chunks; reserving until NULL takes every
 *    page (the caches drained first), and each refusal comes only when no run is left. Skipped,
 *    saying why, where the machine cannot hold the page tables of the whole region.
 */
#include "ktest.h"
#include "wdm.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "reserved.h"
#include "phys.h"
#include "pt.h"
#include "smp.h"
#include "percpu.h"
#include "cpu_ring.h"
#include "arch_mm.h"
#include "kstring.h"

#define PCPU_TAG 0x55504370u             /* 'pCPU' */
#define PCPU_LIVE 6u                     /* reservations each CPU holds at once */
#define PCPU_ROUNDS 1500u                /* reserve+free pairs per CPU */
#define PCPU_CLAIM_PAGES 262144u         /* pages the claim bitmap covers (the default 1 GiB region) */

static struct {
	uint64_t claim[PCPU_CLAIM_PAGES / 64];   /* bit i: region page i belongs to a live reservation */
	vaddr_t handed[SMP_MAX_CPUS];            /* a reservation one CPU left for the next to free */
	uint64_t overlaps[SMP_MAX_CPUS], wrong[SMP_MAX_CPUS], refused[SMP_MAX_CPUS], done[SMP_MAX_CPUS];
	unsigned next[SMP_MAX_CPUS];
} pc;

/* Claims (on) or releases the pages of [va, va + n pages) in the bitmap; counts a page claimed
 * twice. */
static void pcpu_claim(unsigned cpu, vaddr_t va, uint64_t n, bool on)
{
	uint64_t first = (va - reserved_region()->base) >> PAGE_SHIFT;
	for (uint64_t i = first; i < first + n && i < PCPU_CLAIM_PAGES; i++) {
		uint64_t bit = 1ULL << (i % 64);
		if (on)
			pc.overlaps[cpu] += (__atomic_fetch_or(&pc.claim[i / 64], bit, __ATOMIC_ACQ_REL) & bit) != 0;
		else
			__atomic_fetch_and(&pc.claim[i / 64], ~bit, __ATOMIC_ACQ_REL);
	}
}

/* Frees what the previous CPU handed to this one, if anything. */
static void pcpu_take_handed(unsigned cpu)
{
	vaddr_t v = __atomic_exchange_n(&pc.handed[cpu], 0, __ATOMIC_ACQ_REL);
	struct syspte_info info;
	if (!v)
		return;
	if (!syspte_lookup(reserved_region(), v, &info) || info.base != v) {
		pc.wrong[cpu]++;
		return;
	}
	pcpu_claim(cpu, v, info.npages, false);
	MmFreeMappingAddress((PVOID)v, info.tag);
}

/* One CPU's part: PCPU_ROUNDS pairs, a reservation handed on now and then. */
static void pcpu_run(void *arg)
{
	(void)arg;
	unsigned cpu = this_cpu()->index;
	struct { vaddr_t va; uint64_t n; } live[PCPU_LIVE] = { { 0, 0 } };
	uint64_t x = 0x9E3779B97F4A7C15ULL * (cpu + 1);
	for (unsigned r = 0; r < PCPU_ROUNDS; r++) {
		unsigned s = r % PCPU_LIVE;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (live[s].va) {
			pcpu_claim(cpu, live[s].va, live[s].n, false);
			if (x % 16 == 0 && !__atomic_load_n(&pc.handed[pc.next[cpu]], __ATOMIC_ACQUIRE)) {
				pcpu_claim(cpu, live[s].va, live[s].n, true);   /* still live: the next CPU frees it */
				__atomic_store_n(&pc.handed[pc.next[cpu]], live[s].va, __ATOMIC_RELEASE);
			} else {
				MmFreeMappingAddress((PVOID)live[s].va, PCPU_TAG + cpu);
			}
		}
		uint64_t n = 1 + (x >> 8) % 16;
		ULONG flags = (x >> 16) % 8 ? 0 : MM_MAPPING_ADDRESS_DIVISIBLE;
		PVOID va = MmAllocateMappingAddressEx(n * PAGE_SIZE, PCPU_TAG + cpu, flags);
		live[s].va = (vaddr_t)va;
		live[s].n = n;
		if (!va) {
			pc.refused[cpu]++;
			continue;
		}
		struct syspte_info info;
		if (!syspte_lookup(reserved_region(), (vaddr_t)va + (n - 1) * PAGE_SIZE, &info) || info.base != (vaddr_t)va ||
		    info.npages != n || info.tag != PCPU_TAG + cpu || (flags && ((vaddr_t)va / PAGE_SIZE) % n))
			pc.wrong[cpu]++;
		pcpu_claim(cpu, (vaddr_t)va, n, true);
		pcpu_take_handed(cpu);
	}
	for (unsigned s = 0; s < PCPU_LIVE; s++)
		if (live[s].va) {
			pcpu_claim(cpu, live[s].va, live[s].n, false);
			MmFreeMappingAddress((PVOID)live[s].va, PCPU_TAG + cpu);
		}
	__atomic_store_n(&pc.done[cpu], 1, __ATOMIC_RELEASE);
}


KTEST(syspte_cache_all_cpus_reserve_and_free_at_once)
{
	struct syspte_region *r = reserved_region();
	cpumask_t online = smp_online_mask();
	unsigned n = cpumask_weight(online);
	if (n < 2)
		KTEST_SKIP("one CPU online: nothing runs at once");
	memset(&pc, 0, sizeof(pc));
	cpu_ring_fill(online, pc.next);
	uint64_t fast0[SMP_MAX_CPUS] = { 0 };
	for (unsigned i = 0; i < SMP_MAX_CPUS; i++)
		fast0[i] = r->cache.cpu[i] ? r->cache.cpu[i]->fast : 0;
	struct syspte_stats before, after;
	syspte_get_stats(r, &before);
	smp_call_many(online, pcpu_run, NULL);
	for (unsigned i = 0; i < SMP_MAX_CPUS; i++)   /* what was handed on last */
		if (pc.handed[i]) {
			struct syspte_info info;
			if (syspte_lookup(r, pc.handed[i], &info))
				MmFreeMappingAddress((PVOID)pc.handed[i], info.tag);
			pc.handed[i] = 0;
		}
	uint64_t overlaps = 0, wrong = 0, refused = 0;
	cpumask_for_each(i, online) {
		KEXPECT(pc.done[i], "CPU %u ran its part", i);
		uint64_t fast = r->cache.cpu[i] ? r->cache.cpu[i]->fast - fast0[i] : 0;
		KEXPECT(fast > 0, "CPU %u: %llu reserves and frees without the region's lock", i, (unsigned long long)fast);
		overlaps += pc.overlaps[i], wrong += pc.wrong[i], refused += pc.refused[i];
	}
	syspte_get_stats(r, &after);
	kprintf("# %u CPUs, %u reserve+free pairs each: %llu calls without the region's lock, %llu with it, %llu free pages cached\n",
		n, PCPU_ROUNDS, (unsigned long long)(after.cache_fast - before.cache_fast),
		(unsigned long long)(after.cache_slow - before.cache_slow), (unsigned long long)after.cached_pages);
	KEXPECT_EQ(overlaps, 0, "no page was in two live reservations at once");
	KEXPECT_EQ(wrong, 0, "every lookup found its reservation, every DIVISIBLE one divisible");
	KEXPECT_EQ(refused, 0, "nothing refused");
	KEXPECT_EQ(syspte_check(r), 0, "the region and every cache are consistent");
	KEXPECT(after.live == before.live && after.free_pages == before.free_pages && after.pages_reserved == before.pages_reserved,
		"no reservation leaked (%llu live before, %llu after; %llu free before, %llu after)",
		(unsigned long long)before.live, (unsigned long long)after.live, (unsigned long long)before.free_pages,
		(unsigned long long)after.free_pages);
}

/* Each CPU reserves a page and frees it, so its cache holds a chunk of free pages. */
static void pcpu_warm(void *arg)
{
	(void)arg;
	PVOID va = MmAllocateMappingAddress(PAGE_SIZE, PCPU_TAG);
	if (va)
		MmFreeMappingAddress(va, PCPU_TAG);
}

KTEST(syspte_cache_exhaustion_drains_every_cpu)
{
	struct syspte_region *r = reserved_region();
	struct syspte_stats s0, full;
	struct phys_stats ps;
	syspte_get_stats(r, &s0);
	phys_get_stats(&ps);
	/* Filling the region makes every span's table, kept for good: as region_exhaustion_and_refill,
	 * the fill is for a machine whose free RAM holds them twice over. */
	uint64_t missing = s0.npages / PT_ENTRIES - s0.table_pages;
	if (missing > ps.free_pages / 2)
		KTEST_SKIP("the region's missing page tables (%llu MiB) exceed half the free RAM (%llu MiB)",
			   (unsigned long long)(missing >> 8), (unsigned long long)(ps.free_pages >> 8));
	smp_call_many(smp_online_mask(), pcpu_warm, NULL);
	syspte_get_stats(r, &s0);
	KEXPECT(s0.cached_pages >= SYSPTE_CHUNK_PAGES, "the CPUs' caches hold %llu free pages", (unsigned long long)s0.cached_pages);
	static PVOID v[2048];
	unsigned n = 0;
	uint64_t used = 0, g = syspte_guard_pages(r);
	/* the largest run first, then halves down to one page: each NULL means no run of that length is left */
	for (uint64_t size = 1ULL << 19; size; size /= 2) {
		PVOID p;
		while (n < ARRAY_SIZE(v) && (p = MmAllocateMappingAddress(size * PAGE_SIZE, PCPU_TAG)))
			v[n++] = p, used += size + g;
	}
	syspte_get_stats(r, &full);
	KEXPECT(n < ARRAY_SIZE(v), "the region filled before the array did");
	KEXPECT(full.cache_drains > s0.cache_drains, "the caches were drained (%llu drains)",
		(unsigned long long)(full.cache_drains - s0.cache_drains));
	KEXPECT_EQ(full.free_pages + used, s0.free_pages, "every page accounted for");
	if (!g)
		KEXPECT_EQ(full.free_pages, 0, "no page left anywhere, none in a cache");
	KEXPECT_EQ(full.cached_pages, 0, "the caches hold nothing");
	KEXPECT_EQ(syspte_check(r), 0);
	for (unsigned i = 0; i < n; i++)
		MmFreeMappingAddress(v[i], PCPU_TAG);
	struct syspte_stats s1;
	syspte_get_stats(r, &s1);
	KEXPECT(s1.free_pages == s0.free_pages && s1.live == s0.live, "all back");
}
