/*
 * cpu_: a CPU as the kernel sees it: what CPUID says it has (cpu.c), the control state every CPU
 * runs with (cpu.c), and its descriptor tables (gdt.c). kmain calls, in order: cpu_detect,
 * gdt_init_cpu (percpu.h), idt_init, cpu_init_control_state; each AP calls gdt_init_cpu and idt_load
 * first (its exceptions are reports from then on, not triple faults), then cpu_init_control_state
 * (smp.c).
 */
#ifndef CPU_H
#define CPU_H

#include "types.h"
#include "physwidth.h"

#define MTRR_FIXED_COUNT 11          /* fixed-range MSRs: 0x250, 0x258, 0x259, 0x268..0x26F */
#define MTRR_VAR_MAX  32             /* variable ranges the kernel copies (MTRRcap allows 255) */

/*
 * Intel's XD Bit Disable (IA32_MISC_ENABLE bit 34), which firmware setup can set to turn Execute
 * Disable off: CPUID then reports no NX. What cpu_detect found on the boot CPU, and did about it.
 */
enum cpu_xd {
	CPU_XD_NO_MSR,               /* not GenuineIntel, or no CPUID leaf 1: the MSR is never touched */
	CPU_XD_CLEAR,                /* Intel, the bit clear: nothing to do */
	CPU_XD_REENABLED,            /* the firmware had set it; the kernel cleared it */
	CPU_XD_STUCK,                /* the firmware had set it and it stayed set when written clear */
};

/* CPU features the kernel decides on (CPUID), filled by cpu_detect. */
struct cpu_features {
	bool nx, page1g, pcid, invpcid, smep, smap, pat, pge;
	enum cpu_xd xd;              /* nx is read after this: with the bit cleared where it cleared */
	bool cpuid_unlimited;        /* the firmware had set Limit CPUID Maxval; cpu_detect cleared it */
	bool x2apic, mce, mtrr;      /* CPUID 1: ECX[21], EDX[7], EDX[12] */
	bool cet;                    /* CPUID (7,0) ECX[7] CET_SS or EDX[20] CET_IBT: IA32_S_CET exists */
	uint64_t cet_firmware;       /* IA32_S_CET as the firmware left it on the boot CPU (0 without the MSR) */
	bool cet_cr4_firmware;       /* the firmware's CR4.CET, which entry.asm cleared (boot_firmware_cr4) */
	uint64_t dr7_firmware;       /* DR7 as the firmware left it on the boot CPU */
	uint32_t max_phys_bits;       /* the usable width (physwidth_read): cpu_phys_bits less encrypt_phys_bits */
	uint32_t cpu_phys_bits;       /* CPUID 0x80000008 EAX[7:0], 36 without the leaf */
	uint32_t encrypt_phys_bits;   /* address bits memory encryption takes (AMD SME or SEV, Intel TME), else 0 */
	enum physwidth_encrypt phys_encrypt;   /* whose, when encrypt_phys_bits is not 0; an SEV kind in an
						  SEV guest (which the loader refuses) even with 0 bits */
	uint32_t phys_cbit;           /* in an SEV guest the C-bit's position (the width stays below it), else 0 */
	char vendor[13];
	char brand[49];              /* CPUID 0x80000002-4 without leading blanks, or "" */
	uint32_t apic_id;            /* initial APIC id of the boot CPU (CPUID 1 EBX[31:24]) */
	uint32_t signature;          /* CPUID 1 EAX: stepping, model, family (0 without leaf 1) */
};
extern struct cpu_features cpu_feat;

/* Fills cpu_feat from CPUID, on an Intel CPU after lifting the firmware's CPUID limit
 * (cpu_cpuid_unlimit) and turning Execute Disable back on (cpu_xd_enable); the physical width
 * first, by include/physwidth.h's rule, as the loader read it (AMD's SEV_STATUS and SYSCFG or
 * Intel's IA32_TME_ACTIVATE read there when CPUID says the CPU has it, SYSCFG never under a
 * hypervisor). */
void cpu_detect(void);
/* On an Intel CPU (the caller checks), clears Limit CPUID Maxval (IA32_MISC_ENABLE bit 22) when
 * set, every other bit kept, as Linux's early_init_intel does; true when it was set and the write
 * took. Firmware may set it for old operating systems: CPUID 0 then reports leaf 2 as the highest,
 * hiding leaf 7 (SMEP, SMAP, INVPCID) and leaves 0x15 and 0x16 (the TSC's frequency). */
bool cpu_cpuid_unlimit(void);
/* On an Intel CPU (the caller checks: the MSR #GPs elsewhere), clears XD Bit Disable in this CPU's
 * IA32_MISC_ENABLE when set, every other bit kept, as Linux's verify_cpu.S does on every CPU;
 * returns what it found (CPU_XD_CLEAR, CPU_XD_REENABLED or CPU_XD_STUCK). */
enum cpu_xd cpu_xd_enable(void);
/* A sentence on XD Bit Disable for the notes on serial and screen, or NULL when the firmware left
 * it clear (or the CPU is not Intel): that the kernel turned Execute Disable back on, or could not. */
const char *cpu_xd_text(void);
/* The control state every CPU runs with, computed from cpu_feat: never a feature the CPU lacks. */
uint64_t cpu_cr0_value(void);
uint64_t cpu_cr4_value(void);
uint64_t cpu_efer_value(void);
/*
 * Programs this CPU's EFER, CR0, CR4 and PAT MSR to exactly those values (the PAT only when the
 * CPU has one), and its MTRRs to the boot CPU's (the first call, on the boot CPU, records them);
 * first, where the MSR exists, IA32_S_CET to 0 (no shadow stack, no IBT: the kernel has neither
 * ENDBR64 at its indirect targets nor a shadow stack); and DR7 to its reset value (no hardware
 * breakpoint a firmware or its debug agent left enabled). The boot CPU and every AP call it: one
 * code path, one state.
 */
void cpu_init_control_state(void);
/* CR4 as the firmware left it on the boot CPU, saved by entry.asm before it cleared CR4.CET. */
extern uint64_t boot_firmware_cr4;
/* A sentence on hardware breakpoints the firmware left enabled in DR7, or NULL when none. */
const char *cpu_dr7_text(void);
/* A sentence on CET left on by the firmware for the log, or NULL when it left it off. */
const char *cpu_cet_text(void);

/* The MTRRs: the type register, the fixed ranges (when MTRRcap has them) and the variable ranges. */
struct cpu_mtrrs {
	uint64_t def_type;
	uint64_t fixed[MTRR_FIXED_COUNT];
	uint64_t var[2 * MTRR_VAR_MAX];      /* base, mask pairs */
	unsigned nvar;
	bool fixed_present;
	bool var_cut;                        /* MTRRcap counts more than MTRR_VAR_MAX ranges: some not copied */
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
