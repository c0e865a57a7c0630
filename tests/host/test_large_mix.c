/*
 * 2 MiB leaves mixed with 4 KiB PTEs in reservations larger than the differential model's region
 * (tests/host/model_syspte.c holds two spans): generated sequences of reserve / map / unmap / free
 * through the WDK calls on a 64 MiB region, against a per-page model of its own. Reservations of 1
 * to 4000 pages (511, 512, 513, 1023, 1024, 1025 and DIVISIBLE 2 MiB multiples among them); maps of
 * MDLs with any ByteOffset whose frames hold aligned 2 MiB runs where a span starts, runs shifted
 * off the span, runs with one frame off, the width's last run, and frames beyond the width; maps
 * starting mid-reservation and right after other mappings; unmaps of whole mappings and unmaps
 * that start or end inside one (inside a leaf included). After every call (docs/contract.md
 * section 3): the outcome and the bug check's parameters, the MDL's fields, every PTE of the
 * reservation (present, frame, page size: a leaf exactly where a span is covered whole by one
 * aligned run, the attributes, the memory type with the PAT bit at bit 12 in a leaf and bit 7 in a
 * 4 KiB PTE, the mapping-start mark on each mapping's first page only), the TLB log (a map: one
 * flush naming its leaves; an unmap: one entry per leaf and per 4 KiB page, everything above
 * TLB_BATCH_PAGES), the region's counts (pages mapped, 2 MiB leaves, the tag's totals) and
 * syspte_check, pt_check, the mapped runs walked. Runs at several physical widths, and in verifier
 * mode (a guard page after each reservation, the region checked inside every call). Then, each over
 * generated inputs: MmMapLockedPagesSpecifyCache, MmBuildMdlForNonPagedPool and IoBuildPartialMdl
 * over leaves; partial MDLs of a FAST_LARGE_PAGES allocation mapped with leaves and remapped with
 * 4 KiB pages, read through the fake MMU; the growable region over leaves; remaps between leaves and
 * 4 KiB pages read by two other CPUs; leaves mapped beside the CPUs' caches' fast paths; and
 * pt.c's splits of a 1 GiB leaf of every memory type.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "reserved.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "verifier.h"
#include "phys.h"
#include "pt.h"

#define RPAGES 16384u                 /* region pages: 64 MiB, 32 spans */
#define SPANP 512u                    /* pages a 2 MiB leaf maps */
#define MAXN 4200u                    /* the largest MDL span generated */
#define MAXRES 10                     /* live reservations at once */
static const uint32_t tags[] = { 0x3167694c, 0x3267694c };   /* 'Lig1', 'Lig2' */
/* PAT index of each MEMORY_CACHING_TYPE (docs/contract.md, the caching-type table). */
static const unsigned cache_pat[MmMaximumCacheType] = { 3, 0, 4, 0, 2, 4 };

static uint64_t rng;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

struct lres { bool live; uint64_t start, npages; uint32_t tag; };
static struct lres res[MAXRES];
static int owner[RPAGES];
static uint64_t mpfn[RPAGES];          /* mapped frame + 1, 0 when not mapped */
static bool mstart[RPAGES];
static uint8_t mpat[RPAGES];
static bool mleaf[RPAGES / SPANP];

static struct { MDL mdl; PFN_NUMBER pfn[MAXN + 2]; } hm;

struct counts { uint64_t ops, mapped_ok, unmapped_ok, maps, unmaps, leaves, bugchecks, nulls, failures, top_leaves, cut_leaf; };
static struct counts cnt;
static struct syspte_region *R;

static vaddr_t pva(uint64_t i) { return R->base + i * PAGE_SIZE; }
static uint64_t pfn_limit(void) { return 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT); }

static void fail(const char *what, uint64_t a, uint64_t b)
{
	if (cnt.failures++ < 12)
		printf("# op %llu: %s (0x%llx, 0x%llx)\n", (unsigned long long)cnt.ops, what, (unsigned long long)a,
		       (unsigned long long)b);
}

struct expect { uint64_t sub, p2, p3, p4; };

/* Compares the bug check since count with e (sub 0: none expected). */
static void check_bc(const struct expect *e, uint64_t count)
{
	bool fired = bugcheck_last.count != count;
	if (!e->sub) {
		if (fired)
			fail("unexpected bug check", bugcheck_last.code, bugcheck_last.p[0]);
		return;
	}
	cnt.bugchecks++;
	if (!fired || bugcheck_last.code != BUGCHECK_SYSTEM_PTE_MISUSE || bugcheck_last.p[0] != e->sub)
		fail("missing or wrong bug check", fired ? bugcheck_last.p[0] : 0, e->sub);
	else if (bugcheck_last.p[1] != e->p2 || bugcheck_last.p[2] != e->p3 || bugcheck_last.p[3] != e->p4)
		fail("bug check parameters differ", bugcheck_last.p[0],
		     bugcheck_last.p[1] != e->p2 ? bugcheck_last.p[1] : bugcheck_last.p[2] != e->p3 ? bugcheck_last.p[2] : bugcheck_last.p[3]);
}

/* The PAT index a leaf of page_size encodes. */
static unsigned pte_pat(uint64_t pte, uint64_t page_size)
{
	uint64_t pat = page_size == SIZE_2M ? X86_PTE_PAT_LARGE : X86_PTE_PAT_4K;
	return (unsigned)!!(pte & X86_PTE_PWT) | (unsigned)!!(pte & X86_PTE_PCD) << 1 | (unsigned)!!(pte & pat) << 2;
}

/* Every PTE of pages [a, b) against the model. */
static void check_ptes(uint64_t a, uint64_t b)
{
	for (uint64_t i = a; i < b; i++) {
		paddr_t pa;
		uint64_t pte, size = 0;
		bool present = pt_query(host_machine_pt(), pva(i), &pa, &pte, &size);
		if (present != (mpfn[i] != 0)) {
			fail("present differs from the model", i, present);
			return;
		}
		if (!present)
			continue;
		bool leaf = size == SIZE_2M, bad = false;
		if (leaf != mleaf[i / SPANP])
			fail("page size differs from the model", i, size), bad = true;
		else if ((pa >> PAGE_SHIFT) != mpfn[i] - 1)
			fail("frame differs", i, pa >> PAGE_SHIFT), bad = true;
		else if (!(pte & X86_PTE_G) || !(pte & X86_PTE_NX) || !(pte & X86_PTE_W) || (pte & X86_PTE_U) ||
			 !(pte & X86_PTE_A) || !(pte & X86_PTE_D) || (pte & X86_PTE_HIGH_SOFT) || (leaf && !(pte & X86_PTE_PS)))
			fail("attribute bits wrong", i, pte), bad = true;
		else if (pte_pat(pte, size) != mpat[i])
			fail("memory type wrong", i, pte), bad = true;
		else if (leaf ? (i % SPANP == 0 && !!(pte & X86_PTE_SW_MAP_START) != mstart[i])
			      : !!(pte & X86_PTE_SW_MAP_START) != mstart[i])
			fail("mapping-start mark differs", i, pte), bad = true;
		else if (leaf && (pte & X86_PTE_ADDR_4K & ~X86_PTE_ADDR_2M & ~X86_PTE_PAT_LARGE))
			fail("reserved address bits in a leaf", i, pte), bad = true;
		if (bad)
			return;
		if (leaf)   /* the rest of the span has the same entry */
			i = i | (SPANP - 1);
	}
}

/* syspte_for_each_mapped against the model: each run maximal, in address order, exactly the mapped pages. */
static uint64_t walk_next;
static bool walk_bad;
static void walk_mapped(vaddr_t va, uint64_t n, void *arg)
{
	(void)arg;
	uint64_t i = (va - R->base) >> PAGE_SHIFT;
	if (va < R->base || i < walk_next || n == 0 || i + n > RPAGES || (i && mpfn[i - 1]) || (i + n < RPAGES && mpfn[i + n])) {
		walk_bad = true;
		return;
	}
	for (uint64_t k = walk_next; k < i + n; k++)
		walk_bad |= (k >= i) != (mpfn[k] != 0);
	walk_next = i + n;
}

/* The region's counts, the tags' totals and the mapped runs against the model; syspte_check, pt_check. */
static void check_counts(void)
{
	uint64_t mapped = 0, leaves = 0, per_tag[2] = { 0, 0 }, pages_tag[2] = { 0, 0 };
	for (uint64_t i = 0; i < RPAGES; i++)
		if (mpfn[i]) {
			mapped++;
			per_tag[res[owner[i]].tag == tags[1]]++;
		}
	for (int r = 0; r < MAXRES; r++)
		if (res[r].live)
			pages_tag[res[r].tag == tags[1]] += res[r].npages;
	for (uint64_t s = 0; s < RPAGES / SPANP; s++)
		leaves += mleaf[s];
	struct syspte_stats st;
	syspte_get_stats(R, &st);
	if (st.pages_mapped != mapped)
		fail("pages mapped differ", st.pages_mapped, mapped);
	if (st.large_leaves != leaves)
		fail("2 MiB leaves differ", st.large_leaves, leaves);
	struct syspte_tag_total t[4];
	size_t nt = syspte_tag_totals(R, t, 4);
	for (size_t k = 0; k < nt && k < 4; k++) {
		int w = t[k].tag == tags[1];
		if (t[k].pages_mapped != per_tag[w] || t[k].pages_reserved != pages_tag[w])
			fail("a tag's totals differ", t[k].tag, t[k].pages_mapped);
	}
	if (syspte_check(R) != 0)
		fail("syspte_check", 0, 0);
	if (pt_check(host_machine_pt()) != 0)   /* the format's faults, W^X: a leaf's reserved bits among them */
		fail("pt_check", 0, 0);
	walk_next = 0;
	walk_bad = false;
	syspte_for_each_mapped(R, walk_mapped, NULL);
	for (uint64_t i = walk_next; i < RPAGES && !walk_bad; i++)
		walk_bad = mpfn[i] != 0;
	if (walk_bad)
		fail("the mapped runs walked differ from the model", walk_next, 0);
}

static uint64_t mdl_span(const MDL *m)
{
	return ((((uint64_t)m->StartVa + m->ByteOffset) & PAGE_MASK) + m->ByteCount + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

/* A locked MDL spanning n pages from a random byte offset (sometimes ending before its last page's end). */
static void mdl_make(uint64_t n)
{
	memset(&hm.mdl, 0, sizeof(hm.mdl));
	ULONG off = draw(2) ? 0 : (ULONG)draw(PAGE_SIZE);
	uint64_t tail = draw(2) ? 0 : draw(PAGE_SIZE - (n == 1 ? off + 1 : 0));
	hm.mdl.StartVa = (PVOID)(0x40000000ULL + (draw(1 << 16) << PAGE_SHIFT));
	hm.mdl.ByteOffset = off;
	hm.mdl.ByteCount = (ULONG)(n * PAGE_SIZE - off - tail);
	hm.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
	hm.mdl.MdlFlags = draw(8) ? MDL_PAGES_LOCKED : MDL_PARTIAL;
	if (mdl_span(&hm.mdl) != n)
		fail("generator: span", mdl_span(&hm.mdl), n);
}

/*
 * Frames for n pages mapped from region page i: random single frames below the width, and, for each
 * span the mapping covers whole, often an aligned run there (sometimes with a frame off, shifted
 * off the span by a few pages, the width's last run); rarely a frame beyond the width.
 */
static void frames_make(uint64_t i, uint64_t n)
{
	uint64_t lim = pfn_limit(), top = MIN(lim, 1ULL << 22);
	for (uint64_t k = 0; k < n; k++)
		hm.pfn[k] = 0x100 + draw(top - 0x100);
	for (uint64_t k = (SPANP - i % SPANP) % SPANP; k + SPANP <= n; k += SPANP) {
		unsigned kind = (unsigned)draw(10);
		if (kind >= 7)
			continue;
		uint64_t base = kind == 6 ? lim - SPANP : SPANP * (1 + draw(top / SPANP - 1));
		int64_t shift = kind == 5 ? (int64_t)draw(5) - 2 : 0;   /* a run placed off the span (or on it) */
		for (uint64_t q = 0; q < SPANP; q++)
			if ((int64_t)(k + q) + shift >= 0 && k + q + shift < n)
				hm.pfn[k + q + shift] = base + q;
		if (kind == 4)
			hm.pfn[k + draw(SPANP)] ^= 1 + draw(SPANP - 1);
	}
	if (draw(40) == 0)
		hm.pfn[draw(n)] = lim + draw(1 << 20);
}

static int find_containing(uint64_t i) { return i < RPAGES ? owner[i] : -1; }

/* Pages after the mapping that starts at i (its length). */
static uint64_t mapping_len(uint64_t i)
{
	uint64_t n = 1;
	while (i + n < RPAGES && mpfn[i + n] && !mstart[i + n])
		n++;
	return n;
}

static int pick_live(void)
{
	int r0 = (int)draw(MAXRES);
	for (int k = 0; k < MAXRES; k++)
		if (res[(r0 + k) % MAXRES].live)
			return (r0 + k) % MAXRES;
	return -1;
}

static void op_reserve(void)
{
	int slot = -1;
	for (int r = 0; r < MAXRES && slot < 0; r++)
		if (!res[r].live)
			slot = r;
	if (slot < 0)
		return;
	static const uint64_t sizes[] = { 511, 512, 513, 1023, 1024, 1025, 1536, 2048, 2049, 4000 };
	uint64_t pages = draw(3) ? sizes[draw(ARRAY_SIZE(sizes))] : 1 + draw(draw(4) ? 3000 : 16);
	ULONG flags = draw(3) ? 0 : MM_MAPPING_ADDRESS_DIVISIBLE;
	if (flags && draw(2))
		pages = SPANP * (1 + draw(4));   /* a DIVISIBLE 2 MiB multiple: span aligned */
	uint32_t tag = tags[draw(2)];
	fake_tlb_reset();
	vaddr_t v = (vaddr_t)MmAllocateMappingAddressEx(pages * PAGE_SIZE - draw(PAGE_SIZE), tag, flags);
	if (fake_tlb.flushes)
		fail("a reservation flushed the TLB", fake_tlb.flushes, 0);
	if (!v) {
		cnt.nulls++;
		return;
	}
	uint64_t i = (v - R->base) >> PAGE_SHIFT;
	if (v % PAGE_SIZE || i + pages > RPAGES || (flags && v % (pages * PAGE_SIZE))) {
		fail("reservation misplaced", v, pages);
		return;
	}
	for (uint64_t k = i; k < i + pages; k++) {
		if (owner[k] >= 0 || mpfn[k])
			fail("reservation over a live one", k, (uint64_t)owner[k]);
		owner[k] = slot;
	}
	res[slot] = (struct lres){ true, i, pages, tag };
	check_ptes(i, i + pages);
}

/* Clears the model's pages [i, i + n) and the leaves of the spans they touch. */
static void model_unmap(uint64_t i, uint64_t n)
{
	for (uint64_t s = i / SPANP; s * SPANP < i + n; s++)
		mleaf[s] = false;
	for (uint64_t k = i; k < i + n; k++)
		mpfn[k] = 0, mstart[k] = false;
}

/* Predicts an unmap of n pages at addr (the table's rows 3 to 10). */
static struct expect predict_unmap(vaddr_t addr, uint32_t tag, uint64_t n)
{
	uint64_t i = (addr - R->base) >> PAGE_SHIFT;
	int at = find_containing(i);
	if (at < 0)
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0 };
	if (res[at].tag != tag)
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, addr, tag, res[at].tag };
	if (!mpfn[i])
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, addr, tag, 0 };
	uint64_t end = res[at].start + res[at].npages;
	if (n > end - i)
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_PAST_END, addr, end - i, n };
	for (uint64_t k = i; k < i + n; k++)
		if (!mpfn[k])
			return (struct expect){ SYSPTE_BUGCHECK_UNMAP_HOLE, pva(k), 0, 0 };
	uint64_t f = i;
	while (!mstart[f])
		f--;
	if (f != i)
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr, pva(f), n };
	if (i + n < end && mpfn[i + n] && !mstart[i + n]) {
		f = i + n - 1;
		while (!mstart[f])
			f--;
		return (struct expect){ SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, addr, pva(f), n };
	}
	return (struct expect){ 0, 0, 0, 0 };
}

/* The TLB log of a successful unmap of n pages at i: one flush, one entry per leaf and per 4 KiB page. */
static void check_unmap_tlb(uint64_t i, uint64_t n)
{
	vaddr_t want[TLB_BATCH_PAGES];
	size_t e = 0;
	for (uint64_t k = i; k < i + n;) {
		if (e < TLB_BATCH_PAGES)
			want[e] = pva(k);
		e++;
		k += mleaf[k / SPANP] ? SPANP : 1;
	}
	uint32_t ranks = fake_tlb.flushes ? fake_tlb.ev[0].ranks : 0;   /* a cached reservation's: its cache's lock alone */
	if (fake_tlb.flushes != 1 || (ranks & ~(1u << LOCK_RANK_SYSPTE_CACHE)) || fake_tlb.irqs_off != (ranks != 0))
		fail("unmap: not one flush with the region's lock released", fake_tlb.flushes, ranks);
	else if (e > TLB_BATCH_PAGES ? !fake_tlb.ev[0].all : !fake_tlb_flushed_pages(0, want, e))
		fail("unmap: TLB entries differ", e, fake_tlb.pages);
}

/* Unmaps n pages at addr with a fresh MDL of that span, predicted and checked. */
static void do_unmap(vaddr_t addr, uint32_t tag, uint64_t n)
{
	uint64_t i = (addr - R->base) >> PAGE_SHIFT;
	mdl_make(n);
	hm.mdl.MdlFlags = MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA;
	hm.mdl.MappedSystemVa = (PVOID)pva(i);
	MDL saved = hm.mdl;
	struct expect e = predict_unmap(addr, tag, n);
	uint64_t count = bugcheck_last.count;
	fake_tlb_reset();
	MmUnmapReservedMapping((PVOID)addr, tag, &hm.mdl);
	cnt.unmaps++;
	check_bc(&e, count);
	int at = find_containing(i);
	if (e.sub) {
		if (fake_tlb.flushes)
			fail("a refused unmap flushed", fake_tlb.flushes, e.sub);
		if (memcmp(&saved, &hm.mdl, sizeof(saved)))
			fail("a refused unmap changed the MDL", hm.mdl.MdlFlags, 0);
		cnt.cut_leaf += e.sub == SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING && mleaf[i / SPANP];
	} else {
		check_unmap_tlb(i, n);
		cnt.unmapped_ok++;
		if (hm.mdl.MappedSystemVa || hm.mdl.MdlFlags != MDL_PAGES_LOCKED)
			fail("unmap did not reset the MDL", hm.mdl.MdlFlags, (uint64_t)hm.mdl.MappedSystemVa);
		model_unmap(i, n);
	}
	if (at >= 0)
		check_ptes(res[at].start, res[at].start + res[at].npages);
}

static void op_unmap(void)
{
	int r = pick_live();
	if (r < 0)
		return;
	struct lres *v = &res[r];
	uint64_t i = v->start + draw(v->npages), n;
	if (draw(4)) {   /* usually a mapping's start */
		for (uint64_t k = 0; k < v->npages; k++) {
			uint64_t j = v->start + (i - v->start + k) % v->npages;
			if (mstart[j]) {
				i = j;
				break;
			}
		}
	} else if (draw(2)) {   /* inside a leaf's span, or at its start */
		for (uint64_t s = v->start / SPANP; s * SPANP < v->start + v->npages; s++)
			if (mleaf[s]) {
				i = s * SPANP + (draw(2) ? 0 : draw(SPANP));
				break;
			}
	}
	n = mpfn[i] ? mapping_len(i) : 1 + draw(8);
	switch (draw(6)) {
	case 0: if (i + n < RPAGES && mpfn[i + n]) n += mapping_len(i + n); break;   /* two mappings */
	case 1: n += draw(3); break;
	case 2: if (n > 1) n -= 1 + draw(n - 1); break;   /* ends inside it */
	case 3: n = (n + draw(SPANP)) % (v->start + v->npages - i) + 1; break;
	}
	if (n > MAXN)
		n = MAXN;
	uint32_t tag = draw(20) ? v->tag : v->tag ^ 0x00010000;
	do_unmap(pva(i) + (draw(3) ? 0 : draw(PAGE_SIZE)), tag, n);
}

static void op_map(void)
{
	int r = pick_live();
	if (r < 0)
		return;
	struct lres *v = &res[r];
	uint64_t i;
	switch (draw(5)) {
	case 0: i = v->start; break;
	case 1: {   /* a span's start inside, or a few pages before it */
		uint64_t s = (v->start + SPANP - 1) / SPANP * SPANP;
		uint64_t back = draw(3) ? 0 : draw(SPANP);
		i = s < v->start + v->npages ? s - MIN(s - v->start, back) : v->start;
		break;
	}
	case 2: {   /* right after a mapping */
		i = v->start + draw(v->npages);
		for (uint64_t k = v->start; k < v->start + v->npages; k++)
			if (mpfn[k] && (k + 1 == v->start + v->npages || !mpfn[k + 1]) && draw(2)) {
				i = k + 1 < v->start + v->npages ? k + 1 : k;
				break;
			}
		break;
	}
	default: i = v->start + draw(v->npages);
	}
	uint64_t room = v->start + v->npages - i, n;
	static const uint64_t lens[] = { 511, 512, 513, 1023, 1024, 1025, 1536 };
	uint64_t hole = 0, hole_at = i;   /* the longest unmapped run of the reservation */
	for (uint64_t k = v->start, run = 0; k < v->start + v->npages; k++) {
		run = mpfn[k] ? 0 : run + 1;
		if (run > hole)
			hole = run, hole_at = k + 1 - run;
	}
	if (hole >= SPANP && draw(3) == 0) {   /* fill most of it: the spans it covers whole may get leaves */
		i = hole_at + (draw(2) ? 0 : draw(hole - SPANP + 1));
		room = v->start + v->npages - i;
		uint64_t len = SPANP + draw(hole_at + hole - i - SPANP + 1);
		n = MIN(len, room);
		goto sized;
	}
	switch (draw(5)) {
	case 0: n = lens[draw(ARRAY_SIZE(lens))]; break;
	case 1: n = room + (draw(8) ? 0 : 1); break;
	case 2: n = 1 + draw(MIN(room, 40)); break;
	default: n = 1 + draw(room);
	}
sized:
	if (n > MAXN)
		n = MAXN;
	mdl_make(n);
	frames_make(i, n);
	int ct = draw(24) ? (int)draw(MmMaximumCacheType) : (draw(2) ? MmMaximumCacheType : -1);
	if (draw(40) == 0)
		hm.mdl.MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA, hm.mdl.MappedSystemVa = (PVOID)pva(v->start);
	uint32_t tag = draw(30) ? v->tag : v->tag ^ 0x01000000;
	vaddr_t addr = pva(i) + (draw(3) ? 0 : draw(PAGE_SIZE));
	/* the prediction: rows 2 (tag), 4 to 9 (NULL), 10 (already mapped) */
	struct expect e = { 0, 0, 0, 0 };
	bool want_null = false;
	uint64_t maxpfn = pfn_limit() - 1;
	if (tag != v->tag)
		e = (struct expect){ SYSPTE_BUGCHECK_MAP_WRONG_TAG, addr, tag, v->tag };
	else {
		bool wide = false;
		for (uint64_t k = 0; k < n; k++)
			wide |= hm.pfn[k] > maxpfn;
		want_null = ct < 0 || ct >= MmMaximumCacheType || (hm.mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) || n > room || wide;
		for (uint64_t k = 0; !want_null && k < n; k++)
			if (mpfn[i + k]) {
				e = (struct expect){ SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, addr, pva(i + k), pva(i + n) - 1 };
				break;
			}
	}
	MDL saved = hm.mdl;
	uint64_t count = bugcheck_last.count, calls = phys_alloc_calls;
	fake_tlb_reset();
	PVOID p = MmMapLockedPagesWithReservedMapping((PVOID)addr, tag, &hm.mdl, (MEMORY_CACHING_TYPE)ct);
	cnt.maps++;
	if (phys_alloc_calls != calls)
		fail("a map asked for memory", phys_alloc_calls - calls, 0);
	check_bc(&e, count);
	bool should = !e.sub && !want_null;
	if (should != (p != NULL)) {
		fail("map outcome differs", (uint64_t)p, should);
		return;
	}
	if (!p) {
		cnt.nulls += want_null;
		if (fake_tlb.flushes)
			fail("a refused map flushed", fake_tlb.flushes, 0);
		if (memcmp(&saved, &hm.mdl, sizeof(saved)))
			fail("a refused map changed the MDL", hm.mdl.MdlFlags, 0);
		check_ptes(v->start, v->start + v->npages);
		return;
	}
	CSHORT want_flags = saved.MdlFlags | MDL_MAPPED_TO_SYSTEM_VA | ((saved.MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
	if ((vaddr_t)p != pva(i) + saved.ByteOffset || hm.mdl.MappedSystemVa != (PVOID)pva(i) || hm.mdl.MdlFlags != want_flags)
		fail("map: return value or MDL fields", (uint64_t)p, (uint16_t)hm.mdl.MdlFlags);
	for (uint64_t k = 0; k < n; k++) {
		mpfn[i + k] = hm.pfn[k] + 1;
		mstart[i + k] = k == 0;
		mpat[i + k] = (uint8_t)cache_pat[ct];
	}
	vaddr_t want[TLB_BATCH_PAGES];
	size_t leaves = 0;
	for (uint64_t s = (i + SPANP - 1) / SPANP; (s + 1) * SPANP <= i + n; s++) {
		uint64_t first = mpfn[s * SPANP] - 1;
		bool run = first % SPANP == 0;
		for (uint64_t q = 1; run && q < SPANP; q++)
			run = mpfn[s * SPANP + q] - 1 == first + q;
		mleaf[s] = run;
		if (run) {
			if (leaves < TLB_BATCH_PAGES)
				want[leaves] = pva(s * SPANP);
			leaves++;
			cnt.top_leaves += first + SPANP == pfn_limit();
		}
	}
	cnt.leaves += leaves;
	cnt.mapped_ok++;
	if (leaves == 0 ? fake_tlb.flushes != 0 : fake_tlb.flushes != 1 || fake_tlb.irqs_off)
		fail("map: TLB flushes differ from its leaves", fake_tlb.flushes, leaves);
	else if (leaves && !fake_tlb_flushed_pages(0, want, leaves))
		fail("map: invalidated other entries than its leaves", fake_tlb.pages, leaves);
	check_ptes(v->start, v->start + v->npages);
}

/* Unmaps every mapping of reservation r (each at its start), then frees it. */
static void op_free(void)
{
	int r = pick_live();
	if (r < 0)
		return;
	struct lres *v = &res[r];
	uint64_t first = UINT64_MAX, mapped = 0, count = bugcheck_last.count;
	for (uint64_t k = v->start; k < v->start + v->npages; k++)
		if (mpfn[k])
			mapped++, first = MIN(first, k);
	if (mapped && draw(2)) {   /* 0x103 first: the first mapped page, the pages still mapped (a leaf's 512) */
		struct expect e = { SYSPTE_BUGCHECK_FREE_STILL_MAPPED, pva(first), v->tag, mapped };
		vaddr_t at = pva(v->start) + (draw(2) ? 0 : draw(PAGE_SIZE));
		MmFreeMappingAddress((PVOID)at, v->tag);
		check_bc(&e, count);
		count = bugcheck_last.count;
		check_ptes(v->start, v->start + v->npages);
	}
	for (uint64_t k = v->start; k < v->start + v->npages; k++)
		if (mstart[k])
			do_unmap(pva(k), v->tag, mapping_len(k));
	count = bugcheck_last.count;
	MmFreeMappingAddress((PVOID)pva(v->start), v->tag);
	struct expect none = { 0, 0, 0, 0 };
	check_bc(&none, count);
	for (uint64_t k = v->start; k < v->start + v->npages; k++)
		owner[k] = -1;
	v->live = false;
}

static void step(void)
{
	cnt.ops++;
	unsigned k = (unsigned)draw(20);
	if (k < 3)
		op_reserve();
	else if (k < 4)
		op_free();
	else if (k < 12)
		op_map();
	else
		op_unmap();
	check_counts();
}


/* ---------------------------------------------------------------- the MDL toolkit over 2 MiB leaves */

/* A heap MDL with room for n frames (Size as MmInitializeMdl writes it). */
static MDL *heap_mdl(uint64_t n)
{
	MDL *m = calloc(1, sizeof(MDL) + 8 * (n + 1));
	m->Size = (CSHORT)(sizeof(MDL) + 8 * n);
	return m;
}

/* True when the n pages from va map the frames pfn (4 KiB or 2 MiB entries), with memory type pat. */
static bool maps_frames(vaddr_t va, const PFN_NUMBER *pfn, uint64_t n, unsigned pat, uint64_t *leaves)
{
	*leaves = 0;
	for (uint64_t k = 0; k < n; k++) {
		paddr_t pa;
		uint64_t pte, size;
		if (!pt_query(host_machine_pt(), va + k * PAGE_SIZE, &pa, &pte, &size) || pa >> PAGE_SHIFT != pfn[k] ||
		    pte_pat(pte, size) != pat)
			return false;
		*leaves += size == SIZE_2M && (va + k * PAGE_SIZE) % SIZE_2M == 0;
	}
	return true;
}

/*
 * MmMapLockedPagesSpecifyCache of generated MDLs (513 to 3000 pages, any ByteOffset, every cache
 * type) whose frames hold m consecutive aligned 2 MiB runs from a random index j (the other frames
 * odd, so never a run's start), on an empty region: the reservation is 'MdlM' of exactly the span,
 * placed (docs/contract.md section 6: "prefers the address that lets them map so") so that each run
 * maps by one leaf, the return value MappedSystemVa + ByteOffset, the map's flush naming the leaves;
 * then MmBuildMdlForNonPagedPool over the mapped range reads the same frames back through the
 * leaves, IoBuildPartialMdl of a random sub-range gets PARENT_MAPPED_SYSTEM_VA at the right page
 * and frames, and MmUnmapLockedPages leaves nothing reserved, mapped or counted. Returns the
 * cases that went wrong.
 */
static unsigned test_specify_cache_leaves(unsigned *cases)
{
	unsigned bad = 0;
	*cases = 0;
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	rng = 0x5bec1f1caULL;
	for (unsigned c = 0; c < 300; c++, (*cases)++) {
		static const uint64_t lens[] = { 512, 513, 1023, 1024, 1025, 1536 };
		uint64_t n = c < 60 ? lens[c % ARRAY_SIZE(lens)] : 512 + draw(2500);
		uint64_t j = draw(n - SPANP + 1), m = 1 + draw((n - j) / SPANP);
		ULONG off = draw(2) ? 0 : (ULONG)draw(PAGE_SIZE);
		MDL *mdl = heap_mdl(n), *bld = NULL, *part = NULL;
		PFN_NUMBER *pfn = MmGetMdlPfnArray(mdl);
		uint64_t base = SPANP * (1 + draw(4000));
		for (uint64_t k = 0; k < n; k++)
			pfn[k] = k >= j && k < j + m * SPANP ? base + (k - j) : (0x100 + 2 * draw(1 << 20)) | 1;
		mdl->StartVa = (PVOID)(0x50000000ULL + (draw(1 << 12) << PAGE_SHIFT));
		mdl->ByteOffset = off;
		mdl->ByteCount = (ULONG)(n * PAGE_SIZE - off - (draw(2) ? 0 : draw(PAGE_SIZE - off)));
		mdl->MdlFlags = MDL_PAGES_LOCKED;
		int ct = (int)draw(MmMaximumCacheType);
		fake_tlb_reset();
		char *p = MmMapLockedPagesSpecifyCache(mdl, KernelMode, (MEMORY_CACHING_TYPE)ct, NULL, 0, NormalPagePriority);
		vaddr_t va = (vaddr_t)p & ~(vaddr_t)PAGE_MASK;
		struct syspte_info info;
		struct syspte_stats st;
		syspte_get_stats(R, &st);
		uint64_t leaves = 0;
		vaddr_t want[TLB_BATCH_PAGES];
		for (uint64_t q = 0; q < m && q < TLB_BATCH_PAGES; q++)
			want[q] = va + (j + q * SPANP) * PAGE_SIZE;
		bool good = p && (vaddr_t)p == va + off && mdl->MappedSystemVa == (PVOID)va &&
			    mdl->MdlFlags == (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA) && syspte_lookup(R, va, &info) &&
			    info.base == va && info.npages == n && info.tag == MDL_TAG_MAP && info.mapped == n &&
			    maps_frames(va, pfn, n, cache_pat[ct], &leaves) && leaves == m && st.large_leaves == m &&
			    fake_tlb.flushes == 1 && fake_tlb_flushed_pages(0, want, m);
		if (good) {   /* the mapped range read back through the page tables */
			bld = IoAllocateMdl(p, mdl->ByteCount, FALSE, FALSE, NULL);
			good &= bld != NULL;
			if (bld) {
				MmBuildMdlForNonPagedPool(bld);
				good &= memcmp(MmGetMdlPfnArray(bld), pfn, n * sizeof(PFN_NUMBER)) == 0 &&
					(bld->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) && bld->MappedSystemVa == p;
			}
			uint64_t x = draw(mdl->ByteCount), len = 1 + draw(mdl->ByteCount - x);
			part = heap_mdl(n);
			IoBuildPartialMdl(mdl, part, (char *)MmGetMdlVirtualAddress(mdl) + x, (ULONG)len);
			uint64_t first = (off + x) >> PAGE_SHIFT;
			good &= (part->MdlFlags & (MDL_PARTIAL | MDL_PARENT_MAPPED_SYSTEM_VA)) == (MDL_PARTIAL | MDL_PARENT_MAPPED_SYSTEM_VA) &&
				part->MappedSystemVa == (PVOID)(va + first * PAGE_SIZE) && part->ByteOffset == ((off + x) & PAGE_MASK) &&
				memcmp(MmGetMdlPfnArray(part), pfn + first, mdl_span(part) * sizeof(PFN_NUMBER)) == 0;
		}
		if (p)
			MmUnmapLockedPages(p, mdl);
		if (bld)
			IoFreeMdl(bld);
		syspte_get_stats(R, &st);
		good &= st.live == 0 && st.pages_mapped == 0 && st.large_leaves == 0 && !mdl->MappedSystemVa &&
			mdl->MdlFlags == MDL_PAGES_LOCKED && syspte_check(R) == 0;
		if (!good && bad++ < 5)
			printf("# MmMapLockedPagesSpecifyCache of %llu pages (offset %u), %llu runs from frame %llu: %p, "
			       "%llu leaves (region %llu)\n", (unsigned long long)n, (unsigned)off, (unsigned long long)m,
			       (unsigned long long)j, (void *)p, (unsigned long long)leaves, (unsigned long long)st.large_leaves);
		free(mdl);
		free(part);
	}
	return bad;
}

/* The word every page of RAM frame pfn holds in these tests. */
static uint64_t pattern(uint64_t pfn) { return pfn * 0x9E3779B97F4A7C15ULL ^ 0x6c656166; }

/* True when a read of each of the n pages from va through the MMU sees the pattern of frame pfn[k]. */
static bool reads_frames(vaddr_t va, const PFN_NUMBER *pfn, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		uint64_t v;
		if (!fake_read(va + k * PAGE_SIZE + 8 * (k % 8), &v) || v != pattern(pfn[k]))
			return false;
	}
	return true;
}

/*
 * Partial MDLs cut from a FAST_LARGE_PAGES allocation (two 2 MiB runs, then single pages) at
 * generated offsets and lengths, each mapped into a DIVISIBLE 2 MiB-multiple reservation at the
 * page that lines its runs up with spans: a leaf for each run the partial holds whole (and none
 * else), PARTIAL_HAS_BEEN_MAPPED, the pages read through the fake MMU (TLB and walk) as their
 * frames. Then the same reservation is unmapped and remapped
 * with the partial's frames shifted by one page (4 KiB PTEs only) and read again, then back to the
 * aligned frames: every read sees the frames mapped now, none goes through a stale translation
 * (fake_stale), and the counts and syspte_check stay right. The reserved pages just before and just
 * after a mapping fault when touched, and the fault's P4 (syspte_reservation_base) is the
 * reservation's base. Returns the cases that went wrong.
 */
static unsigned test_partial_leaves_remap(unsigned *cases)
{
	const uint32_t tag = 0x74726150;   /* 'Part' */
	unsigned bad = 0;
	*cases = 0;
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	bugcheck_set_hook(bugcheck_record_hook);
	rng = 0x9a27141ULL;
	const uint64_t total = 2 * SPANP + 300;
	PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, skip = { .QuadPart = 0 };
	PMDL src = MmAllocatePagesForMdlEx(lo, hi, skip, total * PAGE_SIZE, MmCached, MM_ALLOCATE_FAST_LARGE_PAGES);
	if (!src || src->ByteCount != total * PAGE_SIZE)
		return 1;
	PFN_NUMBER *sp = MmGetMdlPfnArray(src);
	bad += sp[0] % SPANP != 0 || sp[SPANP] % SPANP != 0;
	for (uint64_t k = 0; k < total; k++)   /* the pattern in the first eight words of each page */
		for (unsigned q = 0; q < 8; q++)
			((volatile uint64_t *)arch_phys_to_virt(sp[k] << PAGE_SHIFT))[q] = pattern(sp[k]);
	vaddr_t rv = (vaddr_t)MmAllocateMappingAddressEx(4 * SIZE_2M, tag, MM_MAPPING_ADDRESS_DIVISIBLE);
	if (!rv || rv % (4 * SIZE_2M))
		return bad + 1;
	MDL *part = heap_mdl(total + 1), *sh = heap_mdl(total + 1), *un = heap_mdl(total + 1);
	fake_stale_reset();
	for (unsigned c = 0; c < 120; c++, (*cases)++) {
		uint64_t x = c < 4 ? (c + 1) * SPANP * PAGE_SIZE / 2 : c == 4 ? 0 : PAGE_SIZE + draw(total * PAGE_SIZE - PAGE_SIZE - 1);
		uint64_t len = c == 4 ? (total - 1) * PAGE_SIZE : c % 3 == 0 ? 0 : 1 + draw(total * PAGE_SIZE - x);
		memset(part, 0, sizeof(MDL));
		part->Size = (CSHORT)(sizeof(MDL) + 8 * (total + 1));
		IoBuildPartialMdl(src, part, (char *)src->StartVa + x, (ULONG)len);
		uint64_t f = x >> PAGE_SHIFT, n = mdl_span(part);
		vaddr_t at = rv + (f % SPANP) * PAGE_SIZE;   /* source index k lands on page (k - f) + f % 512 */
		uint64_t expect = (f == 0 && n >= SPANP) + (f <= SPANP && n - (SPANP - f) >= SPANP && f + n >= 2 * SPANP);
		fake_tlb_reset();
		char *p = MmMapLockedPagesWithReservedMapping((PVOID)at, tag, part, MmCached);
		uint64_t leaves = 0, l2 = 0;
		struct syspte_stats st;
		syspte_get_stats(R, &st);
		uint64_t after = (at - rv) / PAGE_SIZE + n, v;
		bool good = p == (char *)at + part->ByteOffset && part->MappedSystemVa == (PVOID)at &&
			    (part->MdlFlags & (MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED)) ==
				    (MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED) &&
			    maps_frames(at, sp + f, n, 0, &leaves) && leaves == expect && st.large_leaves == expect &&
			    fake_tlb.flushes == (expect != 0) && reads_frames(at, sp + f, n) &&
			    (after >= 4 * SPANP || (!fake_read(at + n * PAGE_SIZE, &v) && syspte_reservation_base(R, at + n * PAGE_SIZE) == rv)) &&
			    (at == rv || (!fake_read(at - PAGE_SIZE, &v) && syspte_reservation_base(R, at - PAGE_SIZE) == rv));
		/* the same pages again from the next frame on: no run lines up, 4 KiB PTEs only */
		memset(un, 0, sizeof(MDL));
		un->Size = part->Size;
		un->ByteCount = (ULONG)(n * PAGE_SIZE);
		uint64_t count = bugcheck_last.count;
		MmUnmapReservedMapping((PVOID)at, tag, un);
		memset(sh, 0, sizeof(MDL));
		sh->Size = part->Size;
		sh->ByteCount = (ULONG)(n * PAGE_SIZE);
		sh->MdlFlags = MDL_PAGES_LOCKED;
		uint64_t sf = f + n < total ? f + 1 : f - 1;   /* f + n == total: f > 0 */
		memcpy(MmGetMdlPfnArray(sh), sp + sf, n * sizeof(PFN_NUMBER));
		good &= MmMapLockedPagesWithReservedMapping((PVOID)at, tag, sh, MmNonCached) == (PVOID)at &&
			maps_frames(at, sp + sf, n, cache_pat[MmNonCached], &l2) && l2 == 0 && reads_frames(at, sp + sf, n);
		syspte_get_stats(R, &st);
		good &= st.large_leaves == 0 && st.pages_mapped == n;
		MmUnmapReservedMapping((PVOID)at, tag, sh);
		/* and the aligned frames once more, through a plain locked MDL: the leaves come back */
		memcpy(MmGetMdlPfnArray(sh), sp + f, n * sizeof(PFN_NUMBER));
		sh->MdlFlags = MDL_PAGES_LOCKED;
		good &= MmMapLockedPagesWithReservedMapping((PVOID)at, tag, sh, MmWriteCombined) == (PVOID)at &&
			maps_frames(at, sp + f, n, cache_pat[MmWriteCombined], &l2) && l2 == expect && reads_frames(at, sp + f, n);
		MmUnmapReservedMapping((PVOID)at, tag, sh);
		MmUnmapReservedMapping((PVOID)at, tag, un);   /* nothing mapped any more: 0x109 */
		good &= bugcheck_last.count == count + 1 && bugcheck_last.p[0] == SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED;
		syspte_get_stats(R, &st);
		good &= st.pages_mapped == 0 && st.large_leaves == 0 && syspte_check(R) == 0 && fake_stale.hits == 0 &&
			!fake_read(at, &v);
		if (!good && bad++ < 5)
			printf("# partial at byte %llu, %llu bytes (%llu pages from %llu): %p, %llu leaves, want %llu, "
			       "%llu stale\n", (unsigned long long)x, (unsigned long long)len, (unsigned long long)n,
			       (unsigned long long)f, (void *)p, (unsigned long long)leaves, (unsigned long long)expect,
			       (unsigned long long)fake_stale.hits);
		(void)un;
	}
	fake_stale_print();
	MmFreeMappingAddress((PVOID)rv, tag);
	MmFreePagesFromMdl(src);
	ExFreePool(src);
	free(part);
	free(sh);
	free(un);
	bugcheck_set_hook(NULL);
	return bad;
}

/*
 * The growable region (docs/contract.md section 7) over 2 MiB leaves, generated: a DIVISIBLE 16 MiB
 * reservation committed step by step with MDLs from MmAllocatePagesForMdlEx (FAST_LARGE_PAGES runs
 * of 512 pages when the next address is a span's start, else 1..700 single pages), each mapped at
 * the next page and its structure freed at once; the leaves counted as the steps go. Then the
 * tear-down: one MDL over the committed range (IoAllocateMdl, MmBuildMdlForNonPagedPool: it must
 * read each frame through the leaves), one unmap at the start naming each leaf once and each 4 KiB
 * page once (everything above TLB_BATCH_PAGES), MmFreePagesFromMdl giving every page back, the
 * reservation freed. Returns the rounds that went wrong.
 */
static unsigned test_growable_leaves(unsigned *rounds)
{
	const uint32_t tag = 0x776f7247;   /* 'Grow' */
	const uint64_t pages = 4096;
	unsigned bad = 0;
	*rounds = 0;
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	rng = 0x67726f77ULL;
	PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, skip = { .QuadPart = 0 };
	for (unsigned round = 0; round < 12; round++, (*rounds)++) {
		char *va = MmAllocateMappingAddressEx(pages * PAGE_SIZE, tag, MM_MAPPING_ADDRESS_DIVISIBLE);
		if (!va || (vaddr_t)va % (pages * PAGE_SIZE))
			return bad + 1;
		uint64_t used = 0, leaves = 0, entries = 0, steps = 0;
		vaddr_t want[TLB_BATCH_PAGES];
		bool good = true;
		while (used < pages && (steps < 3 + round || draw(4))) {
			bool big = used % SPANP == 0 && pages - used >= SPANP && draw(3);
			uint64_t n = big ? SPANP : 1 + draw(MIN(700, pages - used));
			PMDL m = MmAllocatePagesForMdlEx(lo, hi, skip, n * PAGE_SIZE, MmCached,
							 big ? MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_FULLY_REQUIRED : MM_ALLOCATE_FULLY_REQUIRED);
			if (!m)
				return bad + 1;
			for (uint64_t k = 0; k < n; k++)
				for (unsigned q = 0; q < 8; q++)
					((volatile uint64_t *)arch_phys_to_virt(MmGetMdlPfnArray(m)[k] << PAGE_SHIFT))[q] =
						pattern(MmGetMdlPfnArray(m)[k]);
			good &= MmMapLockedPagesWithReservedMapping(va + used * PAGE_SIZE, tag, m, MmCached) == va + used * PAGE_SIZE;
			good &= reads_frames((vaddr_t)va + used * PAGE_SIZE, MmGetMdlPfnArray(m), n);
			ExFreePool(m);   /* the mapping stays */
			for (uint64_t k = 0; k < n; k += big ? SPANP : 1, entries++)
				if (entries < TLB_BATCH_PAGES)
					want[entries] = (vaddr_t)va + (used + k) * PAGE_SIZE;
			leaves += big;
			used += n;
			steps++;
		}
		struct syspte_stats st;
		syspte_get_stats(R, &st);
		good &= st.large_leaves == leaves && st.pages_mapped == used;
		PMDL all = IoAllocateMdl(va, (ULONG)(used * PAGE_SIZE), FALSE, FALSE, NULL);
		good &= all != NULL;
		if (all) {
			MmBuildMdlForNonPagedPool(all);
			good &= reads_frames((vaddr_t)va, MmGetMdlPfnArray(all), used);
			fake_tlb_reset();
			MmUnmapReservedMapping(va, tag, all);
			good &= fake_tlb.flushes == 1 &&
				(entries > TLB_BATCH_PAGES ? fake_tlb.ev[0].all : fake_tlb_flushed_pages(0, want, entries));
			if (good)   /* the frames read back right: they are the ones to give back */
				MmFreePagesFromMdl(all);
			for (uint64_t k = 0; k < used; k++)
				good &= phys_is_free(MmGetMdlPfnArray(all)[k] << PAGE_SHIFT, 1);
			IoFreeMdl(all);
		}
		MmFreeMappingAddress(va, tag);
		syspte_get_stats(R, &st);
		good &= st.live == 0 && st.pages_mapped == 0 && st.large_leaves == 0 && syspte_check(R) == 0;
		if (!good && bad++ < 5)
			printf("# growable round %u: %llu pages in %llu steps, %llu leaves (region %llu), %llu entries\n", round,
			       (unsigned long long)used, (unsigned long long)steps, (unsigned long long)leaves,
			       (unsigned long long)st.large_leaves, (unsigned long long)entries);
	}
	return bad;
}

/* ---------------------------------------------------------------- remaps seen by every CPU */

#define LR_CPUS 3
#define LR_ROUNDS 48
static struct {
	vaddr_t va;                       /* a DIVISIBLE reservation of two spans */
	PFN_NUMBER want[2 * SPANP];       /* the frames mapped in the current round */
	int phase;                        /* the round mapped now (readers read it), -1 at the end */
	int acks;                         /* readers done with the round */
	uint64_t bad[LR_CPUS], reads[LR_CPUS];
} lr;

/* Waits, answering shootdowns, until *var is value (or, with any, no longer value). */
static void lr_wait(int *var, int value, bool any)
{
	for (;;) {
		int x = __atomic_load_n(var, __ATOMIC_ACQUIRE);
		if (any ? x != value : x == value)
			return;
		arch_cpu_poll();
		arch_cpu_relax();
	}
}

/* CPU 0 maps the round's frames, lets the others read them, unmaps; the others read each round. */
static void lr_run(unsigned cpu, void *arg)
{
	PFN_NUMBER *a = arg;   /* a[0]: run A's first frame, a[1]: run B's */
	static struct { MDL mdl; PFN_NUMBER pfn[2 * SPANP]; } m;
	if (cpu) {
		int seen = 0;
		for (;;) {
			lr_wait(&lr.phase, seen, true);
			seen = __atomic_load_n(&lr.phase, __ATOMIC_ACQUIRE);
			if (seen < 0)
				return;
			for (uint64_t j = 0; j < 70; j++) {
				uint64_t k = j < 4 ? (uint64_t[]){ 0, SPANP - 1, SPANP, 2 * SPANP - 1 }[j] : (cpu * 37 + j * 61 + (uint64_t)seen * 7) % (2 * SPANP), v;
				lr.reads[cpu]++;
				if (!fake_read(lr.va + k * PAGE_SIZE + 8 * (k % 8), &v) || v != pattern(lr.want[k]))
					lr.bad[cpu]++;
			}
			__atomic_fetch_add(&lr.acks, 1, __ATOMIC_ACQ_REL);
		}
	}
	for (int round = 1; round <= LR_ROUNDS; round++) {
		for (uint64_t k = 0; k < 2 * SPANP; k++) {   /* leaves, shifted frames, swapped runs, a reversed run */
			uint64_t q = k % SPANP, half = k / SPANP;
			switch (round % 4) {
			case 0: lr.want[k] = a[half] + q; break;
			case 1: lr.want[k] = k == 2 * SPANP - 1 ? a[0] : a[(k + 1) / SPANP] + (k + 1) % SPANP; break;
			case 2: lr.want[k] = a[1 - half] + q; break;
			default: lr.want[k] = half ? a[1] + SPANP - 1 - q : a[0] + q;
			}
		}
		memset(&m.mdl, 0, sizeof(m.mdl));
		m.mdl.Size = (CSHORT)sizeof(m);
		m.mdl.ByteCount = (ULONG)(2 * SPANP * PAGE_SIZE);
		m.mdl.MdlFlags = MDL_PAGES_LOCKED;
		memcpy(m.pfn, lr.want, sizeof(lr.want));
		if (MmMapLockedPagesWithReservedMapping((PVOID)lr.va, 0x7272654c, &m.mdl, (MEMORY_CACHING_TYPE)(round % 6)) != (PVOID)lr.va)
			lr.bad[0]++;
		__atomic_store_n(&lr.acks, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&lr.phase, round, __ATOMIC_RELEASE);
		lr_wait(&lr.acks, LR_CPUS - 1, false);
		MmUnmapReservedMapping((PVOID)lr.va, 0x7272654c, &m.mdl);   /* every CPU's translations go before it returns */
	}
	__atomic_store_n(&lr.phase, -1, __ATOMIC_RELEASE);
}

/*
 * Two 2 MiB runs of RAM mapped into one 2 MiB-aligned reservation of two spans, round after round,
 * as two leaves, as 4 KiB pages shifted by one frame, as the two runs swapped, and as a leaf then a
 * reversed run, by CPU 0, while CPUs 1 and 2 read a spread of the pages through their own TLBs each
 * round and keep whatever translations they made (2 MiB or 4 KiB) into the next: each read sees the
 * frame mapped in that round, and none goes through a stale translation, so every unmap reached
 * every CPU's TLB, a leaf as one entry. Returns the wrong reads.
 */
static unsigned test_leaf_remap_every_cpu(uint64_t *reads)
{
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	PFN_NUMBER runs[2];
	for (unsigned h = 0; h < 2; h++) {
		paddr_t pa = phys_alloc_aligned(SPANP, SPANP, 0, UINT64_MAX);
		if (!pa)
			return 1;
		runs[h] = pa >> PAGE_SHIFT;
		for (uint64_t q = 0; q < SPANP; q++)
			for (unsigned w = 0; w < 8; w++)
				((volatile uint64_t *)arch_phys_to_virt(pa + q * PAGE_SIZE))[w] = pattern(runs[h] + q);
	}
	memset(&lr, 0, sizeof(lr));
	lr.va = (vaddr_t)MmAllocateMappingAddressEx(2 * SIZE_2M, 0x7272654c, MM_MAPPING_ADDRESS_DIVISIBLE);
	if (!lr.va)
		return 1;
	fake_stale_reset();
	fake_smp_run(LR_CPUS, lr_run, runs);
	uint64_t bad = fake_stale.hits;
	*reads = 0;
	for (unsigned c = 0; c < LR_CPUS; c++)
		bad += lr.bad[c], *reads += lr.reads[c];
	fake_stale_print();
	struct syspte_stats st;
	syspte_get_stats(R, &st);
	MmFreeMappingAddress((PVOID)lr.va, 0x7272654c);
	return (unsigned)bad + (st.pages_mapped != 0) + (st.large_leaves != 0) + (syspte_check(R) != 0) +
	       (*reads < (LR_CPUS - 1) * LR_ROUNDS * 70);
}

/* ---------------------------------------------------------------- leaves beside the CPUs' caches */

#define MX_ROUNDS 300
static struct {
	vaddr_t big;                      /* CPU 0's DIVISIBLE reservation of two spans */
	PFN_NUMBER run[2];                /* two 2 MiB runs of RAM */
	PFN_NUMBER small[LR_CPUS][16];    /* each other CPU's frames */
	uint64_t bad[LR_CPUS], done[LR_CPUS];
	int finished;
} mx;

/* CPU 0 maps and unmaps its two spans (leaves, or 4 KiB pages) under the region's lock; CPUs 1 and 2
 * reserve, map, read, unmap and free small reservations through their caches meanwhile. */
static void mx_run(unsigned cpu, void *arg)
{
	(void)arg;
	uint64_t g = 0x6d78 + cpu;
	static struct { MDL mdl; PFN_NUMBER pfn[2 * SPANP]; } m0;
	struct { MDL mdl; PFN_NUMBER pfn[16]; } m;
	for (unsigned round = 0; round < MX_ROUNDS; round++) {
		if (cpu == 0) {
			uint64_t n = test_rng_next(&g) % 3 ? 2 * SPANP : SPANP + 1 + test_rng_next(&g) % (SPANP - 1);
			bool shift = test_rng_next(&g) % 3 == 0;
			for (uint64_t k = 0; k < n; k++)
				m0.pfn[k] = mx.run[(k + shift) / SPANP % 2] + (k + shift) % SPANP;
			memset(&m0.mdl, 0, sizeof(m0.mdl));
			m0.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
			m0.mdl.ByteCount = (ULONG)(n * PAGE_SIZE);
			m0.mdl.MdlFlags = MDL_PAGES_LOCKED;
			if (MmMapLockedPagesWithReservedMapping((PVOID)mx.big, 0x6e69614d, &m0.mdl, MmCached) != (PVOID)mx.big)
				mx.bad[0]++;
			for (uint64_t k = 0; k < n; k += 97) {
				uint64_t v;
				if (!fake_read(mx.big + k * PAGE_SIZE, &v) || v != pattern(m0.pfn[k]))
					mx.bad[0]++;
			}
			MmUnmapReservedMapping((PVOID)mx.big, 0x6e69614d, &m0.mdl);
		} else {
			uint64_t n = 1 + test_rng_next(&g) % 16;
			uint32_t tag = 0x6c6c6d53 + cpu;   /* 'Smll' + cpu */
			PVOID va = MmAllocateMappingAddress(n * PAGE_SIZE, tag);
			if (!va) {
				mx.bad[cpu]++;
				continue;
			}
			memset(&m.mdl, 0, sizeof(m.mdl));
			m.mdl.Size = (CSHORT)(sizeof(MDL) + 8 * n);
			m.mdl.ByteCount = (ULONG)(n * PAGE_SIZE);
			m.mdl.MdlFlags = MDL_PAGES_LOCKED;
			for (uint64_t k = 0; k < n; k++)
				m.pfn[k] = mx.small[cpu][(k + round) % 16];
			if (MmMapLockedPagesWithReservedMapping(va, tag, &m.mdl, MmCached) != va)
				mx.bad[cpu]++;
			for (uint64_t k = 0; k < n; k++) {
				uint64_t v;
				if (!fake_read((vaddr_t)va + k * PAGE_SIZE, &v) || v != pattern(m.pfn[k]))
					mx.bad[cpu]++;
			}
			MmUnmapReservedMapping(va, tag, &m.mdl);
			MmFreeMappingAddress(va, tag);
		}
		mx.done[cpu]++;
	}
	__atomic_fetch_add(&mx.finished, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&mx.finished, __ATOMIC_ACQUIRE) < LR_CPUS) {
		arch_cpu_poll();
		arch_cpu_relax();
	}
}

/*
 * 2 MiB leaves mapped and unmapped by CPU 0 under the region's lock while CPUs 1 and 2 reserve, map,
 * read, unmap and free small reservations on their caches' paths without it (mm/syspte_map.c: a
 * cached chunk's span never has a leaf, the leaf count read without the lock): every call succeeds,
 * every read sees its frame, none is stale, and the region ends empty and consistent. Returns the
 * calls or reads that went wrong.
 */
static unsigned test_leaves_beside_caches(void)
{
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	memset(&mx, 0, sizeof(mx));
	for (unsigned h = 0; h < 2; h++) {
		paddr_t pa = phys_alloc_aligned(SPANP, SPANP, 0, UINT64_MAX);
		if (!pa)
			return 1;
		mx.run[h] = pa >> PAGE_SHIFT;
	}
	for (unsigned c = 1; c < LR_CPUS; c++)
		for (unsigned k = 0; k < 16; k++) {
			paddr_t pa = phys_alloc_zeroed_page();
			if (!pa)
				return 1;
			mx.small[c][k] = pa >> PAGE_SHIFT;
			((volatile uint64_t *)arch_phys_to_virt(pa))[0] = pattern(pa >> PAGE_SHIFT);
		}
	for (unsigned h = 0; h < 2; h++)
		for (uint64_t q = 0; q < SPANP; q++)
			((volatile uint64_t *)arch_phys_to_virt((mx.run[h] + q) << PAGE_SHIFT))[0] = pattern(mx.run[h] + q);
	mx.big = (vaddr_t)MmAllocateMappingAddressEx(2 * SIZE_2M, 0x6e69614d, MM_MAPPING_ADDRESS_DIVISIBLE);
	if (!mx.big)
		return 1;
	fake_stale_reset();
	fake_smp_run(LR_CPUS, mx_run, NULL);
	MmFreeMappingAddress((PVOID)mx.big, 0x6e69614d);
	uint64_t bad = fake_stale.hits;
	for (unsigned c = 0; c < LR_CPUS; c++)
		bad += mx.bad[c] + (mx.done[c] != MX_ROUNDS);
	fake_stale_print();
	struct syspte_stats st;
	syspte_get_stats(R, &st);
	return (unsigned)bad + (st.live != 0) + (st.pages_mapped != 0) + (st.large_leaves != 0) + (syspte_check(R) != 0) +
	       (st.cache_fast < MX_ROUNDS);   /* the small ones went through the caches' paths */
}

/* ---------------------------------------------------------------- pt.c's large leaves split */

/*
 * mm/pt.c's leaf handling across levels: a 1 GiB leaf of every memory type (pt_map with 1 GiB
 * allowed), then one generated 4 KiB page inside it given another memory type (pt_protect splits
 * the 1 GiB leaf into 2 MiB leaves, and the one holding the page into 4 KiB pages, the PAT bit
 * moving from bit 12 to bit 7 in the second split only). Every page read back (pt_query at the page
 * and its neighbours, and 2000 generated ones): its frame, its writability, and the memory type of
 * its leaf at its level: the original everywhere but the reprotected page. pt_check clean.
 * Returns the pages that went wrong.
 */
static unsigned test_pt_split_cache_types(unsigned *cases)
{
	struct pt pt;
	unsigned bad = 0;
	*cases = 0;
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE) || pt_create(&pt, PT_FEAT_ALL) != PT_OK)
		return 1;
	rng = 0x73706c74ULL;
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++)
		for (unsigned rep = 0; rep < 4; rep++) {
			vaddr_t va = (1ULL << 30) * (4 + c * 8 + rep);
			paddr_t pa = (1ULL << 30) * (1 + rep);
			uint64_t off = draw(1ULL << 18) << PAGE_SHIFT;
			unsigned c2 = (unsigned)draw(PT_CACHE_TYPES);
			uint64_t size = 0;
			if (pt_map(&pt, va, pa, 1ULL << 30, PT_PROT_W | PT_PROT_CACHE(c), PT_SIZE_1G | PT_SIZE_2M | PT_SIZE_4K) != PT_OK ||
			    !pt_query(&pt, va, NULL, NULL, &size) || size != (1ULL << 30) ||
			    pt_protect(&pt, va + off, PAGE_SIZE, PT_PROT_CACHE(c2)) != PT_OK)
				return bad + 1;
			for (unsigned k = 0; k < 2009; k++, (*cases)++) {
				uint64_t o = k < 9 ? off + ((int64_t)k - 4) * (int64_t)PAGE_SIZE : draw(1ULL << 18) << PAGE_SHIFT, pte;
				if (o >= (1ULL << 30))
					continue;
				paddr_t got;
				bool here = o == off, good = pt_query(&pt, va + o, &got, &pte, &size) && got == pa + o;
				int level = size == PAGE_SIZE ? 1 : size == SIZE_2M ? 2 : 3;
				bool same_span = (o >> 21) == (off >> 21);
				good &= level == (same_span ? 1 : 2);
				good &= arch_pte_cache(pte, level, PT_FEAT_ALL) == (enum pt_cache)(here ? c2 : c) && !!(pte & X86_PTE_W) == !here;
				if (!good && bad++ < 5)
					printf("# 1 GiB leaf of type %u, page 0x%llx made type %u: page 0x%llx level %d entry 0x%llx\n", c,
					       (unsigned long long)off, c2, (unsigned long long)o, level, (unsigned long long)pte);
			}
			bad += pt_check(&pt) != 0;
			bad += pt_unmap(&pt, va, 1ULL << 30) != PT_OK || pt_query(&pt, va + off, NULL, NULL, NULL);
		}
	return bad;
}

/* One generated sequence: a fresh machine at the given physical width and verifier setting. */
static uint64_t run_seed(uint64_t seed, unsigned ops, unsigned bits, bool verifier)
{
	uint64_t f0 = cnt.failures;
	rng = seed * 0x9E3779B97F4A7C15ULL + 7;
	fake_arch_set_phys_bits(bits);
	mm_verifier_set(verifier);
	if (host_machine_create(64ULL << 20, (uint64_t)RPAGES * PAGE_SIZE))
		return 1;
	R = reserved_region();
	bugcheck_set_hook(bugcheck_record_hook);
	memset(res, 0, sizeof(res));
	memset(mpfn, 0, sizeof(mpfn));
	memset(mstart, 0, sizeof(mstart));
	memset(mleaf, 0, sizeof(mleaf));
	for (unsigned k = 0; k < RPAGES; k++)
		owner[k] = -1;
	for (unsigned k = 0; k < ops && cnt.failures - f0 < 12; k++)
		step();
	while (pick_live() >= 0)
		op_free();
	check_counts();
	struct syspte_stats st;
	syspte_get_stats(R, &st);
	if (st.live || st.pages_mapped || st.large_leaves)
		fail("leftovers", st.live, st.pages_mapped);
	bugcheck_set_hook(NULL);
	host_machine_destroy();
	mm_verifier_set(false);
	return cnt.failures - f0;
}

/* Generated seeds run by default: the seeds run one fake CPU, so the ThreadSanitizer build (whose
 * point is the threaded tests after them) runs one (mk/host.mk), the ASan build eight. */
#ifndef LARGE_MIX_SEEDS
#define LARGE_MIX_SEEDS 8
#endif

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : LARGE_MIX_SEEDS;
	unsigned ops = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 1500;
	static const unsigned widths[] = { 46, 36, 52, 39, 32 };
	for (uint64_t s = 1; s <= seeds; s++) {
		unsigned bits = widths[s % ARRAY_SIZE(widths)];
		is(run_seed(s, ops, bits, false), 0, "seed %llu, %u-bit frames: %u generated calls agree with the model",
		   (unsigned long long)s, bits, ops);
	}
	for (uint64_t s = 1; s <= (seeds + 3) / 4; s++)
		is(run_seed(1000 + s, ops / 3, 46, true), 0, "seed %llu in verifier mode agrees with the model",
		   (unsigned long long)(1000 + s));
	printf("# %llu maps and %llu unmaps succeeded\n", (unsigned long long)cnt.mapped_ok, (unsigned long long)cnt.unmapped_ok);
	printf("# %llu calls: %llu maps, %llu unmaps, %llu leaves mapped (%llu the width's last run), %llu bug checks, "
	       "%llu NULLs, %llu cuts at a leaf\n", (unsigned long long)cnt.ops, (unsigned long long)cnt.maps,
	       (unsigned long long)cnt.unmaps, (unsigned long long)cnt.leaves, (unsigned long long)cnt.top_leaves,
	       (unsigned long long)cnt.bugchecks, (unsigned long long)cnt.nulls, (unsigned long long)cnt.cut_leaf);
	unsigned cases;
	is(test_specify_cache_leaves(&cases), 0, "MmMapLockedPagesSpecifyCache of MDLs holding aligned runs: each run "
	   "one leaf, frames read back by MmBuildMdlForNonPagedPool and IoBuildPartialMdl, all undone (%u cases)", cases);
	is(test_partial_leaves_remap(&cases), 0, "partial MDLs of a FAST_LARGE_PAGES allocation mapped with leaves, remapped "
	   "with 4 KiB pages and back: reads see the frames mapped now, nothing stale (%u cases)", cases);
	is(test_growable_leaves(&cases), 0, "the growable region over FAST_LARGE_PAGES runs and single pages: leaves "
	   "counted, torn down with one built MDL and one unmap naming each leaf once, every page given back (%u rounds)",
	   cases);
	uint64_t reads;
	is(test_leaf_remap_every_cpu(&reads), 0, "a reservation remapped between 2 MiB leaves and 4 KiB pages by one CPU "
	   "while two others read it: every read sees this round's frame, none stale (%llu reads)", (unsigned long long)reads);
	is(test_leaves_beside_caches(), 0, "2 MiB leaves mapped and unmapped on CPU 0 while CPUs 1 and 2 map small "
	   "reservations on their caches' paths: every call and read right, nothing stale, the region consistent");
	is(test_pt_split_cache_types(&cases), 0, "pt.c: a 1 GiB leaf of every memory type split to 2 MiB and 4 KiB leaves "
	   "by a protect of one generated page: frames, writability and memory types right at every level (%u pages)", cases);
	ok(cnt.leaves > seeds * 20 && cnt.top_leaves > 0 && cnt.cut_leaf > seeds && cnt.bugchecks > seeds * 50,
	   "leaves (the width's last run among them), cuts at leaves and misuse were exercised");
	return tap_done();
}
