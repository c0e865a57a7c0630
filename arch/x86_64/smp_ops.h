/*
 * smp_ops: what the CPU bring-up (smp.c, apic.c) needs from the layers above arch/, which it does
 * not see: frames from the physical allocator, mappings in the kernel's page tables, the kernel's
 * root table, and its symbols for a report. The kernel registers them once at boot (smp_set_ops,
 * before smp_reserve_trampoline; kernel/smpinit.c), as it registers its trap policy with
 * trap_set_handlers, and arch/ calls up only through these pointers. Each call is made on the
 * boot CPU, except root (every AP, as it loads the kernel's tables) and symbol (any CPU, for a
 * panic message).
 */
#ifndef SMP_OPS_H
#define SMP_OPS_H

#include "types.h"

/* The memory type of a mapping the bring-up asks for. */
enum smp_cache {
	SMP_CACHE_WB,            /* RAM: stacks */
	SMP_CACHE_UC,            /* device registers: the xAPIC page */
};

struct smp_ops {
	/* pages contiguous frames inside [above, below) (frame 0 never: 0 is the failure); their
	 * contents are undefined. 0 when no such run is free. */
	paddr_t (*alloc)(uint64_t pages, paddr_t above, paddr_t below);
	/* Gives back pages frames from pa, all of them from one alloc. */
	void (*free)(paddr_t pa, uint64_t pages);
	/* Maps size bytes (a multiple of 4 KiB) at va to pa in the kernel's tables with 4 KiB pages:
	 * writable, global, non-executable wherever the CPU can say so, of memory type cache. 0, or -1
	 * with nothing mapped when a table page cannot be had or part of the range is mapped already. */
	int (*map)(vaddr_t va, paddr_t pa, uint64_t size, enum smp_cache cache);
	/* True when va is mapped in the kernel's tables. */
	bool (*mapped)(vaddr_t va);
	/* The physical address of the kernel's PML4: what every CPU runs on. */
	paddr_t (*root)(void);
	/* The name of the function containing addr and addr's offset in it; NULL when none does. */
	const char *(*symbol)(uint64_t addr, uint64_t *offset);
};

#endif
