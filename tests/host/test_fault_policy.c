/*
 * The kernel's page-fault policy (kernel/fault.c, #included) against docs/contract.md section 4, on
 * the hosted machine: a non-present fault in the system PTE region's window is bug check 0x50 with
 * P1 the address, P2 0 read / 1 write / 0x10 instruction fetch, P3 the faulting RIP, P4 the base
 * of the reservation holding the address or 0; any other fault returns for the dispatcher.
 *
 * test_fetch_without_nx: a CPU without NX (and SMEP) leaves the error code's I/D bit clear on an
 * instruction fetch (Intel SDM Vol. 3A 4.7), as QEMU's -cpu qemu64,-nx does. Before
 * trap_pf_is_fetch, a jump into an unmapped reserved page there was reported with P2 0, a read
 * (test failed: "a fetch whose error code has no I/D bit ... P2 0x10", got 0).
 */
#include <stdio.h>
#include "tap.h"
#include "host_machine.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "pool.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "vmlayout.h"
#include "../../kernel/fault.c"

#define TAG POOL_TAG4('F', 'l', 't', 'P')
#define RIP_ELSEWHERE 0xffffffff80123456ULL   /* kernel text: a data access made from there */

/* One fault through the policy: true when it raised a bug check, with its parameters in p. */
static bool fault_run(uint64_t error, uint64_t rip, uint64_t cr2, uint64_t p[4])
{
	struct trap_frame tf = { .vector = VEC_PF, .error = error, .rip = rip };
	uint64_t before = bugcheck_last.count;
	kernel_page_fault(&tf, cr2);
	if (bugcheck_last.count == before)
		return false;
	for (int k = 0; k < 4; k++)
		p[k] = bugcheck_last.p[k];
	return bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA;
}

/* Contract section 4's P2 of a non-present fault, from what the access was. */
static uint64_t want_kind(bool fetch, bool write)
{
	return fetch ? PF_NONPAGED_FETCH : write ? PF_NONPAGED_WRITE : PF_NONPAGED_READ;
}

/*
 * The fetch of an unmapped reserved page, as a CPU without NX reports it (error code 0, the fault
 * at RIP) and as one with NX does (I/D set): P2 0x10 both ways, the rest of the parameters as for
 * any touch. A read made by code elsewhere keeps P2 0.
 */
static void test_fetch_without_nx(void)
{
	char *va = MmAllocateMappingAddress(2 * PAGE_SIZE, TAG);
	uint64_t target = (uint64_t)va + PAGE_SIZE, p[4] = { 0 };
	bool raised = va && fault_run(0, target, target, p);
	ok(raised && p[0] == target && p[1] == PF_NONPAGED_FETCH && p[2] == target && p[3] == (uint64_t)va,
	   "a fetch whose error code has no I/D bit (a CPU without NX): 0x50, P1 0x%llx, P2 0x10, P3 RIP, P4 the base "
	   "(got P1 0x%llx P2 0x%llx P3 0x%llx P4 0x%llx)", (unsigned long long)target, (unsigned long long)p[0],
	   (unsigned long long)p[1], (unsigned long long)p[2], (unsigned long long)p[3]);
	raised = va && fault_run(PF_ERR_FETCH, target, target, p);
	ok(raised && p[1] == PF_NONPAGED_FETCH && p[3] == (uint64_t)va, "a fetch with the I/D bit (a CPU with NX): P2 0x10");
	raised = va && fault_run(0, RIP_ELSEWHERE, target, p);
	ok(raised && p[1] == PF_NONPAGED_READ && p[2] == RIP_ELSEWHERE, "a read by code elsewhere: P2 0, P3 its RIP");
	MmFreeMappingAddress(va, TAG);
}

/*
 * Generated faults over the window: every error code a kernel fault can have (present or not,
 * read, write or fetch, the I/D bit set or left clear as without NX), RIP at the address or near
 * it, addresses in a reservation, in free region space, past the configured region and outside
 * the window. Each outcome against the contract: no bug check for a present page or an address
 * outside the window, else 0x50 with the access's kind (a fetch's RIP is its address) and the
 * reservation's base or 0.
 */
static void test_generated(void)
{
	char *va = MmAllocateMappingAddress(3 * PAGE_SIZE, TAG);
	struct syspte_stats st;
	syspte_get_stats(reserved_region(), &st);
	uint64_t region_end = st.base + st.npages * PAGE_SIZE;
	struct { uint64_t cr2, base; const char *what; } where[] = {
		{ (uint64_t)va, (uint64_t)va, "a reservation's first page" },
		{ (uint64_t)va + 2 * PAGE_SIZE + 0xffe, (uint64_t)va, "a reservation's last byte" },
		{ region_end - PAGE_SIZE, 0, "free region space" },
		{ region_end + 5 * PAGE_SIZE, 0, "the window past the region" },
		{ SYSPTE_BASE + SYSPTE_MAX_SIZE - 1, 0, "the window's last byte" },
		{ SYSPTE_BASE + SYSPTE_MAX_SIZE, 0, "past the window" },
		{ SYSPTE_BASE - 1, 0, "below the window" },
	};
	unsigned cases = 0, wrong = 0;
	for (size_t w = 0; w < ARRAY_SIZE(where); w++)
		for (unsigned access = 0; access < 4; access++)   /* read, write, fetch with I/D, fetch without */
			for (unsigned present = 0; present < 2; present++)
				for (int64_t d = -1; d <= 2; d++) {   /* RIP: the address + d, or elsewhere (2) */
					uint64_t cr2 = where[w].cr2, rip = d == 2 ? RIP_ELSEWHERE : cr2 + (uint64_t)d;
					bool fetch = access >= 2, write = access == 1;
					if (fetch != (rip == cr2) && !write)
						continue;   /* a fetch faults at its RIP (an instruction that crosses pages
							     * aside), and no read faults there: its instruction's page was
							     * just fetched */
					uint64_t error = (present ? PF_ERR_PRESENT : 0) | (write ? PF_ERR_WRITE : 0) |
							 (access == 2 ? PF_ERR_FETCH : 0);
					bool inside = cr2 >= SYSPTE_BASE && cr2 - SYSPTE_BASE < SYSPTE_MAX_SIZE;
					uint64_t p[4] = { 0 };
					bool raised = fault_run(error, rip, cr2, p);
					bool good = !present && inside
							    ? raised && p[0] == cr2 && p[1] == want_kind(fetch, write) && p[2] == rip &&
								      p[3] == where[w].base
							    : !raised;
					cases++;
					if (!good && wrong++ < 6)
						printf("#   %s, error 0x%llx, RIP %+lld: %s P2 0x%llx P4 0x%llx\n", where[w].what,
						       (unsigned long long)error, (long long)d, raised ? "0x50" : "no bug check",
						       (unsigned long long)p[1], (unsigned long long)p[3]);
				}
	ok(wrong == 0 && cases > 100, "%u generated faults: 0x50 exactly for non-present ones in the window, with the "
	   "access's P2 (a fetch's 0x10 with or without the I/D bit), P3 RIP, P4 the reservation or 0 (%u wrong)", cases, wrong);
	MmFreeMappingAddress(va, TAG);
}

int main(void)
{
	if (host_machine_create(64ULL << 20, 32ULL << 20)) {
		printf("Bail out! machine\n");
		return 1;
	}
	bugcheck_set_hook(bugcheck_record_hook);
	test_fetch_without_nx();
	test_generated();
	return tap_done();
}
