/* The UEFI memory descriptor as the kernel reads it (independent of GNU-EFI's headers). */
#ifndef EFI_MMAP_H
#define EFI_MMAP_H

#include "types.h"

enum efi_memory_type {
	EFI_RESERVED = 0, EFI_LOADER_CODE = 1, EFI_LOADER_DATA = 2, EFI_BS_CODE = 3, EFI_BS_DATA = 4,
	EFI_RT_CODE = 5, EFI_RT_DATA = 6, EFI_CONVENTIONAL = 7, EFI_UNUSABLE = 8,
	EFI_ACPI_RECLAIM = 9, EFI_ACPI_NVS = 10, EFI_MMIO = 11, EFI_MMIO_PORT = 12, EFI_PAL_CODE = 13,
	EFI_PERSISTENT = 14,
};

#define EFI_MEMORY_SP      (1ULL << 18)   /* specific-purpose memory (UEFI 2.8): set aside for a particular use */
#define EFI_MEMORY_RUNTIME (1ULL << 63)

struct efi_memory_descriptor {
	uint32_t type;
	uint32_t pad;
	uint64_t phys_start;
	uint64_t virt_start;
	uint64_t num_pages;
	uint64_t attribute;
};

/* Descriptor i of a map whose entries are desc_size bytes apart (never sizeof the struct). */
static inline const struct efi_memory_descriptor *efi_desc(const void *map, size_t desc_size, size_t i)
{
	return (const struct efi_memory_descriptor *)((const char *)map + i * desc_size);
}

/* Descriptors of a map lie a multiple of this many bytes apart, so each is read in place, 8-byte aligned. */
#define EFI_MMAP_DESC_ALIGN 8

/* What a map's byte count and stride make of it (efi_mmap_geometry). */
enum efi_mmap_geometry_status {
	EFI_MMAP_GEOMETRY_OK = 0,          /* a whole number of descriptors (none included) */
	EFI_MMAP_GEOMETRY_RAGGED,          /* whole descriptors, then a tail shorter than one: read the whole ones */
	EFI_MMAP_GEOMETRY_DESC_TOO_SMALL,  /* a stride below the descriptor's 40 bytes (0 included) */
	EFI_MMAP_GEOMETRY_DESC_UNALIGNED,  /* a stride that is not a multiple of EFI_MMAP_DESC_ALIGN */
	EFI_MMAP_GEOMETRY_TOO_LARGE,       /* more whole descriptors than the reader takes */
	EFI_MMAP_GEOMETRY_COUNT
};

/*
 * Reads a map's geometry: map_size bytes, descriptors desc_size bytes apart, a reader taking at most
 * max_descs of them. *whole = the whole descriptors, *tail = the bytes after the last one (both 0
 * when the stride is refused, since it divides nothing; set for TOO_LARGE, which names them). The
 * stride is judged before the count: a map is only as readable as its stride. Firmware that returns
 * a size that is not a multiple of the stride (a bug seen in the field) gives RAGGED, which a careful
 * reader takes as its whole descriptors, as Linux counts map_size / desc_size of them.
 */
static inline enum efi_mmap_geometry_status efi_mmap_geometry(uint64_t map_size, uint64_t desc_size, uint64_t max_descs,
							     uint64_t *whole, uint64_t *tail)
{
	*whole = *tail = 0;
	if (desc_size < sizeof(struct efi_memory_descriptor))
		return EFI_MMAP_GEOMETRY_DESC_TOO_SMALL;
	if (desc_size % EFI_MMAP_DESC_ALIGN)
		return EFI_MMAP_GEOMETRY_DESC_UNALIGNED;
	*whole = map_size / desc_size;
	*tail = map_size % desc_size;
	if (*whole > max_descs)
		return EFI_MMAP_GEOMETRY_TOO_LARGE;
	return *tail ? EFI_MMAP_GEOMETRY_RAGGED : EFI_MMAP_GEOMETRY_OK;
}

/* One line, no trailing newline or full stop, saying what status means for a person reading a report. */
static inline const char *efi_mmap_geometry_text(enum efi_mmap_geometry_status status)
{
	switch (status) {
	case EFI_MMAP_GEOMETRY_OK:
		return "a whole number of descriptors";
	case EFI_MMAP_GEOMETRY_RAGGED:
		return "the size is not a whole number of descriptors (a firmware bug): the bytes after the last whole "
		       "descriptor are ignored";
	case EFI_MMAP_GEOMETRY_DESC_TOO_SMALL:
		return "the descriptor size is smaller than a UEFI memory descriptor (40 bytes): the map cannot be read";
	case EFI_MMAP_GEOMETRY_DESC_UNALIGNED:
		return "the descriptor size is not a multiple of 8 bytes: the map cannot be read";
	case EFI_MMAP_GEOMETRY_TOO_LARGE:
		return "the map holds more descriptors than the kernel takes";
	default:
		return "an unknown memory map geometry status";
	}
}

#endif
