/* Brings up the memory manager above the page allocator: the kernel's page tables registered, the
 * system PTE region. */
#include "kernel.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "mdl.h"
#include "vm.h"
#include "vmlayout.h"
#include "kprintf.h"
#include "kassert.h"
#include "sysinfo.h"

/*
 * True when a region of size bytes may be set up: its set-up metadata (at most about 0.22 byte per
 * page; its page tables and its allocator's bitmap chunks come later, one page at a time, for
 * what is reserved) takes at most half of the free physical memory, so the rest of the system
 * keeps room [ours].
 */
static bool mm_region_affordable(uint64_t size)
{
	struct phys_stats st;
	phys_get_stats(&st);
	return syspte_setup_pages(size >> PAGE_SHIFT) <= st.free_pages / 2;
}

/* The next smaller size to try after size: half of it, a multiple of 2 MiB, at least 2 MiB. */
static uint64_t mm_region_smaller(uint64_t size)
{
	return MAX(ALIGN_DOWN(size / 2, SIZE_2M), SIZE_2M);
}

/*
 * Sets up the system PTE region of syspte= bytes or, when this machine cannot hold its metadata
 * (in half of the free memory), of the largest size found by halving down to 2 MiB, with a
 * message naming both sizes. Panics only when not even 2 MiB fits.
 */
static struct syspte_region *mm_region_init(uint64_t asked)
{
	struct phys_stats st;
	phys_get_stats(&st);
	uint64_t size = asked;
	struct syspte_region *r;
	for (;;) {
		if (mm_region_affordable(size) && (r = syspte_create(&kernel_pt, SYSPTE_BASE, size >> PAGE_SHIFT)))
			break;
		if (size == SIZE_2M)
			kpanic("cannot set up even a 2 MiB system PTE region (%llu MiB free)",
			       (unsigned long long)(st.free_pages >> 8));
		size = mm_region_smaller(size);
	}
	if (size != asked) {
		char a[24], g[24];
		cmdline_size_format(asked, a, sizeof(a));
		cmdline_size_format(size, g, sizeof(g));
		kprintf("syspte: this machine cannot hold syspte=%s (%llu KiB of region metadata; the region may take at "
			"most half of the %llu MiB free); using syspte=%s\n", a,
			(unsigned long long)(syspte_setup_pages(asked >> PAGE_SHIFT) << 2),
			(unsigned long long)(st.free_pages >> 8), g);
	}
	return r;
}

/* Registers the kernel's page tables and its system PTE region with the WDK layer (mm/mdl.h,
 * mm/reserved.h), so that the driver API works from here on. The direct map must be sealed first
 * (sysinfo_acpi_premap): the region's memory-type rule (a frame the direct map holds is mapped
 * write-back, any other as asked) holds only while the set of direct-mapped frames cannot grow. */
void mm_init(void)
{
	KASSERT(sysinfo_dmap_seal()->sealed, "the direct map must be sealed (sysinfo_acpi_premap) before mm_init");
	mm_set_kernel_pt(&kernel_pt);
	reserved_set_region(mm_region_init(kernel_cmdline.opts.syspte));
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	kprintf("syspte: region 0x%llx, %llu MiB, %llu page-table pages (made as reservations need them), %llu metadata "
		"bytes\n", (unsigned long long)s.base, (unsigned long long)(s.npages >> 8), (unsigned long long)s.table_pages,
		(unsigned long long)s.meta_bytes);
}
