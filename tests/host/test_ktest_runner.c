/*
 * Host test of the boot self-test runner (kernel/ktest.c, built here unchanged): its KTAP on a
 * fake console (kprintf renamed into a log), the allocator's invariant check faked, the tests in a
 * section of this program's own that stands in for the kernel's .ktests.
 *  1. A whole run: "KTAP version 1", the plan, one "ok N name" per test numbered 1 to N, then the
 *     summary line counting the result lines; a benchmark left out of a plain run.
 *  2. A skip never hides a failure: a test that fails and then skips, and one that skips and then
 *     breaks the allocator's invariants, are each "not ok" and counted failed.
 *  3. A skip's reason stays on its result line: its line breaks become spaces.
 *  4. A filter naming no test: one failing test, so such a boot never passes.
 */
#include <stdint.h>
#include "tap.h"

#define kprintf test_kprintf
#define kvprintf test_kvprintf
#define phys_check test_phys_check
#define phys_check_full test_phys_check_full
#define __ktests_start __start_ktest_host
#define __ktests_end __stop_ktest_host
#include "../../kernel/ktest.c"

#define LOG_MAX 16384

static char log_text[LOG_MAX];
static size_t log_len;
static int phys_bad;       /* test_phys_check's next answer: nonzero, the invariants broken */

int test_kvprintf(const char *fmt, va_list ap)
{
	int n = vsnprintf(log_text + log_len, sizeof(log_text) - log_len, fmt, ap);
	if (n > 0)
		log_len = MIN(log_len + (size_t)n, sizeof(log_text) - 1);
	return n;
}

int test_kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = test_kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* The runner's check after each test: broken once, for the test that broke it. */
int test_phys_check(void)
{
	int bad = phys_bad;
	phys_bad = 0;
	return bad;
}

int test_phys_check_full(void)
{
	return test_phys_check();
}

/* A test of the runner's: in the section the runner walks, as KTEST puts one in .ktests. */
#define HOST_KTEST(tname)                                                                 \
	static void ktest_fn_##tname(void);                                               \
	static const struct ktest ktest_##tname                                           \
		__attribute__((used, section("ktest_host"), aligned(8))) = {              \
		.name = #tname, .fn = ktest_fn_##tname, .file = __FILE__ };              \
	static void ktest_fn_##tname(void)

HOST_KTEST(host_passes)
{
	KEXPECT(1 + 1 == 2, "arithmetic");
}

HOST_KTEST(host_skips)
{
	KTEST_SKIP("no such device\nin this machine\r");
}

HOST_KTEST(host_fails_then_skips)
{
	KEXPECT(1 + 1 == 3, "a failure before the skip");
	KTEST_SKIP("skipped after a failure");
}

HOST_KTEST(host_skips_then_breaks_invariants)
{
	phys_bad = 1;
	KTEST_SKIP("skipped, the allocator left broken");
}

HOST_KTEST(bench_host_measures)
{
	ktest_result("measured");
}

/* Resets the log and the fake allocator for a run. */
static void run_reset(void)
{
	log_len = 0;
	log_text[0] = 0;
	phys_bad = 0;
	ktest_res = (struct ktest_results){ 0 };
}

/* The result line of the test named name ("ok N name..." or "not ok N name..."), copied into out. */
static bool log_result(const char *name, char *out, size_t size)
{
	for (const char *p = log_text; *p; ) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *s = strncmp(p, "not ok ", 7) == 0 ? p + 7 : strncmp(p, "ok ", 3) == 0 ? p + 3 : NULL;
		if (s) {
			while (*s >= '0' && *s <= '9')
				s++;
			if (*s == ' ' && strncmp(s + 1, name, strlen(name)) == 0 &&
			    (s[1 + strlen(name)] == ' ' || s[1 + strlen(name)] == '\n')) {
				snprintf(out, size, "%.*s", (int)len, p);
				return true;
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* Checks the result lines after "KTAP version 1" and the plan: numbered 1 to plan in order, and
 * counted by the summary line as passed, failed and skipped. */
static const char *log_whole(size_t want_plan, size_t want_pass, size_t want_fail, size_t want_skip)
{
	static char why[160];
	const char *p = strstr(log_text, "KTAP version 1\n1..");
	size_t plan, k = 0, pass = 0, fail = 0, skip = 0;
	if (p != log_text)
		return "the log does not start with the version line and the plan";
	plan = strtoul(p + strlen("KTAP version 1\n1.."), NULL, 10);
	for (const char *l = strchr(p, '\n') + 1; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		bool failed = strncmp(l, "not ok ", 7) == 0;
		if (!failed && strncmp(l, "ok ", 3) != 0)
			continue;
		k++;
		if (strtoul(l + (failed ? 7 : 3), NULL, 10) != k)
			return "a result numbered out of order";
		const char *eol = strchr(l, '\n'), *skip_at = strstr(l, " # SKIP ");
		if (failed)
			fail++;
		else if (skip_at && (!eol || skip_at < eol))
			skip++;
		else
			pass++;
	}
	snprintf(why, sizeof(why), "\n%zu passed, %zu failed, %zu skipped\n", pass, fail, skip);
	if (!strstr(log_text, why))
		return "no summary line counting the result lines";
	if (plan != want_plan || k != plan)
		return snprintf(why, sizeof(why), "plan %zu with %zu results, want %zu", plan, k, want_plan), why;
	if (pass != want_pass || fail != want_fail || skip != want_skip)
		return snprintf(why, sizeof(why), "%zu passed, %zu failed, %zu skipped", pass, fail, skip), why;
	return NULL;
}

int main(void)
{
	char line[256];
	const char *why;

	/* 1-3: a plain run (this program's section holds its tests in no particular order) */
	run_reset();
	int failures = ktest_run_all("");
	why = log_whole(4, 1, 2, 1);
	ok(!why, "a plain run: version line, plan 1..4, results 1 to 4 in order, the summary line counting them%s%s",
	   why ? ": " : "", why ? why : "");
	ok(failures == 2 && ktest_res.failed == 2 && ktest_res.skipped == 1 && ktest_res.passed == 1 &&
	   ktest_res.planned == 4, "ktest_run_all returns 2 failures, ktest_results counts 1 passed, 2 failed, 1 skipped of 4");
	ok(!log_result("bench_host_measures", line, sizeof(line)), "a benchmark is left out of a plain run");
	ok(log_result("host_passes", line, sizeof(line)) && strncmp(line, "ok ", 3) == 0 && !strchr(line, '#'),
	   "a passing test: \"ok N name\" (%s)", line);
	ok(log_result("host_fails_then_skips", line, sizeof(line)) && strncmp(line, "not ok ", 7) == 0 &&
	   !strstr(line, "SKIP"), "a failure before the skip: \"not ok\", no SKIP directive (%s)", line);
	ok(log_result("host_skips_then_breaks_invariants", line, sizeof(line)) && strncmp(line, "not ok ", 7) == 0 &&
	   !strstr(line, "SKIP"), "a skip, then the allocator's invariants broken: \"not ok\", no SKIP directive (%s)", line);
	ok(log_result("host_skips", line, sizeof(line)) && strncmp(line, "ok ", 3) == 0 &&
	   strstr(line, " # SKIP no such device in this machine ") != NULL && !strcmp(strstr(line, "machine") , "machine "),
	   "a skip: \"ok N name # SKIP reason\", the reason's line breaks made spaces, on its result line (%s)", line);
	const char *diag = strstr(log_text, "\n    # host_fails_then_skips: ");
	ok(diag && strstr(diag, ": expected 1 + 1 == 3: a failure before the skip\n") == strchr(diag + 1, '\n') -
	   strlen(": expected 1 + 1 == 3: a failure before the skip"), "the failure's diagnostic: one line naming the test, the expression and the note");

	/* the benchmark, asked for by name */
	run_reset();
	failures = ktest_run_all("bench_");
	why = log_whole(1, 1, 0, 0);
	ok(!why && failures == 0 && log_result("bench_host_measures", line, sizeof(line)),
	   "ktest=bench_ runs the benchmark alone: plan 1..1, ok%s%s", why ? ": " : "", why ? why : "");

	/* 4: a filter naming no test */
	run_reset();
	failures = ktest_run_all("no_such_");
	why = log_whole(1, 0, 1, 0);
	ok(!why && failures == 1 && ktest_res.failed == 1 && log_result("ktest_filter_names_a_test", line, sizeof(line)) &&
	   strncmp(line, "not ok 1 ", 9) == 0, "a filter naming no test: plan 1..1, \"not ok 1\", counted failed%s%s",
	   why ? ": " : "", why ? why : "");
	if (tap_failed) {
		printf("# the log of the last run:\n");
		for (char *l = strtok(log_text, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   %s\n", l);
	}
	return tap_done();
}
