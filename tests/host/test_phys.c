/* Host tests of the physical allocator on hand-made memory maps. */
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "arch_mm.h"
#include "bootinfo.h"
#include "test_rng.h"
#include "capture.h"
#include "verifier.h"
#include "testhooks.h"
#include "bugcheck.h"
#include "bitset.h"

/* The allocator's metadata for frames [0, h): the buddy's block, 8-byte aligned, then the owner map
 * (2 bits a frame in whole words), then its marks (a bitset of a bit per owner word). */
static uint64_t meta_bytes(uint64_t h)
{
	uint64_t words = (h + 31) / 32;
	return ALIGN_UP(buddy_meta_bytes(h), 8) + words * 8 + bitset_meta_bytes(words);
}

static struct machine_map m;

/* Allocates single pages until failure, checking each is new, managed and inside [lo, hi). */
static uint64_t drain(paddr_t *pages, uint64_t max, const struct machine_map *map, bool *ok_all)
{
	uint64_t n = 0;
	*ok_all = true;
	paddr_t pa;
	while (n < max && (pa = phys_alloc(1, 0, UINT64_MAX)) != 0) {
		pages[n++] = pa;
		if (!phys_is_managed(pa))
			*ok_all = false;
		/* Never inside a non-usable descriptor. */
		for (size_t i = 0; i < map->n; i++) {
			const struct efi_memory_descriptor *d = efi_desc(map->buf, map->desc_size, i);
			bool usable = phys_type_usable_at_init(d->type, d->attribute) || phys_type_loader(d->type, d->attribute);
			if (!usable && pa >= d->phys_start && pa < d->phys_start + (d->num_pages << 12))
				*ok_all = false;
		}
		uint64_t *mark = arch_phys_to_virt(pa);
		if (*mark == 0xD1D1D1D1D1D1D1D1ULL)
			*ok_all = false;   /* handed out before */
		*mark = 0xD1D1D1D1D1D1D1D1ULL;
	}
	return n;
}

/* Clears the marks drain() left and frees the pages. */
static void release(paddr_t *pages, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		*(uint64_t *)arch_phys_to_virt(pages[i]) = 0;
		phys_free(pages[i], 1);
	}
}

static int census_equal(const uint64_t *a, const uint64_t *b)
{
	for (int i = 0; i < BUDDY_ORDERS; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* What the walkers reported: managed ranges and free extents, in the order given. */
#define WALK_MAX 4096
static struct { paddr_t pa; uint64_t n; } walk_managed[WALK_MAX], walk_free[WALK_MAX];
static size_t walk_nmanaged, walk_nfree;

static void walk_managed_cb(paddr_t pa, uint64_t n, void *arg)
{
	(void)arg;
	if (walk_nmanaged < WALK_MAX)
		walk_managed[walk_nmanaged].pa = pa, walk_managed[walk_nmanaged].n = n;
	walk_nmanaged++;
}

static void walk_free_cb(paddr_t pa, uint64_t n, void *arg)
{
	(void)arg;
	if (walk_nfree < WALK_MAX)
		walk_free[walk_nfree].pa = pa, walk_free[walk_nfree].n = n;
	walk_nfree++;
}

/* phys_for_each_managed/free must agree with the statistics, phys_is_free and phys_is_managed:
 * sorted, disjoint, maximal free extents inside managed ranges, summing to the counters. */
static void check_walkers(const char *when)
{
	struct phys_stats s;
	phys_get_stats(&s);
	walk_nmanaged = walk_nfree = 0;
	phys_for_each_managed(walk_managed_cb, NULL);
	phys_for_each_free(walk_free_cb, NULL);
	bool good = walk_nmanaged <= WALK_MAX && walk_nfree <= WALK_MAX;
	uint64_t managed = 0, free = 0;
	for (size_t i = 0; good && i < walk_nmanaged; i++) {
		managed += walk_managed[i].n;
		good = walk_managed[i].n > 0 && phys_is_managed(walk_managed[i].pa) &&
		       (i == 0 || walk_managed[i].pa >= walk_managed[i - 1].pa + walk_managed[i - 1].n * 4096);
	}
	for (size_t i = 0; good && i < walk_nfree; i++) {
		paddr_t pa = walk_free[i].pa, end = pa + walk_free[i].n * 4096;
		free += walk_free[i].n;
		size_t k = 0;   /* the managed range holding the extent */
		while (k < walk_nmanaged && walk_managed[k].pa + walk_managed[k].n * 4096 <= pa)
			k++;
		good = walk_free[i].n > 0 && phys_is_free(pa, walk_free[i].n) && k < walk_nmanaged &&
		       walk_managed[k].pa <= pa && end <= walk_managed[k].pa + walk_managed[k].n * 4096 &&
		       (pa == 0 || !phys_is_free(pa - 4096, 1)) && !phys_is_free(end, 1) &&
		       (i == 0 || pa > walk_free[i - 1].pa + walk_free[i - 1].n * 4096);
	}
	ok(good && managed == s.usable_pages &&
	   free == s.free_pages, "%s: walkers list %zu managed ranges (%llu pages) and %zu maximal free extents "
	   "(%llu pages) matching the counters", when, walk_nmanaged, (unsigned long long)managed, walk_nfree,
	   (unsigned long long)free);
}

static void test_simple_map(void)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0, 160, 0);               /* includes frame 0 */
	machine_map_add(&m, EFI_RESERVED, 0xA0000, 96, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 3840, 0);        /* 1..16 MiB */
	machine_map_add(&m, EFI_BS_DATA, 0x1000000, 256, 0);
	machine_map_add(&m, EFI_MMIO, 0xFEC00000, 1, EFI_MEMORY_RUNTIME);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "simple map initialises");
	struct phys_stats s;
	phys_get_stats(&s);
	is(s.usable_pages, 159 + 3840 + 256, "usable pages: all conventional and boot-services pages but frame 0");
	is(s.free_pages + s.meta_pages, s.usable_pages, "free + metadata = usable");
	is(phys_check(), 0, "check passes after init");
	uint64_t before[BUDDY_ORDERS], after[BUDDY_ORDERS];
	phys_census(before);
	static paddr_t pages[8192];
	bool good;
	uint64_t n = drain(pages, 8192, &m, &good);
	is(n, s.free_pages, "every free page can be allocated, one by one");
	ok(good, "no page handed out twice, none outside usable RAM, frame 0 never");
	is(phys_alloc(1, 0, UINT64_MAX), 0, "exhausted allocator returns 0");
	release(pages, n);
	phys_census(after);
	ok(census_equal(before, after), "census identical after freeing everything");
	is(phys_check(), 0, "check passes after churn");
}

static void test_overlap_unsorted_48byte_high_ram(void)
{
	machine_map_init(&m, 48);
	/* 300 descriptors, unsorted: alternate usable and reserved 64 KiB pieces above 4 GiB. */
	uint64_t base = 4ULL << 30;
	for (int i = 299; i >= 0; i--)
		machine_map_add(&m, (i % 3 == 2) ? EFI_ACPI_NVS : EFI_CONVENTIONAL, base + (uint64_t)i * 0x10000, 16, 0);
	/* A conventional range that overlaps a runtime-services range: the runtime part wins. */
	machine_map_add(&m, EFI_CONVENTIONAL, 0x200000, 512, 0);
	machine_map_add(&m, EFI_RT_DATA, 0x300000, 16, EFI_MEMORY_RUNTIME);
	/* Duplicate descriptor: must not be freed twice. */
	machine_map_add(&m, EFI_CONVENTIONAL, 0x200000, 256, 0);
	/* Conventional marked runtime: not usable. */
	machine_map_add(&m, EFI_CONVENTIONAL, 0x800000, 16, EFI_MEMORY_RUNTIME);
	/* Loader data: usable only after release. */
	machine_map_add(&m, EFI_LOADER_DATA, 0x900000, 32, 0);
	/* Specific-purpose memory of each usable type (and with other attribute bits): never managed. */
	machine_map_add(&m, EFI_CONVENTIONAL, 0xA00000, 16, EFI_MEMORY_SP);
	machine_map_add(&m, EFI_BS_DATA, 0xA10000, 16, EFI_MEMORY_SP | 0xF);
	machine_map_add(&m, EFI_BS_CODE, 0xA20000, 16, EFI_MEMORY_SP);
	machine_map_add(&m, EFI_LOADER_DATA, 0xA30000, 16, EFI_MEMORY_SP);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "300+ unsorted overlapping descriptors initialise");
	struct phys_stats s;
	phys_get_stats(&s);
	is(s.usable_pages, 200 * 16 + 512 - 16 + 32, "usable pages exclude overlaps, NVS, runtime, duplicates");
	is(s.loader_pages, 32, "loader pages held back");
	ok(s.highest_pfn == (base >> 12) + 299 * 16 + 16 - 16, "highest frame is the last usable one above 4 GiB");
	ok(!phys_is_managed(0x300000) && !phys_is_managed(0x30F000), "runtime range inside conventional is not managed");
	ok(!phys_is_managed(0x800000), "conventional with the runtime attribute is not managed");
	ok(!phys_is_managed(0xA00000) && !phys_is_managed(0xA0F000) && !phys_is_managed(0xA10000) &&
	   !phys_is_managed(0xA20000) && !phys_is_managed(0xA30000) && !phys_is_managed(0xA3F000),
	   "specific-purpose memory (EFI_MEMORY_SP) of the usable and loader types is not managed");
	ok(!phys_is_managed(0x900000) || s.loader_pages, "loader data managed but held");
	ok(!phys_is_free(0x900000, 1), "loader data not free before release");
	check_walkers("after init");
	static paddr_t pages[8192];
	bool good;
	uint64_t n = drain(pages, 8192, &m, &good);
	is(n, s.free_pages, "all free pages allocatable");
	ok(good, "no reserved page, no duplicate");
	uint64_t above = 0;
	for (uint64_t i = 0; i < n; i++)
		above += pages[i] >= base;
	is(above, 200 * 16, "RAM above 4 GiB handed out");
	for (uint64_t i = 0; i < n; i += 3)   /* a fragmented state: every third page back */
		phys_free(pages[i], 1), *(uint64_t *)arch_phys_to_virt(pages[i]) = 0, pages[i] = 0;
	check_walkers("every third page freed");
	for (uint64_t i = 0, k = 0; i < n; i++)
		if (pages[i])
			pages[k++] = pages[i];
	n -= (n + 2) / 3;
	release(pages, n);
	phys_release_loader();
	ok(phys_is_free(0x900000, 32), "loader data free after release");
	check_walkers("after the loader's release");
	phys_get_stats(&s);
	is(s.loader_pages, 0, "no loader pages left");
	is(phys_check(), 0, "check passes");
}

static void test_40byte_stride_and_bounds(void)
{
	machine_map_init(&m, 40);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 4096, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x200000000ULL, 4096, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "40-byte descriptors initialise");
	paddr_t lo = phys_alloc(8, 0, 1ULL << 32);
	ok(lo && lo + 8 * 4096 <= (1ULL << 32), "allocation below 4 GiB honoured");
	paddr_t hi = phys_alloc(8, 1ULL << 32, UINT64_MAX);
	ok(hi >= (1ULL << 32), "allocation above 4 GiB honoured");
	paddr_t big = phys_alloc_aligned(1024, 1024, 0, UINT64_MAX);
	ok(big && (big & (1024 * 4096 - 1)) == 0, "phys_alloc_aligned: a run aligned as asked");
	ok(!phys_alloc_aligned(1, 3, 0, UINT64_MAX) && !phys_alloc_aligned(1, 0, 0, UINT64_MAX),
	   "an alignment that is not a power of two is refused");
	ok(!phys_alloc_aligned(1, 1ULL << 63, 0, UINT64_MAX) && !phys_alloc_aligned(1, 1ULL << 63, 4096, UINT64_MAX) &&
	   !phys_alloc_aligned(1, 1ULL << 40, 4096, UINT64_MAX),
	   "an alignment past every frame but 0 (2^40, 2^63 pages): no frame, no wrap rounding up to it");
	is(phys_alloc(1, 0x100000, 0x100000), 0, "empty window fails");
	is(phys_alloc(0, 0, UINT64_MAX), 0, "zero pages fails");
	is(phys_alloc(UINT64_MAX, 0, UINT64_MAX), 0, "absurd size fails");
	is(phys_alloc(1, UINT64_MAX - 10, UINT64_MAX), 0, "window at the top of the address space fails cleanly");
	phys_free(lo, 8);
	phys_free(hi, 8);
	phys_free(big, 1024);
	is(phys_check(), 0, "check passes");
}

static void test_bad_maps(void)
{
	machine_map_init(&m, 48);
	for (int i = 0; i < PHYS_MAX_RANGES + 1; i++)
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000 + (uint64_t)i * 0x2000, 1, 0);
	ok(phys_init(m.buf, machine_map_size(&m), m.desc_size) < 0, "too many descriptors is a clear error");
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_RESERVED, 0, 100, 0);
	ok(phys_init(m.buf, machine_map_size(&m), m.desc_size) < 0, "no usable memory is a clear error");
	ok(phys_init(m.buf, 64, 32) < 0, "descriptor smaller than the structure is rejected");
	ok(phys_init(m.buf, 50, 48) < 0, "a ragged map is read as its whole descriptors: one reserved one, no usable memory");
	machine_map_init(&m, 63);   /* found by fuzz_phys: a stride that misaligns descriptors */
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x200000, 64, 0);
	ok(phys_init(m.buf, machine_map_size(&m), m.desc_size) < 0, "descriptor stride not a multiple of 8 is rejected");
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0xFFFFFFFFFFFF0000ULL, 1000, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "a descriptor past the 52-bit limit is ignored");
	ok(!phys_is_managed(0xFFFFFFFFFFFF0000ULL), "the impossible range is not managed");
	struct phys_stats s;
	phys_get_stats(&s);
	is(s.usable_pages, 64, "only the real range counts");
	/* RAM above the buddy's 2^31-frame (8 TiB) limit: ignored with a message, the rest managed */
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 8ULL << 40, 4096, 0);
	machine_map_add(&m, EFI_LOADER_DATA, (8ULL << 40) + (64ULL << 20), 16, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "RAM at 8 TiB and above is ignored");
	phys_get_stats(&s);
	ok(s.usable_pages == 64 && s.highest_pfn < BUDDY_MAX_PAGES, "only the range below counts (%llu pages)",
	   (unsigned long long)s.usable_pages);
	ok(!phys_is_managed(8ULL << 40), "the range at 8 TiB is not managed");
}

/*
 * phys_alloc_zeroed_page zeroes its page and nothing else: with one free page left, whose next
 * frame is held by the test and filled with a pattern, the page comes back zeroed and the pattern
 * next to it stays. phys_is_free: an empty range inside RAM is free, a range that wraps is not.
 */
static void test_zeroed_page_and_is_free_edges(void)
{
	static paddr_t held[4096];
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 1024, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "4 MiB map initialises");
	size_t n, i = machine_hold_all(held, ARRAY_SIZE(held), &n);
	ok(i + 1 < n, "two consecutive frames held (%zu pages)", n);
	if (i + 1 >= n)
		return;
	volatile uint64_t *page = arch_phys_to_virt(held[i]), *next = arch_phys_to_virt(held[i + 1]);
	for (unsigned w = 0; w < PAGE_SIZE / 8; w++)
		page[w] = next[w] = 0x5A5A5A5A5A5A5A5AULL;
	phys_free(held[i], 1);
	is(phys_alloc_zeroed_page(), held[i], "the one free page is handed out");
	bool zero = true, intact = true;
	for (unsigned w = 0; w < PAGE_SIZE / 8; w++) {
		zero &= page[w] == 0;
		intact &= next[w] == 0x5A5A5A5A5A5A5A5AULL;
	}
	ok(zero && intact, "zeroed, and the frame after it untouched");
	ok(phys_is_free(0x100000 + 512 * PAGE_SIZE, 0) && !phys_is_free(0x100000, UINT64_MAX) &&
	   !phys_is_free(0x100000, UINT64_MAX - 0xFF), "an empty range is free, a wrapping one is not");
	is(phys_check(), 0, "check passes");
}

/* True when words VERIFIER_FIRST_WORD.. of each of npages from pa hold the verifier's pattern. */
static bool poisoned(paddr_t pa, uint64_t npages)
{
	const volatile uint64_t *w = arch_phys_to_virt(pa);
	for (uint64_t p = 0; p < npages; p++)
		for (unsigned i = VERIFIER_FIRST_WORD; i < PAGE_SIZE / 8; i++)
			if (w[p * (PAGE_SIZE / 8) + i] != VERIFIER_PATTERN)
				return false;
	return true;
}

/* Verifier mode: every way a page becomes free (phys_init, phys_free, phys_free_frames, the
 * loader's release) fills it with the pattern, over whatever its owner wrote. */
static void test_verifier_patterns(void)
{
	mm_verifier_set(true);
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 256, 0);
	machine_map_add(&m, EFI_LOADER_DATA, 0x300000, 8, 0);
	for (unsigned i = 0; i < 8 * PAGE_SIZE / 8; i++)   /* the loader's pages as the loader left them */
		((volatile uint64_t *)arch_phys_to_virt(0x300000))[i] = 0x77;
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "verifier mode: initialises");
	paddr_t a = phys_alloc(4, 0, UINT64_MAX), b = phys_alloc(3, 0, UINT64_MAX);
	ok(a && b && poisoned(a, 4) && poisoned(b, 3), "free pages hold the pattern from phys_init on");
	memset(arch_phys_to_virt(a), 0x11, 4 * PAGE_SIZE);
	memset(arch_phys_to_virt(b), 0x22, 3 * PAGE_SIZE);
	phys_free(a, 4);
	ok(poisoned(a, 4), "phys_free fills what its owner wrote with the pattern");
	uint64_t pfn[3] = { (b >> 12) + 2, b >> 12, (b >> 12) + 1 }, bad = 0;
	ok(phys_free_frames(pfn, 3, PHYS_OWNER_KERNEL, &bad) && poisoned(b, 3), "phys_free_frames too");
	phys_release_loader();
	ok(poisoned(0x300000, 8), "and the loader's release");
	is(phys_check(), 0, "check passes");
	mm_verifier_set(false);
}

/* Bad geometry is refused even when the descriptors themselves are good: every stride that is not a
 * multiple of 8 or is too small, and every misaligned map address; the same map well laid out
 * initialises, also with a ragged tail of every length after its whole descriptors (read as those). */
static void test_geometry_refusals(void)
{
	static _Alignas(8) uint8_t buf[8 + 4 * 64];
	unsigned wrong = 0, tried = 0;
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);   /* thousands of refusals, each printed */
	dup2(null, 1);
	for (size_t dsz = 24; dsz <= 64; dsz++) {
		machine_map_init(&m, dsz);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 256, 0);
		machine_map_add(&m, EFI_RESERVED, 0x200000, 16, 0);
		machine_map_add(&m, EFI_BS_DATA, 0x400000, 64, 0);
		size_t size = machine_map_size(&m);
		bool stride_ok = dsz >= sizeof(struct efi_memory_descriptor) && dsz % 8 == 0;
		for (size_t off = 0; off < 8; off++) {
			memcpy(buf + off, m.buf, size);
			for (size_t extra = 0; extra < dsz; extra += (dsz > 8 ? 5 : 1)) {
				int want = stride_ok && off == 0 ? 0 : -1;
				wrong += phys_init(buf + off, size + extra, dsz) != want;
				tried++;
			}
		}
	}
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(null);
	ok(wrong == 0, "%u geometries of a good map: only a stride of 8k >= the descriptor and an aligned map "
	   "initialise, a ragged tail or none", tried);
}

/* ------------------------------------------------------------------ generated maps against a model */

#define GEN_FRAMES 2048   /* frames the generated descriptors cover (8 MiB) */

enum { G_NONE, G_NOW, G_LOADER, G_META };
static uint8_t g_now[GEN_FRAMES], g_loader[GEN_FRAMES], g_other[GEN_FRAMES], g_state[GEN_FRAMES];
static uint64_t g_rng = 0xC0FFEE1234567ULL;

static uint64_t g_draw(uint64_t n)
{
	return test_rng_next(&g_rng) % n;
}

/* Appends a random descriptor (its start often on an earlier one's start or end) and marks the
 * model's coverage: usable now, loader, or anything else (which wins over both). */
static void gen_desc(const uint64_t *edges, size_t nedges)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA,
					  EFI_RESERVED, EFI_ACPI_NVS, EFI_RT_DATA, EFI_MMIO, EFI_UNUSABLE };
	uint32_t type = types[g_draw(ARRAY_SIZE(types))];
	uint64_t attr = g_draw(8) == 0 ? EFI_MEMORY_RUNTIME : g_draw(8) == 0 ? EFI_MEMORY_SP : 0;
	uint64_t start = nedges && g_draw(3) == 0 ? edges[g_draw(nedges)] : g_draw(8) == 0 ? 0 : g_draw(GEN_FRAMES);
	uint64_t pages = g_draw(16) == 0 ? 0 : 1 + g_draw(g_draw(2) ? 16 : 400);
	if (start >= GEN_FRAMES)
		start = GEN_FRAMES - 1;
	if (pages > GEN_FRAMES - start)
		pages = GEN_FRAMES - start;
	machine_map_add(&m, type, start << 12, pages, attr);
	/* The model's own classes (UEFI 2.10 7.2: what an OS may use), not the allocator's functions. */
	bool general = !(attr & (EFI_MEMORY_RUNTIME | EFI_MEMORY_SP));
	bool usable = general && (type == EFI_CONVENTIONAL || type == EFI_BS_CODE || type == EFI_BS_DATA);
	bool loader = general && (type == EFI_LOADER_CODE || type == EFI_LOADER_DATA);
	uint8_t *cover = usable ? g_now : loader ? g_loader : g_other;
	for (uint64_t f = start; f < start + pages; f++)
		cover[f] = 1;
}

/* One generated map: phys_init against the model. Returns false (with a reason printed) on a
 * mismatch; *inited says whether phys_init succeeded. */
static bool gen_map_case(int round, bool *inited)
{
	machine_map_init(&m, g_draw(2) ? 48 : 40);
	memset(g_now, 0, sizeof(g_now));
	memset(g_loader, 0, sizeof(g_loader));
	memset(g_other, 0, sizeof(g_other));
	uint64_t edges[128];
	size_t nd = 1 + g_draw(g_draw(2) ? 6 : 40), ne = 0;
	for (size_t i = 0; i < nd; i++) {
		gen_desc(edges, ne);
		const struct efi_memory_descriptor *d = efi_desc(m.buf, m.desc_size, i);
		if (ne + 2 <= ARRAY_SIZE(edges)) {
			edges[ne++] = d->phys_start >> 12;
			edges[ne++] = (d->phys_start >> 12) + d->num_pages;
		}
	}
	/* the model: the classes, the highest frame, the metadata in the first run of usable frames
	 * that holds it */
	uint64_t nnow = 0, nloader = 0, highest = 0;
	for (uint64_t f = 0; f < GEN_FRAMES; f++) {
		g_state[f] = f == 0 || g_other[f] ? G_NONE : g_now[f] && !g_loader[f] ? G_NOW :
			     g_loader[f] && !g_now[f] ? G_LOADER : G_NONE;
		nnow += g_state[f] == G_NOW;
		nloader += g_state[f] == G_LOADER;
		if (g_state[f] != G_NONE)
			highest = f + 1;
	}
	uint64_t meta = ALIGN_UP(meta_bytes(highest), PAGE_SIZE) >> PAGE_SHIFT;
	bool placed = false;
	for (uint64_t f = 1; highest && !placed && f < GEN_FRAMES;) {
		uint64_t e = f;
		while (e < GEN_FRAMES && g_state[e] == G_NOW)
			e++;
		if (e > f && e - f >= meta) {
			memset(&g_state[f], G_META, meta);
			placed = true;
		}
		f = e + 1;
	}
	/* an exact-size copy of the map: reading past its end is an ASan report */
	size_t size = machine_map_size(&m);
	void *copy = malloc(size);
	memcpy(copy, m.buf, size);
	int r = phys_init(copy, size, m.desc_size);
	free(copy);
	*inited = r == 0;
	if (*inited != placed) {
		printf("# round %d: phys_init %d, the model %s\n", round, r, placed ? "succeeds" : "fails");
		return false;
	}
	if (!placed)
		return true;
	struct phys_stats st;
	phys_get_stats(&st);
	if (st.usable_pages != nnow + nloader || st.loader_pages != nloader || st.meta_pages != meta ||
	    st.free_pages != nnow - meta || st.highest_pfn != highest || st.allocated_pages != 0) {
		printf("# round %d: statistics usable %llu loader %llu meta %llu free %llu highest %llu, the model %llu %llu %llu %llu %llu\n",
		       round, (unsigned long long)st.usable_pages, (unsigned long long)st.loader_pages,
		       (unsigned long long)st.meta_pages, (unsigned long long)st.free_pages, (unsigned long long)st.highest_pfn,
		       (unsigned long long)(nnow + nloader), (unsigned long long)nloader, (unsigned long long)meta,
		       (unsigned long long)(nnow - meta), (unsigned long long)highest);
		return false;
	}
	for (uint64_t f = 0; f < GEN_FRAMES + 2; f++) {
		uint8_t g = f < GEN_FRAMES ? g_state[f] : G_NONE;
		if (phys_is_managed(f << 12) != (g != G_NONE) || phys_is_free(f << 12, 1) != (g == G_NOW)) {
			printf("# round %d: frame 0x%llx managed %d free %d, the model's state %u\n", round,
			       (unsigned long long)f, phys_is_managed(f << 12), phys_is_free(f << 12, 1), g);
			return false;
		}
	}
	/* every free frame comes out once, and only those */
	uint64_t got = 0;
	paddr_t pa;
	while ((pa = phys_alloc(1, 0, UINT64_MAX)) != 0) {
		uint64_t f = pa >> 12;
		if (f >= GEN_FRAMES || g_state[f] != G_NOW) {
			printf("# round %d: frame 0x%llx handed out, the model's state %u\n", round, (unsigned long long)f,
			       f < GEN_FRAMES ? g_state[f] : 9);
			return false;
		}
		g_state[f] = G_NONE + 9;   /* handed out */
		got++;
	}
	phys_release_loader();
	phys_get_stats(&st);
	bool loader_free = true;
	for (uint64_t f = 0; f < GEN_FRAMES; f++)
		if (g_state[f] == G_LOADER)
			loader_free &= phys_is_free(f << 12, 1);
	if (got != nnow - meta || !loader_free || st.free_pages != nloader || phys_check() != 0) {
		printf("# round %d: %llu frames handed out of %llu, loader frames free %d, %llu free after the release\n",
		       round, (unsigned long long)got, (unsigned long long)(nnow - meta), loader_free,
		       (unsigned long long)st.free_pages);
		return false;
	}
	return true;
}

/*
 * Property: over generated memory maps (usable, loader, reserved and runtime descriptors,
 * overlapping, duplicated, empty, sharing edges, frame 0 included, both strides), phys_init
 * succeeds exactly when the model has room for the metadata, and then the statistics, every
 * frame's managed and free state, the walkers, the frames handed out and the loader's release
 * agree with the model (the non-usable descriptor wins; frame 0 never; the metadata from the start
 * of the first usable run that holds it).
 */
static void test_generated_maps(void)
{
	unsigned wrong = 0, inits = 0, refused = 0;
	for (int round = 0; round < 300; round++) {
		bool inited;
		if (!gen_map_case(round, &inited))
			wrong++;
		inits += inited;
		refused += !inited;
	}
	ok(wrong == 0 && inits > 150 && refused > 5, "300 generated maps agree with the model (%u initialised, %u refused)",
	   inits, refused);
}

/* Maps of exactly PHYS_MAX_RANGES disjoint ranges: usable ones whose first is frame 0 alone (frame 0
 * is dropped, every other range managed), then usable and loader ones (every one managed). */
static void test_full_map_frame0(void)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0, 1, 0);
	for (int i = 1; i < PHYS_MAX_RANGES - 1; i++)
		machine_map_add(&m, i % 2 ? EFI_BS_DATA : EFI_CONVENTIONAL, (uint64_t)i * 0x2000, 1, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x4000000, 256, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "%d descriptors, the first frame 0 alone, initialise",
	   PHYS_MAX_RANGES);
	struct phys_stats st;
	phys_get_stats(&st);
	ok(st.usable_pages == PHYS_MAX_RANGES - 2 + 256 && st.loader_pages == 0 && !phys_is_managed(0) &&
	   phys_is_managed(0x2000) && phys_is_managed(0x4000) && phys_is_managed(0x4000000 + 255 * 4096) && phys_check() == 0,
	   "frame 0 dropped, every other range managed (%llu usable, %llu loader)", (unsigned long long)st.usable_pages,
	   (unsigned long long)st.loader_pages);
	check_walkers("a full map");
	/* usable and loader ranges filling the map between them: every one managed */
	machine_map_init(&m, 48);
	for (int i = 0; i < PHYS_MAX_RANGES - 1; i++)
		machine_map_add(&m, i % 2 ? EFI_LOADER_CODE : EFI_BS_CODE, 0x1000 + (uint64_t)i * 0x2000, 1, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x4000000, 256, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "%d usable and loader descriptors initialise", PHYS_MAX_RANGES);
	phys_get_stats(&st);
	ok(st.usable_pages == PHYS_MAX_RANGES - 1 + 256 && st.loader_pages == PHYS_MAX_RANGES / 2 - 1 &&
	   phys_is_managed(0x1000) && phys_is_managed(0x3000) && !phys_is_free(0x3000, 1) && phys_check() == 0,
	   "all %llu pages managed, the %llu loader pages held back", (unsigned long long)st.usable_pages,
	   (unsigned long long)st.loader_pages);
	check_walkers("a full map with loader ranges");
}

/*
 * The fault-injection budget caps allocated_pages inclusively: with the budget set to what is
 * allocated plus k, a request of npages succeeds exactly when npages <= k (free runs abound), and
 * a success leaves allocated_pages at most the budget; lifting the budget restores every request.
 */
static void test_budget_edges(void)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 1024, 0);
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "a map for the budget initialises");
	paddr_t base = phys_alloc(3, 0, UINT64_MAX);   /* a budget counts from a nonzero allocation */
	unsigned wrong = 0;
	for (uint64_t k = 0; k < 9; k++)
		for (uint64_t npages = 1; npages < 11; npages++) {
			struct phys_stats s;
			phys_get_stats(&s);
			phys_set_budget(s.allocated_pages + k);
			paddr_t pa = phys_alloc(npages, 0, UINT64_MAX);
			phys_set_budget(UINT64_MAX);
			if ((pa != 0) != (npages <= k)) {
				printf("# budget allocated + %llu, %llu pages: got 0x%llx\n", (unsigned long long)k,
				       (unsigned long long)npages, (unsigned long long)pa);
				wrong++;
			}
			if (pa)
				phys_free(pa, npages);
		}
	ok(wrong == 0 && base != 0, "a budget of allocated + k grants exactly the requests of k pages or fewer");
	phys_free(base, 3);
	is(phys_check(), 0, "check passes after the budget's requests");
}

/* ------------------------------------------------------------------ the map's edge cases */

#define EDGE_FRAMES 0x300   /* frames [0, EDGE_FRAMES) and [EDGE_HIGH, EDGE_HIGH + 0x20) are compared */
#define EDGE_HIGH   0x40000

/* What phys_init made of the compared frames: bit 0 free, bit 1 managed. */
static void edge_states(uint8_t *out)
{
	for (uint64_t i = 0; i < EDGE_FRAMES + 0x20; i++) {
		uint64_t f = i < EDGE_FRAMES ? i : EDGE_HIGH + i - EDGE_FRAMES;
		out[i] = (uint8_t)(phys_is_free(f << 12, 1) | phys_is_managed(f << 12) << 1);
	}
}

/* True when the statistics are the same. */
static bool stats_equal(const struct phys_stats *a, const struct phys_stats *b)
{
	return a->usable_pages == b->usable_pages && a->free_pages == b->free_pages && a->meta_pages == b->meta_pages &&
	       a->loader_pages == b->loader_pages && a->highest_pfn == b->highest_pfn && a->allocated_pages == b->allocated_pages;
}

/* The base map of the edge cases: usable RAM low and at 1 GiB (so the metadata takes several pages), loader data. */
static void edge_base_map(void)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
	machine_map_add(&m, EFI_LOADER_DATA, 0x200000, 8, 0);
	machine_map_add(&m, EFI_BS_DATA, (uint64_t)EDGE_HIGH << 12, 16, 0);
}

/*
 * Descriptors of zero pages (UEFI never makes them; a map may still hold them) of every kind, at
 * every frame in and around the usable ranges, frame 0 included, change nothing: the same
 * statistics, and every compared frame as free and as managed as without them (a zero-page reserved
 * descriptor must not split a usable range, which would move the metadata).
 */
static void test_zero_page_descriptors(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_RESERVED, EFI_LOADER_DATA, EFI_BS_CODE, EFI_ACPI_NVS, EFI_MMIO };
	static uint8_t want[EDGE_FRAMES + 0x20], got[EDGE_FRAMES + 0x20];
	struct phys_stats base, st;
	unsigned bad = 0, n = 0;

	edge_base_map();
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "the edge cases' base map initialises");
	phys_get_stats(&base);
	edge_states(want);
	ok(base.meta_pages >= 8, "its metadata takes %llu pages", (unsigned long long)base.meta_pages);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++)
		for (uint64_t i = 0; i < EDGE_FRAMES + 0x20; i++) {
			uint64_t f = i < EDGE_FRAMES ? i : EDGE_HIGH + i - EDGE_FRAMES;
			if (i < EDGE_FRAMES && f % 0x10 && !(f >= 0xF8 && f <= 0x148) && !(f >= 0x1F8 && f <= 0x20A))
				continue;   /* every frame near the ranges, every 16th elsewhere */
			edge_base_map();
			machine_map_add(&m, types[t], f << 12, 0, 0);
			int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
			phys_get_stats(&st);
			edge_states(got);
			n++;
			if ((r != 0 || !stats_equal(&st, &base) || memcmp(got, want, sizeof(want))) && bad++ < 5)
				printf("# a zero-page descriptor of type %u at frame 0x%llx: init %d, free %llu (want %llu), meta %llu\n",
				       types[t], (unsigned long long)f, r, (unsigned long long)st.free_pages,
				       (unsigned long long)base.free_pages, (unsigned long long)st.meta_pages);
		}
	ok(bad == 0, "%u zero-page descriptors of every kind in and around the usable ranges change nothing", n);
}

/*
 * A reserved descriptor whose page count runs its frame numbers past 2^64 (or just to it, or past
 * the allocator's limit without wrapping) reserves everything from its start, before or after the
 * usable descriptor it covers; usable RAM starting exactly at the allocator's first frame past its
 * limit (2^31 - 1) is ignored like RAM further up.
 */
static void test_huge_page_counts(void)
{
	const uint64_t s = 0x800;   /* the reserved descriptor's first frame */
	const uint64_t counts[] = { UINT64_MAX, UINT64_MAX - 1, -s, -s + 1, -s - 1, -s + 0x100, 1ULL << 63,
				    1ULL << 52, BUDDY_MAX_PAGES, BUDDY_MAX_PAGES - s };
	unsigned bad = 0, n = 0;

	for (size_t k = 0; k < ARRAY_SIZE(counts); k++)
		for (int reserved_first = 0; reserved_first < 2; reserved_first++) {
			machine_map_init(&m, 48);
			if (reserved_first)
				machine_map_add(&m, EFI_RESERVED, s << 12, counts[k], 0);
			machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x1000, 0);   /* frames 0x100..0x1100 */
			if (!reserved_first)
				machine_map_add(&m, EFI_RESERVED, s << 12, counts[k], 0);
			int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
			struct phys_stats st;
			phys_get_stats(&st);
			n++;
			if ((r != 0 || st.usable_pages != s - 0x100 || st.highest_pfn != s || phys_is_managed(s << 12) ||
			     phys_is_managed(0x10FF000) || !phys_is_managed((s - 1) << 12)) && bad++ < 5)
				printf("# reserved from frame 0x%llx, 0x%llx pages (%s): init %d, usable %llu, highest 0x%llx\n",
				       (unsigned long long)s, (unsigned long long)counts[k], reserved_first ? "first" : "second", r,
				       (unsigned long long)st.usable_pages, (unsigned long long)st.highest_pfn);
		}
	ok(bad == 0, "%u reserved descriptors with page counts past 2^64 frames or the limit reserve everything above", n);

	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, BUDDY_MAX_PAGES << 12, 16, 0);
	int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
	struct phys_stats st;
	phys_get_stats(&st);
	ok(r == 0 && st.usable_pages == 64 && st.highest_pfn == 0x140 && !phys_is_managed(BUDDY_MAX_PAGES << 12),
	   "RAM from exactly frame 2^31 - 1 is ignored (usable %llu, highest 0x%llx)", (unsigned long long)st.usable_pages,
	   (unsigned long long)st.highest_pfn);
}

/*
 * A descriptor whose PhysicalStart is not 4 KiB aligned (UEFI requires it; a firmware bug): the
 * allocator manages only frames wholly inside usable bytes (a reserved entry covers every frame it
 * touches), and says so. Generated: a reserved descriptor ending, and a usable one starting, at a shift of every
 * 512-byte step inside a frame; the frame shared by the two must never be handed out.
 */
static void test_unaligned_starts(void)
{
	unsigned bad = 0, cases = 0;
	for (uint64_t shift = 0x200; shift < 0x1000; shift += 0x200) {
		uint64_t shared = 0x201000;   /* the frame the reserved end and the usable start share */
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
		machine_map_add(&m, EFI_RESERVED, shared + shift - 0x1000, 1, 0);
		machine_map_add(&m, EFI_CONVENTIONAL, shared + shift, 16, 0);
		char said[512];
		int r = machine_phys_init(&m, said, sizeof(said), NULL);
		bool told = strstr(said, "start off a 4 KiB boundary") != NULL;
		static paddr_t pages[4096];
		bool good = true;
		uint64_t n = r == 0 ? drain(pages, 4096, &m, &good) : 0;
		bool shared_out = false;
		for (uint64_t i = 0; i < n; i++)
			shared_out |= pages[i] == shared;
		cases++;
		/* the usable entry's whole pages stay managed, the partial one at its end does not */
		bool whole = true;
		for (uint64_t pa = shared + PAGE_SIZE; pa < shared + 16 * PAGE_SIZE; pa += PAGE_SIZE)
			whole &= phys_is_managed(pa);
		whole &= !phys_is_managed(shared + 16 * PAGE_SIZE);
		if ((r != 0 || !told || phys_is_managed(shared) || shared_out || !good || !whole) && bad++ < 5)
			printf("# reserved [0x%llx, 0x%llx), usable from 0x%llx: frame 0x%llx managed %d, handed out %d; "
			       "the usable entry's 15 whole pages managed and its partial last one not: %d; init %d, told %d\n",
			       (unsigned long long)(shared + shift - 0x1000), (unsigned long long)(shared + shift),
			       (unsigned long long)(shared + shift), (unsigned long long)shared, phys_is_managed(shared),
			       shared_out, whole, r, told);
		if (r == 0)
			release(pages, n);
	}
	ok(bad == 0 && cases == 7, "%u maps with unaligned starts: no frame holding reserved bytes managed, or the "
	   "usable entry's partial last page; its whole pages managed; the firmware's bug reported", cases);
}

/*
 * A usable descriptor off a page boundary that holds no whole page (1 page's bytes across two
 * frames) adds no frame, and is not RAM past the 52-bit space: the boot says its start is off a
 * boundary and nothing else. Each usable type, at a shift of every 512-byte step, with 1 to 3 pages
 * (0 to 2 whole ones, each managed).
 */
static void test_unaligned_single_page(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA };
	unsigned bad = 0, cases = 0;
	for (unsigned t = 0; t < ARRAY_SIZE(types); t++)
		for (uint64_t shift = 0x200; shift < 0x1000; shift += 0x200)
			for (uint64_t pages = 1; pages <= 3; pages++, cases++) {
				uint64_t at = 0x201000 + shift;
				machine_map_init(&m, 48);
				machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 64, 0);
				machine_map_add(&m, types[t], at, pages, 0);
				char said[1024];
				struct phys_stats st;
				int r = machine_phys_init(&m, said, sizeof(said), &st);
				bool whole = true;
				for (uint64_t i = 1; i < pages; i++)
					whole &= phys_is_managed(0x201000 + i * PAGE_SIZE);
				bool good = r == 0 && st.usable_pages == 64 + pages - 1 && whole && !phys_is_managed(0x201000) &&
					    !phys_is_managed(0x201000 + pages * PAGE_SIZE) &&
					    strstr(said, "start off a 4 KiB boundary") && !strstr(said, "past the 52-bit") &&
					    !strstr(said, "ignoring") && phys_check() == 0;
				if (!good && bad++ < 4)
					printf("# type %u, %llu pages from 0x%llx: init %d, usable %llu (want %llu), whole pages "
					       "managed %d; said: %s\n", types[t], (unsigned long long)pages, (unsigned long long)at,
					       r, (unsigned long long)st.usable_pages, (unsigned long long)(64 + pages - 1), whole, said);
			}
	ok(bad == 0, "%u usable descriptors off a page boundary with 0 to 2 whole pages: those managed, the start "
	   "reported, no RAM said to be past the 52-bit space", cases);
}

/*
 * phys.h: reserved memory is "never handed out", and "where descriptors overlap, the non-usable one
 * wins". A reserved, ACPI or MMIO descriptor whose start is not page aligned (firmware that breaks
 * UEFI's 4 KiB rule) covers part of one more frame than its page count: generated descriptors at
 * offsets 1..4095 inside a conventional range; every frame holding one of their bytes is not
 * managed and never allocated.
 */
static void test_unaligned_reserved_descriptor(void)
{
	static const uint32_t types[] = { EFI_RESERVED, EFI_ACPI_NVS, EFI_MMIO, EFI_RT_DATA };
	uint64_t st = 0xBADA11CEULL;
	unsigned cases = 0, wrong = 0;
	for (unsigned c = 0; c < 64; c++) {
		uint64_t off = 1 + test_rng_next(&st) % (PAGE_SIZE - 1), pages = 1 + test_rng_next(&st) % 8;
		uint64_t start = 0x140000 + (test_rng_next(&st) % 64) * PAGE_SIZE + off, end = start + pages * PAGE_SIZE;
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 1024, 0);
		machine_map_add(&m, types[c % ARRAY_SIZE(types)], start, pages, 0);
		if (phys_init(m.buf, machine_map_size(&m), m.desc_size) != 0) {
			wrong++;
			continue;
		}
		bool good = true;
		for (paddr_t f = ALIGN_DOWN(start, PAGE_SIZE); f < end; f += PAGE_SIZE)
			good &= !phys_is_managed(f) && !phys_alloc(1, f, f + PAGE_SIZE);
		if (!good && wrong < 3)
			printf("# type %u bytes [0x%llx, 0x%llx): frame 0x%llx managed %d\n", types[c % ARRAY_SIZE(types)],
			       (unsigned long long)start, (unsigned long long)end, (unsigned long long)ALIGN_DOWN(end - 1, PAGE_SIZE),
			       phys_is_managed(ALIGN_DOWN(end - 1, PAGE_SIZE)));
		wrong += !good;
		cases++;
	}
	is(wrong, 0, "%u unaligned non-usable descriptors: no frame holding one of their bytes is managed or handed out", cases);
}

/*
 * The most ranges a full map can make: PHYS_MAX_RANGES descriptors in a chain, each overlapping
 * the next by 1..3 frames and owning 1..3 frames alone, usable and loader kinds alternating, listed
 * in a random order. Every overlap is lost to both kinds (phys.h: where descriptors overlap, the
 * non-usable one wins, and each kind is non-usable to the other), so each descriptor leaves exactly
 * one range: usable and loader ranges together number PHYS_MAX_RANGES, the most the allocator
 * keeps. Generated over seeds and both strides: phys_init succeeds, every frame's managed and free
 * state and the statistics are the model's, phys_check() holds, and the release frees the loader's
 * ranges.
 */
static void test_overlap_chain_at_capacity(void)
{
	static const uint32_t now_types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA };
	static const uint32_t loader_types[] = { EFI_LOADER_CODE, EFI_LOADER_DATA };
	enum { BASE = 0x100, FRAMES = BASE + PHYS_MAX_RANGES * 6 + 8 };
	static uint8_t cover[FRAMES][3];   /* descriptors of each kind (1 now, 2 loader) covering a frame */
	static struct { uint64_t s, e; uint32_t type; } d[PHYS_MAX_RANGES];
	static size_t order[PHYS_MAX_RANGES];
	uint64_t rng_state = 0x5EED0C4A1AULL;
	unsigned wrong = 0, rounds = 0;
	uint64_t pieces_seen = 0;

	for (int round = 0; round < 16; round++, rounds++) {
		memset(cover, 0, sizeof(cover));
		uint64_t own_end = BASE, chain_end = BASE;
		int kind = 1 + (int)(test_rng_next(&rng_state) % 2);
		for (size_t k = 0; k < PHYS_MAX_RANGES; k++, kind = 3 - kind) {
			uint64_t w = 1 + test_rng_next(&rng_state) % 3, o = 1 + test_rng_next(&rng_state) % 3;
			uint64_t start = k ? own_end : BASE, own_start = k ? chain_end : BASE;
			own_end = own_start + w;
			chain_end = k + 1 < PHYS_MAX_RANGES ? own_end + o : own_end;
			d[k].s = start;
			d[k].e = chain_end;
			d[k].type = kind == 1 ? now_types[test_rng_next(&rng_state) % ARRAY_SIZE(now_types)]
					      : loader_types[test_rng_next(&rng_state) % ARRAY_SIZE(loader_types)];
			for (uint64_t f = start; f < chain_end; f++)
				cover[f][kind]++;
			order[k] = k;
		}
		for (size_t k = PHYS_MAX_RANGES - 1; k > 0; k--) {   /* Fisher-Yates: the map in a random order */
			size_t j = test_rng_next(&rng_state) % (k + 1), t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		machine_map_init(&m, round % 2 ? 40 : 48);
		for (size_t k = 0; k < PHYS_MAX_RANGES; k++)
			machine_map_add(&m, d[order[k]].type, d[order[k]].s << 12, d[order[k]].e - d[order[k]].s, 0);
		/* the model: a frame is usable now (loader) when only now (loader) descriptors cover it */
		uint64_t nnow = 0, nloader = 0, highest = 0, pieces = 0, meta_at = 0;
		int prev = 0;
		for (uint64_t f = 0; f < FRAMES; f++) {
			int c = cover[f][1] && !cover[f][2] ? 1 : cover[f][2] && !cover[f][1] ? 2 : 0;
			nnow += c == 1;
			nloader += c == 2;
			if (c)
				highest = f + 1;
			pieces += c && c != prev;
			prev = c;
		}
		pieces_seen = pieces;
		/* the metadata: the buddy's block, 8-byte aligned, then the owner map (2 bits a frame in
		 * whole words), at the start of the first range usable now that holds it */
		uint64_t meta = ALIGN_UP(meta_bytes(highest), PAGE_SIZE) >> PAGE_SHIFT;
		for (uint64_t f = 0, run = 0; f < FRAMES && !meta_at; f++) {
			run = cover[f][1] && !cover[f][2] ? run + 1 : 0;
			if (run == meta)
				meta_at = f + 1 - meta;
		}
		int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
		struct phys_stats st;
		phys_get_stats(&st);
		bool good = r == 0 && meta_at && pieces == PHYS_MAX_RANGES && st.usable_pages == nnow + nloader &&
			    st.loader_pages == nloader && st.meta_pages == meta && st.free_pages == nnow - meta &&
			    st.highest_pfn == highest && phys_check() == 0;
		for (uint64_t f = 0; good && f < FRAMES + 2; f++) {
			int c = f >= FRAMES ? 0 : cover[f][1] && !cover[f][2] ? 1 : cover[f][2] && !cover[f][1] ? 2 : 0;
			good = phys_is_managed(f << 12) == (c != 0) &&
			       phys_is_free(f << 12, 1) == (c == 1 && (f < meta_at || f >= meta_at + meta));
			if (!good)
				printf("# round %d: frame 0x%llx managed %d free %d, the model's kind %d\n", round,
				       (unsigned long long)f, phys_is_managed(f << 12), phys_is_free(f << 12, 1), c);
		}
		if (good) {
			phys_release_loader();
			phys_get_stats(&st);
			good = st.free_pages == nnow - meta + nloader && st.loader_pages == 0 && phys_check() == 0;
			for (uint64_t f = BASE; good && f < FRAMES; f++)
				if (cover[f][2] && !cover[f][1])
					good = phys_is_free(f << 12, 1);
		}
		if (!good && wrong++ < 3)
			printf("# round %d: init %d, %llu ranges, usable %llu (model %llu), loader %llu (%llu), free %llu, "
			       "highest 0x%llx (0x%llx)\n", round, r, (unsigned long long)pieces,
			       (unsigned long long)st.usable_pages, (unsigned long long)(nnow + nloader),
			       (unsigned long long)st.loader_pages, (unsigned long long)nloader,
			       (unsigned long long)st.free_pages, (unsigned long long)st.highest_pfn,
			       (unsigned long long)highest);
	}
	ok(wrong == 0, "%u chains of %d overlapping usable and loader descriptors in random order: %llu ranges, "
	   "every frame's state, the statistics and the loader's release as the model says", rounds,
	   PHYS_MAX_RANGES, (unsigned long long)pieces_seen);
}

/*
 * A usable descriptor whose frames run past the 52-bit physical address limit (its end
 * start + NumberOfPages wraps past 2^64 frames, or lies above 2^40 frames; its byte size
 * NumberOfPages << 12 may overflow too) describes RAM no x86-64 machine can have, and is ignored
 * whole, as one that starts past the limit is (test_bad_maps): only the real range is managed.
 * phys_collect() once clamped its end to the allocator's limit instead, so phys_init() managed
 * everything from its start to 8 TiB as RAM (2^31 frames, 518 MiB of metadata written from the
 * start of that range). (The loader refuses such a map before the hand-over, memmap_ram_top; this
 * holds the kernel to it on its own.)
 */
static void test_usable_descriptor_past_physical_limit(void)
{
	const uint64_t s = 0x10000;   /* the bogus descriptor's first frame: 256 MiB */
	const uint64_t counts[] = { (1ULL << 40) - s + 1, 1ULL << 40, 1ULL << 52, (1ULL << 52) + 5, 1ULL << 63,
				    UINT64_MAX - s + 1, UINT64_MAX };
	unsigned bad = 0, n = 0;

	for (size_t k = 0; k < ARRAY_SIZE(counts); k++) {
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);   /* 64 MiB of real RAM */
		machine_map_add(&m, k % 2 ? EFI_BS_DATA : EFI_CONVENTIONAL, s << 12, counts[k], 0);
		int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
		struct phys_stats st;
		phys_get_stats(&st);
		n++;
		if ((r != 0 || st.usable_pages != 0x4000 || st.highest_pfn != 0x4100 || phys_is_managed(s << 12)) && bad++ < 5)
			printf("# usable from frame 0x%llx, 0x%llx pages: init %d, usable %llu (want 16384), highest 0x%llx "
			       "(want 0x4100), metadata %llu pages, frame 0x%llx managed %d\n", (unsigned long long)s,
			       (unsigned long long)counts[k], r, (unsigned long long)st.usable_pages,
			       (unsigned long long)st.highest_pfn, (unsigned long long)st.meta_pages, (unsigned long long)s,
			       phys_is_managed(s << 12));
	}
	ok(bad == 0, "%u usable descriptors ending past the 52-bit physical limit are ignored (%u managed as RAM up to 8 TiB)",
	   n, bad);
}

/* The metadata's size exactly (phys.h: the buddy's block, 8-byte aligned, then the owner map of 2
 * bits a frame in whole words, in whole pages), at the highest frames where the owner map rounded
 * to a word more or less would take a page more or less: maps of RAM from 1 MiB to such a frame. */
static void test_meta_pages_exact(void)
{
	unsigned n = 0, wrong = 0;
	for (uint64_t h = 0x200; h < (1u << 21) && n < 12; h++) {
		uint64_t pages = ALIGN_UP(meta_bytes(h), PAGE_SIZE) >> PAGE_SHIFT;
		uint64_t more = ALIGN_UP(meta_bytes(h) + 8, PAGE_SIZE) >> PAGE_SHIFT;
		uint64_t less = ALIGN_UP(meta_bytes(h) - 8, PAGE_SIZE) >> PAGE_SHIFT;
		/* where the map's last word is full (h % 32 == 0, 31: a word more if rounded wrongly) and
		 * a word more would take a page more; where it has one frame (a word less, a page less) */
		bool edge = h % 32 == 0 || h % 32 == 31 ? more != pages : h % 32 == 1 && less != pages;
		if (!edge)
			continue;
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, h - 0x100, 0);
		struct phys_stats st;
		int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
		phys_get_stats(&st);
		n++;
		if ((r != 0 || st.highest_pfn != h || st.meta_pages != pages || phys_check() != 0) && wrong++ < 3)
			printf("# highest 0x%llx: init %d, metadata %llu pages, want %llu\n", (unsigned long long)h, r,
			       (unsigned long long)st.meta_pages, (unsigned long long)pages);
	}
	ok(n == 12 && wrong == 0, "%u maps whose highest frame puts the metadata's end at a page boundary: its pages exactly",
	   n);
}

/*
 * phys_init_except keeps every frame its range touches out of the allocator (the framebuffer, which
 * some firmware lists inside usable RAM), whatever the range: unaligned, empty, past RAM, wrapping
 * at the top of the address space. Generated: 400 ranges over a map of 48 MiB usable RAM and 1 MiB
 * of loader data; each frame managed exactly when the model says, every free frame handed out by
 * phys_alloc outside the range, and the report's page count as the model's.
 */
static void test_init_except(void)
{
	enum { LO = 0x100, HI = 0x3100, LD = 0x3200, LDE = 0x3300 };   /* usable [LO, HI), loader [LD, LDE) */
	uint64_t st_rng = 0xFBFBFB0001ULL;
	unsigned n = 0, wrong = 0;
	for (unsigned c = 0; c < 400; c++) {
		uint64_t x = test_rng_next(&st_rng), pa, bytes;
		switch (c % 5) {
		case 0: pa = (LO + x % (LDE - LO)) << 12 | (x >> 40 & 0xfff); bytes = 1 + (x >> 20) % (8u << 20); break;
		case 1: pa = (x % (LDE + 64)) << 12; bytes = (x >> 32) % 3 ? ((x >> 16) % 64) << 12 : 0; break;
		case 2: pa = UINT64_MAX - (x % (1u << 20)); bytes = 1 + (x >> 24) % (1u << 24); break;   /* wraps */
		case 3: pa = (LO + x % 64) << 12; bytes = UINT64_MAX - (x >> 40); break;                    /* to the top */
		default: pa = (x % LO) << 12; bytes = ((x >> 20) % (LDE + 16)) << 12; break;             /* from low memory */
		}
		uint64_t end = bytes > UINT64_MAX - pa ? UINT64_MAX : pa + bytes;
		uint64_t xs = pa >> 12, xe = bytes ? end / 4096 + (end % 4096 != 0) : xs;
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, LO << 12, HI - LO, 0);
		machine_map_add(&m, EFI_LOADER_DATA, LD << 12, LDE - LD, 0);
		capture_begin();
		int r = phys_init_except(m.buf, machine_map_size(&m), m.desc_size, pa, bytes);
		bool room = false;   /* the metadata's page fits below, between or above the kept-out frames */
		for (uint64_t f = LO, run = 0; f < HI && !room; f++)
			room = (run = f >= xs && f < xe ? 0 : run + 1) >= 1;
		char out[512];
		capture_end(out, sizeof(out));
		uint64_t usable_out = 0, managed = 0;
		bool good = r == (room ? 0 : -1);
		if (r) {   /* nothing usable left for the metadata: refused, with its reason */
			n++;
			wrong += !good;
			continue;
		}
		for (uint64_t f = 0; good && f < LDE + 8; f++) {
			bool listed = (f >= LO && f < HI) || (f >= LD && f < LDE), kept = f >= xs && f < xe;
			usable_out += listed && kept;
			managed += listed && !kept;
			good = phys_is_managed(f << 12) == (listed && !kept);
		}
		unsigned long long said = 0;
		const char *msg = strstr(out, "phys: the map lists ");
		good = good && (usable_out ? msg && sscanf(msg, "phys: the map lists %llu", &said) == 1 && said == usable_out : !msg);
		struct phys_stats s;
		phys_get_stats(&s);
		good = good && s.usable_pages == managed;
		if (good)
			phys_release_loader();
		for (paddr_t a; good && (a = phys_alloc(1, 0, UINT64_MAX));)
			good = !(a >> 12 >= xs && a >> 12 < xe);
		good = good && phys_check() == 0;
		n++;
		if (!good && wrong++ < 4)
			printf("# range 0x%llx + 0x%llx: init %d, usable frames kept out %llu, said %llu\n",
			       (unsigned long long)pa, (unsigned long long)bytes, r, (unsigned long long)usable_out, said);
	}
	ok(wrong == 0, "phys_init_except: %u generated ranges kept out (unaligned, empty, past RAM, wrapping), the "
	   "report's count as the model's (%u wrong)", n, wrong);
}

/*
 * The rule "a usable descriptor ending past the 52-bit physical space is ignored whole"
 * across the two usable classes, generated: real RAM usable now at [1 MiB, +0x4000 pages), real
 * loader memory at [96 MiB, +256 pages), and a bogus descriptor of one usable class, starting inside
 * the other class's real range (or below it), whose end lies past 2^40 frames (the counts of
 * test_usable_descriptor_past_physical_limit). Ignored whole, it changes nothing: 0x4000 pages usable
 * now, 256 loader pages, highest frame 0x6100. phys_collect once ignored it only while collecting
 * its own class (want); collecting the other class's "everything else" it clamped it to 8 TiB and
 * subtracted it, so a bogus LoaderData descriptor from 32 MiB took the real RAM above 32 MiB away and
 * a bogus Conventional one below 96 MiB the whole loader range.
 */
static void test_impossible_descriptor_other_class(void)
{
	const uint64_t counts[] = { 1ULL << 40, 1ULL << 52, (1ULL << 52) + 5, 1ULL << 63, UINT64_MAX };
	const uint32_t now_types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA };
	const uint32_t loader_types[] = { EFI_LOADER_CODE, EFI_LOADER_DATA };
	unsigned n = 0, bad = 0;
	for (unsigned k = 0; k < 2 * ARRAY_SIZE(counts) * 3; k++) {
		bool loader_bogus = k % 2;
		uint64_t count = counts[k / 2 % ARRAY_SIZE(counts)];
		uint64_t start = loader_bogus ? (0x200 + k * 0x80) << 12 : (0x5000 + k * 0x20) << 12;
		uint32_t type = loader_bogus ? loader_types[k / 10 % 2] : now_types[k / 10 % 3];
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);
		machine_map_add(&m, EFI_LOADER_DATA, 96ULL << 20, 256, 0);
		machine_map_add(&m, type, start, count, 0);
		int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
		struct phys_stats st;
		phys_get_stats(&st);
		n++;
		if ((r != 0 || st.usable_pages != 0x4000 + 256 || st.loader_pages != 256 || st.highest_pfn != 0x6100 ||
		     phys_check() != 0) && bad++ < 4)
			printf("# a bogus %s descriptor (type %u) from 0x%llx, 0x%llx pages: init %d, usable %llu (want %u), "
			       "loader %llu (want 256), highest 0x%llx (want 0x6100)\n", loader_bogus ? "loader" : "usable-now",
			       type, (unsigned long long)start, (unsigned long long)count, r,
			       (unsigned long long)st.usable_pages, 0x4000 + 256, (unsigned long long)st.loader_pages,
			       (unsigned long long)st.highest_pfn);
	}
	ok(bad == 0, "%u descriptors of one usable class ending past the 52-bit limit, inside the other class's real "
	   "memory: ignored whole, the other class's memory all managed (%u wrong)", n, bad);
}

/*
 * README: "A usable descriptor whose RAM would end past the 52-bit physical address space is
 * ignored whole, with a message." Generated maps of real RAM and 0..5 bogus usable descriptors (of
 * either usable class, counts of test_usable_descriptor_past_physical_limit) among bogus
 * descriptors past the limit that are not usable (reserved, MMIO, usable types with
 * EFI_MEMORY_RUNTIME), which are no RAM and take no count: the boot's message counts exactly the
 * usable ones, and there is none without them; the real RAM is all managed either way.
 */
static void test_impossible_descriptor_message(void)
{
	const uint64_t counts[] = { 1ULL << 40, 1ULL << 52, (1ULL << 52) + 5, 1ULL << 63, UINT64_MAX };
	const uint32_t usable[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA };
	const uint32_t other[] = { EFI_RESERVED, EFI_MMIO, EFI_CONVENTIONAL, EFI_LOADER_DATA };
	uint64_t st_rng = 0x52B175ULL;
	unsigned n = 0, wrong = 0, with = 0;
	for (unsigned c = 0; c < 120; c++) {
		unsigned k = c % 6, j = (unsigned)(test_rng_next(&st_rng) % 4);
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);
		for (unsigned i = 0; i < k + j; i++) {
			uint64_t x = test_rng_next(&st_rng), start = (0x5000 + (x % 0x100) * 0x40) << 12;
			uint64_t count = counts[(x >> 16) % ARRAY_SIZE(counts)];
			unsigned t = (unsigned)(x >> 32);
			if (i < k)
				machine_map_add(&m, usable[t % ARRAY_SIZE(usable)], start, count, 0);
			else   /* the usable types of other[] carry EFI_MEMORY_RUNTIME: not RAM the kernel may use */
				machine_map_add(&m, other[t % ARRAY_SIZE(other)], start, count,
						other[t % ARRAY_SIZE(other)] == EFI_CONVENTIONAL ||
						other[t % ARRAY_SIZE(other)] == EFI_LOADER_DATA ? EFI_MEMORY_RUNTIME : 0);
		}
		char out[2048];
		struct phys_stats st;
		int r = machine_phys_init(&m, out, sizeof(out), &st);
		unsigned long long said = 0;
		const char *msg = strstr(out, "phys: ignoring ");
		bool counted = msg && sscanf(msg, "phys: ignoring %llu usable descriptor(s) whose RAM ends past the 52-bit", &said) == 1;
		bool good = r == 0 && st.usable_pages == 0x4000 && st.highest_pfn == 0x4100 && phys_check() == 0 &&
			    (k ? counted && said == k : !strstr(out, "past the 52-bit"));
		n++;
		with += k != 0;
		if (!good && wrong++ < 4)
			printf("# %u usable and %u other bogus descriptors: init %d, usable %llu, message %s\n", k, j, r,
			       (unsigned long long)st.usable_pages, msg ? msg : "(none)");
	}
	ok(wrong == 0 && with == 100, "%u maps with 0..5 usable descriptors past the 52-bit limit among non-usable ones: "
	   "the boot's message counts exactly the usable ones, none without (%u wrong)", n, wrong);
}

/*
 * Frames held back for the loader bound every run the allocator may free, with several loader
 * ranges in the map: a free (or an allocation check) of frames from a usable range into the next
 * held-back loader range is refused at that range's first frame, wherever the frame lies after
 * earlier loader ranges; phys_is_free and phys_is_allocated refuse counts that run past the top
 * of the address space. Generated over the three gaps and run lengths.
 */
static void test_loader_ranges_bound_frees(void)
{
	machine_map_init(&m, 48);
	for (unsigned k = 0; k < 3; k++) {   /* usable [1 + 8k MiB, 8 + 8k MiB), loader [8 + 8k, 9 + 8k MiB) */
		machine_map_add(&m, EFI_CONVENTIONAL, (1ULL + 8 * k) << 20, 7 << 8, 0);
		machine_map_add(&m, EFI_LOADER_DATA, (8ULL + 8 * k) << 20, 1 << 8, 0);
	}
	is(phys_init(m.buf, machine_map_size(&m), m.desc_size), 0, "three usable ranges, each followed by loader data");
	bugcheck_set_hook(bugcheck_record_hook);
	uint64_t st = 0xB0B0B0ULL;
	unsigned cases = 0, wrong = 0;
	for (unsigned c = 0; c < 60; c++) {
		unsigned k = c % 3;
		uint64_t loader = (8ULL + 8 * k) << 20, n = 1 + test_rng_next(&st) % 8, extra = 1 + test_rng_next(&st) % 4;
		paddr_t pa = loader - n * PAGE_SIZE;
		if (phys_alloc(n, pa, loader) != pa) {
			wrong++;
			continue;
		}
		uint64_t c0 = bugcheck_last.count;
		bool refused_alloc = !phys_is_allocated(pa, n + extra);
		phys_free(pa, n + extra);
		bool good = refused_alloc && bugcheck_last.count == c0 + 1 && bugcheck_last.p[0] == PHYS_BUGCHECK_BAD_FREE &&
			    bugcheck_last.p[3] == loader && phys_is_allocated(pa, n) && !phys_is_free(pa, UINT64_MAX - n) &&
			    !phys_is_free(loader, UINT64_MAX) && !phys_is_allocated(pa, UINT64_MAX);
		phys_free(pa, n);
		good &= bugcheck_last.count == c0 + 1 && phys_is_free(pa, n) && phys_check() == 0;
		cases++;
		if (!good && wrong++ < 3)
			printf("# %llu frames before loader range %u and %llu into it: refused %d, bug checks %llu, P4 0x%llx\n",
			       (unsigned long long)n, k, (unsigned long long)extra, refused_alloc,
			       (unsigned long long)(bugcheck_last.count - c0), (unsigned long long)bugcheck_last.p[3]);
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees running from a usable range into the next held-back loader range (of three): 0x1A naming "
	   "its first frame, nothing freed", cases);
}

/*
 * RAM a map lists at or past the CPU's physical address width (below the 52-bit format's limit: a
 * firmware's bug, or a map written for another CPU): frames there cannot go into a PTE, so the
 * allocator manages only those below, and says how many it left out. Over widths 32..36 and ranges
 * ending below, at, across and wholly past the width.
 */
static void test_ram_past_cpu_width(void)
{
	enum { LOW = 16384 };
	unsigned n = 0, bad = 0;
	for (unsigned bits = 32; bits <= 36; bits++)   /* the fake RAM backs 64 GiB: 36 bits */
		for (unsigned k = 0; k < 6; k++, n++) {
			fake_arch_set_phys_bits(bits);
			uint64_t limit = 1ULL << (bits - PAGE_SHIFT);   /* the first frame past the width */
			/* a range ending below, exactly at, across (by 1 or many frames), or wholly past the width */
			static const int64_t ends[6] = { -7, 0, 1, 300, 5000, -1 };
			uint64_t start = k == 5 ? limit + 9 : limit - 200, end = k == 5 ? limit + 400 : limit + ends[k];
			machine_map_init(&m, 48);
			machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, LOW, 0);   /* room for the metadata */
			machine_map_add(&m, EFI_CONVENTIONAL, start << 12, end - start, 0);
			char out[1024];
			struct phys_stats st;
			int r = machine_phys_init(&m, out, sizeof(out), &st);
			uint64_t below = MIN(end, limit) > start ? MIN(end, limit) - start : 0, past = end - start - below;
			char want[160];
			snprintf(want, sizeof want, "ignoring %llu pages of RAM at or above 0x%llx", (unsigned long long)past,
				 (unsigned long long)(limit << 12));
			bool good = r == 0 && st.usable_pages == LOW + below && st.highest_pfn <= limit &&
				    !phys_is_managed(limit << 12) && !phys_is_managed((end - 1) << 12) == (end > limit) &&
				    (!below || phys_is_managed((start + below - 1) << 12)) &&
				    (past ? strstr(out, want) != NULL : strstr(out, "ignoring") == NULL);
			if (!good && bad++ < 4)
				printf("# width %u, frames 0x%llx..0x%llx: init %d, usable %llu (want %llu), highest 0x%llx; said: %s\n",
				       bits, (unsigned long long)start, (unsigned long long)end, r, (unsigned long long)st.usable_pages,
				       (unsigned long long)(LOW + below), (unsigned long long)st.highest_pfn, out);
		}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0, "%u maps with RAM below, at, across and past the CPU's width (32..36 bits): only frames below it "
	   "managed, the rest reported by count", n);
}

int main(void)
{
	fake_arch_init();
	test_simple_map();
	test_overlap_unsorted_48byte_high_ram();
	test_40byte_stride_and_bounds();
	test_bad_maps();
	test_generated_maps();
	test_full_map_frame0();
	test_zeroed_page_and_is_free_edges();
	test_verifier_patterns();
	test_geometry_refusals();
	test_budget_edges();
	test_zero_page_descriptors();
	test_huge_page_counts();
	test_unaligned_starts();
	test_unaligned_single_page();
	test_unaligned_reserved_descriptor();
	test_overlap_chain_at_capacity();
	test_meta_pages_exact();
	test_init_except();
	test_impossible_descriptor_message();
	test_loader_ranges_bound_frees();
	test_usable_descriptor_past_physical_limit();
	test_ram_past_cpu_width();
	test_impossible_descriptor_other_class();
	return tap_done();
}
