/*
 * Memory map queries before the hand-over: how much physical address space the loader's tables
 * must map, and a buffer big enough for the final map.
 */
#include "loader.h"
#include "physlimit.h"
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

/* Bytes of the architectural 52-bit physical address space: no machine has RAM past it, so a
 * descriptor claiming some is a firmware bug (mm/phys.c's PHYS_ARCH_FRAMES, the same rule). */
#define MEMMAP_ARCH_END PHYS_ADDR_ARCH_END

/* The firmware's descriptor stride is too short to hold a descriptor: reading the map at it
 * would run past its end. Prints why; the caller refuses the map. */
static BOOLEAN memmap_desc_size_ok(UINTN desc_size)
{
	if (desc_size >= sizeof(EFI_MEMORY_DESCRIPTOR))
		return TRUE;
	Print(LOADER_TAG L"firmware memory map descriptors are %ld bytes apart, fewer than the %ld of one\n"
	      L"        descriptor: cannot read the map. Firmware problem.\n", (UINT64)desc_size,
	      (UINT64)sizeof(EFI_MEMORY_DESCRIPTOR));
	return FALSE;
}

/* The size in bytes of the firmware's current map and its descriptor stride, asked before any map
 * is read at that stride (GNU-EFI's LibMemoryMap divides by it); prints why when the firmware will
 * not say or the stride cannot hold a descriptor. */
static EFI_STATUS memmap_size_query(UINTN *size, UINTN *desc_size)
{
	UINTN key;
	UINT32 desc_version;
	EFI_STATUS status;

	*size = 0;
	*desc_size = 0;
	status = BS->GetMemoryMap(size, NULL, &key, desc_size, &desc_version);
	if (status != EFI_BUFFER_TOO_SMALL) {
		Print(LOADER_TAG L"cannot size the firmware memory map (%r). Firmware problem.\n",
		      status);
		return EFI_DEVICE_ERROR;
	}
	return memmap_desc_size_ok(*desc_size) ? EFI_SUCCESS : EFI_DEVICE_ERROR;
}

/* End (exclusive, bytes) of descriptor d's RAM into *end; FALSE when it would reach past the
 * 52-bit physical address space or wrap past 2^64 (the kernel ignores such a descriptor whole). */
static BOOLEAN memmap_desc_end(const EFI_MEMORY_DESCRIPTOR *d, UINT64 *end)
{
	if (d->NumberOfPages > MEMMAP_ARCH_END / PAGE_SIZE ||
	    d->PhysicalStart > MEMMAP_ARCH_END - d->NumberOfPages * PAGE_SIZE)
		return FALSE;
	*end = d->PhysicalStart + d->NumberOfPages * PAGE_SIZE;
	return TRUE;
}

/* What memmap_ram_top met on its way: the descriptors it ignored and the RAM past the direct map. */
struct memmap_top_notes {
	UINTN ignored;          /* RAM descriptors reaching past the 52-bit space (or 2^64) */
	UINT64 first_ignored;   /* PhysicalStart of the first of them */
	UINT64 past_dmap;       /* highest RAM end past DMAP_SIZE, or 0 */
};

/* Says on the console what memmap_ram_top left out; the boot goes on. */
static void memmap_print_notes(const struct memmap_top_notes *n)
{
	if (n->ignored)
		Print(LOADER_TAG L"ignoring %ld firmware memory map entries whose RAM would end past the 52-bit\n"
		      L"        physical address space (the first at %lx). Firmware bug.\n", (UINT64)n->ignored,
		      n->first_ignored);
	if (n->past_dmap)
		Print(LOADER_TAG L"RAM reaches %lx, past the %ld TiB the kernel maps; the RAM above is not used.\n",
		      n->past_dmap, DMAP_SIZE >> 40);
}

/*
 * Highest end of the RAM descriptors in the current memory map, at most DMAP_SIZE, into *top
 * (raised only). A descriptor whose RAM would end past the 52-bit physical address space is
 * ignored whole, as the kernel ignores it (mm/phys.c, kernel/vm.c); RAM past DMAP_SIZE, which the
 * kernel neither maps nor uses, is left out. Fails only when the map cannot be read.
 */
static EFI_STATUS memmap_ram_top(UINT64 *top)
{
	UINTN bytes, count, key, desc_size;
	UINT32 desc_version;
	EFI_MEMORY_DESCRIPTOR *map;
	struct memmap_top_notes notes = { 0, 0, 0 };
	EFI_STATUS status = memmap_size_query(&bytes, &desc_size);
	UINT8 *p;

	if (EFI_ERROR(status))
		return status;
	map = LibMemoryMap(&count, &key, &desc_size, &desc_version);
	p = (UINT8 *)map;
	if (map == NULL) {
		Print(LOADER_TAG L"cannot read the firmware memory map. Firmware problem.\n");
		return EFI_DEVICE_ERROR;
	}
	if (!memmap_desc_size_ok(desc_size)) {   /* the stride asked again, with the map */
		FreePool(map);
		return EFI_DEVICE_ERROR;
	}
	for (UINTN i = 0; i < count; i++, p += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)p;
		UINT64 end;

		if (!memmap_type_is_ram(d->Type) || d->NumberOfPages == 0)
			continue;
		if (!memmap_desc_end(d, &end)) {
			if (notes.ignored++ == 0)
				notes.first_ignored = d->PhysicalStart;
			continue;
		}
		if (end > DMAP_SIZE) {
			if (end > notes.past_dmap)
				notes.past_dmap = end;
			end = DMAP_SIZE;
		}
		if (end > *top)
			*top = end;
	}
	FreePool(map);
	memmap_print_notes(&notes);
	return EFI_SUCCESS;
}

/*
 * map_top for the loader's tables: max(4 GiB, end of the highest RAM descriptor) rounded up to
 * 1 GiB, at most DMAP_SIZE (memmap_ram_top: what it leaves out is said on the console, and the
 * boot goes on). The framebuffer plays no part: nothing reads it through these tables (the kernel
 * maps it itself at FB_BASE, kernel/vm.c), so a GOP mode placed high costs nothing here. Fails only
 * when the firmware's map cannot be read.
 */
EFI_STATUS memmap_compute_top(UINT64 *map_top)
{
	UINT64 top = SIZE_4G;
	EFI_STATUS status = memmap_ram_top(&top);

	if (EFI_ERROR(status))
		return status;
	/* top <= DMAP_SIZE, a 1 GiB multiple: the rounding neither overflows nor passes it */
	align_up_checked(top, SIZE_1G, map_top);
	return EFI_SUCCESS;
}

/*
 * Allocates a LoaderData buffer for the final memory map: the current map's size plus slack for
 * the descriptors that later allocations and ExitBootServices retries may add. It is also the
 * map copy handed to the kernel.
 */
EFI_STATUS memmap_alloc_final_buffer(UINT64 *phys, UINT64 *capacity)
{
	UINTN size, desc_size;
	EFI_STATUS status = memmap_size_query(&size, &desc_size);

	if (EFI_ERROR(status))
		return status;
	if (desc_size > SIZE_1G / MMAP_SLACK_DESCRIPTORS || size > SIZE_1G) {
		Print(LOADER_TAG L"firmware memory map is implausibly large (%ld bytes). Firmware bug.\n",
		      size);
		return EFI_DEVICE_ERROR;
	}
	/* Both terms are bounded above, so the sum and its rounding cannot overflow. */
	align_up_checked(size + MMAP_SLACK_DESCRIPTORS * desc_size, PAGE_SIZE, capacity);
	return pages_alloc(EfiLoaderData, *capacity, L"the memory map", phys);
}
