/* The kernel console: every byte goes to serial (if present) and to the framebuffer console. */
#ifndef CONSOLE_H
#define CONSOLE_H
#include "types.h"
void console_write(const char *s, size_t n);
#endif
