/*
 * The boot intake's bounds, as generated checks of
 *  - the loader's command-line cut (include/bootinfo.h, bootinfo_cmdline_cut) feeding the parser
 *    (kernel/cmdline.c) end to end, for files of 509 to 1000 bytes in every encoding (ASCII, UTF-8
 *    with its BOM, UTF-16LE, UTF-16BE): a key=value word ending exactly at the last whole character
 *    the kernel gets takes effect exactly when the character after it in the file is a separator
 *    (NUL included), else it is a "cut" fragment; a file that fits is never cut; the flags and the
 *    passed length are as the header says; the kernel's text never holds the half unit;
 *  - the parser's text-buffer cut (host inputs longer than any loader passes) with 1- to 4-byte
 *    characters at every offset around CMDLINE_TEXT_MAX: all or none of a character's bytes;
 *  - smp_plan_report at 0, 1, 15, 16, 17 and 40 skips of each reason, alone and behind 16 skips of
 *    another reason: every skipped entry named or counted exactly once, and "more" exactly when some
 *    of that reason were named;
 *  - sysinfo_ram_bytes against an interval-union oracle on generated maps (0 and 1 entries,
 *    0-page descriptors, descriptors ending at 2^64 and past it, strides 40 to 96), the same map in
 *    sorted, reversed and shuffled order giving the same figure, and the largest map the kernel
 *    keeps (64 KiB of 40-byte descriptors) out of order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "test_rng.h"
#include "capture.h"
#include "../../kernel/sysinfo.c"
#include "sysinfo_standins.h"
#include "../../kernel/cmdline.c"
#include "smp_plan.h"
#include "madt_build.h"

bool fbcon_active(void) { return false; }

static uint64_t rng = 0x3C6EF372FE94F82BULL;

static uint64_t draw(uint64_t n) { return test_rng_next(&rng) % n; }

/* ---------------------------------------------------------------- loader cut, end to end */

enum enc { ENC_ASCII, ENC_UTF8BOM, ENC_LE, ENC_BE, ENC_COUNT };
static const char *const enc_name[ENC_COUNT] = { "ASCII", "UTF-8+BOM", "UTF-16LE", "UTF-16BE" };

/* Bytes per ASCII character in enc. */
static size_t enc_width(enum enc e) { return e == ENC_LE || e == ENC_BE ? 2 : 1; }

/* Writes ASCII character ch at out in enc; returns its bytes. */
static size_t enc_put(enum enc e, uint8_t *out, uint8_t ch)
{
	if (e == ENC_LE) {
		out[0] = ch;
		out[1] = 0;
		return 2;
	}
	if (e == ENC_BE) {
		out[0] = 0;
		out[1] = ch;
		return 2;
	}
	out[0] = ch;
	return 1;
}

/* Writes the byte-order mark of enc at out; returns its bytes. */
static size_t enc_bom(enum enc e, uint8_t *out)
{
	static const uint8_t le[] = { 0xFF, 0xFE }, be[] = { 0xFE, 0xFF }, u8[] = { 0xEF, 0xBB, 0xBF };
	const uint8_t *b = e == ENC_LE ? le : e == ENC_BE ? be : e == ENC_UTF8BOM ? u8 : NULL;
	size_t n = e == ENC_UTF8BOM ? 3 : b ? 2 : 0;
	if (b)
		memcpy(out, b, n);
	return b ? n : 0;
}

static struct cmdline parsed;

/* The number of diagnostics of problem p in parsed. */
static unsigned diag_count(unsigned p)
{
	unsigned n = 0;
	for (size_t i = 0; i < parsed.ndiag; i++)
		n += parsed.diag[i].problem == p;
	return n;
}

/*
 * A file of size bytes in e: BOM, spaces, then "maxcpus=7" ending exactly at the last whole
 * character the loader passes (byte 510 for 8-bit text, the unit at [508, 510) for UTF-16), then
 * next, then 'z's. Returns 1 when the loader and the parser disagree with the header's contract.
 */
static int cut_case(enum enc e, size_t size, uint8_t next, char *why, size_t cap)
{
	static uint8_t file[2048];
	static const char word[] = "maxcpus=7";
	size_t w = enc_width(e), wl = sizeof(word) - 1, pass = BOOTINFO_CMDLINE_MAX - 1;
	size_t end = w == 2 ? pass - pass % 2 : pass;   /* first byte after the word */
	size_t start = end - wl * w, at = enc_bom(e, file);

	while (at < start)
		at += enc_put(e, file + at, ' ');
	for (size_t k = 0; k < wl; k++)
		at += enc_put(e, file + at, (uint8_t)word[k]);
	at += enc_put(e, file + at, next);
	while (at < size)
		at += enc_put(e, file + at, 'z');

	/* What the loader reads: min(size, BOOTINFO_CMDLINE_MAX) bytes of the file. */
	uint32_t read = (uint32_t)(size < BOOTINFO_CMDLINE_MAX ? size : BOOTINFO_CMDLINE_MAX), flags = 0xDEAD;
	static uint8_t buf[BOOTINFO_CMDLINE_MAX];
	memcpy(buf, file, read);
	uint32_t len = bootinfo_cmdline_cut(buf, read, &flags);
	bool cut = size > pass, sep = bootinfo_cmdline_is_sep(next);

	if (len != (cut ? pass : size) || flags != (cut ? BOOTINFO_CMDLINE_CUT | (sep ? BOOTINFO_CMDLINE_CUT_AT_SEP : 0) : 0)) {
		snprintf(why, cap, "loader: len %u flags %#x", len, flags);
		return 1;
	}
	cmdline_parse(&parsed, buf, len, flags);

	/* Expected: a cut file gives the word whole when next is a separator; a file that fits is
	 * whole; for a UTF-16 file of odd size the odd last byte is a unit of its own (LE: next's
	 * low byte; BE: next's high byte, 0). */
	bool in_effect;
	if (cut)
		in_effect = sep;
	else if (w == 2 && size == end - 1)
		in_effect = e == ENC_LE;   /* the odd byte is '7' in UTF-16LE, the high byte 0 of '7' in BE */
	else if (size < end)
		in_effect = false;   /* the word itself is not all in the file */
	else if (size == end)
		in_effect = true;    /* the file ends with the word */
	else if (w == 2 && size == end + 1)
		in_effect = bootinfo_cmdline_is_sep(e == ENC_LE ? next : 0);
	else
		in_effect = sep;
	unsigned want_cut_word = cut && !sep;
	if ((parsed.opts.maxcpus == 7) != in_effect || diag_count(CMDLINE_P_CUT_WORD) != want_cut_word ||
	    diag_count(CMDLINE_P_INPUT_CUT) != cut || parsed.cut != cut) {
		snprintf(why, cap, "maxcpus=%u (want %s), %u cut-word, %u input-cut diagnostics, cut %d", parsed.opts.maxcpus,
			 in_effect ? "7" : "not 7", diag_count(CMDLINE_P_CUT_WORD), diag_count(CMDLINE_P_INPUT_CUT), parsed.cut);
		return 1;
	}
	/* The text never ends in half a unit: for UTF-16, every text byte comes from a whole unit. */
	if (w == 2 && cut && parsed.text_len != (end - 2) / 2) {
		snprintf(why, cap, "UTF-16 text of %zu bytes, want %zu", parsed.text_len, (end - 2) / 2);
		return 1;
	}
	return 0;
}

static void test_loader_cut_end_to_end(void)
{
	static const uint8_t nexts[] = { ' ', '\t', '\n', '\v', '\f', '\r', 0, '5', 'x', '#', '=', 0x7F };
	static const size_t sizes[] = { 509, 510, 511, 512, 513, 514, 600, 1000 };
	unsigned bad = 0, n = 0;
	char why[160];

	for (unsigned e = 0; e < ENC_COUNT; e++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t k = 0; k < sizeof(nexts); k++) {
				size_t size = sizes[s];
				n++;
				if (cut_case((enum enc)e, size, nexts[k], why, sizeof(why)) && bad++ < 5)
					printf("#   %s, %zu bytes, next %#x: %s\n", enc_name[e], size, nexts[k], why);
			}
	ok(bad == 0, "loader cut then parse, %u files of 509-1000 bytes in 4 encodings: a word ending at the cut takes "
	   "effect exactly when a separator follows it in the file (%u wrong)", n, bad);
}

/* A UTF-16 unit that is not a separator although one of its bytes reads as one (0x0A00, 0x2000,
 * 0x0D0A, 0x0900 ...), and a separator unit whose bytes are not 0x20 (NUL, U+000A): the loader's
 * flag follows the unit's value in both byte orders. */
static void test_loader_cut_unit_values(void)
{
	unsigned bad = 0, n = 0;

	for (unsigned e = ENC_LE; e <= ENC_BE; e++)
		for (uint32_t hi = 0; hi < 256; hi++)
			for (uint32_t lo = 0; lo < 256; lo += hi < 0x30 ? 1 : 37) {
				uint8_t buf[BOOTINFO_CMDLINE_MAX];
				uint32_t unit = hi << 8 | lo, flags;
				memset(buf, 0, sizeof(buf));
				enc_bom((enum enc)e, buf);
				buf[510] = (uint8_t)(e == ENC_LE ? lo : hi);
				buf[511] = (uint8_t)(e == ENC_LE ? hi : lo);
				uint32_t len = bootinfo_cmdline_cut(buf, BOOTINFO_CMDLINE_MAX, &flags);
				bool sep = unit == 0 || unit == ' ' || (unit >= 9 && unit <= 13);
				n++;
				bad += len != BOOTINFO_CMDLINE_MAX - 1 ||
				       flags != (BOOTINFO_CMDLINE_CUT | (sep ? BOOTINFO_CMDLINE_CUT_AT_SEP : 0));
			}
	ok(bad == 0, "the loader's CUT_AT_SEP for UTF-16 follows the whole unit at [510, 512) in both byte orders (%u "
	   "units, %u wrong)", n, bad);
}

/* ---------------------------------------------------------------- text-buffer cut */

/*
 * 8-bit text of pad spaces, then characters of nbytes UTF-16-decoded bytes each, from UTF-16 input
 * (1 byte: 'a', 2: U+00E9, 3: U+20AC, 4: U+1F600 as a pair, 3: a lone high surrogate): the text
 * keeps whole characters only, and its last word is a fragment exactly when a character was left out.
 */
static void test_text_buffer_cut(void)
{
	static const uint32_t cps[] = { 'a', 0xE9, 0x20AC, 0x1F600, 0xD800 };
	static const size_t cp_bytes[] = { 1, 2, 3, 4, 3 };
	static uint8_t raw[8192];
	unsigned bad = 0, n = 0;

	for (size_t c = 0; c < sizeof(cps) / sizeof(cps[0]); c++)
		for (size_t pad = CMDLINE_TEXT_MAX - 12; pad <= CMDLINE_TEXT_MAX + 1; pad++)
			for (unsigned tail = 0; tail < 3; tail++) {   /* after the characters: nothing, a space, 'b' */
				size_t at = enc_bom(ENC_LE, raw), nch = 3;
				for (size_t k = 0; k < pad; k++)
					at += enc_put(ENC_LE, raw + at, ' ');
				for (size_t k = 0; k < nch; k++) {
					uint32_t cp = cps[c];
					if (cp >= 0x10000) {
						uint32_t v = cp - 0x10000, hs = 0xD800 + (v >> 10), ls = 0xDC00 + (v & 0x3FF);
						raw[at++] = (uint8_t)hs, raw[at++] = (uint8_t)(hs >> 8);
						raw[at++] = (uint8_t)ls, raw[at++] = (uint8_t)(ls >> 8);
					} else {
						raw[at++] = (uint8_t)cp, raw[at++] = (uint8_t)(cp >> 8);
					}
					if (cp == 0xD800)   /* keep the high surrogate lone */
						at += enc_put(ENC_LE, raw + at, 'q'), nch = 0;
				}
				if (tail)
					at += enc_put(ENC_LE, raw + at, tail == 1 ? ' ' : 'b');
				cmdline_parse(&parsed, raw, at, 0);
				/* The decoded text in full and how much of it fits. */
				size_t per = cp_bytes[c] + (cps[c] == 0xD800 ? 1 : 0), count = cps[c] == 0xD800 ? 1 : 3;
				size_t full = pad + per * count + (tail ? 1 : 0);
				size_t keep = pad, cut_before_char = 0;
				bool cut = full > CMDLINE_TEXT_MAX, frag;
				/* whole characters (the lone surrogate case: 3 bytes, then 'q') */
				size_t unit_sizes[8], nu = 0;
				for (size_t k = 0; k < count; k++) {
					unit_sizes[nu++] = cp_bytes[c];
					if (cps[c] == 0xD800)
						unit_sizes[nu++] = 1;
				}
				if (tail)
					unit_sizes[nu++] = 1;
				size_t u = 0;
				if (pad > CMDLINE_TEXT_MAX)
					keep = CMDLINE_TEXT_MAX;
				else
					for (; u < nu && keep + unit_sizes[u] <= CMDLINE_TEXT_MAX; u++)
						keep += unit_sizes[u];
				cut_before_char = u;
				if (pad > CMDLINE_TEXT_MAX)
					frag = false;   /* cut before a space */
				else
					frag = cut && !(cut_before_char == nu - 1 && tail == 1);
				n++;
				if (parsed.text_len != keep || parsed.cut != cut || (cut && parsed.cut_in_word != frag)) {
					if (bad++ < 5)
						printf("#   char %zu pad %zu tail %u: text %zu want %zu, cut %d want %d, in word %d want %d\n",
						       c, pad, tail, parsed.text_len, keep, parsed.cut, cut, parsed.cut_in_word, frag);
				}
			}
	ok(bad == 0, "text-buffer cut with 1- to 4-byte characters and lone surrogates at %u offsets around %d bytes: whole "
	   "characters only, a fragment exactly when a non-separator was left out (%u wrong)", n, CMDLINE_TEXT_MAX, bad);
}

/* ---------------------------------------------------------------- smp_plan_report */

static struct acpi_madt_info madt;
static struct smp_plan plan;

static void madt_add_x(uint32_t id, bool x2, bool enabled, bool capable) { madt_build_add(&madt, id, x2, enabled, capable); }
static void madt_add(uint32_t id, bool enabled, bool capable) { madt_build_add_id(&madt, id, enabled, capable); }

/* Appends k entries that the plan skips for why (boot CPU id 0 listed first by the caller). */
static void madt_skips(unsigned why, unsigned k, uint32_t *next_id)
{
	for (unsigned i = 0; i < k; i++) {
		switch (why) {
		case SMP_SKIP_DISABLED: madt_add((*next_id)++, false, false); break;
		case SMP_SKIP_HOTPLUG: madt_add((*next_id)++, false, true); break;
		case SMP_SKIP_DUPLICATE: madt_add(0, true, false); break;
		case SMP_SKIP_BROADCAST: madt_add_x(0xFF, false, true, false); break;
		case SMP_SKIP_NEEDS_X2APIC: madt_add(0x1000 + (*next_id)++, true, false); break;
		default: madt_add((*next_id)++, true, false); break;   /* MAXCPUS with maxcpus=1, NO_APIC with none in use */
		}
	}
}

/* Counts lines of text containing s. */
static unsigned lines_with(const char *text, const char *s)
{
	unsigned n = 0;
	for (const char *p = strstr(text, s); p; p = strstr(p + 1, s))
		n++;
	return n;
}

static void test_report_boundaries(void)
{
	static const unsigned ks[] = { 0, 1, 15, 16, 17, 40 };
	static const unsigned whys[] = { SMP_SKIP_DISABLED, SMP_SKIP_HOTPLUG, SMP_SKIP_DUPLICATE, SMP_SKIP_BROADCAST,
					 SMP_SKIP_NEEDS_X2APIC, SMP_SKIP_MAXCPUS, SMP_SKIP_NO_APIC };
	static char text[65536];
	unsigned bad = 0, n = 0;

	for (size_t w = 0; w < sizeof(whys) / sizeof(whys[0]); w++)
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
			for (unsigned behind = 0; behind < 2; behind++) {   /* behind 16 disabled entries, or not */
				unsigned why = whys[w], k = ks[ki], maxcpus = why == SMP_SKIP_MAXCPUS ? 1 : 64;
				uint32_t next_id = 1;
				memset(&madt, 0, sizeof(madt));
				madt_add(0, true, false);
				if (behind)
					madt_skips(why == SMP_SKIP_DISABLED ? SMP_SKIP_HOTPLUG : SMP_SKIP_DISABLED, SMP_PLAN_SKIPS_KEPT,
						   &next_id);
				madt_skips(why, k, &next_id);
				smp_plan_make(&madt, 0, why == SMP_SKIP_NO_APIC ? SMP_APIC_OFF : SMP_APIC_XAPIC, maxcpus, &plan);
				capture_begin();
				smp_plan_report(&plan, maxcpus);
				capture_end(text, sizeof(text));
				bool named_kind = why != SMP_SKIP_DISABLED && why != SMP_SKIP_DUPLICATE && why != SMP_SKIP_HOTPLUG &&
						  why != SMP_SKIP_NO_APIC;
				unsigned kept_of_why = behind ? 0 : k < SMP_PLAN_SKIPS_KEPT ? k : SMP_PLAN_SKIPS_KEPT;
				unsigned want_named = named_kind ? kept_of_why : 0, want_rest = k - want_named;
				char named_line[160], rest_line[200];
				const char *reason = why == SMP_SKIP_MAXCPUS ? "beyond maxcpus=1" : smp_skip_reason(why);
				snprintf(named_line, sizeof(named_line), "not started: %s\n", reason);
				snprintf(rest_line, sizeof(rest_line), "smp: %u %sMADT %s not started: %s\n", want_rest,
					 want_named ? "more " : "", want_rest == 1 ? "entry" : "entries", reason);
				unsigned got_named = 0;
				for (const char *p = strstr(text, "smp: APIC id "); p; p = strstr(p + 1, "smp: APIC id ")) {
					const char *eol = strchr(p, '\n');
					got_named += eol && (size_t)(eol + 1 - p) >= strlen(named_line) &&
						     !strncmp(eol + 1 - strlen(named_line), named_line, strlen(named_line));
				}
				n++;
				if (plan.skipped[why] != k || got_named != want_named ||
				    lines_with(text, rest_line) != (want_rest ? 1u : 0u)) {
					if (bad++ < 4)
						printf("#   %s x%u%s: skipped %zu, %u named (want %u), rest line \"%s\" %u times; log:\n%s",
						       reason, k, behind ? " behind 16" : "", plan.skipped[why], got_named, want_named,
						       rest_line, lines_with(text, rest_line), text);
				}
			}
	ok(bad == 0, "smp_plan_report at 0/1/15/16/17/40 skips of each reason, alone and behind 16 others: named and "
	   "counted exactly, \"more\" only after named ones (%u cases, %u wrong)", n, bad);
}

/* ---------------------------------------------------------------- sysinfo_ram_bytes */

#define SI_MAP_BYTES (64 * 1024)
static uint8_t si_map[SI_MAP_BYTES] __attribute__((aligned(16)));
static size_t si_size, si_dsz;

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = si_size;
	*desc_size = si_dsz;
	return si_map;
}

struct span { unsigned __int128 s, e; };

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* The union's bytes of the RAM descriptors of si_map, saturated, by sorting and merging. */
static uint64_t oracle_ram(void)
{
	static struct span sp[SI_MAP_BYTES / 40];
	size_t n = si_dsz ? si_size / si_dsz : 0, m = 0;
	for (size_t i = 0; i < n; i++) {
		struct efi_memory_descriptor d;
		memcpy(&d, si_map + i * si_dsz, sizeof(d));
		if (d.type == 0 || d.type == 11 || d.type == 12 || d.type == 13)
			continue;
		sp[m].s = d.phys_start;
		sp[m].e = (unsigned __int128)d.phys_start + ((unsigned __int128)d.num_pages << 12);
		m++;
	}
	qsort(sp, m, sizeof(sp[0]), span_cmp);
	unsigned __int128 total = 0, cs = 0, ce = 0;
	bool open = false;
	for (size_t i = 0; i < m; i++) {
		if (sp[i].e == sp[i].s)
			continue;
		if (open && sp[i].s <= ce) {
			if (sp[i].e > ce)
				ce = sp[i].e;
			continue;
		}
		if (open)
			total += ce - cs;
		cs = sp[i].s, ce = sp[i].e, open = true;
	}
	if (open)
		total += ce - cs;
	return total > UINT64_MAX ? UINT64_MAX : (uint64_t)total;
}

/* Writes descriptor i of si_map. */
static void put_desc(size_t i, uint32_t type, uint64_t start, uint64_t pages)
{
	uint8_t *p = si_map + i * si_dsz;
	memset(p, 0xA5, si_dsz);
	struct efi_memory_descriptor d = { .type = type, .phys_start = start, .num_pages = pages, .virt_start = 0,
					   .attribute = 0 };
	memcpy(p, &d, sizeof(d));
}

/* A start near an interesting place: 0, low RAM, 4 GiB, or the top of the address space. */
static uint64_t gen_start(void)
{
	switch (draw(5)) {
	case 0: return draw(64) << 12;
	case 1: return (draw(1u << 20)) << 12;
	case 2: return (1ull << 32) + (draw(64) << 12);
	case 3: return UINT64_MAX - (draw(64) << 12) - 4095;
	default: return test_rng_next(&rng) & ~0xFFFull;
	}
}

static uint64_t gen_pages(void)
{
	switch (draw(6)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return UINT64_MAX - draw(4);
	case 3: return 1ull << (52 + draw(12));
	default: return 1 + draw(300);
	}
}

/* Shuffles the n descriptors of si_map in place, or reverses them. */
static void permute(size_t n, int how)
{
	static uint8_t tmp[128];
	for (size_t i = 0; how == 1 && i < n / 2; i++) {
		memcpy(tmp, si_map + i * si_dsz, si_dsz);
		memcpy(si_map + i * si_dsz, si_map + (n - 1 - i) * si_dsz, si_dsz);
		memcpy(si_map + (n - 1 - i) * si_dsz, tmp, si_dsz);
	}
	for (size_t i = n; how == 2 && i > 1; i--) {
		size_t j = draw(i);
		memcpy(tmp, si_map + (i - 1) * si_dsz, si_dsz);
		memcpy(si_map + (i - 1) * si_dsz, si_map + j * si_dsz, si_dsz);
		memcpy(si_map + j * si_dsz, tmp, si_dsz);
	}
}

static void test_ram_union(void)
{
	static const uint32_t types[] = { 0, 1, 2, 3, 4, 7, 9, 10, 11, 12, 13, 14, 15, 0x70000000, 0x80000000 };
	unsigned bad = 0, cases = 0;

	for (unsigned r = 0; r < 4000; r++) {
		si_dsz = 40 + 8 * draw(8);
		size_t n = r < 40 ? r % 2 : draw(r % 50 == 0 ? 300 : 12);
		si_size = n * si_dsz + (draw(3) == 0 ? draw(si_dsz) : 0);   /* a partial tail descriptor is ignored */
		for (size_t i = 0; i < n; i++)
			put_desc(i, types[draw(sizeof(types) / sizeof(types[0]))], gen_start(), gen_pages());
		for (int how = 0; how < 3; how++) {
			permute(n, how);
			uint64_t got = sysinfo_ram_bytes(), want = oracle_ram();
			cases++;
			if (got != want && bad++ < 4)
				printf("#   map %u (%zu descriptors of %zu, order %d): %llu bytes, want %llu\n", r, n, si_dsz, how,
				       (unsigned long long)got, (unsigned long long)want);
		}
	}
	ok(bad == 0, "sysinfo_ram_bytes on %u generated maps (0 and 1 entries, 0 pages, top of the address space, absurd "
	   "counts, strides 40-96) in sorted, reversed and shuffled order is the saturated union (%u wrong)", cases, bad);

	/* The largest map kept: 64 KiB of 40-byte descriptors, mostly overlapping, shuffled. */
	si_dsz = 40;
	size_t n = SI_MAP_BYTES / si_dsz;
	si_size = n * si_dsz;
	for (size_t i = 0; i < n; i++)
		put_desc(i, 7, (uint64_t)draw(n) << 12, 1 + draw(4));
	permute(n, 2);
	ok(sysinfo_ram_bytes() == oracle_ram(), "the largest map the kernel keeps (%zu descriptors), shuffled, overlapping: "
	   "the union", n);

	/* Exactly at the top: one page ending at 2^64, and the same page twice. */
	si_size = 2 * si_dsz;
	put_desc(0, 7, UINT64_MAX - 4095, 1);
	put_desc(1, 7, UINT64_MAX - 4095, 1);
	ok(sysinfo_ram_bytes() == 4096, "a page ending at 2^64, listed twice: 4096 bytes");
	put_desc(1, 7, 0, UINT64_MAX >> 12);
	ok(sysinfo_ram_bytes() == UINT64_MAX && oracle_ram() == UINT64_MAX,
	   "[0, 2^64 - 4096) and the top page: 2^64 bytes, saturated at 2^64 - 1");
}

int main(void)
{
	test_loader_cut_end_to_end();
	test_loader_cut_unit_values();
	test_text_buffer_cut();
	test_report_boundaries();
	test_ram_union();
	return tap_done();
}
