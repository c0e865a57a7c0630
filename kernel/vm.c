/* Kernel address space construction (see vm.h). Runs once, on the boot CPU, interrupts off. */
#include "vm.h"
#include "physlimit.h"
#include "vmlayout.h"
#include "phys.h"
#include "efi_mmap.h"
#include "arch_mm.h"
#include "tlb_batch.h"
#include "cpu.h"
#include "percpu.h"
#include "kprintf.h"
#include "kassert.h"
#include "kernel.h"
#include "wdm.h"
#include "reserved.h"

struct pt kernel_pt;
vaddr_t vm_fb_virt;

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[], __ksyms_start[], __kernel_end[];

/* Maps the image range [start, end) (link addresses) with prot; panics on failure. */
static void vm_map_image(const struct bootinfo *bi, const char *start, const char *end, unsigned prot,
			 const char *what)
{
	vaddr_t va = (vaddr_t)start;
	uint64_t size = (vaddr_t)end - va;
	if (!size)
		return;
	paddr_t pa = bi->kernel_phys_base + (va - bi->kernel_virt_base);
	int st = pt_map(&kernel_pt, va, pa, size, prot | PT_PROT_G, PT_SIZE_4K);
	KASSERT(st == PT_OK, "mapping kernel %s failed: %d", what, st);
}

/* Bytes of the architectural 52-bit physical address space: a descriptor claiming RAM past it is a
 * firmware's bug, ignored whole (mm/phys.c's PHYS_ARCH_FRAMES for the usable types; the loader's
 * boot/memmap.c for its tables). */
#define VM_ARCH_PHYS_END PHYS_ADDR_ARCH_END

/* True for the memory types the direct map holds: what the allocator hands out (now or after the
 * switch), the kernel image, ACPI and firmware runtime memory. */
static bool vm_dmap_type(const struct efi_memory_descriptor *d)
{
	return phys_type_usable_at_init(d->type, d->attribute) || phys_type_loader(d->type, d->attribute) ||
	       d->type == EFI_MEMORY_TYPE_KERNEL || d->type == EFI_ACPI_RECLAIM || d->type == EFI_ACPI_NVS ||
	       d->type == EFI_RT_CODE || d->type == EFI_RT_DATA;
}

/*
 * The physical range [*start, *start + *size) of descriptor d that the direct map holds: every page
 * its bytes touch (a start off a page boundary, a firmware's bug phys_init reports, reaches into one
 * page more) below the direct map's end and the CPU's physical width, which no PTE can name. False
 * when nothing: not a direct-mapped type, empty, entirely past those ends, or RAM that would end past
 * the 52-bit physical address space or wrap past 2^64, ignored whole as phys_init ignores it. So
 * every frame phys_init keeps (whole pages of a usable descriptor below min(8 TiB, the CPU's
 * width)) lies in the range of its descriptor.
 */
static bool vm_dmap_span(const struct efi_memory_descriptor *d, paddr_t *start, uint64_t *size)
{
	paddr_t limit = MIN(DMAP_SIZE, 1ULL << arch_phys_addr_bits());
	if (!vm_dmap_type(d) || !d->num_pages || d->num_pages > VM_ARCH_PHYS_END >> PAGE_SHIFT ||
	    d->phys_start > VM_ARCH_PHYS_END - (d->num_pages << PAGE_SHIFT))
		return false;
	*start = ALIGN_DOWN(d->phys_start, PAGE_SIZE);
	paddr_t end = MIN(ALIGN_UP(d->phys_start + (d->num_pages << PAGE_SHIFT), PAGE_SIZE), limit);
	if (*start >= end)
		return false;
	*size = end - *start;
	return true;
}

/*
 * Maps [start, start + size) into the direct map, large pages where aligned. Descriptors may overlap:
 * a leaf an earlier one mapped is skipped whole, and the rest is mapped in pieces that end at the
 * next 1 GiB boundary, or, within a GiB where that piece met a mapping, at the next 2 MiB boundary,
 * then page by page within such 2 MiB; so the cost follows the mappings met, not the range's pages.
 */
static void vm_dmap_range(paddr_t start, uint64_t size)
{
	static const uint64_t pieces[] = { SIZE_1G, SIZE_2M, PAGE_SIZE };
	paddr_t p = start, end = start + size;
	unsigned k = 0;   /* pieces[k]: the piece size tried at p */
	while (p < end) {
		uint64_t leaf;
		if (pt_query(&kernel_pt, DMAP_BASE + p, NULL, NULL, &leaf)) {
			p = ALIGN_DOWN(p, leaf) + leaf;
		} else {
			paddr_t to = MIN(end, ALIGN_DOWN(p, pieces[k]) + pieces[k]);
			int st = pt_map(&kernel_pt, DMAP_BASE + p, p, to - p, PT_PROT_W | PT_PROT_G,
					PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G);
			if (st == PT_EEXIST && k + 1 < ARRAY_SIZE(pieces)) {
				k++;
				continue;
			}
			KASSERT(st == PT_OK, "direct map of 0x%llx + 0x%llx failed: %d", (unsigned long long)p,
				(unsigned long long)(to - p), st);
			p = to;
		}
		while (k > 0 && IS_ALIGNED(p, pieces[k - 1]))   /* past the GiB (or 2 MiB) that met a mapping */
			k--;
	}
}

/* The pages [*start, *end) of fb's bytes (bootinfo_fb_bytes), which vm_map_fb maps write-combining
 * and phys_init_except keeps out of the allocator; false when fb has no usable bytes. An end past
 * the top of the address space is clamped to its last page. */
static bool vm_fb_pages(const struct bootinfo_fb *fb, paddr_t *start, paddr_t *end)
{
	uint64_t bytes = bootinfo_fb_bytes(fb);
	if (fb->format == BOOTINFO_FB_NONE || !bytes)
		return false;
	*start = ALIGN_DOWN(fb->base, PAGE_SIZE);
	*end = fb->base + bytes - 1 >= ALIGN_DOWN(UINT64_MAX, PAGE_SIZE) ? ALIGN_DOWN(UINT64_MAX, PAGE_SIZE)
									  : ALIGN_UP(fb->base + bytes, PAGE_SIZE);
	return true;
}

/* Maps the RAM of every descriptor of the map into the direct map (vm_dmap_span: the part below
 * the direct map's end and the CPU's width, never a descriptor phys_init ignores), but for the
 * framebuffer's pages, which a firmware may list as RAM: they are mapped write-combining at FB_BASE,
 * and a page mapped with two memory types at once is undefined (SDM Vol. 3A 12.12.4), so the
 * direct map never holds them. */
static void vm_map_dmap(const struct bootinfo *bi)
{
	size_t size, dsz;
	const void *map = kernel_memory_map(&size, &dsz);
	paddr_t fb_start = 0, fb_end = 0;
	vm_fb_pages(&bi->fb, &fb_start, &fb_end);
	for (size_t i = 0; i < size / dsz; i++) {
		paddr_t start;
		uint64_t bytes;
		if (!vm_dmap_span(efi_desc(map, dsz, i), &start, &bytes))
			continue;
		paddr_t end = start + bytes;
		if (end <= fb_start || start >= fb_end) {
			vm_dmap_range(start, bytes);
			continue;
		}
		if (start < fb_start)
			vm_dmap_range(start, fb_start - start);
		if (end > fb_end)
			vm_dmap_range(fb_end, end - fb_end);
	}
}

/* Maps the framebuffer write-combining at FB_BASE (UC- without the PAT: arch_pte_cache_effective),
 * bootinfo_fb_bytes of it; says on serial why when the mode is unusable or its size was short. */
static void vm_map_fb(const struct bootinfo *bi)
{
	const struct bootinfo_fb *fb = &bi->fb;
	uint64_t bytes = bootinfo_fb_bytes(fb);

	if (fb->format == BOOTINFO_FB_NONE)
		return;
	if (!bytes) {
		kprintf("vm: framebuffer unusable: %u x %u pixels, %u pixels per line, %llu bytes at 0x%llx "
			"(pixels not 32 bits, width or height 0, pitch below the width, or the range wraps); "
			"console on serial only\n",
			fb->width, fb->height, fb->pitch, (unsigned long long)fb->size, (unsigned long long)fb->base);
		return;
	}
	if (bytes > fb->size)
		kprintf("vm: framebuffer size %llu from the firmware is short of %u pixels per line x %u lines x %u "
			"bytes; mapping %llu bytes\n", (unsigned long long)fb->size, fb->pitch, fb->height,
			BOOTINFO_FB_BYTES_PER_PIXEL, (unsigned long long)bytes);
	paddr_t pa = ALIGN_DOWN(fb->base, PAGE_SIZE);
	uint64_t size = ALIGN_UP(fb->base + bytes, PAGE_SIZE) - pa;
	if (size > FB_MAX_SIZE) {
		kprintf("vm: framebuffer of %llu bytes too large; console on serial only\n", (unsigned long long)size);
		return;
	}
	if ((pa + size - 1) >> arch_phys_addr_bits()) {
		kprintf("vm: framebuffer at 0x%llx + %llu bytes lies past the CPU's %u-bit physical address width; console "
			"on serial only\n", (unsigned long long)fb->base, (unsigned long long)bytes, arch_phys_addr_bits());
		return;
	}
	int st = pt_map(&kernel_pt, FB_BASE, pa, size, PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(PT_CACHE_WC),
			PT_SIZE_4K | PT_SIZE_2M);
	KASSERT(st == PT_OK, "framebuffer mapping failed: %d", st);
	vm_fb_virt = FB_BASE + (fb->base - pa);
}

/* The PT_FEAT_* bits of the boot CPU. */
static unsigned vm_pt_features(void)
{
	return (cpu_feat.nx ? PT_FEAT_NX : 0) | (cpu_feat.page1g ? PT_FEAT_1G : 0) | (cpu_feat.pat ? PT_FEAT_MEMTYPES : 0);
}

/* Unmaps the image's guard pages: the one below the boot stack and the one below each of the boot
 * CPU's IST stacks, so that an overflow of any of them faults (into #DF, on its own stack). */
static void vm_unmap_guards(void)
{
	extern char boot_stack_guard[];
	KASSERT(pt_unmap(&kernel_pt, (vaddr_t)boot_stack_guard, PAGE_SIZE) == PT_OK, "stack guard");
	for (int i = 0; i < PERCPU_IST_COUNT; i++)
		KASSERT(pt_unmap(&kernel_pt, (vaddr_t)percpu_boot_ist[i].guard, PAGE_SIZE) == PT_OK, "IST %d guard", i + 1);
}

void vm_init(const struct bootinfo *bi)
{
	KASSERT(pt_create(&kernel_pt, vm_pt_features()) == PT_OK, "no memory for the PML4");
	vm_map_image(bi, __text_start, __text_end, PT_PROT_X, "text");
	vm_map_image(bi, __rodata_start, __rodata_end, 0, "rodata");
	vm_map_image(bi, __data_start, __data_end, PT_PROT_W, "data");
	vm_map_image(bi, __ksyms_start, __kernel_end, 0, "symbols");
	vm_unmap_guards();
	vm_map_dmap(bi);
	vm_map_fb(bi);
	arch_cr3_load(kernel_pt.root);
	struct tlb_batch all;   /* the loader's global translations survive the CR3 load */
	tlb_batch_init(&all);
	tlb_batch_add_all(&all);
	tlb_batch_flush(&all);
}

/* Names of the WDK caching types and of the memory types, for the report below. */
static const char *const vm_caching_type_names[MmMaximumCacheType] = {
	"MmNonCached", "MmCached", "MmWriteCombined", "MmHardwareCoherentCached", "MmNonCachedUnordered",
	"MmUSWCCached",
};
static const char *const vm_cache_names[PT_CACHE_TYPES] = { "WB", "WT", "UC-", "UC", "WC" };

void vm_report_cpu_limits(void)
{
	const char *xd = cpu_xd_text();

	if (!cpu_feat.nx)
		kprintf("vm: NOTE: this CPU has no NX (%s): every mapped page is executable, data and stacks included; "
			"W^X holds for writability only (code stays read-only)\n",
			xd ? xd : "absent, or Execute Disable turned off in the firmware setup");
	else if (xd)
		kprintf("vm: NOTE: %s: NX is enforced\n", xd);
	if (cpu_feat.pat)
		return;
	kprintf("vm: NOTE: this CPU has no PAT: page tables select only WB, WT, UC-, UC;");
	for (unsigned t = 0; t < MmMaximumCacheType; t++) {
		enum pt_cache want = (enum pt_cache)reserved_cache_type((MEMORY_CACHING_TYPE)t);
		enum pt_cache got = arch_pte_cache_effective(want, vm_pt_features());
		if (got != want)
			kprintf(" %s %s -> %s,", vm_caching_type_names[t], vm_cache_names[want], vm_cache_names[got]);
	}
	kprintf(" the framebuffer %s -> %s (uncached; write-combining only where an MTRR says WC)\n",
		vm_cache_names[PT_CACHE_WC], vm_cache_names[arch_pte_cache_effective(PT_CACHE_WC, vm_pt_features())]);
}
