/*
 * Review round 3 of physical memory and the pool (mm/phys.c, mm/pool.c, MmAllocatePagesForMdlEx /
 * MmFreePagesFromMdl). Each test states the contract line it holds the code to; the ones named
 * "FAILS:" in the report fail on the code reviewed (bda32a2), for the reason their assertion names:
 *  - test_map_limit_with_except: phys_init_except on a map of PHYS_MAX_RANGES (2048) descriptors
 *    (a length phys.h accepts: only a longer map is refused) whose framebuffer range splits one
 *    usable range: the ranges then number 2049 and phys_init either panics in phys_subtract
 *    ("range overflow") or, when the pieces are split between the usable-now and the loader
 *    classes, writes phys_managed[2048], past its end (ASan: global-buffer-overflow). Run in a
 *    child: it must return (0, or -1 with a message), never abort.
 *  - test_check_moved_owner: phys_check / phys_check_full pass when a stray store moves an owner
 *    field from an allocated frame to a free one in the same word (the counts stay equal), though
 *    phys.h says the census makes sure the owner map holds "none that is free".
 *  - test_pool_large_frames_reused: a large pool block whose frames a kernel bug freed behind the
 *    pool's back and which an MDL allocation then took: ExFreePool frees the MDL's frames without a
 *    bug check (docs/contract.md: such a block "is kept: its free ... raises the physical
 *    allocator's 0x1A ... and changes nothing").
 * Passing generated coverage: owner counts across MDL allocations with every flag, range and size
 * class, partial results and frees (test_mdl_alloc_generated); the 2047-descriptor control.
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

static struct machine_map map;
static uint64_t rng = 0x5EED0003ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* Runs fn(arg) in a child, its stderr kept in err; the child's wait status. */
static int in_child(void (*fn)(void *), void *arg, char *err, size_t size)
{
	int fd[2];
	if (pipe(fd))
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t k;
	while (n < size - 1 && (k = read(fd[0], err + n, size - 1 - n)) > 0)
		n += (size_t)k;
	err[n] = 0;
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	return status;
}

/* ---------------------------------------------------------------- the map's descriptor limit */

struct map_case {
	unsigned conv, loader;   /* descriptors of each class, 4 pages each, a page of hole between */
	bool split;              /* the framebuffer range splits one usable-now range */
};

/* Builds the case's map (usable-now ranges first, the loader's above) and runs phys_init_except on
 * it: exits 0 when phys_init returned 0 and its checks pass, 1 when it refused (returned -1). */
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
		_exit(1);
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
 * the usable-now and the loader classes. FAILS today: 2049 ranges come out (the framebuffer split
 * adds one): all usable-now, phys_subtract's KASSERT "range overflow" panics; shared with the
 * loader, the copy into phys_managed[PHYS_MAX_RANGES] writes one entry past its end.
 */
static void test_map_limit_with_except(void)
{
	unsigned aborted = 0, cases = 0, control_bad = 0;
	char err[8192];
	for (unsigned loader = 0; loader <= 2040; loader += 255) {
		struct map_case c = { PHYS_MAX_RANGES - loader, loader, true };
		int st = in_child(map_case_run, &c, err, sizeof err);
		cases++;
		if (!(WIFEXITED(st) && WEXITSTATUS(st) <= 1)) {   /* initialised, or refused with -1 */
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
		st = in_child(map_case_run, &d, err, sizeof err);
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
 * (the word stays marked, the per-owner counts stay equal): phys_check_full must fail. FAILS
 * today: the census compares counts only, so the free frame holding an owner (and the allocated one
 * that lost its own, which MmFreePagesFromMdl would then refuse) go unseen.
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
 * block must still raise a bug check and leave the MDL's frames allocated and its own. FAILS today:
 * pool_large_free checks only that the frames are allocated (phys_is_allocated), not that they are
 * the pool's (PHYS_OWNER_POOL_LARGE), and hands the MDL's frames to the physical allocator silently.
 */
static void test_pool_large_frames_reused(void)
{
	unsigned cases = 0, silent = 0, lost = 0;
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
}

/* ---------------------------------------------------------------- a large block's record overrun */

/* A large block's side record (mm/pool.c struct pool_large), mirrored: the data of a class-64 block. */
struct mirror_large {
	void *next;
	uintptr_t va;
	uint64_t npages, bytes;
	uint32_t tag;
};

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
 * must raise 0x19. FAILS today: pool_large_free never reads the record's header. An overrun that
 * reached only the link (17..24 bytes) frees the block silently and leaves the overwritten link as
 * its hash bucket's head, which the next large-block call of that bucket follows (a crash); one
 * reaching the address makes the free itself follow the overwritten link (a crash).
 */
static void test_pool_record_overrun(void)
{
	unsigned cases = 0, good = 0, crashed = 0, silent = 0, wrong = 0, later_crash = 0;
	char err[8192];
	for (unsigned c = 0; c < 48; c++) {
		struct overrun_case oc = { .over = 17 + c % 24, .seed = 0x0FE4 + c };
		if (!record_after(&oc.a, &oc.l, POOL_SMALL_MAX + 1 + below(4 * PAGE_SIZE)))
			continue;
		cases++;
		int st = in_child(overrun_case_run, &oc, err, sizeof err);
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

int main(void)
{
	fake_arch_init();
	if (getenv("R3_VERBOSE"))
		setvbuf(stdout, NULL, _IONBF, 0);
	test_map_limit_with_except();
	test_check_moved_owner();
	test_pool_large_frames_reused();
	test_pool_record_overrun();
	return tap_done();
}
