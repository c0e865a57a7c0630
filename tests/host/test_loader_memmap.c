/*
 * Review round 3 of the boot intake, loader side: boot/memmap.c's memmap_compute_top (how far the
 * loader's identity and direct maps reach) and memmap_alloc_final_buffer run on the host against
 * hand-made firmware memory maps, and boot/paging.c's tables built in host memory. The file
 * #includes both with GNU-EFI's headers; the firmware calls they make (GetMemoryMap, AllocatePool,
 * Print, FreePool) and pages_alloc are stand-ins below. Tests 3-5 guard the fixes of defects the
 * review found (each failed on the code as reviewed): 3. a bogus usable descriptor (past 2^52, 2^64
 * or 64 TiB) stopped the boot; 4. a framebuffer placed at 64 TiB or above stopped the boot; 5. a
 * DescriptorSize below 40 bytes was read past the map before it was refused. 6. holds the RAM end
 * rules around 2^52, 64 TiB and 2^64 for every RAM type. 7. refuses at every step a stride that is
 * not a multiple of 8, which the kernel cannot read (the map's merge and size limits are
 * tests/host/test_loader_platform.c's). Coverage of what must keep working:
 * 1. test_top_is_highest_ram, 2. test_paging_tables; 8. the final map buffer's size and its
 * refusals at their bounds; 9. the ignored descriptors' message (their count and the first one's
 * start) and RAM ending exactly at 2^52; 10. test_paging_short_pool: a pool short of pages refused
 * within it; 11. test_paging_build: the whole build, refused under 5-level paging. 12.
 * test_descriptor_version_named (failed when the loader read a map of another descriptor version
 * in silence): read as version 1, as Linux does, with a message. 13.
 * test_stride_unsaid_when_too_small (failed when the loader took DescriptorSize from the sizing call,
 * which UEFI does not promise to fill): the stride learnt from a successful GetMemoryMap. 14.
 * test_top_within_cpu_width (failed when the tables reached RAM claimed past the CPU's physical
 * address width): map_top at most 2^width.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tap.h"
#include "gnuefi_host.h"
#include "../../boot/memmap.c"
/* paging.c's read_cr4 (a privileged instruction) renamed aside, and its call made to read fake_cr4:
 * the definition "read_cr4(void)" becomes loader_test_cr4_hw(void), the call "read_cr4()"
 * loader_test_cr4(). */
static UINT64 fake_cr4;
#define LOADER_TEST_CR4_BITS 0x3FFFFFULL   /* CR4's architectural bits, 0..21 (LA57 among them) */
static UINT64 loader_test_cr4(void) { return fake_cr4; }
#define read_cr4(...) LOADER_TEST_CR4_ ## __VA_ARGS__
#define LOADER_TEST_CR4_void __attribute__((unused)) loader_test_cr4_hw(void)
#define LOADER_TEST_CR4_ loader_test_cr4()
#include "../../boot/paging.c"
#undef read_cr4

EFI_BOOT_SERVICES *BS;

/* The firmware's memory map GetMemoryMap hands out: descriptors `stride` bytes apart. */
#define MAP_MAX 64
static uint8_t fw_map[MAP_MAX * 64];
static UINTN fw_count, fw_stride = 48;
static UINT32 fw_version = 1;   /* the DescriptorVersion GetMemoryMap gives */
static unsigned prints;
static const CHAR16 *last_fmt;   /* the format of the last Print */

static void fw_map_reset(UINTN stride)
{
	memset(fw_map, 0xA5, sizeof(fw_map));
	fw_count = 0;
	fw_stride = stride;
}

static void fw_map_add(UINT32 type, UINT64 start, UINT64 pages)
{
	EFI_MEMORY_DESCRIPTOR d = { .Type = type, .PhysicalStart = start, .NumberOfPages = pages };
	memcpy(fw_map + fw_count++ * fw_stride, &d, fw_stride < sizeof(d) ? fw_stride : sizeof(d));
}

/* platform.c's CPUID reading of the physical address width, as the tests set it (52: no limit below
 * the direct map's 64 TiB). */
static UINT32 fake_phys_bits = 52;
UINT32 platform_phys_addr_bits(void) { return fake_phys_bits; }

/* GNU-EFI's AllocatePool (memmap_read's buffer), counted. */
static unsigned pool_allocs;
VOID *AllocatePool(UINTN n)
{
	pool_allocs++;
	return malloc(n ? n : 1);
}

VOID FreePool(VOID *p) { free(p); }
/* GNU-EFI's CopyMem (memmap_merge_adjacent moves descriptors with it). */
VOID CopyMem(VOID *dst, CONST VOID *src, UINTN n) { memmove(dst, src, n); }

/* memmap_alloc_final_buffer's allocation: refused, unless alloc_grant is set (then granted at
 * ALLOC_PA) or alloc_host is (then zeroed host pages, exactly the bytes asked for, kept in
 * alloc_block for the caller to free); the last request's type and bytes are kept, and the number
 * of requests. */
#define ALLOC_PA 0x7000000ull
static bool alloc_grant, alloc_host;
static unsigned allocs;
static EFI_MEMORY_TYPE alloc_type;
static UINT64 alloc_bytes;
static void *alloc_block;

EFI_STATUS pages_alloc(EFI_MEMORY_TYPE type, UINT64 bytes, const CHAR16 *what, UINT64 *phys)
{
	(void)what;
	allocs++;
	alloc_type = type;
	alloc_bytes = bytes;
	if (alloc_host) {
		alloc_block = aligned_alloc(PAGE_SIZE, bytes);
		memset(alloc_block, 0, bytes);
		*phys = (UINT64)(UINTN)alloc_block;
		return EFI_SUCCESS;
	}
	if (!alloc_grant)
		return EFI_OUT_OF_RESOURCES;
	*phys = ALLOC_PA;
	return EFI_SUCCESS;
}

/* The last Print's arguments: every one the loader's messages pass here is 64 bits wide (UINT64
 * casts, EFI_STATUS), so they are read as such, one per conversion of the format. */
#define PRINT_ARGS_MAX 4
static UINT64 last_args[PRINT_ARGS_MAX];

UINTN Print(CONST CHAR16 *fmt, ...)
{
	va_list ap;
	unsigned n = 0;

	last_fmt = fmt;
	prints++;
	va_start(ap, fmt);
	for (const CHAR16 *c = fmt; *c && n < PRINT_ARGS_MAX; c++)
		if (c[0] == '%' && c[1] == '%')
			c++;
		else if (c[0] == '%')
			last_args[n++] = va_arg(ap, UINT64);
	va_end(ap);
	return 0;
}

/* The firmware's GetMemoryMap over the map fw_map holds: its size, and the map itself when the buffer
 * holds it; DescriptorSize left unwritten on EFI_BUFFER_TOO_SMALL when fw_stride_unsaid (UEFI does not
 * say it is given then). */
static bool fw_stride_unsaid;
static EFI_STATUS EFIAPI fake_get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
					     UINT32 *version)
{
	UINTN bytes = fw_count * fw_stride, room = *size;

	*size = bytes;
	*key = 1;
	*version = fw_version;
	if (map == NULL || room < bytes) {
		if (!fw_stride_unsaid)
			*desc_size = fw_stride;
		return EFI_BUFFER_TOO_SMALL;
	}
	*desc_size = fw_stride;
	memcpy(map, fw_map, bytes);
	return EFI_SUCCESS;
}
static EFI_BOOT_SERVICES fake_bs = { .GetMemoryMap = fake_get_memory_map };

/* GetMemoryMap answering the sizing query with sized_bytes and sized_stride, whatever fw_map holds. */
static UINTN sized_bytes, sized_stride;
static EFI_STATUS EFIAPI sized_get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key, UINTN *desc_size,
					      UINT32 *version)
{
	(void)map;
	*size = sized_bytes;
	*key = 1;
	*desc_size = sized_stride;
	*version = 1;
	return EFI_BUFFER_TOO_SMALL;
}
static EFI_BOOT_SERVICES sized_bs = { .GetMemoryMap = sized_get_memory_map };

/*
 * README (physical memory): "A usable descriptor whose RAM would end past the 52-bit physical
 * address space is ignored whole, with a message", and mm/phys.h: RAM past 8 TiB "is ignored, with
 * a message". Both are kernel promises the kernel can only keep if the loader boots it (the review
 * found the loader stopped the boot instead). Generated: 64 MiB of real RAM and one bogus usable
 * descriptor (every usable type; page counts past 2^52 bytes, past 2^64 bytes, and ending past
 * 64 TiB), both strides: memmap_compute_top must succeed with a message, map_top 4 GiB (the loader's
 * floor) when the descriptor is no RAM at all, the direct map's 64 TiB when it only reaches past it.
 */
static void test_bogus_usable_descriptor_keeps_boot(void)
{
	static const UINT32 types[] = { EfiConventionalMemory, EfiBootServicesCode, EfiBootServicesData,
					EfiLoaderCode, EfiLoaderData };
	const UINT64 s = 0x10000;   /* the bogus descriptor's first frame */
	const UINT64 counts[] = { (1ULL << 40) - s + 1, 1ULL << 40, 1ULL << 52, (1ULL << 52) + 5, 1ULL << 63,
				  UINT64_MAX - s + 1, UINT64_MAX, (1ULL << 34) };   /* the last: RAM to 64 TiB + */
	unsigned n = 0, bad = 0;
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			fw_map_reset(t % 2 ? 40 : 48);
			fw_map_add(EfiConventionalMemory, 0x100000, 0x4000);
			fw_map_add(types[t], s << 12, counts[k]);
			UINT64 top = 0;
			unsigned before = prints;
			EFI_STATUS st = memmap_compute_top(&top);
			/* past 2^52 (or 2^64): no RAM at all, so nothing of it is mapped; else the RAM up to the
			 * direct map's end (the kernel ignores RAM past 8 TiB anyway) */
			bool past52 = counts[k] > (1ULL << 40) - s;
			n++;
			if ((EFI_ERROR(st) || top != (past52 ? SIZE_4G : DMAP_SIZE) || prints == before) && bad++ < 4)
				printf("# type %u from frame 0x%llx, 0x%llx pages: status 0x%llx, map_top 0x%llx (want 0x%llx), "
				       "%u messages\n", types[t], (unsigned long long)s, (unsigned long long)counts[k],
				       (unsigned long long)st, (unsigned long long)top,
				       (unsigned long long)(past52 ? SIZE_4G : DMAP_SIZE), prints - before);
		}
	ok(bad == 0, "%u maps with one bogus usable descriptor (past 2^52, 2^64 or 64 TiB): the loader boots the real "
	   "RAM, which the kernel then manages without it, and says so (%u wrong)", n, bad);
}

/*
 * The kernel maps the framebuffer itself at FB_BASE (kernel/vm.c vm_map_fb) and runs on serial
 * when the CPU cannot reach it; nothing reads it through the loader's tables (kmain starts the
 * console after vm_init's CR3 load; the loader prints through the firmware, on the firmware's
 * tables). memmap_compute_top therefore takes no framebuffer (the review found a usable mode at
 * 64 TiB and above stopped the boot: "Boot with less memory"). Generated GOP framebuffers from
 * 64 TiB to 2^52, listed in the map as MMIO as firmware lists them: map_top stays at the RAM's,
 * 4 GiB here.
 */
static void test_high_framebuffer_keeps_boot(void)
{
	unsigned n = 0, bad = 0;
	for (unsigned b = 46; b < 52; b++)
		for (unsigned k = 0; k < 4; k++) {
			UINT64 base = (1ULL << b) + k * (1ULL << (b - 2));
			fw_map_reset(48);
			fw_map_add(EfiConventionalMemory, 0x100000, 0x4000);
			fw_map_add(EfiMemoryMappedIO, base, 1024 * 768 * 4 / 4096);
			UINT64 top = 0;
			EFI_STATUS st = memmap_compute_top(&top);
			n++;
			if ((EFI_ERROR(st) || top != SIZE_4G) && bad++ < 4)
				printf("# framebuffer at 0x%llx: status 0x%llx, map_top 0x%llx\n", (unsigned long long)base,
				       (unsigned long long)st, (unsigned long long)top);
		}
	ok(bad == 0, "%u maps with a framebuffer at 64 TiB and above: the boot goes on, map_top the RAM's (%u wrong)", n,
	   bad);
}

/*
 * The end rules memmap_compute_top applies to every RAM type (the kernel's own: kernel/vm.c
 * vm_dmap_span, mm/phys.c for the usable types): a descriptor whose bytes would end past 2^52 or
 * wrap past 2^64 is ignored whole, with a message; RAM past the direct map's 64 TiB raises map_top
 * to 64 TiB at most, with a message; otherwise map_top is max(4 GiB, the end) rounded up to 1 GiB,
 * silently. Generated: every RAM type, starts a page boundary or 1..4095 bytes off one, ends from
 * two pages below to two pages above 2^52 and 64 TiB, ends wrapping past 2^64 by a page or less,
 * and ordinary ends below 64 TiB; an oracle computed on 128-bit integers.
 */
static void test_ram_end_rules(void)
{
	static const UINT32 ram[] = { EfiConventionalMemory, EfiLoaderCode, EfiLoaderData, EfiBootServicesCode,
				      EfiBootServicesData, EfiACPIReclaimMemory, EfiACPIMemoryNVS, EfiRuntimeServicesCode,
				      EfiRuntimeServicesData, EFI_MEMORY_TYPE_KERNEL };
	const unsigned __int128 arch_end = (unsigned __int128)1 << 52;
	uint64_t rng = 0xE4D5ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 3000; c++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		UINT64 off = c % 3 ? 0 : 1 + (rng >> 40) % 4095;
		UINT64 start, pages;
		/* the descriptor's last whole page ends at edge + d pages (d in -2..2), or near 2^64, or anywhere */
		UINT64 edges[] = { 1ULL << 52, DMAP_SIZE, 0 };
		unsigned kind = (rng >> 20) % 4;
		INT64 d = (INT64)((rng >> 8) % 5) - 2;
		if (kind < 2) {
			UINT64 end = edges[kind] + (UINT64)(d * 4096);
			start = ((((rng >> 24) % (1ULL << 20)) + 0x100) << 12) + off;
			pages = (end - (start - off)) >> 12;
		} else if (kind == 2) {
			start = (((rng >> 24) % (1ULL << 30)) << 12) + off;
			pages = (UINT64)(((unsigned __int128)1 << 64) - (start - off)) / 4096 + (UINT64)(d + 2) % 2;
		} else {
			start = (((rng >> 24) % (1ULL << 32)) << 12) + off;   /* below 16 TiB */
			pages = 1 + (rng >> 3) % (1ULL << 24);
		}
		fw_map_reset(c % 2 ? 40 : 48);
		fw_map_add(EfiConventionalMemory, 0x100000, 0x4000);
		fw_map_add(ram[c % 10], start, pages);
		unsigned __int128 end = (unsigned __int128)start + (unsigned __int128)pages * 4096;
		bool ignored = pages && end > arch_end, clipped = !ignored && end > DMAP_SIZE;
		unsigned __int128 want = SIZE_4G;
		if (pages && !ignored)
			want = clipped ? DMAP_SIZE : end > want ? end : want;
		want = (want + SIZE_1G - 1) / SIZE_1G * SIZE_1G;
		UINT64 top = 0;
		unsigned before = prints;
		EFI_STATUS st = memmap_compute_top(&top);
		bool told = prints > before;
		n++;
		if ((EFI_ERROR(st) || top != (UINT64)want || told != (ignored || clipped)) && bad++ < 4)
			printf("# type %u at 0x%llx, 0x%llx pages: status 0x%llx, map_top 0x%llx (want 0x%llx), %s message "
			       "(want %s)\n", ram[c % 10], (unsigned long long)start, (unsigned long long)pages,
			       (unsigned long long)st, (unsigned long long)top, (unsigned long long)want, told ? "a" : "no",
			       ignored || clipped ? "one" : "none");
	}
	ok(bad == 0, "%u RAM descriptors ending around 2^52, 64 TiB, 2^64 and below: ignored past 2^52, clipped at 64 TiB, "
	   "said on the console, the boot going on (%u wrong)", n, bad);
}

/*
 * Coverage: what memmap_compute_top must keep doing. Generated maps of 1..8 RAM descriptors (every
 * RAM type, unsorted) among non-RAM ones reaching higher (reserved, MMIO, unusable, persistent,
 * OS-defined types), below 64 TiB: map_top is max(4 GiB, the highest RAM end) rounded up to 1 GiB,
 * and non-RAM descriptors never raise it.
 */
static void test_top_is_highest_ram(void)
{
	static const UINT32 ram[] = { EfiConventionalMemory, EfiLoaderCode, EfiLoaderData, EfiBootServicesCode,
				      EfiBootServicesData, EfiACPIReclaimMemory, EfiACPIMemoryNVS, EfiRuntimeServicesCode,
				      EfiRuntimeServicesData, EFI_MEMORY_TYPE_KERNEL };
	static const UINT32 other[] = { EfiReservedMemoryType, EfiMemoryMappedIO, EfiUnusableMemory,
					EfiMemoryMappedIOPortSpace, EfiPalCode, 14 /* persistent */, 0x80000002u };
	uint64_t rng = 0x70F7ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 500; c++) {
		fw_map_reset(c % 2 ? 40 : 48);
		UINT64 want = SIZE_4G;
		unsigned nram = 1 + c % 8;
		for (unsigned i = 0; i < nram + 3; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			UINT64 start = ((rng >> 20) % (1ULL << 33)) << 12;   /* below 32 TiB */
			UINT64 pages = 1 + (rng >> 8) % (1ULL << 20);
			if (i < nram) {
				fw_map_add(ram[(rng >> 3) % 10], start, pages);
				if (start + pages * 4096 > want)
					want = start + pages * 4096;
			} else {
				fw_map_add(other[(rng >> 3) % 7], start + (1ULL << 44), pages);
			}
		}
		want = (want + SIZE_1G - 1) & ~(SIZE_1G - 1);
		UINT64 top = 0;
		EFI_STATUS st = memmap_compute_top(&top);
		n++;
		if ((EFI_ERROR(st) || top != want) && bad++ < 4)
			printf("# map %u: status 0x%llx, map_top 0x%llx, want 0x%llx\n", c, (unsigned long long)st,
			       (unsigned long long)top, (unsigned long long)want);
	}
	ok(bad == 0, "%u generated maps: map_top is the highest RAM end rounded up to 1 GiB, at least 4 GiB"
	   "; non-RAM descriptors never raise it (%u wrong)", n, bad);
}

/* The physical address `va` translates to through the 4-level tables at pml4 (host pointers), or ~0
 * when unmapped; *leaf_flags receives every bit of the leaf entry that is not its frame. */
static UINT64 walk(const UINT64 *pml4, UINT64 va, UINT64 *leaf_flags)
{
	const UINT64 *t = pml4;
	static const unsigned shifts[] = { PML4_SHIFT, PDPT_SHIFT, PD_SHIFT, PT_SHIFT };
	for (unsigned l = 0; l < 4; l++) {
		UINT64 e = t[table_index(va, shifts[l])];
		if (!(e & PTE_PRESENT))
			return ~0ULL;
		if (l == 3 || (l == 2 && (e & PTE_PAGE_SIZE))) {
			UINT64 low = (1ULL << shifts[l]) - 1;   /* offset bits; for a 2 MiB leaf bit 12 is PAT */
			*leaf_flags = e & ~(PTE_ADDR_MASK & ~low);   /* every bit but the frame: NX, PAT, ... */
			return (e & PTE_ADDR_MASK & ~low) + (va & low);
		}
		t = (const UINT64 *)(UINTN)(e & PTE_ADDR_MASK);
	}
	return ~0ULL;
}

/*
 * Coverage of boot/paging.c: the pool paging_pages_needed sizes is exactly what
 * map_low_and_direct and map_kernel use (never short: the loader would report an internal error;
 * never a page spare), and the tables translate as bootinfo.h promises: [0, map_top) identity and at
 * DMAP_BASE with 2 MiB pages, the kernel image [virt_base, +size) onto its block with 4 KiB pages,
 * present + writable, no NX bit, no PAT bit, and the pool's pages hold no entry but those (their
 * count: the PML4's three slots, map_top / 1 GiB entries in each PDPT, 512 in each PD, and the
 * image's PDPT, PD and PT entries). Generated: map_top 4..64 GiB, images in the window starting and
 * ending at page, 2 MiB and 1 GiB boundaries (and a byte-free page either side) of 4 KiB..1 GiB.
 */
static void test_paging_tables(void)
{
	uint64_t rng = 0x9A61ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 60; c++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		UINT64 map_top = SIZE_1G * (4 + (rng >> 33) % 61);
		UINT64 align = c % 3 == 0 ? PAGE_SIZE : c % 3 == 1 ? SIZE_2M : SIZE_1G;
		/* a multiple of align inside the 2 GiB window, the window's last page at most */
		UINT64 vbase = KERNEL_BASE + ((rng >> 24) % (2 * SIZE_1G / align)) * align;
		if (vbase >= KERNEL_TOP)
			vbase = KERNEL_TOP - PAGE_SIZE;
		if (c % 4 == 1)
			vbase -= PAGE_SIZE * (vbase > KERNEL_BASE);
		UINT64 size = PAGE_SIZE * (1 + (rng >> 12) % 10240);
		if (c % 5 >= 3)   /* ending on a 2 MiB or a 1 GiB boundary */
			size = ((vbase + size - 1) | ((c % 5 == 3 ? SIZE_2M : SIZE_1G) - 1)) + 1 - vbase;
		if (size > KERNEL_TOP - vbase)
			size = KERNEL_TOP - vbase;
		struct kernel_image k = { .phys_base = 0x40000000ULL + ((rng >> 50) % 64) * PAGE_SIZE, .virt_base = vbase,
					  .size = size, .entry = vbase };
		UINT64 pages = paging_pages_needed(map_top, &k);
		void *block = aligned_alloc(PAGE_SIZE, pages * PAGE_SIZE);
		memset(block, 0, pages * PAGE_SIZE);
		struct table_pool pool = { (UINT64)(UINTN)block, (UINT64)(UINTN)block + pages * PAGE_SIZE };
		UINT64 *pml4 = pool_take(&pool);
		bool built = map_low_and_direct(pml4, map_top, &pool) && map_kernel(pml4, &k, &pool);
		bool good = built && pool.next == pool.end;
		for (unsigned i = 0; good && i < 64; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			UINT64 pa = (rng >> 11) % map_top, f1 = 0, f2 = 0, f3 = 0;
			UINT64 off = (rng >> 7) % size, kf = 0;
			good = walk(pml4, pa, &f1) == pa && walk(pml4, DMAP_BASE + pa, &f2) == pa && f1 == PTE_PAGE_2M &&
			       f2 == PTE_PAGE_2M && walk(pml4, vbase + off, &kf) == k.phys_base + off && kf == PTE_PAGE_4K &&
			       walk(pml4, map_top, &f3) == ~0ULL && walk(pml4, DMAP_BASE + map_top, &f3) == ~0ULL;
		}
		UINT64 f = 0;
		good = good && walk(pml4, vbase + size, &f) == ~0ULL && (vbase == KERNEL_BASE || walk(pml4, vbase - 1, &f) == ~0ULL);
		UINT64 gib = map_top / SIZE_1G, last = vbase + size - 1, entries = 0;
		UINT64 want = 3 + 2 * gib + 512 * gib + ((last >> 30) - (vbase >> 30) + 1) + ((last >> 21) - (vbase >> 21) + 1) +
			      size / PAGE_SIZE;
		for (const UINT64 *e = block; e < (const UINT64 *)(UINTN)pool.next; e++)
			entries += *e != 0;
		good = good && entries == want;
		n++;
		if (!good && bad++ < 4)
			printf("# map_top 0x%llx, image 0x%llx + 0x%llx: built %d, pool %llu pages, %llu left\n",
			       (unsigned long long)map_top, (unsigned long long)vbase, (unsigned long long)size, built,
			       (unsigned long long)pages, (unsigned long long)((pool.end - pool.next) / PAGE_SIZE));
		free(block);
	}
	ok(bad == 0, "%u loader page-table builds: the pool exactly used, identity, direct map and image translate "
	   "with the promised flags, nothing past them (%u wrong)", n, bad);
}

/* The loader's two refusals of the map fw_map holds, in a child: 0 when memmap_compute_top and
 * memmap_alloc_final_buffer both refuse it with one message, 7 when the first accepts it, 6 when the
 * second does, 5 when their messages differ. */
static int short_map_refused(void *arg)
{
	(void)arg;
	UINT64 top = 0, phys = 0, cap = 0;
	if (!EFI_ERROR(memmap_compute_top(&top)))
		return 7;
	const CHAR16 *said = last_fmt;
	if (!EFI_ERROR(memmap_alloc_final_buffer(&phys, &cap)))
		return 6;
	return said == last_fmt ? 0 : 5;
}

/*
 * A firmware whose DescriptorSize is smaller than EFI_MEMORY_DESCRIPTOR (40 bytes): the loader must
 * refuse the map before it reads a descriptor at that stride, whose 40 bytes would reach past the
 * map the firmware returned (the review found memmap_compute_top read it before
 * memmap_alloc_final_buffer refused it; GNU-EFI's LibMemoryMap, which the loader used then, divided
 * by the stride unchecked). Generated strides 0..32 and 1..4 descriptors, in a child (ASan reports a read past the
 * map): memmap_compute_top and memmap_alloc_final_buffer must both refuse such a map (an error
 * status) with the same message, without reading past it.
 */
static void test_short_descriptor_size(void)
{
	unsigned n = 0, bad = 0;
	for (UINTN stride = 0; stride < sizeof(EFI_MEMORY_DESCRIPTOR); stride += 8)
		for (unsigned count = 1; count <= 4; count++) {
			fw_map_reset(stride);
			for (unsigned i = 0; i < count; i++)
				fw_map_add(EfiConventionalMemory, 0x100000 * (i + 1), 16);
			struct tap_child ch = { .quiet_err = n > 0 };   /* ASan's report once, for the first case */
			int status = tap_child(&ch, short_map_refused, NULL);
			bool good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			n++;
			if (!good && bad++ < 3)
				printf("# DescriptorSize %llu, %u descriptors: %s\n", (unsigned long long)stride, count,
				       code == 7 ? "memmap_compute_top accepted it" : code == 6 ? "memmap_alloc_final_buffer accepted it" :
				       code == 5 ? "the two refusals' messages differ" : "the child died (ASan: a read past the map; or a division by the stride 0)");
		}
	ok(bad == 0, "%u maps with DescriptorSize below 40 bytes: refused with one message, nothing read past the map "
	   "(%u wrong)", n, bad);
}

/*
 * include/bootinfo.h: descriptors "lie a multiple of BOOTINFO_MMAP_DESC_ALIGN bytes apart", and the
 * kernel panics on any other stride (kernel/main.c kernel_take_bootinfo) before a console exists.
 * Generated: every stride from 40 to 136 bytes, maps of 1..4 descriptors. Oracle: a stride not a
 * multiple of 8 is refused with one message by memmap_compute_top, memmap_alloc_final_buffer and
 * memmap_fit_for_kernel (the map left as it is); a multiple of 8 is read (map_top 4 GiB, the
 * buffer asked of pages_alloc, the map kept) without a message.
 */
static void test_descriptor_size_alignment(void)
{
	static uint8_t copy[MAP_MAX * 64];
	unsigned n = 0, bad = 0, refused = 0;
	for (UINTN stride = sizeof(EFI_MEMORY_DESCRIPTOR); stride <= 136; stride++)
		for (unsigned count = 1; count <= 4; count++) {
			bool aligned = stride % 8 == 0;
			fw_map_reset(stride);
			for (unsigned i = 0; i < count; i++)
				fw_map_add(EfiConventionalMemory, 0x100000 * (i + 1), 16);
			UINT64 top = 0, phys = 0, cap = 0;
			UINTN bytes = count * stride;
			memcpy(copy, fw_map, bytes);
			unsigned before = prints;
			EFI_STATUS top_st = memmap_compute_top(&top);
			unsigned said_top = prints - before;
			EFI_STATUS buf_st = memmap_alloc_final_buffer(&phys, &cap);
			unsigned said_buf = prints - before - said_top;
			EFI_STATUS fit_st = memmap_fit_for_kernel(copy, &bytes, stride);
			unsigned said_fit = prints - before - said_top - said_buf;
			bool good = aligned ? !EFI_ERROR(top_st) && top == SIZE_4G && buf_st == EFI_OUT_OF_RESOURCES &&
					      !EFI_ERROR(fit_st) && prints == before
					    : EFI_ERROR(top_st) && buf_st == EFI_DEVICE_ERROR && EFI_ERROR(fit_st) &&
					      said_top == 1 && said_buf == 1 && said_fit == 1;
			good = good && bytes == count * stride && !memcmp(copy, fw_map, bytes);
			n++;
			refused += !aligned;
			if (!good && bad++ < 3)
				printf("# DescriptorSize %llu, %u descriptors: status 0x%llx, 0x%llx, 0x%llx; lines %u, %u, %u\n",
				       (unsigned long long)stride, count, (unsigned long long)top_st, (unsigned long long)buf_st,
				       (unsigned long long)fit_st, said_top, said_buf, said_fit);
		}
	ok(bad == 0 && refused > 0, "%u maps with DescriptorSize 40..136: the %u not a multiple of 8 refused with one "
	   "message at each step, the others read and kept without one (%u wrong)", n, refused, bad);
}

/*
 * The final map buffer (memmap_alloc_final_buffer): the firmware's map size plus 32 spare
 * descriptors at its stride, rounded up to a page, allocated as LoaderData and returned as the
 * capacity; a map larger than 1 GiB, or a stride above 1 GiB / 32, is refused as implausible with a
 * message and nothing allocated, and so is a stride that is not a multiple of 8 (its own message). Generated: sizes and strides at, below and above each bound.
 */
static void test_final_buffer_size(void)
{
	static const UINTN sizes[] = { 0, 40, 48 * 100, 4095, 4096, 4097, SIZE_1G - 1, SIZE_1G, SIZE_1G + 1, SIZE_1G * 4 };
	static const UINTN strides[] = { 40, 48, 4096, SIZE_1G / 32 - 1, SIZE_1G / 32, SIZE_1G / 32 + 1, SIZE_1G };
	unsigned n = 0, bad = 0;

	BS = &sized_bs;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t j = 0; j < sizeof(strides) / sizeof(strides[0]); j++)
			for (int grant = 0; grant < 2; grant++) {
				sized_bytes = sizes[i];
				sized_stride = strides[j];
				alloc_grant = grant;
				UINT64 phys = 0, cap = 0;
				unsigned allocs0 = allocs, prints0 = prints;
				EFI_STATUS st = memmap_alloc_final_buffer(&phys, &cap);
				/* A stride that is not a multiple of 8 is refused first, named in its message. */
				bool misaligned = strides[j] % 8 != 0;
				bool refused = misaligned || sizes[i] > SIZE_1G || strides[j] > SIZE_1G / 32;
				UINT64 want = (sizes[i] + 32 * (UINT64)strides[j] + 4095) / 4096 * 4096;
				bool good;
				if (refused)
					good = st == EFI_DEVICE_ERROR && allocs == allocs0 && prints == prints0 + 1 &&
					       last_args[0] == (misaligned ? strides[j] : sizes[i]);
				else
					good = allocs == allocs0 + 1 && alloc_type == EfiLoaderData && alloc_bytes == want &&
					       cap == want && prints == prints0 &&
					       (grant ? st == EFI_SUCCESS && phys == ALLOC_PA : st == EFI_OUT_OF_RESOURCES);
				n++;
				if (!good && bad++ < 4)
					printf("# map of %llu bytes at a stride of %llu: status 0x%llx, capacity %llu (want %llu%s), "
					       "%u allocations, %u messages\n", (unsigned long long)sizes[i],
					       (unsigned long long)strides[j], (unsigned long long)st, (unsigned long long)cap,
					       (unsigned long long)want, refused ? ", refused" : "", allocs - allocs0, prints - prints0);
			}
	BS = &fake_bs;
	alloc_grant = false;
	ok(bad == 0, "%u map sizes and strides around 1 GiB and 1 GiB / 32: the buffer is the map plus 32 descriptors, "
	   "rounded up to a page, or refused as implausible (%u wrong)", n, bad);
}

/*
 * What memmap_compute_top says of the descriptors it ignores: their number and the start of the
 * first in map order (then the boot goes on); and a descriptor from physical 0 ending exactly at
 * 2^52 is RAM, not ignored (the 52-bit space holds it), clipped to the direct map's 64 TiB. Generated:
 * 1..5 ignored descriptors at distinct starts among real RAM, both strides.
 */
static void test_ignored_descriptors_named(void)
{
	uint64_t rng = 0x1D1EULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 200; c++) {
		fw_map_reset(c % 2 ? 40 : 48);
		unsigned nbad = 1 + c % 5, added = 0;
		UINT64 first = 0;
		for (unsigned i = 0; added < nbad || i < 3; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			if (added < nbad && (rng >> 60) % 2) {
				UINT64 start = (((rng >> 20) % (1ULL << 30)) + 1) << 12;
				fw_map_add(EfiConventionalMemory, start, (1ULL << 40) + (rng >> 50));   /* past 2^52 */
				if (added++ == 0)
					first = start;
			} else {
				fw_map_add(EfiConventionalMemory, 0x100000 * (i + 1), 16);
			}
		}
		UINT64 top = 0;
		unsigned before = prints;
		EFI_STATUS st = memmap_compute_top(&top);
		n++;
		if ((EFI_ERROR(st) || top != SIZE_4G || prints != before + 1 || last_args[0] != nbad || last_args[1] != first) &&
		    bad++ < 4)
			printf("# %u ignored, the first at 0x%llx: status 0x%llx, map_top 0x%llx, %u messages naming %llu "
			       "from 0x%llx\n", nbad, (unsigned long long)first, (unsigned long long)st, (unsigned long long)top,
			       prints - before, (unsigned long long)last_args[0], (unsigned long long)last_args[1]);
	}
	for (int stride = 40; stride <= 48; stride += 8) {
		fw_map_reset(stride);
		fw_map_add(EfiConventionalMemory, 0, 1ULL << 40);   /* [0, 2^52) */
		UINT64 top = 0;
		unsigned before = prints;
		EFI_STATUS st = memmap_compute_top(&top);
		n++;
		if ((EFI_ERROR(st) || top != DMAP_SIZE || prints != before + 1 || last_args[0] != 1ULL << 52) && bad++ < 4)
			printf("# RAM [0, 2^52): status 0x%llx, map_top 0x%llx, %u messages (the last naming 0x%llx)\n",
			       (unsigned long long)st, (unsigned long long)top, prints - before, (unsigned long long)last_args[0]);
	}
	ok(bad == 0, "%u maps with descriptors past 2^52: the message counts them and names the first one's start; "
	   "RAM ending exactly at 2^52 is kept and clipped to 64 TiB (%u wrong)", n, bad);
}

/*
 * UEFI defines EFI_MEMORY_DESCRIPTOR version 1 only; the loader and the kernel read every map as
 * that layout. Linux warns on another version and goes on (arch/x86/platform/efi/efi.c: "Unexpected
 * EFI_MEMORY_DESCRIPTOR version"); the loader read it in silence (failed so). Generated maps of
 * RAM below and above 4 GiB, versions 0, 2, 3, 255 and 2^32 - 1, both strides. Oracle: the same
 * map_top as at version 1, and one message more, naming the version; version 1 says nothing.
 */
static void test_descriptor_version_named(void)
{
	static const UINT32 versions[] = { 0, 2, 3, 255, 0xFFFFFFFFu };
	uint64_t rng = 0xDE5CULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 40; c++) {
		fw_map_reset(c % 2 ? 40 : 48);
		for (unsigned i = 0; i < 1 + c % 6; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			fw_map_add(i % 2 ? EfiBootServicesData : EfiConventionalMemory, 0x100000ULL + (rng >> 34) * PAGE_SIZE,
				   1 + (rng >> 50));
		}
		UINT64 want = 0, top = 0;
		fw_version = 1;
		unsigned before = prints;
		EFI_STATUS st1 = memmap_compute_top(&want);
		unsigned quiet = prints - before;
		fw_version = versions[c % 5];
		before = prints;
		EFI_STATUS st = memmap_compute_top(&top);
		n++;
		if ((EFI_ERROR(st1) || EFI_ERROR(st) || quiet != 0 || top != want || prints != before + 1 ||
		     last_args[0] != fw_version) && bad++ < 4)
			printf("# version %u: status 0x%llx, map_top 0x%llx (0x%llx at version 1, %u messages), %u messages "
			       "naming %llu\n", fw_version, (unsigned long long)st, (unsigned long long)top,
			       (unsigned long long)want, quiet, prints - before, (unsigned long long)last_args[0]);
	}
	fw_version = 1;
	ok(bad == 0, "%u maps of descriptor versions other than 1: read as version 1 (the same map_top), named in one "
	   "message; version 1 in none (%u wrong)", n, bad);
}

/* The builds of test_paging_short_pool and test_paging_build: map_top 4..64 GiB, an image in the
 * kernel window of 1..2048 pages. */
static void paging_case(uint64_t *rng, UINT64 *map_top, struct kernel_image *k)
{
	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	*map_top = SIZE_1G * (4 + (*rng >> 33) % 61);
	UINT64 vbase = KERNEL_BASE + ((*rng >> 24) % 4096) * SIZE_2M / 8;
	*k = (struct kernel_image){ .phys_base = 0x40000000ULL + ((*rng >> 50) % 64) * PAGE_SIZE, .virt_base = vbase,
				    .size = PAGE_SIZE * (1 + (*rng >> 12) % 2048), .entry = vbase };
}

/*
 * paging.c pool_take: "NULL once the pool is used up", and map_low_and_direct and map_kernel
 * "FALSE if out of (table) pages", never writing past the pool (paging_build then reports an internal
 * error). Generated builds as test_paging_tables makes them, each given every pool from 1 page to
 * one page short of paging_pages_needed, exactly that big (ASan: a write past it fails the test).
 * Oracle: each build fails, its pool used up.
 */
static void test_paging_short_pool(void)
{
	uint64_t rng = 0x5407ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 16; c++) {
		UINT64 map_top;
		struct kernel_image k;
		paging_case(&rng, &map_top, &k);
		UINT64 pages = paging_pages_needed(map_top, &k);
		for (UINT64 have = 1; have < pages; have++) {
			void *block = aligned_alloc(PAGE_SIZE, have * PAGE_SIZE);
			memset(block, 0, have * PAGE_SIZE);
			struct table_pool pool = { (UINT64)(UINTN)block, (UINT64)(UINTN)block + have * PAGE_SIZE };
			UINT64 *pml4 = pool_take(&pool);
			bool built = map_low_and_direct(pml4, map_top, &pool) && map_kernel(pml4, &k, &pool);
			n++;
			if ((built || pool.next != pool.end) && bad++ < 4)
				printf("# map_top 0x%llx, image 0x%llx + 0x%llx, a pool of %llu of %llu pages: built %d, %llu left\n",
				       (unsigned long long)map_top, (unsigned long long)k.virt_base, (unsigned long long)k.size,
				       (unsigned long long)have, (unsigned long long)pages, built,
				       (unsigned long long)((pool.end - pool.next) / PAGE_SIZE));
			free(block);
		}
	}
	ok(bad == 0, "%u loader page-table builds given a pool 1 to %s pages short: each fails within its pool (%u wrong)",
	   n, "all but 1", bad);
}

/*
 * paging.c paging_build: refuses with EFI_UNSUPPORTED, allocating nothing, when the firmware runs
 * with 5-level paging (CR4.LA57); otherwise allocates paging_pages_needed pages of LoaderData, fills
 * them and returns the PML4's address, whose tables translate the low and direct maps and the image;
 * an allocation's failure is returned as it is. Generated: CR4 values with and without LA57 (other
 * bits random), builds as test_paging_short_pool makes them, a third with the allocation refused.
 */
static void test_paging_build(void)
{
	uint64_t rng = 0xB017DULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 36; c++) {
		UINT64 map_top, pml4_phys = 0x5A5A000;
		struct kernel_image k;
		paging_case(&rng, &map_top, &k);
		bool la57 = c % 2, granted = c % 3 != 2;
		fake_cr4 = ((rng >> 7) & LOADER_TEST_CR4_BITS & ~CR4_LA57) | (la57 ? CR4_LA57 : 0);
		alloc_host = granted;
		alloc_block = NULL;
		unsigned allocs_before = allocs, prints_before = prints;
		EFI_STATUS st = paging_build(map_top, &k, &pml4_phys);
		alloc_host = false;
		bool good;
		if (la57)
			good = st == EFI_UNSUPPORTED && allocs == allocs_before && prints == prints_before + 1 &&
			       pml4_phys == 0x5A5A000;
		else if (!granted)
			good = st == EFI_OUT_OF_RESOURCES && allocs == allocs_before + 1 && pml4_phys == 0x5A5A000;
		else {
			const UINT64 *pml4 = (const UINT64 *)(UINTN)pml4_phys;
			UINT64 f1 = 0, f2 = 0, f3 = 0, pa = (rng >> 11) % map_top, off = (rng >> 5) % k.size;
			good = st == EFI_SUCCESS && allocs == allocs_before + 1 && alloc_type == EfiLoaderData &&
			       alloc_bytes == paging_pages_needed(map_top, &k) * PAGE_SIZE && pml4 == alloc_block &&
			       walk(pml4, pa, &f1) == pa && walk(pml4, DMAP_BASE + pa, &f2) == pa &&
			       walk(pml4, k.virt_base + off, &f3) == k.phys_base + off && f3 == PTE_PAGE_4K;
		}
		n++;
		if (!good && bad++ < 4)
			printf("# CR4 0x%llx, allocation %s, map_top 0x%llx, image 0x%llx + 0x%llx: status 0x%llx, PML4 0x%llx, "
			       "%u allocations, %u messages\n", (unsigned long long)fake_cr4, granted ? "granted" : "refused",
			       (unsigned long long)map_top, (unsigned long long)k.virt_base, (unsigned long long)k.size,
			       (unsigned long long)st, (unsigned long long)pml4_phys, allocs - allocs_before,
			       prints - prints_before);
		free(alloc_block);
	}
	ok(bad == 0, "%u paging_build calls: refused under 5-level paging with nothing allocated, else the tables "
	   "built in their LoaderData pages, an allocation's failure returned (%u wrong)", n, bad);
}

/*
 * UEFI's GetMemoryMap says what it returns with EFI_BUFFER_TOO_SMALL: the size the map needs; it does
 * not say that DescriptorSize is written then, and some firmware leaves it as it was (VMware's
 * esx-boot carries a workaround for such a machine; rust-hypervisor-firmware wrote it only on
 * success until Linux, which reads it there, divided by 0). The loader took the stride from that
 * call and refused the map as "0 bytes apart" (failed so: no boot on such a PC). Generated: maps of
 * 1..8 descriptors at strides 40..64 (and 32 and 44, which stay refused), the stride said on
 * EFI_BUFFER_TOO_SMALL or not. Oracle: with it unsaid, memmap_compute_top gives the map_top it gives
 * with it said, memmap_alloc_final_buffer asks pages_alloc for the same bytes, neither prints; a
 * stride the loader cannot read is refused with one message each, as when said; every pool buffer
 * read is freed (ASan).
 */
static void test_stride_unsaid_when_too_small(void)
{
	static const UINTN strides[] = { 40, 48, 56, 64, 32, 44 };
	uint64_t rng = 0x57D5ULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 48; c++) {
		UINTN stride = strides[c % 6];
		bool readable = stride >= sizeof(EFI_MEMORY_DESCRIPTOR) && stride % 8 == 0;
		UINT64 top[2] = { 0, 0 }, bytes[2] = { 0, 0 }, phys = 0, cap = 0;
		EFI_STATUS st_top[2], st_buf[2];
		unsigned said[2];

		fw_map_reset(stride);
		for (unsigned i = 0; i < 1 + c % 8; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			fw_map_add(i % 3 ? EfiConventionalMemory : EfiBootServicesData,
				   0x100000ULL + (rng >> 30) * PAGE_SIZE, 1 + (rng >> 52));
		}
		for (int unsaid = 0; unsaid < 2; unsaid++) {
			unsigned before = prints;
			fw_stride_unsaid = unsaid;
			st_top[unsaid] = memmap_compute_top(&top[unsaid]);
			alloc_bytes = 0;
			st_buf[unsaid] = memmap_alloc_final_buffer(&phys, &cap);
			bytes[unsaid] = alloc_bytes;
			said[unsaid] = prints - before;
		}
		fw_stride_unsaid = false;
		bool good = readable ? st_top[1] == EFI_SUCCESS && top[1] == top[0] && st_buf[1] == EFI_OUT_OF_RESOURCES &&
				       bytes[1] == bytes[0] && bytes[0] != 0 && said[1] == 0 && said[0] == 0
				     : st_top[1] == EFI_DEVICE_ERROR && st_buf[1] == EFI_DEVICE_ERROR && said[1] == 2 &&
				       said[0] == 2;
		n++;
		if (!good && bad++ < 4)
			printf("# stride %llu, %u descriptors, unsaid: status 0x%llx, 0x%llx, map_top 0x%llx (said: 0x%llx), "
			       "buffer %llu bytes (said: %llu), %u messages (said: %u)\n", (unsigned long long)stride, 1 + c % 8,
			       (unsigned long long)st_top[1], (unsigned long long)st_buf[1], (unsigned long long)top[1],
			       (unsigned long long)top[0], (unsigned long long)bytes[1], (unsigned long long)bytes[0],
			       said[1], said[0]);
	}
	ok(bad == 0, "%u maps whose DescriptorSize is not given with EFI_BUFFER_TOO_SMALL: read and sized as when it is, "
	   "in silence; an unreadable stride refused as when it is (%u wrong)", n, bad);
}

/*
 * The task's "a physical address above the CPU's width": the loader's identity and direct maps
 * reached the highest RAM end up to 64 TiB whatever the CPU, so a descriptor claiming RAM past the
 * CPU's physical address width (a firmware's bug; the kernel ignores such RAM, mm/phys.c
 * PHYS_LIMIT_PFN) put addresses into the tables' entries in bits the CPU reserves, and cost up to
 * 256 MiB of table pages: "cannot allocate ... for the page tables" on a small PC, where the kernel
 * would have booted (failed so). Generated: real RAM below 4..64 GiB and one bogus descriptor of
 * every RAM type ending past 2^width, from above it or from below it, widths 36..46 and 52, both
 * strides. Oracle: map_top is what the real RAM alone gives (at least 4 GiB, rounded up to 1 GiB),
 * or 2^width when the bogus descriptor starts below it (its RAM up to there kept, as the kernel
 * keeps it), never more; one message names the width (below 46 bits) or the 64 TiB (46 and up).
 */
static void test_top_within_cpu_width(void)
{
	static const UINT32 types[] = { EfiConventionalMemory, EfiBootServicesData, EfiLoaderData,
					EfiACPIReclaimMemory, EfiRuntimeServicesData, EFI_MEMORY_TYPE_KERNEL };
	static const UINT32 widths[] = { 36, 37, 39, 40, 42, 44, 45, 46, 52 };
	uint64_t rng = 0x3C9ULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 108; c++) {
		UINT32 bits = widths[c % 9];
		UINT64 limit = (1ULL << bits) < DMAP_SIZE ? 1ULL << bits : DMAP_SIZE, real_end = 0;

		fw_map_reset(c % 2 ? 40 : 48);
		for (unsigned i = 0; i < 1 + c % 4; i++) {   /* the real RAM, below 64 GiB */
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			UINT64 start = ((rng >> 40) % (60ULL << 18)) * PAGE_SIZE, pages = 1 + (rng >> 52);
			fw_map_add(EfiConventionalMemory, start, pages);
			if (start + pages * PAGE_SIZE > real_end)
				real_end = start + pages * PAGE_SIZE;
		}
		/* past 2^width: from above it (no RAM the kernel keeps), or from below it every third case
		 * (the RAM up to 2^width kept, as the kernel keeps it) */
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		bool straddles = c % 3 == 0;
		UINT64 bogus_end = limit + PAGE_SIZE * (1 + (rng >> 30) % (1ULL << 30));
		UINT64 bogus_pages = straddles ? (bogus_end - limit) / PAGE_SIZE + 1 + (rng >> 50) % 4096
					       : 1 + (rng >> 50) % ((bogus_end - limit) / PAGE_SIZE);
		fw_map_add(types[c % 6], bogus_end - bogus_pages * PAGE_SIZE, bogus_pages);

		UINT64 top = 0, want = real_end < SIZE_4G ? SIZE_4G : real_end;
		want = (want + SIZE_1G - 1) & ~(SIZE_1G - 1);
		if (straddles || want > limit)
			want = limit;
		fake_phys_bits = bits;
		unsigned before = prints;
		EFI_STATUS st = memmap_compute_top(&top);
		bool named = last_args[0] == bogus_end &&
			     (limit == DMAP_SIZE ? last_args[1] == DMAP_SIZE >> 40 : last_args[1] == bits);
		n++;
		if ((EFI_ERROR(st) || top != want || top > (1ULL << bits) || prints != before + 1 || !named) && bad++ < 4)
			printf("# %u-bit CPU, RAM to 0x%llx, a descriptor to 0x%llx: status 0x%llx, map_top 0x%llx (want 0x%llx), "
			       "%u messages naming 0x%llx, %llu\n", bits, (unsigned long long)real_end,
			       (unsigned long long)bogus_end, (unsigned long long)st, (unsigned long long)top,
			       (unsigned long long)want, prints - before, (unsigned long long)last_args[0],
			       (unsigned long long)last_args[1]);
	}
	fake_phys_bits = 52;
	ok(bad == 0, "%u maps with RAM claimed past the CPU's 36- to 52-bit physical address width: map_top that of the "
	   "real RAM, within the width, the cut named once (%u wrong)", n, bad);
}

int main(void)
{
	BS = &fake_bs;
	test_top_is_highest_ram();
	test_paging_tables();
	test_paging_short_pool();
	test_paging_build();
	test_bogus_usable_descriptor_keeps_boot();
	test_high_framebuffer_keeps_boot();
	test_short_descriptor_size();
	test_ram_end_rules();
	test_descriptor_size_alignment();
	test_final_buffer_size();
	test_ignored_descriptors_named();
	test_descriptor_version_named();
	test_stride_unsaid_when_too_small();
	test_top_within_cpu_width();
	return tap_done();
}
