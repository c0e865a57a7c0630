/*
 * For the pool's host tests: their machine, and the pool's size classes and private slab and block
 * header layout (mm/pool.c), mirrored so a test can read and overwrite them; test_pool's
 * test_check proves the layout right on live blocks before the others rely on it.
 */
#ifndef POOL_MIRROR_H
#define POOL_MIRROR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "pool.h"
#include "arch_mm.h"
#include "host_machine.h"
#include "bugcheck.h"
#include "testhooks.h"

#define POOL_TEST_RAM (16ULL << 20)      /* the pool tests' machine: its RAM */
#define POOL_TEST_REGION (2ULL << 20)    /* and its system PTE region */

/* A fresh machine for a pool test (the previous one discarded); record_bugchecks: bug checks are
 * recorded in bugcheck_last and return, else they end the process as on the machine. */
static inline void pool_test_machine(bool record_bugchecks)
{
	if (host_machine_create(POOL_TEST_RAM, POOL_TEST_REGION)) {
		printf("Bail out! host_machine_create\n");
		exit(1);
	}
	if (record_bugchecks)
		bugcheck_set_hook(bugcheck_record_hook);
}

/* The size classes' block sizes, as pool.h's design lists them. */
static const unsigned class_sz[POOL_CLASSES] = { 16, 32, 64, 128, 256, 512, 1024, POOL_SMALL_MAX };

struct mirror_slab {
	uint64_t magic;
	void *next, *prev;
	uint16_t cls, nfree, nblocks, free_off;
};
struct mirror_block {
	uint32_t state, tag, size;
	uint16_t next_off, cls;
};

/* A large block's side record (mm/pool.c struct pool_large): the data of a block of the class for
 * 40 bytes (64), found through its bucket. */
struct mirror_large {
	struct mirror_large *next;
	uintptr_t va;
	uint64_t npages, bytes;
	uint32_t tag;
};

#define M_SLAB_MAGIC 0x42414c534c4f4f50ULL
#define M_ALLOC 0x636f6c41u
#define M_FREE 0x65657246u
#define M_INTERNAL 0x746e4950u

/* Blocks per slab of class ci (a 32-byte slab header, 16-byte block headers). */
static inline unsigned per_slab(unsigned ci) { return (PAGE_SIZE - 32) / (class_sz[ci] + 16); }
/* The header of the block whose data is p. */
static inline struct mirror_block *hdr(void *p) { return (struct mirror_block *)((uint8_t *)p - 16); }
/* The slab holding p. */
static inline struct mirror_slab *slab(const void *p)
{
	return (struct mirror_slab *)((uintptr_t)p & ~(uintptr_t)(PAGE_SIZE - 1));
}

#endif
