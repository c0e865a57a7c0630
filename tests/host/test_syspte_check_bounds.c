/*
 * The region's checker and set-up against inputs it once mishandled (found by a review; each case
 * failed on the code before its fix):
 *  1. syspte_check on an index record whose span runs past the region's end (the guard bit set,
 *     or its pages + 1, on the reservation at the region's last pages: the allocator's first)
 *     reports it and returns -1. It used to panic in buddy_chunk_present: the walk of the spans'
 *     tables and chunks ran before the record's bounds were tested, reading table_pa[nspans].
 *     Its start + 1 was always caught: kept as the control.
 *  2. bitset_check refuses a summary bit past the end of the level below (with the bit above it).
 *     It accepted it, and syspte_check's walk then descended into a level-0 word past the end
 *     (__builtin_ctzll(0): undefined, UBSan aborts); the start bits are now checked first.
 *  3. A region at base 0 is refused: a reservation placed at page 0 returned 0, the refusal value,
 *     while the region kept it (live, pages gone).
 *  4. syspte_check catches the allocator's origin or unit count made to differ from the region's
 *     (DIVISIBLE placements follow the origin); it passed them.
 *
 * Each crash-prone case runs in a child process, so one failing case does not end the others.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "tap.h"
#include "host_machine.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "vmlayout.h"

/* A test's verdict function and its argument, run by in_child. */
struct verdict_call {
	bool (*fn)(void *);
	void *arg;
};

/* A verdict_call's verdict as a child's exit status: 0 when fn held. */
static int verdict_status(void *call)
{
	const struct verdict_call *v = call;
	return v->fn(v->arg) ? 0 : 1;
}

/* Runs fn(arg) in a child; true when it exited with status 0 (fn's verdict), false when it failed
 * or died (a panic, a sanitizer's abort). */
static bool in_child(bool (*fn)(void *), void *arg)
{
	struct verdict_call v = { fn, arg };
	struct tap_child c = { .quiet_out = true };   /* the check's reports are not our TAP */
	int status = tap_child(&c, verdict_status, &v);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static vaddr_t next_base = SYSPTE_BASE + (400ULL << 30);

static struct syspte_region *fresh(uint64_t npages)
{
	struct syspte_region *r = syspte_create_ex(host_machine_pt(), next_base, npages, SYSPTE_CREATE_NO_CACHE);
	next_base += 1ULL << 30;
	return r;
}

/* ---- 1 */

struct past_end {
	uint64_t n;
	unsigned kind;   /* 0: guard bit set, 1: pages + 1, 2: start + 1 */
};

static bool past_end_caught(void *arg)
{
	const struct past_end *p = arg;
	struct syspte_region *r = fresh(4096);
	vaddr_t va = syspte_reserve(r, p->n, 0x646e4550, 0);
	if (!va || syspte_va(r, r->npages) != va + p->n * PAGE_SIZE)
		return false;   /* the empty region's first reservation ends at its last page */
	struct syspte_resv *v = syspte_index_find(&r->index, (va - r->base) >> PAGE_SHIFT);
	if (p->kind == 0)
		v->guard = 1;
	else if (p->kind == 1)
		v->npages++;
	else
		v->start++;
	return syspte_check(r) == -1;
}

static void test_record_past_end(void)
{
	static const uint64_t sizes[] = { 1, 3, 5, 7, 13, 21, 34, 55, 89, 100, 511, 513, 1000 };   /* not powers of two but 1: taken from the back */
	unsigned good = 0, cases = 0;
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		for (unsigned kind = 0; kind < 3; kind++, cases++) {
			struct past_end p = { sizes[k], kind };
			bool g = in_child(past_end_caught, &p);
			good += g;
			if (!g)
				printf("# %llu pages at the region's end, %s: check did not return -1\n", (unsigned long long)p.n,
				       kind == 0 ? "guard bit set" : kind == 1 ? "pages + 1" : "start + 1");
		}
	ok(good == cases, "a record whose span runs past the region's end is reported by syspte_check (-1), not a "
	   "panic: %u of %u cases (13 sizes: guard bit, pages + 1, start + 1)", good, cases);
}

/* ---- 2 */

struct summary_past {
	uint64_t npages, bit;   /* a level-1 bit at or past the number of level-0 words */
};

static bool summary_past_caught(void *arg)
{
	const struct summary_past *p = arg;
	struct syspte_region *r = fresh(p->npages);
	for (unsigned k = 0; k < 12; k++)
		if (!syspte_reserve(r, 3 + k, 0x746e7553, 0))
			return false;
	struct bitset *s = &r->starts;
	if (s->nlevels < 3 || p->bit >= 64 * s->words[1] || p->bit < s->words[0])
		return false;
	s->level[1][p->bit / 64] |= 1ULL << (p->bit % 64);
	s->level[2][0] |= 1ULL << (p->bit / 64);
	return bitset_check(s) != 0 && syspte_check(r) == -1;
}

static void test_summary_past_end(void)
{
	static const uint64_t npages[] = { 4608, 5120, 8192 + 512, 12288 - 512 };
	unsigned good = 0, cases = 0;
	for (unsigned k = 0; k < sizeof(npages) / sizeof(npages[0]); k++) {
		uint64_t words = npages[k] / 64;
		for (uint64_t bit = words; bit < ALIGN_UP(words, 64); bit += 7, cases++) {
			struct summary_past p = { npages[k], bit };
			good += in_child(summary_past_caught, &p);
		}
	}
	ok(good == cases, "a start-bitmap summary bit past the end of the level below is refused by bitset_check and "
	   "syspte_check: %u of %u cases (4 region sizes)", good, cases);
}

/* ---- 3 */

static void test_region_at_zero(void)
{
	struct syspte_region *r = syspte_create_ex(host_machine_pt(), 0, 512, SYSPTE_CREATE_NO_CACHE);
	unsigned zero_changed = 0, placed = 0;
	for (unsigned k = 0; r && k <= 512; k++) {
		struct syspte_stats s0, s1;
		syspte_get_stats(r, &s0);
		vaddr_t va = syspte_reserve(r, 1, 0x6f72655a, 0);
		syspte_get_stats(r, &s1);
		if (va)
			placed++;
		else if (s1.live != s0.live || s1.free_pages != s0.free_pages)
			zero_changed++;
	}
	ok(!r || zero_changed == 0, "a region at base 0 is refused, or a reserve returning 0 changes nothing "
	   "(%u placed, %u returns of 0 that made a reservation)", placed, zero_changed);
}

/* ---- 4 */

struct geometry {
	int delta;
	bool npages;   /* the unit count, else the origin */
};

static bool geometry_caught(void *arg)
{
	const struct geometry *g = arg;
	struct syspte_region *r = fresh(4096);
	for (unsigned k = 0; k < 12; k++)
		syspte_reserve(r, 3 + k, 0x6d6f6547, 0);
	if (syspte_check(r) != 0)
		return false;
	if (g->npages)
		r->buddy.npages += (uint64_t)(int64_t)g->delta;
	else
		r->buddy.origin += (uint64_t)(int64_t)g->delta;
	return syspte_check(r) == -1;
}

static void test_allocator_geometry(void)
{
	unsigned caught = 0, cases = 0;
	for (int d = -2; d <= 2; d++)
		for (int n = 0; d && n < 2; n++, cases++) {
			struct geometry g = { d, n };
			caught += in_child(geometry_caught, &g);
		}
	/* what a wrong origin does: a DIVISIBLE reservation placed by it */
	struct syspte_region *r = fresh(4096);
	r->buddy.origin += 1;
	vaddr_t va = syspte_reserve(r, 3, 0x6d6f6547, SYSPTE_FLAG_DIVISIBLE);
	r->buddy.origin -= 1;
	ok(caught == cases, "syspte_check catches the allocator's origin and unit count off the region's by 1 or 2: %u "
	   "of %u (with the origin off by one, a 3-page DIVISIBLE reservation lands at 0x%llx, %s)", caught, cases,
	   (unsigned long long)va, va % (3 * PAGE_SIZE) ? "not a multiple of 12 KiB" : "a multiple of 12 KiB");
}

int main(void)
{
	is(host_machine_create(256ULL << 20, 4096ULL * PAGE_SIZE), 0, "machine: 256 MiB of RAM");
	test_record_past_end();
	test_summary_past_end();
	test_region_at_zero();
	test_allocator_geometry();
	return tap_done();
}
