/*
 * smp_plan_: which CPUs to start, decided from the ACPI MADT before any is touched. A pure
 * function (no hardware, no allocation), with its report in the log (kprintf only), also built for
 * the host, where tests/host/test_smp_plan.c checks both on generated MADTs.
 *
 * Rules: index 0 is the boot CPU, whether or not the MADT lists it. Then, in table order, each
 * processor entry that is enabled (ACPI flags bit 0) and names an APIC id not seen before is a CPU
 * found; an entry online-capable but not enabled (ACPI 6.3 bit 1, from MADT revision 5: acpi.c) is a slot a CPU may be added to
 * while the system runs, not present at boot (ACPI 6.3 5.2.12.2; Linux and Windows start none at
 * boot), skipped as such and not found; an entry naming its type's broadcast id (0xFF in a local
 * APIC entry, 0xFFFFFFFF in a local x2APIC one) is no CPU, skipped as such. A CPU found is started unless its id needs x2APIC mode
 * (above 0xFE) while the APICs run in xAPIC mode, the kernel already has SMP_MAX_CPUS CPUs, or
 * maxcpus CPUs (the boot CPU counted) are planned already; each of those is recorded with its
 * reason. When no local APIC is in use (SMP_APIC_OFF: no calibrated clock, or its set-up failed),
 * no CPU can be started, and every CPU found but the boot CPU is skipped for that reason alone. A second entry for an id already seen (an xAPIC and an x2APIC entry of one CPU) is a
 * duplicate, neither found again nor started. A local x2APIC entry with an id below 0xFF, in a
 * MADT with a local APIC entry enabled or online-capable and not 0xFF, is ignored as Linux ignores
 * it (ACPI lists CPUs with such ids in local APIC entries: firmware that lists them in both, or
 * lists enabled x2APIC placeholders beside its local APIC entries, exists): enabled, it is skipped
 * as such, neither found nor started, and hides no later entry of its id.
 */
#ifndef SMP_PLAN_H
#define SMP_PLAN_H

#include "types.h"
#include "acpi.h"
#include "percpu.h"

enum smp_skip {
	SMP_SKIP_DISABLED,        /* neither enabled nor online-capable: not a CPU found */
	SMP_SKIP_DUPLICATE,       /* an APIC id listed before (or the boot CPU's again) */
	SMP_SKIP_NEEDS_X2APIC,    /* id above 0xFE while the APICs run in xAPIC mode (apic_mode.h) */
	SMP_SKIP_LIMIT,           /* the kernel already has SMP_MAX_CPUS CPUs */
	SMP_SKIP_MAXCPUS,         /* maxcpus= CPUs planned already */
	SMP_SKIP_BROADCAST,       /* the broadcast id of its entry type: 0xFF (type 0), 0xFFFFFFFF (type 9) */
	SMP_SKIP_HOTPLUG,         /* online-capable, not enabled: a hot-plug slot, not present at boot */
	SMP_SKIP_NO_APIC,         /* a CPU found, but no local APIC is in use to start it (SMP_APIC_OFF) */
	SMP_SKIP_X2APIC_LOW,      /* type 9, id below 0xFF, in a MADT listing CPUs in type 0 entries: ignored */
	SMP_SKIP_COUNT
};

#define SMP_PLAN_SKIPS_KEPT 16   /* skipped entries remembered for the report; all are counted */

struct smp_plan {
	size_t n;                            /* CPUs to run; apic_id[0] is the boot CPU */
	uint32_t apic_id[SMP_MAX_CPUS];
	size_t found;                        /* distinct CPUs that can run, the boot CPU included */
	bool boot_listed;                    /* the MADT lists the boot CPU as enabled */
	size_t unread;                       /* processor entries past what the MADT reader keeps */
	size_t skipped[SMP_SKIP_COUNT];      /* entries skipped, per reason */
	size_t nkept;                        /* skip[] entries filled */
	struct { uint32_t apic_id; uint8_t why; } skip[SMP_PLAN_SKIPS_KEPT]; /* the first skips, in order */
};

/* How the boot CPU's local APIC runs, which decides what the plan can start. */
enum smp_apic_use {
	SMP_APIC_XAPIC,    /* xAPIC mode: ids up to 0xFE */
	SMP_APIC_X2APIC,   /* x2APIC mode: any id */
	SMP_APIC_OFF,      /* not in use (no calibrated clock, or its set-up failed): no CPU starts */
};

/* Plans the CPUs of madt for a boot CPU with APIC id boot_id, its local APIC used as use says, and
 * at most maxcpus CPUs (1 to SMP_MAX_CPUS; other values are clamped into that range). */
void smp_plan_make(const struct acpi_madt_info *madt, uint32_t boot_id, enum smp_apic_use use, unsigned maxcpus,
		   struct smp_plan *out);
/* Logs (kprintf) the plan's skipped CPUs and what it noticed; maxcpus as the plan was made with. */
void smp_plan_report(const struct smp_plan *p, unsigned maxcpus);
/* A few words for a skip reason. */
const char *smp_skip_reason(unsigned why);

/*
 * The INIT delay: how long the boot CPU waits after INIT before the first start-up IPI, decided
 * once from the boot CPU's CPUID by Linux's rule (smp_set_init_udelay, arch/x86/kernel/smpboot.c,
 * as of 2025: Sohil Mehta's "x86/smpboot" series, lore 20250219184133.816753-10 and -11 @intel.com).
 * The MP specification 1.4 (1997) asks for 10 ms (SMP_INIT_DELAY_LEGACY_US) between INIT and the
 * start-up IPIs, for the 82489DX-era and 486/Pentium parts it was written for; Linux's comment
 * there: that slows boot and resume on modern processors with many cores, which do not need it.
 * Linux waits 0 on the CPUs below and keeps the 10 ms for every other one:
 *   - GenuineIntel, family 6 model 1 (Pentium Pro) and later: family 6, family 15 (Pentium 4:
 *     added in 2025, its omission called an oversight) and the extended families 18 and 19 (before
 *     2025 Linux tested family == 6 only);
 *   - AuthenticAMD, family 0xF (K8) and later (0x10 to 0x1A: every 64-bit AMD CPU);
 *   - HygonGenuine, family 0x18 and later (Dhyana, AMD's Zen under licence).
 * Every other vendor (Centaur, Zhaoxin, VIA, Transmeta, a CPU without leaf 1: family 0) gets the
 * 10 ms: Linux does not list them. The hypervisor bit (CPUID.1:ECX[31]) is not consulted, as Linux
 * does not: a VMM that traps INIT and start-up IPIs may need the delay (Android Celadon's Trusty
 * eVMM lost start-up IPIs sent right after INIT and boots Linux with cpu_init_udelay=10000), so a
 * guest is judged by the CPU its CPUID names, as on bare metal. No floor is kept: Linux waits 0
 * and relies on the start-up IPIs that follow (two, each followed by a wait; here the second only
 * when the first was not answered within SMP_SIPI_DELAY_US, smp.h), which an AP still finishing
 * INIT does not miss for good. vendor: CPUID leaf 0's 12 characters, NUL-terminated (any other
 * string is another vendor); signature: CPUID leaf 1's EAX (0 without leaf 1).
 * Family and model are the displayed ones (smp_plan_cpu_family, smp_plan_cpu_model). One
 * difference from Linux, on no CPU that exists: Linux keeps the family in a byte, so an extended
 * family above 0xF0 (displayed family 0x100 and up) wraps there; here it compares whole.
 */
#define SMP_INIT_DELAY_LEGACY_US 10000   /* the MP specification's INIT delay, for every other CPU */
#define SMP_CPU_VENDOR_INTEL "GenuineIntel"
#define SMP_CPU_VENDOR_AMD   "AuthenticAMD"
#define SMP_CPU_VENDOR_HYGON "HygonGenuine"
/* The INIT delay in microseconds for a boot CPU of vendor and signature (the rule above): 0 or
 * SMP_INIT_DELAY_LEGACY_US. */
uint32_t smp_plan_init_delay_us(const char *vendor, uint32_t signature);
/* The displayed family of a CPUID leaf 1 signature: bits 11:8, plus bits 27:20 when bits 11:8 are
 * 0xF (SDM Vol. 2A, CPUID; AMD APM Vol. 3, Fn0000_0001_EAX): 0 to 0x10E. */
unsigned smp_plan_cpu_family(uint32_t signature);
/* The displayed model: bits 7:4, plus bits 19:16 shifted left by 4 when the displayed family is 6
 * or more (Linux's x86_model; Intel extends family 6 and 0xF, AMD family 0xF and up: the same for
 * every CPU that exists). */
unsigned smp_plan_cpu_model(uint32_t signature);

#endif
