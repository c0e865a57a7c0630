/*
 * reserved_: the WDK layer of reserved mappings (mm/reserved.c). What other kernel code and tests
 * need beyond the API in wdm.h.
 */
#ifndef RESERVED_H
#define RESERVED_H

#include "wdm.h"

/*
 * The memory type (enum pt_cache) a MEMORY_CACHING_TYPE asks for, or -1 when the type is out of
 * range. What the page then gets on the running CPU is arch_pte_cache_effective() of it (README table).
 */
int reserved_cache_type(MEMORY_CACHING_TYPE t);

#endif
