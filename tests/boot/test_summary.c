/*
 * Boot self-tests of what the summary screen stands on: fbcon's pixel drawing and text window, the
 * ACPI reader on the firmware's real tables, the TSC clock (and the HPET measured against directly), the ktest results, and the memory
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
#include "pt.h"
#include "vm.h"
#include "vmlayout.h"

#define SUM_TAG 0x6d755354u   /* 'TSum' */
#define SUM_RGB 0x123456u

/* The FADT's PM timer fields (ACPI 6.5, table 5.9), read here apart from acpi.c to judge it. */
#define SUM_FADT_PM_TMR_BLK   76          /* 32-bit I/O port */
#define SUM_FADT_PM_TMR_LEN   91          /* SUM_PM_TMR_BYTES when the timer exists */
#define SUM_PM_TMR_BYTES      4
#define SUM_FADT_FLAGS        112
#define SUM_FADT_HW_REDUCED   (1u << 20)  /* HW_REDUCED_ACPI: no fixed hardware, PM timer included */
#define SUM_FADT_X_PM_TMR     208         /* a generic address structure: space id, ..., address at +4 */
#define SUM_GAS_LEN           12
#define SUM_GAS_SPACE_IO      1
#define SUM_IO_PORT_MAX       0xFFFFu

/* PIT channel 2 through system control port B, for a check apart from tsc.c's. */
#define SUM_PIT_CH2           0x42
#define SUM_PIT_CMD           0x43
#define SUM_PIT_CH2_MODE0     0xB0        /* channel 2, low then high byte, mode 0, binary */
#define SUM_PIT_COUNT_1MS     1193u
#define SUM_PORT_B            0x61
#define SUM_PORT_B_GATE2      0x01
#define SUM_PORT_B_SPEAKER    0x02
#define SUM_PORT_B_OUT2       0x20
#define SUM_PIT_POLLS         2000000u    /* reads of port B: 1 ms of counting takes far fewer */

KTEST(summary_fbcon_pixels_and_text_window)
{
	unsigned w, h, cols, rows, cw, ch;

	fbcon_get_size(&w, &h);
	if (!w)
		KTEST_SKIP("no framebuffer from the loader (no graphics output): nothing to draw on");
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
	KEXPECT(acpi_read_madt(sysinfo_acpi(), 0, &madt) == ACPI_ENORSDP, "no RSDP address");
}

/* True when s starts with prefix. */
static bool sum_streq_prefix(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix)
		s++, prefix++;
	return !*prefix;
}

/* The little-endian value of the n bytes at p. */
static uint64_t sum_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* What the FADT's own bytes say of the PM timer. */
struct sum_fadt_pm {
	int status;         /* acpi_find_table's for "FACP", or ACPI_EUNMAPPED */
	uint16_t port;      /* the I/O port X_PM_TMR_BLK (when in I/O space) or else PM_TMR_BLK names; 0: none */
	bool hw_reduced;    /* the HW_REDUCED_ACPI flag */
	uint8_t x_space;    /* X_PM_TMR_BLK's address space (0 when the table is too short to have it) */
};

/* Reads the FADT's PM timer fields, by the ACPI specification and not by acpi_read_pm_timer. */
static struct sum_fadt_pm sum_fadt_pm_timer(void)
{
	struct sum_fadt_pm f = { 0 };
	const struct acpi_access *acc = sysinfo_acpi();
	uint64_t pa;
	uint32_t len;

	f.status = acpi_find_table(acc, kernel_bootinfo.rsdp_phys, "FACP", &pa, &len);
	if (f.status != ACPI_OK)
		return f;
	const uint8_t *t = acc->map(acc->ctx, pa, len);
	if (!t || len < SUM_FADT_FLAGS + 4) {
		f.status = ACPI_EUNMAPPED;
		return f;
	}
	f.hw_reduced = sum_le(t + SUM_FADT_FLAGS, 4) & SUM_FADT_HW_REDUCED;
	if (len >= SUM_FADT_X_PM_TMR + SUM_GAS_LEN) {
		uint64_t a = sum_le(t + SUM_FADT_X_PM_TMR + 4, 8);
		f.x_space = t[SUM_FADT_X_PM_TMR];
		if (f.x_space == SUM_GAS_SPACE_IO && a && a <= SUM_IO_PORT_MAX)
			f.port = (uint16_t)a;
	}
	uint64_t legacy = sum_le(t + SUM_FADT_PM_TMR_BLK, 4);
	if (!f.port && t[SUM_FADT_PM_TMR_LEN] == SUM_PM_TMR_BYTES && legacy && legacy <= SUM_IO_PORT_MAX)
		f.port = (uint16_t)legacy;
	return f;
}

/* The FADT's PM timer as acpi_read_pm_timer reads it: the port the table's bytes name. A FADT that
 * names none (hardware-reduced ACPI, or fields left empty) is a machine without one: a skip. */
KTEST(summary_acpi_fadt_pm_timer)
{
	struct sum_fadt_pm f = sum_fadt_pm_timer();
	KASSERT_TEST(f.status == ACPI_OK, "FADT: %s", acpi_strerror(f.status));
	if (!f.port)
		KTEST_SKIP("the FADT names no PM timer (%s; X_PM_TMR_BLK address space %u)",
			   f.hw_reduced ? "hardware-reduced ACPI" : "PM_TMR_BLK empty", f.x_space);
	struct acpi_pm_timer pm;
	int st = acpi_read_pm_timer(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &pm);
	KEXPECT(st == ACPI_OK, "PM timer: %s", acpi_strerror(st));
	KEXPECT_EQ(pm.port, f.port, "the port the FADT names");
}

/* True when PIT channel 2, loaded with a 1 ms count in mode 0, holds OUT2 low and then raises it
 * within SUM_PIT_POLLS reads: a PIT that ticks (a gated one never raises it). */
static bool sum_pit_ticks(void)
{
	uint8_t saved = inb(SUM_PORT_B);
	bool low, risen = false;

	outb(SUM_PORT_B, (uint8_t)((saved & ~SUM_PORT_B_SPEAKER) | SUM_PORT_B_GATE2));
	outb(SUM_PIT_CMD, SUM_PIT_CH2_MODE0);
	outb(SUM_PIT_CH2, (uint8_t)SUM_PIT_COUNT_1MS);
	outb(SUM_PIT_CH2, (uint8_t)(SUM_PIT_COUNT_1MS >> 8));
	low = !(inb(SUM_PORT_B) & SUM_PORT_B_OUT2);
	for (uint32_t i = 0; low && !risen && i < SUM_PIT_POLLS; i++)
		risen = inb(SUM_PORT_B) & SUM_PORT_B_OUT2;
	outb(SUM_PORT_B, saved);
	return low && risen;
}

/*
 * The TSC calibrated in 50 MHz..20 GHz. An uncalibrated TSC is a skip only on a machine with no
 * source at all: the PIT does not tick (checked here apart from tsc.c), the FADT names no PM timer,
 * no HPET is mapped and CPUID states no frequency; with any of them the kernel should have
 * calibrated, and it fails.
 */
KTEST(summary_tsc_clock_calibrated)
{
	uint64_t hz = tsc_hz();
	if (!hz) {
		struct sum_fadt_pm f = sum_fadt_pm_timer();
		bool pit = sum_pit_ticks();
		uint64_t stated = tsc_cpuid_hz();
		bool hpet = tsc_hpet_regs() != NULL;
		KASSERT_TEST(!pit && !f.port && !hpet && !stated, "TSC not calibrated although the PIT %s, the FADT names "
			     "%s PM timer (port 0x%x), an HPET is %s and CPUID states %llu Hz", pit ? "ticks" : "does not tick",
			     f.port ? "a" : "no", f.port, hpet ? "mapped" : "absent", (unsigned long long)stated);
		KTEST_SKIP("no clock to calibrate the TSC with: the PIT does not tick, the FADT names no PM timer (%s), "
			   "no HPET, CPUID states no TSC frequency", f.status != ACPI_OK ? acpi_strerror(f.status) :
			   f.hw_reduced ? "hardware-reduced ACPI" : "none listed");
	}
	KASSERT_TEST(hz >= 50000000ull && hz <= 20000000000ull, "TSC %llu Hz from the %s", (unsigned long long)hz,
		     tsc_source());
	if (sum_streq_prefix(tsc_source(), "CPUID"))
		KEXPECT_EQ(hz, tsc_cpuid_hz(), "a frequency taken from CPUID is the one it states");
	KEXPECT_EQ(tsc_to_ms(hz), 1000);
	KEXPECT_EQ(tsc_to_ms(hz * 3600), 3600000, "an hour converts without overflow");
	uint64_t a = rdtsc(), b = rdtsc();
	KEXPECT(b >= a && tsc_at_kmain && tsc_at_kmain < a);
}

/*
 * The HPET the firmware lists (QEMU's q35 has one): mapped at HPET_VA uncached, non-executable and
 * outside the direct map, given to the calibration, and the TSC measured against it directly
 * within 2 % of the TSC measured against the PM timer (else of tsc_hz()). No HPET table: a skip.
 */
KTEST(summary_tsc_hpet_agrees)
{
	struct acpi_hpet_info h;
	int st = acpi_read_hpet(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &h);
	uint64_t pte, size, hz = tsc_hz(), got;
	paddr_t pa;

	if (st == ACPI_ENOTABLE)
		KTEST_SKIP("the firmware lists no HPET table");
	KASSERT_TEST(st == ACPI_OK, "HPET table: %s", acpi_strerror(st));
	KASSERT_TEST(tsc_hpet_regs() != NULL, "the HPET at 0x%llx is not given to the calibration",
		     (unsigned long long)h.base);
	KASSERT_TEST(pt_query(&kernel_pt, HPET_VA, &pa, &pte, &size), "HPET_VA not mapped");
	KEXPECT_EQ(pa, ALIGN_DOWN(h.base, PAGE_SIZE));
	KEXPECT_EQ(size, PAGE_SIZE);
	KEXPECT_EQ(arch_pte_cache(pte, 1, kernel_pt.features), PT_CACHE_UC);
	KEXPECT_EQ(!!(pte & X86_PTE_NX), cpu_feat.nx, "non-executable wherever the CPU can say so");
	KEXPECT(!pt_query(&kernel_pt, DMAP_BASE + pa, NULL, NULL, NULL), "the direct map does not cover it");
	KASSERT_TEST(hz, "TSC not calibrated although an HPET is listed (source %s)", tsc_source());
	got = tsc_measure_hpet(tsc_hpet_regs());
	KASSERT_TEST(got, "the HPET at 0x%llx does not tick", (unsigned long long)h.base);
	/* The reference: the PM timer, another counter read the same way, when the FADT names one. The
	 * PIT's edge is seen one poll late, and under an emulator whose host has fewer cores than it
	 * has CPUs (16 on 2 in the matrix) one poll can take milliseconds: the PIT-calibrated
	 * frequency is then off by more than this test's 2 %, which says nothing of the HPET. */
	struct acpi_pm_timer pm = { 0 };
	uint64_t ref = 0;
	const char *ref_name = tsc_source();
	if (acpi_read_pm_timer(sysinfo_acpi(), kernel_bootinfo.rsdp_phys, &pm) == ACPI_OK && pm.port &&
	    (ref = tsc_measure_pm(pm.port, pm.bits32)) != 0)
		ref_name = "ACPI PM timer, measured now";
	else
		ref = hz;
	KEXPECT(got >= ref - ref / 50 && got <= ref + ref / 50, "TSC against the HPET: %llu Hz, against the %s: %llu Hz",
		(unsigned long long)got, ref_name, (unsigned long long)ref);
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
