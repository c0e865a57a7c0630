/*
 * The pool's 0x19 0x03 (mm/pool.c, docs/contract.md section 5, the 0x19 table's 0x03 row) where it
 * once named the wrong slab or none, generated over every class:
 *  - a list head whose free count names the other list is named, not the sound slab after it;
 *  - a free count raised to the block count is found by the free of a live block (the free list
 *    walked whenever a free could leave the slab empty), nothing changed;
 *  - a class rewritten with its block count is found by the first two block headers, which keep
 *    the true class, not blamed on the caller (0xC2 0x46) or on the block (0x19 0x07).
 */
#include <stdlib.h>
#include <string.h>
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


static uint64_t rng = 0xF11D1265ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }



/* One 0x19 0x03 naming sl since c0, the statistics as in before. */
static bool raised_03(uint64_t c0, const void *sl, const struct pool_stats *before)
{
	struct pool_stats st;
	pool_get_stats(&st);
	return bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
	       bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)sl &&
	       memcmp(&st, before, sizeof(st)) == 0;
}

/*
 * The 0x03 row: "a free count above the blocks its free list holds when the slab is about to empty".
 * A slab with `live` live blocks (1 .. its block count - 1, the only slab of its class, heading
 * the avail list) whose free count was raised to its block count (a count the avail list allows),
 * then the free of one of its live blocks. Expected: one 0x19 0x03 naming the slab (P3 the free
 * blocks found, P4 the count), nothing changed. pool_release_sound walks the free list only when
 * nfree + 1 == nblocks, so with nfree == nblocks the free goes on: the block is freed and the
 * count becomes nblocks + 1, a count no slab can have.
 */
static void test_free_count_raised_to_block_count(void)
{
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 32; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci), live = 1 + (unsigned)below(nb - 1);
		pool_test_machine(true);
		static uint8_t *b[127];
		for (unsigned i = 0; i < live; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x46);
		struct mirror_slab *sl = slab(b[0]);
		sl->nfree = (uint16_t)nb;
		struct pool_stats before;
		pool_get_stats(&before);
		uint64_t c0 = bugcheck_last.count;
		uint8_t *victim = b[below(live)];
		ExFreePool(victim);
		bool good = raised_03(c0, sl, &before) && bugcheck_last.p[2] == nb - live && bugcheck_last.p[3] == nb &&
			    hdr(victim)->state == M_ALLOC && sl->nfree == nb;
		if (!good && wrong++ < 4)
			printf("# class %u, %u live, free count set to %u: %llu bug checks, the block's state 0x%x, free count now %u\n",
			       ci, live, nb, (unsigned long long)(bugcheck_last.count - c0), hdr(victim)->state,
			       (unsigned)sl->nfree);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees of a live block in a slab whose free count was raised to its block count: 0x19 0x03 "
	   "naming the slab, nothing changed (%u went on)", cases, wrong);
}

/*
 * The 0x03 row: "its ... class, block count". The class and block count of a slab that is not its
 * list's head (it has a previous slab of its class) rewritten together to another class's
 * (an overwrite of the header's bytes 24..29), then the free of one of its live blocks. Expected:
 * 0x19 0x03 naming the slab. pool_release_sound checks the slab against the class its header
 * names (pool_slab_whole(s, s->cls)), so the class check cannot fail and the block count agrees;
 * the free goes on to pool_small_find with the other class's stride: 0xC2 0x46 (the caller blamed)
 * or 0x19 0x07 of the block, not 0x03.
 */
static void test_class_rewritten_not_head(void)
{
	unsigned cases = 0, wrong = 0, as46 = 0;
	for (unsigned t = 0; t < 56; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		unsigned other = (ci + 1 + (unsigned)(t / POOL_CLASSES) % (POOL_CLASSES - 1)) % POOL_CLASSES;
		pool_test_machine(true);
		static uint8_t *b[2 * 127];
		for (unsigned i = 0; i < 2 * nb; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x43);
		struct mirror_slab *s0 = slab(b[0]);   /* full list: s1 -> s0 */
		if (!s0->prev) {
			printf("# setup: the first slab heads its list\n");
			wrong++;
			break;
		}
		s0->cls = (uint16_t)other;
		s0->nblocks = (uint16_t)per_slab(other);
		struct pool_stats before;
		pool_get_stats(&before);
		uint64_t c0 = bugcheck_last.count;
		uint8_t *victim = b[below(nb)];
		ExFreePool(victim);
		bool good = raised_03(c0, s0, &before);
		as46 += bugcheck_last.code == BUGCHECK_BAD_POOL_CALLER;
		if (!good && wrong++ < 4)
			printf("# class %u rewritten to %u: 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", ci, other,
			       bugcheck_last.code, (unsigned long long)bugcheck_last.p[0],
			       (unsigned long long)bugcheck_last.p[1], (unsigned long long)bugcheck_last.p[2],
			       (unsigned long long)bugcheck_last.p[3]);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees of a live block in a slab (not its list's head) whose class and block count were "
	   "rewritten to another class's: 0x19 0x03 naming the slab (%u wrong, %u of them 0xC2 0x46)", cases, wrong, as46);
}

/*
 * The 0x03 row's P2: "the slab" whose header was overwritten ("for a count naming the other list
 * found from its previous slab: that next one"). Two slabs of a class on one list (full, or
 * available), the head's free count overwritten to name the other list (full: 1 .. its blocks;
 * available: 0); then the free of a live block in the second slab, whose header is sound. The head's
 * count is the one that cannot be (a list's head whose count names the other list), so the 0x19
 * 0x03 should name the head. pool_slab_sound(second) compares the second slab's count with its
 * previous one's and names the second slab (P2), the one no write reached.
 */
static void test_head_count_names_other_list(void)
{
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 32; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		bool full = t / POOL_CLASSES % 2 == 0;
		pool_test_machine(true);
		static uint8_t *b[2 * 127];
		for (unsigned i = 0; i < 2 * nb; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x48);
		if (!full)
			for (unsigned k = 0; k < 2; k++)
				ExFreePool(b[k * nb]), b[k * nb] = NULL;
		struct mirror_slab *s0 = slab(b[1]), *head = slab(b[nb + 1]);
		if (s0->prev != head || head->prev) {
			printf("# setup: the list is not head -> s0\n");
			wrong++;
			break;
		}
		uint16_t set = full ? (uint16_t)(1 + below(nb)) : 0;
		head->nfree = set;
		struct pool_stats before;
		pool_get_stats(&before);
		uint64_t c0 = bugcheck_last.count;
		uint8_t *victim = b[1 + below(nb - 1)];
		ExFreePool(victim);
		bool good = raised_03(c0, head, &before) && hdr(victim)->state == M_ALLOC;
		if (!good && wrong++ < 4)
			printf("# class %u, %s list, the head's count set to %u: 0x%x (0x%llx, P2 %s, 0x%llx, 0x%llx)\n", ci,
			       full ? "full" : "avail", (unsigned)set, bugcheck_last.code, (unsigned long long)bugcheck_last.p[0],
			       bugcheck_last.p[1] == (uintptr_t)s0 ? "the second slab" :
			       bugcheck_last.p[1] == (uintptr_t)head ? "the head" : "other",
			       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees of a block in a sound slab behind a list head whose count names the other list: "
	   "0x19 0x03 naming the head (%u named another)", cases, wrong);
}

int main(void)
{
	test_head_count_names_other_list();
	test_free_count_raised_to_block_count();
	test_class_rewritten_not_head();
	return tap_done();
}
