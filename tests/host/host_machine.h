/*
 * A hosted machine for programs outside the kernel: fake RAM, the physical allocator, page
 * tables (with a direct map of RAM), the pool and the system PTE region, all from the real mm/
 * sources. See README "Hosted library".
 */
#ifndef HOST_MACHINE_H
#define HOST_MACHINE_H

#include <stdint.h>
#include "pt.h"

/*
 * Creates the machine: ram_bytes of RAM (whole pages, 1 MiB up) from physical 1 MiB, mapped at
 * arch_phys_to_virt(pa) as the kernel's direct map, and a system PTE region of region_bytes (a
 * multiple of 2 MiB) at SYSPTE_BASE. Re-creating first destroys the previous machine: no module
 * keeps anything from it (host_machine_destroy). Returns 0, or -1 with a message.
 */
int host_machine_create(uint64_t ram_bytes, uint64_t region_bytes);
/*
 * Destroys the machine: every module (physical allocator, pool, region, kernel address space)
 * forgets its state, RAM reads as zeros again and the fake hardware is reset. Kept: the bug-check
 * hook, verifier mode and the fake CPU's physical address width, which a program sets for all of
 * its machines. Until the next host_machine_create, no API call may be made.
 */
void host_machine_destroy(void);
/* The machine's kernel page tables. */
struct pt *host_machine_pt(void);

#endif
