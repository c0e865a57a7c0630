/*
 * Host tests of the nonpaged pool (mm/pool.c) on a hosted machine, beside its tests in test_mdl.c
 * and test_free.c:
 *  - a model of the live blocks follows generated allocations and frees (every class, large
 *    blocks, several tags, tag 0, all three free calls) and predicts the statistics, the per-tag
 *    totals, pool_block_info and the empty slabs kept (one per class used);
 *  - pool_tag_totals with every bound against the sorted set of tags, and a full tag table;
 *  - generated misuse with every BAD_POOL_CALLER parameter, the pool unchanged after each;
 *  - pool_check against corruptions of a slab header, block headers, a free list and a large
 *    record, each restored afterwards (the check clean again), some with their exact count of
 *    violations, and many violations at once: all counted, the first five printed. The test mirrors
 *    the pool's private layout (struct mirror_slab, mirror_block) and first proves the mirror right
 *    on live blocks.
 */
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tap.h"
#include "pool_mirror.h"
#include "host_machine.h"
#include "arch_mm.h"
#include "wdm.h"
#include "pool.h"
#include "phys.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "test_rng.h"
#include "capture.h"

#define NTAGS 12
#define MAXLIVE 600

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }


/* The size class (index) of a small request of n bytes. */
static unsigned class_of(size_t n)
{
	unsigned c = 0;
	while (class_sz[c] < n)
		c++;
	return c;
}

/* ---------------------------------------------------------------- the model */

struct live {
	uint8_t *p;
	size_t n;
	uint32_t tag;
};

static struct live lv[MAXLIVE];
static unsigned nlive;
static uint32_t tags[NTAGS];
static struct pool_tag_total want_tag[NTAGS];

/* A request size: mostly small (each class and its edges), sometimes 1..3 pages or just over a page. */
static size_t gen_size(void)
{
	static const size_t edge[] = { 1, 15, 16, 17, 32, 33, 64, 65, 128, 129, 256, 257, 512, 513, 1024, 1025,
				       2015, POOL_SMALL_MAX, POOL_SMALL_MAX + 1, 4095, 4096, 4097, 8192, 12000 };
	switch (below(4)) {
	case 0:
		return edge[below(sizeof(edge) / sizeof(edge[0]))];
	case 1:
		return 1 + below(3 * PAGE_SIZE);
	default:
		return 1 + below(POOL_SMALL_MAX);
	}
}

static uint8_t fill_of(const struct live *l) { return (uint8_t)(l->tag ^ l->n ^ ((uintptr_t)l->p >> 4)); }

/* Everything the pool reports agrees with the model (failures printed, counted in *bad). */
static void model_compare(unsigned step, unsigned *bad)
{
	struct pool_stats st;
	pool_get_stats(&st);
	uint64_t small = 0, large = 0, pages = 0, bytes = 0;
	for (unsigned i = 0; i < nlive; i++) {
		bytes += lv[i].n;
		if (lv[i].n <= POOL_SMALL_MAX)
			small++;
		else
			large++, pages += (lv[i].n + PAGE_SIZE - 1) / PAGE_SIZE;
	}
	bool good = st.small_live == small && st.large_live == large && st.large_pages == pages &&
		    st.bytes_live == bytes && st.empty_slabs <= POOL_CLASSES && st.empty_slabs <= st.slab_pages &&
		    st.untracked_tags == 0;
	for (unsigned t = 0; t < NTAGS; t++) {
		struct pool_tag_total got;
		bool seen = pool_tag_get(tags[t], &got);
		good &= want_tag[t].allocs ? seen && got.tag == tags[t] && got.allocs == want_tag[t].allocs &&
						     got.frees == want_tag[t].frees && got.bytes_live == want_tag[t].bytes_live
					   : !seen;
	}
	for (unsigned k = 0; k < 4 && nlive; k++) {
		const struct live *l = &lv[below(nlive)];
		size_t n = 0;
		uint32_t tg = 1;
		good &= pool_block_info(l->p, &n, &tg) && n == l->n && tg == l->tag;
	}
	good &= pool_check() == 0;
	if (!good && (*bad)++ < 4)
		printf("# step %u: the pool disagrees with the model (%llu small, %llu large, %llu bytes live)\n", step,
		       (unsigned long long)st.small_live, (unsigned long long)st.large_live,
		       (unsigned long long)st.bytes_live);
}

/* Frees live block i through one of the three calls; false when the data was overwritten or the
 * free bug-checked. */
static bool model_free(unsigned i)
{
	struct live l = lv[i];
	bool intact = true;
	for (size_t b = 0; b < l.n; b++)
		intact &= l.p[b] == fill_of(&l);
	uint64_t c0 = bugcheck_last.count;
	switch (below(3)) {
	case 0:
		ExFreePool(l.p);
		break;
	case 1:
		ExFreePoolWithTag(l.p, 0);
		break;
	default:
		ExFreePoolWithTag(l.p, l.tag);
	}
	for (unsigned t = 0; t < NTAGS; t++)
		if (tags[t] == l.tag)
			want_tag[t].frees++, want_tag[t].bytes_live -= l.n;
	lv[i] = lv[--nlive];
	return intact && bugcheck_last.count == c0 && !pool_block_info(l.p, NULL, NULL);
}

/* Generated allocations and frees against the model; at the end every block freed, one empty slab
 * kept per class used, and pool_trim gives them all back. */
static void test_model(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned t = 0; t < NTAGS; t++) {
		tags[t] = t == 0 ? 0 : (uint32_t)test_rng_next(&rng);
		want_tag[t] = (struct pool_tag_total){ .tag = tags[t] };
	}
	struct phys_stats p0, p1;
	phys_get_stats(&p0);
	unsigned bad = 0, lost = 0, misaligned = 0, refused = 0;
	bool used[POOL_CLASSES] = { false };
	for (unsigned step = 0; step < 3000; step++) {
		bool grow = nlive == 0 || (nlive < MAXLIVE && below(100) < (step < 1500 ? 65 : 35));
		if (grow) {
			unsigned t = (unsigned)below(NTAGS);
			size_t n = gen_size();
			uint8_t *p = ExAllocatePoolWithTag(below(2) ? NonPagedPool : NonPagedPoolNx, n, tags[t]);
			if (!p) {
				refused++;
				continue;
			}
			if ((uintptr_t)p % POOL_ALIGN || (n > POOL_SMALL_MAX) != ((uintptr_t)p % PAGE_SIZE == 0))
				misaligned++;
			if (n <= POOL_SMALL_MAX)
				used[class_of(n)] = true;
			lv[nlive] = (struct live){ p, n, tags[t] };
			memset(p, fill_of(&lv[nlive]), n);
			nlive++;
			want_tag[t].allocs++;
			want_tag[t].bytes_live += n;
		} else {
			lost += !model_free((unsigned)below(nlive));
		}
		if (step % 25 == 0)
			model_compare(step, &bad);
	}
	is(refused, 0, "no allocation refused (16 MiB of RAM)");
	is(misaligned, 0, "data 16-byte aligned, page aligned exactly when larger than %u bytes", POOL_SMALL_MAX);
	is(bad, 0, "statistics, per-tag totals, pool_block_info and pool_check follow the model");
	while (nlive)
		lost += !model_free((unsigned)below(nlive));
	is(lost, 0, "every block kept its data and was freed without a bug check");
	model_compare(0, &bad);
	is(bad, 0, "all freed: the totals are back to zero");
	unsigned nused = 0;
	for (unsigned c = 0; c < POOL_CLASSES; c++)
		nused += used[c];
	struct pool_stats st;
	pool_get_stats(&st);
	ok(st.empty_slabs == nused && st.slab_pages == nused && st.large_pages == 0,
	   "one empty slab kept per class used (%llu slabs, %llu empty, %u classes)", (unsigned long long)st.slab_pages,
	   (unsigned long long)st.empty_slabs, nused);
	is(pool_trim(), nused, "pool_trim releases the kept slabs");
	phys_get_stats(&p1);
	pool_get_stats(&st);
	ok(p1.free_pages == p0.free_pages && st.slab_pages == 0 && st.empty_slabs == 0 && pool_check() == 0,
	   "every page back with the page allocator");
	bugcheck_set_hook(NULL);
}

/* ---------------------------------------------------------------- refusals */

/*
 * docs/contract.md section 5: ExAllocatePoolWithTag returns NULL, changing nothing, for 0 bytes and
 * for a pool type other than NonPagedPool (0) and NonPagedPoolNx (512). Every type from -8 to 1100
 * and 2000 random 32-bit ones (every eighth a valid one), with sizes small and large: a block exactly for 0 and 512 (freed
 * again), otherwise NULL with the pool's and the page allocator's statistics, failures included,
 * as they were; 0 bytes is NULL with both valid types.
 */
static void test_refusals(void)
{
	pool_test_machine(false);
	void *keep = ExAllocatePoolWithTag(NonPagedPool, 64, 0x4B656570u);   /* slabs exist: a success takes no page */
	unsigned cases = 0, wrong = 0, granted = 0;
	for (unsigned c = 0; c < 1109 + 2000 + 2; c++) {
		int type = c < 1109 ? (int)c - 8 : c < 3109 ? (int)(uint32_t)test_rng_next(&rng) : (int)(c - 3109) * 512;
		if (c >= 1109 && c < 3109 && c % 8 == 0)
			type = c % 16 ? NonPagedPool : NonPagedPoolNx;   /* the valid types among the random ones */
		size_t n = c >= 3109 ? 0 : below(2) ? 1 + below(POOL_SMALL_MAX) : POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE);
		struct pool_stats s0, s1;
		struct phys_stats p0, p1;
		pool_get_stats(&s0);
		phys_get_stats(&p0);
		void *p = ExAllocatePoolWithTag((POOL_TYPE)type, n, 0x54797065u);
		bool valid = (type == NonPagedPool || type == NonPagedPoolNx) && n != 0;
		bool good;
		if (valid) {
			size_t sz = 0;
			good = p && pool_block_info(p, &sz, NULL) && sz == n;
			if (p)
				ExFreePoolWithTag(p, 0x54797065u);
			granted++;
		} else {
			pool_get_stats(&s1);
			phys_get_stats(&p1);
			good = !p && memcmp(&s0, &s1, sizeof(s0)) == 0 && memcmp(&p0, &p1, sizeof(p0)) == 0;
		}
		if (!good && wrong++ < 3)
			printf("# pool type %d, %zu bytes: %p\n", type, n, p);
		cases++;
	}
	ExFreePool(keep);
	ok(wrong == 0 && granted > 200, "%u pool types and sizes: a block for NonPagedPool and NonPagedPoolNx only (%u), "
	   "NULL with nothing changed otherwise and for 0 bytes", cases, granted);
}

/* ---------------------------------------------------------------- per-tag totals */

static int cmp_tag(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* pool_tag_totals(out, k) for every k: the k smallest tags in order, the count of all tags; then a
 * full table: the tags past it are untracked, the rest still right. */
static void test_tag_totals(void)
{
	enum { N = 40 };
	pool_test_machine(false);
	static uint32_t t[N];
	static void *blk[N];
	for (unsigned i = 0; i < N; i++) {
		bool fresh;
		do {   /* distinct tags, some with equal low bytes or equal hashes' neighbours */
			t[i] = i % 4 == 0 ? (uint32_t)(i * 0x01000000u + 7) : (uint32_t)test_rng_next(&rng);
			fresh = true;
			for (unsigned j = 0; j < i; j++)
				fresh &= t[j] != t[i];
		} while (!fresh);
		blk[i] = ExAllocatePoolWithTag(NonPagedPool, 8 + i, t[i]);
	}
	uint32_t sorted[N];
	memcpy(sorted, t, sizeof(sorted));
	qsort(sorted, N, sizeof(sorted[0]), cmp_tag);
	bool good = true;
	for (size_t k = 0; k <= N + 3; k++) {
		struct pool_tag_total out[N + 4];
		memset(out, 0xA5, sizeof(out));
		size_t n = pool_tag_totals(out, k);
		good &= n == N;
		for (size_t j = 0; j < k && j < N; j++) {
			unsigned i = 0;
			while (t[i] != sorted[j])
				i++;
			good &= out[j].tag == sorted[j] && out[j].allocs == 1 && out[j].frees == 0 && out[j].bytes_live == 8 + i;
		}
		for (size_t j = k < N ? k : N; j < N + 4; j++)
			good &= out[j].tag == 0xA5A5A5A5u;   /* nothing written past what was asked or exists */
	}
	ok(good, "pool_tag_totals(out, k), k = 0..%u: the k smallest of %u tags, in order, nothing past them", N + 3, N);
	for (unsigned i = 0; i < N; i++)
		ExFreePoolWithTag(blk[i], t[i]);

	/* The table holds 256 tags: 216 more fill it; the next tags are untracked and counted as such. */
	static void *more[260];
	for (unsigned i = 0; i < 260; i++)
		more[i] = ExAllocatePoolWithTag(NonPagedPool, 24, 0x70000000u + i);
	struct pool_stats st;
	pool_get_stats(&st);
	struct pool_tag_total g;
	ok(st.untracked_tags == 44 && pool_tag_totals(NULL, 0) == 256 && pool_tag_get(0x70000000u + 215, &g) &&
	   g.bytes_live == 24 && !pool_tag_get(0x70000000u + 216, &g) && pool_tag_get(t[7], &g) && g.frees == 1,
	   "a full tag table: 256 tags kept, 44 allocations untracked (%llu)", (unsigned long long)st.untracked_tags);
	for (unsigned i = 0; i < 260; i++)
		ExFreePool(more[i]);
	pool_get_stats(&st);
	ok(st.bytes_live == 0 && pool_tag_get(0x70000000u + 3, &g) && g.bytes_live == 0 && g.frees == 1 &&
	   pool_check() == 0, "frees of untracked tags: totals back to zero, pool_check clean");
}

/* ---------------------------------------------------------------- misuse */

static struct pool_stats snap0;

/* The last call raised exactly one bug check code with these parameters and changed no statistic. */
static bool raised_as(uint32_t code, uint64_t c0, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	struct pool_stats st;
	pool_get_stats(&st);
	bool r = bugcheck_last.count == c0 + 1 && bugcheck_last.code == code && bugcheck_last.p[0] == p1 &&
		 bugcheck_last.p[1] == p2 && bugcheck_last.p[2] == p3 && bugcheck_last.p[3] == p4 &&
		 memcmp(&st, &snap0, sizeof(st)) == 0;
	if (!r)
		printf("# got 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx), want 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n",
		       bugcheck_last.code, (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3], code,
		       (unsigned long long)p1, (unsigned long long)p2, (unsigned long long)p3, (unsigned long long)p4);
	return r;
}

/* The last call raised exactly one 0xC2 with these parameters and changed no statistic. */
static bool raised(uint64_t c0, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	return raised_as(BUGCHECK_BAD_POOL_CALLER, c0, p1, p2, p3, p4);
}

/* Generated misuse of live and freed blocks, small and large: each one the documented bug check with
 * all four parameters, the pool unchanged. */
static void test_misuse(void)
{
	enum { N = 64 };
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	static struct live b[N];
	for (unsigned i = 0; i < N; i++) {
		b[i].n = i % 4 == 3 ? POOL_SMALL_MAX + 1 + below(2 * PAGE_SIZE) : 1 + below(POOL_SMALL_MAX);
		b[i].tag = 0x10000u + i;
		b[i].p = ExAllocatePoolWithTag(NonPagedPool, b[i].n, b[i].tag);
	}
	unsigned wrong = 0, inside = 0, twice = 0, header = 0, outside = 0, slab_gone = 0, slab_kept = 0;
	for (unsigned i = 0; i < N; i++) {
		struct live *l = &b[i];
		bool large = l->n > POOL_SMALL_MAX;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		uint32_t other = l->tag ^ (1u + (uint32_t)below(0xffff));
		ExFreePoolWithTag(l->p, other);
		wrong += !raised(c0, POOL_BUGCHECK_WRONG_TAG, (uintptr_t)l->p, l->tag, other);
		size_t span = large ? ((l->n + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1)) : 16;
		uint8_t *in = l->p + 1 + below(span - 1);
		ExFreePool(in);
		inside += !raised(c0 + 1, POOL_BUGCHECK_BAD_ADDRESS, (uintptr_t)in, 0, 0);
		if (!large) {   /* a slab's header, and its first block's header */
			uint8_t *h = (uint8_t *)((uintptr_t)l->p & ~(uintptr_t)(PAGE_SIZE - 1)) + 1 + below(47);
			ExFreePoolWithTag(h, l->tag);
			header += !raised(c0 + 2, POOL_BUGCHECK_BAD_ADDRESS, (uintptr_t)h, 0, 0);
		} else {
			header += bugcheck_last.count != c0 + 2;
		}
		ExFreePoolWithTag(l->p, l->tag);
		pool_get_stats(&snap0);
		uint64_t c1 = bugcheck_last.count;
		twice += c1 != c0 + (large ? 2 : 3);   /* the valid free raised nothing */
		ExFreePoolWithTag(l->p, l->tag);
		/* a large block's pages, or a small block's slab when the pool released it, are free memory
		 * (P3 0); else the block's header says free (P3 the header: "Free" and the tag) */
		paddr_t page = ((uintptr_t)l->p - (uintptr_t)arch_phys_to_virt(0)) & ~(paddr_t)(PAGE_SIZE - 1);
		bool gone = phys_is_free(page, 1);
		twice += large && !gone;
		slab_gone += !large && gone, slab_kept += !large && !gone;
		twice += !raised(c1, POOL_BUGCHECK_DOUBLE_FREE, 0, gone ? 0 : 0x65657246u | (uint64_t)l->tag << 32,
				 (uintptr_t)l->p);
	}
	is(wrong, 0, "wrong tag: 0x0A, P2 address, P3 allocator's tag, P4 caller's tag, nothing changed");
	is(inside, 0, "inside a block: 0x46, P2 the address, nothing changed");
	is(header, 0, "a slab header or a block header: 0x46, P2 the address, nothing changed");
	ok(twice == 0 && slab_gone && slab_kept,
	   "a second free: 0x07, P3 the free header (%u) or 0 where the page is free memory (%u small, all large), P4 the address",
	   slab_kept, slab_gone);
	pool_get_stats(&snap0);
	uint64_t c0 = bugcheck_last.count;
	int on_stack;
	ExFreePool(&on_stack);
	outside += !raised(c0, POOL_BUGCHECK_NOT_POOL, (uintptr_t)&on_stack, 0, 0);
	paddr_t pa = phys_alloc(2, 0, UINT64_MAX);
	uint8_t *pg = arch_phys_to_virt(pa);
	memset(pg, 0, 2 * PAGE_SIZE);
	ExFreePool(pg + PAGE_SIZE);
	outside += !raised(c0 + 1, POOL_BUGCHECK_NOT_POOL, (uintptr_t)(pg + PAGE_SIZE), 0, 0);
	ExFreePool(pg + 48);
	outside += !raised(c0 + 2, POOL_BUGCHECK_NOT_POOL, (uintptr_t)(pg + 48), 0, 0);
	ExFreePool(NULL);
	outside += !raised(c0 + 3, POOL_BUGCHECK_BAD_ADDRESS, 0, 0, 0);
	phys_free(pa, 2);
	ExFreePool(pg + 64);
	outside += !raised(c0 + 4, POOL_BUGCHECK_DOUBLE_FREE, 0, 0, (uintptr_t)(pg + 64));
	is(outside, 0, "not pool memory: 0x42 (the stack, a page of another user, zeroed); NULL 0x46; free memory 0x07");
	ok(pool_check() == 0 && snap0.bytes_live == 0, "pool_check clean after the misuse");
	bugcheck_set_hook(NULL);
}

/*
 * docs/contract.md's 0xC2 table for blocks freed long ago and for the pool's own blocks: N large
 * blocks (1 to 3 pages, N from 33 to 80, so more than 32 large frees lie between a block's free and
 * its second one) freed, then each freed again in a shuffled order with its tag: 0x07, P2 0, P3 0,
 * P4 the address, while its pages are free memory; a large block's record (the pool's own block,
 * a block's start in a slab) freed or queried: 0x46 and not a live block. Nothing changes.
 */
static void test_double_free_long_ago(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	static struct live b[80];
	unsigned n = 33 + (unsigned)below(48), late = 0, record = 0;
	/* a fresh machine: the first large block's record is block 0 of the first class-64 slab, and the
	 * next 40-byte block is block 1, one stride (64 + 16 bytes) further */
	b[0].n = POOL_SMALL_MAX + 1;
	b[0].tag = 0x4C000000u;
	b[0].p = ExAllocatePoolWithTag(NonPagedPool, b[0].n, b[0].tag);
	uint8_t *s40 = ExAllocatePoolWithTag(NonPagedPool, 40, 0x4C0000FFu), *rec = s40 - 80;
	pool_get_stats(&snap0);
	uint64_t c0 = bugcheck_last.count;
	ExFreePool(rec);
	record += !raised(c0, POOL_BUGCHECK_BAD_ADDRESS, (uintptr_t)rec, 0, 0);
	ExFreePoolWithTag(rec, b[0].tag);
	record += !raised(c0 + 1, POOL_BUGCHECK_BAD_ADDRESS, (uintptr_t)rec, 0, 0);
	record += pool_block_info(rec, NULL, NULL) || !pool_block_info(b[0].p, NULL, NULL);
	ExFreePool(s40);
	for (unsigned i = 1; i < n; i++) {
		b[i].n = POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE - POOL_SMALL_MAX - 1);
		b[i].tag = 0x4C000000u + i;
		b[i].p = ExAllocatePoolWithTag(NonPagedPool, b[i].n, b[i].tag);
	}
	for (unsigned i = 0; i < n; i++)
		ExFreePoolWithTag(b[i].p, b[i].tag);
	for (unsigned i = n; i > 1; i--) {   /* shuffled */
		unsigned j = (unsigned)below(i);
		struct live t = b[i - 1];
		b[i - 1] = b[j], b[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		pool_get_stats(&snap0);
		c0 = bugcheck_last.count;
		paddr_t page = (uintptr_t)b[i].p - (uintptr_t)arch_phys_to_virt(0);
		ExFreePoolWithTag(b[i].p, b[i].tag);
		late += !phys_is_free(page, (b[i].n + PAGE_SIZE - 1) / PAGE_SIZE) ||
			!raised(c0, POOL_BUGCHECK_DOUBLE_FREE, 0, 0, (uintptr_t)b[i].p);
	}
	is(record, 0, "a large block's record: freed (with or without a tag) 0x46, P2 its address; no live block");
	is(late, 0, "%u large blocks freed twice, up to %u large frees apart: each 0x07, P3 0, P4 the address", n, 2 * n - 1);
	ok(pool_check() == 0 && snap0.bytes_live == 0 && snap0.large_live == 0, "the pool unchanged and clean");
	bugcheck_set_hook(NULL);
}

/* ---------------------------------------------------------------- pool_check against corruption */

/* The pool's private layout (mm/pool.c), proved right on live blocks before use. */
#define M_STRIDE 144u   /* class 128: 128 bytes and the header */

static struct mirror_block *blk(struct mirror_slab *s, unsigned i) { return (void *)((uint8_t *)s + 32 + i * M_STRIDE); }

static unsigned undetected;

/* The lines of text. */
static unsigned count_lines(const char *text)
{
	unsigned n = 0;
	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* pool_check finds the corruption of the bytes at f (size len) to the value at v (exactly want
 * violations when want is not 0), and none once they are restored. */
static void corrupt_n(const char *what, void *f, const void *v, size_t len, uint64_t want)
{
	uint8_t save[16];
	memcpy(save, f, len);
	memcpy(f, v, len);
	uint64_t found = pool_check();
	memcpy(f, save, len);
	if (!found || (want && found != want) || pool_check() != 0) {
		undetected++;
		printf("# %s: %llu violations found\n", what, (unsigned long long)found);
	}
}
#define CORRUPT_N(what, field, value, want) \
	do { __typeof__(field) v_ = (value); corrupt_n(what, &(field), &v_, sizeof(v_), want); } while (0)
#define CORRUPT(what, field, value) CORRUPT_N(what, field, value, 0)

static void test_check(void)
{
	pool_test_machine(false);
	/* A fresh machine: the first class-128 slab's blocks 0..2 are a, b, c in order, blocks 3.. are
	 * free, listed in order. A large block's record is the first block of the first class-64 slab. */
	uint8_t *a = ExAllocatePoolWithTag(NonPagedPool, 100, 0xA), *b = ExAllocatePoolWithTag(NonPagedPool, 120, 0xB);
	uint8_t *c = ExAllocatePoolWithTag(NonPagedPool, 128, 0xC);
	uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, 3000, 0xD);
	uint8_t *near = ExAllocatePoolWithTag(NonPagedPool, 40, 0xE);
	struct mirror_slab *s = slab(a);
	struct mirror_large *r = (struct mirror_large *)(near - 80);
	uint64_t pa = (uintptr_t)s - (uintptr_t)arch_phys_to_virt(0);
	unsigned nb = (PAGE_SIZE - 32) / M_STRIDE;
	bool layout = a && b && c && big && near && s->magic == (M_SLAB_MAGIC ^ pa) && s->cls == class_of(100) &&
		      s->nblocks == nb && s->nfree == nb - 3 && s->free_off == 32 + 3 * M_STRIDE &&
		      hdr(a) == blk(s, 0) && hdr(b) == blk(s, 1) && hdr(c) == blk(s, 2) && hdr(b)->state == M_ALLOC &&
		      hdr(b)->tag == 0xB && hdr(b)->size == 120 && hdr(b)->cls == s->cls && blk(s, 3)->state == M_FREE &&
		      blk(s, 3)->next_off == 32 + 4 * M_STRIDE && hdr((uint8_t *)r)->state == M_INTERNAL &&
		      r->va == (uintptr_t)big && r->npages == 1 && r->bytes == 3000 && r->tag == 0xD && pool_check() == 0;
	if (!ok(layout, "the test's mirror of the pool's layout matches live blocks"))
		return;
	CORRUPT("slab magic", s->magic, s->magic ^ 1);
	CORRUPT("slab class", s->cls, s->cls + 1);
	CORRUPT("slab class out of range", s->cls, POOL_CLASSES + 3);
	CORRUPT("slab block count", s->nblocks, s->nblocks - 1);
	CORRUPT("slab free count", s->nfree, s->nfree - 1);
	CORRUPT("slab free count past its blocks", s->nfree, s->nblocks + 1);
	CORRUPT("slab free list emptied", s->free_off, 0);
	CORRUPT("slab free list into the header", s->free_off, 8);
	CORRUPT("slab free list off a block's start", s->free_off, s->free_off + 16);
	CORRUPT("free list cut after one block", blk(s, 3)->next_off, 0);
	CORRUPT("free list looping", blk(s, 5)->next_off, 32 + 3 * M_STRIDE);
	CORRUPT("free block's state unknown", blk(s, 6)->state, 0x12345678u);
	/* its size is 0: the pool's byte total still agrees, its count of small blocks does not, and a
	 * live block of size 0 is a corrupt header of its own */
	CORRUPT_N("free block marked allocated", blk(s, 6)->state, M_ALLOC, 4);
	CORRUPT("free block's class", blk(s, 7)->cls, 0);
	CORRUPT("allocated block's state unknown", hdr(b)->state, 0x12345678u);
	CORRUPT("allocated block marked free", hdr(b)->state, M_FREE);
	CORRUPT("allocated block's size", hdr(b)->size, 121);
	CORRUPT_N("allocated block's size of another class", hdr(b)->size, 129, 2);
	CORRUPT("allocated block's class", hdr(b)->cls, 2);
	CORRUPT("allocated block marked internal", hdr(b)->state, M_INTERNAL);
	/* The free list runs through allocated block b in place of free block 4: the counts still agree. */
	uint16_t save_b = hdr(b)->next_off;
	hdr(b)->next_off = blk(s, 4)->next_off;
	CORRUPT("free list through an allocated block", blk(s, 3)->next_off, (uint16_t)((uint8_t *)hdr(b) - (uint8_t *)s));
	hdr(b)->next_off = save_b;
	/* The free list runs through a forged free header inside b's data, off the blocks' stride, in
	 * place of free block 4: only the link's offset is wrong. */
	struct mirror_block *forged = (struct mirror_block *)(b + 16);
	*forged = (struct mirror_block){ .state = M_FREE, .next_off = blk(s, 4)->next_off, .cls = s->cls };
	CORRUPT("free list through a forged header off the stride", blk(s, 3)->next_off,
		(uint16_t)((uint8_t *)forged - (uint8_t *)s));
	/* The free list runs through a forged free header on the blocks' stride but past the slab's last
	 * block (in the page's tail, which holds no block), in place of free block 4: only the link's
	 * offset is wrong, and the pool's next allocation from the slab refuses it (0x19 0x0D). */
	struct mirror_block *tail = blk(s, nb), save_tail = *tail;
	*tail = (struct mirror_block){ .state = M_FREE, .next_off = blk(s, 4)->next_off, .cls = s->cls };
	CORRUPT("free list through a forged header past the last block", blk(s, 3)->next_off, (uint16_t)(32 + nb * M_STRIDE));
	*tail = save_tail;
	/* Two full class-1024 slabs (three blocks each) on their class's full list, the newer first: the
	 * older one unlinked is two violations, its class's slab count and the pool's totals. */
	uint8_t *k[6];
	for (unsigned i = 0; i < 6; i++)
		k[i] = ExAllocatePoolWithTag(NonPagedPool, 1000, 0xF);
	struct mirror_slab *newer = slab(k[5]);
	bool two = slab(k[0]) == slab(k[2]) && newer == slab(k[3]) && newer->next == slab(k[0]) && newer->nfree == 0;
	ok(two, "two full class-1024 slabs, the newer first on the list");
	CORRUPT_N("a full slab unlinked from its class", newer->next, NULL, two ? 2 : 0);
	CORRUPT("large record's address off a page", r->va, r->va + 16);
	CORRUPT("large record in another bucket", r->va, r->va + 8 * PAGE_SIZE);
	/* the counts, and the page past the block, which is not the pool's large frames */
	CORRUPT_N("large record's pages", r->npages, 2, 3);
	CORRUPT("large record's bytes small", r->bytes, POOL_SMALL_MAX);
	CORRUPT("large record's bytes past its pages", r->bytes, PAGE_SIZE + 1);
	/* the record's header, and the counts of the walk that stops at it */
	CORRUPT_N("large record's header not internal", hdr((uint8_t *)r)->state, M_ALLOC, 3);
	is(undetected, 0, "pool_check finds each of 30 corruptions (some with their exact count), and none once each is restored");
	/* Every block of slab s in another class: one violation each, the first five printed. */
	static uint8_t page[PAGE_SIZE];
	static char out[4096];
	memcpy(page, s, PAGE_SIZE);
	for (unsigned i = 0; i < nb; i++)
		blk(s, i)->cls = (uint16_t)(s->cls + 1);
	capture_begin();
	uint64_t many = pool_check();
	capture_end(out, sizeof(out));
	memcpy(s, page, PAGE_SIZE);
	unsigned printed = 0;
	for (const char *q = out; (q = strstr(q, "pool_check: block of another class at ")) != NULL; q++)
		printed++;
	ok(many == nb && printed == 5 && count_lines(out) == 5 && pool_check() == 0,
	   "%u violations: all counted (%llu), the first five printed (%u lines)", nb, (unsigned long long)many,
	   count_lines(out));
	ExFreePool(a), ExFreePool(b), ExFreePool(c), ExFreePool(big), ExFreePool(near);
	for (unsigned i = 0; i < 6; i++)
		ExFreePool(k[i]);
	is(pool_check(), 0, "pool_check clean at the end");
}

/* ---------------------------------------------------------------- pool_dump */

/* pool_dump's text: the totals, each class once, each tag as four characters (the unprintable
 * ones as '.', a space kept) with its counts. */
static void test_dump(void)
{
	pool_test_machine(false);
	void *m1 = ExAllocatePoolWithTag(NonPagedPool, 40, POOL_TAG4('M', 'd', 'l', ' '));
	void *m2 = ExAllocatePoolWithTag(NonPagedPool, 48, POOL_TAG4('M', 'd', 'l', ' '));
	void *odd = ExAllocatePoolWithTag(NonPagedPool, 5000, POOL_TAG4(0x1f, '~', 0x7f, 0x20));
	ExFreePool(m2);
	static char text[8192];
	FILE *tmp = tmpfile();
	fflush(stdout);
	int saved = dup(1);
	dup2(fileno(tmp), 1);
	pool_dump();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	size_t len = fread(text, 1, sizeof(text) - 1, tmp);
	text[len] = 0;
	fclose(tmp);
	unsigned classes = 0;
	for (const char *q = text; (q = strstr(q, "  class ")) != NULL; q++)
		classes++;
	static const char totals[] = "pool: 1 slab pages (0 empty), 1 small blocks, 1 large blocks in 2 pages, 5040 bytes live\n";
	ok(strncmp(text, totals, strlen(totals)) == 0,
	   "pool_dump: the totals first");
	ok(classes == POOL_CLASSES && strstr(text, "  class   16: 0 slabs, 127 blocks each\n") &&
	   strstr(text, "  class   64: 1 slabs, 50 blocks each\n") && strstr(text, "  class 2016: 0 slabs, 2 blocks each\n"),
	   "pool_dump: each class once, with its slabs and blocks");
	ok(strstr(text, "  Mdl   2           1           1           40\n") &&
	   strstr(text, "  .~.   1           0           1           5000\n"),
	   "pool_dump: tags as text (a space kept, unprintable bytes as '.') with their counts");
	unsigned rows = 0;   /* the table's lines after its heading: one a tag, no more */
	const char *q = strstr(text, "  tag   allocs");
	for (q = q ? strchr(q, '\n') : NULL; q && q[1]; q = strchr(q + 1, '\n'))
		rows++;
	ok(rows == 2, "pool_dump: one line for each of the 2 tags used, no more (%u)", rows);
	ExFreePool(m1);
	ExFreePool(odd);
}

/*
 * docs/contract.md section 8: "Every detector validates before it changes anything, so the call that
 * raised the bug check returns with all state as it was". A large block whose frames went back to
 * the page allocator behind the pool (as MmFreePagesFromMdl can do, test_mdl.c) is freed: whatever
 * bug check the free raises, a caught one leaves the block live and the pool's statistics as they
 * were. Blocks of 1 to 6 pages.
 */
static void test_free_after_pages_lost(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, changed = 0;
	for (uint64_t pages = 1; pages <= 6; pages++) {
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, pages * PAGE_SIZE, 0x4C6F7374u);
		paddr_t pa = (uintptr_t)p - (uintptr_t)arch_phys_to_virt(0);
		phys_free(pa, pages);   /* behind the pool's back */
		struct pool_stats s0, s1;
		pool_get_stats(&s0);
		uint64_t c0 = bugcheck_last.count;
		ExFreePoolWithTag(p, 0x4C6F7374u);
		pool_get_stats(&s1);
		bool caught = bugcheck_last.count == c0 + 1, live = pool_block_info(p, NULL, NULL);
		bool good = caught && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			    bugcheck_last.p[0] == PHYS_BUGCHECK_BAD_FREE && live && memcmp(&s0, &s1, sizeof(s0)) == 0;
		if (!good && changed++ < 2)
			printf("# %llu pages: bug check 0x%x P1 0x%llx caught %d; block live %d; large blocks %llu -> %llu, bytes %llu -> %llu\n",
			       (unsigned long long)pages, bugcheck_last.code, (unsigned long long)bugcheck_last.p[0], caught, live,
			       (unsigned long long)s0.large_live, (unsigned long long)s1.large_live,
			       (unsigned long long)s0.bytes_live, (unsigned long long)s1.bytes_live);
		cases++;
		/* the frames back to the pool's block, as the pool's own */
		if (!phys_alloc_owned(pages, 1, pa, pa + pages * PAGE_SIZE, PHYS_OWNER_POOL_LARGE))
			continue;
		if (live)
			ExFreePoolWithTag(p, 0x4C6F7374u);
		else
			phys_free(pa, pages);
	}
	bugcheck_set_hook(NULL);
	is(changed, 0, "%u frees of large blocks whose frames were lost: one bug check, the physical allocator's "
	   "0x1A, and the block and the pool's statistics unchanged", cases);
}

/* The same for an empty slab whose page went back behind the pool: pool_trim raises the physical
 * allocator's 0x1A once per such slab, releases none of them and keeps their counts; once the pages
 * are the pool's again, the trim releases them. Slabs of each small size class. */
static void test_trim_after_slab_lost(void)
{
	pool_test_machine(false);
	pool_trim();
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0;
	for (size_t n = 16; n <= 2016; n = n * 2 + 16) {
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, 0x62616c53u);
		paddr_t pa = ALIGN_DOWN((uintptr_t)p - (uintptr_t)arch_phys_to_virt(0), PAGE_SIZE);
		struct pool_stats s0, s1;
		pool_get_stats(&s0);
		ExFreePoolWithTag(p, 0x62616c53u);   /* the slab empty, kept */
		phys_free(pa, 1);                    /* behind the pool's back */
		uint64_t c0 = bugcheck_last.count, released = pool_trim();
		pool_get_stats(&s1);
		bool good = released == 0 && bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_MEMORY_MANAGEMENT &&
			    bugcheck_last.p[0] == PHYS_BUGCHECK_BAD_FREE && bugcheck_last.p[1] == pa &&
			    s1.slab_pages == s0.slab_pages;
		bool back = phys_alloc_owned(1, 1, pa, pa + PAGE_SIZE, PHYS_OWNER_POOL_SLAB) == pa;
		good &= back && pool_trim() == 1 && bugcheck_last.count == c0 + 1;
		if (!good && wrong++ < 3)
			printf("# %zu bytes: trim released %llu, bug checks %llu -> %llu (0x%x), slab pages %llu -> %llu\n", n,
			       (unsigned long long)released, (unsigned long long)c0, (unsigned long long)bugcheck_last.count,
			       bugcheck_last.code, (unsigned long long)s0.slab_pages, (unsigned long long)s1.slab_pages);
		cases++;
	}
	bugcheck_set_hook(NULL);
	is(wrong, 0, "%u empty slabs whose page was lost: pool_trim raises 0x1A once each, keeps them, and releases "
	   "them once their pages are back", cases);
}

/* ---------------------------------------------------------------- corrupt headers: 0x19 */

/* The last call raised exactly one 0x19 with these parameters and changed no statistic; the
 * corruption is still there for pool_check to find. */
static bool raised_header(uint64_t c0, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	return raised_as(BUGCHECK_BAD_POOL_HEADER, c0, p1, p2, p3, p4) && pool_check() != 0;
}

/*
 * docs/contract.md's 0x19 table, generated: a live small block of every class whose header's size
 * (zero, another class's, beyond the small sizes, grown within its class past what its tag holds)
 * or class was overwritten is freed: one 0x19 with its parameters, nothing changed, the block not
 * live to pool_block_info; once restored, it frees normally. A freed block's header (state, link)
 * or its slab's link overwritten: the next allocation of the class raises 0x0D, returns NULL,
 * changes nothing, and succeeds once restored.
 */
static void test_header_corrupt(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned bad_free = 0, bad_alloc = 0, cases = 0, allocs = 0;
	for (unsigned i = 0; i < 400; i++) {
		uint32_t tag = 0x48000000u + i;   /* one block per tag: its tag's total is its size */
		size_t n = 1 + below(POOL_SMALL_MAX);
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, tag);
		struct mirror_block *h = hdr(p), save = *h;
		unsigned ci = class_of(n);
		uint32_t lo = ci ? class_sz[ci - 1] : 0, hi = class_sz[ci];
		uint32_t size = h->size;
		uint16_t cls = h->cls;
		switch (i % 5) {
		case 0: size = 0; break;
		case 1: size = ci + 1 < POOL_CLASSES ? hi + 1 + (uint32_t)below(POOL_SMALL_MAX - hi + 1) : 1 + (uint32_t)below(lo); break;
		case 2: size = POOL_SMALL_MAX + 1 + (uint32_t)below(0x7fffffff); break;
		case 3: cls = (uint16_t)((ci + 1 + below(POOL_CLASSES - 1)) % POOL_CLASSES); break;
		case 4: size = n < hi ? (uint32_t)(n + 1 + below(hi - n)) : 0; break;
		}
		h->size = size, h->cls = cls;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		size_t got = 0;
		if (i % 2)
			ExFreePoolWithTag(p, tag);
		else
			ExFreePool(p);
		uint64_t sub = size == 0 ? POOL_BUGCHECK_HEADER_SIZE_ZERO : POOL_BUGCHECK_HEADER_SIZE;
		bad_free += !raised_header(c0, sub, 0, size | (uint64_t)cls << 32, (uintptr_t)h);
		bad_free += (i % 5 != 4) == pool_block_info(p, &got, NULL);   /* within its class: still "live" */
		*h = save;
		ExFreePoolWithTag(p, tag);
		bad_free += bugcheck_last.count != c0 + 1 || pool_block_info(p, NULL, NULL) || pool_check() != 0;
		cases++;
	}
	for (unsigned i = 0; i < 120; i++) {
		size_t n = 1 + below(POOL_SMALL_MAX);
		uint8_t *keep = ExAllocatePoolWithTag(NonPagedPool, n, 0x4B);   /* the slab stays */
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, n, 0x46);
		ExFreePool(p);   /* p's block heads its slab's free list */
		struct mirror_block *h = hdr(p), save = *h;
		struct mirror_slab *s = slab(p);
		uint16_t save_off = s->free_off, poff = (uint16_t)((uint8_t *)h - (uint8_t *)s);
		uint64_t p3 = poff, p4;
		switch (i % 4) {
		case 0: h->state = M_ALLOC; break;                     /* a write after the free */
		case 1: h->cls = (uint16_t)((h->cls + 1) % POOL_CLASSES); break;
		case 2: h->next_off = (uint16_t)(poff + 1 + below(PAGE_SIZE)); break;   /* no block of the class */
		case 3: s->free_off = (uint16_t)(8 + below(24)); p3 = s->free_off; break;   /* into the slab header */
		}
		if (i % 4 == 2 && h->next_off >= 32 && (h->next_off - 32) % (class_sz[class_of(n)] + 16) == 0 &&
		    (h->next_off - 32) / (class_sz[class_of(n)] + 16) < (PAGE_SIZE - 32) / (class_sz[class_of(n)] + 16))
			h->next_off++;   /* keep it off every block's start */
		p4 = i % 4 == 3 ? 0 : h->state | (uint64_t)h->next_off << 32;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		void *q = ExAllocatePoolWithTag(NonPagedPool, n, 0x46);
		bad_alloc += q != NULL || !raised_header(c0, POOL_BUGCHECK_FREED_MODIFIED, (uintptr_t)s, p3, p4);
		*h = save, s->free_off = save_off;
		q = ExAllocatePoolWithTag(NonPagedPool, n, 0x46);
		bad_alloc += q != p || bugcheck_last.count != c0 + 1 || pool_check() != 0;
		ExFreePool(q);
		ExFreePool(keep);
		allocs++;
	}
	bugcheck_set_hook(NULL);
	struct pool_stats st;
	pool_get_stats(&st);
	is(bad_free, 0, "%u frees of a block whose header's size or class was overwritten: 0x19 P1 0x07/0x08, P3 size | "
	   "class << 32, P4 the header, nothing changed; freed once restored", cases);
	is(bad_alloc, 0, "%u allocations over a free block whose header or slab link was overwritten: NULL and 0x19 P1 "
	   "0x0D (P2 slab, P3 offset, P4 state | link << 32), nothing changed; served once restored", allocs);
	ok(st.bytes_live == 0 && pool_check() == 0, "the pool empty and clean after the corruptions");
}

/*
 * The 0x0D row through a large allocation: its side record is a block of class 64, so a large
 * request over a class-64 slab whose first free block's header (state, class, link) or whose own
 * link was overwritten raises 0x19 0x0D (P2 the slab, P3 the offset, P4 state | link << 32 or 0),
 * returns NULL, counts no failure, takes no page from the physical allocator and changes nothing;
 * once restored, the same request is served, its record in the block that was corrupt.
 */
static void test_header_corrupt_large_record(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned bad = 0, cases = 0;
	for (unsigned i = 0; i < 60; i++) {
		uint8_t *keep = ExAllocatePoolWithTag(NonPagedPool, 33 + below(32), 0x4B);   /* the slab stays */
		uint8_t *p = ExAllocatePoolWithTag(NonPagedPool, 33 + below(32), 0x52);
		ExFreePool(p);   /* p's block heads the class-64 slab's free list: the next record goes there */
		struct mirror_block *h = hdr(p), save = *h;
		struct mirror_slab *s = slab(p);
		uint16_t save_off = s->free_off, poff = (uint16_t)((uint8_t *)h - (uint8_t *)s);
		uint64_t p3 = poff;
		switch (i % 4) {
		case 0: h->state = (uint32_t)(i % 8 == 0 ? M_ALLOC : M_INTERNAL); break;
		case 1: h->cls = (uint16_t)((2 + 1 + below(POOL_CLASSES - 1)) % POOL_CLASSES); break;
		case 2: h->next_off = (uint16_t)(32 + 80 * below(50) + 1 + below(79)); break;   /* inside a block */
		case 3: s->free_off = (uint16_t)(below(2) ? 8 + below(24) : PAGE_SIZE - 8 - below(40)); p3 = s->free_off; break;
		}
		uint64_t p4 = i % 4 == 3 ? 0 : h->state | (uint64_t)h->next_off << 32;
		size_t n = POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE);
		struct phys_stats ph0, ph1;
		phys_get_stats(&ph0);
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		void *q = ExAllocatePoolWithTag(NonPagedPool, n, 0x4C);
		phys_get_stats(&ph1);
		bad += q != NULL || !raised_header(c0, POOL_BUGCHECK_FREED_MODIFIED, (uintptr_t)s, p3, p4) ||
		       memcmp(&ph0, &ph1, sizeof(ph0)) != 0;
		*h = save, s->free_off = save_off;
		q = ExAllocatePoolWithTag(NonPagedPool, n, 0x4C);
		size_t got = 0;
		bad += q == NULL || bugcheck_last.count != c0 + 1 || hdr(p)->state != M_INTERNAL ||
		       !pool_block_info(q, &got, NULL) || got != n || pool_check() != 0;
		ExFreePoolWithTag(q, 0x4C);
		ExFreePool(keep);
		cases++;
	}
	bugcheck_set_hook(NULL);
	struct pool_stats st;
	pool_get_stats(&st);
	is(bad, 0, "%u large allocations whose record's free block or slab link was overwritten: NULL, 0x19 0x0D with "
	   "its parameters, no failure counted, no page taken, nothing changed; served once restored", cases);
	ok(st.bytes_live == 0 && st.large_live == 0 && pool_check() == 0, "the pool empty and clean after them");
}

/* ---------------------------------------------------------------- 0x19: overruns and the tag counts */

/* The last call raised exactly one 0x19 (any subcode) naming header h in P4, and changed no statistic. */
static bool raised_header_at(uint64_t c0, const void *h)
{
	struct pool_stats st;
	pool_get_stats(&st);
	bool r = bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
		 bugcheck_last.p[3] == (uintptr_t)h && memcmp(&st, &snap0, sizeof(st)) == 0;
	if (!r)
		printf("# %llu bug checks, the last 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx); want one 0x19 naming %p\n",
		       (unsigned long long)(bugcheck_last.count - c0), bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3], h);
	return r;
}

/*
 * An overrun of 1 to 4 bytes past a live block writes the next block's header's state word first
 * (struct pool_block: state, tag, size, link, class). The free of that intact next block finds a
 * state no pool call writes: 0x19 naming its header (P1 0x05, the block before in P2), where it
 * was once 0xC2 0x46, blaming the caller.
 */
static void test_state_overrun(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0;
	for (unsigned i = 0; i < 64; i++) {
		unsigned ci = i % POOL_CLASSES;
		size_t n = (ci ? class_sz[ci - 1] : 0) + 1 + below(class_sz[ci] - (ci ? class_sz[ci - 1] : 0));
		uint8_t *a = ExAllocatePoolWithTag(NonPagedPool, n, 0x41), *b = ExAllocatePoolWithTag(NonPagedPool, n, 0x42);
		if (hdr(b) != (void *)(a + class_sz[ci])) {   /* not neighbours: no overrun reaches b */
			ExFreePool(a), ExFreePool(b);
			continue;
		}
		struct mirror_block save = *hdr(b);
		unsigned k = 1 + (unsigned)below(4);
		for (unsigned j = 0; j < k; j++)   /* the caller writes k bytes past its block */
			a[class_sz[ci] + j] = (uint8_t)(0x30 + below(64));
		bool garbage = hdr(b)->state != M_ALLOC && hdr(b)->state != M_FREE && hdr(b)->state != M_INTERNAL;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		if (garbage) {
			ExFreePoolWithTag(b, 0x42);
			wrong += !raised_header_at(c0, hdr(b));
			cases++;
		}
		*hdr(b) = save;
		ExFreePool(a), ExFreePool(b);
	}
	bugcheck_set_hook(NULL);
	ok(cases > 20 && wrong == 0, "%u frees of a block whose header's state an overrun of 1..4 bytes overwrote: "
	   "0x19 naming its header, nothing changed (%u wrong)", cases, wrong);
}

/* The last call raised exactly one 0x19 0x03 naming slab sl and changed no statistic; with magic_read
 * not 0, its P3 and P4 are the magic read and the one the slab had. */
static bool raised_slab(uint64_t c0, const void *sl, uint64_t magic_read, uint64_t magic)
{
	struct pool_stats st;
	pool_get_stats(&st);
	bool r = bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
		 bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)sl &&
		 (!magic_read || (bugcheck_last.p[2] == magic_read && bugcheck_last.p[3] == magic)) &&
		 memcmp(&st, &snap0, sizeof(st)) == 0;
	if (!r)
		printf("# got %llu bug checks, the last 0x%x (0x%llx, 0x%llx, 0x%llx, 0x%llx), want 0x19 (0x3, %p, 0x%llx, 0x%llx)\n",
		       (unsigned long long)(bugcheck_last.count - c0), bugcheck_last.code,
		       (unsigned long long)bugcheck_last.p[0], (unsigned long long)bugcheck_last.p[1],
		       (unsigned long long)bugcheck_last.p[2], (unsigned long long)bugcheck_last.p[3], sl,
		       (unsigned long long)magic_read, (unsigned long long)magic);
	return r;
}

/* Overwrites slab sl's header as case k of test_slab_header: k 0 an overrun of 1..32 bytes from the
 * page before (its first byte changed), 1 a list link, 2 the class, 3 the block count, 4 a free
 * count beyond the block count or naming the other list. */
static void slab_corrupt(struct mirror_slab *sl, unsigned k)
{
	uint8_t *h = (uint8_t *)sl;
	switch (k) {
	case 0: {
		unsigned len = 1 + (unsigned)below(32);
		for (unsigned j = 0; j < len; j++)
			h[j] = (uint8_t)(j ? below(256) : h[0] ^ (1 + below(255)));
		break;
	}
	case 1:
		if (below(2))
			sl->next = (void *)((uintptr_t)sl->next ^ (below(2) ? PAGE_SIZE << below(8) : 1 + below(4095)));
		else
			sl->prev = (void *)((uintptr_t)sl->prev ^ (below(2) ? PAGE_SIZE << below(8) : 1 + below(4095)));
		break;
	case 2: sl->cls = (uint16_t)(sl->cls ^ (1 + below(0xffff))); break;
	case 3: sl->nblocks = (uint16_t)(sl->nblocks ^ (1 + below(0xffff))); break;
	default:
		sl->nfree = below(2) ? (uint16_t)(sl->nblocks + 1 + below(0xffffu - sl->nblocks)) : (sl->nfree ? 0 : 1);
		break;
	}
}

/*
 * A slab's header overwritten (docs/contract.md's 0x19 table, P1 0x03), generated over every class:
 * an overrun from the page before (the last block of a class-16 or class-2016 slab ends at its
 * page's end), or one field of it (a list link, the class, the block count, a free count that
 * cannot be). The first call that reads it raises one 0x19 0x03 naming the slab (with the magic
 * read and the one expected when the magic changed), returns NULL for an allocation, changes
 * nothing, and pool_check finds it; once restored, the same call succeeds:
 *  - the free of a block in the slab;
 *  - an allocation of the slab's class while the slab heads its class's list;
 *  - pool_trim while the slab is empty and kept (it stays).
 * Before the physical allocator recorded slab pages, a changed magic made the free 0xC2 0x42
 * ("memory the pool does not hold"), the allocation took blocks through the header unchecked, and
 * pool_trim raised the physical allocator's 0x1A.
 */
static void test_slab_header(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases[3] = { 0, 0, 0 }, wrong = 0, overruns = 0;
	for (unsigned t = 0; t < 900; t++) {
		unsigned ci = (unsigned)below(POOL_CLASSES), how = t % 3, k = (unsigned)below(5);
		pool_trim();
		uint8_t *b = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4f);
		struct mirror_slab *sl = slab(b);
		if (sl->prev || !sl->nfree) {   /* b's slab must head its class's avail list */
			ExFreePool(b);
			continue;
		}
		if (how == 2)
			ExFreePool(b);   /* the slab empty and kept */
		struct mirror_slab save = *sl;
		slab_corrupt(sl, k);
		bool magic = sl->magic != save.magic;
		overruns += k == 0;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		bool good;
		if (how == 0) {
			ExFreePoolWithTag(b, 0x4f);
			good = raised_slab(c0, sl, magic ? sl->magic : 0, save.magic) && pool_block_info(b, NULL, NULL) == false;
		} else if (how == 1) {
			void *q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4f);
			good = q == NULL && raised_slab(c0, sl, magic ? sl->magic : 0, save.magic);
		} else {
			uint64_t released = pool_trim();
			good = released == 0 && raised_slab(c0, sl, magic ? sl->magic : 0, save.magic);
		}
		good &= pool_check() != 0;
		*sl = save;
		good &= pool_check() == 0;
		c0 = bugcheck_last.count;
		if (how == 0) {
			ExFreePoolWithTag(b, 0x4f);
		} else if (how == 1) {
			void *q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4f);
			good &= q != NULL;
			ExFreePool(q);
			ExFreePool(b);
		} else {
			good &= pool_trim() == 1;
		}
		good &= bugcheck_last.count == c0 && pool_check() == 0;
		if (!good && wrong++ < 4)
			printf("# class %u, case %u, call %u: wrong\n", ci, k, how);
		cases[how]++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0 && cases[0] > 200 && cases[1] > 200 && cases[2] > 200 && overruns > 100,
	   "%u frees, %u allocations and %u trims over a slab whose header was overwritten (%u by an overrun of 1..32 bytes): "
	   "one 0x19 0x03 naming the slab, nothing changed, and the call succeeds once restored (%u wrong)",
	   cases[0], cases[1], cases[2], overruns, wrong);
}

/*
 * pool_account_covers with the tag table full: an untracked tag's block (its tag's only one, 17
 * bytes) whose size grew to 32 within its class is past what the untracked tags hold together
 * (the contract's 0x07 row), though the pool holds more bytes; once restored it frees, and an
 * intact block's free after it raises nothing (compared with the whole pool's bytes, the grown
 * free went on and left the totals short).
 */
static void test_untracked_grown(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	for (unsigned i = 0; i < 256; i++)   /* fill the tag table (entries are never removed) */
		ExFreePool(ExAllocatePoolWithTag(NonPagedPool, 8, 0x54000000u + i));
	uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, 2000, 0x54000000u);   /* tracked */
	uint8_t *x = ExAllocatePoolWithTag(NonPagedPool, 17, 0x55555555u);        /* untracked */
	struct pool_stats st;
	pool_get_stats(&st);
	ok(st.untracked_tags == 1, "the table full: the block's tag is untracked");
	hdr(x)->size = 32;   /* grown within class 32, past its tag's 17 bytes */
	pool_get_stats(&snap0);
	uint64_t c0 = bugcheck_last.count;
	ExFreePool(x);
	ok(bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
	   bugcheck_last.p[0] == POOL_BUGCHECK_HEADER_SIZE && bugcheck_last.p[2] == (32 | 1ULL << 32) &&
	   bugcheck_last.p[3] == (uintptr_t)hdr(x),
	   "an untracked tag's block grown past its tag's bytes: 0x19 0x07 (got %llu bug checks)",
	   (unsigned long long)(bugcheck_last.count - c0));
	if (bugcheck_last.count == c0 + 1) {   /* restored, it frees */
		hdr(x)->size = 17;
		ExFreePool(x);
	}
	c0 = bugcheck_last.count;
	ExFreePool(big);
	ok(bugcheck_last.count == c0, "the intact block's free after it raises nothing (got 0x%x, P4 %p = its header? %d)",
	   bugcheck_last.code, (void *)(uintptr_t)bugcheck_last.p[3], bugcheck_last.p[3] == (uintptr_t)hdr(big));
	bugcheck_set_hook(NULL);
}

/*
 * docs/contract.md's limit of the size check: tag T holds two 17-byte blocks; one's size grows to 32
 * within its class while T still counts 34 bytes, so its free goes on and T counts 2; the free of
 * the other, intact, block then finds T's count short of its 17 bytes: 0x19 0x07 naming that block
 * (P3 its size and class), which the contract documents as "this block or an earlier one of its
 * tag", nothing changed.
 */
static void test_grown_size_found_by_its_tag_later(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	uint8_t *x = ExAllocatePoolWithTag(NonPagedPool, 17, 0x54), *y = ExAllocatePoolWithTag(NonPagedPool, 17, 0x54);
	hdr(x)->size = 32;
	uint64_t c0 = bugcheck_last.count;
	ExFreePool(x);
	uint64_t c1 = bugcheck_last.count;
	pool_get_stats(&snap0);
	ExFreePool(y);
	ok(c1 == c0 && raised_as(BUGCHECK_BAD_POOL_HEADER, c1, POOL_BUGCHECK_HEADER_SIZE, 0, 17 | (uint64_t)class_of(17) << 32,
				    (uintptr_t)hdr(y)),
	   "a size grown within what its tag counts goes on; the tag's next free finds its count short: 0x19 0x07 "
	   "naming that block, nothing changed");
	bugcheck_set_hook(NULL);
}

/* ---------------------------------------------------------------- slab headers: counts, loops, records */


/*
 * docs/contract.md's 0x03 row: "a free count ... naming the other list" is 0x19 0x03, raised by
 * the free of a block in the slab, nothing changed. Generated over every class, for a slab that is
 * not its list's head (it has a previous slab): three slabs of the class, the middle one's free
 * count set to one naming the other list (a full slab: 1 .. its blocks; an available one: 0), then
 * the free of one of its live blocks. pool_slab_sound once checked the list a free count names
 * only for a slab without a previous one, so the free went on: the block was freed, and a full
 * slab's count reaching its block count released the page while blocks in it were live.
 */
static void test_free_count_other_list_not_head(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0;
	static uint8_t *b[3 * 127];
	for (unsigned t = 0; t < 48; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		bool full = t / POOL_CLASSES % 2 == 0;
		pool_trim();
		for (unsigned i = 0; i < 3 * nb; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4e);
		struct mirror_slab *mid = slab(b[nb]);
		if (!full)   /* one block of each slab back: all three on the avail list, mid in the middle */
			for (unsigned k = 0; k < 3; k++)
				ExFreePool(b[k * nb]), b[k * nb] = NULL;
		unsigned victim = nb + 1 + (unsigned)below(nb - 1);
		if (slab(b[victim]) != mid || !mid->prev || !mid->next) {
			wrong++;
			printf("# class %u: setup: the middle slab not found\n", ci);
			break;
		}
		uint16_t save = mid->nfree;
		mid->nfree = full ? (uint16_t)(1 + below(nb)) : 0;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(b[victim]);
		struct pool_stats now;
		pool_get_stats(&now);
		bool good = bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
			    bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)mid &&
			    memcmp(&now, &snap0, sizeof(now)) == 0 && hdr(b[victim])->state == M_ALLOC;
		uint16_t set = mid->nfree;
		mid->nfree = save;
		if (!good && wrong++ < 4)
			printf("# class %u, %s list, free count set to %u: the free of a block in it went on\n", ci,
			       full ? "full" : "avail", (unsigned)set);
		cases++;
		if (good) {
			for (unsigned i = 0; i < 3 * nb; i++)
				if (b[i])
					ExFreePool(b[i]);
		} else {   /* the free went on: the pool is past repair, a new machine */
			pool_test_machine(false);
			bugcheck_set_hook(bugcheck_record_hook);
		}
	}
	bugcheck_set_hook(NULL);
	ok(cases == 48 && wrong == 0,
	   "%u frees of a block in a slab (not its list's head) whose free count names the other list: 0x19 0x03 "
	   "naming the slab, nothing changed (%u went on)", cases, wrong);
}

/* The same through pool_trim (the 0x03 row: "pool_trim when it lies on an available
 * list"): three slabs of a class on the available list, the middle one's free count set to 0
 * (naming the full list); pool_trim once walked past it without a bug check. */
static void test_trim_free_count_other_list_not_head(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0;
	static uint8_t *b[3 * 127];
	for (unsigned t = 0; t < 16; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		pool_trim();
		for (unsigned i = 0; i < 3 * nb; i++)
			b[i] = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4e);
		for (unsigned k = 0; k < 3; k++)
			ExFreePool(b[k * nb]), b[k * nb] = NULL;
		struct mirror_slab *mid = slab(b[nb + 1]);
		uint16_t save = mid->nfree;
		mid->nfree = 0;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		uint64_t released = pool_trim();
		struct pool_stats now;
		pool_get_stats(&now);
		bool good = released == 0 && bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
			    bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)mid &&
			    memcmp(&now, &snap0, sizeof(now)) == 0;
		mid->nfree = save;
		if (!good && wrong++ < 4)
			printf("# class %u: pool_trim over an available slab (not the head) whose free count is 0: %llu bug checks\n",
			       ci, (unsigned long long)(bugcheck_last.count - c0));
		for (unsigned i = 0; i < 3 * nb; i++)
			if (b[i])
				ExFreePool(b[i]);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u trims over an available slab (not its list's head) whose free count names the full list: "
	   "0x19 0x03 naming it (%u wrong)", cases, wrong);
}

/*
 * docs/contract.md: "a slab's free count changed to another count its list allows ... is found where
 * it is followed". pool_trim follows a kept slab's free count to hand its page back: an available
 * slab holding live blocks whose count was set to its block count (a count the available list
 * allows) was once released by pool_trim, its live blocks' page given to the physical allocator,
 * with no bug check; generated over every class. The page stays (the slab's free list, which
 * pool_trim walks before it releases a slab, has fewer blocks than the count), a 0x19 names the slab.
 */
static void test_trim_releases_live_slab(void)
{
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 16; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci), live = 1 + (unsigned)below(nb - 1);
		pool_test_machine(false);
		bugcheck_set_hook(bugcheck_record_hook);
		uint8_t *b0 = NULL;
		for (unsigned i = 0; i < live; i++) {
			uint8_t *q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x54);
			b0 = b0 ? b0 : q;
		}
		struct mirror_slab *sl = slab(b0);
		paddr_t pa = (uintptr_t)sl - (uintptr_t)arch_phys_to_virt(0);
		sl->nfree = (uint16_t)nb;
		uint64_t c0 = bugcheck_last.count;
		uint64_t released = pool_trim();
		bool good = released == 0 && !phys_is_free(pa, 1) && bugcheck_last.count == c0 + 1 &&
			    bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER && bugcheck_last.p[1] == (uintptr_t)sl;
		if (!good && wrong++ < 4)
			printf("# class %u, %u live blocks, free count set to %u: pool_trim released %llu, the page free: %d, "
			       "%llu bug checks\n", ci, live, nb, (unsigned long long)released, phys_is_free(pa, 1),
			       (unsigned long long)(bugcheck_last.count - c0));
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u trims of a slab with live blocks whose free count was set to its block count: the page "
	   "kept, 0x19 naming the slab (%u wrong)", cases, wrong);
}

struct loop_case {
	unsigned ci;
	struct mirror_slab *head;
	bool trim;
};

/* The call on a class whose avail list loops: 0 when it returned with one 0x19 0x03 naming the
 * head, nothing given back (trim) or NULL (allocation); 1 otherwise. */
static int loop_call(void *arg)
{
	struct loop_case *c = arg;
	uint64_t c0 = bugcheck_last.count;
	bool r = c->trim ? pool_trim() == 0 : ExAllocatePoolWithTag(NonPagedPool, class_sz[c->ci], 0x4c) == NULL;
	return !(r && bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
		 bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT && bugcheck_last.p[1] == (uintptr_t)c->head);
}

/*
 * A class's available list made a loop through its head by overwritten links (docs/contract.md's
 * 0x03 row: "a list link whose neighbour is no slab or does not link back"; a list head has no
 * previous slab): (a) one slab whose next and previous links both name itself, (b) two slabs whose
 * head's previous link names the second and the second's next link the head. Every link names a
 * slab that links back, and pool_slab_sound once checked a slab with a previous link no further
 * (not that it is no list's head), so pool_trim followed the list forever, and an allocation took
 * a block from the head (no 0x19). The call that reads the head raises one 0x19 0x03 naming it,
 * pool_trim returns 0 and the allocation NULL. Each call runs in a child
 * process with a 300 ms timer; generated over every class and both shapes.
 */
static void test_avail_list_loop(void)
{
	unsigned cases = 0, hung = 0, wrong = 0;
	for (unsigned t = 0; t < 2 * 2 * POOL_CLASSES; t++) {
		unsigned ci = t % POOL_CLASSES, nb = per_slab(ci);
		bool two = t / POOL_CLASSES % 2, trim = t / (2 * POOL_CLASSES);
		pool_test_machine(false);
		bugcheck_set_hook(bugcheck_record_hook);
		struct loop_case c = { ci, NULL, trim };
		uint8_t *first = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4c), *in2 = NULL;
		if (!two) {
			c.head = slab(first);
			c.head->next = c.head->prev = c.head;
		} else {
			for (unsigned i = 1; i < 2 * nb; i++) {
				uint8_t *q = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x4c);
				in2 = i == nb ? q : in2;
			}
			struct mirror_slab *s1 = slab(first), *s2 = slab(in2);
			ExFreePool(first);   /* s1 to the avail list */
			ExFreePool(in2);     /* s2 to the avail list, in front: s2 -> s1 */
			c.head = s2;
			s2->prev = s1;
			s1->next = s2;
		}
		struct tap_child ch = { .timer_ms = 300 };   /* a hang ends at SIGALRM */
		int r = tap_child_code(tap_child(&ch, loop_call, &c));   /* its exit status, or 128 + its signal */
		cases++;
		hung += r == 128 + SIGALRM;
		if (r != 0 && wrong++ < 4)
			printf("# class %u, %s, %s: %s\n", ci, two ? "two slabs" : "one slab", trim ? "pool_trim" : "allocation",
			       r == 128 + SIGALRM ? "never returned" : "no 0x19 0x03 naming the head");
	}
	bugcheck_set_hook(NULL);
	ok(cases == 32 && wrong == 0,
	   "%u calls over an available list looping through its head: one 0x19 0x03 naming the head, pool_trim "
	   "returns 0, the allocation NULL (%u wrong, %u never returned)", cases, wrong, hung);
}

/* The pool's 64 buckets of large-block records, as mm/pool.c hashes a block's address. */
#define M_LARGE_BUCKETS 64u
static unsigned large_bucket(uintptr_t va) { return (unsigned)((va >> 12) % M_LARGE_BUCKETS); }

struct bucket_loop_case {
	uintptr_t va;          /* a page of the looping bucket that no record before the loop names */
	const void *again;     /* the record the walk reaches a second time first (0x05's P4) */
	int call;              /* 0 ExFreePool(va), 1 pool_block_info(va), 2 pool_check */
};

/* The call over a bucket whose list loops: 0 when it returned with the outcome the contract gives
 * (one 0x19 0x05 naming a record of the loop in P4; a query's false; pool_check's violations), 1
 * otherwise. */
static int bucket_loop_call(void *arg)
{
	struct bucket_loop_case *c = arg;
	uint64_t c0 = bugcheck_last.count;
	if (c->call == 1)
		return pool_block_info((void *)c->va, NULL, NULL) || bugcheck_last.count != c0;
	if (c->call == 2)
		return pool_check() == 0 || bugcheck_last.count != c0;
	ExFreePool((void *)c->va);
	return !(bugcheck_last.count == c0 + 1 && bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER &&
		 bugcheck_last.p[0] == POOL_BUGCHECK_HEADERS_DISAGREE && bugcheck_last.p[1] == 0 &&
		 bugcheck_last.p[2] == 0 && bugcheck_last.p[3] == (uintptr_t)c->again);
}

/*
 * A bucket of large-block records made a loop by one rewritten link (a record's next naming itself
 * or a record before it in its bucket's walk; every record's header sound, so pool_large_record_ok
 * passes them all): the free of a page of that bucket no record before the loop names, the query
 * pool_block_info of it and pool_check once walked the list forever. Generated over two buckets of
 * 5-6 records and every (from, to) pair, to <= from: the free raises one 0x19 0x05 naming the record reached again
 * (for Brent's walk, the loop's first record once the mark lies in the loop: the one the test
 * computes the same way), the query returns false, pool_check counts violations; each call in a
 * child process with a 300 ms timer. The link put back, the pool frees every block and is clean.
 */
static void test_large_bucket_loop(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	enum { NBIG = 256 };
	static uint8_t *big[NBIG];
	static struct mirror_large *rec[NBIG];
	unsigned cases = 0, wrong = 0, hung = 0, setup_bad = 0, buckets = 0;
	for (unsigned i = 0; i < NBIG; i++) {
		uint8_t *probe = ExAllocatePoolWithTag(NonPagedPool, 40, 0x52);   /* the records' class: its free head */
		ExFreePool(probe);
		big[i] = ExAllocatePoolWithTag(NonPagedPool, POOL_SMALL_MAX + 1, 0x52);
		rec[i] = (struct mirror_large *)probe;
		setup_bad += big[i] == NULL || rec[i]->va != (uintptr_t)big[i] || rec[i]->npages != 1;
	}
	for (unsigned b = 0; b < M_LARGE_BUCKETS && buckets < 2 && !setup_bad; b++) {
		struct mirror_large *walk[NBIG];
		unsigned n = 0;
		for (int i = NBIG - 1; i >= 0; i--)   /* newest first: the bucket's walk order */
			if (large_bucket((uintptr_t)big[i]) == b && n < 6)
				walk[n++] = rec[i];
		if (n < 5)   /* two buckets of 5 or 6 records (256 blocks in 64 buckets hold some) */
			continue;
		buckets++;
		for (unsigned from = 0; from < n; from++)
			for (unsigned to = 0; to <= from; to++) {
				struct mirror_large *save = walk[from]->next;
				walk[from]->next = walk[to];
				/* Brent's walk, as the pool runs it, to know the record it reaches again */
				const void *mark = NULL, *again = NULL;
				uint64_t steps = 0, power = 1;
				for (unsigned k = 0; !again; k = k == from ? to : k + 1) {
					if ((const void *)walk[k] == mark)
						again = walk[k];
					else if (++steps == power)
						mark = walk[k], power *= 2, steps = 0;
				}
				uintptr_t va = (uintptr_t)big[0] + (uintptr_t)PAGE_SIZE * M_LARGE_BUCKETS;
				for (bool named = true; named;) {   /* a page of bucket b no record up to from names */
					va += (uintptr_t)PAGE_SIZE * M_LARGE_BUCKETS;
					va += ((b - large_bucket(va)) % M_LARGE_BUCKETS) * (uintptr_t)PAGE_SIZE;
					named = false;
					for (unsigned k = 0; k <= from; k++)
						named |= walk[k]->va == va;
				}
				for (int call = 0; call < 3; call++) {
					struct bucket_loop_case c = { va, again, call };
					struct tap_child ch = { .timer_ms = 300, .quiet_out = true };
					int r = tap_child_code(tap_child(&ch, bucket_loop_call, &c));
					cases++;
					hung += r == 128 + SIGALRM;
					if (r != 0 && wrong++ < 4)
						printf("# bucket %u of %u records, record %u's link to record %u, %s: %s\n", b, n, from,
						       to, call == 0 ? "free" : call == 1 ? "pool_block_info" : "pool_check",
						       r == 128 + SIGALRM ? "never returned" : "not the contract's outcome");
				}
				walk[from]->next = save;
			}
	}
	uint64_t c0 = bugcheck_last.count;
	for (unsigned i = 0; i < NBIG && !setup_bad; i++)
		ExFreePoolWithTag(big[i], 0x52);
	bugcheck_set_hook(NULL);
	struct pool_stats st;
	pool_get_stats(&st);
	ok(setup_bad == 0 && buckets == 2 && cases >= 2 * 3 * 15 && wrong == 0,
	   "%u calls over a bucket of large records looping through a rewritten link: the free 0x19 0x05 naming "
	   "the record reached again, pool_block_info false, pool_check's violations (%u wrong, %u never returned)",
	   cases, wrong, hung);
	ok(bugcheck_last.count == c0 && st.large_live == 0 && pool_check() == 0,
	   "the links put back, every large block freed and the pool clean");
}

/*
 * The free of a large block whose record's slab an overrun from the page before reached (1..32
 * bytes, the magic's first byte changed), generated: the same 0x19 0x03 as the free of a small
 * block in that slab (test_slab_header): P2 the slab, P3 the magic read, P4 the one expected
 * (pool_slab_whole: "its magic checked first"), nothing changed. pool_release_sound once read the
 * slab's class before its magic: an overrun past 24 bytes that left a class >= 8 was reported as
 * P3 that class, P4 8.
 */
static void test_large_record_slab_overrun(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0, past_class = 0;
	for (unsigned t = 0; t < 64; t++) {
		uint8_t *big = ExAllocatePoolWithTag(NonPagedPool, POOL_SMALL_MAX + 1 + below(3 * PAGE_SIZE), 0x52);
		uint8_t *probe = ExAllocatePoolWithTag(NonPagedPool, 40, 0x52);   /* the records' class: its head */
		struct mirror_slab *rs = slab(probe);
		ExFreePool(probe);
		struct mirror_slab save = *rs;
		unsigned len = 1 + (unsigned)below(32);
		uint8_t *h = (uint8_t *)rs;
		for (unsigned j = 0; j < len; j++)
			h[j] = (uint8_t)(j ? below(256) : h[0] ^ (1 + below(255)));
		past_class += len > 24;
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(big);
		bool good = raised_slab(c0, rs, rs->magic, save.magic);
		*rs = save;
		if (!good && wrong++ < 4)
			printf("# an overrun of %u bytes: not P3 the magic read\n", len);
		if (bugcheck_last.count == c0 + 1)
			ExFreePool(big);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0 && past_class > 10,
	   "%u frees of a large block whose record's slab was overrun (%u past its class field): 0x19 0x03 with "
	   "the magic read and expected, as for a small block in it (%u wrong)", cases, past_class, wrong);
}

/*
 * docs/contract.md: a page-aligned address in a slab page (its header) is 0xC2 0x46; a slab page
 * whose magic was overwritten is told from foreign memory by the owner map, "not 0xC2 0x42". The
 * free of a slab page's first byte after an overrun changed its magic, generated over every class:
 * 0x46 or 0x19 0x03, never 0x42 ("memory the pool does not hold"), nothing changed.
 * pool_large_free once asked only pool_slab_of (the magic) before pool_misuse_outside's 0x42.
 */
static void test_slab_page_start_after_overrun(void)
{
	pool_test_machine(false);
	bugcheck_set_hook(bugcheck_record_hook);
	unsigned cases = 0, wrong = 0;
	for (unsigned t = 0; t < 40; t++) {
		unsigned ci = t % POOL_CLASSES;
		uint8_t *b = ExAllocatePoolWithTag(NonPagedPool, class_sz[ci], 0x53);
		struct mirror_slab *sl = slab(b), save = *sl;
		unsigned len = 1 + (unsigned)below(32);
		uint8_t *h = (uint8_t *)sl;
		for (unsigned j = 0; j < len; j++)
			h[j] = (uint8_t)(j ? below(256) : h[0] ^ (1 + below(255)));
		pool_get_stats(&snap0);
		uint64_t c0 = bugcheck_last.count;
		ExFreePool(sl);
		struct pool_stats st;
		pool_get_stats(&st);
		bool one = bugcheck_last.count == c0 + 1 && memcmp(&st, &snap0, sizeof(st)) == 0;
		bool as46 = bugcheck_last.code == BUGCHECK_BAD_POOL_CALLER && bugcheck_last.p[0] == POOL_BUGCHECK_BAD_ADDRESS;
		bool as03 = bugcheck_last.code == BUGCHECK_BAD_POOL_HEADER && bugcheck_last.p[0] == POOL_BUGCHECK_SLAB_CORRUPT &&
			    bugcheck_last.p[1] == (uintptr_t)sl;
		*sl = save;
		if (!(one && (as46 || as03)) && wrong++ < 4)
			printf("# class %u, overrun of %u bytes: the free of the slab page's start raised 0x%x P1 0x%llx\n", ci,
			       len, bugcheck_last.code, (unsigned long long)bugcheck_last.p[0]);
		ExFreePool(b);
		cases++;
	}
	bugcheck_set_hook(NULL);
	ok(wrong == 0, "%u frees of a slab page's first byte after an overrun reached its magic: 0x46 or 0x19 0x03, "
	   "not 0x42 (%u wrong)", cases, wrong);
}


int main(void)
{
	test_model();
	test_refusals();
	test_free_after_pages_lost();
	test_trim_after_slab_lost();
	test_tag_totals();
	test_misuse();
	test_double_free_long_ago();
	test_check();
	test_header_corrupt();
	test_header_corrupt_large_record();
	test_dump();
	test_state_overrun();
	test_slab_header();
	test_untracked_grown();
	test_grown_size_found_by_its_tag_later();
	test_free_count_other_list_not_head();
	test_trim_free_count_other_list_not_head();
	test_trim_releases_live_slab();
	test_avail_list_loop();
	test_large_bucket_loop();
	test_large_record_slab_overrun();
	test_slab_page_start_after_overrun();
	host_machine_destroy();
	return tap_done();
}
