/* Fatal paths: panics, bug checks, trap reports. All print on serial and the screen. */
#ifndef PANIC_H
#define PANIC_H

#include "types.h"
#include "kassert.h"

struct trap_frame;

/* What the kernel does when the suite ends or a fatal error happens (cmdline onexit=). */
enum onexit_action { ONEXIT_HALT, ONEXIT_QEMU, ONEXIT_REBOOT };
extern enum onexit_action kernel_onexit;

/* isa-debug-exit values; QEMU exits with (v << 1) | 1. */
#define QEMU_EXIT_PASS 0x10   /* exit status 33 */
#define QEMU_EXIT_FAIL 0x11   /* exit status 35 */

__attribute__((noreturn)) void panic_trap(struct trap_frame *tf, uint64_t cr2);
/* The CPU that owns the machine's end (it reports a fatal error, or it ends the machine), or -1
 * while the machine runs. */
int panic_owner_cpu(void);
/* Ends the machine as onexit says, with success or failure. */
__attribute__((noreturn)) void kernel_finish(bool success);

#endif
