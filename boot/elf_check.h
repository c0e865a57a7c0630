/*
 * The loader's rules for a kernel ELF file, as one pure function: elf_check() reads the bytes of a
 * file and returns a verdict, either ELF_OK with a load plan or the first rule the file breaks
 * (which program header, which value). It makes no firmware call, allocates nothing, writes only
 * *plan and *verdict and reads only inside the buffer, so the same source compiles into the UEFI
 * loader (boot/elf.c) and into the host tests and the fuzzer (tests/host/test_elf.c,
 * tests/fuzz/fuzz_elf.c, tools/elf-mutate.c).
 *
 * An accepted file is an x86-64 ELF64 executable (ET_EXEC, System V or GNU ABI) whose PT_LOAD
 * segments lie inside the file (file bytes) and inside the kernel window [KERNEL_BASE, KERNEL_TOP)
 * (memory), in ascending order, without overlap, none both writable and executable, no page shared
 * by a writable and an executable segment, with its entry point in the file bytes of an executable
 * segment, and whose PT_NOTE segments lie inside the file, hold well-formed notes and among them
 * the boot-information note (include/bootinfo.h) with the loader's BOOTINFO_VERSION and
 * sizeof(struct bootinfo): a kernel of another build is refused before ExitBootServices, where
 * the firmware console can still say so. The plan places every segment at its p_vaddr; the loader puts the whole image in one
 * physical block with the same layout, so the plan's block offsets (vaddr - virt_base) are its
 * physical placement.
 */
#ifndef ELF_CHECK_H
#define ELF_CHECK_H

#include <stdint.h>
#include "bootinfo.h"
#include "vmlayout.h"

/* e_ident bytes and the values the loader accepts. */
#define EI_NIDENT       16
#define EI_MAG0         0
#define EI_CLASS        4
#define EI_DATA         5
#define EI_VERSION      6
#define EI_OSABI        7
#define EI_ABIVERSION   8
#define ELFCLASS64      2
#define ELFDATA2LSB     1
#define EV_CURRENT      1
#define ELFOSABI_SYSV   0
#define ELFOSABI_GNU    3

#define ET_EXEC         2
#define ET_DYN          3
#define EM_X86_64       62

/* Program header types (gABI, and the GNU ones the loader knows to be harmless). */
#define PT_NULL         0
#define PT_LOAD         1
#define PT_DYNAMIC      2
#define PT_INTERP       3
#define PT_NOTE         4
#define PT_SHLIB        5
#define PT_PHDR         6
#define PT_TLS          7
#define PT_GNU_EH_FRAME 0x6474e550
#define PT_GNU_STACK    0x6474e551
#define PT_GNU_RELRO    0x6474e552
#define PT_GNU_PROPERTY 0x6474e553

/* Segment permission flags. */
#define PF_X            0x1
#define PF_W            0x2
#define PF_R            0x4

/* Note layout (gABI): namesz, descsz, type, then the name and the description, each padded. */
#define ELF_NOTE_HEADER 12   /* bytes of namesz, descsz and type */
#define ELF_NOTE_ALIGN  4    /* padding of notes in a PT_NOTE whose p_align is not ELF_NOTE_ALIGN8 */
#define ELF_NOTE_ALIGN8 8    /* padding of notes in a PT_NOTE with p_align 8 (GNU property notes) */

#define ELF_PAGE_SIZE   0x1000ULL
#define ELF_MAX_PHDRS   64   /* program headers the loader reads; a kernel has a handful */
#define ELF_MAX_LOADS   16   /* PT_LOAD entries, empty ones included */

typedef struct {
	uint8_t  e_ident[EI_NIDENT];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
} Elf64_Ehdr;

typedef struct {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
} Elf64_Phdr;

/* What to do about a kernel of another build than the loader's (the note rules). */
#define ELF_OTHER_BUILD_REMEDY "copy BOOTX64.EFI and kernel.elf from the same build"
#define ELF_STR_(x) #x
#define ELF_STR(x) ELF_STR_(x)   /* a macro's value as a string literal */

/* A note's header (gABI; 4-byte words in ELF64 too, as every x86-64 toolchain writes them). */
typedef struct {
	uint32_t n_namesz;   /* bytes of the name, its NUL included */
	uint32_t n_descsz;   /* bytes of the description */
	uint32_t n_type;     /* meaning of the description, per name */
} Elf64_Nhdr;

/*
 * Every rule, in the order elf_check() applies them: X(ID, name, field, problem, remedy).
 * `field` names the value reported in elf_verdict.value ("" when none is meaningful); `problem`
 * says what is wrong and `remedy` what to do, both as printed by the loader.
 */
#define ELF_RULES(X) \
	X(OK, "ok", "", "accepted", "nothing") \
	X(TOO_SHORT, "too_short", "file size", \
	  "the file is shorter than an ELF header (64 bytes)", \
	  "copy the whole kernel.elf again (a truncated copy?)") \
	X(MAGIC, "magic", "", "no ELF magic (not an ELF file)", \
	  "copy the kernel's ELF file, not another file, as kernel.elf") \
	X(CLASS, "class", "EI_CLASS", "not ELFCLASS64 (a 32-bit ELF?)", \
	  "build a 64-bit (ELFCLASS64) kernel") \
	X(DATA, "data", "EI_DATA", "not little-endian (EI_DATA is not ELFDATA2LSB)", \
	  "build a little-endian x86-64 kernel") \
	X(IDENT_VERSION, "ident_version", "EI_VERSION", "EI_VERSION is not EV_CURRENT (1)", \
	  "the header is damaged: rebuild and copy it again") \
	X(OSABI, "osabi", "EI_OSABI", "EI_OSABI is neither System V (0) nor GNU (3)", \
	  "link for the System V ABI (a plain x86_64-elf or x86_64-linux-gnu toolchain)") \
	X(ABIVERSION, "abiversion", "EI_ABIVERSION", "EI_ABIVERSION is not 0", \
	  "link for the System V ABI without ABI version extensions") \
	X(MACHINE, "machine", "e_machine", "machine is not EM_X86_64 (62)", \
	  "build the kernel for x86-64") \
	X(TYPE, "type", "e_type", \
	  "type is not ET_EXEC (a relocatable object, or a position-independent executable?)", \
	  "link a static, non-PIE executable (ld without -pie, gcc -static -no-pie)") \
	X(VERSION, "version", "e_version", "e_version is not EV_CURRENT (1)", \
	  "the header is damaged: rebuild and copy it again") \
	X(FLAGS, "flags", "e_flags", "e_flags is not 0 (x86-64 defines no processor flags)", \
	  "the header is damaged: rebuild and copy it again") \
	X(EHSIZE, "ehsize", "e_ehsize", "e_ehsize is not 64, the size of an ELF64 header", \
	  "the header is damaged: rebuild and copy it again") \
	X(PHENTSIZE, "phentsize", "e_phentsize", \
	  "e_phentsize is not 56, the size of an ELF64 program header", \
	  "the header is damaged or not ELF64: rebuild and copy it again") \
	X(NO_PHDRS, "no_phdrs", "e_phnum", "no program headers (e_phnum is 0)", \
	  "link an executable with PT_LOAD segments, not a relocatable object") \
	X(TOO_MANY_PHDRS, "too_many_phdrs", "e_phnum", "more than 64 program headers", \
	  "merge sections into fewer segments (PHDRS in the linker script)") \
	X(PHDRS_OUTSIDE, "phdrs_outside", "e_phoff", \
	  "the program header table lies outside the file (truncated file?)", \
	  "copy the whole kernel.elf again") \
	X(PHDRS_IN_EHDR, "phdrs_in_ehdr", "e_phoff", \
	  "the program header table overlaps the ELF header", \
	  "the header is damaged: rebuild and copy it again") \
	X(PHDRS_MISALIGNED, "phdrs_misaligned", "e_phoff", \
	  "the program header table is not 8-byte aligned in the file", \
	  "the header is damaged: rebuild and copy it again") \
	X(NOTE_OUTSIDE, "note_outside", "p_offset", \
	  "a PT_NOTE segment lies outside the file (truncated file?)", \
	  "copy the whole kernel.elf again") \
	X(NOTE_MALFORMED, "note_malformed", "note offset", \
	  "a note runs past the end of its PT_NOTE segment (namesz or descsz damaged), " \
	  "or the boot-information note is shorter than 8 bytes", \
	  "the file is damaged: rebuild and copy it again") \
	X(NOTE_MISSING, "note_missing", "", \
	  "no boot-information note (rmkernel): a kernel built before the loader checked the boot " \
	  "information's version, or not this project's kernel", ELF_OTHER_BUILD_REMEDY) \
	X(NOTE_VERSION, "note_version", "the kernel's boot information version", \
	  "the kernel takes another version of the boot information than this loader hands over " \
	  "(version " ELF_STR(BOOTINFO_VERSION) "): loader and kernel are from different builds", \
	  ELF_OTHER_BUILD_REMEDY) \
	X(NOTE_SIZE, "note_size", "the kernel's boot information size", \
	  "the kernel takes a boot information structure of another size than this loader's, " \
	  "of the same version: loader and kernel are from different builds", ELF_OTHER_BUILD_REMEDY) \
	X(SEG_INTERP, "seg_interp", "p_type", \
	  "a PT_INTERP segment asks for a program interpreter (a dynamically linked program?)", \
	  "link a static executable (ld -static, no -pie, no -dynamic-linker)") \
	X(SEG_DYNAMIC, "seg_dynamic", "p_type", \
	  "a PT_DYNAMIC segment asks for dynamic linking or relocation, which this loader does not do", \
	  "link a static, non-PIE executable with no shared libraries") \
	X(SEG_TLS, "seg_tls", "p_type", \
	  "a PT_TLS segment declares thread-local storage, which nothing sets up for the kernel", \
	  "remove _Thread_local/__thread variables from the kernel") \
	X(SEG_UNKNOWN, "seg_unknown", "p_type", "a segment type this loader does not know", \
	  "remove the segment (PHDRS in the linker script) or teach the loader its meaning") \
	X(TOO_MANY_LOADS, "too_many_loads", "", "more than 16 PT_LOAD segments", \
	  "merge sections into fewer segments (PHDRS in the linker script)") \
	X(SEG_FLAGS, "seg_flags", "p_flags", "a PT_LOAD segment has flag bits other than R, W and X", \
	  "give every PT_LOAD segment only R, W and X flags") \
	X(SEG_WX, "seg_wx", "p_flags", "a PT_LOAD segment is both writable and executable", \
	  "put code and writable data in separate segments (PHDRS in the linker script)") \
	X(SEG_FILESZ, "seg_filesz", "p_filesz", "p_filesz is larger than p_memsz", \
	  "the program header is damaged: rebuild and copy it again") \
	X(SEG_FILE_RANGE, "seg_file_range", "p_offset", \
	  "file bytes lie outside the file (truncated file?)", \
	  "copy the whole kernel.elf again") \
	X(SEG_ALIGN, "seg_align", "p_align", "p_align is not 0, 1 or a power of two", \
	  "the program header is damaged: rebuild and copy it again") \
	X(SEG_CONGRUENT, "seg_congruent", "p_offset", \
	  "p_offset and p_vaddr differ modulo p_align", \
	  "the program header is damaged: rebuild and copy it again") \
	X(SEG_WRAPS, "seg_wraps", "p_memsz", \
	  "p_vaddr + p_memsz wraps past the top of the address space", \
	  "the program header is damaged: rebuild and copy it again") \
	X(SEG_WINDOW, "seg_window", "p_vaddr", \
	  "a PT_LOAD segment lies outside the kernel window 0xffffffff80000000..0xfffffffffffff000", \
	  "link the kernel at 0xffffffff80000000 (the top 2 GiB, -mcmodel=kernel), under 2 GiB in all") \
	X(SEG_PADDR_WRAPS, "seg_paddr_wraps", "p_paddr", \
	  "p_paddr + p_memsz wraps past the top of the address space", \
	  "the program header is damaged: rebuild and copy it again") \
	X(SEG_ORDER, "seg_order", "p_vaddr", \
	  "PT_LOAD segments are not in ascending p_vaddr order", \
	  "list the segments in address order (PHDRS in the linker script)") \
	X(SEG_OVERLAP, "seg_overlap", "p_vaddr", "two PT_LOAD segments overlap in memory", \
	  "give every section one place (check the linker script's addresses)") \
	X(SEG_PADDR_OVERLAP, "seg_paddr_overlap", "p_paddr", \
	  "two PT_LOAD segments overlap in their physical addresses (p_paddr)", \
	  "give the segments distinct load addresses (AT() in the linker script)") \
	X(SEG_SHARED_PAGE_WX, "seg_shared_page_wx", "p_vaddr", \
	  "a writable and an executable PT_LOAD segment share a page", \
	  "start every segment on a page boundary (ALIGN(4096) in the linker script)") \
	X(NO_LOAD, "no_load", "", "no PT_LOAD segment with any memory", \
	  "link an executable with code in a PT_LOAD segment") \
	X(ENTRY_OUTSIDE, "entry_outside", "e_entry", "the entry point lies in no PT_LOAD segment", \
	  "set the entry point to the kernel's entry function (ENTRY() in the linker script)") \
	X(ENTRY_NO_FILE, "entry_no_file", "e_entry", \
	  "the entry point lies in a segment with no file bytes (p_filesz is 0)", \
	  "set the entry point to code, not to .bss (ENTRY() in the linker script)") \
	X(ENTRY_ZERO_FILL, "entry_zero_fill", "e_entry", \
	  "the entry point lies in the zero-filled part of its segment (past p_filesz, like .bss)", \
	  "set the entry point to code, not to .bss (ENTRY() in the linker script)") \
	X(ENTRY_NOT_EXEC, "entry_not_exec", "e_entry", \
	  "the entry point lies in a segment that is not executable", \
	  "set the entry point to code in the R+X segment (ENTRY() in the linker script)")

#define ELF_RULE_ENUM(id, name, field, problem, remedy) ELF_##id,
enum elf_rule { ELF_RULES(ELF_RULE_ENUM) ELF_RULE_COUNT };
#undef ELF_RULE_ENUM

/* One PT_LOAD segment with memory, to be copied to vaddr (file bytes, then zeros up to memsz). */
struct elf_segment {
	uint64_t vaddr;   /* in [KERNEL_BASE, KERNEL_TOP) */
	uint64_t memsz;   /* > 0; vaddr + memsz <= KERNEL_TOP */
	uint64_t offset;  /* file offset of the file bytes; offset + filesz <= file size */
	uint64_t filesz;  /* <= memsz */
	uint32_t flags;   /* PF_R | PF_W | PF_X, never PF_W and PF_X together */
	uint32_t phdr;    /* index of its program header */
};

/* What to load: segments in ascending, non-overlapping order inside [virt_base, virt_base + size). */
struct elf_plan {
	uint64_t entry;      /* in the file bytes of an executable segment */
	uint64_t virt_base;  /* first segment's vaddr rounded down to a page */
	uint64_t size;       /* page multiple; virt_base + size <= KERNEL_TOP */
	uint32_t nsegs;      /* 1 .. ELF_MAX_LOADS */
	struct elf_segment seg[ELF_MAX_LOADS];
};

/* The outcome: a rule, where (program header indices, -1 when none) and the value at fault. */
struct elf_verdict {
	enum elf_rule rule;
	int32_t phdr;     /* program header at fault, or -1 */
	int32_t other;    /* the other program header of a pair rule (overlap, order), or -1 */
	uint64_t value;   /* contents of the field elf_rule_field() names, when it names one */
};

/*
 * elf_check: validates the `size` bytes at `file` as a kernel. Returns verdict->rule; on ELF_OK
 * *plan is the load plan, on refusal *plan is all zero. Never reads outside [file, file + size).
 */
enum elf_rule elf_check(const void *file, uint64_t size, struct elf_plan *plan,
			struct elf_verdict *verdict);

/* Short identifier of a rule ("seg_wx"), for tests and tools; "?" for an unknown value. */
const char *elf_rule_name(enum elf_rule rule);
/* What is wrong, one sentence without the final period. */
const char *elf_rule_problem(enum elf_rule rule);
/* What to do about it, one sentence without the final period. */
const char *elf_rule_remedy(enum elf_rule rule);
/* The field whose contents verdict.value holds, or "" when the value means nothing. */
const char *elf_rule_field(enum elf_rule rule);

#endif
