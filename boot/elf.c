/*
 * Validating the kernel ELF file and loading its PT_LOAD segments into one contiguous block of
 * EFI_MEMORY_TYPE_KERNEL pages. Every field is checked before use: a bad file produces a message
 * and an error status, never a jump into garbage.
 */
#include "loader.h"
#include "vmlayout.h"

#define EI_NIDENT     16
#define EI_CLASS      4
#define EI_DATA       5
#define EI_VERSION    6
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define EV_CURRENT    1
#define ET_EXEC       2
#define EM_X86_64     62
#define PT_LOAD       1
#define PF_X          1

static const UINT8 elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

typedef struct {
	UINT8  e_ident[EI_NIDENT];
	UINT16 e_type;
	UINT16 e_machine;
	UINT32 e_version;
	UINT64 e_entry;
	UINT64 e_phoff;
	UINT64 e_shoff;
	UINT32 e_flags;
	UINT16 e_ehsize;
	UINT16 e_phentsize;
	UINT16 e_phnum;
	UINT16 e_shentsize;
	UINT16 e_shnum;
	UINT16 e_shstrndx;
} Elf64_Ehdr;

typedef struct {
	UINT32 p_type;
	UINT32 p_flags;
	UINT64 p_offset;
	UINT64 p_vaddr;
	UINT64 p_paddr;
	UINT64 p_filesz;
	UINT64 p_memsz;
	UINT64 p_align;
} Elf64_Phdr;

/* A validated ELF file: header, program headers and the page-aligned span of all PT_LOADs. */
struct elf_file {
	const UINT8 *data;
	UINT64 size;
	const Elf64_Ehdr *ehdr;
	UINT64 span_lo;  /* lowest PT_LOAD vaddr, page aligned down */
	UINT64 span_hi;  /* highest PT_LOAD end, page aligned up (exclusive) */
};

/* Reports why the kernel file is unusable; returns the status for the caller to pass on. */
static EFI_STATUS elf_reject(const CHAR16 *reason)
{
	Print(LOADER_TAG L"\\kernel.elf is not a kernel this loader can boot: %s.\n"
	      L"        Rebuild the kernel (x86-64 ELF64 executable linked at 0x%lx or above)\n"
	      L"        and copy it to the root of the EFI system partition as kernel.elf.\n",
	      reason, KERNEL_BASE);
	return EFI_LOAD_ERROR;
}

/* Like elf_reject, naming the program header at fault. */
static EFI_STATUS elf_reject_phdr(UINTN index, const CHAR16 *reason)
{
	Print(LOADER_TAG L"program header %ld of \\kernel.elf: %s.\n", index, reason);
	return elf_reject(L"bad program header");
}

/* Program header `i`; only valid after elf_check_header accepted the table's bounds. */
static const Elf64_Phdr *elf_phdr(const struct elf_file *elf, UINTN i)
{
	return (const Elf64_Phdr *)(elf->data + elf->ehdr->e_phoff + i * elf->ehdr->e_phentsize);
}

/* Accepts only a little-endian x86-64 ELF64 executable whose program header table is in the file. */
static EFI_STATUS elf_check_header(struct elf_file *elf)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->data;
	UINT64 table_size;

	if (elf->size < sizeof(Elf64_Ehdr))
		return elf_reject(L"file too short for an ELF header");
	if (CompareMem(eh->e_ident, elf_magic, sizeof(elf_magic)) != 0)
		return elf_reject(L"no ELF magic (not an ELF file)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return elf_reject(L"not ELFCLASS64 (32-bit ELF?)");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return elf_reject(L"not little endian");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		return elf_reject(L"unknown ELF version");
	if (eh->e_machine != EM_X86_64)
		return elf_reject(L"machine is not EM_X86_64");
	if (eh->e_type != ET_EXEC)
		return elf_reject(L"type is not ET_EXEC (relocatable or shared object?)");
	if (eh->e_phnum == 0)
		return elf_reject(L"no program headers");
	if (eh->e_phentsize < sizeof(Elf64_Phdr))
		return elf_reject(L"program header entries too small");
	/* e_phnum and e_phentsize are 16-bit: their product cannot overflow 64 bits. */
	table_size = (UINT64)eh->e_phnum * eh->e_phentsize;
	if (eh->e_phoff > elf->size || table_size > elf->size - eh->e_phoff)
		return elf_reject(L"program header table outside the file");
	if (!is_aligned(eh->e_phoff, sizeof(UINT64)) || !is_aligned(eh->e_phentsize, sizeof(UINT64)))
		return elf_reject(L"program header table misaligned");
	elf->ehdr = eh;
	return EFI_SUCCESS;
}

/* Checks one PT_LOAD against the file and the kernel address range; widens the span with it. */
static EFI_STATUS elf_check_load(struct elf_file *elf, UINTN i, const Elf64_Phdr *ph)
{
	UINT64 lo, hi;

	if (ph->p_filesz > ph->p_memsz)
		return elf_reject_phdr(i, L"file size larger than memory size");
	if (ph->p_offset > elf->size || ph->p_filesz > elf->size - ph->p_offset)
		return elf_reject_phdr(i, L"file bytes lie outside the file (truncated file?)");
	if (ph->p_vaddr < KERNEL_BASE)
		return elf_reject_phdr(i, L"virtual address below KERNEL_BASE");
	if (ph->p_memsz > UINT64_MAX - ph->p_vaddr)
		return elf_reject_phdr(i, L"segment wraps past the top of the address space");
	if (ph->p_memsz == 0)
		return EFI_SUCCESS;
	lo = align_down(ph->p_vaddr, PAGE_SIZE);
	if (!align_up_checked(ph->p_vaddr + ph->p_memsz, PAGE_SIZE, &hi))
		return elf_reject_phdr(i, L"segment ends in the last page of the address space");
	if (lo < elf->span_lo)
		elf->span_lo = lo;
	if (hi > elf->span_hi)
		elf->span_hi = hi;
	return EFI_SUCCESS;
}

/* True if `addr` lies inside an executable PT_LOAD segment's memory image. */
static BOOLEAN elf_entry_in_text(const struct elf_file *elf, UINT64 addr)
{
	for (UINTN i = 0; i < elf->ehdr->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(elf, i);

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && addr >= ph->p_vaddr &&
		    addr - ph->p_vaddr < ph->p_memsz)
			return TRUE;
	}
	return FALSE;
}

/* Validates every program header and the entry point; computes the span of the image. */
static EFI_STATUS elf_check_segments(struct elf_file *elf)
{
	UINTN loads = 0;

	elf->span_lo = UINT64_MAX;
	elf->span_hi = 0;
	for (UINTN i = 0; i < elf->ehdr->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(elf, i);
		EFI_STATUS status;

		if (ph->p_type != PT_LOAD)
			continue;
		status = elf_check_load(elf, i, ph);
		if (EFI_ERROR(status))
			return status;
		loads++;
	}
	if (loads == 0)
		return elf_reject(L"no PT_LOAD segment");
	if (elf->span_hi == 0)
		return elf_reject(L"all PT_LOAD segments are empty");
	if (!elf_entry_in_text(elf, elf->ehdr->e_entry))
		return elf_reject(L"entry point is not inside an executable PT_LOAD segment");
	return EFI_SUCCESS;
}

/* Copies every PT_LOAD's file bytes to its place in the (already zeroed) image at `phys`. */
static void elf_copy_segments(const struct elf_file *elf, UINT64 phys)
{
	for (UINTN i = 0; i < elf->ehdr->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(elf, i);

		if (ph->p_type != PT_LOAD || ph->p_filesz == 0)
			continue;
		CopyMem((VOID *)(UINTN)(phys + (ph->p_vaddr - elf->span_lo)),
			elf->data + ph->p_offset, ph->p_filesz);
	}
}

/*
 * Validates the kernel file (file_size bytes at `file`), allocates its image as one block of
 * EFI_MEMORY_TYPE_KERNEL pages, zeroes it, copies the segments and describes it in *kernel.
 * The file buffer is not kept.
 */
EFI_STATUS elf_load_kernel(const VOID *file, UINT64 file_size, struct kernel_image *kernel)
{
	struct elf_file elf = { .data = file, .size = file_size };
	EFI_STATUS status;
	UINT64 phys;

	status = elf_check_header(&elf);
	if (!EFI_ERROR(status))
		status = elf_check_segments(&elf);
	if (!EFI_ERROR(status))
		status = pages_alloc((EFI_MEMORY_TYPE)EFI_MEMORY_TYPE_KERNEL, elf.span_hi - elf.span_lo,
				     L"the kernel image", &phys);
	if (EFI_ERROR(status))
		return status;
	elf_copy_segments(&elf, phys);
	kernel->phys_base = phys;
	kernel->virt_base = elf.span_lo;
	kernel->size = elf.span_hi - elf.span_lo;
	kernel->entry = elf.ehdr->e_entry;
	return EFI_SUCCESS;
}
