/*
 * The seam between the memory manager (mm/) and the machine. mm/ touches hardware only through
 * these functions: arch/x86_64/ implements them for the kernel, tests/host/fake_arch.c for the host
 * (malloc'd "physical memory", recorded TLB flushes and CR3 loads). Keep it narrow. The page-table
 * format is include/arch_pte.h; TLB invalidation goes through include/tlb_batch.h.
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

/*
 * Invalidates on this CPU the translations batch b names (include/tlb_batch.h): every one, global
 * ones included, when b->all, else the translation containing each page of b->va (a large leaf
 * goes with any of its pages). Called by tlb_batch_flush alone, with no lock held: the one place
 * mm/ invalidates, and the one SMP shootdown will extend to the other CPUs.
 */
struct tlb_batch;
void arch_tlb_flush_batch(const struct tlb_batch *b);
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

#endif
