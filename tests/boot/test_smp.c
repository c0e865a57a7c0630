/*
 * Boot self-tests of the CPUs (arch/x86_64/smp.c, apic.c, percpu.c): every CPU the MADT lists
 * started, each in the boot CPU's control state with its own GDT, TSS, IST stacks and GS base;
 * fixed-vector IPIs and NMIs reach exactly the CPUs sent to; calls run once on each target, also
 * on a target busy with interrupts enabled and between CPUs that call each other with interrupts
 * disabled; the interrupt state is per CPU; a CPU that does not answer, or stalls in its setup,
 * is reported, parked and skipped, and a parked CPU starts again; a CPU running the trampoline
 * late takes nothing of the CPU its data block names; a joining CPU flushes what it cached before
 * its join; a CPU that stops itself for good is waited for by no call or shootdown. Tests that
 * need a second CPU skip on a machine with one.
 */
#include "ktest.h"
#include "x86.h"
#include "cpu.h"
#include "smp.h"
#include "smp_plan.h"
#include "tlb.h"
#include "apic.h"
#include "percpu.h"
#include "tsc.h"
#include "pt.h"
#include "vm.h"
#include "phys.h"
#include "vmlayout.h"
#include "arch_mm.h"
#include "kernel.h"
#include "kstring.h"
#include "sysinfo.h"
#include "smpinit.h"
#include "spinlock.h"

#define TEST_WAIT_US 2000000             /* bound on every wait for another CPU in these tests */
#define TEST_START_WAIT_US 50000         /* a start a test expects to fail waits this long */
#define TEST_NO_APIC_ID 0xFFFFFFFEu       /* an apic_id_seen no start writes in these tests */

extern const uint8_t smp_tramp_start[], smp_tramp_data[];
extern char boot_stack_guard[];

/* Spins (interrupts as they are) until *p reaches want or TEST_WAIT_US pass; true when it did. */
static bool test_wait_for(volatile uint64_t *p, uint64_t want)
{
	uint64_t end = rdtsc() + tsc_us_to_ticks(TEST_WAIT_US);
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < want)
		if (rdtsc() > end)
			return false;
		else
			arch_cpu_relax();
	return true;
}

/* The online CPUs other than the boot CPU. */
static cpumask_t test_aps(void) { return cpumask_without(smp_online_mask(), 0); }

/* Opens a window with interrupts enabled on this CPU until *p reaches want (bounded), then puts the
 * interrupt flag back as it was. */
static void test_irq_window_until(volatile uint64_t *p, uint64_t want)
{
	uint64_t end = rdtsc() + tsc_us_to_ticks(TEST_WAIT_US);
	bool was = arch_irqs_enabled();

	sti();
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < want && rdtsc() < end)
		arch_cpu_relax();
	if (!was)
		cli();
}

/* ---------------------------------------------------------------- bring-up */

KTEST(smp_every_cpu_found_is_online)
{
	unsigned want = MIN(smp_cpus_found(), (unsigned)kernel_cmdline.opts.maxcpus);
	cpumask_t online = smp_online_mask();

	KEXPECT_EQ(smp_cpu_count(), want, "every CPU the MADT lists, up to maxcpus=");
	KEXPECT(cpumask_has(online, 0), "the boot CPU is online");
	KEXPECT_EQ(smp_self(), 0, "tests run on the boot CPU");
	cpumask_for_each(i, online) {
		struct percpu *pc = percpu_of[i];
		KASSERT_TEST(pc, "CPU %u online without per-CPU data", i);
		KEXPECT(pc->self == pc && pc->index == i && pc->state == PERCPU_ONLINE, "CPU %u's data", i);
		cpumask_for_each_from(c, online, i + 1)
			KEXPECT(percpu_of[c]->apic_id != pc->apic_id, "two CPUs with APIC id %u", pc->apic_id);
	}
	if (apic_ready())
		KEXPECT_EQ(percpu_boot.apic_id, apic_id());
}

/* Without a MADT nothing starts and nothing changes: the boot CPU runs alone, with a message. */
KTEST(smp_init_without_a_madt_starts_nothing)
{
	cpumask_t online = smp_online_mask();
	unsigned found = smp_cpus_found(), apic = percpu_boot.apic_id;

	smp_init(NULL, ACPI_EBADTABLE, false, SMP_MAX_CPUS);
	smp_init(NULL, ACPI_ENORSDP, true, 1);
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs unchanged");
	KEXPECT_EQ(smp_cpus_found(), found);
	KEXPECT_EQ(percpu_boot.apic_id, apic);
}

KTEST(smp_trampoline_page_kept_below_1m)
{
	paddr_t pa = smp_trampoline_page();
	size_t code = (size_t)(smp_tramp_data - smp_tramp_start);

	KASSERT_TEST(pa && pa < 0x100000 && IS_ALIGNED(pa, PAGE_SIZE), "trampoline page 0x%llx", (unsigned long long)pa);
	KEXPECT_EQ(apic_sipi_vector(pa), pa >> PAGE_SHIFT);
	/* Above the first 64 KiB and below the EBDA's cap, where firmware does not write, whenever the
	 * map has a page free there (OVMF's does, and lists 0x1000 usable as well). */
	if (!smp_trampoline_page_unsafe())
		KEXPECT(pa >= 0x10000 && pa < 0x9F000, "trampoline page 0x%llx in [0x10000, 0x9F000)",
			(unsigned long long)pa);
	else
		for (paddr_t at = 0x10000; at < 0x9F000; at += PAGE_SIZE)
			KEXPECT(!phys_is_free(at, 1), "page 0x%llx free: the unsafe page taken while a safe one was",
				(unsigned long long)at);
	KEXPECT(phys_is_managed(pa) && !phys_is_free(pa, 1), "the allocator holds the page back");
	KEXPECT(!memcmp(arch_phys_to_virt(pa), smp_tramp_start, code), "the trampoline's code is intact");
}

/* The xAPIC page: uncached, non-executable, writable, at LAPIC_VA and nowhere in the direct map. */
KTEST(smp_lapic_page_uncached_nx_outside_direct_map)
{
	paddr_t pa = 0;
	uint64_t pte = 0, size = 0;

	if (!apic_ready())
		KTEST_SKIP("no local APIC in use");
	if (apic_x2apic()) {
		KEXPECT(!pt_query(&kernel_pt, LAPIC_VA, NULL, NULL, NULL), "x2APIC mode maps no register page");
		return;
	}
	KASSERT_TEST(pt_query(&kernel_pt, LAPIC_VA, &pa, &pte, &size), "LAPIC_VA not mapped");
	KEXPECT_EQ(pa, apic_mmio_phys());
	KEXPECT_EQ(size, PAGE_SIZE);
	KEXPECT_EQ(arch_pte_cache(pte, 1, kernel_pt.features), PT_CACHE_UC);
	KEXPECT(pte & X86_PTE_W);
	KEXPECT(!(pte & X86_PTE_U));
	KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx, "non-executable wherever the CPU can say so");
	KEXPECT(!pt_query(&kernel_pt, DMAP_BASE + pa, NULL, NULL, NULL), "the direct map does not cover it");
}

/* ---------------------------------------------------------------- the kernel's services */

#define TEST_OPS_VA (FB_BASE + FB_MAX_SIZE - 2 * SIZE_2M)   /* unused top of the framebuffer window */
#define TEST_OPS_ALLOCS 400

/* A xorshift64 step: the generated cases below. */
static uint64_t test_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The limit of a generated allocation: an edge (frame 0 and 1, 1 MiB, 4 GiB, none) or any address
 * up to past the highest frame, page-aligned or not. */
static paddr_t test_below(uint64_t *x, uint64_t highest)
{
	static const paddr_t edges[] = { 0, 1, PAGE_SIZE, PAGE_SIZE + 1, 2 * PAGE_SIZE, 0x100000, 0x100000000ULL,
					 UINT64_MAX };
	uint64_t r = test_next(x);

	if (r % 4 == 0)
		return edges[(r >> 8) % ARRAY_SIZE(edges)];
	return (r >> 2) % (highest + highest / 8 + 1);
}

/* A run of pages frames sought in [max(4 KiB, above), below), against the free extents. */
struct test_run {
	uint64_t pages;
	paddr_t above, below;
	bool exists;
};

/* The first byte a run sought from above may start at: above's page rounded up, at least the
 * second frame (UINT64_MAX when it rounds past the top). */
static paddr_t test_run_floor(paddr_t above)
{
	if (above > UINT64_MAX - PAGE_SIZE)
		return UINT64_MAX;
	return MAX(ALIGN_UP(above, PAGE_SIZE), (paddr_t)PAGE_SIZE);
}

/* phys_for_each_free callback: whether this free extent holds the run sought. */
static void test_run_fits(paddr_t pa, uint64_t npages, void *arg)
{
	struct test_run *r = arg;
	paddr_t lo = MAX(pa, test_run_floor(r->above)), hi = MIN(pa + npages * PAGE_SIZE, ALIGN_DOWN(r->below, PAGE_SIZE));

	if (hi > lo && (hi - lo) >> PAGE_SHIFT >= r->pages)
		r->exists = true;
}

/* smpinit_ops.alloc over generated (pages, above, below): every run it gives lies in [4 KiB,
 * below) and from above up, and is the allocator's, and free gives it back; it gives 0 exactly when
 * the free extents hold no such run. */
KTEST(smp_kernel_alloc_keeps_below_its_limit)
{
	struct phys_stats before, after;
	uint64_t x = 0x9e3779b97f4a7c15ULL, got = 0;

	phys_get_stats(&before);
	for (int i = 0; i < TEST_OPS_ALLOCS; i++) {
		uint64_t pages = 1 + test_next(&x) % 16;
		paddr_t below = test_below(&x, before.highest_pfn << PAGE_SHIFT);
		paddr_t above = test_next(&x) % 2 ? 0 : test_below(&x, below);
		paddr_t pa = smpinit_ops.alloc(pages, above, below);
		if (!pa) {
			struct test_run run = { pages, above, below, false };
			phys_for_each_free(test_run_fits, &run);
			KEXPECT(!run.exists, "0 for %llu pages in [0x%llx, 0x%llx), and a free run has them",
				(unsigned long long)pages, (unsigned long long)above, (unsigned long long)below);
			continue;
		}
		got++;
		KEXPECT(IS_ALIGNED(pa, PAGE_SIZE) && pa >= test_run_floor(above) && pa + pages * PAGE_SIZE <= below,
			"%llu pages at 0x%llx in [0x%llx, 0x%llx)", (unsigned long long)pages, (unsigned long long)pa,
			(unsigned long long)above, (unsigned long long)below);
		KEXPECT(phys_is_managed(pa) && !phys_is_free(pa, pages), "0x%llx is the allocator's", (unsigned long long)pa);
		smpinit_ops.free(pa, pages);
		KEXPECT(phys_is_free(pa, pages), "0x%llx back", (unsigned long long)pa);
	}
	KEXPECT_EQ(smpinit_ops.alloc(1, 0, PAGE_SIZE), 0, "no frame below the second");
	KEXPECT_EQ(smpinit_ops.alloc(1, 0, 0), 0);
	KEXPECT_EQ(smpinit_ops.alloc(1, UINT64_MAX - 1, UINT64_MAX), 0, "no frame from the top page up");
	KEXPECT(got > TEST_OPS_ALLOCS / 4, "only %llu of %d runs given", (unsigned long long)got, TEST_OPS_ALLOCS);
	phys_get_stats(&after);
	KEXPECT_EQ(after.free_pages, before.free_pages);
}

/* smpinit_ops.map: 4 KiB pages of the type asked, writable, global, NX where the CPU has it; a
 * range partly mapped already is refused with nothing mapped; mapped agrees with the tables. */
KTEST(smp_kernel_map_gives_the_attributes_asked)
{
	paddr_t pa = smpinit_ops.alloc(2, 0, UINT64_MAX), got = 0;
	uint64_t pte = 0, size = 0;
	static const enum smp_cache types[] = { SMP_CACHE_WB, SMP_CACHE_UC };
	static const enum pt_cache want[] = { PT_CACHE_WB, PT_CACHE_UC };

	KASSERT_TEST(pa, "no memory");
	KASSERT_TEST(!smpinit_ops.mapped(TEST_OPS_VA) && !smpinit_ops.mapped(TEST_OPS_VA + PAGE_SIZE), "scratch VA in use");
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		KEXPECT_EQ(smpinit_ops.map(TEST_OPS_VA, pa, 2 * PAGE_SIZE, types[i]), 0);
		KEXPECT(smpinit_ops.mapped(TEST_OPS_VA) && smpinit_ops.mapped(TEST_OPS_VA + PAGE_SIZE));
		KEXPECT(pt_query(&kernel_pt, TEST_OPS_VA + PAGE_SIZE, &got, &pte, &size));
		KEXPECT(got == pa + PAGE_SIZE && size == PAGE_SIZE, "0x%llx, %llu bytes", (unsigned long long)got,
			(unsigned long long)size);
		KEXPECT_EQ(arch_pte_cache(pte, 1, kernel_pt.features), want[i]);
		KEXPECT((pte & X86_PTE_W) && (pte & X86_PTE_G) && !(pte & X86_PTE_U), "pte 0x%llx", (unsigned long long)pte);
		KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx);
		KEXPECT_EQ(pt_unmap(&kernel_pt, TEST_OPS_VA, 2 * PAGE_SIZE), PT_OK);
	}
	KEXPECT_EQ(smpinit_ops.map(TEST_OPS_VA + PAGE_SIZE, pa, PAGE_SIZE, SMP_CACHE_WB), 0);
	KEXPECT_EQ(smpinit_ops.map(TEST_OPS_VA, pa, 2 * PAGE_SIZE, SMP_CACHE_UC), -1, "over a mapped page");
	KEXPECT(!smpinit_ops.mapped(TEST_OPS_VA), "a refused map leaves nothing");
	KEXPECT_EQ(pt_unmap(&kernel_pt, TEST_OPS_VA, 2 * PAGE_SIZE), PT_OK);
	KEXPECT(!smpinit_ops.mapped(TEST_OPS_VA + PAGE_SIZE));
	smpinit_ops.free(pa, 2);
}

/* smpinit_ops.root is the table every CPU runs on; symbol names a function and the offset in it. */
KTEST(smp_kernel_root_and_symbols)
{
	uint64_t off = 0;
	const char *name = smpinit_ops.symbol((uint64_t)smpinit_register + 3, &off);
	static const char want[] = "smpinit_register";

	KEXPECT_EQ(smpinit_ops.root(), kernel_pt.root);
	KEXPECT_EQ(smpinit_ops.root(), arch_cr3_read());
	KASSERT_TEST(name, "no symbol for smpinit_register");
	KEXPECT(!memcmp(name, want, sizeof(want)) && off == 3, "%s+0x%llx", name, (unsigned long long)off);
	KEXPECT(!smpinit_ops.symbol(0, &off), "address 0 is no function");
}

/* ---------------------------------------------------------------- per-CPU state */

struct test_ctl {
	uint64_t cr0, cr4, efer, pat, cr3, s_cet, dr7;
	struct cpu_mtrrs mtrr;
	uint64_t runs;
};
static struct test_ctl test_ctl[SMP_MAX_CPUS];

/* Records this CPU's control registers, PAT and MTRRs. */
static void test_snap_ctl(void *arg)
{
	struct test_ctl *c = &test_ctl[this_cpu()->index];

	(void)arg;
	c->cr0 = read_cr0();
	c->cr4 = read_cr4();
	c->efer = rdmsr(MSR_EFER);
	c->pat = cpu_feat.pat ? rdmsr(MSR_PAT) : 0;
	c->s_cet = cpu_feat.cet ? rdmsr(MSR_S_CET) : 0;
	c->dr7 = read_dr7();
	c->cr3 = read_cr3();
	cpu_mtrr_read(&c->mtrr);
	c->runs++;
}

/* CR0, CR4, EFER, the PAT MSR and CR3 of every CPU equal the boot CPU's and the kernel's values (so
 * CR4.CET is clear everywhere), and IA32_S_CET is 0 where it exists (QEMU's TCG has no CET: there only
 * CR4 is checked; test_arch_cpuid clears a firmware's), and DR7 enables no breakpoint; the MTRRs (the firmware's) agree too, or the
 * same PTE would mean different memory types. */
KTEST(smp_control_state_same_on_every_cpu)
{
	cpumask_t online = smp_online_mask();

	memset(test_ctl, 0, sizeof(test_ctl));
	smp_call_many(online, test_snap_ctl, NULL);
	const struct test_ctl *b = &test_ctl[0];
	KEXPECT_EQ(b->cr0, cpu_cr0_value());
	KEXPECT_EQ(b->cr4, cpu_cr4_value());
	KEXPECT_EQ(b->efer, cpu_efer_value());
	KEXPECT_EQ(b->cr3 & ~PAGE_MASK, kernel_pt.root);
	if (cpu_feat.pat)
		KEXPECT_EQ(b->pat, PAT_VALUE);
	KEXPECT(!memcmp(&b->mtrr, cpu_mtrr_boot(), sizeof(b->mtrr)), "the boot CPU's MTRRs are the ones recorded at boot");
	KEXPECT(!cpu_feat.mtrr || (b->mtrr.def_type & MTRR_DEF_E), "the firmware enabled the MTRRs");
	cpumask_for_each(i, online) {
		const struct test_ctl *c = &test_ctl[i];
		KEXPECT_EQ(c->runs, 1, "each CPU snapshot once");
		KEXPECT(c->cr0 == b->cr0, "CPU %u CR0 0x%llx, boot CPU 0x%llx", i, (unsigned long long)c->cr0,
			(unsigned long long)b->cr0);
		KEXPECT(c->cr4 == b->cr4, "CPU %u CR4 0x%llx, boot CPU 0x%llx", i, (unsigned long long)c->cr4,
			(unsigned long long)b->cr4);
		KEXPECT(c->efer == b->efer, "CPU %u EFER 0x%llx, boot CPU 0x%llx", i, (unsigned long long)c->efer,
			(unsigned long long)b->efer);
		KEXPECT(c->pat == b->pat, "CPU %u PAT 0x%llx, boot CPU 0x%llx", i, (unsigned long long)c->pat,
			(unsigned long long)b->pat);
		KEXPECT(c->cr3 == b->cr3, "CPU %u CR3 0x%llx, boot CPU 0x%llx", i, (unsigned long long)c->cr3,
			(unsigned long long)b->cr3);
		KEXPECT(!(c->cr4 & CR4_CET) && c->s_cet == 0, "CPU %u: CET on (CR4 0x%llx, IA32_S_CET 0x%llx)", i,
			(unsigned long long)c->cr4, (unsigned long long)c->s_cet);
		KEXPECT(!(c->dr7 & DR7_ENABLES), "CPU %u: DR7 0x%llx enables a breakpoint", i, (unsigned long long)c->dr7);
		KEXPECT(c->mtrr.def_type == b->mtrr.def_type, "CPU %u MTRRdefType 0x%llx, boot CPU 0x%llx", i,
			(unsigned long long)c->mtrr.def_type, (unsigned long long)b->mtrr.def_type);
		KEXPECT(!memcmp(&c->mtrr, &b->mtrr, sizeof(c->mtrr)), "CPU %u MTRRs differ from the boot CPU's", i);
	}
}

struct test_tabs {
	uint64_t gs_base, gdt_base, idt_base, rsp, apic_id;
	uint16_t tr, cs, gdt_limit;
	bool irqs, in_irq;
	unsigned depth;
};
static struct test_tabs test_tabs[SMP_MAX_CPUS];

/* Records this CPU's GS base, GDT, IDT, task register, stack and APIC id. */
static void test_snap_tables(void *arg)
{
	struct test_tabs *t = &test_tabs[this_cpu()->index];
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) g, d;
	volatile uint64_t here = 0;

	(void)arg;
	__asm__ volatile("sgdt %0" : "=m"(g));
	__asm__ volatile("sidt %0" : "=m"(d));
	__asm__ volatile("str %0" : "=r"(t->tr));
	__asm__ volatile("mov %%cs, %0" : "=r"(t->cs));
	t->gdt_base = g.base;
	t->gdt_limit = g.limit;
	t->idt_base = d.base;
	t->gs_base = rdmsr(MSR_GS_BASE);
	t->rsp = (uint64_t)&here;
	t->apic_id = apic_ready() ? apic_id() : percpu_boot.apic_id;
	t->irqs = arch_irqs_enabled();
	t->in_irq = arch_in_interrupt();
	t->depth = arch_irq_depth();
}

/* Each CPU: GS at its own struct percpu, its own GDT and TSS with its own IST stacks (mapped above
 * an unmapped guard), the shared IDT, running on its own kernel stack, with the APIC id it was
 * started as. */
KTEST(smp_percpu_gs_gdt_tss_and_stacks_are_each_cpus_own)
{
	cpumask_t online = smp_online_mask();

	memset(test_tabs, 0, sizeof(test_tabs));
	smp_call_many(online, test_snap_tables, NULL);
	cpumask_for_each(i, online) {
		struct percpu *pc = percpu_of[i];
		const struct test_tabs *t = &test_tabs[i];
		KEXPECT(t->gs_base == (uint64_t)pc, "CPU %u GS base 0x%llx", i, (unsigned long long)t->gs_base);
		KEXPECT(t->gdt_base == (uint64_t)pc->gdt && t->gdt_limit == sizeof(pc->gdt) - 1, "CPU %u GDT", i);
		KEXPECT(t->tr == GDT_TSS && t->cs == GDT_KCODE, "CPU %u TR 0x%x CS 0x%x", i, t->tr, t->cs);
		KEXPECT(t->idt_base == test_tabs[0].idt_base, "CPU %u IDT is the shared one", i);
		KEXPECT(t->rsp >= pc->stack_bottom && t->rsp < pc->stack_top, "CPU %u runs on its own stack (0x%llx)", i,
			(unsigned long long)t->rsp);
		KEXPECT_EQ(t->apic_id, pc->apic_id);
		for (int k = 0; k < PERCPU_IST_COUNT; k++) {
			KEXPECT(pc->tss.ist[k] == pc->ist_top[k], "CPU %u IST%d in its TSS", i, k + 1);
			cpumask_for_each_from(c, online, i + 1)
				KEXPECT(percpu_of[c]->ist_top[k] != pc->ist_top[k], "two CPUs share IST%d", k + 1);
		}
		if (i == 0) {
			KEXPECT(!pt_query(&kernel_pt, (vaddr_t)boot_stack_guard, NULL, NULL, NULL), "boot stack guard");
		} else {
			uint64_t pte = 0;
			KEXPECT(!pt_query(&kernel_pt, pc->stack_bottom - PAGE_SIZE, NULL, NULL, NULL), "CPU %u stack guard", i);
			KEXPECT(pt_query(&kernel_pt, pc->stack_bottom, NULL, &pte, NULL) && (pte & X86_PTE_W) &&
				!!(pte & X86_PTE_NX) == cpu_feat.nx, "CPU %u stack mapped writable, non-executable", i);
		}
		/* the boot CPU's IST stacks in the image (percpu_boot_ist), an AP's in its slot: alike */
		for (int k = 0; k < PERCPU_IST_COUNT; k++)
			KEXPECT(!pt_query(&kernel_pt, pc->ist_top[k] - PERCPU_IST_SIZE - PAGE_SIZE, NULL, NULL, NULL) &&
				pt_query(&kernel_pt, pc->ist_top[k] - PERCPU_IST_SIZE, NULL, NULL, NULL),
				"CPU %u IST%d: stack mapped above an unmapped guard", i, k + 1);
	}
}

/* An NMI sent to each CPU in turn lands on that CPU's own NMI stack (its TSS's IST2). */
KTEST(smp_nmi_reaches_each_cpu_on_its_own_ist)
{
	if (!apic_ready())
		KTEST_SKIP("no local APIC in use");
	cpumask_for_each(i, smp_online_mask()) {
		struct percpu *pc = percpu_of[i];
		uint64_t before = pc->nmis, top = pc->ist_top[IST_NMI - 1];
		pc->nmi_expected = 1;
		KEXPECT(smp_send_nmi(cpumask_of(i)) == 0, "NMI to CPU %u sent", i);
		KEXPECT(test_wait_for(&pc->nmis, before + 1), "CPU %u took the NMI", i);
		KEXPECT(pc->nmi_rsp < top && pc->nmi_rsp >= top - PERCPU_IST_SIZE, "CPU %u NMI ran at 0x%llx, its IST at 0x%llx",
			i, (unsigned long long)pc->nmi_rsp, (unsigned long long)top);
		KEXPECT_EQ(pc->nmi_expected, 0);
		pc->nmi_expected = 0;
	}
}

/* ---------------------------------------------------------------- IPIs */

/* Sends SMP_VEC_PING to set and checks that exactly those CPUs took it once (the boot CPU takes its
 * self-IPI as soon as interrupts are on: at once, or in a short window when they are off). */
static void test_ping_set(cpumask_t set)
{
	uint64_t before[SMP_MAX_CPUS];
	cpumask_t online = smp_online_mask();

	cpumask_for_each(c, online)
		before[c] = percpu_of[c]->pings;
	KEXPECT(smp_send_ipi(set, SMP_VEC_PING) == 0, "sends to %u CPUs, the first %u", cpumask_weight(set),
		cpumask_first(set));
	if (cpumask_has(set, 0))
		test_irq_window_until(&percpu_boot.pings, before[0] + 1);
	cpumask_for_each(i, cpumask_and(set, online)) {
		KEXPECT(test_wait_for(&percpu_of[i]->pings, before[i] + 1), "CPU %u took the ping (a set of %u)", i,
			cpumask_weight(set));
	}
	tsc_delay_us(1000);   /* time for a stray ping to land where it must not */
	cpumask_for_each(i, online) {
		KEXPECT(percpu_of[i]->pings == before[i] + cpumask_has(set, i), "CPU %u took %llu pings for a set of %u", i,
			(unsigned long long)(percpu_of[i]->pings - before[i]), cpumask_weight(set));
	}
}

KTEST(smp_fixed_ipi_reaches_exactly_the_cpus_sent_to)
{
	cpumask_t online = smp_online_mask();

	if (!apic_ready())
		KTEST_SKIP("no local APIC in use");
	cpumask_t odd = cpumask_none(), even = cpumask_none();
	cpumask_for_each(c, online) {
		if (c % 2)
			odd = cpumask_with(odd, c);
		else
			even = cpumask_with(even, c);
	}
	test_ping_set(online);
	test_ping_set(cpumask_none());
	cpumask_for_each(c, online)
		test_ping_set(cpumask_of(c));
	test_ping_set(odd);
	test_ping_set(even);
	KEXPECT_EQ(smp_send_ipi(cpumask_andnot(cpumask_all(), online), SMP_VEC_PING), 0,
		   "CPUs not online are left out, not sent to");
}

/* ---------------------------------------------------------------- calls */

static uint64_t test_runs[SMP_MAX_CPUS];
static volatile uint64_t test_slow_done;

/* Counts a run on this CPU, checks the call's context, and takes a while (the caller must wait). */
static void test_count_slow(void *arg)
{
	unsigned i = this_cpu()->index;

	test_runs[i]++;
	test_tabs[i].irqs = arch_irqs_enabled();
	test_tabs[i].depth = arch_irq_depth();
	test_tabs[i].apic_id = (uint64_t)arg;
	tsc_delay_us(2000);
	__atomic_fetch_add(&test_slow_done, 1, __ATOMIC_RELEASE);
}

KTEST(smp_call_runs_once_on_each_target_and_waits)
{
	cpumask_t online = smp_online_mask();
	unsigned n = smp_cpu_count();

	memset(test_runs, 0, sizeof(test_runs));
	test_slow_done = 0;
	smp_call_many(online, test_count_slow, (void *)0x5a);
	KEXPECT_EQ(test_slow_done, n, "returned after every CPU finished");
	cpumask_for_each(i, online) {
		KEXPECT(test_runs[i] == 1, "CPU %u ran the call %llu times", i, (unsigned long long)test_runs[i]);
		KEXPECT(!test_tabs[i].irqs && test_tabs[i].depth >= 1, "CPU %u ran it with interrupts disabled", i);
		KEXPECT_EQ(test_tabs[i].apic_id, 0x5a, "the argument arrived");
	}
	memset(test_runs, 0, sizeof(test_runs));
	smp_call_all(test_count_slow, NULL);
	KEXPECT_EQ(test_runs[0], 0, "smp_call_all leaves the caller out");
	cpumask_for_each(c, test_aps())
		KEXPECT_EQ(test_runs[c], 1);
	cpumask_for_each(i, online) {
		memset(test_runs, 0, sizeof(test_runs));
		KEXPECT_EQ(smp_call(i, test_count_slow, NULL), 0);
		KEXPECT(test_runs[i] == 1 && cpumask_weight(online) == n, "smp_call(%u) ran there", i);
		for (unsigned j = 0; j < SMP_MAX_CPUS; j++)
			KEXPECT(j == i || !test_runs[j], "smp_call(%u) also ran on CPU %u", i, j);
	}
	memset(test_runs, 0, sizeof(test_runs));
	KEXPECT_EQ(smp_call(SMP_MAX_CPUS, test_count_slow, NULL), (uint64_t)-1, "no such index");
	KEXPECT_EQ(smp_call(63, test_count_slow, NULL), cpumask_has(online, 63) ? 0 : (uint64_t)-1, "CPU 63 only when online");
	KEXPECT_EQ(smp_call(64, test_count_slow, NULL), cpumask_has(online, 64) ? 0 : (uint64_t)-1, "CPU 64 only when online");
	KEXPECT_EQ(smp_call(SMP_MAX_CPUS - 1, test_count_slow, NULL), cpumask_has(online, SMP_MAX_CPUS - 1) ? 0 : (uint64_t)-1,
		   "the last index only when online");
	memset(test_runs, 0, sizeof(test_runs));
	smp_call_many(cpumask_andnot(cpumask_all(), online), test_count_slow, NULL);
	for (unsigned j = 0; j < SMP_MAX_CPUS; j++)
		KEXPECT(!test_runs[j], "a mask of offline CPUs ran on CPU %u", j);
}

/* The interrupt state is each CPU's own: the caller's open section neither shows on the targets
 * nor changes while they run theirs. */
KTEST(smp_interrupt_state_is_per_cpu)
{
	cpumask_t online = smp_online_mask();

	bool was = arch_irqs_enabled();
	KEXPECT(was == apic_ready() && arch_irq_depth() == 0 && !arch_in_interrupt(),
		"the boot CPU runs the suite with interrupts on once its APIC takes IPIs, outside any section");
	uint64_t outer = arch_irq_save();
	uint64_t inner = arch_irq_save();
	KEXPECT_EQ(arch_irq_depth(), 2);
	memset(test_tabs, 0, sizeof(test_tabs));
	smp_call_many(online, test_snap_tables, NULL);
	KEXPECT_EQ(arch_irq_depth(), 2, "the targets' sections left the caller's count alone");
	KEXPECT_EQ(test_tabs[0].depth, 3, "the caller's own part runs one section deeper");
	cpumask_for_each(i, cpumask_without(online, 0)) {
		KEXPECT(test_tabs[i].depth == 1 && !test_tabs[i].irqs, "CPU %u: depth %u, interrupts %d", i,
			test_tabs[i].depth, test_tabs[i].irqs);
	}
	arch_irq_restore(inner);
	KEXPECT(!arch_irqs_enabled() && arch_irq_depth() == 1, "the inner restore keeps them off");
	arch_irq_restore(outer);
	KEXPECT(arch_irq_depth() == 0 && arch_irqs_enabled() == was, "the outermost restore puts them back");
	/* Interrupts on: a save turns them off, the outermost restore back on. */
	sti();
	uint64_t f = arch_irq_save();
	bool off_inside = !arch_irqs_enabled();
	arch_irq_restore(f);
	bool on_after = arch_irqs_enabled();
	if (!was)
		cli();
	KEXPECT(off_inside && on_after, "save turns interrupts off, restore back on");
}

static volatile uint64_t test_mark_in_irq, test_mark_runs, test_busy_freed;

/* Marks that it ran, and whether from an interrupt handler. */
static void test_mark(void *arg)
{
	(void)arg;
	test_mark_in_irq = arch_in_interrupt();
	__atomic_fetch_add(&test_mark_runs, 1, __ATOMIC_RELEASE);
}

/* The boot CPU's part: busy with interrupts enabled, never polling. A CPU's part: calls the boot CPU. */
static void test_busy_or_call(void *arg)
{
	(void)arg;
	if (this_cpu()->index == 0) {
		uint64_t end = rdtsc() + tsc_us_to_ticks(TEST_WAIT_US);
		sti();
		while (!__atomic_load_n(&test_mark_runs, __ATOMIC_ACQUIRE) && rdtsc() < end)
			__asm__ volatile("" ::: "memory");   /* busy: no pause, no poll */
		cli();
		test_busy_freed = 1;
		return;
	}
	smp_call(0, test_mark, NULL);
}

/* A CPU busy with interrupts enabled (not idle, not polling its mailbox) takes a call by the IPI. */
KTEST(smp_call_reaches_a_busy_cpu_through_the_ipi)
{
	cpumask_t aps = test_aps();

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no other CPU to send the call");
	test_mark_runs = test_mark_in_irq = test_busy_freed = 0;
	smp_call_many(cpumask_with(cpumask_of(0), cpumask_first(aps)), test_busy_or_call, NULL);
	KEXPECT_EQ(test_mark_runs, 1, "the busy boot CPU ran the call");
	KEXPECT_EQ(test_mark_in_irq, 1, "from the SMP_VEC_CALL handler");
	KEXPECT_EQ(test_busy_freed, 1);
}

static uint16_t test_cross[SMP_MAX_CPUS][SMP_MAX_CPUS];   /* [target][sender]: at most 20 rounds */
static uint64_t test_cross_irqs;

/* Counts one call from the CPU in arg on this CPU; notes a run with interrupts enabled. */
static void test_cross_mark(void *arg)
{
	unsigned sender = (unsigned)(uint64_t)arg;

	__atomic_fetch_add(&test_cross[this_cpu()->index][sender], 1, __ATOMIC_RELAXED);
	if (arch_irqs_enabled())
		__atomic_fetch_add(&test_cross_irqs, 1, __ATOMIC_RELAXED);
}

/* On each AP at once, interrupts disabled: call every other online CPU, the waiting boot CPU too. */
static void test_cross_call_all(void *arg)
{
	(void)arg;
	smp_call_all(test_cross_mark, (void *)(uint64_t)this_cpu()->index);
}

/* CPUs calling each other at the same time with interrupts disabled all finish: each runs the
 * calls posted to it while it waits for its own. Rounds: 20 up to 4 CPUs, fewer above (every AP
 * spins while it waits, which a QEMU with more vCPUs than host cores pays for dearly), at least 2. */
KTEST(smp_calls_crossing_with_interrupts_off_all_finish)
{
	cpumask_t online = smp_online_mask(), aps = test_aps();
	unsigned n = cpumask_weight(online);

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no other CPU to cross calls with");
	uint64_t rounds = MAX(2u, 240 / ((n - 1) * n));
	rounds = MIN(rounds, 20u);
	memset(test_cross, 0, sizeof(test_cross));
	test_cross_irqs = 0;
	for (uint64_t round = 0; round < rounds; round++)
		smp_call_many(aps, test_cross_call_all, NULL);
	cpumask_for_each(sender, aps)
		cpumask_for_each(target, online) {
			uint64_t want = sender == target ? 0 : rounds;
			KEXPECT(test_cross[target][sender] == want, "CPU %u ran %llu calls from CPU %u, want %llu", target,
				(unsigned long long)test_cross[target][sender], sender, (unsigned long long)want);
		}
	KEXPECT_EQ(test_cross_irqs, 0, "every call ran with interrupts disabled");
}

static spinlock_t test_poll_lock = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-poll");
static volatile uint64_t test_poll_held, test_poll_spinning, test_poll_marks, test_poll_mark_saw_holder, test_poll_mark_in_irq;
static unsigned test_poll_holder;

/* Runs on the boot CPU while it spins for test_poll_lock: notes whether the AP still held it. */
static void test_poll_mark(void *arg)
{
	(void)arg;
	test_poll_mark_saw_holder = test_poll_lock.owner == test_poll_holder + 1;
	test_poll_mark_in_irq = arch_in_interrupt();
	__atomic_fetch_add(&test_poll_marks, 1, __ATOMIC_RELEASE);
}

/* The AP's part: takes the lock, then, once the boot CPU is about to spin for it, calls the boot
 * CPU while holding it (interrupts disabled). The boot CPU's part: once the AP holds the lock, spins
 * for it with interrupts disabled from before it lets the AP call. (Otherwise the call could reach
 * the boot CPU by interrupt before its part disabled them, when its vCPU thread is descheduled.) */
static void test_hold_or_spin(void *arg)
{
	(void)arg;
	if (this_cpu()->index != 0) {
		uint64_t f = spin_lock(&test_poll_lock);
		__atomic_store_n(&test_poll_held, 1, __ATOMIC_RELEASE);
		test_wait_for(&test_poll_spinning, 1);
		smp_call(0, test_poll_mark, NULL);
		spin_unlock(&test_poll_lock, f);
		return;
	}
	/* Interrupts off from here, before the AP is told to call: its call can then reach this CPU
	 * only through spin_lock's poll (test_wait_for does not poll), never as an interrupt. */
	uint64_t irq = arch_irq_save();
	if (test_wait_for(&test_poll_held, 1)) {
		__atomic_store_n(&test_poll_spinning, 1, __ATOMIC_RELEASE);
		uint64_t f = spin_lock(&test_poll_lock);
		spin_unlock(&test_poll_lock, f);
	}
	arch_irq_restore(irq);
}

/* A CPU spinning for a lock with interrupts disabled runs the calls posted to it (spin_lock polls,
 * include/spinlock.h): a holder that calls it gets its answer, where without the poll its call
 * would time out (a panic) and the spinner would never get the lock. */
KTEST(smp_a_cpu_spinning_for_a_lock_answers_the_holders_call)
{
	cpumask_t aps = test_aps();

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no other CPU to hold the lock");
	test_poll_holder = cpumask_first(aps);
	test_poll_held = test_poll_spinning = test_poll_marks = test_poll_mark_saw_holder = test_poll_mark_in_irq = 0;
	smp_call_many(cpumask_with(cpumask_of(0), test_poll_holder), test_hold_or_spin, NULL);
	KEXPECT_EQ(test_poll_held, 1, "the AP took the lock");
	KEXPECT_EQ(test_poll_marks, 1, "the boot CPU ran the AP's call once");
	KEXPECT_EQ(test_poll_mark_saw_holder, 1, "while the AP held the lock: from the spin loop");
	KEXPECT_EQ(test_poll_mark_in_irq, 0, "polled, not taken by interrupt");
	KEXPECT(!spin_held(&test_poll_lock) && spin_cpus[0].held == 0, "the lock is free again");
}

/* ---------------------------------------------------------------- failed starts */

/* An APIC id no MADT entry names, from the top of the xAPIC range down; 0 when there is none. */
static uint32_t test_unused_apic_id(void)
{
	static struct acpi_madt_info madt;

	if (acpi_read_madt(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &madt) != ACPI_OK || madt.entries > madt.kept)
		return 0;
	for (uint32_t id = APIC_XAPIC_ID_MAX; id > 0; id--) {
		bool used = false;
		for (size_t i = 0; i < madt.kept; i++)
			used |= madt.cpu[i].apic_id == id;
		if (!used)
			return id;
	}
	return 0;
}

/*
 * The index a start of APIC id `id` (no CPU's) uses: one an earlier test made for it and left
 * parked, else the next free one; SMP_MAX_CPUS when every index is a started CPU's (a machine with
 * the kernel's whole SMP_MAX_CPUS, or one fewer once a test took the last).
 */
static unsigned test_absent_cpu_index(uint32_t id)
{
	for (unsigned i = 1; i < SMP_MAX_CPUS; i++)
		if (!percpu_of[i] || (percpu_of[i]->apic_id == id && percpu_of[i]->state == PERCPU_PARKED))
			return i;
	return SMP_MAX_CPUS;
}

/* Starts APIC id `id` (no CPU's) at test_absent_cpu_index's index, waiting TEST_START_WAIT_US;
 * the step smp_start_new or smp_restart returns, the index in *index. */
static int test_start_absent_cpu(uint32_t id, unsigned *index)
{
	unsigned i = test_absent_cpu_index(id);

	if (i < SMP_MAX_CPUS && percpu_of[i]) {
		*index = i;
		return smp_restart(i, SMP_INJECT_NONE, TEST_START_WAIT_US);
	}
	return smp_start_new(id, TEST_START_WAIT_US, index);
}

/* INIT-SIPI-SIPI to an APIC id no CPU has: reported as no answer, parked, skipped; nothing else changes. */
KTEST(smp_cpu_that_does_not_answer_is_reported_and_skipped)
{
	uint32_t id = test_unused_apic_id();
	cpumask_t online = smp_online_mask();
	unsigned index = 0;

	if (!apic_ready() || !smp_trampoline_page())
		KTEST_SKIP("no local APIC or trampoline page: CPUs cannot be started");
	if (!id)
		KTEST_SKIP("every xAPIC id is in the MADT: no id is surely absent");
	if (test_absent_cpu_index(id) == SMP_MAX_CPUS)
		KTEST_SKIP("every one of the kernel's %u CPU indexes is a started CPU's: none left for a CPU that does not answer",
			   SMP_MAX_CPUS);
	uint64_t t0 = rdtsc();
	int st = test_start_absent_cpu(id, &index);
	uint64_t us = tsc_to_us(rdtsc() - t0);
	KEXPECT_EQ(st, SMP_STEP_ANSWER, "step: %s", smp_step_text(st));
	KEXPECT(us >= smp_init_delay_us() + TEST_START_WAIT_US && us < smp_init_delay_us() + TEST_START_WAIT_US + 500000,
		"the wait took %llu us: INIT delay plus the bound asked", (unsigned long long)us);
	KEXPECT(cpumask_equal(smp_online_mask(), online), "no CPU came or went");
	KASSERT_TEST(index < SMP_MAX_CPUS && percpu_of[index]);
	KEXPECT_EQ(percpu_of[index]->state, PERCPU_PARKED);
	KEXPECT_EQ(smp_call(index, test_mark, NULL), (uint64_t)-1, "the skipped index takes no call");
}

/* The INIT delay every start uses is smp_plan_init_delay_us of the boot CPU's CPUID, read here
 * afresh (vendor from leaf 0, signature from leaf 1): a kernel that kept the MP specification's
 * 10 ms everywhere, or decided from a signature it never read (0: family 0), fails on QEMU's
 * qemu64 (AMD family 0xF: 0) and on an Intel model (family 6: 0). */
KTEST(smp_init_delay_is_linuxs_rule_for_the_boot_cpu)
{
	uint32_t r[4], sig = 0;
	char vendor[13];

	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	if (r[0] >= 1) {
		cpuid(1, 0, r);
		sig = r[0];
	}
	uint32_t want = smp_plan_init_delay_us(vendor, sig);
	KEXPECT(want == 0 || want == SMP_INIT_DELAY_LEGACY_US, "the rule gives 0 or the legacy 10 ms: %u us", want);
	KEXPECT(smp_init_delay_us() == want, "the delay in use, %u us, is the rule's %u us for %s family 0x%X model 0x%X",
		smp_init_delay_us(), want, vendor, smp_plan_cpu_family(sig), smp_plan_cpu_model(sig));
}

/* An AP parked, started with a trampoline that never answers, then with a setup that stalls, then
 * taking the trampoline's path of a CPU without NX (it halts before its EFER write, its own APIC
 * id + 1 in the block, so the flag is its own, not a stray's; reported well before the answer's
 * bound runs out): each reported at its step and parked; then started for real, it takes calls
 * again, and the boot CPU's APIC logged no error over its IPIs (QEMU's logs none for INIT and
 * start-up IPIs: a read of another register than the ESR, or none, would not be 0 here). */
KTEST(smp_stalled_cpu_is_reported_parked_and_restarts)
{
	cpumask_t aps = test_aps(), online = smp_online_mask();
	unsigned cpu = cpumask_last(aps);

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no AP to restart");
	KEXPECT_EQ(smp_park(cpu), 0);
	KEXPECT(!cpumask_has(smp_online_mask(), cpu) && percpu_of[cpu]->state == PERCPU_PARKED, "CPU %u parked", cpu);
	KEXPECT_EQ(smp_call(cpu, test_mark, NULL), (uint64_t)-1, "a parked CPU takes no call");
	KEXPECT_EQ(smp_restart(cpu, SMP_INJECT_NO_ANSWER, TEST_START_WAIT_US), SMP_STEP_ANSWER);
	KEXPECT_EQ(percpu_of[cpu]->state, PERCPU_PARKED);
	KEXPECT_EQ(smp_restart(cpu, SMP_INJECT_STALL_SETUP, TEST_START_WAIT_US), SMP_STEP_SETUP);
	KEXPECT_EQ(percpu_of[cpu]->state, PERCPU_PARKED);
	uint64_t t0 = rdtsc();
	KEXPECT_EQ(smp_restart(cpu, SMP_INJECT_NO_NX, SMP_ANSWER_TIMEOUT_US), SMP_STEP_NO_NX);
	uint64_t us = tsc_to_us(rdtsc() - t0);
	/* Waiting out the bound takes INIT's delay + the SIPI delay + the whole bound; a CPU that
	 * halted is reported at most two graces (one per start-up IPI) after it wrote its flag. */
	KEXPECT(us < smp_init_delay_us() + SMP_ANSWER_TIMEOUT_US / 2,
		"the halted CPU was reported after %llu us, not at once", (unsigned long long)us);
	KEXPECT_EQ(percpu_of[cpu]->stray_no_nx, 0, "the no-NX flag carried the CPU's own tag: no stray");
	KEXPECT_EQ(percpu_of[cpu]->state, PERCPU_PARKED);
	KEXPECT(!cpumask_has(smp_online_mask(), cpu), "still offline");
	KEXPECT_EQ(smp_restart(0, SMP_INJECT_NONE, TEST_START_WAIT_US), (uint64_t)-1, "the boot CPU is not restarted");
	KASSERT_TEST(smp_restart(cpu, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US) == SMP_STARTED, "CPU %u did not restart", cpu);
	KEXPECT_EQ(percpu_of[cpu]->start_esr, 0, "no APIC error over the restart's INIT and start-up IPIs");
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs as before");
	test_mark_runs = 0;
	KEXPECT_EQ(smp_call(cpu, test_mark, NULL), 0);
	KEXPECT_EQ(test_mark_runs, 1, "the restarted CPU takes calls");
	memset(test_ctl, 0, sizeof(test_ctl));
	smp_call_many(cpumask_with(cpumask_of(0), cpu), test_snap_ctl, NULL);
	KEXPECT(test_ctl[cpu].cr0 == test_ctl[0].cr0 && test_ctl[cpu].cr4 == test_ctl[0].cr4 &&
		test_ctl[cpu].efer == test_ctl[0].efer && test_ctl[cpu].pat == test_ctl[0].pat &&
		test_ctl[cpu].cr3 == test_ctl[0].cr3 && !memcmp(&test_ctl[cpu].mtrr, &test_ctl[0].mtrr, sizeof(test_ctl[0].mtrr)),
		"the restarted CPU has the boot CPU's control state and MTRRs");
}

/* An AP that takes an exception where its setup begins (a page fault, before its control state):
 * its own GDT, TSS and the kernel's IDT are loaded by then, so the fault reaches the kernel's
 * handler (here a probe's fixup: the AP goes on and comes online). Loaded later, as they were,
 * the fault met INIT's IDT: a triple fault, which normally resets a PC (QEMU ends the boot). */
KTEST(smp_ap_fault_early_in_its_setup_is_handled)
{
	cpumask_t aps = test_aps(), online = smp_online_mask();
	unsigned cpu = cpumask_first(aps);

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no AP to restart");
	KEXPECT_EQ(smp_park(cpu), 0);
	percpu_of[cpu]->inject_result = 0;
	KASSERT_TEST(smp_restart(cpu, SMP_INJECT_EARLY_FAULT, SMP_ANSWER_TIMEOUT_US) == SMP_STARTED,
		     "CPU %u did not restart", cpu);
	KEXPECT_EQ(percpu_of[cpu]->inject_result, -1, "the AP's probe faulted and its fixup ran");
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs as before");
	test_mark_runs = 0;
	KEXPECT_EQ(smp_call(cpu, test_mark, NULL), 0);
	KEXPECT_EQ(test_mark_runs, 1, "the restarted CPU takes calls");
}

/* smp_stop_others (what a halting or panicking kernel does) takes every AP out of the online mask
 * and halts it in its NMI handler; parked and restarted, each takes calls again. */
KTEST(smp_stop_halts_every_other_cpu_and_they_restart)
{
	cpumask_t aps = test_aps(), online = smp_online_mask();

	memset(test_runs, 0, sizeof(test_runs));
	KEXPECT_EQ(smp_stop_others(), cpumask_weight(aps), "every AP confirmed");
	KEXPECT(cpumask_equal(smp_online_mask(), cpumask_of(0)), "only the caller stays online");
	cpumask_for_each(i, aps) {
		KEXPECT(percpu_of[i]->state == PERCPU_STOPPED, "CPU %u state %u", i, percpu_of[i]->state);
		KEXPECT(smp_call(i, test_count_slow, NULL) == -1, "a stopped CPU %u takes no call", i);
		KEXPECT(smp_park(i) == 0 && smp_restart(i, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US) == SMP_STARTED,
			"CPU %u restarted", i);
	}
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs as before");
	smp_call_many(online, test_count_slow, NULL);
	cpumask_for_each(c, online)
		KEXPECT_EQ(test_runs[c], 1);
}

/* ---------------------------------------------------------------- a CPU that stops for good */

/* What the test of smp_stop_self shares with its CPUs. */
static struct {
	unsigned stopper;               /* the CPU that stops itself inside a call of the boot CPU's */
	unsigned poster;                /* the CPU that posts it a call meanwhile (SMP_MAX_CPUS: none, two CPUs) */
	volatile uint64_t in_call;      /* the stopper runs the boot CPU's call: what it took is taken */
	volatile uint64_t saw_post;     /* the stopper stopped with the poster's call pending, untaken */
	volatile uint64_t poster_back;  /* the poster's call returned */
	volatile uint64_t runs;         /* runs of the poster's call */
} test_stop;

static void test_stop_count(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&test_stop.runs, 1, __ATOMIC_RELEASE);
}

/*
 * One call of the boot CPU's to the stopper and the poster at once. The poster, once the stopper
 * runs the boot CPU's call, posts the stopper a call of its own and waits for it; the stopper, interrupts off as in every call, waits (bounded)
 * until that call is pending on it, untaken, then stops for good inside the boot CPU's call
 * (smp_stop_self): one call taken and cut short, one posted and never taken.
 */
static void test_stop_pair(void *arg)
{
	(void)arg;
	if (smp_self() == test_stop.poster) {
		/* posted after the stopper took its calls, else it takes this one with the boot CPU's */
		(void)test_wait_for(&test_stop.in_call, 1);
		(void)smp_call(test_stop.stopper, test_stop_count, NULL);
		__atomic_store_n(&test_stop.poster_back, 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&test_stop.in_call, 1, __ATOMIC_RELEASE);
	if (test_stop.poster < SMP_MAX_CPUS) {
		uint64_t end = rdtsc() + tsc_us_to_ticks(TEST_WAIT_US);
		while (!cpumask_has(cpumask_atomic_load(&this_cpu()->call_pending, __ATOMIC_ACQUIRE), test_stop.poster) &&
		       rdtsc() < end)
			arch_cpu_relax();
		test_stop.saw_post = cpumask_has(cpumask_atomic_load(&this_cpu()->call_pending, __ATOMIC_ACQUIRE),
						 test_stop.poster);
	}
	smp_stop_self();
}

/*
 * A CPU that stops for good (smp_stop_self, as a CPU standing aside for another's fatal report does)
 * leaves the online mask and is waited for by no one: the boot CPU's call it stopped inside returns
 * at once, a third CPU's call posted to it and never taken returns too and is withdrawn, and later
 * calls and a TLB shootdown leave it out. Parked and restarted, it takes calls again.
 */
KTEST(smp_cpu_stopping_itself_is_not_waited_for)
{
	cpumask_t aps = test_aps(), online = smp_online_mask();
	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no other CPU to stop");
	unsigned stopper = cpumask_first(aps);
	cpumask_t rest = cpumask_without(aps, stopper), pair = cpumask_of(stopper);
	memset((void *)&test_stop, 0, sizeof(test_stop));
	test_stop.stopper = stopper;
	test_stop.poster = cpumask_empty(rest) ? SMP_MAX_CPUS : cpumask_first(rest);
	if (test_stop.poster < SMP_MAX_CPUS)
		pair = cpumask_with(pair, test_stop.poster);

	uint64_t t0 = rdtsc();
	smp_call_many(pair, test_stop_pair, NULL);
	uint64_t us = tsc_to_us(rdtsc() - t0);
	KEXPECT(us < smp_call_timeout_us() / 4, "the call returned once its CPU stopped (%llu us)", (unsigned long long)us);
	KEXPECT(percpu_of[stopper]->state == PERCPU_STOPPED, "CPU %u stopped (state %u)", stopper, percpu_of[stopper]->state);
	KEXPECT(cpumask_equal(smp_online_mask(), cpumask_without(online, stopper)), "CPU %u, and only it, left the online mask",
		stopper);
	if (test_stop.poster < SMP_MAX_CPUS) {
		KEXPECT_EQ(test_stop.saw_post, 1, "the stopper stopped with the poster's call pending, untaken");
		KEXPECT_EQ(test_stop.poster_back, 1, "the poster's call returned");
		KEXPECT_EQ(test_stop.runs, 0, "without running");
		KEXPECT(!cpumask_has(cpumask_atomic_load(&percpu_of[stopper]->call_pending, __ATOMIC_ACQUIRE), test_stop.poster),
			"the poster's call was withdrawn");
	}

	/* later: a call to every CPU, one to the stopped CPU, a shootdown */
	cpumask_t left = smp_online_mask();
	memset(test_runs, 0, sizeof(test_runs));
	t0 = rdtsc();
	smp_call_many(online, test_count_slow, NULL);
	cpumask_for_each(c, online)
		KEXPECT(test_runs[c] == (c != stopper), "CPU %u ran a later call to every CPU %llu times (once, the stopped one never)",
			c, (unsigned long long)test_runs[c]);
	KEXPECT_EQ(smp_call(stopper, test_count_slow, NULL), -1, "the stopped CPU takes no call");
	struct tlb_batch b = { .n = 1, .origin = TLB_FROM_OTHER, .va = { (vaddr_t)&test_stop } };
	uint64_t requests = this_cpu()->tlb_stats.requests;
	arch_tlb_flush_batch(&b);
	KEXPECT_EQ(this_cpu()->tlb_stats.requests - requests, cpumask_weight(left) - 1,
		   "a shootdown asks every CPU online but the caller, not the stopped one");
	us = tsc_to_us(rdtsc() - t0);
	KEXPECT(us < smp_call_timeout_us() / 4, "and both finished (%llu us)", (unsigned long long)us);

	KEXPECT(smp_park(stopper) == 0 && smp_restart(stopper, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US) == SMP_STARTED,
		"CPU %u restarted", stopper);
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs as before");
	memset(test_runs, 0, sizeof(test_runs));
	smp_call_many(online, test_count_slow, NULL);
	cpumask_for_each(c, online)
		KEXPECT(test_runs[c] == 1, "CPU %u takes calls again (%llu runs)", c, (unsigned long long)test_runs[c]);
}

/* ---------------------------------------------------------------- late CPUs and the join */

#define TEST_LATE_STACK_WORDS 64
#define TEST_JOIN_VA (FB_BASE + FB_MAX_SIZE - 24 * SIZE_2M)   /* a page of the kernel's tables no one uses */
#define TEST_JOIN_OLD 0x01D7AB1E0000AAAAULL
#define TEST_JOIN_NEW 0x0E3AB1E00000BBBBULL

/* The word at the top of a stack of words: what a CPU running there would overwrite first. */
static uint64_t test_late_word(unsigned i) { return 0x5A5A000000000000ULL | (uint64_t)i * 0x9E3779B9u; }

/* Whether a test of a CPU that runs the trampoline out of turn cannot run here; if so, why, in why
 * (size bytes). It needs an AP to run it and an xAPIC id no CPU has, with a CPU index free for it. */
static bool test_late_unfit(char *why, size_t size)
{
	uint32_t id = test_unused_apic_id();
	if (cpumask_empty(test_aps()))
		ksnprintf(why, size, "one CPU online: no CPU to run the trampoline out of turn");
	else if (!id)
		ksnprintf(why, size, "every xAPIC id is in the MADT: no id is surely absent");
	else if (test_absent_cpu_index(id) == SMP_MAX_CPUS)
		ksnprintf(why, size, "every one of the kernel's %u CPU indexes is a started CPU's: none left for the CPU "
			  "started", SMP_MAX_CPUS);
	else
		return false;
	return true;
}

/* Sets up such a test (test_late_unfit said it can run): *ap gets the AP that will run the
 * trampoline out of turn (the last one online, still running), *next the index made for an unused
 * xAPIC id, started and parked after no answer. Returns whether that index is ready. */
static bool test_late_ready(unsigned *ap, unsigned *next)
{
	*ap = cpumask_last(test_aps());
	KEXPECT_EQ(test_start_absent_cpu(test_unused_apic_id(), next), SMP_STEP_ANSWER,
		   "an index for the CPU started, parked");
	return KEXPECT(*next < SMP_MAX_CPUS && percpu_of[*next] && percpu_of[*next]->state == PERCPU_PARKED);
}

/* Ends such a test: the AP, parked by it, starts again, the CPUs online are those of before
 * (online), and the AP takes calls. */
static void test_late_back(unsigned ap, cpumask_t online)
{
	KEXPECT_EQ(smp_restart(ap, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US), SMP_STARTED, "the AP starts again");
	KEXPECT(cpumask_equal(smp_online_mask(), online), "the online CPUs as before");
	test_mark_runs = 0;
	KEXPECT_EQ(smp_call(ap, test_mark, NULL), 0);
	KEXPECT_EQ(test_mark_runs, 1, "it takes calls");
}

/*
 * A CPU given up on that runs the trampoline late, with the data block filled for the next CPU:
 * it halts in the trampoline, saying who it is, and takes nothing of the next CPU's (not its
 * state, not a word of its stack, not its GDT); it starts normally afterwards. The next CPU is an
 * index made for an APIC id no CPU has (parked after no answer), so one AP is enough.
 */
KTEST(smp_late_cpu_takes_nothing_of_the_cpu_the_trampoline_names)
{
	cpumask_t online = smp_online_mask();
	uint32_t state = 0, seen = 0;
	unsigned late = 0, next = 0;
	char why[160];

	if (test_late_unfit(why, sizeof(why)))
		KTEST_SKIP("%s", why);
	KASSERT_TEST(test_late_ready(&late, &next));
	struct percpu *np = percpu_of[next];
	uint64_t *top = (uint64_t *)np->stack_top, gdt[GDT_ENTRIES];

	KEXPECT_EQ(smp_park(late), 0);
	for (unsigned i = 1; i <= TEST_LATE_STACK_WORDS; i++)
		top[-(int)i] = test_late_word(i);
	memcpy(gdt, np->gdt, sizeof(gdt));
	np->apic_id_seen = TEST_NO_APIC_ID;
	KEXPECT_EQ(smp_start_late(late, next, TEST_START_WAIT_US, &state, &seen), 0);
	KEXPECT(state == PERCPU_STARTING, "CPU %u's state was left to its own start (state %u)", next, state);
	KEXPECT_EQ(seen, percpu_of[late]->apic_id, "the late CPU ran the trampoline and named itself");
	unsigned kept = 0;
	for (unsigned i = 1; i <= TEST_LATE_STACK_WORDS; i++)
		kept += top[-(int)i] == test_late_word(i);
	KEXPECT(kept == TEST_LATE_STACK_WORDS, "no word of CPU %u's stack top was written (%u of %u kept)", next, kept,
		TEST_LATE_STACK_WORDS);
	KEXPECT(!memcmp(gdt, np->gdt, sizeof(gdt)) && np->apic_id_seen == TEST_NO_APIC_ID,
		"CPU %u's GDT and per-CPU record untouched", next);
	KEXPECT_EQ(np->state, PERCPU_PARKED, "the next CPU's index is parked again");
	test_late_back(late, online);
}

/*
 * A CPU without NX that runs the trampoline late, filled for another CPU, is reported as a stray,
 * not taken for the CPU being started. smp_restart_with_stray starts the index of an APIC id no
 * CPU has (parked after no answer) with the no-NX path injected, after sending a parked AP INIT and
 * a start-up IPI: the AP halts there with its own APIC id + 1. The start must end as no answer
 * with the AP named (before the tag, the trampoline wrote 1 and any CPU's flag was taken for the
 * started CPU's: SMP_STEP_NO_NX), and the AP's own index stays parked and restarts.
 */
KTEST(smp_stray_cpu_without_nx_is_not_taken_for_the_cpu_started)
{
	cpumask_t online = smp_online_mask();
	unsigned stray = 0, next = 0;
	char why[160];

	if (test_late_unfit(why, sizeof(why)))
		KTEST_SKIP("%s", why);
	KASSERT_TEST(test_late_ready(&stray, &next));
	KEXPECT_EQ(smp_park(stray), 0);
	KEXPECT_EQ(smp_restart_with_stray(next, next, TEST_START_WAIT_US), (uint64_t)-1, "a CPU is not its own stray");
	KEXPECT_EQ(smp_restart_with_stray(next, 0, TEST_START_WAIT_US), (uint64_t)-1, "the boot CPU is no stray");
	int st = smp_restart_with_stray(next, stray, TEST_START_WAIT_US);
	KEXPECT(st == SMP_STEP_ANSWER, "step: %s, want no answer (the stray's missing NX not taken for CPU %u's)",
		smp_step_text(st), next);
	KEXPECT_EQ(percpu_of[next]->stray_no_nx, percpu_of[stray]->apic_id + 1, "the stray named by its tag");
	KEXPECT_EQ(percpu_of[next]->state, PERCPU_PARKED, "the started index parked again");
	KEXPECT_EQ(percpu_of[stray]->state, PERCPU_PARKED, "the stray's own index left parked");
	test_late_back(stray, online);
	KEXPECT_EQ(percpu_of[stray]->stray_no_nx, 0, "no stray during its own start");
}

static uint64_t test_join_read;

/* Reads the word at TEST_JOIN_VA on the calling CPU. */
static void test_join_load(void *arg)
{
	(void)arg;
	test_join_read = *(volatile uint64_t *)TEST_JOIN_VA;
}

/*
 * A joining CPU flushes its TLB: an AP restarted with SMP_INJECT_STALE_TLB caches a global
 * translation after loading the kernel's tables and has its PTE changed behind it before it is in
 * the online mask (as by a shootdown that skipped it); once online it must read the new page.
 */
KTEST(smp_joining_cpu_drops_translations_cached_before_its_join)
{
	cpumask_t aps = test_aps();

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no AP to restart");
	unsigned cpu = cpumask_last(aps);
	struct percpu *pc = percpu_of[cpu];
	paddr_t old = phys_alloc(1, PAGE_SIZE, UINT64_MAX), new = phys_alloc(1, PAGE_SIZE, UINT64_MAX);
	unsigned prot = PT_PROT_W | PT_PROT_G;

	KASSERT_TEST(old && new, "two frames");
	*(volatile uint64_t *)arch_phys_to_virt(old) = TEST_JOIN_OLD;
	*(volatile uint64_t *)arch_phys_to_virt(new) = TEST_JOIN_NEW;
	KASSERT_TEST(pt_map(&kernel_pt, TEST_JOIN_VA, new, PAGE_SIZE, prot, PT_SIZE_4K) == PT_OK);
	uint64_t new_pte = *pt_pte_slot(&kernel_pt, TEST_JOIN_VA);
	pt_unmap(&kernel_pt, TEST_JOIN_VA, PAGE_SIZE);
	KASSERT_TEST(pt_map(&kernel_pt, TEST_JOIN_VA, old, PAGE_SIZE, prot, PT_SIZE_4K) == PT_OK);
	KEXPECT_EQ(smp_park(cpu), 0);
	pc->inject_va = TEST_JOIN_VA;
	pc->inject_pte = pt_pte_slot(&kernel_pt, TEST_JOIN_VA);
	pc->inject_pte_new = new_pte;
	KEXPECT_EQ(smp_restart(cpu, SMP_INJECT_STALE_TLB, SMP_ANSWER_TIMEOUT_US), SMP_STARTED);
	KEXPECT_EQ(*pt_pte_slot(&kernel_pt, TEST_JOIN_VA), new_pte, "the AP changed the PTE before it joined");
	test_join_read = 0;
	KEXPECT_EQ(smp_call(cpu, test_join_load, NULL), 0);
	KEXPECT(test_join_read == TEST_JOIN_NEW, "CPU %u reads the page its PTE names (0x%llx), not the one it cached "
		"before joining (0x%llx): read 0x%llx", cpu, TEST_JOIN_NEW, TEST_JOIN_OLD, (unsigned long long)test_join_read);
	pc->inject_va = 0;
	pc->inject_pte = NULL;
	pt_unmap(&kernel_pt, TEST_JOIN_VA, PAGE_SIZE);
	phys_free(old, 1);
	phys_free(new, 1);
}

/*
 * A request posted to a CPU before it was stopped, whose issuer still waits (held up past the stop
 * and the restart, as a descheduled vCPU can be), is acknowledged when the CPU restarts, before it
 * rejoins the online mask: its TLB was emptied by INIT. Posted by hand from the boot CPU: a pending
 * bit on the AP and the AP's bit in the boot CPU's acknowledgements.
 */
KTEST(smp_restarted_cpu_acknowledges_requests_from_before_its_stop)
{
	cpumask_t aps = test_aps();

	if (cpumask_empty(aps))
		KTEST_SKIP("one CPU online: no AP to restart");
	unsigned cpu = cpumask_last(aps);
	struct percpu *me = this_cpu(), *pc = percpu_of[cpu];
	cpumask_t acks = cpumask_atomic_load(&me->tlb_acks, __ATOMIC_ACQUIRE);

	KEXPECT_EQ(smp_park(cpu), 0);
	cpumask_atomic_add(&me->tlb_acks, cpu, __ATOMIC_RELEASE);
	cpumask_atomic_add(&pc->tlb_pending, me->index, __ATOMIC_RELEASE);
	KEXPECT_EQ(smp_restart(cpu, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US), SMP_STARTED);
	KEXPECT(!cpumask_has(cpumask_atomic_load(&me->tlb_acks, __ATOMIC_ACQUIRE), cpu),
		"CPU %u acknowledged the request posted before its stop (%u acknowledgements still owed)", cpu,
		cpumask_weight(cpumask_atomic_load(&me->tlb_acks, __ATOMIC_ACQUIRE)));
	KEXPECT(cpumask_empty(cpumask_atomic_load(&pc->tlb_pending, __ATOMIC_ACQUIRE)), "nothing left pending on it");
	cpumask_atomic_store(&me->tlb_acks, cpumask_without(acks, cpu), __ATOMIC_RELEASE);
}
