/*
 * Host tests of the pool's slab checks (mm/pool.c; docs/contract.md's 0x19 0x03 row) where
 * test_pool.c's test_slab_header does not reach, generated over every size class:
 *  - a list link of a slab that is not its list's head (the middle of three, on the available or
 *    the full list) overwritten to name another slab of its class that does not link back, or a
 *    page that is no slab: the free of a block in it raises 0x03 (P2 the slab, P3 the link read,
 *    P4 the slab), nothing changed; its previous link cleared: P3 0, P4 the list's real head;
 *  - the allocation that would put a slab in front of a corrupt full-list head (its slab's last
 *    free block): 0x03 naming that head, NULL, nothing changed; the free that would put a full
 *    slab in front of a corrupt available-list head: 0x03 naming that head;
 *  - the free of a large block whose record's slab has a field overwritten: 0x03 naming that slab,
 *    the block still live;
 *  - a class index past the classes (P3 the class read, P4 POOL_CLASSES);
 *  - pool_trim over two corrupt classes: the first class's slab named, the other classes' empty
 *    slabs still given back;
 *  - pool_check of a slab whose page the physical allocator does not record as a pool slab;
 *  - the growable region's tear-down MDL over steps that mapped pool memory: MmFreePagesFromMdl
 *    refuses it naming the pool's first frame (the owner map), nothing freed.
 *  - a slab's free count raised (0x0D once its list ends) or lowered (found by pool_check only).
 * After each case (but the free count's, each on a fresh machine) the header is restored and the
 * same call succeeds. The test mirrors the pool's
 * private slab header (struct mirror_slab, as test_pool.c does).
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


static uint64_t rng = 0x5AB5AB5AB5ULL;
static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }




static struct pool_stats snap;

/* The last call raised exactly one 0x19 0x03 with these parameters (p3, p4 ignored when ~0) and
 * changed no pool statistic since snap. */
static bool raised03(uint64_t c0, const void *sl, uint64_t p3, uint64_t p4)
{
	struct pool_stats st;
	pool_get_stats(&st);
	return bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
	       bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)sl &&
	       (p3 == ~0ULL || bugcheck_last.p[2] == p3) && (p4 == ~0ULL || bugcheck_last.p[3] == p4) &&
	       memcmp(&st, &snap, sizeof(st)) == 0;
}

static void report(unsigned *wrong, const char *what, unsigned ci, uint64_t c0)
{
	if ((*wrong)++ < 4)
		printf("# %s, class %u: %llu bug checks, the last 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", what, ci,
		       (unsigned long long)(bugcheck_last.count - c0), bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3]);
}

static uint8_t *blocks[3 * 127];

/* Three slabs of class ci (blocks[k * nb ..] in slab k); with avail, one block of each freed so all
 * three sit on the available list. Returns the middle slab (not its list's head). */
static struct mirror_slab *three_slabs(unsigned ci, bool avail)
{
	unsigned nb = per_slab(ci);
	pool_trim();
	for (unsigned i = 0; i < 3 * nb; i++)
		blocks[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x33);
	if (avail)
		for (unsigned k = 0; k < 3; k++)
			ExFreePool(blocks[k * nb]), blocks[k * nb] = NULL;
	return slab(blocks[nb + 1]);
}

static void free_all(unsigned ci)
{
	for (unsigned i = 0; i < 3 * per_slab(ci); i++)
		if (blocks[i])
			ExFreePool(blocks[i]), blocks[i] = NULL;
}

/* A link of the middle slab of three overwritten: another slab of the class that does not link back
 * (the head's neighbour chain skipped), a page no slab (a kernel page), or a slab's inside. */
static void test_link_not_head(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0, kinds[3] = { 0, 0, 0 };
	for (unsigned t = 0; t < 96; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci), kind = (unsigned)below(3);
		bool avail = below(2);
		struct mirror_slab *mid = three_slabs(ci, avail), save = *mid;
		paddr_t page = phys_alloc(1, 0, UINT64_MAX);   /* a page no slab */
		uint8_t *big = arch_phys_to_virt(page);
		struct mirror_slab *head = mid->prev, *tail = mid->next;
		bool prev = below(2);
		void *link = kind == 0 ? (prev ? (void *)tail : (void *)head)     /* a slab not linking back */
			   : kind == 1 ? (void *)big                               /* no slab */
			   : (void *)((uint8_t *)(prev ? head : tail) + 32 * (1 + below(100)));   /* inside a slab */
		if (prev)
			mid->prev = link;
		else
			mid->next = link;
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		unsigned victim = nb + 1 + (unsigned)below(nb - 1);
		ExFreePool(blocks[victim]);
		bool good = raised03(c0, mid, (uintptr_t)link, (uintptr_t)mid) && pool_check() != 0;
		*mid = save;
		good &= pool_check() == 0;
		if (!good)
			report(&wrong, prev ? "previous link" : "next link", ci, c0);
		c0 = bugcheck_last.count;
		free_all(ci);
		phys_free(page, 1);
		if (bugcheck_last.count != c0 || pool_check() != 0)
			report(&wrong, "restored, the frees", ci, c0);
		cases++;
		kinds[kind]++;
	}
	ok(wrong == 0 && kinds[0] > 20 && kinds[1] > 20 && kinds[2] > 20,
	   "%u frees of a block in a slab (not its list's head) whose link names a slab not linking back (%u), no "
	   "slab (%u) or a slab's inside (%u): 0x19 0x03 (P3 the link, P4 the slab), nothing changed (%u wrong)",
	   cases, kinds[0], kinds[1], kinds[2], wrong);
}

/* The previous link of the middle slab of three cleared (NULL: the slab claims to head its list,
 * which it does not): the free of a block in it raises 0x03 with P3 the link read (0) and P4 the
 * value expected, the list's real head (docs/contract.md's 0x03 row), nothing changed. */
static void test_prev_cleared(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0, on_avail = 0;
	for (unsigned t = 0; t < 64; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		bool avail = (t / POOL_CLASSES) % 2;
		struct mirror_slab *mid = three_slabs(ci, avail), save = *mid, *head = mid;
		while (head->prev)
			head = head->prev;
		mid->prev = NULL;
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(blocks[nb + 1 + (unsigned)below(nb - 1)]);
		bool good = head != mid && raised03(c0, mid, 0, (uintptr_t)head) && pool_check() != 0;
		*mid = save;
		good &= pool_check() == 0;
		if (!good)
			report(&wrong, avail ? "previous link cleared, available list" : "previous link cleared, full list",
			       ci, c0);
		c0 = bugcheck_last.count;
		free_all(ci);
		if (bugcheck_last.count != c0 || pool_check() != 0)
			report(&wrong, "restored, the frees", ci, c0);
		cases++;
		on_avail += avail;
	}
	ok(wrong == 0 && on_avail == cases / 2, "%u frees of a block in a slab (not its list's head) whose previous link "
	   "was cleared, %u on the available list: 0x19 0x03 (P3 0, P4 the list's head), nothing changed (%u wrong)",
	   cases, on_avail, wrong);
}

/*
 * docs/contract.md (after the 0x19 table): a slab's free count changed to another count its list
 * allows is found where it is followed, or by pool_check. Generated over the classes of 4 blocks a
 * slab and more (f and L at least 2), on the
 * available list's head slab with f free blocks and L live ones (a fresh machine each case):
 *  - raised by d (the count still below the block count): its f real free blocks are allocated,
 *    and the next allocation, the list ended while the count says more, raises 0x0D (P2 the slab,
 *    P3 the list's end, 0, P4 0), NULL, nothing changed;
 *  - lowered by d (the count still above 0): no call finds it (freeing every live block of the
 *    slab raises nothing, the slab is not handed back), pool_check does.
 */
static void test_free_count_moved(void)
{
	unsigned raised = 0, lowered = 0, wrong = 0;
	for (unsigned t = 0; t < 64; t++) {
		unsigned ci = t % (POOL_CLASSES - 2), nb = per_slab(ci);   /* the classes of 4 blocks and more */
		bool up = (t / (POOL_CLASSES - 2)) % 2;
		host_machine_destroy();
		pool_test_machine(true);
		uint8_t *b[127];
		for (unsigned i = 0; i < nb; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x39);
		unsigned f = 2 + (unsigned)below(nb - 3), live = nb - f;   /* 2 <= f <= nb - 2 */
		for (unsigned i = 0; i < f; i++)
			ExFreePool(b[live + i]);
		struct mirror_slab *sl = slab(b[0]);
		unsigned d = 1 + (unsigned)below(up ? live - 1 : f - 1);
		uint64_t c0 = bugcheck_last.count;
		bool good = sl->prev == NULL && sl->nfree == f && bugcheck_last.count == c0;
		if (up) {
			sl->nfree = (uint16_t)(sl->nfree + d);
			for (unsigned i = 0; good && i < f; i++)
				good = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x39) != NULL;
			good &= bugcheck_last.count == c0 && sl->nfree == d && pool_check() != 0;
			pool_get_stats(&snap);
			void *x = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x39);
			struct pool_stats st;
			pool_get_stats(&st);
			good &= x == NULL && bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
				bugcheck_last.p[0] == POOL_BUGCHECK_FREED_MODIFIED && bugcheck_last.p[1] == (uintptr_t)sl &&
				bugcheck_last.p[2] == 0 && bugcheck_last.p[3] == 0 && sl->nfree == d &&
				memcmp(&st, &snap, sizeof(st)) == 0;
			raised++;
		} else {
			sl->nfree = (uint16_t)(sl->nfree - d);
			for (unsigned i = 0; i < live; i++)
				ExFreePool(b[i]);
			paddr_t pa = (paddr_t)((uintptr_t)sl - (uintptr_t)arch_phys_to_virt(0));
			good &= bugcheck_last.count == c0 && sl->nfree == nb - d &&
				phys_owner_of(pa) == PHYS_OWNER_POOL_SLAB && pool_check() != 0;
			lowered++;
		}
		if (!good)
			report(&wrong, up ? "free count raised" : "free count lowered", ci, c0);
	}
	ok(wrong == 0 && raised >= 30 && lowered >= 30, "a slab's free count raised (%u): its real blocks allocated, then "
	   "0x19 0x0D naming it, NULL, nothing changed; lowered (%u): no call finds it, pool_check does (%u wrong)",
	   raised, lowered, wrong);
}

/* The allocation taking an available slab's last free block puts it in front of the full list's
 * head: a corrupt head is found first (0x03 naming it, NULL, nothing changed). */
static void test_full_head_before_push(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 64; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		pool_trim();
		for (unsigned i = 0; i < 2 * nb - 1; i++)   /* slab 0 full (the full list's head), slab 1 one free */
			blocks[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x35);
		struct mirror_slab *full = slab(blocks[0]), save = *full;
		switch (below(4)) {
		case 0: full->magic ^= 1ULL << below(64); break;
		case 1: full->cls = (uint16_t)(ci + 1 + below(20)); break;
		case 2: full->nfree = (uint16_t)(1 + below(nb)); break;   /* naming the avail list, as head */
		default: full->next = (void *)((uintptr_t)slab(blocks[nb]) + 16 * (1 + below(200))); break;
		}
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		void *q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x35);
		bool good = q == NULL && raised03(c0, full, ~0ULL, ~0ULL);
		*full = save;
		if (!good)
			report(&wrong, "allocation before a corrupt full head", ci, c0);
		c0 = bugcheck_last.count;
		q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x35);
		if (!q || bugcheck_last.count != c0 || pool_check() != 0)
			report(&wrong, "restored, the allocation", ci, c0);
		if (q)
			ExFreePool(q);
		for (unsigned i = 0; i < 2 * nb - 1; i++)
			ExFreePool(blocks[i]), blocks[i] = NULL;
		cases++;
	}
	ok(wrong == 0, "%u allocations of an available slab's last block before a corrupt full-list head: 0x19 0x03 "
	   "naming the head, NULL, nothing changed; restored, they succeed (%u wrong)", cases, wrong);
}

/* The free of a block in a full slab puts that slab in front of the available list's head: a
 * corrupt head is found first (0x03 naming it, nothing changed). */
static void test_avail_head_before_push(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 64; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		pool_trim();
		for (unsigned i = 0; i < nb + 1; i++)   /* slab 0 full, slab 1 (the avail head) one block */
			blocks[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x3a);
		struct mirror_slab *head = slab(blocks[nb]), save = *head;
		switch (below(4)) {
		case 0: head->magic ^= 1ULL << below(64); break;
		case 1: head->nblocks = (uint16_t)(head->nblocks + 1 + below(50)); break;
		case 2: head->nfree = 0; break;   /* naming the full list, as head */
		default: head->prev = (void *)((uintptr_t)slab(blocks[0]) + 16 * (1 + below(200))); break;
		}
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		unsigned victim = (unsigned)below(nb);
		ExFreePool(blocks[victim]);
		bool good = raised03(c0, head, ~0ULL, ~0ULL);
		*head = save;
		if (!good)
			report(&wrong, "free in a full slab before a corrupt avail head", ci, c0);
		c0 = bugcheck_last.count;
		for (unsigned i = 0; i < nb + 1; i++)
			ExFreePool(blocks[i]), blocks[i] = NULL;
		if (bugcheck_last.count != c0 || pool_check() != 0)
			report(&wrong, "restored, the frees", ci, c0);
		cases++;
	}
	ok(wrong == 0, "%u frees of a block in a full slab before a corrupt available-list head: 0x19 0x03 naming the "
	   "head, nothing changed; restored, they succeed (%u wrong)", cases, wrong);
}

/* The free of a large block whose record's slab has a field overwritten (not its magic). */
static void test_large_record_slab_field(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 64; t++) {
		size_t n = POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE);
		uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, n, 0x36);
		uint8_t *probe = ExAllocatePoolWithTag(NonPagedPool, 40, 0x36);   /* the records' class: its head */
		struct mirror_slab *rs = slab(probe), save;
		ExFreePool(probe);
		save = *rs;
		uint64_t p3;
		switch (below(4)) {
		case 0: rs->cls = (uint16_t)(POOL_CLASSES + below(0xfff0)); p3 = rs->cls; break;
		case 1: rs->nblocks ^= (uint16_t)(1 + below(0xffff)); p3 = rs->nblocks; break;
		case 2: rs->nfree = (uint16_t)(rs->nblocks + 1 + below(100)); p3 = rs->nfree; break;
		default:
			rs->next = (void *)((uintptr_t)big + 16 * (1 + below(n / 16)));   /* inside the large block */
			p3 = (uintptr_t)rs->next;
			break;
		}
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(big);
		size_t got = 0;
		bool good = raised03(c0, rs, p3, ~0ULL) && pool_block_info(big, &got, NULL) && got == n;
		*rs = save;
		if (!good)
			report(&wrong, "large free, record's slab", 2, c0);
		c0 = bugcheck_last.count;
		ExFreePool(big);
		if (bugcheck_last.count != c0 || pool_block_info(big, NULL, NULL) || pool_check() != 0)
			report(&wrong, "restored, the large free", 2, c0);
		cases++;
	}
	ok(wrong == 0, "%u frees of a large block whose record's slab has a field overwritten: 0x19 0x03 naming that "
	   "slab with the value read, the block still live; restored, it frees (%u wrong)", cases, wrong);
}

/* A slab's class past the classes, found by the free of a block in it: P3 the class, P4 POOL_CLASSES. */
static void test_class_past_classes(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 48; t++) {
		unsigned ci = t % POOL_CLASSES;
		uint8_t *b = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x37);
		struct mirror_slab *sl = slab(b);
		uint16_t save = sl->cls;
		sl->cls = (uint16_t)(POOL_CLASSES + below(0x10000 - POOL_CLASSES));
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(b);
		bool good = raised03(c0, sl, sl->cls, POOL_CLASSES);
		sl->cls = save;
		if (!good)
			report(&wrong, "class past the classes", ci, c0);
		ExFreePool(b);
		cases++;
	}
	ok(wrong == 0 && pool_check() == 0, "%u frees in a slab whose class is past the classes: 0x19 0x03, P3 the "
	   "class read, P4 %u (%u wrong)", cases, POOL_CLASSES, wrong);
}

/* pool_trim over empty kept slabs of every class, two of them corrupt: the first one's 0x03, and
 * the other classes' slabs given back. */
static void test_trim_two_corrupt(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 40; t++) {
		pool_trim();
		struct mirror_slab *sl[POOL_CLASSES], save[POOL_CLASSES];
		for (unsigned ci = 0; ci < POOL_CLASSES; ci++) {   /* one empty slab kept per class */
			uint8_t *b = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x38);
			sl[ci] = slab(b);
			ExFreePool(b);
			save[ci] = *sl[ci];
		}
		unsigned a = (unsigned)below(POOL_CLASSES - 1), b = a + 1 + (unsigned)below(POOL_CLASSES - 1 - a);
		sl[a]->nblocks ^= 1;
		sl[b]->magic ^= 1ULL << below(64);
		pool_get_stats(&snap);
		uint64_t c0 = bugcheck_last.count;
		uint64_t released = pool_trim();
		struct pool_stats st;
		pool_get_stats(&st);
		bool good = released == POOL_CLASSES - 2 && bugcheck_last.count == c0 + 1 &&
			    bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER && bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT &&
			    bugcheck_last.p[1] == (uintptr_t)sl[a] && bugcheck_last.p[2] == sl[a]->nblocks &&
			    st.slab_pages == 2 && st.empty_slabs == 2;
		*sl[a] = save[a];
		*sl[b] = save[b];
		good &= pool_check() == 0 && pool_trim() == 2;
		if (!good)
			report(&wrong, "pool_trim, two classes corrupt", a << 4 | b, c0);
		cases++;
	}
	ok(wrong == 0, "%u trims with two classes' kept slabs corrupt: one 0x19 0x03 naming the first class's, the six "
	   "others given back; restored, both go back (%u wrong)", cases, wrong);
}

/* pool_check names a slab whose page the physical allocator holds for another owner: the slab page
 * freed and taken back as a kernel page (its header written back), then as a pool slab again. */
static void test_check_slab_owner(void)
{
	pool_test_machine(true);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 16; t++) {
		unsigned ci = t % POOL_CLASSES;
		uint8_t *b = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x39);
		struct mirror_slab *sl = slab(b), save = *sl;
		paddr_t pa = (uintptr_t)sl - (uintptr_t)arch_phys_to_virt(0);
		bool good = pool_check() == 0 && phys_owner_of(pa) == PHYS_OWNER_POOL_SLAB;
		phys_free(pa, 1);
		good &= phys_alloc(1, pa, pa + PAGE_SIZE) == pa;
		*sl = save;
		good &= phys_owner_of(pa) == PHYS_OWNER_KERNEL && pool_check() == 1;
		phys_free(pa, 1);
		good &= phys_alloc_owned(1, 1, pa, pa + PAGE_SIZE, PHYS_OWNER_POOL_SLAB) == pa;
		*sl = save;
		good &= pool_check() == 0;
		if (!good && wrong++ < 4)
			printf("# class %u: pool_check did not name the slab page held for another owner alone\n", ci);
		ExFreePool(b);
		cases++;
	}
	ok(wrong == 0 && pool_check() == 0,
	   "%u slab pages held for the kernel: pool_check finds exactly that; held for a pool slab again, clean "
	   "(%u wrong)", cases, wrong);
}

/*
 * The growable region's tear-down (docs/contract.md, section 7) over a range whose steps are MDL
 * allocations and, among them, pool memory (a large block described by MmBuildMdlForNonPagedPool,
 * made PAGES_LOCKED by hand as a driver could, and mapped there): the tear-down MDL built over the whole range lists the pool's frames, and
 * MmFreePagesFromMdl refuses it with 0x1A 0x4D440003 naming the first of them (P3 its frame, P4 its
 * index), nothing freed, the pool block intact; with MDL steps only, it frees every frame. Generated
 * step counts, sizes and kinds.
 */
static void test_teardown_lists_pool_pages(void)
{
	pool_test_machine(true);
	const ULONG tag = POOL_TAG4('G', 'r', 'o', 'w');
	unsigned cases = 0, refusals = 0, wrong = 0;
	for (unsigned t = 0; t < 40; t++) {
		char *r = MmAllocateMappingAddress(24 * PAGE_SIZE, tag);
		uint64_t off = 0, first_pool = UINT64_MAX, first_pool_pfn = 0;
		uint8_t *bufs[6];
		unsigned nbufs = 0, steps = 2 + (unsigned)below(5);
		bool mapped_all = r != NULL;
		uint64_t c_setup = bugcheck_last.count;
		for (unsigned k = 0; k < steps && mapped_all; k++) {
			uint64_t np = 1 + below(3);
			PMDL m;
			if (below(3) == 0) {   /* pool memory: a large block's pages */
				uint8_t *buf = ExAllocatePoolWithTag(NonPagedPool, np * PAGE_SIZE, 0x47);
				memset(buf, 0x47, np * PAGE_SIZE);
				m = IoAllocateMdl(buf, (ULONG)(np * PAGE_SIZE), FALSE, FALSE, NULL);
				MmBuildMdlForNonPagedPool(m);
				/* a driver's MDL over pool memory, made mappable by hand (the pool's own MDL is not) */
				m->MdlFlags = (CSHORT)((m->MdlFlags & ~MDL_SOURCE_IS_NONPAGED_POOL) | MDL_PAGES_LOCKED);
				m->MappedSystemVa = NULL;
				bufs[nbufs++] = buf;
				if (first_pool == UINT64_MAX)
					first_pool = off, first_pool_pfn = MmGetMdlPfnArray(m)[0];
			} else {
				PHYSICAL_ADDRESS lo = { .QuadPart = 0 }, hi = { .QuadPart = -1 }, sk = { .QuadPart = 0 };
				m = MmAllocatePagesForMdlEx(lo, hi, sk, np * PAGE_SIZE, MmCached, 0);
			}
			mapped_all &= m && MmMapLockedPagesWithReservedMapping(r + off * PAGE_SIZE, tag, m, MmCached) != NULL;
			if (m && (m->MdlFlags & MDL_ALLOCATED_FIXED_SIZE) == 0)   /* the growable pattern frees each */
				ExFreePool(m);                                     /* step's structure at once */
			else if (m)
				IoFreeMdl(m);   /* the caller's reserved mapping stays (mm/mdl.c) */
			off += np;
		}
		if (!mapped_all) {
			wrong++;
			printf("# step setup failed (reservation %p, step kinds/bytes at %llu)\n", (void *)r, (unsigned long long)off);
			break;
		}
		mapped_all &= bugcheck_last.count == c_setup;
		PMDL tear = IoAllocateMdl(r, (ULONG)(off * PAGE_SIZE), FALSE, FALSE, NULL);
		MmBuildMdlForNonPagedPool(tear);
		MmUnmapReservedMapping(r, tag, tear);
		struct phys_stats s0, s1;
		phys_get_stats(&s0);
		uint64_t c0 = bugcheck_last.count;
		MmFreePagesFromMdl(tear);
		phys_get_stats(&s1);
		bool good;
		if (first_pool != UINT64_MAX) {
			good = bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			       bugcheck_last.p[0] == MDL_BUGCHECK_FREE_BAD_PAGE && bugcheck_last.p[1] == (uintptr_t)tear &&
			       bugcheck_last.p[2] == first_pool_pfn && bugcheck_last.p[3] == first_pool &&
			       memcmp(&s0, &s1, sizeof(s0)) == 0 && tear->ByteCount == off * PAGE_SIZE;
			for (unsigned i = 0; i < nbufs; i++)
				good &= bufs[i][0] == 0x47 && pool_block_info(bufs[i], NULL, NULL);
			/* the MDL steps' frames back by hand: every listed frame but the pool's */
			static uint64_t mine[24];
			uint64_t n = 0, badi = 0;
			for (uint64_t i = 0; i < off; i++) {
				uint64_t f = MmGetMdlPfnArray(tear)[i];
				if (phys_owner_of(f << 12) == PHYS_OWNER_MDL)
					mine[n++] = f;
			}
			good &= phys_free_frames(mine, n, PHYS_OWNER_MDL, &badi);
			refusals++;
		} else {
			good = bugcheck_last.count == c0 && s1.mdl_pages == s0.mdl_pages - off && tear->ByteCount == 0;
		}
		for (unsigned i = 0; i < nbufs; i++)
			ExFreePool(bufs[i]);
		IoFreeMdl(tear);
		MmFreeMappingAddress(r, tag);
		struct phys_stats end;
		phys_get_stats(&end);
		good &= end.mdl_pages == 0 && pool_check() == 0 && phys_check() == 0;
		if (!good && wrong++ < 4)
			printf("# %u steps, first pool page at %llu: wrong (%llu bug checks, the last 0x%x P1 0x%llx P3 0x%llx P4 %llu)\n",
			       steps, (unsigned long long)first_pool, (unsigned long long)(bugcheck_last.count - c0),
			       bugcheck_last.code, (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[2],
			       (unsigned long long)bugcheck_last.p[3]);
		cases++;
	}
	ok(wrong == 0 && refusals > 10 && cases - refusals > 5,
	   "%u growable-region tear-downs (%u with pool memory mapped among the steps: refused naming its first frame, "
	   "nothing freed; the others freed whole) (%u wrong)", cases, refusals, wrong);
}

int main(void)
{
	test_link_not_head();
	test_prev_cleared();
	test_free_count_moved();
	test_full_head_before_push();
	test_avail_head_before_push();
	test_large_record_slab_field();
	test_class_past_classes();
	test_trim_two_corrupt();
	test_check_slab_owner();
	test_teardown_lists_pool_pages();
	bugcheck_set_hook(NULL);
	host_machine_destroy();
	return tap_done();
}
