/* The memory manager's page-fault policy for kernel faults (registered with trap_set_handlers). */
#include "fault.h"
#include "bugcheck.h"
#include "vmlayout.h"
#include "syspte.h"


/* A non-present fault inside the system PTE region is bug check 0x50 naming the reservation. */
void kernel_page_fault(struct trap_frame *tf, uint64_t cr2)
{
	if (tf->error & PF_ERR_PRESENT)
		return;
	if (cr2 < SYSPTE_BASE || cr2 - SYSPTE_BASE >= SYSPTE_MAX_SIZE)
		return;
	uint64_t kind = (tf->error & PF_ERR_FETCH) ? 0x10 : (tf->error & PF_ERR_WRITE) ? 1 : 0;
	KeBugCheckEx(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, cr2, kind, tf->rip, syspte_reservation_base(cr2));
}
