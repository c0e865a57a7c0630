/*
 * Bug checks (KeBugCheckEx) and their interception for tests.
 *
 * KeBugCheckEx never returns, except while a test hook is installed: then the hook receives the
 * code and parameters and KeBugCheckEx returns to its caller, which must leave all state as it was
 * before the misuse (every detector in mm/ validates before it changes anything).
 */
#ifndef BUGCHECK_H
#define BUGCHECK_H

#include "types.h"

#define BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA 0x50
#define BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED 0x1E
#define BUGCHECK_UNEXPECTED_KERNEL_MODE_TRAP 0x7F
#define BUGCHECK_SYSTEM_PTE_MISUSE 0xDA
#define BUGCHECK_BAD_POOL_CALLER 0xC2
#define BUGCHECK_MEMORY_MANAGEMENT 0x1A
#define BUGCHECK_MANUALLY_INITIATED_CRASH 0xE2

typedef void (*bugcheck_hook_t)(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

/* Installs (or with NULL removes) the interception hook; returns the previous one. */
bugcheck_hook_t bugcheck_set_hook(bugcheck_hook_t hook);

void KeBugCheckEx(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

/* Name of a bug-check code ("SYSTEM_PTE_MISUSE"), or "UNKNOWN". */
const char *bugcheck_name(uint32_t code);
/* A sentence explaining the parameters of code/p1 (for 0xDA, the subcode), or "". */
const char *bugcheck_explain(uint32_t code, uint64_t p1);

/* The non-intercepted end: prints the report and stops the machine (kernel) or aborts (host). */
__attribute__((noreturn)) void bugcheck_fatal(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3,
					      uint64_t p4);

/* A test helper: records the last intercepted bug check. */
struct bugcheck_record {
	uint32_t code;
	uint64_t p[4];
	uint64_t count;
};
extern struct bugcheck_record bugcheck_last;
/* A hook that fills bugcheck_last. */
void bugcheck_record_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4);

#endif
