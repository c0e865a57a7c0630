/*
 * textwrap_: where a console line of text breaks (the fatal reports' messages, kernel/panic.c);
 * pure, so the host test checks it on generated texts. A column is a byte (the reports are ASCII).
 */
#ifndef TEXTWRAP_H
#define TEXTWRAP_H

#include "types.h"

/*
 * The length of text's first line in a room of room columns (room > 0): up to its first newline,
 * else all of it when it fits, else up to the last run of spaces that leaves the line non-empty,
 * else room bytes (a word longer than the room is cut). *next gets where the following line starts: after
 * the spaces at the break and then one newline (0 < *next when text is not empty).
 */
size_t textwrap_line(const char *text, size_t room, size_t *next);

#endif
