/*
 * The memory manager's test hooks: what the host tests, the boot suite and fault injection use to
 * watch and steer mm/, and nothing else calls. Kept out of the modules' public headers so that a
 * reader of those sees only the API.
 */
#ifndef TESTHOOKS_H
#define TESTHOOKS_H

#include "types.h"

/* The last bug check bugcheck_record_hook intercepted, and how many it has seen. */
struct bugcheck_record {
	uint32_t code;
	uint64_t p[4];
	uint64_t count;
};
extern struct bugcheck_record bugcheck_last;
/* A bug-check hook (bugcheck_set_hook) that fills bugcheck_last. */
void bugcheck_record_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

/* Fault injection for exhaustion tests: from now on physical allocations fail once the allocated
 * pages would exceed pages (UINT64_MAX: no budget; phys_reset restores that). Lets the boot suite
 * drive every "out of memory" path without touching all RAM, so its cost does not grow with the
 * machine. */
void phys_set_budget(uint64_t pages);

/* The owner-map word that holds frame pfn's owner (pfn below the highest frame): lets a test write
 * what a stray store would and see phys_check find it. */
uint64_t *phys_owner_word(uint64_t pfn);

/* The physical allocator's buddy (mm/buddy_impl.h): lets a test set a bitmap bit as a stray store
 * would and see phys_check's bounded window find it. */
struct buddy *phys_buddy_hook(void);

/* Calls of phys_alloc* so far, granted or refused: lets a test prove that an operation asked for no
 * memory at all. */
extern uint64_t phys_alloc_calls;

/* How many polls syspte_describe waits for a lock its lookup takes before it reports the holder and
 * reads nothing (default 1 << 22): a fatal report must end even when a CPU stopped for good holds
 * the lock. Tests shorten it. */
extern uint32_t syspte_describe_polls;

#endif
