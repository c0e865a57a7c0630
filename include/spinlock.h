/* A test-and-test-and-set spinlock taken with interrupts disabled; usable from any context. */
#ifndef SPINLOCK_H
#define SPINLOCK_H

#include "arch_mm.h"

typedef struct spinlock {
	volatile uint32_t locked;
} spinlock_t;

#define SPINLOCK_INIT { 0 }

/* Disables interrupts, takes the lock, returns the interrupt state to pass to spin_unlock. */
static inline uint64_t spin_lock(spinlock_t *l)
{
	uint64_t flags = arch_irq_save();
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			arch_cpu_relax();
	return flags;
}

static inline void spin_unlock(spinlock_t *l, uint64_t flags)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	arch_irq_restore(flags);
}

static inline bool spin_is_locked(const spinlock_t *l)
{
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}

#endif
