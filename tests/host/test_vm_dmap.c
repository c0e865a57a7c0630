/*
 * kernel/vm.c's direct map and framebuffer mapping against the physical allocator, on the fake
 * machine: the file #includes kernel/vm.c (vm_map_dmap and vm_map_fb are static) and stands in for
 * the rest of the kernel as vm.c sees it (the image's section symbols, the boot CPU's features, the
 * kernel's copy of the memory map). Each test names the contract line it holds the code to.
 *
 *  1. test_dmap_holds_phys: every frame phys_init keeps is in the direct map, and the direct map
 *     holds each RAM descriptor exactly up to its limits (vm_map_dmap once skipped a whole
 *     descriptor that crossed the direct map's 64 TiB, whose part below 8 TiB the allocator hands
 *     out; it failed on that code).
 *  2. test_dmap_overlaps: overlapping descriptors map their union exactly, at a cost that follows
 *     the mappings met (a descriptor crossing 64 TiB given twice, mapped since a fix,
 *     would have taken the old page-by-page fallback 2^34 steps).
 *  3. test_high_framebuffer_costs_the_screen: a framebuffer past the CPU's physical width is left
 *     unmapped with a message and the boot goes on; below it, it is mapped at FB_BASE.
 *  4. test_dmap_span_past_limit: a descriptor lying wholly at or past the direct map's end or the
 *     CPU's width gives no span (vm_dmap_span's own refusal, whatever its caller holds).
 *  5. test_fb_pages_at_top: the framebuffer's pages near 2^64, their end clamped to the last page.
 *  6. test_vm_init: the whole address space vm_init builds, each part with its own protection and
 *     memory type, then CR3 loaded and every translation flushed, global ones included.
 */
#include <stdlib.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "test_rng.h"
#include "capture.h"
#define __data_start vm_test_data_start   /* the C library has a __data_start of its own */
#include "../../kernel/vm.c"

/* The rest of the kernel as vm.c sees it. The image's sections, as the linker script lays them out:
 * page aligned and in order, text 2 pages, rodata 1, data 18 (the boot stack's guard page its
 * second, then the boot CPU's three IST stacks, 5 pages each, their guard page first), the symbols
 * 1; vm_init maps them at these (host) addresses. */
__asm__(".pushsection .bss\n"
	".balign 4096\n"
	"__text_start: .skip 8192\n__text_end:\n"
	"__rodata_start: .skip 4096\n__rodata_end:\n"
	"vm_test_data_start: .skip 4096\nboot_stack_guard: .skip 8192\n"
	"percpu_boot_ist: .skip 61440\n__data_end:\n"
	"__ksyms_start: .skip 4096\n__kernel_end:\n"
	".popsection");
extern char boot_stack_guard[];
struct cpu_features cpu_feat = { .nx = true, .page1g = true, .pat = true };
const char *cpu_xd_text(void) { return NULL; }   /* cpu.c's: the firmware left Execute Disable on */
static struct machine_map m;
/* The kernel's copy of the map, exactly its descriptors' bytes (a read past them is ASan's). */
const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	static void *copy;
	free(copy);
	*size = machine_map_size(&m);
	*desc_size = m.desc_size;
	copy = malloc(*size);
	memcpy(copy, m.buf, *size);
	return copy;
}

/* Frames of the architectural 52-bit physical address space. */
#define ARCH_FRAMES (1ULL << 40)
/* A reserved (MMIO) range from here up keeps what the allocator manages small: frames past it never
 * reach the buddy, while vm_map_dmap still maps every RAM descriptor under it. */
#define CLAMP_FRAME 0x20000ULL
/* The real RAM of every map: 64 MiB from 1 MiB, frames [0x100, 0x4100). */
#define REAL_FIRST 0x100ULL
#define REAL_END   0x4100ULL

/* The physical address the direct map translates pa to, or ~0 when it holds no page there. */
static paddr_t dmap_at(paddr_t pa)
{
	paddr_t got;
	return pt_query(&kernel_pt, DMAP_BASE + pa, &got, NULL, NULL) ? got : ~0ULL;
}

/* What the check of phys_init's frames found: frames checked, and the first one the direct map
 * does not hold at its own address. */
struct held_check {
	uint64_t *rng;
	uint64_t checked;
	paddr_t missing;   /* ~0: none */
};

/* For a managed run: its first and last frames and 64 frames of it at random. */
static void held_cb(paddr_t pa, uint64_t npages, void *arg)
{
	struct held_check *h = arg;
	for (unsigned k = 0; k < 66; k++) {
		uint64_t i = k == 0 ? 0 : k == 1 ? npages - 1 : test_rng_next(h->rng) % npages;
		paddr_t f = pa + i * PAGE_SIZE;
		h->checked++;
		if (dmap_at(f) != f && h->missing == ~0ULL)
			h->missing = f;
	}
}

/* Builds kernel_pt's direct map of the map m on a machine of `width` physical address bits (the
 * allocator first, as kmain does); false when phys_init refused the map. */
static bool build_dmap(unsigned width)
{
	fake_arch_set_phys_bits(width);
	capture_begin();
	int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
	char out[2048];
	capture_end(out, sizeof(out));
	if (r)
		return false;
	KASSERT(pt_create(&kernel_pt, vm_pt_features()) == PT_OK, "no memory for the PML4");
	vm_map_dmap(&(struct bootinfo){ 0 });   /* no framebuffer */
	return true;
}

/*
 * vm.c: the direct map holds the RAM of every descriptor "below the direct map's end and the CPU's
 * physical width", never a descriptor "that would end past the 52-bit physical address space or
 * wrap past 2^64", so that "every frame phys_init keeps ... lies in the range of its descriptor"
 * (phys.h: the allocator hands out frames through the direct map). Generated: CPU widths 36..52, one
 * descriptor of every direct-mapped type (and of types it must leave out) above 64 MiB of real RAM,
 * starting on a page boundary or 1..4095 bytes off one, ending two pages either side of 2^52, of the
 * direct map's 64 TiB, of the CPU's width, of 2^64 (wrapping), or anywhere below them; an MMIO range
 * over it from frame 0x20000 keeps the allocator small. Oracle: phys_init's every managed run (its
 * ends and random frames) translates to itself; the descriptor's span, every page it touches cut at
 * min(64 TiB, the width), is mapped at its first and last page and not one page past its end, or
 * not at all when the descriptor is ignored or not direct-mapped; nothing at or past the width.
 */
static void test_dmap_holds_phys(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA, EFI_ACPI_NVS,
					  EFI_ACPI_RECLAIM, EFI_RT_CODE, EFI_MEMORY_TYPE_KERNEL, EFI_UNUSABLE, EFI_RESERVED };
	static const unsigned widths[] = { 36, 39, 40, 44, 46, 47, 48, 52 };
	const unsigned __int128 arch_end = (unsigned __int128)1 << 52;
	uint64_t rng = 0xD3A9ULL;
	unsigned n = 0, bad = 0;
	uint64_t checked = 0;
	for (unsigned c = 0; c < 480; c++) {
		unsigned width = widths[c % ARRAY_SIZE(widths)], kind = (c / ARRAY_SIZE(widths)) % 5;
		uint32_t type = types[(c / 5) % ARRAY_SIZE(types)];
		bool usable = phys_type_usable_at_init(type, 0) || phys_type_loader(type, 0);
		bool mapped_type = usable || type == EFI_ACPI_NVS || type == EFI_ACPI_RECLAIM || type == EFI_RT_CODE ||
				   type == EFI_MEMORY_TYPE_KERNEL;
		uint64_t off = c % 3 ? 0 : 1 + test_rng_next(&rng) % (PAGE_SIZE - 1);
		uint64_t first = 0x10000 + test_rng_next(&rng) % 0x8000;   /* above the real RAM, below the MMIO */
		int64_t d = (int64_t)(test_rng_next(&rng) % 5) - 2;
		unsigned __int128 width_bytes = (unsigned __int128)1 << width;
		unsigned __int128 low = width_bytes < DMAP_SIZE ? width_bytes : DMAP_SIZE;   /* the direct map's limit */
		unsigned __int128 edge = kind == 0 ? arch_end : kind == 1 ? (unsigned __int128)DMAP_SIZE
				       : kind == 2 ? width_bytes : kind == 3 ? (unsigned __int128)1 << 64
						   : ((unsigned __int128)first + 1 + test_rng_next(&rng) % (uint64_t)(low / 4096 - first)) << 12;
		unsigned __int128 last = edge + (kind == 4 ? 0 : (__int128)d * 4096);   /* the whole pages' end */
		uint64_t pages = (uint64_t)(last / 4096 - first);
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST << PAGE_SHIFT, REAL_END - REAL_FIRST, 0);
		machine_map_add(&m, EFI_MMIO, CLAMP_FRAME << PAGE_SHIFT, ARCH_FRAMES - CLAMP_FRAME, 0);
		machine_map_add(&m, type, (first << PAGE_SHIFT) + off, pages, 0);
		bool built = build_dmap(width);
		struct held_check h = { &rng, 0, ~0ULL };
		if (built)
			phys_for_each_managed(held_cb, &h);
		checked += h.checked;
		/* the oracle: the span [s, e) the direct map holds of the descriptor, empty when ignored */
		unsigned __int128 end = ((unsigned __int128)first << PAGE_SHIFT) + off + (unsigned __int128)pages * 4096;
		paddr_t s = first << PAGE_SHIFT, e = s;
		if (mapped_type && pages && end <= arch_end) {
			unsigned __int128 t = (end + 4095) / 4096 * 4096;
			e = (paddr_t)(t < low ? t : low);
		}
		bool span_ok = built && (e > s ? dmap_at(s) == s && dmap_at(e - PAGE_SIZE) == e - PAGE_SIZE
					       : dmap_at(s) == ~0ULL && dmap_at(s + 7 * PAGE_SIZE) == ~0ULL);
		bool past_ok = built && (e == (paddr_t)low || dmap_at(e > s ? e : s + 8 * PAGE_SIZE) == ~0ULL);
		bool width_ok = built && (low == DMAP_SIZE || dmap_at((paddr_t)low) == ~0ULL);
		n++;
		if ((!built || h.missing != ~0ULL || !span_ok || !past_ok || !width_ok) && bad++ < 4)
			printf("# width %u, type 0x%x from 0x%llx, 0x%llx pages: built %d, a kept frame unmapped: 0x%llx; span "
			       "[0x%llx, 0x%llx) %s, past it %s, at the limit %s\n", width, type,
			       (unsigned long long)((first << PAGE_SHIFT) + off), (unsigned long long)pages, built,
			       (unsigned long long)h.missing, (unsigned long long)s, (unsigned long long)e,
			       span_ok ? "ok" : "wrong", past_ok ? "unmapped" : "mapped", width_ok ? "unmapped" : "mapped");
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0 && checked >= 66ULL * n, "%u maps with a RAM descriptor ending around 2^52, 64 TiB, the CPU's width, 2^64 "
	   "and below: the direct map holds every frame the allocator keeps (%llu checked) and each descriptor up to "
	   "its limits exactly (%u wrong)", n, (unsigned long long)checked, bad);
}

/* A span [s, e) of physical addresses, page multiples. */
struct span {
	paddr_t s, e;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/*
 * vm.c vm_dmap_range: "Descriptors may overlap: a leaf an earlier one mapped is skipped whole, and
 * the rest is mapped", and the cost follows the mappings met. Generated maps of 2..7 RAM descriptors
 * of every direct-mapped type over each other (duplicates, nested, sharing an end, cut at 4 KiB,
 * 2 MiB and 1 GiB points, some starting off a page boundary), from 256 MiB up to a few GiB, some
 * with a descriptor crossing the direct map's 64 TiB given twice: the direct map must be exactly
 * the union of the descriptors' spans (each span's ends and random pages translate to themselves,
 * the first and last page of every gap between them and past them are unmapped), and hold every
 * frame the allocator keeps.
 */
static void test_dmap_overlaps(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_LOADER_DATA, EFI_ACPI_RECLAIM, EFI_RT_DATA,
					  EFI_MEMORY_TYPE_KERNEL };
	static const uint64_t grains[] = { PAGE_SIZE, SIZE_2M, SIZE_1G };
	const paddr_t base = 0x10000000;   /* 256 MiB: above the real RAM */
	uint64_t rng = 0x0E7A9ULL;
	unsigned n = 0, bad = 0;
	uint64_t checked = 0;
	for (unsigned c = 0; c < 300; c++) {
		struct span sp[8];
		unsigned nd = 2 + (unsigned)(test_rng_next(&rng) % 6);
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST << PAGE_SHIFT, REAL_END - REAL_FIRST, 0);
		machine_map_add(&m, EFI_MMIO, CLAMP_FRAME << PAGE_SHIFT, ARCH_FRAMES - CLAMP_FRAME, 0);
		for (unsigned i = 0; i < nd; i++) {
			uint64_t g = grains[test_rng_next(&rng) % ARRAY_SIZE(grains)];
			paddr_t s = base + (test_rng_next(&rng) % 8) * g + (test_rng_next(&rng) % 3) * SIZE_2M;
			uint64_t bytes = (1 + test_rng_next(&rng) % 8) * grains[test_rng_next(&rng) % ARRAY_SIZE(grains)];
			if (i > 0 && test_rng_next(&rng) % 4 == 0) {   /* the previous one again, or sharing its end */
				uint64_t half = MAX(ALIGN_DOWN((sp[i - 1].e - sp[i - 1].s) / 2, PAGE_SIZE), PAGE_SIZE);
				s = test_rng_next(&rng) % 2 ? sp[i - 1].s : sp[i - 1].e - half;
				bytes = sp[i - 1].e - s;
			}
			if (c % 10 == 0 && i < 2) {   /* twice: [base, 64 TiB + 1 GiB), cut at 64 TiB */
				s = base;
				bytes = DMAP_SIZE + SIZE_1G - base;
			}
			uint64_t off = test_rng_next(&rng) % 5 == 0 ? 1 + test_rng_next(&rng) % (PAGE_SIZE - 1) : 0;
			machine_map_add(&m, types[test_rng_next(&rng) % ARRAY_SIZE(types)], s + off, bytes / PAGE_SIZE, 0);
			sp[i] = (struct span){ s, MIN(s + bytes + (off ? PAGE_SIZE : 0), DMAP_SIZE) };
		}
		bool built = build_dmap(48);
		struct held_check h = { &rng, 0, ~0ULL };
		if (built)
			phys_for_each_managed(held_cb, &h);
		checked += h.checked;
		paddr_t wrong = ~0ULL;
		for (unsigned i = 0; built && i < nd && wrong == ~0ULL; i++)
			for (unsigned k = 0; k < 18; k++) {
				uint64_t pages = (sp[i].e - sp[i].s) / PAGE_SIZE;
				paddr_t f = sp[i].s + (k == 0 ? 0 : k == 1 ? pages - 1 : test_rng_next(&rng) % pages) * PAGE_SIZE;
				if (dmap_at(f) != f) {
					wrong = f;
					break;
				}
			}
		/* the gaps of the union: between its pieces, and a page either side of it */
		struct span u[8];
		memcpy(u, sp, nd * sizeof(sp[0]));
		qsort(u, nd, sizeof(u[0]), span_cmp);
		paddr_t reach = u[0].s, gap_wrong = ~0ULL;
		if (built && dmap_at(u[0].s - PAGE_SIZE) != ~0ULL)
			gap_wrong = u[0].s - PAGE_SIZE;
		for (unsigned i = 0; built && i < nd; i++) {
			if (u[i].s > reach && (dmap_at(reach) != ~0ULL || dmap_at(u[i].s - PAGE_SIZE) != ~0ULL))
				gap_wrong = reach;
			reach = MAX(reach, u[i].e);
		}
		if (built && reach < DMAP_SIZE && dmap_at(reach) != ~0ULL)
			gap_wrong = reach;
		n++;
		if ((!built || h.missing != ~0ULL || wrong != ~0ULL || gap_wrong != ~0ULL) && bad++ < 4) {
			printf("# %u descriptors:", nd);
			for (unsigned i = 0; i < nd; i++)
				printf(" [0x%llx, 0x%llx)", (unsigned long long)sp[i].s, (unsigned long long)sp[i].e);
			printf(": built %d, kept frame unmapped 0x%llx, span page unmapped 0x%llx, gap page mapped 0x%llx\n", built,
			       (unsigned long long)h.missing, (unsigned long long)wrong, (unsigned long long)gap_wrong);
		}
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0 && checked >= 66ULL * n, "%u maps of 2..7 overlapping RAM descriptors: the direct map is their union "
	   "exactly and holds every frame the allocator keeps (%u wrong)", n, bad);
}

/* Runs vm_map_fb on a fresh machine (the real RAM only, its direct map built for a CPU width of
 * width bits) for a w x h BGRX framebuffer at base, its messages in out; false when the direct map
 * could not be built (nothing mapped then). */
static bool vmt_map_fb(uint64_t base, uint32_t w, uint32_t h, unsigned width, char *out, size_t outsz)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST << PAGE_SHIFT, REAL_END - REAL_FIRST, 0);
	struct bootinfo bi = { .fb = { .base = base, .size = (uint64_t)w * h * 4, .width = w, .height = h, .pitch = w,
				       .format = BOOTINFO_FB_BGRX } };
	bool built = build_dmap(width);
	vm_fb_virt = 0;
	capture_begin();
	if (built)
		vm_map_fb(&bi);
	capture_end(out, outsz);
	return built;
}

/*
 * boot/memmap.c: a bad framebuffer "costs the screen, not the boot"; vm.c vm_map_fb: a framebuffer
 * past the CPU's physical width is named on serial and left unmapped (the console then runs on
 * serial only). Generated GOP framebuffers (64-bit BARs) at 2^32..2^52 and within a page of a
 * width's end, on CPUs of 36..52 bits: vm_map_fb returns; vm_fb_virt is the framebuffer's first byte
 * at FB_BASE, translating to its address, exactly when its last byte lies below the width, else 0
 * with the message.
 */
static void test_high_framebuffer_costs_the_screen(void)
{
	static const unsigned widths[] = { 36, 40, 46, 48, 52 };
	uint64_t rng = 0xFB46ULL;
	unsigned n = 0, bad = 0, mapped = 0, refused = 0;
	for (unsigned c = 0; c < 200; c++) {
		unsigned width = widths[c % ARRAY_SIZE(widths)];
		uint32_t w = 640 + 64 * (uint32_t)(test_rng_next(&rng) % 16), hgt = 480 + (uint32_t)(test_rng_next(&rng) % 300);
		uint64_t bytes = (uint64_t)w * hgt * 4;
		uint64_t base;
		if (c % 3 == 0)   /* its last byte just below, at or past the width's end */
			base = (1ULL << width) - ALIGN_UP(bytes, PAGE_SIZE) + ((test_rng_next(&rng) % 3) - 1) * PAGE_SIZE;
		else
			base = (1ULL << (32 + test_rng_next(&rng) % 20)) + (test_rng_next(&rng) % 64) * SIZE_2M;
		char out[1024];
		bool built = vmt_map_fb(base, w, hgt, width, out, sizeof(out));
		bool reachable = (base + bytes - 1) >> width == 0;
		paddr_t got = 0;
		bool good = built && (reachable ? vm_fb_virt == FB_BASE + (base & PAGE_MASK) &&
							pt_query(&kernel_pt, vm_fb_virt, &got, NULL, NULL) && got == base
						: vm_fb_virt == 0 && strstr(out, "physical address width") != NULL);
		mapped += reachable;
		refused += !reachable;
		n++;
		if (!good && bad++ < 4)
			printf("# width %u, framebuffer 0x%llx + 0x%llx: vm_fb_virt 0x%llx (translates to 0x%llx), said \"%.80s\"\n",
			       width, (unsigned long long)base, (unsigned long long)bytes, (unsigned long long)vm_fb_virt,
			       (unsigned long long)got, out);
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0 && mapped > 20 && refused > 20, "%u framebuffers at 4 GiB to 2^52: mapped at FB_BASE below the CPU's "
	   "width (%u), left out with a message past it (%u), the boot going on (%u wrong)", n, mapped, refused, bad);
}

/* vm.c vm_map_fb: a framebuffer of FB_MAX_SIZE bytes (its window at FB_BASE) is mapped whole; one page
 * more, from a mode or an offset into its first page, is refused with the message. */
static void test_fb_max_size(void)
{
	static const struct { uint32_t w, h; uint64_t offset; bool fits; } c[] = {
		{ 16384, 16384, 0, true },        /* exactly FB_MAX_SIZE */
		{ 16384, 16384, 64, false },      /* the same, 64 bytes into its first page: one page more */
		{ 16384, 16385, 0, false },       /* one line more */
		{ 16384, 16383, 4096, true },     /* one line less, a page in: 64 KiB under FB_MAX_SIZE */
	};
	unsigned bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(c); i++) {
		uint64_t bytes = (uint64_t)c[i].w * c[i].h * 4, base = (1ULL << 36) + c[i].offset;
		char out[1024];
		bool built = vmt_map_fb(base, c[i].w, c[i].h, 48, out, sizeof(out));
		paddr_t first = 0, last = 0;
		bool good = built && (c[i].fits ? vm_fb_virt == FB_BASE + (base & PAGE_MASK) &&
						  pt_query(&kernel_pt, vm_fb_virt, &first, NULL, NULL) && first == base &&
						  pt_query(&kernel_pt, vm_fb_virt + bytes - 1, &last, NULL, NULL) &&
						  last == base + bytes - 1
						: vm_fb_virt == 0 && strstr(out, "too large") != NULL);
		if (!good && bad++ < 4)
			printf("# %ux%u at 0x%llx (%llu bytes): vm_fb_virt 0x%llx, said \"%.80s\"\n", c[i].w, c[i].h,
			       (unsigned long long)base, (unsigned long long)bytes, (unsigned long long)vm_fb_virt, out);
	}
	ok(bad == 0, "framebuffers of up to FB_MAX_SIZE (1 GiB) of pages mapped whole at FB_BASE; one page more refused as too "
	   "large (%u wrong)", bad);
}

/*
 * vm.c vm_dmap_span: "False when nothing: ... entirely past those ends" (the direct map's end and the
 * CPU's physical width). Generated: CPU widths 36..52, descriptors of every direct-mapped type
 * starting 0..3 pages past min(64 TiB, 2^width) (on a page boundary or 1..4095 bytes off one), of
 * 1..64 pages, all below 2^52; and the same starting 1..3 pages below that limit. Oracle: false for
 * the first; for the second true with [start, limit).
 */
static void test_dmap_span_past_limit(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_DATA, EFI_LOADER_CODE, EFI_ACPI_NVS, EFI_ACPI_RECLAIM,
					  EFI_RT_CODE, EFI_RT_DATA, EFI_MEMORY_TYPE_KERNEL };
	static const unsigned widths[] = { 36, 39, 40, 44, 46, 47, 48, 52 };
	uint64_t rng = 0x5BA9ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 384; c++) {
		unsigned width = widths[c % ARRAY_SIZE(widths)];
		paddr_t limit = MIN(DMAP_SIZE, 1ULL << width);
		bool below = c % 2;
		uint64_t k = 1 + test_rng_next(&rng) % 3, off = c % 3 ? 0 : 1 + test_rng_next(&rng) % (PAGE_SIZE - 1);
		paddr_t at = below ? limit - k * PAGE_SIZE : limit + (k - 1) * PAGE_SIZE;
		struct efi_memory_descriptor d = { .type = types[(c / 2) % ARRAY_SIZE(types)], .phys_start = at + off,
						   .num_pages = 1 + test_rng_next(&rng) % 64 };
		if (below && d.num_pages < k)
			d.num_pages = k;
		fake_arch_set_phys_bits(width);
		paddr_t start = 0x1234;
		uint64_t size = 0x5678;
		bool got = vm_dmap_span(&d, &start, &size);
		bool good = below ? got && start == at && start + size == limit : !got;
		n++;
		if (!good && bad++ < 4)
			printf("# width %u, type 0x%x from 0x%llx, %llu pages: %s [0x%llx, +0x%llx)\n", width, d.type,
			       (unsigned long long)d.phys_start, (unsigned long long)d.num_pages, got ? "span" : "none",
			       (unsigned long long)start, (unsigned long long)size);
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0, "%u RAM descriptors from 3 pages below to 3 pages past the direct map's end or the CPU's width: "
	   "the span ends at that limit, none past it (%u wrong)", n, bad);
}

/*
 * vm.c vm_fb_pages: the pages [*start, *end) of the framebuffer's bytes, "An end past the top of the
 * address space is clamped to its last page". Generated modes whose last byte lies within 3 pages of
 * 2^64 (every one of the last two pages' first, middle and last bytes among them), and a few far
 * below. Oracle: start is the first byte's page, end min(the page past the last byte, 2^64 - 4 KiB);
 * none when the last byte is 2^64 - 1 (its end, 2^64, wraps: bootinfo_fb_bytes gives 0).
 */
static void test_fb_pages_at_top(void)
{
	uint64_t rng = 0xF0B7ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 240; c++) {
		uint32_t w = 640 + 64 * (uint32_t)(test_rng_next(&rng) % 8), h = 480 + (uint32_t)(test_rng_next(&rng) % 200);
		struct bootinfo_fb fb = { .width = w, .height = h, .pitch = w, .format = BOOTINFO_FB_BGRX };
		uint64_t bytes = (uint64_t)w * h * BOOTINFO_FB_BYTES_PER_PIXEL;
		static const uint64_t from_top[] = { 0, 1, 2048, 4095, 4096, 4097, 6000, 8191, 8192, 8193 };
		uint64_t back = c < 200 ? from_top[c % ARRAY_SIZE(from_top)] + (c / 10 % 2) * (test_rng_next(&rng) % 64)
					: SIZE_1G * (1 + test_rng_next(&rng) % 1000);
		uint64_t last = UINT64_MAX - back;   /* the framebuffer's last byte */
		fb.base = last - bytes + 1;
		fb.size = bytes;
		paddr_t start = 0, end = 0;
		bool got = vm_fb_pages(&fb, &start, &end);
		unsigned __int128 past = ((unsigned __int128)last + PAGE_SIZE) / PAGE_SIZE * PAGE_SIZE;
		paddr_t want_end = past > ALIGN_DOWN(UINT64_MAX, PAGE_SIZE) ? ALIGN_DOWN(UINT64_MAX, PAGE_SIZE) : (paddr_t)past;
		bool good = back == 0 ? !got   /* bootinfo_fb_bytes: a range ending at 2^64 wraps, no bytes */
				      : got && start == ALIGN_DOWN(fb.base, PAGE_SIZE) && end == want_end && start < end;
		n++;
		if (!good && bad++ < 4)
			printf("# framebuffer 0x%llx + 0x%llx: %d, [0x%llx, 0x%llx), want end 0x%llx\n",
			       (unsigned long long)fb.base, (unsigned long long)bytes, got, (unsigned long long)start,
			       (unsigned long long)end, (unsigned long long)want_end);
	}
	ok(bad == 0, "%u framebuffers ending within 3 pages of 2^64 and below: their pages from the first byte's to "
	   "the last byte's, clamped to 2^64 - 4 KiB (%u wrong)", n, bad);
}

/* True when kernel_pt maps va to pa with exactly the protection prot and the memory type cache. */
static bool vmt_leaf(vaddr_t va, paddr_t pa, unsigned prot, enum pt_cache cache)
{
	paddr_t got;
	uint64_t pte, size;
	if (!pt_query(&kernel_pt, va, &got, &pte, &size))
		return false;
	int level = size == SIZE_1G ? 3 : size == SIZE_2M ? 2 : 1;
	return got == pa && arch_pte_prot(pte, kernel_pt.features) == prot &&
	       arch_pte_cache(pte, level, kernel_pt.features) == cache;
}

/* True when p is one of the image's guard pages: below the boot stack or one of the boot CPU's IST
 * stacks (percpu.h's percpu_boot_ist). */
static bool vmt_guard_page(const char *p)
{
	bool guard = p == boot_stack_guard;
	for (int i = 0; i < PERCPU_IST_COUNT; i++)
		guard |= p == (const char *)percpu_boot_ist[i].guard;
	return guard;
}

/*
 * vm.h vm_init: "Builds kernel_pt (the image per section with its own protection, the guard pages
 * below the boot stack and the boot CPU's IST stacks left unmapped, the direct map of RAM, the
 * framebuffer write-combining) and switches CR3 to it"; vm.c: "the loader's global translations survive the CR3 load", so it flushes everything
 * after. Generated: images at 1..64 pages past 64 MiB, framebuffers (none, or a BGRX mode at 2..4 GiB,
 * on a page boundary or 64..4032 bytes past one). Oracle: every page of text is executable, of data
 * writable, of rodata and the symbols neither, each global and write-back at its frame; the four guard
 * pages (found by address, so one out of the image fails) and the pages either side of the image unmapped; the real RAM's ends in the direct map writable,
 * global, not executable, write-back; the framebuffer's first and last pages at FB_BASE writable,
 * global, not executable, write-combining, vm_fb_virt its first byte (0 without one); CR3 kernel_pt's
 * root, loaded once, and the last flush (after the guard pages') of every translation.
 */
static void test_vm_init(void)
{
	const unsigned X = PT_PROT_X, W = PT_PROT_W, G = PT_PROT_G;
	const struct { const char *from, *to; unsigned prot; } sec[] = {
		{ __text_start, __text_end, X | G }, { __rodata_start, __rodata_end, G },
		{ __data_start, __data_end, W | G },
		{ __ksyms_start, __kernel_end, G },
	};
	uint64_t rng = 0x1717ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 24; c++) {
		struct bootinfo bi = { .kernel_virt_base = (vaddr_t)__text_start,
				       .kernel_phys_base = 0x4000000 + (1 + test_rng_next(&rng) % 64) * PAGE_SIZE };
		if (c % 4) {
			uint32_t w = 640 + 64 * (uint32_t)(test_rng_next(&rng) % 16), h = 480 + (uint32_t)(test_rng_next(&rng) % 300);
			bi.fb = (struct bootinfo_fb){ .base = 0x80000000ULL + (test_rng_next(&rng) % 0x80000) * PAGE_SIZE +
							      (c % 4 == 3 ? 64 * (1 + test_rng_next(&rng) % 63) : 0),
						      .width = w, .height = h, .pitch = w, .format = BOOTINFO_FB_BGRX };
			bi.fb.size = bootinfo_fb_bytes(&bi.fb);
		}
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST << PAGE_SHIFT, REAL_END - REAL_FIRST, 0);
		capture_begin();
		int r = phys_init(m.buf, machine_map_size(&m), m.desc_size);
		char out[2048];
		capture_end(out, sizeof(out));
		bool good = r == 0;
		if (good) {
			vm_fb_virt = 0;
			fake_tlb_reset();
			vm_init(&bi);
		}
		const char *why = good ? NULL : "phys_init";
		for (unsigned i = 0; good && i < ARRAY_SIZE(sec); i++)
			for (const char *p = sec[i].from; good && p < sec[i].to; p += PAGE_SIZE)
				if (!vmt_guard_page(p) && !vmt_leaf((vaddr_t)p, bi.kernel_phys_base + ((vaddr_t)p - bi.kernel_virt_base), sec[i].prot,
					      PT_CACHE_WB))
					why = "an image page";
		good = !why;
		paddr_t got;
		unsigned guards = 0;
		for (const char *p = __text_start; good && p < __kernel_end; p += PAGE_SIZE)
			if (vmt_guard_page(p) && (guards++, pt_query(&kernel_pt, (vaddr_t)p, &got, NULL, NULL)))
				why = "a stack's guard page mapped";
		if (!why && guards != 1 + PERCPU_IST_COUNT)
			why = "not four guard pages in the image";
		good = !why;
		if (good && (pt_query(&kernel_pt, (vaddr_t)__text_start - PAGE_SIZE, &got, NULL, NULL) ||
			     pt_query(&kernel_pt, (vaddr_t)__kernel_end, &got, NULL, NULL)))
			why = "a page beside the image mapped";
		paddr_t ram_first = REAL_FIRST << PAGE_SHIFT, ram_last = (REAL_END - 1) << PAGE_SHIFT;
		if (!why && !(vmt_leaf(DMAP_BASE + ram_first, ram_first, W | G, PT_CACHE_WB) &&
			      vmt_leaf(DMAP_BASE + ram_last, ram_last, W | G, PT_CACHE_WB)))
			why = "the direct map";
		if (!why && bi.fb.format == BOOTINFO_FB_NONE && vm_fb_virt != 0)
			why = "vm_fb_virt without a framebuffer";
		if (!why && bi.fb.format != BOOTINFO_FB_NONE) {
			paddr_t first = ALIGN_DOWN(bi.fb.base, PAGE_SIZE);
			uint64_t last = ALIGN_DOWN(bi.fb.base + bi.fb.size - 1, PAGE_SIZE) - first;
			if (vm_fb_virt != FB_BASE + (bi.fb.base & PAGE_MASK) || !vmt_leaf(FB_BASE, first, W | G, PT_CACHE_WC) ||
			    !vmt_leaf(FB_BASE + last, first + last, W | G, PT_CACHE_WC))
				why = "the framebuffer";
		}
		if (!why && (arch_cr3_read() != kernel_pt.root || fake_tlb.cr3_loads != 1 || fake_tlb.alls != 1 ||
			     !fake_tlb.ev[fake_tlb.logged - 1].all))
			why = "CR3 or the flush";
		n++;
		if (why && bad++ < 4)
			printf("# image at 0x%llx, framebuffer 0x%llx + 0x%llx: %s wrong (CR3 loads %llu, flushes %llu, of all %llu)\n",
			       (unsigned long long)bi.kernel_phys_base, (unsigned long long)bi.fb.base,
			       (unsigned long long)bi.fb.size, why, (unsigned long long)fake_tlb.cr3_loads,
			       (unsigned long long)fake_tlb.flushes, (unsigned long long)fake_tlb.alls);
	}
	ok(bad == 0, "%u address spaces built by vm_init: the image's sections, the four guard pages, the direct map and the "
	   "framebuffer each with their own protection and memory type, CR3 loaded and every translation flushed "
	   "(%u wrong)", n, bad);
}

int main(void)
{
	fake_arch_init();
	test_dmap_holds_phys();
	test_dmap_overlaps();
	test_high_framebuffer_costs_the_screen();
	test_fb_max_size();
	test_dmap_span_past_limit();
	test_fb_pages_at_top();
	test_vm_init();
	return tap_done();
}
