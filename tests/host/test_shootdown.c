/*
 * Host tests of the cross-CPU TLB shootdown on the fake machine's CPUs (tests/host/fake_arch.h: one
 * thread per CPU, a software TLB each, filled through the fake MMU; a read through a stale
 * translation is counted).
 *
 *  - Cross-CPU staleness, per path: CPUs 1..3 read a mapping (their TLBs hold it), CPU 0 changes it
 *    (MmUnmapReservedMapping then a map of other pages at the same address, MmUnmapLockedPages,
 *    pt_unmap of pages and of a 2 MiB leaf, pt_protect to read-only, also of a page inside a 2 MiB
 *    leaf) with 1 to 100 pages, so both the per-page and the flush-everything paths run, with
 *    global translations; once the call returns, every CPU reads the new state at once, with no
 *    stale hit, after exactly the rounds the call owes (one per batch), each applied by every
 *    receiver with the same threshold.
 *  - A map needs no shootdown: a CPU that read the address before (a fault) reads the new mapping
 *    at once, and no batch was issued.
 *  - Deadlock freedom: four CPUs unmapping at once with interrupts disabled; a CPU spinning with
 *    interrupts disabled for a lock whose holder waits for the issuer of a shootdown; a round stops
 *    waiting for a CPU taken out of the online mask (a stopped CPU), and a CPU alone sends nothing.
 *  - The interrupt model: a batch or an arch_cpu_call waiting for a CPU whose interrupts are
 *    disabled (fake_cpu_mail_waiting says so) is taken when its outermost section restores them,
 *    not at an inner restore; generated sequences of nested sections, in child processes, with and
 *    without one restore out of order: the fake machine panics exactly at a wrong one.
 *  - Concurrency: four CPUs reserve, map, write, hand their mapping to the next CPU (which reads and
 *    adds to a shared counter through it), unmap and free at once; then no overlap (syspte_check),
 *    no leak (region, frames, pool), no lost update (the shared counter) and no stale hit.
 *  - The fake machine's log of batches (tests/host/fake_arch.h), kept per CPU, while four CPUs issue
 *    generated batches at once (and in turn) or unmap at once: each CPU's counts and their sums
 *    exact, and the first FAKE_TLB_LOG batches each copied once, as issued, in an order that keeps
 *    each CPU's own (and the turns'), below and past the log's size.
 *
 * TLB_INJECT=name (environment) deletes one part of the shootdown (include/tlb_batch.h) for the
 * whole run; tools/shootdown-deletions.sh runs every deletion and requires this test to fail.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "pt.h"
#include "phys.h"
#include "pool.h"
#include "syspte.h"
#include "reserved.h"
#include "spinlock.h"
#include "tlb_batch.h"
#include "test_rng.h"

#define NCPU 4
#define TAG 0x64685354u                /* 'TShd' */
#define PT_TEST_VA 0xffffe00000000000ULL   /* scratch addresses in the machine's tables (FB_BASE) */
#define WAIT_SECONDS 30

static const struct { const char *name; unsigned bits; } injections[] = {
	{ "round", TLB_INJECT_NO_ROUND },
	{ "recv-pages", TLB_INJECT_RECV_NO_PAGES },
	{ "recv-all", TLB_INJECT_RECV_NO_ALL },
	{ "recv-all-local", TLB_INJECT_RECV_ALL_LOCAL },
	{ "local", TLB_INJECT_LOCAL },
	{ "region-unmap", TLB_INJECT_NO_ROUND_FROM(TLB_FROM_REGION_UNMAP) },
	{ "pt-unmap", TLB_INJECT_NO_ROUND_FROM(TLB_FROM_PT_UNMAP) },
	{ "pt-protect", TLB_INJECT_NO_ROUND_FROM(TLB_FROM_PT_PROTECT) },
};

/* ---------------------------------------------------------------- helpers */

static PHYSICAL_ADDRESS phys(long long v) { PHYSICAL_ADDRESS p; p.QuadPart = v; return p; }

/* What a test word holds: page k of the mapping made in round r by CPU cpu. */
static uint64_t pattern(unsigned cpu, uint64_t r, uint64_t k) { return 0x5D00000000000000ULL | (uint64_t)cpu << 48 | r << 20 | k; }

/* Fills word 0 of every frame of mdl, through the direct map, with pattern(cpu, r, k). */
static void fill_frames(PMDL mdl, unsigned cpu, uint64_t r)
{
	PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
	for (uint64_t k = 0; k < mdl_span_pages(mdl); k++)
		*(volatile uint64_t *)arch_phys_to_virt(pfn[k] << PAGE_SHIFT) = pattern(cpu, r, k);
}

/* Frames for pages pages, each word 0 set to pattern(cpu, r, k). */
static PMDL frames(uint64_t pages, unsigned cpu, uint64_t r)
{
	PMDL mdl = MmAllocatePagesForMdlEx(phys(0), phys(-1), phys(0), pages * PAGE_SIZE, MmCached, 0);
	if (!mdl || mdl_span_pages(mdl) != pages) {
		printf("# no frames for %llu pages\n", (unsigned long long)pages);
		abort();
	}
	fill_frames(mdl, cpu, r);
	return mdl;
}

static void frames_free(PMDL mdl)
{
	MmFreePagesFromMdl(mdl);
	ExFreePool(mdl);
}

/* Shared steps of a scripted run: a CPU waits for a step taking its mailbox, as a kernel loop. */
static uint64_t step;
static unsigned ready;

static void wait_for(uint64_t *p, uint64_t want)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < want) {
		arch_cpu_poll();
		arch_cpu_relax();
		if (time(NULL) > end) {
			printf("# CPU %u waited %d s for a step: the test is stuck\n", fake_cpu, WAIT_SECONDS);
			abort();
		}
	}
}

static void wait_for32(unsigned *p, unsigned want)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < want) {
		arch_cpu_poll();
		arch_cpu_relax();
		if (time(NULL) > end) {
			printf("# CPU %u waited %d s for the others: the test is stuck\n", fake_cpu, WAIT_SECONDS);
			abort();
		}
	}
}

static void set_step(uint64_t s) { __atomic_store_n(&step, s, __ATOMIC_RELEASE); }

/* ---------------------------------------------------------------- cross-CPU staleness */

enum xkind { X_REGION_REMAP, X_UNMAP_LOCKED, X_PT_UNMAP, X_PT_UNMAP_2M, X_PT_PROTECT, X_PT_PROTECT_IN_2M };

static const char *const xkind_name[] = {
	[X_REGION_REMAP] = "MmUnmapReservedMapping, then other pages mapped there",
	[X_UNMAP_LOCKED] = "MmUnmapLockedPages",
	[X_PT_UNMAP] = "pt_unmap",
	[X_PT_UNMAP_2M] = "pt_unmap of a 2 MiB leaf",
	[X_PT_PROTECT] = "pt_protect to read-only",
	[X_PT_PROTECT_IN_2M] = "pt_protect of one page inside a 2 MiB leaf",
};

/* One case: what CPU 0 sets up and changes, and what every CPU must then see. */
struct xcase {
	enum xkind kind;
	uint64_t pages;              /* pages mapped (and read by every CPU) */
	vaddr_t va;
	PMDL before, after;          /* region cases: the frames mapped before and after */
	paddr_t pa;                  /* page-table cases: the frames */
	uint64_t rounds;             /* rounds CPU 0 sent for the change */
	/* per CPU, after the change: */
	uint64_t wrong[NCPU];        /* words that read other than what the change left */
	uint64_t received[NCPU], received_all[NCPU];
	bool filled[NCPU];           /* the CPU's TLB held every page before the change */
};

/* What page k of case c reads after the change: the new frame's word, the old one, or a fault (as
 * -1, for a read that must fault). */
static uint64_t x_expect(const struct xcase *c, uint64_t k)
{
	switch (c->kind) {
	case X_REGION_REMAP: return pattern(0, 2, k);
	case X_PT_PROTECT: case X_PT_PROTECT_IN_2M: return pattern(0, 1, k);
	default: return UINT64_MAX;
	}
}

/* Reads page k of case c as the running CPU: the word, or UINT64_MAX on a fault. */
static uint64_t x_read(const struct xcase *c, uint64_t k)
{
	uint64_t v;
	return fake_read(c->va + k * PAGE_SIZE, &v) ? v : UINT64_MAX;
}

/* The pages of case c every CPU reads: all of them, or for a 2 MiB leaf a spread of them. */
static uint64_t x_page(const struct xcase *c, uint64_t i)
{
	return c->pages <= 128 || i == 1 ? i : i * (c->pages / 64);   /* page 1: the one reprotected */
}
static uint64_t x_count(const struct xcase *c) { return c->pages <= 128 ? c->pages : 64; }

/* CPU 0: maps case c (before the run, frames with pattern(0, 1, k)). */
static void x_setup(struct xcase *c)
{
	struct pt *pt = host_machine_pt();
	switch (c->kind) {
	case X_REGION_REMAP:
		c->before = frames(c->pages, 0, 1);
		c->after = frames(c->pages, 0, 2);
		c->va = (vaddr_t)MmAllocateMappingAddress(c->pages * PAGE_SIZE, TAG);
		ok(c->va && MmMapLockedPagesWithReservedMapping((PVOID)c->va, TAG, c->before, MmCached), "map %llu pages",
		   (unsigned long long)c->pages);
		break;
	case X_UNMAP_LOCKED:
		c->before = frames(c->pages, 0, 1);
		c->va = (vaddr_t)MmMapLockedPagesSpecifyCache(c->before, KernelMode, MmCached, NULL, 0, 0);
		ok(c->va != 0, "MmMapLockedPagesSpecifyCache of %llu pages", (unsigned long long)c->pages);
		break;
	case X_PT_UNMAP: case X_PT_PROTECT:
	case X_PT_UNMAP_2M: case X_PT_PROTECT_IN_2M: {
		bool large = c->kind == X_PT_UNMAP_2M || c->kind == X_PT_PROTECT_IN_2M;
		/* A 2 MiB leaf needs a 2 MiB slot where no table sits yet: one of its own per case. */
		c->va = large ? PT_TEST_VA + SIZE_2M * (2 + (uint64_t)c->kind) : PT_TEST_VA;
		c->pa = large ? phys_alloc_aligned(c->pages, c->pages, 0, UINT64_MAX) : phys_alloc(c->pages, 0, UINT64_MAX);
		for (uint64_t k = 0; k < c->pages; k++)
			*(volatile uint64_t *)arch_phys_to_virt(c->pa + k * PAGE_SIZE) = pattern(0, 1, k);
		ok(c->pa && pt_map(pt, c->va, c->pa, c->pages * PAGE_SIZE, PT_PROT_W | PT_PROT_G,
				   large ? PT_SIZE_2M : PT_SIZE_4K) == PT_OK, "pt_map %llu pages%s", (unsigned long long)c->pages,
		   large ? " as one 2 MiB leaf" : "");
		uint64_t size = 0;
		ok(pt_query(pt, c->va, NULL, NULL, &size) && size == (large ? SIZE_2M : PAGE_SIZE), "mapped with %s pages",
		   large ? "2 MiB" : "4 KiB");
		break;
	}
	}
}

/* CPU 0: the change under test; returns when the call did. */
static void x_change(struct xcase *c)
{
	struct pt *pt = host_machine_pt();
	switch (c->kind) {
	case X_REGION_REMAP:
		MmUnmapReservedMapping((PVOID)c->va, TAG, c->before);
		MmMapLockedPagesWithReservedMapping((PVOID)c->va, TAG, c->after, MmCached);
		break;
	case X_UNMAP_LOCKED:
		MmUnmapLockedPages((PVOID)c->va, c->before);
		break;
	case X_PT_UNMAP: case X_PT_UNMAP_2M:
		pt_unmap(pt, c->va, c->pages * PAGE_SIZE);
		break;
	case X_PT_PROTECT:
		pt_protect(pt, c->va, c->pages * PAGE_SIZE, PT_PROT_G);
		break;
	case X_PT_PROTECT_IN_2M:
		pt_protect(pt, c->va + PAGE_SIZE, PAGE_SIZE, PT_PROT_G);
		break;
	}
}

/* CPU 0: undoes case c after the run. */
static void x_teardown(struct xcase *c)
{
	struct pt *pt = host_machine_pt();
	switch (c->kind) {
	case X_REGION_REMAP:
		MmUnmapReservedMapping((PVOID)c->va, TAG, c->after);
		MmFreeMappingAddress((PVOID)c->va, TAG);
		frames_free(c->before);
		frames_free(c->after);
		break;
	case X_UNMAP_LOCKED:
		frames_free(c->before);
		break;
	default:
		if (c->kind != X_PT_UNMAP && c->kind != X_PT_UNMAP_2M)
			pt_unmap(pt, c->va, c->pages * PAGE_SIZE);
		phys_free(c->pa, c->pages);
	}
}

/* Every CPU's part: read every page (filling its TLB), then, once CPU 0's change returned, read
 * them again and count what differs from what the change left; a write to a page made read-only
 * must fault. CPU 0 reads too (its own invalidation). */
static void x_run(unsigned cpu, void *arg)
{
	struct xcase *c = arg;
	bool filled = true;
	for (uint64_t i = 0; i < x_count(c); i++) {
		uint64_t k = x_page(c, i);
		filled &= x_read(c, k) == pattern(0, 1, k) && fake_tlb_holds(c->va + k * PAGE_SIZE);
	}
	c->filled[cpu] = filled;
	uint64_t received = fake_cpu_stats(cpu)->received, all = fake_cpu_stats(cpu)->received_all;
	__atomic_fetch_add(&ready, 1, __ATOMIC_ACQ_REL);
	if (cpu == 0) {
		wait_for32(&ready, NCPU);
		uint64_t rounds = fake_cpu_stats(0)->rounds;
		x_change(c);
		c->rounds = fake_cpu_stats(0)->rounds - rounds;
		set_step(1);
	} else {
		wait_for(&step, 1);
	}
	uint64_t wrong = 0;
	for (uint64_t i = 0; i < x_count(c); i++) {
		uint64_t k = x_page(c, i);
		uint64_t want = x_expect(c, k);
		if (c->kind == X_PT_PROTECT_IN_2M && k != 1)
			want = pattern(0, 1, k);
		if (c->kind == X_UNMAP_LOCKED && x_read(c, k) != UINT64_MAX)
			wrong++;   /* the address may be reserved again by now, but not mapped */
		else if (c->kind != X_UNMAP_LOCKED && x_read(c, k) != want)
			wrong++;
		bool ro = c->kind == X_PT_PROTECT || (c->kind == X_PT_PROTECT_IN_2M && k == 1);
		if (ro && fake_write(c->va + k * PAGE_SIZE, 0xBAD))
			wrong++;
	}
	c->wrong[cpu] = wrong;
	c->received[cpu] = fake_cpu_stats(cpu)->received - received;
	c->received_all[cpu] = fake_cpu_stats(cpu)->received_all - all;
}

/* The rounds a change of case c owes: one per batch; a change that cuts a 2 MiB leaf flushes the
 * split first, in a batch of its own; the region's remap issues none for the map. */
static uint64_t x_rounds(const struct xcase *c) { return c->kind == X_PT_PROTECT_IN_2M ? 2 : 1; }

static void test_cross_cpu(enum xkind kind, uint64_t pages)
{
	struct xcase c = { .kind = kind, .pages = pages };
	x_setup(&c);
	step = 0;
	ready = 0;
	fake_stale_reset();
	fake_smp_run(NCPU, x_run, &c);
	uint64_t wrong = 0, filled = 0;
	bool received = true;
	/* Above TLB_BATCH_PAGES pages a batch is a flush of everything, and a 2 MiB leaf is one entry. */
	bool all = kind != X_PT_UNMAP_2M && kind != X_PT_PROTECT_IN_2M && pages > TLB_BATCH_PAGES;
	for (unsigned i = 0; i < NCPU; i++) {
		wrong += c.wrong[i];
		filled += c.filled[i];
		if (i)
			received &= c.received[i] == x_rounds(&c) && c.received_all[i] == (all ? x_rounds(&c) : 0);
	}
	const char *what = xkind_name[kind];
	is(filled, NCPU, "%s, %llu pages: every CPU's TLB held the mapping first", what, (unsigned long long)pages);
	is(wrong, 0, "%s, %llu pages: every CPU reads the new state at once", what, (unsigned long long)pages);
	is(fake_stale.hits, 0, "%s, %llu pages: no read went through a stale translation", what, (unsigned long long)pages);
	fake_stale_print();
	if (!received || c.rounds != x_rounds(&c))
		for (unsigned i = 0; i < NCPU; i++)
			printf("# CPU %u: %llu received, %llu of everything (CPU 0 sent %llu rounds)\n", i,
			       (unsigned long long)c.received[i], (unsigned long long)c.received_all[i], (unsigned long long)c.rounds);
	ok(c.rounds == x_rounds(&c) && received, "%s, %llu pages: %llu round(s), each applied once by every other CPU, %s",
	   what, (unsigned long long)pages, (unsigned long long)x_rounds(&c), all ? "as a flush of everything" : "page by page");
	x_teardown(&c);
}

/* ---------------------------------------------------------------- a map needs no shootdown */

static struct { vaddr_t va; PMDL mdl; uint64_t before_fault, after; uint64_t flushes, rounds; } nomap;

static void nomap_run(unsigned cpu, void *arg)
{
	(void)arg;
	uint64_t v;
	if (cpu == 1)
		nomap.before_fault = !fake_read(nomap.va, &v) && !fake_tlb_holds(nomap.va);
	__atomic_fetch_add(&ready, 1, __ATOMIC_ACQ_REL);
	if (cpu == 0) {
		wait_for32(&ready, NCPU);
		uint64_t flushes = fake_tlb.flushes, rounds = fake_cpu_stats(0)->rounds;
		MmMapLockedPagesWithReservedMapping((PVOID)nomap.va, TAG, nomap.mdl, MmCached);
		nomap.flushes = fake_tlb.flushes - flushes;
		nomap.rounds = fake_cpu_stats(0)->rounds - rounds;
		set_step(1);
	} else {
		wait_for(&step, 1);
	}
	if (cpu == 1 && fake_read(nomap.va, &v))
		nomap.after = v;
}

static void test_map_needs_no_shootdown(void)
{
	nomap.mdl = frames(4, 0, 7);
	nomap.va = (vaddr_t)MmAllocateMappingAddress(4 * PAGE_SIZE, TAG);
	step = 0;
	ready = 0;
	fake_smp_run(NCPU, nomap_run, NULL);
	ok(nomap.before_fault, "a read of the unmapped address faults and caches nothing");
	ok(nomap.flushes == 0 && nomap.rounds == 0, "the map issues no batch and no round");
	is(nomap.after, pattern(0, 7, 0), "the other CPU reads the new mapping at once");
	MmUnmapReservedMapping((PVOID)nomap.va, TAG, nomap.mdl);
	MmFreeMappingAddress((PVOID)nomap.va, TAG);
	frames_free(nomap.mdl);
}

/* ---------------------------------------------------------------- deadlock freedom */

#define CROSS_ROUNDS 200
static uint64_t cross_done[NCPU], cross_irqs_on[NCPU];

/* Each CPU at once, interrupts disabled throughout: reserve, map, touch, unmap, free. */
static void cross_run(unsigned cpu, void *arg)
{
	(void)arg;
	PMDL mdl = frames(40, cpu, 3);
	__atomic_fetch_add(&ready, 1, __ATOMIC_ACQ_REL);
	wait_for32(&ready, NCPU);
	uint64_t f = arch_irq_save();
	for (uint64_t r = 0; r < CROSS_ROUNDS; r++) {
		uint64_t pages = 1 + (r * 7 + cpu) % 40;
		PVOID va = MmAllocateMappingAddress(pages * PAGE_SIZE, TAG);
		MDL *part = IoAllocateMdl((PVOID)0x10000, (ULONG)(pages * PAGE_SIZE), FALSE, FALSE, NULL);
		memcpy(MmGetMdlPfnArray(part), MmGetMdlPfnArray(mdl), pages * sizeof(PFN_NUMBER));
		part->MdlFlags |= MDL_PAGES_LOCKED;
		uint64_t v = 0;
		if (va && MmMapLockedPagesWithReservedMapping(va, TAG, part, MmCached)) {
			bool read = fake_read((vaddr_t)va, &v) && v == pattern(cpu, 3, 0);
			MmUnmapReservedMapping(va, TAG, part);
			cross_done[cpu] += read;
		}
		cross_irqs_on[cpu] += arch_irqs_enabled();
		MmFreeMappingAddress(va, TAG);
		IoFreeMdl(part);
	}
	arch_irq_restore(f);
	frames_free(mdl);
}

static void test_unmapping_at_once_with_interrupts_off(void)
{
	uint64_t rounds[NCPU], received[NCPU];
	ready = 0;
	for (unsigned i = 0; i < NCPU; i++)
		rounds[i] = fake_cpu_stats(i)->rounds, received[i] = fake_cpu_stats(i)->received;
	alarm(120);
	fake_smp_run(NCPU, cross_run, NULL);
	alarm(0);
	uint64_t done = 0, sent = 0, got = 0, each = true, irqs_on = 0;
	for (unsigned i = 0; i < NCPU; i++) {
		done += cross_done[i];
		irqs_on += cross_irqs_on[i];
		sent += fake_cpu_stats(i)->rounds - rounds[i];
		got += fake_cpu_stats(i)->received - received[i];
		each &= fake_cpu_stats(i)->rounds - rounds[i] == CROSS_ROUNDS;
	}
	is(done, NCPU * CROSS_ROUNDS, "%d CPUs each unmapped %d times at once, interrupts disabled: all finished", NCPU,
	   CROSS_ROUNDS);
	ok(each && irqs_on == 0, "one round per unmap, every one issued with interrupts disabled");
	is(got, sent * (NCPU - 1), "every round applied by each of the %d other CPUs", NCPU - 1);
}

static spinlock_t held = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-held");
static struct { uint64_t holding, spinning, unmapped, spinner_acked, spinner_got_lock; PMDL mdl; PVOID va; } sp;

/*
 * CPU 1 holds a lock and waits (polling) until CPU 0's unmap returned; CPU 2 spins for that lock
 * with interrupts disabled meanwhile; CPU 0 unmaps once CPU 2 spins, so its round needs CPU 2's
 * acknowledgement, which only the poll in spin_lock can give. CPU 3 idles.
 */
static void spin_run(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		uint64_t f = spin_lock(&held);
		__atomic_store_n(&sp.holding, 1, __ATOMIC_RELEASE);
		wait_for(&sp.unmapped, 1);
		sp.spinner_acked = fake_cpu_stats(2)->received;   /* read before the release: CPU 2 still spins */
		spin_unlock(&held, f);
	} else if (cpu == 2) {
		wait_for(&sp.holding, 1);
		__atomic_store_n(&sp.spinning, 1, __ATOMIC_RELEASE);
		uint64_t f = spin_lock(&held);
		sp.spinner_got_lock = 1;
		spin_unlock(&held, f);
	} else if (cpu == 0) {
		wait_for(&sp.spinning, 1);
		usleep(20000);   /* CPU 2 is in spin_lock by now (it polls there; the test holds either way) */
		MmUnmapReservedMapping(sp.va, TAG, sp.mdl);
		__atomic_store_n(&sp.unmapped, 1, __ATOMIC_RELEASE);
	}
}

static void test_spinning_cpu_acknowledges(void)
{
	sp.mdl = frames(2, 0, 4);
	sp.va = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG);
	MmMapLockedPagesWithReservedMapping(sp.va, TAG, sp.mdl, MmCached);
	uint64_t before = fake_cpu_stats(2)->received;
	alarm(120);
	fake_smp_run(NCPU, spin_run, NULL);
	alarm(0);
	ok(sp.unmapped && sp.spinner_got_lock, "the unmap returned while a CPU spun for a lock whose holder waited for it");
	is(sp.spinner_acked - before, 1, "the spinning CPU acknowledged the round before it had the lock");
	MmFreeMappingAddress(sp.va, TAG);
	frames_free(sp.mdl);
}

static struct { uint64_t go, stop, unmapped, received, before; PMDL mdl; PVOID va; } off;

/* CPU 1 stops answering (interrupts disabled, no poll) as a CPU halted by smp_stop_others; CPU 2
 * takes it out of the online mask after a while, as smp_stop_others does; CPU 0's unmap must then
 * end without it. */
static void offline_run(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		uint64_t f = arch_irq_save();
		off.before = fake_cpu_stats(1)->received;
		__atomic_store_n(&off.go, 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&off.stop, __ATOMIC_ACQUIRE))
			sched_yield();   /* halted: takes nothing */
		off.received = fake_cpu_stats(1)->received - off.before;
		arch_irq_restore(f);
	} else if (cpu == 2) {
		wait_for(&off.go, 1);
		usleep(50000);
		fake_cpu_online(1, false);
	} else if (cpu == 0) {
		wait_for(&off.go, 1);
		MmUnmapReservedMapping(off.va, TAG, off.mdl);
		__atomic_store_n(&off.unmapped, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&off.stop, 1, __ATOMIC_RELEASE);
	}
}

static void test_stopped_cpu_is_not_waited_for(void)
{
	off.mdl = frames(1, 0, 5);
	off.va = MmAllocateMappingAddress(PAGE_SIZE, TAG);
	MmMapLockedPagesWithReservedMapping(off.va, TAG, off.mdl, MmCached);
	alarm(120);
	fake_smp_run(NCPU, offline_run, NULL);
	alarm(0);
	ok(off.unmapped && off.received == 0, "a round ends without the CPU that left the online mask unanswered");
	MmFreeMappingAddress(off.va, TAG);
	frames_free(off.mdl);

	/* One CPU online, as before the others start: nothing is sent. */
	PMDL mdl = frames(1, 0, 6);
	PVOID va = MmAllocateMappingAddress(PAGE_SIZE, TAG);
	MmMapLockedPagesWithReservedMapping(va, TAG, mdl, MmCached);
	uint64_t rounds = fake_cpu_stats(0)->rounds;
	MmUnmapReservedMapping(va, TAG, mdl);
	ok(cpumask_equal(arch_cpus_online(), cpumask_of(0)) && fake_cpu_stats(0)->rounds == rounds, "alone online, a CPU sends no round");
	MmFreeMappingAddress(va, TAG);
	frames_free(mdl);
}

static struct {
	uint64_t go, nested_took, outer_took, waiting_before, waiting_after, call_ran, call_ran_inner;
	uint64_t sender_done;   /* CPU 0's unmap or call returned (only possible first if it posted nothing) */
	bool by_call;
	PMDL mdl;
	PVOID va;
} irq;

/* The call of the arch_cpu_call case: counts its runs. */
static void irq_call_fn(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&irq.call_ran, 1, __ATOMIC_RELAXED);
}

/* CPU 1 closes two interrupt sections while CPU 0 waits for it (its unmap's shootdown, or a call
 * it posted with arch_cpu_call): with interrupts disabled it takes nothing (it neither polls nor
 * reads through its MMU) though its mailbox says something waits, the inner restore leaves them
 * disabled and takes nothing, and the outer one, as hardware takes a pending interrupt at sti,
 * takes what waits before returning. CPU 1 waits for the mail until it comes or CPU 0's call has
 * returned: a sender that waits for CPU 1 cannot return first, so that only ends the wait when the
 * sender posted nothing (a deleted round), which the checks then report at once instead of after
 * WAIT_SECONDS. */
static void irq_run(unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		uint64_t outer = arch_irq_save(), inner = arch_irq_save();
		__atomic_store_n(&irq.go, 1, __ATOMIC_RELEASE);
		time_t end = time(NULL) + WAIT_SECONDS;
		while (!fake_cpu_mail_waiting(1) && !__atomic_load_n(&irq.sender_done, __ATOMIC_ACQUIRE) &&
		       time(NULL) <= end)
			sched_yield();   /* interrupts disabled: nothing is taken */
		irq.waiting_before = fake_cpu_mail_waiting(1);
		uint64_t before = fake_cpu_stats(1)->received;
		arch_irq_restore(inner);
		irq.nested_took = fake_cpu_stats(1)->received - before;
		irq.call_ran_inner = __atomic_load_n(&irq.call_ran, __ATOMIC_RELAXED);
		arch_irq_restore(outer);
		irq.outer_took = fake_cpu_stats(1)->received - before;
		irq.waiting_after = fake_cpu_mail_waiting(1);
	} else if (cpu == 0) {
		wait_for(&irq.go, 1);
		if (irq.by_call)
			arch_cpu_call(cpumask_of(1), irq_call_fn, NULL);
		else
			MmUnmapReservedMapping(irq.va, TAG, irq.mdl);
		__atomic_store_n(&irq.sender_done, 1, __ATOMIC_RELEASE);
	}
}

static void test_mail_taken_when_interrupts_come_back(void)
{
	irq.mdl = frames(1, 0, 7);
	irq.va = MmAllocateMappingAddress(PAGE_SIZE, TAG);
	MmMapLockedPagesWithReservedMapping(irq.va, TAG, irq.mdl, MmCached);
	alarm(120);
	fake_smp_run(2, irq_run, NULL);
	alarm(0);
	ok(irq.waiting_before && irq.nested_took == 0 && irq.outer_took == 1 && !irq.waiting_after,
	   "a batch waiting while interrupts are disabled (the mailbox says so) is applied when the outermost section "
	   "restores them, not before (inner restore: %llu taken, outer: %llu)", (unsigned long long)irq.nested_took,
	   (unsigned long long)irq.outer_took);
	MmFreeMappingAddress(irq.va, TAG);
	frames_free(irq.mdl);

	/* the same with a call posted by arch_cpu_call */
	irq = (typeof(irq)){ .by_call = true };
	alarm(120);
	fake_smp_run(2, irq_run, NULL);
	alarm(0);
	irq.by_call = false;
	ok(irq.waiting_before && irq.call_ran_inner == 0 && irq.call_ran == 1 && !irq.waiting_after,
	   "a call waiting while interrupts are disabled (the mailbox says so) runs when the outermost section restores "
	   "them, not before (after the inner restore: %llu runs, after the outer: %llu)",
	   (unsigned long long)irq.call_ran_inner, (unsigned long long)irq.call_ran);
}

/*
 * Generated: the fake machine's interrupt sections nest as on the kernel, and a restore out of
 * order is its panic. Each case, in a child process (CPU 0 alone), runs a random sequence of
 * arch_irq_save and arch_irq_restore of the flags they returned (depth up to 6, every section
 * closed), and in half of the cases one wrong restore at a random step: the outermost flags at an
 * inner depth, any flags with no section open, or (legal) an inner section's flags at the
 * outermost, which is no error. The child must finish exactly when no error was injected and die
 * of SIGABRT exactly at the injected step otherwise (it reports each step done through a pipe);
 * interrupts are enabled exactly when no section is open, throughout.
 */
static void test_irq_order(void)
{
	unsigned cases = 0, right = 0, aborted = 0;
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	for (unsigned c = 0; c < 300; c++) {
		enum { OPS = 40 };
		int op[OPS + 6], nops = 0, depth = 0;   /* OPS steps, then the sections left open closed */
		for (int k = 0; k < OPS; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			unsigned x = (unsigned)(rng >> 33);
			if (depth < 6 && (depth == 0 || x % 2))
				op[nops++] = 0, depth++;            /* save */
			else if (depth > 0)
				op[nops++] = 1, depth--;            /* restore, in order */
		}
		while (depth > 0)
			op[nops++] = 1, depth--;
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned kind = (unsigned)(rng >> 40) % 6, at = (unsigned)(rng >> 20) % (unsigned)(nops + 1);
		bool inject = kind < 3;
		int pfd[2];
		if (pipe(pfd))
			break;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			if (!freopen("/dev/null", "w", stderr))
				_exit(3);
			uint64_t stack[8];
			int d = 0;
			for (int k = 0; k <= nops; k++) {
				if (inject && (unsigned)k == at) {
					/* 0: the outermost flags (1) with two sections or more open (one opened
					 * here when needed); 1: a restore with none open (all closed first);
					 * 2: an inner section's flags (0) closing the outermost: legal */
					if (kind == 0) {
						while (d < 2)
							stack[d++] = arch_irq_save();
						arch_irq_restore(1);
					} else if (kind == 1) {
						while (d > 0)
							arch_irq_restore(stack[--d]);
						arch_irq_restore(0);
					} else {
						while (d > 1)
							arch_irq_restore(stack[--d]);
						if (d == 0)
							stack[d++] = arch_irq_save();
						arch_irq_restore(0);
						d = 0;
						arch_irq_save();
						arch_irq_restore(1);   /* back on: the sequence goes on from no section */
					}
					if (write(pfd[1], "i", 1) != 1)
						_exit(3);
				}
				if (k == nops)
					break;
				if (op[k] == 0)
					stack[d++] = arch_irq_save();
				else if (d > 0)
					arch_irq_restore(stack[--d]);
				if (arch_irqs_enabled() != (d == 0) || arch_irq_depth() != (unsigned)d)
					_exit(4);
				if (write(pfd[1], "s", 1) != 1)
					_exit(3);
			}
			while (d > 0)
				arch_irq_restore(stack[--d]);
			_exit(arch_irqs_enabled() && arch_irq_depth() == 0 ? 0 : 4);
		}
		close(pfd[1]);
		char buf[64];
		unsigned steps = 0, marks = 0;
		ssize_t got;
		while ((got = read(pfd[0], buf, sizeof(buf))) > 0)
			for (ssize_t j = 0; j < got; j++)
				buf[j] == 'i' ? marks++ : steps++;
		close(pfd[0]);
		int st = 0;
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			break;
		cases++;
		bool died = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
		bool fatal = kind < 2;   /* an injected wrong restore (kind 2 is legal, 3..5 inject none) */
		aborted += died;
		if (fatal ? died && steps == at && marks == 0 : WIFEXITED(st) && WEXITSTATUS(st) == 0)
			right++;
	}
	ok(cases == 300 && right == cases && aborted > 50,
	   "%u generated sequences of interrupt sections: %u with a wrong restore died of the fake machine's panic at "
	   "it, the others (an inner flags' restore of the outermost section among them) ran through; %u right",
	   cases, aborted, right);
}

/* ---------------------------------------------------------------- all CPUs at once */

#define STRESS_ROUNDS 250
#define STRESS_MAX_PAGES 48

/* The mapping CPU i hands to CPU i + 1: published, then checked by the receiver. */
struct handoff {
	uint64_t state;               /* 0 empty, 1 published, 2 checked */
	vaddr_t va;
	uint64_t pages, round;
	unsigned owner;
} __attribute__((aligned(64)));

static struct {
	struct handoff box[NCPU];
	paddr_t shared;               /* one frame every mapping shows as its page 0: the counter */
	uint64_t adds[NCPU], bad[NCPU], faults[NCPU], mapped[NCPU];
	unsigned finished;
} st;

/* Checks the mapping waiting in this CPU's box, if any: each page's word through it, and one add to
 * the shared counter through its page 0. */
static void stress_check_box(unsigned cpu)
{
	struct handoff *h = &st.box[cpu];
	if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != 1)
		return;
	for (uint64_t k = 1; k < h->pages; k++) {
		uint64_t v;
		if (!fake_read(h->va + k * PAGE_SIZE, &v))
			st.faults[cpu]++;
		else if (v != pattern(h->owner, h->round, k))
			st.bad[cpu]++;
	}
	if (fake_add(h->va, 1))
		st.adds[cpu]++;
	else
		st.faults[cpu]++;
	__atomic_store_n(&h->state, 2, __ATOMIC_RELEASE);
}

/* One CPU: STRESS_ROUNDS times a mapping of 1..STRESS_MAX_PAGES pages, page 0 the shared frame,
 * through a reserved mapping or MmMapLockedPagesSpecifyCache, written, handed to the next CPU,
 * checked back, unmapped and freed; meanwhile it checks what the previous CPU hands it. */
static void stress_run(unsigned cpu, void *arg)
{
	(void)arg;
	uint64_t x = 0x9E3779B97F4A7C15ULL * (cpu + 1);
	struct handoff *out = &st.box[(cpu + 1) % NCPU];
	for (uint64_t r = 1; r <= STRESS_ROUNDS; r++) {
		uint64_t pages = 2 + test_rng_next(&x) % (STRESS_MAX_PAGES - 1);
		bool locked = test_rng_next(&x) % 2;
		PMDL own = frames(pages - 1, cpu, 0);
		PMDL mdl = IoAllocateMdl((PVOID)0x10000, (ULONG)(pages * PAGE_SIZE), FALSE, FALSE, NULL);
		PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
		pfn[0] = st.shared >> PAGE_SHIFT;
		memcpy(pfn + 1, MmGetMdlPfnArray(own), (pages - 1) * sizeof(PFN_NUMBER));
		mdl->MdlFlags |= MDL_PAGES_LOCKED;
		PVOID va = NULL, base = NULL;
		if (locked) {
			base = va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, 0, 0);
		} else if ((base = MmAllocateMappingAddress(pages * PAGE_SIZE, TAG + cpu))) {
			va = MmMapLockedPagesWithReservedMapping(base, TAG + cpu, mdl, MmCached);
		}
		if (!va) {
			st.faults[cpu]++;
			goto next;
		}
		st.mapped[cpu]++;
		for (uint64_t k = 1; k < pages; k++)
			if (!fake_write((vaddr_t)va + k * PAGE_SIZE, pattern(cpu, r, k)))
				st.faults[cpu]++;
		if (fake_add((vaddr_t)va, 1))
			st.adds[cpu]++;
		out->va = (vaddr_t)va;
		out->pages = pages;
		out->round = r;
		out->owner = cpu;
		__atomic_store_n(&out->state, 1, __ATOMIC_RELEASE);
		time_t end = time(NULL) + WAIT_SECONDS;
		while (__atomic_load_n(&out->state, __ATOMIC_ACQUIRE) != 2) {
			stress_check_box(cpu);
			arch_cpu_poll();
			arch_cpu_relax();
			if (time(NULL) > end)
				abort();
		}
		for (uint64_t k = 1; k < pages; k++) {
			uint64_t v;
			if (!fake_read((vaddr_t)va + k * PAGE_SIZE, &v) || v != pattern(cpu, r, k))
				st.bad[cpu]++;
		}
		if (locked) {
			MmUnmapLockedPages(va, mdl);
		} else {
			MmUnmapReservedMapping(base, TAG + cpu, mdl);
			MmFreeMappingAddress(base, TAG + cpu);
		}
		__atomic_store_n(&out->state, 0, __ATOMIC_RELEASE);
	next:
		if (base && !va)
			MmFreeMappingAddress(base, TAG + cpu);
		IoFreeMdl(mdl);
		frames_free(own);
		stress_check_box(cpu);
	}
	__atomic_fetch_add(&st.finished, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&st.finished, __ATOMIC_ACQUIRE) < NCPU) {
		stress_check_box(cpu);
		arch_cpu_poll();
		arch_cpu_relax();
	}
}

static void test_all_cpus_at_once(void)
{
	struct syspte_stats before, after;
	struct phys_stats pbefore, pafter;
	struct pool_stats qbefore, qafter;
	st.shared = phys_alloc_zeroed_page();
	syspte_get_stats(reserved_region(), &before);
	phys_get_stats(&pbefore);
	pool_get_stats(&qbefore);
	fake_stale_reset();
	alarm(300);
	fake_smp_run(NCPU, stress_run, NULL);
	alarm(0);
	syspte_get_stats(reserved_region(), &after);
	phys_get_stats(&pafter);
	pool_get_stats(&qafter);
	uint64_t adds = 0, bad = 0, faults = 0, mapped = 0;
	for (unsigned i = 0; i < NCPU; i++)
		adds += st.adds[i], bad += st.bad[i], faults += st.faults[i], mapped += st.mapped[i];
	is(mapped, NCPU * STRESS_ROUNDS, "%d CPUs mapped %d times each at once", NCPU, STRESS_ROUNDS);
	ok(bad == 0 && faults == 0, "every word read back as written, by the owner and the next CPU (%llu wrong, %llu faults)",
	   (unsigned long long)bad, (unsigned long long)faults);
	is(*(volatile uint64_t *)arch_phys_to_virt(st.shared), adds, "no lost update: the shared counter has all %llu adds",
	   (unsigned long long)adds);
	is(fake_stale.hits, 0, "no read went through a stale translation");
	fake_stale_print();
	is(syspte_check(reserved_region()), 0, "the region is consistent: no overlap");
	ok(after.live == before.live && after.free_pages == before.free_pages && after.pages_mapped == 0,
	   "no reservation leaked");
	ok(pafter.free_pages == pbefore.free_pages && qafter.bytes_live == qbefore.bytes_live, "no frame or pool block leaked");
	phys_free(st.shared, 1);
}

/* ---------------------------------------------------------------- the log of batches */

#define LOG_VA 0xffffd00000000000ULL      /* the generated batches' pages: named, never mapped */
static struct { unsigned batches; bool in_turn; uint64_t turn; } lg;

/* Batch r of CPU cpu in the log tests, into b, and whether it is issued with interrupts disabled:
 * 1..TLB_BATCH_PAGES pages that name (cpu, r, page), or every seventh a flush of everything. */
static bool log_batch(unsigned cpu, unsigned r, struct tlb_batch *b)
{
	tlb_batch_init(b);
	if (r % 7 == 3)
		tlb_batch_add_all(b);
	else
		tlb_batch_add_range(b, LOG_VA + ((uint64_t)cpu << 32) + ((uint64_t)r << 18), 1 + (r * 5 + cpu * 3) % TLB_BATCH_PAGES);
	return r % 3 == 1;
}

/* One CPU: its lg.batches batches, each in turn with the other CPUs' when lg.in_turn (batch r of
 * CPU c is issued r * NCPU + c-th), else as fast as it can. */
static void log_run(unsigned cpu, void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < lg.batches; r++) {
		struct tlb_batch b;
		bool irqs_off = log_batch(cpu, r, &b);
		if (lg.in_turn)
			wait_for(&lg.turn, (uint64_t)r * NCPU + cpu);
		uint64_t f = irqs_off ? arch_irq_save() : 0;
		arch_tlb_flush_batch(&b);
		if (irqs_off)
			arch_irq_restore(f);
		if (lg.in_turn)
			__atomic_store_n(&lg.turn, (uint64_t)r * NCPU + cpu + 1, __ATOMIC_RELEASE);
	}
}

/* True when entry e of the log is batch b as log_run issued it. */
static bool log_entry_is(const struct fake_tlb_flush *e, unsigned cpu, const struct tlb_batch *b, bool irqs_off)
{
	return e->cpu == cpu && e->all == b->all && e->n == b->n && e->irqs_off == irqs_off && e->ranks == 0 &&
	       e->origin == b->origin && memcmp(e->va, b->va, b->n * sizeof(vaddr_t)) == 0;
}

/*
 * True when the log holds exactly what log_run issued on NCPU CPUs: each CPU's counts (flushes,
 * pages, flushes of everything, with interrupts disabled) and none for the others, the sums, and
 * the first min(all, FAKE_TLB_LOG) batches each once, each CPU's in its own order (in_turn: in
 * the order the turns gave).
 */
static bool log_holds_run(bool in_turn)
{
	bool good = true;
	uint64_t next[NCPU] = { 0 };
	for (unsigned c = 0; c < ARCH_MAX_CPUS; c++) {
		uint64_t pages = 0, alls = 0, off = 0, n = c < NCPU ? lg.batches : 0;
		for (unsigned r = 0; r < n; r++) {
			struct tlb_batch b;
			off += log_batch(c, r, &b);
			pages += b.n;
			alls += b.all;
		}
		struct fake_tlb_log v = *fake_tlb_view(c);
		if (v.flushes != n || v.pages != pages || v.alls != alls || v.irqs_off != off || v.logged > n) {
			printf("# CPU %u: %llu flushes, %llu pages, %llu of everything, %llu with interrupts disabled, %llu logged; "
			       "issued %llu, %llu, %llu, %llu\n", c, (unsigned long long)v.flushes, (unsigned long long)v.pages,
			       (unsigned long long)v.alls, (unsigned long long)v.irqs_off, (unsigned long long)v.logged,
			       (unsigned long long)n, (unsigned long long)pages, (unsigned long long)alls, (unsigned long long)off);
			good = false;
		}
	}
	struct fake_tlb_log t = fake_tlb;
	uint64_t all = (uint64_t)NCPU * lg.batches, fit = all < FAKE_TLB_LOG ? all : FAKE_TLB_LOG;
	if (t.flushes != all || t.logged != fit) {
		printf("# %llu flushes, %llu logged; issued %llu, so %llu fit\n", (unsigned long long)t.flushes,
		       (unsigned long long)t.logged, (unsigned long long)all, (unsigned long long)fit);
		return false;
	}
	for (uint64_t k = 0; k < t.logged; k++) {
		const struct fake_tlb_flush *e = &t.ev[k];
		unsigned c = e->cpu;
		struct tlb_batch b;
		bool irqs_off = c < NCPU && log_batch(c, (unsigned)next[c], &b);
		if (c >= NCPU || (in_turn && (c != k % NCPU || next[c] != k / NCPU)) || !log_entry_is(e, c, &b, irqs_off)) {
			printf("# entry %llu (CPU %u, %u pages%s) is not that CPU's batch %llu\n", (unsigned long long)k, c, e->n,
			       e->all ? ", everything" : "", (unsigned long long)next[c % NCPU]);
			return false;
		}
		next[c]++;
	}
	return good;
}

/* Unmaps at once, for the log: CPU c maps and unmaps its reservation lu.va[c] lu.rounds times. */
static struct { PVOID va[NCPU]; PMDL mdl[NCPU]; unsigned rounds; uint64_t mapped[NCPU]; } lu;
static const uint64_t lu_pages[NCPU] = { 1, 13, TLB_BATCH_PAGES, TLB_BATCH_PAGES + 8 };

static void log_unmap_run(unsigned cpu, void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < lu.rounds; r++)
		if (MmMapLockedPagesWithReservedMapping(lu.va[cpu], TAG, lu.mdl[cpu], MmCached)) {
			lu.mapped[cpu]++;
			MmUnmapReservedMapping(lu.va[cpu], TAG, lu.mdl[cpu]);
		}
}

/* True when the log holds log_unmap_run's unmaps: one batch each, with each CPU's count, naming its
 * reservation's pages (every translation past TLB_BATCH_PAGES), with the cache's lock at most. */
static bool log_holds_unmaps(void)
{
	bool good = true;
	for (unsigned c = 0; c < NCPU; c++) {
		struct fake_tlb_log v = *fake_tlb_view(c);
		bool all = lu_pages[c] > TLB_BATCH_PAGES;
		good &= lu.mapped[c] == lu.rounds && v.flushes == lu.rounds && v.alls == (all ? lu.rounds : 0) &&
			v.pages == (all ? 0 : lu.rounds * lu_pages[c]);
	}
	struct fake_tlb_log t = fake_tlb;
	uint64_t fit = (uint64_t)NCPU * lu.rounds < FAKE_TLB_LOG ? (uint64_t)NCPU * lu.rounds : FAKE_TLB_LOG;
	if (!good || t.flushes != (uint64_t)NCPU * lu.rounds || t.logged != fit) {
		printf("# %llu flushes, %llu logged, %llu fit\n", (unsigned long long)t.flushes, (unsigned long long)t.logged,
		       (unsigned long long)fit);
		return false;
	}
	for (uint64_t k = 0; k < t.logged; k++) {
		const struct fake_tlb_flush *e = &t.ev[k];
		unsigned c = e->cpu;
		if (c >= NCPU || e->origin != TLB_FROM_REGION_UNMAP || (e->ranks & ~(1u << LOCK_RANK_SYSPTE_CACHE)) ||
		    e->irqs_off != (e->ranks != 0) ||
		    !(lu_pages[c] > TLB_BATCH_PAGES ? e->all : fake_tlb_flushed_range(k, (vaddr_t)lu.va[c], lu_pages[c]))) {
			printf("# entry %llu (CPU %u) is not one of that CPU's unmaps\n", (unsigned long long)k, c);
			return false;
		}
	}
	return good;
}

/*
 * The log of batches with every CPU flushing at once: each CPU's counts and their sums exact, the
 * first FAKE_TLB_LOG batches each copied once, with what its CPU issued, each CPU's in its order;
 * batches issued in turn across CPUs are logged in that order. Run below and past the log's size.
 */
static void test_log_at_once(void)
{
	static const unsigned batches[] = { 150, 700 };   /* 600 batches in all: all logged; 2800: the log fills */
	for (size_t i = 0; i < ARRAY_SIZE(batches); i++) {
		lg = (typeof(lg)){ .batches = batches[i] };
		fake_tlb_reset();
		fake_smp_run(NCPU, log_run, NULL);
		unsigned all = NCPU * batches[i];
		ok(log_holds_run(false), "%d CPUs issuing %u batches each at once: every CPU's counts exact, the first %u of %u "
		   "copied once each, each CPU's in its order", NCPU, batches[i], all < FAKE_TLB_LOG ? all : FAKE_TLB_LOG, all);
	}
	lg = (typeof(lg)){ .batches = 64, .in_turn = true };
	fake_tlb_reset();
	fake_smp_run(NCPU, log_run, NULL);
	ok(log_holds_run(true), "%d CPUs issuing batches in turn: logged in the turns' order", NCPU);

	lu.rounds = 300;   /* 1200 unmaps: the log fills while they run */
	bool set_up = true;
	for (unsigned c = 0; c < NCPU; c++) {
		lu.mdl[c] = frames(lu_pages[c], c, 11);
		lu.va[c] = MmAllocateMappingAddress(lu_pages[c] * PAGE_SIZE, TAG);
		lu.mapped[c] = 0;
		set_up &= lu.va[c] != NULL;   /* frames() gives its MDL or aborts */
	}
	fake_tlb_reset();
	if (set_up)
		fake_smp_run(NCPU, log_unmap_run, NULL);
	ok(set_up && log_holds_unmaps(), "%d CPUs unmapping %u times each at once: one batch per unmap on each CPU's count, "
	   "the first %u logged, each naming its CPU's pages", NCPU, lu.rounds, FAKE_TLB_LOG);
	for (unsigned c = 0; c < NCPU; c++) {
		if (lu.va[c])
			MmFreeMappingAddress(lu.va[c], TAG);
		frames_free(lu.mdl[c]);
	}
}

/* ---------------------------------------------------------------- main */

int main(void)
{
	const char *inject = getenv("TLB_INJECT");
	if (inject && *inject) {
		size_t i = 0;
		while (i < ARRAY_SIZE(injections) && strcmp(injections[i].name, inject))
			i++;
		if (i == ARRAY_SIZE(injections)) {
			printf("Bail out! TLB_INJECT=%s names no deletion\n", inject);
			return 2;
		}
		tlb_inject = injections[i].bits;
		printf("# TLB_INJECT=%s: that part of the shootdown is deleted for this run\n", inject);
	}
	alarm(600);
	if (host_machine_create(256ULL << 20, 64ULL << 20))
		return 1;
	static const uint64_t sizes[] = { 1, 8, TLB_BATCH_PAGES, TLB_BATCH_PAGES + 1, 100 };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		test_cross_cpu(X_REGION_REMAP, sizes[i]);
		test_cross_cpu(X_UNMAP_LOCKED, sizes[i]);
		test_cross_cpu(X_PT_UNMAP, sizes[i]);
		test_cross_cpu(X_PT_PROTECT, sizes[i]);
	}
	test_cross_cpu(X_PT_UNMAP_2M, 512);
	test_cross_cpu(X_PT_PROTECT_IN_2M, 512);
	test_map_needs_no_shootdown();
	test_unmapping_at_once_with_interrupts_off();
	test_spinning_cpu_acknowledges();
	test_stopped_cpu_is_not_waited_for();
	test_mail_taken_when_interrupts_come_back();
	test_irq_order();
	test_all_cpus_at_once();
	test_log_at_once();
	host_machine_destroy();
	return tap_done();
}
