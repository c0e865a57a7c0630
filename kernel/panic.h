/* Fatal paths: panics, bug checks, trap reports. All print on serial and the screen. */
#ifndef PANIC_H
#define PANIC_H

#include "types.h"
#include "kassert.h"

struct trap_frame;

/* What the kernel does when the suite ends or a fatal error happens (cmdline onexit=). */
enum onexit_action { ONEXIT_HALT, ONEXIT_QEMU, ONEXIT_REBOOT };
extern enum onexit_action kernel_onexit;

/* A fatal report's colours on the screen: white on blue (tools/screen-test.sh reads these lines). */
#define PANIC_FG_RGB 0xffffffu
#define PANIC_BG_RGB 0x0000aau

/* isa-debug-exit values; QEMU exits with (v << 1) | 1. */
#define QEMU_EXIT_PASS 0x10   /* exit status 33 */
#define QEMU_EXIT_FAIL 0x11   /* exit status 35 */

__attribute__((noreturn)) void panic_trap(struct trap_frame *tf, uint64_t cr2);
/* The CPU that owns the machine's end (it reports a fatal error, or it ends the machine), or -1
 * while the machine runs. */
int panic_owner_cpu(void);
/* Ends the machine as onexit says, with success or failure. */
__attribute__((noreturn)) void kernel_finish(bool success);

struct bootinfo_fb;
/* The framebuffer a fatal report draws on while the console has none: fb, reachable at virt as the
 * mappings stand (the loader's direct map, before the kernel's own page tables), or NULL once it no
 * longer is. Boot CPU, before any other CPU runs; fb must stay valid while set. */
void panic_set_early_screen(const struct bootinfo_fb *fb, void *virt);

#endif
