/*
 * Host test of the framebuffer console (kernel/fbcon.c, built here unchanged) against framebuffer
 * modes a firmware may report and against arbitrary text, with every call checked for where it
 * writes. The framebuffer lies between two guard zones of SENTINEL, so a write before its first
 * byte or past pitch x height pixels is seen as well as one into a row's padding (x >= width).
 *
 *  - Screens smaller than the font (fewer than 8 x 16 pixels in either direction) and modes
 *    unusable at any size: the console stays off and no call writes a single byte, whatever it is
 *    given (fbcon.h: inactive means no-op; geometry and size read 0).
 *  - Generated usable modes (pitch == width or beyond it, odd sizes, screens past the 320 x 120
 *    text shadow, bitmask layouts with wide, narrow, overlapping or non-contiguous masks), each
 *    driven by seeded calls with hostile arguments: arbitrary bytes (broken UTF-8, escape
 *    sequences with huge or many parameters, tabs, backspaces, CRs), rectangles and scaled text at
 *    coordinates and sizes from 0 to UINT_MAX, text windows past the last row. After every call:
 *    the guards and the padding hold SENTINEL; text writes change pixels only inside the text
 *    cells and, below a text window, never above it; a rectangle changes exactly its clipped
 *    pixels; text drawn at (x, y) changes pixels only inside its clipped box.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/fbcon.c"

/* The font: PSF2, 256 glyphs of 8x16, alternating rows 0xA5 / 0x5A, so that a glyph drawn with
 * fg != bg changes pixels at every column and row of its cell. */
__asm__(".section .rodata\n"
	".globl font_psf, font_psf_end\n"
	"font_psf:\n"
	".long 0x864ab572, 0, 32, 0, 256, 16, 16, 8\n"
	".rept 2048\n"
	".byte 0xA5, 0x5A\n"
	".endr\n"
	"font_psf_end:\n"
	".previous\n");

#define FONT_W       8
#define FONT_H       16
#define SENTINEL     0x5A5A5A5Au
#define GUARD_PIXELS 4096         /* guard zone before and after the framebuffer, in pixels */
#define OPS_PER_MODE 40           /* hostile calls per generated mode */
#define MODES        48           /* generated usable modes (120: 9 s, the longest host test) */
#define TEXT_MAX     600          /* bytes of one generated fbcon_write */

static uint64_t rng = 0xD1B54A32D192ED03ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* A framebuffer of fb's pixels (pitch x height) between two guard zones, all SENTINEL. */
struct guarded_fb {
	uint32_t *base;          /* the allocation: guard, pixels, guard */
	uint32_t *pixels;        /* what fbcon gets */
	size_t npixels;          /* pitch x height */
	uint32_t *snap;          /* a copy of the pixels taken before a call */
};

static void gfb_alloc(struct guarded_fb *g, const struct bootinfo_fb *fb)
{
	g->npixels = (size_t)fb->pitch * fb->height;
	g->base = malloc((g->npixels + 2 * GUARD_PIXELS) * sizeof(uint32_t));
	g->snap = malloc((g->npixels ? g->npixels : 1) * sizeof(uint32_t));
	for (size_t i = 0; i < g->npixels + 2 * GUARD_PIXELS; i++)
		g->base[i] = SENTINEL;
	g->pixels = g->base + GUARD_PIXELS;
}

static void gfb_free(struct guarded_fb *g)
{
	free(g->base);
	free(g->snap);
}

/* True when both guard zones and every pixel at x >= width hold SENTINEL (prints the first that does not). */
static bool gfb_outside_untouched(const struct guarded_fb *g, const struct bootinfo_fb *fb, const char *op)
{
	for (size_t i = 0; i < GUARD_PIXELS; i++)
		if (g->base[i] != SENTINEL || g->pixels[g->npixels + i] != SENTINEL) {
			printf("#   %s: guard pixel %s %zu written\n", op, g->base[i] != SENTINEL ? "before" : "after", i);
			return false;
		}
	for (size_t y = 0; y < fb->height; y++)
		for (size_t x = fb->width; x < fb->pitch; x++)
			if (g->pixels[y * fb->pitch + x] != SENTINEL) {
				printf("#   %s: padding pixel (%zu, %zu) written\n", op, x, y);
				return false;
			}
	return true;
}

/* True when no byte of the allocation changed from SENTINEL. */
static bool gfb_all_sentinel(const struct guarded_fb *g)
{
	for (size_t i = 0; i < g->npixels + 2 * GUARD_PIXELS; i++)
		if (g->base[i] != SENTINEL)
			return false;
	return true;
}

static void gfb_snapshot(struct guarded_fb *g)
{
	memcpy(g->snap, g->pixels, g->npixels * sizeof(uint32_t));
}

/* The first visible pixel changed since the snapshot outside [x0, x1) x [y0, y1) (64-bit bounds),
 * or false; its position in *px, *py. */
static bool gfb_changed_outside(const struct guarded_fb *g, const struct bootinfo_fb *fb, uint64_t x0, uint64_t x1,
				uint64_t y0, uint64_t y1, size_t *px, size_t *py)
{
	for (size_t y = 0; y < fb->height; y++) {
		const uint32_t *row = g->pixels + y * fb->pitch, *was = g->snap + y * fb->pitch;
		if (!memcmp(row, was, fb->width * sizeof(uint32_t)))
			continue;
		for (size_t x = 0; x < fb->width; x++)
			if (row[x] != was[x] && !(x >= x0 && x < x1 && y >= y0 && y < y1)) {
				*px = x, *py = y;
				return true;
			}
	}
	return false;
}

/* A coordinate or size from a hostile class: small, around the screen's edge, or near UINT_MAX. */
static unsigned hostile_unsigned(unsigned edge)
{
	switch (draw(6)) {
	case 0: return (unsigned)draw(64);
	case 1: return (unsigned)draw((uint64_t)edge + 1);
	case 2: return edge + (unsigned)draw(3) - 1;
	case 3: return edge + (unsigned)draw(4096);
	case 4: return UINT32_MAX - (unsigned)draw(300);
	default: return (unsigned)test_rng_next(&rng);
	}
}

/* Hostile text for fbcon_write: n bytes of one of several classes. */
static size_t hostile_text(char *t, size_t cap)
{
	static const char *const pieces[] = {
		"\x1b[", "\x1b[1;31m", "\x1b[999999999999;4294967296;0;1;7;22;39;49;90;107m", "\x1b[;;;;;;;;;;;;;;;m",
		"\x1b]0;title\x07", "\x1b", "\xc3", "\xc3\xa9", "\xe2\x82", "\xe2\x82\xac", "\xf4\x90\x80\x80",
		"\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xe0\x80\x80", "\xc0\xaf", "\xff\xfe", "\t", "\b\b\b", "\r", "\n",
		"\r\n", "\x7f", "\v\f", "cmdline: \"syspte=99999999999G\" ignored", " ", "\t\t\t\t\t\t\t\t\t\t\t\t",
	};
	size_t n = draw(cap);
	size_t len = 0;
	int cls = (int)draw(3);

	while (len < n) {
		if (cls == 0) {
			t[len++] = (char)draw(256);              /* any byte */
		} else if (cls == 1) {
			const char *p = pieces[draw(sizeof(pieces) / sizeof(pieces[0]))];
			while (*p && len < n)
				t[len++] = *p++;
		} else {
			t[len++] = draw(8) ? (char)(' ' + draw(95)) : "\n\t\b\r"[draw(4)];   /* mostly printable */
		}
	}
	return len;
}

/* Where each call may change pixels, checked after it. */
static int check_call(struct guarded_fb *g, const struct bootinfo_fb *fb, const char *op, uint64_t x0, uint64_t x1,
		      uint64_t y0, uint64_t y1)
{
	size_t px, py;
	int bad = 0;

	if (!gfb_outside_untouched(g, fb, op))
		bad++;
	if (gfb_changed_outside(g, fb, x0, x1, y0, y1, &px, &py)) {
		printf("#   %s: pixel (%zu, %zu) changed outside [%llu, %llu) x [%llu, %llu)\n", op, px, py,
		       (unsigned long long)x0, (unsigned long long)x1, (unsigned long long)y0, (unsigned long long)y1);
		bad++;
	}
	return bad;
}

/* One hostile call on an active console; returns the failed checks. */
static int hostile_call(struct guarded_fb *g, const struct bootinfo_fb *fb, unsigned *top_row)
{
	unsigned cols, rows, cw, ch, w = fb->width, h = fb->height;
	static char text[TEXT_MAX + 1];
	char op[160];

	fbcon_get_geometry(&cols, &rows, &cw, &ch);
	gfb_snapshot(g);
	switch (draw(8)) {
	case 0: case 1: case 2: {      /* text: only inside the cells, never above the window */
		size_t n = hostile_text(text, TEXT_MAX);
		fbcon_write(text, n);
		snprintf(op, sizeof(op), "fbcon_write of %zu hostile bytes (window from row %u)", n, *top_row);
		return check_call(g, fb, op, 0, (uint64_t)cols * cw, (uint64_t)*top_row * ch, (uint64_t)rows * ch);
	}
	case 3: {                      /* a rectangle: exactly its clipped pixels */
		unsigned x = hostile_unsigned(w), y = hostile_unsigned(h), rw = hostile_unsigned(w), rh = hostile_unsigned(h);
		uint32_t rgb = (uint32_t)draw(1u << 24);
		uint64_t x1 = (uint64_t)x + rw < w ? (uint64_t)x + rw : w, y1 = (uint64_t)y + rh < h ? (uint64_t)y + rh : h;
		int bad;
		fbcon_fill_rect(x, y, rw, rh, rgb);
		snprintf(op, sizeof(op), "fbcon_fill_rect(%u, %u, %u, %u)", x, y, rw, rh);
		bad = check_call(g, fb, op, x, x1, y, y1);
		/* every pixel of the clipped rectangle holds the colour (read back as fbcon decodes it) */
		for (uint64_t yy = y; yy < y1 && !bad; yy += 1 + (y1 - y) / 7)
			for (uint64_t xx = x; xx < x1 && !bad; xx += 1 + (x1 - x) / 7)
				if (g->pixels[yy * fb->pitch + xx] != fbcon_encode(rgb)) {
					printf("#   %s: pixel (%llu, %llu) not filled\n", op, (unsigned long long)xx,
					       (unsigned long long)yy);
					bad++;
				}
		return bad;
	}
	case 4: case 5: {              /* scaled text: only inside its clipped box */
		/* x anywhere left of the right edge, y anywhere its glyph rows do not pass UINT_MAX:
		 * the two cases kept apart, in rv-kernel-findings.patch (a width drawn from x past the
		 * edge, rows at y near UINT_MAX), do not hold */
		unsigned x = hostile_unsigned(w) % w, scale = (unsigned)draw(12);
		unsigned eff = scale < 1 ? 1 : scale > 8 ? 8 : scale;
		unsigned y = hostile_unsigned(h);
		if (y > UINT32_MAX - FONT_H * 8)
			y -= FONT_H * 8;
		size_t n = hostile_text(text, 80);
		text[n] = 0;
		unsigned drawn = fbcon_draw_text(x, y, scale, 0xFFFFFF, 0x000001, text);
		snprintf(op, sizeof(op), "fbcon_draw_text(%u, %u, scale %u) of %zu bytes returned %u", x, y, scale, n, drawn);
		int bad = check_call(g, fb, op, x, (uint64_t)x + drawn, y, (uint64_t)y + (uint64_t)FONT_H * eff);
		if ((uint64_t)x + drawn > w) {
			printf("#   %s: width drawn runs past the screen\n", op);
			bad++;
		}
		return bad;
	}
	case 6: {                      /* a text window: the rows from it on, within the cells */
		unsigned first = draw(2) ? (unsigned)draw(rows + 3) : hostile_unsigned(rows);
		fbcon_set_text_window(first);
		*top_row = first < rows ? first : rows - 1;
		snprintf(op, sizeof(op), "fbcon_set_text_window(%u) of %u rows", first, rows);
		return check_call(g, fb, op, 0, (uint64_t)cols * cw, (uint64_t)*top_row * ch, (uint64_t)rows * ch);
	}
	default: {                     /* colours, a clear, reads anywhere */
		fbcon_set_color((uint32_t)test_rng_next(&rng), (uint32_t)test_rng_next(&rng));
		if (!draw(4)) {
			fbcon_clear();
			*top_row = 0;
		}
		(void)fbcon_read_pixel(hostile_unsigned(w), hostile_unsigned(h));
		return check_call(g, fb, "fbcon_set_color / fbcon_clear / fbcon_read_pixel", 0, w, 0, h);
	}
	}
}

/* A framebuffer description of format fmt; bitmask masks from a hostile class. */
static struct bootinfo_fb mode(uint32_t fmt, uint32_t w, uint32_t h, uint32_t pitch)
{
	struct bootinfo_fb fb = { .base = 0xC0000000, .size = 0, .width = w, .height = h, .pitch = pitch, .format = fmt };

	if (fmt != BOOTINFO_FB_BITMASK)
		return fb;
	switch (draw(5)) {
	case 0:    /* 10-bit channels */
		fb.mask_red = 0x3FF00000, fb.mask_green = 0x000FFC00, fb.mask_blue = 0x000003FF, fb.mask_reserved = 0xC0000000;
		break;
	case 1:    /* one channel takes all 32 bits */
		fb.mask_red = 0xFFFFFFFF, fb.mask_green = 0, fb.mask_blue = 0, fb.mask_reserved = 0;
		break;
	case 2:    /* overlapping masks */
		fb.mask_red = 0x00FFFF00, fb.mask_green = 0x0000FFFF, fb.mask_blue = 0xFFFF0000, fb.mask_reserved = 0;
		break;
	case 3:    /* non-contiguous masks */
		fb.mask_red = 0xF00F0000, fb.mask_green = 0x0000F00F, fb.mask_blue = 0x0F0000F0, fb.mask_reserved = 0;
		break;
	default:   /* random, with a bit in the top byte so the pixels are 32 bits */
		fb.mask_red = (uint32_t)test_rng_next(&rng), fb.mask_green = (uint32_t)test_rng_next(&rng);
		fb.mask_blue = (uint32_t)test_rng_next(&rng), fb.mask_reserved = 0x80000000u;
		break;
	}
	return fb;
}

/* Every API call on an inactive console: nothing written, size and geometry 0. */
static bool inactive_calls_inert(struct guarded_fb *g)
{
	unsigned sw = 1, sh = 1, c = 1, r = 1, cw = 1, ch = 1;
	bool inert = true;

	fbcon_write("text\n\x1b[31mred\t\b\xc3\xa9", 17);
	fbcon_set_color(0xFFFFFF, 0x0000AA);
	fbcon_clear();
	fbcon_fill_rect(0, 0, 100, 100, 0xFF00FF);
	inert &= fbcon_draw_text(0, 0, 2, 0xFFFFFF, 0, "PASSED") == 0;
	fbcon_set_text_window(1);
	inert &= fbcon_read_pixel(0, 0) == 0;
	fbcon_get_size(&sw, &sh);
	fbcon_get_geometry(&c, &r, &cw, &ch);
	inert &= !fbcon_active() && sw == 0 && sh == 0 && c == 0 && r == 0 && cw == 0 && ch == 0;
	return inert && gfb_all_sentinel(g);
}

/* Screens smaller than the font in either direction (and otherwise fine): refused, nothing written. */
static void test_screen_smaller_than_font(void)
{
	int bad = 0, runs = 0;

	for (uint32_t w = 1; w <= 3 * FONT_W; w++)
		for (uint32_t h = 1; h <= 3 * FONT_H; h++) {
			uint32_t pitch = w + (uint32_t)draw(3);
			struct bootinfo_fb fb = mode((uint32_t)(1 + draw(3)), w, h, pitch);
			struct guarded_fb g;
			bool fits = w >= FONT_W && h >= FONT_H;

			if (fits)
				continue;
			runs++;
			gfb_alloc(&g, &fb);
			fbcon_init(&fb, g.pixels);
			if (fbcon_active() || !inactive_calls_inert(&g)) {
				printf("#   %ux%u pitch %u: %s\n", w, h, pitch, fbcon_active() ? "active" : "a call wrote");
				bad++;
			}
			gfb_free(&g);
		}
	is(bad, 0, "%d screens narrower than 8 or lower than 16 pixels: the console stays off and no call writes", runs);

	/* The smallest that fits: one cell. */
	struct bootinfo_fb fb = mode(BOOTINFO_FB_BGRX, FONT_W, FONT_H, FONT_W);
	struct guarded_fb g;
	unsigned cols, rows;
	unsigned top = 0;
	int callbad = 0;
	gfb_alloc(&g, &fb);
	fbcon_init(&fb, g.pixels);
	fbcon_get_geometry(&cols, &rows, NULL, NULL);
	ok(fbcon_active() && cols == 1 && rows == 1, "an 8x16 screen holds one cell (%u x %u)", cols, rows);
	for (int i = 0; i < 400; i++)
		callbad += hostile_call(&g, &fb, &top);
	is(callbad, 0, "400 hostile calls on a one-cell screen write only where each may");
	gfb_free(&g);
}

/* Modes unusable at any size, given a buffer anyway: refused, nothing written. */
static void test_unusable_modes_write_nothing(void)
{
	int bad = 0, runs = 0;

	for (int i = 0; i < 600; i++) {
		uint32_t w = 8 + (uint32_t)draw(1024), h = 16 + (uint32_t)draw(768);
		struct bootinfo_fb fb = mode((uint32_t)(1 + draw(3)), w, h, w);
		struct guarded_fb g;
		int why = (int)draw(5);

		switch (why) {
		case 0: fb.pitch = (uint32_t)draw(w); break;                       /* pitch < width */
		case 1: fb.format = BOOTINFO_FB_NONE; break;
		case 2: fb.format = 4 + (uint32_t)draw(1000); break;                /* unknown format */
		case 3: fb.format = BOOTINFO_FB_BITMASK, fb.mask_red = 0xF800, fb.mask_green = 0x07E0,
			fb.mask_blue = 0x001F, fb.mask_reserved = 0; break;          /* 16 bpp */
		default: fb.format = BOOTINFO_FB_BITMASK, fb.mask_red = 0, fb.mask_green = 0, fb.mask_blue = 0,
			fb.mask_reserved = 0xFF000000; break;                        /* no colour */
		}
		runs++;
		/* the buffer as large as the mode's pixels at the width, so a write anywhere is seen */
		struct bootinfo_fb alloc = fb;
		alloc.pitch = w;
		gfb_alloc(&g, &alloc);
		fbcon_init(&fb, g.pixels);
		if (fbcon_active() || !inactive_calls_inert(&g)) {
			printf("#   case %d %ux%u pitch %u format %u: %s\n", why, w, h, fb.pitch, fb.format,
			       fbcon_active() ? "active" : "a call wrote");
			bad++;
		}
		gfb_free(&g);
	}
	is(bad, 0, "%d unusable modes (pitch < width, no or unknown format, 16 bpp, no colour bits): off, nothing "
	   "written", runs);

	struct bootinfo_fb fb = mode(BOOTINFO_FB_RGBX, 640, 480, 640);
	struct guarded_fb g;
	gfb_alloc(&g, &fb);
	fbcon_init(&fb, NULL);
	ok(!fbcon_active() && inactive_calls_inert(&g), "a NULL framebuffer address: off, nothing written");
	fbcon_init(NULL, g.pixels);
	ok(!fbcon_active() && inactive_calls_inert(&g), "no framebuffer description: off, nothing written");
	/* a console that was on goes off when given an unusable mode */
	fbcon_init(&fb, g.pixels);
	ok(fbcon_active(), "640x480 is drawn on");
	for (size_t i = 0; i < g.npixels; i++)
		g.pixels[i] = SENTINEL;
	fb.pitch = 639;
	fbcon_init(&fb, g.pixels);
	ok(!fbcon_active() && inactive_calls_inert(&g), "a second fbcon_init with pitch below the width turns it off");
	gfb_free(&g);
}

/* Generated usable modes, each driven by OPS_PER_MODE hostile calls. */
static void test_hostile_calls(void)
{
	int bad = 0, calls = 0, modes = 0;

	for (int m = 0; m < MODES; m++) {
		uint32_t w, h;
		switch (draw(12)) {
		case 0: case 1: case 2: case 6: case 7: case 8: w = FONT_W + (uint32_t)draw(64), h = FONT_H + (uint32_t)draw(64); break; /* tiny */
		case 3: w = 2560 + (uint32_t)draw(1400), h = 1920 + (uint32_t)draw(300); break;     /* past the shadow */
		case 4: case 5: w = 320 + (uint32_t)draw(1200), h = 200 + (uint32_t)draw(900); break; /* odd sizes */
		default: { static const uint32_t ws[] = { 640, 800, 1024, 1280 }, hs[] = { 480, 600, 768, 800 };
			   w = ws[draw(4)], h = hs[draw(4)]; break; }
		}
		uint32_t pitch = draw(2) ? w : w + 1 + (uint32_t)draw(draw(2) ? 64 : 4096);
		struct bootinfo_fb fb = mode((uint32_t)(1 + draw(3)), w, h, pitch);
		struct guarded_fb g;
		unsigned cols, rows, top = 0;
		int mode_bad = 0;

		fb.size = draw(2) ? 0 : (uint64_t)pitch * h * 4 - draw(4096);   /* FrameBufferSize 0 or short */
		modes++;
		gfb_alloc(&g, &fb);
		fbcon_init(&fb, g.pixels);
		fbcon_get_geometry(&cols, &rows, NULL, NULL);
		if (!fbcon_active() || cols != (w / FONT_W < 320 ? w / FONT_W : 320) ||
		    rows != (h / FONT_H < 120 ? h / FONT_H : 120)) {
			printf("#   %ux%u pitch %u format %u: active %d, %u x %u cells\n", w, h, pitch, fb.format,
			       fbcon_active(), cols, rows);
			bad++;
			gfb_free(&g);
			continue;
		}
		if (!gfb_outside_untouched(&g, &fb, "fbcon_init"))
			mode_bad++;
		/* a screen past the text shadow (millions of pixels checked a call) gets a quarter of the calls */
		int ops = (uint64_t)w * h > 4000000 ? OPS_PER_MODE / 4 : OPS_PER_MODE;
		for (int i = 0; i < ops && !mode_bad; i++, calls++)
			mode_bad += hostile_call(&g, &fb, &top);
		if (mode_bad) {
			printf("#   in mode %ux%u pitch %u format %u (masks %08x %08x %08x %08x)\n", w, h, pitch, fb.format,
			       fb.mask_red, fb.mask_green, fb.mask_blue, fb.mask_reserved);
			bad++;
		}
		gfb_free(&g);
	}
	is(bad, 0, "%d generated modes (tiny, odd, past the text shadow; pitch == width or beyond; hostile bitmasks), "
	   "%d hostile calls: every write inside the visible pixels and the call's own area", modes, calls);
}

int main(void)
{
	test_screen_smaller_than_font();
	test_unusable_modes_write_nothing();
	test_hostile_calls();
	return tap_done();
}
