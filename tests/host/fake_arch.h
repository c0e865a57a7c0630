/*
 * The host's fake machine behind include/arch_mm.h: sparse "physical memory", an MMU that walks the
 * page tables mm/ builds, N CPUs (one host thread each) with a software TLB each, the cross-CPU TLB
 * shootdown, and a log of every TLB batch.
 *
 * CPUs. Each host thread acts as one CPU: fake_cpu (thread-local) is what arch_cpu_index() returns
 * to it, 0 until the thread calls fake_cpu_set. Threads running at once must act as different
 * CPUs. The interrupt state (arch_irq_save/restore) is per thread too. CPU 0 alone is online, so a
 * single-threaded test sees a one-CPU machine; fake_smp_run runs a function on CPUs 0..n-1 at once,
 * all online, and a thread of one's own can join with fake_cpu_set and fake_cpu_online. An online
 * CPU must take its mailbox (the TLB batches and calls other CPUs post to it) as the kernel's CPUs
 * do: arch_cpu_poll in every loop that waits (spin_lock does), and, while its interrupts are
 * enabled, at every fake_read/fake_write/fake_add and when it enables them (arch_irq_restore): the
 * model of an interrupt. A CPU left waiting for an acknowledgement or a call for FAKE_WAIT_SECONDS
 * aborts the test with a message: never a hang.
 *
 * TLBs and the MMU. fake_read/fake_write/fake_add access a 64-bit word at a virtual address as the
 * running CPU would: through its TLB, and on a miss through the tables loaded by arch_cr3_load
 * (every CPU runs on those), caching the translation found (its frame, size, write permission and
 * global bit). A not-present entry is never cached, a write the translation forbids faults, and a
 * fault returns false. A CR3 load drops the CPU's non-global translations; the invalidations of
 * include/tlb_batch.h drop what they name, a large leaf with any of its pages. A TLB hit whose
 * translation differs from the tables' (another frame, not present, or writable where the tables
 * say read-only) is a stale hit: the access goes through the stale translation, as on hardware, and
 * is counted in fake_stale, which tests require to stay 0 wherever no change of that mapping is in
 * flight.
 */
#ifndef FAKE_ARCH_H
#define FAKE_ARCH_H

#include "types.h"
#include "tlb_batch.h"

#ifndef FAKE_PHYS_LIMIT                   /* a build may lower it: valgrind cannot reserve 65 GiB */
#define FAKE_PHYS_LIMIT (64ULL << 30)   /* physical addresses the fake RAM can back */
#endif
#define FAKE_PHYS_BITS_DEFAULT 46        /* arch_phys_addr_bits() until a test sets another width */
#define FAKE_WAIT_SECONDS 60             /* a CPU waiting this long for another aborts the test */

/* ---------------------------------------------------------------- the TLB log */

/* One TLB batch as arch_tlb_flush_batch was given it (include/tlb_batch.h). */
struct fake_tlb_flush {
	bool all;                       /* every translation */
	bool irqs_off;                  /* issued with interrupts disabled: a lock was still held */
	uint32_t ranks;                 /* the lock ranks the issuing CPU held (include/spinlock.h) */
	uint8_t origin;                 /* enum tlb_origin */
	unsigned cpu;                   /* the CPU that issued it */
	unsigned n;                     /* pages named, in va[] (0 when all) */
	vaddr_t va[TLB_BATCH_PAGES];
};

/*
 * The log is kept per CPU, so that CPUs flushing at once share no lock and no written cache line
 * (the per-CPU caches' benchmark times their map and unmap on several CPUs): each CPU counts its own
 * batches, and a reader sums the CPUs' counts when it looks. The copies of the first FAKE_TLB_LOG
 * batches since fake_tlb_reset sit in one array in the order the batches were issued in, whatever
 * their CPUs: each batch takes the next slot from one counter, which stops being written once the
 * array is full. ev[k] is thus the k-th batch since the reset: batches from different CPUs in the
 * order they took their slots, so a batch issued after another's arch_tlb_flush_batch returned
 * (on its CPU, or on another that told it so through memory) comes after it.
 */
#define FAKE_TLB_LOG 1024
struct fake_tlb_log {
	uint64_t flushes;                  /* arch_tlb_flush_batch calls since fake_tlb_reset */
	uint64_t pages, alls;              /* pages named by them, and flushes of everything */
	uint64_t irqs_off;                 /* flushes issued with interrupts disabled */
	uint64_t cr3_loads;
	uint64_t logged;                   /* of them copied into ev[]: min(flushes, FAKE_TLB_LOG) */
	const struct fake_tlb_flush *ev;   /* the first FAKE_TLB_LOG flushes, in the order issued */
};
/* The counts of CPU cpu (< ARCH_MAX_CPUS) alone (logged: its entries among ev[], counted there,
 * which is the common array), or of every CPU together for FAKE_TLB_ALL: a snapshot in storage of the calling
 * thread's, valid until its next call. Exact while no other CPU issues batches (before fake_smp_run
 * or after it returns, or while the others wait); read ev[] only then. */
#define FAKE_TLB_ALL (~0u)
const struct fake_tlb_log *fake_tlb_view(unsigned cpu);
/* The whole log, read as the variable it once was: each use sums the CPUs' counts anew. */
#define fake_tlb (*fake_tlb_view(FAKE_TLB_ALL))

/*
 * True when flush k (0 = the first since fake_tlb_reset) named exactly the n pages of want, in any
 * order and each once, and not everything. Prints the difference when false.
 */
bool fake_tlb_flushed_pages(size_t k, const vaddr_t *want, size_t n);
/* The same for npages consecutive pages from va. */
bool fake_tlb_flushed_range(size_t k, vaddr_t va, size_t npages);
/* Every CPU's counts to 0 and the array empty. Call while no other CPU runs. */
void fake_tlb_reset(void);

/* ---------------------------------------------------------------- the machine */

/* Reserves (lazily backed) fake RAM, aligned to 1 GiB so the direct map can use large pages;
 * idempotent. */
void fake_arch_init(void);
/* A fresh machine's hardware state: the first `bytes` of fake RAM read as zeros again (their host
 * pages are dropped), the TLB log and every CPU's TLB and counters cleared, CR3 0, CPU 0 alone
 * online, the caller acting as CPU 0 with interrupts enabled, no poll hook, no stale hit. The
 * physical width and tlb_inject stay. Call while no other CPU thread runs. */
void fake_arch_reset(uint64_t bytes);
/* Sets the physical address width arch_phys_addr_bits() reports (32..52). */
void fake_arch_set_phys_bits(unsigned bits);
/* Makes arch_phys_span_uniform ask fn (a machine whose MTRRs split some ranges); NULL: every range
 * has one memory type, as on a machine without MTRRs. */
void fake_arch_set_span_uniform(bool (*fn)(paddr_t pa, uint64_t bytes));
/* Makes arch_phys_direct_mapped answer ram(frame) for each frame, as a kernel whose direct map holds
 * exactly those frames (write-back); its extent is the frame's 2 MiB block when ram answers the same
 * for all of it, else the page. NULL (the default): the direct map holds no frame, so every requested
 * memory type is written as asked. */
void fake_arch_set_direct_map(bool (*ram)(uint64_t pfn));
/* Makes the direct map hold the 2 MiB blocks whose first frame small(frame) answers true for with
 * 4 KiB pages (a RAM descriptor's edge inside the block): arch_phys_direct_mapped's extent there is
 * the page, whatever ram answers. NULL (the default): none. */
void fake_arch_set_direct_map_small(bool (*small)(uint64_t pfn));

/* ---------------------------------------------------------------- CPUs */

/* The CPU the calling thread acts as (thread-local; 0 until set): below ARCH_MAX_CPUS. A
 * single-threaded test may set it to act as another CPU for a moment (to release a lock CPU 0
 * holds); a thread of a multi-CPU run keeps its own. */
extern _Thread_local unsigned fake_cpu;
void fake_cpu_set(unsigned i);
/* Puts CPU i in the online mask (on) or takes it out: an online CPU is sent every TLB batch and
 * must poll its mailbox (above). */
void fake_cpu_online(unsigned i, bool on);
/* A single-threaded test acting as CPU cpu alone from now on: cpu online, the CPU acted as until
 * now offline (nothing when cpu is already the one), so an unmap's TLB batch goes to no other CPU,
 * which no thread would answer. */
void fake_cpu_switch(unsigned cpu);
/*
 * Runs fn(cpu, arg) on CPUs 0..n-1 at once (1 <= n <= ARCH_MAX_CPUS): CPU 0 in the calling thread,
 * each other in a thread of its own, all online and started together, each with interrupts
 * enabled. A CPU whose fn returned goes idle, polling its mailbox, until every fn returned; then
 * the threads end and CPU 0 alone is online again.
 */
void fake_smp_run(unsigned n, void (*fn)(unsigned cpu, void *arg), void *arg);

/* The interrupt state of the calling thread's CPU as arch_irq_save/restore see it (true = enabled). */
extern _Thread_local bool fake_irq_enabled;
/* Functions arch_cpu_call ran on the caller's own CPU. */
extern uint64_t fake_cpu_calls;
/* arch_cpu_poll calls since start (every CPU), and a function each call runs (NULL after
 * fake_arch_reset): a single-threaded test plays the other CPUs' part with it, for instance
 * releasing a lock one of them holds. */
extern uint64_t fake_cpu_polls;
extern void (*fake_cpu_poll_hook)(void);

/* What one CPU did, counted by its own thread (read them after fake_smp_run returns, or from the
 * CPU itself). */
struct fake_cpu_stats {
	uint64_t rounds;          /* TLB batches it sent to other CPUs (one round each) */
	uint64_t requests;        /* requests sent: one per other CPU per round */
	uint64_t received;        /* other CPUs' batches it applied */
	uint64_t received_all;    /* of which flushes of everything */
	uint64_t received_pages;  /* pages the others named */
	uint64_t polls;           /* arch_cpu_poll calls it made */
	uint64_t hits, misses, faults;   /* fake_read/fake_write/fake_add through its TLB */
};
/* CPU i's counters. */
const struct fake_cpu_stats *fake_cpu_stats(unsigned i);
/* True when something waits in CPU i's mailbox (a TLB batch or a call it has not taken yet): what
 * its interrupt model takes when its interrupts come back on (arch_irq_restore of the outermost
 * section), at an access through its MMU with interrupts enabled, and at every poll. */
bool fake_cpu_mail_waiting(unsigned i);

/* ---------------------------------------------------------------- memory through the MMU */

/* The 64-bit word at va (8-byte aligned) read, written, or atomically added to (a locked add)
 * through the running CPU's TLB and the fake MMU; false (nothing accessed) on a page fault. */
bool fake_read(vaddr_t va, uint64_t *val);
bool fake_write(vaddr_t va, uint64_t val);
bool fake_add(vaddr_t va, uint64_t delta);
/* True when the running CPU's TLB holds a translation of va (whatever it says). */
bool fake_tlb_holds(vaddr_t va);

/* TLB hits that went through a stale translation since fake_arch_reset or fake_stale_reset, and
 * the first one. */
struct fake_stale_hit {
	unsigned cpu;
	vaddr_t va;
	paddr_t tlb_pa;           /* the frame the TLB said */
	bool tlb_writable;
	bool table_present;       /* what the tables said */
	paddr_t table_pa;
	bool table_writable;
};
struct fake_stale_log {
	uint64_t hits;
	struct fake_stale_hit first;
};
extern struct fake_stale_log fake_stale;
void fake_stale_reset(void);
/* Prints the first stale hit as a TAP comment (nothing when there was none). */
void fake_stale_print(void);

#endif
