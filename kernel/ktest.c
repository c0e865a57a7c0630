/* The boot self-test runner: KTAP version 1 on the console, a summary line, invariants after each. */
#include "ktest.h"
#include "phys.h"
#include "kprintf.h"
#include "kstring.h"

extern const struct ktest __ktests_start[], __ktests_end[];

static bool ktest_failed;
static bool ktest_skipped;
static char ktest_skip_reason[160];
static const struct ktest *ktest_current;
static struct ktest_results ktest_res;

const struct ktest_results *ktest_results(void)
{
	return &ktest_res;
}

/* Keeps the first failed expectation of the running test for the summary screen. */
static void ktest_keep_failure(const char *file, int line, const char *expr, const char *fmt, va_list ap)
{
	struct ktest_failure *f;
	int n;

	if (ktest_failed || ktest_res.kept >= KTEST_FAILURES_KEPT)
		return;
	f = &ktest_res.failures[ktest_res.kept++];
	f->name = ktest_current ? ktest_current->name : "?";
	n = ksnprintf(f->msg, sizeof(f->msg), "%s:%d: expected %s%s", file, line, expr, fmt && fmt[0] ? ": " : "");
	if (n >= 0 && (size_t)n < sizeof(f->msg) && fmt && fmt[0])
		kvsnprintf(f->msg + n, sizeof(f->msg) - (size_t)n, fmt, ap);
}

bool ktest_expect(bool cond, const char *file, int line, const char *expr, const char *fmt, ...)
{
	if (cond)
		return true;
	va_list keep;
	va_start(keep, fmt);
	ktest_keep_failure(file, line, expr, fmt, keep);
	va_end(keep);
	ktest_failed = true;
	kprintf("    # %s: %s:%d: expected %s", ktest_current ? ktest_current->name : "?", file, line, expr);
	if (fmt && fmt[0]) {
		va_list ap;
		kprintf(": ");
		va_start(ap, fmt);
		kvprintf(fmt, ap);
		va_end(ap);
	}
	kprintf("\n");
	return false;
}

/* Turns the line breaks of s into spaces, so it stays on one console or screen line. */
static void ktest_one_line(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

void ktest_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(ktest_skip_reason, sizeof(ktest_skip_reason), fmt, ap);
	va_end(ap);
	/* The reason ends the KTAP line. */
	ktest_one_line(ktest_skip_reason);
	ktest_skipped = true;
}

bool ktest_result(const char *fmt, ...)
{
	char line[KTEST_MSG_MAX];
	const char *name = ktest_current ? ktest_current->name : "?";
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ktest_one_line(line);
	kprintf("# result: %s: %s\n", name, line);
	if (ktest_res.nresults >= KTEST_RESULTS_KEPT) {
		ktest_res.results_dropped++;
		return false;
	}
	struct ktest_result_line *r = &ktest_res.results[ktest_res.nresults++];
	r->name = name;
	memcpy(r->msg, line, sizeof(line));
	return true;
}

void ktest_results_forget(size_t keep)
{
	if (keep < ktest_res.nresults)
		ktest_res.nresults = keep;
	ktest_res.results_dropped = 0;
}

/* Prints the result line of test number n (KTAP: "ok", "not ok", or "ok ... # SKIP reason"). */
static void ktest_report(size_t n, const struct ktest *t)
{
	if (ktest_failed)
		kprintf("not ok %zu %s\n", n, t->name);
	else if (ktest_skipped)
		kprintf("ok %zu %s # SKIP %s\n", n, t->name, ktest_skip_reason);
	else
		kprintf("ok %zu %s\n", n, t->name);
}

/* True when s starts with prefix (an empty prefix matches everything). */
static bool ktest_starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* True when the test name runs under the ktest= prefix: it starts with it, and a benchmark
 * (KTEST_BENCH_PREFIX) only when the prefix names benchmarks. */
static bool ktest_match(const char *name, const char *prefix)
{
	if (ktest_starts(name, KTEST_BENCH_PREFIX) && !ktest_starts(prefix, KTEST_BENCH_PREFIX))
		return false;
	return ktest_starts(name, prefix);
}

/* Allocator invariants every test must leave intact; after the last test (last) the whole owner map,
 * which earlier checks read 2 GiB of frames at a time (phys_check). */
static void ktest_check_invariants(bool last)
{
	if ((last ? phys_check_full() : phys_check()) != 0)
		ktest_expect(false, __FILE__, __LINE__, "phys_check() == 0", "allocator invariant broken");
}

size_t ktest_count(const char *filter)
{
	size_t total = 0;
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++)
		total += ktest_match(t->name, filter);
	return total;
}

/* The run of a filter that names no test: one failing test, so such a boot never passes. */
static int ktest_run_none(const char *filter)
{
	static const struct ktest none = { "ktest_filter_names_a_test", NULL, __FILE__ };
	kprintf("KTAP version 1\n1..1\n");
	ktest_current = &none;
	ktest_failed = false;
	ktest_expect(false, __FILE__, __LINE__, "a test whose name starts with the ktest= prefix",
		     "ktest=%s names no test (names start with a module: phys_, pt_, reserve_, mdl_ ...)", filter);
	ktest_current = NULL;
	ktest_res = (struct ktest_results){ .planned = 1, .failed = 1, .kept = ktest_res.kept,
					    .failures = { ktest_res.failures[0] } };
	kprintf("not ok 1 %s\n", none.name);
	kprintf("# 0 passed, 1 failed, 0 skipped\n0 passed, 1 failed, 0 skipped\n");
	return 1;
}

int ktest_run_all(const char *filter)
{
	size_t total = ktest_count(filter), passed = 0, failed = 0, skipped = 0;
	if (total == 0)
		return ktest_run_none(filter);
	ktest_res.planned = total;
	kprintf("KTAP version 1\n1..%zu\n", total);
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		if (!ktest_match(t->name, filter))
			continue;
		ktest_current = t;
		ktest_failed = ktest_skipped = false;
		t->fn();
		ktest_check_invariants(passed + failed + skipped + 1 == total);
		if (ktest_failed)
			failed++;
		else if (ktest_skipped)
			skipped++;
		else
			passed++;
		ktest_res.passed = passed;
		ktest_res.failed = failed;
		ktest_res.skipped = skipped;
		ktest_report(passed + failed + skipped, t);
	}
	ktest_current = NULL;
	kprintf("# %zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
	kprintf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
	return (int)failed;
}
