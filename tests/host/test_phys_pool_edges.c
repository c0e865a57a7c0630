/*
 * Edge cases of physical memory and the pool (mm/phys.c, mm/pool.c, MmAllocatePagesForMdlEx /
 * MmFreePagesFromMdl). Each test states the contract line it holds the code to. Each failed on the
 * code reviewed (bda32a2), for the reason below, and passes since the fix:
 *  - test_map_limit_with_except: a map of PHYS_MAX_RANGES (2048) descriptors, the framebuffer inside
 *    a usable range: 2049 ranges; phys_subtract panicked ("range overflow") or the copy wrote
 *    phys_managed[2048] (UBSan: index out of bounds). Run in a child.
 *  - test_check_moved_owner: phys_check_full passed when an owner field moves from an allocated
 *    frame to a free one of the same word (phys.h: "so none that is free").
 *  - test_pool_large_frames_reused: ExFreePool of a large block whose frames were freed behind the
 *    pool's back and then taken by an MDL freed the MDL's frames, no bug check.
 *  - test_pool_record_overrun: an overrun of the 64-byte block before a large block's record: the
 *    large block's free followed the overwritten hash link (a crash, in a child), or freed silently and
 *    left it as the bucket's head; never 0x19.
 *  - test_pool_bugcheck_outside_lock: that 0x1A was raised with the pool lock held (pool.h, design.md:
 *    bug checks are raised after the lock is dropped).
 *  - test_mdl_partial_size: a partial MDL of a request past 32 MiB kept a 16-bit Size computed for
 *    the pages asked, too small for its own: MmFreePagesFromMdl raised 0x1A 0x4D440105 and freed
 *    nothing, MmMapLockedPagesSpecifyCache returned NULL.
 * Passing generated coverage: MmAllocatePagesForMdlEx / MmFreePagesFromMdl against the contract
 * over bounds, Skip, sizes, flags and cache types (test_mdl_alloc_generated); the 2047-descriptor
 * control of test_map_limit_with_except.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "arch_mm.h"
#include "test_rng.h"
#include "capture.h"
#include "testhooks.h"
#include "bugcheck.h"
#include "pool_mirror.h"
#include "wdm.h"
#include "spinlock.h"

static struct machine_map map;
static uint64_t rng = 0x5EED0003ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* ---------------------------------------------------------------- the map's descriptor limit */

struct map_case {
	unsigned conv, loader;   /* descriptors of each class, 4 pages each, a page of hole between */
	bool split;              /* the framebuffer range splits one usable-now range */
};

/* Builds the case's map (usable-now ranges first, the loader's above) and runs phys_init_except on
 * it: exits 0 when phys_init returned 0 and its checks pass, MAP_REFUSED when it returned -1 (a
 * sanitizer's report exits 1, a panic aborts). */
#define MAP_REFUSED 7
static void map_case_run(void *arg)
{
	const struct map_case *c = arg;
	machine_map_init(&map, 48);
	uint64_t f = 0x100;
	for (unsigned k = 0; k < c->conv; k++, f += 5)
		machine_map_add(&map, EFI_CONVENTIONAL, f << 12, 4, 0);
	for (unsigned k = 0; k < c->loader; k++, f += 5)
		machine_map_add(&map, EFI_LOADER_DATA, f << 12, 4, 0);
	paddr_t fb = c->split ? (0x100 + 5 * (c->conv / 2) + 1) << 12 : 0;   /* a middle page of one range */
	capture_begin();
	int r = phys_init_except(map.buf, machine_map_size(&map), map.desc_size, fb, c->split ? PAGE_SIZE : 0);
	char out[2048];
	capture_end(out, sizeof out);
	if (r != 0)
		_exit(MAP_REFUSED);
	bool good = phys_check_full() == 0 && (!c->split || !phys_is_managed(fb));
	phys_release_loader();
	good = good && phys_check_full() == 0;
	phys_reset();
	_exit(good ? 0 : 2);
}

/*
 * phys.h: PHYS_MAX_RANGES (2048) descriptors are considered, "a longer map is a clear panic". A map
 * of exactly 2048 descriptors, none overlapping, with the framebuffer (phys_init_except) inside one
 * usable range, must initialise (or be refused with -1): generated over how the 2048 split between
 * the usable-now and the loader classes. Before the fix 2049 ranges came out (the framebuffer split
 * adds one): all usable-now, phys_subtract's KASSERT "range overflow" panicked; shared with the
 * loader, the copy into phys_managed[PHYS_MAX_RANGES] wrote one entry past its end.
 */
static void test_map_limit_with_except(void)
{
	unsigned aborted = 0, cases = 0, control_bad = 0;
	char err[8192];
	struct tap_child ch = { .quiet_out = true, .err = err, .err_size = sizeof err };   /* kprintf is not our TAP */
	for (unsigned loader = 0; loader <= 2040; loader += 255) {
		struct map_case c = { PHYS_MAX_RANGES - loader, loader, true };
		int st = tap_child_void(&ch, map_case_run, &c);
		cases++;
		if (!(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == MAP_REFUSED))) {   /* or refused */
			const char *why = strstr(err, "runtime error");
			if (!why)
				why = strstr(err, "ERROR: AddressSanitizer");
			if (!why)
				why = strstr(err, "PANIC");
			if (aborted++ < 2)
				printf("#   %u conventional + %u loader: status 0x%x: %.160s\n", c.conv, c.loader, st,
				       why ? why : err);
		}
		/* the control: one descriptor fewer, the same split */
		struct map_case d = { PHYS_MAX_RANGES - 1 - loader, loader, true };
		st = tap_child_void(&ch, map_case_run, &d);
		control_bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ok(control_bad == 0, "maps of 2047 descriptors with a framebuffer range splitting a usable range initialise (%u "
	   "of %u did not)", control_bad, cases);
	ok(aborted == 0, "maps of 2048 descriptors (the limit phys.h accepts) with a framebuffer range splitting a usable "
	   "range: phys_init returns, never aborts (%u of %u aborted)", aborted, cases);
}

/* ---------------------------------------------------------------- phys_check's owner census */

#define PER_WORD 32u

/*
 * phys.h: phys_check verifies "that the owner map holds as many frames of each owner as were
 * handed out for it (so none that is free)". Generated: a frame handed out for an owner (MDL, pool
 * slab, pool large) whose owner field a stray store moves to a free frame of the same owner word
 * (the word stays marked, the per-owner counts stay equal): phys_check_full must fail. Before the
 * fix the census compared counts only, so the free frame holding an owner (and the allocated one
 * that lost its own, which MmFreePagesFromMdl would then refuse) went unseen.
 */
static void test_check_moved_owner(void)
{
	machine_map_init(&map, 48);
	machine_map_add(&map, EFI_CONVENTIONAL, 1ULL << 20, 4096, 0);   /* 16 MiB */
	is(phys_init(map.buf, machine_map_size(&map), map.desc_size), 0, "moved owner: phys_init");
	unsigned cases = 0, missed = 0, restored_bad = 0;
	for (unsigned c = 0; c < 60; c++) {
		enum phys_owner o = (enum phys_owner)(PHYS_OWNER_MDL + c % 3);
		paddr_t pa = phys_alloc_owned(1, 1, (below(3000) + 300) << 12, UINT64_MAX, o);
		if (!pa)
			continue;
		uint64_t x = pa >> 12, y = UINT64_MAX;
		for (uint64_t k = 0; k < PER_WORD && y == UINT64_MAX; k++) {   /* a free frame of its word */
			uint64_t f = x / PER_WORD * PER_WORD + (k + c) % PER_WORD;
			if (f != x && phys_is_free(f << 12, 1))
				y = f;
		}
		if (y == UINT64_MAX || phys_check_full() != 0) {
			phys_free(pa, 1);
			continue;
		}
		cases++;
		uint64_t *w = phys_owner_word(x), keep = *w;
		unsigned fx = (unsigned)(x % PER_WORD * 2), fy = (unsigned)(y % PER_WORD * 2);
		*w = (keep & ~(3ULL << fx)) | (uint64_t)o << fy;   /* one store: the field moved */
		capture_begin();
		int r = phys_check_full();
		char out[1024];
		capture_end(out, sizeof out);
		if (r == 0 && missed++ == 0)
			printf("# owner %u moved from frame 0x%llx to free frame 0x%llx: phys_check_full passes; "
			       "phys_owner_of(frame 0x%llx) = %u\n", o, (unsigned long long)x, (unsigned long long)y,
			       (unsigned long long)x, phys_owner_of(pa));
		*w = keep;
		restored_bad += phys_check_full() != 0;
		phys_free(pa, 1);
	}
	ok(cases >= 30, "moved owner: %u cases set up", cases);
	is(restored_bad, 0, "moved owner: every check passes once the word is restored");
	ok(missed == 0, "moved owner: an owner field moved from an allocated frame to a free one is found by "
	   "phys_check_full (missed %u of %u)", missed, cases);
	phys_reset();
}

/* ---------------------------------------------------------------- pool frames reused behind its back */

/*
 * docs/contract.md section 5: "A block whose frames went back to the physical allocator behind the
 * pool's back nonetheless (a kernel bug calling phys_free on them) is kept: its free ... raises the
 * physical allocator's 0x1A ... and changes nothing." Generated over block sizes: once those frames
 * are handed out again, for an MDL (the physical allocator records the owner), ExFreePool of the
 * block must still raise a bug check and leave the MDL's frames allocated and its own. Before the
 * fix pool_large_free checked only that the frames were allocated (phys_is_allocated), not that they
 * were the pool's (PHYS_OWNER_POOL_LARGE), and handed the MDL's frames to the physical allocator
 * silently; pool_check, which checks each slab page's owner, missed it too.
 */
static void test_pool_large_frames_reused(void)
{
	unsigned cases = 0, silent = 0, lost = 0, check_missed = 0;
	for (unsigned c = 0; c < 12; c++) {
		pool_test_machine(true);
		size_t n = POOL_SMALL_MAX + 1 + below(6 * PAGE_SIZE);
		uint64_t pages = (n + PAGE_SIZE - 1) / PAGE_SIZE;
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, 0x33525650);
		if (!p)
			continue;
		paddr_t pa = (paddr_t)(p - (uint8_t *)arch_phys_to_virt(0));
		phys_free(pa, pages);   /* the kernel bug */
		paddr_t got = phys_alloc_owned(pages, 1, pa, pa + pages * PAGE_SIZE, PHYS_OWNER_MDL);
		if (got != pa)
			continue;
		cases++;
		capture_begin();
		check_missed += pool_check() == 0;   /* a live large block whose frames are an MDL's */
		char out[1024];
		capture_end(out, sizeof out);
		uint64_t before = bugcheck_last.count;
		ExFreePool(p);
		bool raised = bugcheck_last.count != before;
		bool kept = phys_is_allocated(pa, pages) && phys_owner_of(pa) == PHYS_OWNER_MDL &&
			    phys_owner_of(pa + (pages - 1) * PAGE_SIZE) == PHYS_OWNER_MDL;
		silent += !raised;
		lost += !kept;
		if ((!raised || !kept) && silent + lost <= 2)
			printf("# %zu-byte block (%llu pages) at 0x%llx, its frames an MDL's: ExFreePool %s, the MDL's "
			       "frames %s\n", n, (unsigned long long)pages, (unsigned long long)pa,
			       raised ? "raised" : "raised nothing", kept ? "kept" : "freed");
	}
	ok(cases >= 10, "pool frames reused: %u cases set up", cases);
	ok(silent == 0 && lost == 0, "ExFreePool of a large block whose frames now are an MDL's: a bug check, the MDL's "
	   "frames kept (%u raised nothing, %u freed the MDL's frames, of %u)", silent, lost, cases);
	ok(check_missed == 0, "pool_check, which checks that each slab page is the physical allocator's pool slab, finds "
	   "the large block whose frames are an MDL's (%u of %u missed)", check_missed, cases);
}

/* ---------------------------------------------------------------- a large block's record overrun */

/* Sets up a fresh pool: a 64-byte caller block *a, then a large block *l, whose record is the block
 * right after *a in the same class-64 slab; false when the layout is not that. */
static bool record_after(uint8_t **a, uint8_t **l, size_t lbytes)
{
	pool_test_machine(true);
	*a = ExAllocatePoolWithTag(NonPagedPool, 64, 0x41335250);
	*l = ExAllocatePoolWithTag(NonPagedPool, lbytes, 0x4C335250);
	if (!*a || !*l)
		return false;
	struct mirror_block *h = (struct mirror_block *)(*a + 64);
	struct mirror_large *r = (struct mirror_large *)(*a + 64 + 16);
	return h->state == M_INTERNAL && r->va == (uintptr_t)*l && r->next == NULL;
}

/* One case, in a child: the overrun of the 64-byte block by over bytes, ExFreePool of the large
 * block, its outcome on stderr ("R3 free: raised R code C"); then, after a free that raised
 * nothing, large blocks of every hash bucket allocated and freed and pool_check: exit 0 when all
 * that ran (and the check passed), 3 when the check failed; a crash ends it on the way. */
struct overrun_case {
	uint8_t *a, *l;
	unsigned over;
	uint64_t seed;
};

static void overrun_case_run(void *arg)
{
	struct overrun_case *c = arg;
	for (unsigned k = 0; k < c->over; k++)
		c->a[64 + k] = (uint8_t)(test_rng_next(&c->seed) | 1);   /* its first byte: a state of no pool call */
	uint64_t before = bugcheck_last.count;
	ExFreePool(c->l);
	bool raised = bugcheck_last.count != before;
	fprintf(stderr, "R3 free: raised %d code 0x%x\n", raised, raised ? bugcheck_last.code : 0);
	if (raised)
		_exit(0);
	for (unsigned k = 0; k < 128; k++) {   /* blocks until some land in the freed block's bucket */
		void *q = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, 0x51335250);
		if (q)
			ExFreePool(q);
	}
	_exit(pool_check() == 0 ? 0 : 3);
}

/*
 * pool.h: "a block or slab header no pool call wrote (an overrun, a write after free) is 0x19
 * BAD_POOL_HEADER, raised by the free, the allocation or the trim that reads it"; docs/contract.md:
 * "The pool checks what it reads before it relies on it". A large block's record is a small block
 * of class 64 (state "PInt"), read by the large block's free. Generated: the caller's 64-byte block
 * right before it overruns by 17 to 40 bytes of random data, over the record's header and into the
 * record (its hash link, then its address, page count, byte count): ExFreePool of the large block
 * must raise 0x19. Before the fix pool_large_free never read the record's header. An overrun that
 * reached only the link (17..24 bytes) freed the block silently and left the overwritten link as
 * its hash bucket's head, which the next large-block call of that bucket followed (a crash); one
 * reaching the address made the free itself follow the overwritten link (a crash).
 */
static void test_pool_record_overrun(void)
{
	unsigned cases = 0, good = 0, crashed = 0, silent = 0, wrong = 0, later_crash = 0;
	char err[8192];
	struct tap_child ch = { .quiet_out = true, .err = err, .err_size = sizeof err };   /* kprintf is not our TAP */
	for (unsigned c = 0; c < 48; c++) {
		struct overrun_case oc = { .over = 17 + c % 24, .seed = 0x0FE4 + c };
		if (!record_after(&oc.a, &oc.l, POOL_SMALL_MAX + 1 + below(4 * PAGE_SIZE)))
			continue;
		cases++;
		int st = tap_child_void(&ch, overrun_case_run, &oc);
		const char *out = strstr(err, "R3 free: raised ");
		int raised = -1;
		unsigned code = 0;
		if (out)
			sscanf(out, "R3 free: raised %d code 0x%x", &raised, &code);
		if (raised < 0)
			crashed++;
		else if (raised == 0)
			silent++, later_crash += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		else if (code != BUGCHECK_BAD_POOL_HEADER)
			wrong++;
		else
			good++;
		if (getenv("R3_VERBOSE") && (c == 0 || c == 8))
			printf("# child status 0x%x: %.300s\n", st, strstr(err, "runtime error") ? strstr(err, "runtime error") :
			       strstr(err, "ERROR:") ? strstr(err, "ERROR:") : err);
		if (raised != 1 && (c == 0 || c == 8))
			printf("#   overrun of %u bytes: ExFreePool %s\n", oc.over,
			       raised < 0 ? "crashed" : WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "raised nothing" :
			       "raised nothing; a later large-block call crashed");
	}
	ok(cases >= 40, "record overrun: %u cases set up (a 64-byte block, the large block's record right after it)", cases);
	ok(good == cases, "ExFreePool of a large block whose record an overrun of the block before reached: 0x19 (%u of %u; "
	   "%u crashed in the free, %u raised nothing (then %u crashed or failed pool_check), %u raised another code)",
	   good, cases, crashed, silent, later_crash, wrong);
}

/* ---------------------------------------------------------------- MDL page allocations, generated */

#define MDL_RAM (64ULL << 20)
#define MDL_RAM_LO (1ULL << 20)   /* the host machine's RAM: [1 MiB, 1 MiB + MDL_RAM) */

/* True when frame f's page lies inside [lo + k skip, hi + k skip] (hi inclusive) for some k >= 0
 * (k = 0 only when skip is 0 or windows is false). */
static bool in_window(uint64_t f, uint64_t lo, uint64_t hi, uint64_t skip, bool windows)
{
	uint64_t a = f << 12, z = a + PAGE_SIZE - 1;
	for (uint64_t k = 0, l = lo, h = hi;; k++) {
		if (a >= l && z <= h)
			return true;
		if (!windows || skip == 0 || l > UINT64_MAX - skip || h > UINT64_MAX - skip || l + skip > a)
			return false;
		l += skip;
		h += skip;
	}
}

/*
 * docs/contract.md section 5, MmAllocatePagesForMdlEx / MmFreePagesFromMdl, generated (passes):
 * 3000 calls with random bounds (some at the machine's edges, some past them, some at exactly the
 * CPU's physical width), Skip, TotalBytes (0, odd, one page, up to 12 MiB, past 4 GiB - 4 KiB) and
 * flags. Each MDL: NULL exactly when the arguments are refused or nothing can be found; otherwise
 * PAGES_LOCKED, ByteCount = pages x 4 KiB, at most ceil(TotalBytes / 4 KiB) pages (all with
 * FULLY_REQUIRED), every page inside [Low, High] (or a Skip window), none twice, each the
 * allocator's MDL frame; REQUIRE_CONTIGUOUS_CHUNKS: chunks contiguous and aligned to Skip;
 * FAST_LARGE_PAGES: 2 MiB-aligned runs first. The physical allocator's MDL count is the sum of the
 * live MDLs' pages, and phys_check_full passes after each step. Frees in random order; a copy of a
 * freed MDL freed again is 0x1A 0x4D440003 (a free frame, index 0), the freed MDL itself 0x4D440002.
 */
static void test_mdl_alloc_generated(void)
{
	if (host_machine_create(MDL_RAM, 2ULL << 20)) {
		printf("Bail out! host_machine_create\n");
		exit(1);
	}
	bugcheck_set_hook(bugcheck_record_hook);
	enum { LIVE = 24 };
	PMDL live[LIVE] = { 0 };
	uint64_t live_pages = 0, calls = 0, granted = 0, bad = 0, refused_ok = 0, frees = 0, twice_bad = 0;
	static uint8_t copy[sizeof(MDL) + 8 * 4096];
	const uint64_t top = MDL_RAM_LO + MDL_RAM, width = 1ULL << arch_phys_addr_bits();
	const uint64_t big = (4ULL << 30) - PAGE_SIZE;
	for (unsigned step = 0; step < 3000; step++) {
		unsigned k = (unsigned)below(LIVE);
		if (live[k]) {   /* free it; now and then a copy of it afterwards, and itself again */
			PMDL m = live[k];
			uint64_t n = m->ByteCount >> 12;
			bool again = below(8) == 0 && sizeof(MDL) + n * 8 <= sizeof copy;
			if (again)
				memcpy(copy, m, sizeof(MDL) + n * 8);
			uint64_t c0 = bugcheck_last.count;
			MmFreePagesFromMdl(m);
			bool good = bugcheck_last.count == c0 && m->ByteCount == 0;
			live_pages -= n;
			frees++;
			if (again) {
				MmFreePagesFromMdl((PMDL)copy);
				good = good && bugcheck_last.count == c0 + 1 && bugcheck_last.p[0] == 0x4D440003 &&
				       bugcheck_last.p[3] == 0;
				MmFreePagesFromMdl(m);
				good = good && bugcheck_last.count == c0 + 2 && bugcheck_last.p[0] == 0x4D440002;
			}
			twice_bad += !good;
			ExFreePool(m);
			live[k] = NULL;
		}
		/* the arguments */
		uint64_t lo, hi, skip = 0;
		switch (below(6)) {
		case 0: lo = 0; hi = UINT64_MAX; break;
		case 1: lo = below(top + PAGE_SIZE); hi = lo + below(top); break;
		case 2: lo = MDL_RAM_LO + below(MDL_RAM); hi = top - 1 + below(3) - 1; break;   /* at the top of RAM */
		case 3: lo = top - below(4) * PAGE_SIZE; hi = width - 1; break;                 /* to the CPU's width */
		case 4: lo = width - PAGE_SIZE * below(2); hi = width - 1 + below(2); break;    /* past RAM */
		default: lo = below(top); hi = lo + below(1ULL << 22); break;
		}
		ULONG flags = (ULONG)below(0x80);
		if (below(3) == 0)
			skip = (flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) ? (PAGE_SIZE << below(11)) : below(1ULL << 23);
		if (below(4) == 0 && (flags & MM_ALLOCATE_FAST_LARGE_PAGES))
			skip = (2ULL << 20) << below(2);
		uint64_t total;
		switch (below(8)) {
		case 0: total = 0; break;
		case 1: total = big + below(2); flags |= MM_ALLOCATE_FULLY_REQUIRED; break;   /* partial: test_mdl_partial_size */
		case 2: total = 1 + below(PAGE_SIZE); break;
		case 3: total = (2ULL << 20) * (1 + below(4)) + below(2) * below(PAGE_SIZE * 3); break;
		default: total = 1 + below(12ULL << 20); break;
		}
		if ((flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) && skip && below(2))
			total = skip * (1 + below(4));   /* chunks that divide it */
		MEMORY_CACHING_TYPE cache = (MEMORY_CACHING_TYPE)(below(10) ? below(MmMaximumCacheType) : MmMaximumCacheType);
		bool chunks = flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS, large = flags & MM_ALLOCATE_FAST_LARGE_PAGES;
		bool refuse = total == 0 || total > big || lo > hi || skip % PAGE_SIZE || cache == MmMaximumCacheType ||
			      (chunks && skip && ((skip & (skip - 1)) || total % skip)) ||
			      (large && chunks && (skip == 0 || skip % (2ULL << 20)));
		uint64_t want = (total + PAGE_SIZE - 1) / PAGE_SIZE;
		PHYSICAL_ADDRESS L = { .QuadPart = (LONGLONG)lo }, H = { .QuadPart = (LONGLONG)hi }, S = { .QuadPart = (LONGLONG)skip };
		uint64_t c0 = bugcheck_last.count;
		PMDL m = MmAllocatePagesForMdlEx(L, H, S, total, cache, flags);
		calls++;
		bool good = bugcheck_last.count == c0;
		if (refuse) {
			good = good && !m;
			refused_ok += !m;
		} else if (m) {
			granted++;
			uint64_t n = m->ByteCount >> 12;
			PPFN_NUMBER pfn = MmGetMdlPfnArray(m);
			good = good && (m->MdlFlags & MDL_PAGES_LOCKED) && m->StartVa == NULL && m->ByteOffset == 0 &&
			       m->ByteCount % PAGE_SIZE == 0 && n >= 1 && n <= want &&
			       (!(flags & MM_ALLOCATE_FULLY_REQUIRED) || n == want);
			for (uint64_t i = 0; good && i < n; i++) {
				good = in_window(pfn[i], lo, hi, skip, !chunks) && phys_owner_of(pfn[i] << 12) == PHYS_OWNER_MDL;
				for (uint64_t j = i + 1; good && j < n && j < i + 600; j++)
					good = pfn[j] != pfn[i];
			}
			if (good && chunks && skip)
				for (uint64_t i = 0; good && i < n; i++)
					good = n % (skip >> 12) == 0 && (i % (skip >> 12) ? pfn[i] == pfn[i - 1] + 1 :
									     pfn[i] % (skip >> 12) == 0);
			if (good && chunks && !skip)
				for (uint64_t i = 1; good && i < n; i++)
					good = pfn[i] == pfn[0] + i && n == want;
			if (good && large && !chunks && n >= 512 && lo == 0 && hi == UINT64_MAX)
				good = pfn[0] % 512 == 0 && pfn[511] == pfn[0] + 511;
			live_pages += n;
			if (live[k])
				ExFreePool(live[k]);   /* never: freed above */
			live[k] = m;
		}
		struct phys_stats st;
		phys_get_stats(&st);
		good = good && st.mdl_pages == live_pages && phys_check_full() == 0;
		if (!good && bad++ < 4)
			printf("# step %u: lo 0x%llx hi 0x%llx skip 0x%llx total 0x%llx flags 0x%x cache %d: %s\n", step,
			       (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)skip,
			       (unsigned long long)total, flags, cache, m ? "an MDL" : "NULL");
	}
	for (unsigned k = 0; k < LIVE; k++)
		if (live[k]) {
			MmFreePagesFromMdl(live[k]);
			ExFreePool(live[k]);
		}
	struct phys_stats st;
	phys_get_stats(&st);
	ok(bad == 0 && granted > 500 && refused_ok > 100, "MmAllocatePagesForMdlEx, generated: %llu calls, %llu MDLs, %llu "
	   "refused as the contract says; every MDL as the contract says and the owner counts exact (%llu wrong)",
	   (unsigned long long)calls, (unsigned long long)granted, (unsigned long long)refused_ok, (unsigned long long)bad);
	ok(twice_bad == 0 && st.mdl_pages == 0 && phys_check_full() == 0, "MmFreePagesFromMdl: %llu frees, a freed MDL's "
	   "copy 0x4D440003 and the MDL itself 0x4D440002 (%llu wrong); none left", (unsigned long long)frees,
	   (unsigned long long)twice_bad);
}

/*
 * docs/contract.md section 5: MmAllocatePagesForMdlEx "may list fewer pages than asked, unless
 * MM_ALLOCATE_FULLY_REQUIRED is given. The caller returns the pages with MmFreePagesFromMdl";
 * the MDL "comes back with ... ByteCount = pages obtained x 4096". Generated over requests of more
 * than 8186 pages (32 MiB: sizeof(MDL) + 8 x pages no longer fits the 16-bit Size; 8192 k + j
 * pages, j < 4, so that it wraps to 48 + 8 j) and windows [Low, High] that hold 8 to 2047 free pages: the partial MDL must be freeable (no bug check, its
 * frames free again) and mappable. The MDL keeps the Size MmInitializeMdl computed
 * for the pages asked, truncated to 16 bits (mm/mdl.c MmAllocatePagesForMdlEx), while its
 * ByteCount is for the pages obtained, which fit in 16 bits: before the fix mdl_room_ok read the
 * truncated Size, so MmFreePagesFromMdl raised 0x1A P1 0x4D440105 (Size too small) on the
 * allocator's own MDL and freed nothing (the pages leaked), and MmMapLockedPagesSpecifyCache
 * returned NULL.
 */
static void test_mdl_partial_size(void)
{
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, free_bad = 0, map_bad = 0, wrapped = 0;
	for (unsigned c = 0; c < 40; c++) {
		/* a fresh machine (a refused free leaks), its region room for the largest window's mapping */
		if (host_machine_create(MDL_RAM, 16ULL << 20)) {
			printf("Bail out! host_machine_create\n");
			exit(1);
		}
		/* 8192 k + j pages: sizeof(MDL) + 8 x pages is 48 + 8 j modulo 2^16 */
		uint64_t want = 8192 * (1 + below(16)) + below(4);
		uint64_t window = 8 + below(2040), lo = (40ULL << 20) + below(256) * PAGE_SIZE;
		PHYSICAL_ADDRESS L = { .QuadPart = (LONGLONG)lo }, H = { .QuadPart = (LONGLONG)(lo + window * PAGE_SIZE - 1) };
		PHYSICAL_ADDRESS S = { .QuadPart = 0 };
		PMDL m = MmAllocatePagesForMdlEx(L, H, S, want * PAGE_SIZE, MmCached, (ULONG)(below(2) * MM_DONT_ZERO_ALLOCATION));
		if (!m)
			continue;
		cases++;
		uint64_t n = m->ByteCount >> 12;
		PFN_NUMBER first = MmGetMdlPfnArray(m)[0];
		wrapped += (uint16_t)m->Size < sizeof(MDL) + n * sizeof(PFN_NUMBER);
		uint64_t c0 = bugcheck_last.count;
		PVOID va = MmMapLockedPagesSpecifyCache(m, KernelMode, MmCached, NULL, FALSE, 0);
		map_bad += va == NULL || bugcheck_last.count != c0;
		if (va)
			MmUnmapLockedPages(va, m);
		c0 = bugcheck_last.count;
		MmFreePagesFromMdl(m);
		bool freed = bugcheck_last.count == c0 && m->ByteCount == 0 && phys_is_free(first << 12, 1);
		if (!freed && free_bad++ < 2)
			printf("#   %llu pages asked, %llu obtained: Size 0x%x; MmFreePagesFromMdl raised 0x%x P1 0x%llx, "
			       "frame 0x%llx %s\n", (unsigned long long)want, (unsigned long long)n, (unsigned)(uint16_t)m->Size,
			       bugcheck_last.count != c0 ? bugcheck_last.code : 0,
			       bugcheck_last.count != c0 ? (unsigned long long)bugcheck_last.p[0] : 0ULL,
			       (unsigned long long)first, phys_is_free(first << 12, 1) ? "free" : "still allocated");
		ExFreePool(m);
	}
	ok(cases == 40, "partial MDLs of requests past 32 MiB: %u of 40 made", cases);
	ok(free_bad == 0, "MmFreePagesFromMdl frees them, no bug check (%u of %u refused; %u had a Size too small for "
	   "their own pages)", free_bad, cases, wrapped);
	ok(map_bad == 0, "MmMapLockedPagesSpecifyCache maps them (%u of %u NULL)", map_bad, cases);
}

/* The pool lock's rank bit in the running CPU's held set at the last bug check (pool_lock_hook). */
static bool pool_lock_held_at_bugcheck;

static void pool_lock_hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	pool_lock_held_at_bugcheck = (spin_cpus[arch_cpu_index()].held >> LOCK_RANK_POOL) & 1;
	bugcheck_record_hook(code, p1, p2, p3, p4);
}

/*
 * mm/pool.h: "One spinlock (interrupts disabled) guards everything; bug checks are raised after it
 * is dropped"; docs/design.md ("MDLs and the pool"): "Bug checks are raised after the lock is
 * dropped." Generated over block sizes: ExFreePool of a large block whose frames a kernel bug gave
 * back to the physical allocator (the contract's 0x1A case) must raise that 0x1A with the pool lock
 * free. Before the fix pool_large_free called phys_free, which raised the 0x1A, under the pool
 * lock (pool_slab_release did the same for pool_trim and the free that empties a slab).
 */
static void test_pool_bugcheck_outside_lock(void)
{
	unsigned cases = 0, held = 0, wrong = 0;
	for (unsigned c = 0; c < 10; c++) {
		pool_test_machine(true);
		bugcheck_set_hook(pool_lock_hook);
		size_t n = POOL_SMALL_MAX + 1 + below(5 * PAGE_SIZE);
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, 0x4B335250);
		if (!p)
			continue;
		paddr_t pa = (paddr_t)(p - (uint8_t *)arch_phys_to_virt(0));
		phys_free(pa, (n + PAGE_SIZE - 1) / PAGE_SIZE);   /* the kernel bug */
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(p);
		cases++;
		wrong += bugcheck_last.count != c0 + 1 || bugcheck_last.code != BUGCHECK_MEMORY_MANAGEMENT ||
			 bugcheck_last.p[1] != pa;
		held += pool_lock_held_at_bugcheck;
	}
	bugcheck_set_hook(bugcheck_record_hook);
	ok(cases == 10 && wrong == 0, "a large block whose frames went back behind the pool's back: its free raises "
	   "0x1A naming them (%u of %u wrong)", wrong, cases);
	ok(held == 0, "... with the pool lock dropped (%u of %u raised under it)", held, cases);
}

int main(void)
{
	fake_arch_init();
	if (getenv("R3_VERBOSE"))
		setvbuf(stdout, NULL, _IONBF, 0);
	test_map_limit_with_except();
	test_check_moved_owner();
	test_pool_large_frames_reused();
	test_pool_record_overrun();
	test_pool_bugcheck_outside_lock();
	test_mdl_alloc_generated();
	test_mdl_partial_size();
	return tap_done();
}
