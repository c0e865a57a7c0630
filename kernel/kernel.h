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
/* The loader's map as the kernel found it: its bytes, whole descriptors and the tail after them
 * (efi_mmap_geometry); the kernel's copy holds the whole descriptors only. */
struct kernel_mmap_cut {
	uint64_t bytes, whole, tail;
};
extern struct kernel_mmap_cut kernel_mmap_cut;
/* Writes, when the loader's map was ragged (a tail after its whole descriptors), one line naming
 * the byte counts and what was ignored through out (serial after the boot line, the screen again
 * once it exists); returns the bytes written, 0 for a whole map. */
size_t kernel_mmap_cut_report(void (*out)(const char *, size_t));
/* Bytes of that report written to the screen when it came up (0 without a screen or a cut). */
extern size_t kernel_mmap_cut_screen_bytes;
/* The kernel's copy of the final UEFI memory map (its whole descriptors). */
const void *kernel_memory_map(size_t *size, size_t *desc_size);
/*
 * Brings up the memory manager above the page allocator, once kernel_pt is live (kernel/mminit.c):
 * registers kernel_pt for the MDL calls (mm_set_kernel_pt), sets up the system PTE region of
 * syspte= bytes, or of the largest size this machine can hold, with a message naming both, and
 * registers it for the WDK calls (reserved_set_region). The pool needs no set-up: it takes pages
 * from the physical allocator on demand.
 */
void mm_init(void);
#endif
