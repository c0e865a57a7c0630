/* Page-table module (contract in pt.h). Callers hold no lock; pt->lock serialises changes. */
#include "pt.h"
#include "phys.h"
#include "arch_mm.h"
#include "kprintf.h"
#include "kassert.h"

#define PTE_SOFT_BITS 0x7ff0000000000000ULL   /* bits 52..62: never set by this kernel */

/* Index of va in a table at level (1..4). */
static unsigned pt_index(vaddr_t va, int level) { return (va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1); }

/* Bytes one entry at level maps. */
static uint64_t pt_level_size(int level) { return 1ULL << (PAGE_SHIFT + 9 * (level - 1)); }

/* One walker step: the entry for va in the table (physical address) at level. */
static volatile uint64_t *pt_step(paddr_t table, vaddr_t va, int level)
{
	return (volatile uint64_t *)arch_phys_to_virt(table) + pt_index(va, level);
}

/* Physical address an entry points at (table or page), by the entry's level and kind. */
static paddr_t pt_entry_addr(uint64_t e, int level)
{
	if (level == 3 && (e & PTE_PS))
		return e & PTE_ADDR_1G;
	if (level == 2 && (e & PTE_PS))
		return e & PTE_ADDR_2M;
	return e & PTE_ADDR_4K;
}

static bool pt_is_leaf(uint64_t e, int level) { return level == 1 || (level <= 3 && (e & PTE_PS)); }

/* Fills pt's feature flags from PT_FEAT_* bits. */
static void pt_set_features(struct pt *pt, unsigned features)
{
	pt->nx = features & PT_FEAT_NX;
	pt->page1g = features & PT_FEAT_1G;
	pt->pat = features & PT_FEAT_PAT;
}

int pt_create(struct pt *pt, unsigned features)
{
	*pt = (struct pt){ 0 };
	spin_init(&pt->lock, LOCK_RANK_PT, "pt");
	pt_set_features(pt, features);
	pt->root = phys_alloc_zeroed_page();
	if (!pt->root)
		return PT_ENOMEM;
	pt->table_pages = 1;
	return PT_OK;
}

/*
 * Without the PAT, PWT and PCD index the four types of the power-on PAT (WB, WT, UC-, UC), which
 * are also what they mean on CPUs without one; WC has no encoding and takes UC-.
 */
static const enum pt_cache pt_cache_no_pat[PT_CACHE_TYPES] = {
	[PT_CACHE_WB] = PT_CACHE_WB, [PT_CACHE_WT] = PT_CACHE_WT, [PT_CACHE_UCMINUS] = PT_CACHE_UCMINUS,
	[PT_CACHE_UC] = PT_CACHE_UC, [PT_CACHE_WC] = PT_CACHE_UCMINUS,
};

enum pt_cache pt_cache_effective(enum pt_cache want, bool pat)
{
	KASSERT((unsigned)want < PT_CACHE_TYPES, "pt_cache_effective: memory type %u", (unsigned)want);
	return pat ? want : pt_cache_no_pat[want];
}

uint64_t pt_cache_pte_bits(enum pt_cache want, bool pat, int level)
{
	unsigned index = pt_cache_effective(want, pat);   /* a PAT index, below 4 without the PAT */
	uint64_t b = 0;
	if (index & 1)
		b |= PTE_PWT;
	if (index & 2)
		b |= PTE_PCD;
	if (index & 4)
		b |= level == 1 ? PTE_PAT_4K : PTE_PAT_LARGE;
	return b;
}

enum pt_cache pt_cache_of_pte(uint64_t e, bool pat, int level)
{
	/* The kernel's PAT repeats WT, UC-, UC at indices 5..7 (arch/x86_64/x86.h). */
	static const enum pt_cache by_index[8] = { PT_CACHE_WB, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC,
		PT_CACHE_WC, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC };
	uint64_t pat_bit = level == 1 ? PTE_PAT_4K : PTE_PAT_LARGE;
	unsigned index = (unsigned)!!(e & PTE_PWT) | (unsigned)!!(e & PTE_PCD) << 1 |
			 (unsigned)(pat && (e & pat_bit)) << 2;
	return by_index[index];
}

/* Leaf entry value for pa at level with prot. */
static uint64_t pt_make_leaf(const struct pt *pt, paddr_t pa, unsigned prot, int level)
{
	uint64_t e = pa | PTE_P | PTE_A | PTE_D | pt_cache_pte_bits(PT_PROT_CACHE_OF(prot), pt->pat, level);
	if (prot & PT_PROT_W)
		e |= PTE_W;
	if (prot & PT_PROT_G)
		e |= PTE_G;
	if (pt->nx && !(prot & PT_PROT_X))
		e |= PTE_NX;
	if (level > 1)
		e |= PTE_PS;
	return e;
}

uint64_t pt_make_pte(const struct pt *pt, paddr_t pa, unsigned prot) { return pt_make_leaf(pt, pa, prot, 1); }

/*
 * Finds the leaf mapping va. Returns its slot and level, or NULL with *level = the level whose
 * entry was non-present (the caller may skip pt_level_size(*level) bytes).
 */
static volatile uint64_t *pt_leaf(struct pt *pt, vaddr_t va, int *level)
{
	paddr_t table = pt->root;
	for (int l = PT_LEVELS; l >= 1; l--) {
		volatile uint64_t *slot = pt_step(table, va, l);
		uint64_t e = arch_pte_read(slot);
		*level = l;
		if (!(e & PTE_P))
			return NULL;
		if (pt_is_leaf(e, l))
			return slot;
		table = e & PTE_ADDR_4K;
	}
	return NULL;
}

/*
 * Walks to va's slot at target level, creating missing tables when create; NULL if absent, out of
 * memory (*st = PT_ENOMEM) or blocked by a large page above target (*st = PT_EEXIST). Creating
 * needs pt->lock held by this CPU (asserted); a missing table then comes from the physical
 * allocator, whose lock ranks after the page table's (include/spinlock.h).
 */
static volatile uint64_t *pt_walk(struct pt *pt, vaddr_t va, int target, bool create, int *st)
{
	if (create)
		spin_assert_held(&pt->lock);
	paddr_t table = pt->root;
	for (int l = PT_LEVELS; l > target; l--) {
		volatile uint64_t *slot = pt_step(table, va, l);
		uint64_t e = arch_pte_read(slot);
		if (!(e & PTE_P)) {
			if (!create)
				return NULL;
			paddr_t n = phys_alloc_zeroed_page();
			if (!n) {
				*st = PT_ENOMEM;
				return NULL;
			}
			pt->table_pages++;
			e = n | PTE_P | PTE_W;
			arch_pte_write(slot, e);
		} else if (pt_is_leaf(e, l)) {
			*st = PT_EEXIST;
			return NULL;
		}
		table = e & PTE_ADDR_4K;
	}
	return pt_step(table, va, target);
}

/* Validates a page-aligned, canonical, non-wrapping range. */
static bool pt_range_ok(vaddr_t va, uint64_t size)
{
	return size && IS_ALIGNED(va, PAGE_SIZE) && IS_ALIGNED(size, PAGE_SIZE) &&
	       !range_overflows(va, size) && pt_is_canonical(va) && pt_is_canonical(va + size - 1) &&
	       (va >> 47) == ((va + size - 1) >> 47);
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

/* Largest allowed level (3, 2 or 1) whose page fits at va/pa with remaining bytes. */
static int pt_pick_level(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t remaining, unsigned sizes)
{
	if ((sizes & PT_SIZE_1G) && pt->page1g && IS_ALIGNED(va | pa, SIZE_1G) && remaining >= SIZE_1G)
		return 3;
	if ((sizes & PT_SIZE_2M) && IS_ALIGNED(va | pa, SIZE_2M) && remaining >= SIZE_2M)
		return 2;
	return 1;
}

static int pt_unmap_locked(struct pt *pt, vaddr_t va, vaddr_t end);

/* True when prot names only known bits and a memory type below PT_CACHE_TYPES. */
static bool pt_prot_ok(unsigned prot)
{
	return !(prot & ~(PT_PROT_W | PT_PROT_X | PT_PROT_G | PT_PROT_CACHE(7))) &&
	       PT_PROT_CACHE_OF(prot) < PT_CACHE_TYPES;
}

int pt_map(struct pt *pt, vaddr_t va, paddr_t pa, uint64_t size, unsigned prot, unsigned sizes)
{
	if (!pt_range_ok(va, size) || !pt_prot_ok(prot) || !IS_ALIGNED(pa, PAGE_SIZE) || range_overflows(pa, size) ||
	    (pa + size - 1) > PTE_ADDR_4K)
		return PT_EINVAL;
	uint64_t f = spin_lock(&pt->lock);
	vaddr_t end = va + size;
	if (!pt_range_unmapped(pt, va, end)) {
		spin_unlock(&pt->lock, f);
		return PT_EEXIST;
	}
	int st = PT_OK;
	for (vaddr_t v = va; v < end;) {
		paddr_t p = pa + (v - va);
		int level = pt_pick_level(pt, v, p, end - v, sizes);
		volatile uint64_t *slot;
		/* A table may already sit where a large page would go: use smaller pages below it. */
		while ((slot = pt_walk(pt, v, level, true, &st)) && (arch_pte_read(slot) & PTE_P) && level > 1)
			level--;
		if (!slot) {
			pt_unmap_locked(pt, va, v);
			break;
		}
		KASSERT(!(arch_pte_read(slot) & PTE_P), "pt_map: slot for 0x%llx already present", (unsigned long long)v);
		arch_pte_write(slot, pt_make_leaf(pt, p, prot, level));
		v += pt_level_size(level);
	}
	spin_unlock(&pt->lock, f);
	return st;
}

/* Replaces the large leaf at slot (level 2 or 3, mapping va) by a table of the next smaller pages. */
static int pt_split(struct pt *pt, volatile uint64_t *slot, int level, vaddr_t va)
{
	uint64_t e = arch_pte_read(slot);
	paddr_t table = phys_alloc_zeroed_page();
	if (!table)
		return PT_ENOMEM;
	pt->table_pages++;
	uint64_t flags = e & ~(level == 3 ? PTE_ADDR_1G : PTE_ADDR_2M);
	if (level == 2) {          /* 4 KiB children: no PS, PAT moves from bit 12 to bit 7 */
		flags &= ~PTE_PS;
		if (flags & PTE_PAT_LARGE)
			flags = (flags & ~PTE_PAT_LARGE) | PTE_PAT_4K;
	}
	paddr_t base = pt_entry_addr(e, level);
	volatile uint64_t *child = arch_phys_to_virt(table);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		arch_pte_write(&child[i], flags | (base + i * pt_level_size(level - 1)));
	arch_pte_write(slot, table | PTE_P | PTE_W);
	arch_tlb_flush_page(ALIGN_DOWN(va, pt_level_size(level)));
	return PT_OK;
}

/* Applies fn to every leaf in [va, end), splitting large leaves the range cuts. */
static int pt_for_each_leaf(struct pt *pt, vaddr_t va, vaddr_t end,
			    void (*fn)(struct pt *, volatile uint64_t *, int, vaddr_t, unsigned), unsigned arg)
{
	vaddr_t v = va;
	while (v < end) {
		int level;
		volatile uint64_t *slot = pt_leaf(pt, v, &level);
		vaddr_t lbase = ALIGN_DOWN(v, pt_level_size(level));
		vaddr_t next = lbase + pt_level_size(level);
		if (!slot) {
			if (next <= v)
				break;
			v = next;
			continue;
		}
		if (level > 1 && (lbase < va || next > end || next < lbase)) {
			int st = pt_split(pt, slot, level, v);
			if (st)
				return st;
			continue;
		}
		fn(pt, slot, level, lbase, arg);
		if (next <= v)
			break;
		v = next;
	}
	return PT_OK;
}

static void pt_clear_leaf(struct pt *pt, volatile uint64_t *slot, int level, vaddr_t va, unsigned arg)
{
	(void)pt; (void)level; (void)arg;
	arch_pte_write(slot, 0);
	arch_tlb_flush_page(va);
}

static int pt_unmap_locked(struct pt *pt, vaddr_t va, vaddr_t end)
{
	spin_assert_held(&pt->lock);
	return pt_for_each_leaf(pt, va, end, pt_clear_leaf, 0);
}

int pt_unmap(struct pt *pt, vaddr_t va, uint64_t size)
{
	if (!pt_range_ok(va, size))
		return PT_EINVAL;
	uint64_t f = spin_lock(&pt->lock);
	int st = pt_unmap_locked(pt, va, va + size);
	spin_unlock(&pt->lock, f);
	return st;
}

static void pt_reprotect_leaf(struct pt *pt, volatile uint64_t *slot, int level, vaddr_t va, unsigned prot)
{
	uint64_t e = arch_pte_read(slot);
	arch_pte_write(slot, pt_make_leaf(pt, pt_entry_addr(e, level), prot, level));
	arch_tlb_flush_page(va);
}

int pt_protect(struct pt *pt, vaddr_t va, uint64_t size, unsigned prot)
{
	if (!pt_range_ok(va, size) || !pt_prot_ok(prot))
		return PT_EINVAL;
	uint64_t f = spin_lock(&pt->lock);
	int st = pt_for_each_leaf(pt, va, va + size, pt_reprotect_leaf, prot);
	spin_unlock(&pt->lock, f);
	return st;
}

bool pt_query(struct pt *pt, vaddr_t va, paddr_t *pa, uint64_t *pte, uint64_t *page_size)
{
	int level;
	if (!pt_is_canonical(va))
		return false;
	volatile uint64_t *slot = pt_leaf(pt, va, &level);
	if (!slot)
		return false;
	uint64_t e = arch_pte_read(slot);
	uint64_t sz = pt_level_size(level);
	if (pa)
		*pa = pt_entry_addr(e, level) + (va & (sz - 1));
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
	uint64_t f = spin_lock(&pt->lock);
	for (vaddr_t v = ALIGN_DOWN(va, SIZE_2M); v < va + size; v += SIZE_2M) {
		if (!pt_walk(pt, v, 1, true, &st))
			break;
		if (v + SIZE_2M < v)
			break;
	}
	spin_unlock(&pt->lock, f);
	return st;
}

int pt_prealloc_contiguous(struct pt *pt, vaddr_t va, uint64_t size, volatile uint64_t **ptes)
{
	if (!pt_range_ok(va, size) || !IS_ALIGNED(va, SIZE_2M) || !IS_ALIGNED(size, SIZE_2M))
		return PT_EINVAL;
	uint64_t n = size / SIZE_2M, j;
	paddr_t run = phys_alloc(n, 0, UINT64_MAX);
	if (!run)
		return PT_ENOMEM;
	phys_zero(run, n);
	int st = PT_OK;
	uint64_t f = spin_lock(&pt->lock);
	for (j = 0; j < n; j++) {
		volatile uint64_t *pde = pt_walk(pt, va + j * SIZE_2M, 2, true, &st);
		if (!pde)
			break;
		if (arch_pte_read(pde) & PTE_P) {
			st = PT_EEXIST;
			break;
		}
		arch_pte_write(pde, (run + j * PAGE_SIZE) | PTE_P | PTE_W);
	}
	if (j < n)   /* undo: the tables installed so far go back with the run */
		while (j-- > 0)
			arch_pte_write(pt_walk(pt, va + j * SIZE_2M, 2, false, &st), 0);
	else
		pt->table_pages += n;
	spin_unlock(&pt->lock, f);
	if (st != PT_OK) {
		phys_free(run, n);
		return st;
	}
	*ptes = arch_phys_to_virt(run);
	return PT_OK;
}

volatile uint64_t *pt_pte_slot(struct pt *pt, vaddr_t va)
{
	int st = PT_OK;
	return pt_walk(pt, va, 1, false, &st);
}

/* Sign-extends a 48-bit address built from table indices. */
static vaddr_t pt_canon(vaddr_t va) { return (vaddr_t)((int64_t)(va << 16) >> 16); }

/* Visitor of pt_walk_tree: called for every present entry, tables and leaves, before descending. */
typedef void (*pt_visit_t)(void *ctx, vaddr_t va, int level, uint64_t e);

/* Visits every present entry below the table at level, in address order. */
static void pt_walk_tree(paddr_t table, int level, vaddr_t base, pt_visit_t visit, void *ctx)
{
	volatile uint64_t *t = arch_phys_to_virt(table);
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t e = arch_pte_read(&t[i]);
		vaddr_t va = pt_canon(base + (uint64_t)i * pt_level_size(level));
		if (!(e & PTE_P))
			continue;
		visit(ctx, va, level, e);
		if (!pt_is_leaf(e, level))
			pt_walk_tree(e & PTE_ADDR_4K, level - 1, va, visit, ctx);
	}
}

/* Checker state carried through the walk. */
struct pt_check_ctx {
	struct pt *pt;
	uint64_t violations;
};

static void pt_violation(struct pt_check_ctx *c, vaddr_t va, int level, uint64_t e, const char *what)
{
	if (c->violations++ < 8)
		kprintf("pt_check: %s at va 0x%llx level %d entry 0x%016llx\n", what,
			(unsigned long long)va, level, (unsigned long long)e);
}

/* Checks one present entry (pt_walk_tree visitor). */
static void pt_check_entry(void *ctx, vaddr_t va, int level, uint64_t e)
{
	struct pt_check_ctx *c = ctx;
	if (e & PTE_U)
		pt_violation(c, va, level, e, "user-accessible entry");
	if (e & PTE_SOFT_BITS)
		pt_violation(c, va, level, e, "reserved/software bits set");
	if (level == 4 && (e & PTE_PS))
		pt_violation(c, va, level, e, "PS bit in a PML4 entry");
	if (!c->pt->nx && (e & PTE_NX))
		pt_violation(c, va, level, e, "execute-disable bit without NX (reserved: faults)");
	if (!pt_is_leaf(e, level))
		return;
	if (c->pt->nx && (e & PTE_W) && !(e & PTE_NX))
		pt_violation(c, va, level, e, "writable and executable page");
	if (!c->pt->pat && (e & (level == 1 ? PTE_PAT_4K : PTE_PAT_LARGE)))
		pt_violation(c, va, level, e, "PAT bit without the PAT");
	if (level > 1 && (pt_entry_addr(e, level) & (pt_level_size(level) - 1)))
		pt_violation(c, va, level, e, "misaligned large page");
	if (level > 1 && (e & (pt_level_size(level) - 1) & PTE_ADDR_4K & ~PTE_PAT_LARGE))
		pt_violation(c, va, level, e, "reserved address bits in a large page");
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
	uint64_t flags;
};

#define PT_DUMP_CACHE_SHIFT 52   /* where a run's memory type is kept beside its permission bits */

/* What makes two leaves belong to one dump run: permissions and memory type. */
static uint64_t pt_perm_bits(const struct pt *pt, uint64_t e, int level)
{
	return (e & (PTE_W | PTE_NX | PTE_G)) | (uint64_t)pt_cache_of_pte(e, pt->pat, level) << PT_DUMP_CACHE_SHIFT;
}

static void pt_dump_flush(struct pt_dump_run *r)
{
	if (r->end == r->start)
		return;
	static const char *const cache_names[PT_CACHE_TYPES] = { "wb", "wt", "uc-", "uc", "wc" };
	kprintf("  %016llx-%016llx -> %013llx %c%c%c %s%s\n", (unsigned long long)r->start,
		(unsigned long long)r->end, (unsigned long long)r->pa, 'r',
		(r->flags & PTE_W) ? 'w' : '-', (r->flags & PTE_NX) ? '-' : 'x',
		cache_names[(r->flags >> PT_DUMP_CACHE_SHIFT) & 7], (r->flags & PTE_G) ? " global" : "");
	r->start = r->end;
}

/* Extends or flushes the current run with one entry (pt_walk_tree visitor; tables are skipped). */
static void pt_dump_entry(void *ctx, vaddr_t va, int level, uint64_t e)
{
	struct pt_dump_run *r = ctx;
	if (!pt_is_leaf(e, level))
		return;
	paddr_t pa = pt_entry_addr(e, level);
	uint64_t flags = pt_perm_bits(r->pt, e, level);
	if (r->end != va || flags != r->flags || r->pa + (r->end - r->start) != pa) {
		pt_dump_flush(r);
		r->start = r->end = va;
		r->pa = pa;
		r->flags = flags;
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
