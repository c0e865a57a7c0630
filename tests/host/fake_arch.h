/* The host's fake machine behind include/arch_mm.h: sparse "physical memory" and a TLB log. */
#ifndef FAKE_ARCH_H
#define FAKE_ARCH_H

#include "types.h"

#define FAKE_PHYS_LIMIT (64ULL << 30)   /* physical addresses the fake RAM can back */
#define FAKE_PHYS_BITS_DEFAULT 46        /* arch_phys_addr_bits() until a test sets another width */

enum fake_tlb_op { FAKE_TLB_PAGE, FAKE_TLB_ALL, FAKE_CR3 };
struct fake_tlb_event {
	enum fake_tlb_op op;
	uint64_t arg;     /* va for PAGE, root for CR3 */
};

#define FAKE_TLB_LOG 4096
struct fake_tlb_log {
	uint64_t pages, alls, cr3_loads;   /* totals since fake_tlb_reset */
	size_t n;                          /* events logged (the first FAKE_TLB_LOG kept) */
	struct fake_tlb_event ev[FAKE_TLB_LOG];
};
extern struct fake_tlb_log fake_tlb;

/* Reserves (lazily backed) fake RAM, aligned to 1 GiB so the direct map can use large pages;
 * idempotent. */
void fake_arch_init(void);
/* A fresh machine's hardware state: the first `bytes` of fake RAM read as zeros again (their host
 * pages are dropped), the TLB log cleared, CR3 0, interrupts enabled, CPU 0 running. The physical width stays. */
void fake_arch_reset(uint64_t bytes);
/* Sets the physical address width arch_phys_addr_bits() reports (32..52). */
void fake_arch_set_phys_bits(unsigned bits);
void fake_tlb_reset(void);
/* Interrupt state as arch_irq_save/restore see it (true = enabled). */
extern bool fake_irq_enabled;
/* The CPU arch_cpu_index() says the caller runs on (0 after fake_arch_reset): a test sets it to act
 * as another CPU, for instance to release a lock that CPU 0 holds. Below ARCH_MAX_CPUS. */
extern unsigned fake_cpu;

#endif
