/*
 * Host tests of the page-table format behind include/arch_pte.h (the x86-64 implementation, the
 * same the kernel runs): generated leaves of every level, protection, memory type and feature set
 * read back through the interface; splits keep frame, protection and type; table pointers; the
 * canonical rule against an independent model; not-present words (the region's free lists live in
 * them); and every single-bit corruption of a valid entry against the faults the checker must see.
 */
#include "tap.h"
#include "arch_pte.h"
#include "test_rng.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t draw(uint64_t n)
{
	uint64_t x = test_rng_next(&rng);
	return n ? x % n : x;
}

static uint64_t level_size(int level) { return 1ULL << arch_pt_level_shift(level); }

/* The geometry: 4 levels of 512 entries over 48-bit addresses with 4 KiB pages. */
static void test_geometry(void)
{
	is(ARCH_PT_LEVELS, 4, "four levels");
	is(ARCH_PT_ENTRIES, 512, "512 entries per table");
	is(ARCH_PT_ENTRIES * sizeof(pte_t), PAGE_SIZE, "a table is one page");
	for (int l = 1; l <= ARCH_PT_LEVELS; l++)
		is(arch_pt_level_shift(l), 12 + 9 * (unsigned)(l - 1), "level %d indexes from bit %u", l, 12 + 9 * (l - 1));
	ok(arch_pt_leaf_ok(1, 0) && arch_pt_leaf_ok(2, 0) && !arch_pt_leaf_ok(3, 0) && arch_pt_leaf_ok(3, PT_FEAT_1G) &&
	   !arch_pt_leaf_ok(4, PT_FEAT_ALL), "leaves at levels 1 and 2, at 3 with 1 GiB pages, never at the root");
	is(ARCH_PTE_MAX_PA, (1ULL << 52) - 1, "52-bit physical addresses");
}

/* Independent model of the canonical rule: bits 63..47 all equal. */
static bool model_canonical(vaddr_t va) { return va < (1ULL << 47) || va >= ~0ULL - (1ULL << 47) + 1; }

/* An address near one of the rule's edges, or anywhere. */
static vaddr_t edge_va(void)
{
	static const vaddr_t edges[] = { 0, 1ULL << 47, ~0ULL - (1ULL << 47) + 1, 0, ~0ULL };
	return draw(4) ? edges[draw(ARRAY_SIZE(edges))] + (draw(2) ? draw(1 << 20) : -draw(1 << 20)) : draw(0);
}

static void test_canonical(void)
{
	uint64_t wrong = 0, canon = 0, n = 200000;
	for (uint64_t k = 0; k < n; k++) {
		vaddr_t a = edge_va(), b = edge_va();
		if (a > b) {
			vaddr_t t = a;
			a = b;
			b = t;
		}
		bool ca = model_canonical(a);
		canon += ca;
		wrong += arch_va_canonical(a) != ca;
		/* Canonicalizing keeps the 48 translated bits, gives a canonical address, and changes no canonical one. */
		vaddr_t cz = arch_va_canonicalize(a), low = (1ULL << 48) - 1;
		wrong += !arch_va_canonical(cz) || (cz & low) != (a & low) || (ca && cz != a);
		/* Every address of [a, b] is canonical: both ends are and no end of the hole lies between. */
		bool range = ca && model_canonical(b) && !(a < (1ULL << 47) && b >= (1ULL << 47));
		wrong += arch_va_range_ok(a, b) != range;
	}
	is(wrong, 0, "%llu generated addresses and ranges: canonical, canonicalize and range rules match the model",
	   (unsigned long long)n);
	ok(canon > n / 4 && canon < n * 3 / 4, "both kinds generated (%llu canonical)", (unsigned long long)canon);
}

/* The protection a leaf built with prot reads back as on a CPU with features. */
static unsigned prot_back(unsigned prot, unsigned features)
{
	return (prot & (PT_PROT_W | PT_PROT_G)) | ((prot & PT_PROT_X) || !(features & PT_FEAT_NX) ? PT_PROT_X : 0);
}

/*
 * Generated leaves: every level a CPU allows, frames up to 52 bits, every protection, type and
 * feature set. Each reads back (present, leaf, frame, protection, effective type, no fault, no
 * mapping-start mark); marked, only the mark changes; split, each piece keeps frame, protection and
 * type at the smaller level.
 */
static void test_leaves(void)
{
	uint64_t wrong = 0, n = 100000, pieces = 0;
	for (uint64_t k = 0; k < n; k++) {
		unsigned features = (unsigned)draw(PT_FEAT_ALL + 1);
		int level = 1 + (int)draw(3);
		if (!arch_pt_leaf_ok(level, features))
			level = 2;
		uint64_t sz = level_size(level);
		paddr_t pa = ALIGN_DOWN(draw(ARCH_PTE_MAX_PA + 1), sz);
		unsigned prot = (unsigned)draw(8);
		enum pt_cache cache = (enum pt_cache)draw(PT_CACHE_TYPES);
		enum pt_cache eff = arch_pte_cache_effective(cache, features);
		pte_t e = arch_pte_leaf(arch_pte_leaf_attrs(prot, cache, level, features), pa);
		bool good = arch_pte_present(e) && arch_pte_is_leaf(e, level) && arch_pte_frame(e, level) == pa &&
			    arch_pte_prot(e, features) == prot_back(prot, features) && arch_pte_cache(e, level, features) == eff &&
			    arch_pte_faults(e, level, features) == 0 && !arch_pte_map_start(e);
		good &= (features & PT_FEAT_MEMTYPES) ? eff == cache : eff == (cache == PT_CACHE_WC ? PT_CACHE_UCMINUS : cache);
		pte_t m = arch_pte_set_map_start(e);
		good &= arch_pte_map_start(m) && arch_pte_present(m) && arch_pte_is_leaf(m, level) &&
			arch_pte_frame(m, level) == pa && arch_pte_prot(m, features) == arch_pte_prot(e, features) &&
			arch_pte_cache(m, level, features) == eff && arch_pte_faults(m, level, features) == 0;
		if (level > 1) {
			uint64_t i = draw(ARCH_PT_ENTRIES), psz = level_size(level - 1);
			pte_t p = arch_pte_leaf(arch_pte_split_attrs(e, level), pa + i * psz);
			good &= arch_pte_present(p) && arch_pte_is_leaf(p, level - 1) && arch_pte_frame(p, level - 1) == pa + i * psz &&
				arch_pte_prot(p, features) == arch_pte_prot(e, features) &&
				arch_pte_cache(p, level - 1, features) == eff && arch_pte_faults(p, level - 1, features) == 0;
			pieces++;
		}
		if (!good && wrong++ < 5)
			printf("# leaf 0x%016llx: level %d pa 0x%llx prot %u cache %u features %u\n", (unsigned long long)e,
			       level, (unsigned long long)pa, prot, (unsigned)cache, features);
	}
	is(wrong, 0, "%llu generated leaves (%llu split) read back as built", (unsigned long long)n, (unsigned long long)pieces);
}

/* Table pointers at every level that has them; words with bit 0 clear are never present. */
static void test_tables_and_not_present(void)
{
	uint64_t wrong = 0;
	for (int k = 0; k < 10000; k++) {
		paddr_t t = ALIGN_DOWN(draw(ARCH_PTE_MAX_PA + 1), PAGE_SIZE);
		pte_t e = arch_pte_table(t);
		for (int level = 2; level <= ARCH_PT_LEVELS; level++)
			wrong += !arch_pte_present(e) || arch_pte_is_leaf(e, level) || arch_pte_frame(e, level) != t ||
				 arch_pte_faults(e, level, 0) != 0;
		wrong += arch_pte_present(draw(0) & ~1ULL);
	}
	is(wrong, 0, "table pointers read back at levels 2..4; any word with bit 0 clear is not present");
}

/* The faults a single flipped bit must raise in a valid entry (x86-64: SDM Vol. 3A 4.5). */
static bool fault_expected(int bit, int level, bool leaf, unsigned features)
{
	if (bit == 2 || (bit >= 52 && bit <= 62))
		return true;                                    /* user; ignored bits this kernel never sets */
	if (bit == 63)
		return !(features & PT_FEAT_NX);                /* execute-disable without NX: reserved */
	if (level == 4)
		return bit == 7 || bit == 8;                    /* PS in a PML4 entry; G there, reserved on AMD */
	if (level == 3 && bit == 7 && !leaf)
		return !(features & PT_FEAT_1G);                /* PS in a PDPT entry without 1 GiB pages */
	if (leaf && level == 1 && bit == 7)
		return !(features & PT_FEAT_MEMTYPES);          /* the PAT bit without the PAT */
	if (leaf && level > 1 && bit == 12)
		return !(features & PT_FEAT_MEMTYPES);
	return leaf && level > 1 && bit > 12 && bit < (int)arch_pt_level_shift(level);   /* address bits below the page */
}

/*
 * Every single-bit corruption of a valid leaf (each level, with and without NX and PAT) and of
 * table pointers: arch_pte_faults names a fault exactly when the bit is one the CPU would fault
 * on or misread, or one this kernel never sets. Each fault has a name.
 */
static void test_faults(void)
{
	uint64_t wrong = 0, faulted = 0;
	static const unsigned feats[] = { PT_FEAT_ALL, PT_FEAT_1G, PT_FEAT_NX | PT_FEAT_1G, PT_FEAT_MEMTYPES | PT_FEAT_1G,
					  PT_FEAT_NX | PT_FEAT_MEMTYPES, 0 };
	for (size_t f = 0; f < ARRAY_SIZE(feats); f++)
		for (int level = 1; level <= ARCH_PT_LEVELS; level++) {
			bool leaf = arch_pt_leaf_ok(level, feats[f]);
			pte_t e = leaf ? arch_pte_leaf(arch_pte_leaf_attrs(PT_PROT_W, PT_CACHE_WB, level, feats[f]), level_size(level))
				       : arch_pte_table(0x5000);
			wrong += arch_pte_faults(e, level, feats[f]) != 0;
			for (int bit = 1; bit < 64; bit++) {
				pte_t c = e ^ (1ULL << bit);
				if (level > 1 && level < 4 && bit == 7 && arch_pt_leaf_ok(level, feats[f]))
					continue;   /* PS where a leaf may be: a table pointer becomes a leaf and back */
				unsigned got = arch_pte_faults(c, level, feats[f]);
				bool want = fault_expected(bit, level, leaf, feats[f]);
				faulted += got != 0;
				if ((got != 0) != want && wrong++ < 5)
					printf("# level %d features %u bit %d: faults 0x%x, expected %s\n", level, feats[f], bit, got,
					       want ? "some" : "none");
				for (unsigned b = 1; b; b <<= 1)
					wrong += (got & b) && arch_pte_fault_name(b) == arch_pte_fault_name(0);   /* named */
			}
		}
	is(wrong, 0, "single-bit corruptions: faults exactly where the CPU faults, misreads, or this kernel never writes");
	ok(faulted > 100, "%llu corruptions faulted", (unsigned long long)faulted);
}

int main(void)
{
	test_geometry();
	test_canonical();
	test_leaves();
	test_tables_and_not_present();
	test_faults();
	return tap_done();
}
