/* Line breaks of console text (see textwrap.h). No library call: built for the kernel and the host. */
#include "textwrap.h"

size_t textwrap_line(const char *text, size_t room, size_t *next)
{
	size_t n = 0, run = 0;   /* run: where the last run of spaces after a word starts */

	while (text[n] && text[n] != '\n' && n < room) {
		if (text[n] == ' ' && n > 0 && text[n - 1] != ' ')
			run = n;
		n++;
	}
	/* The room ends inside a word or a run of spaces: the line ends at the last run's start. */
	if (n == room && text[n] && text[n] != '\n' && run > 0 && (text[n] != ' ' || text[n - 1] == ' '))
		n = run;
	size_t k = n;
	while (text[k] == ' ')
		k++;
	if (text[k] == '\n')
		k++;
	*next = k;
	return n;
}
