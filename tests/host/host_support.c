/* Host stand-ins for the kernel's output and panic paths, linked into every host test. */
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include "kprintf.h"
#include "kassert.h"

int kvprintf(const char *fmt, va_list ap) { return vprintf(fmt, ap); }

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap) { return vsnprintf(buf, size, fmt, ap); }

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void kpanic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "PANIC at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

#include "bugcheck.h"

void bugcheck_fatal(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	fflush(stdout);
	fprintf(stderr, "*** STOP 0x%08X %s (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n    %s\n", code,
		bugcheck_name(code), (unsigned long long)p1, (unsigned long long)p2,
		(unsigned long long)p3, (unsigned long long)p4, bugcheck_explain(code, p1));
	abort();
}
