/* The final screen after the suite (see summary.h). */
#include "summary.h"
#include "summary_layout.h"
#include "ktest.h"
#include "sysinfo.h"
#include "memview.h"
#include "showcase.h"
#include "fbcon.h"
#include "kernel.h"
#include "syspte.h"
#include "reserved.h"
#include "phys.h"
#include "kprintf.h"
#include "cmdline.h"

#define SUMMARY_EXTRA_MAX   4          /* the screen's own failed checks listed */
#define SUMMARY_BG          0x000000u
#define SUMMARY_WHITE       0xFFFFFFu
#define SUMMARY_LABEL       0x9A9A9Au
#define SUMMARY_VALUE       0xE8E8E8u
#define SUMMARY_FAIL_TITLE  0xFF5555u
#define SUMMARY_FAIL_NAME   0xFFFF55u
#define SUMMARY_FAIL_MSG    0xD0D0D0u
#define SUMMARY_RESULT_TITLE 0x55FFFFu
#define SUMMARY_LINE_MAX    160
#define SUMMARY_LABEL_COLS  10
#define SUMMARY_MIN_PICTURE_H 48       /* a picture box smaller than this is left out */
#define SUMMARY_CMDLINE_LABEL "Command line ignored:"

/* A failure shown on the screen: a test's or one of the screen's own checks. */
struct summary_failure {
	const char *name;
	const char *msg;
};

static struct {
	bool passed;
	size_t nfail;                          /* failures listed (suite's kept + extra) */
	size_t more;                           /* failures not listed */
	struct summary_failure fail[KTEST_FAILURES_KEPT + SUMMARY_EXTRA_MAX];
	char extra_msg[SUMMARY_EXTRA_MAX][SUMMARY_LINE_MAX];
	size_t nextra;
	char counts[SUMMARY_LINE_MAX], boot[SUMMARY_LINE_MAX];
	char machine[SUMMARY_MACHINE_ROWS][2][SUMMARY_LINE_MAX];
	struct showcase_stats sc;
	bool sc_running;
	char region_title[SUMMARY_LINE_MAX];
	char cmd_words[CMDLINE_DIAG_MAX][CMDLINE_WORD_FMT_MAX];   /* words of cmdline.txt that took no effect */
	size_t ncmd, cmd_more;                 /* words kept; problems the parser did not keep */
	struct memview_result region, ram;
	unsigned width, height, cw, ch, banner_h;
} sum;

/* Adds one of the screen's own failed checks: name and message (copied). */
static void summary_extra(const char *name, const char *prefix, const char *msg)
{
	if (sum.nextra >= SUMMARY_EXTRA_MAX)
		return;
	ksnprintf(sum.extra_msg[sum.nextra], SUMMARY_LINE_MAX, "%s%s", prefix, msg);
	sum.fail[sum.nfail++] = (struct summary_failure){ name, sum.extra_msg[sum.nextra] };
	sum.nextra++;
	sum.passed = false;
}

/* ------------------------------------------------------------------ facts */

/* Fills the text of the banner's right side and of the machine rows. */
static void summary_format(const struct ktest_results *r, const struct sysinfo *si)
{
	uint64_t hz = si->tsc_hz;

	ksnprintf(sum.counts, SUMMARY_LINE_MAX, "%zu passed, %zu failed, %zu skipped of %zu tests", r->passed,
		  r->failed, r->skipped, r->planned);
	if (hz)
		ksnprintf(sum.boot, SUMMARY_LINE_MAX, "boot %llu.%02llu s since reset, kernel %llu.%02llu s",
			  (unsigned long long)(si->ms_since_reset / 1000), (unsigned long long)(si->ms_since_reset % 1000 / 10),
			  (unsigned long long)(si->ms_kernel / 1000), (unsigned long long)(si->ms_kernel % 1000 / 10));
	else
		ksnprintf(sum.boot, SUMMARY_LINE_MAX, "boot time unknown (TSC not calibrated)");
	ksnprintf(sum.machine[0][0], SUMMARY_LINE_MAX, "CPU");
	ksnprintf(sum.machine[0][1], SUMMARY_LINE_MAX, "%s, %s%s%s", si->cpu_vendor, si->cpu_brand,
		  si->cpu_nx ? "" : "; no NX: data is executable", si->cpu_pat ? "" : "; no PAT: WC is UC-");
	ksnprintf(sum.machine[1][0], SUMMARY_LINE_MAX, "CPUs");
	if (si->madt_status == 0)
		ksnprintf(sum.machine[1][1], SUMMARY_LINE_MAX, "%u/%u started%s (ACPI MADT: %zu enabled, %zu listed)",
			  si->cpus_started, si->cpus_found, si->cpus_found > si->cpus_started ? ", see the log" : "",
			  si->cpus_enabled, si->cpu_entries);
	else
		ksnprintf(sum.machine[1][1], SUMMARY_LINE_MAX, "%u started; ACPI MADT unknown: %s", si->cpus_started,
			  acpi_strerror(si->madt_status));
	ksnprintf(sum.machine[2][0], SUMMARY_LINE_MAX, "RAM");
	ksnprintf(sum.machine[2][1], SUMMARY_LINE_MAX, "%llu MiB in the memory map, %llu MiB managed by the allocator",
		  (unsigned long long)(si->ram_bytes >> 20), (unsigned long long)(si->usable_bytes >> 20));
	ksnprintf(sum.machine[3][0], SUMMARY_LINE_MAX, "Firmware");
	ksnprintf(sum.machine[3][1], SUMMARY_LINE_MAX, "%s, revision 0x%08x, UEFI %u.%u", si->fw_vendor, si->fw_revision,
		  si->uefi_revision >> 16, si->uefi_revision & 0xFFFF);
	ksnprintf(sum.machine[4][0], SUMMARY_LINE_MAX, "Display");
	if (si->fb_format)
		ksnprintf(sum.machine[4][1], SUMMARY_LINE_MAX, "%u x %u, %u bpp %s, %u pixels per line%s", si->fb_width,
			  si->fb_height, si->fb_bpp, sysinfo_fb_format_name(si->fb_format), si->fb_pitch,
			  si->fb_drawn ? "" : ": not drawn, console on serial only");
	else
		ksnprintf(sum.machine[4][1], SUMMARY_LINE_MAX, "no linear framebuffer");
	ksnprintf(sum.machine[5][0], SUMMARY_LINE_MAX, "Clock");
	ksnprintf(sum.machine[5][1], SUMMARY_LINE_MAX, "TSC %llu.%03llu MHz, calibrated with the %s",
		  (unsigned long long)(hz / 1000000), (unsigned long long)(hz / 1000 % 1000), si->tsc_source);
}

/* Collects the words of cmdline.txt that took no effect (kernel_cmdline's ignored diagnostics; the
 * ignored ones it did not keep count as more, never the overridden ones: those took effect as the
 * grammar intends). */
static void summary_collect_cmdline(void)
{
	const struct cmdline *c = &kernel_cmdline;

	for (size_t i = 0; i < c->ndiag && sum.ncmd < CMDLINE_DIAG_MAX; i++)
		if (cmdline_diag_ignored(c, i))
			cmdline_diag_word(c, i, sum.cmd_words[sum.ncmd++], CMDLINE_WORD_FMT_MAX);
	sum.cmd_more = c->ndropped_ignored;
}

/* Collects the failures: the suite's first ones, then how many more. */
static void summary_collect_failures(const struct ktest_results *r)
{
	for (size_t i = 0; i < r->kept; i++)
		sum.fail[sum.nfail++] = (struct summary_failure){ r->failures[i].name, r->failures[i].msg };
	sum.more = r->failed > r->kept ? r->failed - r->kept : 0;
}

/* ------------------------------------------------------------------ drawing */

/* Draws the banner: the verdict in large letters, the counts and the boot time beside it. */
static void summary_draw_banner(void)
{
	uint32_t bg = sum.passed ? SUMMARY_PASS_RGB : SUMMARY_FAIL_RGB;
	unsigned scale = summary_banner_scale(sum.height);
	unsigned pad = sum.ch / 2, x;

	fbcon_fill_rect(0, 0, sum.width, sum.banner_h, bg);
	x = sum.cw + fbcon_draw_text(sum.cw, pad, scale, SUMMARY_WHITE, bg, sum.passed ? "PASSED" : "FAILED");
	x += 2 * sum.cw;
	fbcon_draw_text(x, pad + sum.ch / 2, 1, SUMMARY_WHITE, bg, sum.counts);
	fbcon_draw_text(x, pad + sum.ch / 2 + sum.ch + sum.ch / 2, 1, SUMMARY_WHITE, bg, sum.boot);
}

/* Draws s cut to the screen width at text column col, pixel row y. */
static void summary_text(unsigned col, unsigned y, uint32_t fg, const char *s)
{
	char buf[SUMMARY_LINE_MAX];
	size_t max = summary_list_room(sum.width / sum.cw, col), n = 0;

	while (n < max && n < sizeof(buf) - 1 && s[n])
		buf[n] = s[n], n++;
	buf[n] = 0;
	fbcon_draw_text(col * sum.cw, y, 1, fg, SUMMARY_BG, buf);
}

/* Length of s. */
static size_t summary_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* A failure message without the directories of its leading "path/file.c:line:". */
static const char *summary_basename(const char *msg)
{
	const char *base = msg;
	for (const char *p = msg; *p && *p != ':' && *p != ' '; p++)
		if (*p == '/')
			base = p + 1;
	return base;
}

/* Draws a list (see summary_layout.h) from pixel row y in at most max_rows text rows: title, then
 * each item's name and message, then "... and N more <what>" when some are left; returns the rows
 * used. */
static unsigned summary_draw_list(unsigned y, unsigned max_rows, const char *title, uint32_t title_rgb,
				  const struct summary_failure *items, size_t n, size_t more, uint32_t name_rgb,
				  uint32_t msg_rgb, const char *what)
{
	struct summary_item len[KTEST_FAILURES_KEPT + SUMMARY_EXTRA_MAX];
	struct summary_list_plan plan;
	unsigned cols = sum.width / sum.cw, row = 1;
	char line[SUMMARY_LINE_MAX];

	more += n - MIN(n, ARRAY_SIZE(len));
	n = MIN(n, ARRAY_SIZE(len));
	for (size_t i = 0; i < n; i++)
		len[i] = (struct summary_item){ summary_strlen(items[i].name), summary_strlen(items[i].msg) };
	summary_list_plan(len, n, more, cols, max_rows, &plan);
	if (!plan.rows)
		return 0;
	summary_text(1, y, title_rgb, title);
	for (size_t i = 0; i < plan.shown; i++, row++) {
		bool own_row = plan.wrap && summary_list_cut(&len[i], cols);
		summary_text(SUMMARY_LIST_NAME_COL, y + row * sum.ch, name_rgb, items[i].name);
		if (own_row)
			row++;
		summary_text(own_row ? SUMMARY_LIST_WRAP_COL : SUMMARY_LIST_NAME_COL + (unsigned)len[i].name_len + 1,
			     y + row * sum.ch, msg_rgb, items[i].msg);
	}
	if (plan.more_row) {
		ksnprintf(line, sizeof(line), "... and %zu more %s", plan.left, what);
		summary_text(SUMMARY_LIST_NAME_COL, y + row * sum.ch, name_rgb, line);
	}
	return plan.rows;
}

/* Draws the failures from pixel row y, at most max_rows text rows; returns the rows used. */
static unsigned summary_draw_failures(unsigned y, unsigned max_rows)
{
	struct summary_failure shown[KTEST_FAILURES_KEPT + SUMMARY_EXTRA_MAX];

	for (size_t i = 0; i < sum.nfail; i++)
		shown[i] = (struct summary_failure){ sum.fail[i].name, summary_basename(sum.fail[i].msg) };
	return summary_draw_list(y, max_rows, "Failed:", SUMMARY_FAIL_TITLE, shown, sum.nfail, sum.more,
				 SUMMARY_FAIL_NAME, SUMMARY_FAIL_MSG, "failures (the KTAP lines on serial list them)");
}

/* Draws the benchmarks' kept result lines from pixel row y, at most max_rows text rows; returns the
 * rows used. */
static unsigned summary_draw_results(unsigned y, unsigned max_rows)
{
	const struct ktest_results *r = ktest_results();
	struct summary_failure lines[KTEST_RESULTS_KEPT];

	for (size_t i = 0; i < r->nresults; i++)
		lines[i] = (struct summary_failure){ r->results[i].name, r->results[i].msg };
	return summary_draw_list(y, max_rows, "Results:", SUMMARY_RESULT_TITLE, lines, r->nresults, r->results_dropped,
				 SUMMARY_LABEL, SUMMARY_VALUE, "result lines (see the log on serial)");
}

/* Draws the command line's row at pixel row y: the label, then the ignored words that fit and how
 * many more (summary_words_plan). */
static void summary_draw_cmdline(unsigned y)
{
	unsigned col = 1 + sizeof(SUMMARY_CMDLINE_LABEL);
	size_t lens[CMDLINE_DIAG_MAX], room = MIN(summary_list_room(sum.width / sum.cw, col), SUMMARY_LINE_MAX - 1);
	struct summary_words_plan plan;
	char row[SUMMARY_LINE_MAX];
	size_t n = 0;

	for (size_t i = 0; i < sum.ncmd; i++)
		lens[i] = summary_strlen(sum.cmd_words[i]);
	summary_words_plan(lens, sum.ncmd, sum.cmd_more, room, &plan);
	KASSERT(plan.len <= room && room < sizeof(row), "command line row of %zu characters in %zu", plan.len, room);
	for (size_t i = 0; i < plan.shown; i++) {
		size_t take = plan.cut_len ? plan.cut_len : lens[i];
		if (i)
			row[n++] = ' ';
		for (size_t j = 0; j < take; j++)
			row[n++] = sum.cmd_words[i][j];
	}
	if (plan.cut_len)
		n += ksnprintf(row + n, sizeof(row) - n, "%s", SUMMARY_WORDS_ELLIPSIS);
	if (plan.left && plan.len)
		ksnprintf(row + n, sizeof(row) - n, "%s%zu more", plan.shown ? " and " : "", plan.left);
	else
		row[n] = 0;
	summary_text(1, y, SUMMARY_FAIL_NAME, SUMMARY_CMDLINE_LABEL);
	summary_text(col, y, SUMMARY_VALUE, row);
}

/* Draws the machine rows from pixel row y. */
static void summary_draw_machine(unsigned y)
{
	for (unsigned i = 0; i < SUMMARY_MACHINE_ROWS; i++) {
		summary_text(1, y + i * sum.ch, SUMMARY_LABEL, sum.machine[i][0]);
		summary_text(1 + SUMMARY_LABEL_COLS, y + i * sum.ch, SUMMARY_VALUE, sum.machine[i][1]);
	}
}

/* The region picture's box: half of the space [y, bottom) (the RAM picture gets what it leaves). */
static struct memview_box summary_region_box(unsigned y, unsigned bottom)
{
	unsigned h = bottom > y ? bottom - y : 0, gap = sum.ch / 2;

	unsigned w = sum.width > 2 * sum.cw ? sum.width - 2 * sum.cw : 0;   /* a screen narrower than two cells: none */

	return (struct memview_box){ sum.cw, y, w, h > gap ? (h - gap) / 2 : 0, true };
}

/* Lays out and draws the whole screen (summary_screen_plan). */
static void summary_draw(void)
{
	unsigned rows_total, text_top, y, fail_rows, max_rows, res_rows;
	struct summary_screen_plan plan;
	struct memview_box region, ram;
	size_t msize, dsz;
	const void *map = kernel_memory_map(&msize, &dsz);

	/* The console's rows, not height / ch: its text cells stop at FBCON_MAX_ROWS (120 rows: 1920
	 * pixels of 16-pixel text), and the kept rows must be where the console writes. */
	fbcon_get_geometry(NULL, &rows_total, NULL, NULL);
	text_top = rows_total > SUMMARY_TEXT_ROWS ? (rows_total - SUMMARY_TEXT_ROWS) * sum.ch : 0;
	summary_screen_plan(sum.height, text_top, sum.ch, sum.ncmd + sum.cmd_more > 0, &plan);

	fbcon_clear();
	sum.banner_h = plan.banner_h;
	summary_draw_banner();
	if (plan.cmdline_row)
		summary_draw_cmdline(plan.cmdline_y);
	y = plan.lists_y;
	/* Failures first, then the benchmarks' results, in the plan's rows. */
	max_rows = plan.list_rows;
	fail_rows = summary_draw_failures(y, max_rows);
	y += fail_rows ? fail_rows * sum.ch + sum.ch / 2 : 0;
	max_rows = max_rows > fail_rows + 1 ? max_rows - fail_rows - 1 : 0;
	res_rows = summary_draw_results(y, max_rows);
	y += res_rows ? res_rows * sum.ch + sum.ch / 2 : 0;
	summary_draw_machine(y);
	y += SUMMARY_MACHINE_ROWS * sum.ch + sum.ch / 2;
	/* the pictures end half a row above the console's text, which a screen of 1-3 rows starts at 0 */
	unsigned bottom = text_top > sum.ch / 2 ? text_top - sum.ch / 2 : 0;
	region = summary_region_box(y, bottom);
	if (region.h >= SUMMARY_MIN_PICTURE_H && region.w > 0) {
		memview_region(&region, sum.region_title, &sum.region);
		y += sum.region.height + sum.ch / 2;
		ram = (struct memview_box){ sum.cw, y, region.w, bottom > y ? bottom - y : 0, true };
		memview_ram(&ram, "Physical memory now", map, msize, dsz, &sum.ram);
	} else {
		summary_text(1, y, SUMMARY_LABEL, "(no room for the memory pictures on this screen)");
	}
	fbcon_set_text_window(text_top / sum.ch);
}

/* ------------------------------------------------------------------ the flow */

/* Runs the showcase workload and checks the allocators afterwards. */
static void summary_showcase(void)
{
	struct syspte_stats st;

	sum.sc_running = showcase_start(&sum.sc);
	syspte_get_stats(reserved_region(), &st);
	if (sum.sc_running)
		ksnprintf(sum.region_title, SUMMARY_LINE_MAX, "System PTE region, %u %% workload (%llu live)",
			  sum.sc.target_pct, (unsigned long long)sum.sc.live);
	else
		ksnprintf(sum.region_title, SUMMARY_LINE_MAX, "System PTE region as the suite left it");
	if (syspte_check(reserved_region()) != 0)
		summary_extra("summary_showcase_syspte_check", "syspte_check failed after the showcase workload", "");
	if (phys_check() != 0)
		summary_extra("summary_showcase_phys_check", "phys_check failed after the showcase workload", "");
}

/* Checks the pictures' cross-checks without drawing (the verdict must be known before the layout). */
static void summary_check_pictures(void)
{
	struct memview_box box = { 0, 0, sum.width ? sum.width : 640, sum.height ? sum.height / 3 : 160, false };
	size_t msize, dsz;
	const void *map = kernel_memory_map(&msize, &dsz);

	if (!sum.cw)
		sum.cw = 8, sum.ch = 16;
	memview_region(&box, "", &sum.region);
	memview_ram(&box, "", map, msize, dsz, &sum.ram);
	if (sum.region.cells && !sum.region.agree)
		summary_extra("summary_region_picture", "walkers disagree: ", sum.region.note);
	if (sum.ram.cells && !sum.ram.agree)
		summary_extra("summary_ram_picture", "walkers disagree: ", sum.ram.note);
}

/* Prints the summary as console lines (serial, and the screen's scroll before the panel). */
static void summary_print(void)
{
	const struct ktest_results *r = ktest_results();

	kprintf("summary: %s: %s\n", sum.passed ? "PASSED" : "FAILED", sum.counts);
	kprintf("summary: %s\n", sum.boot);
	if (sum.ncmd + sum.cmd_more) {
		kprintf("summary: command line ignored:");
		for (size_t i = 0; i < sum.ncmd; i++)
			kprintf(" %s", sum.cmd_words[i]);
		if (sum.cmd_more)
			kprintf(" and %zu more", sum.cmd_more);
		kprintf(" (the cmdline: lines say why)\n");
	}
	for (size_t i = 0; i < sum.nfail; i++)
		kprintf("summary: failed %s: %s\n", sum.fail[i].name, sum.fail[i].msg);
	for (size_t i = 0; i < r->nresults; i++)
		kprintf("summary: result %s: %s\n", r->results[i].name, r->results[i].msg);
	if (r->results_dropped)
		kprintf("summary: %zu more result lines not kept\n", r->results_dropped);
	for (unsigned i = 0; i < SUMMARY_MACHINE_ROWS; i++)
		kprintf("summary: %-9s %s\n", sum.machine[i][0], sum.machine[i][1]);
	if (sum.sc_running)
		kprintf("summary: showcase workload: %llu steps, %llu reservations tried, %llu refused; %llu live "
			"(%llu pages, %llu rings)\n", (unsigned long long)sum.sc.steps, (unsigned long long)sum.sc.allocs,
			(unsigned long long)sum.sc.fails, (unsigned long long)sum.sc.live,
			(unsigned long long)sum.sc.live_pages, (unsigned long long)sum.sc.rings);
	kprintf("summary: region picture: %u cells of %llu pages, walkers %s%s%s\n", sum.region.cells,
		(unsigned long long)sum.region.chunk_pages, sum.region.agree ? "agree" : "DISAGREE",
		sum.region.note[0] ? ": " : "", sum.region.note);
	kprintf("summary: RAM picture: %u cells of %llu pages, walkers %s%s%s\n", sum.ram.cells,
		(unsigned long long)sum.ram.chunk_pages, sum.ram.agree ? "agree" : "DISAGREE",
		sum.ram.note[0] ? ": " : "", sum.ram.note);
}

bool summary_show(void)
{
	const struct ktest_results *r = ktest_results();
	struct sysinfo si;

	sum.passed = r->failed == 0;
	summary_collect_cmdline();
	summary_collect_failures(r);
	fbcon_get_size(&sum.width, &sum.height);
	fbcon_get_geometry(NULL, NULL, &sum.cw, &sum.ch);
	summary_showcase();
	summary_check_pictures();
	sysinfo_collect(&si, NULL);
	summary_format(r, &si);
	summary_print();
	if (sum.width && sum.height && sum.cw && sum.ch) {
		summary_draw();
		kprintf("summary: screen %ux%u, banner %u pixels high, region picture %u px, RAM picture %u px\n",
			sum.width, sum.height, sum.banner_h, sum.region.height, sum.ram.height);
	}
	return sum.passed;
}

bool summary_finish(bool passed)
{
	int st = sum.sc_running ? showcase_stop() : 0;

	if (st == 0)
		return passed;
	kprintf("summary: the showcase workload did not free cleanly (syspte_check %d)\n", st);
	sum.passed = false;
	/* The banner's second line gives the reason (its counts say 0 failed; the text rows scroll it away). */
	ksnprintf(sum.boot, SUMMARY_LINE_MAX, "showcase workload not freed cleanly (syspte_check %d)", st);
	if (sum.width && sum.height)
		summary_draw_banner();
	return false;
}
