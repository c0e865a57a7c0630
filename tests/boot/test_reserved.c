/* Boot self-tests of the system PTE region and the reserved-mapping API on the live kernel. */
#include "ktest.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "pt.h"
#include "vm.h"
#include "trap.h"
#include "bugcheck.h"
#include "arch_mm.h"
#include "x86.h"
#include "cpu.h"
#include "vmlayout.h"
#include "testhooks.h"
#include "syspte_impl.h"
#include "spinlock.h"
#include "apic.h"
#include "acpi.h"
#include "sysinfo.h"
#include "kernel.h"
#include "efi_mmap.h"

#define TAG  0x74736554u   /* 'Test' */
#define TAG2 0x32747354u

/* A stack MDL with room for PFNs, built by hand (the MDL toolkit is tested elsewhere). */
struct test_mdl {
	MDL mdl;
	PFN_NUMBER pfn[64];
};

/* Describes npages fresh zeroed pages; returns false if memory ran out. */
static bool test_mdl_alloc(struct test_mdl *t, unsigned npages, ULONG offset, ULONG bytes)
{
	*t = (struct test_mdl){ 0 };
	t->mdl.Size = (CSHORT)sizeof(*t);   /* the whole structure: room for any span the tests give it */
	t->mdl.MdlFlags = MDL_PAGES_LOCKED;
	t->mdl.ByteOffset = offset;
	t->mdl.ByteCount = bytes ? bytes : npages * 4096 - offset;
	for (unsigned i = 0; i < npages; i++) {
		paddr_t pa = phys_alloc_zeroed_page();
		if (!pa)
			return false;
		t->pfn[i] = pa_to_pfn(pa);
	}
	return true;
}

static void test_mdl_free(struct test_mdl *t, unsigned npages)
{
	for (unsigned i = 0; i < npages; i++)
		if (t->pfn[i])
			phys_free(pfn_to_pa(t->pfn[i]), 1);
}

/* The same pages described by a second MDL object. */
static void test_mdl_copy(struct test_mdl *dst, const struct test_mdl *src)
{
	*dst = *src;
	dst->mdl.MdlFlags = MDL_PAGES_LOCKED;
	dst->mdl.MappedSystemVa = NULL;
}

static uint8_t *dmap(PFN_NUMBER pfn) { return arch_phys_to_virt(pfn_to_pa(pfn)); }

/* Intercepts bug checks; returns the previous hook. */
static void intercept(void) { bugcheck_set_hook(bugcheck_record_hook); bugcheck_last.code = 0; }
static void release_intercept(void) { bugcheck_set_hook(NULL); }

KTEST(reserve_null_cases)
{
	KEXPECT(MmAllocateMappingAddress(0, TAG) == NULL, "0 bytes");
	KEXPECT(MmAllocateMappingAddress(4096, 0) == NULL, "tag 0");
	KEXPECT(MmAllocateMappingAddressEx(4096, TAG, 0x2) == NULL, "unknown flag");
	KEXPECT(MmAllocateMappingAddress(1ULL << 32, TAG) == NULL, ">= 4 GiB");
	KEXPECT(MmAllocateMappingAddress(~0ULL, TAG) == NULL, "SIZE_MAX");
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	KEXPECT_EQ(s.live, 0, "nothing reserved by the refused calls");
}

KTEST(reserve_pages_exist_and_free)
{
	struct syspte_stats before, after;
	syspte_get_stats(reserved_region(), &before);
	uint64_t tables = kernel_pt.table_pages;
	char *va = MmAllocateMappingAddress(5 * 4096 + 1, TAG);
	KASSERT_TEST(va != NULL);
	KEXPECT(syspte_in_region(reserved_region(), (vaddr_t)va) && IS_ALIGNED((vaddr_t)va, 4096));
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va + 5 * 4096, &info) && info.npages == 6 && info.tag == TAG);
	for (int i = 0; i < 6; i++) {
		KEXPECT(pt_pte_slot(&kernel_pt, (vaddr_t)va + i * 4096ULL) != NULL, "page table exists");
		KEXPECT(!pt_query(&kernel_pt, (vaddr_t)va + i * 4096ULL, NULL, NULL, NULL), "non-present");
	}
	KEXPECT(kernel_pt.table_pages - tables <= 2 + 2, "reserving made at most the tables of its spans (and two above)");
	MmFreeMappingAddress(va + 100, TAG);   /* an unaligned pointer into the first page */
	syspte_get_stats(reserved_region(), &after);
	KEXPECT_EQ(after.live, before.live);
	KEXPECT_EQ(after.free_pages, before.free_pages);
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
}

KTEST(reserve_divisible_any_size)
{
	static void *v[24];
	for (int p = 1; p <= 24; p++) {
		v[p - 1] = MmAllocateMappingAddressEx((SIZE_T)p * 4096, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
		KEXPECT(v[p - 1] && (uint64_t)v[p - 1] % ((uint64_t)p * 4096) == 0, "%d pages at %p", p, v[p - 1]);
	}
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	for (int p = 1; p <= 24; p++)
		if (v[p - 1])
			MmFreeMappingAddress(v[p - 1], TAG);
}

KTEST(reserve_misuse_free_bugchecks)
{
	uint64_t census_before[BUDDY_ORDERS], census_after[BUDDY_ORDERS];
	syspte_census(reserved_region(), census_before);
	char *va = MmAllocateMappingAddress(3 * 4096, TAG);
	KASSERT_TEST(va);
	intercept();
	MmFreeMappingAddress(va, TAG2);
	KEXPECT_EQ(bugcheck_last.code, BUGCHECK_SYSTEM_PTE_MISUSE);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_FREE_WRONG_TAG);
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)va);
	KEXPECT_EQ(bugcheck_last.p[2], TAG2);
	KEXPECT_EQ(bugcheck_last.p[3], TAG);
	MmFreeMappingAddress(va + 4096, TAG);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_FREE_NOT_START, "not the start");
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)va + 4096);
	MmFreeMappingAddress((void *)0xffff800000001000ULL, TAG);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_FREE_NOT_START, "outside the region");
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 1, 0, 0));
	KEXPECT(MmMapLockedPagesWithReservedMapping(va + 4096, TAG, &t.mdl, MmCached) == va + 4096);
	MmFreeMappingAddress(va, TAG);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_FREE_STILL_MAPPED, "still mapped");
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)va + 4096, "first mapped address");
	KEXPECT_EQ(bugcheck_last.p[3], 1, "pages still mapped");
	release_intercept();
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 1, "state unchanged");
	MmUnmapReservedMapping(va + 4096, TAG, &t.mdl);
	MmFreeMappingAddress(va, TAG);
	syspte_census(reserved_region(), census_after);
	bool same = true;
	for (int o = 0; o < BUDDY_ORDERS; o++)
		same &= census_before[o] == census_after[o];
	KEXPECT(same, "free census back to where it was");
	KEXPECT(!syspte_lookup(reserved_region(), (vaddr_t)va, NULL), "freed at last");
	test_mdl_free(&t, 1);
}

KTEST(reserve_touch_unmapped_is_bugcheck_0x50)
{
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	intercept();
	uint8_t v;
	KEXPECT_EQ(arch_probe_read8(va + 4096 + 8, &v), (uint64_t)-1);
	KEXPECT_EQ(bugcheck_last.code, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA);
	KEXPECT_EQ(bugcheck_last.p[0], (uint64_t)va + 4096 + 8, "address");
	KEXPECT_EQ(bugcheck_last.p[1], PF_NONPAGED_READ, "read");
	KEXPECT_EQ(bugcheck_last.p[3], (uint64_t)va, "names the reservation base");
	KEXPECT_EQ(arch_probe_write8(va, 1), (uint64_t)-1);
	KEXPECT_EQ(bugcheck_last.p[1], PF_NONPAGED_WRITE, "write");
	release_intercept();
	MmFreeMappingAddress(va, TAG);
}

/*
 * A jump into an unmapped reserved page is 0x50 with P2 0x10 (contract section 4) on every CPU: one
 * without NX (and SMEP) does not set the error code's I/D bit, so the fetch is known by the fault
 * being at the instruction pointer itself (trap_pf_is_fetch). The probe resumes there too.
 */
KTEST(reserve_fetch_unmapped_is_bugcheck_0x50_fetch)
{
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	intercept();
	uint64_t before = trap_last_fixup.count;
	KEXPECT_EQ(arch_probe_exec(va + 4096), (uint64_t)-1, "the fetch faulted and the probe resumed");
	KEXPECT_EQ(trap_last_fixup.count, before + 1);
	KEXPECT_EQ(bugcheck_last.code, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA);
	KEXPECT_EQ(bugcheck_last.p[0], (uint64_t)va + 4096, "address");
	KEXPECT_EQ(bugcheck_last.p[1], PF_NONPAGED_FETCH, "an instruction fetch, with NX or without");
	KEXPECT_EQ(bugcheck_last.p[2], (uint64_t)va + 4096, "the faulting RIP is the target");
	KEXPECT_EQ(bugcheck_last.p[3], (uint64_t)va, "names the reservation base");
	release_intercept();
	MmFreeMappingAddress(va, TAG);
}

/*
 * A fault in the region while this CPU holds the region's lock (a bug inside the region's own
 * code): the page-fault path must report 0x50 without the lock. Were it to take the lock, the
 * re-entry would be bug check 0x0F and a panic (and, without the lock's owner, a hang).
 */
KTEST(lock_fault_under_region_lock_reports_without_it)
{
	struct syspte_region *r = reserved_region();
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	intercept();
	uint8_t v;
	uint64_t f = spin_lock(&r->lock);
	uint64_t got = arch_probe_read8(va + 8, &v);
	spin_unlock(&r->lock, f);
	KEXPECT_EQ(got, (uint64_t)-1, "the probe faulted and resumed");
	KEXPECT_EQ(bugcheck_last.code, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA);
	KEXPECT_EQ(bugcheck_last.p[0], (uint64_t)va + 8, "address");
	KEXPECT_EQ(bugcheck_last.p[3], 0, "no reservation named: the region was not read under its own lock");
	KEXPECT_EQ(arch_probe_read8(va + 8, &v), (uint64_t)-1);
	KEXPECT_EQ(bugcheck_last.p[3], (uint64_t)va, "the same fault without the lock names the reservation");
	release_intercept();
	MmFreeMappingAddress(va, TAG);
}

/* The lock order holds on the live kernel: a lock below a held rank is reported as 0xC4/0x1001. */
KTEST(lock_out_of_order_is_bugcheck_0xc4)
{
	static spinlock_t low = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-low");
	static spinlock_t high = SPINLOCK_INIT(LOCK_RANK_TEST_HIGH, "test-high");
	intercept();
	uint64_t f2 = spin_lock(&high), f1 = spin_lock(&low);
	KEXPECT(spin_held(&low) && spin_held(&high), "both held by this CPU");
	spin_unlock(&low, f1);
	spin_unlock(&high, f2);
	release_intercept();
	KEXPECT_EQ(bugcheck_last.code, BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION);
	KEXPECT_EQ(bugcheck_last.p[0], LOCK_BUGCHECK_ORDER);
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)&low, "the lock taken out of order");
	KEXPECT_EQ(spin_cpus[arch_cpu_index()].held, 0, "no rank left held");
}

KTEST(map_write_through_mapping_read_through_dmap)
{
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 4, 0, 0));
	char *va = MmAllocateMappingAddress(4 * 4096, TAG);
	KASSERT_TEST(va);
	char *p = MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached);
	KEXPECT(p == va);
	KEXPECT(t.mdl.MappedSystemVa == va && (t.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA));
	for (int i = 0; i < 4; i++) {
		p[i * 4096 + 7] = (char)(0x40 + i);
		KEXPECT_EQ(dmap(t.pfn[i])[7], 0x40 + i);
		dmap(t.pfn[i])[9] = (char)(0x60 + i);
		KEXPECT_EQ(p[i * 4096 + 9], 0x60 + i);
	}
	uint64_t pte;
	KEXPECT(pt_query(&kernel_pt, (vaddr_t)va, NULL, &pte, NULL));
	KEXPECT((pte & X86_PTE_P) && (pte & X86_PTE_W) && (pte & X86_PTE_G) && !(pte & X86_PTE_U));
	KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx, "NX exactly when the CPU has it");
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	KEXPECT(t.mdl.MappedSystemVa == NULL && !(t.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA));
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&t, 4);
}

KTEST(map_unmap_remap_sees_new_pages_at_once)
{
	struct test_mdl a, b;
	KASSERT_TEST(test_mdl_alloc(&a, 2, 0, 0) && test_mdl_alloc(&b, 2, 0, 0));
	for (int i = 0; i < 2; i++) {
		dmap(a.pfn[i])[0] = 'a';
		dmap(b.pfn[i])[0] = 'b';
	}
	volatile char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	for (int round = 0; round < 8; round++) {
		struct test_mdl *m = (round & 1) ? &b : &a;
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping((void *)va, TAG, &m->mdl, MmCached) == va);
		KEXPECT_EQ(va[0], (round & 1) ? 'b' : 'a', "a stale TLB entry would show the old page");
		KEXPECT_EQ(va[4096], (round & 1) ? 'b' : 'a');
		MmUnmapReservedMapping((void *)va, TAG, &m->mdl);
	}
	MmFreeMappingAddress((void *)va, TAG);
	test_mdl_free(&a, 2);
	test_mdl_free(&b, 2);
}

KTEST(map_byte_offset_and_partial_flags)
{
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 2, 0x234, 4096));   /* 0x234 + 4096 spans 2 pages */
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	char *p = MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached);
	KEXPECT(p == va + 0x234, "returns MappingAddress + ByteOffset");
	KEXPECT(t.mdl.MappedSystemVa == va, "MappedSystemVa excludes the offset");
	p[0] = 'x';
	KEXPECT_EQ(dmap(t.pfn[0])[0x234], 'x');
	p[4095] = 'y';
	KEXPECT_EQ(dmap(t.pfn[1])[0x233], 'y');
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	t.mdl.MdlFlags = MDL_PARTIAL;   /* a partial MDL: mappable, and marked once mapped */
	KEXPECT(MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached) == va + 0x234);
	KEXPECT(t.mdl.MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED);
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	KEXPECT(!(t.mdl.MdlFlags & (MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_MAPPED_TO_SYSTEM_VA)));
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&t, 2);
}

KTEST(map_null_cases_change_nothing)
{
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 3, 0, 0));
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "3 pages do not fit in 2");
	t.mdl.ByteCount = 4096;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va + 4096, TAG, &t.mdl, MmMaximumCacheType), "cache type out of range");
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, (MEMORY_CACHING_TYPE)-1), "negative cache type");
	t.mdl.MdlFlags = 0;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "neither locked nor partial");
	t.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "already mapped");
	t.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "nonpaged pool source");
	t.mdl.MdlFlags = MDL_PARTIAL | MDL_PARTIAL_HAS_BEEN_MAPPED;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "partial already mapped");
	t.mdl.MdlFlags = MDL_PAGES_LOCKED;
	t.mdl.ByteCount = 0;
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached), "ByteCount 0");
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 0, "nothing mapped");
	KEXPECT(t.mdl.MappedSystemVa == NULL && t.mdl.MdlFlags == MDL_PAGES_LOCKED, "MDL untouched");
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&t, 3);
}

KTEST(map_misuse_bugchecks_change_nothing)
{
	struct test_mdl t, u;
	KASSERT_TEST(test_mdl_alloc(&t, 2, 0, 0));
	test_mdl_copy(&u, &t);
	char *va = MmAllocateMappingAddress(4 * 4096, TAG);
	KASSERT_TEST(va);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va + 4096, TAG, &t.mdl, MmCached));
	intercept();
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG2, &u.mdl, MmCached));
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_MAP_WRONG_TAG);
	KEXPECT_EQ(bugcheck_last.p[2], TAG2);
	KEXPECT_EQ(bugcheck_last.p[3], TAG);
	KEXPECT(!MmMapLockedPagesWithReservedMapping((void *)(SYSPTE_BASE + SYSPTE_MAX_SIZE - 4096), TAG, &u.mdl, MmCached));
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_MAP_NO_RESERVATION, "not in a reservation");
	KEXPECT(!MmMapLockedPagesWithReservedMapping(va, TAG, &u.mdl, MmCached));
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, "overlaps the mapping at page 1");
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)va);
	KEXPECT_EQ(bugcheck_last.p[2], (uint64_t)va + 4096, "first non-empty address");
	KEXPECT_EQ(bugcheck_last.p[3], (uint64_t)va + 2 * 4096 - 1, "last address of the span");
	release_intercept();
	KEXPECT(!(u.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) && u.mdl.MappedSystemVa == NULL);
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 2);
	MmUnmapReservedMapping(va + 4096, TAG, &t.mdl);
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&t, 2);
}

KTEST(unmap_misuse_bugchecks_change_nothing)
{
	struct test_mdl a, b, span3, one;
	KASSERT_TEST(test_mdl_alloc(&a, 2, 0, 0) && test_mdl_alloc(&b, 2, 0, 0));
	char *va = MmAllocateMappingAddress(6 * 4096, TAG);
	KASSERT_TEST(va);
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &a.mdl, MmCached));          /* pages 0-1 */
	KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va + 2 * 4096, TAG, &b.mdl, MmCached)); /* pages 2-3 */
	test_mdl_copy(&span3, &a);
	span3.mdl.ByteCount = 3 * 4096;
	test_mdl_copy(&one, &a);
	one.mdl.ByteCount = 4096;
	intercept();
	MmUnmapReservedMapping(va, TAG2, &a.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_WRONG_TAG);
	KEXPECT_EQ(bugcheck_last.p[3], TAG);
	MmUnmapReservedMapping(va + 4 * 4096, TAG, &one.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, "page not mapped");
	MmUnmapReservedMapping((void *)(SYSPTE_BASE + SYSPTE_MAX_SIZE - 4096), TAG, &one.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, "not in a reservation");
	struct test_mdl big;
	test_mdl_copy(&big, &a);
	big.mdl.ByteCount = 7 * 4096;
	MmUnmapReservedMapping(va, TAG, &big.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_PAST_END, "runs past the end");
	KEXPECT_EQ(bugcheck_last.p[2], 6);
	KEXPECT_EQ(bugcheck_last.p[3], 7);
	struct test_mdl five;
	test_mdl_copy(&five, &a);
	five.mdl.ByteCount = 5 * 4096;
	MmUnmapReservedMapping(va, TAG, &five.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_HOLE, "page 4 unmapped");
	KEXPECT_EQ(bugcheck_last.p[1], (uint64_t)va + 4 * 4096);
	MmUnmapReservedMapping(va + 4096, TAG, &one.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, "starts inside a mapping");
	KEXPECT_EQ(bugcheck_last.p[2], (uint64_t)va, "first page of the cut mapping");
	MmUnmapReservedMapping(va, TAG, &span3.mdl);
	KEXPECT_EQ(bugcheck_last.p[0], SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, "ends inside a mapping");
	KEXPECT_EQ(bugcheck_last.p[2], (uint64_t)va + 2 * 4096);
	release_intercept();
	struct syspte_info info;
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 4, "all four pages still mapped");
	KEXPECT(a.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, "MDL untouched");
	/* Two adjacent whole mappings in one unmap, with a new MDL describing the span. */
	struct test_mdl four;
	test_mdl_copy(&four, &a);
	four.mdl.ByteCount = 4 * 4096;
	MmUnmapReservedMapping(va, TAG, &four.mdl);
	KEXPECT(syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 0);
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&a, 2);
	test_mdl_free(&b, 2);
}

/* Memory types of the four PWT/PCD combinations on a CPU without PAT (and of the power-on PAT). */
static const uint8_t fixed_mt[4] = { PAT_MT_WB, PAT_MT_WT, PAT_MT_UCM, PAT_MT_UC };

/* The caching types, each with its PAT index and memory type with the PAT and without it. */
static const struct { MEMORY_CACHING_TYPE t; unsigned pat, no_pat; uint8_t mt, no_pat_mt; } cache_rows[] = {
	{ MmNonCached, 3, 3, PAT_MT_UC, PAT_MT_UC },
	{ MmCached, 0, 0, PAT_MT_WB, PAT_MT_WB },
	{ MmWriteCombined, 4, 2, PAT_MT_WC, PAT_MT_UCM },
	{ MmHardwareCoherentCached, 0, 0, PAT_MT_WB, PAT_MT_WB },
	{ MmNonCachedUnordered, 2, 2, PAT_MT_UCM, PAT_MT_UCM },
	{ MmUSWCCached, 4, 2, PAT_MT_WC, PAT_MT_UCM },
};

/* The PAT index of the live 4 KiB PTE of va (PWT, PCD, and the PAT bit at bit 7). */
static unsigned cache_pte_index(const void *va)
{
	uint64_t pte = 0;
	KEXPECT(pt_query(&kernel_pt, (vaddr_t)va, NULL, &pte, NULL), "mapped");
	return (unsigned)!!(pte & X86_PTE_PWT) | (unsigned)!!(pte & X86_PTE_PCD) << 1 | (unsigned)!!(pte & X86_PTE_PAT_4K) << 2;
}

/* The region's count of pages mapped write-back instead of memory type c. */
static uint64_t cache_overrides(enum pt_cache c)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	return s.overrides[c];
}

/* A page of the legacy VGA window (0xa0000), which no memory-map descriptor of usable RAM lists:
 * not in the direct map, mapped by the kernel nowhere, never read or written here. 0 when the
 * direct map holds it (a firmware listing it as RAM). */
static paddr_t cache_device_page(void)
{
	uint64_t extent;
	return arch_phys_direct_mapped(0xa0000, &extent) ? 0 : 0xa0000;
}

/*
 * Each MEMORY_CACHING_TYPE's PTE bits in the live tables and the memory type they select, over a
 * page the direct map does not hold (an MDL_IO_SPACE MDL of the legacy VGA window's first page): through
 * the PAT MSR with the PAT, through the fixed PWT/PCD types without (the README's table; never WB
 * for WC). Nothing is read or written through the mappings.
 */
KTEST(map_cache_types_pte_bits)
{
	paddr_t dev = cache_device_page();
	if (!dev)
		KTEST_SKIP("the direct map holds the legacy VGA window (listed as RAM): no device page to map");
	struct test_mdl t = { .mdl = { .Size = (CSHORT)sizeof(t), .MdlFlags = MDL_PAGES_LOCKED | MDL_IO_SPACE,
				       .ByteCount = 4096 } };
	t.pfn[0] = pa_to_pfn(dev);
	char *va = MmAllocateMappingAddress(4096, TAG);
	KASSERT_TEST(va);
	for (unsigned i = 0; i < ARRAY_SIZE(cache_rows); i++) {
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, cache_rows[i].t) == va);
		unsigned idx = cache_pte_index(va);
		if (cpu_feat.pat) {
			KEXPECT_EQ(idx, cache_rows[i].pat, "cache type");
			uint8_t mt = (uint8_t)(rdmsr(MSR_PAT) >> (8 * idx));
			KEXPECT_EQ(mt, cache_rows[i].mt, "memory type through the PAT MSR");
		} else {
			KEXPECT_EQ(idx, cache_rows[i].no_pat, "cache type without PAT (no PAT bit)");
			KEXPECT_EQ(fixed_mt[idx & 3], cache_rows[i].no_pat_mt, "memory type PWT/PCD select without PAT");
		}
		KEXPECT(cache_rows[i].t == MmCached || cache_rows[i].t == MmHardwareCoherentCached ||
			(cpu_feat.pat ? cache_rows[i].mt : cache_rows[i].no_pat_mt) != PAT_MT_WB, "an uncached type never becomes WB");
		MmUnmapReservedMapping(va, TAG, &t.mdl);
	}
	MmFreeMappingAddress(va, TAG);
}

/*
 * arch_phys_direct_mapped against the kernel's own walk (pt_query of the direct map's address), a
 * page every 1 MiB up to the highest usable frame and at most 4 GiB past it: the same answer, and
 * the block it gives is the leaf's size where the direct map holds the page; where it does not,
 * neither the block's first nor its last page is mapped.
 */
KTEST(map_direct_mapped_matches_the_tables)
{
	struct phys_stats ps;
	phys_get_stats(&ps);
	uint64_t end = pfn_to_pa(ps.highest_pfn) + (4ULL << 30), bad = 0, pages = 0;
	for (paddr_t pa = 0; pa < end && pa < DMAP_SIZE; pa += 1ULL << 20, pages++) {
		uint64_t extent = 0, size = 0;
		bool in = arch_phys_direct_mapped(pa, &extent);
		bool mapped = pt_query(&kernel_pt, DMAP_BASE + pa, NULL, NULL, &size);
		bool ok = in == mapped && extent >= PAGE_SIZE && (extent & (extent - 1)) == 0;
		if (ok && in)
			ok = extent == size;
		else if (ok) {
			paddr_t lo = ALIGN_DOWN(pa, extent);
			ok = !pt_query(&kernel_pt, DMAP_BASE + lo, NULL, NULL, NULL) &&
			     (lo + extent > DMAP_SIZE || !pt_query(&kernel_pt, DMAP_BASE + lo + extent - PAGE_SIZE, NULL, NULL, NULL));
		}
		if (!ok && bad++ < 4)
			KEXPECT(false, "0x%llx: direct-mapped %d (block 0x%llx), the tables say %d (leaf 0x%llx)",
				(unsigned long long)pa, in, (unsigned long long)extent, mapped, (unsigned long long)size);
	}
	KEXPECT_EQ(bad, 0, "pages whose answer differs from the tables");
	kprintf("# %llu pages compared\n", (unsigned long long)pages);
}

/*
 * A page of RAM, which the direct map holds write-back, mapped with each MEMORY_CACHING_TYPE: the
 * live PTE selects write-back (PAT index 0) whatever was asked, since one page of two memory types
 * is undefined (Intel SDM Vol. 3A 11.12.4; docs/contract.md, "Caching types"); each non-write-back
 * request counts the page under its type; a write through the mapping is seen through the direct
 * map. Beside it, in the same mapping, the legacy VGA window's page (the MDL marked MDL_IO_SPACE)
 * keeps the type asked for, and in xAPIC mode the local APIC's page, which the kernel maps UC at
 * LAPIC_VA, mapped MmNonCached is UC again, nothing counted.
 */
KTEST(map_ram_keeps_direct_map_type)
{
	paddr_t dev = cache_device_page();
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 1, 0, 0));
	uint64_t extent;
	KEXPECT(arch_phys_direct_mapped(pfn_to_pa(t.pfn[0]), &extent), "an allocated page is in the direct map");
	KEXPECT(extent >= PAGE_SIZE && (extent & (extent - 1)) == 0, "its block is a power of two: 0x%llx",
		(unsigned long long)extent);
	if (dev) {
		t.pfn[1] = pa_to_pfn(dev);
		t.mdl.ByteCount = 2 * 4096;
		t.mdl.MdlFlags |= MDL_IO_SPACE;
	}
	unsigned n = dev ? 2 : 1;
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	for (unsigned i = 0; i < ARRAY_SIZE(cache_rows); i++) {
		enum pt_cache c = (enum pt_cache)reserved_cache_type(cache_rows[i].t);
		uint64_t before = cache_overrides(c);
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, cache_rows[i].t) == va);
		KEXPECT(cache_pte_index(va) == 0, "type %d over RAM: write-back, the direct map's type", cache_rows[i].t);
		if (dev)
			KEXPECT(cache_pte_index(va + 4096) == (cpu_feat.pat ? cache_rows[i].pat : cache_rows[i].no_pat),
				"type %d over a device page: as asked", cache_rows[i].t);
		KEXPECT(cache_overrides(c) - before == (c == PT_CACHE_WB ? 0u : 1u), "type %d: the RAM page counted once",
			cache_rows[i].t);
		*(volatile uint64_t *)(va + 8) = 0xa11a5000ULL + i;
		KEXPECT_EQ(*(volatile uint64_t *)(dmap(t.pfn[0]) + 8), 0xa11a5000ULL + i, "seen through the direct map");
		MmUnmapReservedMapping(va, TAG, &t.mdl);
	}
	MmFreeMappingAddress(va, TAG);
	t.pfn[1] = 0;
	test_mdl_free(&t, n);
	if (!apic_ready() || apic_x2apic()) {
		kprintf("# no xAPIC register page: its case not run\n");
		return;
	}
	struct test_mdl a = { .mdl = { .Size = (CSHORT)sizeof(a), .MdlFlags = MDL_PAGES_LOCKED | MDL_IO_SPACE,
				       .ByteCount = 4096 } };
	a.pfn[0] = pa_to_pfn(apic_mmio_phys());
	KEXPECT(!arch_phys_direct_mapped(apic_mmio_phys(), &extent), "the local APIC's page is not in the direct map");
	uint64_t before = cache_overrides(PT_CACHE_UC);
	char *p = MmMapLockedPagesSpecifyCache(&a.mdl, KernelMode, MmNonCached, NULL, FALSE, NormalPagePriority);
	KASSERT_TEST(p);
	KEXPECT_EQ(cache_pte_index(p), 3, "the local APIC's page mapped UC");
	KEXPECT_EQ(cache_overrides(PT_CACHE_UC), before, "nothing counted");
	MmUnmapLockedPages(p, &a.mdl);
}

/* A page for map_uncached_then_acpi_read_keeps_direct_map below 4 GiB the direct map lacks and no
 * device descriptor lists: a reserved descriptor's first such page, else the legacy VGA window's
 * (unlisted on OVMF); 0 when neither. Before the seal, reading a "table" there added it write-back. */
static paddr_t acpi_alias_page(void)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	uint64_t extent;

	for (size_t i = 0; i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (d->type != EFI_RESERVED || d->phys_start >= (4ULL << 30) || d->num_pages > (4ULL << 30) >> PAGE_SHIFT)
			continue;
		for (uint64_t n = 0; n < d->num_pages && n < 64; n++) {
			paddr_t pa = ALIGN_DOWN(d->phys_start, PAGE_SIZE) + n * PAGE_SIZE;
			bool device = false;
			for (size_t j = 0; j < size / dsz; j++) {
				const struct efi_memory_descriptor *m = efi_desc(map, dsz, j);
				device |= (m->type == EFI_MMIO || m->type == EFI_MMIO_PORT) && m->phys_start <= pa &&
					  pa - m->phys_start < m->num_pages * PAGE_SIZE;
			}
			if (!device && !arch_phys_direct_mapped(pa, &extent))
				return pa;
		}
	}
	return cache_device_page();
}

/* Direct-mapped pages among the first 64 of each descriptor the direct map does not hold whole
 * (reserved, MMIO, unusable: where premapped tables and aliases could lie), below 4 GiB. */
static uint64_t acpi_dmap_census(void)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	uint64_t n = 0;

	for (size_t i = 0; i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (d->type != EFI_RESERVED && d->type != EFI_MMIO && d->type != EFI_MMIO_PORT && d->type != EFI_UNUSABLE)
			continue;
		for (uint64_t k = 0; k < d->num_pages && k < 64 && d->phys_start + k * PAGE_SIZE < (4ULL << 30); k++)
			n += pt_query(&kernel_pt, DMAP_BASE + d->phys_start + k * PAGE_SIZE, NULL, NULL, NULL);
	}
	return n;
}

/*
 * A page of firmware-reserved memory (or a hole) the direct map lacks, mapped MmNonCached through
 * MmMapLockedPagesSpecifyCache, then ACPI reads through sysinfo_acpi(): the MADT, the HPET, the PM
 * timer, the DMAR, and a table header on that very page. Before the direct map was sealed, the
 * last added the page to the direct map write-back: one frame, two memory types (Intel SDM Vol. 3A
 * 11.12.4). Checked with the live tables: the page stays out of the direct map, the uncached PTE
 * is unchanged, the reads of premapped tables work as before, the MADT's pages are still there, and
 * no reserved, MMIO or unusable page entered the direct map.
 */
KTEST(map_uncached_then_acpi_read_keeps_direct_map)
{
	const struct sysinfo_dmap_seal *seal = sysinfo_dmap_seal();
	const struct acpi_access *acc = sysinfo_acpi();
	uint64_t rsdp = kernel_bootinfo.rsdp_phys, extent, madt_pa = 0, pte0 = 0, pte1 = 0;
	uint32_t madt_len = 0;
	static struct acpi_madt_info madt;

	KEXPECT(seal->sealed, "the direct map was sealed before mm_init");
	paddr_t page = acpi_alias_page();
	if (!page)
		KTEST_SKIP("no reserved or unlisted page below 4 GiB outside the direct map");
	kprintf("# page 0x%llx; premap: %u tables, %llu pages, %u refused\n", (unsigned long long)page, seal->tables,
		(unsigned long long)seal->pages, seal->skipped);
	int madt_st = acpi_read_madt(acc, rsdp, &madt);
	size_t madt_entries = madt.entries;
	int found = acpi_find_table(acc, rsdp, "APIC", &madt_pa, &madt_len);
	uint64_t census = acpi_dmap_census(), refused = seal->refused, pages = seal->pages;

	struct test_mdl t = { .mdl = { .Size = (CSHORT)sizeof(t), .MdlFlags = MDL_PAGES_LOCKED | MDL_IO_SPACE,
				       .ByteCount = 4096 } };
	t.pfn[0] = pa_to_pfn(page);
	char *p = MmMapLockedPagesSpecifyCache(&t.mdl, KernelMode, MmNonCached, NULL, FALSE, NormalPagePriority);
	KASSERT_TEST(p);
	KEXPECT_EQ(cache_pte_index(p), 3, "the page mapped UC");
	pt_query(&kernel_pt, (vaddr_t)p, NULL, &pte0, NULL);

	struct acpi_hpet_info hpet;
	struct acpi_pm_timer pm;
	struct acpi_dmar_info dmar;
	int m2 = acpi_read_madt(acc, rsdp, &madt);
	(void)acpi_read_hpet(acc, rsdp, &hpet);
	(void)acpi_read_pm_timer(acc, rsdp, &pm);
	(void)acpi_read_dmar(acc, rsdp, &dmar);
	const void *on_page = acc->map(acc->ctx, page + 0x40, 36);   /* a table header on the uncached page */

	KEXPECT(on_page == NULL, "a table read on a page the direct map lacks is refused after the seal");
	KEXPECT(!pt_query(&kernel_pt, DMAP_BASE + page, NULL, NULL, NULL), "the page did not enter the direct map");
	KEXPECT(!arch_phys_direct_mapped(page, &extent), "arch_phys_direct_mapped agrees");
	KEXPECT(pt_query(&kernel_pt, (vaddr_t)p, NULL, &pte1, NULL) && pte1 == pte0, "the UC mapping's PTE is unchanged");
	KEXPECT_EQ(m2, madt_st, "the MADT reads as before the uncached map");
	KEXPECT_EQ(madt.entries, madt_entries, "the same processor entries");
	if (found == ACPI_OK)
		for (uint64_t q = ALIGN_DOWN(madt_pa, PAGE_SIZE); q < madt_pa + madt_len; q += PAGE_SIZE)
			KEXPECT(pt_query(&kernel_pt, DMAP_BASE + q, NULL, NULL, NULL), "the MADT's page 0x%llx is premapped",
				(unsigned long long)q);
	KEXPECT_EQ(acpi_dmap_census(), census, "no reserved, MMIO or unusable page entered the direct map");
	KEXPECT_EQ(seal->pages, pages, "nothing added to the direct map after the seal");
	KEXPECT(seal->refused > refused, "the refused read counted (%llu before, %llu after)", (unsigned long long)refused,
		(unsigned long long)seal->refused);
	MmUnmapLockedPages(p, &t.mdl);
}

KTEST(map_unmap_with_interrupts_disabled)
{
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 2, 0, 0));
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	uint64_t f = arch_irq_save();
	char *p = MmMapLockedPagesWithReservedMapping(va, TAG, &t.mdl, MmCached);
	if (p)
		p[1] = 'i';
	MmUnmapReservedMapping(va, TAG, &t.mdl);
	bool still_off = !(read_rflags() & RFLAGS_IF);
	arch_irq_restore(f);
	KEXPECT(p == va);
	KEXPECT(still_off, "interrupts stayed disabled");
	KEXPECT_EQ(dmap(t.pfn[0])[1], 'i');
	MmFreeMappingAddress(va, TAG);
	test_mdl_free(&t, 2);
}

KTEST(pattern_looped_ring_buffer)
{
	for (unsigned n = 3; n <= 4; n++) {   /* a non-power of two and the 4 pages */
		struct test_mdl first, second;
		KASSERT_TEST(test_mdl_alloc(&first, n, 0, 0));
		test_mdl_copy(&second, &first);
		char *va = MmAllocateMappingAddressEx(2 * n * 4096, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
		KASSERT_TEST(va);
		KEXPECT((uint64_t)va % (2 * n * 4096) == 0, "divisible by the size");
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va, TAG, &first.mdl, MmCached) == va);
		KASSERT_TEST(MmMapLockedPagesWithReservedMapping(va + n * 4096, TAG, &second.mdl, MmCached) == va + n * 4096);
		/* A write running past the end of the first copy lands at the start of the buffer. */
		const char msg[] = "wrap-around!";
		char *w = va + n * 4096 - 5;
		for (unsigned i = 0; i < sizeof(msg); i++)
			w[i] = msg[i];
		KEXPECT(va[0] == msg[5] && va[1] == msg[6] && va[6] == msg[11], "tail landed at the start");
		KEXPECT_EQ(dmap(first.pfn[0])[0], msg[5]);
		MmUnmapReservedMapping(va + n * 4096, TAG, &second.mdl);
		MmUnmapReservedMapping(va, TAG, &first.mdl);
		MmFreeMappingAddress(va, TAG);
		test_mdl_free(&first, n);
	}
}

/* Takes every free physical page (linked through their first word); returns the list. */
static paddr_t hold_all_ram(uint64_t *held)
{
	paddr_t head = 0, pa;
	*held = 0;
	for (uint64_t chunk = 1ULL << 24; chunk; chunk >>= 1)
		while ((pa = phys_alloc(chunk, 0, UINT64_MAX))) {
			uint64_t *w = arch_phys_to_virt(pa);
			w[0] = head;
			w[1] = chunk;
			head = pa;
			*held += chunk;
		}
	return head;
}

static void release_ram(paddr_t head)
{
	while (head) {
		uint64_t *w = arch_phys_to_virt(head);
		paddr_t next = w[0];
		phys_free(head, w[1]);
		head = next;
	}
}

/*
 * Page tables on demand: a reservation whose spans have no level-1 table yet makes them, and is
 * refused with NULL, changing nothing, when the machine has no page for them. With every free
 * page held, reservations of halving sizes from half the region are tried until one is refused
 * (a reservation that succeeds met tables made before, and is freed); after the refusal the
 * region's counts and tables are as before. With the RAM back, the same size is granted.
 */
KTEST(region_a_reserve_without_table_memory_is_null)
{
	struct syspte_stats s0, s1;
	syspte_get_stats(reserved_region(), &s0);
	if (s0.table_pages == s0.npages / PT_ENTRIES)
		KTEST_SKIP("every span of the region has its table already");
	uint64_t held;
	paddr_t ram = hold_all_ram(&held);
	SIZE_T refused = 0;
	for (SIZE_T bytes = MIN((s0.npages / 2) << PAGE_SHIFT, (1ULL << 31)); bytes >= 2 * SIZE_2M && !refused; bytes /= 2) {
		void *va = MmAllocateMappingAddress(bytes, TAG);
		if (va)
			MmFreeMappingAddress(va, TAG);
		else
			refused = bytes;
	}
	syspte_get_stats(reserved_region(), &s1);
	release_ram(ram);
	KEXPECT(refused, "a reservation needing new tables was refused with %llu pages held", (unsigned long long)held);
	KEXPECT(s1.live == s0.live && s1.free_pages == s0.free_pages && s1.pages_reserved == s0.pages_reserved,
		"the refusal reserved nothing");
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	if (refused) {
		void *va = MmAllocateMappingAddress(refused, TAG);
		KEXPECT(va != NULL, "granted once the RAM is back");
		if (va)
			MmFreeMappingAddress(va, TAG);
	}
}

/*
 * Fills the whole region, whatever its size (syspte=2M .. 512G): reservations of nearly the
 * largest size the API allows (4 GiB - 1 MiB), then of 64 MiB, 1 MiB, 64 KiB and 4 KiB, each
 * until NULL. The first round takes at most 129 reservations of a 512 GiB region, and each later
 * round less than the size before it over its own, so the array never depends on the region.
 */
KTEST(region_exhaustion_and_refill)
{
	uint64_t before[BUDDY_ORDERS], after[BUDDY_ORDERS];
	struct syspte_stats s;
	struct phys_stats ps;
	syspte_census(reserved_region(), before);
	syspte_get_stats(reserved_region(), &s);
	phys_get_stats(&ps);
	/* Filling the region makes every span's table, kept for good: the fill is for a machine whose
	 * free RAM holds them twice over (a 512 GiB region needs 1 GiB of tables). */
	uint64_t missing = s.npages / PT_ENTRIES - s.table_pages;
	if (missing > ps.free_pages / 2)
		KTEST_SKIP("the region's missing page tables (%llu MiB) exceed half the free RAM (%llu MiB)",
			   (unsigned long long)(missing >> 8), (unsigned long long)(ps.free_pages >> 8));
	static void *v[1024];
	static const SIZE_T sizes[] = { (1ULL << 32) - (1ULL << 20), 1 << 26, 1 << 20, 1 << 16, 1 << 12 };
	unsigned n = 0;
	uint64_t used = 0, g = syspte_guard_pages(reserved_region());
	for (unsigned k = 0; k < ARRAY_SIZE(sizes); k++) {
		void *p;
		while (n < ARRAY_SIZE(v) && (p = MmAllocateMappingAddress(sizes[k], TAG))) {
			v[n++] = p;
			used += sizes[k] / 4096 + g;
		}
	}
	KEXPECT(n < ARRAY_SIZE(v), "region exhausted before the array (region %llu pages)", (unsigned long long)s.npages);
	void *extra = MmAllocateMappingAddress(4096, TAG);
	KEXPECT(extra == NULL, "exhausted: clear NULL");
	if (extra)   /* never leak it into the tests that follow */
		MmFreeMappingAddress(extra, TAG);
	struct syspte_stats full;
	syspte_get_stats(reserved_region(), &full);
	KEXPECT_EQ(full.free_pages + used, s.free_pages, "every page accounted for");
	if (!g)   /* 1-page reservations fill every page; with guard pages single free pages may remain */
		KEXPECT_EQ(full.free_pages, 0, "nothing left");
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
	for (unsigned i = 0; i < n; i++)
		MmFreeMappingAddress(v[i], TAG);
	syspte_census(reserved_region(), after);
	bool same = true;
	for (int o = 0; o < BUDDY_ORDERS; o++)
		same &= before[o] == after[o];
	KEXPECT(same, "free census identical after refill");
	void *p = MmAllocateMappingAddress(4096, TAG);
	KEXPECT(p != NULL, "usable again");
	if (p)
		MmFreeMappingAddress(p, TAG);
}

KTEST(syspte_accounting_per_tag)
{
	void *a = MmAllocateMappingAddress(3 * 4096, TAG), *b = MmAllocateMappingAddress(4096, TAG), *c = MmAllocateMappingAddress(2 * 4096, TAG2);
	KASSERT_TEST(a && b && c);
	struct test_mdl t;
	KASSERT_TEST(test_mdl_alloc(&t, 1, 0, 0));
	MmMapLockedPagesWithReservedMapping(a, TAG, &t.mdl, MmCached);
	struct syspte_tag_total tt[8];
	size_t n = syspte_tag_totals(reserved_region(), tt, 8);
	KEXPECT_EQ(n, 2);
	const struct syspte_tag_total *x = tt[0].tag == TAG ? &tt[0] : &tt[1], *y = tt[0].tag == TAG ? &tt[1] : &tt[0];
	KEXPECT(x->tag == TAG && x->count == 2 && x->pages_reserved == 4 && x->pages_mapped == 1);
	KEXPECT(y->tag == TAG2 && y->count == 1 && y->pages_reserved == 2 && y->pages_mapped == 0);
	syspte_dump(reserved_region());
	MmUnmapReservedMapping(a, TAG, &t.mdl);
	MmFreeMappingAddress(a, TAG);
	MmFreeMappingAddress(b, TAG);
	MmFreeMappingAddress(c, TAG2);
	test_mdl_free(&t, 1);
}

KTEST(zz_no_reservation_leaked)
{
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	KEXPECT_EQ(s.live, 0, "live reservations at the end of the suite");
	KEXPECT_EQ(s.pages_mapped, 0);
	KEXPECT_EQ(s.free_pages, s.npages);
	KEXPECT_EQ(syspte_check(reserved_region()), 0);
}

KTEST(verifier_guard_page_after_each_reservation)
{
	char *va = MmAllocateMappingAddress(2 * 4096, TAG);
	KASSERT_TEST(va);
	struct syspte_info info;
	bool guard_free = !syspte_lookup(reserved_region(), (vaddr_t)va + 2 * 4096, &info);
	KEXPECT(guard_free, "the page after a reservation belongs to no reservation");
	if (syspte_guard_pages(reserved_region())) {
		/* In verifier mode the page after it is held back: another reservation can't start there. */
		void *next[64];
		unsigned n = 0;
		bool hit = false;
		while (n < 64 && (next[n] = MmAllocateMappingAddress(4096, TAG)))
			hit |= next[n++] == va + 2 * 4096;
		KEXPECT(!hit, "no reservation placed on the guard page");
		for (unsigned i = 0; i < n; i++)
			MmFreeMappingAddress(next[i], TAG);
		intercept();
		KEXPECT_EQ(arch_probe_write8(va + 2 * 4096, 1), (uint64_t)-1, "an overrun faults");
		KEXPECT_EQ(bugcheck_last.code, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA);
		release_intercept();
	} else {
		kprintf("# verifier off: no guard pages\n");
		KEXPECT_EQ(syspte_guard_pages(reserved_region()), 0);
	}
	MmFreeMappingAddress(va, TAG);
}
