/* Verifier mode switches and the free-page pattern (contract in verifier.h). */
#include "verifier.h"
#include "arch_mm.h"
#include "bugcheck.h"

bool mm_verifier;

void mm_verifier_set(bool on) { mm_verifier = on; }

void verifier_poison(paddr_t pa, uint64_t npages)
{
	for (uint64_t p = 0; p < npages; p++) {
		volatile uint64_t *w = arch_phys_to_virt(pa + p * PAGE_SIZE);
		for (size_t i = VERIFIER_FIRST_WORD; i < PAGE_SIZE / 8; i++)
			w[i] = VERIFIER_PATTERN;
	}
}

bool verifier_check_poison(paddr_t pa, uint64_t npages)
{
	for (uint64_t p = 0; p < npages; p++) {
		volatile uint64_t *w = arch_phys_to_virt(pa + p * PAGE_SIZE);
		for (size_t i = VERIFIER_FIRST_WORD; i < PAGE_SIZE / 8; i++)
			if (w[i] != VERIFIER_PATTERN) {
				KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, VERIFIER_BUGCHECK_FREE_PAGE_MODIFIED,
					     pa + p * PAGE_SIZE + i * 8, w[i], VERIFIER_PATTERN);
				return false;
			}
	}
	return true;
}
