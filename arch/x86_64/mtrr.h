/*
 * What the MTRRs (a copy in struct cpu_mtrrs, cpu.h) say of a physical range, for the page-table
 * code's choice of a large page. Pure functions of the copy: no MSR is read here (host-tested by
 * tests/host/test_mtrr.c against a per-page model of the SDM's rules).
 */
#ifndef MTRR_H
#define MTRR_H

#include "cpu.h"

/*
 * True when the MTRRs give every byte of [pa, pa + len) one memory type, so one large page may map
 * it (Intel SDM Vol. 3A 11.11.9: a large page over ranges of different MTRR types has an undefined
 * memory type). len is a power of two of at least a page, pa a multiple of it, pa + len at most
 * 2^physbits. Exact where it says true; false also for what it cannot judge without reading every
 * page: a range below 1 MiB while the fixed ranges are on, a variable range matching part of it,
 * and a copy that lacks some of the CPU's variable ranges. MTRRs off (or none): true.
 */
bool mtrr_span_uniform(const struct cpu_mtrrs *m, uint64_t pa, uint64_t len, unsigned physbits);

/* True when no variable range can split a len-aligned range (every valid one's mask has no bit below
 * len, and the copy is whole) or the MTRRs are off: mtrr_span_uniform is then true for every such
 * range from 1 MiB up, and the caller may answer those without asking it (len as there). */
bool mtrr_spans_coarse(const struct cpu_mtrrs *m, uint64_t len, unsigned physbits);

#endif
