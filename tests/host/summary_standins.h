/*
 * Stand-ins for what kernel/summary.c reads of the rest of the kernel beyond sysinfo.c's
 * (sysinfo_standins.h): the command line, the showcase workload (not run: it reports nothing) and
 * the self-test results, which the test sets in results before it calls summary_show.
 */
#ifndef TESTS_HOST_SUMMARY_STANDINS_H
#define TESTS_HOST_SUMMARY_STANDINS_H

#include "sysinfo_standins.h"

struct cmdline kernel_cmdline;
bool showcase_start(struct showcase_stats *st) { memset(st, 0, sizeof(*st)); return false; }
int showcase_stop(void) { return 0; }
static struct ktest_results results;
const struct ktest_results *ktest_results(void) { return &results; }

#endif
