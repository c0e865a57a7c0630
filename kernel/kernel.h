/* Kernel-wide state set up by kmain. */
#ifndef KERNEL_H
#define KERNEL_H
#include "types.h"
#include "bootinfo.h"
#include "cmdline.h"
extern struct bootinfo kernel_bootinfo;
/* The command line as parsed at boot: kernel_cmdline.opts holds every option in effect. */
extern struct cmdline kernel_cmdline;
/*
 * Writes what the command line did through out (serial right after parsing, the screen again once
 * it exists): one line per word that had no effect or lost it, a ktest= prefix that names no
 * test, and the options in effect. Returns the bytes written.
 */
size_t kernel_cmdline_report(void (*out)(const char *, size_t));
/* Bytes of that report written to the screen when it came up (0 without a screen). */
extern size_t kernel_cmdline_screen_bytes;
/* The kernel's copy of the final UEFI memory map. */
const void *kernel_memory_map(size_t *size, size_t *desc_size);
/* Initialises the memory manager's services above the page allocator (system PTEs, pool). */
void mm_init(void);
#endif
