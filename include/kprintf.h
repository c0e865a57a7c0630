/* Formatted output: on the kernel it goes to serial and the console, on the host to stdout. */
#ifndef KPRINTF_H
#define KPRINTF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Columns of the narrowest console the kernel writes to: 640x480 (the smallest mode it draws on)
 * in its 8-pixel-wide font. The lines of a fatal report keep within it: a longer one wraps there,
 * cutting a value in two.
 */
#define KPRINTF_SCREEN_COLS 80

/* Supports %d %i %u %x %X %p %s %c %%, the l/ll/z length modifiers, '-', '0' and a width. */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
