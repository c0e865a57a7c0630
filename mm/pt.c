/*
 * Page-table module (contract in pt.h). Callers hold no lock: pt->lock serialises changes to the
 * tree, and the TLB invalidations a change owes are collected in a batch while it is held and
 * issued after it is released (include/tlb_batch.h). Entries are read, built and tested only
 * through include/arch_pte.h.
 */
#include "pt.h"
#include "phys.h"
#include "arch_mm.h"
#include "tlb_batch.h"
#include "kprintf.h"
#include "kassert.h"

/* Index of va in a table at level (1..PT_LEVELS). */
static unsigned pt_index(vaddr_t va, int level) { return (va >> arch_pt_level_shift(level)) & (PT_ENTRIES - 1); }

/* Bytes one entry at level maps. */
static uint64_t pt_level_size(int level) { return 1ULL << arch_pt_level_shift(level); }

/* One walker step: the entry for va in the table (physical address) at level. */
static volatile pte_t *pt_step(paddr_t table, vaddr_t va, int level)
{
	return (volatile pte_t *)arch_phys_to_virt(table) + pt_index(va, level);
}

int pt_create(struct pt *pt, unsigned features)
{
	*pt = (struct pt){ .features = features & PT_FEAT_ALL };
	spin_init(&pt->lock, LOCK_RANK_PT, "pt");
	pt->root = phys_alloc_zeroed_page();
	if (!pt->root)
		return PT_ENOMEM;
	pt->table_pages = 1;
	return PT_OK;
}

/* The attributes of a leaf at level with prot (its memory type included) on pt's CPU. */
static pte_t pt_attrs(const struct pt *pt, unsigned prot, int level)
{
	return arch_pte_leaf_attrs(prot, (enum pt_cache)PT_PROT_CACHE_OF(prot), level, pt->features);
}

pte_t pt_leaf_attrs(const struct pt *pt, unsigned prot) { return pt_attrs(pt, prot, 1); }

pte_t pt_leaf_attrs_level(const struct pt *pt, unsigned prot, int level) { return pt_attrs(pt, prot, level); }

bool pt_leaf_level_ok(const struct pt *pt, int level) { return arch_pt_leaf_ok(level, pt->features); }

/*
 * Finds the leaf mapping va. Returns its slot and level, or NULL with *level = the level whose
 * entry was non-present (the caller may skip pt_level_size(*level) bytes).
 */
static volatile pte_t *pt_leaf(struct pt *pt, vaddr_t va, int *level)
{
	paddr_t table = pt->root;
	for (int l = PT_LEVELS; l >= 1; l--) {
		volatile pte_t *slot = pt_step(table, va, l);
		pte_t e = arch_pte_read(slot);
		*level = l;
		if (!arch_pte_present(e))
			return NULL;
		if (arch_pte_is_leaf(e, l))
			return slot;
		table = arch_pte_frame(e, l);
	}
	return NULL;
}

/*
 * Walks to va's slot at target level, creating missing tables when create; NULL if absent, out of
 * memory (*st = PT_ENOMEM) or blocked by a large page above target (*st = PT_EEXIST). Creating
 * needs pt->lock held by this CPU (asserted); a missing table then comes from the physical
 * allocator, whose lock ranks after the page table's (include/spinlock.h).
 */
static volatile pte_t *pt_walk(struct pt *pt, vaddr_t va, int target, bool create, int *st)
{
	if (create)
		spin_assert_held(&pt->lock);
	paddr_t table = pt->root;
	for (int l = PT_LEVELS; l > target; l--) {
		volatile pte_t *slot = pt_step(table, va, l);
		pte_t e = arch_pte_read(slot);
		if (!arch_pte_present(e)) {
			if (!create)
				return NULL;
			paddr_t n = phys_alloc_zeroed_page();
			if (!n) {
				*st = PT_ENOMEM;
				return NULL;
			}
			pt->table_pages++;
			e = arch_pte_table(n);
			arch_pte_write(slot, e);
		} else if (arch_pte_is_leaf(e, l)) {
			*st = PT_EEXIST;
			return NULL;
		}
		table = arch_pte_frame(e, l);
	}
	return pt_step(table, va, target);
}

/*
 * Validates a page-aligned range of translatable addresses whose end is representable (so the last
 * page of the address space is never part of a range: its end would wrap to 0).
 */
static bool pt_range_ok(vaddr_t va, uint64_t size)
{
	return size && IS_ALIGNED(va, PAGE_SIZE) && IS_ALIGNED(size, PAGE_SIZE) && !range_overflows(va, size) &&
	       va + size != 0 && arch_va_range_ok(va, va + size - 1);
}

/* True when no page of [va, end) is mapped. */
static bool pt_range_unmapped(struct pt *pt, vaddr_t va, vaddr_t end)
{
	while (va < end) {
		int level;
		if (pt_leaf(pt, va, &level))
			return false;
		vaddr_t next = ALIGN_DOWN(va, pt_level_size(level)) + pt_level_size(level);
		if (next <= va)
			break;
		va = next;
	}
	return true;
}

/* True when a leaf of level may be written for a caller allowing sizes on pt's CPU. */
static bool pt_level_allowed(const struct pt *pt, int level, unsigned sizes)
{
	return (sizes & (1u << (level - 1))) && arch_pt_leaf_ok(level, pt->features);
}

/* Largest level whose leaf pt_map may use at va/pa for remaining bytes: allowed by sizes (bit
 * level - 1) and by the CPU, aligned, and not longer than what is left. */
static int pt_pick_level(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t remaining, unsigned sizes)
{
	for (int level = PT_LEVELS; level > 1; level--) {
		uint64_t sz = pt_level_size(level);
		if (pt_level_allowed(pt, level, sizes) && IS_ALIGNED(va | pa, sz) && remaining >= sz)
			return level;
	}
	return 1;
}

/* True when prot names only known bits and a memory type below PT_CACHE_TYPES. */
static bool pt_prot_ok(unsigned prot)
{
	return !(prot & ~(PT_PROT_W | PT_PROT_X | PT_PROT_G | PT_PROT_CACHE(7))) &&
	       PT_PROT_CACHE_OF(prot) < PT_CACHE_TYPES;
}

/*
 * Stores e in the leaf slot of the leaf at va. Replacing a present entry owes the invalidation of
 * va's translation, which goes into b. Filling a not-present one owes nothing, since no CPU caches
 * a translation for it: a map passes no batch, and meeting a present entry there is a bug (maps
 * refuse mapped ranges before writing).
 */
static void pt_store_leaf(volatile pte_t *slot, pte_t e, vaddr_t va, struct tlb_batch *b)
{
	if (arch_pte_present(arch_pte_read(slot))) {
		KASSERT(b, "pt: a map met the present entry of 0x%llx", (unsigned long long)va);
		tlb_batch_add_page(b, va);
	}
	arch_pte_write(slot, e);
}

/* A leaf visitor: gets the leaf's slot, level and first address, its argument and the batch. */
typedef void (*pt_leaf_fn)(struct pt *pt, volatile pte_t *slot, int level, vaddr_t va, unsigned arg,
			   struct tlb_batch *b);

/* True when the leaf of level containing v reaches outside [va, end). */
static bool pt_leaf_cut(vaddr_t v, int level, vaddr_t va, vaddr_t end)
{
	vaddr_t first = ALIGN_DOWN(v, pt_level_size(level));
	return first < va || first + (pt_level_size(level) - 1) > end - 1;
}

/*
 * Applies fn to every leaf in [va, end), pt->lock held by this CPU (asserted). Every leaf met lies
 * inside the range: the caller split those the range cut (pt_split_cut).
 */
static void pt_for_each_leaf(struct pt *pt, vaddr_t va, vaddr_t end, pt_leaf_fn fn, unsigned arg,
			     struct tlb_batch *b)
{
	spin_assert_held(&pt->lock);
	vaddr_t v = va;
	while (v < end) {
		int level;
		volatile pte_t *slot = pt_leaf(pt, v, &level);
		vaddr_t first = ALIGN_DOWN(v, pt_level_size(level));
		vaddr_t next = first + pt_level_size(level);
		if (slot) {
			KASSERT(!pt_leaf_cut(v, level, va, end), "pt: leaf at 0x%llx crosses the range's end",
				(unsigned long long)first);
			fn(pt, slot, level, first, arg, b);
		}
		if (next <= v)
			break;
		v = next;
	}
}

/* Clears one leaf (pt_leaf_fn), owing its invalidation. */
/* True when every step of a map of size bytes from va/pa gets a leaf sizes allows: pt_pick_level
 * falls back to 4 KiB wherever no larger leaf fits, which only PT_SIZE_4K permits. A dry run of
 * pt_map's steps (their levels follow va, pa and what is left, never the tree). */
static bool pt_sizes_fit(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t size, unsigned sizes)
{
	if (sizes & PT_SIZE_4K)
		return true;
	for (uint64_t done = 0; done < size;) {
		int level = pt_pick_level(pt, va + done, pa + done, size - done, sizes);
		if (level == 1)
			return false;
		done += pt_level_size(level);
	}
	return true;
}

/* The level of the leaf pt_map writes at v, picked at level (pt_pick_level): where a table already
 * sits at that level (an unmap leaves its tables), the largest smaller level sizes allows; 0 when a
 * table sits at every level sizes allows there. Reads the tree only; pt->lock held, [v, ...) unmapped. */
static int pt_map_level(struct pt *pt, vaddr_t v, int level, unsigned sizes)
{
	int st = PT_OK;
	for (;;) {
		volatile pte_t *slot = pt_walk(pt, v, level, false, &st);
		if (!slot || !arch_pte_present(arch_pte_read(slot)))
			return level;
		do
			if (--level == 0)
				return 0;
		while (!pt_level_allowed(pt, level, sizes));
	}
}

/* True when every step of pt_map's loop over [va, end) finds a level sizes allows, the tables
 * already in the tree counted (pt_map_level); pt->lock held. Only a caller without PT_SIZE_4K can
 * be refused, so the others skip the walk. */
static bool pt_sizes_fit_tree(struct pt *pt, vaddr_t va, paddr_t pa, vaddr_t end, unsigned sizes)
{
	if (sizes & PT_SIZE_4K)
		return true;
	for (vaddr_t v = va; v < end;) {
		int level = pt_map_level(pt, v, pt_pick_level(pt, v, pa + (v - va), end - v, sizes), sizes);
		if (level == 0)
			return false;
		v += pt_level_size(level);
	}
	return true;
}

static void pt_clear_leaf(struct pt *pt, volatile pte_t *slot, int level, vaddr_t va, unsigned arg,
			  struct tlb_batch *b)
{
	(void)pt; (void)level; (void)arg;
	pt_store_leaf(slot, 0, va, b);
}

int pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t size, unsigned prot, unsigned sizes)
{
	if (!pt_range_ok(va, size) || !pt_prot_ok(prot) || !IS_ALIGNED(pa, PAGE_SIZE) || range_overflows(pa, size) ||
	    pa + size - 1 > ARCH_PTE_MAX_PA || (pa + size - 1) >> arch_phys_addr_bits() ||
	    !pt_sizes_fit(pt, va, pa, size, sizes))
		return PT_EINVAL;
	/* A map fills only not-present entries, so it owes no invalidation and no shootdown: this batch
	 * stays empty unless the map fails half-way and clears what it wrote (pt_store_leaf asserts
	 * that a map meets no present entry). */
	struct tlb_batch undo;
	tlb_batch_init(&undo);
	uint64_t f = spin_lock(&pt->lock);
	vaddr_t end = va + size;
	if (!pt_range_unmapped(pt, va, end)) {
		spin_unlock(&pt->lock, f);
		return PT_EEXIST;
	}
	if (!pt_sizes_fit_tree(pt, va, pa, end, sizes)) {
		spin_unlock(&pt->lock, f);
		return PT_EINVAL;
	}
	int st = PT_OK;
	for (vaddr_t v = va; v < end;) {
		paddr_t p = pa + (v - va);
		/* A table may already sit where a large page would go: smaller allowed pages below it. */
		int level = pt_map_level(pt, v, pt_pick_level(pt, v, p, end - v, sizes), sizes);
		KASSERT(level > 0, "pt_sizes_fit_tree found a level for every step");
		volatile pte_t *slot = pt_walk(pt, v, level, true, &st);
		if (!slot) {
			pt_for_each_leaf(pt, va, v, pt_clear_leaf, 0, &undo);
			break;
		}
		pt_store_leaf(slot, arch_pte_leaf(pt_attrs(pt, prot, level), p), v, NULL);
		v += pt_level_size(level);
	}
	spin_unlock(&pt->lock, f);
	tlb_batch_flush(&undo);
	return st;
}

/*
 * Replaces the large leaf at slot (level 2 or more) by a table of leaves of the next smaller size
 * with the same frames, protection and memory type. The caller owes the invalidation of the large
 * translation.
 */
static int pt_split(struct pt *pt, volatile pte_t *slot, int level)
{
	pte_t e = arch_pte_read(slot);
	paddr_t table = phys_alloc_zeroed_page();
	if (!table)
		return PT_ENOMEM;
	pt->table_pages++;
	pte_t attrs = arch_pte_split_attrs(e, level);
	paddr_t base = arch_pte_frame(e, level);
	volatile pte_t *child = arch_phys_to_virt(table);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		arch_pte_write(&child[i], arch_pte_leaf(attrs, base + i * pt_level_size(level - 1)));
	arch_pte_write(slot, arch_pte_table(table));
	return PT_OK;
}

/*
 * Splits the large leaves that [va, end) cuts, at its two ends, until none is cut, naming each
 * split leaf in b, pt->lock held by this CPU (asserted). PT_OK, or PT_ENOMEM with the splits done
 * so far kept (they change no mapping).
 */
static int pt_split_cut(struct pt *pt, vaddr_t va, vaddr_t end, struct tlb_batch *b)
{
	spin_assert_held(&pt->lock);
	const vaddr_t ends[2] = { va, end - 1 };
	for (int k = 0; k < 2; k++) {
		int level;
		volatile pte_t *slot;
		while ((slot = pt_leaf(pt, ends[k], &level)) && level > 1 && pt_leaf_cut(ends[k], level, va, end)) {
			int st = pt_split(pt, slot, level);
			if (st)
				return st;
			tlb_batch_add_page(b, ALIGN_DOWN(ends[k], pt_level_size(level)));
		}
	}
	return PT_OK;
}

/*
 * Applies fn to every leaf of [va, end), after splitting the large leaves the range cuts, and issues
 * what they owe after the lock is released. A split changes the page size of a live translation:
 * the TLB may then hold a translation of each size for one address and use either (Intel SDM
 * Vol. 3A, "Details of TLB Use"), so the splits are invalidated before any of their pieces changes:
 * the lock is dropped for that flush, then taken again and the range checked anew.
 */
static int pt_change(struct pt *pt, vaddr_t va, vaddr_t end, pt_leaf_fn fn, unsigned arg)
{
	struct tlb_batch b;
	for (;;) {
		tlb_batch_init_from(&b, fn == pt_clear_leaf ? TLB_FROM_PT_UNMAP : TLB_FROM_PT_PROTECT);
		uint64_t f = spin_lock(&pt->lock);
		int st = pt_split_cut(pt, va, end, &b);
		bool split = !tlb_batch_empty(&b);
		if (st == PT_OK && !split)
			pt_for_each_leaf(pt, va, end, fn, arg, &b);
		spin_unlock(&pt->lock, f);
		tlb_batch_flush(&b);
		if (st != PT_OK || !split)
			return st;
	}
}

int pt_unmap(struct pt *pt, vaddr_t va, uint64_t size)
{
	if (!pt_range_ok(va, size))
		return PT_EINVAL;
	return pt_change(pt, va, va + size, pt_clear_leaf, 0);
}

/* Gives one leaf the protection prot (pt_leaf_fn), owing its invalidation. */
static void pt_reprotect_leaf(struct pt *pt, volatile pte_t *slot, int level, vaddr_t va, unsigned prot,
			      struct tlb_batch *b)
{
	pte_t e = arch_pte_read(slot);
	pt_store_leaf(slot, arch_pte_leaf(pt_attrs(pt, prot, level), arch_pte_frame(e, level)), va, b);
}

int pt_protect(struct pt *pt, vaddr_t va, uint64_t size, unsigned prot)
{
	if (!pt_range_ok(va, size) || !pt_prot_ok(prot))
		return PT_EINVAL;
	return pt_change(pt, va, va + size, pt_reprotect_leaf, prot);
}

bool pt_query(struct pt *pt, vaddr_t va, paddr_t *pa, uint64_t *pte, uint64_t *page_size)
{
	int level;
	if (!arch_va_canonical(va))
		return false;
	volatile pte_t *slot = pt_leaf(pt, va, &level);
	if (!slot)
		return false;
	pte_t e = arch_pte_read(slot);
	uint64_t sz = pt_level_size(level);
	if (pa)
		*pa = arch_pte_frame(e, level) + (va & (sz - 1));
	if (pte)
		*pte = e;
	if (page_size)
		*page_size = sz;
	return true;
}

int pt_prealloc(struct pt *pt, vaddr_t va, uint64_t size)
{
	if (!pt_range_ok(va, size))
		return PT_EINVAL;
	int st = PT_OK;
	uint64_t span = pt_level_size(2);   /* what one level-1 table maps */
	uint64_t f = spin_lock(&pt->lock);
	for (vaddr_t v = ALIGN_DOWN(va, span); v < va + size; v += span) {
		if (!pt_walk(pt, v, 1, true, &st))
			break;
		if (v + span < v)
			break;
	}
	spin_unlock(&pt->lock, f);
	return st;
}

/*
 * The tables missing for the level-1 tables of the n spans (2 MiB) from va: walks each span down to
 * its level-2 entry and counts every table a creation would add, a table shared by consecutive
 * spans once. PT_EEXIST when a leaf above level 2 covers a span. pt->lock held (asserted).
 */
static int pt_spans_missing(struct pt *pt, vaddr_t va, uint64_t n, uint64_t *missing)
{
	spin_assert_held(&pt->lock);
	uint64_t last[PT_LEVELS + 1], span = pt_level_size(2);
	for (int l = 0; l <= PT_LEVELS; l++)
		last[l] = UINT64_MAX;
	*missing = 0;
	for (uint64_t k = 0; k < n; k++) {
		vaddr_t v = va + k * span;
		paddr_t table = pt->root;
		int l = PT_LEVELS;
		for (; l >= 2; l--) {
			pte_t e = arch_pte_read(pt_step(table, v, l));
			if (!arch_pte_present(e))
				break;
			if (arch_pte_is_leaf(e, l) && l > 2)
				return PT_EEXIST;
			if (l == 2)
				break;   /* a table or a leaf: the span has its entry */
			table = arch_pte_frame(e, l);
		}
		if (l < 2 || arch_pte_present(arch_pte_read(pt_step(table, v, l))))
			continue;
		/* the entry at level l is missing: so are the tables of levels l - 1 .. 1 over v */
		for (int j = l - 1; j >= 1; j--) {
			uint64_t id = v >> arch_pt_level_shift(j + 1);
			if (last[j] != id) {
				last[j] = id;
				(*missing)++;
			}
		}
	}
	return PT_OK;
}

/* Takes a zeroed page from the list of pages allocated ahead (linked through word 0). */
static paddr_t pt_pool_take(paddr_t *pool)
{
	paddr_t p = *pool;
	KASSERT(p, "pt: the tables counted ahead ran out");
	volatile uint64_t *w = arch_phys_to_virt(p);
	*pool = arch_pte_read(w);
	arch_pte_write(w, 0);
	return p;
}

int pt_span_tables(struct pt *pt, vaddr_t va, uint64_t n, pt_span_fn fn, void *arg)
{
	uint64_t span = pt_level_size(2), missing;
	if (n == 0 || !IS_ALIGNED(va, span) || n > UINT64_MAX / span || !pt_range_ok(va, n * span))
		return PT_EINVAL;
	uint64_t f = spin_lock(&pt->lock);
	int st = pt_spans_missing(pt, va, n, &missing);
	paddr_t pool = 0;
	for (uint64_t k = 0; st == PT_OK && k < missing; k++) {
		paddr_t p = phys_alloc_zeroed_page();
		if (!p) {
			st = PT_ENOMEM;
			break;
		}
		arch_pte_write(arch_phys_to_virt(p), pool);   /* bit 0 clear: a page address */
		pool = p;
	}
	if (st != PT_OK) {   /* all or nothing: nothing was installed */
		while (pool)
			phys_free(pt_pool_take(&pool), 1);
		spin_unlock(&pt->lock, f);
		return st;
	}
	for (uint64_t k = 0; k < n; k++) {
		vaddr_t v = va + k * span;
		paddr_t table = pt->root;
		for (int l = PT_LEVELS; l >= 2; l--) {
			volatile pte_t *slot = pt_step(table, v, l);
			pte_t e = arch_pte_read(slot);
			if (arch_pte_present(e) && l == 2)
				break;   /* the span had its table (or a leaf) */
			if (!arch_pte_present(e)) {
				e = arch_pte_table(pt_pool_take(&pool));
				arch_pte_write(slot, e);
				pt->table_pages++;
			}
			if (l == 2) {
				fn(arg, v, arch_pte_frame(e, 2), slot);
				break;
			}
			table = arch_pte_frame(e, l);
		}
	}
	KASSERT(pool == 0, "pt: tables counted ahead were left over");
	spin_unlock(&pt->lock, f);
	return PT_OK;
}

volatile uint64_t *pt_entry_slot(struct pt *pt, vaddr_t va, int level)
{
	int st = PT_OK;
	if (!arch_va_canonical(va) || level < 1 || level > PT_LEVELS)
		return NULL;
	return pt_walk(pt, va, level, false, &st);
}

volatile uint64_t *pt_pte_slot(struct pt *pt, vaddr_t va)
{
	int st = PT_OK;
	if (!arch_va_canonical(va))   /* no slot: its indices would name a canonical address's */
		return NULL;
	return pt_walk(pt, va, 1, false, &st);
}

/* Visitor of pt_walk_tree: called for every present entry, tables and leaves, before descending. */
typedef void (*pt_visit_t)(void *ctx, vaddr_t va, int level, pte_t e);

/* Visits every present entry below the table at level, in address order. */
static void pt_walk_tree(paddr_t table, int level, vaddr_t base, pt_visit_t visit, void *ctx)
{
	volatile pte_t *t = arch_phys_to_virt(table);
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		pte_t e = arch_pte_read(&t[i]);
		vaddr_t va = arch_va_canonicalize(base + (uint64_t)i * pt_level_size(level));
		if (!arch_pte_present(e))
			continue;
		visit(ctx, va, level, e);
		if (!arch_pte_is_leaf(e, level))
			pt_walk_tree(arch_pte_frame(e, level), level - 1, va, visit, ctx);
	}
}

/* Checker state carried through the walk. */
struct pt_check_ctx {
	struct pt *pt;
	uint64_t violations;
};

static void pt_violation(struct pt_check_ctx *c, vaddr_t va, int level, pte_t e, const char *what)
{
	if (c->violations++ < 8)
		kprintf("pt_check: %s at va 0x%llx level %d entry 0x%016llx\n", what,
			(unsigned long long)va, level, (unsigned long long)e);
}

/* Checks one present entry (pt_walk_tree visitor): the format's faults, an address at or beyond
 * the CPU's physical width (its bits there are reserved), then W^X on leaves. */
static void pt_check_entry(void *ctx, vaddr_t va, int level, pte_t e)
{
	struct pt_check_ctx *c = ctx;
	unsigned faults = arch_pte_faults(e, level, c->pt->features);
	for (unsigned bit = 1; faults; bit <<= 1)
		if (faults & bit) {
			pt_violation(c, va, level, e, arch_pte_fault_name(bit));
			faults &= ~bit;
		}
	if (arch_pte_frame(e, level) >> arch_phys_addr_bits())
		pt_violation(c, va, level, e, "address beyond the CPU's physical width (reserved bits)");
	unsigned prot = arch_pte_prot(e, c->pt->features);
	if (arch_pte_is_leaf(e, level) && (c->pt->features & PT_FEAT_NX) && (prot & PT_PROT_W) && (prot & PT_PROT_X))
		pt_violation(c, va, level, e, "writable and executable page");
}

uint64_t pt_check(struct pt *pt)
{
	struct pt_check_ctx c = { .pt = pt };
	uint64_t f = spin_lock(&pt->lock);
	pt_walk_tree(pt->root, PT_LEVELS, 0, pt_check_entry, &c);
	spin_unlock(&pt->lock, f);
	return c.violations;
}

/* Dump state: the run of leaves being coalesced. */
struct pt_dump_run {
	const struct pt *pt;
	vaddr_t start, end;
	paddr_t pa;
	unsigned prot;          /* PT_PROT_W/X/G and the memory type (PT_PROT_CACHE) of the run */
};

static void pt_dump_flush(struct pt_dump_run *r)
{
	if (r->end == r->start)
		return;
	static const char *const cache_names[PT_CACHE_TYPES] = { "wb", "wt", "uc-", "uc", "wc" };
	kprintf("  %016llx-%016llx -> %013llx %c%c%c %s%s\n", (unsigned long long)r->start,
		(unsigned long long)r->end, (unsigned long long)r->pa, 'r',
		(r->prot & PT_PROT_W) ? 'w' : '-', (r->prot & PT_PROT_X) ? 'x' : '-',
		cache_names[PT_PROT_CACHE_OF(r->prot)], (r->prot & PT_PROT_G) ? " global" : "");
	r->start = r->end;
}

/* Extends or flushes the current run with one entry (pt_walk_tree visitor; tables are skipped). */
static void pt_dump_entry(void *ctx, vaddr_t va, int level, pte_t e)
{
	struct pt_dump_run *r = ctx;
	if (!arch_pte_is_leaf(e, level))
		return;
	paddr_t pa = arch_pte_frame(e, level);
	unsigned prot = arch_pte_prot(e, r->pt->features) | PT_PROT_CACHE(arch_pte_cache(e, level, r->pt->features));
	if (r->end != va || prot != r->prot || r->pa + (r->end - r->start) != pa) {
		pt_dump_flush(r);
		r->start = r->end = va;
		r->pa = pa;
		r->prot = prot;
	}
	r->end = va + pt_level_size(level);
}

void pt_dump(struct pt *pt)
{
	struct pt_dump_run r = { .pt = pt };
	kprintf("page tables at 0x%llx (%llu table pages):\n", (unsigned long long)pt->root,
		(unsigned long long)pt->table_pages);
	pt_walk_tree(pt->root, PT_LEVELS, 0, pt_dump_entry, &r);
	pt_dump_flush(&r);
}
