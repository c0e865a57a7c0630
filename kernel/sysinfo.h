/*
 * sysinfo_: the facts the summary screen shows about the machine, gathered after the suite: CPU
 * (CPUID vendor and brand), CPUs started and found (ACPI MADT), RAM (memory map and physical allocator),
 * firmware (vendor and revisions from the loader), framebuffer mode, and boot times from the TSC.
 */
#ifndef SYSINFO_H
#define SYSINFO_H

#include "types.h"
#include "acpi.h"

struct sysinfo {
	const char *cpu_vendor, *cpu_brand;
	bool cpu_nx, cpu_pat;            /* features whose absence the screen names */
	int madt_status;                 /* acpi_ status of the MADT read */
	size_t cpus_usable, cpus_enabled, cpu_entries;
	unsigned cpus_started, cpus_found;  /* CPUs online / distinct CPUs the MADT lists as able to run */
	uint64_t ram_bytes;              /* RAM types in the memory map */
	uint64_t usable_bytes;           /* pages the physical allocator manages */
	const char *fw_vendor;
	uint32_t fw_revision, uefi_revision;
	uint32_t fb_width, fb_height, fb_pitch, fb_format;
	uint32_t fb_bpp;                 /* bits a pixel: 32 for RGBX/BGRX, a bitmask's highest mask bit in whole bytes */
	bool fb_drawn;                   /* the console draws on the screen (refused modes, mappings: serial only) */
	uint64_t tsc_hz;
	const char *tsc_source;
	uint64_t ms_since_reset;         /* TSC now / frequency: time since the CPU was reset */
	uint64_t ms_kernel;              /* since kmain started */
};

/* Calibrates the TSC (PIT, else the FADT's PM timer); once, after the memory manager is up. */
void sysinfo_init_clock(void);
/* Fills *si; madt receives the MADT's processors (NULL: not needed). */
void sysinfo_collect(struct sysinfo *si, struct acpi_madt_info *madt);
/* The kernel's access to ACPI tables: the direct map. Before the seal, read-only pages are added
 * for tables outside RAM the kernel maps (firmware-reserved memory); after it, a table with a page
 * the direct map lacks cannot be read (the map function returns NULL: ACPI_EUNMAPPED). */
const struct acpi_access *sysinfo_acpi(void);

/* The direct map's seal (sysinfo_acpi_premap) and what the premap did. */
struct sysinfo_dmap_seal {
	bool sealed;              /* set once, before mm_init; the direct map gains no page after it */
	int status;               /* acpi_map_all's: ACPI_OK, or why the RSDP or the root could not be read */
	uint32_t tables;          /* tables mapped whole (acpi_map_all_info.tables) */
	uint32_t skipped;         /* entries refused (acpi_map_all_info.skipped) */
	uint64_t pages;           /* pages added to the direct map for them, before the seal */
	uint64_t refused;         /* reads refused after the seal: a page the direct map lacks */
};

/* Boot, before mm_init (which asserts it): adds every page of every ACPI table to the direct map
 * (acpi_map_all; pages the memory map does not list, or lists as device memory, are refused), then
 * seals it: from here the kernel's ACPI access maps nothing new. One line on serial. */
void sysinfo_acpi_premap(void);
/* The seal's state and the premap's counts. */
const struct sysinfo_dmap_seal *sysinfo_dmap_seal(void);
/* The name of a bootinfo framebuffer format. */
const char *sysinfo_fb_format_name(uint32_t format);
struct bootinfo_fb;
/* Bits a pixel of fb's mode: 32 for RGBX and BGRX, a bitmask's highest mask bit rounded up to whole
 * bytes (UEFI), 0 for none. */
uint32_t sysinfo_fb_bpp(const struct bootinfo_fb *fb);

#endif
