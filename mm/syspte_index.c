/*
 * The system PTE region's index of its own reservations by start page: an open-addressed table
 * of records (design and contract in mm/syspte_index.h). Called under the region's lock; the
 * physical allocator's lock nests inside it (LOCK_RANK_PHYS > LOCK_RANK_SYSPTE).
 */
#include "syspte_index.h"
#include "phys.h"
#include "arch_mm.h"
#include "kassert.h"
#include "kprintf.h"


/* The largest table's bits for a region of npages: live reservations never exceed the pages. */
static unsigned syspte_index_max_bits(uint64_t npages)
{
	unsigned b = SYSPTE_INDEX_MIN_BITS;
	while (syspte_index_cap(b) < npages)
		b++;
	return b;
}

/* Top entries a table of 2^bits slots uses. */
static uint64_t syspte_index_top_entries(unsigned bits)
{
	return bits <= SYSPTE_INDEX_TOP_SHIFT ? 1 : (uint64_t)1 << (bits - SYSPTE_INDEX_TOP_SHIFT);
}

/* Slot pages, then directory pages, a table of 2^bits slots holds. */
static uint64_t syspte_index_slot_pages(unsigned bits) { return (uint64_t)1 << (bits - SYSPTE_INDEX_PAGE_SHIFT); }

static uint64_t syspte_index_table_pages(unsigned bits)
{
	return syspte_index_slot_pages(bits) + syspte_index_top_entries(bits);
}

size_t syspte_index_meta_bytes(uint64_t npages)
{
	return 2 * syspte_index_top_entries(syspte_index_max_bits(npages)) * sizeof(struct syspte_index_top);
}

void syspte_index_init(struct syspte_index *ix, uint64_t npages, void *meta)
{
	unsigned max = syspte_index_max_bits(npages);
	uint64_t len = syspte_index_top_entries(max);
	*ix = (struct syspte_index){ .top = meta, .other = (struct syspte_index_top *)meta + len, .top_len = len,
				     .max_bits = max };
	for (uint64_t k = 0; k < 2 * len; k++)
		ix->top[k] = (struct syspte_index_top){ NULL, 0 };
}

/* Slot s of the table whose top level is top (the current one, or one a rehash builds). */
static inline struct syspte_resv *syspte_index_at(const struct syspte_index_top *top, uint64_t s)
{
	return top[s >> SYSPTE_INDEX_TOP_SHIFT].dir->page[(s >> SYSPTE_INDEX_PAGE_SHIFT) & (SYSPTE_INDEX_DIR_SPAN - 1)] +
	       (s & SYSPTE_INDEX_SLOT_MASK);
}

uint64_t syspte_index_home(const struct syspte_index *ix, uint64_t start)
{
	return ix->bits ? syspte_index_hash(start, ix->bits) : 0;
}

struct syspte_resv *syspte_index_slot(const struct syspte_index *ix, uint64_t s)
{
	KASSERT(ix->bits && s < ((uint64_t)1 << ix->bits), "syspte_index: slot %llu outside the table",
		(unsigned long long)s);
	return syspte_index_cur(ix, s);
}

struct syspte_resv *syspte_index_probe(const struct syspte_index *ix, uint64_t start, uint64_t s, struct syspte_resv *e)
{
	uint64_t mask = ix->mask;
	for (uint64_t n = 0; n < mask; n++) {   /* bounded: a corrupt table never hangs a probe */
		e = syspte_index_step(ix, s, e);
		s = (s + 1) & mask;
		if (!e->npages)
			return NULL;
		if (e->start == start)
			return e;
	}
	return NULL;
}

/* Frees the pages of the table of 2^bits slots at top (entries cleared). */
static void syspte_index_free_table(struct syspte_index *ix, struct syspte_index_top *top, unsigned bits)
{
	uint64_t slots = syspte_index_slot_pages(bits);
	for (uint64_t t = 0; t < syspte_index_top_entries(bits); t++) {
		struct syspte_index_dir *d = top[t].dir;
		if (!d)
			break;   /* a table built only in part */
		for (uint64_t k = 0; k < SYSPTE_INDEX_DIR_SPAN && (t << SYSPTE_INDEX_DIR_SHIFT) + k < slots; k++)
			if (d->pa[k]) {
				phys_free(d->pa[k], 1);
				ix->pages--;
			}
		phys_free(top[t].pa, 1);
		ix->pages--;
		top[t] = (struct syspte_index_top){ NULL, 0 };
	}
}

/* Builds an empty table of 2^bits slots at top (its pages zeroed: every slot empty); false, none
 * kept, when memory is short. */
static bool syspte_index_make_table(struct syspte_index *ix, struct syspte_index_top *top, unsigned bits)
{
	uint64_t slots = syspte_index_slot_pages(bits);
	for (uint64_t t = 0; t < syspte_index_top_entries(bits); t++) {
		paddr_t pa = phys_alloc_zeroed_page();
		if (!pa)
			goto short_of_memory;
		top[t] = (struct syspte_index_top){ arch_phys_to_virt(pa), pa };
		ix->pages++;
		for (uint64_t k = 0; k < SYSPTE_INDEX_DIR_SPAN && (t << SYSPTE_INDEX_DIR_SHIFT) + k < slots; k++) {
			paddr_t sp = phys_alloc_zeroed_page();
			if (!sp)
				goto short_of_memory;
			top[t].dir->page[k] = arch_phys_to_virt(sp);
			KASSERT(!((uintptr_t)top[t].dir->page[k] & PAGE_MASK), "syspte_index: a slot page off a page boundary");
			top[t].dir->pa[k] = sp;
			ix->pages++;
		}
	}
	return true;
short_of_memory:
	syspte_index_free_table(ix, top, bits);
	return false;
}

/* Puts a copy of v into the free slot its probe meets in the table (top, bits); returns it. */
static struct syspte_resv *syspte_index_put(struct syspte_index_top *top, unsigned bits, const struct syspte_resv *v)
{
	uint64_t mask = ((uint64_t)1 << bits) - 1, s = syspte_index_hash(v->start, bits);
	for (uint64_t n = 0; n <= mask; n++, s = (s + 1) & mask) {
		struct syspte_resv *e = syspte_index_at(top, s);
		if (!e->npages) {
			*e = *v;
			return e;
		}
	}
	KASSERT(false, "syspte_index: no free slot in a table of %llu", (unsigned long long)mask + 1);
	return NULL;
}

/* Makes bits the current table's size, with the values derived from it. */
static void syspte_index_set_bits(struct syspte_index *ix, unsigned bits)
{
	ix->bits = bits;
	ix->shift = 64 - bits;
	ix->mask = ((uint64_t)1 << bits) - 1;
	ix->cap = syspte_index_cap(bits);
	ix->low = syspte_index_low(bits);
}

/* Moves every entry into the table of 2^bits slots built in the other half of the top level
 * (syspte_index_make_table), frees the current one and makes the new one current. */
static void syspte_index_move(struct syspte_index *ix, unsigned bits)
{
	if (ix->bits) {
		for (uint64_t s = 0; s < ((uint64_t)1 << ix->bits); s++) {
			const struct syspte_resv *e = syspte_index_at(ix->top, s);
			if (e->npages)
				syspte_index_put(ix->other, bits, e);
		}
		syspte_index_free_table(ix, ix->top, ix->bits);
	}
	struct syspte_index_top *t = ix->top;
	ix->top = ix->other;
	ix->other = t;
	ix->dir0 = ix->top[0].dir;
	syspte_index_set_bits(ix, bits);
}

/* Moves every entry into a new table of 2^bits slots (in the other half of the top level); false,
 * nothing changed, when memory is short. */
static bool syspte_index_rehash(struct syspte_index *ix, unsigned bits)
{
	if (!syspte_index_make_table(ix, ix->other, bits))
		return false;
	syspte_index_move(ix, bits);
	return true;
}

bool syspte_index_grow_prepare(struct syspte_index *ix, uint64_t n, unsigned *bits)
{
	uint64_t need = ix->count + n;
	unsigned b = ix->bits ? ix->bits : SYSPTE_INDEX_MIN_BITS;
	KASSERT(!ix->bits || need > ix->cap, "syspte_index: growth prepared with room left");
	while (need > syspte_index_cap(b))
		b++;
	if (b > ix->max_bits || !syspte_index_make_table(ix, ix->other, b))
		return false;
	*bits = b;
	return true;
}

void syspte_index_grow_commit(struct syspte_index *ix, unsigned bits)
{
	syspte_index_move(ix, bits);
	ix->grows++;
}

void syspte_index_grow_abort(struct syspte_index *ix, unsigned bits)
{
	syspte_index_free_table(ix, ix->other, bits);
}

bool syspte_index_grow(struct syspte_index *ix, uint64_t n)
{
	uint64_t need = ix->count + n;
	unsigned bits;
	if (ix->bits && need <= syspte_index_cap(ix->bits))
		return true;
	if (!syspte_index_grow_prepare(ix, n, &bits))
		return false;
	syspte_index_grow_commit(ix, bits);
	return true;
}

struct syspte_resv *syspte_index_claim_probe(const struct syspte_index *ix, uint64_t start)
{
	uint64_t mask = ix->mask, s = syspte_index_hash_cur(ix, start);
	struct syspte_resv *e = syspte_index_cur(ix, s);
	for (uint64_t n = 0; n <= mask; n++) {
		if (!e->npages)
			return e;
		e = syspte_index_step(ix, s, e);
		s = (s + 1) & mask;
	}
	KASSERT(false, "syspte_index: no free slot in a table of %llu", (unsigned long long)mask + 1);
	return NULL;
}

void syspte_index_remove_shift(struct syspte_index *ix, struct syspte_resv *e)
{
	uint64_t mask = ix->mask, h = syspte_index_hash_cur(ix, e->start), n = 0;
	/* e's slot from its place in its page, when it lies less than a page from its home (nearly always) */
	uint64_t i = (h + (((uintptr_t)e / sizeof(*e) - h) & SYSPTE_INDEX_SLOT_MASK)) & mask;
	struct syspte_resv *hole = syspte_index_cur(ix, i);
	if (hole != e)
		for (i = h, hole = syspte_index_cur(ix, i); hole != e; i = (i + 1) & mask) {
			KASSERT(++n <= mask, "syspte_index: removing an entry not in the table");
			hole = syspte_index_step(ix, i, hole);
		}
	/* Backward shift: each later entry of the cluster whose home is not in (i, j] moves to the hole. */
	struct syspte_resv *x = syspte_index_step(ix, i, hole);
	for (uint64_t j = (i + 1) & mask, m = 0; m < mask && x->npages; m++) {
		if (((j - syspte_index_hash_cur(ix, x->start)) & mask) >= ((j - i) & mask)) {
			*hole = *x;
			hole = x;
			i = j;
		}
		x = syspte_index_step(ix, j, x);
		j = (j + 1) & mask;
	}
	*hole = (struct syspte_resv){ .npages = 0 };
	ix->count--;
	/* Halve a table left under half the smaller one's capacity. When memory is short it is kept as
	 * it is and the next try waits until the count halves again, so removals under exhaustion do not
	 * each build and drop a table (a growth or a rehash sets the threshold from the size again). */
	if (ix->count < ix->low) {
		if (syspte_index_rehash(ix, ix->bits - 1))
			ix->shrinks++;
		else
			ix->low = ix->count / 2;
	}
}

/* Reports a failed invariant; returns -1. */
static int syspte_index_bad(const char *what, uint64_t a, uint64_t b)
{
	kprintf("syspte_check: index: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
	return -1;
}

int syspte_index_check(const struct syspte_index *ix, int (*fn)(const struct syspte_resv *, void *), void *arg)
{
	if (!ix->bits)
		return ix->count || ix->pages || ix->cap ? syspte_index_bad("entries, pages or room without a table", ix->count, ix->pages) : 0;
	if (ix->bits < SYSPTE_INDEX_MIN_BITS || ix->bits > ix->max_bits)
		return syspte_index_bad("table size out of bounds", ix->bits, ix->max_bits);
	if (ix->pages != syspte_index_table_pages(ix->bits))
		return syspte_index_bad("pages held differ from the table's", ix->pages, syspte_index_table_pages(ix->bits));
	if (ix->dir0 != ix->top[0].dir)
		return syspte_index_bad("the first directory's shortcut is stale", (uint64_t)(uintptr_t)ix->dir0, 0);
	if (ix->shift != 64 - ix->bits || ix->mask != ((uint64_t)1 << ix->bits) - 1 || ix->cap != syspte_index_cap(ix->bits) ||
	    ix->low > syspte_index_low(ix->bits))
		return syspte_index_bad("the values derived from the table's size are stale", ix->bits, ix->cap);
	for (uint64_t t = 0; t < ix->top_len; t++)
		if ((t < syspte_index_top_entries(ix->bits)) != (ix->top[t].dir != NULL) || ix->other[t].dir)
			return syspte_index_bad("top level differs from the table's size", t, ix->bits);
	uint64_t n = 0;
	for (uint64_t s = 0; s < ((uint64_t)1 << ix->bits); s++) {
		const struct syspte_resv *e = syspte_index_at(ix->top, s);
		if (!e->npages)
			continue;
		n++;
		/* reachable from its home, and the first entry of its start there: no empty slot between,
		 * no second entry of the same start */
		if (syspte_index_find(ix, e->start) != e)
			return syspte_index_bad("entry unreachable from its home, or its start twice", e->start, s);
		if (fn && fn(e, arg))
			return -1;
	}
	if (n != ix->count)
		return syspte_index_bad("entries differ from the count", n, ix->count);
	if (n > syspte_index_cap(ix->bits))
		return syspte_index_bad("table beyond its capacity", n, ix->bits);
	return 0;
}
