/*
 * The host tests' reproducible generator: Marsaglia's xorshift64 (13, 7, 17). Each test keeps its
 * own state word and seed, so a failing case is found again by its seed and step.
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

#endif
