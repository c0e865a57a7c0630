/* Boot self-tests of the physical allocator and the live page tables. */
#include "ktest.h"
#include "wdm.h"
#include "phys.h"
#include "pool.h"
#include "pt.h"
#include "vm.h"
#include "vmlayout.h"
#include "arch_mm.h"
#include "trap.h"
#include "x86.h"
#include "cpu.h"
#include "percpu.h"
#include "kernel.h"
#include "efi_mmap.h"

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];

KTEST(phys_accounting_adds_up)
{
	struct phys_stats s;
	phys_get_stats(&s);
	KEXPECT(s.usable_pages > 0);
	KEXPECT_EQ(s.loader_pages, 0);   /* released after the CR3 switch */
	KEXPECT_EQ(s.free_pages + s.allocated_pages + s.meta_pages, s.usable_pages);
	KEXPECT_EQ(phys_check(), 0);
}

KTEST(phys_no_page_handed_out_twice)
{
	enum { N = 256 };
	static paddr_t pages[N];
	struct phys_stats before, after;
	phys_get_stats(&before);
	for (int i = 0; i < N; i++) {
		pages[i] = phys_alloc(1, 0, UINT64_MAX);
		KASSERT_TEST(pages[i] != 0, "allocation %d failed", i);
		KEXPECT(!phys_is_free(pages[i], 1));
		KEXPECT(phys_is_managed(pages[i]));
		/* A mark in each page: a page handed out twice would be overwritten. */
		*(volatile uint64_t *)arch_phys_to_virt(pages[i]) = pages[i];
	}
	for (int i = 0; i < N; i++)
		KEXPECT_EQ(*(volatile uint64_t *)arch_phys_to_virt(pages[i]), pages[i]);
	for (int i = 0; i < N; i++)
		phys_free(pages[i], 1);
	phys_get_stats(&after);
	KEXPECT_EQ(after.free_pages, before.free_pages);
}

KTEST(phys_never_hands_out_reserved_or_kernel_memory)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	for (size_t i = 0; i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		bool usable = phys_type_usable_at_init(d->type, d->attribute) || phys_type_loader(d->type, d->attribute);
		if (usable || !d->num_pages)
			continue;
		/* First and last page of every non-usable descriptor is unmanaged (and never free). */
		KEXPECT(!phys_is_managed(d->phys_start), "type %u at 0x%llx", d->type, (unsigned long long)d->phys_start);
		KEXPECT(!phys_is_managed(d->phys_start + ((d->num_pages - 1) << PAGE_SHIFT)));
	}
	KEXPECT(!phys_is_managed(kernel_bootinfo.kernel_phys_base));
	KEXPECT(!phys_is_managed(0), "frame 0 is never handed out");
}

/*
 * The lowest (highest, when top) free page of the memory map, found by scanning each usable
 * descriptor from its low (high) end; 0 when no page is free.
 */
static paddr_t test_extreme_free_page(bool top)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	paddr_t best = 0;
	for (size_t i = 0; i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (!phys_type_usable_at_init(d->type, d->attribute) && !phys_type_loader(d->type, d->attribute))
			continue;
		for (uint64_t k = 0; k < d->num_pages; k++) {
			paddr_t pa = d->phys_start + ((top ? d->num_pages - 1 - k : k) << PAGE_SHIFT);
			if (best && (top ? pa <= best : pa >= best))
				break;   /* this descriptor cannot improve on what was found */
			if (phys_is_free(pa, 1)) {
				best = pa;
				break;
			}
		}
	}
	return best;
}

/*
 * Bounds are honoured at both ends of free memory and around a known free run, with every
 * address taken from the memory map and the allocator's own state, never assumed: a kernel image
 * or a system PTE region of any size may sit anywhere.
 */
KTEST(phys_bounds_and_contiguity)
{
	paddr_t low = test_extreme_free_page(false), high = test_extreme_free_page(true);
	KASSERT_TEST(low && high && low <= high, "free pages at 0x%llx .. 0x%llx", (unsigned long long)low,
		     (unsigned long long)high);
	KEXPECT_EQ(phys_alloc(1, 0, low), 0, "nothing free below the lowest free page");
	KEXPECT_EQ(phys_alloc(1, high + PAGE_SIZE, UINT64_MAX), 0, "nothing free above the highest");
	paddr_t a = phys_alloc(1, 0, low + PAGE_SIZE), b = phys_alloc(1, high, UINT64_MAX);
	KEXPECT_EQ(a, low, "a window ending right after the lowest free page");
	KEXPECT_EQ(b, high, "a window starting at the highest free page");
	if (a)
		phys_free(a, 1);
	if (b && b != a)
		phys_free(b, 1);
	for (uint64_t n = 1; n <= 17; n += 2) {   /* a known free run of n pages: its exact window, and less */
		paddr_t run = phys_alloc(n, 0, UINT64_MAX);
		KASSERT_TEST(run, "%llu pages", (unsigned long long)n);
		phys_free(run, n);
		KEXPECT(phys_alloc(n, run, run + n * PAGE_SIZE - 1) == 0, "a window one byte short of %llu pages",
			(unsigned long long)n);
		paddr_t got = phys_alloc(n, run, run + n * PAGE_SIZE);
		KEXPECT_EQ(got, run, "the run's exact window");
		if (got)
			phys_free(got, n);
		paddr_t lo = run > (8ULL << 20) ? run - (8ULL << 20) : 0, hi = run + n * PAGE_SIZE + (8ULL << 20);
		got = phys_alloc(n, lo, hi);
		KEXPECT(got >= lo && got + n * PAGE_SIZE <= hi, "inside [0x%llx, 0x%llx): 0x%llx", (unsigned long long)lo,
			(unsigned long long)hi, (unsigned long long)got);
		if (got)
			phys_free(got, n);
	}
	KEXPECT_EQ(phys_alloc(0, 0, UINT64_MAX), 0);
	KEXPECT_EQ(phys_alloc(1, 0x3000, 0x3000), 0);
	KEXPECT_EQ(phys_alloc(1ULL << 40, 0, UINT64_MAX), 0);
}

KTEST(phys_zeroed_page_is_zero)
{
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	KASSERT_TEST(pa);
	volatile uint64_t *p = arch_phys_to_virt(pa);
	for (int i = 0; i < 512; i++)
		p[i] = ~0ULL;
	phys_free(pa, 1);
	paddr_t z = phys_alloc_zeroed_page();
	KASSERT_TEST(z);
	p = arch_phys_to_virt(z);
	bool zero = true;
	for (int i = 0; i < 512; i++)
		zero &= p[i] == 0;
	KEXPECT(zero);
	phys_free(z, 1);
}

KTEST(phys_census_restored_after_churn)
{
	uint64_t before[BUDDY_ORDERS], after[BUDDY_ORDERS];
	static paddr_t got[64];
	phys_census(before);
	for (int i = 0; i < 64; i++)
		got[i] = phys_alloc((uint64_t)(i % 7) + 1, 0, UINT64_MAX);
	for (int i = 63; i >= 0; i--)
		if (got[i])
			phys_free(got[i], (uint64_t)(i % 7) + 1);
	phys_census(after);
	bool same = true;
	for (int o = 0; o < BUDDY_ORDERS; o++)
		same &= before[o] == after[o];
	KEXPECT(same, "free blocks per order differ after freeing everything");
}

KTEST(pt_live_tables_wx_nx_no_user)
{
	if (!cpu_feat.nx)
		KTEST_SKIP("CPU without NX (absent, or Execute Disable off in the firmware setup): "
			   "W^X holds for writability only");
	KEXPECT_EQ(pt_check(&kernel_pt), 0);
	KEXPECT_EQ(arch_cr3_read(), kernel_pt.root, "CR3 holds the kernel's own tables");
}

/* Counts of the live tables' entries by the feature bits they use (test walker, not pt.c's). */
struct feature_bits {
	uint64_t xd;            /* present entries, any level, with bit 63 */
	uint64_t pat_bit;       /* leaves with the PAT bit (bit 7 in a PTE, 12 in a large page) */
	uint64_t wx;            /* writable leaves without bit 63 */
	uint64_t leaves;
};

/* Walks the table at level (4 = PML4) and adds its present entries to the counts. */
static void count_feature_bits(paddr_t table, int level, struct feature_bits *c)
{
	const volatile uint64_t *t = arch_phys_to_virt(table);
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t e = t[i];
		if (!(e & X86_PTE_P))
			continue;
		c->xd += !!(e & X86_PTE_NX);
		bool leaf = level == 1 || (level <= 3 && (e & X86_PTE_PS));
		if (!leaf) {
			count_feature_bits(e & X86_PTE_ADDR_4K, level - 1, c);
			continue;
		}
		c->leaves++;
		c->pat_bit += !!(e & (level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_LARGE));
		c->wx += (e & X86_PTE_W) && !(e & X86_PTE_NX);
	}
}

/* Without NX no entry may carry bit 63 (reserved then: every access through it would fault);
 * without the PAT no leaf may carry the PAT bit. With them, W^X and a WC framebuffer. */
KTEST(pt_live_tables_match_cpu_features)
{
	KEXPECT_EQ(pt_check(&kernel_pt), 0);
	KEXPECT_EQ(arch_cr3_read(), kernel_pt.root, "CR3 holds the kernel's own tables");
	KEXPECT_EQ(!!(kernel_pt.features & PT_FEAT_NX), cpu_feat.nx);
	KEXPECT_EQ(!!(kernel_pt.features & PT_FEAT_MEMTYPES), cpu_feat.pat);
	struct feature_bits c = { 0 };
	count_feature_bits(kernel_pt.root, PT_LEVELS, &c);
	KEXPECT(c.leaves > 0);
	if (cpu_feat.nx) {
		KEXPECT_EQ(c.wx, 0, "writable and executable leaves");
		KEXPECT(c.xd > 0, "data and the direct map are NX");
	} else {
		KEXPECT_EQ(c.xd, 0, "entries with bit 63 on a CPU without NX");
	}
	if (!cpu_feat.pat)
		KEXPECT_EQ(c.pat_bit, 0, "leaves with the PAT bit on a CPU without PAT");
	else if (vm_fb_virt)
		KEXPECT(c.pat_bit > 0, "the framebuffer is WC through the PAT bit");
	kprintf("# %llu leaves: %llu entries with bit 63, %llu leaves with the PAT bit (nx=%d pat=%d)\n",
		(unsigned long long)c.leaves, (unsigned long long)c.xd, (unsigned long long)c.pat_bit,
		cpu_feat.nx, cpu_feat.pat);
}

/* A page of kernel data holding one "ret": executable only without NX. */
static uint8_t nx_probe_data[16] __attribute__((aligned(16))) = { 0xc3 };

/* Executes a "ret" placed in kernel data, the direct map and a reserved mapping; NX must stop each. */
KTEST(pt_nx_blocks_instruction_fetch)
{
	if (!cpu_feat.nx)
		KTEST_SKIP("CPU without NX (absent, or Execute Disable off in the firmware setup): data is executable");
	paddr_t pa = phys_alloc_zeroed_page();
	KASSERT_TEST(pa);
	uint8_t *dm = arch_phys_to_virt(pa);
	dm[0] = 0xc3;
	vaddr_t res = (vaddr_t)MmAllocateMappingAddress(PAGE_SIZE, POOL_TAG4('T', 't', 'N', 'x'));
	PFN_NUMBER pfn = pa_to_pfn(pa);
	struct { MDL mdl; PFN_NUMBER pfn[1]; } m = { .mdl = { .Size = sizeof(MDL) + sizeof(PFN_NUMBER),
		.MdlFlags = MDL_PAGES_LOCKED, .ByteCount = PAGE_SIZE }, .pfn = { pfn } };
	const void *mapped = res ? MmMapLockedPagesWithReservedMapping((void *)res, POOL_TAG4('T', 't', 'N', 'x'), &m.mdl, MmCached) : NULL;
	KEXPECT(mapped, "reserved mapping");
	const void *targets[] = { nx_probe_data, dm, mapped };
	const char *what[] = { "kernel data", "direct map", "reserved mapping" };
	for (unsigned i = 0; i < ARRAY_SIZE(targets); i++) {
		if (!targets[i])
			continue;
		uint64_t before = trap_last_fixup.count;
		KEXPECT_EQ(arch_probe_exec(targets[i]), (uint64_t)-1, "fetch from %s must fault", what[i]);
		KEXPECT_EQ(trap_last_fixup.count, before + 1);
		KEXPECT_EQ(trap_last_fixup.vector, VEC_PF);
		KEXPECT_EQ(trap_last_fixup.cr2, (uint64_t)targets[i]);
		KEXPECT_EQ(trap_last_fixup.error, PF_ERR_PRESENT | PF_ERR_FETCH);
	}
	if (mapped)
		MmUnmapReservedMapping((void *)res, POOL_TAG4('T', 't', 'N', 'x'), &m.mdl);
	if (res)
		MmFreeMappingAddress((void *)res, POOL_TAG4('T', 't', 'N', 'x'));
	phys_free(pa, 1);
}

extern char boot_stack_guard[];

/* True when va is one of the image's guard pages: below the boot stack, or below one of the boot
 * CPU's IST stacks. */
static bool image_guard_page(vaddr_t va)
{
	bool guard = va == (vaddr_t)boot_stack_guard;
	for (int i = 0; i < PERCPU_IST_COUNT; i++)
		guard |= va == (vaddr_t)percpu_boot_ist[i].guard;
	return guard;
}

/* Checks the PTE flags of every page of an image section (its stack guard pages are unmapped);
 * returns how many guard pages it holds. */
static unsigned expect_section(const char *s, const char *e, bool w, bool x, const char *name)
{
	unsigned guards = 0;
	for (vaddr_t va = (vaddr_t)s; va < (vaddr_t)e; va += PAGE_SIZE) {
		uint64_t pte, sz;
		if (image_guard_page(va)) {
			KEXPECT(!pt_query(&kernel_pt, va, NULL, NULL, NULL), "stack guard page 0x%llx must stay unmapped",
				(unsigned long long)va);
			guards++;
			continue;
		}
		if (!KEXPECT(pt_query(&kernel_pt, va, NULL, &pte, &sz), "%s page 0x%llx unmapped", name, (unsigned long long)va))
			return guards;
		KEXPECT_EQ(!!(pte & X86_PTE_W), w);
		KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx && !x, "bit 63 only with NX, on what must not execute");
		KEXPECT_EQ(sz, PAGE_SIZE);
		KEXPECT(!(pte & X86_PTE_U));
	}
	return guards;
}

KTEST(pt_kernel_segments_permissions)
{
	unsigned guards = expect_section(__text_start, __text_end, false, true, "text");
	guards += expect_section(__rodata_start, __rodata_end, false, false, "rodata");
	guards += expect_section(__data_start, __data_end, true, false, "data");
	KEXPECT_EQ(guards, 1 + PERCPU_IST_COUNT, "the boot stack's guard page and one below each boot IST stack, in .data/.bss");
}

KTEST(pt_direct_map_covers_ram_nx)
{
	struct phys_stats s;
	phys_get_stats(&s);
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	KASSERT_TEST(pa);
	paddr_t got;
	uint64_t pte, sz;
	KEXPECT(pt_query(&kernel_pt, DMAP_BASE + pa, &got, &pte, &sz));
	KEXPECT_EQ(got, pa);
	KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx, "NX exactly when the CPU has it");
	KEXPECT(sz == SIZE_1G || sz == SIZE_2M || sz == PAGE_SIZE);
	phys_free(pa, 1);
	/* The highest usable frame is mapped too. */
	KEXPECT(pt_query(&kernel_pt, DMAP_BASE + pfn_to_pa(s.highest_pfn - 1), NULL, NULL, NULL));
}

KTEST(pt_framebuffer_write_combining)
{
	if (!vm_fb_virt) {
		KEXPECT_EQ(kernel_bootinfo.fb.format, BOOTINFO_FB_NONE, "no mapping only without a framebuffer");
		KTEST_SKIP("no framebuffer from the loader (no graphics output): no mapping to check");
	}
	uint64_t pte, sz;
	KASSERT_TEST(pt_query(&kernel_pt, vm_fb_virt, NULL, &pte, &sz));
	bool pat = sz == PAGE_SIZE ? (pte & X86_PTE_PAT_4K) : (pte & X86_PTE_PAT_LARGE);
	if (cpu_feat.pat)
		KEXPECT(pat && !(pte & X86_PTE_PCD) && !(pte & X86_PTE_PWT), "PAT index 4 (WC)");
	else   /* README: WC without the PAT is UC- (PCD alone), never cached */
		KEXPECT(!pat && (pte & X86_PTE_PCD) && !(pte & X86_PTE_PWT), "UC- (PCD alone) without the PAT");
	KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx);
}

/* A scratch VA in the unused top of the FB window for live mapping tests. */
#define SCRATCH_VA (FB_BASE + FB_MAX_SIZE - 4 * SIZE_2M)

KTEST(pt_live_map_write_read_unmap)
{
	paddr_t pa = phys_alloc_zeroed_page();
	KASSERT_TEST(pa);
	KASSERT_TEST(pt_map(&kernel_pt, SCRATCH_VA, pa, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K) == PT_OK);
	*(volatile uint64_t *)SCRATCH_VA = 0x1122334455667788ULL;
	KEXPECT_EQ(*(volatile uint64_t *)arch_phys_to_virt(pa), 0x1122334455667788ULL);
	KEXPECT_EQ(pt_map(&kernel_pt, SCRATCH_VA, pa, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K), (uint64_t)PT_EEXIST);
	KEXPECT_EQ(pt_unmap(&kernel_pt, SCRATCH_VA, PAGE_SIZE), PT_OK);
	uint8_t v;
	KEXPECT_EQ(arch_probe_read8((volatile void *)SCRATCH_VA, &v), (uint64_t)-1, "unmapped page faults");
	KEXPECT_EQ(trap_last_fixup.cr2, SCRATCH_VA);
	phys_free(pa, 1);
}

KTEST(pt_live_remap_sees_new_page_at_once)
{
	paddr_t a = phys_alloc_zeroed_page(), b = phys_alloc_zeroed_page();
	KASSERT_TEST(a && b);
	*(volatile uint64_t *)arch_phys_to_virt(a) = 0xAAAA;
	*(volatile uint64_t *)arch_phys_to_virt(b) = 0xBBBB;
	KASSERT_TEST(pt_map(&kernel_pt, SCRATCH_VA, a, PAGE_SIZE, 0, PT_SIZE_4K) == PT_OK);
	KEXPECT_EQ(*(volatile uint64_t *)SCRATCH_VA, 0xAAAA);
	KEXPECT_EQ(pt_unmap(&kernel_pt, SCRATCH_VA, PAGE_SIZE), PT_OK);
	KASSERT_TEST(pt_map(&kernel_pt, SCRATCH_VA, b, PAGE_SIZE, 0, PT_SIZE_4K) == PT_OK);
	KEXPECT_EQ(*(volatile uint64_t *)SCRATCH_VA, 0xBBBB, "a stale TLB entry would still show page a");
	pt_unmap(&kernel_pt, SCRATCH_VA, PAGE_SIZE);
	phys_free(a, 1);
	phys_free(b, 1);
}

KTEST(pt_live_protect_makes_readonly)
{
	paddr_t pa = phys_alloc_zeroed_page();
	KASSERT_TEST(pa);
	KASSERT_TEST(pt_map(&kernel_pt, SCRATCH_VA, pa, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K) == PT_OK);
	KEXPECT_EQ(arch_probe_write8((volatile void *)SCRATCH_VA, 1), 0);
	KEXPECT_EQ(pt_protect(&kernel_pt, SCRATCH_VA, PAGE_SIZE, 0), PT_OK);
	KEXPECT_EQ(arch_probe_write8((volatile void *)SCRATCH_VA, 2), (uint64_t)-1, "write after protect faults");
	KEXPECT_EQ(trap_last_fixup.error, PF_ERR_PRESENT | PF_ERR_WRITE);
	pt_unmap(&kernel_pt, SCRATCH_VA, PAGE_SIZE);
	phys_free(pa, 1);
}

KTEST(pt_live_2m_page_split_by_protect_and_unmap)
{
	paddr_t pa = phys_alloc_aligned(512, 512, 0, UINT64_MAX);   /* a 2 MiB page's frames */
	KASSERT_TEST(pa && IS_ALIGNED(pa, SIZE_2M));
	vaddr_t va = ALIGN_DOWN(SCRATCH_VA, SIZE_2M);
	KASSERT_TEST(pt_map(&kernel_pt, va, pa, SIZE_2M, PT_PROT_W, PT_SIZE_2M | PT_SIZE_4K) == PT_OK);
	uint64_t sz;
	KEXPECT(pt_query(&kernel_pt, va, NULL, NULL, &sz) && sz == SIZE_2M);
	*(volatile uint64_t *)(va + 5 * PAGE_SIZE) = 0x55;
	*(volatile uint64_t *)(va + 4 * PAGE_SIZE) = 0x44;   /* the TLB now translates these pages */
	*(volatile uint64_t *)(va + 6 * PAGE_SIZE) = 0x66;
	/* Protecting one page splits the leaf; the large translation must be gone before the piece changes. */
	KEXPECT_EQ(pt_protect(&kernel_pt, va + 6 * PAGE_SIZE, PAGE_SIZE, 0), PT_OK);
	KEXPECT_EQ(arch_probe_write8((volatile void *)(va + 6 * PAGE_SIZE), 1), (uint64_t)-1, "the reprotected piece refuses writes");
	KEXPECT_EQ(arch_probe_write8((volatile void *)(va + 7 * PAGE_SIZE), 1), 0, "its neighbour still takes them");
	KEXPECT_EQ(pt_unmap(&kernel_pt, va + 4 * PAGE_SIZE, PAGE_SIZE), PT_OK);
	paddr_t got;
	KEXPECT(pt_query(&kernel_pt, va + 5 * PAGE_SIZE, &got, NULL, &sz) && sz == PAGE_SIZE && got == pa + 5 * PAGE_SIZE);
	KEXPECT(!pt_query(&kernel_pt, va + 4 * PAGE_SIZE, NULL, NULL, NULL));
	uint8_t v;
	KEXPECT_EQ(arch_probe_read8((volatile void *)(va + 4 * PAGE_SIZE), &v), (uint64_t)-1, "the unmapped piece faults");
	KEXPECT_EQ(*(volatile uint64_t *)(va + 5 * PAGE_SIZE), 0x55);
	KEXPECT_EQ(pt_unmap(&kernel_pt, va, SIZE_2M), PT_OK);
	KEXPECT(!pt_query(&kernel_pt, va + 5 * PAGE_SIZE, NULL, NULL, NULL));
	phys_free(pa, 512);
}

KTEST(pt_rejects_bad_ranges)
{
	KEXPECT_EQ(pt_map(&kernel_pt, SCRATCH_VA + 1, 0x1000, PAGE_SIZE, 0, PT_SIZE_4K), (uint64_t)PT_EINVAL);
	KEXPECT_EQ(pt_map(&kernel_pt, SCRATCH_VA, 0x1000, 0, 0, PT_SIZE_4K), (uint64_t)PT_EINVAL);
	KEXPECT_EQ(pt_map(&kernel_pt, 0x0000800000000000ULL, 0x1000, PAGE_SIZE, 0, PT_SIZE_4K), (uint64_t)PT_EINVAL);
	KEXPECT_EQ(pt_map(&kernel_pt, 0xfffffffffffff000ULL, 0x1000, 2 * PAGE_SIZE, 0, PT_SIZE_4K), (uint64_t)PT_EINVAL);
	KEXPECT_EQ(pt_unmap(&kernel_pt, 0x00007ffffffff000ULL, 2 * PAGE_SIZE), (uint64_t)PT_EINVAL);
}
