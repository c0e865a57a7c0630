/*
 * summary_: the final screen after the self-test suite, readable without a serial port, from
 * 640x480 up. From the top: a banner in colour (PASSED on green, FAILED on red) with the test counts
 * and the boot time; when \cmdline.txt had words that took no effect, a row naming them; on a
 * failure, the failing tests' names and first messages; the machine (CPU,
 * CPUs found, RAM, firmware, display, clock); pictures of the system PTE region (after the showcase
 * workload, kernel/showcase.h) and of physical memory (kernel/memview.h); and the last three text rows,
 * where the console goes on ("SELF-TEST PASSED", "System halted."). The same facts go to the console
 * as "summary:" lines first, for serial.
 *
 * Beyond the suite's own results, the screen's checks count too: the allocators' invariants after
 * the showcase workload and the pictures' cross-checks of the walkers; a failure there is listed
 * like a failed test and makes the verdict FAILED.
 */
#ifndef SUMMARY_H
#define SUMMARY_H

#include "types.h"

/* Banner colours, also checked from the host on the QEMU screen (tools/screen-test.sh). */
#define SUMMARY_PASS_RGB 0x1E8C3Cu
#define SUMMARY_FAIL_RGB 0xC81E1Eu
#define SUMMARY_TEXT_ROWS 3   /* console rows kept at the bottom of the screen */

/* Shows the summary (console lines, then the screen when there is a framebuffer) after
 * ktest_run_all; returns true when the suite and the screen's own checks passed. */
bool summary_show(void);

/* Releases the showcase workload after the screen is drawn and checks the region is clean; false
 * (with the banner turned to FAILED, its second line naming why, and a console line) when it is not. */
bool summary_finish(bool passed);

#endif
