/* Fatal reports (panic, bug check, unhandled trap) on serial and screen, then the onexit action. */
#include "panic.h"
#include "bugcheck.h"
#include "trap.h"
#include "shutdown.h"
#include "arch_mm.h"
#include "kprintf.h"
#include "ksyms.h"
#include "fbcon.h"
#include "syspte.h"
#include "reserved.h"
#include "smp.h"

enum onexit_action kernel_onexit = ONEXIT_HALT;
static volatile int panic_depth;

/* Stops the machine as the command line asked: QEMU exit code, reboot, or halt forever (every CPU:
 * the others through an NMI, after the last line is out, so none holds the console lock). */
void kernel_finish(bool success)
{
	(void)arch_irq_save();
	if (kernel_onexit == ONEXIT_QEMU)
		shutdown_qemu_exit(success ? QEMU_EXIT_PASS : QEMU_EXIT_FAIL);
	if (kernel_onexit == ONEXIT_REBOOT)
		shutdown_reset();
	kprintf("System halted.\n");
	smp_stop_others();
	shutdown_halt();
}

/* Marks entry to a fatal path; a fatal error inside a fatal report ends at once. The report
 * starts on a cleared blue screen with the whole screen for text: the summary screen (its PASSED
 * banner, its three-row text window) must not stay up around a report it would scroll away. */
static void panic_enter(void)
{
	(void)arch_irq_save();
	if (panic_depth++ > 0) {
		kprintf("\n*** nested fatal error during a fatal report; stopping\n");
		kernel_finish(false);
	}
	if (fbcon_active()) {
		fbcon_set_color(0xffffff, 0x0000aa);
		fbcon_clear();
	}
}

static void panic_backtrace_here(void)
{
	kprintf("Backtrace:\n");
	ksyms_backtrace((uint64_t)__builtin_frame_address(0), (uint64_t)__builtin_return_address(0), 16);
}

/* Ends a fatal report with what a person at a halted PC can do (no line when it reboots or exits),
 * naming the bug check code (0: a panic) again: a trap's report with a deep backtrace is longer than
 * 640x480's 30 rows, and its first lines scroll away. */
static void panic_footer(uint32_t code)
{
	if (kernel_onexit != ONEXIT_HALT)
		return;
	if (code)
		kprintf("*** STOP 0x%08X: photograph this screen to report it, then turn the PC off.\n", code);
	else
		kprintf("*** KERNEL PANIC: photograph this screen to report it, then turn the PC off.\n");
}

void kpanic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	panic_enter();
	kprintf("\n*** KERNEL PANIC at %s:%d\n*** ", file, line);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	panic_backtrace_here();
	panic_footer(0);
	kernel_finish(false);
}

void bugcheck_fatal(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	panic_enter();
	kprintf("\n*** STOP: 0x%08X %s\n", code, bugcheck_name(code));
	/* Two lines of 59 columns: one line of four was 91, split inside P4 at 640x480's 80 columns. */
	kprintf("*** Parameters: P1 0x%016llx P2 0x%016llx\n***             P3 0x%016llx P4 0x%016llx\n",
		(unsigned long long)p1, (unsigned long long)p2, (unsigned long long)p3, (unsigned long long)p4);
	const char *why = bugcheck_explain(code, p1);
	if (why[0])
		kprintf("*** %s\n", why);
	const char *sub = bugcheck_subcode_name(code, p1);
	if (sub)
		kprintf("*** P1 0x%llx is %s\n", (unsigned long long)p1, sub);
	if (code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA && reserved_region())
		syspte_describe(reserved_region(), p1);
	panic_backtrace_here();
	panic_footer(code);
	kernel_finish(false);
}

void panic_trap(struct trap_frame *tf, uint64_t cr2)
{
	panic_enter();
	uint64_t off = 0;
	const char *sym = ksyms_lookup(tf->rip, &off);
	kprintf("\n*** STOP: 0x%08X %s\n", BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED,
		bugcheck_name(BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED));
	kprintf("*** Exception %llu (%s), error code 0x%llx, at %s+0x%llx\n", (unsigned long long)tf->vector,
		trap_name(tf->vector), (unsigned long long)tf->error, sym ? sym : "?", (unsigned long long)off);
	if (tf->vector == VEC_PF)
		kprintf("*** Page fault: %s of address 0x%016llx (%s page, %s mode%s)\n",
			(tf->error & PF_ERR_FETCH) ? "instruction fetch" : (tf->error & PF_ERR_WRITE) ? "write" : "read",
			(unsigned long long)cr2, (tf->error & PF_ERR_PRESENT) ? "present" : "non-present",
			(tf->error & PF_ERR_USER) ? "user" : "kernel",
			(tf->error & PF_ERR_RSVD) ? ", reserved bit set" : "");
	trap_dump_frame(tf, cr2);
	kprintf("Backtrace:\n");
	ksyms_backtrace(tf->rbp, tf->rip, 16);
	panic_footer(BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED);
	kernel_finish(false);
}
