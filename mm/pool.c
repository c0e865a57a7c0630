/*
 * The nonpaged pool (design: mm/pool.h) and the WDK entry points ExAllocatePoolWithTag,
 * ExFreePoolWithTag and ExFreePool.
 *
 * Assumption: the direct map is linear, arch_phys_to_virt(pa) == arch_phys_to_virt(0) + pa, on the
 * kernel (DMAP_BASE + pa) and on the host (fake RAM base + pa); pool_virt_to_phys relies on it.
 */
#include "pool.h"
#include "wdm.h"
#include "phys.h"
#include "arch_mm.h"
#include "spinlock.h"
#include "bugcheck.h"
#include "kassert.h"
#include "kprintf.h"
#include "verifier.h"

#define POOL_SLAB_HDR 32u                 /* slab header at the start of each slab page */
#define POOL_BLOCK_HDR 16u                /* header before each small block's data */
#define POOL_SLAB_MAGIC 0x42414c534c4f4f50ULL /* "POOLSLAB", xored with the page's physical address */
#define POOL_STATE_ALLOC 0x636f6c41u      /* "Aloc": a caller's block */
#define POOL_STATE_FREE 0x65657246u       /* "Free" */
#define POOL_STATE_INTERNAL 0x746e4950u   /* "PInt": a large-block record (the pool's own) */
#define POOL_FREE_END 0u                  /* free-list terminator (offset 0 is the slab header) */
#define POOL_EMPTY_KEPT 1u                /* empty slabs kept per class */
#define POOL_TAG_SLOTS 256u               /* per-tag table (power of two); entries are never removed */
#define POOL_LARGE_BUCKETS 64u            /* hash buckets of large-block records */
#define POOL_CHECK_REPORT_MAX 5u          /* violations printed by pool_check */

static const uint16_t pool_class_size[POOL_CLASSES] = { 16, 32, 64, 128, 256, 512, 1024, POOL_SMALL_MAX };

struct pool_slab {
	uint64_t magic;                   /* POOL_SLAB_MAGIC ^ physical address of the page */
	struct pool_slab *next, *prev;    /* on the class's avail or full list */
	uint16_t cls, nfree, nblocks;
	uint16_t free_off;                /* page offset of the first free block header, or POOL_FREE_END */
};

struct pool_block {
	uint32_t state;                   /* POOL_STATE_* */
	uint32_t tag;
	uint32_t size;                    /* bytes asked for */
	uint16_t next_off;                /* free list link while free */
	uint16_t cls;
};

struct pool_class {
	struct pool_slab *avail;          /* slabs with at least one free block */
	struct pool_slab *full;           /* slabs with none */
	uint64_t slabs, empty;
};

struct pool_large {
	struct pool_large *next;
	vaddr_t va;
	uint64_t npages;
	uint64_t bytes;
	uint32_t tag;
};

struct pool_tag_slot {
	struct pool_tag_total t;
	bool used;
};

/* What a call found wrong: the bug check to raise once the lock is dropped (BAD_POOL_CALLER for a
 * caller's misuse, BAD_POOL_HEADER for a header that no pool call could have written). */
struct pool_misuse {
	uint32_t code;
	uint64_t p1, p2, p3, p4;
};

STATIC_ASSERT(sizeof(struct pool_slab) == POOL_SLAB_HDR, "slab header size");
STATIC_ASSERT(sizeof(struct pool_block) == POOL_BLOCK_HDR, "block header size");
STATIC_ASSERT(POOL_SLAB_HDR % POOL_ALIGN == 0 && POOL_BLOCK_HDR % POOL_ALIGN == 0, "data alignment");
STATIC_ASSERT((POOL_TAG_SLOTS & (POOL_TAG_SLOTS - 1)) == 0, "tag slots: power of two");
STATIC_ASSERT(2 * (POOL_SMALL_MAX + POOL_BLOCK_HDR) <= PAGE_SIZE - POOL_SLAB_HDR, "two blocks of the largest class fit");

static struct {
	spinlock_t lock;
	struct pool_class cls[POOL_CLASSES];
	struct pool_large *large[POOL_LARGE_BUCKETS];
	struct pool_tag_slot tags[POOL_TAG_SLOTS];
	uint64_t tags_used;
	uint64_t internal_live;           /* large-block records */
	uint64_t untracked_bytes;         /* bytes live under tags the full tag table does not hold */
	struct pool_stats st;
} pool = { .lock = SPINLOCK_INIT(LOCK_RANK_POOL, "pool") };

/* ---------------------------------------------------------------- helpers */

/* Bytes from one block header to the next in class ci. */
static uint32_t pool_stride(unsigned ci) { return pool_class_size[ci] + POOL_BLOCK_HDR; }

/* Blocks in one slab of class ci. */
static uint16_t pool_nblocks(unsigned ci) { return (uint16_t)((PAGE_SIZE - POOL_SLAB_HDR) / pool_stride(ci)); }

/* Smallest class holding n (1 <= n <= POOL_SMALL_MAX) bytes. */
static unsigned pool_class_of(size_t n)
{
	unsigned ci = 0;
	while (pool_class_size[ci] < n)
		ci++;
	KASSERT(ci < POOL_CLASSES, "pool class for %zu bytes", n);
	return ci;
}

/* Physical address behind a direct-map pointer; false when p is not managed RAM in the direct map. */
static bool pool_virt_to_phys(const void *p, paddr_t *pa)
{
	uintptr_t base = (uintptr_t)arch_phys_to_virt(0);
	if ((uintptr_t)p < base)
		return false;
	*pa = (uintptr_t)p - base;
	return phys_is_managed(*pa);
}

static void pool_list_push(struct pool_slab **head, struct pool_slab *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void pool_list_remove(struct pool_slab **head, struct pool_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static struct pool_block *pool_block_at(struct pool_slab *s, uint32_t off)
{
	return (struct pool_block *)((char *)s + off);
}

/* Records a caller's misuse (BAD_POOL_CALLER) in m (when not NULL); always false. */
static bool pool_misuse(struct pool_misuse *m, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	if (m)
		*m = (struct pool_misuse){ BUGCHECK_BAD_POOL_CALLER, p1, p2, p3, p4 };
	return false;
}

/* Records a corrupt header (BAD_POOL_HEADER) in m (when not NULL); always false. */
static bool pool_corrupt(struct pool_misuse *m, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	if (m)
		*m = (struct pool_misuse){ BUGCHECK_BAD_POOL_HEADER, p1, p2, p3, p4 };
	return false;
}

/* True when off is the page offset of a block header of class ci's slabs. */
static bool pool_block_off_ok(unsigned ci, uint32_t off)
{
	return off >= POOL_SLAB_HDR && (off - POOL_SLAB_HDR) % pool_stride(ci) == 0 &&
	       (off - POOL_SLAB_HDR) / pool_stride(ci) < pool_nblocks(ci);
}

/* True when x is a page carrying a slab's magic (bound to the page's physical address). */
static bool pool_slab_magic_ok(const struct pool_slab *x)
{
	paddr_t pa;
	return IS_ALIGNED((vaddr_t)x, PAGE_SIZE) && pool_virt_to_phys(x, &pa) && x->magic == (POOL_SLAB_MAGIC ^ pa);
}

/* True when slab s's first two block headers agree on a class other than the header's: they lie
 * where that class puts them and every block header keeps its slab's class, so the header's class
 * was rewritten (one block header overwritten alone is that block's fault, found by its free). */
static bool pool_blocks_name_other_class(const struct pool_slab *s)
{
	const struct pool_block *b0 = (const struct pool_block *)((const char *)s + POOL_SLAB_HDR);
	if (b0->cls == s->cls || b0->cls >= POOL_CLASSES)
		return false;
	const struct pool_block *b1 = (const struct pool_block *)((const char *)s + POOL_SLAB_HDR + pool_stride(b0->cls));
	return b1->cls == b0->cls &&
	       (b1->state == POOL_STATE_FREE || b1->state == POOL_STATE_ALLOC || b1->state == POOL_STATE_INTERNAL);
}

/* True when neighbour x of slab s sits on the same list: both have free blocks, or neither. */
static bool pool_same_list(const struct pool_slab *s, const struct pool_slab *x)
{
	return (s->nfree == 0) == (x->nfree == 0);
}

/*
 * Checks what the pool reads of slab s (class ci, its magic already matched) before it relies on
 * it: the header's class, block and free counts, and the list links its list operations write
 * through: each neighbour a slab of the same list linking back to s, s the head of the list its
 * free count names exactly when it has no previous one (so no list loops). False with
 * BAD_POOL_HEADER 0x03 in m (P2 s, P3 the value read, P4 the value expected); an overrun from the
 * page before reaches these fields. The free list inside s is checked where it is followed (0x0D,
 * pool_small_alloc) and before s empties (pool_free_list_len).
 */
static bool pool_slab_sound(const struct pool_slab *s, unsigned ci, struct pool_misuse *m)
{
	uint64_t sv = (uint64_t)(uintptr_t)s;
	const struct pool_class *c = &pool.cls[ci];
	if (s->cls != ci)
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, s->cls, ci);
	if (pool_blocks_name_other_class(s))   /* a class rewritten with its block count */
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, s->cls,
				    ((const struct pool_block *)((const char *)s + POOL_SLAB_HDR))->cls);
	if (s->nblocks != pool_nblocks(ci))
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, s->nblocks, pool_nblocks(ci));
	if (s->nfree > s->nblocks)
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, s->nfree, s->nblocks);
	const struct pool_slab *head = s->nfree ? c->avail : c->full;
	if (s->prev ? !pool_slab_magic_ok(s->prev) || s->prev->next != s || head == s : head != s)
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, (uint64_t)(uintptr_t)s->prev,
				    s->prev ? sv : (uint64_t)(uintptr_t)head);
	if (s->prev && !pool_same_list(s, s->prev)) {   /* one count names the other list: the head's if */
		const struct pool_slab *p = s->prev;        /* it names not the list it heads, else s's */
		if (!p->prev && (p == c->avail) != (p->nfree != 0))
			return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)p, p->nfree, s->nfree);
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, s->nfree, p->nfree);
	}
	if (s->next && (!pool_slab_magic_ok(s->next) || s->next->prev != s))
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, sv, (uint64_t)(uintptr_t)s->next, sv);
	if (s->next && !pool_same_list(s, s->next))   /* s sits right (above): the next one's count is wrong */
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)s->next, s->next->nfree, s->nfree);
	return true;
}

/* pool_slab_sound for a slab the pool reached through its own lists, its magic checked first (P3
 * the magic read, P4 the one expected), then its class. */
static bool pool_slab_whole(const struct pool_slab *s, unsigned ci, struct pool_misuse *m)
{
	paddr_t pa;
	if (!pool_slab_magic_ok(s))
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)s, s->magic,
				    pool_virt_to_phys(s, &pa) ? POOL_SLAB_MAGIC ^ pa : 0);
	if (s->cls >= POOL_CLASSES)
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)s, s->cls, POOL_CLASSES);
	return pool_slab_sound(s, ci, m);
}

/* Free blocks on slab s's free list (class ci, sound), following at most nblocks + 1 links: a link
 * to no block of the class, or to a block not free, ends the count there (so it differs from nfree). */
static uint64_t pool_free_list_len(const struct pool_slab *s, unsigned ci)
{
	uint64_t n = 0;
	for (uint32_t off = s->free_off; off != POOL_FREE_END && n <= s->nblocks; n++) {
		const struct pool_block *b = (const struct pool_block *)((const char *)s + off);
		if (!pool_block_off_ok(ci, off) || b->state != POOL_STATE_FREE)
			break;
		off = b->next_off;
	}
	return n;
}

/* Checks that empty slab s's page holds no live block before it goes back (its free list holds all
 * its blocks): a free count raised by a write would hand live blocks' page to the physical
 * allocator. 0x19 0x03 in m (P3 the free blocks found, P4 the count). */
static bool pool_empty_sound(const struct pool_slab *s, struct pool_misuse *m)
{
	uint64_t n = pool_free_list_len(s, s->cls);
	return n == s->nblocks || pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)s, n, s->nblocks);
}

/* Checks, before a block of slab s goes back, the slabs its release writes: s, and the head of its
 * class's avail list when s leaves the full list for it; and, when this block is the last live one,
 * that s's free list holds every other block (pool_empty_sound). pool_slab_sound's bug check in m. */
static bool pool_release_sound(const struct pool_slab *s, struct pool_misuse *m)
{
	if (!pool_slab_whole(s, s->cls < POOL_CLASSES ? s->cls : 0, m))
		return false;
	const struct pool_slab *head = pool.cls[s->cls].avail;
	if (!s->nfree && head && !pool_slab_whole(head, s->cls, m))
		return false;
	uint64_t n;
	if (s->nfree + 1 >= s->nblocks && (n = pool_free_list_len(s, s->cls)) != s->nfree)
		return pool_corrupt(m, POOL_BUGCHECK_SLAB_CORRUPT, (uint64_t)(uintptr_t)s, n, s->nfree);
	return true;
}


/* True when live block b's header fits slab s: its class, and a size that class was chosen for (what
 * pool_small_alloc wrote). A size changed within its class's range cannot be told from the truth. */
static bool pool_block_size_ok(const struct pool_slab *s, const struct pool_block *b)
{
	return b->cls == s->cls && b->size != 0 && b->size <= POOL_SMALL_MAX && pool_class_of(b->size) == s->cls;
}

/* ---------------------------------------------------------------- per-tag accounting */

/* The slot of tag, inserting it when create; NULL when absent (or the table is full). */
static struct pool_tag_slot *pool_tag_slot(uint32_t tag, bool create)
{
	uint32_t h = (tag * 0x9E3779B1u) >> 24;
	for (uint32_t i = 0; i < POOL_TAG_SLOTS; i++) {
		struct pool_tag_slot *t = &pool.tags[(h + i) & (POOL_TAG_SLOTS - 1)];
		if (t->used && t->t.tag == tag)
			return t;
		if (!t->used) {
			if (!create)
				return NULL;
			t->used = true;
			t->t = (struct pool_tag_total){ .tag = tag };
			pool.tags_used++;
			return t;
		}
	}
	return NULL;
}

static void pool_account_alloc(uint32_t tag, uint64_t bytes)
{
	struct pool_tag_slot *t = pool_tag_slot(tag, true);
	if (t) {
		t->t.allocs++;
		t->t.bytes_live += bytes;
	} else {
		pool.st.untracked_tags++;
		pool.untracked_bytes += bytes;
	}
	pool.st.allocs++;
	pool.st.bytes_live += bytes;
}

/* True when the live bytes counted for tag (the untracked tags' together when the table does not
 * hold it) include bytes: false only when a header's size grew after its allocation, this block's
 * or an earlier freed one's of the same count. */
static bool pool_account_covers(uint32_t tag, uint64_t bytes)
{
	struct pool_tag_slot *t = pool_tag_slot(tag, false);
	return pool.st.bytes_live >= bytes && (t ? t->t.bytes_live : pool.untracked_bytes) >= bytes;
}

static void pool_account_free(uint32_t tag, uint64_t bytes)
{
	struct pool_tag_slot *t = pool_tag_slot(tag, false);
	if (t) {
		KASSERT(t->t.bytes_live >= bytes, "tag bytes underflow");
		t->t.frees++;
		t->t.bytes_live -= bytes;
	} else {
		KASSERT(pool.untracked_bytes >= bytes, "untracked bytes underflow");
		pool.untracked_bytes -= bytes;
	}
	pool.st.frees++;
	pool.st.bytes_live -= bytes;
}

/* ---------------------------------------------------------------- slabs */

/* A new empty slab of class ci on its avail list; NULL when no page is free. */
static struct pool_slab *pool_slab_new(unsigned ci)
{
	paddr_t pa = phys_alloc_owned(1, 1, 0, UINT64_MAX, PHYS_OWNER_POOL_SLAB);
	if (!pa)
		return NULL;
	struct pool_slab *s = arch_phys_to_virt(pa);
	uint16_t n = pool_nblocks(ci);
	*s = (struct pool_slab){ .magic = POOL_SLAB_MAGIC ^ pa, .cls = (uint16_t)ci, .nfree = n, .nblocks = n,
				 .free_off = POOL_FREE_END };
	for (uint16_t i = n; i-- > 0;) {
		uint32_t off = POOL_SLAB_HDR + i * pool_stride(ci);
		*pool_block_at(s, off) = (struct pool_block){ .state = POOL_STATE_FREE, .next_off = s->free_off,
							       .cls = (uint16_t)ci };
		s->free_off = (uint16_t)off;
	}
	struct pool_class *c = &pool.cls[ci];
	pool_list_push(&c->avail, s);
	c->slabs++;
	c->empty++;
	pool.st.slab_pages++;
	return s;
}

/* Records in m (when it holds no bug check yet) the 0x1A phys_free raises for a refused free of
 * [pa, +npages), bad the frame at fault: raised once the pool's lock is dropped. Always false. */
static bool pool_phys_refused(struct pool_misuse *m, paddr_t pa, uint64_t npages, paddr_t bad)
{
	if (!m->code)
		*m = (struct pool_misuse){ BUGCHECK_MEMORY_MANAGEMENT, PHYS_BUGCHECK_BAD_FREE, pa, npages, bad };
	return false;
}

/* Returns an empty slab (on its avail list) to the physical allocator; false, the slab kept and the
 * physical allocator's 0x1A in m, when its page is no longer the pool's slab page: it went back
 * behind the pool's back, or went on to another owner. */
static bool pool_slab_release(struct pool_slab *s, struct pool_misuse *m)
{
	struct pool_class *c = &pool.cls[s->cls];
	KASSERT(s->nfree == s->nblocks, "releasing a slab with live blocks");
	paddr_t pa = s->magic ^ POOL_SLAB_MAGIC, bad = pa;
	if (phys_owner_of(pa) != PHYS_OWNER_POOL_SLAB)   /* checked before the page is written */
		return pool_phys_refused(m, pa, 1, bad);
	pool_list_remove(&c->avail, s);
	s->magic = 0;
	c->slabs--;
	c->empty--;
	pool.st.slab_pages--;
	/* refused only if the page changed hands since the check, outside the pool's lock: a bug elsewhere */
	return phys_free_run(pa, 1, PHYS_OWNER_POOL_SLAB, &bad) || pool_phys_refused(m, pa, 1, bad);
}

/* Takes a block of class ci for n bytes in state; NULL when no page is free, or, with m filled in
 * (BAD_POOL_HEADER 0x0D) and nothing changed, when the slab's first free block was written to after
 * its free: its header is not a free block of the class, or its link names no block. */
static void *pool_small_alloc(unsigned ci, size_t n, uint32_t tag, uint32_t state, struct pool_misuse *m)
{
	struct pool_class *c = &pool.cls[ci];
	if (c->avail && !pool_slab_whole(c->avail, ci, m))
		return NULL;
	struct pool_slab *s = c->avail ? c->avail : pool_slab_new(ci);
	if (!s)
		return NULL;
	if (s->nfree == 1 && c->full && !pool_slab_whole(c->full, ci, m))   /* s goes in front of it */
		return NULL;
	if (!pool_block_off_ok(ci, s->free_off)) {
		pool_corrupt(m, POOL_BUGCHECK_FREED_MODIFIED, (uint64_t)(uintptr_t)s, s->free_off, 0);
		return NULL;
	}
	struct pool_block *b = pool_block_at(s, s->free_off);
	if (b->state != POOL_STATE_FREE || b->cls != ci ||
	    (b->next_off != POOL_FREE_END && !pool_block_off_ok(ci, b->next_off))) {
		pool_corrupt(m, POOL_BUGCHECK_FREED_MODIFIED, (uint64_t)(uintptr_t)s, s->free_off,
			     b->state | (uint64_t)b->next_off << 32);
		return NULL;
	}
	if (s->nfree == s->nblocks)
		c->empty--;
	s->free_off = b->next_off;
	if (--s->nfree == 0) {
		pool_list_remove(&c->avail, s);
		pool_list_push(&c->full, s);
	}
	*b = (struct pool_block){ .state = state, .tag = tag, .size = (uint32_t)n, .cls = (uint16_t)ci };
	return (char *)b + POOL_BLOCK_HDR;
}

/* Returns a validated block to its slab; releases the slab when a spare empty one is already kept (a
 * refused release's 0x1A in m, the block returned all the same). */
static void pool_small_release(struct pool_slab *s, struct pool_block *b, struct pool_misuse *m)
{
	struct pool_class *c = &pool.cls[s->cls];
	b->state = POOL_STATE_FREE;
	b->next_off = s->free_off;
	s->free_off = (uint16_t)((uintptr_t)b - (uintptr_t)s);
	if (s->nfree++ == 0) {
		pool_list_remove(&c->full, s);
		pool_list_push(&c->avail, s);
	}
	if (s->nfree == s->nblocks) {
		c->empty++;
		if (c->empty > POOL_EMPTY_KEPT)
			pool_slab_release(s, m);
	}
}

/* The slab holding address p (its page carries the slab magic bound to its physical address; the
 * rest of its header unchecked), or NULL. Reads the page only when it is managed RAM in the direct
 * map. */
static struct pool_slab *pool_slab_of(const void *p)
{
	paddr_t pa;
	if (!pool_virt_to_phys(p, &pa))
		return NULL;
	struct pool_slab *s = (struct pool_slab *)ALIGN_DOWN((vaddr_t)p, PAGE_SIZE);
	return s->magic == (POOL_SLAB_MAGIC ^ ALIGN_DOWN(pa, PAGE_SIZE)) ? s : NULL;
}

/* True when p's page is one the physical allocator handed out for a slab (whatever its header
 * holds now). Misuse paths only: it takes the physical allocator's lock. */
static bool pool_page_is_slab(const void *p)
{
	paddr_t pa;
	return pool_virt_to_phys(p, &pa) && phys_owner_of(ALIGN_DOWN(pa, PAGE_SIZE)) == PHYS_OWNER_POOL_SLAB;
}

/* True when r, reached through a bucket's link, is a large block's record: in the direct map at a
 * block's place of the record's class, its block header the pool's own (what pool_large_alloc
 * wrote). Read before any field of r: an overrun of the block before reaches r's header before r's
 * link. Otherwise, when m is not NULL, BAD_POOL_HEADER 0x05 in m naming the block before and r's
 * block. The record's slab header is the free's to check (pool_release_sound). */
static bool pool_large_record_ok(const struct pool_large *r, struct pool_misuse *m)
{
	unsigned rc = pool_class_of(sizeof(struct pool_large));
	uint32_t off = (uint32_t)(((vaddr_t)r - POOL_BLOCK_HDR) & PAGE_MASK);
	paddr_t pa;
	if (!pool_virt_to_phys(r, &pa) || !pool_block_off_ok(rc, off))
		return pool_corrupt(m, POOL_BUGCHECK_HEADERS_DISAGREE, 0, 0, (uint64_t)(uintptr_t)r);
	const struct pool_block *b = (const struct pool_block *)((vaddr_t)r - POOL_BLOCK_HDR);
	if (b->state == POOL_STATE_INTERNAL && b->cls == rc && b->size == sizeof(*r))
		return true;
	uint64_t before = off - POOL_SLAB_HDR >= pool_stride(rc) ? (uint64_t)(uintptr_t)b - pool_stride(rc) : 0;
	return pool_corrupt(m, POOL_BUGCHECK_HEADERS_DISAGREE, before, b->state, (uint64_t)(uintptr_t)b);
}

/*
 * Brent's loop finder for a walk of one bucket's records: the walk calls pool_loop_seen with each
 * record it reaches, which is true once a record comes round again (a record's next link rewritten
 * to name itself or one before it), at most about twice the list's length in. A word, a count and a
 * compare a step: a sound list's walk costs what it did, and a looping one ends instead of spinning.
 */
struct pool_loop {
	const struct pool_large *mark;    /* the record the walk is compared with */
	uint64_t steps, power;            /* records since the mark was set; when it is set again */
};
#define POOL_LOOP_INIT { NULL, 0, 1 }

/* True when r was reached before in this walk (the list loops); else r counted. */
static bool pool_loop_seen(struct pool_loop *w, const struct pool_large *r)
{
	if (r == w->mark)
		return true;
	if (++w->steps == w->power) {
		w->mark = r;
		w->power *= 2;
		w->steps = 0;
	}
	return false;
}

/* True when v lies inside a live large block, past its start (a bucket's walk ends at a record that
 * is not sound, or where its list loops). O(large blocks): misuse paths only. */
static bool pool_inside_large(vaddr_t v)
{
	for (unsigned i = 0; i < POOL_LARGE_BUCKETS; i++) {
		struct pool_loop w = POOL_LOOP_INIT;
		for (const struct pool_large *r = pool.large[i];
		     r && pool_large_record_ok(r, NULL) && !pool_loop_seen(&w, r); r = r->next)
			if (v > r->va && v - r->va < r->npages * PAGE_SIZE)
				return true;
	}
	return false;
}

/* The misuse of freeing v, which lies in no live slab and starts no live large block: 0x46 inside a
 * live large block; 0x07 when v's page is free memory (a block freed already, its pages back with
 * the page allocator); else 0x42, memory the pool does not hold (never did, or its page now serves
 * another user). */
static void pool_misuse_outside(vaddr_t v, struct pool_misuse *m)
{
	paddr_t pa;
	if (pool_inside_large(v))
		pool_misuse(m, POOL_BUGCHECK_BAD_ADDRESS, v, 0, 0);
	else if (pool_virt_to_phys((void *)v, &pa) && phys_is_free(ALIGN_DOWN(pa, PAGE_SIZE), 1))
		pool_misuse(m, POOL_BUGCHECK_DOUBLE_FREE, 0, 0, v);
	else
		pool_misuse(m, POOL_BUGCHECK_NOT_POOL, v, 0, 0);
}

/* Finds the small block whose data is p; false with the bug check's parameters in m (unless m is
 * NULL: a query): BAD_POOL_CALLER, or BAD_POOL_HEADER for a live block whose size or class is not
 * what its allocation wrote. Accepts live blocks with sound headers only. */
static bool pool_small_find(const void *p, struct pool_slab **sp, struct pool_block **bp, struct pool_misuse *m)
{
	vaddr_t v = (vaddr_t)p;
	struct pool_slab *s = pool_slab_of(p);
	if (!s) {
		if (m && pool_page_is_slab(p))   /* a slab whose magic an overrun reached: its report */
			pool_slab_whole((const struct pool_slab *)ALIGN_DOWN(v, PAGE_SIZE), 0, m);
		else if (m)
			pool_misuse_outside(v, m);
		return false;
	}
	if (!pool_release_sound(s, m))
		return false;
	uint64_t off = v & PAGE_MASK, stride = pool_stride(s->cls);
	uint64_t first = POOL_SLAB_HDR + POOL_BLOCK_HDR;
	if (off < first || (off - first) % stride || (off - first) / stride >= s->nblocks)
		return pool_misuse(m, POOL_BUGCHECK_BAD_ADDRESS, v, 0, 0);
	struct pool_block *b = (struct pool_block *)(v - POOL_BLOCK_HDR);
	if (b->state == POOL_STATE_FREE)
		return pool_misuse(m, POOL_BUGCHECK_DOUBLE_FREE, 0, b->state | (uint64_t)b->tag << 32, v);
	if (b->state == POOL_STATE_INTERNAL)
		return pool_misuse(m, POOL_BUGCHECK_BAD_ADDRESS, v, 0, 0);
	if (b->state != POOL_STATE_ALLOC) {   /* no pool call writes such a state: the block before overran */
		uint64_t before = off - first >= stride ? (uint64_t)(uintptr_t)b - stride : 0;
		return pool_corrupt(m, POOL_BUGCHECK_HEADERS_DISAGREE, before, b->state, (uint64_t)(uintptr_t)b);
	}
	if (!pool_block_size_ok(s, b))
		return pool_corrupt(m, b->size ? POOL_BUGCHECK_HEADER_SIZE : POOL_BUGCHECK_HEADER_SIZE_ZERO, 0,
				    b->size | (uint64_t)b->cls << 32, (uint64_t)(uintptr_t)b);
	*sp = s;
	*bp = b;
	return true;
}

/* ---------------------------------------------------------------- large blocks */

static unsigned pool_large_bucket(vaddr_t va) { return (unsigned)((va >> PAGE_SHIFT) % POOL_LARGE_BUCKETS); }

/* The link pointing at va's record, or NULL: none, or a record on the way is not sound or is
 * reached a second time, its bucket's list looping (then BAD_POOL_HEADER in m when m is not NULL:
 * pool_large_record_ok's, or 0x05 naming the record reached again). */
static struct pool_large **pool_large_find(vaddr_t va, struct pool_misuse *m)
{
	struct pool_large **link = &pool.large[pool_large_bucket(va)];
	struct pool_loop w = POOL_LOOP_INIT;
	for (; *link; link = &(*link)->next) {
		if (!pool_large_record_ok(*link, m))
			return NULL;
		if (pool_loop_seen(&w, *link)) {
			pool_corrupt(m, POOL_BUGCHECK_HEADERS_DISAGREE, 0, 0, (uint64_t)(uintptr_t)*link);
			return NULL;
		}
		if ((*link)->va == va)
			return link;
	}
	return NULL;
}

/* Whole pages for n (> POOL_SMALL_MAX) bytes plus a side record; NULL when memory runs out. */
/* A large block of n bytes; NULL when memory ran out, or with m filled in when its record's slab is
 * corrupt (pool_small_alloc). */
static void *pool_large_alloc(size_t n, uint32_t tag, struct pool_misuse *m)
{
	uint64_t npages = n / PAGE_SIZE + (n % PAGE_SIZE != 0);
	unsigned rc = pool_class_of(sizeof(struct pool_large));
	struct pool_large *r = pool_small_alloc(rc, sizeof(*r), tag, POOL_STATE_INTERNAL, m);
	if (!r)
		return NULL;
	paddr_t pa = phys_alloc_owned(npages, 1, 0, UINT64_MAX, PHYS_OWNER_POOL_LARGE);
	if (!pa) {
		struct pool_slab *s = (struct pool_slab *)ALIGN_DOWN((vaddr_t)r, PAGE_SIZE);
		pool_small_release(s, (struct pool_block *)((char *)r - POOL_BLOCK_HDR), m);
		return NULL;
	}
	vaddr_t va = (vaddr_t)arch_phys_to_virt(pa);
	*r = (struct pool_large){ .next = pool.large[pool_large_bucket(va)], .va = va, .npages = npages, .bytes = n,
				  .tag = tag };
	pool.large[pool_large_bucket(va)] = r;
	pool.internal_live++;
	pool.st.large_live++;
	pool.st.large_pages += npages;
	return (void *)va;
}

/* Frees the large block at v after the checks; false with the misuse filled in. */
static bool pool_large_free(vaddr_t v, uint32_t tag, bool check_tag, struct pool_misuse *m, uint64_t *bytes,
			    uint32_t *owner)
{
	struct pool_large **link = pool_large_find(v, m);
	if (!link && m->code)
		return false;
	if (!link) {
		if (pool_slab_of((void *)v))
			pool_misuse(m, POOL_BUGCHECK_BAD_ADDRESS, v, 0, 0);   /* a slab's first byte: its header */
		else if (pool_page_is_slab((void *)v))
			pool_slab_whole((const struct pool_slab *)v, 0, m);   /* one whose magic was overwritten */
		else
			pool_misuse_outside(v, m);
		return false;
	}
	struct pool_large *r = *link;
	if (check_tag && r->tag != tag)
		return pool_misuse(m, POOL_BUGCHECK_WRONG_TAG, v, r->tag, tag);
	struct pool_slab *rs = (struct pool_slab *)ALIGN_DOWN((vaddr_t)r, PAGE_SIZE);   /* the record's */
	if (!pool_release_sound(rs, m))
		return false;
	paddr_t pa, bad;
	bool ok = pool_virt_to_phys((void *)v, &pa);
	KASSERT(ok, "large pool block %p outside the direct map", (void *)v);
	/* its frames freed behind the pool's back, or handed out since to another owner: the physical
	 * allocator's 0x1A, the block kept */
	if (!phys_free_run(pa, r->npages, PHYS_OWNER_POOL_LARGE, &bad))
		return pool_phys_refused(m, pa, r->npages, bad);
	*link = r->next;
	*bytes = r->bytes;
	*owner = r->tag;
	pool.internal_live--;
	pool.st.large_live--;
	pool.st.large_pages -= r->npages;
	pool_small_release(rs, (struct pool_block *)((char *)r - POOL_BLOCK_HDR), m);
	return true;
}

/* ---------------------------------------------------------------- allocation and free */

/* In verifier mode, checks every invariant of the pool after an allocation or a free. */
static uint64_t pool_check_walk(bool frames);

static void pool_verify(void)
{
	if (mm_verifier)   /* the frames' owners aside: a free checks its block's (phys_free_run) */
		KASSERT(pool_check_walk(false) == 0, "verifier: pool inconsistent");
}

void *pool_alloc(size_t n, uint32_t tag)
{
	if (n == 0)
		return NULL;
	struct pool_misuse m = { 0 };
	uint64_t f = spin_lock(&pool.lock);
	void *p = n <= POOL_SMALL_MAX ? pool_small_alloc(pool_class_of(n), n, tag, POOL_STATE_ALLOC, &m)
				      : pool_large_alloc(n, tag, &m);
	if (p) {
		if (n <= POOL_SMALL_MAX)
			pool.st.small_live++;
		pool_account_alloc(tag, n);
	} else if (!m.code) {
		pool.st.failures++;
	}
	spin_unlock(&pool.lock, f);
	if (m.code)
		KeBugCheckEx(m.code, m.p1, m.p2, m.p3, m.p4);
	else
		pool_verify();
	return p;
}

/* Validates and frees p under the lock; false with the BAD_POOL_CALLER parameters in m. */
static bool pool_free_locked(void *p, uint32_t tag, bool check_tag, struct pool_misuse *m)
{
	spin_assert_held(&pool.lock);
	vaddr_t v = (vaddr_t)p;
	uint64_t bytes;
	uint32_t owner;
	if (!p)
		return pool_misuse(m, POOL_BUGCHECK_BAD_ADDRESS, 0, 0, 0);
	if (IS_ALIGNED(v, PAGE_SIZE)) {
		if (!pool_large_free(v, tag, check_tag, m, &bytes, &owner))
			return false;
	} else {
		struct pool_slab *s;
		struct pool_block *b;
		if (!pool_small_find(p, &s, &b, m))
			return false;
		if (check_tag && b->tag != tag)
			return pool_misuse(m, POOL_BUGCHECK_WRONG_TAG, v, b->tag, tag);
		bytes = b->size;
		owner = b->tag;
		if (!pool_account_covers(owner, bytes))   /* a size grown within its class */
			return pool_corrupt(m, POOL_BUGCHECK_HEADER_SIZE, 0, b->size | (uint64_t)b->cls << 32,
					    (uint64_t)(uintptr_t)b);
		pool_small_release(s, b, m);
		pool.st.small_live--;
	}
	pool_account_free(owner, bytes);
	return true;
}

void pool_free(void *p, uint32_t tag, bool check_tag)
{
	struct pool_misuse m = { 0 };
	uint64_t f = spin_lock(&pool.lock);
	pool_free_locked(p, tag, check_tag, &m);
	spin_unlock(&pool.lock, f);
	if (m.code)   /* a misuse, or a slab page the physical allocator refused to take back */
		KeBugCheckEx(m.code, m.p1, m.p2, m.p3, m.p4);
	else
		pool_verify();
}

bool pool_block_info(const void *p, size_t *size, uint32_t *tag)
{
	bool live = false;
	size_t n = 0;
	uint32_t t = 0;
	uint64_t f = spin_lock(&pool.lock);
	if (p && IS_ALIGNED((vaddr_t)p, PAGE_SIZE)) {
		struct pool_large **link = pool_large_find((vaddr_t)p, NULL);
		if ((live = link != NULL))
			n = (*link)->bytes, t = (*link)->tag;
	} else if (p) {
		struct pool_slab *s;
		struct pool_block *b;
		if ((live = pool_small_find(p, &s, &b, NULL)))
			n = b->size, t = b->tag;
	}
	spin_unlock(&pool.lock, f);
	if (size)
		*size = n;
	if (tag)
		*tag = t;
	return live;
}

/* ---------------------------------------------------------------- WDK entry points */

/*
 * ExAllocatePoolWithTag: NumberOfBytes bytes of nonpaged pool, 16-byte aligned (page aligned when
 * larger than POOL_SMALL_MAX), not zeroed. Tag 0 is accepted [ours; Windows' verifier rejects it].
 * NULL, changing nothing: NumberOfBytes is 0; PoolType is neither NonPagedPool nor NonPagedPoolNx
 * (both are the same no-execute pool here); memory is exhausted. Bug-checks only on a corrupt
 * header it must read (0x19, P1 0x0D: a free block written after its free; docs/contract.md).
 */
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
	if (PoolType != NonPagedPool && PoolType != NonPagedPoolNx)
		return NULL;
	return pool_alloc(NumberOfBytes, Tag);
}

/*
 * ExFreePoolWithTag: frees P, checking Tag against the allocator's unless Tag is 0 (Windows defines
 * ExFreePool as ExFreePoolWithTag(P, 0)). Misuse, state unchanged when intercepted: bug check 0xC2 with
 * P1 0x0A wrong tag (P2 address, P3 allocator's tag, P4 Tag); 0x07 already freed: a small block whose
 * header says free (P2 0, P3 header state | tag << 32, P4 address), or any address in a page that is
 * free memory, where a block freed before went back to the page allocator (P2 0, P3 0, P4 address);
 * 0x46 NULL, inside a live block (small or large), or in a slab page but not at a block's start (P2
 * address); 0x42 memory the pool does not hold: never did, or its page now serves another user (P2
 * address). [ours] A block freed twice after its address was handed out again is freed as the new
 * block: no allocator without per-allocation history can tell.
 */
VOID ExFreePoolWithTag(PVOID P, ULONG Tag)
{
	pool_free(P, Tag, Tag != 0);
}

/* ExFreePool: ExFreePoolWithTag without the tag check; the same bug checks otherwise. */
VOID ExFreePool(PVOID P)
{
	pool_free(P, 0, false);
}

/* ---------------------------------------------------------------- statistics and checking */

/* A slab whose header is not sound ends its class's walk (it and the slabs after it are kept) and
 * raises 0x19 0x03 once the lock is dropped (the first such slab). */
uint64_t pool_trim(void)
{
	uint64_t released = 0;
	struct pool_misuse m = { 0 };
	uint64_t f = spin_lock(&pool.lock);
	for (unsigned ci = 0; ci < POOL_CLASSES; ci++) {
		struct pool_misuse here = { 0 };
		struct pool_slab *s = pool.cls[ci].avail;
		while (s && pool_slab_whole(s, ci, &here) && (s->nfree != s->nblocks || pool_empty_sound(s, &here))) {
			struct pool_slab *next = s->next;
			if (s->nfree == s->nblocks)
				released += pool_slab_release(s, &here);
			s = next;
		}
		if (here.code && !m.code)
			m = here;
	}
	spin_unlock(&pool.lock, f);
	if (m.code)
		KeBugCheckEx(m.code, m.p1, m.p2, m.p3, m.p4);
	return released;
}

void pool_get_stats(struct pool_stats *st)
{
	uint64_t f = spin_lock(&pool.lock);
	*st = pool.st;
	st->empty_slabs = 0;
	for (unsigned ci = 0; ci < POOL_CLASSES; ci++)
		st->empty_slabs += pool.cls[ci].empty;
	spin_unlock(&pool.lock, f);
}

size_t pool_tag_totals(struct pool_tag_total *out, size_t max)
{
	size_t n = 0;
	uint64_t f = spin_lock(&pool.lock);
	for (uint32_t i = 0; i < POOL_TAG_SLOTS; i++) {
		if (!pool.tags[i].used)
			continue;
		if (n < max) {   /* insertion into the sorted prefix */
			size_t j = n;
			for (; j > 0 && out[j - 1].tag > pool.tags[i].t.tag; j--)
				out[j] = out[j - 1];
			out[j] = pool.tags[i].t;
		} else if (max && pool.tags[i].t.tag < out[max - 1].tag) {
			size_t j = max - 1;
			for (; j > 0 && out[j - 1].tag > pool.tags[i].t.tag; j--)
				out[j] = out[j - 1];
			out[j] = pool.tags[i].t;
		}
		n++;
	}
	spin_unlock(&pool.lock, f);
	return n;
}

bool pool_tag_get(uint32_t tag, struct pool_tag_total *out)
{
	uint64_t f = spin_lock(&pool.lock);
	struct pool_tag_slot *t = pool_tag_slot(tag, false);
	if (t)
		*out = t->t;
	spin_unlock(&pool.lock, f);
	return t != NULL;
}

struct pool_census {
	uint64_t violations, small_live, internal, bytes, empty;
};

static void pool_violation(struct pool_census *c, const char *what, const void *where)
{
	if (c->violations++ < POOL_CHECK_REPORT_MAX)
		kprintf("pool_check: %s at %p\n", what, where);
}

/* Checks one slab of class ci on the avail (full = false) or full list, its previous one prev;
 * false when its header cannot be trusted to lead to the next slab (the walk stops there). */
static bool pool_check_slab(struct pool_census *c, struct pool_slab *s, const struct pool_slab *prev, unsigned ci,
			    bool full)
{
	paddr_t pa;
	if (!pool_slab_magic_ok(s) || s->cls != ci || s->nblocks != pool_nblocks(ci) || s->prev != prev ||
	    (s->next && !pool_slab_magic_ok(s->next))) {
		pool_violation(c, "bad slab header or list link", s);
		return false;
	}
	if (pool_virt_to_phys(s, &pa) && phys_owner_of(pa) != PHYS_OWNER_POOL_SLAB)
		pool_violation(c, "slab page not the physical allocator's pool slab", s);
	if (full != (s->nfree == 0) || s->nfree > s->nblocks)
		pool_violation(c, "slab on the wrong list", s);
	uint64_t free_states = 0, listed = 0;
	for (uint16_t i = 0; i < s->nblocks; i++) {
		struct pool_block *b = pool_block_at(s, POOL_SLAB_HDR + i * pool_stride(ci));
		if (b->cls != ci)
			pool_violation(c, "block of another class", b);
		if (b->state == POOL_STATE_FREE)
			free_states++;
		else if (b->state == POOL_STATE_ALLOC) {
			c->small_live++, c->bytes += b->size;
			if (b->cls == ci && !pool_block_size_ok(s, b))
				pool_violation(c, "block size not of its class", b);
		}
		else if (b->state == POOL_STATE_INTERNAL)
			c->internal++;
		else
			pool_violation(c, "block in an unknown state", b);
	}
	for (uint16_t off = s->free_off; off != POOL_FREE_END && listed <= s->nblocks; listed++) {
		struct pool_block *b = pool_block_at(s, off);
		if (!pool_block_off_ok(ci, off) || b->state != POOL_STATE_FREE) {   /* a block's header, and free */
			pool_violation(c, "bad free-list link", s);
			break;
		}
		off = b->next_off;
	}
	if (listed != s->nfree || free_states != s->nfree)
		pool_violation(c, "free count disagrees with the blocks", s);
	c->empty += s->nfree == s->nblocks;
	return true;
}

/* Checks the large records (their frames the pool's own when frames) and adds their bytes. */
static void pool_check_large(struct pool_census *c, bool frames)
{
	uint64_t n = 0, pages = 0;
	for (unsigned i = 0; i < POOL_LARGE_BUCKETS; i++) {
		struct pool_loop w = POOL_LOOP_INIT;
		for (struct pool_large *r = pool.large[i]; r; r = r->next) {
			if (!pool_large_record_ok(r, NULL)) {
				pool_violation(c, "a large record's block header is not the pool's own (overrun)", r);
				break;
			}
			if (pool_loop_seen(&w, r)) {
				pool_violation(c, "a large bucket's list comes back to this record (a link rewritten)", r);
				break;
			}
			paddr_t pa;
			if (frames && pool_virt_to_phys((void *)r->va, &pa) && !phys_run_owned(pa, r->npages, PHYS_OWNER_POOL_LARGE))
				pool_violation(c, "a large block's frames are not the pool's", (void *)r->va);
			if (!IS_ALIGNED(r->va, PAGE_SIZE) || pool_large_bucket(r->va) != i || r->bytes <= POOL_SMALL_MAX ||
			    r->npages != r->bytes / PAGE_SIZE + (r->bytes % PAGE_SIZE != 0))
				pool_violation(c, "bad large record", r);
			n++;
			pages += r->npages;
			c->bytes += r->bytes;
		}
	}
	if (n != pool.st.large_live || n != pool.internal_live || n != c->internal || pages != pool.st.large_pages)
		pool_violation(c, "large block counts disagree", NULL);
}

uint64_t pool_check(void)
{
	return pool_check_walk(true);
}

/* pool_check, with the large blocks' frames checked against the physical allocator's owners when
 * frames (a lock and O(pages) each: the verifier's check after every call leaves them out, a walk
 * over thousands of large blocks each time). */
static uint64_t pool_check_walk(bool frames)
{
	struct pool_census c = { 0 };
	uint64_t f = spin_lock(&pool.lock);
	uint64_t slabs = 0;
	for (unsigned ci = 0; ci < POOL_CLASSES; ci++) {
		uint64_t n = 0, empty_before = c.empty;
		struct pool_slab *prev = NULL;
		for (struct pool_slab *s = pool.cls[ci].avail; s && pool_check_slab(&c, s, prev, ci, false); s = s->next)
			n++, prev = s;
		prev = NULL;
		for (struct pool_slab *s = pool.cls[ci].full; s && pool_check_slab(&c, s, prev, ci, true); s = s->next)
			n++, prev = s;
		if (n != pool.cls[ci].slabs || c.empty - empty_before != pool.cls[ci].empty)
			pool_violation(&c, "class slab counts disagree", &pool.cls[ci]);
		slabs += n;
	}
	pool_check_large(&c, frames);
	if (slabs != pool.st.slab_pages || c.small_live != pool.st.small_live || c.bytes != pool.st.bytes_live)
		pool_violation(&c, "pool totals disagree", NULL);
	uint64_t tag_bytes = 0;
	for (uint32_t i = 0; i < POOL_TAG_SLOTS; i++)
		tag_bytes += pool.tags[i].used ? pool.tags[i].t.bytes_live : 0;
	if (pool.st.untracked_tags == 0 && tag_bytes != pool.st.bytes_live)
		pool_violation(&c, "per-tag bytes disagree with the total", NULL);
	spin_unlock(&pool.lock, f);
	return c.violations;
}

/* Writes tag as four printable characters (memory order) into s[5]. */
static void pool_tag_text(uint32_t tag, char s[5])
{
	for (int i = 0; i < 4; i++) {
		char ch = (char)(tag >> (8 * i));
		s[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '.';
	}
	s[4] = 0;
}

void pool_dump(void)
{
	struct pool_stats st;
	pool_get_stats(&st);
	kprintf("pool: %llu slab pages (%llu empty), %llu small blocks, %llu large blocks in %llu pages, %llu bytes live\n",
		(unsigned long long)st.slab_pages, (unsigned long long)st.empty_slabs, (unsigned long long)st.small_live,
		(unsigned long long)st.large_live, (unsigned long long)st.large_pages, (unsigned long long)st.bytes_live);
	for (unsigned ci = 0; ci < POOL_CLASSES; ci++)
		kprintf("  class %4u: %llu slabs, %u blocks each\n", pool_class_size[ci],
			(unsigned long long)pool.cls[ci].slabs, pool_nblocks(ci));
	enum { DUMP_MAX = 64 };
	static struct pool_tag_total t[DUMP_MAX];
	size_t n = pool_tag_totals(t, DUMP_MAX);
	kprintf("  tag   allocs      frees       diff        bytes\n");
	for (size_t i = 0; i < n && i < DUMP_MAX; i++) {
		char s[5];
		pool_tag_text(t[i].tag, s);
		kprintf("  %s  %-10llu  %-10llu  %-10llu  %llu\n", s, (unsigned long long)t[i].allocs,
			(unsigned long long)t[i].frees, (unsigned long long)(t[i].allocs - t[i].frees),
			(unsigned long long)t[i].bytes_live);
	}
}

/* pool_reset: forgets every slab, large block and tag total, as at boot. For a machine whose
 * physical memory is being replaced (host_machine_create); nothing is handed back. */
void pool_reset(void)
{
	pool = (typeof(pool)){ .lock = SPINLOCK_INIT(LOCK_RANK_POOL, "pool") };
}
