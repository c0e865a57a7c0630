/*
 * The standard allocator workload (README "Benchmarks"), shared by the benchmark
 * (tests/bench/bench_buddy.c), the host picture of the region (tests/host/region_picture.c) and the
 * kernel's showcase for the summary screen (kernel/showcase.c): each step allocates with probability
 * 0.7 while the live pages are below the target occupancy (0.3 at or above it), else frees a live
 * reservation chosen uniformly; sizes uniform in 1..max, or log-skewed (k uniform in 0..9, size
 * 1 + random mod 2^k). Header-only so the benchmark's loop inlines it.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdint.h>
#include <stdbool.h>

/* xorshift64* state. */
struct wl_rng {
	uint64_t s;
};

/* Seeds the generator as the benchmark always has (seed 1, 2, ... per run). */
static inline void wl_seed(struct wl_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 1;
}

/* The next 64 random bits. */
static inline uint64_t wl_rnd(struct wl_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

/* A request size: uniform in 1..max, or log-skewed (then at most 512). */
static inline uint64_t wl_size(struct wl_rng *r, bool skewed, uint64_t max)
{
	if (!skewed)
		return 1 + wl_rnd(r) % max;
	unsigned k = (unsigned)(wl_rnd(r) % 10);
	return 1 + wl_rnd(r) % ((uint64_t)1 << k);
}

/* Whether the step whose first draw is x allocates (true) or frees. */
static inline bool wl_want_alloc(uint64_t x, uint64_t nlive, uint64_t live_pages, uint64_t target_pages)
{
	return nlive == 0 || (x % 10) < (live_pages < target_pages ? 7u : 3u);
}

/* Index in [0, nlive) of the reservation to free (nlive >= 1). */
static inline uint64_t wl_pick(struct wl_rng *r, uint64_t nlive)
{
	return (uint64_t)(((unsigned __int128)wl_rnd(r) * nlive) >> 64);
}

#endif
