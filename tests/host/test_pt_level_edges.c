/*
 * pt.c's walkers at the tree's level boundaries, against a page-by-page model of their own.
 *
 * Generated: maps (4 KiB pages, or 2 MiB leaves where allowed and aligned), unmaps and protects of
 * ranges drawn around the boundaries of a 16 MiB window whose middle is a 1 GiB boundary: the last
 * PTE of a level-1 table and the first of the next, the last level-2 entry of a level-2 table and
 * the first of the next, the first and last page of a 2 MiB leaf. The model predicts the outcome
 * (PT_EEXIST for a map over a mapped page, changing nothing), where pt_map puts a 2 MiB leaf (a
 * span whose level-2 entry already points to a table gets 4 KiB pages), the splits of leaves an
 * unmap or protect cuts; after every call each page of the window and the page on either side of
 * it is queried (mapped or not, frame, page size, writable) and pt_pte_slot is asked for it
 * (a slot exactly where a level-1 table maps the page), and pt_check stays clean.
 *
 * Directed, at the other boundaries: a 1 GiB leaf queried at its first and last byte and at the
 * pages beside it, then cut at its last page (split into 2 MiB leaves, the last one into 4 KiB
 * pages); the two pages below the top of the canonical space (the last one never maps: its end
 * would wrap); and addresses that are not canonical, which translate to nothing even when their
 * table indices are those of a mapped page.
 */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pt.h"
#include "test_rng.h"

static struct machine_map m;
static struct pt pt;
static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static void setup(uint64_t ram_pages)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, ram_pages, 0);
	phys_init(m.buf, machine_map_size(&m), m.desc_size);
}

#define SPANP 512u                                  /* 4 KiB pages of a 2 MiB span */
#define NSPAN 8u                                    /* spans of the window */
#define WPAGES (NSPAN * SPANP)
#define WBASE (0xffffc00000000000ULL + 4 * SIZE_1G - (NSPAN / 2) * SIZE_2M)   /* a 1 GiB boundary in its middle */

/* The model: each page's frame + 1 (0 unmapped) and writability; each span's level-2 entry. */
static uint64_t mpa[WPAGES];
static bool mw[WPAGES];
static bool mleaf[NSPAN], mtable[NSPAN];

static vaddr_t wva(uint64_t p) { return WBASE + p * PAGE_SIZE; }

/* The model's pt_map of n pages from page p to frame address pa: PT_EEXIST when a page is mapped,
 * else the greedy layout (a 2 MiB leaf where allowed, both addresses aligned, 512 pages left and no
 * table under the span's entry). */
static int model_map(uint64_t p, uint64_t n, paddr_t pa, unsigned prot, unsigned sizes)
{
	for (uint64_t k = p; k < p + n; k++)
		if (mpa[k])
			return PT_EEXIST;
	for (uint64_t k = p; k < p + n;) {
		uint64_t s = k / SPANP;
		paddr_t f = pa + (k - p) * PAGE_SIZE;
		if ((sizes & PT_SIZE_2M) && k % SPANP == 0 && f % SIZE_2M == 0 && p + n - k >= SPANP && !mtable[s]) {
			mleaf[s] = true;
			for (uint64_t j = 0; j < SPANP; j++)
				mpa[k + j] = f + j * PAGE_SIZE + 1, mw[k + j] = prot & PT_PROT_W;
			k += SPANP;
			continue;
		}
		mtable[s] = true;
		mpa[k] = f + 1, mw[k] = prot & PT_PROT_W;
		k++;
	}
	return PT_OK;
}

/* The splits of an unmap or protect of [p, p + n): a leaf holding an end and reaching outside. */
static void model_split_ends(uint64_t p, uint64_t n)
{
	uint64_t ends[2] = { p, p + n - 1 };
	for (int e = 0; e < 2; e++) {
		uint64_t s = ends[e] / SPANP;
		if (mleaf[s] && (s * SPANP < p || (s + 1) * SPANP > p + n))
			mleaf[s] = false, mtable[s] = true;
	}
}

static void model_unmap(uint64_t p, uint64_t n)
{
	model_split_ends(p, n);
	for (uint64_t s = p / SPANP; s * SPANP < p + n; s++)
		mleaf[s] = false;   /* a leaf left in the range lies whole inside it: its entry is cleared */
	for (uint64_t k = p; k < p + n; k++)
		mpa[k] = 0;
}

static void model_protect(uint64_t p, uint64_t n, unsigned prot)
{
	model_split_ends(p, n);
	for (uint64_t k = p; k < p + n; k++)
		if (mpa[k])
			mw[k] = prot & PT_PROT_W;
}

/* Compares every page of the window (and the page before and after it) with the model; returns
 * the pages that differ, printing the first few. */
static unsigned check_window(const char *after)
{
	unsigned bad = 0;
	for (int64_t q = -1; q <= (int64_t)WPAGES; q++) {
		vaddr_t va = WBASE + (uint64_t)q * PAGE_SIZE;
		bool inside = q >= 0 && q < (int64_t)WPAGES;
		uint64_t k = (uint64_t)q, s = k / SPANP;
		paddr_t pa = 0;
		uint64_t pte = 0, sz = 0;
		vaddr_t off = (uint64_t)(q + 7) * 8 % PAGE_SIZE;
		bool mapped = pt_query(&pt, va + off, &pa, &pte, &sz);
		bool want = inside && mpa[k];
		bool good = mapped == want;
		if (good && want)
			good = pa == mpa[k] - 1 + off && sz == (mleaf[s] ? SIZE_2M : PAGE_SIZE) &&
			       !!(pte & X86_PTE_W) == mw[k];
		if (good && inside)
			good = (pt_pte_slot(&pt, va) != NULL) == mtable[s];
		if (!good && bad++ < 4)
			printf("# after %s: page %lld (0x%llx): mapped %d (want %d), pa 0x%llx (want 0x%llx), size 0x%llx, "
			       "slot %d (want %d)\n", after, (long long)q, (unsigned long long)va, mapped, want,
			       (unsigned long long)pa, (unsigned long long)(inside && mpa[k] ? mpa[k] - 1 + off : 0),
			       (unsigned long long)sz, inside ? pt_pte_slot(&pt, va) != NULL : -1, inside ? mtable[s] : -1);
	}
	return bad;
}

/* A page index near a boundary of the window: a span's first or last page (the last PTE of a
 * level-1 table), the middle (the 1 GiB boundary: the last level-2 entry of its table), or any. */
static uint64_t near_boundary(void)
{
	uint64_t s = draw(NSPAN + 1) * SPANP;
	switch (draw(4)) {
	case 0: return MIN(s, WPAGES - 1);
	case 1: return s ? s - 1 : 0;
	case 2: return MIN(s + draw(3), WPAGES - 1);
	default: return draw(WPAGES);
	}
}

static void test_generated_boundaries(void)
{
	unsigned bad = 0, steps = 0;
	uint64_t counts[6] = { 0 };   /* maps, refused maps, leaves made, splits, unmaps, protects */
	for (; steps < 3000 && bad == 0; steps++) {
		if (steps % 50 == 0) {   /* a fresh tree now and then: spans without tables take leaves again */
			setup(8192);
			pt_create(&pt, PT_FEAT_ALL);
			memset(mpa, 0, sizeof(mpa));
			memset(mleaf, 0, sizeof(mleaf));
			memset(mtable, 0, sizeof(mtable));
		}
		uint64_t p = near_boundary(), end = near_boundary();
		if (end < p) {
			uint64_t t = p;
			p = end;
			end = t;
		}
		uint64_t n = end - p + 1;
		if (draw(3) == 0)
			n = 1 + draw(MIN(3, WPAGES - p));
		else if (draw(3) == 0) {   /* whole spans, from a span's first page */
			p = draw(NSPAN) * SPANP;
			n = (1 + draw(NSPAN - p / SPANP)) * SPANP;
		}
		unsigned op = (unsigned)draw(8);
		unsigned prot = draw(2) ? PT_PROT_W : 0;
		int got, want;
		const char *what;
		if (op < 4) {
			unsigned sizes = draw(4) ? PT_SIZE_4K | PT_SIZE_2M : PT_SIZE_4K;
			paddr_t pa = (0x40000000ULL + draw(64) * SIZE_2M) + (draw(4) ? 0 : draw(SPANP) * PAGE_SIZE);
			if (draw(2)) {   /* start the frames so that the span boundaries line up with 2 MiB frames */
				pa = 0x40000000ULL + draw(64) * SIZE_2M + (p % SPANP) * PAGE_SIZE;
			}
			bool leaves_before[NSPAN];
			memcpy(leaves_before, mleaf, sizeof(mleaf));
			want = model_map(p, n, pa, prot, sizes);
			got = pt_map(&pt, wva(p), pa, n * PAGE_SIZE, prot, sizes);
			counts[0]++;
			counts[1] += want != PT_OK;
			for (unsigned s = 0; s < NSPAN; s++)
				counts[2] += mleaf[s] && !leaves_before[s];
			what = "map";
		} else if (op < 6) {
			bool leaves_before[NSPAN];
			memcpy(leaves_before, mleaf, sizeof(mleaf));
			model_unmap(p, n);
			want = PT_OK;
			got = pt_unmap(&pt, wva(p), n * PAGE_SIZE);
			counts[4]++;
			for (unsigned s = 0; s < NSPAN; s++)
				counts[3] += leaves_before[s] && mtable[s] && !mleaf[s] && (s * SPANP < p || (s + 1) * SPANP > p + n);
			what = "unmap";
		} else {
			bool leaves_before[NSPAN];
			memcpy(leaves_before, mleaf, sizeof(mleaf));
			model_protect(p, n, prot);
			want = PT_OK;
			got = pt_protect(&pt, wva(p), n * PAGE_SIZE, prot);
			counts[5]++;
			for (unsigned s = 0; s < NSPAN; s++)
				counts[3] += leaves_before[s] && !mleaf[s];
			what = "protect";
		}
		if (got != want && bad++ < 4)
			printf("# step %u: %s of pages [%llu, +%llu): %d, want %d\n", steps, what, (unsigned long long)p,
			       (unsigned long long)n, got, want);
		bad += check_window(what);
		bad += pt_check(&pt) != 0;
	}
	ok(bad == 0, "%u generated maps, unmaps and protects around the ends of level-1 and level-2 tables and of 2 MiB "
	   "leaves: outcome, every page's frame, size, protection and PTE slot as the model says", steps);
	ok(counts[0] > 600 && counts[1] > 100 && counts[2] > 80 && counts[3] > 40 && counts[4] > 400 && counts[5] > 200,
	   "the cases reached: %llu maps (%llu refused, %llu leaves), %llu splits, %llu unmaps, %llu protects",
	   (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2],
	   (unsigned long long)counts[3], (unsigned long long)counts[4], (unsigned long long)counts[5]);
}

/* A 1 GiB leaf: its first and last byte translate, the pages beside it do not; cutting its last
 * page splits it into 2 MiB leaves and the last of those into 4 KiB pages, every other page still
 * translating to its frame. */
static void test_1g_leaf_edges(void)
{
	setup(8192);
	pt_create(&pt, PT_FEAT_ALL);
	const vaddr_t va = 0xffffc00000000000ULL + 3 * SIZE_1G;
	const paddr_t pa = 5 * SIZE_1G;
	paddr_t got;
	uint64_t sz;
	is(pt_map(&pt, va, pa, SIZE_1G, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G), PT_OK, "a 1 GiB leaf");
	ok(pt_query(&pt, va, &got, NULL, &sz) && got == pa && sz == SIZE_1G && pt_query(&pt, va + SIZE_1G - 1, &got, NULL, &sz) &&
	   got == pa + SIZE_1G - 1 && sz == SIZE_1G, "its first and last byte translate, as a 1 GiB page");
	ok(!pt_query(&pt, va - 1, NULL, NULL, NULL) && !pt_query(&pt, va + SIZE_1G, NULL, NULL, NULL) &&
	   pt_pte_slot(&pt, va) == NULL && pt_pte_slot(&pt, va + SIZE_1G - PAGE_SIZE) == NULL,
	   "the bytes beside it translate to nothing; no level-1 slot exists under it");
	is(pt_unmap(&pt, va + SIZE_1G - PAGE_SIZE, PAGE_SIZE), PT_OK, "its last page unmapped");
	unsigned wrong = 0;
	for (uint64_t k = 0; k < SIZE_1G / PAGE_SIZE; k += (k % 512 == 0 || k % 512 == 511) ? 1 : 97) {
		vaddr_t v = va + k * PAGE_SIZE;
		bool last_span = k >= (SIZE_1G - SIZE_2M) / PAGE_SIZE, last = k == SIZE_1G / PAGE_SIZE - 1;
		bool q = pt_query(&pt, v + 8, &got, NULL, &sz);
		bool good = last ? !q : q && got == pa + k * PAGE_SIZE + 8 && sz == (last_span ? PAGE_SIZE : SIZE_2M);
		good &= (pt_pte_slot(&pt, v) != NULL) == last_span;
		if (!good && wrong++ < 4)
			printf("# page %llu: mapped %d pa 0x%llx size 0x%llx\n", (unsigned long long)k, q,
			       (unsigned long long)got, (unsigned long long)sz);
	}
	ok(wrong == 0, "after the cut: 2 MiB leaves but the last span, 4 KiB pages there, the last page gone");
	is(pt_check(&pt), 0, "checker clean");
}

/* The top of the canonical space: the page below the last maps, the last never does (its end
 * wraps); queries at and past the top answer for what is mapped. */
static void test_canonical_top(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	const vaddr_t last = 0xfffffffffffff000ULL, before = last - PAGE_SIZE;
	paddr_t got;
	is(pt_map(&pt, last, 0x7000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K), PT_EINVAL, "the last page of the space is refused");
	is(pt_map(&pt, before, 0x7000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K), PT_OK, "the page below it maps");
	ok(pt_query(&pt, before + PAGE_SIZE - 1, &got, NULL, NULL) && got == 0x7fff &&
	   !pt_query(&pt, last, NULL, NULL, NULL) && !pt_query(&pt, 0xffffffffffffffffULL, NULL, NULL, NULL),
	   "its last byte translates; the last page's do not");
	ok(pt_pte_slot(&pt, last) != NULL && pt_pte_slot(&pt, before) != NULL,
	   "both pages have a level-1 slot in the table the map made");
	is(pt_unmap(&pt, before, 2 * PAGE_SIZE), PT_EINVAL, "an unmap reaching the end of the space is refused");
	ok(pt_query(&pt, before, NULL, NULL, NULL), "and changed nothing");
	is(pt_unmap(&pt, before, PAGE_SIZE), PT_OK, "the page unmapped");
	ok(!pt_query(&pt, before, NULL, NULL, NULL), "gone");
	is(pt_check(&pt), 0, "checker clean");
}

/* Non-canonical addresses whose table indices and offset are a mapped page's translate to
 * nothing, for every bit pattern of bits 48..63 that is not the sign of bit 47. */
static void test_noncanonical_query(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	const vaddr_t hi = 0xffffc00000123000ULL, lo = 0x0000000000456000ULL;
	pt_map(&pt, hi, 0x9000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	pt_map(&pt, lo, 0xa000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	unsigned wrong = 0, cases = 0;
	for (unsigned b = 0; b < 16; b++)
		for (unsigned r = 0; r < 64; r++, cases++) {
			uint64_t top = r == 0 ? 0 : r == 1 ? 0xffff : draw(0x10000);
			vaddr_t a = (hi & 0x0000ffffffffffffULL) | top << 48, c = (lo & 0x0000ffffffffffffULL) | top << 48;
			a += b * 8;
			c += b * 8;
			bool want_a = top == 0xffff, want_c = top == 0;
			if (pt_query(&pt, a, NULL, NULL, NULL) != want_a || pt_query(&pt, c, NULL, NULL, NULL) != want_c) {
				if (wrong++ < 4)
					printf("# 0x%llx or 0x%llx translated wrongly\n", (unsigned long long)a, (unsigned long long)c);
			}
		}
	ok(wrong == 0, "%u addresses: only the canonical forms of a mapped page translate", cases);
}

int main(void)
{
	fake_arch_init();
	test_generated_boundaries();
	test_1g_leaf_edges();
	test_canonical_top();
	test_noncanonical_query();
	return tap_done();
}
