/*
 * Capturing what a test's code prints on stdout (kprintf's text on the host): capture_begin sends
 * stdout to one scratch file, emptied first; capture_end puts stdout back and copies what was
 * printed into buf (at most size - 1 bytes, NUL-terminated), returning its length. Not nested.
 */
#ifndef TESTS_HOST_CAPTURE_H
#define TESTS_HOST_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

static FILE *capture_file;   /* the scratch file, made at the first capture */
static int capture_saved = -1;

static inline void capture_begin(void)
{
	fflush(stdout);
	if (!capture_file)
		capture_file = tmpfile();
	if (ftruncate(fileno(capture_file), 0))
		perror("ftruncate");
	rewind(capture_file);
	capture_saved = dup(1);
	dup2(fileno(capture_file), 1);
}

static inline size_t capture_end(char *buf, size_t size)
{
	fflush(stdout);
	dup2(capture_saved, 1);
	close(capture_saved);
	rewind(capture_file);
	size_t n = fread(buf, 1, size - 1, capture_file);
	buf[n] = 0;
	return n;
}

#endif
