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
	long set_by[CMDLINE_NKEYS];
	struct cmdline_diag diag[MODEL_CMDLINE_MAX_DIAG];
	size_t ndiag;                 /* every diagnostic, kept or not */
};

/* Computes the model's result for raw[0, len). */
void model_cmdline_parse(struct model_cmdline *m, const void *raw, size_t len, bool cut);

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
