/*
 * Review round 3 of the boot intake: what comes from outside the kernel at boot, here the firmware's
 * memory map as the physical allocator collects it (mm/phys.c) and as the summary's RAM picture reads
 * it (kernel/memview.c), and kernel.elf as elf_check judges it. Every test names the contract line it
 * holds the code to. TAP lines failing on the code as reviewed (each for the reason its test's
 * comment gives): 1 test_unaligned_usable_past_52bit_ignored, 2 test_unaligned_past_52bit_classes_disjoint,
 * 3 test_full_map_with_exception, 4 test_full_alternating_map_with_exception, 5 test_kept_out_counted_once.
 * Line 8, test_ram_picture_top_near_2_64, failed on the code as reviewed (the RAM picture wrote past
 * its cell array) and guards kernel/memview.c's fix, with line 9, test_ram_picture_end (the
 * picture's end rules). Coverage: 6 test_elf_pair_geometry; 7, that a map ending near 2^64 boots as
 * far as the summary.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "arch_mm.h"
#include "test_rng.h"
#include "capture.h"
#include "../../boot/elf_check.c"
#include "../../kernel/fbcon.c"
#include "../../kernel/memview.c"
#include "test_font.h"

static struct machine_map m;

/* Frames of the architectural 52-bit physical address space (README: "A usable descriptor whose RAM
 * would end past the 52-bit physical address space is ignored whole, with a message"). */
#define ARCH_FRAMES (1ULL << 40)
/* A reserved descriptor from here up keeps whatever the allocator wrongly keeps small: frames past
 * it never reach the buddy, so a defect shows as a count, never as a write past the fake RAM. */
#define CLAMP_FRAME 0x20000ULL

/* A usable descriptor starting `off` bytes (1..4095) past frame s whose page count takes its last
 * byte to 2^52 + off - 1: its RAM ends past the 52-bit space by less than a page. */
static void add_unaligned_past_52(uint32_t type, uint64_t s, uint64_t off)
{
	machine_map_add(&m, type, (s << PAGE_SHIFT) + off, ARCH_FRAMES - s, 0);
}

/*
 * README (physical memory): a usable descriptor whose RAM ends past the 52-bit physical address
 * space is ignored whole, with a message. Generated: every usable type, start offsets 1..4095 off a
 * page boundary (seeded), the descriptor's bytes ending 1..4095 bytes past 2^52 (its whole pages
 * end exactly at frame 2^40). The real RAM (64 MiB) alone must be managed and the message must
 * count the descriptor.
 */
static void test_unaligned_usable_past_52bit_ignored(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_CODE, EFI_LOADER_DATA };
	uint64_t rng = 0x52B17ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 40; c++) {
		uint64_t off = c < 3 ? (uint64_t[]){ 1, 0x800, 0xFFF }[c] : 1 + test_rng_next(&rng) % (PAGE_SIZE - 1);
		uint64_t s = 0x10000 + test_rng_next(&rng) % 0x8000;   /* 256..384 MiB */
		uint32_t type = types[c % ARRAY_SIZE(types)];
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);   /* 64 MiB of real RAM */
		machine_map_add(&m, EFI_MMIO, CLAMP_FRAME << PAGE_SHIFT, ARCH_FRAMES - CLAMP_FRAME, 0);
		add_unaligned_past_52(type, s, off);
		char out[2048];
		struct phys_stats st;
		int r = machine_phys_init(&m, out, sizeof(out), &st);
		bool told = strstr(out, "past the 52-bit physical address space") != NULL;
		bool good = r == 0 && st.usable_pages == 0x4000 && st.highest_pfn == 0x4100 && !phys_is_managed((s + 1) << 12) &&
			    told;
		n++;
		if (!good && bad++ < 4)
			printf("# type %u from 0x%llx (frame 0x%llx + %llu bytes), 0x%llx pages, ending at 2^52 + %llu: init %d, "
			       "usable %llu (want 16384), highest 0x%llx (want 0x4100), told %d\n", type,
			       (unsigned long long)((s << 12) + off), (unsigned long long)s, (unsigned long long)off,
			       (unsigned long long)(ARCH_FRAMES - s), (unsigned long long)off, r,
			       (unsigned long long)st.usable_pages, (unsigned long long)st.highest_pfn, told);
	}
	ok(bad == 0, "%u unaligned usable descriptors whose RAM ends past 2^52 by less than a page are ignored whole, "
	   "with the message (%u kept)", n, bad);
}

/* Hands the loader's ranges to the allocator (run in a child: a failed KASSERT aborts). */
static void release_loader(void *arg)
{
	(void)arg;
	phys_release_loader();
}

/*
 * phys.c: "The two usable sets (now, and loader-later) are disjoint by construction", and
 * phys_release_loader's ranges "are disjoint from everything phys_init freed". Two bogus usable
 * descriptors, one of each class, both starting off a page boundary and ending past 2^52 by less
 * than a page, over each other: each is kept as RAM of its own class (its whole pages end at frame
 * 2^40) but ignored as the other class's non-usable memory (its touched pages end past it), so
 * their common frames are both free now and held back for the loader. Generated over offsets and
 * placements: the counters must add up (usable = free + metadata + loader), phys_check must hold,
 * and handing the loader's memory over must not meet free frames.
 */
static void test_unaligned_past_52bit_classes_disjoint(void)
{
	uint64_t rng = 0xD15A0117ULL;
	unsigned n = 0, bad = 0, aborted = 0;
	for (unsigned c = 0; c < 12; c++) {
		uint64_t off_now = 1 + test_rng_next(&rng) % (PAGE_SIZE - 1), off_ldr = 1 + test_rng_next(&rng) % (PAGE_SIZE - 1);
		uint64_t s_now = 0x10000 + test_rng_next(&rng) % 0x1000, s_ldr = 0x12000 + test_rng_next(&rng) % 0x1000;
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);
		machine_map_add(&m, EFI_MMIO, CLAMP_FRAME << PAGE_SHIFT, ARCH_FRAMES - CLAMP_FRAME, 0);
		add_unaligned_past_52(c % 2 ? EFI_BS_DATA : EFI_CONVENTIONAL, s_now, off_now);
		add_unaligned_past_52(c % 3 ? EFI_LOADER_DATA : EFI_LOADER_CODE, s_ldr, off_ldr);
		char out[2048];
		struct phys_stats st;
		int r = machine_phys_init(&m, out, sizeof(out), &st);
		bool sums = st.usable_pages == st.free_pages + st.meta_pages + st.loader_pages + st.allocated_pages;
		int chk = r == 0 ? phys_check() : -1;
		bool dies = r == 0 && tap_aborts_with(release_loader, NULL, "met free frames");
		aborted += dies;
		n++;
		if ((r != 0 || !sums || chk != 0 || dies) && bad++ < 4)
			printf("# now-class from frame 0x%llx + %llu, loader-class from 0x%llx + %llu: init %d, usable %llu, "
			       "free %llu + meta %llu + loader %llu; phys_check %d; release aborts %d\n",
			       (unsigned long long)s_now, (unsigned long long)off_now, (unsigned long long)s_ldr,
			       (unsigned long long)off_ldr, r, (unsigned long long)st.usable_pages,
			       (unsigned long long)st.free_pages, (unsigned long long)st.meta_pages,
			       (unsigned long long)st.loader_pages, chk, dies);
	}
	ok(bad == 0, "%u maps with a usable-now and a loader descriptor ending just past 2^52 over each other: the "
	   "classes stay disjoint, the counters add up, the loader's release meets no free frame (%u bad, %u aborted)",
	   n, bad, aborted);
}

/* The map and exception of one phys_init_except run in a child (a failed KASSERT aborts it). */
struct except_run {
	paddr_t pa;
	uint64_t bytes;
	int result;
};

static void init_except(void *arg)
{
	struct except_run *x = arg;
	capture_begin();
	x->result = phys_init_except(m.buf, machine_map_size(&m), m.desc_size, x->pa, x->bytes);
	char out[4096];
	capture_end(out, sizeof(out));
}

/*
 * phys.h: PHYS_MAX_RANGES (2048) descriptors are considered, "a longer map is a clear panic", and
 * phys_init_except returns 0 "or a negative value with a printed reason". A map of exactly 2048
 * descriptors is within the limit: one usable range cut by 2047 reserved holes is 2048 pieces, and
 * the framebuffer's exception (which phys_tmp_b has room for) cuts one more, 2049, which phys_subtract
 * writes into the 2048-entry result under a KASSERT. Generated over where the exception falls
 * (inside a gap between two holes, or past them) and both strides: the call must return (0 or -1),
 * never assert.
 */
static void test_full_map_with_exception(void)
{
	enum { HOLES = PHYS_MAX_RANGES - 1, BASE = 0x100 };
	unsigned n = 0, asserted = 0;
	uint64_t rng = 0xF8E7ULL;
	for (unsigned c = 0; c < 8; c++) {
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, BASE << 12, 4 * HOLES + 64, 0);
		for (unsigned h = 0; h < HOLES; h++)
			machine_map_add(&m, h % 3 ? EFI_RESERVED : EFI_ACPI_NVS, (uint64_t)(BASE + 1 + 4 * h) << 12, 1, 0);
		/* the middle one of the 3 free frames between two holes, or a frame in the tail past the last hole */
		uint64_t frame = c < 4 ? BASE + 3 + 4 * (test_rng_next(&rng) % (HOLES - 1)) : BASE + 4 * HOLES + 8 + c;
		struct except_run x = { frame << 12, PAGE_SIZE, 0 };
		bool died = tap_aborts_with(init_except, &x, "range overflow");
		asserted += died;
		n++;
		if (died && asserted <= 2)
			printf("# %zu descriptors (stride %zu), exception at frame 0x%llx: KASSERT range overflow\n", m.n,
			       m.desc_size, (unsigned long long)frame);
	}
	ok(asserted == 0, "%u maps of %d descriptors (one usable range, %d holes) with a framebuffer exception inside: "
	   "phys_init_except returns, never asserts (%u asserted)", n, PHYS_MAX_RANGES, HOLES, asserted);
}

/* Runs init_except(x) in a child; true when the child returned from phys_init_except (whatever its
 * result, which lands in *x), false when it died (an assertion, an ASan report: its stderr in why). */
static bool init_except_returns(struct except_run *x, char *why, size_t cap)
{
	struct tap_child c = { .err = why, .err_size = cap, .back = &x->result, .back_size = sizeof(x->result) };
	int status = tap_child_void(&c, init_except, x);
	return c.back_got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * The same limit from the other side: phys_init_except copies the usable-now and the loader pieces
 * into phys_managed[PHYS_MAX_RANGES] before merging them. 2048 descriptors of 3 frames, usable-now and
 * loader alternating (never adjacent to their own kind, so every one is a piece), are 2048 pieces; the
 * framebuffer's exception in the middle of a usable-now one makes 2049, one entry past the array.
 * Generated over the descriptor cut and both strides: the call must return (0 or -1) without writing
 * past phys_managed (ASan names the overflow).
 */
static void test_full_alternating_map_with_exception(void)
{
	enum { BASE = 0x100, W = 3 };
	static char why[8192];
	unsigned n = 0, died = 0;
	uint64_t rng = 0xA17EULL;
	for (unsigned c = 0; c < 4; c++) {
		machine_map_init(&m, c % 2 ? 40 : 48);
		for (unsigned i = 0; i < PHYS_MAX_RANGES; i++)
			machine_map_add(&m, i % 2 ? (c < 2 ? EFI_LOADER_DATA : EFI_LOADER_CODE) : (c < 2 ? EFI_CONVENTIONAL : EFI_BS_DATA),
					(uint64_t)(BASE + W * i) << 12, W, 0);
		uint64_t cut = 2 * (test_rng_next(&rng) % (PHYS_MAX_RANGES / 2));   /* a usable-now descriptor */
		struct except_run x = { (uint64_t)(BASE + W * cut + 1) << 12, PAGE_SIZE, 0 };
		bool back = init_except_returns(&x, why, sizeof(why));
		n++;
		if (!back && died++ < 2) {
			char *line = strstr(why, "ERROR: AddressSanitizer");
			printf("# %d descriptors (stride %zu), the exception in descriptor %llu: the call died: %.160s\n",
			       PHYS_MAX_RANGES, m.desc_size, (unsigned long long)cut, line ? line : why);
		}
	}
	ok(died == 0, "%u maps of %d alternating usable-now and loader descriptors with a framebuffer exception: "
	   "phys_init_except returns without writing past its range arrays (%u died)", n, PHYS_MAX_RANGES, died);
}

/*
 * phys.h: phys_init_except reports the "Frames of it the map listed as usable"; kernel/main.c prints
 * it as "the map lists N pages of [fb, +bytes) as usable RAM". A firmware that lists the framebuffer
 * inside both a usable-now and a loader descriptor (overlapping: a hostile map) lists each of its
 * frames once as usable, yet the count adds the two classes' overlaps. Generated over framebuffer
 * placement and size inside the doubly listed range, and over how much of it the loader descriptor
 * covers: the reported count must be the framebuffer's frames the map lists as usable, each once.
 */
static void test_kept_out_counted_once(void)
{
	uint64_t rng = 0xFB2ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 64; c++) {
		uint64_t ld = 0x1000 + test_rng_next(&rng) % 0x800, ldn = 0x40 + test_rng_next(&rng) % 0x400;
		uint64_t fb = ld + test_rng_next(&rng) % ldn, fbn = 1 + test_rng_next(&rng) % 0x300;
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x3000, 0);   /* frames [0x100, 0x3100) */
		machine_map_add(&m, c % 3 ? EFI_LOADER_DATA : EFI_LOADER_CODE, ld << 12, ldn, 0);
		capture_begin();
		int r = phys_init_except(m.buf, machine_map_size(&m), m.desc_size, fb << 12, fbn << 12);
		char out[2048];
		capture_end(out, sizeof(out));
		/* the framebuffer's frames the map lists as usable (any class): those inside [0x100, 0x3100) */
		uint64_t lo = MAX(fb, 0x100ULL), hi = MIN(fb + fbn, 0x3100ULL), want = hi > lo ? hi - lo : 0;
		unsigned long long said = 0;
		const char *msg = strstr(out, "phys: the map lists ");
		bool good = r == 0 && msg && sscanf(msg, "phys: the map lists %llu", &said) == 1 && said == want;
		n++;
		if (!good && bad++ < 4)
			printf("# usable [0x100, 0x3100), loader [0x%llx, 0x%llx), framebuffer frames [0x%llx, 0x%llx): init %d, "
			       "reported %llu pages, the map lists %llu\n", (unsigned long long)ld, (unsigned long long)(ld + ldn),
			       (unsigned long long)fb, (unsigned long long)(fb + fbn), r, said, (unsigned long long)want);
	}
	ok(bad == 0, "%u framebuffers listed as both usable-now and loader memory: the report counts each frame once "
	   "(%u overcounted)", n, bad);
}

/* ---------------------------------------------------------------- kernel.elf: two segments */

/* A two-PT_LOAD kernel file: the ELF header, two program headers and a PT_NOTE, 0x4000 bytes of
 * segment data, then the boot-information note of this build (include/bootinfo.h). */
#define PAIR_DATA_OFF 0x100
#define PAIR_NOTE_OFF (PAIR_DATA_OFF + 0x4000)
#define PAIR_NOTE_LEN (ELF_NOTE_HEADER + BOOTINFO_NOTE_NAME_PADDED + sizeof(struct bootinfo_note))
#define PAIR_FILE_LEN (PAIR_NOTE_OFF + PAIR_NOTE_LEN)
static uint8_t pair_file[PAIR_FILE_LEN];

/* Writes the file for segments a = [va, +la) (R+X, all file bytes, the entry at its first byte) and
 * b = [vb, +lb) with flags fb (file bytes: half of it), both with p_align 1 and p_paddr = p_vaddr. */
static void pair_build(uint64_t va, uint64_t la, uint64_t vb, uint64_t lb, uint32_t fb)
{
	memset(pair_file, 0, sizeof(pair_file));
	Elf64_Ehdr eh = { .e_ident = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV },
			  .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT, .e_entry = va,
			  .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
			  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 3 };
	const uint32_t note[3] = { sizeof(BOOTINFO_NOTE_NAME), sizeof(struct bootinfo_note), BOOTINFO_NOTE_TYPE };
	const struct bootinfo_note desc = { BOOTINFO_VERSION, sizeof(struct bootinfo) };
	Elf64_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = PAIR_DATA_OFF, .p_vaddr = va, .p_paddr = va,
		  .p_filesz = la, .p_memsz = la, .p_align = 1 },
		{ .p_type = PT_LOAD, .p_flags = fb, .p_offset = PAIR_DATA_OFF + 0x2000, .p_vaddr = vb, .p_paddr = vb,
		  .p_filesz = lb / 2, .p_memsz = lb, .p_align = 1 },
		{ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = PAIR_NOTE_OFF, .p_filesz = PAIR_NOTE_LEN,
		  .p_memsz = PAIR_NOTE_LEN, .p_align = 4 },
	};
	memcpy(pair_file, &eh, sizeof(eh));
	memcpy(pair_file + sizeof(eh), ph, sizeof(ph));
	memcpy(pair_file + PAIR_NOTE_OFF, note, sizeof(note));
	memcpy(pair_file + PAIR_NOTE_OFF + sizeof(note), BOOTINFO_NOTE_NAME, sizeof(BOOTINFO_NOTE_NAME));
	memcpy(pair_file + PAIR_NOTE_OFF + sizeof(note) + BOOTINFO_NOTE_NAME_PADDED, &desc, sizeof(desc));
}

/*
 * README ("What the loader refuses", two PT_LOADs): overlap in memory is seg_overlap; a writable and
 * an executable segment sharing a page is seg_shared_page_wx; otherwise the image is accepted with
 * a plan of both segments in one block from the first one's page to the last one's end rounded up.
 * Generated: an R+X segment and a second one (R, R+W, R+X) after it at distances -2..+2 bytes and
 * around the next page boundaries, the first one ending anywhere in a page or a byte either side of a
 * page boundary; an oracle computed here.
 */
static void test_elf_pair_geometry(void)
{
	static const uint32_t flags[] = { PF_R, PF_R | PF_W, PF_R | PF_X };
	static const int64_t gaps[] = { -2, -1, 0, 1, 2, 0xFFF, 0x1000, 0x1001 };
	uint64_t rng = 0xE1F2ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 3000; c++) {
		uint64_t va = KERNEL_BASE + (test_rng_next(&rng) % 4) * 0x1000 + (c % 5 ? 0 : test_rng_next(&rng) % 0x1000);
		uint64_t la = 1 + test_rng_next(&rng) % 0x1800, lb = 1 + test_rng_next(&rng) % 0x1800;
		if (c % 2)   /* a's end at a page boundary, or a byte either side of one */
			la = 0x1000 * (1 + test_rng_next(&rng) % 2) - (va & 0xFFF) + (test_rng_next(&rng) % 3) - 1;
		int64_t gap = gaps[test_rng_next(&rng) % ARRAY_SIZE(gaps)];
		if ((int64_t)la + gap < 0)
			continue;
		uint64_t vb = va + la + gap;
		uint32_t fb = flags[c % 3];
		pair_build(va, la, vb, lb, fb);
		struct elf_plan plan;
		struct elf_verdict v;
		enum elf_rule got = elf_check(pair_file, PAIR_FILE_LEN, &plan, &v);
		bool overlap = gap < 0, shared = (fb & PF_W) && (va + la - 1) / 4096 == vb / 4096;
		enum elf_rule want = overlap ? ELF_SEG_OVERLAP : shared ? ELF_SEG_SHARED_PAGE_WX : ELF_OK;
		bool good = got == want;
		if (good && want == ELF_OK) {
			uint64_t base = va & ~0xFFFULL, end = (vb + lb + 0xFFF) & ~0xFFFULL;
			good = plan.nsegs == 2 && plan.virt_base == base && plan.size == end - base && plan.entry == va &&
			       plan.seg[0].vaddr == va && plan.seg[1].vaddr == vb && plan.seg[1].filesz == lb / 2 &&
			       plan.seg[1].flags == fb;
		} else if (good) {
			good = v.phdr == 0 && v.other == 1 && plan.nsegs == 0;
		}
		n++;
		if (!good && bad++ < 4)
			printf("# R+X [0x%llx, +0x%llx), flags %u [0x%llx, +0x%llx): %s, want %s\n", (unsigned long long)va,
			       (unsigned long long)la, fb, (unsigned long long)vb, (unsigned long long)lb, elf_rule_name(got),
			       elf_rule_name(want));
	}
	ok(bad == 0 && n > 2500, "%u two-segment kernels (gaps -2..+0x1001 bytes, R, R+W or R+X after R+X): overlap, "
	   "a W+X shared page or a plan as the oracle says", n);
}

/* ---------------------------------------------------------------- the memory map in the RAM picture */

/* One memview_ram run in a child: the box summary_check_pictures uses (no screen). */
struct ram_picture_run {
	struct memview_result res;
};

static void ram_picture(void *arg)
{
	struct ram_picture_run *x = arg;
	struct memview_box box = { 0, 0, 640, 160, false };
	memview_ram(&box, "", m.buf, machine_map_size(&m), m.desc_size, &x->res);
}

/* ram_picture for a child's exit status: 0 when its grid has at most MEMVIEW_MAX_CELLS cells, 9 when more. */
static int ram_picture_within(void *arg)
{
	struct ram_picture_run *x = arg;
	ram_picture(x);
	return x->res.cells <= MEMVIEW_MAX_CELLS ? 0 : 9;
}

/*
 * kernel/summary.c runs memview_ram on the firmware's map at every boot (summary_check_pictures,
 * screen or not), and the loader passes an EfiUnusableMemory, EfiPersistentMemory or OS-defined
 * descriptor of any size (boot/memmap.c counts none of them as RAM). The review found the picture
 * ended at the highest end of any "RAM" descriptor (every type but reserved, MMIO and PAL code),
 * skipping only ends that wrapped: an end within a few thousand pages of 2^64 made
 * memview_grid_choose's (npages + fit - 1) wrap, to a chunk of 1 page, (unsigned)UINT64_MAX cells,
 * and memview_ram_count zeroed memview_cell[] (2048 entries) that far. The test guards the fix (the
 * picture ignores RAM past 2^52 and ends within the CPU's width; its grid never passes
 * MEMVIEW_MAX_CELLS). Generated ends 2^64 - 1 - j for small j, several types and starts, in a child:
 * the call must return with at most MEMVIEW_MAX_CELLS cells.
 */
static void test_ram_picture_top_near_2_64(void)
{
	static const uint32_t types[] = { EFI_UNUSABLE, EFI_PERSISTENT, 15 /* undefined */, 0x80000002u, 0x70000000u };
	uint64_t rng = 0x2E64ULL;
	unsigned n = 0, bad = 0, booted = 0;
	for (unsigned c = 0; c < 10; c++) {
		/* above the real RAM, so the boot gets this far: phys_init keeps the RAM, the loader skips the type */
		uint64_t first = 0x10000 + test_rng_next(&rng) % 0x100000, j = c % 5 == 0 ? 0 : test_rng_next(&rng) % 2048;
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);
		machine_map_add(&m, types[c % ARRAY_SIZE(types)], first << 12, UINT64_MAX - first - j, 0);
		char out[2048];
		struct phys_stats st;
		int r = machine_phys_init(&m, out, sizeof(out), &st);
		booted += r == 0 && st.usable_pages == 0x4000;
		struct ram_picture_run x = { 0 };
		struct tap_child ch = { .quiet_err = c > 0 };   /* the sanitizer's report once */
		int status = tap_child(&ch, ram_picture_within, &x);
		bool good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		n++;
		if (!good && bad++ < 3)
			printf("# type 0x%x from frame 0x%llx, 0x%llx pages (ends at frame 2^64 - %llu): %s\n",
			       types[c % ARRAY_SIZE(types)], (unsigned long long)first, (unsigned long long)(UINT64_MAX - first - j),
			       (unsigned long long)(j + 1), WIFEXITED(status) && WEXITSTATUS(status) == 9 ? "more cells than the array" :
			       "the call died (write past memview_cell)");
	}
	ok(booted == n, "the %u maps keep their 64 MiB of RAM in phys_init (a boot reaches the summary)", n);
	ok(bad == 0, "%u maps with a non-usable \"RAM\" descriptor ending just below frame 2^64: the RAM picture "
	   "stays within its %d cells (%u wrong)", n, MEMVIEW_MAX_CELLS, bad);
}

/* The picture memview_ram draws of the map m, run in a child (a write past memview_cell dies there):
 * true when the child returned, its result in *res. */
static bool ram_picture_returns(struct memview_result *res)
{
	struct ram_picture_run x = { 0 };
	struct tap_child c = { .back = &x.res, .back_size = sizeof(x.res) };
	int status = tap_child_void(&c, ram_picture, &x);
	*res = x.res;
	return c.back_got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * README: the summary's picture of physical memory runs "up to the end of RAM". Its end is the
 * highest end of a RAM descriptor whose bytes end within the 52-bit physical address space (a
 * descriptor past it, or wrapping past 2^64, is a firmware's bug the kernel ignores whole: mm/phys.c,
 * kernel/vm.c, boot/memmap.c), cut at the CPU's physical width (no frame exists past it). Generated:
 * CPU widths 36..52, one RAM descriptor of many types (usable ones kept small for the allocator by
 * an MMIO range over them), starting on or 1..4095 bytes off a page boundary and ending two pages
 * either side of 2^52, of the CPU's width, of 2^64 (wrapping) or anywhere below the width; an
 * oracle computed on 128-bit integers: the picture's cells must cover exactly the pages up to that
 * end (chunk x (cells - 1) < end <= chunk x cells), at most MEMVIEW_MAX_CELLS of them, and its
 * walkers must agree.
 */
static void test_ram_picture_end(void)
{
	static const uint32_t types[] = { EFI_ACPI_NVS, EFI_RT_DATA, EFI_UNUSABLE, EFI_PERSISTENT, 0x80000002u,
					  EFI_CONVENTIONAL, EFI_LOADER_DATA, EFI_MEMORY_TYPE_KERNEL };
	static const unsigned widths[] = { 36, 39, 40, 44, 46, 48, 52 };
	const unsigned __int128 arch_end = (unsigned __int128)1 << 52;
	uint64_t rng = 0x9E7DULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 400; c++) {
		unsigned width = widths[c % ARRAY_SIZE(widths)];
		uint64_t off = c % 3 ? 0 : 1 + test_rng_next(&rng) % (PAGE_SIZE - 1);
		uint64_t first = 0x10000 + test_rng_next(&rng) % 0x8000;   /* past the real RAM, below the MMIO */
		int64_t d = (int64_t)(test_rng_next(&rng) % 5) - 2;
		unsigned kind = (c / ARRAY_SIZE(widths)) % 4;
		unsigned __int128 edge = kind == 0 ? arch_end : kind == 1 ? (unsigned __int128)1 << width
				       : kind == 2 ? (unsigned __int128)1 << 64
						   : ((unsigned __int128)first + 1 + test_rng_next(&rng) % ((1ULL << (width - 12)) - first)) << 12;
		unsigned __int128 last = edge + (kind == 3 ? 0 : (__int128)d * 4096);   /* the whole pages' end */
		uint64_t pages = (uint64_t)(last / 4096 - first);
		fake_arch_set_phys_bits(width);
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, 0x4000, 0);   /* 64 MiB of real RAM: frames to 0x4100 */
		machine_map_add(&m, EFI_MMIO, CLAMP_FRAME << PAGE_SHIFT, ARCH_FRAMES - CLAMP_FRAME, 0);
		machine_map_add(&m, types[c % ARRAY_SIZE(types)], (first << PAGE_SHIFT) + off, pages, 0);
		char out[2048];
		int r = machine_phys_init(&m, out, sizeof(out), NULL);
		unsigned __int128 end = ((unsigned __int128)first << PAGE_SHIFT) + off + (unsigned __int128)pages * 4096;
		unsigned __int128 top = 0x4100, width_end = (unsigned __int128)1 << (width - 12);
		if (pages && end <= arch_end) {
			unsigned __int128 e = (end + 4095) / 4096;
			e = e < width_end ? e : width_end;
			top = e > top ? e : top;
		}
		struct memview_result res;
		bool back = r == 0 && ram_picture_returns(&res);
		bool good = back && res.cells >= 1 && res.cells <= MEMVIEW_MAX_CELLS &&
			    (unsigned __int128)res.chunk_pages * (res.cells - 1) < top &&
			    top <= (unsigned __int128)res.chunk_pages * res.cells && res.agree;
		n++;
		if (!good && bad++ < 4)
			printf("# width %u, type 0x%x from 0x%llx, 0x%llx pages: init %d, %s, %u cells of %llu pages (want the "
			       "picture to end at frame 0x%llx), agree %d %s\n", width, types[c % ARRAY_SIZE(types)],
			       (unsigned long long)((first << PAGE_SHIFT) + off), (unsigned long long)pages, r,
			       back ? "returned" : "died", back ? res.cells : 0, back ? (unsigned long long)res.chunk_pages : 0,
			       (unsigned long long)top, back && res.agree, back ? res.note : "");
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0, "%u RAM descriptors ending around 2^52, the CPU's width, 2^64 and below it: the RAM picture ends at "
	   "the last RAM within 2^52 and the width, in at most %d cells, its walkers agreeing (%u wrong)", n,
	   MEMVIEW_MAX_CELLS, bad);
}

int main(void)
{
	fake_arch_init();
	test_unaligned_usable_past_52bit_ignored();
	test_unaligned_past_52bit_classes_disjoint();
	test_full_map_with_exception();
	test_full_alternating_map_with_exception();
	test_kept_out_counted_once();
	test_elf_pair_geometry();
	test_ram_picture_top_near_2_64();
	test_ram_picture_end();
	return tap_done();
}
