/* The CPUs to start, from the MADT (rules in smp_plan.h). */
#include "smp_plan.h"
#include "apic_icr.h"
#include "kprintf.h"
#include "kassert.h"

/* Records entry id as skipped for why. */
static void smp_plan_skip(struct smp_plan *p, uint32_t id, unsigned why)
{
	p->skipped[why]++;
	if (p->nkept < SMP_PLAN_SKIPS_KEPT) {
		p->skip[p->nkept].apic_id = id;
		p->skip[p->nkept].why = (uint8_t)why;
		p->nkept++;
	}
}

/* True when c names the broadcast destination of its entry type, which is no CPU's id: 0xFF in a
 * local APIC entry (a CPU with x2APIC id 255 has a local x2APIC entry), 0xFFFFFFFF in a local
 * x2APIC one. An INIT sent there would reach every CPU, the boot CPU included. */
static bool smp_plan_broadcast(const struct acpi_cpu *c)
{
	return c->apic_id == (c->x2apic ? APIC_X2APIC_BROADCAST : APIC_XAPIC_BROADCAST);
}

/* True when the first kept entries of madt list a CPU in a local APIC (type 0) entry: one enabled
 * or online-capable, with an id other than the broadcast 0xFF (Linux's has_lapic_cpus, set by such
 * an entry only, as a MADT of type 0 placeholders with id 0xFF beside real x2APIC entries exists). */
static bool smp_plan_has_xapic_cpus(const struct acpi_madt_info *madt, size_t kept)
{
	for (size_t i = 0; i < kept; i++) {
		const struct acpi_cpu *c = &madt->cpu[i];
		if (!c->x2apic && (c->enabled || c->online_capable) && !smp_plan_broadcast(c))
			return true;
	}
	return false;
}

/* True when c is a local x2APIC (type 9) entry with an id below 0xFF in a MADT that lists CPUs in
 * local APIC entries (xapic_cpus): ACPI gives a CPU whose id fits 8 bits a type 0 entry, so such an
 * entry is no CPU of its own (firmware lists every CPU again, or placeholders for ids no CPU has:
 * Ivy Bridge-EP servers list x2APIC ids 0x00 to 0x77 beside xAPIC ids up to 0x39, disabled there,
 * which firmware is free to mark enabled), and Linux ignores it (arch/x86/kernel/acpi/boot.c,
 * acpi_parse_x2apic). */
static bool smp_plan_x2apic_low(const struct acpi_cpu *c, bool xapic_cpus)
{
	return xapic_cpus && c->x2apic && c->apic_id < APIC_XAPIC_BROADCAST;
}

/* True when c is enabled, names an id a CPU can have, and is not ignored (smp_plan_x2apic_low). */
static bool smp_plan_usable(const struct acpi_cpu *c, bool xapic_cpus)
{
	return c->enabled && !smp_plan_broadcast(c) && !smp_plan_x2apic_low(c, xapic_cpus);
}

/* True when an entry before index i of madt is usable with APIC id id. */
static bool smp_plan_seen(const struct acpi_madt_info *madt, size_t i, uint32_t id, bool xapic_cpus)
{
	for (size_t j = 0; j < i; j++)
		if (madt->cpu[j].apic_id == id && smp_plan_usable(&madt->cpu[j], xapic_cpus))
			return true;
	return false;
}

void smp_plan_make(const struct acpi_madt_info *madt, uint32_t boot_id, enum smp_apic_use use, unsigned maxcpus,
		   struct smp_plan *out)
{
	size_t kept = MIN(madt->kept, (size_t)ACPI_MAX_CPUS);
	bool xapic_cpus = smp_plan_has_xapic_cpus(madt, kept);

	*out = (struct smp_plan){ .n = 1, .found = 1 };
	out->apic_id[0] = boot_id;
	maxcpus = MAX(1u, MIN(maxcpus, (unsigned)SMP_MAX_CPUS));
	out->unread = madt->entries > kept ? madt->entries - kept : 0;
	for (size_t i = 0; i < kept; i++) {
		const struct acpi_cpu *c = &madt->cpu[i];
		if (!c->enabled) {
			smp_plan_skip(out, c->apic_id, c->online_capable ? SMP_SKIP_HOTPLUG : SMP_SKIP_DISABLED);
			continue;
		}
		if (smp_plan_broadcast(c)) {
			smp_plan_skip(out, c->apic_id, SMP_SKIP_BROADCAST);
			continue;
		}
		if (smp_plan_x2apic_low(c, xapic_cpus)) {
			smp_plan_skip(out, c->apic_id, SMP_SKIP_X2APIC_LOW);
			continue;
		}
		if (c->apic_id == boot_id && !out->boot_listed) {
			out->boot_listed = true;
			continue;
		}
		if (c->apic_id == boot_id || smp_plan_seen(madt, i, c->apic_id, xapic_cpus)) {
			smp_plan_skip(out, c->apic_id, SMP_SKIP_DUPLICATE);
			continue;
		}
		out->found++;
		if (use == SMP_APIC_OFF)
			smp_plan_skip(out, c->apic_id, SMP_SKIP_NO_APIC);
		else if (use != SMP_APIC_X2APIC && c->apic_id > APIC_XAPIC_ID_MAX)
			smp_plan_skip(out, c->apic_id, SMP_SKIP_NEEDS_X2APIC);
		else if (out->n == SMP_MAX_CPUS)
			smp_plan_skip(out, c->apic_id, SMP_SKIP_LIMIT);
		else if (out->n == maxcpus)
			smp_plan_skip(out, c->apic_id, SMP_SKIP_MAXCPUS);
		else
			out->apic_id[out->n++] = c->apic_id;
	}
}

const char *smp_skip_reason(unsigned why)
{
	switch (why) {
	case SMP_SKIP_DISABLED: return "disabled in the MADT";
	case SMP_SKIP_DUPLICATE: return "listed twice";
	case SMP_SKIP_NEEDS_X2APIC: return "APIC id above 0xFE needs x2APIC mode, off (the CPU lacks it, or the ACPI DMAR opts out)";
	case SMP_SKIP_LIMIT: return "beyond the kernel's 255 CPUs (SMP_MAX_CPUS)";
	case SMP_SKIP_MAXCPUS: return "beyond maxcpus=";
	case SMP_SKIP_BROADCAST: return "the MADT names the broadcast APIC id, which no CPU has";
	case SMP_SKIP_HOTPLUG: return "online-capable, not enabled: a hot-plug slot, not present at boot";
	case SMP_SKIP_X2APIC_LOW: return "a local x2APIC entry with an id below 0xFF beside local APIC entries (ACPI lists "
					  "such ids in local APIC entries): ignored, as Linux does";
	case SMP_SKIP_NO_APIC: return "no local APIC in use, so no CPU can be started (the cause is logged above)";
	default: return "?";
	}
}

/* True for the skip reasons a person may act on one CPU at a time (a CPU present but not started),
 * whose kept entries the report names one by one; the others (no CPU there, one listed twice or
 * in an entry ACPI reserves for other ids, or no APIC to start any CPU, whose one cause the log
 * states before the plan) are only counted. */
static bool smp_plan_named(unsigned why)
{
	return why != SMP_SKIP_DISABLED && why != SMP_SKIP_DUPLICATE && why != SMP_SKIP_HOTPLUG &&
	       why != SMP_SKIP_NO_APIC && why != SMP_SKIP_X2APIC_LOW;
}

/* Logs n skipped entries of reason why that no line names, "more" when some of that reason were. */
static void smp_plan_report_rest(size_t n, bool more, unsigned why, unsigned maxcpus)
{
	const char *what = n == 1 ? "entry" : "entries", *also = more ? "more " : "";

	if (why == SMP_SKIP_MAXCPUS)
		kprintf("smp: %zu %sMADT %s not started: beyond maxcpus=%u\n", n, also, what, maxcpus);
	else
		kprintf("smp: %zu %sMADT %s not started: %s\n", n, also, what, smp_skip_reason(why));
}

/* Names the kept skips a person may act on, then counts per reason every skipped entry not named,
 * so each one is accounted for in the log however many there are (a 128-CPU machine with
 * maxcpus=4); then what the plan noticed. */
void smp_plan_report(const struct smp_plan *p, unsigned maxcpus)
{
	size_t named[SMP_SKIP_COUNT] = { 0 };

	for (size_t i = 0; i < p->nkept; i++) {
		unsigned why = p->skip[i].why;
		if (!smp_plan_named(why))
			continue;
		named[why]++;
		if (why == SMP_SKIP_MAXCPUS)
			kprintf("smp: APIC id %u not started: beyond maxcpus=%u\n", p->skip[i].apic_id, maxcpus);
		else
			kprintf("smp: APIC id %u not started: %s\n", p->skip[i].apic_id, smp_skip_reason(why));
	}
	for (unsigned why = 0; why < SMP_SKIP_COUNT; why++) {
		KASSERT(named[why] <= p->skipped[why], "the kept skips are among those counted");
		if (p->skipped[why] > named[why])
			smp_plan_report_rest(p->skipped[why] - named[why], named[why] != 0, why, maxcpus);
	}
	if (!p->boot_listed)
		kprintf("smp: NOTE: the MADT does not list the boot CPU (APIC id %u) as enabled\n", p->apic_id[0]);
	if (p->unread)
		kprintf("smp: NOTE: %zu processor entries past the %d the MADT reader keeps were not considered\n",
			p->unread, ACPI_MAX_CPUS);
}

unsigned smp_plan_cpu_family(uint32_t signature)
{
	unsigned base = (signature >> 8) & 0xF;

	return base == 0xF ? base + ((signature >> 20) & 0xFF) : base;
}

unsigned smp_plan_cpu_model(uint32_t signature)
{
	unsigned model = (signature >> 4) & 0xF;

	return smp_plan_cpu_family(signature) >= 6 ? model + (((signature >> 16) & 0xF) << 4) : model;
}

/* True when vendor is exactly the 12 characters of want (a NUL right after them). */
static bool smp_plan_vendor_is(const char *vendor, const char *want)
{
	size_t i = 0;

	for (; want[i]; i++)
		if (vendor[i] != want[i])
			return false;
	return vendor[i] == 0;
}

/* 0 on the CPUs the rule in smp_plan.h names, SMP_INIT_DELAY_LEGACY_US on every other one. */
uint32_t smp_plan_init_delay_us(const char *vendor, uint32_t signature)
{
	unsigned family = smp_plan_cpu_family(signature), model = smp_plan_cpu_model(signature);
	bool modern = false;

	if (smp_plan_vendor_is(vendor, SMP_CPU_VENDOR_INTEL))
		modern = family > 6 || (family == 6 && model >= 1);   /* Linux: x86_vfm >= INTEL_PENTIUM_PRO */
	else if (smp_plan_vendor_is(vendor, SMP_CPU_VENDOR_AMD))
		modern = family >= 0xF;
	else if (smp_plan_vendor_is(vendor, SMP_CPU_VENDOR_HYGON))
		modern = family >= 0x18;
	return modern ? 0 : SMP_INIT_DELAY_LEGACY_US;
}
