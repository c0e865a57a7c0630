/* Hosted machine set-up (contract in host_machine.h). */
#include <stdio.h>
#include "host_machine.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "syspte.h"
#include "vmlayout.h"

static struct machine_map host_map;
static struct pt host_pt;

int host_machine_create(uint64_t ram_bytes, uint64_t region_bytes)
{
	fake_arch_init();
	if (ram_bytes < (1 << 20) || ram_bytes > FAKE_PHYS_LIMIT - (1 << 20) || region_bytes % SIZE_2M ||
	    region_bytes == 0 || region_bytes > SYSPTE_MAX_SIZE) {
		fprintf(stderr, "host_machine_create: RAM must be 1 MiB..%llu GiB, the region a non-zero multiple of 2 MiB up to 512 GiB\n",
			(unsigned long long)(FAKE_PHYS_LIMIT >> 30) - 1);
		return -1;
	}
	machine_map_init(&host_map, 48);
	machine_map_add(&host_map, EFI_CONVENTIONAL, 1 << 20, ram_bytes >> PAGE_SHIFT, 0);
	if (phys_init(host_map.buf, machine_map_size(&host_map), host_map.desc_size))
		return -1;
	if (pt_create(&host_pt, PT_FEAT_ALL))
		return -1;
	arch_cr3_load(host_pt.root);
	return syspte_init(&host_pt, SYSPTE_BASE, region_bytes >> PAGE_SHIFT);
}

struct pt *host_machine_pt(void) { return &host_pt; }
