/*
 * cpumask_: a set of CPU indexes, 0 .. CPUMASK_MAX_CPUS - 1, as an array of 64-bit words.
 *
 * The one CPU set of the kernel (arch/x86_64: who is online, whom a call or a TLB shootdown asks,
 * who still owes an answer) and of the host's fake machine (tests/host/fake_arch.c), through the
 * mm seam's arch_cpumask_t (include/arch_mm.h). Masks are small values (CPUMASK_WORDS words):
 * passed and returned by value; bits at or above CPUMASK_MAX_CPUS are never set.
 *
 * The limit, 255 CPUs: a CPU index + 1 fits the one byte the region keeps per chunk for its owner
 * (mm/syspte_cache.h; 0 is "no owner"), and it is every CPU the APICs can address in xAPIC mode
 * (ids 0..254, 0xFF being the broadcast). A machine with more CPUs runs on its first 255; the
 * others are named on the console and not started (arch/x86_64/smp_plan.c).
 *
 * Shared masks (a CPU's pending requests, the acknowledgements a shootdown waits for, the online
 * set) change through cpumask_atomic_*, one atomic operation per word. A reader that loads a mask
 * sees each word as it was at some moment, not all words at one moment; every protocol built on
 * these masks reasons per bit (a bit that only ever goes from set to clear while a waiter looks,
 * or a bit whose store is ordered before the load by a fence), which per-word atomicity keeps.
 */
#ifndef CPUMASK_H
#define CPUMASK_H

#include <stdbool.h>
#include <stdint.h>

#define CPUMASK_MAX_CPUS 255u
#define CPUMASK_WORDS ((CPUMASK_MAX_CPUS + 63) / 64)

typedef struct cpumask {
	uint64_t w[CPUMASK_WORDS];   /* bit i % 64 of word i / 64: the CPU of index i */
} cpumask_t;

/* The word of a mask that holds CPU i's bit, and the bit in it. */
#define CPUMASK_WORD(i) ((i) / 64)
#define CPUMASK_BIT(i) (1ULL << ((i) % 64))

/* The empty set. */
static inline cpumask_t cpumask_none(void)
{
	return (cpumask_t){ { 0 } };
}

/* Every index the kernel can run: 0 .. CPUMASK_MAX_CPUS - 1. */
static inline cpumask_t cpumask_all(void)
{
	cpumask_t m;
	for (unsigned k = 0; k < CPUMASK_WORDS; k++) {
		unsigned lo = k * 64;
		m.w[k] = CPUMASK_MAX_CPUS - lo >= 64 ? ~0ULL : (1ULL << (CPUMASK_MAX_CPUS - lo)) - 1;
	}
	return m;
}

/* True when i is in m; false for every i at or above the limit. */
static inline bool cpumask_has(cpumask_t m, unsigned i)
{
	return i < CPUMASK_MAX_CPUS && (m.w[CPUMASK_WORD(i)] & CPUMASK_BIT(i));
}

/* Adds i to *m in place (an index at or above the limit changes nothing). The in-place forms keep a
 * hot path's mask where it is: a copy of a mask just stored word by word costs a stalled load on a
 * host that copies it in 16-byte pieces. */
static inline void cpumask_add(cpumask_t *m, unsigned i)
{
	if (i < CPUMASK_MAX_CPUS)
		m->w[CPUMASK_WORD(i)] |= CPUMASK_BIT(i);
}

/* Removes i from *m in place. */
static inline void cpumask_del(cpumask_t *m, unsigned i)
{
	if (i < CPUMASK_MAX_CPUS)
		m->w[CPUMASK_WORD(i)] &= ~CPUMASK_BIT(i);
}

/* m with i added (i below the limit; an index at or above it leaves m as it is). */
static inline cpumask_t cpumask_with(cpumask_t m, unsigned i)
{
	cpumask_add(&m, i);
	return m;
}

/* m without i. */
static inline cpumask_t cpumask_without(cpumask_t m, unsigned i)
{
	cpumask_del(&m, i);
	return m;
}

/* The set {i} (empty when i is at or above the limit). */
static inline cpumask_t cpumask_of(unsigned i)
{
	return cpumask_with(cpumask_none(), i);
}

/* a & b, a & ~b. */
static inline cpumask_t cpumask_and(cpumask_t a, cpumask_t b)
{
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		a.w[k] &= b.w[k];
	return a;
}

static inline cpumask_t cpumask_andnot(cpumask_t a, cpumask_t b)
{
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		a.w[k] &= ~b.w[k];
	return a;
}

/* True when m has no CPU. */
static inline bool cpumask_empty(cpumask_t m)
{
	uint64_t any = 0;
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		any |= m.w[k];
	return any == 0;
}

static inline bool cpumask_equal(cpumask_t a, cpumask_t b)
{
	uint64_t diff = 0;
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		diff |= a.w[k] ^ b.w[k];
	return diff == 0;
}

/* The number of CPUs in m (no popcnt instruction assumed). */
static inline unsigned cpumask_weight(cpumask_t m)
{
	unsigned n = 0;
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		for (uint64_t x = m.w[k]; x; x &= x - 1)
			n++;
	return n;
}

/* The lowest index in m at or above from; CPUMASK_MAX_CPUS when there is none. */
static inline unsigned cpumask_from(cpumask_t m, unsigned from)
{
	for (unsigned k = CPUMASK_WORD(from); k < CPUMASK_WORDS; k++) {
		uint64_t x = m.w[k];
		if (k == CPUMASK_WORD(from))
			x &= ~(CPUMASK_BIT(from) - 1);
		if (x)
			return k * 64 + (unsigned)__builtin_ctzll(x);
	}
	return CPUMASK_MAX_CPUS;
}

/* The lowest index in m; CPUMASK_MAX_CPUS when m is empty. */
static inline unsigned cpumask_first(cpumask_t m)
{
	return cpumask_from(m, 0);
}

/* The highest index in m; CPUMASK_MAX_CPUS when m is empty. */
static inline unsigned cpumask_last(cpumask_t m)
{
	for (unsigned k = CPUMASK_WORDS; k-- > 0;)
		if (m.w[k])
			return k * 64 + 63 - (unsigned)__builtin_clzll(m.w[k]);
	return CPUMASK_MAX_CPUS;
}

/* The lowest index in m above i; CPUMASK_MAX_CPUS when there is none. */
static inline unsigned cpumask_next(cpumask_t m, unsigned i)
{
	return i >= CPUMASK_MAX_CPUS - 1 ? CPUMASK_MAX_CPUS : cpumask_from(m, i + 1);
}

/* The CPU after i in m (m not empty), wrapping to m's first: a ring over m. */
static inline unsigned cpumask_ring_next(cpumask_t m, unsigned i)
{
	unsigned n = cpumask_next(m, i);
	return n < CPUMASK_MAX_CPUS ? n : cpumask_first(m);
}

/* Runs the statement that follows for each index i of the mask m, lowest first (m: an lvalue or a
 * value, read again at each step). */
#define cpumask_for_each(i, m) \
	for (unsigned i = cpumask_first(m); i < CPUMASK_MAX_CPUS; i = cpumask_next((m), i))

/* The same, for the indexes of m at or above from only. */
#define cpumask_for_each_from(i, m, from) \
	for (unsigned i = cpumask_from((m), (from)); i < CPUMASK_MAX_CPUS; i = cpumask_next((m), i))

/* Adds i to the shared mask *m: one atomic OR of its word, with the memory order given (an index
 * at or above the limit changes nothing, as in cpumask_with). */
static inline void cpumask_atomic_add(cpumask_t *m, unsigned i, int order)
{
	if (i < CPUMASK_MAX_CPUS)
		__atomic_fetch_or(&m->w[CPUMASK_WORD(i)], CPUMASK_BIT(i), order);
}

/* Removes i from the shared mask *m: one atomic AND of its word. */
static inline void cpumask_atomic_del(cpumask_t *m, unsigned i, int order)
{
	if (i < CPUMASK_MAX_CPUS)
		__atomic_fetch_and(&m->w[CPUMASK_WORD(i)], ~CPUMASK_BIT(i), order);
}

/* The shared mask *m, each word an atomic load with the memory order given. Written out word by
 * word, so the compiler builds the value where the caller keeps it, not in a copy. */
_Static_assert(CPUMASK_WORDS == 4, "cpumask_atomic_load names each word");
static inline cpumask_t cpumask_atomic_load(const cpumask_t *m, int order)
{
	return (cpumask_t){ { __atomic_load_n(&m->w[0], order), __atomic_load_n(&m->w[1], order),
			      __atomic_load_n(&m->w[2], order), __atomic_load_n(&m->w[3], order) } };
}

/* True when the shared mask *m has no CPU: each word an atomic load with the memory order given,
 * none copied (a poll's test, kept free of a mask's copy through memory). */
static inline bool cpumask_atomic_empty(const cpumask_t *m, int order)
{
	return (__atomic_load_n(&m->w[0], order) | __atomic_load_n(&m->w[1], order) | __atomic_load_n(&m->w[2], order) |
		__atomic_load_n(&m->w[3], order)) == 0;
}

/* Stores v into the shared mask *m, each word an atomic store with the memory order given. */
static inline void cpumask_atomic_store(cpumask_t *m, cpumask_t v, int order)
{
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		__atomic_store_n(&m->w[k], v.w[k], order);
}

/* Takes every CPU out of the shared mask *m and returns them: each word exchanged with 0 (acquire).
 * A word already 0 is read, not written, so a receiver polling an empty mask keeps its line shared. */
static inline cpumask_t cpumask_atomic_take(cpumask_t *m)
{
	cpumask_t v;
	for (unsigned k = 0; k < CPUMASK_WORDS; k++)
		v.w[k] = __atomic_load_n(&m->w[k], __ATOMIC_RELAXED) ? __atomic_exchange_n(&m->w[k], 0, __ATOMIC_ACQUIRE) : 0;
	return v;
}

#endif
