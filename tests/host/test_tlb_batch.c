/*
 * Host tests of the TLB batch (include/tlb_batch.h) on the fake machine: generated sequences of
 * add-page, add-range, add-all and flush against a model of the policy (each page named once per
 * add, page aligned; more than TLB_BATCH_PAGES pages, or add-all, is one flush of everything; an
 * empty batch reaches no CPU); the threshold at its edge; and the fake machine's record of a flush
 * issued with interrupts disabled (a lock held), which the other tests rely on; page counts of 0,
 * exactly the room left, one more and huge ones (UINT64_MAX, spans wrapping past 2^64) at every fill;
 * ranges ending at the top of the address space.
 */
#include <string.h>
#include "tap.h"
#include "fake_arch.h"
#include "tlb_batch.h"
#include "test_rng.h"

static uint64_t rng = 0x13198A2E03707344ULL;
static uint64_t draw(uint64_t n)
{
	uint64_t x = test_rng_next(&rng);
	return n ? x % n : x;
}

/* The model: pages named so far, or everything. */
static struct {
	bool all;
	size_t n;
	vaddr_t va[TLB_BATCH_PAGES];
} model;

static void model_add(vaddr_t va)
{
	if (model.all)
		return;
	if (model.n == TLB_BATCH_PAGES) {
		model.all = true;
		return;
	}
	model.va[model.n++] = va & ~PAGE_MASK;
}

/* Checks the last flush logged against the model (or that none was, for an empty model). */
static bool model_matches(uint64_t flushes_before)
{
	if (!model.all && model.n == 0)
		return fake_tlb.flushes == flushes_before;
	if (fake_tlb.flushes != flushes_before + 1)
		return false;
	if (model.all)
		return fake_tlb.ev[flushes_before].all;
	return fake_tlb_flushed_pages(flushes_before, model.va, model.n);
}

/* Property: generated sequences of adds and flushes carry out exactly the model's batches. */
static void test_generated(void)
{
	struct tlb_batch b;
	tlb_batch_init(&b);
	fake_tlb_reset();
	uint64_t wrong = 0, flushes = 0, alls = 0, empties = 0;
	for (int k = 0; k < FAKE_TLB_LOG - 1; k++) {
		int adds = (int)draw(draw(2) ? 8 : 40);
		for (int a = 0; a < adds; a++) {
			vaddr_t va = 0xffffc00000000000ULL + draw(1 << 30);
			switch (draw(16)) {
			case 0:
				tlb_batch_add_all(&b);
				model.all = true;
				break;
			case 1: case 2: case 3: case 4: {
				uint64_t n = draw(draw(4) ? 6 : 2 * TLB_BATCH_PAGES);
				va &= ~PAGE_MASK;
				tlb_batch_add_range(&b, va, n);
				for (uint64_t i = 0; i < n; i++)
					model_add(va + i * PAGE_SIZE);
				break;
			}
			default:
				tlb_batch_add_page(&b, va);   /* any address in the page */
				model_add(va);
			}
		}
		wrong += tlb_batch_empty(&b) != (!model.all && model.n == 0);
		uint64_t before = fake_tlb.flushes;
		tlb_batch_flush(&b);
		wrong += !model_matches(before) || !tlb_batch_empty(&b);
		flushes += fake_tlb.flushes - before;
		alls += model.all;
		empties += !model.all && model.n == 0;
		model.all = false;
		model.n = 0;
	}
	is(wrong, 0, "%d generated batches carried out as the policy says", FAKE_TLB_LOG - 1);
	ok(alls > 50 && empties > 50 && flushes - alls > 300, "generated: %llu flushes of everything, %llu empty batches",
	   (unsigned long long)alls, (unsigned long long)empties);
	is(fake_tlb.irqs_off, 0, "no flush with interrupts disabled");
}

/* The threshold at its edge, a range of 0 pages, and a flush under a lock as the fake records it. */
static void test_edges(void)
{
	struct tlb_batch b;
	tlb_batch_init(&b);
	fake_tlb_reset();
	tlb_batch_add_range(&b, 0x1000, TLB_BATCH_PAGES);
	tlb_batch_flush(&b);
	ok(fake_tlb.flushes == 1 && fake_tlb_flushed_range(0, 0x1000, TLB_BATCH_PAGES), "%u pages: one by one", TLB_BATCH_PAGES);
	tlb_batch_add_range(&b, 0x1000, TLB_BATCH_PAGES);
	tlb_batch_add_page(&b, 0x900000);
	tlb_batch_flush(&b);
	ok(fake_tlb.flushes == 2 && fake_tlb.ev[1].all, "one more page: everything");
	tlb_batch_add_range(&b, 0x1000, TLB_BATCH_PAGES + 1);
	tlb_batch_flush(&b);
	ok(fake_tlb.flushes == 3 && fake_tlb.ev[2].all, "a range of %u pages: everything", TLB_BATCH_PAGES + 1);
	tlb_batch_add_range(&b, 0x1000, 0);
	ok(tlb_batch_empty(&b), "a range of no pages names nothing");
	tlb_batch_flush(&b);
	is(fake_tlb.flushes, 3, "an empty batch reaches no CPU");
	tlb_batch_add_page(&b, 0x5fff);
	uint64_t f = arch_irq_save();
	tlb_batch_flush(&b);
	arch_irq_restore(f);
	ok(fake_tlb.flushes == 4 && fake_tlb.irqs_off == 1 && fake_tlb.ev[3].irqs_off && fake_tlb_flushed_range(3, 0x5000, 1),
	   "a flush with interrupts disabled is recorded as one, with its page");
}

/* A batch holding n pages (0..TLB_BATCH_PAGES) from base, page by page. */
static void fill_pages(struct tlb_batch *b, vaddr_t base, unsigned n)
{
	tlb_batch_init_from(b, TLB_FROM_REGION_UNMAP);
	for (unsigned i = 0; i < n; i++)
		tlb_batch_add_page(b, base + (vaddr_t)i * PAGE_SIZE);
}

/*
 * Bad page counts at every fill of the batch (0 .. TLB_BATCH_PAGES pages named already): a range of
 * 0 pages names nothing, even on a full batch (it stays page by page); a range that fills the batch
 * exactly stays page by page; every count above what is left (one more page, 2^32, 2^52, 2^63,
 * UINT64_MAX and counts whose page span wraps past 2^64) is one flush of everything, at once, and
 * the flush keeps the batch's origin.
 */
static void test_bad_counts_at_every_fill(void)
{
	static const uint64_t huge[] = { 1ULL << 32, 1ULL << 52, 1ULL << 63, UINT64_MAX, UINT64_MAX - 31,
					 (UINT64_MAX >> PAGE_SHIFT) + 1, (UINT64_MAX >> PAGE_SHIFT) };
	const vaddr_t base = 0xffffc00000200000ULL;
	struct tlb_batch b;
	uint64_t wrong = 0, cases = 0;
	fake_tlb_reset();
	for (unsigned n = 0; n <= TLB_BATCH_PAGES; n++) {
		/* 0 pages: nothing named; flushing then issues exactly the n pages (or nothing) */
		fill_pages(&b, base, n);
		tlb_batch_add_range(&b, base + 0x10000000ULL, 0);
		uint64_t before = fake_tlb.flushes;
		wrong += b.all || b.n != n;
		tlb_batch_flush(&b);
		wrong += n == 0 ? fake_tlb.flushes != before
				: fake_tlb.flushes != before + 1 || !fake_tlb_flushed_range(before, base, n);
		cases++;
		/* exactly what is left: page by page, the range's pages after the n */
		fill_pages(&b, base, n);
		tlb_batch_add_range(&b, base + (vaddr_t)n * PAGE_SIZE, TLB_BATCH_PAGES - n);
		before = fake_tlb.flushes;
		tlb_batch_flush(&b);
		wrong += fake_tlb.flushes != before + 1 || !fake_tlb_flushed_range(before, base, TLB_BATCH_PAGES) ||
			 fake_tlb.ev[before].origin != TLB_FROM_REGION_UNMAP;
		cases++;
		/* one more than is left, and every huge count: everything, once, origin kept */
		for (size_t h = 0; h <= sizeof(huge) / sizeof(huge[0]); h++) {
			uint64_t count = h == 0 ? TLB_BATCH_PAGES - n + 1 : huge[h - 1];
			fill_pages(&b, base, n);
			tlb_batch_add_range(&b, base, count);
			wrong += !b.all || b.n != 0 || b.origin != TLB_FROM_REGION_UNMAP;
			tlb_batch_add_range(&b, base, 1);   /* a batch of everything stays one */
			tlb_batch_add_page(&b, base);
			before = fake_tlb.flushes;
			tlb_batch_flush(&b);
			wrong += fake_tlb.flushes != before + 1 || !fake_tlb.ev[before].all ||
				 fake_tlb.ev[before].origin != TLB_FROM_REGION_UNMAP || !tlb_batch_empty(&b) ||
				 b.origin != TLB_FROM_REGION_UNMAP;
			tlb_batch_flush(&b);   /* emptied: a second flush reaches no CPU */
			wrong += fake_tlb.flushes != before + 1;
			cases++;
		}
	}
	is(wrong, 0, "%llu batches with page counts of 0, exactly the room left, one more and huge ones, at every fill",
	   (unsigned long long)cases);
}

/*
 * Ranges at the top of the address space: k pages (1 .. TLB_BATCH_PAGES) ending at 2^64 exactly name
 * those k pages, the last one 0xfffffffffffff000, and none of them wraps to a low address; a range
 * of k pages plus one more than the room left is everything. Each from every fill of the batch.
 */
static void test_ranges_at_the_top(void)
{
	struct tlb_batch b;
	uint64_t wrong = 0, cases = 0;
	vaddr_t want[TLB_BATCH_PAGES];
	fake_tlb_reset();
	for (unsigned k = 1; k <= TLB_BATCH_PAGES; k++) {
		vaddr_t va = 0 - (vaddr_t)k * PAGE_SIZE;
		for (unsigned n = 0; n + k <= TLB_BATCH_PAGES; n += 1 + (k & 3)) {
			fill_pages(&b, 0xffff800000000000ULL, n);
			tlb_batch_add_range(&b, va, k);
			for (unsigned i = 0; i < n; i++)
				want[i] = 0xffff800000000000ULL + (vaddr_t)i * PAGE_SIZE;
			for (unsigned i = 0; i < k; i++)
				want[n + i] = va + (vaddr_t)i * PAGE_SIZE;
			bool top = n + k > 0 && b.va[n + k - 1] == 0xfffffffffffff000ULL;
			for (unsigned i = 0; i < n + k; i++)
				top &= b.va[i] >= 0xffff800000000000ULL;
			uint64_t before = fake_tlb.flushes;
			tlb_batch_flush(&b);
			wrong += !top || fake_tlb.flushes != before + 1 || !fake_tlb_flushed_pages(before, want, n + k);
			cases++;
		}
		fill_pages(&b, 0xffff800000000000ULL, TLB_BATCH_PAGES - k + 1);
		tlb_batch_add_range(&b, va, k);
		wrong += !b.all;
		tlb_batch_flush(&b);
		cases++;
	}
	is(wrong, 0, "%llu ranges ending at 2^64: exactly their pages, none wrapped, or everything past the room", (unsigned long long)cases);
}

int main(void)
{
	fake_arch_init();
	test_generated();
	test_edges();
	test_bad_counts_at_every_fill();
	test_ranges_at_the_top();
	return tap_done();
}
