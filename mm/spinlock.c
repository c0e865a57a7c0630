/*
 * The lock order's bookkeeping and its reports (contract and order in include/spinlock.h). The
 * fast paths are inline in the header; this file holds the per-CPU record of the ranks held and
 * the two slow paths, which raise the bug checks.
 */
#include "spinlock.h"
#include "bugcheck.h"

struct spin_cpu spin_cpus[ARCH_MAX_CPUS];

void spin_order_violation(spinlock_t *l, unsigned cpu)
{
	KASSERT(l->rank != LOCK_RANK_NONE, "lock %p taken before spin_init", (void *)l);
	if (spin_held(l)) {
		KeBugCheckEx(BUGCHECK_SPIN_LOCK_ALREADY_OWNED, (uint64_t)l, cpu, l->rank, (uint64_t)l->name);
		/* Intercepted: going on would spin on this CPU's own lock for ever. */
		kpanic("spin_lock: CPU %u took its own %s lock again (bug check 0x0F intercepted)", cpu, l->name);
	}
	KeBugCheckEx(BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, LOCK_BUGCHECK_ORDER, (uint64_t)l, l->rank,
		     spin_cpus[cpu].held);
}

void spin_owner_violation(spinlock_t *l, unsigned cpu)
{
	KeBugCheckEx(BUGCHECK_SPIN_LOCK_NOT_OWNED, (uint64_t)l, cpu, __atomic_load_n(&l->owner, __ATOMIC_RELAXED),
		     (uint64_t)l->name);
}
