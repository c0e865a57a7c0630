/*
 * Kernel command-line parsing: a pure function of the file's bytes (grammar and contract in
 * cmdline.h). Only types.h, vmlayout.h and bootinfo.h (its flag values) are included and no
 * library function is called, so the file compiles unchanged for the kernel and for the host
 * tests and fuzzer.
 */
#include "cmdline.h"
#include "vmlayout.h"
#include "bootinfo.h"

_Static_assert(CMDLINE_CUT == BOOTINFO_CMDLINE_CUT && CMDLINE_CUT_AT_SEP == BOOTINFO_CMDLINE_CUT_AT_SEP,
	       "the parser takes the loader's command-line flags as they are");

#define CMDLINE_SYSPTE_MIN SIZE_2M

enum cmdline_type { CMDLINE_T_BOOL, CMDLINE_T_SIZE, CMDLINE_T_NAME, CMDLINE_T_PREFIX, CMDLINE_T_COUNT };

/* One option: its key, value type and, for names, the accepted values (index = stored value). */
struct cmdline_option {
	const char *key;
	uint8_t type;
	uint8_t nnames;
	const char *const *names;
};

static const char *const cmdline_bool_names[] = { "0", "1", "off", "on" };
static const char *const cmdline_onexit_names[] = { "halt", "qemu", "reboot" };
static const char *const cmdline_exhaust_names[] = { "budget", "full" };
static const char *const cmdline_crash_names[] = { "none", "panic", "pf", "reserved", "stack", "bugcheck", "nmi", "leak", "panic2", "finish2", "early", "screen",
	"reclaim", "unsealed" };
_Static_assert(sizeof(cmdline_crash_names) / sizeof(cmdline_crash_names[0]) == CMDLINE_CRASH_COUNT, "a name per crash test");

static const struct cmdline_option cmdline_options[CMDLINE_NKEYS] = {
	[CMDLINE_ONEXIT] = { "onexit", CMDLINE_T_NAME, 3, cmdline_onexit_names },
	[CMDLINE_SYSPTE] = { "syspte", CMDLINE_T_SIZE, 0, 0 },
	[CMDLINE_KTEST] = { "ktest", CMDLINE_T_PREFIX, 0, 0 },
	[CMDLINE_MMAPDUMP] = { "mmapdump", CMDLINE_T_BOOL, 4, cmdline_bool_names },
	[CMDLINE_PTDUMP] = { "ptdump", CMDLINE_T_BOOL, 4, cmdline_bool_names },
	[CMDLINE_VERIFIER] = { "verifier", CMDLINE_T_BOOL, 4, cmdline_bool_names },
	[CMDLINE_EXHAUST] = { "exhaust", CMDLINE_T_NAME, 2, cmdline_exhaust_names },
	[CMDLINE_CRASHTEST] = { "crashtest", CMDLINE_T_NAME, CMDLINE_CRASH_COUNT, cmdline_crash_names },
	[CMDLINE_MAXCPUS] = { "maxcpus", CMDLINE_T_COUNT, 0, 0 },
};

/* ---------------------------------------------------------------- small pure helpers */

/* Length of the NUL-terminated s. */
static size_t cmdline_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* True when the n bytes at p are exactly the string s. */
static bool cmdline_equals(const char *p, size_t n, const char *s)
{
	size_t i = 0;
	for (; i < n; i++)
		if (!s[i] || s[i] != p[i])
			return false;
	return !s[i];
}

/* True for the bytes that separate words: the set the loader's cut tests too (bootinfo.h), so the
 * two agree on where a word ends. */
static bool cmdline_is_sep(uint8_t b)
{
	return bootinfo_cmdline_is_sep(b);
}

/* True for an ASCII decimal digit. */
static bool cmdline_is_digit(uint8_t b) { return b >= '0' && b <= '9'; }

/* True for the bytes of a test-name prefix: letters, digits and '_'. */
static bool cmdline_is_word_byte(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || cmdline_is_digit(b) || b == '_';
}

/* b with ASCII upper case folded to lower case. */
static uint8_t cmdline_lower(uint8_t b) { return b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b; }

/*
 * Optimal-string-alignment distance between a[0, n) and the string b (case-insensitive), or
 * more than 2 when either is longer than 16 bytes: only small distances are wanted.
 */
static unsigned cmdline_distance(const char *a, size_t n, const char *b)
{
	enum { L = 16 };
	size_t m = cmdline_strlen(b);
	if (n > L || m > L)
		return 3;
	unsigned d[L + 1][L + 1];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = cmdline_lower((uint8_t)a[i - 1]) != (uint8_t)b[j - 1];
			unsigned v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
			v = MIN(v, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && cmdline_lower((uint8_t)a[i - 1]) == (uint8_t)b[j - 2] &&
			    cmdline_lower((uint8_t)a[i - 2]) == (uint8_t)b[j - 1])
				v = MIN(v, d[i - 2][j - 2] + 1);
			d[i][j] = v;
		}
	return d[n][m];
}

/* The key whose name is closest to a[0, n) (distance 1 or 2, and less than n), or CMDLINE_NOKEY. */
static uint8_t cmdline_suggest_key(const char *a, size_t n)
{
	unsigned best = 3, key = CMDLINE_NOKEY;
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++) {
		unsigned d = cmdline_distance(a, n, cmdline_options[k].key);
		if (d < best && d < n) {
			best = d;
			key = k;
		}
	}
	return (uint8_t)key;
}

/* ---------------------------------------------------------------- decoding */

/* UTF-16 surrogates (a high one then a low one encode a code point from U+10000) and UTF-8 bytes. */
#define CMDLINE_SURR_HIGH   0xD800u
#define CMDLINE_SURR_LOW    0xDC00u
#define CMDLINE_SURR_END    0xE000u
#define CMDLINE_SURR_BITS   10        /* code point bits each surrogate carries */
#define CMDLINE_CP_SUPPL    0x10000u  /* the first code point a surrogate pair encodes */
#define CMDLINE_UTF8_CONT   0x80u     /* continuation byte: this, then 6 bits */
#define CMDLINE_UTF8_BITS   6
#define CMDLINE_UTF8_MAX    4         /* bytes of the longest sequence */

/*
 * Appends the n bytes of one character to c->text, all or none. None when they do not all fit:
 * the text is cut before the character, inside a word unless the character is a separator.
 */
static bool cmdline_put(struct cmdline *c, const uint8_t *b, size_t n)
{
	if (c->text_len + n > CMDLINE_TEXT_MAX) {
		c->cut = c->text_full = true;
		c->cut_in_word = !(n == 1 && cmdline_is_sep(b[0]));
		return false;
	}
	for (size_t i = 0; i < n; i++)
		c->text[c->text_len++] = (char)b[i];
	return true;
}

/* Appends the UTF-8 encoding of cp (below U+110000; a lone surrogate is encoded as its value). */
static bool cmdline_put_cp(struct cmdline *c, uint32_t cp)
{
	static const uint8_t lead[CMDLINE_UTF8_MAX + 1] = { 0, 0, 0xC0, 0xE0, 0xF0 };
	uint8_t b[CMDLINE_UTF8_MAX];
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < CMDLINE_CP_SUPPL ? 3 : 4;

	if (n == 1) {
		b[0] = (uint8_t)cp;
		return cmdline_put(c, b, 1);
	}
	for (size_t k = n - 1; k > 0; k--, cp >>= CMDLINE_UTF8_BITS)
		b[k] = (uint8_t)(CMDLINE_UTF8_CONT | (cp & ((1u << CMDLINE_UTF8_BITS) - 1)));
	b[0] = (uint8_t)(lead[n] | cp);
	return cmdline_put(c, b, n);
}

/* The UTF-16 unit at raw[i, i + 2) in the byte order be says. */
static uint32_t cmdline_unit(const uint8_t *raw, size_t i, bool be)
{
	return be ? (uint32_t)raw[i] << 8 | raw[i + 1] : raw[i] | (uint32_t)raw[i + 1] << 8;
}

/*
 * Fills c->text from UTF-16 raw[2, len): an odd last byte is one unit, except in a cut input,
 * where it is half a unit of unknown value (the high byte of an ASCII unit in UTF-16BE reads as
 * NUL, a separator) and is dropped; a high surrogate directly followed by a low one is one code
 * point, any other surrogate is lone (cmdline.h).
 */
static void cmdline_decode_utf16(struct cmdline *c, const uint8_t *raw, size_t len)
{
	bool be = c->encoding == CMDLINE_ENC_UTF16BE;
	if (c->cut && len % 2)
		len--;
	for (size_t i = 2; i < len;) {
		uint32_t cp = i + 1 < len ? cmdline_unit(raw, i, be) : raw[i];
		i += 2;
		if (cp >= CMDLINE_SURR_HIGH && cp < CMDLINE_SURR_LOW && i + 1 < len) {
			uint32_t low = cmdline_unit(raw, i, be);
			if (low >= CMDLINE_SURR_LOW && low < CMDLINE_SURR_END) {
				cp = CMDLINE_CP_SUPPL + ((cp - CMDLINE_SURR_HIGH) << CMDLINE_SURR_BITS) + (low - CMDLINE_SURR_LOW);
				i += 2;
			}
		}
		if (!cmdline_put_cp(c, cp))
			return;
	}
}

/* Fills c->text from raw: byte-order mark skipped, UTF-16 decoded, 8-bit text byte for byte. */
static void cmdline_decode(struct cmdline *c, const uint8_t *raw, size_t len)
{
	size_t i = 0;
	if (len >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF) {
		c->encoding = CMDLINE_ENC_UTF8_BOM;
		i = 3;
	} else if (len >= 2 && ((raw[0] == 0xFF && raw[1] == 0xFE) || (raw[0] == 0xFE && raw[1] == 0xFF))) {
		c->encoding = raw[0] == 0xFF ? CMDLINE_ENC_UTF16LE : CMDLINE_ENC_UTF16BE;
		cmdline_decode_utf16(c, raw, len);
		return;
	}
	for (; i < len; i++)
		if (!cmdline_put(c, raw + i, 1))
			return;
}

/* ---------------------------------------------------------------- words */

/* Records a diagnostic (or counts it when the array is full, apart as well when it says a word
 * had no effect: the summary's count of ignored words must not include overridden ones). */
static void cmdline_diag(struct cmdline *c, unsigned problem, unsigned key, unsigned suggest, size_t off, size_t len)
{
	if (c->ndiag >= CMDLINE_DIAG_MAX) {
		c->ndropped++;
		c->ndropped_ignored += problem != CMDLINE_P_OVERRIDDEN;
		return;
	}
	c->diag[c->ndiag++] = (struct cmdline_diag){ .problem = (uint8_t)problem, .key = (uint8_t)key,
		.suggest = (uint8_t)suggest, .off = (uint16_t)off, .len = (uint16_t)len };
}

/* The key named by p[0, n), or CMDLINE_NOKEY. */
static unsigned cmdline_lookup(const char *p, size_t n)
{
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		if (cmdline_equals(p, n, cmdline_options[k].key))
			return k;
	return CMDLINE_NOKEY;
}

/* Parses a size value; returns CMDLINE_NPROBLEMS and *out on success, else the problem. */
static unsigned cmdline_parse_size(const char *v, size_t n, uint64_t *out)
{
	if (!cmdline_is_digit((uint8_t)v[0]) || (n >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')))
		return CMDLINE_P_NOT_DECIMAL;
	uint64_t x = 0;
	bool overflow = false;
	size_t i = 0;
	for (; i < n && cmdline_is_digit((uint8_t)v[i]); i++) {
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			x = x * 10 + d;
	}
	unsigned shift = 0;
	if (i < n) {
		switch (cmdline_lower((uint8_t)v[i])) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		default: return CMDLINE_P_BAD_SUFFIX;
		}
		if (i + 1 != n)
			return CMDLINE_P_BAD_SUFFIX;
	}
	if (overflow || x > (SYSPTE_MAX_SIZE >> shift))
		return CMDLINE_P_TOO_LARGE;
	x <<= shift;
	if (x < CMDLINE_SYSPTE_MIN)
		return CMDLINE_P_TOO_SMALL;
	if (!IS_ALIGNED(x, SIZE_2M))
		return CMDLINE_P_NOT_MULTIPLE;
	*out = x;
	return CMDLINE_NPROBLEMS;
}

/* Parses a count value: digits only, 1..CMDLINE_MAXCPUS_MAX; CMDLINE_NPROBLEMS and *out, else the problem. */
static unsigned cmdline_parse_count(const char *v, size_t n, uint8_t *out)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cmdline_is_digit((uint8_t)v[i]))
			return CMDLINE_P_BAD_NUMBER;
		x = x * 10 + (unsigned)(v[i] - '0');
		if (x > CMDLINE_MAXCPUS_MAX)   /* stays small: no overflow however many digits */
			return CMDLINE_P_BAD_NUMBER;
	}
	if (x < 1)
		return CMDLINE_P_BAD_NUMBER;
	*out = (uint8_t)x;
	return CMDLINE_NPROBLEMS;
}

/* Parses v[0, n) (n >= 1) as key's value and stores it in o; returns CMDLINE_NPROBLEMS or the problem. */
static unsigned cmdline_apply(struct cmdline_opts *o, unsigned key, const char *v, size_t n)
{
	const struct cmdline_option *opt = &cmdline_options[key];
	if (opt->type == CMDLINE_T_SIZE)
		return cmdline_parse_size(v, n, &o->syspte);
	if (opt->type == CMDLINE_T_COUNT)
		return cmdline_parse_count(v, n, &o->maxcpus);
	if (opt->type == CMDLINE_T_PREFIX) {
		if (n >= CMDLINE_KTEST_MAX)
			return CMDLINE_P_BAD_PREFIX;
		for (size_t i = 0; i < n; i++)
			if (!cmdline_is_word_byte((uint8_t)v[i]))
				return CMDLINE_P_BAD_PREFIX;
		for (size_t i = 0; i < n; i++)
			o->ktest[i] = v[i];
		o->ktest[n] = 0;
		return CMDLINE_NPROBLEMS;
	}
	unsigned idx = opt->nnames;
	for (unsigned i = 0; i < opt->nnames; i++)
		if (cmdline_equals(v, n, opt->names[i]))
			idx = i;
	if (idx == opt->nnames)
		return CMDLINE_P_BAD_NAME;
	switch (key) {
	case CMDLINE_ONEXIT: o->onexit = (uint8_t)idx; break;
	case CMDLINE_EXHAUST: o->exhaust = (uint8_t)idx; break;
	case CMDLINE_CRASHTEST: o->crashtest = (uint8_t)idx; break;
	case CMDLINE_MMAPDUMP: o->mmapdump = idx & 1; break;
	case CMDLINE_PTDUMP: o->ptdump = idx & 1; break;
	case CMDLINE_VERIFIER: o->verifier = idx & 1; break;
	}
	return CMDLINE_NPROBLEMS;
}

/* Handles the word text[off, off + len); fragment: it may be cut, so it has no effect. */
static void cmdline_word(struct cmdline *c, size_t off, size_t len, bool fragment)
{
	const char *w = c->text + off;
	size_t eq = 0;
	while (eq < len && w[eq] != '=')
		eq++;
	unsigned key = cmdline_lookup(w, eq);
	if (fragment) {
		cmdline_diag(c, CMDLINE_P_CUT_WORD, key, CMDLINE_NOKEY, off, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)w[i] < 0x21 || (uint8_t)w[i] > 0x7E) {
			cmdline_diag(c, CMDLINE_P_NOT_ASCII, key, CMDLINE_NOKEY, off, len);
			return;
		}
	if (eq == len || key == CMDLINE_NOKEY) {
		unsigned suggest = key != CMDLINE_NOKEY ? key : cmdline_suggest_key(w, eq);
		cmdline_diag(c, eq == len ? CMDLINE_P_NO_EQUALS : CMDLINE_P_UNKNOWN_KEY, key, suggest, off, len);
		return;
	}
	if (eq + 1 == len) {
		cmdline_diag(c, CMDLINE_P_EMPTY, key, CMDLINE_NOKEY, off, len);
		return;
	}
	struct cmdline_opts o = c->opts;
	unsigned p = cmdline_apply(&o, key, w + eq + 1, len - eq - 1);
	if (p != CMDLINE_NPROBLEMS) {
		cmdline_diag(c, p, key, CMDLINE_NOKEY, off, len);
		return;
	}
	if (c->set_by[key] >= 0) {
		size_t prev = (size_t)c->set_by[key], plen = 0;
		while (prev + plen < c->text_len && !cmdline_is_sep((uint8_t)c->text[prev + plen]))
			plen++;
		cmdline_diag(c, CMDLINE_P_OVERRIDDEN, key, CMDLINE_NOKEY, prev, plen);
	}
	c->opts = o;
	c->set_by[key] = (int32_t)off;
}

void cmdline_defaults(struct cmdline_opts *o)
{
	*o = (struct cmdline_opts){ .syspte = SYSPTE_DEFAULT_SIZE, .onexit = CMDLINE_ONEXIT_HALT,
		.exhaust = CMDLINE_EXHAUST_BUDGET, .crashtest = CMDLINE_CRASH_NONE, .maxcpus = CMDLINE_MAXCPUS_MAX };
}

void cmdline_parse(struct cmdline *c, const void *raw, size_t len, unsigned flags)
{
	c->text_len = c->ndiag = c->ndropped = c->ndropped_ignored = 0;
	c->raw_len = len;
	c->cut = flags & CMDLINE_CUT;
	c->cut_in_word = c->cut && !(flags & CMDLINE_CUT_AT_SEP);
	c->text_full = false;
	c->encoding = CMDLINE_ENC_ASCII;
	cmdline_defaults(&c->opts);
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		c->set_by[k] = -1;
	cmdline_decode(c, raw, len);
	const uint8_t *t = (const uint8_t *)c->text;
	size_t n = c->text_len, i = 0;
	while (i < n) {
		if (cmdline_is_sep(t[i])) {
			i++;
			continue;
		}
		size_t start = i;
		if (t[i] == '#') {   /* a comment: up to the end of the line */
			while (i < n && t[i] != '\n' && t[i] != '\r')
				i++;
			continue;
		}
		while (i < n && !cmdline_is_sep(t[i]))
			i++;
		cmdline_word(c, start, i - start, c->cut_in_word && i == n);
	}
	if (c->cut)
		cmdline_diag(c, CMDLINE_P_INPUT_CUT, CMDLINE_NOKEY, CMDLINE_NOKEY, n, 0);
}

/* ---------------------------------------------------------------- messages */

/* A bounded string builder: never writes past cap, always NUL-terminated when cap > 0. */
struct cmdline_fmt {
	char *buf;
	size_t cap, len;
};

/* A builder over buf, which holds the empty string from here on (when cap > 0). */
static struct cmdline_fmt cmdline_fmt_start(char *buf, size_t cap)
{
	if (cap)
		buf[0] = 0;
	return (struct cmdline_fmt){ buf, cap, 0 };
}

/* Appends one byte when room is left (one byte always stays for the NUL). */
static void cmdline_fmt_byte(struct cmdline_fmt *f, char ch)
{
	if (f->len + 1 < f->cap) {
		f->buf[f->len++] = ch;
		f->buf[f->len] = 0;
	}
}

/* Appends the NUL-terminated s. */
static void cmdline_fmt_str(struct cmdline_fmt *f, const char *s)
{
	while (*s)
		cmdline_fmt_byte(f, *s++);
}

/* Appends v in decimal. */
static void cmdline_fmt_u64(struct cmdline_fmt *f, uint64_t v)
{
	char d[20];
	int n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		cmdline_fmt_byte(f, d[--n]);
}

/* Appends b as itself when printable ASCII other than '\\' and '"', else as \xNN. */
static void cmdline_fmt_escaped(struct cmdline_fmt *f, uint8_t b)
{
	static const char hex[] = "0123456789abcdef";
	if (b >= 0x20 && b <= 0x7E && b != '\\' && b != '"') {
		cmdline_fmt_byte(f, (char)b);
		return;
	}
	cmdline_fmt_byte(f, '\\');
	cmdline_fmt_byte(f, 'x');
	cmdline_fmt_byte(f, hex[b >> 4]);
	cmdline_fmt_byte(f, hex[b & 15]);
}

/* Appends "word" quoted and escaped, at most CMDLINE_WORD_SHOWN bytes of it. */
static void cmdline_fmt_word(struct cmdline_fmt *f, const char *w, size_t n)
{
	cmdline_fmt_byte(f, '"');
	for (size_t i = 0; i < n && i < CMDLINE_WORD_SHOWN; i++)
		cmdline_fmt_escaped(f, (uint8_t)w[i]);
	if (n > CMDLINE_WORD_SHOWN)
		cmdline_fmt_str(f, "...");
	cmdline_fmt_byte(f, '"');
}

/* Appends a byte count as "1G" or "64M" (the largest exact unit), else in bytes. */
static void cmdline_fmt_size(struct cmdline_fmt *f, uint64_t bytes)
{
	if (bytes && IS_ALIGNED(bytes, SIZE_1G)) {
		cmdline_fmt_u64(f, bytes >> 30);
		cmdline_fmt_byte(f, 'G');
	} else if (IS_ALIGNED(bytes, 1ULL << 20)) {
		cmdline_fmt_u64(f, bytes >> 20);
		cmdline_fmt_byte(f, 'M');
	} else {
		cmdline_fmt_u64(f, bytes);
	}
}

/* Appends key's value in o as the value part of key=value. */
static void cmdline_fmt_value(struct cmdline_fmt *f, const struct cmdline_opts *o, unsigned key)
{
	switch (key) {
	case CMDLINE_ONEXIT: cmdline_fmt_str(f, cmdline_onexit_names[o->onexit % 3]); break;
	case CMDLINE_SYSPTE: cmdline_fmt_size(f, o->syspte); break;
	case CMDLINE_KTEST: cmdline_fmt_str(f, o->ktest[0] ? o->ktest : "(every test)"); break;
	case CMDLINE_MMAPDUMP: cmdline_fmt_byte(f, o->mmapdump ? '1' : '0'); break;
	case CMDLINE_PTDUMP: cmdline_fmt_byte(f, o->ptdump ? '1' : '0'); break;
	case CMDLINE_VERIFIER: cmdline_fmt_byte(f, o->verifier ? '1' : '0'); break;
	case CMDLINE_EXHAUST: cmdline_fmt_str(f, cmdline_exhaust_names[o->exhaust % 2]); break;
	case CMDLINE_CRASHTEST: cmdline_fmt_str(f, cmdline_crash_names[o->crashtest % CMDLINE_CRASH_COUNT]); break;
	case CMDLINE_MAXCPUS: cmdline_fmt_u64(f, o->maxcpus); break;
	}
}

/* Appends "the accepted values" of key, as a reader would write them. */
static void cmdline_fmt_accepted(struct cmdline_fmt *f, unsigned key)
{
	const struct cmdline_option *opt = &cmdline_options[key];
	if (opt->type == CMDLINE_T_SIZE) {
		cmdline_fmt_str(f, "a decimal size with an optional K, M or G, a multiple of 2M from 2M to 512G");
		return;
	}
	if (opt->type == CMDLINE_T_PREFIX) {
		cmdline_fmt_str(f, "a test-name prefix of 1 to 63 letters, digits or '_'");
		return;
	}
	if (opt->type == CMDLINE_T_COUNT) {
		cmdline_fmt_str(f, "a whole number from 1 to ");
		cmdline_fmt_u64(f, CMDLINE_MAXCPUS_MAX);
		return;
	}
	for (unsigned i = 0; i < opt->nnames; i++) {
		cmdline_fmt_str(f, i == 0 ? "" : i + 1 == opt->nnames ? " or " : ", ");
		cmdline_fmt_str(f, opt->names[i]);
	}
}

const char *cmdline_key_name(unsigned key)
{
	return key < CMDLINE_NKEYS ? cmdline_options[key].key : "?";
}

/* What each problem says after "ignored: " (BAD_NAME, BAD_PREFIX and BAD_NUMBER go on with the accepted values). */
static const char *const cmdline_problem_text[CMDLINE_NPROBLEMS] = {
	[CMDLINE_P_NOT_ASCII] = "a byte that is not printable ASCII",
	[CMDLINE_P_NO_EQUALS] = "not key=value",
	[CMDLINE_P_UNKNOWN_KEY] = "no such option",
	[CMDLINE_P_EMPTY] = "empty value",
	[CMDLINE_P_BAD_NAME] = "not ",
	[CMDLINE_P_NOT_DECIMAL] = "not a decimal size (hex and signs are not accepted)",
	[CMDLINE_P_BAD_SUFFIX] = "unknown suffix (K, M or G)",
	[CMDLINE_P_TOO_LARGE] = "larger than 512G",
	[CMDLINE_P_TOO_SMALL] = "smaller than 2M",
	[CMDLINE_P_NOT_MULTIPLE] = "not a multiple of 2M",
	[CMDLINE_P_BAD_PREFIX] = "not ",
	[CMDLINE_P_OVERRIDDEN] = "overridden by a later ",
	[CMDLINE_P_CUT_WORD] = "cut at the end of the input (possibly a fragment)",
	[CMDLINE_P_INPUT_CUT] = "",
	[CMDLINE_P_BAD_NUMBER] = "not ",
};

/* True when the size value of the word w[0, n) (key=value) goes on after its digits with a decimal
 * point or comma ("1.5G", "0,5G"): a fraction, whose BAD_SUFFIX says so rather than naming a
 * suffix the word may well have. */
static bool cmdline_size_fraction(const char *w, size_t n)
{
	size_t i = 0;
	while (i < n && w[i] != '=')
		i++;
	for (i++; i < n && cmdline_is_digit((uint8_t)w[i]); i++)
		;
	return i < n && (w[i] == '.' || w[i] == ',');
}

size_t cmdline_diag_format(const struct cmdline *c, size_t i, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	if (i >= c->ndiag)
		return 0;
	const struct cmdline_diag *d = &c->diag[i];
	cmdline_fmt_str(&f, "cmdline: ");
	if (d->problem == CMDLINE_P_INPUT_CUT && c->text_full) {
		cmdline_fmt_str(&f, "the command line decodes to more than the ");
		cmdline_fmt_u64(&f, CMDLINE_TEXT_MAX);
		cmdline_fmt_str(&f, " bytes the parser keeps; the rest is ignored");
		return f.len;
	}
	if (d->problem == CMDLINE_P_INPUT_CUT) {
		cmdline_fmt_str(&f, "the command line is longer than the ");
		cmdline_fmt_u64(&f, c->raw_len);
		cmdline_fmt_str(&f, " bytes read; the rest is ignored");
		return f.len;
	}
	cmdline_fmt_word(&f, c->text + d->off, d->len);
	cmdline_fmt_str(&f, d->problem == CMDLINE_P_OVERRIDDEN ? " " : " ignored: ");
	if (d->problem == CMDLINE_P_BAD_SUFFIX && cmdline_size_fraction(c->text + d->off, d->len))
		cmdline_fmt_str(&f, "a fraction (sizes are whole numbers with an optional K, M or G: 1536M, not 1.5G)");
	else
		cmdline_fmt_str(&f, d->problem < CMDLINE_NPROBLEMS ? cmdline_problem_text[d->problem] : "?");
	if (d->problem == CMDLINE_P_BAD_NAME || d->problem == CMDLINE_P_BAD_PREFIX || d->problem == CMDLINE_P_BAD_NUMBER)
		cmdline_fmt_accepted(&f, d->key);
	if (d->problem == CMDLINE_P_OVERRIDDEN) {
		cmdline_fmt_str(&f, cmdline_key_name(d->key));
		cmdline_fmt_byte(&f, '=');
	}
	if ((d->problem == CMDLINE_P_NO_EQUALS || d->problem == CMDLINE_P_UNKNOWN_KEY) && d->suggest < CMDLINE_NKEYS) {
		cmdline_fmt_str(&f, d->key < CMDLINE_NKEYS ? " (write " : " (did you mean ");
		cmdline_fmt_str(&f, cmdline_key_name(d->suggest));
		cmdline_fmt_str(&f, d->key < CMDLINE_NKEYS ? "=VALUE)" : "?)");
	} else if (d->problem == CMDLINE_P_NO_EQUALS || d->problem == CMDLINE_P_UNKNOWN_KEY) {
		cmdline_fmt_str(&f, " (options:");
		for (unsigned k = 0; k < CMDLINE_NKEYS; k++) {
			cmdline_fmt_byte(&f, ' ');
			cmdline_fmt_str(&f, cmdline_options[k].key);
		}
		cmdline_fmt_byte(&f, ')');
	}
	if (d->key < CMDLINE_NKEYS) {
		cmdline_fmt_str(&f, "; using ");
		cmdline_fmt_str(&f, cmdline_key_name(d->key));
		cmdline_fmt_byte(&f, '=');
		cmdline_fmt_value(&f, &c->opts, d->key);
	}
	return f.len;
}

bool cmdline_diag_ignored(const struct cmdline *c, size_t i)
{
	return i < c->ndiag && c->diag[i].problem != CMDLINE_P_OVERRIDDEN;
}

size_t cmdline_diag_word(const struct cmdline *c, size_t i, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	if (i >= c->ndiag)
		return 0;
	if (c->diag[i].problem == CMDLINE_P_INPUT_CUT) {
		cmdline_fmt_str(&f, "(the rest after ");
		cmdline_fmt_u64(&f, c->text_full ? c->text_len : c->raw_len);
		cmdline_fmt_str(&f, c->text_full ? " decoded bytes)" : " bytes)");
	} else {
		cmdline_fmt_word(&f, c->text + c->diag[i].off, c->diag[i].len);
	}
	return f.len;
}

size_t cmdline_value_format(const struct cmdline_opts *o, unsigned key, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	if (key < CMDLINE_NKEYS)
		cmdline_fmt_value(&f, o, key);
	return f.len;
}

size_t cmdline_opts_format(const struct cmdline_opts *o, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++) {
		if (k == CMDLINE_KTEST && !o->ktest[0])
			continue;   /* every test: no ktest= word gives that */
		if (f.len)
			cmdline_fmt_byte(&f, ' ');
		cmdline_fmt_str(&f, cmdline_options[k].key);
		cmdline_fmt_byte(&f, '=');
		cmdline_fmt_value(&f, o, k);
	}
	return f.len;
}

size_t cmdline_text_format(const struct cmdline *c, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	bool gap = false;
	for (size_t i = 0; i < c->text_len; i++) {
		uint8_t b = (uint8_t)c->text[i];
		if (cmdline_is_sep(b)) {
			gap = f.len > 0;
			continue;
		}
		if (gap)
			cmdline_fmt_byte(&f, ' ');
		gap = false;
		cmdline_fmt_escaped(&f, b);
	}
	return f.len;
}

size_t cmdline_size_format(uint64_t bytes, char *buf, size_t cap)
{
	struct cmdline_fmt f = cmdline_fmt_start(buf, cap);
	cmdline_fmt_size(&f, bytes);
	return f.len;
}
