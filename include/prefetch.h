/*
 * Software prefetch: asks for the cache line holding an address before the code that reads or
 * writes it runs, so that misses whose addresses are known early overlap instead of adding up one
 * after the other. A hint only: it never faults and changes nothing a program can observe, so any
 * address may be given, one computed from a missing table's NULL included. Built on the
 * compiler's builtin, so the kernel and the host build share it (x86-64: PREFETCHT0, or PREFETCHW
 * for a write where the target has it).
 *
 * Always inline, and so must be any helper that computes an address and prefetches it: a function
 * whose only effect is a prefetch looks free of side effects to the compiler, which then deletes
 * the calls to it that it did not inline.
 */
#ifndef PREFETCH_H
#define PREFETCH_H

/* Asks for the line of p, to be read soon, into every cache level. */
static inline __attribute__((always_inline)) void prefetch_line(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

/* Asks for the line of p, to be written soon (owned, where the target can ask for that). */
static inline __attribute__((always_inline)) void prefetchw_line(const void *p)
{
	__builtin_prefetch(p, 1, 3);
}

#endif
