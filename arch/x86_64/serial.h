#ifndef SERIAL_H
#define SERIAL_H
#include "types.h"
bool serial_init(void);
bool serial_active(void);
void serial_write(const char *s, size_t n);
#endif
