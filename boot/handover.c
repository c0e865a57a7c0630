/*
 * Leaving the firmware and entering the kernel. Everything the kernel needs is allocated and
 * built before this point: from the final GetMemoryMap on, nothing is allocated or printed.
 */
#include "loader.h"

/* ExitBootServices attempts before giving up on a memory map that keeps changing. */
#define EXIT_ATTEMPTS 8

#define CR4_PGE (1ULL << 7)  /* global pages enabled */

/*
 * Switches to the loader's page tables and jumps to the kernel: interrupts off, CR3 = pml4,
 * global TLB entries flushed (CR4.PGE toggled), RDI = bootinfo, RSP 16-byte aligned minus 8 (as
 * after a call, return address 0), jump to entry. The loader's code stays reachable after the
 * CR3 load because the new tables identity map all RAM.
 */
static void __attribute__((noreturn)) enter_kernel(UINT64 pml4, UINT64 bootinfo, UINT64 entry)
{
	__asm__ volatile(
		"cli\n\t"
		"cld\n\t"
		"mov %%cr4, %%rax\n\t"
		"mov %%rax, %%rcx\n\t"
		"and %[no_pge], %%rcx\n\t"
		"mov %%rcx, %%cr4\n\t"
		"mov %[pml4], %%cr3\n\t"
		"mov %%rax, %%cr4\n\t"
		"mov %[bootinfo], %%rdi\n\t"
		"and $-16, %%rsp\n\t"
		"push $0\n\t"
		"jmp *%[entry]\n\t"
		:
		: [pml4] "r"(pml4), [bootinfo] "r"(bootinfo), [entry] "r"(entry),
		  [no_pge] "r"(~CR4_PGE)
		: "rax", "rcx", "rdi", "memory");
	__builtin_unreachable();
}

/*
 * Takes the final memory map into the bootinfo's map buffer (capacity bytes), makes it one the
 * kernel takes (memmap_fit_for_kernel: merged if it must be, refused on screen if even that does
 * not fit), exits boot services (retrying on a stale map key) and enters the kernel. Returns only
 * on failure; the message printed then is best effort, as the firmware may be partly shut down.
 */
EFI_STATUS handover_exit_and_enter(EFI_HANDLE image, struct bootinfo *bi, UINT64 capacity,
				   UINT64 pml4_phys, UINT64 entry)
{
	EFI_MEMORY_DESCRIPTOR *map = (EFI_MEMORY_DESCRIPTOR *)(UINTN)bi->mmap_phys;
	EFI_STATUS status = EFI_INVALID_PARAMETER;

	for (UINTN attempt = 0; attempt < EXIT_ATTEMPTS && status == EFI_INVALID_PARAMETER; attempt++) {
		UINTN size = capacity, key = 0, desc_size = 0;
		UINT32 desc_version = 0;

		status = BS->GetMemoryMap(&size, map, &key, &desc_size, &desc_version);
		if (EFI_ERROR(status))
			break;
		status = memmap_fit_for_kernel(map, &size, desc_size);
		if (EFI_ERROR(status))
			return status;   /* said why; ExitBootServices never sees this map */
#ifdef LOADER_TEST_MAP_TAIL
		/* The test loader only (build/tail/, tools/ragged-map-test.sh): a map LOADER_TEST_MAP_TAIL
		 * bytes longer than its whole descriptors, as some firmware reports, the tail's bytes set
		 * so they would read as garbage; only when the buffer holds them. */
		if (LOADER_TEST_MAP_TAIL < desc_size && size + LOADER_TEST_MAP_TAIL <= capacity) {
			for (UINTN i = 0; i < LOADER_TEST_MAP_TAIL; i++)
				((UINT8 *)map)[size + i] = 0xA5;
			size += LOADER_TEST_MAP_TAIL;
		}
#endif
		bi->mmap_size = size;
		bi->mmap_desc_size = desc_size;
		bi->mmap_desc_version = desc_version;
		status = BS->ExitBootServices(image, key);
	}
	if (!EFI_ERROR(status))
		enter_kernel(pml4_phys, (UINT64)(UINTN)bi, entry);
	Print(LOADER_TAG L"ExitBootServices failed: %r (memory map kept changing or outgrew its\n"
	      L"        %ld-byte buffer). Try again; if it persists, report a firmware problem.\n",
	      status, capacity);
	return status;
}
