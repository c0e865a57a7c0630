/*
 * The summary screen's picture of the system PTE region, drawn on the host over the hosted library
 * (make region-picture; not a test): the benchmark's standard workload (include/workload.h:
 * 1 GiB region, uniform 1..512 pages, 75 % target occupancy) through MmAllocateMappingAddress, once
 * with the exact sizes (the allocator) and once with every request rounded up to a power of two
 * (the "pow2" baseline of tests/bench/bench_buddy.c), drawn one above the other by the kernel's own
 * code (kernel/memview.c on kernel/fbcon.c, into a RAM framebuffer). After each workload the
 * requested pages of every live reservation are mapped, so "lighter" shows what was asked for and
 * the darker rest of a reservation is what rounding wasted.
 *
 *   build/host/region_picture OUT.ppm [steps]     (make region-picture converts it to PNG)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workload.h"
#include "wdm.h"
#include "host_machine.h"
#include "syspte.h"
#include "reserved.h"
#include "fbcon.h"
#include "memview.h"
#include "bootinfo.h"
#include "kprintf.h"

#define W 1280
#define H 720
#define REGION_BYTES (1ULL << 30)
#define RAM_BYTES (64ULL << 20)
#define MAX_SIZE 512
#define TARGET_PCT 75
#define TAG_SMALL 0x6c616d53u   /* 'Smal', as the kernel's showcase */
#define TAG_LARGE 0x6772614cu   /* 'Larg' */
#define LIVE_MAX 65536

static uint32_t fb[W * H];
static struct { char *va; uint32_t asked, got, tag; } live[LIVE_MAX];
static struct { MDL mdl; PFN_NUMBER pfn[MAX_SIZE]; } m;

/* Smallest power of two >= n. */
static uint64_t pow2_up(uint64_t n)
{
	uint64_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* Runs the workload (pow2: rounded sizes), maps the requested pages, draws the region in the box. */
static void run(bool pow2, long steps, unsigned y, unsigned h)
{
	struct wl_rng rng;
	uint64_t nlive = 0, pages = 0, asked = 0, allocs = 0, fails = 0, target = (REGION_BYTES >> 12) * TARGET_PCT / 100;

	if (host_machine_create(RAM_BYTES, REGION_BYTES))
		exit(1);
	wl_seed(&rng, 1);
	for (long step = 0; step < steps; step++) {
		uint64_t x = wl_rnd(&rng);
		if (nlive < LIVE_MAX && wl_want_alloc(x, nlive, asked, target)) {
			uint64_t n = wl_size(&rng, false, MAX_SIZE), r = pow2 ? pow2_up(n) : n;
			uint32_t tag = n <= 64 ? TAG_SMALL : TAG_LARGE;
			char *va = MmAllocateMappingAddress(r << 12, tag);
			allocs++;
			if (va) {
				live[nlive].va = va, live[nlive].asked = (uint32_t)n, live[nlive].got = (uint32_t)r;
				live[nlive++].tag = tag;
				pages += r, asked += n;
				continue;
			}
			fails++;
			if (!nlive)
				continue;
		}
		uint64_t i = wl_pick(&rng, nlive);
		MmFreeMappingAddress(live[i].va, live[i].tag);
		pages -= live[i].got, asked -= live[i].asked;
		live[i] = live[--nlive];
	}
	/* Map each reservation's requested pages (all onto one fake frame: only the PTEs matter here). */
	for (uint64_t i = 0; i < nlive; i++) {
		memset(&m, 0, sizeof(m));
		m.mdl.Size = (CSHORT)sizeof(m);
		m.mdl.MdlFlags = MDL_PAGES_LOCKED;
		m.mdl.ByteCount = live[i].asked << 12;
		for (unsigned k = 0; k < live[i].asked; k++)
			m.pfn[k] = 0x200;
		if (!MmMapLockedPagesWithReservedMapping(live[i].va, live[i].tag, &m.mdl, MmCached)) {
			fprintf(stderr, "region_picture: mapping %u pages failed\n", live[i].asked);
			exit(1);
		}
	}
	char title[160];
	snprintf(title, sizeof(title), "%s: %.1f %% asked, %.1f %% reserved, %.2f %% of %llu requests refused",
		 pow2 ? "Power-of-two baseline" : "This allocator", 100.0 * (double)asked / (double)(REGION_BYTES >> 12),
		 100.0 * (double)pages / (double)(REGION_BYTES >> 12), 100.0 * (double)fails / (double)allocs,
		 (unsigned long long)allocs);
	struct memview_box box = { 8, y, W - 16, h, true };
	struct memview_result res;
	memview_region(&box, title, &res);
	printf("%s: cell %llu pages, %u cells, walkers %s %s\n", title, (unsigned long long)res.chunk_pages, res.cells,
	       res.agree ? "agree" : "DISAGREE", res.note);
	if (!res.agree || syspte_check(reserved_region()))
		exit(1);
}

int main(int argc, char **argv)
{
	const char *out = argc > 1 ? argv[1] : "region.ppm";
	long steps = argc > 2 ? atol(argv[2]) : 10000000;
	struct bootinfo_fb bfb = { .size = sizeof(fb), .width = W, .height = H, .pitch = W, .format = BOOTINFO_FB_RGBX };

	fbcon_init(&bfb, fb);
	if (!fbcon_active()) {
		fprintf(stderr, "region_picture: the console refused the RAM framebuffer\n");
		return 1;
	}
	char head[160];
	snprintf(head, sizeof(head), "System PTE region, 1 GiB: the standard workload (uniform 1..512 pages, %d %% target), "
		 "%ld steps", TARGET_PCT, steps);
	fbcon_draw_text(8, 4, 1, 0xFFFFFF, 0, head);
	fbcon_draw_text(8, 22, 1, 0xC0C0C0, 0, "Lighter: the pages each reservation asked for (mapped); darker: reserved "
			"beyond that (rounding); grey: free.");
	run(false, steps, 48, (H - 56) / 2);
	run(true, steps, 48 + (H - 56) / 2 + 8, (H - 56) / 2);
	FILE *f = fopen(out, "wb");
	if (!f) {
		perror(out);
		return 1;
	}
	fprintf(f, "P6\n%d %d\n255\n", W, H);
	for (unsigned y = 0; y < H; y++)
		for (unsigned x = 0; x < W; x++) {
			uint32_t p = fbcon_read_pixel(x, y);
			unsigned char rgb[3] = { (unsigned char)(p >> 16), (unsigned char)(p >> 8), (unsigned char)p };
			fwrite(rgb, 1, 3, f);
		}
	return fclose(f) ? 1 : 0;
}
