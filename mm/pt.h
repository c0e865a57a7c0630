/*
 * pt_: multi-level page tables. Map, unmap, query and protect ranges; large pages where alignment
 * allows; an invariant checker. The entry format and the tree's geometry are the architecture's
 * (include/arch_pte.h): this module names no bit. All entry accesses go through
 * arch_pte_read/write, and every change to a present entry is invalidated through a TLB batch
 * (include/tlb_batch.h) issued after pt->lock is released, before the call returns.
 */
#ifndef PT_H
#define PT_H

#include "types.h"
#include "spinlock.h"
#include "arch_pte.h"

#define PT_ENTRIES ARCH_PT_ENTRIES   /* entries per table */
#define PT_LEVELS ARCH_PT_LEVELS     /* level PT_LEVELS = the root ... level 1 = the smallest pages */

/* Page sizes allowed in pt_map, by level: bit l - 1 allows leaves of level l (4 KiB, 2 MiB, 1 GiB on
 * x86-64), where arch_pt_leaf_ok also allows them. */
#define PT_SIZE_4K (1u << 0)
#define PT_SIZE_2M (1u << 1)
#define PT_SIZE_1G (1u << 2)

enum pt_status { PT_OK = 0, PT_ENOMEM = -1, PT_EEXIST = -2, PT_EINVAL = -3, PT_ENOENT = -4 };

struct pt {
	paddr_t root;           /* physical address of the root table */
	unsigned features;      /* PT_FEAT_* of the CPU: what the leaves may use (include/arch_pte.h) */
	uint64_t table_pages;   /* page-table pages allocated through this pt */
	spinlock_t lock;        /* serialises changes to the tree */
};

/* Creates an empty address space for a CPU with the PT_FEAT_* features; PT_OK or PT_ENOMEM. */
int pt_create(struct pt *pt, unsigned features);

/*
 * Maps [va, va+size) to [pa, pa+size); fails with PT_EEXIST (changing nothing) if any page is mapped,
 * PT_EINVAL (changing nothing) for a bad range, physical addresses at or beyond the CPU's width, a
 * cache type not below PT_CACHE_TYPES, or a range that needs leaves of a size sizes lacks: 4 KiB
 * leaves where sizes has no PT_SIZE_4K (sizes 0 included), or smaller leaves than sizes allows where
 * a table already sits (an unmap leaves its tables) under a larger leaf's place. Leaves are the
 * largest sizes allows that fit each step's alignment, the room left and the tables already there.
 */
int pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t size, unsigned prot, unsigned sizes);
/*
 * Unmaps every mapped page in [va, va+size), splitting large pages cut by the range; PT_EINVAL for a
 * bad range, PT_ENOMEM (no mapping changed) when a split finds no page for a table.
 */
int pt_unmap(struct pt *pt, vaddr_t va, uint64_t size);
/* Changes the protection of every mapped page in the range (splitting as needed); errors as
 * pt_unmap, and PT_EINVAL for prot as pt_map. */
int pt_protect(struct pt *pt, vaddr_t va, uint64_t size, unsigned prot);
/* Translates va; false when not mapped. pte/page_size may be NULL. */
bool pt_query(struct pt *pt, vaddr_t va, paddr_t *pa, uint64_t *pte, uint64_t *page_size);
/* Creates every table down to level 1 for [va, va+size) so later 4 KiB maps never allocate. */
int pt_prealloc(struct pt *pt, vaddr_t va, uint64_t size);
/* Called by pt_span_tables for each level-1 table it creates: the span's address, the table's
 * physical address and the level-2 entry (slot) that points to it. Runs under pt->lock. */
typedef void (*pt_span_fn)(void *arg, vaddr_t va, paddr_t table, volatile pte_t *pde);
/*
 * Creates the level-1 table of every span (2 MiB, what one level-1 table maps) of the n from va
 * (span aligned) that has no level-2 entry, with any table missing above it, each from one page
 * of the physical allocator: all or nothing. Spans whose level-2 entry is present (a table or a
 * leaf) are left as they are. fn is called for each table created. PT_ENOMEM (a page missing) and
 * PT_EEXIST (a leaf above level 2 covers a span) change nothing; PT_EINVAL for a bad range. Only
 * not-present entries are filled, so no TLB invalidation is owed.
 */
int pt_span_tables(struct pt *pt, vaddr_t va, uint64_t n, pt_span_fn fn, void *arg);
/* The level-1 PTE slot for va, or NULL when va is not canonical, a table is missing or a large page
 * covers va. */
volatile uint64_t *pt_pte_slot(struct pt *pt, vaddr_t va);
/* The entry slot at level (1..PT_LEVELS) for va, or NULL when va is not canonical, a table above
 * that level is missing or a large page above it covers va. No allocation. */
volatile uint64_t *pt_entry_slot(struct pt *pt, vaddr_t va, int level);

/* The attributes pt_map gives a 4 KiB leaf with prot (a valid protection): arch_pte_leaf of them and
 * a frame is the entry. */
pte_t pt_leaf_attrs(const struct pt *pt, unsigned prot);
/* The same for a leaf of level (a 2 MiB leaf: level 2), which pt's CPU must allow (pt_leaf_level_ok). */
pte_t pt_leaf_attrs_level(const struct pt *pt, unsigned prot, int level);
/* True when pt's CPU allows leaves at level. */
bool pt_leaf_level_ok(const struct pt *pt, int level);

/*
 * Walks the whole tree and checks every present entry for the format's faults (arch_pte_faults:
 * user bits, reserved bits, large pages where none may be, bits the CPU lacks) and, with
 * PT_FEAT_NX, every leaf for W^X. Returns the number of violations (each printed, up to a few).
 */
uint64_t pt_check(struct pt *pt);
/* Prints the mapped ranges, coalesced, with their permissions and memory types. */
void pt_dump(struct pt *pt);

#endif
