/*
 * memview_: pictures of memory for the summary screen. One cell per fixed-size chunk (a power of two
 * of pages, the smallest that fits the box), each cell a stack of coloured bars whose heights are the
 * chunk's pages in each state, with a title and a legend:
 *  - the system PTE region: mapped pages (light tag colour), reserved pages (tag colour, one per
 *    tag), pages that are neither (the verifier's guard pages), free pages;
 *  - physical memory up to the end of RAM (the last RAM descriptor's; one claiming RAM past the
 *    52-bit physical address space is ignored, and the end is cut at the CPU's physical width):
 *    pages the physical allocator handed out, its free pages, and the rest by UEFI memory type
 *    (kernel image, firmware runtime, ACPI, reserved), holes black.
 * The counts come from the allocators' own walkers (syspte_for_each, syspte_for_each_free,
 * syspte_for_each_mapped; phys_for_each_managed, phys_for_each_free) and the memory map, and are
 * cross-checked against each other and the allocators' statistics: a chunk where they disagree is
 * drawn magenta, and the result says so. Drawn with fbcon (kernel/fbcon.h); runs unchanged on the
 * host over the hosted library (tests/host/region_picture.c).
 */
#ifndef MEMVIEW_H
#define MEMVIEW_H

#include "types.h"

#define MEMVIEW_MAX_CELLS 2048
#define MEMVIEW_DISAGREE_RGB 0xFF00FFu

/* What a picture showed, for the text summary and for tests. */
struct memview_result {
	uint64_t chunk_pages;      /* pages per cell */
	unsigned cells, cell_px;   /* cells drawn, cell size in pixels */
	unsigned height;           /* pixels used, title and legend included */
	bool agree;                /* walkers and statistics agree everywhere */
	uint64_t bad_cells;        /* cells drawn magenta */
	char note[96];             /* the first disagreement, or "" */
};

/* The box a picture may use, and whether to draw it (false: only count and check, for a verdict
 * before the screen is laid out). */
struct memview_box {
	unsigned x, y, w, h;
	bool draw;
};

/* Pictures the system PTE region in the box under title; fills *res. */
void memview_region(const struct memview_box *box, const char *title, struct memview_result *res);

/* Pictures physical memory described by the UEFI map (size bytes, descriptors desc_size apart) and
 * the physical allocator in the box under title; fills *res. */
void memview_ram(const struct memview_box *box, const char *title, const void *map, size_t size, size_t desc_size,
		 struct memview_result *res);

#endif
