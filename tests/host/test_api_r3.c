/*
 * Round-3 review of the public reserved-mapping API and the MDL toolkit (mm/reserved.c, mm/mdl.c)
 * against docs/contract.md and the shared spec, with generated cases. Each test's comment says
 * which statement it holds the code to; the tests named *_r3_fail_* in the report fail on the code
 * reviewed (the defect and the failing assertion are described above each).
 *
 *  D1 An MDL whose Size field holds the WDK's 16-bit truncation (a span over 8185 pages, valid
 *     because its pool block decides) becomes malformed as soon as its span shrinks to 8185 pages
 *     or less: mdl_room_ok then reads Size alone. The API shrinks spans itself:
 *     - MmAllocatePagesForMdlEx returning fewer pages than asked (contract section 5 allows it)
 *       hands out an MDL its own MmFreePagesFromMdl refuses with 0x1A 0x4D440105 (pages stuck);
 *     - MmFreePagesFromMdl sets ByteCount 0: for 8186..8191 pages (Size 0..0x28 < 0x30) the second
 *       call is 0x4D440105, not the 0x4D440002 contract section 6 promises, and IoFreeMdl of the
 *       growable region's tear-down MDL (section 7) is 0x1A 0x4D440105 with the MDL not freed.
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
 * Fails: "the MDL is valid" (mdl_validate gives MDL_INVALID_SIZE) and "MmFreePagesFromMdl raises
 * nothing and frees the pages" (0x1A 0x4D440105, nothing freed).
 */
static void test_r3_fail_partial_alloc_mdl_malformed(void)
{
	unsigned cases = 0, invalid = 0, refused = 0;
	for (size_t a = 0; a < ARRAY_SIZE(want_class); a++)
		for (unsigned it = 0; it < 4; it++) {
			uint64_t want = want_class[a];
			uint64_t w = 1 + draw(it & 1 ? 8185 : 400);
			if (w >= want)
				w = want - 1;
			uint64_t lo = RAM_BASE + (100ULL << 20) + draw(512) * PAGE_SIZE;
			PMDL m = MmAllocatePagesForMdlEx(pa_of(lo), pa_of(lo + w * PAGE_SIZE - 1), pa_of(0), want * PAGE_SIZE,
							 MmCached, (ULONG)(draw(2) ? MM_DONT_ZERO_ALLOCATION : 0));
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
	ok(invalid == 0, "D1a: %u MDLs MmAllocatePagesForMdlEx returned with fewer pages than asked (asked 8185 .. 20000): "
	   "each is a valid MDL (%u malformed)", cases, invalid);
	ok(refused == 0, "D1a: MmFreePagesFromMdl of each frees its pages with no bug check (%u refused)", refused);
}

/*
 * D1b. docs/contract.md section 6: "MmFreePagesFromMdl empties the MDL (ByteCount 0, flags
 * cleared) | A second call on the same MDL is then detected (0x1A, P1 0x4D440002)"; section 5's
 * table: the MDL "already freed" is 0x4D440002 (P2 MDL, P3 MdlFlags). For an MDL of 8186 .. 8191
 * pages its Size is 0 .. 0x28, below what even an empty MDL needs, so the emptied MDL is
 * malformed and the second call names the Size rule. Generated over want_class, full allocations.
 * Fails: "the second call is 0x1A 0x4D440002" for 8186 .. 8191 (P1 0x4D440105).
 */
static void test_r3_fail_second_free_detected(void)
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
 * committed page count and the commit steps. Fails: "the whole pattern raises no bug check and
 * leaves no 'Mdl ' pool bytes".
 */
static void test_r3_fail_growable_teardown_frees_mdl(void)
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
 * offsets and lengths. Fails: "no bug check, the Target describes the sub-range" for the
 * sub-ranges of 8185 pages or fewer (0x1A 0x4D440004, P3 the pages needed).
 */
static void test_r3_fail_partial_target_of_large_buffer(void)
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

int main(void)
{
	if (host_machine_create(RAM_BYTES, REGION_BYTES)) {
		printf("Bail out! machine\n");
		return 1;
	}
	bugcheck_set_hook(bugcheck_record_hook);
	test_r3_fail_partial_alloc_mdl_malformed();
	test_r3_fail_second_free_detected();
	test_r3_fail_growable_teardown_frees_mdl();
	test_r3_fail_partial_target_of_large_buffer();
	return tap_done();
}
