/*
 * Deliberate failures chosen by `crashtest=` on the command line, so the fatal paths are tested
 * end to end in QEMU (tools/fault-test.sh checks the report text and the exit code).
 */
#include "crashtest.h"
#include "kernel.h"
#include "kassert.h"
#include "kprintf.h"
#include "wdm.h"
#include "kstring.h"
#include "panic.h"
#include "console.h"
#include "smp.h"
#include "tsc.h"
#include "vm.h"
#include "fbcon.h"

#define CRASH_TAG 0x68737243u   /* 'Crsh' */
/* crashtest=panic2: how long each of its two CPUs waits for the other's step before failing anyway. */
#define CRASHTEST_PAIR_WAIT_US 5000000

/* The two CPUs of crashtest=panic2: the boot CPU holds the console; the other fails first. */
struct crashtest_pair {
	unsigned first;                   /* the CPU whose fatal error must be reported whole */
	volatile uint32_t console_held;   /* set once the boot CPU holds the console's lock */
	uint64_t start;                   /* TSC when the boot CPU called the pair */
};

/* True while the pair's CPUs still wait for each other's step (CRASHTEST_PAIR_WAIT_US from start). */
static bool crashtest_pair_in_time(const struct crashtest_pair *p)
{
	return tsc_read() - p->start < tsc_us_to_ticks(CRASHTEST_PAIR_WAIT_US);
}

/*
 * Runs on both CPUs of the pair at once, interrupts off. The first fails once the boot CPU holds
 * the console, so its report starts (it owns the machine's end) and waits for the console; the
 * boot CPU then fails too, console in hand: it must give the console back and stop, and the first
 * CPU's report come out whole, naming the second error in one line.
 */
static void crashtest_pair_fail(void *arg)
{
	struct crashtest_pair *p = arg;
	if (smp_self() == p->first) {
		while (!__atomic_load_n(&p->console_held, __ATOMIC_ACQUIRE) && crashtest_pair_in_time(p))
			arch_cpu_relax();
		kpanic("crash test: the first fatal error, on CPU %u", p->first);
	}
	console_hold();
	__atomic_store_n(&p->console_held, 1, __ATOMIC_RELEASE);
	while (panic_owner_cpu() != (int)p->first && crashtest_pair_in_time(p))
		arch_cpu_relax();
	kpanic("crash test: a second fatal error, on CPU %u, during CPU %u's report", smp_self(), p->first);
}

/*
 * crashtest=finish2, on both CPUs of the pair at once, interrupts off: the first fails; the boot
 * CPU, once the first owns the machine's end, ends the machine as a suite that passed would. It
 * must stop without a word (it had no fatal error) and the first CPU's report come out whole,
 * naming no other CPU's error.
 */
static void crashtest_pair_finish(void *arg)
{
	struct crashtest_pair *p = arg;
	if (smp_self() == p->first)
		kpanic("crash test: a fatal error on CPU %u while the boot CPU ends the machine", p->first);
	while (panic_owner_cpu() != (int)p->first && crashtest_pair_in_time(p))
		arch_cpu_relax();
	kernel_finish(true);
}

/* crashtest=panic2 and finish2: fn on the boot CPU and one other at once (crashtest_pair_fail,
 * crashtest_pair_finish); returns when only one CPU is online. */
static void crashtest_two_cpus(const char *what, void (*fn)(void *))
{
	static struct crashtest_pair pair;
	cpumask_t others = cpumask_without(smp_online_mask(), smp_self());
	if (cpumask_empty(others)) {
		kprintf("crashtest: %s needs two CPUs online; %u is\n", what, smp_cpu_count());
		return;
	}
	pair.first = cpumask_first(others);
	pair.start = tsc_read();
	smp_call_many(cpumask_with(cpumask_of(pair.first), smp_self()), fn, &pair);
}

/* Recurses until the stack runs into its guard page. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static __attribute__((noinline)) uint64_t crashtest_recurse(volatile uint64_t depth)
{
	volatile uint8_t pad[512];
	pad[0] = (uint8_t)depth;
	return crashtest_recurse(depth + 1) + pad[0];
}

static __attribute__((noinline)) void crashtest_read_unmapped(void)
{
	kprintf("crashtest: read %llx\n", (unsigned long long)*(volatile uint64_t *)0xdead000ULL);
}

static __attribute__((noinline)) void crashtest_touch_reserved(void)
{
	volatile char *va = MmAllocateMappingAddress(3 * 4096, CRASH_TAG);
	kprintf("crashtest: touching unmapped reserved page %p\n", (void *)(va + 4096));
	va[4096] = 1;
}

/*
 * crashtest=screen: unmaps the framebuffer from the kernel's page tables, then prints. The print
 * faults inside the console's screen write (as a framebuffer whose mapping is gone would), so the
 * fatal report comes while this CPU holds the console and every write to the screen would fault:
 * it must come out whole on serial.
 */
static void crashtest_unmap_screen(const char *what)
{
	if (!vm_fb_virt || !fbcon_active()) {
		kprintf("crashtest: %s needs a framebuffer console; there is none\n", what);
		return;
	}
	vaddr_t from = ALIGN_DOWN(vm_fb_virt, PAGE_SIZE);
	vaddr_t to = ALIGN_UP(vm_fb_virt + bootinfo_fb_bytes(&kernel_bootinfo.fb), PAGE_SIZE);
	int st = pt_unmap(&kernel_pt, from, to - from);
	KASSERT(st == PT_OK, "unmapping the framebuffer failed: %d", st);
	kprintf("crashtest: framebuffer unmapped at 0x%llx, %llu bytes; this line faults on the screen\n",
		(unsigned long long)from, (unsigned long long)(to - from));
}

void crashtest_run_early(void)
{
	if (kernel_cmdline.opts.crashtest == CMDLINE_CRASH_EARLY)
		kpanic("crash test requested before the physical allocator, the kernel's page tables and the "
		       "console (crashtest=early): this report reaches the screen through the loader's mapping");
}

void crashtest_run_reclaim(void)
{
	if (kernel_cmdline.opts.crashtest == CMDLINE_CRASH_RECLAIM)
		kpanic("crash test requested after the kernel's page tables and the loader's memory reclaimed, before "
		       "the console (crashtest=reclaim): this report reaches the screen through the kernel's mapping");
}

bool crashtest_unsealed(void)
{
	return kernel_cmdline.opts.crashtest == CMDLINE_CRASH_UNSEALED;
}

void crashtest_run(void)
{
	char what[16];
	unsigned which = kernel_cmdline.opts.crashtest;
	if (which == CMDLINE_CRASH_NONE)
		return;
	cmdline_value_format(&kernel_cmdline.opts, CMDLINE_CRASHTEST, what, sizeof(what));
	kprintf("crashtest: %s\n", what);
	switch (which) {
	case CMDLINE_CRASH_PANIC:
		kpanic("crash test requested");
		break;
	case CMDLINE_CRASH_PF:
		crashtest_read_unmapped();
		break;
	case CMDLINE_CRASH_RESERVED:
		crashtest_touch_reserved();
		break;
	case CMDLINE_CRASH_STACK:
		crashtest_recurse(0);
		break;
	case CMDLINE_CRASH_BUGCHECK:
		MmFreeMappingAddress((void *)0xffffc00000123000ULL, CRASH_TAG);
		break;
	case CMDLINE_CRASH_LEAK: {
		/* A reservation nobody frees: the suite's leak checks must fail, and the screen say so. */
		void *va = MmAllocateMappingAddress(3 * 4096, CRASH_TAG);
		kprintf("crashtest: leaked a 3-page reservation at %p, tag 'Crsh'\n", va);
		return;
	}
	case CMDLINE_CRASH_NMI:
		__asm__ volatile("int $2");
		__asm__ volatile("int $0x40");
		kprintf("crashtest: survived an NMI and an unexpected vector\n");
		return;
	case CMDLINE_CRASH_PANIC2:
		crashtest_two_cpus(what, crashtest_pair_fail);
		return;
	case CMDLINE_CRASH_FINISH2:
		crashtest_two_cpus(what, crashtest_pair_finish);
		return;
	case CMDLINE_CRASH_SCREEN:
		crashtest_unmap_screen(what);
		break;
	}
	kprintf("crashtest: %s returned; going on with the suite\n", what);
}
