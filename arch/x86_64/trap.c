/* Exception and interrupt dispatch: probe fixups, the page-fault policy, then a fatal report. */
#include "trap.h"
#include "x86.h"
#include "kprintf.h"
#include "panic.h"
#include "percpu.h"
#include "smp.h"
#include "apic.h"

struct trap_record trap_last_fixup;

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

/* Human name of a vector. */
const char *trap_name(uint64_t vector)
{
	return vector < 32 ? trap_names[vector] : "external interrupt";
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
	if (tf->vector == VEC_PF)
		kernel_page_fault(tf, cr2);
	if (trap_try_fixup(tf, cr2))
		return;
	panic_trap(tf, cr2);
}

/* Entry from traps.asm for every vector: counts the handler in this CPU's nesting while it runs. */
void trap_dispatch(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();

	pc->irq_nesting++;
	trap_handle(tf);
	pc->irq_nesting--;
}
