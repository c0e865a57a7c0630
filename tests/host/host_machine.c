/* Hosted machine set-up (contract in host_machine.h). */
#include <stdio.h>
#include <string.h>
#include "host_machine.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pool.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "bugcheck.h"
#include "vmlayout.h"
#include "testhooks.h"

#define HOST_RAM_BASE (1ULL << 20)   /* RAM starts at 1 MiB: frame 0 and the low megabyte are never RAM */

static struct machine_map host_map;
static struct pt host_pt;
static uint64_t host_ram_end;        /* end of the current machine's RAM, 0 when there is none */

/* Every module back to its state before the first machine: mm/ (phys, pool, the region and the
 * kernel address space the WDK layer uses), the intercepted bug-check record, the fake hardware
 * and its RAM. Kept across machines: the verifier switch, the bug-check hook, the fake CPU's
 * physical width. */
static void host_machine_reset(void)
{
	mm_set_kernel_pt(NULL);
	reserved_set_region(NULL);
	pool_reset();
	phys_reset();
	memset(&bugcheck_last, 0, sizeof(bugcheck_last));
	memset(&host_pt, 0, sizeof(host_pt));
	fake_arch_reset(host_ram_end);
	host_ram_end = 0;
}

void host_machine_destroy(void) { host_machine_reset(); }

int host_machine_create(uint64_t ram_bytes, uint64_t region_bytes)
{
	fake_arch_init();
	if (ram_bytes < (1 << 20) || ram_bytes > FAKE_PHYS_LIMIT - HOST_RAM_BASE || ram_bytes % PAGE_SIZE ||
	    region_bytes % SIZE_2M || region_bytes == 0 || region_bytes > SYSPTE_MAX_SIZE) {
		fprintf(stderr, "host_machine_create: RAM must be whole pages, 1 MiB..%llu GiB, the region a non-zero multiple of 2 MiB up to 512 GiB\n",
			(unsigned long long)(FAKE_PHYS_LIMIT >> 30) - 1);
		return -1;
	}
	host_machine_reset();
	host_ram_end = HOST_RAM_BASE + ram_bytes;
	machine_map_init(&host_map, 48);
	machine_map_add(&host_map, EFI_CONVENTIONAL, HOST_RAM_BASE, ram_bytes >> PAGE_SHIFT, 0);
	if (phys_init(host_map.buf, machine_map_size(&host_map), host_map.desc_size))
		return -1;
	if (pt_create(&host_pt, PT_FEAT_ALL))
		return -1;
	/* The direct map: RAM at the host addresses arch_phys_to_virt gives, so the page-table walk of
	 * MmBuildMdlForNonPagedPool finds pool memory as on the kernel. */
	if (pt_map(&host_pt, (vaddr_t)arch_phys_to_virt(HOST_RAM_BASE), HOST_RAM_BASE, ram_bytes, PT_PROT_W,
		   PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G)) {
		fprintf(stderr, "host_machine_create: no memory for the direct map's page tables\n");
		return -1;
	}
	arch_cr3_load(host_pt.root);
	mm_set_kernel_pt(&host_pt);
	struct syspte_region *r = syspte_create(&host_pt, SYSPTE_BASE, region_bytes >> PAGE_SHIFT);
	if (!r)
		return -1;
	reserved_set_region(r);
	return 0;
}

struct pt *host_machine_pt(void) { return &host_pt; }
