/*
 * Reserve and free of the system PTE region against a page model, generated (seeded), on regions
 * placed where the arithmetic is at its edges. The model is one byte per region page: free,
 * reserved or a verifier guard page. After every call the outcome is the one the model and
 * docs/contract.md (section 3) decide:
 *
 *  - a reservation lies inside the region, page aligned, over pages the model has free (no two live
 *    reservations overlap, a guard page included), and with DIVISIBLE its address is a multiple of
 *    its size exactly; a refused one (NULL) has no free run of its size (and guard) in the model,
 *    at a start DIVISIBLE allows; the region's free pages, live reservations and reserved pages
 *    then move by exactly that reservation, or not at all;
 *  - a free at the start (any byte of the first page) succeeds and gives back its pages and guard;
 *    a free anywhere else (an inner page, the page after the last one, the page before the start,
 *    the region's last page, the region's end and the byte before its base, NULL, non-canonical
 *    addresses, the top of the address space, a start freed already) is bug check 0xDA, P1 0x102,
 *    P2 the address as passed, P3 the caller's tag, P4 0, and a wrong tag at a start is 0x101 with
 *    P4 the owner's tag; each with every count unchanged;
 *  - every few calls: syspte_check passes, the statistics equal the model's counts, the free runs
 *    walked (syspte_for_each_free) are exactly the model's maximal free runs, and lookups of sampled
 *    pages name the reservation the model has there (none on a guard page or free page);
 *  - each round ends filling the region with one-page reservations until one is refused (then no
 *    page, or no two pages with guards, is free in the model), and freeing everything in a random
 *    order: every page free again, the census the empty region's, one free run, check passes.
 *
 * Regions: the machine's (through MmAllocateMappingAddressEx and MmFreeMappingAddress, so sizes
 * in bytes round up, with per-CPU caches, the calls on three fake CPUs), one without caches at a
 * 1 GiB boundary, one with caches 2 MiB past a 1 GiB boundary whose start bitmap has two summary
 * words, one ending at the last 2 MiB of the address space (its end is 0xffffffffffe00000), one
 * ending exactly at the canonical hole (0x0000800000000000), two of 65536 pages (reservations
 * across the allocator's and the start bitmap's chunk edges); then, in verifier mode, the
 * machine's and one at the top again, each reservation with its guard page.
 *
 * Sizes at the edges: 0 and every size past the region refused, the whole region one reservation
 * at its base. DIVISIBLE on empty regions at bases of every residue: placed exactly when a
 * multiple of the size fits (test_divisible_edges).
 *
 * syspte_check against one field corrupted at a time on generated states: each kind caught, each
 * state clean again once undone (test_check_catches_one_field).
 *
 * Then reservations refused half-way: on fresh regions whose reservations need page tables and
 * allocator chunks, each reserve runs under a physical budget of 0 to 3 pages: a refusal changes
 * nothing (no physical page kept without caches, the free runs and counts the same), and the
 * same request with memory back is placed exactly when the model has a run for it.
 *
 *   build/host/test_syspte_resv_model [steps per round [seed]]
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "capture.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "vmlayout.h"
#include "reserved.h"
#include "verifier.h"
#include "wdm.h"
#include "phys.h"
#include "test_rng.h"

#define MAXPAGES 65536u
#define M_FREE 0
#define M_RESV 1
#define M_GUARD 2
#define CHECK_EVERY 64

static uint64_t rng;

static uint64_t draw(uint64_t n)
{
	return n ? test_rng_next(&rng) % n : 0;
}

/* One configuration: a region, and whether its calls go through the WDK layer (the machine's). */
struct cfg {
	const char *name;
	struct syspte_region *r;
	bool wdk;
	unsigned cpus;   /* fake CPUs the calls rotate over (1: CPU 0 alone) */
};

/* The model. */
static uint8_t pg[MAXPAGES];
static struct live {
	uint64_t s, n;
	uint32_t tag;
	bool div;
} lv[MAXPAGES];
static unsigned nlive;
static uint64_t gone[64];   /* starts freed lately (a second free is misuse while no reservation starts there) */
static unsigned ngone;

/* What the run found, over every configuration. */
static struct {
	uint64_t steps, reserves, placed, refused, divisible, frees, misuse, wrong_tag, skipped, checks, lookups, rounds;
	uint64_t by_kind[12];
} tot;

static uint64_t fails;
static bool under_budget;   /* a physical budget is set: a refusal may be for want of memory */

static void bad(const struct cfg *c, const char *what, uint64_t a, uint64_t b)
{
	if (fails++ < 12)
		printf("# %s: %s (0x%llx, 0x%llx)\n", c->name, what, (unsigned long long)a, (unsigned long long)b);
}

static uint64_t origin_of(const struct syspte_region *r) { return r->base >> PAGE_SHIFT; }
static uint64_t origin(const struct cfg *c) { return origin_of(c->r); }

/* True when the model has a free run of span pages whose start s has (origin + s) % div == 0
 * (div 1: any start). */
static bool m_has_run(const struct cfg *c, uint64_t span, uint64_t div)
{
	uint64_t np = c->r->npages;
	if (span > np)
		return false;
	for (uint64_t a = 0; a < np;) {
		if (pg[a] != M_FREE) {
			a++;
			continue;
		}
		uint64_t b = a;
		while (b < np && pg[b] == M_FREE)
			b++;
		if (b - a >= span) {
			uint64_t x = a + (div > 1 ? (div - (origin(c) + a) % div) % div : 0);
			if (x + span <= b)
				return true;
		}
		a = b;
	}
	return false;
}

static uint64_t m_free(const struct cfg *c)
{
	uint64_t n = 0;
	for (uint64_t p = 0; p < c->r->npages; p++)
		n += pg[p] == M_FREE;
	return n;
}

static uint64_t m_reserved(void)
{
	uint64_t n = 0;
	for (unsigned k = 0; k < nlive; k++)
		n += lv[k].n;
	return n;
}

/* The live reservation starting at page s, or -1. */
static int m_start_at(uint64_t s)
{
	for (unsigned k = 0; k < nlive; k++)
		if (lv[k].s == s)
			return (int)k;
	return -1;
}

static void act(const struct cfg *c)
{
	if (c->cpus > 1)
		fake_cpu_switch((unsigned)draw(c->cpus));
}

static vaddr_t call_reserve(const struct cfg *c, uint64_t n, uint32_t tag, bool div)
{
	act(c);
	if (!c->wdk)
		return syspte_reserve(c->r, n, tag, div ? SYSPTE_FLAG_DIVISIBLE : 0);
	SIZE_T bytes = n ? n * PAGE_SIZE - draw(PAGE_SIZE) : 0;   /* any byte count of n pages */
	return (vaddr_t)MmAllocateMappingAddressEx(bytes, tag, div ? MM_MAPPING_ADDRESS_DIVISIBLE : 0);
}

static void call_release(const struct cfg *c, vaddr_t addr, uint32_t tag)
{
	act(c);
	if (c->wdk)
		MmFreeMappingAddress((PVOID)addr, tag);
	else
		syspte_release(c->r, addr, tag);
}

/* The counts the model decides. */
struct counts {
	uint64_t free_pages, live, pages_reserved;
};

static struct counts counts_now(struct syspte_region *r)
{
	struct syspte_stats s;
	syspte_get_stats(r, &s);
	return (struct counts){ s.free_pages, s.live, s.pages_reserved };
}

static bool counts_eq(struct counts a, struct counts b)
{
	return a.free_pages == b.free_pages && a.live == b.live && a.pages_reserved == b.pages_reserved;
}

/* A size to ask for: mostly the caches' sizes and a bit more, now and then large ones, the whole
 * region, the region less its guard, one page more than the region, and 0. */
static uint64_t draw_size(const struct cfg *c)
{
	uint64_t np = c->r->npages, k = draw(100);
	if (k < 50)
		return 1 + draw(SYSPTE_CACHE_MAX_PAGES);
	if (k < 80)
		return SYSPTE_CACHE_MAX_PAGES + 1 + draw(112);
	if (k < 96)
		return 129 + draw(np / 4);
	switch (draw(5)) {
	case 0: return np;
	case 1: return np - c->r->guard;
	case 2: return np + 1;
	case 3: return 0;
	default: return 1 + draw(np);
	}
}

static void step_reserve(const struct cfg *c, uint64_t n, bool div)
{
	struct syspte_region *r = c->r;
	uint32_t tag = 0x52000000u | (uint32_t)draw(1u << 24);
	struct counts c0 = counts_now(r);
	uint64_t seen = bugcheck_last.count, g = r->guard, span = n + g;
	vaddr_t va = call_reserve(c, n, tag, div);
	tot.reserves++;
	tot.divisible += div;
	if (bugcheck_last.count != seen)
		bad(c, "a reserve raised a bug check", n, bugcheck_last.p[0]);
	if (!va) {
		tot.refused++;
		if (n && !under_budget && m_has_run(c, span, div ? n : 1))
			bad(c, "a reserve refused while the model has a run for it", n, div);
		if (!counts_eq(c0, counts_now(r)))
			bad(c, "a refused reserve changed the counts", n, counts_now(r).free_pages);
		return;
	}
	uint64_t s = (va - r->base) >> PAGE_SHIFT;
	if (!n || (va & PAGE_MASK) || va < r->base || s >= r->npages || span > r->npages - s) {
		bad(c, "a reservation outside the region or not page aligned", va, n);
		return;
	}
	for (uint64_t p = s; p < s + span; p++)
		if (pg[p] != M_FREE) {
			bad(c, "a reservation over pages the model holds (overlap)", va, p);
			return;
		}
	if (div && va % (n * PAGE_SIZE))
		bad(c, "a DIVISIBLE reservation's address is not a multiple of its size", va, n);
	for (uint64_t p = s; p < s + n; p++)
		pg[p] = M_RESV;
	if (g)
		pg[s + n] = M_GUARD;
	lv[nlive++] = (struct live){ s, n, tag, div };
	tot.placed++;
	struct counts c1 = counts_now(r);
	if (c1.free_pages != c0.free_pages - span || c1.live != c0.live + 1 || c1.pages_reserved != c0.pages_reserved + n)
		bad(c, "a reservation moved the counts by other than its pages", c0.free_pages - c1.free_pages, span);
}

/* Forgets live reservation k (its pages and guard free again in the model). */
static void m_forget(unsigned k, uint64_t guard)
{
	uint64_t s = lv[k].s, e = s + lv[k].n + guard;
	for (uint64_t p = s; p < e; p++)
		pg[p] = M_FREE;
	gone[ngone++ % 64] = s;
	lv[k] = lv[--nlive];
}

static void step_free(const struct cfg *c, unsigned k)
{
	struct syspte_region *r = c->r;
	struct counts c0 = counts_now(r);
	uint64_t seen = bugcheck_last.count, span = lv[k].n + r->guard, n = lv[k].n;
	vaddr_t addr = syspte_va(r, lv[k].s) + (draw(4) ? 0 : draw(PAGE_SIZE));   /* any byte of the first page */
	call_release(c, addr, lv[k].tag);
	tot.frees++;
	if (bugcheck_last.count != seen)
		bad(c, "a free at a start raised a bug check", addr, bugcheck_last.p[0]);
	m_forget(k, r->guard);
	struct counts c1 = counts_now(r);
	if (c1.free_pages != c0.free_pages + span || c1.live != c0.live - 1 || c1.pages_reserved != c0.pages_reserved - n)
		bad(c, "a free moved the counts by other than its pages", c1.free_pages - c0.free_pages, span);
}

/* A free the contract refuses: kind picks where. False when the address drawn is a live start
 * (then it is no misuse: skipped). */
static bool step_misuse(const struct cfg *c, unsigned kind)
{
	struct syspte_region *r = c->r;
	vaddr_t end = r->base + (r->npages << PAGE_SHIFT), addr = 0;
	uint32_t tag = 0x4d000000u | (uint32_t)draw(1u << 24);
	uint64_t sub = SYSPTE_BUGCHECK_FREE_NOT_START, p4 = 0;
	const struct live *l = nlive ? &lv[draw(nlive)] : NULL;
	switch (kind) {
	case 0:   /* an inner page of a live reservation, any byte of it */
		if (!l || l->n < 2)
			return false;
		addr = syspte_va(r, l->s + 1 + draw(l->n - 1)) + draw(PAGE_SIZE);
		break;
	case 1:   /* the page after its last page (its guard page in verifier mode) */
		if (!l || l->s + l->n >= r->npages)
			return false;
		addr = syspte_va(r, l->s + l->n);
		break;
	case 2:   /* the page before its start, its last byte */
		if (!l || !l->s)
			return false;
		addr = syspte_va(r, l->s) - 1 - draw(2) * (PAGE_SIZE - 1);
		break;
	case 3:   /* the region's last page */
		addr = end - PAGE_SIZE + draw(PAGE_SIZE);
		break;
	case 4:   /* the region's end, and past it */
		addr = end + draw(3) * draw(PAGE_SIZE * 4);
		break;
	case 5:   /* just below the base */
		addr = r->base - 1 - draw(PAGE_SIZE * 2);
		break;
	case 6:   /* NULL, and the first pages */
		addr = draw(2) ? 0 : draw(PAGE_SIZE * 4);
		break;
	case 7: { /* non-canonical, and the hole's edges */
		static const vaddr_t hole[] = { 0x0000800000000000ULL, 0xffff7ffffffff000ULL, 0x8000000000000000ULL,
						0x0000fffffffff000ULL, 0x7ffffffffffff000ULL };
		addr = hole[draw(5)] + draw(PAGE_SIZE);
		break;
	}
	case 8:   /* the top of the address space */
		addr = ~(vaddr_t)0 - draw(PAGE_SIZE * 3);
		break;
	case 9:   /* a start freed already */
		if (!ngone)
			return false;
		addr = syspte_va(r, gone[draw(MIN(ngone, 64))]);
		break;
	case 10:  /* a start's page, the region's base page in the page index arithmetic's wrap: base - 2^64 */
		if (!l)
			return false;
		addr = syspte_va(r, l->s) + ((uint64_t)1 << 63);
		break;
	default:  /* a live start with another tag */
		if (!l)
			return false;
		addr = syspte_va(r, l->s) + (draw(4) ? 0 : draw(PAGE_SIZE));
		tag = l->tag ^ (1u + (uint32_t)draw(0xffffffffu));
		sub = SYSPTE_BUGCHECK_FREE_WRONG_TAG;
		p4 = l->tag;
		break;
	}
	if (sub == SYSPTE_BUGCHECK_FREE_NOT_START && addr - r->base < (r->npages << PAGE_SHIFT) &&
	    m_start_at((addr - r->base) >> PAGE_SHIFT) >= 0)
		return false;   /* a live start: a free there is no misuse */
	struct counts c0 = counts_now(r);
	uint64_t seen = bugcheck_last.count;
	call_release(c, addr, tag);
	tot.misuse++;
	tot.by_kind[kind < 11 ? kind : 11]++;
	tot.wrong_tag += sub == SYSPTE_BUGCHECK_FREE_WRONG_TAG;
	if (bugcheck_last.count != seen + 1 || bugcheck_last.code != BUGCHECK_SYSTEM_PTE_MISUSE ||
	    bugcheck_last.p[0] != sub || bugcheck_last.p[1] != addr || bugcheck_last.p[2] != tag ||
	    bugcheck_last.p[3] != p4) {
		bad(c, "a misused free's bug check is not the contract's (kind, address)", kind, addr);
		if (fails <= 12)
			printf("#   seen %llu -> %llu, code 0x%x P1 0x%llx P2 0x%llx P3 0x%llx P4 0x%llx\n",
			       (unsigned long long)seen, (unsigned long long)bugcheck_last.count, bugcheck_last.code,
			       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
			       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
	}
	if (!counts_eq(c0, counts_now(r)))
		bad(c, "a misused free changed the counts", kind, addr);
	return true;
}

/* syspte_for_each_free against the model's maximal free runs. */
static struct {
	const struct cfg *c;
	uint64_t next;   /* the model page the next run must start at or after */
	bool ok;
} fw;

static void free_run_cb(vaddr_t va, uint64_t n, void *arg)
{
	(void)arg;
	struct syspte_region *r = fw.c->r;
	uint64_t s = (va - r->base) >> PAGE_SHIFT, p = fw.next;
	while (p < r->npages && pg[p] != M_FREE)
		p++;
	uint64_t e = p;
	while (e < r->npages && pg[e] == M_FREE)
		e++;
	if (s != p || s + n != e)
		fw.ok = false;
	fw.next = s + n;
}

static void verify(const struct cfg *c)
{
	struct syspte_region *r = c->r;
	tot.checks++;
	char buf[512];
	capture_begin();
	int st = syspte_check(r);
	capture_end(buf, sizeof(buf));
	if (st != 0)
		bad(c, "syspte_check failed", 0, 0), printf("#   %s", buf);
	struct counts now = counts_now(r);
	if (now.free_pages != m_free(c) || now.live != nlive || now.pages_reserved != m_reserved())
		bad(c, "the statistics differ from the model (free pages, live)", now.free_pages, m_free(c));
	fw.c = c;
	fw.next = 0;
	fw.ok = true;
	syspte_for_each_free(r, free_run_cb, NULL);
	uint64_t p = fw.next;
	while (p < r->npages && pg[p] != M_FREE)
		p++;
	if (!fw.ok || p != r->npages)
		bad(c, "the free runs walked differ from the model's", fw.next, p);
	for (unsigned k = 0; k < 24; k++) {
		uint64_t q = draw(r->npages);
		struct syspte_info info;
		bool in = syspte_lookup(r, syspte_va(r, q) + draw(PAGE_SIZE), &info);
		int owner = -1;
		if (pg[q] == M_RESV)
			for (unsigned j = 0; j < nlive && owner < 0; j++)
				if (q >= lv[j].s && q < lv[j].s + lv[j].n)
					owner = (int)j;
		tot.lookups++;
		if (in != (owner >= 0) || (in && (info.base != syspte_va(r, lv[owner].s) || info.npages != lv[owner].n ||
						  info.tag != lv[owner].tag ||
						  !!(info.flags & SYSPTE_FLAG_DIVISIBLE) != lv[owner].div)))
			bad(c, "a lookup differs from the model", q, in);
	}
}

static void census_of(struct syspte_region *r, uint64_t out[BUDDY_ORDERS]) { syspte_census(r, out); }

/* One round on c: steps calls swept between filling and draining, then filled with one page at a
 * time until refused, then everything freed in a random order. */
static void round_on(const struct cfg *c, uint64_t steps, const uint64_t census0[BUDDY_ORDERS])
{
	struct syspte_region *r = c->r;
	bool filling = true;
	uint64_t refusals = 0;
	for (uint64_t k = 1; k <= steps; k++) {
		tot.steps++;
		unsigned d = (unsigned)draw(100);
		if (d < (filling ? 62u : 22u)) {
			uint64_t n = draw_size(c);
			uint64_t placed = tot.placed;
			step_reserve(c, n, draw(10) < 3);
			if (tot.placed == placed && n && n <= SYSPTE_CACHE_MAX_PAGES && ++refusals > 3)
				filling = false;
		} else if (d < 85) {
			if (nlive)
				step_free(c, (unsigned)draw(nlive));
		} else if (!step_misuse(c, (unsigned)draw(12))) {
			tot.skipped++;
		}
		if (!filling && nlive < 8) {
			filling = true;
			refusals = 0;
		}
		if (k % CHECK_EVERY == 0)
			verify(c);
	}
	verify(c);
	/* exhaustion: one page at a time (the caches' size: drained before the last refusal) */
	for (uint64_t n = 0; n <= r->npages; n++) {
		uint64_t placed = tot.placed;
		step_reserve(c, 1, false);
		if (tot.placed == placed)
			break;
	}
	if (m_has_run(c, 1 + r->guard, 1))
		bad(c, "filled one page at a time: refused with a run left", m_free(c), r->guard);
	verify(c);
	while (nlive)
		step_free(c, (unsigned)draw(nlive));
	uint64_t census[BUDDY_ORDERS];
	census_of(r, census);
	struct counts now = counts_now(r);
	if (now.free_pages != r->npages || now.live || now.pages_reserved || memcmp(census, census0, sizeof(census)))
		bad(c, "everything freed: not every page back, or the census not the empty region's", now.free_pages,
		    r->npages);
	verify(c);
	tot.rounds++;
}

static void run_cfg(const struct cfg *c, unsigned rounds, uint64_t steps)
{
	if (!c->r) {
		ok(false, "%s: region made", c->name);
		return;
	}
	uint64_t f0 = fails, p0 = tot.placed, m0 = tot.misuse, r0 = tot.refused;
	memset(pg, 0, sizeof(pg));
	nlive = ngone = 0;
	uint64_t census0[BUDDY_ORDERS];
	census_of(c->r, census0);
	for (unsigned k = 0; k < rounds; k++)
		round_on(c, steps, census0);
	fake_cpu_switch(0);
	ok(fails == f0 && tot.placed - p0 > rounds * 50 && tot.refused - r0 > rounds && tot.misuse - m0 > rounds * 50,
	   "%s: %u rounds of %llu steps: %llu placed, %llu refused, %llu misused frees, each as the model says; "
	   "all back after each round", c->name, rounds, (unsigned long long)steps,
	   (unsigned long long)(tot.placed - p0), (unsigned long long)(tot.refused - r0),
	   (unsigned long long)(tot.misuse - m0));
}

/* ---------------------------------------------------------------- refused half-way */

static uint64_t allocated_pages(void)
{
	struct phys_stats ps;
	phys_get_stats(&ps);
	return ps.allocated_pages;
}

/* A digest of the region's free runs (order-sensitive). */
static void digest_cb(vaddr_t va, uint64_t n, void *arg)
{
	uint64_t *h = arg;
	*h = (*h ^ va) * 0x100000001b3ULL;
	*h = (*h ^ n) * 0x100000001b3ULL;
}

static uint64_t free_digest(struct syspte_region *r)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	syspte_for_each_free(r, digest_cb, &h);
	return h;
}

/*
 * On a fresh region c (no table, no allocator chunk but its two ends'), reservations of generated
 * sizes (up to a few spans; DIVISIBLE now and then), each first under a budget of 0 to 3 more
 * physical pages. Refused: the counts and the free runs as before, syspte_check clean, and (without
 * caches) not one physical page kept; then again with memory back: placed exactly when the model
 * has a run. Counts the refusals that a model run shows were for want of memory.
 */
static void test_refused_half_way(const struct cfg *c, unsigned nreq)
{
	struct syspte_region *r = c->r;
	memset(pg, 0, sizeof(pg));
	nlive = ngone = 0;
	uint64_t for_memory = 0, f0 = fails, placed_short = 0;
	bool exact_pages = !r->cache.on;
	for (unsigned k = 0; k < nreq; k++) {
		if (nlive && draw(3) == 0) {
			step_free(c, (unsigned)draw(nlive));
			continue;
		}
		uint64_t n = draw(3) ? 1 + draw(SYSPTE_SPAN_PAGES * 3) : 1 + draw(8);
		bool div = draw(4) == 0;
		struct counts c0 = counts_now(r);
		uint64_t before = allocated_pages(), dig = free_digest(r), placed = tot.placed;
		phys_set_budget(before + draw(4));
		under_budget = true;
		step_reserve(c, n, div);
		under_budget = false;
		phys_set_budget(UINT64_MAX);
		if (tot.placed != placed) {
			placed_short++;
			continue;
		}
		bool had_run = m_has_run(c, n + r->guard, div ? n : 1);
		for_memory += had_run;
		if (!counts_eq(c0, counts_now(r)) || free_digest(r) != dig || (exact_pages && allocated_pages() != before))
			bad(c, "a reserve refused under a budget changed the region or kept pages", n, allocated_pages() - before);
		char buf[512];
		capture_begin();
		int st = syspte_check(r);
		capture_end(buf, sizeof(buf));
		if (st)
			bad(c, "check fails after a refusal under a budget", n, 0), printf("#   %s", buf);
		placed = tot.placed;
		step_reserve(c, n, div);   /* memory back: placed exactly when a run exists */
		if ((tot.placed != placed) != had_run)
			bad(c, "with memory back, the outcome differs from the model's run", n, had_run);
	}
	verify(c);
	while (nlive)
		step_free(c, (unsigned)draw(nlive));
	verify(c);
	ok(fails == f0 && for_memory >= nreq / 100 && placed_short > nreq / 16,
	   "%s: %u reserves under a budget of 0 to 3 pages: %llu placed within it, %llu refused for want of memory with "
	   "nothing changed%s, each placed once memory was back when the model had a run",
	   c->name, nreq, (unsigned long long)placed_short, (unsigned long long)for_memory,
	   exact_pages ? " (not one physical page kept)" : "");
}

/* ---------------------------------------------------------------- sizes at the edges */

/* Sizes no region can give, and the whole region, on fresh regions with and without caches. */
static void test_size_edges(const struct cfg *c)
{
	struct syspte_region *r = c->r;
	struct counts c0 = counts_now(r);
	const uint64_t never[] = { 0, r->npages + 1, r->npages + r->guard + 1, (uint64_t)1 << 31, ((uint64_t)1 << 32) - 1,
				   (uint64_t)1 << 52, UINT64_MAX / PAGE_SIZE, UINT64_MAX };
	unsigned refused = 0, n = sizeof(never) / sizeof(never[0]);
	for (unsigned k = 0; k < n; k++)
		refused += syspte_reserve(r, never[k], 0x657a6953, draw(2)) == 0 &&
			   syspte_reserve(r, never[k], 0x657a6953, SYSPTE_FLAG_DIVISIBLE) == 0;
	ok(refused == n && counts_eq(c0, counts_now(r)), "%s: %u sizes of 0 or past the region refused (with and without "
	   "DIVISIBLE), nothing changed", c->name, refused);
	uint64_t whole = r->npages - r->guard;
	vaddr_t va = syspte_reserve(r, whole, 0x656c6f68, SYSPTE_FLAG_DIVISIBLE * (r->guard == 0));
	struct counts c1 = counts_now(r);
	vaddr_t more = syspte_reserve(r, 1, 0x656c6f68, 0);
	ok(va == r->base && c1.free_pages == 0 && c1.live == 1 && more == 0 &&
	   syspte_release(r, va, 0x656c6f68) == SYSPTE_OK && counts_eq(c0, counts_now(r)),
	   "%s: the whole region (less its guard) is one reservation at its base, then nothing more; freed, all back",
	   c->name);
}

/* ---------------------------------------------------------------- DIVISIBLE at the edges */

/*
 * DIVISIBLE on empty regions whose bases leave every residue: for each size n (every n up to 80,
 * then generated ones up to the whole region, the whole region less 1 and 2 among them), the
 * reserve succeeds exactly when some start s with s + n within the region makes the address a
 * multiple of n pages (the first one is (n - base page % n) % n), and lands on such an address;
 * then it is freed and the region is whole again. On regions with and without caches (the caches
 * place sizes up to 16 in their chunks, and must not refuse what the allocator could place).
 */
static void test_divisible_edges(void)
{
	unsigned cases = 0, placed = 0, wrong = 0;
	for (unsigned k = 0; k < 6; k++) {
		uint64_t np = 512 * (1 + draw(4));
		vaddr_t base = SYSPTE_BASE + ((380ULL + k) << 30) + SIZE_2M * (1 + draw(511));
		struct syspte_region *r = k % 2 ? syspte_create(host_machine_pt(), base, np)
						: syspte_create_ex(host_machine_pt(), base, np, SYSPTE_CREATE_NO_CACHE);
		if (!r) {
			wrong++;
			continue;
		}
		uint64_t o = base >> PAGE_SHIFT;
		for (uint64_t i = 0; i < 80 + 120; i++, cases++) {
			uint64_t n = i < 80 ? i + 1 : i == 80 ? np : i == 81 ? np - 1 : i == 82 ? np - 2 : 81 + draw(np - 81);
			bool can = (n - o % n) % n + n <= np;
			vaddr_t va = syspte_reserve(r, n, 0x76694464, SYSPTE_FLAG_DIVISIBLE);
			struct counts c = counts_now(r);
			if (!!va != can || (va && (va % (n * PAGE_SIZE) || va < base || va + n * PAGE_SIZE > base + np * PAGE_SIZE)) ||
			    (va && syspte_release(r, va, 0x76694464) != SYSPTE_OK) ||
			    (va ? c.free_pages != np - n : c.free_pages != np)) {
				if (wrong++ < 8)
					printf("# base 0x%llx, %llu pages: DIVISIBLE %llu pages gave 0x%llx, a start %s\n",
					       (unsigned long long)base, (unsigned long long)np, (unsigned long long)n,
					       (unsigned long long)va, can ? "exists" : "does not exist");
			}
			placed += va != 0;
		}
		if (counts_now(r).free_pages != np || syspte_check(r) != 0)
			wrong++;
	}
	ok(wrong == 0 && placed > cases / 2 && placed < cases,
	   "DIVISIBLE on empty regions at 6 bases: %u of %u sizes placed, each exactly when a multiple of its size fits, "
	   "at such an address, and freed whole", placed, cases);
}

/* ---------------------------------------------------------------- one field corrupted */

/* The words a corruption changed, with their old values, to undo it. */
static struct {
	uint64_t *w[4];
	uint64_t old[4];
	unsigned n;
} undo;

static void poke(uint64_t *w, uint64_t v)
{
	undo.w[undo.n] = w;
	undo.old[undo.n++] = *w;
	*w = v;
}

static void unpoke(void)
{
	while (undo.n) {
		undo.n--;
		*undo.w[undo.n] = undo.old[undo.n];
	}
}

/* Sets bit i of a buddy bitmap and the summary bits above it (so only the extents disagree). */
static void poke_bm(struct buddy_bm *bm, uint64_t i)
{
	uint64_t *w = buddy_bm_word0(bm, i >> 6);
	poke(w, *w | (uint64_t)1 << (i & 63));
	for (unsigned l = 1; l < bm->nl; l++) {
		i >>= 6;
		poke(&bm->lv[l][i >> 6], bm->lv[l][i >> 6] | (uint64_t)1 << (i & 63));
	}
}

/* The allocator's free extents (start, length), in address order. */
static uint64_t ext_s[MAXPAGES], ext_n[MAXPAGES];
static unsigned next;

static void ext_cb(uint64_t start, uint64_t count, void *arg)
{
	(void)arg;
	ext_s[next] = start;
	ext_n[next++] = count;
}

/* A live reservation of the region's own index, drawn (the region has no caches). */
static struct syspte_resv *any_record(struct syspte_region *r)
{
	if (!nlive)
		return NULL;
	return syspte_index_find(&r->index, lv[draw(nlive)].s);
}

/* A page inside a live reservation, not its first, or UINT64_MAX. */
static uint64_t inner_page(void)
{
	for (unsigned t = 0; t < 16 && nlive; t++) {
		const struct live *l = &lv[draw(nlive)];
		if (l->n > 1)
			return l->s + 1 + draw(l->n - 1);
	}
	return UINT64_MAX;
}

#define CORRUPTIONS 20
static const char *const corruption_name[CORRUPTIONS] = {
	"a record's pages + 1", "a record's pages - 1", "a record's mapped count + 1", "a record's guard bit",
	"a record's start + 1", "a record's divisible bit on a misplaced reservation", "a free extent's length + 1",
	"a free extent's length - 1", "a free extent's next link to another extent", "a free extent's previous link",
	"bit 0 of a free extent's record", "a class's extent count", "the free unit count", "a class's mask bit",
	"a class's head", "a class's hint below its longest extent", "an allocator start bit inside a reservation",
	"an allocator end bit inside a reservation", "a reservation start bit on an inner page",
	"the live count, pages reserved or tables",
};

/* Applies corruption kind to r (no caches); false when the state has nothing it applies to. */
static bool corrupt(struct syspte_region *r, unsigned kind)
{
	struct buddy *b = &r->buddy;
	struct syspte_resv *v = kind <= 5 ? any_record(r) : NULL;
	next = 0;
	buddy_for_each_free(b, ext_cb, NULL);
	unsigned x = next ? (unsigned)draw(next) : 0;
	uint64_t *slot = next ? (uint64_t *)syspte_slot(r, ext_s[x]) : NULL;
	unsigned c = next ? (unsigned)__builtin_ctzll(1) : 0;   /* set below from the extent drawn */
	if (next) {   /* the extent's class: the class whose list holds it (its record's own length) */
		uint64_t len = ext_n[x];
		unsigned q = 63u - (unsigned)__builtin_clzll(len);
		c = 4 * q + (unsigned)(((len << 2) >> q) & 3);
	}
	switch (kind) {
	case 0: case 1: case 2: case 3: case 4:
		if (!v || (kind == 1 && v->npages < 2))
			return false;
		{
			struct syspte_resv w = *v;
			if (kind == 0) w.npages++;
			if (kind == 1) w.npages--;
			if (kind == 2) w.mapped++;
			if (kind == 3) w.guard ^= 1;
			if (kind == 4) w.start++;
			if ((uint64_t)w.start + w.npages + w.guard > r->npages)
				return false;   /* past the region's end: tests/host findings, not here */
			poke(&v->pair[0], w.pair[0]);
			poke(&v->pair[1], w.pair[1]);
		}
		return true;
	case 5:
		if (!v || v->divisible || (origin_of(r) + v->start) % v->npages == 0)
			return false;
		{
			struct syspte_resv w = *v;
			w.divisible = 1;
			poke(&v->pair[0], w.pair[0]);
		}
		return true;
	case 6: case 7:
		if (!next || ext_n[x] < 2 || (kind == 7 && ext_n[x] < 3))
			return false;
		{   /* its second slot: in the next span's table when the extent starts at a span's last page */
			uint64_t *len = (uint64_t *)syspte_slot(r, ext_s[x] + 1);
			poke(len, *len + (kind == 6 ? 2 : -2));   /* length << 1 */
		}
		return true;
	case 8: {
		unsigned y = (unsigned)draw(next);
		uint64_t w = next < 2 ? 0 : (slot[0] & ~(uint64_t)0xffffffffu) | ((ext_s[y] + 1) << 1);
		if (next < 2 || y == x || w == slot[0])
			return false;   /* (the link it has already: no change) */
		poke(slot, w);
		return true;
	}
	case 9:
		if (!next || b->head[c] == ext_s[x])
			return false;   /* a head's previous link means nothing */
		poke(slot, slot[0] ^ ((uint64_t)1 << 32));
		return true;
	case 10:
		if (!next)
			return false;
		poke(slot, slot[0] | 1);
		return true;
	case 11:
		if (!next)
			return false;
		poke(&b->count[c], b->count[c] + (draw(2) ? 1 : -1));
		return true;
	case 12:
		poke(&b->free_units, b->free_units + (draw(2) ? 1 : -1));
		return true;
	case 13: {
		unsigned k = (unsigned)draw(b->nclasses);
		poke(&b->classmask[k >> 6], b->classmask[k >> 6] ^ (uint64_t)1 << (k & 63));
		return true;
	}
	case 14: {
		unsigned y = (unsigned)draw(next);
		if (next < 2 || b->head[c] == ext_s[y])
			return false;
		poke(&b->head[c], ext_s[y]);
		return true;
	}
	case 15: {
		uint64_t longest = 0;
		for (unsigned k = 0; k < next; k++) {
			uint64_t len = ext_n[k];
			unsigned q = 63u - (unsigned)__builtin_clzll(len);
			if (4 * q + (unsigned)(((len << 2) >> q) & 3) == c)
				longest = MAX(longest, len);
		}
		if (!next)
			return false;
		poke(&b->hint[c], longest - 1);
		return true;
	}
	case 16: case 17: case 18: {
		uint64_t p = inner_page();
		if (p == UINT64_MAX)
			return false;
		if (kind == 16)
			poke_bm(&b->start, p);
		else if (kind == 17)
			poke(buddy_bm_word0(&b->end, p >> 6), *buddy_bm_word0(&b->end, p >> 6) | (uint64_t)1 << (p & 63));
		else {
			uint64_t *w = bitset_word0(&r->starts, p / 64), i = p / 64;
			poke(w, *w | (uint64_t)1 << (p % 64));
			for (unsigned l = 1; l < r->starts.nlevels; l++, i /= 64)
				poke(&r->starts.level[l][i / 64], r->starts.level[l][i / 64] | (uint64_t)1 << (i % 64));
		}
		return true;
	}
	default: {
		uint64_t *f[] = { &r->live_count, &r->pages_reserved, &r->table_pages };
		uint64_t *w = f[draw(3)];
		poke(w, *w + (draw(2) ? 1 : -1));
		return true;
	}
	}
}

/*
 * syspte_check against one field corrupted at a time, on generated states of a region without
 * caches (reserve and free churn, so the allocator holds extents of many classes): each corruption
 * of corruption_name is caught, and the state passes again once it is undone. The fields drawn
 * (which record, which free extent, which class) are random; each kind is tried many times.
 */
static void test_check_catches_one_field(void)
{
	struct cfg c = { "one field", syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (350ULL << 30) + SIZE_2M, 4096,
							SYSPTE_CREATE_NO_CACHE), false, 1 };
	memset(pg, 0, sizeof(pg));
	nlive = ngone = 0;
	uint64_t tried[CORRUPTIONS] = { 0 }, caught[CORRUPTIONS] = { 0 }, undone_bad = 0, f0 = fails;
	char buf[512];
	for (unsigned state = 0; state < 40; state++) {
		for (unsigned k = 0; k < 150; k++) {   /* a new state: churn, mostly small */
			if (nlive && draw(5) < 2)
				step_free(&c, (unsigned)draw(nlive));
			else
				step_reserve(&c, draw(4) ? 1 + draw(20) : 1 + draw(300), draw(4) == 0);
		}
		for (unsigned t = 0; t < 3 * CORRUPTIONS; t++) {
			unsigned kind = t % CORRUPTIONS;
			if (!corrupt(c.r, kind)) {
				unpoke();
				continue;
			}
			tried[kind]++;
			capture_begin();
			int st = syspte_check(c.r);
			unpoke();
			int st2 = syspte_check(c.r);
			capture_end(buf, sizeof(buf));
			caught[kind] += st != 0;
			undone_bad += st2 != 0;
			if (st == 0 && fails++ < 12)
				printf("# not caught: %s (state %u)\n", corruption_name[kind], state);
		}
	}
	while (nlive)
		step_free(&c, (unsigned)draw(nlive));
	unsigned kinds = 0;
	uint64_t all = 0, all_caught = 0;
	for (unsigned k = 0; k < CORRUPTIONS; k++) {
		kinds += tried[k] >= 20;
		all += tried[k];
		all_caught += caught[k];
	}
	ok(fails == f0 && all_caught == all && undone_bad == 0 && kinds == CORRUPTIONS,
	   "syspte_check caught %llu of %llu single-field corruptions, %u kinds each tried 20 times or more (records, "
	   "free extents' records, class lists and counts, bitmaps, totals); each state passed once undone",
	   (unsigned long long)all_caught, (unsigned long long)all, kinds);
}

int main(int argc, char **argv)
{
	uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 0) : 6000;
	rng = argc > 2 ? strtoull(argv[2], NULL, 0) | 1 : 0x5eed5eed12345ULL;
	bugcheck_set_hook(bugcheck_record_hook);
	is(host_machine_create(256ULL << 20, 4096ULL * PAGE_SIZE), 0, "machine: 256 MiB of RAM, a 16 MiB region");
	struct pt *pt = host_machine_pt();
	const vaddr_t top = 0xffffffffffe00000ULL - 4096ULL * PAGE_SIZE, hole = 0x0000800000000000ULL - 4096ULL * PAGE_SIZE;
	struct cfg cfgs[] = {
		{ "machine region, WDK calls, caches, 3 CPUs", reserved_region(), true, 3 },
		{ "no caches, 1 GiB aligned", syspte_create_ex(pt, SYSPTE_BASE + (256ULL << 30), 4096, SYSPTE_CREATE_NO_CACHE), false, 1 },
		{ "caches, 2 MiB past 1 GiB, 4608 pages", syspte_create(pt, SYSPTE_BASE + (300ULL << 30) + SIZE_2M, 4608), false, 3 },
		{ "caches, ending at 0xffffffffffe00000", syspte_create(pt, top, 4096), false, 2 },
		{ "no caches, ending at the canonical hole", syspte_create_ex(pt, hole, 4096, SYSPTE_CREATE_NO_CACHE), false, 1 },
		{ "no caches, 65536 pages (4 allocator chunks, 2 start-bitmap chunks)",
		  syspte_create_ex(pt, SYSPTE_BASE + (360ULL << 30), MAXPAGES, SYSPTE_CREATE_NO_CACHE), false, 1 },
		{ "caches, 65536 pages, 3 CPUs", syspte_create(pt, SYSPTE_BASE + (370ULL << 30) + SIZE_2M, MAXPAGES), false, 3 },
	};
	for (unsigned k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++)
		run_cfg(&cfgs[k], 2, steps);
	struct cfg edge[] = {
		{ "sizes: no caches", syspte_create_ex(pt, SYSPTE_BASE + (320ULL << 30), 1024, SYSPTE_CREATE_NO_CACHE), false, 1 },
		{ "sizes: caches", syspte_create(pt, SYSPTE_BASE + (321ULL << 30), 1024), false, 1 },
	};
	for (unsigned k = 0; k < 2; k++)
		test_size_edges(&edge[k]);
	struct cfg half[] = {
		{ "half-way: no caches", syspte_create_ex(pt, SYSPTE_BASE + (330ULL << 30) + SIZE_2M, MAXPAGES, SYSPTE_CREATE_NO_CACHE), false, 1 },
		{ "half-way: caches, 3 CPUs", syspte_create(pt, SYSPTE_BASE + (340ULL << 30), MAXPAGES), false, 3 },
	};
	for (unsigned k = 0; k < 2; k++)
		test_refused_half_way(&half[k], 800);
	test_check_catches_one_field();
	test_divisible_edges();
	fake_cpu_switch(0);

	/* verifier mode: a guard page after each reservation (a machine made anew) */
	host_machine_destroy();
	mm_verifier_set(true);
	is(host_machine_create(256ULL << 20, 4096ULL * PAGE_SIZE), 0, "verifier mode: the machine made anew");
	pt = host_machine_pt();
	struct cfg vcfgs[] = {
		{ "verifier: machine region, WDK calls, caches, 3 CPUs", reserved_region(), true, 3 },
		{ "verifier: no caches, ending at 0xffffffffffe00000", syspte_create_ex(pt, top, 4096, SYSPTE_CREATE_NO_CACHE), false, 1 },
	};
	for (unsigned k = 0; k < 2; k++)
		ok(vcfgs[k].r && syspte_guard_pages(vcfgs[k].r) == 1, "%s: one guard page", vcfgs[k].name);
	for (unsigned k = 0; k < 2; k++)
		run_cfg(&vcfgs[k], 1, steps / 2);
	struct cfg vedge = { "verifier sizes", syspte_create_ex(pt, SYSPTE_BASE + (320ULL << 30), 1024, SYSPTE_CREATE_NO_CACHE), false, 1 };
	test_size_edges(&vedge);
	fake_cpu_switch(0);
	ok(tot.divisible > 1000 && tot.wrong_tag > 100 && tot.by_kind[0] > 50 && tot.by_kind[9] > 20,
	   "in all: %llu steps, %llu reserves (%llu DIVISIBLE), %llu frees, %llu misused frees (%llu wrong tags, %llu "
	   "drawn addresses that were live starts skipped), %llu checks, %llu lookups, %llu rounds",
	   (unsigned long long)tot.steps, (unsigned long long)tot.reserves, (unsigned long long)tot.divisible,
	   (unsigned long long)tot.frees, (unsigned long long)tot.misuse, (unsigned long long)tot.wrong_tag,
	   (unsigned long long)tot.skipped, (unsigned long long)tot.checks, (unsigned long long)tot.lookups,
	   (unsigned long long)tot.rounds);
	return tap_done();
}
