/*
 * Physical page allocator (contract in phys.h).
 *
 * Ranges are computed on page numbers as "merged(usable types) minus merged(everything else)", so
 * overlapping, unsorted or duplicated descriptors can never make a reserved page free or free a
 * page twice. The two usable sets (now, and loader-later) are disjoint by construction.
 */
#include "phys.h"
#include "physlimit.h"
#include "buddy_impl.h"
#include "bitset.h"
#include "efi_mmap.h"
#include "arch_mm.h"
#include "spinlock.h"
#include "kprintf.h"
#include "kassert.h"
#include "verifier.h"
#include "bugcheck.h"
#include "testhooks.h"

/* Frames from here up are ignored wherever a map claims them: the buddy's limit (2^31 - 1 frames,
 * 8 TiB), below the architectural 52-bit physical limit, or the CPU's physical address width when
 * lower (a frame at or past it cannot go into a PTE: its bits there are reserved). */
#define PHYS_LIMIT_PFN MIN(MIN(PHYS_ARCH_FRAMES, BUDDY_MAX_PAGES), 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT))
/* Frames of the architectural 52-bit physical address space: a descriptor of usable memory that
 * ends past it (or whose end wraps) describes RAM no machine has, and is ignored whole. */
#define PHYS_ARCH_FRAMES (PHYS_ADDR_ARCH_END >> PAGE_SHIFT)

/* Frames of wanted ranges that phys_collect dropped at PHYS_LIMIT_PFN (reported by phys_init). */
static uint64_t phys_clipped;
static uint64_t phys_unaligned;   /* descriptor reads with a start off a page boundary (phys_collect) */
static uint64_t phys_impossible;  /* usable descriptors ending past the 52-bit space (phys_collect) */

struct phys_range {
	uint64_t start, end;   /* page numbers, [start, end) */
};

static struct buddy phys_buddy;
static spinlock_t phys_lock = SPINLOCK_INIT(LOCK_RANK_PHYS, "phys");
static struct phys_stats phys_st;
static uint64_t phys_budget = UINT64_MAX;   /* fault injection: cap on allocated_pages */
/* Ranges of one class after subtracting the others and the exception: each ends at the end of one of
 * the class's merged ranges, at the start of another class's, or at the exception's start, so at
 * most PHYS_MAX_RANGES + 1 of them; both classes together twice that, before they merge. */
#define PHYS_CLASS_RANGES (PHYS_MAX_RANGES + 1)
static struct phys_range phys_managed[2 * PHYS_CLASS_RANGES];
static size_t phys_nmanaged;
static struct phys_range phys_loader[PHYS_CLASS_RANGES];   /* held back until phys_release_loader */
static size_t phys_nloader;
static struct phys_range phys_meta;   /* the allocator's metadata frames */
static uint64_t *phys_owners;         /* enum phys_owner of each frame, PHYS_OWNER_BITS each (phys.h) */
/* Bit w set exactly when owner word w is not zero (holds a frame handed out for an owner): lets
 * phys_check count the owners in time that follows what is handed out, not the size of RAM. */
static struct bitset phys_owner_marks;
static uint64_t phys_sweep_at;        /* the next owner word phys_check's bounded sweep reads */
static uint64_t phys_owned[PHYS_OWNER_NONE];   /* allocated frames of each owner (KERNEL's unused) */
static struct phys_range phys_tmp_a[PHYS_MAX_RANGES], phys_tmp_b[PHYS_MAX_RANGES + 1];   /* b: + the exception */
static size_t phys_listed_n;             /* both usable classes' ranges gathered in phys_managed, before
					    it is filled: what the exception's message counts, once */
static struct phys_range phys_except;   /* frames phys_init_except keeps out, [start, end) */
static uint64_t phys_kept_out;          /* of them, frames the map lists as usable (reported) */

typedef bool (*phys_pred_t)(uint32_t type, uint64_t attr);

#define PHYS_OWNER_BITS 2u
#define PHYS_OWNER_PER_WORD (64u / PHYS_OWNER_BITS)
#define PHYS_OWNER_FIELD ((1ULL << PHYS_OWNER_BITS) - 1)
#define PHYS_OWNER_LOW_BITS 0x5555555555555555ULL   /* bit 0 of every field: times an owner, its pattern */
STATIC_ASSERT(PHYS_OWNER_NONE == 1u << PHYS_OWNER_BITS, "every owner fits a field");

/* Bytes of the owner map for frames [0, npages): whole words. */
static uint64_t phys_owner_bytes(uint64_t npages)
{
	return (npages + PHYS_OWNER_PER_WORD - 1) / PHYS_OWNER_PER_WORD * 8;
}

/* The owner recorded for frame pfn (below the highest frame); lock held. */
static enum phys_owner phys_owner_get(uint64_t pfn)
{
	uint64_t w = phys_owners[pfn / PHYS_OWNER_PER_WORD];
	return (enum phys_owner)(w >> (pfn % PHYS_OWNER_PER_WORD * PHYS_OWNER_BITS) & PHYS_OWNER_FIELD);
}

/* Records owner for frames [pfn, pfn + n), a word at a time, marking the words it leaves non-zero
 * (and unmarking those it empties), and moves the frames in the per-owner counts from the owner each
 * had (the run's frames share one: one allocation, or free); lock held. */
static void phys_owner_set(uint64_t pfn, uint64_t n, enum phys_owner owner)
{
	if (n == 0)
		return;
	enum phys_owner was = phys_owner_get(pfn);
	if (was != PHYS_OWNER_KERNEL)
		phys_owned[was] -= n;
	if (owner != PHYS_OWNER_KERNEL)
		phys_owned[owner] += n;
	uint64_t pattern = PHYS_OWNER_LOW_BITS * owner;
	while (n) {
		uint64_t first = pfn % PHYS_OWNER_PER_WORD, take = MIN(n, PHYS_OWNER_PER_WORD - first);
		uint64_t mask = (take == PHYS_OWNER_PER_WORD ? ~0ULL : (1ULL << (take * PHYS_OWNER_BITS)) - 1)
				<< (first * PHYS_OWNER_BITS);
		uint64_t *w = &phys_owners[pfn / PHYS_OWNER_PER_WORD], old = *w;
		*w = (old & ~mask) | (pattern & mask);
		if (*w && !old)
			bitset_set(&phys_owner_marks, pfn / PHYS_OWNER_PER_WORD);
		else if (old && !*w)
			bitset_clear(&phys_owner_marks, pfn / PHYS_OWNER_PER_WORD);
		pfn += take;
		n -= take;
	}
}

/* Sets frames [pfn, pfn + n), just freed, back to PHYS_OWNER_KERNEL: a run of each owner at a time
 * (a range may span allocations of different owners); lock held. */
static void phys_owner_clear(uint64_t pfn, uint64_t n)
{
	while (n) {
		enum phys_owner o = phys_owner_get(pfn);
		uint64_t run = 1;
		while (run < n && phys_owner_get(pfn + run) == o)
			run++;
		if (o != PHYS_OWNER_KERNEL)
			phys_owner_set(pfn, run, PHYS_OWNER_KERNEL);
		pfn += run;
		n -= run;
	}
}

/* Attributes that keep a descriptor of a usable type from the allocator: runtime memory, which the
 * firmware still uses after the switch, and specific-purpose memory (UEFI 2.8 EFI_MEMORY_SP: set
 * aside for a particular use, such as high-bandwidth memory a driver claims; Linux keeps it "soft
 * reserved" from its page allocator, and so does this kernel). */
#define PHYS_ATTR_NOT_GENERAL (EFI_MEMORY_RUNTIME | EFI_MEMORY_SP)

bool phys_type_usable_at_init(uint32_t type, uint64_t attr)
{
	if (attr & PHYS_ATTR_NOT_GENERAL)
		return false;
	return type == EFI_CONVENTIONAL || type == EFI_BS_CODE || type == EFI_BS_DATA;
}

bool phys_type_loader(uint32_t type, uint64_t attr)
{
	if (attr & PHYS_ATTR_NOT_GENERAL)
		return false;
	return type == EFI_LOADER_CODE || type == EFI_LOADER_DATA;
}

/* Sorts ranges by start (insertion sort: maps are short) and merges overlapping/adjacent ones. */
static size_t phys_sort_merge(struct phys_range *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct phys_range x = r[i];
		size_t j = i;
		while (j > 0 && r[j - 1].start > x.start) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && r[i].start <= r[out - 1].end) {
			if (r[i].end > r[out - 1].end)
				r[out - 1].end = r[i].end;
		} else {
			r[out++] = r[i];
		}
	}
	return out;
}

/* Collects descriptors for which pred(type) == want into out, sorted and merged. */
static size_t phys_collect(const void *map, size_t nd, size_t dsz, phys_pred_t pred, bool want,
			   struct phys_range *out)
{
	size_t n = 0;
	for (size_t i = 0; i < nd; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		if (pred(d->type, d->attribute) != want || d->num_pages == 0)
			continue;
		uint64_t s = d->phys_start >> PAGE_SHIFT, e = s + d->num_pages;
		/* every frame the bytes touch, to the top when they wrap: what says whether the entry is
		 * possible at all, the same for both collections */
		uint64_t touched = e < s ? UINT64_MAX : e + ((d->phys_start & PAGE_MASK) && e != UINT64_MAX);
		/* A start off a page boundary (UEFI forbids it; a firmware's bug): the entry's bytes
		 * reach into page e. What is wanted keeps only its whole pages, the rest covers every page
		 * it touches, so a page shared with another kind of memory is never handed out. */
		if (d->phys_start & PAGE_MASK) {
			phys_unaligned++;
			if (want)
				s++;
			else if (e >= s)
				e += e != UINT64_MAX;
		}
		/* RAM (of either usable class) past any machine's: a bogus entry, ignored whole here and
		 * when the other class is collected, so it takes no real frame from that one either */
		if ((e < s || touched > PHYS_ARCH_FRAMES) &&
		    (phys_type_usable_at_init(d->type, d->attribute) || phys_type_loader(d->type, d->attribute))) {
			phys_impossible += want;
			continue;
		}
		if (e < s || e > PHYS_LIMIT_PFN) {   /* past what we can manage: clamp */
			if (want)
				phys_clipped += (e < s ? UINT64_MAX : e) - MAX(s, PHYS_LIMIT_PFN);
			e = PHYS_LIMIT_PFN;
		}
		if (s >= PHYS_LIMIT_PFN || s >= e)
			continue;
		out[n++] = (struct phys_range){ s, e };
	}
	return phys_sort_merge(out, n);
}

/* out = a minus b (both sorted and merged); out may not alias a or b. */
static size_t phys_subtract(const struct phys_range *a, size_t na, const struct phys_range *b,
			    size_t nb, struct phys_range *out)
{
	size_t n = 0, j = 0;
	for (size_t i = 0; i < na; i++) {
		uint64_t s = a[i].start, e = a[i].end;
		while (j < nb && b[j].end <= s)
			j++;
		for (size_t k = j; k < nb && b[k].start < e && s < e; k++) {
			if (b[k].start > s) {
				KASSERT(n < PHYS_CLASS_RANGES, "range overflow");
				out[n++] = (struct phys_range){ s, b[k].start };
			}
			if (b[k].end > s)
				s = b[k].end;
		}
		if (s < e) {
			KASSERT(n < PHYS_CLASS_RANGES, "range overflow");
			out[n++] = (struct phys_range){ s, e };
		}
	}
	return n;
}

/* Frames of [s, e) in the sorted, merged ranges r[0, n). */
static uint64_t phys_overlap(const struct phys_range *r, size_t n, uint64_t s, uint64_t e)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].start < e && s < r[i].end)
			t += MIN(e, r[i].end) - MAX(s, r[i].start);
	return t;
}

/* Computes merged(pred) minus merged(!pred) into out. */
static size_t phys_ranges_of(const void *map, size_t nd, size_t dsz, phys_pred_t pred,
			     struct phys_range *out)
{
	size_t na = phys_collect(map, nd, dsz, pred, true, phys_tmp_a);
	size_t nb = phys_collect(map, nd, dsz, pred, false, phys_tmp_b);
	for (size_t i = 0; i < na; i++)
		phys_managed[phys_listed_n++] = phys_tmp_a[i];
	if (phys_except.end > phys_except.start) {
		phys_tmp_b[nb++] = phys_except;
		nb = phys_sort_merge(phys_tmp_b, nb);
	}
	return phys_subtract(phys_tmp_a, na, phys_tmp_b, nb, out);
}

static uint64_t phys_range_pages(const struct phys_range *r, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += r[i].end - r[i].start;
	return t;
}

/* Removes frame 0 from sorted ranges r (it is never handed out: 0 means failure). */
static size_t phys_drop_frame0(struct phys_range *r, size_t n)
{
	if (n > 0 && r[0].start == 0) {
		r[0].start = 1;
		if (r[0].end == 1) {
			for (size_t i = 1; i < n; i++)
				r[i - 1] = r[i];
			n--;
		}
	}
	return n;
}

/* Index of the last of the sorted, disjoint ranges r[0, n) starting at or before pfn; n when none. */
static size_t phys_range_find(const struct phys_range *r, size_t n, uint64_t pfn)
{
	size_t lo = 0, hi = n;   /* r[0, lo) start at or before pfn, r[hi, n) after it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].start <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : n;
}

/* End of the run of frames from pfn that the allocator may hold (managed RAM, not its metadata, not
 * loader memory held back): pfn itself when pfn is no such frame. O(log ranges); lock held. */
static uint64_t phys_usable_end(uint64_t pfn)
{
	size_t i = phys_range_find(phys_managed, phys_nmanaged, pfn);
	if (i == phys_nmanaged || pfn >= phys_managed[i].end)
		return pfn;
	uint64_t end = phys_managed[i].end;
	if (pfn >= phys_meta.start && pfn < phys_meta.end)
		return pfn;
	if (phys_meta.start > pfn)
		end = MIN(end, phys_meta.start);
	size_t j = phys_range_find(phys_loader, phys_nloader, pfn);
	if (j < phys_nloader && pfn < phys_loader[j].end)
		return pfn;
	j = j == phys_nloader ? 0 : j + 1;   /* the first loader range after pfn */
	if (j < phys_nloader)
		end = MIN(end, phys_loader[j].start);
	return end;
}

int phys_init(const void *map, size_t map_size, size_t desc_size)
{
	return phys_init_except(map, map_size, desc_size, 0, 0);
}

int phys_init_except(const void *map, size_t map_size, size_t desc_size, paddr_t except_pa, uint64_t except_bytes)
{
	static struct phys_range now[PHYS_CLASS_RANGES];
	uint64_t whole, tail;
	enum efi_mmap_geometry_status g = efi_mmap_geometry(map_size, desc_size, PHYS_MAX_RANGES, &whole, &tail);
	if (g == EFI_MMAP_GEOMETRY_TOO_LARGE) {
		kprintf("phys: memory map has %llu descriptors, more than %d supported\n", (unsigned long long)whole,
			PHYS_MAX_RANGES);
		return -1;
	}
	/* Descriptors are read in place: the map and the stride keep each one 8-byte aligned. */
	if ((g != EFI_MMAP_GEOMETRY_OK && g != EFI_MMAP_GEOMETRY_RAGGED) || (uintptr_t)map % EFI_MMAP_DESC_ALIGN) {
		kprintf("phys: bad memory map geometry (size %zu, descriptor size %zu, at 0x%llx): %s\n", map_size,
			desc_size, (unsigned long long)(uintptr_t)map, g == EFI_MMAP_GEOMETRY_OK || g == EFI_MMAP_GEOMETRY_RAGGED ?
			"the map does not start on an 8-byte boundary" : efi_mmap_geometry_text(g));
		return -1;
	}
	if (g == EFI_MMAP_GEOMETRY_RAGGED)
		kprintf("phys: memory map of %zu bytes is %llu descriptors of %zu bytes and %llu bytes more: %s\n", map_size,
			(unsigned long long)whole, desc_size, (unsigned long long)tail, efi_mmap_geometry_text(g));
	size_t nd = whole;
	phys_clipped = phys_unaligned = phys_impossible = 0;
	/* every frame the bytes touch (to the top of the address space when they wrap), clamped to
	 * what the allocator can manage */
	uint64_t xend = except_bytes > UINT64_MAX - except_pa ? UINT64_MAX : except_pa + except_bytes;
	uint64_t xs = MIN(except_pa >> PAGE_SHIFT, PHYS_LIMIT_PFN);
	uint64_t xe = MIN(xend / PAGE_SIZE + (xend % PAGE_SIZE != 0), PHYS_LIMIT_PFN);
	phys_except = (struct phys_range){ xs, except_bytes ? xe : xs };
	phys_listed_n = 0;
	size_t nnow = phys_drop_frame0(now, phys_ranges_of(map, nd, desc_size, phys_type_usable_at_init, now));
	phys_nloader = phys_drop_frame0(phys_loader,
					phys_ranges_of(map, nd, desc_size, phys_type_loader, phys_loader));
	/* the exception's frames either usable class lists, each once (the classes may overlap) */
	phys_listed_n = phys_sort_merge(phys_managed, phys_listed_n);
	phys_kept_out = phys_overlap(phys_managed, phys_listed_n, phys_except.start, phys_except.end);
	for (size_t i = 0; i < nnow; i++)
		phys_managed[i] = now[i];
	for (size_t i = 0; i < phys_nloader; i++)
		phys_managed[nnow + i] = phys_loader[i];
	phys_nmanaged = phys_sort_merge(phys_managed, nnow + phys_nloader);
	if (phys_nmanaged == 0) {
		kprintf("phys: no usable memory in the map\n");
		return -1;
	}
	if (phys_unaligned)
		kprintf("phys: the firmware's memory map has descriptors that start off a 4 KiB boundary (UEFI "
			"requires alignment; a firmware bug): only the whole pages of their RAM are used\n");
	if (phys_kept_out)
		kprintf("phys: the map lists %llu pages of [0x%llx, +0x%llx) as usable RAM (the framebuffer: a firmware "
			"bug); they are kept out\n", (unsigned long long)phys_kept_out, (unsigned long long)except_pa,
			(unsigned long long)except_bytes);
	if (phys_impossible)
		kprintf("phys: ignoring %llu usable descriptor(s) whose RAM ends past the 52-bit physical address space "
			"(a firmware bug)\n", (unsigned long long)phys_impossible);
	if (phys_clipped)
		kprintf("phys: ignoring %llu pages of RAM at or above 0x%llx, past what the allocator manages\n",
			(unsigned long long)phys_clipped, (unsigned long long)pfn_to_pa(PHYS_LIMIT_PFN));
	uint64_t highest = phys_managed[phys_nmanaged - 1].end;
	uint64_t buddy_bytes = ALIGN_UP(buddy_meta_bytes(highest), 8);
	uint64_t owner_bytes = phys_owner_bytes(highest);
	uint64_t meta_pages = ALIGN_UP(buddy_bytes + owner_bytes + bitset_meta_bytes(owner_bytes / 8), PAGE_SIZE) >> PAGE_SHIFT;
	size_t mi = 0;
	while (mi < nnow && now[mi].end - now[mi].start < meta_pages)
		mi++;
	if (mi == nnow) {
		kprintf("phys: no free range holds the allocator's %llu metadata pages\n",
			(unsigned long long)meta_pages);
		return -1;
	}
	paddr_t meta_pa = pfn_to_pa(now[mi].start);
	phys_meta = (struct phys_range){ now[mi].start, now[mi].start + meta_pages };
	now[mi].start += meta_pages;
	/* every frame starts as PHYS_OWNER_KERNEL: free or never handed out */
	phys_owners = (uint64_t *)((char *)arch_phys_to_virt(meta_pa) + buddy_bytes);
	for (uint64_t w = 0; w < owner_bytes / 8; w++)
		phys_owners[w] = 0;
	bitset_init(&phys_owner_marks, owner_bytes / 8, (char *)phys_owners + owner_bytes);
	phys_sweep_at = 0;
	for (unsigned o = 0; o < PHYS_OWNER_NONE; o++)
		phys_owned[o] = 0;
	/* a free frame lends word 0 to the allocator's records (buddy.h, verifier.h) */
	buddy_init(&phys_buddy, highest, 0, arch_phys_to_virt(meta_pa), arch_phys_to_virt(0), PAGE_SHIFT - 3);
	for (size_t i = 0; i < nnow; i++)
		if (now[i].end > now[i].start) {
			bool ok = buddy_free(&phys_buddy, now[i].start, now[i].end - now[i].start);
			KASSERT(ok, "phys: usable range [0x%llx, 0x%llx) met free frames", (unsigned long long)now[i].start,
				(unsigned long long)now[i].end);
			if (mm_verifier)
				verifier_poison(pfn_to_pa(now[i].start), now[i].end - now[i].start);
		}
	phys_st = (struct phys_stats){
		.usable_pages = phys_range_pages(phys_managed, phys_nmanaged),
		.free_pages = phys_range_pages(now, nnow),
		.meta_pages = meta_pages,
		.loader_pages = phys_range_pages(phys_loader, phys_nloader),
		.highest_pfn = highest,
	};
	return 0;
}

/* Hands the loader's ranges over once; a second call finds none and does nothing. The ranges are
 * disjoint from everything phys_init freed (phys_ranges_of), which buddy_free checks again. */
void phys_release_loader(void)
{
	uint64_t f = spin_lock(&phys_lock);
	for (size_t i = 0; i < phys_nloader; i++) {
		bool ok = buddy_free(&phys_buddy, phys_loader[i].start, phys_loader[i].end - phys_loader[i].start);
		KASSERT(ok, "phys: loader range [0x%llx, 0x%llx) met free frames", (unsigned long long)phys_loader[i].start,
			(unsigned long long)phys_loader[i].end);
		if (mm_verifier)
			verifier_poison(pfn_to_pa(phys_loader[i].start), phys_loader[i].end - phys_loader[i].start);
	}
	phys_st.free_pages += phys_st.loader_pages;
	phys_st.loader_pages = 0;
	phys_nloader = 0;
	spin_unlock(&phys_lock, f);
}

paddr_t phys_alloc(uint64_t npages, paddr_t lo, paddr_t hi)
{
	return phys_alloc_aligned(npages, 1, lo, hi);
}

uint64_t phys_alloc_calls;

paddr_t phys_alloc_aligned(uint64_t npages, uint64_t align_pages, paddr_t lo, paddr_t hi)
{
	return phys_alloc_owned(npages, align_pages, lo, hi, PHYS_OWNER_KERNEL);
}

/* Gives back frames [pfn, pfn + npages) just allocated, whose verifier check found a free page
 * written: the allocator as before the allocation, the pages as found (not poisoned again, so the
 * write stays for the next allocation of them to meet). */
static void phys_alloc_undo(uint64_t pfn, uint64_t npages)
{
	uint64_t f = spin_lock(&phys_lock);
	phys_owner_clear(pfn, npages);
	bool ok = buddy_free(&phys_buddy, pfn, npages);
	KASSERT(ok, "phys: frames 0x%llx + %llu just allocated could not go back", (unsigned long long)pfn,
		(unsigned long long)npages);
	phys_st.free_pages += npages;
	phys_st.allocated_pages -= npages;
	spin_unlock(&phys_lock, f);
}

/* A free frame's owner is already PHYS_OWNER_KERNEL: only the other owners write the map. */
paddr_t phys_alloc_owned(uint64_t npages, uint64_t align_pages, paddr_t lo, paddr_t hi, enum phys_owner owner)
{
	KASSERT(owner < PHYS_OWNER_NONE, "phys_alloc_owned: owner %u", owner);
	__atomic_fetch_add(&phys_alloc_calls, 1, __ATOMIC_RELAXED);
	if (npages == 0 || npages > phys_st.highest_pfn || align_pages == 0 || (align_pages & (align_pages - 1)))
		return 0;
	uint64_t lo_pfn = ALIGN_UP(lo, PAGE_SIZE) >> PAGE_SHIFT;
	if (lo > UINT64_MAX - PAGE_SIZE)
		return 0;
	uint64_t hi_pfn = MIN(hi >> PAGE_SHIFT, phys_st.highest_pfn);
	if (lo_pfn >= hi_pfn || hi_pfn - lo_pfn < npages)
		return 0;
	uint64_t start;
	uint64_t f = spin_lock(&phys_lock);
	bool ok = phys_st.allocated_pages + npages <= phys_budget &&
		  buddy_alloc(&phys_buddy, npages, align_pages, lo_pfn, hi_pfn, &start);
	if (ok) {
		phys_st.free_pages -= npages;
		phys_st.allocated_pages += npages;
		if (owner != PHYS_OWNER_KERNEL)
			phys_owner_set(start, npages, owner);
	}
	spin_unlock(&phys_lock, f);
	if (ok && mm_verifier) {
		if (!verifier_check_poison(pfn_to_pa(start), npages)) {
			phys_alloc_undo(start, npages);   /* the bug check was intercepted: as before the call */
			return 0;
		}
		KASSERT(phys_check() == 0, "verifier: physical allocator inconsistent after an allocation");
	}
	return ok ? pfn_to_pa(start) : 0;
}

void phys_zero(paddr_t pa, uint64_t npages)
{
	volatile uint64_t *p = arch_phys_to_virt(pa);
	for (uint64_t i = 0; i < npages * (PAGE_SIZE / 8); i++)
		p[i] = 0;
}

paddr_t phys_alloc_zeroed_page(void)
{
	paddr_t pa = phys_alloc(1, 0, UINT64_MAX);
	if (pa)
		phys_zero(pa, 1);
	return pa;
}

/* The accounting, owner map and verifier poison of npages frames from pfn that went back to the
 * buddy; lock held. */
static void phys_freed_locked(uint64_t pfn, uint64_t npages)
{
	phys_st.free_pages += npages;
	phys_st.allocated_pages -= npages;
	phys_owner_clear(pfn, npages);
	if (mm_verifier)
		verifier_poison(pfn_to_pa(pfn), npages);
}

/* Frees [pa, +npages) after checking every frame of it (phys.h); bug check 0x1A on a misuse. */
void phys_free(paddr_t pa, uint64_t npages)
{
	uint64_t pfn = pa_to_pfn(pa), end, first = pa;
	bool bad = true;
	uint64_t f = spin_lock(&phys_lock);
	if (IS_ALIGNED(pa, PAGE_SIZE) && npages) {
		if ((end = phys_usable_end(pfn)) - pfn < npages)
			first = pfn_to_pa(end);
		else if (!buddy_free(&phys_buddy, pfn, npages))
			first = pfn_to_pa(buddy_range_first_free(&phys_buddy, pfn, npages));
		else
			bad = false;
	}
	if (!bad)
		phys_freed_locked(pfn, npages);
	spin_unlock(&phys_lock, f);
	if (bad) {
		KeBugCheckEx(BUGCHECK_MEMORY_MANAGEMENT, PHYS_BUGCHECK_BAD_FREE, pa, npages, first);
		return;
	}
	if (mm_verifier)
		KASSERT(phys_check() == 0, "verifier: physical allocator inconsistent after a free");
}

/* Length of the run of consecutive frame numbers at pfn[i] (at most n - i). */
static uint64_t phys_list_run(const uint64_t *pfn, uint64_t n, uint64_t i)
{
	uint64_t run = 1;
	while (i + run < n && pfn[i + run] == pfn[i] + run)
		run++;
	return run;
}

/* The index in pfn[i, i + run) (one run of managed frames) of its first frame that is free or not
 * handed out for owner; i + run when none; lock held. */
static uint64_t phys_run_first_foreign(const uint64_t *pfn, uint64_t i, uint64_t run, enum phys_owner owner)
{
	uint64_t ff = buddy_range_first_free(&phys_buddy, pfn[i], run);
	uint64_t held = ff == UINT64_MAX ? run : ff - pfn[i];
	for (uint64_t k = 0; k < held; k++)
		if (phys_owner_get(pfn[i] + k) != owner)
			return i + k;
	return i + held;
}

bool phys_run_owned(paddr_t pa, uint64_t npages, enum phys_owner owner)
{
	KASSERT(owner < PHYS_OWNER_NONE, "phys_run_owned: owner %u", owner);
	uint64_t pfn = pa_to_pfn(pa);
	bool ok = false;
	uint64_t f = spin_lock(&phys_lock);
	if (IS_ALIGNED(pa, PAGE_SIZE) && npages && phys_usable_end(pfn) - pfn >= npages)
		ok = phys_run_first_foreign(&pfn, 0, npages, owner) == npages;
	spin_unlock(&phys_lock, f);
	return ok;
}

bool phys_free_run(paddr_t pa, uint64_t npages, enum phys_owner owner, paddr_t *bad)
{
	KASSERT(owner < PHYS_OWNER_NONE, "phys_free_run: owner %u", owner);
	uint64_t pfn = pa_to_pfn(pa), end, at;
	bool ok = false;
	*bad = pa;
	uint64_t f = spin_lock(&phys_lock);
	if (IS_ALIGNED(pa, PAGE_SIZE) && npages) {
		if ((end = phys_usable_end(pfn)) - pfn < npages)
			*bad = pfn_to_pa(end);
		else if ((at = phys_run_first_foreign(&pfn, 0, npages, owner)) < npages)
			*bad = pfn_to_pa(pfn + at);
		else
			ok = buddy_free(&phys_buddy, pfn, npages);   /* every frame handed out: it cannot refuse */
	}
	if (ok)
		phys_freed_locked(pfn, npages);
	spin_unlock(&phys_lock, f);
	if (ok && mm_verifier)
		KASSERT(phys_check() == 0, "verifier: physical allocator inconsistent after a free");
	return ok;
}

/* Frees the frames listed, all or none (phys.h). */
bool phys_free_frames(const uint64_t *pfn, uint64_t n, enum phys_owner owner, uint64_t *bad)
{
	KASSERT(owner < PHYS_OWNER_NONE, "phys_free_frames: owner %u", owner);
	bool ok = true;
	uint64_t f = spin_lock(&phys_lock);
	for (uint64_t i = 0, run, end; ok && i < n; i += run) {   /* frames the allocator never holds */
		run = phys_list_run(pfn, n, i);
		if ((end = phys_usable_end(pfn[i])) - pfn[i] < run) {
			*bad = i + (end - pfn[i]);
			ok = false;
		}
	}
	for (uint64_t i = 0, run, at; ok && i < n; i += run) {   /* free, or handed out for another owner */
		run = phys_list_run(pfn, n, i);
		if ((at = phys_run_first_foreign(pfn, i, run, owner)) < i + run) {
			*bad = at;
			ok = false;
		}
	}
	if (ok)   /* listed twice: the buddy checks the whole list before it frees any of it */
		ok = buddy_free_list(&phys_buddy, pfn, n, bad);
	if (ok) {
		phys_st.free_pages += n;
		phys_st.allocated_pages -= n;
		for (uint64_t i = 0, run; i < n; i += run) {
			run = phys_list_run(pfn, n, i);
			phys_owner_set(pfn[i], run, PHYS_OWNER_KERNEL);
		}
		for (uint64_t i = 0, run; mm_verifier && i < n; i += run) {
			run = phys_list_run(pfn, n, i);
			verifier_poison(pfn_to_pa(pfn[i]), run);
		}
	}
	spin_unlock(&phys_lock, f);
	if (ok && mm_verifier)
		KASSERT(phys_check() == 0, "verifier: physical allocator inconsistent after a list free");
	return ok;
}

void phys_set_budget(uint64_t pages)
{
	uint64_t f = spin_lock(&phys_lock);
	phys_budget = pages;
	spin_unlock(&phys_lock, f);
}

void phys_get_stats(struct phys_stats *st)
{
	uint64_t f = spin_lock(&phys_lock);
	*st = phys_st;
	st->mdl_pages = phys_owned[PHYS_OWNER_MDL];
	st->pool_slab_pages = phys_owned[PHYS_OWNER_POOL_SLAB];
	st->pool_large_pages = phys_owned[PHYS_OWNER_POOL_LARGE];
	spin_unlock(&phys_lock, f);
}

enum phys_owner phys_owner_of(paddr_t pa)
{
	uint64_t pfn = pa_to_pfn(pa);
	uint64_t f = spin_lock(&phys_lock);
	enum phys_owner o = PHYS_OWNER_NONE;
	if (phys_usable_end(pfn) > pfn && buddy_range_first_free(&phys_buddy, pfn, 1) == UINT64_MAX)
		o = phys_owner_get(pfn);
	spin_unlock(&phys_lock, f);
	return o;
}

bool phys_is_free(paddr_t pa, uint64_t npages)
{
	uint64_t pfn = pa_to_pfn(pa);
	if (pfn + npages > phys_st.highest_pfn || pfn + npages < pfn)
		return false;
	uint64_t f = spin_lock(&phys_lock);
	bool r = buddy_range_is_free(&phys_buddy, pfn, npages);
	spin_unlock(&phys_lock, f);
	return r;
}

bool phys_is_allocated(paddr_t pa, uint64_t npages)
{
	uint64_t pfn = pa_to_pfn(pa);
	if (!IS_ALIGNED(pa, PAGE_SIZE) || !npages)
		return false;
	uint64_t f = spin_lock(&phys_lock);
	bool r = phys_usable_end(pfn) - pfn >= npages && buddy_range_first_free(&phys_buddy, pfn, npages) == UINT64_MAX;
	spin_unlock(&phys_lock, f);
	return r;
}

bool phys_is_managed(paddr_t pa)
{
	uint64_t pfn = pa_to_pfn(pa);
	size_t i = phys_range_find(phys_managed, phys_nmanaged, pfn);
	return i < phys_nmanaged && pfn < phys_managed[i].end;
}

/* phys_for_each_free's callback and its argument. */
struct phys_walk {
	void (*fn)(paddr_t pa, uint64_t npages, void *arg);
	void *arg;
};

/* Adapts a buddy extent (frame numbers) to phys_for_each_free's callback (physical addresses). */
static void phys_free_extent_cb(uint64_t start, uint64_t count, void *arg)
{
	struct phys_walk *c = arg;
	c->fn(pfn_to_pa(start), count, c->arg);
}

void phys_census(uint64_t out[BUDDY_ORDERS])
{
	uint64_t f = spin_lock(&phys_lock);
	buddy_census(&phys_buddy, out);
	spin_unlock(&phys_lock, f);
}

/* buddy_for_each_free's callback for phys_free_owned_frame: the marked owner words that free
 * extent [start, start + count) meets (only those at its ends, when the map is right), their
 * fields of its frames; *arg the first frame found with an owner, once found. */
static void phys_free_owned_cb(uint64_t start, uint64_t count, void *arg)
{
	uint64_t *found = arg, end = start + count;
	for (uint64_t w = bitset_next(&phys_owner_marks, start / PHYS_OWNER_PER_WORD);
	     *found == UINT64_MAX && w != UINT64_MAX && w * PHYS_OWNER_PER_WORD < end;
	     w = bitset_next(&phys_owner_marks, w + 1))
		for (uint64_t f = MAX(start, w * PHYS_OWNER_PER_WORD); f < MIN(end, (w + 1) * PHYS_OWNER_PER_WORD); f++)
			if (phys_owner_get(f) != PHYS_OWNER_KERNEL) {
				*found = f;
				break;
			}
}

/* The first frame the allocator holds free that the owner map names an owner for, or UINT64_MAX:
 * a frame handed out keeps its owner until it is freed. Walks the free extents and the marks
 * between their ends, so O(free extents x levels), not the frames; lock held. */
static uint64_t phys_free_owned_frame(void)
{
	uint64_t found = UINT64_MAX;
	buddy_for_each_free(&phys_buddy, phys_free_owned_cb, &found);
	return found;
}

/* Counts the frames of each owner in the marked owner words, found through the marks' level-0 words
 * (a word of marks covers 64 owner words); the first marked word that is zero, or UINT64_MAX.
 * O(marked words + owner words / 64), whatever the frames' owners; lock held. */
static uint64_t phys_owner_census(uint64_t out[PHYS_OWNER_NONE])
{
	for (unsigned o = 0; o < PHYS_OWNER_NONE; o++)
		out[o] = 0;
	for (uint64_t mw = 0; mw < phys_owner_marks.words[0]; mw++)
		for (uint64_t m = *bitset_word0(&phys_owner_marks, mw); m; m &= m - 1) {
			uint64_t w = mw * 64 + (uint64_t)__builtin_ctzll(m);
			uint64_t v = phys_owners[w], lo = v & PHYS_OWNER_LOW_BITS, hi = v >> 1 & PHYS_OWNER_LOW_BITS;
			if (!v)
				return w;
			out[PHYS_OWNER_MDL] += bitset_popcount(lo & ~hi);
			out[PHYS_OWNER_POOL_SLAB] += bitset_popcount(hi & ~lo);
			out[PHYS_OWNER_POOL_LARGE] += bitset_popcount(hi & lo);
		}
	return UINT64_MAX;
}

/* Reads the next n owner words of a sweep that wraps around the map (all of them when n is at least
 * the map's words): an unmarked word must be zero, or its frames' owners are ones the census does
 * not count. The first unmarked word that is not zero, or UINT64_MAX; lock held. */
static uint64_t phys_owner_sweep(uint64_t n)
{
	uint64_t words = phys_owner_marks.nbits;
	for (n = MIN(n, words); n; n--) {
		uint64_t w = phys_sweep_at;
		phys_sweep_at = w + 1 == words ? 0 : w + 1;
		if (phys_owners[w] && !(*bitset_word0(&phys_owner_marks, w / 64) >> (w % 64) & 1))
			return w;
	}
	return UINT64_MAX;
}

/* Owner words phys_check's sweep reads per call: the frames of 2 GiB, so a check reads the whole map
 * on a machine of up to 2 GiB and costs the same on a larger one, which a run of checks covers in
 * turn; phys_check_full reads them all. The allocator's bitmap words that must be zero are read
 * for the same frames (buddy_check_window). */
#define PHYS_SWEEP_WORDS (((2ULL << 30) >> PAGE_SHIFT) / PHYS_OWNER_PER_WORD)

/* phys_check, its sweep reading up to sweep owner words. */
static int phys_check_sweeping(uint64_t sweep)
{
	uint64_t census[PHYS_OWNER_NONE];
	uint64_t f = spin_lock(&phys_lock);
	uint64_t words = phys_owner_marks.nbits;
	int r = buddy_check_window(&phys_buddy, phys_sweep_at * PHYS_OWNER_PER_WORD,
				   sweep >= words ? UINT64_MAX : sweep * PHYS_OWNER_PER_WORD);
	struct phys_stats s = phys_st;
	uint64_t bfree = buddy_free_units(&phys_buddy);
	int marks = bitset_check(&phys_owner_marks);
	uint64_t empty = phys_owner_census(census), unmarked = phys_owner_sweep(sweep);
	uint64_t free_owned = phys_free_owned_frame();
	bool owners_ok = true;
	for (unsigned o = PHYS_OWNER_KERNEL + 1; o < PHYS_OWNER_NONE; o++)
		owners_ok &= census[o] == phys_owned[o];
	uint64_t owned = phys_owned[PHYS_OWNER_MDL] + phys_owned[PHYS_OWNER_POOL_SLAB] + phys_owned[PHYS_OWNER_POOL_LARGE];
	spin_unlock(&phys_lock, f);
	if (r || marks)
		return -1;
	if (empty != UINT64_MAX || unmarked != UINT64_MAX) {
		uint64_t w = empty != UINT64_MAX ? empty : unmarked;
		kprintf("phys_check: the owner word of frames 0x%llx..0x%llx is %s\n",
			(unsigned long long)(w * PHYS_OWNER_PER_WORD), (unsigned long long)(w * PHYS_OWNER_PER_WORD + PHYS_OWNER_PER_WORD - 1),
			empty != UINT64_MAX ? "marked as holding owners but zero" : "not marked but holds owners");
		return -1;
	}
	if (free_owned != UINT64_MAX) {
		kprintf("phys_check: frame 0x%llx is free but the owner map names an owner for it\n",
			(unsigned long long)free_owned);
		return -1;
	}
	if (!owners_ok || owned > s.allocated_pages) {
		kprintf("phys_check: owner map holds %llu MDL, %llu pool slab, %llu pool large frames; handed out %llu, %llu, "
			"%llu of %llu allocated\n", (unsigned long long)census[PHYS_OWNER_MDL],
			(unsigned long long)census[PHYS_OWNER_POOL_SLAB], (unsigned long long)census[PHYS_OWNER_POOL_LARGE],
			(unsigned long long)phys_owned[PHYS_OWNER_MDL], (unsigned long long)phys_owned[PHYS_OWNER_POOL_SLAB],
			(unsigned long long)phys_owned[PHYS_OWNER_POOL_LARGE], (unsigned long long)s.allocated_pages);
		return -1;
	}
	if (bfree != s.free_pages) {
		kprintf("phys_check: allocator has %llu free pages, accounting says %llu\n",
			(unsigned long long)bfree, (unsigned long long)s.free_pages);
		return -1;
	}
	if (s.free_pages + s.allocated_pages + s.meta_pages + s.loader_pages != s.usable_pages) {
		kprintf("phys_check: free %llu + allocated %llu + meta %llu + loader %llu != usable %llu\n",
			(unsigned long long)s.free_pages, (unsigned long long)s.allocated_pages,
			(unsigned long long)s.meta_pages, (unsigned long long)s.loader_pages,
			(unsigned long long)s.usable_pages);
		return -1;
	}
	return 0;
}

uint64_t *phys_owner_word(uint64_t pfn)
{
	KASSERT(pfn < phys_st.highest_pfn, "frame 0x%llx past the highest 0x%llx", (unsigned long long)pfn,
		(unsigned long long)phys_st.highest_pfn);
	return &phys_owners[pfn / PHYS_OWNER_PER_WORD];
}

struct buddy *phys_buddy_hook(void)
{
	return &phys_buddy;
}

int phys_check(void)
{
	return phys_check_sweeping(PHYS_SWEEP_WORDS);
}

int phys_check_full(void)
{
	return phys_check_sweeping(UINT64_MAX);
}

void phys_dump(void)
{
	struct phys_stats s;
	phys_get_stats(&s);
	kprintf("phys: %llu usable pages (%llu MiB), %llu free, %llu allocated, %llu metadata, %llu loader; "
		"%zu ranges up to frame 0x%llx\n",
		(unsigned long long)s.usable_pages, (unsigned long long)(s.usable_pages >> 8),
		(unsigned long long)s.free_pages, (unsigned long long)s.allocated_pages,
		(unsigned long long)s.meta_pages, (unsigned long long)s.loader_pages, phys_nmanaged,
		(unsigned long long)s.highest_pfn);
	kprintf("phys: allocated for MDLs %llu, pool slabs %llu, large pool blocks %llu, the rest %llu\n",
		(unsigned long long)s.mdl_pages, (unsigned long long)s.pool_slab_pages,
		(unsigned long long)s.pool_large_pages,
		(unsigned long long)(s.allocated_pages - s.mdl_pages - s.pool_slab_pages - s.pool_large_pages));
	buddy_dump(&phys_buddy);
}

/* Calls fn for every free extent of frames, in address order, under the allocator's lock. */
void phys_for_each_free(void (*fn)(paddr_t pa, uint64_t npages, void *arg), void *arg)
{
	struct phys_walk c = { fn, arg };
	uint64_t f = spin_lock(&phys_lock);
	buddy_for_each_free(&phys_buddy, phys_free_extent_cb, &c);
	spin_unlock(&phys_lock, f);
}

/* Calls fn for every range of frames the allocator manages (free or allocated), in address order. */
void phys_for_each_managed(void (*fn)(paddr_t pa, uint64_t npages, void *arg), void *arg)
{
	for (size_t i = 0; i < phys_nmanaged; i++)
		fn(pfn_to_pa(phys_managed[i].start), phys_managed[i].end - phys_managed[i].start, arg);
}

/* phys_reset: forgets every range, the allocator and the budget, as before phys_init. For a machine
 * whose memory is being replaced (host_machine_create). */
void phys_reset(void)
{
	phys_buddy = (struct buddy){ 0 };
	spin_init(&phys_lock, LOCK_RANK_PHYS, "phys");
	phys_st = (struct phys_stats){ 0 };
	phys_owners = NULL;
	phys_owner_marks = (struct bitset){ 0 };
	phys_sweep_at = 0;
	for (unsigned o = 0; o < PHYS_OWNER_NONE; o++)
		phys_owned[o] = 0;
	phys_budget = UINT64_MAX;
	phys_clipped = phys_unaligned = phys_impossible = 0;
	phys_nmanaged = phys_nloader = 0;
}
