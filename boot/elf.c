/*
 * Loading the kernel ELF file: elf_check() (elf_check.c, the same code the host tests and the
 * fuzzer run) decides whether the file is a kernel this loader can start and gives the load plan;
 * this file reports a refusal and carries the plan out into one contiguous block of
 * EFI_MEMORY_TYPE_KERNEL pages. A refused file is a message and an error status, never a jump.
 */
#include "loader.h"
#include "elf_check.h"

/*
 * Prints why a kernel of another build is refused (no boot-information note, or one of another
 * version or size): both sides' boot information, and to copy the loader and the kernel of one
 * build. Before ExitBootServices, so every PC shows it, serial port or not; lines fit 80 columns.
 */
static void elf_report_other_build(const struct elf_verdict *v)
{
	Print(LOADER_TAG L"\\kernel.elf does not fit this loader (\\EFI\\BOOT\\BOOTX64.EFI).\n");
	if (v->rule == ELF_NOTE_VERSION)
		Print(L"        The kernel takes boot information version %lu, this loader version %d:\n"
		      L"        they come from different builds.\n", v->value, BOOTINFO_VERSION);
	else if (v->rule == ELF_NOTE_SIZE)
		Print(L"        The kernel takes %lu bytes of boot information version %d, this loader\n"
		      L"        %lu: they come from different builds.\n", v->value, BOOTINFO_VERSION,
		      (UINT64)sizeof(struct bootinfo));
	else
		Print(L"        The kernel names no boot information version: it has no rmkernel note\n"
		      L"        (built before the loader checked it, or not this project's kernel).\n"
		      L"        This loader hands over version %d.\n", BOOTINFO_VERSION);
	Print(L"        What to do: %a.\n", elf_rule_remedy(v->rule));
}

/* Prints why the kernel file is refused (the verdict of elf_check) and what to do. */
static void elf_report(const struct elf_verdict *v)
{
	const char *field = elf_rule_field(v->rule);

	if (v->rule == ELF_NOTE_MISSING || v->rule == ELF_NOTE_VERSION || v->rule == ELF_NOTE_SIZE) {
		elf_report_other_build(v);
		return;
	}
	Print(LOADER_TAG L"\\kernel.elf is not a kernel this loader can boot: %a",
	      elf_rule_problem(v->rule));
	if (v->phdr >= 0 && v->other >= 0)
		Print(L" (program headers %d and %d)", v->other < v->phdr ? v->other : v->phdr,
		      v->other < v->phdr ? v->phdr : v->other);
	else if (v->phdr >= 0)
		Print(L" (program header %d)", v->phdr);
	if (field[0] != '\0')
		Print(L" [%a = 0x%lx]", field, v->value);
	Print(L".\n        What to do: %a.\n"
	      L"        Rebuild the kernel (x86-64 ELF64 executable linked at 0x%lx or above)\n"
	      L"        and copy it to the root of the EFI system partition as kernel.elf.\n",
	      elf_rule_remedy(v->rule), KERNEL_BASE);
}

/* Copies every planned segment's file bytes to its place in the (already zeroed) image at `phys`. */
static void elf_copy_segments(const UINT8 *file, const struct elf_plan *plan, UINT64 phys)
{
	for (UINT32 i = 0; i < plan->nsegs; i++) {
		const struct elf_segment *s = &plan->seg[i];

		if (s->filesz != 0)
			CopyMem((VOID *)(UINTN)(phys + (s->vaddr - plan->virt_base)), (VOID *)(file + s->offset),
				s->filesz);
	}
}

/*
 * Validates the kernel file (file_size bytes at `file`), allocates its image as one block of
 * EFI_MEMORY_TYPE_KERNEL pages (zeroed by pages_alloc), copies the segments and describes the
 * image in *kernel. The file buffer is not kept.
 */
EFI_STATUS elf_load_kernel(const VOID *file, UINT64 file_size, struct kernel_image *kernel)
{
	struct elf_plan plan;
	struct elf_verdict verdict;
	EFI_STATUS status;
	UINT64 phys;

	if (elf_check(file, file_size, &plan, &verdict) != ELF_OK) {
		elf_report(&verdict);
		return EFI_LOAD_ERROR;
	}
	status = pages_alloc((EFI_MEMORY_TYPE)EFI_MEMORY_TYPE_KERNEL, plan.size, L"the kernel image", &phys);
	if (EFI_ERROR(status))
		return status;
	elf_copy_segments(file, &plan, phys);
	kernel->phys_base = phys;
	kernel->virt_base = plan.virt_base;
	kernel->size = plan.size;
	kernel->entry = plan.entry;
	return EFI_SUCCESS;
}
