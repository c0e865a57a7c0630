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

int main(void)
{
	test_stray_start_before_leaf();
	return tap_done();
}
