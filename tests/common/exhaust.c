/* Exhaustion scenarios (contract in exhaust.h). Built into the kernel and into host tests. */
#include "exhaust.h"
#include "wdm.h"
#include "phys.h"
#include "pool.h"

#define EXHAUST_TAG 0x68786545u   /* 'Exhx' */

/* Free census and count, with the pool's cached empty slabs returned first. */
static uint64_t exhaust_census(uint64_t census[BUDDY_ORDERS])
{
	struct phys_stats s;
	pool_trim();
	phys_census(census);
	phys_get_stats(&s);
	return s.free_pages;
}

static bool exhaust_census_equal(const uint64_t *a, const uint64_t *b)
{
	for (int o = 0; o < BUDDY_ORDERS; o++)
		if (a[o] != b[o])
			return false;
	return true;
}

/* Records the physical allocator's state at the moment the last allocation returned NULL. */
static void exhaust_note_end(struct exhaust_result *r)
{
	struct phys_stats s;
	phys_get_stats(&s);
	r->free_at_end = s.free_pages;
	r->allocated_at_end = s.allocated_pages;
}

void exhaust_physical_mdl(uint64_t chunk_bytes, struct exhaust_result *r)
{
	static uint64_t before[BUDDY_ORDERS], after[BUDDY_ORDERS];
	PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, skip = { .QuadPart = 0 };
	PMDL list = NULL;
	*r = (struct exhaust_result){ .nulls_clean = true };
	r->free_before = exhaust_census(before);
	/* Big MDLs first, then smaller ones, so the tail of memory is taken too. */
	for (uint64_t size = chunk_bytes; size >= PAGE_SIZE; size /= 4) {
		PMDL m;
		while ((m = MmAllocatePagesForMdlEx(lo, hi, skip, size, MmCached, MM_DONT_ZERO_ALLOCATION))) {
			m->Next = list;
			list = m;
			r->items++;
			r->pages += m->ByteCount / PAGE_SIZE;
		}
		r->nulls_clean &= phys_check() == 0 && pool_check() == 0;
	}
	exhaust_note_end(r);
	while (list) {
		PMDL next = list->Next;
		MmFreePagesFromMdl(list);
		ExFreePool(list);
		list = next;
	}
	exhaust_census(after);
	r->census_same = exhaust_census_equal(before, after);
	r->checks_pass = phys_check() == 0 && pool_check() == 0;
}

void exhaust_pool(struct exhaust_result *r)
{
	static uint64_t before[BUDDY_ORDERS], after[BUDDY_ORDERS];
	static const SIZE_T sizes[] = { 64 * 1024, 4096, 256 };
	void **list = NULL;   /* blocks chained through their first word */
	*r = (struct exhaust_result){ .nulls_clean = true };
	r->free_before = exhaust_census(before);
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		void **b;
		while ((b = ExAllocatePoolWithTag(NonPagedPool, sizes[k], EXHAUST_TAG))) {
			*b = list;
			list = b;
			r->items++;
			r->pages += (sizes[k] + PAGE_SIZE - 1) / PAGE_SIZE;
		}
		r->nulls_clean &= phys_check() == 0 && pool_check() == 0;
	}
	exhaust_note_end(r);
	while (list) {
		void **next = *list;
		ExFreePoolWithTag(list, EXHAUST_TAG);
		list = next;
	}
	struct pool_tag_total t;
	r->checks_pass = pool_tag_get(EXHAUST_TAG, &t) && t.bytes_live == 0;
	exhaust_census(after);
	r->census_same = exhaust_census_equal(before, after);
	r->checks_pass &= phys_check() == 0 && pool_check() == 0;
}
