/*
 * The MDL validator (README "What a valid MDL is", docs/contract.md section 5) over every value
 * class of every field, against this file's own reading of the rules (written from the README's
 * table, apart from mm/mdl.c and tests/host/model_mdl.h).
 *
 * Classes: ByteOffset 0, 1, 4095, 4096, 65536, 2^32 - 1; StartVa NULL, low, kernel, unaligned by 1
 * and by 4095, the last and second-to-last page of the address space, 2^63; ByteCount 0, 1, 4095,
 * 4096, 4097, three pages, the largest Size that fits 16 bits, one page more, 4 GiB - 4 KiB and
 * around it, 2^32 - 1; Size exact, one short, one over, 0, 0x30, 0xFFFF, the 16-bit truncation,
 * a negative CSHORT; every MdlFlags bit alone and random combinations, with MappedSystemVa NULL,
 * page aligned, unaligned or the data address; frames below the width, the last below it, at it
 * and 2^64 - 1, at any index of the span; MDLs on the stack and at the start of pool blocks (whose
 * block decides the room of spans over 8185 pages).
 *
 * Checked: mdl_validate's rule and P3/P4 under each set of checks (none, bytes, bytes and frames)
 * for every combination of the ByteOffset, StartVa and ByteCount classes and for generated MDLs
 * drawing every field from its classes at once; then, for generated MDLs small enough to call with,
 * the calls: MmUnmapReservedMapping (0x1A with P1 .. P4 for a malformed MDL, else the address
 * checks: 0x109 outside the region), MmBuildMdlForNonPagedPool (0x1A for a malformed one or one
 * that describes pages, else 0x50 at its first unmapped page), IoBuildPartialMdl (0x1A naming the
 * source, else a target describing the first byte), MmMapLockedPagesWithReservedMapping (NULL for
 * a malformed MDL or one whose state forbids a map, else mapped at the reservation with the MDL's
 * fields set as the contract says) and nothing changed by a refusal.
 */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "pool.h"
#include "reserved.h"
#include "syspte.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "vmlayout.h"

#define TAG_R POOL_TAG4('F', 'c', 'l', 'R')
#define TAG_P POOL_TAG4('F', 'c', 'l', 'P')
#define MAX_SPAN ((1u << 20) + 1)
#define RES_PAGES 16u

static uint64_t rng = 0xB7E151628AED2A6BULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static struct { MDL m; PFN_NUMBER pfn[MAX_SPAN + 1]; } big;

static const uint64_t off_class[] = { 0, 1, 4095, 4096, 65536, 0xFFFFFFFFu };
static const uint64_t start_class[] = { 0, 0x7000, 0xffff900000000000ULL, 0xffff900000000001ULL, 0xffff900000000fffULL,
					0xfffffffffffff000ULL, 0xffffffffffffe000ULL, 0x8000000000000000ULL };
static const uint64_t count_class[] = { 0, 1, 4095, 4096, 4097, 3 * 4096, 8185 * 4096ULL, 8186 * 4096ULL,
					0xFFFFEFFFu, 0xFFFFF000u, 0xFFFFF001u, 0xFFFFFFFFu };
static const uint16_t flag_bits[] = { MDL_MAPPED_TO_SYSTEM_VA, MDL_PAGES_LOCKED, MDL_SOURCE_IS_NONPAGED_POOL,
	MDL_ALLOCATED_FIXED_SIZE, MDL_PARTIAL, MDL_PARTIAL_HAS_BEEN_MAPPED, MDL_IO_PAGE_READ, MDL_WRITE_OPERATION,
	MDL_PARENT_MAPPED_SYSTEM_VA, MDL_FREE_EXTRA_PTES, MDL_DESCRIBES_AWE, MDL_IO_SPACE, MDL_NETWORK_HEADER,
	MDL_MAPPING_CAN_FAIL, MDL_PAGE_CONTENTS_INVARIANT, MDL_INTERNAL };

/* The README's rules, read here: the rule broken (0 none, 1..7 as the subcodes 0x4D440101 ..), its
 * P3 and P4. bytes: ByteCount 0 is an error; frames: the span's frames are checked; block: the
 * pool block's bytes when the MDL starts one, else 0. */
static int rules(const MDL *m, bool bytes, bool frames, size_t block, uint64_t *p3, uint64_t *p4)
{
	uint64_t off = m->ByteOffset, start = (uint64_t)m->StartVa, count = m->ByteCount, sys = (uint64_t)m->MappedSystemVa;
	uint16_t f = (uint16_t)m->MdlFlags, size = (uint16_t)m->Size;
	*p3 = *p4 = 0;
	if (off >= 4096)
		return *p3 = off, 1;
	if (start % 4096)
		return *p3 = start, 2;
	if (count > 0xFFFFF000u || (bytes && count == 0))
		return *p3 = count, 3;
	if ((unsigned __int128)start + off + count > (unsigned __int128)1 << 64)
		return *p3 = start, *p4 = count, 4;
	uint64_t span = (off + count + 4095) / 4096, need = 0x30 + 8 * span;
	bool room = need <= 0xFFFF ? size >= need : block ? block >= need : size == (uint16_t)need;
	if (!room)
		return *p3 = size, *p4 = need, 5;
	bool mapped = f & MDL_MAPPED_TO_SYSTEM_VA, parent = f & MDL_PARENT_MAPPED_SYSTEM_VA, partial = f & MDL_PARTIAL;
	bool pool = f & MDL_SOURCE_IS_NONPAGED_POOL;
	bool flags_bad = (f & (MDL_FREE_EXTRA_PTES | MDL_DESCRIBES_AWE | MDL_INTERNAL)) ||
			 ((f & MDL_PARTIAL_HAS_BEEN_MAPPED) && !(partial && mapped)) || (parent && !partial) ||
			 (mapped && !sys) || ((mapped || parent) && sys % 4096) || (pool && (mapped || parent)) ||
			 (pool && sys && sys != start + off);
	if (flags_bad)
		return *p3 = f, *p4 = sys, 6;
	for (uint64_t k = 0; frames && k < span; k++)
		if (MmGetMdlPfnArray((PMDL)m)[k] >> (arch_phys_addr_bits() - 12))
			return *p3 = MmGetMdlPfnArray((PMDL)m)[k], *p4 = k, 7;
	return 0;
}

static size_t block_of(const MDL *m)
{
	size_t b;
	return pool_block_info(m, &b, NULL) ? b : 0;
}

/* Compares mdl_validate with the rules under the three sets of checks; true when all agree. */
static bool validate_agrees(const MDL *m, const char *what)
{
	static const unsigned checks[3] = { 0, MDL_CHECK_BYTES, MDL_CHECK_BYTES | MDL_CHECK_FRAMES };
	bool all = true;
	for (int c = 0; c < 3; c++) {
		uint64_t p3, p4;
		int want = rules(m, checks[c] & MDL_CHECK_BYTES, checks[c] & MDL_CHECK_FRAMES, block_of(m), &p3, &p4);
		struct mdl_fault f;
		int got = (int)mdl_validate(m, checks[c], &f);
		bool good = got == want && (!want || (f.value == p3 && f.extra == p4));
		if (!good) {
			printf("# %s, checks %u: off 0x%x start 0x%llx count 0x%x size 0x%x flags 0x%x sys 0x%llx: rule %d "
			       "(0x%llx, 0x%llx), want %d (0x%llx, 0x%llx)\n", what, checks[c], m->ByteOffset,
			       (unsigned long long)m->StartVa, m->ByteCount, (uint16_t)m->Size, (uint16_t)m->MdlFlags,
			       (unsigned long long)m->MappedSystemVa, got, (unsigned long long)f.value,
			       (unsigned long long)f.extra, want, (unsigned long long)p3, (unsigned long long)p4);
			all = false;
		}
	}
	return all;
}

/* The span's frames set valid: 0x100 + k below every width the tests use. */
static void frames_valid(PFN_NUMBER *pfn, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		pfn[k] = 0x100 + k;
}

/* A Size from its classes for a span (need = 0x30 + 8 * span). */
static CSHORT size_class(uint64_t need)
{
	switch (draw(9)) {
	case 0: return (CSHORT)(need - 1);
	case 1: return (CSHORT)(need + 8);
	case 2: return 0;
	case 3: return 0x30;
	case 4: return (CSHORT)0xFFFF;
	case 5: return (CSHORT)0x8000;
	default: return (CSHORT)need;   /* exact, truncated to 16 bits when larger */
	}
}

/* Flags and MappedSystemVa from their classes for an MDL whose data address is data. */
static void flags_class(PMDL m, uint64_t data)
{
	uint16_t f = 0;
	switch (draw(4)) {
	case 0: f = flag_bits[draw(16)]; break;
	case 1: f = (uint16_t)draw(0x10000); break;
	case 2: f = (uint16_t)(flag_bits[draw(16)] | flag_bits[draw(16)]); break;
	default: f = draw(2) ? MDL_PAGES_LOCKED : MDL_PARTIAL; break;
	}
	m->MdlFlags = (CSHORT)f;
	switch (draw(4)) {
	case 0: m->MappedSystemVa = NULL; break;
	case 1: m->MappedSystemVa = (PVOID)(SYSPTE_BASE + draw(64) * PAGE_SIZE); break;
	case 2: m->MappedSystemVa = (PVOID)(SYSPTE_BASE + 1 + draw(PAGE_SIZE - 1)); break;
	default: m->MappedSystemVa = (PVOID)data; break;
	}
}

/* Every combination of the ByteOffset, StartVa and ByteCount classes, each with an exact, a short
 * and a truncated Size, and each flag alone: mdl_validate agrees with the rules. */
static void test_field_cross_product(void)
{
	unsigned cases = 0, wrong = 0;
	uint64_t seen[8] = { 0 };
	frames_valid(big.pfn, MAX_SPAN);
	for (size_t a = 0; a < ARRAY_SIZE(off_class); a++)
		for (size_t b = 0; b < ARRAY_SIZE(start_class); b++)
			for (size_t c = 0; c < ARRAY_SIZE(count_class); c++)
				for (int s = 0; s < 3; s++)
					for (size_t fl = 0; fl <= ARRAY_SIZE(flag_bits); fl++) {
						memset(&big.m, 0, sizeof(big.m));
						big.m.ByteOffset = (ULONG)off_class[a];
						big.m.StartVa = (PVOID)start_class[b];
						big.m.ByteCount = (ULONG)count_class[c];
						uint64_t span = (off_class[a] % 4096 + count_class[c] + 4095) / 4096;
						uint64_t need = 0x30 + 8 * span;
						if (span > 9000 && fl != 0)
							continue;   /* a frame pass of up to 2^20 frames: once per combination */
						big.m.Size = (CSHORT)(s == 0 ? need : s == 1 ? need - 8 : need + 0x10000 / 2);
						big.m.MdlFlags = fl < ARRAY_SIZE(flag_bits) ? (CSHORT)flag_bits[fl] : 0;
						if (big.m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA))
							big.m.MappedSystemVa = (PVOID)SYSPTE_BASE;
						uint64_t p3, p4;
						seen[rules(&big.m, true, true, 0, &p3, &p4)]++;
						cases++;
						if (!validate_agrees(&big.m, "cross product") && ++wrong >= 4)
							goto out;
					}
out:
	ok(wrong == 0, "%u combinations of the ByteOffset, StartVa, ByteCount, Size and single-flag classes: "
	   "mdl_validate's rule, P3 and P4 under each set of checks are the README's", cases);
	bool every = true;
	for (int r = 0; r < 7; r++)
		every &= seen[r] > 0;
	ok(every, "every rule reached (valid %llu, 1: %llu, 2: %llu, 3: %llu, 4: %llu, 5: %llu, 6: %llu)",
	   (unsigned long long)seen[0], (unsigned long long)seen[1], (unsigned long long)seen[2],
	   (unsigned long long)seen[3], (unsigned long long)seen[4], (unsigned long long)seen[5], (unsigned long long)seen[6]);
}

/* Every value of MdlFlags with each class of MappedSystemVa, on a valid header. */
static void test_every_flag_value(void)
{
	unsigned cases = 0, wrong = 0, valid = 0;
	struct { MDL m; PFN_NUMBER pfn[3]; } h;
	const uint64_t data = 0xffff900000000000ULL + 0x123;
	const uint64_t sys[5] = { 0, SYSPTE_BASE, SYSPTE_BASE + 8, data, data & ~0xfffULL };
	for (uint32_t f = 0; f < 0x10000; f++)
		for (int s = 0; s < 5; s++, cases++) {
			MmInitializeMdl(&h.m, (PVOID)data, 2 * PAGE_SIZE);
			frames_valid(h.pfn, 3);
			h.m.MdlFlags = (CSHORT)f;
			h.m.MappedSystemVa = (PVOID)sys[s];
			uint64_t p3, p4;
			valid += rules(&h.m, true, true, 0, &p3, &p4) == 0;
			if (!validate_agrees(&h.m, "flags") && ++wrong >= 4)
				goto out;
		}
out:
	ok(wrong == 0 && valid > 1000, "all %u values of MdlFlags with five kinds of MappedSystemVa: the README's flag rules "
	   "(%u valid)", cases, valid);
}

/* Frames below, at and beyond the width, at any index, under widths 32 to 52. */
static void test_frame_classes(void)
{
	unsigned cases = 0, wrong = 0, bad_seen = 0;
	struct { MDL m; PFN_NUMBER pfn[40]; } h;
	for (unsigned bits = 32; bits <= 52; bits++) {
		fake_arch_set_phys_bits(bits);
		uint64_t limit = 1ULL << (bits - 12);
		for (unsigned it = 0; it < 60; it++, cases++) {
			uint64_t n = 1 + draw(39);
			MmInitializeMdl(&h.m, (PVOID)(0x7000 + draw(PAGE_SIZE)), n * PAGE_SIZE - draw(PAGE_SIZE));
			h.m.MdlFlags = MDL_PAGES_LOCKED;
			uint64_t span = mdl_span_pages(&h.m);
			for (uint64_t k = 0; k < 40; k++)
				h.pfn[k] = draw(4) ? draw(limit) : limit - 1;
			if (draw(3)) {
				uint64_t at = draw(span + 1);   /* span: a frame past the span, which is not read */
				const uint64_t vals[4] = { limit, limit + draw(1ULL << 20), UINT64_MAX, limit << 1 };
				h.pfn[at] = vals[draw(4)];
				bad_seen += at < span;
			}
			if (!validate_agrees(&h.m, "frames") && ++wrong >= 4)
				break;
		}
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(wrong == 0 && bad_seen > 300, "%u MDLs at widths 32 to 52, frames up to the last below the width and beyond it "
	   "at any index (%u with one in the span): rule 7 with the first such frame and its index", cases, bad_seen);
}

/* An MDL's fields drawn from every class at once, on the stack-like static MDL or at the start of a
 * pool block; returns the MDL. */
static PMDL random_mdl(PMDL pool_mdl, size_t pool_pages)
{
	PMDL m = pool_mdl && draw(3) == 0 ? pool_mdl : &big.m;
	uint64_t off = draw(5) ? draw(4096) : off_class[draw(ARRAY_SIZE(off_class))];
	uint64_t start = draw(3) ? 0xffff900000000000ULL + draw(1 << 16) * PAGE_SIZE : start_class[draw(ARRAY_SIZE(start_class))];
	uint64_t count;
	switch (draw(4)) {
	case 0: count = count_class[draw(ARRAY_SIZE(count_class))]; break;
	case 1: count = (pool_pages - 1) * PAGE_SIZE + draw(2 * PAGE_SIZE); break;   /* around the pool block's room */
	default: count = 1 + draw(12 * PAGE_SIZE); break;
	}
	m->Next = NULL;
	m->ByteOffset = (ULONG)off;
	m->StartVa = (PVOID)start;
	m->ByteCount = (ULONG)count;
	uint64_t span = (off % 4096 + (count & 0xFFFFFFFFu) + 4095) / 4096;
	m->Size = size_class(0x30 + 8 * span);
	flags_class(m, start + off);
	return m;
}

/* State around the calls: the region's numbers and the pool's tag counts. */
struct world {
	struct syspte_stats st;
	struct pool_stats ps;
};

static void world_take(struct world *w)
{
	syspte_get_stats(reserved_region(), &w->st);
	pool_get_stats(&w->ps);
}

static bool world_same(const struct world *a)
{
	struct world b;
	world_take(&b);
	return a->st.free_pages == b.st.free_pages && a->st.live == b.st.live && a->st.pages_mapped == b.st.pages_mapped &&
	       memcmp(&a->ps, &b.ps, sizeof(b.ps)) == 0;
}

/* Generated MDLs through the calls: each outcome with its parameters, nothing changed by a
 * refusal, the MDL unchanged by every bug check and NULL. */
static void test_calls_generated(void)
{
	enum { POOL_PAGES = 10000, ITER = 8000 };
	char *res = MmAllocateMappingAddress(RES_PAGES * PAGE_SIZE, TAG_R);
	PMDL pool_mdl = ExAllocatePoolWithTag(NonPagedPool, 0x30 + 8 * POOL_PAGES, TAG_P);
	static struct { MDL m; PFN_NUMBER pfn[40]; } target;
	static uint8_t saved[sizeof(MDL) + 40 * sizeof(PFN_NUMBER)];
	ok(res && pool_mdl, "a reservation and a pool block of %u PFNs", POOL_PAGES);
	frames_valid(MmGetMdlPfnArray(pool_mdl), POOL_PAGES);
	frames_valid(big.pfn, MAX_SPAN);
	const vaddr_t outside = SYSPTE_BASE - 5 * PAGE_SIZE + 0x21;
	uint64_t count = bugcheck_last.count, wrong = 0, hits[4][8] = { { 0 } }, mapped = 0;
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned it = 0; it < ITER && wrong < 4; it++) {
		PMDL m = random_mdl(pool_mdl, POOL_PAGES);
		bool is_pool = m == pool_mdl;
		uint64_t span = mdl_span_pages(m), at = 0;
		bool planted = draw(4) == 0 && span;
		if (planted) {   /* a frame at the width, somewhere in the span */
			at = draw(MIN(span, is_pool ? POOL_PAGES : MAX_SPAN));
			MmGetMdlPfnArray(m)[at] = 1ULL << (arch_phys_addr_bits() - 12);
		}
		memcpy(saved, m, sizeof(saved));
		unsigned call = (unsigned)draw(4);
		uint64_t p3, p4;
		int rule = rules(m, call != 0, call >= 2, block_of(m), &p3, &p4);
		hits[call][rule]++;
		struct world w;
		world_take(&w);
		bool good = true, v_mapped = false;
		const char *name = "";
		if (call == 0) {
			name = "MmUnmapReservedMapping";
			MmUnmapReservedMapping((PVOID)outside, TAG_R, m);
			good = bugcheck_last.count == count + 1 &&
			       (rule ? bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
					   bugcheck_last.p[0] == MDL_BUGCHECK_INVALID_BASE + (unsigned)rule &&
					   bugcheck_last.p[1] == (uintptr_t)m && bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4
				     : bugcheck_last.code == BUGCHECK_SYSTEM_PTE_MISUSE &&
					   bugcheck_last.p[0] == SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED && bugcheck_last.p[1] == outside &&
					   bugcheck_last.p[2] == TAG_R && bugcheck_last.p[3] == 0);
		} else if (call == 1) {
			name = "MmBuildMdlForNonPagedPool";
			uint16_t f = (uint16_t)m->MdlFlags;
			bool describes = f & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL |
					      MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA);
			size_t block = block_of(m);
			bool short_block = block && block < 0x30 + 8 * span;
			MmBuildMdlForNonPagedPool(m);
			/* a valid MDL's range lies in no mapping here: 0x50 at its first page */
			good = bugcheck_last.count == count + 1 &&
			       (rule ? bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
					   bugcheck_last.p[0] == MDL_BUGCHECK_INVALID_BASE + (unsigned)rule &&
					   bugcheck_last.p[1] == (uintptr_t)m && bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4
				: describes ? bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
					      bugcheck_last.p[0] == MDL_BUGCHECK_BUILD_BAD_MDL && bugcheck_last.p[1] == (uintptr_t)m &&
					      bugcheck_last.p[2] == f
				: short_block ? bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
						bugcheck_last.p[0] == MDL_BUGCHECK_BAD_SIZE && bugcheck_last.p[2] == (uint16_t)m->Size &&
						bugcheck_last.p[3] == 0x30 + 8 * span
					      : bugcheck_last.code == BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA &&
						bugcheck_last.p[0] == (uint64_t)m->StartVa && bugcheck_last.p[1] == PF_NONPAGED_READ &&
						bugcheck_last.p[2] != 0 && bugcheck_last.p[3] == 0);
		} else if (call == 2) {
			name = "IoBuildPartialMdl";
			memset(&target, 0, sizeof(target));
			MmInitializeMdl(&target.m, NULL, 39 * PAGE_SIZE);
			target.m.MdlFlags = MDL_ALLOCATED_FIXED_SIZE;
			PVOID va = MmGetMdlVirtualAddress(m);
			IoBuildPartialMdl(m, &target.m, va, 1);
			good = rule ? bugcheck_last.count == count + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
					      bugcheck_last.p[0] == MDL_BUGCHECK_INVALID_BASE + (unsigned)rule &&
					      bugcheck_last.p[1] == (uintptr_t)m && bugcheck_last.p[2] == p3 &&
					      bugcheck_last.p[3] == p4 && target.m.ByteCount == 39 * PAGE_SIZE
				    : bugcheck_last.count == count && target.m.ByteCount == 1 && target.m.StartVa == PAGE_ALIGN(va) &&
					      target.m.ByteOffset == BYTE_OFFSET(va) && (target.m.MdlFlags & MDL_PARTIAL) &&
					      target.pfn[0] == MmGetMdlPfnArray(m)[0];
		} else {
			name = "MmMapLockedPagesWithReservedMapping";
			uint16_t f = (uint16_t)m->MdlFlags;
			bool state = (f & (MDL_PAGES_LOCKED | MDL_PARTIAL)) &&
				     !(f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL_HAS_BEEN_MAPPED));
			bool maps = !rule && state && span <= RES_PAGES;
			uint64_t off = m->ByteOffset;
			char *v = MmMapLockedPagesWithReservedMapping(res + draw(PAGE_SIZE), TAG_R, m, MmCached);
			good = bugcheck_last.count == count && (maps ? v == res + off : v == NULL);
			v_mapped = v != NULL;
			if (good && maps) {
				good = m->MappedSystemVa == res && (m->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) &&
				       !!(m->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED) == !!(f & MDL_PARTIAL);
				MmUnmapReservedMapping(res, TAG_R, m);
				good &= bugcheck_last.count == count && m->MappedSystemVa == NULL &&
					!(m->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED));
				mapped++;
			}
		}
		bool made = call == 3 && v_mapped;
		bool kept = world_same(&w) && (made || memcmp(saved, m, sizeof(saved)) == 0);
		if (!good || !kept) {
			wrong++;
			printf("# %s, iteration %u, rule %d (P3 0x%llx P4 0x%llx): %s; last bug check 0x%x (0x%llx, 0x%llx, 0x%llx, "
			       "0x%llx), %llu raised\n", name, it, rule, (unsigned long long)p3, (unsigned long long)p4,
			       good ? "state changed" : "wrong outcome", bugcheck_last.code,
			       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
			       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3],
			       (unsigned long long)(bugcheck_last.count - count));
		}
		count = bugcheck_last.count;
		if (planted)
			MmGetMdlPfnArray(m)[at] = 0x100 + at;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u generated MDLs through MmUnmapReservedMapping, MmBuildMdlForNonPagedPool, IoBuildPartialMdl "
	   "and MmMapLockedPagesWithReservedMapping: each outcome and bug check as documented, refusals change nothing", ITER);
	bool every = mapped > 80;
	for (unsigned c = 0; c < 4; c++)
		for (int r = 0; r < 8; r++)
			every &= hits[c][r] > 0 || (r == 7 && c < 2);
	ok(every, "every rule reached through every call (%llu maps made)", (unsigned long long)mapped);
	if (!every)
		for (unsigned c = 0; c < 4; c++)
			printf("# call %u: %llu %llu %llu %llu %llu %llu %llu %llu\n", c, (unsigned long long)hits[c][0],
			       (unsigned long long)hits[c][1], (unsigned long long)hits[c][2], (unsigned long long)hits[c][3],
			       (unsigned long long)hits[c][4], (unsigned long long)hits[c][5], (unsigned long long)hits[c][6],
			       (unsigned long long)hits[c][7]);
	ExFreePoolWithTag(pool_mdl, TAG_P);
	MmFreeMappingAddress(res, TAG_R);
}

/* Seeded random MDLs, every field from its classes at once: mdl_validate agrees with the rules. */
static void test_validate_generated(void)
{
	enum { POOL_PAGES = 9000 };
	PMDL pool_mdl = ExAllocatePoolWithTag(NonPagedPool, 0x30 + 8 * POOL_PAGES, TAG_P);
	frames_valid(MmGetMdlPfnArray(pool_mdl), POOL_PAGES);
	frames_valid(big.pfn, MAX_SPAN);
	unsigned wrong = 0, cases = 0;
	uint64_t seen[8] = { 0 };
	for (; cases < 12000 && wrong < 4; cases++) {
		PMDL m = random_mdl(pool_mdl, POOL_PAGES);
		uint64_t span = mdl_span_pages(m), at = 0;
		bool planted = draw(4) == 0 && span;
		if (planted) {
			at = draw(MIN(span, m == pool_mdl ? POOL_PAGES : MAX_SPAN));
			MmGetMdlPfnArray(m)[at] = UINT64_MAX >> draw(12);
		}
		uint64_t p3, p4;
		seen[rules(m, true, true, block_of(m), &p3, &p4)]++;
		wrong += !validate_agrees(m, "generated");
		if (planted)
			MmGetMdlPfnArray(m)[at] = 0x100 + at;
	}
	ok(wrong == 0, "%u seeded random MDLs (stack and pool, every field from its classes): mdl_validate as the README", cases);
	bool every = true;
	for (int r = 0; r < 8; r++)
		every &= seen[r] > 20;
	ok(every, "every rule reached: %llu %llu %llu %llu %llu %llu %llu %llu", (unsigned long long)seen[0],
	   (unsigned long long)seen[1], (unsigned long long)seen[2], (unsigned long long)seen[3], (unsigned long long)seen[4],
	   (unsigned long long)seen[5], (unsigned long long)seen[6], (unsigned long long)seen[7]);
	ExFreePoolWithTag(pool_mdl, TAG_P);
}

int main(void)
{
	if (host_machine_create(256ULL << 20, 8ULL << 20)) {
		printf("Bail out! machine\n");
		return 1;
	}
	test_field_cross_product();
	test_every_flag_value();
	test_frame_classes();
	test_validate_generated();
	test_calls_generated();
	return tap_done();
}
