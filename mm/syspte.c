/* System PTE region and reservations (design and contract in syspte.h). */
#include "syspte.h"
#include "bitset.h"
#include "phys.h"
#include "arch_mm.h"
#include "tlb_batch.h"
#include "spinlock.h"
#include "kprintf.h"
#include "kassert.h"
#include "verifier.h"

#define SYSPTE_HASH_BUCKETS 4096
#define SYSPTE_FLAG_GUARD 0x100u   /* private: the reservation owns one unmapped page past its end */

/* One live reservation. */
struct syspte_resv {
	uint64_t start;                  /* page index in the region */
	uint64_t npages;
	uint64_t mapped;                 /* pages with a present PTE */
	uint32_t tag, flags;
	struct syspte_resv *hnext;       /* hash chain; free-list link when unused */
	struct syspte_resv *prev, *next; /* live list */
};

static struct {
	struct pt *pt;
	vaddr_t base;
	uint64_t npages;
	struct buddy buddy;
	struct bitset starts;
	volatile uint64_t *ptes;         /* the region's PTEs: its level-1 tables, one contiguous run */
	spinlock_t lock;
	struct syspte_resv *buckets[SYSPTE_HASH_BUCKETS];
	struct syspte_resv *live;        /* newest first */
	struct syspte_resv *free_recs;
	uint64_t live_count, pages_reserved, pages_mapped;
	uint64_t slab_pages, meta_bytes, table_pages;
} sp;

/* Pages the allocator gave a reservation: its own plus the verifier's guard page. */
static uint64_t syspte_span(const struct syspte_resv *r) { return r->npages + !!(r->flags & SYSPTE_FLAG_GUARD); }

static void syspte_verify_locked(void);

/* The PTE slot of region page i (the region's level-1 tables are one contiguous run). */
static volatile uint64_t *syspte_slot(uint64_t i) { return sp.ptes + i; }

static bool syspte_present(uint64_t i) { return arch_pte_present(arch_pte_read(syspte_slot(i))); }

static vaddr_t syspte_va(uint64_t i) { return sp.base + (i << PAGE_SHIFT); }

bool syspte_in_region(vaddr_t va) { return sp.npages && va >= sp.base && ((va - sp.base) >> PAGE_SHIFT) < sp.npages; }

/* The region's metadata: buddy bitmaps, then the start bitmap (each 8-byte aligned). */
static size_t syspte_meta_bytes(uint64_t npages, size_t *buddy_bytes)
{
	*buddy_bytes = ALIGN_UP(buddy_meta_bytes(npages), 8);
	return *buddy_bytes + ALIGN_UP(bitset_meta_bytes(npages), 8);
}

uint64_t syspte_setup_pages(uint64_t npages)
{
	size_t bbytes;
	uint64_t meta = ALIGN_UP(syspte_meta_bytes(npages, &bbytes), PAGE_SIZE) >> PAGE_SHIFT;
	return meta + (npages + PT_ENTRIES - 1) / PT_ENTRIES;
}

int syspte_init(struct pt *pt, vaddr_t base, uint64_t npages)
{
	if (!npages || !IS_ALIGNED(base, SIZE_2M) || npages % PT_ENTRIES || range_overflows(base, npages << PAGE_SHIFT)) {
		kprintf("syspte: bad region 0x%llx + %llu pages (must be whole, aligned 2 MiB pieces)\n",
			(unsigned long long)base, (unsigned long long)npages);
		return -1;
	}
	size_t bbytes, bytes = syspte_meta_bytes(npages, &bbytes);
	uint64_t pages = ALIGN_UP(bytes, PAGE_SIZE) >> PAGE_SHIFT;
	paddr_t meta = phys_alloc(pages, 0, UINT64_MAX);
	if (!meta) {
		kprintf("syspte: no memory for %zu bytes of region metadata\n", bytes);
		return -1;
	}
	uint64_t before = pt->table_pages;
	volatile uint64_t *ptes;
	int st = pt_prealloc_contiguous(pt, base, npages << PAGE_SHIFT, &ptes);
	if (st != PT_OK) {
		kprintf("syspte: %s for the region's %llu page tables (one contiguous run)\n",
			st == PT_ENOMEM ? "no memory" : "tables already present", (unsigned long long)(npages / PT_ENTRIES));
		phys_free(meta, pages);
		return -1;
	}
	uint8_t *m = arch_phys_to_virt(meta);
	sp = (typeof(sp)){ .pt = pt, .base = base, .npages = npages, .ptes = ptes };
	bitset_init(&sp.starts, npages, m + bbytes);
	/* the free pages' not-present PTEs hold the allocator's free-extent records */
	buddy_init(&sp.buddy, npages, base >> PAGE_SHIFT, m, (uint64_t *)ptes, 0);
	bool all = buddy_free(&sp.buddy, 0, npages);
	KASSERT(all, "syspte: populating the region allocator failed");
	sp.meta_bytes = bytes;
	sp.table_pages = pt->table_pages - before;
	return 0;
}

static unsigned syspte_hash(uint64_t start) { return (unsigned)((start * 0x9E3779B97F4A7C15ULL) >> 52) % SYSPTE_HASH_BUCKETS; }

/* The record whose reservation starts at page index start, or NULL. */
static struct syspte_resv *syspte_find_start(uint64_t start)
{
	for (struct syspte_resv *r = sp.buckets[syspte_hash(start)]; r; r = r->hnext)
		if (r->start == start)
			return r;
	return NULL;
}

/* The record whose reservation contains page index i, or NULL. */
static struct syspte_resv *syspte_find_containing(uint64_t i)
{
	uint64_t s = bitset_prev(&sp.starts, i);
	if (s == UINT64_MAX)
		return NULL;
	struct syspte_resv *r = syspte_find_start(s);
	KASSERT(r, "start bit %llu without a record", (unsigned long long)s);
	return i < r->start + r->npages ? r : NULL;
}

/* The reservation containing va (lock held) and va's page index in *i; NULL when in none. */
static struct syspte_resv *syspte_resv_at(vaddr_t va, uint64_t *i)
{
	*i = 0;
	if (!syspte_in_region(va))
		return NULL;
	*i = (va - sp.base) >> PAGE_SHIFT;
	return syspte_find_containing(*i);
}

/* A free record, growing the slab by one page if needed; NULL when memory is exhausted. */
static struct syspte_resv *syspte_rec_alloc(void)
{
	if (!sp.free_recs) {
		paddr_t pa = phys_alloc_zeroed_page();
		if (!pa)
			return NULL;
		sp.slab_pages++;
		struct syspte_resv *recs = arch_phys_to_virt(pa);
		for (size_t k = 0; k < PAGE_SIZE / sizeof(*recs); k++) {
			recs[k].hnext = sp.free_recs;
			sp.free_recs = &recs[k];
		}
	}
	struct syspte_resv *r = sp.free_recs;
	sp.free_recs = r->hnext;
	return r;
}

static void syspte_rec_free(struct syspte_resv *r)
{
	r->hnext = sp.free_recs;
	sp.free_recs = r;
}

/* Links a filled record into the hash, the live list and the start bitmap. */
static void syspte_link(struct syspte_resv *r)
{
	unsigned h = syspte_hash(r->start);
	r->hnext = sp.buckets[h];
	sp.buckets[h] = r;
	r->prev = NULL;
	r->next = sp.live;
	if (sp.live)
		sp.live->prev = r;
	sp.live = r;
	bitset_set(&sp.starts, r->start);
	sp.live_count++;
	sp.pages_reserved += r->npages;
}

static void syspte_unlink(struct syspte_resv *r)
{
	struct syspte_resv **pp = &sp.buckets[syspte_hash(r->start)];
	while (*pp != r)
		pp = &(*pp)->hnext;
	*pp = r->hnext;
	if (r->prev)
		r->prev->next = r->next;
	else
		sp.live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	bitset_clear(&sp.starts, r->start);
	sp.live_count--;
	sp.pages_reserved -= r->npages;
}

vaddr_t syspte_reserve(uint64_t npages, uint32_t tag, uint32_t flags)
{
	if (!npages || npages > sp.npages || (flags & ~SYSPTE_FLAGS_KNOWN))
		return 0;
	uint64_t f = spin_lock(&sp.lock);
	struct syspte_resv *r = syspte_rec_alloc();
	uint64_t start, guard = mm_verifier ? 1 : 0;
	if (!r || !buddy_alloc(&sp.buddy, npages + guard, (flags & SYSPTE_FLAG_DIVISIBLE) ? npages : 1, 0, sp.npages, &start)) {
		if (r)
			syspte_rec_free(r);
		spin_unlock(&sp.lock, f);
		return 0;
	}
	*r = (struct syspte_resv){ .start = start, .npages = npages, .tag = tag,
				   .flags = flags | (guard ? SYSPTE_FLAG_GUARD : 0) };
	syspte_link(r);
	syspte_verify_locked();
	spin_unlock(&sp.lock, f);
	return syspte_va(start);
}

/* Fills a misuse report and returns SYSPTE_MISUSE. */
static int syspte_misuse(struct syspte_misuse *m, uint64_t sub, uint64_t p2, uint64_t p3, uint64_t p4)
{
	*m = (struct syspte_misuse){ sub, p2, p3, p4 };
	return SYSPTE_MISUSE;
}

/* Index of the first present page in [i, end), or end. */
static uint64_t syspte_first_present(uint64_t i, uint64_t end)
{
	while (i < end && !syspte_present(i))
		i++;
	return i;
}

int syspte_release(vaddr_t va, uint32_t tag, struct syspte_misuse *m)
{
	uint64_t f = spin_lock(&sp.lock);
	int st = SYSPTE_OK;
	struct syspte_resv *r = syspte_in_region(va) ? syspte_find_start((va - sp.base) >> PAGE_SHIFT) : NULL;
	if (!r)
		st = syspte_misuse(m, 0x102, va, tag, 0);
	else if (r->tag != tag)
		st = syspte_misuse(m, 0x101, va, tag, r->tag);
	else if (r->mapped)
		st = syspte_misuse(m, 0x103, syspte_va(syspte_first_present(r->start, r->start + r->npages)), tag, r->mapped);
	if (st == SYSPTE_OK) {
		syspte_unlink(r);
		buddy_free_allocated(&sp.buddy, r->start, syspte_span(r));   /* the record proves it allocated */
		syspte_rec_free(r);
	}
	syspte_verify_locked();
	spin_unlock(&sp.lock, f);
	return st;
}

/* Pages from region page i to the end of its level-1 table (the slots of a run are contiguous). */
static uint64_t syspte_run(uint64_t i, uint64_t left) { return MIN(left, PT_ENTRIES - i % PT_ENTRIES); }

/*
 * Index (relative to i) of the first of n slots from page i that is present, or n. A reservation
 * with nothing mapped has no present slot; otherwise each level-1 table run is walked with a
 * pointer.
 */
static uint64_t syspte_map_conflict(const struct syspte_resv *r, uint64_t i, uint64_t n)
{
	if (r->mapped == 0)
		return n;
	uint64_t k = 0;
	while (k < n) {
		const volatile uint64_t *p = syspte_slot(i + k);
		uint64_t run = syspte_run(i + k, n - k);
		for (uint64_t j = 0; j < run; j++, k++)
			if (arch_pte_present(arch_pte_read(&p[j])))
				return k;
	}
	return n;
}

/*
 * Writes n PTEs (attributes attrs, one frame each) from page i; the first carries the mapping-start
 * mark. The slots were checked non-present, so no TLB entry can exist for them and the map owes no
 * invalidation (include/tlb_batch.h). Validation is a separate pass: a map that would be refused
 * never makes anything present, even briefly.
 */
static void syspte_write_ptes(uint64_t i, const uint64_t *pfns, uint64_t n, pte_t attrs)
{
	uint64_t k = 0;
	while (k < n) {
		volatile uint64_t *p = syspte_slot(i + k);
		uint64_t run = syspte_run(i + k, n - k);
		for (uint64_t j = 0; j < run; j++, k++)
			arch_pte_write(&p[j], arch_pte_leaf(attrs, pfn_to_pa(pfns[k])));
	}
	arch_pte_write(syspte_slot(i), arch_pte_set_map_start(arch_pte_read(syspte_slot(i))));
}

/*
 * In verifier mode, asserts that none of the n slots from page i is present before a map writes
 * them: a map owes no TLB invalidation only because it fills not-present PTEs (include/tlb_batch.h).
 * The validation pass (or a reservation's zero count) has established it; this checks every slot.
 */
static void syspte_verify_unmapped(uint64_t i, uint64_t n)
{
	if (mm_verifier)
		for (uint64_t k = i; k < i + n; k++)
			KASSERT(!syspte_present(k), "verifier: a map met the present PTE of region page %llu",
				(unsigned long long)k);
}

int syspte_map(vaddr_t va, uint32_t tag, const uint64_t *pfns, uint64_t n, unsigned cache,
	       struct syspte_misuse *m)
{
	uint64_t f = spin_lock(&sp.lock);
	int st = SYSPTE_OK;
	uint64_t i;
	struct syspte_resv *r = syspte_resv_at(va, &i);
	if (!r)
		st = syspte_misuse(m, 0x105, va, tag, 0);
	else if (r->tag != tag)
		st = syspte_misuse(m, 0x104, va, tag, r->tag);
	else if (n == 0 || n > r->start + r->npages - i || cache > PT_CACHE_WC)
		st = SYSPTE_REFUSED;
	if (st == SYSPTE_OK) {
		uint64_t stop = syspte_map_conflict(r, i, n);
		if (stop < n)
			st = syspte_misuse(m, 0x107, va, syspte_va(i + stop), syspte_va(i + n) - 1);
	}
	if (st == SYSPTE_OK) {
		syspte_verify_unmapped(i, n);
		syspte_write_ptes(i, pfns, n, pt_leaf_attrs(sp.pt, PT_PROT_W | PT_PROT_G | PT_PROT_CACHE(cache)));
		r->mapped += n;
		sp.pages_mapped += n;
	}
	spin_unlock(&sp.lock, f);
	return st;
}

/* First page of the mapping that contains present page i (scans back to its start bit). */
static uint64_t syspte_mapping_start(uint64_t i, uint64_t floor)
{
	while (i > floor && !arch_pte_map_start(arch_pte_read(syspte_slot(i))))
		i--;
	return i;
}

/* Validates an unmap of [i, i+n) in r; SYSPTE_OK or a misuse report. */
static int syspte_unmap_check(struct syspte_resv *r, vaddr_t va, uint64_t i, uint64_t n, struct syspte_misuse *m)
{
	uint64_t end = r->start + r->npages;
	if (!syspte_present(i))
		return syspte_misuse(m, 0x109, va, r->tag, 0);
	if (n > end - i)
		return syspte_misuse(m, 0x10A, va, end - i, n);
	for (uint64_t k = i; k < i + n; k++)
		if (!syspte_present(k))
			return syspte_misuse(m, 0x10B, syspte_va(k), 0, 0);
	if (!arch_pte_map_start(arch_pte_read(syspte_slot(i))))
		return syspte_misuse(m, 0x10C, va, syspte_va(syspte_mapping_start(i, r->start)), n);
	if (i + n < end && syspte_present(i + n) && !arch_pte_map_start(arch_pte_read(syspte_slot(i + n))))
		return syspte_misuse(m, 0x10C, va, syspte_va(syspte_mapping_start(i + n - 1, r->start)), n);
	return SYSPTE_OK;
}

int syspte_unmap(vaddr_t va, uint32_t tag, uint64_t n, struct syspte_misuse *m)
{
	struct tlb_batch b;
	tlb_batch_init(&b);
	uint64_t f = spin_lock(&sp.lock);
	int st;
	uint64_t i;
	struct syspte_resv *r = syspte_resv_at(va, &i);
	if (!r)
		st = syspte_misuse(m, 0x109, va, tag, 0);
	else if (r->tag != tag)
		st = syspte_misuse(m, 0x108, va, tag, r->tag);
	else if (n == 0)
		st = SYSPTE_REFUSED;
	else
		st = syspte_unmap_check(r, va, i, n, m);
	if (st == SYSPTE_OK) {
		for (uint64_t k = i; k < i + n; k++)
			arch_pte_write(syspte_slot(k), 0);
		tlb_batch_add_range(&b, syspte_va(i), n);
		r->mapped -= n;
		sp.pages_mapped -= n;
	}
	syspte_verify_locked();
	spin_unlock(&sp.lock, f);
	tlb_batch_flush(&b);
	return st;
}

static void syspte_fill_info(const struct syspte_resv *r, struct syspte_info *out)
{
	*out = (struct syspte_info){ syspte_va(r->start), r->npages, r->mapped, r->tag, r->flags };
}

bool syspte_lookup(vaddr_t va, struct syspte_info *out)
{
	if (!syspte_in_region(va))
		return false;
	uint64_t f = spin_lock(&sp.lock);
	struct syspte_resv *r = syspte_find_containing((va - sp.base) >> PAGE_SHIFT);
	if (r && out)
		syspte_fill_info(r, out);
	spin_unlock(&sp.lock, f);
	return r != NULL;
}

uint64_t syspte_reservation_base(uint64_t va)
{
	struct syspte_info info;
	return syspte_lookup(va, &info) ? info.base : 0;
}

void syspte_get_stats(struct syspte_stats *st)
{
	uint64_t f = spin_lock(&sp.lock);
	*st = (struct syspte_stats){
		.base = sp.base, .npages = sp.npages, .free_pages = sp.buddy.free_units,
		.live = sp.live_count, .pages_reserved = sp.pages_reserved, .pages_mapped = sp.pages_mapped,
		.table_pages = sp.table_pages, .meta_bytes = sp.meta_bytes,
		.record_bytes = sp.slab_pages * PAGE_SIZE };
	spin_unlock(&sp.lock, f);
}

size_t syspte_tag_totals(struct syspte_tag_total *out, size_t max)
{
	size_t n = 0, distinct = 0;
	uint64_t f = spin_lock(&sp.lock);
	for (struct syspte_resv *r = sp.live; r; r = r->next) {
		size_t k = 0;
		while (k < n && out[k].tag != r->tag)
			k++;
		if (k == n) {
			distinct++;
			if (n == max)
				continue;
			out[n++] = (struct syspte_tag_total){ .tag = r->tag };
		}
		out[k].count++;
		out[k].pages_reserved += r->npages;
		out[k].pages_mapped += r->mapped;
	}
	spin_unlock(&sp.lock, f);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1].tag > out[j].tag; j--) {
			struct syspte_tag_total t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return distinct;
}

void syspte_for_each(void (*fn)(const struct syspte_info *, void *), void *arg)
{
	uint64_t f = spin_lock(&sp.lock);
	for (struct syspte_resv *r = sp.live; r; r = r->next) {
		struct syspte_info info;
		syspte_fill_info(r, &info);
		fn(&info, arg);
	}
	spin_unlock(&sp.lock, f);
}

/* syspte_for_each_free's callback and its argument. */
struct syspte_walk {
	void (*fn)(vaddr_t va, uint64_t npages, void *arg);
	void *arg;
};

/* Adapts a buddy extent (region page indices) to a callback taking addresses. */
static void syspte_free_extent_cb(uint64_t start, uint64_t count, void *arg)
{
	struct syspte_walk *c = arg;
	c->fn(syspte_va(start), count, c->arg);
}

void syspte_for_each_free(void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg)
{
	struct syspte_walk c = { fn, arg };
	uint64_t f = spin_lock(&sp.lock);
	buddy_for_each_free(&sp.buddy, syspte_free_extent_cb, &c);
	spin_unlock(&sp.lock, f);
}

void syspte_for_each_mapped(void (*fn)(vaddr_t va, uint64_t npages, void *arg), void *arg)
{
	uint64_t f = spin_lock(&sp.lock);
	for (uint64_t i = 0; i < sp.npages;) {
		if (!syspte_present(i)) {
			i++;
			continue;
		}
		uint64_t s = i;
		while (i < sp.npages && syspte_present(i))
			i++;
		fn(syspte_va(s), i - s, arg);
	}
	spin_unlock(&sp.lock, f);
}

void syspte_census(uint64_t out[BUDDY_ORDERS])
{
	uint64_t f = spin_lock(&sp.lock);
	buddy_census(&sp.buddy, out);
	spin_unlock(&sp.lock, f);
}

/* Reports a failed invariant; returns -1. */
static int syspte_bad(const char *what, uint64_t a, uint64_t b)
{
	kprintf("syspte_check: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
	return -1;
}

/* Checks one record against the bitmap, the hash, the buddy and its PTEs; adds its present pages. */
static int syspte_check_record(const struct syspte_resv *r, uint64_t *present)
{
	if (r->start + r->npages > sp.npages || r->npages == 0)
		return syspte_bad("record outside the region", r->start, r->npages);
	if (!bitset_test(&sp.starts, r->start) || syspte_find_start(r->start) != r)
		return syspte_bad("record not indexed", r->start, 0);
	if (buddy_range_is_free(&sp.buddy, r->start, 1) || buddy_range_is_free(&sp.buddy, r->start + r->npages - 1, 1))
		return syspte_bad("reserved pages free in the allocator", r->start, r->npages);
	if ((r->flags & SYSPTE_FLAG_DIVISIBLE) && ((sp.base >> PAGE_SHIFT) + r->start) % r->npages)
		return syspte_bad("divisible reservation misplaced", r->start, r->npages);
	if ((r->flags & SYSPTE_FLAG_GUARD) && (r->start + r->npages >= sp.npages ||
	    buddy_range_is_free(&sp.buddy, r->start + r->npages, 1) || syspte_present(r->start + r->npages)))
		return syspte_bad("guard page missing, free or mapped", r->start, r->npages);
	uint64_t n = 0;
	for (uint64_t i = r->start; i < r->start + r->npages; i++)
		n += syspte_present(i);
	if (n != r->mapped)
		return syspte_bad("mapped count differs from the PTEs", r->mapped, n);
	*present += n;
	return 0;
}

/* syspte_check with the lock held. */
static int syspte_check_locked(void)
{
	int st = buddy_check(&sp.buddy);
	if (!st)
		st = bitset_check(&sp.starts);
	uint64_t count = 0, pages = 0, mapped = 0, present = 0, spans = 0;
	for (struct syspte_resv *r = sp.live; r && !st; r = r->next) {
		st = syspte_check_record(r, &present);
		count++;
		pages += r->npages;
		spans += syspte_span(r);
		mapped += r->mapped;
	}
	if (!st && (count != sp.live_count || pages != sp.pages_reserved || mapped != sp.pages_mapped))
		st = syspte_bad("totals differ from the records", count, pages);
	if (!st && spans + sp.buddy.free_units != sp.npages)
		st = syspte_bad("reserved + guards + free != region", spans, sp.buddy.free_units);
	if (!st && bitset_count(&sp.starts) != count)
		st = syspte_bad("start bits differ from live reservations", bitset_count(&sp.starts), count);
	if (!st) {
		uint64_t all = 0;
		for (uint64_t i = 0; i < sp.npages; i++)
			all += syspte_present(i);
		if (all != present)
			st = syspte_bad("present PTEs outside any reservation", all, present);
	}
	return st;
}

int syspte_check(void)
{
	uint64_t f = spin_lock(&sp.lock);
	int st = syspte_check_locked();
	spin_unlock(&sp.lock, f);
	return st;
}

/* In verifier mode, checks every invariant after an operation (lock held). */
static void syspte_verify_locked(void)
{
	if (mm_verifier)
		KASSERT(syspte_check_locked() == 0, "verifier: system PTE region inconsistent");
}

uint64_t syspte_guard_pages(void) { return mm_verifier ? 1 : 0; }

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

void syspte_dump(void)
{
	struct syspte_stats s;
	struct syspte_tag_total tags[16];
	syspte_get_stats(&s);
	kprintf("system PTE region 0x%llx, %llu pages: %llu free, %llu live reservations (%llu pages, %llu mapped)\n",
		(unsigned long long)s.base, (unsigned long long)s.npages, (unsigned long long)s.free_pages,
		(unsigned long long)s.live, (unsigned long long)s.pages_reserved, (unsigned long long)s.pages_mapped);
	kprintf("  %llu page-table pages, %llu metadata bytes, %llu record bytes\n", (unsigned long long)s.table_pages,
		(unsigned long long)s.meta_bytes, (unsigned long long)s.record_bytes);
	size_t n = syspte_tag_totals(tags, ARRAY_SIZE(tags));
	for (size_t i = 0; i < MIN(n, ARRAY_SIZE(tags)); i++) {
		kprintf("  tag ");
		syspte_print_tag(tags[i].tag);
		kprintf(": %llu reservations, %llu pages reserved, %llu mapped\n", (unsigned long long)tags[i].count,
			(unsigned long long)tags[i].pages_reserved, (unsigned long long)tags[i].pages_mapped);
	}
	buddy_dump(&sp.buddy);
}

void syspte_describe(vaddr_t va)
{
	struct syspte_info info;
	if (!syspte_in_region(va)) {
		kprintf("*** 0x%llx is outside the system PTE region\n", (unsigned long long)va);
		return;
	}
	if (!syspte_lookup(va, &info)) {
		if (va >= sp.base + PAGE_SIZE && syspte_lookup(va - PAGE_SIZE, &info) &&
		    ((va - info.base) >> PAGE_SHIFT) == info.npages && syspte_guard_pages()) {
			kprintf("*** 0x%llx is the verifier's guard page after reservation base 0x%llx, %llu pages, tag ",
				(unsigned long long)va, (unsigned long long)info.base, (unsigned long long)info.npages);
			syspte_print_tag(info.tag);
			kprintf(" (an overrun)\n");
			return;
		}
		kprintf("*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
		return;
	}
	kprintf("*** 0x%llx is page %llu of reservation base 0x%llx, %llu pages, tag ", (unsigned long long)va,
		(unsigned long long)((va - info.base) >> PAGE_SHIFT), (unsigned long long)info.base,
		(unsigned long long)info.npages);
	syspte_print_tag(info.tag);
	kprintf(", %llu pages mapped\n", (unsigned long long)info.mapped);
}

/* syspte_reset: forgets the region and every reservation, as before syspte_init. For a machine
 * whose memory is being replaced (host_machine_create); nothing is unmapped or freed. */
void syspte_reset(void)
{
	sp = (typeof(sp)){ .lock = SPINLOCK_INIT };
}
