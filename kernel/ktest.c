/* The boot self-test runner: KTAP version 1 on the console, a summary line, invariants after each. */
#include "ktest.h"
#include "phys.h"
#include "kprintf.h"

extern const struct ktest __ktests_start[], __ktests_end[];

static bool ktest_failed;
static const struct ktest *ktest_current;

bool ktest_expect(bool cond, const char *file, int line, const char *expr, const char *fmt, ...)
{
	if (cond)
		return true;
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

size_t ktest_count(const char *filter)
{
	size_t total = 0;
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++)
		total += ktest_match(t->name, filter);
	return total;
}

int ktest_run_all(const char *filter)
{
	size_t total = ktest_count(filter), passed = 0, failed = 0;
	if (total == 0) {   /* a filter that names nothing is a mistake, never a pass */
		kprintf("KTAP version 1\n1..1\n");
		kprintf("    # ktest=%s names no test (names start with a module: phys_, pt_, reserve_, mdl_ ...)\n", filter);
		kprintf("not ok 1 ktest_filter_names_a_test\n");
		kprintf("# 0 passed, 1 failed\n0 passed, 1 failed\n");
		return 1;
	}
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
		kprintf("%s %zu %s\n", ktest_failed ? "not ok" : "ok", passed + failed, t->name);
	}
	ktest_current = NULL;
	kprintf("# %zu passed, %zu failed\n", passed, failed);
	kprintf("%zu passed, %zu failed\n", passed, failed);
	return (int)failed;
}
