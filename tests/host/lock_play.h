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

/* A caller's change to its frames (pfns[at] = value) while its call spins on the lock held, played
 * once from the fake CPU's poll hook (fake_cpu_poll_hook = lock_play_race_spun), then that lock let
 * go: how tests drive a map whose MDL changes under it. */
static struct {
	spinlock_t *held;
	uint64_t *pfns, at, value;
	bool ran;
} lock_play_race __attribute__((unused));

/* The poll hook of lock_play_race: the write and the release, once. */
static inline void lock_play_race_spun(void)
{
	if (lock_play_race.ran)
		return;
	lock_play_race.ran = true;
	lock_play_race.pfns[lock_play_race.at] = lock_play_race.value;
	lock_play_release(lock_play_race.held);
}

#endif
