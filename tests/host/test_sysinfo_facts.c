/*
 * Host test of the machine facts the summary screen shows (kernel/sysinfo.c, built here unchanged
 * with the ACPI reader and stand-ins for the TSC, the CPUs and the kernel's copies of the boot
 * information and memory map): facts a firmware hands over, read as they are.
 *
 *  - RAM in the memory map: generated maps (1 to 256 descriptors, any stride a multiple of 8 from
 *    the descriptor's size, every UEFI type and unknown ones): the bytes of every descriptor
 *    whose type is not reserved, MMIO, MMIO port or PAL code, summed by an independent oracle.
 *    Overlapping descriptors (duplicates, one inside another, partial overlaps, in any order) count
 *    each byte once: against a per-page model on small maps and a sorted-interval model on maps
 *    anywhere below 2^64 (absurd NumberOfPages included, saturating at 2^64 - 1), and a map as
 *    large as the kernel's copy holds, out of order (before, every descriptor was added: overlaps
 *    showed more RAM than the machine has).
 *  - The framebuffer mode: width, height, pitch and format as the loader passed them, whatever
 *    they are (the screen's row names the mode, usable or not), and every format's name ("none"
 *    for 0 and for values no format has).
 *  - Firmware vendor and CPU brand: an empty one is named "(unnamed)", "(no brand string)".
 *  - No RSDP: the MADT status is an error and no CPU count is taken from it.
 */
#include <stdint.h>
#include <stdlib.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/sysinfo.c"

/* Stand-ins for what sysinfo.c reads of the rest of the kernel. */
#include "sysinfo_standins.h"
bool fbcon_active(void) { return false; }   /* no console here: sysinfo only reports it */

#define MAP_MAX 256
#define STRIDE_MAX 96
#define MAP_BYTES (64 * 1024)   /* the kernel's copy of the map (kernel/main.c's kernel_mmap) */
static uint8_t test_map[MAP_BYTES] __attribute__((aligned(16)));
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

/* ---------------------------------------------------------------- overlapping descriptors */

/* A RAM interval of the sorted-interval model: bytes [start, end), end in 128 bits. */
struct model_span {
	unsigned __int128 start, end;
};

static int model_span_cmp(const void *a, const void *b)
{
	const struct model_span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The sorted-interval model: the RAM descriptors of the test map as intervals, sorted by start and
 * merged; their total bytes, saturated at 2^64 - 1. */
static uint64_t model_union_bytes(void)
{
	static struct model_span spans[MAP_BYTES / sizeof(struct efi_memory_descriptor)];
	size_t n = 0;
	unsigned __int128 total = 0, cur_start = 0, cur_end = 0;

	for (size_t i = 0; i < test_map_size / test_desc_size; i++) {
		struct efi_memory_descriptor d;
		memcpy(&d, test_map + i * test_desc_size, sizeof(d));
		if (counts_as_ram(d.type) && d.num_pages)
			spans[n++] = (struct model_span){ d.phys_start, (unsigned __int128)d.phys_start + (unsigned __int128)d.num_pages * 4096 };
	}
	qsort(spans, n, sizeof(spans[0]), model_span_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || spans[i].start > cur_end) {
			total += cur_end - cur_start;
			cur_start = spans[i].start;
			cur_end = spans[i].end;
		} else if (spans[i].end > cur_end) {
			cur_end = spans[i].end;
		}
	}
	total += cur_end - cur_start;
	return total > UINT64_MAX ? UINT64_MAX : (uint64_t)total;
}

/* Shuffles descriptors [0, count) of the test map (Fisher-Yates). */
static void shuffle_map(size_t count)
{
	uint8_t tmp[STRIDE_MAX];

	for (size_t i = count; i > 1; i--) {
		size_t j = draw(i);
		memcpy(tmp, test_map + (i - 1) * test_desc_size, test_desc_size);
		memcpy(test_map + (i - 1) * test_desc_size, test_map + j * test_desc_size, test_desc_size);
		memcpy(test_map + j * test_desc_size, tmp, test_desc_size);
	}
}

/* Appends to a map of count descriptors one that overlaps an earlier one (its duplicate, one inside
 * it, one over its end or its start, or one covering it), of a RAM type or not; start and pages are
 * those of the earlier one's descriptor. */
static void put_overlap(size_t count, uint64_t start, uint64_t pages, uint64_t max_page)
{
	uint32_t type = (uint32_t)(draw(3) ? 7 : draw(16));
	uint64_t first = start / 4096, in = pages ? draw(pages) : 0;

	switch (draw(5)) {
	case 0: put_desc(count, type, start, pages); break;
	case 1: put_desc(count, type, start + in * 4096, draw(pages - in + 1)); break;
	case 2: put_desc(count, type, start + in * 4096, pages - in + 1 + draw(64)); break;
	case 3: {
		uint64_t back = draw(first + 1);
		put_desc(count, type, start - back * 4096, back + draw(pages + 1));
		break;
	}
	default: {
		uint64_t back = draw(first + 1);
		put_desc(count, type, start - back * 4096, back + pages + draw(max_page + 1));
		break;
	}
	}
}

/* Generated small maps (under 4096 pages of address space) against a per-page model: sorted and
 * disjoint, overlapping in order, or shuffled; descriptors overlapping earlier ones of every kind;
 * RAM overlapped by types that are not RAM. Each page of RAM counts once. */
static void test_ram_overlaps_per_page(void)
{
	static uint8_t page[1 << 17];   /* 256 descriptors of at most 200 pages, gaps and overlaps' reach */
	int bad = 0, runs = 3000, shuffled = 0, overlapped = 0;
	struct sysinfo si;

	for (int r = 0; r < runs; r++) {
		size_t count = 1 + draw(MAP_MAX);
		unsigned order = (unsigned)draw(3);   /* 0 sorted and disjoint, 1 in order with overlaps, 2 shuffled */
		uint64_t next = 0, last_start = 0, last_pages = 0;
		test_desc_size = sizeof(struct efi_memory_descriptor) + 8 * draw(4);
		memset(test_map, 0xEE, sizeof(test_map));
		for (size_t i = 0; i < count; i++) {
			struct efi_memory_descriptor prev;
			if (i && order && draw(3) == 0) {
				memcpy(&prev, test_map + draw(i) * test_desc_size, sizeof(prev));
				put_overlap(i, prev.phys_start, prev.num_pages, 32);
				continue;
			}
			uint64_t pages = draw(4) ? draw(24) : draw(200);
			/* in order with overlaps: now and then a start inside the descriptor before (or at its start) */
			uint64_t start = order == 1 && i && draw(2) ? last_start + draw(last_pages + 1) * 4096 : next;
			put_desc(i, (uint32_t)(draw(4) ? 7 : draw(16)), start, pages);
			last_start = start;
			last_pages = pages;
			next = MAX(next, start + pages * 4096) + (draw(2) ? 0 : draw(8) * 4096);
		}
		if (order == 2)
			shuffle_map(count);
		test_map_size = count * test_desc_size;

		memset(page, 0, sizeof(page));
		size_t overlaps = 0;
		for (size_t i = 0; i < count; i++) {
			struct efi_memory_descriptor d;
			memcpy(&d, test_map + i * test_desc_size, sizeof(d));
			if (d.phys_start / 4096 + d.num_pages > sizeof(page)) {
				printf("Bail out! a generated descriptor past the model's pages\n");
				exit(1);
			}
			for (uint64_t p = 0; counts_as_ram(d.type) && p < d.num_pages; p++)
				overlaps += page[d.phys_start / 4096 + p]++ != 0;
		}
		uint64_t want = 0;
		for (size_t p = 0; p < sizeof(page); p++)
			want += page[p] ? 4096 : 0;
		shuffled += order == 2;
		overlapped += overlaps != 0;
		sysinfo_collect(&si, NULL);
		if (si.ram_bytes != want && bad++ < 5)
			printf("#   %zu descriptors (order %u, %zu pages claimed twice or more): %llu bytes of RAM, want %llu\n",
			       count, order, overlaps, (unsigned long long)si.ram_bytes, (unsigned long long)want);
	}
	ok(bad == 0 && overlapped > runs / 2 && shuffled > runs / 4, "%d generated maps (%d with RAM pages claimed twice "
	   "or more, %d out of order): each page of RAM counted once, against a per-page model (%d wrong)", runs,
	   overlapped, shuffled, bad);
}

/* Generated maps anywhere below 2^64, overlapping as above, some out of order, now and then an
 * absurd NumberOfPages (2^52 pages and more: 2^64 bytes or more): the union of the RAM descriptors'
 * bytes by the sorted-interval model, saturating at 2^64 - 1 as before. */
static void test_ram_overlaps_sorted_model(void)
{
	int bad = 0, runs = 3000, saturated = 0;
	struct sysinfo si;

	for (int r = 0; r < runs; r++) {
		size_t count = 1 + draw(MAP_MAX);
		bool sorted = draw(2), absurd = draw(8) == 0;   /* absurd: NumberOfPages of 2^52 and more now and then */
		uint64_t next = draw(1ULL << 50) * 4096;
		test_desc_size = sizeof(struct efi_memory_descriptor) + 8 * draw(4);
		for (size_t i = 0; i < count; i++) {
			struct efi_memory_descriptor prev;
			if (i && draw(3) == 0) {
				memcpy(&prev, test_map + draw(i) * test_desc_size, sizeof(prev));
				put_overlap(i, prev.phys_start, prev.num_pages < (1ULL << 50) ? prev.num_pages : 1ULL << 50,
					    1ULL << 30);
				continue;
			}
			uint64_t pages = absurd && draw(32) == 0 ? (1ULL << 52) + draw(1ULL << 62) :
					 draw(4) ? draw(1ULL << 20) : draw(1ULL << 40);
			uint64_t start = sorted ? next : draw(1ULL << 52) * 4096;
			put_desc(i, (uint32_t)(draw(4) ? 7 : draw(16)), start, pages);
			if (next + (pages << 12) < next || pages >= (1ULL << 40))
				next = draw(1ULL << 50) * 4096;   /* past 2^64: the next ones start over, out of order */
			else
				next += pages << 12;
		}
		if (!sorted)
			shuffle_map(count);
		test_map_size = count * test_desc_size;
		uint64_t want = model_union_bytes();
		saturated += want == UINT64_MAX;
		sysinfo_collect(&si, NULL);
		if (si.ram_bytes != want && bad++ < 5)
			printf("#   %zu descriptors (%s): %llu bytes of RAM, want %llu\n", count, sorted ? "in order" : "shuffled",
			       (unsigned long long)si.ram_bytes, (unsigned long long)want);
	}
	ok(bad == 0 && saturated > 0 && saturated < runs / 2, "%d generated maps below 2^64 with overlaps (%d saturated at "
	   "2^64 - 1): the union of the RAM descriptors, against a sorted-interval model (%d wrong)", runs, saturated, bad);
}

/* Edges: a descriptor of 2^52 - 1 pages is 2^64 - 4096 bytes, once however often it is listed; 2^52
 * pages and more saturate; a map as large as the kernel's copy (64 KiB of 40-byte descriptors),
 * reversed, each descriptor overlapping the next. */
static void test_ram_overlap_edges(void)
{
	struct sysinfo si;
	uint64_t most = (1ULL << 52) - 1;
	int bad = 0;

	test_desc_size = sizeof(struct efi_memory_descriptor);
	for (size_t copies = 1; copies <= 4; copies++) {
		for (size_t i = 0; i < copies; i++)
			put_desc(i, EFI_CONVENTIONAL, 0, most);
		test_map_size = copies * test_desc_size;
		sysinfo_collect(&si, NULL);
		bad += si.ram_bytes != most * 4096;
		put_desc(copies - 1, EFI_CONVENTIONAL, 0, most + 1 + draw(1ULL << 40));
		sysinfo_collect(&si, NULL);
		bad += si.ram_bytes != UINT64_MAX;
	}
	is(bad, 0, "2^52 - 1 pages listed 1 to 4 times count 2^64 - 4096 bytes once; 2^52 pages or more saturate");

	size_t n = MAP_BYTES / test_desc_size;
	for (size_t i = 0; i < n; i++)   /* descriptor i covers pages [2 (n - i), 2 (n - i) + 3) */
		put_desc(i, i % 5 == 4 ? EFI_RESERVED : EFI_CONVENTIONAL, 2 * (n - i) * 4096, 3);
	test_map_size = n * test_desc_size;
	uint64_t want = model_union_bytes();
	sysinfo_collect(&si, NULL);
	ok(si.ram_bytes == want, "%zu descriptors in reverse order, each overlapping the next: %llu bytes, want %llu", n,
	   (unsigned long long)si.ram_bytes, (unsigned long long)want);
	test_map_size = 0;
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
	test_ram_overlaps_per_page();
	test_ram_overlaps_sorted_model();
	test_ram_overlap_edges();
	test_framebuffer_facts();
	test_missing_names();
	return tap_done();
}
