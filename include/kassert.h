/* Invariant assertions, active in every build: a failed KASSERT is a kernel panic with its message. */
#ifndef KASSERT_H
#define KASSERT_H

__attribute__((noreturn, format(printf, 3, 4)))
void kpanic_at(const char *file, int line, const char *fmt, ...);

#define kpanic(...) kpanic_at(__FILE__, __LINE__, __VA_ARGS__)

#define KASSERT(cond, ...) \
	do { if (__builtin_expect(!(cond), 0)) kpanic_at(__FILE__, __LINE__, "assertion `" #cond "' failed: " __VA_ARGS__); } while (0)

#define STATIC_ASSERT(c, msg) _Static_assert(c, msg)

#endif
