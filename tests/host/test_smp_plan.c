/*
 * Host tests of the CPU start plan (arch/x86_64/smp_plan.c) and the APIC's command-register values
 * (arch/x86_64/apic_icr.h): the issue's cases (1 CPU, 4, maxcpus=2, 70, more than 255, an x2APIC id in
 * xAPIC mode, duplicates, disabled and online-capable entries, a boot CPU the MADT omits), then
 * 20000 generated MADTs planned by the kernel's function and by an independent model, with the
 * properties every plan must have; the ICR encodings against the SDM's bit layout, and the
 * start-up vector of every page below 1 MiB and around it. Entries naming the broadcast id of their
 * type (0xFF in type 0, 0xFFFFFFFF in type 9) are never CPUs, nor are type 9 entries with ids below
 * 0xFF beside type 0 entries of CPUs (ACPI lists such ids in type 0; Linux ignores them). The APIC mode's choice (apic_mode.h)
 * over every combination of CPU support, firmware state and the DMAR's x2APIC opt-out, and the
 * CPUs each mode leaves unstartable. The plan's report (smp_plan_report) on generated machines with
 * many CPUs and mixed reasons: every skipped entry named or counted under its reason (before, only
 * the first 16 were listed and disabled and duplicate entries not even counted). The APIC error
 * status register's names (apic_esr.h): each of the 32 bits alone against the SDM's names written
 * out here, every value of the 8 defined bits and 20000 generated 32-bit values against a model
 * built with snprintf, and every buffer size up to the whole text for a cut that stays a prefix.
 * The INIT delay (smp_plan_init_delay_us, Linux's rule): named CPUs from the 486 to Zen 3, Hygon,
 * VIA, Zhaoxin and vendor strings that are almost Intel's, then every vendor of a list with every
 * family, model and extended model, and every extended family under base family 0xF (where it
 * counts), against a model written from the rule.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "smp_plan.h"
#include "madt_build.h"
#include "apic_icr.h"
#include "apic_mode.h"
#include "apic_esr.h"
#include <stdio.h>
#include "test_rng.h"
#include "capture.h"

static struct acpi_madt_info madt;
static struct smp_plan plan;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	return test_rng_next(&rng);
}

/* Empties the MADT. */
static void madt_clear(void) { memset(&madt, 0, sizeof(madt)); }

/* Appends one processor entry: a local x2APIC (type 9) entry when x2, else a local APIC (type 0) one. */
static void madt_add_entry(uint32_t id, bool x2, bool enabled, bool capable) { madt_build_add(&madt, id, x2, enabled, capable); }

/* Appends one processor entry of the type the id needs (type 9 above 0xFE). */
static void madt_add(uint32_t id, bool enabled, bool capable) { madt_build_add_id(&madt, id, enabled, capable); }

/* True when entry c names the broadcast destination of its type, which no CPU has. */
static bool entry_broadcast(const struct acpi_cpu *c)
{
	return c->apic_id == (c->x2apic ? 0xFFFFFFFFu : 0xFFu);
}

/* True when the plan starts exactly ids[0..n) in that order. */
static bool plan_is(const uint32_t *ids, size_t n)
{
	if (plan.n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (plan.apic_id[i] != ids[i])
			return false;
	return true;
}

static void test_issue_cases(void)
{
	madt_clear();
	madt_add(0, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan.n == 1 && plan.found == 1 && plan.boot_listed, "one CPU: the boot CPU alone, found and listed");

	madt_clear();
	for (uint32_t i = 0; i < 4; i++)
		madt_add(i, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 2, 3 }, 4) && plan.found == 4, "four CPUs: all four, in MADT order");
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, 2, &plan);
	ok(plan_is((uint32_t[]){ 0, 1 }, 2) && plan.found == 4 && plan.skipped[SMP_SKIP_MAXCPUS] == 2 &&
	   plan.nkept == 2 && plan.skip[0].apic_id == 2 && plan.skip[1].why == SMP_SKIP_MAXCPUS,
	   "maxcpus=2 of 4: two started, two skipped for maxcpus=, all four found");
	smp_plan_make(&madt, 2, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 2, 0, 1, 3 }, 4), "a boot CPU in the middle of the list comes first, the rest keep their order");
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, 0, &plan);
	ok(plan.n == 1, "maxcpus=0 (out of range) is clamped to 1");
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, 1000, &plan);
	ok(plan.n == 4, "maxcpus above the limit is clamped to it");

	madt_clear();
	for (uint32_t i = 0; i < 70; i++)
		madt_add(2 * i, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan.n == 70 && plan.found == 70 && plan.skipped[SMP_SKIP_LIMIT] == 0 && plan.apic_id[69] == 138,
	   "70 CPUs (more than one 64-bit mask's worth): all started");
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, 10, &plan);
	ok(plan.n == 10 && plan.skipped[SMP_SKIP_MAXCPUS] == 60, "70 CPUs with maxcpus=10: 60 skipped for maxcpus=");

	madt_clear();
	for (uint32_t i = 0; i < 300; i++)
		madt_add(2 * i, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan.n == 255 && plan.found == 300 && plan.skipped[SMP_SKIP_LIMIT] == 45 && plan.apic_id[254] == 508,
	   "300 CPUs in x2APIC mode: the first 255 started, 45 beyond the kernel's limit");
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan.n == 128 && plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 172 && plan.skipped[SMP_SKIP_LIMIT] == 0,
	   "the same 300 in xAPIC mode: the 128 with ids up to 254 started, the rest need x2APIC");

	madt_clear();
	madt_add(0, true, false);
	madt_add(1, true, false);
	madt_add(300, true, false);
	madt_add(2, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 2 }, 3) && plan.found == 4 && plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 1 &&
	   plan.skip[0].apic_id == 300, "xAPIC mode: id 300 needs x2APIC and is skipped, the next CPU still starts");
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 300, 2 }, 4), "x2APIC mode: id 300 starts");

	madt_clear();
	madt_add(0, true, false);
	madt_add(1, true, false);
	madt_add(1, true, false);
	madt_add(0, true, false);
	madt_add(2, false, false);
	madt_add(3, false, true);
	madt_add(4, false, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1 }, 2) && plan.found == 2 && plan.skipped[SMP_SKIP_DUPLICATE] == 2 &&
	   plan.skipped[SMP_SKIP_DISABLED] == 2 && plan.skipped[SMP_SKIP_HOTPLUG] == 1,
	   "duplicates and disabled entries skipped; online-capable but not enabled (a hot-plug slot) neither found "
	   "nor started");
	madt_clear();
	madt_add(0, true, false);
	madt_add(5, false, true);
	madt_add(5, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 5 }, 2) && plan.found == 2 && plan.skipped[SMP_SKIP_HOTPLUG] == 1 &&
	   plan.skipped[SMP_SKIP_DUPLICATE] == 0, "a hot-plug slot's entry does not hide a later enabled entry of its id");

	madt_clear();
	madt_add(1, true, false);
	madt_add(2, true, false);
	smp_plan_make(&madt, 7, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 7, 1, 2 }, 3) && plan.found == 3 && !plan.boot_listed,
	   "a boot CPU the MADT omits is still CPU 0 and counted found, and the plan says it is not listed");

	madt_clear();
	smp_plan_make(&madt, 5, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 5 }, 1) && plan.found == 1, "an empty MADT: the boot CPU alone");

	/* The broadcast destinations: x2APIC id 0xFFFFFFFF, and 0xFF in a local APIC entry (a CPU with
	 * x2APIC id 255 is listed by a type 9 entry). An INIT sent there reaches every CPU, the boot CPU too. */
	madt_clear();
	madt_add(0, true, false);
	madt_add(1, true, false);
	madt_add_entry(0xFFFFFFFFu, true, true, false);
	madt_add_entry(0xFFFFFFFFu, true, true, false);
	madt_add(2, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 2 }, 3) && plan.found == 3 && plan.skipped[SMP_SKIP_BROADCAST] == 2,
	   "x2APIC mode: an enabled entry with x2APIC id 0xFFFFFFFF (the broadcast) is not a CPU");
	madt_clear();
	madt_add(0, true, false);
	madt_add_entry(0xFF, false, true, false);
	madt_add_entry(0xFF, true, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 0xFF }, 2) && plan.found == 2 && plan.skipped[SMP_SKIP_BROADCAST] == 1 &&
	   plan.skipped[SMP_SKIP_DUPLICATE] == 0, "x2APIC mode: a local APIC entry with id 0xFF is not a CPU, and does not "
	   "hide the x2APIC entry of the CPU whose id is 255");
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0 }, 1) && plan.skipped[SMP_SKIP_BROADCAST] == 1 && plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 1,
	   "xAPIC mode: the same MADT starts neither");
	madt_clear();
	madt_add_entry(0xFF, false, false, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan.n == 1 && plan.skipped[SMP_SKIP_DISABLED] == 1 && plan.skipped[SMP_SKIP_BROADCAST] == 0,
	   "a disabled placeholder with id 0xFF counts as disabled (not reported)");

	/* Local x2APIC entries with ids below 0xFF beside local APIC entries: ACPI lists such CPUs in
	 * type 0 entries, so these are no CPUs of their own (Linux ignores them). An Ivy Bridge-EP lists
	 * ids 0x00..0x39 in type 0 and x2APIC entries 0x00..0x77 (disabled there); an enabled type 9 id
	 * that no type 0 entry has was started before, costing the answer's bound and a failure line
	 * for a CPU that is not there. */
	madt_clear();
	madt_add(0, true, false);
	madt_add(1, true, false);
	madt_add_entry(0, true, true, false);
	madt_add_entry(1, true, true, false);
	madt_add_entry(2, true, true, false);
	madt_add_entry(3, true, false, false);
	madt_add_entry(0x100, true, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 0x100 }, 3) && plan.found == 3 && plan.skipped[SMP_SKIP_X2APIC_LOW] == 3 &&
	   plan.skipped[SMP_SKIP_DUPLICATE] == 0 && plan.skipped[SMP_SKIP_DISABLED] == 1,
	   "beside local APIC entries, enabled x2APIC entries with ids below 0xFF are ignored (id 2 not started), "
	   "a disabled one counts as disabled, id 0x100 starts");
	madt_clear();
	madt_add_entry(2, true, true, false);
	madt_add(0, true, false);
	madt_add(2, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 2 }, 2) && plan.skipped[SMP_SKIP_X2APIC_LOW] == 1 && plan.skipped[SMP_SKIP_DUPLICATE] == 0,
	   "an ignored x2APIC entry does not make the later local APIC entry of its id a duplicate");
	madt_clear();
	madt_add_entry(0xFF, false, false, false);
	madt_add_entry(0xFF, false, true, false);
	madt_add_entry(0, true, true, false);
	madt_add_entry(1, true, true, false);
	madt_add_entry(2, true, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0, 1, 2 }, 3) && plan.skipped[SMP_SKIP_X2APIC_LOW] == 0,
	   "local APIC entries that are all 0xFF placeholders list no CPU: the x2APIC entries below 0xFF are the CPUs");
	madt_clear();
	madt_add_entry(5, false, false, true);
	madt_add_entry(0, true, true, false);
	madt_add_entry(1, true, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0 }, 1) && plan.skipped[SMP_SKIP_X2APIC_LOW] == 2 && plan.skipped[SMP_SKIP_HOTPLUG] == 1 &&
	   !plan.boot_listed, "an online-capable local APIC entry lists a CPU too (Linux's rule): the low x2APIC entries are ignored");

	madt_clear();
	for (uint32_t i = 0; i < ACPI_MAX_CPUS + 10; i++)
		madt_add(i, true, false);
	smp_plan_make(&madt, 0, SMP_APIC_X2APIC, SMP_MAX_CPUS, &plan);
	ok(plan.unread == 10 && plan.n == SMP_MAX_CPUS, "entries past what the MADT reader kept are counted as unread");
}

/* ---------------------------------------------------------------- the model */

#define MODEL_KERNEL_CPUS 255   /* the documented limit (include/cpumask.h) */
_Static_assert(SMP_MAX_CPUS == MODEL_KERNEL_CPUS, "the kernel's CPU limit is the documented one");

struct model {
	size_t n, found, skipped[SMP_SKIP_COUNT];
	uint32_t ids[SMP_MAX_CPUS];
	bool boot_listed;
};

/* Plans the same MADT another way: first the distinct usable ids, then the start decisions. */
static void model_plan(uint32_t boot, enum smp_apic_use use, unsigned maxcpus, struct model *m)
{
	static uint32_t distinct[ACPI_MAX_CPUS];
	size_t nd = 0;
	unsigned limit = maxcpus < 1 ? 1 : maxcpus > MODEL_KERNEL_CPUS ? MODEL_KERNEL_CPUS : maxcpus;

	bool lapic_cpus = false;   /* a type 0 entry of a CPU, present or hot-pluggable, not 0xFF */

	memset(m, 0, sizeof(*m));
	m->ids[m->n++] = boot;
	for (size_t i = 0; i < madt.kept; i++)
		lapic_cpus |= !madt.cpu[i].x2apic && madt.cpu[i].apic_id != 0xFF &&
			      (madt.cpu[i].enabled || madt.cpu[i].online_capable);
	for (size_t i = 0; i < madt.kept; i++) {
		const struct acpi_cpu *c = &madt.cpu[i];
		if (!c->enabled) {
			m->skipped[c->online_capable ? SMP_SKIP_HOTPLUG : SMP_SKIP_DISABLED]++;
			continue;
		}
		if (entry_broadcast(c)) {
			m->skipped[SMP_SKIP_BROADCAST]++;
			continue;
		}
		if (lapic_cpus && c->x2apic && c->apic_id <= 0xFE) {
			m->skipped[SMP_SKIP_X2APIC_LOW]++;
			continue;
		}
		bool seen = false;
		for (size_t j = 0; j < nd; j++)
			seen |= distinct[j] == c->apic_id;
		if (c->apic_id == boot) {
			if (m->boot_listed)
				m->skipped[SMP_SKIP_DUPLICATE]++;
			m->boot_listed = true;
			continue;
		}
		if (seen) {
			m->skipped[SMP_SKIP_DUPLICATE]++;
			continue;
		}
		distinct[nd++] = c->apic_id;
	}
	m->found = 1 + nd;
	for (size_t j = 0; j < nd; j++) {
		if (use == SMP_APIC_OFF)
			m->skipped[SMP_SKIP_NO_APIC]++;
		else if (use == SMP_APIC_XAPIC && distinct[j] >= 0xFF)
			m->skipped[SMP_SKIP_NEEDS_X2APIC]++;
		else if (m->n == limit)
			m->skipped[m->n == MODEL_KERNEL_CPUS ? SMP_SKIP_LIMIT : SMP_SKIP_MAXCPUS]++;
		else
			m->ids[m->n++] = distinct[j];
	}
}

/* Fills the MADT with a random machine: ids from a small range (duplicates) or anywhere (x2APIC). */
static void madt_random(void)
{
	size_t k = rnd() % 8 == 0 ? 60 + rnd() % 500 : rnd() % 80;
	uint32_t range = rnd() % 3 == 0 ? 300 : rnd() % 2 ? 100 : 0xFFFFFFFFu;
	bool x2only = rnd() % 4 == 0;   /* a machine listing its CPUs in x2APIC entries alone */

	madt_clear();
	for (size_t i = 0; i < k; i++) {
		unsigned f = (unsigned)(rnd() % 8);
		uint32_t id = rnd() % 16 == 0 ? (rnd() % 2 ? 0xFFu : 0xFFFFFFFFu) : (uint32_t)(rnd() % range);
		/* now and then a type 9 entry for a small id, or a type 0 entry claiming 0xFF */
		bool x2 = x2only || id > 0xFF || (rnd() % 4 ? id == 0xFF : id < 0xFF);
		madt_add_entry(id, x2, f != 0 && f != 1, f == 1 || f == 7);
	}
}

static void test_generated(void)
{
	unsigned agree = 0, props = 0, total = 20000, hit[SMP_SKIP_COUNT] = { 0 };
	struct model m;

	for (unsigned r = 0; r < total; r++) {
		madt_random();
		uint32_t boot = madt.kept && rnd() % 4 ? madt.cpu[rnd() % madt.kept].apic_id : (uint32_t)(rnd() % 300);
		enum smp_apic_use use = (enum smp_apic_use)(rnd() % 3);
		unsigned maxcpus = rnd() % 5 == 0 ? (unsigned)(rnd() % 300) : SMP_MAX_CPUS;
		smp_plan_make(&madt, boot, use, maxcpus, &plan);
		model_plan(boot, use, maxcpus, &m);
		bool same = plan.n == m.n && plan.found == m.found && plan.boot_listed == m.boot_listed &&
			    !memcmp(plan.apic_id, m.ids, m.n * sizeof(uint32_t)) &&
			    !memcmp(plan.skipped, m.skipped, sizeof(m.skipped));
		agree += same;
		if (!same && total - agree < 5)
			printf("# case %u: plan n %zu found %zu, model n %zu found %zu\n", r, plan.n, plan.found, m.n, m.found);
		/* Properties, independent of the model. */
		unsigned limit = maxcpus < 1 ? 1 : maxcpus;
		bool p = plan.n >= 1 && plan.apic_id[0] == boot && plan.n <= SMP_MAX_CPUS && plan.n <= limit &&
			 plan.n <= plan.found;
		for (size_t i = 0; p && i < plan.n; i++)
			for (size_t j = i + 1; j < plan.n; j++)
				p &= plan.apic_id[i] != plan.apic_id[j];
		bool type0_cpu = false;   /* ACPI's rule read afresh: a type 0 CPU makes low type 9 ids no CPUs */
		for (size_t j = 0; j < madt.kept; j++)
			type0_cpu |= !madt.cpu[j].x2apic && madt.cpu[j].apic_id < 0xFF &&
				     (madt.cpu[j].enabled || madt.cpu[j].online_capable);
		for (size_t i = 1; p && i < plan.n; i++) {
			bool listed = false;
			for (size_t j = 0; j < madt.kept; j++)
				listed |= madt.cpu[j].apic_id == plan.apic_id[i] && madt.cpu[j].enabled &&
					  !entry_broadcast(&madt.cpu[j]) &&
					  !(type0_cpu && madt.cpu[j].x2apic && madt.cpu[j].apic_id < 0xFF);
			p &= listed && (use == SMP_APIC_X2APIC || plan.apic_id[i] <= APIC_XAPIC_ID_MAX) &&
			     plan.apic_id[i] != 0xFFFFFFFFu;
		}
		p &= plan.n + plan.skipped[SMP_SKIP_NEEDS_X2APIC] + plan.skipped[SMP_SKIP_LIMIT] +
		     plan.skipped[SMP_SKIP_MAXCPUS] + plan.skipped[SMP_SKIP_NO_APIC] == plan.found;
		/* With no APIC in use nothing but the boot CPU runs, and no CPU is said to need x2APIC. */
		p &= use != SMP_APIC_OFF || (plan.n == 1 && plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 0 &&
					     plan.skipped[SMP_SKIP_LIMIT] == 0 && plan.skipped[SMP_SKIP_MAXCPUS] == 0);
		size_t skipped = 0;
		for (unsigned w = 0; w < SMP_SKIP_COUNT; w++)
			skipped += plan.skipped[w], hit[w] += plan.skipped[w] != 0;
		p &= skipped + (plan.n - 1) + plan.boot_listed == madt.kept;
		p &= plan.nkept == (skipped < SMP_PLAN_SKIPS_KEPT ? skipped : SMP_PLAN_SKIPS_KEPT);
		props += p;
		if (!p && r - props < 5)
			printf("# case %u breaks a property\n", r);
	}
	is(agree, total, "%u generated MADTs planned as the model plans them", total);
	is(props, total, "every plan: boot CPU first, no id twice, only usable listed ids, within maxcpus and the kernel's limit, "
	   "every entry started, skipped or the boot CPU");
	unsigned reasons = 0;
	for (unsigned w = 0; w < SMP_SKIP_COUNT; w++)
		reasons += hit[w] != 0;
	_Static_assert(SMP_SKIP_COUNT == 9, "the message below names every reason's count");
	ok(reasons == SMP_SKIP_COUNT, "the generator reached every skip reason (%u %u %u %u %u %u %u %u %u plans)",
	   hit[0], hit[1], hit[2], hit[3], hit[4], hit[5], hit[6], hit[7], hit[8]);
}

/* ---------------------------------------------------------------- the plan's report */

/* The skip reason a report line's text names (maxcpus= with the plan's value), or SMP_SKIP_COUNT. */
static unsigned report_reason(const char *text, unsigned maxcpus)
{
	unsigned m;
	int end = 0;

	if (sscanf(text, "beyond maxcpus=%u%n", &m, &end) == 1 && text[end] == 0)
		return m == maxcpus ? SMP_SKIP_MAXCPUS : SMP_SKIP_COUNT;
	for (unsigned w = 0; w < SMP_SKIP_COUNT; w++)
		if (w != SMP_SKIP_MAXCPUS && !strcmp(text, smp_skip_reason(w)))
			return w;
	return SMP_SKIP_COUNT;
}

/* What a report says: entries named one by one and counted per reason, and lines it could not read. */
struct report_read {
	size_t named[SMP_SKIP_COUNT], counted[SMP_SKIP_COUNT];
	unsigned unknown, out_of_order, count_lines[SMP_SKIP_COUNT];
};

/* Reads one line of smp_plan_report's text: "APIC id N not started: REASON" lines must name the
 * plan's kept skips in order (next is the skip[] index to match from), "N [more] MADT entry/entries
 * not started: REASON" lines count the rest, "NOTE:" lines are the plan's other remarks. */
static void report_line(char *line, unsigned maxcpus, size_t *next, struct report_read *r)
{
	unsigned id, w;
	size_t n;
	int off = 0;

	if (sscanf(line, "smp: APIC id %u not started: %n", &id, &off) == 1 && off) {
		w = report_reason(line + off, maxcpus);
		if (w == SMP_SKIP_COUNT) {
			r->unknown++;
			return;
		}
		r->named[w]++;
		while (*next < plan.nkept && (plan.skip[*next].apic_id != id || plan.skip[*next].why != w))
			(*next)++;
		if (*next == plan.nkept)
			r->out_of_order++;
		else
			(*next)++;
		return;
	}
	if (sscanf(line, "smp: %zu %n", &n, &off) == 1 && off) {
		char *t = line + off;
		bool more = !strncmp(t, "more ", 5);
		t += more ? 5 : 0;
		const char *noun = n == 1 ? "MADT entry not started: " : "MADT entries not started: ";
		if (n == 0 || strncmp(t, noun, strlen(noun)) ||
		    (w = report_reason(t + strlen(noun), maxcpus)) == SMP_SKIP_COUNT || more != (r->named[w] != 0)) {
			r->unknown++;
			return;
		}
		r->counted[w] += n;
		r->count_lines[w]++;
		return;
	}
	if (strncmp(line, "smp: NOTE: ", 11))
		r->unknown++;
}

/* Fills the MADT with count entries of a machine with many CPUs: mostly enabled CPUs with new ids
 * (some above 0xFE), mixed with disabled entries, hot-plug slots, broadcast ids and second entries
 * for ids listed before, in proportions drawn per machine. */
static void madt_many(size_t count)
{
	unsigned pct_off = (unsigned)(rnd() % 40), pct_dup = (unsigned)(rnd() % 20), pct_bc = (unsigned)(rnd() % 5);
	uint32_t next_id = 0;

	madt_clear();
	for (size_t i = 0; i < count; i++) {
		unsigned d = (unsigned)(rnd() % 100);
		if (d < pct_off)
			madt_add(next_id++, false, rnd() % 2);
		else if (d < pct_off + pct_dup && madt.kept)
			madt_add_entry(madt.cpu[rnd() % madt.kept].apic_id, rnd() % 2, true, false);
		else if (d < pct_off + pct_dup + pct_bc)
			madt_add_entry(rnd() % 2 ? 0xFFu : 0xFFFFFFFFu, rnd() % 2, true, false);
		else
			madt_add(rnd() % 8 ? next_id++ : 0x100 + (uint32_t)(rnd() % 5000), true, false);
	}
}

/* smp_plan_report on generated machines of 2 to 600 processor entries (past ACPI_MAX_CPUS now and
 * then), both APIC modes and maxcpus from 1 to the kernel's 255, among them 128 CPUs with maxcpus=4: the entries it
 * names one by one (the plan's first SMP_PLAN_SKIPS_KEPT skips, in order) and those it counts per
 * reason add up, reason by reason, to the plan's skipped[], which with the CPUs started and the boot
 * CPU's own entry is every entry read: each skipped entry is accounted for in the log. */
static void test_report_accounts_every_skip(void)
{
	static char text[16384];
	unsigned bad = 0, cut = 0, total = 3000, hit[SMP_SKIP_COUNT] = { 0 }, reasons = 0;

	for (unsigned r = 0; r < total; r++) {
		enum smp_apic_use use = (enum smp_apic_use)(rnd() % 3);
		bool case128 = r % 10 == 0;
		unsigned maxcpus = case128 ? 4 : rnd() % 4 == 0 ? SMP_MAX_CPUS : 1 + (unsigned)(rnd() % SMP_MAX_CPUS);
		if (r % 7 == 1)
			madt_random();
		else
			madt_many(case128 ? 128 : 2 + rnd() % (rnd() % 8 ? 200 : 600));
		uint32_t boot = madt.kept && rnd() % 8 ? madt.cpu[0].apic_id : (uint32_t)(rnd() % 300);
		smp_plan_make(&madt, boot, use, maxcpus, &plan);
		capture_begin();
		smp_plan_report(&plan, maxcpus);
		capture_end(text, sizeof(text));

		struct report_read rd = { 0 };
		size_t next = 0, logged = 0, skipped = 0;
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			report_line(line, maxcpus, &next, &rd);
		bool good = rd.unknown == 0 && rd.out_of_order == 0;
		for (unsigned w = 0; w < SMP_SKIP_COUNT; w++) {
			good &= rd.named[w] + rd.counted[w] == plan.skipped[w] && rd.count_lines[w] <= 1;
			logged += rd.named[w] + rd.counted[w];
			hit[w] += rd.counted[w] != 0;
			skipped += plan.skipped[w];
		}
		good &= logged + (plan.n - 1) + plan.boot_listed == madt.kept;
		cut += skipped > SMP_PLAN_SKIPS_KEPT;
		if (!good && bad++ < 3) {
			printf("#   machine %u: %zu entries, maxcpus=%u, %s: %u unreadable lines, %u out of order; per reason "
			       "named+counted/skipped:", r, madt.kept, maxcpus,
			       use == SMP_APIC_X2APIC ? "x2APIC" : use == SMP_APIC_XAPIC ? "xAPIC" : "no APIC", rd.unknown,
			       rd.out_of_order);
			for (unsigned w = 0; w < SMP_SKIP_COUNT; w++)
				printf(" %zu+%zu/%zu", rd.named[w], rd.counted[w], plan.skipped[w]);
			printf("\n");
		}
	}
	for (unsigned w = 0; w < SMP_SKIP_COUNT; w++)
		reasons += hit[w] != 0;
	ok(bad == 0 && cut > total / 2 && reasons == SMP_SKIP_COUNT, "smp_plan_report on %u generated machines (%u with "
	   "more skips than it lists, %u of %d reasons counted in some): the entries named and counted per reason are the "
	   "plan's skipped entries, every entry accounted for (%u wrong)", total, cut, reasons, SMP_SKIP_COUNT, bad);
}

/* ---------------------------------------------------------------- ICR values */

static void test_icr(void)
{
	is(apic_icr_low(APIC_DM_INIT, 0), 0x4500, "INIT, level assert, edge, physical, no shorthand");
	is(apic_icr_low(APIC_DM_STARTUP, 0x0A), 0x460A, "start-up IPI with vector 0x0A (trampoline at 0xA000)");
	is(apic_icr_low(APIC_DM_FIXED, 0xFD), 0x40FD, "fixed vector 0xFD");
	is(apic_icr_low(APIC_DM_NMI, 0), 0x4400, "NMI");
	is(apic_icr_low(APIC_DM_FIXED | 0x800, 0x20), 0x4020, "a destination-mode bit in the mode is dropped: physical only");
	is(apic_icr_xapic_high(3), 0x03000000, "xAPIC destination in ICR high bits 31:24");
	is(apic_icr_xapic_high(APIC_XAPIC_ID_MAX), 0xFE000000, "the highest xAPIC id");
	is(apic_icr_x2apic(0x12345678, 0x40FD), 0x12345678000040FDULL, "x2APIC: destination in bits 63:32 of MSR 0x830");
	unsigned good = 0, n = 0;
	for (paddr_t pa = 0; pa < 0x110000; pa += 0x800) {
		uint8_t want = (pa % PAGE_SIZE == 0 && pa && pa < 0x100000) ? (uint8_t)(pa >> 12) : 0;
		good += apic_sipi_vector(pa) == want;
		n++;
	}
	is(good, n, "start-up vector of %u addresses: the page number below 1 MiB, 0 for page 0, unaligned or higher", n);
	ok(apic_sipi_vector(0xFFFFFFFFFFFFF000ULL) == 0 && apic_sipi_vector(0x100000000ULL + 0xA000) == 0,
	   "no vector for high addresses whose low bits look like a low page");
}

/* ---------------------------------------------------------------- the APIC mode */

static void test_apic_mode(void)
{
	/* Written out, not computed: x2APIC needs the CPU's support, and then either the firmware's
	 * having enabled it or no opt-out in the DMAR. */
	static const struct { bool cpu, firmware, opt_out; enum apic_mode want; } cases[] = {
		{ false, false, false, APIC_MODE_XAPIC },
		{ false, false, true, APIC_MODE_XAPIC },
		{ false, true, false, APIC_MODE_XAPIC },
		{ false, true, true, APIC_MODE_XAPIC },
		{ true, false, false, APIC_MODE_X2APIC },
		{ true, false, true, APIC_MODE_XAPIC_OPTED_OUT },
		{ true, true, false, APIC_MODE_X2APIC_FIRMWARE },
		{ true, true, true, APIC_MODE_X2APIC_FIRMWARE },
	};
	unsigned good = 0, seen = 0;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum apic_mode m = apic_mode_choose(cases[i].cpu, cases[i].firmware, cases[i].opt_out);
		bool x2 = apic_mode_is_x2apic(m);
		good += m == cases[i].want && x2 == (cases[i].cpu && (cases[i].firmware || !cases[i].opt_out));
		seen |= 1u << (cases[i].cpu * 4 + cases[i].firmware * 2 + cases[i].opt_out);
	}
	is(good, 8, "the mode of each of the 8 combinations (CPU has x2APIC, firmware enabled it, DMAR opts out)");
	is(seen, 0xFF, "the table covers all 8 combinations once");

	/* What each mode can start: ids up to 0xFE always, 0xFF (a type 9 entry) and 300 only in x2APIC mode. */
	madt_clear();
	madt_add(0, true, false);
	madt_add(APIC_XAPIC_ID_MAX, true, false);
	madt_add_entry(0xFF, true, true, false);
	madt_add(300, true, false);
	madt_add(7, true, false);
	for (unsigned i = 0; i < 8; i++) {
		enum apic_mode m = apic_mode_choose(i & 4, i & 2, i & 1);
		smp_plan_make(&madt, 0, apic_mode_is_x2apic(m) ? SMP_APIC_X2APIC : SMP_APIC_XAPIC, SMP_MAX_CPUS, &plan);
		if (apic_mode_is_x2apic(m))
			ok(plan_is((uint32_t[]){ 0, 0xFE, 0xFF, 300, 7 }, 5) && plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 0,
			   "mode %d (cpu %u firmware %u opt-out %u): ids 0xFF and 300 start", m, i >> 2, (i >> 1) & 1, i & 1);
		else
			ok(plan_is((uint32_t[]){ 0, 0xFE, 7 }, 3) && plan.found == 5 &&
			   plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 2 && plan.nkept == 2 && plan.skip[0].apic_id == 0xFF &&
			   plan.skip[1].apic_id == 300 && plan.skip[0].why == SMP_SKIP_NEEDS_X2APIC,
			   "mode %d (cpu %u firmware %u opt-out %u): ids 0xFF and 300 found, skipped as needing x2APIC; "
			   "0xFE and the next CPU start", m, i >> 2, (i >> 1) & 1, i & 1);
	}
	/* No APIC in use (no calibrated clock): nothing starts, and ids above 0xFE are not said to need
	 * x2APIC, which is not what keeps them (or any other CPU) from starting. */
	smp_plan_make(&madt, 0, SMP_APIC_OFF, SMP_MAX_CPUS, &plan);
	ok(plan_is((uint32_t[]){ 0 }, 1) && plan.found == 5 && plan.skipped[SMP_SKIP_NO_APIC] == 4 &&
	   plan.skipped[SMP_SKIP_NEEDS_X2APIC] == 0, "no APIC in use: 4 CPUs found, none started, all for that reason");
	static char text[4096];
	capture_begin();
	smp_plan_report(&plan, SMP_MAX_CPUS);
	capture_end(text, sizeof(text));
	bool one_line = strstr(text, "smp: 4 MADT entries not started: no local APIC in use") && !strstr(text, "x2APIC") &&
			!strstr(text, "APIC id ");
	if (!one_line)
		printf("# the report:\n%s", text);
	ok(one_line, "no APIC in use: one line counts the CPUs not started, none is named");
	ok(strstr(smp_skip_reason(SMP_SKIP_NEEDS_X2APIC), "DMAR") != NULL,
	   "the skip reason names the DMAR's opt-out as a cause: \"%s\"", smp_skip_reason(SMP_SKIP_NEEDS_X2APIC));
}

/* ---------------------------------------------------------------- the APIC's error status */

/* The SDM's names of ESR bits 0..7 (vol. 3A, "Error Handling"), written out independently. */
static const char *const esr_sdm[8] = {
	"send checksum error", "receive checksum error", "send accept error", "receive accept error",
	"redirectable IPI", "send illegal vector", "receive illegal vector", "illegal register address",
};

/* The model of apic_esr_text: the set defined bits' names in order, ", " between, then the reserved
 * bits as "reserved bits 0x%x"; "none" for 0. */
static void esr_model(uint32_t esr, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	if (!esr) {
		snprintf(out, size, "none");
		return;
	}
	for (unsigned b = 0; b < 8; b++)
		if (esr >> b & 1)
			n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", esr_sdm[b]);
	if (esr & ~0xFFu)
		snprintf(out + n, size - n, "%sreserved bits 0x%x", n ? ", " : "", esr & ~0xFFu);
}

/* True when apic_esr_text of esr, into a buffer of every size from 0 to the whole text's + 1, gives
 * the model's text cut to the size (NUL-terminated, a prefix) and returns the whole length; the
 * bytes past the NUL untouched. */
static bool esr_text_matches(uint32_t esr)
{
	char want[APIC_ESR_TEXT_SIZE], got[APIC_ESR_TEXT_SIZE + 8];

	esr_model(esr, want, sizeof(want));
	size_t len = strlen(want);
	if (len + 1 > APIC_ESR_TEXT_SIZE)
		return false;
	for (size_t size = 0; size <= len + 1; size++) {
		memset(got, 'X', sizeof(got));
		if (apic_esr_text(esr, got, size) != len)
			return false;
		if (size == 0) {
			if (got[0] != 'X')
				return false;
			continue;
		}
		size_t kept = len < size - 1 ? len : size - 1;
		if (memcmp(got, want, kept) || got[kept] != '\0' || got[size] != 'X')
			return false;
	}
	return true;
}

static void test_esr(void)
{
	unsigned good = 0;

	for (unsigned b = 0; b < 32; b++) {
		char got[APIC_ESR_TEXT_SIZE], want[64];
		const char *name = apic_esr_bit_name(b);
		if (b < 8)
			snprintf(want, sizeof(want), "%s", esr_sdm[b]);
		else
			snprintf(want, sizeof(want), "reserved bits 0x%x", 1u << b);
		apic_esr_text(1u << b, got, sizeof(got));
		bool right = !strcmp(got, want) && (b < 8 ? name && !strcmp(name, esr_sdm[b]) : !name);
		if (!right)
			printf("# bit %u: \"%s\", want \"%s\"\n", b, got, want);
		good += right;
	}
	is(good, 32, "each ESR bit alone: bits 0-7 by the SDM's name, 8-31 as reserved");
	ok(apic_esr_bit_name(32) == NULL && apic_esr_bit_name(~0u) == NULL, "no name past bit 31");
	char text[APIC_ESR_TEXT_SIZE];
	is(apic_esr_text(0, text, sizeof(text)), 4, "0 is \"none\"");
	ok(!strcmp(text, "none"), "0 reads \"%s\"", text);
	apic_esr_text(APIC_ESR_SEND_ILLEGAL_VEC | APIC_ESR_SEND_ACCEPT, text, sizeof(text));
	ok(!strcmp(text, "send accept error, send illegal vector"), "two bits, lowest first: \"%s\"", text);
	apic_esr_text(APIC_ESR_ILLEGAL_REGISTER | 0x300u, text, sizeof(text));
	ok(!strcmp(text, "illegal register address, reserved bits 0x300"), "a defined and reserved bits: \"%s\"", text);
	size_t whole = apic_esr_text(~0u, text, sizeof(text));
	ok(whole < APIC_ESR_TEXT_SIZE && strlen(text) == whole && strstr(text, "reserved bits 0xffffff00"),
	   "every bit set fits APIC_ESR_TEXT_SIZE: %zu bytes, \"%s\"", whole, text);
	ok(APIC_ESR_SEND_CHECKSUM == 1u && APIC_ESR_RECEIVE_CHECKSUM == 2u && APIC_ESR_SEND_ACCEPT == 4u &&
	   APIC_ESR_RECEIVE_ACCEPT == 8u && APIC_ESR_REDIRECTABLE_IPI == 0x10u && APIC_ESR_SEND_ILLEGAL_VEC == 0x20u &&
	   APIC_ESR_RECV_ILLEGAL_VEC == 0x40u && APIC_ESR_ILLEGAL_REGISTER == 0x80u && APIC_ESR_DEFINED == 0xFFu,
	   "the bit masks at the SDM's positions");

	unsigned all = 0;
	for (uint32_t v = 0; v < 256; v++)
		all += esr_text_matches(v);
	is(all, 256, "all 256 values of the defined bits, at every buffer size: the model's text, cut as a prefix");
	unsigned gen = 0, n = 20000;
	for (unsigned i = 0; i < n; i++) {
		uint64_t r = rnd();
		/* Mostly a few bits, sometimes reserved ones, sometimes all: */
		uint32_t v = (r & 3) == 0 ? (uint32_t)(r >> 32) : (r & 3) == 1 ? (uint32_t)(r >> 32) & 0xFFu
			   : (uint32_t)(r >> 32) & (uint32_t)(r >> 8) & 0xFFFu;
		gen += esr_text_matches(v);
	}
	is(gen, n, "%u generated ESR values, at every buffer size: the model's text", n);
}

/* ---------------------------------------------------------------- the INIT delay (smp_plan.h) */

/* A CPUID leaf 1 signature from its fields: stepping 3:0, model 7:4, family 11:8, extended model
 * 19:16, extended family 27:20 (reserved bits 13:12 type, 31:28 left 0 unless set by the caller). */
static uint32_t sig_of(unsigned base_family, unsigned ext_family, unsigned base_model, unsigned ext_model,
		       unsigned stepping)
{
	return (ext_family << 20) | (ext_model << 16) | (base_family << 8) | (base_model << 4) | stepping;
}

/*
 * The model of the INIT delay rule, written from Linux's smp_set_init_udelay (2025) apart from the
 * kernel's function: the displayed family and model from the fields as the SDM's CPUID page adds
 * them, and the rule as the (vendor, lowest family, lowest model in it) triples that wait 0, a CPU
 * at or above its vendor's triple (family first, then model) waiting 0, every other one 10 ms.
 */
static const struct { const char *vendor; unsigned family, model; } init_delay_zero_from[] = {
	{ "GenuineIntel", 6, 1 },       /* INTEL_PENTIUM_PRO = family 6 model 1: x86_vfm >= it */
	{ "AuthenticAMD", 0xF, 0 },     /* x86 >= 0xF */
	{ "HygonGenuine", 0x18, 0 },    /* x86 >= 0x18 */
};

static uint32_t model_init_delay(const char *vendor, unsigned base_family, unsigned ext_family, unsigned base_model,
				 unsigned ext_model)
{
	unsigned family = base_family == 15 ? 15 + ext_family : base_family;
	unsigned model = family >= 6 ? ext_model * 16 + base_model : base_model;

	for (size_t i = 0; i < sizeof(init_delay_zero_from) / sizeof(init_delay_zero_from[0]); i++) {
		if (strcmp(vendor, init_delay_zero_from[i].vendor) != 0)
			continue;
		if (family > init_delay_zero_from[i].family ||
		    (family == init_delay_zero_from[i].family && model >= init_delay_zero_from[i].model))
			return 0;
	}
	return 10000;
}

/* Named CPUs (signatures as the vendors' manuals and QEMU give them), then every vendor of a list
 * with every family, extended family, model and extended model, against the model above. */
static void test_init_delay(void)
{
	static const struct { const char *vendor; uint32_t sig; uint32_t want; const char *what; } named[] = {
		{ "GenuineIntel", 0x00000480, 10000, "Intel 486DX4 (family 4): the MP specification's 10 ms" },
		{ "GenuineIntel", 0x0000052C, 10000, "Intel Pentium P54C (family 5): 10 ms" },
		{ "GenuineIntel", 0x00000600, 10000, "Intel family 6 model 0 (below INTEL_PENTIUM_PRO): 10 ms" },
		{ "GenuineIntel", 0x00000611, 0, "Intel Pentium Pro (family 6 model 1): 0" },
		{ "GenuineIntel", 0x000506E3, 0, "Intel Skylake (family 6 model 0x5E): 0" },
		{ "GenuineIntel", 0x00000F29, 0, "Intel Pentium 4 (family 15, added by Linux in 2025): 0" },
		{ "GenuineIntel", 0x00300F00, 0, "Intel family 18 (0xF + 3): 0" },
		{ "GenuineIntel", 0x00400F00, 0, "Intel family 19 (0xF + 4): 0" },
		{ "GenuineIntel", 0x00000000, 10000, "Intel without CPUID leaf 1 (signature 0, family 0): 10 ms" },
		{ "AuthenticAMD", 0x0000058C, 10000, "AMD K6 (family 5): 10 ms" },
		{ "AuthenticAMD", 0x00000642, 10000, "AMD Athlon K7 (family 6: Linux starts AMD's list at 0xF): 10 ms" },
		{ "AuthenticAMD", 0x00000F48, 0, "AMD K8 (family 0xF): 0" },
		{ "AuthenticAMD", 0x00060FB1, 0, "QEMU's qemu64 (AMD family 0xF model 0x6B): 0" },
		{ "AuthenticAMD", 0x00800F12, 0, "AMD Zen (family 0x17): 0" },
		{ "AuthenticAMD", 0x00A20F10, 0, "AMD Zen 3 (family 0x19): 0" },
		{ "AuthenticAMD", 0x0FF00F00, 0, "AMD extended family 0xFF (family 0x10E, no such CPU): 0, compared whole" },
		{ "HygonGenuine", 0x00900F01, 0, "Hygon Dhyana (family 0x18): 0" },
		{ "HygonGenuine", 0x00800F12, 10000, "Hygon family 0x17 (below Linux's 0x18): 10 ms" },
		{ "CentaurHauls", 0x000006F2, 10000, "VIA Nano (Centaur, family 6): 10 ms, a vendor Linux does not list" },
		{ "  Shanghai  ", 0x000107B5, 10000, "Zhaoxin (family 7): 10 ms" },
		{ "CyrixInstead", 0x00000520, 10000, "Cyrix 6x86 (family 5): 10 ms" },
		{ "GenuineIntelX", 0x000506E3, 10000, "a vendor string longer than Intel's: another vendor, 10 ms" },
		{ "genuineintel", 0x000506E3, 10000, "Intel's name in lower case: another vendor, 10 ms" },
		{ "GenuineInte", 0x000506E3, 10000, "Intel's name cut short: another vendor, 10 ms" },
		{ "", 0x000506E3, 10000, "an empty vendor string: 10 ms" },
	};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		is(smp_plan_init_delay_us(named[i].vendor, named[i].sig), named[i].want, "%s (%s, signature 0x%08X)",
		   named[i].what, named[i].vendor, named[i].sig);
	is(smp_plan_cpu_family(0x00A20F10), 0x19, "family: 0xF + extended 0xA = 0x19");
	is(smp_plan_cpu_model(0x00A20F10), 0x21, "model of family 0x19: extended 2, base 1 = 0x21");
	is(smp_plan_cpu_family(0x0FF00F00), 0x10E, "family: 0xF + extended 0xFF = 0x10E (not cut to a byte)");
	is(smp_plan_cpu_family(0x0FF00500), 5, "family 5: the extended family is not added");
	is(smp_plan_cpu_model(0x000A0520), 2, "model of family 5: the extended model is not added");
	is(smp_plan_cpu_model(0x000506E3), 0x5E, "model of family 6: extended 5, base 0xE = 0x5E");
	is(smp_plan_cpu_model(0x00060FB1), 0x6B, "model of family 0xF: extended 6, base 0xB = 0x6B (qemu64's 107)");

	static const char *const vendors[] = {
		"GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  ", "CyrixInstead",
		"GenuineTMx86", "Geode by NSC", "AMDisbetter!", "GenuineIotel", "",
	};
	enum { NV = sizeof(vendors) / sizeof(vendors[0]) };
	unsigned long long checked = 0, bad = 0, zero[NV] = { 0 }, legacy[NV] = { 0 };
	/* The extended family counts only under base family 0xF: every value there, elsewhere 0, 0xFF and
	 * two drawn at random (which must change nothing). */
	for (unsigned v = 0; v < NV; v++)
		for (unsigned bf = 0; bf < 16; bf++)
			for (unsigned efi = 0; efi < (bf == 15 ? 256u : 4u); efi++)
				for (unsigned bm = 0, ef = bf == 15 ? efi : efi == 0 ? 0 : efi == 1 ? 0xFF :
					       (unsigned)rnd() & 0xFF; bm < 16; bm++)
					for (unsigned em = 0; em < 16; em++) {
						/* stepping and the reserved and type bits vary, and change nothing */
						uint32_t sig = sig_of(bf, ef, bm, em, (unsigned)rnd() & 0xF) |
							       ((uint32_t)rnd() & 0xF0003000u);
						uint32_t got = smp_plan_init_delay_us(vendors[v], sig);
						uint32_t want = model_init_delay(vendors[v], bf, ef, bm, em);
						checked++;
						if (got == 0)
							zero[v]++;
						else
							legacy[v]++;
						if (got != want && bad++ < 5)
							printf("#   %s signature 0x%08X: %u us, the model says %u\n", vendors[v], sig,
							       got, want);
					}
	ok(bad == 0, "%llu vendor, family, extended family, model, extended model combinations: the delay is the "
	   "model's (%llu differ)", checked, bad);
	is(checked, (unsigned long long)NV * (15 * 4 + 256) * 16 * 16, "every combination was checked");
	ok(zero[0] && legacy[0] && zero[1] && legacy[1] && zero[2] && legacy[2],
	   "Intel, AMD and Hygon each have CPUs on both sides of the rule");
	bool others_legacy = true;
	for (unsigned v = 3; v < NV; v++)
		others_legacy = others_legacy && zero[v] == 0;
	ok(others_legacy, "every other vendor string waits 10 ms on every signature");
	/* Signatures with base family 0xF are the 16*256*16 extended ones of each vendor; for AMD all wait 0,
	 * and no family below 0xF does. */
	is(zero[1], 256ull * 16 * 16, "AMD: exactly the base-family-0xF signatures (every extended family) wait 0");
}

int main(void)
{
	test_issue_cases();
	test_apic_mode();
	test_generated();
	test_report_accounts_every_skip();
	test_icr();
	test_esr();
	test_init_delay();
	return tap_done();
}
