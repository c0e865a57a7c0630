/*
 * Benchmark (not a test): MmMapLockedPagesWithReservedMapping and MmUnmapReservedMapping of 1, 16
 * and 512 pages into a reservation on the hosted machine, in ns per page, beside a raw loop that
 * stores the same number of PTE values into the same slots, in the same process. Median of 7 runs.
 * The 512-page rows map into a 2 MiB-aligned reservation twice: frames that are no aligned run
 * (512 PTEs) and one aligned run of 512 frames (one 2 MiB leaf); the last line is their ratio.
 * With the argument "sweep", every power of two from 1 to 512 pages, timed in batches (sweep()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wdm.h"
#include "host_machine.h"
#include "syspte.h"
#include "syspte_impl.h"   /* syspte_frames_large: the leaf's pass, timed as its floor */
#include "arch_mm.h"

#define TAG 0x68636e42u   /* 'Bnch' */
#define RUNS 7

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(double), cmp_double);
	return v[RUNS / 2];
}

static struct { MDL mdl; PFN_NUMBER pfn[512]; } m;

#define SWEEP_RESV 32       /* reservations mapped back to back per timed batch */
#define SWEEP_REGION (256ULL << 20)

/*
 * The sweep (make plots): for every power of two n from 1 to 512 pages, SWEEP_RESV reservations of
 * n pages are mapped one after the other and timed as one batch, then unmapped as one batch, so a
 * timer read costs nothing per page (no subtraction, which a loaded machine makes noisy); the raw
 * loop stores and clears the same PTE values in the same slots. Median of RUNS batches.
 */
static int sweep(void)
{
	static char *va[SWEEP_RESV];
	static volatile uint64_t *slots[SWEEP_RESV][512];
	static struct { MDL mdl; PFN_NUMBER pfn[512]; } mdl[SWEEP_RESV];

	if (host_machine_create(64ULL << 20, SWEEP_REGION))
		return 1;
	for (int r = 0; r < SWEEP_RESV; r++) {
		va[r] = MmAllocateMappingAddress(512 * 4096, TAG);
		if (!va[r])
			return 1;
		for (int i = 0; i < 512; i++) {
			mdl[r].pfn[i] = 0x1000 + (PFN_NUMBER)i;
			slots[r][i] = pt_pte_slot(host_machine_pt(), (vaddr_t)va[r] + (uint64_t)i * 4096);
		}
	}
	uint64_t tmpl = pt_leaf_attrs(host_machine_pt(), PT_PROT_W | PT_PROT_G);
	printf("# %d reservations mapped, then unmapped, per timed batch; median of %d batches\n", SWEEP_RESV, RUNS);
	printf("%6s %12s %12s %12s %10s\n", "pages", "map ns/pg", "unmap ns/pg", "raw ns/pg", "map/raw");
	for (unsigned n = 1; n <= 512; n *= 2) {
		unsigned reps = 65536 / n + 16;   /* batches timed together per run */
		double tmap[RUNS], tunmap[RUNS], traw[RUNS];
		for (int run = 0; run < RUNS; run++) {
			double map_ns = 0, unmap_ns = 0;
			for (unsigned k = 0; k < reps; k++) {
				for (int r = 0; r < SWEEP_RESV; r++) {
					memset(&mdl[r].mdl, 0, sizeof(mdl[r].mdl));
					mdl[r].mdl.MdlFlags = MDL_PAGES_LOCKED;
					mdl[r].mdl.ByteCount = n * 4096;
				}
				double t0 = now_ns();
				for (int r = 0; r < SWEEP_RESV; r++)
					if (!MmMapLockedPagesWithReservedMapping(va[r], TAG, &mdl[r].mdl, MmCached))
						return 2;
				double t1 = now_ns();
				for (int r = 0; r < SWEEP_RESV; r++)
					MmUnmapReservedMapping(va[r], TAG, &mdl[r].mdl);
				map_ns += t1 - t0;
				unmap_ns += now_ns() - t1;
			}
			double t0 = now_ns();
			for (unsigned k = 0; k < reps; k++) {
				for (int r = 0; r < SWEEP_RESV; r++)
					for (unsigned i = 0; i < n; i++)
						arch_pte_write(slots[r][i], arch_pte_leaf(tmpl, pfn_to_pa(mdl[r].pfn[i])));
				for (int r = 0; r < SWEEP_RESV; r++)
					for (unsigned i = 0; i < n; i++)
						arch_pte_write(slots[r][i], 0);
			}
			double pages = (double)reps * SWEEP_RESV * n;
			traw[run] = (now_ns() - t0) / 2 / pages;   /* store and clear: count the store half */
			tmap[run] = map_ns / pages;
			tunmap[run] = unmap_ns / pages;
		}
		double mm = median(tmap), mu = median(tunmap), mr = median(traw);
		printf("%6u %12.2f %12.2f %12.2f %9.2fx\n", n, mm, mu, mr, mm / mr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "sweep") == 0)
		return sweep();
	if (host_machine_create(64ULL << 20, 16ULL << 20))
		return 1;
	char *va = MmAllocateMappingAddressEx(512 * 4096, TAG, MM_MAPPING_ADDRESS_DIVISIBLE);   /* 2 MiB aligned */
	static volatile uint64_t *slot[512];
	if (!va || ((uintptr_t)va & (SIZE_2M - 1)))
		return 1;
	for (int i = 0; i < 512; i++)
		slot[i] = pt_pte_slot(host_machine_pt(), (vaddr_t)va + (uint64_t)i * 4096);
	/* The cost of one timer pair, subtracted from each timed call. */
	double pair[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t = 0;
		for (int k = 0; k < 100000; k++) {
			double a = now_ns();
			t += now_ns() - a;
		}
		pair[r] = t / 100000;
	}
	double timer = median(pair);
	printf("# timer pair %.1f ns, subtracted from each timed call\n", timer);
	const unsigned sizes[] = { 1, 16, 512, 512 }, nsizes = 4;
	printf("%-10s %12s %12s %12s %10s\n", "pages", "map ns/pg", "unmap ns/pg", "raw ns/pg", "map/raw");
	for (unsigned s = 0; s < nsizes; s++) {
		unsigned n = sizes[s];
		bool leaf = s == 3;
		/* frames 0x1001..: no run starts on a 2 MiB frame, so 4 KiB PTEs; 0x1000..: one aligned run */
		for (int i = 0; i < 512; i++)
			m.pfn[i] = (leaf ? 0x1000 : 0x1001) + (PFN_NUMBER)i;
		unsigned iters = 2000000 / n + 1000;
		double tmap[RUNS], tunmap[RUNS], traw[RUNS];
		for (int r = 0; r < RUNS; r++) {
			double map_ns = 0, unmap_ns = 0;
			for (unsigned it = 0; it < iters; it++) {
				MmInitializeMdl(&m.mdl, NULL, n * 4096);
				m.mdl.MdlFlags = MDL_PAGES_LOCKED;
				double t0 = now_ns();
				if (!MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached))
					return 2;
				double t1 = now_ns();
				MmUnmapReservedMapping(va, TAG, &m.mdl);
				double t2 = now_ns();
				map_ns += t1 - t0 - timer;
				unmap_ns += t2 - t1 - timer;
			}
			double t0 = now_ns();
			uint64_t tmpl = pt_leaf_attrs(host_machine_pt(), PT_PROT_W | PT_PROT_G);
			for (unsigned it = 0; it < iters; it++) {
				for (unsigned k = 0; k < n; k++)
					arch_pte_write(slot[k], arch_pte_leaf(tmpl, pfn_to_pa(m.pfn[k])));
				for (unsigned k = 0; k < n; k++)
					arch_pte_write(slot[k], 0);
			}
			/* The raw loop stores twice (map and clear); count the map half. */
			traw[r] = (now_ns() - t0) / 2 / ((double)iters * n);
			tmap[r] = map_ns / ((double)iters * n);
			tunmap[r] = unmap_ns / ((double)iters * n);
		}
		double mm = median(tmap), mu = median(tunmap), mr = median(traw);
		char name[32];
		snprintf(name, sizeof(name), "%u%s", n, n < 512 ? "" : leaf ? " 2M leaf" : " 4K PTEs");
		printf("%-10s %12.2f %12.2f %12.2f %9.2fx\n", name, mm, mu, mr, mm / mr);
	}
	/* The pair again, timed as blocks of map + unmap calls (no timer read per call). */
	double blk[2];
	for (int leaf = 0; leaf < 2; leaf++) {
		double t[RUNS];
		for (int i = 0; i < 512; i++)
			m.pfn[i] = (leaf ? 0x1000 : 0x1001) + (PFN_NUMBER)i;
		for (int r = 0; r < RUNS; r++) {
			const unsigned iters = leaf ? 200000 : 20000;
			double t0 = now_ns();
			for (unsigned it = 0; it < iters; it++) {
				MmInitializeMdl(&m.mdl, NULL, 512 * 4096);
				m.mdl.MdlFlags = MDL_PAGES_LOCKED;
				if (!MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached))
					return 2;
				MmUnmapReservedMapping(va, TAG, &m.mdl);
			}
			t[r] = (now_ns() - t0) / iters;
		}
		blk[leaf] = median(t);
	}
	printf("# 2 MiB contiguous MDL, map + unmap (blocks of calls): %.0f ns with 512 4 KiB PTEs, %.0f ns with one "
	       "2 MiB leaf: %.1fx (goal >= 20x)\n", blk[0], blk[1], blk[0] / blk[1]);
	/* The leaf's floor, in blocks too: a 1-page map + unmap (the calls' fixed cost) and one pass over
	 * the 512 frames by the map's own run test (syspte_frames_large, mm/syspte_map.c: its code, not a
	 * copy; a call into another file, so every call reads the frames again). */
	double one[RUNS], pass[RUNS];
	unsigned runs_seen = 0;
	for (int r = 0; r < RUNS; r++) {
		const unsigned iters = 200000;
		double t0 = now_ns();
		for (unsigned it = 0; it < iters; it++) {
			MmInitializeMdl(&m.mdl, NULL, 4096);
			m.mdl.MdlFlags = MDL_PAGES_LOCKED;
			if (!MmMapLockedPagesWithReservedMapping(va, TAG, &m.mdl, MmCached))
				return 2;
			MmUnmapReservedMapping(va, TAG, &m.mdl);
		}
		one[r] = (now_ns() - t0) / iters;
		t0 = now_ns();
		for (unsigned it = 0; it < iters; it++)
			runs_seen += syspte_frames_large(m.pfn);
		pass[r] = (now_ns() - t0) / iters;
	}
	if (runs_seen != RUNS * 200000u)
		return 3;   /* the frames are one aligned run: every pass must say so */
	double o = median(one), ps = median(pass);
	printf("# the leaf's floor: 1-page map + unmap %.0f ns, one pass over 512 frames %.0f ns; together %.0f ns, "
	       "%.1fx below the 512 PTEs\n", o, ps, o + ps, blk[0] / (o + ps));
	MmFreeMappingAddress(va, TAG);
	return 0;
}
