/*
 * Host tests of the page-table module against the fake machine: mappings, splits, refusals, the
 * checker, and the TLB batches each operation issues (recorded per flush by the fake machine,
 * compared as sets), in examples and over generated layouts and ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "capture.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pt.h"
#include "test_rng.h"

static struct machine_map m;
static struct pt pt;

#define VA0 0xffffc00000000000ULL

/* The generated cases' draws: one stream for the whole program, so each case is found again. */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

static void setup(uint64_t ram_pages)
{
	machine_map_init(&m, 48);
	machine_map_add(&m, EFI_CONVENTIONAL, 0x100000, ram_pages, 0);
	phys_init(m.buf, machine_map_size(&m), m.desc_size);
}

static void test_round_trips(void)
{
	setup(65536 * 4);   /* 1 GiB from 1 MiB */
	is(pt_create(&pt, PT_FEAT_ALL), PT_OK, "create");
	struct { uint64_t size; unsigned sizes; uint64_t want_page; const char *what; } cases[] = {
		{ PAGE_SIZE, PT_SIZE_4K, PAGE_SIZE, "4 KiB" },
		{ 5 * PAGE_SIZE, PT_SIZE_4K | PT_SIZE_2M, PAGE_SIZE, "5 pages stay 4 KiB" },
		{ SIZE_2M, PT_SIZE_4K | PT_SIZE_2M, SIZE_2M, "2 MiB" },
		{ SIZE_1G, PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G, SIZE_1G, "1 GiB" },
		{ SIZE_1G, PT_SIZE_4K | PT_SIZE_2M, SIZE_2M, "1 GiB without 1G pages uses 2 MiB" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		vaddr_t va = VA0 + 4 * SIZE_1G * (i + 1);
		paddr_t pa = 0x40000000ULL * (i + 1);
		fake_tlb_reset();
		is(pt_map(&pt, va, pa, cases[i].size, PT_PROT_W, cases[i].sizes), PT_OK, "map %s", cases[i].what);
		is(fake_tlb.flushes, 0, "map %s flushes nothing", cases[i].what);
		paddr_t got; uint64_t pte, sz;
		ok(pt_query(&pt, va + cases[i].size - 8, &got, &pte, &sz) && got == pa + cases[i].size - 8,
		   "query last byte of %s", cases[i].what);
		is(sz, cases[i].want_page, "page size for %s", cases[i].what);
		ok((pte & X86_PTE_NX) && (pte & X86_PTE_W) && !(pte & X86_PTE_U), "NX, W, supervisor for %s", cases[i].what);
		is(pt_map(&pt, va, pa, PAGE_SIZE, 0, PT_SIZE_4K), PT_EEXIST, "double map of %s refused", cases[i].what);
		fake_tlb_reset();
		is(pt_unmap(&pt, va, cases[i].size), PT_OK, "unmap %s", cases[i].what);
		uint64_t leaves = cases[i].size / cases[i].want_page;
		vaddr_t want[TLB_BATCH_PAGES];
		for (uint64_t k = 0; k < leaves && k < TLB_BATCH_PAGES; k++)
			want[k] = va + k * cases[i].want_page;
		ok(fake_tlb.flushes == 1 && !fake_tlb.irqs_off &&
		   (leaves > TLB_BATCH_PAGES ? fake_tlb.ev[0].all : fake_tlb_flushed_pages(0, want, leaves)),
		   "unmap of %s: one flush after the lock, one entry per leaf (%llu), everything above %u",
		   cases[i].what, (unsigned long long)leaves, TLB_BATCH_PAGES);
		ok(!pt_query(&pt, va, NULL, NULL, NULL) && !pt_query(&pt, va + cases[i].size - 1, NULL, NULL, NULL),
		   "%s gone", cases[i].what);
	}
	is(pt_check(&pt), 0, "checker clean");
}

static void test_split_and_protect(void)
{
	vaddr_t va = VA0 + SIZE_1G;
	is(pt_map(&pt, va, 0x40000000, SIZE_2M, PT_PROT_W | PT_PROT_CACHE(PT_CACHE_WC), PT_SIZE_2M), PT_OK, "map 2M WC");
	uint64_t pte, sz;
	pt_query(&pt, va, NULL, &pte, &sz);
	ok((pte & X86_PTE_PAT_LARGE) && !(pte & X86_PTE_PCD) && !(pte & X86_PTE_PWT), "WC in a large page uses bit 12");
	fake_tlb_reset();
	is(pt_protect(&pt, va + 3 * PAGE_SIZE, PAGE_SIZE, 0), PT_OK, "protect one page inside the 2M page");
	ok(fake_tlb.flushes == 2 && !fake_tlb.irqs_off && fake_tlb_flushed_pages(0, &va, 1) &&
	   fake_tlb_flushed_range(1, va + 3 * PAGE_SIZE, 1),
	   "the split 2M leaf is flushed before its piece changes, then the piece, both after the lock");
	pt_query(&pt, va + 3 * PAGE_SIZE, NULL, &pte, &sz);
	ok(sz == PAGE_SIZE && !(pte & X86_PTE_W), "split page read-only");
	ok(!(pte & X86_PTE_PAT_4K), "protect to WB cleared the PAT bit");
	pt_query(&pt, va + 4 * PAGE_SIZE, NULL, &pte, &sz);
	ok(sz == PAGE_SIZE && (pte & X86_PTE_W) && (pte & X86_PTE_PAT_4K), "neighbour keeps W and WC (PAT moved to bit 7)");
	paddr_t got;
	ok(pt_query(&pt, va + 511 * PAGE_SIZE, &got, NULL, NULL) && got == 0x40000000 + 511 * PAGE_SIZE, "split keeps addresses");
	is(pt_unmap(&pt, va, SIZE_2M), PT_OK, "unmap");
	unsigned caches[] = { PT_CACHE_WB, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC, PT_CACHE_WC };
	for (unsigned i = 0; i < 5; i++) {
		pt_map(&pt, va, 0x1000, PAGE_SIZE, PT_PROT_CACHE(caches[i]), PT_SIZE_4K);
		pt_query(&pt, va, NULL, &pte, NULL);
		unsigned idx = (unsigned)!!(pte & X86_PTE_PWT) | (!!(pte & X86_PTE_PCD) << 1) | (!!(pte & X86_PTE_PAT_4K) << 2);
		is(idx, caches[i], "cache type %u encodes PAT index %u", caches[i], caches[i]);
		pt_unmap(&pt, va, PAGE_SIZE);
	}
	is(pt_check(&pt), 0, "checker clean");
}

static void test_bad_input_and_checker(void)
{
	is(pt_map(&pt, VA0 + 1, 0, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "unaligned va");
	is(pt_map(&pt, VA0, 1, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "unaligned pa");
	is(pt_map(&pt, VA0, 0, 0, 0, PT_SIZE_4K), PT_EINVAL, "zero size");
	is(pt_map(&pt, 0xfffffffffffff000ULL, 0, 2 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "wraps at the top");
	is(pt_map(&pt, 0x00007ffffffff000ULL, 0, 2 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "crosses the canonical hole");
	is(pt_map(&pt, 0x0000900000000000ULL, 0, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "non-canonical");
	is(pt_map(&pt, VA0, 0xfffffffffffff000ULL, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "pa beyond 52 bits");
	/* Partial overlap: nothing of the new range may be mapped. */
	pt_map(&pt, VA0 + 8 * PAGE_SIZE, 0x5000, PAGE_SIZE, 0, PT_SIZE_4K);
	is(pt_map(&pt, 0xfffffffffffff000ULL, 0, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "the last page (its end wraps to 0)");
	is(pt_map(&pt, VA0, 0x9000, 16 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EEXIST, "overlap refused");
	ok(!pt_query(&pt, VA0, NULL, NULL, NULL), "refused map changed nothing");
	pt_unmap(&pt, VA0 + 8 * PAGE_SIZE, PAGE_SIZE);
	/* The checker sees a writable+executable page and a user page. */
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, PT_PROT_W | PT_PROT_X, PT_SIZE_4K);
	is(pt_check(&pt), 1, "checker flags W+X");
	pt_unmap(&pt, VA0, PAGE_SIZE);
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, 0, PT_SIZE_4K);
	volatile uint64_t *slot = pt_pte_slot(&pt, VA0);
	*slot |= X86_PTE_U;
	is(pt_check(&pt), 1, "checker flags a user page");
	*slot &= ~X86_PTE_U;
	is(pt_check(&pt), 0, "clean again");
	pt_unmap(&pt, VA0, PAGE_SIZE);
}

static void test_prealloc_and_enomem(void)
{
	setup(64);   /* 256 KiB of RAM: room for few tables */
	pt_create(&pt, PT_FEAT_NX | PT_FEAT_MEMTYPES);
	is(pt_prealloc(&pt, VA0, 4 * SIZE_2M), PT_OK, "prealloc 8 MiB of tables");
	uint64_t before = pt.table_pages;
	ok(pt_pte_slot(&pt, VA0 + 4 * SIZE_2M - PAGE_SIZE) != NULL, "last slot exists");
	for (int i = 0; i < 16; i++)
		pt_map(&pt, VA0 + (uint64_t)i * PAGE_SIZE, 0x100000, PAGE_SIZE, 0, PT_SIZE_4K);
	is(pt.table_pages, before, "maps inside the preallocated range allocate no tables");
	pt_unmap(&pt, VA0, 16 * PAGE_SIZE);
	/* Exhaust memory and ask for a map far away that needs new tables. */
	while (phys_alloc(1, 0, UINT64_MAX))
		;
	is(pt_map(&pt, VA0 + 100 * SIZE_1G, 0x100000, PAGE_SIZE, 0, PT_SIZE_4K), PT_ENOMEM, "out of table memory reported");
	ok(!pt_query(&pt, VA0 + 100 * SIZE_1G, NULL, NULL, NULL), "nothing mapped after ENOMEM");
	/* A map that fails half-way clears what it wrote: those pages were present, so they are flushed. */
	vaddr_t va = VA0 + 4 * SIZE_2M - 2 * PAGE_SIZE;
	fake_tlb_reset();
	is(pt_map(&pt, va, 0x100000, 4 * PAGE_SIZE, 0, PT_SIZE_4K), PT_ENOMEM, "map running out of tables half-way");
	ok(!pt_query(&pt, va, NULL, NULL, NULL) && !pt_query(&pt, va + PAGE_SIZE, NULL, NULL, NULL), "its first pages are cleared");
	ok(fake_tlb.flushes == 1 && !fake_tlb.irqs_off && fake_tlb_flushed_range(0, va, 2),
	   "and flushed, once, after the lock");
}

/* The tables a range's addresses of granule g fall in: one per distinct g-sized block. */
static uint64_t blocks(vaddr_t va, vaddr_t end, uint64_t g) { return (end - 1) / g - va / g + 1; }

/*
 * Property: over generated ranges (starts near a 1 GiB boundary, ends on a 2 MiB boundary or not),
 * pt_prealloc on a fresh tree creates exactly the tables the range's pages need (one level-1 table
 * per 2 MiB span touched, one level-2 per GiB, one level-3 per 512 GiB): nothing for the span after
 * the range, and the range's last page has its slot.
 */
static void test_prealloc_generated(void)
{
	unsigned wrong = 0, aligned_ends = 0;
	for (unsigned k = 0; k < 40; k++) {
		setup(4096);
		pt_create(&pt, PT_FEAT_ALL);
		vaddr_t va = VA0 + SIZE_1G - 3 * SIZE_2M + draw(6 * 512) * PAGE_SIZE;
		vaddr_t end = va + (1 + draw(4 * 512)) * PAGE_SIZE;
		if (k % 2)
			end = ALIGN_UP(end, SIZE_2M);
		aligned_ends += end % SIZE_2M == 0;
		uint64_t want = 1 + blocks(va, end, 512 * SIZE_1G) + blocks(va, end, SIZE_1G) + blocks(va, end, SIZE_2M);
		bool good = pt_prealloc(&pt, va, end - va) == PT_OK && pt.table_pages == want &&
			    pt_pte_slot(&pt, end - PAGE_SIZE) != NULL && pt_pte_slot(&pt, ALIGN_UP(end, SIZE_2M)) == NULL &&
			    pt_check(&pt) == 0;
		if (!good && wrong++ < 5)
			printf("# prealloc [0x%llx, 0x%llx): %llu table pages, want %llu\n", (unsigned long long)va,
			       (unsigned long long)end, (unsigned long long)pt.table_pages, (unsigned long long)want);
	}
	ok(wrong == 0 && aligned_ends >= 20, "pt_prealloc over 40 ranges (%u ending on a 2 MiB boundary): exactly the tables the range needs",
	   aligned_ends);
}

/* The last page below the canonical hole, the first above it and the last 2 MiB below it (a 2 MiB
 * leaf) are mapped, protected, unmapped and preallocated like any other; one page more is refused. */
static void test_canonical_edges(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	const vaddr_t hole = 0x0000800000000000ULL, upper = 0xffff800000000000ULL;
	/* the 2 MiB first: the last page's map after it finds the level-1 table its prealloc made */
	const vaddr_t vas[3] = { hole - SIZE_2M, hole - PAGE_SIZE, upper };
	const uint64_t sizes[3] = { SIZE_2M, PAGE_SIZE, PAGE_SIZE };
	unsigned wrong = 0;
	for (unsigned i = 0; i < 3; i++) {
		vaddr_t va = vas[i];
		uint64_t size = sizes[i], e, sz;
		paddr_t pa;
		bool good = pt_map(&pt, va, SIZE_2M, size, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M) == PT_OK &&
			    pt_query(&pt, va + size - 8, &pa, &e, &sz) && pa == SIZE_2M + size - 8 && sz == size &&
			    (e & X86_PTE_W) && pt_protect(&pt, va, size, 0) == PT_OK && pt_query(&pt, va, NULL, &e, NULL) &&
			    !(e & X86_PTE_W) && pt_unmap(&pt, va, size) == PT_OK && !pt_query(&pt, va, NULL, NULL, NULL) &&
			    pt_prealloc(&pt, va, size) == PT_OK && pt_pte_slot(&pt, va + size - PAGE_SIZE) != NULL;
		if (!good && wrong++ < 5)
			printf("# [0x%llx, +0x%llx) handled wrongly\n", (unsigned long long)va, (unsigned long long)size);
	}
	ok(wrong == 0, "the last page and 2 MiB below the canonical hole, the first page above it: map, protect, unmap");
	ok(pt_map(&pt, hole - PAGE_SIZE, 0x5000, 2 * PAGE_SIZE, 0, PT_SIZE_4K) == PT_EINVAL &&
	   pt_map(&pt, upper - PAGE_SIZE, 0x5000, 2 * PAGE_SIZE, 0, PT_SIZE_4K) == PT_EINVAL &&
	   pt_prealloc(&pt, hole - PAGE_SIZE, 2 * PAGE_SIZE) == PT_EINVAL && pt_check(&pt) == 0,
	   "a page more, into the hole from either side, is refused");
}

/* pt_span_tables's callback: counts and records the tables created. */
struct span_log { unsigned n; vaddr_t va[8]; paddr_t table[8]; volatile pte_t *pde[8]; };
static void span_log_cb(void *arg, vaddr_t va, paddr_t table, volatile pte_t *pde)
{
	struct span_log *l = arg;
	if (l->n < 8) {
		l->va[l->n] = va;
		l->table[l->n] = table;
		l->pde[l->n] = pde;
	}
	l->n++;
}

/* The tables pt_span_tables creates are empty: no entry of a reported level-1 table is non-zero
 * (a page it takes must lose what it held while it waited, in entry 0). */
static bool span_tables_empty(const struct span_log *l)
{
	for (unsigned j = 0; j < l->n && j < 8; j++) {
		volatile pte_t *t = arch_phys_to_virt(l->table[j]);
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (arch_pte_read(&t[i]) != 0)
				return false;
	}
	return true;
}

/* The system PTE region's tables on demand: each span's level-1 table and the tables above it, one
 * page each, all or nothing; spans that have one are left alone; refusals change nothing. */
static void test_span_tables(void)
{
	struct span_log log = { 0 };
	struct phys_stats st;
	setup(256);   /* 1 MiB of RAM */
	pt_create(&pt, PT_FEAT_ALL);
	uint64_t t0 = pt.table_pages;
	fake_tlb_reset();
	is(pt_span_tables(&pt, VA0 + SIZE_1G - SIZE_2M, 3, span_log_cb, &log), PT_OK, "tables for 3 spans across a GiB");
	is(log.n, 3, "three level-1 tables reported");
	ok(span_tables_empty(&log), "every entry of the three new tables is zero");
	is(pt.table_pages - t0, 3 + 2 + 1, "3 level-1 tables, 2 level-2 tables and 1 level-3 table counted");
	is(fake_tlb.flushes, 0, "filling not-present entries flushes nothing");
	for (unsigned j = 0; j < 3 && j < log.n; j++) {
		ok(log.va[j] == VA0 + SIZE_1G - SIZE_2M + j * SIZE_2M, "span %u reported in order", j);
		ok(pt_pte_slot(&pt, log.va[j]) == (volatile uint64_t *)arch_phys_to_virt(log.table[j]),
		   "span %u: its table is the one reported", j);
		ok(arch_pte_frame(arch_pte_read(log.pde[j]), 2) == log.table[j], "span %u: its level-2 entry points to it", j);
	}
	log.n = 0;
	uint64_t t1 = pt.table_pages;
	is(pt_span_tables(&pt, VA0 + SIZE_1G - 2 * SIZE_2M, 5, span_log_cb, &log), PT_OK, "5 spans, 3 of them with tables");
	ok(log.n == 2 && pt.table_pages - t1 == 2, "only the 2 missing tables made (one span before, one after)");
	ok(span_tables_empty(&log), "and both are empty");
	/* a 2 MiB leaf where a table would go is left alone: the span has its entry */
	is(pt_map(&pt, VA0 + 4 * SIZE_1G, 0x200000, SIZE_2M, PT_PROT_W, PT_SIZE_2M), PT_OK, "a 2 MiB leaf");
	log.n = 0;
	is(pt_span_tables(&pt, VA0 + 4 * SIZE_1G, 2, span_log_cb, &log), PT_OK, "spans of a leaf and after it");
	ok(log.n == 1 && log.va[0] == VA0 + 4 * SIZE_1G + SIZE_2M, "only the span after the leaf gets a table");
	is(pt_map(&pt, VA0 + 8 * SIZE_1G, 0x40000000, SIZE_1G, PT_PROT_W, PT_SIZE_1G), PT_OK, "a 1 GiB leaf");
	phys_get_stats(&st);
	uint64_t free_before = st.free_pages, t2 = pt.table_pages;
	log.n = 0;
	is(pt_span_tables(&pt, VA0 + 8 * SIZE_1G - SIZE_2M, 2, span_log_cb, &log), PT_EEXIST, "a span under a 1 GiB leaf: PT_EEXIST");
	phys_get_stats(&st);
	ok(log.n == 0 && st.free_pages == free_before && pt.table_pages == t2, "nothing created, nothing allocated");
	ok(pt_pte_slot(&pt, VA0 + 8 * SIZE_1G - SIZE_2M) == NULL, "not even the span before the leaf");
	is(pt_span_tables(&pt, VA0 + PAGE_SIZE, 1, span_log_cb, &log), PT_EINVAL, "unaligned: PT_EINVAL");
	is(pt_span_tables(&pt, VA0, 0, span_log_cb, &log), PT_EINVAL, "no span: PT_EINVAL");
	/* spans no address range holds: into or inside the canonical hole, from either side, and the
	 * last spans of the address space (their end wraps to 0); a few spans each, so only the range's
	 * own bounds refuse them */
	const vaddr_t hole = 0x0000800000000000ULL, upper = 0xffff800000000000ULL;
	const struct { vaddr_t va; uint64_t n; } off[] = {
		{ hole - SIZE_2M, 2 }, { hole - 3 * SIZE_2M, 4 }, { hole, 1 }, { upper - SIZE_2M, 2 },
		{ upper - 2 * SIZE_2M, 1 }, { 0 - SIZE_2M, 1 }, { 0 - 2 * SIZE_2M, 2 }, { 0 - 2 * SIZE_2M, 3 },
	};
	unsigned refused = 0;
	phys_get_stats(&st);
	free_before = st.free_pages;
	t2 = pt.table_pages;
	log.n = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(off); i++)
		refused += pt_span_tables(&pt, off[i].va, off[i].n, span_log_cb, &log) == PT_EINVAL;
	phys_get_stats(&st);
	ok(refused == ARRAY_SIZE(off) && log.n == 0 && st.free_pages == free_before && pt.table_pages == t2 &&
	   pt_entry_slot(&pt, hole - SIZE_2M, 2) == NULL && pt_entry_slot(&pt, 0 - SIZE_2M, 2) == NULL,
	   "%u of %zu span ranges into the canonical hole or past the top refused: PT_EINVAL, nothing created",
	   refused, ARRAY_SIZE(off));
	/* all or nothing when memory runs out: take all but a few pages, then ask for more tables */
	phys_get_stats(&st);
	while (st.free_pages > 5 && phys_alloc(1, 0, UINT64_MAX))
		phys_get_stats(&st);
	free_before = st.free_pages;
	t2 = pt.table_pages;
	log.n = 0;
	is(pt_span_tables(&pt, VA0 + 16 * SIZE_1G, 8, span_log_cb, &log), PT_ENOMEM, "10 tables with 5 pages left: PT_ENOMEM");
	phys_get_stats(&st);
	ok(log.n == 0 && st.free_pages == free_before && pt.table_pages == t2, "all or nothing: no page kept, nothing counted");
	ok(pt_pte_slot(&pt, VA0 + 16 * SIZE_1G) == NULL && !pt_query(&pt, VA0 + 16 * SIZE_1G, NULL, NULL, NULL),
	   "no table installed");
	phys_get_stats(&st);
	is(pt_span_tables(&pt, VA0 + 16 * SIZE_1G, 2, span_log_cb, &log), PT_OK, "3 tables fit in 5 pages (%llu free)",
	   (unsigned long long)st.free_pages);
	is(pt_check(&pt), 0, "tree consistent");
}

/*
 * Splits at both ends of a range, through two levels: the 1 GiB leaf and both 2 MiB pieces the
 * range cuts are flushed first (one batch), then the four pages unmapped (the second); the rest
 * of the gigabyte still maps the same frames.
 */
static void test_split_both_ends(void)
{
	setup(65536);   /* 256 MiB */
	pt_create(&pt, PT_FEAT_ALL);
	vaddr_t b = VA0 + 64 * SIZE_1G;
	paddr_t pa = 7 * SIZE_1G;
	is(pt_map(&pt, b, pa, SIZE_1G, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G), PT_OK, "map a 1 GiB leaf");
	uint64_t tables = pt.table_pages;
	vaddr_t va = b + 5 * SIZE_2M + 510 * PAGE_SIZE;
	fake_tlb_reset();
	is(pt_unmap(&pt, va, 4 * PAGE_SIZE), PT_OK, "unmap 4 pages across a 2 MiB boundary inside it");
	vaddr_t splits[] = { b, b + 5 * SIZE_2M, b + 6 * SIZE_2M };
	ok(fake_tlb.flushes == 2 && !fake_tlb.irqs_off && fake_tlb_flushed_pages(0, splits, 3) &&
	   fake_tlb_flushed_range(1, va, 4), "first the three split leaves, then the four pages");
	is(pt.table_pages - tables, 3, "one table per split");
	uint64_t sz;
	paddr_t got;
	ok(pt_query(&pt, va - PAGE_SIZE, &got, NULL, &sz) && got == pa + (va - PAGE_SIZE - b) && sz == PAGE_SIZE,
	   "the page before is a 4 KiB piece with its frame");
	ok(pt_query(&pt, va + 4 * PAGE_SIZE, &got, NULL, &sz) && got == pa + (va + 4 * PAGE_SIZE - b) && sz == PAGE_SIZE,
	   "the page after too");
	ok(pt_query(&pt, b + 100 * SIZE_2M + 8, &got, NULL, &sz) && got == pa + 100 * SIZE_2M + 8 && sz == SIZE_2M,
	   "the rest of the gigabyte is 2 MiB pieces");
	bool gone = true;
	for (int k = 0; k < 4; k++)
		gone &= !pt_query(&pt, va + (uint64_t)k * PAGE_SIZE, NULL, NULL, NULL);
	ok(gone, "the four pages are unmapped");
	is(pt_check(&pt), 0, "checker clean");
}

/* Leaves exactly one free physical page. */
static void leave_one_page(void)
{
	paddr_t last = 0, p;
	while ((p = phys_alloc(1, 0, UINT64_MAX)))
		last = p;
	phys_free(last, 1);
}

/*
 * A split that finds no page changes no mapping: PT_ENOMEM, nothing unmapped or reprotected, and
 * only the splits that did happen are flushed.
 */
static void test_split_enomem(void)
{
	setup(4096);   /* 16 MiB */
	pt_create(&pt, PT_FEAT_ALL);
	vaddr_t b = VA0 + SIZE_1G;
	is(pt_map(&pt, b, SIZE_1G, SIZE_1G, PT_PROT_W, PT_SIZE_4K | PT_SIZE_2M | PT_SIZE_1G), PT_OK, "map a 1 GiB leaf");
	leave_one_page();
	fake_tlb_reset();
	is(pt_protect(&pt, b + 3 * PAGE_SIZE, PAGE_SIZE, 0), PT_ENOMEM, "protect needing two splits with one page: PT_ENOMEM");
	ok(fake_tlb.flushes == 1 && fake_tlb_flushed_pages(0, &b, 1), "the one split done is flushed");
	uint64_t e, sz;
	ok(pt_query(&pt, b + 3 * PAGE_SIZE, NULL, &e, &sz) && sz == SIZE_2M && (e & X86_PTE_W), "the page is unchanged");
	fake_tlb_reset();
	is(pt_unmap(&pt, b + 3 * PAGE_SIZE, PAGE_SIZE), PT_ENOMEM, "unmap of one page of a 2 MiB leaf without memory: PT_ENOMEM");
	ok(fake_tlb.flushes == 0, "nothing split, nothing flushed");
	ok(pt_query(&pt, b + 3 * PAGE_SIZE, NULL, NULL, &sz) && sz == SIZE_2M, "still mapped");
	is(pt_unmap(&pt, b, SIZE_2M), PT_OK, "a whole leaf needs no split");
	is(pt_check(&pt), 0, "checker clean");
}

/* True when prot is a protection pt_map and pt_protect accept: W, X, G and a memory type below
 * PT_CACHE_TYPES, nothing else (the contract, written out independently of pt.c). */
static bool prot_valid(unsigned prot)
{
	unsigned known = PT_PROT_W | PT_PROT_X | PT_PROT_G | PT_PROT_CACHE(7);
	return (prot & ~known) == 0 && PT_PROT_CACHE_OF(prot) < PT_CACHE_TYPES;
}

/*
 * Property: every protection of the low 11 bits and random 32-bit ones is accepted by pt_map and
 * pt_protect exactly when it is valid; a refused one changes nothing. Bad ranges given to
 * pt_protect are refused with the page untouched; physical addresses up to ARCH_PTE_MAX_PA map,
 * one page past it does not.
 */
static void test_prot_and_pa_bounds(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	vaddr_t va = VA0 + 2 * SIZE_1G;
	uint64_t r = 0x2545F4914F6CDD1DULL, cases = 0, wrong = 0, refused = 0;
	uint64_t e0, e;
	for (unsigned k = 0; k < 2048 + 256; k++, cases++) {
		unsigned prot = k < 2048 ? k : (unsigned)test_rng_next(&r);
		bool valid = prot_valid(prot);
		int want = valid ? PT_OK : PT_EINVAL;
		refused += !valid;
		bool good = pt_map(&pt, va, 0x5000, PAGE_SIZE, prot, PT_SIZE_4K) == want &&
			    pt_query(&pt, va, NULL, NULL, NULL) == valid;
		if (valid)
			good &= pt_unmap(&pt, va, PAGE_SIZE) == PT_OK;
		/* the same protection given to pt_protect over a mapped page */
		good &= pt_map(&pt, va, 0x6000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K) == PT_OK;
		pt_query(&pt, va, NULL, &e0, NULL);
		good &= pt_protect(&pt, va, PAGE_SIZE, prot) == want && pt_query(&pt, va, NULL, &e, NULL) &&
			(valid ? (e & X86_PTE_W) == ((prot & PT_PROT_W) ? X86_PTE_W : 0) : e == e0);
		good &= pt_unmap(&pt, va, PAGE_SIZE) == PT_OK;
		if (!good && wrong++ < 5)
			printf("# prot 0x%x (%s) handled wrongly\n", prot, valid ? "valid" : "invalid");
	}
	ok(wrong == 0 && refused > 1000, "%llu protections: pt_map and pt_protect accept exactly the valid ones (%llu refused)",
	   (unsigned long long)cases, (unsigned long long)refused);
	pt_map(&pt, va, 0x6000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	pt_query(&pt, va, NULL, &e0, NULL);
	fake_tlb_reset();
	ok(pt_protect(&pt, va + 8, PAGE_SIZE, 0) == PT_EINVAL && pt_protect(&pt, va, 0, 0) == PT_EINVAL &&
	   pt_protect(&pt, va, PAGE_SIZE + 8, 0) == PT_EINVAL &&
	   pt_protect(&pt, 0xfffffffffffff000ULL, 2 * PAGE_SIZE, 0) == PT_EINVAL &&
	   pt_protect(&pt, 0x0000900000000000ULL, PAGE_SIZE, 0) == PT_EINVAL,
	   "pt_protect refuses an unaligned start or size, no size, a wrap and a non-canonical address");
	ok(pt_query(&pt, va, NULL, &e, NULL) && e == e0 && fake_tlb.flushes == 0, "the page is untouched, nothing flushed");
	pt_unmap(&pt, va, PAGE_SIZE);
	paddr_t top = ARCH_PTE_MAX_PA + 1 - PAGE_SIZE, got;
	uint64_t sz;
	/* the CPU's width bounds a frame below the format's 52 bits: its last page maps, the next not */
	paddr_t wtop = (1ULL << arch_phys_addr_bits()) - PAGE_SIZE;
	is(pt_map(&pt, va, wtop + PAGE_SIZE, PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "the page at the CPU's width is refused");
	is(pt_map(&pt, va, wtop, 2 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "so is a range that reaches it");
	ok(!pt_query(&pt, va, NULL, NULL, NULL), "and nothing of them mapped");
	is(pt_map(&pt, va, wtop, PAGE_SIZE, 0, PT_SIZE_4K), PT_OK, "the last page below the CPU's width maps");
	pt_unmap(&pt, va, PAGE_SIZE);
	fake_arch_set_phys_bits(52);   /* a CPU of the format's whole width */
	is(pt_map(&pt, va, top, PAGE_SIZE, 0, PT_SIZE_4K), PT_OK, "the last physical page maps");
	ok(pt_query(&pt, va + 8, &got, NULL, NULL) && got == top + 8, "and translates");
	is(pt_map(&pt, va + PAGE_SIZE, top, 2 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EINVAL, "a page past ARCH_PTE_MAX_PA is refused");
	ok(!pt_query(&pt, va + PAGE_SIZE, NULL, NULL, NULL), "and nothing of it mapped");
	is(pt_map(&pt, va + SIZE_2M, ARCH_PTE_MAX_PA + 1 - SIZE_2M, SIZE_2M, 0, PT_SIZE_2M), PT_OK, "the last 2 MiB frame maps");
	ok(pt_query(&pt, va + SIZE_2M, &got, NULL, &sz) && got == ARCH_PTE_MAX_PA + 1 - SIZE_2M && sz == SIZE_2M, "as a 2 MiB leaf");
	pt_unmap(&pt, va, 2 * SIZE_2M);
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	is(pt_check(&pt), 0, "checker clean");
}

/*
 * Property: over generated offsets of va and pa (each 2 MiB aligned or not), sizes and allowed page
 * sizes, pt_map lays out exactly the greedy leaves: a 2 MiB leaf where it is allowed, va and pa are
 * both 2 MiB aligned there and 2 MiB remain, 4 KiB pages elsewhere; every page translates to its
 * frame, and nothing outside the range is mapped.
 */
static void test_generated_placement(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	uint64_t cases = 0, wrong = 0, large = 0, unaligned = 0, tabled = 0;
	for (int k = 0; k < 300; k++, cases++) {
		vaddr_t va = VA0 + 3 * SIZE_1G + draw(128) * 8 * SIZE_2M + (draw(2) ? draw(1024) * PAGE_SIZE : draw(2) * SIZE_2M);
		paddr_t pa = SIZE_1G + (draw(2) ? draw(1024) * PAGE_SIZE : draw(2) * SIZE_2M);
		uint64_t size = (1 + draw(draw(2) ? 2048 : 64)) * PAGE_SIZE;
		unsigned sizes = PT_SIZE_4K | (draw(4) ? PT_SIZE_2M : 0);
		vaddr_t end = va + size;
		unaligned += (sizes & PT_SIZE_2M) && IS_ALIGNED(va, SIZE_2M) != IS_ALIGNED(pa, SIZE_2M);
		/* a level-1 table left by an earlier map (tables are kept) takes the place of a 2 MiB leaf */
		bool table[4];
		for (int c = 0; c < 4; c++)
			table[c] = pt_pte_slot(&pt, ALIGN_DOWN(va, SIZE_2M) + (uint64_t)c * SIZE_2M) != NULL;
		bool good = pt_map(&pt, va, pa, size, PT_PROT_W, sizes) == PT_OK;
		for (vaddr_t v = va; good && v < end;) {
			paddr_t p = pa + (v - va), got;
			uint64_t sz;
			bool fits = (sizes & PT_SIZE_2M) && IS_ALIGNED(v, SIZE_2M) && IS_ALIGNED(p, SIZE_2M) && end - v >= SIZE_2M;
			bool big = fits && !table[(v - ALIGN_DOWN(va, SIZE_2M)) / SIZE_2M];
			tabled += fits && !big;
			uint64_t want = big ? SIZE_2M : PAGE_SIZE;
			good = pt_query(&pt, v, &got, NULL, &sz) && got == p && sz == want &&
			       pt_query(&pt, v + want - 8, &got, NULL, NULL) && got == p + want - 8;
			large += big;
			v += want;
		}
		good &= !pt_query(&pt, va - PAGE_SIZE, NULL, NULL, NULL) && !pt_query(&pt, end, NULL, NULL, NULL);
		good &= pt_unmap(&pt, va, size) == PT_OK;
		if (!good && wrong++ < 5)
			printf("# map [0x%llx, 0x%llx) to 0x%llx sizes %u laid out wrongly\n", (unsigned long long)va,
			       (unsigned long long)end, (unsigned long long)pa, sizes);
	}
	ok(wrong == 0 && large > 15 && unaligned > 50 && tabled > 5,
	   "%llu generated maps: greedy leaves, right frames (%llu 2 MiB leaves, %llu with one side unaligned, "
	   "%llu under a table)", (unsigned long long)cases, (unsigned long long)large, (unsigned long long)unaligned,
	   (unsigned long long)tabled);
	is(pt_check(&pt), 0, "checker clean");
}

/* Number of lines of buf that start with prefix. */
static unsigned count_lines(const char *buf, const char *prefix)
{
	unsigned n = 0;
	for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		n += strncmp(l, prefix, strlen(prefix)) == 0;
	return n;
}

/*
 * The checker's W^X rule needs PT_FEAT_NX and both W and X: an execute-only page under NX and a
 * writable page without NX are clean. It counts every violation and prints the first eight.
 */
static void test_checker_rules(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, PT_PROT_X, PT_SIZE_4K);
	pt_map(&pt, VA0 + PAGE_SIZE, 0x6000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	is(pt_check(&pt), 0, "with NX: an executable page and a writable page are clean");
	pt_create(&pt, PT_FEAT_1G | PT_FEAT_MEMTYPES);
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	pt_map(&pt, VA0 + PAGE_SIZE, 0x6000, PAGE_SIZE, 0, PT_SIZE_4K);
	is(pt_check(&pt), 0, "without NX (every page executable): a writable page is clean");
	pt_create(&pt, PT_FEAT_ALL);
	pt_map(&pt, VA0, 0x5000, 10 * PAGE_SIZE, PT_PROT_W | PT_PROT_X, PT_SIZE_4K);
	static char buf[8192];
	capture_begin();
	uint64_t v = pt_check(&pt);
	capture_end(buf, sizeof(buf));
	ok(v == 10 && count_lines(buf, "pt_check: ") == 8, "ten W+X pages: ten violations counted, eight printed (%llu, %u)",
	   (unsigned long long)v, count_lines(buf, "pt_check: "));
}

/*
 * pt_dump prints one line per run of leaves that are adjacent, map consecutive frames and share
 * protection and memory type; a gap, a frame jump or another protection starts a new line.
 */
static void test_dump(void)
{
	setup(4096);
	pt_create(&pt, PT_FEAT_ALL);
	vaddr_t b = VA0 + 5 * SIZE_1G;
	pt_map(&pt, b, 0x10000, 3 * PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
	pt_map(&pt, b + 3 * PAGE_SIZE, 0x13000, PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);   /* continues the run */
	pt_map(&pt, b + 4 * PAGE_SIZE, 0x14000, PAGE_SIZE, 0, PT_SIZE_4K);           /* next frame, read-only */
	pt_map(&pt, b + 5 * PAGE_SIZE, 0x50000, PAGE_SIZE, 0, PT_SIZE_4K);           /* frame jump */
	pt_map(&pt, b + 7 * PAGE_SIZE, 0x51000, PAGE_SIZE, 0, PT_SIZE_4K);           /* after a gap */
	pt_map(&pt, b + SIZE_2M, 0x200000, 2 * SIZE_2M, PT_PROT_W | PT_PROT_CACHE(PT_CACHE_WC), PT_SIZE_2M);
	struct { vaddr_t start, end; paddr_t pa; const char *perm; } want[] = {
		{ b, b + 4 * PAGE_SIZE, 0x10000, "rw-" },
		{ b + 4 * PAGE_SIZE, b + 5 * PAGE_SIZE, 0x14000, "r--" },
		{ b + 5 * PAGE_SIZE, b + 6 * PAGE_SIZE, 0x50000, "r--" },
		{ b + 7 * PAGE_SIZE, b + 8 * PAGE_SIZE, 0x51000, "r--" },
		{ b + SIZE_2M, b + 3 * SIZE_2M, 0x200000, "rw-" },
	};
	static char buf[8192];
	capture_begin();
	pt_dump(&pt);
	capture_end(buf, sizeof(buf));
	unsigned n = 0, right = 0;
	for (const char *l = strchr(buf, '\n'); l && l[1]; l = strchr(l + 1, '\n'), n++) {
		unsigned long long s, e, p;
		char perm[4], cache[8];
		if (n < ARRAY_SIZE(want) && sscanf(l + 1, " %llx-%llx -> %llx %3s %7s", &s, &e, &p, perm, cache) == 5 &&
		    s == want[n].start && e == want[n].end && p == want[n].pa && strcmp(perm, want[n].perm) == 0 &&
		    strcmp(cache, n == 4 ? "wc" : "wb") == 0)
			right++;
	}
	ok(n == ARRAY_SIZE(want) && right == n, "pt_dump: %u lines, %u as expected (runs split at a gap, a frame jump and a protection change)",
	   n, right);
	if (right != ARRAY_SIZE(want))
		printf("# dump was:\n%s", buf);
}

/*
 * A split writes its new table and nothing else: with one free page left, whose next frame is held
 * by the test and filled with a pattern, a split takes that page and the pattern next to it stays.
 */
static void test_split_writes_own_table(void)
{
	static paddr_t held[4096];
	setup(4096);   /* 16 MiB */
	pt_create(&pt, PT_FEAT_ALL);
	vaddr_t b = VA0 + SIZE_1G;
	is(pt_map(&pt, b, SIZE_1G, SIZE_2M, PT_PROT_W, PT_SIZE_2M), PT_OK, "map a 2 MiB leaf");
	size_t n, i = machine_hold_all(held, ARRAY_SIZE(held), &n);
	ok(i + 1 < n, "two consecutive frames held (%zu pages)", n);
	if (i + 1 >= n)
		return;
	volatile uint64_t *next = arch_phys_to_virt(held[i + 1]);
	for (unsigned w = 0; w < PAGE_SIZE / 8; w++)
		next[w] = 0x5A5A5A5A5A5A5A5AULL;
	phys_free(held[i], 1);
	is(pt_protect(&pt, b + 3 * PAGE_SIZE, PAGE_SIZE, 0), PT_OK, "protect one page: the split takes the free page");
	ok(pt_pte_slot(&pt, b) == (volatile uint64_t *)arch_phys_to_virt(held[i]), "the new table is that page");
	bool intact = true;
	for (unsigned w = 0; w < PAGE_SIZE / 8; w++)
		intact &= next[w] == 0x5A5A5A5A5A5A5A5AULL;
	ok(intact, "the frame after it is untouched");
	is(pt_check(&pt), 0, "checker clean");
}

/* ---------------------------------------------------------------- generated layouts and ranges */

#define GEN_WINDOW (VA0 + 16 * SIZE_1G)   /* 4 GiB of generated leaves from here */
#define GEN_GIGS 4

/* Fills the window: per gigabyte one 1 GiB leaf, or 2 MiB leaves, runs of 4 KiB pages and holes. */
static void gen_layout(void)
{
	for (int g = 0; g < GEN_GIGS; g++) {
		vaddr_t gb = GEN_WINDOW + (uint64_t)g * SIZE_1G;
		paddr_t pa = (uint64_t)(g + 1) * SIZE_1G;
		if (draw(3) == 0) {
			pt_map(&pt, gb, pa, SIZE_1G, PT_PROT_W, PT_SIZE_1G);
			continue;
		}
		for (uint64_t m = 0; m < PT_ENTRIES; m++) {
			vaddr_t mb = gb + m * SIZE_2M;
			switch (draw(4)) {
			case 0:
				pt_map(&pt, mb, pa + m * SIZE_2M, SIZE_2M, PT_PROT_W | PT_PROT_CACHE(PT_CACHE_WC), PT_SIZE_2M);
				break;
			case 1: {
				uint64_t first = draw(PT_ENTRIES), n = 1 + draw(PT_ENTRIES - first);
				pt_map(&pt, mb + first * PAGE_SIZE, pa + m * SIZE_2M + first * PAGE_SIZE, n * PAGE_SIZE, PT_PROT_W, PT_SIZE_4K);
				break;
			}
			default:
				break;
			}
		}
	}
}

/* Split leaves the prediction has already split (base and size). */
static struct { vaddr_t base; uint64_t size; } gen_split[8];
static size_t gen_nsplit;

/* The leaf containing v once the splits in gen_split are done: false when not mapped. */
static bool gen_leaf(vaddr_t v, vaddr_t *base, uint64_t *size)
{
	if (!pt_query(&pt, v, NULL, NULL, size))
		return false;
	*base = ALIGN_DOWN(v, *size);
	for (size_t k = 0; k < gen_nsplit; k++)
		if (gen_split[k].base == *base && gen_split[k].size == *size) {
			*size /= PT_ENTRIES;
			*base = ALIGN_DOWN(v, *size);
			k = (size_t)-1;   /* the piece may have been split too */
		}
	return true;
}

/* What an unmap or protect of [va, end) owes, from the layout before it: the leaves split at the
 * ends (first batch) and the leaves changed (second batch, or the only one). */
struct gen_want {
	size_t nchange;
	vaddr_t change[TLB_BATCH_PAGES];
};

static void gen_predict(vaddr_t va, vaddr_t end, struct gen_want *w)
{
	gen_nsplit = 0;
	w->nchange = 0;
	const vaddr_t ends[2] = { va, end - 1 };
	for (int k = 0; k < 2; k++) {
		vaddr_t b;
		uint64_t sz;
		while (gen_leaf(ends[k], &b, &sz) && sz > PAGE_SIZE && (b < va || b + sz - 1 > end - 1))
			gen_split[gen_nsplit++] = (typeof(gen_split[0])){ b, sz };
	}
	for (vaddr_t v = va; v < end;) {
		vaddr_t b;
		uint64_t sz;
		if (!gen_leaf(v, &b, &sz)) {
			v += PAGE_SIZE;
			continue;
		}
		if (w->nchange < TLB_BATCH_PAGES)
			w->change[w->nchange] = b;
		w->nchange++;
		v = b + sz;
	}
}

/* True when the flushes logged since the reset are exactly the predicted ones, after the lock. */
static bool gen_flushes_ok(const struct gen_want *w)
{
	vaddr_t split[8];
	for (size_t k = 0; k < gen_nsplit; k++)
		split[k] = gen_split[k].base;
	size_t f = 0;
	if (gen_nsplit && !fake_tlb_flushed_pages(f++, split, gen_nsplit))
		return false;
	if (w->nchange && !(w->nchange > TLB_BATCH_PAGES ? fake_tlb.ev[f].all : fake_tlb_flushed_pages(f, w->change, w->nchange)))
		return false;
	f += w->nchange != 0;
	return fake_tlb.flushes == f && !fake_tlb.irqs_off;
}

/*
 * Property: over generated layouts (1 GiB and 2 MiB leaves, runs of pages, holes) and generated
 * ranges (mostly across 2 MiB and 1 GiB boundaries), pt_unmap and pt_protect flush exactly the
 * predicted batches: the leaves they split, then every leaf they change, one entry per leaf, all
 * above TLB_BATCH_PAGES, never with the lock held. The range ends up unmapped or reprotected, the
 * pages around it keep their frames, and pt_check stays clean.
 */
static void test_generated_batches(void)
{
	uint64_t ops = 0, wrong = 0, splits = 0, alls = 0, empty = 0;
	for (int round = 0; round < 20; round++) {
		setup(65536 * 4);   /* 1 GiB */
		pt_create(&pt, PT_FEAT_ALL);
		gen_layout();
		for (int k = 0; k < 100; k++, ops++) {
			uint64_t grain = draw(2) ? SIZE_2M : SIZE_1G;
			vaddr_t c = GEN_WINDOW + ALIGN_DOWN(draw(GEN_GIGS * SIZE_1G), grain);
			vaddr_t va = c - draw(1024) * PAGE_SIZE, end = va + (1 + draw(draw(4) ? 64 : 1500)) * PAGE_SIZE;
			if (va < GEN_WINDOW || end > GEN_WINDOW + GEN_GIGS * SIZE_1G) {
				ops--;
				continue;
			}
			paddr_t before_pa = 0, after_pa = 0;
			bool before = pt_query(&pt, va - PAGE_SIZE, &before_pa, NULL, NULL);
			bool after = pt_query(&pt, end, &after_pa, NULL, NULL);
			struct gen_want w;
			gen_predict(va, end, &w);
			bool unmap = draw(3) == 0;
			unsigned prot = (unsigned)draw(2) * PT_PROT_W | PT_PROT_CACHE(draw(PT_CACHE_TYPES));
			fake_tlb_reset();
			int st = unmap ? pt_unmap(&pt, va, end - va) : pt_protect(&pt, va, end - va, prot);
			bool good = st == PT_OK && gen_flushes_ok(&w);
			paddr_t pa;
			good &= pt_query(&pt, va - PAGE_SIZE, &pa, NULL, NULL) == before && (!before || pa == before_pa);
			good &= pt_query(&pt, end, &pa, NULL, NULL) == after && (!after || pa == after_pa);
			for (vaddr_t v = va; v < end && good; v += PAGE_SIZE) {
				uint64_t e;
				bool mapped = pt_query(&pt, v, NULL, &e, NULL);
				good &= unmap ? !mapped : !mapped || ((arch_pte_prot(e, PT_FEAT_ALL) & PT_PROT_W) == (prot & PT_PROT_W));
			}
			if (!good && wrong++ < 5)
				printf("# op %llu: %s [0x%llx, 0x%llx): status %d, %zu splits, %zu changes, %llu flushes\n",
				       (unsigned long long)ops, unmap ? "unmap" : "protect", (unsigned long long)va,
				       (unsigned long long)end, st, gen_nsplit, w.nchange, (unsigned long long)fake_tlb.flushes);
			splits += gen_nsplit != 0;
			alls += w.nchange > TLB_BATCH_PAGES;
			empty += w.nchange == 0;
		}
		wrong += pt_check(&pt) != 0;
	}
	is(wrong, 0, "%llu generated unmaps and protects flushed exactly the predicted batches, checker clean", (unsigned long long)ops);
	ok(splits > 20 && alls > 20 && empty > 5 && ops - alls - empty > 50,
	   "generated: %llu with splits, %llu flushing everything, %llu changing nothing", (unsigned long long)splits,
	   (unsigned long long)alls, (unsigned long long)empty);
}

int main(void)
{
	fake_arch_init();
	test_round_trips();
	test_split_and_protect();
	test_bad_input_and_checker();
	test_prealloc_and_enomem();
	test_prealloc_generated();
	test_canonical_edges();
	test_span_tables();
	test_split_both_ends();
	test_split_enomem();
	test_split_writes_own_table();
	test_generated_batches();
	test_prot_and_pa_bounds();
	test_generated_placement();
	test_checker_rules();
	test_dump();
	return tap_done();
}
