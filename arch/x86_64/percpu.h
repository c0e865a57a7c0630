/*
 * percpu_: each CPU's own data, reached through the GS base. MSR_GS_BASE holds the address of the
 * running CPU's struct percpu, whose first word points to itself, so this_cpu() is one load from
 * %gs:0. The boot CPU's structure is static (percpu_boot, set first thing in kmain, before any
 * lock is taken); each AP's is a zeroed page run of its own (arch/x86_64/smp.c), set by the AP
 * before it touches anything shared. There is no scheduler: code never moves between CPUs, so a
 * pointer from this_cpu() stays the running CPU's.
 */
#ifndef PERCPU_H
#define PERCPU_H

#include "types.h"
#include "tlb_batch.h"
#include "cpumask.h"

#define SMP_MAX_CPUS CPUMASK_MAX_CPUS /* CPUs the kernel runs on (include/cpumask.h says why 255) */

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS   0x18               /* 16-byte system descriptor: entries 3 and 4 */
#define GDT_ENTRIES 5

/* IST slots (1-based in the IDT, 0-based in ist_top[]). */
#define IST_DF 1
#define IST_NMI 2
#define IST_MC 3
#define PERCPU_IST_COUNT 3
#define PERCPU_IST_SIZE 0x4000       /* bytes of each IST stack, on every CPU */

/* The boot CPU's #DF, NMI and #MC stacks (percpu.c), each above a guard page that vm_init leaves
 * unmapped, as in an AP's slot (smp.c): an overflow of one faults instead of writing over the data
 * below it. Page aligned, so each guard is one whole page. */
struct percpu_boot_ist {
	uint8_t guard[PAGE_SIZE];
	uint8_t stack[PERCPU_IST_SIZE];
} __attribute__((aligned(PAGE_SIZE)));
_Static_assert(PERCPU_IST_SIZE % PAGE_SIZE == 0, "each boot IST stack ends where the next guard page starts");
extern struct percpu_boot_ist percpu_boot_ist[PERCPU_IST_COUNT];

/* The 64-bit task-state segment: only the IST pointers and the I/O map base are used. */
struct x86_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* One posted call: written by its sender only, while done is set (see smp.c). */
struct smp_call_slot {
	void (*fn)(void *arg);
	void *arg;
	volatile uint32_t done;          /* the target ran fn and returned */
} __attribute__((aligned(64)));

/* Where a CPU is in its life (the AP writes ALIVE, ONLINE and WRONG_ID; the boot CPU the rest). */
enum percpu_state {
	PERCPU_ABSENT = 0,               /* never started */
	PERCPU_STARTING,                 /* INIT-SIPI-SIPI sent, no answer yet */
	PERCPU_ALIVE,                    /* the AP runs kernel code on its own stack */
	PERCPU_ONLINE,                   /* set up; idle, taking calls */
	PERCPU_WRONG_ID,                 /* set up, its APIC shows another id than the MADT's: halted */
	PERCPU_PARKED,                   /* given up on, or stopped for a test: INIT sent, waits for SIPI */
	PERCPU_STOPPED,                  /* halted by smp_stop_others (the machine is ending) */
};

struct percpu {
	struct percpu *self;             /* offset 0: this_cpu() reads %gs:0 */
	uint32_t index;                  /* 0 = the boot CPU, then in MADT order */
	uint32_t apic_id;                /* local APIC id (x2APIC id in x2APIC mode) */
	uint64_t stack_top;              /* the kernel stack this CPU started on: [stack_bottom, stack_top) */
	uint64_t stack_bottom;
	uint64_t ist_top[PERCPU_IST_COUNT]; /* top of the #DF, NMI and #MC stacks */
	uint32_t irq_depth;              /* arch_irq_save sections open on this CPU */
	uint32_t irq_nesting;            /* interrupt and exception handlers running on this CPU */
	volatile uint32_t state;         /* enum percpu_state */
	volatile uint32_t inject;        /* enum smp_inject: a start fault for tests (smp.h) */
	volatile uint32_t apic_id_seen;  /* the id the AP read from its own APIC when it started */
	uint32_t start_esr;              /* the boot CPU's APIC errors over this CPU's last INIT-SIPI-SIPI (apic_esr.h) */
	uint32_t stray_no_nx;            /* the APIC id + 1 of another CPU that halted for want of NX during
					  * this CPU's last start, 0: none (smp.c, trampoline.asm) */
	uint64_t inject_va;              /* SMP_INJECT_STALE_TLB: the address whose translation goes stale */
	volatile uint64_t *inject_pte;   /* its PTE (through the direct map) and the value stored there */
	uint64_t inject_pte_new;
	volatile int32_t inject_result;  /* SMP_INJECT_EARLY_FAULT: the probe's result (-1: faulted, handled) */
	uint32_t calling;                /* inside smp_call_many: its slots in other CPUs are busy */
	volatile uint32_t nmi_expected;  /* NMIs a test sent: taken quietly (counted down) */
	volatile uint32_t stop_requested; /* smp_stop_others: the next NMI halts this CPU */
	volatile uint64_t pings;         /* SMP_VEC_PING interrupts taken */
	volatile uint64_t nmis;          /* NMIs taken */
	volatile uint64_t nmi_rsp;       /* a stack address inside the last NMI's handler */
	uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
	struct x86_tss tss __attribute__((aligned(16)));
	cpumask_t call_pending __attribute__((aligned(64))); /* s in it: call_slot[s] posted */
	struct smp_call_slot call_slot[SMP_MAX_CPUS];                /* one per sending CPU */
	/* The TLB shootdown (arch/x86_64/tlb.c): this CPU as a receiver, then as an issuer. */
	cpumask_t tlb_pending __attribute__((aligned(64))); /* s in it: CPU s's tlb_out awaits this CPU */
	cpumask_t tlb_acks __attribute__((aligned(64)));    /* CPUs yet to apply this CPU's tlb_out */
	uint32_t tlb_busy;               /* inside arch_tlb_flush_batch: one round at a time */
	struct tlb_batch tlb_out;        /* the batch of this CPU's current (or last) round */
	struct tlb_cpu_stats {           /* counted by this CPU alone; tests and the benchmark read them */
		volatile uint64_t rounds;        /* batches it sent to other CPUs (one round each) */
		volatile uint64_t requests;      /* requests it sent: one per other CPU per round */
		volatile uint64_t received;      /* batches of other CPUs it applied */
		volatile uint64_t received_all;  /* of which flushes of everything */
		volatile uint64_t received_pages; /* pages named by the others */
	} tlb_stats;
};

_Static_assert(__builtin_offsetof(struct percpu, self) == 0, "this_cpu() reads %gs:0");

/* The running CPU's data (valid from the first line of kmain on the boot CPU, and on an AP from its
 * first C statement). */
static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

extern struct percpu percpu_boot;
/* The structure of CPU index i (NULL when no CPU has that index). */
extern struct percpu *percpu_of[SMP_MAX_CPUS];

/* Points the GS base at the boot CPU's structure (and fills it); the first call in kmain. */
void percpu_init_boot(void);
/* Points this CPU's GS base at pc (MSR_GS_BASE; KERNEL_GS_BASE cleared). */
void percpu_set_gs(struct percpu *pc);
/* Builds pc's GDT and TSS (IST stacks from pc->ist_top), loads them on this CPU, reloads every
 * segment register and points GS at pc again (a null GS selector may clear the base). */
void gdt_init_cpu(struct percpu *pc);

#endif
