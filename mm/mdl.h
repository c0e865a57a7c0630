/*
 * mdl_: what a well-formed MDL is, and the one validator every entry point of mm/mdl.c and
 * mm/reserved.c that reads an MDL calls before it trusts a field (README "What a valid MDL is").
 *
 * A valid MDL [ours where Windows only asserts]:
 *  - ByteOffset < PAGE_SIZE and StartVa page aligned (MmInitializeMdl's own output);
 *  - ByteCount <= MDL_MAX_BYTES (4 GiB - 4 KiB, the largest buffer Windows describes), and
 *    >= 1 where the call needs bytes (MDL_CHECK_BYTES);
 *  - [StartVa + ByteOffset, + ByteCount) does not wrap past the top of the address space;
 *  - room for the PFN array its span needs (mdl_room_ok): Size, read as the WDK's unsigned 16-bit
 *    byte count, >= 0x30 + 8 * span. Over 8185 pages that does not fit: MmInitializeMdl's Size is
 *    truncated, and the block's own size decides for an MDL that starts a pool block; outside the
 *    pool Size must equal the truncated value. A pool block made for more than 8185 pages keeps
 *    that truncated Size when a call shrinks the span (a partial MmAllocatePagesForMdlEx, a free
 *    that zeroes ByteCount, IoBuildPartialMdl into a large target): with Size the truncation of
 *    the block's size, the block decides for any span;
 *  - flags an MDL can have: none of MDL_FLAGS_FOREIGN; PARTIAL_HAS_BEEN_MAPPED only with PARTIAL
 *    and MAPPED_TO_SYSTEM_VA; PARENT_MAPPED_SYSTEM_VA only with PARTIAL; MAPPED_TO_SYSTEM_VA only
 *    with a MappedSystemVa; a MappedSystemVa under MAPPED_TO_SYSTEM_VA or PARENT_MAPPED_SYSTEM_VA
 *    page aligned (this kernel's page-base convention); SOURCE_IS_NONPAGED_POOL never with either
 *    mapping flag, and its MappedSystemVa NULL or the data address StartVa + ByteOffset;
 *  - with MDL_CHECK_FRAMES, every frame of the span below 2^MAXPHYADDR (arch_phys_addr_bits()).
 *    Any such frame may be mapped [ours]: RAM or device memory, the kernel does not judge it.
 */
#ifndef MDL_H
#define MDL_H

#include "wdm.h"
#include "types.h"
#include "pool.h"

struct pt;

#define MDL_MAX_BYTES ((1ULL << 32) - PAGE_SIZE)   /* WDK: an MDL describes at most 4 GiB - PAGE_SIZE */

/* Flags only Windows' own memory manager sets, for features this kernel lacks (AWE) or for its
 * internal bookkeeping; no MDL passed to this kernel carries them. */
#define MDL_FLAGS_FOREIGN (MDL_FREE_EXTRA_PTES | MDL_DESCRIBES_AWE | MDL_INTERNAL)

/* What mdl_validate found wrong, first rule broken in this order. */
enum mdl_invalid {
	MDL_VALID = 0,
	MDL_INVALID_BYTE_OFFSET = 1,  /* ByteOffset >= PAGE_SIZE */
	MDL_INVALID_START_VA = 2,     /* StartVa not page aligned */
	MDL_INVALID_BYTE_COUNT = 3,   /* above MDL_MAX_BYTES, or 0 under MDL_CHECK_BYTES */
	MDL_INVALID_RANGE = 4,        /* the described range wraps past 2^64 */
	MDL_INVALID_SIZE = 5,         /* no room for the span's PFN array */
	MDL_INVALID_FLAGS = 6,        /* a foreign flag, or a combination no MDL can have */
	MDL_INVALID_FRAME = 7,        /* a frame at or beyond the physical address width */
};

/* Extra requirements of a call, on top of the header rules. */
#define MDL_CHECK_BYTES  0x1u     /* ByteCount >= 1 */
#define MDL_CHECK_FRAMES 0x2u     /* every frame of the span below 2^MAXPHYADDR */

/* The offending values of a failed validation: the bug check's P3 and P4. */
struct mdl_fault {
	enum mdl_invalid why;
	uint64_t value;   /* the field: ByteOffset, StartVa, ByteCount, Size, MdlFlags, the PFN */
	uint64_t extra;   /* ByteCount (RANGE), bytes needed (SIZE), MappedSystemVa (FLAGS), index (FRAME) */
};

/*
 * A malformed MDL passed to a call that cannot return an error is bug check 0x1A, P1
 * MDL_BUGCHECK_INVALID_BASE + enum mdl_invalid (MDL_BUGCHECK_BAD_BYTE_OFFSET ..
 * MDL_BUGCHECK_BAD_FRAME, mm/bugcheck_codes.h), P2 the MDL, P3 and P4 struct mdl_fault.
 */

/* Pool tags of the MDL toolkit's own memory. */
#define MDL_TAG_IO    POOL_TAG4('M', 'd', 'l', ' ')  /* MDL structures from IoAllocateMdl */
#define MDL_TAG_PAGES POOL_TAG4('M', 'd', 'l', 'P')  /* MDL structures from MmAllocatePagesForMdl[Ex] */
#define MDL_TAG_MAP   POOL_TAG4('M', 'd', 'l', 'M')  /* reservations made by MmMapLockedPagesSpecifyCache */

/*
 * The kernel address space MmBuildMdlForNonPagedPool translates kernel virtual addresses through.
 * mm_init registers the kernel's tables (kernel/mminit.c); a host machine registers its own.
 */
void mm_set_kernel_pt(struct pt *pt);
struct pt *mm_get_kernel_pt(void);

/* Pages the MDL spans: ADDRESS_AND_SIZE_TO_SPAN_PAGES(StartVa + ByteOffset, ByteCount), in 64 bits. */
uint64_t mdl_span_pages(const MDL *mdl);
/* True when the MDL has room for a PFN array of pages entries (the Size rule above). */
bool mdl_room_ok(const MDL *mdl, uint64_t pages);
/* Checks mdl (not NULL) against the rules and checks; MDL_VALID, or the first rule broken with
 * its values in *f (f may be NULL). Reads the MDL only: safe on any readable header whose PFN
 * array has the room the rules demand. */
enum mdl_invalid mdl_validate(const MDL *mdl, unsigned checks, struct mdl_fault *f);
/* mdl_validate for calls that cannot return an error: true when valid, otherwise bug check 0x1A
 * (MDL_BUGCHECK_INVALID_BASE + reason) and false (the hook returned; the caller changes nothing). */
bool mdl_require(const MDL *mdl, unsigned checks);
/* True when the MDL may be mapped: valid with bytes, locked or partial, not already mapped (nor a
 * partial whose mapping lives), not nonpaged pool (mapped by nature). Its frames are not read: the
 * region's map refuses a frame beyond the physical width in the one pass over them that also
 * finds its 2 MiB runs (syspte_map), so MmMapLockedPagesWithReservedMapping reads each once. */
bool mdl_mappable(const MDL *mdl);
/* A NULL MDL where one is needed: what dereferencing it would be, bug check 0x50 (P1 0, P2 0 read,
 * P3 caller, P4 0). */
void mdl_null_bugcheck(void *caller);
/* A short name of a reason ("ByteOffset >= PAGE_SIZE"), for reports and tests. */
const char *mdl_invalid_name(enum mdl_invalid why);

#endif
