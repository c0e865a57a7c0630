/*
 * Host test of the whole summary screen (kernel/summary.c with memview.c, summary_layout.c,
 * fbcon.c, cmdline.c and sysinfo.c, built here unchanged) on a hosted machine (the real region and
 * physical allocator of tests/host/host_machine.c) and a framebuffer in host memory between two
 * guard zones: for screen modes a firmware may report, from the smallest the console accepts (one
 * 8x16 cell) through 640x480 (README's smallest) to past the console's text shadow, with pitch beyond the width, and with failures,
 * benchmark results and ignored command-line words to list, summary_show must finish (an alarm
 * catches a hang), write nothing outside the visible pixels, and give the verdict the suite's
 * counts give.
 */
#include <stdint.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include "tap.h"
#include "test_rng.h"
#include "host_machine.h"
#include "../../kernel/fbcon.c"
#include "../../kernel/cmdline.c"
#include "../../kernel/summary_layout.c"
#include "../../kernel/sysinfo.c"
#include "../../kernel/memview.c"
#include "../../kernel/summary.c"

#include "test_font.h"

#define SENTINEL     0x5A5A5A5Au
#define GUARD_PIXELS 4096
#define RAM_BYTES    (64ULL << 20)
#define REGION_BYTES (64ULL << 20)
#define ALARM_SECONDS 20

/* Stand-ins for the rest of the kernel. */
#include "summary_standins.h"

/* A memory map of one conventional range, the machine's RAM. */
static struct efi_memory_descriptor test_map[2];

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = sizeof(test_map);
	*desc_size = sizeof(test_map[0]);
	return test_map;
}

static uint64_t rng = 0x3C6EF372FE94F82BULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "not ok - summary_show did not finish within the alarm: a hang\n";
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* Fills the suite's results: f failures (some with long messages), r result lines. */
static void make_results(size_t f, size_t r)
{
	memset(&results, 0, sizeof(results));
	results.planned = 300, results.failed = f, results.passed = 300 - f;
	results.kept = f < KTEST_FAILURES_KEPT ? f : KTEST_FAILURES_KEPT;
	for (size_t i = 0; i < results.kept; i++) {
		results.failures[i].name = draw(2) ? "syspte_reserve_exhaustion_generated_sizes" : "pool";
		snprintf(results.failures[i].msg, sizeof(results.failures[i].msg),
			 "tests/boot/test_syspte.c:%zu: expected %s: got 0x%llx, want 0", 100 + i,
			 draw(2) ? "r" : "syspte_check(region) == 0 after every one of the generated reservations",
			 (unsigned long long)test_rng_next(&rng));
	}
	results.nresults = r < KTEST_RESULTS_KEPT ? r : KTEST_RESULTS_KEPT;
	results.results_dropped = r - results.nresults;
	for (size_t i = 0; i < results.nresults; i++) {
		results.results[i].name = "bench_large_leaf";
		snprintf(results.results[i].msg, sizeof(results.results[i].msg), "map+unmap %zu ns against 512 PTEs", i);
	}
}

/* Parses a command line with ignored words, or none. */
static void make_cmdline(int kind)
{
	static const char *const lines[] = {
		"onexit=qemu syspte=64M",
		"\xEF\xBB\xBFonexti=halt\r\nverifier=yes\tsyspte=99999999999G syspte=1T maxcpus=0 ktest=map-",
		"a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii jj",
		"ktest=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	const char *s = lines[kind % 4];
	cmdline_parse(&kernel_cmdline, s, strlen(s), false);
}

/* True when the guards and every padding pixel (x >= width) hold SENTINEL. */
static bool outside_untouched(const uint32_t *base, const struct bootinfo_fb *fb)
{
	const uint32_t *px = base + GUARD_PIXELS;
	size_t n = (size_t)fb->pitch * fb->height;

	for (size_t i = 0; i < GUARD_PIXELS; i++)
		if (base[i] != SENTINEL || px[n + i] != SENTINEL) {
			printf("#   guard pixel %s %zu written\n", base[i] != SENTINEL ? "before" : "after", i);
			return false;
		}
	for (size_t y = 0; y < fb->height; y++)
		for (size_t x = fb->width; x < fb->pitch; x++)
			if (px[y * fb->pitch + x] != SENTINEL) {
				printf("#   padding pixel (%zu, %zu) written\n", x, y);
				return false;
			}
	return true;
}

/* Shows the summary on one mode; returns the failed checks. */
static int show_on(uint32_t w, uint32_t h, uint32_t pitch, size_t fails, size_t res, int cmd)
{
	struct bootinfo_fb fb = { .base = 0xC0000000, .width = w, .height = h, .pitch = pitch, .format = BOOTINFO_FB_BGRX };
	size_t n = (size_t)pitch * h + 2 * GUARD_PIXELS;
	uint32_t *base = malloc(n * sizeof(uint32_t));
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		base[i] = SENTINEL;
	memset(&sum, 0, sizeof(sum));
	make_results(fails, res);
	make_cmdline(cmd);
	kernel_bootinfo.fb = fb;
	fbcon_init(&fb, base + GUARD_PIXELS);
	if (!fbcon_active()) {
		printf("#   %ux%u pitch %u: console off\n", w, h, pitch);
		free(base);
		return 1;
	}
	fbcon_write("boot log line\n", 14);
	/* the summary's serial lines (kprintf on stdout) kept out of the TAP stream */
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	alarm(ALARM_SECONDS);
	bool passed = summary_show();
	alarm(0);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(null);
	if (passed != (fails == 0)) {
		printf("#   %ux%u: verdict %d with %zu failures\n", w, h, passed, fails);
		bad++;
	}
	if (!outside_untouched(base, &fb))
		bad++;
	fbcon_write("SELF-TEST PASSED\nSystem halted.\n", 32);
	if (!outside_untouched(base, &fb))
		bad++;
	if (bad)
		printf("#   in %ux%u pitch %u, %zu failures, %zu results, command line %d\n", w, h, pitch, fails, res, cmd);
	free(base);
	return bad;
}

/* Screens from 640x480 up, as README promises the summary on. */
static void test_common_screens(void)
{
	static const uint32_t modes[][2] = { { 640, 480 }, { 800, 600 }, { 1024, 768 }, { 1280, 800 }, { 1920, 1080 },
		{ 2560, 1600 }, { 3840, 2160 } };
	int bad = 0, runs = 0;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		for (int k = 0; k < 4; k++, runs++)
			bad += show_on(modes[i][0], modes[i][1], modes[i][0] + (uint32_t)(k & 1) * 64, k == 0 ? 0 : 3 * (size_t)k,
				       (size_t)k, k);
	is(bad, 0, "%d summaries on screens from 640x480 to 3840x2160 (pitch == width or beyond, failures, results and "
	   "ignored words to list): finished, verdict as counted, nothing written outside the visible pixels", runs);
}

/* Generated modes from 640x480 down to a few rows, and odd ones above. */
static void test_generated_screens(void)
{
	int bad = 0, runs = 0;

	for (int i = 0; i < 60; i++, runs++) {
		uint32_t w = 640 + (uint32_t)draw(1400), h = 480 + (uint32_t)draw(700);
		bad += show_on(w, h, w + (uint32_t)draw(3) * (uint32_t)draw(100), draw(12), draw(9), (int)draw(4));
	}
	is(bad, 0, "%d summaries on generated modes of 640x480 and more: finished, verdict as counted, nothing "
	   "written outside the visible pixels", runs);
}

/* Screens below 640x480 down to one 8x16 cell, which the console accepts and README does not cover:
 * the summary must still finish and keep inside the visible pixels (fbcon clips whatever it draws). */
static void test_small_screens(void)
{
	int bad = 0, runs = 0;

	for (uint32_t h = 16; h < 480; h += h < 80 ? 1 + (uint32_t)draw(4) : 17 + (uint32_t)draw(40))
		for (uint32_t w = 8; w < 640; w += w < 64 ? 8 : 61 + (uint32_t)draw(120), runs++)
			bad += show_on(w, h, w + (uint32_t)draw(2) * 8, draw(6), draw(3), (int)draw(4));
	is(bad, 0, "%d summaries on screens from 8x16 to below 640x480: finished, verdict as counted, nothing written "
	   "outside the visible pixels", runs);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	if (host_machine_create(RAM_BYTES, REGION_BYTES)) {
		printf("Bail out! no hosted machine\n");
		return 1;
	}
	test_map[0] = (struct efi_memory_descriptor){ .type = EFI_CONVENTIONAL, .phys_start = 1 << 20,
		.num_pages = RAM_BYTES >> 12 };
	test_map[1] = (struct efi_memory_descriptor){ .type = EFI_RESERVED, .phys_start = 0, .num_pages = 256 };
	test_common_screens();
	test_generated_screens();
	test_small_screens();
	host_machine_destroy();
	return tap_done();
}
