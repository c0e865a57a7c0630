/* serial_: COM1 (a 16550 UART) as the kernel's first console; absent ports are detected, not assumed. */
#ifndef SERIAL_H
#define SERIAL_H
#include "types.h"
/* Detects COM1 and programs 115200 8N1; returns whether a UART answered. */
bool serial_init(void);
/* Writes n bytes ("\n" as "\r\n"); does nothing when serial_init found no UART. The first byte
 * the transmitter does not take within a bounded wait stops the port for good: that byte and
 * every later one are dropped at no cost but a count, said once on the other consoles. */
void serial_write(const char *s, size_t n);
/* Bytes of text serial_write dropped since COM1 stopped taking them (0 while it works). */
uint64_t serial_bytes_dropped(void);
#endif
