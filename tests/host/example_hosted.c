/*
 * An outside program using the hosted memory manager (README "Hosted library"): create a
 * machine, reserve, map an MDL built by hand, catch a misuse bug check, tear down.
 * Prints TAP so the test suite can run it as built by the README's command.
 */
#include <stdio.h>
#include <string.h>
#include "wdm.h"
#include "host_machine.h"
#include "bugcheck.h"

#define EX_TAG 0x486d4578u   /* 'xEmH' as a WDK multi-character constant */

static unsigned got_code;
static unsigned long long got_sub;

static void on_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	(void)p2; (void)p3; (void)p4;
	got_code = code;
	got_sub = p1;
}

int main(void)
{
	int n = 0, bad = 0;
#define CHECK(c, what) do { n++; if (c) printf("ok %d - %s\n", n, what); else { bad++; printf("not ok %d - %s\n", n, what); } } while (0)
	CHECK(host_machine_create(64ULL << 20, 16ULL << 20) == 0, "machine: 64 MiB RAM, 16 MiB region");
	void *va = MmAllocateMappingAddressEx(3 * 4096, EX_TAG, MM_MAPPING_ADDRESS_DIVISIBLE);
	CHECK(va && (uintptr_t)va % (3 * 4096) == 0, "3-page reservation divisible by 12 KiB");
	struct { MDL mdl; PFN_NUMBER pfn[3]; } m;
	memset(&m, 0, sizeof(m));
	m.mdl.MdlFlags = MDL_PAGES_LOCKED;
	m.mdl.ByteCount = 3 * 4096;
	m.pfn[0] = 0x200; m.pfn[1] = 0x201; m.pfn[2] = 0x300;
	CHECK(MmMapLockedPagesWithReservedMapping(va, EX_TAG, &m.mdl, MmCached) == va, "mapped");
	bugcheck_set_hook(on_bugcheck);
	MmFreeMappingAddress(va, EX_TAG);
	CHECK(got_code == 0xDA && got_sub == 0x103, "freeing while mapped is bug check 0xDA/0x103, intercepted");
	bugcheck_set_hook(NULL);
	MmUnmapReservedMapping(va, EX_TAG, &m.mdl);
	MmFreeMappingAddress(va, EX_TAG);
	CHECK(m.mdl.MappedSystemVa == NULL, "unmapped and freed");
	printf("1..%d\n", n);
	return bad != 0;
}
