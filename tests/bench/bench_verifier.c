/*
 * Benchmark (not a test): the cost of verifier mode. The same reserve/map/unmap/free workload runs
 * with the verifier off and on, in one process; prints ns per call and the ratio.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "wdm.h"
#include "host_machine.h"
#include "verifier.h"

#define TAG 0x66726556u
#define ROUNDS 20000

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* Runs ROUNDS of reserve 8 pages, map 8, unmap, free; returns ns per API call. */
static double workload(bool verifier)
{
	mm_verifier_set(verifier);
	if (host_machine_create(32ULL << 20, 16ULL << 20))
		return -1;
	static struct { MDL mdl; PFN_NUMBER pfn[8]; } m;
	double t0 = now_ns();
	for (int r = 0; r < ROUNDS; r++) {
		memset(&m, 0, sizeof(m));
		MmInitializeMdl(&m.mdl, NULL, 8 * 4096);
		m.mdl.MdlFlags = MDL_PAGES_LOCKED;
		for (int k = 0; k < 8; k++)
			m.pfn[k] = 0x300 + (PFN_NUMBER)k;
		char *va = MmAllocateMappingAddress(8 * 4096, TAG);
		MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached);
		MmUnmapReservedMapping(va, TAG, &m.mdl);
		MmFreeMappingAddress(va, TAG);
	}
	return (now_ns() - t0) / (ROUNDS * 4.0);
}

int main(void)
{
	double off = workload(false), on = workload(true);
	printf("verifier cost, 16 MiB region (4096 pages), reserve/map/unmap/free of 8 pages:\n");
	printf("  off %.0f ns/call, on %.0f ns/call, ratio %.1fx\n", off, on, on / off);
	return 0;
}
