/*
 * The kernel command line (\cmdline.txt) as a pure function: cmdline_parse() turns the file's
 * bytes into options and diagnostics, with no kernel state and no library call, so the same
 * source is built into the kernel, the host unit test (tests/host/test_cmdline.c) and the fuzz
 * harness (tests/fuzz/fuzz_cmdline.c). The kernel prints the diagnostics (kernel/main.c).
 *
 * Grammar (also README.md, "Kernel command line"):
 *  - Encoding: ASCII or UTF-8; a UTF-8 byte-order mark (EF BB BF) is skipped; a file starting with
 *    a UTF-16 byte-order mark (FF FE or FE FF, Notepad's "Unicode") is decoded to UTF-8 (an odd
 *    last byte is a unit of its own, but in a cut input it is half a unit and is dropped). A high
 *    surrogate (D800-DBFF) directly followed by a low one (DC00-DFFF) is one code point above
 *    U+FFFF, 4 bytes of UTF-8; any other surrogate is lone and is encoded as its own value, 3 bytes
 *    ED A0 80..ED BF BF (as WTF-8 does: the message quoting it shows which unit it was). A high
 *    surrogate ending a cut input is lone (its partner, if any, was not passed). Either way the
 *    word holds a byte that is not printable ASCII and is refused.
 *  - Words are separated by space, tab, CR, LF, VT, FF and NUL, in any number, on any number of
 *    lines. A word starting with '#' comments out the rest of its line.
 *  - A word is key=value with a known lowercase key and a value of the key's type:
 *      bool    0, 1, off, on
 *      size    decimal digits with an optional K, M or G (or k, m, g), a multiple of 2M in 2M..512G
 *      name    one of the key's names
 *      prefix  1 to CMDLINE_KTEST_MAX - 1 letters, digits or '_'
 *      count   decimal digits (leading zeros allowed) giving 1..CMDLINE_MAXCPUS_MAX; no sign, no suffix
 *  - The last valid occurrence of a key wins; an earlier one gets an "overridden" diagnostic.
 *  - Any other word has no effect and gets a diagnostic naming it and the value in effect: a
 *    byte that is not printable ASCII, no '=', an unknown key, an empty or malformed value, and
 *    the last word when the input was cut inside it (a fragment: see CMDLINE_CUT_AT_SEP).
 */
#ifndef CMDLINE_H
#define CMDLINE_H
#include "types.h"

#define CMDLINE_TEXT_MAX  1024   /* decoded bytes kept; more input is treated as cut */
#define CMDLINE_KTEST_MAX 64     /* ktest= prefix buffer, NUL included */
#define CMDLINE_DIAG_MAX  32     /* diagnostics kept; the rest are counted in ndropped */
#define CMDLINE_WORD_SHOWN 48    /* bytes of a word a message quotes before "..." */
/* Buffer for cmdline_diag_word: quotes, CMDLINE_WORD_SHOWN bytes escaped as \xNN, "...", NUL. */
#define CMDLINE_WORD_FMT_MAX (2 + 4 * CMDLINE_WORD_SHOWN + 3 + 1)
#define CMDLINE_MAXCPUS_MAX 255  /* maxcpus= range 1..this: the kernel's CPU limit (SMP_MAX_CPUS) */

/* cmdline_parse flags, the same bits as the loader's (include/bootinfo.h, BOOTINFO_CMDLINE_*). */
#define CMDLINE_CUT        0x1u  /* the source held more than the bytes given */
/*
 * With CMDLINE_CUT: the first character of the source not given is a separator, so the last word
 * given is whole. The character is the byte raw[len] for 8-bit text, the UTF-16 code unit holding
 * raw[len] for UTF-16 (the unit half given when len is odd). Without it a cut input's last word
 * counts as a fragment (what a loader that does not know the next byte gives).
 */
#define CMDLINE_CUT_AT_SEP 0x2u

enum cmdline_key {
	CMDLINE_ONEXIT, CMDLINE_SYSPTE, CMDLINE_KTEST, CMDLINE_MMAPDUMP, CMDLINE_PTDUMP,
	CMDLINE_VERIFIER, CMDLINE_EXHAUST, CMDLINE_CRASHTEST, CMDLINE_MAXCPUS,
	CMDLINE_NKEYS,
	CMDLINE_NOKEY = CMDLINE_NKEYS
};

enum cmdline_onexit { CMDLINE_ONEXIT_HALT, CMDLINE_ONEXIT_QEMU, CMDLINE_ONEXIT_REBOOT };
enum cmdline_exhaust { CMDLINE_EXHAUST_BUDGET, CMDLINE_EXHAUST_FULL };
enum cmdline_crashtest {
	CMDLINE_CRASH_NONE, CMDLINE_CRASH_PANIC, CMDLINE_CRASH_PF, CMDLINE_CRASH_RESERVED,
	CMDLINE_CRASH_STACK, CMDLINE_CRASH_BUGCHECK, CMDLINE_CRASH_NMI, CMDLINE_CRASH_LEAK,
	CMDLINE_CRASH_PANIC2, CMDLINE_CRASH_FINISH2, CMDLINE_CRASH_EARLY, CMDLINE_CRASH_SCREEN, CMDLINE_CRASH_RECLAIM,
	CMDLINE_CRASH_UNSEALED,
	CMDLINE_CRASH_COUNT
};

/* The options in effect: defaults, then every valid word in order. */
struct cmdline_opts {
	uint64_t syspte;                 /* bytes: a multiple of 2 MiB in [2 MiB, SYSPTE_MAX_SIZE] */
	uint8_t onexit;                  /* enum cmdline_onexit */
	uint8_t exhaust;                 /* enum cmdline_exhaust */
	uint8_t crashtest;               /* enum cmdline_crashtest */
	uint8_t maxcpus;                 /* CPUs to run, the boot CPU counted: 1..CMDLINE_MAXCPUS_MAX */
	bool mmapdump, ptdump, verifier;
	char ktest[CMDLINE_KTEST_MAX];   /* "" runs every test; else the prefix, NUL-terminated */
};

/* Why a word had no effect (or, for OVERRIDDEN, lost it). */
enum cmdline_problem {
	CMDLINE_P_NOT_ASCII,     /* a byte that is not printable ASCII */
	CMDLINE_P_NO_EQUALS,     /* a word without '=' */
	CMDLINE_P_UNKNOWN_KEY,   /* key=value with a key that is no option */
	CMDLINE_P_EMPTY,         /* key= with nothing after '=' */
	CMDLINE_P_BAD_NAME,      /* bool or name: not one of the accepted values */
	CMDLINE_P_NOT_DECIMAL,   /* size: no leading decimal digit (hex, a sign, letters) */
	CMDLINE_P_BAD_SUFFIX,    /* size: digits followed by anything but one of K, M, G (a '.' or ',': a
				  * fraction, which its message names) */
	CMDLINE_P_TOO_LARGE,     /* size: above 512 GiB, or does not fit 64 bits */
	CMDLINE_P_TOO_SMALL,     /* size: below 2 MiB */
	CMDLINE_P_NOT_MULTIPLE,  /* size: not a multiple of 2 MiB */
	CMDLINE_P_BAD_PREFIX,    /* prefix: a byte other than a letter, digit or '_', or too long */
	CMDLINE_P_OVERRIDDEN,    /* valid, but a later word of the same key wins */
	CMDLINE_P_CUT_WORD,      /* the last word of a cut input, split by the cut (or not known not to be) */
	CMDLINE_P_INPUT_CUT,     /* the input is longer than what was parsed (no word) */
	CMDLINE_P_BAD_NUMBER,    /* count: not decimal digits, or outside the key's range */
	CMDLINE_NPROBLEMS
};

/* One diagnostic: a problem with the word text[off, off + len). */
struct cmdline_diag {
	uint8_t problem;   /* enum cmdline_problem */
	uint8_t key;       /* the word's key, or CMDLINE_NOKEY when it names none */
	uint8_t suggest;   /* UNKNOWN_KEY / NO_EQUALS: the closest key, or CMDLINE_NOKEY */
	uint16_t off, len; /* the word in text (len 0 for INPUT_CUT) */
};

enum cmdline_encoding { CMDLINE_ENC_ASCII, CMDLINE_ENC_UTF8_BOM, CMDLINE_ENC_UTF16LE, CMDLINE_ENC_UTF16BE };

/* Everything cmdline_parse() finds. */
struct cmdline {
	struct cmdline_opts opts;
	char text[CMDLINE_TEXT_MAX];        /* the decoded input (NULs and all), text_len bytes */
	size_t text_len;
	size_t raw_len;                     /* bytes given to the parser */
	bool cut;                           /* input (or its decoding) longer than what was parsed */
	bool cut_in_word;                   /* cut, and the first character not parsed is no separator
					     * (or unknown): a word ending the text is a fragment */
	bool text_full;                     /* the decoding outgrew CMDLINE_TEXT_MAX: the cut is the text's,
					     * before the end of what was given (only callers passing more
					     * than the loader's 511 bytes meet it) */
	uint8_t encoding;                   /* enum cmdline_encoding */
	int32_t set_by[CMDLINE_NKEYS];      /* offset in text of the word in effect, -1: default */
	struct cmdline_diag diag[CMDLINE_DIAG_MAX];
	size_t ndiag, ndropped;
	size_t ndropped_ignored;            /* of ndropped, those cmdline_diag_ignored would name (not OVERRIDDEN) */
};

/* The defaults every parse starts from. */
void cmdline_defaults(struct cmdline_opts *o);
/*
 * Parses len bytes of raw (any bytes, NUL included) into c. flags: CMDLINE_CUT says the source
 * held more than raw (the loader's buffer was full); the last word then counts as a fragment
 * unless a separator ends the input or CMDLINE_CUT_AT_SEP says one follows it. A decoding longer
 * than CMDLINE_TEXT_MAX is cut too, before the first character that does not fit whole, and its
 * last word is a fragment unless that character is a separator. Never reads raw past len, never
 * fails. (A bool argument still works: true is CMDLINE_CUT.)
 */
void cmdline_parse(struct cmdline *c, const void *raw, size_t len, unsigned flags);

/* The key's name ("syspte"), or "?" for a value that is no key. */
const char *cmdline_key_name(unsigned key);
/* Formats diagnostic i as one line without a newline, NUL-terminated in buf; returns its length.
 * INPUT_CUT names the cut that happened: the caller's ("longer than the N bytes read") or, when the
 * decoding outgrew the text, the parser's ("more than the CMDLINE_TEXT_MAX bytes the parser keeps"). */
size_t cmdline_diag_format(const struct cmdline *c, size_t i, char *buf, size_t cap);
/* True when diagnostic i says something had no effect: every problem but OVERRIDDEN (a valid
 * word a later one of its key replaced, as the grammar intends). */
bool cmdline_diag_ignored(const struct cmdline *c, size_t i);
/*
 * Formats the word of diagnostic i as its message quotes it ("\"syspte=1T\"", escaped, cut to
 * CMDLINE_WORD_SHOWN bytes and "..."), or for INPUT_CUT "(the rest after N bytes)" (N the bytes
 * given) or, when the decoding outgrew the text (text_full), "(the rest after K decoded bytes)" (K
 * the bytes kept); NUL-terminated in buf (CMDLINE_WORD_FMT_MAX bytes hold any); returns its length,
 * 0 past the last diagnostic.
 */
size_t cmdline_diag_word(const struct cmdline *c, size_t i, char *buf, size_t cap);
/*
 * Formats the options as a command line giving exactly them, "onexit=qemu syspte=1G ..." (every
 * key; ktest= only when set), NUL-terminated; returns the length.
 */
size_t cmdline_opts_format(const struct cmdline_opts *o, char *buf, size_t cap);
/* Formats key's value in o as the value part of key=value ("1G", "qemu"), NUL-terminated. */
size_t cmdline_value_format(const struct cmdline_opts *o, unsigned key, char *buf, size_t cap);
/* Formats the decoded text for display: separator runs as one space, other bytes escaped as \xNN. */
size_t cmdline_text_format(const struct cmdline *c, char *buf, size_t cap);
/* Formats a byte count that is a multiple of 2 MiB as "64M" or "1G" (the largest exact unit). */
size_t cmdline_size_format(uint64_t bytes, char *buf, size_t cap);

#endif
