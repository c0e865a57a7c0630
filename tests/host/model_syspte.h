/*
 * Reference model of the reserved-mapping API (docs/contract.md, section 3) and generators
 * of random calls checked against it. Shared by the differential test (tests/host/test_syspte.c,
 * xorshift choices) and the fuzzer (tests/fuzz/fuzz_reserved.c, choices read from input bytes).
 *
 * Every choice a generator makes comes from model_draw(n), a value in [0, n). In "wild" mode the
 * generators make extra choices that replace fields by arbitrary values (any size, flags, tag,
 * address, MDL field, frame number, cache type, NULL MDL), and a quarter of the steps call the
 * MDL toolkit instead (MmMapLockedPagesSpecifyCache, MmUnmapLockedPages, MmBuildMdlForNonPagedPool,
 * IoBuildPartialMdl, MmFreePagesFromMdl); with wild off the sequence of choices is the one the
 * differential test always made, its MDLs now carrying the Size their span needs.
 *
 * Not a library: #include "model_syspte.c" once into the program that uses it (the host build
 * compiles each test_*.c alone with mm/ and HOST_SUPPORT).
 */
#ifndef MODEL_SYSPTE_H
#define MODEL_SYSPTE_H

#include <stdint.h>
#include <stdbool.h>

#define MODEL_NPAGES 1024                 /* region pages: 4 MiB */
#define MODEL_RAM_BYTES (64ULL << 20)     /* fake RAM of the machine behind the region */
#define MODEL_MAXR 512                    /* reservations the model tracks at once */

/* A source of choices: a value in [0, n) (0 when n is 0 or 1). */
typedef uint64_t (*model_draw_fn)(uint64_t n);

struct model_counts {
	uint64_t ops;             /* calls made since the program started */
	uint64_t failures;        /* disagreements with the model */
	uint64_t bugchecks_seen;  /* bug checks predicted and seen */
	uint64_t nulls_seen;      /* valid reservations refused (region full) */
	uint64_t cache_fast;      /* reserves and frees the CPUs' caches did without the region's lock */
	uint64_t cache_drains;    /* drains of every cache before a refusal */
};
extern struct model_counts model_counts;

#define MODEL_WILD 0x1u          /* extra choices: arbitrary values in every argument */
/* A refused valid reservation is a failure when the model sees a free run where the allocator
 * must place it (any start, powers of two included; DIVISIBLE: a divisible start). On in the
 * differential test and in the fuzzer. */
#define MODEL_STRICT_ROOM 0x2u
/* The calls run on CPUs 0, 1 and 2 in turn (a few steps each, no extra choice drawn), so each CPU's
 * cache of the region serves some and frees what another placed, and a refusal drains them all. */
#define MODEL_CPUS 0x4u
/* One in ten steps that would reserve tears a live reservation down instead (unmaps it, frees it;
 * no extra choice drawn): the region stays sparse, so the CPUs' caches place most small ones. */
#define MODEL_SPARSE 0x8u
/* The fake machine's direct map holds frames (fake_arch_set_direct_map): of each 2 MiB block of
 * frames, a third not at all, a third whole, a third in stripes of 64 frames. A map asking for
 * another type than write-back must write a page whose frame it holds write-back, and count it
 * (docs/contract.md, "Caching types"); a run held in part gets no 2 MiB leaf. */
#define MODEL_DIRECT_MAP 0x10u

/* Fresh machine and empty model, bug checks intercepted; choices from draw. 0, or -1. */
int model_begin(model_draw_fn draw, unsigned flags);
/* Makes one random call and checks its outcome, the PTEs, the TLB log, the MDL, syspte_check. */
void model_step(void);
/* Tears everything down through the API, checks the region is empty, removes the hook. */
void model_end(void);

#endif
