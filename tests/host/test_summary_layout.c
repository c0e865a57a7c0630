/*
 * Host test of the summary screen's layout (kernel/summary_layout.c). Lists: generated lists of
 * failures (names up to the longest test name, messages up to KTEST_MSG_MAX) on screens from 40 to
 * 320 columns with 0 to 24 rows to spare. Every plan stays in its rows, accounts for every item,
 * lists every kept item when a row each fits, says how many are left when they do not, and gives
 * a cut message its own row when the rows allow; then the 640x480 screen's case by name. The
 * screen: every height from 480 to 2400 pixels (and the smaller ones), with and without the
 * command line's row, keeps every block above the console rows whatever the lists draw. The
 * command line's row: generated words on rows 0 to 200 columns wide fit, are the most that fit,
 * say how many are left, and cut only a first word that fits no other way.
 */
#include <stdint.h>
#include <string.h>
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

/* The model of a cut message, apart from summary_list_cut: one column after its name (the name at
 * SUMMARY_LIST_NAME_COL), the message is whole only when it ends before the last column, the one
 * summary_text leaves blank. */
static bool model_cut(const struct summary_item *it, unsigned cols)
{
	size_t col = SUMMARY_LIST_NAME_COL + it->name_len + 1;

	return col + it->msg_len + 1 > cols;
}

/* Checks one plan's properties; prints the case and returns false on the first one broken. */
static bool plan_sound(const struct summary_item *it, size_t n, size_t more, unsigned cols, unsigned max_rows)
{
	struct summary_list_plan p;
	size_t item_rows = 0, cut = 0, differ = 0;
	const char *why = NULL;

	summary_list_plan(it, n, more, cols, max_rows, &p);
	for (size_t i = 0; i < p.shown; i++)
		item_rows += 1 + (p.wrap && model_cut(&it[i], cols));
	for (size_t i = 0; i < n; i++)
		cut += model_cut(&it[i], cols);
	for (size_t i = 0; i < n; i++)
		differ += summary_list_cut(&it[i], cols) != model_cut(&it[i], cols);
	if (differ)
		why = "summary_list_cut is not the model's (a message ending on the last column or past it is cut)";
	else if (p.rows > max_rows)
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
	is(bad, 0, "%d generated lists: plans sound, a message cut exactly when it reaches the last column", runs);

	unsigned wrong = 0, pairs = 0, items = 0;
	for (unsigned cols = 0; cols <= 200; cols++)
		for (size_t name = 0; name <= 200; name++)
			for (size_t msg = 0; msg <= 200; msg++, items++) {
				struct summary_item it = { name, msg };
				wrong += summary_list_cut(&it, cols) != model_cut(&it, cols);
			}
	is(wrong, 0, "summary_list_cut of every name and message of 0 to 200 characters on screens 0 to 200 columns wide "
	   "(%u): cut exactly when the message reaches the last column (an empty one too when its column is past the screen)", items);
	wrong = 0;
	for (unsigned cols = 0; cols <= 400; cols++)
		for (unsigned col = 0; col <= 410; col++, pairs++)
			wrong += summary_list_room(cols, col) != (col + 1 < cols ? cols - col - 1 : 0);
	is(wrong, 0, "summary_list_room at %u (columns, column) pairs: from the column to one before the right edge, "
	   "none at or past it", pairs);
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

/* ------------------------------------------------------------------ the screen's blocks */

#define FONT_ROWS_MAX 120   /* fbcon's FBCON_MAX_ROWS: the console's rows stop there */
#define TEXT_ROWS 3         /* summary.h's SUMMARY_TEXT_ROWS */

/* The console's first pixel row on a screen height_px tall with ch-pixel text, as summary_draw finds it. */
static unsigned text_top_of(unsigned height_px, unsigned ch)
{
	unsigned rows = height_px / ch < FONT_ROWS_MAX ? height_px / ch : FONT_ROWS_MAX;

	return rows > TEXT_ROWS ? (rows - TEXT_ROWS) * ch : 0;
}

/* The lowest pixel row summary_draw reaches from the lists on, for lists of fail_rows and res_rows
 * (its own arithmetic): the lists with their gaps, the machine rows and a gap, the "no room" line. */
static unsigned drawn_bottom(const struct summary_screen_plan *p, unsigned ch, unsigned fail_rows, unsigned res_rows)
{
	unsigned y = p->lists_y;

	y += fail_rows ? fail_rows * ch + ch / 2 : 0;
	y += res_rows ? res_rows * ch + ch / 2 : 0;
	return y + SUMMARY_MACHINE_ROWS * ch + ch / 2 + ch;
}

/* One plan's properties; prints the case and returns false on the first one broken. */
static bool screen_sound(unsigned h, unsigned ch, bool cmdline, const struct summary_screen_plan *without)
{
	struct summary_screen_plan p;
	unsigned text_top = text_top_of(h, ch), first = summary_banner_height(h, ch) + ch / 2, worst = 0;
	bool big = text_top >= first + (SUMMARY_MACHINE_ROWS + 8) * ch;
	const char *why = NULL;

	summary_screen_plan(h, text_top, ch, cmdline, &p);
	/* Every split of the rows between the failures and the results summary_draw can make. */
	for (unsigned f = 0; f <= p.list_rows; f++) {
		unsigned res_max = p.list_rows > f + 1 ? p.list_rows - f - 1 : 0;
		unsigned b = drawn_bottom(&p, ch, f, res_max);
		worst = b > worst ? b : worst;
	}
	if (p.banner_h != summary_banner_height(h, ch) ||
	    p.banner_h != ch * (1 + (h < SUMMARY_BIG_SCREEN_H ? SUMMARY_BIG_SCALE_SMALL : SUMMARY_BIG_SCALE)))
		why = "the banner's height is not summary_banner_height, the word's scale (3 below 600 pixels, else 4) and a row";
	else if (!cmdline && p.cmdline_row)
		why = "a command line's row not asked for";
	else if (cmdline && !p.cmdline_row && text_top >= first + ch + ch / 2 + (SUMMARY_MACHINE_ROWS + 2) * ch)
		why = "no command line's row though it fits with the machine rows";
	else if (cmdline && ch == 16 && h >= 480 && !p.cmdline_row)
		why = "no command line's row from 480 pixels up";
	else if (p.cmdline_row && (p.cmdline_y != first || p.lists_y < p.cmdline_y + ch + ch / 2))
		why = "the command line's row is not first under the banner, a gap above the lists";
	else if (!p.cmdline_row && p.lists_y != first)
		why = "the lists do not start half a row under the banner";
	else if (big && worst > text_top)
		why = "a block reaches into the console rows";
	else if (p.cmdline_row && drawn_bottom(&p, ch, 0, 0) > text_top)
		why = "the command line's row pushes the machine rows into the console rows";
	else if (cmdline && without && p.cmdline_row &&
		 (p.list_rows + 2 < without->list_rows || p.list_rows + 1 > without->list_rows))
		why = "the command line's row costs the lists other than one or two rows";
	else if (big && p.list_rows + SUMMARY_MACHINE_ROWS + 2 < (text_top - p.lists_y) / ch)
		why = "the lists get less than every row the blocks below leave";
	if (!why)
		return true;
	printf("#   %s: height %u, ch %u, cmdline %d: text_top %u, banner %u, cmdline row %d at %u, lists at %u, %u rows, "
	       "worst bottom %u\n", why, h, ch, cmdline, text_top, p.banner_h, p.cmdline_row, p.cmdline_y, p.lists_y,
	       p.list_rows, worst);
	return false;
}

/* Every height, three text heights, with and without the command line's row. */
static void test_screens(void)
{
	static const unsigned chs[] = { 16, 14, 32 };
	int runs = 0, bad = 0;
	struct summary_screen_plan p;

	for (size_t c = 0; c < sizeof(chs) / sizeof(chs[0]); c++)
		for (unsigned h = 200; h <= 2400 && bad < 5; h++) {
			summary_screen_plan(h, text_top_of(h, chs[c]), chs[c], false, &p);
			runs += 2;
			bad += !screen_sound(h, chs[c], false, NULL);
			bad += !screen_sound(h, chs[c], true, &p);
		}
	is(bad, 0, "%d screens 200 to 2400 pixels high, text 14, 16, 32 pixels: blocks above the console rows, the command "
	   "line's row wherever it fits with the machine rows (16-pixel text: from 480 up), at one or two of the lists' "
	   "rows", runs);
	summary_screen_plan(480, text_top_of(480, 16), 16, true, &p);
	ok(p.cmdline_row && p.list_rows >= 12, "640x480 with the command line's row: %u rows left for the lists",
	   p.list_rows);
}

/* ------------------------------------------------------------------ the command line's row */

#define WORDS_MAX 40
#define WORD_MAX_LEN 197    /* CMDLINE_WORD_FMT_MAX - 1: quotes, 48 bytes escaped as \xNN, "..." */

/* The row summary_draw_cmdline draws for plan p over words w (their lengths lens). */
static size_t render(const struct summary_words_plan *p, char w[][WORD_MAX_LEN + 1], const size_t *lens, char *out,
		     size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < p->shown; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%.*s", i ? " " : "", (int)(p->cut_len ? p->cut_len : lens[i]), w[i]);
	if (p->cut_len)
		n += (size_t)snprintf(out + n, cap - n, "%s", SUMMARY_WORDS_ELLIPSIS);
	if (p->left)
		n += (size_t)snprintf(out + n, cap - n, "%s%zu more", p->shown ? " and " : "", p->left);
	return n;
}

/* Length of the row of the first k words whole and the tail for the others of total. */
static size_t whole_width(const size_t *lens, size_t k, size_t total)
{
	char tail[32];
	size_t w = 0;

	for (size_t i = 0; i < k; i++)
		w += lens[i] + (i ? 1 : 0);
	if (k < total)
		w += (size_t)snprintf(tail, sizeof(tail), "%s%zu more", k ? " and " : "", total - k);
	return w;
}

/* One row's properties; prints the case and returns false on the first one broken. */
static bool words_sound(char w[][WORD_MAX_LEN + 1], const size_t *lens, size_t n, size_t more, size_t room)
{
	struct summary_words_plan p;
	char row[WORDS_MAX * (WORD_MAX_LEN + 1) + 64];
	size_t total = n + more, best = 0, len;
	const char *why = NULL;

	summary_words_plan(lens, n, more, room, &p);
	len = p.len ? render(&p, w, lens, row, sizeof(row)) : 0;
	for (size_t k = 1; k <= n; k++)
		if (whole_width(lens, k, total) <= room)
			best = k;
	if (p.len > room || len != p.len)
		why = "the row is longer than the room, or not as long as planned";
	else if (p.shown + p.left != total || p.shown > n)
		why = "words shown + left is not words + more";
	else if (!p.cut_len && p.shown != best)
		why = "not the most whole words that fit";
	else if (p.cut_len && (best || p.shown != 1 || p.cut_len < SUMMARY_WORDS_CUT_MIN || p.cut_len >= lens[0]))
		why = "a cut word though a whole one fits, or cut too short or not cut";
	else if (!p.cut_len && !best && n && room >= SUMMARY_WORDS_CUT_MIN + 3 + summary_words_tail(total - 1, true))
		why = "no word shown though a cut one fits";
	else if (total && !p.len && room >= whole_width(lens, 0, total))
		why = "nothing drawn though the count fits";
	else if (!total && p.len)
		why = "a row for no words";
	else if (p.shown && strncmp(row, w[0], p.cut_len ? p.cut_len : lens[0]))
		why = "the row does not start with the first word";
	if (!why)
		return true;
	printf("#   %s: %zu words, %zu more, room %zu: shown %zu cut %zu left %zu len %zu (best %zu): \"%s\"\n", why, n, more,
	       room, p.shown, p.cut_len, p.left, p.len, best, p.len ? row : "");
	return false;
}

/* Generated words (quoted, 3 to WORD_MAX_LEN characters) on rows 0 to 200 columns wide. */
static void test_words_generated(void)
{
	static char w[WORDS_MAX][WORD_MAX_LEN + 1];
	size_t lens[WORDS_MAX];
	int runs = 0, bad = 0;

	for (int k = 0; k < 30000 && bad < 5; k++) {
		size_t n = draw(WORDS_MAX + 1), more = draw(3) ? 0 : draw(draw(2) ? 10 : 2000), room = draw(201);

		for (size_t i = 0; i < n; i++) {
			lens[i] = 3 + draw(draw(4) ? 20 : WORD_MAX_LEN - 2);
			memset(w[i], 'a' + (int)(i % 26), lens[i]);
			w[i][0] = w[i][lens[i] - 1] = '"';
			w[i][lens[i]] = 0;
		}
		runs++;
		bad += !words_sound(w, lens, n, more, room);
	}
	is(bad, 0, "%d generated rows of ignored words: fit, the most whole words, the count of the rest, a cut only "
	   "of a first word that fits no other way", runs);
}

/* The 640x480 screen (80 columns; the words from column 23, 56 characters): the Notepad file of
 * tools/cmdline-boot-test.sh shows its first three words and "and 6 more"; one word of 48
 * escaped bytes is cut. */
static void test_words_640x480(void)
{
	static char w[WORDS_MAX][WORD_MAX_LEN + 1] = { "\"syspte=0x4000000\"", "\"syspte=-64M\"", "\"syspte=\"",
		"\"syspte=99999999999G\"", "\"syspte=1T\"", "\"syspte=64MB\"", "\"onexti=halt\"", "\"verifier=yes\"",
		"\"sysp\\xc3\\xa9te=4M\"" };
	size_t lens[WORDS_MAX], room = summary_list_room(80, 1 + sizeof("Command line ignored:"));
	struct summary_words_plan p;
	char row[256];

	for (size_t i = 0; i < 9; i++)
		lens[i] = strlen(w[i]);
	summary_words_plan(lens, 9, 0, room, &p);
	render(&p, w, lens, row, sizeof(row));
	ok(room == 56 && p.shown == 3 && p.left == 6 && !strcmp(row, "\"syspte=0x4000000\" \"syspte=-64M\" \"syspte=\" and 6 more"),
	   "640x480, the Notepad file: \"%s\"", row);
	lens[0] = WORD_MAX_LEN;
	memset(w[0] + 1, 'x', WORD_MAX_LEN - 2);
	w[0][WORD_MAX_LEN - 1] = '"';
	summary_words_plan(lens, 9, 3, room, &p);
	render(&p, w, lens, row, sizeof(row));
	ok(p.shown == 1 && p.cut_len && p.left == 11 && strlen(row) == room && strstr(row, "... and 11 more"),
	   "640x480, a first word of %zu characters is cut: \"%s\"", lens[0], row);
}

int main(void)
{
	test_generated();
	test_640x480();
	test_screens();
	test_words_generated();
	test_words_640x480();
	return tap_done();
}
