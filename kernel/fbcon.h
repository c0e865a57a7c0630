/*
 * Framebuffer text console: draws text with the embedded PSF font (font_psf) on the linear
 * framebuffer the loader found. 32 bpp only; RGBX, BGRX and BITMASK pixel formats.
 *
 * Not locked: callers (the console layer) serialise fbcon_write and the other calls.
 * Input is UTF-8 (invalid bytes and characters without a glyph show as '?'); \n \r \t \b are
 * honoured; "ESC [ params m" sets colours (0 reset, 1 bright, 30-37 39 40-47 49 90-97 100-107);
 * other escape sequences are consumed and ignored.
 */
#ifndef FBCON_H
#define FBCON_H

#include "types.h"
#include "bootinfo.h"

/*
 * Takes over the framebuffer described by fb, mapped at fb_virt, and clears it. The console
 * stays (or becomes) inactive if fb is NULL, fb->format is NONE or unknown, fb_virt is NULL,
 * the format is a bitmask of fewer than 32 bits per pixel, the geometry is inconsistent, or the
 * font is not a valid PSF1/PSF2 file.
 */
void fbcon_init(const struct bootinfo_fb *fb, void *fb_virt);

/* True once fbcon_init succeeded. */
bool fbcon_active(void);

/*
 * True when every page of the framebuffer the console draws in (its visible rows, first pixel to
 * last) takes a one-byte write through probe_write8, which returns nonzero where the write faulted
 * (arch_probe_write8: the fault recovered, not fatal); stops at the first page that does not. True
 * when inactive. The probed bytes are left changed: for a caller about to clear the screen (a
 * fatal report, whose first write to a framebuffer whose mapping is gone would fault inside it).
 */
bool fbcon_takes_writes(int (*probe_write8)(volatile void *addr, uint8_t val));

/* Draws n bytes of text at the cursor; no-op when inactive. */
void fbcon_write(const char *s, size_t n);

/* Sets the current and default colours as 0xRRGGBB; later text uses them. */
void fbcon_set_color(uint32_t fg_rgb, uint32_t bg_rgb);

/* Fills the screen with the background colour and moves the cursor home. */
void fbcon_clear(void);

/* The pixel at (x, y) as 0xRRGGBB (exact for 8-bit channels); 0 when inactive or out of range. */
uint32_t fbcon_read_pixel(unsigned x, unsigned y);

/* Text geometry: columns and rows of cells, and the cell size in pixels (all 0 when inactive). */
void fbcon_get_geometry(unsigned *cols, unsigned *rows, unsigned *cell_w, unsigned *cell_h);

/*
 * Drawing for the summary screen, in pixels, outside the text flow: nothing here moves the cursor
 * or touches the text cells, so text written later redraws only its own cells. All clip to the
 * screen and do nothing when inactive.
 */
/* Screen size in pixels (0 x 0 when inactive). */
void fbcon_get_size(unsigned *width, unsigned *height);
/* Fills the rectangle [x, x + w) x [y, y + h) with 0xRRGGBB. */
void fbcon_fill_rect(unsigned x, unsigned y, unsigned w, unsigned h, uint32_t rgb);
/* Draws s (UTF-8 as fbcon_write, controls skipped) with its top-left corner at (x, y), each font
 * pixel scale x scale (1..8) screen pixels, fg on bg; returns the width drawn in pixels. */
unsigned fbcon_draw_text(unsigned x, unsigned y, unsigned scale, uint32_t fg, uint32_t bg, const char *s);
/*
 * Confines the text console to rows [first_row, rows): those rows are blanked, the cursor goes to
 * their start, and scrolling moves only them, so what is drawn above stays. first_row >= rows
 * keeps the last row only; fbcon_clear and fbcon_init give the whole screen back.
 */
void fbcon_set_text_window(unsigned first_row);

#endif
