/* Host tests of verifier mode: guard pages, free-page patterns, and checks that stay quiet on good use. */
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "verifier.h"
#include "bugcheck.h"
#include "arch_mm.h"
#include "testhooks.h"
#include "pt.h"
#include "syspte_impl.h"

#define TAG 0x66726556u   /* 'Verf' */

/* A pool block's header overwritten (an underrun), then any pool call: the verifier's pool check. */
static void corrupt_pool(void *arg)
{
	(void)arg;
	uint32_t *p = ExAllocatePoolWithTag(NonPagedPool, 40, TAG);
	p[-4] = 0x12345678;   /* the block header's state word */
	ExAllocatePoolWithTag(NonPagedPool, 40, TAG);
}

/* A stray present PTE in free region space, then a map elsewhere: the region check after the map. */
static void corrupt_region(void *arg)
{
	(void)arg;
	char *va = MmAllocateMappingAddress(4096, TAG);
	/* the other page of va's aligned pair: its guard or a neighbour's page, in a span whose table
	 * exists wherever the reservation was placed */
	arch_pte_write(pt_pte_slot(host_machine_pt(), (vaddr_t)va ^ 4096),
		       arch_pte_leaf(pt_leaf_attrs(host_machine_pt(), PT_PROT_W), 0x400000));
	struct { MDL mdl; PFN_NUMBER pfn[1]; } m = { .mdl = { .Size = sizeof(m), .MdlFlags = MDL_PAGES_LOCKED,
							       .ByteCount = 4096 }, .pfn = { 0x400 } };
	MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached);
}

/*
 * A two-page map into a fresh two-page reservation; with plant, a present PTE is first written
 * behind the region's back at its second page. The reservation's count says nothing is mapped, so
 * the validation pass reads no slot: only verifier mode's check before the writes can see it.
 * Returns the map's result.
 */
static bool map_two_pages(bool plant)
{
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	struct { MDL mdl; PFN_NUMBER pfn[2]; } m;
	memset(&m, 0, sizeof(m));
	MmInitializeMdl(&m.mdl, NULL, 2 * 4096);
	m.mdl.MdlFlags = MDL_PAGES_LOCKED;
	m.pfn[0] = 0x400;
	m.pfn[1] = 0x401;
	if (plant)
		arch_pte_write(pt_pte_slot(host_machine_pt(), (vaddr_t)va + 4096),
			       arch_pte_leaf(pt_leaf_attrs(host_machine_pt(), PT_PROT_W), 0x500000));
	bool mapped = va && MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached) == va;
	if (mapped) {
		MmUnmapReservedMapping(va, TAG, &m.mdl);
		MmFreeMappingAddress(va, TAG);
	}
	return mapped;
}

static void map_over_planted_pte(void *arg) { (void)arg; map_two_pages(true); }

/* syspte_free_runs_locked's callback: whether a free run holds span pages from a multiple of divisor. */
struct guard_fit {
	uint64_t span, divisor, origin;
	bool found;
};

static void guard_fit_run(uint64_t start, uint64_t count, void *arg)
{
	struct guard_fit *q = arg;
	uint64_t skip = (q->divisor - (q->origin + start) % q->divisor) % q->divisor;
	q->found |= count >= q->span && skip <= count - q->span;
}

/* True when the region's free pages (the caches' merged in) hold span pages from a multiple of divisor. */
static bool guard_room(struct syspte_region *r, uint64_t span, uint64_t divisor)
{
	struct guard_fit q = { span, divisor, r->base >> PAGE_SHIFT, false };
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	syspte_free_runs_locked(r, guard_fit_run, &q);
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
	return q.found;
}

/*
 * Generated (docs/contract.md section 3, the reserve's refusal row in verifier mode): reservations
 * of 1..300 pages, most DIVISIBLE, and frees, on a 1024-page region in verifier mode, 40 live at
 * most. Each request is granted exactly when the free pages hold P + 1 pages (its guard after it)
 * from a multiple of P (DIVISIBLE) or anywhere; a granted one is divisible as asked, takes P + 1
 * free pages, and its guard page lies in the region in no reservation. At the end, with the region
 * empty, the whole region is refused and all of it but its last page granted (DIVISIBLE too when
 * the base allows). Returns the cases that went wrong.
 */
static unsigned test_guard_room(void)
{
	enum { PAGES = 1024, LIVE = 40 };
	const uint32_t tag = 0x64726147;   /* 'Gard' */
	unsigned bad = 0, granted = 0, refused = 0;
	if (host_machine_create(32ULL << 20, PAGES * PAGE_SIZE))
		return 1;
	struct syspte_region *r = reserved_region();
	vaddr_t live[LIVE] = { 0 };
	uint64_t rng = 0x6a09e667f3bcc909ULL;
	for (unsigned op = 0; op < 1500; op++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		unsigned slot = (unsigned)(rng % LIVE);
		if (live[slot]) {
			bad += syspte_release(r, live[slot], tag) != SYSPTE_OK;
			live[slot] = 0;
			continue;
		}
		uint64_t npages = 1 + (rng >> 8) % ((rng >> 20) % 4 ? 300 : 16);
		uint32_t flags = (rng >> 30) % 4 ? SYSPTE_FLAG_DIVISIBLE : 0;
		bool room = guard_room(r, npages + 1, flags ? npages : 1);
		struct syspte_stats before, after;
		syspte_get_stats(r, &before);
		vaddr_t v = syspte_reserve(r, npages, tag, flags);
		syspte_get_stats(r, &after);
		vaddr_t guard = v + npages * PAGE_SIZE;
		bool good = !v == !room && (v ? after.free_pages + npages + 1 == before.free_pages &&
						 (!flags || v % (npages * PAGE_SIZE) == 0) && syspte_in_region(r, guard) &&
						 !syspte_lookup(r, guard, NULL)
					      : after.free_pages == before.free_pages);
		granted += v != 0;
		refused += !v;
		live[slot] = v;
		if (!good && bad++ < 5)
			printf("# %llu pages%s, room %d: 0x%llx\n", (unsigned long long)npages, flags ? " DIVISIBLE" : "",
			       room, (unsigned long long)v);
	}
	for (unsigned k = 0; k < LIVE; k++)
		bad += live[k] && syspte_release(r, live[k], tag) != SYSPTE_OK;
	bad += syspte_reserve(r, PAGES, tag, 0) != 0 || syspte_reserve(r, PAGES, tag, SYSPTE_FLAG_DIVISIBLE) != 0;
	vaddr_t most = syspte_reserve(r, PAGES - 1, tag, 0);
	bad += most != r->base || syspte_release(r, most, tag) != SYSPTE_OK;
	bool div_ok = (r->base >> PAGE_SHIFT) % (PAGES - 1) == 0;
	most = syspte_reserve(r, PAGES - 1, tag, SYSPTE_FLAG_DIVISIBLE);
	bad += div_ok ? most != r->base || syspte_release(r, most, tag) != SYSPTE_OK : most != 0;
	printf("# %u granted, %u refused\n", granted, refused);
	return bad + (granted < 200) + (refused < 50) + (syspte_check(r) != 0);
}

int main(void)
{
	mm_verifier_set(true);
	is(host_machine_create(32ULL << 20, 4ULL << 20), 0, "machine in verifier mode");
	is(syspte_guard_pages(reserved_region()), 1, "one guard page per reservation");

	/* A map owes no TLB invalidation because it only fills not-present PTEs; verifier mode checks
	 * every slot before writing. */
	ok(map_two_pages(false), "a map over not-present PTEs succeeds");
	ok(tap_aborts_with(map_over_planted_pte, NULL, "verifier: a map met the present PTE"),
	   "a map meeting a present PTE panics in verifier mode");
	is(syspte_check(reserved_region()), 0, "region consistent after the map and its unmap");

	/* Guard pages: 3-page reservations are 4 pages apart at least, and never adjacent. */
	char *a = MmAllocateMappingAddress(3 * 4096, TAG), *b = MmAllocateMappingAddress(3 * 4096, TAG);
	ok(a && b, "two reservations");
	ok(b != a + 3 * 4096 && a != b + 3 * 4096, "no reservation starts on another's guard page");
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	is(s.free_pages, s.npages - 8, "each reservation took its pages plus a guard");
	bugcheck_set_hook(bugcheck_record_hook);
	struct { MDL mdl; PFN_NUMBER pfn[4]; } m;
	memset(&m, 0, sizeof(m));
	MmInitializeMdl(&m.mdl, NULL, 4096);
	m.mdl.MdlFlags = MDL_PAGES_LOCKED;
	m.pfn[0] = 0x400;
	uint64_t before = bugcheck_last.count;
	ok(!MmMapLockedPagesWithReservedMapping(a + 3 * 4096, TAG, &m.mdl, MmCached), "mapping onto the guard page refused");
	ok(bugcheck_last.count == before + 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_NO_RESERVATION, "as a page in no reservation (0x105)");
	MmFreeMappingAddress(a, TAG);
	MmFreeMappingAddress(b, TAG);
	syspte_get_stats(reserved_region(), &s);
	is(s.free_pages, s.npages, "guards returned with their reservations");
	is(syspte_check(reserved_region()), 0, "region consistent");

	/* Free-page pattern: a write into a freed page is caught when the page is handed out again. */
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	ok(pa != 0, "allocate a page");
	phys_free(pa, 1);
	is(((uint64_t *)arch_phys_to_virt(pa))[VERIFIER_FIRST_WORD], VERIFIER_PATTERN,
	   "freed page holds the pattern (past word 0, the allocator's)");
	((uint64_t *)arch_phys_to_virt(pa))[17] = 0x1234;   /* a use after free */
	before = bugcheck_last.count;
	paddr_t again;
	do   /* the allocator hands out other free pages first; the others stay allocated */
		again = phys_alloc(1, 0, UINT64_MAX);
	while (again && bugcheck_last.count == before);
	/* intercepted, the bug check leaves the state as before the call: that allocation unmade */
	ok(again == 0 && phys_is_free(pa, 1), "the allocation that met the page was refused, the page left free");
	ok(bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT && bugcheck_last.p[0] == VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED,
	   "use after free reported as 0x1A/0x5A01");
	is(bugcheck_last.p[1], pa + 17 * 8, "at the modified word");
	is(bugcheck_last.p[2], 0x1234, "with the value found");
	verifier_poison(pa, 1);   /* the test mends its own use after free */
	again = phys_alloc(1, pa, pa + PAGE_SIZE);
	ok(again == pa && bugcheck_last.count == before + 1, "mended, the page is handed out with no further bug check");
	if (again)
		phys_free(again, 1);
	bugcheck_set_hook(NULL);
	is(phys_check(), 0, "physical allocator consistent");

	ok(tap_aborts_with(corrupt_pool, NULL, "verifier: pool inconsistent"), "a pool call after a header was overwritten: caught");
	ok(tap_aborts_with(corrupt_region, NULL, "verifier: system PTE region inconsistent"),
	   "a map after a stray PTE was written: caught by the check after the map");
	is(test_guard_room(), 0, "generated reservations of 1..300 pages (most DIVISIBLE) and frees on a 1024-page region: "
	   "granted exactly when P + 1 free pages (the guard) lie from a multiple of P, divisible, the guard in no reservation; "
	   "the whole region refused, all but its last page granted");
	return tap_done();
}
