/*
 * Real-PC robustness, loader side: boot/platform.c (the GOP framebuffer and the ACPI RSDP) and
 * boot/memmap.c (the final memory map's buffer) #included with GNU-EFI's headers, the firmware's
 * calls standing in below, against what PC firmware does that OVMF with one display does not.
 * A separate program from tests/host/test_hw_quirks.c: the loader's headers (GNU-EFI) and the
 * kernel's do not mix in one translation unit.
 *
 *  1. test_gop_behind_console_splitter (failed before the loader walked every GOP handle): the EDK
 *     console splitter (ConSplitterDxe, in most PC firmware) puts a virtual GOP on its ConOut
 *     handle; the EDK code many vendor firmwares derive from installs it when the driver starts,
 *     before any display driver, so it is LocateProtocol's first GOP. With two or more physical
 *     GOPs (two GPUs, or a GPU driver with a GOP per output) that virtual GOP reports PixelBltOnly
 *     and no framebuffer (ConSplitterGraphicsOutputSetMode: "If 2 more physical GOP device exist
 *     ... PixelFormat is PixelBltOnly"). Asking LocateProtocol only, such a PC got "the display is
 *     Blt-only; the kernel gets no framebuffer": no console and no summary screen, whereas a
 *     physical GOP with a linear framebuffer is there (Linux's EFI stub walks every GOP handle for
 *     one: "Systems that use the UEFI Console Splitter may provide multiple GOP devices, not all of
 *     which are backed by real hardware", libstub/gop.c find_gop).
 *  2. test_gop_prefers_the_console_device (failed likewise): of several physical GOPs with a
 *     framebuffer, the one whose handle carries the ConsoleOut device protocol is the screen the
 *     firmware shows its console on (Linux: "search for a GOP implementing the ConOut protocol, and
 *     if one isn't found, ... fall back to the first GOP"); another is an output the person may
 *     not be looking at.
 *  3. test_gop_single_modes: one physical GOP (OVMF's case) in every pixel format, pitch beyond the
 *     width, framebuffer above 4 GiB: bootinfo_fb holds the mode as the firmware says it, and
 *     nothing is printed; PixelBltOnly and no GOP give format NONE and one line.
 *  4. test_rsdp_choice: the ACPI 2.0 table entry wherever it is in the configuration table, else
 *     the 1.0 one, else none.
 *  5. test_map_larger_than_the_kernel_takes (failed when the loader handed over any map up to
 *     1 GiB): the kernel copies at most 64 KiB of memory map (kernel/main.c kernel_mmap) and reads
 *     at most PHYS_MAX_RANGES, 2048, descriptors (mm/phys.h); kernel_take_bootinfo panics on a
 *     larger map before the framebuffer console exists, so a PC without a serial port shows the
 *     loader's last line and stops. Through the loader's last two steps: a map past the limits is
 *     merged (neighbours of one type and attributes) when that makes it fit, else refused on
 *     screen before ExitBootServices.
 *  6. test_exit_boot_services_retries: boot/handover.c against a firmware whose map key goes stale
 *     k times and whose map grows meanwhile: a fresh map each attempt, nothing printed or
 *     allocated from the first GetMemoryMap on, at most 8 attempts, the map handed over the one
 *     ExitBootServices took; a map outgrowing the buffer ends in a message, no jump.
 *  7. test_gop_choice_model: generated GOP handle lists (linear, Blt-only, unknown formats, no mode,
 *     no mode information, HandleProtocol errors, ConsoleOut or not; LocateHandleBuffer failing)
 *     against a model of find_gop's rule: the GOP chosen, the lines printed, the handle buffer
 *     freed.
 *  8. test_merge_against_model: memmap_fit_for_kernel on generated maps of 1..4000 descriptors
 *     against a model of the merge: left as they are when they fit, the model's map (every page's
 *     type and attributes kept) when merging makes them fit, refused with a message otherwise.
 *  9. test_merge_edges: descriptors ending at or wrapping past 2^64, 0 pages, other types or
 *     attributes: merged only where nothing is lost.
 * 3a. test_gop_framebuffer_at_zero (failed when the loader described a linear mode at address 0,
 *     which the kernel then drew in over the first megabytes of RAM): no framebuffer, said once.
 * 10. test_map_size_not_whole_descriptors (failed when the loader handed a map size that is not a
 *     multiple of the descriptor stride over as it was, which the kernel's allocator refuses with a
 *     panic): the whole descriptors handed over, never the tail; a map of no whole descriptor is
 *     refused on screen.
 * 11. test_phys_width_memory_encryption (failed when the loader took CPUID 0x80000008's width whole):
 *     platform_phys_addr_bits, which bounds the loader's page tables, on the 20000 generated CPUs
 *     of tests/host/physwidth_cases.h that test_arch_cpuid.c gives the kernel: on an AMD or Hygon
 *     CPU with SME whose SYSCFG bit 23 is set, CPUID 0x8000001F EBX[11:6] bits fewer, on an Intel
 *     CPU with TME whose IA32_TME_ACTIVATE is locked enabled, its KeyID bits fewer, in 32..52, the
 *     kernel's width; each MSR read only where it exists.
 *     In SEV guests too (failed when the rule read SYSCFG under a hypervisor, SEV_STATUS without
 *     CPUID's SEV bit, or let an SEV guest's width reach its C-bit): the invariants of
 *     physwidth_cases.h's pwc_broken on every CPU.
 * 11a. test_sev_guest_refused: platform_check_memory_encryption, which loader.c's boot calls first,
 *     on 20000 generated CPUs (another seed) and a hand-made SEV-SNP guest: EFI_UNSUPPORTED exactly in
 *     an AMD SEV, SEV-ES or SEV-SNP guest (SEV_STATUS bit 0), with lines naming the kind, SEV_STATUS,
 *     the C-bit, the missing #VC handler (SEV-ES, SEV-SNP) and what to do; a line naming what SME, TME
 *     or SEV takes from the width; nothing without memory encryption; every line within 80 columns
 *     (GNU-EFI's Print rendered by the stand-in below). The kernel has no C-bit in its page tables,
 *     so in such a guest it would read its own data as ciphertext.
 * 12. test_kernel_entered_with_cet_off (failed when the loader entered the kernel with the firmware's
 *     CR4 as it was): boot/handover.c's CR4 for the kernel has CET (bit 23) clear and every other
 *     bit of the firmware's; with CR4.CET on and supervisor shadow stacks enabled, the kernel's
 *     first call would push onto the firmware's shadow stack, which the loader's tables map as
 *     ordinary writable memory (a page fault), and with IBT its entry, reached by an indirect
 *     jump, would need an ENDBR64.
 * 13. test_firmware_vendor: generated FirmwareVendor strings of 0 to 100 UTF-16 units (control,
 *     printable, DEL and non-ASCII ones) and none: printable ASCII kept, every other unit '?', cut
 *     to BOOTINFO_FW_VENDOR_MAX - 1 characters and NUL-terminated, no byte written past the array;
 *     the two revisions as the firmware gives them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include "tap.h"
#include "test_rng.h"
#include "gnuefi_host.h"
#include "../../boot/memmap.c"
#include "physwidth.h"
#include "physwidth_cases.h"
/* platform.c's CPUID and RDMSR (the host's own CPU; RDMSR is privileged) stand aside for the generated
 * CPU's: its call of physwidth_read passes lp_cpuid and lp_rdmsr instead. */
static void lp_cpuid(uint32_t leaf, uint32_t r[4]);
static uint64_t lp_rdmsr(uint32_t msr);
#define physwidth_read(cpuid, rdmsr) (physwidth_read)(lp_cpuid, lp_rdmsr)
#include "../../boot/platform.c"
#undef physwidth_read
#include "../../boot/handover.c"
#include <signal.h>
#include <sys/wait.h>

EFI_BOOT_SERVICES *BS;
EFI_SYSTEM_TABLE *ST;
EFI_GUID gEfiGraphicsOutputProtocolGuid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;

/* EDK2's gEfiConsoleOutDeviceGuid (MdePkg/Include/Guid/ConsoleOutDevice.h). */
static EFI_GUID lp_conout_guid = { 0xd3b36f2c, 0xd551, 0x11d4, { 0x9a, 0x46, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d } };

static unsigned prints;
static void lp_ebs_log(char c);
/* What the Prints since the last lp_text_reset said, rendered as GNU-EFI's Print renders the
 * conversions the loader uses (%a, %s, %c, %d, %u, %x 32 bits wide, %ld, %lu, %lx and %r 64); the
 * rendering stops at any other, and lp_text_lost says so. */
static char lp_text[4096];
static size_t lp_text_len;
static bool lp_text_lost;
static void lp_text_reset(void)
{
	lp_text_len = 0;
	lp_text[0] = 0;
	lp_text_lost = false;
}
/* Appends the NUL-terminated s to lp_text, cut at its end. */
static void lp_text_add(const char *s)
{
	while (*s && lp_text_len + 1 < sizeof(lp_text))
		lp_text[lp_text_len++] = *s++;
	lp_text[lp_text_len] = 0;
}
UINTN Print(CONST CHAR16 *fmt, ...)
{
	va_list ap;
	char one[64];

	prints++;
	lp_ebs_log('P');
	va_start(ap, fmt);
	for (const CHAR16 *c = fmt; *c; c++) {
		if (*c != '%') {
			one[0] = (char)*c;
			one[1] = 0;
		} else if (c[1] == '%') {
			strcpy(one, "%");
			c++;
		} else {
			bool l = c[1] == 'l';
			CHAR16 conv = c[1 + l];
			c += 1 + l;
			if (conv == 'a') {
				lp_text_add(va_arg(ap, const char *));
				continue;
			}
			if (conv == 's') {
				for (const CHAR16 *w = va_arg(ap, const CHAR16 *); *w; w++) {
					one[0] = *w < 0x80 ? (char)*w : '?';
					one[1] = 0;
					lp_text_add(one);
				}
				continue;
			}
			if (conv == 'c')
				snprintf(one, sizeof(one), "%c", (char)va_arg(ap, int));
			else if (conv == 'r')
				snprintf(one, sizeof(one), "status %llx", (unsigned long long)va_arg(ap, UINT64));
			else if ((conv == 'd' || conv == 'u' || conv == 'x') && l) {
				UINT64 v = va_arg(ap, UINT64);
				snprintf(one, sizeof(one), conv == 'x' ? "%llx" : conv == 'd' ? "%lld" : "%llu",
					 (unsigned long long)v);
			} else if (conv == 'd' || conv == 'u' || conv == 'x') {
				UINT32 v = va_arg(ap, UINT32);
				snprintf(one, sizeof(one), conv == 'x' ? "%x" : conv == 'd' ? "%d" : "%u", v);
			} else {
				lp_text_lost = true;
				break;
			}
		}
		lp_text_add(one);
	}
	va_end(ap);
	return 0;
}

INTN CompareGuid(EFI_GUID *a, EFI_GUID *b) { return memcmp(a, b, sizeof(*a)) != 0; }
VOID FreePool(VOID *p) { free(p); }
/* GNU-EFI's CopyMem (memmap_merge_adjacent moves descriptors with it). */
VOID CopyMem(VOID *dst, CONST VOID *src, UINTN n) { memmove(dst, src, n); }
VOID *AllocatePool(UINTN n) { return malloc(n ? n : 1); }
/* ---------------------------------------------------------------- the firmware's display handles */

#define LP_GOPS 8
static struct {
	unsigned n;                                   /* handles with a GOP, in installation order */
	EFI_GRAPHICS_OUTPUT_PROTOCOL gop[LP_GOPS];
	EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE mode[LP_GOPS];
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION info[LP_GOPS];
	bool conout[LP_GOPS];                         /* the handle carries the ConsoleOut device protocol */
	char handle[LP_GOPS];                         /* the handles themselves: their addresses */
	bool handle_err[LP_GOPS];                     /* HandleProtocol fails for the GOP on this handle */
	EFI_STATUS list_err;                          /* when set: LocateHandleBuffer fails with it */
	unsigned lists, lists_freed;                  /* handle buffers LocateHandleBuffer gave, FreePool took back */
	void *list;                                   /* the last of them, until freed */
} disp;

/* The index of handle h, or LP_GOPS when it is none of the display handles. */
static unsigned lp_handle_index(EFI_HANDLE h)
{
	for (unsigned i = 0; i < disp.n; i++)
		if (h == (EFI_HANDLE)&disp.handle[i])
			return i;
	return LP_GOPS;
}

/* Adds a GOP in mode w x h, pitch, format, framebuffer base; returns its index. */
static unsigned lp_add_gop(UINT32 w, UINT32 h, UINT32 pitch, EFI_GRAPHICS_PIXEL_FORMAT format, UINT64 base, bool conout)
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

static EFI_STATUS EFIAPI lp_locate_protocol(EFI_GUID *guid, VOID *reg, VOID **iface)
{
	(void)reg;
	if (CompareGuid(guid, &gEfiGraphicsOutputProtocolGuid) || disp.n == 0)
		return EFI_NOT_FOUND;
	*iface = &disp.gop[0];
	return EFI_SUCCESS;
}

static EFI_STATUS lp_iface(EFI_HANDLE h, EFI_GUID *guid, VOID **iface)
{
	unsigned i = lp_handle_index(h);
	if (i == LP_GOPS)
		return EFI_UNSUPPORTED;
	if (!CompareGuid(guid, &gEfiGraphicsOutputProtocolGuid)) {
		if (iface)
			*iface = &disp.gop[i];
		return EFI_SUCCESS;
	}
	if (!CompareGuid(guid, &lp_conout_guid) && disp.conout[i]) {
		if (iface)
			*iface = NULL;
		return EFI_SUCCESS;
	}
	return EFI_UNSUPPORTED;
}

static EFI_STATUS EFIAPI lp_handle_protocol(EFI_HANDLE h, EFI_GUID *guid, VOID **iface)
{
	unsigned i = lp_handle_index(h);
	if (i < LP_GOPS && disp.handle_err[i] && !CompareGuid(guid, &gEfiGraphicsOutputProtocolGuid))
		return EFI_DEVICE_ERROR;
	return lp_iface(h, guid, iface);
}

static EFI_STATUS EFIAPI lp_open_protocol(EFI_HANDLE h, EFI_GUID *guid, VOID **iface, EFI_HANDLE agent,
					  EFI_HANDLE controller, UINT32 attrs)
{
	(void)agent, (void)controller, (void)attrs;
	return lp_iface(h, guid, iface);
}

/* The handles carrying guid (GOP or ConsoleOut device), in installation order, into out; their count. */
static UINTN lp_handles_with(EFI_GUID *guid, EFI_HANDLE *out)
{
	UINTN k = 0;
	for (unsigned i = 0; i < disp.n; i++)
		if (lp_iface((EFI_HANDLE)&disp.handle[i], guid, NULL) == EFI_SUCCESS)
			out[k++] = (EFI_HANDLE)&disp.handle[i];
	return k;
}

static EFI_STATUS EFIAPI lp_locate_handle(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *guid, VOID *key, UINTN *size,
					  EFI_HANDLE *buf)
{
	EFI_HANDLE all[LP_GOPS];
	(void)key;
	if (type != ByProtocol || !guid)
		return EFI_INVALID_PARAMETER;
	UINTN k = lp_handles_with(guid, all);
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

static EFI_STATUS EFIAPI lp_locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *guid, VOID *key, UINTN *n,
						 EFI_HANDLE **buf)
{
	(void)key;
	if (type != ByProtocol || !guid)
		return EFI_INVALID_PARAMETER;
	if (disp.list_err)
		return disp.list_err;
	*buf = malloc(LP_GOPS * sizeof(EFI_HANDLE));
	*n = lp_handles_with(guid, *buf);
	if (*n) {
		disp.lists++;
		disp.list = *buf;
		return EFI_SUCCESS;
	}
	free(*buf);
	*buf = NULL;
	return EFI_NOT_FOUND;
}

static EFI_STATUS EFIAPI lp_allocate_pool(EFI_MEMORY_TYPE type, UINTN n, VOID **p)
{
	(void)type;
	*p = malloc(n ? n : 1);
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI lp_free_pool(VOID *p)
{
	if (p && p == disp.list) {
		disp.lists_freed++;
		disp.list = NULL;
	}
	free(p);
	return EFI_SUCCESS;
}

/* ---------------------------------------------------------------- the memory map's size */

static UINTN fw_map_bytes, fw_desc_size = 48;
static unsigned allocs;

/* GetMemoryMap as memmap_size_query asks it: the size and stride, the buffer too small. */
static EFI_STATUS EFIAPI lp_get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
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
	const uint8_t *src;      /* when set: the map GetMemoryMap writes (else 0x5A bytes) */
	UINTN stride;            /* its descriptors' stride (0: 48) */
} ebs;

static void lp_ebs_log(char c)
{
	if (ebs.nlog < sizeof(ebs.log) - 1)
		ebs.log[ebs.nlog++] = c;
}

static EFI_STATUS EFIAPI lp_ebs_get_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
					UINT32 *version)
{
	lp_ebs_log('M');
	ebs.bytes += ebs.grow * 48;
	*desc_size = ebs.stride ? ebs.stride : 48;
	*version = 1;
	if (*size < ebs.bytes) {
		*size = ebs.bytes;
		return EFI_BUFFER_TOO_SMALL;
	}
	if (ebs.src)
		memcpy(map, ebs.src, ebs.bytes);
	else
		memset(map, 0x5A, ebs.bytes);
	*size = ebs.bytes;
	*key = ++ebs.key;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI lp_ebs_exit(EFI_HANDLE image, UINTN key)
{
	(void)image;
	lp_ebs_log('X');
	if (key != ebs.key || ebs.stale) {
		if (ebs.stale)
			ebs.stale--;
		return EFI_INVALID_PARAMETER;
	}
	ebs.handed_size = ebs.bytes;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI lp_ebs_alloc_pages(EFI_ALLOCATE_TYPE t, EFI_MEMORY_TYPE m, UINTN n, EFI_PHYSICAL_ADDRESS *a)
{
	(void)t, (void)m, (void)n, (void)a;
	lp_ebs_log('A');
	return EFI_OUT_OF_RESOURCES;
}

static EFI_STATUS EFIAPI lp_ebs_alloc_pool(EFI_MEMORY_TYPE type, UINTN n, VOID **p)
{
	(void)type, (void)n, (void)p;
	lp_ebs_log('A');
	return EFI_OUT_OF_RESOURCES;
}

static EFI_BOOT_SERVICES fake_bs = {
	.GetMemoryMap = lp_get_memory_map, .LocateProtocol = lp_locate_protocol, .HandleProtocol = lp_handle_protocol,
	.OpenProtocol = lp_open_protocol, .LocateHandle = lp_locate_handle, .LocateHandleBuffer = lp_locate_handle_buffer,
	.AllocatePool = lp_allocate_pool, .FreePool = lp_free_pool,
};

/* ---------------------------------------------------------------- tests */

static EFI_CONFIGURATION_TABLE lp_config[4];
static EFI_SYSTEM_TABLE fake_st;

/* A fresh display set-up; the system table's ConOut handle is the splitter's when splitter. */
static void lp_disp_reset(void)
{
	memset(&disp, 0, sizeof(disp));
	fake_st.ConsoleOutHandle = (EFI_HANDLE)&disp.handle[0];
}

/* platform_find_framebuffer into a zeroed bootinfo_fb. */
static struct bootinfo_fb lp_find_fb(void)
{
	struct bootinfo_fb fb;
	memset(&fb, 0, sizeof(fb));
	platform_find_framebuffer(&fb);
	return fb;
}

/* A generated physical mode: 640..2560 x 480..1600, pitch the width or rounded up to 64 pixels, a
 * framebuffer base in a BAR below or above 4 GiB. */
static unsigned lp_add_physical(uint64_t *rng, bool conout)
{
	UINT32 w = 640 + 16 * (UINT32)(test_rng_next(rng) % 121), h = 480 + (UINT32)(test_rng_next(rng) % 1121);
	UINT32 pitch = test_rng_next(rng) % 2 ? w : (w + 63) / 64 * 64;
	UINT64 base = test_rng_next(rng) % 2 ? 0x80000000ULL + (test_rng_next(rng) % 64) * 0x1000000ULL
					     : 0x4000000000ULL + (test_rng_next(rng) % 64) * 0x10000000ULL;
	return lp_add_gop(w, h, pitch, test_rng_next(rng) % 2 ? PixelBlueGreenRedReserved8BitPerColor
							     : PixelRedGreenBlueReserved8BitPerColor, base, conout);
}

/* True when fb describes GOP i's mode. */
static bool lp_fb_is(const struct bootinfo_fb *fb, unsigned i)
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
		lp_disp_reset();
		lp_add_gop(800, 600, 800, PixelBltOnly, 0, false);   /* the splitter's virtual GOP */
		unsigned phys = 2 + (unsigned)(test_rng_next(&rng) % 2), con = (unsigned)(test_rng_next(&rng) % (phys + 1));
		for (unsigned p = 0; p < phys; p++)
			lp_add_physical(&rng, p + 1 == con);
		struct bootinfo_fb fb = lp_find_fb();
		bool some = false;
		for (unsigned i = 1; i < disp.n; i++)
			some |= lp_fb_is(&fb, i);
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
		lp_disp_reset();
		lp_add_gop(1024, 768, 1024, PixelBltOnly, 0, false);
		unsigned phys = 2 + (unsigned)(test_rng_next(&rng) % 2), con = 1 + (unsigned)(test_rng_next(&rng) % phys);
		for (unsigned p = 1; p <= phys; p++)
			lp_add_physical(&rng, p == con);
		struct bootinfo_fb fb = lp_find_fb();
		n++;
		if (!lp_fb_is(&fb, con) && bad++ < 3)
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
		lp_disp_reset();
		UINT32 w = 640 + 32 * (UINT32)(test_rng_next(&rng) % 60), h = 480 + (UINT32)(test_rng_next(&rng) % 1000);
		UINT32 pitch = w + (c % 3 == 0 ? 0 : (UINT32)(test_rng_next(&rng) % 256));
		UINT64 base = c % 5 == 0 ? 1ULL << 40 : (c % 2 ? 0xC0000000ULL : 0x6000000000ULL);
		lp_add_gop(w, h, pitch, formats[f], base, true);
		unsigned before = prints;
		struct bootinfo_fb fb = lp_find_fb();
		bool good = fb.format == want_format[f] &&
			    (f == 3 ? prints == before + 1
				    : lp_fb_is(&fb, 0) && fb.size == (UINT64)pitch * h * 4 && prints == before &&
					      (f != 2 || (fb.mask_red == 0xFF0000 && fb.mask_reserved == 0xFF000000)));
		n++;
		if (!good && bad++ < 3)
			printf("# format %u %ux%u pitch %u at 0x%llx: got format %u %ux%u pitch %u at 0x%llx\n", formats[f], w, h,
			       pitch, (unsigned long long)base, fb.format, fb.width, fb.height, fb.pitch,
			       (unsigned long long)fb.base);
	}
	lp_disp_reset();
	unsigned before = prints;
	struct bootinfo_fb none = lp_find_fb();
	bool no_gop = none.format == BOOTINFO_FB_NONE && prints == before + 1;
	ok(bad == 0 && no_gop, "%u single-GOP modes described as the firmware gives them, Blt-only as none (%u wrong); "
	   "no GOP: none, said once (%s)", n, bad, no_gop ? "ok" : "wrong");
}

/*
 * A linear GOP mode whose FrameBufferBase is 0 (a firmware's bug: physical page 0 is RAM on every
 * PC, the real-mode interrupt vectors and the firmware's low memory above them): the kernel drew
 * its console there, over the first megabytes of RAM, whatever they held (the pages were kept out
 * of the allocator and the direct map, so nothing said so). Linux's efifb refuses the address.
 * Generated: one GOP or several (the chosen one the console's), every linear format, modes up to
 * 2560 x 1600. Oracle: format NONE and nothing else described, one message; the same modes at a
 * BAR's address are described as they are, without a word.
 */
static void test_gop_framebuffer_at_zero(void)
{
	static const EFI_GRAPHICS_PIXEL_FORMAT formats[] = { PixelRedGreenBlueReserved8BitPerColor,
		PixelBlueGreenRedReserved8BitPerColor, PixelBitMask };
	static const struct bootinfo_fb zero;
	uint64_t rng = 0xFB0ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 60; c++) {
		bool at_zero = c % 2 == 0;
		unsigned gops = 1 + c / 2 % 3;
		lp_disp_reset();
		UINT32 w = 640 + 32 * (UINT32)(test_rng_next(&rng) % 60), h = 480 + (UINT32)(test_rng_next(&rng) % 1120);
		for (unsigned i = 0; i < gops; i++)
			lp_add_gop(w, h, w, formats[(c + i) % 3], at_zero ? 0 : 0x80000000ULL + i * 0x10000000ULL,
				   i == gops - 1);
		unsigned before = prints;
		struct bootinfo_fb fb = lp_find_fb();
		unsigned said = prints - before, choice_lines = gops > 1;
		bool good = at_zero ? !memcmp(&fb, &zero, sizeof(fb)) && said == choice_lines + 1
				    : lp_fb_is(&fb, gops - 1) && said == choice_lines;
		n++;
		if (!good && bad++ < 3)
			printf("# %u GOPs, the console's %ux%u format %u at 0x%llx: format %u at 0x%llx, %u lines\n", gops, w, h,
			       formats[(c + gops - 1) % 3], at_zero ? 0ULL : 0x80000000ULL + (gops - 1) * 0x10000000ULL,
			       fb.format, (unsigned long long)fb.base, said);
	}
	ok(bad == 0, "%u GOP set-ups whose chosen linear mode is at address 0 (none described, said once) or at a BAR "
	   "(described as given) (%u wrong)", n, bad);
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
			lp_config[i].VendorGuid = kind == 0 ? g20 : kind == 1 ? g10 : other;
			lp_config[i].VendorTable = (VOID *)(UINTN)(0xE0000 + 0x100 * i);
			if (kind == 0 && want_rev != 2) {
				want = 0xE0000 + 0x100 * i;
				want_rev = 2;
			} else if (kind == 1 && want_rev == 0) {
				want = 0xE0000 + 0x100 * i;
				want_rev = 1;
			}
		}
		fake_st.NumberOfTableEntries = count;
		fake_st.ConfigurationTable = lp_config;
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

/* ---------------------------------------------------------------- the GOP rule, generated */

/* What a display handle offers: a linear mode, one without a framebuffer (Blt-only, or a pixel
 * format past those UEFI defines), no mode, a mode without its information, or a GOP HandleProtocol
 * will not give. */
enum lp_gop_kind { LP_LINEAR, LP_BLT_ONLY, LP_FORMAT_PAST, LP_NO_MODE, LP_NO_INFO, LP_HANDLE_ERROR, LP_KINDS };

/*
 * The rule as Linux's find_gop states it, the model the loader is held to: with the handle list,
 * the first linear GOP on a ConsoleOut device, else the first linear one, else none; without it
 * (LocateHandleBuffer fails), LocateProtocol's GOP (the first installed) if it is linear. Returns
 * the GOP's index or -1; *said: the lines printed (one when several GOPs were weighed or none was
 * usable).
 */
static int lp_model_gop(const enum lp_gop_kind *kind, const bool *conout, unsigned n, bool listed, unsigned *said)
{
	int got = -1;
	if (!listed || n == 0) {
		got = n > 0 && (kind[0] == LP_LINEAR || kind[0] == LP_HANDLE_ERROR) ? 0 : -1;
		*said = got < 0;
		return got;
	}
	for (unsigned i = 0; i < n; i++)
		if (kind[i] == LP_LINEAR && conout[i]) {
			got = (int)i;
			break;
		}
	for (unsigned i = 0; i < n && got < 0; i++)
		if (kind[i] == LP_LINEAR)
			got = (int)i;
	*said = got < 0 || n > 1;
	return got;
}

/* The bootinfo_fb format the kernel gets for a linear GOP format. */
static uint32_t lp_fb_format(EFI_GRAPHICS_PIXEL_FORMAT f)
{
	return f == PixelRedGreenBlueReserved8BitPerColor ? BOOTINFO_FB_RGBX :
	       f == PixelBlueGreenRedReserved8BitPerColor ? BOOTINFO_FB_BGRX : BOOTINFO_FB_BITMASK;
}

/*
 * Generated display set-ups against lp_model_gop: 0..8 GOP handles, each linear (RGB, BGR or a
 * 32-bit bitmask), Blt-only, of a pixel format past PixelFormatMax, without a mode, without mode
 * information or refused by HandleProtocol, on a ConsoleOut device or not; LocateHandleBuffer
 * failing in one case of six. Oracle: the framebuffer is the model's GOP's mode (its format
 * included) or none, the lines printed are the model's, and every handle buffer the firmware
 * gave is freed once.
 */
static void test_gop_choice_model(void)
{
	static const EFI_GRAPHICS_PIXEL_FORMAT linear[] = { PixelRedGreenBlueReserved8BitPerColor,
		PixelBlueGreenRedReserved8BitPerColor, PixelBitMask };
	static const EFI_STATUS list_errs[] = { EFI_OUT_OF_RESOURCES, EFI_UNSUPPORTED, EFI_INVALID_PARAMETER };
	uint64_t rng = 0x6A7C401CEULL;
	unsigned n = 0, bad = 0, chose[3] = { 0, 0, 0 };   /* none, the console's, another */
	for (unsigned c = 0; c < 3000; c++) {
		enum lp_gop_kind kind[LP_GOPS];
		bool conout[LP_GOPS];
		unsigned gops = (unsigned)(test_rng_next(&rng) % (LP_GOPS + 1));
		lp_disp_reset();
		for (unsigned i = 0; i < gops; i++) {
			kind[i] = test_rng_next(&rng) % 2 ? LP_LINEAR : (enum lp_gop_kind)(test_rng_next(&rng) % LP_KINDS);
			conout[i] = test_rng_next(&rng) % 3 == 0;
			EFI_GRAPHICS_PIXEL_FORMAT f = kind[i] == LP_BLT_ONLY ? PixelBltOnly :
						      kind[i] == LP_FORMAT_PAST ? PixelFormatMax + (test_rng_next(&rng) % 2) * 7 :
						      linear[test_rng_next(&rng) % 3];
			UINT32 w = 640 + 16 * (UINT32)(test_rng_next(&rng) % 100), h = 480 + (UINT32)(test_rng_next(&rng) % 700);
			lp_add_gop(w, h, w + (UINT32)(test_rng_next(&rng) % 3) * 64, f,
				   0x80000000ULL + i * 0x10000000ULL + (test_rng_next(&rng) % 16) * 0x100000ULL, conout[i]);
			if (kind[i] == LP_NO_MODE)
				disp.gop[i].Mode = NULL;
			disp.mode[i].Info = kind[i] == LP_NO_INFO ? NULL : disp.mode[i].Info;
			disp.handle_err[i] = kind[i] == LP_HANDLE_ERROR;
		}
		bool listed = test_rng_next(&rng) % 6 != 0;
		disp.list_err = listed ? EFI_SUCCESS : list_errs[test_rng_next(&rng) % 3];
		unsigned said;
		int want = lp_model_gop(kind, conout, gops, listed, &said);
		unsigned before = prints;
		struct bootinfo_fb fb = lp_find_fb();
		bool fb_good = want < 0 ? fb.format == BOOTINFO_FB_NONE && fb.base == 0 :
			       lp_fb_is(&fb, (unsigned)want) && fb.format == lp_fb_format(disp.info[want].PixelFormat);
		bool good = fb_good && prints - before == said && disp.lists_freed == disp.lists && disp.list == NULL;
		n++;
		chose[want < 0 ? 0 : conout[want] ? 1 : 2]++;
		if (!good && bad++ < 3) {
			printf("# %u GOPs (%s):", gops, listed ? "listed" : "LocateHandleBuffer fails");
			for (unsigned i = 0; i < gops; i++)
				printf(" %u%s", kind[i], conout[i] ? "c" : "");
			printf("; want GOP %d and %u lines, got format %u at 0x%llx and %u lines; %u of %u lists freed\n", want,
			       said, fb.format, (unsigned long long)fb.base, prints - before, disp.lists_freed, disp.lists);
		}
	}
	ok(bad == 0 && chose[0] > 100 && chose[1] > 100 && chose[2] > 100,
	   "%u generated GOP handle lists against the rule's model: none (%u), the console's (%u), the first linear "
	   "(%u); the lines said and the handle buffer freed (%u wrong)", n, chose[0], chose[1], chose[2], bad);
}

/* ---------------------------------------------------------------- maps past the kernel's limits */

/*
 * The kernel's limits as its code states them: kernel/main.c copies at most 64 KiB of map
 * (kernel_mmap) and mm/phys.h's PHYS_MAX_RANGES descriptors are read. Spelt out here, not taken
 * from include/bootinfo.h, so a limit changed on one side only shows.
 */
#define KERNEL_MMAP_COPY  (64 * 1024)
#define KERNEL_MAX_DESCS  2048
_Static_assert(BOOTINFO_MMAP_MAX_BYTES == KERNEL_MMAP_COPY && BOOTINFO_MMAP_MAX_DESCS == KERNEL_MAX_DESCS,
	       "the loader's limits are the kernel's");

/* A generated firmware map: lp_gen.count descriptors lp_gen.stride bytes apart. */
#define LP_MAP_MAX 4000
static struct {
	uint8_t map[LP_MAP_MAX * 64];
	UINTN count, stride;
} lp_gen;

/* True when a map of `count` descriptors, `stride` bytes apart, is one the kernel takes. */
static bool lp_kernel_takes(UINTN count, UINTN stride)
{
	return count * stride <= KERNEL_MMAP_COPY && count <= KERNEL_MAX_DESCS && stride % 8 == 0;
}

static EFI_MEMORY_DESCRIPTOR lp_desc(const uint8_t *map, UINTN stride, UINTN i)
{
	EFI_MEMORY_DESCRIPTOR d;
	memcpy(&d, map + i * stride, sizeof(d));
	return d;
}

/* The model's merge rule: b joins the descriptor before it, a, when both have one type and one
 * attribute set and b starts at a's end, both ends representable in 64 bits (128-bit arithmetic). */
static bool lp_model_joins(const EFI_MEMORY_DESCRIPTOR *a, const EFI_MEMORY_DESCRIPTOR *b)
{
	unsigned __int128 a_end = (unsigned __int128)a->PhysicalStart + (unsigned __int128)a->NumberOfPages * 4096;
	unsigned __int128 b_end = (unsigned __int128)b->PhysicalStart + (unsigned __int128)b->NumberOfPages * 4096;
	unsigned __int128 top = (unsigned __int128)1 << 64;
	return a->Type == b->Type && a->Attribute == b->Attribute && a_end < top && b_end < top &&
	       a_end == b->PhysicalStart;
}

/* The model's merged map of lp_gen into out: each run of joining neighbours as its first descriptor
 * (all its stride bytes) with the run's pages; returns the descriptors. */
static UINTN lp_model_merge(uint8_t *out)
{
	UINTN k = 0;
	for (UINTN i = 0; i < lp_gen.count; i++) {
		EFI_MEMORY_DESCRIPTOR d = lp_desc(lp_gen.map, lp_gen.stride, i);
		if (i > 0) {
			EFI_MEMORY_DESCRIPTOR prev = lp_desc(lp_gen.map, lp_gen.stride, i - 1);
			if (lp_model_joins(&prev, &d)) {
				EFI_MEMORY_DESCRIPTOR run = lp_desc(out, lp_gen.stride, k - 1);
				run.NumberOfPages += d.NumberOfPages;
				memcpy(out + (k - 1) * lp_gen.stride, &run, sizeof(run));
				continue;
			}
		}
		memcpy(out + k++ * lp_gen.stride, lp_gen.map + i * lp_gen.stride, lp_gen.stride);
	}
	return k;
}

static const UINT32 lp_types[] = { EfiConventionalMemory, EfiBootServicesData, EfiBootServicesCode, EfiLoaderData,
				   EfiACPIReclaimMemory, EfiRuntimeServicesData, EfiReservedMemoryType,
				   EfiMemoryMappedIO };
static const UINT64 lp_attrs[] = { EFI_MEMORY_WB, EFI_MEMORY_WB | EFI_MEMORY_UC | EFI_MEMORY_WC,
				   EFI_MEMORY_UC, EFI_MEMORY_WB | EFI_MEMORY_RUNTIME };
#define LP_TYPES (sizeof(lp_types) / sizeof(lp_types[0]))
#define LP_ATTRS (sizeof(lp_attrs) / sizeof(lp_attrs[0]))

/*
 * Generates lp_gen: `count` descriptors, `stride` bytes apart, from 1 MiB up, of 1..16 pages each,
 * each starting where the one before ends (adjacent_pct of them) or 1..16 pages later, with the
 * type and attributes of the one before (same_pct) or another type, other attributes, or both;
 * VirtualStart and the bytes past the descriptor's 40 random. In one map of four, neighbours are
 * then swapped here and there (a map not in address order). No two descriptors overlap.
 */
static void lp_gen_map(uint64_t *rng, UINTN count, UINTN stride, unsigned adjacent_pct, unsigned same_pct)
{
	UINT64 at = 0x100000;
	unsigned t = 0, a = 0;
	if (count > LP_MAP_MAX || stride > 64)
		abort();   /* the generator's own bounds: a test asking more is wrong */
	lp_gen.count = count;
	lp_gen.stride = stride;
	for (UINTN i = 0; i < count; i++) {
		uint8_t *p = lp_gen.map + i * stride;
		for (UINTN b = 0; b < stride; b++)
			p[b] = (uint8_t)test_rng_next(rng);
		if (i == 0 || test_rng_next(rng) % 100 >= same_pct) {
			unsigned what = (unsigned)(test_rng_next(rng) % 3);
			t = what != 1 ? (t + 1 + (unsigned)(test_rng_next(rng) % (LP_TYPES - 1))) % LP_TYPES : t;
			a = what != 0 ? (a + 1 + (unsigned)(test_rng_next(rng) % (LP_ATTRS - 1))) % LP_ATTRS : a;
		}
		if (i > 0 && test_rng_next(rng) % 100 >= adjacent_pct)
			at += (1 + test_rng_next(rng) % 16) * 4096;
		EFI_MEMORY_DESCRIPTOR d = { .Type = lp_types[t], .PhysicalStart = at,
					    .VirtualStart = test_rng_next(rng), .NumberOfPages = 1 + test_rng_next(rng) % 16,
					    .Attribute = lp_attrs[a] };
		memcpy(p, &d, sizeof(d));
		at += d.NumberOfPages * 4096;
	}
	if (test_rng_next(rng) % 4 == 0)
		for (UINTN i = 0; i + 1 < count; i++)
			if (test_rng_next(rng) % 8 == 0) {
				uint8_t tmp[64];
				memcpy(tmp, lp_gen.map + i * stride, stride);
				memcpy(lp_gen.map + i * stride, lp_gen.map + (i + 1) * stride, stride);
				memcpy(lp_gen.map + (i + 1) * stride, tmp, stride);
			}
}

/* The (type, attributes) of each page of a generated map, 1-based, 0 for none, into pages[] (index:
 * page - 256); false when two descriptors claim one page or one lies outside `limit` pages. */
static bool lp_page_types(const uint8_t *map, UINTN count, UINTN stride, uint16_t *pages, size_t limit)
{
	memset(pages, 0, limit * sizeof(pages[0]));
	for (UINTN i = 0; i < count; i++) {
		EFI_MEMORY_DESCRIPTOR d = lp_desc(map, stride, i);
		unsigned t = 0, a = 0;
		while (t < LP_TYPES && lp_types[t] != d.Type)
			t++;
		while (a < LP_ATTRS && lp_attrs[a] != d.Attribute)
			a++;
		if (d.PhysicalStart / 4096 < 256 || d.PhysicalStart / 4096 - 256 + d.NumberOfPages > limit)
			return false;
		for (UINT64 p = d.PhysicalStart / 4096 - 256; p < d.PhysicalStart / 4096 - 256 + d.NumberOfPages; p++) {
			if (pages[p])
				return false;
			pages[p] = (uint16_t)(1 + t * LP_ATTRS + a);
		}
	}
	return true;
}

/* A generated map's size: in one case of three 1..4000 descriptors, else around the most of
 * `stride` bytes that fit the kernel's copy (+-8), or 2, 3 or 4 times that. */
static UINTN lp_gen_count(uint64_t *rng, UINTN stride, unsigned c)
{
	UINTN most = KERNEL_MMAP_COPY / stride;
	if (c % 3 == 0)
		return 1 + test_rng_next(rng) % LP_MAP_MAX;
	UINTN count = most * (1 + (c % 3 == 2) * (1 + test_rng_next(rng) % 3)) + test_rng_next(rng) % 17 - 8;
	return count > LP_MAP_MAX ? LP_MAP_MAX : count;
}

/*
 * boot/memmap.c memmap_fit_for_kernel on generated final maps (lp_gen_map: 1..4000 descriptors of
 * 40, 48, 56 or 64 bytes, mostly merging, rarely, or half and half; in and out of address order),
 * against lp_model_merge. Oracle: a map the kernel takes is left byte for byte as it is; a longer
 * one is the model's merged map, byte for byte, when that fits, and every page keeps its type and
 * attributes; else the map is refused with one message and its size left. Never a success with a
 * map the kernel cannot take.
 */
static void test_merge_against_model(void)
{
	static const UINTN strides[] = { 40, 48, 56, 64 };
	static uint8_t work[LP_MAP_MAX * 64], want[LP_MAP_MAX * 64];
	static uint16_t before_pages[LP_MAP_MAX * 32 + 64], after_pages[LP_MAP_MAX * 32 + 64];
	const size_t limit = sizeof(before_pages) / sizeof(before_pages[0]);
	uint64_t rng = 0x4E46E5ULL;
	unsigned n = 0, bad = 0, kept = 0, merged = 0, refused = 0;
	for (unsigned c = 0; c < 600; c++) {
		UINTN stride = strides[c % 4];
		unsigned shape = (c / 4) % 3;
		lp_gen_map(&rng, lp_gen_count(&rng, stride, c / 4), stride, shape == 0 ? 95 : shape == 1 ? 10 : 50,
			   shape == 0 ? 95 : shape == 1 ? 20 : 50);
		memcpy(work, lp_gen.map, lp_gen.count * stride);
		UINTN bytes = lp_gen.count * stride, m = lp_model_merge(want);
		unsigned said = prints;
		EFI_STATUS st = memmap_fit_for_kernel(work, &bytes, stride);
		said = prints - said;
		const char *why = NULL;
		if (lp_kernel_takes(lp_gen.count, stride)) {
			kept++;
			if (EFI_ERROR(st) || bytes != lp_gen.count * stride || memcmp(work, lp_gen.map, bytes) || said)
				why = "a map the kernel takes was not left as it is";
		} else if (lp_kernel_takes(m, stride)) {
			merged++;
			if (EFI_ERROR(st) || bytes != m * stride || memcmp(work, want, bytes) || said)
				why = "not the model's merged map";
			else if (!lp_page_types(lp_gen.map, lp_gen.count, stride, before_pages, limit) ||
				 !lp_page_types(work, m, stride, after_pages, limit) ||
				 memcmp(before_pages, after_pages, sizeof(before_pages)))
				why = "a page changed its type or attributes";
		} else {
			refused++;
			if (!EFI_ERROR(st) || bytes != lp_gen.count * stride || said != 1)
				why = "a map the kernel cannot take, merged or not, was not refused with one message";
		}
		n++;
		if (why && bad++ < 3)
			printf("# case %u: %llu descriptors of %llu bytes, %llu merged: %s (status 0x%llx, %llu bytes, %u lines)\n",
			       c, (unsigned long long)lp_gen.count, (unsigned long long)stride, (unsigned long long)m, why,
			       (unsigned long long)st, (unsigned long long)bytes, said);
	}
	ok(bad == 0 && kept > 50 && merged > 50 && refused > 50,
	   "%u generated final maps of 1..4000 descriptors: %u the kernel takes left as they are, %u merged to fit "
	   "(the model's map, every page's type kept), %u refused with a message (%u wrong)", n, kept, merged, refused,
	   bad);
}

/*
 * The merge's edges, each with the neighbours that must not merge: a descriptor ending exactly at
 * 2^64 and one wrapping past it, each followed by one of the same type at 0 (whose start the
 * wrapped end equals); a page count whose bytes overflow; the same type with other attributes, the
 * same attributes with another type; descriptors of 0 pages (joining: nothing lost). Built past the
 * kernel's copy with 1400 more descriptors that merge into one, so the merge runs. Oracle: the
 * model's map (lp_model_joins in 128-bit arithmetic).
 */
static void test_merge_edges(void)
{
	static uint8_t work[LP_MAP_MAX * 64], want[LP_MAP_MAX * 64];
	const struct { UINT64 start, pages; UINT32 type; UINT64 attr; } edge[] = {
		{ 0, 16, EfiConventionalMemory, EFI_MEMORY_WB },
		{ 0x10000, 0, EfiConventionalMemory, EFI_MEMORY_WB },                      /* 0 pages, adjacent */
		{ 0x10000, 16, EfiConventionalMemory, EFI_MEMORY_WB },
		{ 0x20000, 16, EfiConventionalMemory, EFI_MEMORY_UC },                     /* other attributes */
		{ 0x30000, 16, EfiBootServicesData, EFI_MEMORY_UC },                       /* other type */
		{ 0xFFFFFFFFFFFF0000ULL, 16, EfiReservedMemoryType, 0 },                   /* ends at 2^64 */
		{ 0, 1, EfiReservedMemoryType, 0 },                                        /* at the wrapped end */
		{ 0xFFFFFFFFFFFFF000ULL, 2, EfiReservedMemoryType, 0 },                    /* wraps to 0x1000 */
		{ 0x1000, 1, EfiReservedMemoryType, 0 },
		{ 0x2000, 1ULL << 52, EfiReservedMemoryType, 0 },                          /* bytes past 2^64 */
		{ 0x2000 + (1ULL << 52) * 4096, 1, EfiReservedMemoryType, 0 },           /* its wrapped end */
	};
	const UINTN ne = sizeof(edge) / sizeof(edge[0]), stride = 48, extra = 1400;
	unsigned bad = 0;
	lp_gen.stride = stride;
	lp_gen.count = ne + extra;
	memset(lp_gen.map, 0x3C, sizeof(lp_gen.map));
	for (UINTN i = 0; i < ne + extra; i++) {
		EFI_MEMORY_DESCRIPTOR d = i < ne ? (EFI_MEMORY_DESCRIPTOR){ .Type = edge[i].type, .PhysicalStart = edge[i].start,
									    .NumberOfPages = edge[i].pages, .Attribute = edge[i].attr }
						 : (EFI_MEMORY_DESCRIPTOR){ .Type = EfiConventionalMemory,
									    .PhysicalStart = 0x100000000ULL + (i - ne) * 4096,
									    .NumberOfPages = 1, .Attribute = EFI_MEMORY_WB };
		memcpy(lp_gen.map + i * stride, &d, sizeof(d));
	}
	UINTN m = lp_model_merge(want), bytes = lp_gen.count * stride;
	memcpy(work, lp_gen.map, bytes);
	EFI_STATUS st = memmap_fit_for_kernel(work, &bytes, stride);
	/* 0 and the 0-page one join 0x10000: 11 edges make 9, the 1400 make 1 */
	if (m != ne - 2 + 1 || EFI_ERROR(st) || bytes != m * stride || memcmp(work, want, bytes)) {
		bad++;
		printf("# %llu edge descriptors + %llu: model %llu, status 0x%llx, %llu bytes\n", (unsigned long long)ne,
		       (unsigned long long)extra, (unsigned long long)m, (unsigned long long)st, (unsigned long long)bytes);
	}
	ok(bad == 0, "a map past the kernel's copy with descriptors ending at and past 2^64, 0-page ones, other types and "
	   "attributes: merged only where nothing is lost (%llu descriptors to %llu)", (unsigned long long)(ne + extra),
	   (unsigned long long)m);
}

/*
 * UEFI's GetMemoryMap returns a whole number of descriptors; a firmware returning a size that is
 * not a multiple of DescriptorSize leaves a tail that is no descriptor. The kernel's allocator
 * refuses such a map outright (mm/phys.c phys_init_except: "bad memory map geometry", then kpanic
 * "cannot build the physical allocator", on a PC without a serial port a message that names
 * nothing a person can do), so the loader hands over the whole descriptors only (failed when it
 * handed the ragged size over as it was). Generated: strides 40..64, 1 to 2200 descriptors (some
 * past the kernel's limits, merged), a tail of 1..stride - 1 bytes, or none. Oracle: accepted
 * without a message, a size that is a multiple of the stride, the whole descriptors given (or their
 * merge) kept byte for byte and the tail's bytes never counted. A map of less than one descriptor
 * (0 bytes, or a tail alone) is refused with one message: the kernel would have no memory.
 */
static void test_map_size_not_whole_descriptors(void)
{
	static const UINTN strides[] = { 40, 48, 56, 64 };
	static uint8_t work[LP_MAP_MAX * 64 + 64], want[LP_MAP_MAX * 64];
	uint64_t rng = 0x5A6ULL;
	unsigned n = 0, bad = 0, ragged = 0, merged = 0, empty = 0;
	for (unsigned c = 0; c < 200; c++) {
		UINTN stride = strides[c % 4];
		UINTN count = c % 10 == 9 ? 2049 + test_rng_next(&rng) % 150 : 1 + test_rng_next(&rng) % 300;
		UINTN tail = c % 5 == 4 ? 0 : 1 + test_rng_next(&rng) % (stride - 1);
		/* one type, mostly adjacent: a long map merges to fit */
		lp_gen.stride = stride;
		lp_gen.count = count;
		memset(lp_gen.map, 0xC3, sizeof(lp_gen.map));
		for (UINTN i = 0; i < count; i++) {
			EFI_MEMORY_DESCRIPTOR d = { .Type = i % 7 ? EfiConventionalMemory : EfiBootServicesData,
						    .PhysicalStart = 0x100000ULL + i * 0x2000ULL, .NumberOfPages = 2,
						    .Attribute = EFI_MEMORY_WB };
			memcpy(lp_gen.map + i * stride, &d, sizeof(d));
		}
		UINTN m = lp_model_merge(want), bytes = count * stride + tail;
		bool fits = lp_kernel_takes(count, stride);
		memcpy(work, lp_gen.map, count * stride);
		memset(work + count * stride, 0x7E, tail);   /* the tail: half a descriptor of garbage */
		unsigned before = prints;
		EFI_STATUS st = memmap_fit_for_kernel(work, &bytes, stride);
		UINTN want_bytes = fits ? count * stride : m * stride;
		const uint8_t *want_map = fits ? lp_gen.map : want;
		n++;
		ragged += tail != 0;
		merged += !fits;
		if (EFI_ERROR(st) || prints != before || bytes % stride || bytes != want_bytes ||
		    memcmp(work, want_map, want_bytes)) {
			if (bad++ < 3)
				printf("# %llu descriptors of %llu bytes and a %llu-byte tail: status 0x%llx, %llu bytes "
				       "handed over (want %llu), %u messages\n", (unsigned long long)count,
				       (unsigned long long)stride, (unsigned long long)tail, (unsigned long long)st,
				       (unsigned long long)bytes, (unsigned long long)want_bytes, prints - before);
		}
	}
	for (unsigned s = 0; s < 4; s++)
		for (UINTN b = 0; b < strides[s]; b += 1 + b / 2) {
			UINTN bytes = b;
			unsigned before = prints;
			EFI_STATUS st = memmap_fit_for_kernel(work, &bytes, strides[s]);
			n++;
			empty++;
			if (!EFI_ERROR(st) || prints != before + 1) {
				if (bad++ < 6)
					printf("# a map of %llu bytes, stride %llu: status 0x%llx, %u messages\n",
					       (unsigned long long)b, (unsigned long long)strides[s],
					       (unsigned long long)st, prints - before);
			}
		}
	ok(bad == 0 && ragged > 100 && merged > 10, "%u final maps whose size is not a whole number of descriptors (%u "
	   "with a tail, %u merged): the whole descriptors handed over, the tail never; %u holding none refused with "
	   "a message (%u wrong)", n, ragged, merged, empty, bad);
}

/* ---------------------------------------------------------------- the hand-over of a long map */

static struct bootinfo lp_bi;
static uint8_t lp_map_buf[LP_MAP_MAX * 64 + 64 * MMAP_SLACK_DESCRIPTORS + 4096];

/* Points the fake boot services at the hand-over's fakes above and empties the boot information,
 * its map buffer lp_map_buf: what every run of handover_exit_and_enter starts from. */
static void lp_ebs_install(void)
{
	fake_bs.GetMemoryMap = lp_ebs_get_map;
	fake_bs.ExitBootServices = lp_ebs_exit;
	fake_bs.AllocatePages = lp_ebs_alloc_pages;
	fake_bs.AllocatePool = lp_ebs_alloc_pool;
	memset(&lp_bi, 0, sizeof(lp_bi));
	lp_bi.mmap_phys = (UINT64)(UINTN)lp_map_buf;
}
static struct {
	UINTN raw_count, want_count;   /* the firmware's descriptors; those the kernel should get, 0: none */
	uint8_t want[LP_MAP_MAX * 64];
} lp_long;

/* The jump of a long map's hand-over: 0 when the map handed over is lp_long.want, one the kernel
 * takes, after one GetMemoryMap and one ExitBootServices and no message; 1 when not. */
static void lp_long_jumped(int sig)
{
	(void)sig;
	UINTN bytes = lp_bi.mmap_size, stride = lp_bi.mmap_desc_size;
	bool good = lp_long.want_count && stride == lp_gen.stride && bytes == lp_long.want_count * stride &&
		    lp_kernel_takes(bytes / stride, stride) && !memcmp(lp_map_buf, lp_long.want, bytes) &&
		    ebs.nlog == 2 && ebs.log[0] == 'M' && ebs.log[1] == 'X';
	_exit(good ? 0 : 1);
}
/* In a child: the loader's last two steps with lp_gen as the firmware's map: the final buffer
 * (memmap_alloc_final_buffer), then handover_exit_and_enter. 0 when right (a jump judged by
 * lp_long_jumped, or a refusal: one GetMemoryMap, one message, no ExitBootServices), 1 when not,
 * 2 when it returned with a map the kernel takes, 4 when the buffer is too small for the map. */
static int lp_long_run(void *arg)
{
	(void)arg;
	struct sigaction sa = { .sa_handler = lp_long_jumped };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	UINT64 phys = 0, cap = 0;
	fw_map_bytes = lp_gen.count * lp_gen.stride;
	fw_desc_size = lp_gen.stride;
	fake_bs.GetMemoryMap = lp_get_memory_map;
	if (EFI_ERROR(memmap_alloc_final_buffer(&phys, &cap)) || cap < fw_map_bytes || cap > sizeof(lp_map_buf))
		return 4;
	memset(&ebs, 0, sizeof(ebs));
	ebs.bytes = fw_map_bytes;
	ebs.src = lp_gen.map;
	ebs.stride = lp_gen.stride;
	lp_ebs_install();
	EFI_STATUS st = handover_exit_and_enter(NULL, &lp_bi, cap, 0x1000, 0xffffffff80000000ULL);
	if (lp_long.want_count)
		return 2;
	return EFI_ERROR(st) && ebs.nlog == 2 && ebs.log[0] == 'M' && ebs.log[1] == 'P' ? 0 : 1;
}

/*
 * kernel/main.c kernel_take_bootinfo: "memory map of N bytes ... does not fit the kernel's
 * 65536-byte copy" is a kpanic before fbcon_init, so on a PC without a serial port the screen keeps
 * the loader's last line and the machine halts; mm/phys.h: "a longer map is refused" past 2048
 * descriptors (phys_init fails, kpanic, the same silence). The loader's last two steps
 * (memmap_alloc_final_buffer, handover_exit_and_enter) on generated final maps (lp_gen_map: up to
 * the copy's size, or 1-4 times past it and mostly merging or rarely; descriptors of 48, 56 and 64
 * bytes), in a child each. Oracle (lp_model_merge): a map the kernel takes is handed over as it is, a longer one
 * merged when that fits (the model's map, byte for byte); else no ExitBootServices, one message,
 * an error returned to loader.c (which shows it and returns to the firmware). Never a jump with a
 * map past the kernel's limits.
 */
static void test_map_larger_than_the_kernel_takes(void)
{
	static const UINTN strides[] = { 48, 56, 64 };
	uint64_t rng = 0x3A9ULL;
	unsigned n = 0, bad = 0, as_is = 0, merged = 0, refused = 0;
	for (unsigned c = 0; c < 48; c++) {
		/* by thirds: up to the copy's size; 1-4 times past it, mostly merging; past it, rarely merging */
		UINTN stride = strides[c % 3], most = KERNEL_MMAP_COPY / stride;
		unsigned part = (c / 3) % 3;
		UINTN count = part == 0 ? 1 + test_rng_next(&rng) % most : most + 1 + test_rng_next(&rng) % (3 * most);
		count = count > LP_MAP_MAX ? LP_MAP_MAX : count;
		lp_gen_map(&rng, count, stride, part == 1 ? 95 : 10, part == 1 ? 95 : 20);
		UINTN m = lp_model_merge(lp_long.want);
		lp_long.raw_count = lp_gen.count;
		if (lp_kernel_takes(lp_gen.count, stride)) {
			memcpy(lp_long.want, lp_gen.map, lp_gen.count * stride);
			lp_long.want_count = lp_gen.count;
			as_is++;
		} else {
			lp_long.want_count = lp_kernel_takes(m, stride) ? m : 0;
			merged += lp_long.want_count != 0;
			refused += lp_long.want_count == 0;
		}
		struct tap_child ch = { .quiet_out = true, .timer_ms = 5000 };
		int status = tap_child(&ch, lp_long_run, NULL);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		n++;
		if (code != 0 && bad++ < 3)
			printf("# %llu descriptors of %llu bytes (%llu merged): %s\n", (unsigned long long)lp_gen.count,
			       (unsigned long long)stride, (unsigned long long)m,
			       code == 1 ? (lp_long.want_count ? "handed over another map than the model's, or with firmware calls"
							       : "not refused with one message before ExitBootServices")
			       : code == 2 ? "returned, with a map the kernel takes" : code == 4 ? "the final buffer is too small"
			       : "the child died");
	}
	ok(bad == 0 && as_is > 8 && merged > 8 && refused > 8, "%u final maps: %u the kernel takes handed over as "
	   "they are, %u merged to fit, %u the kernel cannot take refused by the loader with a message before "
	   "ExitBootServices (%u wrong)", n, as_is, merged, refused, bad);
}

/* One case's expected log: k + 1 "MX" pairs (at most 8), then "P" when it fails. */
struct lp_ebs_case {
	unsigned stale, grow;
	UINTN start_bytes, capacity;
};

static const struct lp_ebs_case *lp_cur;

/* The jump into the kernel ends in the loader's read of CR4 (or its CLI), which faults at user level:
 * the handover got that far. Judges the log then (0 good, 1 wrong). */
static void lp_ebs_jumped(int sig)
{
	(void)sig;
	unsigned pairs = lp_cur->stale + 1;
	bool good = pairs <= EXIT_ATTEMPTS && ebs.nlog == 2 * pairs && lp_bi.mmap_size == ebs.handed_size &&
		    lp_bi.mmap_desc_size == 48;
	for (unsigned i = 0; i < ebs.nlog; i++)
		good = good && ebs.log[i] == (i % 2 ? 'X' : 'M');
	_exit(good ? 0 : 1);
}

/* In a child: handover_exit_and_enter for one case; 0 when what the firmware saw is right, 1 when
 * not, 2 when it returned instead of jumping, 3 when it jumped instead of returning. */
static int lp_ebs_run(void *arg)
{
	lp_cur = arg;
	struct sigaction sa = { .sa_handler = lp_ebs_jumped };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	memset(&ebs, 0, sizeof(ebs));
	ebs.stale = lp_cur->stale;
	ebs.grow = lp_cur->grow;
	ebs.bytes = lp_cur->start_bytes;
	lp_ebs_install();
	bool fits = lp_cur->start_bytes + (lp_cur->stale + 1) * lp_cur->grow * 48 <= lp_cur->capacity;
	EFI_STATUS st = handover_exit_and_enter(NULL, &lp_bi, lp_cur->capacity, 0x1000, 0xffffffff80000000ULL);
	if (fits && lp_cur->stale < EXIT_ATTEMPTS)
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
		struct lp_ebs_case k = { .stale = c % 12, .grow = (unsigned)(test_rng_next(&rng) % 4),
					 .start_bytes = 48 * (100 + test_rng_next(&rng) % 200) };
		k.capacity = c % 5 == 4 ? k.start_bytes + 48 : k.start_bytes + MMAP_SLACK_DESCRIPTORS * 48;
		if (c % 5 == 4 && !k.grow)
			k.grow = 2;
		struct tap_child ch = { .quiet_out = true, .timer_ms = 5000 };
		int status = tap_child(&ch, lp_ebs_run, &k);
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

/* ---------------------------------------------------------------- the physical width */

static struct pwc_cpu lp_pwc;
static struct pwc_msr_log lp_msr;   /* the generated CPU's memory-encryption MSR reads */
static void lp_cpuid(uint32_t leaf, uint32_t r[4]) { pwc_cpuid(&lp_pwc, leaf, r); }
static uint64_t lp_rdmsr(uint32_t msr) { return pwc_rdmsr(&lp_pwc, msr, &lp_msr); }

/* platform_phys_addr_bits on 20000 generated CPUs against physwidth_cases.h's rule, kept in 32..52,
 * and pwc_broken's invariants on the MSRs read and the width. */
static void test_phys_width_memory_encryption(void)
{
	uint64_t rng = 0x5E3C0FF1CEULL;   /* the kernel's CPUs in test_arch_cpuid.c */
	unsigned bad = 0, reduced = 0, sev = 0;

	for (unsigned k = 0; k < 20000; k++) {
		pwc_generate(&lp_pwc, &rng);
		memset(&lp_msr, 0, sizeof(lp_msr));
		UINT32 got = platform_phys_addr_bits();
		const char *broken = pwc_broken(&lp_pwc, &lp_msr, PWC_BITS_UNKNOWN, got);
		reduced += pwc_encrypt_bits(&lp_pwc) != 0;
		sev += pwc_sev_active(&lp_pwc);
		if ((got != pwc_usable(&lp_pwc) || broken || lp_msr.reads != pwc_msr_reads(&lp_pwc)) && bad++ < 3)
			printf("#   CPU %u: %s, max basic %u, CPUID 1 ECX 0x%x, max extended 0x%x, 0x80000008 width %u, "
			       "0x8000001F EAX 0x%x EBX 0x%x, SYSCFG 0x%llx, SEV_STATUS 0x%llx, (7,0) ECX 0x%x, "
			       "IA32_TME_ACTIVATE 0x%llx: width %u, want %u; MSRs read %u times (want %u); %s\n", k,
			       lp_pwc.vendor, lp_pwc.max_basic, lp_pwc.leaf1_ecx, lp_pwc.max_ext, lp_pwc.addr_eax & 0xff,
			       lp_pwc.enc_eax, lp_pwc.enc_ebx, (unsigned long long)lp_pwc.syscfg,
			       (unsigned long long)lp_pwc.sev_status, lp_pwc.leaf7_ecx, (unsigned long long)lp_pwc.tme_activate,
			       got, pwc_usable(&lp_pwc), lp_msr.reads, pwc_msr_reads(&lp_pwc),
			       broken ? broken : "no invariant broken");
	}
	ok(bad == 0 && reduced > 2000 && sev > 500, "the loader's physical width on 20000 generated CPUs: CPUID "
	   "0x80000008's less memory encryption's bits where AMD's SYSCFG bit 23 is set (never read under a hypervisor), "
	   "in an SEV guest (SEV_STATUS read only with CPUID's SEV bit) at most its C-bit, or where Intel's "
	   "IA32_TME_ACTIVATE is locked enabled, in 32..52, each MSR read only where it exists (%u wrong, %u reduced, "
	   "%u SEV guests)", bad, reduced, sev);
}

/* Whether every line of lp_text is at most 80 columns. */
static bool lp_text_fits_80(void)
{
	size_t col = 0;
	for (size_t i = 0; i < lp_text_len; i++)
		col = lp_text[i] == '\n' ? 0 : col + 1;
	for (size_t i = 0, start = 0; i <= lp_text_len; i++)
		if (i == lp_text_len || lp_text[i] == '\n') {
			if (i - start > 80)
				return false;
			start = i + 1;
		}
	return col <= 80;
}

/* platform_check_memory_encryption on 20000 generated CPUs: EFI_UNSUPPORTED exactly in an SEV guest,
 * with a message naming the kind, SEV_STATUS, the C-bit, and what to do (and the missing #VC handler
 * under SEV-ES and SEV-SNP); before it, and on a CPU whose SME or TME takes bits, one line naming the
 * kind and the bits taken and both widths; nothing where no encryption takes bits; every line within
 * 80 columns; the same MSR invariants as the width. A hand-made SEV-SNP guest's text, word for word. */
static void test_sev_guest_refused(void)
{
	uint64_t rng = 0x5E7C0DEULL;
	unsigned bad = 0, refused = 0, said = 0, kinds[6] = { 0 };
	char want[512];

	for (unsigned k = 0; k < 20000; k++) {
		pwc_generate(&lp_pwc, &rng);
		memset(&lp_msr, 0, sizeof(lp_msr));
		lp_text_reset();
		EFI_STATUS st = platform_check_memory_encryption();
		enum physwidth_encrypt kind = pwc_kind(&lp_pwc);
		const char *name = physwidth_encrypt_name(kind), *why = NULL;
		bool sev = pwc_sev_active(&lp_pwc);
		kinds[kind]++;
		refused += st == EFI_UNSUPPORTED;
		said += lp_text_len != 0;
		snprintf(want, sizeof(want), "loader: memory encryption (%s) takes the top %u address bits: physical\n"
			 "        width %u bits of CPUID's %u.\n", name, pwc_encrypt_bits(&lp_pwc), pwc_bits(&lp_pwc),
			 pwc_cpu_bits(&lp_pwc));
		if (st != (sev ? EFI_UNSUPPORTED : EFI_SUCCESS))
			why = sev ? "an SEV guest not refused" : "refused outside an SEV guest";
		else if (lp_text_lost || !lp_text_fits_80())
			why = "a message not rendered, or a line past 80 columns";
		else if (kind == PHYSWIDTH_ENCRYPT_NONE && lp_text_len)
			why = "a message where no encryption takes bits";
		else if (kind != PHYSWIDTH_ENCRYPT_NONE && strncmp(lp_text, want, strlen(want)) != 0)
			why = "the width line missing or wrong";
		else if (!sev && kind != PHYSWIDTH_ENCRYPT_NONE && strlen(lp_text) != strlen(want))
			why = "more than the width line for SME or TME";
		else if (pwc_broken(&lp_pwc, &lp_msr, PWC_BITS_UNKNOWN, 32))
			why = pwc_broken(&lp_pwc, &lp_msr, PWC_BITS_UNKNOWN, 32);
		if (sev && !why) {
			char guest[128];
			snprintf(guest, sizeof(guest), "loader: this is an AMD %s guest (SEV_STATUS %llx, C-bit %u)", name,
				 (unsigned long long)lp_pwc.sev_status, pwc_cbit(&lp_pwc));
			if (!strstr(lp_text, guest) || !strstr(lp_text, "What to do: start the virtual machine without memory "
				"encryption") || (strstr(lp_text, "no #VC handler") != NULL) != (kind != PHYSWIDTH_ENCRYPT_AMD_SEV))
				why = "the refusal does not name the guest, the #VC handler or what to do";
		}
		if (why && bad++ < 3)
			printf("#   CPU %u: %s, CPUID 1 ECX 0x%x, 0x8000001F EAX 0x%x EBX 0x%x, SEV_STATUS 0x%llx, SYSCFG 0x%llx: "
			       "%s; status %llx, said:\n%s", k, lp_pwc.vendor, lp_pwc.leaf1_ecx, lp_pwc.enc_eax, lp_pwc.enc_ebx,
			       (unsigned long long)lp_pwc.sev_status, (unsigned long long)lp_pwc.syscfg, why,
			       (unsigned long long)st, lp_text);
	}
	/* a hand-made SEV-SNP guest: 48 bits, 1 bit of reduction, the C-bit at 51 (QEMU's on EPYC) */
	memset(&lp_pwc, 0, sizeof(lp_pwc));
	memcpy(lp_pwc.vendor, "AuthenticAMD", 12);
	lp_pwc.max_basic = 0xd;
	lp_pwc.leaf1_ecx = 1u << 31;
	lp_pwc.max_ext = 0x80000028u;
	lp_pwc.addr_eax = 0x3030;
	lp_pwc.enc_eax = 0x1 | 0x2 | 0x8 | 0x10;   /* SME, SEV, SEV-ES, SNP */
	lp_pwc.enc_ebx = 1u << 6 | 51;
	lp_pwc.sev_status = 0x7;
	lp_pwc.syscfg = 1ULL << 23;
	memset(&lp_msr, 0, sizeof(lp_msr));
	lp_text_reset();
	EFI_STATUS st = platform_check_memory_encryption();
	const char *snp = "loader: memory encryption (SEV-SNP) takes the top 1 address bits: physical\n"
			  "        width 47 bits of CPUID's 48.\n"
			  "loader: this is an AMD SEV-SNP guest (SEV_STATUS 7, C-bit 51):\n"
			  "        its memory is encrypted, and this kernel cannot run encrypted: it sets\n"
			  "        no C-bit in its page tables and has no #VC handler.\n"
			  "        What to do: start the virtual machine without memory encryption (QEMU:\n"
			  "        no sev-guest or sev-snp-guest object).\n";
	bool snp_good = st == EFI_UNSUPPORTED && strcmp(lp_text, snp) == 0 && lp_msr.reads == 1 && !lp_msr.bad;
	if (!snp_good)
		printf("#   the SEV-SNP guest: status %llx, %u MSR reads, said:\n%s", (unsigned long long)st, lp_msr.reads,
		       lp_text);
	ok(bad == 0 && snp_good && kinds[PHYSWIDTH_ENCRYPT_AMD_SEV] > 100 && kinds[PHYSWIDTH_ENCRYPT_AMD_SEV_ES] > 100 &&
	   kinds[PHYSWIDTH_ENCRYPT_AMD_SEV_SNP] > 100 && kinds[PHYSWIDTH_ENCRYPT_AMD_SME] > 100 &&
	   kinds[PHYSWIDTH_ENCRYPT_INTEL_TME] > 100 && kinds[PHYSWIDTH_ENCRYPT_NONE] > 1000,
	   "platform_check_memory_encryption refuses an AMD SEV, SEV-ES or SEV-SNP guest, naming the guest, "
	   "SEV_STATUS, the C-bit and what to do, and says what SME or TME takes from the width, on 20000 generated "
	   "CPUs and a hand-made SEV-SNP guest (%u wrong; %u refused, %u said something; SEV %u, SEV-ES %u, SEV-SNP %u, "
	   "SME %u, TME %u, none %u)", bad, refused, said, kinds[PHYSWIDTH_ENCRYPT_AMD_SEV],
	   kinds[PHYSWIDTH_ENCRYPT_AMD_SEV_ES], kinds[PHYSWIDTH_ENCRYPT_AMD_SEV_SNP], kinds[PHYSWIDTH_ENCRYPT_AMD_SME],
	   kinds[PHYSWIDTH_ENCRYPT_INTEL_TME], kinds[PHYSWIDTH_ENCRYPT_NONE]);
}

/* ---------------------------------------------------------------- the kernel's CR4 */

/* handover_kernel_cr4 on every single bit and 20000 generated firmware CR4 values, half with CET. */
static void test_kernel_entered_with_cet_off(void)
{
	uint64_t rng = 0xC4CE7ULL;
	unsigned bad = 0, with_cet = 0;

	for (unsigned k = 0; k < 20000 + 64; k++) {
		UINT64 fw = k < 64 ? 1ULL << k : test_rng_next(&rng) & 0x3FFFFFFULL;
		if (k >= 64 && k % 2)
			fw |= 1ULL << 23;
		with_cet += (fw >> 23) & 1;
		UINT64 got = handover_kernel_cr4(fw);
		if (got != (fw & ~(1ULL << 23)) && bad++ < 3)
			printf("#   firmware CR4 0x%llx: the kernel entered with 0x%llx\n", (unsigned long long)fw,
			       (unsigned long long)got);
	}
	ok(bad == 0 && with_cet > 5000, "the kernel is entered with the firmware's CR4 less CR4.CET (bit 23), every other "
	   "bit kept (%u wrong of 20064, %u with CET)", bad, with_cet);
}

/* Test 13 of the header: the firmware's vendor string and revisions. */
static void test_firmware_vendor(void)
{
	static const CHAR16 units[] = { 0, 1, 0x1F, 0x20, 'A', 'z', '~', 0x7E, 0x7F, 0x80, 0xFF, 0x100, 0xE9, 0x263A, 0xFFFF };
	CHAR16 fw[101];
	char out[BOOTINFO_FW_VENDOR_MAX + 16], want[BOOTINFO_FW_VENDOR_MAX];
	uint64_t rng = 0x510E527FADE682D1ULL;
	unsigned n = 0, bad = 0, cut = 0, replaced = 0;

	for (unsigned k = 0; k < 3000; k++) {
		size_t len = k < 101 ? k : test_rng_next(&rng) % 101, w = 0;
		for (size_t i = 0; i < len; i++) {
			CHAR16 u = test_rng_next(&rng) % 3 ? (CHAR16)(0x20 + test_rng_next(&rng) % 0x5F) :
				   units[1 + test_rng_next(&rng) % (sizeof(units) / sizeof(units[0]) - 1)];
			fw[i] = u;
		}
		fw[len] = 0;
		for (; w < len && w < BOOTINFO_FW_VENDOR_MAX - 1; w++) {
			want[w] = fw[w] >= 0x20 && fw[w] <= 0x7E ? (char)fw[w] : '?';
			replaced += want[w] == '?' && fw[w] != '?';
		}
		want[w] = 0;
		cut += len > w;
		bool none = k % 50 == 49;
		fake_st.FirmwareVendor = none ? NULL : fw;
		fake_st.FirmwareRevision = (UINT32)test_rng_next(&rng);
		fake_st.Hdr.Revision = (UINT32)test_rng_next(&rng);
		memset(out, 0x5A, sizeof(out));
		UINT32 fw_rev = 0, uefi_rev = 0;
		platform_firmware_info(out, &fw_rev, &uefi_rev);
		bool past = false;
		for (size_t i = BOOTINFO_FW_VENDOR_MAX; i < sizeof(out); i++)
			past |= out[i] != 0x5A;
		n++;
		if ((strcmp(out, none ? "" : want) != 0 || past || fw_rev != fake_st.FirmwareRevision ||
		     uefi_rev != fake_st.Hdr.Revision) && bad++ < 4)
			printf("# %zu units%s: \"%.*s\", want \"%s\"%s\n", len, none ? " (no string)" : "",
			       BOOTINFO_FW_VENDOR_MAX, out, none ? "" : want, past ? "; written past the array" : "");
	}
	fake_st.FirmwareVendor = NULL;
	ok(bad == 0 && cut > 100 && replaced > 100, "%u firmware vendor strings (%u longer than the %d bytes kept, %u "
	   "units not printable ASCII): printable ASCII kept, others '?', cut and NUL-terminated inside the array; the "
	   "revisions as given (%u wrong)", n, cut, BOOTINFO_FW_VENDOR_MAX, replaced, bad);
}

int main(void)
{
	BS = &fake_bs;
	ST = &fake_st;
	test_gop_behind_console_splitter();
	test_gop_prefers_the_console_device();
	test_gop_single_modes();
	test_gop_framebuffer_at_zero();
	test_rsdp_choice();
	test_map_larger_than_the_kernel_takes();
	test_exit_boot_services_retries();
	test_gop_choice_model();
	test_merge_against_model();
	test_merge_edges();
	test_map_size_not_whole_descriptors();
	test_phys_width_memory_encryption();
	test_sev_guest_refused();
	test_kernel_entered_with_cet_off();
	test_firmware_vendor();
	(void)platform_cpuid;   /* the seams physwidth_read stands in for above */
	(void)platform_rdmsr;
	return tap_done();
}
