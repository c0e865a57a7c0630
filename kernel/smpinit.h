/*
 * smpinit_: the kernel's side of the CPU bring-up (arch/x86_64/smp.c). arch/ sees neither mm/ nor
 * kernel/, so the kernel hands it the services it needs (struct smp_ops: frames from the physical
 * allocator, mappings in kernel_pt, the root table, symbols) and starts the CPUs the ACPI MADT
 * lists with the command line's maxcpus=.
 */
#ifndef SMPINIT_H
#define SMPINIT_H

#include "smp.h"

/* The services registered, over phys_alloc/phys_free, kernel_pt and ksyms (for tests). */
extern const struct smp_ops smpinit_ops;

/* Registers smpinit_ops with the bring-up: in kmain right after phys_init, before
 * smp_reserve_trampoline. */
void smpinit_register(void);
/* Reads the MADT and starts its CPUs, at most maxcpus= of them (after the TSC calibration). */
void smpinit_start_cpus(void);

#endif
