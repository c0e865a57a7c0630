/*
 * Generated shootdowns against a model of which CPU may still hold which address, on four fake CPUs
 * (tests/host/fake_arch.h: one thread and one software TLB each).
 *
 * Each round, every CPU plans at most one change of its own (seeded): on the system PTE region
 * (syspte_reserve / syspte_map with 2 MiB runs or scattered frames / syspte_unmap / syspte_release,
 * reservations of 1 to 33 * 512 + 31 pages, so 0, 32 and 33 leaves and 32 and 33 batch entries
 * occur) or on a 2 MiB cell of the kernel's page tables (pt_map of one 2 MiB leaf or of 1..512
 * 4 KiB pages; pt_unmap and pt_protect to read-only of any sub-range, cutting the leaf or not),
 * one CPU's two cells lying in the last 4 MiB of the address space (the last page never mapped).
 * Then:
 *  - fill: every CPU reads the pages every change will touch, so its TLB holds them;
 *  - change: the CPUs that planned one make it at once (several shootdowns at once), while the
 *    others read pages no change touches (even rounds: their values must be right) or the pages
 *    being unmapped or reprotected (odd rounds: a racing reader, whose translation must not
 *    outlive the change); every fourth round CPU 3 leaves the online mask and rejoins meanwhile;
 *  - log: each CPU's batches, in order, are exactly the model's (docs/contract.md, design.md): a
 *    map of 4 KiB pages and a pt_map none; a region map one naming its 2 MiB leaves; an unmap or a
 *    protect one entry per 4 KiB page and per 2 MiB leaf, everything above TLB_BATCH_PAGES; a
 *    range that cuts a leaf first a batch naming the leaf alone;
 *  - check: every CPU holds no translation of a page the model says is not mapped, reads each
 *    mapped page's frame (a remap's new one), cannot write a page made read-only, and no read of a
 *    clean phase went through a stale translation.
 * Before the rounds: 3000 generated bad calls (syspte_unmap with page counts of 0, partial, huge,
 * ending at or past 2^64, at addresses in, around and outside the mapping and the region; pt_unmap
 * and pt_protect of zero, unaligned, wrapping, non-canonical and top-of-space ranges) each leave
 * every entry as it was and issue no batch; and a scripted case: a CPU that leaves the online mask with a round posted to it
 * and rejoins while the issuer still waits acknowledges that round by its return (the kernel's
 * tlb_ack_stale), so the round ends.
 * SHOOT_ROUNDS (environment) sets the rounds (default 400, at least 100), SHOOT_SEED the seed, SHOOT_INJECT the
 * tlb_inject bits (include/tlb_batch.h) of a deleted part of the shootdown, which must fail the run.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include "tap.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "reserved.h"
#include "syspte.h"
#include "pt.h"
#include "phys.h"
#include "tlb_batch.h"
#include "test_rng.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "vmlayout.h"

#define NCPU 4
#define SLOTS 2                        /* region reservations per CPU */
#define CELLS 2                        /* 2 MiB page-table cells per CPU */
#define SPAN 512                       /* pages of a 2 MiB leaf */
#define BIG_PAGES (33 * SPAN + 31)     /* the largest reservation (CPU 0's slot 0 alone) */
#define SMALL_PAGES (2 * SPAN + 31)    /* the largest of any other slot */
#define MAX_ALLOCS (BIG_PAGES / SPAN + 2)
#define TAG_BASE 0x6c644d53u           /* 'SMdl' + cpu */
#define WAIT_SECONDS 60
#define TOP_VA 0xffffffffffc00000ULL   /* CPU 3's cells: the last 4 MiB of the address space */
#define CELL_VA 0xffffe00100000000ULL  /* the other CPUs' cells: 1 GiB each */
#define CELL_STRIDE (CELLS * SIZE_2M)    /* a cell's next place, once a table sits under it */
#define CELL_MOVES 255

/* ---------------------------------------------------------------- the model */

/* One reservation of the region and its mapping (pages from the reservation's first). */
struct slot {
	vaddr_t va;                    /* 0: no reservation */
	uint64_t n;                    /* its pages */
	bool mapped;                   /* all n pages mapped */
	uint64_t gen;                  /* maps so far: the frames' words name it */
	uint64_t leaves;               /* 2 MiB leaves of the mapping */
	uint64_t pfn[BIG_PAGES];
	struct { paddr_t pa; uint64_t pages; } alloc[MAX_ALLOCS];
	unsigned nalloc;
};

/* One 2 MiB cell of the kernel's tables: a leaf, or 4 KiB pages of the frames from pa. */
enum { PG_ABSENT = 0, PG_RW, PG_RO };
struct cell {
	vaddr_t va;
	vaddr_t base;                  /* its first place; it moves on by CELL_STRIDE to get a leaf again */
	unsigned moves;
	bool table;                    /* a level-1 table sits under it: pt_map then uses 4 KiB pages */
	unsigned pages;                /* mappable pages: 512, or 511 for the last cell of the space */
	bool leaf;                     /* one 2 MiB leaf maps the whole cell */
	paddr_t pa;                    /* frames: page k is pa + k * 4 KiB */
	uint64_t alloc;                /* pages allocated from pa (0: none) */
	uint64_t gen;
	uint8_t st[SPAN];
};

/* What a CPU changes in a round. */
enum act { ACT_NONE, ACT_RESERVE, ACT_MAP, ACT_UNMAP, ACT_RELEASE, ACT_PT_MAP, ACT_PT_UNMAP, ACT_PT_PROTECT };
struct plan {
	enum act act;
	unsigned idx;                  /* the slot or cell */
	uint64_t n;                    /* reserve: pages; pt_map: pages (0: one 2 MiB leaf) */
	unsigned a, b;                 /* pt_unmap, pt_protect: pages [a, b) of the cell */
	uint64_t leaf_mask;            /* map: which whole spans get an aligned run (bit s) */
	bool split;                    /* pt_unmap, pt_protect: the range cuts the cell's leaf */
};

/* One batch the model expects. */
struct want {
	bool all;
	uint8_t origin;
	unsigned n;
	vaddr_t va[TLB_BATCH_PAGES];
};

/* One CPU's part of the model: written by that CPU alone, read by the others after a barrier (or,
 * for items its plan leaves alone, during the change phase). */
struct cpu_model {
	uint64_t rng;                  /* its own generator: its plans do not depend on the others' timing */
	struct slot slot[SLOTS];
	struct cell cell[CELLS];
	struct plan plan;
	struct want want[3];
	unsigned nwant;
	uint64_t ops[ACT_PT_PROTECT + 1];
	uint64_t wrong;                /* checks that failed on this CPU */
	uint64_t held_before;          /* translations held before a change that removed or reprotected them */
	uint64_t checked;              /* pages checked after changes */
	uint64_t racing_reads;
	bool offline_round;            /* CPU 3: leaves and rejoins the online mask in this round's change phase */
};

static struct cpu_model *cm[NCPU];
static struct syspte_region *region;
static unsigned rounds = 400;
static uint64_t seed = 0x5EED5D0C1ULL;
static uint64_t log_wrong, log_batches, log_alls, log_splits, stale_bad, rejoins, busy_rounds;
static unsigned issuers_done, issuers;

/* ---------------------------------------------------------------- helpers */

/* The word in frame k of an item's mapping gen. */
static uint64_t pattern(unsigned cpu, unsigned item, uint64_t gen, uint64_t k)
{
	return 0x3A00000000000000ULL | (uint64_t)cpu << 52 | (uint64_t)item << 48 | (gen & 0xffff) << 24 | k;
}

static uint64_t draw(uint64_t *rng, uint64_t n) { return test_rng_next(rng) % n; }

/* Waits until *p reaches want, taking the mailbox as a kernel loop does; aborts when stuck. */
static void wait_until(unsigned *p, unsigned want)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < want) {
		arch_cpu_poll();
		arch_cpu_relax();
		if (time(NULL) > end) {
			printf("# CPU %u waited %d s: the test is stuck\n", fake_cpu, WAIT_SECONDS);
			abort();
		}
	}
}

/* All NCPU CPUs meet here (a counting barrier: the k-th meeting waits for k * NCPU arrivals). */
static unsigned barrier_count;
static void barrier(unsigned *k)
{
	++*k;
	__atomic_fetch_add(&barrier_count, 1, __ATOMIC_ACQ_REL);
	wait_until(&barrier_count, *k * NCPU);
}

/* Reads va through this CPU's MMU: the word, or UINT64_MAX on a fault. */
static uint64_t rd(vaddr_t va)
{
	uint64_t v;
	return fake_read(va, &v) ? v : UINT64_MAX;
}

/* ---------------------------------------------------------------- planning */

/* A reservation size: small, around the threshold, around a span, or (CPU 0's slot 0) 32/33 leaves. */
static uint64_t plan_size(uint64_t *rng, bool big)
{
	static const uint64_t sizes[] = { 1, 2, 5, 31, 32, 33, 64, 511, 512, 513, SPAN + 31, 2 * SPAN + 30, 2 * SPAN + 31 };
	if (big && draw(rng, 4) == 0)
		return draw(rng, 2) ? 32 * SPAN : 33 * SPAN + (draw(rng, 2) ? 31 : 0);
	return sizes[draw(rng, sizeof(sizes) / sizeof(sizes[0]))];
}

/* A cell's first and last mapped page, or false when none is. */
static bool cell_extent(const struct cell *c, unsigned *lo, unsigned *hi)
{
	unsigned k;
	for (k = 0; k < c->pages && c->st[k] == PG_ABSENT; k++)
		;
	if (k == c->pages)
		return false;
	*lo = k;
	for (k = c->pages; c->st[k - 1] == PG_ABSENT; k--)
		;
	*hi = k;
	return true;
}

/* This CPU's change for the round, from its own generator. */
static void plan_round(unsigned cpu, struct cpu_model *m)
{
	struct plan *p = &m->plan;
	*p = (struct plan){ .act = ACT_NONE };
	if (m->offline_round || draw(&m->rng, 5) == 0)
		return;
	if (draw(&m->rng, 2)) {
		p->idx = (unsigned)draw(&m->rng, SLOTS);
		struct slot *s = &m->slot[p->idx];
		if (!s->va) {
			p->act = ACT_RESERVE;
			p->n = plan_size(&m->rng, cpu == 0 && p->idx == 0);
		} else if (s->mapped)
			p->act = ACT_UNMAP;
		else if (draw(&m->rng, 4) == 0)
			p->act = ACT_RELEASE;
		else {
			p->act = ACT_MAP;
			p->leaf_mask = draw(&m->rng, 3) ? ~0ULL : test_rng_next(&m->rng);
		}
		return;
	}
	p->idx = (unsigned)draw(&m->rng, CELLS);
	struct cell *c = &m->cell[p->idx];
	unsigned lo, hi;
	if (!cell_extent(c, &lo, &hi)) {
		p->act = ACT_PT_MAP;
		bool leaf_ok = c->pages == SPAN;
		p->n = leaf_ok && draw(&m->rng, 3) == 0 ? 0 : 1 + draw(&m->rng, draw(&m->rng, 2) ? 40 : c->pages);
		return;
	}
	p->act = draw(&m->rng, 3) ? ACT_PT_UNMAP : ACT_PT_PROTECT;
	switch (draw(&m->rng, 4)) {
	case 0:   /* the whole mapped extent */
		p->a = lo;
		p->b = hi;
		break;
	case 1:   /* the whole cell */
		p->a = 0;
		p->b = c->pages;
		break;
	default: {   /* any range, often short */
		unsigned len = 1 + (unsigned)draw(&m->rng, draw(&m->rng, 2) ? 40 : c->pages);
		p->a = (unsigned)draw(&m->rng, c->pages);
		p->b = p->a + len < c->pages ? p->a + len : c->pages;
	}
	}
	p->split = c->leaf && (p->a != 0 || p->b != SPAN);
}

/* ---------------------------------------------------------------- the changes */

/* Adds an expected batch of the n pages of va[] (everything above the threshold). */
static void want_pages(struct cpu_model *m, uint8_t origin, const vaddr_t *va, uint64_t n)
{
	struct want *w = &m->want[m->nwant++];
	*w = (struct want){ .all = n > TLB_BATCH_PAGES, .origin = origin, .n = n > TLB_BATCH_PAGES ? 0 : (unsigned)n };
	if (!w->all)
		memcpy(w->va, va, n * sizeof(vaddr_t));
}

/* Frames for a map of slot s (gen already advanced): an aligned run for each whole aligned span whose
 * bit is set in mask, reversed frames from one block for the rest (never a run). Writes each
 * frame's pattern; returns the leaves. */
static uint64_t slot_frames(unsigned cpu, unsigned idx, struct slot *s, uint64_t mask)
{
	uint64_t rest = 0, leaves = 0, span = 0;
	bool leaf[BIG_PAGES / SPAN + 1] = { false };
	s->nalloc = 0;
	for (uint64_t k = 0; k < s->n;) {
		vaddr_t va = s->va + k * PAGE_SIZE;
		if ((va & (SIZE_2M - 1)) == 0 && s->n - k >= SPAN) {
			if ((mask >> (span % 64)) & 1) {
				paddr_t pa = phys_alloc_aligned(SPAN, SPAN, 0, UINT64_MAX);
				if (!pa)
					abort();
				s->alloc[s->nalloc++] = (typeof(s->alloc[0])){ pa, SPAN };
				for (uint64_t q = 0; q < SPAN; q++)
					s->pfn[k + q] = (pa >> PAGE_SHIFT) + q;
				leaf[span] = true;
				leaves++;
			} else
				rest += SPAN;
			span++;
			k += SPAN;
		} else {
			rest++;
			k++;
		}
	}
	paddr_t block = rest ? phys_alloc(rest, 0, UINT64_MAX) : 0;
	if (rest && !block)
		abort();
	if (rest)
		s->alloc[s->nalloc++] = (typeof(s->alloc[0])){ block, rest };
	uint64_t j = 0;
	span = 0;
	for (uint64_t k = 0; k < s->n;) {
		vaddr_t va = s->va + k * PAGE_SIZE;
		bool whole = (va & (SIZE_2M - 1)) == 0 && s->n - k >= SPAN;
		if (whole && leaf[span++]) {
			k += SPAN;
			continue;
		}
		for (uint64_t q = 0; q < (whole ? SPAN : 1); q++, k++)
			s->pfn[k] = (block >> PAGE_SHIFT) + (rest - 1 - j++);
	}
	for (uint64_t k = 0; k < s->n; k++)
		*(volatile uint64_t *)arch_phys_to_virt(s->pfn[k] << PAGE_SHIFT) = pattern(cpu, idx, s->gen, k);
	return leaves;
}

/* The batch entries of slot s's mapping, in page order: each leaf's address, each other page's. */
static uint64_t slot_entries(const struct slot *s, vaddr_t *out, uint64_t max)
{
	uint64_t e = 0;
	for (uint64_t k = 0; k < s->n;) {
		vaddr_t va = s->va + k * PAGE_SIZE;
		bool leaf = (va & (SIZE_2M - 1)) == 0 && s->n - k >= SPAN && (s->pfn[k] & (SPAN - 1)) == 0 &&
			    s->pfn[k + SPAN - 1] == s->pfn[k] + SPAN - 1;
		if (e < max)
			out[e] = va;
		e++;
		k += leaf ? SPAN : 1;
	}
	return e;
}

/* Carries out this CPU's region change; wrong counts a call that did not do what the model says. */
static void do_slot(unsigned cpu, struct cpu_model *m)
{
	struct plan *p = &m->plan;
	struct slot *s = &m->slot[p->idx];
	uint32_t tag = TAG_BASE + cpu;
	vaddr_t va[TLB_BATCH_PAGES + 1];
	switch (p->act) {
	case ACT_RESERVE:
		s->va = syspte_reserve(region, p->n, tag, p->n >= SPAN ? SYSPTE_FLAG_DIVISIBLE : 0);
		s->n = s->va ? p->n : 0;
		s->mapped = false;
		m->wrong += !s->va;
		break;
	case ACT_MAP: {
		s->gen++;
		s->leaves = slot_frames(cpu, p->idx, s, p->leaf_mask);
		vaddr_t leaf_va[TLB_BATCH_PAGES + 1];
		uint64_t nl = 0;
		for (uint64_t k = 0; k < s->n; k++)   /* the leaves' addresses, for the map's batch */
			if (((s->va + k * PAGE_SIZE) & (SIZE_2M - 1)) == 0 && s->n - k >= SPAN && (s->pfn[k] & (SPAN - 1)) == 0 &&
			    s->pfn[k + SPAN - 1] == s->pfn[k] + SPAN - 1) {
				if (nl < TLB_BATCH_PAGES + 1)
					leaf_va[nl] = s->va + k * PAGE_SIZE;
				nl++;
				k += SPAN - 1;
			}
		m->wrong += nl != s->leaves;
		if (nl)
			want_pages(m, TLB_FROM_REGION_MAP_LEAF, leaf_va, nl);
		m->wrong += syspte_map(region, s->va, tag, s->pfn, s->n, PT_CACHE_WB) != SYSPTE_OK;
		s->mapped = true;
		break;
	}
	case ACT_UNMAP: {
		uint64_t e = slot_entries(s, va, TLB_BATCH_PAGES + 1);
		want_pages(m, TLB_FROM_REGION_UNMAP, va, e);
		m->wrong += syspte_unmap(region, s->va, tag, s->n) != SYSPTE_OK;
		s->mapped = false;
		for (unsigned i = 0; i < s->nalloc; i++)   /* every CPU's translations are gone: reusable */
			phys_free(s->alloc[i].pa, s->alloc[i].pages);
		s->nalloc = 0;
		break;
	}
	case ACT_RELEASE:
		m->wrong += syspte_release(region, s->va, tag) != SYSPTE_OK;
		s->va = 0;
		s->n = 0;
		break;
	default:
		break;
	}
}

/* Carries out this CPU's page-table change on a cell. */
static void do_cell(unsigned cpu, struct cpu_model *m)
{
	struct plan *p = &m->plan;
	struct cell *c = &m->cell[p->idx];
	struct pt *pt = host_machine_pt();
	vaddr_t va[TLB_BATCH_PAGES + 1];
	if (p->act == ACT_PT_MAP) {
		uint64_t n = p->n ? p->n : SPAN;
		if (p->n == 0 && c->table && c->pages == SPAN && c->moves < CELL_MOVES && c->base != TOP_VA) {
			c->moves++;   /* a fresh 2 MiB place with no table, where the leaf can go */
			c->va = c->base + (vaddr_t)c->moves * CELL_STRIDE;
			c->table = false;
		}
		c->leaf = p->n == 0 && !c->table;   /* pt_map uses smaller pages below a table */
		c->table |= !c->leaf;
		c->pa = c->leaf ? phys_alloc_aligned(SPAN, SPAN, 0, UINT64_MAX) : phys_alloc(n, 0, UINT64_MAX);
		if (!c->pa)
			abort();
		c->alloc = n;
		c->gen++;
		for (uint64_t k = 0; k < n; k++) {
			*(volatile uint64_t *)arch_phys_to_virt(c->pa + k * PAGE_SIZE) = pattern(cpu, 8 + p->idx, c->gen, k);
			c->st[k] = PG_RW;
		}
		m->wrong += pt_map(pt, c->va, c->pa, n * PAGE_SIZE, PT_PROT_W | PT_PROT_G, c->leaf ? PT_SIZE_2M : PT_SIZE_4K) != PT_OK;
		return;
	}
	uint8_t origin = p->act == ACT_PT_UNMAP ? TLB_FROM_PT_UNMAP : TLB_FROM_PT_PROTECT;
	if (c->leaf && (p->a != 0 || p->b != SPAN)) {   /* the range cuts the leaf: split, flushed alone */
		want_pages(m, origin, &c->va, 1);
		c->leaf = false;
		c->table = true;
	}
	uint64_t e = 0;
	if (c->leaf)
		va[e++] = c->va;
	else
		for (unsigned k = p->a; k < p->b; k++)
			if (c->st[k] != PG_ABSENT) {
				if (e < TLB_BATCH_PAGES + 1)
					va[e] = c->va + (vaddr_t)k * PAGE_SIZE;
				e++;
			}
	if (e)
		want_pages(m, origin, va, e);
	for (unsigned k = p->a; k < p->b; k++)
		if (c->st[k] != PG_ABSENT)
			c->st[k] = p->act == ACT_PT_UNMAP ? PG_ABSENT : PG_RO;
	uint64_t size = (uint64_t)(p->b - p->a) * PAGE_SIZE;
	if (p->act == ACT_PT_UNMAP)
		m->wrong += pt_unmap(pt, c->va + (vaddr_t)p->a * PAGE_SIZE, size) != PT_OK;
	else
		m->wrong += pt_protect(pt, c->va + (vaddr_t)p->a * PAGE_SIZE, size, PT_PROT_G) != PT_OK;
	unsigned lo, hi;
	if (p->act == ACT_PT_UNMAP && !cell_extent(c, &lo, &hi)) {   /* empty: the frames are free again */
		phys_free(c->pa, c->alloc);
		c->alloc = 0;
		c->leaf = false;
	}
}

/* ---------------------------------------------------------------- reading and checking */

/* Reads page k of CPU o's cell i and checks it against the model (this CPU's view after every
 * change of the round); for a page not mapped, first that this CPU holds no translation of it. */
static bool check_cell_page(unsigned o, unsigned i, unsigned k)
{
	const struct cell *c = &cm[o]->cell[i];
	vaddr_t va = c->va + (vaddr_t)k * PAGE_SIZE;
	uint64_t want = pattern(o, 8 + i, c->gen, k);
	if (k >= c->pages || c->st[k] == PG_ABSENT)
		return !fake_tlb_holds(va) && rd(va) == UINT64_MAX;
	if (rd(va) != want)
		return false;
	bool wrote = fake_write(va, want);
	return c->st[k] == PG_RW ? wrote : !wrote;
}

/* The same for page k of CPU o's slot i (reserved). */
static bool check_slot_page(unsigned o, unsigned i, uint64_t k)
{
	const struct slot *s = &cm[o]->slot[i];
	vaddr_t va = s->va + k * PAGE_SIZE;
	if (!s->mapped)
		return !fake_tlb_holds(va) && rd(va) == UINT64_MAX;
	return rd(va) == pattern(o, i, s->gen, k);
}

/* Fill: reads every page a change of this round removes or reprotects (for the largest slots a
 * spread of them and each span's first), so this CPU's TLB holds them. */
static void fill(struct cpu_model *me)
{
	for (unsigned o = 0; o < NCPU; o++) {
		const struct plan *p = &cm[o]->plan;
		if (p->act == ACT_UNMAP) {
			const struct slot *s = &cm[o]->slot[p->idx];
			for (uint64_t k = 0; k < s->n; k += s->n > 2 * SPAN ? 37 : 1)
				rd(s->va + k * PAGE_SIZE);
			for (uint64_t k = 0; k < s->n; k += SPAN)
				rd(s->va + k * PAGE_SIZE);
		} else if (p->act == ACT_PT_UNMAP || p->act == ACT_PT_PROTECT) {
			const struct cell *c = &cm[o]->cell[p->idx];
			for (unsigned k = p->a; k < p->b; k++)
				rd(c->va + (vaddr_t)k * PAGE_SIZE);
		}
	}
	/* what this CPU holds of them now: the translations the changes must take away */
	for (unsigned o = 0; o < NCPU; o++) {
		const struct plan *p = &cm[o]->plan;
		if (p->act == ACT_UNMAP) {
			const struct slot *s = &cm[o]->slot[p->idx];
			for (uint64_t k = 0; k < s->n; k++)
				me->held_before += fake_tlb_holds(s->va + k * PAGE_SIZE);
		} else if (p->act == ACT_PT_UNMAP || p->act == ACT_PT_PROTECT) {
			const struct cell *c = &cm[o]->cell[p->idx];
			for (unsigned k = p->a; k < p->b; k++)
				me->held_before += c->st[k] != PG_ABSENT && fake_tlb_holds(c->va + (vaddr_t)k * PAGE_SIZE);
		}
	}
}

/* A read of a page no change of the round touches (a stable one): checked. */
static void read_stable(struct cpu_model *me)
{
	unsigned o = (unsigned)draw(&me->rng, NCPU), i = (unsigned)draw(&me->rng, 2);
	const struct plan *p = &cm[o]->plan;
	if (draw(&me->rng, 2)) {
		const struct cell *c = &cm[o]->cell[i];
		bool busy = p->act >= ACT_PT_MAP && p->idx == i;
		unsigned k = (unsigned)draw(&me->rng, SPAN);
		if (!busy && c->st[k] != PG_ABSENT)
			me->wrong += rd(c->va + (vaddr_t)k * PAGE_SIZE) != pattern(o, 8 + i, c->gen, k);
	} else {
		const struct slot *s = &cm[o]->slot[i];
		bool busy = p->act >= ACT_RESERVE && p->act <= ACT_RELEASE && p->idx == i;
		if (!busy && s->va && s->mapped) {
			uint64_t k = draw(&me->rng, s->n);
			me->wrong += rd(s->va + k * PAGE_SIZE) != pattern(o, i, s->gen, k);
		}
	}
}

/* A racing read of a page some other CPU is unmapping or reprotecting right now (unchecked). */
static void read_racing(struct cpu_model *me)
{
	unsigned o = (unsigned)draw(&me->rng, NCPU);
	const struct plan *p = &cm[o]->plan;
	if (p->act == ACT_UNMAP) {
		const struct slot *s = &cm[o]->slot[p->idx];
		rd(s->va + draw(&me->rng, s->n) * PAGE_SIZE);
		me->racing_reads++;
	} else if ((p->act == ACT_PT_UNMAP || p->act == ACT_PT_PROTECT) && !p->split) {
		/* Not while a split builds a table: the fake MMU's walk would read the new table's
		 * zeroing (plain stores, phys_zero) with no order to it on the host; x86 orders stores. */
		const struct cell *c = &cm[o]->cell[p->idx];
		rd(c->va + (p->a + draw(&me->rng, p->b - p->a)) * PAGE_SIZE);
		me->racing_reads++;
	}
}

/* Check: every page of every item a change touched this round, then a spread of the others. */
static void check(struct cpu_model *me)
{
	for (unsigned o = 0; o < NCPU; o++) {
		const struct plan *p = &cm[o]->plan;
		if (p->act >= ACT_PT_MAP) {
			for (unsigned k = 0; k < SPAN; k++, me->checked++)
				me->wrong += !check_cell_page(o, p->idx, k);
		} else if (p->act != ACT_NONE && cm[o]->slot[p->idx].va) {
			const struct slot *s = &cm[o]->slot[p->idx];
			for (uint64_t k = 0; k < s->n; k++, me->checked++)
				me->wrong += !check_slot_page(o, p->idx, k);
		}
	}
	for (unsigned o = 0; o < NCPU; o++)
		for (unsigned i = 0; i < 2; i++) {
			for (unsigned q = 0; q < 4; q++, me->checked++)
				me->wrong += !check_cell_page(o, i, (unsigned)draw(&me->rng, SPAN));
			const struct slot *s = &cm[o]->slot[i];
			for (unsigned q = 0; s->va && q < 4; q++, me->checked++)
				me->wrong += !check_slot_page(o, i, draw(&me->rng, s->n));
		}
}

/* CPU 0, the others waiting: each CPU's logged batches, in order, are exactly its expected ones. */
static void check_log(void)
{
	const struct fake_tlb_log *all = fake_tlb_view(FAKE_TLB_ALL);
	uint64_t logged = all->logged, flushes = all->flushes;
	unsigned seen[NCPU] = { 0 };
	if (logged != flushes) {
		log_wrong++;
		return;
	}
	for (uint64_t k = 0; k < logged; k++) {
		const struct fake_tlb_flush *e = &all->ev[k];
		unsigned c = e->cpu;
		if (c >= NCPU || seen[c] >= cm[c]->nwant) {
			log_wrong++;
			continue;
		}
		const struct want *w = &cm[c]->want[seen[c]++];
		bool same = e->origin == w->origin && e->all == w->all && (w->all || fake_tlb_flushed_pages(k, w->va, w->n));
		if (!same)
			printf("# CPU %u batch %u of change %d (item %u, n %llu, pages %u..%u): origin %u (want %u), %s %u (want %s %u)\n",
			       c, seen[c] - 1, cm[c]->plan.act, cm[c]->plan.idx, (unsigned long long)cm[c]->plan.n, cm[c]->plan.a,
			       cm[c]->plan.b, e->origin, w->origin, e->all ? "everything" : "pages", e->n, w->all ? "everything" : "pages", w->n);
		log_wrong += !same;
		log_batches++;
		log_alls += e->all;
		log_splits += seen[c] == 1 && cm[c]->nwant == 2 && cm[c]->plan.act >= ACT_PT_UNMAP;
	}
	for (unsigned c = 0; c < NCPU; c++)
		log_wrong += seen[c] != cm[c]->nwant;
}

/* ---------------------------------------------------------------- the run */

/* CPU 3, in its offline rounds: leaves the online mask while the others change their mappings and
 * comes back (its join empties its TLB, as smp_join's flush does). */
static void leave_and_rejoin(unsigned cpu)
{
	fake_cpu_online(cpu, false);
	for (int i = 0; i < 20; i++)
		sched_yield();
	fake_cpu_online(cpu, true);
	__atomic_fetch_add(&rejoins, 1, __ATOMIC_RELAXED);
}

/* One CPU's rounds: plan, fill, change (or read meanwhile), log check, check. */
static void run(unsigned cpu, void *arg)
{
	struct cpu_model *me = cm[cpu];
	unsigned met = 0;
	uint64_t stale_a = 0, stale_b = 0;
	(void)arg;
	for (unsigned r = 0; r <= rounds; r++) {
		barrier(&met);
		if (cpu == 0) {   /* the others wait at the next barrier */
			if (r)
				stale_bad += fake_stale.hits - stale_b;   /* the check phase reads only settled pages */
			stale_a = fake_stale.hits;
			fake_tlb_reset();
			issuers = issuers_done = 0;
		}
		if (r == rounds)
			break;
		me->offline_round = cpu == 3 && r % 4 == 3;
		me->nwant = 0;
		barrier(&met);
		plan_round(cpu, me);
		if (me->plan.act != ACT_NONE)
			__atomic_fetch_add(&issuers, 1, __ATOMIC_ACQ_REL);
		barrier(&met);
		fill(me);
		barrier(&met);
		if (cpu == 0 && issuers > 1)
			busy_rounds++;
		if (me->offline_round)
			leave_and_rejoin(cpu);
		if (me->plan.act != ACT_NONE) {
			if (me->plan.act <= ACT_RELEASE)
				do_slot(cpu, me);
			else
				do_cell(cpu, me);
			me->ops[me->plan.act]++;
			__atomic_fetch_add(&issuers_done, 1, __ATOMIC_ACQ_REL);
		}
		while (__atomic_load_n(&issuers_done, __ATOMIC_ACQUIRE) < __atomic_load_n(&issuers, __ATOMIC_ACQUIRE)) {
			if (r & 1)
				read_racing(me);
			else
				read_stable(me);
			arch_cpu_poll();   /* a kernel loop that waits takes its mailbox */
			arch_cpu_relax();
		}
		barrier(&met);
		if (cpu == 0) {
			stale_b = fake_stale.hits;
			if (!(r & 1))   /* fill and change phases without a racing reader: no stale hit either */
				stale_bad += stale_b - stale_a;
			check_log();
		}
		barrier(&met);
		check(me);
	}
}

/* Every CPU's changes undone, single-threaded as CPU 0: unmapped, released, frames freed. */
static void teardown(void)
{
	struct pt *pt = host_machine_pt();
	for (unsigned c = 0; c < NCPU; c++) {
		for (unsigned i = 0; i < SLOTS; i++) {
			struct slot *s = &cm[c]->slot[i];
			if (s->va && s->mapped)
				cm[c]->wrong += syspte_unmap(region, s->va, TAG_BASE + c, s->n) != SYSPTE_OK;
			for (unsigned a = 0; s->va && s->mapped && a < s->nalloc; a++)
				phys_free(s->alloc[a].pa, s->alloc[a].pages);
			if (s->va)
				cm[c]->wrong += syspte_release(region, s->va, TAG_BASE + c) != SYSPTE_OK;
		}
		for (unsigned i = 0; i < CELLS; i++) {
			struct cell *cl = &cm[c]->cell[i];
			unsigned lo, hi;
			if (cell_extent(cl, &lo, &hi))
				cm[c]->wrong += pt_unmap(pt, cl->va, (uint64_t)cl->pages * PAGE_SIZE) != PT_OK;
			if (cl->alloc)
				phys_free(cl->pa, cl->alloc);
		}
	}
}

/* ---------------------------------------------------------------- a CPU rejoining mid-round */

static struct { unsigned step, returned; bool no_mail; uint64_t held1, received1, received2; } rj;

/* Waits for rj.step to reach want without taking the mailbox: a CPU with interrupts disabled that
 * polls nothing (stuck, or not yet set up). */
static void rj_wait_deaf(unsigned want)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	while (__atomic_load_n(&rj.step, __ATOMIC_ACQUIRE) < want) {
		sched_yield();
		if (time(NULL) > end) {
			printf("# CPU %u waited %d s for step %u: the rejoin case is stuck\n", fake_cpu, WAIT_SECONDS, want);
			abort();
		}
	}
}

/*
 * CPU 0 unmaps a page CPUs 1 and 2 read; CPU 2 has interrupts disabled and answers only once CPU 1
 * has left the online mask and come back; CPU 1, interrupts disabled too, leaves once the round is
 * posted to it and rejoins (its TLB emptied, as smp_join's flush does). CPU 0's round must end: the
 * request posted to CPU 1 before it left is acknowledged by its return (tlb_ack_stale on the
 * kernel), not left waiting with CPU 1 online again.
 */
static void rj_run(unsigned cpu, void *arg)
{
	vaddr_t va = *(vaddr_t *)arg;
	uint64_t v;
	fake_read(va, &v);
	uint64_t rec = fake_cpu_stats(cpu)->received;
	if (cpu == 0) {
		rj_wait_deaf(2);
		pt_unmap(host_machine_pt(), va, PAGE_SIZE);
		__atomic_store_n(&rj.returned, 1, __ATOMIC_RELEASE);
		return;
	}
	if (cpu == 3)
		return;
	uint64_t f = arch_irq_save();
	__atomic_fetch_add(&rj.step, 1, __ATOMIC_ACQ_REL);
	if (cpu == 1) {
		time_t end = time(NULL) + 5;
		while (!fake_cpu_mail_waiting(1) && !(rj.no_mail = time(NULL) > end))
			sched_yield();
		fake_cpu_online(1, false);
		fake_cpu_online(1, true);
		rj.held1 = fake_tlb_holds(va);
		__atomic_store_n(&rj.step, 10, __ATOMIC_RELEASE);
	} else
		rj_wait_deaf(10);
	arch_irq_restore(f);   /* CPU 2 takes its mail now */
	wait_until(&rj.returned, 1);
	if (cpu == 1)
		rj.received1 = fake_cpu_stats(1)->received - rec;
	else
		rj.received2 = fake_cpu_stats(2)->received - rec;
}

static void test_rejoined_cpu_acknowledges_requests_from_before_it_left(void)
{
	struct pt *pt = host_machine_pt();
	vaddr_t va = CELL_VA + 8 * SIZE_1G;
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	ok(pa && pt_map(pt, va, pa, PAGE_SIZE, PT_PROT_W | PT_PROT_G, PT_SIZE_4K) == PT_OK, "a page for the rejoin case");
	rj = (typeof(rj)){ 0 };
	fake_smp_run(NCPU, rj_run, &va);
	ok(rj.returned && !rj.no_mail && !rj.held1 && rj.received2 == 1 && rj.received1 == 0,
	   "a round posted to a CPU that left and rejoined while its issuer waited ends: the rejoined CPU holds "
	   "nothing (received %llu), the other applied it once (%llu)", (unsigned long long)rj.received1,
	   (unsigned long long)rj.received2);
	phys_free(pa, 1);
}

/* ---------------------------------------------------------------- bad input flushes nothing */

/* What the tables say of n pages from va: a hash of each page's presence and frame. */
static uint64_t tables_digest(vaddr_t va, uint64_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL;
	for (uint64_t k = 0; k < n; k++) {
		paddr_t pa = 0;
		bool present = pt_query(host_machine_pt(), va + k * PAGE_SIZE, &pa, NULL, NULL);
		h = (h ^ (present ? pa | 1 : 0)) * 0x100000001B3ULL;
	}
	return h;
}

/* A page count of a bad call: 0, around the reservation's, huge, or one whose span ends exactly at,
 * or just past, 2^64 from addr. */
static uint64_t bad_count(uint64_t *rng, vaddr_t addr, uint64_t n)
{
	uint64_t to_top = (0 - (addr & ~PAGE_MASK)) >> PAGE_SHIFT;   /* pages from addr's page to 2^64 */
	switch (draw(rng, 10)) {
	case 0: return 0;
	case 1: return n + 1 + draw(rng, 600);
	case 2: return 1 + draw(rng, n - 1);
	case 3: return 1ULL << (32 + draw(rng, 20));
	case 4: return UINT64_MAX - draw(rng, 4);
	case 5: return to_top;
	case 6: return to_top + 1;
	case 7: return (UINT64_MAX >> PAGE_SHIFT) + draw(rng, 3);
	case 8: return 1ULL << 63;
	default: return n;
	}
}

/*
 * Generated bad calls on a machine with one reservation mapped (2 MiB leaves and 4 KiB pages) and a
 * pt mapping (a 2 MiB leaf and 4 KiB pages): syspte_unmap with page counts of 0, partial, past the
 * end, huge, ending at or past 2^64, at addresses inside the mapping, around it, outside the region
 * and at the top of the space, with the right tag or not; pt_unmap and pt_protect with sizes of 0,
 * unaligned, huge, wrapping past 2^64 or ending exactly at it, non-canonical ranges, and valid
 * ranges with nothing mapped (the last pages of the space included). Each one leaves every entry as
 * it was and issues no batch; then the valid unmaps issue exactly their one batch each.
 */
static void test_bad_inputs_flush_nothing(void)
{
	struct pt *pt = host_machine_pt();
	const uint32_t tag = TAG_BASE + 7;
	const uint64_t n = 2 * SPAN + 5;
	uint64_t rng = seed | 1, wrong = 0, cases = 0, bugchecks = 0, pt_cases = 0;
	struct slot *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->va = syspte_reserve(region, 4 * SPAN, tag, SYSPTE_FLAG_DIVISIBLE);   /* aligned to its 8 MiB */
	s->n = n;   /* the mapping: its first n pages */
	s->gen = 1;
	ok(s->va && (s->va & (SIZE_2M - 1)) == 0, "a 2 MiB-aligned reservation of %d pages", 4 * SPAN);
	if (!s->va)
		return;
	s->leaves = slot_frames(0, 7, s, ~0ULL);
	ok(s->leaves == 2 && syspte_map(region, s->va, tag, s->pfn, n, PT_CACHE_WB) == SYSPTE_OK, "mapped with 2 leaves and 5 pages");
	const vaddr_t pva = CELL_VA + 9 * SIZE_1G;
	paddr_t ppa = phys_alloc_aligned(SPAN + 8, SPAN, 0, UINT64_MAX);
	ok(ppa && pt_map(pt, pva, ppa, (SPAN + 8) * PAGE_SIZE, PT_PROT_W | PT_PROT_G, PT_SIZE_2M | PT_SIZE_4K) == PT_OK,
	   "pt_map of a 2 MiB leaf and 8 pages");
	const uint64_t digest_r = tables_digest(s->va - PAGE_SIZE, 4 * SPAN + 2), digest_p = tables_digest(pva, SPAN + 8);
	vaddr_t rend = SYSPTE_BASE + (256ULL << 20);
	bugcheck_set_hook(bugcheck_record_hook);
	fake_tlb_reset();
	for (int c = 0; c < 3000; c++) {
		uint64_t flushes = fake_tlb.flushes;
		cases++;
		if (draw(&rng, 2)) {   /* syspte_unmap */
			static const int64_t around[] = { -1, 1, 2, SPAN, SPAN + 1, 2 * SPAN, 2 * SPAN + 4, 2 * SPAN + 5 };
			vaddr_t addr;
			switch (draw(&rng, 6)) {
			case 0: addr = s->va; break;
			case 1: addr = s->va + (vaddr_t)around[draw(&rng, 8)] * PAGE_SIZE; break;
			case 2: addr = SYSPTE_BASE - PAGE_SIZE * (1 + draw(&rng, 2)); break;
			case 3: addr = rend - PAGE_SIZE * draw(&rng, 2); break;
			case 4: addr = 0 - PAGE_SIZE * (1 + draw(&rng, 3)); break;
			default: addr = s->va + draw(&rng, n) * PAGE_SIZE;
			}
			addr += draw(&rng, 4) == 0 ? draw(&rng, PAGE_SIZE) : 0;
			uint64_t count = bad_count(&rng, addr, n);
			uint32_t t = draw(&rng, 8) ? tag : tag + 1;
			if ((addr & ~PAGE_MASK) == s->va && count == n && t == tag)
				count = n - 1;   /* the one valid call: replaced by a partial one */
			uint64_t before = bugcheck_last.count;
			int st = syspte_unmap(region, addr, t, count);
			bugchecks += bugcheck_last.count != before;
			bool bad = st == SYSPTE_OK || (st == SYSPTE_MISUSE) != (bugcheck_last.count != before) || fake_tlb.flushes != flushes;
			if (bad && wrong < 8)
				printf("# syspte_unmap(0x%llx (mapping 0x%llx), tag %s, %llu pages): %d, %llu batches\n", (unsigned long long)addr,
				       (unsigned long long)s->va, t == tag ? "right" : "wrong", (unsigned long long)count, st,
				       (unsigned long long)(fake_tlb.flushes - flushes));
			wrong += bad;
		} else {   /* pt_unmap or pt_protect */
			vaddr_t va;
			uint64_t size;
			bool valid = false;
			switch (draw(&rng, 7)) {
			case 0: va = pva; size = 0; break;
			case 1: va = pva; size = PAGE_SIZE * (1 + draw(&rng, 8)) + 1 + draw(&rng, PAGE_SIZE - 1); break;
			case 2: va = pva + 1 + draw(&rng, PAGE_SIZE - 1); size = PAGE_SIZE; break;
			case 3: va = 0 - PAGE_SIZE * (1 + draw(&rng, 8)); size = 0 - va + PAGE_SIZE * draw(&rng, 3); break;
			case 4:   /* into the non-canonical hole, or inside it */
				va = 0x0000800000000000ULL - PAGE_SIZE * draw(&rng, 2);
				size = PAGE_SIZE * (2 + draw(&rng, 4));
				break;
			case 5: va = pva; size = (1ULL << 63) + PAGE_SIZE * draw(&rng, 2); break;
			default:   /* valid, with nothing mapped: the last pages of the space, or below the mapping */
				valid = true;
				va = draw(&rng, 2) ? 0 - PAGE_SIZE * (2 + draw(&rng, 32)) : pva - PAGE_SIZE * (1 + draw(&rng, 64));
				size = draw(&rng, 2) && va > pva ? 0 - PAGE_SIZE - va : PAGE_SIZE * (1 + draw(&rng, (0 - va) / PAGE_SIZE - 1 < 40 ? (0 - va) / PAGE_SIZE - 1 : 40));
				if (va < pva && va + size > pva)
					size = pva - va;
			}
			int st = draw(&rng, 2) ? pt_unmap(pt, va, size) : pt_protect(pt, va, size, PT_PROT_G);
			bool bad = (valid ? st != PT_OK : st != PT_EINVAL) || fake_tlb.flushes != flushes;
			if (bad && wrong < 8)
				printf("# pt change of [0x%llx, +0x%llx) (%s): %d, %llu batches\n", (unsigned long long)va,
				       (unsigned long long)size, valid ? "valid" : "bad", st, (unsigned long long)(fake_tlb.flushes - flushes));
			wrong += bad;
			pt_cases++;
		}
	}
	bugcheck_set_hook(NULL);
	wrong += tables_digest(s->va - PAGE_SIZE, 4 * SPAN + 2) != digest_r || tables_digest(pva, SPAN + 8) != digest_p;
	is(wrong, 0, "%llu bad calls (%llu on the page tables, %llu bug checks): no entry changed, no batch issued",
	   (unsigned long long)cases, (unsigned long long)pt_cases, (unsigned long long)bugchecks);
	vaddr_t want[TLB_BATCH_PAGES];
	uint64_t e = slot_entries(s, want, TLB_BATCH_PAGES);
	fake_tlb_reset();
	bool good = syspte_unmap(region, s->va, tag, n) == SYSPTE_OK && pt_unmap(pt, pva, (SPAN + 8) * PAGE_SIZE) == PT_OK;
	vaddr_t pwant[9] = { pva };
	for (unsigned k = 0; k < 8; k++)
		pwant[1 + k] = pva + (SPAN + k) * PAGE_SIZE;
	ok(good && e == 7 && fake_tlb.flushes == 2 && fake_tlb_flushed_pages(0, want, e) && fake_tlb_flushed_pages(1, pwant, 9),
	   "then the valid unmaps: one batch each, a leaf one entry (7 and 9 entries)");
	for (unsigned a = 0; a < s->nalloc; a++)
		phys_free(s->alloc[a].pa, s->alloc[a].pages);
	ok(syspte_release(region, s->va, tag) == SYSPTE_OK, "released");
	phys_free(ppa, SPAN + 8);
	free(s);
}

int main(void)
{
	const char *env = getenv("SHOOT_ROUNDS");
	if (env)
		rounds = MAX((unsigned)strtoul(env, NULL, 0), 100u);   /* the coverage check needs that many */
	if ((env = getenv("SHOOT_SEED")))
		seed = strtoull(env, NULL, 0);
	if ((env = getenv("SHOOT_INJECT")))   /* TLB_INJECT_* bits: a deleted part of the shootdown must fail the run */
		tlb_inject = (unsigned)strtoul(env, NULL, 0);
	if (host_machine_create(1ULL << 30, 256ULL << 20))
		abort();
	region = reserved_region();
	for (unsigned c = 0; c < NCPU; c++) {
		cm[c] = calloc(1, sizeof(*cm[c]));
		if (!cm[c])
			abort();
		cm[c]->rng = (seed ^ (0x9E3779B97F4A7C15ULL * (c + 1))) | 1;
		for (unsigned i = 0; i < CELLS; i++) {
			struct cell *cl = &cm[c]->cell[i];
			cl->va = cl->base = c == 3 ? TOP_VA + i * SIZE_2M : CELL_VA + c * SIZE_1G + i * SIZE_2M;
			cl->pages = c == 3 && i == 1 ? SPAN - 1 : SPAN;   /* the last page of the space: never mapped */
		}
	}
	test_rejoined_cpu_acknowledges_requests_from_before_it_left();
	test_bad_inputs_flush_nothing();
	printf("# seed 0x%llx, %u rounds, %d CPUs\n", (unsigned long long)seed, rounds, NCPU);
	fake_smp_run(NCPU, run, NULL);

	uint64_t wrong = 0, held = 0, checked = 0, racing = 0, ops[ACT_PT_PROTECT + 1] = { 0 }, nops = 0;
	for (unsigned c = 0; c < NCPU; c++) {
		wrong += cm[c]->wrong;
		held += cm[c]->held_before;
		checked += cm[c]->checked;
		racing += cm[c]->racing_reads;
		for (int a = ACT_RESERVE; a <= ACT_PT_PROTECT; a++) {
			ops[a] += cm[c]->ops[a];
			nops += cm[c]->ops[a];
		}
	}
	printf("# %llu changes (reserve %llu, map %llu, unmap %llu, release %llu, pt_map %llu, pt_unmap %llu, pt_protect %llu), "
	       "%llu rounds with several at once, %llu batches (%llu of everything, %llu splits), %llu translations held "
	       "before a change took them, %llu page checks, %llu racing reads, CPU 3 rejoined %llu times\n",
	       (unsigned long long)nops, (unsigned long long)ops[ACT_RESERVE], (unsigned long long)ops[ACT_MAP],
	       (unsigned long long)ops[ACT_UNMAP], (unsigned long long)ops[ACT_RELEASE], (unsigned long long)ops[ACT_PT_MAP],
	       (unsigned long long)ops[ACT_PT_UNMAP], (unsigned long long)ops[ACT_PT_PROTECT], (unsigned long long)busy_rounds,
	       (unsigned long long)log_batches, (unsigned long long)log_alls, (unsigned long long)log_splits,
	       (unsigned long long)held, (unsigned long long)checked, (unsigned long long)racing, (unsigned long long)rejoins);
	is(wrong, 0, "%llu page checks on every CPU after each change: no translation of a page not mapped, each mapped "
	   "page's frame, no write to a read-only page", (unsigned long long)checked);
	is(log_wrong, 0, "%llu batches, each CPU's exactly the model's in order (leaves one entry, > %d entries everything, "
	   "a cut leaf flushed alone first)", (unsigned long long)log_batches, TLB_BATCH_PAGES);
	is(stale_bad, 0, "no read through a stale translation outside a change in flight");
	if (stale_bad)
		fake_stale_print();   /* the first of them all, a racing reader's included */
	bool every = true;
	for (int a = ACT_RESERVE; a <= ACT_PT_PROTECT; a++)
		every &= ops[a] > 0;
	ok(every && busy_rounds > rounds / 4 && log_alls > 0 && log_splits > 0 && held > 20 * (uint64_t)rounds &&
	   rejoins == rounds / 4,
	   "coverage: every kind of change, several CPUs at once, flushes of everything, splits, translations held "
	   "before their change, CPU 3 rejoining mid-round");
	teardown();
	uint64_t left = 0;
	for (unsigned c = 0; c < NCPU; c++)
		left += cm[c]->wrong;
	is(left, wrong, "teardown: every mapping unmapped and every reservation released");
	is(syspte_check(region), 0, "the region is consistent");
	uint64_t still = 0;
	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < CELLS; i++)
			for (unsigned k = 0; k < SPAN; k++)
				still += pt_query(host_machine_pt(), cm[c]->cell[i].va + (vaddr_t)k * PAGE_SIZE, NULL, NULL, NULL);
	is(still, 0, "no page of any cell left mapped");
	for (unsigned c = 0; c < NCPU; c++)
		free(cm[c]);
	host_machine_destroy();
	return tap_done();
}
