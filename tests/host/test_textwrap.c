/*
 * Host test of the fatal reports' line breaks (kernel/textwrap.c): generated texts (words of 1 to
 * 100 letters, runs of spaces, newlines) broken for rooms of 1 to 100 columns, every line checked
 * against textwrap.h's contract: within the room, the text's bytes kept in order with only spaces
 * and one newline dropped at each break, a newline always a break, a break inside a word only for
 * a word wider than the room, no space ending a line broken at spaces, and no line shorter than it
 * must be (the next word did not fit).
 * Then the 80-column console's case: a bug check explanation of 110 characters after "*** ".
 */
#include <stdint.h>
#include "tap.h"
#include "test_rng.h"
#include "../../kernel/textwrap.h"

#define TEXT_MAX   600      /* bytes of a generated text */
#define WORD_MAX   100      /* letters of its longest word */
#define ROOM_MAX   100      /* widest room tried */
#define TEXTS      4000     /* generated texts */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

/* Xorshift choice in [0, n) (n >= 1). */
static uint64_t draw(uint64_t n)
{
	return test_rng_next(&rng) % n;
}

/* A text of words, separated by 1 to 3 spaces or a newline (sometimes with spaces around it). */
static void make_text(char *t, size_t cap)
{
	size_t len = 0, limit = draw(cap - WORD_MAX - 8);
	while (len < limit) {
		size_t w = 1 + (draw(4) ? draw(12) : draw(WORD_MAX));
		for (size_t i = 0; i < w; i++)
			t[len++] = (char)('a' + draw(26));
		switch (draw(8)) {
		case 0: t[len++] = '\n'; break;
		case 1: t[len++] = ' '; t[len++] = '\n'; break;
		case 2: t[len++] = ' '; t[len++] = ' '; t[len++] = ' '; break;
		default: t[len++] = ' '; break;
		}
	}
	t[len] = '\0';
}

/* The length of the word (letters) at s. */
static size_t word_len(const char *s)
{
	size_t n = 0;
	while (s[n] && s[n] != ' ' && s[n] != '\n')
		n++;
	return n;
}

/* Breaks text for room and checks each line; returns NULL or what was wrong (*at: the line's start). */
static const char *wrap_sound(const char *text, size_t room, size_t *at)
{
	size_t pos = 0, total = strlen(text);
	while (text[pos]) {
		size_t next = 0, n = textwrap_line(text + pos, room, &next);
		const char *line = text + pos, *end = line + n;
		*at = pos;
		if (n > room)
			return "a line wider than the room";
		if (next <= 0 || next < n || pos + next > total)
			return "no progress, or past the text's end";
		if (memchr(line, '\n', n))
			return "a newline inside a line";
		size_t k = n, newlines = 0;
		for (; k < next; k++) {
			if (line[k] == '\n')
				newlines++;
			else if (line[k] != ' ' || newlines)
				return "a dropped byte that is not a space before at most one newline";
		}
		if (newlines > 1)
			return "two newlines dropped at one break";
		bool mid_word = n > 0 && *end && *end != ' ' && *end != '\n' && end[-1] != ' ';
		if (mid_word && (n != room || memchr(line + 1, ' ', n - 1)))
			return "a break inside a word that fits a line";
		bool has_word = false;
		for (size_t i = 0; i < n; i++)
			has_word |= line[i] != ' ';
		if (*end == ' ' && has_word && end[-1] == ' ')
			return "a line broken at spaces ends in one";
		if (*end == ' ' && !newlines) {
			const char *w = line + next;   /* the next line's first word: it did not fit */
			if (*w && (size_t)(w - line) + word_len(w) <= room && !memchr(end, '\n', (size_t)(w - end)))
				return "a line ended early: the next word fitted";
		}
		if (*end == '\0' && next != n)
			return "the last line leaves bytes";
		pos += next;
	}
	return NULL;
}

static void test_generated(void)
{
	static char text[TEXT_MAX];
	unsigned bad = 0, lines = 0;
	for (unsigned t = 0; t < TEXTS; t++) {
		make_text(text, sizeof(text));
		size_t room = 1 + draw(ROOM_MAX), at = 0;
		const char *why = wrap_sound(text, room, &at);
		lines++;
		if (why && bad++ < 5)
			printf("# text %u, room %zu, line at %zu: %s\n#   \"%.*s\"\n", t, room, at, why, 60, text + at);
	}
	ok(bad == 0, "%u generated texts broken for rooms of 1..%d columns: every line as textwrap.h says (%u bad)",
	   lines, ROOM_MAX, bad);
}

/* The console's case: "*** " then a bug check explanation in 76 columns, broken at spaces. */
static void test_explanation(void)
{
	const char *why = "MmFreePagesFromMdl: a frame that is not allocated: unmanaged, free, or listed twice "
			  "(P2 MDL, P3 PFN, P4 index)";
	size_t next, n = textwrap_line(why, 76, &next);
	ok(n == 70 && !strncmp(why, "MmFreePagesFromMdl: a frame that is not allocated: unmanaged, free, or", n) &&
	   !strcmp(why + next, "listed twice (P2 MDL, P3 PFN, P4 index)"),
	   "a 110-character explanation: 70 columns (76 end inside \"listed\"), then \"listed twice ...\" (%zu, next at %zu)",
	   n, next);
	n = textwrap_line("Exception 14 (#PF page fault), error code 0x0\nat f+0x1", 76, &next);
	ok(n == 45 && next == 46, "a newline ends a line that fits (%zu, next at %zu)", n, next);
	n = textwrap_line("", 76, &next);
	ok(n == 0 && next == 0, "an empty text is an empty line and no more");
}

int main(void)
{
	test_generated();
	test_explanation();
	return tap_done();
}
