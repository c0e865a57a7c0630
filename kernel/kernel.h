/* Kernel-wide state set up by kmain. */
#ifndef KERNEL_H
#define KERNEL_H
#include "types.h"
#include "bootinfo.h"
#include "cmdline.h"
extern struct bootinfo kernel_bootinfo;
/* The command line as parsed at boot: kernel_cmdline.opts holds every option in effect. */
extern struct cmdline kernel_cmdline;
/* The kernel's copy of the final UEFI memory map. */
const void *kernel_memory_map(size_t *size, size_t *desc_size);
/* Initialises the memory manager's services above the page allocator (system PTEs, pool). */
void mm_init(void);
#endif
