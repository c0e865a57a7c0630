/*
 * Host test of the framebuffer console (kernel/fbcon.c, built here unchanged) on a synthetic font
 * and a framebuffer in host memory (ASan-checked to its exact size): the pixel formats it accepts
 * and how it encodes colours in each; the framebuffer's size (include/bootinfo.h, bootinfo_fb_bytes)
 * for generated modes whose FrameBufferSize is 0, short, exact or larger, and modes unusable at any
 * size; and for generated geometries (odd widths, pitch beyond the width, those four sizes, screens
 * beyond the text shadow) that every visible row is drawn and text, scrolling, rectangles and scaled
 * text stay inside the visible pixels and never touch a row's padding; fbcon_takes_writes's probes,
 * one a page of the visible pixels, and its answer with a page of them gone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/fbcon.c"

#include "test_font.h"

#define SENTINEL 0x5A5A5A5Au

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* A framebuffer of exactly the bytes fbcon may touch (bootinfo_fb_bytes; 4 for an unusable mode),
 * filled with SENTINEL. */
static uint32_t *fb_alloc(const struct bootinfo_fb *fb, size_t *bytes)
{
	size_t n = bootinfo_fb_bytes(fb) ? bootinfo_fb_bytes(fb) : 4;
	uint32_t *p = malloc(n);

	for (size_t i = 0; i < n / 4; i++)
		p[i] = SENTINEL;
	*bytes = n;
	return p;
}

/* A 32-bpp framebuffer description. */
static struct bootinfo_fb fb_desc(uint32_t format, uint32_t w, uint32_t h, uint32_t pitch, uint64_t size)
{
	struct bootinfo_fb fb = { .base = 0x80000000, .size = size, .width = w, .height = h, .pitch = pitch,
				  .format = format };
	if (format == BOOTINFO_FB_BITMASK) {
		fb.mask_red = 0x3FF00000, fb.mask_green = 0x000FFC00, fb.mask_blue = 0x000003FF;
		fb.mask_reserved = 0xC0000000;
	}
	return fb;
}

/* Formats fbcon must refuse (it draws 32-bit pixels only): bitmask layouts of 16 and 24 bits. */
static void test_formats_refused(void)
{
	static const struct { uint32_t r, g, b, x; const char *what; } masks[] = {
		{ 0xF800, 0x07E0, 0x001F, 0, "RGB565 (16 bpp)" },
		{ 0x7C00, 0x03E0, 0x001F, 0x8000, "XRGB1555 (16 bpp)" },
		{ 0xFF0000, 0x00FF00, 0x0000FF, 0, "RGB888 (24 bpp)" },
		{ 0x0000FF, 0x00FF00, 0xFF0000, 0, "BGR888 (24 bpp)" },
		{ 0, 0, 0, 0xFF000000, "no colour bits" },
	};
	struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BITMASK, 640, 480, 640, 0);
	size_t bytes;
	uint32_t *p = fb_alloc(&fb, &bytes);

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		fb.mask_red = masks[i].r, fb.mask_green = masks[i].g, fb.mask_blue = masks[i].b;
		fb.mask_reserved = masks[i].x;
		fbcon_init(&fb, p);
		ok(!fbcon_active(), "a bitmask framebuffer of %s is refused, not drawn as 32 bpp", masks[i].what);
	}
	fb = fb_desc(BOOTINFO_FB_RGBX, 640, 480, 639, 0);
	fbcon_init(&fb, p);
	ok(!fbcon_active(), "pitch below the width is refused");
	fb = fb_desc(BOOTINFO_FB_RGBX, 0, 480, 640, 0);
	fbcon_init(&fb, p);
	ok(!fbcon_active(), "width 0 is refused");
	fb = fb_desc(BOOTINFO_FB_NONE, 640, 480, 640, 0);
	fbcon_init(&fb, p);
	ok(!fbcon_active(), "format NONE is refused");
	free(p);
}

/* Bitmask modes of generated masks: one whose masks all lie below the top byte has pixels
 * narrower than 32 bits (UEFI: a pixel is as wide as its highest mask bit), so pitch x height x 4
 * is not its size (twice a 16-bpp framebuffer): bootinfo_fb_bytes must call it unusable (0), as
 * fbcon does, so that the kernel maps none of it; with a mask bit in the top byte it is sized. */
static void test_bitmask_narrow_pixels_unsized(void)
{
	int bad = 0, runs = 0;

	for (int i = 0; i < 4000; i++) {
		uint32_t w = 1 + (uint32_t)draw(2048), h = 1 + (uint32_t)draw(1536);
		struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BITMASK, w, h, w + (uint32_t)draw(64), w * h * 2);
		bool wide = draw(2);
		uint32_t top = (uint32_t)(wide ? 1 + draw(0xFF) : 0) << 24;
		fb.mask_red = (uint32_t)draw(0x01000000), fb.mask_green = (uint32_t)draw(0x01000000);
		fb.mask_blue = (uint32_t)draw(0x01000000) | 1, fb.mask_reserved = top;
		if (wide && draw(2))
			fb.mask_reserved = 0, fb.mask_red |= top;
		uint64_t want = wide ? (uint64_t)fb.pitch * h * 4 : 0;
		runs++;
		if (bootinfo_fb_bytes(&fb) != want && bad++ < 5)
			printf("#   %ux%u pitch %u masks %08x %08x %08x %08x: %llu bytes, want %llu\n", w, h, fb.pitch,
			       fb.mask_red, fb.mask_green, fb.mask_blue, fb.mask_reserved,
			       (unsigned long long)bootinfo_fb_bytes(&fb), (unsigned long long)want);
	}
	is(bad, 0, "%d generated bitmask modes: sized pitch x height x 4 only with a mask bit in the top byte", runs);
}

/* Each accepted format puts red, green and blue where the format says, and reads them back. */
static void test_formats_encode(void)
{
	static const struct { uint32_t fmt, r, g, b, x; uint32_t want; const char *what; } cases[] = {
		{ BOOTINFO_FB_RGBX, 0, 0, 0, 0, 0x00563412, "RGBX: byte 0 red" },
		{ BOOTINFO_FB_BGRX, 0, 0, 0, 0, 0x00123456, "BGRX: byte 0 blue" },
		{ BOOTINFO_FB_BITMASK, 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000, 0x00123456, "bitmask BGRX" },
		{ BOOTINFO_FB_BITMASK, 0x000000FF, 0x0000FF00, 0x00FF0000, 0xFF000000, 0x00563412, "bitmask RGBX" },
		{ BOOTINFO_FB_BITMASK, 0xFF000000, 0x00FF0000, 0x0000FF00, 0x000000FF, 0x12345600, "bitmask RGBX high" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bootinfo_fb fb = fb_desc(cases[i].fmt, 64, 32, 64, 0);
		size_t bytes;
		uint32_t *p;

		if (cases[i].fmt == BOOTINFO_FB_BITMASK)
			fb.mask_red = cases[i].r, fb.mask_green = cases[i].g, fb.mask_blue = cases[i].b,
			fb.mask_reserved = cases[i].x;
		p = fb_alloc(&fb, &bytes);
		fbcon_init(&fb, p);
		ok(fbcon_active(), "%s is accepted", cases[i].what);
		fbcon_fill_rect(3, 2, 1, 1, 0x123456);
		is(p[2 * 64 + 3], cases[i].want, "%s: 0x123456 stored as the format says", cases[i].what);
		is(fbcon_read_pixel(3, 2), 0x123456, "%s: read back", cases[i].what);
		free(p);
	}
}

/* The four kinds of FrameBufferSize a firmware reports for a mode needing `need` bytes. */
enum size_kind { SIZE_ZERO, SIZE_SHORT, SIZE_EXACT, SIZE_LARGER, SIZE_KINDS };
static const char *const size_kind_name[SIZE_KINDS] = { "0", "short", "exact", "larger" };

/* A FrameBufferSize of kind k for a mode needing need bytes (need >= 4). */
static uint64_t size_of_kind(enum size_kind k, uint64_t need)
{
	switch (k) {
	case SIZE_ZERO: return 0;
	case SIZE_SHORT: return 1 + draw(need - 1);
	case SIZE_EXACT: return need;
	default: return need + 1 + draw(draw(2) ? 4096 : need);
	}
}

/* Generated modes with each kind of size: the bytes are pitch x height x 4 whatever the reported
 * size (0, short, exact, larger); and modes no size can make usable give 0. */
static void test_fb_bytes(void)
{
	int bad = 0, runs = 0, unusable_bad = 0;

	for (int i = 0; i < 4000; i++) {
		uint32_t w = 1 + (uint32_t)draw(draw(2) ? 4096 : 70000), h = 1 + (uint32_t)draw(draw(2) ? 2160 : 70000);
		uint32_t pitch = w + (uint32_t)(draw(2) ? 0 : draw(draw(2) ? 64 : 100000));
		uint64_t need = (uint64_t)pitch * h * 4, base = draw(2) ? 0x80000000 : (draw(1ULL << 40) << 12);
		enum size_kind k = (enum size_kind)draw(SIZE_KINDS);
		uint64_t size = size_of_kind(k, need), want = need;
		struct bootinfo_fb fb = fb_desc((uint32_t)(1 + draw(3)), w, h, pitch, size);

		fb.base = base;
		runs++;
		if (bootinfo_fb_bytes(&fb) != want && bad++ < 5)
			printf("#   %ux%u pitch %u, size %s %llu: %llu bytes, want %llu\n", w, h, pitch, size_kind_name[k],
			       (unsigned long long)size, (unsigned long long)bootinfo_fb_bytes(&fb),
			       (unsigned long long)want);
	}
	is(bad, 0, "%d generated modes (FrameBufferSize 0, short, exact, larger): bytes = pitch x height x 4",
	   runs);

	for (int i = 0; i < 4000; i++) {
		uint32_t w = 1 + (uint32_t)draw(4096), h = 1 + (uint32_t)draw(2160), pitch = w;
		enum size_kind k = (enum size_kind)draw(SIZE_KINDS);
		struct bootinfo_fb fb = fb_desc((uint32_t)(1 + draw(3)), w, h, pitch, 0);
		uint64_t need;
		int why = (int)draw(6);

		switch (why) {
		case 0: fb.width = 0; break;
		case 1: fb.height = 0; break;
		case 2: fb.pitch = fb.width - 1 - (uint32_t)draw(fb.width); break;   /* 0 .. width - 1 */
		case 3: fb.format = BOOTINFO_FB_NONE; break;
		case 4: fb.pitch = fb.width = UINT32_MAX - (uint32_t)draw(1000), fb.height = UINT32_MAX; break;   /* > 2^64 */
		default: fb.base = UINT64_MAX - draw((uint64_t)pitch * h * 4); break;   /* base + bytes wraps */
		}
		need = (uint64_t)fb.pitch * fb.height * 4;   /* wraps for case 4; any value serves as a size */
		fb.size = size_of_kind(k, need > 4 ? need : 4);
		if (bootinfo_fb_bytes(&fb) != 0 && unusable_bad++ < 5)
			printf("#   unusable case %d: %ux%u pitch %u base 0x%llx size %llu gave %llu bytes\n", why, fb.width,
			       fb.height, fb.pitch, (unsigned long long)fb.base, (unsigned long long)fb.size,
			       (unsigned long long)bootinfo_fb_bytes(&fb));
	}
	is(unusable_bad, 0, "4000 unusable modes (width/height 0, pitch < width, no format, 2^64 overflow, wrapping "
	   "range) at every kind of size: 0 bytes");
}

/* True when every pixel outside the visible rows' first width pixels still holds SENTINEL. */
static bool fb_padding_untouched(const uint32_t *p, size_t bytes, const struct bootinfo_fb *fb, unsigned vis_h)
{
	for (size_t i = 0; i < bytes / 4; i++) {
		size_t y = i / fb->pitch, x = i % fb->pitch;
		if ((x >= fb->width || y >= vis_h) && p[i] != SENTINEL) {
			printf("#   pixel (%zu, %zu) written: 0x%x\n", x, y, p[i]);
			return false;
		}
	}
	return true;
}

/* Generated geometries: text with scrolling, a text window, rectangles and scaled text past every
 * edge; ASan checks the buffer's end, the sentinel the padding beyond the width. */
static void test_geometry(void)
{
	static const uint32_t widths[] = { 8, 9, 640, 641, 800, 1366, 1920, 2560, 3840 };
	static const uint32_t heights[] = { 16, 17, 400, 480, 768, 1080, 2160 };
	static const char text[] = "rmkernel \x1b[1;31mFAILED\x1b[0m caf\xc3\xa9 \xe2\x82\xac\ttab\b\rline\n";
	int bad = 0, runs = 0;

	for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
		for (size_t hi = 0; hi < sizeof(heights) / sizeof(heights[0]); hi++) {
			uint32_t w = widths[wi], h = heights[hi], pitch = w + (uint32_t)draw(3) * 16 + (uint32_t)draw(2);
			enum size_kind k = (enum size_kind)((wi * 7 + hi) % SIZE_KINDS);
			uint64_t size = size_of_kind(k, (uint64_t)pitch * h * 4);
			struct bootinfo_fb fb = fb_desc((uint32_t)(1 + draw(3)), w, h, pitch, size);
			size_t bytes;
			uint32_t *p = fb_alloc(&fb, &bytes);
			unsigned sw, sh, cols, rows, cw, ch;

			runs++;
			fbcon_init(&fb, p);
			if (!fbcon_active()) {
				printf("#   %ux%u pitch %u size %s %llu refused\n", w, h, pitch, size_kind_name[k],
				       (unsigned long long)size);
				bad++;
				free(p);
				continue;
			}
			fbcon_get_size(&sw, &sh);
			fbcon_get_geometry(&cols, &rows, &cw, &ch);
			if (sw != w || sh != h || cols * cw > sw || rows * ch > sh) {
				printf("#   %ux%u pitch %u size %llu: size %ux%u, %ux%u cells of %ux%u\n", w, h, pitch,
				       (unsigned long long)size, sw, sh, cols, rows, cw, ch);
				bad++;
			}
			for (int i = 0; i < 3 * (int)rows; i++)
				fbcon_write(text, sizeof(text) - 1);
			fbcon_fill_rect(w - 5, sh - 5, 100, 100, 0xFF00FF);
			fbcon_draw_text(w - 20, sh - 10, 8, 0xFFFFFF, 0, "PASSED");
			fbcon_draw_text(0, 0, 4, 0xFFFFFF, 0x1E8C3C, "a long line of text that runs off the right edge");
			fbcon_set_text_window(rows + 5);
			fbcon_write(text, sizeof(text) - 1);
			fbcon_set_text_window(rows / 2);
			for (int i = 0; i < (int)rows; i++)
				fbcon_write(text, sizeof(text) - 1);
			if (!fb_padding_untouched(p, bytes, &fb, sh)) {
				printf("#   in %ux%u pitch %u size %llu\n", w, h, pitch, (unsigned long long)size);
				bad++;
			}
			free(p);
		}
	is(bad, 0, "%d generated geometries, FrameBufferSize 0, short, exact or larger: every row drawn, drawing "
	   "stays inside the visible pixels", runs);
}

/* True when the cell at (col, row) shows the test font's glyph (its rows' pixels 0 and 7 in fg, those
 * between in bg), or, when blank, bg alone. */
static bool cell_shows(unsigned col, unsigned row, bool glyph, uint32_t fg, uint32_t bg)
{
	for (unsigned y = 0; y < 16; y++)
		for (unsigned x = 0; x < 8; x++) {
			bool edge = glyph && (x == 0 || x == 7);
			if (fbcon_read_pixel(col * 8 + x, row * 16 + y) != (edge ? fg : bg))
				return false;
		}
	return true;
}

/*
 * fbcon.h fbcon_write: the text is drawn at the cursor. Generated screens of 2..40 x 2..6 cells and
 * lines of 1..2 cells short of a row to 2 rows long (wrapping), of printable ASCII and every third a
 * space, written after a clear. Oracle (the test font: every glyph's rows 0x81): each written cell
 * shows its glyph in the default colours, a space's cell blank as the clear left it (the cell already
 * holds it), the cell after the text and the rows below it blank.
 */
static void test_text_drawn(void)
{
	int bad = 0, runs = 0;

	for (int c = 0; c < 40; c++) {
		uint32_t cols = 2 + (uint32_t)draw(39), rows = 2 + (uint32_t)draw(5);
		struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BGRX, cols * 8, rows * 16, cols * 8, 0);
		size_t bytes;
		uint32_t *p = fb_alloc(&fb, &bytes);
		char line[96];
		unsigned n = 1 + (unsigned)draw(MIN(2 * cols, rows * cols - 1));

		for (unsigned i = 0; i < n; i++)
			line[i] = i % 3 == 1 ? ' ' : (char)(0x20 + draw(0x5F));
		fbcon_init(&fb, p);
		uint32_t fg = fbcon.pal_px[FBCON_DEFAULT_FG], bg = fbcon.pal_px[FBCON_DEFAULT_BG];
		fbcon_write(line, n);
		bool good = fbcon_active() && fg != bg;
		for (unsigned i = 0; good && i < n; i++)
			good = cell_shows(i % cols, i / cols, line[i] != ' ', fg, bg);
		good = good && cell_shows(n % cols, n / cols, false, fg, bg);
		for (unsigned r = n / cols + 1; good && r < rows; r++)
			good = cell_shows(0, r, false, fg, bg) && cell_shows(cols - 1, r, false, fg, bg);
		runs++;
		if (!good && bad++ < 4)
			printf("#   %u x %u cells, %u characters: not drawn as written\n", cols, rows, n);
		free(p);
	}
	is(bad, 0, "%d screens: every character written is drawn in its cell, the rest blank", runs);
}

/*
 * fbcon.c fbcon_sgr: an SGR parameter outside its ranges changes nothing. The parameters just past
 * each colour range (38, 48, 98, 108: extended colours, which the console does not take) and just
 * before them (29, 89, 99), alone or after a colour: the character written after them is drawn in the
 * colours before them.
 */
static void test_sgr_past_ranges(void)
{
	static const unsigned past[] = { 29, 38, 48, 89, 98, 99, 108 };
	struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BGRX, 64, 32, 64, 0);
	size_t bytes;
	uint32_t *p = fb_alloc(&fb, &bytes);
	int bad = 0, runs = 0;

	for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++)
		for (unsigned before = 0; before < 2; before++) {
			char seq[32];
			int n = before ? snprintf(seq, sizeof(seq), "\x1b[32;45m\x1b[%um#", past[i])
				       : snprintf(seq, sizeof(seq), "\x1b[%um#", past[i]);
			fbcon_init(&fb, p);
			uint32_t fg = fbcon.pal_px[before ? 2 : FBCON_DEFAULT_FG], bg = fbcon.pal_px[before ? 5 : FBCON_DEFAULT_BG];
			fbcon_write(seq, (size_t)n);
			runs++;
			if (!cell_shows(0, 0, true, fg, bg) && bad++ < 4)
				printf("#   SGR %u%s changed the colours\n", past[i], before ? " after 32;45" : "");
		}
	free(p);
	is(bad, 0, "%d SGR parameters just outside the colour ranges: the colours unchanged", runs);
}

/*
 * fbcon.c fbcon_utf8_lead: a byte that cannot lead a UTF-8 sequence (0x80..0xC1, 0xF5..0xFF) draws
 * the fallback glyph alone, and each continuation byte after it one more. Generated: each such byte
 * followed by 0 to 3 continuation bytes and a character; oracle: the cursor past one cell per byte,
 * the character in the last.
 */
static void test_invalid_utf8_leads(void)
{
	struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BGRX, 64, 32, 64, 0);
	size_t bytes;
	uint32_t *p = fb_alloc(&fb, &bytes);
	int bad = 0, runs = 0;

	for (unsigned b = 0x80; b <= 0xFF; b++) {
		if (b >= 0xC2 && b < 0xF5)
			continue;
		unsigned conts = b % 4;
		char seq[5] = { (char)b };
		for (unsigned i = 1; i <= conts; i++)
			seq[i] = (char)(0x80 + draw(0x40));
		seq[conts + 1] = 'x';
		fbcon_init(&fb, p);
		fbcon_write(seq, conts + 2);
		runs++;
		if (fbcon.cx != conts + 2 && bad++ < 4)
			printf("#   lead 0x%02x and %u continuation bytes: cursor at %u, want %u\n", b, conts, fbcon.cx, conts + 2);
	}
	free(p);
	is(bad, 0, "%d bytes that lead no UTF-8 sequence: one fallback glyph each, and one for each continuation "
	   "byte after them", runs);
}

/* A PSF2 font of count glyphs (glyph_bytes bytes each, rows 0x81) of width x height, with the
 * unicode table tab when tab_len, in a buffer of exactly its bytes (the caller frees it). */
static uint8_t *psf2_font(uint32_t count, uint32_t glyph_bytes, uint32_t height, uint32_t width, const uint8_t *tab,
			  size_t tab_len, size_t *len)
{
	uint32_t hdr[8] = { PSF2_MAGIC, 0, PSF2_HEADER_MIN, tab_len ? PSF2_HAS_UNICODE_TABLE : 0, count, glyph_bytes,
			    height, width };
	size_t glyphs = (size_t)count * glyph_bytes;
	uint8_t *f = malloc(sizeof(hdr) + glyphs + tab_len);

	memcpy(f, hdr, sizeof(hdr));
	memset(f + sizeof(hdr), 0x81, glyphs);
	if (tab_len)
		memcpy(f + sizeof(hdr) + glyphs, tab, tab_len);
	*len = sizeof(hdr) + glyphs + tab_len;
	return f;
}

/*
 * fbcon.c's font parsing (fbcon_font_load): the PSF1 mode's 512-glyph bit, PSF2 headers each
 * breaking one rule (width 0 or past FBCON_GLYPH_W_MAX, height 0, more glyphs than a glyph index
 * holds) refused and their neighbours kept, and a PSF2 unicode table's entries: separators, UTF-8 of
 * 1 to 4 bytes, malformed bytes (a 0xF8 lead, a continuation byte as a lead) that map nothing.
 */
static void test_font_parsing(void)
{
	static const uint8_t psf1_modes[] = { 0, 1, 2, 3, 4, 6, 7 };
	int bad = 0, runs = 0;

	for (size_t i = 0; i < sizeof(psf1_modes); i++) {
		uint8_t mode = psf1_modes[i], h = (uint8_t)(8 + 2 * i);
		uint32_t count = mode & 1 ? 512 : 256;
		size_t len = PSF1_HEADER_SIZE + (size_t)count * h;
		uint8_t *f = malloc(len);
		memset(f, 0x81, len);
		f[0] = PSF1_MAGIC0, f[1] = PSF1_MAGIC1, f[2] = mode, f[3] = h;
		bool good = fbcon_font_load(f, len) && fbcon.font.count == count && fbcon.font.height == h &&
			    fbcon.font.width == 8;
		runs++;
		if (!good && bad++ < 4)
			printf("#   PSF1 mode 0x%x: %u glyphs, want %u\n", mode, fbcon.font.count, count);
		free(f);
	}
	static const struct { uint32_t count, width, height; bool ok; } hdrs[] = {
		{ 256, 0, 16, false }, { 256, 1, 16, true }, { 256, FBCON_GLYPH_W_MAX, 16, true },
		{ 256, FBCON_GLYPH_W_MAX + 1, 16, false }, { 256, 8, 0, false }, { 256, 8, 1, true },
		{ FBCON_NO_GLYPH, 8, 1, true }, { FBCON_NO_GLYPH + 1, 8, 1, false }, { 0, 8, 16, false },
	};
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		size_t len;
		uint32_t gb = (hdrs[i].width + 7) / 8 * hdrs[i].height;
		uint8_t *f = psf2_font(hdrs[i].count, gb, hdrs[i].height, hdrs[i].width, NULL, 0, &len);
		bool got = fbcon_font_load(f, len);
		runs++;
		if (got != hdrs[i].ok && bad++ < 4)
			printf("#   PSF2 of %u glyphs of %u x %u: %s\n", hdrs[i].count, hdrs[i].width, hdrs[i].height,
			       got ? "taken" : "refused");
		free(f);
	}
	/* glyph 0: 'a'; 1: 'b' and U+00E9; 2: a 0xF8 lead and a continuation byte as a lead, each with
	 * continuations spelling 'A' in the lead's bits, then U+1F600; 3: '?' */
	static const uint8_t tab[] = { 'a', PSF2_SEPARATOR, 'b', 0xC3, 0xA9, PSF2_SEPARATOR,
				       0xF8, 0x80, 0x81, 0x81, 0x80, 0x81, 0x81, 0xF0, 0x9F, 0x98, 0x80, PSF2_SEPARATOR,
				       '?', PSF2_SEPARATOR };
	size_t len;
	uint8_t *f = psf2_font(4, 16, 16, 8, tab, sizeof(tab), &len);
	bool good = fbcon_font_load(f, len) && fbcon.font.latin1['a'] == 0 && fbcon.font.latin1['b'] == 1 &&
		    fbcon.font.latin1[0xE9] == 1 && fbcon.font.latin1['A'] == FBCON_NO_GLYPH &&
		    fbcon.font.latin1[0x01] == FBCON_NO_GLYPH && fbcon.font.latin1['?'] == 3 && fbcon.font.fallback == 3 &&
		    fbcon_glyph_lookup(0x1F600) == 2 && fbcon_glyph_lookup(0x1F601) == FBCON_NO_GLYPH;
	runs++;
	if (!good && bad++ < 4)
		printf("#   unicode table: a %u, b %u, e-acute %u, A %u, ? %u, U+1F600 %u\n", fbcon.font.latin1['a'],
		       fbcon.font.latin1['b'], fbcon.font.latin1[0xE9], fbcon.font.latin1['A'], fbcon.font.latin1['?'],
		       fbcon_glyph_lookup(0x1F600));
	free(f);
	is(bad, 0, "%d fonts: PSF1 modes, PSF2 headers at their bounds, a unicode table's entries parsed as the "
	   "formats say", runs);
}

/* The probes fbcon_takes_writes made: addresses in order; the page (address / 4096) whose write faults. */
#define PROBES_MAX (1u << 16)
static uintptr_t probes[PROBES_MAX];
static size_t nprobes;
static uintptr_t probe_gone_page = UINTPTR_MAX;

/* A probe as arch_probe_write8 makes it: the write lands, or faults on the gone page (nonzero). */
static int probe_write8(volatile void *addr, uint8_t val)
{
	uintptr_t a = (uintptr_t)addr;
	if (nprobes < PROBES_MAX)
		probes[nprobes] = a;
	nprobes++;
	if (a / 4096 == probe_gone_page)
		return -1;
	*(volatile uint8_t *)addr = val;
	return 0;
}

/*
 * fbcon_takes_writes (what a fatal report asks before it clears the screen) over generated modes
 * placed at generated offsets into a page: with every page mapped, one probe in each 4 KiB page
 * from the first visible pixel to the last, none outside them, and true; with one of those pages
 * gone, false, and no probe past it; inactive, true without a probe.
 */
static void test_takes_writes(void)
{
	int bad = 0, runs = 0;

	for (int n = 0; n < 300; n++) {
		uint32_t w = 8 + (uint32_t)draw(draw(4) ? 1000 : 3840), h = 16 + (uint32_t)draw(draw(4) ? 300 : 2160);
		uint32_t pitch = w + (uint32_t)(draw(2) ? draw(64) : 0);
		struct bootinfo_fb fb = fb_desc(BOOTINFO_FB_BGRX, w, h, pitch, 0);
		size_t bytes = bootinfo_fb_bytes(&fb), off = 4 * draw(1024);
		uint8_t *mem = aligned_alloc(4096, (bytes + off + 4095) / 4096 * 4096);
		uintptr_t first = (uintptr_t)mem + off, last = first + ((size_t)(h - 1) * pitch + w) * 4 - 1;
		size_t pages = last / 4096 - first / 4096 + 1;
		const char *why = NULL;

		runs++;
		fbcon_init(&fb, mem + off);
		nprobes = 0, probe_gone_page = UINTPTR_MAX;
		if (!fbcon_takes_writes(probe_write8))
			why = "false with every page mapped";
		else if (nprobes != pages)
			why = "not one probe a page";
		for (size_t i = 0; !why && i < nprobes; i++)
			if (probes[i] < first || probes[i] > last || probes[i] / 4096 != first / 4096 + i)
				why = "a probe outside the visible pixels or out of page order";
		size_t k = draw(pages);
		nprobes = 0, probe_gone_page = first / 4096 + k;
		if (!why && fbcon_takes_writes(probe_write8))
			why = "true with a page gone";
		else if (!why && nprobes != k + 1)
			why = "probes went on past the gone page";
		if (why && bad++ < 3)
			printf("#   %ux%u pitch %u at page offset %zu (%zu pages, page %zu gone): %s\n", w, h, pitch, off, pages,
			       k, why);
		free(mem);
	}
	fbcon_init(NULL, NULL);
	nprobes = 0, probe_gone_page = UINTPTR_MAX;
	bool inactive = fbcon_takes_writes(probe_write8) && nprobes == 0;
	is(bad, 0, "%d generated modes at generated page offsets: one probe a page of the visible pixels, true; a page gone: "
	   "false, no probe past it", runs);
	ok(inactive, "no console: fbcon_takes_writes true without a probe");
}

int main(void)
{
	test_formats_refused();
	test_bitmask_narrow_pixels_unsized();
	test_formats_encode();
	test_fb_bytes();
	test_geometry();
	test_text_drawn();
	test_sgr_past_ranges();
	test_invalid_utf8_leads();
	test_font_parsing();
	test_takes_writes();
	return tap_done();
}
