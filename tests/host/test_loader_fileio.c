/*
 * The loader's file reading, boot/fileio.c (#included with GNU-EFI's headers), against the
 * EFI_FILE_PROTOCOL of PC firmware as it behaves, not as OVMF's FAT driver does: the file handles,
 * GetInfo (LibFileInfo), Print, AllocatePool and FreePool stand in below.
 *
 *  1. test_large_reads_in_chunks (failed when the loader asked for the whole file in one Read):
 *     some PC firmware fails, or hangs, on one large read of a file it reads whole in 1 MiB pieces
 *     (Linux's EFI stub reads in 1 MiB chunks on x86 for that reason: "Some firmware
 *     implementations have problems reading files in one go", libstub/file.c); kernel.elf is
 *     megabytes. Generated files of 1 byte to 5 MiB, around every 1 MiB bound, from a firmware
 *     that fails every Read of more than 1 MiB: each read whole and exact, in silence, no Read
 *     asking more than 1 MiB, as many Reads as 1 MiB pieces.
 *  2. test_short_and_broken_reads: Reads that give fewer bytes than asked (allowed) still read the
 *     file exactly; a file shorter than GetInfo's FileSize (a Read giving 0 bytes before the end), a
 *     Read giving more than asked and a Read error each end in one message and an error status,
 *     the buffer freed (ASan's leak check).
 *  3. test_file_kinds: a missing file is EFI_NOT_FOUND without a message; an empty file, a
 *     directory and a file whose GetInfo fails are refused with one message; file_read_prefix
 *     reads min(size, cap) bytes, in 1 MiB pieces too.
 *  4. test_reads_below_4g (failed when the loader had Read write into its pool buffer, anywhere):
 *     on some PCs the disk or USB controller's driver fails DMA above 4 GiB silently, the buffer
 *     left as it was and success reported (GRUB reads below 4 GiB for that reason), and the
 *     firmware may place the loader's pool buffer and its boot information above 4 GiB (OVMF does
 *     with enough RAM). Files of 1 byte to 3 MiB and the command line's prefix from a firmware
 *     whose Read writes nothing outside pages it gave out below 4 GiB: read exactly, through such
 *     pages, each freed; a firmware with no pages below 4 GiB to give, or only page 0 (GNU-EFI's
 *     CopyMem copies nothing from address 0), gets the read in place.
 *  5. test_device_without_file_system: a boot device without a file system is refused with one
 *     message.
 *  6. test_reach_above_4g: the host's buffers all lie above 4 GiB, so test 4's reads go through the bounce
 *     pages every time; which destinations need them (file_reaches_high) is checked on its own, at
 *     and around 4 GiB and 2^64, against 128-bit arithmetic.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include "tap.h"
#include "test_rng.h"
#include "gnuefi_host.h"
#include "../../boot/fileio.c"

EFI_BOOT_SERVICES *BS;
EFI_GUID gEfiSimpleFileSystemProtocolGuid = SIMPLE_FILE_SYSTEM_PROTOCOL;

#define LF_MIB 0x100000ULL

/* GNU-EFI's Print: the messages counted. */
static unsigned prints;
UINTN Print(CONST CHAR16 *fmt, ...)
{
	(void)fmt;
	prints++;
	return 0;
}

/* GNU-EFI's pool: host memory. */
VOID *AllocatePool(UINTN n) { return malloc(n ? n : 1); }
VOID FreePool(VOID *p) { free(p); }
/* GNU-EFI's CopyMem (the bounce buffer's pieces): as RtCopyMem, nothing copied to or from address 0. */
VOID CopyMem(VOID *dst, CONST VOID *src, UINTN n)
{
	if (dst != NULL && src != NULL)
		memmove(dst, src, n);
}

/* ---------------------------------------------------------------- the firmware's pages */

/* AllocatePages: host pages standing for pages below 4 GiB when asked so (AllocateMaxAddress at
 * most 0xFFFFFFFF), the one live block remembered; refused when `none` is set, page 0 given when
 * `zero` is. */
static struct {
	void *block;        /* the live block, or NULL */
	UINTN pages;
	bool low;           /* asked below 4 GiB */
	bool none;          /* the firmware has no pages to give */
	bool zero;          /* the firmware gives physical page 0 (not host memory: written to, read as nothing) */
	bool zero_out;      /* page 0 is given out */
	unsigned allocs, frees, bad_frees;
} pg;

/* AllocatePages: the one block, as the comment above pg says. */
static EFI_STATUS EFIAPI lf_allocate_pages(EFI_ALLOCATE_TYPE type, EFI_MEMORY_TYPE mem, UINTN pages,
					   EFI_PHYSICAL_ADDRESS *addr)
{
	(void)mem;
	if (pg.none || pg.block != NULL || pg.zero_out || pages == 0)
		return EFI_OUT_OF_RESOURCES;
	if (pg.zero) {
		pg.zero_out = true;
		pg.pages = pages;
		pg.allocs++;
		*addr = 0;
		return EFI_SUCCESS;
	}
	pg.block = aligned_alloc(4096, pages * 4096);
	memset(pg.block, 0xEE, pages * 4096);
	pg.pages = pages;
	pg.low = type == AllocateMaxAddress && *addr <= 0xFFFFFFFFULL;
	pg.allocs++;
	*addr = (EFI_PHYSICAL_ADDRESS)(UINTN)pg.block;
	return EFI_SUCCESS;
}

/* FreePages: the block given out (or page 0), whole; anything else counted as a bad free. */
static EFI_STATUS EFIAPI lf_free_pages(EFI_PHYSICAL_ADDRESS addr, UINTN pages)
{
	if (pg.zero_out && addr == 0 && pages == pg.pages) {
		pg.zero_out = false;
		pg.frees++;
		return EFI_SUCCESS;
	}
	if (pg.block == NULL || addr != (EFI_PHYSICAL_ADDRESS)(UINTN)pg.block || pages != pg.pages) {
		pg.bad_frees++;
		return EFI_NOT_FOUND;
	}
	free(pg.block);
	pg.block = NULL;
	pg.frees++;
	return EFI_SUCCESS;
}

/* The boot services the file reading calls. */
static EFI_BOOT_SERVICES lf_bs = { .AllocatePages = lf_allocate_pages, .FreePages = lf_free_pages };

/* True when [p, p + n) lies in pages AllocatePages gave out below 4 GiB. */
static bool lf_in_low_pages(const void *p, UINTN n)
{
	const uint8_t *b = pg.block;
	return pg.block != NULL && pg.low && (const uint8_t *)p >= b && n <= pg.pages * 4096 &&
	       (const uint8_t *)p - b <= (ptrdiff_t)(pg.pages * 4096 - n);
}

/* ---------------------------------------------------------------- the firmware's file */

/* One file on the fake volume, and how the firmware's Read behaves on it. */
static struct {
	EFI_FILE_PROTOCOL root, file;   /* the volume's root directory and the open file */
	bool present, dir, info_fails;
	const uint8_t *data;
	UINT64 size;        /* bytes the file holds */
	UINT64 info_size;   /* FileSize GetInfo reports */
	UINT64 pos;
	UINT64 read_limit;  /* a Read asking more fails with EFI_DEVICE_ERROR (0: none) */
	UINT64 short_max;   /* a Read gives at most this many bytes (0: all asked) */
	UINT64 extra;       /* a Read gives this many bytes more than asked */
	bool dma32;         /* a Read into memory not below 4 GiB writes nothing and succeeds */
	EFI_STATUS fail_with;   /* every Read fails so (0: none) */
	UINT64 reads, max_asked, closes;
	uint64_t rng;
} lf;

/* The file's Read, behaving as lf says; every call counted, the largest ask kept. */
static EFI_STATUS EFIAPI lf_read(EFI_FILE_PROTOCOL *f, UINTN *size, VOID *buf)
{
	UINT64 asked = *size, give;

	(void)f;
	lf.reads++;
	if (asked > lf.max_asked)
		lf.max_asked = asked;
	if (lf.fail_with)
		return lf.fail_with;
	if (lf.read_limit && asked > lf.read_limit)
		return EFI_DEVICE_ERROR;
	give = asked < lf.size - lf.pos ? asked : lf.size - lf.pos;
	if (lf.short_max && give > 1)
		give = 1 + test_rng_next(&lf.rng) % (give < lf.short_max ? give : lf.short_max);
	if (buf != NULL && (!lf.dma32 || lf_in_low_pages(buf, give)))   /* page 0 is no host memory */
		memcpy(buf, lf.data + lf.pos, give);
	lf.pos += give;
	*size = give + lf.extra;
	return EFI_SUCCESS;
}

/* The file's Close, counted. */
static EFI_STATUS EFIAPI lf_close(EFI_FILE_PROTOCOL *f)
{
	(void)f;
	lf.closes++;
	return EFI_SUCCESS;
}

/* The root's Open: the one file, from its start, or EFI_NOT_FOUND when absent. */
static EFI_STATUS EFIAPI lf_open(EFI_FILE_PROTOCOL *root, EFI_FILE_PROTOCOL **out, CHAR16 *path, UINT64 mode,
				 UINT64 attr)
{
	(void)root, (void)path, (void)mode, (void)attr;
	if (!lf.present)
		return EFI_NOT_FOUND;
	lf.pos = 0;
	*out = &lf.file;
	return EFI_SUCCESS;
}

/* GNU-EFI's LibFileInfo: the open file's EFI_FILE_INFO in a pool buffer, or NULL when GetInfo fails. */
EFI_FILE_INFO *LibFileInfo(EFI_FILE_HANDLE fh)
{
	EFI_FILE_INFO *info;

	(void)fh;
	if (lf.info_fails)
		return NULL;
	info = calloc(1, sizeof(*info));
	info->Size = sizeof(*info);
	info->FileSize = lf.info_size;
	info->Attribute = lf.dir ? EFI_FILE_DIRECTORY : 0;
	return info;
}

/* A fresh file of `size` bytes (generated content), GetInfo telling its size; Read unlimited. */
static const uint8_t *lf_file(UINT64 size, uint64_t seed)
{
	static uint8_t *content;
	static UINT64 have;

	if (size > have) {
		free(content);
		content = malloc(size);
		have = size;
	}
	for (UINT64 i = 0; i < size; i++)
		content[i] = (uint8_t)(seed + i * 131 + (i >> 12));
	memset(&lf, 0, sizeof(lf));
	lf.root.Open = lf_open;
	lf.file.Read = lf_read;
	lf.file.Close = lf_close;
	lf.present = true;
	lf.data = content;
	lf.size = lf.info_size = size;
	lf.rng = seed | 1;
	return content;
}

/* The path every test reads (the fake volume has one file, whatever the path). */
static CHAR16 lf_path[] = L"\\kernel.elf";

/* ---------------------------------------------------------------- the tests */

/* Test 1 of the header: files read in 1 MiB pieces from a firmware failing larger Reads. */
static void test_large_reads_in_chunks(void)
{
	static const UINT64 sizes[] = { 1, 4095, LF_MIB - 1, LF_MIB, LF_MIB + 1, 2 * LF_MIB, 2 * LF_MIB + 4096,
					0x27d518 /* kernel.elf's size once */, 5 * LF_MIB + 123 };
	unsigned n = 0, bad = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const uint8_t *want = lf_file(sizes[i], 0xF11E + i);
		VOID *buf = NULL;
		UINT64 got = 0, pieces = (sizes[i] + LF_MIB - 1) / LF_MIB;
		unsigned before = prints;

		lf.read_limit = LF_MIB;
		EFI_STATUS st = file_read_all(&lf.root, lf_path, &buf, &got);
		bool good = st == EFI_SUCCESS && got == sizes[i] && !memcmp(buf, want, got) && prints == before &&
			    lf.max_asked <= LF_MIB && lf.reads == pieces && lf.closes == 1;
		n++;
		if (!good && bad++ < 4)
			printf("# %llu bytes: status 0x%llx, %llu read, %u messages, %llu Reads (want %llu), the largest "
			       "asking %llu\n", (unsigned long long)sizes[i], (unsigned long long)st,
			       (unsigned long long)got, prints - before, (unsigned long long)lf.reads,
			       (unsigned long long)pieces, (unsigned long long)lf.max_asked);
		if (st == EFI_SUCCESS)
			FreePool(buf);
	}
	ok(bad == 0, "%u files of 1 byte to 5 MiB from a firmware failing every Read over 1 MiB: read whole, exact "
	   "and silent, in 1 MiB pieces (%u wrong)", n, bad);
}

/* Reads the current fake file whole; true when the outcome is `want` (EFI_SUCCESS: the exact bytes
 * in silence; an error: one message, the file closed). */
static bool lf_read_outcome(const uint8_t *content, EFI_STATUS want)
{
	VOID *buf = NULL;
	UINT64 got = 0;
	unsigned before = prints;
	EFI_STATUS st = file_read_all(&lf.root, lf_path, &buf, &got);
	bool good = st == want && lf.closes == 1;

	if (st == EFI_SUCCESS) {
		good = good && got == lf.size && !memcmp(buf, content, got) && prints == before;
		FreePool(buf);
	} else {
		good = good && prints == before + 1;
	}
	return good;
}

/* Test 2 of the header: short, early-ending, overlong and failing Reads. */
static void test_short_and_broken_reads(void)
{
	uint64_t rng = 0x5407ULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 40; c++) {
		UINT64 size = 1 + test_rng_next(&rng) % (3 * LF_MIB);
		const uint8_t *content = lf_file(size, c);
		EFI_STATUS want = EFI_SUCCESS;

		switch (c % 5) {
		case 0:   /* short reads, allowed */
			lf.short_max = 1 + test_rng_next(&rng) % (LF_MIB + 100);
			break;
		case 1:   /* GetInfo says more than the file holds: a Read of 0 bytes before the end */
			lf.info_size = size + 1 + test_rng_next(&rng) % 5000;
			want = EFI_END_OF_FILE;
			break;
		case 2:   /* a Read giving more than asked */
			lf.extra = 1 + test_rng_next(&rng) % 64;
			want = EFI_END_OF_FILE;
			break;
		case 3:
			lf.fail_with = EFI_DEVICE_ERROR;
			want = EFI_DEVICE_ERROR;
			break;
		default:   /* a firmware without the large-read bug: the same bytes */
			break;
		}
		n++;
		if (!lf_read_outcome(content, want) && bad++ < 4)
			printf("# case %u (%llu bytes): not the outcome 0x%llx with its message\n", c,
			       (unsigned long long)size, (unsigned long long)want);
	}
	ok(bad == 0, "%u files through short Reads, early ends, overlong Reads and Read errors: read exactly, or "
	   "refused with one message and the buffer freed (%u wrong)", n, bad);
}

/* Test 3 of the header: missing, empty, directory and unreadable-size files; prefixes. */
static void test_file_kinds(void)
{
	static uint8_t prefix[2 * LF_MIB + 16];
	unsigned bad = 0;
	VOID *buf = NULL;
	UINT64 got = 0;
	unsigned before;
	EFI_STATUS st;

	lf_file(100, 1);
	lf.present = false;
	before = prints;
	st = file_read_all(&lf.root, lf_path, &buf, &got);
	bad += st != EFI_NOT_FOUND || prints != before;

	lf_file(0, 2);
	before = prints;
	st = file_read_all(&lf.root, lf_path, &buf, &got);
	bad += st != EFI_LOAD_ERROR || prints != before + 1 || lf.closes != 1;

	lf_file(4096, 3);
	lf.dir = true;
	before = prints;
	st = file_read_all(&lf.root, lf_path, &buf, &got);
	bad += st != EFI_UNSUPPORTED || prints != before + 1 || lf.closes != 1;

	lf_file(4096, 4);
	lf.info_fails = true;
	before = prints;
	st = file_read_all(&lf.root, lf_path, &buf, &got);
	bad += st != EFI_DEVICE_ERROR || prints != before + 1 || lf.closes != 1;

	/* file_read_prefix: min(size, cap) bytes, in 1 MiB pieces from a firmware failing larger Reads */
	static const UINTN caps[] = { 1, 511, 512, LF_MIB, LF_MIB + 1, sizeof(prefix) };
	static const UINT64 sizes[] = { 0, 1, 512, LF_MIB + 7, 2 * LF_MIB + 16 };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			const uint8_t *content = lf_file(sizes[j], 10 + i * 7 + j);
			UINTN n = 12345, want = sizes[j] < caps[i] ? sizes[j] : caps[i];

			lf.read_limit = LF_MIB;
			before = prints;
			st = file_read_prefix(&lf.root, lf_path, prefix, caps[i], &n);
			if (st != EFI_SUCCESS || n != want || memcmp(prefix, content, n) || prints != before ||
			    lf.closes != 1) {
				if (bad++ < 4)
					printf("# prefix of %llu bytes, cap %llu: status 0x%llx, %llu bytes\n",
					       (unsigned long long)sizes[j], (unsigned long long)caps[i],
					       (unsigned long long)st, (unsigned long long)n);
			}
		}
	ok(bad == 0, "missing (silent), empty, directory and unreadable-size files refused as said; prefixes of "
	   "min(size, cap) bytes read exactly (%u wrong)", bad);
}

/* Test 4 of the header: Reads only into pages below 4 GiB when the destination lies higher. */
static void test_reads_below_4g(void)
{
	static const UINT64 sizes[] = { 1, 4096, LF_MIB - 1, LF_MIB, LF_MIB + 1, 0x27d518, 3 * LF_MIB + 5 };
	static uint8_t prefix[BOOTINFO_CMDLINE_MAX];
	unsigned n = 0, bad = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int pages = 0; pages < 3; pages++) {   /* below 4 GiB; none; page 0 only */
			const uint8_t *want = lf_file(sizes[i], 0xD3A + i);
			VOID *buf = NULL;
			UINT64 got = 0;
			unsigned before = prints, allocs = pg.allocs, frees = pg.frees;
			static const char *const said[] = { "", " (no pages below 4 GiB)", " (page 0 given)" };

			lf.dma32 = pages == 0;   /* else a firmware that reads anywhere: the read goes in place */
			pg.none = pages == 1;
			pg.zero = pages == 2;
			EFI_STATUS st = file_read_all(&lf.root, lf_path, &buf, &got);
			bool good = st == EFI_SUCCESS && got == sizes[i] && !memcmp(buf, want, got) && prints == before &&
				    lf.max_asked <= LF_MIB && pg.block == NULL && !pg.zero_out && pg.bad_frees == 0 &&
				    pg.allocs - allocs == (unsigned)(pages != 1) && pg.frees - frees == (unsigned)(pages != 1);
			n++;
			if (!good && bad++ < 4)
				printf("# %llu bytes%s: status 0x%llx, %llu read, %s, %u messages, %u page allocations, "
				       "%u freed\n", (unsigned long long)sizes[i], said[pages],
				       (unsigned long long)st, (unsigned long long)got,
				       st == EFI_SUCCESS && got == sizes[i] && memcmp(buf, want, got) ? "bytes differ" : "",
				       prints - before, pg.allocs - allocs, pg.frees - frees);
			if (st == EFI_SUCCESS)
				FreePool(buf);
		}
	pg.none = pg.zero = false;
	/* the command line's prefix, read into the boot information wherever it lies */
	for (UINT64 size = 0; size < 2 * sizeof(prefix); size += 97) {
		const uint8_t *want = lf_file(size, 0xC3D + size);
		UINTN got = 0;

		lf.dma32 = true;
		EFI_STATUS st = file_read_prefix(&lf.root, lf_path, prefix, sizeof(prefix), &got);
		n++;
		if ((st != EFI_SUCCESS || got != (size < sizeof(prefix) ? size : sizeof(prefix)) || memcmp(prefix, want, got) ||
		     pg.block != NULL) && bad++ < 4)
			printf("# prefix of %llu bytes: status 0x%llx, %llu bytes\n", (unsigned long long)size,
			       (unsigned long long)st, (unsigned long long)got);
	}
	ok(bad == 0, "%u files from a firmware whose Read writes nothing above 4 GiB and says it did: read exactly "
	   "through pages below 4 GiB, freed; in place when there are none, or only page 0 (%u wrong)", n, bad);
}

/* The boot device's HandleProtocol: no file system on it. */
static EFI_STATUS EFIAPI lf_no_fs(EFI_HANDLE h, EFI_GUID *guid, VOID **iface)
{
	(void)h, (void)guid, (void)iface;
	return EFI_UNSUPPORTED;
}

/* Test 5 of the header: a boot device without a file system. */
static void test_device_without_file_system(void)
{
	EFI_BOOT_SERVICES bs = { .HandleProtocol = lf_no_fs };
	EFI_LOADED_IMAGE image = { .DeviceHandle = (EFI_HANDLE)&bs };
	EFI_FILE_HANDLE root = NULL;
	unsigned before = prints;

	BS = &bs;
	EFI_STATUS st = volume_open(&image, &root);
	BS = &lf_bs;
	ok(st == EFI_UNSUPPORTED && prints == before + 1 && root == NULL,
	   "a boot device without a file system: its status, one message");
}

/* Test 6 of the header: which destinations reach above 4 GiB, against 128-bit arithmetic. */
static void test_reach_above_4g(void)
{
	static const UINT64 four_g = 0x100000000ULL;
	UINT64 bufs[64], sizes[64];
	unsigned nb = 0, ns = 0, n = 0, bad = 0, high = 0;
	uint64_t r = 0x6A09E667F3BCC909ULL;

	for (UINT64 d = 0; d < 3; d++) {
		bufs[nb++] = d, bufs[nb++] = four_g - 1 - d, bufs[nb++] = four_g + d, bufs[nb++] = 0 - 1 - d;
		bufs[nb++] = four_g - 4096 - d;
		sizes[ns++] = d, sizes[ns++] = four_g - d, sizes[ns++] = four_g + 1 + d, sizes[ns++] = 0 - 1 - d;
		sizes[ns++] = 4096 + d;
	}
	while (nb < 64)
		bufs[nb++] = test_rng_next(&r) >> (test_rng_next(&r) % 64);
	while (ns < 64)
		sizes[ns++] = test_rng_next(&r) >> (test_rng_next(&r) % 64);
	for (unsigned i = 0; i < nb; i++)
		for (unsigned j = 0; j < ns; j++)
			for (int k = 0; k < 3; k++) {   /* the size as drawn, and ending at 4 GiB exactly or past it */
				UINT64 b = bufs[i], size = k == 0 ? sizes[j] : b < four_g ? four_g - b + (UINT64)(k - 1) : sizes[j];
				bool want = size > 0 && (unsigned __int128)b + size - 1 > 0xFFFFFFFFULL;
				n++;
				high += want;
				if (file_reaches_high((const UINT8 *)(UINTN)b, size) != want && bad++ < 4)
					printf("# %llu bytes at 0x%llx: reaches above 4 GiB %d, want %d\n", (unsigned long long)size,
					       (unsigned long long)b, !want, want);
			}
	ok(bad == 0 && high > 0 && high < n, "%u destinations (0 to 2^64 bytes, at, below and around 4 GiB): reach above "
	   "4 GiB exactly when their last byte lies past 0xFFFFFFFF (%u of them; %u wrong)", n, high, bad);
}

/* Runs the tests in the header's order (the device test last: it swaps BS). */
int main(void)
{
	BS = &lf_bs;
	test_large_reads_in_chunks();
	test_short_and_broken_reads();
	test_file_kinds();
	test_reads_below_4g();
	test_device_without_file_system();
	test_reach_above_4g();
	return tap_done();
}
