/*
 * Host implementation of include/arch_mm.h. "Physical memory" is one lazily-backed anonymous
 * mapping of FAKE_PHYS_LIMIT bytes: only pages the code touches use host memory, so maps with RAM
 * far above 4 GiB cost nothing. TLB flushes (each batch as given) and CR3 loads are recorded for
 * assertions. Host threads may act as CPUs at once: the CPU index and the interrupt state are
 * per thread, and the shared counters are atomic.
 */
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arch_mm.h"
#include "fake_arch.h"

struct fake_tlb_log fake_tlb;
__thread bool fake_irq_enabled = true;
static uint8_t *fake_ram;
static paddr_t fake_cr3;
static unsigned fake_phys_bits = FAKE_PHYS_BITS_DEFAULT;

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

void fake_tlb_reset(void)
{
	fake_tlb.flushes = fake_tlb.pages = fake_tlb.alls = fake_tlb.irqs_off = fake_tlb.cr3_loads = 0;
}

static int fake_cmp_va(const void *a, const void *b)
{
	vaddr_t x = *(const vaddr_t *)a, y = *(const vaddr_t *)b;
	return (x > y) - (x < y);
}

bool fake_tlb_flushed_pages(size_t k, const vaddr_t *want, size_t n)
{
	if (k >= fake_tlb.flushes || k >= FAKE_TLB_LOG || n > TLB_BATCH_PAGES) {
		printf("# fake_tlb: flush %zu of %llu not logged, or %zu pages asked for\n", k,
		       (unsigned long long)fake_tlb.flushes, n);
		return false;
	}
	const struct fake_tlb_flush *f = &fake_tlb.ev[k];
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


/* Records the batch as one flush, and whether a lock (interrupts disabled) was still held. Threads
 * acting as CPUs may flush at once: each takes its own entry of the log. */
void arch_tlb_flush_batch(const struct tlb_batch *b)
{
	uint64_t k = __atomic_fetch_add(&fake_tlb.flushes, 1, __ATOMIC_RELAXED);
	if (k < FAKE_TLB_LOG) {
		struct fake_tlb_flush *f = &fake_tlb.ev[k];
		*f = (struct fake_tlb_flush){ .all = b->all, .irqs_off = !fake_irq_enabled, .n = b->all ? 0 : b->n };
		memcpy(f->va, b->va, f->n * sizeof(vaddr_t));
	}
	__atomic_fetch_add(&fake_tlb.alls, b->all, __ATOMIC_RELAXED);
	__atomic_fetch_add(&fake_tlb.pages, b->all ? 0 : b->n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&fake_tlb.irqs_off, !fake_irq_enabled, __ATOMIC_RELAXED);
}

void arch_cr3_load(paddr_t root)
{
	fake_cr3 = root;
	fake_tlb.cr3_loads++;
}

paddr_t arch_cr3_read(void) { return fake_cr3; }

static __thread unsigned fake_irq_depth;
uint64_t fake_cpu_calls;

uint64_t arch_irq_save(void)
{
	uint64_t was = fake_irq_enabled;
	fake_irq_enabled = false;
	fake_irq_depth++;
	return was;
}

/* As on the kernel: sections nest, and interrupts come back only with the outermost (else abort). */
void arch_irq_restore(uint64_t flags)
{
	if (fake_irq_depth == 0 || (flags && fake_irq_depth != 1)) {
		fprintf(stderr, "fake_arch: arch_irq_restore with %u sections open (flags %llu): out of order\n",
			fake_irq_depth, (unsigned long long)flags);
		abort();
	}
	fake_irq_depth--;
	fake_irq_enabled = flags != 0;
}

bool arch_irqs_enabled(void) { return fake_irq_enabled; }
unsigned arch_irq_depth(void) { return fake_irq_depth; }
bool arch_in_interrupt(void) { return false; }

__thread unsigned fake_cpu;

/* The CPU the caller acts as (fake_cpu, per thread, set by tests that play another CPU's part). */
unsigned arch_cpu_index(void) { return fake_cpu; }

/* The fake machine has one online CPU, index 0: a call for it runs here with interrupts disabled. */
arch_cpumask_t arch_cpus_online(void) { return 1; }

void arch_cpu_call(arch_cpumask_t mask, void (*fn)(void *arg), void *arg)
{
	if (!(mask & 1))
		return;
	uint64_t f = arch_irq_save();
	fn(arg);
	__atomic_fetch_add(&fake_cpu_calls, 1, __ATOMIC_RELAXED);
	arch_irq_restore(f);
}

uint64_t fake_cpu_polls;
void (*fake_cpu_poll_hook)(void);

/* No other CPU posts calls on the fake machine: a poll is counted and runs the test's hook, if any. */
void arch_cpu_poll(void)
{
	__atomic_fetch_add(&fake_cpu_polls, 1, __ATOMIC_RELAXED);
	if (fake_cpu_poll_hook)
		fake_cpu_poll_hook();
}
void arch_cpu_relax(void) { }
