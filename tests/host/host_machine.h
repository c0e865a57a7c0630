/*
 * A hosted machine for programs outside the kernel: fake RAM, the physical allocator, page
 * tables and the system PTE region, all from the real mm/ sources. See README "Hosted library".
 */
#ifndef HOST_MACHINE_H
#define HOST_MACHINE_H

#include <stdint.h>
#include "pt.h"

/* Creates (or re-creates) the machine: ram_bytes of RAM from 1 MiB up, a system PTE region of
 * region_bytes (a multiple of 2 MiB) at SYSPTE_BASE. Returns 0, or -1 with a message. */
int host_machine_create(uint64_t ram_bytes, uint64_t region_bytes);
/* The machine's kernel page tables. */
struct pt *host_machine_pt(void);

#endif
