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

/*
 * Disables interrupts and returns the previous state for arch_irq_restore. Sections nest and are
 * counted per CPU; interrupts come back on only when the outermost section that found them on is
 * restored (restoring out of order is a panic on the kernel).
 */
uint64_t arch_irq_save(void);
void arch_irq_restore(uint64_t flags);
void arch_cpu_relax(void);

/*
 * The per-CPU interrupt state, for the lock code: whether interrupts are enabled on this CPU, how
 * many arch_irq_save sections are open on it, and whether it runs an interrupt or exception
 * handler. Each answer is this CPU's own, whatever the others do.
 */
bool arch_irqs_enabled(void);
unsigned arch_irq_depth(void);
bool arch_in_interrupt(void);

/*
 * CPUs. The kernel runs on up to ARCH_MAX_CPUS CPUs (arch/x86_64/smp.c, index 0 the boot CPU); until
 * the other CPUs are brought up it runs on the boot CPU alone. The host's fake machine has one
 * online CPU, index 0, and says which CPU the caller acts as (fake_cpu, tests/host/fake_arch.h).
 * mm/ uses arch_cpu_index as the owner of a spin lock, and spin_lock calls arch_cpu_poll while it
 * spins (include/spinlock.h); mm/ does not call the others yet.
 *
 * How the cross-CPU TLB shootdown will use them: a path that clears or changes present PTEs
 * collects them in a struct tlb_batch under its lock and calls arch_tlb_flush_batch after the
 * lock is released; that function invalidates on its own CPU as today and then calls
 * arch_cpu_call(arch_cpus_online() & ~(1 << arch_cpu_index()), flush, batch) once per batch
 * whatever the page count: every other CPU runs flush (the same per-page / whole-TLB threshold
 * as the local invalidation) and arch_cpu_call returns only when all of them have, so the unmap
 * returns with no stale translation anywhere. The seam guarantees what that needs to be
 * deadlock-free: arch_cpu_call may be called with interrupts disabled, and while it waits it runs
 * the calls other CPUs posted to this one (two CPUs shooting down at once both finish); a CPU that
 * spins with interrupts disabled, on a lock or anything else, calls arch_cpu_poll() in its loop,
 * so a lock holder waiting for its acknowledgement gets it. fn runs with interrupts disabled and
 * must not wait for anything the caller may hold; since a CPU runs it wherever it spins, with the
 * locks it holds still held, fn takes no lock but the console's.
 */
#define ARCH_MAX_CPUS 64
typedef uint64_t arch_cpumask_t;   /* bit i: the CPU of index i */

/* The index of the running CPU. */
unsigned arch_cpu_index(void);
/* The CPUs that run kernel code and take calls. */
arch_cpumask_t arch_cpus_online(void);
/* Runs fn(arg) on every online CPU in mask (the caller's bit: here) and returns when all returned. */
void arch_cpu_call(arch_cpumask_t mask, void (*fn)(void *arg), void *arg);
/* Runs the calls other CPUs posted to this one. */
void arch_cpu_poll(void);

#endif
