/* vm_: the kernel's own address space, built from scratch (layout: include/vmlayout.h). */
#ifndef VM_H
#define VM_H
#include "pt.h"
#include "bootinfo.h"

extern struct pt kernel_pt;

/* Builds the kernel's page tables (image per segment, direct map, framebuffer WC), switches CR3
 * and returns the loader's pages to the allocator. Panics with a reason if it cannot. */
void vm_init(const struct bootinfo *bi);

/*
 * Prints what the CPU keeps the memory manager from enforcing: no NX (every page executable), no
 * PAT (which caching types fall back to which memory type). Prints nothing on a CPU with both.
 */
void vm_report_cpu_limits(void);

/* Maps and unmaps a throwaway test range; exposed for self-tests. */
extern vaddr_t vm_fb_virt;
#endif
