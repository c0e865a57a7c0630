/*
 * The seam between the memory manager (mm/) and the machine. mm/ touches hardware only through
 * these functions: arch/x86_64/ implements them for the kernel, tests/host/fake_arch.c for the host
 * (malloc'd "physical memory", recorded TLB flushes and CR3 loads). Keep it narrow.
 */
#ifndef ARCH_MM_H
#define ARCH_MM_H

#include "types.h"

/* Kernel-virtual pointer to physical address pa (kernel: the direct map). pa must be RAM. */
void *arch_phys_to_virt(paddr_t pa);

/*
 * Reads/writes one page-table entry: a single aligned 64-bit access, atomic with respect to the
 * hardware walker. Inline because map/unmap loops live on them; the same on the kernel and the
 * host (the fake machine's tables are ordinary memory too).
 */
static inline uint64_t arch_pte_read(const volatile uint64_t *pte) { return *pte; }
static inline void arch_pte_write(volatile uint64_t *pte, uint64_t val) { *pte = val; }

/* Invalidates the TLB entry of one page on this CPU (invlpg; removes global entries too). */
void arch_tlb_flush_page(vaddr_t va);
/* Invalidates every TLB entry, global ones included (CR4.PGE toggle or INVPCID type 2). */
void arch_tlb_flush_all(void);
/* Loads CR3 (flushes non-global entries). */
void arch_cr3_load(paddr_t pml4_pa);
paddr_t arch_cr3_read(void);

/* Physical address width of the CPU (CPUID MAXPHYADDR, 32..52): no frame at or above
 * 2^(bits - PAGE_SHIFT) exists, and a PTE naming one sets reserved bits. */
unsigned arch_phys_addr_bits(void);

/* Disables interrupts and returns the previous state for arch_irq_restore. */
uint64_t arch_irq_save(void);
void arch_irq_restore(uint64_t flags);
void arch_cpu_relax(void);

/*
 * CPUs. The kernel runs on up to ARCH_MAX_CPUS CPUs, index 0 the boot CPU; until the other CPUs are
 * brought up it runs on the boot CPU alone. The host's fake machine says which CPU the caller is
 * (fake_cpu, tests/host/fake_arch.h). mm/ uses the index as the owner of a spin lock
 * (include/spinlock.h).
 */
#define ARCH_MAX_CPUS 64

/* The index of the running CPU. */
unsigned arch_cpu_index(void);

#endif
