/*
 * Real-PC robustness, loader side: boot/platform.c (the GOP framebuffer and the ACPI RSDP) and
 * boot/memmap.c (the final memory map's buffer) #included with GNU-EFI's headers, the firmware's
 * calls standing in below, against what PC firmware does that OVMF with one display does not.
 * A separate program from tests/host/test_hw_quirks.c: the loader's headers (GNU-EFI) and the
 * kernel's do not mix in one translation unit.
 *
 *  1. test_gop_behind_console_splitter (fails on the code as it stands): the EDK console splitter
 *     (ConSplitterDxe, in most PC firmware) puts a virtual GOP on its ConOut handle; the EDK code
 *     many vendor firmwares derive from installs it when the driver starts, before any display
 *     driver, so it is LocateProtocol's first GOP. With two or more physical GOPs (two GPUs, or a
 *     GPU driver with a GOP per output) that virtual GOP reports PixelBltOnly and no framebuffer
 *     (ConSplitterGraphicsOutputSetMode: "If 2 more physical GOP device exist ... PixelFormat is
 *     PixelBltOnly"). platform_find_framebuffer asks LocateProtocol only, so such a PC gets "the
 *     display is Blt-only; the kernel gets no framebuffer": no console and no summary screen,
 *     whereas a physical GOP with a linear framebuffer is there (Linux's EFI stub walks every GOP
 *     handle for one: "Systems that use the UEFI Console Splitter may provide multiple GOP devices,
 *     not all of which are backed by real hardware", libstub/gop.c find_gop).
 *  2. test_gop_prefers_the_console_device (fails): of several physical GOPs with a framebuffer, the
 *     one whose handle carries the ConsoleOut device protocol is the screen the firmware shows its
 *     console on (Linux: "search for a GOP implementing the ConOut protocol, and if one isn't found,
 *     ... fall back to the first GOP"); another is an output the person may not be looking at.
 *  3. test_gop_single_modes (passes): one physical GOP (OVMF's case) in every pixel format, pitch
 *     beyond the width, framebuffer above 4 GiB: bootinfo_fb holds the mode as the firmware says it;
 *     PixelBltOnly and no GOP give format NONE.
 *  4. test_rsdp_choice (passes): the ACPI 2.0 table entry wherever it is in the configuration
 *     table, else the 1.0 one, else none.
 *  5. test_map_larger_than_the_kernel_takes (fails): the kernel copies at most 64 KiB of memory map
 *     (kernel/main.c kernel_mmap) and reads at most PHYS_MAX_RANGES, 2048, descriptors
 *     (mm/phys.h); kernel_take_bootinfo panics on a larger map before the framebuffer console
 *     exists, so a PC without a serial port shows the loader's last line and stops. The loader
 *     sizes its buffer for any map up to 1 GiB and hands it over; it should refuse on screen
 *     (before ExitBootServices) a map the kernel cannot take.
 *  6. test_exit_boot_services_retries (passes): boot/handover.c against a firmware whose map key
 *     goes stale k times and whose map grows meanwhile: a fresh map each attempt, nothing printed
 *     or allocated from the first GetMemoryMap on, at most 8 attempts, the map handed over the one
 *     ExitBootServices took; a map outgrowing the buffer ends in a message, no jump.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include "tap.h"
#include "test_rng.h"
#include "../../boot/memmap.c"
#include "../../boot/platform.c"
#include "../../boot/handover.c"
#include <signal.h>
#include <sys/wait.h>

EFI_BOOT_SERVICES *BS;
EFI_SYSTEM_TABLE *ST;
EFI_GUID gEfiGraphicsOutputProtocolGuid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;

/* EDK2's gEfiConsoleOutDeviceGuid (MdePkg/Include/Guid/ConsoleOutDevice.h). */
static EFI_GUID r4_conout_guid = { 0xd3b36f2c, 0xd551, 0x11d4, { 0x9a, 0x46, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d } };

static unsigned prints;
static void r4_ebs_log(char c);
UINTN Print(CONST CHAR16 *fmt, ...)
{
	(void)fmt;
	prints++;
	r4_ebs_log('P');
	return 0;
}

INTN CompareGuid(EFI_GUID *a, EFI_GUID *b) { return memcmp(a, b, sizeof(*a)) != 0; }
VOID FreePool(VOID *p) { free(p); }
/* GNU-EFI's CopyMem (memmap_merge_adjacent moves descriptors with it). */
VOID CopyMem(VOID *dst, CONST VOID *src, UINTN n) { memmove(dst, src, n); }
VOID *AllocatePool(UINTN n) { return malloc(n ? n : 1); }
/* memmap_compute_top's map (not exercised here). */
EFI_MEMORY_DESCRIPTOR *LibMemoryMap(UINTN *count, UINTN *key, UINTN *desc_size, UINT32 *version)
{
	*count = 0, *key = 1, *desc_size = 48, *version = 1;
	return NULL;
}

/* ---------------------------------------------------------------- the firmware's display handles */

#define R4_GOPS 4
static struct {
	unsigned n;                                   /* handles with a GOP, in installation order */
	EFI_GRAPHICS_OUTPUT_PROTOCOL gop[R4_GOPS];
	EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE mode[R4_GOPS];
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION info[R4_GOPS];
	bool conout[R4_GOPS];                         /* the handle carries the ConsoleOut device protocol */
	char handle[R4_GOPS];                         /* the handles themselves: their addresses */
} disp;

/* The index of handle h, or R4_GOPS when it is none of the display handles. */
static unsigned r4_handle_index(EFI_HANDLE h)
{
	for (unsigned i = 0; i < disp.n; i++)
		if (h == (EFI_HANDLE)&disp.handle[i])
			return i;
	return R4_GOPS;
}

/* Adds a GOP in mode w x h, pitch, format, framebuffer base; returns its index. */
static unsigned r4_add_gop(UINT32 w, UINT32 h, UINT32 pitch, EFI_GRAPHICS_PIXEL_FORMAT format, UINT64 base, bool conout)
{
	unsigned i = disp.n++;
	disp.info[i] = (EFI_GRAPHICS_OUTPUT_MODE_INFORMATION){ .HorizontalResolution = w, .VerticalResolution = h,
							       .PixelFormat = format, .PixelsPerScanLine = pitch };
	if (format == PixelBitMask)
		disp.info[i].PixelInformation = (EFI_PIXEL_BITMASK){ 0xFF0000, 0xFF00, 0xFF, 0xFF000000 };
	disp.mode[i] = (EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE){ .MaxMode = 1, .Mode = 0, .Info = &disp.info[i],
							    .SizeOfInfo = sizeof(disp.info[i]),
							    .FrameBufferBase = format == PixelBltOnly ? 0 : base,
							    .FrameBufferSize = format == PixelBltOnly ? 0 : (UINT64)pitch * h * 4 };
	disp.gop[i].Mode = &disp.mode[i];
	disp.conout[i] = conout;
	return i;
}

static EFI_STATUS EFIAPI r4_locate_protocol(EFI_GUID *guid, VOID *reg, VOID **iface)
{
	(void)reg;
	if (CompareGuid(guid, &gEfiGraphicsOutputProtocolGuid) || disp.n == 0)
		return EFI_NOT_FOUND;
	*iface = &disp.gop[0];
	return EFI_SUCCESS;
}

static EFI_STATUS r4_iface(EFI_HANDLE h, EFI_GUID *guid, VOID **iface)
{
	unsigned i = r4_handle_index(h);
	if (i == R4_GOPS)
		return EFI_UNSUPPORTED;
	if (!CompareGuid(guid, &gEfiGraphicsOutputProtocolGuid)) {
		if (iface)
			*iface = &disp.gop[i];
		return EFI_SUCCESS;
	}
	if (!CompareGuid(guid, &r4_conout_guid) && disp.conout[i]) {
		if (iface)
			*iface = NULL;
		return EFI_SUCCESS;
	}
	return EFI_UNSUPPORTED;
}

static EFI_STATUS EFIAPI r4_handle_protocol(EFI_HANDLE h, EFI_GUID *guid, VOID **iface)
{
	return r4_iface(h, guid, iface);
}

static EFI_STATUS EFIAPI r4_open_protocol(EFI_HANDLE h, EFI_GUID *guid, VOID **iface, EFI_HANDLE agent,
					  EFI_HANDLE controller, UINT32 attrs)
{
	(void)agent, (void)controller, (void)attrs;
	return r4_iface(h, guid, iface);
}

/* The handles carrying guid (GOP or ConsoleOut device), in installation order, into out; their count. */
static UINTN r4_handles_with(EFI_GUID *guid, EFI_HANDLE *out)
{
	UINTN k = 0;
	for (unsigned i = 0; i < disp.n; i++)
		if (r4_iface((EFI_HANDLE)&disp.handle[i], guid, NULL) == EFI_SUCCESS)
			out[k++] = (EFI_HANDLE)&disp.handle[i];
	return k;
}

static EFI_STATUS EFIAPI r4_locate_handle(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *guid, VOID *key, UINTN *size,
					  EFI_HANDLE *buf)
{
	EFI_HANDLE all[R4_GOPS];
	(void)key;
	if (type != ByProtocol || !guid)
		return EFI_INVALID_PARAMETER;
	UINTN k = r4_handles_with(guid, all);
	if (!k)
		return EFI_NOT_FOUND;
	if (*size < k * sizeof(EFI_HANDLE)) {
		*size = k * sizeof(EFI_HANDLE);
		return EFI_BUFFER_TOO_SMALL;
	}
	*size = k * sizeof(EFI_HANDLE);
	memcpy(buf, all, *size);
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI r4_locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *guid, VOID *key, UINTN *n,
						 EFI_HANDLE **buf)
{
	(void)key;
	if (type != ByProtocol || !guid)
		return EFI_INVALID_PARAMETER;
	*buf = malloc(R4_GOPS * sizeof(EFI_HANDLE));
	*n = r4_handles_with(guid, *buf);
	if (*n)
		return EFI_SUCCESS;
	free(*buf);
	*buf = NULL;
	return EFI_NOT_FOUND;
}

static EFI_STATUS EFIAPI r4_allocate_pool(EFI_MEMORY_TYPE type, UINTN n, VOID **p)
{
	(void)type;
	*p = malloc(n ? n : 1);
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI r4_free_pool(VOID *p)
{
	free(p);
	return EFI_SUCCESS;
}

/* ---------------------------------------------------------------- the memory map's size */

static UINTN fw_map_bytes, fw_desc_size = 48;
static unsigned allocs;

/* GetMemoryMap as memmap_size_query asks it: the size and stride, the buffer too small. */
static EFI_STATUS EFIAPI r4_get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
					   UINT32 *version)
{
	(void)map;
	*size = fw_map_bytes;
	*key = 1;
	*desc_size = fw_desc_size;
	*version = 1;
	return EFI_BUFFER_TOO_SMALL;
}

/* The final buffer's allocation: always granted. */
EFI_STATUS pages_alloc(EFI_MEMORY_TYPE type, UINT64 bytes, const CHAR16 *what, UINT64 *phys)
{
	(void)type, (void)bytes, (void)what;
	allocs++;
	*phys = 0x1000000;
	return EFI_SUCCESS;
}

/* ---------------------------------------------------------------- ExitBootServices */

/* What the firmware saw of handover_exit_and_enter, in order: 'M' GetMemoryMap, 'X' ExitBootServices,
 * 'P' Print, 'A' an allocation. */
static struct {
	unsigned stale;          /* ExitBootServices refuses this many keys first */
	unsigned grow;           /* descriptors the map gains at each GetMemoryMap */
	UINTN bytes;             /* the map's size now */
	UINTN key;
	char log[64];
	unsigned nlog;
	UINTN handed_size;       /* the size GetMemoryMap returned with the key that succeeded */
} ebs;

static void r4_ebs_log(char c)
{
	if (ebs.nlog < sizeof(ebs.log) - 1)
		ebs.log[ebs.nlog++] = c;
}

static EFI_STATUS EFIAPI r4_ebs_get_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
					UINT32 *version)
{
	r4_ebs_log('M');
	ebs.bytes += ebs.grow * 48;
	*desc_size = 48;
	*version = 1;
	if (*size < ebs.bytes) {
		*size = ebs.bytes;
		return EFI_BUFFER_TOO_SMALL;
	}
	memset(map, 0x5A, ebs.bytes);
	*size = ebs.bytes;
	*key = ++ebs.key;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI r4_ebs_exit(EFI_HANDLE image, UINTN key)
{
	(void)image;
	r4_ebs_log('X');
	if (key != ebs.key || ebs.stale) {
		if (ebs.stale)
			ebs.stale--;
		return EFI_INVALID_PARAMETER;
	}
	ebs.handed_size = ebs.bytes;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI r4_ebs_alloc_pages(EFI_ALLOCATE_TYPE t, EFI_MEMORY_TYPE m, UINTN n, EFI_PHYSICAL_ADDRESS *a)
{
	(void)t, (void)m, (void)n, (void)a;
	r4_ebs_log('A');
	return EFI_OUT_OF_RESOURCES;
}

static EFI_STATUS EFIAPI r4_ebs_alloc_pool(EFI_MEMORY_TYPE type, UINTN n, VOID **p)
{
	(void)type, (void)n, (void)p;
	r4_ebs_log('A');
	return EFI_OUT_OF_RESOURCES;
}

static EFI_BOOT_SERVICES fake_bs = {
	.GetMemoryMap = r4_get_memory_map, .LocateProtocol = r4_locate_protocol, .HandleProtocol = r4_handle_protocol,
	.OpenProtocol = r4_open_protocol, .LocateHandle = r4_locate_handle, .LocateHandleBuffer = r4_locate_handle_buffer,
	.AllocatePool = r4_allocate_pool, .FreePool = r4_free_pool,
};

/* ---------------------------------------------------------------- tests */

static EFI_CONFIGURATION_TABLE r4_config[4];
static EFI_SYSTEM_TABLE fake_st;

/* A fresh display set-up; the system table's ConOut handle is the splitter's when splitter. */
static void r4_disp_reset(void)
{
	memset(&disp, 0, sizeof(disp));
	fake_st.ConsoleOutHandle = (EFI_HANDLE)&disp.handle[0];
}

/* platform_find_framebuffer into a zeroed bootinfo_fb. */
static struct bootinfo_fb r4_find_fb(void)
{
	struct bootinfo_fb fb;
	memset(&fb, 0, sizeof(fb));
	platform_find_framebuffer(&fb);
	return fb;
}

/* A generated physical mode: 640..2560 x 480..1600, pitch the width or rounded up to 64 pixels, a
 * framebuffer base in a BAR below or above 4 GiB. */
static unsigned r4_add_physical(uint64_t *rng, bool conout)
{
	UINT32 w = 640 + 16 * (UINT32)(test_rng_next(rng) % 121), h = 480 + (UINT32)(test_rng_next(rng) % 1121);
	UINT32 pitch = test_rng_next(rng) % 2 ? w : (w + 63) / 64 * 64;
	UINT64 base = test_rng_next(rng) % 2 ? 0x80000000ULL + (test_rng_next(rng) % 64) * 0x1000000ULL
					     : 0x4000000000ULL + (test_rng_next(rng) % 64) * 0x10000000ULL;
	return r4_add_gop(w, h, pitch, test_rng_next(rng) % 2 ? PixelBlueGreenRedReserved8BitPerColor
							     : PixelRedGreenBlueReserved8BitPerColor, base, conout);
}

/* True when fb describes GOP i's mode. */
static bool r4_fb_is(const struct bootinfo_fb *fb, unsigned i)
{
	return fb->format != BOOTINFO_FB_NONE && fb->base == disp.mode[i].FrameBufferBase &&
	       fb->width == disp.info[i].HorizontalResolution && fb->height == disp.info[i].VerticalResolution &&
	       fb->pitch == disp.info[i].PixelsPerScanLine;
}

/*
 * boot/platform.c: "Describes the current GOP mode in *fb ... format NONE without a linear
 * framebuffer". Generated: the console splitter's virtual GOP first (PixelBltOnly, as with two or
 * more physical GOPs), then 2 or 3 physical GOPs with linear framebuffers, any one of them (or none)
 * on the ConsoleOut device. Oracle: the framebuffer described is one of the physical GOPs', never
 * format NONE while one exists.
 */
static void test_gop_behind_console_splitter(void)
{
	uint64_t rng = 0x60BB1ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 40; c++) {
		r4_disp_reset();
		r4_add_gop(800, 600, 800, PixelBltOnly, 0, false);   /* the splitter's virtual GOP */
		unsigned phys = 2 + (unsigned)(test_rng_next(&rng) % 2), con = (unsigned)(test_rng_next(&rng) % (phys + 1));
		for (unsigned p = 0; p < phys; p++)
			r4_add_physical(&rng, p + 1 == con);
		struct bootinfo_fb fb = r4_find_fb();
		bool some = false;
		for (unsigned i = 1; i < disp.n; i++)
			some |= r4_fb_is(&fb, i);
		n++;
		if (!some && bad++ < 3)
			printf("# splitter's BltOnly GOP first, %u physical GOPs with framebuffers: format %u, base 0x%llx\n", phys,
			       fb.format, (unsigned long long)fb.base);
	}
	ok(bad == 0, "%u PCs whose console splitter hides 2-3 physical GOPs behind a Blt-only one: a physical "
	   "framebuffer is used (%u got none)", n, bad);
}

/*
 * Of several physical GOPs, the console device's: generated PCs with the splitter's GOP first and 2
 * or 3 physical GOPs, exactly one on the ConsoleOut device (not always the first). Oracle: the
 * framebuffer described is that GOP's.
 */
static void test_gop_prefers_the_console_device(void)
{
	uint64_t rng = 0xC0C0ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 40; c++) {
		r4_disp_reset();
		r4_add_gop(1024, 768, 1024, PixelBltOnly, 0, false);
		unsigned phys = 2 + (unsigned)(test_rng_next(&rng) % 2), con = 1 + (unsigned)(test_rng_next(&rng) % phys);
		for (unsigned p = 1; p <= phys; p++)
			r4_add_physical(&rng, p == con);
		struct bootinfo_fb fb = r4_find_fb();
		n++;
		if (!r4_fb_is(&fb, con) && bad++ < 3)
			printf("# %u physical GOPs, the console on GOP %u at 0x%llx: got format %u at 0x%llx\n", phys, con,
			       (unsigned long long)disp.mode[con].FrameBufferBase, fb.format, (unsigned long long)fb.base);
	}
	ok(bad == 0, "%u PCs with 2-3 physical GOPs: the console device's framebuffer is used (%u wrong)", n, bad);
}

/*
 * One GOP, as OVMF has: every pixel format, pitch the width or beyond it, framebuffer below and
 * above 4 GiB (and one at 2^40). bootinfo_fb is the mode as the firmware gives it, the bitmask's
 * masks included; PixelBltOnly gives NONE with a message; no GOP gives NONE with a message.
 */
static void test_gop_single_modes(void)
{
	static const EFI_GRAPHICS_PIXEL_FORMAT formats[] = { PixelRedGreenBlueReserved8BitPerColor,
		PixelBlueGreenRedReserved8BitPerColor, PixelBitMask, PixelBltOnly };
	static const uint32_t want_format[] = { BOOTINFO_FB_RGBX, BOOTINFO_FB_BGRX, BOOTINFO_FB_BITMASK, BOOTINFO_FB_NONE };
	uint64_t rng = 0x51A61EULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 64; c++) {
		unsigned f = c % 4;
		r4_disp_reset();
		UINT32 w = 640 + 32 * (UINT32)(test_rng_next(&rng) % 60), h = 480 + (UINT32)(test_rng_next(&rng) % 1000);
		UINT32 pitch = w + (c % 3 == 0 ? 0 : (UINT32)(test_rng_next(&rng) % 256));
		UINT64 base = c % 5 == 0 ? 1ULL << 40 : (c % 2 ? 0xC0000000ULL : 0x6000000000ULL);
		r4_add_gop(w, h, pitch, formats[f], base, true);
		unsigned before = prints;
		struct bootinfo_fb fb = r4_find_fb();
		bool good = fb.format == want_format[f] &&
			    (f == 3 ? prints == before + 1
				    : r4_fb_is(&fb, 0) && fb.size == (UINT64)pitch * h * 4 && prints == before &&
					      (f != 2 || (fb.mask_red == 0xFF0000 && fb.mask_reserved == 0xFF000000)));
		n++;
		if (!good && bad++ < 3)
			printf("# format %u %ux%u pitch %u at 0x%llx: got format %u %ux%u pitch %u at 0x%llx\n", formats[f], w, h,
			       pitch, (unsigned long long)base, fb.format, fb.width, fb.height, fb.pitch,
			       (unsigned long long)fb.base);
	}
	r4_disp_reset();
	unsigned before = prints;
	struct bootinfo_fb none = r4_find_fb();
	bool no_gop = none.format == BOOTINFO_FB_NONE && prints == before + 1;
	ok(bad == 0 && no_gop, "%u single-GOP modes described as the firmware gives them, Blt-only as none (%u wrong); "
	   "no GOP: none, said once (%s)", n, bad, no_gop ? "ok" : "wrong");
}

/* The RSDP: generated configuration tables of 0..4 entries holding the ACPI 2.0 GUID, the 1.0 GUID,
 * both in either order, or neither, among other GUIDs. */
static void test_rsdp_choice(void)
{
	static EFI_GUID other = { 0x12345678, 0x9abc, 0xdef0, { 1, 2, 3, 4, 5, 6, 7, 8 } };
	EFI_GUID g20 = ACPI_20_TABLE_GUID, g10 = ACPI_TABLE_GUID;
	uint64_t rng = 0x25D9ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 200; c++) {
		UINTN count = test_rng_next(&rng) % 5;
		UINT64 want = 0;
		UINT32 want_rev = 0;
		for (UINTN i = 0; i < count; i++) {
			unsigned kind = (unsigned)(test_rng_next(&rng) % 3);
			r4_config[i].VendorGuid = kind == 0 ? g20 : kind == 1 ? g10 : other;
			r4_config[i].VendorTable = (VOID *)(UINTN)(0xE0000 + 0x100 * i);
			if (kind == 0 && want_rev != 2) {
				want = 0xE0000 + 0x100 * i;
				want_rev = 2;
			} else if (kind == 1 && want_rev == 0) {
				want = 0xE0000 + 0x100 * i;
				want_rev = 1;
			}
		}
		fake_st.NumberOfTableEntries = count;
		fake_st.ConfigurationTable = r4_config;
		UINT64 got = 1;
		UINT32 rev = 9;
		platform_find_rsdp(&got, &rev);
		n++;
		if ((got != want || rev != want_rev) && bad++ < 3)
			printf("# %llu entries: RSDP 0x%llx revision %u, want 0x%llx revision %u\n", (unsigned long long)count,
			       (unsigned long long)got, rev, (unsigned long long)want, want_rev);
	}
	ok(bad == 0, "%u configuration tables: the ACPI 2.0 RSDP wherever it is, else the 1.0 one, else none (%u wrong)",
	   n, bad);
}

/*
 * kernel/main.c kernel_take_bootinfo: "memory map of N bytes ... does not fit the kernel's
 * 65536-byte copy" is a kpanic before fbcon_init, so on a PC without a serial port the screen keeps
 * the loader's last line and the machine halts; mm/phys.h: "a longer map is refused" past 2048
 * descriptors (phys_init fails, kpanic, the same silence). Generated: current maps of 100..2200
 * descriptors of 48, 56 and 64 bytes. Oracle: memmap_alloc_final_buffer fails with a message (the
 * loader then returns to the firmware with it on screen) for every map already beyond either kernel
 * limit, and succeeds for maps that leave room for its slack under both.
 */
#define KERNEL_MMAP_COPY  (64 * 1024)   /* kernel/main.c: kernel_mmap */
#define KERNEL_MAX_DESCS  2048          /* mm/phys.h: PHYS_MAX_RANGES */
static void test_map_larger_than_the_kernel_takes(void)
{
	static const UINTN sizes[] = { 48, 56, 64 };
	uint64_t rng = 0x3A9ULL;
	unsigned n = 0, too_big = 0, fits = 0, bad = 0;
	for (unsigned c = 0; c < 120; c++) {
		fw_desc_size = sizes[c % 3];
		UINTN count = 100 + test_rng_next(&rng) % 2100;
		fw_map_bytes = count * fw_desc_size;
		bool beyond = fw_map_bytes > KERNEL_MMAP_COPY || count > KERNEL_MAX_DESCS;
		bool room = (count + MMAP_SLACK_DESCRIPTORS) * fw_desc_size <= KERNEL_MMAP_COPY &&
			    count + MMAP_SLACK_DESCRIPTORS <= KERNEL_MAX_DESCS;
		if (!beyond && !room)
			continue;
		UINT64 phys = 0, cap = 0;
		unsigned before = prints;
		EFI_STATUS st = memmap_alloc_final_buffer(&phys, &cap);
		bool good = beyond ? EFI_ERROR(st) && prints > before : !EFI_ERROR(st) && cap >= fw_map_bytes;
		n++;
		too_big += beyond;
		fits += !beyond;
		if (!good && bad++ < 3)
			printf("# %llu descriptors of %llu bytes (%llu bytes): status 0x%llx, capacity %llu, %u messages\n",
			       (unsigned long long)count, (unsigned long long)fw_desc_size, (unsigned long long)fw_map_bytes,
			       (unsigned long long)st, (unsigned long long)cap, prints - before);
	}
	ok(bad == 0 && too_big > 10 && fits > 10, "%u memory maps: the %u the kernel cannot take refused by the loader "
	   "with a message, the %u with room accepted (%u wrong)", n, too_big, fits, bad);
}

/* One case's expected log: k + 1 "MX" pairs (at most 8), then "P" when it fails. */
struct r4_ebs_case {
	unsigned stale, grow;
	UINTN start_bytes, capacity;
};

static struct bootinfo r4_bi;
static uint8_t r4_map_buf[64 * 1024];
static const struct r4_ebs_case *r4_cur;

/* The jump into the kernel ends in the loader's CLI, which faults at user level: the handover got
 * that far. Judges the log then (0 good, 1 wrong). */
static void r4_ebs_jumped(int sig)
{
	(void)sig;
	unsigned pairs = r4_cur->stale + 1;
	bool good = pairs <= EXIT_ATTEMPTS && ebs.nlog == 2 * pairs && r4_bi.mmap_size == ebs.handed_size &&
		    r4_bi.mmap_desc_size == 48;
	for (unsigned i = 0; i < ebs.nlog; i++)
		good = good && ebs.log[i] == (i % 2 ? 'X' : 'M');
	_exit(good ? 0 : 1);
}

/* In a child: handover_exit_and_enter for one case; 0 when what the firmware saw is right, 1 when
 * not, 2 when it returned instead of jumping, 3 when it jumped instead of returning. */
static int r4_ebs_run(void *arg)
{
	r4_cur = arg;
	struct sigaction sa = { .sa_handler = r4_ebs_jumped };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	memset(&ebs, 0, sizeof(ebs));
	ebs.stale = r4_cur->stale;
	ebs.grow = r4_cur->grow;
	ebs.bytes = r4_cur->start_bytes;
	fake_bs.GetMemoryMap = r4_ebs_get_map;
	fake_bs.ExitBootServices = r4_ebs_exit;
	fake_bs.AllocatePages = r4_ebs_alloc_pages;
	fake_bs.AllocatePool = r4_ebs_alloc_pool;
	memset(&r4_bi, 0, sizeof(r4_bi));
	r4_bi.mmap_phys = (UINT64)(UINTN)r4_map_buf;
	bool fits = r4_cur->start_bytes + (r4_cur->stale + 1) * r4_cur->grow * 48 <= r4_cur->capacity;
	EFI_STATUS st = handover_exit_and_enter(NULL, &r4_bi, r4_cur->capacity, 0x1000, 0xffffffff80000000ULL);
	if (fits && r4_cur->stale < EXIT_ATTEMPTS)
		return 2;
	/* returned: 8 stale keys, or a map past the buffer; one message at the end, nothing before it */
	bool good = EFI_ERROR(st) && ebs.nlog >= 2 && ebs.log[ebs.nlog - 1] == 'P';
	for (unsigned i = 0; i + 1 < ebs.nlog; i++)
		good = good && ebs.log[i] == (i % 2 ? 'X' : 'M');
	good = good && (fits ? ebs.nlog == 2 * EXIT_ATTEMPTS + 1 : ebs.nlog % 2 == 0);
	return good ? 0 : 1;
}

/*
 * The checklist: "ExitBootServices fails with EFI_INVALID_PARAMETER when the map key is stale: take
 * the map again and retry, a bounded number of times; no printing or allocating in between. Size
 * the map buffer with slack." Generated: 0..11 stale keys, the map growing by 0..3 descriptors at
 * each GetMemoryMap, buffers with the loader's slack or too small for the growth. Oracle (the
 * firmware's log): GetMemoryMap and ExitBootServices alternate, nothing else until the jump (0..7
 * stale keys, the map fitting: the jump happens, with the size of the map ExitBootServices took)
 * or until the one message of a failure (8 stale keys: exactly 8 attempts; a map outgrowing the
 * buffer: no ExitBootServices with it).
 */
static void test_exit_boot_services_retries(void)
{
	uint64_t rng = 0xEB5ULL;
	unsigned n = 0, bad = 0, jumped = 0, refused = 0;
	for (unsigned c = 0; c < 48; c++) {
		struct r4_ebs_case k = { .stale = c % 12, .grow = (unsigned)(test_rng_next(&rng) % 4),
					 .start_bytes = 48 * (100 + test_rng_next(&rng) % 200) };
		k.capacity = c % 5 == 4 ? k.start_bytes + 48 : k.start_bytes + MMAP_SLACK_DESCRIPTORS * 48;
		if (c % 5 == 4 && !k.grow)
			k.grow = 2;
		struct tap_child ch = { .quiet_out = true, .timer_ms = 5000 };
		int status = tap_child(&ch, r4_ebs_run, &k);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		bool fits = k.start_bytes + (k.stale + 1) * k.grow * 48 <= k.capacity;
		n++;
		jumped += code == 0 && fits && k.stale < EXIT_ATTEMPTS;
		refused += code == 0 && !(fits && k.stale < EXIT_ATTEMPTS);
		if (code != 0 && bad++ < 3)
			printf("# %u stale keys, map +%u descriptors a call, capacity %llu: %s\n", k.stale, k.grow,
			       (unsigned long long)k.capacity, code == 1 ? "the firmware saw something else" :
			       code == 2 ? "returned instead of jumping" : "the child died");
	}
	ok(bad == 0 && jumped > 10 && refused > 5, "%u hand-overs with stale keys and a growing map: fresh map each attempt, "
	   "nothing printed or allocated in between, at most %d attempts (%u jumped, %u refused with a message, %u wrong)",
	   n, EXIT_ATTEMPTS, jumped, refused, bad);
}

int main(void)
{
	BS = &fake_bs;
	ST = &fake_st;
	test_gop_behind_console_splitter();
	test_gop_prefers_the_console_device();
	test_gop_single_modes();
	test_rsdp_choice();
	test_map_larger_than_the_kernel_takes();
	test_exit_boot_services_retries();
	return tap_done();
}
