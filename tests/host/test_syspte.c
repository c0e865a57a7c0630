/*
 * Differential test of the reserved-mapping API against a reference model: random sequences of
 * reserve / map / unmap / free, misuse included, on a small region. After every call: the bug
 * check (or its absence) and its parameters match the model, the PTEs match the model, the
 * recorded TLB operations are exactly those documented, and syspte_check(reserved_region()) passes; a refused
 * reservation must have no free run of its length in the model (any start, a divisible one for
 * DIVISIBLE). The calls run on three fake CPUs in turn, so the region's per-CPU caches serve them,
 * take frees of each other's reservations and are drained before any refusal; even seeds keep the
 * region sparse (MODEL_SPARSE), where the caches place most small reservations, odd ones full. The model
 * and the call generators are shared with the fuzzer (model_syspte.h); here choices come from
 * a xorshift generator seeded per run.
 */
#include <stdlib.h>
#include "tap.h"
#include "reserved.h"
#include "model_syspte.h"
#include "model_syspte.c"
#include "test_rng.h"

static uint64_t rng;

/* Xorshift choice in [0, n); n == 0 returns 0 without advancing the generator. */
static uint64_t xorshift_draw(uint64_t n)
{
	if (!n)
		return 0;
	return test_rng_next(&rng) % n;
}

/* Runs one seed; returns the failures it added. */
static uint64_t run_seed(uint64_t seed, uint64_t nops)
{
	uint64_t f0 = model_counts.failures;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	if (model_begin(xorshift_draw, MODEL_STRICT_ROOM | MODEL_CPUS | (seed % 2 ? 0 : MODEL_SPARSE)))
		return 1;
	for (uint64_t k = 0; k < nops && model_counts.failures - f0 < 10; k++)
		model_step();
	model_end();
	return model_counts.failures - f0;
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 12;
	uint64_t nops = argc > 2 ? strtoull(argv[2], NULL, 0) : 25000;
	for (uint64_t s = 1; s <= seeds; s++)
		is(run_seed(s, nops), 0, "seed %llu: %llu random calls agree with the model", (unsigned long long)s,
		   (unsigned long long)nops);
	printf("# %llu calls, %llu bug checks predicted and seen, %llu reservations refused for space\n",
	       (unsigned long long)model_counts.ops, (unsigned long long)model_counts.bugchecks_seen,
	       (unsigned long long)model_counts.nulls_seen);
	ok(model_counts.bugchecks_seen > seeds * 100, "misuse was exercised");
	ok(model_counts.nulls_seen > seeds, "refusals were exercised (each proven by the model's free runs)");
	printf("# the CPUs' caches: %llu calls without the region's lock, %llu drains\n",
	       (unsigned long long)model_counts.cache_fast, (unsigned long long)model_counts.cache_drains);
	ok(model_counts.cache_fast > seeds * 1000 && model_counts.cache_drains > seeds,
	   "three CPUs' caches served calls and were drained before refusals");
	printf("# %llu 2 MiB leaves mapped (%llu of them the last run below the physical width), %llu unmapped\n",
	       (unsigned long long)model_large.leaves_mapped, (unsigned long long)model_large.top_leaves,
	       (unsigned long long)model_large.leaf_unmaps);
	ok(model_large.leaves_mapped > seeds * 10 && model_large.leaf_unmaps > seeds * 5 && model_large.top_leaves > seeds,
	   "2 MiB leaves were mapped and unmapped (generated aligned runs of frames, up to the width's last)");
	return tap_done();
}
