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
#include <sys/wait.h>

static int tap_n, tap_failed;

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

/* Runs fn(arg) in a child process; true when it aborted (SIGABRT) and its stderr contains want:
 * how host tests check a panic or an assertion without ending themselves. */
static inline bool tap_aborts_with(void (*fn)(void *), void *arg, const char *want)
{
	int fd[2];
	if (pipe(fd))
		return false;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	char buf[4096] = { 0 };
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(buf) - 1 && (k = read(fd[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want) != NULL;
}

#endif
