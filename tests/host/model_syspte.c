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
#include "model_mdl.h"
#include "mdl.h"
#include "pool.h"
#include "phys.h"
#include "spinlock.h"
#include "syspte.h"
#include "reserved.h"
#include "bugcheck.h"
#include "vmlayout.h"
#include "testhooks.h"

#define NPAGES MODEL_NPAGES
#define MAXR MODEL_MAXR
static const uint32_t tags[] = { 0x61616161, 0x62626262, 0x63636363 };
/* PAT index each MEMORY_CACHING_TYPE maps to (docs/contract.md; arch/x86_64/x86.h programs the PAT). */
static const unsigned cache_pat[MmMaximumCacheType] = { 3, 0, 4, 0, 2, 4 };

struct mresv { bool live; uint64_t start, npages; uint32_t tag; };
static struct mresv res[MAXR];
static int owner[NPAGES];            /* reservation index, or -1 */
static uint64_t mpfn[NPAGES];        /* mapped PFN + 1, or 0 */
static bool mstart[NPAGES];          /* first page of a mapping */
static uint8_t mpat[NPAGES];         /* PAT index of a mapped page */
#define SPAN 512                     /* pages a 2 MiB leaf maps */
static bool mleaf[NPAGES / SPAN];    /* the span is mapped by one 2 MiB leaf */
/* leaves mapped, unmapped, and mapped whose last frame is the last below the physical width */
struct model_counts_large { uint64_t leaves_mapped, leaf_unmaps, top_leaves; } model_large;
static model_draw_fn draw;
static bool wild;                    /* MODEL_WILD */
static bool strict_room;             /* MODEL_STRICT_ROOM */
static bool cpus;                    /* MODEL_CPUS */
static bool sparse;                  /* MODEL_SPARSE */
static bool dmap;                    /* MODEL_DIRECT_MAP */
static uint64_t movr[PT_CACHE_TYPES];  /* pages mapped write-back instead of the type asked for */
struct model_counts model_counts;

static uint64_t below(uint64_t n) { return draw(n); }
/* An arbitrary 64-bit value from two draws. */
static uint64_t below_u64(void) { return below(1ULL << 32) << 32 | below(1ULL << 32); }
static vaddr_t pva(uint64_t i) { return SYSPTE_BASE + i * 4096; }
static unsigned phys_bits(void) { return arch_phys_addr_bits(); }
/* First frame number beyond the machine's physical address width. */
static uint64_t pfn_limit(void) { return 1ULL << (phys_bits() - 12); }

/* An expected bug check: code 0 for none; P3 not compared when any_p3 (a caller's address). */
struct expect { uint32_t code; uint64_t p1, p2, p3, p4; bool any_p3; };

/* Bug check 0xDA with subcode sub. */
static struct expect da(uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	return (struct expect){ BUGCHECK_SYSTEM_PTE_MISUSE, sub, p2, p3, p4, false };
}

/* Bug check 0x1A with subcode sub. */
static struct expect mm(uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	return (struct expect){ BUGCHECK_MEMORY_MANAGEMENT, sub, p2, p3, p4, false };
}

/* Bug check 0x50 at address va (P3 the caller's address, P4 a reservation base or 0). */
static struct expect pf(uint64_t va, uint64_t p4)
{
	return (struct expect){ BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, va, 0, 0, p4, true };
}

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
	if (!e->code) {
		if (fired)
			fail("unexpected bug check", bugcheck_last.code, bugcheck_last.p[0]);
		return;
	}
	model_counts.bugchecks_seen++;
	if (!fired || bugcheck_last.code != e->code || bugcheck_last.p[0] != e->p1)
		fail("wrong or missing bug check", fired ? bugcheck_last.p[0] : 0, e->p1);
	else if (bugcheck_last.p[1] != e->p2 || (!e->any_p3 && bugcheck_last.p[2] != e->p3) || bugcheck_last.p[3] != e->p4)
		fail("bug check parameters differ", e->p1, bugcheck_last.p[1]);
}

/* MODEL_DIRECT_MAP's direct map: whether it holds frame pfn (by its 2 MiB block's number mod 3:
 * not at all, whole, every other 64 frames). */
static bool model_dmap(uint64_t pfn)
{
	uint64_t b = pfn >> 9;
	return b % 3 == 1 || (b % 3 == 2 && ((pfn >> 6) & 1));
}

/* The PAT index a map of type ct (in range) writes over frame pfn: write-back over a frame the
 * direct map holds (MODEL_DIRECT_MAP), else the type's; counts the override when it is one. */
static uint8_t model_pat(uint64_t pfn, MEMORY_CACHING_TYPE ct)
{
	if (!dmap || !model_dmap(pfn) || cache_pat[ct] == 0)
		return (uint8_t)cache_pat[ct];
	movr[reserved_cache_type(ct)]++;
	return 0;
}

/* PAT index encoded in a leaf (PWT, PCD, and the PAT bit: bit 7 in a 4 KiB PTE, bit 12 in a 2 MiB leaf). */
static unsigned pte_pat(uint64_t pte, uint64_t page_size)
{
	uint64_t pat = page_size == SIZE_2M ? X86_PTE_PAT_LARGE : X86_PTE_PAT_4K;
	return (unsigned)!!(pte & X86_PTE_PWT) | (unsigned)!!(pte & X86_PTE_PCD) << 1 | (unsigned)!!(pte & pat) << 2;
}

/* Checks the TLB log of a map of n pages at page i just recorded in the model: no flush without
 * 2 MiB leaves, else one flush after the lock naming each leaf once (everything beyond a batch). */
static void check_map_tlb(uint64_t i, uint64_t n)
{
	vaddr_t want[TLB_BATCH_PAGES];
	size_t leaves = 0;
	for (uint64_t s = (i + SPAN - 1) / SPAN; (s + 1) * SPAN <= i + n; s++)
		if (mleaf[s]) {
			if (leaves < TLB_BATCH_PAGES)
				want[leaves] = pva(s * SPAN);
			leaves++;
		}
	if (leaves == 0 ? fake_tlb.flushes != 0 : fake_tlb.flushes != 1 || fake_tlb.irqs_off)
		fail("map TLB flushes differ from its 2 MiB leaves", fake_tlb.flushes, leaves);
	else if (leaves && (leaves > TLB_BATCH_PAGES ? !fake_tlb.ev[0].all : !fake_tlb_flushed_pages(0, want, leaves)))
		fail("map invalidated other entries than its 2 MiB leaves", fake_tlb.pages, leaves);
}

/* After a map of n frames at page i: each span it covers whole with one aligned run of frames, all
 * of one memory type (a run the direct map holds in part maps with 4 KiB PTEs), is mapped by a 2 MiB
 * leaf (the region's rule, README "2 MiB mappings"). */
static void model_leaves_after_map(uint64_t i, uint64_t n)
{
	for (uint64_t s = (i + SPAN - 1) / SPAN; (s + 1) * SPAN <= i + n; s++) {
		uint64_t first = mpfn[s * SPAN] - 1;
		bool run = first % SPAN == 0;
		for (uint64_t k = 1; run && k < SPAN; k++)
			run = mpfn[s * SPAN + k] - 1 == first + k && mpat[s * SPAN + k] == mpat[s * SPAN];
		mleaf[s] = run;
		model_large.leaves_mapped += run;
		model_large.top_leaves += run && first + SPAN == pfn_limit();
	}
}

/* Checks PTEs of pages [a, b) against the model. */
static void check_ptes(uint64_t a, uint64_t b)
{
	for (uint64_t i = a; i < b && i < NPAGES; i++) {
		paddr_t pa;
		uint64_t pte, size = 0;
		bool present = pt_query(host_machine_pt(), pva(i), &pa, &pte, &size);
		if (present != (mpfn[i] != 0))
			fail("present bit differs from the model", i, present);
		else if (present && (size == SIZE_2M) != mleaf[i / SPAN])
			fail("page size differs from the model (2 MiB leaf or not)", i, size);
		else if (present && (pa >> 12) != mpfn[i] - 1)
			fail("mapped frame differs", i, pa >> 12);
		else if (present && (!(pte & X86_PTE_G) || !(pte & X86_PTE_NX) || !(pte & X86_PTE_W) || (pte & X86_PTE_U) ||
				     !(pte & X86_PTE_A) || !(pte & X86_PTE_D)))
			fail("mapping bits wrong", i, pte);
		else if (present && pte_pat(pte, size) != mpat[i])
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
	if (below(10) == 0)   /* room for 2 MiB leaves: one or two spans (aligned with DIVISIBLE) */
		pages = SPAN + below(SPAN + 1);
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
	fake_tlb_reset();
	void *p = MmAllocateMappingAddressEx(bytes, tag, flags);
	if (fake_tlb.flushes)   /* granted or refused: only not-present slots change */
		fail("reservation flushed the TLB", fake_tlb.flushes, fake_tlb.pages);
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
		e = da(SYSPTE_BUGCHECK_FREE_NOT_START, addr, tag, 0);
	else if (res[at].tag != tag)
		e = da(SYSPTE_BUGCHECK_FREE_WRONG_TAG, addr, tag, res[at].tag);
	else {
		uint64_t first, n = mapped_in(&res[at], &first);
		if (n)
			e = da(SYSPTE_BUGCHECK_FREE_STILL_MAPPED, pva(first), tag, n);
	}
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	MmFreeMappingAddress((void *)addr, tag);
	check_bugcheck(&e, before);
	if (fake_tlb.flushes)
		fail("free flushed the TLB", fake_tlb.flushes, fake_tlb.pages);
	if (!e.code) {
		for (uint64_t k = res[at].start; k < res[at].start + res[at].npages; k++)
			owner[k] = -1;
		res[at].live = false;
	}
	check_resv_ptes(at);
}

/* ---------------------------------------------------------------- MDLs */

/* PFN entries behind every hand-built MDL: the longest span a valid MDL can have (4 GiB - 4 KiB from
 * offset 4095), so whatever a valid Size claims, a call that believes it reads inside the buffer. */
#define HMDL_PFNS ((1u << 20) + 1)
#define HMDL_USED 1024u   /* entries the generators write; the others stay zero */
struct hmdl { MDL mdl; PFN_NUMBER pfn[HMDL_PFNS]; };
/* What a refused call must leave as it was of an MDL: the header and the generated entries. */
struct hmdl_saved { MDL mdl; PFN_NUMBER pfn[HMDL_USED]; };
static struct hmdl hsrc, htgt;   /* the MDL of an op; IoBuildPartialMdl's target */

static void hmdl_clear(struct hmdl *h) { memset(h, 0, sizeof(struct hmdl_saved)); }
static void hmdl_save(const struct hmdl *h, struct hmdl_saved *s) { memcpy(s, h, sizeof(*s)); }
static bool hmdl_same(const struct hmdl *h, const struct hmdl_saved *s) { return memcmp(h, s, sizeof(*s)) == 0; }

/* Pages an MDL spans (ADDRESS_AND_SIZE_TO_SPAN_PAGES of its address and ByteCount). */
static uint64_t mdl_span(const MDL *mdl)
{
	uint64_t off = ((uint64_t)mdl->StartVa + mdl->ByteOffset) & 4095;
	return (off + mdl->ByteCount + 4095) / 4096;
}

/* Sets Size to what MmInitializeMdl writes for the MDL's span. */
static void hmdl_fit(struct hmdl *h) { h->mdl.Size = (CSHORT)(sizeof(MDL) + 8 * mdl_span(&h->mdl)); }


/* The documented rule an MDL breaks (model_mdl.h), or 0; the bug check it gives when non-zero. */
static int mdl_rule(const struct hmdl *h, bool need_bytes, bool frames, struct expect *e)
{
	uint64_t p3, p4;
	int rule = ref_mdl_check(&h->mdl, need_bytes, frames, phys_bits(), 0, &p3, &p4);
	if (rule && e)
		*e = mm(REF_MDL_SUBCODE(rule), (uint64_t)&h->mdl, p3, p4);
	return rule;
}

/* The state of a valid MDL that may be mapped: locked or partial, not mapped, not pool. */
static bool model_mappable(const MDL *mdl)
{
	uint16_t f = (uint16_t)mdl->MdlFlags;
	return (f & (MDL_PAGES_LOCKED | MDL_PARTIAL)) &&
	       !(f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL_HAS_BEEN_MAPPED));
}

/* A MappedSystemVa for wild MDLs: NULL, the data address, a page of the region, or anything. */
static PVOID wild_sysva(const MDL *m)
{
	switch (below(4)) {
	case 0: return NULL;
	case 1: return (PVOID)((uint64_t)m->StartVa + m->ByteOffset);
	case 2: return (PVOID)(pva(below(NPAGES)) + (below(2) ? 0 : below(4096)));
	default: return (PVOID)below_u64();
	}
}

/* Wild mode: may replace any MDL field (Size, flags, ByteOffset, StartVa, ByteCount, MappedSystemVa),
 * a frame and the cache type, or drop the MDL (*use = false). */
static void wild_mdl(struct hmdl *h, uint64_t n, MEMORY_CACHING_TYPE *ct, bool *use)
{
	if (!wild)
		return;
	if (below(6) == 0)   /* any flags, or any without the foreign ones */
		h->mdl.MdlFlags = (CSHORT)(below(2) ? below(1 << 16) : below(1 << 16) & ~REF_MDL_FOREIGN);
	if (below(6) == 0)
		h->mdl.ByteOffset = (ULONG)(below(2) ? below(1ULL << 32) : below(4096));
	if (below(6) == 0)
		h->mdl.ByteCount = (ULONG)(below(2) ? below(1ULL << 32) : below((n + 2) * 4096));
	if (below(8) == 0)   /* any page (NULL and the top of the address space included), or any value */
		h->mdl.StartVa = (PVOID)(below(4) ? below(1ULL << 52) << 12 : below_u64());
	if (below(6) == 0)
		h->pfn[below(n + 1)] = below(2) ? pfn_limit() + below(1 << 20) : below_u64();
	if (below(6) == 0)
		h->mdl.MappedSystemVa = wild_sysva(&h->mdl);
	switch (below(8)) {   /* Size: as the changes left it, fitted again, anything, or a PFN or two short */
	case 0: h->mdl.Size = (CSHORT)below(1 << 16); break;
	case 1: hmdl_fit(h); h->mdl.Size = (CSHORT)(h->mdl.Size - 8 * (1 + below(2))); break;
	case 2: case 3: hmdl_fit(h); break;
	}
	if (below(8) == 0)
		*ct = (MEMORY_CACHING_TYPE)(int)(uint32_t)below(1ULL << 32);
	*use = below(32) != 0;
}

/* What a refused call must leave as it was outside the region: the page allocator and the pool. */
struct model_snap { struct phys_stats phys; struct pool_stats pool; };
static void snap_take(struct model_snap *s)
{
	memset(s, 0, sizeof(*s));
	phys_get_stats(&s->phys);
	pool_get_stats(&s->pool);
}
static void snap_check(const struct model_snap *s, const char *what)
{
	struct model_snap now;
	snap_take(&now);
	if (memcmp(s, &now, sizeof(now)))
		fail(what, now.phys.free_pages, now.pool.allocs);
}

/* Predicts a map of h at addr: a bug check in *e, or *want_null, else success. */
static void predict_map(const struct hmdl *h, bool use, vaddr_t addr, uint32_t tag, MEMORY_CACHING_TYPE ct,
			struct expect *e, bool *want_null)
{
	uint64_t i = page_of(addr);
	int at = find_containing(i);
	*want_null = false;
	if (at < 0)
		*e = da(SYSPTE_BUGCHECK_MAP_NO_RESERVATION, addr, tag, 0);
	else if (res[at].tag != tag)
		*e = da(SYSPTE_BUGCHECK_MAP_WRONG_TAG, addr, tag, res[at].tag);
	else if (!use || (unsigned)ct >= MmMaximumCacheType || mdl_rule(h, true, true, NULL) || !model_mappable(&h->mdl) ||
		 mdl_span(&h->mdl) > res[at].start + res[at].npages - i)
		*want_null = true;
	else {
		uint64_t n = mdl_span(&h->mdl);
		for (uint64_t k = 0; k < n; k++)
			if (mpfn[i + k]) {
				*e = da(SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, addr, pva(i + k), pva(i + n) - 1);
				break;
			}
	}
}

/* A live reservation holding a whole span, if any (from a random slot on), else -1. */
static int pick_big(void)
{
	for (int k = 0, r0 = (int)below(MAXR); k < MAXR; k++) {
		int r = (r0 + k) % MAXR;
		if (res[r].live && (res[r].start + SPAN - 1) / SPAN * SPAN + SPAN <= res[r].start + res[r].npages)
			return r;
	}
	return -1;
}

static void op_map(void)
{
	int r = pick_live();
	if (below(3) == 0 && pick_big() >= 0)
		r = pick_big();
	uint64_t i = r >= 0 ? res[r].start + below(res[r].npages) : below(NPAGES);
	if (below(20) == 0)
		i = below(NPAGES);
	uint32_t tag = r >= 0 && below(12) ? res[r].tag : tags[below(3)];
	uint64_t room = r >= 0 ? res[r].start + res[r].npages - i : 4;
	uint64_t n = 1 + below(room + 1);
	if (n > 100)
		n = 100;
	/* A third of the maps into a reservation holding a whole span cover it, from its start or from
	 * up to half a span before (mixed leaves), usually with one aligned run of frames over it. */
	uint64_t lead = 0, span_at = r >= 0 ? (res[r].start + SPAN - 1) / SPAN * SPAN : 0;
	bool big = r >= 0 && span_at + SPAN <= res[r].start + res[r].npages && below(2) == 0;
	if (big) {
		lead = below(3) ? 0 : below(MIN(SPAN / 2, span_at - res[r].start) + 1);
		i = span_at - lead;
		room = res[r].start + res[r].npages - i;
		n = lead + SPAN + below(room - lead - SPAN + 1);
	}
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	hmdl_clear(h);
	h->mdl.MdlFlags = below(10) ? MDL_PAGES_LOCKED : (CSHORT)(below(2) ? MDL_PARTIAL : MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA);
	h->mdl.ByteOffset = below(3) ? 0 : (ULONG)below(4096);
	h->mdl.ByteCount = (ULONG)(n * 4096 - h->mdl.ByteOffset - (h->mdl.ByteOffset ? 0 : below(4096)));
	hmdl_fit(h);
	for (uint64_t k = 0; k < n; k++)
		h->pfn[k] = 0x100 + below(1 << 20);
	if (big && below(4)) {   /* one run, aligned where the span starts; sometimes one frame off */
		/* a quarter of the runs cover only the lead and the span, which is the last aligned run
		 * below the physical width (its last frame the width's last), the frames after it scattered */
		bool top = below(4) == 0;
		uint64_t base = (top ? pfn_limit() - SPAN : SPAN * (1 + below(1 << 12))) - lead;
		for (uint64_t k = 0; k < (top ? lead + SPAN : n); k++)
			h->pfn[k] = base + k;
		if (below(4) == 0)
			h->pfn[below(n)] += 1 + below(SPAN);
	}
	MEMORY_CACHING_TYPE ct = (MEMORY_CACHING_TYPE)(below(16) ? below(6) : 6 + below(3));
	vaddr_t addr = pva(i) + (below(4) ? 0 : below(4096));
	bool use = true, want_null;
	wild_mdl(h, n, &ct, &use);
	wild_addr_tag(&addr, &tag);
	struct expect e = { 0 };
	predict_map(h, use, addr, tag, ct, &e, &want_null);
	i = page_of(addr);
	hmdl_save(h, &saved);
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	uint64_t calls = phys_alloc_calls;
	char *p = MmMapLockedPagesWithReservedMapping((void *)addr, tag, use ? &h->mdl : NULL, ct);
	if (phys_alloc_calls != calls)   /* the property the API exists for: a map never allocates */
		fail("map asked the physical allocator for memory", phys_alloc_calls - calls, (uint64_t)p);
	check_bugcheck(&e, before);
	bool should_map = !e.code && !want_null;
	if (!(should_map && p) && fake_tlb.flushes)
		fail("refused map flushed the TLB", fake_tlb.flushes, fake_tlb.pages);
	if (should_map != (p != NULL)) {
		fail("map result differs from the model", (uint64_t)p, should_map);
		return;
	}
	if (!p) {
		if (!hmdl_same(h, &saved))
			fail("refused map changed the MDL", (uint16_t)h->mdl.MdlFlags, 0);
		check_resv_ptes(find_containing(i));
		return;
	}
	n = mdl_span(&h->mdl);
	CSHORT want_flags = saved.mdl.MdlFlags | MDL_MAPPED_TO_SYSTEM_VA |
			    ((saved.mdl.MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
	if ((vaddr_t)p != pva(i) + h->mdl.ByteOffset || h->mdl.MappedSystemVa != (void *)pva(i))
		fail("map returned the wrong address", (vaddr_t)p, pva(i));
	if (h->mdl.MdlFlags != want_flags)
		fail("map set the wrong MDL flags", (uint16_t)h->mdl.MdlFlags, (uint16_t)want_flags);
	for (uint64_t k = 0; k < n; k++) {
		mpfn[i + k] = h->pfn[k] + 1;
		mstart[i + k] = k == 0;
		mpat[i + k] = model_pat(h->pfn[k], ct);
	}
	model_leaves_after_map(i, n);
	check_map_tlb(i, n);
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
		return da(SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0);
	if (res[at].tag != tag)
		return da(SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, addr, tag, res[at].tag);
	if (n == 0)
		return (struct expect){ 0 };   /* no MDL or an empty one: nothing to do */
	if (!mpfn[i])
		return da(SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0);
	uint64_t end = res[at].start + res[at].npages;
	if (n > end - i)
		return da(SYSPTE_BUGCHECK_UNMAP_PAST_END, addr, end - i, n);
	for (uint64_t k = i; k < i + n; k++)
		if (!mpfn[k])
			return da(SYSPTE_BUGCHECK_UNMAP_HOLE, pva(k), 0, 0);
	if (!mstart[i])
		return da(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr, pva(model_map_start(i, res[at].start)), n);
	if (i + n < end && mpfn[i + n] && !mstart[i + n])
		return da(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr, pva(model_map_start(i + n - 1, res[at].start)), n);
	return (struct expect){ 0 };
}

/* Checks the TLB log of a successful unmap of n pages from page i: one flush, issued after the
 * region's lock was released (with no lock held, or with the lock of the cache owning a cached
 * reservation alone, mm/syspte_map.c), naming exactly those pages (in any order), or everything
 * when they are more than a batch holds (include/tlb_batch.h). */
static void check_unmap_tlb(uint64_t i, uint64_t n)
{
	vaddr_t want[TLB_BATCH_PAGES];
	size_t entries = 0;
	for (uint64_t k = i; k < i + n;) {   /* a 2 MiB leaf is one entry, any other page one each */
		bool leaf = mleaf[k / SPAN];
		if (entries < TLB_BATCH_PAGES)
			want[entries] = pva(k);
		entries++;
		k += leaf ? SPAN : 1;
	}
	uint32_t ranks = fake_tlb.ev[0].ranks;
	if (fake_tlb.flushes != 1 || (ranks & ~(1u << LOCK_RANK_SYSPTE_CACHE)) || fake_tlb.irqs_off != (ranks != 0))
		fail("unmap did not flush exactly once with the region's lock released", fake_tlb.flushes, ranks);
	else if (entries > TLB_BATCH_PAGES ? !fake_tlb.ev[0].all : !fake_tlb_flushed_pages(0, want, entries))
		fail("unmap TLB invalidations differ from the documented policy", fake_tlb.pages, fake_tlb.alls);
}

/* A refused (or no-op) unmap by call, h's MDL saved before it: no TLB flush, the MDL unchanged. */
static void check_unmap_refused(const char *call, const struct hmdl *h, const struct hmdl_saved *saved)
{
	char what[80];
	if (fake_tlb.flushes) {
		snprintf(what, sizeof(what), "refused %s flushed the TLB", call);
		fail(what, fake_tlb.flushes, fake_tlb.pages);
	}
	if (!hmdl_same(h, saved)) {
		snprintf(what, sizeof(what), "refused %s changed the MDL", call);
		fail(what, (uint16_t)h->mdl.MdlFlags, 0);
	}
}

/* A done unmap by call of the n pages from page i, h's MDL saved before it: its mapped flags
 * cleared, its address gone, but for a SOURCE_IS_NONPAGED_POOL MDL's address outside the span (its
 * pool address, which it keeps: docs/contract.md, MmUnmapReservedMapping). */
static void check_unmap_mdl_reset(const char *call, const struct hmdl *h, const struct hmdl_saved *saved, uint64_t i,
				  uint64_t n)
{
	char what[80];
	vaddr_t sys = (vaddr_t)saved->mdl.MappedSystemVa;
	bool keeps = (saved->mdl.MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) && (sys < pva(i) || sys - pva(i) >= n * 4096);
	if (h->mdl.MappedSystemVa != (keeps ? saved->mdl.MappedSystemVa : NULL) ||
	    h->mdl.MdlFlags != (CSHORT)(saved->mdl.MdlFlags & ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED))) {
		snprintf(what, sizeof(what), "%s did not reset the MDL", call);
		fail(what, (uint16_t)h->mdl.MdlFlags, 0);
	}
}

/* The model's leaves of the spans [i, i + n) touches are gone after their unmap. */
static void model_leaves_after_unmap(uint64_t i, uint64_t n)
{
	for (uint64_t s = i / SPAN; s * SPAN < i + n; s++) {
		model_large.leaf_unmaps += mleaf[s];
		mleaf[s] = false;
	}
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
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	hmdl_clear(h);
	h->mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	h->mdl.ByteOffset = (ULONG)below(4096);
	h->mdl.ByteCount = (ULONG)(n * 4096 - h->mdl.ByteOffset);
	h->mdl.MappedSystemVa = (void *)pva(i);
	hmdl_fit(h);
	bool use = true;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(h, n, &unused, &use);
	wild_addr_tag(&addr, &tag);
	i = page_of(addr);
	/* NULL MDL: 0x50; malformed: 0x1A; both before the address checks (the span comes from the MDL). */
	struct expect e = { 0 };
	n = 0;
	if (!use)
		e = pf(0, 0);
	else if (!mdl_rule(h, false, false, &e))
		e = predict_unmap(addr, tag, n = mdl_span(&h->mdl));
	hmdl_save(h, &saved);
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	uint64_t calls = phys_alloc_calls;
	MmUnmapReservedMapping((void *)addr, tag, use ? &h->mdl : NULL);
	if (phys_alloc_calls != calls)   /* nothing is allocated, so an unmap may run with interrupts disabled */
		fail("unmap asked the physical allocator for memory", phys_alloc_calls - calls, 0);
	check_bugcheck(&e, before);
	if (e.code || n == 0 || find_containing(i) < 0) {
		check_unmap_refused("unmap", h, &saved);
		check_resv_ptes(find_containing(i));
		return;
	}
	check_unmap_tlb(i, n);
	check_unmap_mdl_reset("unmap", h, &saved, i, n);
	model_leaves_after_unmap(i, n);
	for (uint64_t k = i; k < i + n; k++)
		mpfn[k] = 0, mstart[k] = false;
	check_resv_ptes(find_containing(i));
}

/* Page states seen by the walkers: bit 0 free extent, bit 1 mapped run, bit 2 reservation. */
static uint8_t walked[NPAGES];
static bool walk_bad;

/* Marks [va, va + n pages) with bit in walked[]; a page outside the region or marked twice is bad. */
static void walk_mark(vaddr_t va, uint64_t n, uint8_t bit)
{
	uint64_t i = (va - SYSPTE_BASE) / 4096;
	if (va < SYSPTE_BASE || n == 0 || i >= NPAGES || n > NPAGES - i) {
		walk_bad = true;
		return;
	}
	for (uint64_t k = i; k < i + n; k++) {
		walk_bad |= (walked[k] & bit) != 0;
		walked[k] |= bit;
	}
}

static void walk_free_cb(vaddr_t va, uint64_t n, void *arg) { (void)arg; walk_mark(va, n, 1); }
static void walk_mapped_cb(vaddr_t va, uint64_t n, void *arg) { (void)arg; walk_mark(va, n, 2); }
static void walk_resv_cb(const struct syspte_info *r, void *arg) { (void)arg; walk_mark(r->base, r->npages, 4); }

/* The walkers (free extents, mapped runs, reservations) must draw exactly the model's region. */
static void check_walkers(void)
{
	memset(walked, 0, sizeof(walked));
	walk_bad = false;
	syspte_for_each_free(reserved_region(), walk_free_cb, NULL);
	syspte_for_each_mapped(reserved_region(), walk_mapped_cb, NULL);
	syspte_for_each(reserved_region(), walk_resv_cb, NULL);
	if (walk_bad)
		fail("a walker reported a page twice or outside the region", model_counts.ops, 0);
	for (int i = 0; i < NPAGES; i++) {
		uint8_t want = (owner[i] < 0 ? 1 : 4) | (mpfn[i] ? 2 : 0);
		if (walked[i] != want) {
			fail("walkers' picture differs from the model at page", (uint64_t)i, walked[i]);
			return;
		}
	}
}

/* Builds a locked MDL of n pages (frames below the limit) from byte offset off, Size fitted. */
static void hmdl_locked(struct hmdl *h, uint64_t n, ULONG off)
{
	hmdl_clear(h);
	h->mdl.MdlFlags = MDL_PAGES_LOCKED;
	h->mdl.ByteOffset = off;
	h->mdl.ByteCount = (ULONG)(n * 4096 - off);
	hmdl_fit(h);
	for (uint64_t k = 0; k < n; k++)
		h->pfn[k] = 0x100 + below(1 << 20);
}

/* A free model slot for a reservation, or -1. */
static int free_slot(void)
{
	for (int r = 0; r < MAXR; r++)
		if (!res[r].live)
			return r;
	return -1;
}

/* MmMapLockedPagesSpecifyCache: a new reservation of exactly the span (tag MDL_TAG_MAP), mapped; a
 * pool MDL's MappedSystemVa; or NULL with nothing changed. */
static void op_map_locked(void)
{
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	uint64_t n = 1 + below(below(4) ? 8 : 48);
	bool big = below(8) == 0;
	if (big)   /* one or two spans' worth */
		n = SPAN + below(SPAN);
	hmdl_locked(h, n, below(2) ? 0 : (ULONG)below(4096));
	if (big && below(4)) {   /* one run, aligned from frame 0 or from a later frame */
		uint64_t lead = below(2) ? 0 : below(n - SPAN + 1), base = SPAN * (1 + below(1 << 12)) - lead;
		for (uint64_t k = 0; k < n; k++)
			h->pfn[k] = base + k;
	}
	if (below(8) == 0)
		h->mdl.MdlFlags = MDL_PARTIAL;
	MEMORY_CACHING_TYPE ct = (MEMORY_CACHING_TYPE)(below(16) ? below(6) : 6 + below(3));
	KPROCESSOR_MODE mode = below(16) ? KernelMode : UserMode;
	PVOID want_at = below(16) ? NULL : (PVOID)pva(below(NPAGES));
	bool use = true;
	wild_mdl(h, n, &ct, &use);
	bool refuse = !use || mode != KernelMode || want_at || (unsigned)ct >= MmMaximumCacheType ||
		      mdl_rule(h, true, true, NULL);
	bool pool = !refuse && (h->mdl.MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL);
	n = refuse || pool ? 0 : mdl_span(&h->mdl);
	refuse |= !pool && !model_mappable(&h->mdl);   /* a span longer than the region: no room, below */
	struct model_snap snap;
	snap_take(&snap);
	hmdl_save(h, &saved);
	struct expect none = { 0 };
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	char *p = MmMapLockedPagesSpecifyCache(use ? &h->mdl : NULL, mode, ct, want_at, 0, NormalPagePriority);
	check_bugcheck(&none, before);
	if ((refuse || pool || !p) && fake_tlb.flushes)
		fail("refused MmMapLockedPagesSpecifyCache flushed the TLB", fake_tlb.flushes, fake_tlb.pages);
	if (refuse || pool || !p) {
		if (refuse && p)
			fail("MmMapLockedPagesSpecifyCache mapped a refused MDL", (uint64_t)p, (uint16_t)h->mdl.MdlFlags);
		if (pool && p != saved.mdl.MappedSystemVa)
			fail("MmMapLockedPagesSpecifyCache of a pool MDL: not its MappedSystemVa", (uint64_t)p, 0);
		if (!refuse && !pool) {
			model_counts.nulls_seen++;
			if (strict_room && model_has_room(n, false))
				fail("MmMapLockedPagesSpecifyCache refused although the region has room", n, 0);
		} else
			snap_check(&snap, "refused MmMapLockedPagesSpecifyCache changed memory");
		if (!hmdl_same(h, &saved))
			fail("refused MmMapLockedPagesSpecifyCache changed the MDL", (uint16_t)h->mdl.MdlFlags, 0);
		return;
	}
	vaddr_t base = (vaddr_t)p & ~4095ULL;
	uint64_t start = page_of(base);
	if (!syspte_in_region(reserved_region(), base) || start + n > NPAGES || (vaddr_t)p != base + saved.mdl.ByteOffset) {
		fail("MmMapLockedPagesSpecifyCache returned an address outside the region", (uint64_t)p, n);
		return;
	}
	for (uint64_t k = start; k < start + n; k++)
		if (owner[k] >= 0)
			fail("MmMapLockedPagesSpecifyCache reserved over a live reservation", k, (uint64_t)owner[k]);
	CSHORT want_flags = saved.mdl.MdlFlags | MDL_MAPPED_TO_SYSTEM_VA |
			    ((saved.mdl.MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
	if (h->mdl.MappedSystemVa != (PVOID)base || h->mdl.MdlFlags != want_flags)
		fail("MmMapLockedPagesSpecifyCache left the MDL wrong", (uint16_t)h->mdl.MdlFlags, (uint16_t)want_flags);
	int slot = free_slot();
	if (slot < 0) {
		MmUnmapLockedPages(p, &h->mdl);
		if (bugcheck_last.count != before)
			fail("MmUnmapLockedPages of a fresh mapping bug checked", bugcheck_last.p[0], 0);
		return;
	}
	res[slot] = (struct mresv){ true, start, n, MDL_TAG_MAP };
	for (uint64_t k = 0; k < n; k++) {
		owner[start + k] = slot;
		mpfn[start + k] = h->pfn[k] + 1;
		mstart[start + k] = k == 0;
		mpat[start + k] = model_pat(h->pfn[k], ct);
	}
	model_leaves_after_map(start, n);
	check_map_tlb(start, n);
	check_resv_ptes(slot);
}

/* A live reservation of tag MDL_TAG_MAP if a few picks find one, else any, else -1. */
static int pick_map_tagged(void)
{
	for (int tries = 0; tries < 16; tries++) {
		int r = (int)below(MAXR);
		if (res[r].live && res[r].tag == MDL_TAG_MAP)
			return r;
	}
	return pick_live();
}

/* MmUnmapLockedPages at (usually) the start of a reservation, with an MDL of (usually) its span. */
static void op_unmap_locked(void)
{
	int r = pick_map_tagged();
	uint64_t i = r >= 0 ? res[r].start : below(NPAGES), n = r >= 0 ? res[r].npages : 1 + below(4);
	if (below(8) == 0)
		i = i + below(3) < NPAGES ? i + below(3) : i;
	if (below(8) == 0)
		n = n + below(3) - 1 ? n + below(3) - 1 : 1;
	vaddr_t addr = pva(i) + (below(4) ? 0 : below(4096));
	uint32_t tag = MDL_TAG_MAP;
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	hmdl_clear(h);
	h->mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	h->mdl.MappedSystemVa = (PVOID)pva(i);
	h->mdl.ByteOffset = (ULONG)(addr & 4095);
	h->mdl.ByteCount = (ULONG)(n * 4096 - h->mdl.ByteOffset);
	hmdl_fit(h);
	bool use = true;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(h, n, &unused, &use);
	wild_addr_tag(&addr, &tag);   /* the tag is MmUnmapLockedPages' own; only the address changes */
	uint64_t ai = page_of(addr);
	int at = find_containing(ai);
	struct expect e = { 0 };
	bool noop = false;
	n = 0;
	if (!use)
		e = pf(0, 0);
	else if (mdl_rule(h, false, false, &e))
		;
	else if ((h->mdl.MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) && (PVOID)addr == h->mdl.MappedSystemVa)
		noop = true;
	else if (n = mdl_span(&h->mdl), at >= 0 && res[at].tag == MDL_TAG_MAP && (res[at].start != ai || res[at].npages != n))
		e = da(SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr, pva(res[at].start), n);
	else
		e = predict_unmap(addr, MDL_TAG_MAP, n);
	hmdl_save(h, &saved);
	uint64_t before = bugcheck_last.count;
	fake_tlb_reset();
	MmUnmapLockedPages((PVOID)addr, use ? &h->mdl : NULL);
	check_bugcheck(&e, before);
	if (e.code || noop || n == 0) {
		check_unmap_refused("MmUnmapLockedPages", h, &saved);
		check_resv_ptes(at);
		return;
	}
	check_unmap_tlb(ai, n);
	check_unmap_mdl_reset("MmUnmapLockedPages", h, &saved, ai, n);
	model_leaves_after_unmap(ai, n);
	for (uint64_t k = ai; k < ai + n; k++)
		mpfn[k] = 0, mstart[k] = false, owner[k] = -1;   /* the whole reservation: its span is n */
	res[at].live = false;
	check_ptes(ai, ai + n);
	struct syspte_info info;
	if (syspte_lookup(reserved_region(), pva(ai), &info))
		fail("MmUnmapLockedPages left its reservation", info.base, info.tag);
}

/* Frame behind kernel address va in the machine's tables as the model sees them (region pages it
 * mapped, the direct map of RAM); false when unmapped. */
static bool model_translate(vaddr_t va, uint64_t *pfn)
{
	uint64_t i = page_of(va), dmap = (uint64_t)arch_phys_to_virt(0);
	if (va >= SYSPTE_BASE && i < NPAGES) {
		*pfn = mpfn[i] - 1;
		return mpfn[i] != 0;
	}
	if (va >= dmap + (1ULL << 20) && va - dmap < (1ULL << 20) + MODEL_RAM_BYTES) {
		*pfn = (va - dmap) >> 12;
		return true;
	}
	return false;
}

/* MmBuildMdlForNonPagedPool over region pages (mapped or not) or the direct map. */
static void op_build(void)
{
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	int r = pick_live();
	uint64_t n = 1 + below(8);
	vaddr_t va = r >= 0 ? pva(res[r].start + below(res[r].npages)) : pva(below(NPAGES));
	if (below(4) == 0)
		va = (vaddr_t)arch_phys_to_virt((1ULL << 20) + below(MODEL_RAM_BYTES / 4096 - 8) * 4096);
	hmdl_clear(h);
	h->mdl.StartVa = (PVOID)va;
	h->mdl.ByteOffset = below(2) ? 0 : (ULONG)below(4096);
	h->mdl.ByteCount = (ULONG)(n * 4096 - h->mdl.ByteOffset - below(4096));
	hmdl_fit(h);
	for (uint64_t k = 0; k < n; k++)
		h->pfn[k] = 0xdead;
	bool use = true;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(h, n, &unused, &use);
	struct expect e = { 0 };
	uint16_t f = (uint16_t)h->mdl.MdlFlags;
	uint64_t want[8] = { 0 };
	if (!use)
		e = pf(0, 0);
	else if (mdl_rule(h, true, false, &e))
		;
	else if (f & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL |
		      MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA))
		e = mm(MDL_BUGCHECK_BUILD_BAD_MDL, (uint64_t)&h->mdl, f, 0);
	else
		for (uint64_t k = 0; k < mdl_span(&h->mdl); k++) {
			vaddr_t pv = (vaddr_t)h->mdl.StartVa + k * 4096;
			uint64_t pfn = 0;
			if (!model_translate(pv, &pfn)) {
				int at = pv >= SYSPTE_BASE ? find_containing(page_of(pv)) : -1;
				e = pf(pv, at >= 0 ? pva(res[at].start) : 0);
				break;
			}
			if (k < 8)
				want[k] = pfn;
		}
	struct model_snap snap;
	snap_take(&snap);
	hmdl_save(h, &saved);
	uint64_t before = bugcheck_last.count;
	MmBuildMdlForNonPagedPool(use ? &h->mdl : NULL);
	check_bugcheck(&e, before);
	snap_check(&snap, "MmBuildMdlForNonPagedPool changed memory");
	if (e.code) {
		if (!hmdl_same(h, &saved))
			fail("refused MmBuildMdlForNonPagedPool changed the MDL", (uint16_t)h->mdl.MdlFlags, 0);
		return;
	}
	uint64_t span = mdl_span(&h->mdl);
	for (uint64_t k = 0; k < span && k < 8; k++)
		if (h->pfn[k] != want[k])
			fail("MmBuildMdlForNonPagedPool listed the wrong frame", k, h->pfn[k]);
	if (h->mdl.MappedSystemVa != (PVOID)((uint64_t)h->mdl.StartVa + h->mdl.ByteOffset) ||
	    h->mdl.MdlFlags != (CSHORT)(saved.mdl.MdlFlags | MDL_SOURCE_IS_NONPAGED_POOL))
		fail("MmBuildMdlForNonPagedPool left the MDL wrong", (uint16_t)h->mdl.MdlFlags, 0);
	if (mdl_rule(h, false, false, NULL))
		fail("MmBuildMdlForNonPagedPool made a malformed MDL", (uint16_t)h->mdl.MdlFlags, 0);
}

/* IoBuildPartialMdl of a (possibly wild) source into a target of (possibly wrong) Size. */
static void op_partial(void)
{
	struct hmdl *s = &hsrc, *t = &htgt;
	static struct hmdl_saved ssaved, tsaved;
	uint64_t n = 1 + below(8);
	hmdl_locked(s, n, below(2) ? 0 : (ULONG)below(4096));
	s->mdl.StartVa = (PVOID)(below(2) ? 0 : pva(below(NPAGES)));
	switch (below(4)) {   /* unmapped, mapped (page base), or pool (data address) */
	case 0: s->mdl.MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA; s->mdl.MappedSystemVa = (PVOID)pva(below(NPAGES)); break;
	case 1: s->mdl.MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL;
		s->mdl.MappedSystemVa = (PVOID)((uint64_t)s->mdl.StartVa + s->mdl.ByteOffset); break;
	}
	uint64_t count = s->mdl.ByteCount, off = below(count + 2);
	ULONG len = below(3) ? (ULONG)below(off <= count ? count - off + 2 : 2) : 0;
	vaddr_t va = (uint64_t)s->mdl.StartVa + s->mdl.ByteOffset + off;
	if (below(16) == 0)
		va -= 1 + below(8);
	hmdl_clear(t);
	uint64_t tpages = 1 + below(10);
	t->mdl.Size = (CSHORT)(below(8) ? sizeof(MDL) + 8 * tpages : below(1 << 16));
	t->mdl.MdlFlags = (CSHORT)(below(2) ? 0 : MDL_ALLOCATED_FIXED_SIZE);
	t->pfn[0] = 0xdead;
	bool use = true, use_t = below(32) != 0;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(s, n, &unused, &use);
	struct expect e = { 0 };
	uint64_t sdata = (uint64_t)s->mdl.StartVa + s->mdl.ByteOffset, o = va - sdata, np = 0;
	count = s->mdl.ByteCount;
	if (!use || !use_t)
		e = pf(0, 0);
	else if (mdl_rule(s, true, true, &e))
		;
	else if (va < sdata || o > count || (len && len > count - o))
		e = mm(MDL_BUGCHECK_PARTIAL_RANGE, va, len, (uint64_t)&s->mdl);
	else if (np = ((va & 4095) + (len ? len : count - o) + 4095) / 4096, !ref_mdl_room(&t->mdl, np, 0))
		e = mm(MDL_BUGCHECK_PARTIAL_ROOM, (uint64_t)&t->mdl, np, 0);
	hmdl_save(s, &ssaved);
	hmdl_save(t, &tsaved);
	struct model_snap snap;
	snap_take(&snap);
	uint64_t before = bugcheck_last.count;
	IoBuildPartialMdl(use ? &s->mdl : NULL, use_t ? &t->mdl : NULL, (PVOID)va, len);
	check_bugcheck(&e, before);
	snap_check(&snap, "IoBuildPartialMdl changed memory");
	if (!hmdl_same(s, &ssaved))
		fail("IoBuildPartialMdl changed its source", (uint16_t)s->mdl.MdlFlags, 0);
	if (e.code) {
		if (!hmdl_same(t, &tsaved))
			fail("refused IoBuildPartialMdl changed the target", (uint16_t)t->mdl.MdlFlags, 0);
		return;
	}
	uint16_t sf = (uint16_t)s->mdl.MdlFlags;
	uint64_t sys = (uint64_t)s->mdl.MappedSystemVa, tstart = va & ~4095ULL;
	uint16_t want_f = (uint16_t)(((uint16_t)tsaved.mdl.MdlFlags & MDL_ALLOCATED_FIXED_SIZE) |
				     (sf & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_IO_PAGE_READ | MDL_IO_SPACE)) | MDL_PARTIAL);
	uint64_t want_sys = 0;
	if ((sf & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA)) && sys)
		want_f |= MDL_PARENT_MAPPED_SYSTEM_VA, want_sys = sys + (tstart - (uint64_t)s->mdl.StartVa);
	else if ((sf & MDL_SOURCE_IS_NONPAGED_POOL) && sys)
		want_sys = sys + o;
	if ((uint64_t)t->mdl.StartVa != tstart || t->mdl.ByteOffset != (va & 4095) ||
	    t->mdl.ByteCount != (len ? len : count - o) || (uint16_t)t->mdl.MdlFlags != want_f ||
	    (uint64_t)t->mdl.MappedSystemVa != want_sys || t->mdl.Size != tsaved.mdl.Size)
		fail("IoBuildPartialMdl built the wrong target", (uint16_t)t->mdl.MdlFlags, want_f);
	uint64_t first = (tstart - (uint64_t)s->mdl.StartVa) / 4096;
	for (uint64_t k = 0; k < np && k < HMDL_USED; k++)
		if (t->pfn[k] != s->pfn[first + k])
			fail("IoBuildPartialMdl copied the wrong frame", k, t->pfn[k]);
	if (mdl_rule(t, false, true, NULL))
		fail("IoBuildPartialMdl made a malformed MDL", (uint16_t)t->mdl.MdlFlags, 0);
}

/* MmFreePagesFromMdl with MDLs it must refuse before touching a frame: NULL, malformed, or in a state
 * that cannot be freed (a valid freeable one would free frames the model never allocated: skipped). */
static void op_free_pages(void)
{
	struct hmdl *h = &hsrc;
	static struct hmdl_saved saved;
	uint64_t n = 1 + below(8);
	hmdl_locked(h, n, 0);
	bool use = true;
	MEMORY_CACHING_TYPE unused;
	wild_mdl(h, n, &unused, &use);
	uint16_t f = (uint16_t)h->mdl.MdlFlags;
	bool freeable = !(f & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL | MDL_PARTIAL_HAS_BEEN_MAPPED |
			       MDL_PARENT_MAPPED_SYSTEM_VA | MDL_IO_SPACE)) &&
			((f & MDL_PAGES_LOCKED) || ((f & MDL_SOURCE_IS_NONPAGED_POOL) && !h->mdl.MappedSystemVa));
	struct expect e = { 0 };
	if (!use)
		e = pf(0, 0);
	else if (mdl_rule(h, false, false, &e))
		;
	else if (!freeable)
		e = mm(MDL_BUGCHECK_FREE_BAD_MDL, (uint64_t)&h->mdl, f, 0);
	else
		return;
	struct model_snap snap;
	snap_take(&snap);
	hmdl_save(h, &saved);
	uint64_t before = bugcheck_last.count;
	MmFreePagesFromMdl(use ? &h->mdl : NULL);
	check_bugcheck(&e, before);
	snap_check(&snap, "refused MmFreePagesFromMdl changed memory");
	if (!hmdl_same(h, &saved))
		fail("refused MmFreePagesFromMdl changed the MDL", (uint16_t)h->mdl.MdlFlags, 0);
}

/* One call of the MDL toolkit (wild mode). */
static void op_mdl_call(void)
{
	switch (below(8)) {
	case 0: case 1: op_map_locked(); break;
	case 2: case 3: op_unmap_locked(); break;
	case 4: op_build(); break;
	case 5: case 6: op_partial(); break;
	default: op_free_pages(); break;
	}
}

/*
 * A driver's teardown of one live reservation (MODEL_SPARSE): each of its mappings unmapped, then
 * the reservation freed, through the API; none of these calls may bug-check, and the PTEs and TLB
 * invalidations are checked as for op_unmap and op_free.
 */
static void op_teardown(void)
{
	int r = pick_live();
	if (r < 0)
		return;
	uint64_t before = bugcheck_last.count;
	for (uint64_t i = res[r].start; i < res[r].start + res[r].npages; i++) {
		if (!mpfn[i] || !mstart[i])
			continue;
		uint64_t n = 1;
		while (i + n < res[r].start + res[r].npages && mpfn[i + n] && !mstart[i + n])
			n++;
		hmdl_clear(&hsrc);
		hsrc.mdl.ByteCount = (ULONG)(n * 4096);
		hmdl_fit(&hsrc);
		fake_tlb_reset();
		MmUnmapReservedMapping((void *)pva(i), res[r].tag, &hsrc.mdl);
		check_unmap_tlb(i, n);
		model_leaves_after_unmap(i, n);
		for (uint64_t k = i; k < i + n; k++)
			mpfn[k] = 0, mstart[k] = false;
	}
	MmFreeMappingAddress((void *)pva(res[r].start), res[r].tag);
	if (bugcheck_last.count != before)
		fail("teardown of a reservation bug checked", res[r].start, bugcheck_last.p[0]);
	for (uint64_t k = res[r].start; k < res[r].start + res[r].npages; k++)
		owner[k] = -1;
	res[r].live = false;
	check_ptes(res[r].start, res[r].start + res[r].npages);
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
	syspte_get_stats(reserved_region(), &s);
	if (s.live != live || s.pages_reserved != reserved || s.free_pages != NPAGES - reserved)
		fail("reservation accounting differs from the model", s.live, s.pages_reserved);
	if (s.pages_mapped != mapped)
		fail("mapped-page accounting differs from the model", s.pages_mapped, mapped);
	uint64_t leaves = 0;
	for (int k = 0; k < NPAGES / SPAN; k++)
		leaves += mleaf[k];
	if (s.large_leaves != leaves)
		fail("2 MiB leaves differ from the model", s.large_leaves, leaves);
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++)
		if (s.overrides[c] != movr[c])
			fail("pages mapped write-back instead of the type asked for differ from the model", s.overrides[c], c);
}

int model_begin(model_draw_fn source, unsigned flags)
{
	draw = source;
	wild = flags & MODEL_WILD;
	strict_room = flags & MODEL_STRICT_ROOM;
	cpus = flags & MODEL_CPUS;
	sparse = flags & MODEL_SPARSE;
	dmap = flags & MODEL_DIRECT_MAP;
	memset(movr, 0, sizeof(movr));
	fake_arch_set_direct_map(dmap ? model_dmap : NULL);
	memset(res, 0, sizeof(res));
	for (int i = 0; i < NPAGES; i++)
		owner[i] = -1, mpfn[i] = 0, mstart[i] = false, mpat[i] = 0;
	memset(mleaf, 0, sizeof(mleaf));
	if (host_machine_create(MODEL_RAM_BYTES, NPAGES * 4096))
		return -1;
	bugcheck_set_hook(bugcheck_record_hook);
	return 0;
}

/* The one thread acts as CPU cpu, the machine's only online CPU (MODEL_CPUS): an unmap's TLB batch
 * then stays on it, as on a one-CPU machine. */
static void model_act_as(unsigned cpu)
{
	fake_cpu_switch(cpu);
}

/* Unmaps every model mapping through the API. */
static void unmap_all(void)
{
	for (uint64_t i = 0; i < NPAGES; i++)
		if (mpfn[i] && mstart[i]) {
			uint64_t n = 1;
			while (i + n < NPAGES && mpfn[i + n] && !mstart[i + n])
				n++;
			hmdl_clear(&hsrc);
			hsrc.mdl.ByteCount = (ULONG)(n * 4096);
			hmdl_fit(&hsrc);
			uint64_t before = bugcheck_last.count;
			MmUnmapReservedMapping((void *)pva(i), res[owner[i]].tag, &hsrc.mdl);
			if (bugcheck_last.count != before)
				fail("teardown unmap bug checked", i, bugcheck_last.p[0]);
			model_leaves_after_unmap(i, n);
			for (uint64_t k = i; k < i + n; k++)
				mpfn[k] = 0, mstart[k] = false;
		}
}

/* Empties the region through the API (unmaps, then frees everything), and the model with it: the
 * big reservations that 2 MiB leaves need find room again. */
static void op_drain(void)
{
	unmap_all();
	for (int r = 0; r < MAXR; r++)
		if (res[r].live) {
			uint64_t before = bugcheck_last.count;
			MmFreeMappingAddress((void *)pva(res[r].start), res[r].tag);
			if (bugcheck_last.count != before)
				fail("drain free bug checked", res[r].start, bugcheck_last.p[0]);
			for (uint64_t k = res[r].start; k < res[r].start + res[r].npages; k++)
				owner[k] = -1;
			res[r].live = false;
		}
}

void model_step(void)
{
	if (cpus)
		model_act_as((unsigned)(model_counts.ops / 7 % 3));
	if (below(256) == 0)
		op_drain();
	else if (wild && below(4) == 0)
		op_mdl_call();
	else
		switch (below(10)) {
		case 0: case 1: op_reserve(); break;
		case 2: if (sparse) op_teardown(); else op_reserve(); break;
		case 3: case 4: op_free(); break;
		case 5: case 6: case 7: op_map(); break;
		default: op_unmap(); break;
		}
	if (syspte_check(reserved_region()))
		fail("syspte_check failed", model_counts.ops, 0);
	check_stats();
	check_walkers();
	model_counts.ops++;
}

void model_end(void)
{
	check_ptes(0, NPAGES);
	op_drain();
	struct syspte_stats s;
	syspte_get_stats(reserved_region(), &s);
	if (s.live || s.free_pages != NPAGES || s.pages_mapped)
		fail("region not empty after teardown", s.live, s.free_pages);
	model_counts.cache_fast += s.cache_fast;
	model_counts.cache_drains += s.cache_drains;
	model_act_as(0);
	fake_arch_set_direct_map(NULL);
	bugcheck_set_hook(NULL);
}
