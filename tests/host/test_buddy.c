/*
 * Host test of mm/buddy.c: a randomized differential test against a byte-per-unit model (every
 * refused allocation proven by a walk of the model's free runs, every refused free proven by the
 * model, state unchanged after each; range queries against the model), a property test over
 * generated allocator states and requests, generated list frees with duplicates and free units,
 * plus exhaustion, bounds, divisors (past 2^32 too), preferences, census round trips,
 * corruption detection, the common request's place at its extent's back, requests whose
 * classes straddle the class mask's two words, empty frees, and the extents a bounded request
 * examines, bounds with lo > hi. TAP output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "buddy_impl.h"
#include "test_rng.h"

/* ------------------------------------------------------------------ PRNG */

static uint64_t rng_state;

/* The next value of the test's splitmix64 sequence. */
static uint64_t rnd(void) { return test_splitmix_next(&rng_state); }

/* Uniform in [0, n), n >= 1. */
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* ------------------------------------------------------------------ model */

struct live { uint64_t s, n; };

struct world {
	struct buddy b;
	uint64_t npages, origin;
	void *meta;
	uint64_t *slots;       /* the units' slots (buddy.h); an allocated unit's holds canary(u) */
	uint8_t *model;        /* 1 = free */
	uint64_t model_free;
	uint32_t *run;         /* scratch: free run length from each unit */
	struct live *live;
	size_t nlive, cap;
	uint64_t init_census[BUDDY_ORDERS];
	uint64_t init_free;
	long fails;            /* check failures, reported once per seed */
	long allocs, alloc_fail, frees, checks, bad_frees, lists;
	long pow2, pow2_aligned;  /* power-of-two placements without a divisor, and those aligned */
};

static void fail_once(struct world *w, int cond, const char *what, uint64_t a, uint64_t bb)
{
	if (cond)
		return;
	if (w->fails++ == 0)
		printf("# mismatch: %s (%llu, %llu)\n", what, (unsigned long long)a, (unsigned long long)bb);
}

static uint64_t *slots_new(uint64_t npages)
{
	return calloc(npages + 1, sizeof(uint64_t));
}

/* What an allocated unit's slot holds in the differential test (a mapped PTE, in the region):
 * the allocator must never change it. */
static uint64_t canary(uint64_t u)
{
	return (u * 0x9e3779b97f4a7c15ull) | 1;
}

static void world_init(struct world *w, uint64_t npages, uint64_t origin)
{
	memset(w, 0, sizeof(*w));
	w->npages = npages;
	w->origin = origin;
	size_t mb = buddy_meta_bytes(npages);
	w->meta = malloc(mb ? mb : 8);
	memset(w->meta, 0xa5, mb);   /* buddy_init must clear what it uses */
	w->slots = slots_new(npages);
	for (uint64_t u = 0; u < npages; u++)
		w->slots[u] = canary(u);
	buddy_init(&w->b, npages, origin, w->meta, w->slots, 0);
	w->model = calloc(npages + 1, 1);
	w->run = calloc(npages + 1, sizeof(uint32_t));
	w->cap = 1024;
	w->live = malloc(w->cap * sizeof(*w->live));
}

static void world_fini(struct world *w)
{
	free(w->meta);
	free(w->slots);
	free(w->model);
	free(w->run);
	free(w->live);
}

/* Marks [s, s+n) free (v = 1: the allocator gave it back, its slots must still hold their
 * canaries) or allocated (v = 0: the slots get their canaries). */
static void model_set(struct world *w, uint64_t s, uint64_t n, uint8_t v)
{
	for (uint64_t u = s; u < s + n; u++) {
		fail_once(w, w->model[u] != v, "model state before set", u, v);
		w->model[u] = v;
		if (v)
			fail_once(w, w->slots[u] == canary(u), "an allocated unit's slot was written", u, w->slots[u]);
		else
			w->slots[u] = canary(u);
	}
	w->model_free += v ? n : -n;
}

static void live_push(struct world *w, uint64_t s, uint64_t n)
{
	if (w->nlive == w->cap) {
		w->cap *= 2;
		w->live = realloc(w->live, w->cap * sizeof(*w->live));
	}
	w->live[w->nlive].s = s;
	w->live[w->nlive].n = n;
	w->nlive++;
}

/* buddy.h's rule for a start s of a request with divisor d: (origin + s) % d == 0, any start
 * without a divisor. Natural alignment of powers of two is a preference, not part of the rule. */
static int model_start_ok(const struct world *w, uint64_t s, uint64_t d)
{
	return d <= 1 || ((unsigned __int128)w->origin + s) % d == 0;
}

/* The proof behind a refusal: true when the model's free set holds a run of n units inside [lo, hi)
 * whose start obeys the rule for d, found by walking the model's maximal free runs. */
static int model_has_fit(struct world *w, uint64_t n, uint64_t d, uint64_t lo, uint64_t hi)
{
	if (hi > w->npages)
		hi = w->npages;
	if (n == 0 || lo >= hi || n > hi - lo)
		return 0;
	for (uint64_t a = lo; a < hi;) {
		if (!w->model[a]) {
			a++;
			continue;
		}
		uint64_t e = a;
		while (e < hi && w->model[e])
			e++;
		for (uint64_t s = a; e - a >= n && s + n <= e; s++)   /* the free run [a, e) clipped to the bounds */
			if (model_start_ok(w, s, d))
				return 1;
		a = e;
	}
	return 0;
}

/* State of the walk in world_walk_cb: the model unit expected next to be checked. */
struct walk_state { struct world *w; uint64_t next, extents; };

/* buddy_for_each_free callback: the extent must be free in the model, maximal, and after the last. */
static void world_walk_cb(uint64_t s, uint64_t n, void *arg)
{
	struct walk_state *ws = arg;
	struct world *w = ws->w;
	int good = n > 0 && s >= ws->next && s + n <= w->npages && (s == 0 || !w->model[s - 1]) &&
		   (s + n == w->npages || !w->model[s + n]);
	for (uint64_t u = ws->next; good && u < s + n && u < w->npages; u++)
		good = w->model[u] == (u >= s);
	fail_once(w, good, "for_each_free extent vs model", s, n);
	ws->next = s + n;
	ws->extents++;
}

/* buddy_for_each_free must list exactly the model's maximal free runs, in address order. */
static void world_verify_walk(struct world *w)
{
	struct walk_state ws = { w, 0, 0 };
	uint64_t runs = 0;
	buddy_for_each_free(&w->b, world_walk_cb, &ws);
	for (uint64_t u = ws.next; u < w->npages; u++)
		fail_once(w, !w->model[u], "free unit after the last extent walked", u, ws.next);
	for (uint64_t u = 0; u < w->npages; u++)
		runs += w->model[u] && (u == 0 || !w->model[u - 1]);
	fail_once(w, runs == ws.extents, "extents walked vs model runs", ws.extents, runs);
}

/* Compares free totals, census and (when full) the whole invariant set and the free-extent walk. */
static void world_verify(struct world *w, int full)
{
	uint64_t c[BUDDY_ORDERS], sum = 0;
	fail_once(w, w->b.free_units == w->model_free, "free_units vs model", w->b.free_units, w->model_free);
	buddy_census(&w->b, c);
	for (unsigned k = 0; k < BUDDY_ORDERS; k++)
		sum += c[k] << k;
	fail_once(w, sum == w->model_free, "census sum vs model", sum, w->model_free);
	if (full) {
		w->checks++;
		fail_once(w, buddy_check(&w->b) == 0, "buddy_check", 0, 0);
		if (w->checks % 8 == 0)   /* O(units): every 8th full check keeps the test's time */
			world_verify_walk(w);
	}
}

static int world_granted(struct world *w, uint64_t s, uint64_t n, uint64_t d, uint64_t lo, uint64_t hi);

/* One allocation through buddy and model; returns 1 on success. */
static int world_alloc(struct world *w, uint64_t n, uint64_t d, uint64_t lo, uint64_t hi)
{
	uint64_t s = ~0ull, before = w->b.free_units;
	w->allocs++;
	if (!buddy_alloc(&w->b, n, d, lo, hi, &s)) {
		w->alloc_fail++;
		fail_once(w, w->b.free_units == before, "failed alloc changed state", n, d);
		fail_once(w, !model_has_fit(w, n, d, lo, hi), "alloc failed but model fits n/d", n, d);
		return 0;
	}
	return world_granted(w, s, n, d, lo, hi);
}

/* buddy_find with a preference (prefer > 1 a power of two, any phase), then buddy_take, through
 * buddy and model; returns 1 on success. The preference never overrides the rule: a start must
 * obey the rule for d whatever the phase; *honoured counts the starts with (s + phase) a multiple
 * of prefer. */
static int world_find_pref(struct world *w, uint64_t n, uint64_t d, uint64_t prefer, uint64_t phase, long *honoured)
{
	struct buddy_place p;
	uint64_t before = w->b.free_units;
	w->allocs++;
	if (!buddy_find(&w->b, n, d, prefer, phase, &p)) {
		w->alloc_fail++;
		fail_once(w, w->b.free_units == before, "failed find changed state", n, d);
		fail_once(w, !model_has_fit(w, n, d, 0, w->npages), "find failed but model fits n/d", n, d);
		return 0;
	}
	buddy_take(&w->b, &p, n);
	*honoured += ((p.start + phase) & (prefer - 1)) == 0;
	return world_granted(w, p.start, n, d, 0, w->npages);
}

/* The checks of a granted run [s, s + n) for divisor d inside [lo, hi), then the model takes it. */
static int world_granted(struct world *w, uint64_t s, uint64_t n, uint64_t d, uint64_t lo, uint64_t hi)
{
	uint64_t h = hi > w->npages ? w->npages : hi;
	fail_once(w, s >= lo && s + n <= h, "result outside bounds", s, n);
	fail_once(w, model_start_ok(w, s, d), "divisor violated", s, d);
	if (d <= 1 && (n & (n - 1)) == 0 && n > 1) {
		w->pow2++;
		w->pow2_aligned += (s & (n - 1)) == 0;
	}
	for (uint64_t u = s; u < s + n; u++)
		if (!w->model[u]) {
			fail_once(w, 0, "allocated a unit that was not free", u, n);
			return 1;
		}
	model_set(w, s, n, 0);
	live_push(w, s, n);
	return 1;
}

/* Frees live reservation i. */
static void world_free(struct world *w, size_t i)
{
	struct live l = w->live[i];
	w->live[i] = w->live[--w->nlive];
	model_set(w, l.s, l.n, 1);
	if (rnd_below(2))   /* the checked free, or the one for callers whose records prove the range */
		fail_once(w, buddy_free(&w->b, l.s, l.n), "free of a live range refused", l.s, l.n);
	else
		buddy_free_allocated(&w->b, l.s, l.n);
	w->frees++;
}

/* True when every allocated unit's slot still holds its canary (the allocator never touched it). */
static int slots_intact(const struct world *w)
{
	for (uint64_t u = 0; u < w->npages; u++)
		if (!w->model[u] && w->slots[u] != canary(u))
			return 0;
	return 1;
}

/* True when every unit of [s, s+n) is allocated in the model (n may be 0; false past the end). */
static int model_all_allocated(const struct world *w, uint64_t s, uint64_t n)
{
	if (s > w->npages || n > w->npages - s)
		return 0;
	for (uint64_t u = s; u < s + n; u++)
		if (w->model[u])
			return 0;
	return 1;
}

/* A free the model says is wrong (a range meeting a free unit, or past the end): buddy_free must
 * refuse it and change nothing (free units, census, every invariant, the slots of allocated units). */
static void world_bad_free(struct world *w)
{
	uint64_t s, n;
	if (w->nlive && rnd_below(2)) {   /* a live range stretched into its free neighbourhood */
		struct live l = w->live[rnd_below(w->nlive)];
		s = l.s - rnd_below(l.s < 4 ? l.s + 1 : 4);
		n = l.s + l.n - s + rnd_below(4);
	} else {                          /* anywhere: a double free, an overlap, or past the end */
		s = rnd_below(w->npages + 2);
		n = 1 + rnd_below(w->npages / 4 + 2);
	}
	if (model_all_allocated(w, s, n))
		return;   /* a valid free of allocated units (maybe several ranges): not this test's case */
	uint64_t c0[BUDDY_ORDERS], c1[BUDDY_ORDERS], before = w->b.free_units;
	buddy_census(&w->b, c0);
	w->bad_frees++;
	fail_once(w, !buddy_free(&w->b, s, n), "overlapping or out-of-range free accepted", s, n);
	buddy_census(&w->b, c1);
	fail_once(w, w->b.free_units == before && memcmp(c0, c1, sizeof(c0)) == 0, "refused free changed state", s, n);
	fail_once(w, slots_intact(w), "refused free wrote an allocated unit's slot", s, n);
}

/* Frees a random subset of the live ranges through buddy_free_list, their units shuffled in runs,
 * sometimes with a fault added (a unit listed twice, a free unit, a unit past the end): the model
 * predicts success or the index of the first entry at fault; a refusal changes nothing. */
static void world_free_list(struct world *w)
{
	size_t k = w->nlive ? 1 + rnd_below(w->nlive < 8 ? w->nlive : 8) : 0;
	uint64_t n = 0, cap = 16;
	for (size_t j = 0; j < k; j++)
		cap += w->live[w->nlive - 1 - j].n;
	uint64_t *units = malloc(cap * sizeof(*units));
	for (size_t j = 0; j < k; j++) {   /* the last k live ranges, each cut in a few pieces, pieces in random order */
		struct live l = w->live[w->nlive - 1 - j];
		for (uint64_t u = l.s; u < l.s + l.n;) {
			uint64_t piece = 1 + rnd_below(l.s + l.n - u);
			uint64_t at = n ? rnd_below(n + 1) : 0;   /* insert the piece at a random point */
			for (uint64_t q = n; q-- > at;)
				units[q + piece] = units[q];
			for (uint64_t q = 0; q < piece; q++)
				units[at + q] = u + q;
			n += piece;
			u += piece;
		}
	}
	if (rnd_below(2) && n + 1 < cap) {   /* a fault at a random place */
		uint64_t at = rnd_below(n + 1), v;
		switch (rnd_below(3)) {
		case 0: v = n ? units[rnd_below(n)] : 0; break;   /* a duplicate */
		case 1:                                            /* a free unit (an allocated one would be valid) */
			v = rnd_below(w->npages);
			for (int t = 0; t < 8 && !w->model[v]; t++)
				v = rnd_below(w->npages);
			if (!w->model[v])
				v = w->npages;
			break;
		default: v = w->npages + rnd_below(4); break;      /* past the end */
		}
		for (uint64_t q = n; q-- > at;)
			units[q + 1] = units[q];
		units[at] = v;
		n++;
	}
	/* the model's verdict: the first entry past the end, free, or listed before */
	uint64_t expect = n;
	uint8_t *seen = calloc(w->npages + 1, 1);
	for (uint64_t q = 0; q < n && expect == n; q++) {
		if (units[q] >= w->npages || w->model[units[q]] || seen[units[q]])
			expect = q;
		else
			seen[units[q]] = 1;
	}
	free(seen);
	uint64_t c0[BUDDY_ORDERS], c1[BUDDY_ORDERS], before = w->b.free_units, bad = ~0ull;
	buddy_census(&w->b, c0);
	if (expect == n)   /* the model first: it checks the slots are still the caller's */
		for (size_t j = 0; j < k; j++) {
			struct live l = w->live[--w->nlive];
			model_set(w, l.s, l.n, 1);
			w->frees++;
		}
	bool r = buddy_free_list(&w->b, units, n, &bad);
	w->lists++;
	if (expect < n) {
		buddy_census(&w->b, c1);
		fail_once(w, !r && bad == expect, "list free: wrong verdict", expect, r ? n : bad);
		fail_once(w, w->b.free_units == before && memcmp(c0, c1, sizeof(c0)) == 0, "refused list free changed state",
			  expect, n);
		fail_once(w, slots_intact(w), "refused list free wrote an allocated unit's slot", expect, n);
	} else {
		fail_once(w, r, "valid list free refused", bad, n);
	}
	free(units);
}

/* Frees every live reservation and compares the census with the one after initial population. */
static void world_free_all(struct world *w)
{
	uint64_t c[BUDDY_ORDERS];
	while (w->nlive)
		world_free(w, rnd_below(w->nlive));
	buddy_census(&w->b, c);
	fail_once(w, memcmp(c, w->init_census, sizeof(c)) == 0, "census after free-all", 0, 0);
	fail_once(w, w->b.free_units == w->init_free, "free units after free-all", w->b.free_units, w->init_free);
	fail_once(w, buddy_check(&w->b) == 0, "check after free-all", 0, 0);
}

/* Initial population: everything, or random ranges. */
static void world_populate(struct world *w)
{
	if (rnd_below(3) == 0) {
		model_set(w, 0, w->npages, 1);
		fail_once(w, buddy_free(&w->b, 0, w->npages), "populate refused", 0, w->npages);
	} else {
		uint64_t u = 0;
		while (u < w->npages) {
			uint64_t len = 1 + rnd_below(1 + w->npages / 8);
			if (len > w->npages - u)
				len = w->npages - u;
			if (rnd_below(4) != 0) {
				model_set(w, u, len, 1);
				fail_once(w, buddy_free(&w->b, u, len), "populate refused", u, len);
			}
			u += len;
		}
	}
	buddy_census(&w->b, w->init_census);
	w->init_free = w->b.free_units;
}

/* A random request size: powers of two, uniform, or small. */
static uint64_t rnd_size(struct world *w)
{
	uint64_t maxn = w->npages / 4 + 1;
	switch (rnd_below(4)) {
	case 0: {
		unsigned k = (unsigned)rnd_below(64 - __builtin_clzll(maxn));
		return (uint64_t)1 << k;
	}
	case 1:
		return 1 + rnd_below(maxn);
	default: {
		unsigned k = (unsigned)rnd_below(64 - __builtin_clzll(maxn));
		return 1 + rnd_below((uint64_t)1 << k);
	}
	}
}

/* A random divisor: none most of the time, else the size (the kernel's use), or anything. */
static uint64_t rnd_divisor(uint64_t n)
{
	switch (rnd_below(10)) {
	case 0: case 1: case 2:
		return n;
	case 3:
		return 2 + rnd_below(40);
	case 4:
		return (uint64_t)1 << rnd_below(8);
	default:
		return rnd_below(2);   /* 0 or 1: no constraint */
	}
}

/* Runs nops random operations on a fresh allocator; check_every: buddy_check period (1 = always). */
static void run_seed(uint64_t seed, uint64_t npages, uint64_t origin, long nops, int check_every)
{
	struct world w;
	rng_state = seed;
	world_init(&w, npages, origin);
	world_verify(&w, 1);
	world_populate(&w);
	world_verify(&w, 1);
	for (long op = 0; op < nops; op++) {
		uint64_t r = rnd_below(1000);
		if (r < 450 || w.nlive == 0) {
			uint64_t n = rnd_size(&w), d = rnd_divisor(n), lo = 0, hi = w.npages;
			if (rnd_below(5) == 0) {
				lo = rnd_below(w.npages);
				hi = lo + 1 + rnd_below(w.npages - lo + 8);
			}
			if (!world_alloc(&w, n, d, lo, hi) && w.nlive)
				world_free(&w, rnd_below(w.nlive));
		} else if (r < 900) {
			world_free(&w, rnd_below(w.nlive));
		} else if (r < 930) {
			world_bad_free(&w);
		} else if (r < 945) {
			world_free_list(&w);
		} else if (r < 980) {
			uint64_t s = rnd_below(w.npages + 2), n = rnd_below(w.npages / 4 + 3);
			int want = s <= w.npages && n <= w.npages - s;
			for (uint64_t u = s; want && u < s + n; u++)
				want = w.model[u];
			fail_once(&w, buddy_range_is_free(&w.b, s, n) == want, "range_is_free", s, n);
			/* the first free unit of the range: none for an empty range or one leaving [0, npages) */
			uint64_t first = UINT64_MAX;
			for (uint64_t u = s; s <= w.npages && n <= w.npages - s && u < s + n && first == UINT64_MAX; u++)
				first = w.model[u] ? u : first;
			fail_once(&w, buddy_range_first_free(&w.b, s, n) == first, "range_first_free", s, n);
		} else if (r < 995) {
			/* exhaustion: allocate one size until failure; the model must agree nothing fits */
			uint64_t n = rnd_size(&w), d = rnd_below(3) ? 0 : n;
			while (world_alloc(&w, n, d, 0, w.npages))
				;
		} else {
			world_free_all(&w);
		}
		world_verify(&w, check_every == 1 || op % check_every == 0);
	}
	world_free_all(&w);
	ok(w.fails == 0, "seed %llu: %llu units, origin %llu, %ld ops (%ld allocs, %ld failed, %ld frees, %ld refused "
	   "frees, %ld list frees, %ld checks; %ld of %ld powers of two aligned)", (unsigned long long)seed,
	   (unsigned long long)npages, (unsigned long long)origin, nops, w.allocs, w.alloc_fail, w.frees, w.bad_frees,
	   w.lists, w.checks, w.pow2_aligned, w.pow2);
	world_fini(&w);
}

/* ------------------------------------------------------------------ directed tests */

/* Sets bit i of bitmap bm directly in the metadata, with its summaries (a deliberate corruption):
 * level 0 through buddy_bm_word0 (its words are paired with the other bitmap's), the summaries
 * straight. */
static void poke_set(struct buddy_bm *bm, uint64_t i)
{
	*buddy_bm_word0(bm, i >> 6) |= (uint64_t)1 << (i & 63);
	for (unsigned l = 1; l < bm->nl; l++) {
		i >>= 6;
		bm->lv[l][i >> 6] |= (uint64_t)1 << (i & 63);
	}
}

static void test_basics(void)
{
	static uint64_t meta[4096];
	struct buddy b;
	uint64_t s, c[BUDDY_ORDERS];
	bool r;

	ok(buddy_meta_bytes(1ull << 24) <= (1ull << 24) / 2 + 4096, "metadata for 16M units: %zu bytes (<= 0.5 B/unit)",
	   buddy_meta_bytes(1ull << 24));
	ok(buddy_meta_bytes(262144) * 1000 / 262144 <= 280, "metadata for 256K units: %zu bytes (<= 0.28 B/unit)",
	   buddy_meta_bytes(262144));
	ok(buddy_meta_bytes(BUDDY_MAX_PAGES) > 0 && buddy_meta_bytes(BUDDY_MAX_PAGES + 1) == 0,
	   "metadata: up to BUDDY_MAX_PAGES units, 0 (refused) past it");
	ok(buddy_meta_bytes(1000) <= sizeof(meta), "small metadata fits");

	uint64_t *slots = slots_new(1000);
	buddy_init(&b, 1000, 0, meta, slots, 0);
	ok(b.free_units == 0 && buddy_check(&b) == 0, "init: all allocated, consistent");
	ok(!buddy_alloc(&b, 1, 0, 0, 1000, &s), "alloc from empty fails");
	buddy_free(&b, 0, 1000);
	ok(b.free_units == 1000 && buddy_check(&b) == 0, "free all: 1000 units");
	buddy_census(&b, c);
	ok(c[9] == 1 && c[8] == 1 && c[7] == 1 && c[6] == 1 && c[5] == 1 && c[3] == 1 && c[2] == 0,
	   "census of 1000 = 512+256+128+64+32+8");
	r = buddy_alloc(&b, 3, 3, 0, 1000, &s);
	ok(r && s % 3 == 0, "3 units divisible by 3: %llu", (unsigned long long)s);
	r = buddy_alloc(&b, 5, 0, 0, 1000, &s);
	ok(r, "5 units: %llu", (unsigned long long)s);
	r = buddy_alloc(&b, 64, 0, 850, 1000, &s);
	ok(r && s >= 850 && s + 64 <= 1000 && s % 64 == 0, "64 units in [850, 1000): %llu", (unsigned long long)s);
	ok(!buddy_alloc(&b, 64, 0, 850, 1000, &s), "second 64 in [850, 1000) fails");
	r = buddy_alloc(&b, 24, 0, 850, 1000, &s);
	ok(r && s >= 850 && s + 24 <= 1000, "24 units (any start) in [850, 1000): %llu", (unsigned long long)s);
	ok(!buddy_alloc(&b, 0, 0, 0, 1000, &s), "count 0 fails");
	ok(!buddy_alloc(&b, 1001, 0, 0, 1000, &s), "count > npages fails");
	ok(!buddy_alloc(&b, 1, 0, 5, 5, &s), "empty bounds fail");
	ok(!buddy_range_is_free(&b, ~0ull - 2, 10), "range_is_free: wrapping range is false");
	ok(buddy_range_is_free(&b, 999, 0) && !buddy_range_is_free(&b, 1001, 0) && !buddy_range_is_free(&b, 990, 11),
	   "range_is_free edges");
	ok(buddy_check(&b) == 0, "consistent");
	buddy_dump(&b);

	/* origin matters for divisors: origin 1, divisor 3 -> index 2, 5, ... */
	buddy_init(&b, 100, 1, meta, slots, 0);
	buddy_free(&b, 0, 100);
	r = buddy_alloc(&b, 3, 3, 0, 100, &s);
	ok(r && (s + 1) % 3 == 0, "origin 1: (1 + %llu) %% 3 == 0", (unsigned long long)s);
	r = buddy_alloc(&b, 4, 4, 0, 100, &s);
	ok(r && (s + 1) % 4 == 0, "origin 1: (1 + %llu) %% 4 == 0", (unsigned long long)s);
	ok(buddy_check(&b) == 0, "consistent");

	/* 16M units: init + populate cost is per block, and one allocation works */
	size_t mb = buddy_meta_bytes(1ull << 24);
	void *big = malloc(mb);
	uint64_t *bigslots = slots_new(1ull << 24);
	buddy_init(&b, 1ull << 24, 0, big, bigslots, 0);
	buddy_free(&b, 256, (1ull << 24) - 256 - 12345);
	r = buddy_alloc(&b, 3, 3, 0, 1ull << 24, &s);
	ok(r && s % 3 == 0 && s >= 256 && buddy_check(&b) == 0, "16M units: alloc 3/3 at %llu", (unsigned long long)s);
	free(big);
	free(bigslots);

	/* slots one page apart (the physical allocator's layout: word 0 of each free page) */
	uint64_t *pages = calloc(2048 * 512, sizeof(uint64_t));
	buddy_init(&b, 2048, 0, meta, pages, 9);
	buddy_free(&b, 0, 2048);
	r = buddy_alloc(&b, 5, 0, 0, 2048, &s);
	buddy_free(&b, s + 1, 2);
	ok(r && buddy_check(&b) == 0, "slots at a 4 KiB stride: consistent");
	uint64_t written = 0, elsewhere = 0;
	for (uint64_t i = 0; i < 2048 * 512; i++)
		if (pages[i])
			*(i % 512 ? &elsewhere : &written) += 1;
	ok(written >= 2 && elsewhere == 0, "records only in word 0 of a page (%llu words), nothing else (%llu)",
	   (unsigned long long)written, (unsigned long long)elsewhere);
	free(pages);
	free(slots);
}

static void test_corruption(void)
{
	static uint64_t meta[512];
	static uint64_t slots[1024 + 512], slots_copy[1024 + 512];
	struct buddy b, saved;

	buddy_init(&b, 1024, 0, meta, slots, 0);
	buddy_free(&b, 768, 5);
	buddy_free(&b, 776, 248);
	ok(buddy_check(&b) == 0 && b.free_units == 253, "two free extents");
	/* free: [768, 773) (class of 5) and [776, 1024) (class of 248) */
	saved = b;
	uint64_t copy[512];
	memcpy(copy, meta, sizeof(copy));
	memcpy(slots_copy, slots, sizeof(slots));
#define RESTORE() (b = saved, memcpy(meta, copy, sizeof(copy)), memcpy(slots, slots_copy, sizeof(slots)))

	printf("# expected violations follow\n");
	b.free_units++;
	ok(buddy_check(&b) == -1, "detects free_units mismatch");
	RESTORE();

	/* a start inside the free extent [776, 1024): starts and ends no longer alternate */
	poke_set(&b.start, 800);
	ok(buddy_check(&b) == -1, "detects a start inside a free extent");
	RESTORE();

	/* an end without a start inside the allocated [512, 768) */
	poke_set(&b.end, 600);
	ok(buddy_check(&b) == -1, "detects an unpaired end");
	RESTORE();

	/* a free extent next to an allocated one that is marked free too: [700, 768) unmerged */
	poke_set(&b.start, 700);
	poke_set(&b.end, 767);
	b.free_units += 68;
	ok(buddy_check(&b) == -1, "detects adjacent (unmerged) free extents");
	RESTORE();

	/* a record whose length disagrees with the bitmaps */
	slots[777] -= 2;
	ok(buddy_check(&b) == -1, "detects a record length that disagrees");
	RESTORE();

	/* a list that skips its extent (the head lost): the count no longer matches */
	for (unsigned c = 0; c < BUDDY_CLASSES; c++)
		if (b.head[c] == 776)
			b.head[c] = ~0ull;
	ok(buddy_check(&b) == -1, "detects an extent missing from its class list");
	RESTORE();

	/* a list entry that is not a free extent */
	slots[768] |= (uint64_t)(512 + 1) << 1;   /* next link: unit 512 (allocated) */
	ok(buddy_check(&b) == -1, "detects a list link to an allocated unit");
	RESTORE();

	/* a list entry on allocated units whose slots read as a record of its class's length, up to
	 * the end of a real extent (a caller's PTEs may look so): no start bit, so no free extent */
	for (unsigned c = 0; c < BUDDY_CLASSES; c++)
		if (b.head[c] == 776)
			b.head[c] = 774;
	slots[774] = 0;
	slots[775] = (uint64_t)250 << 1;
	ok(buddy_check(&b) == -1, "detects a list entry on allocated units whose slots read as a record");
	RESTORE();

	/* a list that loops: [768, 773)'s record links to itself both ways (a walk must stop at the
	 * class's count, not hang) */
	slots[768] = (uint64_t)(768 + 1) << 1 | (uint64_t)(768 + 1) << 32;
	ok(buddy_check(&b) == -1, "detects a class list that loops back to its head");
	RESTORE();

	/* a record with bit 0 set would read as a present PTE */
	slots[776] |= 1;
	ok(buddy_check(&b) == -1, "detects a record with bit 0 set");
	RESTORE();

	/* a level-0 bit without its summary */
	*buddy_bm_word0(&b.start, 3) |= 1;
	ok(buddy_check(&b) == -1, "detects a summary that disagrees with its bitmap");
	RESTORE();

	/* an end piece that is not its start piece's partner (level 0 is one array of word pairs) */
	b.end.piece[0] += BUDDY_BM_STRIDE;
	ok(buddy_check(&b) == -1, "detects an end bitmap piece not paired with its start piece");
	RESTORE();

	/* a hint below the longest extent of its class */
	for (unsigned c = 0; c < BUDDY_CLASSES; c++)
		if (b.head[c] == 776)
			b.hint[c] = 247;
	ok(buddy_check(&b) == -1, "detects a class hint below its longest extent");
	RESTORE();

	for (unsigned c = 0; c < BUDDY_CLASSES; c++)
		if (b.head[c] == 776)
			b.count[c]++;
	ok(buddy_check(&b) == -1, "detects a wrong per-class count");
	RESTORE();
	/* the last extent without its end bit: a start with no end after it */
	*buddy_bm_word0(&b.end, 1023 >> 6) &= ~((uint64_t)1 << (1023 & 63));
	ok(buddy_check(&b) == -1, "detects a free extent with no end");
	RESTORE();
	/* a largest order that is not npages' (1024 units: 10), its class count made to agree with it,
	 * so that only the order itself disagrees: orders 8, 9, 11 and 12 */
	unsigned caught_order = 0;
	for (unsigned o = 8; o <= 12; o++) {
		if (o == saved.max_order)
			continue;
		b.max_order = o;
		b.nclasses = 4 * (o + 1);
		caught_order += buddy_check(&b) == -1;
		RESTORE();
	}
	ok(caught_order == 4, "detects a largest order that disagrees with npages (%u of 4)", caught_order);
	/* a count of classes in use that is not the largest order's (4 (10 + 1) = 44), the order itself
	 * agreeing with npages: the header's test is the one place the check reads it */
	static const unsigned bad_nclasses[] = { 0, 4, 40, 43, 45, 48, BUDDY_CLASSES };
	unsigned caught_classes = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(bad_nclasses); k++) {
		b.nclasses = bad_nclasses[k];
		caught_classes += buddy_check(&b) == -1;
		RESTORE();
	}
	ok(caught_classes == ARRAY_SIZE(bad_nclasses), "detects a class count that disagrees with the largest order "
	   "alone (%u of %zu)", caught_classes, ARRAY_SIZE(bad_nclasses));
	ok(buddy_check(&b) == 0, "restored state is consistent");
#undef RESTORE

	/* two adjacent free extents left unmerged, [700, 768) and [768, 773), with their records,
	 * lists, counts, hints and free units all consistent: made from [700, 767) and [768, 773) by
	 * moving the first one's end over the allocated unit 767 between them */
	static uint64_t meta2[512], slots2[1024];
	buddy_init(&b, 1024, 0, meta2, slots2, 0);
	ok(buddy_free(&b, 700, 67) && buddy_free(&b, 768, 5) && buddy_check(&b) == 0, "[700, 767) and [768, 773) free");
	*buddy_bm_word0(&b.end, 766 >> 6) ^= (uint64_t)3 << (766 & 63);   /* end bit 766 off, 767 on */
	slots2[701] = (uint64_t)68 << 1;                                   /* the length, same class */
	for (unsigned c = 0; c < BUDDY_CLASSES; c++)
		if (b.head[c] == 700)
			b.hint[c] = MAX(b.hint[c], 68);
	b.free_units++;
	ok(buddy_check(&b) == -1, "detects two adjacent free extents whose records agree (unmerged)");

	/* a level-0 word with a bit set under a clear summary word, away from any free extent, in an
	 * allocator of many summary words: every level-0 word under a clear summary word is read */
	static uint64_t bigmeta[4096];
	uint64_t *bigslots = slots_new(1 << 16);
	ok(buddy_meta_bytes(1 << 16) <= sizeof(bigmeta), "64K units: metadata fits");
	unsigned caught = 0;
	static const uint64_t words[] = { 128, 133, 191, 640, 1000, 1023 };
	for (unsigned k = 0; k < ARRAY_SIZE(words); k++) {
		buddy_init(&b, 1 << 16, 0, bigmeta, bigslots, 0);
		buddy_free(&b, 10, 50);
		*buddy_bm_word0(&b.start, words[k]) |= (uint64_t)1 << 9;
		caught += buddy_check(&b) == -1;
	}
	ok(caught == ARRAY_SIZE(words), "detects a start word set under a clear summary word (%u of %zu places)", caught,
	   ARRAY_SIZE(words));
	free(bigslots);
}

/* A class list's links are the two 32-bit halves of an extent's first slot (next in the low half
 * with bit 0, prev in the high half): an unlink rewrites the neighbours' links with a store of one
 * half each, leaving the other half as it was. The record's encoding (link = unit + 1) is
 * mm/buddy.c's, as in test_corruption. */
static void test_link_halves(void)
{
	static uint64_t meta[64], slots[128];
	const uint64_t head_prev = (uint64_t)0x5a5a5a5 << 32;   /* a head's prev half: meaningless, kept */
	struct buddy b;

	buddy_init(&b, 128, 0, meta, slots, 0);
	/* three extents of one class (5 units), pushed 10, 30, 50: the list is 50 -> 30 -> 10 */
	ok(buddy_free(&b, 10, 5) && buddy_free(&b, 30, 5) && buddy_free(&b, 50, 5) && buddy_check(&b) == 0,
	   "three extents of one class");
	ok(slots[50] == (uint64_t)(30 + 1) << 1 && slots[30] == ((uint64_t)(10 + 1) << 1 | (uint64_t)(50 + 1) << 32) &&
	   slots[10] == (uint64_t)(30 + 1) << 32, "the list's links, next low and prev high");
	slots[50] |= head_prev;
	ok(buddy_check(&b) == 0, "a head's prev half is not checked");
	slots[10] ^= (uint64_t)(30 ^ 50) << 32;   /* the tail's prev names the head, not its predecessor */
	ok(buddy_check(&b) == -1, "a prev link that skips an entry is detected");
	slots[10] ^= (uint64_t)(30 ^ 50) << 32;
	/* freeing unit 35 grows [30, 35) out of its class: 30 leaves the middle of the list */
	ok(buddy_free(&b, 35, 1) && buddy_check(&b) == 0, "the middle extent changes class");
	ok(slots[50] == ((uint64_t)(10 + 1) << 1 | head_prev), "the head's next half rewritten, its prev half kept");
	ok(slots[10] == (uint64_t)(50 + 1) << 32, "the tail's prev half rewritten, its next half (none) kept");
	/* and the tail leaves: only the head's next half changes */
	ok(buddy_free(&b, 15, 1) && buddy_check(&b) == 0 && slots[50] == head_prev,
	   "the tail's unlink writes the head's next half alone");
}

/* Phase A examines at most BUDDY_TIGHT_ALIGNED candidates however many extents could not hold the
 * request, when some class is certain to (a regression: the budget once wrapped around). */
static void test_phase_a_bound(void)
{
	static uint64_t meta[4096];
	uint64_t *slots = slots_new(40000), s;
	struct buddy b;

	buddy_init(&b, 40000, 0, meta, slots, 0);
	for (uint64_t k = 0; k < 1000; k++) {
		buddy_free(&b, 32 * k + 1, 8);    /* 8 units at an odd start: no aligned 8 inside */
		buddy_free(&b, 32 * k + 17, 10);  /* 10 units at 17: none either */
	}
	buddy_free(&b, 32001, 5000);              /* a class where every extent holds an aligned 8 */
	b.probes = 0;
	bool r = buddy_alloc(&b, 8, 0, 0, 40000, &s);
	ok(r && s % 8 == 0 && s >= 32001, "aligned 8 found at %llu", (unsigned long long)s);
	ok(b.probes <= BUDDY_TIGHT_ALIGNED, "phase A examined %llu extents of 2000 that cannot fit (<= %d)",
	   (unsigned long long)b.probes, BUDDY_TIGHT_ALIGNED);
	b.probes = 0;
	r = buddy_alloc(&b, 6, 6, 0, 40000, &s);
	ok(r && s % 6 == 0, "divisible 6 found at %llu", (unsigned long long)s);
	ok(b.probes <= BUDDY_TIGHT_ALIGNED, "divisible: %llu extents examined", (unsigned long long)b.probes);
	ok(buddy_check(&b) == 0, "consistent");
	free(slots);
}

/* A double or overlapping free is refused with nothing changed (it used to need a paranoid mode
 * and panicked), and buddy_free_list reports the entry at fault. */
static void test_refused_frees(void)
{
	static uint64_t meta[64], slots[256];
	struct buddy b;
	uint64_t s, bad = 0, c0[BUDDY_ORDERS], c1[BUDDY_ORDERS];

	buddy_init(&b, 256, 0, meta, slots, 0);
	ok(buddy_free(&b, 0, 256), "populate");
	ok(buddy_alloc(&b, 12, 0, 0, 256, &s) && buddy_free(&b, s, 12), "allocate 12, free them");
	buddy_census(&b, c0);
	ok(!buddy_free(&b, s, 12), "double free refused");
	ok(!buddy_free(&b, 100, 1) && !buddy_free(&b, 0, 256) && !buddy_free(&b, 255, 2) && !buddy_free(&b, 257, 0),
	   "free units and ranges past the end refused");
	buddy_census(&b, c1);
	ok(b.free_units == 256 && memcmp(c0, c1, sizeof(c0)) == 0 && buddy_check(&b) == 0, "nothing changed");
	ok(buddy_alloc(&b, 200, 0, 0, 200, &s) && s == 0, "200 units at 0");
	ok(!buddy_free(&b, 150, 60) && !buddy_free(&b, 199, 2), "a range running into free units is refused");
	ok(!buddy_free(&b, 250, 1), "a free unit after the allocated range is refused");
	uint64_t dup[] = { 10, 11, 12, 40, 11 }, freed[] = { 5, 6, 250 }, past[] = { 7, 300 }, good[] = { 3, 1, 2, 0, 4 };
	ok(!buddy_free_list(&b, dup, 5, &bad) && bad == 4, "list with a unit listed twice: index of the second listing");
	ok(!buddy_free_list(&b, freed, 3, &bad) && bad == 2, "list with a free unit: its index");
	ok(!buddy_free_list(&b, past, 2, &bad) && bad == 1, "list with a unit past the end: its index");
	ok(b.free_units == 56 && buddy_check(&b) == 0, "refused lists changed nothing");
	ok(buddy_free_list(&b, good, 5, &bad) && b.free_units == 61 && buddy_range_is_free(&b, 0, 5) &&
	   buddy_check(&b) == 0, "a valid shuffled list is freed");
	ok(buddy_free_list(&b, good, 0, &bad), "an empty list frees nothing");
	ok(buddy_range_first_free(&b, 5, 200) == 200 && buddy_range_first_free(&b, 0, 4) == 0 &&
	   buddy_range_first_free(&b, 5, 10) == UINT64_MAX, "first free unit of a range");
}

/* The example at the buddy level: 4096 units, 4094 free in one run [1, 4095). A binary
 * buddy (alignment required) refuses 2048 units and grants 2049; the contract grants every length
 * up to 4094, and refuses only what no run holds (4095; 2048 divisible by 2048). */
static void test_no_alignment_required(void)
{
	static uint64_t meta[512];
	uint64_t *slots = slots_new(4096), s;
	struct buddy b;

	buddy_init(&b, 4096, 0, meta, slots, 0);
	ok(buddy_free(&b, 1, 4094), "4094 free units in one run");
	ok(buddy_alloc(&b, 2048, 0, 0, 4096, &s) && s >= 1 && s + 2048 <= 4095, "2048 units granted at %llu",
	   (unsigned long long)s);
	ok(buddy_free(&b, s, 2048), "and freed");
	ok(!buddy_alloc(&b, 2048, 2048, 0, 4096, &s), "2048 units divisible by 2048: refused (no such start)");
	ok(buddy_alloc(&b, 4094, 0, 0, 4096, &s) && s == 1 && buddy_free(&b, 1, 4094), "4094 units granted");
	ok(!buddy_alloc(&b, 4095, 0, 0, 4096, &s), "4095 units refused");
	ok(buddy_alloc(&b, 1024, 0, 0, 4096, &s) && s % 1024 == 0 && buddy_free(&b, s, 1024),
	   "1024 units: naturally aligned where free (%llu)", (unsigned long long)s);
	ok(buddy_alloc(&b, 2048, 0, 1, 4095, &s) && s >= 1 && s + 2048 <= 4095, "bounded 2048 in [1, 4095): %llu",
	   (unsigned long long)s);
	ok(buddy_check(&b) == 0, "consistent");
	free(slots);
}

/*
 * Generated: a preference where it certainly fits. On a fresh allocator (one free extent of all
 * its units, origin 0) of at least prefer + n units, buddy_find with a preference the rule allows
 * (no divisor, or a power-of-two divisor below prefer with the phase a multiple of it) must place
 * the run at the preferred phase, (start + phase) a multiple of prefer, and obey the rule; one the
 * rule contradicts must obey the rule.
 */
static void test_preference_fresh(void)
{
	long honoured = 0, allowed = 0, contradicted = 0, bad = 0;
	rng_state = 0x7072656665726e63ull;
	for (int k = 0; k < 3000; k++) {
		struct world w;
		uint64_t prefer = (uint64_t)2 << rnd_below(10), n = 1 + rnd_below(rnd_below(2) ? prefer : 3 * prefer);
		uint64_t npages = prefer + n + rnd_below(4 * prefer), d = 1, phase = rnd_below(prefer);
		if (rnd_below(2)) {
			d = (uint64_t)1 << rnd_below(__builtin_ctzll(prefer) + 1);   /* up to prefer: = prefer never allows */
			if (rnd_below(2))
				phase &= ~(d - 1);
		}
		world_init(&w, npages, 0);
		model_set(&w, 0, npages, 1);
		if (!buddy_free(&w.b, 0, npages))
			bad++;
		bool allows = d < prefer && !(phase & (d - 1));
		long h = 0;   /* world_find_pref checks the rule and the bounds (w.fails) */
		if (!world_find_pref(&w, n, d, prefer, phase, &h))
			bad++;
		else if (allows)
			allowed++, honoured += h;
		else
			contradicted++;
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && honoured == allowed && allowed > 1000 && contradicted > 300,
	   "fresh allocators: %ld of %ld preferences the rule allows placed at the preferred phase, %ld the rule "
	   "contradicts placed by the rule, %ld failures", honoured, allowed, contradicted, bad);
}

/*
 * Generated: a preference the rule already implies (prefer a power of two no larger than a
 * power-of-two divisor, origin 0) asks for nothing beyond the rule, so a power-of-two count keeps
 * its natural alignment: on a fresh allocator whose one free extent, starting anywhere, holds a
 * naturally aligned run, buddy_find places it on a multiple of the count, whatever the phase.
 */
static void test_preference_implied(void)
{
	long aligned = 0, cases = 0, stronger = 0, bad = 0;
	rng_state = 0x696d706c69656421ull;
	for (int k = 0; k < 1500; k++) {
		struct world w;
		unsigned ko = 1 + (unsigned)rnd_below(9), jo = 1 + (unsigned)rnd_below(ko);
		uint64_t n = (uint64_t)1 << ko, d = (uint64_t)1 << jo, prefer = (uint64_t)2 << rnd_below(jo);
		uint64_t phase = rnd_below(2) ? d * rnd_below(64) : rnd_below(4096);
		uint64_t off = rnd_below(n), npages = off + 2 * n - 1 + rnd_below(2 * n);
		world_init(&w, npages, 0);
		model_set(&w, off, npages - off, 1);
		bad += !buddy_free(&w.b, off, npages - off);
		long h = 0;
		if (world_find_pref(&w, n, d, prefer, phase, &h))
			aligned += (w.live[w.nlive - 1].s & (n - 1)) == 0;
		cases++;
		stronger += d < n;
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && aligned == cases && stronger > 500, "a preference no stronger than a power-of-two divisor: %ld of "
	   "%ld power-of-two counts naturally aligned (%ld with natural alignment stronger than the divisor)", aligned,
	   cases, stronger);
}

/*
 * Generated: divisors past the allocator's size and past 2^32 (no one-multiplication remainder
 * then), over random origins placed so that one unit, or none, of the allocator is a valid start,
 * and random free sets. A request is granted exactly at that start when a run of its length
 * begins there and is free (the model's proof), else refused with nothing changed.
 */
static void test_huge_divisors(void)
{
	long granted = 0, refused = 0, bad = 0;
	rng_state = 0x6875676564697673ull;
	for (int k = 0; k < 600; k++) {
		struct world w;
		uint64_t npages = 1 + rnd_below(300);
		uint64_t d = rnd_below(2) ? ((uint64_t)1 << 32) + 1 + rnd_below((uint64_t)1 << 40)
					  : npages + 1 + rnd_below((uint64_t)1 << 31);
		uint64_t t = rnd_below(npages + 8);   /* the one valid start when t < npages */
		uint64_t origin = d * (1 + rnd_below(8)) - t;
		world_init(&w, npages, origin);
		for (uint64_t u = 0; u < npages;) {
			uint64_t len = 1 + rnd_below(npages);   /* MIN evaluates its arguments twice */
			len = MIN(len, npages - u);
			if (rnd_below(3)) {
				model_set(&w, u, len, 1);
				bad += !buddy_free(&w.b, u, len);
			}
			u += len;
		}
		for (int q = 0; q < 4; q++) {
			uint64_t n = 1 + rnd_below(rnd_below(2) ? 4 : npages);
			if (world_alloc(&w, n, d, 0, npages))
				granted++, bad += w.live[w.nlive - 1].s != t;
			else
				refused++;
		}
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && granted > 200 && refused > 500, "divisors past the size and past 2^32: %ld granted at the one "
	   "valid start, %ld refused with no fit in the free set, %ld failures", granted, refused, bad);
}

/*
 * The property over generated allocator states: random free sets (runs of random lengths around
 * powers of two, at random densities), then random requests (powers of two and their neighbours,
 * with and without divisors and bounds). A refused request must have no qualifying run in the
 * model's free set (model_has_fit walks it); a granted one must obey the rule and lie on free units.
 */
static void test_refusal_property(long scale)
{
	long states = 0, requests = 0, refused = 0, bad = 0, unaligned = 0, preferred = 0, honoured = 0, allowed = 0,
	     unhonoured = 0;
	long allocs0;
	for (uint64_t seed = 1; seed <= (uint64_t)300 * (uint64_t)scale; seed++) {
		struct world w;
		rng_state = seed * 0x5851f42d4c957f2dull;
		uint64_t npages = 1 + rnd_below(rnd_below(2) ? 600 : 9000);
		uint64_t origin = rnd_below(3) == 0 ? rnd_below(1u << 20) : 0;
		world_init(&w, npages, origin);
		unsigned k = (unsigned)rnd_below(10), density = 1 + (unsigned)rnd_below(7);
		for (uint64_t u = 0; u < npages;) {   /* alternate runs: free with probability density/8 */
			uint64_t len = (1ull << rnd_below(k + 1)) + rnd_below(3) - 1;
			len = len == 0 ? 1 : MIN(len, npages - u);
			if (rnd_below(8) < density) {
				model_set(&w, u, len, 1);
				if (!buddy_free(&w.b, u, len))
					bad++;
			}
			u += len;
		}
		states++;
		for (int q = 0; q < 200; q++) {
			unsigned e = (unsigned)rnd_below(64 - __builtin_clzll(npages));
			uint64_t n = ((uint64_t)1 << e) + (rnd_below(4) == 0 ? rnd_below(3) - 1 : 0), d = 0, lo = 0,
				 hi = npages;
			if (n == 0)
				n = 1;
			switch (rnd_below(6)) {
			case 0: d = n; break;
			case 1: d = (uint64_t)1 << rnd_below(e + 2); break;
			case 2: d = 2 + rnd_below(20); break;
			}
			if (rnd_below(4) == 0) {
				lo = rnd_below(npages);
				hi = lo + rnd_below(npages - lo + 2);
			}
			allocs0 = w.allocs - w.alloc_fail;
			long p2 = w.pow2 - w.pow2_aligned;
			requests++;
			/* a quarter of the unbounded requests state a preference, at any phase: compatible
			 * with a power-of-two divisor or not */
			bool pref = lo == 0 && hi == npages && rnd_below(4) == 0;
			uint64_t prefer = (uint64_t)2 << rnd_below(11), phase = rnd_below(2) ? rnd_below(4096) : 0;
			/* a preference the rule allows: its phase a multiple of a power-of-two divisor
			 * (the divisor then index alignment: origin 0), prefer inside the allocator */
			bool fits = pref && prefer <= npages && n < prefer &&
				    (d <= 1 || (!(d & (d - 1)) && !origin && d < prefer && !(phase & (d - 1))));
			preferred += pref;
			allowed += fits;
			long h0 = honoured, elsewhere = 0;   /* the preferred phase counts only where the rule allows it */
			if (!(pref ? world_find_pref(&w, n, d, prefer, phase, fits ? &honoured : &elsewhere)
				   : world_alloc(&w, n, d, lo, hi)))
				refused++;
			else if (fits && honoured == h0)
				unhonoured++;
			else if (w.allocs - w.alloc_fail != allocs0 + 1)
				bad++;
			unaligned += (w.pow2 - w.pow2_aligned) - p2;
			if (rnd_below(3) == 0 && w.nlive)
				world_free(&w, rnd_below(w.nlive));
		}
		world_verify(&w, 1);
		bad += w.fails != 0;
		if (w.fails)
			printf("# state seed %llu failed\n", (unsigned long long)seed);
		world_fini(&w);
	}
	ok(bad == 0 && refused > requests / 20 && unaligned > 0 && honoured > allowed / 4,
	   "%ld generated states, %ld requests: every one of %ld refusals proven by the free set (%ld powers of two "
	   "placed unaligned where no aligned fit was taken); %ld asked with a preference at any phase, all granted "
	   "ones obeying the rule; of the %ld the rule allows, %ld at the preferred phase, %ld granted elsewhere", states,
	   requests, refused, unaligned, preferred, allowed, honoured, unhonoured);
}

/* Frees on w short extents (1 to max units, max >= 1) in random places, each with an allocated unit on
 * either side so that none merges with another free run; the model follows. */
static void world_scatter_short(struct world *w, uint64_t max)
{
	for (uint64_t u = 1 + rnd_below(8); u < w->npages;) {
		uint64_t l = 1 + rnd_below(max);
		bool alone = u + l < w->npages && !w->model[u - 1] && !w->model[u + l];
		for (uint64_t v = u; alone && v < u + l; v++)
			alone = !w->model[v];
		if (alone && rnd_below(2)) {
			model_set(w, u, l, 1);
			fail_once(w, buddy_free(&w->b, u, l), "scatter refused", u, l);
		}
		u += l + 1 + rnd_below(4 * max + 8);
	}
}

/* The generated tests' free sets: a world of npages units at a random origin (0, or below 1000),
 * left all allocated (WORLD_ALLOCATED), freed whole (WORLD_FREE) or freed in scattered short runs of
 * up to 40 units (WORLD_SCATTERED). Returns 1 when the whole free was refused, else 0. */
enum world_shape { WORLD_ALLOCATED, WORLD_FREE, WORLD_SCATTERED };
static int world_generated(struct world *w, uint64_t npages, enum world_shape shape)
{
	world_init(w, npages, rnd_below(2) ? 0 : rnd_below(1000));
	if (shape == WORLD_FREE) {
		model_set(w, 0, npages, 1);
		return !buddy_free(&w->b, 0, npages);
	}
	if (shape == WORLD_SCATTERED)
		world_scatter_short(w, 1 + rnd_below(40));
	return 0;
}

/*
 * Generated: the common request (no divisor, no preference, unbounded; one unit or not a power of
 * two) is taken from the back of its extent, where the record stays (docs/design.md, "The extent
 * allocator": the fast path). The free set: one extent of at least twice the count (so in a class
 * certain to hold it) among shorter extents than the count; buddy_alloc, buddy_find with buddy_take
 * and buddy_find_take each place the run at that extent's last units.
 */
static void test_fast_path_back(void)
{
	long cases = 0, back = 0, bad = 0;
	rng_state = 0x6261636b66617374ull;
	for (int k = 0; k < 1200; k++) {
		struct world w;
		uint64_t n = rnd_below(4) == 0 ? 1 : 3 + rnd_below(rnd_below(2) ? 20 : 300);
		if ((n & (n - 1)) == 0 && n > 1)
			n++;
		uint64_t len = 2 * n + rnd_below(3 * n + 5), npages = len + 2 + rnd_below(3000);
		uint64_t s0 = rnd_below(npages - len + 1), start = ~0ull;
		world_init(&w, npages, rnd_below(3) ? 0 : rnd_below(1000));
		model_set(&w, s0, len, 1);
		bad += !buddy_free(&w.b, s0, len);
		if (n > 1)
			world_scatter_short(&w, n - 1);
		struct buddy_place p;
		switch (k % 3) {
		case 0:
			if (world_alloc(&w, n, rnd_below(2), 0, npages))
				start = w.live[w.nlive - 1].s;
			break;
		case 1: {
			long h = 0;
			if (world_find_pref(&w, n, rnd_below(2), rnd_below(2), rnd_below(4096), &h))
				start = w.live[w.nlive - 1].s;
			break;
		}
		default:
			if (buddy_find_take(&w.b, n, rnd_below(2), rnd_below(2), rnd_below(4096), &p) == BUDDY_FIND_TAKEN &&
			    world_granted(&w, p.start, n, 0, 0, npages))
				start = p.start;
			break;
		}
		cases++;
		back += start == s0 + len - n;
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && back == cases, "the common request: %ld of %ld runs at the back of the one extent that holds "
	   "them certainly (among shorter ones), by buddy_alloc, buddy_find and buddy_find_take; %ld failures", back,
	   cases, bad);
}

/*
 * Generated: requests at the class mask's word boundary. Class 64 (lengths 65536 to 81919) is bit 0
 * of the mask's second word, and the first class certain to hold a count from 57345 to 65536 (the
 * common request's first class, or phase B's with a divisor's slack): on allocators of 2^18 units
 * whose free extents lie in classes of both words (short ones, and long ones around 2^16), every
 * grant lies on free units inside the bounds and obeys the rule, and every refusal is proven by the
 * model's free set (world_alloc).
 */
static void test_mask_word_boundary(void)
{
	long granted = 0, refused = 0, bad = 0;
	rng_state = 0x6d61736b776f7264ull;
	for (int k = 0; k < 24; k++) {
		struct world w;
		const uint64_t npages = 1u << 18;
		world_init(&w, npages, rnd_below(2) ? 0 : rnd_below(1u << 20));
		for (int j = 0, nlong = 1 + (int)rnd_below(4); j < nlong; j++) {   /* long extents: classes 62 to 67 */
			uint64_t l = 49152 + rnd_below(49152), s = rnd_below(npages - l + 1);
			bool alone = true;
			for (uint64_t u = s ? s - 1 : 0; alone && u < s + l + 1 && u < npages; u++)
				alone = !w.model[u];
			if (alone) {
				model_set(&w, s, l, 1);
				bad += !buddy_free(&w.b, s, l);
			}
		}
		world_scatter_short(&w, 1 + rnd_below(rnd_below(2) ? 50 : 2000));
		for (int q = 0; q < 6; q++) {
			uint64_t n = rnd_below(4) ? 57345 + rnd_below(8191) : 49152 + rnd_below(40000), d = 0;
			switch (rnd_below(5)) {
			case 0: d = 2 + rnd_below(30); break;
			case 1: d = (uint64_t)1 << rnd_below(13); break;
			case 2: d = n; break;
			}
			if (!world_alloc(&w, n, d, 0, npages))
				refused++;
			else if (granted++, rnd_below(2))
				world_free(&w, w.nlive - 1);
		}
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && granted > 40 && refused > 40, "requests of 49152 to 89151 units (classes 62 to 67, both words of "
	   "the class mask): %ld granted by the rule on free units, %ld refused with no fit in the free set, %ld "
	   "failures", granted, refused, bad);
}

/*
 * Generated: an empty free (count 0) at any start from 0 to npages, a free unit's or an allocated
 * one's, is granted and changes nothing (buddy.h refuses a free only when its range leaves
 * [0, npages) or meets a free unit, and an empty range meets none); past npages it is refused.
 */
static void test_free_empty(void)
{
	long granted = 0, at_free = 0, refused = 0, bad = 0;
	rng_state = 0x656d707479667265ull;
	for (int k = 0; k < 40; k++) {
		struct world w;
		uint64_t npages = 1 + rnd_below(k < 20 ? 200 : 5000), c0[BUDDY_ORDERS], c1[BUDDY_ORDERS];
		bad += world_generated(&w, npages, k % 4 == 1 ? WORLD_FREE : k % 4 ? WORLD_SCATTERED : WORLD_ALLOCATED);
		buddy_census(&w.b, c0);
		for (uint64_t s = 0; s <= npages + 2; s++) {
			bool r = buddy_free(&w.b, s, 0);
			if (s <= npages) {
				granted += r;
				at_free += r && s < npages && w.model[s];
				bad += !r;
			} else {
				refused += !r;
				bad += r;
			}
		}
		buddy_census(&w.b, c1);
		bad += memcmp(c0, c1, sizeof(c0)) != 0;
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && at_free > 1000 && refused == 80, "empty frees: %ld granted at starts 0 to npages (%ld of them "
	   "at a free unit), %ld refused past npages, free set unchanged; %ld failures", granted, at_free, refused, bad);
}

/*
 * Generated: a bounded request examines the free extents that meet its bounds [lo, hi), in address
 * order, and no other (buddy.h: linear in the free extents inside them; b->probes counts the
 * extents a search examined). Each request is refused (count one more than the longest free run
 * inside the bounds, yet at most hi - lo and the free units, so the scan runs to its end), and
 * must have examined exactly the extents the model counts meeting [lo, hi): none of those before
 * lo, past hi, or starting at hi, which is often the case.
 */
static void test_bounded_scan_cost(void)
{
	long cases = 0, at_hi = 0, past = 0, bad = 0;
	rng_state = 0x626f756e64736361ull;
	for (int k = 0; k < 300; k++) {
		struct world w;
		uint64_t npages = 64 + rnd_below(4000), lo = rnd_below(npages), hi = lo + 1 + rnd_below(npages - lo);
		world_init(&w, npages, rnd_below(2) ? 0 : rnd_below(1000));
		world_scatter_short(&w, 1 + rnd_below(30));
		if (k % 2) {   /* hi at the start of a free extent past lo, where there is one */
			uint64_t u = lo + 1 + rnd_below(npages - lo);
			while (u < npages && !(w.model[u] && !w.model[u - 1]))
				u++;
			if (u < npages)
				hi = u;
		}
		if (lo == 0 && hi == npages)
			lo = 1;   /* bounded */
		uint64_t meet = 0, longest = 0, beyond = 0;
		for (uint64_t a = 0, e; a < npages; a = e) {
			if (!w.model[a]) {
				e = a + 1;
				continue;
			}
			for (e = a; e < npages && w.model[e]; e++)
				;
			if (a < hi && e > lo) {
				meet++;
				longest = MAX(longest, MIN(e, hi) - MAX(a, lo));
			}
			beyond += a >= hi;
		}
		uint64_t n = longest + 1, d = rnd_below(3) ? 0 : 2 + rnd_below(7), before = w.b.free_units, s;
		if (n <= hi - lo && n <= w.b.free_units) {
			cases++;
			at_hi += hi < npages && w.model[hi] && !w.model[hi - 1];
			past += beyond > 0;
			w.b.probes = 0;
			bad += buddy_alloc(&w.b, n, d, lo, hi, &s) || w.b.free_units != before || w.b.probes != meet;
		}
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && cases > 150 && at_hi > 50 && past > 100, "%ld bounded requests refused, each after examining "
	   "exactly the free extents meeting its bounds (%ld with an extent starting at hi, %ld with extents past "
	   "it); %ld failures", cases, at_hi, past, bad);
}

/*
 * Generated: bounds with lo > hi hold no unit, so every request inside them is refused, changing
 * nothing and examining no extent (buddy.h: a bounded request is linear in the free extents inside
 * its bounds), whatever lo is: just above hi, inside a free extent that also holds hi, at or past
 * npages (hi then clamped to npages or below it), up to 2^64 - 1.
 */
static void test_inverted_bounds(void)
{
	long cases = 0, spanning = 0, bad = 0;
	rng_state = 0x696e766572746564ull;
	for (int k = 0; k < 60; k++) {
		struct world w;
		uint64_t npages = 2 + rnd_below(k < 30 ? 300 : 5000), c0[BUDDY_ORDERS], c1[BUDDY_ORDERS];
		bad += world_generated(&w, npages, k % 3 == 0 ? WORLD_FREE : WORLD_SCATTERED);
		buddy_census(&w.b, c0);
		for (int j = 0; j < 40; j++) {
			uint64_t hi = rnd_below(npages), lo, s = 0x5eed;
			switch (j % 5) {
			case 0: lo = hi + 1; break;
			case 1: lo = hi + 1 + rnd_below(npages - hi); break;
			case 2: lo = npages + rnd_below(130); hi = j % 2 ? npages + rnd_below(lo - npages + 1) : hi; break;
			case 3: lo = (uint64_t)1 << (32 + rnd_below(31)); break;
			default: lo = UINT64_MAX - rnd_below(2); break;
			}
			if (hi >= lo)
				continue;
			uint64_t n = 1 + rnd_below(j % 2 ? 4 : 2 * npages), d = rnd_below(3) ? 0 : 2 + rnd_below(7);
			uint64_t u = hi;
			while (u < npages && u <= lo && w.model[u])
				u++;
			cases++;
			spanning += u > lo;
			w.b.probes = 0;
			bad += buddy_alloc(&w.b, n, d, lo, hi, &s) || s != 0x5eed || w.b.probes != 0;
		}
		buddy_census(&w.b, c1);
		bad += memcmp(c0, c1, sizeof(c0)) != 0;
		world_verify(&w, 1);
		bad += w.fails != 0;
		world_fini(&w);
	}
	ok(bad == 0 && cases > 2000 && spanning > 50, "%ld requests with lo > hi refused, nothing examined nor changed "
	   "(%ld with lo and hi in free units); %ld failures", cases, spanning, bad);
}

/* True when unit u's level-0 word lies in buddy_check_window's window [from, from + span) of n
 * units (wrapping past the last; whole words), computed apart from mm/buddy.c's own arithmetic. */
static bool window_holds(uint64_t n, uint64_t from, uint64_t span, uint64_t u)
{
	if (span >= n)
		return true;
	for (uint64_t k = 0; k < span; k++)   /* each unit of the window, its word's units in turn */
		if (((from + k) % n) >> 6 == u >> 6)
			return true;
	return false;
}

/* buddy_check_window over generated states, windows and corruptions: a corruption only a zero word
 * shows (an end bit no extent ends on, a start bit no summary names) is reported exactly when its
 * word lies in the window (wrapping windows included), by buddy_check always, and by a run of
 * windows that covers the units in turn at the window that holds it; a corruption the extents show
 * (a record's length, an extent's end bit cleared) is reported whatever the window. */
static void test_check_window(void)
{
	long cases = 0, hidden = 0, bad_in = 0, bad_out = 0, bad_full = 0, bad_turn = 0, bad_seen = 0, clean_bad = 0, wraps = 0;
	for (unsigned t = 0; t < 300; t++) {
		uint64_t n = 200 + rnd_below(5000), slotsn = n + 2;
		uint64_t *meta = calloc(1, buddy_meta_bytes(n)), *slots = calloc(slotsn, sizeof(uint64_t));
		struct buddy b;
		buddy_init(&b, n, rnd_below(3) * 1000, meta, slots, 0);
		for (uint64_t u = 0; u < n; u += 1 + rnd_below(40)) {   /* free runs with allocated units between */
			uint64_t len = 1 + rnd_below(rnd_below(2) ? 3 : 300);
			if (u + len < n)
				buddy_free(&b, u, len);
			u += len;
		}
		uint64_t from = rnd_below(n), span = rnd_below(4) ? 1 + rnd_below(n / 2) : rnd_below(2) ? n : UINT64_MAX;
		wraps += span < n && from + span > n;
		clean_bad += buddy_check_window(&b, from, span) != 0 || buddy_check(&b) != 0;
		/* hidden: an end bit where no extent ends, or a start bit in a word no summary names */
		uint64_t u = rnd_below(n);
		bool end_kind = rnd_below(2);
		uint64_t *w = buddy_bm_word0(end_kind ? &b.end : &b.start, u >> 6), keep = *w, bit = (uint64_t)1 << (u & 63);
		bool starts_here = *buddy_bm_word0(&b.start, u >> 6) & bit;
		if ((*w & bit) || (!end_kind && *w) || (end_kind && starts_here))
			goto next;   /* not hidden here: the bit is set, the start word has bits, or an end bit at a
					start would shorten that extent, which the walk sees */
		if (!end_kind && (b.start.lv[1][u >> 12] >> ((u >> 6) & 63) & 1))
			goto next;
		*w |= bit;
		hidden++;
		printf("# expected violations follow\n");
		bool in = window_holds(n, from, span, u), caught = buddy_check_window(&b, from, span) != 0;
		bad_in += in && !caught;
		bad_out += !in && caught;
		bad_full += buddy_check(&b) == 0;
		/* windows of a quarter in turn: the one holding u reports it, none before */
		uint64_t q = (n + 3) / 4, first = UINT64_MAX, want = UINT64_MAX;
		for (uint64_t k = 0; k < 4 && first == UINT64_MAX; k++)
			if (buddy_check_window(&b, k * q, q) != 0)
				first = k;
		for (uint64_t k = 0; k < 4 && want == UINT64_MAX; k++)
			if (window_holds(n, k * q, q, u))
				want = k;   /* a word two quarters share is in both: the first of them */
		bad_turn += first != want;
		*w = keep;
	next:
		/* seen: a record's length changed, or an extent's end bit cleared */
		for (uint64_t s = 0; s + 1 < n; s++)
			if ((*buddy_bm_word0(&b.start, s >> 6) >> (s & 63) & 1) && !(*buddy_bm_word0(&b.end, s >> 6) >> (s & 63) & 1)) {
				uint64_t len = slots[s + 1] >> 1, *ew = buddy_bm_word0(&b.end, (s + len - 1) >> 6);
				uint64_t kr = slots[s + 1], ke = *ew;
				if (rnd_below(2))
					slots[s + 1] = (len + 1 + rnd_below(50)) << 1;
				else
					*ew &= ~((uint64_t)1 << ((s + len - 1) & 63));
				bad_seen += buddy_check_window(&b, rnd_below(n), 1) == 0;
				slots[s + 1] = kr;
				*ew = ke;
				break;
			}
		clean_bad += buddy_check_window(&b, from, span) != 0;
		cases++;
		free(meta);
		free(slots);
	}
	ok(clean_bad == 0, "check window: %ld generated states pass every window and buddy_check", cases);
	ok(hidden > 100 && wraps > 20 && bad_in == 0 && bad_out == 0 && bad_full == 0,
	   "check window: %ld hidden bits (%ld windows wrap): reported inside the window (missed %ld), not outside "
	   "(%ld reported), always by buddy_check (missed %ld)", hidden, wraps, bad_in, bad_out, bad_full);
	ok(bad_turn == 0, "check window: four windows in turn report a hidden bit at the one holding it (%ld wrong)", bad_turn);
	ok(bad_seen == 0, "check window: a record's length or an extent's end bit changed is reported by a one-unit "
	   "window anywhere (missed %ld)", bad_seen);
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;
	static const uint64_t sizes[] = { 1, 2, 3, 7, 64, 100, 255, 256, 1000, 1024, 1500, 4099, 8192 };

	test_basics();
	test_corruption();
	test_check_window();
	test_link_halves();
	test_phase_a_bound();
	test_refused_frees();
	test_no_alignment_required();
	test_preference_fresh();
	test_preference_implied();
	test_huge_divisors();
	test_refusal_property(scale);
	test_fast_path_back();
	test_mask_word_boundary();
	test_free_empty();
	test_bounded_scan_cost();
	test_inverted_bounds();

	uint64_t seed = 1;
	long total = 0;
	/* small regions, buddy_check after every operation */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		for (int rep = 0; rep < 3; rep++, seed++) {
			uint64_t origin = rep == 0 ? 0 : rep == 1 ? 7 : 1000003;
			long nops = 20000 * scale;
			run_seed(seed * 0x1234567ull, sizes[i], origin, nops, 1);
			total += nops;
		}
	/* larger regions, buddy_check periodically */
	for (int rep = 0; rep < 8; rep++, seed++) {
		uint64_t np = 2000 + rnd_below(30000);
		long nops = 50000 * scale;
		run_seed(seed * 0x1234567ull, np, rep & 1 ? 12345 : 0, nops, 97);
		total += nops;
	}
	printf("# %ld random operations\n", total);
	return tap_done();
}
