/*
 * Host regression tests of the placement contract (README "Choices marked [ours]", mm/buddy.h): a
 * request without a divisor is refused only when no free run of its length exists. The cases the
 * issue reported, each on the hosted machine as a driver would meet them:
 *  - a 16 MiB region with 4094 free pages in one run: 8 MiB granted (a binary buddy refused it
 *    and granted 8 MiB + 4 KiB);
 *  - a 2 GiB machine with its only naturally aligned 1 GiB block broken:
 *    MmAllocatePagesForMdlEx(REQUIRE_CONTIGUOUS_CHUNKS) grants 1 GiB, and refuses only what no run holds;
 *  - a 512 GiB region on a 2 GiB machine: its 1 GiB of page tables is one unaligned run; there, the
 *    4 GiB rule ([ours]) where the region could hold more: generated sizes from 4 GiB up refused,
 *    with the region unchanged, sizes just under it granted, their pages rounded up.
 * Each machine is made once, in this order (the pool is used only on the last one).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "phys.h"
#include "pool.h"
#include "syspte.h"
#include "reserved.h"
#include "vmlayout.h"
#include "test_rng.h"

#define TAG POOL_TAG4('P', 'l', 'a', 'c')
#define REGION_PAGES 4096ULL

static uint64_t page_index(const void *va) { return ((uintptr_t)va - SYSPTE_BASE) >> PAGE_SHIFT; }

/* Reserves bytes (flags) and frees it again; true when it was granted (and divisible when asked). */
static bool reserve_and_free(uint64_t bytes, ULONG flags)
{
	void *va = MmAllocateMappingAddressEx(bytes, TAG, flags);
	if (!va)
		return false;
	bool ok = !(flags & MM_MAPPING_ADDRESS_DIVISIBLE) || (uintptr_t)va % bytes == 0;
	MmFreeMappingAddress(va, TAG);
	return ok;
}

static void test_region_run(void)
{
	is(host_machine_create(64ULL << 20, REGION_PAGES << PAGE_SHIFT), 0, "machine: 64 MiB of RAM, a 16 MiB region");
	static void *one[REGION_PAGES];
	uint64_t got = 0;
	while (got < REGION_PAGES && (one[got] = MmAllocateMappingAddress(PAGE_SIZE, TAG)))
		got++;
	is(got, REGION_PAGES, "the region holds 4096 one-page reservations");
	for (uint64_t i = 0; i < got; i++)   /* keep the first and the last page: 4094 free in one run */
		if (page_index(one[i]) != 0 && page_index(one[i]) != REGION_PAGES - 1)
			MmFreeMappingAddress(one[i], TAG);
	struct syspte_stats st;
	syspte_get_stats(reserved_region(), &st);
	is(st.free_pages, REGION_PAGES - 2, "4094 pages free in one run, no 8 MiB aligned block");
	ok(reserve_and_free(8ULL << 20, 0), "8 MiB granted (a binary buddy refused it)");
	ok(reserve_and_free((8ULL << 20) + PAGE_SIZE, 0), "8 MiB + 4 KiB granted");
	ok(reserve_and_free(4ULL << 20, 0) && reserve_and_free(2ULL << 20, 0), "4 MiB and 2 MiB granted");
	ok(reserve_and_free((REGION_PAGES - 2) << PAGE_SHIFT, 0), "4094 pages granted: the whole run");
	ok(!MmAllocateMappingAddress((REGION_PAGES - 1) << PAGE_SHIFT, TAG), "4095 pages refused: no such run");
	ok(!MmAllocateMappingAddressEx(8ULL << 20, TAG, MM_MAPPING_ADDRESS_DIVISIBLE),
	   "8 MiB DIVISIBLE refused: no free run starts on a multiple of 8 MiB");
	ok(reserve_and_free(4ULL << 20, MM_MAPPING_ADDRESS_DIVISIBLE), "4 MiB DIVISIBLE granted, divisible");
	for (uint64_t i = 0; i < got; i++)
		if (page_index(one[i]) == 0 || page_index(one[i]) == REGION_PAGES - 1)
			MmFreeMappingAddress(one[i], TAG);
	syspte_get_stats(reserved_region(), &st);
	ok(st.free_pages == REGION_PAGES && syspte_check(reserved_region()) == 0, "region empty and consistent");
}

static void test_huge_region(void)
{
	is(host_machine_create(2ULL << 30, 512ULL << 30), 0,
	   "a 512 GiB region on a 2 GiB machine: its 1 GiB of page tables found as one unaligned run");
	void *va = MmAllocateMappingAddress(1ULL << 30, TAG);
	ok(va != NULL, "a 1 GiB reservation in it");
	if (va)
		MmFreeMappingAddress(va, TAG);
	is(syspte_check(reserved_region()), 0, "region consistent");
}

/* The 4 GiB rule ([ours]: a request of 4 GiB or more fails), on a region that could hold it:
 * generated sizes from 4 GiB up are refused with the region unchanged, with DIVISIBLE or without;
 * sizes below it are granted with their pages rounded up, the largest first. */
static void test_reserve_limit(void)
{
	uint64_t rng = 0x4c696d6974ULL, bad = 0, refused = 0, granted = 0;
	struct syspte_stats s0, s1;
	for (unsigned k = 0; k < 24; k++) {
		uint64_t over = k == 0 ? 0 : k == 1 ? 1 : k == 2 ? PAGE_SIZE - 1 : k == 3 ? ~0ULL - (1ULL << 32) :
				test_rng_next(&rng) % (k & 1 ? PAGE_SIZE : 1ULL << 36);
		syspte_get_stats(reserved_region(), &s0);
		void *va = MmAllocateMappingAddressEx((1ULL << 32) + over, TAG, k & 2 ? MM_MAPPING_ADDRESS_DIVISIBLE : 0);
		syspte_get_stats(reserved_region(), &s1);
		bad += va != NULL || s1.live != s0.live || s1.free_pages != s0.free_pages;
		refused += va == NULL;
		if (va)
			MmFreeMappingAddress(va, TAG);
	}
	for (unsigned k = 0; k < 6; k++) {
		uint64_t under = k == 0 ? 1 : k == 1 ? PAGE_SIZE : 1 + test_rng_next(&rng) % (1ULL << 31);
		uint64_t bytes = (1ULL << 32) - under, pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
		void *va = MmAllocateMappingAddress(bytes, TAG);
		syspte_get_stats(reserved_region(), &s1);
		bad += va == NULL || s1.live != 1 || s1.pages_reserved != pages;
		granted += va != NULL;
		if (va)
			MmFreeMappingAddress(va, TAG);
	}
	ok(bad == 0 && refused == 24 && granted == 6, "4 GiB and more refused at once (%llu sizes, the region "
	   "unchanged), just under it granted with its pages rounded up (%llu sizes)", (unsigned long long)refused,
	   (unsigned long long)granted);
	is(syspte_check(reserved_region()), 0, "region consistent");
}

static void test_mdl_contiguous(void)
{
	PHYSICAL_ADDRESS z = { .QuadPart = 0 }, any = { .QuadPart = -1 };
	const ULONG flags = MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_DONT_ZERO_ALLOCATION;
	is(host_machine_create(2ULL << 30, 2ULL << 20), 0, "machine: 2 GiB of RAM at 1 MiB");
	/* RAM is frames [256, 524544): [1 GiB, 2 GiB) is its only naturally aligned 1 GiB block; one
	 * page in it leaves two runs of about 1 GiB + 4 MiB and 1 GiB - 4 MiB */
	paddr_t hole = (1ULL << 30) + (4ULL << 20);
	paddr_t pin = phys_alloc(1, hole, hole + PAGE_SIZE);
	ok(pin == hole, "one page taken at 1 GiB + 4 MiB");
	struct phys_stats st;
	phys_get_stats(&st);
	ok(st.free_pages > 500000, "%llu pages free", (unsigned long long)st.free_pages);
	PMDL mdl = MmAllocatePagesForMdlEx(z, any, z, 1ULL << 30, MmCached, flags);
	bool one_run = mdl && mdl->ByteCount == (1ULL << 30);
	for (uint64_t i = 1; one_run && i < (1ULL << 30) / PAGE_SIZE; i++)
		one_run = MmGetMdlPfnArray(mdl)[i] == MmGetMdlPfnArray(mdl)[0] + i;
	ok(one_run, "REQUIRE_CONTIGUOUS_CHUNKS: 1 GiB granted as one run (a binary buddy refused it)");
	if (mdl) {
		MmFreePagesFromMdl(mdl);
		ExFreePool(mdl);
	}
	mdl = MmAllocatePagesForMdlEx(z, any, z, (1ULL << 30) + PAGE_SIZE, MmCached, flags);
	ok(mdl && mdl->ByteCount == (1ULL << 30) + PAGE_SIZE, "1 GiB + 4 KiB granted");
	if (mdl) {
		MmFreePagesFromMdl(mdl);
		ExFreePool(mdl);
	}
	ok(!MmAllocatePagesForMdlEx(z, any, z, (1ULL << 30) + (8ULL << 20), MmCached, flags),
	   "1 GiB + 8 MiB refused: longer than either run, though the pages are free");
	phys_get_stats(&st);
	mdl = MmAllocatePagesForMdlEx(z, any, z, (1ULL << 30) + (8ULL << 20), MmCached, MM_DONT_ZERO_ALLOCATION);
	ok(mdl && mdl->ByteCount == (1ULL << 30) + (8ULL << 20), "the same pages granted without the contiguity rule");
	if (mdl) {
		MmFreePagesFromMdl(mdl);
		ExFreePool(mdl);
	}
	paddr_t any_run = phys_alloc(262144, 0, UINT64_MAX);
	ok(phys_alloc_aligned(262144, 262144, 0, UINT64_MAX) == 0 && any_run != 0,
	   "phys_alloc_aligned refuses an alignment no free run has; phys_alloc takes a run");
	if (any_run)
		phys_free(any_run, 262144);
	phys_free(pin, 1);
	paddr_t big = phys_alloc_aligned(262144, 262144, 0, UINT64_MAX);
	ok(big == (1ULL << 30), "with the block whole again, 1 GiB aligned to 1 GiB is found at 1 GiB");
	if (big)
		phys_free(big, 262144);
	is(phys_check(), 0, "phys consistent");
}

int main(void)
{
	test_region_run();
	test_huge_region();
	test_reserve_limit();
	test_mdl_contiguous();
	return tap_done();
}
