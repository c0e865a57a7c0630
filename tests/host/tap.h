/* Minimal TAP producer for host tests: ok()/is() lines, a plan at the end, exit status = failures. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/time.h>
#include <sys/wait.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...) \
	do { unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
	     if (!ok(g_ == w_, __VA_ARGS__)) printf("#   got 0x%llx, want 0x%llx\n", g_, w_); } while (0)

/* Prints the plan and returns the process exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/*
 * How tap_child runs fn in a child process, so that a panic, an assertion, a sanitizer's report or a
 * hang ends only the child: where the child's stdout and stderr go, a timer, and what it sends back.
 * Zero is the plain case: the child's output goes where the parent's does, no timer, nothing back.
 */
struct tap_child {
	bool quiet_out;      /* the child's stdout goes to /dev/null (its reports are not the parent's TAP) */
	bool quiet_err;      /* the child's stderr goes to /dev/null (a report shown for one case, not each) */
	char *err;           /* when set: receives the child's stderr, NUL-terminated, at most err_size - 1 bytes */
	size_t err_size;
	void *back;          /* when set: the child sends the back_size bytes here when fn returns, */
	size_t back_size;    /* the parent copies them into its own (at most PIPE_BUF, written at once) */
	bool back_got;       /* out: the child sent its back_size bytes (fn returned) */
	unsigned timer_ms;   /* when nonzero: SIGALRM ends the child after this much CPU time (a spin), */
};                       /* or TAP_CHILD_WALL_FACTOR times as much wall-clock time (a block) */

/*
 * A child's timer counts its CPU time, not the wall clock: on a loaded machine (make test runs its
 * lanes side by side with QEMU boots) a child that is not hung can wait longer than its timer_ms for
 * a core, and a wall-clock timer would call it hung. A spinning child burns CPU time and is ended by
 * it; one blocked in a call burns none and is ended by the wall-clock backstop this many times later.
 */
#define TAP_CHILD_WALL_FACTOR 30u

/* The exit status of a child whose own set-up (a /dev/null, a write back) failed. */
#define TAP_CHILD_SETUP_FAILED 125

/* Reads fd to its end into buf (at most size - 1 bytes, NUL-terminated), then closes it. */
static inline void tap_read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;
	while (n < size - 1 && (k = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = 0;
	close(fd);
}

/* The child's CPU-time timer's handler: ends the child by SIGALRM (its default action), as the
 * wall-clock backstop does, so a caller sees one signal for a hang of either kind. */
static inline void tap_child_on_cpu_timer(int sig)
{
	(void)sig;
	raise(SIGALRM);
}

/* Arms the child's timers for timer_ms of CPU time and TAP_CHILD_WALL_FACTOR times that of wall time. */
static inline void tap_child_arm_timer(unsigned timer_ms)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, cpu = { .sa_handler = tap_child_on_cpu_timer };
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&cpu.sa_mask);
	sigaction(SIGALRM, &dfl, NULL);   /* the parent's handler, if any, is not the child's end */
	sigaction(SIGPROF, &cpu, NULL);
	struct itimerval it = { .it_value = { timer_ms / 1000, timer_ms % 1000 * 1000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	unsigned long long wall_ms = (unsigned long long)timer_ms * TAP_CHILD_WALL_FACTOR;
	struct itimerval wall = { .it_value = { (time_t)(wall_ms / 1000), (suseconds_t)(wall_ms % 1000 * 1000) } };
	setitimer(ITIMER_REAL, &wall, NULL);
}

/* The child's side of tap_child: sets up its output and timer, runs fn, sends back, exits with fn's result. */
static inline void tap_child_body(const struct tap_child *c, int efd, int bfd, int (*fn)(void *), void *arg)
{
	if (c->quiet_out && !freopen("/dev/null", "w", stdout))
		_exit(TAP_CHILD_SETUP_FAILED);
	if (c->quiet_err && !freopen("/dev/null", "w", stderr))
		_exit(TAP_CHILD_SETUP_FAILED);
	if (efd >= 0)
		dup2(efd, 2);
	if (c->timer_ms)
		tap_child_arm_timer(c->timer_ms);
	int r = fn(arg);
	if (bfd >= 0 && write(bfd, c->back, c->back_size) != (ssize_t)c->back_size)
		_exit(TAP_CHILD_SETUP_FAILED);
	_exit(r);
}

/* Closes the pipe ends of fd that are open. */
static inline void tap_close_pipe(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

/*
 * Runs fn(arg) in a forked child as c says, the child exiting with fn's result (stdout flushed first,
 * so that the parent's lines are not printed twice). Returns the child's wait status, -1 when no
 * pipe or child could be made (nothing run, c->err empty).
 */
static inline int tap_child(struct tap_child *c, int (*fn)(void *), void *arg)
{
	int efd[2] = { -1, -1 }, bfd[2] = { -1, -1 };
	if (c->err)
		c->err[0] = 0;
	c->back_got = false;
	if ((c->err && pipe(efd)) || (c->back && pipe(bfd))) {
		tap_close_pipe(efd);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		tap_close_pipe(efd);
		tap_close_pipe(bfd);
		return -1;
	}
	if (pid == 0) {
		if (efd[0] >= 0)
			close(efd[0]);
		if (bfd[0] >= 0)
			close(bfd[0]);
		tap_child_body(c, efd[1], bfd[1], fn, arg);
	}
	if (efd[1] >= 0) {
		close(efd[1]);
		tap_read_all(efd[0], c->err, c->err_size);
	}
	if (bfd[1] >= 0) {
		close(bfd[1]);
		c->back_got = read(bfd[0], c->back, c->back_size) == (ssize_t)c->back_size;
		close(bfd[0]);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

/* A function without a result and its argument, for tap_child through tap_call_void (which returns 0). */
struct tap_void_call {
	void (*fn)(void *);
	void *arg;
};

static inline int tap_call_void(void *call)
{
	const struct tap_void_call *v = call;
	v->fn(v->arg);
	return 0;
}

/* tap_child for a function without a result: the child exits 0 when fn returns. */
static inline int tap_child_void(struct tap_child *c, void (*fn)(void *), void *arg)
{
	struct tap_void_call v = { fn, arg };
	return tap_child(c, tap_call_void, &v);
}

/* The wait status of a child's end as a number: its exit status, or 128 + the signal that ended it. */
static inline int tap_child_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Runs fn(arg) in a child process; true when it aborted (SIGABRT) and its stderr contains want:
 * how host tests check a panic or an assertion without ending themselves. */
static inline bool tap_aborts_with(void (*fn)(void *), void *arg, const char *want)
{
	char buf[4096];
	struct tap_child c = { .err = buf, .err_size = sizeof(buf) };
	int status = tap_child_void(&c, fn, arg);
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want) != NULL;
}

#endif
