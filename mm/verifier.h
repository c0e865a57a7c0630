/*
 * Verifier mode (cmdline `verifier=1`; mm_verifier_set on the host): every allocator runs its
 * check() after each operation, freed physical pages are filled with a pattern that is verified
 * when they are handed out again, and each reservation is followed by an unmapped guard page.
 * Costly; meant for test runs. Must be chosen before phys_init.
 */
#ifndef VERIFIER_H
#define VERIFIER_H

#include "types.h"

#define VERIFIER_PATTERN 0xFEEDFACEDEADBEEFULL

extern bool mm_verifier;
void mm_verifier_set(bool on);

/* Word 0 of a free page belongs to the physical allocator (its free-extent records, mm/buddy.h):
 * the pattern covers the other 511 words of each page. */
#define VERIFIER_FIRST_WORD 1

/* Fills npages from pa with the pattern (from word VERIFIER_FIRST_WORD of each page). */
void verifier_poison(paddr_t pa, uint64_t npages);
/* Verifies the pattern: true when intact; on the first difference bug checks 0x1A, P1
 * VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED (P2 address, P3 value found, P4 pattern) and, if intercepted,
 * returns false. */
bool verifier_check_poison(paddr_t pa, uint64_t npages);

#endif
