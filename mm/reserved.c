/*
 * The WDK layer of reserved mappings: argument rules of docs/contract.md, MDL bookkeeping, and misuse
 * turned into bug check 0xDA (SYSTEM_PTE_MISUSE). The work itself is mm/syspte.c's. MDLs are
 * checked by mm/mdl.c's validator (mdl_validate, rules in mm/mdl.h) before any field is trusted.
 */
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "bugcheck.h"

#define RESERVE_MAX_BYTES (1ULL << 32)   /* [ours] >= 4 GiB fails: an MDL never spans that much */

/*
 * The memory type each MEMORY_CACHING_TYPE asks for. What a page gets on a CPU that cannot express
 * it is arch_pte_cache_effective() of it (README table).
 */
static const unsigned reserved_cache_types[MmMaximumCacheType] = {
	[MmNonCached] = PT_CACHE_UC, [MmCached] = PT_CACHE_WB, [MmWriteCombined] = PT_CACHE_WC,
	[MmHardwareCoherentCached] = PT_CACHE_WB, [MmNonCachedUnordered] = PT_CACHE_UCMINUS,
	[MmUSWCCached] = PT_CACHE_WC,
};

int reserved_cache_type(MEMORY_CACHING_TYPE t)
{
	return ((unsigned)t < MmMaximumCacheType) ? (int)reserved_cache_types[t] : -1;
}

static void reserved_bugcheck(const struct syspte_misuse *m)
{
	KeBugCheckEx(BUGCHECK_SYSTEM_PTE_MISUSE, m->subcode, m->p2, m->p3, m->p4);
}

PVOID MmAllocateMappingAddressEx(SIZE_T NumberOfBytes, ULONG PoolTag, ULONG Flags)
{
	if (NumberOfBytes == 0 || PoolTag == 0 || (Flags & ~(ULONG)MM_MAPPING_ADDRESS_DIVISIBLE) ||
	    NumberOfBytes >= RESERVE_MAX_BYTES)
		return NULL;
	uint64_t pages = (NumberOfBytes + PAGE_SIZE - 1) >> WDK_PAGE_SHIFT;
	return (PVOID)syspte_reserve(pages, PoolTag, (Flags & MM_MAPPING_ADDRESS_DIVISIBLE) ? SYSPTE_FLAG_DIVISIBLE : 0);
}

PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag)
{
	return MmAllocateMappingAddressEx(NumberOfBytes, PoolTag, 0);
}

VOID MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag)
{
	struct syspte_misuse m;
	vaddr_t va = (vaddr_t)BaseAddress & ~PAGE_MASK;
	if (syspte_release(va, PoolTag, &m) == SYSPTE_MISUSE) {
		if (m.subcode != 0x103)
			m.p2 = (vaddr_t)BaseAddress;
		reserved_bugcheck(&m);
	}
}

PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag, PMDL Mdl,
					  MEMORY_CACHING_TYPE CacheType)
{
	struct syspte_misuse m;
	vaddr_t va = (vaddr_t)MappingAddress & ~PAGE_MASK;
	struct syspte_info info;
	/* Bug checks first (no reservation, wrong owner), then the NULL cases, then overlap. */
	if (!syspte_lookup(va, &info)) {
		m = (struct syspte_misuse){ 0x105, (vaddr_t)MappingAddress, PoolTag, 0 };
		reserved_bugcheck(&m);
		return NULL;
	}
	if (info.tag != PoolTag) {
		m = (struct syspte_misuse){ 0x104, (vaddr_t)MappingAddress, PoolTag, info.tag };
		reserved_bugcheck(&m);
		return NULL;
	}
	int cache = reserved_cache_type(CacheType);
	if (!Mdl || cache < 0 || !mdl_mappable(Mdl))
		return NULL;
	uint64_t n = mdl_span_pages(Mdl);
	int st = syspte_map(va, PoolTag, MmGetMdlPfnArray(Mdl), n, (unsigned)cache, &m);
	if (st == SYSPTE_MISUSE) {
		m.p2 = (vaddr_t)MappingAddress;
		reserved_bugcheck(&m);
		return NULL;
	}
	if (st != SYSPTE_OK)
		return NULL;
	Mdl->MappedSystemVa = (PVOID)va;
	Mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
	if (Mdl->MdlFlags & MDL_PARTIAL)
		Mdl->MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED;
	return (PVOID)(va + Mdl->ByteOffset);
}

/*
 * MmUnmapReservedMapping: unmaps the span of Mdl from BaseAddress (contract in the spec); the MDL
 * gives only the span. NULL MDL: bug check 0x50 at address 0 (as every call that cannot
 * return an error); a malformed one: 0x1A, MDL_BUGCHECK_INVALID_BASE + reason (mm/mdl.h); both
 * before the address checks, since the span comes from the MDL. An MDL of 0 bytes does nothing
 * after the address and tag checks.
 */
VOID MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL Mdl)
{
	struct syspte_misuse m;
	vaddr_t va = (vaddr_t)BaseAddress & ~PAGE_MASK;
	if (!Mdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	if (!mdl_require(Mdl, 0))
		return;
	int st = syspte_unmap(va, PoolTag, mdl_span_pages(Mdl), &m);
	if (st == SYSPTE_MISUSE) {
		if (m.subcode != 0x10B)
			m.p2 = (vaddr_t)BaseAddress;
		reserved_bugcheck(&m);
		return;
	}
	if (st != SYSPTE_OK)
		return;
	Mdl->MdlFlags &= (CSHORT)~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
	Mdl->MappedSystemVa = NULL;
}
