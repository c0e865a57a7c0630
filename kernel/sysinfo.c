/* Machine facts for the summary screen (see sysinfo.h). */
#include "sysinfo.h"
#include "tsc.h"
#include "cpu.h"
#include "kernel.h"
#include "vm.h"
#include "vmlayout.h"
#include "phys.h"
#include "efi_mmap.h"
#include "bootinfo.h"
#include "fbcon.h"
#include "kprintf.h"
#include "smp.h"
#include "arch_mm.h"

/* The end of descriptor d's bytes, saturating at 2^64 - 1 (a firmware's absurd NumberOfPages). */
static uint64_t sysinfo_desc_end(const struct efi_memory_descriptor *d)
{
	uint64_t ds = d->phys_start;

	return d->num_pages > (UINT64_MAX - ds) / PAGE_SIZE ? UINT64_MAX : ds + d->num_pages * PAGE_SIZE;
}

/* True for the types of device memory: MMIO and MMIO port space. */
static bool sysinfo_type_is_mmio(uint32_t type)
{
	return type == EFI_MMIO || type == EFI_MMIO_PORT;
}

/* True when the memory map lists any page of [pa, end) as device memory (MMIO or MMIO port space):
 * a table there is a firmware bug or a hostile table, and the page is never mapped write-back. */
static bool sysinfo_range_is_mmio(uint64_t pa, uint64_t end)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	for (size_t i = 0; map && dsz && i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (sysinfo_type_is_mmio(d->type) && d->phys_start < end && pa < sysinfo_desc_end(d))
			return true;
	}
	return false;
}

/*
 * The BIOS read-only area, [0xE0000, 0x100000): where an IA-PC firmware keeps the RSDP (ACPI 6.5,
 * 5.2.5.1). UEFI firmware that also builds its tables for a legacy boot (AMI's, commonly) hands over
 * a configuration-table RSDP there while its memory map leaves the first megabyte's top out, so the
 * premap takes a page of this area as listed memory unless a descriptor names it device memory.
 */
#define SYSINFO_BIOS_AREA_START 0xE0000u
#define SYSINFO_BIOS_AREA_END   0x100000u

/* True when a descriptor of a type other than device memory covers the page at p, or p lies in the
 * BIOS read-only area (a page there that device memory lists is refused by sysinfo_acpi_map). */
static bool sysinfo_page_listed(uint64_t p)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	if (p >= SYSINFO_BIOS_AREA_START && p < SYSINFO_BIOS_AREA_END)
		return true;
	for (size_t i = 0; map && dsz && i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (!sysinfo_type_is_mmio(d->type) && d->phys_start <= p && p < sysinfo_desc_end(d))
			return true;
	}
	return false;
}

/*
 * True when a descriptor other than device memory lists every page of [first, end) (page-aligned,
 * first < end), the BIOS read-only area counting as listed (sysinfo_page_listed): the premap adds no
 * other page to the direct map [ours]. A page no descriptor lists (a hole) is refused like device
 * memory: what answers there is the chipset's choice (a PCI window, often), and a write-back mapping
 * of a device's page is the alias the seal exists to prevent. Tables lie in ACPI reclaim or NVS
 * memory, or in reserved memory the map lists. (A page that a device descriptor lists too is refused
 * by sysinfo_acpi_map, which the premap calls next.)
 */
static bool sysinfo_range_listed(uint64_t first, uint64_t end)
{
	for (uint64_t p = first; p < end; p += PAGE_SIZE)
		if (!sysinfo_page_listed(p))
			return false;
	return true;
}

/* The direct map's seal and what the premap did (sysinfo_acpi_premap). */
static struct sysinfo_dmap_seal sysinfo_seal;

/*
 * acpi_map_fn over the direct map: NULL past the direct map, or when the memory map names a page
 * of the range device memory (a table can't lie there; mapping it write-back would, for the local
 * APIC's page, make apic_init_boot refuse the APIC). Before the seal, pages of [pa, pa + len) that
 * are not mapped yet (ACPI tables in firmware-reserved memory) are added read-only and
 * non-executable, write-back; the kernel's only caller then is the premap. After the seal nothing
 * is added: a range with a page the direct map lacks is refused (NULL) and counted, since a page
 * added now could already be mapped uncached through the reserved-mapping API (a cache alias).
 */
static const void *sysinfo_acpi_map(void *ctx, uint64_t pa, size_t len)
{
	(void)ctx;
	if (range_overflows(pa, len) || pa > DMAP_SIZE || len > DMAP_SIZE - pa)   /* pa + len may be 2^64 */
		return NULL;
	uint64_t first = ALIGN_DOWN(pa, PAGE_SIZE), end = ALIGN_UP(pa + len, PAGE_SIZE);
	if (sysinfo_range_is_mmio(first, end > first ? end : first + PAGE_SIZE))
		return NULL;
	for (uint64_t p = first; p < pa + len; p += PAGE_SIZE) {
		if (pt_query(&kernel_pt, DMAP_BASE + p, NULL, NULL, NULL))
			continue;
		if (__atomic_load_n(&sysinfo_seal.sealed, __ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&sysinfo_seal.refused, 1, __ATOMIC_RELAXED);
			return NULL;
		}
		if (pt_map(&kernel_pt, DMAP_BASE + p, p, PAGE_SIZE, 0, PT_SIZE_4K) != PT_OK)
			return NULL;
		sysinfo_seal.pages++;
	}
	return (const void *)(DMAP_BASE + pa);
}

/* acpi_map_fn of the premap: sysinfo_acpi_map (which refuses device memory) for a range whose every
 * page the memory map lists as memory (sysinfo_range_listed), checked before any page is added;
 * NULL otherwise. */
static const void *sysinfo_premap_map(void *ctx, uint64_t pa, size_t len)
{
	if (!len || range_overflows(pa, len) || pa > DMAP_SIZE || len > DMAP_SIZE - pa)
		return NULL;
	if (!sysinfo_range_listed(ALIGN_DOWN(pa, PAGE_SIZE), ALIGN_UP(pa + len, PAGE_SIZE)))
		return NULL;
	return sysinfo_acpi_map(ctx, pa, len);
}

static const struct acpi_access sysinfo_acpi_access = { sysinfo_acpi_map, NULL };
static const struct acpi_access sysinfo_premap_access = { sysinfo_premap_map, NULL };

/* Maps every ACPI table through acc (acpi_map_all), seals the direct map and says so on serial.
 * acc is the premap's access; a host test passes one that reads its fake memory after it. */
static void sysinfo_premap_with(const struct acpi_access *acc)
{
	struct acpi_map_all_info info;
	int st = acpi_map_all(acc, kernel_bootinfo.rsdp_phys, &info);

	sysinfo_seal.status = st;
	sysinfo_seal.tables = info.tables;
	sysinfo_seal.skipped = info.skipped;
	__atomic_store_n(&sysinfo_seal.sealed, true, __ATOMIC_RELEASE);
	char budget[96] = "";

	if (info.over_budget)
		ksnprintf(budget, sizeof(budget), " (%u of them unread: past the %u MiB the walk reads)", info.over_budget,
			  ACPI_MAP_ALL_BUDGET >> 20);
	kprintf("acpi: %u tables premapped, %llu pages added to the direct map, %u entries refused%s%s%s; "
		"direct map sealed\n", info.tables, (unsigned long long)sysinfo_seal.pages, info.skipped, budget,
		st ? "; root: " : "", st ? acpi_strerror(st) : "");
}

void sysinfo_acpi_premap(void)
{
	sysinfo_premap_with(&sysinfo_premap_access);
}

const struct sysinfo_dmap_seal *sysinfo_dmap_seal(void)
{
	return &sysinfo_seal;
}

const struct acpi_access *sysinfo_acpi(void)
{
	return &sysinfo_acpi_access;
}

#define SYSINFO_HPET_BLOCK 0x400u   /* the event timer block's registers: 1 KiB (HPET spec. 1.0a, 2.3) */

static bool sysinfo_ram_span(const void *map, size_t dsz, size_t i, uint64_t *start, unsigned __int128 *end);

/* True when a RAM-like descriptor of the memory map (sysinfo_ram_span) covers any byte of [pa, end). */
static bool sysinfo_range_is_ram(uint64_t pa, uint64_t end)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	unsigned __int128 de;
	uint64_t ds;

	for (size_t i = 0; map && dsz && i < size / dsz; i++)
		if (sysinfo_ram_span(map, dsz, i, &ds, &de) && ds < end && pa < de)
			return true;
	return false;
}

/*
 * Why the HPET's register block at base may not be mapped uncached at HPET_VA, or NULL when it may:
 * a block that crosses a page, lies past the CPU's physical address width or in RAM the memory map
 * lists, or whose page the direct map holds (write-back: a page the premap added for a table there,
 * from a buggy or hostile table), which an uncached mapping would alias.
 */
static const char *sysinfo_hpet_refusal(uint64_t base)
{
	uint64_t page = ALIGN_DOWN(base, PAGE_SIZE), width = arch_phys_addr_bits();   /* 32..52 */

	if (base - page > PAGE_SIZE - SYSINFO_HPET_BLOCK)
		return "register block crosses a page";
	if (width >= 64 || (base + SYSINFO_HPET_BLOCK - 1) >> width)
		return "address past the CPU's physical width";
	if (sysinfo_range_is_ram(page, page + PAGE_SIZE))
		return "address in RAM";
	if (page < DMAP_SIZE && pt_query(&kernel_pt, DMAP_BASE + page, NULL, NULL, NULL))
		return "page in the direct map (write-back, an ACPI table's page)";
	return NULL;
}

/* The HPET's registers mapped uncached and non-executable at HPET_VA (never through the direct
 * map), or NULL with *why saying why not: no usable HPET table, a block sysinfo_hpet_refusal
 * refuses, or a failed mapping. */
static volatile void *sysinfo_map_hpet(const char **why)
{
	struct acpi_hpet_info h;
	int st = acpi_read_hpet(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &h);
	uint64_t page = ALIGN_DOWN(h.base, PAGE_SIZE);

	if (st) {
		*why = acpi_strerror(st);
		return NULL;
	}
	if ((*why = sysinfo_hpet_refusal(h.base)))
		return NULL;
	if (!pt_query(&kernel_pt, HPET_VA, NULL, NULL, NULL) &&
	    pt_map(&kernel_pt, HPET_VA, page, PAGE_SIZE, PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(PT_CACHE_UC),
		   PT_SIZE_4K) != PT_OK) {
		*why = "mapping failed";
		return NULL;
	}
	*why = "present";
	return (volatile void *)(HPET_VA + (h.base - page));
}

void sysinfo_init_clock(void)
{
	struct acpi_pm_timer pm = { 0 };
	int st = acpi_read_pm_timer(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &pm);
	const char *hpet_why;
	uint64_t hz;

	tsc_set_hpet(sysinfo_map_hpet(&hpet_why));
	hz = tsc_calibrate(pm.port, pm.bits32);
	kprintf("tsc: %llu.%03llu MHz, calibrated with the %s (ACPI PM timer: %s, port 0x%x; HPET: %s)\n",
		(unsigned long long)(hz / 1000000), (unsigned long long)(hz / 1000 % 1000), tsc_source(),
		st ? acpi_strerror(st) : "present", pm.port, hpet_why);
	uint64_t pit = tsc_pit_rejected();
	if (pit)
		kprintf("tsc: NOTE: the PIT measured %llu.%03llu MHz, more than 2%% off; the %s's figure is used (the CPU "
			"was held up as it polled the PIT: an SMI, or an emulator's busy host)\n",
			(unsigned long long)(pit / 1000000), (unsigned long long)(pit / 1000 % 1000), tsc_source());
}

uint32_t sysinfo_fb_bpp(const struct bootinfo_fb *fb)
{
	if (fb->format == BOOTINFO_FB_RGBX || fb->format == BOOTINFO_FB_BGRX)
		return 32;
	uint32_t m = fb->mask_red | fb->mask_green | fb->mask_blue | fb->mask_reserved;
	if (fb->format != BOOTINFO_FB_BITMASK || m == 0)
		return 0;
	return (uint32_t)ALIGN_UP(32u - (uint32_t)__builtin_clz(m), 8u);
}

const char *sysinfo_fb_format_name(uint32_t format)
{
	switch (format) {
	case BOOTINFO_FB_RGBX: return "RGBX";
	case BOOTINFO_FB_BGRX: return "BGRX";
	case BOOTINFO_FB_BITMASK: return "bitmask";
	default: return "none";
	}
}

/* Byte addresses in 128 bits: a descriptor's start plus an absurd NumberOfPages passes 2^64. */
typedef unsigned __int128 sysinfo_addr;

/* True when descriptor i of map is RAM-like (everything but reserved, MMIO, MMIO port and PAL
 * code), with its bytes [*start, *end). */
static bool sysinfo_ram_span(const void *map, size_t dsz, size_t i, uint64_t *start, sysinfo_addr *end)
{
	const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);

	if (d->type == EFI_RESERVED || d->type == EFI_MMIO || d->type == EFI_MMIO_PORT || d->type == EFI_PAL_CODE)
		return false;
	*start = d->phys_start;
	*end = (sysinfo_addr)d->phys_start + ((sysinfo_addr)d->num_pages << PAGE_SHIFT);
	return true;
}

/* Bytes of [start, end) not below reach, where reach is the highest end of the spans before it in
 * ascending start order: their union meets [start, +inf) in [start, reach) alone, as none starts later. */
static sysinfo_addr sysinfo_span_new_bytes(uint64_t start, sysinfo_addr end, sysinfo_addr reach)
{
	sysinfo_addr from = reach > start ? reach : start;

	return end > from ? end - from : 0;
}

/* The union's bytes of the RAM spans of a map whose spans come in ascending start order (the usual
 * map, overlapping or not), in one pass; false when one starts below the span before it. */
static bool sysinfo_ram_sorted(const void *map, size_t dsz, size_t n, sysinfo_addr *bytes)
{
	sysinfo_addr total = 0, reach = 0, end;
	uint64_t start, last = 0;

	for (size_t i = 0; i < n; i++) {
		if (!sysinfo_ram_span(map, dsz, i, &start, &end))
			continue;
		if (start < last)
			return false;
		last = start;
		total += sysinfo_span_new_bytes(start, end, reach);
		reach = end > reach ? end : reach;
	}
	*bytes = total;
	return true;
}

/* The union's bytes of the RAM spans of any map, without allocating: each span adds what lies past
 * the highest end of the spans before it in (start, index) order, found by a pass over the map.
 * O(n^2) descriptor reads, for a map out of order (the map has at most a few thousand descriptors). */
static sysinfo_addr sysinfo_ram_unsorted(const void *map, size_t dsz, size_t n)
{
	sysinfo_addr total = 0, end, end_j;
	uint64_t start, start_j;

	for (size_t i = 0; i < n; i++) {
		if (!sysinfo_ram_span(map, dsz, i, &start, &end))
			continue;
		sysinfo_addr reach = 0;
		for (size_t j = 0; j < n; j++)
			if (sysinfo_ram_span(map, dsz, j, &start_j, &end_j) && (start_j < start || (start_j == start && j < i)) &&
			    end_j > reach)
				reach = end_j;
		total += sysinfo_span_new_bytes(start, end, reach);
	}
	return total;
}

/* Bytes of RAM-like types in the memory map, each byte once however many descriptors claim it (a
 * firmware's overlapping descriptors must not show more RAM than the machine has), saturating at
 * 2^64 - 1: a firmware's absurd NumberOfPages must not wrap the figure a person reads. */
static uint64_t sysinfo_ram_bytes(void)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	size_t n = dsz ? size / dsz : 0;
	sysinfo_addr bytes;

	if (!sysinfo_ram_sorted(map, dsz, n, &bytes))
		bytes = sysinfo_ram_unsorted(map, dsz, n);
	return bytes > UINT64_MAX ? UINT64_MAX : (uint64_t)bytes;
}

void sysinfo_collect(struct sysinfo *si, struct acpi_madt_info *madt)
{
	static struct acpi_madt_info scratch;
	struct phys_stats ps;
	uint64_t now = tsc_read();

	if (!madt)
		madt = &scratch;
	si->cpu_vendor = cpu_feat.vendor;
	si->cpu_brand = cpu_feat.brand[0] ? cpu_feat.brand : "(no brand string)";
	si->cpu_nx = cpu_feat.nx;
	si->cpu_pat = cpu_feat.pat;
	si->madt_status = acpi_read_madt(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, madt);
	si->cpus_usable = si->madt_status ? 0 : madt->usable;
	si->cpus_enabled = si->madt_status ? 0 : madt->enabled;
	si->cpu_entries = si->madt_status ? 0 : madt->entries;
	si->cpus_started = smp_cpu_count();
	si->cpus_found = smp_cpus_found();
	si->ram_bytes = sysinfo_ram_bytes();
	phys_get_stats(&ps);
	si->usable_bytes = ps.usable_pages << PAGE_SHIFT;
	si->fw_vendor = kernel_bootinfo.fw_vendor[0] ? kernel_bootinfo.fw_vendor : "(unnamed)";
	si->fw_revision = kernel_bootinfo.fw_revision;
	si->uefi_revision = kernel_bootinfo.uefi_revision;
	si->fb_width = kernel_bootinfo.fb.width;
	si->fb_height = kernel_bootinfo.fb.height;
	si->fb_pitch = kernel_bootinfo.fb.pitch;
	si->fb_format = kernel_bootinfo.fb.format;
	si->fb_bpp = sysinfo_fb_bpp(&kernel_bootinfo.fb);
	si->fb_drawn = fbcon_active();
	si->tsc_hz = tsc_hz();
	si->tsc_source = tsc_source();
	si->ms_since_reset = tsc_to_ms(now);
	si->ms_kernel = tsc_to_ms(now - tsc_at_kmain);
}
