/*
 * elf_check(): the loader's rules for a kernel ELF file (contract in elf_check.h). Fields are
 * decoded byte by byte (little-endian, any alignment) into native structs before use; every sum
 * of two file-controlled values is checked against overflow first. Rules are applied in the
 * order of ELF_RULES, so a file that breaks several always gets the same verdict.
 *
 * Fields the loader deliberately ignores: EI_PAD (reserved, "programs that read object files
 * should ignore them", gABI), the section header fields (a stripped kernel boots), and
 * non-PT_LOAD headers it knows to be harmless (PT_NULL, PT_PHDR, PT_GNU_EH_FRAME, PT_GNU_STACK,
 * PT_GNU_RELRO, PT_GNU_PROPERTY). PT_NOTE segments are read for the boot-information note right
 * after the header, before the PT_LOAD rules: a kernel of another build is named as such even
 * when its segments break this loader's rules. The offset of a segment without file bytes is
 * not checked against the file size (nothing is read from it).
 */
#include <stddef.h>
#include "elf_check.h"

_Static_assert(sizeof(Elf64_Ehdr) == 64, "ELF64 header layout");
_Static_assert(sizeof(Elf64_Phdr) == 56, "ELF64 program header layout");
_Static_assert(sizeof(Elf64_Nhdr) == ELF_NOTE_HEADER, "ELF note header layout");

struct elf_rule_text {
	const char *name, *field, *problem, *remedy;
};

#define ELF_RULE_TEXT(id, name, field, problem, remedy) { name, field, problem, remedy },
static const struct elf_rule_text elf_rule_texts[ELF_RULE_COUNT] = { ELF_RULES(ELF_RULE_TEXT) };
#undef ELF_RULE_TEXT

/* The text entry of `rule`, or NULL when it is out of range. */
static const struct elf_rule_text *elf_text(enum elf_rule rule)
{
	return (unsigned)rule < ELF_RULE_COUNT ? &elf_rule_texts[rule] : NULL;
}

const char *elf_rule_name(enum elf_rule rule) { return elf_text(rule) ? elf_text(rule)->name : "?"; }
const char *elf_rule_problem(enum elf_rule rule) { return elf_text(rule) ? elf_text(rule)->problem : "?"; }
const char *elf_rule_remedy(enum elf_rule rule) { return elf_text(rule) ? elf_text(rule)->remedy : "?"; }
const char *elf_rule_field(enum elf_rule rule) { return elf_text(rule) ? elf_text(rule)->field : ""; }

/* The PT_LOAD entries seen so far (empty ones included), with their program header index. */
struct elf_loads {
	Elf64_Phdr ph[ELF_MAX_LOADS];
	uint32_t index[ELF_MAX_LOADS];
	uint32_t n;
};

/* Little-endian fields at p, whatever p's alignment. */
static uint16_t elf_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t elf_get32(const uint8_t *p) { return elf_get16(p) | (uint32_t)elf_get16(p + 2) << 16; }
static uint64_t elf_get64(const uint8_t *p) { return elf_get32(p) | (uint64_t)elf_get32(p + 4) << 32; }

/* Decodes the ELF header at p (64 bytes readable). */
static void elf_read_ehdr(const uint8_t *p, Elf64_Ehdr *eh)
{
	for (unsigned i = 0; i < EI_NIDENT; i++)
		eh->e_ident[i] = p[i];
	eh->e_type = elf_get16(p + offsetof(Elf64_Ehdr, e_type));
	eh->e_machine = elf_get16(p + offsetof(Elf64_Ehdr, e_machine));
	eh->e_version = elf_get32(p + offsetof(Elf64_Ehdr, e_version));
	eh->e_entry = elf_get64(p + offsetof(Elf64_Ehdr, e_entry));
	eh->e_phoff = elf_get64(p + offsetof(Elf64_Ehdr, e_phoff));
	eh->e_shoff = elf_get64(p + offsetof(Elf64_Ehdr, e_shoff));
	eh->e_flags = elf_get32(p + offsetof(Elf64_Ehdr, e_flags));
	eh->e_ehsize = elf_get16(p + offsetof(Elf64_Ehdr, e_ehsize));
	eh->e_phentsize = elf_get16(p + offsetof(Elf64_Ehdr, e_phentsize));
	eh->e_phnum = elf_get16(p + offsetof(Elf64_Ehdr, e_phnum));
	eh->e_shentsize = elf_get16(p + offsetof(Elf64_Ehdr, e_shentsize));
	eh->e_shnum = elf_get16(p + offsetof(Elf64_Ehdr, e_shnum));
	eh->e_shstrndx = elf_get16(p + offsetof(Elf64_Ehdr, e_shstrndx));
}

/* Decodes the program header at p (56 bytes readable). */
static void elf_read_phdr(const uint8_t *p, Elf64_Phdr *ph)
{
	ph->p_type = elf_get32(p + offsetof(Elf64_Phdr, p_type));
	ph->p_flags = elf_get32(p + offsetof(Elf64_Phdr, p_flags));
	ph->p_offset = elf_get64(p + offsetof(Elf64_Phdr, p_offset));
	ph->p_vaddr = elf_get64(p + offsetof(Elf64_Phdr, p_vaddr));
	ph->p_paddr = elf_get64(p + offsetof(Elf64_Phdr, p_paddr));
	ph->p_filesz = elf_get64(p + offsetof(Elf64_Phdr, p_filesz));
	ph->p_memsz = elf_get64(p + offsetof(Elf64_Phdr, p_memsz));
	ph->p_align = elf_get64(p + offsetof(Elf64_Phdr, p_align));
}

/* Records a refusal in *v and returns its rule. */
static enum elf_rule elf_refuse(struct elf_verdict *v, enum elf_rule rule, int32_t phdr,
				int32_t other, uint64_t value)
{
	v->rule = rule;
	v->phdr = phdr;
	v->other = other;
	v->value = value;
	return rule;
}

/* The first header rule `eh` breaks for a file of `size` bytes, or ELF_OK. */
static enum elf_rule elf_check_header(const Elf64_Ehdr *eh, uint64_t size, struct elf_verdict *v)
{
	static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };
	const uint8_t *id = eh->e_ident;
	uint64_t table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);   /* 16-bit count: no overflow */

	for (unsigned i = 0; i < sizeof(magic); i++)
		if (id[EI_MAG0 + i] != magic[i])
			return elf_refuse(v, ELF_MAGIC, -1, -1, 0);
	if (id[EI_CLASS] != ELFCLASS64)
		return elf_refuse(v, ELF_CLASS, -1, -1, id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return elf_refuse(v, ELF_DATA, -1, -1, id[EI_DATA]);
	if (id[EI_VERSION] != EV_CURRENT)
		return elf_refuse(v, ELF_IDENT_VERSION, -1, -1, id[EI_VERSION]);
	if (id[EI_OSABI] != ELFOSABI_SYSV && id[EI_OSABI] != ELFOSABI_GNU)
		return elf_refuse(v, ELF_OSABI, -1, -1, id[EI_OSABI]);
	if (id[EI_ABIVERSION] != 0)
		return elf_refuse(v, ELF_ABIVERSION, -1, -1, id[EI_ABIVERSION]);
	if (eh->e_machine != EM_X86_64)
		return elf_refuse(v, ELF_MACHINE, -1, -1, eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return elf_refuse(v, ELF_TYPE, -1, -1, eh->e_type);
	if (eh->e_version != EV_CURRENT)
		return elf_refuse(v, ELF_VERSION, -1, -1, eh->e_version);
	if (eh->e_flags != 0)
		return elf_refuse(v, ELF_FLAGS, -1, -1, eh->e_flags);
	if (eh->e_ehsize != sizeof(Elf64_Ehdr))
		return elf_refuse(v, ELF_EHSIZE, -1, -1, eh->e_ehsize);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return elf_refuse(v, ELF_PHENTSIZE, -1, -1, eh->e_phentsize);
	if (eh->e_phnum == 0)
		return elf_refuse(v, ELF_NO_PHDRS, -1, -1, 0);
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return elf_refuse(v, ELF_TOO_MANY_PHDRS, -1, -1, eh->e_phnum);
	if (eh->e_phoff > size || table > size - eh->e_phoff)
		return elf_refuse(v, ELF_PHDRS_OUTSIDE, -1, -1, eh->e_phoff);
	if (eh->e_phoff < sizeof(Elf64_Ehdr))
		return elf_refuse(v, ELF_PHDRS_IN_EHDR, -1, -1, eh->e_phoff);
	if (eh->e_phoff % sizeof(uint64_t) != 0)
		return elf_refuse(v, ELF_PHDRS_MISALIGNED, -1, -1, eh->e_phoff);
	return ELF_OK;
}

/* Padding that takes offset `at` to a multiple of `align` (a power of two). */
static uint64_t elf_pad(uint64_t at, uint64_t align)
{
	return (align - at % align) % align;
}

/* The first boot-information note met in program header order: where, and what it says. */
struct elf_note_found {
	int32_t phdr;   /* -1 until found */
	struct bootinfo_note desc;
};

/*
 * elf_walk_notes: checks the notes of PT_NOTE `ph` (program header `i`, inside the file) one after
 * the other, as the gABI lays them out: namesz, descsz and type, the name from offset 12 and the
 * description from the next multiple of the note alignment, the next note from the multiple after
 * the description; offsets count from the segment's start, the alignment is 8 when p_align is 8
 * and 4 otherwise (what GNU tools write). Every offset is compared against the bytes left before
 * it is added, so no sum overflows. Records the first boot-information note in *found.
 */
static enum elf_rule elf_walk_notes(const uint8_t *data, const Elf64_Phdr *ph, int32_t i,
				    struct elf_note_found *found, struct elf_verdict *v)
{
	const uint64_t align = ph->p_align == ELF_NOTE_ALIGN8 ? ELF_NOTE_ALIGN8 : ELF_NOTE_ALIGN;
	const uint8_t *seg = data + ph->p_offset;
	uint64_t at = 0;

	while (at < ph->p_filesz) {
		uint64_t left = ph->p_filesz - at, desc, end;
		uint32_t namesz, descsz, type;
		int ours;

		if (left < ELF_NOTE_HEADER)
			return elf_refuse(v, ELF_NOTE_MALFORMED, i, -1, ph->p_offset + at);
		namesz = elf_get32(seg + at + offsetof(Elf64_Nhdr, n_namesz));
		descsz = elf_get32(seg + at + offsetof(Elf64_Nhdr, n_descsz));
		type = elf_get32(seg + at + offsetof(Elf64_Nhdr, n_type));
		if (namesz > left - ELF_NOTE_HEADER)
			return elf_refuse(v, ELF_NOTE_MALFORMED, i, -1, ph->p_offset + at);
		desc = at + ELF_NOTE_HEADER + namesz;   /* <= p_filesz */
		if (elf_pad(desc, align) > ph->p_filesz - desc)
			return elf_refuse(v, ELF_NOTE_MALFORMED, i, -1, ph->p_offset + at);
		desc += elf_pad(desc, align);
		if (descsz > ph->p_filesz - desc)
			return elf_refuse(v, ELF_NOTE_MALFORMED, i, -1, ph->p_offset + at);
		end = desc + descsz;                    /* <= p_filesz */
		ours = type == BOOTINFO_NOTE_TYPE && namesz == sizeof(BOOTINFO_NOTE_NAME);
		for (uint32_t k = 0; ours && k < namesz; k++)
			ours = seg[at + ELF_NOTE_HEADER + k] == (uint8_t)BOOTINFO_NOTE_NAME[k];
		if (ours && descsz < sizeof(struct bootinfo_note))
			return elf_refuse(v, ELF_NOTE_MALFORMED, i, -1, ph->p_offset + at);
		if (ours && found->phdr < 0) {
			found->phdr = i;
			found->desc.version = elf_get32(seg + desc + offsetof(struct bootinfo_note, version));
			found->desc.size = elf_get32(seg + desc + offsetof(struct bootinfo_note, size));
		}
		/* The last note's description needs no padding after it. */
		at = elf_pad(end, align) < ph->p_filesz - end ? end + elf_pad(end, align) : ph->p_filesz;
	}
	return ELF_OK;
}

/*
 * The first note rule the file breaks (a PT_NOTE outside the file or holding a damaged note, no
 * boot-information note, or one of another version or size than the loader's), or ELF_OK. The
 * program header table lies inside the file (elf_check_header).
 */
static enum elf_rule elf_check_notes(const uint8_t *data, uint64_t size, const Elf64_Ehdr *eh,
				     struct elf_verdict *v)
{
	struct elf_note_found found = { .phdr = -1 };
	enum elf_rule rule;

	for (int32_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		elf_read_phdr(data + eh->e_phoff + (uint64_t)i * sizeof(Elf64_Phdr), &ph);
		if (ph.p_type != PT_NOTE || ph.p_filesz == 0)
			continue;
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return elf_refuse(v, ELF_NOTE_OUTSIDE, i, -1, ph.p_offset);
		rule = elf_walk_notes(data, &ph, i, &found, v);
		if (rule != ELF_OK)
			return rule;
	}
	if (found.phdr < 0)
		return elf_refuse(v, ELF_NOTE_MISSING, -1, -1, 0);
	if (found.desc.version != BOOTINFO_VERSION)
		return elf_refuse(v, ELF_NOTE_VERSION, found.phdr, -1, found.desc.version);
	if (found.desc.size != sizeof(struct bootinfo))
		return elf_refuse(v, ELF_NOTE_SIZE, found.phdr, -1, found.desc.size);
	return ELF_OK;
}

/* True if a is 0 or a power of two (gABI: 0 and 1 both mean no alignment constraint). */
static int elf_align_valid(uint64_t a)
{
	return (a & (a - 1)) == 0;
}

/* The first rule PT_LOAD `ph` (program header `i`) breaks on its own, or ELF_OK. */
static enum elf_rule elf_check_load(const Elf64_Phdr *ph, int32_t i, uint64_t size,
				    struct elf_verdict *v)
{
	if (ph->p_flags & ~(uint32_t)(PF_R | PF_W | PF_X))
		return elf_refuse(v, ELF_SEG_FLAGS, i, -1, ph->p_flags);
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return elf_refuse(v, ELF_SEG_WX, i, -1, ph->p_flags);
	if (ph->p_filesz > ph->p_memsz)
		return elf_refuse(v, ELF_SEG_FILESZ, i, -1, ph->p_filesz);
	if (ph->p_filesz != 0 && (ph->p_offset > size || ph->p_filesz > size - ph->p_offset))
		return elf_refuse(v, ELF_SEG_FILE_RANGE, i, -1, ph->p_offset);
	if (!elf_align_valid(ph->p_align))
		return elf_refuse(v, ELF_SEG_ALIGN, i, -1, ph->p_align);
	if (ph->p_align > 1 && ((ph->p_offset ^ ph->p_vaddr) & (ph->p_align - 1)) != 0)
		return elf_refuse(v, ELF_SEG_CONGRUENT, i, -1, ph->p_offset);
	if (ph->p_memsz > UINT64_MAX - ph->p_vaddr)
		return elf_refuse(v, ELF_SEG_WRAPS, i, -1, ph->p_memsz);
	if (ph->p_vaddr < KERNEL_BASE || ph->p_vaddr + ph->p_memsz > KERNEL_TOP)
		return elf_refuse(v, ELF_SEG_WINDOW, i, -1, ph->p_vaddr);
	if (ph->p_memsz > UINT64_MAX - ph->p_paddr)
		return elf_refuse(v, ELF_SEG_PADDR_WRAPS, i, -1, ph->p_paddr);
	return ELF_OK;
}

/*
 * The first rule program header `i` breaks on its own or against the PT_LOADs before it (type,
 * count, fields, order), or ELF_OK; a PT_LOAD is appended to *loads.
 */
static enum elf_rule elf_check_phdr(const Elf64_Phdr *ph, int32_t i, uint64_t size,
				    struct elf_loads *loads, struct elf_verdict *v)
{
	enum elf_rule rule;

	switch (ph->p_type) {
	case PT_LOAD:
		break;
	case PT_NULL: case PT_NOTE: case PT_PHDR: case PT_GNU_EH_FRAME: case PT_GNU_STACK:
	case PT_GNU_RELRO: case PT_GNU_PROPERTY:
		return ELF_OK;
	case PT_INTERP:
		return elf_refuse(v, ELF_SEG_INTERP, i, -1, ph->p_type);
	case PT_DYNAMIC:
		return elf_refuse(v, ELF_SEG_DYNAMIC, i, -1, ph->p_type);
	case PT_TLS:
		return elf_refuse(v, ELF_SEG_TLS, i, -1, ph->p_type);
	default:
		return elf_refuse(v, ELF_SEG_UNKNOWN, i, -1, ph->p_type);
	}
	if (loads->n == ELF_MAX_LOADS)
		return elf_refuse(v, ELF_TOO_MANY_LOADS, i, -1, 0);
	rule = elf_check_load(ph, i, size, v);
	if (rule != ELF_OK)
		return rule;
	if (loads->n > 0 && ph->p_vaddr < loads->ph[loads->n - 1].p_vaddr)
		return elf_refuse(v, ELF_SEG_ORDER, i, (int32_t)loads->index[loads->n - 1], ph->p_vaddr);
	loads->ph[loads->n] = *ph;
	loads->index[loads->n] = (uint32_t)i;
	loads->n++;
	return ELF_OK;
}

/* True if [a, a + an) and [b, b + bn) intersect; both non-empty and not wrapping. */
static int elf_ranges_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* True if the pages touched by two non-empty segments (inside the window) intersect. */
static int elf_pages_meet(const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	uint64_t a_lo = a->p_vaddr / ELF_PAGE_SIZE, a_hi = (a->p_vaddr + a->p_memsz - 1) / ELF_PAGE_SIZE;
	uint64_t b_lo = b->p_vaddr / ELF_PAGE_SIZE, b_hi = (b->p_vaddr + b->p_memsz - 1) / ELF_PAGE_SIZE;

	return a_lo <= b_hi && b_lo <= a_hi;
}

/* Which pair rule segments a and b (non-empty, individually valid) break, or ELF_OK. */
static enum elf_rule elf_pair_rule(const Elf64_Phdr *a, const Elf64_Phdr *b, enum elf_rule rule)
{
	uint32_t both = a->p_flags | b->p_flags;

	switch (rule) {
	case ELF_SEG_OVERLAP:
		return elf_ranges_meet(a->p_vaddr, a->p_memsz, b->p_vaddr, b->p_memsz) ? rule : ELF_OK;
	case ELF_SEG_PADDR_OVERLAP:
		return elf_ranges_meet(a->p_paddr, a->p_memsz, b->p_paddr, b->p_memsz) ? rule : ELF_OK;
	default:
		return (both & PF_W) && (both & PF_X) && elf_pages_meet(a, b) ? rule : ELF_OK;
	}
}

/* The first pair rule (overlap in memory, in p_paddr, a page shared by W and X) any two break. */
static enum elf_rule elf_check_pairs(const struct elf_loads *loads, struct elf_verdict *v)
{
	static const enum elf_rule rules[] = { ELF_SEG_OVERLAP, ELF_SEG_PADDR_OVERLAP, ELF_SEG_SHARED_PAGE_WX };

	for (unsigned r = 0; r < sizeof(rules) / sizeof(rules[0]); r++)
		for (uint32_t i = 0; i < loads->n; i++)
			for (uint32_t j = i + 1; j < loads->n; j++) {
				const Elf64_Phdr *a = &loads->ph[i], *b = &loads->ph[j];

				if (a->p_memsz == 0 || b->p_memsz == 0 || elf_pair_rule(a, b, rules[r]) == ELF_OK)
					continue;
				return elf_refuse(v, rules[r], (int32_t)loads->index[i], (int32_t)loads->index[j],
						  rules[r] == ELF_SEG_PADDR_OVERLAP ? b->p_paddr : b->p_vaddr);
			}
	return ELF_OK;
}

/* The entry rule `entry` breaks against the loads, or ELF_OK. */
static enum elf_rule elf_check_entry(const struct elf_loads *loads, uint64_t entry, struct elf_verdict *v)
{
	for (uint32_t i = 0; i < loads->n; i++) {
		const Elf64_Phdr *ph = &loads->ph[i];
		int32_t at = (int32_t)loads->index[i];

		if (entry < ph->p_vaddr || entry - ph->p_vaddr >= ph->p_memsz)
			continue;
		if (ph->p_filesz == 0)
			return elf_refuse(v, ELF_ENTRY_NO_FILE, at, -1, entry);
		if (entry - ph->p_vaddr >= ph->p_filesz)
			return elf_refuse(v, ELF_ENTRY_ZERO_FILL, at, -1, entry);
		if (!(ph->p_flags & PF_X))
			return elf_refuse(v, ELF_ENTRY_NOT_EXEC, at, -1, entry);
		return ELF_OK;
	}
	return elf_refuse(v, ELF_ENTRY_OUTSIDE, -1, -1, entry);
}

/* Fills *plan from the accepted loads (ascending, non-overlapping, inside the window). */
static void elf_make_plan(const struct elf_loads *loads, uint64_t entry, struct elf_plan *plan)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < loads->n; i++) {
		const Elf64_Phdr *ph = &loads->ph[i];
		struct elf_segment *s;

		if (ph->p_memsz == 0)
			continue;
		s = &plan->seg[plan->nsegs++];
		s->vaddr = ph->p_vaddr;
		s->memsz = ph->p_memsz;
		s->offset = ph->p_offset;
		s->filesz = ph->p_filesz;
		s->flags = ph->p_flags;
		s->phdr = loads->index[i];
		end = ph->p_vaddr + ph->p_memsz;
	}
	plan->entry = entry;
	plan->virt_base = plan->seg[0].vaddr & ~(ELF_PAGE_SIZE - 1);
	/* end <= KERNEL_TOP, a page multiple: rounding up cannot overflow. */
	plan->size = ((end + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1)) - plan->virt_base;
}

/* The rule the file breaks, with *v filled, or ELF_OK with *plan filled (see elf_check.h). */
static enum elf_rule elf_check_file(const uint8_t *data, uint64_t size, struct elf_plan *plan,
				    struct elf_verdict *v)
{
	struct elf_loads loads;
	Elf64_Ehdr eh;
	enum elf_rule rule;
	uint32_t nonempty = 0;

	if (size < sizeof(Elf64_Ehdr))
		return elf_refuse(v, ELF_TOO_SHORT, -1, -1, size);
	elf_read_ehdr(data, &eh);
	rule = elf_check_header(&eh, size, v);
	if (rule != ELF_OK)
		return rule;
	rule = elf_check_notes(data, size, &eh, v);
	if (rule != ELF_OK)
		return rule;
	loads.n = 0;
	for (int32_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		elf_read_phdr(data + eh.e_phoff + (uint64_t)i * sizeof(Elf64_Phdr), &ph);
		rule = elf_check_phdr(&ph, i, size, &loads, v);
		if (rule != ELF_OK)
			return rule;
	}
	rule = elf_check_pairs(&loads, v);
	if (rule != ELF_OK)
		return rule;
	for (uint32_t i = 0; i < loads.n; i++)
		nonempty += loads.ph[i].p_memsz != 0;
	if (nonempty == 0)
		return elf_refuse(v, ELF_NO_LOAD, -1, -1, 0);
	rule = elf_check_entry(&loads, eh.e_entry, v);
	if (rule != ELF_OK)
		return rule;
	elf_make_plan(&loads, eh.e_entry, plan);
	return ELF_OK;
}

enum elf_rule elf_check(const void *file, uint64_t size, struct elf_plan *plan,
			struct elf_verdict *verdict)
{
	static const struct elf_plan empty_plan;

	*plan = empty_plan;   /* elf_check_file writes it only once the file is accepted */
	elf_refuse(verdict, ELF_OK, -1, -1, 0);
	return elf_check_file(file, size, plan, verdict);
}
