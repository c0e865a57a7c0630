/*
 * Host implementation of include/arch_mm.h. "Physical memory" is one lazily-backed anonymous
 * mapping of FAKE_PHYS_LIMIT bytes: only pages the code touches use host memory, so maps with RAM
 * far above 4 GiB cost nothing. TLB invalidations and CR3 loads are recorded for assertions.
 */
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include "arch_mm.h"
#include "fake_arch.h"

struct fake_tlb_log fake_tlb;
bool fake_irq_enabled = true;
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
	fake_tlb.pages = fake_tlb.alls = fake_tlb.cr3_loads = 0;
	fake_tlb.n = 0;
}

static void fake_tlb_record(enum fake_tlb_op op, uint64_t arg)
{
	if (fake_tlb.n < FAKE_TLB_LOG)
		fake_tlb.ev[fake_tlb.n] = (struct fake_tlb_event){ op, arg };
	fake_tlb.n++;
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


void arch_tlb_flush_page(vaddr_t va)
{
	fake_tlb.pages++;
	fake_tlb_record(FAKE_TLB_PAGE, va);
}

void arch_tlb_flush_all(void)
{
	fake_tlb.alls++;
	fake_tlb_record(FAKE_TLB_ALL, 0);
}

void arch_cr3_load(paddr_t root)
{
	fake_cr3 = root;
	fake_tlb.cr3_loads++;
	fake_tlb_record(FAKE_CR3, root);
}

paddr_t arch_cr3_read(void) { return fake_cr3; }

uint64_t arch_irq_save(void)
{
	uint64_t was = fake_irq_enabled;
	fake_irq_enabled = false;
	return was;
}

void arch_irq_restore(uint64_t flags) { fake_irq_enabled = flags != 0; }
void arch_cpu_relax(void) { }

unsigned fake_cpu;

unsigned arch_cpu_index(void) { return fake_cpu; }
