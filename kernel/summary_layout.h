/*
 * How the summary screen is laid out, pure, so the host test checks every screen size from 640x480
 * up (tests/host/test_summary_layout.c).
 *
 * summary_screen_plan: the blocks from the top: the banner, the command line's row (only when
 * cmdline.txt had words that took no effect, and only when it leaves the machine rows their room),
 * the lists, the SUMMARY_MACHINE_ROWS machine rows, then the pictures or the line saying there is no
 * room for them, all above the console rows. Between blocks, half a text row.
 *
 * summary_words_: the command line's row: as many of the ignored words as fit, then "and N more".
 *
 * summary_list_: the lists (the failures, the benchmarks' results) in the text rows the plan gives
 * them. A list is a title row, then per item its name at column SUMMARY_LIST_NAME_COL and its
 * message one column after the name, or, when the message would be cut there and the rows allow,
 * on the next row at SUMMARY_LIST_WRAP_COL; and when not every item fits, a last row saying how
 * many are left.
 */
#ifndef SUMMARY_LAYOUT_H
#define SUMMARY_LAYOUT_H

#include "types.h"

#define SUMMARY_LIST_NAME_COL 2
#define SUMMARY_LIST_WRAP_COL 4
#define SUMMARY_MACHINE_ROWS 6          /* CPU, CPUs, RAM, firmware, display, clock */
#define SUMMARY_BIG_SCALE_SMALL 3       /* banner word scale below SUMMARY_BIG_SCREEN_H pixels */
#define SUMMARY_BIG_SCALE   4
#define SUMMARY_BIG_SCREEN_H 600
#define SUMMARY_WORDS_CUT_MIN 8         /* characters of a cut word, "..." aside, worth showing */
#define SUMMARY_WORDS_ELLIPSIS "..."

/* Where the blocks go (see the top of this file); pixel rows. */
struct summary_screen_plan {
	unsigned banner_h;         /* the banner's height */
	bool cmdline_row;          /* the command line's row is drawn, at cmdline_y */
	unsigned cmdline_y;
	unsigned lists_y;          /* the lists start here (the machine rows when there is none) */
	unsigned list_rows;        /* text rows the lists may take, their titles and "more" rows included */
};

/* How a row of words is drawn in room columns: the first `shown` words, one space apart, then
 * " and N more" for the `left` ones ("N more" when none is shown). When not even the first word
 * fits beside that, its first cut_len characters and "..." stand for it (it counts as shown). */
struct summary_words_plan {
	size_t shown;              /* words drawn, the first ones */
	size_t cut_len;            /* 0, or the characters of the one word shown before "..." */
	size_t left;               /* words not drawn, and the ones never kept */
	size_t len;                /* characters of the row, at most room; 0 when nothing fits */
};

/* One item of a list: the lengths in characters of its name and its message. */
struct summary_item {
	size_t name_len, msg_len;
};

/* How a list is drawn. */
struct summary_list_plan {
	unsigned rows;             /* rows used, the title's included; 0 when the list is empty or max_rows 0 */
	size_t shown;              /* items drawn, the first ones */
	size_t left;               /* items not drawn, and the ones never kept */
	bool more_row;             /* a last row says "left more" */
	bool wrap;                 /* a message cut beside its name goes on the next row */
};

/* The banner word's scale on a screen height_px pixels tall. */
unsigned summary_banner_scale(unsigned height_px);

/* Height in pixels of the banner for a screen height_px tall with cell_h-pixel text. */
unsigned summary_banner_height(unsigned height_px, unsigned cell_h);

/* Plans the screen height_px pixels tall whose console rows start at pixel row text_top, with
 * cell_h-pixel text; cmdline asks for the command line's row. Whatever the lists draw within
 * list_rows, every block ends above text_top when the screen has SUMMARY_MACHINE_ROWS + 8 rows
 * under the banner (640x480 has 22). */
void summary_screen_plan(unsigned height_px, unsigned text_top, unsigned cell_h, bool cmdline,
			 struct summary_screen_plan *p);

/* Characters of the tail for `left` words not shown: " and N more" after words, "N more" alone. */
size_t summary_words_tail(size_t left, bool after_words);

/* Plans a row of n words of lens[i] characters, plus `more` not kept, in room columns: the most
 * whole words that fit with the tail, else the first one cut (at least SUMMARY_WORDS_CUT_MIN
 * characters), else the tail alone, else nothing. */
void summary_words_plan(const size_t *lens, size_t n, size_t more, size_t room, struct summary_words_plan *p);

/* Characters summary_text can draw from column col on a screen cols columns wide. */
size_t summary_list_room(unsigned cols, unsigned col);

/* True when its message, one column after its name, would be cut on a screen cols columns wide. */
bool summary_list_cut(const struct summary_item *it, unsigned cols);

/* Plans a list of n items, plus `more` not kept, in at most max_rows rows of cols columns: every
 * kept item when one row each fits, wrapped messages when that fits too, else the first items and
 * the "more" row. */
void summary_list_plan(const struct summary_item *items, size_t n, size_t more, unsigned cols, unsigned max_rows,
		       struct summary_list_plan *p);

#endif
