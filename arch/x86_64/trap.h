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
 * The memory manager's page-fault policy: called for a kernel page fault before it is fatal.
 * May bug check (0x50 for the system PTE region). Defined in kernel/fault.c.
 */
void kernel_page_fault(struct trap_frame *tf, uint64_t cr2);

const char *trap_name(uint64_t vector);
void trap_dispatch(struct trap_frame *tf);

#endif
