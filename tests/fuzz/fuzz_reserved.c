/*
 * libFuzzer harness over the reserved-mapping API of the hosted memory manager: the input bytes
 * are the choices of the shared model's call generators (tests/host/model_syspte.h) in wild mode,
 * so an input is a sequence of reserve / map / unmap / free calls with arbitrary sizes, flags,
 * tags, addresses, MDLs and cache types, misuse included (bug checks intercepted), mixed with
 * calls of the MDL toolkit (MmMapLockedPagesSpecifyCache, MmUnmapLockedPages,
 * MmBuildMdlForNonPagedPool, IoBuildPartialMdl, MmFreePagesFromMdl). Every MDL field can be
 * arbitrary: Size, flags, ByteOffset, StartVa, ByteCount, MappedSystemVa, frames; the model
 * predicts the outcome from the rules of a valid MDL (tests/host/model_mdl.h) and checks that a
 * refused or bug-checked call changed nothing. After every call syspte_check(reserved_region()) runs and the model
 * must agree; any disagreement aborts with the model's message. Each input starts on a fresh
 * machine (4 MiB region), and the calls run on CPUs 0, 1 and 2 in turn (MODEL_CPUS, no input byte
 * drawn for it), so the region's per-CPU caches place, free and drain as they would on three CPUs.
 * A valid reservation refused while the model sees room for it is a failure too.
 */
#include <stdio.h>
#include <stdlib.h>
#include "model_syspte.h"
#include "reserved.h"
#include "model_syspte.c"
#include "fuzz_input.h"

#define MAX_CALLS 512

/* Aborts (a libFuzzer crash) when the model saw a disagreement. */
static void require_agreement(uint64_t f0)
{
	if (model_counts.failures != f0) {
		fprintf(stderr, "fuzz_reserved: the memory manager disagrees with the model (see the # op lines)\n");
		fflush(stdout);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t f0 = model_counts.failures;
	fuzz_input_begin(data, size);
	if (model_begin(fuzz_draw, MODEL_WILD | MODEL_STRICT_ROOM | MODEL_CPUS | MODEL_DIRECT_MAP))
		abort();
	for (int k = 0; k < MAX_CALLS && fuzz_in_left; k++) {
		model_step();
		require_agreement(f0);
	}
	model_end();
	require_agreement(f0);
	return 0;
}
