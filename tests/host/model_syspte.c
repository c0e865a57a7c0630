/*
 * Reference model of the reserved-mapping API and its call generators (contract in
 * model_syspte.h). The model keeps, per region page, the owning reservation, the mapped frame,
 * whether the page starts a mapping and its PAT index; each op predicts the outcome (bug check
 * and parameters, NULL, success), makes the call, and compares outcome, PTEs, TLB log and MDL.
 */
#include <stdio.h>
#include <string.h>
#include "model_syspte.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "syspte.h"
#include "bugcheck.h"
#include "vmlayout.h"

#define NPAGES MODEL_NPAGES
#define MAXR MODEL_MAXR
#define PFN_LIMIT (1ULL << 40)   /* frames at or above the 52-bit physical limit are refused */
static const uint32_t tags[] = { 0x61616161, 0x62626262, 0x63636363 };
/* PAT index each MEMORY_CACHING_TYPE maps to (spec table; arch/x86_64/x86.h programs the PAT). */
static const unsigned cache_pat[MmMaximumCacheType] = { 3, 0, 4, 0, 2, 4 };

struct mresv { bool live; uint64_t start, npages; uint32_t tag; };
static struct mresv res[MAXR];
static int owner[NPAGES];            /* reservation index, or -1 */
static uint64_t mpfn[NPAGES];        /* mapped PFN + 1, or 0 */
static bool mstart[NPAGES];          /* first page of a mapping */
static uint8_t mpat[NPAGES];         /* PAT index of a mapped page */
static model_draw_fn draw;
static bool wild;                    /* MODEL_WILD */
static bool strict_room;             /* MODEL_STRICT_ROOM */
struct model_counts model_counts;

static uint64_t below(uint64_t n) { return draw(n); }
/* An arbitrary 64-bit value from two draws. */
static uint64_t below_u64(void) { return below(1ULL << 32) << 32 | below(1ULL << 32); }
static vaddr_t pva(uint64_t i) { return SYSPTE_BASE + i * 4096; }

struct expect { uint32_t sub; uint64_t p2, p3, p4; };   /* sub 0: no bug check */

/* Counts a disagreement; prints the first ten. */
static void fail(const char *what, uint64_t a, uint64_t b)
{
	if (model_counts.failures++ < 10)
		printf("# op %llu: %s (0x%llx, 0x%llx)\n", (unsigned long long)model_counts.ops, what,
		       (unsigned long long)a, (unsigned long long)b);
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
	model_counts.bugchecks_seen++;
	if (!fired || bugcheck_last.code != 0xDA || bugcheck_last.p[0] != e->sub)
		fail("wrong or missing bug check", fired ? bugcheck_last.p[0] : 0, e->sub);
	else if (bugcheck_last.p[1] != e->p2 || bugcheck_last.p[2] != e->p3 || bugcheck_last.p[3] != e->p4)
		fail("bug check parameters differ", e->sub, bugcheck_last.p[1]);
}

/* PAT index encoded in a 4 KiB PTE (PWT, PCD, PAT bits). */
static unsigned pte_pat(uint64_t pte)
{
	return (unsigned)!!(pte & PTE_PWT) | (unsigned)!!(pte & PTE_PCD) << 1 | (unsigned)!!(pte & PTE_PAT_4K) << 2;
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
		else if (present && pte_pat(pte) != mpat[i])
			fail("mapping cache type wrong", i, pte);
	}
}

/* Checks the PTEs of reservation at (nothing when at < 0). */
static void check_resv_ptes(int at)
{
	if (at >= 0)
		check_ptes(res[at].start, res[at].start + res[at].npages);
}

/* Model reservation containing region page i (any index), or -1. */
static int find_containing(uint64_t i)
{
	return i < NPAGES ? owner[i] : -1;
}

/* Region page index of an address (huge when outside the region). */
static uint64_t page_of(vaddr_t addr) { return ((addr & ~4095ULL) - SYSPTE_BASE) / 4096; }

/* True when the model has a free run of pages pages where the allocator must place it (README: any
 * start, power of two or not; a DIVISIBLE one at an address divisible by its size). */
static bool model_has_room(uint64_t pages, bool div)
{
	uint64_t run = 0;
	for (uint64_t i = NPAGES; i-- > 0;) {
		run = owner[i] < 0 ? run + 1 : 0;
		if (run >= pages && (!div || (pva(i) / 4096) % pages == 0))
			return true;
	}
	return false;
}

/* An address for wild calls: anywhere, near the region's edges, or a page of the region. */
static vaddr_t wild_addr(void)
{
	switch (below(4)) {
	case 0: return below_u64();
	case 1: return SYSPTE_BASE - 1 - below(1 << 16);
	case 2: return pva(NPAGES) + below(1 << 16);
	default: return pva(below(NPAGES)) + (below(2) ? 0 : below(4096));
	}
}

/* Wild mode: may replace the address and the tag. */
static void wild_addr_tag(vaddr_t *addr, uint32_t *tag)
{
	if (!wild)
		return;
	if (below(4) == 0)
		*addr = wild_addr();
	if (below(4) == 0)
		*tag = below(4) ? tags[below(3)] ^ (uint32_t)below(1ULL << 32) : 0;
}

/* Wild mode: may replace the size, tag and flags of a reservation. */
static void wild_reserve(SIZE_T *bytes, uint32_t *tag, ULONG *flags)
{
	if (!wild)
		return;
	switch (below(6)) {
	case 0: *bytes = below_u64(); break;
	case 1: *bytes = below((NPAGES + 2) * 4096ULL); break;
	case 2: *bytes = (1ULL << 32) - below(3); break;
	}
	if (below(8) == 0)
		*tag = (uint32_t)below(1ULL << 32);
	if (below(8) == 0)
		*flags = (ULONG)below(1ULL << 32);
}

static void op_reserve(void)
{
	uint64_t pages = 1 + (below(8) ? below(16) : below(96));
	SIZE_T bytes = pages * 4096 - below(4096);
	uint32_t tag = tags[below(3)];
	ULONG flags = below(4) ? 0 : MM_MAPPING_ADDRESS_DIVISIBLE;
	switch (below(40)) {
	case 0: bytes = 0; break;
	case 1: bytes = (1ULL << 32) + below(1 << 20); break;
	case 2: tag = 0; break;
	case 3: flags |= 1u << (1 + below(31)); break;
	}
	wild_reserve(&bytes, &tag, &flags);
	bool bad = bytes == 0 || tag == 0 || (flags & ~(ULONG)MM_MAPPING_ADDRESS_DIVISIBLE) || bytes >= (1ULL << 32);
	pages = (bytes + 4095) / 4096;
	bool div = flags & MM_MAPPING_ADDRESS_DIVISIBLE;
	void *p = MmAllocateMappingAddressEx(bytes, tag, flags);
	if (bad || pages > NPAGES) {
		if (p)
			fail("invalid reservation returned memory", bytes, tag);
		return;
	}
	if (!p) {
		model_counts.nulls_seen++;
		if (strict_room && model_has_room(pages, div))
			fail("reservation refused although the region has room", pages, div);
		return;
	}
	uint64_t start = ((vaddr_t)p - SYSPTE_BASE) / 4096;
	if ((vaddr_t)p % 4096 || (vaddr_t)p < SYSPTE_BASE || start + pages > NPAGES) {
		fail("reservation outside the region", (vaddr_t)p, pages);
		return;
	}
	if (div && (vaddr_t)p % (pages * 4096))
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
	check_ptes(start, start + pages);
}

/* A random live reservation, or -1 when there is none. */
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

/* Mapped pages of r; *first = the first of them. */
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
	wild_addr_tag(&addr, &tag);
	uint64_t ai = page_of(addr);
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
	check_resv_ptes(at);
}

/* A hand-built MDL: header plus PFN array (room for any span that fits the region). */
struct hmdl { MDL mdl; PFN_NUMBER pfn[NPAGES]; };

/* Pages an MDL spans (ADDRESS_AND_SIZE_TO_SPAN_PAGES of its address and ByteCount). */
static uint64_t mdl_span(const MDL *mdl)
{
	uint64_t off = ((uint64_t)mdl->StartVa + mdl->ByteOffset) & 4095;
	return (off + mdl->ByteCount + 4095) / 4096;
}

/* True when an MDL may be mapped: locked or partial, not mapped, not pool, ByteCount non-zero. */
static bool mdl_mappable(const MDL *mdl)
{
	uint16_t f = (uint16_t)mdl->MdlFlags;
	return (f & (MDL_PAGES_LOCKED | MDL_PARTIAL)) && mdl->ByteCount &&
	       !(f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL_HAS_BEEN_MAPPED));
}

/* Wild mode: may replace MDL fields, frames and the cache type, or drop the MDL (*use = false). */
static void wild_mdl(struct hmdl *h, uint64_t n, MEMORY_CACHING_TYPE *ct, bool *use)
{
	if (!wild)
		return;
	if (below(6) == 0)
		h->mdl.MdlFlags = (CSHORT)below(1 << 16);
	if (below(6) == 0)
		h->mdl.ByteOffset = (ULONG)(below(2) ? below(1ULL << 32) : below(4096));
	if (below(6) == 0)
		h->mdl.ByteCount = (ULONG)(below(2) ? below(1ULL << 32) : below((n + 2) * 4096));
	if (below(8) == 0)   /* any page: NULL and the top of the address space included */
		h->mdl.StartVa = (PVOID)(below(1ULL << 52) << 12);
	if (below(6) == 0)
		h->pfn[below(n + 1)] = below(2) ? PFN_LIMIT + below(1 << 20) : below_u64();
	if (below(8) == 0)
		*ct = (MEMORY_CACHING_TYPE)(int)(uint32_t)below(1ULL << 32);
	*use = below(32) != 0;
}

/* Predicts a map of h at addr: a bug check in *e, or *want_null, else success. */
static void predict_map(const struct hmdl *h, bool use, vaddr_t addr, uint32_t tag, MEMORY_CACHING_TYPE ct,
			struct expect *e, bool *want_null)
{
	uint64_t i = page_of(addr), n = use ? mdl_span(&h->mdl) : 0;
	int at = find_containing(i);
	*want_null = false;
	if (at < 0)
		*e = (struct expect){ 0x105, addr, tag, 0 };
	else if (res[at].tag != tag)
		*e = (struct expect){ 0x104, addr, tag, res[at].tag };
	else if (!use || (unsigned)ct >= MmMaximumCacheType || !mdl_mappable(&h->mdl) ||
		 n > res[at].start + res[at].npages - i)
		*want_null = true;
	else {
		for (uint64_t k = 0; k < n; k++)
			if (mpfn[i + k] || h->pfn[k] >= PFN_LIMIT) {
				if (mpfn[i + k])
					*e = (struct expect){ 0x107, addr, pva(i + k), pva(i + n) - 1 };
				else
					*want_null = true;   /* a frame beyond the physical limit */
				break;
			}
	}
}

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
	static struct hmdl h, saved;
	memset(&h, 0, sizeof(h));
	h.mdl.MdlFlags = below(10) ? MDL_PAGES_LOCKED : (CSHORT)(below(2) ? MDL_PARTIAL : MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA);
	h.mdl.ByteOffset = below(3) ? 0 : (ULONG)below(4096);
	h.mdl.ByteCount = (ULONG)(n * 4096 - h.mdl.ByteOffset - (h.mdl.ByteOffset ? 0 : below(4096)));
	for (uint64_t k = 0; k < n; k++)
		h.pfn[k] = 0x100 + below(1 << 20);
	MEMORY_CACHING_TYPE ct = (MEMORY_CACHING_TYPE)(below(16) ? below(6) : 6 + below(3));
	vaddr_t addr = pva(i) + (below(4) ? 0 : below(4096));
	bool use = true, want_null;
	wild_mdl(&h, n, &ct, &use);
	wild_addr_tag(&addr, &tag);
	struct expect e = { 0 };
	predict_map(&h, use, addr, tag, ct, &e, &want_null);
	i = page_of(addr);
	n = use ? mdl_span(&h.mdl) : 0;
	saved = h;
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	char *p = MmMapLockedPagesWithReservedMapping((void *)addr, tag, use ? &h.mdl : NULL, ct);
	check_bugcheck(&e, before);
	if (fake_tlb.pages || fake_tlb.alls)
		fail("map flushed the TLB", fake_tlb.pages, fake_tlb.alls);
	bool should_map = !e.sub && !want_null;
	if (should_map != (p != NULL)) {
		fail("map result differs from the model", (uint64_t)p, should_map);
		return;
	}
	if (!p) {
		if (memcmp(&h, &saved, sizeof(h)))
			fail("refused map changed the MDL", h.mdl.MdlFlags, 0);
		check_resv_ptes(find_containing(i));
		return;
	}
	CSHORT want_flags = saved.mdl.MdlFlags | MDL_MAPPED_TO_SYSTEM_VA |
			    ((saved.mdl.MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
	if ((vaddr_t)p != pva(i) + h.mdl.ByteOffset || h.mdl.MappedSystemVa != (void *)pva(i))
		fail("map returned the wrong address", (vaddr_t)p, pva(i));
	if (h.mdl.MdlFlags != want_flags)
		fail("map set the wrong MDL flags", (uint16_t)h.mdl.MdlFlags, (uint16_t)want_flags);
	for (uint64_t k = 0; k < n; k++) {
		mpfn[i + k] = h.pfn[k] + 1;
		mstart[i + k] = k == 0;
		mpat[i + k] = (uint8_t)cache_pat[ct];
	}
	check_resv_ptes(find_containing(i));
}

/* Start of the model's mapping containing mapped page i. */
static uint64_t model_map_start(uint64_t i, uint64_t floor)
{
	while (i > floor && !mstart[i])
		i--;
	return i;
}

/* Predicts an unmap of n pages at addr (the outcome table's order of checks). */
static struct expect predict_unmap(vaddr_t addr, uint32_t tag, uint64_t n)
{
	uint64_t i = page_of(addr);
	int at = find_containing(i);
	if (at < 0)
		return (struct expect){ 0x109, addr, tag, 0 };
	if (res[at].tag != tag)
		return (struct expect){ 0x108, addr, tag, res[at].tag };
	if (n == 0)
		return (struct expect){ 0 };   /* no MDL or an empty one: nothing to do */
	if (!mpfn[i])
		return (struct expect){ 0x109, addr, tag, 0 };
	uint64_t end = res[at].start + res[at].npages;
	if (n > end - i)
		return (struct expect){ 0x10A, addr, end - i, n };
	for (uint64_t k = i; k < i + n; k++)
		if (!mpfn[k])
			return (struct expect){ 0x10B, pva(k), 0, 0 };
	if (!mstart[i])
		return (struct expect){ 0x10C, addr, pva(model_map_start(i, res[at].start)), n };
	if (i + n < end && mpfn[i + n] && !mstart[i + n])
		return (struct expect){ 0x10C, addr, pva(model_map_start(i + n - 1, res[at].start)), n };
	return (struct expect){ 0 };
}

/* Checks the TLB log of a successful unmap of n pages from page i against the policy. */
static void check_unmap_tlb(uint64_t i, uint64_t n)
{
	if (n <= SYSPTE_FLUSH_ALL_THRESHOLD ? (fake_tlb.pages != n || fake_tlb.alls) : (fake_tlb.pages || fake_tlb.alls != 1))
		fail("unmap TLB invalidations differ from the documented policy", fake_tlb.pages, fake_tlb.alls);
	for (uint64_t k = 0; k < n && k < FAKE_TLB_LOG && n <= SYSPTE_FLUSH_ALL_THRESHOLD; k++)
		if (fake_tlb.ev[k].op != FAKE_TLB_PAGE || fake_tlb.ev[k].arg != pva(i + k))
			fail("invalidated the wrong page", fake_tlb.ev[k].arg, pva(i + k));
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
	static struct hmdl h, saved;
	memset(&h, 0, sizeof(h));
	h.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	h.mdl.ByteOffset = (ULONG)below(4096);
	h.mdl.ByteCount = (ULONG)(n * 4096 - h.mdl.ByteOffset);
	h.mdl.MappedSystemVa = (void *)pva(i);
	bool use = true;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(&h, n, &unused, &use);
	wild_addr_tag(&addr, &tag);
	i = page_of(addr);
	n = use ? mdl_span(&h.mdl) : 0;
	struct expect e = predict_unmap(addr, tag, n);
	saved = h;
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	MmUnmapReservedMapping((void *)addr, tag, use ? &h.mdl : NULL);
	check_bugcheck(&e, before);
	if (e.sub || n == 0 || find_containing(i) < 0) {
		if (fake_tlb.pages || fake_tlb.alls)
			fail("refused unmap flushed the TLB", fake_tlb.pages, fake_tlb.alls);
		if (memcmp(&h, &saved, sizeof(h)))
			fail("refused unmap changed the MDL", h.mdl.MdlFlags, 0);
		check_resv_ptes(find_containing(i));
		return;
	}
	check_unmap_tlb(i, n);
	if (h.mdl.MappedSystemVa || h.mdl.MdlFlags != (CSHORT)(saved.mdl.MdlFlags & ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED)))
		fail("unmap did not reset the MDL", h.mdl.MdlFlags, 0);
	for (uint64_t k = i; k < i + n; k++)
		mpfn[k] = 0, mstart[k] = false;
	check_resv_ptes(find_containing(i));
}

/* Checks the region's accounting against the model. */
static void check_stats(void)
{
	uint64_t live = 0, reserved = 0, mapped = 0;
	for (int r = 0; r < MAXR; r++)
		if (res[r].live)
			live++, reserved += res[r].npages;
	for (int i = 0; i < NPAGES; i++)
		mapped += mpfn[i] != 0;
	struct syspte_stats s;
	syspte_get_stats(&s);
	if (s.live != live || s.pages_reserved != reserved || s.free_pages != NPAGES - reserved)
		fail("reservation accounting differs from the model", s.live, s.pages_reserved);
	if (s.pages_mapped != mapped)
		fail("mapped-page accounting differs from the model", s.pages_mapped, mapped);
}

int model_begin(model_draw_fn source, unsigned flags)
{
	draw = source;
	wild = flags & MODEL_WILD;
	strict_room = flags & MODEL_STRICT_ROOM;
	memset(res, 0, sizeof(res));
	for (int i = 0; i < NPAGES; i++)
		owner[i] = -1, mpfn[i] = 0, mstart[i] = false, mpat[i] = 0;
	if (host_machine_create(MODEL_RAM_BYTES, NPAGES * 4096))
		return -1;
	bugcheck_set_hook(bugcheck_record_hook);
	return 0;
}

void model_step(void)
{
	switch (below(10)) {
	case 0: case 1: case 2: op_reserve(); break;
	case 3: case 4: op_free(); break;
	case 5: case 6: case 7: op_map(); break;
	default: op_unmap(); break;
	}
	if (syspte_check())
		fail("syspte_check failed", model_counts.ops, 0);
	check_stats();
	model_counts.ops++;
}

/* Unmaps every model mapping through the API. */
static void unmap_all(void)
{
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
}

void model_end(void)
{
	check_ptes(0, NPAGES);
	unmap_all();
	for (int r = 0; r < MAXR; r++)
		if (res[r].live)
			MmFreeMappingAddress((void *)pva(res[r].start), res[r].tag);
	struct syspte_stats s;
	syspte_get_stats(&s);
	if (s.live || s.free_pages != NPAGES || s.pages_mapped)
		fail("region not empty after teardown", s.live, s.free_pages);
	bugcheck_set_hook(NULL);
}
