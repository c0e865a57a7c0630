/*
 * tsc_: the time-stamp counter as the kernel's clock. Its frequency is measured once against a
 * timer of known frequency, the PIT's channel 2 (1.193182 MHz), else the ACPI PM timer
 * (3.579545 MHz), else the HPET's main counter (the period its capabilities state, 10 MHz..1 GHz),
 * over a fixed interval; every wait is bounded by the TSC itself (the interval at
 * the largest plausible frequency, 20 GHz, plus a margin: about 0.1-0.2 s on common CPUs) and by a
 * count of port reads for a TSC that does not advance, so a missing, gated or stuck timer makes
 * calibration fail or fall back instead of hanging. When no timer ticks (a chipset that gates
 * the 8254, hardware-reduced ACPI without a PM timer, no HPET), the frequency Intel CPUs state in CPUID
 * leaf 0x15 (crystal x ratio) or leaf 0x16 (base frequency) is taken instead: stated, not measured,
 * so only after the measurements. The PIT's figure is checked against a counter's (the PM timer's,
 * else the HPET's) and gives way to it when they disagree by more than 2 % (tsc_calibrate). The
 * TSC is assumed to run at a constant
 * rate (invariant TSC on the CPUs this kernel targets; QEMU's is). A TSC that is only constant-rate
 * (CPUID 0x80000007 EDX[8] clear: it may stop in deep C-states) serves as well: every wait spins
 * between its two reads on one CPU (no halt), and no CPU compares its TSC with another's; without
 * an operating-system P-state driver, nothing changes the rate of an older, variable-rate TSC.
 */
#ifndef TSC_H
#define TSC_H

#include "types.h"

/* The time-stamp counter now. */
uint64_t tsc_read(void);

/* TSC value taken first thing in kmain: the kernel's own start. */
extern uint64_t tsc_at_kmain;

/* Measures the frequency against the PIT and a reference counter, the PM timer at pm_port (0: none;
 * pm32: 32-bit counter), else the HPET given to tsc_set_hpet: the PIT's figure unless it is missing
 * or disagrees with the reference's by more than 2 %, then the reference's; when no timer ticked as
 * it should, the frequency CPUID states (tsc_cpuid_hz). Returns the frequency in Hz, or 0 when no
 * source gave one in 50 MHz..20 GHz. */
uint64_t tsc_calibrate(uint16_t pm_port, bool pm32);
/* The HPET tsc_calibrate measures against: regs maps its register page (4 KiB, uncached); NULL
 * (the default) for none. */
void tsc_set_hpet(volatile void *regs);
/* The HPET given to tsc_set_hpet (NULL: none). */
volatile void *tsc_hpet_regs(void);
/* TSC ticks per second measured over the calibration interval against the HPET whose registers
 * regs maps, or 0 when regs is NULL, its period is outside 1..100 ns or its counter does not reach
 * the interval in the bounded wait. Starts a stopped main counter (ENABLE_CNF) and puts the
 * configuration back afterwards; never touches LEG_RT_CNF or the timers. */
uint64_t tsc_measure_hpet(volatile void *regs);
/* The TSC's frequency measured once over CALIB_MS against the ACPI PM timer at port (32-bit counter
 * when bits32, else 24-bit), or 0 when it does not advance: calibration's second source, and what
 * the boot tests hold the HPET's measurement to. */
uint64_t tsc_measure_pm(uint16_t port, bool bits32);
/* What the PIT measured when tsc_calibrate took the reference counter's figure over it (they
 * disagreed by more than 2 %), else 0. */
uint64_t tsc_pit_rejected(void);
/* The TSC frequency in Hz CPUID leaf 0x15 or 0x16 states on an Intel CPU, or 0 when it states none
 * (the leaves absent or not enumerated, or a value outside 50 MHz..20 GHz). */
uint64_t tsc_cpuid_hz(void);

/* The calibrated frequency in Hz (0 before or after a failed calibration). */
uint64_t tsc_hz(void);
/* Which source calibrated it: "PIT", "ACPI PM timer", "HPET", "CPUID leaf 0x15", "CPUID leaf 0x16" or "none". */
const char *tsc_source(void);
/* TSC ticks converted to milliseconds (0 when uncalibrated). */
uint64_t tsc_to_ms(uint64_t ticks);
/* TSC ticks converted to microseconds (0 when uncalibrated). */
uint64_t tsc_to_us(uint64_t ticks);
/* TSC ticks in us microseconds (0 when uncalibrated: callers that wait check tsc_hz() first). */
uint64_t tsc_us_to_ticks(uint64_t us);
/* Spins (pause) for us microseconds of the calibrated TSC; returns at once when uncalibrated. */
void tsc_delay_us(uint64_t us);

#endif
