/*
 * A system PTE region's accounting, walks, invariant checker and reports (contract in
 * mm/syspte.h). Walks of the live reservations go through the start bitmap and the cached chunks,
 * in address order. Every walk freezes the CPUs' caches first (syspte_cache_freeze_locked), so
 * what they hold is counted as it is, cached pages as free.
 */
#include "syspte_impl.h"
#include "kprintf.h"
#include "kassert.h"
#include "verifier.h"
#include "testhooks.h"

void syspte_get_stats(struct syspte_region *r, struct syspte_stats *st)
{
	struct syspte_cache_totals t;
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	syspte_cache_totals_locked(r, &t);
	*st = (struct syspte_stats){
		.base = r->base, .npages = r->npages, .free_pages = buddy_free_units(&r->buddy) + t.free,
		.live = r->live_count + t.live, .pages_reserved = r->pages_reserved + t.pages,
		.pages_mapped = r->pages_mapped + t.mapped, .table_pages = r->table_pages, .large_leaves = r->large_leaves,
		.meta_bytes = r->meta_bytes, .chunk_pages = buddy_chunk_count(&r->buddy) + r->starts.chunks,
		.record_bytes = r->index.pages * PAGE_SIZE, .cached_pages = t.free,
		.cache_bytes = r->cache.cache_pages * PAGE_SIZE, .cache_fast = t.fast, .cache_slow = r->cache.slow,
		.cache_drains = r->cache.drains };
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++)
		st->overrides[c] = __atomic_load_n(&r->overrides[c], __ATOMIC_RELAXED);
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
}

/* Adds record v to the per-tag totals out[0, *n). A tag not there takes a new entry while there are
 * fewer than max; returns false when v's tag is neither there nor stored (out is full). */
static bool syspte_tag_add(struct syspte_tag_total *out, size_t *n, size_t max, const struct syspte_resv *v)
{
	size_t k = 0;
	while (k < *n && out[k].tag != v->tag)
		k++;
	if (k == *n) {
		if (*n == max)
			return false;
		out[(*n)++] = (struct syspte_tag_total){ .tag = v->tag };
	}
	out[k].count++;
	out[k].pages_reserved += v->npages;
	out[k].pages_mapped += v->mapped;
	return true;
}

/* Sorts per-tag totals by tag (insertion sort: few tags). */
static void syspte_tag_sort(struct syspte_tag_total *out, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1].tag > out[j].tag; j--) {
			struct syspte_tag_total t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
}

/* Tags counted per walk by syspte_tag_count_locked: its memory is this many tags on the stack. */
#define SYSPTE_TAG_BATCH 32

/* Puts tag into low[0, *k), kept sorted, distinct and the SYSPTE_TAG_BATCH smallest seen. */
static void syspte_tag_keep_low(uint32_t *low, size_t *k, uint32_t tag)
{
	size_t p = 0;
	while (p < *k && low[p] < tag)
		p++;
	if ((p < *k && low[p] == tag) || p == SYSPTE_TAG_BATCH)
		return;
	if (*k == SYSPTE_TAG_BATCH)
		(*k)--;
	for (size_t j = *k; j > p; j--)
		low[j] = low[j - 1];
	low[p] = tag;
	(*k)++;
}

/* The number of distinct tags of r's live reservations, for when they outnumber the caller's
 * array: SYSPTE_TAG_BATCH of them per walk, in increasing order, each walk counting the smallest
 * above the last one's largest. No memory but the stack; a walk per batch of tags. Caller holds
 * r's lock with the caches frozen. */
static size_t syspte_tag_count_locked(struct syspte_region *r)
{
	size_t total = 0;
	bool above = false;
	uint32_t floor = 0;
	for (;;) {
		uint32_t low[SYSPTE_TAG_BATCH];
		size_t k = 0;
		for (struct syspte_resv *v = syspte_next_locked(r, 0); v; v = syspte_next_locked(r, v->start + 1))
			if (!above || v->tag > floor)
				syspte_tag_keep_low(low, &k, v->tag);
		total += k;
		if (k < SYSPTE_TAG_BATCH)
			return total;
		floor = low[k - 1];
		above = true;
	}
}

size_t syspte_tag_totals(struct syspte_region *r, struct syspte_tag_total *out, size_t max)
{
	size_t n = 0;
	bool dropped = false;
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	for (struct syspte_resv *v = syspte_next_locked(r, 0); v; v = syspte_next_locked(r, v->start + 1))
		dropped |= !syspte_tag_add(out, &n, max, v);
	size_t distinct = dropped ? syspte_tag_count_locked(r) : n;
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
	syspte_tag_sort(out, n);
	return distinct;
}

void syspte_for_each(struct syspte_region *r, void (*fn)(const struct syspte_info *, void *), void *arg)
{
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	for (struct syspte_resv *v = syspte_next_locked(r, 0); v; v = syspte_next_locked(r, v->start + 1)) {
		struct syspte_info info;
		syspte_fill_info(r, v, &info);
		fn(&info, arg);
	}
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
}

/* syspte_for_each_free's callback, its argument and the region. */
struct syspte_walk {
	const struct syspte_region *r;
	void (*fn)(vaddr_t va, uint64_t npages, void *arg);
	void *arg;
};

/* Adapts a free run (region page indices) to a callback taking addresses. */
static void syspte_free_extent_cb(uint64_t start, uint64_t count, void *arg)
{
	struct syspte_walk *c = arg;
	c->fn(syspte_va(c->r, start), count, c->arg);
}

void syspte_for_each_free(struct syspte_region *r, void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg)
{
	struct syspte_walk c = { r, fn, arg };
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	syspte_free_runs_locked(r, syspte_free_extent_cb, &c);
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
}

void syspte_for_each_mapped(struct syspte_region *r, void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg)
{
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);   /* a cached reservation's map or unmap writes its PTEs under its cache's lock */
	for (uint64_t i = 0; i < r->npages;) {
		uint64_t s = syspte_first_present(r, i, r->npages);
		if (s == r->npages)
			break;
		i = syspte_first_absent(r, s, r->npages);
		fn(syspte_va(r, s), i - s, arg);
	}
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
}

void syspte_census(struct syspte_region *r, uint64_t out[BUDDY_ORDERS])
{
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	syspte_census_locked(r, out);
	syspte_cache_thaw_locked(r);
	spin_unlock(&r->lock, f);
}

/* Reports a failed invariant; returns -1. */
static int syspte_bad(const char *what, uint64_t a, uint64_t b)
{
	kprintf("syspte_check: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
	return -1;
}

/* True when the direct map holds no frame of the 2 MiB run from pa (span aligned): one walk per
 * block it answers for, a large page's or a small one's. */
static bool syspte_run_held_nowhere(paddr_t pa)
{
	for (paddr_t at = pa; at - pa < (SYSPTE_SPAN_PAGES << PAGE_SHIFT);) {
		uint64_t extent;
		if (arch_phys_direct_mapped(at, &extent))
			return false;
		at = (at & ~(extent - 1)) + extent;
	}
	return true;
}

/* True when d, a present level-2 leaf of r, is one a map writes: a frame below the physical width
 * with no bit under 2 MiB, and the attributes of one memory type's leaves (its mapping-start mark
 * set or not); a type other than write-back only over a run no frame of which the direct map holds
 * (mm/syspte_map.c: RAM keeps the direct map's type). */
static bool syspte_leaf_entry_ok(const struct syspte_region *r, pte_t d)
{
	paddr_t pa = arch_pte_frame(d, 2);
	if (pa >> arch_phys_addr_bits())
		return false;
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++) {
		pte_t e = arch_pte_leaf(r->attrs2[c], pa);
		if (r->attrs2[c] && (d == e || d == arch_pte_set_map_start(e)))
			return c == PT_CACHE_WB || syspte_run_held_nowhere(pa);
	}
	return false;
}

/* The first page of [i, end) whose level-1 PTE maps a frame the direct map holds with another
 * memory type than write-back, which no map writes (mm/syspte_map.c); end when none does. Pages
 * under a 2 MiB leaf are syspte_leaf_entry_ok's. One PTE read a page, and one direct-map walk per
 * block of frames a non-write-back page's frame lies in. */
static uint64_t syspte_first_aliased(const struct syspte_region *r, uint64_t i, uint64_t end)
{
	paddr_t lo = 0, hi = 0;
	bool in = false;
	for (uint64_t k = i; k < end; k++) {
		int level;
		pte_t e = syspte_entry(r, k, &level);
		if (level == 2) {
			k |= SYSPTE_SPAN_PAGES - 1;
			continue;
		}
		if (!arch_pte_present(e) || arch_pte_cache(e, 1, r->pt->features) == PT_CACHE_WB)
			continue;
		paddr_t pa = arch_pte_frame(e, 1);
		if (pa - lo >= hi - lo) {
			uint64_t extent;
			in = arch_phys_direct_mapped(pa, &extent);
			lo = pa & ~(extent - 1);
			hi = lo + extent;
		}
		if (in)
			return k;
	}
	return end;
}

/* True when v's pages and its guard page lie inside r (no sum that could wrap): what every walk
 * of a record's pages, tables and chunks needs before it reads them. */
static bool syspte_record_inside(const struct syspte_region *r, const struct syspte_resv *v)
{
	return v->npages && v->start < r->npages && syspte_span(v) <= r->npages - v->start;
}

/* Checks one record against its index (the region's, or its cached chunk's), the free pages (the
 * allocator's and the caches') and its PTEs; adds its present pages (caches frozen). */
static int syspte_check_record_locked(struct syspte_region *r, const struct syspte_resv *v, uint64_t *present)
{
	spin_assert_held(&r->lock);
	if (!syspte_record_inside(r, v))
		return syspte_bad("record outside the region", v->start, syspte_span(v));
	int cached = syspte_cache_indexes_locked(r, v);
	if (cached < 0 || (!cached && (!bitset_test(&r->starts, v->start) || syspte_find_start_locked(r, v->start) != v)))
		return syspte_bad("record not indexed", v->start, 0);
	if (syspte_page_free_locked(r, v->start) || syspte_page_free_locked(r, v->start + v->npages - 1))
		return syspte_bad("reserved pages free in the allocator", v->start, v->npages);
	if (v->divisible && ((r->base >> PAGE_SHIFT) + v->start) % v->npages)
		return syspte_bad("divisible reservation misplaced", v->start, v->npages);
	if (v->guard && (v->start + v->npages >= r->npages ||
	    syspte_page_free_locked(r, v->start + v->npages) || syspte_pte_present(r, v->start + v->npages)))
		return syspte_bad("guard page missing, free or mapped", v->start, v->npages);
	if (v->guard != (r->guard != 0))
		return syspte_bad("guard flag differs from the region's policy", v->start, syspte_resv_flags(v));
	uint64_t n = syspte_count_present(r, v->start, v->start + v->npages);
	if (n != v->mapped)
		return syspte_bad("mapped count differs from the PTEs", v->mapped, n);
	uint64_t a = n ? syspte_first_aliased(r, v->start, v->start + v->npages) : v->start + v->npages;
	if (a < v->start + v->npages)
		return syspte_bad("a page of RAM the direct map holds mapped with another memory type", a,
				  arch_pte_read(syspte_slot(r, a)));
	*present += n;
	return 0;
}

/* syspte_check's test of each entry of the region's index: its start bit is set and its start
 * lies in no cached chunk (a reservation is in one index only), so no stale entry survives a free
 * or a move into a cache. */
static int syspte_check_entry(const struct syspte_resv *e, void *arg)
{
	struct syspte_region *r = arg;
	if (e->start >= r->npages || !bitset_test(&r->starts, e->start))
		return syspte_bad("an index entry without its start bit (stale)", e->start, e->npages);
	if (syspte_cache_owner_page(r, e->start))
		return syspte_bad("an index entry inside a cached chunk", e->start, e->npages);
	return 0;
}

/* syspte_check_tables' walk of the free extents' record slots: each must exist. */
struct syspte_slot_walk {
	const struct syspte_region *r;
	uint64_t bad;   /* first extent start without them, or UINT64_MAX */
};

/* True when page i's record slot exists: a table, or slot0 for pages 0 and 1. */
static bool syspte_slot_ok(const struct syspte_region *r, uint64_t i)
{
	return syspte_has_table(r, i >> SYSPTE_SPAN_SHIFT) || (i < 2 && r->tables[0] == r->slot0);
}

static void syspte_slot_walk_cb(uint64_t u, void *arg)
{
	struct syspte_slot_walk *w = arg;
	if (w->bad == UINT64_MAX && !syspte_slot_ok(w->r, u))
		w->bad = u;
}

/*
 * True when span s, which has no table, has a present level-2 entry (a leaf, or a pointer to a
 * table the region does not know), or a larger leaf covers it: none may (a span gets its table
 * before anything maps it, and pt_span_tables leaves a span whose entry is present without one).
 * Read through the region's pointer to the level-2 table of s's 1 GiB once a span there has its
 * table (syspte_pde); before, through a walk of the page tables from their root (pt_query finds a
 * leaf, pt_pte_slot a table pointer): O(levels) per span, so the check stays O(spans).
 */
static bool syspte_untabled_span_mapped(struct syspte_region *r, uint64_t s)
{
	if (r->pd[((r->span0 & (PT_ENTRIES - 1)) + s) >> SYSPTE_SPAN_SHIFT])
		return arch_pte_present(arch_pte_read(syspte_pde(r, s)));
	vaddr_t va = syspte_va(r, s << SYSPTE_SPAN_SHIFT);
	return pt_query(r->pt, va, NULL, NULL, NULL) || pt_pte_slot(r->pt, va);
}

/*
 * The page tables' invariants: each span's directory entries agree (a table's address and its
 * level-2 entry: the table, or a 2 MiB leaf over a span one reservation maps whole), every page of
 * a reservation has its table, the leaves are counted, the ready top is the span bytes' one
 * (mm/syspte_impl.h), every free extent's record lies in slots that exist (read before the
 * allocator's own check follows the records), and no span without a table has a present level-2
 * entry. 0 or -1.
 */
static int syspte_check_tables_locked(struct syspte_region *r)
{
	uint64_t leaves = 0, tables = 0;
	for (uint64_t s = 0; s < r->nspans; s++) {
		if (r->span_ready[s] != syspte_span_ready_now(r, s))
			return syspte_bad("a span's ready flag differs from its table and chunks", s, r->span_ready[s]);
		if (!syspte_has_table(r, s)) {
			if (r->tables[s] && !(s == 0 && r->tables[0] == r->slot0))
				return syspte_bad("a span without a table has slots", s, 0);
			continue;
		}
		tables++;
		if (r->tables[s] != arch_phys_to_virt(r->table_pa[s]))
			return syspte_bad("a span's table and its slots differ", s, r->table_pa[s]);
		pte_t d = arch_pte_read(syspte_pde(r, s));
		if (!arch_pte_present(d))
			return syspte_bad("a span's level-2 entry is not present", s, d);
		if (!arch_pte_is_leaf(d, 2)) {
			if (arch_pte_frame(d, 2) != r->table_pa[s])
				return syspte_bad("a span's level-2 entry points to another table", s, d);
			continue;
		}
		leaves++;
		uint64_t i = s << SYSPTE_SPAN_SHIFT, at, p = bitset_prev(&r->starts, i);
		/* the lookup below asserts that the last start bit at or before i has its entry: reported first */
		if (p != UINT64_MAX && !syspte_find_start_locked(r, p))
			return syspte_bad("a start bit without its index entry", p, 0);
		struct syspte_hold h;
		struct syspte_resv *v = syspte_resv_at_locked(r, syspte_va(r, i), &at, &h);
		bool outside = !v || i + SYSPTE_SPAN_PAGES > v->start + v->npages;
		syspte_unhold_locked(r, &h);
		if (outside)
			return syspte_bad("a 2 MiB leaf outside a reservation", s, d);
		if (!syspte_leaf_entry_ok(r, d))
			return syspte_bad("a 2 MiB leaf's entry is none a map writes (frame bits, width, attributes)", s, d);
		for (unsigned q = 0; q < SYSPTE_SPAN_PAGES; q++)
			if (arch_pte_present(r->tables[s][q]))
				return syspte_bad("the table a 2 MiB leaf hides has a present entry", s, q);
	}
	if (tables != r->table_pages || leaves != r->large_leaves)
		return syspte_bad("tables or 2 MiB leaves differ from their counts", tables, leaves);
	if (buddy_ready_from(&r->buddy) != syspte_ready_top_of(r))   /* the bytes are right (above): so must the top be */
		return syspte_bad("the ready top differs from the span bytes", buddy_ready_from(&r->buddy),
				  syspte_ready_top_of(r));
	for (struct syspte_resv *v = syspte_next_locked(r, 0); v; v = syspte_next_locked(r, v->start + 1)) {
		if (!syspte_record_inside(r, v))   /* before its spans and chunks are looked up */
			return syspte_bad("record outside the region", v->start, syspte_span(v));
		for (uint64_t s = v->start >> SYSPTE_SPAN_SHIFT; s <= (v->start + syspte_span(v) - 1) >> SYSPTE_SPAN_SHIFT; s++)
			if (!syspte_has_table(r, s))
				return syspte_bad("a reservation's span has no table", v->start, s);
	}
	/* every unit a reservation's free may set a bit at has its allocator chunk (mm/buddy.h) */
	for (struct syspte_resv *v = syspte_next_locked(r, 0); v; v = syspte_next_locked(r, v->start + 1)) {
		uint64_t e = v->start + syspte_span(v);
		if ((v->start && !buddy_chunk_present(&r->buddy, v->start - 1)) || !buddy_chunk_present(&r->buddy, v->start) ||
		    !buddy_chunk_present(&r->buddy, e - 1) || (e < r->npages && !buddy_chunk_present(&r->buddy, e)))
			return syspte_bad("a reservation's end has no allocator chunk", v->start, e);
	}
	struct syspte_slot_walk w = { r, UINT64_MAX };
	buddy_for_each_record_slot(&r->buddy, syspte_slot_walk_cb, &w);
	if (w.bad != UINT64_MAX)
		return syspte_bad("a free extent's record slot has no table", w.bad, 0);
	/* last, so a table the region lost (its level-2 entry still pointing to it) is reported as above */
	for (uint64_t s = 0; s < r->nspans; s++) {
		uint64_t g = ((r->span0 & (PT_ENTRIES - 1)) + s) >> SYSPTE_SPAN_SHIFT;
		vaddr_t va = syspte_va(r, s << SYSPTE_SPAN_SHIFT);
		/* a 1 GiB the region never met, with no level-2 table and no 1 GiB leaf: none of its spans
		 * has an entry, so its 512 are passed in one walk (the check stays O(spans met), whatever
		 * the region's size) */
		if (!r->pd[g] && !pt_entry_slot(r->pt, va, 2) && !pt_query(r->pt, va, NULL, NULL, NULL)) {
			s = ((g + 1) << SYSPTE_SPAN_SHIFT) - (r->span0 & (PT_ENTRIES - 1)) - 1;
			continue;
		}
		if (!syspte_has_table(r, s) && syspte_untabled_span_mapped(r, s))
			return syspte_bad("a span without a table has a present level-2 entry", s, 0);
	}
	return 0;
}

/* The walk of syspte_check_locked, with the caches frozen. */
static int syspte_check_frozen_locked(struct syspte_region *r)
{
	spin_assert_held(&r->lock);
	struct syspte_cache_totals t;
	/* the allocator's geometry first: its placements (DIVISIBLE) follow its origin, its walks its size */
	if (r->buddy.npages != r->npages || r->buddy.origin != r->base >> PAGE_SHIFT)
		return syspte_bad("the allocator's pages or origin differ from the region's", r->buddy.npages,
				  r->buddy.origin);
	/* the start bits next, which every walk of the reservations below follows; then the caches: the
	 * walks after them find cached reservations through their structures */
	int st = bitset_check(&r->starts);
	if (!st)
		st = syspte_cache_check_locked(r);
	if (!st)
		st = syspte_check_tables_locked(r);
	if (!st)
		st = buddy_check(&r->buddy);
	syspte_cache_totals_locked(r, &t);
	uint64_t count = 0, pages = 0, mapped = 0, present = 0, spans = 0, prev_end = 0;
	for (struct syspte_resv *v = st ? NULL : syspte_next_locked(r, 0); v && !st; v = syspte_next_locked(r, v->start + 1)) {
		if (v->start < prev_end)
			st = syspte_bad("reservations overlap", v->start, prev_end);
		else
			st = syspte_check_record_locked(r, v, &present);
		prev_end = v->start + syspte_span(v);
		count++;
		pages += v->npages;
		spans += syspte_span(v);
		mapped += v->mapped;
	}
	if (!st && (count != r->live_count + t.live || pages != r->pages_reserved + t.pages || mapped != r->pages_mapped + t.mapped))
		st = syspte_bad("totals differ from the records", count, pages);
	/* every start bit has its entry, every entry its start bit */
	for (uint64_t s = st ? UINT64_MAX : bitset_next(&r->starts, 0); s != UINT64_MAX && !st;
	     s = s + 1 < r->npages ? bitset_next(&r->starts, s + 1) : UINT64_MAX)
		if (!syspte_find_start_locked(r, s))
			st = syspte_bad("a start bit without its index entry", s, 0);
	if (!st)
		st = syspte_index_check(&r->index, syspte_check_entry, r);
	if (!st && (r->index.count != count - t.live || r->index.count != r->live_count))
		st = syspte_bad("index entries differ from the start bits", r->index.count, count - t.live);
	if (!st && spans + buddy_free_units(&r->buddy) + t.free != r->npages)
		st = syspte_bad("reserved + guards + free != region", spans, buddy_free_units(&r->buddy) + t.free);
	if (!st) {
		uint64_t all = syspte_count_present(r, 0, r->npages);
		if (all != present)
			st = syspte_bad("present PTEs outside any reservation", all, present);
	}
	return st;
}

int syspte_check_locked(struct syspte_region *r)
{
	spin_assert_held(&r->lock);
	syspte_cache_freeze_locked(r);
	int st = syspte_check_frozen_locked(r);
	syspte_cache_thaw_locked(r);
	return st;
}

int syspte_check(struct syspte_region *r)
{
	uint64_t f = spin_lock(&r->lock);
	int st = syspte_check_locked(r);
	spin_unlock(&r->lock, f);
	return st;
}

/* Prints a pool-style tag: four characters, low byte first. */
static void syspte_print_tag(uint32_t tag)
{
	char s[5];
	for (int k = 0; k < 4; k++) {
		char c = (char)(tag >> (8 * k));
		s[k] = (c >= 32 && c < 127) ? c : '.';
	}
	s[4] = 0;
	kprintf("'%s'", s);
}

void syspte_dump(struct syspte_region *r)
{
	struct syspte_stats s;
	struct syspte_tag_total tags[16];
	syspte_get_stats(r, &s);
	kprintf("system PTE region 0x%llx, %llu pages: %llu free, %llu live reservations (%llu pages, %llu mapped)\n",
		(unsigned long long)s.base, (unsigned long long)s.npages, (unsigned long long)s.free_pages,
		(unsigned long long)s.live, (unsigned long long)s.pages_reserved, (unsigned long long)s.pages_mapped);
	kprintf("  %llu page-table pages, %llu 2 MiB leaves, %llu metadata bytes, %llu allocator chunk pages, %llu record "
		"bytes\n", (unsigned long long)s.table_pages, (unsigned long long)s.large_leaves,
		(unsigned long long)s.meta_bytes, (unsigned long long)s.chunk_pages, (unsigned long long)s.record_bytes);
	kprintf("  pages mapped write-back, not as asked (RAM in the direct map): %llu UC, %llu UC-, %llu WC\n",
		(unsigned long long)s.overrides[PT_CACHE_UC], (unsigned long long)s.overrides[PT_CACHE_UCMINUS],
		(unsigned long long)s.overrides[PT_CACHE_WC]);
	size_t n = syspte_tag_totals(r, tags, ARRAY_SIZE(tags));
	for (size_t i = 0; i < MIN(n, ARRAY_SIZE(tags)); i++) {
		kprintf("  tag ");
		syspte_print_tag(tags[i].tag);
		kprintf(": %llu reservations, %llu pages reserved, %llu mapped\n", (unsigned long long)tags[i].count,
			(unsigned long long)tags[i].pages_reserved, (unsigned long long)tags[i].pages_mapped);
	}
	uint64_t f = spin_lock(&r->lock);
	syspte_cache_freeze_locked(r);
	syspte_cache_dump_locked(r);
	syspte_cache_thaw_locked(r);
	kprintf("  index: %llu entries in %llu slots (%llu pages), %llu grown, %llu shrunk\n",
		(unsigned long long)r->index.count, r->index.bits ? 1ULL << r->index.bits : 0ULL,
		(unsigned long long)r->index.pages, (unsigned long long)r->index.grows, (unsigned long long)r->index.shrinks);
	buddy_dump(&r->buddy);
	spin_unlock(&r->lock, f);
}

/* Prints what va is when it lies in no reservation: a verifier guard page, or free space. */
static void syspte_describe_outside(struct syspte_region *r, vaddr_t va)
{
	struct syspte_info info = { 0 };
	if (r->guard && va >= r->base + PAGE_SIZE && syspte_lookup(r, va - PAGE_SIZE, &info) &&
	    ((va - info.base) >> PAGE_SHIFT) == info.npages) {
		kprintf("*** 0x%llx is the verifier's guard page after a reservation:\n***   base 0x%llx, %llu pages, tag ",
			(unsigned long long)va, (unsigned long long)info.base, (unsigned long long)info.npages);
		syspte_print_tag(info.tag);
		kprintf(" (an overrun)\n");
		return;
	}
	kprintf("*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
}

uint32_t syspte_describe_polls = 1u << 22;

/* The holder of l (its CPU index + 1, UINT32_MAX when not yet recorded) when l stays held through
 * syspte_describe_polls polls; 0 when it came free (l may be NULL: no lock, free). Each poll runs
 * the calls posted to this CPU as spin_lock's wait does: a holder may be waiting for this CPU to
 * answer its TLB shootdown (a cached unmap holds its cache's lock through it). */
static uint32_t syspte_describe_held(const spinlock_t *l)
{
	for (uint32_t n = 0; l && n < syspte_describe_polls; n++) {
		if (!__atomic_load_n(&l->locked, __ATOMIC_ACQUIRE))
			return 0;
		arch_cpu_poll();
		arch_cpu_relax();
	}
	if (!l || !__atomic_load_n(&l->locked, __ATOMIC_ACQUIRE))
		return 0;
	uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
	return owner ? owner : UINT32_MAX;
}

/* The holder (as syspte_describe_held) of a lock a lookup of page i or of the page before it may
 * take and that stays held: the region's, or a cache's owning one of the two chunks. 0: none. */
static uint32_t syspte_describe_blocked(struct syspte_region *r, uint64_t i)
{
	uint32_t held = syspte_describe_held(&r->lock);
	for (uint64_t p = i ? i - 1 : i; !held && p <= i; p++) {
		unsigned o = syspte_cache_owner_page(r, p);
		held = o ? syspte_describe_held(syspte_cache_lock(r, o - 1)) : 0;
	}
	return held;
}

/*
 * Called from fatal reports: another CPU may hold a lock the lookup needs and never let it go (it
 * stopped for a fatal error of its own while holding it, kernel/panic.c), so a lock that stays
 * held through syspte_describe_polls polls is reported with its holder and nothing is read. A
 * holder that takes a lock after that check and stops holding it is not caught: two fatal errors
 * within the same few instructions.
 */
void syspte_describe(struct syspte_region *r, vaddr_t va)
{
	struct syspte_info info;
	if (!syspte_in_region(r, va)) {
		kprintf("*** 0x%llx is outside the system PTE region\n", (unsigned long long)va);
		return;
	}
	if (!spin_may_take(&r->lock)) {
		kprintf("*** 0x%llx is in the system PTE region, but this CPU holds its lock\n"
			"***   or one ranked after it: the fault came from inside the memory manager,\n"
			"***   so the region is not read\n", (unsigned long long)va);
		return;
	}
	uint32_t held = syspte_describe_blocked(r, (va - r->base) >> PAGE_SHIFT);
	if (held) {
		if (held == UINT32_MAX)
			kprintf("*** 0x%llx is in the system PTE region, but its lock stays held\n", (unsigned long long)va);
		else
			kprintf("*** 0x%llx is in the system PTE region, but CPU %u holds its lock\n",
				(unsigned long long)va, held - 1);
		kprintf("***   and does not let it go (stopped by a fatal error?): the region is not read\n");
		return;
	}
	if (!syspte_lookup(r, va, &info)) {
		syspte_describe_outside(r, va);
		return;
	}
	kprintf("*** 0x%llx is page %llu of reservation base 0x%llx:\n***   %llu pages, tag ", (unsigned long long)va,
		(unsigned long long)((va - info.base) >> PAGE_SHIFT), (unsigned long long)info.base,
		(unsigned long long)info.npages);
	syspte_print_tag(info.tag);
	kprintf(", %llu pages mapped\n", (unsigned long long)info.mapped);
}
