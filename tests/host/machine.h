/* Hand-made UEFI memory maps for host tests: descriptors of any stride, in any order; phys_init of
 * one with its messages captured; and taking every free page of the machine they made, for tests
 * that need all but one page in use. */
#ifndef MACHINE_H
#define MACHINE_H

#include <stdlib.h>
#include <string.h>
#include "efi_mmap.h"
#include "phys.h"
#include "capture.h"

#define MACHINE_MAX_DESC 4096

struct machine_map {
	size_t desc_size;
	size_t n;
	uint8_t buf[MACHINE_MAX_DESC * 64];
};

/* Starts an empty map whose descriptors are desc_size bytes apart (40 or 48 in practice). */
static inline void machine_map_init(struct machine_map *m, size_t desc_size)
{
	memset(m, 0, sizeof(*m));
	m->desc_size = desc_size;
}

/* Appends a descriptor; stride padding is filled with junk so readers must not depend on it. */
static inline void machine_map_add(struct machine_map *m, uint32_t type, uint64_t start, uint64_t pages,
				   uint64_t attr)
{
	uint8_t *d = m->buf + m->n * m->desc_size;
	memset(d, 0xA5, m->desc_size);
	struct efi_memory_descriptor e = { .type = type, .phys_start = start, .num_pages = pages, .attribute = attr };
	memcpy(d, &e, sizeof(e));
	m->n++;
}

static inline size_t machine_map_size(const struct machine_map *m) { return m->n * m->desc_size; }

/* phys_init of the map m, what it prints captured into out (as capture_end: at most size - 1 bytes,
 * NUL-terminated) and, when st is set, the allocator's statistics after it; phys_init's result. */
static inline int machine_phys_init(const struct machine_map *m, char *out, size_t size, struct phys_stats *st)
{
	capture_begin();
	int r = phys_init(m->buf, machine_map_size(m), m->desc_size);
	capture_end(out, size);
	if (st)
		phys_get_stats(st);
	return r;
}

static inline int machine_paddr_cmp(const void *a, const void *b)
{
	paddr_t x = *(const paddr_t *)a, y = *(const paddr_t *)b;
	return x < y ? -1 : x > y;
}

/* Takes free pages one at a time (phys_alloc) until none is left or cap are held, into held in
 * address order, *n of them; returns the index i of the first pair of consecutive frames
 * (held[i + 1] == held[i] + PAGE_SIZE), or *n when there is none. */
static inline size_t machine_hold_all(paddr_t *held, size_t cap, size_t *n)
{
	paddr_t p;
	*n = 0;
	while (*n < cap && (p = phys_alloc(1, 0, UINT64_MAX)))
		held[(*n)++] = p;
	qsort(held, *n, sizeof(held[0]), machine_paddr_cmp);
	for (size_t i = 0; i + 1 < *n; i++)
		if (held[i + 1] == held[i] + PAGE_SIZE)
			return i;
	return *n;
}

#endif
