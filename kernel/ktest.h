/*
 * Boot-time self-tests. KTEST(name) { ... } declares a test; the runner (kernel/ktest.c) runs every
 * test at each boot in name order (zz_ tests run last), printing KTAP version 1 on the console, then a summary
 * "N passed, N failed, N skipped". KEXPECT records a failure and goes on; KASSERT_TEST ends the test;
 * KTEST_SKIP ends it as skipped ("ok N name # SKIP reason").
 *
 * Tests named KTEST_BENCH_PREFIX... are benchmarks: they print numbers and check only what they
 * measured, and run only when ktest= starts with the prefix (make bench-shootdown, make bench-leaf),
 * never in a plain boot.
 */
#ifndef KTEST_H
#define KTEST_H

#include "types.h"
#include "kprintf.h"

#define KTEST_BENCH_PREFIX "bench_"

struct ktest {
	const char *name;
	void (*fn)(void);
	const char *file;
};

#define KTEST(tname)                                                                    \
	static void ktest_fn_##tname(void);                                             \
	static const struct ktest ktest_##tname                                         \
		__attribute__((used, section(".ktests." #tname), aligned(8))) = {               \
		.name = #tname, .fn = ktest_fn_##tname, .file = __FILE__ };              \
	static void ktest_fn_##tname(void)

/* Records a failure of the running test with a diagnostic; returns cond. */
bool ktest_expect(bool cond, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define KEXPECT(cond, ...) ktest_expect(!!(cond), __FILE__, __LINE__, #cond, "" __VA_ARGS__)
/* Compares once-evaluated values; an optional third argument is a note (a string literal). */
#define KEXPECT_EQ(a, b, ...) ({                                                             \
	uint64_t ka_ = (uint64_t)(a), kb_ = (uint64_t)(b);                                   \
	ktest_expect(ka_ == kb_, __FILE__, __LINE__, #a " == " #b " " __VA_ARGS__,           \
		     "got 0x%llx, want 0x%llx", (unsigned long long)ka_, (unsigned long long)kb_); })
/* Ends the running test on failure. */
#define KASSERT_TEST(cond, ...) do { if (!KEXPECT(cond, __VA_ARGS__)) return; } while (0)

/* Marks the running test skipped with a reason (printf format); KTEST_SKIP also ends it. */
void ktest_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Ends the running test as skipped, for a test that needs hardware or a CPU feature the machine
 * lacks: KTAP "ok N name # SKIP reason", counted apart from passes. A failure recorded before the
 * skip still makes the test "not ok": a skip never hides a failure.
 */
#define KTEST_SKIP(...) do { ktest_skip(__VA_ARGS__); return; } while (0)

/* Number of tests whose names start with filter ("" matches every test). */
size_t ktest_count(const char *filter);
/* Runs every test whose name starts with filter; returns the number of failures (1 when none matches). */
int ktest_run_all(const char *filter);

/* The outcome of the last ktest_run_all, for the summary screen: the counts and the first failed
 * expectation of each of the first KTEST_FAILURES_KEPT failing tests. */
#define KTEST_FAILURES_KEPT 8
#define KTEST_MSG_MAX 160
struct ktest_failure {
	const char *name;                  /* the failing test */
	char msg[KTEST_MSG_MAX];           /* "file:line: expected EXPR: details", cut to fit */
};
/* A benchmark's headline (ktest_result), kept for the summary screen: a PC without a serial port
 * shows the screen after the log has scrolled by. */
#define KTEST_RESULTS_KEPT 6
struct ktest_result_line {
	const char *name;                  /* the test that measured it */
	char msg[KTEST_MSG_MAX];           /* one line, cut to fit */
};
struct ktest_results {
	size_t planned, passed, failed, skipped;
	size_t kept;                       /* failures[] entries filled: min(failed tests, KEPT) */
	struct ktest_failure failures[KTEST_FAILURES_KEPT];
	size_t nresults;                   /* results[] entries filled, first come */
	size_t results_dropped;            /* ktest_result lines printed but not kept */
	struct ktest_result_line results[KTEST_RESULTS_KEPT];
};
/* The results so far (all zero before ktest_run_all). */
const struct ktest_results *ktest_results(void);

/*
 * Keeps one line of the running test's measured result for the summary screen and prints it on the
 * console as "# result: NAME: line" (printf format; a newline becomes a space, a line longer than
 * KTEST_MSG_MAX - 1 is cut). Returns false when KTEST_RESULTS_KEPT lines are kept already: the line
 * is then printed only and counted in results_dropped.
 */
bool ktest_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Forgets every kept result line after the first keep, and the dropped count (the runner's own test). */
void ktest_results_forget(size_t keep);

#endif
