/*
 * tlb_: TLB invalidation on x86-64 and the cross-CPU TLB shootdown, the kernel's side of
 * arch_tlb_flush_batch (contract and deadlock-freedom in include/arch_mm.h, policy in
 * include/tlb_batch.h).
 *
 * Each CPU has a TLB mailbox in its struct percpu, apart from the call mailbox of smp.c: an issuer
 * copies its batch into its own tlb_out, sets the bits of the CPUs it asks in its tlb_acks, sets its
 * own bit in each one's tlb_pending and sends them the call IPI (SMP_VEC_CALL). A receiver, from the
 * IPI handler, the idle loop or any loop that polls (smp_poll), applies the issuer's tlb_out with
 * tlb_batch_invalidate and clears its bit in the issuer's tlb_acks. The issuer applies the batch
 * itself meanwhile, then waits, interrupts disabled, until no online CPU's bit is left, applying
 * the batches posted to it while it waits. Only the CPUs online when the issuer reads the mask (after
 * a full fence behind its page-table stores) are asked: a CPU joining later flushes its whole TLB
 * once it sees its own bit (smp.c, smp_join), so no round leaves it anything stale.
 */
#ifndef TLB_H
#define TLB_H

#include "types.h"

struct percpu;

/* Applies every TLB batch posted to this CPU and acknowledges each (smp_poll calls it first). */
void tlb_poll(void);
/* Acknowledges, without applying them, the requests posted to pc before it was stopped: for a CPU
 * restarting after INIT (its TLB holds nothing), before it rejoins the online mask, so each is a
 * round from before its stop that an issuer may still wait for. */
void tlb_ack_stale(struct percpu *pc);

#endif
