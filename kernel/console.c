/* Console fan-out. Locked so lines from concurrent callers do not interleave mid-write. */
#include "console.h"
#include "serial.h"
#include "fbcon.h"
#include "spinlock.h"

static spinlock_t console_lock = SPINLOCK_INIT(LOCK_RANK_CONSOLE, "console");

/*
 * Writes to serial and screen under the console's lock. A CPU that already holds it (a fault or a
 * fatal report inside console_write, an NMI while printing) writes without it: lines may then
 * interleave, but the report gets out instead of deadlocking.
 */
void console_write(const char *s, size_t n)
{
	if (!spin_may_take(&console_lock)) {
		serial_write(s, n);
		fbcon_write(s, n);
		return;
	}
	uint64_t f = spin_lock(&console_lock);
	serial_write(s, n);
	fbcon_write(s, n);
	spin_unlock(&console_lock, f);
}
