/*
 * Benchmark (not a test) of the system PTE region's per-CPU caches (mm/syspte_cache.c): reserve and
 * free throughput with 1, 2 and 4 host threads, each acting as its own CPU, over the hosted library
 * (build/hosted/libmm.a). Two regions of 1 GiB on one hosted machine, one with the caches and one
 * created with SYSPTE_CREATE_NO_CACHE (every call takes the region's one lock), run interleaved in
 * the same process. Each thread keeps a ring of RING live reservations of 1..16 pages (uniform) and,
 * until told to stop, frees the oldest and reserves a new one: one pair. Prints pairs per
 * microsecond over all threads (median of the rounds), each thread count's ratio to one thread in
 * the same mode, the host CPU time the threads got (the machine may be shared), and the caches'
 * ratio to the lock; then the share of the calls that took no region lock. Then the same for map +
 * unmap: each thread maps and unmaps the reservations of its ring in turn (all its pages, 4 KiB
 * frames), one pair each; with the caches each is a cached reservation, mapped and unmapped under
 * its cache's lock alone, and with one lock under the region's. The threads' CPUs are not online,
 * so an unmap's batch is applied on its own CPU only (the locking is timed, not the shootdown), and
 * the fake machine records it in that CPU's own part of its log of batches (tests/host/fake_arch.h):
 * the threads share nothing there. The threads act as CPUs 1..n.
 *
 *   build/bench/bench_pcpu [rounds] [ms per run]   (default 7 rounds of 300 ms per configuration)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "host_machine.h"
#include "fake_arch.h"
#include "syspte.h"
#include "vmlayout.h"

#define REGION_PAGES 262144u           /* 1 GiB of 4 KiB pages */
#define RING 32u                       /* live reservations per thread */
#define MAX_THREADS 4u
#define MAX_ROUNDS 31u
#define TAG 0x55504370u                /* 'pCPU' */

static const unsigned thread_counts[] = { 1, 2, 4 };
#define NCOUNTS (sizeof(thread_counts) / sizeof(thread_counts[0]))

struct run {
	struct syspte_region *r;
	unsigned nthreads;
	unsigned ready;                    /* threads with their ring filled */
	int go, stop;
	unsigned op;                       /* 0: reserve + free; 1: map + unmap */
	uint64_t pairs[MAX_THREADS];
	double cpu_s[MAX_THREADS];         /* each thread's CPU time while it churned */
	uint64_t failed;                   /* reservations refused (there must be none) */
};

static double clock_s(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

struct worker {
	struct run *run;
	unsigned cpu;
};

/* One thread: CPU cpu's ring, filled before the start, churned until stop, emptied after. */
static void *worker_main(void *p)
{
	struct worker *w = p;
	struct run *run = w->run;
	vaddr_t ring[RING];
	uint64_t size[RING], pfns[16];
	for (unsigned k = 0; k < 16; k++)
		pfns[k] = 0x100000 + w->cpu * 16 + k;
	uint64_t rng = 0x9E3779B97F4A7C15ULL * (w->cpu + 1), pairs = 0, failed = 0;
	fake_cpu_set(w->cpu + 1);   /* CPUs 1..n, none online (CPU 0, the main thread's, taken offline): an
				       unmap's batch is applied on its own CPU and sent to none */
	for (unsigned k = 0; k < RING; k++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		size[k] = 1 + rng % 16;
		ring[k] = syspte_reserve(run->r, size[k], TAG, 0);
		failed += !ring[k];
	}
	__atomic_fetch_add(&run->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&run->go, __ATOMIC_ACQUIRE))
		;
	double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned k = 0; run->op == 1 && !__atomic_load_n(&run->stop, __ATOMIC_RELAXED); k = (k + 1) % RING) {
		if (ring[k]) {
			failed += syspte_map(run->r, ring[k], TAG, pfns, size[k], PT_CACHE_WB) != SYSPTE_OK;
			failed += syspte_unmap(run->r, ring[k], TAG, size[k]) != SYSPTE_OK;
		}
		pairs++;
	}
	for (unsigned k = 0; run->op == 0 && !__atomic_load_n(&run->stop, __ATOMIC_RELAXED); k = (k + 1) % RING) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		if (ring[k])
			syspte_release(run->r, ring[k], TAG);
		ring[k] = syspte_reserve(run->r, 1 + rng % 16, TAG, 0);
		failed += !ring[k];
		pairs++;
	}
	run->cpu_s[w->cpu] = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	for (unsigned k = 0; k < RING; k++)
		if (ring[k])
			syspte_release(run->r, ring[k], TAG);
	run->pairs[w->cpu] = pairs;
	__atomic_fetch_add(&run->failed, failed, __ATOMIC_RELAXED);
	return NULL;
}

/* One run of n threads on region r for ms milliseconds; pairs per microsecond, all threads. */
static double run_once(struct syspte_region *r, unsigned op, unsigned n, unsigned ms, uint64_t *failed, double *share)
{
	struct run run = { .r = r, .nthreads = n, .op = op };
	struct worker w[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){ &run, i };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	while (__atomic_load_n(&run.ready, __ATOMIC_ACQUIRE) < n)
		;
	double t0 = now_s();
	__atomic_store_n(&run.go, 1, __ATOMIC_RELEASE);
	struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
	__atomic_store_n(&run.stop, 1, __ATOMIC_RELEASE);
	double t1 = now_s();
	uint64_t pairs = 0;
	double cpu = 0;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		pairs += run.pairs[i];
		cpu += run.cpu_s[i];
	}
	*share = cpu / (t1 - t0);
	*failed += run.failed;
	return (double)pairs / ((t1 - t0) * 1e6);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 7;
	unsigned ms = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 300;
	if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1) {
		fprintf(stderr, "usage: bench_pcpu [rounds 1..%u] [ms per run]\n", MAX_ROUNDS);
		return 2;
	}
	if (host_machine_create(256ULL << 20, 2ULL << 20)) {
		fprintf(stderr, "bench_pcpu: no machine\n");
		return 1;
	}
	struct syspte_region *region[2] = {
		syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (64ULL << 30), REGION_PAGES, 0),
		syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (128ULL << 30), REGION_PAGES, SYSPTE_CREATE_NO_CACHE),
	};
	if (!region[0] || !region[1]) {
		fprintf(stderr, "bench_pcpu: no region\n");
		return 1;
	}
	fake_cpu_online(0, false);   /* no CPU online: no thread would answer a shootdown round */
	static double got[2][2][NCOUNTS][MAX_ROUNDS], busy[2][2][NCOUNTS][MAX_ROUNDS];
	uint64_t failed = 0;
	for (unsigned k = 0; k < rounds; k++)
		for (unsigned op = 0; op < 2; op++)
			for (unsigned m = 0; m < 2; m++)
				for (unsigned c = 0; c < NCOUNTS; c++)
					got[op][m][c][k] = run_once(region[m], op, thread_counts[c], ms, &failed, &busy[op][m][c][k]);
	for (unsigned op = 0; op < 2; op++) {
		double med[2][NCOUNTS], cpus[2][NCOUNTS];
		for (unsigned m = 0; m < 2; m++)
			for (unsigned c = 0; c < NCOUNTS; c++)
				med[m][c] = median(got[op][m][c], rounds), cpus[m][c] = median(busy[op][m][c], rounds);
		printf("%s pairs of 1..16 pages, %u live per thread, 1 GiB region; median of %u runs of %u ms each\n",
		       op ? "map+unmap" : "reserve+free", RING, rounds, ms);
		printf("(pairs/us: all threads together; CPUs: the host CPU time the threads got / wall time, which other "
		       "load on the machine lowers; per CPU: the ratio to 1 thread divided by the CPUs over 1 thread's)\n");
		printf("| region | threads | pairs/us | ratio to 1 thread | CPUs | ratio per CPU | caches / one lock |\n");
		printf("|---|---|---|---|---|---|---|\n");
		for (unsigned m = 0; m < 2; m++)
			for (unsigned c = 0; c < NCOUNTS; c++) {
				double ratio = med[m][c] / med[m][0];
				printf("| %s | %u | %.2f | %.2fx | %.2f | %.2fx | ", m ? "one lock" : "caches", thread_counts[c],
				       med[m][c], ratio, cpus[m][c], ratio / (cpus[m][c] / cpus[m][0]));
				if (m)
					printf("|\n");
				else
					printf("%.2fx |\n", med[0][c] / med[1][c]);
			}
	}
	fake_cpu_online(0, true);
	struct syspte_stats s;
	syspte_get_stats(region[0], &s);
	printf("caches: %.2f%% of reserves and frees took no region lock (%llu without, %llu with), %llu drains; "
	       "%llu reservations refused\n", 100.0 * (double)s.cache_fast / (double)(s.cache_fast + s.cache_slow),
	       (unsigned long long)s.cache_fast, (unsigned long long)s.cache_slow, (unsigned long long)s.cache_drains,
	       (unsigned long long)failed);
	bool whole = syspte_check(region[0]) == 0 && syspte_check(region[1]) == 0 && s.live == 0 &&
		     s.free_pages == REGION_PAGES;
	if (!whole || failed) {
		fprintf(stderr, "bench_pcpu: the regions are not whole after the runs, or a reservation, map or unmap was refused\n");
		return 1;
	}
	return 0;
}
