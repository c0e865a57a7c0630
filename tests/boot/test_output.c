/*
 * Boot self-tests of the text output pieces: ksnprintf formatting, the kernel symbol table and
 * frame-pointer walks, and the framebuffer console (on the real framebuffer when the loader gave
 * one, else on a small framebuffer in RAM).
 */
#include "types.h"
#include "vmlayout.h"
#include "bootinfo.h"
#include "ktest.h"
#include "kprintf.h"
#include "fbcon.h"
#include "ksyms.h"

/* Room for every expected string below plus a guard byte. */
#define OUTPUT_BUF 96
#define OUTPUT_GUARD ((char)0x5a)

/* The RAM framebuffer used when the loader gave none: pitch > width to catch pitch bugs. */
#define OUTPUT_FB_W     64
#define OUTPUT_FB_H     48
#define OUTPUT_FB_PITCH 72
#define OUTPUT_FB_FILL  0xdeadbeefu   /* sentinel in the pixels beyond the visible width */
static uint32_t output_fb[OUTPUT_FB_PITCH * OUTPUT_FB_H];

/* A NULL string the compiler cannot see through (it warns about a literal NULL for %s). */
static const char *volatile output_null;

/* Length of a NUL-terminated string. */
static size_t output_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* True when a and b are equal strings. */
static bool output_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* True when s starts with prefix. */
static bool output_starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* Formats with ksnprintf and expects exactly want, with the matching return value. */
__attribute__((format(printf, 3, 4)))
static void output_expect_fmt(int line, const char *want, const char *fmt, ...)
{
	char buf[OUTPUT_BUF];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ktest_expect(output_streq(buf, want) && n == (int)output_strlen(want), __FILE__, line, fmt,
		     "got \"%s\" (%d), want \"%s\" (%d)", buf, n, want, (int)output_strlen(want));
}

#define EXPECT_FMT(want, ...) output_expect_fmt(__LINE__, want, __VA_ARGS__)

KTEST(printf_formats)
{
	char buf[8];
	int n;

	EXPECT_FMT("0 42 -42 7", "%d %d %d %i", 0, 42, -42, 7);
	EXPECT_FMT("[   42][42   ][-0042][00042]", "[%5d][%-5d][%05d][%.5d]", 42, 42, -42, 42);
	EXPECT_FMT("[+5][ 5][][ -3]", "[%+d][% d][%.0d][%*d]", 5, 5, 0, 3, -3);
	EXPECT_FMT("[7  ]", "[%*d]", -3, 7);
	EXPECT_FMT("-2147483648 2147483647", "%d %d", INT32_MIN, INT32_MAX);
	EXPECT_FMT("-9223372036854775808", "%lld", (long long)INT64_MIN);
	EXPECT_FMT("-9223372036854775808", "%ld", (long)INT64_MIN);
	EXPECT_FMT("4294967295 18446744073709551615", "%u %llu", UINT32_MAX,
		   (unsigned long long)UINT64_MAX);
	EXPECT_FMT("deadbeef DEADBEEF 00001234 0xff", "%x %X %08x %#x", 0xdeadbeefu, 0xdeadbeefu,
		   0x1234u, 255u);
	EXPECT_FMT("ffffffff80000000", "%lx", 0xffffffff80000000ul);
	EXPECT_FMT("123 -1 1 ff 17", "%zu %hd %hu %hhx %o", (size_t)123, 65535, 65537, 0x1ff, 15);
	EXPECT_FMT("0xffffffff80001000 (nil)", "%p %p", (void *)0xffffffff80001000ul, (void *)0);
	EXPECT_FMT("(null)", "%s", output_null);
	EXPECT_FMT("[abc][ab    ][    ab]", "[%.3s][%-6s][%6s]", "abcdef", "ab", "ab");
	EXPECT_FMT("x|  y|100%", "%c|%3c|100%%", 'x', 'y');

	/* Truncation: NUL-terminated within size, return value is the full length. */
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = OUTPUT_GUARD;
	n = ksnprintf(buf, 4, "hello %d", 12345);
	KEXPECT_EQ(n, 11);
	KEXPECT(output_streq(buf, "hel"), "got \"%s\"", buf);
	KEXPECT_EQ(buf[4], OUTPUT_GUARD);
	n = ksnprintf(buf, 0, "hello");
	KEXPECT_EQ(n, 5);
	KEXPECT_EQ(buf[0], 'h');                     /* size 0: buffer untouched */
	n = ksnprintf(buf, 1, "hello");
	KEXPECT_EQ(n, 5);
	KEXPECT_EQ(buf[0], '\0');
	n = ksnprintf(buf, sizeof(buf), "%s", "");
	KEXPECT_EQ(n, 0);
	KEXPECT_EQ(buf[0], '\0');
}

KTEST(ksyms_lookup_self)
{
	uint64_t addr = (uint64_t)(uintptr_t)&ksnprintf;
	uint64_t off = UINT64_MAX;
	const char *name;

	KASSERT_TEST(ksyms_count > 0, "empty symbol table");
	for (uint64_t i = 1; i < ksyms_count; i++)
		if (!KEXPECT(ksyms_table[i - 1].addr < ksyms_table[i].addr, "unsorted at %llu",
			     (unsigned long long)i))
			break;
	name = ksyms_lookup(addr, &off);
	KASSERT_TEST(name != NULL, "no symbol for ksnprintf at 0x%llx", (unsigned long long)addr);
	KEXPECT(output_streq(name, "ksnprintf"), "got %s", name);
	KEXPECT_EQ(off, 0);
	name = ksyms_lookup(addr + 5, &off);
	KEXPECT(name && output_streq(name, "ksnprintf"), "got %s", name);
	KEXPECT_EQ(off, 5);
	KEXPECT(ksyms_lookup(0x1000, &off) == NULL, "low address resolved");
	KEXPECT(ksyms_lookup(ksyms_table[0].addr - 1, &off) == NULL, "below first symbol");
}

/* Walks the stack from its own frame: the first return address is in its caller. */
__attribute__((noinline))
static int output_walk_here(uint64_t *rets, int max)
{
	return ksyms_stack_walk((uint64_t)(uintptr_t)__builtin_frame_address(0), rets, max);
}

KTEST(ksyms_backtrace_self)
{
	enum { OUTPUT_FRAMES = 8 };
	uint64_t rets[OUTPUT_FRAMES], off;
	uint64_t fake[4];
	const char *name;
	int n;

	n = output_walk_here(rets, OUTPUT_FRAMES);
	KASSERT_TEST(n >= 1, "walk found %d frames", n);
	name = ksyms_lookup(rets[0] - 1, &off);
	KEXPECT(name && output_starts_with(name, "ktest_fn_ksyms_backtrace_self"), "got %s", name);
	KEXPECT_EQ(output_walk_here(rets, 1), 1);    /* max caps the walk */

	/* Bad chains end the walk without a fault. */
	KEXPECT_EQ(ksyms_stack_walk(0, rets, OUTPUT_FRAMES), 0);
	KEXPECT_EQ(ksyms_stack_walk(0x1000, rets, OUTPUT_FRAMES), 0);
	KEXPECT_EQ(ksyms_stack_walk(KERNEL_BASE + 3, rets, OUTPUT_FRAMES), 0);
	if ((uint64_t)(uintptr_t)fake >= DMAP_BASE) {
		fake[0] = (uint64_t)(uintptr_t)&fake[0];  /* points at itself: not increasing */
		fake[1] = (uint64_t)(uintptr_t)&ksnprintf + 1;
		fake[2] = (uint64_t)(uintptr_t)&fake[2];
		fake[3] = 0;                              /* return address outside text */
		KEXPECT_EQ(ksyms_stack_walk((uint64_t)(uintptr_t)&fake[0], rets, OUTPUT_FRAMES), 1);
		KEXPECT_EQ(rets[0], (uint64_t)(uintptr_t)&ksnprintf + 1);
		KEXPECT_EQ(ksyms_stack_walk((uint64_t)(uintptr_t)&fake[2], rets, OUTPUT_FRAMES), 0);
	} else {
		kprintf("# stack below the higher half: fake-chain checks skipped\n");
	}
	kprintf("# sample backtrace:\n");
	ksyms_backtrace((uint64_t)(uintptr_t)__builtin_frame_address(0),
			(uint64_t)(uintptr_t)&ksyms_backtrace, 3);
}

/* Order-sensitive checksum of the pixels of text cell (col, row). */
static uint64_t output_cell_sum(unsigned col, unsigned row, unsigned cw, unsigned ch)
{
	uint64_t h = 0;

	for (unsigned y = 0; y < ch; y++)
		for (unsigned x = 0; x < cw; x++)
			h = h * 31 + fbcon_read_pixel(col * cw + x, row * ch + y);
	return h;
}

/* Number of pixels of text cell (col, row) that differ from colour bg. */
static unsigned output_cell_ink(unsigned col, unsigned row, unsigned cw, unsigned ch, uint32_t bg)
{
	unsigned n = 0;

	for (unsigned y = 0; y < ch; y++)
		for (unsigned x = 0; x < cw; x++)
			n += fbcon_read_pixel(col * cw + x, row * ch + y) != bg;
	return n;
}

/* Drawing, escapes, wrapping and scrolling on whatever framebuffer fbcon currently drives. */
static void output_fbcon_generic(void)
{
	unsigned cols, rows, cw, ch;
	uint64_t sum;
	uint32_t bg;

	fbcon_get_geometry(&cols, &rows, &cw, &ch);
	KASSERT_TEST(cols >= 2 && rows >= 3 && cw > 0 && ch > 0, "geometry %ux%u", cols, rows);
	fbcon_clear();
	bg = fbcon_read_pixel(0, 0);
	KEXPECT_EQ(output_cell_ink(0, 0, cw, ch, bg), 0);

	fbcon_write("\nX", 2);
	KEXPECT(output_cell_ink(0, 1, cw, ch, bg) > 0, "'X' drew nothing");
	KEXPECT_EQ(output_cell_ink(0, 0, cw, ch, bg), 0);
	sum = output_cell_sum(0, 1, cw, ch);
	for (unsigned i = 0; i < rows - 1; i++)       /* the last newline scrolls by one row */
		fbcon_write("\n", 1);
	KEXPECT_EQ(output_cell_sum(0, 0, cw, ch), sum);
	KEXPECT_EQ(output_cell_ink(0, 1, cw, ch, bg), 0);

	fbcon_clear();                                 /* escapes draw nothing themselves */
	fbcon_write("\x1b[1;31mA\x1b[0m\x1b[2J", 16);
	KEXPECT(output_cell_ink(0, 0, cw, ch, bg) > 0, "'A' drew nothing");
	KEXPECT_EQ(output_cell_ink(1, 0, cw, ch, bg), 0);

	fbcon_clear();                                 /* a full line wraps onto the next */
	for (unsigned i = 0; i <= cols; i++)
		fbcon_write("#", 1);
	KEXPECT(output_cell_ink(0, 1, cw, ch, bg) > 0, "no wrap");
	KEXPECT_EQ(output_cell_ink(1, 1, cw, ch, bg), 0);
	fbcon_clear();
}

/* Exact colours and pixel layout on the RAM framebuffer, in BGRX and a BITMASK format. */
static void output_fbcon_ram(void)
{
	struct bootinfo_fb fb = { .base = 0, .size = sizeof(output_fb), .width = OUTPUT_FB_W,
				  .height = OUTPUT_FB_H, .pitch = OUTPUT_FB_PITCH,
				  .format = BOOTINFO_FB_BGRX };
	unsigned cw, ch;

	for (unsigned i = 0; i < ARRAY_SIZE(output_fb); i++)
		output_fb[i] = OUTPUT_FB_FILL;
	fbcon_init(&fb, output_fb);
	KASSERT_TEST(fbcon_active(), "fbcon_init refused a valid RAM framebuffer");
	fbcon_get_geometry(NULL, NULL, &cw, &ch);
	output_fbcon_generic();

	fbcon_set_color(0xffffff, 0x0000ff);
	fbcon_clear();
	KEXPECT_EQ(output_fb[0], 0x000000ff);          /* BGRX: blue in byte 0 */
	KEXPECT_EQ(output_fb[OUTPUT_FB_W], OUTPUT_FB_FILL);  /* beyond the width: untouched */
	fbcon_write("\x1b[91mX", 6);
	KEXPECT(output_cell_ink(0, 0, cw, ch, 0x0000ff) > 0, "'X' drew nothing");
	for (unsigned y = 0; y < ch; y++)              /* ink is bright red (ANSI 91) */
		for (unsigned x = 0; x < cw; x++) {
			uint32_t p = fbcon_read_pixel(x, y);
			if (!KEXPECT(p == 0x0000ff || p == 0xff5555, "pixel %u,%u = 0x%x", x, y, p))
				return;
		}

	fb.format = BOOTINFO_FB_BITMASK;
	fb.mask_red = 0x0000ff00, fb.mask_green = 0x00ff0000, fb.mask_blue = 0xff000000;
	fbcon_init(&fb, output_fb);
	KASSERT_TEST(fbcon_active(), "BITMASK format refused");
	fbcon_set_color(0xabcdef, 0x123456);
	fbcon_clear();
	KEXPECT_EQ(output_fb[0], 0x56341200);
	KEXPECT_EQ(fbcon_read_pixel(0, 0), 0x123456);

	fb.format = BOOTINFO_FB_NONE;
	fbcon_init(&fb, output_fb);
	KEXPECT(!fbcon_active(), "format NONE left the console on");
}

KTEST(fbcon_draws)
{
	if (fbcon_active()) {
		output_fbcon_generic();
		return;
	}
	kprintf("# fbcon inactive (no framebuffer from the loader): testing on a RAM framebuffer\n");
	output_fbcon_ram();
	fbcon_init(NULL, NULL);
	KEXPECT(!fbcon_active(), "console still on without a framebuffer");
}
