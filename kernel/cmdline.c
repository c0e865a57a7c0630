/* Kernel command-line parsing. */
#include "cmdline.h"
#include "bootinfo.h"

static char cmdline_buf[BOOTINFO_CMDLINE_MAX];

void cmdline_set(const char *s)
{
	size_t i = 0;
	for (; s[i] && i < sizeof(cmdline_buf) - 1; i++)
		cmdline_buf[i] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
	cmdline_buf[i] = 0;
}

const char *cmdline_get(void) { return cmdline_buf; }

/* Returns a pointer to the value of the last occurrence of key=, or NULL. */
static const char *cmdline_find(const char *key)
{
	const char *found = NULL;
	size_t klen = 0;
	while (key[klen])
		klen++;
	for (const char *p = cmdline_buf; *p;) {
		while (*p == ' ')
			p++;
		size_t i = 0;
		while (i < klen && p[i] == key[i])
			i++;
		if (i == klen && p[i] == '=')
			found = p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	return found;
}

bool cmdline_value(const char *key, char *buf, size_t size)
{
	const char *v = cmdline_find(key);
	if (!v || size == 0)
		return false;
	size_t i = 0;
	for (; v[i] && v[i] != ' ' && i < size - 1; i++)
		buf[i] = v[i];
	buf[i] = 0;
	return true;
}

bool cmdline_size(const char *key, uint64_t *out)
{
	char buf[32];
	if (!cmdline_value(key, buf, sizeof(buf)) || !buf[0])
		return false;
	uint64_t v = 0;
	size_t i = 0;
	for (; buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(buf[i] - '0');
	}
	if (i == 0)
		return false;
	unsigned shift = 0;
	switch (buf[i]) {
	case 0: break;
	case 'k': case 'K': shift = 10; i++; break;
	case 'm': case 'M': shift = 20; i++; break;
	case 'g': case 'G': shift = 30; i++; break;
	default: return false;
	}
	if (buf[i] || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}
