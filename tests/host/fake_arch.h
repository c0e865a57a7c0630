/* The host's fake machine behind include/arch_mm.h: sparse "physical memory" and a TLB log. */
#ifndef FAKE_ARCH_H
#define FAKE_ARCH_H

#include "types.h"
#include "tlb_batch.h"

#define FAKE_PHYS_LIMIT (64ULL << 30)   /* physical addresses the fake RAM can back */
#define FAKE_PHYS_BITS_DEFAULT 46        /* arch_phys_addr_bits() until a test sets another width */

/* One TLB flush: the batch arch_tlb_flush_batch was given (include/tlb_batch.h). */
struct fake_tlb_flush {
	bool all;                       /* every translation */
	bool irqs_off;                  /* issued with interrupts disabled: a lock was still held */
	unsigned n;                     /* pages named, in va[] (0 when all) */
	vaddr_t va[TLB_BATCH_PAGES];
};

#define FAKE_TLB_LOG 1024
struct fake_tlb_log {
	uint64_t flushes;                  /* arch_tlb_flush_batch calls since fake_tlb_reset */
	uint64_t pages, alls;              /* pages named by them, and flushes of everything */
	uint64_t irqs_off;                 /* flushes issued with interrupts disabled */
	uint64_t cr3_loads;
	struct fake_tlb_flush ev[FAKE_TLB_LOG];   /* the first FAKE_TLB_LOG flushes */
};
extern struct fake_tlb_log fake_tlb;

/*
 * True when flush k (0 = the first since fake_tlb_reset) named exactly the n pages of want, in any
 * order and each once, and not everything. Prints the difference when false.
 */
bool fake_tlb_flushed_pages(size_t k, const vaddr_t *want, size_t n);
/* The same for npages consecutive pages from va. */
bool fake_tlb_flushed_range(size_t k, vaddr_t va, size_t npages);

/* Reserves (lazily backed) fake RAM, aligned to 1 GiB so the direct map can use large pages;
 * idempotent. */
void fake_arch_init(void);
/* A fresh machine's hardware state: the first `bytes` of fake RAM read as zeros again (their host
 * pages are dropped), the TLB log cleared, CR3 0, interrupts enabled, CPU 0 running, no poll hook. The physical width stays. */
void fake_arch_reset(uint64_t bytes);
/* Sets the physical address width arch_phys_addr_bits() reports (32..52). */
void fake_arch_set_phys_bits(unsigned bits);
void fake_tlb_reset(void);
/* Interrupt state as arch_irq_save/restore see it (true = enabled), per thread (a thread is a CPU). */
extern __thread bool fake_irq_enabled;
/* Functions arch_cpu_call ran (on the fake machine's one online CPU). */
extern uint64_t fake_cpu_calls;
/* The CPU arch_cpu_index() says the caller runs on (0 after fake_arch_reset, which sets the calling
 * thread's): a test sets it to act as another CPU, for instance to release a lock that CPU 0 holds,
 * and each host thread that acts as a CPU sets its own. Below ARCH_MAX_CPUS. */
extern __thread unsigned fake_cpu;
/* arch_cpu_poll calls since start, and a function each call runs (NULL after fake_arch_reset): a
 * test plays the other CPUs' part with it, for instance releasing a lock one of them holds. */
extern uint64_t fake_cpu_polls;
extern void (*fake_cpu_poll_hook)(void);

#endif
