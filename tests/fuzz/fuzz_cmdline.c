/*
 * libFuzzer harness over the command-line parser (kernel/cmdline.c, coverage-instrumented with
 * comparison tracing, so the fuzzer finds keys and values by itself). Input: one flag byte (bit 0:
 * the loader's buffer was full, i.e. the input is cut, CMDLINE_CUT; bit 1: a separator follows
 * the cut, CMDLINE_CUT_AT_SEP), then the raw bytes of \cmdline.txt in any encoding (UTF-16 with
 * surrogates, paired or lone, included). Checks, any failure aborting with a reason:
 *  - ASan: the parser never reads past the input or writes past its structures or message buffers;
 *  - the reference model (tests/host/model_cmdline.c) agrees on the decoded text, the options and
 *    every diagnostic, and each word is either in effect with exactly its value or diagnosed;
 *  - the options are within their documented ranges (sizes, names, the ktest= prefix, maxcpus=
 *    from 1 to 255); every message fits any buffer it is given,
 *    is NUL-terminated and names its word and the value in effect;
 *  - an ASCII input parses the same as UTF-8 with a byte-order mark and as UTF-16LE/BE;
 *  - the printed "in effect" line is itself a command line giving the same options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model_cmdline.h"
#include "model_cmdline.c"

static struct cmdline parsed, again;
static struct model_cmdline model;

/* Aborts with a message: a libFuzzer crash. */
static void fail(const char *what)
{
	fprintf(stderr, "fuzz_cmdline: %s\n", what);
	abort();
}

/* Same options and the same problems in the same order. */
static bool same_outcome(const struct cmdline *a, const struct cmdline *b)
{
	if (a->ndiag != b->ndiag || a->ndropped != b->ndropped)
		return false;
	for (size_t i = 0; i < a->ndiag; i++)
		if (a->diag[i].problem != b->diag[i].problem || a->diag[i].key != b->diag[i].key)
			return false;
	return model_opts_equal(&a->opts, &b->opts);
}

/* An ASCII input without a byte-order mark, re-encoded three ways, must give the same outcome. */
static void check_encodings(const uint8_t *raw, size_t len, unsigned flags)
{
	static uint8_t buf[2 * CMDLINE_TEXT_MAX + 4];
	if (len > CMDLINE_TEXT_MAX / 2 || (len && (raw[0] == 0xEF || raw[0] == 0xFF || raw[0] == 0xFE)))
		return;
	for (size_t i = 0; i < len; i++)
		if (raw[i] >= 0x80)
			return;
	memcpy(buf, "\xEF\xBB\xBF", 3);
	memcpy(buf + 3, raw, len);
	cmdline_parse(&again, buf, len + 3, flags);
	if (!same_outcome(&parsed, &again))
		fail("a UTF-8 byte-order mark changed the outcome");
	for (int be = 0; be < 2; be++) {
		buf[0] = be ? 0xFE : 0xFF;
		buf[1] = be ? 0xFF : 0xFE;
		for (size_t i = 0; i < len; i++) {
			buf[2 + 2 * i + be] = raw[i];
			buf[2 + 2 * i + !be] = 0;
		}
		cmdline_parse(&again, buf, 2 + 2 * len, flags);
		if (!same_outcome(&parsed, &again))
			fail(be ? "UTF-16BE changed the outcome" : "UTF-16LE changed the outcome");
	}
}

/* The "in effect" line parses back to the same options, without a diagnostic. */
static void check_effective_line(void)
{
	static char line[1024];
	size_t n = cmdline_opts_format(&parsed.opts, line, sizeof(line));
	if (n + 1 >= sizeof(line))
		fail("the in-effect line does not fit 1 KiB");
	cmdline_parse(&again, line, n, false);
	if (!model_opts_equal(&parsed.opts, &again.opts) || again.ndiag != 0)
		fail("the in-effect line does not parse back to the same options");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned flags = data[0] & (CMDLINE_CUT | CMDLINE_CUT_AT_SEP);
	/* A private copy of exactly the input: ASan reports any read past its end. */
	size_t len = size - 1;
	uint8_t *raw = malloc(len ? len : 1);
	memcpy(raw, data + 1, len);
	cmdline_parse(&parsed, raw, len, flags);
	model_cmdline_parse(&model, raw, len, flags);
	char why[512];
	if (model_cmdline_check(&parsed, &model, why, sizeof(why)))
		fail(why);
	check_encodings(raw, len, flags);
	check_effective_line();
	free(raw);
	return 0;
}
