/*
 * Host tests of the nonpaged pool (mm/pool.c) and the MDL toolkit (mm/mdl.c) on a fake machine: two
 * RAM ranges (32 MiB at 1 MiB, 16 MiB at 4 GiB), page tables with the fake direct map mapped (so the
 * page-table walk of MmBuildMdlForNonPagedPool sees pool addresses) and a 16 MiB system PTE region.
 * System-PTE mappings are not host mappings: they are checked through pt_query, never dereferenced.
 * Every misuse is intercepted with bugcheck_record_hook and followed by a check that nothing changed.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "wdm.h"
#include "pool.h"
#include "phys.h"
#include "pt.h"
#include "syspte.h"
#include "syspte_impl.h"   /* the region's lock, held by "another CPU" in test_map_frames_changed */
#include "reserved.h"
#include "bugcheck.h"
#include "mdl.h"
#include "model_mdl.h"
#include "testhooks.h"
#include "test_rng.h"

#define LOW_BASE 0x100000ULL
#define LOW_PAGES 8192ULL                 /* 32 MiB */
#define HIGH_BASE 0x100000000ULL
#define HIGH_PAGES 4096ULL                /* 16 MiB */
#define REGION_BASE 0xffffc00000000000ULL
#define REGION_PAGES 4096ULL              /* 16 MiB */
#define TAG_A POOL_TAG4('T', 's', 't', 'A')
#define TAG_B POOL_TAG4('T', 's', 't', 'B')
#define TAG_R POOL_TAG4('R', 's', 'v', 'd')

static struct machine_map m;
static struct pt pt;

static PHYSICAL_ADDRESS pa_of(uint64_t v) { PHYSICAL_ADDRESS p; p.QuadPart = (int64_t)v; return p; }
static void *dmap(paddr_t pa) { return arch_phys_to_virt(pa); }
static paddr_t virt_to_pa(const void *p) { return (paddr_t)((uintptr_t)p - (uintptr_t)arch_phys_to_virt(0)); }

/* ---------------------------------------------------------------- state snapshots and bug checks */

/* What a misuse or a refusal must leave as it was: the page allocator, the region, and the pool's
 * live blocks and pages (empty slabs the pool keeps for reuse are trimmed first). */
struct snap {
	struct phys_stats phys;
	struct syspte_stats sys;
	uint64_t pool_bytes, pool_small, pool_large, pool_pages;
};

static void take(struct snap *s)
{
	struct pool_stats ps;
	memset(s, 0, sizeof(*s));
	pool_trim();
	pool_get_stats(&ps);
	s->pool_bytes = ps.bytes_live;
	s->pool_small = ps.small_live;
	s->pool_large = ps.large_live;
	s->pool_pages = ps.slab_pages + ps.large_pages;
	phys_get_stats(&s->phys);
	syspte_get_stats(reserved_region(), &s->sys);
	/* activity counters of the per-CPU caches, not state: a reserve and its free move them */
	s->sys.cache_fast = s->sys.cache_slow = s->sys.cache_drains = 0;
}

static bool same(const struct snap *a)
{
	struct snap b;
	take(&b);
	return memcmp(a, &b, sizeof(b)) == 0;
}

static uint64_t bc_count;
static void intercept(void)
{
	bugcheck_set_hook(bugcheck_record_hook);
	memset(&bugcheck_last, 0, sizeof(bugcheck_last));
	bc_count = 0;
}
static void release(void) { bugcheck_set_hook(NULL); }

/* True when exactly one new bug check code/p1 was recorded since the last call. */
static bool fired(uint32_t code, uint64_t p1)
{
	bool r = bugcheck_last.count == bc_count + 1 && bugcheck_last.code == code && bugcheck_last.p[0] == p1;
	if (!r)
		printf("#   bug check: count %llu (want %llu) code 0x%x p1 0x%llx\n",
		       (unsigned long long)bugcheck_last.count, (unsigned long long)bc_count + 1, bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0]);
	bc_count = bugcheck_last.count;
	return r;
}
static bool none_fired(void) { return bugcheck_last.count == bc_count; }

static uint64_t prng = 0x2545F4914F6CDD1DULL;

/* Xorshift choice in [0, n) from the generator *st; 0 when n is 0. */
static uint64_t rnd_in(uint64_t *st, uint64_t n)
{
	uint64_t x = test_rng_next(st);
	return n ? x % n : 0;
}

/* rnd_in on the shared generator of the malformed-MDL and frame tests. */
static uint64_t rnd(uint64_t n) { return rnd_in(&prng, n); }

/* ---------------------------------------------------------------- set-up */

static void setup(void)
{
	fake_arch_init();
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, LOW_BASE, LOW_PAGES, 0);
	machine_map_add(&m, EFI_CONVENTIONAL, HIGH_BASE, HIGH_PAGES, 0);
	if (phys_init(m.buf, machine_map_size(&m), m.desc_size) || pt_create(&pt, PT_FEAT_ALL)) {
		printf("Bail out! machine set-up failed\n");
		exit(1);
	}
	/* The fake direct map, so translating pool addresses through the tables works as on the kernel. */
	pt_map(&pt, (vaddr_t)dmap(LOW_BASE), LOW_BASE, LOW_PAGES * PAGE_SIZE, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M);
	pt_map(&pt, (vaddr_t)dmap(HIGH_BASE), HIGH_BASE, HIGH_PAGES * PAGE_SIZE, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M);
	struct syspte_region *r = syspte_create(&pt, REGION_BASE, REGION_PAGES);
	reserved_set_region(r);
	if (!r) {
		printf("Bail out! syspte_create failed\n");
		exit(1);
	}
	mm_set_kernel_pt(&pt);
}

/* PFN behind a kernel VA in our tables, or 0. */
static PFN_NUMBER pfn_at(vaddr_t va)
{
	paddr_t pa;
	return pt_query(&pt, va, &pa, NULL, NULL) ? pa_to_pfn(pa) : 0;
}

static uint64_t tag_live(uint32_t tag)
{
	struct pool_tag_total t;
	return pool_tag_get(tag, &t) ? t.bytes_live : 0;
}

/* ---------------------------------------------------------------- MDL layout and sizes */

static void test_layout(void)
{
	is(sizeof(MDL), 0x30, "sizeof(MDL) == 0x30");
	is(offsetof(MDL, Size), 0x08, "Size @0x08");
	is(offsetof(MDL, MdlFlags), 0x0A, "MdlFlags @0x0A");
	is(offsetof(MDL, AllocationProcessorNumber), 0x0C, "AllocationProcessorNumber @0x0C");
	is(offsetof(MDL, Reserved), 0x0E, "Reserved @0x0E");
	is(offsetof(MDL, Process), 0x10, "Process @0x10");
	is(offsetof(MDL, MappedSystemVa), 0x18, "MappedSystemVa @0x18");
	is(offsetof(MDL, StartVa), 0x20, "StartVa @0x20");
	is(offsetof(MDL, ByteCount), 0x28, "ByteCount @0x28");
	is(offsetof(MDL, ByteOffset), 0x2C, "ByteOffset @0x2C");
	MDL x;
	is((uintptr_t)MmGetMdlPfnArray(&x) - (uintptr_t)&x, 0x30, "PFN array right after the header");

	is(MmSizeOfMdl((PVOID)0x1000, 0), 0x30, "MmSizeOfMdl: 0 bytes is the header");
	is(MmSizeOfMdl((PVOID)0x1000, 1), 0x38, "1 byte: one PFN");
	is(MmSizeOfMdl((PVOID)0x1000, 4096), 0x38, "one aligned page");
	is(MmSizeOfMdl((PVOID)0x1800, 4096), 0x40, "one unaligned page spans two");
	is(MmSizeOfMdl((PVOID)0x1fff, 2), 0x40, "two bytes across a boundary");
	is(MmSizeOfMdl((PVOID)0x1000, 0xffffffffULL), 0x30 + 8 * 0x100000ULL, "4 GiB - 1");
	is(MmSizeOfMdl((PVOID)0x1000, UINT64_MAX), 0, "uncountable length: 0");
	is(MmSizeOfMdl((PVOID)0x1fff, 0ULL - 2 * PAGE_SIZE - 1), 0x30 + 8 * ((1ULL << 52) - 1),
	   "a length 8 KiB + 1 byte short of 2^64 is counted (2^52 - 1 pages)");
	is(MmSizeOfMdl((PVOID)0x1000, 0ULL - 2 * PAGE_SIZE), 0, "a length within 8 KiB of 2^64: 0 (docs/contract.md)");

	struct { MDL m; PFN_NUMBER p[4]; } s;
	memset(&s, 0xA5, sizeof(s));
	MmInitializeMdl(&s.m, (PVOID)0xffff800000012345ULL, 0x2000);
	ok(s.m.Next == NULL && s.m.MdlFlags == 0 && s.m.Process == NULL && s.m.MappedSystemVa == NULL,
	   "MmInitializeMdl: Next, flags, Process, MappedSystemVa cleared");
	is((uintptr_t)s.m.StartVa, 0xffff800000012000ULL, "StartVa page aligned");
	is(s.m.ByteOffset, 0x345, "ByteOffset");
	is(s.m.ByteCount, 0x2000, "ByteCount");
	is(s.m.Size, 0x30 + 3 * 8, "Size covers the 3 pages spanned");
	is((uintptr_t)MmGetMdlVirtualAddress(&s.m), 0xffff800000012345ULL, "MmGetMdlVirtualAddress");

	intercept();
	MmInitializeMdl(NULL, NULL, 1);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "MmInitializeMdl(NULL): 0x50 at address 0");
	release();
}

/* ---------------------------------------------------------------- pool */

static void test_pool_basics(void)
{
	struct snap before;
	take(&before);
	is(ExAllocatePoolWithTag(NonPagedPool, 0, TAG_A), 0, "0 bytes: NULL");
	is(ExAllocatePoolWithTag((POOL_TYPE)1, 16, TAG_A), 0, "PagedPool (1): NULL");
	is(ExAllocatePoolWithTag((POOL_TYPE)513, 16, TAG_A), 0, "unknown pool type: NULL");
	ok(same(&before), "refused allocations change nothing");

	static const size_t sizes[] = { 1, 15, 16, 17, 31, 48, 100, 128, 129, 500, 1000, 1024, 2000, 2016, 2017,
					4095, 4096, 4097, 10000, 65536 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]), REP = 5 };
	static uint8_t *p[N][REP];
	bool aligned = true, large_paged = true, info_ok = true, direct = true;
	for (unsigned i = 0; i < N; i++)
		for (unsigned r = 0; r < REP; r++) {
			p[i][r] = ExAllocatePoolWithTag(i % 2 ? NonPagedPoolNx : NonPagedPool, sizes[i], TAG_A);
			if (!p[i][r])
				continue;
			aligned &= ((uintptr_t)p[i][r] % POOL_ALIGN) == 0;
			if (sizes[i] > POOL_SMALL_MAX)
				large_paged &= ((uintptr_t)p[i][r] % PAGE_SIZE) == 0;
			size_t sz; uint32_t tg;
			info_ok &= pool_block_info(p[i][r], &sz, &tg) && sz == sizes[i] && tg == TAG_A;
			direct &= phys_is_managed(virt_to_pa(p[i][r]));
			memset(p[i][r], (int)(i * REP + r + 1), sizes[i]);
		}
	bool all = true;
	for (unsigned i = 0; i < N; i++)
		for (unsigned r = 0; r < REP; r++)
			all &= p[i][r] != NULL;
	ok(all, "every allocation succeeded");
	ok(aligned, "16-byte aligned");
	ok(large_paged, "blocks over %u bytes are page aligned", POOL_SMALL_MAX);
	ok(info_ok, "pool_block_info reports size and tag");
	ok(direct, "addresses are in the direct map");
	bool intact = true;
	for (unsigned i = 0; i < N; i++)
		for (unsigned r = 0; r < REP; r++)
			for (size_t b = 0; b < sizes[i]; b++)
				intact &= p[i][r][b] == (uint8_t)(i * REP + r + 1);
	ok(intact, "no two blocks overlap (patterns intact)");
	uint64_t want = 0;
	for (unsigned i = 0; i < N; i++)
		want += sizes[i] * REP;
	struct pool_tag_total t;
	ok(pool_tag_get(TAG_A, &t) && t.bytes_live == want && t.allocs - t.frees == N * REP, "per-tag bytes and count");
	is(pool_check(), 0, "pool_check clean with blocks live");
	for (unsigned i = 0; i < N; i++)
		for (unsigned r = 0; r < REP; r++)
			if (r % 2)
				ExFreePoolWithTag(p[i][r], TAG_A);
			else
				ExFreePool(p[i][r]);
	ok(pool_tag_get(TAG_A, &t) && t.bytes_live == 0 && t.allocs == t.frees, "per-tag totals back to zero");
	is(pool_check(), 0, "pool_check clean after frees");
	pool_trim();
	ok(same(&before), "all pool pages back with the page allocator after pool_trim");

	/* Tag 0 is accepted; ExFreePoolWithTag(p, 0) does not check the tag. */
	void *z = ExAllocatePoolWithTag(NonPagedPool, 40, 0);
	ok(z != NULL, "tag 0 accepted");
	void *y = ExAllocatePoolWithTag(NonPagedPool, 40, TAG_B);
	intercept();
	ExFreePoolWithTag(z, 0);
	ExFreePoolWithTag(y, 0);
	ok(none_fired(), "ExFreePoolWithTag(p, 0) frees any tag");
	release();

	struct pool_tag_total tt[8];
	size_t n = pool_tag_totals(tt, 8);
	bool sorted = n >= 3;
	for (size_t i = 1; i < n && i < 8; i++)
		sorted &= tt[i - 1].tag < tt[i].tag;
	ok(sorted, "pool_tag_totals sorted by tag (%zu tags)", n);
	pool_dump();
}

static void test_pool_misuse(void)
{
	uint8_t *small = ExAllocatePoolWithTag(NonPagedPool, 100, TAG_A);
	uint8_t *small2 = ExAllocatePoolWithTag(NonPagedPool, 100, TAG_A);
	uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, 3 * PAGE_SIZE, TAG_A);
	ok(small && small2 && big, "blocks for misuse");
	struct snap s;
	take(&s);
	intercept();

	ExFreePoolWithTag(small, TAG_B);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG), "wrong tag: 0xC2/0x0A");
	ok(bugcheck_last.p[1] == (uintptr_t)small && bugcheck_last.p[2] == TAG_A && bugcheck_last.p[3] == TAG_B,
	   "0x0A parameters: address, allocator's tag, caller's tag");
	ExFreePoolWithTag(big, TAG_B);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG) && bugcheck_last.p[1] == (uintptr_t)big,
	   "wrong tag on a large block");
	ok(same(&s) && pool_block_info(small, NULL, NULL) && pool_block_info(big, NULL, NULL), "blocks still live");

	int on_stack;
	ExFreePool(&on_stack);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL) && bugcheck_last.p[1] == (uintptr_t)&on_stack,
	   "stack address: 0x42 with the address");
	paddr_t pg = phys_alloc(1, 0, UINT64_MAX);
	take(&s);
	ExFreePool((uint8_t *)dmap(pg) + 48);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL), "direct-map page not in the pool: 0x42");
	ExFreePool(dmap(pg));
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL), "page-aligned non-pool address: 0x42");
	ExFreePool(small + 16);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_BAD_ADDRESS) && bugcheck_last.p[1] == (uintptr_t)(small + 16),
	   "inside a block: 0x46");
	ExFreePool((void *)((uintptr_t)small & ~(uintptr_t)PAGE_MASK) + 8);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_BAD_ADDRESS), "inside the slab header: 0x46");
	ExFreePool(NULL);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_BAD_ADDRESS) && bugcheck_last.p[1] == 0, "NULL: 0x46");
	ok(same(&s), "nothing changed by the misuses");

	ExFreePoolWithTag(small, TAG_A);
	ok(none_fired(), "proper free");
	take(&s);
	ExFreePoolWithTag(small, TAG_A);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_DOUBLE_FREE) && bugcheck_last.p[3] == (uintptr_t)small,
	   "double free of a small block: 0x07, P4 address");
	ok((bugcheck_last.p[2] >> 32) == TAG_A, "0x07 P3 carries the header (tag in the high half)");
	ExFreePool(big);
	ok(none_fired(), "large freed");
	take(&s);
	ExFreePool(big);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_DOUBLE_FREE) && bugcheck_last.p[3] == (uintptr_t)big,
	   "double free of a large block: 0x07");
	ok(same(&s), "double frees changed nothing");
	ExFreePool(small2);
	phys_free(pg, 1);
	release();
	is(pool_check(), 0, "pool_check clean after misuse");
	is(tag_live(TAG_A), 0, "TAG_A back to zero");
}

static void test_pool_exhaustion(void)
{
	struct snap s0;
	struct pool_stats p0;
	take(&s0);
	pool_get_stats(&p0);
	enum { MAXP = 200000 };
	void **v = calloc(MAXP, sizeof(*v));
	size_t n = 0, big = 0;
	while (n < MAXP && (v[n] = ExAllocatePoolWithTag(NonPagedPool, 64 * 1024, TAG_B)))
		n++, big++;
	while (n < MAXP && (v[n] = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, TAG_B)))
		n++;
	while (n < MAXP && (v[n] = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_B)))
		n++;
	struct pool_stats ps;
	pool_get_stats(&ps);
	ok(big > 100 && n > big, "exhausted after %zu blocks (%zu of 64 KiB)", n, big);
	ok(ps.failures >= p0.failures + 3, "refusals counted");
	ok(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_B) == NULL, "still NULL when exhausted");
	is(pool_check(), 0, "pool_check clean at exhaustion");
	for (size_t i = 0; i < n; i++)
		ExFreePoolWithTag(v[i], TAG_B);
	is(tag_live(TAG_B), 0, "TAG_B back to zero");
	ok(same(&s0), "every page back");
	void *again = ExAllocatePoolWithTag(NonPagedPool, 64 * 1024, TAG_B);
	ok(again != NULL, "allocations succeed again");
	ExFreePool(again);
	free(v);
	is(pool_check(), 0, "pool_check clean after recovery");
}

/* ---------------------------------------------------------------- IoAllocateMdl / IoFreeMdl / build */

static void test_io_allocate(void)
{
	struct snap s;
	take(&s);
	is(IoAllocateMdl((PVOID)0x10000, 4096, 0, 0, (PIRP)0x1000), 0, "Irp not NULL: NULL");
	is(IoAllocateMdl((PVOID)0x10000, 0, 0, 0, NULL), 0, "Length 0: NULL");
	is(IoAllocateMdl((PVOID)0xfffffffffffff000ULL, 0x2000, 0, 0, NULL), 0, "range wraps: NULL");
	ok(same(&s), "refusals allocate nothing");
	/* The edges of Length (4 GiB - 4 KiB, Windows' largest MDL) and of the address space's top: a range
	 * ending at 2^64 exactly, or 1 or 2 bytes below, is valid; ending 1 to 3 bytes past it wraps. */
	unsigned edge_bad = 0, edge_cases = 0;
	const ULONG lengths[] = { 1, 2, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 0x12345, (ULONG)MDL_MAX_BYTES - 1, (ULONG)MDL_MAX_BYTES };
	for (unsigned k = 0; k < ARRAY_SIZE(lengths); k++)
		for (uint64_t off = 0; off < 3; off++, edge_cases++) {
			ULONG len = lengths[k];
			vaddr_t end_at_top = 0 - (vaddr_t)len - off;   /* ends off bytes below 2^64 */
			take(&s);
			PMDL top = IoAllocateMdl((PVOID)end_at_top, len, 0, 0, NULL);
			bool good = top && mdl_validate(top, MDL_CHECK_BYTES, NULL) == MDL_VALID && top->ByteCount == len &&
				    (vaddr_t)MmGetMdlVirtualAddress(top) == end_at_top &&
				    mdl_span_pages(top) == ADDRESS_AND_SIZE_TO_SPAN_PAGES(end_at_top, len);
			if (top)
				IoFreeMdl(top);
			if (len > 1 + off) {   /* the same length 1 + off bytes past 2^64 (a start that is not 0 again) */
				PMDL past = IoAllocateMdl((PVOID)(0 - (vaddr_t)len + 1 + off), len, 0, 0, NULL);
				good &= past == NULL;
				if (past)
					IoFreeMdl(past);
			}
			good &= same(&s);
			if (!good && edge_bad++ < 5)
				printf("# IoAllocateMdl at 0x%llx, %u bytes\n", (unsigned long long)end_at_top, (unsigned)len);
		}
	for (uint64_t over = 1; over <= 3; over++, edge_cases++)   /* above 4 GiB - 4 KiB: NULL, wherever */
		edge_bad += IoAllocateMdl((PVOID)(0x10000 + over), (ULONG)(MDL_MAX_BYTES + over), 0, 0, NULL) != NULL ||
			    IoAllocateMdl(NULL, (ULONG)(0xffffffffu - over + 1), 0, 0, NULL) != NULL || !same(&s);
	ok(edge_bad == 0, "%u IoAllocateMdl edges: lengths up to 4 GiB - 4 KiB granted, above it NULL; a range ending at "
	   "2^64 exactly (or just below) granted and valid, ending past it NULL, nothing allocated by a refusal", edge_cases);
	PMDL mdl = IoAllocateMdl((PVOID)0xffff800000101234ULL, 0x3000, 0, 0, NULL);
	ok(mdl != NULL, "IoAllocateMdl");
	is((uintptr_t)mdl->StartVa, 0xffff800000101000ULL, "StartVa");
	is(mdl->ByteOffset, 0x234, "ByteOffset");
	is(mdl->ByteCount, 0x3000, "ByteCount");
	is(mdl->MdlFlags, 0, "flags 0");
	is(mdl->Size, 0x30 + 4 * 8, "Size");
	size_t sz;
	uint32_t tg;
	ok(pool_block_info(mdl, &sz, &tg) && tg == MDL_TAG_IO && sz == 0x30 + 4 * 8, "from the pool, tag 'Mdl '");
	IoFreeMdl(mdl);
	is(tag_live(MDL_TAG_IO), 0, "IoFreeMdl returns it");

	intercept();
	struct { MDL m; PFN_NUMBER p[2]; } st;
	MmInitializeMdl(&st.m, (PVOID)0x1000, 4096);
	take(&s);
	IoFreeMdl(&st.m);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL), "IoFreeMdl of a stack MDL: 0xC2/0x42");
	PMDL pages = MmAllocatePagesForMdl(pa_of(0), pa_of(UINT64_MAX), pa_of(0), PAGE_SIZE);
	take(&s);
	IoFreeMdl(pages);
	ok(fired(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG), "IoFreeMdl of a MmAllocatePagesForMdl MDL: 0x0A");
	ok(same(&s), "unchanged");
	MmFreePagesFromMdl(pages);
	ExFreePool(pages);
	ok(none_fired(), "proper release");
	release();
}

static void test_build_nonpaged(void)
{
	/* Pool memory: a large (page-aligned, 3 pages) and a small unaligned block. */
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, 3 * PAGE_SIZE, TAG_A);
	PMDL mdl = IoAllocateMdl(buf + 100, 2 * PAGE_SIZE, 0, 0, NULL);
	MmBuildMdlForNonPagedPool(mdl);
	bool pf = true;
	for (unsigned i = 0; i < 3; i++)
		pf &= MmGetMdlPfnArray(mdl)[i] == pa_to_pfn(virt_to_pa(buf)) + i;
	ok(pf, "PFNs of a pool buffer (3 pages spanned)");
	ok((mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) && mdl->MappedSystemVa == buf + 100,
	   "SOURCE_IS_NONPAGED_POOL, MappedSystemVa = StartVa + ByteOffset");
	ok(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == buf + 100, "system address: the pool address");
	ok(MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, 0, 0) == buf + 100,
	   "MmMapLockedPagesSpecifyCache of a pool MDL returns MappedSystemVa");
	intercept();
	MmUnmapLockedPages(buf + 100, mdl);
	ok(none_fired(), "MmUnmapLockedPages of a pool MDL: no-op");
	IoFreeMdl(mdl);
	ExFreePool(buf);

	/* A system-PTE mapping and an unmapped page inside a reservation. */
	PMDL pages = MmAllocatePagesForMdlEx(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 3 * PAGE_SIZE, MmCached, 0);
	char *r = MmAllocateMappingAddress(8 * PAGE_SIZE, TAG_R);
	ok(pages && r, "pages and a reservation");
	ok(MmMapLockedPagesWithReservedMapping(r, TAG_R, pages, MmCached) == r, "mapped at the start");
	PMDL tear = IoAllocateMdl(r, 3 * PAGE_SIZE, 0, 0, NULL);
	MmBuildMdlForNonPagedPool(tear);
	ok(memcmp(MmGetMdlPfnArray(tear), MmGetMdlPfnArray(pages), 3 * sizeof(PFN_NUMBER)) == 0,
	   "PFNs of a system-PTE mapping found by the walk");
	PMDL over = IoAllocateMdl(r + PAGE_SIZE, 3 * PAGE_SIZE, 0, 0, NULL);
	MmGetMdlPfnArray(over)[0] = 0x1234;
	struct snap s;
	take(&s);
	MmBuildMdlForNonPagedPool(over);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, (uintptr_t)(r + 3 * PAGE_SIZE)),
	   "unmapped page: 0x50 naming the first unmapped address");
	is(bugcheck_last.p[3], (uintptr_t)r, "P4: the reservation's base");
	ok(over->MdlFlags == 0 && MmGetMdlPfnArray(over)[0] == 0x1234 && over->MappedSystemVa == NULL && same(&s),
	   "MDL unchanged");
	MmBuildMdlForNonPagedPool(NULL);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "NULL MDL: 0x50 at 0");
	IoFreeMdl(over);
	MmUnmapReservedMapping(r, TAG_R, tear);
	ok(none_fired() && !pfn_at((vaddr_t)r), "unmapped through the built MDL");
	MmFreeMappingAddress(r, TAG_R);
	IoFreeMdl(tear);
	MmFreePagesFromMdl(pages);
	ExFreePool(pages);
	release();
}

/* The flags of an MDL that already describes pages (README: locked, mapped, pool or partial). */
#define DESCRIBES_PAGES (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL | \
			 MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA)

/*
 * MmBuildMdlForNonPagedPool over every combination of the flags that say an MDL describes pages,
 * with and without flags that do not (ALLOCATED_FIXED_SIZE, IO_PAGE_READ), and four kinds of
 * MappedSystemVa (NULL, the data address, a page-aligned and an unaligned system address): a
 * malformed MDL is the reference's 0x1A (model_mdl.h), one that describes pages is 0x4D440108
 * with its flags, the rest is built (PFNs of the buffer, SOURCE_IS_NONPAGED_POOL added, the data
 * address); a refusal changes neither the MDL nor any allocator.
 */
static void test_build_flags_generated(void)
{
	static const uint16_t bits[] = { MDL_PAGES_LOCKED, MDL_MAPPED_TO_SYSTEM_VA, MDL_SOURCE_IS_NONPAGED_POOL, MDL_PARTIAL,
					 MDL_PARTIAL_HAS_BEEN_MAPPED, MDL_PARENT_MAPPED_SYSTEM_VA, MDL_ALLOCATED_FIXED_SIZE,
					 MDL_IO_PAGE_READ };
	enum { NB = sizeof(bits) / sizeof(bits[0]) };
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, 3 * PAGE_SIZE, TAG_A);
	PMDL mdl = IoAllocateMdl(buf + 0x234, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
	ok(buf && mdl, "a pool buffer and its MDL");
	if (!buf || !mdl)
		return;
	size_t block = 0;
	pool_block_info(mdl, &block, NULL);
	unsigned cases = 0, right = 0, built = 0, refused_state = 0, malformed = 0;
	struct { MDL m; PFN_NUMBER p[3]; } saved;
	struct snap s;
	intercept();
	for (unsigned set = 0; set < (1u << NB); set++)
		for (unsigned v = 0; v < 4; v++) {
			uint16_t f = 0;
			for (unsigned b = 0; b < NB; b++)
				if (set & (1u << b))
					f |= bits[b];
			PVOID sys = v == 0 ? NULL : v == 1 ? MmGetMdlVirtualAddress(mdl) :
				    v == 2 ? (PVOID)(REGION_BASE + PAGE_SIZE) : (PVOID)(REGION_BASE + 0x10);
			mdl->MdlFlags = (CSHORT)f;
			mdl->MappedSystemVa = sys;
			for (unsigned i = 0; i < 3; i++)
				MmGetMdlPfnArray(mdl)[i] = 0x77;
			uint64_t p3, p4;
			int rule = ref_mdl_check(mdl, true, false, arch_phys_addr_bits(), block, &p3, &p4);
			memcpy(&saved, mdl, sizeof(saved));
			take(&s);
			MmBuildMdlForNonPagedPool(mdl);
			bool good;
			if (rule) {
				malformed++;
				good = bugcheck_last.count == bc_count + 1 && bugcheck_last.p[0] == REF_MDL_SUBCODE(rule) &&
				       bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4;
			} else if (f & DESCRIBES_PAGES) {
				refused_state++;
				good = bugcheck_last.count == bc_count + 1 && bugcheck_last.p[0] == MDL_BUGCHECK_BUILD_BAD_MDL &&
				       bugcheck_last.p[1] == (uintptr_t)mdl && bugcheck_last.p[2] == f;
			} else {
				built++;
				good = none_fired() && mdl->MdlFlags == (CSHORT)(f | MDL_SOURCE_IS_NONPAGED_POOL) &&
				       mdl->MappedSystemVa == buf + 0x234;
				for (unsigned i = 0; i < 3; i++)
					good &= MmGetMdlPfnArray(mdl)[i] == pa_to_pfn(virt_to_pa(buf)) + i;
			}
			if (rule || (f & DESCRIBES_PAGES))
				good &= bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT && memcmp(&saved, mdl, sizeof(saved)) == 0 &&
					same(&s);
			bc_count = bugcheck_last.count;
			cases++;
			right += good;
			if (!good && right + 3 > cases)
				printf("# flags 0x%x, MappedSystemVa kind %u: rule %d, bug check 0x%llx\n", f, v, rule,
				       (unsigned long long)bugcheck_last.p[0]);
		}
	release();
	mdl->MdlFlags = 0;
	mdl->MappedSystemVa = NULL;
	IoFreeMdl(mdl);
	ExFreePool(buf);
	ok(right == cases && built >= 8 && refused_state > 100 && malformed > 100,
	   "MmBuildMdlForNonPagedPool: every flag combination built or refused as documented (%u of %u right; %u built, "
	   "%u describing pages, %u malformed)", right, cases, built, refused_state, malformed);
}

/* ---------------------------------------------------------------- partial MDLs */

static void test_partial(void)
{
	PMDL src = MmAllocatePagesForMdlEx(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 4 * PAGE_SIZE, MmCached, 0);
	PMDL dst = IoAllocateMdl((PVOID)0x1000, 4 * PAGE_SIZE, 0, 0, NULL);
	ok(src && dst, "source and target");
	uintptr_t sv = (uintptr_t)MmGetMdlVirtualAddress(src);   /* NULL: integer arithmetic, not pointer */
#define SVA(off) ((PVOID)(sv + (uintptr_t)(off)))
	IoBuildPartialMdl(src, dst, SVA(0x1800), 0x2000);
	is((uintptr_t)dst->StartVa, (uintptr_t)SVA(0x1000), "partial StartVa");
	is(dst->ByteOffset, 0x800, "partial ByteOffset");
	is(dst->ByteCount, 0x2000, "partial ByteCount");
	is(dst->MdlFlags, MDL_PARTIAL, "MDL_PARTIAL only (source unmapped)");
	ok(MmGetMdlPfnArray(dst)[0] == MmGetMdlPfnArray(src)[1] && MmGetMdlPfnArray(dst)[1] == MmGetMdlPfnArray(src)[2] &&
	   MmGetMdlPfnArray(dst)[2] == MmGetMdlPfnArray(src)[3], "PFNs 1..3 copied");
	IoBuildPartialMdl(src, dst, SVA(0x3000), 0);
	ok(dst->ByteCount == 0x1000 && MmGetMdlPfnArray(dst)[0] == MmGetMdlPfnArray(src)[3], "Length 0: to the end");

	intercept();
	struct snap s;
	struct { MDL m; PFN_NUMBER p[4]; } before;
	memcpy(&before, dst, sizeof(before));
	take(&s);
	IoBuildPartialMdl(src, dst, SVA(0x3000), 0x1001);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE), "past the source's end: 0x1A");
	ok(bugcheck_last.p[1] == sv + 0x3000 && bugcheck_last.p[2] == 0x1001 && bugcheck_last.p[3] == (uintptr_t)src,
	   "parameters: address, length, source");
	IoBuildPartialMdl(src, dst, SVA(-1), 1);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE), "before the source's start: 0x1A");
	IoBuildPartialMdl(src, dst, SVA(0x4001), 0);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE), "start past the end: 0x1A");
	PMDL tiny = IoAllocateMdl((PVOID)0x1000, 1, 0, 0, NULL);
	take(&s);
	IoBuildPartialMdl(src, tiny, SVA(0), 3 * PAGE_SIZE);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_ROOM) && bugcheck_last.p[2] == 3, "target too small: 0x1A");
	ok(memcmp(&before, dst, sizeof(before)) == 0 && tiny->ByteCount == 1 && same(&s), "targets unchanged");
	CSHORT tiny_size = tiny->Size;
	tiny->Size = (CSHORT)(sizeof(MDL) + 3 * sizeof(PFN_NUMBER));   /* Size claims 3 PFNs; its pool block holds 1 */
	take(&s);
	IoBuildPartialMdl(src, tiny, SVA(0), 3 * PAGE_SIZE);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_ROOM) && bugcheck_last.p[1] == (uintptr_t)tiny &&
	   bugcheck_last.p[2] == 3 && tiny->ByteCount == 1 && same(&s),
	   "a pool target whose Size claims more PFNs than its block holds: 0x1A, the block decides, target unchanged");
	tiny->Size = tiny_size;
	IoBuildPartialMdl(NULL, dst, SVA(0), 1);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "NULL source: 0x50");
	release();
	IoFreeMdl(tiny);

	/* A mapped source: the partial is PARENT_MAPPED and its system address lies in the parent's mapping. */
	char *m = MmMapLockedPagesSpecifyCache(src, KernelMode, MmCached, NULL, 0, NormalPagePriority);
	ok(m && syspte_in_region(reserved_region(), (vaddr_t)m), "source mapped in the system PTE region");
	IoBuildPartialMdl(src, dst, SVA(0x1800), 0x2000);
	ok(dst->MdlFlags == (MDL_PARTIAL | MDL_PARENT_MAPPED_SYSTEM_VA), "PARTIAL | PARENT_MAPPED_SYSTEM_VA");
	is((uintptr_t)dst->MappedSystemVa, (uintptr_t)m + 0x1000, "MappedSystemVa: the sub-range's page in the parent mapping");
	is((uintptr_t)MmGetSystemAddressForMdlSafe(dst, 0), (uintptr_t)m + 0x1800, "system address of the partial");
	is(pfn_at((vaddr_t)m + 0x1000), MmGetMdlPfnArray(dst)[0], "it maps the partial's first page");

	/* The partial mapped on its own: PARTIAL_HAS_BEEN_MAPPED, and IoFreeMdl unmaps it. */
	IoBuildPartialMdl(src, dst, SVA(0x1800), 0x2000);
	dst->MdlFlags &= ~MDL_PARENT_MAPPED_SYSTEM_VA;
	dst->MappedSystemVa = NULL;
	char *pm = MmGetSystemAddressForMdlSafe(dst, 0);
	ok(pm && pm != m + 0x1800 && ((uintptr_t)pm & PAGE_MASK) == 0x800, "partial mapped by itself");
	ok(dst->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED, "PARTIAL_HAS_BEEN_MAPPED");
	is(pfn_at((vaddr_t)pm), MmGetMdlPfnArray(src)[1], "its own mapping shows page 1");
	struct syspte_stats ss;
	syspte_get_stats(reserved_region(), &ss);
	IoFreeMdl(dst);
	struct syspte_stats ss2;
	syspte_get_stats(reserved_region(), &ss2);
	is(ss2.live, ss.live - 1, "IoFreeMdl unmapped it and freed its reservation");
	MmUnmapLockedPages(m, src);

	/* A pool source: the partial inherits SOURCE_IS_NONPAGED_POOL and the data address. */
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, 2 * PAGE_SIZE, TAG_A);
	PMDL pool_mdl = IoAllocateMdl(buf, 2 * PAGE_SIZE, 0, 0, NULL);
	MmBuildMdlForNonPagedPool(pool_mdl);
	PMDL part = IoAllocateMdl(buf, 2 * PAGE_SIZE, 0, 0, NULL);
	IoBuildPartialMdl(pool_mdl, part, buf + 0x1100, 0x100);
	ok(part->MdlFlags == (MDL_PARTIAL | MDL_SOURCE_IS_NONPAGED_POOL) && part->MappedSystemVa == buf + 0x1100,
	   "pool partial: flags and MappedSystemVa");
	ok(MmGetSystemAddressForMdlSafe(part, 0) == buf + 0x1100, "pool partial's system address");
	IoFreeMdl(part);
	IoFreeMdl(pool_mdl);
	ExFreePool(buf);
	MmFreePagesFromMdl(src);
	ExFreePool(src);
#undef SVA
}

/*
 * A target that claims to hold its own mapping (MAPPED_TO_SYSTEM_VA, MappedSystemVa the start of an
 * 'MdlM' reservation, another MDL's) but whose Size holds no frame, reused for a 0-byte partial at
 * the source's end (the only sub-range needing no frame): IoBuildPartialMdl once read the target's
 * first frame, past its Size (ASan's report on this 48-byte target), to tell whether the mapping
 * was its own. A target with no frame cannot own a mapping: the other MDL's mapping is left
 * mapped and the target becomes the 0-byte partial.
 */
static void test_partial_frameless_target(void)
{
	PMDL src = MmAllocatePagesForMdlEx(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 2 * PAGE_SIZE, MmCached, 0);
	char *m = src ? MmMapLockedPagesSpecifyCache(src, KernelMode, MmCached, NULL, 0, NormalPagePriority) : NULL;
	PMDL t = calloc(1, sizeof(MDL));   /* exactly the header: no room for a frame */
	ok(src && m && t, "a mapped source and a 48-byte target");
	if (!src || !m || !t)
		return;
	t->Size = (CSHORT)sizeof(MDL);
	t->MdlFlags = MDL_MAPPED_TO_SYSTEM_VA;
	t->MappedSystemVa = m;
	uint64_t pfn0 = MmGetMdlPfnArray(src)[0];
	IoBuildPartialMdl(src, t, (char *)MmGetMdlVirtualAddress(src) + src->ByteCount, 0);
	ok(t->ByteCount == 0 && (t->MdlFlags & MDL_PARTIAL) && pfn_at((vaddr_t)m) == pfn0,
	   "0-byte partial built; the source's mapping, which the target named, still maps its first frame");
	free(t);
	MmUnmapLockedPages(m, src);
	MmFreePagesFromMdl(src);
	ExFreePool(src);
}

/*
 * IoBuildPartialMdl's range rule on generated sub-ranges of sources anywhere in the address space,
 * a quarter of them ending exactly at 2^64: addresses before the source (NULL among them), inside
 * it, at its end and past it, lengths 0 (to the source's end) and others. Exactly the sub-ranges
 * that leave the source (computed without wrapping) are 0x1A/MDL_BUGCHECK_PARTIAL_RANGE (P2 the
 * address, P3 the length, P4 the source) with the target unchanged; the others are built.
 */
static void test_partial_range_generated(void)
{
	uint64_t st = 0x7A27A1CE5ULL;
	struct { MDL m; PFN_NUMBER p[4]; } src, dst, saved;
	unsigned cases = 0, right = 0, refused = 0, at_top = 0, null_va = 0;
	intercept();
	for (unsigned c = 0; c < 4000; c++) {
		uint64_t count = 1 + rnd_in(&st, 3 * PAGE_SIZE), off0 = rnd_in(&st, PAGE_SIZE), span = (off0 + count + PAGE_MASK) / PAGE_SIZE;
		uint64_t start = rnd_in(&st, 4) == 0 ? 0ULL - span * PAGE_SIZE : rnd_in(&st, 1ULL << 52) * PAGE_SIZE;
		if (start == 0ULL - span * PAGE_SIZE)   /* the source ends exactly at 2^64 */
			count = span * PAGE_SIZE - off0;
		MmInitializeMdl(&src.m, (PVOID)(start + off0), count);
		src.m.MdlFlags = MDL_PAGES_LOCKED;
		for (unsigned i = 0; i < 4; i++)
			src.p[i] = 0x600 + i;
		uint64_t data = start + off0, va;
		switch (rnd_in(&st, 5)) {
		case 0: va = rnd_in(&st, 2) ? 0 : data - 1 - rnd_in(&st, 2 * PAGE_SIZE); break;
		case 1: va = data + count + rnd_in(&st, 2 * PAGE_SIZE); break;
		default: va = data + rnd_in(&st, count + 1); break;
		}
		ULONG len = rnd_in(&st, 3) == 0 ? 0 : (ULONG)(1 + rnd_in(&st, count + 2));
		unsigned __int128 end = (unsigned __int128)data + count, from = va;
		bool inside = from >= data && from <= end && (len == 0 || from + len <= end);
		MmInitializeMdl(&dst.m, (PVOID)0x10000, 4 * PAGE_SIZE);
		memcpy(&saved, &dst, sizeof(dst));
		IoBuildPartialMdl(&src.m, &dst.m, (PVOID)va, len);
		bool good;
		if (!inside) {
			refused++;
			good = bugcheck_last.count == bc_count + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			       bugcheck_last.p[0] == MDL_BUGCHECK_PARTIAL_RANGE && bugcheck_last.p[1] == va &&
			       bugcheck_last.p[2] == len && bugcheck_last.p[3] == (uintptr_t)&src.m &&
			       memcmp(&saved, &dst, sizeof(dst)) == 0;
		} else
			good = none_fired() && (uintptr_t)MmGetMdlVirtualAddress(&dst.m) == va &&
			       dst.m.ByteCount == (len ? len : (ULONG)(end - from)) && (dst.m.MdlFlags & MDL_PARTIAL);
		bc_count = bugcheck_last.count;
		at_top += end == (unsigned __int128)1 << 64;
		null_va += va == 0;
		cases++;
		right += good;
		if (!good && right + 3 > cases)
			printf("# source 0x%llx + 0x%llx, address 0x%llx, length 0x%x: %s\n", (unsigned long long)data,
			       (unsigned long long)count, (unsigned long long)va, len, inside ? "inside" : "outside");
	}
	release();
	ok(right == cases && refused > 1000 && at_top > 500 && null_va > 200,
	   "IoBuildPartialMdl: refused exactly when the sub-range leaves the source (%u of %u; %u refused, %u sources "
	   "ending at 2^64, %u at NULL)", right, cases, refused, at_top, null_va);
}

/*
 * IoBuildPartialMdl from sources of every kind of flags and MappedSystemVa (NULL, a page-aligned
 * system address, the data address, an unaligned one, whatever the flags say) into targets holding
 * flags of their own: a malformed source is the reference's 0x1A with the target unchanged; from
 * a valid one the target gets the sub-range, the PFNs, MDL_PARTIAL, its own ALLOCATED_FIXED_SIZE
 * and the source's SOURCE_IS_NONPAGED_POOL, IO_PAGE_READ and IO_SPACE; a source mapped (MAPPED or
 * PARENT_MAPPED with a MappedSystemVa) makes it PARENT_MAPPED at the sub-range's page in that
 * mapping, a pool source with a MappedSystemVa gives the data address, and any other source's
 * MappedSystemVa means nothing: the target's is NULL.
 */
static void test_partial_generated(void)
{
	static const uint16_t src_bits[] = { MDL_PAGES_LOCKED, MDL_MAPPED_TO_SYSTEM_VA, MDL_SOURCE_IS_NONPAGED_POOL,
					     MDL_PARTIAL, MDL_PARTIAL_HAS_BEEN_MAPPED, MDL_PARENT_MAPPED_SYSTEM_VA,
					     MDL_IO_PAGE_READ, MDL_IO_SPACE, MDL_ALLOCATED_FIXED_SIZE, MDL_WRITE_OPERATION };
	enum { NB = sizeof(src_bits) / sizeof(src_bits[0]) };
	uint64_t st = 0x9A27141D0F1A6ULL;
	struct { MDL m; PFN_NUMBER p[4]; } src, dst, saved;
	unsigned cases = 0, right = 0, parent = 0, pool_va = 0, stale = 0, malformed = 0;
	intercept();
	for (unsigned c = 0; c < 3000; c++) {
		uintptr_t data = 0xffff900000000000ULL + rnd_in(&st, 1 << 20) * PAGE_SIZE + rnd_in(&st, PAGE_SIZE);
		MmInitializeMdl(&src.m, (PVOID)data, 3 * PAGE_SIZE - (data & PAGE_MASK) + rnd_in(&st, PAGE_SIZE));
		uint16_t sf = 0;
		for (unsigned b = 0; b < NB; b++)
			sf |= rnd_in(&st, 3) == 0 ? src_bits[b] : 0;
		src.m.MdlFlags = (CSHORT)sf;
		unsigned kind = (unsigned)rnd_in(&st, 4);
		src.m.MappedSystemVa = kind == 0 ? NULL : kind == 1 ? (PVOID)(REGION_BASE + rnd_in(&st, 64) * PAGE_SIZE) :
				       kind == 2 ? (PVOID)data : (PVOID)(REGION_BASE + 1 + rnd_in(&st, PAGE_SIZE - 1));
		for (unsigned i = 0; i < 4; i++)
			src.p[i] = 0x500 + 7 * i + rnd_in(&st, 5);
		MmInitializeMdl(&dst.m, (PVOID)0x10000, 4 * PAGE_SIZE);
		uint16_t tf = (uint16_t)(rnd_in(&st, 2) ? MDL_ALLOCATED_FIXED_SIZE : 0) |
			      (uint16_t)(rnd_in(&st, 2) ? MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA : MDL_IO_SPACE);
		dst.m.MdlFlags = (CSHORT)tf;
		dst.m.MappedSystemVa = (PVOID)(REGION_BASE + 80 * PAGE_SIZE);
		uint64_t off = rnd_in(&st, src.m.ByteCount), len = rnd_in(&st, src.m.ByteCount - off + 1);
		uint64_t p3, p4;
		int rule = ref_mdl_check(&src.m, true, true, arch_phys_addr_bits(), 0, &p3, &p4);
		memcpy(&saved, &dst, sizeof(dst));
		IoBuildPartialMdl(&src.m, &dst.m, (PVOID)(data + off), (ULONG)len);
		bool good;
		if (rule) {
			malformed++;
			good = bugcheck_last.count == bc_count + 1 && bugcheck_last.p[0] == REF_MDL_SUBCODE(rule) &&
			       bugcheck_last.p[1] == (uintptr_t)&src.m && bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4 &&
			       memcmp(&saved, &dst, sizeof(dst)) == 0;
		} else {
			uint64_t n = len ? len : src.m.ByteCount - off, first = (((data & PAGE_MASK) + off) >> PAGE_SHIFT);
			uint16_t want = (uint16_t)((tf & MDL_ALLOCATED_FIXED_SIZE) | MDL_PARTIAL |
						   (sf & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_IO_PAGE_READ | MDL_IO_SPACE)));
			uintptr_t want_va = 0, sys = (uintptr_t)src.m.MappedSystemVa;
			if ((sf & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA)) && sys) {
				want |= MDL_PARENT_MAPPED_SYSTEM_VA;
				want_va = sys + first * PAGE_SIZE;
				parent++;
			} else if ((sf & MDL_SOURCE_IS_NONPAGED_POOL) && sys) {
				want_va = sys + off;
				pool_va++;
			} else
				stale += sys != 0;
			good = none_fired() && (uint16_t)dst.m.MdlFlags == want && (uintptr_t)dst.m.MappedSystemVa == want_va &&
			       (uintptr_t)MmGetMdlVirtualAddress(&dst.m) == data + off && dst.m.ByteCount == n;
			for (uint64_t i = 0; i < ADDRESS_AND_SIZE_TO_SPAN_PAGES(data + off, n); i++)
				good &= dst.p[i] == src.p[first + i];
		}
		bc_count = bugcheck_last.count;
		cases++;
		right += good;
		if (!good && right + 3 > cases)
			printf("# source flags 0x%x, MappedSystemVa kind %u, target flags 0x%x: rule %d; got flags 0x%x va %p\n", sf,
			       kind, tf, rule, (uint16_t)dst.m.MdlFlags, dst.m.MappedSystemVa);
	}
	release();
	ok(right == cases && parent > 100 && pool_va > 20 && stale > 100 && malformed > 100,
	   "IoBuildPartialMdl: target flags and MappedSystemVa from every kind of source (%u of %u; %u parent-mapped, "
	   "%u pool addresses, %u stale addresses ignored, %u malformed)", right, cases, parent, pool_va, stale, malformed);
}

/* ---------------------------------------------------------------- MmAllocatePagesForMdlEx */

static uint64_t free_in(paddr_t lo, paddr_t hi)
{
	uint64_t n = 0;
	for (paddr_t pa = lo; pa < hi; pa += PAGE_SIZE)
		n += phys_is_free(pa, 1);
	return n;
}

static bool all_in(PMDL mdl, paddr_t lo, paddr_t hi_incl)
{
	uint64_t n = mdl->ByteCount / PAGE_SIZE;
	for (uint64_t i = 0; i < n; i++) {
		paddr_t pa = pfn_to_pa(MmGetMdlPfnArray(mdl)[i]);
		if (pa < lo || pa + PAGE_SIZE - 1 > hi_incl)
			return false;
	}
	return true;
}

static bool all_zero(PMDL mdl)
{
	uint64_t n = mdl->ByteCount / PAGE_SIZE;
	for (uint64_t i = 0; i < n; i++) {
		const uint64_t *w = dmap(pfn_to_pa(MmGetMdlPfnArray(mdl)[i]));
		for (size_t j = 0; j < PAGE_SIZE / 8; j++)
			if (w[j])
				return false;
	}
	return true;
}

static void fill_pages(PMDL mdl, int v)
{
	for (uint64_t i = 0; i < mdl->ByteCount / PAGE_SIZE; i++)
		memset(dmap(pfn_to_pa(MmGetMdlPfnArray(mdl)[i])), v, PAGE_SIZE);
}

static void release_pages(PMDL mdl)
{
	if (!mdl)
		return;
	MmFreePagesFromMdl(mdl);
	ExFreePool(mdl);
}

/* Number of runs of consecutive PFNs. */
static uint64_t runs(PMDL mdl)
{
	uint64_t n = mdl->ByteCount / PAGE_SIZE, r = n ? 1 : 0;
	for (uint64_t i = 1; i < n; i++)
		r += MmGetMdlPfnArray(mdl)[i] != MmGetMdlPfnArray(mdl)[i - 1] + 1;
	return r;
}

static void test_alloc_pages_args(void)
{
	struct snap s;
	struct pool_tag_total t0, t1;
	take(&s);
	if (!pool_tag_get(MDL_TAG_PAGES, &t0))
		memset(&t0, 0, sizeof(t0));
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	ok(!MmAllocatePagesForMdlEx(z, any, z, 0, MmCached, 0), "TotalBytes 0: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, z, 1ULL << 32, MmCached, 0), "4 GiB: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, z, (1ULL << 32) - PAGE_SIZE + 1, MmCached, 0), "over 4 GiB - 4 KiB: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, z, PAGE_SIZE, MmCached, 0x80), "unknown flag: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, z, PAGE_SIZE, MmMaximumCacheType, 0), "cache type out of range: NULL");
	ok(!MmAllocatePagesForMdlEx(pa_of(0x2000000), pa_of(0x1000000), z, PAGE_SIZE, MmCached, 0), "Low > High: NULL");
	ok(!MmAllocatePagesForMdlEx(z, pa_of(0x1000000), pa_of(100), PAGE_SIZE, MmCached, 0), "SkipBytes not page multiple: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, pa_of(3 * PAGE_SIZE), 6 * PAGE_SIZE, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS),
	   "chunk not a power of two: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, pa_of(4 * PAGE_SIZE), 6 * PAGE_SIZE, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS),
	   "TotalBytes not a multiple of the chunk: NULL");
	ok(!MmAllocatePagesForMdlEx(z, any, pa_of(64 * 1024), 64 * 1024, MmCached,
				    MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS),
	   "FAST_LARGE_PAGES with a chunk under 2 MiB: NULL");
	if (!pool_tag_get(MDL_TAG_PAGES, &t1))
		memset(&t1, 0, sizeof(t1));
	ok(t1.allocs == t0.allocs && t1.frees == t0.frees, "argument refusals come before the MDL: no pool allocation at all");
	ok(!MmAllocatePagesForMdlEx(pa_of(0x3000000), pa_of(0x3ffffff), z, PAGE_SIZE, MmCached, 0), "no RAM in the window: NULL");
	ok(same(&s), "refusals changed nothing");
}

static void test_alloc_pages(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, 4 * PAGE_SIZE, MmCached, MM_DONT_ZERO_ALLOCATION);
	ok(mdl != NULL, "4 pages");
	ok(mdl->MdlFlags == MDL_PAGES_LOCKED && mdl->StartVa == NULL && mdl->ByteOffset == 0 &&
	   mdl->ByteCount == 4 * PAGE_SIZE, "PAGES_LOCKED, StartVa NULL, ByteOffset 0, ByteCount 16 KiB");
	size_t sz;
	uint32_t tg;
	ok(pool_block_info(mdl, &sz, &tg) && tg == MDL_TAG_PAGES, "MDL from the pool, tag 'MdlP'");
	fill_pages(mdl, 0xAB);
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(z, any, z, 4 * PAGE_SIZE, MmCached, 0);
	ok(mdl && all_zero(mdl), "zeroed by default (after dirtying freed pages)");
	fill_pages(mdl, 0xCD);
	PFN_NUMBER first = MmGetMdlPfnArray(mdl)[0];
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(z, any, z, 4 * PAGE_SIZE, MmCached, MM_DONT_ZERO_ALLOCATION);
	bool dirty = false;
	for (unsigned i = 0; mdl && i < 4; i++)
		dirty |= ((uint8_t *)dmap(pfn_to_pa(MmGetMdlPfnArray(mdl)[i])))[100] == 0xCD;   /* word 0: the allocator's */
	ok(dirty, "DONT_ZERO leaves the old contents (page 0x%llx reused)", (unsigned long long)first);
	release_pages(mdl);
	mdl = MmAllocatePagesForMdl(z, any, z, 5000);
	ok(mdl && mdl->ByteCount == 2 * PAGE_SIZE, "5000 bytes: 2 pages, ByteCount 8 KiB");
	release_pages(mdl);

	/* Address limits, HighAddress inclusive. */
	mdl = MmAllocatePagesForMdlEx(pa_of(HIGH_BASE), pa_of(HIGH_BASE + 0x3fffff), z, 64 * PAGE_SIZE, MmCached, 0);
	ok(mdl && all_in(mdl, HIGH_BASE, HIGH_BASE + 0x3fffff), "all pages in [4 GiB, 4 GiB + 4 MiB)");
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(z, pa_of(0xffffff), z, 64 * PAGE_SIZE, MmCached, 0);
	ok(mdl && all_in(mdl, 0, 0xffffff), "all pages below 16 MiB");
	release_pages(mdl);
	paddr_t one = phys_alloc(1, HIGH_BASE + SIZE_2M, UINT64_MAX);
	phys_free(one, 1);
	mdl = MmAllocatePagesForMdlEx(pa_of(one), pa_of(one + PAGE_SIZE - 1), z, PAGE_SIZE, MmCached, 0);
	ok(mdl && MmGetMdlPfnArray(mdl)[0] == pa_to_pfn(one), "window of exactly one page (High inclusive)");
	release_pages(mdl);
	ok(!MmAllocatePagesForMdlEx(pa_of(one), pa_of(one + PAGE_SIZE - 2), z, PAGE_SIZE, MmCached, 0),
	   "window one byte short of a page: NULL");
	mdl = MmAllocatePagesForMdlEx(pa_of(one + 1), pa_of(one + 2 * PAGE_SIZE - 1), z, PAGE_SIZE, MmCached, 0);
	ok(mdl && MmGetMdlPfnArray(mdl)[0] == pa_to_pfn(one) + 1, "unaligned LowAddress: the next whole page");
	release_pages(mdl);

	/* Partial results, FULLY_REQUIRED, and the skip windows. */
	paddr_t w0 = HIGH_BASE + 4 * SIZE_2M, w1 = w0 + SIZE_2M;   /* two 2 MiB windows in the high range */
	uint64_t f0 = free_in(w0, w1), f1 = free_in(w1, w1 + SIZE_2M);
	ok(f0 == 512 && f1 == 512, "windows free (%llu, %llu)", (unsigned long long)f0, (unsigned long long)f1);
	struct snap s;
	take(&s);
	ok(!MmAllocatePagesForMdlEx(pa_of(w0), pa_of(w1 - 1), z, 600 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED),
	   "FULLY_REQUIRED and too few pages: NULL");
	ok(same(&s), "nothing kept");
	mdl = MmAllocatePagesForMdlEx(pa_of(w0), pa_of(w1 - 1), z, 600 * PAGE_SIZE, MmCached, 0);
	ok(mdl && mdl->ByteCount == 512 * PAGE_SIZE && all_in(mdl, w0, w1 - 1), "partial: 512 of 600 pages");
	ok(!MmAllocatePagesForMdlEx(pa_of(w0), pa_of(w1 - 1), z, PAGE_SIZE, MmCached, 0), "window empty: NULL");
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(pa_of(w0), pa_of(w1 - 1), pa_of(SIZE_2M), 600 * PAGE_SIZE, MmCached,
				      MM_ALLOCATE_FULLY_REQUIRED);
	ok(mdl && mdl->ByteCount == 600 * PAGE_SIZE && all_in(mdl, w0, w1 + SIZE_2M - 1), "SkipBytes: next window fills in");
	uint64_t in_second = 0;
	for (unsigned i = 0; mdl && i < 600; i++)
		in_second += pfn_to_pa(MmGetMdlPfnArray(mdl)[i]) >= w1;
	is(in_second, 88, "88 pages from the second window");
	release_pages(mdl);

	/* Contiguity. */
	mdl = MmAllocatePagesForMdlEx(z, any, z, 64 * PAGE_SIZE, MmCached, MM_ALLOCATE_PREFER_CONTIGUOUS);
	ok(mdl && runs(mdl) == 1, "PREFER_CONTIGUOUS: one run when one is free");
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(z, any, z, 64 * PAGE_SIZE, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
	ok(mdl && runs(mdl) == 1 && mdl->ByteCount == 64 * PAGE_SIZE, "REQUIRE_CONTIGUOUS_CHUNKS, skip 0: one block");
	release_pages(mdl);
	/* A window with free pages but no 4-page run: CHUNKS fails, PREFER falls back to single pages.
	 * A live MDL of the same size keeps a pool slab with room, so the MDL structures of the calls
	 * below never take a fresh page (the allocator may place that page in the window's holes). */
	PMDL keep_slab = IoAllocateMdl((void *)0x10000, 4 * PAGE_SIZE, 0, 0, NULL);
	paddr_t hole = phys_alloc(8, HIGH_BASE + 7 * SIZE_2M, UINT64_MAX);
	phys_free(hole, 1);
	phys_free(hole + 2 * PAGE_SIZE, 1);
	phys_free(hole + 4 * PAGE_SIZE, 1);
	phys_free(hole + 6 * PAGE_SIZE, 1);
	ok(!MmAllocatePagesForMdlEx(pa_of(hole), pa_of(hole + 8 * PAGE_SIZE - 1), z, 4 * PAGE_SIZE, MmCached,
				    MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS), "CHUNKS without a free run: NULL");
	mdl = MmAllocatePagesForMdlEx(pa_of(hole), pa_of(hole + 8 * PAGE_SIZE - 1), z, 4 * PAGE_SIZE, MmCached,
				      MM_ALLOCATE_PREFER_CONTIGUOUS);
	ok(mdl && mdl->ByteCount == 4 * PAGE_SIZE && runs(mdl) == 4, "PREFER falls back to single pages");
	release_pages(mdl);
	for (unsigned i = 1; i < 8; i += 2)
		phys_free(hole + i * PAGE_SIZE, 1);
	IoFreeMdl(keep_slab);
	mdl = MmAllocatePagesForMdlEx(z, any, pa_of(64 * 1024), 256 * 1024, MmCached, MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
	bool chunks_ok = mdl && mdl->ByteCount == 256 * 1024;
	for (unsigned c = 0; chunks_ok && c < 4; c++) {
		PFN_NUMBER *p = MmGetMdlPfnArray(mdl) + c * 16;
		chunks_ok &= (p[0] % 16) == 0;
		for (unsigned i = 1; i < 16; i++)
			chunks_ok &= p[i] == p[0] + i;
	}
	ok(chunks_ok, "CHUNKS of 64 KiB: 4 contiguous chunks aligned to 64 KiB");
	release_pages(mdl);
	mdl = MmAllocatePagesForMdlEx(z, any, pa_of(SIZE_2M), 2 * SIZE_2M, MmCached,
				      MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FAST_LARGE_PAGES);
	ok(mdl && runs(mdl) <= 2 && (MmGetMdlPfnArray(mdl)[0] % 512) == 0 && (MmGetMdlPfnArray(mdl)[512] % 512) == 0,
	   "FAST_LARGE_PAGES: 2 MiB aligned chunks");
	release_pages(mdl);
	/* without CHUNKS: every whole 2 MiB as an aligned run, the rest as usual */
	mdl = MmAllocatePagesForMdlEx(z, any, z, 2 * SIZE_2M + 3 * PAGE_SIZE, MmCached, MM_ALLOCATE_FAST_LARGE_PAGES);
	bool large_ok = mdl && mdl->ByteCount == 2 * SIZE_2M + 3 * PAGE_SIZE;
	for (unsigned c = 0; large_ok && c < 2; c++)
		for (unsigned k = 0; k < 512; k++)
			large_ok &= MmGetMdlPfnArray(mdl)[c * 512 + k] == MmGetMdlPfnArray(mdl)[c * 512] + k &&
				    MmGetMdlPfnArray(mdl)[c * 512] % 512 == 0;
	ok(large_ok, "FAST_LARGE_PAGES without CHUNKS: two aligned 2 MiB runs and 3 more pages");
	if (mdl) {
		char *va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
		struct syspte_stats st;
		syspte_get_stats(reserved_region(), &st);
		ok(va && ((vaddr_t)va & (SIZE_2M - 1)) == 0 && st.large_leaves == 2,
		   "MmMapLockedPagesSpecifyCache of it: placed 2 MiB aligned, two 2 MiB leaves");
		uint64_t pte, size;
		ok(va && pt_query(&pt, (vaddr_t)va + SIZE_2M + 5 * PAGE_SIZE, NULL, &pte, &size) && size == SIZE_2M &&
		   pt_query(&pt, (vaddr_t)va + 2 * SIZE_2M, NULL, &pte, &size) && size == PAGE_SIZE,
		   "the third piece maps with 4 KiB pages");
		if (va)
			MmUnmapLockedPages(va, mdl);
		syspte_get_stats(reserved_region(), &st);
		ok(st.large_leaves == 0 && st.live == 0, "unmapped and freed");
	}
	release_pages(mdl);

	/* FAST_LARGE_PAGES: every whole 2 MiB of the request, the last one included, is an aligned run. */
	static const uint64_t sizes[] = { SIZE_2M, SIZE_2M + PAGE_SIZE, 2 * SIZE_2M, 3 * SIZE_2M, SIZE_2M - PAGE_SIZE };
	bool whole = true;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mdl = MmAllocatePagesForMdlEx(z, any, z, sizes[i], MmCached, MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_FULLY_REQUIRED);
		whole &= mdl && mdl->ByteCount == sizes[i];
		for (uint64_t k = 0; whole && k < sizes[i] / SIZE_2M * 512; k++)
			whole &= MmGetMdlPfnArray(mdl)[k] == MmGetMdlPfnArray(mdl)[k & ~511ULL] + (k & 511) &&
				 MmGetMdlPfnArray(mdl)[k & ~511ULL] % 512 == 0;
		release_pages(mdl);
	}
	ok(whole, "FAST_LARGE_PAGES of 2, 2 + 4 KiB, 4 and 6 MiB: each whole 2 MiB an aligned run");

	/* Zeroing touches only the pages the MDL lists: a PFN slot past them (the partial result's
	 * unused slot, or the slack of the MDL's pool block) holds a canary page's frame. */
	paddr_t canary = phys_alloc(1, 0, UINT64_MAX), lone = phys_alloc(1, HIGH_BASE + SIZE_2M, UINT64_MAX);
	memset(dmap(canary), 0x5A, PAGE_SIZE);
	phys_free(lone, 1);
	bool reused = true, kept = true;
	for (unsigned want = 1; want <= 2; want++) {
		PFN_NUMBER *stale = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_B);   /* the MDLs' size class */
		for (unsigned k = 0; stale && k < 8; k++)
			stale[k] = pa_to_pfn(canary);
		ExFreePool(stale);
		mdl = MmAllocatePagesForMdlEx(pa_of(lone), pa_of(lone + PAGE_SIZE - 1), z, want * PAGE_SIZE, MmCached, 0);
		reused &= mdl && (void *)mdl == (void *)stale && mdl->ByteCount == PAGE_SIZE;
		for (unsigned b = 0; b < PAGE_SIZE; b++)
			kept &= ((uint8_t *)dmap(canary))[b] == 0x5A;
		release_pages(mdl);
	}
	ok(reused, "the MDLs of one page took the pool block holding the canary's frame");
	ok(kept, "zeroing a one-page MDL, whole or partial, leaves the frame in the slot past its page alone");
	phys_free(canary, 1);

	/* Larger than RAM: a partial result of (almost) everything, then everything back. */
	take(&s);
	mdl = MmAllocatePagesForMdlEx(z, any, z, (1ULL << 32) - PAGE_SIZE, MmCached, MM_DONT_ZERO_ALLOCATION);
	ok(mdl && mdl->ByteCount < (1ULL << 32) - PAGE_SIZE && mdl->ByteCount > 32 * 1024 * 1024,
	   "4 GiB - 4 KiB: partial, %llu MiB", mdl ? (unsigned long long)mdl->ByteCount >> 20 : 0ULL);
	release_pages(mdl);
	pool_trim();
	ok(same(&s), "every page back");
}

/*
 * Generated windows of 16 pages with a random set of free pages in them (the rest held by the
 * test): FULLY_REQUIRED for one page more than is free, with or without PREFER_CONTIGUOUS, is NULL
 * and hands back exactly the pages it took (allocator and pool as before); without it the call
 * returns exactly the free pages. A pool block of each of the MDLs' size classes stays live, so
 * their structures never take a page of the window.
 */
static void test_alloc_scattered(void)
{
	PHYSICAL_ADDRESS z = pa_of(0);
	uint64_t st = 0x5CA77E6ED0000001ULL;
	void *keep[3];   /* the MDLs of 1..17 pages take 56..184 bytes: size classes 64, 128 and 256 */
	for (unsigned k = 0; k < 3; k++)
		keep[k] = ExAllocatePoolWithTag(NonPagedPool, 60u << k, TAG_B);
	paddr_t win = phys_alloc(16, HIGH_BASE + 7 * SIZE_2M, UINT64_MAX);
	ok(keep[0] && keep[1] && keep[2] && win, "pool blocks of three size classes and a window of 16 pages");
	if (!keep[0] || !keep[1] || !keep[2] || !win)
		return;
	unsigned cases = 0, right = 0;
	for (unsigned c = 0; c < 60; c++) {
		uint32_t freed = (uint32_t)(1 + rnd_in(&st, 0xFFFF));
		uint64_t nfree = (uint64_t)__builtin_popcount(freed);
		for (unsigned i = 0; i < 16; i++)
			if (freed & (1u << i))
				phys_free(win + i * PAGE_SIZE, 1);
		ULONG flags = rnd_in(&st, 2) ? MM_ALLOCATE_PREFER_CONTIGUOUS : 0;
		struct snap s;
		take(&s);
		PMDL none = MmAllocatePagesForMdlEx(pa_of(win), pa_of(win + 16 * PAGE_SIZE - 1), z, (nfree + 1) * PAGE_SIZE,
						    MmCached, flags | MM_ALLOCATE_FULLY_REQUIRED);
		bool good = none == NULL && same(&s);
		PMDL mdl = MmAllocatePagesForMdlEx(pa_of(win), pa_of(win + 16 * PAGE_SIZE - 1), z, (nfree + 1) * PAGE_SIZE,
						   MmCached, flags);
		good &= mdl && mdl->ByteCount == nfree * PAGE_SIZE;
		uint32_t got = 0;
		for (uint64_t i = 0; good && i < nfree; i++) {
			paddr_t pa = pfn_to_pa(MmGetMdlPfnArray(mdl)[i]);
			good &= pa >= win && pa < win + 16 * PAGE_SIZE;
			got |= good ? 1u << (pa - win) / PAGE_SIZE : 0;
		}
		good &= got == freed;
		release_pages(mdl);
		for (unsigned i = 0; i < 16; i++)   /* the window whole again */
			if (freed & (1u << i))
				good &= phys_alloc(1, win + i * PAGE_SIZE, win + (i + 1) * PAGE_SIZE) == win + i * PAGE_SIZE;
		cases++;
		right += good;
		if (!good && right + 3 > cases)
			printf("# free pages 0x%04x, flags 0x%x: %s\n", freed, flags, none ? "FULLY_REQUIRED not NULL" : "wrong pages");
	}
	ok(right == cases, "scattered free pages: FULLY_REQUIRED short by one is NULL and keeps nothing, otherwise "
	   "exactly the free pages (%u of %u)", right, cases);

	/* Placement (docs/contract.md): without flags single pages, each the window's first free page
	 * (the physical allocator's first fit under bounds), so the run of 8 above four isolated free
	 * pages stays whole; PREFER_CONTIGUOUS takes 4 pages of that run. */
	for (unsigned i = 0; i < 16; i++)
		if ((0xFF55u >> i) & 1)
			phys_free(win + i * PAGE_SIZE, 1);
	PMDL single = MmAllocatePagesForMdlEx(pa_of(win), pa_of(win + 16 * PAGE_SIZE - 1), z, 4 * PAGE_SIZE, MmCached, 0);
	bool isolated = single && single->ByteCount == 4 * PAGE_SIZE;
	for (unsigned i = 0; isolated && i < 4; i++)
		isolated &= MmGetMdlPfnArray(single)[i] == pa_to_pfn(win) + 2 * i;
	release_pages(single);
	PMDL run = MmAllocatePagesForMdlEx(pa_of(win), pa_of(win + 16 * PAGE_SIZE - 1), z, 4 * PAGE_SIZE, MmCached,
					   MM_ALLOCATE_PREFER_CONTIGUOUS);
	bool one_run = run && run->ByteCount == 4 * PAGE_SIZE && runs(run) == 1 &&
		       MmGetMdlPfnArray(run)[0] >= pa_to_pfn(win) + 8;
	release_pages(run);
	ok(isolated && one_run, "without flags: the four isolated free pages, one at a time; PREFER_CONTIGUOUS: a run of 4");
	for (unsigned i = 0; i < 16; i++)
		if ((0xFF55u >> i) & 1)
			phys_alloc(1, win + i * PAGE_SIZE, win + (i + 1) * PAGE_SIZE);
	phys_free(win, 16);
	for (unsigned k = 0; k < 3; k++)
		ExFreePool(keep[k]);
}

/* The argument rules of MmAllocatePagesForMdlEx (docs/contract.md, "Physical pages for MDLs"), as
 * an independent predicate: true when the call may go on to allocate the MDL. */
static bool alloc_args_model(uint64_t lo, uint64_t hi, uint64_t skip, uint64_t total, int cache, ULONG flags)
{
	const ULONG known = 0x7F;   /* MM_DONT_ZERO_ALLOCATION .. MM_ALLOCATE_FAST_LARGE_PAGES */
	bool chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS, fast = flags & MM_ALLOCATE_FAST_LARGE_PAGES;
	if ((flags & ~known) || cache < 0 || cache >= MmMaximumCacheType)
		return false;
	if (total == 0 || total > (1ULL << 32) - PAGE_SIZE || lo > hi || skip % PAGE_SIZE)
		return false;
	if (chunks && skip && (__builtin_popcountll(skip) != 1 || total % skip))
		return false;
	return !(fast && chunks && (skip == 0 || skip % SIZE_2M));
}

/* One value of a list, or a random one from the generator. */
static uint64_t pick(const uint64_t *v, size_t n, uint64_t *st)
{
	uint64_t i = rnd_in(st, n + 1);
	return i < n ? v[i] : test_rng_next(st);
}

/*
 * Generated argument combinations of MmAllocatePagesForMdlEx against the contract's rules: every
 * flag bit (unknown ones included), cache types from -3 to 8, TotalBytes at the 4 KiB and 4 GiB
 * edges, SkipBytes page multiples or not, powers of two or not, 2 MiB multiples or not (up to the
 * top of the 64-bit space), Low above, at or below High. Windows lie above all RAM (from 1 TiB up
 * to the top of the address space, where the skip windows would wrap), so every call returns
 * NULL: a call the rules refuse allocates no MDL at all ('MdlP' allocations unchanged), a call
 * they accept allocates the MDL and frees it again; either way the page allocator and the pool
 * end as before and no bug check is raised.
 */
static void test_alloc_pages_rules_generated(void)
{
	static const uint64_t totals[] = { 0, 1, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 8 * PAGE_SIZE, SIZE_2M,
					   2 * SIZE_2M, 3 * SIZE_2M, (1ULL << 32) - PAGE_SIZE - 1, (1ULL << 32) - PAGE_SIZE,
					   (1ULL << 32) - PAGE_SIZE + 1, 1ULL << 32, UINT64_MAX };
	static const uint64_t skips[] = { 0, 0, 1, 100, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE, 8 * PAGE_SIZE,
					  64 * 1024, SIZE_2M, 3 * SIZE_2M, 2 * SIZE_2M, SIZE_2M + PAGE_SIZE, 1ULL << 31,
					  1ULL << 63, UINT64_MAX - PAGE_SIZE + 1, UINT64_MAX };
	static const uint64_t lows[] = { 1ULL << 40, (1ULL << 40) + 1, UINT64_MAX - PAGE_SIZE + 1, UINT64_MAX,
					 1ULL << 63, UINT64_MAX - SIZE_2M + 1 };
	uint64_t st = 0xA11CA7E5ULL;
	unsigned cases = 0, right = 0, accepted = 0, refused = 0;
	intercept();
	for (unsigned c = 0; c < 3000; c++) {
		uint64_t lo = pick(lows, ARRAY_SIZE(lows), &st);
		if (lo < (1ULL << 40))
			lo |= 1ULL << 40;   /* above all RAM */
		uint64_t hi;
		switch (rnd_in(&st, 5)) {
		case 0: hi = lo; break;
		case 1: hi = lo - 1 - rnd_in(&st, 1ULL << 20); break;   /* Low > High */
		case 2: hi = UINT64_MAX; break;
		default: hi = lo + rnd_in(&st, 1ULL << 24) < lo ? UINT64_MAX : lo + rnd_in(&st, 1ULL << 24);
		}
		uint64_t total = pick(totals, ARRAY_SIZE(totals), &st) % (rnd_in(&st, 4) ? UINT64_MAX : (1ULL << 33));
		uint64_t skip = pick(skips, ARRAY_SIZE(skips), &st);
		if (rnd_in(&st, 3) == 0)
			skip &= ~(uint64_t)(PAGE_SIZE - 1);
		int cache = (int)rnd_in(&st, 12) - 3;
		ULONG flags = (ULONG)rnd_in(&st, 0x80);
		if (rnd_in(&st, 8) == 0)
			flags |= 1u << (7 + rnd_in(&st, 25));   /* an unknown bit */
		if (rnd_in(&st, 3) == 0)   /* CHUNKS with a power-of-two skip dividing the total */
			flags |= MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS, skip = PAGE_SIZE << rnd_in(&st, 11),
			total = skip * (1 + rnd_in(&st, 4));
		bool want = alloc_args_model(lo, hi, skip, total, cache, flags);
		struct pool_tag_total t0, t1;
		if (!pool_tag_get(MDL_TAG_PAGES, &t0))
			memset(&t0, 0, sizeof(t0));
		struct snap s;
		take(&s);
		PMDL mdl = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(hi), pa_of(skip), (SIZE_T)total,
						   (MEMORY_CACHING_TYPE)cache, flags);
		if (!pool_tag_get(MDL_TAG_PAGES, &t1))
			memset(&t1, 0, sizeof(t1));
		uint64_t tried = t1.allocs - t0.allocs;
		bool good = mdl == NULL && tried == want && t1.frees - t0.frees == tried && t1.bytes_live == t0.bytes_live &&
			    same(&s) && none_fired();
		cases++;
		right += good;
		accepted += want;
		refused += !want;
		if (!good && cases - right <= 3)
			printf("# Low 0x%llx High 0x%llx Skip 0x%llx Total 0x%llx cache %d flags 0x%x: rules say %s, "
			       "MDL allocations %llu, returned %p\n", (unsigned long long)lo, (unsigned long long)hi,
			       (unsigned long long)skip, (unsigned long long)total, cache, flags,
			       want ? "accept" : "refuse", (unsigned long long)tried, (void *)mdl);
		if (mdl)
			release_pages(mdl);
	}
	release();
	ok(right == cases && accepted > 300 && refused > 1000,
	   "MmAllocatePagesForMdlEx: %u generated argument sets follow the contract's rules (%u accepted, %u refused "
	   "before any MDL), windows above RAM up to 2^64 give NULL with nothing kept", cases, accepted, refused);
}

/*
 * Generated requests inside RAM, every combination of the placement flags, unaligned Low and High,
 * skip windows: each page listed lies in [Low + k * Skip, High + k * Skip] for some k (k = 0 with
 * CHUNKS or Skip 0), is allocated and listed once; ByteCount is a whole number of pages, at most
 * the pages asked and all of them with FULLY_REQUIRED; CHUNKS gives one run (Skip 0) or runs of
 * Skip bytes aligned to Skip; the pages are zeroed unless DONT_ZERO. Freeing gives every page back.
 */
static void test_alloc_pages_windows_generated(void)
{
	static const paddr_t bases[] = { LOW_BASE, LOW_BASE + 5 * SIZE_2M, HIGH_BASE, HIGH_BASE + 3 * SIZE_2M };
	uint64_t st = 0x5EED0F1A7ULL;
	unsigned cases = 0, right = 0, full = 0, partial = 0, none = 0;
	struct snap s0;
	take(&s0);
	for (unsigned c = 0; c < 400; c++) {
		ULONG flags = (ULONG)rnd_in(&st, 0x80);
		bool chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS;
		uint64_t lo = bases[rnd_in(&st, ARRAY_SIZE(bases))] + rnd_in(&st, 2 * SIZE_2M);
		uint64_t hi = lo + rnd_in(&st, rnd_in(&st, 2) ? 64 * PAGE_SIZE : 3 * SIZE_2M);
		uint64_t skip = rnd_in(&st, 2) ? 0 : PAGE_SIZE * (1 + rnd_in(&st, 1024));
		uint64_t total = 1 + rnd_in(&st, rnd_in(&st, 2) ? 16 * PAGE_SIZE : 3 * SIZE_2M);
		if (chunks && skip) {
			skip = PAGE_SIZE << rnd_in(&st, (flags & MM_ALLOCATE_FAST_LARGE_PAGES) ? 1 : 8);
			if (flags & MM_ALLOCATE_FAST_LARGE_PAGES)
				skip *= SIZE_2M / PAGE_SIZE;
			total = skip * (1 + rnd_in(&st, 3));
		} else if (chunks && (flags & MM_ALLOCATE_FAST_LARGE_PAGES)) {
			flags &= ~(ULONG)MM_ALLOCATE_FAST_LARGE_PAGES;   /* refused: the rules test covers it */
		}
		uint64_t want = (total + PAGE_SIZE - 1) / PAGE_SIZE;
		PMDL mdl = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(hi), pa_of(skip), total, MmCached, flags);
		bool good = true;
		uint64_t n = mdl ? mdl->ByteCount / PAGE_SIZE : 0;
		if (mdl) {
			PFN_NUMBER *pfn = MmGetMdlPfnArray(mdl);
			good &= mdl->ByteCount % PAGE_SIZE == 0 && n >= 1 && n <= want && mdl->MdlFlags == MDL_PAGES_LOCKED &&
				mdl->StartVa == NULL && mdl->ByteOffset == 0;
			good &= !(flags & MM_ALLOCATE_FULLY_REQUIRED) || n == want;
			for (uint64_t i = 0; good && i < n; i++) {
				paddr_t pa = pfn_to_pa(pfn[i]);
				bool inside = pa >= lo && pa + PAGE_SIZE - 1 <= hi;
				for (uint64_t k = 1; !inside && skip && !chunks && lo + k * skip <= pa; k++)
					inside = pa >= lo + k * skip && pa + PAGE_SIZE - 1 <= hi + k * skip;
				good &= inside && !phys_is_free(pa, 1) && phys_is_managed(pa);
				for (uint64_t j = 0; good && j < i; j++)
					good &= pfn[j] != pfn[i];
				if (good && !(flags & MM_DONT_ZERO_ALLOCATION)) {
					const uint64_t *w = dmap(pa);
					for (unsigned k = 0; k < PAGE_SIZE / 8; k++)
						good &= w[k] == 0;
				}
			}
			if (good && chunks) {
				uint64_t run = skip ? skip / PAGE_SIZE : n;
				good &= n % run == 0;
				for (uint64_t i = 0; good && i < n; i++)
					good &= i % run ? pfn[i] == pfn[i - 1] + 1 : pfn[i] % (skip ? run : 1) == 0;
			}
			fill_pages(mdl, 0xE7);   /* the next requests see dirty pages */
		}
		full += mdl && n == want;
		partial += mdl && n < want;
		none += !mdl;
		if (!good && cases - right < 3)
			printf("# Low 0x%llx High 0x%llx Skip 0x%llx Total 0x%llx flags 0x%x: %llu pages, a rule broken\n",
			       (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)skip,
			       (unsigned long long)total, flags, (unsigned long long)n);
		cases++;
		right += good;
		release_pages(mdl);
	}
	ok(right == cases && full > 100 && partial > 20,
	   "%u generated requests inside RAM: pages inside their windows, listed once, allocated, zeroed unless "
	   "DONT_ZERO, chunks aligned, FULLY_REQUIRED whole (%u whole, %u partial, %u NULL)", cases, full, partial, none);
	ok(same(&s0), "every page back afterwards");
}

/*
 * A SkipBytes so large that the next window [Low + Skip, High + Skip] lies past 2^64 ends the search
 * after the first window: the sums are not taken modulo 2^64, which would move the window to just
 * below Low (Skip = 2^64 - 4 KiB: one page down) and hand out a page outside every window the
 * caller described. The one page of the first window is taken, the page below it free.
 */
static void test_alloc_pages_skip_wraps(void)
{
	const uint64_t skips[] = { UINT64_MAX - PAGE_SIZE + 1, UINT64_MAX - 2 * PAGE_SIZE + 1, 1ULL << 63 };
	paddr_t low = LOW_BASE + 2 * PAGE_SIZE;
	while (low < LOW_BASE + LOW_PAGES * PAGE_SIZE && !phys_is_free(low - 2 * PAGE_SIZE, 3))
		low += PAGE_SIZE;
	paddr_t taken = phys_alloc(1, low, low + PAGE_SIZE);
	ok(taken == low && phys_is_free(low - PAGE_SIZE, 1) && phys_is_free(low - 2 * PAGE_SIZE, 1),
	   "skip wrap setup: the window's page taken, the two below it free");
	struct snap s0;
	take(&s0);
	unsigned right = 0, cases = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(skips); k++)
		for (ULONG flags = 0; flags <= MM_ALLOCATE_PREFER_CONTIGUOUS; flags += MM_ALLOCATE_PREFER_CONTIGUOUS) {
			PMDL mdl = MmAllocatePagesForMdlEx(pa_of(low), pa_of(low + PAGE_SIZE - 1), pa_of(skips[k]),
							   PAGE_SIZE, MmCached, flags);
			cases++;
			if (!mdl) {
				right++;
				continue;
			}
			printf("#   skip 0x%llx flags 0x%x: page 0x%llx outside every window\n", (unsigned long long)skips[k],
			     (unsigned)flags, (unsigned long long)pfn_to_pa(MmGetMdlPfnArray(mdl)[0]));
			release_pages(mdl);
		}
	ok(right == cases && same(&s0), "a skip whose next window passes 2^64 stops the search: NULL, nothing taken");
	if (taken)
		phys_free(taken, 1);
}

/*
 * MM_ALLOCATE_FROM_LOCAL_NODE_ONLY and MM_ALLOCATE_NO_WAIT "are accepted, change nothing": from the
 * same state, generated requests (every other flag combination, windows with and without skip) give
 * the same pages in the same order with and without them, one after the other's pages went back.
 */
static void test_alloc_pages_ignored_flags(void)
{
	static PFN_NUMBER first[1024];
	uint64_t st = 0x10CA1ULL;
	unsigned cases = 0, differ = 0;
	for (unsigned c = 0; c < 120; c++) {
		ULONG flags = (ULONG)rnd_in(&st, 0x80) & ~(ULONG)(MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | MM_ALLOCATE_NO_WAIT);
		flags &= ~(ULONG)MM_ALLOCATE_FAST_LARGE_PAGES | (rnd_in(&st, 2) ? MM_ALLOCATE_FAST_LARGE_PAGES : 0);
		bool chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS;
		if (chunks)
			flags &= ~(ULONG)MM_ALLOCATE_FAST_LARGE_PAGES;
		uint64_t lo = (rnd_in(&st, 2) ? LOW_BASE : HIGH_BASE) + rnd_in(&st, SIZE_2M);
		uint64_t hi = lo + rnd_in(&st, 4 * SIZE_2M);
		uint64_t skip = rnd_in(&st, 2) ? 0 : PAGE_SIZE * (1 + rnd_in(&st, 512));
		uint64_t total = 1 + rnd_in(&st, 1000 * PAGE_SIZE);
		if (chunks && skip)
			skip = PAGE_SIZE << rnd_in(&st, 4), total = skip * (1 + rnd_in(&st, 8));
		ULONG extra = (ULONG)(1 + rnd_in(&st, 3)) * MM_ALLOCATE_FROM_LOCAL_NODE_ONLY;   /* 0x2, 0x4 or 0x6 */
		extra = (extra & MM_ALLOCATE_FROM_LOCAL_NODE_ONLY) | (extra & 0x4 ? MM_ALLOCATE_NO_WAIT : 0);
		PMDL a = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(hi), pa_of(skip), total, MmCached, flags);
		uint64_t na = a ? a->ByteCount / PAGE_SIZE : 0;
		if (a)
			memcpy(first, MmGetMdlPfnArray(a), na * sizeof(PFN_NUMBER));
		release_pages(a);
		PMDL b = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(hi), pa_of(skip), total, MmCached, flags | extra);
		uint64_t nb = b ? b->ByteCount / PAGE_SIZE : 0;
		bool same_pages = (a != NULL) == (b != NULL) && na == nb &&
				  (!b || memcmp(first, MmGetMdlPfnArray(b), nb * sizeof(PFN_NUMBER)) == 0);
		release_pages(b);
		if (!same_pages && differ++ < 3)
			printf("# flags 0x%x (+0x%x) Low 0x%llx High 0x%llx Skip 0x%llx Total 0x%llx: %llu then %llu pages\n", flags,
			       extra, (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)skip,
			       (unsigned long long)total, (unsigned long long)na, (unsigned long long)nb);
		cases++;
	}
	is(differ, 0, "%u generated requests: LOCAL_NODE_ONLY and NO_WAIT change neither the outcome nor the pages", cases);
}

static void test_free_pages_misuse(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, 2 * PAGE_SIZE, MmCached, 0);
	intercept();
	struct snap s;
	char *va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, 0, 0);
	take(&s);
	MmFreePagesFromMdl(mdl);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL) && bugcheck_last.p[1] == (uintptr_t)mdl,
	   "freeing pages still mapped: 0x1A");
	ok(same(&s) && mdl->ByteCount == 2 * PAGE_SIZE, "unchanged");
	MmUnmapLockedPages(va, mdl);
	PFN_NUMBER keep = MmGetMdlPfnArray(mdl)[1];
	MmGetMdlPfnArray(mdl)[1] = pa_to_pfn(phys_alloc(1, 0, UINT64_MAX));
	phys_free(pfn_to_pa(MmGetMdlPfnArray(mdl)[1]), 1);
	take(&s);
	MmFreePagesFromMdl(mdl);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_PAGE) && bugcheck_last.p[3] == 1,
	   "a listed frame already free: 0x1A, P4 its index");
	ok(same(&s), "nothing freed");
	MmGetMdlPfnArray(mdl)[1] = keep;
	mdl->MdlFlags |= MDL_IO_SPACE;   /* its own frames, the MDL marked I/O space: refused before any frame is read */
	take(&s);
	MmFreePagesFromMdl(mdl);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL) && bugcheck_last.p[1] == (uintptr_t)mdl &&
	   bugcheck_last.p[2] == (uint16_t)mdl->MdlFlags, "an MDL with MDL_IO_SPACE: 0x1A, P2 the MDL, P3 its flags");
	ok(same(&s) && mdl->ByteCount == 2 * PAGE_SIZE && (mdl->MdlFlags & MDL_PAGES_LOCKED), "nothing freed, the MDL unchanged");
	mdl->MdlFlags = (CSHORT)(mdl->MdlFlags & ~MDL_IO_SPACE);
	MmFreePagesFromMdl(mdl);
	ok(none_fired() && mdl->ByteCount == 0 && !(mdl->MdlFlags & MDL_PAGES_LOCKED), "freed: ByteCount 0, not locked");
	MmFreePagesFromMdl(mdl);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL), "second MmFreePagesFromMdl: 0x1A");
	ExFreePool(mdl);
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, TAG_A);
	PMDL pm = IoAllocateMdl(buf, PAGE_SIZE, 0, 0, NULL);
	MmBuildMdlForNonPagedPool(pm);
	take(&s);
	MmFreePagesFromMdl(pm);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL) && same(&s), "pool memory refused: 0x1A");
	MmFreePagesFromMdl(NULL);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "NULL: 0x50");
	release();
	IoFreeMdl(pm);
	ExFreePool(buf);
}

/*
 * MmFreePagesFromMdl refuses pool memory (docs/contract.md: "from pool ... 0x1A, P1 0x4D440002"), and
 * section 8: a caught bug check leaves everything as it was. An MDL built over a live large pool
 * block (MmBuildMdlForNonPagedPool) loses its MappedSystemVa when it serves as the MDL of an unmap
 * of another mapping of the same span (section 3: only the span matters); MmFreePagesFromMdl must
 * still not hand the pool block's frames to the physical allocator. Generated over block sizes of
 * 1 to 8 pages.
 */
static void test_free_pages_of_pool_block(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	unsigned cases = 0, handed = 0;
	intercept();
	for (uint64_t pages = 1; pages <= 8; pages++) {
		uint8_t *blk = ExAllocatePoolWithTag(NonPagedPool, pages * PAGE_SIZE, TAG_A);
		PMDL pm = IoAllocateMdl(blk, (ULONG)(pages * PAGE_SIZE), 0, 0, NULL);
		MmBuildMdlForNonPagedPool(pm);
		void *va = MmAllocateMappingAddress(pages * PAGE_SIZE, TAG_R);
		PMDL other = MmAllocatePagesForMdlEx(z, any, z, pages * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
		bool mapped = MmMapLockedPagesWithReservedMapping(va, TAG_R, other, MmCached) != NULL;
		MmUnmapReservedMapping(va, TAG_R, pm);   /* the span is the same: a valid unmap */
		uint64_t c0 = bugcheck_last.count;
		MmFreePagesFromMdl(pm);
		bool freed_behind = phys_is_free(virt_to_pa(blk), 1);
		bool good = mapped && bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			    (bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_MDL || bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_PAGE) &&
			    !freed_behind && pool_block_info(blk, NULL, NULL);
		if (!good && handed++ < 2)
			printf("# a %llu-page pool block: MmFreePagesFromMdl raised %llu bug checks, its frames free %d\n",
			       (unsigned long long)pages, (unsigned long long)(bugcheck_last.count - c0), freed_behind);
		cases++;
		if (freed_behind)   /* take the frames back for the pool before its own free */
			for (uint64_t i = 0; i < pages; i++)
				phys_alloc(1, virt_to_pa(blk) + i * PAGE_SIZE, virt_to_pa(blk) + (i + 1) * PAGE_SIZE);
		IoFreeMdl(pm);
		ExFreePool(blk);
		MmUnmapReservedMapping(va, TAG_R, other) ;
		MmFreeMappingAddress(va, TAG_R);
		release_pages(other);
	}
	release();
	is(handed, 0, "%u MDLs over live pool blocks, MappedSystemVa cleared by an unmap: MmFreePagesFromMdl refuses "
	   "them (0x1A) and the block's frames stay allocated", cases);
}

/*
 * MmFreePagesFromMdl refuses a partial MDL (mm/mdl.c: "mapped, partial, I/O space, pool memory or
 * already freed": 0x1A, P1 MDL_BUGCHECK_FREE_BAD_MDL, P2 the MDL, P3 its flags, nothing freed), even
 * one whose other flags alone would be freeable: a partial of a growable region's tear-down MDL
 * (SOURCE_IS_NONPAGED_POOL inherited, no MappedSystemVa, as its source), and a partial of an
 * MmAllocatePagesForMdlEx MDL that its caller marked PAGES_LOCKED. The pages stay the source's.
 * Generated over sources of 1 to 8 pages and sub-ranges at any byte (Length 0 among them).
 */
static void test_free_pages_partial(void)
{
	uint64_t st = 0xF4EEDA471A1ULL;
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	unsigned cases = 0, right = 0, kinds[2] = { 0, 0 };
	for (unsigned c = 0; c < 48; c++) {
		uint64_t n = 1 + c % 8;
		unsigned kind = (c / 8) % 2;   /* 0 a partial of a tear-down MDL, 1 of a pages MDL, marked locked */
		PMDL pages = MmAllocatePagesForMdlEx(z, any, z, n * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
		PMDL src = pages, target = IoAllocateMdl(NULL, (ULONG)(n * PAGE_SIZE), 0, 0, NULL);
		char *base = NULL;
		if (!pages || !target)
			break;
		if (kind == 0) {   /* the tear-down MDL of a growable region holding these pages */
			base = MmAllocateMappingAddress(n * PAGE_SIZE, TAG_R);
			if (!base || MmMapLockedPagesWithReservedMapping(base, TAG_R, pages, MmCached) != base)
				break;
			src = IoAllocateMdl(base, (ULONG)(n * PAGE_SIZE), 0, 0, NULL);
			MmBuildMdlForNonPagedPool(src);
			MmUnmapReservedMapping(base, TAG_R, src);
			ExFreePool(pages);   /* its pages are now the tear-down MDL's to free */
			pages = NULL;
		}
		uint64_t off = rnd_in(&st, n * PAGE_SIZE), len = rnd_in(&st, 4) ? 1 + rnd_in(&st, n * PAGE_SIZE - off) : 0;
		IoBuildPartialMdl(src, target, (char *)MmGetMdlVirtualAddress(src) + off, (ULONG)len);
		if (kind == 1)
			target->MdlFlags |= MDL_PAGES_LOCKED;
		uint16_t flags = (uint16_t)target->MdlFlags;
		ULONG count = target->ByteCount;
		uint64_t span = mdl_span_pages(target);
		struct snap s;
		take(&s);
		intercept();
		MmFreePagesFromMdl(target);
		bool good = fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL) &&
			    bugcheck_last.p[1] == (uintptr_t)target && bugcheck_last.p[2] == flags && same(&s) &&
			    target->ByteCount == count && (uint16_t)target->MdlFlags == flags;
		release();
		if (!same(&s))   /* the partial's frames went back: taken again for the source's own free */
			for (uint64_t i = 0; i < span; i++) {
				paddr_t pa = pfn_to_pa(MmGetMdlPfnArray(target)[i]);
				phys_alloc(1, pa, pa + PAGE_SIZE);
			}
		cases++;
		right += good;
		kinds[kind]++;
		if (!good && right + 3 > cases)
			printf("# MmFreePagesFromMdl of a partial MDL (flags 0x%x, %u bytes at %llu of %llu pages): not refused\n",
			       flags, (unsigned)count, (unsigned long long)off, (unsigned long long)n);
		IoFreeMdl(target);
		if (kind == 0) {
			MmFreePagesFromMdl(src);
			IoFreeMdl(src);
			MmFreeMappingAddress(base, TAG_R);
		} else
			release_pages(pages);
	}
	ok(cases == 48 && right == cases && kinds[0] == 24 && kinds[1] == 24,
	   "MmFreePagesFromMdl of %u partial MDLs (%u of tear-down MDLs, %u marked locked): 0x1A FREE_BAD_MDL, nothing "
	   "freed (%u right)", cases, kinds[0], kinds[1], right);
}

/* ---------------------------------------------------------------- system mappings */

static void test_map_locked(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, 3 * PAGE_SIZE, MmCached, 0);
	struct snap s;
	take(&s);
	ok(!MmMapLockedPagesSpecifyCache(mdl, UserMode, MmCached, NULL, 0, 0), "UserMode: NULL");
	ok(!MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, (PVOID)REGION_BASE, 0, 0), "RequestedAddress: NULL");
	ok(!MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmMaximumCacheType, NULL, 0, 0), "bad cache type: NULL");
	ok(!MmMapLockedPagesSpecifyCache(NULL, KernelMode, MmCached, NULL, 0, 0), "NULL MDL: NULL");
	struct { MDL m; PFN_NUMBER p[1]; } empty;
	MmInitializeMdl(&empty.m, NULL, 0);
	empty.m.MdlFlags = MDL_PAGES_LOCKED;
	ok(!MmMapLockedPagesSpecifyCache(&empty.m, KernelMode, MmCached, NULL, 0, 0), "ByteCount 0: NULL");
	struct { MDL m; PFN_NUMBER p[1]; } unlocked;
	MmInitializeMdl(&unlocked.m, NULL, PAGE_SIZE);
	unlocked.p[0] = MmGetMdlPfnArray(mdl)[0];
	ok(!MmMapLockedPagesSpecifyCache(&unlocked.m, KernelMode, MmCached, NULL, 0, 0), "not locked: NULL");
	ok(same(&s), "no reservation left by the refusals");

	char *va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmWriteCombined, NULL, 1, HighPagePriority | MdlMappingNoExecute);
	ok(va && syspte_in_region(reserved_region(), (vaddr_t)va) && ((uintptr_t)va & PAGE_MASK) == 0, "mapped in the region");
	ok((mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) && mdl->MappedSystemVa == va, "MAPPED_TO_SYSTEM_VA, MappedSystemVa");
	struct syspte_info info;
	ok(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.tag == MDL_TAG_MAP && info.base == (vaddr_t)va && info.npages == 3 &&
	   info.mapped == 3, "a reservation of exactly the span, tag 'MdlM'");
	uint64_t pte;
	bool ptes = true;
	for (unsigned i = 0; i < 3; i++)
		ptes &= pfn_at((vaddr_t)va + i * PAGE_SIZE) == MmGetMdlPfnArray(mdl)[i];
	pt_query(&pt, (vaddr_t)va, NULL, &pte, NULL);
	ok(ptes && (pte & X86_PTE_PAT_4K) && (pte & X86_PTE_NX) && (pte & X86_PTE_W), "PTEs map the PFNs, WC, NX, writable");
	ok(MmGetSystemAddressForMdlSafe(mdl, 0) == va, "MmGetSystemAddressForMdlSafe: the existing mapping");
	take(&s);
	ok(!MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, 0, 0), "already mapped: NULL");
	ok(same(&s), "and no reservation leaked");

	intercept();
	MmUnmapLockedPages(va + PAGE_SIZE, mdl);
	ok(fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING) && bugcheck_last.p[2] == (uintptr_t)va && bugcheck_last.p[3] == 3,
	   "unmap from inside the mapping: 0xDA/0x10C");
	struct { MDL m; PFN_NUMBER p[2]; } shorter;
	MmInitializeMdl(&shorter.m, NULL, 2 * PAGE_SIZE);
	MmUnmapLockedPages(va, &shorter.m);
	ok(fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING), "unmap with a different span: 0xDA/0x10C");
	char *r = MmAllocateMappingAddress(PAGE_SIZE, TAG_R);
	MmUnmapLockedPages(r, mdl);
	ok(fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG), "unmap in another tag's reservation: 0xDA/0x108");
	MmFreeMappingAddress(r, TAG_R);
	ok(same(&s) && pfn_at((vaddr_t)va + 2 * PAGE_SIZE), "still mapped after the misuses");
	MmUnmapLockedPages(va, mdl);
	ok(none_fired() && !syspte_lookup(reserved_region(), (vaddr_t)va, &info), "unmapped and the reservation freed");
	ok(!(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) && mdl->MappedSystemVa == NULL, "flags and MappedSystemVa cleared");
	take(&s);
	MmUnmapLockedPages(va, mdl);
	ok(fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED) && same(&s), "double unmap: 0xDA/0x109");
	MmUnmapLockedPages(va, NULL);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "NULL MDL: 0x50");
	release();

	/* ByteOffset: the returned address carries it. */
	PMDL io = IoAllocateMdl((PVOID)0x7123, 2 * PAGE_SIZE, 0, 0, NULL);
	for (unsigned i = 0; i < 3; i++)
		MmGetMdlPfnArray(io)[i] = MmGetMdlPfnArray(mdl)[i];
	io->MdlFlags |= MDL_PAGES_LOCKED;
	char *v2 = MmGetSystemAddressForMdlSafe(io, NormalPagePriority);
	ok(v2 && ((uintptr_t)v2 & PAGE_MASK) == 0x123 && io->MappedSystemVa == v2 - 0x123,
	   "MmGetSystemAddressForMdlSafe maps: mapping + ByteOffset");
	ok(MmGetSystemAddressForMdlSafe(io, 0) == v2, "second call: the same address");
	ok(MmGetSystemAddressForMdlSafe(NULL, 0) == NULL, "NULL MDL: NULL");
	struct syspte_stats ss;
	syspte_get_stats(reserved_region(), &ss);
	IoFreeMdl(io);
	struct syspte_stats ss2;
	syspte_get_stats(reserved_region(), &ss2);
	is(ss2.live, ss.live - 1, "IoFreeMdl undid the mapping MmGetSystemAddressForMdlSafe made");
	release_pages(mdl);

	/* A reserved mapping made by the caller: MappedSystemVa + ByteOffset, and IoFreeMdl leaves it. */
	PMDL own = MmAllocatePagesForMdlEx(z, any, z, PAGE_SIZE, MmCached, 0);
	PMDL off = IoAllocateMdl((PVOID)0x5040, 0x100, 0, 0, NULL);
	MmGetMdlPfnArray(off)[0] = MmGetMdlPfnArray(own)[0];
	off->MdlFlags |= MDL_PAGES_LOCKED;
	char *res = MmAllocateMappingAddress(4 * PAGE_SIZE, TAG_R);
	char *got = MmMapLockedPagesWithReservedMapping(res + PAGE_SIZE, TAG_R, off, MmCached);
	ok(got == res + PAGE_SIZE + 0x40, "reserved mapping returns MappingAddress + ByteOffset");
	ok(MmGetSystemAddressForMdlSafe(off, 0) == got, "MmGetSystemAddressForMdlSafe agrees");
	MmUnmapReservedMapping(res + PAGE_SIZE, TAG_R, off);
	IoFreeMdl(off);

	/* IoFreeMdl unmaps only a mapping MmMapLockedPagesSpecifyCache made for that MDL: an MDL still
	 * mapped at the start of the caller's reservation, and a partial MDL whose MappedSystemVa is
	 * the start of its parent's 'MdlM' mapping, are freed with those mappings left whole. */
	PMDL mine = IoAllocateMdl((PVOID)0x5000, PAGE_SIZE, 0, 0, NULL);
	MmGetMdlPfnArray(mine)[0] = MmGetMdlPfnArray(own)[0];
	mine->MdlFlags |= MDL_PAGES_LOCKED;
	ok(MmMapLockedPagesWithReservedMapping(res, TAG_R, mine, MmCached) == res, "mapped at the reservation's start");
	struct { MDL m; PFN_NUMBER p[1]; } copy;
	memcpy(&copy, mine, sizeof(copy));
	struct syspte_stats before, after;
	syspte_get_stats(reserved_region(), &before);
	intercept();
	IoFreeMdl(mine);
	syspte_get_stats(reserved_region(), &after);
	ok(none_fired() && pfn_at((vaddr_t)res) == MmGetMdlPfnArray(own)[0] && after.pages_mapped == before.pages_mapped,
	   "IoFreeMdl of an MDL mapped in the caller's reservation leaves the mapping");
	MmUnmapReservedMapping(res, TAG_R, &copy.m);
	ok(none_fired() && !pfn_at((vaddr_t)res), "the caller unmaps it with its own copy of the MDL");
	PMDL parent = MmAllocatePagesForMdlEx(z, any, z, 3 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	char *pm = MmMapLockedPagesSpecifyCache(parent, KernelMode, MmCached, NULL, 0, 0);
	PMDL part = IoAllocateMdl((PVOID)0x10000, 3 * PAGE_SIZE, 0, 0, NULL);
	IoBuildPartialMdl(parent, part, MmGetMdlVirtualAddress(parent), 0);
	ok(pm && part->MappedSystemVa == pm && (part->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA), "a partial of the whole parent");
	syspte_get_stats(reserved_region(), &before);
	IoFreeMdl(part);
	syspte_get_stats(reserved_region(), &after);
	bool whole = none_fired() && after.live == before.live && after.pages_mapped == before.pages_mapped &&
		     (parent->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
	for (unsigned i = 0; i < 3; i++)
		whole &= pfn_at((vaddr_t)pm + i * PAGE_SIZE) == MmGetMdlPfnArray(parent)[i];
	ok(whole, "IoFreeMdl of the partial leaves the parent's mapping");
	release();
	MmUnmapLockedPages(pm, parent);
	release_pages(parent);
	MmFreeMappingAddress(res, TAG_R);
	release_pages(own);
}

/*
 * IoFreeMdl whose own 'MdlM' mapping cannot be undone as the MDL now describes it (its span changed
 * since MmGetSystemAddressForMdlSafe mapped it): the unmap's bug check (0xDA/0x10C) is detected, and
 * then, as after every detected misuse (docs/contract.md sections 3 and 8), nothing may have changed:
 * the MDL still allocated, its mapping whole. Generated over mapped spans of 1..6 pages and every
 * other span of 1..7 pages the caller's new ByteCount gives.
 */
static void test_io_free_mapped_misuse(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	PMDL pages = MmAllocatePagesForMdlEx(z, any, z, 7 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	unsigned cases = 0, fired_ok = 0, unchanged = 0;
	for (unsigned n = 1; pages && n <= 6; n++)
		for (unsigned m = 1; m <= 7; m++) {
			if (m == n)
				continue;
			PMDL io = IoAllocateMdl((PVOID)0x40000, 7 * PAGE_SIZE, 0, 0, NULL);
			memcpy(MmGetMdlPfnArray(io), MmGetMdlPfnArray(pages), 7 * sizeof(PFN_NUMBER));
			io->ByteCount = n * PAGE_SIZE;
			io->MdlFlags |= MDL_PAGES_LOCKED;
			char *va = MmGetSystemAddressForMdlSafe(io, NormalPagePriority);
			io->ByteCount = m * PAGE_SIZE;   /* the caller changes the described length */
			struct snap s;
			take(&s);
			intercept();
			IoFreeMdl(io);
			cases++;
			fired_ok += fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING) &&
				    bugcheck_last.p[2] == (uintptr_t)va && bugcheck_last.p[3] == m;
			bool same_now = same(&s) && pfn_at((vaddr_t)va) == MmGetMdlPfnArray(pages)[0];
			unchanged += same_now;
			release();
			if (!same_now) {   /* the MDL went back to the pool: its mapping undone by hand */
				struct { MDL m; PFN_NUMBER p[7]; } by_hand;
				MmInitializeMdl(&by_hand.m, NULL, n * PAGE_SIZE);
				MmUnmapReservedMapping(va, MDL_TAG_MAP, &by_hand.m);
				MmFreeMappingAddress(va, MDL_TAG_MAP);
				continue;
			}
			io->ByteCount = n * PAGE_SIZE;
			IoFreeMdl(io);
		}
	ok(cases == 36 && fired_ok == cases, "%u IoFreeMdl calls on an MDL whose span changed since its mapping: 0xDA/0x10C "
	   "(P2 the mapping's address, P3 its base, P4 the pages asked) each time (%u)", cases, fired_ok);
	ok(unchanged == cases, "after each detected misuse nothing changed: the MDL still allocated, its mapping whole "
	   "(%u of %u)", unchanged, cases);
	release_pages(pages);
}

/*
 * IoFreeMdl unmaps "a mapping that MmMapLockedPagesSpecifyCache made for it" (docs/contract.md
 * section 5) and no other. MDL A is mapped by MmGetSystemAddressForMdlSafe, and that mapping is
 * undone by MmUnmapLockedPages with a copy of A (the unmap takes any MDL of the span: section 3);
 * A keeps its MAPPED_TO_SYSTEM_VA and MappedSystemVa. Another MDL B is then mapped the same way, at
 * the same address when the region hands it out again. IoFreeMdl(A) must leave B's mapping whole:
 * B's frames mapped, B's 'MdlM' reservation live. Generated over spans of 1 to 8 pages.
 */
static void test_io_free_leaves_other_mapping(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	PMDL pa = MmAllocatePagesForMdlEx(z, any, z, 8 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	PMDL pb = MmAllocatePagesForMdlEx(z, any, z, 8 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	unsigned cases = 0, reused = 0, intact = 0;
	for (unsigned n = 1; pa && pb && n <= 8; n++) {
		PMDL a = IoAllocateMdl((PVOID)0x20000, n * PAGE_SIZE, 0, 0, NULL), b = IoAllocateMdl((PVOID)0x20000, n * PAGE_SIZE, 0, 0, NULL);
		memcpy(MmGetMdlPfnArray(a), MmGetMdlPfnArray(pa), n * sizeof(PFN_NUMBER));
		memcpy(MmGetMdlPfnArray(b), MmGetMdlPfnArray(pb), n * sizeof(PFN_NUMBER));
		a->MdlFlags |= MDL_PAGES_LOCKED;
		b->MdlFlags |= MDL_PAGES_LOCKED;
		char *va = MmGetSystemAddressForMdlSafe(a, NormalPagePriority);
		struct { MDL m; PFN_NUMBER p[8]; } copy;
		memcpy(&copy, a, sizeof(MDL) + n * sizeof(PFN_NUMBER));
		MmUnmapLockedPages(va, &copy.m);   /* A's mapping undone with a copy of A */
		char *vb = MmGetSystemAddressForMdlSafe(b, NormalPagePriority);
		cases++;
		reused += vb == va;
		intercept();
		IoFreeMdl(a);
		struct syspte_info info;
		bool whole = none_fired() && syspte_lookup(reserved_region(), (vaddr_t)vb, &info) && info.tag == MDL_TAG_MAP &&
			     info.mapped == n;
		for (unsigned i = 0; i < n; i++)
			whole &= pfn_at((vaddr_t)vb + i * PAGE_SIZE) == MmGetMdlPfnArray(pb)[i];
		intact += whole;
		release();
		if (whole)
			IoFreeMdl(b);
		else {   /* B's mapping went with A: B's flags say otherwise, set them straight by hand */
			b->MdlFlags &= (CSHORT)~MDL_MAPPED_TO_SYSTEM_VA;
			b->MappedSystemVa = NULL;
			IoFreeMdl(b);
		}
	}
	ok(cases == 8 && reused > 0, "%u of %u second mappings at the address the first one had", reused, cases);
	ok(intact == cases, "IoFreeMdl of an MDL whose mapping was undone already leaves another MDL's mapping at that "
	   "address whole (%u of %u)", intact, cases);
	release_pages(pa);
	release_pages(pb);
}

/*
 * IoFreeMdl of an MDL not from IoAllocateMdl is 0xC2 from ExFreePoolWithTag "with nothing unmapped"
 * (mm/mdl.c), even when MmGetSystemAddressForMdlSafe mapped it and even when it is malformed: the
 * MDL's own checks and its unmap belong to IoAllocateMdl's MDLs alone. Generated: MDLs of 1 to 8
 * pages (and 600, a large pool block) from MmAllocatePagesForMdlEx, in pool blocks of other tags
 * (made by hand over the same frames) and in static memory, each mapped, half of them then broken by
 * one rule of mm/mdl.h (1 to 5, those IoFreeMdl's own check would see): exactly one bug check, 0xC2
 * with P1 0x0A (a pool block of another tag) or 0x42 (not pool), the pool, the allocator and the
 * region unchanged, the mapping's frames still mapped.
 */
static void test_io_free_foreign_mapped(void)
{
	static struct { MDL m; PFN_NUMBER pfn[600]; } fixed;
	uint64_t st = 0x10F4EE3DDA7AULL;
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	unsigned cases = 0, right = 0, broken = 0, kinds[3] = { 0, 0, 0 };
	for (unsigned c = 0; c < 72; c++) {
		uint64_t n = c % 9 == 8 ? 600 : 1 + c % 9;
		unsigned kind = (unsigned)rnd_in(&st, 3);   /* 0 its own 'MdlP' block, 1 a block of another tag, 2 static */
		PMDL pages = MmAllocatePagesForMdlEx(z, any, z, n * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
		if (!pages)
			break;
		PMDL m = pages;
		uint32_t tag = MDL_TAG_PAGES;
		if (kind == 1) {
			tag = POOL_TAG4('a' + rnd_in(&st, 26), 'a' + rnd_in(&st, 26), 'a' + rnd_in(&st, 26), 'a' + rnd_in(&st, 26));
			m = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(MDL) + n * sizeof(PFN_NUMBER), tag);
		} else if (kind == 2)
			m = &fixed.m;
		if (!m)
			break;
		if (m != pages) {
			MmInitializeMdl(m, NULL, n * PAGE_SIZE);
			memcpy(MmGetMdlPfnArray(m), MmGetMdlPfnArray(pages), n * sizeof(PFN_NUMBER));
			m->MdlFlags = MDL_PAGES_LOCKED;
		}
		char *va = MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
		MDL header = *m;
		switch (rnd_in(&st, 10)) {   /* half of them broken by one rule IoFreeMdl's own check would see */
		case 0: m->ByteOffset = (ULONG)(PAGE_SIZE + rnd_in(&st, PAGE_SIZE)); break;
		case 1: m->StartVa = (PVOID)(1 + rnd_in(&st, PAGE_SIZE - 1)); break;
		case 2: m->ByteCount = (ULONG)(MDL_MAX_BYTES + 1 + rnd_in(&st, PAGE_SIZE - 1)); break;
		case 3: m->StartVa = (PVOID)(0ULL - PAGE_SIZE * (1 + rnd_in(&st, n))); m->ByteCount += PAGE_SIZE; break;
		case 4: m->Size = (CSHORT)(sizeof(MDL) + sizeof(PFN_NUMBER) * rnd_in(&st, MIN(n, 8))); break;
		default: break;
		}
		broken += mdl_validate(m, 0, NULL) != MDL_VALID;
		struct snap s;
		take(&s);
		intercept();
		IoFreeMdl(m);
		bool good = va && fired(BUGCHECK_BAD_POOL_CALLER, kind == 2 ? POOL_BUGCHECK_NOT_POOL : POOL_BUGCHECK_WRONG_TAG) &&
			    same(&s);
		struct syspte_info info;
		good &= va && syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.tag == MDL_TAG_MAP &&
			info.base == (vaddr_t)va && info.mapped == n;
		for (uint64_t i = 0; good && i < n; i++)
			good &= pfn_at((vaddr_t)va + i * PAGE_SIZE) == MmGetMdlPfnArray(pages)[i];
		release();
		cases++;
		right += good;
		kinds[kind]++;
		if (!good && right + 3 > cases)
			printf("# IoFreeMdl of a mapped %llu-page MDL (%s): not refused as the pool's alone\n",
			       (unsigned long long)n, kind == 0 ? "MmAllocatePagesForMdlEx" : kind == 1 ? "pool, another tag" : "static");
		bool still = va && syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.tag == MDL_TAG_MAP &&
			     info.base == (vaddr_t)va && info.mapped;
		*m = header;   /* the MDL as mapped again; a mapping the call undid is forgotten by hand */
		if (still)
			MmUnmapLockedPages(va, m);
		else {
			m->MdlFlags &= (CSHORT)~MDL_MAPPED_TO_SYSTEM_VA;
			m->MappedSystemVa = NULL;
		}
		if (m != pages && kind == 1)
			ExFreePoolWithTag(m, tag);
		release_pages(pages);
	}
	ok(cases == 72 && right == cases && broken > 20 && kinds[0] > 10 && kinds[1] > 10 && kinds[2] > 10,
	   "IoFreeMdl of %u mapped MDLs not from IoAllocateMdl (%u malformed; %u 'MdlP', %u other tags, %u static): 0xC2 "
	   "alone, nothing unmapped or freed (%u right)", cases, broken, kinds[0], kinds[1], kinds[2], right);
}

/* ---------------------------------------------------------------- malformed MDLs (README "What a valid MDL is") */

/*
 * Where a generated map of n frames from page p of a span-aligned reservation gets its one frame
 * beyond the width: seven times in eight a frame where a part of the map's pass starts or ends (the
 * first and the last frame, the last before the first whole span and its first, each whole span's
 * first and last, the first after the last whole span), else any frame.
 */
static uint64_t bad_frame_at(uint64_t n, uint64_t p, uint64_t span)
{
	uint64_t edge[16], e = 0, k0 = MIN(n, (span - p % span) % span), k = k0;
	edge[e++] = 0;
	edge[e++] = n - 1;
	if (k0)
		edge[e++] = k0 - 1;
	for (; k + span <= n && e + 2 < 16; k += span) {
		edge[e++] = k;
		edge[e++] = k + span - 1;
	}
	if (k < n)
		edge[e++] = k;   /* k0 itself when no span is whole */
	return rnd(8) ? edge[rnd(e)] : rnd(n);
}

/*
 * The reserved map checks an MDL's frames in one pass before the region's lock, which finds its
 * 2 MiB runs and checks the physical width (syspte_map). Generated maps of 1..1536 pages at every
 * phase of a 2 MiB-aligned reservation, under widths of 32..52 bits, with frames that are aligned
 * runs (below the width, or wholly beyond it), runs broken by one frame, scattered frames, and one
 * frame beyond the width, mostly where a part of the pass starts or ends (bad_frame_at), else
 * anywhere: the map succeeds exactly when every frame fits, with exactly one leaf per
 * span it covers whole with an aligned run; a refusal changes neither the region nor the MDL and
 * comes from the pass, before any PTE is written (the write's own check would undo and invalidate
 * its writes: no invalidation may be seen); and
 * the toolkit's own check (IoBuildPartialMdl's rule 7) names the first frame beyond the width.
 */
static void test_map_frames_generated(void)
{
	static struct { MDL m; PFN_NUMBER pfn[3 * 512]; } g;
	const uint64_t span = 512, resv = 3 * span;
	char *va = MmAllocateMappingAddressEx(resv * PAGE_SIZE, TAG_R, MM_MAPPING_ADDRESS_DIVISIBLE);
	ok(va && ((vaddr_t)va & (SIZE_2M - 1)) == 0, "a 2 MiB-aligned reservation of three spans");
	if (!va)
		return;
	unsigned cases = 0, right = 0, mapped = 0, refused = 0, leaves_seen = 0, beyond_runs = 0, at_edge = 0;
	for (unsigned c = 0; c < 4000; c++) {
		unsigned bits = 32 + (unsigned)rnd(21);
		uint64_t limit = 1ULL << (bits - 12);
		fake_arch_set_phys_bits(bits);
		uint64_t p = rnd(4) ? rnd(span) : 0, n = 1 + rnd(resv - p);
		if (rnd(3) == 0 && resv - p >= span)   /* often at least one whole span */
			n = span + rnd(resv - p - span + 1);
		for (uint64_t k = 0; k < n; k++)
			g.pfn[k] = rnd(limit);
		/* the spans the mapping covers whole: aligned runs, some beyond the width, some broken */
		for (uint64_t k = (span - p % span) % span; k + span <= n; k += span) {
			if (rnd(4) == 0)
				continue;
			uint64_t base = rnd(8) ? (rnd(limit / span)) * span : limit + rnd(8) * span;
			for (uint64_t q = 0; q < span; q++)
				g.pfn[k + q] = base + q;
			if (rnd(6) == 0)
				g.pfn[k + rnd(span)] ^= 1ULL << rnd(bits - 12);
		}
		if (rnd(4) == 0) {   /* one frame beyond the width, mostly where a pass starts or ends */
			uint64_t at = bad_frame_at(n, p, span);
			g.pfn[at] = rnd(2) ? limit + rnd(1 << 20) : limit | (rnd(1ULL << 63) << 1);
			at_edge += at == n - 1 || at == 0;
		}
		/* what the map must do, from the frames directly */
		bool fit = true;
		uint64_t first_bad = n, want_leaves = 0;
		for (uint64_t k = 0; k < n; k++)
			if (g.pfn[k] >= limit) {
				fit = false;
				first_bad = MIN(first_bad, k);
			}
		for (uint64_t k = (span - p % span) % span; k + span <= n; k += span) {
			bool run = g.pfn[k] % span == 0;
			for (uint64_t q = 1; run && q < span; q++)
				run = g.pfn[k + q] == g.pfn[k] + q;
			want_leaves += run;
			beyond_runs += run && g.pfn[k] >= limit;
		}
		MmInitializeMdl(&g.m, NULL, n * PAGE_SIZE);
		g.m.MdlFlags = MDL_PAGES_LOCKED;
		struct mdl_fault f;
		enum mdl_invalid why = mdl_validate(&g.m, MDL_CHECK_BYTES | MDL_CHECK_FRAMES, &f);
		struct syspte_stats before, st;
		syspte_get_stats(reserved_region(), &before);
		uint64_t fired = bugcheck_last.count, flushes = fake_tlb.flushes;
		char *got = MmMapLockedPagesWithReservedMapping(va + p * PAGE_SIZE, TAG_R, &g.m, MmCached);
		syspte_get_stats(reserved_region(), &st);
		bool good = bugcheck_last.count == fired &&
			    (fit ? why == MDL_VALID : why == MDL_INVALID_FRAME && f.extra == first_bad && f.value == g.pfn[first_bad]);
		if (fit)
			good &= got == va + p * PAGE_SIZE && st.pages_mapped == before.pages_mapped + n &&
				st.large_leaves == before.large_leaves + want_leaves && (g.m.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
		else   /* refused by the pass before the lock: no PTE ever written, so none invalidated */
			good &= !got && st.pages_mapped == before.pages_mapped && st.large_leaves == before.large_leaves &&
				g.m.MdlFlags == MDL_PAGES_LOCKED && g.m.MappedSystemVa == NULL && fake_tlb.flushes == flushes;
		if (got) {
			mapped++;
			leaves_seen += (unsigned)want_leaves;
			MmUnmapReservedMapping(got, TAG_R, &g.m);
			syspte_get_stats(reserved_region(), &st);
			good &= st.pages_mapped == before.pages_mapped && st.large_leaves == before.large_leaves;
		} else
			refused++;
		cases++;
		right += good;
		if (!good && right + 5 > cases)
			printf("# case %u: %u bits, page %llu, %llu pages, fit %d, leaves %llu: map %p, leaves now %llu\n", c, bits,
			       (unsigned long long)p, (unsigned long long)n, fit, (unsigned long long)want_leaves, (void *)got,
			       (unsigned long long)st.large_leaves);
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	MmFreeMappingAddress(va, TAG_R);
	printf("# %u maps, %u refused, %u leaves, %u aligned runs beyond the width, %u bad frames first or last\n", mapped,
	       refused, leaves_seen, beyond_runs, at_edge);
	ok(right == cases && mapped > 1000 && refused > 1000 && leaves_seen > 500 && beyond_runs > 50 && at_edge > 150,
	   "generated maps: mapped exactly when every frame fits the width, one leaf per aligned run (%u of %u right)", right,
	   cases);
}

/*
 * The validator and MmMapLockedPagesSpecifyCache read no frame past the MDL's span: MDLs on the
 * heap of exactly sizeof(MDL) + 8 x span bytes (so AddressSanitizer sees any read past them), of
 * 1..1100 pages at every byte offset, with one 2 MiB-aligned run of 512 frames at a random place,
 * whole or broken by one frame, the other frames never 2 MiB aligned; and one frame beyond the
 * width at the end of the span. The validator names that frame; the map of the MDL whose run is
 * whole is placed where the run starts a 2 MiB-aligned address and maps it with one 2 MiB leaf
 * (README: MmMapLockedPagesSpecifyCache prefers that address); every PTE maps its frame; the
 * unmap frees the reservation.
 */
static void test_map_exact_mdls(void)
{
	uint64_t st = 0xE8AC7ED0DD1ULL;
	const uint64_t large = SIZE_2M / PAGE_SIZE, limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	unsigned cases = 0, right = 0, runs_whole = 0, runs_broken = 0;
	for (unsigned c = 0; c < 160; c++) {
		uint64_t n = c < 16 ? 1 + c : 1 + rnd_in(&st, 1100), off = rnd_in(&st, PAGE_SIZE);
		PMDL m = malloc(sizeof(MDL) + n * sizeof(PFN_NUMBER));
		if (!m)
			break;
		MmInitializeMdl(m, (PVOID)off, n * PAGE_SIZE - off);
		m->MdlFlags = MDL_PAGES_LOCKED;
		PFN_NUMBER *pfn = MmGetMdlPfnArray(m);
		for (uint64_t k = 0; k < n; k++)
			pfn[k] = 1 + rnd_in(&st, limit / large) * large + rnd_in(&st, large - 1);   /* never 2 MiB aligned */
		uint64_t j = UINT64_MAX;
		bool whole = false;
		if (n >= large && rnd_in(&st, 4)) {
			j = rnd_in(&st, n - large + 1);
			uint64_t base = rnd_in(&st, limit / large) * large;
			for (uint64_t q = 0; q < large; q++)
				pfn[j + q] = base + q;
			whole = rnd_in(&st, 4) != 0;
			if (!whole)
				pfn[j + 1 + rnd_in(&st, large - 1)] ^= 1ULL << rnd_in(&st, 9);
			runs_whole += whole;
			runs_broken += !whole;
		}
		struct syspte_stats before, after;
		syspte_get_stats(reserved_region(), &before);
		char *va = MmMapLockedPagesSpecifyCache(m, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
		syspte_get_stats(reserved_region(), &after);
		vaddr_t base = (vaddr_t)va - off;
		bool good = va && ((vaddr_t)va & PAGE_MASK) == off && after.live == before.live + 1 &&
			    after.large_leaves == before.large_leaves + whole;
		if (whole)
			good &= ((base + j * PAGE_SIZE) & (SIZE_2M - 1)) == 0;
		for (uint64_t k = 0; good && k < n; k += 1 + rnd_in(&st, 64))
			good &= pfn_at(base + k * PAGE_SIZE) == pfn[k];
		good &= !va || pfn_at(base + (n - 1) * PAGE_SIZE) == pfn[n - 1];
		if (va)
			MmUnmapLockedPages(va, m);
		syspte_get_stats(reserved_region(), &after);
		good &= after.live == before.live && after.large_leaves == before.large_leaves;
		struct mdl_fault f;
		pfn[n - 1] = limit + rnd_in(&st, 1 << 20);
		good &= mdl_validate(m, MDL_CHECK_BYTES | MDL_CHECK_FRAMES, &f) == MDL_INVALID_FRAME && f.extra == n - 1 &&
			f.value == pfn[n - 1];
		cases++;
		right += good;
		if (!good && right + 3 > cases)
			printf("# %llu pages at offset 0x%llx, run at %lld (%s): map %p\n", (unsigned long long)n,
			       (unsigned long long)off, j == UINT64_MAX ? -1LL : (long long)j, whole ? "whole" : "broken",
			       (void *)va);
		free(m);
	}
	ok(right == cases && cases == 160 && runs_whole > 30 && runs_broken > 5,
	   "exact-size MDLs: mapped frame by frame, a whole aligned run placed for a 2 MiB leaf, the last frame "
	   "checked (%u of %u; %u whole runs, %u broken)", right, cases, runs_whole, runs_broken);
}

/*
 * A map over an already-mapped page whose frames include one beyond the width: NULL, no bug check,
 * nothing changed; the frame refusal comes before the already-mapped bug check 0x107 (rows 9 and
 * 10 of the map's table, docs/contract.md), whatever their pages' order, for a small map and for
 * one whose beyond-width frames are an aligned 2 MiB run. The same maps with frames that fit do
 * report 0x107 (the page is mapped).
 */
static void test_map_bad_frame_over_mapped(void)
{
	static struct { MDL m; PFN_NUMBER pfn[1024]; } g;
	struct { MDL m; PFN_NUMBER pfn[1]; } one;
	const uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT), mapped_at = 600;
	char *res = MmAllocateMappingAddressEx(1024 * PAGE_SIZE, TAG_R, MM_MAPPING_ADDRESS_DIVISIBLE);
	ok(res && ((vaddr_t)res & (SIZE_2M - 1)) == 0, "a 2 MiB-aligned reservation of two spans");
	if (!res)
		return;
	MmInitializeMdl(&one.m, NULL, PAGE_SIZE);
	one.m.MdlFlags = MDL_PAGES_LOCKED;
	one.pfn[0] = 0x4321;
	char *at = res + mapped_at * PAGE_SIZE;
	ok(MmMapLockedPagesWithReservedMapping(at, TAG_R, &one.m, MmCached) == at, "page 600 mapped");
	intercept();
	struct {
		const char *what;
		uint64_t first, n, bad_at;   /* the map's first page, its pages, the beyond-width frame's index */
		bool run;                    /* span 1 an aligned run (beyond the width when bad) */
	} c[] = {
		{ "3 pages over it, the last frame beyond the width", mapped_at - 1, 3, 2, false },
		{ "3 pages over it, the first frame beyond the width", mapped_at, 3, 0, false },
		{ "1024 pages over it, span 1 an aligned run beyond the width", 0, 1024, 512, true },
		{ "1024 pages over it, the last frame beyond the width", 0, 1024, 1023, false },
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		for (int fits = 0; fits < 2; fits++) {
			for (uint64_t q = 0; q < c[k].n; q++)
				g.pfn[q] = 0x10000 + q;   /* span 0 (when covered): an aligned run */
			if (c[k].run)
				for (uint64_t q = 0; q < 512; q++)
					g.pfn[512 + q] = (fits ? 0x20000 : limit) + q;
			else if (!fits)
				g.pfn[c[k].bad_at] = limit + c[k].bad_at;
			MmInitializeMdl(&g.m, NULL, c[k].n * PAGE_SIZE);
			g.m.MdlFlags = MDL_PAGES_LOCKED;
			struct snap sn;
			take(&sn);
			uint64_t flushes = fake_tlb.flushes;
			char *got = MmMapLockedPagesWithReservedMapping(res + c[k].first * PAGE_SIZE, TAG_R, &g.m, MmCached);
			if (fits)
				ok(!got && fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED) &&
				   bugcheck_last.p[2] == (uintptr_t)at && same(&sn), "%s, but fitting: 0xDA/0x107 at page 600", c[k].what);
			else
				ok(!got && none_fired() && same(&sn) && fake_tlb.flushes == flushes && g.m.MdlFlags == MDL_PAGES_LOCKED &&
				   pfn_at((vaddr_t)at) == 0x4321 && !pfn_at((vaddr_t)res) && syspte_check(reserved_region()) == 0,
				   "%s: NULL, no bug check, nothing changed", c[k].what);
		}
	}
	release();
	MmUnmapReservedMapping(at, TAG_R, &one.m);
	MmFreeMappingAddress(res, TAG_R);
}

/*
 * More spans than the map's pass records (SYSPTE_SCAN_SPANS, 64): a second region of 72 spans on
 * the same tables, a map of 100 pages, 67 whole spans and 37 pages, whose spans are aligned runs
 * but for span 66. Spans 64 and 65 get leaves as the first 64 do (the write tests them again) and
 * span 66 4 KiB PTEs; a frame beyond the width past span 64 (an aligned run of span 65 beyond it,
 * the last frame of broken span 66, the tail's last) refuses the map before any write.
 */
static struct syspte_region *many_region;
static PFN_NUMBER many_pfn[71 * 512];

static void test_map_many_spans(void)
{
	const uint64_t span = 512, head = 100, spans = 67, n = head + spans * span + 37;
	const uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	many_region = syspte_create(&pt, REGION_BASE + (1ULL << 30), 72 * span);
	struct syspte_region *r = many_region;
	vaddr_t v = r ? syspte_reserve(r, 71 * span, TAG_R, 0) : 0;
	ok(v, "a region of 72 spans and a reservation of 71");
	if (!v)
		return;
	vaddr_t a = (v + head * PAGE_SIZE + SIZE_2M - 1) & ~(SIZE_2M - 1), start = a - head * PAGE_SIZE;
	for (int c = 0; c < 4; c++) {
		for (uint64_t k = 0; k < n; k++)
			many_pfn[k] = 0x100000 + 7 * k;   /* no run anywhere */
		for (uint64_t sp = 0; sp < spans; sp++)
			if (sp != 66)
				for (uint64_t q = 0; q < span; q++)
					many_pfn[head + sp * span + q] = (sp + 1) * 0x10000 + q;
		const char *what = "every span but 66 an aligned run: 66 leaves, spans 64 and 65 past the pass's 64";
		if (c == 1) {
			for (uint64_t q = 0; q < span; q++)
				many_pfn[head + 65 * span + q] = limit + q;
			what = "span 65 an aligned run beyond the width: refused";
		} else if (c == 2) {
			many_pfn[head + 67 * span - 1] = limit;
			what = "the last frame of span 66 (no run) beyond the width: refused";
		} else if (c == 3) {
			many_pfn[n - 1] = limit | 1;
			what = "the tail's last frame beyond the width: refused";
		}
		struct syspte_stats before, st;
		syspte_get_stats(r, &before);
		uint64_t flushes = fake_tlb.flushes;
		int got = syspte_map(r, start, TAG_R, many_pfn, n, PT_CACHE_WB);
		syspte_get_stats(r, &st);
		bool good = syspte_check(r) == 0;
		if (c == 0) {
			uint64_t pte, size = 0, size66 = 0;
			paddr_t pa = 0;
			pt_query(&pt, a + 65 * SIZE_2M + 5 * PAGE_SIZE, &pa, &pte, &size);
			pt_query(&pt, a + 66 * SIZE_2M, NULL, NULL, &size66);
			good &= got == SYSPTE_OK && st.large_leaves == before.large_leaves + 66 && st.pages_mapped == before.pages_mapped + n &&
				size == SIZE_2M && pa == ((66 * 0x10000ULL + 5) << PAGE_SHIFT) && size66 == PAGE_SIZE;
			good &= syspte_unmap(r, start, TAG_R, n) == SYSPTE_OK;
			syspte_get_stats(r, &st);
			good &= st.large_leaves == before.large_leaves && st.pages_mapped == before.pages_mapped;
		} else
			good &= got == SYSPTE_REFUSED && st.large_leaves == before.large_leaves &&
				st.pages_mapped == before.pages_mapped && fake_tlb.flushes == flushes &&
				!pt_query(&pt, start, NULL, NULL, NULL) && !pt_query(&pt, a + 64 * SIZE_2M, NULL, NULL, NULL);
		ok(good, "%llu pages over %llu whole spans, %s", (unsigned long long)n, (unsigned long long)spans, what);
	}
	ok(syspte_release(r, v, TAG_R) == SYSPTE_OK && syspte_check(r) == 0, "released, the region clean");
}

/* The frames a test's poll hook writes into a caller's array while a map waits for the region's
 * lock (held by "CPU 1"), after the map's pass checked them and before its write reads them. */
static struct {
	struct syspte_region *r;
	uint64_t *pfns, at, n, base;   /* pfns[at .. at + n) = base + q, or base for each when !run */
	bool run;
	unsigned calls;
} race;

static void race_change_frames(void)
{
	race.calls++;
	for (uint64_t q = 0; q < race.n; q++)
		race.pfns[race.at + q] = race.run ? race.base + q : race.base;
	race.r->lock.owner = 0;
	__atomic_store_n(&race.r->lock.locked, 0, __ATOMIC_RELEASE);
}

/* syspte_map of n frames at va, with race's change made while it waits for the lock. */
static int map_racing(struct syspte_region *r, vaddr_t va, uint64_t *pfns, uint64_t n)
{
	race.r = r;
	race.pfns = pfns;
	race.calls = 0;
	r->lock.locked = 1;   /* CPU 1 holds the region's lock */
	r->lock.owner = 2;
	fake_cpu_poll_hook = race_change_frames;
	int st = syspte_map(r, va, TAG_R, pfns, n, PT_CACHE_WB);
	fake_cpu_poll_hook = NULL;
	return race.calls == 1 ? st : -100;
}

/*
 * A caller that changes its locked MDL's frames during the map (a contract violation: the map
 * checks them before the region's lock and reads them again under it) never gets a malformed
 * entry: a leaf's frame turned unaligned gives 4 KiB PTEs of the frames read; a frame turned
 * beyond the width, in a leaf's run or a 4 KiB page, refuses the map with every write undone
 * (invalidated like an unmap) and nothing changed; the same past the pass's 64 spans, where the
 * write tests a span for a run again.
 */
static void test_map_frames_changed(void)
{
	static PFN_NUMBER f[3 * 512];
	const uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	struct syspte_region *r = reserved_region();
	char *va = MmAllocateMappingAddressEx(3 * 512 * PAGE_SIZE, TAG_R, MM_MAPPING_ADDRESS_DIVISIBLE);
	ok(va && ((vaddr_t)va & (SIZE_2M - 1)) == 0, "a 2 MiB-aligned reservation of three spans");
	if (!va)
		return;
	struct syspte_stats before, st;
	uint64_t pte = 0, size = 0, flushes;
	paddr_t pa = 0;

	/* a leaf's first frame turned unaligned: 4 KiB PTEs of what the write read */
	for (uint64_t q = 0; q < 512; q++)
		f[q] = 0x40000 + q;
	race = (typeof(race)){ .at = 0, .n = 1, .base = 0x40001, .run = false };
	syspte_get_stats(r, &before);
	int got = map_racing(r, (vaddr_t)va, f, 512);
	syspte_get_stats(r, &st);
	bool q0 = pt_query(&pt, (vaddr_t)va, &pa, &pte, &size);
	ok(got == SYSPTE_OK && st.large_leaves == before.large_leaves && q0 && size == PAGE_SIZE && pa == (0x40001ULL << PAGE_SHIFT) &&
	   pfn_at((vaddr_t)va + 511 * PAGE_SIZE) == 0x40000 + 511 && syspte_check(r) == 0,
	   "a leaf's first frame unaligned when written: no leaf, 4 KiB PTEs of the frames read");
	ok(syspte_unmap(r, (vaddr_t)va, TAG_R, 512) == SYSPTE_OK, "and it unmaps");

	/* a leaf's run turned beyond the width: refused, nothing written */
	race = (typeof(race)){ .at = 0, .n = 512, .base = limit, .run = true };
	for (uint64_t q = 0; q < 512; q++)
		f[q] = 0x40000 + q;
	syspte_get_stats(r, &before);
	flushes = fake_tlb.flushes;
	got = map_racing(r, (vaddr_t)va, f, 512);
	syspte_get_stats(r, &st);
	ok(got == SYSPTE_REFUSED && st.large_leaves == before.large_leaves && st.pages_mapped == before.pages_mapped &&
	   !pt_query(&pt, (vaddr_t)va, NULL, NULL, NULL) && fake_tlb.flushes == flushes && syspte_check(r) == 0,
	   "a leaf's run beyond the width when written: refused, nothing written");

	/* the tail's last frame turned beyond the width after a head and a leaf were written: undone */
	const uint64_t first = 412, n = 100 + 512 + 50;
	for (uint64_t k = 0; k < n; k++)
		f[k] = k >= 100 && k < 612 ? 0x40000 + (k - 100) : 0x9000 + 3 * k;
	race = (typeof(race)){ .at = n - 1, .n = 1, .base = limit, .run = false };
	syspte_get_stats(r, &before);
	flushes = fake_tlb.flushes;
	got = map_racing(r, (vaddr_t)va + first * PAGE_SIZE, f, n);
	syspte_get_stats(r, &st);
	bool none = true;
	for (uint64_t k = 0; k < n; k++)
		none &= !pt_query(&pt, (vaddr_t)va + (first + k) * PAGE_SIZE, NULL, NULL, NULL);
	ok(got == SYSPTE_REFUSED && st.large_leaves == before.large_leaves && st.pages_mapped == before.pages_mapped && none &&
	   fake_tlb.flushes == flushes + 1 && syspte_check(r) == 0 && pt_check(&pt) == 0,
	   "the last frame beyond the width when written: refused, the head's PTEs and the leaf undone and invalidated");

	/* past the pass's 64 spans: span 65, no run when checked, an aligned run beyond the width when written */
	struct syspte_region *big_r = many_region;
	vaddr_t v = big_r ? syspte_reserve(big_r, 71 * 512, TAG_R, 0) : 0;
	if (v) {
		vaddr_t a = (v + SIZE_2M - 1) & ~(SIZE_2M - 1);
		const uint64_t m = 67 * 512;
		for (uint64_t k = 0; k < m; k++)
			many_pfn[k] = k / 512 == 65 ? 0x300000 + 7 * k : (k / 512 + 1) * 0x10000 + k % 512;
		race = (typeof(race)){ .at = 65 * 512, .n = 512, .base = limit, .run = true };
		syspte_get_stats(big_r, &before);
		flushes = fake_tlb.flushes;
		got = map_racing(big_r, a, many_pfn, m);
		syspte_get_stats(big_r, &st);
		ok(got == SYSPTE_REFUSED && st.large_leaves == before.large_leaves && st.pages_mapped == before.pages_mapped &&
		   fake_tlb.flushes == flushes + 1 &&
		   !pt_query(&pt, a, NULL, NULL, NULL) && !pt_query(&pt, a + 65 * SIZE_2M, NULL, NULL, NULL) && syspte_check(big_r) == 0,
		   "span 65 an aligned run beyond the width only when written: refused, its 65 leaves undone");
		/* the same span turned into an aligned run that fits: a leaf, decided by the write */
		for (uint64_t k = 65 * 512; k < 66 * 512; k++)
			many_pfn[k] = 0x300000 + 7 * k;
		race = (typeof(race)){ .at = 65 * 512, .n = 512, .base = 0x500000, .run = true };
		got = map_racing(big_r, a, many_pfn, m);
		syspte_get_stats(big_r, &st);
		pt_query(&pt, a + 65 * SIZE_2M, &pa, NULL, &size);
		ok(got == SYSPTE_OK && st.large_leaves == before.large_leaves + 67 && size == SIZE_2M && pa == (0x500000ULL << PAGE_SHIFT),
		   "span 65 an aligned run that fits only when written: its leaf");
		ok(syspte_unmap(big_r, a, TAG_R, m) == SYSPTE_OK && syspte_release(big_r, v, TAG_R) == SYSPTE_OK &&
		   syspte_check(big_r) == 0, "unmapped and released");
	} else
		ok(false, "a reservation of 71 spans in the second region");
	MmFreeMappingAddress(va, TAG_R);
}

/* A hand-built MDL with room behind it for any span a valid MDL can have. */
#define BIG_PFNS ((1u << 20) + 1)
static struct { MDL m; PFN_NUMBER pfn[BIG_PFNS]; } big;

/* The calls every malformed MDL is tried on, with what each demands of it. */
enum mdl_call { C_MAP_RESERVED, C_MAP_SPECIFY, C_SYSADDR, C_UNMAP_RESERVED, C_UNMAP_LOCKED, C_PARTIAL, C_FREE_PAGES,
		C_BUILD, C_IOFREE, C_COUNT };
static const char *const call_name[C_COUNT] = {
	"MmMapLockedPagesWithReservedMapping", "MmMapLockedPagesSpecifyCache", "MmGetSystemAddressForMdlSafe",
	"MmUnmapReservedMapping", "MmUnmapLockedPages", "IoBuildPartialMdl", "MmFreePagesFromMdl",
	"MmBuildMdlForNonPagedPool", "IoFreeMdl",
};
static const bool call_needs_bytes[C_COUNT] = { true, true, true, false, false, true, false, true, false };
static const bool call_needs_frames[C_COUNT] = { true, true, true, false, false, true, false, false, false };
static const bool call_returns[C_COUNT] = { true, true, true, false, false, false, false, false, false };

/* Breaks rule `rule` (model_mdl.h numbering) of a valid MDL whose span is n pages. */
static void malform(PMDL m, int rule, uint64_t n)
{
	switch (rule) {
	case 1: m->ByteOffset = (ULONG)(4096 + rnd(0xFFFFF000ULL)); break;
	case 2: m->StartVa = (PVOID)((uintptr_t)m->StartVa + 1 + rnd(4095)); break;
	case 3: m->ByteCount = rnd(2) ? 0 : (ULONG)(MDL_MAX_BYTES + 1 + rnd(4095)); break;
	case 4: m->StartVa = (PVOID)(0ULL - 4096 * (1 + rnd(n))); m->ByteCount = (ULONG)(n * 4096 + 1 + rnd(4096)); break;
	case 5: m->Size = rnd(2) ? (CSHORT)(m->Size - 8 * (1 + rnd(n))) : (CSHORT)rnd(48); break;
	case 6:
		switch (rnd(8)) {
		case 0: m->MdlFlags |= (CSHORT)(rnd(3) == 0 ? MDL_FREE_EXTRA_PTES : rnd(2) ? MDL_DESCRIBES_AWE : MDL_INTERNAL); break;
		case 1: m->MdlFlags = (CSHORT)((m->MdlFlags & ~MDL_PARTIAL) | MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_MAPPED_TO_SYSTEM_VA);
			m->MappedSystemVa = (PVOID)(REGION_BASE + PAGE_SIZE); break;
		case 2: m->MdlFlags = (CSHORT)((m->MdlFlags & ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) |
					       MDL_PARTIAL | MDL_PARTIAL_HAS_BEEN_MAPPED); break;
		case 3: m->MdlFlags = (CSHORT)((m->MdlFlags & ~MDL_PARTIAL) | MDL_PARENT_MAPPED_SYSTEM_VA); break;
		case 4: m->MdlFlags = (CSHORT)((m->MdlFlags & ~MDL_SOURCE_IS_NONPAGED_POOL) | MDL_MAPPED_TO_SYSTEM_VA);
			m->MappedSystemVa = NULL; break;
		case 5: m->MdlFlags = (CSHORT)((m->MdlFlags & ~MDL_SOURCE_IS_NONPAGED_POOL) | MDL_MAPPED_TO_SYSTEM_VA);
			m->MappedSystemVa = (PVOID)(REGION_BASE + 1 + rnd(4095)); break;
		case 6: m->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA;
			m->MappedSystemVa = (PVOID)REGION_BASE; break;
		default: m->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
			m->MappedSystemVa = (PVOID)((uintptr_t)MmGetMdlVirtualAddress(m) + 1 + rnd(PAGE_SIZE)); break;
		}
		break;
	default:
		MmGetMdlPfnArray(m)[rnd(n)] = rnd(2) ? (1ULL << (arch_phys_addr_bits() - PAGE_SHIFT)) + rnd(1ULL << 30)
						     : UINT64_MAX >> rnd(12);
		break;
	}
}

/* The rule an MDL breaks for a call (model_mdl.h), with the bug check's P3 and P4. */
static int mdl_rule_for(const MDL *m, enum mdl_call c, uint64_t *p3, uint64_t *p4)
{
	size_t bytes = 0;
	if (!pool_block_info(m, &bytes, NULL))
		bytes = 0;
	bool bytes_needed = call_needs_bytes[c], frames = call_needs_frames[c];
	if (c == C_SYSADDR && (m->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL))
		bytes_needed = frames = false;   /* a pool MDL's address comes back without a mapping */
	return ref_mdl_check(m, bytes_needed, frames, arch_phys_addr_bits(), bytes, p3, p4);
}

/* What the property test keeps fixed around each call: a reserved mapping and a system mapping to
 * unmap, an empty reservation to map into, a partial target. */
struct mdl_world {
	char *r_mapped, *r_empty, *sys_va;
	PMDL pages_r, pages_sys, target;
};

/* Makes one call of the test with m; returns its pointer result (NULL for void calls). */
static void *mdl_call(enum mdl_call c, PMDL m, const struct mdl_world *w)
{
	switch (c) {
	case C_MAP_RESERVED: return MmMapLockedPagesWithReservedMapping(w->r_empty, TAG_R, m, MmCached);
	case C_MAP_SPECIFY: return MmMapLockedPagesSpecifyCache(m, KernelMode, MmCached, NULL, 0, NormalPagePriority);
	case C_SYSADDR: return MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
	case C_UNMAP_RESERVED: MmUnmapReservedMapping(w->r_mapped, TAG_R, m); return NULL;
	case C_UNMAP_LOCKED: MmUnmapLockedPages(w->sys_va, m); return NULL;
	case C_PARTIAL: IoBuildPartialMdl(m, w->target, MmGetMdlVirtualAddress(m), 1); return NULL;
	case C_FREE_PAGES: MmFreePagesFromMdl(m); return NULL;
	case C_BUILD: MmBuildMdlForNonPagedPool(m); return NULL;
	default: IoFreeMdl(m); return NULL;
	}
}

/* True when both mappings of the world still map what they mapped and the empty reservation is empty. */
static bool mdl_world_intact(const struct mdl_world *w)
{
	bool ok = true;
	for (unsigned i = 0; i < 3; i++) {
		ok &= pfn_at((vaddr_t)w->r_mapped + i * PAGE_SIZE) == MmGetMdlPfnArray(w->pages_r)[i];
		ok &= pfn_at((vaddr_t)w->sys_va + i * PAGE_SIZE) == MmGetMdlPfnArray(w->pages_sys)[i];
	}
	struct syspte_info info;
	return ok && syspte_lookup(reserved_region(), (vaddr_t)w->r_empty, &info) && info.mapped == 0;
}

/*
 * Property: every malformed MDL, of every class and from every kind of MDL (hand-built, from
 * IoAllocateMdl + MmBuildMdlForNonPagedPool, from MmAllocatePagesForMdlEx), passed to every call
 * that takes one: NULL from the calls that return a pointer, bug check 0x1A with the reference's
 * subcode and parameters from the others; nothing changed (allocators, region, pool, mappings,
 * the MDL itself). The unbroken MDL is valid for every call and maps.
 */
static void test_malformed_generated(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	struct mdl_world w;
	w.pages_r = MmAllocatePagesForMdlEx(z, any, z, 3 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	w.pages_sys = MmAllocatePagesForMdlEx(z, any, z, 3 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	w.r_mapped = MmAllocateMappingAddress(3 * PAGE_SIZE, TAG_R);
	w.r_empty = MmAllocateMappingAddress(16 * PAGE_SIZE, TAG_R);
	w.target = IoAllocateMdl((PVOID)0x10000, 16 * PAGE_SIZE, FALSE, FALSE, NULL);
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, 8 * PAGE_SIZE, TAG_A);
	ok(w.pages_r && w.pages_sys && w.r_mapped && w.r_empty && w.target && buf, "the fixed world");
	ok(MmMapLockedPagesWithReservedMapping(w.r_mapped, TAG_R, w.pages_r, MmCached) == w.r_mapped, "a reserved mapping");
	w.sys_va = MmMapLockedPagesSpecifyCache(w.pages_sys, KernelMode, MmCached, NULL, 0, NormalPagePriority);
	ok(w.sys_va != NULL, "a system mapping");

	enum { ITER = 1500, KEEP = 64 };
	static uint64_t seen[C_COUNT][8];
	static struct { MDL m; PFN_NUMBER pfn[KEEP]; } good, saved;
	uint64_t bad = 0, valid_ok = 0, valid_tries = 0;
	struct snap s;
	intercept();
	for (unsigned it = 0; it < ITER; it++) {
		/* A valid MDL of one of three kinds. */
		unsigned kind = (unsigned)rnd(3);
		uint64_t n = 1 + rnd(6);
		PMDL m = NULL;
		if (kind == 0) {
			memset(&big, 0, sizeof(MDL) + KEEP * sizeof(PFN_NUMBER));
			MmInitializeMdl(&big.m, (PVOID)(0xffff900000000000ULL + rnd(1 << 20) * PAGE_SIZE + rnd(PAGE_SIZE)),
					n * PAGE_SIZE - rnd(PAGE_SIZE));
			big.m.MdlFlags = rnd(4) ? MDL_PAGES_LOCKED : MDL_PARTIAL;
			for (unsigned k = 0; k < KEEP; k++)
				big.pfn[k] = MmGetMdlPfnArray(w.pages_r)[k % 3];
			m = &big.m;
		} else if (kind == 1) {
			m = IoAllocateMdl(buf + rnd(PAGE_SIZE), (ULONG)(1 + rnd(n * PAGE_SIZE)), FALSE, FALSE, NULL);
			release();
			MmBuildMdlForNonPagedPool(m);
			intercept();
		} else {
			m = MmAllocatePagesForMdlEx(z, any, z, n * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
		}
		n = mdl_span_pages(m);
		bool all_valid = true;
		for (unsigned c = 0; c < C_COUNT; c++)
			all_valid &= mdl_rule_for(m, (enum mdl_call)c, NULL, NULL) == 0;
		bad += !all_valid;
		if (kind != 1 && rnd(4) == 0) {   /* the unbroken MDL maps */
			valid_tries++;
			char *v = MmMapLockedPagesWithReservedMapping(w.r_empty, TAG_R, m, MmCached);
			if (v == w.r_empty + m->ByteOffset) {
				MmUnmapReservedMapping(w.r_empty, TAG_R, m);
				valid_ok += none_fired();
			}
		}
		memcpy(&good, m, sizeof(MDL) + MIN(n, KEEP) * sizeof(PFN_NUMBER));
		int rule = 1 + (int)rnd(7);
		for (unsigned c = 0; c < C_COUNT; c++) {
			if (c == C_IOFREE && kind != 1)
				continue;
			memcpy(m, &good, sizeof(MDL) + MIN(n, KEEP) * sizeof(PFN_NUMBER));
			malform(m, rule, n);
			uint64_t p3, p4;
			int broken = mdl_rule_for(m, (enum mdl_call)c, &p3, &p4);
			if (!broken)
				continue;   /* e.g. ByteCount 0 where the call needs no bytes */
			seen[c][broken]++;
			memcpy(&saved, m, sizeof(saved));
			take(&s);
			void *r = mdl_call((enum mdl_call)c, m, &w);
			bool right = call_returns[c] ? r == NULL && none_fired()
						     : bugcheck_last.count == bc_count + 1 &&
						       bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
						       bugcheck_last.p[0] == REF_MDL_SUBCODE(broken) &&
						       bugcheck_last.p[1] == (uintptr_t)m && bugcheck_last.p[2] == p3 &&
						       bugcheck_last.p[3] == p4;
			bc_count = bugcheck_last.count;
			bool kept = same(&s) && memcmp(&saved, m, sizeof(MDL) + MIN(n, KEEP) * sizeof(PFN_NUMBER)) == 0 &&
				    mdl_world_intact(&w) && (kind != 1 || pool_block_info(m, NULL, NULL));
			if (!right || !kept) {
				ok(0, "%s, %s (rule %d), MDL kind %u: %s", call_name[c], mdl_invalid_name((enum mdl_invalid)broken),
				   broken, kind, !right ? "wrong outcome" : "state changed");
				printf("#   got code 0x%x p1 0x%llx p2 0x%llx p3 0x%llx p4 0x%llx; want p3 0x%llx p4 0x%llx\n",
				       bugcheck_last.code, (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
				       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3],
				       (unsigned long long)p3, (unsigned long long)p4);
				it = ITER;
				break;
			}
		}
		memcpy(m, &good, sizeof(MDL) + MIN(n, KEEP) * sizeof(PFN_NUMBER));
		if (kind == 1)
			IoFreeMdl(m);
		else if (kind == 2)
			release_pages(m);
	}
	is(bad, 0, "every unbroken MDL is valid for every call");
	ok(valid_tries > 50 && valid_ok == valid_tries, "unbroken MDLs map (%llu of %llu)", (unsigned long long)valid_ok,
	   (unsigned long long)valid_tries);
	for (unsigned c = 0; c < C_COUNT; c++) {
		uint64_t total = 0;
		bool every = true;
		for (int r = 1; r <= 7; r++) {
			bool applies = (r != 7 || call_needs_frames[c]);
			every &= !applies || seen[c][r] > 0;
			total += seen[c][r];
		}
		ok(every, "%s: every class of malformed MDL refused as documented, nothing changed (%llu cases)",
		   call_name[c], (unsigned long long)total);
	}
	release();
	MmUnmapLockedPages(w.sys_va, w.pages_sys);
	MmUnmapReservedMapping(w.r_mapped, TAG_R, w.pages_r);
	MmFreeMappingAddress(w.r_mapped, TAG_R);
	MmFreeMappingAddress(w.r_empty, TAG_R);
	IoFreeMdl(w.target);
	release_pages(w.pages_r);
	release_pages(w.pages_sys);
	ExFreePool(buf);
}

/* Directed cases of the validation: the issue's examples, the edges of each rule, the NULL MDL of
 * MmUnmapReservedMapping, MmBuildMdlForNonPagedPool's own rules, large MDLs whose Size wraps. */
static void test_malformed_directed(void)
{
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	struct snap s;
	struct mdl_fault f;
	struct { MDL m; PFN_NUMBER p[4]; } h;

	/* The edges of each rule, on the validator itself. */
	MmInitializeMdl(&h.m, (PVOID)0x7000, 3 * PAGE_SIZE);
	h.p[0] = h.p[1] = h.p[2] = 0x100;
	is(mdl_validate(&h.m, MDL_CHECK_BYTES | MDL_CHECK_FRAMES, &f), MDL_VALID, "a fresh MDL is valid");
	h.m.ByteOffset = 4095;
	h.m.ByteCount = 2 * PAGE_SIZE + 1;   /* 4095 + 8193 bytes: still 3 pages */
	is(mdl_validate(&h.m, 0, &f), MDL_VALID, "ByteOffset 4095, same span: valid");
	h.m.ByteOffset = 4096;
	ok(mdl_validate(&h.m, 0, &f) == MDL_INVALID_BYTE_OFFSET && f.value == 4096, "ByteOffset 4096: rule 1, P3 4096");
	h.m.ByteOffset = 0;
	h.m.ByteCount = 3 * PAGE_SIZE + 1;
	ok(mdl_validate(&h.m, 0, &f) == MDL_INVALID_SIZE && f.value == 0x30 + 3 * 8 && f.extra == 0x30 + 4 * 8,
	   "one byte more than Size holds: rule 5, P3 Size, P4 bytes needed");
	h.m.ByteCount = 0;
	is(mdl_validate(&h.m, 0, NULL), MDL_VALID, "ByteCount 0 where no bytes are needed: valid");
	is(mdl_validate(&h.m, MDL_CHECK_BYTES, NULL), MDL_INVALID_BYTE_COUNT, "ByteCount 0 where bytes are needed: rule 3");
	h.m.ByteCount = 0xFFFFF001u;
	is(mdl_validate(&h.m, 0, NULL), MDL_INVALID_BYTE_COUNT, "ByteCount 4 GiB - 4 KiB + 1: rule 3");
	h.m.ByteCount = PAGE_SIZE;
	h.m.StartVa = (PVOID)0xfffffffffffff000ULL;
	is(mdl_validate(&h.m, 0, NULL), MDL_VALID, "the last page of the address space: valid");
	h.m.ByteOffset = 1;
	ok(mdl_validate(&h.m, 0, &f) == MDL_INVALID_RANGE && f.value == 0xfffffffffffff000ULL && f.extra == PAGE_SIZE,
	   "one byte past the top: rule 4");
	h.m.ByteOffset = 0;
	h.m.StartVa = (PVOID)0x7001;
	ok(mdl_validate(&h.m, 0, &f) == MDL_INVALID_START_VA && f.value == 0x7001, "StartVa not page aligned: rule 2");
	h.m.StartVa = (PVOID)0x7000;
	h.p[0] = (1ULL << (arch_phys_addr_bits() - PAGE_SHIFT)) - 1;
	is(mdl_validate(&h.m, MDL_CHECK_FRAMES, NULL), MDL_VALID, "the highest frame of the physical width: valid");
	h.p[0]++;
	ok(mdl_validate(&h.m, MDL_CHECK_FRAMES, &f) == MDL_INVALID_FRAME && f.extra == 0, "one frame beyond: rule 7, P4 index");
	fake_arch_set_phys_bits(52);
	is(mdl_validate(&h.m, MDL_CHECK_FRAMES, NULL), MDL_VALID, "the limit follows the CPU's width (52 bits)");
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	h.p[0] = 0x100;
	h.m.MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL;
	h.m.MappedSystemVa = (PVOID)0x7000;
	is(mdl_validate(&h.m, 0, NULL), MDL_VALID, "a partial MDL of pool memory (as IoBuildPartialMdl makes): valid");
	h.m.MdlFlags = MDL_PAGES_LOCKED;
	h.m.MappedSystemVa = NULL;

	/* Large MDLs: Size wraps (WDK truncation); the pool block or the truncated value decides. */
	PMDL io = IoAllocateMdl((PVOID)0x100000, 64u << 20, FALSE, FALSE, NULL);
	ok(io && (uint16_t)io->Size == (uint16_t)(0x30 + 8 * 16384) && mdl_validate(io, 0, NULL) == MDL_VALID,
	   "a 64 MiB MDL from IoAllocateMdl: Size truncated, valid (its pool block holds the span)");
	MmInitializeMdl(&big.m, (PVOID)0x100000, 64u << 20);
	is(mdl_validate(&big.m, 0, NULL), MDL_VALID, "a 64 MiB MDL built by MmInitializeMdl: valid (Size is the truncated need)");
	big.m.Size = (CSHORT)(big.m.Size + 8);
	is(mdl_validate(&big.m, 0, NULL), MDL_INVALID_SIZE, "another Size on it: rule 5");
	io->ByteCount += PAGE_SIZE;
	is(mdl_validate(io, 0, NULL), MDL_INVALID_SIZE, "the pool MDL grown past its block: rule 5");
	io->ByteCount -= PAGE_SIZE;
	IoFreeMdl(io);
	is(IoAllocateMdl((PVOID)0x100000, 0xFFFFF001u, FALSE, FALSE, NULL), 0, "IoAllocateMdl beyond 4 GiB - 4 KiB: NULL");
	io = IoAllocateMdl((PVOID)0x100800, 0xFFFFF000u, FALSE, FALSE, NULL);
	ok(io && io->ByteCount == 0xFFFFF000u && io->ByteOffset == 0x800 && mdl_span_pages(io) == 0x100000 &&
	   mdl_validate(io, MDL_CHECK_BYTES, NULL) == MDL_VALID, "IoAllocateMdl of exactly 4 GiB - 4 KiB: a valid MDL");
	if (io)
		IoFreeMdl(io);

	/* The issue's case: ByteOffset >= PAGE_SIZE no longer maps past the end of a reservation. */
	PMDL pages = MmAllocatePagesForMdlEx(z, any, z, 2 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	take(&s);
	pages->ByteOffset = 3 * PAGE_SIZE;
	pages->ByteCount = PAGE_SIZE;
	ok(MmMapLockedPagesSpecifyCache(pages, KernelMode, MmCached, NULL, 0, 0) == NULL && same(&s),
	   "ByteOffset 3 pages: MmMapLockedPagesSpecifyCache NULL, nothing reserved");
	pages->ByteOffset = 0;
	pages->ByteCount = 2 * PAGE_SIZE;

	/* MmUnmapReservedMapping with a NULL MDL: 0x50 at address 0, as the other void calls. */
	char *r = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG_R);
	ok(MmMapLockedPagesWithReservedMapping(r, TAG_R, pages, MmCached) == r, "mapped");
	intercept();
	take(&s);
	MmUnmapReservedMapping(r, TAG_R, NULL);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0) && bugcheck_last.p[1] == 0 && bugcheck_last.p[2] != 0,
	   "MmUnmapReservedMapping(NULL MDL): 0x50, P1 0, P2 read, P3 the caller");
	ok(same(&s) && pfn_at((vaddr_t)r) == MmGetMdlPfnArray(pages)[0], "still mapped");
	MmUnmapReservedMapping((char *)REGION_BASE - PAGE_SIZE, TAG_R, NULL);
	ok(fired(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0), "NULL MDL comes before the address checks");
	PMDL copy = IoAllocateMdl(r, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
	take(&s);
	copy->ByteOffset = PAGE_SIZE;
	MmUnmapReservedMapping(r, TAG_R, copy);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_OFFSET) && bugcheck_last.p[1] == (uintptr_t)copy &&
	   bugcheck_last.p[2] == PAGE_SIZE, "malformed MDL to MmUnmapReservedMapping: 0x1A/0x4D440101, P2 MDL, P3 ByteOffset");
	ok(same(&s) && pfn_at((vaddr_t)r + PAGE_SIZE) == MmGetMdlPfnArray(pages)[1], "still mapped");
	copy->ByteOffset = 0;

	/* MmBuildMdlForNonPagedPool: ByteCount 0, an MDL that already describes pages, a pool block too small. */
	copy->ByteCount = 0;
	MmBuildMdlForNonPagedPool(copy);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_COUNT), "MmBuildMdlForNonPagedPool, ByteCount 0: 0x4D440103");
	copy->ByteCount = 2 * PAGE_SIZE;
	MmBuildMdlForNonPagedPool(copy);
	ok(none_fired() && (copy->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL), "built over the reserved mapping");
	take(&s);
	MmBuildMdlForNonPagedPool(copy);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BUILD_BAD_MDL) && bugcheck_last.p[2] == MDL_SOURCE_IS_NONPAGED_POOL &&
	   same(&s), "built twice: 0x4D440108, P3 the flags");
	PMDL small = IoAllocateMdl(r, 1, FALSE, FALSE, NULL);
	take(&s);
	small->ByteCount = 2 * PAGE_SIZE;
	small->Size = (CSHORT)(0x30 + 2 * 8);   /* Size admits 2 pages; the block holds one */
	MmBuildMdlForNonPagedPool(small);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_SIZE) && bugcheck_last.p[3] == 0x30 + 2 * 8 &&
	   small->MdlFlags == 0 && same(&s), "a pool MDL whose block is smaller than its Size: 0x4D440105, unchanged");
	release();
	IoFreeMdl(small);

	/* A bug check that MmUnmapLockedPages raises leaves its reservation (found by fuzz_reserved: it
	 * used to free an empty 'MdlM' reservation after the intercepted 0x109). */
	PMDL pages2 = MmAllocatePagesForMdlEx(z, any, z, 2 * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
	char *sys = MmMapLockedPagesSpecifyCache(pages2, KernelMode, MmCached, NULL, 0, 0);
	ok(sys != NULL, "a system mapping");
	struct { MDL m; PFN_NUMBER p[2]; } span2;
	MmInitializeMdl(&span2.m, NULL, 2 * PAGE_SIZE);
	MmUnmapReservedMapping(sys, MDL_TAG_MAP, &span2.m);   /* emptied by hand: the reservation stays */
	struct syspte_info info;
	ok(syspte_lookup(reserved_region(), (vaddr_t)sys, &info) && info.mapped == 0, "an empty 'MdlM' reservation");
	intercept();
	take(&s);
	MmUnmapLockedPages(sys, &span2.m);
	ok(fired(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED) && same(&s) && syspte_lookup(reserved_region(), (vaddr_t)sys, &info),
	   "MmUnmapLockedPages of it: 0xDA/0x109, the reservation stays");
	release();
	MmFreeMappingAddress(sys, MDL_TAG_MAP);
	pages2->MdlFlags &= ~MDL_MAPPED_TO_SYSTEM_VA;
	pages2->MappedSystemVa = NULL;
	release_pages(pages2);

	MmUnmapReservedMapping(r, TAG_R, pages);
	MmFreeMappingAddress(r, TAG_R);
	IoFreeMdl(copy);
	release_pages(pages);

	/* Every subcode has its line in the report decoder. */
	bool named = true;
	for (uint64_t sub = MDL_BUGCHECK_BAD_BYTE_OFFSET; sub <= MDL_BUGCHECK_BUILD_BAD_MDL; sub++)
		named &= strncmp(bugcheck_explain(BUGCHECK_MEMORY_MANAGEMENT, sub), "unknown", 7) != 0;
	ok(named, "bug-check report explains 0x4D440101..0x4D440108");
}

/* ---------------------------------------------------------------- the WDK's basic definitions */

/* A driver-style routine using the WDK spellings: NTSTATUS, TRUE/FALSE, BOOLEAN, STATUS_*. */
static NTSTATUS drv_map_buffer(PVOID buffer, ULONG length, PMDL *out)
{
	UNREFERENCED_PARAMETER(out);
	if (!ARGUMENT_PRESENT(buffer) || length == 0)
		return STATUS_INVALID_PARAMETER;
	PMDL mdl = IoAllocateMdl(buffer, length, FALSE, FALSE, NULL);
	if (!mdl)
		return STATUS_INSUFFICIENT_RESOURCES;
	MmBuildMdlForNonPagedPool(mdl);
	*out = mdl;
	return STATUS_SUCCESS;
}

static void test_wdk_definitions(void)
{
	ok(TRUE == 1 && FALSE == 0, "TRUE 1, FALSE 0");
	ok(sizeof(BOOLEAN) == 1 && sizeof(CHAR) == 1 && sizeof(SHORT) == 2 && sizeof(CSHORT) == 2 && sizeof(USHORT) == 2 &&
	   sizeof(LONG) == 4 && sizeof(ULONG) == 4 && sizeof(NTSTATUS) == 4 && sizeof(LONGLONG) == 8 &&
	   sizeof(ULONGLONG) == 8 && sizeof(ULONG_PTR) == sizeof(void *) && sizeof(SIZE_T) == 8 && sizeof(PVOID) == 8,
	   "WDK type widths (LLP64: LONG and ULONG are 32 bits)");
	ok((LONG)-1 < 0 && (ULONG)-1 > 0 && (BOOLEAN)-1 > 0 && (CSHORT)-1 < 0, "WDK signedness");
	ok(STATUS_SUCCESS == 0 && (ULONG)STATUS_UNSUCCESSFUL == 0xC0000001u && (ULONG)STATUS_NOT_IMPLEMENTED == 0xC0000002u &&
	   (ULONG)STATUS_ACCESS_VIOLATION == 0xC0000005u && (ULONG)STATUS_INVALID_PARAMETER == 0xC000000Du &&
	   (ULONG)STATUS_NO_MEMORY == 0xC0000017u && (ULONG)STATUS_BUFFER_TOO_SMALL == 0xC0000023u &&
	   (ULONG)STATUS_INSUFFICIENT_RESOURCES == 0xC000009Au && (ULONG)STATUS_NOT_SUPPORTED == 0xC00000BBu,
	   "STATUS_* values of ntstatus.h");
	ok(NT_SUCCESS(STATUS_SUCCESS) && !NT_SUCCESS(STATUS_INSUFFICIENT_RESOURCES) && NT_ERROR(STATUS_INVALID_PARAMETER) &&
	   !NT_ERROR(STATUS_SUCCESS) && NT_WARNING((NTSTATUS)0x80000005) && NT_INFORMATION((NTSTATUS)0x40000000),
	   "NT_SUCCESS, NT_ERROR, NT_WARNING, NT_INFORMATION");
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, 100, TAG_A);
	PMDL mdl = NULL;
	ok(drv_map_buffer(NULL, 100, &mdl) == STATUS_INVALID_PARAMETER, "a driver routine returns STATUS_INVALID_PARAMETER");
	NTSTATUS st = drv_map_buffer(buf, 100, &mdl);
	ok(NT_SUCCESS(st) && mdl && MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == buf,
	   "and STATUS_SUCCESS with a built MDL");
	IoFreeMdl(mdl);
	ExFreePool(buf);
}

/* The growable-region pattern of docs/contract.md, checked through the PTEs. */
static void test_growable(void)
{
	enum { STEPS = 5, STEP_PAGES = 3 };
	PHYSICAL_ADDRESS z = pa_of(0), any = pa_of(UINT64_MAX);
	struct snap s;
	pool_trim();
	take(&s);
	char *base = MmAllocateMappingAddress(64 * PAGE_SIZE, TAG_R);
	PFN_NUMBER pfns[STEPS * STEP_PAGES];
	bool mapped = base != NULL;
	for (unsigned i = 0; mapped && i < STEPS; i++) {
		PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, STEP_PAGES * PAGE_SIZE, MmCached, MM_ALLOCATE_FULLY_REQUIRED);
		mapped &= mdl && MmMapLockedPagesWithReservedMapping(base + i * STEP_PAGES * PAGE_SIZE, TAG_R, mdl, MmCached) ==
					 base + i * STEP_PAGES * PAGE_SIZE;
		memcpy(pfns + i * STEP_PAGES, MmGetMdlPfnArray(mdl), sizeof(PFN_NUMBER) * STEP_PAGES);
		ExFreePool(mdl);
	}
	ok(mapped, "five commits mapped, each MDL structure freed right after");
	is(tag_live(MDL_TAG_PAGES), 0, "no MDL structure live");
	PMDL tear = IoAllocateMdl(base, STEPS * STEP_PAGES * PAGE_SIZE, 0, 0, NULL);
	MmBuildMdlForNonPagedPool(tear);
	ok(memcmp(MmGetMdlPfnArray(tear), pfns, sizeof(pfns)) == 0, "the tear-down MDL lists the committed pages");
	intercept();
	MmUnmapReservedMapping(base, TAG_R, tear);
	ok(none_fired() && tear->MappedSystemVa == NULL, "one unmap over five mappings");
	MmFreePagesFromMdl(tear);
	ok(none_fired() && tear->ByteCount == 0 && !(tear->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL),
	   "MmFreePagesFromMdl on the tear-down MDL frees the pages: ByteCount 0, SOURCE_IS_NONPAGED_POOL cleared");
	struct snap t;
	take(&t);
	MmFreePagesFromMdl(tear);
	ok(fired(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL) && bugcheck_last.p[1] == (uintptr_t)tear && same(&t),
	   "a second MmFreePagesFromMdl on the tear-down MDL: 0x1A FREE_BAD_MDL, nothing changed");
	release();
	IoFreeMdl(tear);
	MmFreeMappingAddress(base, TAG_R);
	pool_trim();
	ok(same(&s), "pages, pool and region as before");
}

static void test_final(void)
{
	is(pool_check(), 0, "pool_check clean");
	is(syspte_check(reserved_region()), 0, "syspte_check clean");
	struct syspte_stats ss;
	syspte_get_stats(reserved_region(), &ss);
	is(ss.live, 0, "no reservation left");
	ok(tag_live(MDL_TAG_IO) == 0 && tag_live(MDL_TAG_PAGES) == 0 && tag_live(TAG_A) == 0 && tag_live(TAG_B) == 0,
	   "every tag back to zero bytes");
	is(pt_check(&pt), 0, "page tables clean");
}

/* Found by fuzz_reserved: an MDL whose StartVa is NULL (a buffer in the first page) maps and
 * unmaps by its span, and the returned address carries the byte offset. */
static void test_null_start_va(void)
{
	struct { MDL mdl; PFN_NUMBER pfn[2]; } h;
	memset(&h, 0, sizeof(h));
	MmInitializeMdl(&h.mdl, (PVOID)0xfff, 2);   /* the last byte of one page and the first of the next: 2 pages */
	h.mdl.MdlFlags = MDL_PAGES_LOCKED;
	h.pfn[0] = 0x123;
	h.pfn[1] = 0x456;
	ok(MmGetMdlVirtualAddress(&h.mdl) == (void *)0xfff, "StartVa NULL: virtual address is the offset");
	char *va = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG_R);
	ok(va && MmMapLockedPagesWithReservedMapping(va, TAG_R, &h.mdl, MmCached) == va + 0xfff,
	   "StartVa NULL, ByteOffset 0xfff: mapped, returned address includes the offset");
	paddr_t pa;
	ok(pt_query(&pt, (vaddr_t)va + PAGE_SIZE, &pa, NULL, NULL) && pa == 0x456000, "both pages of the span mapped");
	MmUnmapReservedMapping(va, TAG_R, &h.mdl);
	ok(!pt_query(&pt, (vaddr_t)va, NULL, NULL, NULL) && !(h.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA), "unmapped by span");
	MmFreeMappingAddress(va, TAG_R);
}

int main(void)
{
	setup();
	test_null_start_va();
	test_layout();
	test_pool_basics();
	test_pool_misuse();
	test_pool_exhaustion();
	test_io_allocate();
	test_build_nonpaged();
	test_build_flags_generated();
	test_partial();
	test_partial_frameless_target();
	test_partial_generated();
	test_partial_range_generated();
	test_alloc_pages_args();
	test_alloc_pages();
	test_alloc_scattered();
	test_alloc_pages_rules_generated();
	test_alloc_pages_windows_generated();
	test_alloc_pages_skip_wraps();
	test_alloc_pages_ignored_flags();
	test_free_pages_misuse();
	test_free_pages_of_pool_block();
	test_free_pages_partial();
	test_map_locked();
	test_io_free_mapped_misuse();
	test_io_free_leaves_other_mapping();
	test_io_free_foreign_mapped();
	test_map_frames_generated();
	test_map_exact_mdls();
	test_map_bad_frame_over_mapped();
	test_map_many_spans();
	test_map_frames_changed();
	test_growable();
	test_malformed_directed();
	test_malformed_generated();
	test_wdk_definitions();
	test_final();
	return tap_done();
}
