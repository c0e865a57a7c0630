/*
 * Host test of the command-line parser (kernel/cmdline.c, built here unchanged) on generated
 * \cmdline.txt files as people write them on USB sticks: Notepad's UTF-8 BOM or UTF-16 in either
 * byte order, CRLF or LF lines, tabs, VT, FF and NUL between words, comments, trailing garbage
 * (bytes that are not printable ASCII), repeated and unknown or misspelt keys, values in the wrong
 * case, sizes with every suffix and none, leading zeros, hex, signs, decimal points, sizes of 20
 * to 40 digits that do not fit 64 bits (syspte=99999999999G), counts of many digits, empty
 * values, characters beyond U+FFFF (a surrogate pair in UTF-16, 4 bytes in UTF-8) and lone
 * surrogates in values, and files longer than the loader's 511 bytes, cut as the loader cuts them
 * (bootinfo_cmdline_cut, include/bootinfo.h: with BOOTINFO_CMDLINE_CUT_AT_SEP when a separator
 * follows the cut) and as a loader without that flag did.
 *
 * The generator knows what each word it writes means, so the outcome is predicted from its own
 * record (not from the parser, and not from model_cmdline.c, which is asked as a second opinion):
 * the options in effect (defaults, then every valid word in order); the diagnostics in order, each
 * with its problem and key (an invalid word's problem from README's rules: a size's value in
 * 128-bit arithmetic, so a value past 2^64 must read as larger than 512G, never wrap into range;
 * an earlier valid word of a key named OVERRIDDEN when a later one takes effect; a word the cut
 * splits CUT_WORD, and only that word: one ending just before the cut is whole; without the
 * flag, a word ending at the cut counts as split too; the cut itself INPUT_CUT); each message
 * quoting its word and the value in
 * effect; the counts of diagnostics kept and dropped past CMDLINE_DIAG_MAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "model_cmdline.h"
#include "model_cmdline.c"
#include "../../kernel/cmdline.c"
#include "test_rng.h"
#include "bootinfo.h"

#define FILES          12000
#define ITEMS_MAX      64
#define ITEM_TEXT_MAX  160
#define RAW_MAX        8192
#define LOADER_BYTES   (BOOTINFO_CMDLINE_MAX - 1)   /* what the loader hands over of a longer file */

static uint64_t rng = 0x6A09E667F3BCC908ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

enum item_kind { ITEM_VALID, ITEM_BAD, ITEM_COMMENT };

/* One word (or comment) the generator wrote, and what it means. */
struct item {
	char text[ITEM_TEXT_MAX];
	size_t len;
	enum item_kind kind;
	unsigned key;            /* the key its text names before '=' (CMDLINE_NOKEY: none) */
	unsigned problem;        /* ITEM_BAD: the problem README's rules give it */
	struct cmdline_opts val; /* ITEM_VALID: the option's value, in the field of key */
	const char *cls;         /* the input class, for messages */
	bool utf8;               /* text is UTF-8 (WTF-8: a lone surrogate as its 3 bytes), re-encoded in UTF-16 files */
};

static const char *const key_names[CMDLINE_NKEYS] = { "onexit", "syspte", "ktest", "mmapdump", "ptdump",
	"verifier", "exhaust", "crashtest", "maxcpus" };
static const char *const bools[] = { "0", "1", "off", "on" };
static const char *const onexits[] = { "halt", "qemu", "reboot" };
static const char *const exhausts[] = { "budget", "full" };
static const char *const crashes[] = { "none", "panic", "pf", "reserved", "stack", "bugcheck", "nmi", "leak",
	"panic2", "finish2", "early", "screen", "reclaim" };

/* Writes key=value into it->text. */
static void item_set(struct item *it, unsigned key, const char *value)
{
	it->len = (size_t)snprintf(it->text, sizeof(it->text), "%s=%s", key_names[key], value);
	it->key = key;
}

/* The problem README's size rules give value v (not empty), or CMDLINE_NPROBLEMS and *bytes when valid:
 * decimal digits (no hex, no sign) then at most one of K, M, G in either case; 2M..512G, a multiple of 2M.
 * Computed in 128 bits, saturating, so no value wraps. */
static unsigned size_expect(const char *v, uint64_t *bytes)
{
	size_t n = strlen(v), i = 0;
	unsigned __int128 x = 0, cap = (unsigned __int128)1 << 100;
	unsigned shift = 0;

	if (v[0] < '0' || v[0] > '9' || (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')))
		return CMDLINE_P_NOT_DECIMAL;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		x = x > cap ? x : x * 10 + (unsigned)(v[i] - '0');
	if (i < n) {
		if (i + 1 != n || !strchr("kKmMgG", v[i]))
			return CMDLINE_P_BAD_SUFFIX;
		shift = strchr("kK", v[i]) ? 10 : strchr("mM", v[i]) ? 20 : 30;
	}
	x <<= shift;
	if (x > SYSPTE_MAX_SIZE)
		return CMDLINE_P_TOO_LARGE;
	if (x < SIZE_2M)
		return CMDLINE_P_TOO_SMALL;
	if (x % SIZE_2M)
		return CMDLINE_P_NOT_MULTIPLE;
	*bytes = (uint64_t)x;
	return CMDLINE_NPROBLEMS;
}

/* A string of n random decimal digits (the first nonzero when nz). */
static void digits(char *out, size_t n, bool nz)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('0' + (i == 0 && nz ? 1 + draw(9) : draw(10)));
	out[n] = 0;
}

/* A syspte= value: valid in some spelling, or one of the ways people get it wrong. */
static void gen_size(struct item *it)
{
	static const char *const suffixes[] = { "", "k", "K", "m", "M", "g", "G", "T", "t", "B", "KB", "MB", "GB",
		"MiB", "Gi", "G ", "g.", "%", "e9", "kk" };
	char v[120], d[80];

	switch (draw(8)) {
	case 0: case 1: {        /* valid: a multiple of 2M spelt in bytes, K, M or G, leading zeros or not */
		uint64_t mb2 = 1 + (draw(2) ? draw(256) : draw(SYSPTE_MAX_SIZE / SIZE_2M)), b = mb2 * SIZE_2M;
		const char *zeros = draw(4) ? "" : "000000000000000000000000";
		unsigned unit = (unsigned)draw(4);
		if (unit == 3 && b % SIZE_1G)
			unit = 2;
		uint64_t shown = unit == 0 ? b : b >> (unit * 10);
		snprintf(v, sizeof(v), "%s%llu%s", zeros, (unsigned long long)shown,
			 unit == 0 ? "" : unit == 1 ? (draw(2) ? "K" : "k") : unit == 2 ? (draw(2) ? "M" : "m") : (draw(2) ? "G" : "g"));
		it->cls = "size, valid spelling";
		break;
	}
	case 2: {                /* 11 to 40 digits: past 512G, most past 2^64 */
		digits(d, 11 + draw(30), true);
		snprintf(v, sizeof(v), "%s%s", d, suffixes[draw(7)]);
		it->cls = "size of many digits";
		break;
	}
	case 3: {                /* exactly around 2^64 and 512G, in bytes and in units */
		static const char *const edges[] = { "18446744073709551615", "18446744073709551616", "18446744073709551617",
			"36893488147419103232", "549755813888", "549755813889", "549755813886", "536870912K", "536870914K",
			"524288M", "524290M", "512G", "513G", "17179869184G", "17179869185G", "18014398509481984K",
			"18014398509481984M", "4294967296G", "2097152", "2097151", "2097153", "2047K", "2048K", "2050K",
			"1M", "2M", "0M", "0", "0G", "00000000000000000000000000002M" };
		snprintf(v, sizeof(v), "%s", edges[draw(sizeof(edges) / sizeof(edges[0]))]);
		it->cls = "size at an edge";
		break;
	}
	case 4: {                /* hex, signs, decimal points, spaces' neighbours */
		static const char *const bad[] = { "0x40000000", "0X40000000", "0x", "+1G", "-1G", "-64M", "1.5G", ".5G",
			"1,024M", "G", "M1", "1G1", "1e9", "0b10", "1_000M", "\xef\xbc\x91G" };
		snprintf(v, sizeof(v), "%s", bad[draw(sizeof(bad) / sizeof(bad[0]))]);
		it->cls = "size, not decimal or bad suffix";
		break;
	}
	default: {               /* a number of 1 to 6 digits with any suffix */
		digits(d, 1 + draw(6), draw(4) != 0);
		const char *sfx = suffixes[draw(sizeof(suffixes) / sizeof(suffixes[0]))];
		if (strchr(sfx, ' '))
			sfx = "G";       /* a space ends the word: not this case */
		snprintf(v, sizeof(v), "%s%s", d, sfx);
		it->cls = "size with a suffix";
		break;
	}
	}
	item_set(it, CMDLINE_SYSPTE, v);
	uint64_t b = 0;
	it->problem = size_expect(v, &b);
	it->kind = it->problem == CMDLINE_NPROBLEMS ? ITEM_VALID : ITEM_BAD;
	it->val.syspte = b;
	if (it->kind == ITEM_BAD && strchr(v, '\xef'))
		it->problem = CMDLINE_P_NOT_ASCII;   /* the fullwidth digit is not ASCII: that comes first */
}

/* A maxcpus= value: digits only, 1..255, leading zeros allowed. */
static void gen_count(struct item *it)
{
	char v[80], d[60];
	switch (draw(4)) {
	case 0: {
		unsigned n = 1 + (unsigned)draw(CMDLINE_MAXCPUS_MAX);
		snprintf(v, sizeof(v), "%s%u", draw(3) ? "" : "0000000000000000000000", n);
		it->kind = ITEM_VALID, it->val.maxcpus = (uint8_t)n;
		item_set(it, CMDLINE_MAXCPUS, v);
		it->cls = "count, valid";
		return;
	}
	case 1:
		digits(d, 4 + draw(40), true);       /* past 255, past 2^64 */
		snprintf(v, sizeof(v), "%s", d);
		break;
	case 2: {
		static const char *const bad[] = { "0", "00", "256", "0256", "1000", "-1", "+4", "4k", "4M", "0x4", "4.0", "four",
			"18446744073709551617", "18446744073709551680" };
		snprintf(v, sizeof(v), "%s", bad[draw(sizeof(bad) / sizeof(bad[0]))]);
		break;
	}
	default:
		snprintf(v, sizeof(v), "%u", 256 + (unsigned)draw(100000));
		break;
	}
	item_set(it, CMDLINE_MAXCPUS, v);
	it->kind = ITEM_BAD, it->problem = CMDLINE_P_BAD_NUMBER;
	it->cls = "count, invalid";
}

/* A value of a name or bool key: one of its names, or one in the wrong case, or another word. */
static void gen_name(struct item *it, unsigned key)
{
	const char *const *names = key == CMDLINE_ONEXIT ? onexits : key == CMDLINE_EXHAUST ? exhausts :
				   key == CMDLINE_CRASHTEST ? crashes : bools;
	size_t nn = key == CMDLINE_ONEXIT ? 3 : key == CMDLINE_EXHAUST ? 2 : key == CMDLINE_CRASHTEST ? 10 : 4;
	size_t idx = draw(nn);
	char v[40];

	if (draw(3)) {
		item_set(it, key, names[idx]);
		it->kind = ITEM_VALID;
		it->cls = "name, valid";
		switch (key) {
		case CMDLINE_ONEXIT: it->val.onexit = (uint8_t)idx; break;
		case CMDLINE_EXHAUST: it->val.exhaust = (uint8_t)idx; break;
		case CMDLINE_CRASHTEST: it->val.crashtest = (uint8_t)idx; break;
		case CMDLINE_MMAPDUMP: it->val.mmapdump = idx & 1; break;
		case CMDLINE_PTDUMP: it->val.ptdump = idx & 1; break;
		default: it->val.verifier = idx & 1; break;
		}
		return;
	}
	static const char *const others[] = { "yes", "no", "true", "false", "2", "01", "On", "OFF", "Halt", "QEMU",
		"reboot!", "halt,qemu", "=halt", "none1" };
	snprintf(v, sizeof(v), "%s", draw(2) ? others[draw(sizeof(others) / sizeof(others[0]))] : names[idx]);
	if (!strcmp(v, names[idx]) || draw(2)) {   /* a name in upper case is no name */
		for (char *p = v; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
	}
	item_set(it, key, v);
	bool is_name = false;
	for (size_t i = 0; i < nn; i++)
		is_name |= !strcmp(v, names[i]);
	if (is_name) {                       /* "0" and "1" stay themselves in upper case */
		it->kind = ITEM_VALID;
		size_t i = 0;
		while (strcmp(v, names[i]))
			i++;
		it->val.mmapdump = it->val.ptdump = it->val.verifier = i & 1;
		it->cls = "name, valid";
		return;
	}
	it->kind = ITEM_BAD, it->problem = CMDLINE_P_BAD_NAME;
	it->cls = "name, not one";
}

/* A ktest= prefix: 1..63 letters, digits or '_', or too long, or another byte. */
static void gen_prefix(struct item *it)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	char v[100];
	size_t n = draw(4) ? 1 + draw(CMDLINE_KTEST_MAX - 1) : CMDLINE_KTEST_MAX + draw(30);
	for (size_t i = 0; i < n; i++)
		v[i] = alpha[draw(sizeof(alpha) - 1)];
	v[n] = 0;
	bool bad_byte = draw(5) == 0;
	if (bad_byte)
		v[draw(n)] = "-.*/:,+'"[draw(8)];
	item_set(it, CMDLINE_KTEST, v);
	if (bad_byte || n >= CMDLINE_KTEST_MAX) {
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_BAD_PREFIX;
		it->cls = "prefix, invalid";
		return;
	}
	it->kind = ITEM_VALID;
	memcpy(it->val.ktest, v, n + 1);
	it->cls = "prefix, valid";
}

/* A word that names no key, has no '=', an empty value, or garbage bytes; or a comment. */
static void gen_other(struct item *it)
{
	unsigned key = (unsigned)draw(CMDLINE_NKEYS);
	switch (draw(8)) {
	case 0: {                /* empty value */
		item_set(it, key, "");
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_EMPTY, it->cls = "empty value";
		return;
	}
	case 1: {                /* no '=' */
		static const char *const words[] = { "quiet", "verifier", "syspte", "splash", "nomodeset", "1G", "-", "\"" };
		const char *w = words[draw(sizeof(words) / sizeof(words[0]))];
		it->len = (size_t)snprintf(it->text, sizeof(it->text), "%s", w);
		it->key = model_cmdline_key(w);
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_NO_EQUALS, it->cls = "no '='";
		return;
	}
	case 2: {                /* unknown or misspelt key (upper case, a typo, Linux's names) */
		static const char *const keys[] = { "SYSPTE", "Syspte", "onexti", "sysptes", "verifer", "maxcpu", "mem",
			"console", "root", "ktests", "", "onexit ", "crash_test" };
		const char *k = keys[draw(sizeof(keys) / sizeof(keys[0]))];
		if (strchr(k, ' '))
			k = "onexitt";
		it->len = (size_t)snprintf(it->text, sizeof(it->text), "%s=%s", k, draw(2) ? "1G" : "halt");
		it->key = CMDLINE_NOKEY;
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_UNKNOWN_KEY, it->cls = "unknown key";
		return;
	}
	case 3: case 4: {        /* a byte that is not printable ASCII, anywhere in an otherwise good word */
		static const uint8_t bytes[] = { 0x01, 0x07, 0x08, 0x1b, 0x7f, 0x80, 0xa0, 0xc3, 0xe2, 0xef, 0xfe, 0xff };
		gen_name(it, CMDLINE_ONEXIT);
		size_t at = draw(it->len + 1);
		memmove(it->text + at + 1, it->text + at, it->len - at + 1);
		it->text[at] = (char)bytes[draw(sizeof(bytes))];
		it->len++;
		char *eq = memchr(it->text, '=', it->len);
		it->key = eq && (size_t)(eq - it->text) == strlen("onexit") && !memcmp(it->text, "onexit", 6) ?
			  CMDLINE_ONEXIT : CMDLINE_NOKEY;
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_NOT_ASCII, it->cls = "trailing or embedded garbage";
		return;
	}
	case 5: {                /* a character beyond U+FFFF or a lone surrogate in the value (Notepad's emoji) */
		static const char *const chars[] = { "\xF0\x9F\x98\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF",
			"\xF0\x9F\x92\xBE", "\xED\xA0\x80", "\xED\xAF\xBF", "\xED\xB0\x80", "\xED\xBF\xBF" };
		const char *ch = chars[draw(sizeof(chars) / sizeof(chars[0]))];
		size_t cl = strlen(ch);
		gen_name(it, CMDLINE_ONEXIT);
		size_t eq = (size_t)((char *)memchr(it->text, '=', it->len) - it->text);
		size_t at = eq + 1 + draw(it->len - eq);
		memmove(it->text + at + cl, it->text + at, it->len - at + 1);
		memcpy(it->text + at, ch, cl);
		it->len += cl;
		it->key = CMDLINE_ONEXIT;
		it->utf8 = true;
		it->kind = ITEM_BAD, it->problem = CMDLINE_P_NOT_ASCII, it->cls = cl == 4 ? "beyond U+FFFF" : "lone surrogate";
		return;
	}
	default: {               /* a comment: a '#' word, then anything up to the line's end */
		static const char *const comments[] = { "# syspte=2M onexit=qemu", "#", "#verifier=1", "## \x80\xff garbage",
			"#\ttab\vvt\fff syspte=99999999999G" };
		it->len = (size_t)snprintf(it->text, sizeof(it->text), "%s", comments[draw(sizeof(comments) / sizeof(comments[0]))]);
		it->key = CMDLINE_NOKEY;
		it->kind = ITEM_COMMENT, it->cls = "comment";
		return;
	}
	}
}

/* One generated item of any class. */
static void gen_item(struct item *it)
{
	memset(it, 0, sizeof(*it));
	switch (draw(10)) {
	case 0: case 1: gen_size(it); break;
	case 2: gen_count(it); break;
	case 3: gen_prefix(it); break;
	case 4: case 5: gen_name(it, (unsigned[]){ CMDLINE_ONEXIT, CMDLINE_EXHAUST, CMDLINE_CRASHTEST, CMDLINE_MMAPDUMP,
						  CMDLINE_PTDUMP, CMDLINE_VERIFIER }[draw(6)]); break;
	default: gen_other(it); break;
	}
}

/* Copies the valid item's value into o. */
static void item_apply(const struct item *it, struct cmdline_opts *o)
{
	switch (it->key) {
	case CMDLINE_ONEXIT: o->onexit = it->val.onexit; break;
	case CMDLINE_SYSPTE: o->syspte = it->val.syspte; break;
	case CMDLINE_KTEST: memcpy(o->ktest, it->val.ktest, sizeof(o->ktest)); break;
	case CMDLINE_MMAPDUMP: o->mmapdump = it->val.mmapdump; break;
	case CMDLINE_PTDUMP: o->ptdump = it->val.ptdump; break;
	case CMDLINE_VERIFIER: o->verifier = it->val.verifier; break;
	case CMDLINE_EXHAUST: o->exhaust = it->val.exhaust; break;
	case CMDLINE_CRASHTEST: o->crashtest = it->val.crashtest; break;
	case CMDLINE_MAXCPUS: o->maxcpus = it->val.maxcpus; break;
	}
}

/* A file as the generator wrote it: raw bytes, and where each item's word lies in them. */
struct file {
	struct item items[ITEMS_MAX];
	size_t nitems;
	size_t start[ITEMS_MAX], end[ITEMS_MAX];   /* raw offsets of each item's bytes */
	uint8_t raw[RAW_MAX];
	size_t len;
	unsigned unit;                             /* bytes per character: 1, or 2 in UTF-16 */
	const char *enc;
};

/* Appends character b in the file's encoding. */
static void put(struct file *f, uint8_t b, bool be)
{
	if (f->unit == 2) {
		f->raw[f->len++] = be ? 0 : b;
		f->raw[f->len++] = be ? b : 0;
	} else {
		f->raw[f->len++] = b;
	}
}

/* Appends the item's text in the file's encoding: byte for byte, or in UTF-16 one unit a byte, or for
 * UTF-8 text one unit a character and a surrogate pair for one beyond U+FFFF. */
static void put_item(struct file *f, const struct item *it, bool be)
{
	for (size_t j = 0; j < it->len;) {
		uint8_t b = (uint8_t)it->text[j];
		if (f->unit == 1 || !it->utf8 || b < 0xC0) {
			put(f, b, be);
			j++;
			continue;
		}
		size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
		unsigned long cp = b & (0x7F >> n);
		for (size_t k = 1; k < n; k++)
			cp = cp << 6 | ((uint8_t)it->text[j + k] & 0x3F);
		j += n;
		unsigned units[2] = { (unsigned)cp, 0 }, nu = 1;
		if (cp >= 0x10000) {
			units[0] = 0xD800 + (unsigned)((cp - 0x10000) >> 10);
			units[1] = 0xDC00 + (unsigned)((cp - 0x10000) & 0x3FF);
			nu = 2;
		}
		for (unsigned u = 0; u < nu; u++) {
			f->raw[f->len++] = (uint8_t)(be ? units[u] >> 8 : units[u]);
			f->raw[f->len++] = (uint8_t)(be ? units[u] : units[u] >> 8);
		}
	}
}

/* A generated file: an encoding, items, separators between them (a line's end after a comment). */
static void gen_file(struct file *f)
{
	static const char *const seps[] = { " ", "  ", "\t", "\r\n", "\n", "\r\n\r\n", " \t\r\n", "\v", "\f", "\0", "\0\0\0" };
	static const size_t sep_len[] = { 1, 2, 1, 2, 1, 4, 4, 1, 1, 1, 3 };
	unsigned enc = (unsigned)draw(8);
	bool be = enc == 7;

	f->len = 0;
	f->unit = enc >= 6 ? 2 : 1;
	f->enc = enc < 4 ? "ASCII" : enc < 6 ? "UTF-8 with BOM" : be ? "UTF-16BE" : "UTF-16LE";
	if (enc == 4 || enc == 5) {
		memcpy(f->raw, "\xEF\xBB\xBF", 3);
		f->len = 3;
	} else if (f->unit == 2) {
		f->raw[0] = be ? 0xFE : 0xFF, f->raw[1] = be ? 0xFF : 0xFE;
		f->len = 2;
	}
	if (draw(3) == 0) {                   /* a separator before the first word */
		size_t s = draw(sizeof(seps) / sizeof(seps[0]));
		for (size_t j = 0; j < sep_len[s]; j++)
			put(f, (uint8_t)seps[s][j], be);
	}
	f->nitems = 1 + draw(draw(4) ? 12 : ITEMS_MAX);
	for (size_t i = 0; i < f->nitems; i++) {
		struct item *it = &f->items[i];
		gen_item(it);
		f->start[i] = f->len;
		put_item(f, it, be);
		f->end[i] = f->len;
		bool last = i + 1 == f->nitems;
		if (last && draw(3) == 0 && it->kind != ITEM_COMMENT)
			break;                     /* no separator after the last word */
		size_t s = it->kind == ITEM_COMMENT ? (draw(2) ? 3 : 4) : draw(sizeof(seps) / sizeof(seps[0]));
		for (size_t j = 0; j < sep_len[s]; j++)
			put(f, (uint8_t)seps[s][j], be);
	}
}

/* One expected diagnostic. */
struct want_diag {
	unsigned problem, key;
	size_t item;             /* the item it is about (INPUT_CUT: nitems) */
};

/* What the parse must give, from the generator's record alone. */
struct want {
	struct cmdline_opts opts;
	struct want_diag diag[4 * ITEMS_MAX];
	size_t ndiag, nignored;
};

/* The key a fragment's bytes name before its '=' (its whole text when it has none). */
static unsigned fragment_key(const struct item *it, size_t bytes)
{
	char k[ITEM_TEXT_MAX];
	size_t n = 0;
	while (n < bytes && it->text[n] != '=')
		n++;
	memcpy(k, it->text, n);
	k[n] = 0;
	return memchr(k, 0, n) ? CMDLINE_NOKEY : model_cmdline_key(k);
}

/*
 * Predicts the parse of the file's first len bytes. cut: the file is longer; exact: the loader says
 * whether a separator follows the cut (BOOTINFO_CMDLINE_CUT_AT_SEP), so only a word the cut splits
 * is a fragment; without it (an older loader) a word ending at the cut counts as one too.
 */
static void predict(const struct file *f, size_t len, bool cut, bool exact, struct want *w)
{
	size_t set_by[CMDLINE_NKEYS];
	size_t eff = f->unit == 2 && cut && len % 2 ? len - 1 : len;   /* half a UTF-16 unit is dropped */

	cmdline_defaults(&w->opts);
	w->ndiag = w->nignored = 0;
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		set_by[k] = SIZE_MAX;
	for (size_t i = 0; i < f->nitems && f->start[i] < eff; i++) {
		const struct item *it = &f->items[i];
		if (it->kind == ITEM_COMMENT)
			continue;      /* a comment has no effect, cut or not */
		if (cut && (f->end[i] > eff || (!exact && f->end[i] == eff))) {   /* split by the cut: a fragment */
			size_t chars = (eff - f->start[i]) / f->unit;
			w->diag[w->ndiag++] = (struct want_diag){ CMDLINE_P_CUT_WORD, fragment_key(it, chars), i };
			w->nignored++;
			break;
		}
		if (it->kind == ITEM_BAD) {
			w->diag[w->ndiag++] = (struct want_diag){ it->problem, it->key, i };
			w->nignored++;
			continue;
		}
		if (set_by[it->key] != SIZE_MAX)
			w->diag[w->ndiag++] = (struct want_diag){ CMDLINE_P_OVERRIDDEN, it->key, set_by[it->key] };
		set_by[it->key] = i;
		item_apply(it, &w->opts);
	}
	if (cut) {
		w->diag[w->ndiag++] = (struct want_diag){ CMDLINE_P_INPUT_CUT, CMDLINE_NOKEY, f->nitems };
		w->nignored++;
	}
}

static struct cmdline c;
static struct model_cmdline m;
static char why[512];

/* True when the options are the same, field by field. */
static bool opts_equal(const struct cmdline_opts *a, const struct cmdline_opts *b)
{
	return a->syspte == b->syspte && a->onexit == b->onexit && a->exhaust == b->exhaust &&
	       a->crashtest == b->crashtest && a->maxcpus == b->maxcpus && a->mmapdump == b->mmapdump &&
	       a->ptdump == b->ptdump && a->verifier == b->verifier && !strcmp(a->ktest, b->ktest);
}

/* Prints the file's items, for a failure. */
static void show_file(const struct file *f, size_t len, bool cut)
{
	printf("#   %s file, %zu bytes given%s, %zu items:\n", f->enc, len, cut ? " (cut)" : "", f->nitems);
	for (size_t i = 0; i < f->nitems; i++) {
		printf("#     [%zu] %s (%s) \"", i, f->items[i].kind == ITEM_VALID ? "valid" : f->items[i].kind == ITEM_BAD ?
		       "bad" : "comment", f->items[i].cls);
		for (size_t j = 0; j < f->items[i].len; j++) {
			uint8_t b = (uint8_t)f->items[i].text[j];
			printf(b >= 0x20 && b < 0x7f ? "%c" : "\\x%02x", b);
		}
		printf("\" raw [%zu, %zu)\n", f->start[i], f->end[i]);
	}
}

/* Checks one parse against the prediction; returns a reason, or NULL. */
static const char *check_parse(const struct file *f, const struct want *w, char *buf, size_t cap)
{
	if (!opts_equal(&c.opts, &w->opts)) {
		char got[300], want[300];
		cmdline_opts_format(&c.opts, got, sizeof(got));
		cmdline_opts_format(&w->opts, want, sizeof(want));
		snprintf(buf, cap, "options %s, want %s", got, want);
		return buf;
	}
	if (c.ndiag + c.ndropped != w->ndiag) {
		snprintf(buf, cap, "%zu diagnostics (%zu kept), want %zu", c.ndiag + c.ndropped, c.ndiag, w->ndiag);
		return buf;
	}
	if (c.ndiag != (w->ndiag < CMDLINE_DIAG_MAX ? w->ndiag : CMDLINE_DIAG_MAX)) {
		snprintf(buf, cap, "%zu diagnostics kept of %zu", c.ndiag, w->ndiag);
		return buf;
	}
	size_t ignored_kept = 0;
	for (size_t i = 0; i < c.ndiag; i++) {
		const struct cmdline_diag *d = &c.diag[i];
		const struct want_diag *e = &w->diag[i];
		if (d->problem != e->problem || d->key != e->key) {
			snprintf(buf, cap, "diagnostic %zu: problem %u key %u, want problem %u key %u (item %zu)", i, d->problem,
				 d->key, e->problem, e->key, e->item);
			return buf;
		}
		ignored_kept += d->problem != CMDLINE_P_OVERRIDDEN;
		/* the message names the word (its first bytes, as the item wrote them when ASCII) and the value in effect */
		char msg[1024], val[80], head[64];
		cmdline_diag_format(&c, i, msg, sizeof(msg));
		if (e->problem != CMDLINE_P_INPUT_CUT && e->problem != CMDLINE_P_CUT_WORD) {
			const struct item *it = &f->items[e->item];
			size_t n = it->len < 12 ? it->len : 12, j = 0;
			bool ascii = true;
			for (j = 0; j < n; j++)
				ascii &= it->text[j] >= 0x20 && it->text[j] < 0x7f && it->text[j] != '"' && it->text[j] != '\\';
			snprintf(head, sizeof(head), "cmdline: \"%.*s", (int)n, it->text);
			if (ascii && strncmp(msg, head, strlen(head))) {
				snprintf(buf, cap, "diagnostic %zu's message \"%.300s\" does not start with %s", i, msg, head);
				return buf;
			}
		}
		if (e->key < CMDLINE_NKEYS && e->problem != CMDLINE_P_OVERRIDDEN) {
			char tail[120];
			cmdline_value_format(&w->opts, e->key, val, sizeof(val));
			snprintf(tail, sizeof(tail), "; using %s=%s", key_names[e->key], val);
			size_t ml = strlen(msg), tl = strlen(tail);
			if (ml < tl || strcmp(msg + ml - tl, tail)) {
				snprintf(buf, cap, "diagnostic %zu's message \"%.300s\" does not end with \"%s\"", i, msg, tail);
				return buf;
			}
		}
		if (e->problem == CMDLINE_P_TOO_LARGE && !strstr(msg, "larger than 512G")) {
			snprintf(buf, cap, "diagnostic %zu's message \"%.300s\" does not say larger than 512G", i, msg);
			return buf;
		}
	}
	if (ignored_kept + c.ndropped_ignored != w->nignored) {
		snprintf(buf, cap, "%zu + %zu ignored words counted, want %zu", ignored_kept, c.ndropped_ignored, w->nignored);
		return buf;
	}
	return NULL;
}

/* True when one of the file's words (not a comment) ends exactly eff bytes in: a separator follows the cut. */
static bool word_ends_at(const struct file *f, size_t eff)
{
	for (size_t i = 0; i < f->nitems; i++)
		if (f->end[i] == eff && f->items[i].kind != ITEM_COMMENT)
			return true;
	return false;
}

/*
 * Generated files, whole and as the loader hands a long one over (bootinfo_cmdline_cut, and as a
 * loader without BOOTINFO_CMDLINE_CUT_AT_SEP did); each against the prediction and the model, and
 * the loader's flags against the model's reading of their definition.
 */
static void test_generated_files(void)
{
	static struct file f;
	static struct want w;
	int bad = 0, model_bad = 0, flags_bad = 0, runs = 0, cuts = 0, at_word_end = 0, many = 0, wide = 0;
	char buf[1200];

	for (int n = 0; n < FILES; n++) {
		gen_file(&f);
		/* pass 0: as the loader passes it; 1: as an older loader did (no CUT_AT_SEP); 2: whole */
		for (int pass = 0; pass < 3; pass++) {
			uint32_t flags = 0;
			size_t len = bootinfo_cmdline_cut(f.raw, (uint32_t)(f.len < BOOTINFO_CMDLINE_MAX ? f.len : BOOTINFO_CMDLINE_MAX),
							  &flags);
			bool cut = flags & BOOTINFO_CMDLINE_CUT;
			if (pass == 0 && flags != model_cmdline_flags(f.raw, f.len, len) && flags_bad++ < 5) {
				printf("#   loader flags %#x, the model's %#x\n", flags, model_cmdline_flags(f.raw, f.len, len));
				show_file(&f, len, cut);
			}
			if (pass == 1 && !cut)
				continue;   /* nothing cut: the older loader's flags are the same */
			if (pass == 1)
				flags = BOOTINFO_CMDLINE_CUT;
			if (pass == 2) {
				if (!cut || f.len * (f.unit == 2 ? 3 : 1) / f.unit > CMDLINE_TEXT_MAX)
					continue;   /* parsed whole in pass 0, or decoded past the parser's text */
				len = f.len, cut = false, flags = 0;
			}
			predict(&f, len, cut, pass == 0, &w);
			cmdline_parse(&c, f.raw, len, flags);
			runs++;
			cuts += cut;
			at_word_end += pass == 0 && cut && word_ends_at(&f, f.unit == 2 && len % 2 ? len - 1 : len);
			many += w.ndiag > CMDLINE_DIAG_MAX;
			for (size_t i = 0; i < c.ndiag; i++)
				wide += c.diag[i].problem == CMDLINE_P_TOO_LARGE;
			const char *r = check_parse(&f, &w, buf, sizeof(buf));
			if (r && bad++ < 5) {
				printf("#   pass %d: %s\n", pass, r);
				show_file(&f, len, cut);
			}
			model_cmdline_parse(&m, f.raw, len, flags);
			if (model_cmdline_check(&c, &m, why, sizeof(why)) && model_bad++ < 3) {
				printf("#   model: %s\n", why);
				show_file(&f, len, cut);
			}
		}
	}
	is(bad, 0, "%d generated USB-stick files (%d cut at %d bytes as the loader does or did, %d of them with a word "
	   "ending just before the cut, %d with more than %d diagnostics, %d sizes too large): options, diagnostics "
	   "in order, messages and counts as predicted", runs, cuts, LOADER_BYTES, at_word_end, many, CMDLINE_DIAG_MAX, wide);
	is(model_bad, 0, "the same %d files: the parser agrees with model_cmdline.c", runs);
	is(flags_bad, 0, "the loader's cut flags (bootinfo_cmdline_cut) are the model's reading of their definition");
}

/* Every size value a person may write (classes of gen_size), one word each: its problem or value as
 * 128-bit arithmetic says, never a wrapped value taken. */
static void test_size_words(void)
{
	int bad = 0, runs = 0, past64 = 0;
	char buf[300];

	for (int n = 0; n < 40000; n++) {
		struct item it;
		memset(&it, 0, sizeof(it));
		gen_size(&it);
		cmdline_parse(&c, it.text, it.len, false);
		runs++;
		past64 += it.len > 7 + 20;
		bool good = it.kind == ITEM_VALID ? c.ndiag == 0 && c.opts.syspte == it.val.syspte :
			    c.ndiag == 1 && c.diag[0].problem == it.problem && c.opts.syspte == SYSPTE_DEFAULT_SIZE;
		if (!good && bad++ < 5) {
			cmdline_diag_format(&c, 0, buf, sizeof(buf));
			printf("#   \"%s\" (%s): %zu diagnostics (%s), syspte %llu; want %s %u / %llu\n", it.text, it.cls,
			       c.ndiag, c.ndiag ? buf : "", (unsigned long long)c.opts.syspte,
			       it.kind == ITEM_VALID ? "value" : "problem", it.problem, (unsigned long long)it.val.syspte);
		}
	}
	is(bad, 0, "%d syspte= words (%d of more than 20 digits): each taken with its exact value or refused with "
	   "the problem README's rules give it", runs, past64);
}

int main(void)
{
	test_size_words();
	test_generated_files();
	return tap_done();
}
