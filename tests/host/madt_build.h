/* Hand-made MADTs for the tests of smp_plan (test_smp_plan, test_intake_bounds). */
#ifndef MADT_BUILD_H
#define MADT_BUILD_H
#include <stdbool.h>
#include <stdint.h>
#include "acpi.h"

/* Appends one processor entry to m: a local x2APIC (type 9) entry when x2, else a local APIC
 * (type 0) one; counted as the MADT reader counts it, kept while the reader would keep it. */
static inline void madt_build_add(struct acpi_madt_info *m, uint32_t id, bool x2, bool enabled, bool capable)
{
	if (m->kept < ACPI_MAX_CPUS)
		m->cpu[m->kept++] = (struct acpi_cpu){ .apic_id = id, .uid = id, .x2apic = x2,
						       .enabled = enabled, .online_capable = capable };
	m->entries++;
	m->usable += enabled || capable;
	m->enabled += enabled;
}

/* Appends one entry of the type its id needs (type 9 above 0xFE). */
static inline void madt_build_add_id(struct acpi_madt_info *m, uint32_t id, bool enabled, bool capable)
{
	madt_build_add(m, id, id > 0xFE, enabled, capable);
}
#endif
