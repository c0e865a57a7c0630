/*
 * Host test of the machine facts the summary screen shows (kernel/sysinfo.c, built here unchanged
 * with the ACPI reader and stand-ins for the TSC, the CPUs and the kernel's copies of the boot
 * information and memory map): facts a firmware hands over, read as they are.
 *
 *  - RAM in the memory map: generated maps (1 to 256 descriptors, any stride a multiple of 8 from
 *    the descriptor's size, every UEFI type and unknown ones): the bytes of every descriptor
 *    whose type is not reserved, MMIO, MMIO port or PAL code, summed by an independent oracle.
 *  - The framebuffer mode: width, height, pitch and format as the loader passed them, whatever
 *    they are (the screen's row names the mode, usable or not), and every format's name ("none"
 *    for 0 and for values no format has).
 *  - Firmware vendor and CPU brand: an empty one is named "(unnamed)", "(no brand string)".
 *  - No RSDP: the MADT status is an error and no CPU count is taken from it.
 */
#include <stdint.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/sysinfo.c"

/* Stand-ins for what sysinfo.c reads of the rest of the kernel. */
#include "sysinfo_standins.h"
bool fbcon_active(void) { return false; }   /* no console here: sysinfo only reports it */

#define MAP_MAX 256
#define STRIDE_MAX 96
static uint8_t test_map[MAP_MAX * STRIDE_MAX] __attribute__((aligned(16)));
static size_t test_map_size, test_desc_size;

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = test_map_size;
	*desc_size = test_desc_size;
	return test_map;
}

static uint64_t rng = 0xBB67AE8584CAA73BULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* True for the types README's "RAM in the memory map" counts (everything but reserved, MMIO, MMIO
 * port and PAL code), written as a list rather than as sysinfo.c's test. */
static bool counts_as_ram(uint32_t type)
{
	static const uint32_t not_ram[] = { 0, 11, 12, 13 };
	for (size_t i = 0; i < sizeof(not_ram) / sizeof(not_ram[0]); i++)
		if (type == not_ram[i])
			return false;
	return true;
}

/* Writes descriptor i of the test map. */
static void put_desc(size_t i, uint32_t type, uint64_t start, uint64_t pages)
{
	struct efi_memory_descriptor d = { .type = type, .phys_start = start, .num_pages = pages, .attribute = 0xF };
	memcpy(test_map + i * test_desc_size, &d, sizeof(d));
}

/* Generated maps of sane sizes (each under 2^40 pages, 256 of them under 2^64 bytes): the RAM figure
 * is the oracle's sum. */
static void test_ram_bytes(void)
{
	int bad = 0, runs = 0;
	struct sysinfo si;

	for (int n = 0; n < 3000; n++) {
		size_t count = draw(MAP_MAX + 1);
		test_desc_size = sizeof(struct efi_memory_descriptor) + 8 * draw((STRIDE_MAX - sizeof(struct efi_memory_descriptor)) / 8 + 1);
		test_map_size = count * test_desc_size + (draw(4) ? 0 : draw(test_desc_size));   /* a partial tail is no descriptor */
		memset(test_map, 0xEE, sizeof(test_map));
		uint64_t want = 0, start = 0;
		for (size_t i = 0; i < count; i++) {
			uint32_t type = (uint32_t)(draw(4) ? draw(16) : draw(1u << 31));
			uint64_t pages = draw(4) ? draw(1 << 20) : draw(1ULL << 40);
			put_desc(i, type, start, pages);
			start += pages << 12;
			if (counts_as_ram(type))
				want += pages * 4096;
		}
		runs++;
		sysinfo_collect(&si, NULL);
		if (si.ram_bytes != want && bad++ < 5)
			printf("#   %zu descriptors of %zu bytes: %llu bytes of RAM, want %llu\n", count, test_desc_size,
			       (unsigned long long)si.ram_bytes, (unsigned long long)want);
	}
	is(bad, 0, "%d generated memory maps (strides, partial tails, every type and unknown ones): RAM is the sum of "
	   "the RAM types' pages", runs);

	test_desc_size = 0;
	test_map_size = 4096;
	sysinfo_collect(&si, NULL);
	is(si.ram_bytes, 0, "a descriptor size of 0 counts no RAM (and does not divide by it)");
}

/* The mode as the loader passed it, any geometry; each format's name. */
static void test_framebuffer_facts(void)
{
	int bad = 0;
	struct sysinfo si;

	test_map_size = 0, test_desc_size = sizeof(struct efi_memory_descriptor);
	for (int n = 0; n < 2000; n++) {
		kernel_bootinfo.fb = (struct bootinfo_fb){ .base = test_rng_next(&rng), .size = test_rng_next(&rng),
			.width = (uint32_t)test_rng_next(&rng), .height = (uint32_t)test_rng_next(&rng),
			.pitch = (uint32_t)test_rng_next(&rng), .format = (uint32_t)draw(6) };
		sysinfo_collect(&si, NULL);
		if ((si.fb_width != kernel_bootinfo.fb.width || si.fb_height != kernel_bootinfo.fb.height ||
		     si.fb_pitch != kernel_bootinfo.fb.pitch || si.fb_format != kernel_bootinfo.fb.format) && bad++ < 5)
			printf("#   mode %ux%u pitch %u format %u read as %ux%u pitch %u format %u\n", kernel_bootinfo.fb.width,
			       kernel_bootinfo.fb.height, kernel_bootinfo.fb.pitch, kernel_bootinfo.fb.format, si.fb_width,
			       si.fb_height, si.fb_pitch, si.fb_format);
	}
	is(bad, 0, "2000 generated modes: width, height, pitch and format read as the loader passed them");
	ok(!strcmp(sysinfo_fb_format_name(BOOTINFO_FB_RGBX), "RGBX") && !strcmp(sysinfo_fb_format_name(BOOTINFO_FB_BGRX), "BGRX") &&
	   !strcmp(sysinfo_fb_format_name(BOOTINFO_FB_BITMASK), "bitmask"), "RGBX, BGRX and bitmask by their names");
	bad = 0;
	for (uint32_t f = 0; f < 5000; f++) {
		uint32_t format = f < 2500 ? f : (uint32_t)test_rng_next(&rng);
		if (format >= BOOTINFO_FB_RGBX && format <= BOOTINFO_FB_BITMASK)
			continue;
		bad += strcmp(sysinfo_fb_format_name(format), "none") != 0;
	}
	is(bad, 0, "format 0 and values no format has are named \"none\"");
}

/* Empty names from the firmware and the CPU, and no RSDP. */
static void test_missing_names(void)
{
	struct sysinfo si;

	memset(kernel_bootinfo.fw_vendor, 0, sizeof(kernel_bootinfo.fw_vendor));
	memset(cpu_feat.brand, 0, sizeof(cpu_feat.brand));
	kernel_bootinfo.rsdp_phys = 0;
	sysinfo_collect(&si, NULL);
	ok(!strcmp(si.fw_vendor, "(unnamed)"), "an empty firmware vendor is \"(unnamed)\"");
	ok(!strcmp(si.cpu_brand, "(no brand string)"), "an empty brand string is \"(no brand string)\"");
	ok(si.madt_status != 0 && si.cpus_usable == 0 && si.cpus_enabled == 0 && si.cpu_entries == 0,
	   "no RSDP: the MADT status is an error (%d) and no CPU count comes from it", si.madt_status);
	snprintf(kernel_bootinfo.fw_vendor, sizeof(kernel_bootinfo.fw_vendor), "EDK II");
	snprintf(cpu_feat.brand, sizeof(cpu_feat.brand), "QEMU Virtual CPU");
	sysinfo_collect(&si, NULL);
	ok(!strcmp(si.fw_vendor, "EDK II") && !strcmp(si.cpu_brand, "QEMU Virtual CPU"), "given names are shown as they are");
}

int main(void)
{
	test_ram_bytes();
	test_framebuffer_facts();
	test_missing_names();
	return tap_done();
}
