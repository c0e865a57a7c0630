/*
 * The MDL toolkit of include/wdm.h, as the WDK documents it, on top of the pool (mm/pool.c), the
 * physical allocator and the reserved-mapping layer (mm/reserved.c).
 *
 * Conventions [ours, where Windows is silent or docs/contract.md decides]:
 *  - MappedSystemVa is the page-aligned system address of the first page when MDL_MAPPED_TO_SYSTEM_VA
 *    or MDL_PARENT_MAPPED_SYSTEM_VA is set (the contract's rule for reserved mappings); it is the data
 *    address StartVa + ByteOffset when only MDL_SOURCE_IS_NONPAGED_POOL is set (Windows' rule for
 *    MmBuildMdlForNonPagedPool). MmGetSystemAddressForMdlSafe applies both.
 *  - Size is sizeof(MDL) + 8 * pages cast to CSHORT exactly as the WDK's MmInitializeMdl does, so it
 *    wraps for MDLs over about 32 MiB. The PFN array length is always the span of StartVa +
 *    ByteOffset and ByteCount; Size only has to hold it (mdl_room_ok, mm/mdl.h).
 *  - Every call validates the MDL before it reads a field it trusts (mdl_validate, the rules in
 *    mm/mdl.h): calls returning a pointer return NULL for a malformed MDL, the others bug-check
 *    0x1A with MDL_BUGCHECK_INVALID_BASE + the reason, changing nothing.
 *  - A NULL MDL passed to a function that returns nothing is what dereferencing it would be on
 *    Windows: bug check 0x50 (P1 0, P2 0, P3 caller's address, P4 0). Functions returning a pointer
 *    return NULL for it.
 *  - MmMapLockedPagesSpecifyCache makes a reservation of exactly the MDL's span under the tag
 *    MDL_TAG_MAP and maps into it; MmUnmapLockedPages finds it again with syspte_lookup.
 */
#include "wdm.h"
#include "mdl.h"
#include "pool.h"
#include "pt.h"
#include "phys.h"
#include "syspte.h"
#include "reserved.h"
#include "arch_mm.h"
#include "bugcheck.h"
#include "kassert.h"

STATIC_ASSERT(sizeof(MDL) == 0x30, "MDL header is 0x30 bytes");
STATIC_ASSERT(offsetof(MDL, Next) == 0x00, "MDL.Next");
STATIC_ASSERT(offsetof(MDL, Size) == 0x08, "MDL.Size");
STATIC_ASSERT(offsetof(MDL, MdlFlags) == 0x0A, "MDL.MdlFlags");
STATIC_ASSERT(offsetof(MDL, AllocationProcessorNumber) == 0x0C, "MDL.AllocationProcessorNumber");
STATIC_ASSERT(offsetof(MDL, Reserved) == 0x0E, "MDL.Reserved");
STATIC_ASSERT(offsetof(MDL, Process) == 0x10, "MDL.Process");
STATIC_ASSERT(offsetof(MDL, MappedSystemVa) == 0x18, "MDL.MappedSystemVa");
STATIC_ASSERT(offsetof(MDL, StartVa) == 0x20, "MDL.StartVa");
STATIC_ASSERT(offsetof(MDL, ByteCount) == 0x28, "MDL.ByteCount");
STATIC_ASSERT(offsetof(MDL, ByteOffset) == 0x2C, "MDL.ByteOffset");
STATIC_ASSERT(sizeof(PFN_NUMBER) == 8, "PFN_NUMBER is 64-bit");
STATIC_ASSERT(MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_BYTE_OFFSET == MDL_BUGCHECK_BAD_BYTE_OFFSET &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_START_VA == MDL_BUGCHECK_BAD_START_VA &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_BYTE_COUNT == MDL_BUGCHECK_BAD_BYTE_COUNT &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_RANGE == MDL_BUGCHECK_BAD_RANGE &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_SIZE == MDL_BUGCHECK_BAD_SIZE &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_FLAGS == MDL_BUGCHECK_BAD_FLAGS &&
	      MDL_BUGCHECK_INVALID_BASE + MDL_INVALID_FRAME == MDL_BUGCHECK_BAD_FRAME,
	      "the validator's subcodes are MDL_BUGCHECK_INVALID_BASE + enum mdl_invalid");

#define MDL_ALLOC_MAX_BYTES MDL_MAX_BYTES   /* WDK: at most 4 GiB - PAGE_SIZE per call */
#define MDL_ALLOC_FLAGS_KNOWN (MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | \
			       MM_ALLOCATE_FULLY_REQUIRED | MM_ALLOCATE_NO_WAIT | MM_ALLOCATE_PREFER_CONTIGUOUS | \
			       MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FAST_LARGE_PAGES)
#define MDL_LARGE_PAGE_BYTES SIZE_2M     /* FAST_LARGE_PAGES chunks are multiples of this */
/* Flags IoBuildPartialMdl copies from the source (as Windows). */
#define MDL_PARTIAL_INHERITED (MDL_SOURCE_IS_NONPAGED_POOL | MDL_IO_PAGE_READ | MDL_IO_SPACE)
/* Flags of an MDL that already describes pages: MmBuildMdlForNonPagedPool refuses them (as Windows asserts). */
#define MDL_DESCRIBES_PAGES (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | \
			     MDL_PARTIAL | MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA)
#define MDL_SIZE_FIELD_MAX 0xFFFFu       /* Size read as the WDK's unsigned 16-bit byte count */

static struct pt *mdl_kernel_pt;

void mm_set_kernel_pt(struct pt *pt) { mdl_kernel_pt = pt; }
struct pt *mm_get_kernel_pt(void) { return mdl_kernel_pt; }

/* ---------------------------------------------------------------- helpers */

static uint16_t mdl_flags(const MDL *mdl) { return (uint16_t)mdl->MdlFlags; }

static void mdl_set_flags(PMDL mdl, uint16_t f) { mdl->MdlFlags = (CSHORT)f; }

/* Pages the MDL describes: the span of StartVa + ByteOffset and ByteCount. */
static uint64_t mdl_pages(const MDL *mdl) { return mdl_span_pages(mdl); }

/* Pages touched by [va, va + len) in 64 bits; false when len is too large to count. */
static bool mdl_span64(vaddr_t va, uint64_t len, uint64_t *pages)
{
	if (len > UINT64_MAX - 2 * PAGE_SIZE)
		return false;
	*pages = ((va & PAGE_MASK) + len + PAGE_MASK) >> PAGE_SHIFT;
	return true;
}

/* A NULL MDL dereferenced: bug check 0x50 naming address 0 and the caller. */
void mdl_null_bugcheck(void *caller)
{
	KeBugCheckEx(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0, PF_NONPAGED_READ, (uint64_t)caller, 0);
}

/* Exclusive end for phys_alloc of an inclusive HighAddress. */
static uint64_t mdl_high_exclusive(uint64_t high) { return high == UINT64_MAX ? UINT64_MAX : high + 1; }

/* Frees n frames listed in pfn, coalescing consecutive runs. */
static void mdl_free_frames(const PFN_NUMBER *pfn, uint64_t n)
{
	for (uint64_t i = 0; i < n;) {
		uint64_t run = 1;
		while (i + run < n && pfn[i + run] == pfn[i] + run)
			run++;
		phys_free(pfn_to_pa(pfn[i]), run);
		i += run;
	}
}

/* Writes the frames of [pa, pa + n pages) into pfn. */
static void mdl_fill(PFN_NUMBER *pfn, paddr_t pa, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		pfn[i] = pa_to_pfn(pa) + i;
}

/* ---------------------------------------------------------------- validation (rules in mdl.h) */

uint64_t mdl_span_pages(const MDL *mdl)
{
	uint64_t off = ((vaddr_t)mdl->StartVa + mdl->ByteOffset) & PAGE_MASK;
	return (off + (uint64_t)mdl->ByteCount + PAGE_MASK) >> PAGE_SHIFT;
}

bool mdl_room_ok(const MDL *mdl, uint64_t pages)
{
	uint64_t need = sizeof(MDL) + pages * sizeof(PFN_NUMBER);
	uint16_t size = (uint16_t)mdl->Size;
	size_t block;
	if (need <= MDL_SIZE_FIELD_MAX && size >= need)
		return true;
	if (pool_block_info(mdl, &block, NULL))   /* a block made for a span over 8185 pages: Size its truncation */
		return block >= need && (need > MDL_SIZE_FIELD_MAX || (block > MDL_SIZE_FIELD_MAX && size == (uint16_t)block));
	return need > MDL_SIZE_FIELD_MAX && size == (uint16_t)need;
}

/* True when the flags and MappedSystemVa form a combination an MDL can have. */
static bool mdl_flags_ok(const MDL *mdl)
{
	uint16_t f = mdl_flags(mdl);
	vaddr_t sys = (vaddr_t)mdl->MappedSystemVa;
	if (f & MDL_FLAGS_FOREIGN)
		return false;
	if ((f & MDL_PARTIAL_HAS_BEEN_MAPPED) && (f & (MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA)) !=
						      (MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA))
		return false;
	if ((f & MDL_PARENT_MAPPED_SYSTEM_VA) && !(f & MDL_PARTIAL))
		return false;
	if ((f & MDL_MAPPED_TO_SYSTEM_VA) && !sys)
		return false;
	if ((f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA)) && !IS_ALIGNED(sys, PAGE_SIZE))
		return false;
	if (f & MDL_SOURCE_IS_NONPAGED_POOL) {
		if (f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA))
			return false;
		if (sys && sys != (vaddr_t)MmGetMdlVirtualAddress(mdl))
			return false;
	}
	return true;
}

/* Index of the first of n frames at or beyond the physical address width, or n. The common case
 * is one branch-free pass of four independent OR chains (the loads set the pace); the index is
 * looked for only when some frame is too high. The reserved map does not come here: the region's
 * map checks the width in its own pass over the frames (syspte_map). */
static uint64_t mdl_first_bad_frame(const PFN_NUMBER *pfn, uint64_t n)
{
	uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	uint64_t a = 0, b = 0, c = 0, d = 0, k = 0;
	for (; k + 4 <= n; k += 4) {
		a |= pfn[k];
		b |= pfn[k + 1];
		c |= pfn[k + 2];
		d |= pfn[k + 3];
	}
	for (; k < n; k++)
		a |= pfn[k];
	if ((a | b | c | d) < limit)
		return n;
	for (k = 0; k < n; k++)
		if (pfn[k] >= limit)
			return k;
	return n;
}

enum mdl_invalid mdl_validate(const MDL *mdl, unsigned checks, struct mdl_fault *f)
{
	struct mdl_fault r = { MDL_VALID, 0, 0 };
	vaddr_t start = (vaddr_t)mdl->StartVa;
	uint64_t count = mdl->ByteCount, pages = 0, bad;
	if (mdl->ByteOffset >= PAGE_SIZE)
		r = (struct mdl_fault){ MDL_INVALID_BYTE_OFFSET, mdl->ByteOffset, 0 };
	else if (!IS_ALIGNED(start, PAGE_SIZE))
		r = (struct mdl_fault){ MDL_INVALID_START_VA, start, 0 };
	else if (count > MDL_MAX_BYTES || (count == 0 && (checks & MDL_CHECK_BYTES)))
		r = (struct mdl_fault){ MDL_INVALID_BYTE_COUNT, count, 0 };
	else if (range_overflows(start, mdl->ByteOffset + count))
		r = (struct mdl_fault){ MDL_INVALID_RANGE, start, count };
	else if (pages = mdl_span_pages(mdl), !mdl_room_ok(mdl, pages))
		r = (struct mdl_fault){ MDL_INVALID_SIZE, (uint16_t)mdl->Size, sizeof(MDL) + pages * sizeof(PFN_NUMBER) };
	else if (!mdl_flags_ok(mdl))
		r = (struct mdl_fault){ MDL_INVALID_FLAGS, mdl_flags(mdl), (vaddr_t)mdl->MappedSystemVa };
	else if ((checks & MDL_CHECK_FRAMES) &&
		 (bad = mdl_first_bad_frame(MmGetMdlPfnArray((PMDL)mdl), pages)) < pages)
		r = (struct mdl_fault){ MDL_INVALID_FRAME, MmGetMdlPfnArray((PMDL)mdl)[bad], bad };
	if (f)
		*f = r;
	return r.why;
}

bool mdl_require(const MDL *mdl, unsigned checks)
{
	struct mdl_fault f;
	if (mdl_validate(mdl, checks, &f) == MDL_VALID)
		return true;
	KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_INVALID_BASE + f.why, (uint64_t)mdl, f.value, f.extra);
	return false;
}

/* True when a valid MDL's state allows a mapping: locked or partial, not mapped, not pool. */
static bool mdl_map_state_ok(const MDL *mdl)
{
	uint16_t f = mdl_flags(mdl);
	if (!(f & (MDL_PAGES_LOCKED | MDL_PARTIAL)))
		return false;
	return !(f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL_HAS_BEEN_MAPPED));
}

bool mdl_mappable(const MDL *mdl)
{
	return mdl_validate(mdl, MDL_CHECK_BYTES, NULL) == MDL_VALID && mdl_map_state_ok(mdl);
}

const char *mdl_invalid_name(enum mdl_invalid why)
{
	switch (why) {
	case MDL_VALID: return "valid";
	case MDL_INVALID_BYTE_OFFSET: return "ByteOffset >= PAGE_SIZE";
	case MDL_INVALID_START_VA: return "StartVa not page aligned";
	case MDL_INVALID_BYTE_COUNT: return "ByteCount 0 or above 4 GiB - 4 KiB";
	case MDL_INVALID_RANGE: return "range wraps past the top of the address space";
	case MDL_INVALID_SIZE: return "Size too small for the span";
	case MDL_INVALID_FLAGS: return "flags no MDL can have";
	case MDL_INVALID_FRAME: return "frame beyond the physical address width";
	}
	return "unknown";
}

/* ---------------------------------------------------------------- building MDLs */

/*
 * MmSizeOfMdl: bytes of an MDL describing [Base, Base + Length): sizeof(MDL) + 8 * span pages.
 * Returns 0 [ours] only when Length is too large to count pages (>= 2^64 - 8 KiB).
 */
SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length)
{
	uint64_t pages;
	if (!mdl_span64((vaddr_t)Base, Length, &pages))
		return 0;
	return sizeof(MDL) + pages * sizeof(PFN_NUMBER);
}

/*
 * MmInitializeMdl: the WDK macro: Next NULL, Size (CSHORT), flags 0, StartVa PAGE_ALIGN(BaseVa),
 * ByteOffset, ByteCount = (ULONG)Length; [ours] Process, MappedSystemVa and the reserved fields are
 * zeroed too. The caller provides room for the PFN array. NULL Mdl: bug check 0x50.
 */
VOID MmInitializeMdl(PMDL Mdl, PVOID BaseVa, SIZE_T Length)
{
	if (!Mdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	*Mdl = (MDL){
		.Size = (CSHORT)(sizeof(MDL) + sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES(BaseVa, Length)),
		.StartVa = PAGE_ALIGN(BaseVa),
		.ByteOffset = BYTE_OFFSET(BaseVa),
		.ByteCount = (ULONG)Length,
	};
}

/*
 * IoAllocateMdl: an MDL from the pool (tag MDL_TAG_IO) for [VirtualAddress, +Length), initialised by
 * MmInitializeMdl (flags 0); its PFN array is filled later (MmBuildMdlForNonPagedPool). SecondaryBuffer
 * and ChargeQuota are ignored (no IRPs). NULL: Irp is not NULL [ours: no IRP support]; Length is 0
 * or above 4 GiB - 4 KiB (Windows' maximum); the range wraps past the top of the address space; the
 * pool is exhausted.
 */
PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp)
{
	(void)SecondaryBuffer;
	(void)ChargeQuota;
	if (Irp || Length == 0 || Length > MDL_MAX_BYTES || range_overflows((vaddr_t)VirtualAddress, Length))
		return NULL;
	PMDL mdl = ExAllocatePoolWithTag(NonPagedPoolNx, MmSizeOfMdl(VirtualAddress, Length), MDL_TAG_IO);
	if (mdl)
		MmInitializeMdl(mdl, VirtualAddress, Length);
	return mdl;
}

static bool mdl_has_room(const MDL *mdl, uint64_t pages);

/*
 * Unmaps the MDL when it holds a mapping MmMapLockedPagesSpecifyCache made (Windows'
 * MmPrepareMdlForReuse); false when that unmap raised a bug check (intercepted: the mapping is
 * still there), and the MDL must then stay as it is. The mapping its MappedSystemVa names counts as
 * its own only while that address starts an MDL_TAG_MAP reservation whose first page maps the MDL's
 * first frame: one undone through a copy of the MDL (MmUnmapLockedPages takes any MDL of the span)
 * leaves the flag set, and another MDL's mapping of other frames may hold the address since; that
 * one is left alone, as is any mapping named by an MDL whose Size (or pool block) holds no frame.
 */
static bool mdl_unmap_own(PMDL mdl)
{
	struct syspte_info info;
	vaddr_t va = (vaddr_t)mdl->MappedSystemVa;
	paddr_t pa;
	/* an MDL with no room for a frame (IoBuildPartialMdl's target of a 0-byte partial) owns none */
	if (!(mdl_flags(mdl) & MDL_MAPPED_TO_SYSTEM_VA) || !va || !mdl_has_room(mdl, 1))
		return true;
	if (!syspte_lookup(reserved_region(), va, &info) || info.tag != MDL_TAG_MAP || info.base != va ||
	    !pt_query(mdl_kernel_pt, va, &pa, NULL, NULL) || pa_to_pfn(pa) != MmGetMdlPfnArray(mdl)[0])
		return true;
	MmUnmapLockedPages((char *)mdl->MappedSystemVa + mdl->ByteOffset, mdl);
	return !(syspte_lookup(reserved_region(), va, &info) && info.tag == MDL_TAG_MAP && info.base == va);
}

/*
 * IoFreeMdl: frees an MDL from IoAllocateMdl. A mapping made for it by MmMapLockedPagesSpecifyCache
 * (MmGetSystemAddressForMdlSafe) is unmapped first, as Windows does for partial MDLs (its own: see
 * mdl_unmap_own); a reserved mapping made by the caller is the caller's to unmap. When that unmap
 * is misuse (the MDL's span changed since the map: 0xDA/0x10C), nothing is unmapped or freed. An
 * MDL not from IoAllocateMdl (NULL, on the stack, from MmAllocatePagesForMdl, freed already): bug
 * check 0xC2 from ExFreePoolWithTag (0x46, 0x42, 0x0A, 0x07), with nothing unmapped. A malformed one
 * (mm/mdl.h): 0x1A, MDL_BUGCHECK_INVALID_BASE + reason, nothing unmapped or freed.
 */
VOID IoFreeMdl(PMDL Mdl)
{
	uint32_t tag;
	if (pool_block_info(Mdl, NULL, &tag) && tag == MDL_TAG_IO) {
		if (!mdl_require(Mdl, 0) || !mdl_unmap_own(Mdl))
			return;
	}
	ExFreePoolWithTag(Mdl, MDL_TAG_IO);
}

/* True when an MDL whose PFN array a call writes can hold pages PFNs: its Size says so (mdl_room_ok)
 * and, when it starts a pool block, the block really is that large. */
static bool mdl_has_room(const MDL *mdl, uint64_t pages)
{
	size_t bytes;
	if (!mdl_room_ok(mdl, pages))
		return false;
	return !pool_block_info(mdl, &bytes, NULL) || bytes >= sizeof(MDL) + pages * sizeof(PFN_NUMBER);
}

/*
 * MmBuildMdlForNonPagedPool: fills the PFN array by walking the kernel page tables for every page of
 * the MDL's range (direct-map addresses and system-PTE mappings alike), sets SOURCE_IS_NONPAGED_POOL
 * and MappedSystemVa = StartVa + ByteOffset (as Windows). A page of the range that is not mapped: bug
 * check 0x50 (P1 its address, P2 0 read, P3 caller's address, P4 base of the reservation holding it or
 * 0), with the MDL unchanged. Bug check 0x1A, MDL unchanged: a malformed MDL or ByteCount 0
 * (MDL_BUGCHECK_INVALID_BASE + reason, mm/mdl.h); an MDL that already describes pages, i.e. locked,
 * mapped, pool or partial (MDL_BUGCHECK_BUILD_BAD_MDL: P2 MDL, P3 MdlFlags), which Windows asserts
 * against; an MDL starting a pool block too small for the span its Size admits (MDL_BUGCHECK_BAD_SIZE).
 * NULL Mdl: 0x50 at address 0. Needs mm_set_kernel_pt (asserted).
 */
VOID MmBuildMdlForNonPagedPool(PMDL Mdl)
{
	void *caller = __builtin_return_address(0);
	if (!Mdl) {
		mdl_null_bugcheck(caller);
		return;
	}
	if (!mdl_require(Mdl, MDL_CHECK_BYTES))
		return;
	if (mdl_flags(Mdl) & MDL_DESCRIBES_PAGES) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BUILD_BAD_MDL, (uint64_t)Mdl, mdl_flags(Mdl), 0);
		return;
	}
	vaddr_t start = (vaddr_t)Mdl->StartVa;
	uint64_t n = mdl_pages(Mdl);
	if (!mdl_has_room(Mdl, n)) {   /* Size holds the span, but the pool block under it does not */
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_SIZE, (uint64_t)Mdl, (uint16_t)Mdl->Size,
			     sizeof(MDL) + n * sizeof(PFN_NUMBER));
		return;
	}
	KASSERT(mdl_kernel_pt != NULL, "MmBuildMdlForNonPagedPool before mm_set_kernel_pt");
	paddr_t pa;
	for (uint64_t i = 0; i < n; i++) {   /* validate every page before writing anything */
		vaddr_t va = start + (i << PAGE_SHIFT);   /* no wrap: the MDL is valid */
		if (!pt_query(mdl_kernel_pt, va, &pa, NULL, NULL)) {
			KeBugCheckEx(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, va, PF_NONPAGED_READ, (uint64_t)caller,
				     syspte_reservation_base(reserved_region(), va));
			return;
		}
	}
	PPFN_NUMBER pfn = MmGetMdlPfnArray(Mdl);
	for (uint64_t i = 0; i < n; i++) {
		bool mapped = pt_query(mdl_kernel_pt, start + (i << PAGE_SHIFT), &pa, NULL, NULL);
		KASSERT(mapped, "page unmapped while building an MDL");
		pfn[i] = pa_to_pfn(pa);
	}
	Mdl->MappedSystemVa = MmGetMdlVirtualAddress(Mdl);
	mdl_set_flags(Mdl, mdl_flags(Mdl) | MDL_SOURCE_IS_NONPAGED_POOL);
}

/* The target's MappedSystemVa for a partial MDL at byte offset off into the source's data. */
static PVOID mdl_partial_system_va(const MDL *src, const MDL *dst, uint64_t off, uint16_t *flags)
{
	uint16_t sf = mdl_flags(src);
	if ((sf & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA)) && src->MappedSystemVa) {
		*flags |= MDL_PARENT_MAPPED_SYSTEM_VA;   /* page-base convention: add whole pages */
		return (char *)src->MappedSystemVa + ((vaddr_t)dst->StartVa - (vaddr_t)src->StartVa);
	}
	if ((sf & MDL_SOURCE_IS_NONPAGED_POOL) && src->MappedSystemVa)
		return (char *)src->MappedSystemVa + off;   /* data-address convention */
	return NULL;
}

/*
 * IoBuildPartialMdl: makes TargetMdl describe [VirtualAddress, +Length) of SourceMdl's range (Length 0:
 * to the source's end): StartVa/ByteOffset/ByteCount, the PFNs copied, MDL_PARTIAL, the source's
 * SOURCE_IS_NONPAGED_POOL / IO_PAGE_READ / IO_SPACE; when the source is mapped, PARENT_MAPPED_SYSTEM_VA
 * with MappedSystemVa at the sub-range's first page inside the source's mapping (valid while that
 * mapping lives). Target keeps only its ALLOCATED_FIXED_SIZE flag; a mapping of its own it still
 * held (MmGetSystemAddressForMdlSafe's) is unmapped first, as MmPrepareMdlForReuse would, so its
 * reservation is not lost (when that unmap is misuse, 0xDA/0x10C, Target stays as it was).
 * [ours] Bug check 0x1A, target unchanged, in this order: a malformed source, ByteCount 0 or a frame
 * beyond the physical address width included (MDL_BUGCHECK_INVALID_BASE + reason, P2 SourceMdl,
 * mm/mdl.h); P1 MDL_BUGCHECK_PARTIAL_RANGE (P2 VirtualAddress, P3 Length, P4 SourceMdl) when the
 * sub-range leaves the source; P1 MDL_BUGCHECK_PARTIAL_ROOM (P2 TargetMdl, P3 pages needed) when the
 * target's Size (or, for a pool block, the block) cannot hold the sub-range's PFNs. NULL MDL: 0x50
 * at address 0.
 */
VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
	if (!SourceMdl || !TargetMdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	if (!mdl_require(SourceMdl, MDL_CHECK_BYTES | MDL_CHECK_FRAMES))
		return;
	vaddr_t src = (vaddr_t)MmGetMdlVirtualAddress(SourceMdl), va = (vaddr_t)VirtualAddress;
	uint64_t off = va - src;
	if (va < src || off > SourceMdl->ByteCount ||
	    (Length != 0 && Length > SourceMdl->ByteCount - off)) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE, va, Length, (uint64_t)SourceMdl);
		return;
	}
	ULONG len = Length ? Length : (ULONG)(SourceMdl->ByteCount - off);
	uint64_t n = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, len);
	if (!mdl_has_room(TargetMdl, n)) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_ROOM, (uint64_t)TargetMdl, n, 0);
		return;
	}
	/* a Target reused while it holds its own mapping: released first, as MmPrepareMdlForReuse would
	 * (and IoFreeMdl does), or its reservation would be lost with the MappedSystemVa overwritten */
	if (!mdl_unmap_own(TargetMdl))
		return;
	TargetMdl->StartVa = PAGE_ALIGN(va);
	TargetMdl->ByteOffset = BYTE_OFFSET(va);
	TargetMdl->ByteCount = len;
	TargetMdl->Process = SourceMdl->Process;
	uint16_t f = (uint16_t)((mdl_flags(TargetMdl) & MDL_ALLOCATED_FIXED_SIZE) |
				(mdl_flags(SourceMdl) & MDL_PARTIAL_INHERITED) | MDL_PARTIAL);
	TargetMdl->MappedSystemVa = mdl_partial_system_va(SourceMdl, TargetMdl, off, &f);
	mdl_set_flags(TargetMdl, f);
	uint64_t first = ((vaddr_t)TargetMdl->StartVa - (vaddr_t)SourceMdl->StartVa) >> PAGE_SHIFT;
	PPFN_NUMBER from = MmGetMdlPfnArray(SourceMdl) + first, to = MmGetMdlPfnArray(TargetMdl);
	for (uint64_t i = 0; i < n; i++)
		to[i] = from[i];
}

/* ---------------------------------------------------------------- allocating pages */

/* Up to n frames inside [lo, hi_ex): runs as long as possible when contiguous, else single pages. */
static uint64_t mdl_alloc_range(PFN_NUMBER *pfn, uint64_t n, uint64_t lo, uint64_t hi_ex, bool contiguous)
{
	uint64_t got = 0, run = contiguous ? n : 1;
	while (got < n) {
		uint64_t ask = MIN(run, n - got);
		paddr_t pa = phys_alloc_owned(ask, 1, lo, hi_ex, PHYS_OWNER_MDL);
		if (!pa) {
			if (ask == 1)
				break;
			run = ask / 2;
			continue;
		}
		mdl_fill(pfn + got, pa, ask);
		got += ask;
	}
	return got;
}

/* Highest physical address + 1 the allocator manages. */
static uint64_t mdl_phys_top(void)
{
	struct phys_stats st;
	phys_get_stats(&st);
	return pfn_to_pa(st.highest_pfn);
}

/* The default and PREFER_CONTIGUOUS policy: window [lo, hi], then [lo + skip, hi + skip], ... while
 * pages are missing and the window starts below the top of RAM (one window when skip is 0). */
static uint64_t mdl_alloc_windows(PFN_NUMBER *pfn, uint64_t want, uint64_t lo, uint64_t hi, uint64_t skip,
				  bool contiguous)
{
	uint64_t got = 0, top = mdl_phys_top();
	for (;;) {
		got += mdl_alloc_range(pfn + got, want - got, lo, mdl_high_exclusive(hi), contiguous);
		if (got == want || skip == 0 || lo > UINT64_MAX - skip || hi > UINT64_MAX - skip)
			return got;
		lo += skip;
		hi += skip;
		if (lo >= top)
			return got;
	}
}

/* REQUIRE_CONTIGUOUS_CHUNKS: skip 0 = one block of want pages or nothing; else chunks of skip bytes,
 * each aligned to skip, as many as fit (want is a multiple of the chunk). */
static uint64_t mdl_alloc_chunks(PFN_NUMBER *pfn, uint64_t want, uint64_t lo, uint64_t hi, uint64_t skip)
{
	uint64_t hi_ex = mdl_high_exclusive(hi);
	if (skip == 0) {
		paddr_t pa = phys_alloc_owned(want, 1, lo, hi_ex, PHYS_OWNER_MDL);
		if (pa)
			mdl_fill(pfn, pa, want);
		return pa ? want : 0;
	}
	uint64_t chunk = skip >> PAGE_SHIFT, got = 0;
	while (got < want) {
		paddr_t pa = phys_alloc_owned(chunk, chunk, lo, hi_ex, PHYS_OWNER_MDL);
		if (!pa)
			break;
		mdl_fill(pfn + got, pa, chunk);
		got += chunk;
	}
	return got;
}

/* FAST_LARGE_PAGES without CHUNKS [ours]: as many 2 MiB runs, each 2 MiB aligned, as whole 2 MiB
 * pieces of want fit and [lo, hi] holds; returns the pages taken (a multiple of 512). */
static uint64_t mdl_alloc_large(PFN_NUMBER *pfn, uint64_t want, uint64_t lo, uint64_t hi)
{
	uint64_t large = MDL_LARGE_PAGE_BYTES >> PAGE_SHIFT, got = 0;
	while (want - got >= large) {
		paddr_t pa = phys_alloc_owned(large, large, lo, mdl_high_exclusive(hi), PHYS_OWNER_MDL);
		if (!pa)
			break;
		mdl_fill(pfn + got, pa, large);
		got += large;
	}
	return got;
}

/* The argument rules of MmAllocatePagesForMdlEx; true when the call may proceed. */
static bool mdl_alloc_args_ok(uint64_t lo, uint64_t hi, uint64_t skip, SIZE_T total, MEMORY_CACHING_TYPE cache,
			      ULONG flags)
{
	bool chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS;
	if ((flags & ~(ULONG)MDL_ALLOC_FLAGS_KNOWN) || (unsigned)cache >= MmMaximumCacheType)
		return false;
	if (total == 0 || total > MDL_ALLOC_MAX_BYTES || lo > hi || !IS_ALIGNED(skip, PAGE_SIZE))
		return false;
	if (chunks && skip && ((skip & (skip - 1)) || total % skip))
		return false;
	if ((flags & MM_ALLOCATE_FAST_LARGE_PAGES) && chunks && (skip == 0 || skip % MDL_LARGE_PAGE_BYTES))
		return false;
	return true;
}

/*
 * MmAllocatePagesForMdlEx: ceil(TotalBytes / 4 KiB) physical pages, each inside [LowAddress, HighAddress]
 * (HighAddress inclusive, addresses taken as unsigned so -1 means "anywhere"), zeroed unless
 * MM_DONT_ZERO_ALLOCATION. The MDL (pool, tag MDL_TAG_PAGES; the caller frees it with ExFreePool after
 * MmFreePagesFromMdl) has PAGES_LOCKED, StartVa NULL, ByteOffset 0, ByteCount = pages obtained * 4 KiB.
 * Placement: single pages by default; PREFER_CONTIGUOUS takes the longest runs it can, halving on
 * failure; with a nonzero SkipBytes, missing pages are sought in [Low + k*Skip, High + k*Skip] for
 * k = 1, 2, ... while the window starts below the top of RAM. REQUIRE_CONTIGUOUS_CHUNKS: SkipBytes 0 =
 * one contiguous block, any free run that long inside the bounds, or NULL; otherwise SkipBytes is the
 * chunk (a power of two >= 4 KiB dividing TotalBytes), every chunk contiguous and aligned to its size,
 * fewer chunks possible. LOCAL_NODE_ONLY and NO_WAIT change nothing (one node; never waits).
 * FAST_LARGE_PAGES [ours]: with CHUNKS, SkipBytes must be a multiple of 2 MiB (chunks as above);
 * without, every whole 2 MiB of the request is first sought as a 2 MiB-aligned run inside
 * [Low, High], as many as found, and the pages still missing follow the policy above, so the MDL
 * maps with 2 MiB leaves (MmMapLockedPagesSpecifyCache, a 2 MiB-aligned reserved mapping).
 * Fewer pages than asked are returned unless MM_ALLOCATE_FULLY_REQUIRED.
 * NULL, nothing allocated: no page found; FULLY_REQUIRED and not all found; an unknown flag bit;
 * CacheType out of range; TotalBytes 0 or > 4 GiB - 4 KiB; Low > High; SkipBytes not a page multiple;
 * CHUNKS with SkipBytes not a power of two or not dividing TotalBytes; FAST_LARGE_PAGES with
 * CHUNKS and SkipBytes not a multiple of 2 MiB; the pool cannot hold the MDL.
 */
PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes,
			     SIZE_T TotalBytes, MEMORY_CACHING_TYPE CacheType, ULONG Flags)
{
	uint64_t lo = (uint64_t)LowAddress.QuadPart, hi = (uint64_t)HighAddress.QuadPart;
	uint64_t skip = (uint64_t)SkipBytes.QuadPart;
	if (!mdl_alloc_args_ok(lo, hi, skip, TotalBytes, CacheType, Flags))
		return NULL;
	uint64_t want = TotalBytes / PAGE_SIZE + (TotalBytes % PAGE_SIZE != 0);
	PMDL mdl = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(MDL) + want * sizeof(PFN_NUMBER), MDL_TAG_PAGES);
	if (!mdl)
		return NULL;
	MmInitializeMdl(mdl, NULL, want << PAGE_SHIFT);
	PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
	uint64_t got;
	if (Flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) {
		got = mdl_alloc_chunks(pfn, want, lo, hi, skip);
	} else {
		got = (Flags & MM_ALLOCATE_FAST_LARGE_PAGES) ? mdl_alloc_large(pfn, want, lo, hi) : 0;
		got += mdl_alloc_windows(pfn + got, want - got, lo, hi, skip, Flags & MM_ALLOCATE_PREFER_CONTIGUOUS);
	}
	if (got == 0 || ((Flags & MM_ALLOCATE_FULLY_REQUIRED) && got < want)) {
		mdl_free_frames(pfn, got);
		ExFreePoolWithTag(mdl, MDL_TAG_PAGES);
		return NULL;
	}
	if (!(Flags & MM_DONT_ZERO_ALLOCATION))
		for (uint64_t i = 0; i < got; i++)
			phys_zero(pfn_to_pa(pfn[i]), 1);
	mdl->ByteCount = (ULONG)(got << PAGE_SHIFT);
	mdl_set_flags(mdl, MDL_PAGES_LOCKED);
	return mdl;
}

/* MmAllocatePagesForMdl: MmAllocatePagesForMdlEx(..., MmCached, 0); the same outcomes. */
PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes,
			   SIZE_T TotalBytes)
{
	return MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, MmCached, 0);
}

/* True when MmFreePagesFromMdl may free the MDL's pages: not mapped, not partial, and either from
 * MmAllocatePagesForMdl (PAGES_LOCKED) or built over mappings since unmapped (the growable-region
 * tear-down: SOURCE_IS_NONPAGED_POOL with MappedSystemVa cleared by MmUnmapReservedMapping). */
static bool mdl_pages_freeable(const MDL *mdl)
{
	uint16_t f = mdl_flags(mdl);
	if (f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL | MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA |
		 MDL_IO_SPACE))
		return false;
	return (f & MDL_PAGES_LOCKED) || ((f & MDL_SOURCE_IS_NONPAGED_POOL) && mdl->MappedSystemVa == NULL);
}

/*
 * MmFreePagesFromMdl: returns every page the MDL lists to the physical allocator, then [ours] sets
 * ByteCount 0 and clears PAGES_LOCKED / SOURCE_IS_NONPAGED_POOL so a second call is detected; the
 * structure stays (ExFreePool it). Also accepts a tear-down MDL (see mdl_pages_freeable).
 * [ours] Bug check 0x1A, nothing freed: a malformed MDL (MDL_BUGCHECK_INVALID_BASE + reason, mm/mdl.h);
 * P1 MDL_BUGCHECK_FREE_BAD_MDL (P2 MDL, P3 MdlFlags) when the
 * MDL is mapped, partial, I/O space, pool memory or already freed; P1 MDL_BUGCHECK_FREE_BAD_PAGE (P2 MDL,
 * P3 PFN, P4 index) when a listed frame is not one MmAllocatePagesForMdl[Ex] handed out: outside what
 * the physical allocator manages, free, another user's (the pool's, a page table's, ...; the
 * physical allocator records each frame's owner), or listed twice (P4 the index of the second
 * listing); the whole list is checked before any frame is freed. NULL: 0x50 at address 0.
 */
VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList)
{
	PMDL mdl = MemoryDescriptorList;
	if (!mdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	if (!mdl_require(mdl, 0))
		return;
	if (!mdl_pages_freeable(mdl)) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL, (uint64_t)mdl, mdl_flags(mdl), 0);
		return;
	}
	uint64_t bad;
	PPFN_NUMBER pfn = MmGetMdlPfnArray(mdl);
	if (!phys_free_frames(pfn, mdl_pages(mdl), PHYS_OWNER_MDL, &bad)) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_PAGE, (uint64_t)mdl, pfn[bad], bad);
		return;
	}
	mdl->ByteCount = 0;
	mdl_set_flags(mdl, mdl_flags(mdl) & (uint16_t)~(MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL));
}

/* ---------------------------------------------------------------- system mappings */

/* The index of the first frame of pfn[0, n) that starts 512 frames forming one 2 MiB-aligned run,
 * or UINT64_MAX: where a 2 MiB leaf could go if the mapping's address allowed it. O(n): a candidate
 * (a frame on a 2 MiB boundary) whose run breaks after k frames has no candidate inside it. */
static uint64_t mdl_large_phase(const PFN_NUMBER *pfn, uint64_t n)
{
	uint64_t large = MDL_LARGE_PAGE_BYTES >> PAGE_SHIFT;
	for (uint64_t j = 0, k; j + large <= n; j += k) {
		k = 1;
		if (pfn[j] % large)
			continue;
		while (k < large && pfn[j + k] == pfn[j] + k)
			k++;
		if (k == large)
			return j;
	}
	return UINT64_MAX;
}

/*
 * MmMapLockedPagesSpecifyCache: maps the MDL's pages into a new reservation of exactly its span
 * (tag MDL_TAG_MAP) with MmMapLockedPagesWithReservedMapping; returns the address of the data
 * (mapping + ByteOffset). An MDL with SOURCE_IS_NONPAGED_POOL (and not mapped) is already mapped:
 * its MappedSystemVa comes back and nothing is reserved. Priority is ignored (MdlMappingNoWrite too:
 * mappings are always writable, never executable); BugCheckOnFailure is ignored [ours: failures are
 * always NULL]. NULL, nothing reserved or mapped: NULL Mdl; AccessMode UserMode (no user mappings);
 * RequestedAddress not NULL; CacheType out of range; a malformed MDL, ByteCount 0 or a frame beyond
 * the physical address width included (mm/mdl.h); every NULL case of
 * MmMapLockedPagesWithReservedMapping (not locked nor partial, already mapped); the system PTE
 * region is exhausted. [ours] When the MDL holds an aligned 2 MiB run of frames, the reservation
 * prefers (never requires) the address that lets it map with a 2 MiB leaf.
 */
PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
				   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress, ULONG BugCheckOnFailure,
				   ULONG Priority)
{
	PMDL mdl = MemoryDescriptorList;
	(void)BugCheckOnFailure;
	(void)Priority;
	if (!mdl || AccessMode != KernelMode || RequestedAddress || (unsigned)CacheType >= MmMaximumCacheType)
		return NULL;
	if (mdl_validate(mdl, MDL_CHECK_BYTES | MDL_CHECK_FRAMES, NULL) != MDL_VALID)
		return NULL;
	if (mdl_flags(mdl) & MDL_SOURCE_IS_NONPAGED_POOL)   /* never mapped too: the validator says so */
		return mdl->MappedSystemVa;
	if (!mdl_map_state_ok(mdl))   /* before reserving: a refusal changes nothing */
		return NULL;
	uint64_t n = mdl_pages(mdl), phase = mdl_large_phase(MmGetMdlPfnArray(mdl), n);
	PVOID base = (PVOID)syspte_reserve_pref(reserved_region(), n, MDL_TAG_MAP, 0,
						phase == UINT64_MAX ? 1 : MDL_LARGE_PAGE_BYTES >> PAGE_SHIFT, phase);
	if (!base)
		return NULL;
	PVOID va = MmMapLockedPagesWithReservedMapping(base, MDL_TAG_MAP, mdl, CacheType);
	if (!va)
		MmFreeMappingAddress(base, MDL_TAG_MAP);
	return va;
}

/*
 * MmUnmapLockedPages: undoes MmMapLockedPagesSpecifyCache: unmaps the span and frees the reservation;
 * BaseAddress is what the map returned (rounded down to its page). For an unmapped
 * SOURCE_IS_NONPAGED_POOL MDL whose MappedSystemVa is BaseAddress, nothing was mapped: no-op.
 * Misuse, state unchanged: BaseAddress inside one of our mappings but not at its start, or the MDL's
 * span differs from the mapping's: 0xDA P1 0x10C (P2 BaseAddress, P3 the mapping's base, P4 pages
 * asked); otherwise MmUnmapReservedMapping's checks with tag MDL_TAG_MAP: 0x108 (a reservation of
 * another tag, e.g. the caller's own), 0x109 (no reservation, or already unmapped), ...
 * NULL MDL: 0x50 at address 0. A malformed MDL, before anything else: 0x1A,
 * MDL_BUGCHECK_INVALID_BASE + reason (mm/mdl.h).
 */
VOID MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
	PMDL mdl = MemoryDescriptorList;
	struct syspte_info info;
	if (!mdl) {
		mdl_null_bugcheck(__builtin_return_address(0));
		return;
	}
	if (!mdl_require(mdl, 0))
		return;
	if ((mdl_flags(mdl) & MDL_SOURCE_IS_NONPAGED_POOL) && BaseAddress == mdl->MappedSystemVa)
		return;
	vaddr_t va = (vaddr_t)PAGE_ALIGN(BaseAddress);
	uint64_t n = mdl_pages(mdl);
	bool ours = syspte_lookup(reserved_region(), va, &info) && info.tag == MDL_TAG_MAP;
	if (ours && (info.base != va || info.npages != n)) {
		KeBugCheckEx(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, (uint64_t)BaseAddress, info.base, n);
		return;
	}
	uint64_t mapped_before = ours ? info.mapped : 0;
	MmUnmapReservedMapping(BaseAddress, MDL_TAG_MAP, mdl);
	/* Free the reservation only when this unmap emptied it: after an intercepted bug check
	 * nothing changed, and an empty reservation stays for MmFreeMappingAddress. */
	if (mapped_before && syspte_lookup(reserved_region(), va, &info) && info.tag == MDL_TAG_MAP && info.base == va && info.mapped == 0)
		MmFreeMappingAddress((PVOID)va, MDL_TAG_MAP);
}

/*
 * MmGetSystemAddressForMdlSafe: the MDL's data in system space: MappedSystemVa + ByteOffset when
 * MAPPED_TO_SYSTEM_VA (or PARENT_MAPPED_SYSTEM_VA with a MappedSystemVa); MappedSystemVa when
 * SOURCE_IS_NONPAGED_POOL; otherwise a new mapping from MmMapLockedPagesSpecifyCache(MmCached), undone
 * by MmUnmapLockedPages or IoFreeMdl. NULL: NULL Mdl, a malformed one (mm/mdl.h), or the mapping
 * fails (see above). Priority ignored.
 */
PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority)
{
	if (!Mdl || mdl_validate(Mdl, 0, NULL) != MDL_VALID)
		return NULL;
	uint16_t f = mdl_flags(Mdl);
	if ((f & MDL_MAPPED_TO_SYSTEM_VA) || ((f & MDL_PARENT_MAPPED_SYSTEM_VA) && Mdl->MappedSystemVa))
		return (char *)Mdl->MappedSystemVa + Mdl->ByteOffset;
	if (f & MDL_SOURCE_IS_NONPAGED_POOL)
		return Mdl->MappedSystemVa;
	return MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, 0, Priority);
}
