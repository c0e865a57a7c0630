/*
 * summary_list_: how the summary screen lays out its lists (the failures, the benchmarks' results)
 * in the text rows it can give them; pure, so the host test checks every screen size. A list is a
 * title row, then per item its name at column SUMMARY_LIST_NAME_COL and its message one column
 * after the name, or, when the message would be cut there and the rows allow, on the next row at
 * SUMMARY_LIST_WRAP_COL; and when not every item fits, a last row saying how many are left.
 */
#ifndef SUMMARY_LAYOUT_H
#define SUMMARY_LAYOUT_H

#include "types.h"

#define SUMMARY_LIST_NAME_COL 2
#define SUMMARY_LIST_WRAP_COL 4

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
