/*
 * Host test of the CPU and interrupt-state part of the mm seam (include/arch_mm.h) on the fake
 * machine (tests/host/fake_arch.c): one CPU, index 0; arch_cpu_call runs fn here exactly when the
 * mask names CPU 0, with interrupts disabled and the state restored after; arch_irq_save sections
 * nest and are counted, and interrupts come back only with the outermost.
 */
#include "tap.h"
#include "arch_mm.h"
#include "fake_arch.h"

static unsigned ran;
static bool irqs_in_fn;
static unsigned depth_in_fn;

static void count(void *arg)
{
	ran += *(unsigned *)arg;
	irqs_in_fn = arch_irqs_enabled();
	depth_in_fn = arch_irq_depth();
}

int main(void)
{
	unsigned one = 1;

	is(arch_cpu_index(), 0, "the fake machine's CPU is index 0");
	is(arch_cpus_online(), 1, "and the only one online");
	ok(arch_irqs_enabled() && arch_irq_depth() == 0 && !arch_in_interrupt(), "interrupts start enabled, no section open");

	uint64_t calls = fake_cpu_calls;
	arch_cpu_call(1, count, &one);
	ok(ran == 1 && fake_cpu_calls == calls + 1, "a call for CPU 0 runs once");
	ok(!irqs_in_fn && depth_in_fn == 1, "with interrupts disabled inside one section");
	ok(arch_irqs_enabled() && arch_irq_depth() == 0, "and the interrupt state restored after");
	arch_cpu_call(~(arch_cpumask_t)1, count, &one);
	arch_cpu_call(0, count, &one);
	is(ran, 1, "a mask without CPU 0 (other CPUs only, or none) runs nothing on the fake machine");
	uint64_t polls = fake_cpu_polls;
	arch_cpu_poll();
	is(ran, 1, "polling runs nothing: no other CPU posts calls");
	is(fake_cpu_polls, polls + 1, "the poll is counted");

	uint64_t outer = arch_irq_save();
	uint64_t inner = arch_irq_save();
	ok(!arch_irqs_enabled() && arch_irq_depth() == 2, "two nested sections: disabled, depth 2");
	arch_cpu_call(1, count, &one);
	ok(ran == 2 && depth_in_fn == 3 && !irqs_in_fn, "a call from inside sections nests one deeper");
	arch_irq_restore(inner);
	ok(!arch_irqs_enabled() && arch_irq_depth() == 1, "the inner restore leaves interrupts disabled");
	arch_irq_restore(outer);
	ok(arch_irqs_enabled() && arch_irq_depth() == 0, "the outermost restore enables them again");
	return tap_done();
}
