/*
 * Host test of the summary screen's list layout (kernel/summary_layout.c): generated lists of
 * failures (names up to the longest test name, messages up to KTEST_MSG_MAX) on screens from 40 to
 * 320 columns with 0 to 24 rows to spare. Every plan stays in its rows, accounts for every item,
 * lists every kept item when a row each fits, says how many are left when they do not, and gives
 * a cut message its own row when the rows allow; then the 640x480 screen's case by name.
 */
#include <stdint.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/summary_layout.h"

#define ITEMS_MAX 12
#define NAME_MAX_LEN 67     /* tlb_shootdown_cpus_unmapping_at_once_with_interrupts_off_all_finish */
#define MSG_MAX_LEN 159     /* KTEST_MSG_MAX - 1 */

static uint64_t rng = 0x3C6EF372FE94F82BULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* Checks one plan's properties; prints the case and returns false on the first one broken. */
static bool plan_sound(const struct summary_item *it, size_t n, size_t more, unsigned cols, unsigned max_rows)
{
	struct summary_list_plan p;
	size_t item_rows = 0, cut = 0;
	const char *why = NULL;

	summary_list_plan(it, n, more, cols, max_rows, &p);
	for (size_t i = 0; i < p.shown; i++)
		item_rows += 1 + (p.wrap && summary_list_cut(&it[i], cols));
	for (size_t i = 0; i < n; i++)
		cut += summary_list_cut(&it[i], cols);
	if (p.rows > max_rows)
		why = "more rows than allowed";
	else if (p.shown > n || p.shown + p.left != n + more)
		why = "items shown + left is not items + more";
	else if ((n || more) && max_rows && p.rows != 1 + item_rows + p.more_row)
		why = "rows are not title + items + the more row";
	else if ((!n && !more) || !max_rows ? p.rows != 0 : p.rows == 0)
		why = "an empty list or no rows must take none, else the title's";
	else if (1 + n + (more ? 1 : 0) <= max_rows && p.shown != n)
		why = "a kept item is left out though a row each fits";
	else if (p.left && max_rows >= 2 && !p.more_row)
		why = "items are left out without a row saying so";
	else if (!p.left && p.more_row)
		why = "a more row with nothing left";
	else if (cut && 1 + n + cut + (more ? 1 : 0) <= max_rows && !p.wrap)
		why = "cut messages not given their own rows though they fit";
	if (!why)
		return true;
	printf("#   %s: %zu items, %zu more, %u cols, %u rows: plan rows %u shown %zu left %zu more_row %d wrap %d\n",
	       why, n, more, cols, max_rows, p.rows, p.shown, p.left, p.more_row, p.wrap);
	return false;
}

/* Generated lists on generated screens. */
static void test_generated(void)
{
	static const unsigned cols_set[] = { 40, 80, 100, 128, 160, 240, 320 };
	struct summary_item it[ITEMS_MAX];
	int runs = 0, bad = 0;

	for (int k = 0; k < 20000 && bad < 5; k++) {
		size_t n = draw(ITEMS_MAX + 1), more = draw(3) ? 0 : draw(6);
		unsigned cols = cols_set[draw(sizeof(cols_set) / sizeof(cols_set[0]))], max_rows = (unsigned)draw(25);

		for (size_t i = 0; i < n; i++)
			it[i] = (struct summary_item){ 1 + draw(NAME_MAX_LEN), draw(MSG_MAX_LEN + 1) };
		runs++;
		bad += !plan_sound(it, n, more, cols, max_rows);
	}
	is(bad, 0, "%d generated lists: plans sound", runs);
}

/* The 640x480 screen (80 columns, 15 rows under the banner for lists): three failures whose
 * messages do not fit beside their names get them whole on their own rows; eight failures of
 * the longest name and four more still say how many are left. */
static void test_640x480(void)
{
	struct summary_item three[3] = { { 18, 66 }, { 23, 60 }, { 67, 60 } }, many[ITEMS_MAX];
	struct summary_list_plan p;

	summary_list_plan(three, 3, 0, 80, 15, &p);
	ok(p.wrap && p.shown == 3 && p.rows == 7 && !p.more_row, "640x480: three cut messages on their own rows (%u rows)",
	   p.rows);
	ok(summary_list_room(80, SUMMARY_LIST_WRAP_COL) >= 66, "640x480: a wrapped row holds a 66-character message");
	for (size_t i = 0; i < ITEMS_MAX; i++)
		many[i] = (struct summary_item){ NAME_MAX_LEN, MSG_MAX_LEN };
	summary_list_plan(many, ITEMS_MAX, 4, 80, 10, &p);
	ok(p.rows == 10 && p.shown == 8 && p.left == 8 && p.more_row,
	   "640x400: 12 failures and 4 more in 10 rows: 8 shown, a row says 8 more (rows %u shown %zu left %zu)", p.rows,
	   p.shown, p.left);
}

int main(void)
{
	test_generated();
	test_640x480();
	return tap_done();
}
