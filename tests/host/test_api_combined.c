/*
 * Round-3 review of the public reserved-mapping API and the MDL toolkit (mm/reserved.c, mm/mdl.c)
 * against docs/contract.md and the shared spec, with generated cases. Each test's comment says
 * which statement it holds the code to; the tests named test_large_mdl_* failed on the code
 * reviewed (bda32a2; the defect and the failing assertion are described above each) and pass
 * since mdl_room_ok lets the block decide for a pool MDL whose Size is its block's truncation.
 *
 *  D1 An MDL whose Size field holds the WDK's 16-bit truncation (a span over 8185 pages, valid
 *     because its pool block decides) became malformed as soon as its span shrank to 8185 pages
 *     or less: mdl_room_ok then read Size alone. The API shrinks spans itself:
 *     - MmAllocatePagesForMdlEx returning fewer pages than asked (contract section 5 allows it)
 *       handed out an MDL its own MmFreePagesFromMdl refused with 0x1A 0x4D440105 (pages stuck);
 *     - MmFreePagesFromMdl sets ByteCount 0: for 8186..8191 pages (Size 0..0x28 < 0x30) the second
 *       call was 0x4D440105, not the 0x4D440002 contract section 6 promises, and IoFreeMdl of the
 *       growable region's tear-down MDL (section 7) was 0x1A 0x4D440105 with the MDL not freed;
 *     - IoBuildPartialMdl refused (0x4D440004) a Target IoAllocateMdl made for the whole buffer
 *       when the sub-range spanned 8185 pages or fewer.
 *     The tests: test_large_mdl_partial_alloc_mdl_malformed (D1a),
 *     test_large_mdl_second_free_detected (D1b), test_large_mdl_growable_teardown_frees_mdl (D1c),
 *     test_large_mdl_partial_target_of_large_buffer (D1d).
 *
 * Passing, generated coverage: test_reserve_arguments (MmAllocateMappingAddress[Ex]'s argument
 * rows), test_reserved_rows_combined (the map, unmap and free tables with every argument wrong or
 * right at once, 2 MiB leaves among the states, verifier mode off and on),
 * test_system_addresses_combined (MmGetSystemAddressForMdlSafe, MmMapLockedPagesSpecifyCache,
 * IoBuildPartialMdl, MmUnmapLockedPages and IoFreeMdl of page and pool MDLs in random orders).
 */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "wdm.h"
#include "mdl.h"
#include "pool.h"
#include "phys.h"
#include "pt.h"
#include "reserved.h"
#include "syspte.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "vmlayout.h"
#include "model_mdl.h"
#include "verifier.h"

#define TAG_G POOL_TAG4('R', '3', 'g', 'r')
#define TAG_R POOL_TAG4('R', '3', 'r', 's')
#define TAG_X POOL_TAG4('R', '3', 'x', 'x')
#define RAM_BYTES (160ULL << 20)
#define REGION_BYTES (64ULL << 20)
#define RAM_BASE 0x100000ULL   /* host_machine's RAM starts at 1 MiB */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

static PHYSICAL_ADDRESS pa_of(uint64_t v) { PHYSICAL_ADDRESS p; p.QuadPart = (int64_t)v; return p; }

/* Bug checks are recorded, never fatal; seen() counts those since the last call. */
static uint64_t bc_seen;
static uint64_t bc_new(void)
{
	uint64_t n = bugcheck_last.count - bc_seen;
	bc_seen = bugcheck_last.count;
	return n;
}
static void bc_print(const char *what)
{
	printf("#   %s: bug check 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", what, bugcheck_last.code,
	       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
	       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
}

static uint64_t phys_free_now(void)
{
	struct phys_stats st;
	phys_get_stats(&st);
	return st.free_pages;
}

static uint64_t pool_tag_live(uint32_t tag)
{
	struct pool_tag_total t;
	return pool_tag_get(tag, &t) ? t.bytes_live : 0;
}

/* Page counts of MDL allocations around the 16-bit Size's wraps: 8185 is the last span whose Size
 * fits, 8186 .. 8191 wrap to Size 0 .. 0x28 (below an empty MDL's 0x30). */
static const uint64_t want_class[] = { 8185, 8186, 8187, 8190, 8191, 8192, 8200, 9000, 12000, 16000, 16383, 16384, 20000 };

/*
 * D1a. docs/contract.md section 5, "Physical pages for MDLs": the call "may list fewer pages than
 * asked, unless MM_ALLOCATE_FULLY_REQUIRED is given. The caller returns the pages with
 * MmFreePagesFromMdl". The MDL comes back with ByteCount = pages obtained x 4096 but Size
 * computed for the pages asked (MmInitializeMdl(want)); when want > 8185 and got <= 8185, Size is
 * a 16-bit truncation that mdl_room_ok (need <= 0xFFFF: Size alone) finds too small. Generated:
 * asked counts from want_class, a physical window of w < want pages (so got <= w).
 * Failed before the fix: "the MDL is valid" (mdl_validate gives MDL_INVALID_SIZE) and "MmFreePagesFromMdl raises
 * nothing and frees the pages" (0x1A 0x4D440105, nothing freed).
 */
static void test_large_mdl_partial_alloc_mdl_malformed(void)
{
	unsigned cases = 0, invalid = 0, refused = 0;
	for (size_t a = 0; a < ARRAY_SIZE(want_class); a++)
		for (unsigned it = 0; it < 4; it++) {
			uint64_t want = want_class[a];
			uint64_t w = 1 + draw(it & 1 ? 8185 : 400);
			if (w >= want)
				w = want - 1;
			uint64_t lo = RAM_BASE + (100ULL << 20) + draw(512) * PAGE_SIZE;
			/* the placements that may return fewer pages: single pages, PREFER_CONTIGUOUS, chunks */
			ULONG fl = (ULONG)(draw(2) ? MM_DONT_ZERO_ALLOCATION : 0);
			uint64_t skip = 0;
			switch (draw(3)) {
			case 1: fl |= MM_ALLOCATE_PREFER_CONTIGUOUS; break;
			case 2: fl |= MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS; skip = want % 2 ? PAGE_SIZE : 2 * PAGE_SIZE; break;
			default: break;
			}
			PMDL m = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(lo + w * PAGE_SIZE - 1), pa_of(skip), want * PAGE_SIZE,
							 MmCached, fl);
			if (!m) {
				printf("#   want %llu in %llu pages: NULL\n", (unsigned long long)want, (unsigned long long)w);
				invalid++;
				continue;
			}
			cases++;
			uint64_t got = m->ByteCount / PAGE_SIZE;
			struct mdl_fault f;
			enum mdl_invalid why = mdl_validate(m, 0, &f);
			if (why != MDL_VALID && invalid++ < 4)
				printf("#   want %llu, window %llu, got %llu pages: Size 0x%x, rule %d (P3 0x%llx, P4 0x%llx)\n",
				       (unsigned long long)want, (unsigned long long)w, (unsigned long long)got,
				       (uint16_t)m->Size, why, (unsigned long long)f.value, (unsigned long long)f.extra);
			bc_new();
			uint64_t free0 = phys_free_now();
			MmFreePagesFromMdl(m);
			bool freed = bc_new() == 0 && phys_free_now() == free0 + got && m->ByteCount == 0;
			if (!freed) {
				if (refused++ < 4)
					bc_print("MmFreePagesFromMdl of it");
				/* give the frames back by hand so the next cases have RAM */
				PPFN_NUMBER pfn = MmGetMdlPfnArray(m);
				for (uint64_t k = 0; k < got; k++)
					phys_free(pfn_to_pa(pfn[k]), 1);
			}
			ExFreePool(m);
		}
	ok(invalid == 0, "D1a: %u MDLs MmAllocatePagesForMdlEx returned with fewer pages than asked (asked 8185 .. 20000; "
	   "single pages, PREFER_CONTIGUOUS, REQUIRE_CONTIGUOUS_CHUNKS): "
	   "each is a valid MDL (%u malformed)", cases, invalid);
	ok(refused == 0, "D1a: MmFreePagesFromMdl of each frees its pages with no bug check (%u refused)", refused);
}

/*
 * D1b. docs/contract.md section 6: "MmFreePagesFromMdl empties the MDL (ByteCount 0, flags
 * cleared) | A second call on the same MDL is then detected (0x1A, P1 0x4D440002)"; section 5's
 * table: the MDL "already freed" is 0x4D440002 (P2 MDL, P3 MdlFlags). For an MDL of 8186 .. 8191
 * pages its Size is 0 .. 0x28, below what even an empty MDL needs, so the emptied MDL is
 * malformed and the second call names the Size rule. Generated over want_class, full allocations.
 * Failed before the fix: "the second call is 0x1A 0x4D440002" for 8186 .. 8191 (P1 0x4D440105).
 */
static void test_large_mdl_second_free_detected(void)
{
	unsigned cases = 0, wrong = 0;
	for (size_t a = 0; a < ARRAY_SIZE(want_class); a++) {
		uint64_t want = want_class[a];
		PMDL m = MmAllocatePagesForMdlEx(pa_of(0), pa_of(-1), pa_of(0), want * PAGE_SIZE, MmCached,
						 MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FULLY_REQUIRED);
		if (!m) {
			printf("#   %llu pages: NULL\n", (unsigned long long)want);
			wrong++;
			continue;
		}
		cases++;
		bc_new();
		MmFreePagesFromMdl(m);
		bool first = bc_new() == 0;
		uint64_t free1 = phys_free_now();
		MmFreePagesFromMdl(m);
		bool second = bc_new() == 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			      bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_MDL && bugcheck_last.p[1] == (uint64_t)m &&
			      bugcheck_last.p[2] == (uint16_t)m->MdlFlags && phys_free_now() == free1;
		if (!(first && second) && wrong++ < 8) {
			printf("#   %llu pages (Size 0x%x): first free clean %d\n", (unsigned long long)want, (uint16_t)m->Size, first);
			bc_print("second MmFreePagesFromMdl");
		}
		ExFreePool(m);
	}
	ok(wrong == 0, "D1b: %u MDLs of 8185 .. 20000 pages freed twice: the second MmFreePagesFromMdl is 0x1A 0x4D440002 "
	   "naming the MDL and its flags (%u otherwise)", cases, wrong);
}

/*
 * D1c. docs/contract.md section 7, "Growable region": commit pages by mapping MDLs from
 * MmAllocatePagesForMdlEx, tear down with one IoAllocateMdl over the committed range plus
 * MmBuildMdlForNonPagedPool, one unmap, MmFreePagesFromMdl; the MDL is then freed (IoFreeMdl:
 * contract section 5, "frees an MDL made by IoAllocateMdl"). With 8186 .. 8191 pages committed the
 * emptied tear-down MDL's Size (0 .. 0x28) is below 0x30: IoFreeMdl raises 0x1A 0x4D440105 and
 * keeps the block (on the kernel, a bug check of a correct driver's tear-down). Generated: the
 * committed page count and the commit steps. Failed before the fix: "the whole pattern raises no bug check and
 * leaves no 'Mdl ' pool bytes".
 */
static void test_large_mdl_growable_teardown_frees_mdl(void)
{
	static const uint64_t commit_class[] = { 1000, 8185, 8186, 8188, 8191, 8192, 9000 };
	unsigned cases = 0, wrong = 0;
	for (size_t a = 0; a < ARRAY_SIZE(commit_class); a++) {
		uint64_t total = commit_class[a];
		uint64_t io0 = pool_tag_live(POOL_TAG4('M', 'd', 'l', ' ')), free0 = phys_free_now();
		char *va = MmAllocateMappingAddress((total + draw(64)) * PAGE_SIZE, TAG_G);
		bool good = va != NULL;
		uint64_t done = 0, bcs = 0;
		bc_new();
		while (good && done < total) {
			uint64_t step = 1 + draw(3000);   /* drawn once: MIN evaluates its arguments twice */
			step = MIN(total - done, step);
			PMDL m = MmAllocatePagesForMdlEx(pa_of(0), pa_of(-1), pa_of(0), step * PAGE_SIZE, MmCached,
							 MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FULLY_REQUIRED);
			good = m && MmMapLockedPagesWithReservedMapping(va + done * PAGE_SIZE, TAG_G, m, MmCached) ==
					    va + done * PAGE_SIZE;
			if (m)
				ExFreePool(m);
			done += step;
		}
		PMDL t = good ? IoAllocateMdl(va, (ULONG)(total * PAGE_SIZE), FALSE, FALSE, NULL) : NULL;
		good = good && t;
		if (good) {
			MmBuildMdlForNonPagedPool(t);
			MmUnmapReservedMapping(va, TAG_G, t);
			MmFreePagesFromMdl(t);
			IoFreeMdl(t);
			bcs = bc_new();
			if (bcs)
				bc_print("growable tear-down");
			MmFreeMappingAddress(va, TAG_G);
			bcs += bc_new();
		}
		cases++;
		uint64_t io1 = pool_tag_live(POOL_TAG4('M', 'd', 'l', ' '));
		if (!(good && bcs == 0 && io1 == io0) && wrong++ < 6)
			printf("#   %llu pages committed: pattern ran %d, bug checks %llu, 'Mdl ' live bytes %llu -> %llu, "
			       "free pages %llu -> %llu\n", (unsigned long long)total, good, (unsigned long long)bcs,
			       (unsigned long long)io0, (unsigned long long)io1, (unsigned long long)free0,
			       (unsigned long long)phys_free_now());
	}
	ok(wrong == 0, "D1c: %u growable regions of 1000 .. 9000 committed pages torn down as contract section 7 says: "
	   "no bug check, the tear-down MDL freed (%u otherwise)", cases, wrong);
}

/*
 * D1d. docs/contract.md section 5, IoBuildPartialMdl: the Target is refused (0x1A 0x4D440004)
 * only when it is "too small for the PFNs (its Size, or, when it came from the pool, its pool
 * block)". A Target from IoAllocateMdl over a buffer of more than 8185 pages has room for every
 * sub-range of that buffer (its block holds the whole span), yet its Size is the 16-bit
 * truncation: for a sub-range of 8185 pages or fewer mdl_has_room reads Size alone and refuses.
 * This is the common WDK pattern (the target allocated for the whole buffer, then partials of
 * pieces of it). Generated: buffers of want_class pages over pool memory, sub-ranges at random
 * offsets and lengths. Failed before the fix: "no bug check, the Target describes the sub-range" for the
 * sub-ranges of 8185 pages or fewer (0x1A 0x4D440004, P3 the pages needed).
 */
static void test_large_mdl_partial_target_of_large_buffer(void)
{
	unsigned cases = 0, wrong = 0, small = 0;
	for (size_t a = 0; a < ARRAY_SIZE(want_class); a++) {
		uint64_t pages = want_class[a];
		if (pages <= 8185)
			continue;
		uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, pages * PAGE_SIZE, TAG_X);
		PMDL src = buf ? IoAllocateMdl(buf, (ULONG)(pages * PAGE_SIZE), FALSE, FALSE, NULL) : NULL;
		PMDL dst = buf ? IoAllocateMdl(buf, (ULONG)(pages * PAGE_SIZE), FALSE, FALSE, NULL) : NULL;
		if (!src || !dst) {
			printf("#   %llu pages: no buffer or MDL\n", (unsigned long long)pages);
			wrong++;
			goto next;
		}
		bc_new();
		MmBuildMdlForNonPagedPool(src);
		if (bc_new()) {
			bc_print("MmBuildMdlForNonPagedPool of the source");
			wrong++;
			goto next;
		}
		for (unsigned it = 0; it < 12; it++) {
			uint64_t off = draw(pages * PAGE_SIZE - 1);
			uint64_t room = pages * PAGE_SIZE - off;
			uint64_t len = 1 + (it & 1 ? draw(MIN(room, 8000 * PAGE_SIZE)) : draw(room));
			uint64_t span = ADDRESS_AND_SIZE_TO_SPAN_PAGES(buf + off, len);
			small += span <= 8185;
			cases++;
			IoBuildPartialMdl(src, dst, buf + off, (ULONG)len);
			uint64_t n = bc_new();
			bool good = n == 0 && (dst->MdlFlags & MDL_PARTIAL) && dst->ByteCount == len &&
				    MmGetMdlVirtualAddress(dst) == buf + off &&
				    MmGetMdlPfnArray(dst)[span - 1] == MmGetMdlPfnArray(src)[(off + (uint64_t)BYTE_OFFSET(buf) + len - 1) / PAGE_SIZE] &&
				    mdl_validate(dst, 0, NULL) == MDL_VALID;
			if (!good && wrong++ < 4) {
				printf("#   buffer of %llu pages, partial at +0x%llx of 0x%llx bytes (%llu pages):\n",
				       (unsigned long long)pages, (unsigned long long)off, (unsigned long long)len,
				       (unsigned long long)span);
				if (n)
					bc_print("IoBuildPartialMdl");
			}
		}
	next:
		if (dst)
			IoFreeMdl(dst);
		if (src)
			IoFreeMdl(src);
		if (buf)
			ExFreePool(buf);
		bc_new();
	}
	ok(wrong == 0, "D1d: %u partials (%u of 8185 pages or fewer) of pool buffers of 8186 .. 20000 pages into a Target "
	   "IoAllocateMdl made for the whole buffer: built, no bug check (%u otherwise)", cases, small, wrong);
}

/* ---------------------------------------------------------------- the reserved-mapping rows, combined */

/*
 * An independent reading of docs/contract.md section 3's map, unmap and free tables, driven with
 * every argument wrong or right at once: the address (each page of the reservation with a byte
 * offset, the page after it, free region space, outside the region, NULL), the tag (the owner's,
 * another, 0), the MDL (valid locked, valid partial, NULL, not locked, already mapped, pool, a
 * partial already mapped, ByteCount 0 with and without a ByteOffset, ByteOffset 4096, StartVa
 * unaligned, Size short, a frame beyond the width, a foreign flag), the cache type (each, 6, -1,
 * large), the span (1 page to 2 pages past the end), over reservations of 1 .. 1100 pages (2 MiB
 * aligned ones with aligned frame runs, so 2 MiB leaves mix with 4 KiB PTEs) holding 0 to 3 earlier
 * mappings. After each call: the outcome (return value, or the bug check and its four
 * parameters), every field of the MDL, each page's presence and frame, the reservation's mapped
 * count, and that a map or unmap asked the physical allocator for nothing.
 */
#define CB_MAXP 1100u
#define CB_SPAN_MAX (CB_MAXP + 2)

enum cb_cls { CB_LOCKED, CB_PARTIAL, CB_NULL, CB_UNLOCKED, CB_MAPPED, CB_POOL, CB_PARTIAL_MAPPED, CB_ZERO_BYTES,
	      CB_BAD_OFFSET, CB_BAD_START, CB_BAD_SIZE, CB_BAD_FRAME, CB_FOREIGN, CB_CLASSES };

struct cb_model {
	uint64_t P;
	char *R;
	uint32_t tag;
	uint8_t mapped[CB_MAXP], start[CB_MAXP];
	PFN_NUMBER frame[CB_MAXP];
};

static struct cb_model cm;
static struct { MDL m; PFN_NUMBER pfn[CB_SPAN_MAX + 2]; } cb_mdl, cb_before;

static uint64_t cb_mapped_count(void)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < cm.P; i++)
		n += cm.mapped[i];
	return n;
}

/* Frames for a span of s pages: one run from a 512-aligned RAM frame (so whole aligned spans can
 * take 2 MiB leaves), or scattered RAM frames. */
static void cb_frames(PFN_NUMBER *pfn, uint64_t s, bool run)
{
	if (run || draw(2)) {
		PFN_NUMBER first = 512 * (1 + draw(30));
		for (uint64_t k = 0; k < s; k++)
			pfn[k] = first + k;
	} else {
		for (uint64_t k = 0; k < s; k++)
			pfn[k] = 0x100 + draw(0x9000);
	}
}

/* An MDL of span s (>= 1) at a byte offset, locked, StartVa page aligned and outside the region. */
static void cb_valid_mdl(PMDL m, uint64_t s, bool run)
{
	ULONG off = draw(3) ? 0 : (ULONG)draw(PAGE_SIZE);
	uint64_t lo = (s - 1) * PAGE_SIZE - off + 1, hi = s * PAGE_SIZE - off;   /* ByteCounts of span s */
	if (s == 1)
		lo = 1;
	MmInitializeMdl(m, (char *)(0x40000000ULL + draw(64) * PAGE_SIZE) + off, lo + draw(hi - lo + 1));
	m->MdlFlags = MDL_PAGES_LOCKED;
	cb_frames(MmGetMdlPfnArray(m), s, run);
}

/* Builds cb_mdl in class c with span s; returns the MDL to pass (NULL for CB_NULL). */
static PMDL cb_make(enum cb_cls c, uint64_t s)
{
	PMDL m = &cb_mdl.m;
	cb_valid_mdl(m, s, false);
	switch (c) {
	case CB_PARTIAL: m->MdlFlags = MDL_PARTIAL; break;
	case CB_NULL: return NULL;
	case CB_UNLOCKED: m->MdlFlags = 0; break;
	case CB_MAPPED: m->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA; m->MappedSystemVa = (PVOID)(SYSPTE_BASE + draw(4096) * PAGE_SIZE); break;
	case CB_POOL: m->MdlFlags = MDL_SOURCE_IS_NONPAGED_POOL; m->MappedSystemVa = MmGetMdlVirtualAddress(m); break;
	case CB_PARTIAL_MAPPED:
		m->MdlFlags = MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED;
		m->MappedSystemVa = (PVOID)(SYSPTE_BASE + draw(4096) * PAGE_SIZE);
		break;
	case CB_ZERO_BYTES: m->ByteCount = 0; break;
	case CB_BAD_OFFSET: m->ByteOffset = PAGE_SIZE + (ULONG)draw(3 * PAGE_SIZE); break;
	case CB_BAD_START: m->StartVa = (char *)m->StartVa + 1 + draw(PAGE_SIZE - 1); break;
	case CB_BAD_SIZE: m->Size = (CSHORT)(sizeof(MDL) + 8 * mdl_span_pages(m) - 8 * (1 + draw(2))); break;
	case CB_BAD_FRAME: MmGetMdlPfnArray(m)[draw(s)] = (1ULL << (arch_phys_addr_bits() - PAGE_SHIFT)) + draw(1000); break;
	case CB_FOREIGN: m->MdlFlags |= (CSHORT)(draw(2) ? MDL_FREE_EXTRA_PTES : MDL_INTERNAL); break;
	default: break;
	}
	return m;
}

/* The validator's rule each class breaks (0: none), for the unmap's 0x1A. */
static int cb_rule(enum cb_cls c)
{
	switch (c) {
	case CB_BAD_OFFSET: return 1;
	case CB_BAD_START: return 2;
	case CB_BAD_SIZE: return 5;
	case CB_FOREIGN: return 6;
	default: return 0;
	}
}

/* Lays a mapping of s pages at page k of the reservation (valid, must succeed). */
static bool cb_lay(uint64_t k, uint64_t s)
{
	struct { MDL m; PFN_NUMBER pfn[CB_SPAN_MAX]; } t;
	cb_valid_mdl(&t.m, s, k % 512 == 0);
	char *want = cm.R + k * PAGE_SIZE + t.m.ByteOffset;
	if (MmMapLockedPagesWithReservedMapping(cm.R + k * PAGE_SIZE, cm.tag, &t.m, MmCached) != want)
		return false;
	for (uint64_t i = 0; i < s; i++) {
		cm.mapped[k + i] = 1;
		cm.start[k + i] = i == 0;
		cm.frame[k + i] = t.pfn[i];
	}
	return true;
}

/* First page of the mapping holding mapped page i. */
static uint64_t cb_map_start(uint64_t i)
{
	while (!cm.start[i])
		i--;
	return i;
}

struct cb_want {
	bool bc;
	uint32_t code;
	uint64_t p[4];
	bool check_p3;     /* P3 predictable (not a return address) */
	bool change;       /* the call succeeds and changes state */
	void *ret;         /* map: the address returned */
};

static const char *cb_cls_name[CB_CLASSES] = { "locked", "partial", "NULL", "unlocked", "mapped", "pool", "partial mapped",
	"ByteCount 0", "ByteOffset 4096+", "StartVa unaligned", "Size short", "frame beyond width", "foreign flag" };

/* Compares the bug checks and the state after a call with w; prints the first few differences. */
static bool cb_judge(const char *op, const struct cb_want *w, uint64_t nbc, const void *ret, bool ret_checked,
		     unsigned *shown)
{
	bool good = true;
	if (w->bc) {
		good = nbc == 1 && bugcheck_last.code == w->code && bugcheck_last.p[0] == w->p[0] &&
		       bugcheck_last.p[1] == w->p[1] && (!w->check_p3 || bugcheck_last.p[2] == w->p[2]) &&
		       bugcheck_last.p[3] == w->p[3];
	} else
		good = nbc == 0;
	if (ret_checked && ret != w->ret)
		good = false;
	if (!good && (*shown)++ < 8) {
		printf("#   %s: want %s 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx) ret %p; got %llu bug checks, last 0x%x "
		       "(0x%llx, 0x%llx, 0x%llx, 0x%llx) ret %p\n", op, w->bc ? "bug check" : "none", w->code,
		       (unsigned long long)w->p[0], (unsigned long long)w->p[1], (unsigned long long)w->p[2],
		       (unsigned long long)w->p[3], w->ret, (unsigned long long)nbc, bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3], ret);
	}
	return good;
}

/* Every page of the reservation present exactly as the model says, with its frame. */
static bool cb_pages_agree(void)
{
	struct syspte_info info;
	if (!syspte_lookup(reserved_region(), (vaddr_t)cm.R, &info) || info.mapped != cb_mapped_count())
		return false;
	for (uint64_t i = 0; i < cm.P; i++) {
		paddr_t pa;
		bool present = pt_query(host_machine_pt(), (vaddr_t)cm.R + i * PAGE_SIZE, &pa, NULL, NULL);
		if (present != (bool)cm.mapped[i] || (present && pa_to_pfn(pa) != cm.frame[i]))
			return false;
	}
	return true;
}

static void test_reserved_rows_combined(const char *mode)
{
	static const uint64_t p_class[] = { 1, 2, 3, 7, 16, 17, 64, 511, 512, 513, 1024, 1100 };
	unsigned cases[3] = { 0 }, wrong = 0, shown = 0, leaves_seen = 0;
	uint64_t seen_code[3][16] = { { 0 } };
	for (unsigned it = 0; it < 6000; it++) {
		memset(&cm, 0, sizeof(cm));
		cm.P = p_class[draw(ARRAY_SIZE(p_class))];
		if (cm.P > 64 && draw(2))
			cm.P -= draw(60);
		cm.tag = TAG_R + (uint32_t)draw(4);
		cm.R = MmAllocateMappingAddressEx(cm.P * PAGE_SIZE - draw(PAGE_SIZE), cm.tag,
						  cm.P >= 512 || draw(2) ? MM_MAPPING_ADDRESS_DIVISIBLE : 0);
		if (!cm.R) {
			wrong++;
			printf("#   reserve %llu pages: NULL\n", (unsigned long long)cm.P);
			continue;
		}
		/* 0 to 3 earlier mappings */
		for (unsigned e = (unsigned)draw(4); e > 0; e--) {
			uint64_t k = draw(cm.P), s = 1 + draw(MIN(cm.P - k, 600));
			if (cm.P >= 1024 && draw(2))   /* a whole aligned span (R is 2 MiB aligned: DIVISIBLE) */
				k = 512 * draw(cm.P / 512 - 1), s = 512 + draw(cm.P - k - 511);
			bool clear = true;
			for (uint64_t i = k; i < k + s; i++)
				clear &= !cm.mapped[i];
			if (clear && !cb_lay(k, s)) {
				wrong++;
				printf("#   laying a mapping of %llu pages at page %llu of %llu: refused\n", (unsigned long long)s,
				       (unsigned long long)k, (unsigned long long)cm.P);
			}
		}
		struct syspte_stats st;
		syspte_get_stats(reserved_region(), &st);
		leaves_seen += st.large_leaves != 0;
		/* the call */
		unsigned op = (unsigned)draw(3);   /* 0 map, 1 unmap, 2 free */
		enum cb_cls c = (enum cb_cls)draw(CB_CLASSES);
		uint64_t k = draw(cm.P), s = 1 + draw(draw(4) ? cm.P - k + 2 : 3);
		unsigned aclass = draw(8) ? 0 : 1 + (unsigned)draw(4);
		if (op == 1 && draw(2) && cm.mapped[k]) {   /* an unmap aimed at a whole mapping now and then */
			k = cb_map_start(k);
			uint64_t e = k + 1;
			while (e < cm.P && cm.mapped[e] && !cm.start[e])
				e++;
			s = e - k + (draw(3) ? 0 : draw(3));
		}
		char *addr;
		switch (aclass) {
		case 0: addr = cm.R + k * PAGE_SIZE + (draw(2) ? 0 : draw(PAGE_SIZE)); break;
		case 1: addr = cm.R + cm.P * PAGE_SIZE + draw(PAGE_SIZE); break;                   /* the page after */
		case 2:   /* free region space */
			do
				addr = (char *)(SYSPTE_BASE + draw(REGION_BYTES / PAGE_SIZE) * PAGE_SIZE + draw(PAGE_SIZE));
			while (syspte_lookup(reserved_region(), (vaddr_t)addr, NULL));
			break;
		case 3: addr = (char *)(uintptr_t)(draw(2) ? 0 : SYSPTE_BASE - PAGE_SIZE); break;      /* outside */
		default: addr = (char *)(SYSPTE_BASE + REGION_BYTES + draw(1 << 20)); break;          /* past the region */
		}
		if (op == 2 && aclass == 0 && draw(2))
			addr = cm.R + draw(PAGE_SIZE);
		bool in = (vaddr_t)addr >= (vaddr_t)cm.R && (vaddr_t)addr - (vaddr_t)cm.R < cm.P * PAGE_SIZE;
		uint64_t page = ((vaddr_t)addr & ~PAGE_MASK) == (vaddr_t)cm.R + k * PAGE_SIZE ? k : 0;
		unsigned tcl = (unsigned)draw(4);
		uint32_t tag = tcl == 0 ? 0 : tcl == 1 ? cm.tag ^ 0x01000000 : cm.tag;
		MEMORY_CACHING_TYPE cache = (MEMORY_CACHING_TYPE)draw(MmMaximumCacheType);
		if (!draw(8))
			cache = (MEMORY_CACHING_TYPE)(draw(2) ? (int)MmMaximumCacheType : draw(2) ? -1 : 0x7fffffff);
		bool cache_ok = (unsigned)cache < MmMaximumCacheType;
		PMDL m = cb_make(c, s);
		uint64_t span = m ? mdl_span_pages(m) : 0;
		memcpy(&cb_before, &cb_mdl, sizeof(cb_mdl));
		struct cb_want w = { .check_p3 = true };
		bool known_rule = cb_rule(c) != 0;
		/* ------------------------------------------------ prediction */
		if (op == 0) {
			uint64_t fit = cm.P - page;
			bool null_row = c != CB_LOCKED && c != CB_PARTIAL;   /* every other class is a NULL row (3 .. 9) */
			if (!in)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_MAP_NO_RESERVATION, (uint64_t)addr, tag, 0 }, true, false, NULL };
			else if (tag != cm.tag)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_MAP_WRONG_TAG, (uint64_t)addr, tag, cm.tag }, true, false, NULL };
			else if (null_row || !cache_ok || span > fit)
				w.ret = NULL;
			else {
				uint64_t j = page;
				while (j < page + span && !cm.mapped[j])
					j++;
				if (j < page + span)
					w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED, (uint64_t)addr,
						(uint64_t)cm.R + j * PAGE_SIZE, (uint64_t)cm.R + (page + span) * PAGE_SIZE - 1 }, true, false, NULL };
				else
					w = (struct cb_want){ false, 0, { 0 }, true, true, cm.R + page * PAGE_SIZE + m->ByteOffset };
			}
		} else if (op == 1) {
			if (c == CB_NULL)
				w = (struct cb_want){ true, BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, { 0, PF_NONPAGED_READ, 0, 0 }, false, false, NULL };
			else if (known_rule) {
				uint64_t p3, p4;
				int rule = ref_mdl_check(m, false, false, arch_phys_addr_bits(), 0, &p3, &p4);
				w = (struct cb_want){ true, BUGCHECK_MEMORY_MANAGEMENT, { REF_MDL_SUBCODE(rule), (uint64_t)m, p3, p4 }, true, false, NULL };
				if (rule != cb_rule(c))
					printf("#   class %s breaks rule %d by the reference\n", cb_cls_name[c], rule);
			}
			else if (!in)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, (uint64_t)addr, tag, 0 }, true, false, NULL };
			else if (tag != cm.tag)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_WRONG_TAG, (uint64_t)addr, tag, cm.tag }, true, false, NULL };
			else if (span == 0)
				w.change = false;
			else if (!cm.mapped[page])
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_NOT_MAPPED, (uint64_t)addr, tag, 0 }, true, false, NULL };
			else if (span > cm.P - page)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_PAST_END, (uint64_t)addr, cm.P - page, span }, true, false, NULL };
			else {
				uint64_t j = page + 1;
				while (j < page + span && cm.mapped[j])
					j++;
				if (j < page + span)
					w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_HOLE, (uint64_t)cm.R + j * PAGE_SIZE, 0, 0 }, true, false, NULL };
				else if (!cm.start[page])
					w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, (uint64_t)addr,
						(uint64_t)cm.R + cb_map_start(page) * PAGE_SIZE, span }, true, false, NULL };
				else if (page + span < cm.P && cm.mapped[page + span] && !cm.start[page + span])
					w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING, (uint64_t)addr,
						(uint64_t)cm.R + cb_map_start(page + span - 1) * PAGE_SIZE, span }, true, false, NULL };
				else
					w.change = true;
			}
		} else {
			bool at_start = aclass == 0 && ((vaddr_t)addr & ~PAGE_MASK) == (vaddr_t)cm.R;
			uint64_t first = 0;
			while (first < cm.P && !cm.mapped[first])
				first++;
			if (!at_start)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_FREE_NOT_START, (uint64_t)addr, tag, 0 }, true, false, NULL };
			else if (tag != cm.tag)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_FREE_WRONG_TAG, (uint64_t)addr, tag, cm.tag }, true, false, NULL };
			else if (first < cm.P)
				w = (struct cb_want){ true, BUGCHECK_SYSTEM_PTE_MISUSE, { SYSPTE_BUGCHECK_FREE_STILL_MAPPED, (uint64_t)cm.R + first * PAGE_SIZE,
					tag, cb_mapped_count() }, true, false, NULL };
			else
				w.change = true;
		}
		/* ------------------------------------------------ the call */
		uint64_t calls0 = phys_alloc_calls;
		struct pool_stats ps0, ps1;
		pool_get_stats(&ps0);
		bc_new();
		void *ret = NULL;
		if (op == 0)
			ret = MmMapLockedPagesWithReservedMapping(addr, tag, m, cache);
		else if (op == 1)
			MmUnmapReservedMapping(addr, tag, m);
		else
			MmFreeMappingAddress(addr, tag);
		uint64_t nbc = bc_new();
		cases[op]++;
		if (w.bc)
			seen_code[op][(bugcheck_last.p[0] & 0xF)]++;
		char what[160];
		snprintf(what, sizeof(what), "%s at page %llu (+0x%llx, class %u) of %llu, tag %u, MDL %s span %llu, cache %d",
			 op == 0 ? "map" : op == 1 ? "unmap" : "free", (unsigned long long)page,
			 (unsigned long long)((vaddr_t)addr & PAGE_MASK), aclass, (unsigned long long)cm.P, tcl,
			 cb_cls_name[c], (unsigned long long)span, (int)cache);
		bool good = cb_judge(what, &w, nbc, ret, op == 0, &shown);
		/* the model follows a success; the MDL's fields are the contract's */
		struct { MDL m; PFN_NUMBER pfn[CB_SPAN_MAX + 2]; } want_mdl;
		memcpy(&want_mdl, &cb_before, sizeof(cb_before));
		if (w.change && op == 0) {
			for (uint64_t i = 0; i < span; i++) {
				cm.mapped[page + i] = 1;
				cm.start[page + i] = i == 0;
				cm.frame[page + i] = MmGetMdlPfnArray(&want_mdl.m)[i];
			}
			want_mdl.m.MappedSystemVa = cm.R + page * PAGE_SIZE;
			want_mdl.m.MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
			if (want_mdl.m.MdlFlags & MDL_PARTIAL)
				want_mdl.m.MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED;
		} else if (w.change && op == 1) {
			for (uint64_t i = 0; i < span; i++)
				cm.mapped[page + i] = cm.start[page + i] = 0;
			want_mdl.m.MdlFlags &= (CSHORT)~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
			vaddr_t sys = (vaddr_t)want_mdl.m.MappedSystemVa, b = (vaddr_t)cm.R + page * PAGE_SIZE;
			if (!(want_mdl.m.MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) || (sys >= b && sys - b < span * PAGE_SIZE))
				want_mdl.m.MappedSystemVa = NULL;
		}
		bool mdl_same = memcmp(&want_mdl, &cb_mdl, sizeof(cb_mdl)) == 0;
		bool freed = w.change && op == 2;
		bool pages = freed ? !syspte_lookup(reserved_region(), (vaddr_t)cm.R, NULL) : cb_pages_agree();
		pool_get_stats(&ps1);
		bool no_alloc = op == 2 || (phys_alloc_calls == calls0 && ps1.allocs == ps0.allocs && ps1.failures == ps0.failures);
		if (!(mdl_same && pages && no_alloc) && shown++ < 8)
			printf("#   %s: MDL as the contract says %d, pages and count as the model %d, no allocation %d\n", what,
			       mdl_same, pages, no_alloc);
		good = good && mdl_same && pages && no_alloc;
		wrong += !good;
		/* tear down */
		if (!freed) {
			for (uint64_t i = 0; i < cm.P; i++) {
				if (!cm.start[i])
					continue;
				uint64_t e = i + 1;
				while (e < cm.P && cm.mapped[e] && !cm.start[e])
					e++;
				struct { MDL m; PFN_NUMBER pfn[CB_SPAN_MAX]; } t;
				MmInitializeMdl(&t.m, NULL, (e - i) * PAGE_SIZE);
				MmUnmapReservedMapping(cm.R + i * PAGE_SIZE, cm.tag, &t.m);
			}
			MmFreeMappingAddress(cm.R, cm.tag);
		}
		if (bc_new() && wrong++ < 1000 && shown++ < 8)
			bc_print("tear-down");
		if (wrong > 20)
			break;
	}
	syspte_get_stats(reserved_region(), &(struct syspte_stats){ 0 });
	ok(wrong == 0, "%s: reserved-mapping rows combined: %u maps, %u unmaps, %u frees with the address, tag, MDL (13 classes), "
	   "cache type and span wrong or right at once, 2 MiB leaves in %u of the states: outcome, parameters, MDL fields, "
	   "pages and counts as contract section 3 says, no allocation by a map or an unmap (physical or pool) (%u otherwise)",
	   mode, cases[0], cases[1], cases[2], leaves_seen, wrong);
	bool every = seen_code[0][SYSPTE_BUGCHECK_MAP_NO_RESERVATION & 0xF] && seen_code[0][SYSPTE_BUGCHECK_MAP_WRONG_TAG & 0xF] &&
		     seen_code[0][SYSPTE_BUGCHECK_MAP_ALREADY_MAPPED & 0xF] && seen_code[1][SYSPTE_BUGCHECK_UNMAP_PAST_END & 0xF] &&
		     seen_code[1][SYSPTE_BUGCHECK_UNMAP_HOLE & 0xF] && seen_code[1][SYSPTE_BUGCHECK_UNMAP_CUTS_MAPPING & 0xF] &&
		     seen_code[1][SYSPTE_BUGCHECK_UNMAP_WRONG_TAG & 0xF] && seen_code[2][SYSPTE_BUGCHECK_FREE_STILL_MAPPED & 0xF] &&
		     seen_code[2][SYSPTE_BUGCHECK_FREE_WRONG_TAG & 0xF] && seen_code[2][SYSPTE_BUGCHECK_FREE_NOT_START & 0xF];
	ok(every && leaves_seen > 0, "%s: every 0xDA row of the three tables was reached, and states with 2 MiB leaves", mode);
}

/* ---------------------------------------------------------------- the toolkit's system addresses */

/* Live reservations of a tag (0 when it has none). */
static uint64_t resv_of_tag(uint32_t tag)
{
	struct syspte_tag_total t[64];
	size_t n = syspte_tag_totals(reserved_region(), t, 64);
	for (size_t i = 0; i < n && i < 64; i++)
		if (t[i].tag == tag)
			return t[i].count;
	return 0;
}

/* True when the n pages from va map the frames pfn[0 ..) in order. */
static bool maps_frames(const void *va, const PFN_NUMBER *pfn, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		paddr_t pa;
		if (!pt_query(host_machine_pt(), (vaddr_t)PAGE_ALIGN(va) + i * PAGE_SIZE, &pa, NULL, NULL) ||
		    pa_to_pfn(pa) != pfn[i])
			return false;
	}
	return true;
}

/*
 * docs/contract.md section 5, "System addresses for MDLs" and IoBuildPartialMdl, combined:
 * MmGetSystemAddressForMdlSafe of an MDL from MmAllocatePagesForMdlEx (1 .. 1100 pages, with
 * FAST_LARGE_PAGES now and then, so 2 MiB leaves appear) maps it under 'MdlM' with every page on its
 * frame and the MDL's flags and MappedSystemVa as the contract says; a second call gives the same
 * address; of a pool MDL (IoAllocateMdl + MmBuildMdlForNonPagedPool) it is the data address and
 * reserves nothing. A partial of either (a random sub-range into a Target from IoAllocateMdl) is
 * PARENT_MAPPED at its page of the source's mapping (the pool source: the data address), and
 * MmGetSystemAddressForMdlSafe of it returns that address; MmMapLockedPagesSpecifyCache of the
 * partial maps it anew on its frames. Tear-down in a random order (MmUnmapLockedPages, IoFreeMdl
 * unmapping the Target's own mapping) leaves no 'MdlM' reservation, no bug check, and the pages and
 * pool as before.
 */
static void test_system_addresses_combined(void)
{
	unsigned cases = 0, wrong = 0, leaves = 0;
	uint64_t mdlm0 = resv_of_tag(MDL_TAG_MAP);
	for (unsigned it = 0; it < 300; it++) {
		bool pool = draw(3) == 0;
		uint64_t pages = draw(4) ? 1 + draw(40) : 1 + draw(1100);
		uint8_t *buf = NULL;
		PMDL src;
		bc_new();
		if (pool) {
			buf = ExAllocatePoolWithTag(NonPagedPool, (pages + 1) * PAGE_SIZE, TAG_X);
			uint64_t off = draw(PAGE_SIZE);
			src = IoAllocateMdl(buf + off, (ULONG)(pages * PAGE_SIZE - off), FALSE, FALSE, NULL);
			MmBuildMdlForNonPagedPool(src);
		} else {
			ULONG fl = (ULONG)(MM_DONT_ZERO_ALLOCATION | (draw(2) ? MM_ALLOCATE_FAST_LARGE_PAGES : 0));
			src = MmAllocatePagesForMdlEx(pa_of(0), pa_of(-1), pa_of(0), pages * PAGE_SIZE, MmCached, fl);
		}
		if (!src || bc_new()) {
			wrong++;
			printf("#   no source MDL of %llu pages (pool %d)\n", (unsigned long long)pages, pool);
			continue;
		}
		cases++;
		uint64_t span = mdl_span_pages(src), r0 = resv_of_tag(MDL_TAG_MAP);
		struct syspte_stats st;
		char *sys = MmGetSystemAddressForMdlSafe(src, NormalPagePriority);
		char *sys2 = MmGetSystemAddressForMdlSafe(src, HighPagePriority);
		syspte_get_stats(reserved_region(), &st);
		leaves += st.large_leaves != 0;
		bool good = sys && sys2 == sys;
		if (pool)
			good = good && sys == MmGetMdlVirtualAddress(src) && resv_of_tag(MDL_TAG_MAP) == r0 &&
			       src->MdlFlags == MDL_SOURCE_IS_NONPAGED_POOL;
		else
			good = good && resv_of_tag(MDL_TAG_MAP) == r0 + 1 && maps_frames(sys, MmGetMdlPfnArray(src), span) &&
			       src->MdlFlags == (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA) &&
			       (char *)src->MappedSystemVa == sys - src->ByteOffset && IS_ALIGNED((vaddr_t)src->MappedSystemVa, PAGE_SIZE);
		/* a partial of it */
		char *data = MmGetMdlVirtualAddress(src);
		uint64_t off = draw(src->ByteCount), len = draw(3) ? 1 + draw(src->ByteCount - off) : 0;
		uint64_t blen = len ? len : src->ByteCount - off;
		PMDL tgt = IoAllocateMdl(data + off, (ULONG)blen, FALSE, FALSE, NULL);
		IoBuildPartialMdl(src, tgt, data + off, (ULONG)len);
		uint64_t first = ((vaddr_t)PAGE_ALIGN(data + off) - (vaddr_t)src->StartVa) / PAGE_SIZE;
		char *want_sys = pool ? data + off : (char *)src->MappedSystemVa + first * PAGE_SIZE + BYTE_OFFSET(data + off);
		uint16_t want_flags = (uint16_t)(MDL_PARTIAL | (pool ? MDL_SOURCE_IS_NONPAGED_POOL : MDL_PARENT_MAPPED_SYSTEM_VA));
		good = good && bc_new() == 0 && (uint16_t)tgt->MdlFlags == want_flags && tgt->ByteCount == blen &&
		       MmGetSystemAddressForMdlSafe(tgt, LowPagePriority) == want_sys;
		/* the partial mapped for itself (not for a pool partial: that one is its data address) */
		char *own = NULL;
		if (!pool && draw(2)) {
			own = MmMapLockedPagesSpecifyCache(tgt, KernelMode, (MEMORY_CACHING_TYPE)draw(MmMaximumCacheType), NULL, FALSE,
							  NormalPagePriority);
			good = good && own && own != want_sys && maps_frames(own, MmGetMdlPfnArray(tgt), mdl_span_pages(tgt)) &&
			       (tgt->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED)) ==
				       (MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED) &&
			       resv_of_tag(MDL_TAG_MAP) == r0 + 2;
		}
		/* tear down, in a random order */
		if (own && draw(2))
			MmUnmapLockedPages(own, tgt);
		if (draw(2)) {
			IoFreeMdl(tgt);
			tgt = NULL;
		}
		if (!pool)
			MmUnmapLockedPages(sys, src);
		else if (draw(2))
			MmUnmapLockedPages(sys, src);   /* the pool MDL's no-op */
		if (tgt)
			IoFreeMdl(tgt);
		if (pool) {
			IoFreeMdl(src);
			ExFreePool(buf);
		} else {
			MmFreePagesFromMdl(src);
			ExFreePool(src);
		}
		uint64_t nbc = bc_new();
		if (nbc)
			bc_print("system addresses");
		good = good && nbc == 0 && resv_of_tag(MDL_TAG_MAP) == r0;
		if (!good && wrong++ < 5)
			printf("#   %s MDL of %llu pages, partial at +%llu of %llu bytes: sys %p (again %p), partial's %p (want %p), own %p\n",
			       pool ? "pool" : "page", (unsigned long long)pages, (unsigned long long)off, (unsigned long long)len,
			       sys, sys2, tgt ? tgt->MappedSystemVa : NULL, want_sys, own);
	}
	ok(wrong == 0 && leaves > 0 && resv_of_tag(MDL_TAG_MAP) == mdlm0,
	   "system addresses of %u page and pool MDLs and their partials (2 MiB leaves in %u), torn down in random orders: "
	   "as contract section 5 says, no 'MdlM' reservation left (%u otherwise)", cases, leaves, wrong);
}

/* ---------------------------------------------------------------- reserving: the arguments */

/*
 * docs/contract.md section 3, MmAllocateMappingAddress[Ex]: NULL, changing nothing, for 0 bytes,
 * tag 0, a flag other than DIVISIBLE, 4 GiB or more, or no free run; otherwise ceil(bytes / 4096)
 * pages owned by the tag, page aligned (with DIVISIBLE: a multiple of the size exactly), none
 * mapped, whose size MmFreeMappingAddress gives back. Generated over the byte classes 0, 1, page
 * edges, sizes that fit the 64 MiB region or not, 4 GiB - 1, 4 GiB, 2^63, 2^64 - 1; tags 0, one,
 * all bits; flags 0, DIVISIBLE, each other bit, all bits; MmAllocateMappingAddress as Ex(.., 0).
 */
static void test_reserve_arguments(void)
{
	static const uint64_t byte_class[] = { 0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 1, 17 * 4096 - 1, 511 * 4096 + 7,
					       2ULL << 20, (21ULL << 20) + 4096, (32ULL << 20) + 4096, (64ULL << 20) - 4096,
					       64ULL << 20, (64ULL << 20) + 1,
					       (1ULL << 32) - 1, 1ULL << 32, (1ULL << 32) + 4096, 1ULL << 63, UINT64_MAX };
	static const uint32_t tag_class[] = { 0, 1, TAG_R, 0xFFFFFFFFu };
	static const ULONG flag_class[] = { 0, MM_MAPPING_ADDRESS_DIVISIBLE, 2, 0x80000000u, 0xFFFFFFFFu, 3 };
	unsigned cases = 0, wrong = 0, made = 0;
	for (size_t b = 0; b < ARRAY_SIZE(byte_class); b++)
		for (size_t t = 0; t < ARRAY_SIZE(tag_class); t++)
			for (size_t f = 0; f <= ARRAY_SIZE(flag_class); f++) {
				uint64_t bytes = byte_class[b] + (byte_class[b] > 8192 && byte_class[b] < (1ULL << 31) ? draw(3) : 0);
				uint32_t tag = tag_class[t];
				bool plain = f == ARRAY_SIZE(flag_class);   /* MmAllocateMappingAddress */
				ULONG flags = plain ? 0 : flag_class[f];
				struct syspte_stats s0, s1;
				syspte_get_stats(reserved_region(), &s0);
				uint64_t pages = bytes / PAGE_SIZE + (bytes % PAGE_SIZE != 0);
				/* the region is empty here: a run exists when the pages fit, with DIVISIBLE when a multiple
				 * of the size lies at least the size before the region's end */
				uint64_t base_page = SYSPTE_BASE / PAGE_SIZE, first = pages ? (pages - base_page % pages) % pages : 0;
				bool no_run = pages > s0.free_pages ||
					      ((flags & MM_MAPPING_ADDRESS_DIVISIBLE) && first + pages > REGION_BYTES / PAGE_SIZE);
				bool refuse = bytes == 0 || tag == 0 || (flags & ~(ULONG)MM_MAPPING_ADDRESS_DIVISIBLE) ||
					      bytes >= (1ULL << 32) || no_run;
				bc_new();
				char *va = plain ? MmAllocateMappingAddress(bytes, tag) : MmAllocateMappingAddressEx(bytes, tag, flags);
				syspte_get_stats(reserved_region(), &s1);
				struct syspte_info info;
				bool good;
				cases++;
				if (refuse || !va) {
					good = va == NULL && refuse && s1.live == s0.live && s1.free_pages == s0.free_pages;
				} else {
					made++;
					good = IS_ALIGNED((vaddr_t)va, PAGE_SIZE) && syspte_lookup(reserved_region(), (vaddr_t)va, &info) &&
					       info.base == (vaddr_t)va && info.npages == pages && info.tag == tag && info.mapped == 0 &&
					       s1.live == s0.live + 1 && s1.pages_reserved == s0.pages_reserved + pages &&
					       (!(flags & MM_MAPPING_ADDRESS_DIVISIBLE) || (vaddr_t)va % (pages * PAGE_SIZE) == 0);
					for (uint64_t i = 0; good && i < pages; i += 1 + pages / 64)
						good = !pt_query(host_machine_pt(), (vaddr_t)va + i * PAGE_SIZE, NULL, NULL, NULL);
					MmFreeMappingAddress(va + draw(PAGE_SIZE), tag);
					syspte_get_stats(reserved_region(), &s1);
					good = good && s1.live == s0.live && s1.free_pages == s0.free_pages;
				}
				good = good && bc_new() == 0;
				if (!good && wrong++ < 6)
					printf("#   %s(0x%llx, 0x%x, 0x%x): %p, want %s\n", plain ? "MmAllocateMappingAddress" : "...Ex",
					       (unsigned long long)bytes, tag, flags, va, refuse ? "NULL" : "a reservation");
			}
	ok(wrong == 0 && made > 50, "%u reservations asked with byte counts, tags and flags of every class: NULL exactly when "
	   "the contract says, else the pages, tag, alignment and accounting it says (%u made, %u otherwise)", cases, made, wrong);
}

int main(void)
{
	if (host_machine_create(RAM_BYTES, REGION_BYTES)) {
		printf("Bail out! machine\n");
		return 1;
	}
	bugcheck_set_hook(bugcheck_record_hook);
	test_large_mdl_partial_alloc_mdl_malformed();
	test_large_mdl_second_free_detected();
	test_large_mdl_growable_teardown_frees_mdl();
	test_large_mdl_partial_target_of_large_buffer();
	test_reserve_arguments();
	test_reserved_rows_combined("verifier off");
	test_system_addresses_combined();
	/* again in verifier mode: a guard page after each reservation (the page after it is no reservation's) */
	host_machine_destroy();
	mm_verifier_set(true);
	if (host_machine_create(RAM_BYTES, REGION_BYTES)) {
		printf("Bail out! machine\n");
		return 1;
	}
	test_reserved_rows_combined("verifier on");
	test_system_addresses_combined();
	return tap_done();
}
