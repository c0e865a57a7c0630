/*
 * MTRR facts of physical ranges from a copy of the MTRRs (contract in mtrr.h). Runs on any CPU
 * without locks: the copy is the boot CPU's, written once before the other CPUs start.
 */
#include "mtrr.h"
#include "x86.h"

/* The address bits a variable range compares: 12 to the CPU's width. */
static uint64_t mtrr_addr_bits(unsigned physbits)
{
	return ((physbits >= 64 ? 0 : 1ULL << physbits) - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}

bool mtrr_spans_coarse(const struct cpu_mtrrs *m, uint64_t len, unsigned physbits)
{
	if (!(m->def_type & MTRR_DEF_E))
		return true;
	if (m->var_cut)
		return false;
	uint64_t addr = mtrr_addr_bits(physbits);
	for (unsigned i = 0; i < m->nvar; i++) {
		uint64_t mask = m->var[2 * i + 1];
		if ((mask & MTRR_VAR_VALID) && (mask & addr & (len - 1)))
			return false;
	}
	return true;
}

bool mtrr_span_uniform(const struct cpu_mtrrs *m, uint64_t pa, uint64_t len, unsigned physbits)
{
	if (!(m->def_type & MTRR_DEF_E))
		return true;                      /* every byte uncached, by the MTRRs' off state */
	if (m->var_cut)
		return false;
	if (m->fixed_present && (m->def_type & MTRR_DEF_FE) && pa < MTRR_FIXED_END)
		return false;
	uint64_t addr = mtrr_addr_bits(physbits);
	for (unsigned i = 0; i < m->nvar; i++) {
		uint64_t base = m->var[2 * i] & addr, mask = m->var[2 * i + 1];
		if (!(mask & MTRR_VAR_VALID))
			continue;
		mask &= addr;
		/* Every address of the range has pa's bits from len up: they decide alone when the
		 * mask has no bit below len; with one, the range matches part of it or none. */
		uint64_t high = mask & ~(len - 1);
		if ((pa & high) != (base & high))
			continue;                     /* matches no byte of the range */
		if (mask & (len - 1))
			return false;                 /* matches some bytes, not others */
	}
	return true;
}
