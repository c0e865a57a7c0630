/*
 * Review round 3 of the system PTE region's per-CPU caches, map path and checks (mm/syspte_cache.c,
 * mm/syspte_map.c, mm/syspte.c, mm/syspte_report.c). Each test names the rule it holds the code to.
 *
 *   build/host/test_cache_r3
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

static uint64_t rng = 0x7233636163ULL;
static uint64_t draw(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* What syspte_check did with a corrupt region, run in a child so that a panic ends only it. */
enum check_verdict { CHECK_REPORTED, CHECK_MISSED, CHECK_PANICKED };

static enum check_verdict check_in_child(struct syspte_region *r)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		if (!getenv("R3_SHOW"))
			freopen("/dev/null", "w", stderr);
		_exit(syspte_check(r) != 0 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
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
 * the leaf and asserts that its record exists (KASSERT "start bit %llu without a record"), before
 * the walk that would report the stray bit. The control: the same stray bit with the leaf unmapped
 * is reported.
 */
static void test_stray_start_before_leaf(void)
{
	const uint32_t tag = 0x5f726174;   /* 'tar_' */
	static uint64_t pfns[SYSPTE_SPAN_PAGES];
	unsigned cases = 0, with_leaf[3] = { 0 }, without_leaf[3] = { 0 };
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
	   "(syspte_check must report it, not assert in syspte_resv_at_locked)",
	   with_leaf[CHECK_REPORTED], with_leaf[CHECK_MISSED], with_leaf[CHECK_PANICKED], cases);
	host_machine_destroy();
}

/* The change a caller makes to its frames while its map waits for a lock, and that lock. */
static struct {
	spinlock_t *held;
	uint64_t *pfns, at, value;
	bool ran;
} race;

/* Plays the caller writing pfns[at] after the map's pass read it, then the lock's holder letting go;
 * once, inside the map's spin on that lock. */
static void race_spun(void)
{
	if (race.ran)
		return;
	race.ran = true;
	race.pfns[race.at] = race.value;
	lock_play_release(race.held);
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
 * (syspte_clear_ptes_held) names it again: the flush names it twice.
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
		race = (typeof(race)){ .held = &r->lock, .pfns = pfns, .at = SYSPTE_SPAN_PAGES + q, .value = limit + q };
		lock_play_hold(&r->lock, 1);
		fake_tlb_reset();
		fake_cpu_poll_hook = race_spun;
		int got = syspte_map(r, v, tag, pfns, SYSPTE_SPAN_PAGES + m, PT_CACHE_WB);
		fake_cpu_poll_hook = NULL;
		syspte_get_stats(r, &st);
		refused += race.ran && got == SYSPTE_REFUSED && st.pages_mapped == before.pages_mapped &&
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

int main(void)
{
	test_stray_start_before_leaf();
	test_undone_leaf_named_once();
	return tap_done();
}
