/* The kernel console: every byte goes to serial (if present) and to the framebuffer console. */
#ifndef CONSOLE_H
#define CONSOLE_H
#include "types.h"

void console_write(const char *s, size_t n);
/* Keeps the console's lock on this CPU until console_drop: for the crash test of a CPU that fails
 * while it holds it (kernel/crashtest.c), as if it failed inside console_write. */
void console_hold(void);
/* For a CPU that stops for good during another's fatal report: gives back the console's lock if
 * it held it (it failed inside console_write), so the report is not blocked by it. */
void console_drop(void);
/*
 * Claims the console for this CPU's fatal report: from now on another CPU's write waits for good
 * (it takes no lock but those it holds, and runs the calls posted to it), so no line of another CPU
 * lands inside the report; returns once a write another CPU had under way is out, so the screen is
 * this CPU's to reset. Without that wait when this CPU holds the console's lock (it failed inside
 * console_write). Called by the CPU that owns the machine's end (kernel/panic.c), once per report.
 */
void console_claim(void);
/* From now on every write goes to serial only, never to the screen: for a fatal error inside a fatal
 * report, whose screen writes may be what faulted (the framebuffer's mapping or the console's state
 * gone). */
void console_screen_off(void);
#endif
