/*
 * Host implementation of include/arch_mm.h (contract of the model in fake_arch.h). "Physical memory"
 * is one lazily-backed anonymous mapping of FAKE_PHYS_LIMIT bytes: only pages the code touches use
 * host memory, so maps with RAM far above 4 GiB cost nothing. Each CPU is a host thread with a
 * software TLB and a mailbox; the TLB shootdown follows the kernel's protocol (arch/x86_64/tlb.c):
 * the issuer copies its batch into its own tlb_out, sets the receivers' bits in its tlb_acks and its
 * bit in each receiver's tlb_pending, applies the batch itself and waits, applying the batches posted
 * to it, until every online receiver acknowledged.
 */
#include <sys/mman.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "arch_mm.h"
#include "arch_pte.h"
#include "spinlock.h"
#include "fake_arch.h"

#define FAKE_TLB_SETS 512         /* 4 KiB translations: direct-mapped by page number */
#define FAKE_TLB_LARGE 16         /* 2 MiB and 1 GiB translations: replaced in turn */
_Static_assert(FAKE_TLB_LARGE <= 32, "large_used has a bit per large entry");

/* One cached translation: valid while level != 0 and its generations are the CPU's. */
struct fake_tlbe {
	vaddr_t va;                   /* first address it translates (aligned to its size) */
	paddr_t pa;                   /* the frame */
	uint32_t gen, gen_ng;         /* the CPU's generations when it was filled */
	uint8_t level;                /* 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB; 0 = empty */
	bool writable, global;
};

/* One posted call (arch_cpu_call): written by its sender while done is set. */
struct fake_call_slot {
	void (*fn)(void *arg);
	void *arg;
	uint32_t done;
};

struct fake_cpu_state {
	/* The TLB: touched by the thread acting as this CPU alone. */
	struct fake_tlbe small[FAKE_TLB_SETS], large[FAKE_TLB_LARGE];
	unsigned large_next;
	uint32_t large_used;          /* bit i: large[i] was filled since it was last invalidated by
					 address (it may be old by generation): only those are searched */
	uint32_t gen;                 /* a flush of everything makes every entry old */
	uint32_t gen_ng;              /* a CR3 load makes every non-global entry old */
	bool filled_g, filled_ng;     /* a global (non-global) entry was filled since the generation
					 that makes it old last changed: while neither is, no entry is
					 valid and an invalidation by address has nothing to do */
	/* The mailbox, as on the kernel (arch/x86_64/percpu.h). */
	arch_cpumask_t tlb_pending;   /* s in it: CPU s's tlb_out awaits this CPU */
	arch_cpumask_t tlb_acks;      /* CPUs yet to apply this CPU's tlb_out */
	bool tlb_busy;                /* inside arch_tlb_flush_batch */
	struct tlb_batch tlb_out;
	arch_cpumask_t call_pending;  /* s in it: call_slot[s] posted */
	struct fake_call_slot call_slot[ARCH_MAX_CPUS];
	bool calling;                 /* inside arch_cpu_call */
	struct fake_cpu_stats stats;
} __attribute__((aligned(64)));

/* One CPU's part of the TLB log (fake_arch.h), on cache lines of its own: written by the thread
 * acting as that CPU alone, with relaxed atomic stores so that a reader may sum while it runs. */
struct fake_tlb_count {
	uint64_t flushes, pages, alls, irqs_off, cr3_loads;
} __attribute__((aligned(64)));

/* The slots of fake_tlb_ev taken since fake_tlb_reset, alone on its cache line. Every batch reads
 * it; a batch takes a slot only while it is below FAKE_TLB_LOG, so it ends at most one per CPU
 * past that and from then on is only read: the CPUs keep shared copies of the line. */
static struct {
	uint64_t taken;
} __attribute__((aligned(64))) fake_tlb_slots;

static struct fake_tlb_count fake_tlb_counts[ARCH_MAX_CPUS];
static struct fake_tlb_flush fake_tlb_ev[FAKE_TLB_LOG];
struct fake_stale_log fake_stale;
unsigned tlb_inject;
_Thread_local unsigned fake_cpu;
_Thread_local bool fake_irq_enabled = true;
static _Thread_local unsigned fake_irq_depth;
uint64_t fake_cpu_calls;
uint64_t fake_cpu_polls;
void (*fake_cpu_poll_hook)(void);

static struct fake_cpu_state fake_cpus[ARCH_MAX_CPUS];
static arch_cpumask_t fake_online = { { 1 } };
static paddr_t fake_cr3;
static uint8_t *fake_ram;
static unsigned fake_phys_bits = FAKE_PHYS_BITS_DEFAULT;

/* Aborts the test with a message: the fake machine's panic. */
static void __attribute__((noreturn, format(printf, 1, 2))) fake_die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "fake_arch: CPU %u: ", fake_cpu);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* The calling thread's CPU. */
static struct fake_cpu_state *fake_me(void) { return &fake_cpus[fake_cpu]; }

/* Adds d to a counter of the running CPU's that other threads may read: a plain add, made of a
 * relaxed load and store (the CPU's thread is its one writer). */
static inline void fake_count(uint64_t *counter, uint64_t d)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

static arch_cpumask_t fake_online_mask(void) { return cpumask_atomic_load(&fake_online, __ATOMIC_ACQUIRE); }

/* Seconds on a monotonic clock, for the bounded waits. */
static double fake_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- RAM and the machine */

void fake_arch_init(void)
{
	if (fake_ram)
		return;
	/* One slack GiB so the start can be aligned; the slack stays reserved and untouched. */
	uint8_t *m = mmap(NULL, FAKE_PHYS_LIMIT + SIZE_1G, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		perror("fake_arch_init: mmap");
		abort();
	}
	fake_ram = (uint8_t *)ALIGN_UP((uintptr_t)m, SIZE_1G);
	/* FAKE_RAM_HUGE set and not "0" (bench_region sets it unless given): RAM on the host's 2 MiB
	 * pages, as the kernel reaches its tables and metadata through the direct map's large pages
	 * (README, "Reserve/free against the region's size"). A hint: where the host has no
	 * transparent huge pages it changes nothing. */
	const char *huge = getenv("FAKE_RAM_HUGE");
	if (huge && strcmp(huge, "0") != 0)
		(void)madvise(fake_ram, FAKE_PHYS_LIMIT, MADV_HUGEPAGE);
}

void fake_arch_reset(uint64_t bytes)
{
	fake_arch_init();
	if (bytes > FAKE_PHYS_LIMIT)
		bytes = FAKE_PHYS_LIMIT;
	if (bytes && madvise(fake_ram, bytes, MADV_DONTNEED)) {
		perror("fake_arch_reset: madvise");
		abort();
	}
	fake_tlb_reset();
	fake_stale_reset();
	memset(fake_cpus, 0, sizeof(fake_cpus));
	fake_online = cpumask_of(0);
	fake_cr3 = 0;
	fake_irq_enabled = true;
	fake_cpu = 0;
	fake_cpu_poll_hook = NULL;
}

void fake_arch_set_phys_bits(unsigned bits)
{
	if (bits < 32 || bits > 52) {
		fprintf(stderr, "fake_arch_set_phys_bits: %u is not a physical address width (32..52)\n", bits);
		abort();
	}
	fake_phys_bits = bits;
}

unsigned arch_phys_addr_bits(void) { return fake_phys_bits; }

static bool (*fake_span_uniform)(paddr_t pa, uint64_t bytes);

void fake_arch_set_span_uniform(bool (*fn)(paddr_t pa, uint64_t bytes)) { fake_span_uniform = fn; }

bool arch_phys_span_uniform(paddr_t pa, uint64_t bytes)
{
	return !fake_span_uniform || fake_span_uniform(pa, bytes);
}

static bool (*fake_direct_map)(uint64_t pfn);

void fake_arch_set_direct_map(bool (*ram)(uint64_t pfn)) { fake_direct_map = ram; }

static bool (*fake_direct_small)(uint64_t pfn);

void fake_arch_set_direct_map_small(bool (*small)(uint64_t pfn)) { fake_direct_small = small; }

bool arch_phys_direct_mapped(paddr_t pa, uint64_t *extent)
{
	uint64_t pfn = pa >> PAGE_SHIFT, first = pfn & ~(uint64_t)(ARCH_PT_ENTRIES - 1);
	if (!fake_direct_map) {
		*extent = SIZE_2M;
		return false;
	}
	bool in = fake_direct_map(pfn);
	*extent = SIZE_2M;
	if (fake_direct_small && fake_direct_small(first)) {
		*extent = PAGE_SIZE;
		return in;
	}
	for (uint64_t k = 0; k < ARCH_PT_ENTRIES; k++)
		if (fake_direct_map(first + k) != in) {
			*extent = PAGE_SIZE;
			break;
		}
	return in;
}

void *arch_phys_to_virt(paddr_t pa)
{
	if (!fake_ram)
		fake_arch_init();
	if (pa >= FAKE_PHYS_LIMIT) {
		fprintf(stderr, "fake_arch: physical address 0x%llx beyond the fake RAM\n", (unsigned long long)pa);
		abort();
	}
	return fake_ram + pa;
}

void arch_cr3_load(paddr_t root)
{
	__atomic_store_n(&fake_cr3, root, __ATOMIC_RELEASE);
	arch_tlb_invalidate_nonglobal();
	fake_count(&fake_tlb_counts[fake_cpu].cr3_loads, 1);
}

paddr_t arch_cr3_read(void) { return __atomic_load_n(&fake_cr3, __ATOMIC_ACQUIRE); }

/* ---------------------------------------------------------------- the TLB log */

void fake_tlb_reset(void)
{
	memset(fake_tlb_counts, 0, sizeof(fake_tlb_counts));
	__atomic_store_n(&fake_tlb_slots.taken, 0, __ATOMIC_RELAXED);
}

/* Batches copied into fake_tlb_ev since the reset: the slots taken, at most all of them. */
static uint64_t fake_tlb_nlogged(void)
{
	uint64_t t = __atomic_load_n(&fake_tlb_slots.taken, __ATOMIC_RELAXED);
	return t < FAKE_TLB_LOG ? t : FAKE_TLB_LOG;
}

const struct fake_tlb_log *fake_tlb_view(unsigned cpu)
{
	static _Thread_local struct fake_tlb_log v;
	if (cpu >= ARCH_MAX_CPUS && cpu != FAKE_TLB_ALL)
		fake_die("fake_tlb_view(%u): CPUs are 0..%u", cpu, ARCH_MAX_CPUS - 1);
	bool all = cpu == FAKE_TLB_ALL;
	uint64_t n = fake_tlb_nlogged();
	v = (struct fake_tlb_log){ .ev = fake_tlb_ev, .logged = all ? n : 0 };
	for (unsigned i = all ? 0 : cpu; i < (all ? ARCH_MAX_CPUS : cpu + 1); i++) {
		const struct fake_tlb_count *c = &fake_tlb_counts[i];
		v.flushes += __atomic_load_n(&c->flushes, __ATOMIC_RELAXED);
		v.pages += __atomic_load_n(&c->pages, __ATOMIC_RELAXED);
		v.alls += __atomic_load_n(&c->alls, __ATOMIC_RELAXED);
		v.irqs_off += __atomic_load_n(&c->irqs_off, __ATOMIC_RELAXED);
		v.cr3_loads += __atomic_load_n(&c->cr3_loads, __ATOMIC_RELAXED);
	}
	for (uint64_t k = 0; !all && k < n; k++)   /* one CPU's share of the log: its entries */
		v.logged += fake_tlb_ev[k].cpu == cpu;
	return &v;
}

static int fake_cmp_va(const void *a, const void *b)
{
	vaddr_t x = *(const vaddr_t *)a, y = *(const vaddr_t *)b;
	return (x > y) - (x < y);
}

bool fake_tlb_flushed_pages(size_t k, const vaddr_t *want, size_t n)
{
	uint64_t logged = fake_tlb_nlogged();
	if (k >= logged || n > TLB_BATCH_PAGES) {
		printf("# fake_tlb: flush %zu not logged (%llu are), or %zu pages asked for\n", k,
		       (unsigned long long)logged, n);
		return false;
	}
	const struct fake_tlb_flush *f = &fake_tlb_ev[k];
	vaddr_t got[TLB_BATCH_PAGES], exp[TLB_BATCH_PAGES];
	memcpy(got, f->va, f->n * sizeof(vaddr_t));
	memcpy(exp, want, n * sizeof(vaddr_t));
	qsort(got, f->n, sizeof(vaddr_t), fake_cmp_va);
	qsort(exp, n, sizeof(vaddr_t), fake_cmp_va);
	bool same = !f->all && f->n == n && memcmp(got, exp, n * sizeof(vaddr_t)) == 0;
	if (!same) {
		printf("# fake_tlb: flush %zu named %s%u pages:", k, f->all ? "everything, " : "", f->n);
		for (unsigned i = 0; i < f->n; i++)
			printf(" %llx", (unsigned long long)got[i]);
		printf("\n# fake_tlb: expected %zu:", n);
		for (size_t i = 0; i < n; i++)
			printf(" %llx", (unsigned long long)exp[i]);
		printf("\n");
	}
	return same;
}

bool fake_tlb_flushed_range(size_t k, vaddr_t va, size_t npages)
{
	vaddr_t want[TLB_BATCH_PAGES];
	if (npages > TLB_BATCH_PAGES)
		return false;
	for (size_t i = 0; i < npages; i++)
		want[i] = va + i * PAGE_SIZE;
	return fake_tlb_flushed_pages(k, want, npages);
}

/* Takes the next slot of fake_tlb_ev for batch b from CPU self and copies b into it, unless every slot is taken. Slots are taken in one order by all CPUs, so the
 * array is the log's global order; each slot is written by the CPU that took it alone. */
static void __attribute__((noinline)) fake_tlb_log_copy(const struct tlb_batch *b, unsigned self)
{
	uint64_t k = __atomic_fetch_add(&fake_tlb_slots.taken, 1, __ATOMIC_RELAXED);
	if (k >= FAKE_TLB_LOG)
		return;
	struct fake_tlb_flush *f = &fake_tlb_ev[k];
	*f = (struct fake_tlb_flush){ .all = b->all, .irqs_off = !fake_irq_enabled, .ranks = spin_cpus[self].held,
				      .origin = b->origin, .cpu = self,
				      .n = b->all ? 0 : b->n };
	memcpy(f->va, b->va, f->n * sizeof(vaddr_t));
}

/* Records batch b from CPU self, and whether a lock (interrupts disabled) was still held: CPU
 * self's counts, and a copy of each of the first FAKE_TLB_LOG batches since the reset. No lock and
 * no line another CPU writes, once the array is full: CPUs flushing at once do not wait for each
 * other here (the per-CPU caches' benchmark times their unmaps on several CPUs). */
static inline void fake_tlb_log_batch(const struct tlb_batch *b, unsigned self)
{
	struct fake_tlb_count *c = &fake_tlb_counts[self];
	if (__atomic_load_n(&fake_tlb_slots.taken, __ATOMIC_RELAXED) < FAKE_TLB_LOG)
		fake_tlb_log_copy(b, self);
	fake_count(&c->flushes, 1);
	fake_count(&c->alls, b->all);
	fake_count(&c->pages, b->all ? 0 : b->n);
	fake_count(&c->irqs_off, !fake_irq_enabled);
}

/* ---------------------------------------------------------------- one CPU's TLB */

static uint64_t fake_level_size(int level) { return 1ULL << arch_pt_level_shift(level); }

static bool fake_tlbe_valid(const struct fake_cpu_state *c, const struct fake_tlbe *e)
{
	return e->level && e->gen == c->gen && (e->global || e->gen_ng == c->gen_ng);
}

static struct fake_tlbe *fake_tlb_slot(struct fake_cpu_state *c, vaddr_t va)
{
	return &c->small[(va >> PAGE_SHIFT) % FAKE_TLB_SETS];
}

/* The running CPU's translation of va, or NULL. */
static struct fake_tlbe *fake_tlb_lookup(struct fake_cpu_state *c, vaddr_t va)
{
	for (uint32_t m = c->large_used; m; m &= m - 1) {
		struct fake_tlbe *e = &c->large[__builtin_ctz(m)];
		if (fake_tlbe_valid(c, e) && va - e->va < fake_level_size(e->level))
			return e;
	}
	struct fake_tlbe *e = fake_tlb_slot(c, va);
	return fake_tlbe_valid(c, e) && e->va == (va & ~PAGE_MASK) ? e : NULL;
}

/* Drops CPU c's translations containing va: its 4 KiB slot, and the large entries filled since
 * their last drop (large_used), those made old by a flush of everything with them. */
static void __attribute__((noinline)) fake_tlb_drop(struct fake_cpu_state *c, vaddr_t va)
{
	for (uint32_t m = c->large_used; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		struct fake_tlbe *e = &c->large[i];
		if (!fake_tlbe_valid(c, e) || va - e->va < fake_level_size(e->level)) {
			e->level = 0;
			c->large_used &= ~(1u << i);
		}
	}
	struct fake_tlbe *e = fake_tlb_slot(c, va);
	if (e->va == (va & ~PAGE_MASK))
		e->level = 0;
}

/* Drops the running CPU's translations containing va (fake_tlb_drop). A TLB that holds no valid
 * entry (nothing filled since the last flush of everything, or of the non-global entries when no
 * global one was filled) has nothing to drop: the common case of the benchmarks, whose maps are
 * never read through the fake MMU, pays that one test, inline in the batch's loop. */
void arch_tlb_invalidate_page(vaddr_t va)
{
	struct fake_cpu_state *c = fake_me();
	if (c->filled_g | c->filled_ng)
		fake_tlb_drop(c, va);
}

/* Every entry old by generation: the TLB holds nothing valid. */
void arch_tlb_invalidate_all(void)
{
	struct fake_cpu_state *c = fake_me();
	c->gen++;
	c->filled_g = c->filled_ng = false;
}

/* Every non-global entry old by generation: only global ones may stay valid. */
void arch_tlb_invalidate_nonglobal(void)
{
	struct fake_cpu_state *c = fake_me();
	c->gen_ng++;
	c->filled_ng = false;
}

bool fake_tlb_holds(vaddr_t va) { return fake_tlb_lookup(fake_me(), va) != NULL; }

/* ---------------------------------------------------------------- the MMU */

/* A translation the tables give. */
struct fake_xlat {
	vaddr_t va;                   /* first address of the leaf */
	paddr_t pa;
	int level;
	bool writable, global;
};

/* Walks the loaded tables for va: true with its leaf, false when some level is not present. */
static bool fake_mmu_walk(vaddr_t va, struct fake_xlat *x)
{
	paddr_t table = arch_cr3_read();
	if (!table || !arch_va_canonical(va))
		return false;
	for (int l = ARCH_PT_LEVELS; l >= 1; l--) {
		volatile pte_t *t = arch_phys_to_virt(table);
		pte_t e = arch_pte_read(&t[(va >> arch_pt_level_shift(l)) % ARCH_PT_ENTRIES]);
		if (!arch_pte_present(e))
			return false;
		if (arch_pte_is_leaf(e, l)) {
			unsigned prot = arch_pte_prot(e, PT_FEAT_ALL);
			*x = (struct fake_xlat){ .va = va & ~(fake_level_size(l) - 1), .pa = arch_pte_frame(e, l), .level = l,
						 .writable = prot & PT_PROT_W, .global = prot & PT_PROT_G };
			return true;
		}
		table = arch_pte_frame(e, l);
	}
	return false;
}

/* Caches translation x in the running CPU's TLB. */
static void fake_tlb_fill(struct fake_cpu_state *c, const struct fake_xlat *x)
{
	struct fake_tlbe *e = fake_tlb_slot(c, x->va);
	if (x->level != 1) {
		unsigned i = c->large_next++ % FAKE_TLB_LARGE;
		e = &c->large[i];
		c->large_used |= 1u << i;
	}
	*e = (struct fake_tlbe){ .va = x->va, .pa = x->pa, .gen = c->gen, .gen_ng = c->gen_ng, .level = (uint8_t)x->level,
				 .writable = x->writable, .global = x->global };
	if (x->global)
		c->filled_g = true;
	else
		c->filled_ng = true;
}

void fake_stale_reset(void) { memset(&fake_stale, 0, sizeof(fake_stale)); }

static void fake_stale_record(vaddr_t va, paddr_t tlb_pa, bool tlb_w, bool present, paddr_t pa, bool w)
{
	if (__atomic_fetch_add(&fake_stale.hits, 1, __ATOMIC_RELAXED) == 0)
		fake_stale.first = (struct fake_stale_hit){ .cpu = fake_cpu, .va = va, .tlb_pa = tlb_pa, .tlb_writable = tlb_w,
							    .table_present = present, .table_pa = pa, .table_writable = w };
}

void fake_stale_print(void)
{
	const struct fake_stale_hit *h = &fake_stale.first;
	if (!fake_stale.hits)
		return;
	printf("# stale TLB hit (%llu in all): CPU %u read 0x%llx through frame 0x%llx%s; the tables say %s 0x%llx%s\n",
	       (unsigned long long)fake_stale.hits, h->cpu, (unsigned long long)h->va, (unsigned long long)h->tlb_pa,
	       h->tlb_writable ? " (writable)" : "", h->table_present ? "frame" : "not present", (unsigned long long)h->table_pa,
	       h->table_present ? (h->table_writable ? " (writable)" : " (read-only)") : "");
}

/* ---------------------------------------------------------------- the mailbox */

/* Applies the TLB batches posted to CPU c (the running one) and acknowledges each. */
static void fake_tlb_poll(struct fake_cpu_state *c)
{
	arch_cpumask_t pending = cpumask_atomic_take(&c->tlb_pending);
	cpumask_for_each(s, pending) {
		struct fake_cpu_state *from = &fake_cpus[s];
		tlb_batch_invalidate(&from->tlb_out, true);
		c->stats.received++;
		c->stats.received_all += from->tlb_out.all;
		c->stats.received_pages += from->tlb_out.all ? 0 : from->tlb_out.n;
		cpumask_atomic_del(&from->tlb_acks, fake_cpu, __ATOMIC_RELEASE);
	}
}

static void fake_irq_restore_quiet(uint64_t flags);
static inline void fake_irq_restore(uint64_t flags);

/* Takes the running CPU's mailbox: its TLB batches, then its calls, each call with interrupts
 * disabled; what smp_poll does on the kernel. */
static void fake_take_mail(void)
{
	struct fake_cpu_state *c = fake_me();
	fake_tlb_poll(c);
	arch_cpumask_t pending = cpumask_atomic_take(&c->call_pending);
	cpumask_for_each(s, pending) {
		struct fake_call_slot *slot = &c->call_slot[s];
		uint64_t f = arch_irq_save();
		slot->fn(slot->arg);
		fake_irq_restore_quiet(f);
		__atomic_store_n(&slot->done, 1, __ATOMIC_RELEASE);
	}
}

/* True when something waits in CPU c's mailbox. */
static inline bool fake_mail_in(const struct fake_cpu_state *c)
{
	return !cpumask_atomic_empty(&c->tlb_pending, __ATOMIC_ACQUIRE) ||
	       !cpumask_atomic_empty(&c->call_pending, __ATOMIC_ACQUIRE);
}

/* True when something waits in the running CPU's mailbox. */
static inline bool fake_mail_waiting(void) { return fake_mail_in(fake_me()); }

/* The interrupt: the running CPU's mailbox taken in a handler that runs with interrupts disabled. */
static void __attribute__((noinline)) fake_interrupt(void)
{
	fake_irq_enabled = false;
	fake_irq_depth++;
	fake_take_mail();
	fake_irq_depth--;
	fake_irq_enabled = true;
}

/* The model of an interrupt: with interrupts enabled, a waiting mailbox is taken at once. Inline:
 * with nothing waiting it costs the two tests hardware makes in silicon. */
static inline void fake_interrupt_point(void)
{
	if (fake_irq_enabled && fake_mail_waiting())
		fake_interrupt();
}

/* ---------------------------------------------------------------- memory through the MMU */

enum fake_op { FAKE_OP_READ, FAKE_OP_WRITE, FAKE_OP_ADD };

/* One access through the running CPU's TLB (fake_arch.h); false on a page fault. */
static bool fake_access(vaddr_t va, enum fake_op op, uint64_t *val)
{
	if (va & 7)
		fake_die("unaligned access at 0x%llx", (unsigned long long)va);
	fake_interrupt_point();
	struct fake_cpu_state *c = fake_me();
	struct fake_xlat t;
	bool present = fake_mmu_walk(va, &t);
	struct fake_tlbe *e = fake_tlb_lookup(c, va);
	paddr_t pa;
	if (e) {
		c->stats.hits++;
		pa = e->pa + (va - e->va);
		if (!present || t.pa + (va - t.va) != pa || (e->writable && !t.writable))
			fake_stale_record(va, pa, e->writable, present, present ? t.pa + (va - t.va) : 0, present && t.writable);
		if (op != FAKE_OP_READ && !e->writable) {   /* the fault drops the entry */
			e->level = 0;
			c->stats.faults++;
			return false;
		}
	} else {
		c->stats.misses++;
		if (!present || (op != FAKE_OP_READ && !t.writable)) {
			c->stats.faults++;
			return false;
		}
		fake_tlb_fill(c, &t);
		pa = t.pa + (va - t.va);
	}
	uint64_t *w = arch_phys_to_virt(pa);
	if (op == FAKE_OP_READ)
		*val = __atomic_load_n(w, __ATOMIC_RELAXED);
	else if (op == FAKE_OP_WRITE)
		__atomic_store_n(w, *val, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(w, *val, __ATOMIC_RELAXED);
	return true;
}

bool fake_read(vaddr_t va, uint64_t *val) { return fake_access(va, FAKE_OP_READ, val); }
bool fake_write(vaddr_t va, uint64_t val) { return fake_access(va, FAKE_OP_WRITE, &val); }
bool fake_add(vaddr_t va, uint64_t delta) { return fake_access(va, FAKE_OP_ADD, &delta); }

/* ---------------------------------------------------------------- the shootdown */

/* Waits until every online CPU of the running one's round acknowledged, applying the batches posted
 * to it meanwhile; aborts after FAKE_WAIT_SECONDS. */
static void __attribute__((noinline)) fake_tlb_wait_acks(struct fake_cpu_state *me)
{
	double limit = fake_now() + FAKE_WAIT_SECONDS;
	for (;;) {
		arch_cpumask_t left = cpumask_and(cpumask_atomic_load(&me->tlb_acks, __ATOMIC_ACQUIRE), fake_online_mask());
		if (cpumask_empty(left))
			return;
		fake_tlb_poll(me);
		if (fake_now() > limit)
			fake_die("CPU %u did not acknowledge a TLB shootdown within %d s", cpumask_first(left),
				 FAKE_WAIT_SECONDS);
		sched_yield();
	}
}

/* Posts batch b from CPU self (me) to the CPUs of *others, as one round. */
static void __attribute__((noinline)) fake_tlb_send(struct fake_cpu_state *me, unsigned self, const struct tlb_batch *b,
						    const arch_cpumask_t *others)
{
	me->tlb_out = *b;
	cpumask_atomic_store(&me->tlb_acks, *others, __ATOMIC_RELAXED);
	cpumask_for_each(t, *others)
		cpumask_atomic_add(&fake_cpus[t].tlb_pending, self, __ATOMIC_RELEASE);
	me->stats.rounds++;
	me->stats.requests += cpumask_weight(*others);
}

/* The shootdown, as the kernel's (include/arch_mm.h, arch/x86_64/tlb.c), on the fake CPUs: the
 * same steps and checks, and the log. The round's sending and waiting are out of line, so a CPU
 * alone pays about what the kernel's CPU alone does, the log's few counters besides. */
void arch_tlb_flush_batch(const struct tlb_batch *b)
{
	unsigned self = fake_cpu;
	struct fake_cpu_state *me = fake_me();
	arch_cpumask_t others = fake_online_mask();
	fake_tlb_log_batch(b, self);
	uint64_t f = arch_irq_save();
	unsigned skip = __atomic_load_n(&tlb_inject, __ATOMIC_RELAXED);
	cpumask_del(&others, self);
	if (me->tlb_busy)
		fake_die("a TLB shootdown inside its own");
	if (b->n > TLB_BATCH_PAGES || b->origin >= TLB_FROM_COUNT)
		fake_die("a batch of %u pages from %u", b->n, b->origin);
	if (skip & (TLB_INJECT_NO_ROUND | TLB_INJECT_NO_ROUND_FROM(b->origin)))
		others = cpumask_none();
	me->tlb_busy = true;
	if (!cpumask_empty(others))
		fake_tlb_send(me, self, b, &others);
	tlb_batch_invalidate(b, false);
	if (!cpumask_empty(others))
		fake_tlb_wait_acks(me);
	me->tlb_busy = false;
	fake_irq_restore(f);
}

/* ---------------------------------------------------------------- interrupts */

uint64_t arch_irq_save(void)
{
	uint64_t was = fake_irq_enabled;
	fake_irq_enabled = false;
	fake_irq_depth++;
	return was;
}

/* An arch_irq_restore out of order: the fake machine's panic. */
static void __attribute__((noreturn, noinline, cold)) fake_irq_misordered(unsigned depth, uint64_t flags)
{
	fprintf(stderr, "fake_arch: arch_irq_restore with %u sections open (flags %llu): out of order\n", depth,
		(unsigned long long)flags);
	abort();
}

/* arch_irq_restore without taking the mailbox when interrupts come back on: flags (interrupts were
 * on) closes the outermost section, else an inner one. */
static inline void fake_irq_restore_quiet(uint64_t flags)
{
	unsigned depth = fake_irq_depth;
	if (flags ? depth != 1 : depth == 0)
		fake_irq_misordered(depth, flags);
	fake_irq_depth = depth - 1;
	fake_irq_enabled = flags != 0;
}

/* As on the kernel: sections nest, and interrupts come back only with the outermost (else abort);
 * when they do, what waits in the mailbox is taken, as a pending interrupt would be. */
static inline void fake_irq_restore(uint64_t flags)
{
	fake_irq_restore_quiet(flags);
	if (flags && fake_mail_waiting())
		fake_interrupt();
}

void arch_irq_restore(uint64_t flags) { fake_irq_restore(flags); }

bool arch_irqs_enabled(void) { return fake_irq_enabled; }
unsigned arch_irq_depth(void) { return fake_irq_depth; }
bool arch_in_interrupt(void) { return false; }

/* ---------------------------------------------------------------- CPUs */

void fake_cpu_set(unsigned i)
{
	if (i >= ARCH_MAX_CPUS)
		fake_die("fake_cpu_set(%u): CPUs are 0..%u", i, ARCH_MAX_CPUS - 1);
	fake_cpu = i;
}

/* A CPU coming online starts with an empty TLB, as one started by INIT, and acknowledges without
 * applying them the requests posted to it before it left (the kernel's tlb_ack_stale): an issuer
 * still waiting for one would otherwise wait forever once the CPU is back in the online mask.
 * Called by the CPU's own thread, or before it runs. */
static void fake_cpu_join(unsigned i)
{
	struct fake_cpu_state *c = &fake_cpus[i];
	if (cpumask_has(fake_online_mask(), i))
		return;
	c->gen++;
	c->gen_ng++;
	c->filled_g = c->filled_ng = false;
	arch_cpumask_t pending = cpumask_atomic_take(&c->tlb_pending);
	cpumask_for_each(s, pending)
		cpumask_atomic_del(&fake_cpus[s].tlb_acks, i, __ATOMIC_RELEASE);
}

void fake_cpu_online(unsigned i, bool on)
{
	if (i >= ARCH_MAX_CPUS)
		fake_die("fake_cpu_online(%u): CPUs are 0..%u", i, ARCH_MAX_CPUS - 1);
	if (on) {
		fake_cpu_join(i);
		cpumask_atomic_add(&fake_online, i, __ATOMIC_ACQ_REL);
	} else
		cpumask_atomic_del(&fake_online, i, __ATOMIC_ACQ_REL);
}

void fake_cpu_switch(unsigned cpu)
{
	if (cpu == fake_cpu)
		return;
	fake_cpu_online(cpu, true);
	fake_cpu_online(fake_cpu, false);
	fake_cpu_set(cpu);
}

const struct fake_cpu_stats *fake_cpu_stats(unsigned i) { return &fake_cpus[i % ARCH_MAX_CPUS].stats; }

bool fake_cpu_mail_waiting(unsigned i) { return fake_mail_in(&fake_cpus[i % ARCH_MAX_CPUS]); }

arch_cpumask_t arch_cpus_online(void) { return fake_online_mask(); }

/* As smp_call_many: posts fn to every other online CPU of mask, runs it here when mask names this
 * CPU, and waits for the others, taking this CPU's mailbox meanwhile. Not re-entrant on one CPU. */
void arch_cpu_call(arch_cpumask_t mask, void (*fn)(void *arg), void *arg)
{
	unsigned self = fake_cpu;
	struct fake_cpu_state *me = fake_me();
	mask = cpumask_and(mask, cpumask_with(fake_online_mask(), self));
	arch_cpumask_t others = cpumask_without(mask, self);
	if (me->calling)
		fake_die("arch_cpu_call inside its own");
	me->calling = true;
	cpumask_for_each(t, others) {
		struct fake_call_slot *slot = &fake_cpus[t].call_slot[self];
		slot->fn = fn;
		slot->arg = arg;
		__atomic_store_n(&slot->done, 0, __ATOMIC_RELAXED);
		cpumask_atomic_add(&fake_cpus[t].call_pending, self, __ATOMIC_RELEASE);
	}
	if (cpumask_has(mask, self)) {
		uint64_t f = arch_irq_save();
		fn(arg);
		__atomic_fetch_add(&fake_cpu_calls, 1, __ATOMIC_RELAXED);
		arch_irq_restore(f);
	}
	double limit = fake_now() + FAKE_WAIT_SECONDS;
	cpumask_for_each(t, others) {
		struct fake_call_slot *slot = &fake_cpus[t].call_slot[self];
		while (!__atomic_load_n(&slot->done, __ATOMIC_ACQUIRE)) {
			uint64_t f = arch_irq_save();
			fake_take_mail();
			fake_irq_restore_quiet(f);
			if (fake_now() > limit)
				fake_die("CPU %u did not run a call within %d s", t, FAKE_WAIT_SECONDS);
			sched_yield();
		}
	}
	me->calling = false;
}

/* Takes the mailbox (counted), after the test's hook, if any. */
void arch_cpu_poll(void)
{
	__atomic_fetch_add(&fake_cpu_polls, 1, __ATOMIC_RELAXED);
	fake_me()->stats.polls++;
	if (fake_cpu_poll_hook)
		fake_cpu_poll_hook();
	uint64_t f = arch_irq_save();
	fake_take_mail();
	fake_irq_restore_quiet(f);
}

/* Other threads need the host CPU: a spinning one gives it up. */
void arch_cpu_relax(void) { sched_yield(); }

/* ---------------------------------------------------------------- fake_smp_run */

struct fake_run {
	unsigned n;
	void (*fn)(unsigned cpu, void *arg);
	void *arg;
	unsigned started, finished;
};

struct fake_run_cpu {
	struct fake_run *run;
	unsigned cpu;
};

/* Idles until count reaches n, taking the mailbox as the kernel's idle loop does. */
static void fake_idle_until(unsigned *count, unsigned n)
{
	while (__atomic_load_n(count, __ATOMIC_ACQUIRE) < n) {
		uint64_t f = arch_irq_save();
		fake_take_mail();
		fake_irq_restore_quiet(f);
		sched_yield();
	}
}

/* One CPU's life in fake_smp_run: started with the others, its function, then idle. */
static void fake_run_on(struct fake_run *run, unsigned cpu)
{
	fake_cpu_set(cpu);
	fake_irq_enabled = true;
	fake_irq_depth = 0;
	__atomic_fetch_add(&run->started, 1, __ATOMIC_ACQ_REL);
	fake_idle_until(&run->started, run->n);
	run->fn(cpu, run->arg);
	if (fake_irq_depth != 0)
		fake_die("returned from its part with %u interrupt sections open", fake_irq_depth);
	__atomic_fetch_add(&run->finished, 1, __ATOMIC_ACQ_REL);
	fake_idle_until(&run->finished, run->n);
}

static void *fake_run_thread(void *p)
{
	struct fake_run_cpu *rc = p;
	fake_run_on(rc->run, rc->cpu);
	return NULL;
}

void fake_smp_run(unsigned n, void (*fn)(unsigned cpu, void *arg), void *arg)
{
	struct fake_run run = { .n = n, .fn = fn, .arg = arg };
	struct fake_run_cpu rc[ARCH_MAX_CPUS];
	pthread_t th[ARCH_MAX_CPUS];
	unsigned caller = fake_cpu;
	bool irqs = fake_irq_enabled;
	if (n == 0 || n > ARCH_MAX_CPUS)
		fake_die("fake_smp_run(%u): 1..%u CPUs", n, ARCH_MAX_CPUS);
	for (unsigned i = 0; i < n; i++)
		fake_cpu_join(i);
	arch_cpumask_t first_n = cpumask_none();
	for (unsigned i = 0; i < n; i++)
		first_n = cpumask_with(first_n, i);
	cpumask_atomic_store(&fake_online, first_n, __ATOMIC_RELEASE);
	for (unsigned i = 1; i < n; i++) {
		rc[i] = (struct fake_run_cpu){ &run, i };
		if (pthread_create(&th[i], NULL, fake_run_thread, &rc[i]))
			fake_die("pthread_create for CPU %u failed", i);
	}
	fake_run_on(&run, 0);
	for (unsigned i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	cpumask_atomic_store(&fake_online, cpumask_of(0), __ATOMIC_RELEASE);
	fake_cpu = caller;
	fake_irq_enabled = irqs;
}
