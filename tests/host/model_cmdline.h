/*
 * A reference model of the command-line grammar (kernel/cmdline.h), written independently of
 * kernel/cmdline.c with the C library, for the host test (tests/host/test_cmdline.c) and the
 * fuzz harness (tests/fuzz/fuzz_cmdline.c). model_cmdline_check() compares a parse with the
 * model and checks the properties every parse must have.
 */
#ifndef MODEL_CMDLINE_H
#define MODEL_CMDLINE_H
#include <stddef.h>
#include "../../kernel/cmdline.h"

#define MODEL_CMDLINE_MAX_DIAG 4096

/* What the model expects from one parse. */
struct model_cmdline {
	struct cmdline_opts opts;
	unsigned char text[CMDLINE_TEXT_MAX];
	size_t text_len;
	bool cut;
	bool fragment_end;            /* cut before a character that is no separator: a last word is a fragment */
	long set_by[CMDLINE_NKEYS];
	struct cmdline_diag diag[MODEL_CMDLINE_MAX_DIAG];
	size_t ndiag;                 /* every diagnostic, kept or not */
};

/* Computes the model's result for raw[0, len) with cmdline_parse's flags (CMDLINE_CUT, CMDLINE_CUT_AT_SEP). */
void model_cmdline_parse(struct model_cmdline *m, const void *raw, size_t len, unsigned flags);

/*
 * The flags for handing raw[0, len) of a source of src_len bytes (len <= src_len) to the parser,
 * by the definition in kernel/cmdline.h (the loader's, include/bootinfo.h, for any len): CUT when
 * src_len > len, with CUT_AT_SEP when the first character not given, the byte raw[len] or for
 * UTF-16 the whole unit holding it, is a separator.
 */
unsigned model_cmdline_flags(const void *raw, size_t src_len, size_t len);

/*
 * Compares c (from cmdline_parse on the same input) with m and checks the properties of every
 * parse: options in range, every word either in effect with exactly its value or diagnosed,
 * messages bounded, NUL-terminated and naming the word and the value in effect. Returns 0, or
 * 1 with a reason in why.
 */
int model_cmdline_check(const struct cmdline *c, const struct model_cmdline *m, char *why, size_t cap);

/* The key index named exactly by s (NUL-terminated), or CMDLINE_NOKEY. */
unsigned model_cmdline_key(const char *s);
/* Accepted names of a bool/name key (NULL-terminated list), NULL for size and prefix keys. */
const char *const *model_cmdline_names(unsigned key);

#endif
