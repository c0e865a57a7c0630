/*
 * Interfaces between the parts of the UEFI loader. Every function that can fail prints its own
 * message (what is wrong, what to do) before returning an error status; the caller only aborts.
 */
#ifndef BOOT_LOADER_H
#define BOOT_LOADER_H

#include <efi.h>
#include <efilib.h>
#include "bootinfo.h"

#define PAGE_SIZE      4096ULL
#define SIZE_2M        0x200000ULL
#define SIZE_1G        0x40000000ULL
#define SIZE_4G        0x100000000ULL

/* Prefix of every line the loader prints. */
#define LOADER_TAG L"loader: "

/* True if x is a multiple of the power of two a. */
static inline BOOLEAN is_aligned(UINT64 x, UINT64 a) { return (x & (a - 1)) == 0; }

/* x rounded down to the power of two a. */
static inline UINT64 align_down(UINT64 x, UINT64 a) { return x & ~(a - 1); }

/* Rounds x up to the power of two a into *out; FALSE (and *out untouched) if that overflows. */
static inline BOOLEAN align_up_checked(UINT64 x, UINT64 a, UINT64 *out)
{
	if (x > UINT64_MAX - (a - 1))
		return FALSE;
	*out = align_down(x + (a - 1), a);
	return TRUE;
}

/* The kernel image as loaded: one contiguous block, mapped at virt_base. */
struct kernel_image {
	UINT64 phys_base;  /* page aligned, memory type EFI_MEMORY_TYPE_KERNEL */
	UINT64 virt_base;  /* lowest PT_LOAD vaddr rounded down to a page */
	UINT64 size;       /* page multiple; virt_base + size does not overflow */
	UINT64 entry;      /* ELF entry point, in the file bytes of an executable PT_LOAD segment */
};

#ifdef LOADER_TEST_MAP_GEOMETRY
/*
 * handover.c, in the test loader of tools/badgeom-map-test.sh only (build/geom/, mk/loader.mk):
 * the hand-over map's geometry rewritten as \maptest.txt says, to try the kernel's reading of a
 * map no loader of ours hands over. maptest_read parses the file (absent: no change) and prints
 * what it will do, or refuses a malformed file; maptest_apply rewrites bi's map size and stride
 * after the final GetMemoryMap, printing and allocating nothing.
 */
EFI_STATUS maptest_read(EFI_FILE_HANDLE root);
void maptest_apply(struct bootinfo *bi);
#endif

/* alloc.c: page allocations, remembered so a failed boot can give them back. */
EFI_STATUS pages_alloc(EFI_MEMORY_TYPE type, UINT64 bytes, const CHAR16 *what, UINT64 *phys);
void pages_free_all(void);

/* fileio.c: files on the volume the loader was started from. */
EFI_STATUS volume_open(EFI_LOADED_IMAGE *image, EFI_FILE_HANDLE *root);
EFI_STATUS file_read_all(EFI_FILE_HANDLE root, CHAR16 *path, VOID **buf, UINT64 *size);
EFI_STATUS file_read_prefix(EFI_FILE_HANDLE root, CHAR16 *path, VOID *buf, UINTN cap, UINTN *got);

/* elf.c: check an ELF kernel file (elf_check.h) and load it into EFI_MEMORY_TYPE_KERNEL pages. */
EFI_STATUS elf_load_kernel(const VOID *file, UINT64 file_size, struct kernel_image *kernel);

/* memmap.c: memory map queries, and the final map made one the kernel takes. */
EFI_STATUS memmap_compute_top(UINT64 *map_top);
EFI_STATUS memmap_alloc_final_buffer(UINT64 *phys, UINT64 *capacity);
UINTN memmap_merge_adjacent(VOID *map, UINTN bytes, UINTN desc_size);
EFI_STATUS memmap_fit_for_kernel(VOID *map, UINTN *bytes, UINTN desc_size);

/* paging.c: the page tables the kernel is entered with. */
EFI_STATUS paging_build(UINT64 map_top, const struct kernel_image *kernel, UINT64 *pml4_phys);

/* platform.c: firmware facts for the hand-over, and the CPU's usable physical address width
 * (include/physwidth.h's rule, kept in 32..52: the kernel's arch_phys_addr_bits). */
UINT32 platform_phys_addr_bits(void);
/* Says what memory encryption takes from the physical width, if any; refuses an AMD SEV guest
 * (EFI_UNSUPPORTED, message printed): the kernel cannot run encrypted. */
EFI_STATUS platform_check_memory_encryption(void);
void platform_find_framebuffer(struct bootinfo_fb *fb);
void platform_find_rsdp(UINT64 *rsdp_phys, UINT32 *acpi_revision);
void platform_firmware_info(char vendor[BOOTINFO_FW_VENDOR_MAX], UINT32 *fw_revision, UINT32 *uefi_revision);

/* handover.c: leave boot services and enter the kernel; returns only on failure. */
EFI_STATUS handover_exit_and_enter(EFI_HANDLE image, struct bootinfo *bi, UINT64 mmap_capacity,
				   UINT64 pml4_phys, UINT64 entry);

#endif
