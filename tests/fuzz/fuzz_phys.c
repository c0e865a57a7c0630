/*
 * libFuzzer harness over the physical allocator (mm/phys.c): the input is an arbitrary UEFI
 * memory map (descriptor stride, types, attributes, overlapping / unsorted / unaligned / huge /
 * wrapping ranges) followed by allocation, zeroed-page, free (of whole allocations or any part of
 * one), misused free (double, overlapping,
 * unmanaged, metadata, held-back loader frames, unaligned, empty), list free (phys_free_frames with
 * repeated, free or unmanaged entries) and loader-release calls. A model
 * computes from the map which frames are usable (phys.h: the non-usable descriptor wins, frame 0
 * and frames past 52 bits never, metadata carved from the first usable run that fits) and checks:
 * phys_init succeeds exactly when it should, the statistics, that no frame outside the usable set,
 * inside the metadata or already handed out is ever returned, placement inside [lo, hi), zeroed
 * pages zeroed, phys_check() after every call. Usable descriptors stay below WINDOW frames so the
 * fake RAM backs everything; non-usable ones may lie anywhere.
 * A refused allocation is a failure when the model has a free run of its length inside the bounds
 * (any start). A misused free must bug-check 0x1A/PHYS_BUGCHECK_BAD_FREE naming the frame the
 * model predicts, and a faulty list must be refused with the index it predicts; both change nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "phys.h"
#include "efi_mmap.h"
#include "arch_mm.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "bitset.h"
#include "fuzz_input.h"

#define WINDOW 8192                 /* frames usable descriptors may cover (32 MiB) */
#define MAX_DESC 2100               /* a little past PHYS_MAX_RANGES */
#define MAX_ALLOCS 256
#define MAX_CALLS 64

static uint64_t draw_u64(void) { return fuzz_draw(1ULL << 32) << 32 | fuzz_draw(1ULL << 32); }

/* Aborts with a message: a libFuzzer crash. */
static void fail(const char *what, uint64_t a, uint64_t b)
{
	fprintf(stderr, "fuzz_phys: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
	abort();
}

enum frame_state { F_NONE, F_NOW, F_LOADER, F_META, F_HANDED };
/* Window frames each class of descriptor covers: a usable class's whole pages (_in) and every page
 * it touches (_out, what it takes from the other usable class), the never-usable ones' every page. */
static uint8_t cover_now[WINDOW], cover_loader[WINDOW], cover_now_out[WINDOW], cover_loader_out[WINDOW],
	cover_other[WINDOW];
static uint8_t state[WINDOW];       /* enum frame_state of each window frame */
static uint8_t owner_of[WINDOW];    /* enum phys_owner each F_HANDED frame was handed out for */
static bool loader_free;            /* loader frames released into the allocator */
static uint64_t n_free, n_handed, n_loader;   /* model counts, kept as frames change state */
static _Alignas(8) uint8_t mapbuf[MAX_DESC * 72 + 72];   /* strides up to 71, sizes rounded up */
static struct { paddr_t pa; uint64_t n; enum phys_owner owner; } allocs[MAX_ALLOCS];
static size_t nallocs;

/* Marks the window frames of descriptor [start, +pages) in cover (phys.c's clamping rules): with a
 * start off a page boundary, inward only the whole pages, else every page the bytes touch. */
static void model_cover(uint8_t *cover, uint64_t start, uint64_t pages, bool inward)
{
	uint64_t s = start >> 12, e = s + pages, limit = BUDDY_MAX_PAGES;   /* phys.c: PHYS_LIMIT_PFN */
	if (pages == 0)
		return;
	if (start & 4095) {
		if (inward)
			s++;
		else if (e >= s)
			e += e != UINT64_MAX;
	}
	if (e < s || e > limit)
		e = limit;
	if (s >= limit || s >= e)
		return;
	for (uint64_t f = s; f < e && f < WINDOW; f++)
		cover[f] = 1;
}

/* Class of a descriptor by phys.h's rules: 1 usable now, 2 loader, 0 never usable. */
static int desc_class(uint32_t type, uint64_t attr)
{
	if (attr & EFI_MEMORY_RUNTIME)
		return 0;
	if (type == EFI_CONVENTIONAL || type == EFI_BS_CODE || type == EFI_BS_DATA)
		return 1;
	return type == EFI_LOADER_CODE || type == EFI_LOADER_DATA ? 2 : 0;
}

/* Appends one random descriptor to the map and to the model's coverage. */
static void gen_desc(uint8_t *d, size_t dsz)
{
	struct efi_memory_descriptor e = { 0 };
	e.type = (uint32_t)(fuzz_draw(16) == 0 ? fuzz_draw(1ULL << 32) : fuzz_draw(16));
	e.attribute = fuzz_draw(8) == 0 ? EFI_MEMORY_RUNTIME | fuzz_draw(16) : fuzz_draw(16);
	int cls = desc_class(e.type, e.attribute);
	if (cls && fuzz_draw(16) == 0) {           /* usable but past the 52-bit limit: ignored */
		e.phys_start = (1ULL << 52) + (fuzz_draw(1ULL << 40) << 12);
		e.num_pages = draw_u64();
	} else if (cls) {
		uint64_t s = fuzz_draw(WINDOW);
		e.phys_start = s << 12 | (fuzz_draw(8) == 0 ? fuzz_draw(4096) : 0);
		e.num_pages = fuzz_draw(fuzz_draw(2) ? 64 : WINDOW - s + 1);
		if (e.num_pages > WINDOW - s)
			e.num_pages = WINDOW - s;
	} else {
		e.phys_start = fuzz_draw(4) == 0 ? draw_u64() : fuzz_draw(WINDOW) << 12;
		e.num_pages = fuzz_draw(4) == 0 ? draw_u64() : fuzz_draw(fuzz_draw(2) ? 64 : WINDOW);
	}
	memset(d, 0xA5, dsz);
	memcpy(d, &e, sizeof(e));
	if (cls) {
		model_cover(cls == 1 ? cover_now : cover_loader, e.phys_start, e.num_pages, true);
		model_cover(cls == 1 ? cover_now_out : cover_loader_out, e.phys_start, e.num_pages, false);
	} else {
		model_cover(cover_other, e.phys_start, e.num_pages, false);
	}
}

/* Turns coverage into frame states; returns the highest usable frame + 1 (0: none). */
static uint64_t model_classify(uint64_t *now, uint64_t *loader)
{
	uint64_t highest = 0;
	*now = *loader = 0;
	for (uint64_t f = 1; f < WINDOW; f++) {
		bool o = cover_other[f], a = cover_now[f], l = cover_loader[f];
		state[f] = a && !cover_loader_out[f] && !o ? F_NOW : l && !cover_now_out[f] && !o ? F_LOADER : F_NONE;
		*now += state[f] == F_NOW;
		*loader += state[f] == F_LOADER;
		if (state[f] != F_NONE)
			highest = f + 1;
	}
	state[0] = F_NONE;
	return highest;
}

/* Places the metadata in the first run of usable-now frames that holds it; false if none does. */
static bool model_place_meta(uint64_t meta_pages)
{
	for (uint64_t f = 0; f < WINDOW;) {
		uint64_t e = f;
		while (e < WINDOW && state[e] == F_NOW)
			e++;
		if (e - f >= meta_pages && e > f) {
			for (uint64_t k = f; k < f + meta_pages; k++)
				state[k] = F_META;
			n_free -= meta_pages;
			return true;
		}
		f = e + 1;
	}
	return false;
}

/* Free frames according to the model. */
static uint64_t model_free(void) { return n_free; }
/* Frames handed out according to the model. */
static uint64_t model_handed(void) { return n_handed; }

static bool frame_free(uint64_t f) { return f < WINDOW && (state[f] == F_NOW || (loader_free && state[f] == F_LOADER)); }

/* Checks phys_check and the statistics against the model after every call. */
static void check_state(void)
{
	if (phys_check())
		fail("phys_check failed", 0, 0);
	struct phys_stats s;
	phys_get_stats(&s);
	if (s.free_pages != model_free() || s.allocated_pages != model_handed())
		fail("free/allocated pages differ from the model", s.free_pages, model_free());
	uint64_t owned[PHYS_OWNER_NONE] = { 0 };
	for (size_t k = 0; k < nallocs; k++)
		owned[allocs[k].owner] += allocs[k].n;
	if (s.mdl_pages != owned[PHYS_OWNER_MDL] || s.pool_slab_pages != owned[PHYS_OWNER_POOL_SLAB] ||
	    s.pool_large_pages != owned[PHYS_OWNER_POOL_LARGE])
		fail("pages of an owner differ from the model", s.mdl_pages, owned[PHYS_OWNER_MDL]);
	uint64_t f = fuzz_draw(WINDOW + 2);   /* one frame's owner, as phys_owner_of answers */
	enum phys_owner want = f < WINDOW && state[f] == F_HANDED ? (enum phys_owner)owner_of[f] : PHYS_OWNER_NONE;
	if (phys_owner_of(f << 12) != want)
		fail("phys_owner_of differs from the model", f, want);
}

/* True when the model has n free frames in a row inside [lo, hi): the allocator must then find
 * them (phys.h: any start, powers of two included). */
static bool model_has_run(uint64_t n, uint64_t lo, uint64_t hi)
{
	uint64_t run = 0;
	for (uint64_t f = MIN(hi, WINDOW); f-- > lo;) {
		run = frame_free(f) ? run + 1 : 0;
		if (run >= n)
			return true;
	}
	return false;
}

/* True when frame f is one the allocator may hold (usable RAM, not metadata, not loader frames
 * still held back), free or not. */
static bool frame_usable(uint64_t f)
{
	return f < WINDOW && (state[f] == F_NOW || state[f] == F_HANDED || (loader_free && state[f] == F_LOADER));
}

/* Checks an allocation of n frames at pa inside [lo, hi) for owner and records it. */
static void take(paddr_t pa, uint64_t n, paddr_t lo, paddr_t hi, enum phys_owner owner)
{
	uint64_t p = pa >> 12;
	if (pa & 4095 || pa < lo || pa + n * 4096 > (hi & ~4095ULL))   /* whole frames inside [lo, hi) */
		fail("allocation outside [lo, hi) or unaligned", pa, n);
	for (uint64_t f = p; f < p + n; f++) {
		if (!frame_free(f))
			fail("handed out a frame that is not free usable RAM", f << 12, f < WINDOW ? state[f] : 99);
		state[f] = F_HANDED;
		owner_of[f] = (uint8_t)owner;
	}
	n_free -= n;
	n_handed += n;
	if (nallocs < MAX_ALLOCS)
		allocs[nallocs].pa = pa, allocs[nallocs].owner = owner, allocs[nallocs++].n = n;
	else
		fail("harness: allocation table full", 0, 0);
	for (uint64_t k = 0; k < n; k++)   /* dirty a word per page: zeroed pages must be cleared again */
		*(uint64_t *)arch_phys_to_virt(pa + k * 4096 + (k * 8 & 4095)) = 0x5C5C5C5C5C5C5C5CULL;
}

static void op_alloc(void)
{
	uint64_t n = 1 + fuzz_draw(fuzz_draw(4) ? 8 : WINDOW);
	paddr_t lo = 0, hi = UINT64_MAX;
	if (fuzz_draw(3) == 0) {
		lo = fuzz_draw(WINDOW) << 12 | (fuzz_draw(4) == 0 ? fuzz_draw(4096) : 0);
		hi = fuzz_draw(4) == 0 ? draw_u64() : fuzz_draw(WINDOW + 2) << 12;
	}
	enum phys_owner owner = (enum phys_owner)fuzz_draw(PHYS_OWNER_NONE);
	paddr_t pa = owner == PHYS_OWNER_KERNEL && fuzz_draw(2) ? phys_alloc(n, lo, hi)
								  : phys_alloc_owned(n, 1, lo, hi, owner);
	if (pa) {
		take(pa, n, lo, hi, owner);
		return;
	}
	uint64_t lo_pfn = (lo + 4095) >> 12, hi_pfn = hi >> 12;
	if (lo > UINT64_MAX - 4096)
		return;
	if (model_has_run(n, lo_pfn, hi_pfn))
		fail("allocation refused although a free run fits", n, lo);
}

static void op_zeroed(void)
{
	paddr_t pa = phys_alloc_zeroed_page();
	if (!pa) {
		if (model_free())
			fail("zeroed page refused with free pages", model_free(), 0);
		return;
	}
	const uint8_t *p = arch_phys_to_virt(pa);
	for (int k = 0; k < 4096; k++)
		if (p[k])
			fail("zeroed page not zero", pa, k);
	take(pa, 1, 0, UINT64_MAX, PHYS_OWNER_KERNEL);
}

/* Frees frames [a, a + len) of recorded allocation k alone (phys.h: any part may go back alone): no
 * bug check, the part free and no one's, the rest still the owner's; the record keeps the rest
 * (split in two when the part lies inside it). */
static void op_free_part(size_t k)
{
	uint64_t n = allocs[k].n, a = fuzz_draw(n), len = 1 + fuzz_draw(n - a);
	if ((a && a + len < n && nallocs >= MAX_ALLOCS) || len == n)
		return;
	paddr_t pa = allocs[k].pa + a * 4096;
	enum phys_owner owner = allocs[k].owner;
	uint64_t count = bugcheck_last.count;
	phys_free(pa, len);
	if (bugcheck_last.count != count)
		fail("a free of part of an allocation bug-checked", pa, len);
	for (uint64_t f = pa >> 12; f < (pa >> 12) + len; f++)
		state[f] = cover_now[f] && !cover_loader[f] ? F_NOW : F_LOADER;
	n_free += len;
	n_handed -= len;
	paddr_t keep = a ? allocs[k].pa : pa + len * 4096;   /* a frame of the rest */
	if (phys_owner_of(pa + fuzz_draw(len) * 4096) != PHYS_OWNER_NONE || phys_owner_of(keep) != owner)
		fail("owner after a part's free differs from the model", pa, len);
	if (a == 0) {
		allocs[k].pa += len * 4096;
		allocs[k].n -= len;
		return;
	}
	allocs[k].n = a;
	if (a + len < n)
		allocs[nallocs].pa = pa + len * 4096, allocs[nallocs].owner = owner, allocs[nallocs++].n = n - a - len;
}

static void op_free(void)
{
	if (!nallocs)
		return;
	size_t k = fuzz_draw(nallocs);
	if (allocs[k].n > 1 && fuzz_draw(3) == 0) {
		op_free_part(k);
		return;
	}
	phys_free(allocs[k].pa, allocs[k].n);
	for (uint64_t f = allocs[k].pa >> 12; f < (allocs[k].pa >> 12) + allocs[k].n; f++)
		state[f] = cover_now[f] && !cover_loader[f] ? F_NOW : F_LOADER;
	n_free += allocs[k].n;
	n_handed -= allocs[k].n;
	allocs[k] = allocs[--nallocs];
}

/* A free the model says is wrong; phys_free must bug-check with the predicted frame and change nothing. */
static void op_bad_free(void)
{
	uint64_t f, n;
	switch (fuzz_draw(4)) {
	case 0:   /* a recorded allocation stretched or shifted into its neighbourhood */
		if (nallocs) {
			size_t k = fuzz_draw(nallocs);
			f = (allocs[k].pa >> 12) - MIN(fuzz_draw(3), allocs[k].pa >> 12);
			n = allocs[k].n + fuzz_draw(4);
			break;
		}
		/* fall through */
	case 1:   /* anywhere in the window and a little past it */
		f = fuzz_draw(WINDOW + 8);
		n = fuzz_draw(4) ? 1 + fuzz_draw(16) : fuzz_draw(WINDOW);
		break;
	case 2:   /* absurd frames and counts */
		f = fuzz_draw(2) ? draw_u64() >> 12 : fuzz_draw(WINDOW);
		n = fuzz_draw(2) ? draw_u64() : fuzz_draw(4);
		break;
	default:  /* a single free, metadata or held-back frame when one is drawn */
		f = fuzz_draw(WINDOW);
		n = 1;
		break;
	}
	paddr_t pa = f << 12 | (fuzz_draw(16) == 0 ? 1 + fuzz_draw(4095) : 0);
	/* the model's verdict (phys.h): the address itself when unaligned or empty, else the first
	 * frame the allocator may not hold, else the first free one; none when all are handed out */
	uint64_t want = UINT64_MAX, first_free = UINT64_MAX;
	if ((pa & 4095) || n == 0 || f >= WINDOW) {
		want = pa;
	} else {
		for (uint64_t g = f; g - f < n; g++) {
			if (!frame_usable(g)) {
				want = g << 12;
				break;
			}
			if (frame_free(g) && first_free == UINT64_MAX)
				first_free = g << 12;
		}
		if (want == UINT64_MAX)
			want = first_free;
	}
	if (want == UINT64_MAX)
		return;   /* every frame handed out: a valid free (maybe of several allocations), not this op's */
	uint64_t count = bugcheck_last.count;
	phys_free(pa, n);
	if (bugcheck_last.count != count + 1 || bugcheck_last.code != BUGCHECK_MEMORY_MANAGEMENT ||
	    bugcheck_last.p[0] != PHYS_BUGCHECK_BAD_FREE)
		fail("misused phys_free not bug-checked", pa, n);
	if (bugcheck_last.p[1] != pa || bugcheck_last.p[2] != n || bugcheck_last.p[3] != want)
		fail("phys_free bug check names another frame", bugcheck_last.p[3], want);
	for (uint64_t g = f; g < WINDOW && g - f < MIN(n, 64); g++)
		if (phys_is_free(g << 12, 1) != frame_free(g))
			fail("refused phys_free changed a frame", g << 12, frame_free(g));
}

/* phys_free_frames on the frames of up to three recorded allocations, in shuffled pieces, for the
 * owner of the last (or any owner), maybe with a fault inserted: a repeated frame, a free one, an
 * unusable one, another owner's, frame 0 or an absurd number. */
static void op_free_list(void)
{
	static uint64_t list[WINDOW + 1];
	static uint8_t seen[WINDOW];
	size_t k = nallocs ? 1 + fuzz_draw(MIN(nallocs, 3)) : 0;
	enum phys_owner owner = nallocs && fuzz_draw(4) ? allocs[nallocs - 1].owner
							: (enum phys_owner)fuzz_draw(PHYS_OWNER_NONE);
	uint64_t n = 0;
	for (size_t j = 0; j < k; j++)   /* the last k allocations, their frames in pieces at random places */
		for (uint64_t f = allocs[nallocs - 1 - j].pa >> 12, e = f + allocs[nallocs - 1 - j].n; f < e;) {
			uint64_t piece = 1 + fuzz_draw(e - f), at = fuzz_draw(n + 1);
			memmove(list + at + piece, list + at, (n - at) * sizeof(*list));
			for (uint64_t q = 0; q < piece; q++)
				list[at + q] = f + q;
			n += piece;
			f += piece;
		}
	if (n < WINDOW && fuzz_draw(3)) {
		uint64_t v, at = fuzz_draw(n + 1);
		switch (fuzz_draw(4)) {
		case 0: v = n ? list[fuzz_draw(n)] : 0; break;
		case 1: v = fuzz_draw(WINDOW); break;   /* free, unusable or someone else's: the model says */
		case 2: v = 0; break;
		default: v = draw_u64(); break;
		}
		if (v < WINDOW && state[v] == F_HANDED && owner_of[v] == owner) {   /* another allocation's: valid */
			bool mine = false;
			for (uint64_t q = 0; q < n && !mine; q++)
				mine = list[q] == v;
			if (!mine)
				return;
		}
		memmove(list + at + 1, list + at, (n - at) * sizeof(*list));
		list[at] = v;
		n++;
	}
	uint64_t want = n;   /* the first unusable entry, else the first free or foreign one, else a repeat */
	for (uint64_t q = 0; q < n && want == n; q++)
		if (!frame_usable(list[q]))
			want = q;
	for (uint64_t q = 0; q < n && want == n; q++)
		if (frame_free(list[q]) || owner_of[list[q]] != owner)
			want = q;
	memset(seen, 0, sizeof(seen));
	for (uint64_t q = 0; q < n && want == n; q++) {
		if (seen[list[q]])
			want = q;
		seen[list[q]] = 1;
	}
	uint64_t bad = UINT64_MAX;
	bool ok = phys_free_frames(list, n, owner, &bad);
	if (ok != (want == n) || (!ok && bad != want))
		fail("phys_free_frames verdict differs from the model", ok ? n : bad, want);
	if (!ok)
		return;
	for (size_t j = 0; j < k; j++) {
		size_t a = nallocs - 1;
		for (uint64_t f = allocs[a].pa >> 12; f < (allocs[a].pa >> 12) + allocs[a].n; f++)
			state[f] = cover_now[f] && !cover_loader[f] ? F_NOW : F_LOADER;
		n_free += allocs[a].n;
		n_handed -= allocs[a].n;
		nallocs--;
	}
}

static void op_release(void)
{
	if (loader_free)
		return;
	phys_release_loader();
	loader_free = true;
	n_free += n_loader;
}

/* Builds the map from the input; returns its size in bytes, *dsz the stride. */
static size_t gen_map(size_t *dsz, size_t *nd)
{
	*dsz = fuzz_draw(16) == 0 ? fuzz_draw(72) : 40 + 8 * fuzz_draw(4);   /* any stride, usually a real one */
	*nd = fuzz_draw(4) == 0 ? fuzz_draw(MAX_DESC + 1) : fuzz_draw(40);
	size_t stride = *dsz < 40 ? 40 : *dsz;   /* a short stride is refused before any read */
	for (size_t i = 0; i < *nd; i++)
		gen_desc(mapbuf + i * stride, stride);
	size_t size = *nd * *dsz;
	if (fuzz_draw(32) == 0 && *dsz)
		size += 1 + fuzz_draw(*dsz - 1 ? *dsz - 1 : 1);   /* not a multiple of the stride: its *nd whole ones are read */
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_begin(data, size);
	bugcheck_set_hook(bugcheck_record_hook);
	memset(cover_now, 0, sizeof(cover_now));
	memset(cover_loader, 0, sizeof(cover_loader));
	memset(cover_now_out, 0, sizeof(cover_now_out));
	memset(cover_loader_out, 0, sizeof(cover_loader_out));
	memset(cover_other, 0, sizeof(cover_other));
	loader_free = false;
	nallocs = 0;
	size_t dsz, nd, msize = gen_map(&dsz, &nd);
	uint64_t now, loader, highest = model_classify(&now, &loader);
	n_free = now, n_handed = 0, n_loader = loader;
	/* the buddy's block, 8-byte aligned, then the owner map (2 bits a frame in whole words), then its
	 * marks (a bitset of a bit per owner word) */
	uint64_t owner_words = (highest + 31) / 32;
	uint64_t meta = highest ? ((buddy_meta_bytes(highest) + 7) / 8 * 8 + owner_words * 8 + bitset_meta_bytes(owner_words) +
				   4095) / 4096 : 0;
	bool geometry = dsz >= sizeof(struct efi_memory_descriptor) && dsz % 8 == 0 &&
			nd <= PHYS_MAX_RANGES;   /* phys.h: 8-byte aligned descriptors only; a ragged tail is cut */
	bool want = geometry && highest && model_place_meta(meta);
	int r = phys_init(mapbuf, msize, dsz ? dsz : 1);
	if ((r == 0) != want)
		fail("phys_init result differs from the model", (uint64_t)r, want);
	if (r)
		return 0;
	struct phys_stats st;
	phys_get_stats(&st);
	if (st.usable_pages != now + loader || st.meta_pages != meta || st.loader_pages != loader ||
	    st.highest_pfn != highest)
		fail("statistics after init differ from the model", st.usable_pages, now + loader);
	check_state();
	for (int k = 0; k < MAX_CALLS && fuzz_in_left; k++) {
		switch (fuzz_draw(11)) {
		case 0: case 1: case 2: op_alloc(); break;
		case 3: op_zeroed(); break;
		case 4: case 5: case 6: op_free(); break;
		case 7: case 8: op_bad_free(); break;
		case 9: op_free_list(); break;
		default: op_release(); break;
		}
		check_state();
	}
	return 0;
}
