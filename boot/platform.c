/*
 * Firmware facts handed to the kernel: the GOP framebuffer, the ACPI RSDP, and the firmware's vendor
 * and revisions. All are optional: their absence is recorded in bootinfo, not treated as an error.
 */
#include "loader.h"

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

/* Describes the current GOP mode in *fb (already zeroed); format NONE without a linear framebuffer. */
void platform_find_framebuffer(struct bootinfo_fb *fb)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info;

	fb->format = BOOTINFO_FB_NONE;
	if (EFI_ERROR(BS->LocateProtocol(&GraphicsOutputProtocol, NULL, (VOID **)&gop)) ||
	    gop == NULL || gop->Mode == NULL || gop->Mode->Info == NULL) {
		Print(LOADER_TAG L"no graphics output (GOP); the kernel gets no framebuffer.\n");
		return;
	}
	info = gop->Mode->Info;
	switch (info->PixelFormat) {
	case PixelRedGreenBlueReserved8BitPerColor:
		fb->format = BOOTINFO_FB_RGBX;
		break;
	case PixelBlueGreenRedReserved8BitPerColor:
		fb->format = BOOTINFO_FB_BGRX;
		break;
	case PixelBitMask:
		fb->format = BOOTINFO_FB_BITMASK;
		fb->mask_red = info->PixelInformation.RedMask;
		fb->mask_green = info->PixelInformation.GreenMask;
		fb->mask_blue = info->PixelInformation.BlueMask;
		fb->mask_reserved = info->PixelInformation.ReservedMask;
		break;
	default:  /* PixelBltOnly: no linear framebuffer */
		Print(LOADER_TAG L"the display is Blt-only; the kernel gets no framebuffer.\n");
		return;
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
