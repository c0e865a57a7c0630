/*
 * The bug-check vocabulary (mm/bugcheck_codes.h) against the report decoder (mm/bugcheck.c):
 * every code has its name, every subcode its explanation and its name, no entry of the decoder's
 * table is reachable under two names, and unknown values are said to be unknown.
 */
#include <string.h>
#include "tap.h"
#include "bugcheck.h"

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
	return tap_done();
}
