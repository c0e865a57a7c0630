/*
 * Boot self-tests of what the summary screen stands on: fbcon's pixel drawing and text window, the
 * ACPI reader on the firmware's real tables, the TSC clock, the ktest results, and the memory
 * pictures' cross-checks on a state made here (the screen itself is checked from the host by
 * tools/screen-test.sh).
 */
#include "types.h"
#include "ktest.h"
#include "fbcon.h"
#include "acpi.h"
#include "sysinfo.h"
#include "tsc.h"
#include "x86.h"
#include "cpu.h"
#include "kernel.h"
#include "memview.h"
#include "wdm.h"
#include "syspte.h"
#include "reserved.h"
#include "kstring.h"

#define SUM_TAG 0x6d755354u   /* 'TSum' */
#define SUM_RGB 0x123456u

KTEST(summary_fbcon_pixels_and_text_window)
{
	unsigned w, h, cols, rows, cw, ch;

	fbcon_get_size(&w, &h);
	if (!w) {
		kprintf("# no framebuffer: pixel drawing not exercised\n");
		return;
	}
	fbcon_get_geometry(&cols, &rows, &cw, &ch);
	fbcon_clear();
	fbcon_fill_rect(10, 10, 5, 5, SUM_RGB);
	KEXPECT_EQ(fbcon_read_pixel(10, 10), SUM_RGB);
	KEXPECT_EQ(fbcon_read_pixel(14, 14), SUM_RGB);
	KEXPECT_EQ(fbcon_read_pixel(15, 10), 0);
	KEXPECT_EQ(fbcon_read_pixel(10, 15), 0);
	fbcon_fill_rect(w - 2, h - 2, 100, 100, SUM_RGB);          /* clipped, not written past the edge */
	KEXPECT_EQ(fbcon_read_pixel(w - 1, h - 1), SUM_RGB);
	fbcon_fill_rect(w, 0, 10, 10, 0xFFFFFF);                    /* entirely outside: nothing */

	unsigned x0 = 4 * cw, y0 = 2 * ch, ink = 0, outside = 0;
	KEXPECT_EQ(fbcon_draw_text(x0, y0, 2, 0xFFFFFF, 0, "AB"), 4 * cw);
	for (unsigned y = y0 - 2; y < y0 + 2 * ch + 2; y++)
		for (unsigned x = x0 - 2; x < x0 + 4 * cw + 2; x++) {
			bool in = x >= x0 && x < x0 + 4 * cw && y >= y0 && y < y0 + 2 * ch;
			uint32_t p = fbcon_read_pixel(x, y);
			ink += in && p == 0xFFFFFF;
			outside += !in && p != 0;
		}
	KEXPECT(ink > 4 * cw, "scaled text drew %u white pixels", ink);
	KEXPECT_EQ(outside, 0, "pixels drawn outside the scaled text's box");
	KEXPECT_EQ(fbcon_draw_text(w - cw, 0, 1, 0xFFFFFF, 0, "XYZ"), cw, "clipped at the right edge");

	/* The text window: text scrolls below the first row kept, the pixels above stay. */
	fbcon_fill_rect(0, 0, w, ch, SUM_RGB);
	fbcon_set_text_window(rows - 2);
	for (unsigned i = 0; i < 5; i++)
		fbcon_write("line\n", 5);
	KEXPECT_EQ(fbcon_read_pixel(0, 0), SUM_RGB, "a pixel above the window changed");
	KEXPECT_EQ(fbcon_read_pixel(w / 2, ch / 2), SUM_RGB);
	unsigned text = 0;
	for (unsigned y = (rows - 2) * ch; y < (rows - 1) * ch; y++)
		for (unsigned x = 0; x < 4 * cw; x++)
			text += fbcon_read_pixel(x, y) != 0;
	KEXPECT(text > 0, "no text in the window");
	fbcon_clear();
	fbcon_fill_rect(0, 0, 1, 1, 0);
	KEXPECT_EQ(fbcon_read_pixel(0, 0), 0, "fbcon_clear gives the whole screen back");
}

KTEST(summary_acpi_madt_lists_the_boot_cpu)
{
	static struct acpi_madt_info madt;
	int st = acpi_read_madt(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &madt);
	KASSERT_TEST(st == ACPI_OK, "MADT: %s", acpi_strerror(st));
	KEXPECT(madt.usable >= 1 && madt.enabled >= 1 && madt.kept == MIN(madt.entries, (size_t)ACPI_MAX_CPUS));
	KEXPECT(madt.lapic_base && IS_ALIGNED(madt.lapic_base, PAGE_SIZE), "local APIC at 0x%llx",
		(unsigned long long)madt.lapic_base);
	bool found = false;
	for (size_t i = 0; i < madt.kept; i++)
		found |= madt.cpu[i].apic_id == cpu_feat.apic_id && madt.cpu[i].enabled;
	KEXPECT(found, "boot CPU's APIC id %u not among %zu enabled entries", cpu_feat.apic_id, madt.enabled);
	struct acpi_pm_timer pm;
	st = acpi_read_pm_timer(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &pm);
	KEXPECT(st == ACPI_OK && pm.port, "PM timer: %s", acpi_strerror(st));
	KEXPECT(acpi_read_madt(sysinfo_acpi(), 0, &madt) == ACPI_ENORSDP, "no RSDP address");
}

KTEST(summary_tsc_clock_calibrated)
{
	uint64_t hz = tsc_hz();
	KASSERT_TEST(hz >= 50000000ull && hz <= 20000000000ull, "TSC %llu Hz from the %s", (unsigned long long)hz,
		     tsc_source());
	KEXPECT_EQ(tsc_to_ms(hz), 1000);
	KEXPECT_EQ(tsc_to_ms(hz * 3600), 3600000, "an hour converts without overflow");
	uint64_t a = rdtsc(), b = rdtsc();
	KEXPECT(b >= a && tsc_at_kmain && tsc_at_kmain < a);
}

KTEST(summary_ktest_results_count_this_run)
{
	const struct ktest_results *r = ktest_results();
	KEXPECT(r->planned > 0 && r->passed + r->failed < r->planned && r->kept <= KTEST_FAILURES_KEPT);
	KEXPECT(r->kept <= r->failed);
}

/* True when the strings a and b are equal. */
static bool sum_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* ktest_result keeps the first KTEST_RESULTS_KEPT lines of a run, each on one line and cut to fit,
 * counts the rest, and names the running test; the lines made here are forgotten again, so a plain
 * boot's summary screen shows none. */
KTEST(summary_ktest_result_lines_kept)
{
	const struct ktest_results *r = ktest_results();
	size_t before = r->nresults, dropped = r->results_dropped;
	char longer[KTEST_MSG_MAX + 40];

	KASSERT_TEST(before < KTEST_RESULTS_KEPT, "%zu result lines already kept by earlier tests", before);
	for (size_t i = 0; i < sizeof(longer) - 1; i++)
		longer[i] = (char)('a' + i % 26);
	longer[sizeof(longer) - 1] = 0;
	for (size_t i = before; i < KTEST_RESULTS_KEPT + 2; i++) {
		bool kept = i == before + 1 ? ktest_result("%s", longer) : ktest_result("line %zu\nsecond\rthird", i);
		KEXPECT(kept == (i < KTEST_RESULTS_KEPT), "line %zu kept %d", i, kept);
	}
	KEXPECT_EQ(r->nresults, KTEST_RESULTS_KEPT);
	KEXPECT_EQ(r->results_dropped, dropped + 2);
	for (size_t i = before; i < KTEST_RESULTS_KEPT; i++) {
		char want[KTEST_MSG_MAX];
		if (i == before + 1) {
			memcpy(want, longer, KTEST_MSG_MAX - 1);
			want[KTEST_MSG_MAX - 1] = 0;
		} else {
			ksnprintf(want, sizeof(want), "line %zu second third", i);
		}
		KEXPECT(sum_streq(r->results[i].msg, want), "line %zu kept as \"%s\"", i, r->results[i].msg);
		KEXPECT(sum_streq(r->results[i].name, "summary_ktest_result_lines_kept"), "line %zu named %s", i,
			r->results[i].name);
	}
	ktest_results_forget(before);
	KEXPECT_EQ(r->nresults, before);
	KEXPECT_EQ(r->results_dropped, 0);
}

KTEST(summary_region_picture_agrees_with_allocator)
{
	char *a = MmAllocateMappingAddress(40 * 4096, SUM_TAG), *b = MmAllocateMappingAddress(3 * 4096, SUM_TAG);
	KASSERT_TEST(a && b);
	struct memview_box box = { 0, 0, 640, 200, false };
	struct memview_result res;
	struct syspte_stats st;
	memview_region(&box, "", &res);
	syspte_get_stats(reserved_region(), &st);
	KEXPECT(res.cells > 0 && res.chunk_pages > 0 && res.cells * res.chunk_pages >= st.npages, "%u cells of %llu",
		res.cells, (unsigned long long)res.chunk_pages);
	KEXPECT(res.agree && res.bad_cells == 0, "%s", res.note);
	size_t msize, dsz;
	const void *map = kernel_memory_map(&msize, &dsz);
	memview_ram(&box, "", map, msize, dsz, &res);
	KEXPECT(res.cells > 0 && res.agree, "%s", res.note);
	struct memview_box tiny = { 0, 0, 640, 10, false };
	memview_region(&tiny, "", &res);
	KEXPECT(res.cells == 0 && res.height == 0, "a box too small draws nothing");
	MmFreeMappingAddress(a, SUM_TAG);
	MmFreeMappingAddress(b, SUM_TAG);
}
