/*
 * Host tests of the physical allocator's owner map (mm/phys.c, phys.h: two bits a frame recording
 * what an allocated frame was handed out for) against a per-frame model, on hand-made maps whose
 * highest frame is not a multiple of the map's 32 frames a word, with loader memory at the very top
 * (handed over mid-run) and holes:
 *  - generated allocations of every owner, of 1, 2^k, 2^k +- 1 frames and random counts, aligned
 *    or not, some bounded to the last frames below highest_pfn, so that runs start, end and cross
 *    32-frame words everywhere;
 *  - frees of any part of an allocation, and of ranges spanning several allocations of different
 *    owners (phys.h: any part may go back alone);
 *  - misused frees (a free frame inside the range) and refused list frees: nothing changes, no
 *    owner goes stale;
 *  - phys_free_frames lists of every owner, shuffled with runs, with a fault injected (an unmanaged,
 *    free or foreign frame, a repeat): refused with the index phys.h's priority names, else freed;
 * after each step phys_owner_of agrees with the model for every frame of the window (free,
 * unmanaged, metadata and held-back loader frames: PHYS_OWNER_NONE), the per-owner statistics with
 * the model's counts, and phys_check() passes. Every other round runs in verifier mode.
 * Then MmAllocatePagesForMdlEx over every flag combination: its frames read PHYS_OWNER_MDL, the MDL
 * statistic follows each allocation and MmFreePagesFromMdl exactly, and a list naming a pool or a
 * kernel page is refused naming it.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "arch_mm.h"
#include "verifier.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "wdm.h"
#include "pool.h"

#define TOP 0x1c6dULL                    /* highest_pfn: 0x1c6d % 32 == 13 */
#define LOADER_TOP 45                    /* loader data: frames [TOP - 45, TOP) */
#define WIN (TOP + 70)                   /* frames the model follows (past highest_pfn too) */
#define MAXL 600

enum { S_OFF, S_FREE, S_HELD };          /* not the allocator's to hand out; free; handed out */

static struct machine_map map;
static uint8_t st[WIN], own[WIN];
static bool loader_gone;
static uint64_t rng = 0x0DDC0FFEE5EEDULL;
static unsigned wrong;

static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static void bad(const char *what, uint64_t a, uint64_t b)
{
	if (wrong++ < 8)
		printf("# %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
}

static bool is_loader(uint64_t f) { return f >= TOP - LOADER_TOP && f < TOP; }

/* RAM with a reserved hole below 1 MiB, an ACPI hole, and loader data at the top. */
static void owner_machine(void)
{
	machine_map_init(&map, 48);
	machine_map_add(&map, EFI_CONVENTIONAL, 0, 160, 0);
	machine_map_add(&map, EFI_RESERVED, 0xA0000, 96, 0);
	machine_map_add(&map, EFI_CONVENTIONAL, 1ULL << 20, 0x700, 0);
	machine_map_add(&map, EFI_ACPI_NVS, 0x800ULL << 12, 0x21, 0);
	machine_map_add(&map, EFI_CONVENTIONAL, 0x821ULL << 12, TOP - LOADER_TOP - 0x821, 0);
	machine_map_add(&map, EFI_LOADER_DATA, (TOP - LOADER_TOP) << 12, LOADER_TOP, 0);
	is(phys_init(map.buf, machine_map_size(&map), map.desc_size), 0, "owner machine: top frame 0x%llx",
	   (unsigned long long)TOP);
	loader_gone = false;
	for (uint64_t f = 0; f < WIN; f++) {
		st[f] = phys_is_managed(f << 12) && !is_loader(f) && phys_is_free(f << 12, 1) ? S_FREE : S_OFF;
		own[f] = PHYS_OWNER_KERNEL;
	}
}

/* The model's view of the whole window and counts against the allocator's. */
static void compare(const char *when)
{
	uint64_t cnt[PHYS_OWNER_NONE] = { 0 }, held = 0;
	for (uint64_t f = 0; f < WIN; f++) {
		enum phys_owner want = st[f] == S_HELD ? (enum phys_owner)own[f] : PHYS_OWNER_NONE;
		enum phys_owner got = phys_owner_of(f << 12);
		if (got != want) {
			bad(when, f, (uint64_t)got << 8 | want);
			break;
		}
		if (st[f] == S_HELD)
			cnt[own[f]]++, held++;
	}
	struct phys_stats s;
	phys_get_stats(&s);
	if (s.mdl_pages != cnt[PHYS_OWNER_MDL] || s.pool_slab_pages != cnt[PHYS_OWNER_POOL_SLAB] ||
	    s.pool_large_pages != cnt[PHYS_OWNER_POOL_LARGE] || s.allocated_pages != held)
		bad("per-owner statistics disagree with the model", s.mdl_pages << 32 | s.pool_slab_pages,
		    s.pool_large_pages << 32 | s.allocated_pages);
	if (s.highest_pfn != TOP)
		bad("highest_pfn", s.highest_pfn, TOP);
	if (phys_check() != 0)
		bad("phys_check", 0, 0);
}

/* A count: 1, powers of two and their neighbours (word edges), or anything up to 200. */
static uint64_t gen_count(void)
{
	static const uint64_t edge[] = { 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129 };
	return below(3) ? edge[below(ARRAY_SIZE(edge))] : 1 + below(200);
}

/* True when the model has a free run of n frames in [lo, hi) starting on a multiple of align. */
static bool model_has_run(uint64_t n, uint64_t align, uint64_t lo, uint64_t hi)
{
	for (uint64_t s = ALIGN_UP(lo, align); s + n <= hi && s + n <= WIN; s += align) {
		uint64_t k = 0;
		while (k < n && st[s + k] == S_FREE)
			k++;
		if (k == n)
			return true;
	}
	return false;
}

static void step_alloc(void)
{
	uint64_t n = gen_count(), align = below(3) ? 1 : 1ULL << below(7);
	enum phys_owner o = (enum phys_owner)below(PHYS_OWNER_NONE);
	uint64_t lo = 0, hi = UINT64_MAX;
	if (below(3) == 0) {   /* the last frames: near highest_pfn */
		lo = (TOP - n - below(80)) << 12;
		hi = below(2) ? UINT64_MAX : TOP << 12;
	} else if (below(3) == 0) {
		lo = below(TOP) << 12;
		hi = lo + ((n + below(300)) << 12);
	}
	paddr_t pa = phys_alloc_owned(n, align, lo, hi, o);
	uint64_t lf = lo >> 12, hf = MIN(hi >> 12, (uint64_t)WIN);
	if (!pa) {
		if (model_has_run(n, align, lf, hf))
			bad("allocation refused with a free run in bounds", n, lo);
		return;
	}
	uint64_t f = pa >> 12;
	if (f < lf || f + n > hf || f % align)
		bad("allocation out of bounds or misaligned", f, n);
	for (uint64_t k = 0; k < n && f + k < WIN; k++) {
		if (st[f + k] != S_FREE)
			bad("handed out a frame the model says is not free", f + k, st[f + k]);
		st[f + k] = S_HELD, own[f + k] = (uint8_t)o;
	}
}

/* A random held frame, or WIN when none is found quickly. */
static uint64_t some_held(void)
{
	for (unsigned t = 0; t < 64; t++) {
		uint64_t f = below(WIN);
		if (st[f] == S_HELD)
			return f;
	}
	for (uint64_t f = below(WIN), k = 0; k < WIN; k++, f = (f + 1) % WIN)
		if (st[f] == S_HELD)
			return f;
	return WIN;
}

/* The maximal run [*a, *b) of held frames around a random held frame; false when none is found. */
static bool some_held_run(uint64_t *a, uint64_t *b)
{
	uint64_t f = some_held();
	if (f == WIN)
		return false;
	*a = f, *b = f + 1;
	while (*a > 0 && st[*a - 1] == S_HELD)
		(*a)--;
	while (*b < WIN && st[*b] == S_HELD)
		(*b)++;
	return true;
}

/* Frees part of the run of held frames around a held frame (any owners, several allocations). */
static void step_free(void)
{
	uint64_t a, b;
	if (!some_held_run(&a, &b))
		return;
	uint64_t s = a + below(b - a), e = s + 1 + below(b - s);
	uint64_t c0 = bugcheck_last.count;
	phys_free(s << 12, e - s);
	if (bugcheck_last.count != c0)
		bad("a free of held frames bug-checked", s, e - s);
	for (uint64_t k = s; k < e; k++)
		st[k] = S_FREE, own[k] = PHYS_OWNER_KERNEL;
}

/* A free over held frames and one free frame: bug check 0x1A, nothing changed (owners included). */
static void step_misfree(void)
{
	uint64_t a, b;
	if (!some_held_run(&a, &b))
		return;
	if (b >= WIN || st[b] != S_FREE)
		return;
	uint64_t s = a + below(b - a);
	uint64_t c0 = bugcheck_last.count;
	phys_free(s << 12, b + 1 - s);
	if (!(bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
	      bugcheck_last.p[0] == PHYS_BUGCHECK_BAD_FREE && bugcheck_last.p[3] == b << 12))
		bad("a free reaching a free frame: not the 0x1A naming it", s, b);
}

/* The index phys.h's priority names for list l, or n when the list is good. */
static uint64_t expect_bad(const uint64_t *l, uint64_t n, enum phys_owner o)
{
	for (uint64_t i = 0; i < n; i++)
		if (l[i] >= WIN || (st[l[i]] == S_OFF && !(loader_gone && is_loader(l[i]))))
			return i;
	for (uint64_t i = 0; i < n; i++)
		if (st[l[i]] != S_HELD || own[l[i]] != o)
			return i;
	for (uint64_t j = 1; j < n; j++)
		for (uint64_t i = 0; i < j; i++)
			if (l[i] == l[j])
				return j;
	return n;
}

static uint64_t list[MAXL], listed_owner[PHYS_OWNER_NONE];
static unsigned refused[3];   /* list frees refused: unmanaged, free or foreign, repeat */

/* Which of phys.h's three kinds of fault entry i of l is (0 unmanaged, 1 free or foreign, 2 repeat). */
static unsigned fault_kind(const uint64_t *l, uint64_t i, enum phys_owner o)
{
	if (l[i] >= WIN || st[l[i]] == S_OFF)
		return 0;
	return st[l[i]] != S_HELD || own[l[i]] != o ? 1 : 2;
}

/* A list of held frames of one owner (whole allocations' runs, in a shuffled order), with a fault
 * injected in about half of them. */
static void step_list(void)
{
	enum phys_owner o = (enum phys_owner)below(PHYS_OWNER_NONE);
	uint64_t n = 0, want = 1 + below(150);
	for (uint64_t f = below(WIN), k = 0; k < WIN && n < want; k++, f = (f + 1) % WIN)
		if (st[f] == S_HELD && own[f] == o && below(3))
			list[n++] = f;
	if (n == 0)
		return;
	for (uint64_t i = n - 1; i > 0; i--) {   /* shuffle whole runs only sometimes */
		if (below(2))
			continue;
		uint64_t j = below(i + 1), t = list[i];
		list[i] = list[j], list[j] = t;
	}
	for (unsigned faults = below(2) ? 1 + (unsigned)below(3) : 0; faults; faults--) {
		uint64_t at = below(n + 1);
		if (at == n && n < MAXL)
			n++;
		else if (at == n)
			at = n - 1;
		switch (below(6)) {
		case 0: list[at] = below(2) ? 0x800 + below(0x21) : TOP + below(60); break;   /* a hole, past the top */
		case 1: { uint64_t f = below(WIN); while (st[f] != S_FREE) f = (f + 1) % WIN; list[at] = f; break; }
		case 2: { uint64_t f = some_held(); list[at] = f == WIN ? 0 : f; break; }       /* maybe foreign */
		case 3: list[at] = list[below(n)]; break;                                        /* maybe a repeat */
		case 4: list[at] = at ? list[at - 1] + 1 : list[at]; break;   /* a run one longer: free, foreign, ... */
		default: list[at] = is_loader(TOP - 1) ? TOP - 1 - below(LOADER_TOP) : 0; break;
		}
	}
	uint64_t exp = expect_bad(list, n, o), got = UINT64_MAX;
	bool freed = phys_free_frames(list, n, o, &got);
	if (freed != (exp == n) || (!freed && got != exp)) {
		bad("phys_free_frames: outcome or index", exp, freed ? n : got);
		return;
	}
	listed_owner[o] += freed;
	if (!freed)
		refused[fault_kind(list, exp, o)]++;
	if (freed)
		for (uint64_t i = 0; i < n; i++)
			st[list[i]] = S_FREE, own[list[i]] = PHYS_OWNER_KERNEL;
}

static void run_round(unsigned round, bool verifier)
{
	mm_verifier_set(verifier);
	owner_machine();
	for (unsigned i = 0; i < 700; i++) {
		switch (below(8)) {
		case 0: case 1: case 2: step_alloc(); break;
		case 3: case 4: step_free(); break;
		case 5: step_misfree(); break;
		default: step_list(); break;
		}
		if (i == 300 + round * 17) {
			phys_release_loader();
			loader_gone = true;
			for (uint64_t f = TOP - LOADER_TOP; f < TOP; f++)
				st[f] = S_FREE;
		}
		if (i % 7 == 0 || verifier)
			compare("phys_owner_of disagrees with the model (frame, got << 8 | want)");
	}
	compare("at the end");
	mm_verifier_set(false);
}

static void test_owner_model(void)
{
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned r = 0; r < 8; r++)
		run_round(r, r % 2);
	bugcheck_set_hook(NULL);
	ok(wrong == 0 && listed_owner[PHYS_OWNER_MDL] > 10 && listed_owner[PHYS_OWNER_KERNEL] > 10 &&
	   listed_owner[PHYS_OWNER_POOL_LARGE] > 10 && refused[0] > 50 && refused[1] > 50 && refused[2] > 20,
	   "8 rounds of generated allocations of every owner near 32-frame words and the top frame, partial "
	   "frees across allocations, refused frees and list frees (%llu MDL, %llu slab, %llu large, %llu kernel lists "
	   "freed; refused %u unmanaged, %u free or foreign, %u repeats): owners and counts as the model (%u wrong)",
	   (unsigned long long)listed_owner[PHYS_OWNER_MDL], (unsigned long long)listed_owner[PHYS_OWNER_POOL_SLAB],
	   (unsigned long long)listed_owner[PHYS_OWNER_POOL_LARGE], (unsigned long long)listed_owner[PHYS_OWNER_KERNEL],
	   refused[0], refused[1], refused[2], wrong);
}

/* ---------------------------------------------------------------- MDL allocations */

#define MAXM 12

/* Owner of every frame mdl lists is PHYS_OWNER_MDL; the MDL structure's own page the pool's. */
static bool mdl_frames_owned(PMDL mdl)
{
	PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
	for (uint64_t i = 0; i < mdl->ByteCount / PAGE_SIZE; i++)
		if (phys_owner_of(pfn[i] << 12) != PHYS_OWNER_MDL)
			return false;
	enum phys_owner self = phys_owner_of((uintptr_t)mdl - (uintptr_t)arch_phys_to_virt(0));
	return self == PHYS_OWNER_POOL_SLAB || self == PHYS_OWNER_POOL_LARGE;
}

/*
 * MmAllocatePagesForMdlEx over every combination of PREFER_CONTIGUOUS, REQUIRE_CONTIGUOUS_CHUNKS,
 * FAST_LARGE_PAGES, FULLY_REQUIRED and DONT_ZERO, Skip 0, 4 KiB, 64 KiB or 2 MiB, generated sizes
 * and windows, on the owner machine: every frame of an MDL returned reads PHYS_OWNER_MDL and the
 * MDL statistic grows by its pages exactly (a refusal changes it not at all); MmFreePagesFromMdl of
 * MDLs kept live in a random order gives exactly their frames back (free, the statistic down by
 * their pages); a hand-built list naming the MDL structure's own pool page, or a frame of the
 * kernel's, is refused with 0x1A 0x4D440003 naming it, nothing changed.
 */
static void test_mdl_flags(void)
{
	static const uint64_t skips[] = { 0, PAGE_SIZE, 16 * PAGE_SIZE, 2ULL << 20 };
	owner_machine();
	pool_reset();
	bugcheck_set_hook(bugcheck_record_hook);
	PMDL live[MAXM];
	unsigned nlive = 0, got = 0, refused = 0, freed = 0, foreign = 0, bad = 0;
	for (unsigned t = 0; t < 600; t++) {
		ULONG flags = (ULONG)below(32);
		ULONG f = (flags & 1 ? MM_ALLOCATE_PREFER_CONTIGUOUS : 0) | (flags & 2 ? MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS : 0) |
			  (flags & 4 ? MM_ALLOCATE_FAST_LARGE_PAGES : 0) | (flags & 8 ? MM_ALLOCATE_FULLY_REQUIRED : 0) |
			  (flags & 16 ? MM_DONT_ZERO_ALLOCATION : 0);
		uint64_t skip = skips[below(ARRAY_SIZE(skips))];
		SIZE_T bytes = below(3) ? (1 + below(64)) * PAGE_SIZE - below(100) : (1 + below(3)) * (2ULL << 20);
		if ((f & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) && skip && below(2))
			bytes = ALIGN_UP(bytes, skip);
		PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, sk = { .QuadPart = (LONGLONG)skip };
		if (below(3) == 0) {
			lo.QuadPart = (LONGLONG)(below(TOP) << 12);
			hi.QuadPart = lo.QuadPart + (LONGLONG)((1 + below(0x800)) << 12) - 1;
		}
		struct phys_stats s0, s1;
		phys_get_stats(&s0);
		PMDL m = MmAllocatePagesForMdlEx(lo, hi, sk, bytes, MmCached, f);
		phys_get_stats(&s1);
		if (!m) {
			refused++;
			if (s1.mdl_pages != s0.mdl_pages && bad++ < 4)
				printf("# a refused allocation (flags 0x%x) changed the MDL pages\n", (unsigned)f);
			continue;
		}
		got++;
		uint64_t pages = m->ByteCount / PAGE_SIZE;
		if ((s1.mdl_pages != s0.mdl_pages + pages || !mdl_frames_owned(m)) && bad++ < 4)
			printf("# flags 0x%x, skip 0x%llx: %llu pages, MDL pages %llu -> %llu, or a frame not the MDL's\n",
			       (unsigned)f, (unsigned long long)skip, (unsigned long long)pages,
			       (unsigned long long)s0.mdl_pages, (unsigned long long)s1.mdl_pages);
		if (below(4) == 0) {   /* its own pool page, or a kernel page, put in its list: refused */
			PPFN_NUMBER pfn = MmGetMdlPfnArray(m);
			uint64_t at = below(pages), keep = pfn[at];
			paddr_t kpage = phys_alloc(1, 0, UINT64_MAX);
			pfn[at] = below(2) && kpage ? kpage >> 12 : ((uintptr_t)m - (uintptr_t)arch_phys_to_virt(0)) >> 12;
			uint64_t c0 = bugcheck_last.count, want = pfn[at];
			MmFreePagesFromMdl(m);
			struct phys_stats s2;
			phys_get_stats(&s2);
			if (!(bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			      bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_PAGE && bugcheck_last.p[2] == want &&
			      bugcheck_last.p[3] == at && s2.mdl_pages == s1.mdl_pages && m->ByteCount == pages * PAGE_SIZE) &&
			    bad++ < 4)
				printf("# a foreign frame 0x%llx at %llu: not refused as 0x4D440003\n", (unsigned long long)want,
				       (unsigned long long)at);
			pfn[at] = keep;
			if (kpage)
				phys_free(kpage, 1);
			foreign++;
		}
		if (nlive == MAXM || below(3) == 0) {
			unsigned k = nlive == MAXM || below(2) ? (unsigned)below(nlive + (nlive < MAXM)) : nlive;
			PMDL victim = k < nlive ? live[k] : m;
			if (k < nlive)
				live[k] = m;
			else if (victim != m)
				live[nlive++] = m;
			uint64_t vp = victim->ByteCount / PAGE_SIZE;
			PPFN_NUMBER pfn = MmGetMdlPfnArray(victim);
			struct phys_stats s2, s3;
			phys_get_stats(&s2);
			uint64_t c0 = bugcheck_last.count;
			MmFreePagesFromMdl(victim);
			phys_get_stats(&s3);
			bool good = bugcheck_last.count == c0 && s3.mdl_pages == s2.mdl_pages - vp && victim->ByteCount == 0;
			for (uint64_t i = 0; i < vp; i++)
				good &= phys_is_free(pfn[i] << 12, 1) && phys_owner_of(pfn[i] << 12) == PHYS_OWNER_NONE;
			if (!good && bad++ < 4)
				printf("# MmFreePagesFromMdl of %llu pages: not all freed\n", (unsigned long long)vp);
			ExFreePool(victim);
			freed++;
		} else {
			live[nlive++] = m;
		}
		if (phys_check() != 0 && bad++ < 4)
			printf("# phys_check after step %u\n", t);
	}
	while (nlive) {
		MmFreePagesFromMdl(live[--nlive]);
		ExFreePool(live[nlive]);
	}
	struct phys_stats end;
	phys_get_stats(&end);
	bugcheck_set_hook(NULL);
	ok(bad == 0 && end.mdl_pages == 0 && got > 200 && refused > 20 && foreign > 30 && freed > 100,
	   "%u MDLs of every flag combination (%u refused): frames owned by MDLs, counted exactly; %u freed; %u lists "
	   "naming a pool or kernel page refused with it named (%u wrong)", got, refused, freed, foreign, bad);
}

/*
 * phys_free of one range over neighbouring allocations of different owners (what phys.h allows:
 * any frames handed out, whatever they were handed out for): each frame back to the kernel's, each
 * owner's count down by exactly its frames. Generated: 2 to 5 allocations of 1 to 40 frames each,
 * placed side by side at a random frame (across 32-frame words of the map), random owners.
 */
static void test_free_across_owners(void)
{
	unsigned cases = 0, fails = 0;
	for (unsigned c = 0; c < 200; c++) {
		owner_machine();
		uint64_t at = 0x900 + below(0x400), f = at;
		unsigned k = 2 + (unsigned)below(4);
		uint64_t per[PHYS_OWNER_NONE] = { 0 };
		bool placed = true;
		for (unsigned j = 0; j < k && placed; j++) {
			uint64_t n = 1 + below(40);
			enum phys_owner o = (enum phys_owner)below(PHYS_OWNER_NONE);
			placed = phys_alloc_owned(n, 1, f << 12, (f + n) << 12, o) == f << 12;
			per[o] += n;
			f += n;
		}
		struct phys_stats a, b;
		phys_get_stats(&a);
		bool good = placed;
		if (placed) {
			phys_free(at << 12, f - at);
			phys_get_stats(&b);
			good = b.mdl_pages + per[PHYS_OWNER_MDL] == a.mdl_pages &&
			       b.pool_slab_pages + per[PHYS_OWNER_POOL_SLAB] == a.pool_slab_pages &&
			       b.pool_large_pages + per[PHYS_OWNER_POOL_LARGE] == a.pool_large_pages && phys_check() == 0;
			for (uint64_t g = at; good && g < f; g++)
				good = phys_owner_of(g << 12) == PHYS_OWNER_NONE;
		}
		cases++;
		if (!good && fails++ < 3)
			printf("# %u allocations from frame 0x%llx to 0x%llx: placed %d, counts or owners wrong after the free\n",
			       k, (unsigned long long)at, (unsigned long long)f, placed);
	}
	ok(fails == 0, "%u frees of one range over 2..5 neighbouring allocations of random owners: every owner's count "
	   "down by its frames, every frame free", cases);
}

int main(void)
{
	fake_arch_init();
	test_owner_model();
	test_mdl_flags();
	test_free_across_owners();
	return tap_done();
}
