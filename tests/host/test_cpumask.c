/*
 * Host test of include/cpumask.h, the CPU set of the kernel's calls and TLB shootdowns and of the
 * fake machine: every operation against a model (one bool per index) on 20000 generated masks, the
 * indexes at the words' edges (0, 63, 64, 127, 128, 191, 192, the last) named one by one, indexes
 * at and above the limit, and the atomic operations with threads: senders adding their bits to
 * one receiver's mask while it takes them, each bit taken exactly once per add; acknowledgements
 * cleared by many threads while one waits for the mask to empty, which it sees only once every
 * answer before a clear is visible.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "cpumask.h"
#include "test_rng.h"

#define N CPUMASK_MAX_CPUS
#define CASES 20000

struct model { bool in[N]; };

/* The threaded cases' bound on any one wait: past it the case stops and fails, never hangs. */
#define WAIT_S 10

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t rng = 0xC0FFEE1234567ULL;

/* A mask and its model, from one of several shapes: empty, full, one index, the words' edges,
 * dense or sparse random. */
static void gen(cpumask_t *m, struct model *d)
{
	static const unsigned edge[] = { 0, 1, 62, 63, 64, 65, 127, 128, 191, 192, N - 2, N - 1 };
	uint64_t r = test_rng_next(&rng);
	unsigned shape = (unsigned)(r % 6);
	*m = cpumask_none();
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < N; i++) {
		bool on;
		switch (shape) {
		case 0: on = false; break;
		case 1: on = true; break;
		case 2: on = i == (unsigned)((r >> 8) % N); break;
		case 3: on = false;
			for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++)
				on |= i == edge[k] && ((r >> (8 + k)) & 1);
			break;
		case 4: on = test_rng_next(&rng) % 4 != 0; break;
		default: on = test_rng_next(&rng) % 23 == 0; break;
		}
		if (on) {
			*m = cpumask_with(*m, i);
			d->in[i] = true;
		}
	}
}

/* True when m holds exactly the model's indexes, and nothing at or above the limit. */
static bool same(cpumask_t m, const struct model *d)
{
	for (unsigned i = 0; i < N; i++)
		if (cpumask_has(m, i) != d->in[i])
			return false;
	unsigned top = CPUMASK_WORDS * 64;
	for (unsigned i = N; i < top; i++)
		if (m.w[i / 64] & (1ULL << (i % 64)))
			return false;
	return !cpumask_has(m, N) && !cpumask_has(m, top) && !cpumask_has(m, ~0u);
}

static unsigned model_from(const struct model *d, unsigned from)
{
	for (unsigned i = from; i < N; i++)
		if (d->in[i])
			return i;
	return N;
}

static unsigned model_last(const struct model *d)
{
	for (unsigned i = N; i-- > 0;)
		if (d->in[i])
			return i;
	return N;
}

static void generated(void)
{
	unsigned bad_ops = 0, bad_iter = 0, bad_query = 0, first_bad = 0;
	for (unsigned c = 0; c < CASES; c++) {
		cpumask_t a, b;
		struct model da, db, want;
		gen(&a, &da);
		gen(&b, &db);
		bool ok_ops = same(a, &da) && same(b, &db);
		for (unsigned i = 0; i < N; i++)
			want.in[i] = da.in[i] && db.in[i];
		ok_ops &= same(cpumask_and(a, b), &want);
		for (unsigned i = 0; i < N; i++)
			want.in[i] = da.in[i] && !db.in[i];
		ok_ops &= same(cpumask_andnot(a, b), &want);
		for (unsigned i = 0; i < N; i++)
			want.in[i] = !da.in[i];
		ok_ops &= same(cpumask_andnot(cpumask_all(), a), &want);
		unsigned k = (unsigned)(test_rng_next(&rng) % (N + 70));   /* sometimes at or above the limit */
		want = da;
		if (k < N)
			want.in[k] = true;
		ok_ops &= same(cpumask_with(a, k), &want);
		if (k < N)
			want.in[k] = false;
		ok_ops &= same(cpumask_without(a, k), &want) && same(cpumask_of(k), &(struct model){ 0 }) == (k >= N);
		ok_ops &= cpumask_equal(a, a) && cpumask_equal(a, b) == !memcmp(&da, &db, sizeof(da));

		/* iteration, first/next/from/last, weight, empty, ring */
		bool ok_iter = true;
		unsigned weight = 0, prev = N, seen = 0;
		cpumask_for_each(i, a) {
			ok_iter &= i < N && da.in[i] && (prev == N || i > prev) && i == model_from(&da, prev == N ? 0 : prev + 1);
			prev = i;
			if (++seen > N)   /* an iteration that does not advance: stop, counted wrong */
				break;
		}
		for (unsigned i = 0; i < N; i++)
			weight += da.in[i];
		ok_iter &= seen == weight && prev == model_last(&da);
		unsigned from = (unsigned)(test_rng_next(&rng) % (N + 10)), from_seen = 0;
		cpumask_for_each_from(i, a, from) {
			ok_iter &= i >= from && da.in[i];
			if (++from_seen > N)
				break;
		}
		unsigned from_want = 0;
		for (unsigned i = from; i < N; i++)
			from_want += da.in[i];
		ok_iter &= from_seen == from_want;
		bool ok_query = cpumask_weight(a) == weight && cpumask_empty(a) == (weight == 0) &&
				cpumask_first(a) == model_from(&da, 0) && cpumask_last(a) == model_last(&da) &&
				cpumask_from(a, from) == (from < N ? model_from(&da, from) : N);
		if (weight) {
			unsigned i = cpumask_first(a), steps = 0;
			do {
				unsigned n = cpumask_ring_next(a, i);
				unsigned want_n = model_from(&da, i + 1);
				ok_query &= n == (want_n < N ? want_n : model_from(&da, 0));
				i = n;
			} while (i != cpumask_first(a) && ++steps <= N);
			ok_query &= steps + 1 == weight;
		}
		if (!(ok_ops && ok_iter && ok_query) && !(bad_ops + bad_iter + bad_query))
			first_bad = c;
		bad_ops += !ok_ops;
		bad_iter += !ok_iter;
		bad_query += !ok_query;
	}
	ok(!bad_ops, "%u generated pairs: and, andnot, complement, with, without, of, equal match the model "
	   "(%u wrong, the first case %u)", CASES, bad_ops, first_bad);
	ok(!bad_iter, "for_each and for_each_from visit each index once, lowest first (%u wrong)", bad_iter);
	ok(!bad_query, "weight, empty, first, last, from and the ring match the model (%u wrong)", bad_query);
}

static void edges(void)
{
	static const unsigned edge[] = { 0, 63, 64, 127, 128, 191, 192, N - 1 };
	bool good = true;
	for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++) {
		unsigned i = edge[k];
		cpumask_t m = cpumask_of(i);
		good &= cpumask_has(m, i) && cpumask_weight(m) == 1 && cpumask_first(m) == i && cpumask_last(m) == i &&
			cpumask_next(m, i) == N && cpumask_ring_next(m, i) == i && cpumask_empty(cpumask_without(m, i));
		if (!good)
			printf("# index %u\n", i);
	}
	ok(good, "each index at a word's edge, alone in a mask: found, counted, first, last, its own ring");
	cpumask_t all = cpumask_all();
	is(cpumask_weight(all), N, "the full mask has every index below the limit");
	ok(!cpumask_has(all, N) && cpumask_last(all) == N - 1 && cpumask_next(all, N - 1) == N,
	   "and none at or above it (%u)", N);
	ok(cpumask_empty(cpumask_of(N)) && cpumask_equal(cpumask_with(all, N), all) && cpumask_next(all, ~0u - 1) == N,
	   "an index at or above the limit is never added, and ends an iteration");
	ok(cpumask_next(all, ~0u) == N && cpumask_next(cpumask_of(0), ~0u) == N,
	   "nothing is above the largest index: next does not wrap to the first");
	struct { cpumask_t m; uint64_t guard[4]; } g = { cpumask_none(), { 0 } };
	for (unsigned i = N; i < N + 300; i++)
		cpumask_atomic_add(&g.m, i, __ATOMIC_RELAXED);
	cpumask_atomic_add(&g.m, ~0u, __ATOMIC_RELAXED);
	bool untouched = cpumask_empty(g.m) && !(g.guard[0] | g.guard[1] | g.guard[2] | g.guard[3]);
	g.m = cpumask_all();
	for (unsigned i = N; i < N + 300; i++)
		cpumask_atomic_del(&g.m, i, __ATOMIC_RELAXED);
	untouched &= cpumask_equal(g.m, cpumask_all()) && !(g.guard[0] | g.guard[1] | g.guard[2] | g.guard[3]);
	ok(untouched, "the atomic add and remove of an index at or above the limit change nothing, the mask's "
	   "last word and what follows it included");
	ok(cpumask_first(cpumask_none()) == N && cpumask_last(cpumask_none()) == N && cpumask_empty(cpumask_none()),
	   "the empty mask: no first, no last");
	/* Bits past the limit, which no helper sets (a mask built from raw words, or corrupt): the
	 * index the limit names and those above it still read as absent and are never removed. */
	cpumask_t raw = { { ~0ULL, ~0ULL, ~0ULL, ~0ULL } }, kept = raw;
	bool past = !cpumask_has(raw, N) && cpumask_next(raw, N - 1) == N && cpumask_next(raw, N - 2) == N - 1;
	cpumask_del(&kept, N);
	past &= cpumask_equal(kept, raw);
	cpumask_atomic_del(&kept, N, __ATOMIC_RELAXED);
	past &= cpumask_equal(kept, raw);
	ok(past, "in a mask whose raw words are all ones, index %u is absent, ends an iteration and is never removed", N);
	bool empties = cpumask_atomic_empty(&(cpumask_t){ { 0 } }, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < N; i++) {
		cpumask_t one = cpumask_of(i);
		empties &= !cpumask_atomic_empty(&one, __ATOMIC_RELAXED) && !cpumask_empty(one);
	}
	ok(empties, "the empty tests, plain and atomic, see each index of every word alone");
	_Static_assert(CPUMASK_MAX_CPUS < 256, "a CPU index + 1 fits the region's owner byte");
	_Static_assert(CPUMASK_WORDS * 64 >= CPUMASK_MAX_CPUS && (CPUMASK_WORDS - 1) * 64 < CPUMASK_MAX_CPUS,
		       "as many words as the limit needs");
}

/* Threads: senders post their own index to one receiver's pending mask, each only once its last
 * post was taken (as a CPU's slot in another's call_slot), while the receiver takes the mask and
 * answers by clearing the sender's bit in the sender's ack mask. */
#define SENDERS 8
#define POSTS 5000
static cpumask_t pending;
static cpumask_t acks[SENDERS];
static uint64_t taken[N];
static const unsigned sender_index[SENDERS] = { 1, 63, 64, 100, 127, 128, 200, N - 1 };
static int stop, gave_up;   /* set once; read by every thread (atomics) */

static void *sender(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg, me = sender_index[k];
	for (unsigned p = 0; p < POSTS; p++) {
		cpumask_atomic_add(&acks[k], 0, __ATOMIC_RELAXED);
		cpumask_atomic_add(&pending, me, __ATOMIC_RELEASE);
		double end = now_s() + WAIT_S;
		while (cpumask_has(cpumask_atomic_load(&acks[k], __ATOMIC_ACQUIRE), 0) &&
		       !__atomic_load_n(&gave_up, __ATOMIC_RELAXED))
			if (now_s() > end)
				__atomic_store_n(&gave_up, 1, __ATOMIC_RELAXED);
			else
				sched_yield();
		if (__atomic_load_n(&gave_up, __ATOMIC_RELAXED))
			break;
	}
	return NULL;
}

static void *receiver(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE) || !cpumask_empty(cpumask_atomic_load(&pending, __ATOMIC_ACQUIRE))) {
		cpumask_t got = cpumask_atomic_take(&pending);
		if (cpumask_empty(got))
			sched_yield();
		cpumask_for_each(i, got) {
			taken[i]++;
			for (unsigned k = 0; k < SENDERS; k++)
				if (sender_index[k] == i)
					cpumask_atomic_del(&acks[k], 0, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static void threads(void)
{
	pthread_t s[SENDERS], r;
	pthread_create(&r, NULL, receiver, NULL);
	for (unsigned k = 0; k < SENDERS; k++)
		pthread_create(&s[k], NULL, sender, (void *)(uintptr_t)k);
	for (unsigned k = 0; k < SENDERS; k++)
		pthread_join(s[k], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	bool good = true;
	uint64_t others = 0;
	for (unsigned i = 0; i < N; i++) {
		bool is_sender = false;
		for (unsigned k = 0; k < SENDERS; k++)
			is_sender |= sender_index[k] == i;
		if (is_sender)
			good &= taken[i] == POSTS;
		else
			others += taken[i];
	}
	ok(good && others == 0 && !__atomic_load_n(&gave_up, __ATOMIC_RELAXED),
	   "%d senders (indexes in every word) posting %d times each while a receiver takes: "
	   "each post taken exactly once, nothing else", SENDERS, POSTS);
}

/* One waiter's acknowledgement mask over every index; ACKERS threads each answer for their share of
 * the indexes (index % ACKERS), in rounds: for each index, the round's stamp (what a receiver's
 * invalidation is to a shootdown), then its bit cleared with release. A waiter that sees the mask
 * empty (acquire) must see every stamp of the round: no word may look empty before its last clear. */
#define ACKERS 5
#define ROUNDS 2000
static cpumask_t round_acks;
static unsigned round_no, stamp[N];

static void *acker(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg;
	for (unsigned r = 1; r <= ROUNDS; r++) {
		while (__atomic_load_n(&round_no, __ATOMIC_ACQUIRE) < r && !__atomic_load_n(&gave_up, __ATOMIC_RELAXED))
			sched_yield();
		if (__atomic_load_n(&gave_up, __ATOMIC_RELAXED))
			break;
		for (unsigned i = k; i < N; i += ACKERS) {
			__atomic_store_n(&stamp[i], r, __ATOMIC_RELAXED);
			cpumask_atomic_del(&round_acks, i, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static void acknowledgements(void)
{
	pthread_t t[ACKERS];
	for (unsigned k = 0; k < ACKERS; k++)
		pthread_create(&t[k], NULL, acker, (void *)(uintptr_t)k);
	unsigned early = 0;
	for (unsigned r = 1; r <= ROUNDS; r++) {
		cpumask_atomic_store(&round_acks, cpumask_all(), __ATOMIC_RELAXED);
		__atomic_store_n(&round_no, r, __ATOMIC_RELEASE);
		double end = now_s() + WAIT_S;
		while (!cpumask_empty(cpumask_atomic_load(&round_acks, __ATOMIC_ACQUIRE)) && now_s() < end)
			sched_yield();
		if (!cpumask_empty(cpumask_atomic_load(&round_acks, __ATOMIC_ACQUIRE))) {
			__atomic_store_n(&gave_up, 1, __ATOMIC_RELAXED);
			early = early ? early : 1;
			printf("# round %u: the mask never emptied within %d s\n", r, WAIT_S);
			break;
		}
		for (unsigned i = 0; i < N; i++)
			early += __atomic_load_n(&stamp[i], __ATOMIC_RELAXED) != r;
	}
	for (unsigned k = 0; k < ACKERS; k++)
		pthread_join(t[k], NULL);
	ok(early == 0, "%d rounds of %d threads answering for all %u indexes: the waiter saw the mask empty only "
	   "with every answer of the round visible (%u missing)", ROUNDS, ACKERS, N, early);
}

int main(void)
{
	generated();
	edges();
	threads();
	acknowledgements();
	return tap_done();
}
