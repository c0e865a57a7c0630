/* Brings up the memory manager above the page allocator: the system PTE region. */
#include "kernel.h"
#include "syspte.h"
#include "pool.h"
#include "vm.h"
#include "vmlayout.h"
#include "cmdline.h"
#include "kprintf.h"
#include "kassert.h"

void mm_init(void)
{
	uint64_t size = SYSPTE_DEFAULT_SIZE;
	if (cmdline_size("syspte", &size) && (size < SIZE_2M || size > SYSPTE_MAX_SIZE || !IS_ALIGNED(size, SIZE_2M))) {
		kprintf("cmdline: syspte=%llu is not a multiple of 2 MiB between 2 MiB and 512 GiB; using 1 GiB\n",
			(unsigned long long)size);
		size = SYSPTE_DEFAULT_SIZE;
	}
	if (syspte_init(&kernel_pt, SYSPTE_BASE, size >> PAGE_SHIFT))
		kpanic("cannot set up the system PTE region of %llu MiB", (unsigned long long)(size >> 20));
	mm_set_kernel_pt(&kernel_pt);
	struct syspte_stats s;
	syspte_get_stats(&s);
	kprintf("syspte: region 0x%llx, %llu MiB, %llu page-table pages, %llu metadata bytes\n",
		(unsigned long long)s.base, (unsigned long long)(s.npages >> 8), (unsigned long long)s.table_pages,
		(unsigned long long)s.meta_bytes);
}
