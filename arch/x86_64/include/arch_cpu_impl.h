/*
 * The kernel's arch_cpu_index (contract in include/arch_mm.h), inline because every spin lock, unlock
 * and held-lock check asks it: one load of the running CPU's index from its struct percpu through
 * the GS base (arch/x86_64/percpu.h, which asserts the offset below). Only include/arch_mm.h
 * includes this file (tools/check-layers.sh). There is no scheduler, so the index never changes
 * under running code and the compiler may reuse a read.
 */
#ifndef ARCH_CPU_IMPL_H
#define ARCH_CPU_IMPL_H

#define ARCH_PERCPU_INDEX_OFFSET 8   /* offsetof(struct percpu, index) */

static inline unsigned arch_cpu_index(void)
{
	unsigned i;
	__asm__("movl %%gs:%c1, %0" : "=r"(i) : "i"(ARCH_PERCPU_INDEX_OFFSET));
	return i;
}

#endif
