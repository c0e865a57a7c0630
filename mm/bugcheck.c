/* Bug-check dispatch, names and parameter explanations; shared by the kernel and the host build. */
#include "bugcheck.h"
#include "mdl.h"

static bugcheck_hook_t bugcheck_hook;
struct bugcheck_record bugcheck_last;

bugcheck_hook_t bugcheck_set_hook(bugcheck_hook_t hook)
{
	bugcheck_hook_t old = bugcheck_hook;
	bugcheck_hook = hook;
	return old;
}

void bugcheck_record_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	bugcheck_last.code = code;
	bugcheck_last.p[0] = p1;
	bugcheck_last.p[1] = p2;
	bugcheck_last.p[2] = p3;
	bugcheck_last.p[3] = p4;
	bugcheck_last.count++;
}

void KeBugCheckEx(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	if (bugcheck_hook) {
		bugcheck_hook(code, p1, p2, p3, p4);
		return;
	}
	bugcheck_fatal(code, p1, p2, p3, p4);
}

const char *bugcheck_name(uint32_t code)
{
	switch (code) {
	case BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA: return "PAGE_FAULT_IN_NONPAGED_AREA";
	case BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED: return "KMODE_EXCEPTION_NOT_HANDLED";
	case BUGCHECK_UNEXPECTED_KERNEL_MODE_TRAP: return "UNEXPECTED_KERNEL_MODE_TRAP";
	case BUGCHECK_SYSTEM_PTE_MISUSE: return "SYSTEM_PTE_MISUSE";
	case BUGCHECK_BAD_POOL_CALLER: return "BAD_POOL_CALLER";
	case BUGCHECK_MEMORY_MANAGEMENT: return "MEMORY_MANAGEMENT";
	case BUGCHECK_MANUALLY_INITIATED_CRASH: return "MANUALLY_INITIATED_CRASH";
	default: return "UNKNOWN";
	}
}

/* Subcodes of SYSTEM_PTE_MISUSE, as in docs/contract.md. */
static const char *bugcheck_explain_pte_misuse(uint64_t sub)
{
	switch (sub) {
	case 0x101: return "MmFreeMappingAddress: tag differs from the owner's (P2 address, P3 caller's tag, P4 owner's tag)";
	case 0x102: return "MmFreeMappingAddress: not the start of a live reservation (P2 address, P3 caller's tag)";
	case 0x103: return "MmFreeMappingAddress: pages still mapped (P2 first mapped address, P3 tag, P4 pages mapped)";
	case 0x104: return "MmMapLockedPagesWithReservedMapping: tag differs (P2 address, P3 caller's tag, P4 owner's tag)";
	case 0x105: return "MmMapLockedPagesWithReservedMapping: address in no live reservation (P2 address, P3 tag)";
	case 0x107: return "MmMapLockedPagesWithReservedMapping: target already mapped (P2 address, P3 first mapped, P4 last of span)";
	case 0x108: return "MmUnmapReservedMapping: tag differs (P2 address, P3 caller's tag, P4 owner's tag)";
	case 0x109: return "MmUnmapReservedMapping: address in no reservation or not mapped (P2 address, P3 tag)";
	case 0x10A: return "MmUnmapReservedMapping: span runs past the reservation (P2 address, P3 pages to end, P4 pages asked)";
	case 0x10B: return "MmUnmapReservedMapping: a page in the span is not mapped (P2 first unmapped address)";
	case 0x10C: return "MmUnmapReservedMapping: span cuts a mapping (P2 address, P3 first page of the cut mapping, P4 pages asked)";
	default: return "unknown SYSTEM_PTE_MISUSE subcode";
	}
}

/* Subcodes of BAD_POOL_CALLER (mm/pool.h). */
static const char *bugcheck_explain_pool(uint64_t sub)
{
	switch (sub) {
	case 0x07: return "pool block freed already: its header says free, or its page is free memory (P3 block header or 0, P4 address)";
	case 0x0A: return "ExFreePoolWithTag: tag differs (P2 address, P3 allocator's tag, P4 caller's tag)";
	case 0x42: return "freeing memory the pool does not hold: never did, or its page now serves another user (P2 address)";
	case 0x46: return "freeing NULL, an address inside a pool block, or a slab address that starts no block (P2 address)";
	default: return "unknown BAD_POOL_CALLER subcode";
	}
}

/* MEMORY_MANAGEMENT subcodes for a malformed MDL (mm/mdl.h): P2 is always the MDL. */
static const char *bugcheck_explain_mdl(uint64_t sub)
{
	switch (sub) {
	case MDL_BUGCHECK_BAD_BYTE_OFFSET: return "malformed MDL: ByteOffset >= 4096 (P2 MDL, P3 ByteOffset)";
	case MDL_BUGCHECK_BAD_START_VA: return "malformed MDL: StartVa not page aligned (P2 MDL, P3 StartVa)";
	case MDL_BUGCHECK_BAD_BYTE_COUNT: return "malformed MDL: ByteCount 0 where bytes are needed, or above 4 GiB - 4 KiB (P2 MDL, P3 ByteCount)";
	case MDL_BUGCHECK_BAD_RANGE: return "malformed MDL: its range wraps past the top of the address space (P2 MDL, P3 StartVa, P4 ByteCount)";
	case MDL_BUGCHECK_BAD_SIZE: return "malformed MDL: Size cannot hold the PFNs of its span (P2 MDL, P3 Size, P4 bytes needed)";
	case MDL_BUGCHECK_BAD_FLAGS: return "malformed MDL: flags no MDL can have, or MappedSystemVa contradicting them (P2 MDL, P3 MdlFlags, P4 MappedSystemVa)";
	case MDL_BUGCHECK_BAD_FRAME: return "malformed MDL: a frame beyond the physical address width (P2 MDL, P3 PFN, P4 index)";
	case MDL_BUGCHECK_BUILD_BAD_MDL: return "MmBuildMdlForNonPagedPool: MDL already locked, mapped, pool or partial (P2 MDL, P3 MdlFlags)";
	default: return "unknown MEMORY_MANAGEMENT subcode";
	}
}

/* Subcodes of MEMORY_MANAGEMENT (mm/pool.h, mm/phys.h, mm/mdl.h, mm/verifier.h). */
static const char *bugcheck_explain_mm(uint64_t sub)
{
	switch (sub) {
	case 0x4D440001: return "IoBuildPartialMdl: range outside the source MDL (P2 address, P3 length, P4 source)";
	case 0x4D440002: return "MmFreePagesFromMdl: MDL mapped, partial, from pool or already freed (P2 MDL, P3 flags)";
	case 0x4D440003: return "MmFreePagesFromMdl: a frame that is not allocated: unmanaged, free, or listed twice (P2 MDL, P3 PFN, P4 index)";
	case 0x4D440004: return "IoBuildPartialMdl: target MDL too small (P2 target, P3 pages needed)";
	case 0x50480001: return "phys_free: frames not allocated: unaligned, none, unmanaged or free (P2 address, P3 pages, P4 frame at fault)";
	case 0x5A01: return "verifier: a free page was written (P2 address, P3 value found, P4 pattern)";
	default: return bugcheck_explain_mdl(sub);
	}
}

const char *bugcheck_explain(uint32_t code, uint64_t p1)
{
	switch (code) {
	case BUGCHECK_BAD_POOL_CALLER: return bugcheck_explain_pool(p1);
	case BUGCHECK_MEMORY_MANAGEMENT: return bugcheck_explain_mm(p1);
	case BUGCHECK_SYSTEM_PTE_MISUSE: return bugcheck_explain_pte_misuse(p1);
	case BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA: return "P1 address referenced, P2 1 if write / 0x10 if execute, P3 faulting RIP, P4 reservation base or 0";
	case BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED: return "P1 exception vector, P2 faulting RIP, P3 error code, P4 CR2";
	default: return "";
	}
}
