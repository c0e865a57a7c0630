/*
 * Host test of a fatal report beside another CPU that prints: kernel/console.c, panic.c and
 * textwrap.c built here unchanged, kprintf wrapped at link time into console_write (as the
 * kernel's kprintf hands it a line), serial and screen faked as a log, CPU 1 a host thread.
 *  1. CPU 1 prints lines all along while CPU 0 reports a panic, given room to print between each
 *     of the report's first lines: none of its lines lands between the report's header and its
 *     closing line (they landed there: the console's lock was taken per line only).
 *  2. CPU 1 is inside a screen write when CPU 0's report starts: the screen is reset only once
 *     that write is out (panic_enter cleared it while CPU 1 still drew on it).
 */
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include <pthread.h>
#include <time.h>
#include "tap.h"
#include "fake_arch.h"
#include "vmlayout.h"
/* panic.c's two fatal entries under other names: host_support.c has its own for mm/'s tests */
#define kpanic_at panic_kpanic_at
#define bugcheck_fatal panic_bugcheck_fatal
#include "../../kernel/console.c"
#include "../../kernel/panic.c"
#include "../../kernel/textwrap.c"
#undef kpanic_at
#undef bugcheck_fatal

#define LOG_MAX (1 << 20)
/* How long CPU 0 gives CPU 1 to print between two of the report's lines, and how many times. */
#define ROOM_NS   (300 * 1000 * 1000L)
#define ROOM_LINES 3

/* The ends of the machine (CPU 0 only) return to the test through longjmp. */
static jmp_buf back;
static int ends;
void shutdown_qemu_exit(uint32_t value) { (void)value; ends++; longjmp(back, 1); }
void shutdown_reset(void) { ends++; longjmp(back, 1); }
void shutdown_halt(void) { ends++; longjmp(back, 1); }
unsigned smp_stop_others(void) { return 0; }
/* Only CPU 0 fails here, so no CPU stands aside for another's end (panic_stand_aside): reaching it is
 * a failure of the test's own set-up, reported and ended at once. */
void smp_stop_self(void)
{
	printf("Bail out! smp_stop_self called: a CPU stood aside for another's end\n");
	exit(1);
}
const char *ksyms_lookup(uint64_t addr, uint64_t *off) { *off = addr & 0xFFF; return "kmain"; }
void ksyms_backtrace(uint64_t rbp, uint64_t rip, int max) { (void)rbp; (void)max; kprintf("  [<%016llx>] kmain+0x12\n", (unsigned long long)rip); }
const char *trap_name(uint64_t v) { (void)v; return "#GP general protection"; }
void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2) { (void)tf; (void)cr2; }
int arch_probe_write8(volatile void *addr, uint8_t val) { (void)addr; (void)val; return 0; }

/* The serial log: every byte written, in order, whichever CPU wrote it. */
static char serial_log[LOG_MAX];
static size_t serial_len;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

void serial_write(const char *s, size_t n)
{
	pthread_mutex_lock(&log_mutex);
	if (serial_len + n < sizeof(serial_log)) {
		memcpy(serial_log + serial_len, s, n);
		serial_len += n;
	}
	pthread_mutex_unlock(&log_mutex);
}

/* The screen: CPU 1's write stays in progress until CPU 0 owns the machine's end, and 100 ms more
 * (test 2), and a clear records whether it came while a write was in progress. */
static int screen_writing, screen_slow_write, cleared_during_write, screen_clears;
bool fbcon_active(void) { return true; }
bool fbcon_takes_writes(int (*probe_write8)(volatile void *addr, uint8_t val)) { (void)probe_write8; return true; }
void fbcon_init(const struct bootinfo_fb *fb, void *virt) { (void)fb; (void)virt; }
void fbcon_set_color(uint32_t fg, uint32_t bg) { (void)fg; (void)bg; }
void fbcon_clear(void)
{
	cleared_during_write |= __atomic_load_n(&screen_writing, __ATOMIC_ACQUIRE);
	screen_clears++;
}
void fbcon_write(const char *s, size_t n)
{
	(void)s, (void)n;
	if (arch_cpu_index() != 1 || !__atomic_load_n(&screen_slow_write, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&screen_writing, 1, __ATOMIC_RELEASE);
	while (panic_owner_cpu() != 0)
		sched_yield();
	nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000L }, NULL);
	__atomic_store_n(&screen_writing, 0, __ATOMIC_RELEASE);
}

/* CPU 1's lines printed whole; CPU 0's report lines after which it gave CPU 1 room to print. */
static volatile int cpu1_lines, room_given;

/* Waits up to ns for CPU 1's count of lines to move from seen. */
static void wait_for_cpu1_line(int seen, long ns)
{
	struct timespec step = { 0, 1000 * 1000L };
	for (long t = 0; t < ns && __atomic_load_n(&cpu1_lines, __ATOMIC_ACQUIRE) == seen; t += step.tv_nsec)
		nanosleep(&step, NULL);
}

/* kprintf as the kernel's does it for a line: formatted, then one console_write. On CPU 0 during
 * its report, the first ROOM_LINES lines are each followed by room for CPU 1 to print one. */
int __wrap_kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1;
	int seen = __atomic_load_n(&cpu1_lines, __ATOMIC_ACQUIRE);
	console_write(buf, (size_t)n);
	if (arch_cpu_index() == 0 && panic_owner_cpu() == 0 && room_given < ROOM_LINES) {
		room_given++;
		wait_for_cpu1_line(seen, ROOM_NS);
	}
	return n;
}

/* CPU 1: prints numbered lines for good (test 1), or one slow line (test 2). */
static void *cpu1_main(void *arg)
{
	bool once = arg != NULL;
	fake_cpu_set(1);
	for (int i = 0;; i++) {
		kprintf("cpu 1 line %d\n", i);
		__atomic_fetch_add(&cpu1_lines, 1, __ATOMIC_RELEASE);
		if (once)
			break;
		if (panic_owner_cpu() < 0)   /* a line a millisecond until the report starts, then at once */
			nanosleep(&(struct timespec){ 0, 1000 * 1000L }, NULL);
	}
	return NULL;
}

/* Test 1, in a child: no line of CPU 1's between the report's header and its closing line. CPU 1
 * is left as the report left it (waiting for good, once the fix holds it back): the child's exit
 * ends it. */
static int other_cpu_lines_stay_out(void *arg)
{
	static const char header[] = "*** KERNEL PANIC at kernel/main.c:42\n";
	static const char closing[] = "*** End of the fatal report; exiting QEMU.\n";
	pthread_t t;

	(void)arg;
	kernel_onexit = ONEXIT_QEMU;
	if (pthread_create(&t, NULL, cpu1_main, NULL))
		return 2;
	wait_for_cpu1_line(0, 10 * ROOM_NS);
	if (!setjmp(back))
		panic_kpanic_at("kernel/main.c", 42, "a panic while another CPU prints");
	pthread_mutex_lock(&log_mutex);
	serial_log[serial_len] = 0;
	const char *h = strstr(serial_log, header), *c = h ? strstr(h, closing) : NULL;
	int inside = 0;
	for (const char *p = h; p && c && (p = strstr(p, "cpu 1 line")) && p < c; p++)
		inside++;
	printf("#   room given after %d of the report's lines; %d of CPU 1's lines inside the report (header %s, "
	       "closing line %s, %d ends)\n", room_given, inside, h ? "found" : "missing", c ? "found" : "missing", ends);
	for (const char *p = h; inside && p && p < c + sizeof(closing) - 1;) {   /* the report as logged */
		const char *nl = strchr(p, '\n');
		printf("#     %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	fflush(stdout);
	pthread_mutex_unlock(&log_mutex);
	return h && c && ends == 1 && inside == 0 ? 0 : 1;
}

/* Test 2, in a child: the report's screen reset waits for the write CPU 1 has under way. */
static int screen_reset_after_other_write(void *arg)
{
	pthread_t t;

	(void)arg;
	kernel_onexit = ONEXIT_QEMU;
	__atomic_store_n(&screen_slow_write, 1, __ATOMIC_RELEASE);
	if (pthread_create(&t, NULL, cpu1_main, (void *)1))   /* one line */
		return 2;
	while (!__atomic_load_n(&screen_writing, __ATOMIC_ACQUIRE))
		sched_yield();
	if (!setjmp(back))
		panic_kpanic_at("kernel/main.c", 42, "a panic while another CPU draws on the screen");
	pthread_join(t, NULL);
	printf("#   screen cleared %d times, %s CPU 1's write; %d ends\n", screen_clears,
	       cleared_during_write ? "during" : "after", ends);
	return screen_clears == 1 && !cleared_during_write && ends == 1 ? 0 : 1;
}

/* Runs fn in a child with a timer; true when it exited 0. */
static bool run_case(int (*fn)(void *))
{
	struct tap_child c = { .timer_ms = 30000 };
	int st = tap_child(&c, fn, NULL);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	ok(run_case(other_cpu_lines_stay_out), "CPU 1 printing all along, given room after each of the report's first %d "
	   "lines: none of its lines between the report's header and its closing line", ROOM_LINES);
	ok(run_case(screen_reset_after_other_write), "a report starting while CPU 1 writes to the screen: the screen "
	   "cleared once, after that write is out");
	return tap_done();
}
