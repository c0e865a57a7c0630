/*
 * apic_mode_: the choice between xAPIC and x2APIC mode, a pure function (no hardware access) that
 * tests/host/test_smp_plan.c checks over every combination of its inputs. The policy is Linux's:
 * x2APIC mode when the CPU has it (CPUID.1:ECX[21]) and either the firmware enabled it already
 * (IA32_APIC_BASE bit 10: an APIC leaves x2APIC mode only through the disabled state, SDM vol. 3A
 * 11.12.5, which would lose its set-up, so the kernel stays in it) or the ACPI DMAR does not opt
 * out of it (flags bit 1, X2APIC_OPT_OUT: the firmware's interrupt remapping expects xAPIC mode;
 * no DMAR is no opt-out). In xAPIC mode a CPU whose APIC id is above 0xFE cannot be started
 * (smp_plan.h skips it with its reason).
 */
#ifndef APIC_MODE_H
#define APIC_MODE_H

#include "types.h"

enum apic_mode {
	APIC_MODE_XAPIC,              /* the CPU has no x2APIC */
	APIC_MODE_XAPIC_OPTED_OUT,    /* the CPU has it, the firmware left it off, the DMAR opts out */
	APIC_MODE_X2APIC,             /* the CPU has it and nothing opts out */
	APIC_MODE_X2APIC_FIRMWARE,    /* the firmware enabled it: kept, whatever the DMAR says */
};

/* The mode for a CPU that has x2APIC or not, whose firmware enabled it or not, under a DMAR that
 * opts out of it or not. */
static inline enum apic_mode apic_mode_choose(bool cpu_x2apic, bool firmware_x2apic, bool dmar_opt_out)
{
	if (!cpu_x2apic)
		return APIC_MODE_XAPIC;
	if (firmware_x2apic)
		return APIC_MODE_X2APIC_FIRMWARE;
	return dmar_opt_out ? APIC_MODE_XAPIC_OPTED_OUT : APIC_MODE_X2APIC;
}

/* True when mode m runs the APICs in x2APIC mode. */
static inline bool apic_mode_is_x2apic(enum apic_mode m)
{
	return m == APIC_MODE_X2APIC || m == APIC_MODE_X2APIC_FIRMWARE;
}

#endif
