/*
 * syspte_: the system PTE region, a range of kernel virtual address space handed out as
 * reservations (MmAllocateMappingAddress) into which page lists are mapped later without
 * allocating (MmMapLockedPagesWithReservedMapping).
 *
 * Design:
 *  - Address space: a buddy allocator over the region's pages (mm/buddy.c), origin = base page
 *    number, so DIVISIBLE ("address divisible by the size") is judged on real addresses. Its
 *    free-extent records live in the free pages' own not-present PTEs (bit 0 clear), as NT
 *    threads its free system PTE lists through them; a reserved page's PTE is never touched by it.
 *    So a reserved, unmapped page's PTE is not present, its other bits undefined (a stale record)
 *    until a map writes it; nothing reads them but the present bit.
 *  - Page tables: every level-1 table of the region is created at init as one physically
 *    contiguous run (pt_prealloc_contiguous), so the region's PTEs are one array and no
 *    reservation or mapping ever allocates a table; the cost is one 4 KiB table per 2 MiB.
 *  - Reservations: a 56-byte record per live reservation (owner tag, size, flags, mapped count)
 *    in a hash table keyed by start page, plus one bit per region page marking starts, whose
 *    summary levels find the reservation containing any address in a few word operations.
 *  - Per-page mapped state is the PTE itself (present bit); the first page of each mapping carries
 *    the software "mapping start" bit (arch_pte_set_map_start), so unmap can tell whole mappings
 *    from cut ones.
 * All operations take one spinlock with interrupts disabled; none allocates after init except
 * records (reserve), which come from a page-sized slab grown through the physical allocator.
 */
#ifndef SYSPTE_H
#define SYSPTE_H

#include "types.h"
#include "buddy.h"
#include "pt.h"

#define SYSPTE_FLAG_DIVISIBLE 0x1u      /* MM_MAPPING_ADDRESS_DIVISIBLE */
#define SYSPTE_FLAGS_KNOWN SYSPTE_FLAG_DIVISIBLE

/* Outcome of an internal operation: success, a caller error reported as NULL/no-op, or misuse
 * that the WDK layer turns into bug check 0xDA with the parameters in struct syspte_misuse. */
enum syspte_status { SYSPTE_OK = 0, SYSPTE_REFUSED = 1, SYSPTE_MISUSE = 2 };

struct syspte_misuse {
	uint64_t subcode, p2, p3, p4;
};

struct syspte_info {
	vaddr_t base;
	uint64_t npages;
	uint64_t mapped;
	uint32_t tag;
	uint32_t flags;
};

struct syspte_tag_total {
	uint32_t tag;
	uint64_t count, pages_reserved, pages_mapped;
};

struct syspte_stats {
	vaddr_t base;
	uint64_t npages, free_pages, live, pages_reserved, pages_mapped;
	uint64_t table_pages;       /* level-1 tables created for the region */
	uint64_t meta_bytes;        /* buddy + start bitmap */
	uint64_t record_bytes;      /* slab pages for records */
};

/*
 * Physical pages syspte_init(npages) takes: metadata plus the level-1 tables, which must be one
 * contiguous run (the upper-level tables it may also create are not counted).
 */
uint64_t syspte_setup_pages(uint64_t npages);
/* Sets up the region [base, base + npages pages) in pt; 0 or negative with a printed reason. */
int syspte_init(struct pt *pt, vaddr_t base, uint64_t npages);
/* Forgets the region and its reservations, as before syspte_init (the machine is being replaced). */
void syspte_reset(void);

/* Reserves npages (>= 1) pages; 0 when the region or record memory is exhausted. */
vaddr_t syspte_reserve(uint64_t npages, uint32_t tag, uint32_t flags);
/* Frees the reservation starting at va's page (0x101, 0x102, 0x103 as misuse). */
int syspte_release(vaddr_t va, uint32_t tag, struct syspte_misuse *m);
/* Maps n frames at va's page with memory type cache, an enum pt_cache (0x104, 0x105, 0x107; REFUSED
 * if it does not fit or cache is not a type).
 * Every frame must exist (below the CPU's physical width): the caller validated them (mdl_validate). */
int syspte_map(vaddr_t va, uint32_t tag, const uint64_t *pfns, uint64_t n, unsigned cache,
	       struct syspte_misuse *m);
/* Unmaps n pages from va's page: whole mappings only (0x108 .. 0x10C). Their TLB invalidation is one
 * batch (include/tlb_batch.h), issued after the region's lock is released, before the call returns. */
int syspte_unmap(vaddr_t va, uint32_t tag, uint64_t n, struct syspte_misuse *m);

/* The reservation containing va; false when va is in none. */
bool syspte_lookup(vaddr_t va, struct syspte_info *out);
/* True when va lies inside the region. */
bool syspte_in_region(vaddr_t va);

void syspte_get_stats(struct syspte_stats *st);
/* Fills at most max per-tag totals (sorted by tag); returns the number of distinct tags. */
size_t syspte_tag_totals(struct syspte_tag_total *out, size_t max);
/* Calls fn for every live reservation, newest first (under the lock: fn must not call syspte_). */
void syspte_for_each(void (*fn)(const struct syspte_info *, void *), void *arg);
/* Calls fn for every free extent of the region, in address order (under the lock, as above). */
void syspte_for_each_free(void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg);
/* Calls fn for every run of mapped (present) pages, in address order, read from the PTEs themselves
 * (under the lock, as above). Cost: one PTE read per region page. */
void syspte_for_each_mapped(void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg);
void syspte_census(uint64_t out[BUDDY_ORDERS]);
/* Verifies every invariant (buddy, starts, records, mapped counts against the PTEs). */
int syspte_check(void);
void syspte_dump(void);
/* Prints what va is in the region: "reservation base/size/tag", or free space. */
void syspte_describe(vaddr_t va);
/* Base of the reservation holding va, or 0. */
uint64_t syspte_reservation_base(uint64_t va);
/* Pages added after each reservation as an unmapped guard: 1 in verifier mode, else 0. */
uint64_t syspte_guard_pages(void);

#endif
