/*
 * Memory for the host benchmarks' own structures (a bare buddy's slots and bitmaps, tables of live
 * reservations): zeroed and written once, so a timed loop pays no first touch of a page, and on
 * the host's 2 MiB pages when asked (madvise(MADV_HUGEPAGE), a hint), as the kernel reaches its
 * tables and metadata through the direct map's large pages. Header-only: each benchmark is one
 * translation unit.
 */
#ifndef BENCH_MEM_H
#define BENCH_MEM_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BENCH_HUGE ((size_t)2 << 20)   /* the host's large page */

/* bytes zeroed bytes, released with free(): 2 MiB-aligned and asked onto 2 MiB pages when huge,
 * else page-aligned; NULL when out of memory. */
static inline void *bench_zalloc(size_t bytes, bool huge)
{
	size_t align = huge ? BENCH_HUGE : 4096;
	bytes = (bytes + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, bytes);
	if (p) {
		if (huge)
			(void)madvise(p, bytes, MADV_HUGEPAGE);
		memset(p, 0, bytes);
	}
	return p;
}

#endif
