/*
 * The mapping path (mm/syspte_map.c, mm/reserved.c, mm/mdl.c, mm/pt.c) and the page-table format
 * (include/arch_pte.h) against docs/contract.md and mm/pt.h, over generated cases:
 *
 *  1. arch_pte_faults and pt_check on a CPU without 1 GiB pages: a level-3 entry with PS set is a
 *     leaf where none may be (its PS bit is reserved there: every access through it faults), which
 *     include/arch_pte.h lists among the format faults (pt_check once passed it as clean).
 *     Likewise bit 8 (G) in a PML4 table pointer, reserved on AMD CPUs.
 *  2. pt_map with sizes that forbid the smaller leaves, over an entry that already points to an
 *     (empty) table: mm/pt.h promises PT_EINVAL for a range that needs leaves sizes does not allow
 *     (the map once wrote 4 KiB or 2 MiB leaves there instead).
 *  3. The reserved-mapping API with 2 MiB leaves mixed with 4 KiB PTEs on CPUs with and without
 *     NX and PAT, at four physical widths and in verifier mode, against a per-page model: every
 *     PTE's frame, page size, NX, PAT bit position and the memory type the hardware sees (the
 *     caching-type table of docs/contract.md section 2), the mapping-start marks, the map's and
 *     unmap's TLB batches, the region's counts, syspte_check and pt_check after every call.
 *     MmMapLockedPagesSpecifyCache of every cache type over an aligned run on the same CPUs.
 *  4. MmMapLockedPagesSpecifyCache refusals (every argument and MDL field class the contract names)
 *     change nothing: the region's statistics, the physical allocator's free pages, the MDL, the
 *     TLB log.
 *  5. Maps of more than 64 whole spans, past the frame pass's recorded leaf decisions.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "verifier.h"
#include "vmlayout.h"
#include "phys.h"
#include "pool.h"
#include "pt.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

#define SPANP 512u

/* ---------------------------------------------------------------- 1. a 1 GiB leaf without 1 GiB pages */

/*
 * include/arch_pte.h: arch_pte_faults gives "bits the CPU would fault on or misread and bits this
 * kernel never sets: ..., a leaf where none may be, ...". On a CPU without 1 GiB pages
 * (arch_pt_leaf_ok(3, features) false), PS in a level-3 entry is reserved (Intel SDM Vol. 3A 4.5:
 * 1-GByte pages need CPUID.80000001H:EDX.Page1GB; AMD APM Vol. 2 5.3; KVM's reserved-bit model,
 * __reset_rsvds_bits_mask, reserves bit 7 of a PDPTE without 1 GiB pages: gbpages_bit_rsvd), so an
 * entry with it is such a leaf. arch_pte_faults flags PS only at level 4 (X86_PTE_FAULT_PS_ROOT), and
 * pt_check, which reports arch_pte_faults, passes a tree holding one.
 */
static void test_1g_leaf_without_feature(void)
{
	rng = 0x1F00D5EEDULL;   /* each test its own sequence */
	static const unsigned no1g[] = { 0, PT_FEAT_NX, PT_FEAT_MEMTYPES, PT_FEAT_NX | PT_FEAT_MEMTYPES };
	unsigned cases = 0, missed = 0, control_bad = 0;
	for (size_t f = 0; f < ARRAY_SIZE(no1g); f++)
		for (unsigned c = 0; c < PT_CACHE_TYPES; c++)
			for (unsigned prot = 0; prot < 8; prot++) {
				unsigned feats = no1g[f];
				/* the leaf a CPU with 1 GiB pages would hold, frame 1 GiB aligned and inside a 36-bit width */
				paddr_t pa = (1 + draw(63)) * SIZE_1G;
				pte_t e = arch_pte_leaf(arch_pte_leaf_attrs(prot, (enum pt_cache)c, 3, feats | PT_FEAT_1G), pa);
				cases++;
				control_bad += arch_pte_faults(e, 3, feats | PT_FEAT_1G) != 0;
				if (arch_pte_faults(e, 3, feats) == 0 && missed++ < 3)
					printf("# features 0x%x, type %u, prot 0x%x: level-3 leaf 0x%016llx has no fault\n", feats, c,
					       prot, (unsigned long long)e);
			}
	is(control_bad, 0, "control: %u level-3 leaves are valid entries on a CPU with 1 GiB pages", cases);
	ok(missed == 0, "arch_pte_faults flags a level-3 leaf (PS) on a CPU without 1 GiB pages: %u of %u leaves unflagged",
	   missed, cases);

	/* the same through pt_check: a tree on a CPU without 1 GiB pages, one PDPT entry made a leaf */
	struct machine_map m;
	struct pt pt;
	unsigned trees = 0, clean = 0;
	for (size_t f = 0; f < ARRAY_SIZE(no1g); f++) {
		fake_arch_init();
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 4096, 0);
		if (phys_init(m.buf, machine_map_size(&m), m.desc_size) || pt_create(&pt, no1g[f]) != PT_OK) {
			ok(0, "a machine without 1 GiB pages");
			return;
		}
		vaddr_t va = 0xffffb00000000000ULL + draw(64) * SIZE_1G * 2;
		pt_map(&pt, va, 0x200000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);   /* makes the PDPT over va */
		trees++;
		uint64_t before = pt_check(&pt);
		volatile pte_t *pdpte = pt_entry_slot(&pt, va + SIZE_1G, 3);
		if (before != 0 || !pdpte || arch_pte_present(*pdpte)) {
			ok(0, "set-up: a clean tree with an empty PDPT entry beside a mapping");
			return;
		}
		*pdpte = arch_pte_leaf(arch_pte_leaf_attrs(PT_PROT_W | PT_PROT_G, PT_CACHE_WB, 3, no1g[f] | PT_FEAT_1G),
				       (1 + draw(15)) * SIZE_1G);
		uint64_t got = pt_check(&pt);
		clean += got == 0;
		if (got == 0)
			printf("# features 0x%x: pt_check found nothing in a tree with a 1 GiB leaf 0x%016llx\n", no1g[f],
			       (unsigned long long)*pdpte);
		*pdpte = 0;
	}
	ok(clean == 0, "pt_check reports a 1 GiB leaf on a CPU without 1 GiB pages: %u of %u trees passed as clean",
	   clean, trees);
}

/*
 * The same rule for table pointers: bit 8 (G) of a PML4 entry is reserved on AMD CPUs (AMD APM Vol.
 * 2 5.3, the long-mode PML4E format; Intel ignores it, and AMD ignores it in PDPEs and PDEs: KVM
 * models exactly this, "Intel ignores it; AMD ignores it in PDEs and PDPEs, but reserves it in
 * PML4Es", commit 5ecad245de2a, __reset_rsvds_bits_mask's nonleaf_bit8_rsvd). include/
 * arch_pte_impl.h names AMD APM Vol. 2 5.3 as its source, arch_pte_table never sets the bit, and
 * arch_pte_faults is to give "bits the CPU would fault on ... and bits this kernel never sets"; it
 * gives nothing for it, and pt_check passes a tree whose PML4 entry carries it (every access below
 * that entry faults on an AMD CPU). Every feature set. (The same KVM function reserves PS in a PDPTE
 * when the CPU lacks 1 GiB pages, gbpages_bit_rsvd: the case above.)
 */
static void test_table_global_bit(void)
{
	rng = 0x6A0B17ULL;   /* each test its own sequence */
	static const unsigned feats[] = { 0, PT_FEAT_NX, PT_FEAT_1G, PT_FEAT_MEMTYPES, PT_FEAT_ALL };
	unsigned cases = 0, missed = 0;
	for (size_t f = 0; f < ARRAY_SIZE(feats); f++)
		for (unsigned k = 0; k < 16; k++) {
			pte_t e = arch_pte_table((1 + draw(1 << 20)) * PAGE_SIZE) | X86_PTE_G;
			cases++;
			if (arch_pte_faults(e, 4, feats[f]) == 0 && missed++ < 2)
				printf("# features 0x%x: PML4 table pointer 0x%016llx with G has no fault\n", feats[f],
				       (unsigned long long)e);
		}
	ok(missed == 0, "arch_pte_faults flags G in a PML4 table pointer (reserved on AMD): %u of %u unflagged", missed,
	   cases);
	struct machine_map m;
	struct pt pt;
	fake_arch_init();
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 4096, 0);
	if (phys_init(m.buf, machine_map_size(&m), m.desc_size) || pt_create(&pt, PT_FEAT_ALL) != PT_OK) {
		ok(0, "a machine");
		return;
	}
	vaddr_t va = 0xffffb00000000000ULL;
	pt_map(&pt, va, 0x200000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	volatile pte_t *pml4e = pt_entry_slot(&pt, va, 4);
	uint64_t clean = pt_check(&pt), with_g;
	*pml4e |= X86_PTE_G;
	with_g = pt_check(&pt);
	*pml4e &= ~X86_PTE_G;
	ok(clean == 0 && with_g > 0, "pt_check reports G in the PML4 entry of a mapped page (%llu violations)",
	   (unsigned long long)with_g);
}

/* ---------------------------------------------------------------- 2. pt_map's sizes over a table */

/*
 * mm/pt.h, pt_map: "PT_EINVAL (changing nothing) for ... a range that needs 4 KiB leaves where
 * sizes has no PT_SIZE_4K". A span (or a GiB) whose level-2 (level-3) entry points to a table
 * (made by an earlier 4 KiB map there and kept after its unmap) cannot take a large leaf: pt_map
 * (pt.c, the loop "A table may already sit where a large page would go: use smaller pages below
 * it") then writes leaves of a size sizes forbids and returns PT_OK. pt_sizes_fit's dry run
 * follows va, pa and the length only, never the tree. Generated over spans and GiBs, each made to
 * hold a table first. Pass: the map refused (nothing written), or every page mapped by a leaf of an
 * allowed size.
 */
static void test_pt_sizes_over_table(void)
{
	rng = 0x512E5ULL;   /* each test its own sequence */
	struct machine_map m;
	struct pt pt;
	fake_arch_init();
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 8192, 0);
	if (phys_init(m.buf, machine_map_size(&m), m.desc_size) || pt_create(&pt, PT_FEAT_ALL) != PT_OK) {
		ok(0, "a machine");
		return;
	}
	unsigned cases = 0, wrong = 0, control = 0, control_bad = 0;
	for (unsigned it = 0; it < 40; it++) {
		bool giga = it % 4 == 3;
		uint64_t leaf = giga ? SIZE_1G : SIZE_2M;
		/* 1 GiB cases: 1 GiB leaves alone, or with 4 KiB ones but not 2 MiB (the fallback's 2 MiB
		 * leaves under the GiB's level-2 table are then the forbidden ones) */
		unsigned sizes = giga ? (it % 8 == 3 ? PT_SIZE_1G : PT_SIZE_1G | PT_SIZE_4K)
				      : (it % 2 ? PT_SIZE_2M : PT_SIZE_2M | PT_SIZE_1G);
		vaddr_t va = 0xffffa00000000000ULL + (uint64_t)it * 2 * SIZE_1G + (giga ? 0 : draw(512) * SIZE_2M);
		paddr_t pa = (1 + draw(30)) * SIZE_1G + (giga ? 0 : draw(512) * SIZE_2M);
		/* control: the same map where no table sits takes one leaf */
		vaddr_t cva = va + SIZE_1G;
		if (!giga) {
			uint64_t sz = 0;
			control++;
			bool good = pt_map(&pt, cva, pa, leaf, PT_PROT_W, sizes) == PT_OK && pt_query(&pt, cva, NULL, NULL, &sz) &&
				    sz == leaf && pt_unmap(&pt, cva, leaf) == PT_OK;
			control_bad += !good;
		}
		/* a table under the entry: one 4 KiB page mapped inside, then unmapped (the table stays) */
		vaddr_t inside = va + draw(leaf / PAGE_SIZE) * PAGE_SIZE;
		if (pt_map(&pt, inside, 0x300000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K) != PT_OK ||
		    pt_unmap(&pt, inside, PAGE_SIZE) != PT_OK || pt_query(&pt, inside, NULL, NULL, NULL)) {
			ok(0, "set-up: a table left under the entry");
			return;
		}
		cases++;
		int st = pt_map(&pt, va, pa, leaf, PT_PROT_W, sizes);
		uint64_t bad_pages = 0, mapped = 0;
		for (uint64_t off = 0; off < leaf; off += (giga ? SIZE_2M / 8 : PAGE_SIZE)) {
			uint64_t sz = 0;
			if (!pt_query(&pt, va + off, NULL, NULL, &sz))
				continue;
			mapped++;
			bool allowed = (sz == PAGE_SIZE && (sizes & PT_SIZE_4K)) || (sz == SIZE_2M && (sizes & PT_SIZE_2M)) ||
				       (sz == SIZE_1G && (sizes & PT_SIZE_1G));
			bad_pages += !allowed;
		}
		bool good = st == PT_OK ? bad_pages == 0 : mapped == 0;
		if (!good && wrong++ < 4)
			printf("# sizes 0x%x, a %s map at 0x%llx over a table: %d, %llu pages sampled mapped by leaves sizes "
			       "forbids\n", sizes, giga ? "1 GiB" : "2 MiB", (unsigned long long)va, st, (unsigned long long)bad_pages);
		if (st == PT_OK)
			pt_unmap(&pt, va, leaf);
	}
	is(control_bad, 0, "control: %u maps of one large leaf where no table sits take one leaf", control);
	ok(wrong == 0, "pt_map whose sizes forbid 4 KiB (or 2 MiB) leaves, over an entry that points to a table: refused "
	   "or mapped by allowed leaves (%u of %u wrote forbidden leaves)", wrong, cases);
	is(pt_check(&pt), 0, "pt_check clean after the sizes cases");
}

/* ---------------------------------------------------------------- 3. the API on CPUs with and without NX and PAT */

#define FRAM_BASE (1ULL << 20)
#define FRAM_BYTES (32ULL << 20)
#define FPAGES 16384u                 /* region pages: 64 MiB, 32 spans */
#define FMAXN 3000u
#define FMAXRES 8
#define FTAG 0x66704d4du              /* 'MMpf' */

/* Architectural memory-type encodings, the kernel's PAT (arch/x86_64/x86.h PAT_VALUE) and what
 * PWT/PCD select without the PAT (the power-on PAT's first four). */
enum { MT_UC = 0x00, MT_WC = 0x01, MT_WT = 0x04, MT_WB = 0x06, MT_UCM = 0x07 };
#define KERNEL_PAT 0x0007040100070406ULL
static const uint8_t no_pat_mt[4] = { MT_WB, MT_WT, MT_UCM, MT_UC };
/* docs/contract.md section 2's caching-type table: the memory type of each MEMORY_CACHING_TYPE, with
 * the PAT and (WC having no encoding without it: arch_pte_cache_effective) without. */
static const uint8_t type_with_pat[MmMaximumCacheType] = { MT_UC, MT_WB, MT_WC, MT_WB, MT_UCM, MT_WC };
static const uint8_t type_without_pat[MmMaximumCacheType] = { MT_UC, MT_WB, MT_UCM, MT_WB, MT_UCM, MT_UCM };

/* The memory type the hardware reads from leaf e of page_size. */
static uint8_t hw_type(uint64_t e, bool pat, uint64_t page_size)
{
	unsigned idx = (unsigned)!!(e & X86_PTE_PWT) | (unsigned)!!(e & X86_PTE_PCD) << 1;
	if (!pat)
		return no_pat_mt[idx];
	idx |= (unsigned)!!(e & (page_size == PAGE_SIZE ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE)) << 2;
	return (uint8_t)(KERNEL_PAT >> (8 * idx));
}

static struct machine_map fmap;
static struct pt fpt;
static struct syspte_region *FR;
static unsigned ffeat;

/* A machine whose CPU has features, physical width bits, verifier mode as asked: RAM, a direct map,
 * a region of FPAGES pages at SYSPTE_BASE registered for the WDK calls. */
static bool feat_machine(unsigned features, unsigned bits, bool verifier)
{
	host_machine_destroy();
	fake_arch_reset(FRAM_BASE + FRAM_BYTES);
	mm_verifier_set(verifier);
	fake_arch_set_phys_bits(bits);
	machine_map_init(&fmap, 48);
	machine_map_add(&fmap, EFI_CONVENTIONAL, FRAM_BASE, FRAM_BYTES >> PAGE_SHIFT, 0);
	if (phys_init(fmap.buf, machine_map_size(&fmap), fmap.desc_size) || pt_create(&fpt, features) != PT_OK)
		return false;
	if (pt_map(&fpt, (vaddr_t)arch_phys_to_virt(FRAM_BASE), FRAM_BASE, FRAM_BYTES, PT_PROT_W,
		   PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G) != PT_OK)
		return false;
	arch_cr3_load(fpt.root);
	mm_set_kernel_pt(&fpt);
	FR = syspte_create(&fpt, SYSPTE_BASE, FPAGES);
	reserved_set_region(FR);
	ffeat = features;
	return FR != NULL;
}

/* Forgets the machine: every module reset, RAM zeros again, verifier off, the default width. */
static void feat_machine_end(void)
{
	mm_set_kernel_pt(NULL);
	reserved_set_region(NULL);
	pool_reset();
	phys_reset();
	fake_arch_reset(FRAM_BASE + FRAM_BYTES);
	mm_verifier_set(false);
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
}

struct fres { bool live; uint64_t start, npages; };
static struct fres fres[FMAXRES];
static int fowner[FPAGES];
static uint64_t fpfn[FPAGES];        /* frame + 1, 0 unmapped */
static bool fstart[FPAGES], fleaf[FPAGES / SPANP];
static uint8_t ftype[FPAGES];        /* MEMORY_CACHING_TYPE of the page's mapping */
static struct { MDL mdl; PFN_NUMBER pfn[FMAXN + 2]; } fm;
static unsigned ffail;
static uint64_t fops, fleaves_made, fmaps_ok, funmaps_ok;

static vaddr_t fva(uint64_t i) { return FR->base + i * PAGE_SIZE; }

static void ffailed(const char *what, uint64_t a, uint64_t b)
{
	if (ffail++ < 10)
		printf("# features 0x%x width %u%s, op %llu: %s (0x%llx, 0x%llx)\n", ffeat, arch_phys_addr_bits(),
		       mm_verifier ? " verifier" : "", (unsigned long long)fops, what, (unsigned long long)a, (unsigned long long)b);
}

/* Every PTE of pages [a, b) against the model and the features. */
static void fcheck_ptes(uint64_t a, uint64_t b)
{
	bool nx = ffeat & PT_FEAT_NX, pat = ffeat & PT_FEAT_MEMTYPES;
	for (uint64_t i = a; i < b; i++) {
		paddr_t pa;
		uint64_t e, sz = 0;
		bool present = pt_query(&fpt, fva(i), &pa, &e, &sz);
		if (present != (fpfn[i] != 0)) {
			ffailed("present differs from the model", i, present);
			return;
		}
		if (!present)
			continue;
		bool leaf = sz == SIZE_2M;
		uint64_t patbit = leaf ? X86_PTE_PAT_LARGE : X86_PTE_PAT_4K;
		const char *bad = NULL;
		if (leaf != fleaf[i / SPANP])
			bad = "page size";
		else if (pa >> PAGE_SHIFT != fpfn[i] - 1)
			bad = "frame";
		else if (!!(e & X86_PTE_NX) != nx)
			bad = "NX bit differs from the CPU's NX";
		else if (!pat && (e & patbit))
			bad = "a PAT bit without the PAT";
		else if (hw_type(e, pat, sz) != (pat ? type_with_pat : type_without_pat)[ftype[i]])
			bad = "memory type the hardware reads";
		else if (!(e & X86_PTE_W) || !(e & X86_PTE_G) || (e & X86_PTE_U) || !(e & X86_PTE_A) || !(e & X86_PTE_D))
			bad = "W, G, U, A or D";
		else if ((!leaf || i % SPANP == 0) && !!(e & X86_PTE_SW_MAP_START) != fstart[i])
			bad = "mapping-start mark";
		if (bad) {
			ffailed(bad, i, e);
			return;
		}
		if (leaf)
			i |= SPANP - 1;
	}
}

static void fcheck_counts(void)
{
	uint64_t mapped = 0, leaves = 0;
	for (uint64_t i = 0; i < FPAGES; i++)
		mapped += fpfn[i] != 0;
	for (uint64_t s = 0; s < FPAGES / SPANP; s++)
		leaves += fleaf[s];
	struct syspte_stats st;
	syspte_get_stats(FR, &st);
	if (st.pages_mapped != mapped || st.large_leaves != leaves)
		ffailed("pages mapped or leaves differ", st.pages_mapped * 1000000 + st.large_leaves, mapped * 1000000 + leaves);
	if (syspte_check(FR) != 0)
		ffailed("syspte_check", 0, 0);
	if (pt_check(&fpt) != 0)
		ffailed("pt_check", 0, 0);
}

static int fpick(void)
{
	int r0 = (int)draw(FMAXRES);
	for (int k = 0; k < FMAXRES; k++)
		if (fres[(r0 + k) % FMAXRES].live)
			return (r0 + k) % FMAXRES;
	return -1;
}

static void fop_reserve(void)
{
	int slot = -1;
	for (int r = 0; r < FMAXRES && slot < 0; r++)
		if (!fres[r].live)
			slot = r;
	if (slot < 0)
		return;
	bool div = draw(2);
	uint64_t pages = div ? SPANP * (1 + draw(4)) : 1 + draw(draw(3) ? 2600 : 20);
	fake_tlb_reset();
	vaddr_t v = (vaddr_t)MmAllocateMappingAddressEx(pages * PAGE_SIZE, FTAG, div ? MM_MAPPING_ADDRESS_DIVISIBLE : 0);
	if (fake_tlb.flushes)
		ffailed("a reservation flushed", fake_tlb.flushes, 0);
	if (!v)
		return;
	uint64_t i = (v - FR->base) >> PAGE_SHIFT;
	if (i + pages > FPAGES || (div && v % (pages * PAGE_SIZE))) {
		ffailed("reservation misplaced", v, pages);
		return;
	}
	for (uint64_t k = i; k < i + pages; k++)
		fowner[k] = slot;
	fres[slot] = (struct fres){ true, i, pages };
}

/* Frames for n pages mapped from page i: random ones below the width; for most spans the mapping
 * covers whole, an aligned run (the width's last among them, sometimes one frame off). */
static void fframes(uint64_t i, uint64_t n)
{
	uint64_t lim = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	for (uint64_t k = 0; k < n; k++)
		fm.pfn[k] = 0x100 + draw(lim - 0x100);
	for (uint64_t k = (SPANP - i % SPANP) % SPANP; k + SPANP <= n; k += SPANP) {
		unsigned kind = (unsigned)draw(8);
		if (kind >= 6)
			continue;
		uint64_t base = kind == 5 ? lim - SPANP : SPANP * (1 + draw(lim / SPANP - 2));
		for (uint64_t q = 0; q < SPANP; q++)
			fm.pfn[k + q] = base + q;
		if (kind == 4)
			fm.pfn[k + draw(SPANP)] += 1 + draw(3);
	}
}

static void fop_map(void)
{
	int r = fpick();
	if (r < 0)
		return;
	struct fres *v = &fres[r];
	/* the longest unmapped run, often filled from a span's start */
	uint64_t hole = 0, at = v->start;
	for (uint64_t k = v->start, run = 0; k < v->start + v->npages; k++) {
		run = fpfn[k] ? 0 : run + 1;
		if (run > hole)
			hole = run, at = k + 1 - run;
	}
	if (!hole)
		return;
	uint64_t i = at + (draw(2) ? 0 : draw(hole));
	uint64_t s = (i + SPANP - 1) / SPANP * SPANP;
	if (draw(2) && s < at + hole)
		i = s;
	uint64_t room = at + hole - i, n = draw(2) ? room : 1 + draw(room);
	n = MIN(n, FMAXN);
	memset(&fm.mdl, 0, sizeof(fm.mdl));
	fm.mdl.ByteOffset = draw(2) ? 0 : (ULONG)draw(PAGE_SIZE);
	fm.mdl.StartVa = (PVOID)(0x7f0000000000ULL + draw(1 << 20) * PAGE_SIZE);
	fm.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - fm.mdl.ByteOffset - (draw(2) ? 0 : draw(PAGE_SIZE - fm.mdl.ByteOffset)));
	fm.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
	fm.mdl.MdlFlags = draw(4) ? MDL_PAGES_LOCKED : MDL_PARTIAL;
	fframes(i, n);
	int ct = (int)draw(MmMaximumCacheType);
	MDL saved = fm.mdl;
	fake_tlb_reset();
	uint64_t bc = bugcheck_last.count;
	PVOID p = MmMapLockedPagesWithReservedMapping((PVOID)fva(i), FTAG, &fm.mdl, (MEMORY_CACHING_TYPE)ct);
	if (bugcheck_last.count != bc)
		ffailed("a valid map raised a bug check", bugcheck_last.p[0], 0);
	if (!p) {
		ffailed("a valid map was refused", i, n);
		return;
	}
	CSHORT want = saved.MdlFlags | MDL_MAPPED_TO_SYSTEM_VA | ((saved.MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
	if ((vaddr_t)p != fva(i) + saved.ByteOffset || fm.mdl.MappedSystemVa != (PVOID)fva(i) || fm.mdl.MdlFlags != want)
		ffailed("return value or MDL fields", (vaddr_t)p, (uint16_t)fm.mdl.MdlFlags);
	fmaps_ok++;
	for (uint64_t k = 0; k < n; k++) {
		fpfn[i + k] = fm.pfn[k] + 1;
		fstart[i + k] = k == 0;
		ftype[i + k] = (uint8_t)ct;
	}
	vaddr_t leaves[TLB_BATCH_PAGES];
	size_t nl = 0;
	for (uint64_t sp = (i + SPANP - 1) / SPANP; (sp + 1) * SPANP <= i + n; sp++) {
		uint64_t first = fpfn[sp * SPANP] - 1;
		bool run = first % SPANP == 0;
		for (uint64_t q = 1; run && q < SPANP; q++)
			run = fpfn[sp * SPANP + q] - 1 == first + q;
		fleaf[sp] = run;
		if (run && nl < TLB_BATCH_PAGES)
			leaves[nl++] = fva(sp * SPANP);
	}
	fleaves_made += nl;
	if (nl ? fake_tlb.flushes != 1 || !fake_tlb_flushed_pages(0, leaves, nl) : fake_tlb.flushes != 0)
		ffailed("the map's TLB batch differs from its leaves", fake_tlb.flushes, nl);
	fcheck_ptes(v->start, v->start + v->npages);
}

/* Unmaps the mapping starting at page i (whole), with a fresh MDL of its span. */
static void funmap(uint64_t i)
{
	uint64_t n = 1;
	while (i + n < FPAGES && fpfn[i + n] && !fstart[i + n])
		n++;
	memset(&fm.mdl, 0, sizeof(fm.mdl));
	fm.mdl.ByteOffset = (ULONG)draw(PAGE_SIZE);
	fm.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - fm.mdl.ByteOffset - (n > 1 ? draw(PAGE_SIZE) : 0));
	if (fm.mdl.ByteCount == 0)
		fm.mdl.ByteCount = 1;
	fm.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
	fm.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	fm.mdl.MappedSystemVa = (PVOID)fva(i);
	vaddr_t want[TLB_BATCH_PAGES];
	size_t e = 0;
	for (uint64_t k = i; k < i + n; e++) {
		if (e < TLB_BATCH_PAGES)
			want[e] = fva(k);
		k += fleaf[k / SPANP] ? SPANP : 1;
	}
	fake_tlb_reset();
	uint64_t bc = bugcheck_last.count;
	MmUnmapReservedMapping((PVOID)(fva(i) + draw(PAGE_SIZE)), FTAG, &fm.mdl);
	if (bugcheck_last.count != bc) {
		ffailed("a whole-mapping unmap raised a bug check", bugcheck_last.p[0], bugcheck_last.p[2]);
		return;
	}
	funmaps_ok++;
	if (fake_tlb.flushes != 1 || (e > TLB_BATCH_PAGES ? !fake_tlb.ev[0].all : !fake_tlb_flushed_pages(0, want, e)))
		ffailed("the unmap's TLB batch", fake_tlb.flushes, e);
	if (fm.mdl.MappedSystemVa || fm.mdl.MdlFlags != MDL_PAGES_LOCKED)
		ffailed("unmap left the MDL mapped", (uint16_t)fm.mdl.MdlFlags, 0);
	for (uint64_t sp = i / SPANP; sp * SPANP < i + n; sp++)
		fleaf[sp] = false;
	for (uint64_t k = i; k < i + n; k++)
		fpfn[k] = 0, fstart[k] = false;
}

static void fop_unmap(void)
{
	int r = fpick();
	if (r < 0)
		return;
	struct fres *v = &fres[r];
	uint64_t o = draw(v->npages);
	for (uint64_t k = 0; k < v->npages; k++) {
		uint64_t j = v->start + (o + k) % v->npages;
		if (fstart[j]) {
			funmap(j);
			break;
		}
	}
	fcheck_ptes(v->start, v->start + v->npages);
}

static void fop_free(void)
{
	int r = fpick();
	if (r < 0)
		return;
	struct fres *v = &fres[r];
	for (uint64_t k = v->start; k < v->start + v->npages; k++)
		if (fstart[k])
			funmap(k);
	uint64_t bc = bugcheck_last.count;
	MmFreeMappingAddress((PVOID)fva(v->start), FTAG);
	if (bugcheck_last.count != bc)
		ffailed("a free raised a bug check", bugcheck_last.p[0], 0);
	for (uint64_t k = v->start; k < v->start + v->npages; k++)
		fowner[k] = -1;
	v->live = false;
}

/*
 * MmMapLockedPagesSpecifyCache on the feature machine: MDLs of 600 to 1600 pages holding one aligned
 * run of 512 frames at a random index (the other frames odd), every cache type: the data address,
 * the run mapped by one 2 MiB leaf (the reservation placed for it: docs/contract.md section 6), each
 * page's frame, NX and PAT bit as the CPU allows and the memory type of the caching-type table;
 * MmUnmapLockedPages leaves nothing reserved or mapped. Returns the cases that went wrong.
 */
static unsigned fspecify_cache(unsigned *cases)
{
	bool nx = ffeat & PT_FEAT_NX, pat = ffeat & PT_FEAT_MEMTYPES;
	uint64_t lim = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	unsigned bad = 0;
	for (unsigned c = 0; c < 2 * MmMaximumCacheType; c++, (*cases)++) {
		int ct = (int)(c % MmMaximumCacheType);
		uint64_t n = 600 + draw(1000), j = draw(n - SPANP + 1), run = SPANP * (1 + draw(lim / SPANP - 2));
		memset(&fm.mdl, 0, sizeof(fm.mdl));
		fm.mdl.ByteOffset = (ULONG)draw(PAGE_SIZE);
		fm.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - fm.mdl.ByteOffset);
		fm.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
		fm.mdl.MdlFlags = MDL_PAGES_LOCKED;
		for (uint64_t k = 0; k < n; k++)
			fm.pfn[k] = k >= j && k < j + SPANP ? run + (k - j) : (0x101 + 2 * draw(lim / 2 - 0x100)) | 1;
		char *p = MmMapLockedPagesSpecifyCache(&fm.mdl, KernelMode, (MEMORY_CACHING_TYPE)ct, NULL, 0, NormalPagePriority);
		vaddr_t va = (vaddr_t)p & ~(vaddr_t)PAGE_MASK;
		bool good = p && (vaddr_t)p == va + fm.mdl.ByteOffset && fm.mdl.MappedSystemVa == (PVOID)va;
		uint64_t leaves = 0;
		for (uint64_t k = 0; good && k < n; k++) {
			paddr_t pa;
			uint64_t e, sz;
			good = pt_query(&fpt, va + k * PAGE_SIZE, &pa, &e, &sz) && pa >> PAGE_SHIFT == fm.pfn[k] &&
			       !!(e & X86_PTE_NX) == nx && (pat || !(e & (sz == PAGE_SIZE ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE))) &&
			       hw_type(e, pat, sz) == (pat ? type_with_pat : type_without_pat)[ct];
			leaves += good && sz == SIZE_2M && (va + k * PAGE_SIZE) % SIZE_2M == 0;
		}
		good &= leaves == 1;
		if (p)
			MmUnmapLockedPages(p, &fm.mdl);
		struct syspte_stats st;
		syspte_get_stats(FR, &st);
		good &= st.live == 0 && st.pages_mapped == 0 && st.large_leaves == 0 && fm.mdl.MdlFlags == MDL_PAGES_LOCKED &&
			syspte_check(FR) == 0 && pt_check(&fpt) == 0;
		if (!good && bad++ < 3)
			printf("# features 0x%x: MmMapLockedPagesSpecifyCache type %d, %llu pages, run at %llu: %p, %llu leaves\n",
			       ffeat, ct, (unsigned long long)n, (unsigned long long)j, (void *)p, (unsigned long long)leaves);
	}
	return bad;
}

static void test_features_generated(void)
{
	rng = 0xFEA7u;   /* each test its own sequence */
	static const struct { unsigned feats, bits; bool verifier; } runs[] = {
		{ PT_FEAT_ALL, 46, false },
		{ PT_FEAT_NX | PT_FEAT_1G, 46, false },          /* no PAT */
		{ PT_FEAT_MEMTYPES | PT_FEAT_1G, 36, false },    /* no NX */
		{ PT_FEAT_1G, 36, false },                       /* neither */
		{ PT_FEAT_NX, 52, false },                       /* no PAT, no 1 GiB pages, the widest frames */
		{ PT_FEAT_MEMTYPES, 40, true },                  /* no NX, in verifier mode */
	};
	bugcheck_set_hook(bugcheck_record_hook);
	for (size_t k = 0; k < ARRAY_SIZE(runs); k++) {
		if (!feat_machine(runs[k].feats, runs[k].bits, runs[k].verifier)) {
			ok(0, "machine with features 0x%x", runs[k].feats);
			feat_machine_end();
			continue;
		}
		memset(fres, 0, sizeof(fres));
		memset(fpfn, 0, sizeof(fpfn));
		memset(fstart, 0, sizeof(fstart));
		memset(fleaf, 0, sizeof(fleaf));
		for (uint64_t i = 0; i < FPAGES; i++)
			fowner[i] = -1;
		ffail = 0;
		fops = fleaves_made = fmaps_ok = funmaps_ok = 0;
		for (unsigned step = 0; step < 260; step++, fops++) {
			unsigned d = (unsigned)draw(16);
			if (d < 3)
				fop_reserve();
			else if (d < 4)
				fop_free();
			else if (d < 11)
				fop_map();
			else
				fop_unmap();
			fcheck_counts();
		}
		for (int r = 0; r < FMAXRES; r++)
			fop_free();   /* each frees a live reservation, its mappings first */
		struct syspte_stats st;
		syspte_get_stats(FR, &st);
		unsigned sc_cases = 0, sc_bad = fspecify_cache(&sc_cases);
		is(sc_bad, 0, "features 0x%x, width %u%s: %u MmMapLockedPagesSpecifyCache calls of every cache type over an "
		   "aligned run: one 2 MiB leaf, frames, NX, PAT bit and memory type as the CPU allows; unmapped to nothing",
		   runs[k].feats, runs[k].bits, runs[k].verifier ? ", verifier" : "", sc_cases);
		ok(ffail == 0 && st.live == 0 && st.pages_mapped == 0 && st.large_leaves == 0,
		   "features 0x%x, width %u%s: %llu maps (%llu 2 MiB leaves), %llu unmaps: PTEs (NX, PAT bit, memory type), "
		   "marks, TLB batches, counts, syspte_check and pt_check as the contract says",
		   runs[k].feats, runs[k].bits, runs[k].verifier ? ", verifier" : "", (unsigned long long)fmaps_ok,
		   (unsigned long long)fleaves_made, (unsigned long long)funmaps_ok);
		feat_machine_end();
	}
	bugcheck_set_hook(NULL);
}

/* ---------------------------------------------------------------- 4. refused MmMapLockedPagesSpecifyCache changes nothing */

struct snap {
	struct syspte_stats st;
	uint64_t phys_free;
};

static void take(struct snap *s)
{
	struct phys_stats ps;
	syspte_get_stats(reserved_region(), &s->st);
	phys_get_stats(&ps);
	s->phys_free = ps.free_pages;
}

static bool same(const struct snap *a, const struct snap *b)
{
	return a->st.free_pages == b->st.free_pages && a->st.live == b->st.live && a->st.pages_reserved == b->st.pages_reserved &&
	       a->st.pages_mapped == b->st.pages_mapped && a->st.large_leaves == b->st.large_leaves &&
	       a->st.table_pages == b->st.table_pages && a->phys_free == b->phys_free;
}

/*
 * Generated MDLs with one defect each (docs/contract.md section 5, "MmMapLockedPagesSpecifyCache":
 * NULL with nothing reserved or mapped), and the call's own argument rules: NULL, the region's
 * statistics and the physical allocator's free pages as before, the MDL byte for byte as before,
 * no TLB batch, no bug check. Then the same MDL repaired maps (the generator's control) and
 * MmUnmapLockedPages gives everything back but the tables the region keeps.
 */
static void test_specify_cache_refusals(void)
{
	rng = 0x5BEC1FULL;   /* each test its own sequence */
	if (host_machine_create(64ULL << 20, 32ULL << 20)) {
		ok(0, "host machine");
		return;
	}
	bugcheck_set_hook(bugcheck_record_hook);
	enum { K_BYTE_OFFSET, K_START_VA, K_BYTE_COUNT_0, K_BYTE_COUNT_BIG, K_WRAP, K_SIZE, K_FOREIGN, K_PHB_ALONE,
	       K_FRAME_WIDE, K_NOT_LOCKED, K_MAPPED, K_USER, K_REQUESTED, K_CACHE_HIGH, K_CACHE_NEG, K_KINDS };
	static const char *const names[K_KINDS] = { "ByteOffset >= 4096", "StartVa unaligned", "ByteCount 0",
		"ByteCount above 4 GiB - 4 KiB", "range wraps past 2^64", "Size too small", "a foreign flag",
		"PARTIAL_HAS_BEEN_MAPPED alone", "a frame beyond the width", "neither locked nor partial",
		"already mapped", "UserMode", "RequestedAddress", "CacheType 6+", "CacheType negative" };
	unsigned wrong[K_KINDS] = { 0 }, cases = 0, control_bad = 0;
	static struct { MDL mdl; PFN_NUMBER pfn[1100]; } b;
	for (unsigned it = 0; it < 30 * K_KINDS; it++) {
		unsigned kind = it % K_KINDS;
		uint64_t n = draw(3) ? 1 + draw(40) : 500 + draw(560);
		memset(&b, 0, sizeof(b));
		b.mdl.ByteOffset = (ULONG)draw(PAGE_SIZE);
		b.mdl.StartVa = (PVOID)(0x10000000ULL + draw(1 << 16) * PAGE_SIZE);
		b.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - b.mdl.ByteOffset);
		b.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
		b.mdl.MdlFlags = MDL_PAGES_LOCKED | (draw(2) ? MDL_WRITE_OPERATION : 0);
		uint64_t lim = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
		uint64_t run = SPANP * (1 + draw(1000));
		for (uint64_t k = 0; k < n; k++)
			b.pfn[k] = n >= SPANP ? run + k : 0x100 + draw(1 << 20);
		KPROCESSOR_MODE mode = KernelMode;
		PVOID req = NULL;
		int ct = (int)draw(MmMaximumCacheType);
		switch (kind) {
		case K_BYTE_OFFSET: b.mdl.ByteOffset = PAGE_SIZE + (ULONG)draw(1u << 20); break;
		case K_START_VA: b.mdl.StartVa = (PVOID)((vaddr_t)b.mdl.StartVa + 1 + draw(PAGE_SIZE - 1)); break;
		case K_BYTE_COUNT_0: b.mdl.ByteCount = 0; break;
		case K_BYTE_COUNT_BIG: b.mdl.ByteCount = (ULONG)(MDL_MAX_BYTES + 1 + draw(PAGE_SIZE - 1)); break;
		case K_WRAP: b.mdl.StartVa = (PVOID)(0ULL - n * PAGE_SIZE); break;   /* with the offset below: past 2^64 */
		case K_SIZE: b.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * (n - 1) + draw(8)); break;
		case K_FOREIGN: b.mdl.MdlFlags |= (CSHORT)((const unsigned[]){ MDL_FREE_EXTRA_PTES, MDL_DESCRIBES_AWE, MDL_INTERNAL })[draw(3)]; break;
		case K_PHB_ALONE: b.mdl.MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED; break;
		case K_FRAME_WIDE: b.pfn[draw(n)] = lim + draw(lim); break;
		case K_NOT_LOCKED: b.mdl.MdlFlags = draw(2) ? MDL_WRITE_OPERATION : 0; break;
		case K_MAPPED: b.mdl.MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA; b.mdl.MappedSystemVa = (PVOID)(SYSPTE_BASE + draw(64) * PAGE_SIZE); break;
		case K_USER: mode = UserMode; break;
		case K_REQUESTED: req = (PVOID)(SYSPTE_BASE + draw(1 << 10) * PAGE_SIZE); break;
		case K_CACHE_HIGH: ct = MmMaximumCacheType + (int)draw(100); break;
		case K_CACHE_NEG: ct = -1 - (int)draw(100); break;
		}
		if (kind == K_WRAP)
			b.mdl.ByteOffset = (ULONG)(1 + draw(PAGE_SIZE - 1)), b.mdl.ByteCount = (ULONG)(n * PAGE_SIZE);
		struct snap before, after;
		take(&before);
		MDL saved = b.mdl;
		PFN_NUMBER f0 = b.pfn[0];
		uint64_t bc = bugcheck_last.count;
		fake_tlb_reset();
		PVOID p = MmMapLockedPagesSpecifyCache(&b.mdl, mode, (MEMORY_CACHING_TYPE)ct, req, 0, NormalPagePriority);
		take(&after);
		cases++;
		bool good = !p && same(&before, &after) && !memcmp(&saved, &b.mdl, sizeof(saved)) && b.pfn[0] == f0 &&
			    fake_tlb.flushes == 0 && bugcheck_last.count == bc;
		if (!good && wrong[kind]++ < 2)
			printf("# %s (%llu pages): returned %p, live %llu -> %llu, tables %llu -> %llu, phys free %llu -> %llu\n",
			       names[kind], (unsigned long long)n, p, (unsigned long long)before.st.live,
			       (unsigned long long)after.st.live, (unsigned long long)before.st.table_pages,
			       (unsigned long long)after.st.table_pages, (unsigned long long)before.phys_free,
			       (unsigned long long)after.phys_free);
		if (p)
			MmUnmapLockedPages(p, &b.mdl);
		/* control: the generator's MDL without its defect maps, and its unmap gives back all but tables */
		if (kind == K_CACHE_NEG) {
			memset(&b.mdl, 0, sizeof(b.mdl));
			b.mdl.ByteOffset = (ULONG)draw(PAGE_SIZE);
			b.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - b.mdl.ByteOffset);
			b.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
			b.mdl.MdlFlags = MDL_PAGES_LOCKED;
			take(&before);
			p = MmMapLockedPagesSpecifyCache(&b.mdl, KernelMode, MmCached, NULL, 0, NormalPagePriority);
			if (p)
				MmUnmapLockedPages(p, &b.mdl);
			take(&after);
			before.st.table_pages = after.st.table_pages;
			before.phys_free = after.phys_free;
			control_bad += !p || !same(&before, &after) || b.mdl.MdlFlags != MDL_PAGES_LOCKED || b.mdl.MappedSystemVa;
		}
	}
	unsigned total = 0;
	for (unsigned k = 0; k < K_KINDS; k++)
		total += wrong[k];
	ok(total == 0, "%u refused MmMapLockedPagesSpecifyCache calls over %u defect classes: NULL, nothing reserved, "
	   "mapped, allocated or flushed, the MDL untouched (%u wrong)", cases, (unsigned)K_KINDS, total);
	is(control_bad, 0, "control: the MDLs repaired map and unmap back to the same counts");
	is(syspte_check(reserved_region()), 0, "region consistent after the refusals");
	bugcheck_set_hook(NULL);
	host_machine_destroy();
}

/* ---------------------------------------------------------------- 5. mappings of more than 64 whole spans */

/*
 * The map's frame pass records the leaf decision of the first 64 spans a mapping covers whole
 * (SYSPTE_SCAN_SPANS, mm/syspte_map.c); the write tests the spans after them again. Generated
 * mappings of 66 to 90 whole spans (plus a head and a tail of 4 KiB pages) through the WDK calls,
 * each span an aligned run or not, the width's last run among them, sometimes a run or a single
 * frame beyond the width anywhere (past the 64th span included): NULL with nothing changed exactly
 * when a frame lies beyond the width (docs/contract.md section 3, row 9, "whichever page it is"),
 * else a leaf exactly at each run span, every frame where the MDL says, the map's one flush naming
 * its leaves (everything above TLB_BATCH_PAGES), the unmap's likewise, the counts and syspte_check.
 */
#define BIGSPANS 96u
static struct { MDL mdl; PFN_NUMBER pfn[(BIGSPANS - 2) * SPANP]; } big;

static void test_many_spans(void)
{
	rng = 0xB16B16ULL;   /* each test its own sequence */
	const uint32_t tag = 0x67694272;   /* 'rBig' */
	if (host_machine_create(64ULL << 20, (uint64_t)BIGSPANS * SIZE_2M)) {
		ok(0, "host machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0, refused = 0, past64 = 0;
	uint64_t lim = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	static bool run[BIGSPANS];
	for (unsigned it = 0; it < 16; it++, cases++) {
		uint64_t spans = 66 + draw(25), head = draw(SPANP), tail = draw(SPANP);
		uint64_t n = head + spans * SPANP + tail;
		if (n > ARRAY_SIZE(big.pfn))
			n = ARRAY_SIZE(big.pfn), tail = n - head - spans * SPANP;
		char *v = MmAllocateMappingAddress((spans + 2) * SIZE_2M, tag);
		if (!v) {
			ok(0, "a reservation of %llu spans", (unsigned long long)spans + 2);
			break;
		}
		/* the mapping's first whole span starts at the reservation's first span boundary after the head */
		vaddr_t a = ALIGN_DOWN((vaddr_t)v, SIZE_2M) + SIZE_2M;
		if ((vaddr_t)v % SIZE_2M == 0)
			a = (vaddr_t)v + SIZE_2M;
		vaddr_t at = a - head * PAGE_SIZE;
		for (uint64_t k = 0; k < n; k++)
			big.pfn[k] = (0x100 + draw(lim - 0x200)) | 1;   /* odd: never a run's first frame */
		bool wide = false;
		for (uint64_t s = 0; s < spans; s++) {
			run[s] = draw(3) != 0;
			if (!run[s])
				continue;
			uint64_t first = draw(20) ? SPANP * (1 + draw(lim / SPANP - 2)) : lim - SPANP;
			for (uint64_t q = 0; q < SPANP; q++)
				big.pfn[head + s * SPANP + q] = first + q;
		}
		unsigned fault = (unsigned)draw(6);
		if (fault == 0) {   /* a run beyond the width (an aligned run from the width's first frame) */
			uint64_t s = draw(2) ? 64 + draw(spans - 64) : draw(64);
			run[s] = true;
			wide = true;
			past64 += s >= 64;
			for (uint64_t q = 0; q < SPANP; q++)
				big.pfn[head + s * SPANP + q] = lim + q;
		} else if (fault == 1) {   /* one frame beyond the width, anywhere */
			uint64_t k = draw(n);
			big.pfn[k] = lim + draw(lim);
			wide = true;
			past64 += k >= head + 64 * SPANP && k < head + spans * SPANP;
			if (k >= head && k < head + spans * SPANP)
				run[(k - head) / SPANP] = false;
		}
		memset(&big.mdl, 0, sizeof(big.mdl));
		big.mdl.ByteOffset = (ULONG)draw(PAGE_SIZE);
		big.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - big.mdl.ByteOffset);
		big.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
		big.mdl.MdlFlags = MDL_PAGES_LOCKED;
		struct syspte_stats st0, st;
		syspte_get_stats(r, &st0);
		uint64_t bc = bugcheck_last.count;
		fake_tlb_reset();
		PVOID p = MmMapLockedPagesWithReservedMapping((PVOID)at, tag, &big.mdl, MmCached);
		syspte_get_stats(r, &st);
		bool good = bugcheck_last.count == bc;
		uint64_t leaves = 0;
		for (uint64_t s = 0; s < spans; s++)
			leaves += run[s];
		if (wide) {
			refused++;
			good &= !p && fake_tlb.flushes == 0 && st.pages_mapped == st0.pages_mapped && st.large_leaves == 0 &&
				!(big.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) && !pt_query(host_machine_pt(), at, NULL, NULL, NULL);
		} else {
			good &= p == (PVOID)(at + big.mdl.ByteOffset) && st.pages_mapped == n && st.large_leaves == leaves &&
				fake_tlb.flushes == 1;
			if (good && leaves <= TLB_BATCH_PAGES) {
				vaddr_t want[TLB_BATCH_PAGES];
				size_t e = 0;
				for (uint64_t s = 0; s < spans; s++)
					if (run[s])
						want[e++] = a + s * SIZE_2M;
				good &= fake_tlb_flushed_pages(0, want, e);
			} else if (good)
				good &= fake_tlb.ev[0].all;
			for (uint64_t k = 0; good && k < n; k++) {
				paddr_t pa;
				uint64_t sz;
				bool inside = k >= head && k < head + spans * SPANP;
				good &= pt_query(host_machine_pt(), at + k * PAGE_SIZE, &pa, NULL, &sz) && pa >> PAGE_SHIFT == big.pfn[k] &&
					sz == (inside && run[(k - head) / SPANP] ? SIZE_2M : PAGE_SIZE);
			}
			fake_tlb_reset();
			MmUnmapReservedMapping((PVOID)at, tag, &big.mdl);
			syspte_get_stats(r, &st);
			good &= bugcheck_last.count == bc && st.pages_mapped == st0.pages_mapped && st.large_leaves == 0 &&
				fake_tlb.flushes == 1 && fake_tlb.ev[0].all;   /* more than 32 entries: everything */
		}
		MmFreeMappingAddress(v, tag);
		good &= bugcheck_last.count == bc && syspte_check(r) == 0;
		if (!good && wrong++ < 4)
			printf("# %llu spans (%llu runs) after %llu pages%s: %p, mapped %llu, leaves %llu, flushes %llu\n",
			       (unsigned long long)spans, (unsigned long long)leaves, (unsigned long long)head,
			       wide ? ", a frame beyond the width" : "", p, (unsigned long long)st.pages_mapped,
			       (unsigned long long)st.large_leaves, (unsigned long long)fake_tlb.flushes);
	}
	ok(wrong == 0, "%u maps of 66 to 90 whole spans (the scan records 64): leaves exactly at the runs, frames, "
	   "flushes and counts right; %u refused for a frame beyond the width (%u of them past the 64th span), nothing "
	   "changed", cases, refused, past64);
	bugcheck_set_hook(NULL);
	host_machine_destroy();
}

int main(void)
{
	test_1g_leaf_without_feature();
	test_table_global_bit();
	test_pt_sizes_over_table();
	test_features_generated();
	test_specify_cache_refusals();
	test_many_spans();
	return tap_done();
}
