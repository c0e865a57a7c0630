/*
 * Host tests playing another CPU's part in a spinlock: holding it as CPU cpu, and letting it go as
 * that CPU's unlock would (from a spin hook, while the running CPU waits for it). Neither runs the
 * lock's code or checks: they stand for a CPU the test does not run.
 */
#ifndef TESTS_HOST_LOCK_PLAY_H
#define TESTS_HOST_LOCK_PLAY_H

#include "spinlock.h"

/* l as held by CPU cpu (its owner field is the CPU index + 1). */
static inline void lock_play_hold(spinlock_t *l, unsigned cpu)
{
	l->locked = 1;
	l->owner = cpu + 1;
}

/* l let go: the owner cleared first, then the lock word, with release order. */
static inline void lock_play_release(spinlock_t *l)
{
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
