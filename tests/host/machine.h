/* Hand-made UEFI memory maps for host tests: descriptors of any stride, in any order. */
#ifndef MACHINE_H
#define MACHINE_H

#include <string.h>
#include "efi_mmap.h"

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

#endif
