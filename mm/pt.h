/*
 * pt_: 4-level x86-64 page tables. Map, unmap, query and protect ranges; large pages where
 * alignment allows; an invariant checker. All PTE accesses go through arch_pte_read/write and
 * every change to a present entry is followed by its TLB invalidation.
 */
#ifndef PT_H
#define PT_H

#include "types.h"
#include "spinlock.h"

/* Hardware PTE bits. */
#define PTE_P         (1ULL << 0)
#define PTE_W         (1ULL << 1)
#define PTE_U         (1ULL << 2)
#define PTE_PWT       (1ULL << 3)
#define PTE_PCD       (1ULL << 4)
#define PTE_A         (1ULL << 5)
#define PTE_D         (1ULL << 6)
#define PTE_PS        (1ULL << 7)   /* PDE/PDPTE: large page */
#define PTE_PAT_4K    (1ULL << 7)   /* 4 KiB PTE: PAT index bit 2 */
#define PTE_G         (1ULL << 8)
#define PTE_PAT_LARGE (1ULL << 12)  /* 2 MiB / 1 GiB entries: PAT index bit 2 */
#define PTE_NX        (1ULL << 63)
#define PTE_ADDR_4K   0x000ffffffffff000ULL
#define PTE_ADDR_2M   0x000fffffffe00000ULL
#define PTE_ADDR_1G   0x000fffffc0000000ULL

#define PT_ENTRIES 512
#define PT_LEVELS 4          /* level 4 = PML4 ... level 1 = page table */

/*
 * Memory types a mapping asks for. With the PAT each value is the PAT index of that type under the
 * kernel's PAT programming (arch/x86_64/x86.h); without it, pt_cache_effective() says what the page
 * gets instead. pt_cache_pte_bits() is the one place a type becomes PTE bits.
 */
enum pt_cache { PT_CACHE_WB = 0, PT_CACHE_WT = 1, PT_CACHE_UCMINUS = 2, PT_CACHE_UC = 3, PT_CACHE_WC = 4 };
#define PT_CACHE_TYPES 5

/* CPU features the tables may use (pt_create); each absent one changes what pt_map writes. */
#define PT_FEAT_NX  (1u << 0)   /* execute-disable: bit 63 on non-executable leaves (EFER.NXE is on) */
#define PT_FEAT_1G  (1u << 1)   /* 1 GiB pages */
#define PT_FEAT_PAT (1u << 2)   /* the PAT: PWT, PCD and the PAT bit index 8 programmed types */
#define PT_FEAT_ALL (PT_FEAT_NX | PT_FEAT_1G | PT_FEAT_PAT)

/* Protection requested from pt_map/pt_protect. Never user-accessible. */
#define PT_PROT_W        (1u << 0)
#define PT_PROT_X        (1u << 1)
#define PT_PROT_G        (1u << 2)
#define PT_PROT_CACHE(c) ((unsigned)(c) << 8)
#define PT_PROT_CACHE_OF(p) (((p) >> 8) & 7u)

/* Page sizes allowed in pt_map. */
#define PT_SIZE_4K (1u << 0)
#define PT_SIZE_2M (1u << 1)
#define PT_SIZE_1G (1u << 2)

enum pt_status { PT_OK = 0, PT_ENOMEM = -1, PT_EEXIST = -2, PT_EINVAL = -3, PT_ENOENT = -4 };

struct pt {
	paddr_t root;           /* physical address of the PML4 */
	bool nx;                /* the CPU has NX: non-executable mappings get PTE_NX; else bit 63 never set */
	bool page1g;            /* 1 GiB pages may be used */
	bool pat;               /* the CPU has the PAT; else the PAT bit is never set (pt_cache_effective) */
	uint64_t table_pages;   /* page-table pages allocated through this pt */
	spinlock_t lock;        /* serialises structural changes */
};

/* Creates an empty address space for a CPU with the PT_FEAT_* features; PT_OK or PT_ENOMEM. */
int pt_create(struct pt *pt, unsigned features);

/*
 * The memory type a page asking for want gets: want itself with the PAT. Without it PWT and PCD
 * select one of four fixed types (WB, WT, UC-, UC) and WC, which has none, becomes UC-: uncached
 * like UC, but an MTRR of type WC still makes it write-combining, and never cached (README table).
 * want must be below PT_CACHE_TYPES.
 */
enum pt_cache pt_cache_effective(enum pt_cache want, bool pat);
/* The PWT/PCD/PAT bits giving want in a leaf at level (1: 4 KiB PTE, PAT bit 7; 2, 3: large, bit 12). */
uint64_t pt_cache_pte_bits(enum pt_cache want, bool pat, int level);
/* The memory type a leaf's PWT/PCD/PAT bits give (the inverse; PAT bit ignored without the PAT). */
enum pt_cache pt_cache_of_pte(uint64_t e, bool pat, int level);

/*
 * Maps [va, va+size) to [pa, pa+size); fails with PT_EEXIST (changing nothing) if any page is mapped,
 * PT_EINVAL for a bad range or a cache type not below PT_CACHE_TYPES.
 */
int pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t size, unsigned prot, unsigned sizes);
/* Unmaps every mapped page in [va, va+size), splitting large pages cut by the range. */
int pt_unmap(struct pt *pt, vaddr_t va, uint64_t size);
/* Changes the protection of every mapped page in the range (splitting as needed); PT_EINVAL as pt_map. */
int pt_protect(struct pt *pt, vaddr_t va, uint64_t size, unsigned prot);
/* Translates va; false when not mapped. pte/page_size may be NULL. */
bool pt_query(struct pt *pt, vaddr_t va, paddr_t *pa, uint64_t *pte, uint64_t *page_size);
/* Creates every table down to level 1 for [va, va+size) so later 4 KiB maps never allocate. */
int pt_prealloc(struct pt *pt, vaddr_t va, uint64_t size);
/*
 * Creates the level-1 tables of [va, va+size) (2 MiB aligned) as one physically contiguous, zeroed
 * run (any free run: the tables need no alignment beyond a page), so the range's PTEs form one
 * array in the direct map; *ptes = the PTE of va. PT_EEXIST
 * (nothing changed but upper tables) when one of those tables or a large page is already there,
 * PT_ENOMEM, PT_EINVAL.
 */
int pt_prealloc_contiguous(struct pt *pt, vaddr_t va, uint64_t size, volatile uint64_t **ptes);
/* The level-1 PTE slot for va, or NULL when a table is missing or a large page covers va. */
volatile uint64_t *pt_pte_slot(struct pt *pt, vaddr_t va);

/* The leaf PTE value pt_map writes for a 4 KiB page. */
uint64_t pt_make_pte(const struct pt *pt, paddr_t pa, unsigned prot);

/*
 * Walks the whole tree and checks: no user bit anywhere, large pages only at levels 2 and 3 and
 * aligned, no reserved bits; with NX no writable+executable leaf, without NX no entry with bit 63
 * (reserved then: every access through it would fault); without the PAT no leaf with the PAT bit.
 * Returns the number of violations (each printed, up to a few).
 */
uint64_t pt_check(struct pt *pt);
/* Prints the mapped ranges, coalesced, with their permissions. */
void pt_dump(struct pt *pt);

/* Canonical form of a 48-bit address. */
static inline bool pt_is_canonical(vaddr_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

#endif
