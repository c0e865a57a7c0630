/* The kernel side of the mm/ seam (include/arch_mm.h). */
#include "arch_mm.h"
#include "arch_pte.h"
#include "kassert.h"
#include "vmlayout.h"
#include "x86.h"
#include "cpu.h"
#include "mtrr.h"
#include "physwidth.h"
#include "percpu.h"
#include "smp.h"
#include "kassert.h"

void *arch_phys_to_virt(paddr_t pa) { return (void *)(DMAP_BASE + pa); }

/* arch_cpu_index (inline, arch/x86_64/include/arch_cpu_impl.h) reads the index at this offset. */
STATIC_ASSERT(__builtin_offsetof(struct percpu, index) == ARCH_PERCPU_INDEX_OFFSET, "arch_cpu_index reads struct percpu's index");

/* The page-table format (arch_pte_impl.h) selects memory types by PAT index; the PAT the kernel
 * programs (x86.h) must hold those types at those indices. */
#define PAT_ENTRY(i) ((PAT_VALUE >> (8 * (i))) & 0xff)
STATIC_ASSERT(PAT_ENTRY(X86_PAT_INDEX_WB) == PAT_MT_WB && PAT_ENTRY(X86_PAT_INDEX_WT) == PAT_MT_WT &&
	      PAT_ENTRY(X86_PAT_INDEX_UCM) == PAT_MT_UCM && PAT_ENTRY(X86_PAT_INDEX_UC) == PAT_MT_UC &&
	      PAT_ENTRY(X86_PAT_INDEX_WC) == PAT_MT_WC && PAT_ENTRY(5) == PAT_MT_WT && PAT_ENTRY(6) == PAT_MT_UCM &&
	      PAT_ENTRY(7) == PAT_MT_UC, "the PAT programming and the PTE format's PAT indices agree");

void arch_cr3_load(paddr_t pml4_pa) { write_cr3(pml4_pa); }
paddr_t arch_cr3_read(void) { return read_cr3() & ~PAGE_MASK; }

uint64_t arch_irq_save(void)
{
	uint64_t f = read_rflags();
	cli();
	this_cpu()->irq_depth++;
	return f;
}

/* Closes the innermost arch_irq_save section; interrupts come back on only with the outermost. */
void arch_irq_restore(uint64_t flags)
{
	struct percpu *pc = this_cpu();

	KASSERT(pc->irq_depth > 0, "arch_irq_restore on CPU %u without an open arch_irq_save", pc->index);
	pc->irq_depth--;
	KASSERT(!(flags & RFLAGS_IF) || pc->irq_depth == 0,
		"CPU %u enables interrupts with %u arch_irq_save sections still open (restored out of order)",
		pc->index, pc->irq_depth);
	if (flags & RFLAGS_IF)
		sti();
}

/* The usable physical width cpu.c reads at boot (include/physwidth.h: CPUID's MAXPHYADDR, 36 when
 * the leaf is missing, less the bits memory encryption takes when on), kept in 32..52. */
unsigned arch_phys_addr_bits(void)
{
	return physwidth_usable(cpu_feat.max_phys_bits);
}

/* Whether the boot CPU's MTRRs let no variable range split a 2 MiB span (mtrr_spans_coarse): 0 not
 * yet known, 1 yes, 2 no. Computed on first use, after boot recorded the MTRRs, which never change
 * after; any CPU may compute it, all get the same value, so relaxed atomics suffice. */
static uint8_t arch_span_coarse;

/* The boot CPU's MTRRs, which every CPU carries (cpu_init_control_state); a 2 MiB span from 1 MiB
 * up is answered without the loop over the variable ranges when none of them can split one, as
 * on most PCs (each map of a 2 MiB leaf asks). */
bool arch_phys_span_uniform(paddr_t pa, uint64_t bytes)
{
	const struct cpu_mtrrs *m = cpu_mtrr_boot();
	if (bytes == SIZE_2M && pa >= MTRR_FIXED_END) {
		uint8_t c = __atomic_load_n(&arch_span_coarse, __ATOMIC_RELAXED);
		if (!c) {
			c = mtrr_spans_coarse(m, SIZE_2M, arch_phys_addr_bits()) ? 1 : 2;
			__atomic_store_n(&arch_span_coarse, c, __ATOMIC_RELAXED);
		}
		if (c == 1)
			return true;
	}
	return mtrr_span_uniform(m, pa, bytes, arch_phys_addr_bits());
}

/* Walks the direct map's tables from CR3 (every CPU runs on the kernel's tables, vm_init's) down to
 * the entry over pa: present or not, a leaf or a not-present entry ends the walk, and its level's
 * size is the block the answer holds for. Each entry is read once, atomically. After vm_init the
 * direct map grows only by the ACPI tables' pages in firmware-reserved memory, added write-back by
 * the premap before mm_init, and is then sealed (kernel/sysinfo.c): from mm_init on it neither
 * gains nor loses a page, so an answer never goes stale. Past its end nothing is in it. */
bool arch_phys_direct_mapped(paddr_t pa, uint64_t *extent)
{
	if (pa >= DMAP_SIZE) {
		*extent = PAGE_SIZE;
		return false;
	}
	vaddr_t va = DMAP_BASE + pa;
	paddr_t table = arch_cr3_read();
	for (int level = ARCH_PT_LEVELS;; level--) {
		const volatile pte_t *t = arch_phys_to_virt(table);
		pte_t e = arch_pte_read(&t[(va >> arch_pt_level_shift(level)) & (ARCH_PT_ENTRIES - 1)]);
		if (!arch_pte_present(e) || arch_pte_is_leaf(e, level)) {
			*extent = 1ULL << arch_pt_level_shift(level);
			return arch_pte_present(e);
		}
		table = arch_pte_frame(e, level);
	}
}

bool arch_irqs_enabled(void) { return read_rflags() & RFLAGS_IF; }
unsigned arch_irq_depth(void) { return this_cpu()->irq_depth; }
bool arch_in_interrupt(void) { return this_cpu()->irq_nesting != 0; }

arch_cpumask_t arch_cpus_online(void) { return smp_online_mask(); }
void arch_cpu_call(arch_cpumask_t mask, void (*fn)(void *arg), void *arg) { smp_call_many(mask, fn, arg); }
void arch_cpu_poll(void) { smp_poll(); }

void arch_cpu_relax(void) { __asm__ volatile("pause"); }
