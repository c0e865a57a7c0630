/* The host's fake machine behind include/arch_mm.h: sparse "physical memory" and a TLB log. */
#ifndef FAKE_ARCH_H
#define FAKE_ARCH_H

#include "types.h"

#define FAKE_PHYS_LIMIT (64ULL << 30)   /* physical addresses the fake RAM can back */

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

/* Reserves (lazily backed) fake RAM; idempotent. */
void fake_arch_init(void);
void fake_tlb_reset(void);
/* Interrupt state as arch_irq_save/restore see it (true = enabled). */
extern bool fake_irq_enabled;
/* Functions arch_cpu_call ran (on the fake machine's one CPU). */
extern uint64_t fake_cpu_calls;

#endif
