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
 * reservations grow with the region). The regions (the hosted machine's own and the others made
 * beside it with syspte_create_ex) and a bare buddy per size live at once, and the table runs in
 * rounds: each round runs every (workload, size, subject) churn once, all with the same seed, the
 * sizes in an order that rotates, each churn from its subject empty (what it left is freed after
 * it). Per size: ns per call, the minimum over the rounds (the least disturbed run of identical
 * work) and the median, the share of the region's calls of a cache's size that the per-CPU caches
 * served without the region's lock, and the ratios of 2^22 to 2^18 (of the minima and of the
 * medians): a noisy machine slows single runs, not the least disturbed of many interleaved ones.
 * "loop" is the same churn without an allocator at each size (the workload's generator and its
 * table of live reservations, which grows with the live set); "net" is 22/18 of the minima less
 * the loop's, what the allocator's and the region's own work grows by.
 * A fourth size, "2^22 u18", is a region (and buddy) of 2^22 pages given 2^18's use: the workload's
 * target occupancy a share of 2^18 pages, so its live set is 2^18's; its ratio to 2^18 ("22u/18") is
 * what the region's size alone costs, apart from the growth of what is live.
 *
 *   build/bench/bench_region [steps] [seeds]   (both tables: 2*10^6 steps x 5 seeds for the main
 *     table, and 10^6 steps x 8 rounds for the size table, unless given: then both take them,
 *     the size table seeds as its rounds)
 *   build/bench/bench_region table [steps] [seeds]   (the main table alone)
 *   build/bench/bench_region sizes [steps] [rounds]   (the size table alone: steps per churn,
 *     rounds 1..64; default 10^6 steps, 8 rounds)
 *   build/bench/bench_region ops W cache|nocache|loop [steps] [log2 pages]   (one workload W in 0..3,
 *     one seed, a region of 2^18 pages unless given (14..22): the churn alone, for callgrind: its
 *     instructions less the loop's, divided by the printed calls)
 * The fake machine's RAM (the regions' tables and metadata), the bare buddies' slots and bitmaps and
 * the workload's table of live reservations are on the host's 2 MiB pages (madvise(MADV_HUGEPAGE), a hint), as the kernel reaches its tables
 * through the direct map's large pages; FAKE_RAM_HUGE=0 in the environment keeps them on 4 KiB
 * pages. The size table's last line says how much of the process the host put on 2 MiB pages.
 * steps >= 1, seeds 1..16 and rounds 1..64, else a usage message and exit status 2. A failed
 * consistency check (syspte_check, buddy_check) prints a message and exits with status 1.
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
#include "syspte_cache.h"
#include "workload.h"
#include "vmlayout.h"
#include "bench_mem.h"

#define NPAGES_1G 262144u     /* 1 GiB of 4 KiB pages: the main table */
#define MAX_NPAGES (1u << 22) /* the largest region of the size table */
#define RAM_BYTES (256ULL << 20)
#define TAG 0x6e676552u       /* 'Regn' */
#define PROBES 1000000        /* lookups and map/unmap pairs per seed */

struct resv { char *va; uint32_t n; uint32_t s; };

static uint64_t npages = NPAGES_1G;   /* the region's pages in the current run */
static uint64_t use_npages;           /* when not 0: the workload's target is a share of this many pages, not npages */
static struct resv *live;             /* MAX_NPAGES entries */
static uint64_t nlive;
static uint64_t *meta;                /* the bare buddy's metadata, for MAX_NPAGES */
static uint64_t *slots;               /* and its slots */

/* True unless FAKE_RAM_HUGE is "0": the benchmark's memory on the host's 2 MiB pages (main sets the
 * variable, which the fake machine reads when it maps its RAM). */
static bool host_huge(void)
{
	const char *h = getenv("FAKE_RAM_HUGE");
	return !h || strcmp(h, "0") != 0;
}

/* n zeroed words (a bare buddy's, the live table), on the host's 2 MiB pages when host_huge, as the
 * regions' own tables and metadata in the fake machine's RAM (tests/bench/bench_mem.h); NULL when
 * out of memory. Released with free(). */
static uint64_t *bench_words(size_t n)
{
	return bench_zalloc(n * 8, host_huge());
}

/* The live table and the bare buddy's metadata and slots, for MAX_NPAGES; false when out of memory. */
static bool bench_tables(void)
{
	live = bench_zalloc(MAX_NPAGES * sizeof(*live), host_huge());
	meta = bench_words(buddy_meta_bytes(MAX_NPAGES) / 8 + 1);
	slots = bench_words(MAX_NPAGES);
	return live && meta && slots;
}

/* Prints how much of this process's anonymous memory the host holds on 2 MiB pages
 * (/proc/self/smaps_rollup's AnonHugePages), or that it could not tell. */
static void print_host_pages(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	if (kb < 0)
		printf("# host pages: %s asked; the host's 2 MiB pages in use unknown (no smaps_rollup)\n",
		       host_huge() ? "2 MiB" : "4 KiB");
	else
		printf("# host pages: %s asked (FAKE_RAM_HUGE=%s); %ld MiB of the process on the host's 2 MiB pages\n",
		       host_huge() ? "2 MiB" : "4 KiB", host_huge() ? "1, the default" : "0", kb / 1024);
}
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

/* Runs the workload on a region or buddy of npages; returns ns per reserve or free call. Leaves the
 * live reservations in live[]. The buddy subject uses kept (empty, of npages) when not NULL, else a
 * fresh buddy over meta and slots. */
static double churn(const struct workload *w, enum subject s, uint64_t seed, long steps, struct buddy *kept)
{
	struct buddy fresh, *b = kept ? kept : &fresh;
	uint64_t live_pages = 0, ops = 0, target = (use_npages ? use_npages : npages) * w->target_pct / 100;
	nlive = 0;
	wl_seed(&rs, seed);
	if (s != SUBJ_REGION && !kept) {
		buddy_init(&fresh, npages, 0, meta, slots, 0);
		buddy_free(&fresh, 0, npages);
	}
	double t0 = now_ns();
	for (long step = 0; step < steps; step++) {
		uint64_t x = wl_rnd(&rs);
		if (wl_want_alloc(x, nlive, live_pages, target)) {
			uint64_t n = wl_size(&rs, w->skewed, 512);
			ops++;
			if (take(s, b, n, &live[nlive])) {
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
		give(s, b, &v);
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
			t[1][sd] = churn(&wls[wi], SUBJ_BUDDY, (uint64_t)sd + 1, steps, NULL);
			t[2][sd] = churn(&wls[wi], SUBJ_LOOP, (uint64_t)sd + 1, steps, NULL);
			reserved_set_region(no_cache);
			t[7][sd] = churn(&wls[wi], SUBJ_REGION, (uint64_t)sd + 1, steps, NULL);
			for (uint64_t i = 0; i < nlive; i++)
				MmFreeMappingAddress(live[i].va, TAG);
			reserved_set_region(with_cache);
			if (syspte_check(no_cache) != 0)
				return 1;
			t[0][sd] = churn(&wls[wi], SUBJ_REGION, (uint64_t)sd + 1, steps, NULL);
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

#define NSIZES 4
#define MAX_ROUNDS 64
#define SIZE_STEPS 1000000    /* the size table's defaults: steps per churn */
#define SIZE_ROUNDS 8         /* and rounds (a multiple of NSIZES: every size in every position alike) */
#define SIZE_GAP (64ULL << 30) /* the regions' bases are SYSPTE_BASE + k * SIZE_GAP */
_Static_assert(((uint64_t)MAX_NPAGES << 12) <= SIZE_GAP, "the size table's regions do not overlap");
_Static_assert(NSIZES * SIZE_GAP <= SYSPTE_MAX_SIZE, "the size table's regions fit the region's slot");

/* One size of the size table: a region and a bare buddy of 2^shift pages, both alive for the whole
 * table, and every churn's time on them; the workload's target occupancy is a share of 2^use_shift
 * pages (use_shift = shift but for the last size: 2^22 pages used as 2^18 are). */
struct sized {
	unsigned shift, use_shift;
	struct syspte_region *r;
	struct buddy b;
	uint64_t *meta, *slots;
	double reg[NWL][MAX_ROUNDS], bud[NWL][MAX_ROUNDS], lop[NWL][MAX_ROUNDS];
	uint64_t fast[NWL], slow[NWL], live[NWL];
};

static struct sized sz[NSIZES] = {
	{ .shift = 14, .use_shift = 14 }, { .shift = 18, .use_shift = 18 }, { .shift = 22, .use_shift = 22 },
	{ .shift = 22, .use_shift = 18 },
};

/* Makes one hosted machine whose own region is the smallest size, the other sizes' regions beside
 * it at non-overlapping bases, and a bare buddy (all pages free) per size; false on failure. */
static bool sizes_up(void)
{
	if (host_machine_create(RAM_BYTES, 1ULL << (sz[0].shift + 12)))
		return false;
	sz[0].r = reserved_region();
	for (int k = 0; k < NSIZES; k++) {
		struct sized *z = &sz[k];
		uint64_t n = 1ULL << z->shift;
		if (k > 0)
			z->r = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (uint64_t)k * SIZE_GAP, n, 0);
		z->meta = bench_words(buddy_meta_bytes(n) / 8 + 1);
		z->slots = bench_words(n);
		if (!z->r || !z->meta || !z->slots)
			return false;
		buddy_init(&z->b, n, 0, z->meta, z->slots, 0);
		buddy_free(&z->b, 0, n);
	}
	return true;
}

/* Frees what sizes_up made. */
static void sizes_down(void)
{
	host_machine_destroy();
	for (int k = 0; k < NSIZES; k++) {
		free(sz[k].meta);
		free(sz[k].slots);
		sz[k].meta = sz[k].slots = NULL;
		sz[k].r = NULL;
	}
}

/* One churn of workload wi on size z's subject s (seed 1) in round k, then every reservation it left
 * freed and the subject checked empty and consistent; 0, or 1 after a message. The loop subject
 * runs the same churn without an allocator (z's buddy untouched). */
static int size_churn(struct sized *z, size_t wi, enum subject s, int k, long steps)
{
	npages = 1ULL << z->shift;
	use_npages = 1ULL << z->use_shift;
	if (s == SUBJ_LOOP) {          /* the harness alone: its live table grows as the subjects' do */
		z->lop[wi][k] = churn(&wls[wi], SUBJ_LOOP, 1, steps, &z->b);
		return 0;
	}
	if (s == SUBJ_BUDDY) {
		z->bud[wi][k] = churn(&wls[wi], SUBJ_BUDDY, 1, steps, &z->b);
		for (uint64_t i = 0; i < nlive; i++)
			buddy_free_allocated(&z->b, live[i].s, live[i].n);
		if (buddy_free_units(&z->b) == npages && buddy_check(&z->b) == 0)
			return 0;
		fprintf(stderr, "bench_region: the bare buddy of 2^%u pages is not whole after %s (round %d)\n", z->shift,
			wls[wi].name, k + 1);
		return 1;
	}
	struct syspte_stats before, after;
	reserved_set_region(z->r);
	syspte_get_stats(z->r, &before);
	z->reg[wi][k] = churn(&wls[wi], SUBJ_REGION, 1, steps, NULL);
	syspte_get_stats(z->r, &after);
	z->fast[wi] += after.cache_fast - before.cache_fast;
	z->slow[wi] += after.cache_slow - before.cache_slow;
	z->live[wi] = nlive;
	for (uint64_t i = 0; i < nlive; i++)
		MmFreeMappingAddress(live[i].va, TAG);
	syspte_get_stats(z->r, &after);
	if (after.live == 0 && syspte_check(z->r) == 0)
		return 0;
	fprintf(stderr, "bench_region: the region of 2^%u pages is not empty or fails syspte_check after %s (round %d)\n", z->shift,
		wls[wi].name, k + 1);
	return 1;
}

/* The minimum of v[0..n) in *lo and its median in *mid (the mean of the middle two of an even n). */
static void min_median(const double *v, int n, double *lo, double *mid)
{
	double t[MAX_ROUNDS];
	memcpy(t, v, (size_t)n * sizeof(double));
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	*lo = t[0];
	*mid = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Prints the size table's rows of workload wi: one per size, then the ratios 2^22 / 2^18, of the
 * whole calls and, on "net", of the calls less the loop's minimum (the harness's own growth). */
static void size_rows(size_t wi, int rounds)
{
	double rl[NSIZES], rm[NSIZES], bl[NSIZES], bm[NSIZES], ll[NSIZES], lm[NSIZES];
	for (int k = 0; k < NSIZES; k++) {
		const struct sized *z = &sz[k];
		uint64_t small = z->fast[wi] + z->slow[wi];
		min_median(z->reg[wi], rounds, &rl[k], &rm[k]);
		min_median(z->bud[wi], rounds, &bl[k], &bm[k]);
		min_median(z->lop[wi], rounds, &ll[k], &lm[k]);
		char label[16];
		snprintf(label, sizeof(label), z->use_shift == z->shift ? "2^%u" : "2^%u u%u", z->shift, z->use_shift);
		printf("%-12s %7s %10.1f %10.1f %10.1f %10.1f %8.1f", k ? "" : wls[wi].name, label, rl[k], rm[k], bl[k], bm[k],
		       ll[k]);
		if (small)
			printf(" %8.1f %%", 100.0 * (double)z->fast[wi] / (double)small);
		else
			printf(" %10s", "-");
		printf(" %8llu\n", (unsigned long long)z->live[wi]);
	}
	printf("%-12s %7s %9.2fx %9.2fx %9.2fx %9.2fx\n", "", "22/18", rl[2] / rl[1], rm[2] / rm[1], bl[2] / bl[1],
	       bm[2] / bm[1]);
	printf("%-12s %7s %9.2fx %9.2fx %9.2fx %9.2fx\n", "", "22u/18", rl[3] / rl[1], rm[3] / rm[1], bl[3] / bl[1],
	       bm[3] / bm[1]);
	printf("%-12s %7s %9.2fx %10s %9.2fx\n", "", "net", (rl[2] - ll[2]) / (rl[1] - ll[1]), "",
	       (bl[2] - ll[2]) / (bl[1] - ll[1]));
}

/*
 * The size table: reserve/free (region, bare buddy) at 2^14, 2^18 and 2^22 pages, the same workload,
 * all sizes alive in one process and interleaved: each round runs every (workload, size, subject)
 * churn once with the same seed, the sizes in an order that rotates from round to round and workload
 * to workload, the subjects' order alternating; every churn starts from its subject empty. The
 * minimum over the rounds is the least disturbed run of identical work; its ratio between sizes is
 * what the noise of a shared machine disturbs least.
 */
static int size_table(long steps, int rounds)
{
	if (!sizes_up())
		return 1;
	for (int k = 0; k < rounds; k++)
		for (size_t wi = 0; wi < NWL; wi++)
			for (int j = 0; j < NSIZES; j++) {
				struct sized *z = &sz[((size_t)k + wi + (size_t)j) % NSIZES];
				enum subject first = k % 2 ? SUBJ_BUDDY : SUBJ_REGION;
				enum subject second = k % 2 ? SUBJ_REGION : SUBJ_BUDDY;
				if (size_churn(z, wi, first, k, steps) || size_churn(z, wi, second, k, steps) ||
				    size_churn(z, wi, SUBJ_LOOP, k, steps))
					return 1;
			}
	printf("# reserve/free against the region's size: 2^14, 2^18, 2^22 pages (64 MiB, 1 GiB, 16 GiB) alive at once,\n"
	       "# the same workload (so the live reservations grow with the region), and \"2^22 u18\": a fourth\n"
	       "# region and buddy of 2^22 pages with 2^18's use (the target occupancy a share of 2^18 pages, so the\n"
	       "# live set is 2^18's; 22u/18: what the region's size alone costs); %d rounds x %ld steps, each\n"
	       "# round every workload, size and subject once with the same seed, the sizes' order rotating; ns per\n"
	       "# call, min and median of the rounds; \"cached\": the region's calls of <= %u pages the per-CPU caches\n"
	       "# served without the region's lock; \"live\": reservations left by a churn; 22/18: 2^22 / 2^18;\n"
	       "# \"loop\": the churn without an allocator (the workload's own work, its table of live reservations\n"
	       "# growing as the subjects' do), min of the rounds; \"net\": 22/18 of the minima less the loop's\n",
	       rounds, steps, SYSPTE_CACHE_MAX_PAGES);
	printf("%-12s %7s %10s %10s %10s %10s %8s %10s %8s\n", "workload", "pages", "region min", "median", "buddy min", "median",
	       "loop", "cached", "live");
	for (size_t wi = 0; wi < NWL; wi++)
		size_rows(wi, rounds);
	use_npages = 0;
	printf("# page tables made:");
	for (int k = 0; k < NSIZES; k++) {
		struct syspte_stats st;
		syspte_get_stats(sz[k].r, &st);
		printf(" %llu at 2^%u", (unsigned long long)st.table_pages, sz[k].shift);
		if (sz[k].use_shift != sz[k].shift)
			printf(" u%u", sz[k].use_shift);
		printf("%s", k + 1 < NSIZES ? "," : "\n");
	}
	print_host_pages();
	fflush(stdout);
	sizes_down();
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
	churn(&wls[wi], loop ? SUBJ_LOOP : SUBJ_REGION, 1, steps, NULL);
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
	fprintf(stderr, "usage: bench_region [steps >= 1] [seeds 1..16]   (both tables; the size table runs seeds rounds)\n"
			"       bench_region table [steps >= 1] [seeds 1..16]\n"
			"       bench_region sizes [steps >= 1] [rounds 1..%d]   (steps per churn; defaults %d and %d)\n"
			"       bench_region ops 0..3 cache|nocache|loop [steps >= 1] [log2 pages 14..22]\n",
		MAX_ROUNDS, SIZE_STEPS, SIZE_ROUNDS);
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
	setenv("FAKE_RAM_HUGE", "1", 0);   /* the default, before the fake machine maps its RAM */
	if (argc > 1 && strcmp(argv[1], "ops") == 0) {
		long wi = argc > 3 ? parse_count(argv[2], 0, (long)NWL - 1) : -1;
		long n = argc > 4 ? parse_count(argv[4], 1, 1000000000000L) : 200000;
		long shift = argc > 5 ? parse_count(argv[5], 14, 22) : 18;
		if (wi < 0 || n < 1 || shift < 0 || argc > 6)
			return usage();
		if (!bench_tables())   /* the loop subject sets up a buddy too */
			return 1;
		int st = ops_mode((size_t)wi, argv[3], n, (unsigned)shift);
		return st == 2 ? usage() : st;
	}
	if (argc > 1 && strcmp(argv[1], "sizes") == 0)
		table = false, a = 2;
	else if (argc > 1 && strcmp(argv[1], "table") == 0)
		sizes = false, a = 2;
	/* With no count given, each table has its own defaults; counts given apply to both. */
	long steps = argc > a ? parse_count(argv[a], 1, 1000000000000L) : 2000000;
	long size_steps = argc > a ? steps : SIZE_STEPS;
	long nseeds = argc > a + 1 ? parse_count(argv[a + 1], 1, table ? 16 : MAX_ROUNDS) : 5;
	long rounds = argc > a + 1 ? nseeds : SIZE_ROUNDS;
	if (steps < 1 || nseeds < 1 || argc > a + 2)
		return usage();
	if (!bench_tables())
		return 1;
	if (table && main_table(steps, (int)nseeds))
		return 1;
	return sizes ? size_table(size_steps, (int)rounds) : 0;
}
