/* The summary screen's list layout (see summary_layout.h). */
#include "summary_layout.h"

/* Characters from column col to one before the right edge. */
size_t summary_list_room(unsigned cols, unsigned col)
{
	return cols > col + 1 ? cols - col - 1 : 0;
}

/* True when the message beside the name would be cut. */
bool summary_list_cut(const struct summary_item *it, unsigned cols)
{
	size_t col = SUMMARY_LIST_NAME_COL + it->name_len + 1;

	return col >= cols || it->msg_len > summary_list_room(cols, (unsigned)col);
}

/* Rows of items [0, n): one each, two for a cut message when wrap. */
static size_t summary_list_item_rows(const struct summary_item *items, size_t n, unsigned cols, bool wrap)
{
	size_t rows = n;

	for (size_t i = 0; wrap && i < n; i++)
		rows += summary_list_cut(&items[i], cols);
	return rows;
}

/* Plans the list (see summary_layout.h). */
void summary_list_plan(const struct summary_item *items, size_t n, size_t more, unsigned cols, unsigned max_rows,
		       struct summary_list_plan *p)
{
	size_t tail = more ? 1 : 0;

	*p = (struct summary_list_plan){ 0, 0, n + more, false, false };
	if ((!n && !more) || !max_rows)
		return;
	if (1 + summary_list_item_rows(items, n, cols, true) + tail <= max_rows) {
		p->wrap = true;
		p->shown = n;
	} else if (1 + n + tail <= max_rows) {
		p->shown = n;
	} else {
		p->shown = max_rows >= 2 ? max_rows - 2 : 0;
		tail = max_rows >= 2 ? 1 : 0;
	}
	p->left = n + more - p->shown;
	p->more_row = tail && p->left;
	p->rows = (unsigned)(1 + summary_list_item_rows(items, p->shown, cols, p->wrap) + (p->more_row ? 1 : 0));
}
