/*
 * Host test of the command-line parser (kernel/cmdline.c, built here unchanged): each rule of the
 * grammar in kernel/cmdline.h with generated cases, the issue's examples with their exact
 * messages, and a differential run of random inputs against the reference model
 * (model_cmdline.c), which also checks the properties every parse must have.
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

static uint64_t rng = 0x243F6A8885A308D3ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

static struct cmdline c;
static struct model_cmdline m;
static char why[512];

/* Parses s (len bytes, flags as cmdline_parse's) and checks the result against the model; returns
 * true when they agree. */
static bool parse_checked(const void *s, size_t len, unsigned flags)
{
	cmdline_parse(&c, s, len, flags);
	model_cmdline_parse(&m, s, len, flags);
	if (model_cmdline_check(&c, &m, why, sizeof(why))) {
		printf("# model disagrees on %zu bytes: %s\n", len, why);
		return false;
	}
	return true;
}

static bool parse_str(const char *s) { return parse_checked(s, strlen(s), false); }

/* The problem of the only diagnostic, or CMDLINE_NPROBLEMS when there is none or several. */
static unsigned only_problem(void) { return c.ndiag == 1 ? c.diag[0].problem : CMDLINE_NPROBLEMS; }

/* ---------------------------------------------------------------- the issue's cases */

static void test_issue_examples(void)
{
	static const struct { const char *word; unsigned problem; const char *msg; } cases[] = {
		{ "syspte=0x4000000", CMDLINE_P_NOT_DECIMAL,
		  "cmdline: \"syspte=0x4000000\" ignored: not a decimal size (hex and signs are not accepted); using syspte=1G" },
		{ "syspte=-64M", CMDLINE_P_NOT_DECIMAL, NULL },
		{ "syspte=", CMDLINE_P_EMPTY, "cmdline: \"syspte=\" ignored: empty value; using syspte=1G" },
		{ "syspte=99999999999G", CMDLINE_P_TOO_LARGE, "cmdline: \"syspte=99999999999G\" ignored: larger than 512G; using syspte=1G" },
		{ "syspte=1T", CMDLINE_P_BAD_SUFFIX, "cmdline: \"syspte=1T\" ignored: unknown suffix (K, M or G); using syspte=1G" },
		{ "syspte=64MB", CMDLINE_P_BAD_SUFFIX, NULL },
		{ "syspte=1.5G", CMDLINE_P_BAD_SUFFIX, "cmdline: \"syspte=1.5G\" ignored: a fraction (sizes are whole numbers "
		  "with an optional K, M or G: 1536M, not 1.5G); using syspte=1G" },
		{ "syspte=0,5G", CMDLINE_P_BAD_SUFFIX, "cmdline: \"syspte=0,5G\" ignored: a fraction (sizes are whole numbers "
		  "with an optional K, M or G: 1536M, not 1.5G); using syspte=1G" },
		{ "syspte=2.G", CMDLINE_P_BAD_SUFFIX, "cmdline: \"syspte=2.G\" ignored: a fraction (sizes are whole numbers "
		  "with an optional K, M or G: 1536M, not 1.5G); using syspte=1G" },
		{ "syspte=1G.5", CMDLINE_P_BAD_SUFFIX, "cmdline: \"syspte=1G.5\" ignored: unknown suffix (K, M or G); using "
		  "syspte=1G" },
		{ "syspte=1M", CMDLINE_P_TOO_SMALL, NULL },
		{ "syspte=3M", CMDLINE_P_NOT_MULTIPLE, "cmdline: \"syspte=3M\" ignored: not a multiple of 2M; using syspte=1G" },
		{ "onexti=halt", CMDLINE_P_UNKNOWN_KEY, "cmdline: \"onexti=halt\" ignored: no such option (did you mean onexit?)" },
		{ "verifier=yes", CMDLINE_P_BAD_NAME, "cmdline: \"verifier=yes\" ignored: not 0, 1, off or on; using verifier=0" },
		{ "onexit=qmeu", CMDLINE_P_BAD_NAME, "cmdline: \"onexit=qmeu\" ignored: not halt, qemu or reboot; using onexit=halt" },
		{ "verifier", CMDLINE_P_NO_EQUALS, "cmdline: \"verifier\" ignored: not key=value (write verifier=VALUE); using verifier=0" },
		{ "hello", CMDLINE_P_NO_EQUALS,
		  "cmdline: \"hello\" ignored: not key=value (options: onexit syspte ktest mmapdump ptdump verifier exhaust crashtest maxcpus)" },
		{ "maxcpus=0", CMDLINE_P_BAD_NUMBER, "cmdline: \"maxcpus=0\" ignored: not a whole number from 1 to 255; using maxcpus=255" },
		{ "maxcpus=256", CMDLINE_P_BAD_NUMBER, "cmdline: \"maxcpus=256\" ignored: not a whole number from 1 to 255; using maxcpus=255" },
		{ "maxcpus=0x4", CMDLINE_P_BAD_NUMBER, NULL },
		{ "maxcpus=-1", CMDLINE_P_BAD_NUMBER, NULL },
		{ "maxcpus=4K", CMDLINE_P_BAD_NUMBER, NULL },
		{ "maxcpus=", CMDLINE_P_EMPTY, "cmdline: \"maxcpus=\" ignored: empty value; using maxcpus=255" },
		{ "maxcpu=4", CMDLINE_P_UNKNOWN_KEY, "cmdline: \"maxcpu=4\" ignored: no such option (did you mean maxcpus?)" },
		{ "ktest=map-", CMDLINE_P_BAD_PREFIX,
		  "cmdline: \"ktest=map-\" ignored: not a test-name prefix of 1 to 63 letters, digits or '_'; using ktest=(every test)" },
		{ "sysp\xc3\xa9te=1G", CMDLINE_P_NOT_ASCII, "cmdline: \"sysp\\xc3\\xa9te=1G\" ignored: a byte that is not printable ASCII" },
		{ "Onexit=qemu", CMDLINE_P_UNKNOWN_KEY, "cmdline: \"Onexit=qemu\" ignored: no such option (did you mean onexit?)" },
	};
	char buf[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool agree = parse_str(cases[i].word);
		cmdline_diag_format(&c, 0, buf, sizeof(buf));
		ok(agree && only_problem() == cases[i].problem && (!cases[i].msg || !strcmp(buf, cases[i].msg)),
		   "issue case %s: problem %u, message \"%s\"", cases[i].word, cases[i].problem, buf);
	}
	/* mmapdump=0 and ptdump=0 turn the dumps off; on and 1 turn them on. */
	parse_str("mmapdump=1 ptdump=on mmapdump=0 ptdump=0");
	ok(!c.opts.mmapdump && !c.opts.ptdump && c.ndiag == 2 && c.diag[0].problem == CMDLINE_P_OVERRIDDEN,
	   "mmapdump=0 / ptdump=0 are off, the earlier on is reported as overridden");
	parse_str("onexit=halt syspte=64M onexit=qemu");
	buf[0] = 0;
	cmdline_diag_format(&c, 0, buf, sizeof(buf));
	ok(!strcmp(buf, "cmdline: \"onexit=halt\" overridden by a later onexit=; using onexit=qemu"), "overridden: %s", buf);
	/* A byte-order mark as Notepad writes it, CRLF line ends, a tab, a NUL, a comment. */
	static const char notepad[] = "\xEF\xBB\xBFonexit=qemu\r\nsyspte=64M\t# comment verifier=1\r\nktest=map_\0ptdump=1\r\n";
	parse_checked(notepad, sizeof(notepad) - 1, false);
	ok(c.ndiag == 0 && c.opts.onexit == CMDLINE_ONEXIT_QEMU && c.opts.syspte == 64ULL << 20 && !c.opts.verifier &&
	   !strcmp(c.opts.ktest, "map_") && c.opts.ptdump && c.encoding == CMDLINE_ENC_UTF8_BOM,
	   "Notepad-style file: BOM, CRLF, tab, comment, NUL");
	/* A cut file: the last word may be a fragment, and the cut itself is reported. */
	parse_checked("onexit=qemu syspte=64", 21, true);
	cmdline_diag_format(&c, 1, buf, sizeof(buf));
	ok(c.ndiag == 2 && c.diag[0].problem == CMDLINE_P_CUT_WORD && c.opts.syspte == SYSPTE_DEFAULT_SIZE &&
	   c.diag[1].problem == CMDLINE_P_INPUT_CUT &&
	   !strcmp(buf, "cmdline: the command line is longer than the 21 bytes read; the rest is ignored"),
	   "cut input: fragment ignored and the cut reported (%s)", buf);
	parse_checked("onexit=qemu syspte=64M ", 23, true);
	ok(c.ndiag == 1 && c.diag[0].problem == CMDLINE_P_INPUT_CUT && c.opts.syspte == 64ULL << 20,
	   "cut input ending in a separator: every word complete");
}

/* ---------------------------------------------------------------- sizes */

/* The expected outcome of size value v, computed with 128-bit arithmetic. */
static unsigned expect_size(const char *v, uint64_t *bytes)
{
	if (!v[0])
		return CMDLINE_P_EMPTY;
	return model_size(v, bytes);
}

static void test_sizes(void)
{
	static const char *const suffixes[] = { "", "k", "K", "m", "M", "g", "G", "T", "t", "B", "MB", "KiB", "GB", "x",
		"M ", "%", "MM", "G0" };
	static const char *const prefixes[] = { "", "", "", "", "0x", "0X", "-", "+", " ", "00" };
	unsigned bad = 0, n = 0, hit[CMDLINE_NPROBLEMS + 1] = { 0 };
	for (unsigned i = 0; i < 40000; i++) {
		char v[64], w[80];
		uint64_t mag;
		switch (draw(4)) {
		case 0: mag = draw(5000); break;                             /* small numbers */
		case 1: mag = (draw(1 << 18) + 1) * 2 << draw(21); break;    /* multiples of 2 MiB-ish */
		case 2: mag = rng; break;                                    /* anything */
		default: mag = 512ULL << draw(40); break;                   /* near the limits */
		}
		const char *pre = prefixes[draw(sizeof(prefixes) / sizeof(prefixes[0]))];
		const char *suf = suffixes[draw(sizeof(suffixes) / sizeof(suffixes[0]))];
		if (draw(8) == 0)
			snprintf(v, sizeof(v), "%s%llu%llu%s", pre, (unsigned long long)mag, (unsigned long long)rng, suf);
		else
			snprintf(v, sizeof(v), "%s%llu%s", pre, (unsigned long long)mag, suf);
		snprintf(w, sizeof(w), "syspte=%s", v);
		uint64_t want = SYSPTE_DEFAULT_SIZE, got = 0;
		unsigned p = expect_size(v, &got);
		if (strchr(v, ' '))   /* a space splits the word: the rest is a word of its own */
			continue;
		bool agree = parse_str(w);
		if (p == CMDLINE_NPROBLEMS)
			want = got;
		n++;
		hit[p]++;
		if (!agree || c.opts.syspte != want || (p == CMDLINE_NPROBLEMS ? c.ndiag != 0 : only_problem() != p)) {
			if (bad++ < 5)
				printf("# syspte=%s: got %llu with %zu diagnostics, want %llu / problem %u\n", v,
				       (unsigned long long)c.opts.syspte, c.ndiag, (unsigned long long)want, p);
		}
	}
	ok(bad == 0, "sizes: %u generated values, each accepted with exactly its value or refused with its reason", n);
	ok(hit[CMDLINE_NPROBLEMS] > 500 && hit[CMDLINE_P_NOT_DECIMAL] && hit[CMDLINE_P_BAD_SUFFIX] && hit[CMDLINE_P_TOO_LARGE] &&
	   hit[CMDLINE_P_TOO_SMALL] && hit[CMDLINE_P_NOT_MULTIPLE],
	   "sizes: the generator reached every outcome (%u valid, %u hex/sign, %u suffix, %u large, %u small, %u not 2M)",
	   hit[CMDLINE_NPROBLEMS], hit[CMDLINE_P_NOT_DECIMAL], hit[CMDLINE_P_BAD_SUFFIX], hit[CMDLINE_P_TOO_LARGE],
	   hit[CMDLINE_P_TOO_SMALL], hit[CMDLINE_P_NOT_MULTIPLE]);
	/* The exact edges. */
	parse_str("syspte=2M");
	bool edges = c.opts.syspte == 2ULL << 20 && !c.ndiag;
	parse_str("syspte=512G");
	edges &= c.opts.syspte == 512ULL << 30 && !c.ndiag;
	parse_str("syspte=549755813888");
	edges &= c.opts.syspte == 512ULL << 30 && !c.ndiag;
	parse_str("syspte=549755813890");
	edges &= only_problem() == CMDLINE_P_TOO_LARGE;
	parse_str("syspte=18446744073709551616");
	edges &= only_problem() == CMDLINE_P_TOO_LARGE;
	parse_str("syspte=0");
	edges &= only_problem() == CMDLINE_P_TOO_SMALL;
	parse_str("syspte=2048k");
	edges &= c.opts.syspte == 2ULL << 20 && !c.ndiag;
	parse_str("syspte=0x");
	edges &= only_problem() == CMDLINE_P_NOT_DECIMAL;
	parse_str("syspte=0X");
	edges &= only_problem() == CMDLINE_P_NOT_DECIMAL;
	ok(edges, "sizes: 2M and 512G accepted, one past and 2^64 refused, lowercase suffixes, a bare 0x not decimal");
}

/* ---------------------------------------------------------------- counts (maxcpus=) */

static void test_counts(void)
{
	static const char *const prefixes[] = { "", "", "", "0", "00", "+", "-", "0x", " " };
	static const char *const suffixes[] = { "", "", "", "K", "k", "M", "x", ".0", "%" };
	unsigned bad = 0, n = 0, valid = 0, refused = 0;
	for (unsigned i = 0; i < 20000; i++) {
		char v[64], w[80];
		uint64_t mag;
		switch (draw(4)) {
		case 0: mag = draw(270); break;               /* around the range */
		case 1: mag = 1 + draw(255); break;           /* inside it */
		case 2: mag = draw(100000); break;
		default: mag = rng; break;                    /* anything, 2^64 wraps included */
		}
		const char *pre = prefixes[draw(sizeof(prefixes) / sizeof(prefixes[0]))];
		const char *suf = suffixes[draw(sizeof(suffixes) / sizeof(suffixes[0]))];
		if (draw(10) == 0)
			snprintf(v, sizeof(v), "%s%llu%llu%s", pre, (unsigned long long)mag, (unsigned long long)rng, suf);
		else
			snprintf(v, sizeof(v), "%s%llu%s", pre, (unsigned long long)mag, suf);
		if (strchr(v, ' '))
			continue;
		snprintf(w, sizeof(w), "maxcpus=%s", v);
		/* Expected independently of both parsers: digits only, and a value of 1 to 255. */
		bool digits = strspn(v, "0123456789") == strlen(v);
		unsigned long long val = 0;
		bool big = false;
		for (const char *p = v; digits && *p; p++) {
			val = val * 10 + (unsigned)(*p - '0');
			if (val > 1000)
				big = true, val = 1000;
		}
		bool want_ok = digits && !big && val >= 1 && val <= 255;
		bool agree = parse_str(w);
		n++;
		want_ok ? valid++ : refused++;
		if (!agree || (want_ok ? c.ndiag || c.opts.maxcpus != val : only_problem() != CMDLINE_P_BAD_NUMBER || c.opts.maxcpus != 255))
			if (bad++ < 5)
				printf("# maxcpus=%s: got %u with %zu diagnostics\n", v, c.opts.maxcpus, c.ndiag);
	}
	ok(bad == 0 && valid > 1000 && refused > 1000,
	   "counts: %u generated maxcpus= values, %u accepted with exactly their value, %u refused as not 1 to 255", n,
	   valid, refused);
	parse_str("maxcpus=1");
	bool edges = c.opts.maxcpus == 1 && !c.ndiag;
	parse_str("maxcpus=255");
	edges &= c.opts.maxcpus == 255 && !c.ndiag;
	parse_str("maxcpus=256");
	edges &= only_problem() == CMDLINE_P_BAD_NUMBER && c.opts.maxcpus == 255;
	parse_str("maxcpus=0004");
	edges &= c.opts.maxcpus == 4 && !c.ndiag;
	parse_str("maxcpus=18446744073709551620");
	edges &= only_problem() == CMDLINE_P_BAD_NUMBER && c.opts.maxcpus == 255;
	parse_str("maxcpus=2 maxcpus=3");
	edges &= c.opts.maxcpus == 3 && only_problem() == CMDLINE_P_OVERRIDDEN;
	ok(edges, "counts: 1 and 255 accepted, 256 refused, leading zeros read as decimal, 2^64 + 4 refused, the last one wins");
}

/* ---------------------------------------------------------------- names, booleans, prefixes */

/* A random mutation of s: one byte changed, inserted, deleted, or the case flipped. */
static void mutate(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), at = draw(n + 1);
	char b = (char)(0x21 + draw(0x5E));
	switch (draw(4)) {
	case 0: snprintf(out, cap, "%.*s%c%s", (int)at, s, b, s + at); break;
	case 1: snprintf(out, cap, "%.*s%s", (int)at, s, at < n ? s + at + 1 : ""); break;
	case 2: snprintf(out, cap, "%s", s); if (at < n) out[at] = b; break;
	default:
		snprintf(out, cap, "%s", s);
		for (char *p = out; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
	}
}

static void test_names(void)
{
	unsigned bad = 0, n = 0;
	for (unsigned key = 0; key < CMDLINE_NKEYS; key++) {
		const char *const *names = model_cmdline_names(key);
		if (!names)
			continue;
		for (unsigned i = 0; names[i]; i++) {
			char w[64];
			snprintf(w, sizeof(w), "%s=%s", cmdline_key_name(key), names[i]);
			struct cmdline_opts want;
			cmdline_defaults(&want);
			model_value(&want, key, names[i]);
			bool agree = parse_str(w);
			n++;
			if (!agree || c.ndiag || !model_opts_equal(&c.opts, &want))
				bad++, printf("# %s not accepted\n", w);
		}
		for (unsigned r = 0; r < 2000; r++) {
			char v[64], w[96];
			unsigned count = 0;
			while (names[count])
				count++;
			mutate(names[draw(count)], v, sizeof(v));
			bool valid = false;
			for (unsigned i = 0; names[i]; i++)
				valid |= !strcmp(v, names[i]);
			if (valid || !v[0] || strpbrk(v, " \t"))
				continue;
			snprintf(w, sizeof(w), "%s=%s", cmdline_key_name(key), v);
			bool agree = parse_str(w);
			n++;
			struct cmdline_opts def;
			cmdline_defaults(&def);
			if (!agree || only_problem() != CMDLINE_P_BAD_NAME || !model_opts_equal(&c.opts, &def))
				if (bad++ < 5)
					printf("# %s: %zu diagnostics, first %u\n", w, c.ndiag, c.ndiag ? c.diag[0].problem : 99);
		}
	}
	ok(bad == 0, "bool and name values: %u generated, each name accepted, every other spelling refused", n);

	bad = n = 0;
	static const char ok_bytes[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	for (unsigned r = 0; r < 5000; r++) {
		char v[100], w[120];
		size_t len = 1 + draw(draw(4) ? 63 : 90);
		for (size_t i = 0; i < len; i++)
			v[i] = ok_bytes[draw(sizeof(ok_bytes) - 1)];
		v[len] = 0;
		bool valid = len <= 63;
		if (draw(3) == 0) {
			v[draw(len)] = "-.*/=+,:;!?'\"[]"[draw(15)];
			valid = false;
		}
		snprintf(w, sizeof(w), "ktest=%s", v);
		bool agree = parse_str(w);
		n++;
		if (!agree || (valid ? c.ndiag || strcmp(c.opts.ktest, v) : only_problem() != CMDLINE_P_BAD_PREFIX || c.opts.ktest[0]))
			if (bad++ < 5)
				printf("# %s: %zu diagnostics, ktest \"%s\"\n", w, c.ndiag, c.opts.ktest);
	}
	ok(bad == 0, "ktest prefixes: %u generated, 1..63 name bytes accepted exactly, others refused", n);
}

/* ---------------------------------------------------------------- layout, encodings, keys */

/* Fills out with a random valid word; returns the key it sets. */
static unsigned random_valid_word(char *out, size_t cap)
{
	unsigned key = (unsigned)draw(CMDLINE_NKEYS);
	const char *const *names = model_cmdline_names(key);
	if (names) {
		unsigned n = 0;
		while (names[n])
			n++;
		snprintf(out, cap, "%s=%s", cmdline_key_name(key), names[draw(n)]);
	} else if (key == CMDLINE_SYSPTE) {
		snprintf(out, cap, "syspte=%lluM", (unsigned long long)(2 * (1 + draw(4096))));
	} else if (key == CMDLINE_MAXCPUS) {
		snprintf(out, cap, "maxcpus=%llu", (unsigned long long)(1 + draw(255)));
	} else {
		snprintf(out, cap, "ktest=%s", (const char *[]){ "map_", "pt_", "phys", "x", "reserve_null" }[draw(5)]);
	}
	return key;
}

static size_t append(char *buf, size_t at, const char *s, size_t n)
{
	memcpy(buf + at, s, n);
	return at + n;
}

static void test_layout(void)
{
	unsigned bad = 0;
	for (unsigned r = 0; r < 3000; r++) {
		char plain[1024], fancy[2048], words[8][64];
		size_t np = 0, nf = 0, nw = 1 + draw(8);
		for (size_t i = 0; i < nw; i++)
			random_valid_word(words[i], sizeof(words[i]));
		if (draw(2))
			nf = append(fancy, nf, "\xEF\xBB\xBF", 3);
		for (size_t i = 0; i < nw; i++) {
			np = append(plain, np, words[i], strlen(words[i]));
			plain[np++] = ' ';
			nf = append(fancy, nf, words[i], strlen(words[i]));
			for (size_t s = 1 + draw(3); s; s--)
				fancy[nf++] = " \t\r\n\v\f\0"[draw(7)];
			if (draw(4) == 0) {   /* a comment line: ignored up to its end */
				nf = append(fancy, nf, "\n# syspte=4M onexit=reboot ", 27);
				nf = append(fancy, nf, draw(2) ? "\r" : "\n", 1);
			}
		}
		struct cmdline_opts want;
		parse_checked(plain, np, false);
		want = c.opts;
		size_t want_diag = c.ndiag;
		bool agree = parse_checked(fancy, nf, false);
		if (!agree || !model_opts_equal(&c.opts, &want) || c.ndiag != want_diag)
			if (bad++ < 5)
				printf("# layout case %u differs\n", r);
	}
	ok(bad == 0, "separators (space, tab, CR, LF, VT, FF, NUL), BOM and comment lines change nothing");

	bad = 0;
	for (unsigned r = 0; r < 3000; r++) {
		char ascii[1024], u16[2][2100];
		size_t n = 0;
		for (size_t i = 0, nw = 1 + draw(8); i < nw; i++) {
			if (draw(3))
				random_valid_word(ascii + n, sizeof(ascii) - n);
			else
				snprintf(ascii + n, sizeof(ascii) - n, "%s", (const char *[]){ "syspte=1T", "onexti=1", "x", "verifier=yes",
					"ktest=a-b", "=", "syspte=" }[draw(7)]);
			n += strlen(ascii + n);
			ascii[n++] = draw(2) ? ' ' : '\n';
		}
		for (int be = 0; be < 2; be++) {
			u16[be][0] = be ? '\xFE' : '\xFF';
			u16[be][1] = be ? '\xFF' : '\xFE';
			for (size_t i = 0; i < n; i++) {
				u16[be][2 + 2 * i + be] = ascii[i];
				u16[be][2 + 2 * i + !be] = 0;
			}
		}
		parse_checked(ascii, n, false);
		struct cmdline_opts want = c.opts;
		size_t want_diag = c.ndiag;
		uint8_t want_p[CMDLINE_DIAG_MAX];
		for (size_t i = 0; i < c.ndiag; i++)
			want_p[i] = c.diag[i].problem;
		for (int be = 0; be < 2; be++) {
			bool agree = parse_checked(u16[be], 2 + 2 * n, false);
			bool same = agree && model_opts_equal(&c.opts, &want) && c.ndiag == want_diag &&
				    c.encoding == (be ? CMDLINE_ENC_UTF16BE : CMDLINE_ENC_UTF16LE);
			for (size_t i = 0; same && i < c.ndiag; i++)
				same = c.diag[i].problem == want_p[i];
			if (!same && bad++ < 5)
				printf("# UTF-16%s case %u differs\n", be ? "BE" : "LE", r);
		}
	}
	ok(bad == 0, "UTF-16LE and UTF-16BE files with a BOM parse as their ASCII text");
	static const char u16_accent[] = "\xFF\xFEk\0t\0e\0s\0t\0=\0\xe9\0 \0o\0n\0e\0x\0i\0t\0=\0q\0e\0m\0u\0";
	parse_checked(u16_accent, sizeof(u16_accent) - 1, false);
	ok(c.opts.onexit == CMDLINE_ONEXIT_QEMU && only_problem() == CMDLINE_P_NOT_ASCII && c.diag[0].key == CMDLINE_KTEST &&
	   c.diag[0].len == 8, "UTF-16 non-ASCII character: decoded to UTF-8, its word refused");

	/* Non-ASCII or control bytes anywhere in a word refuse that word only. */
	bad = 0;
	for (unsigned r = 0; r < 5000; r++) {
		char w[3][64], buf[256];
		unsigned keys3[3];
		for (int i = 0; i < 3; i++)
			keys3[i] = random_valid_word(w[i], sizeof(w[i]));
		int victim = (int)draw(3);
		size_t len = strlen(w[victim]), at = draw(len + 1);
		uint8_t b = draw(2) ? (uint8_t)(0x80 + draw(128)) : (uint8_t)"\x01\x02\x07\x08\x1b\x1f\x7f"[draw(7)];
		memmove(w[victim] + at + 1, w[victim] + at, len - at + 1);
		w[victim][at] = (char)b;
		int n = snprintf(buf, sizeof(buf), "%s %s %s", w[0], w[1], w[2]);
		bool agree = parse_checked(buf, (size_t)n, false);
		bool victim_diag = false;
		for (size_t i = 0; i < c.ndiag; i++)
			victim_diag |= c.diag[i].problem == CMDLINE_P_NOT_ASCII;
		(void)keys3;
		if ((!agree || !victim_diag) && bad++ < 5)
			printf("# non-ASCII case \"%s\" not refused\n", buf);
	}
	ok(bad == 0, "a byte outside printable ASCII refuses its word, named in the diagnostic");

	/* Unknown keys, and suggestions for near misses of a real key. */
	bad = 0;
	unsigned suggested = 0, tries = 0;
	for (unsigned r = 0; r < 5000; r++) {
		char k[64], w[96];
		unsigned key = (unsigned)draw(CMDLINE_NKEYS);
		mutate(cmdline_key_name(key), k, sizeof(k));
		if (model_cmdline_key(k) != CMDLINE_NOKEY || strpbrk(k, "= \t") || k[0] == '#')
			continue;
		snprintf(w, sizeof(w), "%s=1", k);
		bool agree = parse_str(w);
		tries++;
		suggested += only_problem() == CMDLINE_P_UNKNOWN_KEY && c.diag[0].suggest == key;
		if ((!agree || only_problem() != CMDLINE_P_UNKNOWN_KEY) && bad++ < 5)
			printf("# unknown key %s not reported\n", w);
	}
	ok(bad == 0 && suggested * 10 > tries * 8, "unknown keys refused; %u of %u one-edit misspellings suggest the key",
	   suggested, tries);
}

/* ---------------------------------------------------------------- occurrences, cuts, overflow */

static void test_occurrences_and_cuts(void)
{
	unsigned bad = 0;
	for (unsigned r = 0; r < 5000; r++) {
		char buf[1024];
		size_t n = 0;
		unsigned nvalid = 0;
		uint64_t want = SYSPTE_DEFAULT_SIZE;
		for (size_t i = 0, nw = 1 + draw(10); i < nw; i++) {
			if (draw(3)) {
				uint64_t v = 2 * (1 + draw(1000));
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "syspte=%lluM ", (unsigned long long)v);
				want = v << 20;
				nvalid++;
			} else {
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "syspte=%s ",
						      (const char *[]){ "3M", "1T", "0x2", "", "-2M" }[draw(5)]);
			}
		}
		bool agree = parse_checked(buf, n, false);
		size_t over = 0;
		for (size_t i = 0; i < c.ndiag; i++)
			over += c.diag[i].problem == CMDLINE_P_OVERRIDDEN;
		if ((!agree || c.opts.syspte != want || over != (nvalid ? nvalid - 1 : 0)) && bad++ < 5)
			printf("# occurrence case \"%s\": got %llu\n", buf, (unsigned long long)c.opts.syspte);
	}
	ok(bad == 0, "the last valid occurrence wins; each earlier valid one is reported overridden, invalid ones ignored");

	/* Every cut position of a valid line: the possibly cut last word has no effect. */
	bad = 0;
	for (unsigned r = 0; r < 300; r++) {
		char full[600];
		size_t n = 0;
		for (size_t i = 0, nw = 1 + draw(10); i < nw; i++) {
			random_valid_word(full + n, sizeof(full) - n);
			n += strlen(full + n);
			full[n++] = ' ';
		}
		for (size_t cut = 0; cut <= n; cut++) {
			bool agree = parse_checked(full, cut, true);
			bool last = c.ndiag && c.diag[c.ndiag - 1].problem == CMDLINE_P_INPUT_CUT;
			bool frag_ok = true;
			if (cut && full[cut - 1] != ' ') {   /* cut inside a word: that word is a fragment */
				frag_ok = c.ndiag >= 2 && c.diag[c.ndiag - 2].problem == CMDLINE_P_CUT_WORD;
				size_t start = cut;
				while (start && full[start - 1] != ' ')
					start--;
				for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
					frag_ok &= c.set_by[k] < (int32_t)start;
			}
			if ((!agree || !last || !frag_ok) && bad++ < 5)
				printf("# cut at %zu of \"%.*s\"\n", cut, (int)n, full);
		}
	}
	ok(bad == 0, "a cut input reports the cut, and a word cut in two has no effect");

	/* More problems than the diagnostics array: counted, the first ones kept. */
	char many[1024];
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "x%d ", i);
	parse_checked(many, n, false);
	ok(c.ndiag == CMDLINE_DIAG_MAX && c.ndropped == 100 - CMDLINE_DIAG_MAX && c.diag[0].off == 0,
	   "100 bad words: %zu diagnostics kept, %zu counted", c.ndiag, c.ndropped);

	/* Input longer than the text buffer: cut there, reported. */
	static char huge[3 * CMDLINE_TEXT_MAX];
	memset(huge, ' ', sizeof(huge));
	memcpy(huge, "onexit=qemu", 11);
	memcpy(huge + CMDLINE_TEXT_MAX - 4, "syspte=64M", 10);
	parse_checked(huge, sizeof(huge), false);
	ok(c.cut && c.opts.onexit == CMDLINE_ONEXIT_QEMU && c.opts.syspte == SYSPTE_DEFAULT_SIZE && c.ndiag == 2 &&
	   c.diag[0].problem == CMDLINE_P_CUT_WORD, "input past the text buffer: cut, the word across the end ignored");
	parse_checked("", 0, false);
	struct cmdline_opts def;
	cmdline_defaults(&def);
	ok(!c.ndiag && model_opts_equal(&c.opts, &def), "empty input: defaults, no diagnostic");
}

/* ---------------------------------------------------------------- UTF-16 cuts */

/* End (exclusive) of the word of the n-byte ASCII line s that starts at off. */
static size_t word_end(const char *s, size_t n, size_t off)
{
	while (off < n && s[off] != ' ')
		off++;
	return off;
}

/*
 * Every cut of a UTF-16 file, in either byte order, at a unit boundary or inside a unit (the
 * loader passes BOOTINFO_CMDLINE_MAX - 1 bytes, an odd count, so a longer UTF-16 file is always
 * cut inside a unit): a word the cut splits has no effect, whatever half a unit would decode to.
 * The high byte of an ASCII unit in UTF-16BE is 0, a separator when read as a unit of its own.
 */
static void test_utf16_cuts(void)
{
	unsigned bad = 0, cuts = 0;
	for (unsigned r = 0; r < 200; r++) {
		char ascii[400], u16[2 + 2 * sizeof(ascii)];
		size_t n = 0;
		for (size_t i = 0, nw = 1 + draw(8); i < nw; i++) {
			random_valid_word(ascii + n, sizeof(ascii) - n);
			n += strlen(ascii + n);
			ascii[n++] = ' ';
		}
		for (int be = 0; be < 2; be++) {
			u16[0] = be ? '\xFE' : '\xFF';
			u16[1] = be ? '\xFF' : '\xFE';
			for (size_t i = 0; i < n; i++) {
				u16[2 + 2 * i + be] = ascii[i];
				u16[2 + 2 * i + !be] = 0;
			}
			for (size_t cut = 2; cut <= 2 + 2 * n; cut++) {
				bool good = parse_checked(u16, cut, true);
				size_t whole = (cut - 2) / 2;   /* units wholly inside the cut */
				for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
					good &= c.set_by[k] < 0 || word_end(ascii, n, (size_t)c.set_by[k]) <= whole;
				cuts++;
				if (!good && bad++ < 5)
					printf("# UTF-16%s cut at byte %zu of \"%.*s\": a cut word took effect\n", be ? "BE" : "LE",
					       cut, (int)n, ascii);
			}
		}
	}
	ok(bad == 0, "%u cuts of UTF-16LE/BE lines, inside units too: a word the cut splits has no effect", cuts);

	/* The loader's case: a UTF-16BE file longer than its buffer, cut between "maxcpus=1" and "6". */
	static char line[300], file[2 + 2 * sizeof(line)];
	memset(line, ' ', sizeof(line));
	size_t at = (BOOTINFO_CMDLINE_MAX - 1 - 2) / 2 - strlen("maxcpus=1");
	memcpy(line + at, "maxcpus=16", 10);
	file[0] = '\xFE';
	file[1] = '\xFF';
	for (size_t i = 0; i < sizeof(line); i++) {
		file[2 + 2 * i] = 0;
		file[3 + 2 * i] = line[i];
	}
	parse_checked(file, BOOTINFO_CMDLINE_MAX - 1, true);
	ok(c.opts.maxcpus == CMDLINE_MAXCPUS_MAX && c.set_by[CMDLINE_MAXCPUS] < 0 && c.ndiag == 2 &&
	   c.diag[0].problem == CMDLINE_P_CUT_WORD && c.diag[0].key == CMDLINE_MAXCPUS,
	   "UTF-16BE file cut by the loader inside \"maxcpus=16\": no effect, reported cut (maxcpus=%u)", c.opts.maxcpus);
}

/* ---------------------------------------------------------------- UTF-16 decoding edges */

/* The UTF-8 encoding of the 16-bit unit u (a surrogate as its own value) into out; returns its length. */
static size_t utf8_of(unsigned u, unsigned char out[3])
{
	if (u < 0x80) {
		out[0] = (unsigned char)u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = (unsigned char)(0xC0 | u >> 6);
		out[1] = (unsigned char)(0x80 | (u & 0x3F));
		return 2;
	}
	out[0] = (unsigned char)(0xE0 | u >> 12);
	out[1] = (unsigned char)(0x80 | (u >> 6 & 0x3F));
	out[2] = (unsigned char)(0x80 | (u & 0x3F));
	return 3;
}

/*
 * Every UTF-16 unit value, in both byte orders, decodes to its UTF-8 bytes (1, 2 or 3, switching
 * at U+0080 and U+0800); and a UTF-16 text whose decoding reaches the end of the text buffer keeps
 * a last character of 1, 2 or 3 bytes exactly when it fits whole, else stops before it, cut.
 */
static void test_utf16_decoding_edges(void)
{
	unsigned bad = 0;
	for (unsigned u = 1; u <= 0xFFFF; u++)
		for (int be = 0; be < 2; be++) {
			unsigned char raw[6] = { be ? 0xFE : 0xFF, be ? 0xFF : 0xFE, 0, 0, 0, 0 }, want[3];
			raw[2 + be] = (unsigned char)u;
			raw[3 - be] = (unsigned char)(u >> 8);
			raw[4 + be] = ' ';
			size_t n = utf8_of(u, want);
			bool agree = parse_checked(raw, sizeof(raw), false);
			if ((!agree || c.text_len != n + 1 || memcmp(c.text, want, n)) && bad++ < 5)
				printf("# UTF-16%s unit 0x%04x: %zu bytes decoded, want %zu\n", be ? "BE" : "LE", u, c.text_len, n + 1);
		}
	ok(bad == 0, "every UTF-16LE/BE unit decodes to its 1-, 2- or 3-byte UTF-8");

	bad = 0;
	static const unsigned last[] = { 'a', 0xE9, 0x7FF, 0x800, 0x20AC };
	static unsigned char raw[2 + 2 * (CMDLINE_TEXT_MAX + 1)];
	for (size_t k = 0; k < sizeof(last) / sizeof(last[0]); k++)
		for (size_t ascii = CMDLINE_TEXT_MAX - 4; ascii <= CMDLINE_TEXT_MAX; ascii++) {
			unsigned char want[3];
			size_t need = utf8_of(last[k], want), len = 2;
			raw[0] = 0xFF;
			raw[1] = 0xFE;
			for (size_t i = 0; i < ascii; i++, len += 2)
				raw[len] = 'a', raw[len + 1] = 0;
			raw[len] = (unsigned char)last[k];
			raw[len + 1] = (unsigned char)(last[k] >> 8);
			len += 2;
			bool fits = ascii + need <= CMDLINE_TEXT_MAX;
			bool agree = parse_checked(raw, len, false);
			bool good = agree && c.cut == !fits && c.text_len == (fits ? ascii + need : ascii) &&
				    (!fits || !memcmp(c.text + ascii, want, need));
			if (!good && bad++ < 5)
				printf("# %zu ASCII units then U+%04X: %zu bytes kept, cut %d\n", ascii, last[k], c.text_len, c.cut);
		}
	ok(bad == 0, "a character ending the text buffer is kept exactly when all its bytes fit, else the text is cut before it");
}

/* ---------------------------------------------------------------- exact cuts and surrogate pairs */

enum { ENC_ASCII, ENC_UTF8_BOM, ENC_UTF16LE, ENC_UTF16BE, ENC_COUNT };
static const char *const enc_names[ENC_COUNT] = { "ASCII", "UTF-8 with BOM", "UTF-16LE", "UTF-16BE" };

/* Bytes of enc's byte-order mark. */
static size_t enc_bom_len(unsigned enc) { return enc == ENC_ASCII ? 0 : enc == ENC_UTF8_BOM ? 3 : 2; }

/* Writes enc's byte-order mark at out; returns its length. */
static size_t enc_bom(unsigned enc, unsigned char *out)
{
	static const unsigned char boms[ENC_COUNT][3] = { { 0 }, { 0xEF, 0xBB, 0xBF }, { 0xFF, 0xFE }, { 0xFE, 0xFF } };
	memcpy(out, boms[enc], enc_bom_len(enc));
	return enc_bom_len(enc);
}

/* The UTF-8 of code point cp (a surrogate value as its 3 bytes) at out; returns its length. */
static size_t utf8_cp(unsigned long cp, unsigned char *out)
{
	if (cp < 0x10000)
		return utf8_of((unsigned)cp, out);
	out[0] = (unsigned char)(0xF0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Writes the 16-bit unit u in UTF-16 (be: big-endian) at out; returns 2. */
static size_t utf16_unit(unsigned u, bool be, unsigned char *out)
{
	out[be] = (unsigned char)u;
	out[!be] = (unsigned char)(u >> 8);
	return 2;
}

/* Writes code point cp in enc at out (UTF-16: a surrogate pair beyond U+FFFF); returns the bytes. */
static size_t enc_cp(unsigned enc, unsigned long cp, unsigned char *out)
{
	if (enc < ENC_UTF16LE)
		return utf8_cp(cp, out);
	bool be = enc == ENC_UTF16BE;
	if (cp < 0x10000)
		return utf16_unit((unsigned)cp, be, out);
	utf16_unit(0xD800 + (unsigned)((cp - 0x10000) >> 10), be, out);
	return 2 + utf16_unit(0xDC00 + (unsigned)((cp - 0x10000) & 0x3FF), be, out + 2);
}

/* True for the code points that separate words. */
static bool cp_is_sep(unsigned long cp) { return cp == 0 || cp == ' ' || (cp >= '\t' && cp <= '\r'); }

/*
 * The loader's cut at every position of a word's end from 505 to 515 bytes (the loader passes
 * 511, and 510 whole bytes of UTF-16), in each encoding, followed by each separator or by a
 * character that continues the word: among these, in UTF-16, units whose one byte reads as a
 * separator (U+0A00 is 00 0A in UTF-16LE, U+2000 is 20 00 in UTF-16BE) and the high half of a
 * surrogate pair. The loader's flags say CUT, and CUT_AT_SEP exactly when a separator follows the
 * passed bytes; the word takes effect exactly when it is whole in what was passed and the cut
 * falls before a separator, else it is a fragment; the cut is reported either way. With the
 * flags of a loader before CUT_AT_SEP (CUT alone) a word ending at the cut stays a fragment.
 */
static void test_loader_cut_positions(void)
{
	static const unsigned long seps[] = { ' ', '\t', '\n', '\r', '\v', '\f', 0 };
	static const unsigned long conts[] = { 'z', '6', '=', 0xE9, 0x120, 0x2000, 0xA00, 0xD20, 0x1F600 };
	enum { NFOLLOW = sizeof(seps) / sizeof(seps[0]) + sizeof(conts) / sizeof(conts[0]) };
	static unsigned char file[4096];
	unsigned bad = 0, runs = 0, whole_at_cut = 0;

	for (unsigned enc = 0; enc < ENC_COUNT; enc++)
		for (size_t e = 505; e <= 515; e++)
			for (unsigned fk = 0; fk < NFOLLOW; fk++)
				for (unsigned emoji = 0; emoji < 2; emoji++) {
					bool u16 = enc >= ENC_UTF16LE;
					if (u16 && e % 2)
						continue;   /* a UTF-16 word ends on a unit boundary */
					bool sep = fk < sizeof(seps) / sizeof(seps[0]);
					unsigned long follow = sep ? seps[fk] : conts[fk - sizeof(seps) / sizeof(seps[0])];
					unsigned ncpu = 2 + (unsigned)draw(CMDLINE_MAXCPUS_MAX - 1);
					unsigned char word[64];
					size_t wl = 0;
					char ascii[32];
					snprintf(ascii, sizeof(ascii), emoji ? "ktest=ab" : "maxcpus=%u", ncpu);
					for (size_t i = 0; ascii[i]; i++)
						wl += enc_cp(enc, (unsigned char)ascii[i], word + wl);
					if (emoji)
						wl += enc_cp(enc, 0x1F4BE, word + wl);
					size_t n = enc_bom(enc, file), unit = u16 ? 2 : 1;
					while (n + wl < e)
						n += enc_cp(enc, ' ', file + n);
					memcpy(file + n, word, wl);
					n += wl;
					for (unsigned k = 0; k < 40; k++)   /* the word goes on, or separators follow */
						n += enc_cp(enc, k == 0 || !sep ? follow : ' ', file + n);
					n += enc_cp(enc, '\n', file + n);

					uint32_t flags = 0;
					size_t len = bootinfo_cmdline_cut(file, BOOTINFO_CMDLINE_MAX, &flags);
					size_t eff = len - len % unit;                   /* whole characters passed */
					bool whole = e <= eff && sep;                    /* the word and a separator before the cut */
					bool ends_text = e == eff || !sep || e > eff;    /* the passed text ends inside the word */
					uint32_t want_flags = BOOTINFO_CMDLINE_CUT | (whole ? BOOTINFO_CMDLINE_CUT_AT_SEP : 0);
					bool good = len == BOOTINFO_CMDLINE_MAX - 1 && flags == want_flags &&
						    flags == model_cmdline_flags(file, n, len) && parse_checked(file, len, flags);
					unsigned want_problem = whole ? (emoji ? CMDLINE_P_NOT_ASCII : CMDLINE_NPROBLEMS) : CMDLINE_P_CUT_WORD;
					good &= want_problem == CMDLINE_NPROBLEMS ?
						c.ndiag == 1 && c.opts.maxcpus == ncpu :
						c.ndiag == 2 && c.diag[0].problem == want_problem && c.opts.maxcpus == CMDLINE_MAXCPUS_MAX;
					good &= c.ndiag && c.diag[c.ndiag - 1].problem == CMDLINE_P_INPUT_CUT && c.cut;
					if (want_problem == CMDLINE_P_NOT_ASCII)
						good &= c.diag[0].key == CMDLINE_KTEST && c.diag[0].len == strlen(ascii) + 4 &&
							!memcmp(c.text + c.diag[0].off + strlen(ascii), "\xF0\x9F\x92\xBE", 4);
					/* the flags of an older loader: a word ending the passed text is a fragment */
					good &= parse_checked(file, len, BOOTINFO_CMDLINE_CUT);
					good &= ends_text ? c.ndiag == 2 && c.diag[0].problem == CMDLINE_P_CUT_WORD &&
							    c.opts.maxcpus == CMDLINE_MAXCPUS_MAX :
							    c.ndiag == 1 + emoji && (emoji || c.opts.maxcpus == ncpu);
					runs++;
					whole_at_cut += whole && e == eff;
					if (!good && bad++ < 8)
						printf("# %s, \"%s%s\" ending at byte %zu, then U+%04lX: flags %#x (want %#x), %zu "
						       "diagnostics, first problem %u (want %u), maxcpus %u\n", enc_names[enc], ascii,
						       emoji ? "+U+1F4BE" : "", e, follow, flags, want_flags, c.ndiag,
						       c.ndiag ? c.diag[0].problem : 99, want_problem, c.opts.maxcpus);
				}
	ok(bad == 0, "%u files cut by the loader with a word ending at bytes 505..515 (%u ending right at the cut "
	   "before a separator): a word takes effect exactly when the cut falls before a separator, and with an "
	   "older loader's flags a word ending at the cut is a fragment", runs, whole_at_cut);
}

/* The ASCII line s (n bytes) in enc, with its byte-order mark, at out; returns the bytes. */
static size_t enc_line(unsigned enc, const char *s, size_t n, unsigned char *out)
{
	size_t len = enc_bom(enc, out);
	for (size_t i = 0; i < n; i++)
		len += enc_cp(enc, (unsigned char)s[i], out + len);
	return len;
}

/*
 * Every cut length of random lines of valid words and every separator, in each encoding, with the
 * flags their definition gives (CUT, and CUT_AT_SEP when the next character, for UTF-16 the unit
 * holding the next byte, is a separator): the options are exactly those of the words wholly
 * passed and followed by a separator in the source, parsed alone; a CUT_WORD diagnostic appears
 * exactly when the cut splits a word; the cut is reported.
 */
static void test_exact_cuts_any_length(void)
{
	static const char seps[] = " \t\n\r\v\f";
	static struct cmdline alone;
	unsigned bad = 0, runs = 0, splits = 0;
	for (unsigned r = 0; r < 120; r++) {
		char line[400];
		size_t n = 0;
		for (size_t i = 0, nw = 1 + draw(8); i < nw; i++) {
			random_valid_word(line + n, sizeof(line) - n - 4);
			n += strlen(line + n);
			for (size_t k = 0, ns = 1 + draw(3); k < ns; k++)
				line[n++] = draw(8) ? seps[draw(sizeof(seps) - 1)] : 0;
		}
		if (draw(2))
			while (n && cp_is_sep((unsigned char)line[n - 1]))
				n--;   /* some lines end in a word */
		for (unsigned enc = 0; enc < ENC_COUNT; enc++) {
			unsigned char raw[2 * sizeof(line) + 4];
			size_t total = enc_line(enc, line, n, raw), bom = enc_bom_len(enc), unit = enc >= ENC_UTF16LE ? 2 : 1;
			for (size_t len = bom; len < total; len++) {
				unsigned flags = model_cmdline_flags(raw, total, len);
				size_t p = (len - bom) / unit;   /* characters wholly passed */
				bool split = p > 0 && !cp_is_sep((unsigned char)line[p - 1]) && !cp_is_sep((unsigned char)line[p]);
				size_t keep = p;
				while (split && keep && !cp_is_sep((unsigned char)line[keep - 1]))
					keep--;
				cmdline_parse(&alone, line, keep, 0);
				bool good = parse_checked(raw, len, flags) && model_opts_equal(&c.opts, &alone.opts) &&
					    (flags & CMDLINE_CUT_AT_SEP) == (cp_is_sep((unsigned char)line[p]) ? CMDLINE_CUT_AT_SEP : 0u);
				unsigned cut_words = 0;
				for (size_t i = 0; i < c.ndiag; i++)
					cut_words += c.diag[i].problem == CMDLINE_P_CUT_WORD;
				good &= cut_words == split && c.ndiag && c.diag[c.ndiag - 1].problem == CMDLINE_P_INPUT_CUT;
				runs++;
				splits += split;
				if (!good && bad++ < 5)
					printf("# %s cut at byte %zu of %zu (%zu characters, split %d, flags %#x): %u cut words\n",
					       enc_names[enc], len, total, p, split, flags, cut_words);
			}
		}
	}
	ok(bad == 0, "%u cuts of random lines in 4 encodings (%u inside a word): only a word the cut splits is a "
	   "fragment, every word before it takes effect", runs, splits);
}

/* The UTF-8 a UTF-16 decoder must give for units u[0, n): a high surrogate and a low one after it
 * as one 4-byte sequence, any other unit (a lone surrogate too) as its 1 to 3 bytes. */
static size_t utf16_expect(const unsigned *u, size_t n, unsigned char *out)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (u[i] >= 0xD800 && u[i] < 0xDC00 && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] < 0xE000) {
			len += utf8_cp(0x10000 + ((unsigned long)(u[i] - 0xD800) << 10) + (u[i + 1] - 0xDC00), out + len);
			i++;
			continue;
		}
		len += utf8_of(u[i], out + len);
	}
	return len;
}

/* A random unit of one class: ASCII letter, separator, other BMP, high or low surrogate. */
static unsigned random_unit(void)
{
	switch (draw(6)) {
	case 0: return 'a' + (unsigned)draw(26);
	case 1: return " \t\n"[draw(3)];
	case 2: return (unsigned[]){ 0xE9, 0x20AC, 0xFFFD, 0xFFFF, 0xD7FF, 0xE000 }[draw(6)];
	case 3: case 4: return 0xD800 + (unsigned)draw(0x400);
	default: return 0xDC00 + (unsigned)draw(0x400);
	}
}

/*
 * Random UTF-16 unit sequences, both byte orders, rich in surrogates (pairs, a high one alone, a
 * low one alone, two highs, a pair's halves reversed): the text is exactly the expected UTF-8
 * (a pair as one 4-byte sequence, never two 3-byte halves; a lone surrogate as its own value),
 * and a word holding one is refused as not ASCII, its message quoting those bytes.
 */
static void test_surrogates(void)
{
	unsigned bad = 0, pairs = 0, lone = 0;
	for (unsigned r = 0; r < 20000; r++) {
		unsigned u[48];
		size_t n = 1 + draw(sizeof(u) / sizeof(u[0]));
		for (size_t i = 0; i < n; i++)
			u[i] = random_unit();
		unsigned char want[4 * 48], raw[2 + 2 * 48];
		size_t wl = utf16_expect(u, n, want);
		for (int be = 0; be < 2; be++) {
			size_t len = enc_bom(be ? ENC_UTF16BE : ENC_UTF16LE, raw);
			for (size_t i = 0; i < n; i++)
				len += utf16_unit(u[i], be, raw + len);
			bool good = parse_checked(raw, len, 0) && c.text_len == wl && !memcmp(c.text, want, wl);
			for (size_t i = 0; i + 1 < c.text_len; i++)   /* no CESU-8 pair: ED A0..AF xx ED B0..BF xx */
				good &= !((uint8_t)c.text[i] == 0xED && (uint8_t)c.text[i + 1] >= 0xA0 && (uint8_t)c.text[i + 1] < 0xB0 &&
					  i + 4 < c.text_len && (uint8_t)c.text[i + 3] == 0xED && (uint8_t)c.text[i + 4] >= 0xB0);
			if (!good && bad++ < 5) {
				printf("# UTF-16%s units:", be ? "BE" : "LE");
				for (size_t i = 0; i < n; i++)
					printf(" %04x", u[i]);
				printf(": %zu bytes decoded, want %zu\n", c.text_len, wl);
			}
		}
		for (size_t i = 0; i < wl; i++) {
			pairs += want[i] >= 0xF0;
			lone += want[i] == 0xED && want[i + 1] >= 0xA0;   /* U+D800..U+DFFF, not U+D000..U+D7FF */
		}
	}
	ok(bad == 0, "20000 random UTF-16LE/BE sequences (%u pairs, %u lone surrogates): each decoded to the expected "
	   "UTF-8, a pair as one 4-byte sequence", pairs, lone);

	/* Notepad's "Unicode" file with an emoji: one 4-byte sequence, quoted so in the message. */
	static const unsigned emoji[] = { 'k', 't', 'e', 's', 't', '=', 0xD83D, 0xDE00, ' ', 'o', 'n', 'e', 'x', 'i', 't',
		'=', 'q', 'e', 'm', 'u', ' ', 0xDE00, 0xD83D, ' ', 0xD83D };
	unsigned char raw[2 + 2 * sizeof(emoji) / sizeof(emoji[0])];
	char buf[256], word[CMDLINE_WORD_FMT_MAX];
	size_t len = enc_bom(ENC_UTF16LE, raw);
	for (size_t i = 0; i < sizeof(emoji) / sizeof(emoji[0]); i++)
		len += utf16_unit(emoji[i], false, raw + len);
	bool agree = parse_checked(raw, len, 0);
	cmdline_diag_format(&c, 0, buf, sizeof(buf));
	cmdline_diag_word(&c, 1, word, sizeof(word));
	ok(agree && c.ndiag == 3 && c.opts.onexit == CMDLINE_ONEXIT_QEMU && c.diag[0].problem == CMDLINE_P_NOT_ASCII &&
	   c.diag[0].key == CMDLINE_KTEST && c.diag[0].len == 10 &&
	   !strcmp(buf, "cmdline: \"ktest=\\xf0\\x9f\\x98\\x80\" ignored: a byte that is not printable ASCII; using "
		   "ktest=(every test)") &&
	   !strcmp(word, "\"\\xed\\xb8\\x80\\xed\\xa0\\xbd\"") && c.diag[2].len == 3,
	   "UTF-16LE \"ktest=U+1F600\": one 4-byte character, refused (%s); a reversed pair and a high surrogate "
	   "ending the file: lone, 3 bytes each (%s)", buf, word);

	/* A pair or a lone surrogate ending the text buffer: kept only when all its bytes fit. */
	bad = 0;
	static unsigned char big[2 + 2 * (CMDLINE_TEXT_MAX + 4)];
	static const unsigned tails[][2] = { { 0xD83D, 0xDE00 }, { 0xDBFF, 0xDFFF }, { 0xD800, ' ' }, { 0xDC00, ' ' } };
	for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++)
		for (size_t ascii = CMDLINE_TEXT_MAX - 6; ascii <= CMDLINE_TEXT_MAX; ascii++)
			for (int be = 0; be < 2; be++) {
				size_t n = enc_bom(be ? ENC_UTF16BE : ENC_UTF16LE, big);
				for (size_t i = 0; i < ascii; i++)
					n += utf16_unit('a', be, big + n);
				n += utf16_unit(tails[k][0], be, big + n);
				n += utf16_unit(tails[k][1], be, big + n);
				size_t need = tails[k][1] == ' ' ? 3 : 4;
				bool fits = ascii + need <= CMDLINE_TEXT_MAX;
				size_t want_len = fits ? ascii + need + (need == 3 && ascii + need < CMDLINE_TEXT_MAX) : ascii;
				bool good = parse_checked(big, n, 0) && c.text_len == want_len &&
					    c.cut == (fits ? need == 3 && ascii + need == CMDLINE_TEXT_MAX : true);
				if (!good && bad++ < 5)
					printf("# %zu ASCII units then %04x %04x: %zu bytes kept (want %zu), cut %d\n", ascii,
					       tails[k][0], tails[k][1], c.text_len, want_len, c.cut);
			}
	ok(bad == 0, "a surrogate pair (4 bytes) or a lone surrogate (3) ending the text buffer is kept exactly when "
	   "all its bytes fit, else the text is cut before it");
}

/*
 * A word ending exactly at the end of the text buffer (a decoding cut, CMDLINE_TEXT_MAX bytes): whole
 * when the next character is a separator, a fragment otherwise, in 8-bit text and in UTF-16.
 */
static void test_text_buffer_cut_exact(void)
{
	static unsigned char raw[2 + 2 * (CMDLINE_TEXT_MAX + 64)];
	static const unsigned long follows[] = { ' ', '\t', '\n', 0, 'z', '7', 0xE9, 0x1F600 };
	unsigned bad = 0, runs = 0;
	for (unsigned enc = 0; enc < ENC_COUNT; enc++)
		for (size_t f = 0; f < sizeof(follows) / sizeof(follows[0]); f++)
			for (size_t end = CMDLINE_TEXT_MAX - 2; end <= CMDLINE_TEXT_MAX; end++) {
				unsigned ncpu = 1 + (unsigned)draw(9);
				size_t n = enc_bom(enc, raw);
				for (size_t i = 0; i + 9 < end; i++)
					n += enc_cp(enc, ' ', raw + n);
				char w[16];
				snprintf(w, sizeof(w), "maxcpus=%u", ncpu);
				for (size_t i = 0; w[i]; i++)
					n += enc_cp(enc, (unsigned char)w[i], raw + n);
				for (unsigned k = 0; k < 20; k++)
					n += enc_cp(enc, follows[f], raw + n);
				bool sep = cp_is_sep(follows[f]);   /* more follows than fit: the text is always cut */
				bool good = parse_checked(raw, n, 0) && c.cut &&
					    (sep ? c.opts.maxcpus == ncpu && c.ndiag == 1 :
						   c.opts.maxcpus == CMDLINE_MAXCPUS_MAX && c.ndiag == 2 &&
						   c.diag[0].problem == CMDLINE_P_CUT_WORD);
				runs++;
				if (!good && bad++ < 5)
					printf("# %s: \"%s\" ending at text byte %zu, then U+%04lX: cut %d, maxcpus %u, %zu diagnostics\n",
					       enc_names[enc], w, end, follows[f], c.cut, c.opts.maxcpus, c.ndiag);
			}
	ok(bad == 0, "%u inputs longer than the text buffer with a word ending at its end or just before: the word "
	   "is whole exactly when a separator follows", runs);
}

/*
 * The cut's message names the cut that happened: input the caller cut (the loader's 511 bytes) is
 * "longer than the N bytes read", the rest "after N bytes"; input that decodes past the text buffer
 * is "more than the CMDLINE_TEXT_MAX bytes the parser keeps", the rest "after K decoded bytes" (K the
 * bytes kept), whatever the raw length and whether the caller cut it too; in every encoding and for
 * generated lengths on both sides of the buffer.
 */
static void test_cut_message_names_its_cut(void)
{
	static unsigned char raw[2 + 2 * (3 * CMDLINE_TEXT_MAX)];
	char line[256], word[CMDLINE_WORD_FMT_MAX], want[256], want_word[64];
	unsigned bad = 0, runs = 0;
	for (unsigned enc = 0; enc < ENC_COUNT; enc++)
		for (unsigned r = 0; r < 200; r++) {
			/* One word, then a comment to the end: the cut is the only diagnostic. */
			static const char head[] = "ptdump=0 #";
			size_t chars = sizeof(head) - 1 + draw(2 * CMDLINE_TEXT_MAX), n = enc_bom(enc, raw);
			for (size_t i = 0; i < chars; i++)
				n += enc_cp(enc, i < sizeof(head) - 1 ? (unsigned char)head[i] : i % 7 == 6 ? ' ' : 'a' + (unsigned)draw(26),
					    raw + n);
			unsigned flags = draw(2) ? CMDLINE_CUT : 0;
			parse_checked(raw, n, flags);
			runs++;
			size_t i = 0;
			bool full = c.text_len + 1 > CMDLINE_TEXT_MAX || chars > c.text_len;   /* more text than kept */
			if (!full && !flags) {
				if (c.cut && bad++ < 5)
					printf("# %s, %zu characters, not cut by the caller: reported cut\n", enc_names[enc], chars);
				continue;
			}
			if (full) {
				snprintf(want, sizeof(want), "cmdline: the command line decodes to more than the %d bytes the parser "
					 "keeps; the rest is ignored", CMDLINE_TEXT_MAX);
				snprintf(want_word, sizeof(want_word), "(the rest after %zu decoded bytes)", c.text_len);
			} else {
				snprintf(want, sizeof(want), "cmdline: the command line is longer than the %zu bytes read; the rest "
					 "is ignored", n);
				snprintf(want_word, sizeof(want_word), "(the rest after %zu bytes)", n);
			}
			cmdline_diag_format(&c, i, line, sizeof(line));
			cmdline_diag_word(&c, i, word, sizeof(word));
			bool good = c.cut && c.text_full == full && c.ndiag == 1 && c.diag[i].problem == CMDLINE_P_INPUT_CUT &&
				    c.opts.ptdump == 0 &&
				    !strcmp(line, want) && !strcmp(word, want_word);
			if (!good && bad++ < 5)
				printf("# %s, %zu characters (%zu bytes, %s): \"%s\" / \"%s\", want \"%s\" / \"%s\"\n",
				       enc_names[enc], chars, n, flags ? "cut by the caller" : "whole", line, word, want, want_word);
		}
	ok(bad == 0, "%u inputs of 10 to %d characters, cut by the caller or not: the cut's message and word name the "
	   "caller's cut or the text buffer's, whichever happened", runs, 2 * CMDLINE_TEXT_MAX + 10);
}

/* ---------------------------------------------------------------- formatting edges */

/*
 * The formatting functions at their edges: the text display joins words with one space and no
 * space before the first or after the last, whatever separators surround them; a diagnostic index
 * at or past ndiag formats nothing; a key index at or past CMDLINE_NKEYS is named "?"; the
 * in-effect line of generated options parses back to them, naming ktest= only when it is set;
 * sizes print in the largest exact unit, 0 as 0M.
 */
static void test_formatting_edges(void)
{
	unsigned bad = 0;
	for (unsigned r = 0; r < 2000; r++) {
		char words[6][64], raw[1024], want[1024], got[1024];
		size_t nr = 0, nw = draw(6), nwant = 0;
		for (size_t s = draw(3); s; s--)
			raw[nr++] = " \t\r\n\v\f\0"[draw(7)];
		for (size_t i = 0; i < nw; i++) {
			random_valid_word(words[i], sizeof(words[i]));
			nr = append(raw, nr, words[i], strlen(words[i]));
			nwant += (size_t)snprintf(want + nwant, sizeof(want) - nwant, "%s%s", i ? " " : "", words[i]);
			for (size_t s = 1 + draw(3); s; s--)
				raw[nr++] = " \t\r\n\v\f\0"[draw(7)];
		}
		want[nwant] = 0;
		bool agree = parse_checked(raw, nr, false);
		size_t n = cmdline_text_format(&c, got, sizeof(got));
		if ((!agree || n != nwant || strcmp(got, want)) && bad++ < 5)
			printf("# text display \"%s\", want \"%s\"\n", got, want);

		char line[512], buf[64];
		size_t ln = cmdline_opts_format(&c.opts, line, sizeof(line));
		struct cmdline_opts o = c.opts;
		bool ktest_named = strstr(line, "ktest=") != NULL;
		memset(buf, 'Z', sizeof(buf));
		size_t past = cmdline_diag_format(&c, c.ndiag + draw(3), buf, sizeof(buf));
		agree = parse_checked(line, ln, false);
		if ((!agree || !model_opts_equal(&c.opts, &o) || c.ndiag || ktest_named != (o.ktest[0] != 0) || past || buf[0]) &&
		    bad++ < 5)
			printf("# in-effect line \"%s\" (%zu diagnostics), a diagnostic past the last: %zu bytes\n", line, c.ndiag,
			       past);
	}
	ok(bad == 0, "text display joins words with single spaces; the in-effect line parses back, ktest= only when set; "
	   "no diagnostic past the last");

	bool names = true;
	for (unsigned k = 0; k < CMDLINE_NKEYS; k++)
		names &= strcmp(cmdline_key_name(k), "?") != 0;
	for (unsigned k = CMDLINE_NKEYS; k < CMDLINE_NKEYS + 3; k++)
		names &= !strcmp(cmdline_key_name(k), "?");
	names &= !strcmp(cmdline_key_name(~0u), "?");
	ok(names, "every key has a name; indices from CMDLINE_NKEYS on are \"?\"");

	bad = 0;
	for (uint64_t k = 0; k <= 600; k++) {
		uint64_t bytes = k * 2 * 1024 * 1024;
		char got[32], want[32];
		if (bytes && bytes % (1ULL << 30) == 0)
			snprintf(want, sizeof(want), "%lluG", (unsigned long long)(bytes >> 30));
		else
			snprintf(want, sizeof(want), "%lluM", (unsigned long long)(bytes >> 20));
		cmdline_size_format(bytes, got, sizeof(got));
		if (strcmp(got, want) && bad++ < 5)
			printf("# size %llu formatted \"%s\", want \"%s\"\n", (unsigned long long)bytes, got, want);
	}
	ok(bad == 0, "sizes 0..1200M format in the largest exact unit (0 as 0M)");
}

/* Ignored words among the parse in c: the kept diagnostics cmdline_diag_ignored names, and the
 * dropped ones counted in ndropped_ignored (what the summary's "Command line ignored" row counts). */
static size_t ignored_total(void)
{
	size_t n = c.ndropped_ignored;

	for (size_t i = 0; i < c.ndiag; i++)
		n += cmdline_diag_ignored(&c, i);
	return n;
}

/* Lines of valid words overriding each other and bad words, in random order and numbers on both
 * sides of CMDLINE_DIAG_MAX: the ignored words counted are exactly the bad ones (and the cut),
 * however many overrides filled the diagnostics array first. */
static void test_ignored_count_excludes_overrides(void)
{
	static const char *const valid[] = { "maxcpus=2", "syspte=64M", "onexit=qemu", "verifier=0" };
	static char line[4096];
	unsigned bad = 0, rounds = 0;

	for (size_t overrides = 0; overrides <= CMDLINE_DIAG_MAX + 6; overrides += 1 + draw(3))
		for (size_t bad_words = 0; bad_words <= CMDLINE_DIAG_MAX + 6; bad_words += 1 + draw(3)) {
			size_t n = 0, left_valid = overrides + 1, left_bad = bad_words;
			unsigned key = (unsigned)draw(sizeof(valid) / sizeof(valid[0]));
			bool cut = draw(3) == 0;
			while (left_valid + left_bad) {
				if (left_bad && (!left_valid || draw(left_valid + left_bad) < left_bad))
					n += (size_t)snprintf(line + n, sizeof(line) - n, "nosuch%zu=1 ", left_bad--);
				else
					n += (size_t)snprintf(line + n, sizeof(line) - n, "%s ", valid[key]), left_valid--;
			}
			if (n >= CMDLINE_TEXT_MAX && bad++ < 5)
				printf("# a line of %zu bytes: longer than the parser keeps\n", n);
			parse_checked(line, n, cut);
			rounds++;
			size_t want = bad_words + cut;
			if (ignored_total() != want && bad++ < 5)
				printf("# %zu overrides, %zu bad words%s: %zu ignored counted (%zu kept, %zu dropped), want %zu\n",
				       overrides, bad_words, cut ? ", cut" : "", ignored_total(), ignored_total() - c.ndropped_ignored,
				       c.ndropped_ignored, want);
		}
	ok(bad == 0, "%u lines of overrides and bad words: the ignored words counted are the bad ones, kept or dropped",
	   rounds);
}

/* ---------------------------------------------------------------- random inputs against the model */

/* The parse in c: every diagnostic but OVERRIDDEN is ignored; an ignored word's text is what its
 * message quotes after "cmdline: ", fits CMDLINE_WORD_FMT_MAX, and comes back whole in a buffer of
 * its length + 1 and cut (NUL-terminated) in a shorter one; none past the last. */
static bool ignored_words_sound(void)
{
	char word[CMDLINE_WORD_FMT_MAX + 8], line[1024], small[8];

	for (size_t i = 0; i < c.ndiag + 2; i++) {
		bool ignored = cmdline_diag_ignored(&c, i);
		size_t n = cmdline_diag_word(&c, i, word, sizeof(word));
		if (i >= c.ndiag) {
			if (ignored || n || word[0])
				return printf("# diagnostic %zu past the last %zu: ignored %d, word \"%s\"\n", i, c.ndiag, ignored,
					      word), false;
			continue;
		}
		if (ignored != (c.diag[i].problem != CMDLINE_P_OVERRIDDEN) || n != strlen(word) || n + 1 > CMDLINE_WORD_FMT_MAX)
			return printf("# diagnostic %zu (problem %u): ignored %d, word \"%s\" of %zu\n", i, c.diag[i].problem,
				      ignored, word, n), false;
		if (c.diag[i].problem == CMDLINE_P_INPUT_CUT)
			snprintf(line, sizeof(line), c.text_full ? "(the rest after %zu decoded bytes)" : "(the rest after %zu bytes)",
				 c.text_full ? c.text_len : c.raw_len);
		else
			cmdline_diag_format(&c, i, line, sizeof(line));
		if (c.diag[i].problem == CMDLINE_P_INPUT_CUT ? strcmp(word, line) != 0 :
		    strncmp(line, "cmdline: ", 9) || strncmp(line + 9, word, n) || line[9 + n] != ' ' || word[0] != '"')
			return printf("# diagnostic %zu: word \"%s\" is not what its message quotes: %s\n", i, word, line), false;
		size_t cap = 1 + draw(sizeof(small) - 1);
		if (cmdline_diag_word(&c, i, small, cap) != MIN(n, cap - 1) || strncmp(small, word, cap - 1) ||
		    small[MIN(n, cap - 1)])
			return printf("# diagnostic %zu: word cut to %zu bytes: \"%s\"\n", i, cap, small), false;
	}
	return true;
}

static void test_random_against_model(void)
{
	static const char *const pieces[] = { "onexit", "syspte", "ktest", "mmapdump", "ptdump", "verifier", "exhaust",
		"crashtest", "=", "==", "qemu", "halt", "reboot", "1", "0", "on", "off", "yes", "64M", "2M", "512G", "1T",
		"0x10", "-", "#", "# c\n", " ", "\t", "\r\n", "\n", "\0", "\xEF\xBB\xBF", "\xFF\xFE", "\xFE\xFF", "\xc3\xa9",
		"\x80", "\x7f", "map_", "full", "budget", "nmi", "pf", "_", "K", "g", "99999999999999999999", "onexti",
		"maxcpus", "255", "256", "007", "maxcpu" };
	static const size_t piece_len[] = { 6, 6, 5, 8, 6, 8, 7, 9, 1, 2, 4, 4, 6, 1, 1, 2, 3, 3, 3, 2, 4, 2, 4, 1, 1,
		4, 1, 1, 2, 1, 1, 3, 2, 2, 2, 1, 1, 4, 4, 6, 3, 2, 1, 1, 1, 20, 6, 7, 3, 3, 3, 6 };
	_Static_assert(sizeof(pieces) / sizeof(pieces[0]) == sizeof(piece_len) / sizeof(piece_len[0]), "piece lengths");
	unsigned bad = 0, total = 0, bad_words = 0, bad_count = 0;
	for (unsigned r = 0; r < 30000; r++) {
		static char buf[1400];
		size_t n = 0;
		while (n < 1200 && draw(40)) {
			if (draw(8) == 0) {
				buf[n++] = (char)draw(256);
				continue;
			}
			size_t p = draw(sizeof(pieces) / sizeof(pieces[0]));
			n = append(buf, n, pieces[p], piece_len[p]);
		}
		bool cut = draw(4) == 0;
		total++;
		if (!parse_checked(buf, n, cut) && bad++ < 5)
			printf("# random input %u disagrees (%zu bytes)\n", r, n);
		if (!ignored_words_sound() && bad_words++ < 5)
			printf("# in random input %u\n", r);
		size_t model_ignored = 0;
		for (size_t i = 0; i < m.ndiag && i < MODEL_CMDLINE_MAX_DIAG; i++)
			model_ignored += m.diag[i].problem != CMDLINE_P_OVERRIDDEN;
		if (m.ndiag <= MODEL_CMDLINE_MAX_DIAG && ignored_total() != model_ignored && bad_count++ < 5)
			printf("# random input %u: %zu ignored words counted, model %zu\n", r, ignored_total(), model_ignored);
	}
	ok(bad == 0, "%u random inputs: parser == model, every word in effect or diagnosed, messages bounded", total);
	ok(bad_words == 0, "%u random inputs: each ignored word (every diagnostic but overridden) is the word its message "
	   "quotes, in CMDLINE_WORD_FMT_MAX bytes, cut safely in a small buffer", total);
	ok(bad_count == 0, "%u random inputs: the ignored words counted (kept and dropped) are the model's diagnostics but "
	   "overridden", total);
}

/* Leaves the bytes below the caller's stack frame set to b, where the parser's frames will lie. */
static __attribute__((noinline)) void stack_fill(uint8_t b)
{
	volatile uint8_t buf[1 << 16];
	memset((void *)buf, b, sizeof(buf));
}

/*
 * The suggestion for an unknown key depends on the key alone, not on what the stack held before
 * the parse (the distance table is filled wherever it is read). Generated: keys of 1 to 6 bytes
 * far from every key (at least 3 edits; no suggestion) and one-edit misspellings (the key
 * suggested), each parsed after the stack was filled with 0x00, 0x01, 0x7F and 0xFF bytes; the
 * outcome must be the model's.
 */
static void test_suggestion_stack_independent(void)
{
	static const uint8_t fills[] = { 0x00, 0x01, 0x7F, 0xFF };
	unsigned bad = 0, n = 0;

	for (unsigned r = 0; r < 400; r++) {
		char k[64], w[96];
		if (r % 2) {
			mutate(cmdline_key_name((unsigned)draw(CMDLINE_NKEYS)), k, sizeof(k));
			if (model_cmdline_key(k) != CMDLINE_NOKEY || strpbrk(k, "= \t") || k[0] == '#')
				continue;
		} else {
			size_t len = 1 + r / 2 % 6;
			for (size_t i = 0; i < len; i++)
				k[i] = "qQjJ"[draw(4)];
			k[len] = 0;
		}
		snprintf(w, sizeof(w), "%s=1", k);
		for (size_t f = 0; f < sizeof(fills); f++) {
			stack_fill(fills[f]);
			n++;
			if ((!parse_str(w) || only_problem() != CMDLINE_P_UNKNOWN_KEY ||
			     (r % 2 == 0 && c.diag[0].suggest != CMDLINE_NOKEY)) && bad++ < 5)
				printf("# \"%s\" after a stack of 0x%02x: suggests %u\n", w, fills[f], c.diag[0].suggest);
		}
	}
	ok(bad == 0, "%u unknown keys parsed after the stack held 0x00, 0x01, 0x7F or 0xFF bytes: the model's suggestion "
	   "each time, none for keys 3 edits or more from every key", n);
}

int main(void)
{
	test_issue_examples();
	test_sizes();
	test_counts();
	test_names();
	test_layout();
	test_occurrences_and_cuts();
	test_utf16_cuts();
	test_utf16_decoding_edges();
	test_loader_cut_positions();
	test_exact_cuts_any_length();
	test_surrogates();
	test_text_buffer_cut_exact();
	test_cut_message_names_its_cut();
	test_formatting_edges();
	test_ignored_count_excludes_overrides();
	test_random_against_model();
	test_suggestion_stack_independent();
	return tap_done();
}
