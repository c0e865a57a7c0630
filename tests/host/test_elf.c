/*
 * Host test of the loader's ELF rules (boot/elf_check.c, compiled here unchanged): every case of
 * the catalogue (tests/host/elf_cases.h, at least one per rule) on a synthetic minimal kernel
 * must get its rule and program headers; every truncation of a valid file is refused; generated
 * edges (page ends, alignments, two segments' geometry, the boot-information note's sizes, its
 * padding and the notes before it) get the verdict their layout implies; and a property test
 * applies random mutations (fields set to boundary, neighbouring and random values, note fields
 * among them, byte flips, truncations, extensions, swapped program headers, stacked on the valid
 * variations of the catalogue) and has tests/host/elf_verify.h judge each outcome: accepted
 * with a plan inside the file and the window, ascending and without overlap, or refused with a
 * reason that holds. Each call gets an exact-size heap copy, so ASan sees any read outside it.
 * ELF_TEST_SEED and ELF_TEST_ITERATIONS override the property test's seed and length. TAP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "../../boot/elf_check.c"
#include "elf_cases.h"
#include "elf_verify.h"
#include "test_rng.h"

/* ------------------------------------------------------------------ PRNG */

static uint64_t rng_state;

/* The next value of the test's splitmix64 sequence. */
static uint64_t rnd(void) { return test_splitmix_next(&rng_state); }

/* Uniform in [0, n), n >= 1. */
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* ------------------------------------------------------------------ running the check */

/* elf_check on an exact-size copy of the image, twice; fails the process on any inconsistency
 * between the two runs or a write to the input. Returns the rule; *why gets the judge's word. */
static enum elf_rule run_check(const struct elf_image *img, struct elf_plan *plan,
			       struct elf_verdict *v, const char **why)
{
	uint8_t *copy = malloc(img->len ? img->len : 1);
	struct elf_plan plan2;
	struct elf_verdict v2;

	memcpy(copy, img->buf, img->len);
	memset(plan, 0xa5, sizeof(*plan));   /* elf_check must set every byte */
	memset(v, 0xa5, sizeof(*v));
	enum elf_rule rule = elf_check(copy, img->len, plan, v);
	enum elf_rule rule2 = elf_check(copy, img->len, &plan2, &v2);
	if (rule2 != rule || memcmp(&plan2, plan, sizeof(plan2)) || v2.rule != v->rule ||
	    v2.phdr != v->phdr || v2.other != v->other || v2.value != v->value)
		*why = "two runs on the same input disagree";
	else if (memcmp(copy, img->buf, img->len) != 0)
		*why = "elf_check wrote to its input";
	else
		*why = elf_verify(copy, img->len, rule, v, plan);
	free(copy);
	return rule;
}

/* ------------------------------------------------------------------ catalogue */

/* The synthetic kernel is accepted with exactly the plan its layout implies. */
static void test_synthetic_plan(void)
{
	struct elf_image img;
	struct elf_plan p;
	struct elf_verdict v;
	const char *why;

	img_synthetic(&img);
	is(run_check(&img, &p, &v, &why), ELF_OK, "synthetic kernel accepted");
	ok(why == NULL, "synthetic kernel: the judge agrees (%s)", why ? why : "ok");
	is(p.nsegs, 3, "synthetic kernel: three segments planned (GNU_STACK is not one)");
	is(p.virt_base, KERNEL_BASE, "synthetic kernel: virt_base");
	is(p.size, 0x4000, "synthetic kernel: size runs to the page after .bss");
	is(p.entry, KERNEL_BASE + 0x200, "synthetic kernel: entry");
	is(p.seg[2].filesz, 0x40, "synthetic kernel: data file bytes");
	is(p.seg[2].memsz, 0x1000, "synthetic kernel: data memory, .bss included");
	img_free(&img);
}

/* Each case gets its rule, the program headers it names, and a verdict the judge accepts. */
static void test_cases(void)
{
	int covered[ELF_RULE_COUNT] = { 0 };

	for (size_t i = 0; i < ELF_NCASES; i++) {
		const struct elf_case *c = &elf_cases[i];
		struct elf_image img;
		struct elf_plan p;
		struct elf_verdict v;
		const char *why;

		img_synthetic(&img);
		c->mutate(&img);
		enum elf_rule rule = run_check(&img, &p, &v, &why);
		int good = rule == c->rule && v.phdr == img.want_phdr && v.other == img.want_other && why == NULL;
		ok(good, "case %s: %s", c->name, elf_rule_name(c->rule));
		if (!good)
			printf("#   got %s (phdr %d, other %d, value 0x%llx), want phdr %d other %d; judge: %s\n",
			       elf_rule_name(rule), v.phdr, v.other, (unsigned long long)v.value, img.want_phdr,
			       img.want_other, why ? why : "ok");
		covered[c->rule]++;
		img_free(&img);
	}
	for (int r = 0; r < ELF_RULE_COUNT; r++)
		ok(covered[r] > 0, "rule %s has a case in the catalogue", elf_rule_name((enum elf_rule)r));
}

/* Names are unique, texts are present and end without a period (the loader adds it). */
static void test_texts(void)
{
	int good = 1;

	for (int r = 0; r < ELF_RULE_COUNT; r++) {
		const char *pr = elf_rule_problem((enum elf_rule)r), *re = elf_rule_remedy((enum elf_rule)r);
		if (!pr[0] || !re[0] || pr[strlen(pr) - 1] == '.' || re[strlen(re) - 1] == '.')
			good = 0;
		for (int s = 0; s < r; s++)
			if (!strcmp(elf_rule_name((enum elf_rule)r), elf_rule_name((enum elf_rule)s)))
				good = 0;
	}
	ok(good, "every rule has a unique name, a problem and a remedy");
	ok(!strcmp(elf_rule_name(ELF_RULE_COUNT), "?") && !strcmp(elf_rule_name((enum elf_rule)-1), "?"),
	   "an out-of-range rule is named \"?\"");
}

/* Every proper prefix of the valid file is refused (and the judge agrees why). */
static void test_truncations(void)
{
	struct elf_image img;
	struct elf_plan p;
	struct elf_verdict v;
	const char *why;
	size_t full, bad = 0;

	img_synthetic(&img);
	full = img.len;
	for (size_t len = 0; len < full; len++) {
		img.len = len;
		if (run_check(&img, &p, &v, &why) == ELF_OK || why != NULL) {
			if (bad++ == 0)
				printf("#   length %zu: %s, judge: %s\n", len, elf_rule_name(v.rule), why ? why : "ok");
		}
	}
	ok(bad == 0, "every truncation of the synthetic kernel (0..%zu bytes) refused", full - 1);
	img_free(&img);
}

/* ------------------------------------------------------------------ generated edges */

/*
 * The image's size at every end offset inside two pages: the data segment's memory size swept so
 * its end falls on each byte from a page boundary minus one to two pages on; size is the end
 * rounded up to a page, from virt_base (an end one byte past a page needs the next page).
 */
static void test_sizes_at_page_ends(void)
{
	size_t bad = 0, n = 0;

	for (uint64_t memsz = 0x40; memsz <= 0x2040; memsz++) {
		struct elf_image img;
		struct elf_plan p;
		struct elf_verdict v;
		const char *why;

		img_synthetic(&img);
		img_ph(&img, IMG_DATA(&img))->p_memsz = memsz;
		uint64_t end = img_ph(&img, IMG_DATA(&img))->p_vaddr + memsz;
		uint64_t want = ((end + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1)) - KERNEL_BASE;
		n++;
		if ((run_check(&img, &p, &v, &why) != ELF_OK || why != NULL || p.size != want) && bad++ < 5)
			printf("#   data memsz 0x%llx (end page offset 0x%llx): %s, size 0x%llx, want 0x%llx; judge: %s\n",
			       (unsigned long long)memsz, (unsigned long long)(end % ELF_PAGE_SIZE),
			       elf_rule_name(v.rule), (unsigned long long)p.size, (unsigned long long)want, why ? why : "ok");
		img_free(&img);
	}
	ok(bad == 0, "%zu end offsets across page boundaries: size is the end rounded up to a page", n);
}

/*
 * p_offset and p_vaddr modulo every power-of-two p_align from 2 to the page size: the text
 * segment moved in memory by each power of two below and at the alignment (its entry with it) is
 * refused as not congruent exactly when the move is not a multiple of p_align.
 */
static void test_congruence_every_align(void)
{
	size_t bad = 0, n = 0;

	for (uint64_t align = 2; align <= ELF_PAGE_SIZE; align <<= 1)
		for (uint64_t move = 1; move <= align; move <<= 1) {
			struct elf_image img;
			struct elf_plan p;
			struct elf_verdict v;
			const char *why;
			int text;

			img_synthetic(&img);
			text = IMG_TEXT(&img);
			img_ph(&img, text)->p_align = align;
			img_ph(&img, text)->p_vaddr += move;
			img_ph(&img, text)->p_paddr += move;
			img_eh(&img)->e_entry += move;
			enum elf_rule want = move % align ? ELF_SEG_CONGRUENT : ELF_OK;
			enum elf_rule got = run_check(&img, &p, &v, &why);
			n++;
			if ((got != want || why != NULL || (got != ELF_OK && v.phdr != text)) && bad++ < 5)
				printf("#   p_align 0x%llx, moved 0x%llx: %s (phdr %d), want %s; judge: %s\n",
				       (unsigned long long)align, (unsigned long long)move, elf_rule_name(got), v.phdr,
				       elf_rule_name(want), why ? why : "ok");
			img_free(&img);
		}
	ok(bad == 0, "%zu alignments and moves: congruence refused exactly when p_vaddr - p_offset is no multiple", n);
}

/* Moves program header `from` to index 0, the ones before it one place on. */
static void img_move_first(struct elf_image *img, int from)
{
	Elf64_Phdr first = *img_ph(img, from);

	for (int i = from; i > 0; i--)
		*img_ph(img, i) = *img_ph(img, i - 1);
	*img_ph(img, 0) = first;
}

/*
 * An empty PT_LOAD (p_memsz 0) is no placement: put first, at or below the text's address, with
 * any flags but W+X and a p_paddr inside or beside every other segment's, it changes nothing but
 * the program header indices of the plan.
 */
static void test_empty_load_anywhere(void)
{
	static const uint32_t flags[] = { 0, PF_R, PF_W, PF_X, PF_R | PF_W, PF_R | PF_X };
	size_t bad = 0, n = 0;
	struct elf_image ref_img;
	struct elf_plan ref;
	struct elf_verdict v;
	const char *why;

	img_synthetic(&ref_img);
	run_check(&ref_img, &ref, &v, &why);
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
		for (uint64_t below = 0; below <= 0x200; below += 0x80)
			for (uint64_t paddr = 0; paddr < 0x3000; paddr += 0x1c0) {
				struct elf_image img;
				struct elf_plan p;
				int e;

				img_synthetic(&img);
				e = img_add_phdr(&img);
				*img_ph(&img, e) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = flags[f],
					.p_vaddr = img_ph(&img, IMG_TEXT(&img))->p_vaddr - below,
					.p_paddr = KERNEL_BASE + paddr, .p_align = ELF_PAGE_SIZE };
				img_ph(&img, e)->p_offset = img_ph(&img, e)->p_vaddr % ELF_PAGE_SIZE;   /* congruent */
				img_move_first(&img, e);
				enum elf_rule got = run_check(&img, &p, &v, &why);
				int same = got == ELF_OK && why == NULL && p.nsegs == ref.nsegs && p.size == ref.size &&
					   p.virt_base == ref.virt_base && p.entry == ref.entry;
				for (uint32_t i = 0; same && i < p.nsegs; i++)
					same = p.seg[i].vaddr == ref.seg[i].vaddr && p.seg[i].memsz == ref.seg[i].memsz &&
					       p.seg[i].phdr == ref.seg[i].phdr + 1;
				n++;
				if (!same && bad++ < 5)
					printf("#   empty load flags %u at text - 0x%llx, p_paddr base + 0x%llx: %s (phdrs %d, %d); judge: %s\n",
					       flags[f], (unsigned long long)below, (unsigned long long)paddr, elf_rule_name(got),
					       v.phdr, v.other, why ? why : "ok");
				img_free(&img);
			}
	ok(bad == 0, "%zu empty PT_LOADs placed first, any flags, p_paddr anywhere: the plan is unchanged", n);
	img_free(&ref_img);
}

/* The smallest kernels: one executable segment of 1 to 64 bytes (the others emptied) is a plan of one page. */
static void test_tiny_kernels(void)
{
	size_t bad = 0;

	for (uint64_t size = 1; size <= 64; size++) {
		struct elf_image img;
		struct elf_plan p;
		struct elf_verdict v;
		const char *why;

		img_synthetic(&img);
		img_ph(&img, IMG_TEXT(&img))->p_filesz = size;
		img_ph(&img, IMG_TEXT(&img))->p_memsz = size;
		img_eh(&img)->e_entry += size - 1;   /* its last byte */
		for (int i = IMG_RODATA(&img); i <= IMG_DATA(&img); i++)
			img_ph(&img, i)->p_filesz = img_ph(&img, i)->p_memsz = 0;
		if ((run_check(&img, &p, &v, &why) != ELF_OK || why != NULL || p.nsegs != 1 || p.size != ELF_PAGE_SIZE) &&
		    bad++ < 5)
			printf("#   text of %llu bytes: %s, %u segments, size 0x%llx; judge: %s\n", (unsigned long long)size,
			       elf_rule_name(v.rule), p.nsegs, (unsigned long long)p.size, why ? why : "ok");
		img_free(&img);
	}
	ok(bad == 0, "kernels of one 1..64-byte executable segment: accepted, one segment, one page");
}

/*
 * Two segments' geometry swept byte by byte around their pages: the text (R+X, file bytes at its
 * start, the entry there) ends at every offset near page boundaries, and a second segment (all
 * zero fill, so its file offset only has to be congruent) starts at every offset from the text's
 * start to two pages past its end, writable or read-only. The verdict must be the one the layout
 * implies: overlap in memory (and p_paddr, checked after it) refused as seg_overlap naming both,
 * a writable segment on a page the text touches refused as seg_shared_page_wx, anything else
 * accepted with both segments planned and the size running to the page after the second.
 */
static void test_two_segment_geometry(void)
{
	static const uint64_t text_sizes[] = { 0x40, 0xdff, 0xe00, 0xe01, 0xeff, 0x1dff, 0x1e00, 0x1e01 };
	static const uint32_t flags[] = { PF_R | PF_W, PF_R, PF_W };
	size_t bad = 0, n = 0, per[ELF_RULE_COUNT] = { 0 };

	for (size_t t = 0; t < sizeof(text_sizes) / sizeof(text_sizes[0]); t++)
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			uint64_t t0 = KERNEL_BASE + 0x200, tend = t0 + text_sizes[t];
			for (uint64_t v = t0; v < tend + 2 * ELF_PAGE_SIZE; v++) {
				uint64_t near_end = v + 2 >= tend && v <= tend + 2;
				uint64_t near_page = (v + 2) % ELF_PAGE_SIZE <= 4;
				if (!near_end && !near_page && (v - t0) % 0x40)
					continue;   /* every byte near the text's end and the page boundaries, every 64th elsewhere */
				struct elf_image img;
				struct elf_plan p;
				struct elf_verdict vd;
				const char *why;
				int text, ro, data;

				img_synthetic(&img);
				text = IMG_TEXT(&img), ro = IMG_RODATA(&img), data = IMG_DATA(&img);
				img_ph(&img, text)->p_memsz = text_sizes[t];   /* file bytes 0x40, the rest zero fill */
				*img_ph(&img, ro) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = t0,
					.p_paddr = t0, .p_offset = 0x200, .p_align = ELF_PAGE_SIZE };   /* empty */
				*img_ph(&img, data) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = flags[f], .p_vaddr = v,
					.p_paddr = v, .p_offset = v % ELF_PAGE_SIZE, .p_memsz = 0x100, .p_align = ELF_PAGE_SIZE };
				enum elf_rule want = ELF_OK;
				if (v < tend)
					want = ELF_SEG_OVERLAP;
				else if ((flags[f] & PF_W) && (tend - 1) / ELF_PAGE_SIZE == v / ELF_PAGE_SIZE)
					want = ELF_SEG_SHARED_PAGE_WX;
				enum elf_rule got = run_check(&img, &p, &vd, &why);
				uint64_t size = ((v + 0x100 + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1)) - (t0 & ~(ELF_PAGE_SIZE - 1));
				int good = got == want && why == NULL &&
					   (want == ELF_OK ? p.nsegs == 2 && p.size == size && p.seg[1].vaddr == v && p.seg[1].phdr == (uint32_t)data
							   : vd.phdr == text && vd.other == data);
				n++;
				per[got]++;
				if (!good && bad++ < 5)
					printf("#   text [0x%llx, 0x%llx), flags %u at 0x%llx: %s (phdrs %d, %d), want %s; "
					       "size 0x%llx (want 0x%llx); judge: %s\n", (unsigned long long)t0,
					       (unsigned long long)tend, flags[f], (unsigned long long)v, elf_rule_name(got),
					       vd.phdr, vd.other, elf_rule_name(want), (unsigned long long)p.size,
					       (unsigned long long)size, why ? why : "ok");
				img_free(&img);
			}
		}
	ok(bad == 0 && per[ELF_OK] && per[ELF_SEG_OVERLAP] && per[ELF_SEG_SHARED_PAGE_WX],
	   "%zu text ends and second-segment starts: overlap %zu, shared W/X page %zu, accepted %zu, as the layout implies",
	   n, per[ELF_SEG_OVERLAP], per[ELF_SEG_SHARED_PAGE_WX], per[ELF_OK]);
}

/*
 * The boot-information note's namesz and descsz swept over small values and the ones whose
 * padding or sum wraps in 32 bits: accepted only as written (9 and 8), otherwise refused as
 * malformed (the note leaves its segment, or is ours and short) or missing (it fits but is not
 * ours), with the judge agreeing on the offset; never a read outside the file (ASan).
 */
static void test_note_sizes_swept(void)
{
	uint32_t sizes[64];
	size_t nsizes = 0, bad = 0, n = 0, per[ELF_RULE_COUNT] = { 0 };

	for (uint32_t v = 0; v <= 40; v++)
		sizes[nsizes++] = v;
	for (uint32_t v = 0; v <= 8; v++)
		sizes[nsizes++] = UINT32_MAX - v;
	sizes[nsizes++] = 0x7fffffff;
	sizes[nsizes++] = 0x80000000;
	for (size_t a = 0; a < nsizes; a++)
		for (size_t b = 0; b < nsizes; b++) {
			struct elf_image img;
			struct elf_plan p;
			struct elf_verdict v;
			const char *why;
			int note;

			img_synthetic(&img);
			note = img_note_phdr(&img);
			img_put32(&img, img_note_at(&img), sizes[a]);
			img_put32(&img, img_note_at(&img) + 4, sizes[b]);
			enum elf_rule got = run_check(&img, &p, &v, &why);
			int as_written = sizes[a] == sizeof(BOOTINFO_NOTE_NAME) && sizes[b] == sizeof(struct bootinfo_note);
			int good = why == NULL && (as_written ? got == ELF_OK :
				   (got == ELF_NOTE_MALFORMED && v.phdr == note) || (got == ELF_NOTE_MISSING && v.phdr == -1));
			n++;
			per[got]++;
			if (!good && bad++ < 5)
				printf("#   namesz 0x%x descsz 0x%x: %s (phdr %d, value 0x%llx); judge: %s\n", sizes[a], sizes[b],
				       elf_rule_name(got), v.phdr, (unsigned long long)v.value, why ? why : "ok");
			img_free(&img);
		}
	ok(bad == 0 && per[ELF_OK] == 1 && per[ELF_NOTE_MALFORMED] && per[ELF_NOTE_MISSING],
	   "%zu namesz/descsz pairs: malformed %zu, missing %zu, accepted only as written", n, per[ELF_NOTE_MALFORMED],
	   per[ELF_NOTE_MISSING]);
}

/*
 * Note padding follows p_align: the synthetic note (whose padding is the same at 4 and 8) is
 * accepted under every p_align, and a segment laid out with 8-byte padding (ok_note_align8) only
 * under p_align 8, refused as malformed under the others (read with 4-byte padding).
 */
static void test_note_align(void)
{
	static const uint64_t aligns[] = { 0, 1, 2, 4, 8, 16, 4096, UINT64_MAX };
	size_t bad = 0;

	for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++)
		for (int layout8 = 0; layout8 <= 1; layout8++) {
			struct elf_image img;
			struct elf_plan p;
			struct elf_verdict v;
			const char *why;
			int note;

			img_synthetic(&img);
			note = img_note_phdr(&img);
			if (layout8)
				elf_case_find("ok_note_align8")->mutate(&img);
			img_ph(&img, note)->p_align = aligns[a];
			enum elf_rule want = layout8 && aligns[a] != ELF_NOTE_ALIGN8 ? ELF_NOTE_MALFORMED : ELF_OK;
			enum elf_rule got = run_check(&img, &p, &v, &why);
			if ((got != want || why != NULL) && bad++ < 5)
				printf("#   p_align 0x%llx, %s layout: %s, want %s; judge: %s\n", (unsigned long long)aligns[a],
				       layout8 ? "8-byte" : "4-byte", elf_rule_name(got), elf_rule_name(want), why ? why : "ok");
			img_free(&img);
		}
	ok(bad == 0, "note padding: 8 bytes under p_align 8, 4 under any other p_align");
}

/*
 * Generated notes before the boot-information note, in its PT_NOTE: 0 to 40 notes of random
 * name and description lengths (some with its name but another type), then ours; accepted, and
 * with ours set to another version refused naming its PT_NOTE, whatever came before.
 */
static void test_notes_before_ours(void)
{
	size_t bad = 0;

	rng_state = 0x6e6f746573;
	for (int count = 0; count <= 40; count++)
		for (int newer = 0; newer <= 1; newer++) {
			struct elf_image img;
			struct elf_plan p;
			struct elf_verdict v;
			const char *why;
			uint8_t desc[64];
			char name[24];
			int note;
			uint64_t at, end;

			img_synthetic(&img);
			note = img_note_phdr(&img);
			at = end = img_note_area(&img);
			for (int k = 0; k < count; k++) {
				size_t len = rnd_below(sizeof(name));
				for (size_t c = 0; c < len; c++)
					name[c] = (char)('a' + rnd_below(26));
				name[len] = '\0';
				if (rnd_below(4) == 0)
					strcpy(name, BOOTINFO_NOTE_NAME);   /* ours in name, another type */
				for (size_t c = 0; c < sizeof(desc); c++)
					desc[c] = (uint8_t)rnd();
				end = img_put_note(&img, end, name, BOOTINFO_NOTE_TYPE + 1 + (uint32_t)rnd_below(5), desc,
						   (uint32_t)rnd_below(sizeof(desc)));
			}
			end = img_put_bootinfo_note(&img, end);
			if (newer)
				img_put32(&img, end - sizeof(struct bootinfo_note), BOOTINFO_VERSION + 1);
			img_ph(&img, note)->p_offset = at;
			img_ph(&img, note)->p_filesz = img_ph(&img, note)->p_memsz = end - at;
			enum elf_rule want = newer ? ELF_NOTE_VERSION : ELF_OK;
			enum elf_rule got = run_check(&img, &p, &v, &why);
			if ((got != want || why != NULL || (newer && v.phdr != note)) && bad++ < 5)
				printf("#   %d notes before ours%s: %s (phdr %d), want %s; judge: %s\n", count,
				       newer ? " (newer)" : "", elf_rule_name(got), v.phdr, elf_rule_name(want), why ? why : "ok");
			img_free(&img);
		}
	ok(bad == 0, "0 to 40 generated notes before the boot-information note: it is found, its version judged");
}

/* ------------------------------------------------------------------ property test */

/* A value worth trying in a field that holds `old`, for a file of `len` bytes. */
static uint64_t interesting(uint64_t old, size_t len)
{
	switch (rnd_below(14)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return UINT64_MAX;
	case 3: return old + 1 + rnd_below(16);
	case 4: return old - 1 - rnd_below(16);
	case 5: return old ^ (1ULL << rnd_below(64));
	case 6: return 1ULL << rnd_below(64);
	case 7: return KERNEL_BASE + rnd_below(0x10000) - 0x8000;
	case 8: return KERNEL_TOP + rnd_below(0x2000) - 0x1000;
	case 9: return len - rnd_below(64);
	case 10: return UINT64_MAX - rnd_below(0x10000);
	case 11: return old + (rnd_below(8) << 12) - 0x4000;
	case 12: return rnd_below(0x1000);
	default: return rnd();
	}
}

/* True if [at, at + n) lies inside the image (at may be any value). */
static int inside(const struct elf_image *img, uint64_t at, uint64_t n)
{
	return at <= img->len && n <= img->len - at;
}

/* Writes the low `width` bytes of v at offset `at`, when inside the image. */
static void put(struct elf_image *img, uint64_t at, unsigned width, uint64_t v)
{
	if (!inside(img, at, width))
		return;
	memcpy(img->buf + at, &v, width);   /* little-endian host */
}

/* The `width` bytes at offset `at` (little-endian), or 0 when outside the image. */
static uint64_t get(const struct elf_image *img, uint64_t at, unsigned width)
{
	uint64_t v = 0;
	if (inside(img, at, width))
		memcpy(&v, img->buf + at, width);
	return v;
}

/* One random mutation of the image: a header or program header field, bytes, or the length. */
static void mutate_once(struct elf_image *img)
{
	static const struct { uint8_t off, width; } ehdr_fields[] = {
		{ 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 1 }, { 8, 1 }, { 16, 2 }, { 18, 2 }, { 20, 4 }, { 24, 8 },
		{ 32, 8 }, { 48, 4 }, { 52, 2 }, { 54, 2 }, { 56, 2 },
	};
	static const struct { uint8_t off, width; } phdr_fields[] = {
		{ 0, 4 }, { 4, 4 }, { 8, 8 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 },
	};
	static const uint8_t note_fields[] = { 0, 4, 8, 24, 28 };   /* namesz, descsz, type, version, size */
	uint64_t phoff = get(img, 32, 8), phnum = get(img, 56, 2);
	uint64_t ph = phoff + sizeof(Elf64_Phdr) * rnd_below(phnum ? phnum : 1);

	switch (rnd_below(11)) {
	case 10: {   /* a field of the note at the start of the first PT_NOTE */
		for (uint64_t i = 0; i < phnum && i < ELF_MAX_PHDRS; i++) {
			uint64_t at = phoff + sizeof(Elf64_Phdr) * i;
			if (inside(img, at, sizeof(Elf64_Phdr)) && get(img, at, 4) == PT_NOTE) {
				uint64_t f = get(img, at + 8, 8) + note_fields[rnd_below(sizeof(note_fields))];
				put(img, f, 4, interesting(get(img, f, 4), img->len));
				break;
			}
		}
		break;
	}
	case 0: case 1: {
		unsigned f = rnd_below(sizeof(ehdr_fields) / sizeof(ehdr_fields[0]));
		uint64_t at = ehdr_fields[f].off;
		put(img, at, ehdr_fields[f].width, interesting(get(img, at, ehdr_fields[f].width), img->len));
		break;
	}
	case 2: case 3: case 4: case 5: {
		unsigned f = rnd_below(sizeof(phdr_fields) / sizeof(phdr_fields[0]));
		uint64_t at = ph + phdr_fields[f].off;
		put(img, at, phdr_fields[f].width, interesting(get(img, at, phdr_fields[f].width), img->len));
		break;
	}
	case 6: {   /* a field copied from the same field of another program header */
		unsigned f = rnd_below(sizeof(phdr_fields) / sizeof(phdr_fields[0]));
		uint64_t from = phoff + sizeof(Elf64_Phdr) * rnd_below(phnum ? phnum : 1);
		put(img, ph + phdr_fields[f].off, phdr_fields[f].width,
		    get(img, from + phdr_fields[f].off, phdr_fields[f].width));
		break;
	}
	case 7:   /* a byte flip anywhere */
		if (img->len)
			img->buf[rnd_below(img->len)] ^= (uint8_t)(1 + rnd_below(255));
		break;
	case 8:   /* truncate or extend with random bytes */
		if (rnd_below(2) && img->len) {
			img->len = rnd_below(img->len);
		} else {
			size_t more = 1 + rnd_below(256);
			img_reserve(img, img->len + more);
			for (size_t i = 0; i < more; i++)
				img->buf[img->len + i] = (uint8_t)rnd();
			img->len += more;
		}
		break;
	default: {   /* swap two program headers */
		uint64_t other = phoff + sizeof(Elf64_Phdr) * rnd_below(phnum ? phnum : 1);
		if (inside(img, ph, sizeof(Elf64_Phdr)) && inside(img, other, sizeof(Elf64_Phdr))) {
			Elf64_Phdr a, b;
			memcpy(&a, img->buf + ph, sizeof(a));
			memcpy(&b, img->buf + other, sizeof(b));
			memcpy(img->buf + ph, &b, sizeof(b));
			memcpy(img->buf + other, &a, sizeof(a));
		}
		break;
	}
	}
}

/* Random mutations of valid images, each outcome judged; both outcomes must occur often. */
static void test_property(uint64_t seed, long iterations)
{
	size_t valid_bases[ELF_NCASES], nvalid = 0;
	long accepted = 0, refused = 0, bad = 0;
	long per_rule[ELF_RULE_COUNT] = { 0 };
	int rules_seen = 0;

	for (size_t i = 0; i < ELF_NCASES; i++)
		if (elf_cases[i].rule == ELF_OK)
			valid_bases[nvalid++] = i;
	rng_state = seed;
	for (long it = 0; it < iterations; it++) {
		struct elf_image img;
		struct elf_plan p;
		struct elf_verdict v;
		const char *why;

		img_synthetic(&img);
		elf_cases[valid_bases[rnd_below(nvalid)]].mutate(&img);
		for (int n = 1 + (int)rnd_below(4); n > 0; n--)
			mutate_once(&img);
		enum elf_rule rule = run_check(&img, &p, &v, &why);
		if (why != NULL && bad++ < 3)
			printf("#   iteration %ld: %s (rule %s, phdr %d, other %d): %s\n", it, elf_rule_name(rule),
			       elf_rule_name(v.rule), v.phdr, v.other, why);
		if (rule == ELF_OK)
			accepted++;
		else
			refused++;
		if ((unsigned)rule < ELF_RULE_COUNT && per_rule[rule]++ == 0)
			rules_seen++;
		img_free(&img);
	}
	ok(bad == 0, "property: %ld random mutations (seed %llu) judged correct", iterations,
	   (unsigned long long)seed);
	ok(accepted > iterations / 50 && refused > iterations / 2,
	   "property: both outcomes occur (%ld accepted, %ld refused)", accepted, refused);
	ok(rules_seen >= ELF_RULE_COUNT * 3 / 4, "property: %d of %d rules reached by random mutation",
	   rules_seen, ELF_RULE_COUNT);
	printf("#   verdicts:");
	for (int r = 0; r < ELF_RULE_COUNT; r++)
		if (per_rule[r])
			printf(" %s=%ld", elf_rule_name((enum elf_rule)r), per_rule[r]);
	printf("\n");
}

int main(void)
{
	const char *s = getenv("ELF_TEST_SEED"), *n = getenv("ELF_TEST_ITERATIONS");

	test_synthetic_plan();
	test_cases();
	test_texts();
	test_truncations();
	test_sizes_at_page_ends();
	test_congruence_every_align();
	test_empty_load_anywhere();
	test_tiny_kernels();
	test_two_segment_geometry();
	test_note_sizes_swept();
	test_note_align();
	test_notes_before_ours();
	test_property(s ? strtoull(s, NULL, 0) : 20240601, n ? strtol(n, NULL, 0) : 200000);
	return tap_done();
}
