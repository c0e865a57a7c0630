/* TLB invalidation and the cross-CPU TLB shootdown (see tlb.h, include/arch_mm.h). */
#include "tlb.h"
#include "tlb_batch.h"
#include "arch_mm.h"
#include "percpu.h"
#include "smp.h"
#include "tsc.h"
#include "cpu.h"
#include "x86.h"
#include "kassert.h"

unsigned tlb_inject;

void arch_tlb_invalidate_page(vaddr_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* Removes every TLB entry including global ones: INVPCID type 2 if present, else a CR4.PGE toggle
 * (a CR3 reload when the CPU has no global pages: then nothing is global). */
void arch_tlb_invalidate_all(void)
{
	if (cpu_feat.invpcid) {
		struct { uint64_t pcid, addr; } desc = { 0, 0 };
		__asm__ volatile("invpcid %0, %1" ::"m"(desc), "r"((uint64_t)2) : "memory");
		return;
	}
	uint64_t flags = arch_irq_save();
	uint64_t cr4 = read_cr4();
	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
	arch_irq_restore(flags);
}

void arch_tlb_invalidate_nonglobal(void) { write_cr3(read_cr3()); }

/* Counts one batch this CPU applied for another: the receiving side's share of the statistics. */
static void tlb_count_received(struct tlb_cpu_stats *st, const struct tlb_batch *b)
{
	st->received++;
	if (b->all)
		st->received_all++;
	else
		st->received_pages += b->n;
}

void tlb_poll(void)
{
	struct percpu *pc = this_cpu();
	cpumask_t pending = cpumask_atomic_take(&pc->tlb_pending);

	cpumask_for_each(s, pending) {
		struct percpu *from = percpu_of[s];

		tlb_batch_invalidate(&from->tlb_out, true);
		tlb_count_received(&pc->tlb_stats, &from->tlb_out);
		/* Release: the invalidation is done before the issuer sees the acknowledgement. */
		cpumask_atomic_del(&from->tlb_acks, pc->index, __ATOMIC_RELEASE);
	}
}

void tlb_ack_stale(struct percpu *pc)
{
	cpumask_t pending = cpumask_atomic_take(&pc->tlb_pending);

	cpumask_for_each(s, pending)
		cpumask_atomic_del(&percpu_of[s]->tlb_acks, pc->index, __ATOMIC_RELEASE);
}

/*
 * Withdraws me's request from every CPU of gone (asked this round, left the online mask before it
 * acknowledged). Else the bit could wait in its tlb_pending until it is back online, and its next
 * tlb_poll would then apply whatever me's tlb_out holds by then and acknowledge, perhaps inside a
 * later round of me's, before it read that round's batch. A CPU that already took the bit applied
 * this round's batch, or acknowledged it unread in tlb_ack_stale before it joined (a joining CPU
 * flushes everything: smp_join).
 */
static void tlb_withdraw(struct percpu *me, cpumask_t gone)
{
	cpumask_for_each(t, gone)
		cpumask_atomic_del(&percpu_of[t]->tlb_pending, me->index, __ATOMIC_RELAXED);
}

/* Waits, applying the batches posted to this CPU, until every CPU asked that is still online has
 * acknowledged me's batch, then withdraws the request from those that left; panics after
 * smp_call_timeout_us from start. */
static void tlb_wait_acks(struct percpu *me, uint64_t start)
{
	uint64_t timeout_us = smp_call_timeout_us(), limit = tsc_us_to_ticks(timeout_us);

	for (;;) {
		/* A CPU that left the online mask (stopped, parked) is no longer waited for. */
		cpumask_t acks = cpumask_atomic_load(&me->tlb_acks, __ATOMIC_ACQUIRE), left = cpumask_and(acks, smp_online_mask());
		if (cpumask_empty(left)) {
			tlb_withdraw(me, acks);
			return;
		}
		tlb_poll();
		if (rdtsc() - start > limit) {
			unsigned t = cpumask_first(left);
			kpanic("tlb: CPU %u (APIC id %u) did not acknowledge a TLB shootdown from CPU %u within %u ms",
			       t, percpu_of[t]->apic_id, me->index, (unsigned)(timeout_us / 1000));
		}
		arch_cpu_relax();
	}
}

/*
 * The shootdown (include/arch_mm.h). Interrupts stay disabled from the posting to the last
 * acknowledgement, so nothing else runs on this CPU inside its round and its tlb_out stays its
 * batch; the wait applies only batches, never calls, so no round starts inside another.
 */
void arch_tlb_flush_batch(const struct tlb_batch *b)
{
	uint64_t f = arch_irq_save();
	struct percpu *me = this_cpu();
	unsigned skip = __atomic_load_n(&tlb_inject, __ATOMIC_RELAXED);
	cpumask_t others;
	uint64_t start = rdtsc();

	/* A full fence: the caller's page-table stores are visible before the mask is read (a store may
	 * otherwise pass a later load), so a CPU joining after this read flushes after them (smp_join). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	others = cpumask_without(smp_online_mask(), me->index);

	KASSERT(!me->tlb_busy, "CPU %u started a TLB shootdown inside its own", me->index);
	KASSERT(b->n <= TLB_BATCH_PAGES && b->origin < TLB_FROM_COUNT, "a batch of %u pages from %u", b->n, b->origin);
	if (skip & (TLB_INJECT_NO_ROUND | TLB_INJECT_NO_ROUND_FROM(b->origin)))
		others = cpumask_none();
	me->tlb_busy = 1;
	if (!cpumask_empty(others)) {
		me->tlb_out = *b;
		cpumask_atomic_store(&me->tlb_acks, others, __ATOMIC_RELAXED);
		/* Release: tlb_out and tlb_acks are visible before a receiver sees its bit. */
		cpumask_for_each(t, others)
			cpumask_atomic_add(&percpu_of[t]->tlb_pending, me->index, __ATOMIC_RELEASE);
		smp_send_ipi(others, SMP_VEC_CALL);
		me->tlb_stats.rounds++;
		me->tlb_stats.requests += cpumask_weight(others);
	}
	tlb_batch_invalidate(b, false);   /* this CPU's share, while the others do theirs */
	if (!cpumask_empty(others))
		tlb_wait_acks(me, start);
	me->tlb_busy = 0;
	arch_irq_restore(f);
}
