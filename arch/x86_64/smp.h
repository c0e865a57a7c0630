/*
 * smp_: every CPU the ACPI MADT lists, started, and the primitives to use them.
 *
 * Bring-up (smp_init, boot CPU, once): the local APICs (apic.h), the plan (smp_plan.h), then for
 * each AP in turn INIT, the INIT delay (0 on the CPUs Linux's rule names, else 10 ms: smp_plan.h),
 * a start-up IPI, 200 us, a second start-up IPI if the AP has not answered, and a bounded wait for
 * its answer (every delay from the calibrated TSC). The AP
 * runs the trampoline (trampoline.asm) in the page below 1 MiB that smp_reserve_trampoline kept
 * back, reaches smp_ap_main on its own stack, loads its own GDT, TSS and IST stacks and the
 * shared IDT first (an exception before them would be a triple fault, which normally resets a
 * PC), programs its control state with the boot CPU's function (cpu_init_control_state), loads
 * the kernel's page tables, enables its APIC, comes online, waits for its bit in the online mask,
 * flushes its whole TLB (nothing it translates is older than its join) and goes idle. The
 * trampoline runs smp_ap_main only on the CPU its data block names: a CPU given up on that runs it
 * late halts there, touching nothing of the next CPU's. An AP that does not answer, or answers
 * and does not finish, within the bound is reported (APIC id, the step that failed), sent INIT
 * again (parked: it waits for a start-up IPI and runs nothing) and skipped; it keeps its index,
 * its stacks and its per-CPU page, so a late start cannot land in another CPU's memory.
 *
 * Indexes: the boot CPU is 0, the others follow the MADT's order; a CPU that failed to start
 * leaves its index unused, so the online mask may have holes.
 *
 * Calls: smp_call_many() posts fn/arg into one slot per (target, sender) pair of the target's
 * per-CPU mailbox, sends SMP_VEC_CALL to the targets and waits until each ran it. A target runs
 * posted calls from the IPI handler, from its idle loop, and from smp_poll() wherever it waits;
 * each call runs with interrupts disabled. Idle APs wait in `sti; hlt` (a halted CPU costs no
 * host time in QEMU; the IPI wakes it). The waiting sender runs calls posted to itself, so two
 * CPUs calling each other with interrupts disabled both finish (never a deadlock on the mailbox).
 * A call not completed within smp_call_timeout_us() is a panic naming the CPU: never a hang. A
 * target that stopped for good meanwhile (smp_stop_self) is not waited for.
 */
#ifndef SMP_H
#define SMP_H

#include "types.h"
#include "percpu.h"
#include "acpi.h"
#include "smp_ops.h"

struct trap_frame;

#define SMP_VEC_CALL 0xFD            /* runs the posted calls */
#define SMP_VEC_PING 0xFC            /* does nothing but count (percpu.pings): tests IPI delivery */

#define SMP_SIPI_DELAY_US      200       /* after the first start-up IPI, before the second */
#define SMP_ANSWER_TIMEOUT_US  1000000   /* after the second start-up IPI: the AP must have answered */
#define SMP_HALT_GRACE_US      10000     /* once a CPU halted in the trampoline (no NX, another id): the
					    most the answer is still waited for (a CPU given up on earlier
					    may be the one that halted, the CPU started still running) */
#define SMP_SETUP_TIMEOUT_US   1000000   /* after answering: the AP must be online */
#define SMP_CALL_TIMEOUT_US    10000000  /* per 16 CPUs online: a call must be done by then, or the kernel panics */
#define SMP_CALL_TIMEOUT_CPUS  16        /* ... (smp_call_timeout_us) */
#define SMP_STOP_TIMEOUT_US    100000    /* smp_stop_others waits this long for the NMIs to land */

/* What failed when a CPU did not start (0: it started). */
enum smp_step {
	SMP_STARTED = 0,
	SMP_STEP_RESOURCES,       /* no memory for its per-CPU page or stacks */
	SMP_STEP_INIT,            /* the INIT IPI stayed in the ICR (delivery status busy) */
	SMP_STEP_SIPI,            /* a start-up IPI stayed in the ICR */
	SMP_STEP_ANSWER,          /* no answer after INIT-SIPI-SIPI */
	SMP_STEP_SETUP,           /* answered, then not online in time */
	SMP_STEP_IDENTITY,        /* answered with another APIC id than the one it was sent to */
	SMP_STEP_NO_NX,           /* the boot CPU uses NX and this one's CPUID shows none (trampoline.asm:
				   * the block's no_nx carries this CPU's APIC id + 1; another CPU's is a stray's) */
	SMP_STEP_COUNT
};

/* Faults a test can make a start suffer (percpu.inject). */
enum smp_inject {
	SMP_INJECT_NONE,
	SMP_INJECT_NO_ANSWER,     /* the trampoline enters a halt loop instead of smp_ap_main */
	SMP_INJECT_STALL_SETUP,   /* the AP answers, then halts before it is online */
	SMP_INJECT_STALE_TLB,     /* after loading the kernel's tables the AP reads percpu.inject_va,
				   * then stores inject_pte_new at inject_pte (its PTE): a translation
				   * cached before the join that its join must flush */
	SMP_INJECT_NO_NX,         /* the trampoline acts as on a CPU whose CPUID shows no NX while the
				   * boot CPU uses it: it writes its APIC id + 1 into the block's no_nx and
				   * halts */
	SMP_INJECT_EARLY_FAULT,   /* the AP takes a page fault (a probe read) where its setup begins,
				   * before its control state: percpu.inject_result gets the probe's -1 */
};

/* Registers the kernel's services the bring-up calls up to (smp_ops.h); once, before anything
 * below. ops must stay valid for good and name every service (a NULL one is a panic). */
void smp_set_ops(const struct smp_ops *ops);
/* Keeps a page below 1 MiB back for the trampoline (through ops->alloc): one in [64 KiB, 0x9F000)
 * when the map has one free, else any free page below 1 MiB; called right after phys_init and again
 * after the loader's memory is released, which may free a page of the first kind (the page taken
 * before is then given back). */
void smp_reserve_trampoline(void);
/* The trampoline's page, or 0 when none could be kept back. */
paddr_t smp_trampoline_page(void);
/* True when the trampoline's page lies in the first 64 KiB or from 0x9F000 up, where PC firmware may
 * write behind the kernel's back: the map had no free page between. */
bool smp_trampoline_page_unsafe(void);

/*
 * Starts the CPUs madt lists (madt_status: acpi_read_madt's result), at most maxcpus of them, the
 * boot CPU counted, with the APICs in the mode apic_init_boot chooses (dmar_x2apic_opt_out: the
 * ACPI DMAR's X2APIC_OPT_OUT flag). Needs the calibrated TSC; without it, or without a MADT or a local APIC, no
 * other CPU is started, with a message saying why. Prints one line per CPU not started and a
 * total. Plans and starts once: later calls (tests) may only pass a failed madt_status.
 */
void smp_init(const struct acpi_madt_info *madt, int madt_status, bool dmar_x2apic_opt_out, unsigned maxcpus);

/* The INIT delay every start uses, in microseconds: smp_plan_init_delay_us of the boot CPU from
 * smp_init on (0 or SMP_INIT_DELAY_LEGACY_US), SMP_INIT_DELAY_LEGACY_US before. */
uint32_t smp_init_delay_us(void);
/* CPUs online (taking calls), and the mask of their indexes. */
unsigned smp_cpu_count(void);
cpumask_t smp_online_mask(void);
/* Distinct CPUs the MADT lists as able to run, the boot CPU included (1 without a MADT). */
unsigned smp_cpus_found(void);
/* The index of the running CPU. */
unsigned smp_self(void);

/*
 * Runs fn(arg) on every online CPU in mask and returns when all have returned; the caller's own
 * bit runs fn here, after the others were sent theirs. Callable with interrupts enabled or not.
 * Not re-entrant on one CPU (its slots in the targets are busy until it returns: a panic): so fn
 * may call other CPUs itself only where its CPU cannot be inside smp_call_many (the tests do that
 * on purpose; a TLB flush never calls).
 */
void smp_call_many(cpumask_t mask, void (*fn)(void *arg), void *arg);
/*
 * How long a call (smp_call_many) or a shootdown's acknowledgements may take before the kernel
 * panics: SMP_CALL_TIMEOUT_US per SMP_CALL_TIMEOUT_CPUS CPUs online, at least once. A call that
 * works with every other CPU (a shootdown's acknowledgements, a test's hand-overs) takes longer the
 * more CPUs there are, and under an emulator each vCPU's turn on the host's cores does too: 64
 * vCPUs of QEMU's TCG on two host cores take seconds per round of 63 acknowledgements.
 */
uint64_t smp_call_timeout_us(void);
/* smp_call_timeout_us with `cpus` CPUs online (a test's waits inside a call stay below it). */
uint64_t smp_call_timeout_us_for(unsigned cpus);
/* smp_call_many on one CPU; -1 when cpu is not online. */
int smp_call(unsigned cpu, void (*fn)(void *arg), void *arg);
/* smp_call_many on every online CPU but the caller. */
void smp_call_all(void (*fn)(void *arg), void *arg);
/* Runs the calls posted to this CPU; for loops that wait with interrupts disabled. */
void smp_poll(void);

/* Sends a fixed-vector IPI to every online CPU in mask (the caller's own bit: a self-IPI, taken
 * when it enables interrupts); returns the number of sends that stayed busy. */
int smp_send_ipi(cpumask_t mask, uint8_t vector);
/* Sends an NMI to every online CPU in mask; returns the number of sends that stayed busy. */
int smp_send_nmi(cpumask_t mask);

/* The interrupt vectors above: true when tf's vector was one (then it is handled). */
bool smp_interrupt(struct trap_frame *tf);
/* The NMI hook: counts it; halts the CPU for smp_stop_others; true when the NMI was expected. */
bool smp_nmi(struct trap_frame *tf);
/*
 * Stops the running CPU for good: interrupts off, out of the online mask (release: what it did is
 * visible to whoever sees it gone), PERCPU_STOPPED, then halted (an NMI or SMI only comes back to the
 * halt). Calls and shootdowns started later leave it out; one already waiting for it stops waiting
 * (smp_wait_done, tlb_wait_acks). For a CPU that stands aside while another ends the machine.
 */
__attribute__((noreturn)) void smp_stop_self(void);
/* Halts every other online CPU through an NMI (the machine is ending): they leave the online mask
 * and stop wherever they are. Returns the CPUs that confirmed within SMP_STOP_TIMEOUT_US. */
unsigned smp_stop_others(void);
/*
 * Turns interrupts on for the boot CPU once its APIC works (kmain, after smp_init): from then on it
 * takes calls and IPIs as the APs do, between its arch_irq_save sections. The only interrupts the
 * kernel enables are the IPIs of this file (apic.h masks every other source).
 */
void smp_enable_interrupts(void);

/*
 * For tests, on the boot CPU. smp_park sends an online (or stopped) AP INIT (it stops where it is
 * and waits for a start-up IPI). smp_restart starts a parked CPU again with a fault injected, waiting
 * answer_us for its answer and for its setup; smp_start_new tries an APIC id no CPU has at the
 * next free index. Both return enum smp_step, after reporting and parking on failure.
 */
int smp_park(unsigned cpu);
int smp_restart(unsigned cpu, enum smp_inject inject, uint64_t answer_us);
int smp_start_new(uint32_t apic_id, uint64_t answer_us, unsigned *index);
/*
 * For tests, on the boot CPU: a stray CPU without NX. Restarts the parked CPU cpu as smp_restart
 * does with SMP_INJECT_NO_NX, but first sends INIT and a start-up IPI to the parked CPU stray, which
 * runs the trampoline filled for cpu, takes the no-NX path (the injection is the block's) and halts
 * with its own tag, as a CPU given up on that lacks NX would, starting late; stray is sent INIT
 * again after. The start must not take stray's flag for cpu's: cpu's step as smp_restart's, and
 * percpu_of[cpu]->stray_no_nx is stray's APIC id + 1 when the start saw it. -1 when either is not
 * a parked AP, or they are the same.
 */
int smp_restart_with_stray(unsigned cpu, unsigned stray, uint64_t answer_us);
/*
 * For tests, on the boot CPU: a late CPU. Fills the trampoline's data block for the parked CPU
 * next and makes next STARTING, as a start of next does, but sends INIT and a start-up IPI to the
 * parked CPU late instead (a CPU given up on before, running the trampoline now); waits up to
 * wait_us for a sign of it, then parks both again. *next_state: next's state before that (STARTING
 * when the late CPU took nothing of next's); *seen: the APIC id the trampoline recorded as having
 * found the block naming another CPU (0xFFFFFFFF: none). -1 when either is not a parked AP.
 */
int smp_start_late(unsigned late, unsigned next, uint64_t wait_us, uint32_t *next_state, uint32_t *seen);
/* The words for a step. */
const char *smp_step_text(int step);

#endif
