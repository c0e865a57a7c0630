/*
 * The x86-64 page-table format behind include/arch_pte.h (its contract and the reasons are there).
 * Only include/arch_pte.h includes this file (tools/check-layers.sh): mm/ uses the functions, never
 * the X86_PTE_ names, which are here for the implementation and for tests that decode entries.
 *
 * Four levels of 512 entries (PML4, PDPT, PD, PT), 48-bit canonical addresses, 52-bit physical
 * addresses (Intel SDM Vol. 3A 4.5, AMD APM Vol. 2 5.3). A leaf's memory type is a PAT index made of
 * its PWT, PCD and PAT bits; the kernel programs the PAT so that the indices below select the
 * types (arch/x86_64/x86.h PAT_VALUE; cpu.c checks the two agree at compile time).
 */
#ifndef ARCH_PTE_IMPL_H
#define ARCH_PTE_IMPL_H

#define ARCH_PT_LEVELS 4                          /* level 4 = PML4 ... level 1 = page table */
#define ARCH_PT_ENTRIES 512
#define ARCH_PTE_MAX_PA ((1ULL << 52) - 1)        /* MAXPHYADDR's architectural limit */

#define X86_PTE_P         (1ULL << 0)
#define X86_PTE_W         (1ULL << 1)
#define X86_PTE_U         (1ULL << 2)
#define X86_PTE_PWT       (1ULL << 3)
#define X86_PTE_PCD       (1ULL << 4)
#define X86_PTE_A         (1ULL << 5)
#define X86_PTE_D         (1ULL << 6)
#define X86_PTE_PS        (1ULL << 7)             /* PDE/PDPTE: a large leaf */
#define X86_PTE_PAT_4K    (1ULL << 7)             /* 4 KiB leaf: PAT index bit 2 */
#define X86_PTE_G         (1ULL << 8)
#define X86_PTE_SW_MAP_START (1ULL << 9)          /* ignored by the CPU: first page of a mapping */
#define X86_PTE_PAT_LARGE (1ULL << 12)            /* 2 MiB / 1 GiB leaf: PAT index bit 2 */
#define X86_PTE_HIGH_SOFT 0x7ff0000000000000ULL   /* bits 52..62: ignored by the CPU, never set here */
#define X86_PTE_NX        (1ULL << 63)            /* execute-disable; reserved without EFER.NXE */
#define X86_PTE_ADDR_4K   0x000ffffffffff000ULL
#define X86_PTE_ADDR_2M   0x000fffffffe00000ULL
#define X86_PTE_ADDR_1G   0x000fffffc0000000ULL

/* arch_pte_faults bits. */
#define X86_PTE_FAULT_USER      (1u << 0)
#define X86_PTE_FAULT_SOFT      (1u << 1)
#define X86_PTE_FAULT_PS_ROOT   (1u << 2)
#define X86_PTE_FAULT_NX        (1u << 3)
#define X86_PTE_FAULT_PAT       (1u << 4)
#define X86_PTE_FAULT_ADDR      (1u << 5)
#define X86_PTE_FAULT_PS_1G     (1u << 6)
#define X86_PTE_FAULT_G_ROOT    (1u << 7)
#define X86_PTE_FAULTS 8

/* The PAT index selecting each memory type under the kernel's PAT programming. */
#define X86_PAT_INDEX_WB  0
#define X86_PAT_INDEX_WT  1
#define X86_PAT_INDEX_UCM 2
#define X86_PAT_INDEX_UC  3
#define X86_PAT_INDEX_WC  4

static inline unsigned x86_pte_pat_index(enum pt_cache c)
{
	static const unsigned char index[PT_CACHE_TYPES] = {
		[PT_CACHE_WB] = X86_PAT_INDEX_WB, [PT_CACHE_WT] = X86_PAT_INDEX_WT,
		[PT_CACHE_UCMINUS] = X86_PAT_INDEX_UCM, [PT_CACHE_UC] = X86_PAT_INDEX_UC, [PT_CACHE_WC] = X86_PAT_INDEX_WC,
	};
	return index[c];
}

/* The memory type of each PAT index: the kernel's PAT repeats WT, UC-, UC at indices 5..7, and
 * without the PAT indices 0..3 are the power-on PAT's WB, WT, UC-, UC. */
static inline enum pt_cache x86_pte_pat_type(unsigned index)
{
	static const enum pt_cache type[8] = { PT_CACHE_WB, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC,
		PT_CACHE_WC, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC };
	return type[index & 7];
}

/* Where a leaf of level keeps PAT index bit 2: bit 7 in a 4 KiB leaf, bit 12 in a large one. */
static inline pte_t x86_pte_pat_bit(int level) { return level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE; }

/* The frame bits of a leaf at level. */
static inline pte_t x86_pte_addr_mask(int level)
{
	return level == 3 ? X86_PTE_ADDR_1G : level == 2 ? X86_PTE_ADDR_2M : X86_PTE_ADDR_4K;
}

static inline unsigned arch_pt_level_shift(int level) { return PAGE_SHIFT + 9 * (unsigned)(level - 1); }

static inline bool arch_pt_leaf_ok(int level, unsigned features)
{
	return level == 1 || level == 2 || (level == 3 && (features & PT_FEAT_1G));
}

static inline bool arch_va_canonical(vaddr_t va) { return (uint64_t)((int64_t)(va << 16) >> 16) == va; }

static inline vaddr_t arch_va_canonicalize(vaddr_t va) { return (vaddr_t)((int64_t)(va << 16) >> 16); }

/* Both ends canonical and in the same half: the range does not cross the non-canonical hole. */
static inline bool arch_va_range_ok(vaddr_t first, vaddr_t last)
{
	return arch_va_canonical(first) && arch_va_canonical(last) && (first >> 47) == (last >> 47);
}

static inline bool arch_pte_present(pte_t e) { return e & X86_PTE_P; }

/* Level 1 entries are leaves; PS makes a PDPTE or PDE one (PS in a PML4E is reserved). */
static inline bool arch_pte_is_leaf(pte_t e, int level)
{
	return level == 1 || (level <= 3 && (e & X86_PTE_PS));
}

static inline paddr_t arch_pte_frame(pte_t e, int level)
{
	return e & (arch_pte_is_leaf(e, level) ? x86_pte_addr_mask(level) : X86_PTE_ADDR_4K);
}

/* Tables are present and writable; the leaves decide protection (the CPU ANDs them). */
static inline pte_t arch_pte_table(paddr_t table) { return table | X86_PTE_P | X86_PTE_W; }

static inline enum pt_cache arch_pte_cache_effective(enum pt_cache want, unsigned features)
{
	KASSERT((unsigned)want < PT_CACHE_TYPES, "arch_pte: memory type %u", (unsigned)want);
	/* Without the PAT, PWT and PCD select the four types of the power-on PAT (WB, WT, UC-, UC);
	 * WC has no encoding and becomes UC-: uncached, and still write-combining where an MTRR says WC. */
	return (features & PT_FEAT_MEMTYPES) || want != PT_CACHE_WC ? want : PT_CACHE_UCMINUS;
}

/* The PWT, PCD and PAT bits selecting cache in a leaf at level (the PAT bit only with the PAT). */
static inline pte_t x86_pte_cache_bits(enum pt_cache cache, int level, unsigned features)
{
	unsigned index = x86_pte_pat_index(arch_pte_cache_effective(cache, features));
	return ((index & 1) ? X86_PTE_PWT : 0) | ((index & 2) ? X86_PTE_PCD : 0) | ((index & 4) ? x86_pte_pat_bit(level) : 0);
}

/* Accessed and dirty are preset: the CPU never has to write them back into the tables. */
static inline pte_t arch_pte_leaf_attrs(unsigned prot, enum pt_cache cache, int level, unsigned features)
{
	pte_t e = X86_PTE_P | X86_PTE_A | X86_PTE_D | x86_pte_cache_bits(cache, level, features);
	if (prot & PT_PROT_W)
		e |= X86_PTE_W;
	if (prot & PT_PROT_G)
		e |= X86_PTE_G;
	if ((features & PT_FEAT_NX) && !(prot & PT_PROT_X))
		e |= X86_PTE_NX;
	if (level > 1)
		e |= X86_PTE_PS;
	return e;
}

static inline pte_t arch_pte_leaf(pte_t attrs, paddr_t pa) { return attrs | pa; }

/* A 1 GiB leaf splits into 2 MiB leaves with the same bits; a 2 MiB one into 4 KiB leaves without
 * PS, its PAT bit moved from bit 12 to bit 7. */
static inline pte_t arch_pte_split_attrs(pte_t e, int level)
{
	pte_t attrs = e & ~x86_pte_addr_mask(level);
	if (level != 2)
		return attrs;
	attrs &= ~(X86_PTE_PS | X86_PTE_PAT_LARGE);
	return (e & X86_PTE_PAT_LARGE) ? attrs | X86_PTE_PAT_4K : attrs;
}

static inline unsigned arch_pte_prot(pte_t e, unsigned features)
{
	return ((e & X86_PTE_W) ? PT_PROT_W : 0) | ((e & X86_PTE_G) ? PT_PROT_G : 0) |
	       (!(features & PT_FEAT_NX) || !(e & X86_PTE_NX) ? PT_PROT_X : 0);
}

/* Without the PAT the CPU ignores the PAT bit (pt_check flags it). */
static inline enum pt_cache arch_pte_cache(pte_t e, int level, unsigned features)
{
	unsigned index = (unsigned)!!(e & X86_PTE_PWT) | (unsigned)!!(e & X86_PTE_PCD) << 1 |
			 (unsigned)((features & PT_FEAT_MEMTYPES) && (e & x86_pte_pat_bit(level))) << 2;
	return x86_pte_pat_type(index);
}

static inline pte_t arch_pte_set_map_start(pte_t e) { return e | X86_PTE_SW_MAP_START; }
static inline bool arch_pte_map_start(pte_t e) { return e & X86_PTE_SW_MAP_START; }

static inline unsigned arch_pte_faults(pte_t e, int level, unsigned features)
{
	unsigned f = 0;
	bool leaf = arch_pte_is_leaf(e, level);
	if (e & X86_PTE_U)
		f |= X86_PTE_FAULT_USER;
	if (e & X86_PTE_HIGH_SOFT)
		f |= X86_PTE_FAULT_SOFT;
	if (level == 4 && (e & X86_PTE_PS))
		f |= X86_PTE_FAULT_PS_ROOT;
	/* Without 1 GiB pages PS is reserved in a PDPT entry (SDM Vol. 3A 4.5): every access faults. */
	if (level == 3 && (e & X86_PTE_PS) && !(features & PT_FEAT_1G))
		f |= X86_PTE_FAULT_PS_1G;
	/* Bit 8 (G in a leaf) is reserved in a PML4 entry on AMD CPUs (APM Vol. 2 5.3.3; Intel and AMD's
	 * PDPT and PD entries ignore it), and this kernel never sets it in a table pointer. */
	if (level == 4 && (e & X86_PTE_G))
		f |= X86_PTE_FAULT_G_ROOT;
	if (!(features & PT_FEAT_NX) && (e & X86_PTE_NX))
		f |= X86_PTE_FAULT_NX;
	if (leaf && !(features & PT_FEAT_MEMTYPES) && (e & x86_pte_pat_bit(level)))
		f |= X86_PTE_FAULT_PAT;
	/* A large leaf's frame bits below its size (besides its PAT bit) are reserved. */
	if (leaf && level > 1 && (e & X86_PTE_ADDR_4K & ~x86_pte_addr_mask(level) & ~X86_PTE_PAT_LARGE))
		f |= X86_PTE_FAULT_ADDR;
	return f;
}

static inline const char *arch_pte_fault_name(unsigned fault)
{
	switch (fault) {
	case X86_PTE_FAULT_USER: return "user-accessible entry";
	case X86_PTE_FAULT_SOFT: return "reserved/software bits set";
	case X86_PTE_FAULT_PS_ROOT: return "PS bit in a PML4 entry";
	case X86_PTE_FAULT_NX: return "execute-disable bit without NX (reserved: faults)";
	case X86_PTE_FAULT_PAT: return "PAT bit without the PAT";
	case X86_PTE_FAULT_ADDR: return "reserved address bits in a large page";
	case X86_PTE_FAULT_PS_1G: return "PS bit in a PDPT entry on a CPU without 1 GiB pages (reserved: faults)";
	case X86_PTE_FAULT_G_ROOT: return "G bit in a PML4 entry (reserved on AMD: faults)";
	default: return "unknown page-table fault";
	}
}

#endif
