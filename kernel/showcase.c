/* The summary screen's workload (see showcase.h). */
#include "showcase.h"
#include "workload.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "kprintf.h"

#define SHOWCASE_STEPS      40000u
#define SHOWCASE_TARGET_PCT 75u
#define SHOWCASE_MAX_SIZE   512u     /* pages; less on a small region (1/64 of it) */
#define SHOWCASE_SMALL_MAX  64u
#define SHOWCASE_LIVE_MAX   4096u    /* reservations tracked; at the cap the workload frees */
#define SHOWCASE_RING_PAGES 32u      /* pages of a ring's buffer (its reservation is twice that) */
#define SHOWCASE_RINGS_MAX  48u
#define SHOWCASE_RING_EVERY 16u      /* about one allocation in this many is a ring */
#define SHOWCASE_SEED       1u

/* An MDL over the ring buffer's pages. */
struct showcase_mdl {
	MDL mdl;
	PFN_NUMBER pfn[SHOWCASE_RING_PAGES];
};

/* One live reservation; ring >= 0 names its MDL pair. */
struct showcase_resv {
	char *va;
	uint32_t pages, tag;
	int ring;
};

static struct showcase_resv showcase_live[SHOWCASE_LIVE_MAX];
static uint64_t showcase_nlive, showcase_pages;
static struct showcase_mdl showcase_mdls[SHOWCASE_RINGS_MAX][2];
static bool showcase_ring_used[SHOWCASE_RINGS_MAX];
static paddr_t showcase_buf;        /* the ring buffers' shared pages */

/* Describes the shared ring pages in m, ready to be mapped. */
static void showcase_mdl_init(struct showcase_mdl *m)
{
	*m = (struct showcase_mdl){ 0 };
	m->mdl.Size = (CSHORT)(sizeof(MDL) + sizeof(m->pfn));
	m->mdl.MdlFlags = MDL_PAGES_LOCKED;
	m->mdl.ByteCount = SHOWCASE_RING_PAGES * PAGE_SIZE;
	for (unsigned i = 0; i < SHOWCASE_RING_PAGES; i++)
		m->pfn[i] = pa_to_pfn(showcase_buf) + i;
}

/* A free ring slot, or -1. */
static int showcase_ring_slot(void)
{
	for (int i = 0; i < (int)SHOWCASE_RINGS_MAX; i++)
		if (!showcase_ring_used[i])
			return i;
	return -1;
}

/* Reserves and maps a ring buffer in ring slot k; false (nothing kept) when the region is full. */
static bool showcase_ring(struct showcase_resv *r, int k)
{
	char *va = MmAllocateMappingAddress(2 * SHOWCASE_RING_PAGES * PAGE_SIZE, SHOWCASE_TAG_RING);
	if (!va)
		return false;
	showcase_mdl_init(&showcase_mdls[k][0]);
	showcase_mdl_init(&showcase_mdls[k][1]);
	if (!MmMapLockedPagesWithReservedMapping(va, SHOWCASE_TAG_RING, &showcase_mdls[k][0].mdl, MmCached) ||
	    !MmMapLockedPagesWithReservedMapping(va + SHOWCASE_RING_PAGES * PAGE_SIZE, SHOWCASE_TAG_RING,
						 &showcase_mdls[k][1].mdl, MmCached)) {
		if (showcase_mdls[k][0].mdl.MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
			MmUnmapReservedMapping(va, SHOWCASE_TAG_RING, &showcase_mdls[k][0].mdl);
		MmFreeMappingAddress(va, SHOWCASE_TAG_RING);
		return false;
	}
	showcase_ring_used[k] = true;
	*r = (struct showcase_resv){ va, 2 * SHOWCASE_RING_PAGES, SHOWCASE_TAG_RING, k };
	return true;
}

/* Unmaps (rings) and frees live reservation i, moving the last one into its place. */
static void showcase_free(uint64_t i)
{
	struct showcase_resv r = showcase_live[i];

	if (r.ring >= 0) {
		MmUnmapReservedMapping(r.va + SHOWCASE_RING_PAGES * PAGE_SIZE, r.tag, &showcase_mdls[r.ring][1].mdl);
		MmUnmapReservedMapping(r.va, r.tag, &showcase_mdls[r.ring][0].mdl);
		showcase_ring_used[r.ring] = false;
	}
	MmFreeMappingAddress(r.va, r.tag);
	showcase_pages -= r.pages;
	showcase_live[i] = showcase_live[--showcase_nlive];
}

bool showcase_start(struct showcase_stats *st)
{
	struct syspte_stats ss;
	struct wl_rng rng;

	*st = (struct showcase_stats){ .target_pct = SHOWCASE_TARGET_PCT };
	showcase_buf = phys_alloc(SHOWCASE_RING_PAGES, 0, ~0ULL);
	if (!showcase_buf)
		return false;
	syspte_get_stats(reserved_region(), &ss);
	uint64_t target = ss.npages * SHOWCASE_TARGET_PCT / 100, max = MIN(SHOWCASE_MAX_SIZE, MAX(ss.npages / 64, 1));
	wl_seed(&rng, SHOWCASE_SEED);
	for (uint64_t step = 0; step < SHOWCASE_STEPS; step++) {
		uint64_t x = wl_rnd(&rng);
		if (showcase_nlive < SHOWCASE_LIVE_MAX && wl_want_alloc(x, showcase_nlive, showcase_pages, target)) {
			uint64_t n = wl_size(&rng, false, max);
			struct showcase_resv *r = &showcase_live[showcase_nlive];
			bool got;
			st->allocs++;
			int k = showcase_ring_slot();
			if ((x >> 32) % SHOWCASE_RING_EVERY == 0 && ss.npages >= 64 * SHOWCASE_RING_PAGES && k >= 0) {
				got = showcase_ring(r, k);
			} else {
				uint32_t tag = n <= SHOWCASE_SMALL_MAX ? SHOWCASE_TAG_SMALL : SHOWCASE_TAG_LARGE;
				*r = (struct showcase_resv){ MmAllocateMappingAddress(n * PAGE_SIZE, tag), (uint32_t)n, tag, -1 };
				got = r->va != NULL;
			}
			if (got) {
				showcase_pages += r->pages;
				showcase_nlive++;
				continue;
			}
			st->fails++;
			if (!showcase_nlive)
				continue;
		}
		showcase_free(wl_pick(&rng, showcase_nlive));
	}
	st->steps = SHOWCASE_STEPS;
	st->live = showcase_nlive;
	st->live_pages = showcase_pages;
	for (unsigned i = 0; i < SHOWCASE_RINGS_MAX; i++)
		st->rings += showcase_ring_used[i];
	return true;
}

int showcase_stop(void)
{
	while (showcase_nlive)
		showcase_free(showcase_nlive - 1);
	if (showcase_buf)
		phys_free(showcase_buf, SHOWCASE_RING_PAGES);
	showcase_buf = 0;
	return syspte_check(reserved_region());
}
