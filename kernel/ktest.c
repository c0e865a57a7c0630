/* The boot self-test runner: KTAP version 1 on the console, a summary line, invariants after each. */
#include "ktest.h"
#include "phys.h"
#include "kprintf.h"

extern const struct ktest __ktests_start[], __ktests_end[];

static bool ktest_failed;
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

/* True when name starts with prefix (an empty prefix matches everything). */
static bool ktest_match(const char *name, const char *prefix)
{
	while (*prefix)
		if (*name++ != *prefix++)
			return false;
	return true;
}

/* Allocator invariants every test must leave intact. */
static void ktest_check_invariants(void)
{
	if (phys_check() != 0)
		ktest_expect(false, __FILE__, __LINE__, "phys_check() == 0", "allocator invariant broken");
}

int ktest_run_all(const char *filter)
{
	size_t total = 0, passed = 0, failed = 0;
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++)
		total += ktest_match(t->name, filter);
	ktest_res.planned = total;
	kprintf("KTAP version 1\n1..%zu\n", total);
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		if (!ktest_match(t->name, filter))
			continue;
		ktest_current = t;
		ktest_failed = false;
		t->fn();
		ktest_check_invariants();
		if (ktest_failed)
			failed++;
		else
			passed++;
		ktest_res.passed = passed;
		ktest_res.failed = failed;
		kprintf("%s %zu %s\n", ktest_failed ? "not ok" : "ok", passed + failed, t->name);
	}
	ktest_current = NULL;
	kprintf("# %zu passed, %zu failed\n", passed, failed);
	kprintf("%zu passed, %zu failed\n", passed, failed);
	return (int)failed;
}
