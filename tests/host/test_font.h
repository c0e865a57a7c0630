/*
 * The console font of the host tests that draw (fbcon.c built into the test): a PSF2 file of 256
 * glyphs of 8x16 whose every row is 0x81, a pixel at both edges of the cell, in place of the
 * build's embedded Debian font (font_psf .. font_psf_end, as kernel/fbcon.c expects them).
 */
#ifndef TESTS_HOST_TEST_FONT_H
#define TESTS_HOST_TEST_FONT_H

__asm__(".section .rodata\n"
	".globl font_psf, font_psf_end\n"
	"font_psf:\n"
	".long 0x864ab572, 0, 32, 0, 256, 16, 16, 8\n"
	".fill 4096, 1, 0x81\n"
	"font_psf_end:\n"
	".previous\n");

#endif
