/*
 * The UEFI loader's main flow: load \kernel.elf and \cmdline.txt from the boot volume, gather
 * firmware facts into a struct bootinfo (include/bootinfo.h), build page tables, exit boot
 * services and jump to the kernel. Any failure before the jump prints what went wrong, waits,
 * frees what the loader allocated and returns an error status to the firmware.
 */
#include "loader.h"

/* How long a failure message stays on screen before control returns to the firmware. */
#define FAILURE_DELAY_US 5000000

static CHAR16 kernel_path[] = L"\\kernel.elf";
static CHAR16 cmdline_path[] = L"\\cmdline.txt";

/* Reads and loads \kernel.elf from `root` into *kernel. */
static EFI_STATUS load_kernel(EFI_FILE_HANDLE root, struct kernel_image *kernel)
{
	VOID *file = NULL;
	UINT64 size = 0;
	EFI_STATUS status = file_read_all(root, kernel_path, &file, &size);

	if (status == EFI_NOT_FOUND) {
		Print(LOADER_TAG L"\\kernel.elf not found on the boot volume.\n"
		      L"        Copy the kernel to the root of the EFI system partition as kernel.elf.\n");
		return status;
	}
	if (EFI_ERROR(status))
		return status;
	status = elf_load_kernel(file, size, kernel);
	FreePool(file);
	return status;
}

/*
 * Fills bi's command line from \cmdline.txt: its first BOOTINFO_CMDLINE_MAX - 1 bytes exactly as
 * they are (the kernel's parser handles encodings, line ends and NULs), their count, and when the
 * file is longer BOOTINFO_CMDLINE_CUT, with BOOTINFO_CMDLINE_CUT_AT_SEP when the cut fell before a
 * separator (bootinfo_cmdline_cut: one byte more than passed is read to know). An absent file
 * gives 0 bytes.
 */
static EFI_STATUS read_cmdline(EFI_FILE_HANDLE root, struct bootinfo *bi)
{
	UINTN len = 0;
	EFI_STATUS status = file_read_prefix(root, cmdline_path, bi->cmdline, BOOTINFO_CMDLINE_MAX, &len);

	if (status == EFI_NOT_FOUND)
		len = 0;
	else if (EFI_ERROR(status))
		return status;
	bi->cmdline_len = bootinfo_cmdline_cut((const UINT8 *)bi->cmdline, (UINT32)len, &bi->cmdline_flags);
	bi->cmdline[bi->cmdline_len] = '\0';
	return EFI_SUCCESS;
}

#ifdef LOADER_TEST_HOSTILE_FW
/*
 * The test loader of tools/hostile-fw-test.sh only (build/hostile/, mk/loader.mk): OVMF made to
 * behave as PC firmware the loader must boot on does, through wrappers of its services. GetMemoryMap
 * leaves DescriptorSize unwritten when it returns EFI_BUFFER_TOO_SMALL (UEFI does not promise it
 * there); the boot volume's files fail a Read of more than 1 MiB, and a Read into memory reaching
 * above 4 GiB writes nothing there and reports success (a controller failing DMA there in silence;
 * the file's bytes are read into pages below 4 GiB and dropped). hostile_report says what they did.
 */
#define HOSTILE_READ_MAX   0x100000ULL
#define HOSTILE_DMA_LIMIT  0xFFFFFFFFULL
static EFI_GET_MEMORY_MAP hostile_get_memory_map_fw;
static EFI_FILE_OPEN hostile_open_fw;
static EFI_FILE_READ hostile_read_fw;
static struct {
	UINTN unsaid, large_refused, high_dropped;
	UINT64 highest;   /* the highest destination byte of a Read */
} hostile;

/* GetMemoryMap without DescriptorSize on EFI_BUFFER_TOO_SMALL; otherwise the firmware's. */
static EFI_STATUS EFIAPI hostile_get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key,
						UINTN *desc_size, UINT32 *version)
{
	UINTN kept = desc_size != NULL ? *desc_size : 0;
	EFI_STATUS status = hostile_get_memory_map_fw(size, map, key, desc_size, version);

	if (status == EFI_BUFFER_TOO_SMALL && desc_size != NULL) {
		*desc_size = kept;
		hostile.unsaid++;
	}
	return status;
}

/* Read as the PC firmware above does: over 1 MiB refused, a destination reaching above 4 GiB left
 * unwritten (the bytes read below 4 GiB and dropped), else the firmware's. */
static EFI_STATUS EFIAPI hostile_read(EFI_FILE_HANDLE file, UINTN *size, VOID *buf)
{
	EFI_PHYSICAL_ADDRESS scratch = HOSTILE_DMA_LIMIT;
	UINTN pages = EFI_SIZE_TO_PAGES(*size);
	EFI_STATUS status;

	if (*size > HOSTILE_READ_MAX) {
		hostile.large_refused++;
		return EFI_DEVICE_ERROR;
	}
	if (*size > 0 && (UINT64)(UINTN)buf + *size - 1 > hostile.highest)
		hostile.highest = (UINT64)(UINTN)buf + *size - 1;
	if (*size == 0 || (UINT64)(UINTN)buf + *size - 1 <= HOSTILE_DMA_LIMIT)
		return hostile_read_fw(file, size, buf);
	hostile.high_dropped++;
	status = BS->AllocatePages(AllocateMaxAddress, EfiLoaderData, pages, &scratch);
	if (EFI_ERROR(status))
		return status;
	status = hostile_read_fw(file, size, (VOID *)(UINTN)scratch);
	BS->FreePages(scratch, pages);
	return status;
}

/* The root directory's Open, whose files read through hostile_read. */
static EFI_STATUS EFIAPI hostile_open(EFI_FILE_HANDLE root, EFI_FILE_HANDLE *file, CHAR16 *path, UINT64 mode,
				      UINT64 attr)
{
	EFI_STATUS status = hostile_open_fw(root, file, path, mode, attr);

	if (!EFI_ERROR(status)) {
		hostile_read_fw = (*file)->Read;
		(*file)->Read = hostile_read;
	}
	return status;
}

/* Puts the wrappers in place: the firmware's GetMemoryMap and root's Open. */
static void hostile_install(EFI_FILE_HANDLE root)
{
	hostile_get_memory_map_fw = BS->GetMemoryMap;
	BS->GetMemoryMap = hostile_get_memory_map;
	hostile_open_fw = root->Open;
	root->Open = hostile_open;
	Print(LOADER_TAG L"test loader: hostile firmware: GetMemoryMap without DescriptorSize when too small,\n"
	      L"        Reads over 1 MiB refused, Reads above 4 GiB dropped.\n");
}

/* Says what the wrappers did, once the files are read and the memory map sized. */
static void hostile_report(void)
{
	Print(LOADER_TAG L"test loader: hostile firmware: %ld sizing calls without DescriptorSize, %ld Reads\n"
	      L"        over 1 MiB refused, %ld Reads above 4 GiB dropped, highest Read byte %lx.\n",
	      (UINT64)hostile.unsaid, (UINT64)hostile.large_refused, (UINT64)hostile.high_dropped, hostile.highest);
}
#endif

/* Loads the kernel and the command line from the volume the loader was started from. */
static EFI_STATUS load_files(EFI_LOADED_IMAGE *loaded, struct kernel_image *kernel, struct bootinfo *bi)
{
	EFI_FILE_HANDLE root;
	EFI_STATUS status = volume_open(loaded, &root);

	if (EFI_ERROR(status))
		return status;
#ifdef LOADER_TEST_HOSTILE_FW
	hostile_install(root);
#endif
	status = load_kernel(root, kernel);
	if (!EFI_ERROR(status))
		status = read_cmdline(root, bi);
#ifdef LOADER_TEST_MAP_GEOMETRY
	if (!EFI_ERROR(status))
		status = maptest_read(root);
#endif
	root->Close(root);
	return status;
}

/* Fills the bootinfo fields that describe the kernel image and the loader. */
static void bootinfo_fill_header(struct bootinfo *bi, const struct kernel_image *kernel,
				 const EFI_LOADED_IMAGE *loaded)
{
	bi->magic = BOOTINFO_MAGIC;
	bi->version = BOOTINFO_VERSION;
	bi->size = sizeof(*bi);
	bi->kernel_phys_base = kernel->phys_base;
	bi->kernel_phys_size = kernel->size;
	bi->kernel_virt_base = kernel->virt_base;
	bi->loader_image_base = (UINT64)(UINTN)loaded->ImageBase;
}

/* The whole boot; returns only if the kernel could not be started (message already printed). */
static EFI_STATUS boot(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *loaded = NULL;
	struct kernel_image kernel;
	struct bootinfo *bi;
	UINT64 bi_phys, pml4_phys, mmap_capacity;
	EFI_STATUS status;

	status = BS->HandleProtocol(image, &LoadedImageProtocol, (VOID **)&loaded);
	if (EFI_ERROR(status)) {
		Print(LOADER_TAG L"cannot find the loader's own image: %r. Firmware problem.\n", status);
		return status;
	}
	status = platform_check_memory_encryption();
	if (EFI_ERROR(status))
		return status;
	status = pages_alloc(EfiLoaderData, sizeof(*bi), L"the boot information", &bi_phys);
	if (EFI_ERROR(status))
		return status;
	bi = (struct bootinfo *)(UINTN)bi_phys;
	status = load_files(loaded, &kernel, bi);
	if (EFI_ERROR(status))
		return status;
	bootinfo_fill_header(bi, &kernel, loaded);
	platform_find_framebuffer(&bi->fb);
	platform_find_rsdp(&bi->rsdp_phys, &bi->acpi_revision);
	platform_firmware_info(bi->fw_vendor, &bi->fw_revision, &bi->uefi_revision);
	status = memmap_compute_top(&bi->map_top);
#ifdef LOADER_TEST_HOSTILE_FW
	hostile_report();
#endif
	if (EFI_ERROR(status))
		return status;
	status = paging_build(bi->map_top, &kernel, &pml4_phys);
	if (EFI_ERROR(status))
		return status;
	Print(LOADER_TAG L"kernel %lx+%lx at %lx, entry %lx, map_top %lx, cmdline %u bytes%a\n",
	      kernel.virt_base, kernel.size, kernel.phys_base, kernel.entry, bi->map_top, bi->cmdline_len,
	      !(bi->cmdline_flags & BOOTINFO_CMDLINE_CUT) ? "" :
	      (bi->cmdline_flags & BOOTINFO_CMDLINE_CUT_AT_SEP) ? " (cut between words)" : " (cut)");
	status = memmap_alloc_final_buffer(&bi->mmap_phys, &mmap_capacity);
	if (EFI_ERROR(status))
		return status;
	return handover_exit_and_enter(image, bi, mmap_capacity, pml4_phys, kernel.entry);
}

/* Entry from GNU-EFI's crt0 (System V ABI, hence not EFIAPI). Returns only on failure. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_STATUS status;

	InitializeLib(image, systab);
	status = boot(image);
	pages_free_all();
	Print(LOADER_TAG L"boot aborted (%r). Returning to the firmware in 5 seconds.\n", status);
	BS->Stall(FAILURE_DELAY_US);
	return status;
}
