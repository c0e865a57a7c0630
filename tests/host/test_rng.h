/*
 * The host tests' reproducible generators: Marsaglia's xorshift64 (13, 7, 17) and splitmix64 (whose
 * state may start at any value, 0 included). Each test keeps its own state word and seed, so a
 * failing case is found again by its seed and step.
 */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

/* Advances *state (never 0: xorshift stays at 0) and returns the new value. */
static inline uint64_t test_rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* Advances *state by splitmix64's increment and returns its mix of the new value. */
static inline uint64_t test_splitmix_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
