/*
 * A mapping of RAM keeps the memory type the kernel's direct map gives it (docs/contract.md,
 * "Caching types"): the direct map holds every RAM frame write-back, and one page mapped with two
 * memory types at once is undefined (Intel SDM Vol. 3A 11.12.4). So a map asking for UC, UC- or WC
 * writes write-back over a frame the direct map holds, counting the page in syspte_stats.overrides
 * under the type asked for, and the type asked for over any other frame (MMIO, MDL_IO_SPACE).
 *
 * The fake machine's direct map holds the frames fake_ram says (fake_arch_set_direct_map): the
 * machine's RAM below RAM_PAGES but for a 16-frame hole (a framebuffer a firmware listed as RAM,
 * which the kernel keeps out of its direct map), so the 2 MiB run around the hole is held in part.
 * Every case reads the PTEs and leaves themselves (syspte_entry, arch_pte_cache) and the counters:
 *
 * 1. every MEMORY_CACHING_TYPE over RAM frames, through MmMapLockedPagesWithReservedMapping and
 *    MmMapLockedPagesSpecifyCache (small maps go through a CPU's cache, larger ones the region's
 *    lock): write-back, the counter of a non-write-back type raised by the pages;
 * 2. the same over frames outside RAM, an MDL_IO_SPACE MDL: the type asked for, no counter raised;
 * 3. generated MDLs mixing both, at generated sizes and offsets: each page its own rule;
 * 4. 2 MiB runs: held whole, a 2 MiB leaf written back (512 pages counted); held not at all, a
 *    leaf of the type asked for; held in part, 4 KiB PTEs each of its own rule, never a leaf;
 *    syspte_check passes over all of them; the same whole and nowhere when the direct map holds
 *    the run's block with 4 KiB pages (fake_arch_set_direct_map_small);
 * 5. MmAllocatePagesForMdlEx(MmNonCached, MM_ALLOCATE_FAST_LARGE_PAGES) then
 *    MmMapLockedPagesSpecifyCache(MmNonCached): its pages are RAM, mapped write-back, 2 MiB leaves
 *    among them; the dump prints the counters;
 * 6. syspte_check reports a PTE or leaf of another type than write-back over RAM (which no map
 *    writes), and passes the same over a device's frames.
 * Without the direct map (the default, fake_arch_set_direct_map(NULL)) the same calls keep every
 * requested type, as the other host tests rely on.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "capture.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "test_rng.h"
#include "pt.h"

#define RAM_BYTES (64ULL << 20)
#define RAM_PAGES (RAM_BYTES >> PAGE_SHIFT)
#define HOLE 0x2300ULL                /* frames [HOLE, HOLE + 16) are not in the direct map */
#define MMIO 0xfe000ULL               /* first frame of a device range well above the RAM */

static uint64_t rng = 0xa11a5ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* The fake direct map: RAM but the hole. */
static bool fake_ram(uint64_t pfn)
{
	return pfn < RAM_PAGES && !(pfn >= HOLE && pfn < HOLE + 16);
}

static const MEMORY_CACHING_TYPE all_types[] = { MmNonCached, MmCached, MmWriteCombined, MmHardwareCoherentCached,
						 MmNonCachedUnordered, MmUSWCCached };

/* An MDL of the n frames pfns (locked pages, offset off), calloc'd; io: MDL_IO_SPACE too. */
static MDL *mdl_of(const uint64_t *pfns, uint64_t n, ULONG off, bool io)
{
	MDL *m = calloc(1, sizeof(MDL) + 8 * n);
	memcpy(MmGetMdlPfnArray(m), pfns, 8 * n);
	m->Size = (CSHORT)(sizeof(MDL) + 8 * n);
	m->StartVa = (PVOID)0x60000000ULL;
	m->ByteOffset = off;
	m->ByteCount = (ULONG)(n * PAGE_SIZE - off);
	m->MdlFlags = (CSHORT)(MDL_PAGES_LOCKED | (io ? MDL_IO_SPACE : 0));
	return m;
}

/* The pages a map of type ct over pfns must write back instead of ct: those the direct map holds,
 * when ct is not write-back. */
static uint64_t want_overrides(const uint64_t *pfns, uint64_t n, MEMORY_CACHING_TYPE ct)
{
	uint64_t k = 0;
	if (reserved_cache_type(ct) != PT_CACHE_WB)
		for (uint64_t j = 0; j < n; j++)
			k += fake_ram(pfns[j]);
	return k;
}

/* Checks the n pages mapped at va against the rule (each page's frame and memory type: write-back
 * over a frame the direct map holds, ct's type elsewhere) and returns the pages that differ; *leaves
 * counts the 2 MiB leaves met. */
static uint64_t check_pages(struct syspte_region *r, vaddr_t va, const uint64_t *pfns, uint64_t n,
			    MEMORY_CACHING_TYPE ct, uint64_t *leaves)
{
	uint64_t bad = 0, i0 = ((va & ~PAGE_MASK) - r->base) >> PAGE_SHIFT;
	unsigned want_ct = (unsigned)reserved_cache_type(ct);
	for (uint64_t k = 0; k < n; k++) {
		int level;
		pte_t e = syspte_entry(r, i0 + k, &level);
		unsigned want = fake_ram(pfns[k]) ? PT_CACHE_WB : want_ct;
		bool ok = arch_pte_present(e) &&
			  arch_pte_frame(e, level) + (level == 2 ? ((i0 + k) % SYSPTE_SPAN_PAGES) << PAGE_SHIFT : 0) ==
				  pfn_to_pa(pfns[k]) &&
			  (unsigned)arch_pte_cache(e, level, r->pt->features) == want;
		*leaves += level == 2 && (i0 + k) % SYSPTE_SPAN_PAGES == 0;
		if (!ok && bad++ < 3)
			printf("# page %llu (frame 0x%llx, %s): entry 0x%llx at level %d, type %u wanted\n",
			       (unsigned long long)k, (unsigned long long)pfns[k], fake_ram(pfns[k]) ? "RAM" : "not RAM",
			       (unsigned long long)e, level, want);
	}
	return bad;
}

/* Maps pfns (n frames, offset off, io as mdl_of) with type ct through one of the two calls (specify:
 * MmMapLockedPagesSpecifyCache, else a reserved mapping made for it) and checks the pages, the
 * counters' rise and syspte_check; unmaps. Returns 1 when anything differs. */
static unsigned map_and_check(const uint64_t *pfns, uint64_t n, ULONG off, bool io, MEMORY_CACHING_TYPE ct,
			      bool specify, uint64_t *leaves)
{
	const uint32_t tag = 0x61696c41;   /* 'Alia' */
	struct syspte_region *r = reserved_region();
	struct syspte_stats before, after;
	syspte_get_stats(r, &before);
	MDL *m = mdl_of(pfns, n, off, io);
	void *res = NULL;
	char *p = specify ? MmMapLockedPagesSpecifyCache(m, KernelMode, ct, NULL, 0, NormalPagePriority)
			  : (res = MmAllocateMappingAddress(n * PAGE_SIZE, tag))
				    ? MmMapLockedPagesWithReservedMapping(res, tag, m, ct) : NULL;
	unsigned bad = !p;
	if (p) {
		bad |= check_pages(r, (vaddr_t)p, pfns, n, ct, leaves) != 0;
		syspte_get_stats(r, &after);
		unsigned c = (unsigned)reserved_cache_type(ct);
		uint64_t want = want_overrides(pfns, n, ct);
		for (unsigned t = 0; t < PT_CACHE_TYPES; t++)
			if (after.overrides[t] - before.overrides[t] != (t == c ? want : 0)) {
				bad = 1;
				printf("# type %d: overrides of type %u rose by %llu, %llu wanted\n", (int)ct, t,
				       (unsigned long long)(after.overrides[t] - before.overrides[t]),
				       (unsigned long long)(t == c ? want : 0));
			}
		bad |= syspte_check(r) != 0;
		if (specify)
			MmUnmapLockedPages(p, m);
		else
			MmUnmapReservedMapping(res, tag, m);
	}
	if (res)
		MmFreeMappingAddress(res, tag);
	free(m);
	return bad;
}

/* 1 and 2: every type over n frames of RAM (io false) or of a device (io true), through both calls,
 * at sizes a CPU's cache serves and larger. Returns the cases that differ. */
static unsigned test_one_kind(bool io, unsigned *cases)
{
	static uint64_t pfns[40];
	unsigned bad = 0;
	uint64_t leaves = 0;
	for (unsigned s = 0; s < 2; s++)
		for (unsigned t = 0; t < ARRAY_SIZE(all_types); t++)
			for (uint64_t n = 1; n <= 40; n += 13, (*cases)++) {
				for (uint64_t k = 0; k < n; k++)
					pfns[k] = io ? MMIO + k : 0x1000 + 3 * k;
				bad += map_and_check(pfns, n, (ULONG)draw(PAGE_SIZE), io, all_types[t], s, &leaves);
			}
	return bad;
}

/* 3: generated MDLs of 1 .. 700 frames, each frame RAM, in the hole or a device's, any type, either
 * call. Returns the cases that differ. */
static unsigned test_mixed(unsigned *cases)
{
	static uint64_t pfns[700];
	unsigned bad = 0;
	uint64_t leaves = 0;
	for (unsigned c = 0; c < 300; c++, (*cases)++) {
		uint64_t n = 1 + draw(700);
		for (uint64_t k = 0; k < n; k++)
			switch (draw(3)) {
			case 0: pfns[k] = 0x100 + draw(RAM_PAGES - 0x100); break;
			case 1: pfns[k] = HOLE + draw(16); break;
			default: pfns[k] = MMIO + draw(0x1000); break;
			}
		bool io = false;
		for (uint64_t k = 0; k < n; k++)
			io |= !fake_ram(pfns[k]);
		bad += map_and_check(pfns, n, (ULONG)draw(PAGE_SIZE), io, all_types[draw(ARRAY_SIZE(all_types))], draw(2),
				     &leaves);
	}
	return bad;
}

/* 4: a DIVISIBLE reservation of three spans mapped with three aligned runs (held whole by the
 * direct map, not at all, in part around the hole), in every order, with every type. The leaves
 * must be exactly the runs held whole or not at all. Returns the cases that differ. */
static unsigned test_runs(unsigned *cases)
{
	const uint32_t tag = 0x6e755241;   /* 'ARun' */
	static const uint64_t runs[3] = { 0x1000, MMIO, HOLE & ~(SYSPTE_SPAN_PAGES - 1) };
	static const char *const what[3] = { "held whole", "not held", "held in part" };
	static uint64_t pfns[3 * SYSPTE_SPAN_PAGES];
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 3 * SYSPTE_SPAN_PAGES, tag, SYSPTE_FLAG_DIVISIBLE);
	unsigned bad = 0;
	if (!v)
		return 1;
	for (unsigned o = 0; o < 6; o++)
		for (unsigned t = 0; t < ARRAY_SIZE(all_types); t++, (*cases)++) {
			unsigned order[3] = { o % 3, (o % 3 + 1 + o / 3) % 3, 0 };
			order[2] = 3 - order[0] - order[1];
			for (unsigned s = 0; s < 3; s++)
				for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES; k++)
					pfns[s * SYSPTE_SPAN_PAGES + k] = runs[order[s]] + k;
			MEMORY_CACHING_TYPE ct = all_types[t];
			struct syspte_stats before, after;
			syspte_get_stats(r, &before);
			if (syspte_map(r, v, tag, pfns, 3 * SYSPTE_SPAN_PAGES, (unsigned)reserved_cache_type(ct)) != SYSPTE_OK) {
				bad++;
				continue;
			}
			uint64_t leaves = 0;
			bool wrong = check_pages(r, v, pfns, 3 * SYSPTE_SPAN_PAGES, ct, &leaves) != 0;
			syspte_get_stats(r, &after);
			unsigned c = (unsigned)reserved_cache_type(ct);
			/* write-back asked: one type over every run, three leaves; else the run held in part
			 * gets 4 KiB PTEs */
			wrong |= leaves != (c == PT_CACHE_WB ? 3u : 2u);
			for (unsigned s = 0; s < 3 && c != PT_CACHE_WB; s++) {
				int level;
				syspte_entry(r, ((v - r->base) >> PAGE_SHIFT) + s * SYSPTE_SPAN_PAGES, &level);
				if (level != (order[s] == 2 ? 1 : 2) && bad < 4)
					printf("# type %d: the run %s mapped at level %d\n", (int)ct, what[order[s]], level);
				wrong |= level != (order[s] == 2 ? 1 : 2);
			}
			wrong |= after.overrides[c] - before.overrides[c] != want_overrides(pfns, 3 * SYSPTE_SPAN_PAGES, ct);
			wrong |= syspte_check(r) != 0;
			bad += wrong;
			syspte_unmap(r, v, tag, 3 * SYSPTE_SPAN_PAGES);
		}
	syspte_release(r, v, tag);
	return bad;
}

/* The 2 MiB blocks the fake direct map holds with 4 KiB pages: one of RAM, held whole, and one
 * above it, held nowhere. */
#define SMALL_IN 0x1600ULL
#define SMALL_OUT (MMIO + SYSPTE_SPAN_PAGES)
static bool fake_small(uint64_t pfn)
{
	return pfn == SMALL_IN || pfn == SMALL_OUT;
}

/* 4b: runs whose 2 MiB block the direct map holds with 4 KiB pages (a descriptor's edge inside it,
 * as a PC's map often has): held whole, a write-back leaf all the same (512 pages counted); held
 * nowhere, a leaf as asked; syspte_check passes over both. Every type, both orders. Returns the
 * cases that differ. */
static unsigned test_runs_small_pages(unsigned *cases)
{
	const uint32_t tag = 0x6d735241;   /* 'ARsm' */
	static const uint64_t runs[2] = { SMALL_IN, SMALL_OUT };
	static uint64_t pfns[2 * SYSPTE_SPAN_PAGES];
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 2 * SYSPTE_SPAN_PAGES, tag, SYSPTE_FLAG_DIVISIBLE);
	unsigned bad = 0;
	if (!v)
		return 1;
	fake_arch_set_direct_map_small(fake_small);
	for (unsigned o = 0; o < 2; o++)
		for (unsigned t = 0; t < ARRAY_SIZE(all_types); t++, (*cases)++) {
			for (unsigned s = 0; s < 2; s++)
				for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES; k++)
					pfns[s * SYSPTE_SPAN_PAGES + k] = runs[s ^ o] + k;
			MEMORY_CACHING_TYPE ct = all_types[t];
			unsigned c = (unsigned)reserved_cache_type(ct);
			struct syspte_stats before, after;
			syspte_get_stats(r, &before);
			if (syspte_map(r, v, tag, pfns, 2 * SYSPTE_SPAN_PAGES, c) != SYSPTE_OK) {
				bad++;
				continue;
			}
			uint64_t leaves = 0;
			bool wrong = check_pages(r, v, pfns, 2 * SYSPTE_SPAN_PAGES, ct, &leaves) != 0;
			syspte_get_stats(r, &after);
			if (leaves != 2 && bad < 4)
				printf("# type %d, order %u: %llu leaves, want 2\n", (int)ct, o, (unsigned long long)leaves);
			wrong |= leaves != 2;
			wrong |= after.overrides[c] - before.overrides[c] != want_overrides(pfns, 2 * SYSPTE_SPAN_PAGES, ct);
			if (syspte_check(r) != 0) {
				wrong = true;
				if (bad < 4)
					printf("# type %d, order %u: syspte_check fails\n", (int)ct, o);
			}
			bad += wrong;
			syspte_unmap(r, v, tag, 2 * SYSPTE_SPAN_PAGES);
		}
	fake_arch_set_direct_map_small(NULL);
	syspte_release(r, v, tag);
	return bad;
}

/* 5: pages from MmAllocatePagesForMdlEx asked non-cached, mapped non-cached: RAM, so write-back,
 * the 2 MiB runs FAST_LARGE_PAGES found as leaves; the dump's counters line. Returns 1 on a
 * difference. */
static unsigned test_allocated_pages(void)
{
	PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, skip = { .QuadPart = 0 };
	struct syspte_region *r = reserved_region();
	PMDL m = MmAllocatePagesForMdlEx(lo, hi, skip, 3 * SIZE_2M, MmNonCached, MM_ALLOCATE_FAST_LARGE_PAGES);
	if (!m)
		return 1;
	uint64_t n = MmGetMdlByteCount(m) >> PAGE_SHIFT, leaves = 0;
	struct syspte_stats before, after;
	syspte_get_stats(r, &before);
	char *p = MmMapLockedPagesSpecifyCache(m, KernelMode, MmNonCached, NULL, 0, NormalPagePriority);
	unsigned bad = !p;
	if (p) {
		bad |= check_pages(r, (vaddr_t)p, MmGetMdlPfnArray(m), n, MmNonCached, &leaves) != 0;
		bad |= leaves == 0;
		syspte_get_stats(r, &after);
		bad |= after.overrides[PT_CACHE_UC] - before.overrides[PT_CACHE_UC] != n;
		static char text[8192];
		char want[160];
		capture_begin();
		syspte_dump(r);
		capture_end(text, sizeof(text));
		snprintf(want, sizeof(want), "  pages mapped write-back, not as asked (RAM in the direct map): %llu UC, %llu UC-, "
			 "%llu WC\n", (unsigned long long)after.overrides[PT_CACHE_UC],
			 (unsigned long long)after.overrides[PT_CACHE_UCMINUS], (unsigned long long)after.overrides[PT_CACHE_WC]);
		bad |= strstr(text, want) == NULL;
		MmUnmapLockedPages(p, m);
	}
	MmFreePagesFromMdl(m);
	ExFreePool(m);
	return bad;
}

/* 6: syspte_check reports an entry no map writes: a 4 KiB PTE or a 2 MiB leaf of a type other than
 * write-back over RAM the direct map holds (written by hand over a map's write-back entry), for
 * UC, UC- and WC; the same entries over a device's frames pass. Returns the cases it judged wrong. */
static unsigned test_check_aliases(unsigned *cases)
{
	const uint32_t tag = 0x6b636843;   /* 'Chck' */
	static const unsigned types[] = { PT_CACHE_UC, PT_CACHE_UCMINUS, PT_CACHE_WC };
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, SYSPTE_SPAN_PAGES, tag, SYSPTE_FLAG_DIVISIBLE);
	unsigned wrong = 0;
	if (!v)
		return 1;
	uint64_t i0 = (v - r->base) >> PAGE_SHIFT;
	for (unsigned leaf = 0; leaf < 2; leaf++)
		for (unsigned ram = 0; ram < 2; ram++)
			for (unsigned t = 0; t < ARRAY_SIZE(types); t++, (*cases)++) {
				uint64_t first = ram ? 0x1000 : MMIO, n = leaf ? SYSPTE_SPAN_PAGES : 16;
				for (uint64_t k = 0; k < n; k++)   /* a run, or 16 frames no run */
					pfns[k] = leaf ? first + k : first + 2 * k + 1;
				if (syspte_map(r, v, tag, pfns, n, types[t]) != SYSPTE_OK) {
					wrong++;
					continue;
				}
				int level;
				uint64_t at = leaf ? 0 : 5;
				pte_t e = syspte_entry(r, i0 + at, &level);
				volatile pte_t *slot = leaf ? syspte_pde(r, i0 >> SYSPTE_SPAN_SHIFT) : syspte_slot(r, i0 + at);
				pte_t bad = arch_pte_leaf(leaf ? r->attrs2[types[t]] : r->attrs[types[t]],
							  arch_pte_frame(e, level));
				if (leaf)
					bad = arch_pte_set_map_start(bad);
				arch_pte_write(slot, bad);
				capture_begin();
				int st = syspte_check(r);
				static char text[512];
				capture_end(text, sizeof(text));
				arch_pte_write(slot, e);
				/* over RAM the entry is an alias: reported; over a device it is the map's own */
				if ((st != 0) != (bool)ram && wrong++ < 4)
					printf("# %s over %s, type %u: syspte_check %d (%s)\n", leaf ? "a leaf" : "a PTE",
					       ram ? "RAM" : "a device", types[t], st, text);
				wrong += syspte_check(r) != 0;
				syspte_unmap(r, v, tag, n);
			}
	syspte_release(r, v, tag);
	return wrong;
}

/* Without a direct map every type stays as asked: RAM frames mapped MmNonCached come out UC, no
 * counter raised. Returns 1 on a difference. */
static unsigned test_no_direct_map(void)
{
	static uint64_t pfns[8];
	struct syspte_region *r = reserved_region();
	for (uint64_t k = 0; k < 8; k++)
		pfns[k] = 0x1000 + k;
	MDL *m = mdl_of(pfns, 8, 0, false);
	char *p = MmMapLockedPagesSpecifyCache(m, KernelMode, MmNonCached, NULL, 0, NormalPagePriority);
	unsigned bad = !p;
	if (p) {
		int level;
		pte_t e = syspte_entry(r, ((vaddr_t)p - r->base) >> PAGE_SHIFT, &level);
		struct syspte_stats st;
		syspte_get_stats(r, &st);
		bad |= arch_pte_cache(e, level, r->pt->features) != PT_CACHE_UC || st.overrides[PT_CACHE_UC] != 0;
		MmUnmapLockedPages(p, m);
	}
	free(m);
	return bad;
}

int main(void)
{
	unsigned cases = 0;
	if (host_machine_create(RAM_BYTES, 64ULL << 20))
		return 1;
	is(test_no_direct_map(), 0, "without a direct map, RAM frames mapped MmNonCached come out UC, nothing counted");
	fake_arch_set_direct_map(fake_ram);
	is(test_one_kind(false, &cases), 0, "every caching type over RAM frames maps write-back, the pages counted under "
	   "a non-write-back type (%u maps, both calls)", cases);
	cases = 0;
	is(test_one_kind(true, &cases), 0, "every caching type over device frames (MDL_IO_SPACE) maps as asked, nothing "
	   "counted (%u maps)", cases);
	cases = 0;
	is(test_mixed(&cases), 0, "generated MDLs mixing RAM, a hole in the direct map and device frames: each page its own "
	   "rule, the counters exact (%u MDLs)", cases);
	cases = 0;
	is(test_runs(&cases), 0, "2 MiB runs: held whole, a write-back leaf; held not at all, a leaf as asked; held in part, "
	   "4 KiB PTEs (%u maps)", cases);
	cases = 0;
	is(test_runs_small_pages(&cases), 0, "2 MiB runs the direct map holds with 4 KiB pages: held whole, a write-back "
	   "leaf; held nowhere, a leaf as asked; syspte_check passes (%u maps)", cases);
	is(test_allocated_pages(), 0, "MmAllocatePagesForMdlEx(MmNonCached) pages mapped MmNonCached: write-back leaves and "
	   "PTEs, counted, the dump prints the counters");
	cases = 0;
	is(test_check_aliases(&cases), 0, "syspte_check reports a 4 KiB PTE or a 2 MiB leaf of UC, UC- or WC over RAM the "
	   "direct map holds, and passes them over a device (%u cases)", cases);
	fake_arch_set_direct_map(NULL);
	return tap_done();
}
