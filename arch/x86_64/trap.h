/* Trap frames and the dispatcher's hooks. */
#ifndef TRAP_H
#define TRAP_H

#include "types.h"

/* Layout pushed by arch/x86_64/traps.asm: keep in sync. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

#define VEC_DE 0
#define VEC_NMI 2
#define VEC_BP 3
#define VEC_UD 6
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14
#define VEC_MC 18

/* Page-fault error code bits. */
#define PF_ERR_PRESENT (1u << 0)
#define PF_ERR_WRITE   (1u << 1)
#define PF_ERR_USER    (1u << 2)
#define PF_ERR_RSVD    (1u << 3)
#define PF_ERR_FETCH   (1u << 4)

/*
 * True when a page fault with this error code, at rip, for address cr2, was an instruction fetch.
 * The CPU sets the I/D bit only while NX (EFER.NXE) or SMEP is on (Intel SDM Vol. 3A 4.7, AMD APM
 * Vol. 2 8.4.2): on a CPU without either, a fetch of a non-present page is known by its address,
 * the instruction pointer itself, and by being no write. A data access cannot fault there as
 * non-present: the instruction was just fetched from that page. An instruction that starts on a
 * mapped page and runs into a non-present one faults at the second page's start, not at rip: on
 * such a CPU that fetch stays a read.
 */
static inline bool trap_pf_is_fetch(uint64_t error, uint64_t rip, uint64_t cr2)
{
	return (error & PF_ERR_FETCH) || (!(error & (PF_ERR_PRESENT | PF_ERR_WRITE)) && rip == cr2);
}

/* The last fault recovered through a probe fixup, for tests. */
struct trap_record {
	uint64_t vector, error, cr2, rip;
	uint64_t count;
};
extern struct trap_record trap_last_fixup;

/* Reads/writes one byte, returning 0, or -1 when it faulted (the fault is recorded, not fatal). */
int arch_probe_read8(const volatile void *addr, uint8_t *out);
int arch_probe_write8(volatile void *addr, uint8_t val);
/* Calls code, which must return; 0 when it ran, -1 when fetching its first instruction faulted. */
int arch_probe_exec(const void *code);

/*
 * The kernel's trap policy, registered at boot so that arch/ calls up through pointers and never
 * names a function of a layer above it. page_fault: called for every page fault before the probe
 * fixups; it may bug check, or return to let the dispatcher go on. fatal: called for a trap that
 * nothing handled; it reports and ends the machine. Until registered (or when NULL), the
 * dispatcher goes on without a page-fault policy and ends a fatal trap itself: trap_dump_frame,
 * then a halt. A fatal handler that returns ends there too.
 */
typedef void trap_handler_fn(struct trap_frame *tf, uint64_t cr2);
void trap_set_handlers(trap_handler_fn *page_fault, trap_handler_fn *fatal);

/* Human name of a vector ("#PF page fault"). */
const char *trap_name(uint64_t vector);
/* Prints every register of tf and the control registers, CR2 as the trap saw it. */
void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2);
/* Entry from traps.asm for every vector. */
void trap_dispatch(struct trap_frame *tf);

#endif
