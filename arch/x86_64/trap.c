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

void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2)
{
	kprintf("RIP %016llx  CS %04llx  RFLAGS %016llx  RSP %016llx  SS %04llx\n",
		(unsigned long long)tf->rip, (unsigned long long)tf->cs, (unsigned long long)tf->rflags,
		(unsigned long long)tf->rsp, (unsigned long long)tf->ss);
	kprintf("RAX %016llx  RBX %016llx  RCX %016llx  RDX %016llx\n", (unsigned long long)tf->rax,
		(unsigned long long)tf->rbx, (unsigned long long)tf->rcx, (unsigned long long)tf->rdx);
	kprintf("RSI %016llx  RDI %016llx  RBP %016llx  R8  %016llx\n", (unsigned long long)tf->rsi,
		(unsigned long long)tf->rdi, (unsigned long long)tf->rbp, (unsigned long long)tf->r8);
	kprintf("R9  %016llx  R10 %016llx  R11 %016llx  R12 %016llx\n", (unsigned long long)tf->r9,
		(unsigned long long)tf->r10, (unsigned long long)tf->r11, (unsigned long long)tf->r12);
	kprintf("R13 %016llx  R14 %016llx  R15 %016llx\n", (unsigned long long)tf->r13,
		(unsigned long long)tf->r14, (unsigned long long)tf->r15);
	kprintf("CR0 %016llx  CR2 %016llx  CR3 %016llx  CR4 %016llx\n", (unsigned long long)read_cr0(),
		(unsigned long long)cr2, (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
}

/*
 * True when tf is an instruction-fetch page fault at the target arch_probe_exec called: the fault
 * is at cr2 itself, and the return address on the stack is the probe's.
 */
static bool trap_is_exec_probe(const struct trap_frame *tf, uint64_t cr2)
{
	return tf->vector == VEC_PF && (tf->error & PF_ERR_FETCH) && tf->rip == cr2 &&
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
	kprintf("\n*** trap: exception %llu (%s), error code 0x%llx, at rip 0x%llx, with no fatal handler; halting\n",
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
