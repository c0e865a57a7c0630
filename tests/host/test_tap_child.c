/*
 * Host tests of tap.h's tap_child timer, which the generated-corruption tests (test_pool,
 * test_pool_round2, test_loader_platform) trust to tell a hang from a slow machine: a spinning child
 * and a blocked child each end by SIGALRM; a child that waits longer than its timer without running
 * (as one does for a core while make test's lanes and QEMU boots share two) is not called hung.
 */
#include <time.h>
#include "tap.h"

/* Spins on CPU: a hang of the kind a corrupt list gives. It gives up after 20 s of wall-clock time
 * and returns 99, so a timer that never ends it fails the test instead of hanging it. */
static int spin_forever(void *arg)
{
	volatile unsigned long *n = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (unsigned i = 0; i < 100000; i++)
			(*n)++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 20);
	return 99;
}

/* Blocks for good without using CPU: a hang in a call. */
static int block_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* Waits *(unsigned *)arg milliseconds of wall-clock time without running, then returns 7. */
static int wait_then_return(void *arg)
{
	unsigned ms = *(unsigned *)arg;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts))
		;
	return 7;
}

/* Milliseconds of wall-clock time since an earlier clock_gettime. */
static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void on_parent_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	unsigned long n = 0;
	struct timespec t0;

	struct tap_child ch = { .timer_ms = 100 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = tap_child_code(tap_child(&ch, spin_forever, &n));
	ok(r == 128 + SIGALRM, "a child spinning for good ends by SIGALRM (code %d) after %.0f ms", r, ms_since(&t0));

	struct tap_child blk = { .timer_ms = 20 };   /* backstop: 20 ms x TAP_CHILD_WALL_FACTOR */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = tap_child_code(tap_child(&blk, block_forever, NULL));
	double took = ms_since(&t0);
	ok(r == 128 + SIGALRM && took >= 20.0 * TAP_CHILD_WALL_FACTOR,
	   "a child blocked for good ends by SIGALRM (code %d) at the wall-clock backstop, after %.0f ms", r, took);

	/* Four times its timer spent off CPU: slow, not hung. */
	unsigned wait_ms = 400;
	struct tap_child slow = { .timer_ms = 100 };
	r = tap_child_code(tap_child(&slow, wait_then_return, &wait_ms));
	ok(r == 7, "a child off CPU for 4x its timer is not called hung: it returns its result (code %d)", r);

	/* A parent's own SIGALRM handler (test_summary_screens has one) is not the child's. */
	struct sigaction sa = { .sa_handler = on_parent_alarm };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct tap_child inh = { .timer_ms = 50 };
	r = tap_child_code(tap_child(&inh, spin_forever, &n));
	ok(r == 128 + SIGALRM, "with a SIGALRM handler in the parent, a spinning child still ends by SIGALRM (code %d)", r);
	signal(SIGALRM, SIG_DFL);

	struct tap_child fast = { .timer_ms = 1000 };
	unsigned none = 0;
	r = tap_child_code(tap_child(&fast, wait_then_return, &none));
	ok(r == 7, "a child returning at once under a timer exits with its result (code %d)", r);
	return tap_done();
}
