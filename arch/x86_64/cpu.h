/*
 * cpu_: the boot CPU as the kernel sees it: what CPUID says it has (cpu.c), the control registers
 * and PAT set from that (cpu.c), and its descriptor tables (gdt.c). kmain calls these in order:
 * cpu_detect, gdt_init, idt_init, cpu_init_control_regs, cpu_init_pat.
 */
#ifndef CPU_H
#define CPU_H

#include "types.h"

/* CPU features the kernel decides on (CPUID), filled by cpu_detect. */
struct cpu_features {
	bool nx, page1g, pcid, invpcid, smep, smap, pat, pge;
	uint32_t max_phys_bits;
	char vendor[13];
	char brand[49];              /* CPUID 0x80000002-4 without leading blanks, or "" */
	uint32_t apic_id;            /* initial APIC id of the boot CPU (CPUID 1 EBX[31:24]) */
};
extern struct cpu_features cpu_feat;

/* Fills cpu_feat from CPUID. */
void cpu_detect(void);
/* Sets EFER.NXE, CR0.WP and CR4.PGE/SMEP/SMAP from what cpu_feat says the CPU has, never more. */
void cpu_init_control_regs(void);
/* Programs the PAT MSR with the kernel's layout (x86.h PAT_VALUE) when the CPU has a PAT. */
void cpu_init_pat(void);
/* Loads the kernel's GDT and TSS (IST stacks for #DF, NMI and #MC). */
void gdt_init(void);
/* Loads the IDT: all 256 vectors through the stubs of traps.asm into trap_dispatch. */
void idt_init(void);
/* Prints what cpu_detect found (one line per kind) and the direct map's page size. */
void cpu_print_features(void);

#endif
