/*
 * The bug-check vocabulary (mm/bugcheck_codes.h) against the report decoder (mm/bugcheck.c):
 * every code has its name, every subcode its explanation and its name, no entry of the decoder's
 * table is reachable under two names, and unknown values are said to be unknown; KeBugCheckEx hands
 * each bug check to the hook when one is installed and returns, and stops with the report when not.
 */
#include <string.h>
#include "tap.h"
#include "bugcheck.h"
#include "testhooks.h"

static int codes, subcodes, missing;

/* Checks one code: bugcheck_name gives its Windows name, and it has an explanation. */
static void check_code(uint32_t code, const char *want, const char *enum_name)
{
	codes++;
	const char *got = bugcheck_name(code);
	if (strcmp(got, want) != 0 || strcmp(enum_name + strlen("BUGCHECK_"), want) != 0) {
		missing++;
		printf("# code 0x%x: named %s, want %s (%s)\n", code, got, want, enum_name);
	}
}

/* Checks one subcode: the decoder's entry exists, carries the subcode's own name and a sentence. */
static void check_subcode(uint32_t code, uint64_t sub, const char *name)
{
	subcodes++;
	const struct bugcheck_desc *d = bugcheck_describe(code, sub);
	if (!d || !d->has_sub || d->code != code || d->sub != sub || strcmp(d->name, name) != 0 ||
	    strlen(d->explain) < 20 || strcmp(bugcheck_explain(code, sub), d->explain) != 0 ||
	    strcmp(bugcheck_subcode_name(code, sub), name) != 0) {
		missing++;
		printf("# subcode 0x%llx of 0x%x (%s) has no explanation of its own\n", (unsigned long long)sub, code, name);
	}
}

/* The dispatch: a hook receives each bug check and KeBugCheckEx returns; without one it stops. */
static uint64_t seen[6];
static void counting_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	seen[0]++;
	seen[1] = code, seen[2] = p1, seen[3] = p2, seen[4] = p3, seen[5] = p4;
}

/* What the child of tap_aborts_with runs: a bug check with no hook installed. */
static void stop_unhooked(void *arg)
{
	(void)arg;
	bugcheck_set_hook(NULL);
	KeBugCheckEx(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_DOUBLE_FREE, 0, 0x1234, 0xfeed0);
}

static void check_dispatch(void)
{
	ok(bugcheck_set_hook(counting_hook) == NULL, "no hook at start");
	KeBugCheckEx(BUGCHECK_SYSTEM_PTE_MISUSE, 0x101, 0xa2, 0xa3, 0xa4);
	KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, 0x41, 0xb2, 0xb3, 0xb4);
	ok(seen[0] == 2 && seen[1] == BUGCHECK_MEMORY_MANAGEMENT && seen[2] == 0x41 && seen[3] == 0xb2 &&
	   seen[4] == 0xb3 && seen[5] == 0xb4, "a hook receives each bug check's code and parameters, and it returns");
	ok(bugcheck_set_hook(bugcheck_record_hook) == counting_hook, "bugcheck_set_hook returns the previous hook");
	uint64_t n = bugcheck_last.count;
	KeBugCheckEx(BUGCHECK_BAD_POOL_CALLER, POOL_BUGCHECK_WRONG_TAG, 1, 2, 3);
	ok(bugcheck_last.count == n + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_CALLER &&
	   bugcheck_last.p[0] == POOL_BUGCHECK_WRONG_TAG && bugcheck_last.p[1] == 1 && bugcheck_last.p[2] == 2 &&
	   bugcheck_last.p[3] == 3 && seen[0] == 2, "bugcheck_record_hook records it (the replaced hook sees nothing)");
	ok(bugcheck_set_hook(NULL) == bugcheck_record_hook, "the hook removed");
	ok(tap_aborts_with(stop_unhooked, NULL,
			   "*** STOP 0x000000C2 BAD_POOL_CALLER (0x7, 0x0, 0x1234, 0xfeed0)\n    pool block freed already"),
	   "without a hook, the bug check stops with its report: code, name, parameters, explanation");
}

#define CHECK_CODE(name, value, str) check_code(value, str, #name);
#define CHECK_SUB(code, name, value) check_subcode(code, value, #name);

int main(void)
{
	BUGCHECK_CODE_LIST(CHECK_CODE)
	is(missing, 0, "each of the %d codes has its Windows name", codes);
	missing = 0;
	BUGCHECK_SUBCODE_LIST(CHECK_SUB)
	is(missing, 0, "each of the %d named subcodes has an explanation and its name in the decoder", subcodes);

	/* Codes without subcodes explain their parameters whatever P1 is; codes with subcodes say an
	 * unknown P1 is unknown. */
	ok(strstr(bugcheck_explain(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0x1234), "P4 reservation base") != NULL,
	   "0x50 explains its parameters for any address");
	ok(strncmp(bugcheck_explain(BUGCHECK_SYSTEM_PTE_MISUSE, 0x106), "unknown", 7) == 0 &&
	   strncmp(bugcheck_explain(BUGCHECK_MEMORY_MANAGEMENT, 0x4D440109), "unknown", 7) == 0 &&
	   bugcheck_subcode_name(BUGCHECK_SYSTEM_PTE_MISUSE, 0x106) == NULL,
	   "an unnamed subcode is reported as unknown");
	ok(strcmp(bugcheck_name(0x7F), "UNKNOWN") == 0 && bugcheck_explain(0x7F, 0)[0] == 0 &&
	   bugcheck_subcode_name(BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, 0) == NULL,
	   "a code the kernel never raises has no name, and 0x50's P1 is not a subcode");
	ok(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING == 0x10C && MDL_BUGCHECK_BAD_FRAME == 0x4D440107 &&
	   PHYS_BUGCHECK_BAD_FREE == 0x50480001 && POOL_BUGCHECK_NOT_POOL == 0x42 && LOCK_BUGCHECK_ORDER == 0x1001,
	   "the names carry the documented values");
	/* docs/contract.md section 5: 0x4D440105 is also raised for an MDL whose pool block, not its
	 * Size, is short (MmBuildMdlForNonPagedPool; a large pool MDL's block decides), and 0x4D440002
	 * for an MDL of I/O space too: the decoded sentence names both (it named only Size, and no I/O
	 * space, reading wrong on those reports). */
	ok(strstr(bugcheck_explain(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_BAD_SIZE), "pool block") != NULL &&
	   strstr(bugcheck_explain(BUGCHECK_MEMORY_MANAGEMENT, MDL_BUGCHECK_FREE_BAD_MDL), "I/O space") != NULL,
	   "0x4D440105 names the pool block and 0x4D440002 I/O space, as their contract rows do");
	check_dispatch();
	return tap_done();
}
