/*
 * Differential test of the reserved-mapping API against a reference model: random sequences of
 * reserve / map / unmap / free, misuse included, on a small region. After every call: the bug
 * check (or its absence) and its parameters match the model, the PTEs match the model, the
 * recorded TLB operations are exactly those documented, and syspte_check() passes.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "syspte.h"
#include "bugcheck.h"
#include "vmlayout.h"

#define NPAGES 1024
#define MAXR 512
static const uint32_t tags[] = { 0x61616161, 0x62626262, 0x63636363 };

struct mresv { bool live; uint64_t start, npages; uint32_t tag; };
static struct mresv res[MAXR];
static int owner[NPAGES];            /* reservation index, or -1 */
static uint64_t mpfn[NPAGES];        /* mapped PFN + 1, or 0 */
static bool mstart[NPAGES];          /* first page of a mapping */
static uint64_t rng;
static uint64_t failures, ops, bugchecks_seen, nulls_seen;

static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static vaddr_t pva(uint64_t i) { return SYSPTE_BASE + i * 4096; }

struct expect { uint32_t sub; uint64_t p2, p3, p4; };   /* sub 0: no bug check */

static void fail(const char *what, uint64_t a, uint64_t b)
{
	if (failures++ < 10)
		printf("# op %llu: %s (0x%llx, 0x%llx)\n", (unsigned long long)ops, what, (unsigned long long)a, (unsigned long long)b);
}

/* Compares the intercepted bug check with the expectation. */
static void check_bugcheck(const struct expect *e, uint64_t count_before)
{
	bool fired = bugcheck_last.count != count_before;
	if (!e->sub) {
		if (fired)
			fail("unexpected bug check", bugcheck_last.code, bugcheck_last.p[0]);
		return;
	}
	bugchecks_seen++;
	if (!fired || bugcheck_last.code != 0xDA || bugcheck_last.p[0] != e->sub)
		fail("wrong or missing bug check", fired ? bugcheck_last.p[0] : 0, e->sub);
	else if (bugcheck_last.p[1] != e->p2 || bugcheck_last.p[2] != e->p3 || bugcheck_last.p[3] != e->p4)
		fail("bug check parameters differ", e->sub, bugcheck_last.p[1]);
}

/* Checks PTEs of pages [a, b) against the model. */
static void check_ptes(uint64_t a, uint64_t b)
{
	for (uint64_t i = a; i < b && i < NPAGES; i++) {
		paddr_t pa;
		uint64_t pte;
		bool present = pt_query(host_machine_pt(), pva(i), &pa, &pte, NULL);
		if (present != (mpfn[i] != 0))
			fail("present bit differs from the model", i, present);
		else if (present && (pa >> 12) != mpfn[i] - 1)
			fail("mapped frame differs", i, pa >> 12);
		else if (present && (!(pte & PTE_G) || !(pte & PTE_NX) || !(pte & PTE_W) || (pte & PTE_U)))
			fail("mapping bits wrong", i, pte);
	}
}

static int find_containing(uint64_t i)
{
	return i < NPAGES ? owner[i] : -1;
}

static void op_reserve(void)
{
	uint64_t pages = 1 + (below(8) ? below(16) : below(96));
	SIZE_T bytes = pages * 4096 - below(4096);
	uint32_t tag = tags[below(3)];
	ULONG flags = below(4) ? 0 : MM_MAPPING_ADDRESS_DIVISIBLE;
	bool bad = false;
	switch (below(40)) {
	case 0: bytes = 0; bad = true; break;
	case 1: bytes = (1ULL << 32) + below(1 << 20); bad = true; break;
	case 2: tag = 0; bad = true; break;
	case 3: flags |= 1u << (1 + below(31)); bad = true; break;
	}
	void *p = MmAllocateMappingAddressEx(bytes, tag, flags);
	if (bad) {
		if (p)
			fail("invalid reservation returned memory", bytes, tag);
		return;
	}
	if (!p) {
		nulls_seen++;
		return;
	}
	uint64_t start = ((vaddr_t)p - SYSPTE_BASE) / 4096;
	if ((vaddr_t)p % 4096 || (vaddr_t)p < SYSPTE_BASE || start + pages > NPAGES) {
		fail("reservation outside the region", (vaddr_t)p, pages);
		return;
	}
	if ((flags & MM_MAPPING_ADDRESS_DIVISIBLE) && (vaddr_t)p % (pages * 4096))
		fail("DIVISIBLE reservation not divisible", (vaddr_t)p, pages);
	int slot = -1;
	for (int r = 0; r < MAXR; r++)
		if (!res[r].live) { slot = r; break; }
	if (slot < 0) {
		MmFreeMappingAddress(p, tag);
		return;
	}
	for (uint64_t i = start; i < start + pages; i++)
		if (owner[i] >= 0)
			fail("reservation overlaps a live one", i, (uint64_t)owner[i]);
	res[slot] = (struct mresv){ true, start, pages, tag };
	for (uint64_t i = start; i < start + pages; i++)
		owner[i] = slot;
}

static int pick_live(void)
{
	for (int tries = 0; tries < 8; tries++) {
		int r = (int)below(MAXR);
		if (res[r].live)
			return r;
	}
	for (int r = 0; r < MAXR; r++)
		if (res[r].live)
			return r;
	return -1;
}

static uint64_t mapped_in(const struct mresv *r, uint64_t *first)
{
	uint64_t n = 0;
	*first = 0;
	for (uint64_t i = r->start + r->npages; i-- > r->start;)
		if (mpfn[i]) {
			n++;
			*first = i;
		}
	return n;
}

static void op_free(void)
{
	int r = pick_live();
	uint64_t i = r >= 0 ? res[r].start : below(NPAGES);
	uint32_t tag = r >= 0 ? res[r].tag : tags[0];
	vaddr_t addr = pva(i);
	uint64_t kind = below(10);
	if (kind == 0)
		tag = tag == tags[0] ? tags[1] : tags[0];   /* a wrong owner */
	else if (kind == 1)
		addr += 4096 * (1 + below(4));
	else if (kind == 2)
		addr += 1 + below(4095);
	uint64_t ai = (addr & ~4095ULL) - SYSPTE_BASE;
	ai /= 4096;
	struct expect e = { 0 };
	int at = find_containing(ai);
	if (at < 0 || res[at].start != ai)
		e = (struct expect){ 0x102, addr, tag, 0 };
	else if (res[at].tag != tag)
		e = (struct expect){ 0x101, addr, tag, res[at].tag };
	else {
		uint64_t first, n = mapped_in(&res[at], &first);
		if (n)
			e = (struct expect){ 0x103, pva(first), tag, n };
	}
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	MmFreeMappingAddress((void *)addr, tag);
	check_bugcheck(&e, before);
	if (fake_tlb.pages || fake_tlb.alls)
		fail("free flushed the TLB", fake_tlb.pages, fake_tlb.alls);
	if (!e.sub) {
		for (uint64_t k = res[at].start; k < res[at].start + res[at].npages; k++)
			owner[k] = -1;
		res[at].live = false;
	}
}

/* A hand-built MDL: header plus PFN array. */
struct hmdl { MDL mdl; PFN_NUMBER pfn[128]; };

static void op_map(void)
{
	int r = pick_live();
	uint64_t i = r >= 0 ? res[r].start + below(res[r].npages) : below(NPAGES);
	if (below(20) == 0)
		i = below(NPAGES);
	uint32_t tag = r >= 0 && below(12) ? res[r].tag : tags[below(3)];
	uint64_t room = r >= 0 ? res[r].start + res[r].npages - i : 4;
	uint64_t n = 1 + below(room + 1);
	if (n > 100)
		n = 100;
	static struct hmdl h;
	memset(&h, 0, sizeof(h));
	h.mdl.MdlFlags = below(10) ? MDL_PAGES_LOCKED : (CSHORT)(below(2) ? MDL_PARTIAL : MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA);
	bool mdl_ok = !(h.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
	h.mdl.ByteOffset = below(3) ? 0 : (ULONG)below(4096);
	h.mdl.ByteCount = (ULONG)(n * 4096 - h.mdl.ByteOffset - (h.mdl.ByteOffset ? 0 : below(4096)));
	for (uint64_t k = 0; k < n; k++)
		h.pfn[k] = 0x100 + below(1 << 20);
	MEMORY_CACHING_TYPE ct = (MEMORY_CACHING_TYPE)(below(16) ? below(6) : 6 + below(3));
	struct expect e = { 0 };
	bool want_null = false;
	int at = find_containing(i);
	vaddr_t addr = pva(i) + (below(4) ? 0 : below(4096));
	if (at < 0)
		e = (struct expect){ 0x105, addr, tag, 0 };
	else if (res[at].tag != tag)
		e = (struct expect){ 0x104, addr, tag, res[at].tag };
	else if (ct >= MmMaximumCacheType || !mdl_ok || n > res[at].start + res[at].npages - i)
		want_null = true;
	else {
		for (uint64_t k = i; k < i + n; k++)
			if (mpfn[k]) {
				e = (struct expect){ 0x107, addr, pva(k), pva(i + n) - 1 };
				break;
			}
	}
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	char *p = MmMapLockedPagesWithReservedMapping((void *)addr, tag, &h.mdl, ct);
	check_bugcheck(&e, before);
	if (fake_tlb.pages || fake_tlb.alls)
		fail("map flushed the TLB", fake_tlb.pages, fake_tlb.alls);
	bool should_map = !e.sub && !want_null;
	if (should_map != (p != NULL)) {
		fail("map result differs from the model", (uint64_t)p, should_map);
		return;
	}
	if (!p) {
		if (h.mdl.MappedSystemVa || (h.mdl.MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED))
			fail("refused map changed the MDL", h.mdl.MdlFlags, 0);
		return;
	}
	if ((vaddr_t)p != pva(i) + h.mdl.ByteOffset || h.mdl.MappedSystemVa != (void *)pva(i))
		fail("map returned the wrong address", (vaddr_t)p, pva(i));
	for (uint64_t k = 0; k < n; k++) {
		mpfn[i + k] = h.pfn[k] + 1;
		mstart[i + k] = k == 0;
	}
	check_ptes(i, i + n);
}

/* Start of the model's mapping containing mapped page i. */
static uint64_t model_map_start(uint64_t i, uint64_t floor)
{
	while (i > floor && !mstart[i])
		i--;
	return i;
}

static void op_unmap(void)
{
	uint64_t i = below(NPAGES), n;
	if (below(4)) {   /* usually the start of a mapping, one or two whole mappings long */
		uint64_t s = below(NPAGES);
		for (uint64_t k = 0; k < NPAGES; k++)
			if (mstart[(s + k) % NPAGES] && mpfn[(s + k) % NPAGES]) { i = (s + k) % NPAGES; break; }
	}
	n = 1;
	while (i + n < NPAGES && mpfn[i + n] && !mstart[i + n])
		n++;
	if (below(3) == 0)
		n += below(3);
	else if (below(3) == 0 && n > 1)
		n -= 1 + below(n - 1);
	int at = find_containing(i);
	uint32_t tag = at >= 0 && below(15) ? res[at].tag : tags[below(3)];
	vaddr_t addr = pva(i) + (below(4) ? 0 : below(4096));
	struct expect e = { 0 };
	if (at < 0)
		e = (struct expect){ 0x109, addr, tag, 0 };
	else if (res[at].tag != tag)
		e = (struct expect){ 0x108, addr, tag, res[at].tag };
	else if (!mpfn[i])
		e = (struct expect){ 0x109, addr, tag, 0 };
	else {
		uint64_t end = res[at].start + res[at].npages;
		if (n > end - i)
			e = (struct expect){ 0x10A, addr, end - i, n };
		else {
			for (uint64_t k = i; k < i + n; k++)
				if (!mpfn[k]) { e = (struct expect){ 0x10B, pva(k), 0, 0 }; break; }
			if (!e.sub && !mstart[i])
				e = (struct expect){ 0x10C, addr, pva(model_map_start(i, res[at].start)), n };
			if (!e.sub && i + n < end && mpfn[i + n] && !mstart[i + n])
				e = (struct expect){ 0x10C, addr, pva(model_map_start(i + n - 1, res[at].start)), n };
		}
	}
	static struct hmdl h;
	memset(&h, 0, sizeof(h));
	h.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	h.mdl.ByteOffset = (ULONG)below(4096);
	h.mdl.ByteCount = (ULONG)(n * 4096 - h.mdl.ByteOffset);
	h.mdl.MappedSystemVa = (void *)pva(i);
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	MmUnmapReservedMapping((void *)addr, tag, &h.mdl);
	check_bugcheck(&e, before);
	if (e.sub) {
		if (fake_tlb.pages || fake_tlb.alls)
			fail("refused unmap flushed the TLB", fake_tlb.pages, fake_tlb.alls);
		if (!(h.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA))
			fail("refused unmap changed the MDL", h.mdl.MdlFlags, 0);
		return;
	}
	if (n <= SYSPTE_FLUSH_ALL_THRESHOLD ? (fake_tlb.pages != n || fake_tlb.alls) : (fake_tlb.pages || fake_tlb.alls != 1))
		fail("unmap TLB invalidations differ from the documented policy", fake_tlb.pages, fake_tlb.alls);
	for (uint64_t k = 0; k < n && k < FAKE_TLB_LOG && n <= SYSPTE_FLUSH_ALL_THRESHOLD; k++)
		if (fake_tlb.ev[k].op != FAKE_TLB_PAGE || fake_tlb.ev[k].arg != pva(i + k))
			fail("invalidated the wrong page", fake_tlb.ev[k].arg, pva(i + k));
	if (h.mdl.MappedSystemVa || (h.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA))
		fail("unmap did not reset the MDL", h.mdl.MdlFlags, 0);
	for (uint64_t k = i; k < i + n; k++)
		mpfn[k] = 0, mstart[k] = false;
	check_ptes(i, i + n);
}

/* Runs one seed; returns the failures it added. */
static uint64_t run_seed(uint64_t seed, uint64_t nops)
{
	uint64_t f0 = failures;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	memset(res, 0, sizeof(res));
	for (int i = 0; i < NPAGES; i++)
		owner[i] = -1, mpfn[i] = 0, mstart[i] = false;
	host_machine_create(64 << 20, NPAGES * 4096);
	bugcheck_set_hook(bugcheck_record_hook);
	for (uint64_t k = 0; k < nops && failures - f0 < 10; k++, ops++) {
		switch (below(10)) {
		case 0: case 1: case 2: op_reserve(); break;
		case 3: case 4: op_free(); break;
		case 5: case 6: case 7: op_map(); break;
		default: op_unmap(); break;
		}
		if (syspte_check())
			fail("syspte_check failed", k, 0);
	}
	check_ptes(0, NPAGES);
	/* Tear everything down through the API and arrive at an empty region. */
	for (uint64_t i = 0; i < NPAGES; i++)
		if (mpfn[i] && mstart[i]) {
			uint64_t n = 1;
			while (i + n < NPAGES && mpfn[i + n] && !mstart[i + n])
				n++;
			static struct hmdl h;
			memset(&h, 0, sizeof(h));
			h.mdl.ByteCount = (ULONG)(n * 4096);
			uint64_t before = bugcheck_last.count;
			MmUnmapReservedMapping((void *)pva(i), res[owner[i]].tag, &h.mdl);
			if (bugcheck_last.count != before)
				fail("teardown unmap bug checked", i, bugcheck_last.p[0]);
		}
	for (int r = 0; r < MAXR; r++)
		if (res[r].live)
			MmFreeMappingAddress((void *)pva(res[r].start), res[r].tag);
	struct syspte_stats s;
	syspte_get_stats(&s);
	if (s.live || s.free_pages != NPAGES || s.pages_mapped)
		fail("region not empty after teardown", s.live, s.free_pages);
	bugcheck_set_hook(NULL);
	return failures - f0;
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 12;
	uint64_t nops = argc > 2 ? strtoull(argv[2], NULL, 0) : 25000;
	for (uint64_t s = 1; s <= seeds; s++)
		is(run_seed(s, nops), 0, "seed %llu: %llu random calls agree with the model", (unsigned long long)s,
		   (unsigned long long)nops);
	printf("# %llu calls, %llu bug checks predicted and seen, %llu reservations refused for space\n",
	       (unsigned long long)ops, (unsigned long long)bugchecks_seen, (unsigned long long)nulls_seen);
	ok(bugchecks_seen > seeds * 100, "misuse was exercised");
	return tap_done();
}
