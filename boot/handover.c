/*
 * Leaving the firmware and entering the kernel. Everything the kernel needs is allocated and
 * built before this point: from the final GetMemoryMap on, nothing is allocated or printed.
 */
#include "loader.h"

/* ExitBootServices attempts before giving up on a memory map that keeps changing. */
#define EXIT_ATTEMPTS 8

#define CR4_PGE (1ULL << 7)   /* global pages enabled */
#define CR4_CET (1ULL << 23)  /* control-flow enforcement: shadow stacks and IBT, as IA32_S_CET says */

/* Reads CR4. */
static UINT64 handover_read_cr4(void)
{
	UINT64 cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	return cr4;
}

/*
 * The CR4 the kernel is entered with, from the firmware's: CET off, every other bit kept. A firmware
 * may run with CR4.CET and IA32_S_CET enabling supervisor shadow stacks or IBT; the kernel's code
 * has no ENDBR64 at its indirect targets, and the firmware's shadow stack is not mapped as one in
 * the loader's tables, so the kernel's first call would fault. With CR4.CET clear, IA32_S_CET has
 * no effect (the kernel writes it 0 itself, cpu_init_control_state).
 */
static UINT64 handover_kernel_cr4(UINT64 firmware_cr4)
{
	return firmware_cr4 & ~CR4_CET;
}

/*
 * Switches to the loader's page tables and jumps to the kernel: interrupts off, CR4 = cr4
 * (handover_kernel_cr4's), CR3 = pml4, global TLB entries flushed (CR4.PGE toggled), RDI =
 * bootinfo, RSP 16-byte aligned minus 8 (as after a call, return address 0), jump to entry. The
 * loader's code stays reachable after the CR3 load because the new tables identity map all RAM.
 */
static void __attribute__((noreturn)) enter_kernel(UINT64 cr4, UINT64 pml4, UINT64 bootinfo, UINT64 entry)
{
	__asm__ volatile(
		"cli\n\t"
		"cld\n\t"
		"mov %[cr4], %%rcx\n\t"
		"and %[no_pge], %%rcx\n\t"
		"mov %%rcx, %%cr4\n\t"
		"mov %[pml4], %%cr3\n\t"
		"mov %[cr4], %%cr4\n\t"
		"mov %[bootinfo], %%rdi\n\t"
		"and $-16, %%rsp\n\t"
		"push $0\n\t"
		"jmp *%[entry]\n\t"
		:
		: [cr4] "r"(cr4), [pml4] "r"(pml4), [bootinfo] "r"(bootinfo), [entry] "r"(entry),
		  [no_pge] "r"(~CR4_PGE)
		: "rcx", "rdi", "memory");
	__builtin_unreachable();
}

#ifdef LOADER_TEST_MAP_GEOMETRY
/* What \maptest.txt asks: the map's size set (MAPTEST_SET), raised or lowered (wrapping, as a
 * firmware's arithmetic would), and its stride set; MAPTEST_KEEP leaves a field as it is. */
enum maptest_op { MAPTEST_KEEP, MAPTEST_SET, MAPTEST_ADD, MAPTEST_SUB };
static struct {
	enum maptest_op size_op, stride_op;
	UINT64 size, stride;
} maptest;

/* Parses the decimal digits at *p (at least one, no overflow) into *out, advancing *p; FALSE if none
 * or if the number does not fit 64 bits. */
static BOOLEAN maptest_number(const char **p, UINT64 *out)
{
	UINT64 v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return FALSE;
	for (; *s >= '0' && *s <= '9'; s++) {
		UINT64 d = (UINT64)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return FALSE;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return TRUE;
}

/* Parses \maptest.txt's words, "size=N", "size=+N", "size=-N" and "stride=N", separated by blanks
 * and line ends; FALSE on anything else. */
static BOOLEAN maptest_parse(const char *s)
{
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			s++;
			continue;
		}
		if (!strncmpa((const CHAR8 *)s, (const CHAR8 *)"size=", 5)) {
			s += 5;
			maptest.size_op = *s == '+' ? MAPTEST_ADD : *s == '-' ? MAPTEST_SUB : MAPTEST_SET;
			if (maptest.size_op != MAPTEST_SET)
				s++;
			if (!maptest_number(&s, &maptest.size))
				return FALSE;
		} else if (!strncmpa((const CHAR8 *)s, (const CHAR8 *)"stride=", 7)) {
			s += 7;
			maptest.stride_op = MAPTEST_SET;
			if (!maptest_number(&s, &maptest.stride))
				return FALSE;
		} else {
			return FALSE;
		}
		/* a word ends at a blank, a line end or the text's end */
		if (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return FALSE;
	}
	return TRUE;
}

/* Reads and parses \maptest.txt (see loader.h). */
EFI_STATUS maptest_read(EFI_FILE_HANDLE root)
{
	static CHAR16 path[] = L"\\maptest.txt";
	char text[128];
	UINTN len = 0;
	EFI_STATUS status = file_read_prefix(root, path, text, sizeof(text), &len);

	if (status == EFI_NOT_FOUND)
		return EFI_SUCCESS;
	if (EFI_ERROR(status))
		return status;
	if (len >= sizeof(text) - 1) {
		Print(LOADER_TAG L"test loader: \\maptest.txt is longer than %d bytes\n", (int)sizeof(text) - 2);
		return EFI_INVALID_PARAMETER;
	}
	text[len] = '\0';
	if (!maptest_parse(text)) {
		Print(LOADER_TAG L"test loader: \\maptest.txt: want words size=N, size=+N, size=-N, stride=N: %a\n", text);
		return EFI_INVALID_PARAMETER;
	}
	Print(LOADER_TAG L"test loader: the hand-over map's geometry rewritten as \\maptest.txt says: %a\n", text);
	return EFI_SUCCESS;
}

/* Rewrites bi's map size and stride as \maptest.txt said (see loader.h). */
void maptest_apply(struct bootinfo *bi)
{
	if (maptest.size_op == MAPTEST_SET)
		bi->mmap_size = maptest.size;
	else if (maptest.size_op == MAPTEST_ADD)
		bi->mmap_size += maptest.size;
	else if (maptest.size_op == MAPTEST_SUB)
		bi->mmap_size -= maptest.size;
	if (maptest.stride_op == MAPTEST_SET)
		bi->mmap_desc_size = maptest.stride;
}
#endif

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
#ifdef LOADER_TEST_MAP_GEOMETRY
		maptest_apply(bi);
#endif
		status = BS->ExitBootServices(image, key);
	}
	if (!EFI_ERROR(status))
		enter_kernel(handover_kernel_cr4(handover_read_cr4()), pml4_phys, (UINT64)(UINTN)bi, entry);
	Print(LOADER_TAG L"ExitBootServices failed: %r (memory map kept changing or outgrew its\n"
	      L"        %ld-byte buffer). Try again; if it persists, report a firmware problem.\n",
	      status, capacity);
	return status;
}
