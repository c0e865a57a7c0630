/*
 * The 4-level page tables the kernel is entered with, built by the loader in its own LoaderData
 * pages (the firmware's tables are read-only and never touched):
 *  - [0, map_top) identity mapped and mapped at DMAP_BASE with 2 MiB pages (shared PD pages);
 *  - the kernel image [virt_base, virt_base + size) mapped to its physical block with 4 KiB pages.
 * All entries are present + writable, supervisor, cacheable (PAT index 0), without NX.
 * No entry ever has bit 63 (execute-disable) or the PAT bit, so the tables are valid on any x86-64
 * CPU whatever the firmware left in EFER.NXE and the PAT: bit 63 is reserved while NXE is 0, and
 * NX may be absent or turned off in the firmware setup. The loader therefore neither needs nor
 * sets EFER.NXE; the kernel sets it from CPUID before it loads tables that use bit 63.
 * The firmware identity maps memory, so a table's physical address is also its pointer.
 */
#include "loader.h"
#include "vmlayout.h"

#define PTE_PRESENT    (1ULL << 0)
#define PTE_WRITABLE   (1ULL << 1)
#define PTE_PAGE_SIZE  (1ULL << 7)            /* in a PD entry: maps a 2 MiB page */
#define PTE_ADDR_MASK  0x000ffffffffff000ULL  /* physical address bits 12..51 */
#define PTE_TABLE      (PTE_PRESENT | PTE_WRITABLE)
#define PTE_PAGE_4K    (PTE_PRESENT | PTE_WRITABLE)
#define PTE_PAGE_2M    (PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE)

#define PT_ENTRIES     512
#define PML4_SHIFT     39
#define PDPT_SHIFT     30
#define PD_SHIFT       21
#define PT_SHIFT       12
#define SIZE_512G      (1ULL << PML4_SHIFT)

#define CR4_LA57       (1ULL << 12)           /* 5-level paging active */

/* Page-table pages preallocated in one block; handed out zeroed, in order. */
struct table_pool {
	UINT64 next;  /* physical address of the next free page */
	UINT64 end;   /* end of the block (exclusive) */
};

/* Index of `va` in the table level whose entries each cover 2^shift bytes. */
static UINTN table_index(UINT64 va, unsigned shift)
{
	return (UINTN)((va >> shift) & (PT_ENTRIES - 1));
}

/* Number of `size`-aligned regions that overlap [lo, hi); requires lo < hi. */
static UINT64 regions_touched(UINT64 lo, UINT64 hi, UINT64 size)
{
	return (hi - 1) / size - lo / size + 1;
}

/* A zeroed table page from the pool, or NULL once the pool is used up. */
static UINT64 *pool_take(struct table_pool *pool)
{
	UINT64 page = pool->next;

	if (page >= pool->end)
		return NULL;
	pool->next += PAGE_SIZE;
	return (UINT64 *)(UINTN)page;
}

/* The table entry `index` of `table` points to, created from the pool if absent (NULL if empty). */
static UINT64 *table_child(UINT64 *table, UINTN index, struct table_pool *pool)
{
	UINT64 *child;

	if (table[index] & PTE_PRESENT)
		return (UINT64 *)(UINTN)(table[index] & PTE_ADDR_MASK);
	child = pool_take(pool);
	if (child != NULL)
		table[index] = (UINT64)(UINTN)child | PTE_TABLE;
	return child;
}

/* Table pages needed for the low/direct maps of [0, map_top) and the kernel image. */
static UINT64 paging_pages_needed(UINT64 map_top, const struct kernel_image *kernel)
{
	UINT64 klo = kernel->virt_base, khi = kernel->virt_base + kernel->size;
	UINT64 low_pdpts = regions_touched(0, map_top, SIZE_512G);
	UINT64 low_pds = map_top / SIZE_1G;
	UINT64 kernel_tables = regions_touched(klo, khi, SIZE_512G) +
			       regions_touched(klo, khi, SIZE_1G) + regions_touched(klo, khi, SIZE_2M);

	return 1 + 2 * low_pdpts + low_pds + kernel_tables;
}

/* Maps [0, map_top) (a 1 GiB multiple) at 0 and at DMAP_BASE with 2 MiB pages; FALSE if out of pages. */
static BOOLEAN map_low_and_direct(UINT64 *pml4, UINT64 map_top, struct table_pool *pool)
{
	for (UINT64 phys = 0; phys < map_top; phys += SIZE_1G) {
		UINT64 *pd = pool_take(pool);
		UINT64 *pdpt_low = table_child(pml4, table_index(phys, PML4_SHIFT), pool);
		UINT64 *pdpt_dmap = table_child(pml4, table_index(DMAP_BASE + phys, PML4_SHIFT), pool);

		if (pd == NULL || pdpt_low == NULL || pdpt_dmap == NULL)
			return FALSE;
		for (UINTN i = 0; i < PT_ENTRIES; i++)
			pd[i] = (phys + i * SIZE_2M) | PTE_PAGE_2M;
		pdpt_low[table_index(phys, PDPT_SHIFT)] = (UINT64)(UINTN)pd | PTE_TABLE;
		pdpt_dmap[table_index(DMAP_BASE + phys, PDPT_SHIFT)] = (UINT64)(UINTN)pd | PTE_TABLE;
	}
	return TRUE;
}

/* Maps the kernel image page by page at its link address; FALSE if out of table pages. */
static BOOLEAN map_kernel(UINT64 *pml4, const struct kernel_image *kernel, struct table_pool *pool)
{
	for (UINT64 off = 0; off < kernel->size; off += PAGE_SIZE) {
		UINT64 va = kernel->virt_base + off;
		UINT64 *pdpt = table_child(pml4, table_index(va, PML4_SHIFT), pool);
		UINT64 *pd = pdpt ? table_child(pdpt, table_index(va, PDPT_SHIFT), pool) : NULL;
		UINT64 *pt = pd ? table_child(pd, table_index(va, PD_SHIFT), pool) : NULL;

		if (pt == NULL)
			return FALSE;
		pt[table_index(va, PT_SHIFT)] = (kernel->phys_base + off) | PTE_PAGE_4K;
	}
	return TRUE;
}

/* Reads CR4. */
static UINT64 read_cr4(void)
{
	UINT64 cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	return cr4;
}

/*
 * Allocates (LoaderData) and fills the kernel's initial page tables; *pml4_phys receives the
 * PML4's address. map_top must be a 1 GiB multiple no larger than DMAP_SIZE.
 */
EFI_STATUS paging_build(UINT64 map_top, const struct kernel_image *kernel, UINT64 *pml4_phys)
{
	UINT64 pages = paging_pages_needed(map_top, kernel);
	struct table_pool pool;
	EFI_STATUS status;
	UINT64 *pml4;

	if (read_cr4() & CR4_LA57) {
		Print(LOADER_TAG L"the firmware runs with 5-level paging, which this loader does not\n"
		      L"        support. Disable 5-level paging in the firmware setup.\n");
		return EFI_UNSUPPORTED;
	}
	status = pages_alloc(EfiLoaderData, pages * PAGE_SIZE, L"the page tables", &pool.next);
	if (EFI_ERROR(status))
		return status;
	pool.end = pool.next + pages * PAGE_SIZE;
	pml4 = pool_take(&pool);
	if (!map_low_and_direct(pml4, map_top, &pool) || !map_kernel(pml4, kernel, &pool)) {
		Print(LOADER_TAG L"internal error: page-table pool (%ld pages) too small. Report this bug.\n",
		      pages);
		return EFI_BUFFER_TOO_SMALL;
	}
	*pml4_phys = (UINT64)(UINTN)pml4;
	return EFI_SUCCESS;
}
