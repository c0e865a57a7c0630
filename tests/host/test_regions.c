/*
 * Two system PTE regions in one process: the machine's region (the one the WDK calls use), driven
 * by the differential model of test_syspte (model_syspte.c: every call, its bug check, the PTEs
 * and the TLB log checked exactly), and a second region over another range of the same address
 * space, driven directly through syspte_* with its own shadow, the calls of the two interleaved.
 * After every call: both regions pass syspte_check, the second's accounting and PTEs match its
 * shadow, and a call on one region left the other's statistics as they were. Cross-region misuse
 * (an address of one region given to the other) is the documented bug check on the region called,
 * with both unchanged. Region B's reserves carry, now and then, a flag bit it does not know (with
 * or without DIVISIBLE, at any size): refused, its statistics unchanged.
 * A region's geometry, generated: syspte_create refuses every base and count that breaks one rule
 * (no pages, a base off 2 MiB, a count not whole 2 MiB pieces, more than BUDDY_MAX_PAGES, a range
 * past the top of the address space), each with the others kept, before it asks for any memory;
 * the same draws with the rule kept give a region whose first reservation lies at its base. Its
 * metadata holds a level-2 table pointer per GiB the range touches (ranges ending on a GiB boundary too).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "model_syspte.h"
#include "model_syspte.c"
#include "test_rng.h"
#include "testhooks.h"
#include "buddy.h"
#include "syspte_cache.h"

/* 4 MiB below 64 GiB above the machine's region: not 1 GiB aligned, so its spans' level-2 entries lie
 * in two level-2 tables, from the middle of the first (syspte_pde's arithmetic, checked by syspte_check) */
#define B_BASE (SYSPTE_BASE + (64ULL << 30) - (4ULL << 20))
#define B_PAGES 2048                            /* 8 MiB */
#define B_MAXR 64
#define B_TAG 0x42676552u                       /* 'RegB' */

static uint64_t rng;

static uint64_t xdraw(uint64_t n)
{
	if (!n)
		return 0;
	return test_rng_next(&rng) % n;
}

/* The second region and its shadow: live reservations, and the frame mapped at each page (0: none). */
static struct syspte_region *rb;
static struct { vaddr_t va; uint64_t n; uint32_t tag; bool live; } bres[B_MAXR];
static uint64_t bpfn[B_PAGES];
static bool bstart[B_PAGES];   /* the first page of a mapping */
static uint64_t bfail, bmisuse, bunknown;   /* bunknown: reserves with an unknown flag */

static void bad(const char *what, uint64_t a, uint64_t b)
{
	if (bfail++ < 10)
		printf("# region B: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
}

static uint64_t bpage(vaddr_t va) { return (va - B_BASE) >> PAGE_SHIFT; }

/* Checks region B's PTEs (through the page tables) and accounting against the shadow. */
static void b_check(void)
{
	uint64_t live = 0, pages = 0, mapped = 0;
	for (int k = 0; k < B_MAXR; k++)
		if (bres[k].live)
			live++, pages += bres[k].n;
	for (uint64_t i = 0; i < B_PAGES; i++) {
		paddr_t pa;
		bool m = pt_query(host_machine_pt(), B_BASE + (i << PAGE_SHIFT), &pa, NULL, NULL);
		if (m != (bpfn[i] != 0) || (m && pa_to_pfn(pa) != bpfn[i]))
			bad("PTE differs from the shadow", i, bpfn[i]);
		mapped += bpfn[i] != 0;
	}
	struct syspte_stats s;
	syspte_get_stats(rb, &s);
	if (s.live != live || s.pages_reserved != pages || s.pages_mapped != mapped || s.base != B_BASE)
		bad("accounting differs from the shadow", s.live, s.pages_reserved);
	if (syspte_check(rb))
		bad("syspte_check failed", 0, 0);
}

/* A live reservation of B, or -1. */
static int b_pick(void)
{
	int k = (int)xdraw(B_MAXR);
	for (int j = 0; j < B_MAXR; j++, k = (k + 1) % B_MAXR)
		if (bres[k].live)
			return k;
	return -1;
}

static void b_reserve(void)
{
	int k = 0;
	while (k < B_MAXR && bres[k].live)
		k++;
	if (k == B_MAXR)
		return;
	uint64_t n = 1 + xdraw(64);
	uint32_t flags = xdraw(4) ? 0 : SYSPTE_FLAG_DIVISIBLE;
	if (xdraw(8) == 0) {   /* a flag the region does not know, with or without a known one: refused */
		struct syspte_stats s0, s1;
		syspte_get_stats(rb, &s0);
		flags |= 1u << (1 + xdraw(31));
		vaddr_t va = syspte_reserve(rb, xdraw(2) ? n : 1 + xdraw(SYSPTE_CACHE_MAX_PAGES), B_TAG + (uint32_t)k, flags);
		syspte_get_stats(rb, &s1);
		if (va || memcmp(&s0, &s1, sizeof(s0)))
			bad("unknown flags accepted", va, flags);
		bunknown++;
		return;
	}
	vaddr_t va = syspte_reserve(rb, n, B_TAG + (uint32_t)k, flags);
	if (!va)
		return;
	if (!syspte_in_region(rb, va) || syspte_in_region(reserved_region(), va) || bpage(va) + n > B_PAGES)
		bad("reservation outside region B", va, n);
	bres[k] = (typeof(bres[k])){ va, n, B_TAG + (uint32_t)k, true };
}

static void b_release(void)
{
	int k = b_pick();
	if (k < 0)
		return;
	uint64_t i = bpage(bres[k].va), before = bugcheck_last.count;
	bool mapped = false;
	for (uint64_t j = 0; j < bres[k].n; j++)
		mapped |= bpfn[i + j] != 0;
	int st = syspte_release(rb, bres[k].va, bres[k].tag);
	if (mapped != (st == SYSPTE_MISUSE) || (mapped && (bugcheck_last.count != before + 1 ||
	    bugcheck_last.p[0] != SYSPTE_BUGCHECK_FREE_STILL_MAPPED)))
		bad("release outcome", st, mapped);
	bmisuse += st == SYSPTE_MISUSE;
	if (st == SYSPTE_OK)
		bres[k].live = false;
}

static void b_map(void)
{
	int k = b_pick();
	if (k < 0)
		return;
	uint64_t off = xdraw(bres[k].n), n = 1 + xdraw(bres[k].n - off), i = bpage(bres[k].va) + off;
	uint64_t pfns[64], before = bugcheck_last.count;
	bool busy = false;
	for (uint64_t j = 0; j < n; j++) {
		pfns[j] = 0x100 + xdraw(1 << 16);
		busy |= bpfn[i + j] != 0;
	}
	int st = syspte_map(rb, bres[k].va + (off << PAGE_SHIFT), bres[k].tag, pfns, n, PT_CACHE_WB);
	if ((st == SYSPTE_OK) == busy || (busy && bugcheck_last.p[0] != SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED) ||
	    bugcheck_last.count != before + busy)
		bad("map outcome", st, busy);
	bmisuse += st == SYSPTE_MISUSE;
	if (st == SYSPTE_OK) {
		for (uint64_t j = 0; j < n; j++)
			bpfn[i + j] = pfns[j];
		bstart[i] = true;
	}
}

/* Pages of the mapping starting at page i (by the shadow's marks). */
static uint64_t b_mapping_len(uint64_t i)
{
	uint64_t n = 1;
	while (i + n < B_PAGES && bpfn[i + n] && !bstart[i + n])
		n++;
	return n;
}

/* Unmaps the first mapping of a reservation; one time in four, when it has two pages or more, the
 * same span one page further on instead, which starts inside the mapping: a misuse (0x10C, or
 * 0x10A/0x10B when the span leaves the reservation or meets an unmapped page) that changes nothing. */
static void b_unmap(void)
{
	int k = b_pick();
	if (k < 0)
		return;
	uint64_t i = bpage(bres[k].va), end = i + bres[k].n;
	while (i < end && !bpfn[i])
		i++;
	if (i == end)
		return;
	uint64_t n = b_mapping_len(i), before = bugcheck_last.count;
	bool cut = n >= 2 && xdraw(4) == 0;   /* page i + 1 is then inside the mapping */
	int st = syspte_unmap(rb, B_BASE + ((i + cut) << PAGE_SHIFT), bres[k].tag, n);
	if (st != (cut ? SYSPTE_MISUSE : SYSPTE_OK) || bugcheck_last.count != before + cut)
		bad("unmap outcome", st, cut);
	bmisuse += st == SYSPTE_MISUSE;
	if (st == SYSPTE_OK)
		for (uint64_t j = 0; j < n; j++)
			bpfn[i + j] = 0, bstart[i + j] = false;
}

/* An address of each region given to the other: the region called reports it as in none of its
 * reservations, and neither region changes. */
static void cross(void)
{
	struct syspte_stats a0, b0, a1, b1;
	syspte_get_stats(reserved_region(), &a0);
	syspte_get_stats(rb, &b0);
	int k = b_pick();
	vaddr_t in_b = k >= 0 ? bres[k].va : B_BASE, in_a = SYSPTE_BASE + (xdraw(MODEL_NPAGES) << PAGE_SHIFT);
	uint64_t pfn = 0x200, before = bugcheck_last.count;
	syspte_release(reserved_region(), in_b, B_TAG);
	bool ok1 = bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_NOT_START && bugcheck_last.p[1] == in_b;
	syspte_map(rb, in_a, B_TAG, &pfn, 1, PT_CACHE_WB);
	bool ok2 = bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_NO_RESERVATION && bugcheck_last.p[1] == in_a;
	syspte_unmap(reserved_region(), in_b, B_TAG, 1);
	bool ok3 = bugcheck_last.p[0] == SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED && bugcheck_last.p[1] == in_b;
	syspte_get_stats(reserved_region(), &a1);
	syspte_get_stats(rb, &b1);
	if (!ok1 || !ok2 || !ok3 || bugcheck_last.count != before + 3 || memcmp(&a0, &a1, sizeof(a0)) ||
	    memcmp(&b0, &b1, sizeof(b0)))
		bad("cross-region misuse", ok1 | ok2 << 1 | ok3 << 2, bugcheck_last.count - before);
	bmisuse += 3;
}

/* One call on region B, checking that region A's statistics did not move. */
static void b_step(void)
{
	struct syspte_stats a0, a1;
	syspte_get_stats(reserved_region(), &a0);
	switch (xdraw(8)) {
	case 0: case 1: b_reserve(); break;
	case 2: b_release(); break;
	case 3: case 4: b_map(); break;
	case 5: case 6: b_unmap(); break;
	default: cross(); break;
	}
	syspte_get_stats(reserved_region(), &a1);
	if (memcmp(&a0, &a1, sizeof(a0)))
		bad("a call on region B changed region A", a0.live, a1.live);
	if (syspte_check(reserved_region()))
		bad("region A inconsistent after a call on region B", 0, 0);
	b_check();
}

/* Empties region B through its API. */
static void b_teardown(void)
{
	for (int k = 0; k < B_MAXR; k++) {
		if (!bres[k].live)
			continue;
		for (uint64_t i = bpage(bres[k].va); i < bpage(bres[k].va) + bres[k].n; i++)
			if (bstart[i]) {
				uint64_t n = b_mapping_len(i);
				if (syspte_unmap(rb, B_BASE + (i << PAGE_SHIFT), bres[k].tag, n) != SYSPTE_OK)
					bad("teardown unmap refused", i, n);
				for (uint64_t j = 0; j < n; j++)
					bpfn[i + j] = 0, bstart[i + j] = false;
			}
		if (syspte_release(rb, bres[k].va, bres[k].tag) != SYSPTE_OK)
			bad("teardown release refused", bres[k].va, bres[k].n);
		bres[k].live = false;
	}
}

/* One seed: a fresh machine, region B beside it, nops steps alternating at random. */
static uint64_t run_seed(uint64_t seed, uint64_t nops)
{
	uint64_t f0 = model_counts.failures, b0 = bfail;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	if (model_begin(xdraw, MODEL_STRICT_ROOM))
		return 1;
	memset(bres, 0, sizeof(bres));
	memset(bpfn, 0, sizeof(bpfn));
	memset(bstart, 0, sizeof(bstart));
	rb = syspte_create(host_machine_pt(), B_BASE, B_PAGES);
	if (!rb)
		return 1;
	for (uint64_t k = 0; k < nops && model_counts.failures - f0 + bfail - b0 < 10; k++) {
		if (xdraw(2))
			model_step();
		else
			b_step();
	}
	b_teardown();
	struct syspte_stats s;
	syspte_get_stats(rb, &s);
	if (s.live || s.pages_mapped || s.free_pages != B_PAGES || syspte_check(rb))
		bad("region B not empty after its teardown", s.live, s.pages_mapped);
	model_end();
	return model_counts.failures - f0 + bfail - b0;
}

#define G_GOOD_BASE (SYSPTE_BASE + (96ULL << 30))   /* above region B: the valid regions made here */

/* A geometry that keeps every rule: a 2 MiB aligned base below the top of the address space, and
 * whole 2 MiB pieces not past BUDDY_MAX_PAGES that end before the top. */
static void g_valid(vaddr_t *base, uint64_t *npages)
{
	*npages = PT_ENTRIES * (1 + xdraw(BUDDY_MAX_PAGES / PT_ENTRIES));
	uint64_t room = (UINT64_MAX - (*npages << PAGE_SHIFT)) / SIZE_2M;   /* bases whose range fits */
	*base = xdraw(room + 1) * SIZE_2M;
}

/* syspte_create of a geometry breaking rule 'which' (the others kept): NULL, and no memory asked. */
static bool g_refused(unsigned which)
{
	vaddr_t base;
	uint64_t npages;
	g_valid(&base, &npages);
	switch (which) {
	case 0: npages = 0; break;
	case 1: base += xdraw(2) ? (1 + xdraw(PT_ENTRIES - 1)) << PAGE_SHIFT : 1 + xdraw(SIZE_2M - 1); break;
	case 2: npages = npages - PT_ENTRIES + 1 + xdraw(PT_ENTRIES - 1); break;
	case 3: npages = ALIGN_UP(BUDDY_MAX_PAGES, PT_ENTRIES) + PT_ENTRIES * xdraw(1u << 20); break;
	case 4:    /* ending exactly at the top: its last span's tables could never be made (pt_range_ok) */
		npages = PT_ENTRIES * (1 + xdraw(64));
		base = 0 - (npages << PAGE_SHIFT);
		break;
	default:   /* two pieces or more, starting j pieces below the top (0 < j < pieces): past it */
		npages = PT_ENTRIES * (2 + xdraw(BUDDY_MAX_PAGES / PT_ENTRIES - 1));
		base = 0 - SIZE_2M * (1 + xdraw(npages / PT_ENTRIES - 1));
		break;
	}
	uint64_t calls = phys_alloc_calls;
	struct syspte_region *r = syspte_create(host_machine_pt(), base, npages);
	if (r || phys_alloc_calls != calls) {
		printf("# rule %u: 0x%llx + %llu pages %s\n", which, (unsigned long long)base, (unsigned long long)npages,
		       r ? "accepted" : "refused after asking for memory");
		return false;
	}
	return true;
}

/* The geometry rules, generated: each broken alone is refused at once; a few kept give regions. */
static void test_geometry(void)
{
	rng = 0x5eed;
	unsigned refused = 0, cases = 0;
	for (unsigned k = 0; k < 600; k++, cases++)
		refused += g_refused(k % 6);
	ok(refused == cases, "%u of %u geometries breaking one rule (no pages, base off 2 MiB, count not whole "
	   "2 MiB pieces, past BUDDY_MAX_PAGES, ending exactly at the top, past the top) refused before any memory "
	   "was asked for", refused, cases);
	bool made = true;
	for (unsigned k = 0; k < 4; k++) {
		vaddr_t base = G_GOOD_BASE + (k << 30) + xdraw(256) * SIZE_2M;
		uint64_t npages = PT_ENTRIES * (1 + xdraw(8));
		struct syspte_region *r = syspte_create(host_machine_pt(), base, npages);
		vaddr_t va = r ? syspte_reserve(r, npages, B_TAG, 0) : 0;
		made &= r && va == base && syspte_release(r, va, B_TAG) == SYSPTE_OK && syspte_check(r) == 0;
	}
	ok(made, "the same rules kept (aligned base, whole pieces): regions made, each reserved whole at its base");
}

#define L_BASE (SYSPTE_BASE + (128ULL << 30))   /* above the regions of test_geometry: the layout's regions */

/* Level-2 tables (1 GiB of address each) the range of npages pages from base touches. */
static uint64_t l_gibs(vaddr_t base, uint64_t npages)
{
	return ALIGN_UP((base & (SIZE_1G - 1)) + (npages << PAGE_SHIFT), SIZE_1G) >> 30;
}

/* The region's metadata keeps one level-2 table pointer per GiB its range touches, no more: regions of
 * the same size, one from a GiB boundary and one 2 MiB pieces past it (half of them ending exactly
 * on a GiB boundary), differ in meta_bytes by a pointer for each further GiB touched. */
static void test_layout(void)
{
	rng = 0x1a9007;
	unsigned good = 0, cases = 24, ends_on_gib = 0;
	for (unsigned k = 0; k < cases; k++) {
		uint64_t npages = PT_ENTRIES * (1 + xdraw(3 * (SIZE_1G >> 21)));   /* up to 3 GiB */
		uint64_t size = npages << PAGE_SHIFT, off = (k & 1) ? (SIZE_1G - size % SIZE_1G) % SIZE_1G
									: xdraw(SIZE_1G / SIZE_2M) * SIZE_2M;
		vaddr_t b0 = L_BASE + ((uint64_t)k << 33), b1 = b0 + off;   /* 8 GiB apart */
		ends_on_gib += ((b1 + size) & (SIZE_1G - 1)) == 0;
		struct syspte_region *r0 = syspte_create(host_machine_pt(), b0, npages);
		struct syspte_region *r1 = syspte_create(host_machine_pt(), b1, npages);
		struct syspte_stats s0, s1;
		if (!r0 || !r1) {
			printf("# 0x%llx + %llu pages: not made\n", (unsigned long long)b1, (unsigned long long)npages);
			continue;
		}
		syspte_get_stats(r0, &s0);
		syspte_get_stats(r1, &s1);
		uint64_t want = (l_gibs(b1, npages) - l_gibs(b0, npages)) * sizeof(pte_t *);
		if (s1.meta_bytes - s0.meta_bytes == want)
			good++;
		else
			printf("# 0x%llx + %llu pages: %llu metadata bytes, %llu more than from a GiB boundary, not %llu\n",
			       (unsigned long long)b1, (unsigned long long)npages, (unsigned long long)s1.meta_bytes,
			       (unsigned long long)(s1.meta_bytes - s0.meta_bytes), (unsigned long long)want);
	}
	ok(good == cases && ends_on_gib >= cases / 2,
	   "%u of %u regions (%u ending on a GiB boundary) hold a level-2 table pointer per GiB they touch", good, cases,
	   ends_on_gib);
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 6;
	uint64_t nops = argc > 2 ? strtoull(argv[2], NULL, 0) : 8000;
	for (uint64_t s = 1; s <= seeds; s++)
		is(run_seed(s, nops), 0, "seed %llu: %llu calls interleaved on two regions, each checked",
		   (unsigned long long)s, (unsigned long long)nops);
	ok(model_counts.bugchecks_seen > seeds * 20, "the model's region saw its misuse (%llu bug checks)",
	   (unsigned long long)model_counts.bugchecks_seen);
	ok(bmisuse > seeds * 100, "region B and the cross-region calls saw theirs (%llu bug checks)",
	   (unsigned long long)bmisuse);
	ok(bunknown > seeds * 20, "region B refused each of %llu reserves with a flag it does not know, unchanged",
	   (unsigned long long)bunknown);
	test_geometry();
	test_layout();
	return tap_done();
}
