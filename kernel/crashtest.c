/*
 * Deliberate failures chosen by `crashtest=` on the command line, so the fatal paths are tested
 * end to end in QEMU (tools/fault-test.sh checks the report text and the exit code).
 */
#include "crashtest.h"
#include "cmdline.h"
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
	if (!cmdline_value("crashtest", what, sizeof(what)))
		return;
	kprintf("crashtest: %s\n", what);
	if (!memcmp(what, "panic", 6))
		kpanic("crash test requested");
	if (!memcmp(what, "pf", 3))
		crashtest_read_unmapped();
	if (!memcmp(what, "reserved", 9))
		crashtest_touch_reserved();
	if (!memcmp(what, "stack", 6))
		crashtest_recurse(0);
	if (!memcmp(what, "bugcheck", 9))
		MmFreeMappingAddress((void *)0xffffc00000123000ULL, CRASH_TAG);
	if (!memcmp(what, "leak", 5)) {
		/* A reservation nobody frees: the suite's leak checks must fail, and the screen say so. */
		void *va = MmAllocateMappingAddress(3 * 4096, CRASH_TAG);
		kprintf("crashtest: leaked a 3-page reservation at %p, tag 'Crsh'\n", va);
		return;
	}
	if (!memcmp(what, "nmi", 4)) {
		__asm__ volatile("int $2");
		__asm__ volatile("int $0x40");
		kprintf("crashtest: survived an NMI and an unexpected vector\n");
		return;
	}
	kprintf("crashtest: unknown crashtest=%s (panic, pf, reserved, stack, bugcheck, nmi, leak)\n", what);
}
