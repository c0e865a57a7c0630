/*
 * The seam between the memory manager (mm/) and the machine. mm/ touches hardware only through
 * these functions: arch/x86_64/ implements them for the kernel, tests/host/fake_arch.c for the host
 * (malloc'd "physical memory", recorded TLB flushes and CR3 loads). Keep it narrow. The page-table
 * format is include/arch_pte.h; TLB invalidation goes through include/tlb_batch.h.
 */
#ifndef ARCH_MM_H
#define ARCH_MM_H

#include "types.h"
#include "cpumask.h"

/* Kernel-virtual pointer to physical address pa (kernel: the direct map). pa must be RAM. */
void *arch_phys_to_virt(paddr_t pa);

/*
 * Reads/writes one page-table entry: a single aligned 64-bit access, atomic with respect to the
 * hardware walker and to other CPUs (a relaxed atomic: one plain move on x86-64, never torn or
 * split by the compiler). Ordering comes from the locks around the writes: an entry written under
 * a lock is seen by any CPU that later takes the lock, or that learns the mapped address through
 * anything published after the lock's release. Inline because map/unmap loops live on them; the
 * same on the kernel and the host (the fake machine's tables are ordinary memory too).
 */
static inline uint64_t arch_pte_read(const volatile uint64_t *pte) { return __atomic_load_n(pte, __ATOMIC_RELAXED); }
static inline void arch_pte_write(volatile uint64_t *pte, uint64_t val) { __atomic_store_n(pte, val, __ATOMIC_RELAXED); }

/*
 * Invalidates, on every CPU that may hold them, the translations batch b names
 * (include/tlb_batch.h), and returns when all have done it: the TLB shootdown. Called by
 * tlb_batch_flush alone, with no lock held, interrupts enabled or not. The running CPU applies
 * the batch itself (tlb_batch_invalidate); every other online CPU is sent it in one round, one
 * request and one interrupt per CPU whatever the page count, applies it by the same policy and
 * acknowledges. How the round is deadlock-free, in every implementation:
 *  - the issuing CPU holds no lock of mm/ (callers flush after releasing theirs), and while it
 *    waits for acknowledgements, with interrupts disabled, it applies the batches posted to it:
 *    two CPUs shooting down at once each answer the other;
 *  - every CPU that waits with interrupts disabled, for a spin lock or anything else, calls
 *    arch_cpu_poll() in its loop, which applies the batches posted to it; one with interrupts
 *    enabled takes the request's interrupt; an idle one is woken by it. So a CPU spinning on a lock
 *    whose holder waits for its acknowledgement gives it, and the holder goes on;
 *  - applying a batch takes no lock, waits for nothing and never shoots down itself, and the
 *    issuing CPU runs nothing else until its round is over (interrupts stay disabled, and its wait
 *    runs only batches, not calls): one round per CPU at a time;
 *  - only online CPUs are asked and waited for (arch_cpus_online): before the other CPUs start, a
 *    flush is local; a CPU stopped by the panic path (or parked by a test) leaves the mask, and a
 *    round stops waiting for a CPU that left it. A CPU joins the mask with a TLB emptied by its
 *    start (INIT), having touched no mapping mm/ changes.
 * A CPU that does not acknowledge within the kernel's call timeout is a panic naming it, never a
 * hang.
 */
struct tlb_batch;
void arch_tlb_flush_batch(const struct tlb_batch *b);
/* This CPU only (tlb_batch_invalidate's primitives): the translation containing va, whatever its
 * size, global or not; every translation, global ones included; every non-global translation
 * (what a CR3 load drops). */
void arch_tlb_invalidate_page(vaddr_t va);
void arch_tlb_invalidate_all(void);
void arch_tlb_invalidate_nonglobal(void);
/* Loads CR3 (flushes non-global entries). */
void arch_cr3_load(paddr_t pml4_pa);
paddr_t arch_cr3_read(void);

/* Physical address width of the CPU (CPUID MAXPHYADDR, 32..52): no frame at or above
 * 2^(bits - PAGE_SHIFT) exists, and a PTE naming one sets reserved bits. */
unsigned arch_phys_addr_bits(void);

/* True when one large page may map the physical range [pa, pa + bytes) (bytes a power of two, pa
 * a multiple of it, below the width): the machine gives all of it one memory type (on x86 the
 * MTRRs: arch/x86_64/mtrr.h). False sends the caller to 4 KiB pages, whose types are each exact. */
bool arch_phys_span_uniform(paddr_t pa, uint64_t bytes);

/*
 * True when the kernel's direct map holds physical page pa (RAM: kernel/vm.c maps every page a RAM
 * descriptor touches, write-back; then ACPI tables the kernel reads), so a second mapping of it must
 * be write-back too: one page mapped
 * with two memory types at once is undefined (Intel SDM Vol. 3A 11.12.4). The answer holds for every
 * page of the aligned block of *extent bytes around pa (a power of two, at least PAGE_SIZE: the
 * direct map's entry over pa, present or not), so a caller asks once per block. O(1): one walk of
 * at most ARCH_PT_LEVELS entries. pa below the CPU's physical width.
 */
bool arch_phys_direct_mapped(paddr_t pa, uint64_t *extent);

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
 * the other CPUs are brought up it runs on the boot CPU alone. The host's fake machine runs one
 * CPU per thread (tests/host/fake_arch.h: fake_cpu_set, fake_smp_run); CPU 0 alone is online
 * unless a test starts more. mm/ uses arch_cpu_index as the owner of a spin lock, and spin_lock
 * calls arch_cpu_poll while it spins (include/spinlock.h); the shootdown (arch_tlb_flush_batch
 * above) uses arch_cpus_online. mm/ does not call arch_cpu_call.
 *
 * arch_cpu_call may be called with interrupts disabled, and while it waits it runs the calls and
 * TLB batches other CPUs posted to this one (two CPUs calling each other at once both finish). fn
 * runs with interrupts disabled and must not wait for anything the caller may hold; since a CPU
 * runs it wherever it spins, with the locks it holds still held, fn takes no lock but the
 * console's. The TLB shootdown does not use it: it has a mailbox of its own, so that a flush may
 * be issued from anywhere, also from inside a call or by a CPU running its own part of one.
 */
#define ARCH_MAX_CPUS CPUMASK_MAX_CPUS   /* include/cpumask.h: why 255 */
typedef cpumask_t arch_cpumask_t;        /* the CPUs of a call, of the online set */

/*
 * unsigned arch_cpu_index(void): the index of the running CPU. Every spin lock, unlock and held-lock
 * check asks it, so each machine defines it inline, as a read of one per-CPU word: the kernel
 * (built freestanding) from its struct percpu through the GS base (arch/x86_64/include/
 * arch_cpu_impl.h); the host's fake machine (every hosted build of mm/) from the thread-local
 * fake_cpu of the host thread that acts as the CPU (tests/host/fake_arch.h). This choice of the
 * machine by the build is the seam's only one; mm/ sees the same function either way.
 */
#if __STDC_HOSTED__
extern _Thread_local unsigned fake_cpu;
static inline unsigned arch_cpu_index(void) { return fake_cpu; }
#else
#include "arch_cpu_impl.h"
#endif
/* The CPUs that run kernel code and take calls. */
arch_cpumask_t arch_cpus_online(void);
/* Runs fn(arg) on every online CPU in mask (the caller's bit: here) and returns when all returned. */
void arch_cpu_call(arch_cpumask_t mask, void (*fn)(void *arg), void *arg);
/* Runs the TLB batches and the calls other CPUs posted to this one. */
void arch_cpu_poll(void);

#endif
