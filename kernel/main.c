/*
 * Kernel entry: from the loader's hand-over to the self-test suite.
 *  1. per-CPU data (GS base), serial, CPU (GDT/TSS, the kernel's trap handlers, IDT, EFER, CR0,
 *     CR4, PAT) — nothing assumed from firmware;
 *  2. boot information and memory map copied into the kernel image;
 *  3. physical allocator from the map (boot-services memory usable at once), and at once the page
 *     below 1 MiB the APs' trampoline needs;
 *  4. the kernel's own page tables; CR3 switch; loader pages (and its tables) reclaimed last;
 *  5. framebuffer console (and what the CPU cannot enforce: no NX, no PAT); the memory manager;
 *     the TSC calibration; the other CPUs (ACPI MADT, INIT-SIPI-SIPI); the self-test suite; the
 *     onexit action.
 */
#include "bootinfo.h"
#include "efi_mmap.h"
#include "vmlayout.h"
#include "cpu.h"
#include "trap.h"
#include "fault.h"
#include "serial.h"
#include "fbcon.h"
#include "cmdline.h"
#include "panic.h"
#include "phys.h"
#include "vm.h"
#include "ktest.h"
#include "kstring.h"
#include "kernel.h"
#include "crashtest.h"
#include "verifier.h"
#include "summary.h"
#include "sysinfo.h"
#include "tsc.h"
#include "percpu.h"
#include "smp.h"
#include "smpinit.h"

struct bootinfo kernel_bootinfo;
struct cmdline kernel_cmdline;

/*
 * kernel_bootinfo_note: the boot information this kernel takes, as an ELF note for the loader to
 * read from kernel.elf before ExitBootServices (include/bootinfo.h; linker.ld puts .note.rmkernel
 * in a PT_NOTE segment inside the read-only one). Laid out as the ELF note format is: namesz,
 * descsz, type, the name padded to 4 bytes, then the description.
 */
static const struct {
	uint32_t namesz, descsz, type;
	char name[BOOTINFO_NOTE_NAME_PADDED];
	struct bootinfo_note desc;
} kernel_bootinfo_note __attribute__((used, section(".note.rmkernel"), aligned(4))) = {
	.namesz = sizeof(BOOTINFO_NOTE_NAME),
	.descsz = sizeof(struct bootinfo_note),
	.type = BOOTINFO_NOTE_TYPE,
	.name = BOOTINFO_NOTE_NAME,
	.desc = { .version = BOOTINFO_VERSION, .size = sizeof(struct bootinfo) },
};
_Static_assert(sizeof(kernel_bootinfo_note) == 3 * sizeof(uint32_t) + BOOTINFO_NOTE_NAME_PADDED +
	       sizeof(struct bootinfo_note), "the note has no padding but the name's");
size_t kernel_cmdline_screen_bytes;
static uint8_t kernel_mmap[BOOTINFO_MMAP_MAX_BYTES] __attribute__((aligned(16)));
struct kernel_mmap_cut kernel_mmap_cut;
size_t kernel_mmap_cut_screen_bytes;
static size_t kernel_out_line(void (*out)(const char *, size_t), const char *s);
/* The loader hands over only maps inside include/bootinfo.h's limits; the copy and the allocator take them all. */
_Static_assert(sizeof(kernel_mmap) >= BOOTINFO_MMAP_MAX_BYTES, "the map copy holds every map the loader hands over");
_Static_assert(PHYS_MAX_RANGES >= BOOTINFO_MMAP_MAX_DESCS, "phys_init reads every descriptor the loader hands over");
_Static_assert(BOOTINFO_MMAP_DESC_ALIGN == EFI_MMAP_DESC_ALIGN, "the loader's stride rule is the kernel's");

/*
 * Validates and copies the loader's structures into the kernel image (loader memory is reclaimed);
 * the memory map is judged and copied later, by kernel_take_mmap.
 * A loader that reads kernel_bootinfo_note refuses a kernel of another build before
 * ExitBootServices, on screen; this check is for a loader older than that, and reports on serial
 * only, since the framebuffer's description cannot be trusted then.
 */
static void kernel_take_bootinfo(paddr_t bi_pa)
{
	const struct bootinfo *bi = (const struct bootinfo *)(DMAP_BASE + bi_pa);
	if (bi->magic != BOOTINFO_MAGIC || bi->version != BOOTINFO_VERSION || bi->size != sizeof(*bi))
		kpanic("boot information from the loader is not version %d (magic 0x%llx version %u size %u): "
		       "the loader is of another build; copy BOOTX64.EFI and kernel.elf from the same build",
		       BOOTINFO_VERSION,
		       (unsigned long long)bi->magic, bi->version, bi->size);
	kernel_bootinfo = *bi;
	kernel_bootinfo.fw_vendor[BOOTINFO_FW_VENDOR_MAX - 1] = 0;
	/* From here until the kernel's page tables are live, a fatal report draws on the framebuffer
	 * through the loader's direct map of [0, map_top), where it lies there (below 4 GiB, always). */
	uint64_t fb_bytes = bootinfo_fb_bytes(&kernel_bootinfo.fb);
	if (fb_bytes && kernel_bootinfo.fb.base + fb_bytes <= kernel_bootinfo.map_top &&
	    kernel_bootinfo.map_top <= DMAP_SIZE)
		panic_set_early_screen(&kernel_bootinfo.fb, (void *)(DMAP_BASE + kernel_bootinfo.fb.base));
	if (kernel_bootinfo.cmdline_len >= BOOTINFO_CMDLINE_MAX)
		kpanic("boot information: command line of %u bytes in a %d-byte buffer", kernel_bootinfo.cmdline_len,
		       BOOTINFO_CMDLINE_MAX);
}

/*
 * Judges the loader's memory map (efi_mmap_geometry) and copies its whole descriptors into the
 * kernel image; a map it cannot read, or of no whole descriptor, is a panic naming why. Called once the command line is
 * parsed, so that panic ends the machine as onexit= says, and before the loader's memory is
 * reclaimed (the map is read through the loader's direct map).
 */
static void kernel_take_mmap(void)
{
	const struct bootinfo *bi = &kernel_bootinfo;
	/* the copy's limit in descriptors: no stride divides before efi_mmap_geometry has judged it */
	uint64_t stride = bi->mmap_desc_size, whole, tail;
	uint64_t max_descs = stride >= sizeof(struct efi_memory_descriptor) ?
			     MIN((uint64_t)BOOTINFO_MMAP_MAX_DESCS, sizeof(kernel_mmap) / stride) : 0;
	enum efi_mmap_geometry_status g = efi_mmap_geometry(bi->mmap_size, stride, max_descs, &whole, &tail);
	if (g != EFI_MMAP_GEOMETRY_OK && g != EFI_MMAP_GEOMETRY_RAGGED)
		kpanic("memory map of %llu bytes, descriptors %llu bytes apart: %s (the kernel takes up to %llu "
		       "descriptors, %zu bytes)", (unsigned long long)bi->mmap_size, (unsigned long long)stride,
		       efi_mmap_geometry_text(g), (unsigned long long)max_descs, sizeof(kernel_mmap));
	/* a map of no whole descriptor leaves the kernel no memory: a firmware problem, named as such */
	if (whole == 0)
		kpanic("memory map of %llu bytes, descriptors %llu bytes apart: not one whole descriptor, so the kernel "
		       "has no memory to run in (a firmware problem)", (unsigned long long)bi->mmap_size,
		       (unsigned long long)stride);
	/* a ragged map is its whole descriptors from here on; the cut is reported once there is a screen */
	kernel_mmap_cut = (struct kernel_mmap_cut){ bi->mmap_size, whole, tail };
	kernel_bootinfo.mmap_size = whole * stride;
	memcpy(kernel_mmap, (const void *)(DMAP_BASE + bi->mmap_phys), kernel_bootinfo.mmap_size);
	kernel_bootinfo.mmap_phys = 0;   /* use kernel_mmap from now on */
}

size_t kernel_mmap_cut_report(void (*out)(const char *, size_t))
{
	static char line[256];
	if (!kernel_mmap_cut.tail)
		return 0;
	ksnprintf(line, sizeof(line), "memory map: %llu bytes from the firmware are %llu descriptors of %llu bytes and "
		  "%llu bytes more: %s", (unsigned long long)kernel_mmap_cut.bytes, (unsigned long long)kernel_mmap_cut.whole,
		  (unsigned long long)kernel_bootinfo.mmap_desc_size, (unsigned long long)kernel_mmap_cut.tail,
		  efi_mmap_geometry_text(EFI_MMAP_GEOMETRY_RAGGED));
	return kernel_out_line(out, line);
}

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = kernel_bootinfo.mmap_size;
	*desc_size = kernel_bootinfo.mmap_desc_size;
	return kernel_mmap;
}

/* Parses the loader's copy of \cmdline.txt into kernel_cmdline and applies onexit= at once. */
static void kernel_parse_cmdline(void)
{
	static const enum onexit_action actions[] = {
		[CMDLINE_ONEXIT_HALT] = ONEXIT_HALT, [CMDLINE_ONEXIT_QEMU] = ONEXIT_QEMU,
		[CMDLINE_ONEXIT_REBOOT] = ONEXIT_REBOOT,
	};
	cmdline_parse(&kernel_cmdline, kernel_bootinfo.cmdline, kernel_bootinfo.cmdline_len,
		      kernel_bootinfo.cmdline_flags & (BOOTINFO_CMDLINE_CUT | BOOTINFO_CMDLINE_CUT_AT_SEP));
	kernel_onexit = actions[kernel_cmdline.opts.onexit];
}

/* Writes s and a newline through out; returns the bytes written. */
static size_t kernel_out_line(void (*out)(const char *, size_t), const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	out(s, n);
	out("\n", 1);
	return n + 1;
}

size_t kernel_cmdline_report(void (*out)(const char *, size_t))
{
	static char line[512];
	const struct cmdline *c = &kernel_cmdline;
	size_t bytes = 0;
	for (size_t i = 0; i < c->ndiag; i++) {
		cmdline_diag_format(c, i, line, sizeof(line));
		bytes += kernel_out_line(out, line);
	}
	if (c->ndropped) {
		ksnprintf(line, sizeof(line), "cmdline: %zu more problems not shown", c->ndropped);
		bytes += kernel_out_line(out, line);
	}
	if (c->opts.ktest[0] && ktest_count(c->opts.ktest) == 0) {
		ksnprintf(line, sizeof(line), "cmdline: ktest=%s names no test; the suite will fail", c->opts.ktest);
		bytes += kernel_out_line(out, line);
	}
	static const char head[] = "cmdline: in effect: ";
	memcpy(line, head, sizeof(head) - 1);
	cmdline_opts_format(&c->opts, line + sizeof(head) - 1, sizeof(line) - (sizeof(head) - 1));
	return bytes + kernel_out_line(out, line);
}

/* Prints the memory map summary: KiB per type, sums saturating at 2^64 - 1 pages (a firmware's
 * absurd NumberOfPages must not wrap the figure a person reads). */
static void kernel_print_mmap(void)
{
	static const char *const names[] = { "reserved", "loader code", "loader data", "bs code", "bs data",
		"runtime code", "runtime data", "conventional", "unusable", "acpi reclaim", "acpi nvs",
		"mmio", "mmio port", "pal code", "persistent" };
	uint64_t pages[ARRAY_SIZE(names) + 1] = { 0 };
	size_t n = kernel_bootinfo.mmap_size / kernel_bootinfo.mmap_desc_size;
	for (size_t i = 0; i < n; i++) {
		const struct efi_memory_descriptor *d = efi_desc(kernel_mmap, kernel_bootinfo.mmap_desc_size, i);
		uint64_t *p = &pages[d->type < ARRAY_SIZE(names) ? d->type : ARRAY_SIZE(names)];
		*p = d->num_pages > UINT64_MAX - *p ? UINT64_MAX : *p + d->num_pages;
	}
	if (kernel_cmdline.opts.mmapdump)
		for (size_t i = 0; i < n; i++) {
			const struct efi_memory_descriptor *d = efi_desc(kernel_mmap, kernel_bootinfo.mmap_desc_size, i);
			bool wraps = d->num_pages > (UINT64_MAX - d->phys_start) >> PAGE_SHIFT;
			kprintf("  %2u %016llx-%016llx attr %llx%s\n", d->type, (unsigned long long)d->phys_start,
				(unsigned long long)(wraps ? UINT64_MAX : d->phys_start + (d->num_pages << PAGE_SHIFT)),
				(unsigned long long)d->attribute, wraps ? " (its page count runs past 2^64 bytes)" : "");
		}
	kprintf("memory map: %zu descriptors of %llu bytes\n", n, (unsigned long long)kernel_bootinfo.mmap_desc_size);
	for (size_t t = 0; t <= ARRAY_SIZE(names); t++)
		if (pages[t])
			kprintf("  %-14s %8llu KiB%s\n", t < ARRAY_SIZE(names) ? names[t] : "other/kernel",
				(unsigned long long)(pages[t] > UINT64_MAX / 4 ? UINT64_MAX : pages[t] * 4),
				pages[t] > UINT64_MAX / 4 ? " (or more: the map's page counts overflow)" : "");
}

/* One line about the physical allocator; its full dump (free extents, census) with mmapdump=1. */
static void kernel_print_phys(void)
{
	struct phys_stats s;

	if (kernel_cmdline.opts.mmapdump) {
		phys_dump();
		return;
	}
	phys_get_stats(&s);
	kprintf("phys: %llu usable pages (%llu MiB), %llu free, %llu allocated, %llu metadata; frames up to 0x%llx\n",
		(unsigned long long)s.usable_pages, (unsigned long long)(s.usable_pages >> 8),
		(unsigned long long)s.free_pages, (unsigned long long)s.allocated_pages,
		(unsigned long long)s.meta_pages, (unsigned long long)s.highest_pfn);
}

void kmain(paddr_t bootinfo_pa)
{
	tsc_at_kmain = tsc_read();
	percpu_init_boot();   /* first: locks count interrupt sections per CPU through it */
	serial_init();
	cpu_detect();
	gdt_init_cpu(&percpu_boot);
	trap_set_handlers(kernel_page_fault, panic_trap);
	idt_init();
	cpu_init_control_state();
	kernel_take_bootinfo(bootinfo_pa);
	kernel_parse_cmdline();
	kernel_take_mmap();   /* after the command line: a map it refuses ends the boot as onexit= says */
	crashtest_run_early();
	static char shown[4 * CMDLINE_TEXT_MAX + 1];
	cmdline_text_format(&kernel_cmdline, shown, sizeof(shown));
	kprintf("\nrmkernel: booting; cmdline \"%s\"\n", shown);
	kernel_cmdline_report(serial_write);
	kernel_mmap_cut_report(serial_write);
	cpu_print_features();
	kernel_print_mmap();

	if (kernel_cmdline.opts.verifier) {
		mm_verifier_set(true);
		kprintf("verifier: on (checks after every operation, free-page patterns, guard pages)\n");
	}
	/* the framebuffer's bytes the console draws in are never handed out, even if the map lists
	 * them as usable RAM (a firmware bug phys_init_except reports) */
	if (phys_init_except(kernel_mmap, kernel_bootinfo.mmap_size, kernel_bootinfo.mmap_desc_size,
			     kernel_bootinfo.fb.base, bootinfo_fb_bytes(&kernel_bootinfo.fb)))
		kpanic("cannot build the physical allocator from the memory map");
	smpinit_register();         /* the bring-up's memory services: phys_alloc, kernel_pt */
	smp_reserve_trampoline();   /* before anything else can take the pages below 1 MiB */
	vm_init(&kernel_bootinfo);
	/* The loader's mapping is gone: until the console takes over below, a fatal report (a memory
	 * map phys_release_loader cannot take, crashtest=reclaim) draws through the kernel's own. */
	panic_set_early_screen(vm_fb_virt ? &kernel_bootinfo.fb : NULL, (void *)vm_fb_virt);
	if (kernel_cmdline.opts.ptdump)
		pt_dump(&kernel_pt);
	phys_release_loader();
	crashtest_run_reclaim();
	smp_reserve_trampoline();   /* again, in case every low page was the loader's */
	if (vm_fb_virt)
		fbcon_init(&kernel_bootinfo.fb, (void *)vm_fb_virt);
	panic_set_early_screen(NULL, NULL);   /* the console has the screen from here, or nothing can draw on it */
	if (vm_fb_virt && !fbcon_active())
		kprintf("screen: framebuffer %ux%u, %u pixels per line, format %u (masks %x %x %x %x) not drawable; "
			"serial only\n", kernel_bootinfo.fb.width, kernel_bootinfo.fb.height, kernel_bootinfo.fb.pitch,
			kernel_bootinfo.fb.format, kernel_bootinfo.fb.mask_red, kernel_bootinfo.fb.mask_green,
			kernel_bootinfo.fb.mask_blue, kernel_bootinfo.fb.mask_reserved);
	if (fbcon_active()) {
		kernel_cmdline_screen_bytes = kernel_cmdline_report(fbcon_write);
		kernel_mmap_cut_screen_bytes = kernel_mmap_cut_report(fbcon_write);
	}
	kprintf("rmkernel: own page tables live (%llu table pages); loader memory reclaimed\n",
		(unsigned long long)kernel_pt.table_pages);
	vm_report_cpu_limits();   /* after fbcon_init: on the screen too */
	kernel_print_phys();
	if (!crashtest_unsealed())   /* crashtest=unsealed: mm_init's assertion must end the boot */
		sysinfo_acpi_premap();   /* the direct map's last pages (ACPI tables), then sealed: mm_init asserts it */
	mm_init();
	sysinfo_init_clock();
	smpinit_start_cpus();
	smp_enable_interrupts();   /* the boot CPU takes calls by IPI, as the others do */

	crashtest_run();
	ktest_run_all(kernel_cmdline.opts.ktest);
	vm_report_cpu_limits();   /* again after the suite's scroll; the summary's CPU row repeats it */
	bool passed = summary_show();
	passed = summary_finish(passed);
	kprintf(passed ? "SELF-TEST PASSED\n" : "SELF-TEST FAILED\n");
	kernel_finish(passed);
}
