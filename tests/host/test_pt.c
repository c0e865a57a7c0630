/* Host tests of the page-table module against the fake machine (recorded TLB operations). */
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "pt.h"

static struct machine_map m;
static struct pt pt;

#define VA0 0xffffc00000000000ULL

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
		is(fake_tlb.pages + fake_tlb.alls, 0, "map %s flushes nothing", cases[i].what);
		paddr_t got; uint64_t pte, sz;
		ok(pt_query(&pt, va + cases[i].size - 8, &got, &pte, &sz) && got == pa + cases[i].size - 8,
		   "query last byte of %s", cases[i].what);
		is(sz, cases[i].want_page, "page size for %s", cases[i].what);
		ok((pte & PTE_NX) && (pte & PTE_W) && !(pte & PTE_U), "NX, W, supervisor for %s", cases[i].what);
		is(pt_map(&pt, va, pa, PAGE_SIZE, 0, PT_SIZE_4K), PT_EEXIST, "double map of %s refused", cases[i].what);
		fake_tlb_reset();
		is(pt_unmap(&pt, va, cases[i].size), PT_OK, "unmap %s", cases[i].what);
		is(fake_tlb.pages, cases[i].size / cases[i].want_page, "one invalidation per leaf for %s", cases[i].what);
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
	ok((pte & PTE_PAT_LARGE) && !(pte & PTE_PCD) && !(pte & PTE_PWT), "WC in a large page uses bit 12");
	is(pt_protect(&pt, va + 3 * PAGE_SIZE, PAGE_SIZE, 0), PT_OK, "protect one page inside the 2M page");
	pt_query(&pt, va + 3 * PAGE_SIZE, NULL, &pte, &sz);
	ok(sz == PAGE_SIZE && !(pte & PTE_W), "split page read-only");
	ok(!(pte & PTE_PAT_4K), "protect to WB cleared the PAT bit");
	pt_query(&pt, va + 4 * PAGE_SIZE, NULL, &pte, &sz);
	ok(sz == PAGE_SIZE && (pte & PTE_W) && (pte & PTE_PAT_4K), "neighbour keeps W and WC (PAT moved to bit 7)");
	paddr_t got;
	ok(pt_query(&pt, va + 511 * PAGE_SIZE, &got, NULL, NULL) && got == 0x40000000 + 511 * PAGE_SIZE, "split keeps addresses");
	is(pt_unmap(&pt, va, SIZE_2M), PT_OK, "unmap");
	unsigned caches[] = { PT_CACHE_WB, PT_CACHE_WT, PT_CACHE_UCMINUS, PT_CACHE_UC, PT_CACHE_WC };
	for (unsigned i = 0; i < 5; i++) {
		pt_map(&pt, va, 0x1000, PAGE_SIZE, PT_PROT_CACHE(caches[i]), PT_SIZE_4K);
		pt_query(&pt, va, NULL, &pte, NULL);
		unsigned idx = (unsigned)!!(pte & PTE_PWT) | (!!(pte & PTE_PCD) << 1) | (!!(pte & PTE_PAT_4K) << 2);
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
	is(pt_map(&pt, VA0, 0x9000, 16 * PAGE_SIZE, 0, PT_SIZE_4K), PT_EEXIST, "overlap refused");
	ok(!pt_query(&pt, VA0, NULL, NULL, NULL), "refused map changed nothing");
	pt_unmap(&pt, VA0 + 8 * PAGE_SIZE, PAGE_SIZE);
	/* The checker sees a writable+executable page and a user page. */
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, PT_PROT_W | PT_PROT_X, PT_SIZE_4K);
	is(pt_check(&pt), 1, "checker flags W+X");
	pt_unmap(&pt, VA0, PAGE_SIZE);
	pt_map(&pt, VA0, 0x5000, PAGE_SIZE, 0, PT_SIZE_4K);
	volatile uint64_t *slot = pt_pte_slot(&pt, VA0);
	*slot |= PTE_U;
	is(pt_check(&pt), 1, "checker flags a user page");
	*slot &= ~PTE_U;
	is(pt_check(&pt), 0, "clean again");
	pt_unmap(&pt, VA0, PAGE_SIZE);
}

static void test_prealloc_and_enomem(void)
{
	setup(64);   /* 256 KiB of RAM: room for few tables */
	pt_create(&pt, PT_FEAT_NX | PT_FEAT_PAT);
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
}

/* The system PTE region's tables: one contiguous run, its PTEs one array; refusals change nothing. */
static void test_prealloc_contiguous(void)
{
	volatile uint64_t *ptes = NULL;
	setup(256);   /* 1 MiB of RAM */
	pt_create(&pt, PT_FEAT_NX | PT_FEAT_PAT);
	uint64_t t0 = pt.table_pages;
	is(pt_prealloc_contiguous(&pt, VA0 + SIZE_1G, 4 * SIZE_2M, &ptes), PT_OK, "contiguous tables for 8 MiB");
	ok(ptes != NULL, "PTE array returned");
	for (int j = 0; j < 4; j++)
		ok(pt_pte_slot(&pt, VA0 + SIZE_1G + (uint64_t)j * SIZE_2M) == ptes + j * 512, "table %d follows table %d", j, j - 1);
	is(pt.table_pages - t0, 4 + 2, "4 level-1 tables counted, plus the upper levels created");
	ptes[5] = 0x100000 | PTE_P;
	paddr_t pa;
	ok(pt_query(&pt, VA0 + SIZE_1G + 5 * PAGE_SIZE, &pa, NULL, NULL) && pa == 0x100000, "a PTE written in the array maps");
	ptes[5] = 0;
	uint64_t t1 = pt.table_pages, free_before;
	struct phys_stats st;
	phys_get_stats(&st);
	free_before = st.free_pages;
	is(pt_prealloc_contiguous(&pt, VA0 + SIZE_1G + 2 * SIZE_2M, 4 * SIZE_2M, &ptes), PT_EEXIST,
	   "overlapping an existing table: PT_EEXIST");
	phys_get_stats(&st);
	ok(st.free_pages == free_before && pt.table_pages == t1, "refusal returned its run, counted nothing");
	is(pt_prealloc_contiguous(&pt, VA0 + PAGE_SIZE, SIZE_2M, &ptes), PT_EINVAL, "unaligned: PT_EINVAL");
	is(pt_prealloc_contiguous(&pt, VA0 + 8 * SIZE_1G, 1024 * SIZE_2M, &ptes), PT_ENOMEM, "1024 tables in 1 MiB: PT_ENOMEM");
	is(pt_check(&pt), 0, "tree consistent");
}

int main(void)
{
	fake_arch_init();
	test_round_trips();
	test_split_and_protect();
	test_bad_input_and_checker();
	test_prealloc_and_enomem();
	test_prealloc_contiguous();
	return tap_done();
}
