/* serial_: COM1 (a 16550 UART) as the kernel's first console; absent ports are detected, not assumed. */
#ifndef SERIAL_H
#define SERIAL_H
#include "types.h"
/* Detects COM1 and programs 115200 8N1; returns whether a UART answered. */
bool serial_init(void);
/* Writes n bytes ("\n" as "\r\n"); does nothing when serial_init found no UART. */
void serial_write(const char *s, size_t n);
#endif
