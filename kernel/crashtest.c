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

#define CRASH_TAG 0x68737243u   /* 'Crsh' */

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
	}
	kprintf("crashtest: %s returned; going on with the suite\n", what);
}
