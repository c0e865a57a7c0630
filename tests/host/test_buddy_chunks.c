/*
 * The region allocator's metadata on demand (mm/buddy.h buddy_init_dir, mm/bitset.h chunked):
 * - differential: a chunked buddy, its chunks installed exactly where the contract says (the two
 *   ends at set-up; s - 1, s, e - 1, e before each take), against a flat one over generated
 *   sequences of finds, takes and frees: the same placements, the same free extents, both checks
 *   passing, and no chunk besides those installed ever written (the zero piece stays zero). Half
 *   the takes go through buddy_find_take with the chunked side's ready point its installed top or
 *   any higher: taken at once only at or above it, with nothing to install, else found with nothing
 *   changed and taken after the chunks are installed. Its
 *   slot pieces (BUDDY_DIR_UNITS units, as the region's tables) lie in memory in reverse order, so
 *   a record whose two slots straddle a piece boundary is reached through two entries or fails;
 *   the sequences are counted to have made such records;
 * - the region: reservations under a physical budget of 0 to 6 pages (fault injection) either
 *   succeed or return 0 changing nothing (free pages, chunks, tables, physical allocation);
 *   releases ask the physical allocator for nothing; syspte_check catches a corrupted chunk;
 * - buddy_check catches a class list entry at unit npages, flat and chunked, at sizes ending inside
 *   a word, at a word's end and at a chunk's end;
 * - a take that would set a bit in a missing chunk panics, wherever the bit's word pair lies in
 *   the zero piece (generated offsets, start and end bits).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "buddy_impl.h"
#include "syspte_impl.h"
#include "reserved.h"
#include "phys.h"
#include "testhooks.h"
#include "host_machine.h"
#include "test_rng.h"

#define TAG 0x6b686374u   /* "tchk" */

static uint64_t rng;

static uint64_t rnd(void) { return test_rng_next(&rng); }

static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* ------------------------------------------------------------------ flat against chunked */

struct pair {
	uint64_t npages;
	struct buddy flat, lazy;
	void *meta_flat, *meta_lazy;
	uint64_t *slots_flat, *slots_lazy, **dir, npieces;
	void **chunks;                 /* the lazy side's installed chunk pages, to free */
	uint64_t nchunks;
	uint64_t found, taken;         /* buddy_find_take's outcomes: found below the ready point, taken */
	uint64_t (*live)[2];
	size_t nlive, cap;
};

/* The lazy side's chunk of unit u, installed if missing. */
static void pair_chunk(struct pair *p, uint64_t u)
{
	if (u >= p->npages || buddy_chunk_present(&p->lazy, u))
		return;
	void *c = aligned_alloc(4096, BUDDY_CHUNK_BYTES);
	memset(c, 0, BUDDY_CHUNK_BYTES);
	buddy_chunk_install(&p->lazy, u, c);
	p->chunks[p->nchunks++] = c;
}

/* The lazy side's exact ready point: every unit from it - 1 up has its chunk (its slots all exist);
 * the chunks from the last down that are all installed make its ready top (as the region's spans
 * do). */
static uint64_t pair_ready(const struct pair *p)
{
	uint64_t top = (p->npages + BUDDY_CHUNK_UNITS - 1) / BUDDY_CHUNK_UNITS;
	while (top > 0 && buddy_chunk_present(&p->lazy, (top - 1) * BUDDY_CHUNK_UNITS))
		top--;
	return top ? top * BUDDY_CHUNK_UNITS + 1 : 0;
}

static void pair_init(struct pair *p, uint64_t npages)
{
	memset(p, 0, sizeof(*p));
	p->npages = npages;
	p->meta_flat = malloc(buddy_meta_bytes(npages));
	p->meta_lazy = malloc(buddy_meta_bytes_dir(npages));
	memset(p->meta_lazy, 0x5a, buddy_meta_bytes_dir(npages));   /* buddy_init_dir clears what it uses */
	p->slots_flat = calloc(npages + 1, 8);
	/* slot pieces of BUDDY_DIR_UNITS units, piece k at the place of piece npieces - 1 - k */
	p->npieces = (npages + BUDDY_DIR_UNITS - 1) / BUDDY_DIR_UNITS;
	p->slots_lazy = calloc(p->npieces * BUDDY_DIR_UNITS, 8);
	p->dir = calloc(p->npieces, sizeof(*p->dir));
	for (uint64_t k = 0; k < p->npieces; k++)
		p->dir[k] = p->slots_lazy + (p->npieces - 1 - k) * BUDDY_DIR_UNITS;
	p->chunks = calloc(npages / BUDDY_CHUNK_UNITS + 2, sizeof(void *));
	p->cap = 4096;
	p->live = malloc(p->cap * sizeof(*p->live));
	buddy_init(&p->flat, npages, 0, p->meta_flat, p->slots_flat, 0);
	buddy_init_dir(&p->lazy, npages, 0, p->meta_lazy, (uint64_t *const *)p->dir);
	pair_chunk(p, 0);
	pair_chunk(p, npages - 1);
	buddy_free(&p->flat, 0, npages);
	buddy_free(&p->lazy, 0, npages);
}

static void pair_fini(struct pair *p)
{
	for (uint64_t k = 0; k < p->nchunks; k++)
		free(p->chunks[k]);
	free(p->chunks);
	free(p->meta_flat);
	free(p->meta_lazy);
	free(p->slots_flat);
	free(p->slots_lazy);
	free(p->dir);
	free(p->live);
}

struct extents {
	uint64_t n, hash;
};

static void extent_cb(uint64_t s, uint64_t c, void *arg)
{
	struct extents *e = arg;
	e->n++;
	e->hash = (e->hash ^ s) * 0x100000001b3ULL;
	e->hash = (e->hash ^ c) * 0x100000001b3ULL;
}

/* True when both sides hold the same free extents. */
static bool pair_same(const struct pair *p)
{
	struct extents a = { 0, 0 }, b = { 0, 0 };
	buddy_for_each_free(&p->flat, extent_cb, &a);
	buddy_for_each_free(&p->lazy, extent_cb, &b);
	return a.n == b.n && a.hash == b.hash && buddy_free_units(&p->flat) == buddy_free_units(&p->lazy);
}

/* Records whose two slots lie in different slot pieces (unit u - 1 and u, u a piece's first), as
 * buddy_for_each_record_slot lists them: the coverage the reversed pieces are for. */
struct straddles {
	uint64_t last, n;
};

static void straddle_cb(uint64_t u, void *arg)
{
	struct straddles *st = arg;
	st->n += u == st->last + 1 && (u & (BUDDY_DIR_UNITS - 1)) == 0;
	st->last = u;
}

static uint64_t pair_straddles(const struct pair *p)
{
	struct straddles st = { UINT64_MAX - 1, 0 };
	buddy_for_each_record_slot(&p->lazy, straddle_cb, &st);
	return st.n;
}

/* Installs on the lazy side the chunks a take of [s, e) and its later free set bits in: those of
 * units s - 1, s, e - 1 and e (buddy.h). */
static void pair_run_chunks(struct pair *p, uint64_t s, uint64_t e)
{
	if (s)
		pair_chunk(p, s - 1);
	pair_chunk(p, s);
	pair_chunk(p, e - 1);
	pair_chunk(p, e);
}

/* One find + take on both sides; false on a disagreement. */
static bool pair_alloc(struct pair *p, uint64_t n, uint64_t divisor, uint64_t prefer, uint64_t phase)
{
	struct buddy_place a, b;
	bool fa = buddy_find(&p->flat, n, divisor, prefer, phase, &a);
	bool fb = buddy_find(&p->lazy, n, divisor, prefer, phase, &b);
	if (fa != fb || (fa && (a.start != b.start || a.ext_start != b.ext_start || a.ext_end != b.ext_end)))
		return false;
	if (!fa || p->nlive == p->cap)
		return true;
	uint64_t s = b.start, e = s + n;
	pair_run_chunks(p, s, e);
	buddy_take(&p->flat, &a, n);
	buddy_take(&p->lazy, &b, n);
	p->live[p->nlive][0] = s;
	p->live[p->nlive++][1] = n;
	return true;
}

/*
 * One buddy_find_take on both sides; false on a disagreement. The flat side (ready point 0) takes
 * at once; the lazy side's ready point is its exact one or, at random, any higher (a caller may
 * promise less: npages + 1 promises nothing). Taken there: at or above the point, every chunk the
 * take sets a bit in already installed (a missing one would panic), nothing else installed. Found:
 * below it, nothing changed (its free units still the flat side's plus the run); then the chunks
 * are installed and buddy_take takes the placement found. Either way the same placement as the
 * flat side, and (pair_same at the checks) the same free extents.
 */
static bool pair_find_take(struct pair *p, uint64_t n, uint64_t divisor, uint64_t prefer, uint64_t phase)
{
	struct buddy_place a, b;
	uint64_t exact = pair_ready(p), from = exact;
	if (rnd_below(3) == 0)
		from = rnd_below(4) ? exact + rnd_below(p->npages + 2 - exact) : p->npages + 1;
	buddy_set_ready_from(&p->lazy, from);
	if (p->nlive == p->cap)
		return true;
	uint64_t chunks = buddy_chunk_count(&p->lazy);
	int ga = buddy_find_take(&p->flat, n, divisor, prefer, phase, &a);
	int gb = buddy_find_take(&p->lazy, n, divisor, prefer, phase, &b);
	if ((ga == BUDDY_FIND_NONE) != (gb == BUDDY_FIND_NONE) || ga == BUDDY_FIND_FOUND)
		return false;
	if (ga == BUDDY_FIND_NONE)
		return true;
	uint64_t s = b.start, e = s + n;
	if (s != a.start || buddy_chunk_count(&p->lazy) != chunks)
		return false;
	if (gb == BUDDY_FIND_TAKEN) {
		p->taken++;
		if (s < from || buddy_free_units(&p->lazy) != buddy_free_units(&p->flat))
			return false;
	} else {
		p->found++;
		if (s >= from || b.ext_start > s || b.ext_end < e || buddy_free_units(&p->lazy) != buddy_free_units(&p->flat) + n)
			return false;
		pair_run_chunks(p, s, e);
		buddy_take(&p->lazy, &b, n);
	}
	p->live[p->nlive][0] = s;
	p->live[p->nlive++][1] = n;
	return true;
}

/* Frees live range i on both sides: no chunk is installed for it. */
static void pair_free(struct pair *p, size_t i)
{
	uint64_t c = buddy_chunk_count(&p->lazy);
	buddy_free_allocated(&p->flat, p->live[i][0], p->live[i][1]);
	if (rnd_below(2))
		buddy_free_allocated(&p->lazy, p->live[i][0], p->live[i][1]);
	else
		buddy_free(&p->lazy, p->live[i][0], p->live[i][1]);
	if (buddy_chunk_count(&p->lazy) != c)
		abort();
	p->live[i][0] = p->live[--p->nlive][0];
	p->live[i][1] = p->live[p->nlive][1];
}

/* Runs one generated sequence; returns the first failing step + 1, or 0. */
static long pair_run(uint64_t seed, uint64_t npages, long nops, uint64_t maxlen, uint64_t *chunks_out,
		     uint64_t *straddles_out, uint64_t *found_out, uint64_t *taken_out)
{
	struct pair p;
	rng = seed * 0x9E3779B97F4A7C15ULL + 7;
	pair_init(&p, npages);
	long bad = 0;
	for (long k = 0; k < nops && !bad; k++) {
		bool grow = p.nlive == 0 || rnd_below(100) < (k % 4000 < 2000 ? 65 : 40);
		if (grow) {
			uint64_t n = 1 + rnd_below(rnd_below(8) ? 64 : maxlen);
			uint64_t d = rnd_below(10) == 0 ? 1 + rnd_below(24) : 1;
			uint64_t pref = rnd_below(10) == 0 ? (uint64_t)1 << rnd_below(10) : 1, phase = rnd_below(1024);
			if (rnd_below(8) == 0) {
				/* preferably a run starting, or ending before, a slot piece's last unit: the
				 * record of the extent starting there then straddles two pieces */
				pref = BUDDY_DIR_UNITS;
				phase = rnd_below(2) ? 1 : n + 1;
			}
			if (!(rnd_below(2) ? pair_alloc(&p, n, d, pref, phase) : pair_find_take(&p, n, d, pref, phase)))
				bad = k + 1;
		} else {
			pair_free(&p, rnd_below(p.nlive));
		}
		if (!bad && (k % 97 == 0 || k == nops - 1)) {
			if (!pair_same(&p) || buddy_check(&p.flat) || buddy_check(&p.lazy))
				bad = k + 1;
			*straddles_out += pair_straddles(&p);
		}
	}
	while (!bad && p.nlive)
		pair_free(&p, rnd_below(p.nlive));
	if (!bad && (!pair_same(&p) || buddy_check(&p.lazy) || buddy_free_units(&p.lazy) != npages))
		bad = nops + 1;
	*chunks_out = buddy_chunk_count(&p.lazy);
	*found_out += p.found;
	*taken_out += p.taken;
	pair_fini(&p);
	return bad;
}

static void test_differential(void)
{
	static const uint64_t sizes[] = { 4096, 16384, 16385, 3 * 16384 + 77, 200000 };
	static const uint64_t maxlens[] = { 300, 5000, 30000 };
	uint64_t total_chunks = 0, possible = 0, straddles = 0, found = 0, taken = 0;
	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++)
		for (unsigned m = 0; m < ARRAY_SIZE(maxlens); m++)
			for (uint64_t seed = 1; seed <= 3; seed++) {
				uint64_t chunks;
				long bad = pair_run(seed + 10 * m, sizes[s], 12000, maxlens[m], &chunks, &straddles, &found, &taken);
				ok(bad == 0, "%llu units, runs up to %llu, seed %llu: chunked and flat agree (step %ld), %llu chunks",
				   (unsigned long long)sizes[s], (unsigned long long)maxlens[m], (unsigned long long)seed, bad,
				   (unsigned long long)chunks);
				total_chunks += chunks;
				possible += (sizes[s] + BUDDY_CHUNK_UNITS - 1) / BUDDY_CHUNK_UNITS;
			}
	ok(straddles >= 10000, "records across a slot piece boundary: %llu seen at the checks", (unsigned long long)straddles);
	ok(total_chunks < possible, "some chunks were never needed (%llu of %llu made)", (unsigned long long)total_chunks,
	   (unsigned long long)possible);
	ok(found >= 1000 && taken >= 1000, "buddy_find_take: %llu placements taken at once at or above the ready point, "
	   "%llu found below it and taken after their chunks", (unsigned long long)taken, (unsigned long long)found);
}

/* A chunked allocator before any take has exactly the chunks of its two ends, and the metadata
 * block is a small fraction of the flat one; buddy_check holds its ready point to its chunks. */
static void test_setup_cost(void)
{
	struct pair p;
	pair_init(&p, 1u << 22);
	ok(buddy_chunk_count(&p.lazy) == 2 && buddy_check(&p.lazy) == 0, "4M units: 2 chunks after set-up, check passes");
	ok(buddy_meta_bytes_dir(1u << 22) * 50 < buddy_meta_bytes(1u << 22),
	   "chunked metadata block %zu bytes, flat %zu", buddy_meta_bytes_dir(1u << 22), buddy_meta_bytes(1u << 22));
	/* the ready point: none set (npages + 1), then the top chunk's, pass; a point whose unit - 1 or
	 * any unit above lacks its chunk, one past npages + 1, or any on the flat side is caught */
	uint64_t top = pair_ready(&p), n = 1u << 22;
	bool none = buddy_ready_from(&p.lazy) == n + 1 && buddy_ready_from(&p.flat) == 0;
	buddy_set_ready_from(&p.lazy, top);
	bool exact = top == n - BUDDY_CHUNK_UNITS + 1 && buddy_check(&p.lazy) == 0;
	unsigned caught = 0;
	const uint64_t wrong[] = { top - 1, top - BUDDY_CHUNK_UNITS, 1, 0, n + 2 };
	for (unsigned k = 0; k < ARRAY_SIZE(wrong); k++) {
		buddy_set_ready_from(&p.lazy, wrong[k]);
		caught += buddy_check(&p.lazy) != 0;
	}
	buddy_set_ready_from(&p.lazy, top);
	buddy_set_ready_from(&p.flat, 1);
	caught += buddy_check(&p.flat) != 0;
	buddy_set_ready_from(&p.flat, 0);
	ok(none && exact && caught == ARRAY_SIZE(wrong) + 1 && buddy_check(&p.flat) == 0 && buddy_check(&p.lazy) == 0,
	   "ready points: none set at first (flat 0), the top chunk's passes; %u of %zu wrong ones caught by buddy_check "
	   "(a unit below the point without its chunk, past npages + 1, a flat allocator's not 0)", caught,
	   ARRAY_SIZE(wrong) + 1);
	pair_fini(&p);
}

/*
 * The largest allocator (BUDDY_MAX_PAGES units: every size class in use), chunked so that its
 * set-up is cheap, with free runs near unit 0 only: requests whose divisor lies past the size
 * (above 2^32 or not) have one valid start, origin's complement, and are granted there exactly
 * when a run of their length is free from it, else refused after the full search of every class.
 */
static void test_largest(void)
{
	const uint64_t n = BUDDY_MAX_PAGES;
	struct buddy b;
	void *meta = malloc(buddy_meta_bytes_dir(n));
	uint64_t **dir = calloc((n >> BUDDY_DIR_SHIFT) + 1, sizeof(*dir));
	uint64_t *slots = calloc(BUDDY_DIR_UNITS, sizeof(uint64_t));
	void *chunk = aligned_alloc(4096, BUDDY_CHUNK_BYTES);
	dir[0] = slots;   /* the runs lie in [0, BUDDY_DIR_UNITS): one slot piece, one chunk */
	unsigned good = 0, tried = 0;
	static const uint64_t divisors[] = { ((uint64_t)1 << 32) + 3, ((uint64_t)1 << 31) + 1, (uint64_t)3 << 40,
					     (uint64_t)1 << 32 };
	for (unsigned k = 0; k < ARRAY_SIZE(divisors); k++)
		for (uint64_t v = 0; v <= 80; v += 40, tried++) {   /* the valid start: (origin + v) % d == 0 */
			uint64_t d = divisors[k], s100 = ~0ull, s10 = ~0ull;
			buddy_init_dir(&b, n, d * (k + 1) - v, meta, (uint64_t *const *)dir);
			memset(chunk, 0, BUDDY_CHUNK_BYTES);
			buddy_chunk_install(&b, 0, chunk);
			bool freed = buddy_free(&b, 1, 150) && buddy_check(&b) == 0;   /* [1, 151) free */
			/* 100 units from v: free from 40 only; then 10 units from v: free from 80 only */
			bool r100 = buddy_alloc(&b, 100, d, 0, n, &s100), r10 = buddy_alloc(&b, 10, d, 0, n, &s10);
			good += freed && r100 == (v == 40) && (!r100 || s100 == v) && r10 == (v == 80) && (!r10 || s10 == v) &&
				b.free_units == 150u - (r100 ? 100u : 0u) - (r10 ? 10u : 0u) && buddy_check(&b) == 0;
		}
	ok(good == tried, "BUDDY_MAX_PAGES units (%u classes): divisors past the size placed at their one valid start "
	   "or refused (%u of %u outcomes right)", b.nclasses, good, tried);
	free(chunk);
	free(slots);
	free(dir);
	free(meta);
}

/*
 * A class list entry at unit npages (just past the last unit: a link one too far) is caught by
 * buddy_check, on the flat and the chunked side, at sizes whose end lies inside a level-0 word, at
 * a word's end and at a chunk's end (where a word pair for unit npages would lie past the piece
 * directory): as a list's head and as the next link of its first entry.
 */
static void test_check_list_past_end(void)
{
	static const uint64_t sizes[] = { 1000, 4096, BUDDY_CHUNK_UNITS, BUDDY_CHUNK_UNITS + 64, 2 * BUDDY_CHUNK_UNITS,
					  3 * BUDDY_CHUNK_UNITS + 77 };
	const uint64_t next_half = (uint64_t)0x7fffffff << 1;   /* the record's next link: unit + 1 */
	unsigned caught = 0, tried = 0, clean = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(sizes); k++) {
		struct pair p;
		const uint64_t n = sizes[k];
		pair_init(&p, n);   /* one free extent, [0, n), on each side */
		for (int lazy = 0; lazy < 2; lazy++) {
			struct buddy *b = lazy ? &p.lazy : &p.flat;
			unsigned c = 0;
			while (c < BUDDY_CLASSES && b->head[c] == UINT64_MAX)
				c++;
			if (c == BUDDY_CLASSES)
				continue;
			uint64_t h = b->head[c], *slot = lazy ? &p.dir[h >> BUDDY_DIR_SHIFT][h & (BUDDY_DIR_UNITS - 1)]
							 : &p.slots_flat[h], old = *slot;
			b->head[c] = n;
			caught += buddy_check(b) == -1;
			b->head[c] = h;
			*slot = (old & ~next_half) | (n + 1) << 1;
			caught += buddy_check(b) == -1;
			*slot = old;
			tried += 2;
			clean += buddy_check(b) == 0;
		}
		pair_fini(&p);
	}
	ok(tried == 4 * ARRAY_SIZE(sizes) && caught == tried && clean == tried / 2,
	   "a class list entry at unit npages, as the head or a link, flat and chunked, at %zu sizes: %u of %u caught, "
	   "restored states pass", ARRAY_SIZE(sizes), caught, tried);
}

/* ------------------------------------------------------------------ the region */

struct region_state {
	struct syspte_stats st;
	uint64_t allocated, buddy_chunks, start_chunks;
};

static void region_observe(struct region_state *s)
{
	struct phys_stats ps;
	struct syspte_region *r = reserved_region();
	syspte_get_stats(r, &s->st);
	phys_get_stats(&ps);
	s->allocated = ps.allocated_pages;
	s->buddy_chunks = buddy_chunk_count(&r->buddy);
	s->start_chunks = r->starts.chunks;
}

/* True when nothing changed but the region's index, which a reservation may grow before it finds
 * its run (kept: the growth is no half-made state), and the per-CPU caches, which a refusal drains
 * first (neither the subject here):
 * free and reserved pages, reservations, tables, chunks, and the other physical pages. */
static bool region_same(const struct region_state *a, const struct region_state *b)
{
	const struct syspte_stats *x = &a->st, *y = &b->st;
	uint64_t own_a = (x->record_bytes + x->cache_bytes) / PAGE_SIZE, own_b = (y->record_bytes + y->cache_bytes) / PAGE_SIZE;
	return x->free_pages == y->free_pages && x->live == y->live && x->pages_reserved == y->pages_reserved &&
	       x->pages_mapped == y->pages_mapped && x->table_pages == y->table_pages &&
	       x->chunk_pages == y->chunk_pages && a->allocated - own_a == b->allocated - own_b &&
	       a->buddy_chunks == b->buddy_chunks && a->start_chunks == b->start_chunks;
}

static void test_region(void)
{
	struct syspte_region *r;
	enum { LIVE = 64 };
	vaddr_t live[LIVE] = { 0 };
	uint64_t refused = 0, refused_chunk = 0, granted = 0, refused_clean = 0, releases = 0, release_allocs = 0, checks_bad = 0;

	is(host_machine_create(64ULL << 20, 1ULL << 30), 0, "machine: 64 MiB of RAM, 1 GiB region");
	r = reserved_region();
	rng = 12345;
	for (int k = 0; k < 20000; k++) {
		unsigned i = (unsigned)rnd_below(LIVE);
		struct phys_stats ps;
		phys_get_stats(&ps);
		if (live[i]) {   /* a release under a budget of nothing: it must ask for no memory */
			phys_set_budget(ps.allocated_pages);
			struct region_state a, b;
			region_observe(&a);
			uint64_t calls = phys_alloc_calls;
			syspte_release(r, live[i], TAG);
			release_allocs += phys_alloc_calls - calls;
			region_observe(&b);
			releases++;
			checks_bad += b.buddy_chunks != a.buddy_chunks || b.allocated != a.allocated;
			live[i] = 0;
		} else {         /* a reservation anywhere in the region under a budget of 0 to 6 pages */
			uint64_t n = rnd_below(4) ? 1 + rnd_below(600) : 1 + rnd_below(40000);
			phys_set_budget(ps.allocated_pages + rnd_below(7));
			struct region_state a, b;
			region_observe(&a);
			live[i] = syspte_reserve(r, n, TAG, rnd_below(8) ? 0 : SYSPTE_FLAG_DIVISIBLE);
			region_observe(&b);
			if (live[i])
				granted++;
			else {
				refused++;
				refused_clean += region_same(&a, &b);
				/* the same request without a budget: did the refused one need a chunk? */
				phys_set_budget(UINT64_MAX);
				live[i] = syspte_reserve(r, n, TAG, 0);
				region_observe(&a);
				refused_chunk += live[i] && (a.buddy_chunks != b.buddy_chunks || a.start_chunks != b.start_chunks);
			}
		}
		phys_set_budget(UINT64_MAX);
		if (k % 50 == 0)
			checks_bad += syspte_check(r) != 0;
	}
	ok(granted > 500 && refused > 200, "reservations granted (%llu) and refused by the budget (%llu)",
	   (unsigned long long)granted, (unsigned long long)refused);
	ok(refused_chunk > 0, "%llu refusals were for want of an allocator chunk", (unsigned long long)refused_chunk);
	ok(refused_clean == refused, "every refusal changed nothing (%llu of %llu): chunks, tables, pages, statistics",
	   (unsigned long long)refused_clean, (unsigned long long)refused);
	ok(releases > 500 && release_allocs == 0, "%llu releases asked the physical allocator for nothing (%llu calls)",
	   (unsigned long long)releases, (unsigned long long)release_allocs);
	ok(checks_bad == 0, "syspte_check passes throughout, releases leave chunks and pages alone");
	struct syspte_stats st;
	syspte_get_stats(r, &st);
	ok(st.chunk_pages > 2 && st.chunk_pages < 2 * (r->npages / BUDDY_CHUNK_UNITS) + 2,
	   "chunks made on demand: %llu pages for %llu chunk positions", (unsigned long long)st.chunk_pages,
	   (unsigned long long)(r->npages / BUDDY_CHUNK_UNITS));
	for (unsigned i = 0; i < LIVE; i++)
		if (live[i])
			syspte_release(r, live[i], TAG);
	ok(syspte_check(r) == 0, "all released: check passes");
}

/* A set bit in an installed chunk where no extent ends, a bit in the zero piece, and a start
 * bitmap chunk's stray bit are each caught by syspte_check; so is an end bitmap given summary levels. */
static void test_corrupt_chunk(void)
{
	struct syspte_region *r = reserved_region();
	vaddr_t a = syspte_reserve(r, 100, TAG, 0);
	ok(a && syspte_check(r) == 0, "a reservation, check passes");
	uint64_t s = (a - r->base) >> PAGE_SHIFT, u = s + 50;   /* inside the reservation: allocated */
	ok(buddy_chunk_present(&r->buddy, u), "its chunk exists");
	uint64_t *w = buddy_bm_word0(&r->buddy.end, u >> 6);
	uint64_t old = *w;
	*w |= (uint64_t)1 << (u & 63);
	ok(syspte_check(r) != 0, "an end bit set inside a reservation's chunk: check fails");
	*w = old;
	uint64_t *sw = buddy_bm_word0(&r->buddy.start, u >> 6);
	old = *sw;
	*sw |= (uint64_t)1 << (u & 63);   /* a start bit without its summary bit */
	ok(syspte_check(r) != 0, "a start bit set without its summary: check fails");
	*sw = old;
	ok(syspte_check(r) == 0, "restored: check passes");
	buddy_zero_piece[3] = 1;
	ok(syspte_check(r) != 0, "a write to the missing chunks' zero piece: check fails");
	buddy_zero_piece[3] = 0;
	bitset_zero_piece[5] = 4;
	ok(syspte_check(r) != 0, "a write to the start bitmap's zero piece: check fails");
	bitset_zero_piece[5] = 0;
	ok(syspte_check(r) == 0, "restored: check passes");
	r->buddy.end.nl = 2;   /* the hot paths move end bits without summaries: end must have none */
	ok(buddy_check(&r->buddy) != 0, "an end bitmap with summary levels: check fails");
	r->buddy.end.nl = 1;
	ok(syspte_check(r) == 0, "restored: check passes");
	syspte_release(r, a, TAG);
}

/* A take whose bits fall in a missing chunk: what the child of tap_aborts_with runs. */
struct missing_take {
	uint64_t lo, n;   /* the run [lo, lo + n) taken from a 3-chunk allocator with chunk 1 missing */
};

static void missing_take_run(void *arg)
{
	const struct missing_take *t = arg;
	static struct pair p;
	uint64_t start;
	pair_init(&p, 3 * BUDDY_CHUNK_UNITS);   /* chunks 0 and 2 installed: the two ends */
	buddy_alloc(&p.lazy, t->n, 1, t->lo, t->lo + t->n, &start);
}

/*
 * Generated: a take that would set a bit in a missing chunk is a panic (the allocator's contract:
 * the caller installs the chunks first), wherever in the chunk's zero piece the bit's word pair
 * lies: its first pair, inside, its last pair (the pointer test that recognises the zero piece
 * covers all of it). An end bit (a run cut from the middle: unit lo - 1) and a start bit (a run
 * at the extent's front: unit lo + n), at offsets across chunk 1, in a child process each.
 */
static void test_missing_chunk_panics(void)
{
	const uint64_t C = BUDDY_CHUNK_UNITS;
	static const uint64_t offs[] = { 0, 1, 63, 64, 127, 128, 8191, C - 128, C - 65, C - 64, C - 63, C - 2, C - 1 };
	unsigned n = sizeof(offs) / sizeof(offs[0]), fired_end = 0, fired_start = 0;
	for (unsigned k = 0; k < n; k++) {
		struct missing_take end_bit = { C + offs[k] + 1, 1 + rnd_below(3) };   /* end bit at C + offs[k] */
		struct missing_take start_bit = { 0, C + offs[k] };                     /* start bit at C + offs[k] */
		fired_end += tap_aborts_with(missing_take_run, &end_bit, "of a missing chunk");
		fired_start += tap_aborts_with(missing_take_run, &start_bit, "of a missing chunk");
	}
	ok(fired_end == n && fired_start == n, "a take setting an end bit (%u of %u) or a start bit (%u of %u) in a missing "
	   "chunk panics, at every offset tried (first, inner and last word pairs of the zero piece)", fired_end, n,
	   fired_start, n);
}

int main(void)
{
	test_setup_cost();
	test_largest();
	test_check_list_past_end();
	test_differential();
	test_region();
	test_corrupt_chunk();
	test_missing_chunk_panics();
	return tap_done();
}
