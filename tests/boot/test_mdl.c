/* Boot self-tests of the MDL toolkit (mm/mdl.c) and the nonpaged pool (mm/pool.c) on the live kernel. */
#include "ktest.h"
#include "wdm.h"
#include "mdl.h"
#include "pool.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "pt.h"
#include "vm.h"
#include "bugcheck.h"
#include "arch_mm.h"
#include "kstring.h"
#include "testhooks.h"

#define TAG_T POOL_TAG4('M', 'T', 's', 't')   /* this file's pool blocks */
#define TAG_R POOL_TAG4('M', 'T', 'r', 's')   /* this file's reservations */

static PHYSICAL_ADDRESS mdl_pa(uint64_t v) { PHYSICAL_ADDRESS p; p.QuadPart = (int64_t)v; return p; }
static volatile uint8_t *dmap(PFN_NUMBER pfn) { return arch_phys_to_virt(pfn_to_pa(pfn)); }

/* The kernel passes kernel_pt at mm_init; set it here too so these tests do not depend on it. */
static void mdl_test_setup(void)
{
	if (!mm_get_kernel_pt())
		mm_set_kernel_pt(&kernel_pt);
}

/* n fresh zeroed pages described by a pool MDL (MmAllocatePagesForMdlEx, fully). */
static PMDL alloc_pages(unsigned n)
{
	return MmAllocatePagesForMdlEx(mdl_pa(0), mdl_pa(UINT64_MAX), mdl_pa(0), (SIZE_T)n * PAGE_SIZE, MmCached,
				       MM_ALLOCATE_FULLY_REQUIRED);
}

static void free_pages(PMDL mdl)
{
	MmFreePagesFromMdl(mdl);
	ExFreePool(mdl);
}

static void intercept(void) { bugcheck_set_hook(bugcheck_record_hook); bugcheck_last.count = 0; }
static void release_intercept(void) { bugcheck_set_hook(NULL); }

KTEST(mdl_reserved_mapping_write_read_both_ways)
{
	mdl_test_setup();
	PMDL mdl = alloc_pages(4);
	KASSERT_TEST(mdl);
	KEXPECT(mdl->MdlFlags == MDL_PAGES_LOCKED && mdl->ByteCount == 4 * PAGE_SIZE);
	for (unsigned i = 0; i < 4; i++)
		KEXPECT_EQ(dmap(MmGetMdlPfnArray(mdl)[i])[123], 0, "zeroed");
	char *r = MmAllocateMappingAddress(4 * PAGE_SIZE, TAG_R);
	KASSERT_TEST(r);
	volatile char *v = MmMapLockedPagesWithReservedMapping(r, TAG_R, mdl, MmCached);
	KEXPECT(v == r);
	for (unsigned i = 0; i < 4; i++) {
		v[i * PAGE_SIZE + 5] = (char)(0x10 + i);
		KEXPECT_EQ(dmap(MmGetMdlPfnArray(mdl)[i])[5], 0x10 + i, "write through the mapping, read through the direct map");
		dmap(MmGetMdlPfnArray(mdl)[i])[6] = (uint8_t)(0x20 + i);
		KEXPECT_EQ(v[i * PAGE_SIZE + 6], 0x20 + i, "and back");
	}
	MmUnmapReservedMapping(r, TAG_R, mdl);
	MmFreeMappingAddress(r, TAG_R);
	free_pages(mdl);
}

KTEST(mdl_partial_mapped_and_read)
{
	mdl_test_setup();
	PMDL src = alloc_pages(4);
	KASSERT_TEST(src);
	for (unsigned i = 0; i < 4; i++)
		for (unsigned b = 0; b < PAGE_SIZE; b += 512)
			dmap(MmGetMdlPfnArray(src)[i])[b] = (uint8_t)(i * 8 + b / 512);
	uintptr_t sv = (uintptr_t)MmGetMdlVirtualAddress(src);
	PMDL part = IoAllocateMdl((PVOID)(sv + 0x1a00), 0x1400, 0, 0, NULL);
	KASSERT_TEST(part);
	IoBuildPartialMdl(src, part, (PVOID)(sv + 0x1a00), 0x1400);
	KEXPECT_EQ(part->MdlFlags, MDL_PARTIAL);
	KEXPECT_EQ(part->ByteOffset, 0xa00);
	volatile uint8_t *p = MmGetSystemAddressForMdlSafe(part, NormalPagePriority);
	KASSERT_TEST(p);
	KEXPECT_EQ((uintptr_t)p & PAGE_MASK, 0xa00, "address carries the byte offset");
	KEXPECT(part->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED);
	KEXPECT_EQ(p[0], 1 * 8 + 5, "first byte: page 1 offset 0xa00");
	KEXPECT_EQ(p[0x600], 2 * 8 + 0, "crossing into page 2");
	KEXPECT_EQ(p[0x1200], 2 * 8 + 6);
	/* The partial of a mapped parent: the parent's mapping, no new one. */
	volatile uint8_t *whole = MmGetSystemAddressForMdlSafe(src, NormalPagePriority);
	KASSERT_TEST(whole);
	PMDL part2 = IoAllocateMdl((PVOID)(sv + 0x3200), 0x100, 0, 0, NULL);
	KASSERT_TEST(part2);
	IoBuildPartialMdl(src, part2, (PVOID)(sv + 0x3200), 0x100);
	KEXPECT(part2->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA);
	volatile uint8_t *q = MmGetSystemAddressForMdlSafe(part2, NormalPagePriority);
	KEXPECT(q == whole + 0x3200, "inside the parent's mapping");
	KEXPECT_EQ(q[0], 3 * 8 + 1);
	IoFreeMdl(part2);
	IoFreeMdl(part);   /* unmaps the partial's own mapping */
	MmUnmapLockedPages((PVOID)whole, src);
	free_pages(src);
}

/* n pages of pages' frames in a fresh IoAllocateMdl MDL, locked, mapped by MmGetSystemAddressForMdlSafe
 * (its own 'MdlM' mapping); NULL when the pool or the region refuses. */
static PMDL io_mapped(PMDL pages, unsigned n, char **va)
{
	PMDL m = IoAllocateMdl((PVOID)0x20000, n * PAGE_SIZE, 0, 0, NULL);
	if (!m)
		return NULL;
	memcpy(MmGetMdlPfnArray(m), MmGetMdlPfnArray(pages), n * sizeof(PFN_NUMBER));
	m->MdlFlags |= MDL_PAGES_LOCKED;
	*va = MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
	if (!*va) {
		IoFreeMdl(m);
		return NULL;
	}
	return m;
}

/*
 * IoFreeMdl unmaps its MDL's own mapping and no other (docs/contract.md section 5): A's mapping,
 * undone through a copy of A, leaves A's flag set; B's mapping of other frames, at whatever address
 * the region gives it, stays whole when A is freed. An MDL whose ByteCount changed since its mapping:
 * 0xDA/0x10C, and neither its mapping nor the MDL freed.
 */
KTEST(mdl_io_free_unmaps_its_own_mapping_only)
{
	enum { N = 3 };
	mdl_test_setup();
	PMDL pa = alloc_pages(N), pb = alloc_pages(N);
	char *va, *vb;
	KASSERT_TEST(pa && pb);
	PMDL a = io_mapped(pa, N, &va);
	KASSERT_TEST(a);
	struct { MDL m; PFN_NUMBER p[N]; } copy;
	memcpy(&copy, a, sizeof(copy));
	MmUnmapLockedPages(va, &copy.m);
	KEXPECT(a->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, "A's flag stays: the copy was unmapped");
	PMDL b = io_mapped(pb, N, &vb);
	KASSERT_TEST(b);
	dmap(MmGetMdlPfnArray(pb)[N - 1])[7] = 0x6b;
	IoFreeMdl(a);
	paddr_t phys;
	for (unsigned i = 0; i < N; i++)
		KEXPECT(pt_query(&kernel_pt, (vaddr_t)vb + i * PAGE_SIZE, &phys, NULL, NULL) &&
			pa_to_pfn(phys) == MmGetMdlPfnArray(pb)[i], "B's page %u still mapped to its frame (A was at %p, B at %p)",
			i, va, vb);
	KEXPECT_EQ(((volatile uint8_t *)vb)[(N - 1) * PAGE_SIZE + 7], 0x6b);
	IoFreeMdl(b);
	KEXPECT(!pt_query(&kernel_pt, (vaddr_t)vb, NULL, NULL, NULL), "B's own mapping went with B");

	PMDL c = io_mapped(pa, N, &va);
	KASSERT_TEST(c);
	c->ByteCount = (N - 1) * PAGE_SIZE;
	intercept();
	IoFreeMdl(c);
	release_intercept();
	KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
		bugcheck_last.p[0] == SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING && bugcheck_last.p[3] == N - 1,
		"a span changed since the map: 0xDA/0x10C, P4 the pages asked");
	KEXPECT(pool_block_info(c, NULL, NULL), "the MDL not freed after the caught misuse");
	KEXPECT(pt_query(&kernel_pt, (vaddr_t)va, NULL, NULL, NULL), "its mapping not undone");
	c->ByteCount = N * PAGE_SIZE;
	IoFreeMdl(c);
	KEXPECT(!pt_query(&kernel_pt, (vaddr_t)va, NULL, NULL, NULL), "undone once the MDL is whole again");
	free_pages(pa);
	free_pages(pb);
}

KTEST(mdl_byte_offset_returned_with_mapping)
{
	mdl_test_setup();
	PMDL pages = alloc_pages(2);
	KASSERT_TEST(pages);
	PMDL m = IoAllocateMdl((PVOID)0x10345, PAGE_SIZE, 0, 0, NULL);
	KASSERT_TEST(m);
	MmGetMdlPfnArray(m)[0] = MmGetMdlPfnArray(pages)[0];
	MmGetMdlPfnArray(m)[1] = MmGetMdlPfnArray(pages)[1];
	m->MdlFlags |= MDL_PAGES_LOCKED;
	char *r = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG_R);
	KASSERT_TEST(r);
	volatile char *v = MmMapLockedPagesWithReservedMapping(r, TAG_R, m, MmCached);
	KEXPECT(v == r + 0x345, "MappingAddress + ByteOffset");
	KEXPECT(MmGetSystemAddressForMdlSafe(m, 0) == v);
	v[0] = 0x5a;
	KEXPECT_EQ(dmap(MmGetMdlPfnArray(pages)[0])[0x345], 0x5a);
	MmUnmapReservedMapping(r, TAG_R, m);
	MmFreeMappingAddress(r, TAG_R);
	IoFreeMdl(m);
	free_pages(pages);
}

KTEST(mdl_pattern_growable_region)
{
	enum { STEPS = 6, STEP_PAGES = 3, MAX_PAGES = 256 };
	mdl_test_setup();
	struct syspte_stats s0;
	syspte_get_stats(reserved_region(), &s0);
	char *base = MmAllocateMappingAddress(MAX_PAGES * PAGE_SIZE, TAG_R);
	KASSERT_TEST(base);
	/* Commit on demand; each MDL structure is freed right after mapping, the mapping stays. */
	for (unsigned i = 0; i < STEPS; i++) {
		PMDL mdl = alloc_pages(STEP_PAGES);
		KASSERT_TEST(mdl);
		char *at = base + (uint64_t)i * STEP_PAGES * PAGE_SIZE;
		KEXPECT(MmMapLockedPagesWithReservedMapping(at, TAG_R, mdl, MmCached) == at);
		ExFreePool(mdl);
		for (unsigned b = 0; b < STEP_PAGES * PAGE_SIZE; b += PAGE_SIZE)
			at[b] = (char)(i + 1);
	}
	KEXPECT_EQ(base[(STEPS - 1) * STEP_PAGES * PAGE_SIZE], STEPS, "committed pages hold their data");
	/* Tear down with one MDL over the whole committed range. The structures of the commit MDLs are
	 * gone, so the tear-down MDL is what remembers the frames: after the unmap it is handed to
	 * MmFreePagesFromMdl (it describes exactly the committed pages). */
	uint64_t bytes = (uint64_t)STEPS * STEP_PAGES * PAGE_SIZE;
	PMDL tear = IoAllocateMdl(base, (ULONG)bytes, 0, 0, NULL);
	KASSERT_TEST(tear);
	MmBuildMdlForNonPagedPool(tear);
	KEXPECT(tear->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL);
	KEXPECT_EQ(dmap(MmGetMdlPfnArray(tear)[STEP_PAGES])[0], 2, "the walk found the system-PTE frames");
	struct phys_stats before, after;
	phys_get_stats(&before);
	MmUnmapReservedMapping(base, TAG_R, tear);
	KEXPECT(tear->MappedSystemVa == NULL);
	MmFreePagesFromMdl(tear);
	phys_get_stats(&after);
	KEXPECT_EQ(after.free_pages - before.free_pages, STEPS * STEP_PAGES, "every committed page freed");
	IoFreeMdl(tear);
	MmFreeMappingAddress(base, TAG_R);
	struct syspte_stats s1;
	syspte_get_stats(reserved_region(), &s1);
	KEXPECT_EQ(s1.live, s0.live);
	KEXPECT_EQ(s1.pages_mapped, s0.pages_mapped);
}

KTEST(mdl_system_address_maps_then_unmap)
{
	mdl_test_setup();
	PMDL mdl = alloc_pages(3);
	KASSERT_TEST(mdl);
	struct syspte_stats s0, s1;
	syspte_get_stats(reserved_region(), &s0);
	volatile uint64_t *v = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
	KASSERT_TEST(v);
	KEXPECT(syspte_in_region(reserved_region(), (vaddr_t)v));
	KEXPECT(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
	v[PAGE_SIZE / 8 * 2 + 1] = 0x1122334455667788ULL;
	KEXPECT_EQ(*(volatile uint64_t *)(dmap(MmGetMdlPfnArray(mdl)[2]) + 8), 0x1122334455667788ULL);
	KEXPECT(MmGetSystemAddressForMdlSafe(mdl, 0) == (void *)v, "second call: same mapping");
	syspte_get_stats(reserved_region(), &s1);
	KEXPECT_EQ(s1.live, s0.live + 1);
	MmUnmapLockedPages((PVOID)v, mdl);
	KEXPECT(!(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) && mdl->MappedSystemVa == NULL);
	syspte_get_stats(reserved_region(), &s1);
	KEXPECT_EQ(s1.live, s0.live, "reservation freed");
	KEXPECT(!pt_query(&kernel_pt, (vaddr_t)v, NULL, NULL, NULL), "no longer mapped");
	KEXPECT(MmMapLockedPagesSpecifyCache(mdl, UserMode, MmCached, NULL, 0, 0) == NULL, "UserMode: NULL");
	intercept();
	MmUnmapLockedPages((PVOID)v, mdl);
	KEXPECT_EQ(bugcheck_last.count, 1);
	KEXPECT(bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE && bugcheck_last.p[0] == SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, "double unmap: 0xDA/0x109");
	release_intercept();
	free_pages(mdl);
}

KTEST(mdl_build_nonpaged_pool_direct_map)
{
	mdl_test_setup();
	uint8_t *buf = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_T);
	KASSERT_TEST(buf);
	PMDL mdl = IoAllocateMdl(buf + 0x80, 2 * PAGE_SIZE, 0, 0, NULL);
	KASSERT_TEST(mdl);
	MmBuildMdlForNonPagedPool(mdl);
	paddr_t pa;
	KASSERT_TEST(pt_query(&kernel_pt, (vaddr_t)buf, &pa, NULL, NULL));
	for (unsigned i = 0; i < 3; i++)
		KEXPECT_EQ(MmGetMdlPfnArray(mdl)[i], pa_to_pfn(pa) + i);
	KEXPECT(MmGetSystemAddressForMdlSafe(mdl, 0) == buf + 0x80);
	/* An unmapped page: 0x50 intercepted, MDL unchanged. */
	char *r = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG_R);
	KASSERT_TEST(r);
	PMDL bad = IoAllocateMdl(r, PAGE_SIZE, 0, 0, NULL);
	KASSERT_TEST(bad);
	intercept();
	MmBuildMdlForNonPagedPool(bad);
	KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA &&
		bugcheck_last.p[0] == (uintptr_t)r && bugcheck_last.p[3] == (uintptr_t)r);
	KEXPECT(bad->MdlFlags == 0 && bad->MappedSystemVa == NULL);
	release_intercept();
	IoFreeMdl(bad);
	MmFreeMappingAddress(r, TAG_R);
	IoFreeMdl(mdl);
	ExFreePoolWithTag(buf, TAG_T);
}

/* MmFreePagesFromMdl frees only frames an MDL allocation handed out (docs/contract.md, section 5):
 * an MDL listing a large pool block's frames (built by MmBuildMdlForNonPagedPool, then marked as
 * a pages MDL by hand), the kernel's root table or a slab page raises 0x1A 0x4D440003 naming the
 * frame and its index, and frees nothing; the same MDL with its own frames back frees. */
KTEST(mdl_free_pages_refuses_frames_no_mdl_allocation_handed_out)
{
	mdl_test_setup();
	uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, 3 * PAGE_SIZE, TAG_T);
	uint8_t *small = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_T);
	KASSERT_TEST(big && small);
	PMDL pm = IoAllocateMdl(big, 3 * PAGE_SIZE, 0, 0, NULL);
	KASSERT_TEST(pm);
	MmBuildMdlForNonPagedPool(pm);
	pm->MdlFlags = (CSHORT)((pm->MdlFlags & ~MDL_SOURCE_IS_NONPAGED_POOL) | MDL_PAGES_LOCKED);
	pm->MappedSystemVa = NULL;
	struct phys_stats p0, p1;
	phys_get_stats(&p0);
	intercept();
	MmFreePagesFromMdl(pm);
	KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
		bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_PAGE && bugcheck_last.p[2] == MmGetMdlPfnArray(pm)[0] &&
		bugcheck_last.p[3] == 0, "a large pool block's frames: 0x1A 0x4D440003 at entry 0");
	KEXPECT(phys_owner_of(pfn_to_pa(MmGetMdlPfnArray(pm)[2])) == PHYS_OWNER_POOL_LARGE);
	PMDL own = alloc_pages(3);
	KASSERT_TEST(own);
	PFN_NUMBER *pfn = MmGetMdlPfnArray(own), keep = pfn[1];
	PFN_NUMBER foreign[2] = { pa_to_pfn(kernel_pt.root), pa_to_pfn((uintptr_t)small - (uintptr_t)arch_phys_to_virt(0)) };
	for (unsigned k = 0; k < 2; k++) {
		pfn[1] = foreign[k];
		MmFreePagesFromMdl(own);
		KEXPECT(bugcheck_last.count == 2 + k && bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_PAGE &&
			bugcheck_last.p[1] == (uintptr_t)own && bugcheck_last.p[2] == foreign[k] && bugcheck_last.p[3] == 1,
			"the kernel's root table, then a slab page: 0x1A 0x4D440003 at entry 1");
	}
	release_intercept();
	phys_get_stats(&p1);
	KEXPECT(p1.free_pages + 3 == p0.free_pages && p1.mdl_pages == p0.mdl_pages + 3, "nothing freed");
	KEXPECT(pool_block_info(big, NULL, NULL) && pool_block_info(small, NULL, NULL));
	pfn[1] = keep;
	free_pages(own);
	phys_get_stats(&p1);
	KEXPECT(p1.free_pages == p0.free_pages && p1.mdl_pages == p0.mdl_pages, "its own frames: freed");
	IoFreeMdl(pm);
	ExFreePoolWithTag(big, TAG_T);
	ExFreePoolWithTag(small, TAG_T);
}

KTEST(pool_alloc_free_accounting_and_misuse)
{
	enum { N = 64 };
	static void *p[N];
	struct pool_tag_total t0, t1;
	bool had = pool_tag_get(TAG_T, &t0);
	for (unsigned i = 0; i < N; i++) {
		size_t n = 1 + i * 97;
		p[i] = ExAllocatePoolWithTag(NonPagedPool, n, TAG_T);
		KASSERT_TEST(p[i]);
		KEXPECT_EQ((uintptr_t)p[i] % POOL_ALIGN, 0);
		for (size_t b = 0; b < n; b++)
			((volatile uint8_t *)p[i])[b] = (uint8_t)i;
	}
	for (unsigned i = 0; i < N; i++)
		KEXPECT_EQ(((volatile uint8_t *)p[i])[i * 97], (uint8_t)i, "no overlap");
	KEXPECT(pool_tag_get(TAG_T, &t1) && t1.allocs - t1.frees == N + (had ? t0.allocs - t0.frees : 0));
	KEXPECT_EQ(pool_check(), 0);
	intercept();
	ExFreePoolWithTag(p[3], TAG_R);
	KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_CALLER &&
		bugcheck_last.p[0] == POOL_BUGCHECK_WRONG_TAG && bugcheck_last.p[2] == TAG_T && bugcheck_last.p[3] == TAG_R);
	KEXPECT(pool_block_info(p[3], NULL, NULL), "still live after the intercepted misuse");
	ExFreePool(p[3]);
	ExFreePool(p[3]);
	KEXPECT(bugcheck_last.count == 2 && bugcheck_last.p[0] == POOL_BUGCHECK_DOUBLE_FREE &&
		bugcheck_last.p[3] == (uintptr_t)p[3], "double free: 0x07 (the slab stays: its neighbours are live)");
	int local;
	ExFreePool(&local);
	KEXPECT(bugcheck_last.count == 3 && bugcheck_last.p[0] == POOL_BUGCHECK_NOT_POOL, "kernel stack address: 0x42");
	KEXPECT(ExAllocatePoolWithTag(NonPagedPool, 0, TAG_T) == NULL);
	release_intercept();
	for (unsigned i = 0; i < N; i++)
		if (i != 3)
			ExFreePoolWithTag(p[i], TAG_T);
	KEXPECT(pool_tag_get(TAG_T, &t1) && t1.bytes_live == (had ? t0.bytes_live : 0));
	KEXPECT_EQ(pool_check(), 0);
}

KTEST(zz_mdl_pool_tags_back_to_zero)
{
	struct pool_tag_total t;
	uint32_t tags[] = { TAG_T, MDL_TAG_IO, MDL_TAG_PAGES };
	for (unsigned i = 0; i < ARRAY_SIZE(tags); i++)
		KEXPECT(!pool_tag_get(tags[i], &t) || (t.bytes_live == 0 && t.allocs == t.frees), "tag %u live", i);
	struct syspte_tag_total st[16];
	size_t n = syspte_tag_totals(reserved_region(), st, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		KEXPECT(st[i].tag != MDL_TAG_MAP && st[i].tag != TAG_R, "reservation of tag 0x%x left", st[i].tag);
	KEXPECT_EQ(pool_check(), 0);
}

/* ---------------------------------------------------------------- malformed MDLs (mm/mdl.h) */

/* The calls a malformed MDL is tried on; which rules each applies (a ByteCount of 0 or a frame
 * beyond the physical width is an error only where the call needs bytes or reads frames). */
enum mdl_bad_call { B_MAP_RESERVED, B_MAP_SPECIFY, B_SYSADDR, B_UNMAP_RESERVED, B_UNMAP_LOCKED, B_PARTIAL,
		    B_FREE_PAGES, B_BUILD, B_IOFREE, B_COUNT };
static const bool bad_call_returns[B_COUNT] = { true, true, true, false, false, false, false, false, false };
static const bool bad_call_frames[B_COUNT] = { true, true, true, false, false, true, false, false, false };

/* A mapping of three pages in a reservation and one by MmMapLockedPagesSpecifyCache, which every
 * refused call must leave mapped, plus an empty reservation and a partial target. */
struct bad_world {
	PMDL pages, pages2, target;
	char *r_mapped, *r_empty;
	volatile char *sys;
};

static bool bad_world_make(struct bad_world *w)
{
	w->pages = alloc_pages(3);
	w->pages2 = alloc_pages(3);
	w->r_mapped = MmAllocateMappingAddress(3 * PAGE_SIZE, TAG_R);
	w->r_empty = MmAllocateMappingAddress(8 * PAGE_SIZE, TAG_R);
	w->target = IoAllocateMdl((PVOID)0x10000, 8 * PAGE_SIZE, FALSE, FALSE, NULL);
	if (!w->pages || !w->pages2 || !w->r_mapped || !w->r_empty || !w->target ||
	    MmMapLockedPagesWithReservedMapping(w->r_mapped, TAG_R, w->pages, MmCached) != w->r_mapped)
		return false;
	w->sys = MmMapLockedPagesSpecifyCache(w->pages2, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
	if (!w->sys)
		return false;
	for (unsigned i = 0; i < 3; i++) {
		w->r_mapped[i * PAGE_SIZE] = (char)(0x40 + i);
		w->sys[i * PAGE_SIZE] = (char)(0x50 + i);
	}
	return true;
}

/* True when both mappings still show their pages and the empty reservation is empty. */
static bool bad_world_intact(const struct bad_world *w)
{
	bool good = true;
	for (unsigned i = 0; i < 3; i++)
		good &= w->r_mapped[i * PAGE_SIZE] == (char)(0x40 + i) && w->sys[i * PAGE_SIZE] == (char)(0x50 + i);
	struct syspte_info info;
	return good && syspte_lookup(reserved_region(), (vaddr_t)w->r_empty, &info) && info.mapped == 0;
}

static void bad_world_free(struct bad_world *w)
{
	MmUnmapLockedPages((PVOID)w->sys, w->pages2);
	MmUnmapReservedMapping(w->r_mapped, TAG_R, w->pages);
	MmFreeMappingAddress(w->r_mapped, TAG_R);
	MmFreeMappingAddress(w->r_empty, TAG_R);
	IoFreeMdl(w->target);
	free_pages(w->pages);
	free_pages(w->pages2);
}

static void *bad_call(enum mdl_bad_call c, PMDL m, const struct bad_world *w)
{
	switch (c) {
	case B_MAP_RESERVED: return MmMapLockedPagesWithReservedMapping(w->r_empty, TAG_R, m, MmCached);
	case B_MAP_SPECIFY: return MmMapLockedPagesSpecifyCache(m, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
	case B_SYSADDR: return MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
	case B_UNMAP_RESERVED: MmUnmapReservedMapping(w->r_mapped, TAG_R, m); return NULL;
	case B_UNMAP_LOCKED: MmUnmapLockedPages((PVOID)w->sys, m); return NULL;
	case B_PARTIAL: IoBuildPartialMdl(m, w->target, MmGetMdlVirtualAddress(m), 1); return NULL;
	case B_FREE_PAGES: MmFreePagesFromMdl(m); return NULL;
	case B_BUILD: MmBuildMdlForNonPagedPool(m); return NULL;
	default: IoFreeMdl(m); return NULL;
	}
}

/* Breaks rule `rule` (variant v) of m, a valid locked 3-page MDL from IoAllocateMdl. */
static void bad_malform(PMDL m, int rule, unsigned v)
{
	switch (rule) {
	case MDL_INVALID_BYTE_OFFSET: m->ByteOffset = PAGE_SIZE + 0x10; break;
	case MDL_INVALID_START_VA: m->StartVa = (char *)m->StartVa + 0x10; break;
	case MDL_INVALID_BYTE_COUNT: m->ByteCount = (ULONG)(MDL_MAX_BYTES + 1); break;
	case MDL_INVALID_RANGE: m->StartVa = (PVOID)0xfffffffffffff000ULL; break;   /* 3 pages from the last one */
	case MDL_INVALID_SIZE: m->Size = (CSHORT)(m->Size - 8); break;
	case MDL_INVALID_FLAGS:
		switch (v) {
		case 0: m->MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED; break;            /* without PARTIAL */
		case 1: m->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA; break;                /* MappedSystemVa NULL */
		case 2: m->MdlFlags |= MDL_PARENT_MAPPED_SYSTEM_VA; break;            /* without PARTIAL */
		case 3: m->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA;
			m->MappedSystemVa = (PVOID)PAGE_ALIGN(MmGetMdlVirtualAddress(m)); break;
		default: m->MdlFlags |= MDL_INTERNAL; break;
		}
		break;
	default: MmGetMdlPfnArray(m)[1] = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT); break;
	}
}

/*
 * One class of malformed MDL against every call: NULL from the calls returning a pointer, bug check
 * 0x1A with MDL_BUGCHECK_INVALID_BASE + rule (P2 the MDL) from the others, and nothing changed: the
 * page allocator, the pool, the region, both live mappings, the MDL.
 */
static void mdl_malformed_class(int rule, unsigned variants)
{
	mdl_test_setup();
	struct bad_world w = { 0 };
	KASSERT_TEST(bad_world_make(&w), "set-up");
	for (unsigned v = 0; v < variants; v++)
		for (unsigned c = 0; c < B_COUNT; c++) {
			if (rule == MDL_INVALID_FRAME && !bad_call_frames[c])
				continue;
			PMDL m = IoAllocateMdl((PVOID)0x20000, 3 * PAGE_SIZE, FALSE, FALSE, NULL);
			KASSERT_TEST(m);
			for (unsigned i = 0; i < 3; i++)
				MmGetMdlPfnArray(m)[i] = MmGetMdlPfnArray(w.pages)[i];
			m->MdlFlags |= MDL_PAGES_LOCKED;
			KEXPECT_EQ(mdl_validate(m, MDL_CHECK_BYTES | MDL_CHECK_FRAMES, NULL), MDL_VALID, "unbroken MDL valid");
			bad_malform(m, rule, v);
			MDL saved = *m;
			PFN_NUMBER pfn1 = MmGetMdlPfnArray(m)[1];
			struct phys_stats p0, p1;
			struct syspte_stats s0, s1;
			struct pool_stats q0, q1;
			phys_get_stats(&p0);
			syspte_get_stats(reserved_region(), &s0);
			pool_get_stats(&q0);
			intercept();
			void *r = bad_call((enum mdl_bad_call)c, m, &w);
			release_intercept();
			if (bad_call_returns[c])
				KEXPECT(r == NULL && bugcheck_last.count == 0, "call %u, variant %u: NULL, no bug check", c, v);
			else
				KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
						bugcheck_last.p[0] == MDL_BUGCHECK_INVALID_BASE + (unsigned)rule &&
						bugcheck_last.p[1] == (uintptr_t)m,
					"call %u, variant %u: 0x1A/0x%llx, got 0x%x/0x%llx", c, v,
					(unsigned long long)(MDL_BUGCHECK_INVALID_BASE + (unsigned)rule), bugcheck_last.code,
					(unsigned long long)bugcheck_last.p[0]);
			phys_get_stats(&p1);
			syspte_get_stats(reserved_region(), &s1);
			pool_get_stats(&q1);
			KEXPECT(memcmp(&p0, &p1, sizeof(p0)) == 0 && memcmp(&s0, &s1, sizeof(s0)) == 0 &&
					memcmp(&q0, &q1, sizeof(q0)) == 0, "call %u: allocators and region unchanged", c);
			KEXPECT(memcmp(&saved, m, sizeof(saved)) == 0 && MmGetMdlPfnArray(m)[1] == pfn1 && bad_world_intact(&w),
				"call %u: MDL and mappings unchanged", c);
			*m = saved;
			m->MdlFlags = MDL_PAGES_LOCKED;   /* a valid MDL again, for IoFreeMdl */
			m->ByteOffset = 0;
			m->StartVa = (PVOID)0x20000;
			m->ByteCount = 3 * PAGE_SIZE;
			m->Size = (CSHORT)MmSizeOfMdl((PVOID)0x20000, 3 * PAGE_SIZE);
			m->MappedSystemVa = NULL;
			IoFreeMdl(m);
		}
	bad_world_free(&w);
}

KTEST(mdl_malformed_byte_offset) { mdl_malformed_class(MDL_INVALID_BYTE_OFFSET, 1); }
KTEST(mdl_malformed_start_va) { mdl_malformed_class(MDL_INVALID_START_VA, 1); }
KTEST(mdl_malformed_byte_count) { mdl_malformed_class(MDL_INVALID_BYTE_COUNT, 1); }
KTEST(mdl_malformed_range_wraps) { mdl_malformed_class(MDL_INVALID_RANGE, 1); }
KTEST(mdl_malformed_size) { mdl_malformed_class(MDL_INVALID_SIZE, 1); }
KTEST(mdl_malformed_flags) { mdl_malformed_class(MDL_INVALID_FLAGS, 5); }
KTEST(mdl_malformed_frame_beyond_phys_width) { mdl_malformed_class(MDL_INVALID_FRAME, 1); }

/* The issue's case: an MDL whose ByteOffset is past its first page maps nothing (it used to return
 * an address past the reservation, whose unmap then bug-checked and leaked the reservation); a NULL
 * MDL to MmUnmapReservedMapping is 0x50 like every call that cannot return an error; ByteCount 0
 * is refused where bytes are needed and MmBuildMdlForNonPagedPool refuses an MDL built already. */
KTEST(mdl_malformed_issue_cases)
{
	mdl_test_setup();
	PMDL pages = alloc_pages(2);
	KASSERT_TEST(pages);
	struct syspte_stats s0, s1;
	syspte_get_stats(reserved_region(), &s0);
	pages->ByteOffset = 3 * PAGE_SIZE;
	pages->ByteCount = PAGE_SIZE;
	KEXPECT(MmMapLockedPagesSpecifyCache(pages, KernelMode, MmCached, NULL, FALSE, 0) == NULL,
		"ByteOffset 3 pages: MmMapLockedPagesSpecifyCache NULL");
	syspte_get_stats(reserved_region(), &s1);
	KEXPECT_EQ(s1.live, s0.live, "no reservation made or leaked");
	pages->ByteOffset = 0;
	pages->ByteCount = 2 * PAGE_SIZE;
	char *r = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG_R);
	KASSERT_TEST(r && MmMapLockedPagesWithReservedMapping(r, TAG_R, pages, MmCached) == r);
	intercept();
	MmUnmapReservedMapping(r, TAG_R, NULL);
	KEXPECT(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA &&
		bugcheck_last.p[0] == 0, "MmUnmapReservedMapping(NULL MDL): 0x50 at address 0");
	PMDL tear = IoAllocateMdl(r, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
	KASSERT_TEST(tear);
	tear->ByteCount = 0;
	MmBuildMdlForNonPagedPool(tear);
	KEXPECT(bugcheck_last.count == 2 && bugcheck_last.p[0] == MDL_BUGCHECK_BAD_BYTE_COUNT, "build of 0 bytes: 0x4D440103");
	tear->ByteCount = 2 * PAGE_SIZE;
	MmBuildMdlForNonPagedPool(tear);
	MmBuildMdlForNonPagedPool(tear);
	KEXPECT(bugcheck_last.count == 3 && bugcheck_last.p[0] == MDL_BUGCHECK_BUILD_BAD_MDL, "built twice: 0x4D440108");
	release_intercept();
	volatile char *v = r;
	v[PAGE_SIZE] = 7;
	KEXPECT_EQ(dmap(MmGetMdlPfnArray(pages)[1])[0], 7, "still mapped after the refusals");
	MmUnmapReservedMapping(r, TAG_R, pages);
	MmFreeMappingAddress(r, TAG_R);
	IoFreeMdl(tear);
	free_pages(pages);
}
