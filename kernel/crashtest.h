#ifndef CRASHTEST_H
#define CRASHTEST_H
#include <stdbool.h>
/* Performs the failure named by crashtest= (if any); returns only for non-fatal ones. */
void crashtest_run(void);
/* Performs crashtest=early: a panic before the physical allocator, the kernel's page tables and the
 * console exist (its report reaches the screen through the loader's mapping). Returns otherwise. */
void crashtest_run_early(void);
/* Performs crashtest=reclaim: a panic once the kernel's own page tables are live and the loader's
 * memory is reclaimed, before the console exists (its report reaches the screen through the kernel's
 * mapping of the framebuffer). Returns otherwise. */
void crashtest_run_reclaim(void);
/* Whether crashtest=unsealed asks the boot to leave the direct map unsealed (no ACPI premap), so
 * that mm_init's assertion of the seal ends it. */
bool crashtest_unsealed(void);
#endif
