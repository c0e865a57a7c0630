/*
 * The architectural limit of physical addresses on x86-64 (MAXPHYADDR is at most 52 bits): RAM a
 * firmware memory map lists at or past it is a firmware bug, ignored whole by everyone who reads
 * the map (the loader's map top, the kernel's direct map and RAM picture, the physical allocator),
 * so that all of them agree on which descriptors exist. One definition, for the loader and the kernel.
 */
#ifndef PHYSLIMIT_H
#define PHYSLIMIT_H

#define PHYS_ADDR_ARCH_END (1ULL << 52)

#endif
