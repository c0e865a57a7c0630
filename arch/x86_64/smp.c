/* Starting the other CPUs, and calls and IPIs between CPUs (see smp.h). */
#include "smp.h"
#include "arch_pte.h"
#include "smp_plan.h"
#include "apic.h"
#include "apic_esr.h"
#include "x86.h"
#include "cpu.h"
#include "trap.h"
#include "tsc.h"
#include "vmlayout.h"
#include "arch_mm.h"
#include "kstring.h"
#include "kprintf.h"
#include "kassert.h"
#include "tlb.h"

_Static_assert(SMP_MAX_CPUS == ARCH_MAX_CPUS, "the mm seam's CPU limit is the kernel's");
_Static_assert(SMP_MAX_CPUS * CPU_STACKS_SLOT <= CPU_STACKS_SIZE, "every CPU index has its stacks' slot");

#define SMP_TRAMP_LIMIT   0x100000ULL            /* the start-up vector names a page below 1 MiB */
/* Where the trampoline goes when the map has a free page there: above the first 64 KiB, which PC
 * firmware is known to write behind the OS's back (SMM handlers, resume paths: Linux keeps it out
 * of use, CONFIG_X86_RESERVE_LOW), and below 0x9F000, where the EBDA and the legacy BIOS area begin
 * on PCs whose map calls them usable (Linux's reserve_bios_regions caps its start there). */
#define SMP_TRAMP_SAFE_LO 0x10000ULL
#define SMP_TRAMP_SAFE_HI 0x9F000ULL
#define SMP_TABLES_LIMIT  0x100000000ULL         /* the trampoline loads CR3 in 32-bit mode */
#define SMP_KSTACK_SIZE   0x8000ULL              /* an AP's kernel stack */
#define SMP_IST_SIZE      ((uint64_t)PERCPU_IST_SIZE) /* each of its #DF, NMI and #MC stacks */
#define SMP_GUARD_SIZE    PAGE_SIZE              /* unmapped, below each stack */
#define SMP_PML4_KERNEL_HALF 256                 /* PML4 entries 256..511 map the upper half */

_Static_assert(SMP_GUARD_SIZE + SMP_KSTACK_SIZE + PERCPU_IST_COUNT * (SMP_GUARD_SIZE + SMP_IST_SIZE) <= CPU_STACKS_SLOT,
	       "an AP's stacks and guards fit its slot");

/* The trampoline's data block (trampoline.asm, smp_tramp_data): keep the two in sync. */
struct smp_tramp_data {
	uint32_t pm_off;          /* far pointer to the 32-bit code: physical offset, then selector */
	uint16_t pm_sel, pad0;
	uint32_t lm_off;          /* far pointer to the 64-bit code */
	uint16_t lm_sel, pad1;
	uint16_t gdt_limit;       /* lgdt operand */
	uint32_t gdt_base;
	uint16_t pad2;
	uint32_t cr3;             /* the start-up tables (below 4 GiB) */
	uint32_t efer;            /* EFER bits the trampoline sets: LME, NXE */
	uint32_t cr0;             /* the kernel's CR0 */
	uint32_t flags;           /* SMP_TRAMP_CLEAR_XD, SMP_TRAMP_INJECT_NO_NX */
	uint64_t stack;           /* the AP's stack top */
	uint64_t percpu;          /* its struct percpu: smp_ap_main's argument */
	uint64_t entry;           /* smp_ap_main, or the no-answer loop of a test */
	uint64_t lapic;           /* LAPIC_VA in xAPIC mode (the AP reads its id there), else 0 */
	volatile uint32_t apic_id; /* the CPU the block is for: SMP_TRAMP_NOBODY while it is filled */
	volatile uint32_t seen_id; /* the id of a CPU that ran the block meant for another one */
	volatile uint32_t no_nx;  /* the APIC id + 1 (smp_tramp_tag) of a CPU that halted for want of NX
				   * while efer has NXE; 0: none did */
	uint32_t pad3;
	uint32_t off_pm32, off_lm64, off_gdt, pad4; /* code offsets in the page (read-only) */
} __attribute__((packed));

#define SMP_TRAMP_NOBODY APIC_X2APIC_BROADCAST    /* an id no CPU has */

/* What a CPU without NX writes into the block's no_nx (trampoline.asm): its APIC id + 1, so 0 stays
 * "none"; the one id whose tag wraps to 0 is SMP_TRAMP_NOBODY, which no CPU has. */
static uint32_t smp_tramp_tag(uint32_t apic_id) { return apic_id + 1; }
/* flags: the boot CPU is Intel (cpu_feat.xd): each AP clears XD Bit Disable in its own
 * IA32_MISC_ENABLE before it sets EFER.NXE, as cpu_detect did on the boot CPU. */
#define SMP_TRAMP_CLEAR_XD 1u
/* flags: SMP_INJECT_NO_NX, the AP takes the path of a CPU without NX (a test's). */
#define SMP_TRAMP_INJECT_NO_NX 2u

extern const uint8_t smp_tramp_start[], smp_tramp_end[], smp_tramp_data[];

static paddr_t smp_tramp_pa;                 /* the kept-back page below 1 MiB */
static paddr_t smp_tables[ARCH_PT_LEVELS];    /* start-up tables: PML4, PDPT, PD, PT */
static const struct smp_ops *smp_ops;        /* the kernel's services (smp_set_ops) */
static bool smp_tramp_ready;
static cpumask_t smp_online = { { 1 } };     /* index 0: the boot CPU, from the first instruction */
static unsigned smp_found = 1;
static unsigned smp_next_index = 1;          /* the index the next CPU started gets */
/* After INIT, before the first start-up IPI, for every start: smp_init sets it from the boot CPU's
 * CPUID (smp_plan_init_delay_us, whose rule smp_plan.h states); the MP specification's 10 ms until then. */
static uint32_t smp_init_delay = SMP_INIT_DELAY_LEGACY_US;

/* ---------------------------------------------------------------- queries */

unsigned smp_cpu_count(void) { return cpumask_weight(smp_online_mask()); }
uint32_t smp_init_delay_us(void) { return smp_init_delay; }
cpumask_t smp_online_mask(void) { return cpumask_atomic_load(&smp_online, __ATOMIC_ACQUIRE); }
unsigned smp_cpus_found(void) { return smp_found; }
unsigned smp_self(void) { return this_cpu()->index; }
paddr_t smp_trampoline_page(void) { return smp_tramp_pa; }

const char *smp_step_text(int step)
{
	switch (step) {
	case SMP_STARTED: return "started";
	case SMP_STEP_RESOURCES: return "no memory for its per-CPU page and stacks";
	case SMP_STEP_INIT: return "the INIT IPI stayed in the APIC's ICR";
	case SMP_STEP_SIPI: return "a start-up IPI stayed in the APIC's ICR";
	case SMP_STEP_ANSWER: return "no answer to INIT-SIPI-SIPI in time";
	case SMP_STEP_SETUP: return "answered, then not online in time";
	case SMP_STEP_IDENTITY: return "answered with another APIC id";
	case SMP_STEP_NO_NX: return "a CPU in the start-up code found no NX in its CPUID (absent, or Execute Disable "
				    "off and XD Bit Disable stuck) while the boot CPU uses NX, and halted";
	default: return "?";
	}
}

/* ---------------------------------------------------------------- calls */

/* Applies the TLB batches posted to this CPU (tlb.h), then runs every call posted to it, each with
 * interrupts disabled, and marks each done. */
void smp_poll(void)
{
	struct percpu *pc = this_cpu();
	tlb_poll();
	cpumask_t pending = cpumask_atomic_take(&pc->call_pending);

	cpumask_for_each(s, pending) {
		struct smp_call_slot *slot = &pc->call_slot[s];
		uint64_t f = arch_irq_save();

		slot->fn(slot->arg);
		arch_irq_restore(f);
		__atomic_store_n(&slot->done, 1, __ATOMIC_RELEASE);
	}
}

/* Posts fn(arg) from CPU self into target's slot for self: fn and arg are visible before the bit. */
static void smp_post(struct percpu *target, unsigned self, void (*fn)(void *), void *arg)
{
	struct smp_call_slot *slot = &target->call_slot[self];

	slot->fn = fn;
	slot->arg = arg;
	__atomic_store_n(&slot->done, 0, __ATOMIC_RELAXED);
	cpumask_atomic_add(&target->call_pending, self, __ATOMIC_RELEASE);
}

uint64_t smp_call_timeout_us_for(unsigned cpus)
{
	uint64_t groups = (cpus + SMP_CALL_TIMEOUT_CPUS - 1) / SMP_CALL_TIMEOUT_CPUS;
	return SMP_CALL_TIMEOUT_US * (groups ? groups : 1);
}

uint64_t smp_call_timeout_us(void)
{
	return smp_call_timeout_us_for(cpumask_weight(smp_online_mask()));
}

/*
 * Waits until target ran the call of self, running calls posted to this CPU meanwhile; panics
 * timeout_us (the call's smp_call_timeout_us, taken once at its start) after start. A target that
 * stopped for good is not waited for. The invariant: a CPU stores PERCPU_STOPPED (release) only as
 * its last act, out of the online mask, before it halts with interrupts off for good (smp_stop_self,
 * smp_nmi for smp_stop_others): after that store it takes no pending bit, runs no call and touches
 * no slot or argument. So once the sender reads STOPPED (acquire) the call is in one of three
 * states, none of which will change: done (the load after sees it), taken and cut short by the stop
 * inside it (fn stopped its CPU), or posted and never to be taken (the CPU stopped between the
 * sender's read of the online mask and its post, or before its next poll). The sender withdraws
 * its bit in the last case, so a CPU a test starts again (smp_park, smp_restart) does not run a
 * stale call, and returns. A CPU only out of the online mask (parked by INIT, or its stop's NMI not
 * landed yet) may still be inside the call, using its argument: it is waited for.
 */
static void smp_wait_done(unsigned target, unsigned self, uint64_t start, uint64_t timeout_us, void (*fn)(void *))
{
	struct percpu *pc = percpu_of[target];
	struct smp_call_slot *slot = &pc->call_slot[self];
	uint64_t limit = tsc_us_to_ticks(timeout_us);

	while (!__atomic_load_n(&slot->done, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&pc->state, __ATOMIC_ACQUIRE) == PERCPU_STOPPED) {
			cpumask_atomic_del(&pc->call_pending, self, __ATOMIC_RELAXED);
			return;
		}
		smp_poll();
		if (rdtsc() - start > limit) {
			uint64_t off = 0;
			const char *name = smp_ops->symbol((uint64_t)fn, &off);
			kpanic("smp: CPU %u (APIC id %u) did not finish a call to %s+0x%llx from CPU %u within %u ms",
			       target, percpu_of[target]->apic_id, name ? name : "?", (unsigned long long)off, self,
			       (unsigned)(timeout_us / 1000));
		}
		arch_cpu_relax();
	}
}

void smp_call_many(cpumask_t mask, void (*fn)(void *), void *arg)
{
	struct percpu *me = this_cpu();
	unsigned self = me->index;
	uint64_t start = rdtsc(), timeout_us = smp_call_timeout_us();

	KASSERT(!me->calling, "smp_call_many on CPU %u from a call it is still waiting for", self);
	mask = cpumask_and(mask, smp_online_mask());
	cpumask_t others = cpumask_without(mask, self);
	me->calling = 1;
	cpumask_for_each(t, others)
		smp_post(percpu_of[t], self, fn, arg);
	smp_send_ipi(others, SMP_VEC_CALL);
	if (cpumask_has(mask, self)) {
		uint64_t f = arch_irq_save();
		fn(arg);
		arch_irq_restore(f);
	}
	cpumask_for_each(t, others)
		smp_wait_done(t, self, start, timeout_us, fn);
	me->calling = 0;
}

int smp_call(unsigned cpu, void (*fn)(void *), void *arg)
{
	if (!cpumask_has(smp_online_mask(), cpu))
		return -1;
	smp_call_many(cpumask_of(cpu), fn, arg);
	return 0;
}

void smp_call_all(void (*fn)(void *), void *arg)
{
	smp_call_many(cpumask_without(smp_online_mask(), smp_self()), fn, arg);
}

/* ---------------------------------------------------------------- IPIs */

/* Sends the ICR low word low to every CPU in mask that is online (or has per-CPU data, when
 * any_known); returns the sends that stayed busy. */
static int smp_send(cpumask_t mask, uint32_t low, bool any_known)
{
	int failed = 0;

	if (!any_known)
		mask = cpumask_and(mask, smp_online_mask());
	if (!apic_ready())
		return (int)cpumask_weight(mask);
	cpumask_for_each(t, mask)
		if (percpu_of[t])
			failed += apic_send(percpu_of[t]->apic_id, low) != 0;
	return failed;
}

int smp_send_ipi(cpumask_t mask, uint8_t vector) { return smp_send(mask, apic_icr_low(APIC_DM_FIXED, vector), false); }
int smp_send_nmi(cpumask_t mask) { return smp_send(mask, apic_icr_low(APIC_DM_NMI, 0), false); }

bool smp_interrupt(struct trap_frame *tf)
{
	switch (tf->vector) {
	case SMP_VEC_CALL:
		smp_poll();
		apic_eoi();
		return true;
	case SMP_VEC_PING:
		__atomic_fetch_add(&this_cpu()->pings, 1, __ATOMIC_RELEASE);
		apic_eoi();
		return true;
	case APIC_VEC_SPURIOUS:   /* no EOI for a spurious interrupt */
		return apic_ready();
	default:
		return false;
	}
}

/* Stops this CPU for good: interrupts off, halted (an NMI or SMI only comes back here). */
static __attribute__((noreturn)) void smp_halt_forever(void)
{
	for (;;) {
		cli();
		hlt();
	}
}

void smp_stop_self(void)
{
	struct percpu *pc = this_cpu();

	cli();
	/* Release: everything this CPU did is visible to whoever sees it gone (a call it finished, a
	 * TLB acknowledgement); no call or shootdown started after this includes it. */
	cpumask_atomic_del(&smp_online, pc->index, __ATOMIC_RELEASE);
	/* Last, and for good: smp_wait_done stops waiting for it (its invariant). */
	__atomic_store_n(&pc->state, PERCPU_STOPPED, __ATOMIC_RELEASE);
	smp_halt_forever();
}

bool smp_nmi(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();
	volatile uint64_t here = 0;
	bool expected = pc->nmi_expected != 0;

	(void)tf;
	pc->nmi_rsp = (uint64_t)&here;
	if (expected)
		pc->nmi_expected--;
	/* The count last: whoever sees it sees the record and the expectation counted down too. */
	__atomic_fetch_add(&pc->nmis, 1, __ATOMIC_RELEASE);
	if (pc->stop_requested) {
		__atomic_store_n(&pc->state, PERCPU_STOPPED, __ATOMIC_RELEASE);
		smp_halt_forever();
	}
	return expected;
}

unsigned smp_stop_others(void)
{
	cpumask_t others = cpumask_without(smp_online_mask(), smp_self());
	unsigned stopped = 0;

	if (cpumask_empty(others) || !apic_ready() || !tsc_hz())
		return 0;
	cpumask_for_each(t, others)   /* no call goes to them any more */
		cpumask_atomic_del(&smp_online, t, __ATOMIC_ACQ_REL);
	cpumask_for_each(t, others)
		__atomic_store_n(&percpu_of[t]->stop_requested, 1, __ATOMIC_RELEASE);
	smp_send(others, apic_icr_low(APIC_DM_NMI, 0), true);
	uint64_t start = rdtsc(), limit = tsc_us_to_ticks(SMP_STOP_TIMEOUT_US);
	cpumask_for_each(t, others) {
		struct percpu *pc = percpu_of[t];
		while (__atomic_load_n(&pc->state, __ATOMIC_ACQUIRE) != PERCPU_STOPPED && rdtsc() - start < limit)
			arch_cpu_relax();
		stopped += pc->state == PERCPU_STOPPED;
	}
	return stopped;
}

/* ---------------------------------------------------------------- the AP side */

/* Moves pc->state from old to new; false when it was not old (the boot CPU gave up on this start). */
static bool smp_state_move(struct percpu *pc, uint32_t old, uint32_t new)
{
	return __atomic_compare_exchange_n(&pc->state, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The idle loop of an AP: runs posted calls, else halts with interrupts on until an IPI. */
static __attribute__((noreturn)) void smp_idle(void)
{
	for (;;) {
		cli();
		smp_poll();
		if (cpumask_atomic_empty(&this_cpu()->call_pending, __ATOMIC_ACQUIRE) &&
		    cpumask_atomic_empty(&this_cpu()->tlb_pending, __ATOMIC_ACQUIRE))
			__asm__ volatile("sti; hlt" ::: "memory");   /* sti's shadow covers hlt: no lost wake-up */
	}
}

/* What SMP_INJECT_NO_ANSWER puts in the trampoline instead of smp_ap_main: never answers. */
__attribute__((noreturn)) void smp_ap_no_answer(struct percpu *pc)
{
	(void)pc;
	smp_halt_forever();
}

/* SMP_INJECT_STALE_TLB: fills this CPU's TLB with the translation of pc->inject_va, then changes
 * its PTE behind it, as another CPU's change whose shootdown read the online mask before this
 * CPU's bit would (the join's flush must remove it). */
static void smp_inject_stale_tlb(struct percpu *pc)
{
	(void)*(volatile uint64_t *)pc->inject_va;
	*pc->inject_pte = pc->inject_pte_new;
}

/* SMP_INJECT_EARLY_FAULT: a page fault where the AP's setup begins (a probe read of the unmapped
 * guard page below the boot stack, which the start-up tables share), whose probe result is kept. */
static void smp_inject_early_fault(struct percpu *pc)
{
	extern char boot_stack_guard[];
	uint8_t byte;

	pc->inject_result = arch_probe_read8(boot_stack_guard, &byte);
}

/*
 * Joins: waits until the boot CPU has put this CPU in the online mask (it does so once it sees
 * ONLINE), then flushes the whole TLB, global entries included. A shootdown whose issuer read the
 * mask before this bit was set skipped this CPU, but its page-table changes were visible before
 * that read (arch_tlb_flush_batch fences them), so they are before this flush: from here on this
 * CPU's TLB holds no translation older than its join, and every later round includes it.
 */
static void smp_join(struct percpu *pc)
{
	while (!cpumask_has(smp_online_mask(), pc->index))
		arch_cpu_relax();
	arch_tlb_invalidate_all();
}

/*
 * The AP's first C code, on its own stack with the start-up tables (trampoline.asm), which ran it
 * only after checking that this CPU is the one the data block names: a CPU given up on that runs
 * the trampoline late, with the block filled for the next CPU, halts there and touches neither
 * that CPU's stack nor its state (it writes only the block's seen_id, which the boot CPU reports).
 * The states pc goes through (percpu.h), each move a compare-exchange against the boot CPU's:
 *   STARTING -> ALIVE     the AP answers; fails when the boot CPU gave up (PARKED): the AP halts
 *   ALIVE -> WRONG_ID     set up, its APIC reads another id than pc->apic_id: halts. The
 *                         trampoline compared the same register already, so this is left for the
 *                         CPUID fallback it uses when the APIC is disabled, or in xAPIC mode
 *                         while the kernel runs x2APIC: a CPU whose APIC, once enabled, does not
 *                         show the id CPUID gave (broken firmware or hypervisor) is reported
 *                         rather than run as another CPU (calls and IPIs would miss it)
 *   ALIVE -> ONLINE       set up; fails when the boot CPU gave up: the AP halts
 * then the boot CPU sets its bit in the online mask and the AP joins (smp_join) and idles.
 */
__attribute__((noreturn)) void smp_ap_main(struct percpu *pc)
{
	percpu_set_gs(pc);
	if (!smp_state_move(pc, PERCPU_STARTING, PERCPU_ALIVE))
		smp_halt_forever();
	pc->irq_depth = pc->irq_nesting = pc->calling = pc->stop_requested = pc->tlb_busy = 0;   /* a restarted CPU was stopped anywhere */
	/* The kernel's GDT, TSS (IST stacks) and IDT before anything that may fault: until then the CPU
	 * has the trampoline's GDT and INIT's IDT (base 0), so an exception or NMI is a triple fault,
	 * which a PC's chipset normally answers by resetting the whole machine, with no word said;
	 * from here it is a report. */
	gdt_init_cpu(pc);
	idt_load();
	if (pc->inject == SMP_INJECT_EARLY_FAULT)
		smp_inject_early_fault(pc);
	/* Offline, it was asked nothing since its stop; an issuer that posted to it before and was held
	 * up (a descheduled vCPU) until it rejoins would wait for it to its timeout. */
	tlb_ack_stale(pc);
	cpu_init_control_state();
	arch_cr3_load(smp_ops->root());
	if (pc->inject == SMP_INJECT_STALE_TLB)
		smp_inject_stale_tlb(pc);
	apic_init_cpu();
	pc->apic_id_seen = apic_id();
	if (pc->apic_id_seen != pc->apic_id) {
		smp_state_move(pc, PERCPU_ALIVE, PERCPU_WRONG_ID);
		smp_halt_forever();
	}
	if (pc->inject == SMP_INJECT_STALL_SETUP || !smp_state_move(pc, PERCPU_ALIVE, PERCPU_ONLINE))
		smp_halt_forever();
	smp_join(pc);
	smp_idle();
}

/* ---------------------------------------------------------------- the boot CPU side */

void smp_set_ops(const struct smp_ops *ops)
{
	KASSERT(ops && ops->alloc && ops->free && ops->map && ops->mapped && ops->root && ops->symbol,
		"smp_set_ops needs every service of struct smp_ops");
	smp_ops = ops;
}

/* Whether the trampoline page lies outside [SMP_TRAMP_SAFE_LO, SMP_TRAMP_SAFE_HI): the map had no
 * free page there when it was reserved. */
static bool smp_tramp_unsafe;

void smp_reserve_trampoline(void)
{
	KASSERT(smp_ops, "smp_set_ops before smp_reserve_trampoline");
	if (smp_tramp_pa && !smp_tramp_unsafe)
		return;
	paddr_t safe = smp_ops->alloc(1, SMP_TRAMP_SAFE_LO, SMP_TRAMP_SAFE_HI);
	if (safe) {
		if (smp_tramp_pa)
			smp_ops->free(smp_tramp_pa, 1);
		smp_tramp_pa = safe;
		smp_tramp_unsafe = false;
	} else if (!smp_tramp_pa && (smp_tramp_pa = smp_ops->alloc(1, 0, SMP_TRAMP_LIMIT)) != 0) {
		smp_tramp_unsafe = true;
	}
}

bool smp_trampoline_page_unsafe(void) { return smp_tramp_unsafe; }

/* Allocates pages frames, every one below the address below, and zeroes them; 0 on failure. */
static paddr_t smp_alloc_zeroed(uint64_t pages, paddr_t below)
{
	paddr_t pa = smp_ops->alloc(pages, 0, below);

	if (pa)
		memset(arch_phys_to_virt(pa), 0, pages * PAGE_SIZE);
	return pa;
}

/*
 * Copies the trampoline into its page and builds the start-up tables, which map that page at its
 * own address (executable: the AP runs there as paging turns on) and share the kernel's upper
 * half. Once; false (with a message) when a table page below 4 GiB cannot be had.
 */
static bool smp_tramp_build(void)
{
	size_t len = (size_t)(smp_tramp_end - smp_tramp_start);

	if (smp_tramp_ready)
		return true;
	KASSERT(len <= PAGE_SIZE && (size_t)(smp_tramp_end - smp_tramp_data) == sizeof(struct smp_tramp_data),
		"trampoline of %zu bytes, data block of %zu (struct smp_tramp_data: %zu)", len,
		(size_t)(smp_tramp_end - smp_tramp_data), sizeof(struct smp_tramp_data));
	for (int i = 0; i < ARCH_PT_LEVELS; i++)
		if (!smp_tables[i] && !(smp_tables[i] = smp_alloc_zeroed(1, SMP_TABLES_LIMIT))) {
			kprintf("smp: no page below 4 GiB for the start-up page tables\n");
			return false;
		}
	/* PML4 -> PDPT -> PD -> PT -> the trampoline's page; indexes of a page below 1 MiB. */
	vaddr_t va = smp_tramp_pa;
	for (int i = 0; i < ARCH_PT_LEVELS; i++) {
		volatile uint64_t *t = arch_phys_to_virt(smp_tables[i]);
		paddr_t next = i + 1 < ARCH_PT_LEVELS ? smp_tables[i + 1] : smp_tramp_pa;
		t[(va >> arch_pt_level_shift(ARCH_PT_LEVELS - i)) % ARCH_PT_ENTRIES] = next | X86_PTE_P | X86_PTE_W;
	}
	memcpy(arch_phys_to_virt(smp_tramp_pa), smp_tramp_start, len);
	smp_tramp_ready = true;
	return true;
}

/* The trampoline's data block in its page. */
static struct smp_tramp_data *smp_tramp_block(void)
{
	return (struct smp_tramp_data *)((uint8_t *)arch_phys_to_virt(smp_tramp_pa) + (smp_tramp_data - smp_tramp_start));
}

/*
 * Fills the trampoline's data block for starting pc with inject (entry: smp_ap_main or the
 * no-answer loop; the no-NX path taken whatever CPUID says) and
 * refreshes the start-up PML4's copy of the kernel's upper half. The block names nobody while it
 * is written and pc's APIC id last, so a late CPU reading it meanwhile halts (trampoline.asm).
 */
static void smp_tramp_fill(struct percpu *pc, enum smp_inject inject)
{
	const uint64_t *kpml4 = arch_phys_to_virt(smp_ops->root());
	uint64_t *pml4 = arch_phys_to_virt(smp_tables[0]);
	struct smp_tramp_data *d = smp_tramp_block();

	__atomic_store_n(&d->apic_id, SMP_TRAMP_NOBODY, __ATOMIC_RELAXED);
	/* The C model orders no later plain store after a release store; this fence does (x86 keeps
	 * stores in order anyway: it binds the compiler). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	d->seen_id = SMP_TRAMP_NOBODY;
	d->no_nx = 0;
	for (int i = SMP_PML4_KERNEL_HALF; i < ARCH_PT_ENTRIES; i++)
		pml4[i] = kpml4[i];
	d->pm_off = (uint32_t)smp_tramp_pa + d->off_pm32;
	d->lm_off = (uint32_t)smp_tramp_pa + d->off_lm64;
	d->gdt_base = (uint32_t)smp_tramp_pa + d->off_gdt;
	d->cr3 = (uint32_t)smp_tables[0];
	d->efer = (uint32_t)(EFER_LME | (cpu_feat.nx ? EFER_NXE : 0));
	d->cr0 = (uint32_t)cpu_cr0_value();
	d->flags = (cpu_feat.xd != CPU_XD_NO_MSR ? SMP_TRAMP_CLEAR_XD : 0) |
		   (inject == SMP_INJECT_NO_NX ? SMP_TRAMP_INJECT_NO_NX : 0);
	d->stack = pc->stack_top;
	d->percpu = (uint64_t)pc;
	d->entry = inject == SMP_INJECT_NO_ANSWER ? (uint64_t)smp_ap_no_answer : (uint64_t)smp_ap_main;
	d->lapic = apic_x2apic() ? 0 : LAPIC_VA;
	__atomic_store_n(&d->apic_id, pc->apic_id, __ATOMIC_RELEASE);
}

/* Maps size bytes of fresh pages at va (writable, non-executable, global); false when out of memory. */
static bool smp_map_stack(vaddr_t va, uint64_t size)
{
	paddr_t pa = smp_ops->alloc(size >> PAGE_SHIFT, 0, UINT64_MAX);

	if (!pa)
		return false;
	if (smp_ops->map(va, pa, size, SMP_CACHE_WB) != 0) {
		smp_ops->free(pa, size >> PAGE_SHIFT);
		return false;
	}
	return true;
}

/*
 * The per-CPU page and stacks of index (made once and kept: a CPU given up on may still wake, and
 * must find only its own memory). Stacks sit in the index's slot of CPU_STACKS_BASE, each above an
 * unmapped guard page: kernel stack, then #DF, NMI and #MC. NULL when memory ran out; what was
 * made so far stays, and a later call for the index goes on from there.
 */
static struct percpu *smp_slot(unsigned index, uint32_t apic_id)
{
	uint64_t pages = ALIGN_UP(sizeof(struct percpu), PAGE_SIZE) >> PAGE_SHIFT;
	vaddr_t va = CPU_STACKS_BASE + index * CPU_STACKS_SLOT + SMP_GUARD_SIZE;
	struct percpu *pc = percpu_of[index];

	if (!pc) {
		paddr_t pa = smp_alloc_zeroed(pages, UINT64_MAX);
		if (!pa)
			return NULL;
		pc = arch_phys_to_virt(pa);
		pc->self = pc;
		pc->index = index;
		percpu_of[index] = pc;
	}
	if (!pc->stack_top) {
		if (!smp_map_stack(va, SMP_KSTACK_SIZE))
			return NULL;
		pc->stack_bottom = va;
		pc->stack_top = va + SMP_KSTACK_SIZE;
	}
	va += SMP_KSTACK_SIZE + SMP_GUARD_SIZE;
	for (int i = 0; i < PERCPU_IST_COUNT; i++, va += SMP_IST_SIZE + SMP_GUARD_SIZE) {
		if (pc->ist_top[i])
			continue;
		if (!smp_map_stack(va, SMP_IST_SIZE))
			return NULL;
		pc->ist_top[i] = va + SMP_IST_SIZE;
	}
	pc->apic_id = apic_id;
	return pc;
}

/* Whether a CPU halted in the trampoline since it was filled: without NX, or not the CPU it names. */
static bool smp_tramp_halted(void)
{
	const struct smp_tramp_data *d = smp_tramp_block();

	return d->no_nx || d->seen_id != SMP_TRAMP_NOBODY;
}

/*
 * Waits up to us for pc->state to leave from; returns the state then. A CPU that halted in the
 * trampoline never leaves PERCPU_STARTING, so while that is the state waited on, the wait ends at
 * most SMP_HALT_GRACE_US after one did: a CPU without NX, or one that names another id, is
 * reported at once, not after the whole bound, while the CPU being started keeps the grace to
 * answer when the halted one was a CPU given up on earlier.
 */
static uint32_t smp_wait_state(struct percpu *pc, uint32_t from, uint64_t us)
{
	uint64_t start = rdtsc(), limit = tsc_us_to_ticks(us), grace = tsc_us_to_ticks(SMP_HALT_GRACE_US);
	bool watch = from == PERCPU_STARTING;
	uint32_t st;

	while ((st = __atomic_load_n(&pc->state, __ATOMIC_ACQUIRE)) == from) {
		uint64_t now = rdtsc() - start;

		if (now >= limit)
			break;
		if (watch && smp_tramp_halted()) {
			watch = false;
			if (limit - now > grace)
				limit = now + grace;
		}
		arch_cpu_relax();
	}
	return st;
}

/* Sends INIT to pc's APIC id: the CPU stops whatever it runs and waits for a start-up IPI. */
static void smp_send_init(struct percpu *pc)
{
	apic_send(pc->apic_id, apic_icr_low(APIC_DM_INIT, 0));
}

/*
 * Gives up on the start of pc at step: the AP may still be moving on (answering, coming online)
 * while the boot CPU decides, so the state becomes PARKED only from a value the AP left there; an
 * AP that reached ONLINE meanwhile counts as started. Otherwise sends INIT (the CPU stops and waits
 * for a start-up IPI), reports (with the errors the boot CPU's APIC logged over the start's IPIs,
 * pc->start_esr, by name) and returns step.
 */
static int smp_start_failed(struct percpu *pc, int step, uint64_t answer_us)
{
	uint32_t st = __atomic_load_n(&pc->state, __ATOMIC_ACQUIRE);
	char esr[APIC_ESR_TEXT_SIZE], note[APIC_ESR_TEXT_SIZE + 48] = "";

	/* WRONG_ID is final (the AP halted), so an AP seen ONLINE here started, whatever the step. */
	while (st != PERCPU_ONLINE && !smp_state_move(pc, st, PERCPU_PARKED))
		st = __atomic_load_n(&pc->state, __ATOMIC_ACQUIRE);
	if (st == PERCPU_ONLINE)
		return SMP_STARTED;
	smp_send_init(pc);
	if (pc->start_esr) {
		apic_esr_text(pc->start_esr, esr, sizeof(esr));
		ksnprintf(note, sizeof(note), "; the APIC's error status after the IPIs: %s", esr);
	}
	if (step == SMP_STEP_IDENTITY)   /* the id seen cannot tell this CPU under another id from a late one */
		kprintf("smp: CPU %u (APIC id %u) not started: answered as APIC id %u (this CPU under another id, or "
			"a CPU given up on earlier, starting late)%s; parked with INIT\n", pc->index, pc->apic_id,
			pc->apic_id_seen, note);
	else if (step == SMP_STEP_ANSWER || step == SMP_STEP_SETUP)
		kprintf("smp: CPU %u (APIC id %u) not started: %s (%llu ms)%s; parked with INIT\n", pc->index,
			pc->apic_id, smp_step_text(step), (unsigned long long)(answer_us / 1000), note);
	else
		kprintf("smp: CPU %u (APIC id %u) not started: %s%s; parked with INIT\n", pc->index, pc->apic_id,
			smp_step_text(step), note);
	return step;
}

/*
 * The outcome of a start of pc: a CPU that started joins the online mask, whichever wait saw it
 * come online (smp_start_failed counts an AP that got there while the boot CPU gave up, at any
 * step); a CPU that ran the block and halted, other than pc, is named (one that found another id,
 * when pc started; one without NX, whatever pc's outcome: pc->stray_no_nx). Returns step.
 */
static int smp_start_done(struct percpu *pc, int step)
{
	uint32_t seen = smp_tramp_block()->seen_id;

	if (step == SMP_STARTED)
		cpumask_atomic_add(&smp_online, pc->index, __ATOMIC_RELEASE);
	if (step == SMP_STARTED && seen != SMP_TRAMP_NOBODY)
		kprintf("smp: APIC id %u ran the trampoline filled for CPU %u (APIC id %u) and halted: a CPU given "
			"up on, starting late\n", seen, pc->index, pc->apic_id);
	if (pc->stray_no_nx)
		kprintf("smp: stray CPU: APIC id %u ran the trampoline filled for CPU %u (APIC id %u), found no NX in "
			"its CPUID and halted (a CPU given up on, starting late); CPU %u is not taken for it\n",
			pc->stray_no_nx - 1, pc->index, pc->apic_id, pc->index);
	return step;
}

/*
 * Sends INIT and a start-up IPI to stray, a parked CPU, with the block filled for another one, and
 * waits up to us for it to halt there for want of NX (a test's: the block's flags make it take
 * that path): the late CPU smp_restart_with_stray puts before a start.
 */
static void smp_kick_stray(struct percpu *stray, uint8_t vector, uint64_t us)
{
	uint64_t start, limit = tsc_us_to_ticks(us);

	apic_send(stray->apic_id, apic_icr_low(APIC_DM_INIT, 0));
	tsc_delay_us(smp_init_delay);
	apic_send(stray->apic_id, apic_icr_low(APIC_DM_STARTUP, vector));
	start = rdtsc();
	while (!smp_tramp_block()->no_nx && rdtsc() - start < limit)
		arch_cpu_relax();
}

/*
 * INIT-SIPI-SIPI for pc: INIT, the INIT delay (smp_init_delay_us: 0 or 10 ms), a start-up IPI,
 * SMP_SIPI_DELAY_US, a second one unless the AP answered, then up to answer_us for the answer and as
 * long again for the setup.
 * The boot CPU's APIC error status is cleared before INIT and taken after each IPI's wait (which
 * clears it for the next), adding no delay; what it logged over the start is pc->start_esr,
 * named when the start fails. A no-NX flag in the block is pc's only when it carries pc's tag:
 * another CPU's is a stray's (pc->stray_no_nx), and the start goes on. stray (tests; NULL
 * otherwise): a parked CPU that runs the trampoline before pc's INIT (smp_kick_stray), parked
 * again after. Returns SMP_STARTED with the CPU online, or the step that failed (reported, the
 * CPU parked).
 */
static int smp_start_cpu(struct percpu *pc, enum smp_inject inject, uint64_t answer_us, struct percpu *stray)
{
	uint8_t vector = apic_sipi_vector(smp_tramp_pa);
	uint32_t st = PERCPU_STARTING, no_nx;
	int step;

	KASSERT(this_cpu() == &percpu_boot, "CPUs are started by the boot CPU, one at a time");
	KASSERT(vector, "trampoline page 0x%llx", (unsigned long long)smp_tramp_pa);
	smp_tramp_fill(pc, inject);
	pc->inject = inject;
	pc->start_esr = pc->stray_no_nx = 0;
	__atomic_store_n(&pc->state, PERCPU_STARTING, __ATOMIC_RELEASE);
	if (stray)
		smp_kick_stray(stray, vector, answer_us);
	apic_esr_take();   /* clears what earlier sends left */
	if (apic_send(pc->apic_id, apic_icr_low(APIC_DM_INIT, 0))) {
		pc->start_esr = apic_esr_take();
		step = SMP_STEP_INIT;
		goto out;
	}
	tsc_delay_us(smp_init_delay);
	pc->start_esr |= apic_esr_take();
	for (int sipi = 0; sipi < 2 && st == PERCPU_STARTING; sipi++) {
		if (apic_send(pc->apic_id, apic_icr_low(APIC_DM_STARTUP, vector))) {
			pc->start_esr |= apic_esr_take();
			step = SMP_STEP_SIPI;
			goto out;
		}
		st = smp_wait_state(pc, PERCPU_STARTING, sipi == 0 ? SMP_SIPI_DELAY_US : answer_us);
		pc->start_esr |= apic_esr_take();
	}
	no_nx = smp_tramp_block()->no_nx;
	if (no_nx && no_nx != smp_tramp_tag(pc->apic_id))
		pc->stray_no_nx = no_nx;
	if (st == PERCPU_STARTING && no_nx == smp_tramp_tag(pc->apic_id)) {   /* halted before setting EFER.NXE */
		step = SMP_STEP_NO_NX;
	} else if (st == PERCPU_STARTING && smp_tramp_block()->seen_id != SMP_TRAMP_NOBODY) {
		/* A CPU ran the trampoline, found another id than pc's and halted (trampoline.asm). */
		pc->apic_id_seen = smp_tramp_block()->seen_id;
		step = SMP_STEP_IDENTITY;
	} else if (st == PERCPU_STARTING) {
		step = SMP_STEP_ANSWER;
	} else {
		st = smp_wait_state(pc, PERCPU_ALIVE, answer_us);
		step = st == PERCPU_WRONG_ID ? SMP_STEP_IDENTITY : st != PERCPU_ONLINE ? SMP_STEP_SETUP : SMP_STARTED;
	}
out:
	if (stray)
		smp_send_init(stray);
	return smp_start_done(pc, step == SMP_STARTED ? SMP_STARTED : smp_start_failed(pc, step, answer_us));
}

/* Starts each AP of the plan in turn (the boot CPU is index 0 and runs already). */
static void smp_start_planned(const struct smp_plan *plan)
{
	if (!apic_sipi_vector(smp_tramp_pa)) {
		kprintf("smp: no page below 1 MiB was kept back for the trampoline: the APs cannot start\n");
		return;
	}
	if (!smp_tramp_build())
		return;
	for (size_t i = 1; i < plan->n; i++) {
		unsigned index = smp_next_index++;
		struct percpu *pc = smp_slot(index, plan->apic_id[i]);
		if (!pc)
			kprintf("smp: CPU %u (APIC id %u) not started: %s\n", index, plan->apic_id[i],
				smp_step_text(SMP_STEP_RESOURCES));
		else
			smp_start_cpu(pc, SMP_INJECT_NONE, SMP_ANSWER_TIMEOUT_US, NULL);
	}
}

void smp_init(const struct acpi_madt_info *madt, int madt_status, bool dmar_x2apic_opt_out, unsigned maxcpus)
{
	static struct smp_plan plan;
	static bool planned;
	uint64_t t0 = rdtsc();

	KASSERT(!planned || madt_status != ACPI_OK, "smp_init plans and starts the CPUs once");
	KASSERT(smp_ops, "smp_set_ops before smp_init");
	if (!apic_ready())
		percpu_boot.apic_id = cpu_feat.apic_id;
	if (madt_status != ACPI_OK)
		kprintf("smp: no usable MADT (%s): no other CPU is started\n", acpi_strerror(madt_status));
	else if (!tsc_hz())
		kprintf("smp: no calibrated clock to time INIT-SIPI-SIPI: no other CPU is started\n");
	else if (apic_init_boot(smp_ops, dmar_x2apic_opt_out) == 0)
		percpu_boot.apic_id = apic_id();
	smp_init_delay = smp_plan_init_delay_us(cpu_feat.vendor, cpu_feat.signature);
	if (madt_status == ACPI_OK) {
		/* Planned even when nothing can start, so the CPUs found are known (the summary shows them). */
		planned = true;
		smp_plan_make(madt, percpu_boot.apic_id,
			      !apic_ready() ? SMP_APIC_OFF : apic_x2apic() ? SMP_APIC_X2APIC : SMP_APIC_XAPIC, maxcpus, &plan);
		smp_found = (unsigned)plan.found;
		smp_plan_report(&plan, maxcpus);
		if (apic_ready() && plan.n > 1)
			smp_start_planned(&plan);
	}
	kprintf("smp: %u of %u CPUs started in %llu ms (%s, boot CPU APIC id %u, trampoline at 0x%llx, maxcpus=%u, "
		"INIT delay %u us: %s family 0x%X model 0x%X)\n",
		smp_cpu_count(), smp_found, (unsigned long long)tsc_to_ms(rdtsc() - t0),
		!apic_ready() ? "no local APIC in use" : apic_x2apic() ? "x2APIC" : "xAPIC", percpu_boot.apic_id,
		(unsigned long long)smp_tramp_pa, maxcpus, smp_init_delay, cpu_feat.vendor,
		smp_plan_cpu_family(cpu_feat.signature), smp_plan_cpu_model(cpu_feat.signature));
	if (smp_tramp_unsafe)
		kprintf("smp: the memory map has no free page in [0x%llx, 0x%llx), so the trampoline is at 0x%llx, "
			"where some firmware writes behind the kernel's back\n", SMP_TRAMP_SAFE_LO, SMP_TRAMP_SAFE_HI,
			(unsigned long long)smp_tramp_pa);
}

void smp_enable_interrupts(void)
{
	KASSERT(this_cpu() == &percpu_boot && arch_irq_depth() == 0, "from kmain, outside any arch_irq_save section");
	if (apic_ready())
		sti();
}

/* ---------------------------------------------------------------- tests' start and stop */

int smp_park(unsigned cpu)
{
	KASSERT(this_cpu() == &percpu_boot, "CPUs are parked by the boot CPU");
	if (cpu == 0 || cpu >= SMP_MAX_CPUS || !percpu_of[cpu] ||
	    !(cpumask_has(smp_online_mask(), cpu) || percpu_of[cpu]->state == PERCPU_STOPPED))
		return -1;
	cpumask_atomic_del(&smp_online, cpu, __ATOMIC_ACQ_REL);
	__atomic_store_n(&percpu_of[cpu]->state, PERCPU_PARKED, __ATOMIC_RELEASE);
	smp_send_init(percpu_of[cpu]);
	return 0;
}

int smp_restart(unsigned cpu, enum smp_inject inject, uint64_t answer_us)
{
	if (cpu == 0 || cpu >= SMP_MAX_CPUS || !percpu_of[cpu] || percpu_of[cpu]->state != PERCPU_PARKED ||
	    !smp_tramp_ready)
		return -1;
	return smp_start_cpu(percpu_of[cpu], inject, answer_us, NULL);
}

int smp_restart_with_stray(unsigned cpu, unsigned stray, uint64_t answer_us)
{
	KASSERT(this_cpu() == &percpu_boot, "CPUs are started by the boot CPU, one at a time");
	if (cpu == 0 || cpu >= SMP_MAX_CPUS || !percpu_of[cpu] || percpu_of[cpu]->state != PERCPU_PARKED ||
	    stray == 0 || stray >= SMP_MAX_CPUS || stray == cpu || !percpu_of[stray] ||
	    percpu_of[stray]->state != PERCPU_PARKED || !smp_tramp_ready)
		return -1;
	return smp_start_cpu(percpu_of[cpu], SMP_INJECT_NO_NX, answer_us, percpu_of[stray]);
}

int smp_start_new(uint32_t apic_id, uint64_t answer_us, unsigned *index)
{
	struct percpu *pc;

	if (!apic_ready() || smp_next_index >= SMP_MAX_CPUS || !apic_sipi_vector(smp_tramp_pa) || !smp_tramp_build())
		return -1;
	*index = smp_next_index;
	pc = smp_slot(smp_next_index++, apic_id);
	if (!pc)
		return SMP_STEP_RESOURCES;
	return smp_start_cpu(pc, SMP_INJECT_NONE, answer_us, NULL);
}

int smp_start_late(unsigned late, unsigned next, uint64_t wait_us, uint32_t *next_state, uint32_t *seen)
{
	struct percpu *lp = late < SMP_MAX_CPUS ? percpu_of[late] : NULL, *np = next < SMP_MAX_CPUS ? percpu_of[next] : NULL;
	uint8_t vector = apic_sipi_vector(smp_tramp_pa);

	KASSERT(this_cpu() == &percpu_boot, "CPUs are started by the boot CPU, one at a time");
	if (!lp || !np || late == next || late == 0 || next == 0 || lp->state != PERCPU_PARKED ||
	    np->state != PERCPU_PARKED || !smp_tramp_ready || !vector)
		return -1;
	smp_tramp_fill(np, SMP_INJECT_NONE);
	np->inject = SMP_INJECT_NONE;
	__atomic_store_n(&np->state, PERCPU_STARTING, __ATOMIC_RELEASE);
	apic_send(lp->apic_id, apic_icr_low(APIC_DM_INIT, 0));
	tsc_delay_us(smp_init_delay);
	apic_send(lp->apic_id, apic_icr_low(APIC_DM_STARTUP, vector));
	uint64_t start = rdtsc(), limit = tsc_us_to_ticks(wait_us);
	while (smp_tramp_block()->seen_id == SMP_TRAMP_NOBODY && np->state == PERCPU_STARTING && rdtsc() - start < limit)
		arch_cpu_relax();
	tsc_delay_us(SMP_SIPI_DELAY_US);   /* time for a late CPU that took the state to move on with it */
	*next_state = __atomic_load_n(&np->state, __ATOMIC_ACQUIRE);
	*seen = smp_tramp_block()->seen_id;
	__atomic_store_n(&np->state, PERCPU_PARKED, __ATOMIC_RELEASE);
	smp_send_init(lp);
	smp_send_init(np);
	return 0;
}
