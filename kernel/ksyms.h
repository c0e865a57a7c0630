/*
 * Kernel symbol table for backtraces. tools/gen-ksyms.sh generates the table from the first link
 * (kernel0.elf) and the final link embeds it in the read-only section .ksyms; kernel0.elf itself
 * has an empty table. Only text symbols (functions) are listed.
 */
#ifndef KSYMS_H
#define KSYMS_H

#include "types.h"

/* One table entry, as emitted by tools/gen-ksyms.sh. */
struct ksyms_entry {
	uint64_t addr;
	uint32_t name_offset;   /* into ksyms_names */
	uint32_t pad;
};

/* The generated table: ksyms_count entries sorted by address, and their NUL-terminated names. */
extern const struct ksyms_entry ksyms_table[];
extern const uint64_t ksyms_count;
extern const char ksyms_names[];

/*
 * Name of the function containing addr and addr's offset from its start (if offset is not NULL).
 * NULL when the table is empty, addr is below the first symbol or at/after the end of kernel text.
 */
const char *ksyms_lookup(uint64_t addr, uint64_t *offset);

/*
 * Walks the frame-pointer chain starting at rbp and stores up to max return addresses in rets;
 * returns how many. Stops at a NULL, misaligned, non-increasing or implausibly distant frame
 * pointer, one outside the kernel's higher half, or a return address outside the kernel image.
 * Never follows a frame pointer it has not checked, but the first rbp must be readable memory.
 */
int ksyms_stack_walk(uint64_t rbp, uint64_t *rets, int max);

/*
 * Prints a backtrace with kprintf: "  #0 0x<rip> func+0x1a" for rip, then one line per frame of
 * the frame-pointer chain from rbp, at most max_frames lines in all.
 */
void ksyms_backtrace(uint64_t rbp, uint64_t rip, int max_frames);

#endif
