/*
 * Framebuffer text console (see fbcon.h for the contract).
 *
 * Design: a shadow array of character cells (glyph and palette colours) mirrors what is on the
 * screen. Writing a character draws one cell with 32-bit stores. Scrolling shifts the shadow up
 * one row and redraws only the cells whose content changed, so the framebuffer (write-combining,
 * slow to read on real hardware) is never read back except by fbcon_read_pixel, and blank areas
 * (the right side of most log lines) cost nothing. Colours are palette indices in the cells:
 * 16 ANSI colours plus slots allocated for fbcon_set_color.
 */
#include "types.h"
#include "bootinfo.h"
#include "fbcon.h"

/* The console font, embedded by the build (a PSF1 or PSF2 file). */
extern const uint8_t font_psf[];
extern const uint8_t font_psf_end[];

/* PSF1: 2 magic bytes, mode, bytes per glyph (= height; width is always 8). */
#define PSF1_MAGIC0       0x36
#define PSF1_MAGIC1       0x04
#define PSF1_HEADER_SIZE  4
#define PSF1_WIDTH        8
#define PSF1_MODE512      0x01   /* 512 glyphs instead of 256 */
#define PSF1_MODEHASTAB   0x02   /* a unicode table follows the glyphs */
#define PSF1_MODESEQ      0x04   /* same, with sequences */
#define PSF1_GLYPHS       256
#define PSF1_SEPARATOR    0xFFFFu
#define PSF1_STARTSEQ     0xFFFEu
/* PSF2: eight little-endian uint32 fields. */
#define PSF2_MAGIC        0x864ab572u
#define PSF2_HEADER_MIN   32
#define PSF2_HAS_UNICODE_TABLE 0x01u
#define PSF2_SEPARATOR    0xFFu
#define PSF2_STARTSEQ     0xFEu

/* Glyph size limits: a row fits one uint32 bit mask. */
#define FBCON_GLYPH_W_MAX 32
#define FBCON_GLYPH_H_MAX 64
/* The shadow covers at most this many cells; a larger screen uses its top-left part. */
#define FBCON_MAX_COLS    320
#define FBCON_MAX_ROWS    120
#define FBCON_TAB_WIDTH   8
#define FBCON_NO_GLYPH    0xFFFFu
#define FBCON_LATIN1_N    256
/* Palette: ANSI colours 0-15 fixed, the rest allocated by fbcon_set_color. */
#define FBCON_ANSI_N      16
#define FBCON_ANSI_BRIGHT 8
#define FBCON_PALETTE_MAX 64
#define FBCON_DEFAULT_FG  7      /* ANSI light grey */
#define FBCON_DEFAULT_BG  0      /* ANSI black */
/* Escape sequences. */
#define FBCON_ESC         0x1b
#define FBCON_DEL         0x7f
#define FBCON_CSI_PARAMS  8
#define FBCON_CSI_PARAM_MAX 9999
/* SGR parameter values. */
#define SGR_RESET         0
#define SGR_BOLD          1
#define SGR_NORMAL        22
#define SGR_FG_BASE       30
#define SGR_FG_DEFAULT    39
#define SGR_BG_BASE       40
#define SGR_BG_DEFAULT    49
#define SGR_FG_BRIGHT     90
#define SGR_BG_BRIGHT     100
#define SGR_COLORS        8
/* UTF-8 decoding. */
#define UTF8_CONT_MASK    0xC0
#define UTF8_CONT_TAG     0x80
#define UTF8_CONT_BITS    6
#define UTF8_MAX_CP       0x10FFFFu

/* The standard VGA text-mode colours, 0xRRGGBB, in ANSI order. */
static const uint32_t fbcon_ansi_rgb[FBCON_ANSI_N] = {
	0x000000, 0xAA0000, 0x00AA00, 0xAA5500, 0x0000AA, 0xAA00AA, 0x00AAAA, 0xAAAAAA,
	0x555555, 0xFF5555, 0x55FF55, 0xFFFF55, 0x5555FF, 0xFF55FF, 0x55FFFF, 0xFFFFFF,
};

/* Position and width of the red, green and blue fields in a pixel. */
struct fbcon_pixfmt {
	uint8_t shift[3];
	uint8_t bits[3];
};

/* The parsed font. */
struct fbcon_font {
	const uint8_t *glyphs;
	uint32_t count, width, height;
	uint32_t row_bytes, glyph_bytes;
	const uint8_t *utab, *utab_end;    /* unicode table, NULL if none */
	bool psf2;
	uint16_t latin1[FBCON_LATIN1_N];   /* glyph of each code point < 256, or FBCON_NO_GLYPH */
	uint16_t fallback;                 /* glyph of '?' */
	uint16_t space;                    /* glyph of ' ' */
};

/* One character cell of the shadow. */
struct fbcon_cell {
	uint16_t glyph;
	uint8_t fg, bg;                    /* palette indices */
};

enum fbcon_esc_state { FBCON_ESC_NONE, FBCON_ESC_START, FBCON_ESC_CSI };

/* The whole console state. */
static struct {
	bool active;
	uint32_t *fb;
	uint32_t width, height, pitch;     /* pixels */
	unsigned cols, rows, cx, cy;       /* cx == cols: a wrap is pending */
	unsigned top;                      /* first row of the text window (fbcon_set_text_window) */
	struct fbcon_pixfmt fmt;
	struct fbcon_font font;
	uint8_t fg, bg, def_fg, def_bg;
	bool bright;
	uint32_t pal_rgb[FBCON_PALETTE_MAX];
	uint32_t pal_px[FBCON_PALETTE_MAX];
	unsigned pal_used;
	enum fbcon_esc_state esc;
	unsigned csi[FBCON_CSI_PARAMS], ncsi;
	uint32_t u_cp;                     /* UTF-8 code point being assembled */
	unsigned u_need;                   /* continuation bytes still expected */
} fbcon;

static struct fbcon_cell fbcon_cells[FBCON_MAX_ROWS * FBCON_MAX_COLS];

/* ------------------------------------------------------------------ helpers */

/* Little-endian uint32 at p (any alignment). */
static uint32_t fbcon_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Little-endian uint16 at p (any alignment). */
static uint32_t fbcon_le16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

/* The cell at (col, row) of the shadow. */
static struct fbcon_cell *fbcon_cell_at(unsigned col, unsigned row)
{
	return &fbcon_cells[row * fbcon.cols + col];
}

/* True when two cells show the same thing. */
static bool fbcon_cell_eq(struct fbcon_cell a, struct fbcon_cell b)
{
	return a.glyph == b.glyph && a.fg == b.fg && a.bg == b.bg;
}

/* ------------------------------------------------------------------ pixel format */

/* Derives shift and width of a colour field from its mask (0 mask: field absent). */
static void fbcon_mask_field(uint32_t mask, uint8_t *shift, uint8_t *bits)
{
	unsigned s = 0, b = 0;

	if (mask) {
		while (!(mask & 1))
			mask >>= 1, s++;
		while (mask & 1)
			mask >>= 1, b++;
	}
	*shift = (uint8_t)s;
	*bits = (uint8_t)b;
}

/* Fills fmt for fb's format; false if the format cannot be drawn on (a bitmask of 16 or 24 bpp). */
static bool fbcon_pixfmt_init(struct fbcon_pixfmt *fmt, const struct bootinfo_fb *fb)
{
	static const struct fbcon_pixfmt rgbx = { { 0, 8, 16 }, { 8, 8, 8 } };
	static const struct fbcon_pixfmt bgrx = { { 16, 8, 0 }, { 8, 8, 8 } };

	switch (fb->format) {
	case BOOTINFO_FB_RGBX:
		*fmt = rgbx;
		return true;
	case BOOTINFO_FB_BGRX:
		*fmt = bgrx;
		return true;
	case BOOTINFO_FB_BITMASK:
		if (!bootinfo_fb_32bpp(fb))
			return false;
		fbcon_mask_field(fb->mask_red, &fmt->shift[0], &fmt->bits[0]);
		fbcon_mask_field(fb->mask_green, &fmt->shift[1], &fmt->bits[1]);
		fbcon_mask_field(fb->mask_blue, &fmt->shift[2], &fmt->bits[2]);
		return fmt->bits[0] || fmt->bits[1] || fmt->bits[2];
	default:
		return false;
	}
}

/* Native pixel value of the colour 0xRRGGBB. */
static uint32_t fbcon_encode(uint32_t rgb)
{
	uint32_t px = 0;

	for (int i = 0; i < 3; i++) {
		uint32_t v = (rgb >> (16 - 8 * i)) & 0xFF;
		unsigned bits = fbcon.fmt.bits[i];

		if (!bits)
			continue;
		v = bits >= 8 ? v << (bits - 8) : v >> (8 - bits);
		px |= v << fbcon.fmt.shift[i];
	}
	return px;
}

/* The colour 0xRRGGBB of a native pixel value (channels scaled to 8 bits). */
static uint32_t fbcon_decode(uint32_t px)
{
	uint32_t rgb = 0;

	for (int i = 0; i < 3; i++) {
		unsigned bits = fbcon.fmt.bits[i];
		uint64_t max = ((uint64_t)1 << bits) - 1;
		uint64_t v;

		if (!bits)
			continue;
		v = (px >> fbcon.fmt.shift[i]) & max;
		rgb |= (uint32_t)((v * 0xFF + max / 2) / max) << (16 - 8 * i);
	}
	return rgb;
}

/* ------------------------------------------------------------------ palette */

/* Palette index of rgb, allocating a slot if needed (when full, the last slot is reused). */
static uint8_t fbcon_palette_index(uint32_t rgb)
{
	unsigned i;

	rgb &= 0xFFFFFF;
	for (i = 0; i < fbcon.pal_used; i++)
		if (fbcon.pal_rgb[i] == rgb)
			return (uint8_t)i;
	if (fbcon.pal_used < FBCON_PALETTE_MAX)
		i = fbcon.pal_used++;
	else
		i = FBCON_PALETTE_MAX - 1;
	fbcon.pal_rgb[i] = rgb;
	fbcon.pal_px[i] = fbcon_encode(rgb);
	return (uint8_t)i;
}

/* Resets the palette to the ANSI colours and encodes them for the current pixel format. */
static void fbcon_palette_reset(void)
{
	for (unsigned i = 0; i < FBCON_ANSI_N; i++) {
		fbcon.pal_rgb[i] = fbcon_ansi_rgb[i];
		fbcon.pal_px[i] = fbcon_encode(fbcon_ansi_rgb[i]);
	}
	fbcon.pal_used = FBCON_ANSI_N;
}

/* ------------------------------------------------------------------ font */

/* Cursor over a PSF unicode table. */
struct fbcon_utab_iter {
	const uint8_t *p, *end;
	uint32_t glyph;
	bool in_seq;                       /* inside a multi-code-point sequence: skip */
};

/* Decodes one UTF-8 code point of the PSF2 table at it->p (advancing it); UINT32_MAX if malformed. */
static uint32_t fbcon_utab_utf8(struct fbcon_utab_iter *it)
{
	uint32_t b = *it->p++, cp;
	unsigned need;

	if (b < 0x80)
		return b;
	if (b >= 0xC0 && b < 0xE0)
		cp = b & 0x1F, need = 1;
	else if (b >= 0xE0 && b < 0xF0)
		cp = b & 0x0F, need = 2;
	else if (b >= 0xF0 && b < 0xF8)
		cp = b & 0x07, need = 3;
	else
		return UINT32_MAX;
	while (need--) {
		if (it->p >= it->end || (*it->p & UTF8_CONT_MASK) != UTF8_CONT_TAG)
			return UINT32_MAX;
		cp = cp << UTF8_CONT_BITS | (*it->p++ & ~UTF8_CONT_MASK & 0xFF);
	}
	return cp;
}

/* Next (code point, glyph) pair of the table; false at the end. */
static bool fbcon_utab_next(struct fbcon_utab_iter *it, uint32_t *cp, uint32_t *glyph)
{
	const struct fbcon_font *f = &fbcon.font;

	while (it->glyph < f->count) {
		uint32_t v;

		if (f->psf2) {
			if (it->p >= it->end)
				return false;
			if (*it->p == PSF2_SEPARATOR || *it->p == PSF2_STARTSEQ) {
				v = *it->p++ == PSF2_SEPARATOR ? PSF1_SEPARATOR : PSF1_STARTSEQ;
			} else {
				v = fbcon_utab_utf8(it);
			}
		} else {
			if (it->p + 2 > it->end)
				return false;
			v = fbcon_le16(it->p);
			it->p += 2;
		}
		if (v == PSF1_SEPARATOR) {
			it->glyph++;
			it->in_seq = false;
		} else if (v == PSF1_STARTSEQ) {
			it->in_seq = true;
		} else if (!it->in_seq && v <= UTF8_MAX_CP) {
			*cp = v;
			*glyph = it->glyph;
			return true;
		}
	}
	return false;
}

/* Starts an iteration over the font's unicode table. */
static void fbcon_utab_begin(struct fbcon_utab_iter *it)
{
	it->p = fbcon.font.utab;
	it->end = fbcon.font.utab_end;
	it->glyph = 0;
	it->in_seq = false;
}

/* Glyph index for code point cp (identity without a table), or FBCON_NO_GLYPH. */
static uint32_t fbcon_glyph_lookup(uint32_t cp)
{
	struct fbcon_utab_iter it;
	uint32_t c, g;

	if (cp < FBCON_LATIN1_N)
		return fbcon.font.latin1[cp];
	if (!fbcon.font.utab)
		return cp < fbcon.font.count ? cp : FBCON_NO_GLYPH;
	fbcon_utab_begin(&it);
	while (fbcon_utab_next(&it, &c, &g))
		if (c == cp)
			return g;
	return FBCON_NO_GLYPH;
}

/* Fills the Latin-1 map and the fallback glyphs from the unicode table (or identity). */
static void fbcon_font_build_map(struct fbcon_font *f)
{
	struct fbcon_utab_iter it;
	uint32_t cp, g;

	for (uint32_t i = 0; i < FBCON_LATIN1_N; i++)
		f->latin1[i] = f->utab ? FBCON_NO_GLYPH : (i < f->count ? (uint16_t)i : FBCON_NO_GLYPH);
	if (f->utab) {
		fbcon_utab_begin(&it);
		while (fbcon_utab_next(&it, &cp, &g))
			if (cp < FBCON_LATIN1_N && f->latin1[cp] == FBCON_NO_GLYPH)
				f->latin1[cp] = (uint16_t)g;
	}
	f->fallback = f->latin1['?'] != FBCON_NO_GLYPH ? f->latin1['?'] : 0;
	f->space = f->latin1[' '] != FBCON_NO_GLYPH ? f->latin1[' '] : f->fallback;
}

/* Parses a PSF1 header; false if invalid. */
static bool fbcon_font_psf1(struct fbcon_font *f, const uint8_t *p, size_t len)
{
	uint32_t mode;

	if (len < PSF1_HEADER_SIZE || p[0] != PSF1_MAGIC0 || p[1] != PSF1_MAGIC1)
		return false;
	mode = p[2];
	f->psf2 = false;
	f->count = mode & PSF1_MODE512 ? 2 * PSF1_GLYPHS : PSF1_GLYPHS;
	f->width = PSF1_WIDTH;
	f->height = p[3];
	f->row_bytes = 1;
	f->glyph_bytes = p[3];
	f->glyphs = p + PSF1_HEADER_SIZE;
	f->utab = mode & (PSF1_MODEHASTAB | PSF1_MODESEQ) ?
		  f->glyphs + (size_t)f->count * f->glyph_bytes : NULL;
	return true;
}

/* Parses a PSF2 header; false if invalid. */
static bool fbcon_font_psf2(struct fbcon_font *f, const uint8_t *p, size_t len)
{
	uint32_t hdr, flags;

	if (len < PSF2_HEADER_MIN || fbcon_le32(p) != PSF2_MAGIC)
		return false;
	hdr = fbcon_le32(p + 8);
	flags = fbcon_le32(p + 12);
	f->psf2 = true;
	f->count = fbcon_le32(p + 16);
	f->glyph_bytes = fbcon_le32(p + 20);
	f->height = fbcon_le32(p + 24);
	f->width = fbcon_le32(p + 28);
	f->row_bytes = (f->width + 7) / 8;
	if (hdr < PSF2_HEADER_MIN || hdr > len || f->width == 0 || f->width > FBCON_GLYPH_W_MAX ||
	    f->height > FBCON_GLYPH_H_MAX || f->glyph_bytes != f->row_bytes * f->height)
		return false;
	f->glyphs = p + hdr;
	f->utab = flags & PSF2_HAS_UNICODE_TABLE ?
		  f->glyphs + (size_t)f->count * f->glyph_bytes : NULL;
	return true;
}

/* Parses the PSF font [p, p + len) into fbcon.font (where the unicode table's walks read it); false
 * if it is not valid. */
static bool fbcon_font_load(const uint8_t *p, size_t len)
{
	struct fbcon_font *f = &fbcon.font;

	if (!fbcon_font_psf1(f, p, len) && !fbcon_font_psf2(f, p, len))
		return false;
	if (f->count == 0 || f->count > FBCON_NO_GLYPH || f->height == 0 ||
	    f->height > FBCON_GLYPH_H_MAX ||
	    (size_t)(f->glyphs - p) + (uint64_t)f->count * f->glyph_bytes > len)
		return false;
	f->utab_end = p + len;
	if (f->utab && f->utab >= f->utab_end)
		f->utab = NULL;
	fbcon_font_build_map(f);
	return true;
}

/* Parses the embedded font into fbcon.font; false (console stays off) if it is not valid. */
static bool fbcon_font_init(void)
{
	return fbcon_font_load(font_psf, (size_t)(font_psf_end - font_psf));
}

/* ------------------------------------------------------------------ drawing */

/* Glyph row y of glyph g as a bit mask, leftmost pixel in bit 31. */
static uint32_t fbcon_glyph_row(const uint8_t *g, unsigned y)
{
	const uint8_t *r = g + y * fbcon.font.row_bytes;
	uint32_t bits = 0;

	for (unsigned i = 0; i < fbcon.font.row_bytes; i++)
		bits |= (uint32_t)r[i] << (24 - 8 * i);
	return bits;
}

/* Draws cell c at (col, row) on the framebuffer. */
static void fbcon_draw_cell(unsigned col, unsigned row, struct fbcon_cell c)
{
	const struct fbcon_font *f = &fbcon.font;
	const uint8_t *g = f->glyphs + (size_t)c.glyph * f->glyph_bytes;
	uint32_t fg = fbcon.pal_px[c.fg], bg = fbcon.pal_px[c.bg];
	uint32_t *p = fbcon.fb + (size_t)row * f->height * fbcon.pitch + (size_t)col * f->width;

	for (unsigned y = 0; y < f->height; y++, p += fbcon.pitch) {
		uint32_t bits = fbcon_glyph_row(g, y);

		for (unsigned x = 0; x < f->width; x++, bits <<= 1)
			p[x] = (bits & 0x80000000u) ? fg : bg;
	}
}

/* Stores c at (col, row) and draws it if it differs from what is shown. */
static void fbcon_put_cell(unsigned col, unsigned row, struct fbcon_cell c)
{
	struct fbcon_cell *cell = fbcon_cell_at(col, row);

	if (fbcon_cell_eq(*cell, c))
		return;
	*cell = c;
	fbcon_draw_cell(col, row, c);
}

/* A blank cell in the current colours. */
static struct fbcon_cell fbcon_blank(void)
{
	return (struct fbcon_cell){ .glyph = fbcon.font.space, .fg = fbcon.fg, .bg = fbcon.bg };
}

/* Scrolls the text window up one row: shifts the shadow, redrawing changed cells only. */
static void fbcon_scroll(void)
{
	for (unsigned r = fbcon.top; r + 1 < fbcon.rows; r++)
		for (unsigned c = 0; c < fbcon.cols; c++)
			fbcon_put_cell(c, r, *fbcon_cell_at(c, r + 1));
	for (unsigned c = 0; c < fbcon.cols; c++)
		fbcon_put_cell(c, fbcon.rows - 1, fbcon_blank());
}

/* Moves the cursor to the start of the next line, scrolling at the bottom. */
static void fbcon_newline(void)
{
	fbcon.cx = 0;
	if (fbcon.cy + 1 < fbcon.rows)
		fbcon.cy++;
	else
		fbcon_scroll();
}

/* Draws glyph g at the cursor and advances it (wrapping lazily at the next character). */
static void fbcon_put_glyph(uint32_t g)
{
	struct fbcon_cell c = { .glyph = (uint16_t)g, .fg = fbcon.fg, .bg = fbcon.bg };

	if (fbcon.cx >= fbcon.cols)
		fbcon_newline();
	fbcon_put_cell(fbcon.cx, fbcon.cy, c);
	fbcon.cx++;
}

/* Draws code point cp, '?' when the font has no glyph for it. */
static void fbcon_put_cp(uint32_t cp)
{
	uint32_t g = fbcon_glyph_lookup(cp);

	fbcon_put_glyph(g == FBCON_NO_GLYPH ? fbcon.font.fallback : g);
}

/* ------------------------------------------------------------------ escape sequences */

/* Applies one SGR (ESC [ ... m) parameter. */
static void fbcon_sgr(unsigned v)
{
	if (v == SGR_RESET) {
		fbcon.fg = fbcon.def_fg, fbcon.bg = fbcon.def_bg, fbcon.bright = false;
	} else if (v == SGR_BOLD) {
		fbcon.bright = true;
		if (fbcon.fg < FBCON_ANSI_BRIGHT)
			fbcon.fg += FBCON_ANSI_BRIGHT;
	} else if (v == SGR_NORMAL) {
		fbcon.bright = false;
		if (fbcon.fg >= FBCON_ANSI_BRIGHT && fbcon.fg < FBCON_ANSI_N)
			fbcon.fg -= FBCON_ANSI_BRIGHT;
	} else if (v >= SGR_FG_BASE && v < SGR_FG_BASE + SGR_COLORS) {
		fbcon.fg = (uint8_t)(v - SGR_FG_BASE + (fbcon.bright ? FBCON_ANSI_BRIGHT : 0));
	} else if (v == SGR_FG_DEFAULT) {
		fbcon.fg = fbcon.def_fg;
	} else if (v >= SGR_BG_BASE && v < SGR_BG_BASE + SGR_COLORS) {
		fbcon.bg = (uint8_t)(v - SGR_BG_BASE);
	} else if (v == SGR_BG_DEFAULT) {
		fbcon.bg = fbcon.def_bg;
	} else if (v >= SGR_FG_BRIGHT && v < SGR_FG_BRIGHT + SGR_COLORS) {
		fbcon.fg = (uint8_t)(v - SGR_FG_BRIGHT + FBCON_ANSI_BRIGHT);
	} else if (v >= SGR_BG_BRIGHT && v < SGR_BG_BRIGHT + SGR_COLORS) {
		fbcon.bg = (uint8_t)(v - SGR_BG_BRIGHT + FBCON_ANSI_BRIGHT);
	}
}

/* Feeds byte b of an escape sequence (state != NONE) to the parser. */
static void fbcon_esc_byte(uint8_t b)
{
	if (fbcon.esc == FBCON_ESC_START) {
		fbcon.esc = b == '[' ? FBCON_ESC_CSI : FBCON_ESC_NONE;
		fbcon.ncsi = 0;
		fbcon.csi[0] = 0;
		return;
	}
	if (b >= '0' && b <= '9') {
		unsigned *v = &fbcon.csi[fbcon.ncsi];
		*v = *v * 10 + (b - '0');
		if (*v > FBCON_CSI_PARAM_MAX)
			*v = FBCON_CSI_PARAM_MAX;
	} else if (b == ';') {
		if (fbcon.ncsi + 1 < FBCON_CSI_PARAMS)
			fbcon.csi[++fbcon.ncsi] = 0;
	} else if (b >= 0x40 && b <= 0x7E) {             /* final byte */
		if (b == 'm')
			for (unsigned i = 0; i <= fbcon.ncsi; i++)
				fbcon_sgr(fbcon.csi[i]);
		fbcon.esc = FBCON_ESC_NONE;
	} else if (b < 0x20 || b > 0x7E) {               /* not part of a CSI: abandon it */
		fbcon.esc = FBCON_ESC_NONE;
	}
}

/* ------------------------------------------------------------------ byte input */

/* Handles a C0 control character or DEL. */
static void fbcon_control(uint8_t b)
{
	switch (b) {
	case '\n':
		fbcon_newline();
		break;
	case '\r':
		fbcon.cx = 0;
		break;
	case '\t':
		do
			fbcon_put_cp(' ');
		while (fbcon.cx % FBCON_TAB_WIDTH && fbcon.cx < fbcon.cols);
		break;
	case '\b':
		if (fbcon.cx > 0)
			fbcon.cx = MIN(fbcon.cx, fbcon.cols) - 1;
		break;
	case FBCON_ESC:
		fbcon.esc = FBCON_ESC_START;
		break;
	default:                                         /* other controls: ignored */
		break;
	}
}

/* Starts a UTF-8 sequence with lead byte b, or draws '?' for an invalid lead byte. */
static void fbcon_utf8_lead(uint8_t b)
{
	if (b >= 0xC2 && b < 0xE0)
		fbcon.u_cp = b & 0x1F, fbcon.u_need = 1;
	else if (b >= 0xE0 && b < 0xF0)
		fbcon.u_cp = b & 0x0F, fbcon.u_need = 2;
	else if (b >= 0xF0 && b < 0xF5)
		fbcon.u_cp = b & 0x07, fbcon.u_need = 3;
	else
		fbcon_put_glyph(fbcon.font.fallback);
}

/* Processes one input byte. */
static void fbcon_byte(uint8_t b)
{
	if (fbcon.u_need) {
		if ((b & UTF8_CONT_MASK) == UTF8_CONT_TAG) {
			fbcon.u_cp = fbcon.u_cp << UTF8_CONT_BITS | (b & ~UTF8_CONT_MASK & 0xFF);
			if (--fbcon.u_need == 0)
				fbcon_put_cp(fbcon.u_cp);
			return;
		}
		fbcon.u_need = 0;                        /* truncated sequence */
		fbcon_put_glyph(fbcon.font.fallback);
	}
	if (fbcon.esc != FBCON_ESC_NONE)
		fbcon_esc_byte(b);
	else if (b < 0x20 || b == FBCON_DEL)
		fbcon_control(b);
	else if (b < 0x80)
		fbcon_put_cp(b);
	else
		fbcon_utf8_lead(b);
}

/* ------------------------------------------------------------------ public API */

/* Fills the screen with the background colour, blanks the shadow, homes the cursor. */
void fbcon_clear(void)
{
	struct fbcon_cell blank;
	uint32_t bg;

	if (!fbcon.active)
		return;
	blank = fbcon_blank();
	bg = fbcon.pal_px[blank.bg];
	for (uint32_t y = 0; y < fbcon.height; y++) {
		uint32_t *row = fbcon.fb + (size_t)y * fbcon.pitch;
		for (uint32_t x = 0; x < fbcon.width; x++)
			row[x] = bg;
	}
	for (unsigned i = 0; i < fbcon.rows * fbcon.cols; i++)
		fbcon_cells[i] = blank;
	fbcon.cx = fbcon.cy = 0;
	fbcon.top = 0;
}

/* Validates fb and records its geometry; false if it cannot be used. */
static bool fbcon_geometry_init(const struct bootinfo_fb *fb, void *fb_virt)
{
	/* bootinfo_fb_bytes covers every visible row (a FrameBufferSize 0 or short counts as pitch x height). */
	if (!fb || !fb_virt || !bootinfo_fb_bytes(fb))
		return false;
	if (!fbcon_pixfmt_init(&fbcon.fmt, fb))
		return false;
	fbcon.fb = fb_virt;
	fbcon.width = fb->width;
	fbcon.height = fb->height;
	fbcon.pitch = fb->pitch;
	fbcon.cols = MIN(fbcon.width / fbcon.font.width, FBCON_MAX_COLS);
	fbcon.rows = MIN(fbcon.height / fbcon.font.height, FBCON_MAX_ROWS);
	return fbcon.cols > 0 && fbcon.rows > 0;
}

/* Takes over the framebuffer (see fbcon.h). */
void fbcon_init(const struct bootinfo_fb *fb, void *fb_virt)
{
	fbcon.active = false;
	if (!fbcon_font_init() || !fbcon_geometry_init(fb, fb_virt))
		return;
	fbcon_palette_reset();
	fbcon.def_fg = fbcon.fg = FBCON_DEFAULT_FG;
	fbcon.def_bg = fbcon.bg = FBCON_DEFAULT_BG;
	fbcon.bright = false;
	fbcon.esc = FBCON_ESC_NONE;
	fbcon.u_need = 0;
	fbcon.active = true;
	fbcon_clear();
}

/* True once fbcon_init succeeded. */
bool fbcon_active(void)
{
	return fbcon.active;
}

/* Probes a byte of each page of the drawn framebuffer (see fbcon.h). */
bool fbcon_takes_writes(int (*probe_write8)(volatile void *addr, uint8_t val))
{
	if (!fbcon.active)
		return true;
	/* [first, end): the first pixel of row 0 to the last of row height - 1, as fbcon_clear writes them */
	uintptr_t first = (uintptr_t)fbcon.fb;
	uintptr_t end = first + ((uintptr_t)(fbcon.height - 1) * fbcon.pitch + fbcon.width) * sizeof(uint32_t);
	for (uintptr_t at = first; at < end; at = (at | PAGE_MASK) + 1)
		if (probe_write8((volatile void *)at, 0))
			return false;
	return true;
}

/* Draws n bytes of text at the cursor. */
void fbcon_write(const char *s, size_t n)
{
	if (!fbcon.active)
		return;
	for (size_t i = 0; i < n; i++)
		fbcon_byte((uint8_t)s[i]);
}

/* Sets the current and default colours (0xRRGGBB). */
void fbcon_set_color(uint32_t fg_rgb, uint32_t bg_rgb)
{
	if (!fbcon.active)
		return;
	fbcon.def_fg = fbcon.fg = fbcon_palette_index(fg_rgb);
	fbcon.def_bg = fbcon.bg = fbcon_palette_index(bg_rgb);
	fbcon.bright = false;
}

/* The pixel at (x, y) as 0xRRGGBB; 0 when inactive or out of range. */
uint32_t fbcon_read_pixel(unsigned x, unsigned y)
{
	if (!fbcon.active || x >= fbcon.width || y >= fbcon.height)
		return 0;
	return fbcon_decode(fbcon.fb[(size_t)y * fbcon.pitch + x]);
}

/* Text geometry in cells and the cell size in pixels (all 0 when inactive). */
void fbcon_get_geometry(unsigned *cols, unsigned *rows, unsigned *cell_w, unsigned *cell_h)
{
	bool on = fbcon.active;

	if (cols)
		*cols = on ? fbcon.cols : 0;
	if (rows)
		*rows = on ? fbcon.rows : 0;
	if (cell_w)
		*cell_w = on ? fbcon.font.width : 0;
	if (cell_h)
		*cell_h = on ? fbcon.font.height : 0;
}

/* ------------------------------------------------------------------ pixel drawing (summary screen) */

#define FBCON_SCALE_MAX 8

/* Screen size in pixels. */
void fbcon_get_size(unsigned *width, unsigned *height)
{
	*width = fbcon.active ? fbcon.width : 0;
	*height = fbcon.active ? fbcon.height : 0;
}

/* Fills a clipped rectangle with the native pixel value px. */
static void fbcon_fill_native(unsigned x, unsigned y, unsigned w, unsigned h, uint32_t px)
{
	if (x >= fbcon.width || y >= fbcon.height)
		return;
	w = MIN(w, fbcon.width - x);
	h = MIN(h, fbcon.height - y);
	for (unsigned r = 0; r < h; r++) {
		uint32_t *row = fbcon.fb + (size_t)(y + r) * fbcon.pitch + x;
		for (unsigned c = 0; c < w; c++)
			row[c] = px;
	}
}

/* Fills a rectangle with 0xRRGGBB (clipped). */
void fbcon_fill_rect(unsigned x, unsigned y, unsigned w, unsigned h, uint32_t rgb)
{
	if (fbcon.active)
		fbcon_fill_native(x, y, w, h, fbcon_encode(rgb & 0xFFFFFF));
}

/* Draws glyph g at pixel (x, y), scaled, in native colours fg on bg (clipped: a row or column
 * whose position is past the screen, even one that would wrap an unsigned, is not drawn). */
static void fbcon_draw_glyph_px(unsigned x, unsigned y, unsigned scale, uint32_t g, uint32_t fg, uint32_t bg)
{
	const struct fbcon_font *f = &fbcon.font;
	const uint8_t *gl = f->glyphs + (size_t)g * f->glyph_bytes;

	for (unsigned r = 0; r < f->height && (uint64_t)y + (uint64_t)r * scale < fbcon.height; r++) {
		uint32_t bits = fbcon_glyph_row(gl, r);
		for (unsigned c = 0; c < f->width && (uint64_t)x + (uint64_t)c * scale < fbcon.width; c++, bits <<= 1)
			fbcon_fill_native(x + c * scale, y + r * scale, scale, scale, (bits & 0x80000000u) ? fg : bg);
	}
}

/* Draws s at pixel (x, y) (see fbcon.h); returns the width drawn. */
unsigned fbcon_draw_text(unsigned x, unsigned y, unsigned scale, uint32_t fg, uint32_t bg, const char *s)
{
	uint32_t nfg, nbg, cp = 0;
	unsigned x0 = x, need = 0;

	if (!fbcon.active || !s)
		return 0;
	scale = scale < 1 ? 1 : MIN(scale, FBCON_SCALE_MAX);
	nfg = fbcon_encode(fg & 0xFFFFFF);
	nbg = fbcon_encode(bg & 0xFFFFFF);
	for (; *s && x < fbcon.width; s++) {
		uint8_t b = (uint8_t)*s;
		uint32_t g;

		if (need && (b & UTF8_CONT_MASK) == UTF8_CONT_TAG) {
			cp = cp << UTF8_CONT_BITS | (b & ~UTF8_CONT_MASK & 0xFF);
			if (--need)
				continue;
		} else if (b >= 0xC2 && b < 0xF5) {
			cp = b & (b < 0xE0 ? 0x1F : b < 0xF0 ? 0x0F : 0x07);
			need = b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
			continue;
		} else if (b < 0x20 || b == FBCON_DEL) {
			need = 0;
			continue;
		} else {
			need = 0;
			cp = b < 0x80 ? b : '?';
		}
		g = fbcon_glyph_lookup(cp);
		fbcon_draw_glyph_px(x, y, scale, g == FBCON_NO_GLYPH ? fbcon.font.fallback : g, nfg, nbg);
		x += fbcon.font.width * scale;
	}
	return x0 >= fbcon.width ? 0 : MIN(x, fbcon.width) - x0;   /* from past the right edge: nothing drawn */
}

/* Confines the text console to rows [first_row, rows) (see fbcon.h). */
void fbcon_set_text_window(unsigned first_row)
{
	if (!fbcon.active)
		return;
	fbcon.top = MIN(first_row, fbcon.rows - 1);
	for (unsigned r = fbcon.top; r < fbcon.rows; r++)
		for (unsigned c = 0; c < fbcon.cols; c++) {
			*fbcon_cell_at(c, r) = fbcon_blank();
			fbcon_draw_cell(c, r, fbcon_blank());
		}
	fbcon.cx = 0;
	fbcon.cy = fbcon.top;
}
