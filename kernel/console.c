/* Console fan-out. Locked so lines from concurrent callers do not interleave mid-write. */
#include "console.h"
#include "serial.h"
#include "fbcon.h"
#include "spinlock.h"

static spinlock_t console_lock = SPINLOCK_INIT(LOCK_RANK_CONSOLE, "console");
static volatile bool console_no_screen;   /* console_screen_off was called: serial only from then on */
/* The CPU that claimed the console for a fatal report (console_claim), as its index + 1; 0: none. */
static volatile uint32_t console_claimer;

/* True when a CPU other than this one claimed the console (console_claim). */
static bool console_claimed_elsewhere(void)
{
	uint32_t by = __atomic_load_n(&console_claimer, __ATOMIC_ACQUIRE);
	return by != 0 && by != arch_cpu_index() + 1;
}

/*
 * Writes to serial and screen under the console's lock. A CPU that already holds it (a fault or a
 * fatal report inside console_write, an NMI while printing, console_hold) writes without it: lines
 * may then interleave, but the report gets out instead of deadlocking. Once another CPU claimed
 * the console (console_claim), a CPU that takes the lock gives it back unwritten and waits, running
 * the calls posted to it, for as long as the claim stands (in the kernel, until the claimer's end of
 * the machine stops it): no line of its lands inside the claimer's report.
 */
void console_write(const char *s, size_t n)
{
	if (!spin_may_take(&console_lock)) {
		serial_write(s, n);
		if (!console_no_screen)
			fbcon_write(s, n);
		return;
	}
	uint64_t f = spin_lock(&console_lock);
	while (console_claimed_elsewhere()) {
		spin_unlock(&console_lock, f);
		while (console_claimed_elsewhere()) {
			arch_cpu_poll();
			arch_cpu_relax();
		}
		f = spin_lock(&console_lock);
	}
	serial_write(s, n);
	if (!console_no_screen)
		fbcon_write(s, n);
	spin_unlock(&console_lock, f);
}

/* Claims the console for this CPU's fatal report, then waits for a write another CPU has under way
 * (see console.h). */
void console_claim(void)
{
	__atomic_store_n(&console_claimer, arch_cpu_index() + 1, __ATOMIC_RELEASE);
	if (!spin_may_take(&console_lock))
		return;
	uint64_t f = spin_lock(&console_lock);
	spin_unlock(&console_lock, f);
}

/* From now on the console writes to serial only (see console.h). */
void console_screen_off(void)
{
	console_no_screen = true;
}

/* Takes the console's lock and keeps it (until console_drop): this CPU's writes go out without it,
 * every other CPU's wait. Nothing when this CPU may not take it now (it holds it, or a lock ranked
 * after it). */
void console_hold(void)
{
	if (spin_may_take(&console_lock))
		(void)spin_lock(&console_lock);
}

/* Releases the console's lock if this CPU holds it, leaving interrupts disabled: for a CPU that
 * stops for good, wherever it was, while another CPU needs the console. */
void console_drop(void)
{
	if (spin_held(&console_lock))
		spin_unlock(&console_lock, 0);
}
