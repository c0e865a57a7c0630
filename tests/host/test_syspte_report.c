/*
 * The region's accounting, walks, reports and checker (mm/syspte_report.c) on the host, generated.
 *
 *  - Four regions: one without caches, the machine's with its per-CPU caches, and the same two
 *    made in verifier mode (a guard page after each reservation). Generated reserve, map, unmap
 *    and free churn with tags drawn from a set of 24 (printable and not, so some states have more
 *    than the 16 tags the report prints); after each batch, against a shadow: syspte_get_stats
 *    (every count), syspte_tag_totals at every bound from 0 to one past the distinct tags (the
 *    first tags met in address order stored, sorted, their totals, nothing written past the
 *    bound; the count of distinct tags at every bound), syspte_for_each (every reservation in
 *    address order), syspte_for_each_mapped and syspte_for_each_free (maximal runs, exactly the
 *    shadow's pages), syspte_census (the shadow's free blocks), syspte_check, and the caches
 *    thawed after each walk.
 *  - syspte_tag_totals with more distinct tags than its count takes per walk (1 to 160 distinct
 *    tags, 0 and 0xffffffff among them, on up to 160 reservations in random order): the count at
 *    bounds around each batch of 32 and the stored entries.
 *  - syspte_dump's text: the totals lines, one line per tag (at most 16, sorted, each tag's four
 *    bytes printed with the unprintable ones as '.'), the caches' line and the index line, each
 *    against the statistics and the shadow.
 *  - syspte_describe's text for sampled pages of reservations (page, base, size, tag, pages
 *    mapped), their guard pages in verifier mode (an overrun, naming the reservation), the page
 *    after a reservation in a region without guards (free space), free pages, addresses outside
 *    the region, and the region's first page after a 1-page reservation at page 0.
 *  - syspte_check against corruptions, each one reported as its own violation (the first line it
 *    prints) and the region clean once it is undone: reserved and guard pages freed in the
 *    allocator behind the region's back, guard pages mapped, stale index entries, 2 MiB leaves
 *    outside a reservation (over a cached chunk too), counts and totals off by one, spans made to
 *    look without a table (holding a reservation, a free extent's record slots, slots left set),
 *    a start bit without its entry, the allocator chunks of a reservation's ends missing at the
 *    chunk edges; a 2 MiB leaf and a region past 1 GiB with a reservation at its end check clean.
 *
 *   build/host/test_syspte_report
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include "tap.h"
#include "capture.h"
#include "kprintf.h"
#include "host_machine.h"
#include "syspte_impl.h"
#include "syspte_cache.h"
#include "testhooks.h"
#include "vmlayout.h"
#include "reserved.h"
#include "verifier.h"
#include "test_rng.h"
#include "arch_pte.h"

#define NPAGES 4096u     /* each test region (16 MiB); the machine's is the same size */
#define MAXR 160         /* live reservations a shadow holds */
#define NTAGS 24

static uint64_t rng = 0x243F6A8885A308D3ULL;

static uint64_t below(uint64_t n)
{
	uint64_t x = test_rng_next(&rng);
	return n ? x % n : 0;
}

/* Tags with bytes the report prints as themselves (32..126) and as '.' (below 32, 127 and up), at
 * every position; the rest printable. */
static const uint32_t tags[NTAGS] = {
	0x41424344, 0x20202020, 0x7e7e7e7e, 0x1f414243, 0x41421f43, 0x41427f43, 0x7f424344, 0x41424380,
	0x00000000, 0xffffffff, 0x2041427e, 0x7e414220, 0x54534554, 0x4c4c4f50, 0x31303030, 0x6c646d20,
	0x44434241, 0x44434242, 0x01020304, 0x203a2f5a, 0x5a2f3a20, 0x61626364, 0x41424345, 0x45434241,
};

/* The four characters the report prints for tag t (low byte first, unprintable ones as '.'). */
static void tag_text(uint32_t t, char out[5])
{
	for (int k = 0; k < 4; k++) {
		unsigned char c = (unsigned char)(t >> (8 * k));
		out[k] = c >= 32 && c < 127 ? (char)c : '.';
	}
	out[4] = 0;
}

/* ---------------------------------------------------------------- the shadow */

struct sres {
	vaddr_t va;
	uint64_t n;
	uint32_t tag;
	uint64_t off, len;   /* its one mapping: pages [off, off + len); len 0: none */
};

static struct syspte_region *R;   /* the region driven */
static struct sres rs[MAXR];
static unsigned nrs;
static uint64_t fails;   /* shadow disagreements and call failures */

static void bad(const char *what, uint64_t a, uint64_t b)
{
	if (fails++ < 10)
		printf("# %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a, (unsigned long long)b);
}

static uint64_t page_of(vaddr_t va) { return (va - R->base) >> PAGE_SHIFT; }

static void sh_reserve(uint64_t n, uint32_t tag)
{
	if (nrs == MAXR)
		return;
	vaddr_t v = syspte_reserve(R, n, tag, 0);
	if (v)
		rs[nrs++] = (struct sres){ .va = v, .n = n, .tag = tag };
}

static void sh_map(unsigned k)
{
	struct sres *s = &rs[k];
	if (s->len)
		return;
	uint64_t off = below(s->n), len = 1 + below(s->n - off), pfns[64];
	len = MIN(len, ARRAY_SIZE(pfns));
	for (uint64_t j = 0; j < len; j++)
		pfns[j] = 0x400 + below(1 << 16);
	if (syspte_map(R, s->va + (off << PAGE_SHIFT), s->tag, pfns, len, PT_CACHE_WB) != SYSPTE_OK) {
		bad("map refused", s->va, len);
		return;
	}
	s->off = off;
	s->len = len;
}

static void sh_unmap(unsigned k)
{
	struct sres *s = &rs[k];
	if (!s->len)
		return;
	if (syspte_unmap(R, s->va + (s->off << PAGE_SHIFT), s->tag, s->len) != SYSPTE_OK)
		bad("unmap refused", s->va, s->len);
	s->len = 0;
}

static void sh_free(unsigned k)
{
	sh_unmap(k);
	if (syspte_release(R, rs[k].va, rs[k].tag) != SYSPTE_OK)
		bad("free refused", rs[k].va, rs[k].n);
	rs[k] = rs[--nrs];
}

static void sh_free_all(void)
{
	while (nrs)
		sh_free(nrs - 1);
}

/* One generated step: mostly reserves while few are live, mostly frees while many are. */
static void sh_step(void)
{
	unsigned d = (unsigned)below(10);
	if (nrs && d < 2 + nrs * 5 / MAXR) {
		sh_free((unsigned)below(nrs));
	} else if (nrs && d < 6) {
		unsigned k = (unsigned)below(nrs);
		if (rs[k].len)
			sh_unmap(k);
		else
			sh_map(k);
	} else {
		uint64_t n = below(4) ? 1 + below(16) : 1 + below(90);
		sh_reserve(n, tags[below(NTAGS)]);
	}
}

/* The shadow's reservations in address order (indices into rs). */
static unsigned order[MAXR];

static void sh_order(void)
{
	for (unsigned i = 0; i < nrs; i++)
		order[i] = i;
	for (unsigned i = 1; i < nrs; i++)
		for (unsigned j = i; j > 0 && rs[order[j - 1]].va > rs[order[j]].va; j--) {
			unsigned t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/* Per region page: 1 reserved (or its guard), 2 mapped; 0 free. */
static uint8_t pages[NPAGES];

static void sh_pages(void)
{
	memset(pages, 0, sizeof(pages));
	for (unsigned k = 0; k < nrs; k++) {
		uint64_t p = page_of(rs[k].va);
		for (uint64_t j = 0; j < rs[k].n + R->guard; j++)
			pages[p + j] = 1;
		for (uint64_t j = 0; j < rs[k].len; j++)
			pages[p + rs[k].off + j] = 2;
	}
}

/* ---------------------------------------------------------------- the checks */

/* The caches' freeze count is back to zero after a walk (a walk left frozen sends every fast path
 * to the region's lock). */
static void thawed(const char *what)
{
	if (R->cache.on && R->cache.frozen != 0)
		bad(what, R->cache.frozen, 0);
}

static void check_stats(void)
{
	struct syspte_stats s;
	uint64_t pages_res = 0, mapped = 0, spans = 0;
	for (unsigned k = 0; k < nrs; k++) {
		pages_res += rs[k].n;
		mapped += rs[k].len;
		spans += rs[k].n + R->guard;
	}
	syspte_get_stats(R, &s);
	thawed("stats: caches left frozen");
	if (s.base != R->base || s.npages != NPAGES || s.live != nrs || s.pages_reserved != pages_res ||
	    s.pages_mapped != mapped || s.free_pages != NPAGES - spans)
		bad("stats differ from the shadow", s.live, s.free_pages);
	if (s.table_pages != R->table_pages || s.large_leaves != R->large_leaves || s.meta_bytes != R->meta_bytes ||
	    s.chunk_pages != buddy_chunk_count(&R->buddy) + R->starts.chunks || s.record_bytes != R->index.pages * PAGE_SIZE ||
	    s.cache_bytes != R->cache.cache_pages * PAGE_SIZE || s.cache_slow != R->cache.slow ||
	    s.cache_drains != R->cache.drains || (!R->cache.on && (s.cached_pages || s.cache_fast)))
		bad("stats differ from the region's counters", s.table_pages, s.chunk_pages);
}

/* The totals syspte_tag_totals must give with bound max: the first max distinct tags met in
 * address order, sorted by tag, each with its totals over every reservation; returns the number of
 * distinct tags. */
static size_t expected_tags(struct syspte_tag_total *out, size_t max, size_t *stored)
{
	size_t n = 0, distinct = 0;
	for (unsigned i = 0; i < nrs; i++) {
		const struct sres *s = &rs[order[i]];
		bool seen = false;
		for (unsigned j = 0; j < i; j++)
			seen |= rs[order[j]].tag == s->tag;
		if (seen)
			continue;
		distinct++;
		if (n < max)
			out[n++] = (struct syspte_tag_total){ .tag = s->tag };
	}
	for (size_t k = 0; k < n; k++)
		for (unsigned i = 0; i < nrs; i++)
			if (rs[i].tag == out[k].tag) {
				out[k].count++;
				out[k].pages_reserved += rs[i].n;
				out[k].pages_mapped += rs[i].len;
			}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1].tag > out[j].tag; j--) {
			struct syspte_tag_total t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	*stored = n;
	return distinct;
}

static bool same_total(const struct syspte_tag_total *a, const struct syspte_tag_total *b)
{
	return a->tag == b->tag && a->count == b->count && a->pages_reserved == b->pages_reserved &&
	       a->pages_mapped == b->pages_mapped;
}

static uint64_t max_distinct;   /* the most distinct tags a checked state had */

/* syspte_tag_totals at every bound 0 .. distinct + 1: the count, the entries, nothing past them. */
static void check_tags(void)
{
	struct syspte_tag_total want[NTAGS + 2], got[NTAGS + 2];
	size_t stored, distinct = expected_tags(want, NTAGS, &stored);
	max_distinct = MAX(max_distinct, distinct);
	for (size_t max = 0; max <= distinct + 1; max++) {
		memset(got, 0xa5, sizeof(got));
		size_t d = syspte_tag_totals(R, max ? got : NULL, max), n;
		thawed("tag totals: caches left frozen");
		expected_tags(want, max, &n);
		if (d != distinct)
			bad("tag totals: distinct tags differ", d, distinct);
		for (size_t k = 0; k < n; k++)
			if (!same_total(&got[k], &want[k]))
				bad("tag totals: an entry differs", max, k);
		const unsigned char *past = (const unsigned char *)&got[n];
		for (size_t b = 0; max && b < sizeof(got[0]); b++)
			if (past[b] != 0xa5)
				bad("tag totals: written past its entries", max, n);
	}
}

static struct syspte_info walked[MAXR + 1];
static unsigned nwalked;

static void walk_cb(const struct syspte_info *info, void *arg)
{
	(void)arg;
	if (nwalked <= MAXR)
		walked[nwalked] = *info;
	nwalked++;
}

static void check_for_each(void)
{
	nwalked = 0;
	syspte_for_each(R, walk_cb, NULL);
	thawed("for_each: caches left frozen");
	if (nwalked != nrs) {
		bad("for_each: reservations walked differ", nwalked, nrs);
		return;
	}
	for (unsigned i = 0; i < nrs; i++) {
		const struct sres *s = &rs[order[i]];
		if (walked[i].base != s->va || walked[i].npages != s->n || walked[i].tag != s->tag ||
		    walked[i].mapped != s->len || walked[i].flags != (R->guard ? SYSPTE_FLAG_GUARD : 0))
			bad("for_each: a reservation differs", walked[i].base, s->va);
	}
}

/* A run walk's record: each page's count of runs covering it, and the runs' order and maximality. */
static uint8_t covered[NPAGES];
static uint64_t run_end;   /* the end of the last run walked (page index), for the order */
static uint8_t run_kind;   /* what the runs cover: 2 mapped pages, 0 free ones */

/* True when the shadow says page i is of the kind the runs walked cover. */
static bool run_page(uint64_t i)
{
	return run_kind == 2 ? pages[i] == 2 : pages[i] == 0;
}

static void run_cb(vaddr_t va, uint64_t n, void *arg)
{
	(void)arg;
	uint64_t s = page_of(va);
	if (va < R->base || n == 0 || s + n > NPAGES || (run_end && s <= run_end)) {
		bad("a run out of order, empty, adjacent to the last or past the region", s, n);
		return;
	}
	if ((s && run_page(s - 1)) || (s + n < NPAGES && run_page(s + n)))
		bad("a run not maximal", s, n);
	for (uint64_t k = s; k < s + n; k++)
		covered[k]++;
	run_end = s + n;
}

static void check_runs(uint8_t kind)
{
	memset(covered, 0, sizeof(covered));
	run_end = 0;
	run_kind = kind;
	if (kind == 2)
		syspte_for_each_mapped(R, run_cb, NULL);
	else
		syspte_for_each_free(R, run_cb, NULL);
	thawed("run walk: caches left frozen");
	for (uint64_t i = 0; i < NPAGES; i++)
		if (covered[i] != run_page(i))
			bad(kind == 2 ? "mapped runs differ from the shadow" : "free runs differ from the shadow", i, covered[i]);
}

/* Free blocks per order of the shadow's free pages, as buddy_census counts them (the regions'
 * bases are aligned to more than their size). */
static void check_census(void)
{
	uint64_t want[BUDDY_ORDERS] = { 0 }, got[BUDDY_ORDERS];
	unsigned max_order = 63 - (unsigned)__builtin_clzll(NPAGES);
	for (uint64_t i = 0; i < NPAGES;) {
		if (pages[i]) {
			i++;
			continue;
		}
		uint64_t e = i;
		while (e < NPAGES && !pages[e])
			e++;
		for (uint64_t a = i; a < e;) {
			unsigned k = MIN(63u - (unsigned)__builtin_clzll(e - a), max_order);
			if (a)
				k = MIN(k, (unsigned)__builtin_ctzll(a));
			want[k]++;
			a += 1ULL << k;
		}
		i = e;
	}
	memset(got, 0xa5, sizeof(got));
	syspte_census(R, got);
	thawed("census: caches left frozen");
	if (memcmp(want, got, sizeof(got)))
		bad("census differs from the shadow's free blocks", got[0], want[0]);
}

/* ---------------------------------------------------------------- the report's text */


static char text[65536];

/* The line of text starting with prefix (at a line's start), or NULL. */
static const char *line_of(const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
	return NULL;
}

static void check_dump(void)
{
	struct syspte_stats s;
	syspte_get_stats(R, &s);
	capture_begin();
	syspte_dump(R);
	capture_end(text, sizeof(text));
	thawed("dump: caches left frozen");
	char want[512];
	snprintf(want, sizeof(want), "system PTE region 0x%llx, %llu pages: %llu free, %llu live reservations (%llu pages, "
		 "%llu mapped)\n  %llu page-table pages, %llu 2 MiB leaves, %llu metadata bytes, %llu allocator chunk "
		 "pages, %llu record bytes\n  pages mapped write-back, not as asked (RAM in the direct map): %llu UC, "
		 "%llu UC-, %llu WC\n", (unsigned long long)s.base, (unsigned long long)s.npages,
		 (unsigned long long)s.free_pages, (unsigned long long)s.live, (unsigned long long)s.pages_reserved,
		 (unsigned long long)s.pages_mapped, (unsigned long long)s.table_pages, (unsigned long long)s.large_leaves,
		 (unsigned long long)s.meta_bytes, (unsigned long long)s.chunk_pages, (unsigned long long)s.record_bytes,
		 (unsigned long long)s.overrides[PT_CACHE_UC], (unsigned long long)s.overrides[PT_CACHE_UCMINUS],
		 (unsigned long long)s.overrides[PT_CACHE_WC]);
	if (strncmp(text, want, strlen(want)))
		bad("dump: the totals lines differ", s.live, s.free_pages);
	/* one line per tag, at most 16, in the order of the sorted totals */
	struct syspte_tag_total t[16];
	size_t n;
	expected_tags(t, 16, &n);
	const char *p = text + strlen(want);
	for (size_t k = 0; k < n; k++) {
		char tt[5];
		tag_text(t[k].tag, tt);
		snprintf(want, sizeof(want), "  tag '%s': %llu reservations, %llu pages reserved, %llu mapped\n", tt,
			 (unsigned long long)t[k].count, (unsigned long long)t[k].pages_reserved,
			 (unsigned long long)t[k].pages_mapped);
		if (strncmp(p, want, strlen(want))) {
			bad("dump: a tag line differs", k, t[k].tag);
			return;
		}
		p += strlen(want);
	}
	if (strncmp(p, "  CPU caches ", 13) || strncmp(p + 13, R->cache.on ? "on:" : "off:", R->cache.on ? 3 : 4))
		bad("dump: the caches' line does not follow the tags", n, R->cache.on);
	snprintf(want, sizeof(want), "  index: %llu entries in %llu slots (%llu pages), %llu grown, %llu shrunk\n",
		 (unsigned long long)R->index.count, R->index.bits ? 1ULL << R->index.bits : 0ULL,
		 (unsigned long long)R->index.pages, (unsigned long long)R->index.grows, (unsigned long long)R->index.shrinks);
	const char *ix = line_of("  index: ");
	if (!ix || strncmp(ix, want, strlen(want)) || ix < p)
		bad("dump: the index line differs or comes before the caches'", R->index.count, 0);
}

/* The descriptions: what syspte_describe printed (captured) and what it should have, appended. */
static char want_text[65536];
static size_t want_len;
static uint64_t described;   /* addresses whose description was checked */

/* Describes va, appending the expected line (a printf format and its arguments) to want_text. */
static void describe(vaddr_t va, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void describe(vaddr_t va, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	want_len += (size_t)vsnprintf(want_text + want_len, sizeof(want_text) - want_len, fmt, ap);
	va_end(ap);
	syspte_describe(R, va);
	described++;
}

/* An address in page i: its first byte, its last or one between. */
static vaddr_t byte_in(uint64_t i)
{
	uint64_t d = below(3);
	return syspte_va(R, i) + (d == 0 ? 0 : d == 1 ? PAGE_SIZE - 1 : below(PAGE_SIZE));
}

/* The descriptions of a few pages of reservation s (its first, its last, one between), of the page
 * after it (its guard in verifier mode: an overrun; free space when free) and of the page before
 * it when free. */
static void describe_one(const struct sres *s)
{
	char tt[5];
	tag_text(s->tag, tt);
	uint64_t p = page_of(s->va);
	const uint64_t at[] = { 0, s->n - 1, below(s->n) };
	for (unsigned k = 0; k < ARRAY_SIZE(at); k++) {
		vaddr_t va = byte_in(p + at[k]);
		describe(va, "*** 0x%llx is page %llu of reservation base 0x%llx:\n***   %llu pages, tag '%s', %llu pages mapped\n",
			 (unsigned long long)va, (unsigned long long)at[k], (unsigned long long)s->va,
			 (unsigned long long)s->n, tt, (unsigned long long)s->len);
	}
	uint64_t after = p + s->n;
	vaddr_t va = byte_in(after);
	if (after < NPAGES && R->guard)
		describe(va, "*** 0x%llx is the verifier's guard page after a reservation:\n"
			 "***   base 0x%llx, %llu pages, tag '%s' (an overrun)\n", (unsigned long long)va, (unsigned long long)s->va, (unsigned long long)s->n, tt);
	else if (after < NPAGES && !pages[after])
		describe(va, "*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
	if (p && !pages[p - 1]) {
		va = byte_in(p - 1);
		describe(va, "*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
	}
}

/* Descriptions of sampled reservations, free pages and addresses outside the region, against
 * the lines expected. */
static void check_describe(void)
{
	want_len = 0;
	capture_begin();
	for (unsigned k = below(4); k < nrs; k += 1 + (unsigned)below(6))
		describe_one(&rs[k]);
	for (int k = 0; k < 4; k++) {
		uint64_t i = below(NPAGES);
		vaddr_t va = byte_in(i);
		if (!pages[i])
			describe(va, "*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)va);
	}
	const vaddr_t out[] = { R->base - 1, R->base - PAGE_SIZE, syspte_va(R, NPAGES), syspte_va(R, NPAGES) + PAGE_SIZE - 1 };
	for (unsigned k = 0; k < ARRAY_SIZE(out); k++)
		describe(out[k], "*** 0x%llx is outside the system PTE region\n", (unsigned long long)out[k]);
	capture_end(text, sizeof(text));
	if (want_len >= sizeof(want_text) || strcmp(text, want_text)) {
		size_t d = 0;
		while (text[d] && text[d] == want_text[d])
			d++;
		bad("describe: the text differs at byte", d, want_len);
	}
	for (const char *line = text; *line;) {   /* a fatal report's lines fit the narrowest console */
		size_t n = strcspn(line, "\n");
		if (n > KPRINTF_SCREEN_COLS)
			bad("describe: a line wider than the console", n, KPRINTF_SCREEN_COLS);
		line += n + (line[n] == '\n');
	}
}

/* The region's first pages: a 1-page reservation placed at page 0 (by a preference, the region
 * empty; its base is aligned to more than NPAGES pages), the first byte of page 1 (its guard page,
 * or free space) and the last byte of page 0 described. */
static void describe_first_page(const char *what)
{
	vaddr_t v = syspte_reserve_pref(R, 1, tags[0], 0, NPAGES, 0);
	ok(v == R->base, "%s: a 1-page reservation at the region's first page", what);
	if (v != R->base)
		return;
	rs[nrs++] = (struct sres){ .va = v, .n = 1, .tag = tags[0] };
	sh_pages();
	char tt[5];
	tag_text(tags[0], tt);
	want_len = 0;
	capture_begin();
	describe(v + PAGE_SIZE - 1, "*** 0x%llx is page 0 of reservation base 0x%llx:\n***   1 pages, tag '%s', 0 pages mapped\n",
		 (unsigned long long)(v + PAGE_SIZE - 1), (unsigned long long)v, tt);
	if (R->guard)
		describe(v + PAGE_SIZE, "*** 0x%llx is the verifier's guard page after a reservation:\n"
			 "***   base 0x%llx, 1 pages, tag '%s' (an overrun)\n", (unsigned long long)(v + PAGE_SIZE), (unsigned long long)v, tt);
	else
		describe(v + PAGE_SIZE, "*** 0x%llx is free (unreserved) system PTE space\n", (unsigned long long)(v + PAGE_SIZE));
	capture_end(text, sizeof(text));
	ok(strcmp(text, want_text) == 0, "%s: its last byte is its page 0, the first byte after it %s", what,
	   R->guard ? "its guard page" : "free space");
	sh_free_all();
}

/* Every check of the state the shadow has. */
static void check_all(void)
{
	sh_order();
	sh_pages();
	check_stats();
	check_tags();
	check_for_each();
	check_runs(2);
	check_runs(0);
	check_census();
	check_dump();
	if (syspte_check(R))
		bad("syspte_check fails", 0, 0);
}

/* ---------------------------------------------------------------- the checker */

/* syspte_check(R) with what it prints captured into text; its result. */
static int check_quiet(void)
{
	capture_begin();
	int st = syspte_check(R);
	capture_end(text, sizeof(text));
	return st;
}

/* True when syspte_check fails with what as the first (only) violation it reports. */
static bool caught(const char *what)
{
	static const char head[] = "syspte_check: ";
	bool met = check_quiet() == -1 && strncmp(text, head, strlen(head)) == 0 &&
		   strncmp(text + strlen(head), what, strlen(what)) == 0 && text[strlen(head) + strlen(what)] == ' ';
	if (!met)
		printf("# not caught as '%s': %s\n", what, text[0] ? text : "(nothing printed)\n");
	return met;
}

static bool clean(void) { return check_quiet() == 0 && text[0] == 0; }

/* Counts of check_catches: corruptions tried, those caught as their own violation, undone clean. */
struct catches { unsigned tried, caught, undone; };

/* Page i freed in the allocator behind the region's back (its PTE not present: the free writes the
 * extent's record there), syspte_check run, then the page taken back. */
static void free_behind(uint64_t i, const char *what, struct catches *c)
{
	uint64_t got = UINT64_MAX;
	c->tried++;
	if (!buddy_free(&R->buddy, i, 1))
		return;
	c->caught += caught(what);
	c->undone += buddy_alloc(&R->buddy, 1, 0, i, i + 1, &got) && got == i && clean();
}

/* Page i's PTE made present behind the region's back, syspte_check run, then restored. */
static void map_behind(uint64_t i, const char *what, struct catches *c)
{
	volatile uint64_t *slot = syspte_slot(R, i);
	uint64_t saved = *slot;
	c->tried++;
	*slot = arch_pte_leaf(pt_leaf_attrs(R->pt, PT_PROT_W), 0x400000);
	c->caught += caught(what);
	*slot = saved;
	c->undone += clean();
}

/* An index entry for start entered behind the region's back (no start bit, no reservation),
 * syspte_check run, then the entry removed. */
static void entry_behind(uint64_t start, const char *what, struct catches *c)
{
	struct syspte_resv e = syspte_resv_make(start, 1, tags[0], 0, R->guard != 0);
	c->tried++;
	if (!syspte_index_room(&R->index, 1))
		return;
	syspte_index_insert(&R->index, &e);
	c->caught += caught(what);
	syspte_index_remove(&R->index, syspte_index_find(&R->index, start));
	c->undone += clean();
}

/* Span s's level-2 entry replaced by a 2 MiB leaf of the aligned frame pa behind the region's
 * back, syspte_check run, then restored. */
static void leaf_behind(uint64_t s, paddr_t pa, const char *what, struct catches *c)
{
	volatile pte_t *d = syspte_pde(R, s);
	pte_t saved = arch_pte_read(d);
	c->tried++;
	arch_pte_write(d, arch_pte_leaf(R->attrs2[PT_CACHE_WB], pa));
	c->caught += caught(what);
	arch_pte_write(d, saved);
	c->undone += clean();
}

/* A count off by one (*count, the region's table or leaf count), syspte_check run, restored. */
static void count_behind(uint64_t *count, const char *what, struct catches *c)
{
	c->tried++;
	(*count)++;
	c->caught += caught(what);
	(*count)--;
	c->undone += clean();
}

/* True when one reservation of the shadow covers span s whole. */
static bool span_covered(uint64_t s)
{
	for (unsigned k = 0; k < nrs; k++)
		if (page_of(rs[k].va) <= s * SYSPTE_SPAN_PAGES && page_of(rs[k].va) + rs[k].n >= (s + 1) * SYSPTE_SPAN_PAGES)
			return true;
	return false;
}

/*
 * The page tables' tests of syspte_check: a 512-page reservation at a span's start mapped whole
 * with frames from an odd multiple of 2 MiB is one 2 MiB leaf, which checks clean; each other
 * span with a table given a 2 MiB leaf (outside a reservation; in the region with caches, those
 * whose first page lies in a cached chunk among them, whose lookup holds that cache's lock until
 * the check lets it go), the table and leaf counts off by one and the live, reserved and mapped
 * totals off by one are caught as themselves.
 */
static void check_catches_tables(const char *what)
{
	struct catches c = { 0 };
	unsigned cached_spans = 0;
	uint64_t pfns[SYSPTE_SPAN_PAGES];
	for (unsigned j = 0; j < SYSPTE_SPAN_PAGES; j++)
		pfns[j] = 3 * SYSPTE_SPAN_PAGES + j;   /* 6 MiB: an odd multiple of 2 MiB */
	vaddr_t v = syspte_reserve_pref(R, SYSPTE_SPAN_PAGES, tags[1], 0, SYSPTE_SPAN_PAGES, 0);
	bool leaf = v && syspte_map(R, v, tags[1], pfns, SYSPTE_SPAN_PAGES, PT_CACHE_WB) == SYSPTE_OK;
	ok(R->attrs2[PT_CACHE_WB] && leaf && R->large_leaves == 1 && syspte_span_leaf(R, page_of(v) >> SYSPTE_SPAN_SHIFT) &&
	   clean(), "%s: a 512-page reservation at a span's start mapped by one 2 MiB leaf: check passes", what);
	for (uint64_t s = 0; s < R->nspans; s++) {
		if (!syspte_has_table(R, s) || syspte_span_leaf(R, s) || span_covered(s))
			continue;
		cached_spans += syspte_cache_owner_page(R, s * SYSPTE_SPAN_PAGES) != 0;
		leaf_behind(s, 3 * SIZE_2M, "a 2 MiB leaf outside a reservation", &c);
	}
	count_behind(&R->table_pages, "tables or 2 MiB leaves differ from their counts", &c);
	count_behind(&R->large_leaves, "tables or 2 MiB leaves differ from their counts", &c);
	count_behind(&R->live_count, "totals differ from the records", &c);
	count_behind(&R->pages_reserved, "totals differ from the records", &c);
	count_behind(&R->pages_mapped, "totals differ from the records", &c);
	ok(c.tried > 2 && c.caught == c.tried && c.undone == c.tried && (cached_spans > 0 || !R->cache.on),
	   "%s: %u corruptions of the page tables (%u of them over a cached chunk): each caught as itself, undone clean",
	   what, c.tried, cached_spans);
	ok(leaf && syspte_unmap(R, v, tags[1], SYSPTE_SPAN_PAGES) == SYSPTE_OK && syspte_release(R, v, tags[1]) == SYSPTE_OK &&
	   clean(), "%s: the leaf unmapped, its reservation freed", what);
}

/* What untable changes of a span, kept to restore it. */
struct untabled { uint64_t s; paddr_t pa; uint64_t *slots; uint8_t ready; uint64_t from; };

/* Span s made to look as if it had no table (its table's address, its slots' pointer, its ready
 * byte, the table count and the allocator's ready point as a span without one has them; the
 * table itself and its level-2 entry kept). */
static struct untabled untable(uint64_t s)
{
	struct untabled u = { s, R->table_pa[s], R->tables[s], R->span_ready[s], buddy_ready_from(&R->buddy) };
	R->table_pa[s] = 0;
	R->tables[s] = s == 0 ? R->slot0 : NULL;
	R->span_ready[s] = 0;
	R->table_pages--;
	buddy_set_ready_from(&R->buddy, syspte_ready_top_of(R));
	return u;
}

static void retable(const struct untabled *u)
{
	R->table_pa[u->s] = u->pa;
	R->tables[u->s] = u->slots;
	R->span_ready[u->s] = u->ready;
	R->table_pages++;
	buddy_set_ready_from(&R->buddy, u->from);
}

/* Span s made to look as if it had no table, syspte_check run, then restored. */
static void untable_behind(uint64_t s, const char *what, struct catches *c)
{
	c->tried++;
	struct untabled u = untable(s);
	c->caught += caught(what);
	retable(&u);
	c->undone += clean();
}

/* True when free page u starts a free extent (by the shadow). */
static bool extent_start(uint64_t u) { return !pages[u] && (u == 0 || pages[u - 1]); }

/* What span s holds by the shadow: 2 a reservation's page (or its guard), 1 a free extent's
 * record slot (the extent's first page, and its second), 0 neither. */
static int span_holds(uint64_t s)
{
	int what = 0;
	for (uint64_t u = s * SYSPTE_SPAN_PAGES; u < (s + 1) * SYSPTE_SPAN_PAGES; u++)
		if (pages[u])
			return 2;
		else if (extent_start(u) || (u > 0 && extent_start(u - 1)))
			what = 1;
	return what;
}

/*
 * The record tests of syspte_check, each met by itself: with every reservation unmapped, for
 * each one, its first and its last page freed in the allocator (reserved pages free), and with
 * guard pages its guard page freed, then mapped (guard page free or mapped); index entries with no
 * start bit, inside reservations, at the region's end and past it (stale); each must be reported
 * as that violation, before any other check's (the totals' or the PTEs', which would see them
 * too), and the region must check clean once it is undone.
 */
static void check_catches(const char *what)
{
	struct catches c = { 0 };
	unsigned untabled[2] = { 0, 0 };   /* spans made to look without a table: free extents' slots only, reservations' */
	for (unsigned k = 0; k < nrs; k++)
		sh_unmap(k);
	for (unsigned k = 0; k < nrs; k++) {
		uint64_t p = page_of(rs[k].va), n = rs[k].n;
		free_behind(p, "reserved pages free in the allocator", &c);
		if (n > 1)
			free_behind(p + n - 1, "reserved pages free in the allocator", &c);
		if (R->guard) {
			free_behind(p + n, "guard page missing, free or mapped", &c);
			map_behind(p + n, "guard page missing, free or mapped", &c);
		}
	}
	/* spans made to look as if they had no table */
	sh_pages();
	for (uint64_t s = 0; s < R->nspans; s++)
		/* (span 0's first two slots are slot0 when it has no table: a span 0 with only those left
		 * untested) */
		if (syspte_has_table(R, s) && !syspte_span_leaf(R, s) && span_holds(s) > (s == 0)) {
			untabled[span_holds(s) - 1]++;
			untable_behind(s, span_holds(s) == 2 ? "a reservation's span has no table" :
				       "a free extent's record slot has no table", &c);
		}
	/* stale index entries: at a page inside a reservation, at the region's end and past it */
	for (unsigned k = 0; k < nrs; k += 1 + (unsigned)below(6))
		if (rs[k].n > 1)
			entry_behind(page_of(rs[k].va) + 1 + below(rs[k].n - 1), "an index entry without its start bit (stale)", &c);
	entry_behind(NPAGES, "an index entry without its start bit (stale)", &c);
	entry_behind(NPAGES + 1 + below(1000), "an index entry without its start bit (stale)", &c);
	ok(c.tried > nrs && c.caught == c.tried && c.undone == c.tried && untabled[1] > 0,
	   "%s: %u corruptions of %u reservations' records, of the spans' tables (%u with a reservation, %u with a free "
	   "extent's record slots alone) and of the index: %u caught as themselves, %u undone clean", what, c.tried, nrs,
	   untabled[1], untabled[0], c.caught, c.undone);
}

/*
 * The record slots' test of syspte_check, on an empty region whose spans all have their tables:
 * a reservation ending at span 2's last page leaves the free extent after it with its record in
 * the first two pages of span 3, which holds nothing else. Span 3 made to look as if it had no
 * table is caught as a record slot without a table; so is it with span 0 (whose free extent keeps
 * its record in slot0's pages 0 and 1 then) made to look so too. A span so made whose slots'
 * pointer is left (span 0's its table's, not slot0; span 3's with span 0 without a table) is caught
 * as slots without a table. With a reservation at page 0 as well, a start bit set past the last
 * reservation (where the walk of the records has ended: only the start bits' own walk meets it)
 * is caught as a start bit without its entry. Pages 0 and 1 taken by a reservation whose record
 * is hidden, with span 0 made to look without a table, leave the free extent from page 2 with its
 * record slots outside slot0 and any table: caught at page 2.
 */
static void check_catches_slots(const char *what)
{
	uint64_t at = 3 * SYSPTE_SPAN_PAGES - 20 - R->guard, abs = (R->base >> PAGE_SHIFT) + at;
	vaddr_t v = syspte_reserve_pref(R, 20, tags[2], 0, NPAGES, (NPAGES - (abs & (NPAGES - 1))) & (NPAGES - 1));
	bool all = true;
	for (uint64_t s = 0; s < R->nspans; s++)
		all &= syspte_has_table(R, s);
	ok(v == syspte_va(R, at) && all, "%s: a reservation ending at span 2's end, every span with its table", what);
	if (v != syspte_va(R, at))
		return;
	struct catches c = { 0 };
	untable_behind(3, "a free extent's record slot has no table", &c);
	struct untabled u0 = untable(0), u3 = untable(3);
	c.caught += caught("a free extent's record slot has no table");
	retable(&u3);
	retable(&u0);
	c.undone += clean();
	/* a span without a table whose slots' pointer is still set: span 0 alone, span 3 with span 0
	 * (slot0 then) */
	u0 = untable(0);
	R->tables[0] = u0.slots;
	c.caught += caught("a span without a table has slots");
	retable(&u0);
	c.undone += clean();
	u0 = untable(0);
	u3 = untable(3);
	R->tables[3] = u3.slots;
	c.caught += caught("a span without a table has slots");
	retable(&u3);
	retable(&u0);
	c.undone += clean();
	/* with a reservation at page 0 too, a start bit past the last reservation, with no entry */
	vaddr_t z = syspte_reserve_pref(R, 1, tags[3], 0, NPAGES, 0);
	uint64_t stray = 4 * SYSPTE_SPAN_PAGES + below(SYSPTE_SPAN_PAGES);
	bitset_set(&R->starts, stray);
	c.caught += z == R->base && caught("a start bit without its index entry");
	bitset_clear(&R->starts, stray);
	c.undone += clean() && z && syspte_release(R, z, tags[3]) == SYSPTE_OK;
	/* pages 0 and 1 taken by a reservation whose record is then hidden (index entry, start bit,
	 * totals), span 0 without a table: the free extent from page 2 has its record slots at pages 2
	 * and 3, in no table and past slot0's two, and the first of them is the one reported */
	uint64_t n0 = 2 - R->guard;
	z = syspte_reserve_pref(R, n0, tags[3], 0, NPAGES, 0);
	bool hidden = false;
	if (z == R->base) {
		struct syspte_resv rec = *syspte_index_find(&R->index, 0);
		syspte_index_remove(&R->index, syspte_index_find(&R->index, 0));
		bitset_clear(&R->starts, 0);
		R->live_count--;
		R->pages_reserved -= n0;
		u0 = untable(0);
		hidden = caught("a free extent's record slot has no table") && strstr(text, "(0x2, 0x0)\n");
		retable(&u0);
		syspte_index_room(&R->index, 1);
		syspte_index_insert(&R->index, &rec);
		bitset_set(&R->starts, 0);
		R->live_count++;
		R->pages_reserved += n0;
	}
	c.caught += hidden;
	c.undone += clean() && z && syspte_release(R, z, tags[3]) == SYSPTE_OK;
	ok(c.caught == 6 && c.undone == 6 && clean() && syspte_release(R, v, tags[2]) == SYSPTE_OK,
	   "%s: span 3 without a table, alone and with span 0 so too: caught as a record slot without a table; "
	   "span 0 without a table but its slots' pointer, alone, and span 3 so with span 0 without one: caught as "
	   "slots without a table; with a reservation at page 0, a start bit past the last one without its entry: "
	   "caught; pages 0 and 1 taken behind a hidden record, span 0 without a table: page 2's record slot caught; "
	   "each undone clean", what);
}

/* Reserves n pages at page at of R, which must be free with the run after it (the one start a
 * preference of 2^16 pages allows in a region of as many pages); 0 otherwise. */
static vaddr_t reserve_at(uint64_t at, uint64_t n, uint32_t tag)
{
	uint64_t prefer = 1ULL << 16, abs = (R->base >> PAGE_SHIFT) + at;
	vaddr_t v = syspte_reserve_pref(R, n, tag, 0, prefer, (prefer - (abs & (prefer - 1))) & (prefer - 1));
	if (v && v != syspte_va(R, at)) {
		syspte_release(R, v, tag);
		return 0;
	}
	return v;
}

/* The allocator's chunk c made to look missing (its bitmap piece the zero piece; the ready bytes
 * of its spans and the ready point as they would then be), syspte_check run, then restored. */
static void unchunk_behind(uint64_t c, const char *what, struct catches *k)
{
	uint64_t *piece = R->buddy.start.piece[c], from = buddy_ready_from(&R->buddy);
	uint64_t s0 = c * BUDDY_CHUNK_UNITS / SYSPTE_SPAN_PAGES, ns = BUDDY_CHUNK_UNITS / SYSPTE_SPAN_PAGES;
	uint8_t ready[BUDDY_CHUNK_UNITS / SYSPTE_SPAN_PAGES];
	k->tried++;
	memcpy(ready, &R->span_ready[s0], ns);
	R->buddy.start.piece[c] = buddy_zero_piece;
	memset(&R->span_ready[s0], 0, ns);
	buddy_set_ready_from(&R->buddy, syspte_ready_top_of(R));
	k->caught += caught(what);
	R->buddy.start.piece[c] = piece;
	memcpy(&R->span_ready[s0], ready, ns);
	buddy_set_ready_from(&R->buddy, from);
	k->undone += clean();
}

/*
 * The allocator chunks of a reservation's ends (mm/buddy.h: the units s - 1, s, e - 1 and e a
 * free sets bits at), on a region of four chunks: a reservation starting at chunk 1's first
 * unit with chunk 0 (its s - 1's) missing, one from there to chunk 2 with chunk 1 (its s's alone)
 * missing, and one ending at chunk 0's end with chunk 1 (its e's alone) missing: each caught as a
 * reservation's end without its chunk.
 */
static void check_catches_chunks(void)
{
	const uint64_t C = BUDDY_CHUNK_UNITS;
	R = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (8ULL << 30), 4 * C, SYSPTE_CREATE_NO_CACHE);
	ok(R != NULL, "a region of four allocator chunks");
	if (!R)
		return;
	const struct { uint64_t at, n, chunk; } cases[] = { { C, 10, 0 }, { C, C + 1, 1 }, { C - 10, 10, 1 } };
	struct catches k = { 0 };
	unsigned placed = 0;
	for (unsigned j = 0; j < ARRAY_SIZE(cases); j++) {
		vaddr_t v = reserve_at(cases[j].at, cases[j].n, tags[4]);
		placed += v && clean() && buddy_chunk_present(&R->buddy, cases[j].chunk * C);
		if (v)
			unchunk_behind(cases[j].chunk, "a reservation's end has no allocator chunk", &k);
		k.undone += v && syspte_release(R, v, tags[4]) == SYSPTE_OK && clean();
	}
	ok(placed == 3 && k.caught == 3 && k.undone == 6, "3 reservations at the chunks' edges, each with the chunk of one "
	   "end missing: caught as a reservation's end without its chunk (%u), undone clean, freed", k.caught);
}

/* A region of 1 GiB and one span, whose first reservation the allocator places at its end, in its
 * second GiB: the check's walk of that reservation's spans stops at the region's last span (the
 * first GiB has no table, nor its level-2 table: nothing past the spans' arrays may be read as a
 * table). */
static void check_far_end(void)
{
	uint64_t npages = (1ULL << 18) + SYSPTE_SPAN_PAGES;
	R = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (16ULL << 30), npages, SYSPTE_CREATE_NO_CACHE);
	vaddr_t v = R ? syspte_reserve(R, 20, tags[5], 0) : 0;
	ok(v && v == syspte_va(R, npages - 20) && !syspte_has_table(R, 0) && clean() &&
	   syspte_release(R, v, tags[5]) == SYSPTE_OK && clean(),
	   "a region of 1 GiB and 2 MiB: its first reservation at its end, check passes; freed");
}

/* Churn on region r: batches of steps, every check after each, descriptions after every fourth;
 * then the checker's corruptions and the region's first page. */
static void churn(struct syspte_region *r, const char *what, unsigned batches)
{
	R = r;
	nrs = 0;
	fails = 0;
	max_distinct = 0;
	described = 0;
	uint64_t most = 0, mapped_states = 0, slot0_states = 0;
	for (unsigned b = 0; b < batches; b++) {
		/* the first batch one reservation of 20 pages: a fresh region's lies at its back, and the
		 * free extent before it keeps its record in the slots of pages 0 and 1 while span 0 has no
		 * table */
		unsigned steps = b == 0 ? 0 : 1 + (unsigned)below(b % 8 == 7 ? 120 : 12);
		if (b == 0)
			sh_reserve(20, tags[below(NTAGS)]);
		for (unsigned k = 0; k < steps; k++)
			sh_step();
		check_all();
		slot0_states += !syspte_has_table(R, 0) && R->tables[0] == R->slot0 && nrs;
		if (b % 4 == 0)
			check_describe();
		most = MAX(most, nrs);
		for (unsigned k = 0; k < nrs; k++)
			mapped_states += rs[k].len != 0;
	}
	ok(fails == 0, "%s: %u generated states: statistics, tag totals at every bound, the walks, the census and the "
	   "dump's text as the shadow has them; %llu descriptions exact", what, batches, (unsigned long long)described);
	ok(max_distinct > 16 && most > 40 && mapped_states > 100 && (slot0_states > 0 || r->cache.on),
	   "%s: met: %llu distinct tags (more than the dump prints), %llu live reservations, mapped ones, %llu states "
	   "checked with records in the slots of pages 0 and 1 (span 0 without a table)", what,
	   (unsigned long long)max_distinct, (unsigned long long)most, (unsigned long long)slot0_states);
	check_catches_tables(what);
	if (!r->cache.on)   /* (a cached reservation's pages lie in a chunk the allocator counts taken) */
		check_catches(what);
	sh_free_all();
	fails = 0;
	check_all();
	ok(fails == 0, "%s: all freed: everything empty", what);
	if (!r->cache.on) {   /* (a cache places a 1-page reservation in its own chunk) */
		check_catches_slots(what);
		describe_first_page(what);
	}
}

/* The distinct tags syspte_tag_totals counts past its caller's array, over more than one batch
 * of its walk: ntags distinct tags (0 and 0xffffffff among them when there is room), each on one
 * 1-page reservation and random ones on a second, up to MAXR reservations, made in a random order;
 * the count at bounds 0, 1 and around every multiple of 32, and the stored entries (the first met
 * in address order, sorted); everything freed after. */
static void check_many_tags(struct syspte_region *r, unsigned ntags)
{
	uint32_t t[MAXR], pick[MAXR];
	unsigned npick = 0, bad_count = 0, bad_entry = 0;
	for (unsigned i = 0; i < ntags; i++) {
		t[i] = i == 0 ? 0 : i == 1 ? 0xffffffffu : (uint32_t)test_rng_next(&rng);
		for (unsigned j = 0; j < i; j++)
			if (t[j] == t[i])
				t[i] = 0x80000000u + i;   /* a repeat drawn (about never): a value no draw collides with here */
		pick[npick++] = t[i];
	}
	while (npick < MIN(MAXR, 2 * ntags))
		pick[npick++] = t[below(ntags)];
	for (unsigned i = npick; i > 1; i--) {
		unsigned j = (unsigned)below(i);
		uint32_t x = pick[i - 1];
		pick[i - 1] = pick[j];
		pick[j] = x;
	}
	struct syspte_region *was = R;
	unsigned nrs0 = nrs;
	R = r;
	nrs = 0;
	for (unsigned i = 0; i < npick; i++)
		sh_reserve(1, pick[i]);
	sh_order();
	static struct syspte_tag_total want[MAXR + 1], got[MAXR + 1];
	size_t stored, distinct = expected_tags(want, 0, &stored);
	for (size_t max = 0; max <= distinct + 1; max++) {
		if (max > 1 && max % 32 > 1 && max % 32 < 31 && max + 1 < distinct)
			continue;
		size_t d = syspte_tag_totals(r, max ? got : NULL, max), n;
		expected_tags(want, max, &n);
		bad_count += d != distinct;
		for (size_t k = 0; k < n; k++)
			bad_entry += !same_total(&got[k], &want[k]);
	}
	ok(nrs == npick && distinct == ntags && !bad_count && !bad_entry,
	   "tag totals over %u distinct tags on %u reservations: the count exact at every bound tried (%u wrong), "
	   "the stored entries right (%u wrong)", ntags, nrs, bad_count, bad_entry);
	for (unsigned i = 0; i < nrs; i++)
		syspte_release(r, rs[i].va, rs[i].tag);
	nrs = nrs0;
	R = was;
}

int main(void)
{
	is(host_machine_create(64ULL << 20, (uint64_t)NPAGES * PAGE_SIZE), 0, "machine: 64 MiB of RAM, a 16 MiB region");
	struct syspte_region *plain = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (2ULL << 30), NPAGES,
						       SYSPTE_CREATE_NO_CACHE);
	ok(plain && syspte_guard_pages(plain) == 0, "a second region, without caches or guard pages");
	if (plain) {
		const unsigned counts[] = { 1, 31, 32, 33, 64, 65, 97, MAXR };
		for (unsigned i = 0; i < ARRAY_SIZE(counts); i++)
			check_many_tags(plain, counts[i]);
		churn(plain, "no caches", 80);
	}
	churn(reserved_region(), "caches", 80);
	check_catches_chunks();
	check_far_end();
	/* a machine made in verifier mode: its regions have guard pages (the mode then off, its checks
	 * being the verifier's tests') */
	mm_verifier_set(true);
	is(host_machine_create(64ULL << 20, (uint64_t)NPAGES * PAGE_SIZE), 0, "a machine made in verifier mode");
	struct syspte_region *guarded = syspte_create_ex(host_machine_pt(), SYSPTE_BASE + (3ULL << 30), NPAGES,
							 SYSPTE_CREATE_NO_CACHE);
	mm_verifier_set(false);
	ok(guarded && syspte_guard_pages(guarded) == 1 && syspte_guard_pages(reserved_region()) == 1,
	   "its region and a second one without caches have guard pages");
	if (guarded)
		churn(guarded, "guard pages", 80);
	churn(reserved_region(), "caches, guard pages", 80);
	return tap_done();
}
