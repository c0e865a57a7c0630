/* The kernel's side of the CPU bring-up: its services for arch/, and the start (see smpinit.h). */
#include "smpinit.h"
#include "phys.h"
#include "pt.h"
#include "vm.h"
#include "ksyms.h"
#include "kernel.h"
#include "sysinfo.h"
#include "kprintf.h"

_Static_assert(SMP_MAX_CPUS == CMDLINE_MAXCPUS_MAX, "maxcpus= covers exactly the CPUs the kernel can run");

/* smp_ops.alloc: the lowest free run inside [above, below), from the second frame up (0 is the
 * failure). */
static paddr_t smpinit_alloc(uint64_t pages, paddr_t above, paddr_t below)
{
	return phys_alloc(pages, above > PAGE_SIZE ? above : PAGE_SIZE, below);
}

/* smp_ops.free: the frames go back to the physical allocator, checked as every free is. */
static void smpinit_free(paddr_t pa, uint64_t pages)
{
	phys_free(pa, pages);
}

/* smp_ops.map: 4 KiB pages in kernel_pt, writable, global, non-executable; 0 or -1. */
static int smpinit_map(vaddr_t va, paddr_t pa, uint64_t size, enum smp_cache cache)
{
	enum pt_cache type = cache == SMP_CACHE_UC ? PT_CACHE_UC : PT_CACHE_WB;

	return pt_map(&kernel_pt, va, pa, size, PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(type), PT_SIZE_4K) == PT_OK
		       ? 0 : -1;
}

/* smp_ops.mapped: whether kernel_pt maps va. */
static bool smpinit_mapped(vaddr_t va)
{
	return pt_query(&kernel_pt, va, NULL, NULL, NULL);
}

/* smp_ops.root: kernel_pt's PML4 (fixed once vm_init switched to it). */
static paddr_t smpinit_root(void)
{
	return kernel_pt.root;
}

const struct smp_ops smpinit_ops = {
	.alloc = smpinit_alloc,
	.free = smpinit_free,
	.map = smpinit_map,
	.mapped = smpinit_mapped,
	.root = smpinit_root,
	.symbol = ksyms_lookup,
};

void smpinit_register(void)
{
	smp_set_ops(&smpinit_ops);
}

/* Reads the DMAR: true when it opts out of x2APIC mode. A DMAR that is there but short or corrupt
 * is ignored (no opt-out) and named; one that is read is described in one line. */
static bool smpinit_dmar_opt_out(void)
{
	struct acpi_dmar_info dmar;
	int st = acpi_read_dmar(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &dmar);

	if (st == ACPI_ENOTABLE)
		return false;
	if (st != ACPI_OK) {
		kprintf("acpi: DMAR ignored (%s): no x2APIC opt-out assumed\n", acpi_strerror(st));
		return false;
	}
	kprintf("acpi: DMAR: host address width %u bits, flags 0x%x%s%s\n", dmar.host_address_width + 1u,
		dmar.flags, dmar.flags & ACPI_DMAR_INTR_REMAP ? " interrupt-remapping" : "",
		dmar.flags & ACPI_DMAR_X2APIC_OPT_OUT ? " x2APIC-opt-out" : "");
	return dmar.flags & ACPI_DMAR_X2APIC_OPT_OUT;
}

void smpinit_start_cpus(void)
{
	static struct acpi_madt_info madt;
	int st = acpi_read_madt(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &madt);

	smp_init(&madt, st, smpinit_dmar_opt_out(), kernel_cmdline.opts.maxcpus);
}
