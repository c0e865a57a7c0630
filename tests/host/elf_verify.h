/*
 * An independent judge of elf_check()'s output, shared by the host property test and the fuzz
 * harness: it decodes the file again (memcpy into the structs, not elf_check's byte decoder) and
 * checks that
 *  - an accepted file's plan is self-consistent and true to the file: every non-empty PT_LOAD is
 *    in it with its own fields and nothing else is; each segment's file bytes lie inside the
 *    input and its memory inside [KERNEL_BASE, KERNEL_TOP); segments ascend without overlapping
 *    (in memory, in the block, in p_paddr); none is W+X and no page is shared by W and X; the
 *    entry point is in an executable segment's file bytes; the header is the one accepted; every
 *    PT_NOTE lies inside the file with whole notes, and the first boot-information note
 *    (include/bootinfo.h) carries the loader's version and size;
 *  - a refusal names a rule that exists, program headers that exist, zeroes the plan, and its
 *    reason holds: the named field or segments really break the named rule.
 * Returns NULL when all holds, else what does not. Header-only: include it once per program.
 */
#ifndef ELF_VERIFY_H
#define ELF_VERIFY_H

#include <stdint.h>
#include <string.h>
#include "../../boot/elf_check.h"
#include "bootinfo.h"

/* Decoded view of a file: header and program header table, when they are inside the file. */
struct elf_view {
	const uint8_t *file;
	uint64_t size;
	Elf64_Ehdr eh;
	int have_eh, have_table;
};

/* Program header i (requires have_table and i < e_phnum). */
static Elf64_Phdr ev_ph(const struct elf_view *ev, uint64_t i)
{
	Elf64_Phdr ph;
	memcpy(&ph, ev->file + ev->eh.e_phoff + i * sizeof(ph), sizeof(ph));
	return ph;
}

/* Decodes the header and notes whether it and the program header table lie inside the file. */
static void ev_init(struct elf_view *ev, const uint8_t *file, uint64_t size)
{
	memset(ev, 0, sizeof(*ev));
	ev->file = file;
	ev->size = size;
	if (size < sizeof(Elf64_Ehdr))
		return;
	memcpy(&ev->eh, file, sizeof(ev->eh));
	ev->have_eh = 1;
	uint64_t table = (uint64_t)ev->eh.e_phnum * sizeof(Elf64_Phdr);
	ev->have_table = ev->eh.e_phentsize == sizeof(Elf64_Phdr) && ev->eh.e_phoff <= size &&
			 table <= size - ev->eh.e_phoff;
}

/* [a, a+an) and [b, b+bn) intersect (computed in 128 bits: no wrap assumptions). */
static int ev_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an && bn && (unsigned __int128)a < (unsigned __int128)b + bn &&
	       (unsigned __int128)b < (unsigned __int128)a + an;
}

/* The pages of two non-empty ranges intersect. */
static int ev_pages_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	uint64_t a0 = a / ELF_PAGE_SIZE, a1 = (a + an - 1) / ELF_PAGE_SIZE;
	uint64_t b0 = b / ELF_PAGE_SIZE, b1 = (b + bn - 1) / ELF_PAGE_SIZE;
	return a0 <= b1 && b0 <= a1;
}

/* What walking one PT_NOTE's notes found (ev_walk_notes). */
struct ev_notes {
	int outside;        /* the segment's bytes are not all inside the file */
	int malformed;      /* a note runs past the segment, or the boot-information note is short */
	uint64_t bad_at;    /* file offset of that note */
	int ours;           /* a boot-information note came before any malformation */
	uint32_t version, size;   /* the first one's description */
};

/*
 * Walks PT_NOTE ph's notes in 128-bit offsets: header at a multiple of the alignment (8 for
 * p_align 8, else 4) from the segment's start, the description at the next multiple after the
 * name, the next note at the next multiple after the description; every part inside the segment.
 */
static void ev_walk_notes(const struct elf_view *ev, const Elf64_Phdr *ph, struct ev_notes *w)
{
	const unsigned __int128 n = ph->p_filesz, a = ph->p_align == 8 ? 8 : 4;
	unsigned __int128 at = 0;

	memset(w, 0, sizeof(*w));
	if (n == 0)
		return;
	if ((unsigned __int128)ph->p_offset + n > ev->size) {
		w->outside = 1;
		return;
	}
	const uint8_t *seg = ev->file + ph->p_offset;
	while (at < n) {
		uint32_t namesz, descsz, type;
		if (at + 12 > n)
			goto bad;
		memcpy(&namesz, seg + at, 4);
		memcpy(&descsz, seg + at + 4, 4);
		memcpy(&type, seg + at + 8, 4);
		unsigned __int128 desc = (at + 12 + namesz + a - 1) / a * a, end = desc + descsz;
		if (desc > n || end > n)
			goto bad;
		int ours = type == BOOTINFO_NOTE_TYPE && namesz == sizeof(BOOTINFO_NOTE_NAME) &&
			   memcmp(seg + at + 12, BOOTINFO_NOTE_NAME, sizeof(BOOTINFO_NOTE_NAME)) == 0;
		if (ours && descsz < sizeof(struct bootinfo_note))
			goto bad;
		if (ours && !w->ours) {
			w->ours = 1;
			memcpy(&w->version, seg + desc, 4);
			memcpy(&w->size, seg + desc + 4, 4);
		}
		at = (end + a - 1) / a * a;
	}
	return;
bad:
	w->malformed = 1;
	w->bad_at = ph->p_offset + (uint64_t)at;
}

/* The first boot-information note over every PT_NOTE in order: its program header (-1 if none) and *w. */
static int ev_first_ours(const struct elf_view *ev, struct ev_notes *first)
{
	for (uint64_t i = 0; ev->have_table && i < ev->eh.e_phnum; i++) {
		Elf64_Phdr ph = ev_ph(ev, i);
		if (ph.p_type != PT_NOTE)
			continue;
		ev_walk_notes(ev, &ph, first);
		if (first->ours)
			return (int)i;
	}
	return -1;
}

/* The accepted file's notes are whole and the first boot-information note is this build's. */
static const char *ev_notes_ok(const struct elf_view *ev)
{
	struct ev_notes w;

	for (uint64_t i = 0; i < ev->eh.e_phnum; i++) {
		Elf64_Phdr ph = ev_ph(ev, i);
		if (ph.p_type != PT_NOTE)
			continue;
		ev_walk_notes(ev, &ph, &w);
		if (w.outside || w.malformed)
			return "accepted a PT_NOTE outside the file or with a malformed note";
	}
	if (ev_first_ours(ev, &w) < 0)
		return "accepted without a boot-information note";
	if (w.version != BOOTINFO_VERSION || w.size != sizeof(struct bootinfo))
		return "accepted a boot-information note of another version or size";
	return NULL;
}

/* The note rule `rule` really holds for program header `phdr` and the reported value. */
static const char *ev_note_reason(const struct elf_view *ev, const struct elf_verdict *v)
{
	Elf64_Phdr ph = ev_ph(ev, (uint64_t)v->phdr);
	struct ev_notes w;
	int first;

	if (ph.p_type != PT_NOTE)
		return "refused: a note rule names a program header that is no PT_NOTE";
	ev_walk_notes(ev, &ph, &w);
	switch (v->rule) {
	case ELF_NOTE_OUTSIDE:
		return w.outside && v->value == ph.p_offset ? NULL : "refused: the PT_NOTE lies inside the file";
	case ELF_NOTE_MALFORMED:
		return w.malformed && v->value == w.bad_at ? NULL : "refused: no malformed note at the reported offset";
	case ELF_NOTE_VERSION:
	case ELF_NOTE_SIZE:
		first = ev_first_ours(ev, &w);
		if (first != v->phdr)
			return "refused: the first boot-information note is not in the named PT_NOTE";
		if (v->rule == ELF_NOTE_VERSION)
			return w.version != BOOTINFO_VERSION && w.version == v->value ? NULL : "refused: the version is right";
		return w.version == BOOTINFO_VERSION && w.size != sizeof(struct bootinfo) && w.size == v->value ?
		       NULL : "refused: the size is right (or the version wrong)";
	default:
		return "refused: a note rule the judge does not know";
	}
}

/* The header is one elf_check accepts. */
static const char *ev_header_ok(const struct elf_view *ev)
{
	const Elf64_Ehdr *eh = &ev->eh;
	if (!ev->have_eh || memcmp(eh->e_ident, "\x7f" "ELF", 4) != 0)
		return "accepted: no ELF header";
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_ident[EI_ABIVERSION] != 0 ||
	    (eh->e_ident[EI_OSABI] != ELFOSABI_SYSV && eh->e_ident[EI_OSABI] != ELFOSABI_GNU))
		return "accepted: bad e_ident";
	if (eh->e_type != ET_EXEC || eh->e_machine != EM_X86_64 || eh->e_version != EV_CURRENT ||
	    eh->e_flags != 0 || eh->e_ehsize != 64)
		return "accepted: bad type/machine/version/flags/ehsize";
	if (!ev->have_table || eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS || eh->e_phoff < 64 ||
	    eh->e_phoff % 8)
		return "accepted: bad program header table";
	return NULL;
}

/* An accepted plan is self-consistent, inside the file and the window, and true to the file. */
static const char *ev_accepted(const struct elf_view *ev, const struct elf_plan *p)
{
	const char *why = ev_header_ok(ev);
	uint32_t k = 0, loads = 0;

	if (why)
		return why;
	why = ev_notes_ok(ev);
	if (why)
		return why;
	if (p->nsegs == 0 || p->nsegs > ELF_MAX_LOADS)
		return "plan: segment count";
	for (uint64_t i = 0; i < ev->eh.e_phnum; i++) {
		Elf64_Phdr ph = ev_ph(ev, i);
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC || ph.p_type == PT_TLS ||
		    ph.p_type == PT_SHLIB)
			return "accepted with PT_INTERP, PT_DYNAMIC, PT_TLS or PT_SHLIB";
		if (ph.p_type != PT_LOAD)
			continue;
		if (++loads > ELF_MAX_LOADS)
			return "accepted with too many PT_LOADs";
		if ((ph.p_flags & (PF_W | PF_X)) == (PF_W | PF_X) || (ph.p_flags & ~7u))
			return "accepted a PT_LOAD with W+X or unknown flags";
		if (ph.p_vaddr < KERNEL_BASE || ph.p_vaddr > KERNEL_TOP || ph.p_memsz > KERNEL_TOP - ph.p_vaddr)
			return "accepted a PT_LOAD outside the kernel window";
		if (ph.p_memsz == 0)
			continue;
		if (k >= p->nsegs)
			return "plan: a non-empty PT_LOAD is missing";
		const struct elf_segment *s = &p->seg[k++];
		if (s->phdr != i || s->vaddr != ph.p_vaddr || s->memsz != ph.p_memsz ||
		    s->offset != ph.p_offset || s->filesz != ph.p_filesz || s->flags != ph.p_flags)
			return "plan: a segment differs from its program header";
		for (uint64_t j = 0; j < i; j++) {
			Elf64_Phdr q = ev_ph(ev, j);
			if (q.p_type == PT_LOAD && ev_meet(q.p_paddr, q.p_memsz, ph.p_paddr, ph.p_memsz))
				return "accepted overlapping p_paddr";
		}
		if ((unsigned __int128)ph.p_paddr + ph.p_memsz > UINT64_MAX)
			return "accepted a wrapping p_paddr";
	}
	if (k != p->nsegs)
		return "plan: a segment that is no non-empty PT_LOAD";
	for (uint32_t i = 0; i < p->nsegs; i++) {
		const struct elf_segment *s = &p->seg[i];
		if (s->memsz == 0 || s->filesz > s->memsz)
			return "plan: empty segment or filesz > memsz";
		if (s->filesz && (s->offset > ev->size || s->filesz > ev->size - s->offset))
			return "plan: file bytes outside the input";
		if (s->vaddr < KERNEL_BASE || s->vaddr > KERNEL_TOP || s->memsz > KERNEL_TOP - s->vaddr)
			return "plan: segment outside the kernel window";
		if (s->vaddr < p->virt_base || s->vaddr - p->virt_base > p->size ||
		    s->memsz > p->size - (s->vaddr - p->virt_base))
			return "plan: segment outside [virt_base, virt_base + size)";
		for (uint32_t j = 0; j < i; j++) {
			const struct elf_segment *t = &p->seg[j];
			if (t->vaddr > s->vaddr)
				return "plan: segments not ascending";
			if (ev_meet(t->vaddr, t->memsz, s->vaddr, s->memsz) ||
			    ev_meet(t->vaddr - p->virt_base, t->memsz, s->vaddr - p->virt_base, s->memsz))
				return "plan: segments overlap (memory or block)";
			if (((t->flags | s->flags) & (PF_W | PF_X)) == (PF_W | PF_X) &&
			    ev_pages_meet(t->vaddr, t->memsz, s->vaddr, s->memsz))
				return "plan: a page shared by a writable and an executable segment";
		}
	}
	const struct elf_segment *first = &p->seg[0], *last = &p->seg[p->nsegs - 1];
	if (p->virt_base != (first->vaddr & ~(ELF_PAGE_SIZE - 1)) || p->size % ELF_PAGE_SIZE ||
	    p->virt_base + p->size != ((last->vaddr + last->memsz + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1)) ||
	    p->size > KERNEL_TOP - p->virt_base)
		return "plan: virt_base/size";
	if (p->entry != ev->eh.e_entry)
		return "plan: entry differs from e_entry";
	for (uint32_t i = 0; i < p->nsegs; i++) {
		const struct elf_segment *s = &p->seg[i];
		if ((s->flags & PF_X) && p->entry >= s->vaddr && p->entry - s->vaddr < s->filesz)
			return NULL;
	}
	return "plan: entry not in an executable segment's file bytes";
}

/* The segment rule `rule` really holds for program header ph (on its own). */
static const char *ev_seg_reason(const struct elf_view *ev, enum elf_rule rule, const Elf64_Phdr *ph)
{
	int holds;

	switch (rule) {
	case ELF_SEG_INTERP: holds = ph->p_type == PT_INTERP; break;
	case ELF_SEG_DYNAMIC: holds = ph->p_type == PT_DYNAMIC; break;
	case ELF_SEG_TLS: holds = ph->p_type == PT_TLS; break;
	case ELF_SEG_UNKNOWN:
		holds = ph->p_type != PT_LOAD && ph->p_type != PT_NULL && ph->p_type != PT_NOTE &&
			ph->p_type != PT_PHDR && ph->p_type != PT_INTERP && ph->p_type != PT_DYNAMIC &&
			ph->p_type != PT_TLS && (ph->p_type < PT_GNU_EH_FRAME || ph->p_type > PT_GNU_PROPERTY);
		break;
	case ELF_SEG_FLAGS: holds = (ph->p_flags & ~7u) != 0; break;
	case ELF_SEG_WX: holds = (ph->p_flags & (PF_W | PF_X)) == (PF_W | PF_X); break;
	case ELF_SEG_FILESZ: holds = ph->p_filesz > ph->p_memsz; break;
	case ELF_SEG_FILE_RANGE:
		holds = ph->p_filesz && (unsigned __int128)ph->p_offset + ph->p_filesz > ev->size;
		break;
	case ELF_SEG_ALIGN: holds = (ph->p_align & (ph->p_align - 1)) != 0; break;
	case ELF_SEG_CONGRUENT: holds = ph->p_align > 1 && ph->p_offset % ph->p_align != ph->p_vaddr % ph->p_align; break;
	case ELF_SEG_WRAPS: holds = (unsigned __int128)ph->p_vaddr + ph->p_memsz > UINT64_MAX; break;
	case ELF_SEG_WINDOW: holds = ph->p_vaddr < KERNEL_BASE || ph->p_vaddr + ph->p_memsz > KERNEL_TOP; break;
	case ELF_SEG_PADDR_WRAPS: holds = (unsigned __int128)ph->p_paddr + ph->p_memsz > UINT64_MAX; break;
	default: return "refused: a segment rule the judge does not know";
	}
	return holds ? NULL : "refused: the named program header does not break the named rule";
}

/* The pair rule `rule` really holds for program headers a (earlier) and b. */
static const char *ev_pair_reason(enum elf_rule rule, const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	int holds;

	if (a->p_type != PT_LOAD || b->p_type != PT_LOAD)
		return "refused: a pair rule names a program header that is no PT_LOAD";
	switch (rule) {
	case ELF_SEG_ORDER: holds = b->p_vaddr < a->p_vaddr; break;
	case ELF_SEG_OVERLAP: holds = ev_meet(a->p_vaddr, a->p_memsz, b->p_vaddr, b->p_memsz); break;
	case ELF_SEG_PADDR_OVERLAP: holds = ev_meet(a->p_paddr, a->p_memsz, b->p_paddr, b->p_memsz); break;
	case ELF_SEG_SHARED_PAGE_WX:
		holds = ((a->p_flags | b->p_flags) & (PF_W | PF_X)) == (PF_W | PF_X) && a->p_memsz && b->p_memsz &&
			ev_pages_meet(a->p_vaddr, a->p_memsz, b->p_vaddr, b->p_memsz);
		break;
	default: return "refused: a pair rule the judge does not know";
	}
	return holds ? NULL : "refused: the named program headers do not break the named rule";
}

/* The entry rule `rule` really holds for entry e and the segment ph it names. */
static const char *ev_entry_reason(enum elf_rule rule, uint64_t e, const Elf64_Phdr *ph)
{
	if (ph->p_type != PT_LOAD || e < ph->p_vaddr || e - ph->p_vaddr >= ph->p_memsz)
		return "refused: the entry point is not in the named segment";
	switch (rule) {
	case ELF_ENTRY_NO_FILE: return ph->p_filesz == 0 ? NULL : "refused: the segment has file bytes";
	case ELF_ENTRY_ZERO_FILL: return e - ph->p_vaddr >= ph->p_filesz ? NULL : "refused: entry in file bytes";
	case ELF_ENTRY_NOT_EXEC: return !(ph->p_flags & PF_X) ? NULL : "refused: the segment is executable";
	default: return "refused: an entry rule the judge does not know";
	}
}

/* The header rule `rule` really holds (value = what the verdict reported). */
static const char *ev_header_reason(const struct elf_view *ev, enum elf_rule rule)
{
	const Elf64_Ehdr *eh = &ev->eh;
	uint64_t table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	int holds;

	if (rule == ELF_TOO_SHORT)
		return ev->size < sizeof(Elf64_Ehdr) ? NULL : "refused as too short";
	if (!ev->have_eh)
		return "refused a file too short for a header with another rule";
	switch (rule) {
	case ELF_MAGIC: holds = memcmp(eh->e_ident, "\x7f" "ELF", 4) != 0; break;
	case ELF_CLASS: holds = eh->e_ident[EI_CLASS] != ELFCLASS64; break;
	case ELF_DATA: holds = eh->e_ident[EI_DATA] != ELFDATA2LSB; break;
	case ELF_IDENT_VERSION: holds = eh->e_ident[EI_VERSION] != EV_CURRENT; break;
	case ELF_OSABI: holds = eh->e_ident[EI_OSABI] != ELFOSABI_SYSV && eh->e_ident[EI_OSABI] != ELFOSABI_GNU; break;
	case ELF_ABIVERSION: holds = eh->e_ident[EI_ABIVERSION] != 0; break;
	case ELF_MACHINE: holds = eh->e_machine != EM_X86_64; break;
	case ELF_TYPE: holds = eh->e_type != ET_EXEC; break;
	case ELF_VERSION: holds = eh->e_version != EV_CURRENT; break;
	case ELF_FLAGS: holds = eh->e_flags != 0; break;
	case ELF_EHSIZE: holds = eh->e_ehsize != 64; break;
	case ELF_PHENTSIZE: holds = eh->e_phentsize != 56; break;
	case ELF_NO_PHDRS: holds = eh->e_phnum == 0; break;
	case ELF_TOO_MANY_PHDRS: holds = eh->e_phnum > ELF_MAX_PHDRS; break;
	case ELF_PHDRS_OUTSIDE: holds = eh->e_phoff > ev->size || table > ev->size - eh->e_phoff; break;
	case ELF_PHDRS_IN_EHDR: holds = eh->e_phoff < 64; break;
	case ELF_PHDRS_MISALIGNED: holds = eh->e_phoff % 8 != 0; break;
	case ELF_NOTE_MISSING: {
		struct ev_notes w;
		holds = ev->have_table && ev_first_ours(ev, &w) < 0;
		break;
	}
	case ELF_NO_LOAD: {
		holds = ev->have_table;
		for (uint64_t i = 0; holds && i < eh->e_phnum; i++) {
			Elf64_Phdr ph = ev_ph(ev, i);
			holds = !(ph.p_type == PT_LOAD && ph.p_memsz);
		}
		break;
	}
	case ELF_ENTRY_OUTSIDE: {
		holds = ev->have_table;
		for (uint64_t i = 0; holds && i < eh->e_phnum; i++) {
			Elf64_Phdr ph = ev_ph(ev, i);
			holds = !(ph.p_type == PT_LOAD && eh->e_entry >= ph.p_vaddr && eh->e_entry - ph.p_vaddr < ph.p_memsz);
		}
		break;
	}
	default: return "refused: a header rule the judge does not know";
	}
	return holds ? NULL : "refused: the header does not break the named rule";
}

/* A refusal is well-formed and its reason holds. */
static const char *ev_refused(const struct elf_view *ev, const struct elf_verdict *v, const struct elf_plan *p)
{
	static const struct elf_plan zero;
	uint64_t phnum = ev->have_eh ? ev->eh.e_phnum : 0;

	if (v->rule <= ELF_OK || v->rule >= ELF_RULE_COUNT)
		return "refused with no rule";
	if (!elf_rule_problem(v->rule)[0] || !elf_rule_remedy(v->rule)[0] || !strcmp(elf_rule_name(v->rule), "?"))
		return "refused without a message";
	if (memcmp(p, &zero, sizeof(zero)) != 0)
		return "refused but the plan is not zeroed";
	if (v->phdr < -1 || v->other < -1 || (v->phdr >= 0 && (uint64_t)v->phdr >= phnum) ||
	    (v->other >= 0 && (uint64_t)v->other >= phnum) || (v->other >= 0 && v->phdr < 0))
		return "refused naming a program header that does not exist";
	if (v->phdr < 0)
		return ev_header_reason(ev, v->rule);
	if (!ev->have_table)
		return "refused naming a program header without a table";
	Elf64_Phdr ph = ev_ph(ev, (uint64_t)v->phdr);
	if (v->rule >= ELF_NOTE_OUTSIDE && v->rule <= ELF_NOTE_SIZE)
		return ev_note_reason(ev, v);
	if (v->rule >= ELF_ENTRY_OUTSIDE)
		return ev_entry_reason(v->rule, ev->eh.e_entry, &ph);
	if (v->rule == ELF_TOO_MANY_LOADS) {
		uint64_t loads = 0;
		for (uint64_t i = 0; i <= (uint64_t)v->phdr; i++)
			loads += ev_ph(ev, i).p_type == PT_LOAD;
		return ph.p_type == PT_LOAD && loads == ELF_MAX_LOADS + 1 ? NULL : "refused: not the PT_LOAD one too many";
	}
	if (v->other >= 0) {
		Elf64_Phdr a = ev_ph(ev, (uint64_t)(v->other < v->phdr ? v->other : v->phdr));
		Elf64_Phdr b = ev_ph(ev, (uint64_t)(v->other < v->phdr ? v->phdr : v->other));
		return ev_pair_reason(v->rule, &a, &b);
	}
	return ev_seg_reason(ev, v->rule, &ph);
}

/* NULL if (rule, verdict, plan) is a correct outcome of elf_check on the input, else why not. */
static const char *elf_verify(const uint8_t *file, uint64_t size, enum elf_rule rule,
			      const struct elf_verdict *v, const struct elf_plan *p)
{
	struct elf_view ev;

	ev_init(&ev, file, size);
	if (rule != v->rule)
		return "return value differs from verdict.rule";
	if (rule == ELF_OK)
		return v->phdr == -1 && v->other == -1 ? ev_accepted(&ev, p) : "accepted naming a program header";
	return ev_refused(&ev, v, p);
}

#endif
