/*
 * Host test of the CPU and interrupt-state part of the mm seam (include/arch_mm.h) on the fake
 * machine (tests/host/fake_arch.c): one CPU, index 0; arch_cpu_call runs fn here exactly when the
 * mask names CPU 0, with interrupts disabled and the state restored after; arch_irq_save sections
 * nest and are counted, and interrupts come back only with the outermost. Then its TLB's
 * bookkeeping: what each invalidation drops and keeps, global and non-global, 4 KiB and large,
 * after the flushes that empty the TLB as well (an invalidation by address skips a TLB that holds
 * nothing valid, and must never skip one that does).
 */
#include "tap.h"
#include "arch_mm.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "phys.h"
#include "pt.h"

#define TLB_TEST_VA 0xffffe00000000000ULL   /* scratch addresses in the machine's tables (FB_BASE) */

static unsigned ran;
static bool irqs_in_fn;
static unsigned depth_in_fn;

static void count(void *arg)
{
	ran += *(unsigned *)arg;
	irqs_in_fn = arch_irqs_enabled();
	depth_in_fn = arch_irq_depth();
}

/* Reads va through the fake MMU (filling the running CPU's TLB): true when it translated. */
static bool touch(vaddr_t va)
{
	uint64_t v;
	return fake_read(va, &v);
}

/* Each invalidation drops what it names and keeps the rest, whatever emptied the TLB before. */
static void test_tlb_invalidations(void)
{
	if (host_machine_create(64ULL << 20, 4ULL << 20)) {
		ok(false, "a host machine");
		return;
	}
	struct pt *pt = host_machine_pt();
	paddr_t pa = phys_alloc(2, 0, UINT64_MAX);
	vaddr_t g = TLB_TEST_VA, n = TLB_TEST_VA + PAGE_SIZE;    /* a global page, a non-global one */
	vaddr_t big = (vaddr_t)arch_phys_to_virt(16 * SIZE_2M);  /* in one of the direct map's large leaves */
	ok(pa && pt_map(pt, g, pa, PAGE_SIZE, PT_PROT_W | PT_PROT_G, PT_SIZE_4K) == PT_OK &&
	   pt_map(pt, n, pa + PAGE_SIZE, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K) == PT_OK, "a global and a non-global page mapped");
	ok(!fake_tlb_holds(g) && !fake_tlb_holds(n) && !fake_tlb_holds(big), "nothing cached before a read");
	arch_tlb_invalidate_page(g);
	ok(!fake_tlb_holds(g), "an invalidation of an empty TLB leaves it empty");

	ok(touch(g) && touch(n) && touch(big), "three reads through the MMU");
	ok(fake_tlb_holds(g) && fake_tlb_holds(n) && fake_tlb_holds(big), "fill three translations");
	arch_tlb_invalidate_page(n);
	ok(!fake_tlb_holds(n) && fake_tlb_holds(g) && fake_tlb_holds(big), "invalidating a page drops it alone");
	uint64_t size = 0;
	ok(pt_query(pt, big, NULL, NULL, &size) && size >= SIZE_2M, "the direct map holds that page in a large leaf");
	arch_tlb_invalidate_page(big ^ PAGE_SIZE);
	ok(!fake_tlb_holds(big) && fake_tlb_holds(g), "invalidating another page of a large leaf drops the leaf");

	touch(n);
	touch(big);
	arch_cr3_load(arch_cr3_read());
	ok(!fake_tlb_holds(n) && !fake_tlb_holds(big) && fake_tlb_holds(g), "a CR3 load drops the non-global ones only");
	arch_tlb_invalidate_page(g);
	ok(!fake_tlb_holds(g), "after it, invalidating the global page still drops it");

	touch(g);
	touch(n);
	arch_tlb_invalidate_all();
	ok(!fake_tlb_holds(g) && !fake_tlb_holds(n), "a flush of everything drops global and non-global");
	ok(touch(g) && touch(n) && fake_tlb_holds(g) && fake_tlb_holds(n), "after it, reads fill the TLB again");
	arch_tlb_invalidate_page(g);
	arch_tlb_invalidate_page(n);
	ok(!fake_tlb_holds(g) && !fake_tlb_holds(n), "and invalidations by address drop those new fills");

	touch(g);
	arch_cr3_load(arch_cr3_read());
	arch_tlb_invalidate_nonglobal();
	ok(fake_tlb_holds(g), "a global page filled alone survives CR3 loads");
	arch_tlb_invalidate_page(g);
	ok(!fake_tlb_holds(g), "and an invalidation by address drops it");
	ok(fake_stale.hits == 0, "no stale hit in all this");
	host_machine_destroy();
}

int main(void)
{
	unsigned one = 1;

	is(arch_cpu_index(), 0, "the fake machine's CPU is index 0");
	ok(cpumask_equal(arch_cpus_online(), cpumask_of(0)), "and the only one online");
	ok(arch_irqs_enabled() && arch_irq_depth() == 0 && !arch_in_interrupt(), "interrupts start enabled, no section open");

	uint64_t calls = fake_cpu_calls;
	arch_cpu_call(cpumask_of(0), count, &one);
	ok(ran == 1 && fake_cpu_calls == calls + 1, "a call for CPU 0 runs once");
	ok(!irqs_in_fn && depth_in_fn == 1, "with interrupts disabled inside one section");
	ok(arch_irqs_enabled() && arch_irq_depth() == 0, "and the interrupt state restored after");
	arch_cpu_call(cpumask_without(cpumask_all(), 0), count, &one);
	arch_cpu_call(cpumask_none(), count, &one);
	is(ran, 1, "a mask without CPU 0 (other CPUs only, or none) runs nothing on the fake machine");
	uint64_t polls = fake_cpu_polls;
	arch_cpu_poll();
	is(ran, 1, "polling runs nothing: no other CPU posts calls");
	is(fake_cpu_polls, polls + 1, "the poll is counted");

	uint64_t outer = arch_irq_save();
	uint64_t inner = arch_irq_save();
	ok(!arch_irqs_enabled() && arch_irq_depth() == 2, "two nested sections: disabled, depth 2");
	arch_cpu_call(cpumask_of(0), count, &one);
	ok(ran == 2 && depth_in_fn == 3 && !irqs_in_fn, "a call from inside sections nests one deeper");
	arch_irq_restore(inner);
	ok(!arch_irqs_enabled() && arch_irq_depth() == 1, "the inner restore leaves interrupts disabled");
	arch_irq_restore(outer);
	ok(arch_irqs_enabled() && arch_irq_depth() == 0, "the outermost restore enables them again");

	test_tlb_invalidations();
	return tap_done();
}
