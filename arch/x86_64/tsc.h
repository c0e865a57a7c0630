/*
 * tsc_: the time-stamp counter as the kernel's clock. Its frequency is measured once against a
 * timer of known frequency, the PIT's channel 2 (1.193182 MHz) or else the ACPI PM timer
 * (3.579545 MHz), over a fixed interval; every wait is bounded by the TSC itself (the interval at
 * the largest plausible frequency, 20 GHz, plus a margin: about 0.1-0.2 s on common CPUs) and by a
 * count of port reads for a TSC that does not advance, so a missing, gated or stuck timer makes
 * calibration fail or fall back (frequency 0, or the PM timer's) instead of hanging. The TSC is
 * assumed to run at a constant rate (invariant TSC on the CPUs this kernel targets; QEMU's is).
 */
#ifndef TSC_H
#define TSC_H

#include "types.h"

/* The time-stamp counter now. */
uint64_t tsc_read(void);

/* TSC value taken first thing in kmain: the kernel's own start. */
extern uint64_t tsc_at_kmain;

/* Measures the frequency: the PIT first, then the PM timer at pm_port (0: none; pm32: 32-bit
 * counter). Returns the frequency in Hz, or 0 when neither timer ticked as it should. */
uint64_t tsc_calibrate(uint16_t pm_port, bool pm32);

/* The calibrated frequency in Hz (0 before or after a failed calibration). */
uint64_t tsc_hz(void);
/* Which timer calibrated it: "PIT", "ACPI PM timer" or "none". */
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
