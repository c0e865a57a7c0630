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

#endif
