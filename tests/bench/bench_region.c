/*
 * Benchmark (not a test) of the system PTE region's own work on top of its allocator: the standard
 * workload (include/workload.h, uniform 1..512 pages and log-skewed, 50 % and 75 % of a 1 GiB
 * region) through MmAllocateMappingAddress / MmFreeMappingAddress on the hosted machine ("region":
 * argument rules, the lock, a record, the index, the allocator), beside the same loop on a bare
 * buddy over the same pages ("buddy"), in the same process. Then, on the live reservations the
 * workload leaves, three calls that find a reservation from an address: a 1-page map and unmap at
 * a random page of a random reservation ("map+unmap", through the WDK calls), and syspte_lookup of
 * such a page ("lookup"). ns per call, median of the seeds; "loop" is the loop alone. Last, a walk
 * of every live reservation (syspte_tag_totals, what accounting and the summary screen do), in
 * microseconds.
 *
 * Then the cost against the region's size: the same reserve/free loop (region and bare buddy) at
 * 2^14, 2^18 and 2^22 pages (64 MiB, 1 GiB, 16 GiB), the workload unchanged (so the live
 * reservations grow with the region), and the ratio of the largest to the middle size.
 *
 *   build/bench/bench_region [steps] [seeds]   (default 2*10^6 steps, 5 seeds; both tables)
 *   build/bench/bench_region table [steps] [seeds]   (the main table alone)
 *   build/bench/bench_region sizes [steps] [seeds]   (the size table alone)
 * steps >= 1 and seeds 1..16, else a usage message and exit status 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wdm.h"
#include "host_machine.h"
#include "syspte.h"
#include "reserved.h"
#include "buddy_impl.h"
#include "workload.h"

#define NPAGES_1G 262144u     /* 1 GiB of 4 KiB pages: the main table */
#define MAX_NPAGES (1u << 22) /* the largest region of the size table */
#define RAM_BYTES (256ULL << 20)
#define TAG 0x6e676552u       /* 'Regn' */
#define PROBES 1000000        /* lookups and map/unmap pairs per seed */

struct resv { char *va; uint32_t n; uint32_t s; };

static uint64_t npages = NPAGES_1G;   /* the region's pages in the current run */
static struct resv *live;             /* MAX_NPAGES entries */
static uint64_t nlive;
static uint64_t *meta;                /* the bare buddy's metadata, for MAX_NPAGES */
static uint64_t *slots;               /* and its slots */
static struct wl_rng rs;

struct workload {
	const char *name;
	int skewed, target_pct;
};

enum subject { SUBJ_REGION, SUBJ_BUDDY, SUBJ_LOOP };

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One reservation of n pages for the subject; false when refused. */
static bool take(enum subject s, struct buddy *b, uint64_t n, struct resv *out)
{
	uint64_t start = 0;
	out->n = (uint32_t)n;
	if (s == SUBJ_REGION) {
		out->va = MmAllocateMappingAddress(n << 12, TAG);
		return out->va != NULL;
	}
	if (s == SUBJ_BUDDY && !buddy_alloc(b, n, 1, 0, npages, &start))
		return false;
	out->s = (uint32_t)start;
	return true;
}

static void give(enum subject s, struct buddy *b, const struct resv *v)
{
	if (s == SUBJ_REGION)
		MmFreeMappingAddress(v->va, TAG);
	else if (s == SUBJ_BUDDY)
		buddy_free_allocated(b, v->s, v->n);
}

/* Runs the workload; returns ns per reserve or free call. Leaves the live reservations in live[]. */
static double churn(const struct workload *w, enum subject s, uint64_t seed, long steps)
{
	struct buddy b;
	uint64_t live_pages = 0, ops = 0, target = npages * w->target_pct / 100;
	nlive = 0;
	wl_seed(&rs, seed);
	if (s != SUBJ_REGION) {
		buddy_init(&b, npages, 0, meta, slots, 0);
		buddy_free(&b, 0, npages);
	}
	double t0 = now_ns();
	for (long step = 0; step < steps; step++) {
		uint64_t x = wl_rnd(&rs);
		if (wl_want_alloc(x, nlive, live_pages, target)) {
			uint64_t n = wl_size(&rs, w->skewed, 512);
			ops++;
			if (take(s, &b, n, &live[nlive])) {
				live_pages += n;
				nlive++;
				continue;
			}
			if (nlive == 0)
				continue;
		}
		uint64_t i = wl_pick(&rs, nlive);
		struct resv v = live[i];
		live[i] = live[--nlive];
		give(s, &b, &v);
		live_pages -= v.n;
		ops++;
	}
	return (now_ns() - t0) / (double)ops;
}

static struct { MDL mdl; PFN_NUMBER pfn[1]; } one;

/* Maps and unmaps one page at a random page of a random live reservation, PROBES times. */
static double map_unmap(enum subject s)
{
	uint64_t sum = 0;
	double t0 = now_ns();
	for (int k = 0; k < PROBES; k++) {
		const struct resv *v = &live[wl_pick(&rs, nlive)];
		char *va = v->va + (wl_pick(&rs, v->n) << 12);
		if (s == SUBJ_LOOP) {
			sum += (uint64_t)va;
			continue;
		}
		MmInitializeMdl(&one.mdl, NULL, 4096);
		one.mdl.MdlFlags = MDL_PAGES_LOCKED;
		one.pfn[0] = 0x1000;
		if (!MmMapLockedPagesWithReservedMapping(va, TAG, &one.mdl, MmCached))
			abort();
		MmUnmapReservedMapping(va, TAG, &one.mdl);
	}
	if (sum == 1)
		printf(" ");
	return (now_ns() - t0) / PROBES;
}

/* syspte_lookup of a random page of a random live reservation, PROBES times. */
static double lookups(enum subject s)
{
	uint64_t sum = 0;
	double t0 = now_ns();
	for (int k = 0; k < PROBES; k++) {
		const struct resv *v = &live[wl_pick(&rs, nlive)];
		vaddr_t va = (vaddr_t)v->va + (wl_pick(&rs, v->n) << 12);
		struct syspte_info info;
		if (s == SUBJ_LOOP)
			sum += va;
		else if (!syspte_lookup(reserved_region(), va, &info))
			abort();
		else
			sum += info.base;
	}
	if (sum == 1)
		printf(" ");
	return (now_ns() - t0) / PROBES;
}

#define WALKS 200

/* syspte_tag_totals over the live reservations, WALKS times; microseconds per walk. */
static double walks(void)
{
	struct syspte_tag_total tags[16];
	uint64_t sum = 0;
	double t0 = now_ns();
	for (int k = 0; k < WALKS; k++)
		sum += syspte_tag_totals(reserved_region(), tags, 16);
	if (sum == 1)
		printf(" ");
	return (now_ns() - t0) / WALKS / 1000;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static const struct workload wls[] = {
	{ "uniform/50%", 0, 50 }, { "uniform/75%", 0, 75 }, { "skewed/50%", 1, 50 }, { "skewed/75%", 1, 75 },
};
#define NWL (sizeof(wls) / sizeof(wls[0]))

/* The main table: a 1 GiB region, every column. */
static int main_table(long steps, int nseeds)
{
	npages = NPAGES_1G;
	if (host_machine_create(RAM_BYTES, npages << 12))
		return 1;
	printf("# 1 GiB region, %ld steps x %d seeds; ns per call, median of the seeds\n", steps, nseeds);
	printf("%-12s %10s %10s %10s %8s %12s %10s %10s %8s %9s\n", "workload", "region", "buddy", "loop", "reg/bud",
	       "map+unmap", "lookup", "loop", "live", "walk us");
	for (size_t wi = 0; wi < NWL; wi++) {
		double t[7][16];
		uint64_t live_sum = 0;
		for (int sd = 0; sd < nseeds; sd++) {
			t[1][sd] = churn(&wls[wi], SUBJ_BUDDY, (uint64_t)sd + 1, steps);
			t[2][sd] = churn(&wls[wi], SUBJ_LOOP, (uint64_t)sd + 1, steps);
			t[0][sd] = churn(&wls[wi], SUBJ_REGION, (uint64_t)sd + 1, steps);
			live_sum += nlive;
			t[3][sd] = map_unmap(SUBJ_REGION);
			t[4][sd] = lookups(SUBJ_REGION);
			t[5][sd] = lookups(SUBJ_LOOP);
			t[6][sd] = walks();
			for (uint64_t i = 0; i < nlive; i++)
				MmFreeMappingAddress(live[i].va, TAG);
			if (syspte_check(reserved_region()) != 0)
				return 1;
		}
		for (int c = 0; c < 7; c++)
			qsort(t[c], (size_t)nseeds, sizeof(double), cmp_double);
		int m = nseeds / 2;
		printf("%-12s %10.1f %10.1f %10.1f %7.2fx %12.1f %10.1f %10.1f %8llu %9.1f\n", wls[wi].name, t[0][m],
		       t[1][m], t[2][m], t[0][m] / t[1][m], t[3][m], t[4][m], t[5][m], (unsigned long long)(live_sum / nseeds),
		       t[6][m]);
		fflush(stdout);
	}
	host_machine_destroy();
	return 0;
}

/* The size table: reserve/free (region, bare buddy) at 2^14, 2^18 and 2^22 pages, the same workload. */
static int size_table(long steps, int nseeds)
{
	static const unsigned shifts[] = { 14, 18, 22 };
	double reg[3][NWL], bud[3][NWL];
	uint64_t tables[3][NWL];
	printf("# reserve/free against the region's size (ns per call, median of %d seeds x %ld steps; the same\n"
	       "# workload, so the live reservations grow with the region); last columns: 2^22 / 2^18\n", nseeds, steps);
	printf("%-12s", "workload");
	for (int z = 0; z < 3; z++)
		printf("  region 2^%-2u  buddy 2^%-2u", shifts[z], shifts[z]);
	printf("  %9s %9s %12s\n", "region x", "buddy x", "tables 2^22");
	for (int z = 0; z < 3; z++) {
		npages = 1ULL << shifts[z];
		if (host_machine_create(RAM_BYTES, npages << 12))
			return 1;
		for (size_t wi = 0; wi < NWL; wi++) {
			double tr[16], tb[16];
			for (int sd = 0; sd < nseeds; sd++) {
				tb[sd] = churn(&wls[wi], SUBJ_BUDDY, (uint64_t)sd + 1, steps);
				tr[sd] = churn(&wls[wi], SUBJ_REGION, (uint64_t)sd + 1, steps);
				for (uint64_t i = 0; i < nlive; i++)
					MmFreeMappingAddress(live[i].va, TAG);
			}
			if (syspte_check(reserved_region()) != 0)
				return 1;
			struct syspte_stats st;
			syspte_get_stats(reserved_region(), &st);
			tables[z][wi] = st.table_pages;
			qsort(tr, (size_t)nseeds, sizeof(double), cmp_double);
			qsort(tb, (size_t)nseeds, sizeof(double), cmp_double);
			reg[z][wi] = tr[nseeds / 2];
			bud[z][wi] = tb[nseeds / 2];
		}
		host_machine_destroy();
	}
	for (size_t wi = 0; wi < NWL; wi++) {
		printf("%-12s", wls[wi].name);
		for (int z = 0; z < 3; z++)
			printf("  %11.1f  %10.1f", reg[z][wi], bud[z][wi]);
		printf("  %8.2fx %8.2fx %12llu\n", reg[2][wi] / reg[1][wi], bud[2][wi] / bud[1][wi],
		       (unsigned long long)tables[2][wi]);
	}
	fflush(stdout);
	return 0;
}

/* Prints how to run the benchmark; returns the exit status for bad arguments. */
static int usage(void)
{
	fprintf(stderr, "usage: bench_region [table|sizes] [steps >= 1] [seeds 1..16]\n");
	return 2;
}

/* A whole decimal number in [lo, hi] from arg, or -1. */
static long parse_count(const char *arg, long lo, long hi)
{
	char *end;
	long v = strtol(arg, &end, 10);
	return end != arg && *end == 0 && v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv)
{
	bool sizes = true, table = true;
	int a = 1;
	if (argc > 1 && strcmp(argv[1], "sizes") == 0)
		table = false, a = 2;
	else if (argc > 1 && strcmp(argv[1], "table") == 0)
		sizes = false, a = 2;
	long steps = argc > a ? parse_count(argv[a], 1, 1000000000000L) : 2000000;
	long nseeds = argc > a + 1 ? parse_count(argv[a + 1], 1, 16) : 5;
	if (steps < 1 || nseeds < 1 || argc > a + 2)
		return usage();
	live = calloc(MAX_NPAGES, sizeof(*live));
	meta = calloc(buddy_meta_bytes(MAX_NPAGES) / 8 + 1, 8);
	slots = calloc(MAX_NPAGES, 8);
	if (!live || !meta || !slots)
		return 1;
	if (table && main_table(steps, (int)nseeds))
		return 1;
	return sizes ? size_table(steps, (int)nseeds) : 0;
}
