/*
 * cpu_: a CPU as the kernel sees it: what CPUID says it has (cpu.c), the control state every CPU
 * runs with (cpu.c), and its descriptor tables (gdt.c). kmain calls, in order: cpu_detect,
 * gdt_init_cpu (percpu.h), idt_init, cpu_init_control_state; each AP calls gdt_init_cpu, idt_load
 * and cpu_init_control_state (smp.c).
 */
#ifndef CPU_H
#define CPU_H

#include "types.h"

#define MTRR_FIXED_COUNT 11          /* fixed-range MSRs: 0x250, 0x258, 0x259, 0x268..0x26F */
#define MTRR_VAR_MAX  32             /* variable ranges the kernel copies (MTRRcap allows 255) */

/* CPU features the kernel decides on (CPUID), filled by cpu_detect. */
struct cpu_features {
	bool nx, page1g, pcid, invpcid, smep, smap, pat, pge;
	bool x2apic, mce, mtrr;      /* CPUID 1: ECX[21], EDX[7], EDX[12] */
	uint32_t max_phys_bits;
	char vendor[13];
	char brand[49];              /* CPUID 0x80000002-4 without leading blanks, or "" */
	uint32_t apic_id;            /* initial APIC id of the boot CPU (CPUID 1 EBX[31:24]) */
};
extern struct cpu_features cpu_feat;

/* Fills cpu_feat from CPUID. */
void cpu_detect(void);
/* The control state every CPU runs with, computed from cpu_feat: never a feature the CPU lacks. */
uint64_t cpu_cr0_value(void);
uint64_t cpu_cr4_value(void);
uint64_t cpu_efer_value(void);
/*
 * Programs this CPU's EFER, CR0, CR4 and PAT MSR to exactly those values (the PAT only when the
 * CPU has one), and its MTRRs to the boot CPU's (the first call, on the boot CPU, records them).
 * The boot CPU and every AP call it: one code path, one state.
 */
void cpu_init_control_state(void);

/* The MTRRs: the type register, the fixed ranges (when MTRRcap has them) and the variable ranges. */
struct cpu_mtrrs {
	uint64_t def_type;
	uint64_t fixed[MTRR_FIXED_COUNT];
	uint64_t var[2 * MTRR_VAR_MAX];      /* base, mask pairs */
	unsigned nvar;
	bool fixed_present;
};
/* Reads this CPU's MTRRs (nothing when the CPU has none: all zero). */
void cpu_mtrr_read(struct cpu_mtrrs *m);
/* The boot CPU's MTRRs as cpu_init_control_state recorded them. */
const struct cpu_mtrrs *cpu_mtrr_boot(void);
/* Builds the IDT (all 256 vectors through the stubs of traps.asm into trap_dispatch) and loads it. */
void idt_init(void);
/* Loads the IDT idt_init built (every CPU shares it). */
void idt_load(void);
/* Prints what cpu_detect found (one line per kind) and the direct map's page size. */
void cpu_print_features(void);

#endif
