/*
 * Host test of ragged memory maps: a map whose size is not a whole number of descriptors (trailing
 * bytes after the last whole one, as some firmware returns). efi_mmap_geometry (include/efi_mmap.h)
 * against the geometry rules written out here, over every small size and stride and the extremes;
 * phys_init of generated maps (random strides, descriptors, junk padding and tails, seeded,
 * reproducible: RAGGED_SEED, RAGGED_ROUNDS) gives exactly what the same map cut to its whole
 * descriptors gives, and says so in one line naming the byte counts; and every unreadable geometry
 * is refused with its status's text.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "arch_mm.h"
#include "efi_mmap.h"
#include "test_rng.h"
#include "capture.h"

#define RAGGED_FRAMES   4096    /* frames the generated descriptors mostly cover (16 MiB) */
#define RAGGED_MAX_DESC 96      /* descriptors of a generated map */
#define RAGGED_MAX_STRIDE 128   /* bytes between generated descriptors */
#define RAGGED_EXTENTS  4096    /* extents a snapshot records */
#define RAGGED_OUT      8192    /* bytes of phys_init's messages kept */

static uint64_t rng;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* ------------------------------------------------------------------ the geometry rules */

/* The rules as docs/design.md states them, in their order: a stride under 40 bytes, then one not a
 * multiple of 8, cannot be read; more whole descriptors than the reader takes is too large; a tail
 * is ragged; else the map is whole. */
static enum efi_mmap_geometry_status rule(uint64_t size, uint64_t stride, uint64_t max, uint64_t *whole, uint64_t *tail)
{
	*whole = *tail = 0;
	if (stride < 40)
		return EFI_MMAP_GEOMETRY_DESC_TOO_SMALL;
	if (stride & 7)
		return EFI_MMAP_GEOMETRY_DESC_UNALIGNED;
	uint64_t w = 0, rest = size;
	/* the count by subtraction in large steps: no division, unlike the helper */
	for (uint64_t step = stride, k = 1; rest >= stride;) {
		while (step <= rest / 2 && step <= UINT64_MAX / 2)
			step *= 2, k *= 2;
		while (step > rest)
			step /= 2, k /= 2;
		rest -= step, w += k;
	}
	*whole = w, *tail = rest;
	if (w > max)
		return EFI_MMAP_GEOMETRY_TOO_LARGE;
	return rest ? EFI_MMAP_GEOMETRY_RAGGED : EFI_MMAP_GEOMETRY_OK;
}

/* One geometry through the helper and the rules; true when they agree on status, whole and tail. */
static bool geometry_agrees(uint64_t size, uint64_t stride, uint64_t max)
{
	uint64_t w1 = 7, t1 = 7, w2, t2;
	enum efi_mmap_geometry_status a = efi_mmap_geometry(size, stride, max, &w1, &t1), b = rule(size, stride, max, &w2, &t2);
	if (a == b && w1 == w2 && t1 == t2)
		return true;
	printf("# size %llu stride %llu max %llu: helper %d (%llu, %llu), rules %d (%llu, %llu)\n", (unsigned long long)size,
	       (unsigned long long)stride, (unsigned long long)max, a, (unsigned long long)w1, (unsigned long long)t1, b,
	       (unsigned long long)w2, (unsigned long long)t2);
	return false;
}

/* Every size up to 5000 bytes with every stride up to 160 and three limits, then generated and
 * extreme sizes and strides: the helper's status, whole descriptors and tail are the rules'. */
static void test_geometry_rules(void)
{
	unsigned wrong = 0, seen[EFI_MMAP_GEOMETRY_COUNT] = { 0 };
	uint64_t tried = 0;
	for (uint64_t stride = 0; stride <= 160; stride++)
		for (uint64_t size = 0; size <= 5000; size++)
			for (uint64_t max = 10; max <= 1000; max = max * 10) {
				uint64_t w, t;
				seen[efi_mmap_geometry(size, stride, max, &w, &t)]++;
				wrong += !geometry_agrees(size, stride, max) && wrong < 1000;
				tried++;
			}
	static const uint64_t extremes[] = { 0, 1, 7, 8, 39, 40, 41, 47, 48, 4096, UINT32_MAX, (uint64_t)INT64_MAX,
					     UINT64_MAX - 8, UINT64_MAX - 7, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_SIZE(extremes); i++)
		for (size_t j = 0; j < ARRAY_SIZE(extremes); j++)
			for (size_t k = 0; k < ARRAY_SIZE(extremes); k++, tried++)
				wrong += !geometry_agrees(extremes[i], extremes[j], extremes[k]);
	for (int n = 0; n < 200000; n++, tried++) {
		uint64_t stride = draw(4) ? 40 + 8 * draw(64) : test_rng_next(&rng) >> draw(64);
		uint64_t size = draw(2) ? stride * draw(5000) + draw(stride ? stride : 1) : test_rng_next(&rng) >> draw(64);
		wrong += !geometry_agrees(size, stride, draw(2) ? PHYS_MAX_RANGES : test_rng_next(&rng) >> draw(64));
	}
	ok(wrong == 0, "efi_mmap_geometry agrees with the rules on %llu geometries (%u whole, %u ragged, %u short, %u unaligned, "
	   "%u too large strides and counts among the small ones)", (unsigned long long)tried, seen[EFI_MMAP_GEOMETRY_OK],
	   seen[EFI_MMAP_GEOMETRY_RAGGED], seen[EFI_MMAP_GEOMETRY_DESC_TOO_SMALL], seen[EFI_MMAP_GEOMETRY_DESC_UNALIGNED],
	   seen[EFI_MMAP_GEOMETRY_TOO_LARGE]);
	bool texts = true;
	for (int s = 0; s < EFI_MMAP_GEOMETRY_COUNT; s++) {
		const char *t = efi_mmap_geometry_text(s);
		texts &= t && strlen(t) > 10 && strlen(t) < 120 && !strchr(t, '\n');
		for (int o = 0; o < s; o++)
			texts &= strcmp(t, efi_mmap_geometry_text(o)) != 0;
	}
	ok(texts, "each status has its own one-line text");
}

/* ------------------------------------------------------------------ generated maps */

/* What phys_init made of a map: its result, statistics, census, every free and managed extent, and
 * what it printed. */
struct snapshot {
	int r;
	struct phys_stats st;
	uint64_t census[BUDDY_ORDERS];
	size_t nfree, nmanaged;
	struct { paddr_t pa; uint64_t n; } free[RAGGED_EXTENTS], managed[RAGGED_EXTENTS];
	char out[RAGGED_OUT];
};

static struct snapshot cut_snap, ragged_snap;

static void snap_free(paddr_t pa, uint64_t n, void *arg)
{
	struct snapshot *s = arg;
	if (s->nfree < RAGGED_EXTENTS)
		s->free[s->nfree].pa = pa, s->free[s->nfree].n = n;
	s->nfree++;
}

static void snap_managed(paddr_t pa, uint64_t n, void *arg)
{
	struct snapshot *s = arg;
	if (s->nmanaged < RAGGED_EXTENTS)
		s->managed[s->nmanaged].pa = pa, s->managed[s->nmanaged].n = n;
	s->nmanaged++;
}

/* phys_init_except of an exact-size heap copy of the size bytes at map (a read past its end is an
 * ASan report), recorded in s. */
static void snapshot_init(struct snapshot *s, const uint8_t *map, size_t size, size_t stride, paddr_t xpa, uint64_t xbytes)
{
	memset(s, 0, sizeof(*s));
	void *copy = malloc(size ? size : 1);
	memcpy(copy, map, size);
	capture_begin();
	s->r = phys_init_except(copy, size, stride, xpa, xbytes);
	capture_end(s->out, sizeof(s->out));
	free(copy);
	if (s->r)
		return;
	phys_get_stats(&s->st);
	phys_census(s->census);
	phys_for_each_free(snap_free, s);
	phys_for_each_managed(snap_managed, s);
}

/* Fills the stride bytes at d with one random descriptor (type, start and size mostly inside the
 * window, sometimes anywhere), its stride padding with junk. */
static void gen_desc(uint8_t *d, size_t stride)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA,
					  EFI_RESERVED, EFI_ACPI_NVS, EFI_RT_DATA, EFI_MMIO, EFI_UNUSABLE, EFI_PERSISTENT };
	for (size_t i = 0; i < stride; i++)
		d[i] = (uint8_t)test_rng_next(&rng);
	struct efi_memory_descriptor e = {
		.type = draw(32) ? types[draw(ARRAY_SIZE(types))] : (uint32_t)test_rng_next(&rng),
		.phys_start = draw(32) ? draw(RAGGED_FRAMES) << 12 | (draw(16) ? 0 : draw(4096)) : test_rng_next(&rng),
		.num_pages = draw(32) ? draw(draw(2) ? 64 : RAGGED_FRAMES) : test_rng_next(&rng),   /* past 2^52: ignored */
		.attribute = draw(8) ? 0 : draw(2) ? EFI_MEMORY_RUNTIME : draw(2) ? EFI_MEMORY_SP : test_rng_next(&rng),
	};
	memcpy(d, &e, sizeof(e));
}

static bool snapshots_equal(const struct snapshot *a, const struct snapshot *b)
{
	if (a->r != b->r)
		return false;
	if (a->r)
		return true;
	if (memcmp(&a->st, &b->st, sizeof(a->st)) || memcmp(a->census, b->census, sizeof(a->census)) ||
	    a->nfree != b->nfree || a->nmanaged != b->nmanaged)
		return false;
	size_t nf = MIN(a->nfree, (size_t)RAGGED_EXTENTS), nm = MIN(a->nmanaged, (size_t)RAGGED_EXTENTS);
	return !memcmp(a->free, b->free, nf * sizeof(a->free[0])) && !memcmp(a->managed, b->managed, nm * sizeof(a->managed[0]));
}

/*
 * One generated map, ragged: descriptors of a random stride (a multiple of 8 from 40, sometimes
 * none), then a tail of 1 to stride - 1 random bytes (which would read as a descriptor's first
 * fields). Its phys_init, the framebuffer kept out or not, must equal the cut map's in every
 * respect, and print the cut map's messages after one line that names the map's size, the whole
 * descriptors, the stride and the tail. Returns false with a reason printed.
 */
static bool ragged_case(int round)
{
	static uint8_t map[RAGGED_MAX_DESC * RAGGED_MAX_STRIDE + RAGGED_MAX_STRIDE];
	size_t stride = 40 + 8 * draw((RAGGED_MAX_STRIDE - 40) / 8 + 1);
	size_t nd = draw(16) ? 1 + draw(draw(2) ? 8 : RAGGED_MAX_DESC) : 0;
	size_t tail = 1 + draw(stride - 1);
	for (size_t i = 0; i < nd; i++)
		gen_desc(map + i * stride, stride);
	for (size_t i = 0; i < tail; i++)
		map[nd * stride + i] = (uint8_t)test_rng_next(&rng);
	paddr_t xpa = draw(4) ? 0 : draw(RAGGED_FRAMES) << 12;
	uint64_t xbytes = xpa ? 1 + draw(1 << 22) : 0;
	snapshot_init(&cut_snap, map, nd * stride, stride, xpa, xbytes);
	snapshot_init(&ragged_snap, map, nd * stride + tail, stride, xpa, xbytes);
	if (!snapshots_equal(&cut_snap, &ragged_snap)) {
		printf("# round %d (%zu descriptors of %zu bytes, %zu more): phys_init %d cut, %d ragged; usable %llu / %llu, "
		       "free %llu / %llu, %zu / %zu free extents\n", round, nd, stride, tail, cut_snap.r, ragged_snap.r,
		       (unsigned long long)cut_snap.st.usable_pages, (unsigned long long)ragged_snap.st.usable_pages,
		       (unsigned long long)cut_snap.st.free_pages, (unsigned long long)ragged_snap.st.free_pages,
		       cut_snap.nfree, ragged_snap.nfree);
		return false;
	}
	char line[512];
	snprintf(line, sizeof(line), "phys: memory map of %zu bytes is %zu descriptors of %zu bytes and %zu bytes more: %s\n",
		 nd * stride + tail, nd, stride, tail, efi_mmap_geometry_text(EFI_MMAP_GEOMETRY_RAGGED));
	size_t n = strlen(line);
	if (strncmp(ragged_snap.out, line, n) || strcmp(ragged_snap.out + n, cut_snap.out) ||
	    strstr(cut_snap.out, "bytes more")) {
		printf("# round %d: the cut map printed\n#   %s# the ragged one\n#   %s", round, cut_snap.out, ragged_snap.out);
		return false;
	}
	return true;
}

/* RAGGED_ROUNDS generated ragged maps (default 3000), each against the same map cut to its whole
 * descriptors. */
static void test_generated_ragged_maps(void)
{
	const char *e = getenv("RAGGED_ROUNDS");
	int rounds = e ? atoi(e) : 3000;
	unsigned wrong = 0, inited = 0;
	for (int round = 0; round < rounds; round++) {
		if (!ragged_case(round) && ++wrong >= 5)
			break;
		inited += cut_snap.r == 0;
	}
	ok(wrong == 0 && inited > (unsigned)rounds / 4 && inited < (unsigned)rounds,
	   "%d generated ragged maps initialise exactly as the same maps cut to their whole descriptors "
	   "(%u initialised, the rest refused alike), each with one line naming the cut", rounds, inited);
}

/* Every unreadable geometry (strides under 40 bytes, strides not a multiple of 8, more descriptors
 * than PHYS_MAX_RANGES, whole or ragged) is refused, its text printed, over a map whose whole
 * descriptors are good; the same map at a good stride initialises. */
static void test_bad_geometry_refused(void)
{
	/* PHYS_MAX_RANGES + 3 descriptors at the widest stride tried, and a tail */
	static _Alignas(8) uint8_t map[(PHYS_MAX_RANGES + 3) * 136 + 136];
	static char out[RAGGED_OUT];
	unsigned wrong = 0, tried = 0, seen[EFI_MMAP_GEOMETRY_COUNT] = { 0 };
	for (int n = 0; n < 3000; n++) {
		uint64_t stride = draw(3) == 0 ? draw(40) : draw(2) ? 40 + draw(97) : 40 + 8 * draw(13);
		uint64_t whole = draw(3) == 0 ? PHYS_MAX_RANGES + 1 + draw(3) : 1 + draw(4);
		uint64_t size = whole * stride + (draw(2) ? draw(stride ? stride : 1) : 0);
		for (uint64_t i = 0; i < whole && stride >= 40; i++) {
			memset(map + i * stride, 0, stride);
			struct efi_memory_descriptor d = { .type = EFI_CONVENTIONAL, .phys_start = (0x100 + 0x10 * i) << 12,
							   .num_pages = 0x10 };
			memcpy(map + i * stride, &d, sizeof(d));
		}
		uint64_t w, t;
		enum efi_mmap_geometry_status g = rule(size, stride, PHYS_MAX_RANGES, &w, &t);
		seen[g]++;
		capture_begin();
		int r = phys_init(map, size, stride);
		capture_end(out, sizeof(out));
		bool good = g == EFI_MMAP_GEOMETRY_OK || g == EFI_MMAP_GEOMETRY_RAGGED;
		bool said = g == EFI_MMAP_GEOMETRY_TOO_LARGE ? strstr(out, "more than") != NULL :
			    good ? true : strstr(out, efi_mmap_geometry_text(g)) != NULL;
		if ((r == 0) != good || !said) {
			if (wrong++ < 5)
				printf("# stride %llu, %llu bytes (status %d): phys_init %d, printed %s", (unsigned long long)stride,
				       (unsigned long long)size, g, r, out);
		}
		tried++;
	}
	ok(wrong == 0 && seen[EFI_MMAP_GEOMETRY_DESC_TOO_SMALL] && seen[EFI_MMAP_GEOMETRY_DESC_UNALIGNED] &&
	   seen[EFI_MMAP_GEOMETRY_TOO_LARGE] && seen[EFI_MMAP_GEOMETRY_RAGGED] && seen[EFI_MMAP_GEOMETRY_OK],
	   "%u geometries: each unreadable one refused with its status's text (%u short, %u unaligned, %u too large), "
	   "%u ragged and %u whole maps initialise", tried, seen[EFI_MMAP_GEOMETRY_DESC_TOO_SMALL],
	   seen[EFI_MMAP_GEOMETRY_DESC_UNALIGNED], seen[EFI_MMAP_GEOMETRY_TOO_LARGE], seen[EFI_MMAP_GEOMETRY_RAGGED],
	   seen[EFI_MMAP_GEOMETRY_OK]);
}

int main(void)
{
	const char *e = getenv("RAGGED_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : 0x5EED0F4A66EDULL;
	rng = seed ? seed : 1;
	printf("# seed 0x%llx (RAGGED_SEED to repeat)\n", (unsigned long long)seed);
	fake_arch_init();
	test_geometry_rules();
	test_generated_ragged_maps();
	test_bad_geometry_refused();
	return tap_done();
}
