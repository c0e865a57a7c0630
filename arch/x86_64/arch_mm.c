/* The kernel side of the mm/ seam (include/arch_mm.h). */
#include "arch_mm.h"
#include "vmlayout.h"
#include "x86.h"
#include "cpu.h"

void *arch_phys_to_virt(paddr_t pa) { return (void *)(DMAP_BASE + pa); }



void arch_tlb_flush_page(vaddr_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* Removes every TLB entry including global ones: INVPCID type 2 if present, else a CR4.PGE toggle. */
void arch_tlb_flush_all(void)
{
	if (cpu_feat.invpcid) {
		struct { uint64_t pcid, addr; } desc = { 0, 0 };
		__asm__ volatile("invpcid %0, %1" ::"m"(desc), "r"((uint64_t)2) : "memory");
		return;
	}
	uint64_t flags = arch_irq_save();
	uint64_t cr4 = read_cr4();
	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
	arch_irq_restore(flags);
}

void arch_cr3_load(paddr_t pml4_pa) { write_cr3(pml4_pa); }
paddr_t arch_cr3_read(void) { return read_cr3() & ~PAGE_MASK; }

uint64_t arch_irq_save(void)
{
	uint64_t f = read_rflags();
	cli();
	return f;
}

void arch_irq_restore(uint64_t flags)
{
	if (flags & RFLAGS_IF)
		sti();
}

/* CPUID's MAXPHYADDR (cpu.c reads it at boot; 36 when the leaf is missing), kept in 32..52. */
unsigned arch_phys_addr_bits(void)
{
	return MIN(MAX(cpu_feat.max_phys_bits, 32u), 52u);
}

void arch_cpu_relax(void) { __asm__ volatile("pause"); }

/* The boot CPU: the only one running until the other CPUs are brought up. */
unsigned arch_cpu_index(void) { return 0; }
