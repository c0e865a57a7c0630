/*
 * Page allocations of the loader. Each one is recorded so that a boot that fails before
 * ExitBootServices can hand every page back to the firmware before returning to it.
 */
#include "loader.h"

/* The loader makes a handful of allocations (kernel, bootinfo, tables, map); room to spare. */
#define MAX_ALLOCATIONS 16

struct allocation {
	EFI_PHYSICAL_ADDRESS base;
	UINTN pages;
};

static struct allocation allocations[MAX_ALLOCATIONS];
static UINTN allocation_count;

/* Allocates zeroed pages of `type` covering `bytes` (> 0); `what` names them in the error message. */
EFI_STATUS pages_alloc(EFI_MEMORY_TYPE type, UINT64 bytes, const CHAR16 *what, UINT64 *phys)
{
	UINT64 rounded;
	EFI_PHYSICAL_ADDRESS base = 0;
	EFI_STATUS status;

	if (allocation_count == MAX_ALLOCATIONS) {
		Print(LOADER_TAG L"internal error: too many allocations (%s). Report this bug.\n", what);
		return EFI_OUT_OF_RESOURCES;
	}
	if (bytes == 0 || !align_up_checked(bytes, PAGE_SIZE, &rounded)) {
		Print(LOADER_TAG L"internal error: bad size %lx for %s. Report this bug.\n", bytes, what);
		return EFI_INVALID_PARAMETER;
	}
	status = BS->AllocatePages(AllocateAnyPages, type, rounded / PAGE_SIZE, &base);
	if (EFI_ERROR(status)) {
		Print(LOADER_TAG L"cannot allocate %ld KiB for %s: %r.\n"
		      L"        Give the machine more memory or boot a smaller kernel.\n",
		      rounded / 1024, what, status);
		return status;
	}
	allocations[allocation_count].base = base;
	allocations[allocation_count].pages = rounded / PAGE_SIZE;
	allocation_count++;
	ZeroMem((VOID *)(UINTN)base, rounded);
	*phys = base;
	return EFI_SUCCESS;
}

/* Frees every page allocated through pages_alloc, newest first. Only before ExitBootServices. */
void pages_free_all(void)
{
	while (allocation_count > 0) {
		allocation_count--;
		BS->FreePages(allocations[allocation_count].base, allocations[allocation_count].pages);
	}
}
