/*
 * Reference model of the command-line grammar (contract in kernel/cmdline.h); see model_cmdline.h.
 * Deliberately written another way than kernel/cmdline.c: code points instead of byte pairs,
 * strcmp/strspn tables, 128-bit arithmetic for sizes.
 */
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include "model_cmdline.h"
#include "vmlayout.h"

#define RAW_UNITS_MAX (4 * CMDLINE_TEXT_MAX)   /* units decoded at most: more cannot fit the text anyway */

static const char *const bool_names[] = { "0", "1", "off", "on", NULL };
static const char *const onexit_names[] = { "halt", "qemu", "reboot", NULL };
static const char *const exhaust_names[] = { "budget", "full", NULL };
static const char *const crash_names[] = { "none", "panic", "pf", "reserved", "stack", "bugcheck", "nmi", "leak", "panic2", "finish2", "early", "screen", "reclaim", "unsealed", NULL };
static const char *const keys[CMDLINE_NKEYS] = { "onexit", "syspte", "ktest", "mmapdump", "ptdump", "verifier",
	"exhaust", "crashtest", "maxcpus" };

unsigned model_cmdline_key(const char *s)
{
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		if (!strcmp(s, keys[k]))
			return k;
	return CMDLINE_NOKEY;
}

const char *const *model_cmdline_names(unsigned key)
{
	switch (key) {
	case CMDLINE_ONEXIT: return onexit_names;
	case CMDLINE_EXHAUST: return exhaust_names;
	case CMDLINE_CRASHTEST: return crash_names;
	case CMDLINE_MMAPDUMP: case CMDLINE_PTDUMP: case CMDLINE_VERIFIER: return bool_names;
	default: return NULL;
	}
}

/* ---------------------------------------------------------------- decoding */

static const char model_seps[] = " \t\n\r\v\f";

static bool model_is_sep(unsigned char b) { return b == 0 || strchr(model_seps, b); }

/* Appends the n bytes of one character, or marks the text cut before it when they do not all fit
 * (a fragment ends the text unless the character is a separator). */
static bool model_append(struct model_cmdline *m, const unsigned char *b, size_t n)
{
	if (m->text_len + n > CMDLINE_TEXT_MAX) {
		m->cut = true;
		m->fragment_end = !(n == 1 && model_is_sep(b[0]));
		return false;
	}
	memcpy(m->text + m->text_len, b, n);
	m->text_len += n;
	return true;
}

/* UTF-8 of a code point up to U+10FFFF (a lone surrogate as its own value, 3 bytes). */
static size_t model_utf8(unsigned long cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 + (cp >> 6));
		out[1] = (unsigned char)(0x80 + cp % 64);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 + (cp >> 12));
		out[1] = (unsigned char)(0x80 + (cp >> 6) % 64);
		out[2] = (unsigned char)(0x80 + cp % 64);
		return 3;
	}
	out[0] = (unsigned char)(0xF0 + (cp >> 18));
	out[1] = (unsigned char)(0x80 + (cp >> 12) % 64);
	out[2] = (unsigned char)(0x80 + (cp >> 6) % 64);
	out[3] = (unsigned char)(0x80 + cp % 64);
	return 4;
}

/* Whether raw starts with a UTF-16 byte-order mark: 'l', 'b', or 0. */
static char model_utf16(const unsigned char *raw, size_t len)
{
	if (len >= 2 && !memcmp(raw, "\xFF\xFE", 2))
		return 'l';
	if (len >= 2 && !memcmp(raw, "\xFE\xFF", 2))
		return 'b';
	return 0;
}

static void model_decode(struct model_cmdline *m, const unsigned char *raw, size_t len)
{
	if (len >= 3 && !memcmp(raw, "\xEF\xBB\xBF", 3)) {
		for (size_t i = 3; i < len && model_append(m, raw + i, 1); i++)
			;
		return;
	}
	char bom = model_utf16(raw, len);
	if (!bom) {
		for (size_t i = 0; i < len && model_append(m, raw + i, 1); i++)
			;
		return;
	}
	/* the units first, then code points from them */
	static unsigned units[RAW_UNITS_MAX];
	size_t n = 0;
	for (size_t i = 2; i < len && n < RAW_UNITS_MAX; i += 2) {
		if (i + 1 == len && m->cut)
			break;         /* half a unit at the end of a cut input: its value is unknown */
		if (i + 1 == len)
			units[n++] = raw[i];   /* an odd last byte of a whole file is a unit of its own */
		else
			units[n++] = bom == 'l' ? raw[i] + 256u * raw[i + 1] : 256u * raw[i] + raw[i + 1];
	}
	for (size_t k = 0; k < n; k++) {
		unsigned long cp = units[k];
		bool high = cp >= 0xD800 && cp <= 0xDBFF;
		if (high && k + 1 < n && units[k + 1] >= 0xDC00 && units[k + 1] <= 0xDFFF)
			cp = 0x10000 + (cp - 0xD800) * 1024 + (units[++k] - 0xDC00);
		unsigned char b[4];
		size_t bytes = model_utf8(cp, b);
		if (!model_append(m, b, bytes))
			return;
	}
}

unsigned model_cmdline_flags(const void *raw_, size_t src_len, size_t len)
{
	const unsigned char *raw = raw_;
	if (src_len <= len)
		return 0;
	unsigned next = raw[len];
	char bom = model_utf16(raw, src_len);
	if (bom && len >= 2) {
		size_t at = len % 2 ? len - 1 : len;   /* the unit holding raw[len] */
		if (at + 1 >= src_len)
			next = raw[at];                 /* an odd last byte: a unit of its own */
		else
			next = bom == 'l' ? raw[at] + 256u * raw[at + 1] : 256u * raw[at] + raw[at + 1];
	}
	return CMDLINE_CUT | (next < 0x100 && model_is_sep((unsigned char)next) ? CMDLINE_CUT_AT_SEP : 0);
}

/* ---------------------------------------------------------------- words */

static void model_diag(struct model_cmdline *m, unsigned problem, unsigned key, unsigned suggest, size_t off, size_t len)
{
	if (m->ndiag < MODEL_CMDLINE_MAX_DIAG)
		m->diag[m->ndiag] = (struct cmdline_diag){ (uint8_t)problem, (uint8_t)key, (uint8_t)suggest,
			(uint16_t)off, (uint16_t)len };
	m->ndiag++;
}

/* Damerau distance (optimal string alignment), case-insensitive on a; 3 for strings over 16 bytes. */
static unsigned model_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 16 || m > 16)
		return 3;
	unsigned d[17][17];
	for (size_t i = 0; i <= n; i++)
		for (size_t j = 0; j <= m; j++) {
			if (!i || !j) {
				d[i][j] = (unsigned)(i + j);
				continue;
			}
			char x = (char)(a[i - 1] >= 'A' && a[i - 1] <= 'Z' ? a[i - 1] + 32 : a[i - 1]);
			char xp = i > 1 ? (char)(a[i - 2] >= 'A' && a[i - 2] <= 'Z' ? a[i - 2] + 32 : a[i - 2]) : 0;
			unsigned best = d[i - 1][j - 1] + (x != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && x == b[j - 2] && xp == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m];
}

static unsigned model_suggest(const char *name)
{
	unsigned best = CMDLINE_NOKEY, bd = 3;
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++) {
		unsigned d = model_distance(name, keys[k]);
		if (d < bd && d < strlen(name)) {
			bd = d;
			best = k;
		}
	}
	return best;
}

/* The problem with size value v, or CMDLINE_NPROBLEMS with *out set. */
static unsigned model_size(const char *v, uint64_t *out)
{
	if (!strncasecmp(v, "0x", 2) || !(v[0] >= '0' && v[0] <= '9'))
		return CMDLINE_P_NOT_DECIMAL;
	size_t digits = strspn(v, "0123456789");
	const char *suffix = v + digits;
	int shift;
	if (!*suffix)
		shift = 0;
	else if (strlen(suffix) == 1 && strchr("kKmMgG", *suffix))
		shift = strchr("kK", *suffix) ? 10 : strchr("mM", *suffix) ? 20 : 30;
	else
		return CMDLINE_P_BAD_SUFFIX;
	unsigned __int128 x = 0;
	for (size_t i = 0; i < digits; i++) {
		x = x * 10 + (unsigned)(v[i] - '0');
		if (x > ((unsigned __int128)1 << 80))
			x = (unsigned __int128)1 << 80;   /* saturate: anything this big is too large, even unshifted */
	}
	x <<= shift;
	if (x > SYSPTE_MAX_SIZE)
		return CMDLINE_P_TOO_LARGE;
	if (x < (2u << 20))
		return CMDLINE_P_TOO_SMALL;
	if (x % (2u << 20))
		return CMDLINE_P_NOT_MULTIPLE;
	*out = (uint64_t)x;
	return CMDLINE_NPROBLEMS;
}

/* The problem with count value v (maxcpus=), or CMDLINE_NPROBLEMS with *out set. */
static unsigned model_count(const char *v, uint8_t *out)
{
	size_t digits = strspn(v, "0123456789");
	if (!digits || v[digits])
		return CMDLINE_P_BAD_NUMBER;
	unsigned __int128 x = 0;
	for (size_t i = 0; i < digits; i++)
		if ((x = x * 10 + (unsigned)(v[i] - '0')) > 1000)
			x = 1000;   /* saturate: anything this big is out of range */
	if (x < 1 || x > 255)   /* the documented range */
		return CMDLINE_P_BAD_NUMBER;
	*out = (uint8_t)x;
	return CMDLINE_NPROBLEMS;
}

/* The problem with value v for key, or CMDLINE_NPROBLEMS after storing it in o. */
static unsigned model_value(struct cmdline_opts *o, unsigned key, const char *v)
{
	if (key == CMDLINE_SYSPTE)
		return model_size(v, &o->syspte);
	if (key == CMDLINE_MAXCPUS)
		return model_count(v, &o->maxcpus);
	if (key == CMDLINE_KTEST) {
		size_t n = strlen(v);
		if (n > CMDLINE_KTEST_MAX - 1 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n)
			return CMDLINE_P_BAD_PREFIX;
		strcpy(o->ktest, v);
		return CMDLINE_NPROBLEMS;
	}
	const char *const *names = model_cmdline_names(key);
	int idx = -1;
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			idx = i;
	if (idx < 0)
		return CMDLINE_P_BAD_NAME;
	if (key == CMDLINE_ONEXIT) o->onexit = (uint8_t)idx;
	if (key == CMDLINE_EXHAUST) o->exhaust = (uint8_t)idx;
	if (key == CMDLINE_CRASHTEST) o->crashtest = (uint8_t)idx;
	if (key == CMDLINE_MMAPDUMP) o->mmapdump = idx % 2;
	if (key == CMDLINE_PTDUMP) o->ptdump = idx % 2;
	if (key == CMDLINE_VERIFIER) o->verifier = idx % 2;
	return CMDLINE_NPROBLEMS;
}

static void model_word(struct model_cmdline *m, size_t off, size_t len, bool fragment)
{
	char w[CMDLINE_TEXT_MAX + 1];
	memcpy(w, m->text + off, len);
	w[len] = 0;
	char *eq = memchr(w, '=', len);
	char key_part[CMDLINE_TEXT_MAX + 1];
	size_t klen = eq ? (size_t)(eq - w) : len;
	memcpy(key_part, w, klen);
	key_part[klen] = 0;
	unsigned key = memchr(key_part, 0, klen) ? CMDLINE_NOKEY : model_cmdline_key(key_part);
	if (fragment) {
		model_diag(m, CMDLINE_P_CUT_WORD, key, CMDLINE_NOKEY, off, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		if (!((unsigned char)w[i] > ' ' && (unsigned char)w[i] < 0x7F)) {
			model_diag(m, CMDLINE_P_NOT_ASCII, key, CMDLINE_NOKEY, off, len);
			return;
		}
	if (!eq) {
		model_diag(m, CMDLINE_P_NO_EQUALS, key, key != CMDLINE_NOKEY ? key : model_suggest(key_part), off, len);
		return;
	}
	if (key == CMDLINE_NOKEY) {
		model_diag(m, CMDLINE_P_UNKNOWN_KEY, key, model_suggest(key_part), off, len);
		return;
	}
	if (!eq[1]) {
		model_diag(m, CMDLINE_P_EMPTY, key, CMDLINE_NOKEY, off, len);
		return;
	}
	struct cmdline_opts o = m->opts;
	unsigned p = model_value(&o, key, eq + 1);
	if (p != CMDLINE_NPROBLEMS) {
		model_diag(m, p, key, CMDLINE_NOKEY, off, len);
		return;
	}
	if (m->set_by[key] >= 0) {
		size_t prev = (size_t)m->set_by[key], plen = 0;
		while (prev + plen < m->text_len && !model_is_sep(m->text[prev + plen]))
			plen++;
		model_diag(m, CMDLINE_P_OVERRIDDEN, key, CMDLINE_NOKEY, prev, plen);
	}
	m->opts = o;
	m->set_by[key] = (long)off;
}

void model_cmdline_parse(struct model_cmdline *m, const void *raw, size_t len, unsigned flags)
{
	memset(m, 0, sizeof(*m));
	m->opts.syspte = SYSPTE_DEFAULT_SIZE;
	m->opts.maxcpus = 255;
	m->cut = flags & CMDLINE_CUT;
	m->fragment_end = m->cut && !(flags & CMDLINE_CUT_AT_SEP);
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		m->set_by[k] = -1;
	model_decode(m, raw, len);
	size_t i = 0;
	while (i < m->text_len) {
		while (i < m->text_len && model_is_sep(m->text[i]))
			i++;
		if (i == m->text_len)
			break;
		if (m->text[i] == '#') {
			while (i < m->text_len && m->text[i] != '\n' && m->text[i] != '\r')
				i++;
			continue;
		}
		size_t s = i;
		while (i < m->text_len && !model_is_sep(m->text[i]))
			i++;
		model_word(m, s, i - s, m->fragment_end && i == m->text_len);
	}
	if (m->cut)
		model_diag(m, CMDLINE_P_INPUT_CUT, CMDLINE_NOKEY, CMDLINE_NOKEY, m->text_len, 0);
}

/* ---------------------------------------------------------------- checks */

static int model_fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return 1;
}

/* The message a diagnostic must start with: cmdline: "word" with the model's escaping. */
static void model_quoted(const struct cmdline *c, const struct cmdline_diag *d, char *out, size_t cap)
{
	size_t n = snprintf(out, cap, "cmdline: \"");
	for (size_t i = 0; i < d->len && i < CMDLINE_WORD_SHOWN && n + 8 < cap; i++) {
		unsigned char b = (unsigned char)c->text[d->off + i];
		n += (b >= 0x20 && b <= 0x7E && b != '\\' && b != '"') ? (size_t)snprintf(out + n, cap - n, "%c", b)
								     : (size_t)snprintf(out + n, cap - n, "\\x%02x", b);
	}
	snprintf(out + n, cap - n, "%s\"", d->len > CMDLINE_WORD_SHOWN ? "..." : "");
}

static bool model_opts_equal(const struct cmdline_opts *a, const struct cmdline_opts *b)
{
	return a->syspte == b->syspte && a->onexit == b->onexit && a->exhaust == b->exhaust &&
	       a->crashtest == b->crashtest && a->maxcpus == b->maxcpus && a->mmapdump == b->mmapdump && a->ptdump == b->ptdump &&
	       a->verifier == b->verifier && !strcmp(a->ktest, b->ktest);
}

/* Options within their documented ranges. */
static int model_check_ranges(const struct cmdline_opts *o, char *why, size_t cap)
{
	if (o->syspte < (2u << 20) || o->syspte > SYSPTE_MAX_SIZE || o->syspte % (2u << 20))
		return model_fail(why, cap, "syspte %llu out of range", (unsigned long long)o->syspte);
	if (o->onexit > 2 || o->exhaust > 1 || o->crashtest >= CMDLINE_CRASH_COUNT)
		return model_fail(why, cap, "enum out of range");
	if (o->maxcpus < 1)   /* 1..255: a byte holds no more */
		return model_fail(why, cap, "maxcpus %u out of range", o->maxcpus);
	size_t n = strnlen(o->ktest, CMDLINE_KTEST_MAX);
	if (n == CMDLINE_KTEST_MAX || strspn(o->ktest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n)
		return model_fail(why, cap, "ktest prefix malformed");
	return 0;
}

/* Every message: bounded in any buffer, NUL-terminated, naming the word and the value in effect. */
static int model_check_messages(const struct cmdline *c, char *why, size_t cap)
{
	static char buf[1024], want[512], val[128];
	for (size_t i = 0; i < c->ndiag; i++) {
		const struct cmdline_diag *d = &c->diag[i];
		size_t caps[] = { 0, 1, 2, 17, sizeof(buf) - 1 };
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
			memset(buf, 'Z', sizeof(buf));
			size_t n = cmdline_diag_format(c, i, buf, caps[k]);
			if ((caps[k] && (n >= caps[k] || buf[n] != 0 || strlen(buf) != n)) || buf[caps[k]] != 'Z' ||
			    (!caps[k] && n))
				return model_fail(why, cap, "diagnostic %zu overflows or is not terminated in %zu bytes", i, caps[k]);
		}
		size_t n = cmdline_diag_format(c, i, buf, sizeof(buf));
		if (n + 1 >= sizeof(buf) - 1)
			return model_fail(why, cap, "diagnostic %zu longer than expected: %s", i, buf);
		if (d->problem == CMDLINE_P_INPUT_CUT) {
			if (!strstr(buf, "the rest is ignored"))
				return model_fail(why, cap, "cut message: %s", buf);
			continue;
		}
		model_quoted(c, d, want, sizeof(want));
		if (strncmp(buf, want, strlen(want)))
			return model_fail(why, cap, "message does not quote the word: %s (want %s)", buf, want);
		if (d->key < CMDLINE_NKEYS) {
			cmdline_value_format(&c->opts, d->key, val, sizeof(val));
			snprintf(want, sizeof(want), "; using %s=%s", keys[d->key], val);
			size_t wl = strlen(want);
			if (n < wl || strcmp(buf + n - wl, want))
				return model_fail(why, cap, "message does not end with the value in effect: %s", buf);
		}
	}
	return 0;
}

int model_cmdline_check(const struct cmdline *c, const struct model_cmdline *m, char *why, size_t cap)
{
	if (c->text_len != m->text_len || memcmp(c->text, m->text, m->text_len) || c->cut != m->cut)
		return model_fail(why, cap, "decoded text differs (%zu bytes, model %zu; cut %d, model %d)", c->text_len,
				  m->text_len, c->cut, m->cut);
	if (model_check_ranges(&c->opts, why, cap))
		return 1;
	if (!model_opts_equal(&c->opts, &m->opts))
		return model_fail(why, cap, "options differ from the model");
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		if (c->set_by[k] != m->set_by[k])
			return model_fail(why, cap, "key %s set by offset %d, model %ld", keys[k], c->set_by[k], m->set_by[k]);
	if (c->ndiag + c->ndropped != m->ndiag || c->ndiag != (m->ndiag < CMDLINE_DIAG_MAX ? m->ndiag : CMDLINE_DIAG_MAX))
		return model_fail(why, cap, "%zu diagnostics + %zu dropped, model %zu", c->ndiag, c->ndropped, m->ndiag);
	for (size_t i = 0; i < c->ndiag; i++) {
		const struct cmdline_diag *a = &c->diag[i], *b = &m->diag[i];
		if (a->problem != b->problem || a->key != b->key || a->suggest != b->suggest || a->off != b->off ||
		    a->len != b->len)
			return model_fail(why, cap, "diagnostic %zu: problem %u key %u suggest %u at %u+%u; model %u %u %u at %u+%u", i,
					  a->problem, a->key, a->suggest, a->off, a->len, b->problem, b->key, b->suggest, b->off, b->len);
	}
	/* Every word: in effect with exactly its value, or named by a diagnostic (kept or dropped). */
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++) {
		if (c->set_by[k] < 0)
			continue;
		size_t off = (size_t)c->set_by[k], len = 0;
		while (off + len < c->text_len && !model_is_sep((unsigned char)c->text[off + len]))
			len++;
		char w[CMDLINE_TEXT_MAX + 1];
		memcpy(w, c->text + off, len);
		w[len] = 0;
		char *eq = strchr(w, '=');
		struct cmdline_opts o = c->opts;
		if (!eq || model_value(&o, k, eq + 1) != CMDLINE_NPROBLEMS || !model_opts_equal(&o, &c->opts))
			return model_fail(why, cap, "key %s in effect from \"%s\", which does not give its value", keys[k], w);
	}
	if (c->ndropped == 0)
		for (size_t i = 0, s; i < c->text_len;) {
			while (i < c->text_len && model_is_sep((unsigned char)c->text[i]))
				i++;
			if (i == c->text_len)
				break;
			if (c->text[i] == '#') {
				while (i < c->text_len && c->text[i] != '\n' && c->text[i] != '\r')
					i++;
				continue;
			}
			for (s = i; i < c->text_len && !model_is_sep((unsigned char)c->text[i]);)
				i++;
			bool named = false;
			for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
				named |= c->set_by[k] == (int32_t)s;
			for (size_t d = 0; d < c->ndiag; d++)
				named |= c->diag[d].off == s && c->diag[d].len == i - s;
			if (!named)
				return model_fail(why, cap, "the word at offset %zu has neither an effect nor a diagnostic", s);
		}
	char text[4 * CMDLINE_TEXT_MAX + 1];
	memset(text, 'Z', sizeof(text));
	size_t tn = cmdline_text_format(c, text, sizeof(text) - 1);
	if (tn >= sizeof(text) - 1 || text[tn] || text[sizeof(text) - 1] != 'Z')
		return model_fail(why, cap, "text display overflows");
	return model_check_messages(c, why, cap);
}
