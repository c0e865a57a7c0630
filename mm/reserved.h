/*
 * reserved_: the WDK layer of reserved mappings (mm/reserved.c). What other kernel code and tests
 * need beyond the API in wdm.h.
 */
#ifndef RESERVED_H
#define RESERVED_H

#include "wdm.h"

struct syspte_region;

/*
 * The system PTE region the WDK calls work on. The kernel registers the one mm_init sets up
 * (kernel/mminit.c), a host machine its own; NULL (the default) until then. Reports that may run
 * before it exists (the page-fault path, fatal reports) check for NULL.
 */
void reserved_set_region(struct syspte_region *r);
struct syspte_region *reserved_region(void);

/*
 * The memory type (enum pt_cache) a MEMORY_CACHING_TYPE asks for, or -1 when the type is out of
 * range. What the page then gets on the running CPU is arch_pte_cache_effective() of it (README table).
 */
int reserved_cache_type(MEMORY_CACHING_TYPE t);

#endif
