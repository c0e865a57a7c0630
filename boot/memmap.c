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

/* True when the firmware's descriptor stride can be read and handed over: at least one
 * descriptor (a shorter one would read the map past its end) and a multiple of
 * BOOTINFO_MMAP_DESC_ALIGN (what the kernel reads). Else prints why; the caller refuses the map. */
static BOOLEAN memmap_desc_size_ok(UINTN desc_size)
{
	if (desc_size >= sizeof(EFI_MEMORY_DESCRIPTOR) && desc_size % BOOTINFO_MMAP_DESC_ALIGN == 0)
		return TRUE;
	if (desc_size < sizeof(EFI_MEMORY_DESCRIPTOR))
		Print(LOADER_TAG L"firmware memory map descriptors are %ld bytes apart, fewer than the %ld of one\n"
		      L"        descriptor: cannot read the map. Firmware problem.\n", (UINT64)desc_size,
		      (UINT64)sizeof(EFI_MEMORY_DESCRIPTOR));
	else
		Print(LOADER_TAG L"firmware memory map descriptors are %ld bytes apart, not a multiple of %d:\n"
		      L"        the kernel cannot read the map. Firmware problem.\n", (UINT64)desc_size,
		      BOOTINFO_MMAP_DESC_ALIGN);
	return FALSE;
}

/* GetMemoryMap calls memmap_read makes before giving up on a map that keeps outgrowing its buffer. */
#define MEMMAP_READ_ATTEMPTS 4
/* Bytes added to the size GetMemoryMap asks for: the pool allocation that holds the map may itself
 * split a descriptor or two. */
#define MEMMAP_READ_SLACK 4096

/*
 * Reads the firmware's current map into a new pool buffer (*map, to FreePool): *bytes of it,
 * descriptors *desc_size apart, of version *desc_version. The stride is the one a successful
 * GetMemoryMap gave and is checked (memmap_desc_size_ok) before the caller reads any descriptor;
 * no count is made of it here (GNU-EFI's LibMemoryMap divides by it unchecked). Prints why and
 * fails when the map cannot be had or read.
 */
static EFI_STATUS memmap_read(VOID **map, UINTN *bytes, UINTN *desc_size, UINT32 *desc_version)
{
	UINTN size = 0, key;
	VOID *buf = NULL;
	EFI_STATUS status = EFI_BUFFER_TOO_SMALL;

	for (UINTN attempt = 0; attempt < MEMMAP_READ_ATTEMPTS && status == EFI_BUFFER_TOO_SMALL; attempt++) {
		if (buf != NULL)
			FreePool(buf);
		buf = NULL;
		if (attempt > 0) {   /* the first call, without a buffer, asks the size */
			if (size > SIZE_1G) {
				Print(LOADER_TAG L"firmware memory map is implausibly large (%ld bytes). Firmware bug.\n",
				      (UINT64)size);
				return EFI_DEVICE_ERROR;
			}
			size += MEMMAP_READ_SLACK;
			buf = AllocatePool(size);
			if (buf == NULL) {
				Print(LOADER_TAG L"out of memory reading the firmware memory map (%ld bytes).\n",
				      (UINT64)size);
				return EFI_OUT_OF_RESOURCES;
			}
		}
		*desc_size = 0;
		status = BS->GetMemoryMap(&size, buf, &key, desc_size, desc_version);
	}
	if (!EFI_ERROR(status) && buf == NULL)   /* "success" for the sizing call: an empty map */
		status = EFI_NOT_FOUND;
	if (EFI_ERROR(status)) {
		if (buf != NULL)
			FreePool(buf);
		Print(LOADER_TAG L"cannot read the firmware memory map (%r). Firmware problem.\n", status);
		return EFI_DEVICE_ERROR;
	}
	if (!memmap_desc_size_ok(*desc_size)) {
		FreePool(buf);
		return EFI_DEVICE_ERROR;
	}
	*map = buf;
	*bytes = size;
	return EFI_SUCCESS;
}

/*
 * The size in bytes of the firmware's current map and its descriptor stride (checked: prints why
 * when the firmware will not say or the stride cannot hold a descriptor). UEFI does not say that
 * GetMemoryMap gives DescriptorSize when it returns EFI_BUFFER_TOO_SMALL, and some firmware leaves
 * it unwritten then (VMware's esx-boot carries a workaround for such a machine): a stride of 0
 * from the sizing call is learnt from a whole read (memmap_read) instead of refused.
 */
static EFI_STATUS memmap_size_query(UINTN *size, UINTN *desc_size)
{
	UINTN key;
	UINT32 desc_version;
	VOID *map;
	EFI_STATUS status;

	*size = 0;
	*desc_size = 0;
	status = BS->GetMemoryMap(size, NULL, &key, desc_size, &desc_version);
	if (status != EFI_BUFFER_TOO_SMALL) {
		Print(LOADER_TAG L"cannot size the firmware memory map (%r). Firmware problem.\n",
		      status);
		return EFI_DEVICE_ERROR;
	}
	if (*desc_size != 0)
		return memmap_desc_size_ok(*desc_size) ? EFI_SUCCESS : EFI_DEVICE_ERROR;
	status = memmap_read(&map, size, desc_size, &desc_version);
	if (!EFI_ERROR(status))
		FreePool(map);
	return status;
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

/* What memmap_ram_top met on its way: the descriptors it ignored and the RAM past its limit. */
struct memmap_top_notes {
	UINTN ignored;          /* RAM descriptors reaching past the 52-bit space (or 2^64) */
	UINT64 first_ignored;   /* PhysicalStart of the first of them */
	UINT64 past_limit;      /* highest RAM end past the limit, or 0 */
	UINT32 phys_bits;       /* the CPU's physical address width */
};

/* Says on the console what memmap_ram_top left out; the boot goes on. */
static void memmap_print_notes(const struct memmap_top_notes *n)
{
	if (n->ignored)
		Print(LOADER_TAG L"ignoring %ld firmware memory map entries whose RAM would end past the 52-bit\n"
		      L"        physical address space (the first at %lx). Firmware bug.\n", (UINT64)n->ignored,
		      n->first_ignored);
	if (n->past_limit && (1ULL << n->phys_bits) < DMAP_SIZE)
		Print(LOADER_TAG L"RAM reaches %lx, past the CPU's %ld-bit physical address width; the RAM\n"
		      L"        above is not used. Firmware bug.\n", n->past_limit, (UINT64)n->phys_bits);
	else if (n->past_limit)
		Print(LOADER_TAG L"RAM reaches %lx, past the %ld TiB the kernel maps; the RAM above is not used.\n",
		      n->past_limit, DMAP_SIZE >> 40);
}

/*
 * Highest end of the RAM descriptors in the current memory map, at most min(DMAP_SIZE,
 * 2^phys_bits), into *top (raised only). A descriptor whose RAM would end past the 52-bit physical
 * address space is ignored whole, as the kernel ignores it (mm/phys.c, kernel/vm.c); RAM past
 * DMAP_SIZE, which the kernel neither maps nor uses, and past the CPU's physical address width,
 * which no page-table entry can name (its bits there are reserved) and the kernel ignores too
 * (mm/phys.c PHYS_LIMIT_PFN), is left out; a descriptor version other than UEFI's 1 is named on the
 * console. Fails only when the map cannot be read.
 */
static EFI_STATUS memmap_ram_top(UINT32 phys_bits, UINT64 *top)
{
	UINTN bytes, desc_size;
	UINT32 desc_version;
	VOID *map;
	struct memmap_top_notes notes = { 0, 0, 0, phys_bits };
	const UINT64 limit = (1ULL << phys_bits) < DMAP_SIZE ? 1ULL << phys_bits : DMAP_SIZE;
	EFI_STATUS status = memmap_read(&map, &bytes, &desc_size, &desc_version);
	UINT8 *p;

	if (EFI_ERROR(status))
		return status;
	p = (UINT8 *)map;
	/* UEFI defines version 1 only; another is read as it, as Linux does (with a warning) */
	if (desc_version != EFI_MEMORY_DESCRIPTOR_VERSION)
		Print(LOADER_TAG L"firmware memory map descriptors are version %ld, not %ld; the loader and the\n"
		      L"        kernel read them as version %ld. Firmware problem: report it if the boot fails.\n",
		      (UINT64)desc_version, (UINT64)EFI_MEMORY_DESCRIPTOR_VERSION, (UINT64)EFI_MEMORY_DESCRIPTOR_VERSION);
	for (UINTN i = 0; i < bytes / desc_size; i++, p += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)p;
		UINT64 end;

		if (!memmap_type_is_ram(d->Type) || d->NumberOfPages == 0)
			continue;
		if (!memmap_desc_end(d, &end)) {
			if (notes.ignored++ == 0)
				notes.first_ignored = d->PhysicalStart;
			continue;
		}
		if (end > limit) {   /* the RAM below the limit only: none when it starts there */
			if (end > notes.past_limit)
				notes.past_limit = end;
			end = d->PhysicalStart < limit ? limit : 0;
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
 * 1 GiB, at most DMAP_SIZE and 2^phys_bits (platform_phys_addr_bits: the CPU's physical address
 * width, as the kernel reads it), so no entry names an address the CPU cannot, and RAM a bogus
 * descriptor claims past the width costs no tables (memmap_ram_top: what it leaves out is said on
 * the console, and the boot goes on). The framebuffer plays no part: nothing reads it through these
 * tables (the kernel maps it itself at FB_BASE, kernel/vm.c), so a GOP mode placed high costs
 * nothing here. Fails only when the firmware's map cannot be read.
 */
EFI_STATUS memmap_compute_top(UINT64 *map_top)
{
	UINT64 top = SIZE_4G;
	EFI_STATUS status = memmap_ram_top(platform_phys_addr_bits(), &top);

	if (EFI_ERROR(status))
		return status;
	/* 4 GiB <= top <= the limit, both 1 GiB multiples: the rounding neither overflows nor passes it */
	align_up_checked(top, SIZE_1G, map_top);
	return EFI_SUCCESS;
}

/*
 * Allocates a LoaderData buffer for the final memory map: the current map's size plus slack for
 * the descriptors that later allocations and ExitBootServices retries may add. It is also the
 * map copy handed to the kernel: GetMemoryMap writes the whole map into it, and
 * memmap_fit_for_kernel decides there whether (merged or not) the kernel can take it.
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

/* End (exclusive, bytes) of descriptor d into *end; FALSE when it would wrap past 2^64 (such a
 * descriptor is never merged). */
static BOOLEAN memmap_desc_end64(const EFI_MEMORY_DESCRIPTOR *d, UINT64 *end)
{
	if (d->NumberOfPages > (UINT64_MAX - d->PhysicalStart) / PAGE_SIZE)
		return FALSE;
	*end = d->PhysicalStart + d->NumberOfPages * PAGE_SIZE;
	return TRUE;
}

/* True when b can be folded into a, the descriptor before it, losing nothing: the same type and
 * attributes, and b starting where a ends (both ends below 2^64, so the sum of pages fits). */
static BOOLEAN memmap_mergeable(const EFI_MEMORY_DESCRIPTOR *a, const EFI_MEMORY_DESCRIPTOR *b)
{
	UINT64 a_end, b_end;

	return a->Type == b->Type && a->Attribute == b->Attribute && memmap_desc_end64(a, &a_end) &&
	       memmap_desc_end64(b, &b_end) && a_end == b->PhysicalStart;
}

/*
 * Merges, in place, each descriptor of the map (`bytes` at map, desc_size apart) into the one kept
 * before it when memmap_mergeable (the rule of Linux's x86 efi_merge_regions): each byte keeps its
 * type and attributes, the order stays, and a merged descriptor keeps its first part's
 * PhysicalStart, VirtualStart and bytes past the descriptor (the kernel never calls
 * SetVirtualAddressMap). Descriptors merge with their neighbours in the map's order only; the map
 * is not sorted. Returns the merged map's size in bytes. Calls no firmware service (see
 * memmap_fit_for_kernel).
 */
UINTN memmap_merge_adjacent(VOID *map, UINTN bytes, UINTN desc_size)
{
	UINT8 *base = (UINT8 *)map;
	UINTN count = bytes / desc_size, kept = 0;

	for (UINTN i = 0; i < count; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(base + i * desc_size);

		if (kept > 0) {
			EFI_MEMORY_DESCRIPTOR *last = (EFI_MEMORY_DESCRIPTOR *)(base + (kept - 1) * desc_size);

			if (memmap_mergeable(last, d)) {
				last->NumberOfPages += d->NumberOfPages;
				continue;
			}
		}
		if (kept != i)   /* kept < i: the two strides do not overlap */
			CopyMem(base + kept * desc_size, d, desc_size);
		kept++;
	}
	return kept * desc_size;
}

/* Says on screen that the final map cannot be handed over: its size as the firmware gave it and
 * merged, the kernel's limits, and what to do. */
static void memmap_print_unfit(UINTN raw_bytes, UINTN merged_bytes, UINTN desc_size)
{
	Print(LOADER_TAG L"the firmware memory map has %ld entries of %ld bytes (%ld bytes), %ld with\n"
	      L"        neighbouring entries of one type merged; the kernel takes at most %d entries and\n"
	      L"        %d bytes, so it cannot start on this machine.\n"
	      L"        What to do: raise BOOTINFO_MMAP_MAX_BYTES and BOOTINFO_MMAP_MAX_DESCS in\n"
	      L"        include/bootinfo.h and rebuild the loader and the kernel together.\n",
	      (UINT64)(raw_bytes / desc_size), (UINT64)desc_size, (UINT64)raw_bytes,
	      (UINT64)(merged_bytes / desc_size), BOOTINFO_MMAP_MAX_DESCS, BOOTINFO_MMAP_MAX_BYTES);
}

/* Says on screen that the final map holds no whole descriptor (the firmware's size for it). */
static void memmap_print_empty(UINTN bytes, UINTN desc_size)
{
	Print(LOADER_TAG L"the firmware memory map is %ld bytes, not one whole descriptor of %ld bytes:\n"
	      L"        the kernel would have no memory. Firmware problem.\n", (UINT64)bytes, (UINT64)desc_size);
}

/*
 * Makes the final map (*bytes at map, desc_size apart, as GetMemoryMap just wrote it) one the
 * kernel takes (bootinfo_mmap_fits): its whole descriptors only (a size that is not a multiple of
 * the stride, a firmware's bug, leaves a tail that is no descriptor: *bytes is cut to the last
 * whole one, as Linux counts map_size / desc_size descriptors; the kernel would cut it too, and say
 * so, efi_mmap_geometry), left as they are when they fit, else
 * merged in place (memmap_merge_adjacent) and *bytes their new size. When even the merged map does
 * not fit, it holds no whole descriptor, or the stride cannot be read, prints why and fails: the
 * caller must not call ExitBootServices with it. Runs between the final GetMemoryMap and
 * ExitBootServices, so on success it calls no firmware service and allocates nothing: the map key
 * stays valid, as it only names the firmware's map, not the caller's copy of it (Linux's EFI boot
 * code converts its copy there too, exit_boot_func).
 */
EFI_STATUS memmap_fit_for_kernel(VOID *map, UINTN *bytes, UINTN desc_size)
{
	UINTN merged;

	if (!memmap_desc_size_ok(desc_size))
		return EFI_UNSUPPORTED;
	if (*bytes < desc_size) {
		memmap_print_empty(*bytes, desc_size);
		return EFI_UNSUPPORTED;
	}
	*bytes -= *bytes % desc_size;
	if (bootinfo_mmap_fits(*bytes, desc_size))
		return EFI_SUCCESS;
	merged = memmap_merge_adjacent(map, *bytes, desc_size);
	if (!bootinfo_mmap_fits(merged, desc_size)) {
		memmap_print_unfit(*bytes, merged, desc_size);
		return EFI_UNSUPPORTED;
	}
	*bytes = merged;
	return EFI_SUCCESS;
}
