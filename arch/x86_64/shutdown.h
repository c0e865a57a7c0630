/*
 * shutdown_: ending the machine on a PC, for the kernel's onexit= action and its fatal paths. Each
 * function turns this CPU's interrupts off first.
 */
#ifndef SHUTDOWN_H
#define SHUTDOWN_H

#include "types.h"

/* Writes value to QEMU's isa-debug-exit device (port 0xf4), which ends QEMU with exit status
 * (value << 1) | 1, and halts this CPU until QEMU acts on it; returns at once, writing nothing,
 * when port 0xf4 does not read as that device does (a real PC: the caller halts or resets). */
void shutdown_qemu_exit(uint32_t value);

/* Resets the machine: a keyboard-controller reset pulse, then a triple fault should that fail. */
__attribute__((noreturn)) void shutdown_reset(void);

/* Halts this CPU for good (an NMI wakes it only to halt again). */
__attribute__((noreturn)) void shutdown_halt(void);

#endif
