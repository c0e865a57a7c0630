/* The memory manager's page-fault policy for kernel faults (registered with trap_set_handlers). */
#include "fault.h"
#include "bugcheck.h"
#include "vmlayout.h"
#include "syspte.h"
#include "reserved.h"

/*
 * A non-present fault inside the system PTE region is bug check 0x50 naming the reservation. The
 * reservation is looked up only when this CPU may take the region's lock: a fault inside the
 * region's own code (or under a lock ranked after it) reports P4 = 0 instead of deadlocking
 * (syspte_reservation_base). A fetch is P2 0x10 on a CPU without NX too (trap_pf_is_fetch).
 */
void kernel_page_fault(struct trap_frame *tf, uint64_t cr2)
{
	if (tf->error & PF_ERR_PRESENT)
		return;
	if (cr2 < SYSPTE_BASE || cr2 - SYSPTE_BASE >= SYSPTE_MAX_SIZE)
		return;
	uint64_t kind = trap_pf_is_fetch(tf->error, tf->rip, cr2) ? PF_NONPAGED_FETCH
			: (tf->error & PF_ERR_WRITE)                ? PF_NONPAGED_WRITE
								    : PF_NONPAGED_READ;
	struct syspte_region *r = reserved_region();
	KeBugCheckEx(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, cr2, kind, tf->rip, r ? syspte_reservation_base(r, cr2) : 0);
}
