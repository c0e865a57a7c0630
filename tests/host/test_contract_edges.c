/*
 * Contract edges a review found mm/ missing (each test failed on the code before its fix): each
 * states what docs/contract.md, docs/design.md or the module's header says.
 *  F1 pt_pte_slot of a non-canonical address is NULL (it gave a canonical page's slot).
 *  F2 an unmap with a pool MDL keeps the MDL's pool address (the contract was silent on it).
 *  F3 pt_map refuses a frame beyond the CPU's width, and pt_check reports one written by hand.
 *  F4 an intercepted 0x1A 0x5A01 leaves the allocation that found the write unmade.
 *  F5 pt_map refuses a range whose sizes do not allow the leaves it needs.
 *  F6 IoBuildPartialMdl releases a mapping its target still holds.
 *  F7 LARGE_INTEGER has the WDK's direct LowPart and HighPart members (driver code failed to compile).
 */
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "phys.h"
#include "pt.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "verifier.h"
#include "vmlayout.h"
#include "test_rng.h"

#define TAG POOL_TAG4('R', 'v', 'F', 'd')
#define TAG_BUF POOL_TAG4('R', 'v', 'F', 'b')

static uint64_t rng = 0xA4093822299F31D0ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/*
 * F1. pt.h: pt_pte_slot gives "the level-1 PTE slot for va, or NULL"; include/arch_pte.h: "Only
 * canonical addresses translate". A non-canonical address has no slot, but pt_pte_slot (pt.c,
 * pt_walk with no canonical check, unlike pt_query) returns the slot of the canonical address
 * whose table indices it shares: a write through it changes that other page's PTE.
 */
static void test_pte_slot_noncanonical(void)
{
	struct pt *pt = host_machine_pt();
	unsigned wrong = 0, cases = 0;
	for (unsigned it = 0; it < 200; it++, cases++) {
		vaddr_t va = SYSPTE_BASE + draw(2048) * PAGE_SIZE;   /* the region's tables exist for its first 8 MiB */
		uint64_t top = draw(0xFFFF);                          /* bits 48..63, never the sign pattern 0xFFFF */
		vaddr_t alias = (va & 0x0000ffffffffffffULL) | top << 48;
		volatile uint64_t *s = pt_pte_slot(pt, alias);
		if (s != NULL && wrong++ < 3)
			printf("# pt_pte_slot(0x%llx) = %p, the slot of 0x%llx (%p)\n", (unsigned long long)alias, (void *)s,
			       (unsigned long long)va, (void *)pt_pte_slot(pt, va));
	}
	ok(wrong == 0, "F1: pt_pte_slot of %u non-canonical addresses is NULL (%u gave a canonical page's slot)", cases, wrong);
}

/*
 * F2. docs/contract.md section 3, MmUnmapReservedMapping, "On success": the MDL passed loses
 * MDL_MAPPED_TO_SYSTEM_VA and MDL_PARTIAL_HAS_BEEN_MAPPED, and its MappedSystemVa becomes NULL,
 * for any MDL of the span, except an MDL with MDL_SOURCE_IS_NONPAGED_POOL whose MappedSystemVa
 * lies outside the span: that is its pool address (MmBuildMdlForNonPagedPool's), which it keeps.
 * The review found the contract silent on the exception the code made on purpose; the contract
 * now states it. Here: an MDL built over pool memory, used as the unmap's MDL of the same page
 * count, keeps exactly its pool address while the span is unmapped.
 */
static void test_unmap_pool_mdl_keeps_address(void)
{
	unsigned wrong = 0, cases = 0;
	for (unsigned it = 0; it < 40; it++, cases++) {
		uint64_t n = 1 + draw(6);
		char *va = MmAllocateMappingAddress(n * PAGE_SIZE, TAG);
		uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, (n + 1) * PAGE_SIZE, TAG_BUF);
		uint8_t *start = (uint8_t *)ALIGN_UP((uintptr_t)buf, PAGE_SIZE);
		PMDL pm = IoAllocateMdl(start, (ULONG)(n * PAGE_SIZE), FALSE, FALSE, NULL);
		MmBuildMdlForNonPagedPool(pm);   /* SOURCE_IS_NONPAGED_POOL, MappedSystemVa the pool address */
		struct { MDL m; PFN_NUMBER pfn[8]; } h;
		MmInitializeMdl(&h.m, NULL, n * PAGE_SIZE);
		h.m.MdlFlags = MDL_PAGES_LOCKED;
		memcpy(h.pfn, MmGetMdlPfnArray(pm), n * sizeof(PFN_NUMBER));
		bool mapped = MmMapLockedPagesWithReservedMapping(va, TAG, &h.m, MmCached) == va;
		MmUnmapReservedMapping(va, TAG, pm);   /* any MDL of the span */
		struct syspte_info info;
		bool unmapped = syspte_lookup(reserved_region(), (vaddr_t)va, &info) && info.mapped == 0;
		bool flags_gone = !(pm->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED));
		if (!(mapped && unmapped && flags_gone && pm->MappedSystemVa == start) && wrong++ < 3)
			printf("# %llu pages: mapped %d, unmapped %d, flags gone %d, MappedSystemVa %p after the unmap "
			       "(want its pool address %p)\n", (unsigned long long)n, mapped, unmapped, flags_gone,
			       pm->MappedSystemVa, (void *)start);
		IoFreeMdl(pm);
		ExFreePool(buf);
		MmFreeMappingAddress(va, TAG);
	}
	ok(wrong == 0, "F2: %u unmaps with a pool MDL of the span: the span unmapped, the MDL's mapped flags gone, its "
	   "pool address kept as MappedSystemVa (%u otherwise)", cases, wrong);
}

/*
 * F3. docs/design.md, "Page tables": pt_check "reports each entry's format faults (arch_pte_faults:
 * user bits, reserved bits, ...)"; docs/contract.md section 6: a frame at or beyond the physical
 * address width "cannot be written into a PTE: its address bits above MAXPHYADDR are reserved, and
 * a set one makes every access through the entry fault". pt_map (pt.c, its range check) accepts any
 * physical address up to ARCH_PTE_MAX_PA (2^52 - 1) whatever the CPU's width, and pt_check does not
 * report the leaf: a PTE with reserved bits is written and passes the checker.
 */
static void test_pt_frame_beyond_width(void)
{
	struct pt *pt = host_machine_pt();
	unsigned wrong = 0, cases = 0;
	const vaddr_t va = 0xffffa00000000000ULL;
	for (unsigned bits = 36; bits <= 51; bits++, cases++) {
		fake_arch_set_phys_bits(bits);
		paddr_t pa = (1ULL << bits) + draw(1ULL << 20) * PAGE_SIZE;
		int st = pt_map(pt, va, pa, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
		uint64_t faults = pt_check(pt);
		/* the same frame written by hand into a leaf pt_map made (a stray store): pt_check reports it */
		paddr_t below = pa & ((1ULL << bits) - 1);
		int st2 = pt_map(pt, va, below, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
		volatile uint64_t *slot = st2 == PT_OK ? pt_pte_slot(pt, va) : NULL;
		uint64_t clean = pt_check(pt), stray = 0;
		if (slot) {
			pte_t e = arch_pte_read(slot);
			arch_pte_write(slot, e ^ arch_pte_frame(e, 1) ^ pa);
			stray = pt_check(pt);
			arch_pte_write(slot, e);
		}
		if (!(st == PT_EINVAL && faults == 0 && slot && clean == 0 && stray == 1) && wrong++ < 3)
			printf("# width %u: pt_map of frame 0x%llx gave %d (pt_check %llu); below the width %d, pt_check %llu, "
			       "with the frame written in %llu\n", bits, (unsigned long long)pa, st, (unsigned long long)faults,
			       st2, (unsigned long long)clean, (unsigned long long)stray);
		if (st == PT_OK)
			pt_unmap(pt, va, PAGE_SIZE);
		if (st2 == PT_OK)
			pt_unmap(pt, va, PAGE_SIZE);
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(wrong == 0, "F3: a 4 KiB frame at or beyond the CPU's width (%u widths): pt_map refuses it, and pt_check reports "
	   "it once written into a leaf by hand (%u otherwise)", cases, wrong);
}

/*
 * F4. docs/contract.md section 8, Interception: "Every detector validates before it changes
 * anything, so the call that raised the bug check returns with all state as it was before the
 * misuse." Verifier mode's free-page check (mm/phys.c phys_alloc_owned, then
 * mm/verifier.c verifier_check_poison) runs after the frames are taken: the intercepted 0x1A/0x5A01
 * returns with the allocation made (the pages handed out, the free count lower).
 */
static void test_verifier_detector_changes_state(void)
{
	unsigned wrong = 0, cases = 0;
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned it = 0; it < 20; it++, cases++) {
		uint64_t n = 1 + draw(4);
		paddr_t pa = phys_alloc(n, 0, UINT64_MAX);
		phys_free(pa, n);
		((volatile uint64_t *)arch_phys_to_virt(pa + draw(n) * PAGE_SIZE))[1 + draw(511)] = 0x1234;
		struct phys_stats before, after;
		phys_get_stats(&before);
		uint64_t count = bugcheck_last.count;
		paddr_t got = phys_alloc(n, pa, pa + n * PAGE_SIZE);
		phys_get_stats(&after);
		bool fired = bugcheck_last.count == count + 1 && bugcheck_last.p[0] == VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED;
		if (!(fired && got == 0 && after.free_pages == before.free_pages) && wrong++ < 3)
			printf("# run of %llu: 0x5A01 %s, the call returned 0x%llx, free pages %llu -> %llu\n", (unsigned long long)n,
			       fired ? "raised" : "not raised", (unsigned long long)got, (unsigned long long)before.free_pages,
			       (unsigned long long)after.free_pages);
		if (got)
			phys_free(got, n);   /* re-poisons */
		else   /* the page still holds the write: restore the pattern */
			verifier_poison(pa, n);
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "F4: %u intercepted 0x5A01: the allocation that found the write is not made (%u made it)", cases, wrong);
}

/*
 * F5. pt.h: "Page sizes allowed in pt_map, by level: bit l - 1 allows leaves of level l"; pt_map's
 * sizes argument. pt_pick_level (pt.c) returns level 1 whatever sizes says, so a map whose sizes
 * allow only 2 MiB leaves (or nothing) writes 4 KiB leaves where no 2 MiB leaf fits, instead of
 * refusing. Every caller today passes PT_SIZE_4K, so nothing misbehaves yet.
 */
static void test_pt_sizes_respected(void)
{
	struct pt *pt = host_machine_pt();
	unsigned wrong = 0, cases = 0;
	const unsigned masks[3] = { 0, PT_SIZE_2M, PT_SIZE_2M | PT_SIZE_1G };
	for (unsigned it = 0; it < 30; it++, cases++) {
		vaddr_t va = 0xffffa00000000000ULL + (1 + draw(500)) * PAGE_SIZE;   /* never 2 MiB aligned */
		uint64_t n = 1 + draw(8);
		int st = pt_map(pt, va, 0x40000000ULL + draw(1000) * PAGE_SIZE, n * PAGE_SIZE, PT_PROT_W, masks[it % 3]);
		uint64_t sz = 0;
		bool small = pt_query(pt, va, NULL, NULL, &sz) && sz == PAGE_SIZE;
		if (!(st == PT_EINVAL && !small) && wrong++ < 3)
			printf("# sizes 0x%x, %llu pages at 0x%llx: %d, a 4 KiB leaf %s\n", masks[it % 3], (unsigned long long)n,
			       (unsigned long long)va, st, small ? "written" : "not written");
		if (st == PT_OK)
			pt_unmap(pt, va, n * PAGE_SIZE);
	}
	ok(wrong == 0, "F5: %u maps whose sizes do not allow 4 KiB leaves, over ranges no larger leaf fits: refused (%u "
	   "wrote 4 KiB leaves)", cases, wrong);
}

/*
 * F6. IoBuildPartialMdl into a Target that holds its own mapping (a partial MDL mapped by
 * MmGetSystemAddressForMdlSafe, its 'MdlM' reservation) unmaps that mapping first, as Windows'
 * MmPrepareMdlForReuse does and as IoFreeMdl does here: the reservation is not lost. The review
 * found it forgotten (the target's MappedSystemVa overwritten, the reservation live for good).
 * Generated: sources of 2..9 pages, a first partial at any offset and length, mapped, then the
 * target rebuilt over another part: the region's live reservations and pages back where they were.
 */
static void test_partial_target_mapping_released(void)
{
	unsigned wrong = 0, cases = 0;
	for (unsigned it = 0; it < 60; it++, cases++) {
		uint64_t n = 2 + draw(8);
		uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, (n + 1) * PAGE_SIZE, TAG_BUF);
		uint8_t *start = (uint8_t *)ALIGN_UP((uintptr_t)buf, PAGE_SIZE) + draw(PAGE_SIZE);
		ULONG len = (ULONG)((n - 1) * PAGE_SIZE);
		PMDL src = IoAllocateMdl(start, len, FALSE, FALSE, NULL);
		MmBuildMdlForNonPagedPool(src);
		PMDL dst = IoAllocateMdl(start, len, FALSE, FALSE, NULL);
		struct syspte_stats s0, s1, s2;
		syspte_get_stats(reserved_region(), &s0);
		ULONG off1 = (ULONG)draw(len - 1), len1 = 1 + (ULONG)draw(len - off1);
		IoBuildPartialMdl(src, dst, start + off1, len1);
		/* the partial's own mapping: its source is pool, so map it as a driver would, through a copy
		 * of the flags without the pool bit (MmGetSystemAddressForMdlSafe returns the pool address) */
		dst->MdlFlags &= (CSHORT)~(MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARENT_MAPPED_SYSTEM_VA);
		dst->MdlFlags |= MDL_PAGES_LOCKED;
		dst->MappedSystemVa = NULL;
		PVOID sys = MmGetSystemAddressForMdlSafe(dst, NormalPagePriority);
		syspte_get_stats(reserved_region(), &s1);
		ULONG off2 = (ULONG)draw(len - 1), len2 = 1 + (ULONG)draw(len - off2);
		IoBuildPartialMdl(src, dst, start + off2, len2);
		syspte_get_stats(reserved_region(), &s2);
		bool good = sys && s1.live == s0.live + 1 && s2.live == s0.live && s2.pages_reserved == s0.pages_reserved &&
			    (dst->MdlFlags & MDL_PARTIAL) && dst->ByteCount == len2;
		if (!good && wrong++ < 3)
			printf("# %llu pages, partial at +%u (%u bytes) mapped at %p, rebuilt at +%u: live %llu -> %llu -> %llu\n",
			       (unsigned long long)n, off1, len1, sys, off2, (unsigned long long)s0.live,
			       (unsigned long long)s1.live, (unsigned long long)s2.live);
		IoFreeMdl(dst);
		IoFreeMdl(src);
		ExFreePool(buf);
	}
	ok(wrong == 0, "F6: %u partial MDLs mapped for themselves, then rebuilt by IoBuildPartialMdl: the old mapping "
	   "released first, no reservation lost (%u otherwise)", cases, wrong);
}

/*
 * F7. include/wdm.h: "Names, types and layouts follow the WDK's wdm.h so driver code ports
 * unchanged"; docs/contract.md section 2: PHYSICAL_ADDRESS is a LARGE_INTEGER. The WDK's
 * LARGE_INTEGER has the halves twice: as direct members (an anonymous struct, DUMMYSTRUCTNAME) and
 * through u. wdm.h had only u, so a driver writing a bound as pa.LowPart / pa.HighPart did not
 * compile. Here: the halves alias QuadPart's, both ways, and bounds written through them are the
 * bounds MmAllocatePagesForMdl obeys.
 */
static void test_large_integer_halves(void)
{
	unsigned wrong = 0, cases = 0;
	STATIC_ASSERT(offsetof(LARGE_INTEGER, LowPart) == 0 && offsetof(LARGE_INTEGER, HighPart) == 4 &&
		      offsetof(LARGE_INTEGER, u.LowPart) == 0 && offsetof(LARGE_INTEGER, u.HighPart) == 4 &&
		      sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER's layout is the WDK's");
	for (unsigned it = 0; it < 40; it++, cases++) {
		/* a window of 1 MiB .. 1 MiB + 256 KiB - 1 (RAM starts at 1 MiB), written as halves */
		PHYSICAL_ADDRESS lo, hi, skip;
		lo.LowPart = 1u << 20;
		lo.HighPart = 0;
		hi.LowPart = (1u << 20) + (256u << 10) - 1;
		hi.HighPart = 0;
		skip.QuadPart = 0;
		uint64_t q = test_rng_next(&rng);
		LARGE_INTEGER x;
		x.QuadPart = (int64_t)q;
		bool alias = x.LowPart == (ULONG)q && x.HighPart == (LONG)(q >> 32) && x.u.LowPart == x.LowPart &&
			     x.u.HighPart == x.HighPart;
		x.HighPart = -1;
		alias &= (uint64_t)x.QuadPart == (q | 0xFFFFFFFF00000000ULL);
		PMDL m = MmAllocatePagesForMdl(lo, hi, skip, (1 + draw(16)) * PAGE_SIZE);
		bool inside = m != NULL;
		for (ULONG i = 0; m && i < m->ByteCount / PAGE_SIZE; i++) {
			uint64_t pa = MmGetMdlPfnArray(m)[i] << PAGE_SHIFT;
			inside &= pa >= (1u << 20) && pa + PAGE_SIZE <= (1u << 20) + (256u << 10);
		}
		if (!(alias && inside) && wrong++ < 3)
			printf("# 0x%llx: halves alias %d, pages inside the bounds written as halves %d\n", (unsigned long long)q,
			       alias, inside);
		if (m) {
			MmFreePagesFromMdl(m);
			ExFreePool(m);
		}
	}
	ok(wrong == 0, "F7: %u LARGE_INTEGERs: LowPart and HighPart direct members alias QuadPart's halves as u's do, "
	   "and bounds written through them are obeyed (%u otherwise)", cases, wrong);
}

int main(void)
{
	mm_verifier_set(true);
	if (host_machine_create(64ULL << 20, 8ULL << 20)) {
		printf("Bail out! machine\n");
		return 1;
	}
	char *keep = MmAllocateMappingAddress(2048 * PAGE_SIZE - PAGE_SIZE, TAG);   /* the region's tables made */
	MmFreeMappingAddress(keep, TAG);
	test_pte_slot_noncanonical();
	test_unmap_pool_mdl_keeps_address();
	test_pt_frame_beyond_width();
	test_verifier_detector_changes_state();
	test_pt_sizes_respected();
	test_partial_target_mapping_released();
	test_large_integer_halves();
	return tap_done();
}
