/*
 * Edge cases of the system PTE region's per-CPU caches, map path and checks (mm/syspte_cache.c,
 * mm/syspte_map.c, mm/syspte.c, mm/syspte_report.c). Each test names the rule it holds the code to;
 * every case is generated, and single-threaded (another CPU's part played through lock_play.h and
 * the fake machine's poll hook), so each verdict is deterministic:
 *  1. syspte_check reports a start bit without its index entry before a 2 MiB leaf (it used to
 *     assert in syspte_resv_at_locked);
 *  2. the undo of a refused map names each 2 MiB leaf once in its flush (it used to name it twice);
 *  3. the region's last chunk and last page with the caches on, at 512, 1536 and 2560 pages;
 *  4. syspte_check reports a present level-2 entry over a span without a table (it used to miss
 *     every one);
 *  5. calls on a cached reservation whose chunk is drained (and adopted) while they wait for its
 *     owner's lock;
 *  6. a cached reservation's unmap flushes under its cache's lock when a walker's freeze sends it
 *     to the region's path (it used to flush after releasing it);
 *  7. test 4's rule over a span whose 1 GiB the region has not met (no pointer to its level-2
 *     table): the page tables are walked for it.
 *
 *   build/host/test_cache_edges
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "reserved.h"
#include "syspte.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "verifier.h"
#include "test_rng.h"
#include "lock_play.h"
#include "pt.h"
#include "bugcheck.h"
#include "bugcheck_codes.h"

static uint64_t rng = 0x7233636163ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* What syspte_check did with a corrupt region, run in a child so that a panic ends only it. */
enum check_verdict { CHECK_REPORTED, CHECK_MISSED, CHECK_PANICKED };

/* Runs fn(arg) in a child whose output goes nowhere (its stderr shown with R3_SHOW set); the wait status. */
static int quiet_child(int (*fn)(void *), void *arg)
{
	struct tap_child c = { .quiet_out = true, .quiet_err = !getenv("R3_SHOW") };
	return tap_child(&c, fn, arg);
}

/* syspte_check of region r as a child's exit status: 0 when it reported a violation, 1 when not. */
static int check_reports(void *r)
{
	return syspte_check(r) != 0 ? 0 : 1;
}

static enum check_verdict check_in_child(struct syspte_region *r)
{
	int status = quiet_child(check_reports, r);
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? CHECK_REPORTED : CHECK_MISSED;
	return CHECK_PANICKED;
}


/*
 * 1. syspte_check reports a start bit without its index entry (mm/syspte_report.c: "a start bit
 * without its index entry"; docs/design.md: the check verifies every invariant and reports the
 * first violation) and does not panic on it. Generated cases: a reservation of two spans or more, the
 * span after its first page mapped by one 2 MiB leaf, and a stray start bit at a generated page
 * between the reservation's start and that leaf. The check's leaf loop (syspte_check_tables_locked)
 * looks the leaf's reservation up with syspte_resv_at_locked, which takes the last start bit before
 * the leaf and asserts that its record exists (KASSERT "start bit %llu without a record"): the loop
 * used to reach that assertion before the walk that reports the stray bit, and now tests the bit
 * against the index first. The same holds when the reservation's own index entry carries another
 * start (its start bit then has no entry). The control: the same stray bit with the
 * leaf unmapped is reported.
 */
static void test_stray_start_before_leaf(void)
{
	const uint32_t tag = 0x5f726174;   /* 'tar_' */
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	unsigned cases = 0, with_leaf[3] = { 0 }, without_leaf[3] = { 0 }, moved_entry[3] = { 0 };
	if (host_machine_create(64ULL << 20, 64ULL << 20)) {
		ok(0, "machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	for (unsigned t = 0; t < 12; t++) {
		vaddr_t v = syspte_reserve(r, 2 * SYSPTE_SPAN_PAGES + draw(SYSPTE_SPAN_PAGES), tag, 0);
		if (!v)
			break;
		uint64_t s = (v - r->base) >> PAGE_SHIFT;
		uint64_t leaf = (s | (SYSPTE_SPAN_PAGES - 1)) + 1;   /* the first span boundary after s */
		uint64_t first = SYSPTE_SPAN_PAGES * (1 + draw(64));
		for (uint64_t q = 0; q < SYSPTE_SPAN_PAGES; q++)
			pfns[q] = first + q;
		if (syspte_map(r, syspte_va(r, leaf), tag, pfns, SYSPTE_SPAN_PAGES, PT_CACHE_WB) != SYSPTE_OK ||
		    !syspte_span_leaf(r, leaf >> SYSPTE_SPAN_SHIFT) || syspte_check(r) != 0) {
			ok(0, "set-up of case %u", t);
			break;
		}
		uint64_t p = s + 1 + draw(leaf - s);   /* in (s, leaf] */
		bitset_set(&r->starts, p);
		with_leaf[check_in_child(r)]++;
		bitset_clear(&r->starts, p);
		struct syspte_resv *e = syspte_index_find(&r->index, s);   /* its record moved to another start */
		uint32_t was = e->start;
		e->start = (uint32_t)p;
		moved_entry[check_in_child(r)]++;
		e->start = was;
		if (syspte_unmap(r, syspte_va(r, leaf), tag, SYSPTE_SPAN_PAGES) != SYSPTE_OK) {
			ok(0, "unmap of case %u", t);
			break;
		}
		bitset_set(&r->starts, p);
		without_leaf[check_in_child(r)]++;
		bitset_clear(&r->starts, p);
		cases++;
	}
	ok(cases == 12 && without_leaf[CHECK_REPORTED] == cases,
	   "control: a stray start bit inside a reservation, no leaf after it, reported in %u of %u cases", without_leaf[0],
	   cases);
	ok(cases == 12 && with_leaf[CHECK_REPORTED] == cases,
	   "a stray start bit before a 2 MiB leaf of the same reservation: reported %u, missed %u, panicked %u of %u "
	   "(syspte_check reports it, no assertion in syspte_resv_at_locked)",
	   with_leaf[CHECK_REPORTED], with_leaf[CHECK_MISSED], with_leaf[CHECK_PANICKED], cases);
	ok(cases == 12 && moved_entry[CHECK_REPORTED] == cases,
	   "the record of a reservation with a 2 MiB leaf keyed by another start (its start bit without its entry): "
	   "reported %u, missed %u, panicked %u of %u", moved_entry[CHECK_REPORTED], moved_entry[CHECK_MISSED],
	   moved_entry[CHECK_PANICKED], cases);
	host_machine_destroy();
}

/*
 * 2. A map refused because its caller turned a frame beyond the physical width after the map's pass
 * read it clears what it wrote and "invalidates it as an unmap does" (docs/contract.md section 3,
 * "The MDL must not change during the call"); an unmap names a span mapped by a 2 MiB leaf once
 * ("a span mapped by a 2 MiB leaf counts as one page here (one invlpg of its address)"), and the map
 * names each leaf once. Generated cases on the region's path (a reservation of 1024 pages, 2 MiB
 * aligned): a map of 512 + m pages whose first span is one aligned run of frames (a leaf) and whose
 * frame 512 + q turns beyond the width while the map spins on the region's lock (held by CPU 1):
 * REFUSED, nothing mapped, and one flush naming the leaf's address once and the q pages written
 * after it once each. The write names the leaf (syspte_write_ptes_held) and the undo
 * (syspte_clear_ptes_held) names it again: the flush used to name it twice (the undo now starts
 * the batch again, syspte_undo_write_held).
 */
static void test_undone_leaf_named_once(void)
{
	const uint32_t tag = 0x6f646e75;   /* 'undo' */
	const uint64_t limit = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	static uint64_t pfns[2 * SYSPTE_SPAN_PAGES];
	unsigned cases = 0, refused = 0, named_once = 0, leaf_twice = 0;
	if (host_machine_create(64ULL << 20, 64ULL << 20)) {
		ok(0, "machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 2 * SYSPTE_SPAN_PAGES, tag, SYSPTE_FLAG_DIVISIBLE);
	for (unsigned t = 0; v && t < 24; t++, cases++) {
		uint64_t m = 1 + draw(100), q = draw(MIN(m, 29)), first = SYSPTE_SPAN_PAGES * (1 + draw(64));
		for (uint64_t k = 0; k < SYSPTE_SPAN_PAGES; k++)
			pfns[k] = first + k;
		for (uint64_t k = 0; k < m; k++)
			pfns[SYSPTE_SPAN_PAGES + k] = 0x7000 + 3 * k;
		struct syspte_stats before, st;
		syspte_get_stats(r, &before);
		lock_play_race = (typeof(lock_play_race)){ .held = &r->lock, .pfns = pfns, .at = SYSPTE_SPAN_PAGES + q, .value = limit + q };
		lock_play_hold(&r->lock, 1);
		fake_tlb_reset();
		fake_cpu_poll_hook = lock_play_race_spun;
		int got = syspte_map(r, v, tag, pfns, SYSPTE_SPAN_PAGES + m, PT_CACHE_WB);
		fake_cpu_poll_hook = NULL;
		syspte_get_stats(r, &st);
		refused += lock_play_race.ran && got == SYSPTE_REFUSED && st.pages_mapped == before.pages_mapped &&
			   st.large_leaves == 0 && syspte_check(r) == 0 &&
			   !pt_query(host_machine_pt(), v, NULL, NULL, NULL);
		/* the flush: the leaf's address and the q pages after its span, each once */
		const struct fake_tlb_flush *e = fake_tlb.flushes == 1 && fake_tlb.logged == 1 ? &fake_tlb.ev[0] : NULL;
		unsigned leaf_named = 0, pages_named = 0;
		for (unsigned k = 0; e && !e->all && k < e->n; k++) {
			uint64_t off = (e->va[k] - v) >> PAGE_SHIFT;
			leaf_named += e->va[k] == v;
			pages_named += off >= SYSPTE_SPAN_PAGES && off < SYSPTE_SPAN_PAGES + q;
		}
		bool exact = e && !e->all && e->n == 1 + q && leaf_named == 1 && pages_named == q;
		named_once += exact;
		leaf_twice += leaf_named == 2;
		if (!exact && t == 0)
			printf("# %llu pages, frame %llu after the leaf changed: the flush named %u pages, the leaf %u times\n",
			       (unsigned long long)(SYSPTE_SPAN_PAGES + m), (unsigned long long)q, e ? e->n : 0, leaf_named);
	}
	ok(cases == 24 && refused == cases, "control: %u of %u maps whose frame turned beyond the width refused, "
	   "nothing left mapped", refused, cases);
	ok(cases == 24 && named_once == cases,
	   "the undo of a refused map names its 2 MiB leaf once: %u of %u flushes exact, %u named the leaf twice",
	   named_once, cases, leaf_twice);
	host_machine_destroy();
}

/* buddy_for_each_free's callback: the longest extent seen into *arg. */
static void longest_cb(uint64_t start, uint64_t count, void *arg)
{
	(void)start;
	uint64_t *m = arg;
	*m = MAX(*m, count);
}

/* The allocator's longest free extent. */
static uint64_t allocator_longest(struct syspte_region *r)
{
	uint64_t longest = 0, f = spin_lock(&r->lock);
	buddy_for_each_free(&r->buddy, longest_cb, &longest);
	spin_unlock(&r->lock, f);
	return longest;
}

/*
 * 3. The top of the region with the caches on, at the smallest region (one span, 512 pages) and odd
 * multiples of it (1536, 2560), normally and in verifier mode (passing coverage). CPU 0 leaves free
 * free only the region's last 126 pages (whose one aligned chunk is the region's last) and 63-page
 * holes (none holds an aligned chunk), so CPU 1's cache is carved at the region's end:
 *  - CPU 1 fills that chunk with one-page reservations; the one at the region's last page (its
 *    guard's, in verifier mode) is mapped, looked up, unmapped (one flush naming that page) and
 *    all are freed from CPU 2; syspte_check clean after each step;
 *  - a request of the 62 free pages below the chunk plus the chunk (126 pages, less the guard) is placed at
 *    the region's end by a drain of CPU 1's cache (docs/contract.md section 6: refused only when no
 *    run exists in the allocator's and the caches' free space together);
 *  - with everything freed, a reservation of the whole region (less the guard) is placed and, not
 *    in verifier mode, mapped by one 2 MiB leaf per span and unmapped with one flush naming each
 *    leaf once; the region is whole afterwards.
 */
static void test_edges_small_regions(void)
{
	static const uint64_t sizes[] = { 512, 1536, 2560 };
	static uint64_t pfns[2560];
	const uint32_t tag = 0x65676465;   /* 'edge' */
	unsigned runs = 0, good_runs = 0;
	for (unsigned vm = 0; vm < 2; vm++)
		for (unsigned z = 0; z < 3; z++, runs++) {
			uint64_t npages = sizes[z];
			unsigned bad = 0, step = 0;
#define EXPECT(c) do { step++; if (!(c)) { bad++; if (bad < 4) printf("# %llu pages%s: step %u failed: %s\n", \
				(unsigned long long)npages, vm ? " (verifier)" : "", step, #c); } } while (0)
			mm_verifier_set(vm);
			if (host_machine_create(64ULL << 20, npages * PAGE_SIZE)) {
				ok(0, "machine of %llu pages", (unsigned long long)npages);
				continue;
			}
			struct syspte_region *r = reserved_region();
			uint64_t g = r->guard;
			vaddr_t held[64];
			unsigned nheld = 0;
			fake_cpu_switch(0);
			for (vaddr_t v; nheld < 64 && (v = syspte_reserve(r, 63 - g, tag, 0)) != 0;)
				held[nheld++] = v;   /* from the region's end down: held[j] at npages - 63 (j + 1) */
			for (uint64_t l; (l = allocator_longest(r)) > g;)
				EXPECT(syspte_reserve(r, l - g, tag, 0) != 0);
			EXPECT(nheld >= 6 && held[0] == syspte_va(r, npages - 63) && held[1] == syspte_va(r, npages - 126));
			/* free: the region's last 126 pages (whose one aligned chunk is the last) and 63-page holes */
			for (unsigned k = 0; k < nheld; k++)
				if (k < 2 || (k > 2 && k % 2))
					EXPECT(syspte_release(r, held[k], tag) == SYSPTE_OK);
			EXPECT(syspte_check(r) == 0);
			/* CPU 1's cache: its one chunk is the region's last */
			fake_cpu_switch(1);
			vaddr_t got[SYSPTE_CHUNK_PAGES];
			unsigned n = 0;
			while (n < SYSPTE_CHUNK_PAGES / (1 + g) && (got[n] = syspte_reserve(r, 1, tag, 0)) != 0)
				n++;
			struct syspte_cache *c = r->cache.cpu[1];
			EXPECT(n == SYSPTE_CHUNK_PAGES / (1 + g) && c && c->nchunks == 1 && c->live == n);
			EXPECT(c && c->active[0] && c->active[0]->index == r->cache.nchunks - 1);
			EXPECT(n && got[n - 1] == syspte_va(r, npages - 1 - g) && syspte_check(r) == 0);
			if (n) {
				struct syspte_info info;
				pfns[0] = 0x4242;
				fake_cpu_switch(2);
				EXPECT(syspte_map(r, got[n - 1], tag, pfns, 1, PT_CACHE_WB) == SYSPTE_OK);
				EXPECT(syspte_lookup(r, got[n - 1], &info) && info.mapped == 1 && info.base == got[n - 1]);
				EXPECT(syspte_check(r) == 0);
				fake_tlb_reset();
				EXPECT(syspte_unmap(r, got[n - 1], tag, 1) == SYSPTE_OK);
				EXPECT(fake_tlb.flushes == 1 && fake_tlb_flushed_range(0, got[n - 1], 1));
				EXPECT(!syspte_lookup(r, got[n - 1] + PAGE_SIZE * g, NULL) || !g);
			}
			fake_cpu_switch(2);
			for (unsigned k = 0; k < n; k++)
				EXPECT(syspte_release(r, got[k], tag) == SYSPTE_OK);
			EXPECT(syspte_check(r) == 0);
			/* the hole below the chunk and the chunk: placed by a drain, at the region's end */
			struct syspte_stats s0, s1;
			syspte_get_stats(r, &s0);
			fake_cpu_switch(0);
			vaddr_t across = syspte_reserve(r, 126 - g, tag, 0);
			syspte_get_stats(r, &s1);
			EXPECT(across == syspte_va(r, npages - 126) && s1.cache_drains == s0.cache_drains + 1);
			EXPECT(syspte_check(r) == 0);
			if (across)
				EXPECT(syspte_release(r, across, tag) == SYSPTE_OK);
			/* everything freed: the whole region, mapped by leaves */
			for (vaddr_t v = syspte_va(r, 0); v; v = 0) {
				struct syspte_info info;
				for (uint64_t i = 0; i < npages; i++)
					if (syspte_lookup(r, syspte_va(r, i), &info) && info.base == syspte_va(r, i))
						EXPECT(syspte_release(r, info.base, tag) == SYSPTE_OK);
			}
			vaddr_t w = syspte_reserve(r, npages - g, tag, 0);
			EXPECT(w == r->base && syspte_check(r) == 0);
			if (w && !g) {
				for (uint64_t k = 0; k < npages; k++)
					pfns[k] = SYSPTE_SPAN_PAGES * 8 + k;
				EXPECT(syspte_map(r, w, tag, pfns, npages, PT_CACHE_WB) == SYSPTE_OK);
				struct syspte_stats st;
				syspte_get_stats(r, &st);
				EXPECT(st.large_leaves == r->nspans && st.pages_mapped == npages && syspte_check(r) == 0);
				fake_tlb_reset();
				EXPECT(syspte_unmap(r, w, tag, npages) == SYSPTE_OK);
				vaddr_t leaves[8];
				for (uint64_t k = 0; k < r->nspans; k++)
					leaves[k] = r->base + k * SIZE_2M;
				EXPECT(fake_tlb.flushes == 1 && fake_tlb_flushed_pages(0, leaves, r->nspans));
			}
			if (w)
				EXPECT(syspte_release(r, w, tag) == SYSPTE_OK);
			struct syspte_stats st;
			syspte_get_stats(r, &st);
			EXPECT(st.free_pages == npages && st.live == 0 && st.large_leaves == 0 && syspte_check(r) == 0);
#undef EXPECT
			good_runs += bad == 0;
			fake_cpu_switch(0);
			host_machine_destroy();
			mm_verifier_set(false);
		}
	ok(good_runs == runs, "the region's last chunk and page with the caches on, at 512, 1536 and 2560 pages, with "
	   "and without the verifier: %u of %u runs clean", good_runs, runs);
}

/*
 * 4. syspte_check checks the region's level-2 entries (mm/syspte_report.c, syspte_check_tables_locked:
 * "each span's directory entries agree (a table's address and its level-2 entry: the table, or a 2
 * MiB leaf over a span one reservation maps whole)"; "present PTEs outside any reservation"). A
 * span without a level-1 table has no mapping and no reservation, so its level-2 entry must not be
 * present. Generated cases: on a region whose first GiB's level-2 table is known (a reservation made
 * one span's table), a span with no table gets a present entry, a 2 MiB leaf of a memory type a map
 * writes or a pointer to a page as a table, and syspte_check is asked; the entry is cleared after
 * each case. The check used to read no span's entry while the span had no table, so it missed
 * every one; such an entry also stops a later reservation from getting its table (pt_span_tables leaves spans
 * whose entry is present), so the region's own map would meet a span without slots.
 */
static void test_present_entry_without_table(void)
{
	const uint32_t tag = 0x6c626174;   /* 'tabl' */
	unsigned cases = 0, verdict[3] = { 0 };
	if (host_machine_create(64ULL << 20, 64ULL << 20)) {
		ok(0, "machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 600, tag, 0);   /* a span's table, and the level-2 table it hangs from */
	if (!v || syspte_check(r) != 0) {
		ok(0, "set-up");
		return;
	}
	for (unsigned t = 0; t < 16; t++) {
		uint64_t s;
		do
			s = draw(r->nspans);
		while (syspte_has_table(r, s));
		volatile pte_t *pde = syspte_pde(r, s);
		pte_t was = arch_pte_read(pde);
		if (arch_pte_present(was)) {
			ok(0, "span %llu has no table yet a present level-2 entry", (unsigned long long)s);
			break;
		}
		paddr_t pa = (t % 2) ? SIZE_2M * (1 + draw(16)) : PAGE_SIZE * (256 + draw(1024));
		pte_t e = (t % 2) ? arch_pte_leaf(r->attrs2[draw(PT_CACHE_TYPES)], pa) : arch_pte_table(pa);
		arch_pte_write(pde, e);
		verdict[check_in_child(r)]++;
		arch_pte_write(pde, was);
		cases++;
	}
	ok(cases == 16 && syspte_check(r) == 0, "control: %u cases, the region consistent again after each", cases);
	ok(cases == 16 && verdict[CHECK_REPORTED] == cases,
	   "a present level-2 entry over a span without a table (a 2 MiB leaf, or a table pointer): reported %u, "
	   "missed %u, panicked %u of %u", verdict[CHECK_REPORTED], verdict[CHECK_MISSED], verdict[CHECK_PANICKED], cases);
	host_machine_destroy();
}

/* The bug checks raised (the hook returns: the call goes on as after a report). */
static struct {
	unsigned n;
	uint64_t code, p1, p2, p3, p4;
} raised;

static void record_bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	raised.n++;
	raised.code = code, raised.p1 = p1, raised.p2 = p2, raised.p3 = p3, raised.p4 = p4;
}

/* What the poll hook of test 5 does while the call spins on CPU 1's cache's lock: CPU 1 lets go of
 * it, then (as the spinning CPU, which holds no lock yet) every cache is drained into the region
 * and, when adopt is set, the chunk of page i is adopted by the spinning CPU's cache. */
static struct {
	struct syspte_region *r;
	spinlock_t *held;
	uint64_t i, n;
	bool adopt, ran, drained, adopted;
} mover;

static void mover_spun(void)
{
	if (mover.ran)
		return;
	mover.ran = true;
	lock_play_release(mover.held);
	struct syspte_region *r = mover.r;
	uint64_t f = spin_lock(&r->lock);
	mover.drained = syspte_cache_drain_locked(r, 1, 1) && !syspte_cache_owner_page(r, mover.i);
	if (mover.adopt) {
		syspte_cache_adopt_locked(r, mover.i, mover.n);
		mover.adopted = syspte_cache_owner_page(r, mover.i) == fake_cpu + 1;
	}
	spin_unlock(&r->lock, f);
}

enum race_op { OP_FREE, OP_FREE_WRONG_TAG, OP_MAP, OP_UNMAP, OP_LOOKUP, OP_COUNT };

/*
 * 5. A call on a cached reservation whose chunk is drained (and, in half the cases, adopted by the
 * calling CPU's cache) between the call's read of the chunk's owner and its taking of that owner's
 * lock (docs/design.md, "Per-CPU caches": the owner is a hint checked again under the owner's lock;
 * a drain moves the reservation into the region's index; mm/syspte.h: the calls may run
 * concurrently on several CPUs). Deterministic: CPU 1 (played) holds its cache's lock, CPU 2 makes
 * the call, and the move runs inside CPU 2's spin, after which CPU 1 lets go. Generated sizes 1..16,
 * every call: a free with the right tag (OK, the reservation gone), with another tag (0xDA 0x101
 * with the contract's parameters, nothing changed), a map (OK, the pages mapped, counted once), an
 * unmap of a mapping (OK, one flush naming the pages), a lookup (base, size, tag, pages mapped).
 * Passing coverage: syspte_check clean and the statistics those of the reservations after each.
 */
static void test_call_meets_drained_chunk(void)
{
	const uint32_t tag = 0x6e617264;   /* 'dran' */
	unsigned cases = 0, good = 0;
	bugcheck_hook_t old = bugcheck_set_hook(record_bugcheck);
	for (unsigned op = 0; op < OP_COUNT; op++)
		for (unsigned adopt = 0; adopt < 2; adopt++)
			for (unsigned t = 0; t < 4; t++, cases++) {
				if (host_machine_create(64ULL << 20, 16ULL << 20)) {
					ok(0, "machine");
					goto out;
				}
				struct syspte_region *r = reserved_region();
				uint64_t n = 1 + draw(SYSPTE_CACHE_MAX_PAGES), pfns[SYSPTE_CACHE_MAX_PAGES];
				for (uint64_t k = 0; k < n; k++)
					pfns[k] = 0x5000 + 7 * k;
				fake_cpu_switch(2);   /* CPU 2's cache exists, with room for an adopted chunk */
				syspte_release(r, syspte_reserve(r, 1, tag, 0), tag);
				fake_cpu_switch(1);
				vaddr_t v = syspte_reserve(r, n, tag, 0);
				uint64_t i = (v - r->base) >> PAGE_SHIFT;
				struct syspte_cache *c1 = r->cache.cpu[1];
				bool set_up = v && c1 && syspte_cache_owner_page(r, i) == 2;
				if (set_up && op == OP_UNMAP)
					set_up = syspte_map(r, v, tag, pfns, n, PT_CACHE_WB) == SYSPTE_OK;
				if (!set_up) {
					printf("# case %u: set-up failed\n", cases);
					host_machine_destroy();
					continue;
				}
				struct syspte_stats before, after;
				syspte_get_stats(r, &before);
				mover = (typeof(mover)){ .r = r, .held = &c1->lock, .i = i, .n = n, .adopt = adopt };
				lock_play_hold(&c1->lock, 1);
				fake_cpu_switch(2);
				fake_tlb_reset();
				raised.n = 0;
				fake_cpu_poll_hook = mover_spun;
				bool right = false;
				struct syspte_info info = { 0 };
				switch (op) {
				case OP_FREE:
					right = syspte_release(r, v, tag) == SYSPTE_OK;
					break;
				case OP_FREE_WRONG_TAG:
					right = syspte_release(r, v, tag + 1) == SYSPTE_MISUSE && raised.n == 1 &&
						raised.code == BUGCHECK_SYSTEM_PTE_MISUSE && raised.p1 == SYSPTE_BUGCHECK_FREE_WRONG_TAG &&
						raised.p2 == v && raised.p3 == tag + 1 && raised.p4 == tag;
					break;
				case OP_MAP:
					right = syspte_map(r, v, tag, pfns, n, PT_CACHE_WB) == SYSPTE_OK;
					break;
				case OP_UNMAP:
					right = syspte_unmap(r, v, tag, n) == SYSPTE_OK && fake_tlb.flushes == 1 &&
						(n > TLB_BATCH_PAGES ? fake_tlb.alls == 1 : fake_tlb_flushed_range(0, v, n));
					break;
				case OP_LOOKUP:
					right = syspte_lookup(r, v + draw(n) * PAGE_SIZE, &info) && info.base == v && info.npages == n &&
						info.tag == tag && info.mapped == 0;
					break;
				}
				fake_cpu_poll_hook = NULL;
				syspte_get_stats(r, &after);
				bool moved = mover.ran && mover.drained && (!adopt || mover.adopted);
				bool counts = after.live == before.live - (op == OP_FREE) &&
					      after.pages_reserved == before.pages_reserved - (op == OP_FREE ? n : 0) &&
					      after.pages_mapped == before.pages_mapped + (op == OP_MAP ? n : 0) - (op == OP_UNMAP ? n : 0);
				bool mapped_now = pt_query(host_machine_pt(), v, NULL, NULL, NULL);
				bool pages = op == OP_MAP ? mapped_now : !mapped_now;
				bool clean = syspte_check(r) == 0 && (op == OP_FREE_WRONG_TAG || raised.n == 0);
				if (moved && right && counts && pages && clean)
					good++;
				else
					printf("# %s, %llu pages%s: moved %d, outcome %d, counts %d, PTEs %d, check %d\n",
					       (const char *[]){ "free", "free with another tag", "map", "unmap", "lookup" }[op],
					       (unsigned long long)n, adopt ? ", adopted" : "", moved, right, counts, pages, clean);
				fake_cpu_switch(0);
				host_machine_destroy();
			}
out:
	bugcheck_set_hook(old);
	ok(cases == OP_COUNT * 8 && good == cases, "calls on a cached reservation whose chunk was drained (and adopted) "
	   "while they waited for its owner's lock: %u of %u as the contract says", good, cases);
}

/* Test 6's played walker on CPU 0: it holds the region's lock with the caches frozen; inside the
 * unmap's spin on that lock it thaws them and lets go, as syspte_get_stats does. */
static struct syspte_region *walker_r;
static bool walker_ran;

static void walker_done(void)
{
	if (walker_ran)
		return;
	walker_ran = true;
	__atomic_store_n(&walker_r->cache.frozen, 0, __ATOMIC_RELEASE);
	lock_play_release(&walker_r->lock);
}

/*
 * 6. The unmap of a reservation a CPU's cache holds flushes its TLB batch under that cache's lock
 * (include/tlb_batch.h: "One exception: the unmap of a reservation a per-CPU cache holds ... flushes
 * under that cache's lock alone (mm/syspte_map.c), so not even a racing free can reuse its pages
 * first"; mm/syspte_map.c: "A cached unmap flushes its batch before it releases the cache's lock").
 * Generated sizes 1..16 of a reservation CPU 1's cache placed and CPU 2 mapped, unmapped from CPU 2
 * while a walker (played by CPU 0: the region's lock held, the caches frozen, as syspte_get_stats
 * does) makes the fast path step aside: the unmap takes the region's path, which takes the cache's
 * lock through syspte_resv_at_locked, and used to release it (syspte_unhold_locked) before its
 * flush (syspte_region_done now flushes before). The flush's record (fake_tlb ev[0].ranks) must
 * show the cache's lock held; the control, the same unmap with no walker, does.
 */
static void test_cached_unmap_flush_under_lock(void)
{
	const uint32_t tag = 0x6873756c;   /* 'lush' */
	unsigned cases = 0, fast_under = 0, region_under = 0;
	if (host_machine_create(64ULL << 20, 16ULL << 20)) {
		ok(0, "machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	uint64_t pfns[SYSPTE_CACHE_MAX_PAGES];
	for (uint64_t n = 1; n <= SYSPTE_CACHE_MAX_PAGES; n++, cases++)
		for (unsigned walker = 0; walker < 2; walker++) {
			for (uint64_t k = 0; k < n; k++)
				pfns[k] = 0x6000 + k;
			fake_cpu_switch(1);
			vaddr_t v = syspte_reserve(r, n, tag, 0);
			if (!v || syspte_cache_owner_page(r, (v - r->base) >> PAGE_SHIFT) != 2)
				continue;
			fake_cpu_switch(2);
			if (syspte_map(r, v, tag, pfns, n, PT_CACHE_WB) != SYSPTE_OK)
				continue;
			fake_tlb_reset();
			if (walker) {
				walker_r = r;
				walker_ran = false;
				lock_play_hold(&r->lock, 0);
				__atomic_store_n(&r->cache.frozen, 1, __ATOMIC_RELEASE);
				fake_cpu_poll_hook = walker_done;
			}
			int st = syspte_unmap(r, v, tag, n);
			fake_cpu_poll_hook = NULL;
			bool under = st == SYSPTE_OK && fake_tlb.flushes == 1 && fake_tlb.logged == 1 &&
				     (fake_tlb.ev[0].ranks & (1u << LOCK_RANK_SYSPTE_CACHE)) &&
				     (n > TLB_BATCH_PAGES || fake_tlb_flushed_range(0, v, n));
			if (walker)
				region_under += under && walker_ran;
			else
				fast_under += under;
			if (syspte_check(r) != 0 || syspte_release(r, v, tag) != SYSPTE_OK)
				printf("# %llu pages: the region inconsistent after the unmap\n", (unsigned long long)n);
		}
	ok(cases == SYSPTE_CACHE_MAX_PAGES && fast_under == cases,
	   "control: a cached unmap on the fast path flushes under its cache's lock (%u of %u)", fast_under, cases);
	ok(cases == SYSPTE_CACHE_MAX_PAGES && region_under == cases,
	   "a cached unmap sent to the region's path by a walker's freeze flushes under its cache's lock: %u of %u",
	   region_under, cases);
	fake_cpu_switch(0);
	host_machine_destroy();
}

/* A page-table change pt_change_in_child makes in its child. */
struct pt_change {
	struct syspte_region *r;
	vaddr_t va;
	unsigned kind;
	paddr_t pa;
};

/* The change made, then check_reports; 2 when the page-table call failed. */
static int pt_change_reports(void *arg)
{
	const struct pt_change *c = arg;
	struct pt *pt = host_machine_pt();
	int st = c->kind == 0   ? pt_map(pt, c->va, c->pa, SIZE_2M, PT_PROT_W, PT_SIZE_2M)
		 : c->kind == 1 ? pt_prealloc(pt, c->va, PAGE_SIZE)
				: pt_map(pt, c->va, c->pa, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	if (st != PT_OK)
		return 2;
	return check_reports(c->r);
}

/* What a page-table change made behind the region's back (in a child, so nothing needs undoing)
 * does to syspte_check: kind 0 maps a 2 MiB leaf at va, 1 makes the tables down to level 1 (a
 * level-2 pointer to an empty table), 2 maps one 4 KiB page there (a pointer and a present PTE). */
static enum check_verdict pt_change_in_child(struct syspte_region *r, vaddr_t va, unsigned kind, paddr_t pa)
{
	struct pt_change c = { r, va, kind, pa };
	int status = quiet_child(pt_change_reports, &c);
	if (WIFEXITED(status) && WEXITSTATUS(status) < 2)
		return WEXITSTATUS(status) == 0 ? CHECK_REPORTED : CHECK_MISSED;
	return CHECK_PANICKED;
}

/*
 * 7. Test 4's rule where the region has not met the level-2 table of a span's 1 GiB (no span of
 * that GiB has a table, so the region holds no pointer to it: mm/syspte_impl.h, pd): the page
 * tables themselves still must map nothing there and point to no table for the span. Generated
 * cases on a region of 2 GiB with one reservation's tables in its last GiB: a span without a
 * table, drawn from either GiB, gets (through the page tables' own calls, behind the region's
 * back) a 2 MiB leaf, a table pointer to an empty table, or a table with one page mapped; the
 * check must report each. The control: the same region unchanged is consistent, and the spans
 * drawn lie in both kinds of GiB.
 */
static void test_present_entry_unmet_gib(void)
{
	const uint32_t tag = 0x626967;   /* 'gib' */
	unsigned cases = 0, unmet = 0, met = 0, verdict[3] = { 0 };
	if (host_machine_create(64ULL << 20, 2ULL << 30)) {
		ok(0, "machine");
		return;
	}
	struct syspte_region *r = reserved_region();
	vaddr_t v = syspte_reserve(r, 600, tag, 0);   /* tables at the region's end: its last GiB met */
	bool set_up = v && syspte_check(r) == 0;
	for (unsigned t = 0; set_up && t < 24; t++, cases++) {
		uint64_t s;
		do
			s = draw(r->nspans);
		while (syspte_has_table(r, s));
		bool known = r->pd[((r->span0 & (PT_ENTRIES - 1)) + s) >> SYSPTE_SPAN_SHIFT] != NULL;
		met += known;
		unmet += !known;
		paddr_t pa = SIZE_2M * (1 + draw(16));
		verdict[pt_change_in_child(r, syspte_va(r, s << SYSPTE_SPAN_SHIFT), t % 3, pa)]++;
	}
	ok(set_up && cases == 24 && met && unmet && syspte_check(r) == 0,
	   "control: %u spans in a GiB the region met, %u in one it did not, the region consistent", met, unmet);
	ok(cases == 24 && verdict[CHECK_REPORTED] == cases,
	   "a 2 MiB leaf, a table pointer or a mapped page made by the page tables over a span without a table, "
	   "its GiB met or not: reported %u, missed %u, failed or panicked %u of %u", verdict[CHECK_REPORTED],
	   verdict[CHECK_MISSED], verdict[CHECK_PANICKED], cases);
	host_machine_destroy();
}

int main(void)
{
	test_stray_start_before_leaf();
	test_undone_leaf_named_once();
	test_edges_small_regions();
	test_present_entry_without_table();
	test_call_meets_drained_chunk();
	test_cached_unmap_flush_under_lock();
	test_present_entry_unmet_gib();
	return tap_done();
}
