/* Pictures of the system PTE region and of physical memory (see memview.h). */
#include "memview.h"
#include "physlimit.h"
#include "fbcon.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "efi_mmap.h"
#include "bootinfo.h"
#include "arch_mm.h"
#include "kassert.h"
#include "kprintf.h"

#define MEMVIEW_CELL_PX_MAX 12   /* largest cell tried, in pixels (one pixel of it is the gap) */
#define MEMVIEW_CELL_PX_MIN 4
#define MEMVIEW_TAGS        6    /* tags with a colour of their own; the others share one */
#define MEMVIEW_SLOTS       (MEMVIEW_TAGS + 1)
#define MEMVIEW_LEGEND_MAX  12
#define MEMVIEW_LABEL_MAX   40
#define MEMVIEW_BG          0x000000u
#define MEMVIEW_TEXT        0xC0C0C0u
#define MEMVIEW_TITLE       0xFFFFFFu
#define MEMVIEW_BAD         0xFF5555u
#define MEMVIEW_FREE_RGB    0x343434u
#define MEMVIEW_GUARD_RGB   0x7A5A3Au
#define MEMVIEW_OTHER_TAGS_RGB 0x9A9A9Au
/* Largest chunk (pages per cell): a cell's counts are 32-bit. */
#define MEMVIEW_CHUNK_MAX   (1ULL << 31)
/* Bytes of the architectural 52-bit physical address space: a descriptor claiming RAM past it is
 * a firmware's bug, which the kernel ignores whole (mm/phys.c, kernel/vm.c) and the picture too. */
#define MEMVIEW_ARCH_END    PHYS_ADDR_ARCH_END

/* Colours of the first MEMVIEW_TAGS tags seen, in order. */
static const uint32_t memview_tag_rgb[MEMVIEW_TAGS] = {
	0x3D7EDB, 0xE0A030, 0x2FB39A, 0xB05FD0, 0xD8D040, 0xE06A5A,
};

/* Physical memory categories, bottom of a cell's stack first. */
enum memview_ram_cat { RAM_USED, RAM_KERNEL, RAM_FIRMWARE, RAM_ACPI, RAM_RESERVED, RAM_FREE, RAM_NCAT };
static const uint32_t memview_ram_rgb[RAM_NCAT] = { 0x3D7EDB, 0x2FB39A, 0xE0A030, 0xB05FD0, 0x7A5A3A, MEMVIEW_FREE_RGB };
static const char *const memview_ram_name[RAM_NCAT] = {
	"allocated", "kernel image", "firmware runtime", "ACPI", "reserved", "free",
};

/* False while a picture is only counted (memview_box.draw): the drawing helpers do nothing. */
static bool memview_drawing;

/* Per-cell counts (pages), shared by both pictures (drawn one after the other). */
static struct {
	uint32_t count[MEMVIEW_SLOTS + 2];   /* region: tag slots, guard, free / RAM: categories */
	uint32_t mapped;                     /* region: mapped pages */
	uint32_t managed;                    /* RAM: pages the allocator manages */
	bool bad;
} memview_cell[MEMVIEW_MAX_CELLS];

/* The grid of one picture. */
struct memview_grid {
	uint64_t chunk;                      /* pages per cell (a power of two) */
	uint64_t npages;                     /* pages pictured */
	unsigned cells, cols, px;            /* cell count, cells per row, cell size in pixels */
};

/* A legend entry. */
struct memview_key {
	uint32_t rgb;
	char label[MEMVIEW_LABEL_MAX];
};

/* The state of a walk: the picture's first page and grid. */
struct memview_walk {
	uint64_t first;                      /* page number of cell 0's first page */
	const struct memview_grid *g;
	unsigned slot;                       /* which count[] a callback adds to */
	uint64_t total;                      /* pages reported by the walker */
	bool outside;                        /* a range outside the picture was reported */
	uint32_t tags[MEMVIEW_TAGS];         /* region: tags owning a colour, in order seen */
	unsigned ntags;
	bool other_tags;
};

/* ------------------------------------------------------------------ helpers */

/* Length of s. */
static size_t memview_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* The font cell size. */
static void memview_font(unsigned *cw, unsigned *ch)
{
	fbcon_get_geometry(NULL, NULL, cw, ch);
	if (!*cw)
		*cw = 8, *ch = 16;
}

/* Draws s cut to at most w pixels at (x, y). */
static void memview_text(unsigned x, unsigned y, unsigned w, uint32_t fg, const char *s)
{
	char buf[160];
	unsigned cw, ch;
	size_t n = 0, max;

	if (!memview_drawing)
		return;
	memview_font(&cw, &ch);
	max = MIN(w / cw, sizeof(buf) - 1);
	while (n < max && s[n])
		buf[n] = s[n], n++;
	buf[n] = 0;
	fbcon_draw_text(x, y, 1, fg, MEMVIEW_BG, buf);
}

/* Smallest power of two >= x (1 <= x <= MEMVIEW_CHUNK_MAX). */
static uint64_t memview_pow2_up(uint64_t x)
{
	uint64_t p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

/* x / d rounded up (d >= 1), for any x. */
static uint64_t memview_div_up(uint64_t x, uint64_t d)
{
	return x / d + (x % d != 0);
}

/* Chooses the cell size and chunk for npages in a w x h box: the finest chunk that fits, then the
 * largest cell for it; never more than MEMVIEW_MAX_CELLS cells nor a chunk past MEMVIEW_CHUNK_MAX.
 * False when not even one row of the smallest cells fits, or npages needs larger chunks. */
static bool memview_grid_choose(struct memview_grid *g, uint64_t npages, unsigned w, unsigned h)
{
	g->chunk = 0;
	g->npages = npages;
	for (unsigned px = MEMVIEW_CELL_PX_MAX; px >= MEMVIEW_CELL_PX_MIN; px--) {
		uint64_t cols = w / px, rows = h / px, fit = MIN(cols * rows, (uint64_t)MEMVIEW_MAX_CELLS), chunk;
		if (!cols || !rows || !npages || memview_div_up(npages, fit) > MEMVIEW_CHUNK_MAX)
			continue;
		chunk = memview_pow2_up(memview_div_up(npages, fit));
		if (!g->chunk || chunk < g->chunk) {
			g->chunk = chunk;
			g->px = px;
			g->cols = (unsigned)cols;
		}
	}
	if (!g->chunk)
		return false;
	g->cells = (unsigned)memview_div_up(npages, g->chunk);
	KASSERT(g->cells <= MEMVIEW_MAX_CELLS, "memview: %u cells for %llu pages", g->cells, (unsigned long long)npages);
	return true;
}

/* Pages of cell c (the last one may be short). */
static uint64_t memview_cell_pages(const struct memview_grid *g, unsigned c)
{
	uint64_t start = (uint64_t)c * g->chunk;
	return MIN(g->chunk, g->npages - start);
}

/* Adds the pages [page, page + n) to count slot of every cell they cover (clipped to the picture;
 * a range outside it is remembered as a disagreement). */
static void memview_add(struct memview_walk *w, uint64_t page, uint64_t n, unsigned slot, bool to_mapped,
			bool to_managed)
{
	const struct memview_grid *g = w->g;
	uint64_t end;

	w->total += n;
	if (page < w->first || page - w->first >= g->npages || n > g->npages - (page - w->first)) {
		w->outside = true;
		return;
	}
	page -= w->first;
	end = page + n;
	while (page < end) {
		unsigned c = (unsigned)(page / g->chunk);
		uint64_t k = MIN(end, ((uint64_t)c + 1) * g->chunk) - page;
		if (to_mapped)
			memview_cell[c].mapped += (uint32_t)k;
		else if (to_managed)
			memview_cell[c].managed += (uint32_t)k;
		else
			memview_cell[c].count[slot] += (uint32_t)k;
		page += k;
	}
}

/* Draws cell c as a stack of the counts in order (bottom first), or magenta when bad. */
static void memview_draw_cell(const struct memview_grid *g, unsigned x0, unsigned y0, unsigned c,
			      const uint32_t *counts, const uint32_t *rgb, unsigned n)
{
	unsigned x = x0 + (c % g->cols) * g->px, y = y0 + (c / g->cols) * g->px, side = g->px - 1;
	uint64_t pages = memview_cell_pages(g, c), cum = 0;
	unsigned drawn = 0;

	if (!memview_drawing)
		return;
	if (memview_cell[c].bad) {
		fbcon_fill_rect(x, y, side, side, MEMVIEW_DISAGREE_RGB);
		return;
	}
	for (unsigned i = 0; i < n && drawn < side; i++) {
		unsigned top;
		cum += counts[i];
		top = (unsigned)MIN((cum * side + pages / 2) / pages, (uint64_t)side);
		if (top > drawn)
			fbcon_fill_rect(x, y + side - top, side, top - drawn, rgb[i]);
		drawn = MAX(drawn, top);
	}
	if (drawn < side)                            /* pages in no state: a hole */
		fbcon_fill_rect(x, y, side, side - drawn, MEMVIEW_BG);
}

/* Height in pixels the legend needs in width w. */
static unsigned memview_legend_height(const struct memview_key *k, unsigned n, unsigned w)
{
	unsigned cw, ch, x = 0, lines = 1;

	memview_font(&cw, &ch);
	for (unsigned i = 0; i < n; i++) {
		unsigned iw = (unsigned)(2 + memview_strlen(k[i].label) + 2) * cw;
		if (x && x + iw > w)
			lines++, x = 0;
		x += iw;
	}
	return n ? lines * ch : 0;
}

/* Draws the legend entries from (x, y) within width w: a swatch and a label each. */
static void memview_legend(unsigned x0, unsigned y, unsigned w, const struct memview_key *k, unsigned n)
{
	unsigned cw, ch, x = 0;

	if (!memview_drawing)
		return;
	memview_font(&cw, &ch);
	for (unsigned i = 0; i < n; i++) {
		unsigned iw = (unsigned)(2 + memview_strlen(k[i].label) + 2) * cw;
		if (x && x + iw > w)
			y += ch, x = 0;
		fbcon_fill_rect(x0 + x, y + ch / 4 - 1, cw + 2, ch / 2 + 2, MEMVIEW_TEXT);
		fbcon_fill_rect(x0 + x + 1, y + ch / 4, cw, ch / 2, k[i].rgb);
		memview_text(x0 + x + 2 * cw, y, w - x, MEMVIEW_TEXT, k[i].label);
		x += iw;
	}
}

/* Offset of the first pixel row below the grid (which starts at grid_y). */
static unsigned memview_grid_bottom(const struct memview_grid *g, unsigned grid_y)
{
	return grid_y + ((g->cells + g->cols - 1) / g->cols) * g->px + 1;
}

/* Lays out title, grid and legend in the box; false (and res->height 0) if the grid does not fit. */
static bool memview_layout(struct memview_grid *g, uint64_t npages, unsigned w, unsigned h,
			   const struct memview_key *k, unsigned nk, unsigned *grid_y, struct memview_result *res)
{
	unsigned cw, ch, lh = memview_legend_height(k, nk, w);

	memview_font(&cw, &ch);
	res->height = 0;
	if (h <= ch + lh + MEMVIEW_CELL_PX_MIN || !memview_grid_choose(g, npages, w, h - ch - lh - 2))
		return false;
	*grid_y = ch + 1;
	res->chunk_pages = g->chunk;
	res->cells = g->cells;
	res->cell_px = g->px;
	res->height = memview_grid_bottom(g, *grid_y) + lh;
	return true;
}

/* Sets res's verdict from the walk: agreement unless some cell or total was wrong. */
static void memview_verdict(struct memview_result *res, const struct memview_grid *g)
{
	res->bad_cells = 0;
	for (unsigned c = 0; c < g->cells; c++)
		res->bad_cells += memview_cell[c].bad;
	if (res->bad_cells && !res->note[0])
		ksnprintf(res->note, sizeof(res->note), "%llu cells disagree", (unsigned long long)res->bad_cells);
	res->agree = !res->note[0];
}

/* Formats a page count as "N KiB/MiB/GiB" into buf. */
static void memview_size(char *buf, size_t n, uint64_t pages)
{
	uint64_t kib = pages * (PAGE_SIZE >> 10);
	if (kib >= (1u << 20) && kib % (1u << 20) == 0)
		ksnprintf(buf, n, "%llu GiB", (unsigned long long)(kib >> 20));
	else if (kib >= 1024 && kib % 1024 == 0)
		ksnprintf(buf, n, "%llu MiB", (unsigned long long)(kib >> 10));
	else
		ksnprintf(buf, n, "%llu KiB", (unsigned long long)kib);
}

/* ------------------------------------------------------------------ the system PTE region */

/* The colour slot of tag (first MEMVIEW_TAGS tags seen get their own). */
static unsigned memview_tag_slot(struct memview_walk *w, uint32_t tag)
{
	for (unsigned i = 0; i < w->ntags; i++)
		if (w->tags[i] == tag)
			return i;
	if (w->ntags < MEMVIEW_TAGS) {
		w->tags[w->ntags] = tag;
		return w->ntags++;
	}
	w->other_tags = true;
	return MEMVIEW_TAGS;
}

static void memview_region_resv_cb(const struct syspte_info *r, void *arg)
{
	struct memview_walk *w = arg;
	memview_add(w, r->base >> PAGE_SHIFT, r->npages, memview_tag_slot(w, r->tag), false, false);
}

static void memview_region_free_cb(vaddr_t va, uint64_t n, void *arg)
{
	struct memview_walk *w = arg;
	memview_add(w, va >> PAGE_SHIFT, n, MEMVIEW_SLOTS + 1, false, false);
}

static void memview_region_mapped_cb(vaddr_t va, uint64_t n, void *arg)
{
	struct memview_walk *w = arg;
	memview_add(w, va >> PAGE_SHIFT, n, 0, true, false);
}

/* Prints a tag as four characters, low byte first, into s (5 bytes). */
static void memview_tag_str(uint32_t tag, char *s)
{
	for (int k = 0; k < 4; k++) {
		char c = (char)(tag >> (8 * k));
		s[k] = (c >= 32 && c < 127) ? c : '.';
	}
	s[4] = 0;
}

/* Lighter shade of rgb (halfway to white): the mapped part of a tag's pages. */
static uint32_t memview_light(uint32_t rgb)
{
	uint32_t out = 0;
	for (int s = 0; s < 24; s += 8)
		out |= ((((rgb >> s) & 0xFF) + 0xFF) / 2) << s;
	return out;
}

/* Counts the region into memview_cell[] and checks the walkers against each other and the stats. */
static void memview_region_count(struct memview_walk *w, const struct syspte_stats *st, struct memview_result *res)
{
	uint64_t reserved, mapped;
	const struct memview_grid *g = w->g;

	for (unsigned c = 0; c < g->cells; c++)
		memview_cell[c] = (typeof(memview_cell[0])){ 0 };
	syspte_for_each(reserved_region(), memview_region_resv_cb, w);
	reserved = w->total, w->total = 0;
	syspte_for_each_mapped(reserved_region(), memview_region_mapped_cb, w);
	mapped = w->total, w->total = 0;
	syspte_for_each_free(reserved_region(), memview_region_free_cb, w);
	if (w->outside)
		ksnprintf(res->note, sizeof(res->note), "a walker reported pages outside the region");
	else if (reserved != st->pages_reserved || w->total != st->free_pages || mapped != st->pages_mapped)
		ksnprintf(res->note, sizeof(res->note), "walkers: %llu reserved, %llu free, %llu mapped; stats: %llu, %llu, %llu",
			  (unsigned long long)reserved, (unsigned long long)w->total, (unsigned long long)mapped,
			  (unsigned long long)st->pages_reserved, (unsigned long long)st->free_pages,
			  (unsigned long long)st->pages_mapped);
	for (unsigned c = 0; c < g->cells; c++) {
		uint64_t resv = 0, pages = memview_cell_pages(g, c);
		for (unsigned s = 0; s < MEMVIEW_SLOTS; s++)
			resv += memview_cell[c].count[s];
		memview_cell[c].bad = resv + memview_cell[c].count[MEMVIEW_SLOTS + 1] > pages || memview_cell[c].mapped > resv;
		/* Pages neither reserved nor free: the verifier's guard pages. */
		if (!memview_cell[c].bad)
			memview_cell[c].count[MEMVIEW_SLOTS] = (uint32_t)(pages - resv - memview_cell[c].count[MEMVIEW_SLOTS + 1]);
	}
}

/* Records the tag of a reservation (the legend is built before the grid is laid out). */
static void memview_region_tag_cb(const struct syspte_info *r, void *arg)
{
	memview_tag_slot(arg, r->tag);
}

/* The region's legend: free, one entry per tag colour, mapped, guard pages, disagreement. */
static unsigned memview_region_keys(const struct memview_walk *w, const struct syspte_stats *st,
				    struct memview_key *keys)
{
	unsigned nk = 0;

	keys[nk++] = (struct memview_key){ MEMVIEW_FREE_RGB, "free" };
	for (unsigned i = 0; i < w->ntags; i++) {
		char t[5];
		memview_tag_str(w->tags[i], t);
		keys[nk].rgb = memview_tag_rgb[i];
		ksnprintf(keys[nk++].label, MEMVIEW_LABEL_MAX, "'%s'", t);
	}
	if (w->other_tags)
		keys[nk++] = (struct memview_key){ MEMVIEW_OTHER_TAGS_RGB, "other tags" };
	if (st->pages_mapped)
		keys[nk++] = (struct memview_key){ memview_light(w->ntags ? memview_tag_rgb[0] : MEMVIEW_OTHER_TAGS_RGB),
						   "lighter: mapped" };
	if (st->npages - st->free_pages - st->pages_reserved)
		keys[nk++] = (struct memview_key){ MEMVIEW_GUARD_RGB, "guard pages" };
	keys[nk++] = (struct memview_key){ MEMVIEW_DISAGREE_RGB, "walkers disagree" };
	return nk;
}

/* Draws region cell c: mapped pages (light), each tag's reserved pages (the dominant tag first),
 * guard pages, free pages, bottom up. */
static void memview_region_cell(const struct memview_grid *g, unsigned x, unsigned y, unsigned c)
{
	uint32_t counts[MEMVIEW_SLOTS + 3], rgb[MEMVIEW_SLOTS + 3], resv = 0, left, dom_rgb;
	unsigned n = 0, dom = 0;

	for (unsigned s = 0; s < MEMVIEW_SLOTS; s++) {
		resv += memview_cell[c].count[s];
		if (memview_cell[c].count[s] > memview_cell[c].count[dom])
			dom = s;
	}
	dom_rgb = dom < MEMVIEW_TAGS ? memview_tag_rgb[dom] : MEMVIEW_OTHER_TAGS_RGB;
	counts[n] = MIN(memview_cell[c].mapped, resv), rgb[n++] = memview_light(dom_rgb);
	left = resv - counts[0];
	counts[n] = MIN(left, memview_cell[c].count[dom] - MIN(memview_cell[c].count[dom], counts[0]));
	rgb[n++] = dom_rgb;
	left -= counts[n - 1];
	for (unsigned s = 0; s < MEMVIEW_SLOTS && left; s++) {
		if (s == dom)
			continue;
		counts[n] = MIN(left, memview_cell[c].count[s]);
		rgb[n++] = s < MEMVIEW_TAGS ? memview_tag_rgb[s] : MEMVIEW_OTHER_TAGS_RGB;
		left -= counts[n - 1];
	}
	counts[n] = memview_cell[c].count[MEMVIEW_SLOTS], rgb[n++] = MEMVIEW_GUARD_RGB;
	counts[n] = memview_cell[c].count[MEMVIEW_SLOTS + 1], rgb[n++] = MEMVIEW_FREE_RGB;
	memview_draw_cell(g, x, y, c, counts, rgb, n);
}

void memview_region(const struct memview_box *box, const char *title, struct memview_result *res)
{
	struct syspte_stats st;
	struct memview_grid g;
	struct memview_walk walk = { .g = &g };
	struct memview_key keys[MEMVIEW_LEGEND_MAX];
	unsigned nk, grid_y;
	char sz[24], line[160];

	*res = (struct memview_result){ 0 };
	memview_drawing = box->draw;
	syspte_get_stats(reserved_region(), &st);
	syspte_for_each(reserved_region(), memview_region_tag_cb, &walk);
	nk = memview_region_keys(&walk, &st, keys);
	if (!memview_layout(&g, st.npages, box->w, box->h, keys, nk, &grid_y, res))
		return;
	walk.first = st.base >> PAGE_SHIFT;
	memview_region_count(&walk, &st, res);
	memview_size(sz, sizeof(sz), g.chunk);
	ksnprintf(line, sizeof(line), "%s: cell = %s", title, sz);
	memview_text(box->x, box->y, box->w, MEMVIEW_TITLE, line);
	for (unsigned c = 0; c < g.cells; c++)
		memview_region_cell(&g, box->x, box->y + grid_y, c);
	memview_verdict(res, &g);
	memview_legend(box->x, box->y + memview_grid_bottom(&g, grid_y), box->w, keys, nk);
}

/* ------------------------------------------------------------------ physical memory */

/* The picture's category of a memory type (never RAM_USED or RAM_FREE: those come from the
 * allocator), or RAM_NCAT for the usable types, which the allocator's walkers account for. */
static unsigned memview_ram_cat_of(uint32_t type, uint64_t attr)
{
	if (type == EFI_MEMORY_TYPE_KERNEL)
		return RAM_KERNEL;
	if (type == EFI_RT_CODE || type == EFI_RT_DATA)
		return RAM_FIRMWARE;
	if (type == EFI_ACPI_RECLAIM || type == EFI_ACPI_NVS)
		return RAM_ACPI;
	if ((phys_type_usable_at_init(type, attr) || phys_type_loader(type, attr)))
		return RAM_NCAT;
	return RAM_RESERVED;
}

/* True for types that are RAM (the picture ends with the last of them): all but reserved and MMIO. */
static bool memview_is_ram(uint32_t type)
{
	return type != EFI_RESERVED && type != EFI_MMIO && type != EFI_MMIO_PORT && type != EFI_PAL_CODE;
}

/* True for a descriptor whose bytes would end past the 52-bit physical address space or wrap past
 * 2^64: a firmware's bug, ignored whole by the picture as by the kernel. */
static bool memview_desc_impossible(const struct efi_memory_descriptor *d)
{
	return d->num_pages > MEMVIEW_ARCH_END >> PAGE_SHIFT ||
	       d->phys_start > MEMVIEW_ARCH_END - (d->num_pages << PAGE_SHIFT);
}

/* The frame RAM descriptor d ends at in the picture (every page its bytes touch), at most the
 * CPU's physical width (no frame exists past it); 0 when it has none or is impossible. */
static uint64_t memview_ram_end(const struct efi_memory_descriptor *d)
{
	uint64_t width_end = 1ULL << (arch_phys_addr_bits() - PAGE_SHIFT);
	if (!memview_is_ram(d->type) || !d->num_pages || memview_desc_impossible(d))
		return 0;
	return MIN(ALIGN_UP(d->phys_start + (d->num_pages << PAGE_SHIFT), PAGE_SIZE) >> PAGE_SHIFT, width_end);
}

static void memview_ram_free_cb(paddr_t pa, uint64_t n, void *arg)
{
	memview_add(arg, pa_to_pfn(pa), n, RAM_FREE, false, false);
}

static void memview_ram_managed_cb(paddr_t pa, uint64_t n, void *arg)
{
	memview_add(arg, pa_to_pfn(pa), n, 0, false, true);
}

/* Counts physical memory into memview_cell[] and checks the walkers against the stats. */
static void memview_ram_count(struct memview_walk *w, const void *map, size_t size, size_t dsz,
			      struct memview_result *res)
{
	const struct memview_grid *g = w->g;
	struct phys_stats st;
	uint64_t managed, free;

	for (unsigned c = 0; c < g->cells; c++)
		memview_cell[c] = (typeof(memview_cell[0])){ 0 };
	for (size_t i = 0; dsz && i < size / dsz; i++) {
		const struct efi_memory_descriptor *d = efi_desc(map, dsz, i);
		unsigned cat = memview_ram_cat_of(d->type, d->attribute);
		uint64_t first = pa_to_pfn(d->phys_start), n = d->num_pages;
		if (cat == RAM_NCAT || first >= g->npages || memview_desc_impossible(d))
			continue;
		n = MIN(n, g->npages - first);
		memview_add(w, first, n, cat, false, false);
	}
	w->total = 0;
	phys_for_each_managed(memview_ram_managed_cb, w);
	managed = w->total, w->total = 0;
	phys_for_each_free(memview_ram_free_cb, w);
	free = w->total;
	phys_get_stats(&st);
	if (w->outside)
		ksnprintf(res->note, sizeof(res->note), "a walker reported frames past the end of RAM");
	else if (managed != st.usable_pages || free != st.free_pages)
		ksnprintf(res->note, sizeof(res->note), "walkers: %llu managed, %llu free; stats: %llu, %llu",
			  (unsigned long long)managed, (unsigned long long)free, (unsigned long long)st.usable_pages,
			  (unsigned long long)st.free_pages);
	for (unsigned c = 0; c < g->cells; c++) {
		uint32_t fr = memview_cell[c].count[RAM_FREE], mg = memview_cell[c].managed;
		memview_cell[c].bad = fr > mg;
		memview_cell[c].count[RAM_USED] = mg - MIN(fr, mg);
	}
}

void memview_ram(const struct memview_box *box, const char *title, const void *map, size_t size, size_t desc_size,
		 struct memview_result *res)
{
	unsigned x = box->x, y = box->y, w = box->w, h = box->h;
	struct memview_grid g;
	struct memview_walk walk = { .g = &g, .first = 0 };
	struct memview_key keys[RAM_NCAT + 2];
	unsigned nk = 0, grid_y;
	uint64_t top = 0;
	char sz[24], line[160];

	*res = (struct memview_result){ 0 };
	memview_drawing = box->draw;
	for (size_t i = 0; desc_size && i < size / desc_size; i++)
		top = MAX(top, memview_ram_end(efi_desc(map, desc_size, i)));
	for (unsigned i = 0; i < RAM_NCAT; i++) {
		keys[nk].rgb = memview_ram_rgb[i];
		ksnprintf(keys[nk++].label, MEMVIEW_LABEL_MAX, "%s", memview_ram_name[i]);
	}
	keys[nk++] = (struct memview_key){ MEMVIEW_BG, "no RAM" };
	keys[nk++] = (struct memview_key){ MEMVIEW_DISAGREE_RGB, "walkers disagree" };
	if (!top || !memview_layout(&g, top, w, h, keys, nk, &grid_y, res))
		return;
	memview_ram_count(&walk, map, size, desc_size, res);
	memview_size(sz, sizeof(sz), g.chunk);
	ksnprintf(line, sizeof(line), "%s: cell = %s", title, sz);
	memview_text(x, y, w, MEMVIEW_TITLE, line);
	for (unsigned c = 0; c < g.cells; c++)
		memview_draw_cell(&g, x, y + grid_y, c, memview_cell[c].count, memview_ram_rgb, RAM_NCAT);
	memview_verdict(res, &g);
	memview_legend(x, y + memview_grid_bottom(&g, grid_y), w, keys, nk);
}
