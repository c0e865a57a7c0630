/*
 * Verifier mode's two detectors over generated inputs (docs/contract.md sections 3, 4 and 8).
 *
 * The free-page pattern (mm/verifier.c): runs of 1 to 9 pages freed (by phys_free, and by
 * MmFreePagesFromMdl for the scattered frames of an MDL) hold the pattern in every word but word 0
 * of every page; a word written while the run is free, at any page and any word class (word 1, a
 * middle word, the last word), is reported when the run is handed out again as bug check 0x1A,
 * P1 0x5A01, P2 the word's address, P3 the value found, P4 the pattern, once per allocation and
 * for the first written word in address order; a run handed out untouched raises nothing.
 *
 * The guard page after each reservation: map, unmap and free at every offset class of the guard
 * page are the rows of a page in no reservation (0x105, 0x109, 0x102, with P2 the address as
 * passed, P3 the caller's tag, P4 0), and MmBuildMdlForNonPagedPool over the guard page is 0x50
 * naming the guard page with P4 0, while over an unmapped page of the reservation P4 is its base.
 * The same three rows at addresses outside the region, the window's end and the non-canonical
 * hole included.
 *
 * syspte_describe of a free page just past a cached chunk: its guard-page check looks up the page
 * before, under the lock of the cache owning that chunk; held for good by a stopped CPU, the lock
 * is named and nothing read, no wait for it.
 */
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "capture.h"
#include "lock_play.h"
#include "kprintf.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "syspte_impl.h"
#include "syspte_cache.h"
#include "reserved.h"
#include "phys.h"
#include "verifier.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "arch_mm.h"

#define TAG POOL_TAG4('V', 'r', 'o', 'w')

static uint64_t rng = 0x13198A2E03707344ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static volatile uint64_t *word(paddr_t pa, uint64_t page, uint64_t w)
{
	return (volatile uint64_t *)arch_phys_to_virt(pa + page * PAGE_SIZE) + w;
}

/* True when every word but word 0 of the n pages from pa holds the pattern. */
static bool poisoned(paddr_t pa, uint64_t n)
{
	for (uint64_t p = 0; p < n; p++)
		for (uint64_t w = VERIFIER_FIRST_WORD; w < PAGE_SIZE / 8; w++)
			if (*word(pa, p, w) != VERIFIER_PATTERN)
				return false;
	return true;
}

/* A word index of each class: the first the pattern covers, any, the last. */
static uint64_t word_class(void)
{
	switch (draw(3)) {
	case 0: return VERIFIER_FIRST_WORD;
	case 1: return VERIFIER_FIRST_WORD + draw(PAGE_SIZE / 8 - VERIFIER_FIRST_WORD);
	default: return PAGE_SIZE / 8 - 1;
	}
}

static void test_pattern_generated(void)
{
	enum { ITER = 400 };
	unsigned wrong = 0, caught = 0, quiet = 0, twice = 0;
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned it = 0; it < ITER && wrong < 4; it++) {
		uint64_t n = 1 + draw(9);
		paddr_t pa = phys_alloc(n, 0, UINT64_MAX);
		if (!pa) {
			wrong++;
			break;
		}
		for (uint64_t p = 0; p < n; p++)   /* the run's user writes every word, word 0 included */
			for (uint64_t w = 0; w < PAGE_SIZE / 8; w++)
				*word(pa, p, w) = it * 0x9E3779B97F4A7C15ULL + w;
		phys_free(pa, n);
		bool good = poisoned(pa, n);
		/* write 0, 1 or 2 words of the free run; the first in address order is the one reported */
		unsigned writes = (unsigned)draw(3);
		uint64_t first_at = UINT64_MAX, first_val = 0;
		for (unsigned k = 0; k < writes; k++) {
			uint64_t p = draw(n), w = word_class(), v = VERIFIER_PATTERN ^ (1 + draw(UINT64_MAX - 1));
			uint64_t at = pa + p * PAGE_SIZE + w * 8;
			if (at == first_at)
				continue;
			*word(pa, p, w) = v;
			if (at < first_at)
				first_at = at, first_val = v;
		}
		twice += writes == 2;
		uint64_t before = bugcheck_last.count;
		paddr_t again = phys_alloc(n, pa, pa + n * PAGE_SIZE);
		if (first_at == UINT64_MAX) {
			good &= again == pa && bugcheck_last.count == before;
			quiet++;
		} else {
			/* intercepted, the check leaves the state as before the call: the run not handed out */
			good &= again == 0 && phys_is_free(pa, n) && bugcheck_last.count == before + 1 &&
				bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
				bugcheck_last.p[0] == VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED && bugcheck_last.p[1] == first_at &&
				bugcheck_last.p[2] == first_val && bugcheck_last.p[3] == VERIFIER_PATTERN;
			caught++;
			verifier_poison(pa, n);   /* the test mends its writes: the run allocates again, quietly */
			again = phys_alloc(n, pa, pa + n * PAGE_SIZE);
			good &= again == pa && bugcheck_last.count == before + 1;
		}
		if (!good && wrong++ < 4)
			printf("# run of %llu at 0x%llx, first write at 0x%llx: again 0x%llx, %llu bug checks, P2 0x%llx P3 0x%llx\n",
			       (unsigned long long)n, (unsigned long long)pa, (unsigned long long)first_at,
			       (unsigned long long)again, (unsigned long long)(bugcheck_last.count - before),
			       (unsigned long long)bugcheck_last.p[1], (unsigned long long)bugcheck_last.p[2]);
		if (again)
			phys_free(again, n);
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0 && caught > 150 && quiet > 80 && twice > 80,
	   "%u freed runs of 1..9 pages: the pattern on every page past word 0; a word written while free (first, "
	   "middle, last word of any page) is 0x1A 0x5A01 with its address, value and the pattern, the first in "
	   "address order, and leaves the run free; untouched runs raise nothing (%u caught, %u quiet)", ITER, caught, quiet);
	is(phys_check(), 0, "physical allocator consistent");
}

/* MmFreePagesFromMdl's scattered frames get the pattern too, each page of each run. */
static void test_pattern_after_mdl_free(void)
{
	PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, skip = { .QuadPart = 0 };
	unsigned wrong = 0, frames = 0;
	for (unsigned it = 0; it < 40; it++) {
		PMDL m = MmAllocatePagesForMdlEx(lo, hi, skip, (1 + draw(24)) * PAGE_SIZE, MmCached,
						 draw(2) ? MM_ALLOCATE_PREFER_CONTIGUOUS : 0);
		if (!m) {
			wrong++;
			break;
		}
		uint64_t n = mdl_span_pages(m);
		PFN_NUMBER pfn[32];
		memcpy(pfn, MmGetMdlPfnArray(m), n * sizeof(PFN_NUMBER));
		MmFreePagesFromMdl(m);
		for (uint64_t k = 0; k < n; k++, frames++)
			if (!poisoned(pfn_to_pa(pfn[k]), 1) && wrong++ < 4)
				printf("# frame 0x%llx of an MDL freed without the pattern\n", (unsigned long long)pfn[k]);
		ExFreePool(m);
	}
	ok(wrong == 0 && frames > 200, "%u frames freed by MmFreePagesFromMdl hold the pattern past word 0", frames);
}

/* Map, unmap and free at every offset class of each reservation's guard page, and the 0x50 of a
 * page walk over it. */
static void test_guard_rows(void)
{
	static const uint64_t offs[] = { 0, 1, 8, 0x800, PAGE_SIZE - 1 };
	struct { MDL m; PFN_NUMBER pfn[4]; } h;
	unsigned wrong = 0, cases = 0;
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned it = 0; it < 60 && wrong < 4; it++) {
		uint64_t n = 1 + (draw(2) ? draw(16) : draw(300));
		char *base = MmAllocateMappingAddressEx(n * PAGE_SIZE, TAG, draw(2) ? MM_MAPPING_ADDRESS_DIVISIBLE : 0);
		if (!base) {
			wrong++;
			break;
		}
		vaddr_t guard = (vaddr_t)base + n * PAGE_SIZE;
		struct syspte_stats st0, st1;
		syspte_get_stats(reserved_region(), &st0);
		for (size_t o = 0; o < ARRAY_SIZE(offs); o++) {
			vaddr_t a = guard + offs[o];
			uint32_t tag = draw(2) ? TAG : TAG ^ 0x00010000;   /* the tag plays no part here */
			MmInitializeMdl(&h.m, NULL, PAGE_SIZE);
			h.m.MdlFlags = MDL_PAGES_LOCKED;
			h.pfn[0] = 0x400;
			struct { unsigned call; uint64_t sub; } rows[3] = {
				{ 0, SYSPTE_BUGCHECK_MAP_NO_RESERVATION },
				{ 1, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED },
				{ 2, SYSPTE_BUGCHECK_FREE_NOT_START },
			};
			for (int r = 0; r < 3; r++, cases++) {
				uint64_t before = bugcheck_last.count;
				void *v = NULL;
				if (rows[r].call == 0)
					v = MmMapLockedPagesWithReservedMapping((PVOID)a, tag, &h.m, MmCached);
				else if (rows[r].call == 1)
					MmUnmapReservedMapping((PVOID)a, tag, &h.m);
				else
					MmFreeMappingAddress((PVOID)a, tag);
				bool good = v == NULL && bugcheck_last.count == before + 1 &&
					    bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE && bugcheck_last.p[0] == rows[r].sub &&
					    bugcheck_last.p[1] == a && bugcheck_last.p[2] == tag && bugcheck_last.p[3] == 0 &&
					    h.m.MdlFlags == MDL_PAGES_LOCKED && h.m.MappedSystemVa == NULL;
				if (!good && wrong++ < 4)
					printf("# guard of a %llu-page reservation + 0x%llx, call %u: 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n",
					       (unsigned long long)n, (unsigned long long)offs[o], rows[r].call, bugcheck_last.code,
					       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
					       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
			}
		}
		/* a page walk over the reservation's last page and its guard: 0x50 at the first, base in P4
		 * (nothing mapped), then over the guard alone: P4 0 */
		PMDL io = IoAllocateMdl((PVOID)(guard - PAGE_SIZE + 0x10), PAGE_SIZE, FALSE, FALSE, NULL);
		uint64_t before = bugcheck_last.count;
		MmBuildMdlForNonPagedPool(io);
		bool good = bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA &&
			    bugcheck_last.p[0] == guard - PAGE_SIZE && bugcheck_last.p[3] == (uint64_t)base;
		IoFreeMdl(io);
		io = IoAllocateMdl((PVOID)(guard + 0x10), 8, FALSE, FALSE, NULL);
		MmBuildMdlForNonPagedPool(io);
		good &= bugcheck_last.count == before + 2 && bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA &&
			bugcheck_last.p[0] == guard && bugcheck_last.p[1] == PF_NONPAGED_READ && bugcheck_last.p[3] == 0;
		IoFreeMdl(io);
		syspte_get_stats(reserved_region(), &st1);
		good &= st1.free_pages == st0.free_pages && st1.live == st0.live && st1.pages_mapped == 0;
		if (!good && wrong++ < 4)
			printf("# the page walk over a %llu-page reservation's guard: P1 0x%llx P4 0x%llx\n", (unsigned long long)n,
			       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[3]);
		MmFreeMappingAddress(base, TAG);
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u calls at the guard pages of generated reservations: map 0x105, unmap 0x109, free 0x102, each "
	   "with the address as passed, the caller's tag and 0; the MDL and the region unchanged; a page walk reaching "
	   "the guard is 0x50 with P4 0, and the reservation's own page P4 its base", cases);
	is(syspte_check(reserved_region()), 0, "region consistent");
}

/* The same three rows at addresses outside the region: NULL, below its base, past its end inside
 * its 512 GiB window, past the window, non-canonical, the top of the address space. */
static void test_outside_rows(void)
{
	struct syspte_stats st;
	syspte_get_stats(reserved_region(), &st);
	const vaddr_t end = st.base + st.npages * PAGE_SIZE;
	const vaddr_t addrs[] = { 0, 0x10, st.base - PAGE_SIZE, st.base - 1, end, end + 0x123, end + 77 * PAGE_SIZE,
				  st.base + (512ULL << 30) - 1, st.base + (512ULL << 30), 0x0000c00000000000ULL,
				  0x8000000000000000ULL, 0xfffffffffffff000ULL, 0xffffffffffffffffULL };
	struct { MDL m; PFN_NUMBER pfn[4]; } h;
	unsigned wrong = 0, cases = 0;
	bugcheck_set_hook(bugcheck_record_hook);
	for (size_t k = 0; k < ARRAY_SIZE(addrs); k++)
		for (unsigned call = 0; call < 3; call++, cases++) {
			MmInitializeMdl(&h.m, NULL, (1 + draw(3)) * PAGE_SIZE);
			h.m.MdlFlags = MDL_PAGES_LOCKED;
			h.pfn[0] = h.pfn[1] = h.pfn[2] = 0x400;
			uint64_t before = bugcheck_last.count, sub;
			void *v = NULL;
			if (call == 0) {
				v = MmMapLockedPagesWithReservedMapping((PVOID)addrs[k], TAG, &h.m, MmCached);
				sub = SYSPTE_BUGCHECK_MAP_NO_RESERVATION;
			} else if (call == 1) {
				MmUnmapReservedMapping((PVOID)addrs[k], TAG, &h.m);
				sub = SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED;
			} else {
				MmFreeMappingAddress((PVOID)addrs[k], TAG);
				sub = SYSPTE_BUGCHECK_FREE_NOT_START;
			}
			bool good = v == NULL && bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
				    bugcheck_last.p[0] == sub && bugcheck_last.p[1] == addrs[k] && bugcheck_last.p[2] == TAG &&
				    bugcheck_last.p[3] == 0 && h.m.MappedSystemVa == NULL && h.m.MdlFlags == MDL_PAGES_LOCKED;
			if (!good && wrong++ < 4)
				printf("# 0x%llx, call %u: 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", (unsigned long long)addrs[k], call,
				       bugcheck_last.code, (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
				       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
		}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u map, unmap and free calls outside the region (NULL, either side of it, past its window, "
	   "non-canonical, the top): 0x105, 0x109, 0x102 with the address as passed, the tag and 0", cases);
}

/*
 * syspte_describe of each free page whose page before lies in a cached chunk (the guard-page check
 * of mm/syspte_report.c looks that page up, under the owning cache's lock), that lock held for good
 * as CPU 5: "CPU 5 holds its lock", nothing read, within 80 columns; once free, "is free". The
 * alarm ends a description that spins for the lock.
 */
static void test_describe_after_cached_chunk(void)
{
	static char said[1024];
	struct syspte_region *r = reserved_region();
	uint32_t polls = syspte_describe_polls;
	syspte_describe_polls = 64;
	vaddr_t va = syspte_reserve(r, 2, TAG, 0);
	unsigned cases = 0, named = 0, freed = 0, wide = 0;
	alarm(60);
	for (uint64_t p = 1; va && p < r->npages; p++) {
		unsigned o = syspte_cache_owner_page(r, p - 1);
		if (!o || syspte_cache_owner_page(r, p))
			continue;
		vaddr_t v = r->base + (p << PAGE_SHIFT);
		spinlock_t *l = (spinlock_t *)syspte_cache_lock(r, o - 1);
		lock_play_hold(l, 5);
		capture_begin();
		syspte_describe(r, v);
		capture_end(said, sizeof(said));
		lock_play_release(l);
		named += strstr(said, "but CPU 5 holds its lock\n") && strstr(said, "the region is not read\n");
		for (const char *line = said; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n'))
			wide += strcspn(line, "\n") > KPRINTF_SCREEN_COLS;
		capture_begin();
		syspte_describe(r, v);
		capture_end(said, sizeof(said));
		freed += strstr(said, "is free (unreserved) system PTE space\n") != NULL;
		cases++;
	}
	alarm(0);
	syspte_describe_polls = polls;
	ok(cases >= 1 && named == cases && freed == cases && wide == 0,
	   "a free page after a cached chunk whose cache's lock is held for good: the holder named, nothing read "
	   "(%u of %u), then described as free (%u); lines within %d columns", named, cases, freed, KPRINTF_SCREEN_COLS);
	ok(va && syspte_release(r, va, TAG) == SYSPTE_OK && syspte_check(r) == 0, "region intact");
}

int main(void)
{
	mm_verifier_set(true);
	if (host_machine_create(64ULL << 20, 8ULL << 20)) {
		printf("Bail out! machine\n");
		return 1;
	}
	ok(syspte_guard_pages(reserved_region()) == 1, "verifier mode: one guard page per reservation");
	test_pattern_generated();
	test_pattern_after_mdl_free();
	test_guard_rows();
	test_outside_rows();
	test_describe_after_cached_chunk();
	return tap_done();
}
