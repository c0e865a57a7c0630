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

/* Records an allocation for pages_free_all; FALSE (with a message) when the table is full. */
static BOOLEAN pages_record(EFI_PHYSICAL_ADDRESS base, UINTN pages, const CHAR16 *what)
{
	if (allocation_count == MAX_ALLOCATIONS) {
		Print(LOADER_TAG L"internal error: too many allocations (%s). Report this bug.\n", what);
		return FALSE;
	}
	allocations[allocation_count].base = base;
	allocations[allocation_count].pages = pages;
	allocation_count++;
	return TRUE;
}

/*
 * Allocates zeroed pages of `type` covering `bytes` (> 0); `what` names them in the error message.
 * Never at physical address 0: UEFI may hand out page 0 like any other, but GNU-EFI's CopyMem
 * copies nothing to or from address 0, GetMemoryMap refuses a map buffer there (NULL) and a page
 * table there reads as NULL; a block at 0 is kept (recorded, so pages_free_all frees it) and the
 * pages are asked again, as GRUB and uefi-rs do.
 */
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
	if (!EFI_ERROR(status) && base == 0) {
		if (!pages_record(base, rounded / PAGE_SIZE, what))
			return EFI_OUT_OF_RESOURCES;
		status = BS->AllocatePages(AllocateAnyPages, type, rounded / PAGE_SIZE, &base);
		if (!EFI_ERROR(status) && base == 0) {   /* page 0 twice: the firmware's bug */
			Print(LOADER_TAG L"cannot allocate %ld KiB for %s: the firmware gave physical address 0\n"
			      L"        twice. Firmware problem.\n", rounded / 1024, what);
			return EFI_DEVICE_ERROR;
		}
	}
	if (EFI_ERROR(status)) {
		Print(LOADER_TAG L"cannot allocate %ld KiB for %s: %r.\n"
		      L"        Give the machine more memory or boot a smaller kernel.\n",
		      rounded / 1024, what, status);
		return status;
	}
	if (!pages_record(base, rounded / PAGE_SIZE, what)) {
		BS->FreePages(base, rounded / PAGE_SIZE);
		return EFI_OUT_OF_RESOURCES;
	}
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
