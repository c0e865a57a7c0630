/*
 * syspte_: a system PTE region, a range of kernel virtual address space handed out as
 * reservations (MmAllocateMappingAddress) into which page lists are mapped later without
 * allocating (MmMapLockedPagesWithReservedMapping). Every function takes the region it works on;
 * regions are independent, and the kernel has one, which the WDK layer uses (reserved_region(),
 * mm/reserved.h). The region's state is private (mm/syspte_impl.h).
 *
 * Design (docs/design.md, "The system PTE region"):
 *  - Address space: a buddy allocator over the region's pages (mm/buddy.c), origin = base page
 *    number, so DIVISIBLE ("address divisible by the size") is judged on real addresses. Its
 *    free-extent records live in the free pages' own not-present PTEs, as NT threads its free
 *    system PTE lists through them; a reserved page's PTE is never touched by it. So a reserved,
 *    unmapped page's PTE is not present, its other bits undefined (a stale record) until a map
 *    writes it; nothing reads them but the present bit.
 *  - Page tables: none at set-up. A reservation creates the level-1 table of each 2 MiB span it
 *    covers that has none (pt_span_tables, one page each, all or nothing; NULL when memory is
 *    short), and the table of the two pages after it that take the free extent's record; a span
 *    keeps its table. A map never allocates. The records are reached through a per-span
 *    directory of tables (buddy_init_dir), and every record slot lies in a span with a table.
 *  - 2 MiB leaves: a span that one mapping covers whole with an aligned run of 512 frames is
 *    mapped by one leaf in its level-2 entry, its table kept for the unmap to restore; every rule
 *    and count is that of 4 KiB pages (mm/syspte_map.c).
 *  - Reservations: a 16-byte record per live reservation (owner tag, size, flags, mapped count),
 *    found through one index: a bit per region page marking where reservations start, whose
 *    summary levels find the start at or before any address in a few word operations, and a hash
 *    table from a start to its record.
 *  - Per-page mapped state is the PTE itself (present bit, or the span's leaf); the first page of
 *    each mapping carries the software "mapping start" bit (arch_pte_set_map_start,
 *    include/arch_pte.h), so unmap can tell whole mappings from cut ones. The region names no
 *    PTE bit itself.
 *  - Per-CPU caches (mm/syspte_cache.h): each CPU keeps a few aligned 64-page chunks of the region
 *    and places reservations of up to 16 pages in them, and frees them there, under its cache's
 *    lock alone; a cached page counts as free everywhere, and a reservation nothing else can place
 *    drains every cache (each whose records the index can take while it keeps room for the
 *    request's) before it is refused.
 * Each region has one spinlock (rank LOCK_RANK_SYSPTE, include/spinlock.h), taken with interrupts
 * disabled by every call but the caches' fast paths, and each CPU's cache one more (rank
 * LOCK_RANK_SYSPTE_CACHE). Nothing is allocated under them except the tables of a reservation's
 * or a cached chunk's spans, the pages of what grows with use (the index, the allocator's bitmap
 * chunks, the caches' directory and chunk states) and a cache's own pages the first time a CPU
 * needs one (the page tables' and the physical allocator's locks, higher ranks, nest inside).
 *
 * Misuse of a call is bug check 0xDA SYSTEM_PTE_MISUSE, with the subcodes and parameters of
 * docs/contract.md section 3 (SYSPTE_BUGCHECK_*, mm/bugcheck_codes.h). The region alone assembles
 * them and raises them, after its lock is released, with nothing changed.
 */
#ifndef SYSPTE_H
#define SYSPTE_H

#include "types.h"
#include "buddy.h"
#include "pt.h"

#define SYSPTE_FLAG_DIVISIBLE 0x1u      /* MM_MAPPING_ADDRESS_DIVISIBLE */
#define SYSPTE_FLAGS_KNOWN SYSPTE_FLAG_DIVISIBLE

#define SYSPTE_CREATE_NO_CACHE 0x1u     /* syspte_create_ex: no per-CPU caches (every call takes the lock) */

/* Outcome of a call: success, a caller error reported as NULL or a no-op, or misuse, reported as
 * bug check 0xDA (returned to when a test hook intercepted it). */
enum syspte_status { SYSPTE_OK = 0, SYSPTE_REFUSED = 1, SYSPTE_MISUSE = 2 };

struct syspte_region;

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
	uint64_t table_pages;       /* level-1 tables created for the region (on demand, kept) */
	uint64_t large_leaves;      /* spans mapped by one 2 MiB leaf now */
	uint64_t meta_bytes;        /* the region's state, its index's top level, the buddy and the start bitmap, made at set-up */
	uint64_t chunk_pages;       /* the buddy's bitmap chunks (on demand, kept) */
	uint64_t record_bytes;      /* the index's pages (on demand; the caches' records live in their chunks' states) */
	uint64_t cached_pages;      /* free pages the CPUs' caches hold (counted in free_pages too) */
	uint64_t cache_bytes;       /* pages the CPUs' caches occupy */
	uint64_t cache_fast;        /* reserves and frees done under a cache's lock alone */
	uint64_t cache_slow;        /* reserves and frees of a cache's size that took the region's lock */
	uint64_t cache_drains;      /* drains of every cache that returned something */
	uint64_t overrides[PT_CACHE_TYPES];   /* by memory type asked for (enum pt_cache): pages mapped
						 write-back instead, RAM the direct map holds (docs/contract.md,
						 "Caching types") */
};

/* ---- set-up (mm/syspte.c) */

/*
 * Physical pages syspte_create(npages) takes: its metadata, one contiguous run. No page table: the
 * region's tables are made by the reservations that need them (syspte_reserve).
 */
uint64_t syspte_setup_pages(uint64_t npages);
/*
 * Sets up a region [base, base + npages pages) in pt (base 2 MiB aligned and not 0, npages a
 * non-zero multiple of 512, the range canonical and in one half of the address space, no table of
 * the range present yet); its state lives in pages taken from the
 * physical allocator. NULL, with a printed reason and nothing kept, when that fails. The region's
 * guard policy (syspte_guard_pages) is the verifier setting at this moment.
 */
struct syspte_region *syspte_create(struct pt *pt, vaddr_t base, uint64_t npages);
/* syspte_create with flags: SYSPTE_CREATE_NO_CACHE (no per-CPU caches; for comparison). */
struct syspte_region *syspte_create_ex(struct pt *pt, vaddr_t base, uint64_t npages, unsigned flags);

/* ---- reservations (mm/syspte.c) */

/* Reserves npages (>= 1) pages, creating the page tables they need; 0, nothing changed, when the
 * region, record memory or page-table memory is exhausted, or npages or flags are out of range. Up
 * to SYSPTE_CACHE_MAX_PAGES pages usually come from this CPU's cache without the region's lock; 0
 * only after the caches were drained when that could help (each whose records the index can take
 * with room left for the request's: syspte_cache_drain_locked). */
vaddr_t syspte_reserve(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags);
/* syspte_reserve preferring (never requiring) a start whose page index in the address space plus
 * phase is a multiple of prefer (a power of two; 1: no preference): MmMapLockedPagesSpecifyCache asks
 * for the placement that lets its MDL's aligned 2 MiB runs map with 2 MiB leaves. DIVISIBLE's rule
 * comes first: a preference it contradicts (a phase that is not a multiple of npages) is ignored. */
vaddr_t syspte_reserve_pref(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags, uint64_t prefer,
			   uint64_t phase);
/* Frees the reservation starting at addr's page (the caller's pointer as passed: misuse 0x101,
 * 0x102, 0x103 name it); one a cache placed goes back to it without the region's lock. */
int syspte_release(struct syspte_region *r, vaddr_t addr, uint32_t tag);
/* The reservation containing va; false when va is in none. */
bool syspte_lookup(struct syspte_region *r, vaddr_t va, struct syspte_info *out);
/* True when va lies inside the region. */
bool syspte_in_region(const struct syspte_region *r, vaddr_t va);
/* Pages added after each reservation as an unmapped guard: 1 in verifier mode, else 0. */
uint64_t syspte_guard_pages(const struct syspte_region *r);

/* ---- mapping and unmapping (mm/syspte_map.c) */

/*
 * Maps n frames at addr's page with memory type cache (an enum pt_cache). In the contract's order:
 * misuse 0x105, 0x104 (addr in no reservation, tag differs); REFUSED when pfns is NULL (the
 * caller refused the request itself: its checks come after the address's), n is 0, the span does
 * not fit before the reservation's end or cache is not a type; misuse 0x107 when a page of the
 * span is mapped. REFUSED too when a frame lies at or beyond the CPU's physical address width
 * (the MDL rule, checked here in the one pass over the frames that also finds the 2 MiB runs).
 * Allocates nothing, and invalidates only the 2 MiB leaves it writes, and the pages of a write it
 * undoes (a frame found beyond the width under the lock: the caller changed its locked MDL during
 * the call; the map is then REFUSED with nothing left mapped).
 */
int syspte_map(struct syspte_region *r, vaddr_t addr, uint32_t tag, const uint64_t *pfns, uint64_t n,
	       unsigned cache);
/* Unmaps n pages from addr's page, whole mappings only (misuse 0x108 .. 0x10C); REFUSED, nothing
 * done, when n is 0 (after the address and tag checks). The span's TLB invalidation is one batch
 * (include/tlb_batch.h), issued after the region's lock is released, before the call returns. */
int syspte_unmap(struct syspte_region *r, vaddr_t addr, uint32_t tag, uint64_t n);

/* ---- accounting, walks, checks and reports (mm/syspte_report.c) */

void syspte_get_stats(struct syspte_region *r, struct syspte_stats *st);
/* Fills at most max per-tag totals (sorted by tag); returns the number of distinct tags. */
size_t syspte_tag_totals(struct syspte_region *r, struct syspte_tag_total *out, size_t max);
/* Calls fn for every live reservation, in address order (under the lock: fn must not call syspte_). */
void syspte_for_each(struct syspte_region *r, void (*fn)(const struct syspte_info *, void *), void *arg);
/* Calls fn for every maximal run of free pages of the region, in address order, those the CPUs'
 * caches hold included (under the lock, as above). */
void syspte_for_each_free(struct syspte_region *r, void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg);
/* Calls fn for every run of mapped (present) pages, in address order, read from the PTEs themselves
 * (under the lock, as above). Cost: one PTE read per region page. */
void syspte_for_each_mapped(struct syspte_region *r, void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg);
/* Free blocks per order (as buddy_census counts them) over every free page, cached ones included. */
void syspte_census(struct syspte_region *r, uint64_t out[BUDDY_ORDERS]);
/* Verifies every invariant (buddy, start bitmap, hash, records, mapped counts against the PTEs, no
 * entry of another type than write-back over RAM the direct map holds, the CPUs' caches against the
 * allocator); 0, or -1 after printing the first violation. */
int syspte_check(struct syspte_region *r);
void syspte_dump(struct syspte_region *r);
/*
 * Prints what va is in the region: a page of a reservation (base, size, tag, pages mapped), a
 * verifier guard page, free space, or outside the region. For fatal reports: when this CPU may not
 * take the region's lock (it holds it, or a lock ranked after it: a fault inside the memory
 * manager) it says so and reads nothing.
 */
void syspte_describe(struct syspte_region *r, vaddr_t va);
/* Base of the reservation holding va, or 0; also 0, without reading the region, when this CPU may
 * not take its lock (the page-fault path may run inside a region call, or under a later lock). */
uint64_t syspte_reservation_base(struct syspte_region *r, vaddr_t va);

#endif
