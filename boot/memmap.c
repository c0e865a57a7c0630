/*
 * Memory map queries before the hand-over: how much physical address space the loader's tables
 * must map, and a buffer big enough for the final map.
 */
#include "loader.h"
#include "vmlayout.h"

/* Spare descriptors in the final map buffer: allocations and splits between our sizing query
 * and the last ExitBootServices retry must still fit. */
#define MMAP_SLACK_DESCRIPTORS 32

/* True for memory the kernel may use or must reach through the direct map. */
static BOOLEAN memmap_type_is_ram(UINT32 type)
{
	switch (type) {
	case EfiConventionalMemory:
	case EfiLoaderCode:
	case EfiLoaderData:
	case EfiBootServicesCode:
	case EfiBootServicesData:
	case EfiACPIReclaimMemory:
	case EfiACPIMemoryNVS:
	case EfiRuntimeServicesCode:
	case EfiRuntimeServicesData:
	case EFI_MEMORY_TYPE_KERNEL:
		return TRUE;
	default:
		return FALSE;
	}
}

/* Raises *top to base + size; FALSE if that range wraps past 2^64. */
static BOOLEAN raise_top(UINT64 *top, UINT64 base, UINT64 size)
{
	if (size > UINT64_MAX - base)
		return FALSE;
	if (base + size > *top)
		*top = base + size;
	return TRUE;
}

/* Highest end of any RAM descriptor in the current memory map, into *top (raised only). */
static EFI_STATUS memmap_ram_top(UINT64 *top)
{
	UINTN count, key, desc_size;
	UINT32 desc_version;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&count, &key, &desc_size, &desc_version);
	EFI_STATUS status = EFI_SUCCESS;
	UINT8 *p = (UINT8 *)map;

	if (map == NULL) {
		Print(LOADER_TAG L"cannot read the firmware memory map. Firmware problem.\n");
		return EFI_DEVICE_ERROR;
	}
	for (UINTN i = 0; i < count; i++, p += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)p;

		if (!memmap_type_is_ram(d->Type))
			continue;
		if (d->NumberOfPages > UINT64_MAX / PAGE_SIZE ||
		    !raise_top(top, d->PhysicalStart, d->NumberOfPages * PAGE_SIZE)) {
			Print(LOADER_TAG L"firmware memory map entry at %lx wraps around. Firmware bug.\n",
			      d->PhysicalStart);
			status = EFI_DEVICE_ERROR;
			break;
		}
	}
	FreePool(map);
	return status;
}

/*
 * map_top for the loader's tables: max(4 GiB, end of highest RAM descriptor, end of the
 * framebuffer as bootinfo_fb_bytes sizes it) rounded up to 1 GiB. Fails if that does not fit
 * in the direct map window.
 */
EFI_STATUS memmap_compute_top(const struct bootinfo_fb *fb, UINT64 *map_top)
{
	UINT64 top = SIZE_4G, fb_bytes = bootinfo_fb_bytes(fb);
	EFI_STATUS status = memmap_ram_top(&top);

	if (EFI_ERROR(status))
		return status;
	/* An unusable framebuffer (bootinfo_fb_bytes 0, reported by platform_find_framebuffer) is
	 * the kernel's to refuse: it costs the screen, not the boot. */
	if (fb_bytes)
		raise_top(&top, fb->base, fb_bytes);
	if (!align_up_checked(top, SIZE_1G, map_top) || *map_top > DMAP_SIZE) {
		Print(LOADER_TAG L"physical memory reaches %lx, beyond the %ld TiB the kernel maps.\n"
		      L"        Boot with less memory.\n", top, DMAP_SIZE >> 40);
		return EFI_UNSUPPORTED;
	}
	return EFI_SUCCESS;
}

/*
 * Allocates a LoaderData buffer for the final memory map: the current map's size plus slack for
 * the descriptors that later allocations and ExitBootServices retries may add. It is also the
 * map copy handed to the kernel.
 */
EFI_STATUS memmap_alloc_final_buffer(UINT64 *phys, UINT64 *capacity)
{
	UINTN size = 0, key, desc_size = 0;
	UINT32 desc_version;
	EFI_STATUS status = BS->GetMemoryMap(&size, NULL, &key, &desc_size, &desc_version);

	if (status != EFI_BUFFER_TOO_SMALL || desc_size < sizeof(EFI_MEMORY_DESCRIPTOR)) {
		Print(LOADER_TAG L"cannot size the firmware memory map (%r). Firmware problem.\n",
		      status);
		return EFI_DEVICE_ERROR;
	}
	if (desc_size > SIZE_1G / MMAP_SLACK_DESCRIPTORS || size > SIZE_1G) {
		Print(LOADER_TAG L"firmware memory map is implausibly large (%ld bytes). Firmware bug.\n",
		      size);
		return EFI_DEVICE_ERROR;
	}
	/* Both terms are bounded above, so the sum and its rounding cannot overflow. */
	align_up_checked(size + MMAP_SLACK_DESCRIPTORS * desc_size, PAGE_SIZE, capacity);
	return pages_alloc(EfiLoaderData, *capacity, L"the memory map", phys);
}
