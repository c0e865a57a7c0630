/* Console fan-out. Locked so lines from concurrent callers do not interleave mid-write. */
#include "console.h"
#include "serial.h"
#include "fbcon.h"
#include "spinlock.h"

static spinlock_t console_lock = SPINLOCK_INIT;

void console_write(const char *s, size_t n)
{
	uint64_t f = spin_lock(&console_lock);
	serial_write(s, n);
	fbcon_write(s, n);
	spin_unlock(&console_lock, f);
}
