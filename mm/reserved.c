/*
 * The WDK layer of reserved mappings: the argument rules of docs/contract.md that concern the
 * arguments alone, and the MDL's bookkeeping. The work, the checks against the region's state and
 * their bug checks (0xDA) are the system PTE region's (mm/syspte*.c); this layer calls it once per
 * call, on the region registered with reserved_set_region. MDLs are checked by mm/mdl.c's
 * validator (mdl_validate, rules in mm/mdl.h) before any field is trusted.
 */
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "kassert.h"

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

static struct syspte_region *reserved_sysptes;

void reserved_set_region(struct syspte_region *r) { reserved_sysptes = r; }
struct syspte_region *reserved_region(void) { return reserved_sysptes; }

/* The region the calls work on; a call before there is one is a kernel bug (asserted). */
static struct syspte_region *reserved_the_region(void)
{
	KASSERT(reserved_sysptes, "a reserved-mapping call before the system PTE region exists");
	return reserved_sysptes;
}

PVOID MmAllocateMappingAddressEx(SIZE_T NumberOfBytes, ULONG PoolTag, ULONG Flags)
{
	if (NumberOfBytes == 0 || PoolTag == 0 || (Flags & ~(ULONG)MM_MAPPING_ADDRESS_DIVISIBLE) ||
	    NumberOfBytes >= RESERVE_MAX_BYTES)
		return NULL;
	uint64_t pages = (NumberOfBytes + PAGE_SIZE - 1) >> WDK_PAGE_SHIFT;
	return (PVOID)syspte_reserve(reserved_the_region(), pages, PoolTag,
				     (Flags & MM_MAPPING_ADDRESS_DIVISIBLE) ? SYSPTE_FLAG_DIVISIBLE : 0);
}

PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag)
{
	return MmAllocateMappingAddressEx(NumberOfBytes, PoolTag, 0);
}

/* MmFreeMappingAddress: the region's checks and bug checks (0x102, 0x101, 0x103), in that order. */
VOID MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag)
{
	syspte_release(reserved_the_region(), (vaddr_t)BaseAddress, PoolTag);
}

/*
 * MmMapLockedPagesWithReservedMapping: one call into the region, which checks the address and the
 * tag first (0x105, 0x104), then the NULL cases this layer found in the MDL's header and state and
 * in the cache type (pfns NULL) and a frame beyond the physical width (the region reads the frames
 * once, finding its 2 MiB runs in the same pass), then the span. The MDL is only read before that
 * call, and written after a success.
 */
PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag, PMDL Mdl,
					  MEMORY_CACHING_TYPE CacheType)
{
	int cache = reserved_cache_type(CacheType);
	bool usable = Mdl && cache >= 0 && mdl_mappable(Mdl);
	uint64_t n = usable ? mdl_span_pages(Mdl) : 0;
	vaddr_t va = (vaddr_t)MappingAddress & ~PAGE_MASK;
	if (syspte_map(reserved_the_region(), (vaddr_t)MappingAddress, PoolTag, usable ? MmGetMdlPfnArray(Mdl) : NULL,
		       n, usable ? (unsigned)cache : 0) != SYSPTE_OK)
		return NULL;
	Mdl->MappedSystemVa = (PVOID)va;
	Mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
	if (Mdl->MdlFlags & MDL_PARTIAL)
		Mdl->MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED;
	return (PVOID)(va + Mdl->ByteOffset);
}

/*
 * MmUnmapReservedMapping: unmaps the span of Mdl from BaseAddress (contract in docs/contract.md);
 * the MDL gives only the span, and loses MAPPED_TO_SYSTEM_VA and its MappedSystemVa (but for a
 * SOURCE_IS_NONPAGED_POOL MDL's address outside the span). NULL MDL: bug check 0x50 at address 0 (as every call that cannot
 * return an error); a malformed one: 0x1A, MDL_BUGCHECK_INVALID_BASE + reason (mm/mdl.h); both
 * before the address checks, since the span comes from the MDL. Then the region's checks and bug
 * checks (0x109 .. 0x10C); an MDL of 0 bytes does nothing after the address and tag checks.
 */
VOID MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL Mdl)
{
	if (!Mdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	if (!mdl_require(Mdl, 0))
		return;
	uint64_t n = mdl_span_pages(Mdl);
	vaddr_t base = (vaddr_t)BaseAddress & ~PAGE_MASK, sys = (vaddr_t)Mdl->MappedSystemVa;
	if (syspte_unmap(reserved_the_region(), (vaddr_t)BaseAddress, PoolTag, n) != SYSPTE_OK)
		return;
	Mdl->MdlFlags &= (CSHORT)~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
	/* A SOURCE_IS_NONPAGED_POOL MDL keeps a MappedSystemVa outside the span unmapped (its pool
	 * memory, which MmFreePagesFromMdl must then refuse); inside it, as the growable region's
	 * tear-down MDL, the address goes, and its pages become the caller's to free. */
	if (!(Mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) || (sys >= base && sys - base < (n << PAGE_SHIFT)))
		Mdl->MappedSystemVa = NULL;
}
