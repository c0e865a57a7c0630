/*
 * Bug checks (KeBugCheckEx), their report decoder and their interception for tests. The codes and
 * subcodes are named in mm/bugcheck_codes.h.
 *
 * KeBugCheckEx never returns, except while a test hook is installed: then the hook receives the
 * code and parameters and KeBugCheckEx returns to its caller, which must leave all state as it was
 * before the misuse (every detector in mm/ validates before it changes anything).
 */
#ifndef BUGCHECK_H
#define BUGCHECK_H

#include "types.h"
#include "bugcheck_codes.h"

typedef void (*bugcheck_hook_t)(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

/* Installs (or with NULL removes) the interception hook; returns the previous one. */
bugcheck_hook_t bugcheck_set_hook(bugcheck_hook_t hook);

void KeBugCheckEx(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

/* One entry of the decoder's table: a code (has_sub false) or one of its subcodes. */
struct bugcheck_desc {
	uint32_t code;
	bool has_sub;
	uint64_t sub;
	const char *name;      /* "SYSTEM_PTE_MISUSE", or the subcode's name "SYSPTE_BUGCHECK_FREE_NOT_START" */
	const char *explain;   /* what went wrong and what each parameter holds, one sentence */
};

/* The entry of code (P1 ignored), or of its subcode p1 for a code that has subcodes; NULL when the
 * table has none. */
const struct bugcheck_desc *bugcheck_describe(uint32_t code, uint64_t p1);
/* Name of a bug-check code ("SYSTEM_PTE_MISUSE"), or "UNKNOWN". */
const char *bugcheck_name(uint32_t code);
/* The explanation of code/p1 (bugcheck_describe); for a code with subcodes whose p1 is none of them,
 * "unknown subcode of this code"; "" for a code the table does not name. */
const char *bugcheck_explain(uint32_t code, uint64_t p1);
/* The name of subcode p1 of code ("SYSPTE_BUGCHECK_FREE_NOT_START"), or NULL when code has no
 * subcodes or p1 is none of them. */
const char *bugcheck_subcode_name(uint32_t code, uint64_t p1);

/* The non-intercepted end: prints the report and stops the machine (kernel) or aborts (host). */
__attribute__((noreturn)) void bugcheck_fatal(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3,
					      uint64_t p4);

#endif
