/*
 * For tests of the region with host threads as CPUs working at once (test_pcpu,
 * test_cache_drain_race): failures counted from any thread, a shadow of the region's pages that
 * each reservation claims by compare-exchange (an overlap is caught the moment it happens), the
 * accounting identity checked while the CPUs work, and the inboxes through which a CPU hands
 * reservations to another to free.
 */
#ifndef CPU_RACE_H
#define CPU_RACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "fake_arch.h"
#include "syspte.h"
#include "vmlayout.h"

#define RACE_INBOX_MAX 64   /* the most reservations an inbox holds */

/* A reservation a CPU holds: mapped pages [moff, moff + mn) with frames pfn0 + k; mn 0: none. */
struct race_item {
	vaddr_t va;
	uint64_t n;
	uint32_t tag, id;              /* id: its pages' mark in the shadow, never 0, never reused */
	uint64_t moff, mn, pfn0;
};

/* Reservations handed to a CPU, not freed yet: at most cap (<= RACE_INBOX_MAX), guarded by lock. */
struct race_inbox {
	pthread_mutex_t lock;
	unsigned n, cap;
	struct race_item item[RACE_INBOX_MAX];
};

static uint64_t race_failures;         /* disagreements, any thread */
static uint32_t race_next_id = 1;

/* Counts a failure; prints the first twenty. */
static inline void race_bad(unsigned cpu, const char *what, uint64_t a, uint64_t b)
{
	if (__atomic_fetch_add(&race_failures, 1, __ATOMIC_RELAXED) < 20)
		printf("# CPU %u: %s (0x%llx, 0x%llx)\n", cpu, what, (unsigned long long)a, (unsigned long long)b);
}

/* The bug-check hook while the CPUs work: no call of theirs may bug-check. */
static inline void race_bugcheck_is_failure(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	(void)p3, (void)p4;
	race_bad(fake_cpu, "unexpected bug check", code, p1 ^ p2);
}

/* A new reservation's id, unique across the CPUs. */
static inline uint32_t race_new_id(void) { return __atomic_fetch_add(&race_next_id, 1, __ATOMIC_RELAXED); }

/* The region page of va, counted from SYSPTE_BASE. */
static inline uint64_t race_page_of(vaddr_t va) { return (va - SYSPTE_BASE) >> PAGE_SHIFT; }

/* Claims it's pages and its guard pages in shadow for it->id, as CPU cpu; a page owned already is
 * an overlap. */
static inline void race_claim(uint32_t *shadow, uint64_t guard, unsigned cpu, const struct race_item *it)
{
	uint64_t s = race_page_of(it->va);
	for (uint64_t k = 0; k < it->n + guard; k++) {
		uint32_t zero = 0;
		if (!__atomic_compare_exchange_n(&shadow[s + k], &zero, it->id, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			race_bad(cpu, "a reservation overlaps a live one", it->va + k * PAGE_SIZE, zero);
	}
}

/* Gives it's pages and guard pages back to shadow, before the region frees them. */
static inline void race_unclaim(uint32_t *shadow, uint64_t guard, const struct race_item *it)
{
	uint64_t s = race_page_of(it->va);
	for (uint64_t k = 0; k < it->n + guard; k++)
		__atomic_store_n(&shadow[s + k], 0, __ATOMIC_RELEASE);
}

/* The accounting identity of r (npages, guard pages after each reservation) at one moment, the
 * statistics taken with the caches frozen, and syspte_check, as CPU cpu. */
static inline void race_check_identity(struct syspte_region *r, uint64_t npages, uint64_t guard, unsigned cpu)
{
	struct syspte_stats s;
	syspte_get_stats(r, &s);
	if (s.free_pages + s.pages_reserved + s.live * guard != npages || s.cached_pages > s.free_pages)
		race_bad(cpu, "free + reserved + guards != region", s.free_pages, s.pages_reserved);
	if (syspte_check(r))
		race_bad(cpu, "syspte_check failed while the CPUs work", 0, 0);
}

/* An empty inbox holding at most cap reservations. */
static inline void race_inbox_init(struct race_inbox *in, unsigned cap)
{
	in->n = 0;
	in->cap = cap;
	pthread_mutex_init(&in->lock, NULL);
}

/* Puts a copy of *it into in; false, nothing put, when in is full. */
static inline bool race_inbox_put(struct race_inbox *in, const struct race_item *it)
{
	pthread_mutex_lock(&in->lock);
	bool room = in->n < in->cap;
	if (room)
		in->item[in->n++] = *it;
	pthread_mutex_unlock(&in->lock);
	return room;
}

/* Takes everything out of in into got (RACE_INBOX_MAX items of room); returns how many. The caller
 * frees them after this returns: a CPU blocked on a host mutex takes no TLB shootdown, so no region
 * call is made holding one. */
static inline unsigned race_inbox_take(struct race_inbox *in, struct race_item *got)
{
	pthread_mutex_lock(&in->lock);
	unsigned n = in->n;
	memcpy(got, in->item, n * sizeof(got[0]));
	in->n = 0;
	pthread_mutex_unlock(&in->lock);
	return n;
}

#endif
