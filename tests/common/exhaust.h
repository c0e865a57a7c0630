/*
 * Exhaustion scenarios shared by the boot suite and the host tests: take every physical page
 * through MmAllocatePagesForMdlEx, or all memory through the pool, until NULL; free everything;
 * compare the physical allocator's free census with the one taken before.
 */
#ifndef EXHAUST_H
#define EXHAUST_H

#include "types.h"

struct exhaust_result {
	uint64_t items;           /* MDLs or pool blocks obtained before the first NULL */
	uint64_t pages;           /* physical pages they held */
	uint64_t free_before;     /* free physical pages before */
	uint64_t free_at_end;     /* free physical pages when NULL came (after the last retry size) */
	uint64_t allocated_at_end; /* allocated physical pages then (compare with a phys_set_budget cap) */
	bool nulls_clean;         /* every refusal was a plain NULL and left the allocators consistent */
	bool census_same;         /* free census after freeing everything == before */
	bool checks_pass;         /* phys_check and pool_check pass at the end */
};

/* Allocates MDLs of `chunk_bytes` (then smaller) until NULL, frees all (MmFreePagesFromMdl + ExFreePool). */
void exhaust_physical_mdl(uint64_t chunk_bytes, struct exhaust_result *r);
/* Allocates pool blocks of 64 KiB, then 256 bytes, until NULL; frees all. */
void exhaust_pool(struct exhaust_result *r);

#endif
