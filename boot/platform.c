/*
 * Firmware facts handed to the kernel: the GOP framebuffer (of the GOP the firmware's console is
 * on, when several exist), the ACPI RSDP, and the firmware's vendor and revisions. All are
 * optional: their absence is recorded in bootinfo, not treated as an error.
 */
#include "loader.h"
#include "physwidth.h"

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

/* EDK2's gEfiConsoleOutDeviceGuid (MdePkg/Include/Guid/ConsoleOutDevice.h; GNU-EFI has none): on
 * the handle of each device the firmware shows its text console on. */
static EFI_GUID platform_conout_device_guid = {
	0xd3b36f2c, 0xd551, 0x11d4, { 0x9a, 0x46, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d }
};

/* The GOP instances platform_find_gop looked at: how many, and why the skipped ones were skipped. */
struct platform_gop_census {
	UINTN handles;      /* handles carrying the GOP protocol */
	UINTN blt_only;     /* PixelBltOnly or an unknown pixel format: no linear framebuffer */
	UINTN unreadable;   /* the protocol or its mode information could not be had */
	UINTN chosen;       /* 1-based index of the one chosen, 0 for none */
	BOOLEAN console;    /* the chosen one's handle carries the ConsoleOut device protocol */
};

/* gop's mode information, or NULL when the firmware gives none. */
static EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *platform_gop_info(EFI_GRAPHICS_OUTPUT_PROTOCOL *gop)
{
	if (gop == NULL || gop->Mode == NULL)
		return NULL;
	return gop->Mode->Info;
}

/* True when the pixel format gives a linear framebuffer (not PixelBltOnly, nor past the formats
 * UEFI defines). */
static BOOLEAN platform_format_linear(EFI_GRAPHICS_PIXEL_FORMAT format)
{
	return format == PixelRedGreenBlueReserved8BitPerColor || format == PixelBlueGreenRedReserved8BitPerColor ||
	       format == PixelBitMask;
}

/*
 * The GOP to describe, from every handle carrying the protocol (as Linux's EFI boot code does in
 * its find_gop): behind EDK's console splitter the first GOP is often its virtual one, PixelBltOnly
 * when two or more physical GOPs exist. Skips the GOPs without a linear framebuffer and those whose
 * mode information cannot be read; of the rest, the first whose handle carries the ConsoleOut
 * device protocol (the screen the firmware's console is on), else the first. NULL when none is
 * left; *c says what was seen. Frees the handle buffer.
 */
static EFI_GRAPHICS_OUTPUT_PROTOCOL *platform_choose_gop(EFI_HANDLE *handles, UINTN n, struct platform_gop_census *c)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL *first = NULL;

	for (UINTN i = 0; i < n; i++) {
		EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
		EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;
		VOID *conout;

		if (EFI_ERROR(BS->HandleProtocol(handles[i], &GraphicsOutputProtocol, (VOID **)&gop)) ||
		    (info = platform_gop_info(gop)) == NULL) {
			c->unreadable++;
			continue;
		}
		if (!platform_format_linear(info->PixelFormat)) {
			c->blt_only++;
			continue;
		}
		if (!EFI_ERROR(BS->HandleProtocol(handles[i], &platform_conout_device_guid, &conout))) {
			c->chosen = i + 1;
			c->console = TRUE;
			first = gop;
			break;
		}
		if (first == NULL) {
			c->chosen = i + 1;
			first = gop;
		}
	}
	if (handles != NULL)   /* a firmware may list no handle with success */
		BS->FreePool(handles);
	return first;
}

/* Says in one line which of several GOPs was chosen and why, or that none has a framebuffer; the
 * one GOP of a machine with one (OVMF's case) is chosen without a word. */
static void platform_print_gop_choice(const struct platform_gop_census *c)
{
	if (c->chosen == 0)
		Print(LOADER_TAG L"none of the %ld graphics outputs (GOP) has a linear framebuffer (%ld Blt-only,\n"
		      L"        %ld unreadable); the kernel gets no framebuffer.\n", (UINT64)c->handles,
		      (UINT64)c->blt_only, (UINT64)c->unreadable);
	else if (c->handles > 1)
		Print(LOADER_TAG L"graphics output %ld of %ld (GOP) chosen, %s; %ld Blt-only, %ld unreadable.\n",
		      (UINT64)c->chosen, (UINT64)c->handles,
		      c->console ? L"the console's screen" : L"the first with a framebuffer (none is the console's)",
		      (UINT64)c->blt_only, (UINT64)c->unreadable);
}

/*
 * The GOP whose mode becomes the kernel's framebuffer: platform_choose_gop over every handle
 * carrying the protocol, or LocateProtocol's one when the firmware cannot list the handles. NULL
 * (with a message) when there is none with a linear framebuffer and readable mode information.
 */
static EFI_GRAPHICS_OUTPUT_PROTOCOL *platform_find_gop(void)
{
	struct platform_gop_census c = { 0, 0, 0, 0, FALSE };
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
	EFI_HANDLE *handles = NULL;
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;

	if (!EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &GraphicsOutputProtocol, NULL, &c.handles, &handles))) {
		gop = platform_choose_gop(handles, c.handles, &c);
		platform_print_gop_choice(&c);
		return gop;
	}
	if (EFI_ERROR(BS->LocateProtocol(&GraphicsOutputProtocol, NULL, (VOID **)&gop)) ||
	    (info = platform_gop_info(gop)) == NULL) {
		Print(LOADER_TAG L"no graphics output (GOP); the kernel gets no framebuffer.\n");
		return NULL;
	}
	if (!platform_format_linear(info->PixelFormat)) {
		Print(LOADER_TAG L"the display is Blt-only; the kernel gets no framebuffer.\n");
		return NULL;
	}
	return gop;
}

/* Describes the mode of the GOP platform_find_gop chooses in *fb (already zeroed); format NONE
 * without one, or when its framebuffer is at address 0: physical page 0 is RAM on every PC (the
 * real-mode interrupt vectors, then the firmware's low memory), never a framebuffer, so the mode
 * is a firmware's bug and drawing in it would write over whatever lies there (Linux's efifb
 * refuses the same address: "invalid framebuffer address"). */
void platform_find_framebuffer(struct bootinfo_fb *fb)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = platform_find_gop();
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;

	fb->format = BOOTINFO_FB_NONE;
	if (gop == NULL)
		return;
	info = gop->Mode->Info;
	if (gop->Mode->FrameBufferBase == 0) {
		Print(LOADER_TAG L"graphics mode %ux%u gives its framebuffer at address 0 (a firmware bug);\n"
		      L"        the kernel will write to the serial port only.\n", info->HorizontalResolution,
		      info->VerticalResolution);
		return;
	}
	switch (info->PixelFormat) {
	case PixelRedGreenBlueReserved8BitPerColor:
		fb->format = BOOTINFO_FB_RGBX;
		break;
	case PixelBlueGreenRedReserved8BitPerColor:
		fb->format = BOOTINFO_FB_BGRX;
		break;
	default:  /* PixelBitMask: platform_find_gop returns linear formats only */
		fb->format = BOOTINFO_FB_BITMASK;
		fb->mask_red = info->PixelInformation.RedMask;
		fb->mask_green = info->PixelInformation.GreenMask;
		fb->mask_blue = info->PixelInformation.BlueMask;
		fb->mask_reserved = info->PixelInformation.ReservedMask;
		break;
	}
	fb->base = gop->Mode->FrameBufferBase;
	fb->size = gop->Mode->FrameBufferSize;
	fb->width = info->HorizontalResolution;
	fb->height = info->VerticalResolution;
	fb->pitch = info->PixelsPerScanLine;
	if (!bootinfo_fb_bytes(fb))
		Print(LOADER_TAG L"graphics mode %ux%u, %u pixels per line, %lx bytes at %lx is unusable;\n"
		      L"        the kernel will write to the serial port only.\n", fb->width, fb->height, fb->pitch,
		      fb->size, fb->base);
}

/* The ACPI RSDP from the configuration table: ACPI 2.0 entry preferred (revision 2), else 1.0. */
void platform_find_rsdp(UINT64 *rsdp_phys, UINT32 *acpi_revision)
{
	*rsdp_phys = 0;
	*acpi_revision = 0;
	for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];

		if (CompareGuid(&t->VendorGuid, &acpi20_guid) == 0) {
			*rsdp_phys = (UINT64)(UINTN)t->VendorTable;
			*acpi_revision = 2;
			return;
		}
		if (*acpi_revision == 0 && CompareGuid(&t->VendorGuid, &acpi10_guid) == 0) {
			*rsdp_phys = (UINT64)(UINTN)t->VendorTable;
			*acpi_revision = 1;
		}
	}
	if (*acpi_revision == 0)
		Print(LOADER_TAG L"no ACPI RSDP in the firmware configuration table.\n");
}

/* The firmware's vendor string (ASCII, other characters as '?', cut to fit) and revisions. */
void platform_firmware_info(char vendor[BOOTINFO_FW_VENDOR_MAX], UINT32 *fw_revision, UINT32 *uefi_revision)
{
	UINTN i = 0;

	if (ST->FirmwareVendor)
		for (; i < BOOTINFO_FW_VENDOR_MAX - 1 && ST->FirmwareVendor[i]; i++) {
			CHAR16 c = ST->FirmwareVendor[i];
			vendor[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
	vendor[i] = '\0';
	*fw_revision = ST->FirmwareRevision;
	*uefi_revision = ST->Hdr.Revision;
}

/* The CPUID leaf `leaf` (subleaf 0) into r[0..3] = EAX, EBX, ECX, EDX. */
static void platform_cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* RDMSR of msr (physwidth_read reads only AMD's SYSCFG and SEV_STATUS and Intel's IA32_TME_ACTIVATE,
 * each where CPUID says it exists). */
static uint64_t platform_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* The CPU's usable physical address width, by the kernel's rule (include/physwidth.h: CPUID
 * 0x80000008, less the bits memory encryption takes when on), kept in 32..52. */
UINT32 platform_phys_addr_bits(void)
{
	return physwidth_usable(physwidth_read(platform_cpuid, platform_rdmsr).bits);
}

/*
 * Says on the console what memory encryption takes from the physical width when it takes any, and
 * refuses an AMD SEV guest (SEV, SEV-ES or SEV-SNP: SEV_STATUS bit 0, include/physwidth.h) with
 * EFI_UNSUPPORTED and what to do; EFI_SUCCESS otherwise. The project's choice: the kernel cannot run
 * encrypted. Its page tables (the loader's and its own) carry no C-bit, so every data access is a
 * shared one, and the kernel's image, the boot information and the memory map, written by the
 * firmware and the loader through private (encrypted) mappings, would read as ciphertext (only
 * instruction fetches and page-table walks are always private: AMD APM Vol. 2, "SEV Encryption
 * Behavior"); under SEV-ES and SEV-SNP its first CPUID is a #VC it has no handler for. Refused here,
 * before anything is allocated, while the firmware's console still shows the message.
 */
EFI_STATUS platform_check_memory_encryption(void)
{
	struct physwidth w = physwidth_read(platform_cpuid, platform_rdmsr);

	if (w.encrypt != PHYSWIDTH_ENCRYPT_NONE)
		Print(LOADER_TAG L"memory encryption (%a) takes the top %u address bits: physical\n"
		      L"        width %u bits of CPUID's %u.\n", physwidth_encrypt_name(w.encrypt), w.encrypt_bits, w.bits,
		      w.cpu_bits);
	if (!physwidth_is_sev(w.encrypt))
		return EFI_SUCCESS;
	Print(LOADER_TAG L"this is an AMD %a guest (SEV_STATUS %lx, C-bit %u):\n"
	      L"        its memory is encrypted, and this kernel cannot run encrypted: it sets\n"
	      L"        no C-bit in its page tables%a.\n"
	      L"        What to do: start the virtual machine without memory encryption (QEMU:\n"
	      L"        no sev-guest or sev-snp-guest object).\n",
	      physwidth_encrypt_name(w.encrypt), w.sev_status, w.cbit,
	      w.encrypt == PHYSWIDTH_ENCRYPT_AMD_SEV ? "" : " and has no #VC handler");
	return EFI_UNSUPPORTED;
}
