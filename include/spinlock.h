/*
 * Spin locks, taken with interrupts disabled; usable from any context. Each lock has a rank and,
 * while held, an owner: the index of the CPU holding it (arch_cpu_index, include/arch_mm.h).
 *
 * The lock order: a CPU may take a lock only while every lock it holds has a lower rank, so two
 * locks of one rank never nest and no CPU ever takes one of its own locks again. This list is the
 * order, lowest rank first; docs/design.md ("Locking") gives the reasons.
 *
 *   LOCK_RANK_POOL     the nonpaged pool (mm/pool.c). Takes PHYS inside it: slab and large-block
 *                      pages come from the physical allocator and go back to it.
 *   LOCK_RANK_SYSPTE   a system PTE region (mm/syspte*.c). Takes SYSPTE_CACHE inside it (a drain,
 *                      a refill, a walk's freeze, a map of a cached reservation), PT (a
 *                      reservation's or a cached chunk's page tables, made on demand) and PHYS:
 *                      pages for the index, the allocator's chunks and the caches as they grow. It writes its own
 *                      PTEs, in those tables, under its own lock.
 *   LOCK_RANK_SYSPTE_CACHE  one CPU's cache of a region's free space (mm/syspte_cache.c). Held
 *                      alone on the fast paths of reserve, free, map, unmap and lookup of a
 *                      cached reservation (an unmap's TLB shootdown included); under the region's lock when
 *                      the region refills, drains or reads it. Takes PT and PHYS inside it (a new
 *                      chunk's tables and the cache's own pages, under the region's lock too). One
 *                      CPU's cache lock never nests in another's.
 *   LOCK_RANK_PT       an address space's page tables (mm/pt.c). Takes PHYS inside it: a missing
 *                      table, or a large page split.
 *   LOCK_RANK_PHYS     the physical allocator (mm/phys.c). Takes only CONSOLE (its checker and dump
 *                      print).
 *   LOCK_RANK_CONSOLE  the console (kernel/console.c): code under any other lock may print.
 *   LOCK_RANK_TEST_*   locks of the tests that exercise this order, never taken by the kernel.
 *
 * Breaking the order is caught when it happens, in every mode (its cost is a compare of a per-CPU
 * word): taking a lock this CPU holds would never return and is bug check 0x0F
 * SPIN_LOCK_ALREADY_OWNED; taking one below a held rank is bug check 0xC4
 * DRIVER_VERIFIER_DETECTED_VIOLATION, P1 0x1001 (the lock is then taken, if a test hook returns);
 * releasing a lock this CPU does not hold is bug check 0x10 SPIN_LOCK_NOT_OWNED (nothing released,
 * the interrupt state untouched).
 * The parameters are in mm/bugcheck.c. Code that runs where it cannot know which locks are held
 * (the page-fault path, fatal reports) asks spin_may_take first and works without the lock.
 *
 * Functions named *_locked require their lock held by the running CPU and assert it
 * (spin_assert_held).
 *
 * A CPU spinning for a lock has interrupts disabled, so it runs the calls other CPUs posted to it
 * (arch_cpu_poll, include/arch_mm.h) in its loop: a CPU that holds a lock and waits for the others
 * to run a call is never blocked by one waiting for that lock, and a TLB shootdown is not held up
 * by CPUs waiting for locks. On the host's fake machine the poll does nothing.
 */
#ifndef SPINLOCK_H
#define SPINLOCK_H

#include "arch_mm.h"
#include "kassert.h"

enum lock_rank {
	LOCK_RANK_NONE = 0,        /* not initialised: taking such a lock is a panic */
	LOCK_RANK_POOL = 1,
	LOCK_RANK_SYSPTE = 2,
	LOCK_RANK_SYSPTE_CACHE = 3,
	LOCK_RANK_PT = 4,
	LOCK_RANK_PHYS = 5,
	LOCK_RANK_CONSOLE = 6,
	LOCK_RANK_TEST_LOW = 30,   /* tests only */
	LOCK_RANK_TEST_HIGH = 31,  /* tests only */
};

typedef struct spinlock {
	volatile uint32_t locked;
	uint32_t owner;            /* CPU index + 1 of the holder, 0 when free */
	uint32_t rank;             /* enum lock_rank */
	const char *name;          /* for reports */
} spinlock_t;

#define SPINLOCK_INIT(rank_, name_) { .locked = 0, .owner = 0, .rank = (rank_), .name = (name_) }

/* The ranks each CPU holds, bit r for rank r; each CPU reads and writes only its own. */
struct spin_cpu {
	uint32_t held;
} __attribute__((aligned(64)));
extern struct spin_cpu spin_cpus[ARCH_MAX_CPUS];

/* Reports a lock taken out of order or again (bug check 0xC4 or 0x0F); returns only when a test
 * hook intercepted an order violation, and then the caller takes the lock. */
void spin_order_violation(spinlock_t *l, unsigned cpu);
/* Reports a release by a CPU that does not hold the lock (bug check 0x10); returns when intercepted. */
void spin_owner_violation(spinlock_t *l, unsigned cpu);

/* Makes l a free lock of the given rank (for locks inside structures). */
static inline void spin_init(spinlock_t *l, enum lock_rank rank, const char *name)
{
	*l = (spinlock_t)SPINLOCK_INIT(rank, name);
}

/* True when the running CPU holds l. */
static inline bool spin_held(const spinlock_t *l)
{
	return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) == arch_cpu_index() + 1;
}

/* True when the running CPU may take l now: it holds no lock of l's rank or above (l included). */
static inline bool spin_may_take(const spinlock_t *l)
{
	return (spin_cpus[arch_cpu_index()].held >> l->rank) == 0 && l->rank != LOCK_RANK_NONE;
}

#define spin_assert_held(l) \
	KASSERT(spin_held(l), "%s lock (%p) not held by CPU %u", (l)->name, (const void *)(l), arch_cpu_index())

/*
 * Disables interrupts, takes the lock in order, returns the interrupt state to pass to spin_unlock.
 * An NMI or machine check may land on any instruction, and its handler prints (console_write asks
 * spin_may_take): so the rank is among this CPU's held ones from before the exchange that takes the
 * lock (and while it spins, polling, it is not), and spin_unlock gives it up only after the store
 * that frees the lock. The compiler barriers keep those stores where they are.
 */
static inline uint64_t spin_lock(spinlock_t *l)
{
	unsigned cpu = arch_cpu_index();
	if (__builtin_expect((spin_cpus[cpu].held >> l->rank) != 0 || l->rank == LOCK_RANK_NONE, 0))
		spin_order_violation(l, cpu);
	uint32_t rank_bit = 1u << l->rank;
	uint64_t flags = arch_irq_save();
	spin_cpus[cpu].held |= rank_bit;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		spin_cpus[cpu].held &= ~rank_bit;
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
			arch_cpu_poll();
			arch_cpu_relax();
		}
		spin_cpus[cpu].held |= rank_bit;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&l->owner, cpu + 1, __ATOMIC_RELAXED);
	return flags;
}

/*
 * Releases a lock this CPU holds and restores the interrupt state spin_lock returned. A CPU that
 * does not hold l opened no interrupt section with it, so after the report (when a test hook
 * returns) nothing is released and its interrupt state stays as it is.
 */
static inline void spin_unlock(spinlock_t *l, uint64_t flags)
{
	unsigned cpu = arch_cpu_index();
	if (__builtin_expect(__atomic_load_n(&l->owner, __ATOMIC_RELAXED) != cpu + 1, 0)) {
		spin_owner_violation(l, cpu);
		return;
	}
	uint32_t rank_bit = 1u << l->rank;   /* read before the release: l may be another CPU's after it */
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	spin_cpus[cpu].held &= ~rank_bit;
	arch_irq_restore(flags);
}

#endif
