/*
 * The WDK-compatible memory-manager API this kernel implements (x86-64, 4 KiB pages).
 * Semantics: docs/contract.md, which marks our choices where Windows is silent as [ours].
 * Names, types and layouts follow the WDK's wdm.h so driver code ports unchanged.
 */
#ifndef WDM_H
#define WDM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/*
 * The WDK's basic types (ntdef.h / basetsd.h), with the widths they have on 64-bit Windows: LONG
 * and ULONG are 32 bits there (LLP64), so they are int32_t/uint32_t here, not C's long.
 */
typedef void VOID, *PVOID;
typedef char CHAR, *PCHAR;
typedef uint8_t UCHAR, *PUCHAR, BOOLEAN, *PBOOLEAN;
typedef int16_t SHORT, *PSHORT, CSHORT;
typedef uint16_t USHORT, *PUSHORT;
typedef int32_t LONG, *PLONG;
typedef uint32_t ULONG, *PULONG;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, LONG_PTR, SSIZE_T;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, ULONG_PTR, *PULONG_PTR, SIZE_T, *PSIZE_T;
typedef uint64_t PFN_NUMBER, *PPFN_NUMBER;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef struct _EPROCESS *PEPROCESS;
typedef struct _IRP *PIRP;
/* As the WDK's: the halves both as direct members (its anonymous DUMMYSTRUCTNAME) and through u. */
typedef union _LARGE_INTEGER {
	struct { ULONG LowPart; LONG HighPart; };
	struct { ULONG LowPart; LONG HighPart; } u;
	int64_t QuadPart;
} LARGE_INTEGER;
typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define ARGUMENT_PRESENT(ArgumentPointer) ((CHAR *)((ULONG_PTR)(ArgumentPointer)) != (CHAR *)NULL)

/* NTSTATUS (ntstatus.h): severity in the top two bits; success and information are >= 0. */
#define NT_SUCCESS(Status)     (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status)     ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status)       ((((ULONG)(Status)) >> 30) == 3)
#define STATUS_SUCCESS                ((NTSTATUS)0x00000000)
#define STATUS_UNSUCCESSFUL           ((NTSTATUS)0xC0000001)
#define STATUS_NOT_IMPLEMENTED        ((NTSTATUS)0xC0000002)
#define STATUS_ACCESS_VIOLATION       ((NTSTATUS)0xC0000005)
#define STATUS_INVALID_PARAMETER      ((NTSTATUS)0xC000000D)
#define STATUS_NO_MEMORY              ((NTSTATUS)0xC0000017)
#define STATUS_BUFFER_TOO_SMALL       ((NTSTATUS)0xC0000023)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009A)
#define STATUS_NOT_SUPPORTED          ((NTSTATUS)0xC00000BB)

/* Same spelling as include/types.h so both headers may be included together. */
#define PAGE_SHIFT 12
#define PAGE_SIZE  ((uint64_t)1 << PAGE_SHIFT)
#define WDK_PAGE_SHIFT PAGE_SHIFT

/* Memory descriptor list: a 0x30-byte header followed directly by the PFN array. */
typedef struct _MDL {
	struct _MDL *Next;          /* 0x00 */
	CSHORT Size;                /* 0x08: header + PFN array bytes */
	CSHORT MdlFlags;            /* 0x0A */
	USHORT AllocationProcessorNumber; /* 0x0C */
	USHORT Reserved;            /* 0x0E */
	PEPROCESS Process;          /* 0x10 */
	PVOID MappedSystemVa;       /* 0x18 */
	PVOID StartVa;              /* 0x20: page aligned */
	ULONG ByteCount;            /* 0x28 */
	ULONG ByteOffset;           /* 0x2C */
} MDL, *PMDL;

#define MDL_MAPPED_TO_SYSTEM_VA     0x0001
#define MDL_PAGES_LOCKED            0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE    0x0008
#define MDL_PARTIAL                 0x0010
#define MDL_PARTIAL_HAS_BEEN_MAPPED 0x0020
#define MDL_IO_PAGE_READ            0x0040
#define MDL_WRITE_OPERATION         0x0080
#define MDL_PARENT_MAPPED_SYSTEM_VA 0x0100
#define MDL_FREE_EXTRA_PTES         0x0200
#define MDL_DESCRIBES_AWE           0x0400
#define MDL_IO_SPACE                0x0800
#define MDL_NETWORK_HEADER          0x1000
#define MDL_MAPPING_CAN_FAIL        0x2000
#define MDL_PAGE_CONTENTS_INVARIANT 0x4000
#define MDL_INTERNAL                0x8000

typedef enum _MEMORY_CACHING_TYPE {
	MmNonCached = 0, MmCached = 1, MmWriteCombined = 2, MmHardwareCoherentCached = 3,
	MmNonCachedUnordered = 4, MmUSWCCached = 5, MmMaximumCacheType = 6
} MEMORY_CACHING_TYPE;

typedef enum _MODE { KernelMode = 0, UserMode = 1 } KPROCESSOR_MODE;
typedef enum _MM_PAGE_PRIORITY { LowPagePriority = 0, NormalPagePriority = 16, HighPagePriority = 32 } MM_PAGE_PRIORITY;
#define MdlMappingNoWrite   0x80000000u
#define MdlMappingNoExecute 0x40000000u

typedef enum _POOL_TYPE { NonPagedPool = 0, NonPagedPoolNx = 512 } POOL_TYPE;

#define MM_MAPPING_ADDRESS_DIVISIBLE 0x1

#define MM_DONT_ZERO_ALLOCATION                 0x00000001
#define MM_ALLOCATE_FROM_LOCAL_NODE_ONLY        0x00000002
#define MM_ALLOCATE_FULLY_REQUIRED              0x00000004
#define MM_ALLOCATE_NO_WAIT                     0x00000008
#define MM_ALLOCATE_PREFER_CONTIGUOUS           0x00000010
#define MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS   0x00000020
#define MM_ALLOCATE_FAST_LARGE_PAGES            0x00000040

#define BYTE_OFFSET(va) ((ULONG)((ULONG_PTR)(va) & (PAGE_SIZE - 1)))
#define PAGE_ALIGN(va) ((PVOID)((ULONG_PTR)(va) & ~(PAGE_SIZE - 1)))
/* Pages touched by [va, va + size). */
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, size) \
	((ULONG)((((ULONG_PTR)(va) & (PAGE_SIZE - 1)) + (ULONG64)(size) + PAGE_SIZE - 1) >> WDK_PAGE_SHIFT))

static inline PPFN_NUMBER MmGetMdlPfnArray(PMDL mdl) { return (PPFN_NUMBER)(mdl + 1); }
static inline ULONG MmGetMdlByteCount(const MDL *mdl) { return mdl->ByteCount; }
static inline ULONG MmGetMdlByteOffset(const MDL *mdl) { return mdl->ByteOffset; }
/* Integer arithmetic: StartVa may be NULL (an MDL for the first page, or one with no virtual address). */
static inline PVOID MmGetMdlVirtualAddress(const MDL *mdl) { return (PVOID)((ULONG_PTR)mdl->StartVa + mdl->ByteOffset); }

/* Reserved mappings. */
PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag);
PVOID MmAllocateMappingAddressEx(SIZE_T NumberOfBytes, ULONG PoolTag, ULONG Flags);
VOID MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag);
PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag, PMDL Mdl,
					  MEMORY_CACHING_TYPE CacheType);
VOID MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL Mdl);

/* MDLs. */
SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length);
VOID MmInitializeMdl(PMDL Mdl, PVOID BaseVa, SIZE_T Length);
PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp);
VOID IoFreeMdl(PMDL Mdl);
VOID MmBuildMdlForNonPagedPool(PMDL Mdl);
VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length);
PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
			   PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes);
PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
			     PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes, MEMORY_CACHING_TYPE CacheType, ULONG Flags);
VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList);
PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
				   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress, ULONG BugCheckOnFailure,
				   ULONG Priority);
VOID MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList);
PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority);

/* Bug checks (docs/contract.md section 8): as the WDK's, but it returns while a test's hook is
 * installed (mm/bugcheck.h declares it too, with the same types, and installs the hook). */
VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,
		  ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4);

/* Nonpaged pool. */
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
VOID ExFreePoolWithTag(PVOID P, ULONG Tag);
VOID ExFreePool(PVOID P);

#endif
