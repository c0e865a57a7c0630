/*
 * Firmware facts handed to the kernel: the GOP framebuffer and the ACPI RSDP. Both are optional:
 * their absence is recorded in bootinfo, not treated as an error.
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
