/*
 * Host tests of what the page tables give a CPU with and without NX and PAT: the memory-type
 * translation of the page-table format (include/arch_pte.h: arch_pte_leaf_attrs, the one place a
 * type becomes entry bits, arch_pte_cache_effective and arch_pte_cache, arch_pte_split_attrs)
 * against the README's table for both, decoded by a model of the hardware; a property test of
 * pt_map over generated protections, page sizes and feature sets; the reserved-mapping API end to
 * end on machines without PAT or NX; and pt_check catching bits such a CPU would fault on.
 */
#include <stdlib.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pt.h"
#include "syspte.h"
#include "reserved.h"
#include "wdm.h"
#include "test_rng.h"

/* Architectural memory-type encodings (PAT entries, MTRR types). */
enum { MT_UC = 0x00, MT_WC = 0x01, MT_WT = 0x04, MT_WB = 0x06, MT_UCM = 0x07 };
/* The kernel's PAT programming (arch/x86_64/x86.h PAT_VALUE; cpu_pat_programmed checks it at boot). */
#define KERNEL_PAT 0x0007040100070406ULL
/* What PWT/PCD select on a CPU without PAT (the four types of the power-on PAT). */
static const uint8_t no_pat_mt[4] = { MT_WB, MT_WT, MT_UCM, MT_UC };

/* The hardware's view: the memory type a leaf at level selects (before MTRRs). */
static uint8_t hw_memory_type(uint64_t e, bool pat, int level)
{
	unsigned idx = (unsigned)!!(e & X86_PTE_PWT) | (unsigned)!!(e & X86_PTE_PCD) << 1;
	if (!pat)
		return no_pat_mt[idx];
	idx |= (unsigned)!!(e & (level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE)) << 2;
	return (uint8_t)(KERNEL_PAT >> (8 * idx));
}

/* The README's table: the memory type each MEMORY_CACHING_TYPE gets, with and without PAT. */
static const struct { MEMORY_CACHING_TYPE t; const char *name; uint8_t with_pat, without_pat; } readme[] = {
	{ MmNonCached, "MmNonCached", MT_UC, MT_UC },
	{ MmCached, "MmCached", MT_WB, MT_WB },
	{ MmWriteCombined, "MmWriteCombined", MT_WC, MT_UCM },
	{ MmHardwareCoherentCached, "MmHardwareCoherentCached", MT_WB, MT_WB },
	{ MmNonCachedUnordered, "MmNonCachedUnordered", MT_UCM, MT_UCM },
	{ MmUSWCCached, "MmUSWCCached", MT_WC, MT_UCM },
};

/* The memory type (architectural encoding) of an enum pt_cache value. */
static uint8_t mt_of(enum pt_cache c)
{
	static const uint8_t m[PT_CACHE_TYPES] = { MT_WB, MT_WT, MT_UCM, MT_UC, MT_WC };
	return m[c];
}

/* The features a CPU with or without the PAT (and without NX) gives pt_create. */
static unsigned feats_of(bool pat) { return pat ? PT_FEAT_MEMTYPES : 0; }

/*
 * Every type, with and without PAT, at every level: the leaf's bits, the effective type and the
 * inverse agree; a large leaf's pieces after a split keep its type (the PAT bit moves from 12 to 7).
 */
static void test_translation(void)
{
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++)
		for (int pat = 0; pat <= 1; pat++) {
			unsigned feats = feats_of(pat);
			enum pt_cache eff = arch_pte_cache_effective((enum pt_cache)c, feats);
			bool good = pat ? eff == c : (c == PT_CACHE_WC ? eff == PT_CACHE_UCMINUS : eff == c);
			ok(good, "type %u %s PAT: effective %u", c, pat ? "with" : "without", eff);
			for (int level = 1; level <= 3; level++) {
				uint64_t e = arch_pte_leaf_attrs(PT_PROT_X, (enum pt_cache)c, level, feats);
				uint64_t pat_bit = level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE;
				uint64_t base = X86_PTE_P | X86_PTE_A | X86_PTE_D | (level > 1 ? X86_PTE_PS : 0);
				ok((e & base) == base && !(e & ~(base | X86_PTE_PWT | X86_PTE_PCD | pat_bit)),
				   "type %u level %d: present, accessed, dirty, PS for a large leaf, and only PWT/PCD/PAT besides", c, level);
				ok(pat || !(e & pat_bit), "type %u level %d without PAT: no PAT bit", c, level);
				is(hw_memory_type(e, pat, level), mt_of(eff), "type %u level %d %s PAT: the hardware sees the effective type",
				   c, level, pat ? "with" : "without");
				is(arch_pte_cache(e, level, feats), eff, "type %u level %d: arch_pte_cache inverts", c, level);
				if (level == 1)
					continue;
				uint64_t piece = arch_pte_split_attrs(arch_pte_leaf(e, level == 3 ? SIZE_1G : SIZE_2M), level);
				is(hw_memory_type(piece, pat, level - 1), mt_of(eff), "type %u: a level-%d piece of a level-%d leaf keeps it",
				   c, level - 1, level);
				ok(arch_pte_is_leaf(piece, level - 1) && arch_pte_frame(piece, level - 1) == 0 &&
				   arch_pte_prot(piece, feats) == arch_pte_prot(e, feats), "type %u: the piece is a leaf without a frame, same protection", c);
			}
		}
	/* The README's table, through the WDK layer's type and the one translation. */
	for (size_t i = 0; i < ARRAY_SIZE(readme); i++) {
		int want = reserved_cache_type(readme[i].t);
		ok(want >= 0 && want < PT_CACHE_TYPES, "%s is a known type", readme[i].name);
		for (int pat = 0; pat <= 1; pat++) {
			uint8_t mt = hw_memory_type(arch_pte_leaf_attrs(0, (enum pt_cache)want, 1, feats_of(pat)), pat, 1);
			is(mt, pat ? readme[i].with_pat : readme[i].without_pat, "%s %s PAT: README's memory type",
			   readme[i].name, pat ? "with" : "without");
			bool cached = readme[i].t == MmCached || readme[i].t == MmHardwareCoherentCached;
			ok(cached || mt != MT_WB, "%s %s PAT: never write-back", readme[i].name, pat ? "with" : "without");
		}
	}
	is(reserved_cache_type(MmMaximumCacheType), -1, "MmMaximumCacheType: no type");
	is(reserved_cache_type((MEMORY_CACHING_TYPE)-1), -1, "negative: no type");
}

#define TAG 0x68636143u   /* 'Cach' */
static struct machine_map m;
static struct pt pt;
#define RAM_BASE 0x100000ULL
#define RAM_PAGES (64 * 1024)        /* 256 MiB */
#define VA0 0xffffc00000000000ULL
#define REGION_PAGES (8 * 512)       /* 16 MiB */

/* A fresh machine (RAM, empty tables for a CPU with features); false on failure. */
static bool machine(unsigned features)
{
	fake_arch_init();
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, RAM_BASE, RAM_PAGES, 0);
	return !phys_init(m.buf, machine_map_size(&m), m.desc_size) && pt_create(&pt, features) == PT_OK;
}

/* A system PTE region at VA0 in pt, registered for the WDK calls; false when it cannot be made. */
static bool region_on(void)
{
	struct syspte_region *r = syspte_create(&pt, VA0, REGION_PAGES);
	reserved_set_region(r);
	return r != NULL;
}

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* Checks one leaf against what pt_map was asked for; returns false (after printing) on mismatch. */
static bool leaf_as_asked(uint64_t e, unsigned prot, unsigned features, int level)
{
	bool nx = features & PT_FEAT_NX, pat = features & PT_FEAT_MEMTYPES;
	enum pt_cache c = (enum pt_cache)PT_PROT_CACHE_OF(prot);
	uint64_t pat_bit = level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE;
	bool good = !!(e & X86_PTE_NX) == (nx && !(prot & PT_PROT_X)) && !!(e & X86_PTE_W) == !!(prot & PT_PROT_W) &&
		    !!(e & X86_PTE_G) == !!(prot & PT_PROT_G) && !(e & X86_PTE_U) && (pat || !(e & pat_bit)) &&
		    hw_memory_type(e, pat, level) == mt_of(arch_pte_cache_effective(c, features));
	if (!good)
		printf("#   leaf 0x%016llx for prot 0x%x features 0x%x level %d\n", (unsigned long long)e, prot, features, level);
	return good;
}

/*
 * Property: for generated protection words (valid or not), feature sets and page sizes, pt_map
 * refuses exactly the invalid words (and 1 GiB leaves alone on a CPU without them), and every leaf it writes carries bit 63 only with NX on a
 * non-executable mapping, the PAT bit only with PAT, and the memory type arch_pte_cache_effective names;
 * pt_protect the same; pt_check stays clean.
 */
static void test_pt_map_property(void)
{
	static const unsigned sizes[] = { PT_SIZE_4K, PT_SIZE_2M, PT_SIZE_1G };
	static const uint64_t bytes[] = { PAGE_SIZE, SIZE_2M, SIZE_1G };
	uint64_t bad = 0, leaves = 0, wrong = 0, refused_wrongly = 0;
	for (unsigned features = 0; features <= PT_FEAT_ALL; features++) {
		if (!machine(features)) {
			ok(0, "machine set-up for features 0x%x", features);
			return;
		}
		for (unsigned k = 0; k < 400; k++) {
			unsigned prot = (unsigned)draw(2) ? (unsigned)draw(1u << 12) : (unsigned)(draw(8) | draw(8) << 8);
			if ((prot & PT_PROT_W) && (prot & PT_PROT_X))
				prot &= ~PT_PROT_X;   /* legal for pt_map, but pt_check rightly flags it with NX */
			unsigned s = (unsigned)draw(3);
			vaddr_t va = VA0 + (uint64_t)k * 2 * SIZE_1G;
			bool valid = !(prot & ~(PT_PROT_W | PT_PROT_X | PT_PROT_G | PT_PROT_CACHE(7))) &&
				     PT_PROT_CACHE_OF(prot) < PT_CACHE_TYPES;
			int st = pt_map(&pt, va, SIZE_1G, bytes[s], prot, sizes[s]);
			/* 1 GiB leaves alone, on a CPU without them: the range needs leaves sizes does not allow */
			bool fits = !(s == 2 && !(features & PT_FEAT_1G));
			if (valid && !fits) {
				refused_wrongly += st != PT_EINVAL || pt_query(&pt, va, NULL, NULL, NULL);
				continue;
			}
			if (!valid) {
				bad++;
				refused_wrongly += st != PT_EINVAL || pt_query(&pt, va, NULL, NULL, NULL);
				continue;
			}
			refused_wrongly += st != PT_OK;
			uint64_t e, sz;
			if (!pt_query(&pt, va, NULL, &e, &sz))
				continue;
			int level = sz == PAGE_SIZE ? 1 : sz == SIZE_2M ? 2 : 3;
			leaves++;
			wrong += !leaf_as_asked(e, prot, features, level);
			/* Re-protect one 4 KiB piece (splitting a large page) with another valid word. */
			unsigned prot2 = (unsigned)(draw(8) | draw(PT_CACHE_TYPES) << 8);
			if (prot2 & PT_PROT_W)
				prot2 &= ~PT_PROT_X;
			if (pt_protect(&pt, va + PAGE_SIZE, PAGE_SIZE, prot2) == PT_OK && pt_query(&pt, va + PAGE_SIZE, NULL, &e, NULL)) {
				leaves++;
				wrong += !leaf_as_asked(e, prot2, features, 1);
			}
			if (sz > PAGE_SIZE && pt_query(&pt, va + 2 * PAGE_SIZE, NULL, &e, NULL)) {
				leaves++;   /* a neighbour of the split keeps its type, the PAT bit moved to bit 7 */
				wrong += !leaf_as_asked(e, prot, features, 1);
			}
			refused_wrongly += pt_protect(&pt, va, PAGE_SIZE, PT_PROT_CACHE(5 + draw(3))) != PT_EINVAL;
		}
		is(pt_check(&pt), 0, "features 0x%x: pt_check clean after generated maps", features);
	}
	is(refused_wrongly, 0, "pt_map/pt_protect refuse exactly the invalid protections (%llu invalid generated)",
	   (unsigned long long)bad);
	is(wrong, 0, "%llu generated leaves carry NX, PAT and memory type as the CPU's features allow",
	   (unsigned long long)leaves);
	ok(bad > 100 && leaves > 1000, "both kinds of input were generated");
}

/* The reserved-mapping API on machines with every combination of NX and PAT: PTE bits per caching type. */
static void test_reserved_api(void)
{
	static const unsigned feats[] = { PT_FEAT_ALL, PT_FEAT_NX | PT_FEAT_1G, PT_FEAT_MEMTYPES, 0 };
	for (size_t f = 0; f < ARRAY_SIZE(feats); f++) {
		bool nx = feats[f] & PT_FEAT_NX, pat = feats[f] & PT_FEAT_MEMTYPES;
		if (!machine(feats[f]) || !region_on()) {
			ok(0, "machine with features 0x%x", feats[f]);
			return;
		}
		paddr_t pa = phys_alloc_zeroed_page();
		struct { MDL mdl; PFN_NUMBER pfn[1]; } md = { .mdl = { .Size = sizeof(MDL) + sizeof(PFN_NUMBER),
			.MdlFlags = MDL_PAGES_LOCKED, .ByteCount = PAGE_SIZE }, .pfn = { pa_to_pfn(pa) } };
		void *va = MmAllocateMappingAddress(PAGE_SIZE, TAG);
		ok(va != NULL, "reserved a page (nx=%d pat=%d)", nx, pat);
		for (size_t i = 0; i < ARRAY_SIZE(readme); i++) {
			uint64_t e = 0;
			bool mapped = MmMapLockedPagesWithReservedMapping(va, TAG, &md.mdl, readme[i].t) == va &&
				      pt_query(&pt, (vaddr_t)va, NULL, &e, NULL);
			ok(mapped && hw_memory_type(e, pat, 1) == (pat ? readme[i].with_pat : readme[i].without_pat) &&
			   (pat || !(e & X86_PTE_PAT_4K)) && !!(e & X86_PTE_NX) == nx,
			   "reserved mapping %s (nx=%d pat=%d): PTE 0x%016llx", readme[i].name, nx, pat, (unsigned long long)e);
			MmUnmapReservedMapping(va, TAG, &md.mdl);
			char *p = MmMapLockedPagesSpecifyCache(&md.mdl, KernelMode, readme[i].t, NULL, 0, NormalPagePriority);
			e = 0;
			ok(p && pt_query(&pt, (vaddr_t)p, NULL, &e, NULL) &&
			   hw_memory_type(e, pat, 1) == (pat ? readme[i].with_pat : readme[i].without_pat) && !!(e & X86_PTE_NX) == nx,
			   "MmMapLockedPagesSpecifyCache %s (nx=%d pat=%d): PTE 0x%016llx", readme[i].name, nx, pat,
			   (unsigned long long)e);
			if (p)
				MmUnmapLockedPages(p, &md.mdl);
		}
		MmFreeMappingAddress(va, TAG);
		phys_free(pa, 1);
		is(syspte_check(reserved_region()), 0, "region consistent (nx=%d pat=%d)", nx, pat);
		is(pt_check(&pt), 0, "tables clean (nx=%d pat=%d)", nx, pat);
	}
}

/* pt_check flags what a CPU without NX or PAT would fault on or misread, and only that. */
static void test_checker(void)
{
	vaddr_t va = VA0 + SIZE_1G;
	machine(PT_FEAT_1G | PT_FEAT_MEMTYPES);   /* no NX */
	pt_map(&pt, va, 0x200000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	is(pt_check(&pt), 0, "without NX a writable page is no violation (W^X cannot hold)");
	volatile uint64_t *slot = pt_pte_slot(&pt, va);
	*slot |= X86_PTE_NX;
	is(pt_check(&pt), 1, "without NX: bit 63 in a leaf flagged");
	*slot &= ~X86_PTE_NX;
	volatile uint64_t *pml4 = arch_phys_to_virt(pt.root);
	unsigned top = (va >> 39) & 511;
	pml4[top] |= X86_PTE_NX;
	is(pt_check(&pt), 1, "without NX: bit 63 in a table entry flagged");
	pml4[top] &= ~X86_PTE_NX;
	is(pt_check(&pt), 0, "clean again");

	machine(PT_FEAT_NX | PT_FEAT_1G);   /* no PAT */
	pt_map(&pt, va, 0x200000, PAGE_SIZE, PT_PROT_CACHE(PT_CACHE_WC), PT_SIZE_4K);
	pt_map(&pt, va + SIZE_2M, 0x400000, SIZE_2M, PT_PROT_CACHE(PT_CACHE_WC), PT_SIZE_2M);
	is(pt_check(&pt), 0, "without PAT: WC mappings carry no PAT bit");
	slot = pt_pte_slot(&pt, va);
	*slot |= X86_PTE_PAT_4K;
	is(pt_check(&pt), 1, "without PAT: the PAT bit of a PTE flagged");
	*slot &= ~X86_PTE_PAT_4K;
	uint64_t e, sz;
	ok(pt_query(&pt, va + SIZE_2M, NULL, &e, &sz) && sz == SIZE_2M && (e & X86_PTE_PCD) && !(e & X86_PTE_PWT) &&
	   !(e & X86_PTE_PAT_LARGE), "without PAT: a 2 MiB WC page is UC- (PCD alone)");
	is(pt_protect(&pt, va + SIZE_2M, PAGE_SIZE, 0), PT_OK, "split it");
	ok(pt_query(&pt, va + SIZE_2M + PAGE_SIZE, NULL, &e, &sz) && sz == PAGE_SIZE && (e & X86_PTE_PCD) &&
	   !(e & X86_PTE_PAT_4K), "the split pieces stay UC- without the PAT bit");
	is(pt_check(&pt), 0, "clean again");

	machine(PT_FEAT_ALL);
	pt_map(&pt, va, 0x200000, PAGE_SIZE, PT_PROT_W | PT_PROT_X, PT_SIZE_4K);
	is(pt_check(&pt), 1, "with NX: writable and executable flagged");
}

int main(void)
{
	test_translation();
	test_pt_map_property();
	test_reserved_api();
	test_checker();
	return tap_done();
}
