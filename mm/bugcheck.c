/*
 * Bug-check dispatch and the report decoder: one table with an explanation per code and subcode of
 * mm/bugcheck_codes.h (tests/host/test_bugcheck.c checks that none is missing). Shared by the
 * kernel and the host build.
 */
#include "bugcheck.h"
#include "testhooks.h"

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

/* A code's entry and a subcode's entry: the name is spelt once, in mm/bugcheck_codes.h. */
#define CODE(name, text) { name, false, 0, &#name[9], text }   /* #name without "BUGCHECK_" */
#define SUB(code, name, text) { code, true, name, #name, text }

static const struct bugcheck_desc bugcheck_table[] = {
	CODE(BUGCHECK_SPIN_LOCK_ALREADY_OWNED, "a CPU took a spin lock it already holds, which would never return "
	     "(P1 the lock, P2 the CPU, P3 the lock's rank, P4 the lock's name)"),
	CODE(BUGCHECK_SPIN_LOCK_NOT_OWNED, "a CPU released a spin lock it does not hold "
	     "(P1 the lock, P2 the CPU, P3 the owner: its CPU + 1, 0 when free, P4 the lock's name)"),
	CODE(BUGCHECK_BAD_POOL_HEADER, "a pool block or slab header is corrupt (an overrun or a write after free): P1 says how"),
	CODE(BUGCHECK_MEMORY_MANAGEMENT, "a memory-management rule was broken: P1 says which"),
	CODE(BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, "P1 exception vector, P2 faulting RIP, P3 error code, P4 CR2"),
	CODE(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA,
	     "P1 address referenced, P2 0 read / 1 write / 0x10 instruction fetch, P3 faulting RIP, P4 reservation base or 0"),
	CODE(BUGCHECK_BAD_POOL_CALLER, "a pool call was misused: P1 says how"),
	CODE(BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, "the verifier caught a violation: P1 says which"),
	CODE(BUGCHECK_SYSTEM_PTE_MISUSE, "a reserved-mapping call was misused: P1 says how"),

	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_WRONG_TAG,
	    "MmFreeMappingAddress: tag differs from the owner's (P2 address, P3 caller's tag, P4 owner's tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_NOT_START,
	    "MmFreeMappingAddress: not the start of a live reservation (P2 address, P3 caller's tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_STILL_MAPPED,
	    "MmFreeMappingAddress: pages still mapped (P2 first mapped address, P3 tag, P4 pages mapped)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_WRONG_TAG,
	    "MmMapLockedPagesWithReservedMapping: tag differs (P2 address, P3 caller's tag, P4 owner's tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_NO_RESERVATION,
	    "MmMapLockedPagesWithReservedMapping: address in no live reservation (P2 address, P3 tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED,
	    "MmMapLockedPagesWithReservedMapping: target already mapped (P2 address, P3 first mapped, P4 last of span)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG,
	    "MmUnmapReservedMapping: tag differs (P2 address, P3 caller's tag, P4 owner's tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED,
	    "MmUnmapReservedMapping: address in no reservation or not mapped (P2 address, P3 tag)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_PAST_END,
	    "MmUnmapReservedMapping: span runs past the reservation (P2 address, P3 pages to end, P4 pages asked)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_HOLE,
	    "MmUnmapReservedMapping: a page in the span is not mapped (P2 first unmapped address)"),
	SUB(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING,
	    "MmUnmapReservedMapping or MmUnmapLockedPages: span cuts a mapping (P2 address, P3 first page of the cut "
	    "mapping, P4 pages asked)"),

	SUB(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_DOUBLE_FREE,
	    "pool block freed already: its header says free, or its page is free memory (P3 block header or 0, P4 address)"),
	SUB(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG,
	    "ExFreePoolWithTag: tag differs (P2 address, P3 allocator's tag, P4 caller's tag)"),
	SUB(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL,
	    "freeing memory the pool does not hold: never did, or its page now serves another user (P2 address)"),
	SUB(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_BAD_ADDRESS,
	    "freeing NULL, an address inside a pool block, or a slab address that starts no block (P2 address)"),

	SUB(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_SLAB_CORRUPT,
	    "a slab page's header was overwritten: magic, class, counts or list links (P2 the slab, P3 the value read, P4 the value expected)"),
	SUB(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADERS_DISAGREE,
	    "a block header's state is none the pool writes, an overrun of the block before (P2 that block's header or 0, P3 the state, P4 the header)"),
	SUB(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADER_SIZE,
	    "a live block's size is not what its allocation wrote (P3 size | class << 32, P4 the block's header)"),
	SUB(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADER_SIZE_ZERO,
	    "a live block's size is zero (P3 size | class << 32, P4 the block's header)"),
	SUB(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_FREED_MODIFIED,
	    "a free block's header was written after its free (P2 its slab, P3 its page offset, P4 its state | link << 32)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE,
	    "IoBuildPartialMdl: range outside the source MDL (P2 address, P3 length, P4 source)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL,
	    "MmFreePagesFromMdl: MDL mapped, partial, I/O space, pool memory or already freed (P2 MDL, P3 flags)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_PAGE,
	    "MmFreePagesFromMdl: a frame no MDL allocation handed out: unmanaged, free, another user's, or listed twice (P2 MDL, P3 PFN, P4 index)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_ROOM,
	    "IoBuildPartialMdl: target MDL too small (P2 target, P3 pages needed)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_OFFSET,
	    "malformed MDL: ByteOffset >= 4096 (P2 MDL, P3 ByteOffset)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_START_VA,
	    "malformed MDL: StartVa not page aligned (P2 MDL, P3 StartVa)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_COUNT,
	    "malformed MDL: ByteCount 0 where bytes are needed, or above 4 GiB - 4 KiB (P2 MDL, P3 ByteCount)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_RANGE,
	    "malformed MDL: its range wraps past the top of the address space (P2 MDL, P3 StartVa, P4 ByteCount)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_SIZE,
	    "malformed MDL: Size, or the pool block the MDL starts, cannot hold the PFNs of its span (P2 MDL, P3 Size, "
	    "P4 bytes needed)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_FLAGS,
	    "malformed MDL: flags no MDL can have, or MappedSystemVa contradicting them (P2 MDL, P3 MdlFlags, P4 "
	    "MappedSystemVa)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_FRAME,
	    "malformed MDL: a frame beyond the physical address width (P2 MDL, P3 PFN, P4 index)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BUILD_BAD_MDL,
	    "MmBuildMdlForNonPagedPool: MDL already locked, mapped, pool or partial (P2 MDL, P3 MdlFlags)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, PHYS_BUGCHECK_BAD_FREE,
	    "phys_free: frames not allocated: unaligned, none, unmanaged or free (P2 address, P3 pages, P4 address of the frame at fault)"),
	SUB(BUGCHECK_MEMORY_MANAGEMENT, VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED,
	    "verifier: a free page was written (P2 address, P3 value found, P4 pattern)"),

	SUB(BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, LOCK_BUGCHECK_ORDER,
	    "a spin lock taken out of the lock order: a lock of its rank or above is held (P2 the lock, P3 its rank, "
	    "P4 the ranks held, bit r for rank r)"),
};

/* True when code's P1 is a subcode (some entry of the table is one of its subcodes). */
static bool bugcheck_has_subcodes(uint32_t code)
{
	for (size_t i = 0; i < ARRAY_SIZE(bugcheck_table); i++)
		if (bugcheck_table[i].code == code && bugcheck_table[i].has_sub)
			return true;
	return false;
}

/* The table's entry for (code, has_sub, sub), or NULL. */
static const struct bugcheck_desc *bugcheck_find(uint32_t code, bool has_sub, uint64_t sub)
{
	for (size_t i = 0; i < ARRAY_SIZE(bugcheck_table); i++) {
		const struct bugcheck_desc *d = &bugcheck_table[i];
		if (d->code == code && d->has_sub == has_sub && (!has_sub || d->sub == sub))
			return d;
	}
	return NULL;
}

const struct bugcheck_desc *bugcheck_describe(uint32_t code, uint64_t p1)
{
	return bugcheck_find(code, bugcheck_has_subcodes(code), p1);
}

const char *bugcheck_name(uint32_t code)
{
	const struct bugcheck_desc *d = bugcheck_find(code, false, 0);
	return d ? d->name : "UNKNOWN";
}

const char *bugcheck_subcode_name(uint32_t code, uint64_t p1)
{
	const struct bugcheck_desc *d = bugcheck_has_subcodes(code) ? bugcheck_find(code, true, p1) : NULL;
	return d ? d->name : NULL;
}

const char *bugcheck_explain(uint32_t code, uint64_t p1)
{
	const struct bugcheck_desc *d = bugcheck_describe(code, p1);
	if (d)
		return d->explain;
	return bugcheck_has_subcodes(code) ? "unknown subcode of this code" : "";
}
