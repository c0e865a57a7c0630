/* vm_: the kernel's own address space, built from scratch (layout: include/vmlayout.h). */
#ifndef VM_H
#define VM_H
#include "pt.h"
#include "bootinfo.h"

extern struct pt kernel_pt;

/* Builds kernel_pt (the image per section with its own protection, the guard pages below the boot
 * stack and the boot CPU's IST stacks left unmapped, the direct map of RAM, the framebuffer write-combining) and switches CR3 to it.
 * The loader's pages stay allocated: kmain hands them to the allocator afterwards
 * (phys_release_loader). Panics with a reason if a mapping fails. */
void vm_init(const struct bootinfo *bi);

/*
 * Prints what the CPU keeps the memory manager from enforcing: no NX (every page executable), no
 * PAT (which caching types fall back to which memory type). Prints nothing on a CPU with both.
 */
void vm_report_cpu_limits(void);

/* The framebuffer's first byte in the kernel's address space (inside FB_BASE's window), or 0
 * when there is no framebuffer or it is larger than the window; set by vm_init. */
extern vaddr_t vm_fb_virt;
#endif
