/*
 * Every bug check this kernel raises, by name: the codes, the subcodes (parameter 1) of the codes
 * that have them, and the parameter values that carry a meaning. This header is the vocabulary;
 * mm/bugcheck.c holds one explanation per entry (bugcheck_describe), the report decoder reads
 * them, and tests/host/test_bugcheck.c checks that every name below has one. docs/contract.md
 * section 8 lists the same in prose.
 *
 * Each list is an X-macro so that a name is written once and the test can walk them all:
 * BUGCHECK_CODE_LIST(X) calls X(name, value, "NAME") per code; BUGCHECK_SUBCODE_LIST(X) calls
 * X(code, name, value) per subcode.
 */
#ifndef BUGCHECK_CODES_H
#define BUGCHECK_CODES_H

/*
 * The codes, with Windows' values and names. SPIN_LOCK_ALREADY_OWNED, SPIN_LOCK_NOT_OWNED and
 * DRIVER_VERIFIER_DETECTED_VIOLATION report lock misuse (include/spinlock.h); Windows documents no
 * parameters for the first two, so theirs are [ours] (mm/spinlock.c).
 */
#define BUGCHECK_CODE_LIST(X) \
	X(BUGCHECK_SPIN_LOCK_ALREADY_OWNED, 0x0F, "SPIN_LOCK_ALREADY_OWNED") \
	X(BUGCHECK_SPIN_LOCK_NOT_OWNED, 0x10, "SPIN_LOCK_NOT_OWNED") \
	X(BUGCHECK_BAD_POOL_HEADER, 0x19, "BAD_POOL_HEADER") \
	X(BUGCHECK_MEMORY_MANAGEMENT, 0x1A, "MEMORY_MANAGEMENT") \
	X(BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, 0x1E, "KMODE_EXCEPTION_NOT_HANDLED") \
	X(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0x50, "PAGE_FAULT_IN_NONPAGED_AREA") \
	X(BUGCHECK_BAD_POOL_CALLER, 0xC2, "BAD_POOL_CALLER") \
	X(BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION") \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, 0xDA, "SYSTEM_PTE_MISUSE")

/*
 * The subcodes. The parameters each one carries are in its explanation (mm/bugcheck.c) and in
 * docs/contract.md.
 *  - SYSTEM_PTE_MISUSE (0xDA): misuse of the reserved-mapping calls, raised by the system PTE
 *    region (mm/syspte*.c), which alone assembles their parameters; 0x10C also by
 *    MmUnmapLockedPages (mm/mdl.c) for a span that is not its own mapping.
 *  - BAD_POOL_CALLER (0xC2): misuse of ExFreePool[WithTag] (mm/pool.c), Windows' subcodes.
 *  - BAD_POOL_HEADER (0x19): a pool block header no pool call wrote (an overrun of the block before
 *    it, a write after a free), found by ExAllocatePoolWithTag or ExFreePool[WithTag] (mm/pool.c),
 *    under Windows' subcodes for the same findings.
 *  - MEMORY_MANAGEMENT (0x1A): [ours] the MDL toolkit (0x4D44xxxx, "MD"; a malformed MDL is
 *    MDL_BUGCHECK_INVALID_BASE + enum mdl_invalid, mm/mdl.h), a bad phys_free (0x50480001, "PH")
 *    and the verifier's free-page pattern (0x5A01).
 *  - DRIVER_VERIFIER_DETECTED_VIOLATION (0xC4): a lock taken out of the documented order, under
 *    Windows' subcode for a lock hierarchy violation found by deadlock detection.
 */
#define BUGCHECK_SUBCODE_LIST(X) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_WRONG_TAG, 0x101) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_NOT_START, 0x102) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_FREE_STILL_MAPPED, 0x103) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_WRONG_TAG, 0x104) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_NO_RESERVATION, 0x105) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, 0x107) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, 0x108) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, 0x109) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_PAST_END, 0x10A) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_HOLE, 0x10B) \
	X(BUGCHECK_SYSTEM_PTE_MISUSE, SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, 0x10C) \
	X(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_DOUBLE_FREE, 0x07) \
	X(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG, 0x0A) \
	X(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_NOT_POOL, 0x42) \
	X(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_BAD_ADDRESS, 0x46) \
	X(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_SLAB_CORRUPT, 0x03) \
	X(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADERS_DISAGREE, 0x05) \
	X(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADER_SIZE, 0x07) \
	X(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_HEADER_SIZE_ZERO, 0x08) \
	X(BUGCHECK_BAD_POOL_HEADER, POOL_BUGCHECK_FREED_MODIFIED, 0x0D) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_RANGE, 0x4D440001) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL, 0x4D440002) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_PAGE, 0x4D440003) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_PARTIAL_ROOM, 0x4D440004) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_OFFSET, 0x4D440101) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_START_VA, 0x4D440102) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_BYTE_COUNT, 0x4D440103) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_RANGE, 0x4D440104) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_SIZE, 0x4D440105) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_FLAGS, 0x4D440106) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_FRAME, 0x4D440107) \
	X(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BUILD_BAD_MDL, 0x4D440108) \
	X(BUGCHECK_MEMORY_MANAGEMENT, PHYS_BUGCHECK_BAD_FREE, 0x50480001) \
	X(BUGCHECK_MEMORY_MANAGEMENT, VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED, 0x5A01) \
	X(BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, LOCK_BUGCHECK_ORDER, 0x1001)

#define BUGCHECK_CODE_ENUM_(name, value, str) name = value,
#define BUGCHECK_SUBCODE_ENUM_(code, name, value) name = value,
enum bugcheck_code { BUGCHECK_CODE_LIST(BUGCHECK_CODE_ENUM_) };
enum bugcheck_subcode { BUGCHECK_SUBCODE_LIST(BUGCHECK_SUBCODE_ENUM_) };

/* The first of the MDL validator's subcodes: MDL_BUGCHECK_INVALID_BASE + enum mdl_invalid. */
#define MDL_BUGCHECK_INVALID_BASE 0x4D440100u

/* PAGE_FAULT_IN_NONPAGED_AREA (0x50): P1 the address referenced, P2 the kind of access below, P3
 * the faulting instruction's address, P4 [ours] the base of the reservation holding P1, or 0. */
#define PF_NONPAGED_READ  0x00   /* P2: a read */
#define PF_NONPAGED_WRITE 0x01   /* P2: a write */
#define PF_NONPAGED_FETCH 0x10   /* P2: an instruction fetch */

#endif
