/*
 * Boot-time self-tests. KTEST(name) { ... } declares a test; the runner (kernel/ktest.c) runs every
 * test at each boot in name order (zz_ tests run last), printing KTAP version 1 on the console, then a summary
 * "N passed, N failed". KEXPECT records a failure and goes on; KASSERT_TEST ends the test.
 */
#ifndef KTEST_H
#define KTEST_H

#include "types.h"
#include "kprintf.h"

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

/* Number of tests whose names start with filter ("" matches every test). */
size_t ktest_count(const char *filter);
/* Runs every test whose name starts with filter; returns the number of failures (1 when none matches). */
int ktest_run_all(const char *filter);

#endif
