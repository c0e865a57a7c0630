/*
 * The loader's page allocations, boot/alloc.c (#included with GNU-EFI's headers), against a
 * firmware's AllocatePages as UEFI allows it to behave: the firmware's pages, FreePages, Print and
 * ZeroMem stand in below.
 *
 *  1. test_page_zero_is_not_handed_out (failed when pages_alloc returned what AllocatePages gave):
 *     UEFI may hand out physical page 0 like any other (uefi-rs and GRUB allocate again when it
 *     does), but to the loader address 0 is NULL: GNU-EFI's CopyMem copies nothing to or from it,
 *     GetMemoryMap refuses a map buffer there and a page table there reads as NULL. Firmware
 *     giving page 0 first, for blocks of 1 to 40 pages: pages_alloc returns another block, zeroed,
 *     page 0 kept until pages_free_all gives every block back; a firmware giving page 0 every time
 *     is refused with one message, nothing kept.
 *  2. test_allocation_failures: a refused AllocatePages is one message naming the size and the
 *     status, and the status returned; sizes of 0 or past 2^64 when rounded are refused before any
 *     call; past 16 allocations, one message, nothing allocated; pages_free_all gives back every
 *     block, newest first.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include "tap.h"
#include "../../boot/alloc.c"

EFI_BOOT_SERVICES *BS;

/* GNU-EFI's Print: the messages counted. */
static unsigned prints;
UINTN Print(CONST CHAR16 *fmt, ...)
{
	(void)fmt;
	prints++;
	return 0;
}

/* GNU-EFI's ZeroMem (RtZeroMem writes address 0 too); page 0 is no host memory, so a write there is
 * counted instead. */
static unsigned zeroed_page0;
VOID ZeroMem(VOID *p, UINTN n)
{
	if (p == NULL) {
		zeroed_page0++;
		return;
	}
	memset(p, 0, n);
}

/* ---------------------------------------------------------------- the firmware's pages */

#define LA_BLOCKS 32
static struct {
	unsigned zero_first;   /* the next this many allocations give page 0 */
	bool zero_held;        /* page 0 is given out */
	EFI_STATUS refuse;     /* every allocation fails so (0: none) */
	void *block[LA_BLOCKS];
	UINTN pages[LA_BLOCKS];
	unsigned live, calls, frees, bad_frees;
	EFI_PHYSICAL_ADDRESS last_freed;
} la;

/* AllocatePages: page 0 while la.zero_first lasts, else a host block filled with 0xA5. */
static EFI_STATUS EFIAPI la_allocate_pages(EFI_ALLOCATE_TYPE type, EFI_MEMORY_TYPE mem, UINTN pages,
					   EFI_PHYSICAL_ADDRESS *addr)
{
	(void)type, (void)mem;
	la.calls++;
	if (la.refuse)
		return la.refuse;
	if (la.zero_first > 0) {
		la.zero_first--;
		la.zero_held = true;
		*addr = 0;
		return EFI_SUCCESS;
	}
	for (unsigned i = 0; i < LA_BLOCKS; i++)
		if (la.block[i] == NULL) {
			la.block[i] = aligned_alloc(4096, pages * 4096);
			memset(la.block[i], 0xA5, pages * 4096);   /* what the firmware left there */
			la.pages[i] = pages;
			la.live++;
			*addr = (EFI_PHYSICAL_ADDRESS)(UINTN)la.block[i];
			return EFI_SUCCESS;
		}
	return EFI_OUT_OF_RESOURCES;
}

/* FreePages: page 0 or a block given out, whole; anything else counted as a bad free. */
static EFI_STATUS EFIAPI la_free_pages(EFI_PHYSICAL_ADDRESS addr, UINTN pages)
{
	la.frees++;
	la.last_freed = addr;
	if (addr == 0 && la.zero_held) {
		la.zero_held = false;
		return EFI_SUCCESS;
	}
	for (unsigned i = 0; i < LA_BLOCKS; i++)
		if (la.block[i] != NULL && (EFI_PHYSICAL_ADDRESS)(UINTN)la.block[i] == addr && la.pages[i] == pages) {
			free(la.block[i]);
			la.block[i] = NULL;
			la.live--;
			return EFI_SUCCESS;
		}
	la.bad_frees++;
	return EFI_NOT_FOUND;
}

/* The boot services alloc.c calls. */
static EFI_BOOT_SERVICES la_bs = { .AllocatePages = la_allocate_pages, .FreePages = la_free_pages };

/* A fresh firmware and no allocation recorded. */
static void la_reset(void)
{
	pages_free_all();
	memset(&la, 0, sizeof(la));
}

/* True when the `bytes` at phys are all zero. */
static bool la_zeroed(UINT64 phys, UINT64 bytes)
{
	const uint8_t *p = (const uint8_t *)(UINTN)phys;
	for (UINT64 i = 0; i < bytes; i++)
		if (p[i])
			return false;
	return true;
}

/* ---------------------------------------------------------------- the tests */

/* Test 1 of the header: physical page 0 from the firmware is never handed out. */
static void test_page_zero_is_not_handed_out(void)
{
	unsigned n = 0, bad = 0;

	for (UINT64 bytes = 1; bytes <= 40 * PAGE_SIZE; bytes += 4093) {
		UINT64 phys = 0xDEAD;
		unsigned before = prints;

		la_reset();
		la.zero_first = 1;
		zeroed_page0 = 0;
		EFI_STATUS st = pages_alloc(EfiLoaderData, bytes, L"a test block", &phys);
		bool good = st == EFI_SUCCESS && phys != 0 && la_zeroed(phys, bytes) && prints == before &&
			    zeroed_page0 == 0 && la.zero_held;
		pages_free_all();
		good = good && !la.zero_held && la.live == 0 && la.bad_frees == 0;
		n++;
		if (!good && bad++ < 4)
			printf("# %llu bytes: status 0x%llx, block at 0x%llx, %u messages, page 0 %s%s\n",
			       (unsigned long long)bytes, (unsigned long long)st, (unsigned long long)phys,
			       prints - before, zeroed_page0 ? "zeroed, " : "", la.zero_held ? "kept after pages_free_all" : "");
	}
	/* a firmware that gives page 0 every time: refused, said once, nothing kept */
	la_reset();
	la.zero_first = 100;
	UINT64 phys = 0xDEAD;
	unsigned before = prints;
	EFI_STATUS st = pages_alloc(EfiLoaderData, PAGE_SIZE, L"a test block", &phys);
	pages_free_all();
	n++;
	if ((!EFI_ERROR(st) || prints != before + 1 || phys != 0xDEAD || la.zero_held) && bad++ < 4)
		printf("# page 0 every time: status 0x%llx, %u messages\n", (unsigned long long)st, prints - before);
	ok(bad == 0, "%u allocations from a firmware giving physical page 0: another block handed out, zeroed, page 0 "
	   "held until pages_free_all; page 0 every time refused with one message (%u wrong)", n, bad);
}

/* Test 2 of the header: refusals, bounds and the giving back of every block. */
static void test_allocation_failures(void)
{
	unsigned bad = 0, before;
	UINT64 phys = 0xDEAD;
	EFI_STATUS st;

	la_reset();
	la.refuse = EFI_OUT_OF_RESOURCES;
	before = prints;
	st = pages_alloc(EFI_MEMORY_TYPE_KERNEL, 3 * PAGE_SIZE + 1, L"the kernel image", &phys);
	bad += st != EFI_OUT_OF_RESOURCES || prints != before + 1 || phys != 0xDEAD;

	la_reset();
	before = prints;
	st = pages_alloc(EfiLoaderData, 0, L"nothing", &phys);
	bad += st != EFI_INVALID_PARAMETER || prints != before + 1 || la.calls != 0;
	st = pages_alloc(EfiLoaderData, UINT64_MAX - 5, L"too much", &phys);
	bad += st != EFI_INVALID_PARAMETER || prints != before + 2 || la.calls != 0;

	la_reset();
	UINT64 first = 0;
	for (unsigned i = 0; i < MAX_ALLOCATIONS; i++) {
		bad += pages_alloc(EfiLoaderData, PAGE_SIZE * (1 + i), L"a block", &phys) != EFI_SUCCESS;
		if (i == 0)
			first = phys;
	}
	before = prints;
	st = pages_alloc(EfiLoaderData, PAGE_SIZE, L"one more", &phys);
	bad += st != EFI_OUT_OF_RESOURCES || prints != before + 1 || la.calls != MAX_ALLOCATIONS;
	pages_free_all();
	bad += la.live != 0 || la.frees != MAX_ALLOCATIONS || la.bad_frees != 0 || la.last_freed != first;
	ok(bad == 0, "refused allocations said once with their status; sizes 0 and past 2^64 refused before any call; "
	   "the 17th allocation refused; every block given back (%u wrong)", bad);
}

/* Runs the tests, then gives every block back (ASan's leak check). */
int main(void)
{
	BS = &la_bs;
	test_page_zero_is_not_handed_out();
	test_allocation_failures();
	la_reset();
	return tap_done();
}
