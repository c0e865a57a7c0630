/*
 * Differential test of the reserved-mapping API against a reference model: random sequences of
 * reserve / map / unmap / free, misuse included, on a small region. After every call: the bug
 * check (or its absence) and its parameters match the model, the PTEs match the model, the
 * recorded TLB operations are exactly those documented, and syspte_check(reserved_region()) passes; a refused
 * reservation must have no free run of its length in the model (any start, a divisible one for
 * DIVISIBLE). The calls run on three fake CPUs in turn, so the region's per-CPU caches serve them,
 * take frees of each other's reservations and are drained before any refusal; even seeds keep the
 * region sparse (MODEL_SPARSE), where the caches place most small reservations, odd ones full; two
 * seeds in three run on a machine whose direct map holds some of the frames (MODEL_DIRECT_MAP), so
 * the memory types and 2 MiB leaves follow the direct map's rule and the override counts are checked. The model
 * and the call generators are shared with the fuzzer (model_syspte.h); here choices come from
 * a xorshift generator seeded per run. Then cases the model's generators do not reach, each over a
 * range of inputs:
 * a cached map whose caller changes a frame during the call, maps with no frames, unmaps cutting a
 * 2 MiB leaf's mapping in every way, calls at addresses far from the region, reservations refused
 * for want of a physical page (a table, an allocator chunk, the index's room), the 4 GiB edge of
 * the reservation size on an 8 GiB region, and maps with every kind of out-of-range cache type.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "reserved.h"
#include "model_syspte.h"
#include "model_syspte.c"
#include "test_rng.h"
#include "syspte_impl.h"
#include "lock_play.h"

static uint64_t rng;

/* Xorshift choice in [0, n); n == 0 returns 0 without advancing the generator. */
static uint64_t xorshift_draw(uint64_t n)
{
	if (!n)
		return 0;
	return test_rng_next(&rng) % n;
}

/* Runs one seed; returns the failures it added. */
static uint64_t run_seed(uint64_t seed, uint64_t nops)
{
	uint64_t f0 = model_counts.failures;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	if (model_begin(xorshift_draw, MODEL_STRICT_ROOM | MODEL_CPUS | (seed % 2 ? 0 : MODEL_SPARSE) |
			(seed % 3 ? MODEL_DIRECT_MAP : 0)))
		return 1;
	for (uint64_t k = 0; k < nops && model_counts.failures - f0 < 10; k++)
		model_step();
	model_end();
	return model_counts.failures - f0;
}

/*
 * A map of a reservation CPU 1's cache placed, from CPU 2, which maps it under that cache's lock
 * alone; its caller turns frame q beyond the physical width after the map's pass checked the frames
 * and before its write reads them (a contract violation the map must survive, mm/syspte_map.c). For
 * every size 1..SYSPTE_CACHE_MAX_PAGES and every q: REFUSED, no page of the reservation left
 * mapped, the q PTEs written before the frame cleared and invalidated in one flush naming exactly
 * them (none when q is 0), the counts as before, the region consistent; and the same map with
 * fitting frames then maps. Returns the cases that went wrong.
 */
static unsigned test_cached_map_frames_changed(void)
{
	const uint32_t tag = 0x63616368;   /* 'cach' */
	const uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	uint64_t pfns[SYSPTE_CACHE_MAX_PAGES];
	unsigned bad = 0, cases = 0;
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	struct syspte_region *r = reserved_region();
	for (uint64_t n = 1; n <= SYSPTE_CACHE_MAX_PAGES; n++)
		for (uint64_t q = 0; q < n; q++, cases++) {
			fake_cpu_switch(1);
			vaddr_t v = syspte_reserve(r, n, tag, 0);
			uint64_t i = (v - r->base) >> PAGE_SHIFT;
			struct syspte_cache *c1 = r->cache.cpu[1];
			if (!v || !c1 || syspte_cache_owner_page(r, i) != 2) {
				bad++;
				continue;
			}
			for (uint64_t k = 0; k < n; k++)
				pfns[k] = 0x7000 + 3 * k;
			struct syspte_stats before, st;
			syspte_get_stats(r, &before);
			lock_play_race = (typeof(lock_play_race)){ .held = &c1->lock, .pfns = pfns, .at = q, .value = limit + q };
			lock_play_hold(&c1->lock, 1);   /* CPU 1 holds its cache's lock */
			fake_cpu_switch(2);
			fake_tlb_reset();
			fake_cpu_poll_hook = lock_play_race_spun;
			int got = syspte_map(r, v, tag, pfns, n, PT_CACHE_WB);
			fake_cpu_poll_hook = NULL;
			syspte_get_stats(r, &st);
			bool good = lock_play_race.ran && got == SYSPTE_REFUSED && st.pages_mapped == before.pages_mapped &&
				    (q ? fake_tlb.flushes == 1 && fake_tlb_flushed_range(0, v, q) : fake_tlb.flushes == 0);
			for (uint64_t k = 0; k < n; k++)
				good &= !pt_query(host_machine_pt(), v + k * PAGE_SIZE, NULL, NULL, NULL);
			good &= syspte_check(r) == 0;
			pfns[q] = 0x7000 + 3 * q;
			good &= syspte_map(r, v, tag, pfns, n, PT_CACHE_WB) == SYSPTE_OK && syspte_unmap(r, v, tag, n) == SYSPTE_OK;
			fake_cpu_switch(1);
			good &= syspte_release(r, v, tag) == SYSPTE_OK && syspte_check(r) == 0;
			if (!good && bad++ < 5)
				printf("# %llu pages, frame %llu changed: map %d, %llu pages mapped, %llu flushes\n", (unsigned long long)n,
				       (unsigned long long)q, got, (unsigned long long)(st.pages_mapped - before.pages_mapped),
				       (unsigned long long)fake_tlb.flushes);
		}
	fake_cpu_switch(0);
	return cases == SYSPTE_CACHE_MAX_PAGES * (SYSPTE_CACHE_MAX_PAGES + 1) / 2 ? bad : bad + 1;
}

/*
 * syspte_map with no frames (pfns NULL: its caller refused the request itself) for generated spans
 * of 1 page to a whole reservation and one past it, at every kind of page: reservations of 1..16
 * pages (a cache's, from CPU 1) and of 600 and 1100 pages (the region's, whole 2 MiB spans among
 * them). The contract's order: the address and the tag first (0xDA/0x105 outside a reservation,
 * 0x104 for another tag, with their parameters), then REFUSED with no bug check and nothing mapped,
 * the frames never read. Returns the cases that went wrong.
 */
static unsigned test_map_null_frames(void)
{
	const uint32_t tag = 0x6c6c756e;   /* 'null' */
	static const uint64_t sizes[] = { 1, 2, 7, 16, 600, 1100 };
	unsigned bad = 0;
	uint64_t g = 0x6e756c6c;
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	bugcheck_set_hook(bugcheck_record_hook);
	struct syspte_region *r = reserved_region();
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		uint64_t size = sizes[z];
		fake_cpu_switch(size <= SYSPTE_CACHE_MAX_PAGES ? 1 : 0);
		vaddr_t v = syspte_reserve(r, size, tag, 0);
		if (!v) {
			bad++;
			continue;
		}
		for (unsigned c = 0; c < 64; c++) {
			uint64_t off = test_rng_next(&g) % size, n = 1 + test_rng_next(&g) % (size - off + 1);
			unsigned kind = (unsigned)(test_rng_next(&g) % 4);   /* 0 another tag, 1 past the end, else in */
			vaddr_t at = kind == 1 ? v + size * PAGE_SIZE + PAGE_SIZE : v + off * PAGE_SIZE + test_rng_next(&g) % PAGE_SIZE;
			uint32_t t = kind == 0 ? tag + 1 : tag;
			uint64_t before = bugcheck_last.count;
			struct syspte_stats st;
			int got = syspte_map(r, at, t, NULL, n, (unsigned)(test_rng_next(&g) % PT_CACHE_TYPES));
			syspte_get_stats(r, &st);
			bool good = st.pages_mapped == 0 && !pt_query(host_machine_pt(), at, NULL, NULL, NULL);
			if (kind == 0)
				good &= got == SYSPTE_MISUSE && bugcheck_last.count == before + 1 &&
					bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
					bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_WRONG_TAG && bugcheck_last.p[1] == at &&
					bugcheck_last.p[2] == t && bugcheck_last.p[3] == tag;
			else if (kind == 1)   /* the page past the guard: no reservation */
				good &= got == SYSPTE_MISUSE && bugcheck_last.count == before + 1 &&
					bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
					bugcheck_last.p[0] == SYSPTE_BUGCHECK_MAP_NO_RESERVATION && bugcheck_last.p[1] == at;
			else
				good &= got == SYSPTE_REFUSED && bugcheck_last.count == before;
			if (!good && bad++ < 5)
				printf("# no frames: %llu pages at page %llu of %llu (kind %u): %d\n", (unsigned long long)n,
				       (unsigned long long)off, (unsigned long long)size, kind, got);
		}
		bad += syspte_release(r, v, tag) != SYSPTE_OK;
	}
	fake_cpu_switch(0);
	bugcheck_set_hook(NULL);
	return bad + (syspte_check(r) != 0);
}

/* True when the last bug check is 0xDA with subcode sub and parameters p2..p4, and is the one after
 * count before. */
static bool misuse_seen(uint64_t before, uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	return bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
	       bugcheck_last.p[0] == sub && bugcheck_last.p[1] == p2 && bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4;
}

/*
 * Unmaps that end inside a span a 2 MiB leaf maps, its mapping starting at the span's first page:
 * from that page, every length 1..511, and from the start of a 5-page mapping just before the span
 * (in a span of 4 KiB pages), every length reaching 1..511 pages into it; in spans of both parities
 * (a span's index in any bit of the page number). Each cuts the leaf's mapping: 0xDA/0x10C with the
 * unmap's address, the mapping's first page and the length, nothing unmapped or invalidated, the
 * leaf intact. Returns the cases that went wrong.
 */
static unsigned test_unmap_cuts_leaf(void)
{
	const uint32_t tag = 0x6661656c;   /* 'leaf' */
	static const struct { unsigned span; bool before; } c[] = { { 1, true }, { 2, false }, { 4, true } };
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	const uint64_t pre[5] = { 0x9001, 0x9003, 0x9005, 0x9007, 0x9009 };
	unsigned bad = 0;
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	bugcheck_set_hook(bugcheck_record_hook);
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 6 * SYSPTE_SPAN_PAGES, tag, 0);
	if (!v)
		return 1;
	vaddr_t a = (v + SIZE_2M - 1) & ~(SIZE_2M - 1);   /* five whole spans from a */
	for (unsigned k = 0; k < 3; k++) {
		vaddr_t s = a + c[k].span * SIZE_2M;
		for (uint64_t q = 0; q < SYSPTE_SPAN_PAGES; q++)
			pfns[q] = (0x40000 + k) * SYSPTE_SPAN_PAGES + q;
		bad += syspte_map(r, s, tag, pfns, SYSPTE_SPAN_PAGES, PT_CACHE_WB) != SYSPTE_OK;
		bad += c[k].before && syspte_map(r, s - 5 * PAGE_SIZE, tag, pre, 5, PT_CACHE_WB) != SYSPTE_OK;
	}
	struct syspte_stats before, st;
	syspte_get_stats(r, &before);
	bad += before.large_leaves != 3;
	for (unsigned k = 0; k < 3; k++)
		for (uint64_t lead = 0; lead <= (c[k].before ? 5 : 0); lead += 5) {
			vaddr_t s = a + c[k].span * SIZE_2M, at = s - lead * PAGE_SIZE;
			for (uint64_t q = 1; q < SYSPTE_SPAN_PAGES; q++) {
				uint64_t n = lead + q, count = bugcheck_last.count;
				fake_tlb_reset();
				int got = syspte_unmap(r, at, tag, n);
				syspte_get_stats(r, &st);
				uint64_t size = 0;
				bool leaf = pt_query(host_machine_pt(), s + q * PAGE_SIZE, NULL, NULL, &size) && size == SIZE_2M;
				if (!(got == SYSPTE_MISUSE && misuse_seen(count, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, at, s, n) &&
				      fake_tlb.flushes == 0 && leaf && st.pages_mapped == before.pages_mapped &&
				      st.large_leaves == before.large_leaves) && bad++ < 5)
					printf("# unmap of %llu pages from %llu before span %u's leaf: %d, bug check 0x%llx\n",
					       (unsigned long long)n, (unsigned long long)lead, c[k].span, got,
					       (unsigned long long)bugcheck_last.p[0]);
			}
		}
	bad += syspte_check(r) != 0;
	bugcheck_set_hook(NULL);
	return bad;
}

/*
 * Maps of many 2 MiB leaves (docs/contract.md section 3: a leaf is invalidated once by its map, one
 * entry of a batch; an unmap's batch names up to TLB_BATCH_PAGES entries, a leaf one of them, and
 * flushes everything above that), beyond what the model's reservations hold (two spans): generated
 * counts of leaves around the batch's size (1, 31, 32, 33 and random ones up to 48), each after a
 * lead of 0..3 4 KiB pages in the span before, one mapping. The map flushes once, with interrupts
 * enabled: each leaf's address when they are at most TLB_BATCH_PAGES, everything when more; the
 * unmap the same with the lead's pages counted in; both leave the counts right and the check clean.
 * Returns the cases that went wrong.
 */
static unsigned test_map_many_leaves(void)
{
	const uint32_t tag = 0x796e614d;   /* 'Many' */
	enum { MAXL = 48 };
	static uint64_t pfns[(MAXL + 1) * SYSPTE_SPAN_PAGES];
	unsigned bad = 0, cases = 0;
	if (host_machine_create(64ULL << 20, (MAXL + 2) * SIZE_2M))
		return 1;
	struct syspte_region *r = reserved_region();
	rng = 0x1eaf5eedULL;
	for (unsigned k = 0; k < 12; k++, cases++) {
		static const unsigned fixed[] = { 1, 31, 32, 33, TLB_BATCH_PAGES + 1, MAXL };
		uint64_t leaves = k < ARRAY_SIZE(fixed) ? fixed[k] : 1 + xorshift_draw(MAXL);
		uint64_t lead = xorshift_draw(4), n = lead + leaves * SYSPTE_SPAN_PAGES;
		vaddr_t v = syspte_reserve(r, (MAXL + 1) * SYSPTE_SPAN_PAGES, tag, 0);
		if (!v)
			return bad + 1;
		vaddr_t a = ((v + SIZE_2M - 1) & ~(SIZE_2M - 1)) + (v % SIZE_2M ? 0 : SIZE_2M), at = a - lead * PAGE_SIZE;
		uint64_t first = SYSPTE_SPAN_PAGES * (0x100 + xorshift_draw(0x1000));   /* an aligned run of frames */
		for (uint64_t q = 0; q < n; q++)
			pfns[q] = q < lead ? 0x7000 + 2 * q : first + (q - lead);
		vaddr_t want[TLB_BATCH_PAGES + 4];
		size_t nwant = 0;
		for (uint64_t j = 0; j < leaves && nwant < ARRAY_SIZE(want); j++)
			want[nwant++] = a + j * SIZE_2M;
		fake_tlb_reset();
		bool good = syspte_map(r, at, tag, pfns, n, PT_CACHE_WB) == SYSPTE_OK;
		struct syspte_stats st;
		syspte_get_stats(r, &st);
		good &= st.large_leaves == leaves && st.pages_mapped == n && fake_tlb.flushes == 1 && !fake_tlb.irqs_off &&
			(leaves > TLB_BATCH_PAGES ? fake_tlb.ev[0].all : fake_tlb_flushed_pages(0, want, leaves));
		for (uint64_t q = 0; q < lead && nwant < ARRAY_SIZE(want); q++)
			want[nwant++] = at + q * PAGE_SIZE;
		fake_tlb_reset();
		good &= syspte_unmap(r, at, tag, n) == SYSPTE_OK;
		syspte_get_stats(r, &st);
		good &= st.large_leaves == 0 && st.pages_mapped == 0 && fake_tlb.flushes == 1 &&
			(leaves + lead > TLB_BATCH_PAGES ? fake_tlb.ev[0].all : fake_tlb_flushed_pages(0, want, leaves + lead));
		good &= syspte_release(r, v, tag) == SYSPTE_OK && syspte_check(r) == 0;
		if (!good && bad++ < 5)
			printf("# %llu leaves after %llu pages: flushes %llu, everything %llu\n", (unsigned long long)leaves,
			       (unsigned long long)lead, (unsigned long long)fake_tlb.flushes, (unsigned long long)fake_tlb.alls);
	}
	return bad + (cases != 12);
}

/*
 * Maps and unmaps at addresses in no reservation, far from the region and around it: the page past
 * its end and those a chunk, a span, 2^k pages further, up to the address space's last page, and
 * pages below its base. 0xDA/0x105 (map) or 0x109 (unmap) with their parameters, nothing changed;
 * with the CPUs' caches owning chunks, whose owners such an address must not be looked up in.
 * Returns the cases that went wrong.
 */
static unsigned test_far_addresses(void)
{
	const uint32_t tag = 0x72616166;   /* 'faar' */
	const uint64_t pfn[2] = { 0x5000, 0x5001 };
	unsigned bad = 0;
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	bugcheck_set_hook(bugcheck_record_hook);
	struct syspte_region *r = reserved_region();
	fake_cpu_switch(1);   /* a cache owning a chunk, a reservation in it mapped */
	vaddr_t v = syspte_reserve(r, 2, tag, 0);
	bad += !v || syspte_map(r, v, tag, pfn, 2, PT_CACHE_WB) != SYSPTE_OK;
	fake_cpu_switch(0);
	vaddr_t end = r->base + r->npages * PAGE_SIZE;
	vaddr_t at[2 * 64 + 4];
	unsigned m = 0;
	at[m++] = end;
	at[m++] = end + SYSPTE_CHUNK_PAGES * PAGE_SIZE;
	at[m++] = ~(vaddr_t)0 & ~PAGE_MASK;
	at[m++] = ~(vaddr_t)0;
	for (unsigned k = 0; k < 64; k++) {
		if (k + PAGE_SHIFT < 64 && end + (1ULL << (k + PAGE_SHIFT)) > end)
			at[m++] = end + (1ULL << (k + PAGE_SHIFT)) + k;
		if (k + PAGE_SHIFT < 64 && r->base >= (1ULL << (k + PAGE_SHIFT)))
			at[m++] = r->base - (1ULL << (k + PAGE_SHIFT));
	}
	struct syspte_stats before, st;
	syspte_get_stats(r, &before);
	for (unsigned k = 0; k < m; k++) {
		uint64_t count = bugcheck_last.count;
		fake_tlb_reset();
		int mapped = syspte_map(r, at[k], tag, pfn, 1 + k % 2, PT_CACHE_WB);
		bool good = mapped == SYSPTE_MISUSE && misuse_seen(count, SYSPTE_BUGCHECK_MAP_NO_RESERVATION, at[k], tag, 0);
		count = bugcheck_last.count;
		int unmapped = syspte_unmap(r, at[k], tag, 1 + k % 2);
		good &= unmapped == SYSPTE_MISUSE && misuse_seen(count, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, at[k], tag, 0);
		syspte_get_stats(r, &st);
		good &= fake_tlb.flushes == 0 && st.pages_mapped == before.pages_mapped && st.live == before.live;
		if (!good && bad++ < 5)
			printf("# address 0x%llx in no reservation: map %d, unmap %d\n", (unsigned long long)at[k], mapped, unmapped);
	}
	fake_cpu_switch(1);
	bad += syspte_unmap(r, v, tag, 2) != SYSPTE_OK || syspte_release(r, v, tag) != SYSPTE_OK;
	fake_cpu_switch(0);
	bugcheck_set_hook(NULL);
	return bad + (m < 80) + (syspte_check(r) != 0);
}

/* The region's state a refused reservation must leave as it was (docs/contract.md section 3: "A
 * NULL return changes nothing"), the index's pages included (its growth is built beside it and
 * dropped when the reservation is refused), the caches' pages aside (a refusal may drain the caches
 * into the allocator, which moves their pages' bookkeeping, not what is reserved or free). */
struct short_state {
	struct syspte_stats st;
	uint64_t other_pages;   /* physical pages allocated, those of the index and the caches aside (compared apart) */
};

static void short_observe(struct syspte_region *r, struct short_state *s)
{
	struct phys_stats ps;
	phys_get_stats(&ps);
	syspte_get_stats(r, &s->st);
	s->other_pages = ps.allocated_pages - (s->st.record_bytes + s->st.cache_bytes) / PAGE_SIZE;
}

static bool short_same(const struct short_state *a, const struct short_state *b)
{
	return a->st.live == b->st.live && a->st.pages_reserved == b->st.pages_reserved &&
	       a->st.free_pages == b->st.free_pages && a->st.table_pages == b->st.table_pages &&
	       a->st.chunk_pages == b->st.chunk_pages && a->other_pages == b->other_pages &&
	       a->st.record_bytes == b->st.record_bytes;
}

/*
 * MmAllocateMappingAddressEx when the physical allocator has no page for what the reservation needs
 * (docs/contract.md section 3, the reserve table's last row): a page table of its range, a chunk of
 * the region's allocator metadata, room in the region's index for its record, a CPU cache's chunk.
 * Generated reservations (1 to 4000 pages, some DIVISIBLE, 64 live at most, a random one freed
 * when the slots are full, on a 4 GiB region that always has room for them) each asked under a budget of 0, 1, 2, ... 8 more pages, then a quarter
 * more each time, until granted: every refusal is NULL with the region's reservations, free pages,
 * tables and chunks as before and syspte_check clean, and the grant comes (within 4096 pages); every
 * free asks for no page. Returns the cases that went wrong; *kinds gets which needs the granting
 * call met after refusals (bit 0 a table, 1 an allocator chunk, 2 the index's room).
 */
static unsigned test_reserve_memory_short(unsigned *kinds)
{
	const uint32_t tag = 0x74726873;   /* 'shrt' */
	enum { LIVE = 64, ROUNDS = 400 };
	vaddr_t live[LIVE] = { 0 };
	unsigned bad = 0, refusals = 0;
	*kinds = 0;
	if (host_machine_create(64ULL << 20, 4ULL << 30))
		return 1;
	struct syspte_region *r = reserved_region();
	rng = 0x5eed5eedULL;
	for (unsigned k = 0; k < ROUNDS; k++) {
		unsigned slot = (unsigned)xorshift_draw(LIVE);
		if (live[slot]) {   /* a free never allocates: under a budget of nothing */
			struct phys_stats ps;
			phys_get_stats(&ps);
			phys_set_budget(ps.allocated_pages);
			uint64_t calls = phys_alloc_calls;
			MmFreeMappingAddress((PVOID)live[slot], tag);
			phys_set_budget(UINT64_MAX);
			bad += phys_alloc_calls != calls || syspte_lookup(r, live[slot], NULL);
			live[slot] = 0;
		}
		uint64_t pages = xorshift_draw(4) == 0 ? 1 + xorshift_draw(SYSPTE_CACHE_MAX_PAGES) :
				 xorshift_draw(4) ? SYSPTE_CACHE_MAX_PAGES + 1 + xorshift_draw(600) : 1 + xorshift_draw(4000);
		SIZE_T bytes = pages * PAGE_SIZE - xorshift_draw(PAGE_SIZE);
		ULONG flags = xorshift_draw(8) ? 0 : MM_MAPPING_ADDRESS_DIVISIBLE;
		struct short_state before, after;
		for (uint64_t extra = 0; !live[slot]; extra += extra < 8 ? 1 : extra / 4) {
			struct phys_stats ps;
			phys_get_stats(&ps);
			short_observe(r, &before);
			phys_set_budget(ps.allocated_pages + extra);
			live[slot] = (vaddr_t)MmAllocateMappingAddressEx(bytes, tag, flags);
			phys_set_budget(UINT64_MAX);
			short_observe(r, &after);
			if (live[slot]) {   /* what the grant made is what the refusals lacked */
				if (extra)
					*kinds |= (after.st.table_pages > before.st.table_pages) |
						  (after.st.chunk_pages > before.st.chunk_pages) << 1 |
						  (after.st.record_bytes > before.st.record_bytes) << 2;
				bad += after.st.live != before.st.live + 1 || (flags && live[slot] % (pages * PAGE_SIZE));
				break;
			}
			refusals++;
			bool good = short_same(&before, &after) && syspte_check(r) == 0 && extra < 4096;
			if (!good && bad++ < 5)
				printf("# %llu pages%s under a budget of %llu more: refused, but the region changed\n",
				       (unsigned long long)pages, flags ? " DIVISIBLE" : "", (unsigned long long)extra);
			if (extra >= 4096)
				break;
		}
	}
	for (unsigned s = 0; s < LIVE; s++)
		if (live[s])
			MmFreeMappingAddress((PVOID)live[s], tag);
	struct syspte_stats st;
	syspte_get_stats(r, &st);
	return bad + (refusals < ROUNDS / 4) + (st.live != 0) + (syspte_check(r) != 0);
}

/*
 * The 4 GiB rule of MmAllocateMappingAddress[Ex] at its edge, on a region with room for more (8
 * GiB): sizes from 4 GiB - 4 KiB to 4 GiB - 1 are granted (2^20 - 1 and 2^20 pages; DIVISIBLE: on a
 * multiple of their size), and 4 GiB to 4 GiB + 4 KiB, and sizes far above, are NULL with nothing
 * reserved. Returns the cases that went wrong.
 */
static unsigned test_reserve_4g_edge(void)
{
	const uint32_t tag = 0x67344741;   /* 'AG4g' */
	const uint64_t g4 = 1ULL << 32;
	unsigned bad = 0;
	if (host_machine_create(64ULL << 20, 8ULL << 30))
		return 1;
	struct syspte_region *r = reserved_region();
	const SIZE_T under[] = { g4 - PAGE_SIZE, g4 - PAGE_SIZE + 1, g4 - 2, g4 - 1 };
	const SIZE_T over[] = { g4, g4 + 1, g4 + PAGE_SIZE - 1, g4 + PAGE_SIZE, 2 * g4, (SIZE_T)1 << 63, ~(SIZE_T)0 };
	for (unsigned k = 0; k < 2 * ARRAY_SIZE(under); k++) {
		ULONG flags = k % 2 ? MM_MAPPING_ADDRESS_DIVISIBLE : 0;
		SIZE_T bytes = under[k / 2];
		vaddr_t v = (vaddr_t)MmAllocateMappingAddressEx(bytes, tag, flags);
		struct syspte_info info;
		uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
		bool good = v && syspte_lookup(r, v, &info) && info.base == v && info.npages == pages &&
			    (!flags || v % (pages * PAGE_SIZE) == 0);
		if (v)
			MmFreeMappingAddress((PVOID)v, tag);
		if (!good && bad++ < 5)
			printf("# %#llx bytes%s: 0x%llx\n", (unsigned long long)bytes, flags ? " DIVISIBLE" : "", (unsigned long long)v);
	}
	struct syspte_stats before, st;
	syspte_get_stats(r, &before);
	for (unsigned k = 0; k < 2 * ARRAY_SIZE(over); k++) {
		ULONG flags = k % 2 ? MM_MAPPING_ADDRESS_DIVISIBLE : 0;
		PVOID p = k % 4 < 2 ? MmAllocateMappingAddressEx(over[k / 2], tag, flags) : MmAllocateMappingAddress(over[k / 2], tag);
		syspte_get_stats(r, &st);
		if ((p || st.live != before.live || st.free_pages != before.free_pages) && bad++ < 5)
			printf("# %#llx bytes: %p\n", (unsigned long long)over[k / 2], p);
	}
	return bad + (syspte_check(r) != 0);
}

/*
 * MmMapLockedPagesWithReservedMapping's cache-type row (docs/contract.md section 3, row 4: not below
 * MmMaximumCacheType, negative values included, is NULL): every type from -300 to 300, the ends of
 * the int range and 2000 random 32-bit values, each given to a map of a valid 3-page MDL at a live
 * reservation. The six types map (and are unmapped again); every other value is NULL with nothing
 * mapped, the MDL untouched and no bug check. Returns the cases that went wrong.
 */
static unsigned test_map_cache_types(void)
{
	const uint32_t tag = 0x65707974;   /* 'type' */
	unsigned bad = 0, mapped = 0, refused = 0;
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	bugcheck_set_hook(bugcheck_record_hook);
	struct syspte_region *r = reserved_region();
	PVOID va = MmAllocateMappingAddress(3 * PAGE_SIZE, tag);
	struct { MDL mdl; PFN_NUMBER pfn[3]; } h, saved;
	rng = 0x7e57ca5eULL;
	for (int k = 0; k < 601 + 2 + 2000; k++) {
		int32_t t = k < 601 ? k - 300 : k == 601 ? INT32_MIN : k == 602 ? INT32_MAX : (int32_t)(uint32_t)xorshift_draw(1ULL << 32);
		memset(&h, 0, sizeof(h));
		MmInitializeMdl(&h.mdl, (PVOID)0x10000, 3 * PAGE_SIZE);
		h.mdl.MdlFlags = MDL_PAGES_LOCKED;
		for (unsigned q = 0; q < 3; q++)
			h.pfn[q] = 0x4000 + 7 * q;
		saved = h;
		uint64_t count = bugcheck_last.count;
		PVOID p = MmMapLockedPagesWithReservedMapping(va, tag, &h.mdl, (MEMORY_CACHING_TYPE)t);
		struct syspte_stats st;
		syspte_get_stats(r, &st);
		bool in_range = t >= 0 && t < MmMaximumCacheType, good = bugcheck_last.count == count;
		if (in_range) {
			good &= p == va && st.pages_mapped == 3;
			MmUnmapReservedMapping(va, tag, &h.mdl);
			mapped++;
		} else {
			good &= !p && st.pages_mapped == 0 && memcmp(&h, &saved, sizeof(h)) == 0;
			refused++;
		}
		if (!good && bad++ < 5)
			printf("# cache type %d: %p\n", t, p);
	}
	MmFreeMappingAddress(va, tag);
	bugcheck_set_hook(NULL);
	return bad + (mapped < 6) + (refused < 2000) + (syspte_check(r) != 0);
}

/*
 * A reservation refused because no free run of its length exists, made when the region's index is
 * full (its next entry would grow it): NULL, and as every NULL return of MmAllocateMappingAddress[Ex]
 * (docs/contract.md section 3, "A NULL return changes nothing"; the spec: "Returns NULL, changing
 * nothing") the physical allocator and the region's accounting as before: no page taken, the
 * index's pages (record_bytes) the same. Generated: the index filled to its capacity at three table
 * sizes, and requests longer than the free space (one page more, the whole region), with and
 * without DIVISIBLE. Returns the cases that went wrong.
 */
static unsigned test_refused_reserve_changes_nothing(void)
{
	const uint32_t tag = 0x6c6c7566;   /* 'full' */
	unsigned bad = 0, cases = 0;
	if (host_machine_create(64ULL << 20, 64ULL << 20))
		return 1;
	struct syspte_region *r = reserved_region();
	for (unsigned round = 0; round < 3; round++) {
		while (r->index.cap == 0 || r->index.count < r->index.cap)
			if (!MmAllocateMappingAddress((SYSPTE_CACHE_MAX_PAGES + 1) * PAGE_SIZE, tag)) {
				printf("# could not fill the index\n");
				return bad + 1;
			}
		struct syspte_stats st0;
		syspte_get_stats(r, &st0);
		const struct { uint64_t pages; ULONG flags; } ask[] = {
			{ st0.free_pages + 1, 0 }, { st0.free_pages + 1, MM_MAPPING_ADDRESS_DIVISIBLE },
			{ r->npages, 0 }, { r->npages, MM_MAPPING_ADDRESS_DIVISIBLE },
		};
		for (unsigned k = 0; k < ARRAY_SIZE(ask); k++, cases++) {
			struct phys_stats pa, pb;
			struct syspte_stats sa, sb;
			phys_get_stats(&pa);
			syspte_get_stats(r, &sa);
			void *p = MmAllocateMappingAddressEx(ask[k].pages * PAGE_SIZE, tag, ask[k].flags);
			phys_get_stats(&pb);
			syspte_get_stats(r, &sb);
			bool good = !p && pb.allocated_pages == pa.allocated_pages && sb.record_bytes == sa.record_bytes &&
				    sb.live == sa.live && sb.free_pages == sa.free_pages && syspte_check(r) == 0;
			if (!good && bad++ < 5)
				printf("# index full (%llu entries), %llu pages%s: %p, physical pages allocated %llu -> %llu, "
				       "the index's bytes %llu -> %llu\n", (unsigned long long)sa.live,
				       (unsigned long long)ask[k].pages, ask[k].flags ? " DIVISIBLE" : "", p,
				       (unsigned long long)pa.allocated_pages, (unsigned long long)pb.allocated_pages,
				       (unsigned long long)sa.record_bytes, (unsigned long long)sb.record_bytes);
		}
		/* the next reservation grows the index (when the refusals did not) and the next round fills it */
		bad += !MmAllocateMappingAddress((SYSPTE_CACHE_MAX_PAGES + 1) * PAGE_SIZE, tag);
	}
	return bad + (cases != 12);
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 12;
	uint64_t nops = argc > 2 ? strtoull(argv[2], NULL, 0) : 25000;
	for (uint64_t s = 1; s <= seeds; s++)
		is(run_seed(s, nops), 0, "seed %llu: %llu random calls agree with the model", (unsigned long long)s,
		   (unsigned long long)nops);
	printf("# %llu calls, %llu bug checks predicted and seen, %llu reservations refused for space\n",
	       (unsigned long long)model_counts.ops, (unsigned long long)model_counts.bugchecks_seen,
	       (unsigned long long)model_counts.nulls_seen);
	ok(model_counts.bugchecks_seen > seeds * 100, "misuse was exercised");
	ok(model_counts.nulls_seen > seeds, "refusals were exercised (each proven by the model's free runs)");
	printf("# the CPUs' caches: %llu calls without the region's lock, %llu drains\n",
	       (unsigned long long)model_counts.cache_fast, (unsigned long long)model_counts.cache_drains);
	ok(model_counts.cache_fast > seeds * 1000 && model_counts.cache_drains > seeds,
	   "three CPUs' caches served calls and were drained before refusals");
	printf("# %llu 2 MiB leaves mapped (%llu of them the last run below the physical width), %llu unmapped\n",
	       (unsigned long long)model_large.leaves_mapped, (unsigned long long)model_large.top_leaves,
	       (unsigned long long)model_large.leaf_unmaps);
	ok(model_large.leaves_mapped > seeds * 10 && model_large.leaf_unmaps > seeds * 5 && model_large.top_leaves > seeds,
	   "2 MiB leaves were mapped and unmapped (generated aligned runs of frames, up to the width's last)");
	is(test_cached_map_frames_changed(), 0, "a cached map whose caller turns a frame beyond the width while it waits for "
	   "the cache's lock: refused, its PTEs cleared and invalidated, sizes 1..%u, every frame", SYSPTE_CACHE_MAX_PAGES);
	is(test_map_null_frames(), 0, "a map with no frames: the address's and the tag's bug checks first, then refused, "
	   "nothing read or mapped (generated spans in cached and 2 MiB-spanning reservations)");
	is(test_unmap_cuts_leaf(), 0, "unmaps ending inside a 2 MiB leaf's span, from its start or a mapping before it, "
	   "every length, spans of both parities: 0xDA/0x10C, the leaf intact");
	is(test_map_many_leaves(), 0, "maps of 1 to 48 2 MiB leaves (31, 32, 33 among them) after 0..3 4 KiB pages: each "
	   "map one flush naming its leaves, everything above %u; its unmap the same with the 4 KiB pages counted in",
	   TLB_BATCH_PAGES);
	is(test_far_addresses(), 0, "maps and unmaps at addresses far past or below the region, to the address space's "
	   "ends: 0xDA/0x105 and 0x109, nothing changed");
	unsigned kinds;
	is(test_reserve_memory_short(&kinds), 0, "generated reservations under a physical budget raised a page at a time: "
	   "each refusal NULL with the region as it was, each granted in the end, no free asking for a page");
	is(kinds, 0x7, "the budget refused each kind of page a reservation needs: a table, an allocator chunk, the "
	   "index's room");
	is(test_reserve_4g_edge(), 0, "MmAllocateMappingAddress[Ex] on an 8 GiB region: 4 GiB - 4 KiB .. 4 GiB - 1 "
	   "granted (DIVISIBLE on a multiple of the size), 4 GiB and more NULL with nothing reserved");
	is(test_map_cache_types(), 0, "maps with cache types -300 .. 300, INT_MIN, INT_MAX and random values: the six "
	   "types map, every other value (negative ones included) NULL, nothing changed, no bug check");
	is(test_refused_reserve_changes_nothing(), 0, "reservations refused for want of a free run while the region's index "
	   "is full: NULL, no physical page taken, the index as it was (three table sizes, four kinds of request)");
	return tap_done();
}
