/*
 * The hand-over between the UEFI loader (boot/) and the kernel: one versioned structure.
 *
 * State at kernel entry (the loader guarantees all of this):
 *  - long mode, interrupts disabled, CR3 = page tables the loader built in LoaderData pages:
 *    identity map and direct map (DMAP_BASE) of [0, bootinfo.map_top) with 2 MiB pages, and the
 *    kernel's PT_LOAD segments at their link addresses with 4 KiB pages;
 *  - CR4 is the firmware's with CET (bit 23) clear: no shadow stack, no IBT (the kernel's _start
 *    clears it too, for any other loader, and begins with ENDBR64);
 *  - RDI = physical address of this structure (LoaderData, identity mapped);
 *  - the kernel image lives in pages of type EFI_MEMORY_TYPE_KERNEL, contiguous from
 *    kernel_phys_base, kernel_phys_size bytes, mapped at kernel_virt_base;
 *  - everything the loader allocated other than the kernel image (this structure, the memory map
 *    copy, its page tables) is LoaderData and is the kernel's to reclaim once it stops using it.
 */
#ifndef BOOTINFO_H
#define BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_MAGIC   0x4f464e49544f4f42ULL /* "BOOTINFO" */
#define BOOTINFO_VERSION 2   /* 2: raw command-line bytes with length and flags; firmware vendor and revisions */

/*
 * The kernel's side of the hand-over, written into its ELF file: a note (in a PT_NOTE segment)
 * named BOOTINFO_NOTE_NAME, of type BOOTINFO_NOTE_TYPE, whose description is a struct
 * bootinfo_note with the version and size of the boot information the kernel takes (its
 * BOOTINFO_VERSION and sizeof(struct bootinfo)). The loader reads it from the file before
 * ExitBootServices (boot/elf_check.c) and refuses a kernel of another build on the firmware
 * console, where every PC shows text; the kernel's own check of magic, version and size at entry
 * (kernel/main.c) stays for a loader older than the note, and can only report on serial.
 */
#define BOOTINFO_NOTE_NAME "rmkernel"
#define BOOTINFO_NOTE_TYPE 1u   /* the boot-information contract: the only type under this name */
#define BOOTINFO_NOTE_NAME_PADDED ((sizeof(BOOTINFO_NOTE_NAME) + 3) & ~(sizeof(uint32_t) - 1))

/* A note's description; a longer one is accepted and its first 8 bytes read. */
struct bootinfo_note {
	uint32_t version;   /* BOOTINFO_VERSION the kernel was built with */
	uint32_t size;      /* sizeof(struct bootinfo) the kernel was built with */
};

/* OS-loader-reserved UEFI memory type the loader uses for the kernel image. */
#define EFI_MEMORY_TYPE_KERNEL 0x80000001u

#define BOOTINFO_CMDLINE_MAX 512
#define BOOTINFO_FW_VENDOR_MAX 64

/* cmdline_flags: \cmdline.txt held more than the BOOTINFO_CMDLINE_MAX - 1 bytes passed on. */
#define BOOTINFO_CMDLINE_CUT 0x1u
/*
 * cmdline_flags, meaningful with BOOTINFO_CMDLINE_CUT only: the first character not passed on is a
 * word separator, so the cut fell between words and the last word passed is whole. That character
 * is, for 8-bit text (ASCII, UTF-8 with or without its byte-order mark; a separator is one byte and
 * never part of a multi-byte UTF-8 sequence), the byte at index cmdline_len; for UTF-16 (the file
 * starts with FF FE or FE FF) the 2-byte code unit that byte belongs to: cmdline_len is odd, so the
 * unit's first byte is the last one passed, which the kernel drops as half a unit, and a byte-wise
 * test would be wrong (the high byte of every ASCII unit is 0, which reads as NUL). A loader
 * without this flag leaves it 0 and the kernel treats the last word as possibly cut, as before.
 */
#define BOOTINFO_CMDLINE_CUT_AT_SEP 0x2u
#define BOOTINFO_CMDLINE_UNIT16 2     /* bytes of a UTF-16 code unit */

/* True for the characters (a byte, or a UTF-16 unit's value) that separate command-line words:
 * NUL, tab, LF, VT, FF, CR and space (the grammar in kernel/cmdline.h). */
static inline int bootinfo_cmdline_is_sep(uint32_t ch)
{
	return ch == 0 || ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/*
 * The loader's cut of \cmdline.txt: buf holds the file's first `read` bytes (read <=
 * BOOTINFO_CMDLINE_MAX; read == BOOTINFO_CMDLINE_MAX means the file does not fit). Returns the
 * bytes to pass on (< BOOTINFO_CMDLINE_MAX) and sets *flags: 0 when the file fits, else
 * BOOTINFO_CMDLINE_CUT, with BOOTINFO_CMDLINE_CUT_AT_SEP when the first character not passed on
 * (defined above) is a separator.
 */
static inline uint32_t bootinfo_cmdline_cut(const uint8_t *buf, uint32_t read, uint32_t *flags)
{
	const uint32_t pass = BOOTINFO_CMDLINE_MAX - 1;
	const uint32_t unit = pass - pass % BOOTINFO_CMDLINE_UNIT16;   /* the UTF-16 unit holding byte `pass` */
	uint32_t next;

	*flags = 0;
	if (read <= pass)
		return read;
	*flags = BOOTINFO_CMDLINE_CUT;
	if (buf[0] == 0xFF && buf[1] == 0xFE)
		next = buf[unit] | (uint32_t)buf[unit + 1] << 8;
	else if (buf[0] == 0xFE && buf[1] == 0xFF)
		next = (uint32_t)buf[unit] << 8 | buf[unit + 1];
	else
		next = buf[pass];
	if (bootinfo_cmdline_is_sep(next))
		*flags |= BOOTINFO_CMDLINE_CUT_AT_SEP;
	return pass;
}

/*
 * The memory map the kernel takes, one definition for the loader and the kernel: the kernel copies
 * at most BOOTINFO_MMAP_MAX_BYTES of it into its own image (kernel/main.c, before any console
 * exists) and its physical allocator reads at most BOOTINFO_MMAP_MAX_DESCS descriptors
 * (PHYS_MAX_RANGES, mm/phys.h); descriptors lie a multiple of BOOTINFO_MMAP_DESC_ALIGN bytes
 * apart. The loader hands over no map beyond these (boot/handover.c): it merges neighbouring
 * descriptors first when that makes the map fit, and otherwise refuses it before
 * ExitBootServices, on screen. Plain ints: PHYS_MAX_RANGES is compared and printed as one.
 */
#define BOOTINFO_MMAP_MAX_BYTES  (64 * 1024)
#define BOOTINFO_MMAP_MAX_DESCS  2048
#define BOOTINFO_MMAP_DESC_ALIGN 8

/* Nonzero when a map of `bytes` bytes, descriptors desc_size bytes apart, is one the kernel takes
 * (as for bootinfo_fb_32bpp, int rather than bool). A stride below the descriptor's 40 bytes is the
 * caller's to refuse: this header does not know the descriptor's layout. */
static inline int bootinfo_mmap_fits(uint64_t bytes, uint64_t desc_size)
{
	return desc_size != 0 && desc_size % BOOTINFO_MMAP_DESC_ALIGN == 0 && bytes <= BOOTINFO_MMAP_MAX_BYTES &&
	       bytes / desc_size <= BOOTINFO_MMAP_MAX_DESCS;
}

enum bootinfo_fb_format {
	BOOTINFO_FB_NONE = 0,    /* no linear framebuffer (BltOnly or no GOP) */
	BOOTINFO_FB_RGBX = 1,    /* byte 0 red, 1 green, 2 blue */
	BOOTINFO_FB_BGRX = 2,    /* byte 0 blue, 1 green, 2 red */
	BOOTINFO_FB_BITMASK = 3, /* colour positions given by the masks */
};

struct bootinfo_fb {
	uint64_t base;           /* physical address */
	uint64_t size;           /* bytes as the firmware reports them (FrameBufferSize: may be 0 or short;
				  * map and draw bootinfo_fb_bytes) */
	uint32_t width, height;  /* visible pixels */
	uint32_t pitch;          /* pixels per scan line (>= width) */
	uint32_t format;         /* enum bootinfo_fb_format */
	uint32_t mask_red, mask_green, mask_blue, mask_reserved; /* BITMASK only */
};

#define BOOTINFO_FB_BYTES_PER_PIXEL 4   /* every format the kernel draws is 32 bits per pixel */
/* A bitmask pixel is as wide as its highest mask bit (UEFI): 32 bits needs one in the top byte. */
#define BOOTINFO_FB_BITMASK_32BPP_MIN 0x01000000u

/* Nonzero when fb's pixels are 32 bits: RGBX, BGRX, or a bitmask with a mask bit in the top byte
 * (int, not bool: the loader includes this header without stdbool.h). */
static inline int bootinfo_fb_32bpp(const struct bootinfo_fb *fb)
{
	if (fb->format == BOOTINFO_FB_BITMASK)
		return (fb->mask_red | fb->mask_green | fb->mask_blue | fb->mask_reserved) >= BOOTINFO_FB_BITMASK_32BPP_MIN;
	return fb->format == BOOTINFO_FB_RGBX || fb->format == BOOTINFO_FB_BGRX;
}

/*
 * The framebuffer's bytes to map and draw in: its visible rows, pitch x height pixels of
 * BOOTINFO_FB_BYTES_PER_PIXEL bytes, whatever FrameBufferSize says: some firmware reports 0 or a
 * short size while the mode's geometry is what the screen shows (Linux's efifb trusts the geometry
 * too), and a larger size (the whole video memory, or garbage) holds nothing the console draws, so
 * none of it is mapped. 0 when the mode is unusable: format NONE, pixels narrower than 32 bits (a
 * 16- or 24-bit bitmask mode: the kernel does not draw it, and pitch x height x 4 would map past
 * its end), width or height 0, pitch below the width, the product beyond 64 bits, or base + bytes
 * wrapping.
 */
static inline uint64_t bootinfo_fb_bytes(const struct bootinfo_fb *fb)
{
	uint64_t pixels = (uint64_t)fb->pitch * fb->height, need;

	if (!bootinfo_fb_32bpp(fb) || fb->width == 0 || fb->height == 0 || fb->pitch < fb->width ||
	    pixels > UINT64_MAX / BOOTINFO_FB_BYTES_PER_PIXEL)
		return 0;
	need = pixels * BOOTINFO_FB_BYTES_PER_PIXEL;
	return need <= UINT64_MAX - fb->base ? need : 0;
}

struct bootinfo {
	uint64_t magic;              /* BOOTINFO_MAGIC */
	uint32_t version;            /* BOOTINFO_VERSION */
	uint32_t size;               /* sizeof(struct bootinfo) as the loader built it */

	uint64_t mmap_phys;          /* copy of the final UEFI memory map (LoaderData) */
	uint64_t mmap_size;          /* bytes used */
	uint64_t mmap_desc_size;     /* stride between descriptors: always step by this */
	uint32_t mmap_desc_version;
	uint32_t reserved0;

	uint64_t kernel_phys_base;   /* physical address of the lowest PT_LOAD byte (page aligned) */
	uint64_t kernel_phys_size;   /* bytes, page multiple */
	uint64_t kernel_virt_base;   /* link address that kernel_phys_base is mapped at */

	uint64_t map_top;            /* loader tables map [0, map_top) identity and at DMAP_BASE */
	uint64_t loader_image_base;  /* where the firmware placed BOOTX64.EFI (information only) */
	uint64_t rsdp_phys;          /* ACPI RSDP or 0 */
	uint32_t acpi_revision;      /* 2 when found through the ACPI 2.0 table GUID, 1 for 1.0, 0 none */
	uint32_t reserved1;

	struct bootinfo_fb fb;
	char cmdline[BOOTINFO_CMDLINE_MAX]; /* \cmdline.txt's first bytes as they are, then a NUL */
	uint32_t cmdline_len;        /* bytes of cmdline from the file (NULs inside count), < BOOTINFO_CMDLINE_MAX */
	uint32_t cmdline_flags;      /* BOOTINFO_CMDLINE_CUT, BOOTINFO_CMDLINE_CUT_AT_SEP */

	/* Since version 2: the firmware, from the UEFI system table. */
	char fw_vendor[BOOTINFO_FW_VENDOR_MAX]; /* FirmwareVendor, non-ASCII as '?', NUL-terminated, may be empty */
	uint32_t fw_revision;        /* FirmwareRevision (vendor-defined) */
	uint32_t uefi_revision;      /* Hdr.Revision: major << 16 | minor (2.70 is 0x00020046) */
};

#endif
