/*
 * Reading files from the volume the loader itself was started from (the ESP, normally).
 */
#include "loader.h"

/* Opens the root directory of the file system the loader image was loaded from. */
EFI_STATUS volume_open(EFI_LOADED_IMAGE *image, EFI_FILE_HANDLE *root)
{
	EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs = NULL;
	EFI_STATUS status;

	status = BS->HandleProtocol(image->DeviceHandle, &FileSystemProtocol, (VOID **)&fs);
	if (EFI_ERROR(status)) {
		Print(LOADER_TAG L"the device the loader was started from has no file system: %r.\n"
		      L"        Start the loader from a FAT-formatted EFI system partition.\n", status);
		return status;
	}
	status = fs->OpenVolume(fs, root);
	if (EFI_ERROR(status)) {
		Print(LOADER_TAG L"cannot open the boot volume: %r. Check the EFI system partition.\n",
		      status);
		return status;
	}
	return EFI_SUCCESS;
}

/* Opens `path` for reading. EFI_NOT_FOUND is returned silently; other errors are reported. */
static EFI_STATUS file_open(EFI_FILE_HANDLE root, CHAR16 *path, EFI_FILE_HANDLE *file)
{
	EFI_STATUS status = root->Open(root, file, path, EFI_FILE_MODE_READ, 0);

	if (EFI_ERROR(status) && status != EFI_NOT_FOUND)
		Print(LOADER_TAG L"cannot open %s on the boot volume: %r. Check the file system.\n",
		      path, status);
	return status;
}

/*
 * Bytes asked of one EFI_FILE_PROTOCOL.Read: some PC firmware fails or hangs on a large read and
 * reads the same file in 1 MiB pieces (Linux's EFI boot code reads in such chunks on x86 for that
 * reason, libstub/file.c EFI_READ_CHUNK_SIZE); kernel.elf is megabytes.
 */
#define FILE_READ_CHUNK 0x100000ULL

/*
 * The highest address Read writes to: on some PCs the disk or USB controller's driver fails DMA
 * above 4 GiB silently, leaving the buffer as it was and reporting success (GRUB reads below
 * 4 GiB on x86 for that reason: "the disk controller is silently failing DMAs to addresses above
 * 4GB"), and the firmware's pool may hand out memory there.
 */
#define FILE_READ_MAX_ADDRESS 0xFFFFFFFFULL

/* True when the `size` bytes at `buf` reach above FILE_READ_MAX_ADDRESS. */
static BOOLEAN file_reaches_high(const UINT8 *buf, UINT64 size)
{
	return size > 0 && (size - 1 > FILE_READ_MAX_ADDRESS ||
			    (UINT64)(UINTN)buf > FILE_READ_MAX_ADDRESS - (size - 1));
}

/* Allocates `pages` LoaderData pages below FILE_READ_MAX_ADDRESS into *bounce; FALSE when the
 * firmware has none, or gives physical address 0, which GNU-EFI's CopyMem copies nothing from
 * (then given back). */
static BOOLEAN file_bounce_alloc(UINTN pages, EFI_PHYSICAL_ADDRESS *bounce)
{
	*bounce = FILE_READ_MAX_ADDRESS;
	if (EFI_ERROR(BS->AllocatePages(AllocateMaxAddress, EfiLoaderData, pages, bounce)))
		return FALSE;
	if (*bounce != 0)
		return TRUE;
	BS->FreePages(*bounce, pages);
	return FALSE;
}

/*
 * Reads exactly `size` bytes from the current position of `file` into `buf`, at most
 * FILE_READ_CHUNK bytes a call, reporting errors. When `buf` reaches above FILE_READ_MAX_ADDRESS,
 * each piece is read into a bounce buffer below it (file_bounce_alloc, freed before returning) and
 * copied; when the firmware has no such pages, into `buf` itself.
 */
static EFI_STATUS file_read_exact(EFI_FILE_HANDLE file, CHAR16 *path, UINT8 *buf, UINT64 size)
{
	UINTN bounce_pages = EFI_SIZE_TO_PAGES(size < FILE_READ_CHUNK ? size : FILE_READ_CHUNK);
	EFI_PHYSICAL_ADDRESS bounce = 0;
	BOOLEAN bounced = file_reaches_high(buf, size) && file_bounce_alloc(bounce_pages, &bounce);
	EFI_STATUS status = EFI_SUCCESS;

	while (size > 0) {
		UINTN asked = size < FILE_READ_CHUNK ? size : FILE_READ_CHUNK, got = asked;
		UINT8 *to = bounced ? (UINT8 *)(UINTN)bounce : buf;

		status = file->Read(file, &got, to);
		if (EFI_ERROR(status) || got == 0 || got > asked) {
			if (!EFI_ERROR(status))
				status = EFI_END_OF_FILE;
			Print(LOADER_TAG L"reading %s failed (%r, %ld bytes short). Check the file system.\n",
			      path, status, size);
			break;
		}
		if (bounced)
			CopyMem(buf, to, got);
		buf += got;
		size -= got;
	}
	if (bounced)
		BS->FreePages(bounce, bounce_pages);
	return status;
}

/* Size of an open regular file; fails (with a message) for directories. */
static EFI_STATUS file_size(EFI_FILE_HANDLE file, CHAR16 *path, UINT64 *size)
{
	EFI_FILE_INFO *info = LibFileInfo(file);
	EFI_STATUS status = EFI_SUCCESS;

	if (info == NULL) {
		Print(LOADER_TAG L"cannot get the size of %s. Check the file system.\n", path);
		return EFI_DEVICE_ERROR;
	}
	if (info->Attribute & EFI_FILE_DIRECTORY) {
		Print(LOADER_TAG L"%s is a directory; it must be a file.\n", path);
		status = EFI_UNSUPPORTED;
	}
	*size = info->FileSize;
	FreePool(info);
	return status;
}

/*
 * Reads the whole file `path` into a new pool buffer (*buf, to FreePool) of *size bytes.
 * EFI_NOT_FOUND is returned without a message so the caller can say what the file is for.
 */
EFI_STATUS file_read_all(EFI_FILE_HANDLE root, CHAR16 *path, VOID **buf, UINT64 *size)
{
	EFI_FILE_HANDLE file;
	EFI_STATUS status = file_open(root, path, &file);

	if (EFI_ERROR(status))
		return status;
	status = file_size(file, path, size);
	if (!EFI_ERROR(status) && *size == 0) {
		Print(LOADER_TAG L"%s is empty.\n", path);
		status = EFI_LOAD_ERROR;
	}
	if (!EFI_ERROR(status)) {
		*buf = AllocatePool(*size);
		if (*buf == NULL) {
			Print(LOADER_TAG L"out of memory reading %s (%ld bytes).\n", path, *size);
			status = EFI_OUT_OF_RESOURCES;
		}
	}
	if (!EFI_ERROR(status)) {
		status = file_read_exact(file, path, *buf, *size);
		if (EFI_ERROR(status))
			FreePool(*buf);
	}
	file->Close(file);
	return status;
}

/*
 * Reads at most `cap` bytes from the start of `path` into `buf`; *got receives the count.
 * EFI_NOT_FOUND is returned without a message (an optional file may be absent).
 */
EFI_STATUS file_read_prefix(EFI_FILE_HANDLE root, CHAR16 *path, VOID *buf, UINTN cap, UINTN *got)
{
	EFI_FILE_HANDLE file;
	UINT64 size;
	EFI_STATUS status = file_open(root, path, &file);

	if (EFI_ERROR(status))
		return status;
	status = file_size(file, path, &size);
	if (!EFI_ERROR(status)) {
		*got = size < cap ? (UINTN)size : cap;
		status = file_read_exact(file, path, buf, *got);
	}
	file->Close(file);
	return status;
}
