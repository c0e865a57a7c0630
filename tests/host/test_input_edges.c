/*
 * The kernel's handling of input from outside at edges a review found it missing (each test failed
 * on the code before its fix): each asserts what README, the headers or the code's own contract
 * say. Built like test_summary_screens (summary.c, memview.c, summary_layout.c, fbcon.c, cmdline.c,
 * sysinfo.c) plus panic.c and textwrap.c, with kprintf wrapped at link time.
 *
 *  1. fbcon_draw_text(x >= width) draws nothing and says so (it returned a wrapped width).
 *  2. fbcon_draw_text(y near UINT_MAX) draws nothing (glyph rows at y + r * scale wrapped to the top).
 *  3. sysinfo's RAM figure saturates for a firmware's absurd NumberOfPages (it wrapped).
 *  4. the summary on a screen of 1 to 3 text rows leaves the pictures out (their box from
 *     text_top - ch / 2 wrapped to thousands of pixels).
 *  5. a fatal report while the screen faults ends after one nested entry, on serial alone (it
 *     nested a report per level without end).
 *  6. the summary's Display row names a refused 16- or 24-bit mode's bits a pixel and says it is
 *     not drawn (it said "32 bpp").
 */
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>
#include "tap.h"
#include "test_rng.h"
#include "host_machine.h"
#include "vmlayout.h"
#include "../../kernel/fbcon.c"
#include "../../kernel/cmdline.c"
#include "../../kernel/summary_layout.c"
#include "../../kernel/sysinfo.c"
#include "../../kernel/memview.c"
#include "../../kernel/summary.c"
#define kpanic_at panic_kpanic_at
#define bugcheck_fatal panic_bugcheck_fatal
#include "../../kernel/panic.c"
#include "../../kernel/textwrap.c"
#undef kpanic_at
#undef bugcheck_fatal

#include "test_font.h"

#define SENTINEL 0x5A5A5A5Au

/* Stand-ins for the rest of the kernel. */
#include "summary_standins.h"
static uint8_t test_map[64 * 48] __attribute__((aligned(16)));
static size_t test_map_size, test_desc_size = sizeof(struct efi_memory_descriptor);
const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = test_map_size;
	*desc_size = test_desc_size;
	return test_map;
}

/* The ends of the machine and the console as panic.c reaches them. */
static jmp_buf back;
static int ends, depth, max_depth;
static bool screen_faults;
void shutdown_qemu_exit(uint32_t value) { (void)value; ends++; longjmp(back, 1); }
void shutdown_reset(void) { ends++; longjmp(back, 1); }
void shutdown_halt(void) { ends++; longjmp(back, 1); }
unsigned smp_stop_others(void) { return 0; }
void smp_stop_self(void) { ends++; longjmp(back, 1); }
void console_drop(void) {}
void console_claim(void) {}
/* console_screen_off as the console does it: the screen gets no more writes. */
static bool screen_off;
void console_screen_off(void) { screen_off = true; }
const char *ksyms_lookup(uint64_t addr, uint64_t *off) { *off = addr & 0xFFF; return "kmain"; }
void ksyms_backtrace(uint64_t rbp, uint64_t rip, int max) { (void)rbp; (void)rip; (void)max; }
const char *trap_name(uint64_t v) { (void)v; return "#PF page fault"; }
void trap_dump_frame(const struct trap_frame *tf, uint64_t cr2) { (void)tf; (void)cr2; }
/* The fatal report's probe of the framebuffer (fbcon_takes_writes): host memory always takes writes. */
int arch_probe_write8(volatile void *addr, uint8_t val) { *(volatile uint8_t *)addr = val; return 0; }

/* kprintf as console_write does it: serial (dropped here), then the screen, whose write faults
 * when screen_faults: the page fault's report is panic_trap, as trap_handle makes it for a
 * non-present fault outside the system PTE region (kernel_page_fault returns for those). */
int __wrap_kprintf(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (screen_faults && !screen_off) {
		struct trap_frame tf;
		memset(&tf, 0, sizeof(tf));
		tf.vector = VEC_PF;
		tf.error = PF_ERR_WRITE;
		if (++depth > max_depth)
			max_depth = depth;
		if (depth > 64)
			longjmp(back, 2);   /* 64 reports deep: it would go on until the stack runs out */
		panic_trap(&tf, FB_BASE + 0x1000);
	}
	return n;
}

static uint64_t rng = 0x510E527FADE682D1ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* A BGRX framebuffer of w x h pixels (pitch w), all SENTINEL, with the console on it. */
static uint32_t *screen(uint32_t w, uint32_t h, struct bootinfo_fb *fb)
{
	*fb = (struct bootinfo_fb){ .base = 0xC0000000, .width = w, .height = h, .pitch = w, .format = BOOTINFO_FB_BGRX };
	uint32_t *p = malloc((size_t)w * h * 4);
	for (size_t i = 0; i < (size_t)w * h; i++)
		p[i] = SENTINEL;
	fbcon_init(fb, p);
	for (size_t i = 0; i < (size_t)w * h; i++)   /* fbcon_init cleared it */
		p[i] = SENTINEL;
	return p;
}

/* Edge 1: fbcon.h says fbcon_draw_text "returns the width drawn in pixels"; from x at or past
 * the right edge it draws nothing, so 0. fbcon.c's last line, MIN(x, fbcon.width) - x0, was
 * width - x0 there: wrapped to up to UINT_MAX. */
static void test_draw_text_past_right_edge_returns_zero(void)
{
	struct bootinfo_fb fb;
	uint32_t *p = screen(640, 480, &fb);
	int bad = 0, runs = 0;

	for (int i = 0; i < 2000; i++, runs++) {
		unsigned x = 640 + (unsigned)(draw(2) ? draw(100) : draw(UINT32_MAX - 640));
		unsigned got = fbcon_draw_text(x, (unsigned)draw(480), 1 + (unsigned)draw(8), 0xFFFFFF, 0, "PASSED");
		if (got != 0 && bad++ < 3)
			printf("#   fbcon_draw_text(%u, ...) on a 640-pixel screen returned %u, want 0\n", x, got);
	}
	is(bad, 0, "%d texts drawn from x at or past the right edge of 640 pixels: width drawn 0", runs);
	free(p);
}

/* Edge 2: fbcon.h says the summary's drawing "clip[s] to the screen"; text whose top is at y
 * near UINT_MAX lies wholly below it (y >= height), so nothing may change. fbcon_draw_glyph_px
 * passed y + r * scale, which wrapped to the top rows. */
static void test_draw_text_below_screen_changes_nothing(void)
{
	struct bootinfo_fb fb;
	uint32_t *p = screen(640, 480, &fb);
	int bad = 0, runs = 0;

	for (int i = 0; i < 2000; i++, runs++) {
		unsigned scale = 1 + (unsigned)draw(8);
		unsigned y = UINT32_MAX - (unsigned)draw(16 * scale);
		fbcon_draw_text((unsigned)draw(640), y, scale, 0xFFFFFF, 0x123456, "PASSED");
		size_t changed = 0;
		for (size_t k = 0; k < 640 * 480; k++)
			changed += p[k] != SENTINEL;
		if (changed && bad++ < 3)
			printf("#   fbcon_draw_text at y %u (scale %u), below a 480-pixel screen: %zu pixels changed\n", y, scale,
			       changed);
		for (size_t k = 0; k < 640 * 480; k++)
			p[k] = SENTINEL;
	}
	is(bad, 0, "%d texts drawn at y within 16 x scale of UINT_MAX (below the screen): no pixel changed", runs);
	free(p);
}

/* Edge 3: the summary's RAM row ("N MiB in the memory map") from sysinfo_ram_bytes, the union of
 * the RAM descriptors' bytes (these overlap: each starts 2^40 after the one before): once it added
 * num_pages << PAGE_SHIFT unchecked, and a firmware's absurd NumberOfPages wrapped the figure a
 * person reads, which kernel_print_mmap (main.c) saturates for that very reason. Whatever the figure
 * saturates to, it is never below a single RAM descriptor's bytes (saturated at 2^64 - 1). */
static void test_ram_figure_never_wraps(void)
{
	struct sysinfo si;
	int bad = 0, runs = 0;

	for (int i = 0; i < 2000; i++, runs++) {
		size_t count = 1 + draw(8);
		uint64_t largest = 0;
		test_map_size = count * test_desc_size;
		for (size_t k = 0; k < count; k++) {
			uint64_t pages = draw(2) ? draw(1ULL << 20) : (1ULL << 51) + draw(1ULL << 62);
			struct efi_memory_descriptor d = { .type = EFI_CONVENTIONAL, .phys_start = k << 40, .num_pages = pages };
			memcpy(test_map + k * test_desc_size, &d, sizeof(d));
			uint64_t bytes = pages > (UINT64_MAX >> 12) ? UINT64_MAX : pages << 12;
			largest = bytes > largest ? bytes : largest;
		}
		sysinfo_collect(&si, NULL);
		if (si.ram_bytes < largest && bad++ < 3)
			printf("#   %zu descriptors, the largest %llu bytes: RAM figure %llu bytes (%llu MiB on the screen)\n", count,
			       (unsigned long long)largest, (unsigned long long)si.ram_bytes,
			       (unsigned long long)(si.ram_bytes >> 20));
	}
	is(bad, 0, "%d memory maps with descriptors of 2^51 pages and more: the RAM figure is never below the largest "
	   "descriptor (no wrap)", runs);
	test_map_size = 0;
}

/* Edge 4: on a screen the console accepts with 1 to 3 text rows (16 to 63 pixels high),
 * summary_draw computes text_top 0 and the pictures' bottom was text_top - ch / 2, which wrapped:
 * the region and RAM pictures were laid out thousands of pixels tall (serial: "region picture 16434
 * px") instead of left out with "(no room for the memory pictures on this screen)". The pictures
 * never fit a screen: each one's height must be 0 or at most the screen's. */
static void test_tiny_screen_pictures_left_out(void)
{
	int bad = 0, runs = 0;

	for (uint32_t h = 16; h < 64; h++)
		for (uint32_t w = 24; w <= 640; w += 88, runs++) {
			struct bootinfo_fb fb;
			uint32_t *p = screen(w, h, &fb);
			memset(&sum, 0, sizeof(sum));
			memset(&results, 0, sizeof(results));
			results.planned = results.passed = 10;
			kernel_bootinfo.fb = fb;
			(void)summary_show();
			if ((sum.region.height > h || sum.ram.height > h) && bad++ < 3)
				printf("#   %ux%u screen: region picture %u px, RAM picture %u px\n", w, h, sum.region.height,
				       sum.ram.height);
			free(p);
		}
	is(bad, 0, "%d summaries on screens of 1 to 3 text rows: no picture taller than the screen", runs);
}

/* Edge 5: panic.c says "a fatal error inside its own report ends at once". When the screen's
 * write itself faults (its mapping gone), the nested branch of panic_enter printed its line through
 * kprintf, which wrote to the screen again, faulted again and entered panic_enter again: a report
 * per level, never kernel_finish; on the machine, until the stack overflows (then #DF, whose
 * report writes to the screen too). One nested entry, then the end, is the contract. */
static void test_report_with_faulting_screen_ends(void)
{
	fbcon_init(NULL, NULL);   /* the console off: the screen is the fake one in __wrap_kprintf */
	panic_owner = panic_late_cpu = panic_late_count = 0;
	panic_late_noted = 0;
	panic_reporting = false;
	panic_nested = 0;
	screen_off = false;
	kernel_onexit = ONEXIT_QEMU;
	ends = depth = max_depth = 0;
	screen_faults = true;
	int r = setjmp(back);
	if (r == 0)
		panic_kpanic_at("kernel/main.c", 42, "a panic while the framebuffer's mapping is gone");
	screen_faults = false;
	ok(r == 1 && ends == 1 && max_depth <= 2, "a panic whose screen writes fault: the machine ends (%d ends) after at "
	   "most 2 nested entries (got %d%s)", ends, max_depth, r == 2 ? ", cut at 64" : "");
}

/* Edge 6: the summary's Display row (serial "summary: Display ...", after the kernel said "vm:
 * framebuffer unusable ... console on serial only") said "32 bpp" for every mode with a format,
 * a 16- or 24-bit bitmask mode the kernel refused (bootinfo_fb_32bpp false) included: the
 * machine's facts misread. Its pixels are not 32 bits: the row must not say they are. */
static void test_display_row_names_refused_mode_truly(void)
{
	static const uint32_t masks[][4] = { { 0xF800, 0x07E0, 0x001F, 0 }, { 0x7C00, 0x03E0, 0x001F, 0x8000 },
		{ 0xFF0000, 0x00FF00, 0x0000FF, 0 } };
	int bad = 0, runs = 0;

	fbcon_init(NULL, NULL);
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++, runs++) {
		kernel_bootinfo.fb = (struct bootinfo_fb){ .base = 0xC0000000, .width = 640, .height = 480, .pitch = 640,
			.format = BOOTINFO_FB_BITMASK, .mask_red = masks[i][0], .mask_green = masks[i][1],
			.mask_blue = masks[i][2], .mask_reserved = masks[i][3] };
		memset(&sum, 0, sizeof(sum));
		memset(&results, 0, sizeof(results));
		(void)summary_show();
		char want[32];
		snprintf(want, sizeof want, "%u bpp bitmask", i == 2 ? 24u : 16u);
		if ((strstr(sum.machine[4][1], "32 bpp") || !strstr(sum.machine[4][1], want) ||
		     !strstr(sum.machine[4][1], "not drawn, console on serial only")) && bad++ < 3)
			printf("#   masks %x %x %x %x (not 32 bits a pixel): Display row \"%s\"\n", masks[i][0], masks[i][1],
			       masks[i][2], masks[i][3], sum.machine[4][1]);
	}
	is(bad, 0, "%d bitmask modes of 16 and 24 bits a pixel (refused, serial only): the Display row names their bits a "
	   "pixel and says they are not drawn",
	   runs);
	/* and a mode the console draws on says so: 32 bpp, nothing about serial */
	struct bootinfo_fb fb;
	uint32_t *p = screen(640, 480, &fb);
	kernel_bootinfo.fb = fb;
	memset(&sum, 0, sizeof(sum));
	memset(&results, 0, sizeof(results));
	(void)summary_show();
	ok(strstr(sum.machine[4][1], "640 x 480, 32 bpp BGRX") && !strstr(sum.machine[4][1], "not drawn"),
	   "a 640x480 BGRX mode the console draws on: the Display row says 32 bpp and nothing of serial (\"%s\")",
	   sum.machine[4][1]);
	fbcon_init(NULL, NULL);
	free(p);
}

int main(void)
{
	if (host_machine_create(64ULL << 20, 64ULL << 20)) {
		printf("Bail out! no hosted machine\n");
		return 1;
	}
	test_draw_text_past_right_edge_returns_zero();
	test_draw_text_below_screen_changes_nothing();
	test_ram_figure_never_wraps();
	test_tiny_screen_pictures_left_out();
	test_report_with_faulting_screen_ends();
	test_display_row_names_refused_mode_truly();
	host_machine_destroy();
	return tap_done();
}
