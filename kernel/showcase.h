/*
 * showcase_: a workload kept alive after the suite so the summary screen's picture of the system
 * PTE region shows something worth seeing (the suite leaves the region empty). It is the benchmark's
 * standard workload (include/workload.h: uniform sizes, 75 % target occupancy) through the
 * public API, scaled to the region, with two tags by size and a few looped ring buffers (the
 * spec's pattern: the same pages mapped twice back to back) so mapped pages appear too.
 * The picture is labelled as this workload's state, not the suite's.
 */
#ifndef SHOWCASE_H
#define SHOWCASE_H

#include "types.h"

#define SHOWCASE_TAG_SMALL 0x6c616d53u   /* 'Smal': 1..64 pages */
#define SHOWCASE_TAG_LARGE 0x6772614cu   /* 'Larg': 65 pages and more */
#define SHOWCASE_TAG_RING  0x676e6952u   /* 'Ring': a ring buffer, its pages mapped twice */

struct showcase_stats {
	uint64_t steps, allocs, fails;        /* workload steps, reservations tried, refused */
	uint64_t live, live_pages, rings;     /* what is kept alive for the picture */
	unsigned target_pct;
};

/* Runs the workload and keeps its end state; false if it could not start (no memory for rings). */
bool showcase_start(struct showcase_stats *st);
/* Unmaps and frees everything the workload kept; returns the region's syspte_check afterwards (0: clean). */
int showcase_stop(void);

#endif
