/* The summary screen's layout (see summary_layout.h). */
#include "summary_layout.h"

/* Blocks below the lists, in text rows: the machine rows, the line saying there is no room for the
 * pictures, and the half rows after the lists and after the machine rows. */
#define SUMMARY_ROWS_BELOW_LISTS (SUMMARY_MACHINE_ROWS + 2)
#define SUMMARY_WORDS_AND " and "
#define SUMMARY_WORDS_MORE " more"

unsigned summary_banner_scale(unsigned height_px)
{
	return height_px < SUMMARY_BIG_SCREEN_H ? SUMMARY_BIG_SCALE_SMALL : SUMMARY_BIG_SCALE;
}

unsigned summary_banner_height(unsigned height_px, unsigned cell_h)
{
	return cell_h * summary_banner_scale(height_px) + cell_h;
}

/* Rows the lists may take from pixel row y: the lists end at most half a row past their rows (a
 * gap after each list, the second list's budget one row less), then the blocks below them. */
static unsigned summary_rows_from(unsigned y, unsigned text_top, unsigned ch)
{
	unsigned rows = text_top > y ? (text_top - y) / ch : 0;

	return rows > SUMMARY_ROWS_BELOW_LISTS ? rows - SUMMARY_ROWS_BELOW_LISTS : 0;
}

/* Plans the screen (see summary_layout.h). */
void summary_screen_plan(unsigned height_px, unsigned text_top, unsigned cell_h, bool cmdline,
			 struct summary_screen_plan *p)
{
	unsigned gap = cell_h / 2, y;

	p->banner_h = summary_banner_height(height_px, cell_h);
	y = p->banner_h + gap;
	p->cmdline_row = false;
	p->cmdline_y = 0;
	/* The command line's row costs a row and a gap; it never takes the machine rows' place. */
	if (cmdline && text_top >= y + cell_h + gap + SUMMARY_ROWS_BELOW_LISTS * cell_h) {
		p->cmdline_row = true;
		p->cmdline_y = y;
		y += cell_h + gap;
	}
	p->lists_y = y;
	p->list_rows = summary_rows_from(y, text_top, cell_h);
}

/* Decimal digits of v. */
static size_t summary_digits(size_t v)
{
	size_t d = 1;

	for (; v >= 10; v /= 10)
		d++;
	return d;
}

size_t summary_words_tail(size_t left, bool after_words)
{
	if (!left)
		return 0;
	return (after_words ? sizeof(SUMMARY_WORDS_AND) - 1 : 0) + summary_digits(left) + sizeof(SUMMARY_WORDS_MORE) - 1;
}

/* Characters of the first k words whole, one space apart, and the tail for the rest of total. */
static size_t summary_words_width(const size_t *lens, size_t k, size_t total)
{
	size_t w = k ? k - 1 : 0;

	for (size_t i = 0; i < k; i++)
		w += lens[i];
	return w + summary_words_tail(total - k, k > 0);
}

/* Plans the row of words (see summary_layout.h). */
void summary_words_plan(const size_t *lens, size_t n, size_t more, size_t room, struct summary_words_plan *p)
{
	size_t total = n + more, ellipsis = sizeof(SUMMARY_WORDS_ELLIPSIS) - 1;

	*p = (struct summary_words_plan){ 0, 0, total, 0 };
	/* The most words that fit, not the first misfit from the left: without the tail (nothing
	 * left) a row of more words can be shorter. */
	for (size_t k = n; k > 0; k--)
		if (summary_words_width(lens, k, total) <= room) {
			*p = (struct summary_words_plan){ k, 0, total - k, summary_words_width(lens, k, total) };
			return;
		}
	if (n && room >= SUMMARY_WORDS_CUT_MIN + ellipsis + summary_words_tail(total - 1, true))
		*p = (struct summary_words_plan){ 1, room - ellipsis - summary_words_tail(total - 1, true), total - 1, room };
	else if (total && summary_words_tail(total, false) <= room)
		p->len = summary_words_tail(total, false);
}

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
