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
#include "console.h"
#include "textwrap.h"

enum onexit_action kernel_onexit = ONEXIT_HALT;
/* The CPU that owns the machine's end (its fatal report, or kernel_finish), as its index + 1; 0
 * while the machine runs. Set once, by the first CPU to get there. */
static volatile uint32_t panic_owner;
/* Fatal errors other CPUs had while the owner reported: the first one's index + 1, and how many. */
static volatile uint32_t panic_late_cpu, panic_late_count;
/* Late fatal errors the owner has already named in a line (panic_note_late). */
static uint32_t panic_late_noted;
/* Whether the owner writes a fatal report (else it ends the machine through kernel_finish alone). */
static bool panic_reporting;

/*
 * Stops this CPU for good because another CPU owns the machine's end: records that it had a fatal
 * error when fatal (the owner names it in a line of its own report, so no line of this CPU's lands
 * inside it; a kernel_finish is no error, and the owner's report ends the machine as a failure
 * anyway), gives back the console's lock if it held it, and stops for good (smp_stop_self): out of
 * the online mask, so no call or TLB shootdown of the owner's (its report, kernel_finish) waits for
 * it and ends in a call timeout's panic instead of the real report. Any other lock it holds stays held: the
 * owner's report takes none but the console's, except the system PTE region's (or a cache's) for a
 * bug check 0x50 there, and syspte_describe waits for those a bounded time, then names the holder
 * and reads nothing.
 */
static __attribute__((noreturn)) void panic_stand_aside(bool fatal)
{
	uint32_t none = 0;
	if (fatal) {
		(void)__atomic_compare_exchange_n(&panic_late_cpu, &none, arch_cpu_index() + 1, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		__atomic_fetch_add(&panic_late_count, 1, __ATOMIC_RELEASE);
	}
	console_drop();
	smp_stop_self();
}

/* Makes the running CPU the machine's end owner (fatal: for a fatal error, else for kernel_finish);
 * true when it already was. Another CPU's ownership stops this one (panic_stand_aside). Interrupts
 * are off from here on. */
static bool panic_take_ownership(bool fatal)
{
	uint32_t me = arch_cpu_index() + 1, seen = 0;
	(void)arch_irq_save();
	if (__atomic_compare_exchange_n(&panic_owner, &seen, me, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	if (seen != me)
		panic_stand_aside(fatal);
	return true;
}

int panic_owner_cpu(void)
{
	return (int)__atomic_load_n(&panic_owner, __ATOMIC_ACQUIRE) - 1;
}

/* Names, in one line of the owner's, the other CPUs' fatal errors not named yet; true if any. */
static bool panic_note_late(void)
{
	uint32_t count = __atomic_load_n(&panic_late_count, __ATOMIC_ACQUIRE);
	unsigned first = __atomic_load_n(&panic_late_cpu, __ATOMIC_RELAXED) - 1, me = arch_cpu_index();
	const char *doing = panic_reporting ? "reports one" : "ends the machine";
	if (count == panic_late_noted)
		return count != 0;
	if (count == 1)
		kprintf("*** CPU %u: fatal error while CPU %u %s; stopped\n", first, me, doing);
	else
		kprintf("*** CPU %u and %u more: fatal errors while CPU %u %s; stopped\n", first, count - 1, me, doing);
	panic_late_noted = count;
	return true;
}

/* Stops the machine as the command line asked: QEMU exit code, reboot, or halt forever (every CPU:
 * the others through an NMI, after the last line is out, so none holds the console lock). A CPU
 * that gets here while another owns the machine's end stops instead (panic_stand_aside), named
 * nowhere: it had no error, and the owner's report ends the machine as a failure
 * (crashtest=finish2); a fatal error another CPU had on the way makes the end a failure. */
void kernel_finish(bool success)
{
	(void)panic_take_ownership(false);
	if (panic_note_late())
		success = false;
	if (kernel_onexit == ONEXIT_QEMU)
		shutdown_qemu_exit(success ? QEMU_EXIT_PASS : QEMU_EXIT_FAIL);
	if (kernel_onexit == ONEXIT_REBOOT)
		shutdown_reset();
	kprintf("System halted.\n");
	smp_stop_others();
	shutdown_halt();
}

/* Fatal errors inside the owner's own report so far (panic_enter). */
static unsigned panic_nested;

/* Ends the machine as a failure without a word: for an error on the way to the end itself. */
static __attribute__((noreturn)) void panic_end_silently(void)
{
	if (kernel_onexit == ONEXIT_QEMU)
		shutdown_qemu_exit(QEMU_EXIT_FAIL);
	if (kernel_onexit == ONEXIT_REBOOT)
		shutdown_reset();
	shutdown_halt();
}

/* The framebuffer a report draws on while the console has none (panic_set_early_screen). */
static const struct bootinfo_fb *panic_early_fb;
static void *panic_early_virt;

void panic_set_early_screen(const struct bootinfo_fb *fb, void *virt)
{
	panic_early_fb = fb;
	panic_early_virt = virt;
}

/*
 * Marks entry to a fatal path. The first CPU to enter owns the report; a fatal error inside its
 * own report ends at once: its one line goes to serial alone (the screen's writes, the framebuffer's
 * mapping or the console's state gone, are the likeliest cause, and would fault again), and an
 * error on the way to the end ends the machine silently. Another CPU's error stops that CPU (its
 * error named in one line before the report's footer) and leaves the report whole. The report
 * starts on a cleared blue screen with the whole screen for text: the summary screen (its PASSED
 * banner, its three-row text window) must not stay up around a report it would scroll away; a
 * screen whose framebuffer no longer takes writes is left alone, and the report goes to serial.
 */
static void panic_enter(void)
{
	if (panic_take_ownership(true)) {
		if (panic_nested++)
			panic_end_silently();
		console_screen_off();
		kprintf("\n*** nested fatal error during a fatal report; stopping (serial only from here)\n");
		kernel_finish(false);
	}
	panic_reporting = true;
	/* No line of another CPU inside the report, and none on the screen while it is reset. */
	console_claim();
	/* A report before the console exists (a bad memory map, crashtest=early) reaches the screen
	 * through the loader's mapping of the framebuffer: a PC without a serial port shows it too. */
	if (!fbcon_active() && panic_early_fb)
		fbcon_init(panic_early_fb, panic_early_virt);
	/* A framebuffer whose mapping is gone would fault at the screen's first write, and the report
	 * would end there as a nested error, before a line of it got out: it goes to serial whole. */
	if (!fbcon_takes_writes(arch_probe_write8)) {
		console_screen_off();
		kprintf("\n*** the framebuffer no longer takes writes: this report is on serial only\n");
	} else if (fbcon_active()) {
		fbcon_set_color(PANIC_FG_RGB, PANIC_BG_RGB);
		fbcon_clear();
	}
}

static void panic_backtrace_here(void)
{
	kprintf("Backtrace:\n");
	ksyms_backtrace((uint64_t)__builtin_frame_address(0), (uint64_t)__builtin_return_address(0), 16);
}

/*
 * Ends a fatal report: first the other CPUs' fatal errors during it (panic_note_late), then its
 * last line. On a halted PC that line says what a person there can do, naming the bug check code
 * (0: a panic) again: a trap's report with a deep backtrace is longer than 640x480's 30 rows, and
 * its first lines scroll away. When the machine exits or reboots, it says so: the serial log shows
 * the report ended whole (tools/fault-test.sh looks for it).
 */
static void panic_footer(uint32_t code)
{
	(void)panic_note_late();
	if (kernel_onexit == ONEXIT_QEMU)
		kprintf("*** End of the fatal report; exiting QEMU.\n");
	else if (kernel_onexit == ONEXIT_REBOOT)
		kprintf("*** End of the fatal report; rebooting.\n");
	else if (code)
		kprintf("*** STOP 0x%08X: photograph this screen to report it, then turn the PC off.\n", code);
	else
		kprintf("*** KERNEL PANIC: photograph this screen to report it, then turn the PC off.\n");
}

/* What starts a report's lines, and its continued lines (panic_print_wrapped). */
#define PANIC_PREFIX      "*** "
#define PANIC_PREFIX_MORE "***   "
/* Bytes of one formatted report message before panic_print_wrapped: a longer one is cut. */
#define PANIC_TEXT_MAX    512

/* Prints text after PANIC_PREFIX in lines of at most KPRINTF_SCREEN_COLS columns (textwrap_line),
 * each line in one kprintf, the continued ones after PANIC_PREFIX_MORE. */
static void panic_print_wrapped(const char *text)
{
	const char *prefix = PANIC_PREFIX;
	size_t prefix_len = sizeof(PANIC_PREFIX) - 1, next;
	while (*text) {
		size_t n = textwrap_line(text, KPRINTF_SCREEN_COLS - prefix_len, &next);
		kprintf("%s%.*s\n", prefix, (int)n, text);
		text += next;
		prefix = PANIC_PREFIX_MORE;
		prefix_len = sizeof(PANIC_PREFIX_MORE) - 1;
	}
}

/* Formats a report message and prints it as panic_print_wrapped does. */
static void panic_printf_wrapped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void panic_printf_wrapped(const char *fmt, ...)
{
	char text[PANIC_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	panic_print_wrapped(text);
}

/*
 * Every line of a fatal report fits KPRINTF_SCREEN_COLS (tools/fault-test.sh checks each crash
 * case's report on the serial log), syspte_describe's for a bug check 0x50 in the system PTE
 * region included (its lines are mm/'s; tests/host/test_syspte_report.c and test_lock.c hold them
 * to the width).
 */
void kpanic_at(const char *file, int line, const char *fmt, ...)
{
	char text[PANIC_TEXT_MAX];
	va_list ap;
	panic_enter();
	va_start(ap, fmt);
	kvsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	kprintf("\n*** KERNEL PANIC at %s:%d\n", file, line);
	panic_print_wrapped(text);
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
		panic_print_wrapped(why);
	const char *sub = bugcheck_subcode_name(code, p1);
	if (sub)
		panic_printf_wrapped("P1 0x%llx is %s", (unsigned long long)p1, sub);
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
	/* the parameters mm/bugcheck.c's table names for 0x1E, then the same facts in words */
	kprintf("*** Parameters: P1 0x%016llx P2 0x%016llx\n***             P3 0x%016llx P4 0x%016llx\n",
		(unsigned long long)tf->vector, (unsigned long long)tf->rip, (unsigned long long)tf->error,
		(unsigned long long)cr2);
	panic_printf_wrapped("Exception %llu (%s), error code 0x%llx\nat %s+0x%llx", (unsigned long long)tf->vector,
			     trap_name(tf->vector), (unsigned long long)tf->error, sym ? sym : "?", (unsigned long long)off);
	if (tf->vector == VEC_PF)
		panic_printf_wrapped("Page fault: %s of address 0x%016llx\n(%s page, %s mode%s)",
				     trap_pf_is_fetch(tf->error, tf->rip, cr2) ? "instruction fetch"
				     : (tf->error & PF_ERR_WRITE)                ? "write"
										 : "read",
				     (unsigned long long)cr2, (tf->error & PF_ERR_PRESENT) ? "present" : "non-present",
				     (tf->error & PF_ERR_USER) ? "user" : "kernel",
				     (tf->error & PF_ERR_RSVD) ? ", reserved bit set" : "");
	trap_dump_frame(tf, cr2);
	kprintf("Backtrace:\n");
	ksyms_backtrace(tf->rbp, tf->rip, 16);
	panic_footer(BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED);
	kernel_finish(false);
}
