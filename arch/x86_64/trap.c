/* Exception and interrupt dispatch: the kernel's page-fault policy, probe fixups, then the kernel's
 * fatal report (both registered with trap_set_handlers). */
#include "trap.h"
#include "x86.h"
#include "kprintf.h"
#include "shutdown.h"
#include "percpu.h"
#include "smp.h"
#include "apic.h"

struct trap_record trap_last_fixup;
static trap_handler_fn *trap_page_fault_handler, *trap_fatal_handler;

extern const char arch_probe_read8_insn[], arch_probe_read8_fixup[];
extern const char arch_probe_write8_insn[], arch_probe_write8_fixup[];
extern const char arch_probe_exec_fixup[];

static const char *const trap_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
	"coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
	"#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
	"#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
	"reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
	"#VC VMM communication", "#SX security", "reserved 31",
};

const char *trap_name(uint64_t vector)
{
	return vector < 32 ? trap_names[vector] : "external interrupt";
}

void trap_set_handlers(trap_handler_fn *page_fault, trap_handler_fn *fatal)
{
	trap_page_fault_handler = page_fault;
	trap_fatal_handler = fatal;
}

/* One register of a trap report: its name and value, in digits hexadecimal digits. */
struct trap_reg {
	const char *name;
	uint64_t value;
	int digits;
};

#define TRAP_REG_DIGITS   (2 * (int)sizeof(uint64_t))   /* a 64-bit register in hexadecimal */
#define TRAP_SEL_DIGITS   (2 * (int)sizeof(uint16_t))   /* a segment selector */
#define TRAP_REG_NAME_PAD 3                             /* "RAX", "R8 ": names padded to this */
#define TRAP_REG_GAP      2                             /* spaces between two registers on a line */
/* The widest register shown: "RFLAGS", a space, 16 digits. */
#define TRAP_REG_CELL_MAX ((int)sizeof("RFLAGS") - 1 + 1 + TRAP_REG_DIGITS)
/* Registers per line, so that a line fits the narrowest console (3 at 80 columns). */
#define TRAP_REGS_PER_LINE ((KPRINTF_SCREEN_COLS + TRAP_REG_GAP) / (TRAP_REG_CELL_MAX + TRAP_REG_GAP))
_Static_assert(TRAP_REGS_PER_LINE >= 1, "a register fits a console line");

/* Prints regs, TRAP_REGS_PER_LINE to a line, each line in one kprintf. */
static void trap_print_regs(const struct trap_reg *regs, size_t n)
{
	char line[KPRINTF_SCREEN_COLS + 1];
	int len = 0;

	for (size_t i = 0; i < n; i++) {
		len += ksnprintf(line + len, sizeof(line) - (size_t)len, "%*s%-*s %0*llx",
				 i % TRAP_REGS_PER_LINE ? TRAP_REG_GAP : 0, "", TRAP_REG_NAME_PAD, regs[i].name,
				 regs[i].digits, (unsigned long long)regs[i].value);
		len = MIN(len, (int)sizeof(line) - 1);   /* a cut line, never an overrun */
		if ((i + 1) % TRAP_REGS_PER_LINE == 0 || i + 1 == n) {
			kprintf("%s\n", line);
			len = 0;
		}
	}
}

void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2)
{
	/* Where it was first (RIP and the stack), then the other registers, then the control state. */
	const struct trap_reg regs[] = {
		{ "RIP", tf->rip, TRAP_REG_DIGITS }, { "RSP", tf->rsp, TRAP_REG_DIGITS },
		{ "RBP", tf->rbp, TRAP_REG_DIGITS }, { "RAX", tf->rax, TRAP_REG_DIGITS },
		{ "RBX", tf->rbx, TRAP_REG_DIGITS }, { "RCX", tf->rcx, TRAP_REG_DIGITS },
		{ "RDX", tf->rdx, TRAP_REG_DIGITS }, { "RSI", tf->rsi, TRAP_REG_DIGITS },
		{ "RDI", tf->rdi, TRAP_REG_DIGITS }, { "R8", tf->r8, TRAP_REG_DIGITS },
		{ "R9", tf->r9, TRAP_REG_DIGITS }, { "R10", tf->r10, TRAP_REG_DIGITS },
		{ "R11", tf->r11, TRAP_REG_DIGITS }, { "R12", tf->r12, TRAP_REG_DIGITS },
		{ "R13", tf->r13, TRAP_REG_DIGITS }, { "R14", tf->r14, TRAP_REG_DIGITS },
		{ "R15", tf->r15, TRAP_REG_DIGITS }, { "RFLAGS", tf->rflags, TRAP_REG_DIGITS },
		{ "CR0", read_cr0(), TRAP_REG_DIGITS }, { "CR2", cr2, TRAP_REG_DIGITS },
		{ "CR3", read_cr3(), TRAP_REG_DIGITS }, { "CR4", read_cr4(), TRAP_REG_DIGITS },
		{ "CS", tf->cs, TRAP_SEL_DIGITS }, { "SS", tf->ss, TRAP_SEL_DIGITS },
	};
	trap_print_regs(regs, ARRAY_SIZE(regs));
}

/*
 * True when tf is an instruction-fetch page fault at the target arch_probe_exec called: the fault
 * is at cr2 itself, a fetch (trap_pf_is_fetch: also on a CPU without NX, whose error code has no
 * I/D bit), and the return address on the stack is the probe's.
 */
static bool trap_is_exec_probe(const struct trap_frame *tf, uint64_t cr2)
{
	return tf->vector == VEC_PF && trap_pf_is_fetch(tf->error, tf->rip, cr2) && tf->rip == cr2 &&
	       *(const uint64_t *)tf->rsp == (uint64_t)arch_probe_exec_fixup;
}

/* If the faulting instruction is a probe, resumes at its fixup with rax = -1 and returns true. */
static bool trap_try_fixup(struct trap_frame *tf, uint64_t cr2)
{
	uint64_t fixup = 0;
	if (tf->rip == (uint64_t)arch_probe_read8_insn)
		fixup = (uint64_t)arch_probe_read8_fixup;
	else if (tf->rip == (uint64_t)arch_probe_write8_insn)
		fixup = (uint64_t)arch_probe_write8_fixup;
	else if (trap_is_exec_probe(tf, cr2)) {
		fixup = (uint64_t)arch_probe_exec_fixup;
		tf->rsp += 8;   /* as if the called code had returned */
	}
	if (!fixup)
		return false;
	trap_last_fixup.vector = tf->vector;
	trap_last_fixup.error = tf->error;
	trap_last_fixup.cr2 = cr2;
	trap_last_fixup.rip = tf->rip;
	trap_last_fixup.count++;
	tf->rip = fixup;
	tf->rax = (uint64_t)-1;
	return true;
}

static uint64_t trap_unexpected_count;

/* Ends a fatal trap when the kernel has no fatal handler (yet), or when its handler returned. */
static __attribute__((noreturn)) void trap_fatal_fallback(struct trap_frame *tf, uint64_t cr2)
{
	/* Two lines within the console's width (the longest vector name and a 32-bit error code). */
	kprintf("\n*** trap: exception %llu (%s), error code 0x%llx\n*** at rip 0x%llx, with no fatal handler; halting\n",
		(unsigned long long)tf->vector, trap_name(tf->vector), (unsigned long long)tf->error,
		(unsigned long long)tf->rip);
	trap_dump_frame(tf, cr2);
	shutdown_halt();
}

/* Handles one trap: NMIs and interrupts (the SMP vectors first), faults, fixups, else a fatal report. */
static void trap_handle(struct trap_frame *tf)
{
	uint64_t cr2 = tf->vector == VEC_PF ? read_cr2() : 0;
	if (tf->vector == VEC_NMI) {
		if (smp_nmi(tf))
			return;
		kprintf("trap: NMI received at rip 0x%llx; continuing\n", (unsigned long long)tf->rip);
		return;
	}
	if (tf->vector >= 32) {
		if (smp_interrupt(tf))
			return;
		if (apic_ready())
			apic_eoi();   /* an interrupt from a source left unmasked must not block the IPIs below it */
		trap_unexpected_count++;
		kprintf("trap: unexpected interrupt vector %llu at rip 0x%llx; ignored\n",
			(unsigned long long)tf->vector, (unsigned long long)tf->rip);
		return;
	}
	if (tf->vector == VEC_PF && trap_page_fault_handler)
		trap_page_fault_handler(tf, cr2);
	if (trap_try_fixup(tf, cr2))
		return;
	if (trap_fatal_handler)
		trap_fatal_handler(tf, cr2);
	trap_fatal_fallback(tf, cr2);
}

/* Entry from traps.asm for every vector: counts the handler in this CPU's nesting while it runs. */
void trap_dispatch(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();

	pc->irq_nesting++;
	trap_handle(tf);
	pc->irq_nesting--;
}
