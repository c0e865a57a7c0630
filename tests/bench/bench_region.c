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
 * "no cache" is the region's column again on a second region of the same size created with
 * SYSPTE_CREATE_NO_CACHE (every call takes the region's lock and its allocator; the WDK calls are
 * pointed at it with reserved_set_region), and "cache x" the ratio of the two: what the per-CPU
 * caches (mm/syspte_cache.c) save or cost on one CPU.
 *
 * Then the cost against the region's size: the same reserve/free loop (region and bare buddy) at
 * 2^14, 2^18 and 2^22 pages (64 MiB, 1 GiB, 16 GiB), the workload unchanged (so the live
 * reservations grow with the region), and the ratio of the largest to the middle size.
 *
 *   build/bench/bench_region [steps] [seeds]   (default 2*10^6 steps, 5 seeds; both tables)
 *   build/bench/bench_region table [steps] [seeds]   (the main table alone)
 *   build/bench/bench_region sizes [steps] [seeds]   (the size table alone)
 *   build/bench/bench_region ops W cache|nocache|loop [steps] [log2 pages]   (one workload W in 0..3,
 *     one seed, a region of 2^18 pages unless given (14..22): the churn alone, for callgrind: its
 *     instructions less the loop's, divided by the printed calls)
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
#include "vmlayout.h"

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
static uint64_t churn_ops;            /* reserve and free calls of the last churn */

struct workload {
	const char *name;
	int skewed, target_pct;
};

enum subject { SUBJ_REGION, SUBJ_BUDDY, SUBJ_LOOP };

static struct syspte_region *with_cache, *no_cache;   /* the hosted machine's region, and its twin */

/* Makes the hosted machine with a region of npages, and the twin without caches; false on failure. */
static bool machine_up(void)
{
	if (host_machine_create(RAM_BYTES, npages << 12))
		return false;
	with_cache = reserved_region();
	no_cache = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (64ULL << 30), npages, SYSPTE_CREATE_NO_CACHE);
	return no_cache != NULL;
}

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
	churn_ops = ops;
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
	if (!machine_up())
		return 1;
	printf("# 1 GiB region, %ld steps x %d seeds; ns per call, median of the seeds\n", steps, nseeds);
	printf("%-12s %10s %10s %10s %8s %12s %10s %10s %8s %9s %9s %8s\n", "workload", "region", "buddy", "loop", "reg/bud",
	       "map+unmap", "lookup", "loop", "live", "walk us", "no cache", "cache x");
	for (size_t wi = 0; wi < NWL; wi++) {
		double t[8][16];
		uint64_t live_sum = 0;
		for (int sd = 0; sd < nseeds; sd++) {
			t[1][sd] = churn(&wls[wi], SUBJ_BUDDY, (uint64_t)sd + 1, steps);
			t[2][sd] = churn(&wls[wi], SUBJ_LOOP, (uint64_t)sd + 1, steps);
			reserved_set_region(no_cache);
			t[7][sd] = churn(&wls[wi], SUBJ_REGION, (uint64_t)sd + 1, steps);
			for (uint64_t i = 0; i < nlive; i++)
				MmFreeMappingAddress(live[i].va, TAG);
			reserved_set_region(with_cache);
			if (syspte_check(no_cache) != 0)
				return 1;
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
		for (int c = 0; c < 8; c++)
			qsort(t[c], (size_t)nseeds, sizeof(double), cmp_double);
		int m = nseeds / 2;
		printf("%-12s %10.1f %10.1f %10.1f %7.2fx %12.1f %10.1f %10.1f %8llu %9.1f %9.1f %7.2fx\n", wls[wi].name,
		       t[0][m], t[1][m], t[2][m], t[0][m] / t[1][m], t[3][m], t[4][m], t[5][m],
		       (unsigned long long)(live_sum / nseeds), t[6][m], t[7][m], t[0][m] / t[7][m]);
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

/* The ops mode: workload wi's churn alone on one subject (one seed), for an instruction count. */
static int ops_mode(size_t wi, const char *subject, long steps, unsigned shift)
{
	npages = 1ULL << shift;
	if (!machine_up())
		return 1;
	bool loop = strcmp(subject, "loop") == 0;
	if (strcmp(subject, "nocache") == 0)
		reserved_set_region(no_cache);
	else if (!loop && strcmp(subject, "cache") != 0)
		return 2;
	churn(&wls[wi], loop ? SUBJ_LOOP : SUBJ_REGION, 1, steps);
	uint64_t calls = churn_ops, small = 0, small_pages = 0;
	for (uint64_t i = 0; i < nlive; i++)
		if (live[i].n <= 16)
			small++, small_pages += live[i].n + 1;
	struct syspte_stats st;
	syspte_get_stats(reserved_region(), &st);
	printf("%s %s: %llu calls, %llu live (%llu of <= 16 pages, %llu pages with guards); caches: %llu free pages held, %llu calls without the region's lock, %llu with it, "
	       "%llu drains\n", wls[wi].name, subject, (unsigned long long)calls, (unsigned long long)nlive,
	       (unsigned long long)small, (unsigned long long)small_pages, (unsigned long long)st.cached_pages,
	       (unsigned long long)st.cache_fast, (unsigned long long)st.cache_slow, (unsigned long long)st.cache_drains);
	return 0;
}

/* Prints how to run the benchmark; returns the exit status for bad arguments. */
static int usage(void)
{
	fprintf(stderr, "usage: bench_region [table|sizes] [steps >= 1] [seeds 1..16]\n"
			"       bench_region ops 0..3 cache|nocache|loop [steps >= 1] [log2 pages 14..22]\n");
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
	if (argc > 1 && strcmp(argv[1], "ops") == 0) {
		long wi = argc > 3 ? parse_count(argv[2], 0, (long)NWL - 1) : -1;
		long n = argc > 4 ? parse_count(argv[4], 1, 1000000000000L) : 200000;
		long shift = argc > 5 ? parse_count(argv[5], 14, 22) : 18;
		if (wi < 0 || n < 1 || shift < 0 || argc > 6)
			return usage();
		live = calloc(MAX_NPAGES, sizeof(*live));
		meta = calloc(buddy_meta_bytes(MAX_NPAGES) / 8 + 1, 8);   /* the loop subject sets up a buddy too */
		slots = calloc(MAX_NPAGES, 8);
		if (!live || !meta || !slots)
			return 1;
		int st = ops_mode((size_t)wi, argv[3], n, (unsigned)shift);
		return st == 2 ? usage() : st;
	}
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
