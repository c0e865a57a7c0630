/*
 * The kernel's virtual address map: the one place it is written down.
 *
 *   start               end (excl.)          size      what
 *   ------------------  -------------------  --------  ---------------------------------------------
 *   0x0000000000000000  0x0000800000000000   128 TiB   user half: nothing mapped, ever
 *   0xffff800000000000  0xffffc00000000000    64 TiB   direct map of RAM (DMAP_BASE), NX, WB;
 *                                                      1 GiB pages where CPUID allows, else 2 MiB
 *   0xffffc00000000000  +syspte size         1 GiB*    system PTE region (SYSPTE_BASE): reserved
 *                                                      mappings; *default, `syspte=` on the cmdline
 *   0xffffe00000000000  0xffffe00040000000     1 GiB   framebuffer, WC (FB_BASE)
 *   0xffffe00040000000  0xffffe00040001000     4 KiB   local APIC registers (xAPIC mode), UC, NX
 *   0xffffe00040001000  0xffffe00040002000     4 KiB   HPET registers (HPET_VA), UC, NX
 *   0xffffe00040200000  0xffffe00042200000    32 MiB   AP stacks (CPU_STACKS_BASE): 128 KiB per CPU
 *                                                      index, each stack above an unmapped guard
 *   0xffffffff80000000  top                    2 GiB   kernel image (KERNEL_BASE): text RX,
 *                                                      rodata R+NX, data/bss RW+NX
 *
 * Every kernel mapping is supervisor-only; no mapping is both writable and executable.
 */
#ifndef VMLAYOUT_H
#define VMLAYOUT_H

#define DMAP_BASE        0xffff800000000000ULL
#define DMAP_SIZE        0x0000400000000000ULL
#define SYSPTE_BASE      0xffffc00000000000ULL
#define SYSPTE_MAX_SIZE  0x0000008000000000ULL   /* one PML4 slot: 512 GiB */
#define SYSPTE_DEFAULT_SIZE 0x40000000ULL        /* 1 GiB */
#define FB_BASE          0xffffe00000000000ULL
#define FB_MAX_SIZE      0x40000000ULL
#define LAPIC_VA         0xffffe00040000000ULL
#define HPET_VA          0xffffe00040001000ULL
#define CPU_STACKS_BASE  0xffffe00040200000ULL
#define CPU_STACKS_SLOT  0x20000ULL              /* per CPU index; SMP_MAX_CPUS (255) of them */
#define CPU_STACKS_SIZE  0x2000000ULL            /* 32 MiB: every index's slot */
#define KERNEL_BASE      0xffffffff80000000ULL
/* End (exclusive) of the kernel image window: the last page stays out so every end is representable. */
#define KERNEL_TOP       0xfffffffffffff000ULL

#endif
