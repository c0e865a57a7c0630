/*
 * The catalogue of malformed kernels: one or more cases per rule of boot/elf_check.h, each a
 * mutation of one field (or a few, where the rule needs it) of a valid image, with the verdict
 * elf_check() must give. Shared by the host test (tests/host/test_elf.c, on a synthetic minimal
 * kernel) and tools/elf-mutate.c (on build/kernel.elf, for the loader's boot test and the fuzz
 * seeds). A mutation finds the segments it needs by their permissions (text R+X, rodata R, data
 * R+W with a .bss tail), so it works on any image shaped like the kernel. Header-only: include it
 * once per program.
 */
#ifndef ELF_CASES_H
#define ELF_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../boot/elf_check.h"

/* A kernel file being mutated, and the program headers the expected verdict names. */
struct elf_image {
	uint8_t *buf;
	size_t len, cap;
	int want_phdr, want_other;   /* expected verdict.phdr / verdict.other (-1: none) */
};

/* Stops the program: a case does not fit the image it was applied to (a catalogue bug). */
static void img_die(const char *what)
{
	fprintf(stderr, "elf_cases: %s\n", what);
	exit(2);
}

/* Makes room for `len` bytes, zeroing what is new. */
static void img_reserve(struct elf_image *img, size_t len)
{
	if (len <= img->cap)
		return;
	size_t cap = len + 4096;
	uint8_t *p = realloc(img->buf, cap);
	if (p == NULL)
		img_die("out of memory");
	memset(p + img->cap, 0, cap - img->cap);
	img->buf = p;
	img->cap = cap;
}

/* Makes *img a copy of the `len` bytes at `data`. */
static inline void img_set(struct elf_image *img, const void *data, size_t len)
{
	img->buf = NULL;
	img->len = img->cap = 0;
	img_reserve(img, len);
	memcpy(img->buf, data, len);
	img->len = len;
	img->want_phdr = img->want_other = -1;
}

/* Releases the image's buffer. */
static void img_free(struct elf_image *img)
{
	free(img->buf);
	img->buf = NULL;
	img->len = img->cap = 0;
}

/* The ELF header (the buffer is malloc'd, so aligned for it). */
static Elf64_Ehdr *img_eh(struct elf_image *img)
{
	if (img->len < sizeof(Elf64_Ehdr))
		img_die("image shorter than an ELF header");
	return (Elf64_Ehdr *)img->buf;
}

/* Program header i of the (valid, 8-aligned) table. */
static Elf64_Phdr *img_ph(struct elf_image *img, int i)
{
	Elf64_Ehdr *eh = img_eh(img);
	if (i < 0 || i >= eh->e_phnum || eh->e_phoff % 8 || eh->e_phoff + (uint64_t)(i + 1) * sizeof(Elf64_Phdr) > img->len)
		img_die("program header out of range");
	return (Elf64_Phdr *)(img->buf + eh->e_phoff) + i;
}

/* Index of the first PT_LOAD with exactly these flags. */
static int img_load(struct elf_image *img, uint32_t flags)
{
	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		if (img_ph(img, i)->p_type == PT_LOAD && img_ph(img, i)->p_flags == flags)
			return i;
	img_die("no PT_LOAD with the flags the case needs");
	return -1;
}

#define IMG_TEXT(img)   img_load(img, PF_R | PF_X)
#define IMG_RODATA(img) img_load(img, PF_R)
#define IMG_DATA(img)   img_load(img, PF_R | PF_W)

/* Index of the last PT_LOAD. */
static int img_last_load(struct elf_image *img)
{
	int last = -1;
	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		if (img_ph(img, i)->p_type == PT_LOAD)
			last = i;
	if (last < 0)
		img_die("no PT_LOAD");
	return last;
}

/* Appends a zeroed program header (moving the table to the end of the file); returns its index. */
static int img_add_phdr(struct elf_image *img)
{
	Elf64_Ehdr *eh = img_eh(img);
	size_t table = (size_t)eh->e_phnum * sizeof(Elf64_Phdr);

	if (eh->e_phoff + table != img->len) {
		size_t at = (img->len + 7) & ~(size_t)7;
		img_reserve(img, at + table);
		memmove(img->buf + at, img->buf + img_eh(img)->e_phoff, table);
		eh = img_eh(img);
		eh->e_phoff = at;
		img->len = at + table;
	}
	img_reserve(img, img->len + sizeof(Elf64_Phdr));
	memset(img->buf + img->len, 0, sizeof(Elf64_Phdr));
	img->len += sizeof(Elf64_Phdr);
	return img_eh(img)->e_phnum++;
}

/* Appends a program header of `type` (a non-PT_LOAD one: no memory); returns its index. */
static int img_add_type(struct elf_image *img, uint32_t type)
{
	int i = img_add_phdr(img);
	img_ph(img, i)->p_type = type;
	img_ph(img, i)->p_flags = PF_R;
	return i;
}

/* Writes the 32-bit little-endian v at offset `at` (inside the image). */
static void img_put32(struct elf_image *img, uint64_t at, uint32_t v)
{
	if (at > img->len || img->len - at < sizeof(v))
		img_die("a note field outside the image");
	memcpy(img->buf + at, &v, sizeof(v));   /* little-endian host */
}

/*
 * Writes a note at offset `at` (4-byte padding): namesz = strlen(name) + 1, the name with its NUL,
 * `descsz` bytes of description from `desc`. Returns the offset after it (padded).
 */
static uint64_t img_put_note(struct elf_image *img, uint64_t at, const char *name, uint32_t type,
			     const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	uint64_t name_pad = (namesz + 3) & ~3u, desc_pad = (descsz + 3) & ~3u;

	img_reserve(img, at + ELF_NOTE_HEADER + name_pad + desc_pad);
	if (img->len < at + ELF_NOTE_HEADER + name_pad + desc_pad)
		img->len = at + ELF_NOTE_HEADER + name_pad + desc_pad;
	img_put32(img, at, namesz);
	img_put32(img, at + 4, descsz);
	img_put32(img, at + 8, type);
	memset(img->buf + at + ELF_NOTE_HEADER, 0, name_pad + desc_pad);
	memcpy(img->buf + at + ELF_NOTE_HEADER, name, namesz);
	memcpy(img->buf + at + ELF_NOTE_HEADER + name_pad, desc, descsz);
	return at + ELF_NOTE_HEADER + name_pad + desc_pad;
}

/* Writes the boot-information note of this build at `at`; returns the offset after it. */
static uint64_t img_put_bootinfo_note(struct elf_image *img, uint64_t at)
{
	const struct bootinfo_note desc = { BOOTINFO_VERSION, sizeof(struct bootinfo) };

	return img_put_note(img, at, BOOTINFO_NOTE_NAME, BOOTINFO_NOTE_TYPE, &desc, sizeof(desc));
}

/* Index of the PT_NOTE whose first note is the boot-information note (the kernel's, the synthetic's). */
static int img_note_phdr(struct elf_image *img)
{
	for (int i = 0; i < img_eh(img)->e_phnum; i++) {
		Elf64_Phdr *ph = img_ph(img, i);
		if (ph->p_type == PT_NOTE && ph->p_offset <= img->len &&
		    img->len - ph->p_offset >= ELF_NOTE_HEADER + BOOTINFO_NOTE_NAME_PADDED &&
		    !memcmp(img->buf + ph->p_offset + ELF_NOTE_HEADER, BOOTINFO_NOTE_NAME, sizeof(BOOTINFO_NOTE_NAME)))
			return i;
	}
	img_die("no PT_NOTE starting with the boot-information note");
	return -1;
}

/* File offset of the boot-information note (the first note of its PT_NOTE). */
static uint64_t img_note_at(struct elf_image *img) { return img_ph(img, img_note_phdr(img))->p_offset; }

/* File offset of the boot-information note's description. */
static uint64_t img_note_desc(struct elf_image *img)
{
	return img_note_at(img) + ELF_NOTE_HEADER + BOOTINFO_NOTE_NAME_PADDED;
}

/*
 * The synthetic kernel: ELF header, program headers (text R+X, rodata R, data R+W with a .bss
 * tail, GNU_STACK, and a PT_NOTE over the boot-information note at the start of rodata's bytes,
 * as the kernel's linker script lays it out), room for three more, then 64 bytes of each
 * segment. 704 bytes.
 */
static void img_synthetic(struct elf_image *img)
{
	static const struct { uint32_t flags; uint64_t off, vaddr, filesz, memsz; } seg[] = {
		{ PF_R | PF_X, 0x200, KERNEL_BASE + 0x0200, 0x40, 0x40 },
		{ PF_R,        0x240, KERNEL_BASE + 0x1240, 0x40, 0x40 },
		{ PF_R | PF_W, 0x280, KERNEL_BASE + 0x2280, 0x40, 0x1000 },
	};
	Elf64_Ehdr eh = {
		.e_ident = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = KERNEL_BASE + 0x200, .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 5,
	};

	img->buf = NULL;
	img->len = img->cap = 0;
	img->want_phdr = img->want_other = -1;
	img_reserve(img, 0x2c0);
	img->len = 0x2c0;
	memcpy(img->buf, &eh, sizeof(eh));
	for (int i = 0; i < 3; i++) {
		Elf64_Phdr *ph = img_ph(img, i);
		*ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = seg[i].flags, .p_offset = seg[i].off,
				    .p_vaddr = seg[i].vaddr, .p_paddr = seg[i].vaddr, .p_filesz = seg[i].filesz,
				    .p_memsz = seg[i].memsz, .p_align = ELF_PAGE_SIZE };
		memset(img->buf + seg[i].off, 0xf4 - 0x10 * i, seg[i].filesz);   /* text: hlt */
	}
	*img_ph(img, 3) = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W, .p_align = 16 };
	*img_ph(img, 4) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = seg[1].off,
					.p_vaddr = seg[1].vaddr, .p_paddr = seg[1].vaddr, .p_align = 4,
					.p_filesz = img_put_bootinfo_note(img, seg[1].off) - seg[1].off };
	img_ph(img, 4)->p_memsz = img_ph(img, 4)->p_filesz;
}

/* ------------------------------------------------------------------ header mutations */
/* Each m_ function is one case's mutation; the name says what it does to the image. */

static void m_too_short(struct elf_image *img) { img->len = sizeof(Elf64_Ehdr) - 1; }
static void m_empty(struct elf_image *img) { img->len = 0; }
static void m_magic(struct elf_image *img) { img->buf[1] = 'e'; }
static void m_class32(struct elf_image *img) { img->buf[EI_CLASS] = 1; }
static void m_big_endian(struct elf_image *img) { img->buf[EI_DATA] = 2; }
static void m_ident_version(struct elf_image *img) { img->buf[EI_VERSION] = 0; }
static void m_osabi(struct elf_image *img) { img->buf[EI_OSABI] = 9; }   /* FreeBSD */
static void m_abiversion(struct elf_image *img) { img->buf[EI_ABIVERSION] = 1; }
static void m_machine(struct elf_image *img) { img_eh(img)->e_machine = 3; }   /* EM_386 */
static void m_type_dyn(struct elf_image *img) { img_eh(img)->e_type = ET_DYN; }
static void m_type_rel(struct elf_image *img) { img_eh(img)->e_type = 1; }
static void m_version(struct elf_image *img) { img_eh(img)->e_version = 0; }
static void m_flags(struct elf_image *img) { img_eh(img)->e_flags = 1; }
static void m_ehsize(struct elf_image *img) { img_eh(img)->e_ehsize = 52; }
static void m_phentsize_large(struct elf_image *img) { img_eh(img)->e_phentsize = 64; }
static void m_phentsize_small(struct elf_image *img) { img_eh(img)->e_phentsize = 32; }   /* ELF32's */
static void m_no_phdrs(struct elf_image *img) { img_eh(img)->e_phnum = 0; }
static void m_too_many_phdrs(struct elf_image *img) { img_eh(img)->e_phnum = ELF_MAX_PHDRS + 1; }
static void m_phnum_xnum(struct elf_image *img) { img_eh(img)->e_phnum = 0xffff; }
static void m_phdrs_past_end(struct elf_image *img) { img_eh(img)->e_phoff = img->len & ~(size_t)7; }
static void m_phoff_wraps(struct elf_image *img) { img_eh(img)->e_phoff = UINT64_MAX - 7; }

static void m_phdrs_truncated(struct elf_image *img)
{
	Elf64_Ehdr *eh = img_eh(img);
	img->len = eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) - 1;
}

static void m_phdrs_in_ehdr(struct elf_image *img) { img_eh(img)->e_phoff = 0; }
static void m_phdrs_misaligned(struct elf_image *img) { img_eh(img)->e_phoff += 4; }

/* ------------------------------------------------------------------ the boot-information note */

/* Appends zeros up to a multiple of 8 bytes; returns the new end, where notes can be written. */
static uint64_t img_note_area(struct elf_image *img)
{
	size_t at = (img->len + 7) & ~(size_t)7;

	img_reserve(img, at);
	img->len = at;
	return at;
}

/* The boot-information note's PT_NOTE moved to [at, end) (already written). */
static void img_note_repoint(struct elf_image *img, uint64_t at, uint64_t end)
{
	Elf64_Phdr *n = img_ph(img, img_note_phdr(img));
	n->p_offset = at;
	n->p_filesz = n->p_memsz = end - at;
}

static void m_note_missing(struct elf_image *img) { img_ph(img, img_note_phdr(img))->p_type = PT_NULL; }
static void m_note_other_name(struct elf_image *img) { img->buf[img_note_at(img) + ELF_NOTE_HEADER] = 'R'; }
static void m_note_other_type(struct elf_image *img) { img_put32(img, img_note_at(img) + 8, BOOTINFO_NOTE_TYPE + 1); }
static void m_note_empty_segment(struct elf_image *img) { img_ph(img, img_note_phdr(img))->p_filesz = 0; }

/* The name without its NUL (namesz 8): the description moves 4 bytes up and a 4-byte tail is left. */
static void m_note_namesz_no_nul(struct elf_image *img)
{
	img->want_phdr = img_note_phdr(img);
	img_put32(img, img_note_at(img), sizeof(BOOTINFO_NOTE_NAME) - 1);
}

static void m_note_outside(struct elf_image *img)
{
	Elf64_Phdr *n = img_ph(img, img->want_phdr = img_note_phdr(img));
	n->p_offset = img->len - n->p_filesz / 2;
}

static void m_note_offset_wraps(struct elf_image *img)
{
	img_ph(img, img->want_phdr = img_note_phdr(img))->p_offset = UINT64_MAX - 0x10;
}

/* The file cut one byte short of the note's end. */
static void m_note_cut(struct elf_image *img)
{
	Elf64_Phdr *n = img_ph(img, img->want_phdr = img_note_phdr(img));
	img->len = n->p_offset + n->p_filesz - 1;
}

/* Each sets one size field of the boot-information note to a hostile value. */
static void note_field(struct elf_image *img, unsigned field, uint32_t value)
{
	img->want_phdr = img_note_phdr(img);
	img_put32(img, img_note_at(img) + field, value);
}

static void m_note_namesz_huge(struct elf_image *img) { note_field(img, 0, UINT32_MAX); }
static void m_note_namesz_wraps(struct elf_image *img) { note_field(img, 0, UINT32_MAX - 2); }   /* + 3 wraps to 0 */
static void m_note_descsz_huge(struct elf_image *img) { note_field(img, 4, UINT32_MAX); }
static void m_note_descsz_wraps(struct elf_image *img) { note_field(img, 4, UINT32_MAX - 1); }
static void m_note_desc_past_segment(struct elf_image *img) { note_field(img, 4, sizeof(struct bootinfo_note) + 4); }
static void m_note_desc_short(struct elf_image *img) { note_field(img, 4, sizeof(struct bootinfo_note) / 2); }

/* Four bytes after the note inside its PT_NOTE: too few for another note's header. */
static void m_note_tail(struct elf_image *img)
{
	Elf64_Phdr *n = img_ph(img, img->want_phdr = img_note_phdr(img));
	n->p_filesz += 4;
	n->p_memsz += 4;
}

/* The PT_NOTE one byte shorter than its note. */
static void m_note_segment_short(struct elf_image *img)
{
	img_ph(img, img->want_phdr = img_note_phdr(img))->p_filesz -= 1;
}

static void m_note_version_newer(struct elf_image *img)
{
	img->want_phdr = img_note_phdr(img);
	img_put32(img, img_note_desc(img), BOOTINFO_VERSION + 1);
}

static void m_note_version_older(struct elf_image *img)
{
	img->want_phdr = img_note_phdr(img);
	img_put32(img, img_note_desc(img), BOOTINFO_VERSION - 1);
}

static void m_note_size(struct elf_image *img)
{
	img->want_phdr = img_note_phdr(img);
	img_put32(img, img_note_desc(img) + 4, sizeof(struct bootinfo) + 8);
}

/* A second PT_NOTE, after the kernel's, whose only note claims a name of 2 GiB. */
static void m_note_other_segment_malformed(struct elf_image *img)
{
	static const uint8_t id[4] = { 1, 2, 3, 4 };
	int i = img_add_type(img, PT_NOTE);
	uint64_t at = img_note_area(img), end = img_put_note(img, at, "GNU", 3, id, sizeof(id));

	img_put32(img, at, 0x80000000u);
	img_ph(img, i)->p_offset = at;
	img_ph(img, i)->p_filesz = img_ph(img, i)->p_memsz = end - at;
	img_ph(img, i)->p_align = 4;
	img->want_phdr = i;
}

/* Notes before the boot-information note in its PT_NOTE: a build ID, and one of its name but another type. */
static void m_notes_before_ours(struct elf_image *img)
{
	static const uint8_t build_id[20] = { 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t other[5] = { 9, 9, 9, 9, 9 };
	uint64_t at = img_note_area(img), end;

	end = img_put_note(img, at, "GNU", 3, build_id, sizeof(build_id));
	end = img_put_note(img, end, BOOTINFO_NOTE_NAME, BOOTINFO_NOTE_TYPE + 1, other, sizeof(other));
	end = img_put_bootinfo_note(img, end);
	img_note_repoint(img, at, end);
}

/* A first boot-information note decides: a second one of another version after it changes nothing. */
static void m_notes_ours_twice(struct elf_image *img)
{
	uint64_t at = img_note_area(img), end = img_put_bootinfo_note(img, at);

	end = img_put_bootinfo_note(img, end);
	img_put32(img, end - sizeof(struct bootinfo_note), BOOTINFO_VERSION + 7);
	img_note_repoint(img, at, end);
}

/* Another PT_NOTE before the one of the boot-information note, holding a build ID. */
static void m_note_segment_before_ours(struct elf_image *img)
{
	static const uint8_t build_id[20] = { 0x12, 0x34 };
	Elf64_Phdr ours = *img_ph(img, img_note_phdr(img));
	int first = img_note_phdr(img), second = img_add_type(img, PT_NOTE);
	uint64_t at = img_note_area(img), end = img_put_note(img, at, "GNU", 3, build_id, sizeof(build_id));

	*img_ph(img, second) = ours;
	img_ph(img, first)->p_offset = at;
	img_ph(img, first)->p_filesz = img_ph(img, first)->p_memsz = end - at;
}

/*
 * A PT_NOTE with p_align 8, notes padded to 8 bytes from the segment's start: a GNU note with a
 * 4-byte name and a 12-byte description (padded to 16), then the boot-information note at offset
 * 32. Read with 4-byte padding, the second note would start at offset 28.
 */
static void m_note_align8(struct elf_image *img)
{
	static const uint8_t prop[12] = { 0xc0, 0, 0, 0xc0, 4, 0, 0, 0, 3, 0, 0, 0 };
	int n = img_note_phdr(img);
	uint64_t at = img_note_area(img), end;

	img_reserve(img, at + 32);
	img->len = at + 32;
	memset(img->buf + at, 0, 32);
	img_put32(img, at, 4);
	img_put32(img, at + 4, sizeof(prop));
	img_put32(img, at + 8, 5);   /* NT_GNU_PROPERTY_TYPE_0 */
	memcpy(img->buf + at + ELF_NOTE_HEADER, "GNU", 4);
	memcpy(img->buf + at + 16, prop, sizeof(prop));
	img_put32(img, at + 28, 0xffffffff);   /* the padding: a huge namesz when read 4-byte aligned */
	end = img_put_bootinfo_note(img, at + 32);
	img_ph(img, n)->p_offset = at;
	img_ph(img, n)->p_filesz = img_ph(img, n)->p_memsz = end - at;
	img_ph(img, n)->p_align = ELF_NOTE_ALIGN8;
}

/* ------------------------------------------------------------------ segment types */

static void m_interp(struct elf_image *img) { img->want_phdr = img_add_type(img, PT_INTERP); }
static void m_dynamic(struct elf_image *img) { img->want_phdr = img_add_type(img, PT_DYNAMIC); }
static void m_tls(struct elf_image *img) { img->want_phdr = img_add_type(img, PT_TLS); }
static void m_shlib(struct elf_image *img) { img->want_phdr = img_add_type(img, PT_SHLIB); }
static void m_unknown_type(struct elf_image *img) { img->want_phdr = img_add_type(img, 0x12345678); }
static void m_os_type(struct elf_image *img) { img->want_phdr = img_add_type(img, 0x60000000); }

/* Empty PT_LOADs (at the last one's address, so still in order) until there is one too many. */
static void m_too_many_loads(struct elf_image *img)
{
	Elf64_Phdr last = *img_ph(img, img_last_load(img));
	int loads = 0;

	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		loads += img_ph(img, i)->p_type == PT_LOAD;
	while (loads++ <= ELF_MAX_LOADS) {
		int i = img_add_phdr(img);
		*img_ph(img, i) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = last.p_vaddr,
						.p_paddr = last.p_paddr, .p_align = ELF_PAGE_SIZE,
						.p_offset = last.p_offset };
		img->want_phdr = i;
	}
}

/* ------------------------------------------------------------------ one PT_LOAD's fields */

static void m_seg_flags(struct elf_image *img)
{
	int t = img->want_phdr = IMG_TEXT(img);
	img_ph(img, t)->p_flags |= 0x00100000;   /* a PF_MASKOS bit */
}

static void m_wx_data(struct elf_image *img)
{
	int d = img->want_phdr = IMG_DATA(img);
	img_ph(img, d)->p_flags |= PF_X;
}

static void m_wx_text(struct elf_image *img)
{
	int t = img->want_phdr = IMG_TEXT(img);
	img_ph(img, t)->p_flags |= PF_W;
}

static void m_filesz(struct elf_image *img)
{
	Elf64_Phdr *r = img_ph(img, img->want_phdr = IMG_RODATA(img));
	r->p_filesz = r->p_memsz + 1;
}

/* Cuts the file one byte short of the segment whose file bytes end last. */
static void m_truncated(struct elf_image *img)
{
	uint64_t end = 0;

	for (int i = 0; i < img_eh(img)->e_phnum; i++) {
		Elf64_Phdr *ph = img_ph(img, i);
		if (ph->p_type == PT_LOAD && ph->p_filesz && ph->p_offset + ph->p_filesz > end)
			end = ph->p_offset + ph->p_filesz;
	}
	for (int i = 0; i < img_eh(img)->e_phnum; i++) {
		Elf64_Phdr *ph = img_ph(img, i);
		if (ph->p_type == PT_LOAD && ph->p_filesz && ph->p_offset + ph->p_filesz == end) {
			img->want_phdr = i;
			break;
		}
	}
	img->len = end - 1;
}

static void m_offset_wraps(struct elf_image *img)
{
	Elf64_Phdr *r = img_ph(img, img->want_phdr = IMG_RODATA(img));
	r->p_offset = UINT64_MAX - 0x10;
}

static void m_align_npot(struct elf_image *img)
{
	img_ph(img, img->want_phdr = IMG_RODATA(img))->p_align = 0x3000;
}

static void m_congruent(struct elf_image *img)
{
	img_ph(img, img->want_phdr = IMG_RODATA(img))->p_offset += 8;
}

static void m_vaddr_wraps(struct elf_image *img)
{
	Elf64_Phdr *d = img_ph(img, img->want_phdr = IMG_DATA(img));
	d->p_memsz = UINT64_MAX - d->p_vaddr + 2;
}

static void m_below_window(struct elf_image *img)
{
	Elf64_Phdr *r = img_ph(img, img->want_phdr = IMG_RODATA(img));
	r->p_vaddr -= 0x80000000;   /* just below KERNEL_BASE, same page offset */
	r->p_paddr = r->p_vaddr;
}

static void m_user_half(struct elf_image *img)
{
	Elf64_Phdr *t = img_ph(img, img->want_phdr = IMG_TEXT(img));
	t->p_vaddr &= 0xffffffff;
	t->p_paddr = t->p_vaddr;
}

static void m_past_top(struct elf_image *img)
{
	Elf64_Phdr *l = img_ph(img, img->want_phdr = img_last_load(img));
	l->p_memsz = KERNEL_TOP - l->p_vaddr + 1;
}

/* The data segment moved into the last page of the address space (kept out of the window). */
static void m_last_page(struct elf_image *img)
{
	Elf64_Phdr *d = img_ph(img, img->want_phdr = IMG_DATA(img));
	d->p_vaddr = d->p_paddr = KERNEL_TOP | (d->p_vaddr & (ELF_PAGE_SIZE - 1));
	d->p_memsz = d->p_filesz;
}

static void m_paddr_wraps(struct elf_image *img)
{
	img_ph(img, img->want_phdr = IMG_DATA(img))->p_paddr = UINT64_MAX - 0x10;
}

/* ------------------------------------------------------------------ PT_LOADs against each other */

static void m_order(struct elf_image *img)
{
	int r = IMG_RODATA(img), d = IMG_DATA(img);
	Elf64_Phdr tmp = *img_ph(img, r);

	*img_ph(img, r) = *img_ph(img, d);
	*img_ph(img, d) = tmp;
	img->want_phdr = r > d ? r : d;
	img->want_other = r > d ? d : r;
}

/* The text segment's memory (its zero-filled tail) reaches 16 bytes into rodata. */
static void m_overlap(struct elf_image *img)
{
	int t = IMG_TEXT(img), r = IMG_RODATA(img);

	img_ph(img, t)->p_memsz = img_ph(img, r)->p_vaddr - img_ph(img, t)->p_vaddr + 0x10;
	img->want_phdr = t;
	img->want_other = r;
}

/* Rodata at text's address, from text's file bytes: two segments in one place. */
static void m_same_place(struct elf_image *img)
{
	int t = IMG_TEXT(img), r = IMG_RODATA(img);

	img_ph(img, r)->p_vaddr = img_ph(img, t)->p_vaddr;
	img_ph(img, r)->p_offset = img_ph(img, t)->p_offset;
	img->want_phdr = t;
	img->want_other = r;
}

static void m_paddr_overlap(struct elf_image *img)
{
	int t = IMG_TEXT(img), r = IMG_RODATA(img);

	img_ph(img, r)->p_paddr = img_ph(img, t)->p_paddr;
	img->want_phdr = t;
	img->want_other = r;
}

/* Rodata moved to start 16-byte aligned right after text, in text's last page; `flags` for it. */
static void shared_page(struct elf_image *img, uint32_t flags)
{
	int t = IMG_TEXT(img), r = IMG_RODATA(img);
	Elf64_Phdr *tp = img_ph(img, t), *rp = img_ph(img, r);
	uint64_t at = (tp->p_vaddr + tp->p_memsz + 15) & ~15ULL;

	if (at % ELF_PAGE_SIZE == 0 || rp->p_offset % 16)
		img_die("text ends on a page boundary: no page to share");
	rp->p_vaddr = rp->p_paddr = at;
	rp->p_align = 16;
	rp->p_flags = flags;
	img->want_phdr = t;
	img->want_other = r;
}

static void m_shared_page_wx(struct elf_image *img) { shared_page(img, PF_R | PF_W); }

static void m_no_load(struct elf_image *img)
{
	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		if (img_ph(img, i)->p_type == PT_LOAD)
			img_ph(img, i)->p_type = PT_NULL;
}

static void m_all_empty(struct elf_image *img)
{
	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		if (img_ph(img, i)->p_type == PT_LOAD)
			img_ph(img, i)->p_memsz = img_ph(img, i)->p_filesz = 0;
}

/* ------------------------------------------------------------------ the entry point */

static void m_entry_zero(struct elf_image *img) { img_eh(img)->e_entry = 0; }

static void m_entry_gap(struct elf_image *img)
{
	Elf64_Phdr *t = img_ph(img, IMG_TEXT(img));
	img_eh(img)->e_entry = t->p_vaddr + t->p_memsz;
}

/* The entry point in .bss: the data segment's zero-filled tail. */
static void m_entry_bss(struct elf_image *img)
{
	Elf64_Phdr *d = img_ph(img, img->want_phdr = IMG_DATA(img));
	if (d->p_memsz <= d->p_filesz)
		img_die("the data segment has no .bss tail");
	img_eh(img)->e_entry = d->p_vaddr + d->p_filesz;
}

/* Text with a zero-filled tail, and the entry point in it. */
static void m_entry_text_tail(struct elf_image *img)
{
	Elf64_Phdr *t = img_ph(img, img->want_phdr = IMG_TEXT(img));
	t->p_memsz += 0x100;
	img_eh(img)->e_entry = t->p_vaddr + t->p_filesz;
}

/* Text without file bytes (all zero-filled), the entry point at its start. */
static void m_entry_no_file(struct elf_image *img)
{
	Elf64_Phdr *t = img_ph(img, img->want_phdr = IMG_TEXT(img));
	t->p_filesz = 0;
	img_eh(img)->e_entry = t->p_vaddr;
}

static void m_entry_rodata(struct elf_image *img)
{
	img_eh(img)->e_entry = img_ph(img, img->want_phdr = IMG_RODATA(img))->p_vaddr;
}

static void m_entry_data(struct elf_image *img)
{
	img_eh(img)->e_entry = img_ph(img, img->want_phdr = IMG_DATA(img))->p_vaddr;
}

/* ------------------------------------------------------------------ variations that stay valid */

static void m_none(struct elf_image *img) { (void)img; }
static void m_shared_page_rx(struct elf_image *img) { shared_page(img, PF_R); img->want_phdr = img->want_other = -1; }
static void m_osabi_gnu(struct elf_image *img) { img->buf[EI_OSABI] = ELFOSABI_GNU; }
static void m_ident_pad(struct elf_image *img) { memset(img->buf + 9, 0xa5, EI_NIDENT - 9); }

static void m_entry_last_byte(struct elf_image *img)
{
	Elf64_Phdr *t = img_ph(img, IMG_TEXT(img));
	img_eh(img)->e_entry = t->p_vaddr + t->p_filesz - 1;
}

/* Section header fields are ignored: garbage there changes nothing. */
static void m_section_garbage(struct elf_image *img)
{
	Elf64_Ehdr *eh = img_eh(img);
	eh->e_shoff = UINT64_MAX;
	eh->e_shnum = 0xffff;
	eh->e_shentsize = 3;
	eh->e_shstrndx = 0xfff0;
}

static void m_harmless_types(struct elf_image *img)
{
	static const uint32_t types[] = { PT_NULL, PT_NOTE, PT_PHDR, PT_GNU_EH_FRAME, PT_GNU_STACK,
					  PT_GNU_RELRO, PT_GNU_PROPERTY };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		img_add_type(img, types[i]);
}

static void m_align_none(struct elf_image *img)
{
	for (int i = 0; i < img_eh(img)->e_phnum; i++)
		img_ph(img, i)->p_align = i % 2;   /* 0 and 1: no constraint */
}

/* An empty PT_LOAD (no memory) after the others: counted, checked, not planned. */
static void m_empty_load(struct elf_image *img)
{
	Elf64_Phdr last = *img_ph(img, img_last_load(img));
	int i = img_add_phdr(img);
	*img_ph(img, i) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = last.p_vaddr,
					.p_paddr = last.p_paddr, .p_offset = last.p_offset,
					.p_align = ELF_PAGE_SIZE };
}

/* Rodata grown to end exactly where data starts: touching is not overlapping. */
static void m_adjacent(struct elf_image *img)
{
	Elf64_Phdr *r = img_ph(img, IMG_RODATA(img)), *d = img_ph(img, IMG_DATA(img));
	r->p_memsz = d->p_vaddr - r->p_vaddr;
}

/* A .bss-only data segment whose (unused) file offset lies past the end of the file. */
static void m_bss_offset_past_end(struct elf_image *img)
{
	Elf64_Phdr *d = img_ph(img, IMG_DATA(img));
	d->p_filesz = 0;
	d->p_offset = (UINT64_MAX & ~(ELF_PAGE_SIZE - 1)) | (d->p_vaddr & (ELF_PAGE_SIZE - 1));
}

/* The last PT_LOAD moved to end exactly at KERNEL_TOP (one page at most). */
static void m_ends_at_top(struct elf_image *img)
{
	Elf64_Phdr *l = img_ph(img, img_last_load(img));
	uint64_t in_page = l->p_vaddr & (ELF_PAGE_SIZE - 1);

	if (l->p_filesz > ELF_PAGE_SIZE - in_page)
		img_die("the last segment is longer than a page");
	l->p_vaddr = l->p_paddr = KERNEL_TOP - ELF_PAGE_SIZE + in_page;
	l->p_memsz = ELF_PAGE_SIZE - in_page;
}

/* The last PT_LOAD grown to 1.5 GiB of .bss: a valid image too large for a small machine. */
static void m_huge_bss(struct elf_image *img)
{
	img_ph(img, img_last_load(img))->p_memsz = 0x60000000;
}

/* ------------------------------------------------------------------ the table */

struct elf_case {
	const char *name;
	enum elf_rule rule;
	void (*mutate)(struct elf_image *img);   /* sets want_phdr/want_other where the rule names them */
};

static const struct elf_case elf_cases[] = {
	{ "too_short", ELF_TOO_SHORT, m_too_short },
	{ "empty_file", ELF_TOO_SHORT, m_empty },
	{ "magic", ELF_MAGIC, m_magic },
	{ "class32", ELF_CLASS, m_class32 },
	{ "big_endian", ELF_DATA, m_big_endian },
	{ "ident_version", ELF_IDENT_VERSION, m_ident_version },
	{ "osabi", ELF_OSABI, m_osabi },
	{ "abiversion", ELF_ABIVERSION, m_abiversion },
	{ "machine", ELF_MACHINE, m_machine },
	{ "type_dyn", ELF_TYPE, m_type_dyn },
	{ "type_rel", ELF_TYPE, m_type_rel },
	{ "version", ELF_VERSION, m_version },
	{ "flags", ELF_FLAGS, m_flags },
	{ "ehsize", ELF_EHSIZE, m_ehsize },
	{ "phentsize_large", ELF_PHENTSIZE, m_phentsize_large },
	{ "phentsize_small", ELF_PHENTSIZE, m_phentsize_small },
	{ "no_phdrs", ELF_NO_PHDRS, m_no_phdrs },
	{ "too_many_phdrs", ELF_TOO_MANY_PHDRS, m_too_many_phdrs },
	{ "phnum_xnum", ELF_TOO_MANY_PHDRS, m_phnum_xnum },
	{ "phdrs_past_end", ELF_PHDRS_OUTSIDE, m_phdrs_past_end },
	{ "phoff_wraps", ELF_PHDRS_OUTSIDE, m_phoff_wraps },
	{ "phdrs_truncated", ELF_PHDRS_OUTSIDE, m_phdrs_truncated },
	{ "phdrs_in_ehdr", ELF_PHDRS_IN_EHDR, m_phdrs_in_ehdr },
	{ "phdrs_misaligned", ELF_PHDRS_MISALIGNED, m_phdrs_misaligned },
	{ "note_outside", ELF_NOTE_OUTSIDE, m_note_outside },
	{ "note_offset_wraps", ELF_NOTE_OUTSIDE, m_note_offset_wraps },
	{ "note_cut", ELF_NOTE_OUTSIDE, m_note_cut },
	{ "note_namesz_no_nul", ELF_NOTE_MALFORMED, m_note_namesz_no_nul },
	{ "note_namesz_huge", ELF_NOTE_MALFORMED, m_note_namesz_huge },
	{ "note_namesz_wraps", ELF_NOTE_MALFORMED, m_note_namesz_wraps },
	{ "note_descsz_huge", ELF_NOTE_MALFORMED, m_note_descsz_huge },
	{ "note_descsz_wraps", ELF_NOTE_MALFORMED, m_note_descsz_wraps },
	{ "note_desc_past_segment", ELF_NOTE_MALFORMED, m_note_desc_past_segment },
	{ "note_desc_short", ELF_NOTE_MALFORMED, m_note_desc_short },
	{ "note_tail", ELF_NOTE_MALFORMED, m_note_tail },
	{ "note_segment_short", ELF_NOTE_MALFORMED, m_note_segment_short },
	{ "note_other_segment_malformed", ELF_NOTE_MALFORMED, m_note_other_segment_malformed },
	{ "note_missing", ELF_NOTE_MISSING, m_note_missing },
	{ "note_other_name", ELF_NOTE_MISSING, m_note_other_name },
	{ "note_other_type", ELF_NOTE_MISSING, m_note_other_type },
	{ "note_empty_segment", ELF_NOTE_MISSING, m_note_empty_segment },
	{ "note_version_newer", ELF_NOTE_VERSION, m_note_version_newer },
	{ "note_version_older", ELF_NOTE_VERSION, m_note_version_older },
	{ "note_size", ELF_NOTE_SIZE, m_note_size },
	{ "interp", ELF_SEG_INTERP, m_interp },
	{ "dynamic", ELF_SEG_DYNAMIC, m_dynamic },
	{ "tls", ELF_SEG_TLS, m_tls },
	{ "shlib", ELF_SEG_UNKNOWN, m_shlib },
	{ "unknown_type", ELF_SEG_UNKNOWN, m_unknown_type },
	{ "os_type", ELF_SEG_UNKNOWN, m_os_type },
	{ "too_many_loads", ELF_TOO_MANY_LOADS, m_too_many_loads },
	{ "seg_flags", ELF_SEG_FLAGS, m_seg_flags },
	{ "wx_data", ELF_SEG_WX, m_wx_data },
	{ "wx_text", ELF_SEG_WX, m_wx_text },
	{ "filesz", ELF_SEG_FILESZ, m_filesz },
	{ "truncated", ELF_SEG_FILE_RANGE, m_truncated },
	{ "offset_wraps", ELF_SEG_FILE_RANGE, m_offset_wraps },
	{ "align_npot", ELF_SEG_ALIGN, m_align_npot },
	{ "congruent", ELF_SEG_CONGRUENT, m_congruent },
	{ "vaddr_wraps", ELF_SEG_WRAPS, m_vaddr_wraps },
	{ "below_window", ELF_SEG_WINDOW, m_below_window },
	{ "user_half", ELF_SEG_WINDOW, m_user_half },
	{ "past_top", ELF_SEG_WINDOW, m_past_top },
	{ "last_page", ELF_SEG_WINDOW, m_last_page },
	{ "paddr_wraps", ELF_SEG_PADDR_WRAPS, m_paddr_wraps },
	{ "order", ELF_SEG_ORDER, m_order },
	{ "overlap", ELF_SEG_OVERLAP, m_overlap },
	{ "same_place", ELF_SEG_OVERLAP, m_same_place },
	{ "paddr_overlap", ELF_SEG_PADDR_OVERLAP, m_paddr_overlap },
	{ "shared_page_wx", ELF_SEG_SHARED_PAGE_WX, m_shared_page_wx },
	{ "no_load", ELF_NO_LOAD, m_no_load },
	{ "all_loads_empty", ELF_NO_LOAD, m_all_empty },
	{ "entry_zero", ELF_ENTRY_OUTSIDE, m_entry_zero },
	{ "entry_gap", ELF_ENTRY_OUTSIDE, m_entry_gap },
	{ "entry_bss", ELF_ENTRY_ZERO_FILL, m_entry_bss },
	{ "entry_text_tail", ELF_ENTRY_ZERO_FILL, m_entry_text_tail },
	{ "entry_no_file", ELF_ENTRY_NO_FILE, m_entry_no_file },
	{ "entry_rodata", ELF_ENTRY_NOT_EXEC, m_entry_rodata },
	{ "entry_data", ELF_ENTRY_NOT_EXEC, m_entry_data },
	/* Variations every rule must let through. */
	{ "valid", ELF_OK, m_none },
	{ "ok_shared_page_rx", ELF_OK, m_shared_page_rx },
	{ "ok_osabi_gnu", ELF_OK, m_osabi_gnu },
	{ "ok_ident_pad", ELF_OK, m_ident_pad },
	{ "ok_entry_last_byte", ELF_OK, m_entry_last_byte },
	{ "ok_section_garbage", ELF_OK, m_section_garbage },
	{ "ok_harmless_types", ELF_OK, m_harmless_types },
	{ "ok_align_none", ELF_OK, m_align_none },
	{ "ok_empty_load", ELF_OK, m_empty_load },
	{ "ok_adjacent", ELF_OK, m_adjacent },
	{ "ok_bss_offset_past_end", ELF_OK, m_bss_offset_past_end },
	{ "ok_ends_at_top", ELF_OK, m_ends_at_top },
	{ "ok_huge_bss", ELF_OK, m_huge_bss },
	{ "ok_notes_before_ours", ELF_OK, m_notes_before_ours },
	{ "ok_notes_ours_twice", ELF_OK, m_notes_ours_twice },
	{ "ok_note_segment_before_ours", ELF_OK, m_note_segment_before_ours },
	{ "ok_note_align8", ELF_OK, m_note_align8 },
};

#define ELF_NCASES (sizeof(elf_cases) / sizeof(elf_cases[0]))

/* The case called `name`, or NULL. */
static inline const struct elf_case *elf_case_find(const char *name)
{
	for (size_t i = 0; i < ELF_NCASES; i++)
		if (strcmp(elf_cases[i].name, name) == 0)
			return &elf_cases[i];
	return NULL;
}

#endif
