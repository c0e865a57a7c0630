/*
 * arch_pte: the page-table format, as the memory manager sees it. mm/ builds, reads and tests page-
 * table entries only through this interface and never names a bit; the encoding belongs to the
 * architecture, in arch/<arch>/include/arch_pte_impl.h (x86-64 today), included at the end of this
 * file. It is inline because the region's map and unmap loops run on it. The kernel and the host's
 * fake machine use the same implementation, so the host tests exercise the real encoding.
 *
 * The tree. ARCH_PT_LEVELS levels of tables; level 1 holds the entries of the smallest pages and
 * level ARCH_PT_LEVELS is the root. Every table is one page of ARCH_PT_ENTRIES 64-bit entries,
 * indexed at level l by the virtual address bits from arch_pt_level_shift(l) up. An entry of level l
 * is not present, points to a table of level l - 1, or is a leaf mapping 2^arch_pt_level_shift(l)
 * bytes; arch_pt_leaf_ok says at which levels a leaf may sit. Only canonical addresses translate
 * (arch_va_canonical).
 *
 * Entries. A not-present entry is any word with bit 0 clear: the hardware ignores its other bits, and
 * software may keep anything there (mm/buddy.c threads the region's free lists through them). A leaf
 * is built in two steps: arch_pte_leaf_attrs gives everything but the frame (present, protection,
 * memory type, level), and arch_pte_leaf adds a frame. Loops compute the attributes once and add one
 * frame per page. A leaf carries one software bit for the system PTE region, "mapping start"
 * (arch_pte_set_map_start), which the hardware ignores.
 *
 * How other formats fit:
 *  - Large leaves encode some fields elsewhere. On x86-64 the PAT bit of a 2 MiB or 1 GiB leaf is bit
 *    12, where a 4 KiB leaf has it at bit 7 (bit 7 is the page-size bit in the larger entries).
 *    Every function that builds or reads a leaf takes its level and places or finds the bit there.
 *    A split asks arch_pte_split_attrs for its pieces' attributes instead of copying bits. The region
 *    can map 2 MiB leaves with arch_pte_leaf_attrs(prot, cache, 2, features) and 2 MiB-aligned
 *    frames, and the mapping-start bit is valid in a leaf of any level.
 *  - Another architecture provides its own arch_pte_impl.h. A frame stored elsewhere in the entry
 *    (RISC-V keeps the page number from bit 10) stays inside arch_pte_leaf and arch_pte_frame. Memory
 *    types kept in a register and indexed from the entry (AArch64's MAIR) are arch_pte_leaf_attrs'
 *    choice of index. Another geometry (5 levels with LA57, 3 with RISC-V Sv39) changes the
 *    constants, and pt.c walks with them. The format must keep 64-bit entries, one page per table,
 *    and bit 0 as the present bit (x86 P, AArch64 valid, RISC-V V all are).
 *
 * Everything here is a pure function of its arguments: no CPU state is read. What the CPU offers is
 * passed in as PT_FEAT_* features, which the kernel reads from CPUID (kernel/vm.c) and the host
 * chooses per test.
 */
#ifndef ARCH_PTE_H
#define ARCH_PTE_H

#include "types.h"
#include "kassert.h"

/* One page-table entry. */
typedef uint64_t pte_t;

/*
 * Memory types a mapping asks for. Every type is reachable with PT_FEAT_MEMTYPES; without it,
 * arch_pte_cache_effective says what a page asking for a type gets instead.
 */
enum pt_cache { PT_CACHE_WB = 0, PT_CACHE_WT = 1, PT_CACHE_UCMINUS = 2, PT_CACHE_UC = 3, PT_CACHE_WC = 4 };
#define PT_CACHE_TYPES 5

/* Protection of a leaf, with its memory type in bits 8..10. Never user-accessible. */
#define PT_PROT_W        (1u << 0)   /* writable */
#define PT_PROT_X        (1u << 1)   /* executable */
#define PT_PROT_G        (1u << 2)   /* global: kept in the TLB across address-space switches */
#define PT_PROT_CACHE(c) ((unsigned)(c) << 8)
#define PT_PROT_CACHE_OF(p) (((p) >> 8) & 7u)

/* What the CPU's MMU offers beyond the base format. Each absent feature changes what a leaf holds. */
#define PT_FEAT_NX       (1u << 0)   /* leaves can forbid execution (x86: bit 63, with EFER.NXE on) */
#define PT_FEAT_1G       (1u << 1)   /* level-3 leaves (x86: 1 GiB pages) */
#define PT_FEAT_MEMTYPES (1u << 2)   /* every enum pt_cache type (x86: the PAT, programmed by the kernel) */
#define PT_FEAT_ALL (PT_FEAT_NX | PT_FEAT_1G | PT_FEAT_MEMTYPES)

/* Geometry: ARCH_PT_LEVELS, ARCH_PT_ENTRIES and ARCH_PTE_MAX_PA (the highest physical byte address
 * an entry can name) are constants of the implementation. */

/* Lowest virtual address bit indexing a table of level (1..ARCH_PT_LEVELS). */
static inline unsigned arch_pt_level_shift(int level);
/* True when a leaf may sit at level on a CPU with features. */
static inline bool arch_pt_leaf_ok(int level, unsigned features);
/* True when va is canonical: the hardware translates it. */
static inline bool arch_va_canonical(vaddr_t va);
/* The canonical address whose table indices and page offset are va's (for walkers that build
 * addresses from indices). */
static inline vaddr_t arch_va_canonicalize(vaddr_t va);
/* True when every address of [first, last] is canonical (first <= last). */
static inline bool arch_va_range_ok(vaddr_t first, vaddr_t last);

/* True when e is present (a table pointer or a leaf). */
static inline bool arch_pte_present(pte_t e);
/* True when the present entry e of level is a leaf (else it points to a table). */
static inline bool arch_pte_is_leaf(pte_t e, int level);
/* The physical address a present entry of level names: its page (a leaf) or its table. */
static inline paddr_t arch_pte_frame(pte_t e, int level);
/* An entry pointing to the table at physical address table (page aligned). Permissions are decided
 * by the leaves. */
static inline pte_t arch_pte_table(paddr_t table);

/*
 * The attributes of a leaf at level with protection prot (PT_PROT_W/X/G) and memory type cache
 * (below PT_CACHE_TYPES) on a CPU with features: a present leaf without its frame. Without
 * PT_FEAT_NX the leaf is executable whatever prot says; without PT_FEAT_MEMTYPES it gets
 * arch_pte_cache_effective(cache).
 */
static inline pte_t arch_pte_leaf_attrs(unsigned prot, enum pt_cache cache, int level, unsigned features);
/* The leaf with attributes attrs (from arch_pte_leaf_attrs) mapping frame pa, aligned to the leaf's
 * size and at most ARCH_PTE_MAX_PA. */
static inline pte_t arch_pte_leaf(pte_t attrs, paddr_t pa);
/* The attributes of the pieces of the leaf e at level (2 or more) when it splits into leaves of
 * level - 1: the same protection and memory type, encoded for the smaller level. */
static inline pte_t arch_pte_split_attrs(pte_t e, int level);

/* The protection of leaf e: PT_PROT_W/X/G (X whenever the CPU cannot forbid execution). */
static inline unsigned arch_pte_prot(pte_t e, unsigned features);
/* The memory type leaf e of level selects on a CPU with features. */
static inline enum pt_cache arch_pte_cache(pte_t e, int level, unsigned features);
/* The memory type a page asking for want gets on a CPU with features (want below PT_CACHE_TYPES). */
static inline enum pt_cache arch_pte_cache_effective(enum pt_cache want, unsigned features);

/* Leaf e marked as the first page of a mapping (a software bit the hardware ignores). */
static inline pte_t arch_pte_set_map_start(pte_t e);
/* True when leaf e carries the mapping-start mark. */
static inline bool arch_pte_map_start(pte_t e);

/*
 * Format faults of the present entry e at level on a CPU with features: a set of bits, one per
 * fault, each named by arch_pte_fault_name. These are bits the CPU would fault on or misread and
 * bits this kernel never sets: a user-accessible entry, reserved bits, a leaf where none may be, a
 * memory-type or execute-disable bit the CPU lacks. Policy (W^X) is pt_check's.
 */
static inline unsigned arch_pte_faults(pte_t e, int level, unsigned features);
/* A short description of the fault bit fault (one bit of arch_pte_faults' result). */
static inline const char *arch_pte_fault_name(unsigned fault);

#include "arch_pte_impl.h"

#endif
