/*
 * An outside program using the hosted memory manager exactly as README "Hosted library" shows:
 * the machine made by host_machine_create alone, then every function include/wdm.h declares,
 * called as a driver would, with the WDK's own spellings (NTSTATUS, TRUE/FALSE, STATUS_*). The
 * machine is then destroyed and re-created with other sizes, and everything runs again. Region
 * mappings are not host memory: they are checked through the machine's page tables. Prints TAP
 * so the test suite can run it as built by the README's command (tools/hosted-example.sh).
 */
#include <stdio.h>
#include <string.h>
#include "wdm.h"
#include "host_machine.h"
#include "bugcheck.h"

#define EX_TAG 0x486d4578u   /* 'xEmH' as a WDK multi-character constant */
#define EX_POOL 0x6c6f5078u  /* 'xPol' */

static int n, bad;
#define CHECK(c, ...) do { n++; if (c) printf("ok %d - ", n); else { bad++; printf("not ok %d - ", n); } \
			   printf(__VA_ARGS__); printf("\n"); } while (0)

static unsigned got_code;
static unsigned long long got_sub, got_count;

static void on_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	(void)p2; (void)p3; (void)p4;
	got_code = code;
	got_sub = p1;
	got_count++;
}

/* The frame a kernel address maps to in the machine's tables, or 0. */
static PFN_NUMBER frame_at(const void *va)
{
	paddr_t pa;
	return pt_query(host_machine_pt(), (vaddr_t)va, &pa, NULL, NULL) ? (PFN_NUMBER)(pa >> PAGE_SHIFT) : 0;
}

static PHYSICAL_ADDRESS phys(long long v) { PHYSICAL_ADDRESS p; p.QuadPart = v; return p; }

/* A driver routine in the WDK's style: a nonpaged buffer described by a built MDL. */
static NTSTATUS describe_buffer(ULONG bytes, PVOID *buffer, PMDL *mdl)
{
	*buffer = ExAllocatePoolWithTag(NonPagedPoolNx, bytes, EX_POOL);
	if (*buffer == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	*mdl = IoAllocateMdl(*buffer, bytes, FALSE, FALSE, NULL);
	if (*mdl == NULL) {
		ExFreePoolWithTag(*buffer, EX_POOL);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	MmBuildMdlForNonPagedPool(*mdl);
	return STATUS_SUCCESS;
}

/* Reserved mappings: the ring-buffer pattern of the spec and the misuse interception. */
static void reserved_mappings(void)
{
	PMDL pages = MmAllocatePagesForMdl(phys(0), phys(-1), phys(0), 3 * PAGE_SIZE);
	CHECK(pages && MmGetMdlByteCount(pages) == 3 * PAGE_SIZE && MmGetMdlByteOffset(pages) == 0 &&
	      MmGetMdlVirtualAddress(pages) == NULL, "MmAllocatePagesForMdl: 3 pages, StartVa NULL");
	char *ring = MmAllocateMappingAddressEx(6 * PAGE_SIZE, EX_TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	CHECK(ring && (uintptr_t)ring % (6 * PAGE_SIZE) == 0, "MmAllocateMappingAddressEx DIVISIBLE: 6 pages at a multiple of 24 KiB");
	struct { MDL mdl; PFN_NUMBER pfn[3]; } second;
	CHECK(MmSizeOfMdl(NULL, 3 * PAGE_SIZE) == sizeof(second), "MmSizeOfMdl");
	MmInitializeMdl(&second.mdl, NULL, 3 * PAGE_SIZE);
	second.mdl.MdlFlags = MDL_PAGES_LOCKED;
	memcpy(MmGetMdlPfnArray(&second.mdl), MmGetMdlPfnArray(pages), 3 * sizeof(PFN_NUMBER));
	CHECK(MmMapLockedPagesWithReservedMapping(ring, EX_TAG, pages, MmCached) == ring &&
	      MmMapLockedPagesWithReservedMapping(ring + 3 * PAGE_SIZE, EX_TAG, &second.mdl, MmCached) == ring + 3 * PAGE_SIZE,
	      "the same 3 pages mapped twice back to back");
	CHECK(frame_at(ring + 4 * PAGE_SIZE) == MmGetMdlPfnArray(pages)[1] && frame_at(ring + PAGE_SIZE) == frame_at(ring + 4 * PAGE_SIZE),
	      "both copies map the same frames");

	/* The tear-down MDL of the growable-region pattern: built by walking the tables over the mapping. */
	PMDL walk = IoAllocateMdl(ring, 6 * PAGE_SIZE, FALSE, FALSE, NULL);
	MmBuildMdlForNonPagedPool(walk);
	CHECK(walk && MmGetMdlPfnArray(walk)[5] == MmGetMdlPfnArray(pages)[2] && (walk->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL),
	      "MmBuildMdlForNonPagedPool on mapped region addresses finds the frames");

	bugcheck_set_hook(on_bugcheck);
	got_count = 0;
	MmFreeMappingAddress(ring, EX_TAG);
	CHECK(got_count == 1 && got_code == BUGCHECK_SYSTEM_PTE_MISUSE && got_sub == SYSPTE_BUGCHECK_FREE_STILL_MAPPED, "freeing while mapped: 0xDA/0x103, intercepted");
	walk->ByteOffset = PAGE_SIZE;
	MmUnmapReservedMapping(ring, EX_TAG, walk);
	CHECK(got_count == 2 && got_code == BUGCHECK_MEMORY_MANAGEMENT && got_sub == MDL_BUGCHECK_BAD_BYTE_OFFSET && frame_at(ring),
	      "a malformed MDL (ByteOffset 4096): 0x1A/0x4D440101, still mapped");
	walk->ByteOffset = 0;
	MmUnmapReservedMapping(ring, EX_TAG, NULL);
	CHECK(got_count == 3 && got_code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, "a NULL MDL: 0x50");
	bugcheck_set_hook(NULL);

	MmUnmapReservedMapping(ring, EX_TAG, walk);   /* one unmap over both mappings */
	CHECK(!frame_at(ring) && !frame_at(ring + 5 * PAGE_SIZE) && walk->MappedSystemVa == NULL, "unmapped with the walked MDL");
	IoFreeMdl(walk);
	MmFreeMappingAddress(ring, EX_TAG);
	pages->MdlFlags &= ~MDL_MAPPED_TO_SYSTEM_VA;   /* its mapping went with the walked MDL's unmap */
	pages->MappedSystemVa = NULL;
	char *plain = MmAllocateMappingAddress(PAGE_SIZE, EX_TAG);
	CHECK(plain != NULL, "MmAllocateMappingAddress");
	MmFreeMappingAddress(plain, EX_TAG);
	MmFreePagesFromMdl(pages);
	CHECK(pages->ByteCount == 0, "MmFreePagesFromMdl");
	ExFreePool(pages);
}

/* The MDL toolkit: pool buffers, partial MDLs, system mappings, physical allocations. */
static void mdl_toolkit(void)
{
	PVOID buf;
	PMDL mdl;
	NTSTATUS st = describe_buffer(3 * PAGE_SIZE, &buf, &mdl);
	CHECK(NT_SUCCESS(st) && MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority) == buf,
	      "IoAllocateMdl + MmBuildMdlForNonPagedPool on pool memory: the system address is the buffer");
	memset(buf, 0x5a, 3 * PAGE_SIZE);
	CHECK(MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority) == buf,
	      "MmMapLockedPagesSpecifyCache of a pool MDL returns its address");
	MmUnmapLockedPages(buf, mdl);

	PMDL part = IoAllocateMdl((char *)buf + 0x1100, 0x200, FALSE, FALSE, NULL);
	IoBuildPartialMdl(mdl, part, (char *)buf + 0x1100, 0x200);
	CHECK(part && (part->MdlFlags & MDL_PARTIAL) && MmGetSystemAddressForMdlSafe(part, 0) == (char *)buf + 0x1100 &&
	      MmGetMdlPfnArray(part)[0] == MmGetMdlPfnArray(mdl)[1], "IoBuildPartialMdl of a pool MDL");
	IoFreeMdl(part);
	IoFreeMdl(mdl);
	ExFreePoolWithTag(buf, EX_POOL);

	PMDL run = MmAllocatePagesForMdlEx(phys(0), phys(-1), phys(0), 8 * PAGE_SIZE, MmCached,
					   MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FULLY_REQUIRED);
	bool contiguous = run != NULL;
	for (unsigned i = 1; run && i < 8; i++)
		contiguous &= MmGetMdlPfnArray(run)[i] == MmGetMdlPfnArray(run)[0] + i;
	CHECK(contiguous, "MmAllocatePagesForMdlEx REQUIRE_CONTIGUOUS_CHUNKS: one run of 8 frames");
	char *sys = MmMapLockedPagesSpecifyCache(run, KernelMode, MmWriteCombined, NULL, FALSE, NormalPagePriority);
	CHECK(sys && frame_at(sys + 7 * PAGE_SIZE) == MmGetMdlPfnArray(run)[7] && MmGetSystemAddressForMdlSafe(run, 0) == sys,
	      "MmMapLockedPagesSpecifyCache maps the run into the region");
	PMDL sub = IoAllocateMdl(sys + 0x2800, 0x1000, FALSE, FALSE, NULL);
	IoBuildPartialMdl(run, sub, (PVOID)((uintptr_t)MmGetMdlVirtualAddress(run) + 0x2800), 0x1000);
	char *subva = MmGetSystemAddressForMdlSafe(sub, NormalPagePriority);
	CHECK(sub && (sub->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA) && subva == sys + 0x2800,
	      "a partial MDL of a mapped MDL lies in the parent's mapping");
	IoFreeMdl(sub);
	MmUnmapLockedPages(sys, run);
	CHECK(!frame_at(sys) && run->MappedSystemVa == NULL, "MmUnmapLockedPages");
	MmFreePagesFromMdl(run);
	ExFreePool(run);

	void *small = ExAllocatePoolWithTag(NonPagedPool, 40, EX_POOL);
	CHECK(small && (uintptr_t)small % 16 == 0, "ExAllocatePoolWithTag");
	ExFreePool(small);
	CHECK(BYTE_OFFSET(0x12345) == 0x345 && PAGE_ALIGN(0x12345) == (PVOID)0x12000 &&
	      ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x12fff, 2) == 2, "BYTE_OFFSET, PAGE_ALIGN, ADDRESS_AND_SIZE_TO_SPAN_PAGES");
}

int main(void)
{
	static const struct { unsigned long long ram, region; } machines[] = {
		{ 64ULL << 20, 16ULL << 20 }, { 256ULL << 20, 64ULL << 20 }, { 64ULL << 20, 16ULL << 20 },
	};
	for (unsigned m = 0; m < sizeof(machines) / sizeof(machines[0]); m++) {
		if (m)
			host_machine_destroy();
		CHECK(host_machine_create(machines[m].ram, machines[m].region) == 0, "machine %u: %llu MiB of RAM, a %llu MiB region", m,
		      machines[m].ram >> 20, machines[m].region >> 20);
		reserved_mappings();
		mdl_toolkit();
	}
	printf("1..%d\n", n);
	return bad != 0;
}
