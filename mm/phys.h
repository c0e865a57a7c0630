/*
 * phys_: the physical page allocator, built from the UEFI memory map on a buddy allocator over
 * page frames. Usable now: Conventional and BootServicesCode/Data. Usable once the kernel has left
 * the loader's tables: LoaderCode/LoaderData (phys_release_loader). Never handed out: runtime
 * services, ACPI (reclaim and NVS), MMIO, reserved, unusable, persistent, unknown types, any range
 * with EFI_MEMORY_RUNTIME, the kernel image, and frame 0. Where descriptors overlap, the
 * non-usable one wins. RAM at or above frame 2^31 - 1 (8 TiB, the buddy's limit) is ignored, with a
 * message. Metadata (about 0.5 byte per frame up to the highest usable frame: the buddy's bitmaps
 * and the owner map, below) is
 * carved from the first usable range that fits; initialisation touches only that metadata and
 * word 0 of the first two frames of each free range: a free frame lends word 0 to the buddy's
 * free-extent records (mm/buddy.h), so the frame's content past word 0 is all a caller may
 * expect to find again (MM_DONT_ZERO_ALLOCATION, the verifier's free-page pattern).
 *
 * Placement: phys_alloc takes any free run of the length inside the bounds (it fails only when none
 * exists); an alignment the caller needs is asked for explicitly (phys_alloc_aligned).
 * Frees are checked whole, in every mode: a frame handed back must be one the allocator manages
 * (usable RAM, not its metadata, not loader memory still held back) and be allocated; a misuse
 * is a bug check (phys_free) or a refusal (phys_free_frames) with nothing changed.
 */
#ifndef PHYS_H
#define PHYS_H

#include "types.h"
#include "buddy.h"
#include "bootinfo.h"

/* Descriptors considered; a longer map is refused (-1, a message). The loader hands over no longer
 * map: the limit is the hand-over's (include/bootinfo.h). */
#define PHYS_MAX_RANGES BOOTINFO_MMAP_MAX_DESCS

/*
 * Who an allocated frame was handed out for: two bits per frame beside the buddy's metadata (0.25
 * byte a frame), written under the allocator's lock by every allocation and free, so a free frame
 * always reads PHYS_OWNER_KERNEL. What lets MmFreePagesFromMdl refuse a frame no MDL allocation
 * handed out (a pool page, a page table) and the pool tell its slab pages from foreign memory when
 * a slab's header was overwritten (as NT's PFN database tells a page's use).
 */
enum phys_owner {
	PHYS_OWNER_KERNEL = 0,      /* free, or any allocation but the three below (tables, metadata, ...) */
	PHYS_OWNER_MDL = 1,         /* MmAllocatePagesForMdl[Ex]: MmFreePagesFromMdl frees these only */
	PHYS_OWNER_POOL_SLAB = 2,   /* one page of small pool blocks */
	PHYS_OWNER_POOL_LARGE = 3,  /* the pages of one large pool block */
	PHYS_OWNER_NONE = 4,        /* phys_owner_of: no frame the allocator has handed out */
};

struct phys_stats {
	uint64_t usable_pages;     /* every page that is or will be the allocator's to manage */
	uint64_t free_pages;
	uint64_t allocated_pages;  /* handed out through phys_alloc* and not freed */
	uint64_t meta_pages;       /* the allocator's own metadata */
	uint64_t loader_pages;     /* loader pages not yet released */
	uint64_t highest_pfn;      /* one past the highest usable frame */
	uint64_t mdl_pages;        /* of allocated_pages: handed out for MDLs (PHYS_OWNER_MDL) */
	uint64_t pool_slab_pages;  /* ... for pool slabs */
	uint64_t pool_large_pages; /* ... for large pool blocks */
};

/* Initialises from the map; returns 0 or a negative value with a printed reason. A map whose size is
 * not a whole number of descriptors (efi_mmap_geometry's RAGGED) is read as its whole descriptors,
 * with a printed line naming the bytes ignored; an unreadable stride, a map not 8-byte aligned or one
 * of more than PHYS_MAX_RANGES descriptors is refused. */
int phys_init(const void *map, size_t map_size, size_t desc_size);
/* phys_init with every frame [except_pa, except_pa + except_bytes) touches kept out as if the map
 * listed it reserved (bytes 0: none; a range that wraps reaches the top): the framebuffer, which
 * some firmware lists inside usable RAM. Frames of it the map listed as usable are reported. */
int phys_init_except(const void *map, size_t map_size, size_t desc_size, paddr_t except_pa, uint64_t except_bytes);
/* Forgets everything phys_init and later calls set up, the budget included (the machine is being replaced). */
void phys_reset(void);
/* Hands the loader's pages (remembered by phys_init) to the allocator; once, after the kernel's own tables are live. */
void phys_release_loader(void);

/* Allocates npages contiguous frames inside [lo, hi) (0, ~0 for anywhere), any run; 0 only when no
 * free run of npages frames lies inside [lo, hi) (or the fault-injection budget is spent). A
 * power-of-two count is naturally aligned when that comes free (mm/buddy.h), never by necessity. */
paddr_t phys_alloc(uint64_t npages, paddr_t lo, paddr_t hi);
/* The same with the first frame a multiple of align_pages (a power of two; else 0 is returned). */
paddr_t phys_alloc_aligned(uint64_t npages, uint64_t align_pages, paddr_t lo, paddr_t hi);
/* phys_alloc_aligned with the frames recorded as handed out for owner (not PHYS_OWNER_NONE). */
paddr_t phys_alloc_owned(uint64_t npages, uint64_t align_pages, paddr_t lo, paddr_t hi, enum phys_owner owner);
/* What pa's frame was handed out for; PHYS_OWNER_NONE when it is free or not a frame the allocator
 * manages. O(log ranges + bitmap levels), under the allocator's lock. */
enum phys_owner phys_owner_of(paddr_t pa);
/* Zeroes npages frames from pa through the direct map. */
void phys_zero(paddr_t pa, uint64_t npages);
/* Allocates one zeroed page; 0 on failure. */
paddr_t phys_alloc_zeroed_page(void);
/*
 * Frees npages frames from pa, allocated by phys_alloc* (any part of an allocation may go back
 * alone). Bug check 0x1A, P1 PHYS_BUGCHECK_BAD_FREE, nothing changed (if intercepted): pa not page
 * aligned; npages 0; a frame the allocator does not manage (outside usable RAM, frame 0, its
 * metadata, loader memory not yet released); a frame already free. Cost O(log ranges + bitmap
 * levels) plus a read of the owner map per frame (plus the verifier's pattern in verifier mode).
 */
void phys_free(paddr_t pa, uint64_t npages);
/*
 * Frees [pa, +npages) when every frame of it is one the allocator manages, has handed out, and
 * handed out for owner: true. False, nothing changed and no bug check, otherwise, with *bad the
 * first frame at fault (pa itself when pa is not page aligned or npages is 0): for a caller that
 * raises phys_free's 0x1A (P1 PHYS_BUGCHECK_BAD_FREE, P2 pa, P3 npages, P4 *bad) itself once its own
 * lock is dropped (the pool). Cost as phys_free's.
 */
bool phys_free_run(paddr_t pa, uint64_t npages, enum phys_owner owner, paddr_t *bad);
/* True when every frame of [pa, +npages) is managed, handed out, and handed out for owner (what
 * phys_free_run would free). One lock; O(levels + npages). For checkers (pool_check). */
bool phys_run_owned(paddr_t pa, uint64_t npages, enum phys_owner owner);
/*
 * Frees the n frames listed in pfn[] (consecutive numbers as one run), all or none: true when
 * freed. False, nothing changed, when an entry is not a frame the allocator manages (as phys_free),
 * is free, was handed out for another owner than owner, or repeats an earlier entry; *bad = the
 * index of the entry at fault: the first unmanaged one, else the first free or foreign one, else
 * the second listing of the first repeat. Cost O(runs x (log ranges + bitmap levels) + n);
 * allocates nothing. For MmFreePagesFromMdl (owner PHYS_OWNER_MDL), which bug-checks on false.
 */
bool phys_free_frames(const uint64_t *pfn, uint64_t n, enum phys_owner owner, uint64_t *bad);

void phys_get_stats(struct phys_stats *st);
bool phys_is_free(paddr_t pa, uint64_t npages);
/* True when every frame of [pa, +npages) is one the allocator holds and has handed out (what
 * phys_free would free without a bug check): pa page aligned, npages not 0, none free or unmanaged. */
bool phys_is_allocated(paddr_t pa, uint64_t npages);
/* True when pa's frame is usable RAM the allocator manages (free or allocated). */
bool phys_is_managed(paddr_t pa);
void phys_census(uint64_t out[BUDDY_ORDERS]);
/* Calls fn for every free extent (address order) under the allocator's lock: fn must not call phys_. */
void phys_for_each_free(void (*fn)(paddr_t pa, uint64_t npages, void *arg), void *arg);
/* Calls fn for every range of frames the allocator manages, free or allocated (address order). */
void phys_for_each_managed(void (*fn)(paddr_t pa, uint64_t npages, void *arg), void *arg);
/*
 * Checks the buddy's invariants, that every usable page is accounted for exactly once, and that the
 * owner map holds as many frames of each owner as were handed out for it (so none that is free): 0,
 * or -1 with a message. Its cost follows what is handed out, not the size of RAM: it counts the
 * owner words marked non-zero, and verifies that unmarked words are zero for the next 2 GiB of
 * frames in turn (all of them on a machine of up to 2 GiB). The boot suite runs it after each test.
 */
int phys_check(void);
/* phys_check reading every owner word: what the boot suite runs after its last test. */
int phys_check_full(void);
void phys_dump(void);

/* Type predicates, exposed for tests. */
bool phys_type_usable_at_init(uint32_t type, uint64_t attr);
bool phys_type_loader(uint32_t type, uint64_t attr);

#endif
