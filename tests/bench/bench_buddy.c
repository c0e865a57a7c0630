/*
 * Benchmark of mm/buddy.c (host, not a test). The standard workload: a 1 GiB region of 4 KiB pages
 * (262144 units), 10^7 steps; each step allocates with probability 0.7 while the live pages are
 * below the target occupancy (0.3 above it), else frees a uniformly chosen live reservation. A
 * failed allocation counts and is followed by a free. Sizes uniform in 1..512 pages, or log-skewed
 * (k uniform in 0..9, size 1 + random mod 2^k); targets 50 % and 75 %; each also with 10 % of the
 * requests DIVISIBLE (divisor = size). Per workload: median ns/op over 5 seeds (an op is one
 * buddy_alloc or buddy_free call; the loop's PRNG and bookkeeping are included), allocation
 * failures in %, mean occupancy reached, and metadata bytes per region page and per live
 * reservation. The same workloads run with two baselines built on the same buddy: every request
 * rounded up to a power of two and naturally aligned, as a binary buddy places it ("pow2"), and
 * that block allocated with its tail given back at once ("tail"); the alignment is an explicit
 * divisor, since buddy_alloc only prefers it; "loop" runs the benchmark loop alone (no allocator call), the part of
 * every ns/op figure that is not the allocator. Frees go through buddy_free_allocated, as the
 * system PTE region's do; "checked" is the buddy policy with every free through buddy_free, which
 * first proves the range allocated (the physical allocator's free). The allocator's slots (mm/buddy.h) are an array
 * standing in for the region's 512 page-table pages: a real region has those PTEs anyway, so they
 * are not metadata.
 *
 * Build and run:
 *   gcc -O2 -Iinclude -Imm tests/bench/bench_buddy.c mm/buddy.c tests/host/host_support.c \
 *       mm/bugcheck.c -o build/bench_buddy && build/bench_buddy [steps] [seeds] [workload prefix] [policy]
 *   build/bench/bench_buddy sweep [steps] [seeds]   (occupancy 50..95 %, the plot of make plots)
 *   build/bench/bench_buddy ops W steps [log2 pages] [huge]   (one churn for cachegrind: workload W in
 *     0..3 as in the table, one seed, from empty, on a bare buddy of 2^14..2^22 units (2^18 unless
 *     given) over slots on the host's 4 KiB pages, or on its 2 MiB pages with "huge"; the loop of
 *     bench_region's size table, reservations and all. It prints the calls, so that the misses of
 *     two runs of N and 2N steps, subtracted, divided by the calls between them, are those of one
 *     call in the steady state: README, "Reserve/free against the region's size")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "buddy_impl.h"
#include "workload.h"
#include "bench_mem.h"

#define NPAGES 262144u

/* ------------------------------------------------------------------ PRNG: xorshift64* (workload.h) */

static struct wl_rng rs;

static inline uint64_t rnd(void)
{
	return wl_rnd(&rs);
}

/* ------------------------------------------------------------------ allocators under test */

enum policy { POL_BUDDY, POL_POW2, POL_TAIL, POL_LOOP, POL_CHECKED, POL_N };
static const char *const pol_name[POL_N] = { "buddy", "pow2", "tail", "loop", "checked" };

/* Smallest power of two >= n. */
static inline uint64_t pow2_up(uint64_t n)
{
	return n <= 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(n - 1));
}

/* Allocates n units under policy pol; returns false on failure. */
static inline bool pol_alloc(struct buddy *b, enum policy pol, uint64_t n, uint64_t div, uint64_t *s)
{
	uint64_t r;
	switch (pol) {
	case POL_BUDDY:
	case POL_CHECKED:
		return buddy_alloc(b, n, div, 0, NPAGES, s);
	case POL_POW2:   /* a binary buddy: the block naturally aligned (explicitly: origin 0) */
		return buddy_alloc(b, pow2_up(n), div > 1 ? div : pow2_up(n), 0, NPAGES, s);
	case POL_LOOP:   /* the benchmark loop alone: no allocator call */
		*s = 0;
		return true;
	default:
		r = pow2_up(n);
		if (!buddy_alloc(b, r, div > 1 ? div : r, 0, NPAGES, s))
			return false;
		if (r > n)
			buddy_free_allocated(b, *s + n, r - n);
		return true;
	}
}

/* Frees what pol_alloc(n) returned at s. */
static inline void pol_free(struct buddy *b, enum policy pol, uint64_t s, uint64_t n)
{
	if (pol == POL_CHECKED) {
		if (!buddy_free(b, s, n))
			abort();
	} else if (pol != POL_LOOP) {
		buddy_free_allocated(b, s, pol == POL_POW2 ? pow2_up(n) : n);
	}
}

/* ------------------------------------------------------------------ workload */

struct workload {
	const char *name;
	int skewed;      /* log-skewed sizes, else uniform 1..512 */
	int target_pct;  /* occupancy target */
	int div_pct;     /* % of requests with divisor = size */
};

struct result {
	double ns_per_op;
	uint64_t allocs, fails;
	double occupancy;   /* mean live pages / NPAGES, sampled */
	double live_resv;   /* mean live reservations, sampled */
};

struct resv { uint32_t s, n; };

static uint64_t meta[(NPAGES / 2) / 8 + 1024];
static struct resv live[NPAGES];
/* The units' slots: stand-ins for the region's 512 page-table pages (not-present PTEs are the
 * allocator's to use; they are not metadata, a real region has them anyway). */
static uint64_t ptes[NPAGES];


/* Runs steps steps of workload w under policy pol with the given seed. */
static struct result run(const struct workload *w, enum policy pol, uint64_t seed, long steps)
{
	struct buddy b;
	struct result r = { 0 };
	uint64_t nlive = 0, live_pages = 0, ops = 0, target = (uint64_t)NPAGES * w->target_pct / 100;
	double occ_sum = 0, resv_sum = 0;
	long samples = 0;
	struct timespec t0, t1;

	wl_seed(&rs, seed);
	buddy_init(&b, NPAGES, 0, meta, ptes, 0);
	if (!buddy_free(&b, 0, NPAGES))
		abort();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long step = 0; step < steps; step++) {
		uint64_t x = rnd();
		if (wl_want_alloc(x, nlive, live_pages, target)) {
			uint64_t n = wl_size(&rs, w->skewed, 512), s;
			uint64_t div = w->div_pct && (x >> 32) % 100 < (uint64_t)w->div_pct ? n : 1;
			r.allocs++;
			ops++;
			if (pol_alloc(&b, pol, n, div, &s)) {
				live[nlive].s = (uint32_t)s;
				live[nlive].n = (uint32_t)n;
				nlive++;
				live_pages += n;
				goto sample;
			}
			r.fails++;
			if (nlive == 0)
				goto sample;
		}
		{
			uint64_t i = wl_pick(&rs, nlive);
			struct resv v = live[i];
			live[i] = live[--nlive];
			pol_free(&b, pol, v.s, v.n);
			live_pages -= v.n;
			ops++;
		}
sample:
		if ((step & 1023) == 0 && step >= steps / 10) {
			occ_sum += (double)live_pages / NPAGES;
			resv_sum += (double)nlive;
			samples++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r.ns_per_op = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)ops;
	r.occupancy = samples ? occ_sum / samples : 0;
	r.live_resv = samples ? resv_sum / samples : 0;
	if (buddy_check(&b) != 0) {
		printf("buddy_check failed after %s/%s\n", w->name, pol_name[pol]);
		exit(1);
	}
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median ns/op, failure % and mean occupancy of workload w under pol over nseeds seeds. */
static void measure(const struct workload *w, enum policy pol, long steps, int nseeds, double *ns_med, double *fail_pct,
		    double *occ)
{
	double ns[16], o = 0;
	uint64_t allocs = 0, fails = 0;
	for (int sd = 0; sd < nseeds && sd < 16; sd++) {
		struct result r = run(w, pol, (uint64_t)sd + 1, steps);
		ns[sd] = r.ns_per_op;
		allocs += r.allocs;
		fails += r.fails;
		o += r.occupancy;
	}
	qsort(ns, (size_t)nseeds, sizeof(double), cmp_double);
	*ns_med = ns[nseeds / 2];
	*fail_pct = 100.0 * (double)fails / (double)allocs;
	*occ = 100.0 * o / nseeds;
}

/* "sweep": uniform sizes at target occupancies 50..95 %, one row per target, every policy in the
 * same process (the occupancy plot of make plots). */
static int sweep(long steps, int nseeds)
{
	printf("# uniform 1..512 pages, %ld steps x %d seeds per point; ns/op median, fail %%, mean occupancy %%\n",
	       steps, nseeds);
	printf("%-6s", "target");
	for (int pol = 0; pol < POL_N; pol++)
		printf(" %9s %9s %9s", pol_name[pol], "fail%", "occ%");
	printf("\n");
	for (int t = 50; t <= 95; t += 5) {
		struct workload w = { "uniform", 0, t, 0 };
		printf("%-6d", t);
		for (int pol = 0; pol < POL_N; pol++) {
			double ns, fail, occ;
			measure(&w, (enum policy)pol, steps, nseeds, &ns, &fail, &occ);
			printf(" %9.1f %9.2f %9.1f", ns, fail, occ);
		}
		printf("\n");
		fflush(stdout);
	}
	return 0;
}

/* "ops": one churn of workload w (0..3) on a bare buddy of 2^shift units, as bench_region's size
 * table runs it (buddy_alloc, buddy_free_allocated, 16-byte reservation records; its slots on
 * 4 KiB pages, or on 2 MiB pages with huge, bench_region's default); prints the calls and ns per call; 1 on a failed check. */
static int ops(int w, long steps, unsigned shift, bool huge)
{
	static const struct { int skewed, target_pct; } wl[4] = { { 0, 50 }, { 0, 75 }, { 1, 50 }, { 1, 75 } };
	struct ops_resv { void *va; uint32_t n, s; };
	uint64_t npages = (uint64_t)1 << shift, nlive = 0, live_pages = 0, calls = 0;
	uint64_t target = npages * (uint64_t)wl[w].target_pct / 100;
	uint64_t *m = bench_zalloc(buddy_meta_bytes(npages), false), *slots = bench_zalloc(npages * 8, huge);
	struct ops_resv *lv = calloc(npages, sizeof(*lv));
	struct buddy b;
	struct timespec t0, t1;

	if (!m || !slots || !lv)
		return 1;
	buddy_init(&b, npages, 0, m, slots, 0);
	if (!buddy_free(&b, 0, npages))
		abort();
	wl_seed(&rs, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long step = 0; step < steps; step++) {
		uint64_t x = rnd(), s;
		if (wl_want_alloc(x, nlive, live_pages, target)) {
			uint64_t n = wl_size(&rs, wl[w].skewed, 512);
			calls++;
			if (buddy_alloc(&b, n, 1, 0, npages, &s)) {
				lv[nlive++] = (struct ops_resv){ NULL, (uint32_t)n, (uint32_t)s };
				live_pages += n;
				continue;
			}
			if (nlive == 0)
				continue;
		}
		uint64_t i = wl_pick(&rs, nlive);
		struct ops_resv v = lv[i];
		lv[i] = lv[--nlive];
		buddy_free_allocated(&b, v.s, v.n);
		live_pages -= v.n;
		calls++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	if (buddy_check(&b) != 0)
		return 1;
	printf("ops: workload %d, 2^%u units%s, %llu live: %llu calls, %.1f ns per call\n", w, shift,
	       huge ? " (slots on 2 MiB pages)" : "", (unsigned long long)nlive, (unsigned long long)calls,
	       ns / (double)calls);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "sweep") == 0)
		return sweep(argc > 2 ? atol(argv[2]) : 2000000, argc > 3 ? atoi(argv[3]) : 3);
	if (argc > 1 && strcmp(argv[1], "ops") == 0) {
		int w = argc > 2 ? atoi(argv[2]) : -1;
		long steps = argc > 3 ? atol(argv[3]) : 0;
		int shift = argc > 4 ? atoi(argv[4]) : 18;
		bool huge = argc > 5 && strcmp(argv[5], "huge") == 0;
		if (w < 0 || w > 3 || steps < 1 || shift < 14 || shift > 22 || (argc > 5 && !huge) || argc > 6) {
			fprintf(stderr, "usage: bench_buddy ops W(0..3) steps(>=1) [log2 pages 14..22] [huge]\n");
			return 2;
		}
		return ops(w, steps, (unsigned)shift, huge);
	}
	long steps = argc > 1 ? atol(argv[1]) : 10000000;
	int nseeds = argc > 2 ? atoi(argv[2]) : 5;
	const char *only = argc > 3 ? argv[3] : NULL;   /* run only the workloads with this prefix */
	const char *only_pol = argc > 4 ? argv[4] : NULL;   /* and only this policy */
	static const struct workload wls[] = {
		{ "uniform/50%", 0, 50, 0 },      { "uniform/75%", 0, 75, 0 },
		{ "skewed/50%", 1, 50, 0 },       { "skewed/75%", 1, 75, 0 },
		{ "uniform/50%/div10", 0, 50, 10 }, { "uniform/75%/div10", 0, 75, 10 },
		{ "skewed/50%/div10", 1, 50, 10 },  { "skewed/75%/div10", 1, 75, 10 },
	};
	size_t mb = buddy_meta_bytes(NPAGES);

	if (nseeds < 1 || nseeds > 16)
		nseeds = 5;
	if (mb > sizeof(meta)) {
		printf("metadata %zu > %zu\n", mb, sizeof(meta));
		return 1;
	}
	printf("region %u pages, %ld steps x %d seeds, metadata %zu bytes = %.4f B/page\n", NPAGES, steps,
	       nseeds, mb, (double)mb / NPAGES);
	printf("%-18s %-7s %9s %8s %7s %9s %10s\n", "workload", "policy", "ns/op", "fail%", "occup", "B/page",
	       "B/resv");
	for (size_t wi = 0; wi < sizeof(wls) / sizeof(wls[0]); wi++) {
		if (only && strncmp(wls[wi].name, only, strlen(only)) != 0)
			continue;
		for (int pol = 0; pol < POL_N; pol++) {
			if (only_pol && strcmp(pol_name[pol], only_pol) != 0)
				continue;
			double ns[16], occ = 0, resv = 0;
			uint64_t allocs = 0, fails = 0;
			for (int sd = 0; sd < nseeds && sd < 16; sd++) {
				struct result r = run(&wls[wi], (enum policy)pol, (uint64_t)sd + 1, steps);
				ns[sd] = r.ns_per_op;
				allocs += r.allocs;
				fails += r.fails;
				occ += r.occupancy;
				resv += r.live_resv;
			}
			qsort(ns, (size_t)nseeds, sizeof(double), cmp_double);
			printf("%-18s %-7s %9.1f %8.2f %6.1f%% %9.4f %10.1f\n", wls[wi].name, pol_name[pol],
			       ns[nseeds / 2], 100.0 * (double)fails / (double)allocs, 100.0 * occ / nseeds,
			       (double)mb / NPAGES, (double)mb / (resv / nseeds));
			fflush(stdout);
		}
	}
	return 0;
}
