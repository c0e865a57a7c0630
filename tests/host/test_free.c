/*
 * Host test of every path that hands memory back, with generated misuse:
 *  - phys_free: double, overlapping, unmanaged (holes, frame 0, past RAM), metadata and held-back
 *    loader frames, unaligned addresses, empty and absurd counts, next to valid frees of whole
 *    allocations and of their parts;
 *  - frame lists through MmFreePagesFromMdl: MDLs from MmAllocatePagesForMdlEx, shuffled (valid)
 *    or with an entry replaced by a repeated, free or unmanaged frame;
 *  - the pool: double frees of small and large blocks (at once and long after), addresses inside
 *    blocks, wrong tags, NULL, memory the pool does not hold, free memory.
 * A per-frame model of the machine (its memory map, the test's own allocations) predicts each
 * outcome: success, or the bug check with its parameters, after which the allocators' state must
 * be exactly as before (statistics, census, check(), the frames or MDL involved). Where the pool
 * has reused a page for something the test cannot see (an empty slab it keeps), the two outcomes
 * the README allows for that page are accepted. Choices come from a seeded xorshift generator.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "arch_mm.h"
#include "wdm.h"
#include "phys.h"
#include "pool.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"

#define NF 12288                              /* frames of the window the map covers: 48 MiB */
#define LOADER_START (33ULL << 8)             /* loader data: frames [33 MiB, 34 MiB) */
#define LOADER_PAGES 256
#define MAXA 4096

enum frame { F_NONE, F_META, F_LOADER, F_FREE, F_MINE };   /* F_MINE: the test's phys_alloc */

static struct machine_map map;
static uint8_t fr[NF + 1];                    /* enum frame of each frame of the window (+1: past) */
static bool loader_released;
static uint64_t rng = 88172645463325252ULL;
static long failures;

static uint64_t below(uint64_t n)
{
	uint64_t x = test_rng_next(&rng);
	return n ? x % n : 0;
}

/* Counts a failure; prints the first few. */
static void fail(const char *what, uint64_t a, uint64_t b)
{
	if (failures++ < 8)
		printf("# %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
}

/* True when the last call raised exactly one bug check code/p1 (count before: c0). */
static bool fired(uint64_t c0, uint32_t code, uint64_t p1)
{
	return bugcheck_last.count == c0 + 1 && bugcheck_last.code == code && bugcheck_last.p[0] == p1;
}

/* ------------------------------------------------------------------ state snapshots */

struct snap {
	struct phys_stats phys;
	uint64_t census[BUDDY_ORDERS];
	struct pool_stats pool;
};

static void take(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	phys_get_stats(&s->phys);
	phys_census(s->census);
	pool_get_stats(&s->pool);
}

/* True when nothing changed since s and both allocators pass their checks. */
static bool same(const struct snap *s)
{
	struct snap t;
	take(&t);
	return memcmp(&s->phys, &t.phys, sizeof(t.phys)) == 0 && memcmp(s->census, t.census, sizeof(t.census)) == 0 &&
	       memcmp(&s->pool, &t.pool, sizeof(t.pool)) == 0 && phys_check() == 0 && pool_check() == 0;
}

/* ------------------------------------------------------------------ the machine */

/* Builds the map and the model: RAM with a reserved hole below 1 MiB, an ACPI NVS hole, loader data
 * held back until released, frame 0 and the allocator's metadata never handed out. */
static void machine_init(void)
{
	machine_map_init(&map, 48);
	machine_map_add(&map, EFI_CONVENTIONAL, 0, 160, 0);
	machine_map_add(&map, EFI_RESERVED, 0xA0000, 96, 0);
	machine_map_add(&map, EFI_CONVENTIONAL, 1ULL << 20, 4096, 0);
	machine_map_add(&map, EFI_ACPI_NVS, 17ULL << 20, 16, 0);
	machine_map_add(&map, EFI_CONVENTIONAL, (17ULL << 20) + 0x10000, 4096 - 16, 0);
	machine_map_add(&map, EFI_LOADER_DATA, LOADER_START << 12, LOADER_PAGES, 0);
	machine_map_add(&map, EFI_CONVENTIONAL, 34ULL << 20, NF - (34 << 8), 0);
	is(phys_init(map.buf, machine_map_size(&map), map.desc_size), 0, "machine: 48 MiB with holes and loader data");
	uint64_t meta = 0;
	for (uint64_t f = 0; f <= NF; f++) {
		bool ram = f && f < NF && (f < 160 || f >= 256) && !(f >= (17 << 8) && f < (17 << 8) + 16);
		bool loader = f >= LOADER_START && f < LOADER_START + LOADER_PAGES;
		fr[f] = !ram ? F_NONE : loader ? F_LOADER : phys_is_free(f << 12, 1) ? F_FREE : F_META;
		meta += fr[f] == F_META;
	}
	struct phys_stats st;
	phys_get_stats(&st);
	ok(meta == st.meta_pages && st.free_pages + meta + LOADER_PAGES == st.usable_pages,
	   "model: %llu metadata frames, %llu free", (unsigned long long)meta, (unsigned long long)st.free_pages);
}

/* True when frame f may be held by the allocator (phys.h): RAM, not metadata, not held-back loader. */
static bool usable(uint64_t f)
{
	return f < NF && (fr[f] == F_FREE || fr[f] == F_MINE || (fr[f] == F_LOADER && loader_released));
}

static bool model_free(uint64_t f)
{
	return f < NF && (fr[f] == F_FREE || (fr[f] == F_LOADER && loader_released));
}

/* ------------------------------------------------------------------ phys_free */

static struct { uint64_t f, n; } mine[MAXA];
static size_t nmine;

static void mine_alloc(void)
{
	uint64_t n = below(3) ? (uint64_t)1 << below(6) : 1 + below(40);
	paddr_t pa = phys_alloc(n, 0, UINT64_MAX);
	if (!pa || nmine == MAXA) {
		if (pa)
			phys_free(pa, n);
		return;
	}
	for (uint64_t f = pa >> 12; f < (pa >> 12) + n; f++) {
		if (!model_free(f))
			fail("phys_alloc handed out a frame the model says is not free", f, fr[f]);
		fr[f] = F_MINE;
	}
	mine[nmine].f = pa >> 12;
	mine[nmine++].n = n;
}

/* Frees allocation k whole, or its front part (the rest stays recorded). */
static void mine_free(size_t k)
{
	uint64_t n = below(3) ? mine[k].n : 1 + below(mine[k].n), c0 = bugcheck_last.count;
	phys_free(mine[k].f << 12, n);
	if (bugcheck_last.count != c0)
		fail("valid phys_free bug-checked", mine[k].f, n);
	for (uint64_t f = mine[k].f; f < mine[k].f + n; f++)
		fr[f] = f >= LOADER_START && f < LOADER_START + LOADER_PAGES ? F_LOADER : F_FREE;
	mine[k].f += n;
	mine[k].n -= n;
	if (!mine[k].n)
		mine[k] = mine[--nmine];
}

/* A generated misuse of phys_free: the model's verdict, the bug check, nothing changed. Returns
 * false when the generated range happened to be a valid free (not made). */
static bool phys_misuse(void)
{
	uint64_t f, n;
	switch (below(6)) {
	case 0:   /* an allocation stretched or shifted into its neighbours */
		if (nmine) {
			size_t k = below(nmine);
			f = mine[k].f - below(MIN(mine[k].f, 3) + 1);
			n = mine[k].n + below(4);
			break;
		}
		/* fall through */
	case 1:   /* a double free: free frames, usually just freed */
		f = below(NF);
		for (int t = 0; t < 16 && !model_free(f); t++)
			f = below(NF);
		n = 1 + below(8);
		break;
	case 2:   /* holes, frame 0, metadata, loader data, the end of RAM */
		switch (below(5)) {
		case 0: f = 160 + below(96); break;
		case 1: f = (17 << 8) + below(16); break;
		case 2: f = below(2); break;
		case 3: f = LOADER_START + below(LOADER_PAGES); break;
		default: f = NF - below(4); break;
		}
		n = 1 + below(4);
		break;
	case 3:   /* absurd numbers */
		f = below(2) ? rng >> 12 : below(NF);
		n = below(2) ? rng : below(3);
		break;
	default:  /* anywhere */
		f = below(NF + 8);
		n = 1 + below(64);
		break;
	}
	paddr_t pa = f << 12 | (below(16) == 0 ? 1 + below(4095) : 0);
	uint64_t want = UINT64_MAX, first_free = UINT64_MAX;
	if ((pa & 4095) || n == 0 || f >= NF) {
		want = pa;
	} else {
		for (uint64_t g = f; g - f < n && want == UINT64_MAX; g++)
			if (!usable(g))
				want = g << 12;
			else if (model_free(g) && first_free == UINT64_MAX)
				first_free = g << 12;
		if (want == UINT64_MAX)
			want = first_free;
	}
	if (want == UINT64_MAX)
		return false;
	struct snap s;
	take(&s);
	uint64_t c0 = bugcheck_last.count;
	phys_free(pa, n);
	if (!fired(c0, BUGCHECK_MEMORY_MANAGEMENT, PHYS_BUGCHECK_BAD_FREE))
		fail("misused phys_free not bug-checked 0x1A/PHYS_BUGCHECK_BAD_FREE", pa, n);
	else if (bugcheck_last.p[1] != pa || bugcheck_last.p[2] != n || bugcheck_last.p[3] != want)
		fail("phys_free bug check names another frame", bugcheck_last.p[3], want);
	if (!same(&s))
		fail("refused phys_free changed state", pa, n);
	for (uint64_t g = f; g < NF && g - f < MIN(n, 64); g++)
		if (phys_is_free(g << 12, 1) != model_free(g))
			fail("refused phys_free changed a frame", g, fr[g]);
	return true;
}

static void test_phys_free(void)
{
	long misuses = 0, frees = 0;
	failures = 0;
	for (long op = 0; op < 30000; op++) {
		uint64_t r = below(100);
		if (op == 15000) {
			struct snap s;
			phys_release_loader();
			loader_released = true;
			take(&s);
			phys_release_loader();   /* the hand-over happens once: a second call finds nothing */
			ok(same(&s), "a second loader hand-over changes nothing");
		}
		if (r < 35)
			mine_alloc();
		else if (r < 60 && nmine)
			mine_free(below(nmine)), frees++;
		else
			misuses += phys_misuse();
	}
	while (nmine)
		mine_free(0), frees++;
	for (uint64_t f = 0; f < NF; f++)
		if (phys_is_free(f << 12, 1) != model_free(f))
			fail("frame state differs from the model at the end", f, fr[f]);
	ok(failures == 0 && misuses > 5000, "phys_free: %ld generated misuses bug-checked with the predicted frame and "
	   "nothing changed, %ld valid frees", misuses, frees);
	is(phys_check(), 0, "phys_check after the misuses");
}

/* ------------------------------------------------------------------ MmFreePagesFromMdl */

#define MAXM 16

static uint64_t foreign[4];   /* frames handed out for another owner than MDLs (test_mdl_lists) */

/* A frame for a fault of kind k: a repeat of entry j, a free frame, another owner's (a pool page, a
 * kernel allocation's), or one the allocator never holds. */
static uint64_t fault_frame(const PFN_NUMBER *pfn, uint64_t n, unsigned k)
{
	uint64_t f;
	switch (k) {
	case 0:
		return pfn[below(n)];
	case 3:
		return foreign[below(4)];
	case 1:
		f = below(NF);
		for (int t = 0; t < 64 && !phys_is_free(f << 12, 1); t++)
			f = below(NF);
		return f;
	default:
		switch (below(5)) {
		case 0: return 0;
		case 1: return 160 + below(96);
		case 2: return (17 << 8) + below(16);
		case 3: for (f = 1; f < NF && fr[f] != F_META; f++) {} return f;
		default: return below(2) ? NF + below(1000) : rng;
		}
	}
}

/* True when frame v was handed out for an MDL: it is listed by a live MDL other than live[me], or
 * in mine[0, n), what live[me] listed before the fault. */
static bool mdl_owned(PMDL *live, unsigned me, const PFN_NUMBER *mine, uint64_t n, uint64_t v)
{
	for (uint64_t q = 0; q < n; q++)
		if (mine[q] == v)
			return true;
	for (unsigned i = 0; i < MAXM; i++)
		for (uint64_t q = 0; i != me && live[i] && q < live[i]->ByteCount >> PAGE_SHIFT; q++)
			if (MmGetMdlPfnArray(live[i])[q] == v)
				return true;
	return false;
}

static void test_mdl_lists(void)
{
	PMDL live[MAXM] = { 0 };
	long refused = 0, freed = 0, foreign_refused = 0;
	void *small = ExAllocatePoolWithTag(NonPagedPool, 100, POOL_TAG4('F', 'r', 'e', '0'));
	void *large = ExAllocatePoolWithTag(NonPagedPool, 2 * PAGE_SIZE, POOL_TAG4('F', 'r', 'e', '0'));
	paddr_t kern = phys_alloc(2, 0, UINT64_MAX);
	uintptr_t dmap = (uintptr_t)arch_phys_to_virt(0);   /* the direct map is linear (mm/pool.c) */
	foreign[0] = pa_to_pfn((uintptr_t)small - dmap);
	foreign[1] = pa_to_pfn((uintptr_t)large - dmap) + 1;
	foreign[2] = pa_to_pfn(kern);
	foreign[3] = pa_to_pfn(kern) + 1;
	PHYSICAL_ADDRESS z = { .QuadPart = 0 }, any = { .QuadPart = -1 };
	static const ULONG flags[] = { 0, MM_ALLOCATE_PREFER_CONTIGUOUS, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS };
	failures = 0;
	for (long op = 0; op < 6000; op++) {
		unsigned i = (unsigned)below(MAXM);
		if (!live[i]) {
			live[i] = MmAllocatePagesForMdlEx(z, any, z, (1 + below(48)) * PAGE_SIZE, MmCached,
							  flags[below(3)] | MM_DONT_ZERO_ALLOCATION);
			continue;
		}
		PMDL mdl = live[i];
		PFN_NUMBER *pfn = MmGetMdlPfnArray(mdl);
		uint64_t n = mdl->ByteCount >> PAGE_SHIFT;
		for (uint64_t q = n; q > 1 && below(2); q--) {   /* any order is valid */
			uint64_t j = below(q), t = pfn[q - 1];
			pfn[q - 1] = pfn[j];
			pfn[j] = t;
		}
		if (below(3)) {   /* a fault: one entry replaced, the model's verdict, nothing changed */
			static PFN_NUMBER copy[64];
			MDL hdr = *mdl;
			memcpy(copy, pfn, n * sizeof(*pfn));
			unsigned kind = (unsigned)below(4);
			uint64_t at = below(n), v = fault_frame(pfn, n, kind);
			pfn[at] = v;
			bool is_ours = false;   /* a frame of this MDL put at another index: a repeat */
			for (uint64_t q = 0; q < n; q++)
				is_ours |= q != at && pfn[q] == v;
			if (v < NF && usable(v) && !phys_is_free(v << 12, 1) && !is_ours && mdl_owned(live, i, copy, n, v)) {
				memcpy(pfn, copy, n * sizeof(*pfn));   /* another MDL's frame: a valid free */
				continue;
			}
			/* the first unusable entry, else the first free or not an MDL's, else a repeat */
			uint64_t want = n;
			for (uint64_t q = 0; q < n && want == n; q++)
				if (!usable(pfn[q]))
					want = q;
			for (uint64_t q = 0; q < n && want == n; q++)
				if (phys_is_free(pfn[q] << 12, 1) || !mdl_owned(live, i, copy, n, pfn[q]))
					want = q;
			for (uint64_t q = 0; q < n && want == n; q++)
				for (uint64_t r = 0; r < q && want == n; r++)
					if (pfn[r] == pfn[q])
						want = q;
			foreign_refused += kind == 3 && want == at;
			struct snap s;
			take(&s);
			static PFN_NUMBER faulty[64];
			memcpy(faulty, pfn, n * sizeof(*pfn));
			uint64_t c0 = bugcheck_last.count;
			MmFreePagesFromMdl(mdl);
			if (want == n || !fired(c0, BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_PAGE))
				fail("faulty frame list not bug-checked 0x1A/0x4D440003", want, n);
			else if (bugcheck_last.p[1] != (uintptr_t)mdl || bugcheck_last.p[2] != pfn[want] || bugcheck_last.p[3] != want)
				fail("frame list bug check names another entry", bugcheck_last.p[3], want);
			if (!same(&s) || memcmp(&hdr, mdl, sizeof(hdr)) || memcmp(faulty, pfn, n * sizeof(*pfn)))
				fail("refused frame list changed state", want, n);
			memcpy(pfn, copy, n * sizeof(*pfn));
			refused++;
			continue;
		}
		uint64_t c0 = bugcheck_last.count;
		MmFreePagesFromMdl(mdl);
		if (bugcheck_last.count != c0 || mdl->ByteCount != 0)
			fail("valid MmFreePagesFromMdl refused", bugcheck_last.p[3], n);
		ExFreePool(mdl);
		live[i] = NULL;
		freed++;
	}
	for (unsigned i = 0; i < MAXM; i++)
		if (live[i]) {
			MmFreePagesFromMdl(live[i]);
			ExFreePool(live[i]);
		}
	bool kept = pool_block_info(small, NULL, NULL) && pool_block_info(large, NULL, NULL) && phys_is_allocated(kern, 2);
	ExFreePool(small);
	ExFreePool(large);
	phys_free(kern, 2);
	ok(failures == 0 && refused > 1000 && freed > 500 && foreign_refused > 200 && kept,
	   "MmFreePagesFromMdl: %ld faulty frame lists refused whole with the predicted entry (%ld at a pool or "
	   "kernel frame), %ld shuffled lists freed", refused, foreign_refused, freed);
}

/* ------------------------------------------------------------------ the pool */

struct blk { uint8_t *p; size_t n; uint32_t tag; };
#define MAXB 512
static struct blk blks[MAXB], gone[MAXB];    /* live blocks; blocks freed (a ring) */
static size_t nblks, ngone;
static const uint32_t tags[] = { POOL_TAG4('F', 'r', 'e', '1'), POOL_TAG4('F', 'r', 'e', '2'), POOL_TAG4('F', 'r', 'e', '3') };
static paddr_t held[8];                      /* pages the test holds through phys_alloc */

static bool is_large(const struct blk *b) { return b->n > POOL_SMALL_MAX; }

/* Bytes a block spans for "inside": its data for a small block, its pages for a large one. */
static size_t span(const struct blk *b) { return is_large(b) ? ALIGN_UP(b->n, PAGE_SIZE) : b->n; }

/* The live block containing v (at its start when *start), or NULL. */
static struct blk *live_at(uintptr_t v, bool *start)
{
	for (size_t i = 0; i < nblks; i++)
		if (v >= (uintptr_t)blks[i].p && v - (uintptr_t)blks[i].p < span(&blks[i])) {
			*start = v == (uintptr_t)blks[i].p;
			return &blks[i];
		}
	return NULL;
}

static bool held_page(uintptr_t v)
{
	for (unsigned i = 0; i < 8; i++)
		if (held[i] && (v >> PAGE_SHIFT) == ((uintptr_t)arch_phys_to_virt(held[i]) >> PAGE_SHIFT))
			return true;
	return false;
}

/* Frees v with tag (0: ExFreePool) expecting BAD_POOL_CALLER p1 (or either of p1, alt when alt is
 * not 0); p2_exact: P2 must be v (0x42, 0x46) or 0 (0x07). Nothing may change. */
static void pool_expect(void *v, uint32_t tag, uint64_t p1, uint64_t alt)
{
	struct snap s;
	take(&s);
	uint64_t c0 = bugcheck_last.count;
	if (tag)
		ExFreePoolWithTag(v, tag);
	else
		ExFreePool(v);
	bool got = fired(c0, BUGCHECK_BAD_POOL_CALLER, p1) || (alt && fired(c0, BUGCHECK_BAD_POOL_CALLER, alt));
	if (!got)
		fail("pool misuse: wrong or missing bug check", (uintptr_t)v, bugcheck_last.count != c0 ? bugcheck_last.p[0] : ~0ULL);
	else if (bugcheck_last.p[0] == POOL_BUGCHECK_DOUBLE_FREE ? bugcheck_last.p[1] != 0 || bugcheck_last.p[3] != (uintptr_t)v
		 : bugcheck_last.p[0] != POOL_BUGCHECK_WRONG_TAG && bugcheck_last.p[1] != (uintptr_t)v)
		fail("pool misuse: parameters do not name the address", (uintptr_t)v, bugcheck_last.p[0]);
	if (!same(&s))
		fail("pool misuse changed state", (uintptr_t)v, p1);
}

/* The outcome the README gives a free of v, any address: 0x46 inside a live block, 0x07 in free
 * memory, 0x42 in a page the test holds, else a page the pool keeps for itself, where v may be a
 * free block's start (0x07) or not a caller's block start (0x46: inside a slab, its header, an
 * empty slab of another class, the pool's own large-block records). Skips v at a live block's start. */
static void pool_double(void *v)
{
	bool start = false;
	uintptr_t a = (uintptr_t)v;
	if (live_at(a, &start)) {
		if (!start)
			pool_expect(v, 0, POOL_BUGCHECK_BAD_ADDRESS, 0);
		return;
	}
	paddr_t pa = (uintptr_t)v - (uintptr_t)arch_phys_to_virt(0);
	if (phys_is_free(ALIGN_DOWN(pa, PAGE_SIZE), 1))
		pool_expect(v, 0, POOL_BUGCHECK_DOUBLE_FREE, 0);
	else if (held_page(a))
		pool_expect(v, 0, POOL_BUGCHECK_NOT_POOL, 0);
	else
		pool_expect(v, 0, POOL_BUGCHECK_DOUBLE_FREE, POOL_BUGCHECK_BAD_ADDRESS);
}

static void blk_free(size_t i, bool twice)
{
	struct blk b = blks[i];
	blks[i] = blks[--nblks];
	uint64_t c0 = bugcheck_last.count;
	ExFreePoolWithTag(b.p, b.tag);
	if (bugcheck_last.count != c0)
		fail("valid ExFreePoolWithTag bug-checked", (uintptr_t)b.p, bugcheck_last.p[0]);
	gone[ngone++ % MAXB] = b;
	if (twice)   /* at once: the header says free, or the pages went back: 0x07 either way */
		pool_expect(b.p, 0, POOL_BUGCHECK_DOUBLE_FREE, 0);
}

static void test_pool(void)
{
	long misuses = 0;
	int on_stack = 0;
	failures = 0;
	for (unsigned i = 0; i < 8; i++)
		held[i] = phys_alloc(1, 0, UINT64_MAX);
	for (long op = 0; op < 40000; op++) {
		uint64_t r = below(100);
		if (r < 35 && nblks < MAXB) {
			size_t n = below(3) ? 1 + below(POOL_SMALL_MAX) : POOL_SMALL_MAX + 1 + below(5 * PAGE_SIZE);
			uint32_t tag = tags[below(3)];
			void *p = ExAllocatePoolWithTag(NonPagedPool, n, tag);
			if (p)
				blks[nblks++] = (struct blk){ p, n, tag };
			continue;
		}
		if (r < 60 && nblks) {
			blk_free(below(nblks), below(4) == 0);
			continue;
		}
		misuses++;
		switch (below(7)) {
		case 0:   /* a late double free: the block's page may serve anything by now */
			if (ngone) {
				struct blk *g = &gone[below(MIN(ngone, MAXB))];
				pool_double(g->p);
				break;
			}
			/* fall through */
		case 1:   /* inside a live block */
			if (nblks) {
				struct blk *b = &blks[below(nblks)];
				if (span(b) > 1)
					pool_expect(b->p + 1 + below(span(b) - 1), 0, POOL_BUGCHECK_BAD_ADDRESS, 0);
				break;
			}
			/* fall through */
		case 2:   /* the wrong tag */
			if (nblks) {
				struct blk *b = &blks[below(nblks)];
				uint32_t t = b->tag == tags[0] ? tags[1] : tags[0];
				pool_expect(b->p, t, POOL_BUGCHECK_WRONG_TAG, 0);
				if (bugcheck_last.p[2] != b->tag || bugcheck_last.p[3] != t)
					fail("wrong tag: parameters", bugcheck_last.p[2], b->tag);
				break;
			}
			/* fall through */
		case 3:
			pool_expect(NULL, 0, POOL_BUGCHECK_BAD_ADDRESS, 0);
			break;
		case 4:   /* memory the pool does not hold */
			if (below(2))
				pool_expect(&on_stack, 0, POOL_BUGCHECK_NOT_POOL, 0);
			else
				pool_expect((uint8_t *)arch_phys_to_virt(held[below(8)]) + (below(2) ? 0 : 16 * below(256)), 0,
					    POOL_BUGCHECK_NOT_POOL, 0);
			break;
		default: { /* any address of the window: whatever the model says it is */
			uint64_t f = below(NF);
			if (!usable(f))
				break;
			uint8_t *v = (uint8_t *)arch_phys_to_virt(f << 12) + (below(2) ? 0 : 16 * below(256));
			pool_double(v);
			break;
		}
		}
	}
	while (nblks)
		blk_free(0, false);
	for (unsigned i = 0; i < 8; i++)
		phys_free(held[i], 1);
	ok(failures == 0 && misuses > 10000, "pool: %ld generated misuses (double, inside, wrong tag, NULL, not pool) "
	   "with the README's codes and nothing changed", misuses);
	pool_trim();
	is(pool_check(), 0, "pool_check after the misuses");
}

int main(void)
{
	fake_arch_init();
	bugcheck_set_hook(bugcheck_record_hook);
	machine_init();
	test_phys_free();
	struct snap s0;
	take(&s0);
	test_mdl_lists();
	test_pool();
	struct snap s1;
	pool_trim();
	take(&s1);
	ok(memcmp(&s0.phys, &s1.phys, sizeof(s1.phys)) == 0 && memcmp(s0.census, s1.census, sizeof(s1.census)) == 0,
	   "every frame back: statistics and census as before the MDL and pool tests");
	return tap_done();
}
