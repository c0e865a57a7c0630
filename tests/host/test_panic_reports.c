/*
 * Host test of the fatal reports (kernel/panic.c and kernel/textwrap.c, built here unchanged):
 * kpanic_at, bugcheck_fatal and panic_trap on a fake console (kprintf wrapped at link time: each
 * line goes to a serial log and a screen log) and fake ends of the machine (the onexit actions
 * return here through longjmp). Every report, for generated messages of up to 600 bytes (words of
 * 1 to 100 letters, runs of spaces, newlines), every bug check code, both page-fault kinds and each
 * onexit action: one header, every line at most KPRINTF_SCREEN_COLS columns, the message's words
 * kept in order up to PANIC_TEXT_MAX - 1 bytes, the footer onexit names, then exactly that end of
 * the machine, as a failure. A fatal error inside a report (the screen working) ends it at once:
 * one "nested fatal error" line, then the end, never a second report. A report while the screen's
 * framebuffer is unmapped (any write to it faults) comes out whole on serial, after a line saying so.
 */
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include "tap.h"
#include "test_rng.h"
#include "fake_arch.h"
#include "vmlayout.h"
/* panic.c's two fatal entries under other names: host_support.c has its own for mm/'s tests */
#define kpanic_at panic_kpanic_at
#define bugcheck_fatal panic_bugcheck_fatal
#include "../../kernel/panic.c"
#include "../../kernel/textwrap.c"
#undef kpanic_at
#undef bugcheck_fatal

#define LOG_MAX   (1 << 16)
#define MSG_MAX   600

/* How the machine ended: which action, with which QEMU value. */
enum end { END_NONE, END_QEMU, END_RESET, END_HALT, END_STOPPED };
static jmp_buf back;
static enum end ended;
static uint32_t exit_value;
static int ends;

void shutdown_qemu_exit(uint32_t value) { ended = END_QEMU, exit_value = value, ends++; longjmp(back, 1); }
void shutdown_reset(void) { ended = END_RESET, ends++; longjmp(back, 1); }
void shutdown_halt(void) { ended = END_HALT, ends++; longjmp(back, 1); }
unsigned smp_stop_others(void) { return 0; }
/* smp_stop_self as the arch's: the running CPU leaves the (fake machine's) online set, then halts for
 * good, which here is the way back to the test. */
void smp_stop_self(void)
{
	fake_cpu_online(arch_cpu_index(), false);
	ended = END_STOPPED, ends++;
	longjmp(back, 1);
}
void console_drop(void) {}
void console_claim(void) {}
/* console_screen_off as the console does it: the screen gets no more writes. */
static bool screen_off;
void console_screen_off(void) { screen_off = true; }
const char *ksyms_lookup(uint64_t addr, uint64_t *off) { *off = addr & 0xFFF; return "kmain"; }
void ksyms_backtrace(uint64_t rbp, uint64_t rip, int max) { (void)rbp; (void)max; kprintf("  [<%016llx>] kmain+0x12\n", (unsigned long long)rip); }
const char *trap_name(uint64_t v) { return v == VEC_PF ? "#PF page fault" : "#GP general protection"; }
void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2)
{
	kprintf("RAX=%016llx CR2=%016llx\n", (unsigned long long)tf->rax, (unsigned long long)cr2);
}
bool fbcon_active(void) { return true; }
void fbcon_set_color(uint32_t fg, uint32_t bg) { (void)fg; (void)bg; }

/* The screen's framebuffer with its mapping gone (screen_gone): a probe of it fails, and a write to
 * it faults, a #PF whose report is panic_trap, as trap_handle makes it for a non-present fault
 * outside the system PTE region. */
#define SCREEN_FB 0xC0000000ULL
static bool screen_gone;
static int screen_faults;
int arch_probe_write8(volatile void *addr, uint8_t val) { (void)addr; (void)val; return screen_gone ? -1 : 0; }
bool fbcon_takes_writes(int (*probe_write8)(volatile void *addr, uint8_t val))
{
	return probe_write8((volatile void *)SCREEN_FB, 0) == 0;
}
static void screen_write_faults(void)
{
	struct trap_frame tf;
	memset(&tf, 0, sizeof(tf));
	tf.vector = VEC_PF;
	tf.error = PF_ERR_WRITE;
	screen_faults++;
	panic_trap(&tf, SCREEN_FB);
}
static int screen_clears;
void fbcon_clear(void)
{
	if (screen_gone)
		screen_write_faults();
	screen_clears++;
}

/* The serial log: every byte of the reports. */
static char serial_log[LOG_MAX];
static size_t serial_len;
/* A nested fatal error: panic.c's entry is called from inside the report's Nth kprintf (0: never). */
static int nest_at, kprintfs;

int __wrap_kprintf(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (serial_len + (size_t)n < sizeof(serial_log)) {
		memcpy(serial_log + serial_len, buf, (size_t)n);
		serial_len += (size_t)n;
	}
	if (++kprintfs == nest_at)
		panic_kpanic_at("kernel/nested.c", 7, "a fatal error inside the report");
	if (screen_gone && !screen_off)   /* the console writes serial, then the screen */
		screen_write_faults();
	return n;
}

static uint64_t rng = 0xA54FF53A5F1D36F1ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* What one report is given: the entry to call and its arguments. */
static struct {
	int kind;                 /* 0: kpanic_at, 1: bugcheck_fatal, 2: panic_trap */
	const char *msg;
	uint32_t code;
	uint64_t p[4];
	struct trap_frame tf;
	uint64_t cr2;
} report;

/* Runs the report, back here when the machine ends (the only frame longjmp returns to). */
static void run_report(void)
{
	if (setjmp(back))
		return;
	if (report.kind == 0)
		panic_kpanic_at("kernel/main.c", 42, "%s", report.msg);
	else if (report.kind == 1)
		panic_bugcheck_fatal(report.code, report.p[0], report.p[1], report.p[2], report.p[3]);
	else
		panic_trap(&report.tf, report.cr2);
}

/* Forgets every report: panic.c's state as at boot, empty logs. */
static void reset(enum onexit_action onexit)
{
	panic_owner = panic_late_cpu = panic_late_count = 0;
	panic_late_noted = 0;
	panic_reporting = false;
	panic_nested = 0;
	screen_off = false;
	kernel_onexit = onexit;
	serial_len = 0;
	ended = END_NONE, exit_value = 0, ends = 0;
	nest_at = kprintfs = 0;
	screen_clears = 0;
	screen_gone = false;
	screen_faults = 0;
}

/* A message of words of 1 to 100 letters, runs of spaces and newlines, up to MSG_MAX - 1 bytes. */
static size_t make_message(char *t)
{
	size_t len = 0, limit = draw(MSG_MAX - 110);
	while (len < limit) {
		size_t w = 1 + (draw(4) ? draw(12) : draw(100));
		for (size_t i = 0; i < w; i++)
			t[len++] = (char)('a' + draw(26));
		switch (draw(8)) {
		case 0: t[len++] = '\n'; break;
		case 1: t[len++] = ' '; t[len++] = ' '; t[len++] = ' '; break;
		default: t[len++] = ' '; break;
		}
	}
	t[len] = 0;
	return len;
}

/* The expected footer of a report ending the way onexit says (code 0: a panic). */
static void footer_for(enum onexit_action onexit, uint32_t code, char *buf, size_t cap)
{
	if (onexit == ONEXIT_QEMU)
		snprintf(buf, cap, "*** End of the fatal report; exiting QEMU.\n");
	else if (onexit == ONEXIT_REBOOT)
		snprintf(buf, cap, "*** End of the fatal report; rebooting.\n");
	else if (code)
		snprintf(buf, cap, "*** STOP 0x%08X: photograph this screen to report it, then turn the PC off.\n", code);
	else
		snprintf(buf, cap, "*** KERNEL PANIC: photograph this screen to report it, then turn the PC off.\n");
}

/* Checks the log of one report, which cleared the screen clears times; returns a reason or NULL. */
static const char *check_report(enum onexit_action onexit, uint32_t code, const char *header, int clears, char *why,
				size_t cap)
{
	char footer[160];
	size_t widest = 0, col = 0;

	serial_log[serial_len] = 0;
	for (size_t i = 0; i < serial_len; i++) {
		col = serial_log[i] == '\n' ? 0 : col + 1;
		widest = col > widest ? col : widest;
	}
	if (widest > KPRINTF_SCREEN_COLS)
		return snprintf(why, cap, "a line of %zu columns", widest), why;
	const char *h = strstr(serial_log, header);
	if (!h || strstr(h + 1, header))
		return snprintf(why, cap, "header \"%s\" %s", header, h ? "twice" : "missing"), why;
	footer_for(onexit, code, footer, sizeof(footer));
	if (onexit == ONEXIT_HALT)   /* kernel_finish's own line after the report */
		strncat(footer, "System halted.\n", sizeof(footer) - strlen(footer) - 1);
	size_t fl = strlen(footer);
	if (serial_len < fl || strcmp(serial_log + serial_len - fl, footer))
		return snprintf(why, cap, "the report does not end with \"%.*s\"", (int)fl - 1, footer), why;
	enum end want = onexit == ONEXIT_QEMU ? END_QEMU : onexit == ONEXIT_REBOOT ? END_RESET : END_HALT;
	if (ends != 1 || ended != want || (want == END_QEMU && exit_value != QEMU_EXIT_FAIL))
		return snprintf(why, cap, "%d ends, the last %d (value 0x%x), want one %d as a failure", ends, ended, exit_value,
				want), why;
	if (screen_clears != clears)
		return snprintf(why, cap, "the screen cleared %d times", screen_clears), why;
	return NULL;
}

/* True when the words of msg (its first PANIC_TEXT_MAX - 1 bytes) appear in order in the log, after from. */
static bool words_kept(const char *msg, const char *from)
{
	char cut[PANIC_TEXT_MAX];
	size_t n = strlen(msg) < sizeof(cut) - 1 ? strlen(msg) : sizeof(cut) - 1;
	memcpy(cut, msg, n);
	cut[n] = 0;
	const char *p = from;
	for (char *w = strtok(cut, " \n"); w; w = strtok(NULL, " \n")) {
		/* a word longer than a line is cut across lines: look for its first part only */
		char head[KPRINTF_SCREEN_COLS - 8];
		snprintf(head, sizeof(head), "%s", w);
		p = strstr(p, head);
		if (!p)
			return false;
		p += strlen(head);
	}
	return true;
}

/* Panics with generated messages under each onexit action. */
static void test_panic_messages(void)
{
	static char msg[MSG_MAX];
	char why[200];
	int bad = 0, lost = 0, runs = 0;

	for (int n = 0; n < 3000; n++) {
		enum onexit_action onexit = (enum onexit_action)draw(3);
		size_t len = make_message(msg);
		reset(onexit);
		runs++;
		report.kind = 0, report.msg = msg;
		run_report();
		const char *r = check_report(onexit, 0, "*** KERNEL PANIC at kernel/main.c:42\n", 1, why, sizeof(why));
		if (r && bad++ < 5)
			printf("#   message of %zu bytes, onexit %d: %s\n", len, onexit, r);
		if (!r && !words_kept(msg, strstr(serial_log, "KERNEL PANIC at")) && lost++ < 3)
			printf("#   message of %zu bytes: a word missing from the report\n", len);
	}
	is(bad, 0, "%d panics with generated messages of up to %d bytes, each onexit action: one header, no line past %d "
	   "columns, the footer onexit names, one end of the machine as a failure", runs, MSG_MAX - 1, KPRINTF_SCREEN_COLS);
	is(lost, 0, "the same %d panics: the message's words kept in order (its first %d bytes)", runs, PANIC_TEXT_MAX - 1);
}

/* Every bug check code with generated parameters, and trap reports of both fault kinds. */
static void test_bugchecks_and_traps(void)
{
	char why[200], header[80];
	int bad = 0, runs = 0;

	for (uint32_t code = 0; code < 0x200; code++) {
		enum onexit_action onexit = (enum onexit_action)draw(3);
		reset(onexit);
		runs++;
		report.kind = 1, report.code = code;
		report.p[0] = test_rng_next(&rng) >> draw(64), report.p[1] = draw(8), report.p[2] = test_rng_next(&rng);
		report.p[3] = UINT64_MAX;
		run_report();
		snprintf(header, sizeof(header), "*** STOP: 0x%08X ", code);
		const char *r = check_report(onexit, code, header, 1, why, sizeof(why));
		if (r && bad++ < 5)
			printf("#   bug check 0x%x, onexit %d: %s\n", code, onexit, r);
	}
	for (int n = 0; n < 400; n++) {
		enum onexit_action onexit = (enum onexit_action)draw(3);
		struct trap_frame tf;
		memset(&tf, 0, sizeof(tf));
		tf.vector = draw(2) ? VEC_PF : draw(32);
		tf.error = test_rng_next(&rng);
		tf.rip = test_rng_next(&rng);
		reset(onexit);
		runs++;
		report.kind = 2, report.tf = tf, report.cr2 = test_rng_next(&rng);
		run_report();
		snprintf(header, sizeof(header), "*** STOP: 0x%08X ", BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED);
		const char *r = check_report(onexit, BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, header, 1, why, sizeof(why));
		char params[160];   /* the parameters mm/bugcheck.c's table names for 0x1E */
		snprintf(params, sizeof(params), "*** Parameters: P1 0x%016llx P2 0x%016llx\n***             P3 0x%016llx "
			 "P4 0x%016llx\n", (unsigned long long)tf.vector, (unsigned long long)tf.rip,
			 (unsigned long long)tf.error, (unsigned long long)report.cr2);
		if (!r && !strstr(serial_log, params))
			r = "no parameters line of vector, RIP, error code and CR2";
		if (r && bad++ < 5)
			printf("#   trap %llu error 0x%llx, onexit %d: %s\n", (unsigned long long)tf.vector,
			       (unsigned long long)tf.error, onexit, r);
	}
	is(bad, 0, "%d reports (every bug check code below 0x200, generated traps): one header, no line past %d columns, "
	   "the footer, one end as a failure; a trap's P1-P4 its vector, RIP, error code and CR2", runs, KPRINTF_SCREEN_COLS);
}

/*
 * A page fault's kind in words, from the error code and, on a CPU without NX (no I/D bit), from the
 * fault being at RIP (trap_pf_is_fetch): a jump to an unmapped address there was reported as a
 * "read" of it (failed: "a call through a bad pointer without NX").
 */
static void test_page_fault_kind(void)
{
	static const struct {
		uint64_t error, rip, cr2;
		const char *kind, *what;
	} cases[] = {
		{ 0, 0x1000, 0x1000, "instruction fetch", "a call through a bad pointer without NX (no I/D bit)" },
		{ PF_ERR_FETCH, 0x1000, 0x1000, "instruction fetch", "the same with NX (I/D set)" },
		{ PF_ERR_PRESENT | PF_ERR_FETCH, 0xffffc00000001000ULL, 0xffffc00000001000ULL, "instruction fetch",
		  "a fetch from a no-execute page" },
		{ 0, 0xffffffff80001234ULL, 0x1000, "read", "a read of an unmapped page" },
		{ PF_ERR_WRITE, 0xffffffff80001234ULL, 0x1000, "write", "a write to an unmapped page" },
		{ PF_ERR_PRESENT | PF_ERR_WRITE, 0x1000, 0x1000, "write", "a write at RIP to its read-only page" },
	};
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reset(ONEXIT_QEMU);
		memset(&report.tf, 0, sizeof(report.tf));
		report.kind = 2, report.tf.vector = VEC_PF, report.tf.error = cases[i].error, report.tf.rip = cases[i].rip;
		report.cr2 = cases[i].cr2;
		run_report();
		char want[96];
		snprintf(want, sizeof(want), "Page fault: %s of address 0x%016llx", cases[i].kind, (unsigned long long)cases[i].cr2);
		if (!strstr(serial_log, want) && bad++ < 6)
			printf("#   %s: no \"%s\"\n", cases[i].what, want);
	}
	is(bad, 0, "a page fault's report names its kind: a fetch with or without the I/D bit, a read, a write");
}

/* A fatal error inside a report, at every line of it: one nested line, then the end at once. */
static void test_nested_fatal_error(void)
{
	int bad = 0, runs = 0;

	for (int at = 1; at <= 5; at++)
		for (int onexit = 0; onexit < 3; onexit++) {
			reset((enum onexit_action)onexit);
			nest_at = at;
			runs++;
			report.kind = 0, report.msg = "the first fatal error";
			run_report();
			serial_log[serial_len] = 0;
			const char *nested = strstr(serial_log, "*** nested fatal error during a fatal report; stopping (serial only from here)\n");
			enum end want = onexit == ONEXIT_QEMU ? END_QEMU : onexit == ONEXIT_REBOOT ? END_RESET : END_HALT;
			if (!nested || strstr(nested + 8, "nested fatal error") || strstr(serial_log, "kernel/nested.c") ||
			    ends != 1 || ended != want || (want == END_QEMU && exit_value != QEMU_EXIT_FAIL)) {
				if (bad++ < 3)
					printf("#   nested at kprintf %d, onexit %d: %d ends (last %d), log:\n%s", at, onexit, ends,
					       ended, serial_log);
			}
		}
	is(bad, 0, "%d fatal errors inside a report (at each of its first lines, each onexit action): one nested line, "
	   "no second report, one end as a failure", runs);
}

/* The running CPU's fatal error (how 0: a panic, 1: a bug check) or kernel_finish (2), back here
 * when the machine ends or the CPU stops (the only frame longjmp returns to). */
static void run_stand_aside(int how)
{
	if (setjmp(back))
		return;
	if (how == 0)
		panic_kpanic_at("kernel/main.c", 42, "a fatal error on a second CPU");
	else if (how == 1)
		panic_bugcheck_fatal(0x50, 1, 2, 3, 4);
	else
		kernel_finish(true);
}

/*
 * A CPU that gets to a fatal error (or to kernel_finish) while another CPU owns the machine's end
 * stands aside: it prints nothing, is recorded as a late fatal error only when it had one, and stops
 * for good out of the online set (smp_stop_self), so no call or TLB shootdown of the owner's waits
 * for it. Every pair of owner and standing-aside CPU of four, each way of getting there.
 */
static void test_stand_aside_leaves_online_set(void)
{
	int bad = 0, runs = 0;

	for (unsigned owner = 0; owner < 4; owner++)
		for (unsigned cpu = 0; cpu < 4; cpu++)
			for (int how = 0; how < 3 && cpu != owner; how++) {
				reset(ONEXIT_QEMU);
				for (unsigned i = 0; i < 4; i++)
					fake_cpu_online(i, true);
				panic_owner = owner + 1;
				fake_cpu_set(cpu);
				runs++;
				run_stand_aside(how);
				arch_cpumask_t online = arch_cpus_online();
				bool fatal = how != 2;
				bool left = !cpumask_has(online, cpu) && cpumask_weight(online) == 3 && cpumask_has(online, owner);
				bool quiet = serial_len == 0 && ends == 1 && ended == END_STOPPED;
				bool noted = panic_late_count == (fatal ? 1u : 0u) && panic_late_cpu == (fatal ? cpu + 1 : 0u) &&
					     panic_owner == owner + 1;
				fake_cpu_set(owner);
				if (!(left && quiet && noted) && bad++ < 5)
					printf("#   owner %u, CPU %u, %s: online 0x%llx, %zu bytes printed, %d ends (last %d), "
					       "late CPU %u of %u\n", owner, cpu, how == 0 ? "panic" : how == 1 ? "bug check" :
					       "kernel_finish", (unsigned long long)online.w[0], serial_len, ends, ended,
					       panic_late_cpu, panic_late_count);
			}
	fake_cpu_set(0);
	for (unsigned i = 1; i < 4; i++)
		fake_cpu_online(i, false);
	is(bad, 0, "%d CPUs standing aside for another CPU's end (panic, bug check, kernel_finish): each left the online "
	   "set silently, a fatal error recorded for the owner's line, the others still online", runs);
}

/* A fatal error while the screen's framebuffer is unmapped (the first error may be a screen write
 * itself): each kind of report, each onexit action, comes out whole on serial after one line
 * saying so, and nothing writes to the screen. panic_enter cleared the screen first: the clear
 * faulted, and the nested error's one line was all the report (its header, message and
 * parameters lost). */
static void test_report_with_framebuffer_gone(void)
{
	static const char note[] = "*** the framebuffer no longer takes writes: this report is on serial only\n";
	char why[200], header[80];
	int bad = 0, runs = 0;

	for (int kind = 0; kind < 3; kind++)
		for (int onexit = 0; onexit < 3; onexit++) {
			reset((enum onexit_action)onexit);
			screen_gone = true;
			runs++;
			report.kind = kind, report.msg = "a fatal error while the framebuffer is unmapped";
			report.code = kind == 1 ? BUGCHECK_SYSTEM_PTE_MISUSE : BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED;
			report.p[0] = SYSPTE_BUGCHECK_FREE_NOT_START, report.p[1] = 0xffffc00000123000ULL;
			report.p[2] = 0x68737243, report.p[3] = 0;
			memset(&report.tf, 0, sizeof(report.tf));
			report.tf.vector = VEC_PF, report.tf.rip = 0xffffffff80001234ULL, report.cr2 = SCREEN_FB;
			run_report();
			if (kind == 0)
				snprintf(header, sizeof(header), "*** KERNEL PANIC at kernel/main.c:42\n");
			else
				snprintf(header, sizeof(header), "*** STOP: 0x%08X ", report.code);
			const char *r = NULL;
			serial_log[serial_len] = 0;
			if (strstr(serial_log, "nested fatal error"))
				r = "a nested fatal error ended the report";
			else if (!strstr(serial_log, note))
				r = "no line saying the report is on serial only";
			else if (kind == 0 && !strstr(serial_log, "*** a fatal error while the framebuffer is unmapped\n"))
				r = "the message is missing";
			else if (screen_faults)
				r = "the screen was written";
			else
				r = check_report((enum onexit_action)onexit, kind ? report.code : 0, header, 0, why, sizeof(why));
			if (r && bad++ < 3)
				printf("#   report kind %d, onexit %d: %s; log:\n%s", kind, onexit, r, serial_log);
		}
	is(bad, 0, "%d reports (panic, bug check, trap; each onexit action) while the framebuffer is unmapped: one line "
	   "saying so, then the report whole on serial, one end as a failure, no screen write", runs);
}

int main(void)
{
	test_panic_messages();
	test_bugchecks_and_traps();
	test_page_fault_kind();
	test_nested_fatal_error();
	test_stand_aside_leaves_online_set();
	test_report_with_framebuffer_gone();
	return tap_done();
}
