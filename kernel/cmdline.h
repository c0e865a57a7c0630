/* Kernel command line (\cmdline.txt): space-separated key=value words. */
#ifndef CMDLINE_H
#define CMDLINE_H
#include "types.h"
void cmdline_set(const char *s);
const char *cmdline_get(void);
/* Copies the value of key into buf (NUL-terminated); false when the key is absent. */
bool cmdline_value(const char *key, char *buf, size_t size);
/* Parses key's value as a size with optional K/M/G suffix; false when absent or malformed. */
bool cmdline_size(const char *key, uint64_t *out);
#endif
