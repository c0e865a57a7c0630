/* The kernel's page-fault policy (fault.c), registered with trap_set_handlers at boot. */
#ifndef FAULT_H
#define FAULT_H

#include "trap.h"

/* A kernel page fault before the dispatcher's probe fixups: a non-present fault inside the system
 * PTE region is bug check 0x50 naming the reservation; any other fault returns. */
void kernel_page_fault(struct trap_frame *tf, uint64_t cr2);

#endif
