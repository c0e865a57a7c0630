/*
 * docs/contract.md's example code compiled and run as written, against the hosted library built by
 * the README's command (tools/hosted-example.sh): section 7's looped ring buffer, which the script
 * pastes from the contract into contract_ring.inc, inside a routine that makes its two MDLs as
 * section 7 says (the pages from MmAllocatePagesForMdlEx, the second MDL over the same pages by
 * IoBuildPartialMdl). Each map is checked as it happens: at the address asked, the second copy on
 * the first copy's frames; then no bug check, nothing left reserved or mapped. Exits 0, or 1
 * naming the first failure. wdm.h and mm/bugcheck.h are both included: their KeBugCheckEx agree.
 */
#include <stdio.h>
#include "wdm.h"
#include "host_machine.h"
#include "bugcheck.h"
#include "reserved.h"
#include "syspte.h"

static unsigned bugchecks, maps, failed;
static PVOID first_va;

static void fail(const char *what)
{
	printf("example_contract: %s\n", what);
	failed++;
}

static void on_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	printf("example_contract: bug check 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", code,
	       (unsigned long long)p1, (unsigned long long)p2, (unsigned long long)p3, (unsigned long long)p4);
	bugchecks++;
}

/* The frame at a region address in the machine's tables, or ~0 when none is mapped there. */
static paddr_t frame_at(PVOID va)
{
	paddr_t pa;
	return pt_query(host_machine_pt(), (vaddr_t)va, &pa, NULL, NULL) ? pa : ~(paddr_t)0;
}

/* The real map, checked: at the address asked; the second map on the first one's frames. */
static PVOID checked_map(PVOID va, ULONG tag, PMDL mdl, MEMORY_CACHING_TYPE type)
{
	PVOID got = MmMapLockedPagesWithReservedMapping(va, tag, mdl, type);
	if (got != va)
		fail("a map did not return the address asked");
	else if (maps++ == 0)
		first_va = va;
	else
		for (ULONG i = 0; i < ADDRESS_AND_SIZE_TO_SPAN_PAGES(0, mdl->ByteCount); i++)
			if (frame_at((char *)va + i * PAGE_SIZE) != frame_at((char *)first_va + i * PAGE_SIZE))
				fail("the second copy is not on the first copy's pages");
	return got;
}
#define MmMapLockedPagesWithReservedMapping checked_map

/* Section 7's code for N pages, with the MDLs it assumes. */
static void looped_ring_buffer(SIZE_T N)
{
	PHYSICAL_ADDRESS low, high, skip;
	low.QuadPart = 0;
	high.QuadPart = -1;
	skip.QuadPart = 0;
	PMDL first_mdl = MmAllocatePagesForMdlEx(low, high, skip, N * PAGE_SIZE, MmCached, 0);
	PMDL second_mdl = IoAllocateMdl(NULL, (ULONG)(N * PAGE_SIZE), FALSE, FALSE, NULL);
	if (!first_mdl || !second_mdl) {
		fail("no MDLs");
		return;
	}
	IoBuildPartialMdl(first_mdl, second_mdl, MmGetMdlVirtualAddress(first_mdl), 0);
	maps = 0;
#include "contract_ring.inc"
	if (maps != 2)
		fail("not two maps");
	IoFreeMdl(second_mdl);
	MmFreePagesFromMdl(first_mdl);
	ExFreePool(first_mdl);
}

int main(void)
{
	host_machine_create(64ULL << 20, 16ULL << 20);
	bugcheck_set_hook(on_bugcheck);
	looped_ring_buffer(3);
	looped_ring_buffer(4);
	struct syspte_stats st;
	syspte_get_stats(reserved_region(), &st);
	if (bugchecks)
		fail("bug checks raised");
	if (st.live || st.pages_mapped)
		fail("reservations or mappings left");
	host_machine_destroy();
	printf("example_contract: section 7's looped ring buffer %s\n", failed ? "FAILED" : "ran as written");
	return failed != 0;
}
