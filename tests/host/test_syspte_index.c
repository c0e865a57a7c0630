/*
 * The system PTE region's index of its own reservations (mm/syspte_index.c) on the host.
 *
 *  - The table alone against a shadow: generated churn (inserts and removals of random starts, the
 *    live count swept up and down so the table grows and shrinks many times), after each batch a
 *    lookup of every start of the key space (live ones found with their contents, freed ones not)
 *    and syspte_index_check.
 *  - Collisions forced: starts sharing the table's last home slot (so the cluster wraps to slot 0)
 *    mixed with starts homed at slots 0 and 1 inside that cluster, inserted and removed in
 *    generated orders; every lookup exact after each removal (the backward shift's rule).
 *  - Clusters across slot pages: in 2- and 4-page tables and one of two directory pages, starts
 *    homed at a page's last slot and at the slots either side (so clusters run into the next page,
 *    the next directory's first page, or the table's slot 0), removed in generated orders while
 *    fillers keep the table above its shrink threshold (the inline removal and the backward shift,
 *    never a rehash); every lookup exact and check clean after each removal.
 *  - Entries a slot page or more past their home: starts all homed at one slot (the cluster wrapping
 *    past the table's end in some rounds), removed in generated orders; every lookup exact and the
 *    check clean after each removal.
 *  - Everywhere above, the region's own paths drawn against the general ones: an entry entered
 *    by syspte_index_claim and filled in place, or by syspte_index_insert; removed by
 *    syspte_index_find_home and syspte_index_remove_found (whose inline case trusts the home
 *    flag, the slot page's end and the shrink threshold), or by find and remove; the home flag
 *    checked against the slot the entry lies in, and the churn's table emptied by remove_found
 *    alone (its halvings).
 *  - Memory short while growing or shrinking: for budgets below what the new table needs (one
 *    page short, none at all, a directory page short), growth is refused with the table, its
 *    entries and the physical allocator's count unchanged; a shrink that cannot allocate keeps
 *    the table; both succeed once memory is back.
 *  - The table's size against its rule after every one of generated inserts and removals (grown
 *    exactly past its capacity, halved exactly under its threshold, the counters counting those);
 *    indexes of small regions filled to one entry a page: the largest table is reached and passes
 *    its check, and one entry more is refused without a page asked for; the check catches each
 *    value derived from the table's size made stale alone, and each top-level entry set where
 *    that size has none.
 *  - Through a region (no caches, and the machine's with caches): reserve/free churn with the
 *    index growing and shrinking, every page looked up after each batch against a shadow;
 *    memory exhausted while the index must grow: reserve returns NULL with pages free, every
 *    reservation still found, nothing leaked, and succeeds once memory is back.
 *  - Adoption across a shrink: a chunk of 16 reservations adopted with the index one entry above
 *    its shrink threshold, so the table halves between the adoption's unlinks (its entries move):
 *    every reservation is found whole in the chunk afterwards (a pointer kept across the unlinks
 *    would copy a moved or cleared slot).
 *  - syspte_check catches a corrupt index: a stale entry, a lost one, a start entered twice, an
 *    entry its probe cannot reach, a wrong count.
 *  - The span ready bytes at the 64 MiB (allocator) and 128 MiB (start bitmap) chunk edges,
 *    generated: a span that a reservation's record pages give a table without its chunks stays
 *    not ready, and a reservation just past the edge makes the chunks it needs.
 *  - The ready top, generated: reservations at or above the allocator's ready point make nothing,
 *    the point only goes down, every run above it needs nothing made, and syspte_check
 *    catches the point moved off the span bytes.
 *  - Preferences, generated: DIVISIBLE's rule before any preference (region_divisible_pref), and a
 *    preference honoured in the address space's page numbers on regions whose bases are not
 *    multiples of it (region_pref_address_space).
 *
 *   build/host/test_syspte_index [churn steps]
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "host_machine.h"
#include "syspte_impl.h"
#include "testhooks.h"
#include "vmlayout.h"
#include "phys.h"
#include "reserved.h"
#include "test_rng.h"
#include "capture.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t below(uint64_t n)
{
	uint64_t x = test_rng_next(&rng);
	return n ? x % n : 0;
}

/* order[0..n) (n >= 1) as 0..n-1 in a random order (Fisher-Yates over below). */
static void shuffled(unsigned *order, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)below(i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static uint64_t allocated_pages(void)
{
	struct phys_stats ps;
	phys_get_stats(&ps);
	return ps.allocated_pages;
}

/* ---------------------------------------------------------------- the table alone */

#define IX_NPAGES (1u << 20)   /* the region the index is sized for */
#define KEYS (1u << 16)        /* starts the tests may enter */
#define CHURN_KEYS (1u << 14)  /* starts the churn draws from */
#define MIN_HALF ((unsigned)syspte_index_cap(SYSPTE_INDEX_MIN_BITS))   /* entries the first table holds */
#define TOP_BITS (SYSPTE_INDEX_PAGE_SHIFT + SYSPTE_INDEX_DIR_SHIFT) /* the largest table with one directory page */

static struct syspte_index ix;
static void *ix_meta;
static bool live[KEYS];
static uint32_t tag_of[KEYS];

/* A fresh, empty index (its pages from the machine's allocator). */
static void ix_fresh(void)
{
	free(ix_meta);
	ix_meta = calloc(1, syspte_index_meta_bytes(IX_NPAGES));
	syspte_index_init(&ix, IX_NPAGES, ix_meta);
	memset(live, 0, sizeof(live));
}

static uint64_t misplaced;   /* inserts whose entry was not where a lookup finds it */

/* Enters start k with a generated record (room made first); false when room was refused. */
static bool ix_add(uint64_t k)
{
	if (!syspte_index_room(&ix, 1))
		return false;
	tag_of[k] = (uint32_t)below(1u << 31);
	struct syspte_resv v = { .start = k, .npages = 1 + k % 7, .mapped = k % 3, .divisible = k & 1, .tag = tag_of[k] };
	struct syspte_resv *e;
	if (below(2)) {   /* the region's reserve path: a slot claimed, then filled in place */
		e = syspte_index_claim(&ix, k);
		*e = v;
	} else {
		e = syspte_index_insert(&ix, &v);
	}
	live[k] = true;
	if (e->start != k || e->tag != tag_of[k] || syspte_index_find(&ix, k) != e)
		misplaced++;
	return true;
}

static uint64_t lost;   /* live starts the index did not find when they were removed */

static uint64_t home_wrong;   /* syspte_index_find_home answers whose home flag was not where the entry lies */

/* The entry of start k through syspte_index_find_home, its flag checked against the table: true
 * exactly when the entry lies in k's home slot (syspte_index_remove_found trusts it). */
static struct syspte_resv *ix_find_home(uint64_t k, bool *home)
{
	struct syspte_resv *e = syspte_index_find_home(&ix, k, home);
	if (e && *home != (syspte_index_slot(&ix, syspte_index_home(&ix, k)) == e) && home_wrong++ < 4)
		printf("# start %llu: find_home says %s\n", (unsigned long long)k, *home ? "home" : "not home");
	return e;
}

/* Removes start k (live): as syspte_release does (find_home, remove_found) when found_path, else
 * by syspte_index_find and syspte_index_remove. */
static void ix_del_by(uint64_t k, bool found_path)
{
	bool home;
	struct syspte_resv *e = found_path ? ix_find_home(k, &home) : syspte_index_find(&ix, k);
	if (e && found_path)
		syspte_index_remove_found(&ix, e, home);
	else if (e)
		syspte_index_remove(&ix, e);
	else if (lost++ < 4)
		printf("# start %llu lost before its removal\n", (unsigned long long)k);
	live[k] = false;
}

/* Removes start k (live) by either path, drawn. */
static void ix_del(uint64_t k)
{
	ix_del_by(k, below(2));
}

/* True when every start of [0, n) is found exactly when live, with its record. */
static bool ix_lookups_exact(uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		const struct syspte_resv *e = syspte_index_find(&ix, k);
		if (!!e != live[k] || (e && (e->start != k || e->npages != 1 + k % 7 || e->mapped != k % 3 ||
					     e->tag != tag_of[k] || e->divisible != (k & 1)))) {
			printf("# start %llu: %s\n", (unsigned long long)k, e ? "wrong or stale" : "lost");
			return false;
		}
	}
	return true;
}

/* syspte_resv_make (which builds a record from its words) against the fields it must set, over
 * generated values at the fields' limits and between them. */
static void test_record_layout(void)
{
	static const uint64_t edge[] = { 0, 1, 2, 0x7ffffffeu, 0x7fffffffu };
	unsigned bad = 0, n = 0;
	for (unsigned k = 0; k < 4000; k++, n++) {
		uint64_t start = k < 25 ? edge[k % 5] : below(1u << 31), npages = k < 25 ? edge[k / 5] : 1 + below((1u << 31) - 1);
		uint32_t tag = (uint32_t)below(1u << 31) * 2 + (k & 1), flags = (k >> 1) & 1 ? SYSPTE_FLAG_DIVISIBLE : 0;
		bool guard = (k >> 2) & 1;
		struct syspte_resv v = syspte_resv_make(start, npages, tag, flags, guard), w;
		memset(&w, 0xa5, sizeof(w));
		syspte_resv_fill(&w, start, npages, tag, flags, guard);   /* the same record, in place */
		bad += memcmp(&v, &w, sizeof(v)) != 0;
		bad += v.start != start || v.npages != npages || v.mapped != 0 || v.tag != tag || v.divisible != !!flags ||
		       v.guard != guard || syspte_resv_flags(&v) != (flags | (guard ? SYSPTE_FLAG_GUARD : 0));
		v.mapped = (uint32_t)npages;   /* the mapped count beside the guard bit */
		bad += v.mapped != npages || v.guard != guard || v.npages != npages;
		uint64_t part = npages ? below(npages + 1) : 0;   /* the map's and unmap's one-add update */
		syspte_resv_mapped_add(&v, -(int64_t)npages);
		bad += v.mapped != 0 || v.guard != guard;
		syspte_resv_mapped_add(&v, (int64_t)part);
		bad += v.mapped != part || v.guard != guard || v.npages != npages || v.start != start || v.tag != tag;
		syspte_resv_mapped_add(&v, (int64_t)(npages - part));
		bad += v.mapped != npages || v.guard != guard || v.divisible != !!flags;
	}
	ok(bad == 0, "%u generated records: every field as made (syspte_resv_fill writes the same words), the mapped "
	   "count's updates leave the guard bit alone", n);
}

static void test_table_churn(uint64_t steps)
{
	ix_fresh();
	uint64_t n = 0, target = 3000, batches = 0, bad = 0, refused = 0, pages_max = 0;
	bool up = true;
	for (uint64_t s = 1; s <= steps; s++) {
		bool add = n == 0 || (up ? below(5) != 0 : below(5) == 0);   /* the count swept up and down */
		uint64_t k = below(CHURN_KEYS), tries = 0;
		while (live[k] != !add && ++tries < CHURN_KEYS)
			k = (k + 1) % CHURN_KEYS;
		if (!add) {
			ix_del(k);
			n--;
		} else if (ix_add(k)) {
			n++;
		} else {
			refused++;
		}
		if (up && n >= target) {
			up = false;
			target = 20 + below(40);
		} else if (!up && n <= target) {
			up = true;
			target = 1000 + below(5000);
		}
		pages_max = ix.pages > pages_max ? ix.pages : pages_max;
		if (s % 2000 == 0) {
			batches++;
			bad += !ix_lookups_exact(CHURN_KEYS) || syspte_index_check(&ix, NULL, NULL) || ix.count != n;
		}
	}
	ok(bad == 0 && refused == 0, "%llu steps: after each of %llu batches every one of %u starts found exactly when live, "
	   "check passes", (unsigned long long)steps, (unsigned long long)batches, CHURN_KEYS);
	ok(ix.grows >= 10 && ix.shrinks >= 10, "the table grew %llu and shrank %llu times (up to %llu pages)",
	   (unsigned long long)ix.grows, (unsigned long long)ix.shrinks, (unsigned long long)pages_max);
	uint64_t before = allocated_pages(), held = ix.pages;
	for (uint64_t k = 0; k < KEYS; k++)
		if (live[k])
			ix_del_by(k, true);
	ok(ix.count == 0 && ix.bits == SYSPTE_INDEX_MIN_BITS && ix.pages == 2 && before - allocated_pages() == held - 2 &&
	   syspte_index_check(&ix, NULL, NULL) == 0, "emptied by syspte_index_remove_found alone: back to one slot page and "
	   "its directory (it halves the table as syspte_index_remove does), the rest freed");
}

/* Starts whose home is slot h in the current table: n of them from start 'from' up. */
static unsigned homed_at(uint64_t h, uint64_t from, uint64_t *out, unsigned n)
{
	unsigned got = 0;
	for (uint64_t k = from; got < n && k < CHURN_KEYS; k++)
		if (syspte_index_home(&ix, k) == h)
			out[got++] = k;
	return got;
}

static void test_collisions(void)
{
	unsigned rounds = 40, bad = 0, wrapped = 0;
	for (unsigned round = 0; round < rounds; round++) {
		ix_fresh();
		bad += !syspte_index_room(&ix, 1) || ix.bits != SYSPTE_INDEX_MIN_BITS;   /* a first table */
		/* the first table filled to its capacity: two thirds homed at its last slot, a sixth each at
		 * slots 0 and 1 */
		uint64_t last = (1u << SYSPTE_INDEX_MIN_BITS) - 1, keys[MIN_HALF];
		unsigned side = MIN_HALF / 6, n = homed_at(last, 0, keys, MIN_HALF - 2 * side);
		n += homed_at(0, 0, keys + n, side);
		n += homed_at(1, 0, keys + n, side);
		if (n != MIN_HALF) {
			bad++;
			continue;
		}
		for (unsigned i = n - 1; i > 0; i--) {   /* a generated order */
			unsigned j = (unsigned)below(i + 1);
			uint64_t t = keys[i];
			keys[i] = keys[j];
			keys[j] = t;
		}
		for (unsigned i = 0; i < n; i++)
			bad += !ix_add(keys[i]);
		bad += ix.bits != SYSPTE_INDEX_MIN_BITS;   /* MIN_HALF entries: still the first table */
		bool w = false;   /* an entry homed at the last slot lies at the table's front */
		for (uint64_t t = 0; t < 64; t++)
			w |= syspte_index_slot(&ix, t)->npages && syspte_index_home(&ix, syspte_index_slot(&ix, t)->start) == last;
		wrapped += w;
		for (unsigned i = n - 1; i > 0; i--) {   /* another order to remove them in */
			unsigned j = (unsigned)below(i + 1);
			uint64_t t = keys[i];
			keys[i] = keys[j];
			keys[j] = t;
		}
		for (unsigned i = 0; i < n; i++) {
			ix_del(keys[i]);
			bad += !ix_lookups_exact(CHURN_KEYS) || syspte_index_check(&ix, NULL, NULL) != 0;
		}
	}
	ok(bad == 0, "%u rounds: %u starts homed at the last slot, %u at slot 0 and %u at slot 1, inserted and removed in "
	   "generated orders: every lookup exact after each removal", rounds, MIN_HALF - 2 * (MIN_HALF / 6), MIN_HALF / 6,
	   MIN_HALF / 6);
	ok(wrapped == rounds, "the last slot's cluster wrapped to slot 0 in every round");
}

/* ---- clusters across slot pages, the directory's edge and the table's wrap, in larger tables */

#define EDGE_MAX 9000   /* entries a boundary test holds at most */

static uint64_t edge_key[EDGE_MAX];
static bool edge_live[EDGE_MAX];
static unsigned edge_n;

/* A start below 2^31 not used yet whose home in a table of 2^bits slots is h (found by search:
 * about 2^bits tries), searching from *next up. */
static uint64_t edge_homed(uint64_t h, unsigned bits, uint64_t *next)
{
	for (uint64_t k = *next; k < (1ULL << 31); k++)
		if (syspte_index_hash(k, bits) == h) {
			*next = k + 1;
			return k;
		}
	return UINT64_MAX;
}

/* Enters start k (room made by the caller) with a record derived from it. */
static bool edge_add(uint64_t k)
{
	struct syspte_resv v = { .start = (uint32_t)k, .npages = 1 + k % 5, .mapped = k % 3, .tag = (uint32_t)(k * 7) };
	if (edge_n == EDGE_MAX || ix.count >= ix.cap)
		return false;
	struct syspte_resv *e = below(2) ? syspte_index_claim(&ix, k) : syspte_index_insert(&ix, &v);
	*e = v;   /* a claimed slot filled as the region's reserve path fills it */
	edge_key[edge_n] = k;
	edge_live[edge_n++] = true;
	return e->start == k && syspte_index_find(&ix, k) == e;
}

/* True when every entered start is found exactly when live, with its record. */
static bool edge_exact(void)
{
	for (unsigned i = 0; i < edge_n; i++) {
		uint64_t k = edge_key[i];
		const struct syspte_resv *e = syspte_index_find(&ix, k);
		if (!!e != edge_live[i] || (e && (e->npages != 1 + k % 5 || e->mapped != k % 3 || e->tag != (uint32_t)(k * 7)))) {
			printf("# start %llu: %s\n", (unsigned long long)k, e ? "wrong or stale" : "lost");
			return false;
		}
	}
	return true;
}

/*
 * For a table of 2^bits slots (made by growth, kept above its shrink threshold by fillers so every
 * removal takes the inline path or the backward shift, never a rehash): clusters forced around
 * each slot L in edges (the last slot of a page: the next one lies in another page, or is slot 0
 * of the table), with starts homed at L - 1, L and L + 1, entered and removed in generated orders;
 * every lookup exact and check clean after each removal. Returns the failures; *inline_hits counts
 * removals of an entry at its home with an empty next slot in its page (the inline path).
 */
static unsigned edge_round(unsigned bits, const uint64_t *edges, unsigned nedges, uint64_t *inline_hits)
{
	unsigned bad = 0;
	ix_fresh();
	edge_n = 0;
	if (!syspte_index_room(&ix, syspte_index_cap(bits - 1) + 1) || ix.bits != bits)
		return 1;
	uint64_t next = 1, mask = ix.mask;
	for (unsigned e = 0; e < nedges; e++) {   /* the clusters, entered in a generated order */
		uint64_t keys[12];
		unsigned n = 0;
		for (int d = -1; d <= 1; d++)
			for (unsigned c = 0; c < (d == 0 ? 6u : 3u); c++)
				keys[n++] = edge_homed((edges[e] + (uint64_t)(int64_t)d) & mask, bits, &next);
		for (unsigned i = n - 1; i > 0; i--) {
			unsigned j = (unsigned)below(i + 1);
			uint64_t t = keys[i];
			keys[i] = keys[j];
			keys[j] = t;
		}
		for (unsigned i = 0; i < n; i++)
			bad += keys[i] == UINT64_MAX || !edge_add(keys[i]);
	}
	unsigned clusters = edge_n;
	/* fillers (starts far above the clusters' search) up past the shrink threshold */
	for (uint64_t k = (1ULL << 30) + below(1u << 20); ix.count <= ix.low + clusters + 8; k += 1 + below(64))
		bad += !edge_add(k);
	bad += ix.bits != bits || !edge_exact() || syspte_index_check(&ix, NULL, NULL) != 0;
	unsigned order[EDGE_MAX];
	shuffled(order, clusters);
	for (unsigned i = 0; i < clusters; i++) {
		uint64_t k = edge_key[order[i]];
		struct syspte_resv *e = syspte_index_find(&ix, k);
		if (!e) {
			bad++;
			continue;
		}
		uint64_t h = syspte_index_home(&ix, k);
		*inline_hits += syspte_index_slot(&ix, h) == e && (h & SYSPTE_INDEX_SLOT_MASK) != SYSPTE_INDEX_SLOT_MASK &&
				!syspte_index_slot(&ix, h + 1)->npages;
		bool home;
		if (below(2)) {   /* the region's free path: the flag of find_home, trusted by remove_found */
			bad += ix_find_home(k, &home) != e;
			syspte_index_remove_found(&ix, e, home);
		} else {
			syspte_index_remove(&ix, e);
		}
		edge_live[order[i]] = false;
		bad += ix.bits != bits || !edge_exact() || syspte_index_check(&ix, NULL, NULL) != 0;
	}
	return bad;
}

static void test_page_edges(void)
{
	uint64_t inline_hits = 0;
	unsigned bad = 0, rounds = 6;
	const uint64_t page = 1u << SYSPTE_INDEX_PAGE_SHIFT;
	for (unsigned round = 0; round < rounds; round++) {
		uint64_t two[] = { page - 1, 2 * page - 1 };   /* two pages: their edge, and the wrap */
		bad += edge_round(SYSPTE_INDEX_MIN_BITS + 1, two, 2, &inline_hits);
		uint64_t four[] = { page - 1, 2 * page - 1, 3 * page - 1, 4 * page - 1, page / 2 };
		bad += edge_round(SYSPTE_INDEX_MIN_BITS + 2, four, 5, &inline_hits);
	}
	ok(bad == 0, "%u rounds: clusters homed around every slot page's last slot (the next in another page or the "
	   "table's slot 0) of 2- and 4-page tables, removed in generated orders: every lookup exact, check clean", rounds);
	/* the largest table one directory page reaches, and the next: the directory's edge, the wrap */
	uint64_t dir[] = { (1ull << TOP_BITS) - 1, (2ull << TOP_BITS) - 1, (1ull << TOP_BITS) + page - 1 };
	bad = edge_round(TOP_BITS + 1, dir, 3, &inline_hits);
	ok(bad == 0, "a table of two directory pages: clusters across the directories' edge, a page edge and the wrap, "
	   "removed in a generated order: every lookup exact, check clean");
	ok(inline_hits > 0, "%llu of those removals took the inline path (home slot, empty next slot in its page)",
	   (unsigned long long)inline_hits);
	edge_n = 0;
}

/* The slot entry e lies in, searched from slot h on (e is in the table). */
static uint64_t slot_of(const struct syspte_resv *e, uint64_t h)
{
	uint64_t s = h;
	while (syspte_index_slot(&ix, s) != e)
		s = (s + 1) & ix.mask;
	return s;
}

/*
 * Entries a whole slot page or more past their home: FAR_N starts homed at one slot H of a table of
 * 2^FAR_BITS slots (so the cluster runs FAR_N slots from H, wrapping past the table's end when H
 * lies near it), removed in a generated order by either path: the removal of an entry 256 slots
 * or more from its home finds its slot by walking the cluster from the home; after every removal
 * each lookup is exact and the check clean.
 */
#define FAR_BITS 12
#define FAR_N 400
static void test_far_from_home(void)
{
	unsigned bad = 0, rounds = 4;
	uint64_t far = 0;
	for (unsigned round = 0; round < rounds; round++) {
		ix_fresh();
		edge_n = 0;
		if (!syspte_index_room(&ix, FAR_N) || ix.bits != FAR_BITS) {
			bad++;
			continue;
		}
		uint64_t h = round & 1 ? ix.mask - below(FAR_N) : below(ix.mask + 1), next = 1 + below(1u << 20);
		for (unsigned i = 0; i < FAR_N; i++) {
			uint64_t k = edge_homed(h, FAR_BITS, &next);
			bad += k == UINT64_MAX || !edge_add(k);
		}
		bad += ix.bits != FAR_BITS || !edge_exact() || syspte_index_check(&ix, NULL, NULL) != 0;
		unsigned order[FAR_N];
		shuffled(order, FAR_N);
		for (unsigned i = 0; i < FAR_N && ix.bits == FAR_BITS; i++) {
			uint64_t k = edge_key[order[i]];
			struct syspte_resv *e = syspte_index_find(&ix, k);
			if (!e) {
				bad++;
				continue;
			}
			far += ((slot_of(e, h) - h) & ix.mask) >= (1u << SYSPTE_INDEX_PAGE_SHIFT);
			bool home;
			if (below(2)) {
				bad += ix_find_home(k, &home) != e;
				syspte_index_remove_found(&ix, e, home);
			} else {
				syspte_index_remove(&ix, e);
			}
			edge_live[order[i]] = false;
			bad += !edge_exact() || syspte_index_check(&ix, NULL, NULL) != 0;
		}
	}
	ok(bad == 0 && far >= rounds * 10, "%u rounds: %u starts homed at one slot of a %u-slot table, removed in "
	   "generated orders (%llu of them a slot page or more past their home): every lookup exact, check clean",
	   rounds, FAR_N, 1u << FAR_BITS, (unsigned long long)far);
	edge_n = 0;
}

/* Growth and shrink refused for want of pages: nothing changes, nothing is kept. */
static void test_memory_short(void)
{
	ix_fresh();
	bool all = true;
	for (uint64_t k = 0; k < MIN_HALF; k++)
		all &= ix_add(k);
	ok(all && ix.bits == SYSPTE_INDEX_MIN_BITS && ix.pages == 2, "%u entries: the first table (%u slots) is full",
	   MIN_HALF, 1u << SYSPTE_INDEX_MIN_BITS);
	bool same = true;
	for (uint64_t extra = 0; extra < 3; extra++) {   /* the next table: 2 slot pages and a directory */
		uint64_t before = allocated_pages();
		phys_set_budget(before + extra);
		same &= !syspte_index_room(&ix, 1) && ix.bits == SYSPTE_INDEX_MIN_BITS && ix.pages == 2 && ix.count == MIN_HALF &&
			allocated_pages() == before && ix_lookups_exact(KEYS) && syspte_index_check(&ix, NULL, NULL) == 0;
		phys_set_budget(UINT64_MAX);
	}
	ok(same, "growth with 0, 1 or 2 pages to spare of the 3 it needs: refused, table and entries unchanged, no page kept");
	ok(syspte_index_room(&ix, 1) && ix.bits == SYSPTE_INDEX_MIN_BITS + 1 && ix.pages == 3, "with memory: grown to %u slots",
	   2u << SYSPTE_INDEX_MIN_BITS);
	/* from the largest table with one directory page to one with two */
	uint64_t k = MIN_HALF, big = syspte_index_cap(TOP_BITS), pages = (1ULL << (TOP_BITS - SYSPTE_INDEX_PAGE_SHIFT)) + 1;
	while (ix.count < big)
		all &= ix_add(k++);
	ok(all && ix.bits == TOP_BITS && ix.pages == pages, "%llu entries: %llu slots in %llu pages (one directory page), "
	   "full", (unsigned long long)big, 1ULL << TOP_BITS, (unsigned long long)pages);
	same = true;
	uint64_t need = 2 * (pages - 1) + 2, shortfalls[] = { 0, 1, 2, need / 2 - 1, need / 2, need / 2 + 1, need - 2, need - 1 };
	for (unsigned i = 0; i < ARRAY_SIZE(shortfalls); i++) {
		uint64_t before = allocated_pages();
		phys_set_budget(before + shortfalls[i]);
		same &= !syspte_index_room(&ix, 1) && ix.bits == TOP_BITS && ix.count == big && allocated_pages() == before;
		phys_set_budget(UINT64_MAX);
	}
	ok(same && ix_lookups_exact(KEYS) && syspte_index_check(&ix, NULL, NULL) == 0,
	   "growth to %llu pages (two directory pages) with up to %llu to spare: refused, unchanged, no page kept",
	   (unsigned long long)need, (unsigned long long)need - 1);
	ok(syspte_index_room(&ix, 1) && ix.bits == TOP_BITS + 1 && ix.pages == need && ix_lookups_exact(KEYS) &&
	   syspte_index_check(&ix, NULL, NULL) == 0, "with memory: grown, every entry found");
	/* shrink refused: the count falls below an eighth with no page to spare */
	phys_set_budget(allocated_pages());
	uint64_t shrinks = ix.shrinks, low = syspte_index_cap(ix.bits - 1) / 2;
	for (uint64_t j = 0; j < KEYS && ix.count + 2 >= low; j++)
		if (live[j])
			ix_del(j);
	ok(ix.bits == TOP_BITS + 1 && ix.shrinks == shrinks && ix_lookups_exact(KEYS) && syspte_index_check(&ix, NULL, NULL) == 0,
	   "below the shrink threshold with no page to spare: the table is kept as it is, every lookup exact");
	/* the refused halving is not tried again on every removal, only once the count halves again */
	uint64_t at = ix.count, calls = phys_alloc_calls, quiet = 0, d = 0;
	for (; d < KEYS && ix.count > ix.low; d++)
		if (live[d])
			ix_del(d), quiet++;
	bool waited = ix.low + 2 >= at / 2 && ix.low <= at / 2 + 2 && phys_alloc_calls == calls && quiet > 100;
	for (; d < KEYS && phys_alloc_calls == calls; d++)
		if (live[d])
			ix_del(d);
	ok(waited && phys_alloc_calls > calls && ix.bits == TOP_BITS + 1 && ix.shrinks == shrinks &&
	   ix_lookups_exact(KEYS) && syspte_index_check(&ix, NULL, NULL) == 0,
	   "refused, the halving waits: %llu removals asked for no page, then the count halved again and it was "
	   "tried (refused again, kept)", (unsigned long long)quiet);
	phys_set_budget(UINT64_MAX);
	for (uint64_t j = 0; j < KEYS && ix.shrinks == shrinks; j++)
		if (live[j])
			ix_del(j);
	ok(ix.bits == TOP_BITS && ix_lookups_exact(KEYS) && syspte_index_check(&ix, NULL, NULL) == 0,
	   "with memory: a later removal halves it");
	for (uint64_t j = 0; j < KEYS; j++)
		if (live[j])
			ix_del(j);
}

/* The size the table must have by its rule: the smallest from the first table up whose capacity
 * holds need (growth); one halving when a removal leaves count under the smaller table's half
 * capacity (memory there). */
static unsigned rule_grown(unsigned bits, uint64_t need)
{
	bits = bits ? bits : SYSPTE_INDEX_MIN_BITS;
	while (syspte_index_cap(bits) < need)
		bits++;
	return bits;
}

/* The table's size against its rule, over generated runs of inserts and removals (each run's
 * length drawn so the count crosses the growth and halving points many times, and sits on them):
 * after every operation the size is the rule's, the table grows exactly when an insert would
 * take it past its capacity and halves exactly when a removal leaves it under the threshold, and
 * the grow and shrink counters count those changes alone; syspte_index_grow asked for room that is
 * there already says yes and changes nothing. */
static void test_size_rule(void)
{
	ix_fresh();
	unsigned model = 0;
	uint64_t n = 0, grows = 0, shrinks = 0, bad = 0, ops = 0, at_points = 0, target = 3000;
	bool up = true;
	for (; ops < 40000; ops++) {
		bool add = n == 0 || (up ? below(4) != 0 : below(4) == 0);   /* swept up and down, wandering */
		if (up && n >= target)
			up = false, target = below(60);
		else if (!up && n <= target)
			up = true, target = 200 + below(3000);
		uint64_t k = below(CHURN_KEYS), tries = 0;
		while (live[k] != !add && ++tries < CHURN_KEYS)
			k = (k + 1) % CHURN_KEYS;
		unsigned want = model;
		if (add) {
			if (!model || n + 1 > syspte_index_cap(model)) {
				want = rule_grown(model, n + 1);
			} else {   /* syspte_index_grow called with room there: true, nothing done */
				uint64_t calls = phys_alloc_calls, g = ix.grows;
				bad += !syspte_index_grow(&ix, 1) || ix.bits != model || ix.grows != g || phys_alloc_calls != calls;
			}
			bad += !ix_add(k);
			n++;
		} else {
			ix_del(k);
			if (--n < syspte_index_low(model))
				want = model - 1;
		}
		grows += want > model;
		shrinks += want < model;
		at_points += (n == syspte_index_cap(want)) + (n == syspte_index_low(want));
		model = want;
		if (ix.bits != model || ix.grows != grows || ix.shrinks != shrinks || ix.count != n) {
			if (bad++ < 4)
				printf("# op %llu (%s, %llu entries): %u bits, the rule %u; grew %llu (%llu), shrank %llu (%llu)\n",
				       (unsigned long long)ops, add ? "insert" : "removal", (unsigned long long)n, ix.bits, model,
				       (unsigned long long)ix.grows, (unsigned long long)grows, (unsigned long long)ix.shrinks,
				       (unsigned long long)shrinks);
			model = ix.bits, grows = ix.grows, shrinks = ix.shrinks;
		}
	}
	bad += syspte_index_check(&ix, NULL, NULL) != 0 || !ix_lookups_exact(CHURN_KEYS);
	ok(bad == 0 && grows >= 8 && shrinks >= 8 && at_points > 20,
	   "%llu inserts and removals: the table's size followed its rule after each (%llu growths, %llu halvings, "
	   "%llu times on a capacity or threshold)", (unsigned long long)ops, (unsigned long long)grows,
	   (unsigned long long)shrinks, (unsigned long long)at_points);
	for (uint64_t j = 0; j < KEYS; j++)
		if (live[j])
			ix_del(j);
}

/* An index sized for a region of npages pages whose largest table holds exactly npages entries:
 * filled one entry at a time, it reaches that table and passes its check there; one more entry is
 * refused without a page asked for (live reservations never exceed the pages). Returns the failures. */
static unsigned largest_table(uint64_t npages)
{
	unsigned bad = 0, max = rule_grown(0, npages);
	struct syspte_index small;
	void *meta = calloc(1, syspte_index_meta_bytes(npages));
	syspte_index_init(&small, npages, meta);
	uint64_t before = allocated_pages();
	for (uint64_t k = 0; k < npages; k++) {
		struct syspte_resv v = { .start = (uint32_t)(k * 3), .npages = 1, .tag = (uint32_t)k };
		if (!syspte_index_room(&small, 1)) {
			bad++;
			break;
		}
		syspte_index_insert(&small, &v);
	}
	bad += small.bits != max || small.count != npages || syspte_index_check(&small, NULL, NULL) != 0;
	uint64_t calls = phys_alloc_calls, pages = small.pages;
	bad += syspte_index_room(&small, 1) || phys_alloc_calls != calls || small.bits != max || small.pages != pages;
	for (uint64_t k = 0; k < npages; k++)
		bad += syspte_index_find(&small, k * 3) == NULL || syspte_index_find(&small, k * 3 + 1) != NULL;
	for (uint64_t k = 0; k < npages; k++) {
		struct syspte_resv *e = syspte_index_find(&small, k * 3);
		if (e)
			syspte_index_remove(&small, e);
	}
	bad += small.count != 0 || small.bits != SYSPTE_INDEX_MIN_BITS || allocated_pages() != before + small.pages;
	free(meta);
	return bad;
}

static void test_largest_table(void)
{
	/* region sizes (whole 2 MiB pieces) that are a table's capacity exactly, in the sparse and the
	 * denser fills */
	static const uint64_t sizes[] = { 512, 1024, 2048, 8192 };
	unsigned bad = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(sizes); k++)
		bad += largest_table(sizes[k]);
	ok(bad == 0, "indexes of regions of 512 to 8192 pages filled to one entry a page: the largest table "
	   "reached, its check passes, one entry more refused with no page asked for");
}

/* syspte_index_check of the index fails, the first line it prints naming what. */
static bool ix_check_says(const char *what)
{
	char out[512];
	capture_begin();
	int st = syspte_index_check(&ix, NULL, NULL);
	capture_end(out, sizeof(out));
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	return st != 0 && strstr(out, what) != NULL;
}

/* syspte_index_check catches each value derived from the table's size made stale alone, and a size
 * outside [SYSPTE_INDEX_MIN_BITS, max_bits] (each bound broken alone) before anything else. */
static void test_check_derived(void)
{
	ix_fresh();
	for (uint64_t k = 0; k < 600; k++)
		ix_add(k);
	struct syspte_index saved = ix;
	bool clean = syspte_index_check(&ix, NULL, NULL) == 0, caught = true;
	ix.shift++;
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.mask >>= 1;
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.cap++;
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.cap = syspte_index_cap(ix.bits + 1);
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.low = syspte_index_low(ix.bits) + 1;
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.dir0 = NULL;
	caught &= syspte_index_check(&ix, NULL, NULL) != 0;
	ix = saved;
	ix.max_bits = ix.bits - 1;   /* the table one size past the largest its region allows */
	caught &= ix_check_says("table size out of bounds");
	ix = saved;
	ix.bits = SYSPTE_INDEX_MIN_BITS - 1;   /* one size below the smallest */
	caught &= ix_check_says("table size out of bounds");
	ix = saved;
	ix.max_bits = ix.bits;   /* the largest table allowed: passes */
	clean &= syspte_index_check(&ix, NULL, NULL) == 0;
	ix = saved;
	ix.low = syspte_index_low(ix.bits) / 2;   /* lowered, as after a refused halving: allowed */
	clean &= syspte_index_check(&ix, NULL, NULL) == 0;
	ix = saved;
	clean &= syspte_index_check(&ix, NULL, NULL) == 0;
	ok(caught && clean, "check catches the hash's shift, the mask, the capacity, the halving threshold "
	   "raised and the first directory's shortcut each made stale alone, and a size past either bound (the "
	   "bound named first); a lowered threshold and a table at its largest size pass");
	for (uint64_t k = 0; k < KEYS; k++)
		if (live[k])
			ix_del(k);
}

/* syspte_index_check catches the top level disagreeing with the table's size, each entry broken
 * alone and named first: a directory in the other half (no rehash under way) at every entry, and
 * one in the current half past the table's entries. */
static void test_check_top_level(void)
{
	ix_fresh();
	for (uint64_t k = 0; k < 600; k++)
		ix_add(k);
	uint64_t entries = ix.bits <= SYSPTE_INDEX_TOP_SHIFT ? 1 : (uint64_t)1 << (ix.bits - SYSPTE_INDEX_TOP_SHIFT);
	struct syspte_index_dir *stray = ix.top[0].dir;   /* any directory: the check tests presence alone */
	bool clean = syspte_index_check(&ix, NULL, NULL) == 0 && ix.top_len > entries, caught = true;
	unsigned tried = 0;
	for (uint64_t t = 0; t < ix.top_len; t++) {
		ix.other[t].dir = stray;
		caught &= ix_check_says("top level differs from the table's size");
		ix.other[t].dir = NULL;
		tried++;
		if (t >= entries) {
			ix.top[t].dir = stray;
			caught &= ix_check_says("top level differs from the table's size");
			ix.top[t].dir = NULL;
			tried++;
		}
	}
	clean &= syspte_index_check(&ix, NULL, NULL) == 0;
	ok(caught && clean, "check names %u top-level entries each set alone where the table's size has none "
	   "(every entry of the other half, the current half's past the table)", tried);
	for (uint64_t k = 0; k < KEYS; k++)
		if (live[k])
			ix_del(k);
}

/* ---------------------------------------------------------------- through a region */

#define RPAGES (1u << 14)
#define MAXR 6000

struct resv {
	vaddr_t va;
	uint64_t n;
	uint32_t tag;
};

static struct resv rs[MAXR];
static unsigned nrs;
static uint32_t owner[RPAGES];   /* 1 + the index in rs[] of the reservation holding each page, or 0 */

static uint64_t page_at(struct syspte_region *r, vaddr_t va) { return (va - r->base) >> PAGE_SHIFT; }

/* True when every page's lookup names the reservation the shadow has there, or none. */
static bool region_lookups_exact(struct syspte_region *r)
{
	for (uint64_t p = 0; p < RPAGES; p++) {
		struct syspte_info info;
		bool in = syspte_lookup(r, r->base + (p << PAGE_SHIFT), &info);
		const struct resv *x = owner[p] ? &rs[owner[p] - 1] : NULL;
		if (in != !!x || (x && (info.base != x->va || info.npages != x->n || info.tag != x->tag))) {
			printf("# page %llu: %s\n", (unsigned long long)p, in ? (x ? "another reservation" : "stale") : "lost");
			return false;
		}
	}
	return true;
}

static void shadow_set(struct syspte_region *r, unsigned i, uint32_t val)
{
	for (uint64_t p = page_at(r, rs[i].va); p < page_at(r, rs[i].va) + rs[i].n; p++)
		owner[p] = val;
}

static bool region_add(struct syspte_region *r, uint64_t n)
{
	uint32_t tag = 0x30000000u + (uint32_t)below(1u << 24);
	vaddr_t va = syspte_reserve(r, n, tag, 0);
	if (!va)
		return false;
	rs[nrs] = (struct resv){ va, n, tag };
	shadow_set(r, nrs, nrs + 1);
	nrs++;
	return true;
}

static void region_del(struct syspte_region *r, unsigned i)
{
	shadow_set(r, i, 0);
	syspte_release(r, rs[i].va, rs[i].tag);
	rs[i] = rs[--nrs];
	if (i < nrs)
		shadow_set(r, i, i + 1);
}

/* Starts a case with an empty shadow (no reservation recorded, no page owned). */
static void shadow_reset(void)
{
	memset(owner, 0, sizeof(owner));
	nrs = 0;
}

/* Frees every reservation the shadow records, the newest first. */
static void region_del_all(struct syspte_region *r)
{
	while (nrs)
		region_del(r, nrs - 1);
}

static void region_churn(struct syspte_region *r, const char *name, uint64_t steps)
{
	shadow_reset();
	uint64_t target = 1500, bad = 0, batches = 0, grows = r->index.grows, shrinks = r->index.shrinks;
	bool up = true;
	for (uint64_t s = 1; s <= steps; s++) {
		bool add = nrs == 0 || (up ? below(5) != 0 : below(5) == 0);   /* the count swept up and down */
		if (!add)
			region_del(r, (unsigned)below(nrs));
		else if (!region_add(r, below(8) ? 1 + below(3) : 17 + below(24)))   /* small (the caches' size) and not */
			target = nrs;   /* full: sweep down from here */
		if (up && nrs >= target) {
			up = false;
			target = 5 + below(20);
		} else if (!up && nrs <= target) {
			up = true;
			target = 300 + below(1200);
		}
		if (s % 5000 == 0) {
			batches++;
			bad += !region_lookups_exact(r) || syspte_check(r) != 0;
		}
	}
	ok(bad == 0, "%s: %llu steps; after each of %llu batches every page's lookup matches the shadow, check passes", name,
	   (unsigned long long)steps, (unsigned long long)batches);
	ok(r->index.grows > grows && r->index.shrinks > shrinks, "%s: its index grew %llu and shrank %llu times", name,
	   (unsigned long long)(r->index.grows - grows), (unsigned long long)(r->index.shrinks - shrinks));
	region_del_all(r);
	ok(syspte_check(r) == 0 && r->live_count == 0 && r->index.count == 0, "%s: all freed, check passes", name);
}

/*
 * Adoption across a shrink of the index (records move while the adoption unlinks them): with the
 * caches held off, 4-page reservations grow the index, then frees leave it one entry above its
 * shrink threshold with the 16 reservations of one chunk among the survivors. Adopting that chunk
 * unlinks them one by one; the second unlink halves the table, so the other 14 are copied from
 * where the new table holds them. Each is then found whole in the chunk, none in the index.
 */
static void region_adoption_shrink(struct syspte_region *r)
{
	shadow_reset();
	uint64_t f = spin_lock(&r->lock);
	r->cache.on = false;   /* every reservation placed by the allocator, into the region's index */
	spin_unlock(&r->lock, f);
	bool all = true;
	for (int k = 0; k < 600; k++)
		all &= region_add(r, 4);
	uint64_t idx = page_at(r, rs[300].va) >> SYSPTE_CHUNK_SHIFT, first = UINT64_MAX;
	for (unsigned i = 0; i < nrs && r->index.count > r->index.low + 1;)
		if (page_at(r, rs[i].va) >> SYSPTE_CHUNK_SHIFT != idx)
			region_del(r, i);
		else
			i++;
	unsigned in_chunk = 0;
	for (unsigned i = 0; i < nrs; i++)
		if (page_at(r, rs[i].va) >> SYSPTE_CHUNK_SHIFT == idx) {
			in_chunk++;
			first = MIN(first, page_at(r, rs[i].va));
		}
	unsigned bits = r->index.bits;
	uint64_t shrinks = r->index.shrinks, adopted = r->cache.adopted, count = r->index.count, low = r->index.low;
	f = spin_lock(&r->lock);
	r->cache.on = true;
	if (in_chunk)
		syspte_cache_adopt_locked(r, first, 4);
	bool owned = in_chunk && syspte_cache_owns_locked(r, first);
	spin_unlock(&r->lock, f);
	ok(all && in_chunk == 16 && count == low + 1 && owned && r->cache.adopted == adopted + 1 &&
	   r->index.shrinks == shrinks + 1 && r->index.bits == bits - 1 && r->index.count == count - 16,
	   "a chunk of 16 reservations adopted with the index one above its threshold: the table halved during the "
	   "adoption (%u to %u bits), all 16 left it", bits, r->index.bits);
	ok(region_lookups_exact(r) && syspte_check(r) == 0,
	   "every reservation found with its own record (base, pages, tag) after the adoption, check passes");
	region_del_all(r);
	ok(syspte_check(r) == 0 && r->index.count == 0, "all freed, check passes");
}

/* Memory exhausted while the region's index must grow: NULL with pages free, nothing lost. */
static void region_exhaustion(struct syspte_region *r)
{
	shadow_reset();
	while (region_add(r, 4))   /* every table and allocator chunk made once */
		;
	region_del_all(r);
	ok(r->index.bits == SYSPTE_INDEX_MIN_BITS && r->index.count == 0, "the region filled with 4-page reservations and "
	   "emptied: its index back to %u slots", 1u << SYSPTE_INDEX_MIN_BITS);
	bool all = true;
	while (r->index.count < MIN_HALF)
		all &= region_add(r, 4);
	uint64_t before = allocated_pages();
	phys_set_budget(before);
	struct syspte_stats st;
	syspte_get_stats(r, &st);
	ok(all && syspte_reserve(r, 4, 0x41414141, 0) == 0 && st.free_pages > RPAGES / 2,
	   "its index full, no page to spare: a reserve is refused with %llu pages free", (unsigned long long)st.free_pages);
	ok(allocated_pages() == before && r->index.count == MIN_HALF && r->live_count == MIN_HALF &&
	   region_lookups_exact(r) && syspte_check(r) == 0, "nothing kept, nothing lost: %u reservations, each found, check "
	   "passes", MIN_HALF);
	phys_set_budget(UINT64_MAX);
	ok(region_add(r, 4) && r->index.bits == SYSPTE_INDEX_MIN_BITS + 1 && region_lookups_exact(r) && syspte_check(r) == 0,
	   "with memory back: placed, the index grown");
	region_del_all(r);
}

/*
 * Adoption moves reservations out of the region's index into a cache's chunk (copies, the entries
 * removed): CPU 0's cache full, no aligned free chunk left (32-page reservations in every other
 * half chunk), so a 3-page reservation is placed by the allocator and its chunk adopted with the
 * 32-page reservation beside it. Both are then found in the chunk, not in the index.
 */
static void region_adoption(struct syspte_region *r)
{
	shadow_reset();
	bool all = true;
	for (int k = 0; k < 4; k++)   /* CPU 0's cache: one chunk, full */
		all &= region_add(r, 16);
	while (region_add(r, 32))
		;
	for (unsigned i = 0; i < nrs;)
		if (rs[i].n == 32 && (page_at(r, rs[i].va) / 32) % 2 == 0)
			region_del(r, i);
		else
			i++;
	uint64_t adopted = r->cache.adopted, count = r->index.count;
	ok(all && region_add(r, 3), "with CPU 0's cache full and no aligned free chunk, 3 pages placed by the allocator");
	uint64_t p = page_at(r, rs[nrs - 1].va), b = p & ~(uint64_t)(SYSPTE_CHUNK_PAGES - 1);
	uint64_t f = spin_lock(&r->lock);
	bool gone = !syspte_find_start_locked(r, p) && !syspte_find_start_locked(r, b + 32) &&
		    syspte_cache_owns_locked(r, p);
	spin_unlock(&r->lock, f);
	ok(r->cache.adopted == adopted + 1 && r->index.count == count - 1 && gone,
	   "its chunk adopted: it and the 32-page reservation beside it left the index (%llu entries, %llu before the "
	   "3 pages)", (unsigned long long)r->index.count, (unsigned long long)count);
	ok(region_lookups_exact(r) && syspte_check(r) == 0, "every page's lookup matches the shadow, check passes");
	region_del_all(r);
	ok(syspte_check(r) == 0 && r->index.count == 0, "all freed, check passes");
}

/* syspte_check against a corrupt index: each corruption is found, and undoing it passes again. */
static void region_check_catches(struct syspte_region *r)
{
	shadow_reset();
	for (int k = 0; k < 40; k++)
		region_add(r, 17);
	struct syspte_resv *e = syspte_index_find(&r->index, page_at(r, rs[7].va)), saved = *e;
	ok(syspte_check(r) == 0, "40 reservations: check passes");
	/* a stale entry: a start with no reservation (one of rs[7]'s inner pages) */
	struct syspte_resv stale = saved;
	stale.start = saved.start + 3;
	syspte_index_room(&r->index, 1);
	syspte_index_remove(&r->index, syspte_index_insert(&r->index, &stale));
	bool undone = syspte_check(r) == 0;
	syspte_index_insert(&r->index, &stale);
	ok(syspte_check(r) != 0, "a stale entry is caught");
	syspte_index_remove(&r->index, syspte_index_find(&r->index, stale.start));
	/* a lost entry */
	syspte_index_remove(&r->index, syspte_index_find(&r->index, saved.start));
	ok(syspte_check(r) != 0, "a lost entry is caught");
	syspte_index_room(&r->index, 1);
	syspte_index_insert(&r->index, &saved);
	undone &= syspte_check(r) == 0;
	/* a start entered twice */
	syspte_index_room(&r->index, 1);
	struct syspte_resv *twice = syspte_index_insert(&r->index, &saved);
	ok(syspte_check(r) != 0, "a start entered twice is caught");
	syspte_index_remove(&r->index, twice);
	undone &= syspte_check(r) == 0;
	/* an entry its probe cannot reach: moved to an empty slot its home's probe stops before */
	e = syspte_index_find(&r->index, saved.start);
	uint64_t mask = (1ULL << r->index.bits) - 1, far = (syspte_index_home(&r->index, saved.start) - 1) & mask;
	while (syspte_index_slot(&r->index, far)->npages)   /* the empty slot last in its probe's order */
		far = (far - 1) & mask;
	*syspte_index_slot(&r->index, far) = *e;
	e->npages = 0;
	ok(syspte_check(r) != 0, "an entry beyond an empty slot of its probe is caught");
	*e = *syspte_index_slot(&r->index, far);
	syspte_index_slot(&r->index, far)->npages = 0;
	undone &= syspte_check(r) == 0;
	/* a wrong count */
	r->index.count++;
	ok(syspte_check(r) != 0, "a wrong entry count is caught");
	r->index.count--;
	undone &= syspte_check(r) == 0;
	/* a span's ready byte cleared where a reservation made its table and chunks (one set on a span
	 * with no table: region_ready_spans) */
	uint64_t k = saved.start >> SYSPTE_SPAN_SHIFT;
	ok(r->span_ready[k] == 1, "span %llu (a reservation's) is ready", (unsigned long long)k);
	r->span_ready[k] = 0;
	ok(syspte_check(r) != 0, "a ready span's flag cleared is caught");
	r->span_ready[k] = 1;
	undone &= syspte_check(r) == 0 && region_lookups_exact(r);
	ok(undone, "each corruption undone: check passes, every lookup exact");
	region_del_all(r);
}

/* The span ready bytes on a fresh region: set exactly where a reservation made a table and chunks,
 * and syspte_check catches a byte set on a span with no table. */
static void region_ready_spans(void)
{
	struct syspte_region *r = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (512ULL << 30), RPAGES,
						   SYSPTE_CREATE_NO_CACHE);
	vaddr_t v = r ? syspte_reserve(r, 3, 0x59444552, 0) : 0;
	ok(v && syspte_check(r) == 0, "a fresh region, one reservation of 3 pages: check passes");
	if (!v)
		return;
	uint64_t ready = 0, tables = 0, k = (v - r->base) >> (PAGE_SHIFT + SYSPTE_SPAN_SHIFT), far = k ? 0 : r->nspans - 1;
	for (uint64_t s = 0; s < r->nspans; s++) {
		ready += r->span_ready[s];
		tables += syspte_has_table(r, s);
	}
	ok(r->span_ready[k] == 1 && ready == tables && tables < r->nspans && !syspte_has_table(r, far),
	   "its span %llu ready, %llu spans ready, as many as have tables, of %llu; span %llu has none",
	   (unsigned long long)k, (unsigned long long)ready, (unsigned long long)r->nspans, (unsigned long long)far);
	r->span_ready[far] = 1;
	ok(syspte_check(r) != 0, "a span without a table flagged ready is caught");
	r->span_ready[far] = 0;
	ok(syspte_check(r) == 0 && syspte_release(r, v, 0x59444552) == SYSPTE_OK && syspte_check(r) == 0 &&
	   r->span_ready[k] == 1, "undone: check passes; freed, its span stays ready (its table is kept)");
}

/* Counts of pref_one. */
struct pref_counts { unsigned bad, allowed, honoured, refused; };

/* One request with a preference on r: n pages, flags (0 or DIVISIBLE), preferring (page + phase) a
 * multiple of prefer, page the start's index in the address space; counts a base that breaks
 * DIVISIBLE, and, when the rule allows the preference (no DIVISIBLE, or n a power of two below
 * prefer with the phase a multiple of n), an allowed one and whether it was honoured. Frees it. */
static void pref_one(struct syspte_region *r, uint64_t n, uint32_t flags, uint64_t prefer, uint64_t phase,
		     struct pref_counts *c)
{
	bool div = flags & SYSPTE_FLAG_DIVISIBLE;
	vaddr_t v = syspte_reserve_pref(r, n, 0x50524546, flags, prefer, phase);
	if (!v) {
		c->refused++;
		return;
	}
	uint64_t page = v >> PAGE_SHIFT;
	c->bad += div && page % n != 0;
	if (!div || (!(n & (n - 1)) && n < prefer && !(phase & (n - 1)))) {
		c->allowed++;
		c->honoured += ((page + phase) & (prefer - 1)) == 0;
	}
	c->bad += syspte_release(r, v, 0x50524546) != SYSPTE_OK;
}

/*
 * Generated: DIVISIBLE with a preference. A preference must never override DIVISIBLE's rule (the
 * base a multiple of npages pages): for sizes 1..1100 pages (powers of two and others, cached sizes
 * and not) and a preference of 512 or 1024 pages at random phases, on a fresh region without caches
 * and on the cached boot region with some reservations kept live, every base is divisible; where
 * DIVISIBLE allows the preference (a power of two below it, the phase a multiple of it), the empty
 * region honours it.
 */
static void region_divisible_pref(void)
{
	struct syspte_region *fresh = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (640ULL << 30), RPAGES,
						       SYSPTE_CREATE_NO_CACHE);
	ok(fresh != NULL, "a fresh region for DIVISIBLE with a preference");
	if (!fresh)
		return;
	struct pref_counts f = { 0 }, c = { 0 };
	vaddr_t keep[64];
	unsigned nkeep = 0;
	for (unsigned k = 0; k < 3000; k++) {
		uint64_t n = below(2) ? (uint64_t)1 << below(11) : 1 + below(1100);
		uint64_t prefer = below(2) ? 512 : 1024, phase = below(2) ? below(prefer) : below(prefer / n + 1) * n;
		pref_one(fresh, n, SYSPTE_FLAG_DIVISIBLE, prefer, phase, &f);
		pref_one(reserved_region(), n, SYSPTE_FLAG_DIVISIBLE, prefer, phase, &c);
		if (nkeep < ARRAY_SIZE(keep) && below(20) == 0)   /* some live reservations around them */
			keep[nkeep++] = syspte_reserve(reserved_region(), 1 + below(40), 0x56494444, 0);
	}
	for (unsigned j = 0; j < nkeep; j++)
		c.bad += keep[j] && syspte_release(reserved_region(), keep[j], 0x56494444) != SYSPTE_OK;
	ok(f.bad == 0 && f.refused == 0 && f.allowed > 500 && f.honoured == f.allowed && syspte_check(fresh) == 0,
	   "fresh region: 3000 DIVISIBLE reservations with a preference, none misplaced (%u), none refused (%u); "
	   "%u of %u preferences DIVISIBLE allows honoured", f.bad, f.refused, f.honoured, f.allowed);
	ok(c.bad == 0 && c.refused == 0 && c.allowed > 500 && syspte_check(reserved_region()) == 0,
	   "cached region: none misplaced (%u), none refused (%u); %u of %u allowed preferences honoured", c.bad,
	   c.refused, c.honoured, c.allowed);
}

/*
 * Generated: a preference is stated in the address space (syspte.h: the start's page index in the
 * address space plus phase a multiple of prefer), whatever the region's base. Regions whose bases
 * are odd multiples of 2 MiB (page index 512 mod 1024, each a different residue mod 2^14), without
 * caches, each nearly empty (every reservation freed before the next): reservations of 1 to 300
 * pages, some DIVISIBLE, with preferences of 1024 to 8192 pages at random phases. Where the rule
 * allows the preference (no DIVISIBLE, or DIVISIBLE with a power-of-two size dividing the phase),
 * the region's one free extent holds a preferred start, which must be taken: the address space's
 * page index plus phase a multiple of prefer. DIVISIBLE's rule holds in every case.
 */
static void region_pref_address_space(void)
{
	unsigned made = 0;
	struct pref_counts c = { 0 };
	for (unsigned j = 0; j < 8; j++) {
		vaddr_t base = SYSPTE_BASE + ((704ULL + j) << 30) + (2 * (uint64_t)j * 5 + 1) * SIZE_2M;
		struct syspte_region *r = syspte_create_ex(host_machine_pt(), base, 4 * 8192, SYSPTE_CREATE_NO_CACHE);
		if (!r)
			continue;
		made++;
		for (unsigned k = 0; k < 400; k++) {
			uint64_t prefer = (uint64_t)1024 << below(4), phase = below(prefer * 4);
			bool div = below(4) == 0;
			uint64_t n = div && below(2) ? (uint64_t)1 << below(9) : 1 + below(300);
			if (div && below(2))
				phase = below(prefer / n) * n;   /* a phase DIVISIBLE allows, for a power of two */
			pref_one(r, n, div ? SYSPTE_FLAG_DIVISIBLE : 0, prefer, phase, &c);
		}
		c.bad += syspte_check(r) != 0;
	}
	ok(made == 8 && c.bad == 0 && c.refused == 0 && c.allowed > 2000 && c.honoured == c.allowed,
	   "%u regions at bases 2 MiB but not 4 MiB aligned: DIVISIBLE never broken, none refused (%u), failures %u; "
	   "%u of %u allowed preferences honoured in the address space's page numbers", made, c.refused, c.bad,
	   c.honoured, c.allowed);
}

/* Reserves n pages at page s of r if the allocator's preference lands there (its only candidate:
 * prefer is larger than what lies past s); 0 otherwise. */
static vaddr_t reserve_at(struct syspte_region *r, uint64_t s, uint64_t n, uint64_t prefer)
{
	uint64_t abs = (r->base >> PAGE_SHIFT) + s, phase = (prefer - (abs & (prefer - 1))) & (prefer - 1);
	vaddr_t v = syspte_reserve_pref(r, n, 0x45474445, 0, prefer, phase);
	if (v && v != syspte_va(r, s)) {
		syspte_release(r, v, 0x45474445);
		return 0;
	}
	return v;
}

/*
 * Generated: the ready bytes at the metadata chunks' edges. A reservation [s, e) cut from the middle
 * of a free extent makes the tables of pages [s, e + 2) (the extent after it keeps its record in
 * e, e + 1), so the span past an edge the run ends just before gets a table while its allocator
 * chunk (64 MiB edges) or its start bitmap chunk (128 MiB edges) may not exist: its byte must stay
 * clear. For e at edge - 2 .. edge + 1 of the allocator's first edge (inside a start bitmap chunk)
 * and of its second (a start bitmap edge too), runs of 1..3 pages: the first reservation, then one
 * at edge + 1 (past the edge: the inline test's own chunk-edge rule does not send it to the general
 * path), which must make what it needs (a byte wrong there would set a bit in a missing chunk, a
 * bug check); syspte_check after each, every span's byte as its table and chunks say.
 */
static void region_ready_chunk_edges(void)
{
	const uint64_t C = BUDDY_CHUNK_UNITS, npages = 5 * C, prefer = 4 * C;
	unsigned bad = 0, cases = 0, met_buddy = 0, met_starts = 0, second = 0;
	vaddr_t base = SYSPTE_BASE + (384ULL << 30);
	for (uint64_t edge = C; edge <= 2 * C; edge += C)
		for (int d = -2; d <= 1; d++)
			for (uint64_t n = 1; n <= 3; n++, base += 512ULL << 20) {
				struct syspte_region *r = syspte_create_ex(host_machine_pt(), base, npages, SYSPTE_CREATE_NO_CACHE);
				if (!r) {
					bad++;
					continue;
				}
				uint64_t e = edge + (uint64_t)(int64_t)d, s = e - n - r->guard, k = edge >> SYSPTE_SPAN_SHIFT;
				vaddr_t a = reserve_at(r, s, n, prefer);
				cases++;
				bool tabled = syspte_has_table(r, k);
				bool buddy_missing = !buddy_chunk_present(&r->buddy, edge), starts_missing = !bitset_chunk_present(&r->starts, edge);
				met_buddy += a && tabled && buddy_missing;
				met_starts += a && tabled && !buddy_missing && starts_missing;
				/* the span past the edge: a table there (e + 2 reaches it) without a chunk is not ready */
				bad += !a || syspte_check(r) != 0 || tabled != (e + 2 > edge) ||
				       r->span_ready[k] != (tabled && !buddy_missing && !starts_missing);
				uint64_t n2 = 1 + (uint64_t)d + 2;   /* 1..4 pages at edge + 1 */
				vaddr_t b = reserve_at(r, edge + 1, n2, prefer);
				second += b != 0;
				bad += !b || syspte_check(r) != 0 || !r->span_ready[k] || !buddy_chunk_present(&r->buddy, edge) ||
				       !bitset_chunk_present(&r->starts, edge + 1);
				bad += (a && syspte_release(r, a, 0x45474445) != SYSPTE_OK) ||
				       (b && syspte_release(r, b, 0x45474445) != SYSPTE_OK) || syspte_check(r) != 0;
			}
	ok(bad == 0 && second == cases, "%u generated cases at the 64 MiB and 128 MiB metadata edges: the span past the edge "
	   "ready exactly when its table and both chunks exist, a reservation just past the edge makes its chunks, check "
	   "passes throughout", cases);
	ok(met_buddy > 0 && met_starts > 0, "met: a span with its table but no allocator chunk (%u cases), one with its "
	   "table and allocator chunk but no start bitmap chunk (%u)", met_buddy, met_starts);
	/* A run starting exactly at an edge, cut from a free extent that begins before it: the take
	 * sets the end bit of page edge - 1, in the chunk before the edge, which may be missing while
	 * every span of the run is ready (a reservation a pages past the edge made them so). */
	unsigned bad2 = 0, cases2 = 0, met_missing = 0;
	static const uint64_t past[] = { 1, 2, 40 };
	for (uint64_t edge = 2 * C; edge <= 3 * C; edge += C)
		for (unsigned j = 0; j < 3; j++)
			for (uint64_t n = 1; n <= 3; n += 2, base += 512ULL << 20) {
				struct syspte_region *r = syspte_create_ex(host_machine_pt(), base, npages, SYSPTE_CREATE_NO_CACHE);
				if (!r) {
					bad2++;
					continue;
				}
				cases2++;
				uint64_t a = edge + past[j] + (n + r->guard > past[j] ? n + r->guard : 0);
				vaddr_t x = reserve_at(r, a, 4, prefer);
				met_missing += x && r->span_ready[edge >> SYSPTE_SPAN_SHIFT] && !buddy_chunk_present(&r->buddy, edge - 1);
				vaddr_t y = reserve_at(r, edge, n, prefer);
				bad2 += !x || !y || syspte_check(r) != 0 || !buddy_chunk_present(&r->buddy, edge - 1);
				bad2 += (x && syspte_release(r, x, 0x45474445) != SYSPTE_OK) ||
					(y && syspte_release(r, y, 0x45474445) != SYSPTE_OK) || syspte_check(r) != 0;
			}
	ok(bad2 == 0 && met_missing == cases2, "%u generated runs starting at a 64 MiB edge whose spans were ready but whose "
	   "previous chunk was missing (%u): placed, that chunk made for the end bit before the run, check passes", cases2,
	   met_missing);
}

/* What a reservation may make: tables and the allocator's and start bitmap's chunks. */
static uint64_t region_made(const struct syspte_region *r)
{
	return r->table_pages + buddy_chunk_count(&r->buddy) + r->starts.chunks;
}

/* Generated: nprobe runs [s, e) with s at or above the ready point (the point itself first, then
 * random starts; random ends e, and need e .. e + 2 within the region) need nothing made: the allocator's chunks of s - 1, s, e - 1 and e
 * (those in the region), the start bitmap's chunk of s and the tables of [s, need) all exist (what
 * syspte_reserve_meta_locked would make, tested here one by one, not through the inline test,
 * which also sends a run at a chunk edge to the general path). False otherwise. */
static bool ready_point_sound(struct syspte_region *r, unsigned nprobe)
{
	uint64_t from = buddy_ready_from(&r->buddy);
	for (unsigned k = 0; k < nprobe && from < r->npages; k++) {
		uint64_t s = k ? from + below(r->npages - from) : from, e = s + 1 + below(r->npages - s),
			 need = MIN(e + below(3), r->npages);
		bool chunks = (!s || buddy_chunk_present(&r->buddy, s - 1)) && buddy_chunk_present(&r->buddy, s) &&
			      buddy_chunk_present(&r->buddy, e - 1) && (e == r->npages || buddy_chunk_present(&r->buddy, e)) &&
			      bitset_chunk_present(&r->starts, s);
		if (!chunks || !syspte_tables_ready(r, s, need))
			return false;
	}
	return true;
}

/* Counts of region_ready_round. */
struct ready_counts {
	uint64_t top, below_top, refused, rose, made_at_top, unsound, bad_check, lowest;
};

/* One round of region_ready_top on a fresh region r of npages pages: steps reservations and frees. */
static void region_ready_round(struct syspte_region *r, uint64_t npages, int steps, struct ready_counts *c)
{
	enum { LIVE = 256 };
	vaddr_t live[LIVE] = { 0 };
	for (int k = 0; k < steps; k++) {
		unsigned i = (unsigned)below(LIVE);
		uint64_t before = buddy_ready_from(&r->buddy);
		if (live[i]) {
			c->bad_check += syspte_release(r, live[i], 0x504f5452) != SYSPTE_OK;
			live[i] = 0;
		} else {
			uint64_t n = below(8) ? 1 + below(600) : 1 + below(6000), from = buddy_ready_from(&r->buddy),
				 made = region_made(r), prefer = 1, phase = 0;
			uint32_t flags = 0;
			if (below(3) == 0) {   /* a preference (DIVISIBLE with one: region_divisible_pref) */
				prefer = (uint64_t)1 << (10 + below(6));
				phase = below(prefer);
			} else if (below(8) == 0) {
				flags = SYSPTE_FLAG_DIVISIBLE;
			}
			if (below(4) == 0)
				phys_set_budget(allocated_pages() + below(7));
			vaddr_t v = syspte_reserve_pref(r, n, 0x504f5452, flags, prefer, phase);
			phys_set_budget(UINT64_MAX);
			if (!v) {
				c->refused++;
			} else if (((v - r->base) >> PAGE_SHIFT) >= from) {
				c->top++;
				c->made_at_top += region_made(r) != made;
			} else {
				c->below_top++;
			}
			live[i] = v;
		}
		c->rose += buddy_ready_from(&r->buddy) > before;   /* frees included */
		c->lowest = MIN(c->lowest, buddy_ready_from(&r->buddy));
		c->unsound += !ready_point_sound(r, 8);
		if (k % 25 == 0)
			c->bad_check += syspte_check(r) != 0;
	}
	for (unsigned j = 0; j < LIVE; j++)
		if (live[j])
			c->bad_check += syspte_release(r, live[j], 0x504f5452) != SYSPTE_OK;
	c->bad_check += syspte_check(r) != 0 || npages != r->npages;
}

/*
 * The ready top (mm/syspte_impl.h), generated: four fresh regions of four allocator chunks (eight
 * start bitmap chunks, 128 spans) without caches, each with reservations of 1 to 600 pages (some
 * larger, some DIVISIBLE), a third placed by a preference at random aligned places (below the top
 * while it is high), frees at random, a quarter of the reservations under a physical budget of 0
 * to 6 pages. A fresh region has no ready span (its point past the last page); after each step the
 * point never rose, every reservation starting at or above the point it had before made nothing
 * (no table, no chunk), runs at or above the point need nothing made whatever their ends
 * (ready_point_sound), and syspte_check passes (it matches the point against the span bytes).
 * Then the point moved one span down or up, to either end or a page off is caught by syspte_check.
 */
static void region_ready_top(void)
{
	const uint64_t npages = 4 * BUDDY_CHUNK_UNITS;
	struct ready_counts c = { .lowest = UINT64_MAX };
	struct syspte_region *r = NULL;
	unsigned fresh = 0, rounds = 4;
	for (unsigned k = 0; k < rounds; k++) {
		r = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + ((128ULL + k) << 30), npages, SYSPTE_CREATE_NO_CACHE);
		if (!r)
			break;
		fresh += buddy_ready_from(&r->buddy) == npages + 1 && syspte_check(r) == 0;
		region_ready_round(r, npages, 1500, &c);
	}
	ok(r && fresh == rounds, "%u fresh regions: no span ready, the ready point past the last page", fresh);
	if (!r)
		return;
	ok(c.top > 1000 && c.below_top > 200 && c.refused > 50 && c.lowest == 0,
	   "%llu reservations at or above the ready point, %llu below it, %llu refused; the point went down to page %llu",
	   (unsigned long long)c.top, (unsigned long long)c.below_top, (unsigned long long)c.refused,
	   (unsigned long long)c.lowest);
	ok(c.made_at_top == 0 && c.rose == 0 && c.unsound == 0 && c.bad_check == 0,
	   "none at or above the point made a table or chunk (%llu), the point never rose (%llu), runs above it need "
	   "nothing made (%llu failures), check passed throughout (%llu failures)", (unsigned long long)c.made_at_top,
	   (unsigned long long)c.rose, (unsigned long long)c.unsound, (unsigned long long)c.bad_check);
	/* the point moved off what the span bytes say is caught: on one more fresh region given a few
	 * reservations, so that its point lies between the ends and every wrong point below differs */
	struct syspte_region *m = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + ((128ULL + rounds) << 30), npages,
						   SYSPTE_CREATE_NO_CACHE);
	vaddr_t held[8] = { 0 };
	for (unsigned j = 0; m && j < ARRAY_SIZE(held); j++)
		held[j] = syspte_reserve(m, 600, 0x504f5452, 0);
	uint64_t from = m ? buddy_ready_from(&m->buddy) : 0, k = syspte_ready_span(from);
	const uint64_t wrong[] = { syspte_ready_from_span(k + 1), syspte_ready_from_span(k - 1), 0, npages + 1, from + 1 };
	unsigned caught = 0, tried = 0;
	for (unsigned w = 0; m && k > 1 && k + 1 < m->nspans && w < ARRAY_SIZE(wrong); w++) {
		tried += wrong[w] != from;
		buddy_set_ready_from(&m->buddy, wrong[w]);
		caught += syspte_check(m) != 0;
		buddy_set_ready_from(&m->buddy, from);
	}
	ok(tried == ARRAY_SIZE(wrong) && caught == tried && syspte_check(m) == 0,
	   "the ready point (span %llu of %llu) set a span lower or higher, to either end or a page off: %u of %u "
	   "caught, then restored", (unsigned long long)k, m ? (unsigned long long)m->nspans : 0ULL, caught, tried);
	for (unsigned j = 0; m && j < ARRAY_SIZE(held); j++)
		if (held[j])
			syspte_release(m, held[j], 0x504f5452);
}

/*
 * Addresses at the region's edges, outside it: a page below its base and the byte below it, its
 * end, a byte, a page less a byte and a page past it, 0 and the top of the address space. A free
 * there is bug check 0xDA/0x102 naming the address, a map 0x105, a lookup finds nothing, and no
 * count moves; the free's page index past the last page reads no chunk owner (the owner bytes end
 * with the region's chunks: what lies after them is other state). Then (whole: the region empty,
 * without caches) the last page itself, as a reservation's: found from its last byte, freed.
 */
static void region_edge_addresses(struct syspte_region *r, bool whole)
{
	bugcheck_hook_t prev = bugcheck_set_hook(bugcheck_record_hook);
	vaddr_t end = syspte_va(r, r->npages);
	const vaddr_t out[] = { r->base - PAGE_SIZE, r->base - 1, end, end + 1, end + PAGE_SIZE - 1, end + PAGE_SIZE, 0,
				~(vaddr_t)0 };
	struct syspte_stats s0, s1;
	syspte_get_stats(r, &s0);
	unsigned bad = 0, n = sizeof(out) / sizeof(out[0]);
	uint64_t calls = bugcheck_last.count;
	for (unsigned k = 0; k < n; k++) {
		struct syspte_info info;
		uint64_t pfn = 0x300;
		syspte_release(r, out[k], 0x45474445);
		bad += bugcheck_last.p[0] != SYSPTE_BUGCHECK_FREE_NOT_START || bugcheck_last.p[1] != out[k];
		syspte_map(r, out[k], 0x45474445, &pfn, 1, PT_CACHE_WB);
		bad += bugcheck_last.p[0] != SYSPTE_BUGCHECK_MAP_NO_RESERVATION || bugcheck_last.p[1] != out[k];
		bad += syspte_lookup(r, out[k], &info) || syspte_reservation_base(r, out[k]) != 0;
	}
	syspte_get_stats(r, &s1);
	ok(bad == 0 && bugcheck_last.count == calls + 2 * n && memcmp(&s0, &s1, sizeof(s0)) == 0 && syspte_check(r) == 0,
	   "%u addresses outside the region at its edges: free 0x102 and map 0x105 naming them, no lookup, nothing "
	   "changed (the owner byte past the last chunk: %u)", n, r->cache.on ? (unsigned)r->cache.owner[r->cache.nchunks] : 0);
	if (whole) {   /* the last page, reserved: the allocator takes the back of an empty region's one extent */
		vaddr_t v = syspte_reserve(r, SYSPTE_CACHE_MAX_PAGES + 3, 0x45474445, 0);
		ok(v && v + (SYSPTE_CACHE_MAX_PAGES + 3 + r->guard) * PAGE_SIZE == end &&
		   syspte_reservation_base(r, end - 1) == v && syspte_release(r, v, 0x45474445) == SYSPTE_OK &&
		   syspte_check(r) == 0, "the empty region's first reservation ends at its last page: found from the "
		   "last byte, freed");
	}
	bugcheck_set_hook(prev);
}

/* syspte_check against corrupt chunk owners (the check reads the owner bytes a word at a time and
 * walks the owned bits): a stray owner in a word that is otherwise zero, at its first byte and
 * inside it, is caught, and undoing it passes again. (An owned bit without its owner stops the
 * caches' walkers' assertions first.) */
static void region_check_catches_owners(struct syspte_region *r)
{
	vaddr_t v = syspte_reserve(r, 1, 0x4f574e52, 0);
	uint64_t idx = r->cache.nchunks ? bitset_next(&r->cache.owned, 0) : UINT64_MAX;
	ok(v && idx != UINT64_MAX && syspte_check(r) == 0, "a 1-page reservation: its chunk %llu is owned, check passes",
	   (unsigned long long)idx);
	if (!v || idx == UINT64_MAX)
		return;
	uint64_t far = (r->cache.nchunks - 1) & ~(uint64_t)7;   /* the last whole word of owner bytes */
	uint64_t word;
	memcpy(&word, (const void *)&r->cache.owner[far], sizeof(word));
	ok(far != (idx & ~(uint64_t)7) && word == 0, "chunks %llu..%llu have no owner", (unsigned long long)far,
	   (unsigned long long)far + 7);
	r->cache.owner[far + 5] = r->cache.owner[idx];
	ok(syspte_check(r) != 0, "an owner byte set in an all-zero word, with no owned bit, is caught");
	r->cache.owner[far + 5] = 0;
	bool undone = syspte_check(r) == 0;
	r->cache.owner[far] = r->cache.owner[idx];
	ok(syspte_check(r) != 0, "an owner byte set first in its word is caught");
	r->cache.owner[far] = 0;
	undone &= syspte_check(r) == 0;
	ok(undone, "each corruption undone: check passes");
	ok(syspte_release(r, v, 0x4f574e52) == SYSPTE_OK && syspte_check(r) == 0, "freed, check passes");
}

int main(int argc, char **argv)
{
	uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;
	is(host_machine_create(256ULL << 20, (uint64_t)RPAGES * PAGE_SIZE), 0, "machine: 256 MiB of RAM, a 64 MiB region");
	test_record_layout();
	test_table_churn(steps);
	test_collisions();
	test_page_edges();
	test_far_from_home();
	test_memory_short();
	test_size_rule();
	test_largest_table();
	test_check_derived();
	test_check_top_level();
	struct syspte_region *plain = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (256ULL << 30), RPAGES,
						       SYSPTE_CREATE_NO_CACHE);
	ok(plain != NULL, "a second region, without caches");
	region_churn(plain, "no caches", steps);
	region_churn(reserved_region(), "caches", steps);
	region_adoption(reserved_region());
	region_adoption_shrink(reserved_region());
	region_exhaustion(plain);
	region_check_catches(plain);
	region_check_catches_owners(reserved_region());
	region_ready_spans();
	region_ready_chunk_edges();
	region_ready_top();
	region_divisible_pref();
	region_pref_address_space();
	region_edge_addresses(plain, true);
	region_edge_addresses(reserved_region(), false);
	ok(lost == 0 && misplaced == 0, "no live start was lost before its removal, none misplaced by its insert");
	ok(home_wrong == 0, "syspte_index_find_home's flag said home exactly when the entry lay in its home slot");
	free(ix_meta);
	return tap_done();
}
