/*
 * The per-CPU caches of the system PTE region (mm/syspte_cache.c) driven one fake CPU at a time
 * (the calling thread acts as each CPU in turn, alone online), against a shadow of every region page:
 * generated reservations made on one CPU and mapped, unmapped, looked up, described and freed from
 * another, misuse of them from a third, on regions small enough that the caches' share and the
 * allocator's sixteenth bind (512, 2048 and 4096 pages), normally and in verifier mode. After each
 * call:
 *  - syspte_check passes, and the statistics (free pages, live reservations, pages reserved and
 *    mapped) equal the shadow's; every few calls the tag totals equal the shadow's per tag, and
 *    syspte_dump's totals line the shadow's and its caches' line the statistics';
 *  - a refused reservation (memory is plentiful) has no free run of its span in the shadow (at a
 *    multiple of its size for DIVISIBLE): docs/contract.md section 3, "no free run", and section 6,
 *    the caches drained before a refusal;
 *  - a reservation (cached or not) freed with another tag, freed while mapped, or freed from inside,
 *    mapped or unmapped with another tag, mapped over a mapped page or unmapped where nothing is
 *    mapped, from any CPU, is bug check 0xDA with the contract's parameters (0x101, 0x103, 0x102,
 *    0x104, 0x108, 0x107, 0x109), raised with no lock held, and nothing changes;
 *  - syspte_describe of a reserved page names its reservation (base, page, size, tag, mapped), of
 *    a free page says free, of a verifier guard page names the reservation before it;
 *  - a reservation asked under a physical budget of 0 .. 5 more pages is granted, or refused with
 *    the reservations, free pages, pages mapped and page tables as they were; every map, and every
 *    free of a cached reservation, is made under a budget of nothing and asks for no page.
 *
 *   build/host/test_cache_cross [steps per run [seeds]]
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "capture.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "verifier.h"
#include "vmlayout.h"
#include "reserved.h"
#include "phys.h"
#include "bugcheck.h"
#include "bugcheck_codes.h"
#include "test_rng.h"

#define NCPUS 4
#define MAXPAGES 4096u
#define MAXITEMS 512u
#define NTAGS 5

struct item {
	vaddr_t va;
	uint64_t n, moff, mn;   /* pages; the mapping [moff, moff + mn) of them, mn 0: none */
	uint32_t tag;
	unsigned cpu;           /* the CPU that reserved it */
};

static struct syspte_region *R;
static uint64_t npages, guard, failures, refusals, cached_made, steps_done, misuses, described, short_asked,
	short_refused, nomem_calls;
static struct item items[MAXITEMS];
static unsigned nitems;
static uint32_t shadow[MAXPAGES];    /* 1 + item index holding each page (guard included), 0 free */
static uint64_t rng;
static const uint32_t tags[NTAGS] = { 0x61616161, 0x62626262, 0x63636363, 0x64646464, 0x65656565 };

static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static void bad(const char *what, uint64_t a, uint64_t b)
{
	if (failures++ < 40)
		printf("# step %llu: %s (0x%llx, 0x%llx)\n", (unsigned long long)steps_done, what, (unsigned long long)a,
		       (unsigned long long)b);
}


static uint64_t page_of(vaddr_t va) { return (va - SYSPTE_BASE) >> PAGE_SHIFT; }

static void shadow_set(const struct item *it, uint32_t v)
{
	for (uint64_t k = 0; k < it->n + guard; k++) {
		uint64_t p = page_of(it->va) + k;
		if (v && shadow[p])
			bad("a reservation overlaps a live one", it->va, p);
		shadow[p] = v;
	}
}

/* True when the shadow has span free pages from a start that suits (a multiple of divisor pages
 * in the address space). */
static bool shadow_has_run(uint64_t span, uint64_t divisor)
{
	uint64_t base = SYSPTE_BASE >> PAGE_SHIFT, run = 0;
	for (uint64_t p = 0; p < npages; p++) {
		run = shadow[p] ? 0 : run + 1;
		if (run >= span && (base + p + 1 - span) % divisor == 0)
			return true;
		/* a run longer than span holds starts besides its last: check each */
		if (run > span)
			for (uint64_t s = p + 1 - run; s + span <= p + 1; s++)
				if ((base + s) % divisor == 0)
					return true;
	}
	return false;
}

struct totals { uint64_t live, pages, mapped, free; };

static struct totals shadow_totals(void)
{
	struct totals t = { 0, 0, 0, 0 };
	for (unsigned k = 0; k < nitems; k++) {
		t.live++;
		t.pages += items[k].n;
		t.mapped += items[k].mn;
	}
	for (uint64_t p = 0; p < npages; p++)
		t.free += shadow[p] == 0;
	return t;
}

static void check_state(void)
{
	struct syspte_stats s;
	syspte_get_stats(R, &s);
	struct totals t = shadow_totals();
	if (syspte_check(R) != 0)
		bad("syspte_check fails", 0, 0);
	if (s.free_pages != t.free || s.live != t.live || s.pages_reserved != t.pages || s.pages_mapped != t.mapped)
		bad("statistics differ from the shadow", s.free_pages ^ t.free, (s.live ^ t.live) | (s.pages_mapped ^ t.mapped));
}

static void check_tags(void)
{
	struct syspte_tag_total got[NTAGS + 1], want[NTAGS];
	memset(want, 0, sizeof(want));
	for (unsigned k = 0; k < NTAGS; k++)
		want[k].tag = tags[k];
	for (unsigned k = 0; k < nitems; k++)
		for (unsigned t = 0; t < NTAGS; t++)
			if (items[k].tag == tags[t]) {
				want[t].count++;
				want[t].pages_reserved += items[k].n;
				want[t].pages_mapped += items[k].mn;
			}
	size_t n = syspte_tag_totals(R, got, NTAGS + 1), w = 0;
	for (unsigned t = 0; t < NTAGS; t++) {
		if (!want[t].count)
			continue;
		if (w >= n || got[w].tag != want[t].tag || got[w].count != want[t].count ||
		    got[w].pages_reserved != want[t].pages_reserved || got[w].pages_mapped != want[t].pages_mapped)
			bad("tag totals differ from the shadow", want[t].tag, w < n ? got[w].count : 0);
		w++;
	}
	if (w != n)
		bad("tag totals: another number of tags", n, w);
}

static char said[2048], dumped[65536];
static uint64_t dumps;

/* syspte_dump's first line and its caches' line against the shadow and the statistics. */
static void check_dump(void)
{
	struct syspte_stats st;
	struct totals t = shadow_totals();
	syspte_get_stats(R, &st);
	capture_begin();
	syspte_dump(R);
	capture_end(dumped, sizeof(dumped));
	dumps++;
	unsigned long long base, pages, fr, live, res, mapped, caches, bytes, chunks, held, cres;
	const char *c = strstr(dumped, "  CPU caches on: ");
	if (sscanf(dumped, "system PTE region 0x%llx, %llu pages: %llu free, %llu live reservations (%llu pages, %llu mapped)",
		   &base, &pages, &fr, &live, &res, &mapped) != 6 || base != SYSPTE_BASE || pages != npages || fr != t.free ||
	    live != t.live || res != t.pages || mapped != t.mapped)
		bad("syspte_dump's totals differ from the shadow", fr, live);
	if (!c || sscanf(c, "  CPU caches on: %llu (%llu bytes), %llu chunks, %llu free pages held, %llu reservations",
			 &caches, &bytes, &chunks, &held, &cres) != 5 || bytes != st.cache_bytes || held != st.cached_pages ||
	    cres > t.live || chunks * SYSPTE_CHUNK_PAGES < held)
		bad("syspte_dump's caches line differs from the statistics", held, st.cached_pages);
}

static void check_describe(void)
{
	uint64_t p = draw(npages);
	vaddr_t va = SYSPTE_BASE + p * PAGE_SIZE + draw(PAGE_SIZE);
	char want[256];
	capture_begin();
	syspte_describe(R, va);
	capture_end(said, sizeof(said));
	described++;
	if (!shadow[p]) {
		snprintf(want, sizeof(want), "*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
	} else {
		const struct item *it = &items[shadow[p] - 1];
		uint64_t k = p - page_of(it->va);
		char tag[5];
		memcpy(tag, &it->tag, 4);
		tag[4] = 0;
		if (k == it->n)   /* the verifier's guard page */
			snprintf(want, sizeof(want), "*** 0x%llx is the verifier's guard page after a reservation:\n***   base 0x%llx, "
				 "%llu pages, tag '%s' (an overrun)\n", (unsigned long long)va, (unsigned long long)it->va,
				 (unsigned long long)it->n, tag);
		else
			snprintf(want, sizeof(want), "*** 0x%llx is page %llu of reservation base 0x%llx:\n***   %llu pages, tag "
				 "'%s', %llu pages mapped\n", (unsigned long long)va, (unsigned long long)k,
				 (unsigned long long)it->va, (unsigned long long)it->n, tag, (unsigned long long)it->mn);
	}
	if (strcmp(said, want)) {
		bad("syspte_describe differs", va, shadow[p]);
		if (failures < 4)
			printf("# said: %s# want: %s", said, want);
	}
}

/* A call made under a physical budget of nothing: begin returns the allocator's call count. */
static uint64_t nomem_begin(void)
{
	struct phys_stats ps;
	phys_get_stats(&ps);
	phys_set_budget(ps.allocated_pages);
	return phys_alloc_calls;
}

/* The call asked the physical allocator for no page, when strict (a map never does, nor a free of a
 * cached reservation; a free of the region's own may, its index halving). */
static void nomem_end(uint64_t calls, bool strict, const char *what)
{
	phys_set_budget(UINT64_MAX);
	nomem_calls++;
	if (phys_alloc_calls != calls && strict)
		bad(what, phys_alloc_calls - calls, 0);
}

static bool cached(const struct item *it)
{
	return syspte_cache_owner_page(R, page_of(it->va)) != 0;
}

static void op_reserve(void)
{
	unsigned cpu = (unsigned)draw(NCPUS);
	uint64_t kind = draw(10), n = kind < 7 ? 1 + draw(16) : kind < 9 ? 17 + draw(60) : 1 + draw(npages / 4);
	uint32_t flags = draw(5) == 0 ? SYSPTE_FLAG_DIVISIBLE : 0, tag = tags[draw(NTAGS)];
	if (nitems == MAXITEMS)
		return;
	fake_cpu_switch(cpu);
	vaddr_t va = syspte_reserve(R, n, tag, flags);
	if (!va) {
		refusals++;
		if (shadow_has_run(n + guard, flags ? n : 1))
			bad("refused although the shadow has a free run for it", n, flags);
		return;
	}
	if (va % PAGE_SIZE || page_of(va) + n + guard > npages || (flags && (va >> PAGE_SHIFT) % n))
		bad("a reservation misplaced", va, n);
	items[nitems] = (struct item){ .va = va, .n = n, .tag = tag, .cpu = cpu };
	shadow_set(&items[nitems], nitems + 1);
	cached_made += cached(&items[nitems]);
	nitems++;
}

/* A reservation under a physical budget of 0 .. 5 more pages: granted, or refused with the region's
 * reservations, free pages and pages mapped as they were (the index's and the caches' own pages may
 * move: a drain's growth of the index, a cache's state page). */
static void op_reserve_short(void)
{
	unsigned cpu = (unsigned)draw(NCPUS);
	uint64_t n = draw(3) ? 1 + draw(16) : 17 + draw(npages / 8);
	uint32_t flags = draw(5) == 0 ? SYSPTE_FLAG_DIVISIBLE : 0, tag = tags[draw(NTAGS)];
	if (nitems == MAXITEMS)
		return;
	fake_cpu_switch(cpu);
	struct phys_stats ps;
	struct syspte_stats a, b;
	syspte_get_stats(R, &a);
	phys_get_stats(&ps);
	phys_set_budget(ps.allocated_pages + draw(6));
	vaddr_t va = syspte_reserve(R, n, tag, flags);
	phys_set_budget(UINT64_MAX);
	short_asked++;
	if (!va) {
		syspte_get_stats(R, &b);
		short_refused++;
		if (a.live != b.live || a.free_pages != b.free_pages || a.pages_reserved != b.pages_reserved ||
		    a.pages_mapped != b.pages_mapped || a.table_pages != b.table_pages)
			bad("a reservation refused under a budget changed the region", n, a.live ^ b.live);
		return;
	}
	if (va % PAGE_SIZE || page_of(va) + n + guard > npages || (flags && (va >> PAGE_SHIFT) % n))
		bad("a reservation misplaced", va, n);
	items[nitems] = (struct item){ .va = va, .n = n, .tag = tag, .cpu = cpu };
	shadow_set(&items[nitems], nitems + 1);
	nitems++;
}

static void renumber(unsigned from, unsigned to)
{
	items[to] = items[from];
	shadow_set(&items[to], 0);
	shadow_set(&items[to], to + 1);
}

static uint64_t raised_locked;   /* bug checks raised while the raising CPU held a lock */

/* Records the bug check (bugcheck_record_hook) and whether a lock was still held: the region raises
 * its 0xDA after releasing its lock and its caches' (docs/design.md, "Misuse"). */
static void misuse_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	raised_locked += spin_cpus[fake_cpu].held != 0;
	bugcheck_record_hook(code, p1, p2, p3, p4);
}

/* A misuse of item k from CPU cpu: the bug check and its parameters, and nothing changed. */
enum call { CALL_FREE, CALL_MAP, CALL_UNMAP };

static void expect_misuse_of(enum call call, unsigned k, vaddr_t addr, uint32_t tag, uint64_t n, uint64_t sub, uint64_t p2,
			     uint64_t p3, uint64_t p4)
{
	static const uint64_t pfns[SYSPTE_CACHE_MAX_PAGES] = { 0x400 };
	struct syspte_stats a, b;
	syspte_get_stats(R, &a);
	bugcheck_last.code = 0;
	int st = call == CALL_FREE ? syspte_release(R, addr, tag) :
		 call == CALL_MAP ? syspte_map(R, addr, tag, pfns, n, PT_CACHE_WB) : syspte_unmap(R, addr, tag, n);
	misuses++;
	if (st != SYSPTE_MISUSE || bugcheck_last.code != BUGCHECK_SYSTEM_PTE_MISUSE || bugcheck_last.p[0] != sub ||
	    bugcheck_last.p[1] != p2 || bugcheck_last.p[2] != p3 || bugcheck_last.p[3] != p4)
		bad("a misuse's bug check differs", sub, bugcheck_last.p[0]);
	syspte_get_stats(R, &b);
	struct syspte_info info;
	if (a.live != b.live || a.free_pages != b.free_pages || a.pages_mapped != b.pages_mapped ||
	    !syspte_lookup(R, items[k].va, &info) || info.base != items[k].va || info.mapped != items[k].mn)
		bad("a misuse changed the region", items[k].va, sub);
}

static void expect_misuse(unsigned k, vaddr_t addr, uint32_t tag, uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	expect_misuse_of(CALL_FREE, k, addr, tag, 0, sub, p2, p3, p4);
}

static void op_misuse(void)
{
	if (!nitems)
		return;
	unsigned k = (unsigned)draw(nitems);
	struct item *it = &items[k];
	fake_cpu_switch((unsigned)draw(NCPUS));
	uint64_t kind = draw(7);
	if (kind == 0) {
		uint32_t wrong = it->tag ^ 0x00100000;
		vaddr_t a = it->va + draw(PAGE_SIZE);
		expect_misuse(k, a, wrong, SYSPTE_BUGCHECK_FREE_WRONG_TAG, a, wrong, it->tag);
	} else if (kind == 1 && it->mn) {
		vaddr_t a = it->va + draw(PAGE_SIZE);
		expect_misuse(k, a, it->tag, SYSPTE_BUGCHECK_FREE_STILL_MAPPED, it->va + it->moff * PAGE_SIZE, it->tag, it->mn);
	} else if (kind == 2 && it->n > 1) {
		vaddr_t a = it->va + (1 + draw(it->n - 1)) * PAGE_SIZE;
		expect_misuse(k, a, it->tag, SYSPTE_BUGCHECK_FREE_NOT_START, a, it->tag, 0);
	} else if (kind == 3) {   /* a map with another tag */
		uint32_t wrong = it->tag ^ 0x00200000;
		vaddr_t a = it->va + draw(it->n) * PAGE_SIZE + draw(PAGE_SIZE);
		expect_misuse_of(CALL_MAP, k, a, wrong, 1, SYSPTE_BUGCHECK_MAP_WRONG_TAG, a, wrong, it->tag);
	} else if (kind == 4 && it->mn) {   /* an unmap with another tag */
		uint32_t wrong = it->tag ^ 0x00400000;
		vaddr_t a = it->va + it->moff * PAGE_SIZE;
		expect_misuse_of(CALL_UNMAP, k, a, wrong, it->mn, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, a, wrong, it->tag);
	} else if (kind == 5 && it->mn) {   /* a map over a mapped page: its first, its last */
		uint64_t p = draw(2) ? it->moff : it->moff + it->mn - 1;
		vaddr_t a = it->va + p * PAGE_SIZE;
		expect_misuse_of(CALL_MAP, k, a, it->tag, 1, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, a, a, a + PAGE_SIZE - 1);
	} else if (kind == 6 && !it->mn) {   /* an unmap of a page not mapped */
		vaddr_t a = it->va + draw(it->n) * PAGE_SIZE;
		expect_misuse_of(CALL_UNMAP, k, a, it->tag, 1, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, a, it->tag, 0);
	}
}

static void op_map(void)
{
	if (!nitems)
		return;
	struct item *it = &items[draw(nitems)];
	fake_cpu_switch((unsigned)draw(NCPUS));
	if (it->mn) {
		if (syspte_unmap(R, it->va + it->moff * PAGE_SIZE, it->tag, it->mn) != SYSPTE_OK)
			bad("unmap refused", it->va, it->mn);
		it->mn = 0;
		return;
	}
	static uint64_t pfns[MAXPAGES];
	uint64_t off = draw(it->n), mn = 1 + draw(MIN(it->n - off, 600));
	for (uint64_t k = 0; k < mn; k++)
		pfns[k] = 0x100 + k;
	uint64_t calls = nomem_begin();
	if (syspte_map(R, it->va + off * PAGE_SIZE, it->tag, pfns, mn, PT_CACHE_WB) != SYSPTE_OK)
		bad("map refused", it->va, mn);
	nomem_end(calls, true, "a map asked the physical allocator for a page");
	it->moff = off;
	it->mn = mn;
}

static void op_free(void)
{
	if (!nitems)
		return;
	unsigned k = (unsigned)draw(nitems);
	struct item *it = &items[k];
	fake_cpu_switch((unsigned)draw(NCPUS));
	if (it->mn && syspte_unmap(R, it->va + it->moff * PAGE_SIZE, it->tag, it->mn) != SYSPTE_OK)
		bad("unmap refused", it->va, it->mn);
	it->mn = 0;
	shadow_set(it, 0);
	bool in_cache = cached(it);
	uint64_t calls = nomem_begin();
	if (syspte_release(R, it->va + draw(PAGE_SIZE), it->tag) != SYSPTE_OK)
		bad("free refused", it->va, it->n);
	nomem_end(calls, in_cache, "a free of a cached reservation asked the physical allocator for a page");
	if (k != --nitems)
		renumber(nitems, k);
}

/* One run: a fresh machine with a region of pages pages, steps generated calls. */
static void run(uint64_t pages, bool verifier, uint64_t seed, uint64_t steps)
{
	uint64_t f0 = failures, r0 = refusals, c0 = cached_made;
	mm_verifier_set(verifier);
	if (host_machine_create(64ULL << 20, pages * PAGE_SIZE)) {
		bad("no machine", pages, 0);
		return;
	}
	R = reserved_region();
	npages = pages;
	guard = R->guard;
	nitems = 0;
	memset(shadow, 0, sizeof(shadow));
	rng = seed * 0x9E3779B97F4A7C15ULL + pages;
	for (uint64_t s = 0; s < steps && failures - f0 < 10; s++, steps_done++) {
		uint64_t op = draw(21);
		if (op == 20)
			op_reserve_short();
		else if (op < 8)
			op_reserve();
		else if (op < 12)
			op_free();
		else if (op < 16)
			op_map();
		else if (op < 17)
			op_misuse();
		else
			check_describe();
		check_state();
		if (s % 16 == 0)
			check_tags();
		if (s % 64 == 0)
			check_dump();
	}
	while (nitems)
		op_free();
	check_state();
	struct syspte_stats st;
	syspte_get_stats(R, &st);
	ok(failures == f0 && st.free_pages == pages && st.live == 0 && st.cache_drains > 0 && refusals > r0 &&
	   cached_made > c0,
	   "%llu pages%s, seed %llu: %llu steps across %u CPUs, %llu refusals proven, %llu cached reservations, %llu "
	   "drains, region whole after",
	   (unsigned long long)pages, verifier ? " (verifier)" : "", (unsigned long long)seed, (unsigned long long)steps,
	   NCPUS, (unsigned long long)(refusals - r0), (unsigned long long)(cached_made - c0),
	   (unsigned long long)st.cache_drains);
	fake_cpu_switch(0);
	host_machine_destroy();
	mm_verifier_set(false);
}

int main(int argc, char **argv)
{
	uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 0) : 3000, seeds = argc > 2 ? strtoull(argv[2], NULL, 0) : 3;
	bugcheck_set_hook(misuse_hook);
	const uint64_t sizes[] = { 512, 2048, 4096 };
	for (unsigned v = 0; v < 2; v++)
		for (unsigned s = 0; s < 3; s++)
			for (uint64_t seed = 1; seed <= seeds; seed++)
				run(sizes[s], v, seed, v ? steps / 3 : steps);
	ok(dumps > 100, "%llu dumps against the shadow", (unsigned long long)dumps);
	ok(misuses > 100 && described > 100 && raised_locked == 0, "%llu misuses (each raised with no lock held) and "
	   "%llu descriptions checked", (unsigned long long)misuses, (unsigned long long)described);
	ok(short_asked > 100 && short_refused > 10 && nomem_calls > 1000, "%llu reservations under a budget of 0 .. 5 pages "
	   "(%llu refused, nothing changed), %llu maps and frees under a budget of none",
	   (unsigned long long)short_asked, (unsigned long long)short_refused, (unsigned long long)nomem_calls);
	return tap_done();
}
