/*
 * apic_: the local APIC of each CPU, in x2APIC mode when CPUID.1:ECX[21] says the CPU has it and
 * the firmware enabled it or its ACPI DMAR does not opt out of it (apic_mode.h; registers are MSRs
 * 0x800 + offset / 16, the ICR one 64-bit write) and else in xAPIC mode
 * (registers in a 4 KiB MMIO page, mapped uncached and non-executable at LAPIC_VA, never through
 * the write-back direct map). The boot CPU chooses the mode once (apic_init_boot) and every CPU
 * enables its own APIC the same way (apic_init_cpu). Interrupts the kernel takes: the IPI vectors
 * of smp.h and the spurious vector; every LVT source (timer, LINT0, error, performance, thermal)
 * is masked, and so is the legacy 8259 PIC.
 */
#ifndef APIC_H
#define APIC_H

#include "types.h"
#include "apic_icr.h"
#include "smp_ops.h"

#define APIC_VEC_SPURIOUS 0xFF

/* Sets up the boot CPU's local APIC in the mode apic_mode_choose gives (dmar_x2apic_opt_out: the
 * DMAR's X2APIC_OPT_OUT flag, false without a DMAR; one line when it keeps xAPIC mode), in xAPIC
 * mode mapping its page through ops (never where the direct map covers it); 0, or -1 with the
 * reason printed (then there is one CPU). */
int apic_init_boot(const struct smp_ops *ops, bool dmar_x2apic_opt_out);
/* Enables this CPU's local APIC in the boot CPU's mode: spurious vector, TPR 0, LVTs masked. */
void apic_init_cpu(void);
/* True once apic_init_boot succeeded. */
bool apic_ready(void);
/* True in x2APIC mode. */
bool apic_x2apic(void);
/* The local APIC's physical address (xAPIC mode; 0 in x2APIC mode or before apic_init_boot). */
paddr_t apic_mmio_phys(void);
/* This CPU's APIC id (x2APIC id in x2APIC mode). */
uint32_t apic_id(void);
/* Signals the end of the interrupt being handled (fixed vectors; not for NMI or spurious). */
void apic_eoi(void);
/*
 * Sends the IPI with ICR low word low to dest: waits (bounded) for a previous send to leave the
 * ICR, writes it, and in xAPIC mode waits until the APIC took it. 0, or -1 when the delivery
 * status stayed busy for APIC_SEND_TIMEOUT_US.
 */
int apic_send(uint32_t dest, uint32_t low);
/*
 * The errors this CPU's local APIC logged since the previous call (or since apic_init_cpu):
 * writes 0 to its error status register, which latches them and clears the log, then reads it
 * (apic_esr.h names the bits). Called right before an IPI, it clears; right after, it gives the
 * errors of that send (an illegal vector, on old CPUs an accept error).
 */
uint32_t apic_esr_take(void);

#define APIC_SEND_TIMEOUT_US 100000

#endif
