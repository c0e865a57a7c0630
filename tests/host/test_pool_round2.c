/*
 * Host tests of the pool's slab-header checks (mm/pool.c, docs/contract.md section 5, the 0x19
 * table's 0x03 row), generated:
 *  - a correct pool never raises: long random allocation/free sequences over every class and
 *    large blocks, pool_trim among them, pool_check clean after each step;
 *  - generated corruptions of slab headers (every field, one to three slabs, both lists, every
 *    class), then a free, an allocation or pool_trim in a child with a timer: no crash or hang, and
 *    a 0x19 leaves the whole of RAM and the statistics unchanged.
 * The test mirrors the pool's private slab layout (as test_pool.c does).
 */
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tap.h"
#include "pool_mirror.h"
#include "host_machine.h"
#include "arch_mm.h"
#include "wdm.h"
#include "pool.h"
#include "phys.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"

#define MAXLIVE 900

static uint64_t rng = 0x5EED2026ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }




struct live { uint8_t *p; size_t n; };
static struct live lv[MAXLIVE];
static unsigned nlive;

/* A request size: small of a random class mostly, sometimes large. */
static size_t gen_size(void)
{
	if (below(10) == 0)
		return POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE);
	unsigned ci = (unsigned)below(POOL_CLASSES);
	unsigned lo = ci ? class_sz[ci - 1] + 1 : 1;
	return lo + below(class_sz[ci] - lo + 1);
}

/*
 * A correct pool never raises: 20000 generated steps (allocations of every class and large
 * blocks, frees of random live blocks, pool_trim one step in 50), pool_check after each, no bug
 * check, and the pool's live count equal to the model's.
 */
static void test_correct_never_raises(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	uint64_t c0 = bugcheck_last.count, bad = 0, trims = 0, released = 0;
	nlive = 0;
	for (unsigned step = 0; step < 20000; step++) {
		unsigned r = (unsigned)below(100);
		if (r < 2) {
			released += pool_trim();
			trims++;
		} else if (nlive < MAXLIVE && (r < 52 || nlive == 0)) {
			size_t n = gen_size();
			uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, 0x32524f50);
			if (p)
				lv[nlive++] = (struct live){ p, n };
		} else if (nlive) {
			unsigned i = (unsigned)below(nlive);
			ExFreePoolWithTag(lv[i].p, 0x32524f50);
			lv[i] = lv[--nlive];
		}
		if (pool_check() != 0 && bad++ < 4)
			printf("# step %u: pool_check found violations\n", step);
	}
	struct pool_stats st;
	pool_get_stats(&st);
	uint64_t model = 0;
	for (unsigned i = 0; i < nlive; i++)
		model += lv[i].n;
	while (nlive)
		ExFreePool(lv[--nlive].p);
	released += pool_trim();
	struct pool_stats end;
	pool_get_stats(&end);
	ok(bad == 0 && bugcheck_last.count == c0 && st.bytes_live == model && end.bytes_live == 0 && end.slab_pages == 0 &&
	   trims > 200 && released > 0,
	   "20000 generated steps (%llu trims, %llu slabs released): no bug check, pool_check clean after each, "
	   "bytes live as the model's, all slabs back after the last trim (%llu steps inconsistent)",
	   (unsigned long long)trims, (unsigned long long)released, (unsigned long long)bad);
	bugcheck_set_hook(NULL);
}

/* ---------------------------------------------------------------- generated slab-header corruption */

#define MAXSLABS 64
static struct mirror_slab *slabs[MAXSLABS];
static unsigned nslabs;

static void note_slab(struct mirror_slab *s)
{
	for (unsigned i = 0; i < nslabs; i++)
		if (slabs[i] == s)
			return;
	if (nslabs < MAXSLABS)
		slabs[nslabs++] = s;
}

/* A pointer a corrupt link may hold: NULL, a slab, the slab itself, a slab's page plus an offset, a
 * managed page of no slab, a page past RAM, garbage. */
static void *gen_link(struct mirror_slab *self)
{
	uint8_t *base = arch_phys_to_virt(0);
	switch (below(7)) {
	case 0: return NULL;
	case 1: return slabs[below(nslabs)];
	case 2: return self;
	case 3: return (uint8_t *)slabs[below(nslabs)] + 8 * (1 + below(511));
	case 4: return base + PAGE_SIZE * below(POOL_TEST_RAM / PAGE_SIZE);
	case 5: return base + POOL_TEST_RAM + PAGE_SIZE * below(1024);
	default: return (void *)(uintptr_t)test_rng_next(&rng);
	}
}

/* Overwrites one field of slab s with a generated value, or both its links with one. */
static void corrupt_field(struct mirror_slab *s)
{
	switch (below(8)) {
	case 7: s->next = s->prev = below(2) ? s : gen_link(s); break;   /* a loop through s */
	case 0: s->magic ^= 1ULL << below(64); break;
	case 1: s->next = gen_link(s); break;
	case 2: s->prev = gen_link(s); break;
	case 3: s->cls = below(2) ? (uint16_t)below(POOL_CLASSES) : (uint16_t)test_rng_next(&rng); break;
	case 4: s->nfree = below(2) ? (uint16_t)below(s->nblocks + 2u) : (uint16_t)test_rng_next(&rng); break;
	case 5: s->nblocks = below(2) ? (uint16_t)per_slab((unsigned)below(POOL_CLASSES)) : (uint16_t)test_rng_next(&rng); break;
	default: s->free_off = below(2) ? (uint16_t)(32 + below(PAGE_SIZE - 32)) : (uint16_t)test_rng_next(&rng); break;
	}
}

struct fuzz_case {
	unsigned op;          /* 0 free, 1 allocation, 2 pool_trim */
	void *victim;         /* op 0 */
	size_t n;             /* op 1 */
};

static uint8_t *ram_copy;

/* The call in a child: 0 when it raised nothing, or one bug check with RAM and the statistics
 * unchanged; 1 when a bug check changed something; 2 when it raised more than one. */
static int fuzz_call(void *arg)
{
	struct fuzz_case *c = arg;
	uint8_t *base = arch_phys_to_virt(0);
	memcpy(ram_copy, base, POOL_TEST_RAM);
	struct pool_stats before, after;
	pool_get_stats(&before);
	uint64_t c0 = bugcheck_last.count;
	void *q = NULL;
	if (c->op == 0)
		ExFreePool(c->victim);
	else if (c->op == 1)
		q = ExAllocatePoolWithTag(NonPagedPool, c->n, 0x5a5a);
	else
		pool_trim();
	uint64_t raised = bugcheck_last.count - c0;
	if (raised == 0)
		return 0;
	if (raised > 1)
		return 2;
	pool_get_stats(&after);
	/* pool_trim releases the empty slabs in front of the one it stops at (the contract keeps that
	 * one and the slabs after it): its RAM is compared for the free and the allocation only */
	if (q || (c->op != 2 && (memcmp(&before, &after, sizeof(before)) || memcmp(ram_copy, base, POOL_TEST_RAM)))) {
		printf("# op %u: 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx) changed the pool\n", c->op, bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
		fflush(stdout);
		return 1;
	}
	return 0;
}

/*
 * Generated corruption of one to three slab headers (every field: magic, links to NULL, a slab,
 * itself, inside a slab, a page of no slab, past RAM, garbage; class; free count; block count; free
 * offset; both links naming one slab, itself among them) over a pool of two to four classes with slabs on both lists, then a free of a live
 * block, an allocation or pool_trim, each in a child with a 2 s timer: the call returns (no crash,
 * no hang), and when it raises, it raises once and RAM and the statistics are unchanged.
 */
static void test_corrupt_headers(void)
{
	ram_copy = malloc(POOL_TEST_RAM);
	unsigned cases = 0, crashed = 0, hung = 0, changed = 0, twice = 0, raised = 0;
	/* 40 cases in make test (a child each, about 0.15 s); POOL_CORRUPT_CASES=n for a longer run */
	unsigned ncases = getenv("POOL_CORRUPT_CASES") ? (unsigned)strtoul(getenv("POOL_CORRUPT_CASES"), NULL, 0) : 40;
	for (unsigned t = 0; t < ncases; t++) {
		pool_test_machine(false);
		bugcheck_set_hook(bugcheck_record_hook);
		nlive = 0;
		nslabs = 0;
		unsigned ncls = 2 + (unsigned)below(3);
		for (unsigned k = 0; k < ncls; k++) {
			unsigned ci = (unsigned)below(POOL_CLASSES), nb = per_slab(ci);
			unsigned n = nb * (1 + (unsigned)below(4)) + (unsigned)below(nb);
			for (unsigned i = 0; i < n && nlive < MAXLIVE; i++) {
				uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x5a5a);
				lv[nlive++] = (struct live){ p, class_sz[ci] };
				note_slab(slab(p));
			}
		}
		for (unsigned i = 0; i < nlive;)   /* some slabs back to the avail list, some empty */
			if (below(4) == 0) {
				ExFreePool(lv[i].p);
				lv[i] = lv[--nlive];
			} else {
				i++;
			}
		if (!nlive)
			continue;
		/* keep only slabs still in the pool */
		unsigned kept = 0;
		for (unsigned i = 0; i < nslabs; i++) {
			paddr_t pa = (uintptr_t)slabs[i] - (uintptr_t)arch_phys_to_virt(0);
			if (!phys_is_free(pa, 1) && phys_owner_of(pa) == PHYS_OWNER_POOL_SLAB)
				slabs[kept++] = slabs[i];
		}
		nslabs = kept;
		unsigned nc = 1 + (unsigned)below(3);
		for (unsigned k = 0; k < nc; k++)
			corrupt_field(slabs[below(nslabs)]);
		struct fuzz_case c = { (unsigned)below(3), lv[below(nlive)].p, class_sz[below(POOL_CLASSES)] };
		uint64_t c0 = bugcheck_last.count;
		(void)c0;
		struct tap_child ch = { .timer_ms = 2000 };   /* a hang ends at SIGALRM */
		int r = tap_child_code(tap_child(&ch, fuzz_call, &c));   /* its exit status, or 128 + its signal */
		cases++;
		if (r >= 128) {
			if (r == 128 + SIGALRM)
				hung++;
			else
				crashed++;
			if (crashed + hung <= 4)
				printf("# case %u: op %u ended by signal %d\n", t, c.op, r - 128);
		}
		changed += r == 1;
		twice += r == 2;
		raised += r == 0;
	}
	free(ram_copy);
	bugcheck_set_hook(NULL);
	ok(cases > ncases * 5 / 6 && crashed == 0 && hung == 0 && changed == 0 && twice == 0,
	   "%u calls over generated slab-header corruptions: %u crashed, %u hung, %u raised a 0x19 that changed the "
	   "pool, %u raised more than once", cases, crashed, hung, changed, twice);
}

/*
 * The 0x03 row: "a free count above the blocks its free list holds when the slab is about to empty".
 * A slab of `live` live blocks (2 .. its block count - 1; generated over every class) whose free
 * count was raised to its block count - 1 (a count its list allows), then the free of one of its
 * live blocks, which the count says is the last: one 0x19 0x03 naming the slab, P3 the free
 * blocks its list holds, P4 the count, nothing changed (the block still live, the page kept).
 */
static void test_count_raised_about_to_empty(void)
{
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 48; t++) {
		unsigned ci = t % (POOL_CLASSES - 1), nb = per_slab(ci), live = 2 + (unsigned)below(nb - 2);
		pool_test_machine(false);
		bugcheck_set_hook(bugcheck_record_hook);
		static uint8_t *b[127];
		for (unsigned i = 0; i < live; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x45);
		struct mirror_slab *sl = slab(b[0]);
		paddr_t pa = (uintptr_t)sl - (uintptr_t)arch_phys_to_virt(0);
		sl->nfree = (uint16_t)(nb - 1);
		struct pool_stats before, after;
		pool_get_stats(&before);
		uint64_t c0 = bugcheck_last.count;
		uint8_t *victim = b[below(live)];
		ExFreePool(victim);
		pool_get_stats(&after);
		bool good = bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
			    bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)sl &&
			    bugcheck_last.p[2] == nb - live && bugcheck_last.p[3] == nb - 1 &&
			    memcmp(&before, &after, sizeof(before)) == 0 && sl->nfree == nb - 1 && !phys_is_free(pa, 1) &&
			    ((uint32_t *)victim)[-4] == 0x636f6c41u;
		if (!good && wrong++ < 4)
			printf("# class %u, %u live, count set to %u: %llu bug checks (P3 0x%llx P4 0x%llx)\n", ci, live, nb - 1,
			       (unsigned long long)(bugcheck_last.count - c0), (unsigned long long)bugcheck_last.p[2],
			       (unsigned long long)bugcheck_last.p[3]);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees of a live block in a slab whose free count was raised to one below its blocks: 0x19 0x03 "
	   "naming the slab with the free blocks found and the count, nothing changed (%u wrong)", cases, wrong);
}

int main(void)
{
	test_count_raised_about_to_empty();
	test_correct_never_raises();
	test_corrupt_headers();
	return tap_done();
}
