/*
 * The ACPI reader as the kernel feeds it (kernel/sysinfo.c's
 * acpi_map_fn, built here unchanged on the fake machine's kernel_pt). The reader maps the header of
 * every XSDT/RSDT entry it walks (acpi_find_table: the FADT for the clock, the DMAR and the MADT
 * before smp_init), and sysinfo_acpi_map adds any page below DMAP_SIZE the direct map lacks, as
 * write-back, for good, until the direct map is sealed (these tests never seal it; the premap and
 * the seal are test_acpi_dmap_seal's). Before a fix, an entry (firmware bug or hostile table)
 * naming a device page mapped it write-back in the direct map: the local APIC's page (0xFEE00000),
 * after which apic_init_boot found it mapped and refused the APIC as "RAM the direct map covers"
 * (no other CPU started), or an IOAPIC or PCI BAR page, read with the reader's loads.
 *
 * test_acpi_map_device_pages: for device pages the memory map names
 * as MMIO (type 11: the local APIC's, the IOAPIC's, a PCI window's), asking the kernel's map
 * function for a table header there must return NULL and leave the page unmapped in kernel_pt.
 * Pages of a hole the map does not list are only counted (tables have been found in such). A page
 * of an ACPI reclaim or NVS descriptor (where tables live) is mapped and returned (passes).
 * test_acpi_map_mmio_edges: the pages just outside a device descriptor are not refused.
 * test_acpi_map_dmap_end: nothing past the direct map's end, nor a wrapping range, is mapped.
 * test_acpi_map_range_ending_at_2_64: a range ending exactly at 2^64 is refused (it once was not).
 */
#include <stdint.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/sysinfo.c"
#include "sysinfo_standins.h"
#include "fake_arch.h"
#include "machine.h"
#include "phys.h"

bool fbcon_active(void) { return false; }

#define MAP_N 6
static struct efi_memory_descriptor test_map[MAP_N];

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = sizeof(test_map);
	*desc_size = sizeof(test_map[0]);
	return test_map;
}

/* A firmware-like map: RAM, ACPI reclaim and NVS (the tables), and the MMIO of the IOAPIC, the
 * local APIC and a PCI window; 0xF0000000..0xFEC00000 is a hole the map does not list. */
static void make_map(void)
{
	static const struct { uint32_t type; uint64_t start, pages; } d[MAP_N] = {
		{ EFI_CONVENTIONAL, 0x100000, 0x3000 },
		{ EFI_ACPI_RECLAIM, 0x3F00000, 0x10 },
		{ EFI_ACPI_NVS, 0x3F10000, 0x10 },
		{ EFI_MMIO, 0xE0000000, 0x10000 },       /* a PCI window / ECAM */
		{ EFI_MMIO, 0xFEC00000, 1 },             /* IOAPIC */
		{ EFI_MMIO, 0xFEE00000, 1 },             /* local APIC */
	};
	for (int i = 0; i < MAP_N; i++)
		test_map[i] = (struct efi_memory_descriptor){ .type = d[i].type, .phys_start = d[i].start,
							      .num_pages = d[i].pages, .attribute = 0xF };
}

static void test_acpi_map_device_pages(void)
{
	const struct acpi_access *acc = sysinfo_acpi();
	uint64_t rng = 0xACB1D0C5ULL;
	/* Device pages: the local APIC's and the IOAPIC's, the PCI window's ends and seeded pages of it. */
	uint64_t dev[12] = { 0xFEE00000, 0xFEC00000, 0xE0000000, 0xEFFFF000 };
	unsigned bad = 0, n = 0, holes = 0;

	for (int i = 4; i < 12; i++)
		dev[i] = 0xE0000000 + (test_rng_next(&rng) % 0x10000) * 0x1000;
	for (int i = 0; i < 12; i++, n++) {
		uint64_t off = test_rng_next(&rng) % (0x1000 - 36);
		const void *p = acc->map(acc->ctx, dev[i] + off, 36);
		bool mapped = pt_query(&kernel_pt, DMAP_BASE + dev[i], NULL, NULL, NULL);
		if ((p || mapped) && bad++ < 3)
			printf("#   a table header at 0x%llx (%s): %s, kernel_pt %s DMAP_BASE + 0x%llx\n",
			       (unsigned long long)(dev[i] + off), i == 0 ? "the local APIC's page" :
			       i == 1 ? "the IOAPIC's page" : "the PCI window", p ? "returned" : "NULL",
			       mapped ? "maps" : "does not map", (unsigned long long)dev[i]);
	}
	ok(bad == 0, "test_acpi_map_device_pages: the kernel's ACPI map function refuses %u pages the memory map names "
	   "MMIO (the local APIC's among them) and leaves them out of the direct map (%u mapped or returned)", n, bad);
	/* Holes the map does not list: counted for the report only (firmware has put tables in such). */
	for (int i = 0; i < 8; i++) {
		uint64_t pa = 0xF0000000 + (test_rng_next(&rng) % 0xEC00) * 0x1000;
		holes += acc->map(acc->ctx, pa, 36) != NULL;
	}
	printf("# (pages of a hole the memory map does not list: %d of 8 mapped write-back)\n", holes);

	const void *t = acc->map(acc->ctx, 0x3F00000 + 0x40, 36);
	const void *v = acc->map(acc->ctx, 0x3F10000 + 0xFF0, 36);   /* crosses into the next NVS page */
	ok(t == (const void *)(DMAP_BASE + 0x3F00040) && v == (const void *)(DMAP_BASE + 0x3F10FF0) &&
	   pt_query(&kernel_pt, DMAP_BASE + 0x3F00000, NULL, NULL, NULL) &&
	   pt_query(&kernel_pt, DMAP_BASE + 0x3F11000, NULL, NULL, NULL),
	   "tables in ACPI reclaim and NVS pages are mapped and returned (a header across a page boundary too)");
}

/*
 * test_acpi_map_mmio_edges: the pages beside a device descriptor are not device memory. For each
 * MMIO descriptor [ds, de) of the map and lengths 1, 36 and a page: a range ending exactly at ds and
 * one starting at de or inside the page after it (holes here, which the function maps) are mapped
 * and returned; a range reaching one byte into [ds, de) from either side is refused; and the
 * descriptor's first and last pages never enter the direct map (only the pages of a range are).
 */
static void test_acpi_map_mmio_edges(void)
{
	const struct acpi_access *acc = sysinfo_acpi();
	static const size_t lens[] = { 1, 36, 0x1000 };
	unsigned n = 0, bad = 0;

	for (int i = 0; i < MAP_N; i++) {
		if (test_map[i].type != EFI_MMIO)
			continue;
		uint64_t ds = test_map[i].phys_start, de = ds + test_map[i].num_pages * 0x1000;
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			size_t len = lens[l];
			const struct { uint64_t pa; bool device; } cases[] = {
				{ ds - len, false }, { de, false }, { de + 0x1000 - len, false },
				{ ds - len + 1, true }, { de - 1, true },
			};
			for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++, n++) {
				const void *p = acc->map(acc->ctx, cases[c].pa, len);
				bool good = cases[c].device ? p == NULL : p == (const void *)(DMAP_BASE + cases[c].pa);
				bool dev_mapped = pt_query(&kernel_pt, DMAP_BASE + ds, NULL, NULL, NULL) ||
						  pt_query(&kernel_pt, DMAP_BASE + de - 0x1000, NULL, NULL, NULL);
				if ((!good || dev_mapped) && bad++ < 4)
					printf("#   %zu bytes at 0x%llx (MMIO [0x%llx, 0x%llx)): %s, want %s%s\n", len,
					       (unsigned long long)cases[c].pa, (unsigned long long)ds, (unsigned long long)de,
					       p ? "returned" : "NULL", cases[c].device ? "NULL" : "the direct map's address",
					       dev_mapped ? "; a device page is now in the direct map" : "");
			}
		}
	}
	ok(bad == 0, "test_acpi_map_mmio_edges: %u ranges beside or one byte into a device descriptor: those beside it "
	   "returned, those reaching into it refused, no device page mapped (%u wrong)", n, bad);
}

/*
 * test_acpi_map_dmap_end: the function maps nothing past the direct map's end (DMAP_SIZE) and no
 * range that wraps past 2^64: a range ending exactly at DMAP_SIZE is mapped and returned; one
 * ending a byte past it, starting at it, or wrapping is refused, and nothing past DMAP_SIZE enters
 * kernel_pt.
 */
static void test_acpi_map_dmap_end(void)
{
	const struct acpi_access *acc = sysinfo_acpi();
	static const size_t lens[] = { 1, 36, 0x1000, 0x2001 };
	unsigned n = 0, bad = 0;

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t len = lens[l];
		const struct { uint64_t pa; bool in; } cases[] = {
			{ DMAP_SIZE - len, true }, { DMAP_SIZE - len + 1, false }, { DMAP_SIZE, false },
			{ DMAP_SIZE + 0x1000 - 1, false }, { 0 - ((uint64_t)len + 1) / 2, false }, { UINT64_MAX - 1, false },
		};
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++, n++) {
			if (cases[c].pa + len == 0)   /* ends exactly at 2^64: test_acpi_map_range_ending_at_2_64 */
				continue;
			const void *p = acc->map(acc->ctx, cases[c].pa, len);
			bool good = cases[c].in ? p == (const void *)(DMAP_BASE + cases[c].pa) : p == NULL;
			bool past = pt_query(&kernel_pt, DMAP_BASE + DMAP_SIZE, NULL, NULL, NULL);
			if ((!good || past) && bad++ < 4)
				printf("#   %zu bytes at 0x%llx: %s, want %s%s\n", len, (unsigned long long)cases[c].pa,
				       p ? "returned" : "NULL", cases[c].in ? "the direct map's address" : "NULL",
				       past ? "; the page at DMAP_SIZE is now mapped" : "");
		}
	}
	ok(bad == 0, "test_acpi_map_dmap_end: %u ranges at the direct map's end and past 2^64: those ending by DMAP_SIZE "
	   "returned, the others refused, nothing past it mapped (%u wrong)", n, bad);
}

/*
 * test_acpi_map_range_ending_at_2_64: a range whose last byte is 2^64 - 1 lies past the direct
 * map and must be refused ("NULL past the direct map", sysinfo_acpi_map's contract). The range
 * does not wrap (range_overflows is false), and the bound once compared `pa + len`, wrapped to 0,
 * so the function mapped nothing and returned DMAP_BASE + pa, which wraps below the direct map to
 * a non-canonical address; the ACPI reader,
 * which hands such a range on (acpi.c refuses only address 0 and wrapping ranges), then reads there:
 * a root table entry of 2^64 - 36 would fault the kernel instead of being skipped.
 */
static void test_acpi_map_range_ending_at_2_64(void)
{
	const struct acpi_access *acc = sysinfo_acpi();
	static const size_t lens[] = { 1, 20, 36, 0x1000, 0x2001 };
	unsigned bad = 0;

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		uint64_t pa = 0 - (uint64_t)lens[l];
		const void *p = acc->map(acc->ctx, pa, lens[l]);
		if (p && bad++ < 5)
			printf("#   %zu bytes at 0x%llx (ending at 2^64): returned %p, want NULL\n", lens[l],
			       (unsigned long long)pa, p);
	}
	ok(bad == 0, "test_acpi_map_range_ending_at_2_64: ranges of 1 byte to 2 pages ending exactly at 2^64 refused "
	   "(%u returned)", bad);
}

int main(void)
{
	static struct machine_map ram;

	fake_arch_init();
	make_map();
	machine_map_init(&ram, 48);   /* the frames kernel_pt's tables come from */
	machine_map_add(&ram, EFI_CONVENTIONAL, 0x100000, 4096, 0);
	phys_init(ram.buf, machine_map_size(&ram), ram.desc_size);
	is(pt_create(&kernel_pt, PT_FEAT_ALL), PT_OK, "kernel_pt on the fake machine");
	test_acpi_map_device_pages();
	test_acpi_map_mmio_edges();
	test_acpi_map_dmap_end();
	test_acpi_map_range_ending_at_2_64();
	return tap_done();
}
