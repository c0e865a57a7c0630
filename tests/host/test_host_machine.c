/*
 * The hosted machine (tests/host/host_machine.c) as README "Hosted library" describes it: created,
 * used through every module and left dirty (pool blocks and slabs, reservations and mappings, MDLs,
 * an allocation budget, an intercepted bug check, written RAM), destroyed or simply re-created with
 * another size, several times. After each creation nothing of the earlier machines survives: every
 * statistic, census and tag table equals the one of the first machine of that size, RAM reads as
 * zeros, and the whole API works.
 */
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "tap.h"
#include "wdm.h"
#include "host_machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pool.h"
#include "syspte.h"
#include "reserved.h"
#include "bugcheck.h"
#include "testhooks.h"

#define TAG_U POOL_TAG4('U', 's', 'e', 'd')

/* Everything observable about a machine's state. */
struct fresh {
	struct phys_stats phys;
	struct pool_stats pool;
	struct syspte_stats sys;
	uint64_t phys_census[BUDDY_ORDERS], sys_census[BUDDY_ORDERS];
	size_t pool_tags, sys_tags;
	uint64_t table_pages;
	struct bugcheck_record bc;
	uint64_t tlb_pages, tlb_alls, cr3_loads;
};

static void observe(struct fresh *f)
{
	memset(f, 0, sizeof(*f));
	phys_get_stats(&f->phys);
	pool_get_stats(&f->pool);
	syspte_get_stats(reserved_region(), &f->sys);
	phys_census(f->phys_census);
	syspte_census(reserved_region(), f->sys_census);
	f->pool_tags = pool_tag_totals(NULL, 0);
	f->sys_tags = syspte_tag_totals(reserved_region(), NULL, 0);
	f->table_pages = host_machine_pt()->table_pages;
	f->bc = bugcheck_last;
	f->tlb_pages = fake_tlb.pages;
	f->tlb_alls = fake_tlb.alls;
	f->cr3_loads = fake_tlb.cr3_loads;
}

static PHYSICAL_ADDRESS pa_of(uint64_t v) { PHYSICAL_ADDRESS p; p.QuadPart = (int64_t)v; return p; }

/* Uses every module and leaves state behind on purpose. Returns false if a call failed. */
static bool dirty(void)
{
	bool good = true;
	for (unsigned i = 0; i < 40; i++)   /* small blocks in several slabs, large blocks, all kept */
		good &= ExAllocatePoolWithTag(NonPagedPool, 16 + 97 * i, TAG_U) != NULL;
	void *freed = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_U);
	ExFreePool(freed);   /* leaves an empty slab kept for reuse */
	PMDL pages = MmAllocatePagesForMdlEx(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 5 * PAGE_SIZE, MmCached,
					     MM_DONT_ZERO_ALLOCATION);
	good &= pages != NULL;
	for (unsigned i = 0; pages && i < 5; i++)
		memset(arch_phys_to_virt(MmGetMdlPfnArray(pages)[i] << PAGE_SHIFT), 0xEE, PAGE_SIZE);
	char *r = MmAllocateMappingAddress(8 * PAGE_SIZE, TAG_U);
	good &= r && MmMapLockedPagesWithReservedMapping(r, TAG_U, pages, MmCached) == r;
	PMDL io = IoAllocateMdl(r, 5 * PAGE_SIZE, FALSE, FALSE, NULL);
	MmBuildMdlForNonPagedPool(io);
	good &= io && MmGetMdlPfnArray(io)[4] == MmGetMdlPfnArray(pages)[4];
	good &= MmAllocateMappingAddressEx(3 * PAGE_SIZE, TAG_U, MM_MAPPING_ADDRESS_DIVISIBLE) != NULL;
	PMDL more = MmAllocatePagesForMdl(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 2 * PAGE_SIZE);
	good &= more && MmMapLockedPagesSpecifyCache(more, KernelMode, MmCached, NULL, FALSE, NormalPagePriority) != NULL;
	bugcheck_hook_t old = bugcheck_set_hook(bugcheck_record_hook);
	MmFreeMappingAddress(r, TAG_U);   /* still mapped: an intercepted 0xDA/0x103 */
	good &= bugcheck_last.count == 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_STILL_MAPPED;
	bugcheck_set_hook(old);
	phys_set_budget(1);   /* fault injection left on */
	return good;
}

/* True when the first pages of RAM past the allocator's metadata read as zeros past word 0 (the
 * word a free frame lends to the allocator's records). */
static bool ram_clean(void)
{
	PMDL m = MmAllocatePagesForMdlEx(pa_of(0), pa_of(UINT64_MAX), pa_of(0), 16 * PAGE_SIZE, MmCached,
					 MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FULLY_REQUIRED);
	if (!m)
		return false;
	bool clean = true;
	for (unsigned i = 0; i < 16; i++) {
		const uint64_t *w = arch_phys_to_virt(MmGetMdlPfnArray(m)[i] << PAGE_SHIFT);
		for (unsigned k = 1; k < PAGE_SIZE / 8; k++)
			clean &= w[k] == 0;
	}
	MmFreePagesFromMdl(m);
	ExFreePool(m);
	return clean;
}

int main(void)
{
	static const struct { uint64_t ram, region; } sizes[] = {
		{ 64ULL << 20, 16ULL << 20 }, { 512ULL << 20, 256ULL << 20 }, { 8ULL << 20, 2ULL << 20 },
		{ 2ULL << 30, 1ULL << 30 },
	};
	enum { N = sizeof(sizes) / sizeof(sizes[0]), ROUNDS = 3 };
	static struct fresh first[N];
	for (unsigned round = 0; round < ROUNDS; round++)
		for (unsigned s = 0; s < N; s++) {
			if ((round + s) % 2)
				host_machine_destroy();   /* destroyed, or re-created over the old machine */
			uint64_t ram = sizes[s].ram >> 20, reg = sizes[s].region >> 20;
			if (!ok(host_machine_create(sizes[s].ram, sizes[s].region) == 0, "round %u: %llu MiB RAM, %llu MiB region",
				round, (unsigned long long)ram, (unsigned long long)reg))
				return tap_done();
			struct fresh now;
			observe(&now);
			if (round == 0)
				first[s] = now;
			struct pool_stats zero_pool = { 0 };
			struct bugcheck_record zero_bc = { 0 };
			ok(memcmp(&now.pool, &zero_pool, sizeof(zero_pool)) == 0 && now.pool_tags == 0,
			   "  pool empty: no slab, block or tag of an earlier machine");
			ok(now.sys.live == 0 && now.sys.free_pages == now.sys.npages && now.sys.npages == sizes[s].region / PAGE_SIZE &&
			   now.sys_tags == 0, "  region empty, of the new size");
			ok(now.phys.usable_pages == sizes[s].ram / PAGE_SIZE &&
			   now.phys.allocated_pages == now.table_pages + ALIGN_UP(now.sys.meta_bytes, PAGE_SIZE) / PAGE_SIZE +
			   now.sys.chunk_pages && now.sys.chunk_pages >= 1 && now.sys.chunk_pages <= 2,
			   "  physical allocator of the new RAM size; allocated: the page tables, the region's metadata and "
			   "its allocator's chunks of the region's two ends only");
			ok(memcmp(&now.bc, &zero_bc, sizeof(zero_bc)) == 0, "  no bug check recorded");
			ok(memcmp(&now, &first[s], sizeof(now)) == 0, "  every statistic, census and table count as on the first machine of this size");
			ok(phys_check() == 0 && pool_check() == 0 && syspte_check(reserved_region()) == 0 && pt_check(host_machine_pt()) == 0,
			   "  every module's check passes");
			ok(ram_clean(), "  RAM reads as zeros (no page content of an earlier machine)");
			ok(dirty(), "  the whole API works; state left behind on purpose");
		}

	/* The bug-check hook is the program's: it survives re-creation. */
	bugcheck_set_hook(bugcheck_record_hook);
	ok(host_machine_create(64ULL << 20, 16ULL << 20) == 0, "re-created with a hook installed");
	MmFreeMappingAddress((PVOID)0x1000, TAG_U);
	ok(bugcheck_last.count == 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_FREE_NOT_START, "the hook still intercepts");
	bugcheck_set_hook(NULL);
	ok(host_machine_create(3 << 20, 16ULL << 20) == 0 && host_machine_create(1ULL << 20, 2ULL << 20) == 0,
	   "small machines");
	fflush(stderr);
	int err = dup(2), null = open("/dev/null", O_WRONLY);   /* the refusals' messages are expected */
	dup2(null, 2);
	bool refused = host_machine_create(64ULL << 20, 3ULL << 20) == -1 && host_machine_create(4097, 2ULL << 20) == -1;
	dup2(err, 2);
	close(null);
	close(err);
	ok(refused, "bad sizes refused");
	host_machine_destroy();
	return tap_done();
}
