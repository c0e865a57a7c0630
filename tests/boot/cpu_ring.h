/* For the boot tests that run every online CPU at once and have each hand work on to the next
 * (test_pcpu, test_shootdown): that next CPU, a ring over the online ones. */
#ifndef CPU_RING_H
#define CPU_RING_H

#include "percpu.h"

/* next[i] for each CPU i of online: the online CPU after i, wrapping to the first. */
static inline void cpu_ring_fill(cpumask_t online, unsigned next[SMP_MAX_CPUS])
{
	cpumask_for_each(i, online) {
		next[i] = cpumask_ring_next(online, i);
	}
}

#endif
