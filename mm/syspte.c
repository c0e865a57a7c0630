/*
 * A system PTE region's set-up and its reservations with their index (contract
 * in mm/syspte.h, private state in mm/syspte_impl.h).
 *
 * The index answers two questions: "which record starts at page s" (free, and the lookups below)
 * and "which reservation contains page i" (map, unmap, the fault report). The start bitmap gives
 * the last start at or before i in a few word operations; an open-addressed table keyed by the
 * start holds the record itself (mm/syspte_index.h), so a free finds it in the line its start
 * hashes to. Walks (accounting, check) go through the bitmap in address order, so no list of
 * records is kept. A page in a chunk of a CPU's cache is found in that chunk instead
 * (mm/syspte_cache.c): reserve and free try the caches first, and each lookup asks whether the
 * page's chunk is cached before it reads the region's own index.
 */
#include "syspte_impl.h"
#include "phys.h"
#include "bugcheck.h"
#include "kprintf.h"
#include "kassert.h"
#include "verifier.h"

/* Where the parts of a region's state lie in its metadata run (offsets, each 8-byte aligned). */
struct syspte_layout {
	size_t index, buddy, starts, tables, table_pa, pd, ready, cache, total;
};

/* Level-2 tables a region of npages pages from base may meet: one per 1 GiB of address it touches. */
static uint64_t syspte_pd_count(vaddr_t base, uint64_t npages)
{
	return (((base + (npages << PAGE_SHIFT) - 1) >> 30) - (base >> 30)) + 1;
}

static struct syspte_layout syspte_layout_of(vaddr_t base, uint64_t npages)
{
	struct syspte_layout l;
	uint64_t nspans = npages / SYSPTE_SPAN_PAGES;
	l.index = ALIGN_UP(sizeof(struct syspte_region), 8);
	l.buddy = l.index + ALIGN_UP(syspte_index_meta_bytes(npages), 8);
	l.starts = l.buddy + ALIGN_UP(buddy_meta_bytes_dir(npages), 8);
	l.tables = l.starts + ALIGN_UP(bitset_meta_bytes_chunked(npages), 8);
	l.table_pa = l.tables + nspans * sizeof(uint64_t *);
	l.pd = l.table_pa + nspans * sizeof(paddr_t);
	l.ready = l.pd + syspte_pd_count(base, npages) * sizeof(pte_t *);
	l.cache = l.ready + ALIGN_UP(nspans, 8);
	l.total = l.cache + ALIGN_UP(syspte_cache_meta_bytes(npages), 8);
	return l;
}

uint64_t syspte_setup_pages(uint64_t npages)
{
	/* the metadata run, and the allocator's chunks of the region's two ends */
	return (ALIGN_UP(syspte_layout_of(0, npages).total + sizeof(pte_t *), PAGE_SIZE) >> PAGE_SHIFT) + 2;
}

bool syspte_in_region(const struct syspte_region *r, vaddr_t va) { return syspte_inside(r, va); }

uint64_t syspte_guard_pages(const struct syspte_region *r) { return r->guard; }

/* Checks a region's geometry; prints why not. Base 0 is refused: a reservation at the region's
 * first page would be address 0, which every caller reads as a refusal. */
static bool syspte_geometry_ok(vaddr_t base, uint64_t npages)
{
	if (base && npages && IS_ALIGNED(base, SIZE_2M) && npages % PT_ENTRIES == 0 && npages <= BUDDY_MAX_PAGES &&
	    !range_overflows(base, npages << PAGE_SHIFT) && base + (npages << PAGE_SHIFT) != 0 &&
	    arch_va_range_ok(base, base + (npages << PAGE_SHIFT) - 1))
		return true;
	kprintf("syspte: bad region 0x%llx + %llu pages (must be whole, aligned 2 MiB pieces of canonical addresses "
		"in one half, from above 0 and ending below the top of the address space)\n",
		(unsigned long long)base, (unsigned long long)npages);
	return false;
}

/* Frees the chunk pages of *ch (none installed). */
void syspte_meta_drop(struct syspte_meta_chunks *ch)
{
	while (ch->n)
		phys_free(ch->page[--ch->n], 1);
	if (ch->starts_page)
		phys_free(ch->starts_page, 1);
	ch->starts_page = 0;
}

/* Allocates a zeroed chunk for each of units[0, n) (< npages) whose chunk is missing, one per
 * chunk, into *ch; false, nothing kept, when memory is short. */
static bool syspte_meta_alloc_units(struct syspte_region *r, const uint64_t *units, unsigned n, struct syspte_meta_chunks *ch)
{
	ch->n = 0;
	ch->starts_page = 0;
	for (unsigned k = 0; k < n; k++) {
		bool dup = buddy_chunk_present(&r->buddy, units[k]);
		for (unsigned j = 0; j < ch->n && !dup; j++)
			dup = (ch->unit[j] >> BUDDY_CHUNK_SHIFT) == (units[k] >> BUDDY_CHUNK_SHIFT);
		if (dup)
			continue;
		paddr_t pa = phys_alloc_zeroed_page();
		if (!pa) {
			syspte_meta_drop(ch);
			return false;
		}
		ch->unit[ch->n] = units[k];
		ch->page[ch->n++] = pa;
	}
	return true;
}

/* Lowers the ready top (syspte_impl.h) past the ready spans just below it: after a span's byte
 * was set. Each span joins the top once, so the steps over a region's life are at most its spans. */
static void syspte_ready_lower(struct syspte_region *r)
{
	uint64_t k = syspte_ready_down(r, syspte_ready_span(buddy_ready_from(&r->buddy)));
	buddy_set_ready_from(&r->buddy, syspte_ready_from_span(k));
}

/* Sets the ready flags of spans [k, k + n) (clipped to the region) from their tables and chunks. */
static void syspte_spans_ready_update(struct syspte_region *r, uint64_t k, uint64_t n)
{
	for (uint64_t end = MIN(k + n, r->nspans); k < end; k++)
		r->span_ready[k] = syspte_span_ready_now(r, k);
	syspte_ready_lower(r);
}

/* Installs the chunks syspte_meta_alloc_units allocated; the spans of each become ready where
 * their tables are there. */
void syspte_meta_install(struct syspte_region *r, const struct syspte_meta_chunks *ch)
{
	const uint64_t buddy_spans = BUDDY_CHUNK_UNITS / SYSPTE_SPAN_PAGES, starts_spans = BITSET_CHUNK_BITS / SYSPTE_SPAN_PAGES;
	for (unsigned k = 0; k < ch->n; k++) {
		buddy_chunk_install(&r->buddy, ch->unit[k], arch_phys_to_virt(ch->page[k]));
		syspte_spans_ready_update(r, (ch->unit[k] >> BUDDY_CHUNK_SHIFT) * buddy_spans, buddy_spans);
	}
	if (ch->starts_page) {
		bitset_chunk_install(&r->starts, ch->starts_unit, arch_phys_to_virt(ch->starts_page));
		syspte_spans_ready_update(r, ch->starts_unit / BITSET_CHUNK_BITS * starts_spans, starts_spans);
	}
}

/* Allocates the chunks a reservation of the run [s, e) needs: the allocator's for units s - 1, s,
 * e - 1 and e inside the region (mm/buddy.h), the start bitmap's for s; false, none kept, when
 * memory is short. */
bool syspte_meta_alloc_locked(struct syspte_region *r, uint64_t s, uint64_t e, struct syspte_meta_chunks *ch)
{
	ch->n = 0;
	ch->starts_page = 0;
	if (syspte_meta_ready(r, s, e))
		return true;   /* the common case: one chunk, there already */
	uint64_t u[4];
	unsigned n = 0;
	if (s > 0)
		u[n++] = s - 1;
	u[n++] = s;
	u[n++] = e - 1;
	if (e < r->npages)
		u[n++] = e;
	if (!syspte_meta_alloc_units(r, u, n, ch))
		return false;
	ch->starts_unit = s;
	if (!bitset_chunk_present(&r->starts, s) && !(ch->starts_page = phys_alloc_zeroed_page())) {
		syspte_meta_drop(ch);
		return false;
	}
	return true;
}

struct syspte_region *syspte_create(struct pt *pt, vaddr_t base, uint64_t npages)
{
	return syspte_create_ex(pt, base, npages, 0);
}

struct syspte_region *syspte_create_ex(struct pt *pt, vaddr_t base, uint64_t npages, unsigned flags)
{
	if (!syspte_geometry_ok(base, npages))
		return NULL;
	struct syspte_layout l = syspte_layout_of(base, npages);
	uint64_t pages = ALIGN_UP(l.total, PAGE_SIZE) >> PAGE_SHIFT;
	paddr_t meta = phys_alloc(pages, 0, UINT64_MAX);
	if (!meta) {
		kprintf("syspte: no memory for %zu bytes of region metadata\n", l.total);
		return NULL;
	}
	uint8_t *m = arch_phys_to_virt(meta);
	struct syspte_region *r = (struct syspte_region *)m;
	*r = (struct syspte_region){
		.pt = pt, .base = base, .npages = npages, .guard = mm_verifier ? 1 : 0,
		.nspans = npages / SYSPTE_SPAN_PAGES, .span0 = base >> (PAGE_SHIFT + SYSPTE_SPAN_SHIFT),
		.tables = (uint64_t **)(m + l.tables), .table_pa = (paddr_t *)(m + l.table_pa),
		.pd = (volatile pte_t **)(m + l.pd), .span_ready = m + l.ready,
		.meta_bytes = l.total, .meta_pages = pages,
	};
	spin_init(&r->lock, LOCK_RANK_SYSPTE, "syspte");
	for (unsigned c = 0; c < PT_CACHE_TYPES; c++) {
		r->attrs[c] = pt_leaf_attrs(pt, SYSPTE_PROT(c));
		r->attrs2[c] = pt_leaf_level_ok(pt, 2) ? pt_leaf_attrs_level(pt, SYSPTE_PROT(c), 2) : 0;
	}
	syspte_index_init(&r->index, npages, m + l.index);
	for (uint64_t s = 0; s < r->nspans; s++) {
		r->tables[s] = NULL;
		r->table_pa[s] = 0;
		r->span_ready[s] = 0;
	}
	for (uint64_t g = 0; g < syspte_pd_count(base, npages); g++)
		r->pd[g] = NULL;
	r->tables[0] = r->slot0;   /* the first free-extent record, until span 0 gets its table */
	bitset_init_chunked(&r->starts, npages, m + l.starts);
	/* the free extents' records live in their first pages' not-present PTEs (slot0 for pages 0, 1);
	 * the allocator's bitmaps get chunks where bits are set: now the whole region's two ends */
	buddy_init_dir(&r->buddy, npages, base >> PAGE_SHIFT, m + l.buddy, r->tables);
	uint64_t ends[2] = { 0, npages - 1 };
	struct syspte_meta_chunks ch;
	if (!syspte_meta_alloc_units(r, ends, 2, &ch)) {
		kprintf("syspte: no memory for the region allocator's first chunks\n");
		phys_free(meta, pages);
		return NULL;
	}
	syspte_meta_install(r, &ch);
	bool all = buddy_free(&r->buddy, 0, npages);
	KASSERT(all, "syspte: populating the region allocator failed");
	syspte_cache_init(r, m + l.cache, !(flags & SYSPTE_CREATE_NO_CACHE));
	return r;
}

/* Records a level-1 table pt_span_tables created for the region (pt_span_fn, under both locks): the
 * span's slots move to it, and span 0's record slots are copied from slot0. */
static void syspte_table_made(void *arg, vaddr_t va, paddr_t table, volatile pte_t *pde)
{
	struct syspte_region *r = arg;
	uint64_t s = (va - r->base) >> (PAGE_SHIFT + SYSPTE_SPAN_SHIFT);
	uint64_t *t = arch_phys_to_virt(table);
	KASSERT(s < r->nspans && !r->table_pa[s], "syspte: a second table for span %llu", (unsigned long long)s);
	if (s == 0) {   /* pages 0 and 1 may hold a free extent's record: it moves with them */
		t[0] = r->slot0[0];
		t[1] = r->slot0[1];
	}
	r->tables[s] = t;
	r->table_pa[s] = table;
	syspte_spans_ready_update(r, s, 1);
	/* The 1 GiB's level-2 table, written once, when its first span gets a table: a map or unmap of
	 * a cached reservation reads it under its cache's lock alone (syspte_pde), so a later span's
	 * table must not store it again, even the same value (a data race in C's model). */
	volatile pte_t **pd = &r->pd[((r->span0 + s) >> SYSPTE_SPAN_SHIFT) - (r->span0 >> SYSPTE_SPAN_SHIFT)];
	volatile pte_t *l2 = pde - ((r->span0 + s) & (PT_ENTRIES - 1));
	KASSERT(!*pd || *pd == l2, "syspte: span %llu's level-2 table moved", (unsigned long long)s);
	if (!*pd)
		*pd = l2;
	r->table_pages++;
}

/*
 * Creates the level-1 tables pages [i, end) need, all or nothing (pt_span_tables: the tables above
 * them too, one page each); false, nothing changed, when memory is short. Called before the
 * allocator writes a record there or a map a PTE. The physical allocator's and the page tables'
 * locks nest inside the region's (LOCK_RANK_SYSPTE < LOCK_RANK_PT < LOCK_RANK_PHYS).
 */
bool syspte_tables_locked(struct syspte_region *r, uint64_t i, uint64_t end)
{
	spin_assert_held(&r->lock);
	uint64_t first = UINT64_MAX, last = 0;
	for (uint64_t s = i >> SYSPTE_SPAN_SHIFT; s <= (end - 1) >> SYSPTE_SPAN_SHIFT; s++)
		if (!syspte_has_table(r, s)) {
			first = MIN(first, s);
			last = s;
		}
	if (first == UINT64_MAX)
		return true;
	return pt_span_tables(r->pt, r->base + (first << (PAGE_SHIFT + SYSPTE_SPAN_SHIFT)), last - first + 1,
			      syspte_table_made, r) == PT_OK;
}

struct syspte_resv *syspte_find_start_locked(struct syspte_region *r, uint64_t start)
{
	spin_assert_held(&r->lock);
	return syspte_index_find(&r->index, start);
}

struct syspte_resv *syspte_next_locked(struct syspte_region *r, uint64_t i)
{
	spin_assert_held(&r->lock);
	uint64_t s = i < r->npages ? bitset_next(&r->starts, i) : UINT64_MAX;
	struct syspte_resv *c = syspte_cache_next_locked(r, i, s);   /* a cached one before s */
	if (c)
		return c;
	return s == UINT64_MAX ? NULL : syspte_find_start_locked(r, s);
}

/* The allocator's chunks where a take of [s, s + span) and a later free set bits, then the tables
 * of pages [s, need): all or nothing; false, nothing kept, when memory is short. The general case
 * of syspte_reserve_locked, which tests inline that both are there already (the common case). */
static bool __attribute__((noinline)) syspte_reserve_meta_locked(struct syspte_region *r, uint64_t s, uint64_t span,
								 uint64_t need)
{
	struct syspte_meta_chunks ch;
	if (!syspte_meta_alloc_locked(r, s, s + span, &ch))
		return false;
	if (!syspte_tables_locked(r, s, need)) {   /* true at once when none is missing */
		syspte_meta_drop(&ch);
		return false;
	}
	syspte_meta_install(r, &ch);
	return true;
}

/* Takes the placement p of span pages that buddy_find_take found below the ready top, once what it
 * needs is there: the allocator's chunks and the tables of the run and, when the free extent it is
 * cut from goes on after it, of that extent's first two pages, which take its record now (the
 * extent holds the run: ext_end >= e). A later free puts records only where these or older
 * reservations made tables: it never allocates. False, nothing changed, when memory is short. */
static bool __attribute__((noinline)) syspte_reserve_below_locked(struct syspte_region *r, const struct buddy_place *p,
								  uint64_t span)
{
	uint64_t e = p->start + span, need = MIN(e + 2, p->ext_end);
	if (!syspte_run_ready(r, p->start, e, need) && !syspte_reserve_meta_locked(r, p->start, span, need))
		return false;
	buddy_take(&r->buddy, p, span);
	return true;
}

/* A run of npages (and the guard) placed by the region's allocator and taken, the tables it needs
 * made first: its first page in *start; false, nothing changed, when no run is free or no page is
 * there for a table. The preference is the address space's (syspte.h), the allocator's is its unit
 * index's: the base's page index joins the phase (mod prefer, a power of two, the sum's wrap changes
 * nothing; when the rule is an alignment the base is a multiple of it, so the allocator's test of the
 * phase against it is unchanged). No preference: nothing added (the common call's constant stays).
 * A run in the ready top is taken at once, any other once what it needs is made. */
static inline __attribute__((always_inline)) bool syspte_place_locked(struct syspte_region *r, uint64_t npages,
								       uint32_t flags, uint64_t prefer, uint64_t phase,
								       uint64_t *start)
{
	struct buddy_place p;
	uint64_t span = npages + r->guard;
	int got = buddy_find_take(&r->buddy, span, (flags & SYSPTE_FLAG_DIVISIBLE) ? npages : 1, prefer,
				  prefer > 1 ? phase + (r->base >> PAGE_SHIFT) : phase, &p);
	if (got != BUDDY_FIND_TAKEN && (got == BUDDY_FIND_NONE || !syspte_reserve_below_locked(r, &p, span)))
		return false;
	*start = p.start;
	return true;
}

/* syspte_reserve_locked when the region's index is full: its larger table is built first and the
 * entries move into it only once the run is placed, so a refusal (no run free, no page for a
 * table) frees that table again and changes nothing, the physical allocator included. */
static bool __attribute__((noinline)) syspte_reserve_growing_locked(struct syspte_region *r, uint64_t npages,
								    uint32_t tag, uint32_t flags, uint64_t prefer,
								    uint64_t phase, uint64_t *start)
{
	unsigned bits;
	if (!syspte_index_grow_prepare(&r->index, 1, &bits))
		return false;
	if (!syspte_place_locked(r, npages, flags, prefer, phase, start)) {
		syspte_index_grow_abort(&r->index, bits);
		return false;
	}
	syspte_index_grow_commit(&r->index, bits);
	syspte_link_new(r, *start, npages, tag, flags);
	return true;
}

/* A reservation placed by the region's allocator (the tables it needs made first) and entered into
 * its own index: its first page in *start; false, nothing changed, when no run is free, or no page
 * for a table or for the index's growth. Inline at each call site: syspte_reserve_pref's and
 * syspte_reserve_cached's are the hot ones. */
static inline __attribute__((always_inline)) bool syspte_reserve_locked(struct syspte_region *r, uint64_t npages,
									 uint32_t tag, uint32_t flags, uint64_t prefer,
									 uint64_t phase, uint64_t *start)
{
	spin_assert_held(&r->lock);
	if (r->index.count + 1 > r->index.cap)
		return syspte_reserve_growing_locked(r, npages, tag, flags, prefer, phase, start);
	if (!syspte_place_locked(r, npages, flags, prefer, phase, start))
		return false;
	syspte_link_new(r, *start, npages, tag, flags);   /* the lock asserted above */
	return true;
}

/* syspte_reserve_locked again once every cache was drained into the allocator, when that freed
 * something: the last resort before "no run free anywhere". */
static bool __attribute__((noinline)) syspte_reserve_drained_locked(struct syspte_region *r, uint64_t npages,
								    uint32_t tag, uint32_t flags, uint64_t prefer,
								    uint64_t phase, uint64_t *start)
{
	return syspte_cache_drain_locked(r, npages + r->guard, (flags & SYSPTE_FLAG_DIVISIBLE) ? npages : 1) &&
	       syspte_reserve_locked(r, npages, tag, flags, prefer, phase, start);
}

/* syspte_reserve_pref of a size the caches place (syspte_cache_sized) when this CPU's cache had
 * no room without the region's lock: under it, the cache refilled, then the allocator (a
 * reservation it placed may bring its aligned chunk into this CPU's cache:
 * syspte_cache_adopt_locked). */
static vaddr_t __attribute__((noinline)) syspte_reserve_cached(struct syspte_region *r, uint64_t npages, uint32_t tag,
							      uint32_t flags, uint64_t prefer, uint64_t phase)
{
	uint64_t f = spin_lock(&r->lock), start;
	bool ok = syspte_cache_reserve_locked(r, npages, tag, flags, &start);
	if (!ok && (ok = syspte_reserve_locked(r, npages, tag, flags, prefer, phase, &start) ||
			 syspte_reserve_drained_locked(r, npages, tag, flags, prefer, phase, &start)))
		syspte_cache_adopt_locked(r, start, npages);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	return ok ? syspte_va(r, start) : 0;
}

/*
 * A size the caches place goes to this CPU's cache first, without the region's lock, then to
 * syspte_reserve_cached; any other to the allocator under the region's lock. When the allocator
 * fails while the caches' free pages make a run with its own, every cache is drained into it and it
 * is tried again, so 0 means that no free run exists anywhere, or no page for a table, an allocator
 * or start bitmap chunk, or the index's growth. Inline in both entry points, so the common one
 * (syspte_reserve: no preference) makes no second call and carries no preference.
 */
static inline __attribute__((always_inline)) vaddr_t syspte_reserve_in(struct syspte_region *r, uint64_t npages,
									 uint32_t tag, uint32_t flags, uint64_t prefer,
									 uint64_t phase)
{
	if (!npages || npages > r->npages || (flags & ~SYSPTE_FLAGS_KNOWN))
		return 0;
	if (syspte_cache_sized(r, npages)) {
		vaddr_t va = syspte_cache_reserve(r, npages, tag, flags);
		return va ? va : syspte_reserve_cached(r, npages, tag, flags, prefer, phase);
	}
	uint64_t f = spin_lock(&r->lock), start;
	bool ok = syspte_reserve_locked(r, npages, tag, flags, prefer, phase, &start) ||
		  syspte_reserve_drained_locked(r, npages, tag, flags, prefer, phase, &start);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	return ok ? syspte_va(r, start) : 0;
}

vaddr_t syspte_reserve_pref(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags, uint64_t prefer,
			   uint64_t phase)
{
	return syspte_reserve_in(r, npages, tag, flags, prefer, phase);
}

vaddr_t syspte_reserve(struct syspte_region *r, uint64_t npages, uint32_t tag, uint32_t flags)
{
	return syspte_reserve_in(r, npages, tag, flags, 1, 0);
}

int syspte_misuse(struct syspte_misuse *m, uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	*m = (struct syspte_misuse){ sub, p2, p3, p4 };
	return SYSPTE_MISUSE;
}

void syspte_raise(const struct syspte_misuse *m)
{
	KeBugCheckEx(BUGCHECK_SYSTEM_PTE_MISUSE, m->subcode, m->p2, m->p3, m->p4);
}

/* A reservation of the region's own index: the checks, then the free; a misuse in *m. i is addr's
 * page index in the region, past npages when addr lies outside it. */
static int syspte_release_locked(struct syspte_region *r, vaddr_t addr, uint64_t i, uint32_t tag, struct syspte_misuse *m)
{
	spin_assert_held(&r->lock);
	/* Three lines the free touches late are known from the address alone: i's start bitmap word
	 * (the unlink clears the bit), the allocator's word pair of unit i - 1 (does a free extent end
	 * before the run?) and unit i's slot (the run's first PTE, where the allocator writes the new
	 * free extent's record unless the run joins one on its left). Asked for now, their misses
	 * overlap the index's, which the lookup below reads first, instead of following it. The slot's
	 * is a store, yet it costs about as much as a read: this CPU's next locked instruction (the
	 * next call's lock, say) waits until every earlier store of the CPU has its line. */
	if (i < r->npages) {
		bitset_prefetch(&r->starts, i);
		if (i)
			buddy_prefetch_pair(&r->buddy, i - 1);
		buddy_prefetch_slot(&r->buddy, i);
	}
	int st = SYSPTE_OK;
	bool home;
	struct syspte_resv *v = i < r->npages ? syspte_index_find_home(&r->index, i, &home) : NULL;
	if (!v)
		st = syspte_misuse(m, SYSPTE_BUGCHECK_FREE_NOT_START, addr, tag, 0);
	else if (v->tag != tag)
		st = syspte_misuse(m, SYSPTE_BUGCHECK_FREE_WRONG_TAG, addr, tag, v->tag);
	else if (v->mapped)
		st = syspte_misuse(m, SYSPTE_BUGCHECK_FREE_STILL_MAPPED,
				   syspte_va(r, syspte_first_present(r, v->start, v->start + v->npages)), tag, v->mapped);
	if (st == SYSPTE_OK) {
		if (v->npages <= SYSPTE_CACHE_MAX_PAGES && r->cache.on)
			r->cache.slow++;   /* a size the caches place, freed under the lock */
		uint64_t start = v->start, span = syspte_span(v);
		syspte_unlink_found(r, v, home);   /* the lock asserted above; v is stale from here */
		buddy_free_allocated(&r->buddy, start, span);   /* the record proved it allocated */
	}
	return st;
}

/* A cached reservation goes back to its chunk without the region's lock when the caches allow;
 * otherwise, under the lock, to its chunk or to the allocator. A chunk with no owner holds no
 * cached reservation: then the caches are not called (the common case of a reservation the
 * allocator placed), before the lock (a hint: syspte_cache_release checks again under its cache's
 * lock) and under it (exact). */
int syspte_release(struct syspte_region *r, vaddr_t addr, uint32_t tag)
{
	/* addr's page index (the base is page aligned; below it, the difference wraps past every page) */
	uint64_t i = (addr - r->base) >> PAGE_SHIFT;
	bool inside = i < r->npages;
	unsigned o = inside ? syspte_cache_owner_page(r, i) : 0;
	int st = o ? syspte_cache_release(r, addr, tag, i, o) : SYSPTE_CACHE_PASS;
	if (st != SYSPTE_CACHE_PASS)
		return st;
	struct syspte_misuse m;
	uint64_t f = spin_lock(&r->lock);
	if (inside && (o = syspte_cache_owner_page(r, i)) != 0)
		st = syspte_cache_release_locked(r, addr, tag, i, o, &m);
	if (st == SYSPTE_CACHE_PASS)
		st = syspte_release_locked(r, addr, i, tag, &m);
	syspte_verify_locked(r);
	spin_unlock(&r->lock, f);
	if (st == SYSPTE_MISUSE)
		syspte_raise(&m);
	return st;
}

bool syspte_lookup(struct syspte_region *r, vaddr_t va, struct syspte_info *out)
{
	if (!syspte_inside(r, va))
		return false;
	struct syspte_hold h;
	uint64_t i = (va - r->base) >> PAGE_SHIFT;
	unsigned o = syspte_cache_owner_page(r, i);
	if (o) {   /* a chunk a cache owns: under its lock alone, unless it changed owner or the caches froze */
		struct syspte_resv *cv = syspte_cache_hold(r, i, o, &h);
		if (h.cache) {
			if (cv && out)
				syspte_fill_info(r, cv, out);
			syspte_cache_unhold(&h);
			return cv != NULL;
		}
	}
	uint64_t f = spin_lock(&r->lock);
	struct syspte_resv *v = syspte_resv_at_locked(r, va, &i, &h);
	if (v && out)
		syspte_fill_info(r, v, out);
	syspte_unhold_locked(r, &h);
	spin_unlock(&r->lock, f);
	return v != NULL;
}

uint64_t syspte_reservation_base(struct syspte_region *r, vaddr_t va)
{
	struct syspte_info info;
	if (!spin_may_take(&r->lock))
		return 0;
	return syspte_lookup(r, va, &info) ? info.base : 0;
}
