/*
 * Host tests of arch/x86_64/ code that touches the CPU, built by including
 * the kernel's source with its instructions replaced by a fake CPU (x86.h's inline functions are
 * renamed below, so the source's calls reach the fakes; its include of x86.h is then a no-op).
 *
 *  - apic_init_boot (arch/x86_64/apic.c) took the local APIC's physical page from IA32_APIC_BASE
 *    masked to CPUID's raw MAXPHYADDR before a fix. The kernel's physical width is arch_phys_addr_bits()
 *    (arch_mm.c: "CPUID's MAXPHYADDR ..., kept in 32..52"), since CPUID leaf 0x80000008 is firmware
 *    or hypervisor input (0 from a leaf that exists but is zero-filled, anything up to 255). Every
 *    width 0..255 CPUID can report: the page mapped must be IA32_APIC_BASE's under the width the
 *    kernel uses, and no width is undefined behaviour (a shift by 64 or more; each width runs in a
 *    child process, so UBSan's abort there is that width's failure, not the harness's).
 *  - cpu_detect (arch/x86_64/cpu.c) on generated CPUID tables: features only from leaves the CPU
 *    reports, MAXPHYADDR 36 without leaf 0x80000008, the brand printable (passes).
 *  - cpu_detect on Intel CPUs whose firmware set XD Bit Disable (IA32_MISC_ENABLE bit 34, which
 *    the fake CPU makes hide CPUID's NX as the hardware does): the bit cleared, every other one
 *    kept, NX and EFER.NXE back; a locked bit leaves NX off and says so; the MSR never read or
 *    written on another vendor (a #GP there) or without CPUID leaf 1 (counted accesses).
 *  - cpu_detect on CPUs whose firmware set Limit CPUID Maxval (IA32_MISC_ENABLE bit 22, which the
 *    fake makes cap CPUID 0's highest leaf at 2): on Intel the bit is cleared before leaf 7 is
 *    read, so SMEP, SMAP, INVPCID and tsc.c's leaves 0x15 and 0x16 are the CPU's own (before the
 *    fix they were lost); other vendors' MSR untouched.
 *  - cpu_detect's physical address width on 20000 generated CPUs (tests/host/physwidth_cases.h):
 *    on an AMD or Hygon CPU with SME whose firmware set SYSCFG bit 23 (MemEncryptionModEn), CPUID
 *    0x8000001F EBX[11:6] bits fewer than CPUID 0x80000008 reports; on an Intel CPU with TME whose
 *    firmware locked IA32_TME_ACTIVATE enabled, its KeyID bits fewer; each MSR read exactly once
 *    where it exists and never elsewhere (a #GP); the log line naming the reduction. Before the
 *    fix the kernel took CPUID's width whole, so frames and MMIO at addresses whose top bits the
 *    CPU treats as memory encryption's could be accepted. Under a hypervisor (CPUID 1 ECX bit 31)
 *    SYSCFG is never read; in an AMD SEV guest (SEV_STATUS bit 0, read only where CPUID 0x8000001F
 *    EAX bit 1 says it exists) EBX[11:6] bits fewer and never above the C-bit, the kind (SEV,
 *    SEV-ES, SEV-SNP) recorded and logged (encrypt= on the first cpu: line); physwidth_cases.h's
 *    pwc_broken invariants on every CPU (failed before SEV guests were handled).
 *  - cpu_detect and cpu_init_control_state on 5000 generated CPUs whose firmware left CET on
 *    (CR4.CET, which entry.asm clears and records, and IA32_S_CET with shadow stacks or IBT): on the
 *    boot CPU and on an AP, IA32_S_CET written 0 before CR4 where CPUID (7,0) ECX[7] or EDX[20]
 *    says it exists, never touched elsewhere (a #GP), CR4.CET never set; the log names what the
 *    firmware left. Before the fix IA32_S_CET kept the firmware's value.
 *  - cpu_init_control_state on CPUs whose firmware (or its debug agent) left hardware breakpoints
 *    enabled in DR7: DR7 back at its reset value 0x400 on the boot CPU and an AP, and the log names
 *    it. Before the fix DR7 kept them, so an access to a breakpoint's address was a #DB, which
 *    the kernel reports as a fatal trap.
 *  - The PIT and PM-timer calibration (arch/x86_64/tsc.c) against a simulated TSC, PIT and PM
 *    timer: generated TSC frequencies are measured within 1%; a dead PIT falls back to the PM
 *    timer; garbage timers (stuck, all-ones, random) give 0, never a division by zero. A dead
 *    timer's wait ends by the TSC, once past the interval at TSC_HZ_MAX (a PIT gated off cost
 *    CALIB_POLL_MAX port reads before, 10-40 s on hardware), by the read count when the TSC stands
 *    still; a live PIT is measured to within one poll at frequencies up to TSC_HZ_MAX.
 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tap.h"
#include "test_rng.h"
#include "x86.h"
#include "vmlayout.h"
#include "capture.h"
#include "physwidth_cases.h"

/* ---------------------------------------------------------------- the fake CPU */

static uint64_t r3_msr_apic_base;        /* IA32_APIC_BASE as the firmware left it */
static uint32_t r3_cpuid1_edx;
static uint64_t r3_tsc;                  /* the simulated TSC */
static uint32_t r3_lapic_page[1024] __attribute__((aligned(4096)));

/* IA32_MISC_ENABLE: on an Intel CPU (intel) its XD Bit Disable hides CPUID's NX and its Limit
 * CPUID Maxval caps CPUID 0's highest leaf at 2, as the hardware does; locked keeps that bit as it is whatever is written (firmware that locks it); reads and
 * writes are counted (on another vendor the MSR does not exist: any access would be a #GP). */
static struct {
	bool intel, locked;
	uint64_t value;
	unsigned reads, writes;
} r3_misc;

/* The memory-encryption MSRs of physwidth_cases.h's generated CPU (AMD's SYSCFG and SEV_STATUS,
 * Intel's IA32_TME_ACTIVATE) while on: their reads logged (physwidth_cases.h's pwc_msr_log). */
static struct pwc_cpu r3_pwc;
static struct {
	bool on;
	struct pwc_msr_log log;
} r3_pwc_msr;

/* CET: whether the generated CPU has IA32_S_CET (CPUID (7,0) ECX[7] or EDX[20]), its value, accesses
 * where it has not (a #GP), and the order of the kernel's writes: the step at which S_CET was last
 * written and CR4 last written, of a counter of control-state writes. The control registers. */
static struct {
	bool exists;
	uint64_t s_cet;
	unsigned bad, step, s_cet_step, cr4_step;
} r3_cet;
static uint64_t r3_cr0, r3_cr3, r3_cr4;
uint64_t boot_firmware_cr4;   /* entry.asm's, for cpu_detect */

static uint64_t r3_read_cr0(void) { return r3_cr0; }
static void r3_write_cr0(uint64_t v) { r3_cr0 = v; }
static uint64_t r3_read_cr3(void) { return r3_cr3; }
static void r3_write_cr3(uint64_t v) { r3_cr3 = v; }
static uint64_t r3_read_cr4(void) { return r3_cr4; }
/* CR4.CET set on a CPU without CET is a #GP: counted. */
static void r3_write_cr4(uint64_t v)
{
	r3_cet.bad += (v & CR4_CET) && !r3_cet.exists;
	r3_cet.cr4_step = ++r3_cet.step;
	r3_cr4 = v;
}
static void r3_wbinvd(void) {}
static uint64_t r3_dr7 = DR7_RESET;
static uint64_t r3_read_dr7(void) { return r3_dr7; }
static void r3_write_dr7(uint64_t v) { r3_dr7 = v; }

static uint64_t r3_rdmsr(uint32_t msr)
{
	if (msr == MSR_S_CET) {
		r3_cet.bad += !r3_cet.exists;
		return r3_cet.exists ? r3_cet.s_cet : 0;
	}
	if (r3_pwc_msr.on && pwc_is_encrypt_msr(msr))
		return pwc_rdmsr(&r3_pwc, msr, &r3_pwc_msr.log);
	if (msr == MSR_MISC_ENABLE) {
		r3_misc.reads++;
		return r3_misc.value;
	}
	return msr == MSR_APIC_BASE ? r3_msr_apic_base : 0;
}
static void r3_wrmsr(uint32_t msr, uint64_t v)
{
	if (msr == MSR_S_CET) {
		r3_cet.bad += !r3_cet.exists;
		r3_cet.s_cet = v;
		r3_cet.s_cet_step = ++r3_cet.step;
	}
	if (msr == MSR_APIC_BASE)
		r3_msr_apic_base = v;
	if (msr == MSR_MISC_ENABLE) {
		r3_misc.writes++;
		r3_misc.value = r3_misc.locked ? (v & ~MISC_ENABLE_XD_DISABLE) | (r3_misc.value & MISC_ENABLE_XD_DISABLE) : v;
	}
}
/* CPUID: a test's table when it sets one (leaf -> EAX..EDX), else leaf 1's EDX alone; leaf
 * 0x80000001's NX (EDX bit 20) hidden while an Intel CPU's XD Bit Disable is set, leaf 0's highest
 * leaf at most 2 while its Limit CPUID Maxval is. */
static void (*r3_cpuid_table)(uint32_t leaf, uint32_t r[4]);
static void r3_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	(void)sub;
	r[0] = r[1] = r[2] = 0;
	r[3] = leaf == 1 ? r3_cpuid1_edx : 0;
	if (r3_cpuid_table)
		r3_cpuid_table(leaf, r);
	if (leaf == 0x80000001u && r3_misc.intel && (r3_misc.value & MISC_ENABLE_XD_DISABLE))
		r[3] &= ~(1u << 20);
	if (leaf == 0 && r3_misc.intel && (r3_misc.value & MISC_ENABLE_LIMIT_CPUID) && r[0] > 2)
		r[0] = 2;
}

/* The timers: a PIT channel 2 whose OUT2 rises pit_ticks PIT periods after its count is loaded,
 * and a PM timer counting at 3.579545 MHz, both against the TSC at tsc_hz; each port read costs
 * read_cost TSC ticks. Modes for garbage. */
enum r3_timer { R3_OK, R3_DEAD_LOW, R3_DEAD_HIGH, R3_STUCK, R3_ONES, R3_RANDOM };
static struct {
	uint64_t tsc_hz, read_cost;
	bool frozen;                   /* the TSC stands still (and port reads cost nothing) */
	uint64_t inb_reads, inl_reads; /* port reads made, for the tests of the bounds */
	enum r3_timer pit, pm;
	uint64_t pit_start;            /* TSC when the count was loaded */
	uint32_t pit_count;
	unsigned pit_bytes;
	uint64_t rng;
	uint64_t stall;                /* TSC ticks the CPU is taken away for right after the read that
					  first sees OUT2 high (an SMI; the host's scheduler), once per count */
	bool stalled;                  /* this count's stall happened (reset when a count is loaded) */
	unsigned pm_stall_odds;        /* when not 0: 1 PM timer read in this many is followed by pm_stall */
	uint64_t pm_stall;             /*   TSC ticks the CPU is held up between the read and the next */
	uint64_t stall_rng;
} sim;

/* Ticks of a clock at hz elapsed over TSC ticks dt (128-bit: dt * hz can pass 2^64). */
static uint64_t r3_ticks(uint64_t dt, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)dt * hz / sim.tsc_hz);
}

static uint64_t r3_rdtsc(void) { return sim.frozen ? r3_tsc : (r3_tsc += 1 + sim.read_cost / 4); }

static void r3_outb(uint16_t port, uint8_t v)
{
	if (port == 0x43) {
		sim.pit_bytes = 0;
		sim.pit_count = 0;
	} else if (port == 0x42) {
		sim.pit_count |= (uint32_t)v << (8 * sim.pit_bytes);
		if (++sim.pit_bytes == 2) {
			sim.pit_start = r3_tsc;
			sim.stalled = false;
		}
	}
}

static uint8_t r3_inb(uint16_t port)
{
	r3_tsc += sim.read_cost;
	sim.inb_reads++;
	if (port != 0x61)
		return 0xFF;
	switch (sim.pit) {
	case R3_DEAD_LOW: return 0x00;
	case R3_DEAD_HIGH: case R3_ONES: return 0xFF;
	case R3_RANDOM: return (uint8_t)test_rng_next(&sim.rng);
	default: break;
	}
	if (sim.pit_bytes < 2)
		return 0;
	bool high = r3_ticks(r3_tsc - sim.pit_start, 1193182) > sim.pit_count;
	if (high && sim.stall && !sim.stalled) {
		r3_tsc += sim.stall;
		sim.stalled = true;
	}
	return high ? 0x20 : 0x00;
}

static uint32_t r3_inl(uint16_t port)
{
	(void)port;
	r3_tsc += sim.read_cost;
	sim.inl_reads++;
	switch (sim.pm) {
	case R3_STUCK: return 0x123456;
	case R3_ONES: return 0xFFFFFFFFu;
	case R3_RANDOM: return (uint32_t)test_rng_next(&sim.rng);
	default: {
		uint32_t v = (uint32_t)(r3_ticks(r3_tsc, 3579545) + 0xFFF000);   /* starts near a 24-bit wrap */
		if (sim.pm_stall_odds && test_rng_next(&sim.stall_rng) % sim.pm_stall_odds == 0)
			r3_tsc += sim.pm_stall;
		return v;
	}
	}
}

#define rdmsr r3_rdmsr
#define wrmsr r3_wrmsr
#define cpuid r3_cpuid
#define outb r3_outb
#define inb r3_inb
#define inl r3_inl
#define rdtsc r3_rdtsc
#define read_cr0 r3_read_cr0
#define write_cr0 r3_write_cr0
#define read_cr3 r3_read_cr3
#define write_cr3 r3_write_cr3
#define read_cr4 r3_read_cr4
#define write_cr4 r3_write_cr4
#define wbinvd r3_wbinvd
#define read_dr7 r3_read_dr7
#define write_dr7 r3_write_dr7
#undef LAPIC_VA
#define LAPIC_VA ((uint64_t)(uintptr_t)r3_lapic_page)

#include "../../arch/x86_64/cpu.c"
#include "../../arch/x86_64/tsc.c"
#include "../../arch/x86_64/apic.c"

/* ---------------------------------------------------------------- apic_init_boot's page */

static paddr_t r3_mapped_pa;
static int r3_maps;
static bool r3_ops_mapped(vaddr_t va) { (void)va; return false; }
static int r3_ops_map(vaddr_t va, paddr_t pa, uint64_t size, enum smp_cache cache)
{
	(void)va; (void)size; (void)cache;
	r3_mapped_pa = pa;
	r3_maps++;
	return 0;
}
static const struct smp_ops r3_ops = { .mapped = r3_ops_mapped, .map = r3_ops_map };

/* The kernel's physical width for a CPUID report (arch_mm.c's arch_phys_addr_bits: 32..52). */
static unsigned r3_kernel_bits(unsigned cpuid_bits)
{
	return cpuid_bits < 32 ? 32 : cpuid_bits > 52 ? 52 : cpuid_bits;
}

/* A CPUID width and an IA32_APIC_BASE for r3_apic_case. */
struct r3_apic_run {
	unsigned bits;
	uint64_t base;
};

/* In a child: apic_init_boot with CPUID reporting bits and IA32_APIC_BASE base; 0 when it mapped
 * the APIC page base names under the kernel's width, 1 when another page, 2 when none. */
static int r3_apic_case(void *arg)
{
	const struct r3_apic_run *run = arg;
	unsigned bits = run->bits;
	uint64_t base = run->base;
	uint64_t want = base & ~(uint64_t)PAGE_MASK & (((uint64_t)1 << r3_kernel_bits(bits)) - 1);

	cpu_feat.max_phys_bits = bits;
	cpu_feat.x2apic = false;
	r3_cpuid1_edx = CPUID1_EDX_APIC;
	r3_msr_apic_base = base;
	r3_maps = 0;
	if (apic_init_boot(&r3_ops, false) != 0 || r3_maps != 1)
		return 2;
	if (r3_mapped_pa != want) {
		fprintf(stderr, "# CPUID MAXPHYADDR %u, IA32_APIC_BASE 0x%llx: mapped 0x%llx, want 0x%llx\n", bits,
			(unsigned long long)base, (unsigned long long)r3_mapped_pa, (unsigned long long)want);
		return 1;
	}
	return 0;
}

/* Each CPUID width 0..255 with the usual base and a seeded random one below 2^32. */
static void test_apic_page_any_cpuid_width(void)
{
	uint64_t rng = 0xA9C0FFEE12345ULL;
	unsigned bad = 0, first_bad = 0;

	for (unsigned bits = 0; bits < 256; bits++) {
		uint64_t base = bits & 1 ? 0xFEE00900ull : (test_rng_next(&rng) & 0xFFFFF000ull) | 0x900;
		bool shown = bits == 0 || bits == 31 || bits == 64 || bits == 255;   /* the rest only counted */
		struct r3_apic_run run = { bits, base };
		struct tap_child ch = { .quiet_err = !shown };
		int status = tap_child(&ch, r3_apic_case, &run);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (!bad++)
				first_bad = bits;
			if (shown)
				printf("#   CPUID MAXPHYADDR %u: %s\n", bits,
			       !WIFEXITED(status) ? "the child died (UBSan: a shift by the width)" :
			       WEXITSTATUS(status) == 1 ? "the APIC page mapped is not IA32_APIC_BASE's" : "no page mapped");
		}
	}
	ok(bad == 0, "test_apic_page_any_cpuid_width: apic_init_boot maps IA32_APIC_BASE's page under the kernel's "
	   "physical width (32..52) for every CPUID MAXPHYADDR 0..255 (%u widths wrong, the first %u)", bad, first_bad);
}

/* ---------------------------------------------------------------- cpu_detect */

/* A generated CPU: its highest basic and extended leaves and every leaf's registers, random. */
static struct {
	uint32_t max_basic, max_ext;
	uint32_t basic[8][4], ext[9][4];
} gen;

static void r3_gen_cpuid(uint32_t leaf, uint32_t r[4])
{
	if (leaf == 0) {
		memcpy(r, gen.basic[0], 16);
		r[0] = gen.max_basic;
	} else if (leaf < 8) {
		memcpy(r, gen.basic[leaf], 16);   /* a leaf past the highest answers too: garbage */
	} else if (leaf == 0x80000000u) {
		r[0] = gen.max_ext;
	} else if (leaf > 0x80000000u && leaf <= 0x80000008u) {
		memcpy(r, gen.ext[leaf - 0x80000000u], 16);
	}
}

/* The brand cpu_detect must show for the generated CPU (independent of cpu.c's loop). */
static void r3_brand_model(char out[49])
{
	char raw[49] = { 0 };
	size_t i = 0, j = 0;

	memcpy(raw, gen.ext[2], 16);
	memcpy(raw + 16, gen.ext[3], 16);
	memcpy(raw + 32, gen.ext[4], 16);
	while (raw[i] == ' ')
		i++;
	for (; i < 48 && raw[i]; i++)
		out[j++] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
	out[j] = 0;
}

/* 5000 generated CPUs: a feature counts only from a leaf at or below the highest one reported (an
 * extended leaf only when leaf 0x80000000 says 0x8000xxxx), MAXPHYADDR is 36 without leaf
 * 0x80000008 (and the raw byte with it, 0 included: what apic_init_boot masks with), the brand is
 * printable, without leading blanks and terminated. */
static void test_cpu_detect_generated(void)
{
	uint64_t rng = 0xC0DE5EEDULL;
	unsigned bad = 0;

	r3_cpuid_table = r3_gen_cpuid;
	for (unsigned k = 0; k < 5000; k++) {
		uint32_t *w = &gen.basic[0][0];
		for (size_t i = 0; i < sizeof(gen.basic) / 4 + sizeof(gen.ext) / 4; i++)
			w[i] = (uint32_t)test_rng_next(&rng);
		if (k % 3 == 0)   /* printable brands, some with leading blanks and short */
			for (int l = 2; l <= 4; l++)
				for (int b = 0; b < 16; b++)
					((char *)gen.ext[l])[b] = (l - 2) * 16 + b < (int)(k % 11) ? ' ' :
						(l - 2) * 16 + b > 40 + (int)(k % 9) ? 0 : (char)('A' + b);
		gen.max_basic = (uint32_t)(test_rng_next(&rng) % 9);
		switch (test_rng_next(&rng) % 4) {
		case 0: gen.max_ext = (uint32_t)test_rng_next(&rng) % 0x20; break;   /* no extended leaves */
		case 1: gen.max_ext = 0x80000000u + (uint32_t)(test_rng_next(&rng) % 9); break;
		case 2: gen.max_ext = 0x80000008u + (uint32_t)(test_rng_next(&rng) % 0x40); break;
		default: gen.max_ext = (uint32_t)test_rng_next(&rng); break;
		}
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		cpu_detect();

		bool ext = (gen.max_ext & 0xFFFF0000u) == 0x80000000u;
		uint32_t me = ext ? gen.max_ext : 0;
		char brand[49];
		if (me >= 0x80000004u)
			r3_brand_model(brand);
		else
			brand[0] = 0;
		bool l1 = gen.max_basic >= 1, l7 = gen.max_basic >= 7;
		unsigned phys = me >= 0x80000008u ? (gen.ext[8][0] & 0xFF) : 36;
		bool good = cpu_feat.pat == (l1 && (gen.basic[1][3] & (1u << 16))) &&
			    cpu_feat.pge == (l1 && (gen.basic[1][3] & (1u << 13))) &&
			    cpu_feat.x2apic == (l1 && (gen.basic[1][2] & (1u << 21))) &&
			    cpu_feat.apic_id == (l1 ? gen.basic[1][1] >> 24 : 0) &&
			    cpu_feat.smep == (l7 && (gen.basic[7][1] & (1u << 7))) &&
			    cpu_feat.invpcid == (l7 && (gen.basic[7][1] & (1u << 10))) &&
			    cpu_feat.nx == (me >= 0x80000001u && (gen.ext[1][3] & (1u << 20))) &&
			    cpu_feat.page1g == (me >= 0x80000001u && (gen.ext[1][3] & (1u << 26))) &&
			    cpu_feat.max_phys_bits == phys && strcmp(cpu_feat.brand, brand) == 0 &&
			    memcmp(cpu_feat.vendor, &gen.basic[0][1], 4) == 0 && cpu_feat.vendor[12] == 0;
		if (!good && bad++ < 3)
			printf("#   CPU %u: max leaf %u, max extended 0x%x: features, width %u or brand \"%s\" wrong\n", k,
			       gen.max_basic, gen.max_ext, cpu_feat.max_phys_bits, cpu_feat.brand);
	}
	r3_cpuid_table = NULL;
	ok(bad == 0, "cpu_detect on 5000 generated CPUs reads each feature only from a leaf the CPU reports, "
	   "MAXPHYADDR 36 without leaf 0x80000008, a printable brand (%u wrong)", bad);
}

/* ---------------------------------------------------------------- the physical width */

static void r3_pwc_cpuid(uint32_t leaf, uint32_t r[4]) { pwc_cpuid(&r3_pwc, leaf, r); }

/* cpu_detect on 20000 generated CPUs against the rule of physwidth_cases.h: the usable width
 * (max_phys_bits), CPUID's own and memory encryption's bits, whose (SME, TME or an SEV kind) and an
 * SEV guest's C-bit, arch_phys_addr_bits's bounds, each MSR read once where the rule reads it; and
 * pwc_broken's invariants (no SYSCFG under a hypervisor, no SEV_STATUS without CPUID's SEV bit, no
 * absent MSR, 32..52, an SEV guest's width below its C-bit). */
static void test_cpu_detect_memory_encryption_width(void)
{
	uint64_t rng = 0x5E3C0FF1CEULL;
	unsigned bad = 0, reduced = 0, intel_reduced = 0, unread = 0, sev = 0, sev_cbit_bound = 0, hyp_sme = 0;

	r3_cpuid_table = r3_pwc_cpuid;
	for (unsigned k = 0; k < 20000; k++) {
		pwc_generate(&r3_pwc, &rng);
		memset(&r3_misc, 0, sizeof(r3_misc));
		r3_pwc_msr.on = true;
		memset(&r3_pwc_msr.log, 0, sizeof(r3_pwc_msr.log));
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		cpu_detect();
		const char *broken = pwc_broken(&r3_pwc, &r3_pwc_msr.log, cpu_feat.max_phys_bits,
						physwidth_usable(cpu_feat.max_phys_bits));
		bool good = cpu_feat.max_phys_bits == pwc_bits(&r3_pwc) && cpu_feat.cpu_phys_bits == pwc_cpu_bits(&r3_pwc) &&
			    cpu_feat.encrypt_phys_bits == pwc_encrypt_bits(&r3_pwc) &&
			    cpu_feat.phys_encrypt == pwc_kind(&r3_pwc) &&
			    cpu_feat.phys_cbit == (pwc_sev_active(&r3_pwc) ? pwc_cbit(&r3_pwc) : 0) &&
			    physwidth_usable(cpu_feat.max_phys_bits) == pwc_usable(&r3_pwc) && !broken &&
			    r3_pwc_msr.log.reads == pwc_msr_reads(&r3_pwc);
		reduced += pwc_encrypt_bits(&r3_pwc) != 0;
		intel_reduced += pwc_encrypt_bits(&r3_pwc) != 0 && pwc_tme_exists(&r3_pwc);
		unread += !pwc_msr_reads(&r3_pwc);
		sev += pwc_sev_active(&r3_pwc);
		sev_cbit_bound += pwc_sev_active(&r3_pwc) && pwc_cbit(&r3_pwc) < pwc_cpu_bits(&r3_pwc) -
			((r3_pwc.enc_ebx >> 6) & 0x3f);
		hyp_sme += pwc_amd_leaf_1f(&r3_pwc) && (r3_pwc.enc_eax & 1) && pwc_hypervisor(&r3_pwc) &&
			   !pwc_sev_active(&r3_pwc);
		if (!good && bad++ < 3)
			printf("#   CPU %u: %s, max basic %u, CPUID 1 ECX 0x%x, max extended 0x%x, 0x80000008 width %u, "
			       "0x8000001F EAX 0x%x EBX 0x%x, SYSCFG 0x%llx, SEV_STATUS 0x%llx, (7,0) ECX 0x%x, "
			       "IA32_TME_ACTIVATE 0x%llx: width %u (CPUID %u, encryption %u, %s, C-bit %u; want %u, %u, %u, "
			       "%s), MSRs read %u times (want %u); %s\n", k, r3_pwc.vendor, r3_pwc.max_basic, r3_pwc.leaf1_ecx,
			       r3_pwc.max_ext, r3_pwc.addr_eax & 0xff, r3_pwc.enc_eax, r3_pwc.enc_ebx,
			       (unsigned long long)r3_pwc.syscfg, (unsigned long long)r3_pwc.sev_status, r3_pwc.leaf7_ecx,
			       (unsigned long long)r3_pwc.tme_activate, cpu_feat.max_phys_bits, cpu_feat.cpu_phys_bits,
			       cpu_feat.encrypt_phys_bits, physwidth_encrypt_name(cpu_feat.phys_encrypt), cpu_feat.phys_cbit,
			       pwc_bits(&r3_pwc), pwc_cpu_bits(&r3_pwc), pwc_encrypt_bits(&r3_pwc),
			       physwidth_encrypt_name(pwc_kind(&r3_pwc)), r3_pwc_msr.log.reads, pwc_msr_reads(&r3_pwc),
			       broken ? broken : "no invariant broken");
	}
	r3_cpuid_table = NULL;
	r3_pwc_msr.on = false;
	ok(bad == 0 && reduced > 2000 && intel_reduced > 1000 && unread > 1000 && sev > 500 && sev_cbit_bound > 100 &&
	   hyp_sme > 300,
	   "cpu_detect on 20000 generated CPUs: the physical width is CPUID 0x80000008's less CPUID 0x8000001F "
	   "EBX[11:6] on an AMD or Hygon CPU with SME whose SYSCFG bit 23 is set (never read under a hypervisor), in an "
	   "SEV guest (SEV_STATUS bit 0, read only with CPUID's SEV bit) that much less and at most the C-bit, less "
	   "IA32_TME_ACTIVATE's KeyID bits on an Intel CPU with TME whose firmware locked it enabled; each MSR read only "
	   "where CPUID says it exists; in 32..52 (%u wrong; %u reduced, %u of them Intel, %u SEV guests, %u bounded by "
	   "the C-bit, %u with SME under a hypervisor, %u without any MSR)", bad, reduced, intel_reduced, sev,
	   sev_cbit_bound, hyp_sme, unread);
}

/* Detects the fake CPU as it now stands, from a cleared cpu_feat, and captures what the boot log
 * then says of it into out (size bytes). */
static void detect_and_log(char *out, size_t size)
{
	memset(&cpu_feat, 0, sizeof(cpu_feat));
	cpu_detect();
	capture_begin();
	cpu_print_features();
	capture_end(out, size);
}

/* The boot log names a reduction, with both widths, and says nothing of encryption without one; the
 * first cpu: line ends with the width and whose encryption took bits (encrypt=SME, SEV-ES, none). */
static void test_cpu_memory_encryption_logged(void)
{
	char out[2048];
	const char *line = "cpu: physical address width 48 bits, 43 with memory encryption on (SYSCFG bit 23";

	memset(&r3_pwc, 0, sizeof(r3_pwc));
	memcpy(r3_pwc.vendor, "AuthenticAMD", 12);
	r3_pwc.max_basic = 0xd;
	r3_pwc.max_ext = 0x80000028u;
	r3_pwc.addr_eax = 0x3030;          /* 48 bits */
	r3_pwc.enc_eax = 0x1;              /* SME */
	r3_pwc.enc_ebx = 5u << 6 | 47;     /* 5 bits taken, the C-bit at 47 */
	r3_pwc.syscfg = 1ULL << 23;
	r3_cpuid_table = r3_pwc_cpuid;
	memset(&r3_misc, 0, sizeof(r3_misc));
	r3_pwc_msr.on = true;
	detect_and_log(out, sizeof(out));
	bool said = strstr(out, line) != NULL && strstr(out, " physbits=43 encrypt=SME\n") != NULL;
	r3_pwc.syscfg = 0;   /* firmware left memory encryption off */
	detect_and_log(out, sizeof(out));
	bool quiet = strstr(out, "memory encryption") == NULL && cpu_feat.max_phys_bits == 48 &&
		     strstr(out, " physbits=48 encrypt=none\n") != NULL;
	/* SYSCFG bit 23 set under a hypervisor: not read, no reduction */
	r3_pwc.syscfg = 1ULL << 23;
	r3_pwc.leaf1_ecx = 1u << 31;
	memset(&r3_pwc_msr.log, 0, sizeof(r3_pwc_msr.log));
	detect_and_log(out, sizeof(out));
	bool guest_quiet = strstr(out, "memory encryption") == NULL && strstr(out, " physbits=48 encrypt=none\n") &&
			   r3_pwc_msr.log.reads == 0;
	/* an SEV-ES guest: 1 bit of reduction, the C-bit at 43 */
	const char *sev_line = "cpu: physical address width 48 bits, 43 with memory encryption on (SEV_STATUS: an AMD "
			       "SEV-ES guest, C-bit 43: the top 5 are not address bits)";
	r3_pwc.enc_eax = 0x2 | 0x8;        /* SEV, SEV-ES */
	r3_pwc.enc_ebx = 1u << 6 | 43;
	r3_pwc.sev_status = 0x3;
	detect_and_log(out, sizeof(out));
	bool sev_said = strstr(out, sev_line) != NULL && strstr(out, " physbits=43 encrypt=SEV-ES\n") != NULL;
	r3_pwc.leaf1_ecx = 0;
	r3_pwc.sev_status = 0;
	const char *intel_line = "cpu: physical address width 46 bits, 40 with memory encryption on (IA32_TME_ACTIVATE's "
				 "KeyID bits: the top 6 are not address bits)";
	memcpy(r3_pwc.vendor, "GenuineIntel", 12);
	r3_pwc.addr_eax = 0x302e;                      /* 46 bits */
	r3_pwc.leaf7_ecx = 1u << 13;                   /* TME */
	r3_pwc.tme_activate = 3 | 6ULL << 32;          /* locked, enabled, 6 KeyID bits */
	detect_and_log(out, sizeof(out));
	bool intel_said = strstr(out, intel_line) != NULL;
	r3_cpuid_table = NULL;
	r3_pwc_msr.on = false;
	ok(said && quiet && guest_quiet && sev_said && intel_said, "the boot log says \"%s ...)\" and physbits=43 "
	   "encrypt=SME when memory encryption takes 5 of 48 bits, nothing of it and encrypt=none when SYSCFG bit 23 is "
	   "clear or the CPU runs under a hypervisor, \"%s\" and encrypt=SEV-ES in an SEV-ES guest, and \"%s\" for "
	   "Intel's TME with 6 KeyID bits (%s, %s, %s, %s, %s)", line, sev_line, intel_line, said ? "said" : "not said",
	   quiet ? "quiet" : "not quiet", guest_quiet ? "quiet" : "not quiet", sev_said ? "said" : "not said",
	   intel_said ? "said" : "not said");
}

/* ---------------------------------------------------------------- CET */

/* 5000 generated CPUs, CET left on by the firmware (or not): IA32_S_CET 0 on the boot CPU and an AP
 * after cpu_init_control_state, written before CR4, where it exists; untouched elsewhere; no CR4.CET. */
static void test_cpu_cet_off_generated(void)
{
	uint64_t rng = 0xCE7C0FFEEULL;
	unsigned bad = 0, had_cet = 0, left_on = 0;

	r3_cpuid_table = r3_gen_cpuid;
	for (unsigned k = 0; k < 5000; k++) {
		uint32_t *w = &gen.basic[0][0];
		for (size_t i = 0; i < sizeof(gen.basic) / 4 + sizeof(gen.ext) / 4; i++)
			w[i] = (uint32_t)test_rng_next(&rng);
		gen.max_basic = test_rng_next(&rng) % 4 ? 7 + (uint32_t)(test_rng_next(&rng) % 2) : (uint32_t)(test_rng_next(&rng) % 7);
		gen.max_ext = 0x80000008u;
		if (test_rng_next(&rng) % 2) {   /* CET_SS, CET_IBT, both or neither */
			unsigned f = (unsigned)(test_rng_next(&rng) % 4);
			gen.basic[7][2] = (gen.basic[7][2] & ~(1u << 7)) | (f & 1u) << 7;
			gen.basic[7][3] = (gen.basic[7][3] & ~(1u << 20)) | (f >> 1) << 20;
		}
		memset(&r3_misc, 0, sizeof(r3_misc));
		memset(&r3_cet, 0, sizeof(r3_cet));
		r3_cet.exists = gen.max_basic >= 7 && ((gen.basic[7][2] & (1u << 7)) || (gen.basic[7][3] & (1u << 20)));
		uint64_t fw_s_cet = r3_cet.exists ? test_rng_next(&rng) & (test_rng_next(&rng) % 2 ? 0x5 : ~0xFULL) : 0;
		bool fw_cr4_cet = r3_cet.exists && test_rng_next(&rng) % 2;
		r3_cet.s_cet = fw_s_cet;
		boot_firmware_cr4 = (test_rng_next(&rng) & 0x3FFFFFULL & ~CR4_CET) | (fw_cr4_cet ? CR4_CET : 0);
		r3_cr4 = boot_firmware_cr4 & ~CR4_CET;   /* what entry.asm left */
		r3_cr0 = CR0_PG | CR0_WP | CR0_PE;
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		cpu_mtrrs_recorded = false;
		cpu_detect();
		cpu_init_control_state();
		bool good_bsp = (!r3_cet.exists || (r3_cet.s_cet == 0 && r3_cet.s_cet_step && r3_cet.s_cet_step < r3_cet.cr4_step)) &&
				cpu_feat.cet == r3_cet.exists && cpu_feat.cet_firmware == fw_s_cet &&
				!(r3_cr4 & CR4_CET) && (cpu_cet_text() != NULL) == (fw_s_cet || fw_cr4_cet);
		r3_cet.s_cet = r3_cet.exists ? test_rng_next(&rng) | 1 : 0;   /* an AP's, after INIT-SIPI */
		r3_cr4 = CR4_PAE;                                             /* the trampoline's */
		r3_cet.s_cet_step = 0;
		cpu_init_control_state();
		bool good_ap = (!r3_cet.exists || (r3_cet.s_cet == 0 && r3_cet.s_cet_step && r3_cet.s_cet_step < r3_cet.cr4_step)) &&
			       cpu_feat.cet_firmware == fw_s_cet && !(r3_cr4 & CR4_CET);
		had_cet += r3_cet.exists;
		left_on += fw_s_cet != 0 || fw_cr4_cet;
		if ((!good_bsp || !good_ap || r3_cet.bad) && bad++ < 3)
			printf("#   CPU %u: max leaf %u, CET %s, firmware IA32_S_CET 0x%llx CR4.CET %d: IA32_S_CET now 0x%llx "
			       "(written at step %u, CR4 at %u), CR4 0x%llx, %u accesses without the MSR, boot CPU %s, AP %s\n",
			       k, gen.max_basic, r3_cet.exists ? "present" : "absent", (unsigned long long)fw_s_cet, fw_cr4_cet,
			       (unsigned long long)r3_cet.s_cet, r3_cet.s_cet_step, r3_cet.cr4_step, (unsigned long long)r3_cr4,
			       r3_cet.bad, good_bsp ? "right" : "wrong", good_ap ? "right" : "wrong");
	}
	r3_cpuid_table = NULL;
	memset(&r3_cet, 0, sizeof(r3_cet));
	boot_firmware_cr4 = 0;
	ok(bad == 0 && had_cet > 1000 && left_on > 500,
	   "cpu_init_control_state on 5000 generated CPUs: IA32_S_CET written 0 before CR4 on the boot CPU and an AP where "
	   "CPUID (7,0) ECX[7] or EDX[20] says it exists, untouched elsewhere, CR4.CET never on, the firmware's CET "
	   "named (%u wrong; %u with CET, %u left on)", bad, had_cet, left_on);
}

/* 2000 generated DR7 values left by a firmware on the boot CPU and an AP: DR7 is 0x400 after
 * cpu_init_control_state on each, and the log names breakpoints the boot CPU's enabled. */
static void test_cpu_dr7_breakpoints_off(void)
{
	uint64_t rng = 0xD7D7D7ULL;
	unsigned bad = 0, enabled = 0;
	char out[2048];

	for (unsigned k = 0; k < 2000; k++) {
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		memset(&r3_cet, 0, sizeof(r3_cet));
		cpu_mtrrs_recorded = false;
		uint64_t fw = DR7_RESET | (test_rng_next(&rng) & 0xFFFF23FFULL & (k % 2 ? ~DR7_ENABLES : ~0ULL));
		enabled += (fw & DR7_ENABLES) != 0;
		r3_dr7 = fw;
		cpu_init_control_state();
		bool bsp = r3_dr7 == DR7_RESET;
		capture_begin();
		cpu_print_features();
		capture_end(out, sizeof(out));
		bool said = strstr(out, "hardware breakpoints enabled in DR7") != NULL;
		r3_dr7 = DR7_RESET | (test_rng_next(&rng) & 0xFF);   /* an AP's */
		cpu_init_control_state();
		bool ap = r3_dr7 == DR7_RESET;
		if ((!bsp || !ap || said != ((fw & DR7_ENABLES) != 0)) && bad++ < 3)
			printf("#   firmware DR7 0x%llx: the boot CPU's DR7 %s, an AP's %s, the log %s\n",
			       (unsigned long long)fw, bsp ? "reset" : "kept", ap ? "reset" : "kept", said ? "names it" : "silent");
	}
	ok(bad == 0 && enabled > 900, "DR7 left by the firmware (%u of 2000 with breakpoints enabled) back at 0x400 on the "
	   "boot CPU and an AP, named in the log (%u wrong)", enabled, bad);
}

/* ---------------------------------------------------------------- tsc_calibrate */

/* Resets the simulation: TSC at hz, a port read costing cost ticks, the timers as given. */
static void r3_sim(uint64_t hz, uint64_t cost, enum r3_timer pit, enum r3_timer pm)
{
	sim.tsc_hz = hz;
	sim.read_cost = cost;
	sim.pit = pit;
	sim.pm = pm;
	sim.pit_bytes = 0;
	sim.frozen = false;
	sim.inb_reads = sim.inl_reads = 0;
	sim.rng = 0x5EED ^ hz;
	sim.stall = 0;
	sim.pm_stall_odds = 0;
	sim.pm_stall = 0;
	sim.stall_rng = 0x57A11 ^ hz;
	r3_tsc = 1000;
}

/* True when got is within 1% of want. */
static bool r3_near(uint64_t got, uint64_t want)
{
	return got >= want - want / 100 && got <= want + want / 100;
}

/* Generated frequencies 60 MHz..19 GHz, read costs 50 ns..2 us of TSC: PIT, then PM timer with the
 * PIT dead (24- and 32-bit), each measured within 1% and named. */
static void test_tsc_calibrate_generated(void)
{
	uint64_t rng = 0x7153C0DEULL;
	unsigned bad_pit = 0, bad_pm = 0, n = 200;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hz = 60000000ull + test_rng_next(&rng) % 18940000000ull;
		uint64_t cost = hz / 20000000 + test_rng_next(&rng) % (hz / 500000 + 1);
		r3_sim(hz, cost, R3_OK, R3_OK);
		uint64_t got = tsc_calibrate(0x408, false);
		if (!r3_near(got, hz) || strcmp(tsc_source(), "PIT") != 0) {
			if (!bad_pit++)
				printf("#   PIT: TSC at %llu Hz measured %llu (%s)\n", (unsigned long long)hz,
				       (unsigned long long)got, tsc_source());
		}
		r3_sim(hz, cost, i & 1 ? R3_DEAD_HIGH : R3_DEAD_LOW, R3_OK);
		got = tsc_calibrate(0x408, i & 2);
		if (!r3_near(got, hz) || strcmp(tsc_source(), "ACPI PM timer") != 0) {
			if (!bad_pm++)
				printf("#   PM: TSC at %llu Hz measured %llu (%s)\n", (unsigned long long)hz,
				       (unsigned long long)got, tsc_source());
		}
	}
	ok(bad_pit == 0, "tsc_calibrate measures %u generated TSC frequencies against the PIT within 1%% (%u wrong)", n,
	   bad_pit);
	ok(bad_pm == 0, "with the PIT dead, against the PM timer within 1%% (%u wrong)", bad_pm);
}

/* Garbage timers: every combination of a broken PIT and a broken (or absent) PM timer gives 0,
 * "none" and tsc_to_ms 0; none divides by zero (UBSan would abort). */
static void test_tsc_calibrate_garbage(void)
{
	static const enum r3_timer pits[] = { R3_DEAD_LOW, R3_DEAD_HIGH, R3_ONES };
	static const enum r3_timer pms[] = { R3_STUCK, R3_ONES };
	unsigned bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(pits); i++)
		for (size_t j = 0; j < ARRAY_SIZE(pms) + 1; j++) {
			r3_sim(3000000000ull, 300, pits[i], j < ARRAY_SIZE(pms) ? pms[j] : R3_OK);
			uint64_t got = tsc_calibrate(j < ARRAY_SIZE(pms) ? 0x408 : 0, j & 1);
			if (got != 0 || tsc_hz() != 0 || strcmp(tsc_source(), "none") != 0 || tsc_to_ms(123456789) != 0 ||
			    tsc_us_to_ticks(1000) != 0)
				bad++;
		}
	ok(bad == 0, "tsc_calibrate with dead PITs and stuck, all-ones or absent PM timers gives 0 and \"none\" (%u wrong)",
	   bad);
}

/* TSC ticks the calibration interval takes at TSC_HZ_MAX (20 GHz): the longest measurement a
 * plausible TSC can make, so the least a dead timer may be waited for. */
static uint64_t r3_interval_at_max(void)
{
	return TSC_HZ_MAX / 1000 * CALIB_MS;
}

/* TSC ticks one poll of a timer costs in the simulation (a port read and a TSC read), with room. */
static uint64_t r3_poll_ticks(void)
{
	return sim.read_cost + 2 * (1 + sim.read_cost / 4) + 2;
}

/* The PIT gated off (OUT2 never rises; several modern PCs) on generated TSC frequencies with port
 * reads of 0.5..2 us (as on hardware): each timer's wait gives up once the TSC has gone past the
 * interval at TSC_HZ_MAX, and not much later (at most half that interval again: 0.1-0.2 s at common
 * frequencies, where CALIB_POLL_MAX reads were 10-40 s), with the port reads that time allows;
 * the PM timer then calibrates within 1%, and a stuck PM timer after it costs one more bound. */
static void test_tsc_dead_timers_bounded_by_tsc(void)
{
	uint64_t rng = 0xDEAD717ULL, worst_s3 = 0;
	unsigned bad_pit = 0, bad_pm = 0, bad_stuck = 0, n = 120;
	uint64_t lo = r3_interval_at_max(), hi = lo + lo / 2;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hz = 60000000ull + test_rng_next(&rng) % 19840000000ull;
		uint64_t cost = hz / 2000000 + test_rng_next(&rng) % (hz / 666666);
		r3_sim(hz, cost, R3_DEAD_LOW, R3_OK);
		uint64_t t = r3_tsc, got = tsc_measure_pit(), spent = r3_tsc - t;
		if (got != 0 || spent < lo || spent > hi + r3_poll_ticks() || sim.inb_reads > spent / cost + 3) {
			if (!bad_pit++)
				printf("#   dead PIT, TSC at %llu Hz, reads of %llu ticks: %llu after %llu ticks and %llu reads "
				       "(want 0 after %llu..%llu ticks)\n", (unsigned long long)hz, (unsigned long long)cost,
				       (unsigned long long)got, (unsigned long long)spent,
				       (unsigned long long)sim.inb_reads, (unsigned long long)lo, (unsigned long long)hi);
		}
		if (hz >= 2000000000ull && hz <= 4000000000ull && spent * 1000 / hz > worst_s3)
			worst_s3 = spent * 1000 / hz;

		r3_sim(hz, cost, R3_DEAD_LOW, R3_OK);
		got = tsc_calibrate(0x408, i & 1);
		spent = r3_tsc - 1000;
		if (!r3_near(got, hz) || strcmp(tsc_source(), "ACPI PM timer") != 0 || spent > 2 * hi + 2 * r3_poll_ticks()) {
			if (!bad_pm++)
				printf("#   dead PIT then PM timer, TSC at %llu Hz: %llu (%s) after %llu ticks\n",
				       (unsigned long long)hz, (unsigned long long)got, tsc_source(), (unsigned long long)spent);
		}

		r3_sim(hz, cost, R3_DEAD_LOW, R3_STUCK);
		got = tsc_calibrate(0x408, i & 2);
		spent = r3_tsc - 1000;
		if (got != 0 || strcmp(tsc_source(), "none") != 0 || spent < 2 * lo || spent > 2 * hi + 2 * r3_poll_ticks() ||
		    sim.inl_reads > (spent - lo) / cost + 3) {
			if (!bad_stuck++)
				printf("#   dead PIT, stuck PM timer, TSC at %llu Hz: %llu (%s) after %llu ticks, %llu PM reads\n",
				       (unsigned long long)hz, (unsigned long long)got, tsc_source(), (unsigned long long)spent,
				       (unsigned long long)sim.inl_reads);
		}
	}
	ok(bad_pit == 0, "a dead PIT gives up after the interval at TSC_HZ_MAX plus at most half of it in TSC ticks, "
	   "with the reads that allows, on %u generated TSC frequencies and read costs (%u wrong; at most %llu ms "
	   "at 2-4 GHz)", n, bad_pit, (unsigned long long)worst_s3);
	ok(bad_pm == 0, "then the PM timer calibrates within 1%%, the whole within two such bounds (%u wrong)", bad_pm);
	ok(bad_stuck == 0, "a dead PIT and a stuck PM timer: 0 and \"none\" after two bounds of TSC ticks (%u wrong)",
	   bad_stuck);
}

/* A TSC that stands still (the time bound never comes): the read bound ends each wait, after
 * CALIB_POLL_MAX port reads, with 0. */
static void test_tsc_frozen_tsc_read_bound(void)
{
	r3_sim(3000000000ull, 0, R3_DEAD_LOW, R3_STUCK);
	sim.frozen = true;
	uint64_t pit = tsc_measure_pit(), pit_reads = sim.inb_reads;
	uint64_t pm = tsc_measure_pm(0x408, false), pm_reads = sim.inl_reads;
	ok(pit == 0 && pit_reads >= CALIB_POLL_MAX && pit_reads <= CALIB_POLL_MAX + 2,
	   "a frozen TSC and a dead PIT: 0 after %llu port reads (CALIB_POLL_MAX %u)", (unsigned long long)pit_reads,
	   CALIB_POLL_MAX);
	ok(pm == 0 && pm_reads >= CALIB_POLL_MAX && pm_reads <= CALIB_POLL_MAX + 1,
	   "a frozen TSC and a stuck PM timer: 0 after %llu port reads", (unsigned long long)pm_reads);
}

/* A live PIT on generated TSC frequencies up to just under TSC_HZ_MAX, port reads of 50 ns..2 us:
 * the time bound never cuts a measurement short, and the frequency is the simulated one within
 * what one poll of OUT2 and one PIT period can blur over the interval (under 0.01%). */
static void test_tsc_live_pit_exact(void)
{
	uint64_t rng = 0x11FE717ULL;
	unsigned bad = 0, n = 300;
	uint32_t count = PIT_HZ / 1000 * CALIB_MS;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hz = i % 4 == 0 ? TSC_HZ_MAX - TSC_HZ_MAX / 100 + test_rng_next(&rng) % (TSC_HZ_MAX / 200) :
			      60000000ull + test_rng_next(&rng) % 19840000000ull;
		uint64_t cost = hz / 20000000 + test_rng_next(&rng) % (hz / 500000 + 1);
		r3_sim(hz, cost, R3_OK, R3_OK);
		uint64_t got = tsc_calibrate(0x408, false);
		/* one poll, and one PIT period (mode 0 raises OUT2 a period after the count's last, as simulated) */
		uint64_t err = (2 * r3_poll_ticks() + 4) * PIT_HZ / count + hz / count + 2;
		if (got + err < hz || got > hz + err || strcmp(tsc_source(), "PIT") != 0 || sim.inl_reads == 0 ||
		    tsc_pit_rejected() != 0) {
			if (!bad++)
				printf("#   live PIT, TSC at %llu Hz, reads of %llu ticks: %llu (%s), want within %llu\n",
				       (unsigned long long)hz, (unsigned long long)cost, (unsigned long long)got, tsc_source(),
				       (unsigned long long)err);
		}
	}
	ok(bad == 0, "a live PIT calibrates %u generated TSC frequencies up to just under TSC_HZ_MAX to within one poll "
	   "and one PIT period, "
	   "the PM timer untouched (%u wrong)", n, bad);
}

/* ---------------------------------------------------------------- the frequency CPUID states */

/* A generated CPU's CPUID for the clock: vendor, highest basic leaf, leaves 0x15 and 0x16 as the
 * registers hold them (0x16's EAX with its reserved upper half); a leaf past the highest answers
 * with garbage, as an Intel CPU answers with its highest leaf's data, and is counted. */
static struct {
	uint32_t vendor[3];           /* EBX, EDX, ECX of leaf 0 */
	uint32_t max;
	uint32_t l15[3];              /* EAX (denominator), EBX (numerator), ECX (crystal Hz) */
	uint32_t l16_eax;
	unsigned past_max;            /* reads of a leaf above max */
	uint64_t rng;
} clk;

static const uint32_t r3_intel[3] = { 0x756e6547, 0x49656e69, 0x6c65746e };   /* "Genu" "ineI" "ntel" */
static const uint32_t r3_amd[3] = { 0x68747541, 0x69746e65, 0x444d4163 };     /* "Auth" "enti" "cAMD" */

static void r3_clock_cpuid(uint32_t leaf, uint32_t r[4])
{
	if (leaf == 0) {
		r[0] = clk.max;
		r[1] = clk.vendor[0];
		r[3] = clk.vendor[1];
		r[2] = clk.vendor[2];
		return;
	}
	if (leaf < 0x80000000u && leaf > clk.max) {
		clk.past_max++;
		for (int i = 0; i < 4; i++)
			r[i] = (uint32_t)test_rng_next(&clk.rng) | 1;
		return;
	}
	if (leaf == 0x15)
		memcpy(r, clk.l15, sizeof(clk.l15));
	else if (leaf == 0x16)
		r[0] = clk.l16_eax;
}

/* The model: the SDM's rules written out with 128-bit arithmetic. Leaf 0x15 counts when the
 * vendor is Intel, the leaf exists and EAX, EBX and ECX are all non-zero, its TSC = ECX * EBX /
 * EAX in 50 MHz..20 GHz; else leaf 0x16 when it exists, its EAX[15:0] MHz in that range; else 0. */
static uint64_t r3_clock_model(const char **src)
{
	*src = "none";
	if (memcmp(clk.vendor, r3_intel, sizeof(r3_intel)) != 0)
		return 0;
	if (clk.max >= 0x15 && clk.l15[0] && clk.l15[1] && clk.l15[2]) {
		unsigned __int128 hz = (unsigned __int128)clk.l15[2] * clk.l15[1] / clk.l15[0];
		if (hz >= 50000000u && hz <= 20000000000ull) {
			*src = "CPUID leaf 0x15";
			return (uint64_t)hz;
		}
	}
	unsigned __int128 mhz = clk.l16_eax & 0xFFFFu;
	if (clk.max >= 0x16 && mhz && mhz * 1000000u >= 50000000u && mhz * 1000000u <= 20000000000ull) {
		*src = "CPUID leaf 0x16";
		return (uint64_t)(mhz * 1000000u);
	}
	return 0;
}

/* One generated 32-bit register of a kind: 0, small, typical for its role, the top of the range, or random. */
static uint32_t r3_clock_reg(uint64_t *rng, uint32_t typical)
{
	switch (test_rng_next(rng) % 6) {
	case 0: return 0;
	case 1: return 1 + (uint32_t)(test_rng_next(rng) % 4);
	case 2: case 3: return typical;
	case 4: return 0xFFFFFFFFu - (uint32_t)(test_rng_next(rng) % 3);
	default: return (uint32_t)test_rng_next(rng);
	}
}

/* Generates a CPU: vendor Intel (mostly), AMD or garbage; highest leaf 0..0x20; leaf 0x15 from
 * crystals of 19.2, 24, 25 and 38.4 MHz and ratios for 0.5..6 GHz, each register sometimes 0, tiny,
 * near 2^32 (crystal x EBX past 2^32 and up to 2^64) or random; leaf 0x16 0, 400..7000 MHz, or
 * random with the reserved bits set. */
static unsigned r3_clock_edges;   /* generated CPUs given a frequency at a bound or one step past it */
static void r3_clock_gen(uint64_t *rng)
{
	static const uint32_t crystals[] = { 19200000, 24000000, 25000000, 38400000 };
	uint32_t v = (uint32_t)(test_rng_next(rng) % 10);
	memcpy(clk.vendor, v < 8 ? r3_intel : r3_amd, sizeof(clk.vendor));
	if (v == 9)
		clk.vendor[1] ^= 1u << (test_rng_next(rng) % 32);
	clk.max = (uint32_t)(test_rng_next(rng) % 4 ? 0x15 + test_rng_next(rng) % 12 : test_rng_next(rng) % 0x21);
	uint32_t crystal = crystals[test_rng_next(rng) % 4], den = 2 + 2 * (uint32_t)(test_rng_next(rng) % 3);
	uint32_t num = (uint32_t)((500000000ull + test_rng_next(rng) % 5500000000ull) * den / crystal);
	clk.l15[0] = r3_clock_reg(rng, den);
	clk.l15[1] = r3_clock_reg(rng, num);
	clk.l15[2] = r3_clock_reg(rng, crystal);
	clk.l16_eax = test_rng_next(rng) % 3 == 0 ? 0 : test_rng_next(rng) % 4 ? 400 + (uint32_t)(test_rng_next(rng) % 6600)
										: (uint32_t)test_rng_next(rng);
	/* now and then a frequency at a bound of 50 MHz..20 GHz or one step past it, from either leaf */
	switch (test_rng_next(rng) % 8) {
	case 0: {
		static const uint32_t nums[] = { 2, 800, 801 };   /* x 25 MHz: 50 MHz, 20 GHz, 20.025 GHz */
		clk.l15[0] = 1, clk.l15[2] = 25000000, clk.l15[1] = nums[test_rng_next(rng) % 3];
		if (test_rng_next(rng) % 2)   /* 49999998 Hz: just under 50 MHz */
			clk.l15[2] = 24999999, clk.l15[1] = 2;
		r3_clock_edges++;
		break;
	}
	case 1: {
		static const uint32_t mhz[] = { 49, 50, 20000, 20001 };
		clk.l16_eax = mhz[test_rng_next(rng) % 4] | (uint32_t)(test_rng_next(rng) % 2 ? test_rng_next(rng) << 16 : 0);
		if (test_rng_next(rng) % 2)
			clk.l15[1] = 0;   /* no ratio: leaf 0x16 decides */
		r3_clock_edges++;
		break;
	}
	default:
		break;
	}
	clk.past_max = 0;
}

/*
 * tsc_cpuid_hz on 50000 generated CPUs against the model: the frequency (exact), and no leaf read
 * above the highest one reported. Then tsc_calibrate on 60 of them with the PIT dead and no PM
 * timer: the model's frequency and source ("none" and 0 where it has none); and on 40 with a live
 * PIT (or a dead PIT and a live PM timer) while CPUID states another frequency: the measured one,
 * from the timer (measuring comes first).
 */
static void test_tsc_cpuid_generated(void)
{
	uint64_t rng = 0xC10C15ULL;
	unsigned bad = 0, bad_cal = 0, bad_first = 0, from15 = 0, from16 = 0, none = 0, n = 50000;
	const char *src;

	r3_cpuid_table = r3_clock_cpuid;
	for (unsigned i = 0; i < n; i++) {
		r3_clock_gen(&rng);
		uint64_t want = r3_clock_model(&src), got = tsc_cpuid_hz();
		from15 += !strcmp(src, "CPUID leaf 0x15");
		from16 += !strcmp(src, "CPUID leaf 0x16");
		none += !want;
		if ((got != want || clk.past_max) && bad++ < 3)
			printf("#   max leaf 0x%x, 0x15 = %u/%u x %u, 0x16 EAX 0x%x: %llu Hz, want %llu (%u reads past max)\n",
			       clk.max, clk.l15[1], clk.l15[0], clk.l15[2], clk.l16_eax, (unsigned long long)got,
			       (unsigned long long)want, clk.past_max);
	}
	for (unsigned i = 0; i < 60; i++) {
		r3_clock_gen(&rng);
		uint64_t want = r3_clock_model(&src);
		r3_sim(3000000000ull, 1000000, R3_DEAD_LOW, R3_OK);
		uint64_t got = tsc_calibrate(0, false);
		if ((got != want || tsc_hz() != want || strcmp(tsc_source(), src) || clk.past_max) && bad_cal++ < 3)
			printf("#   dead PIT, no PM timer, 0x15 = %u/%u x %u, 0x16 EAX 0x%x: %llu Hz from %s, want %llu from %s\n",
			       clk.l15[1], clk.l15[0], clk.l15[2], clk.l16_eax, (unsigned long long)got, tsc_source(),
			       (unsigned long long)want, src);
	}
	for (unsigned i = 0; i < 40; i++) {
		uint64_t hz = 1000000000ull + test_rng_next(&rng) % 4000000000ull;
		memcpy(clk.vendor, r3_intel, sizeof(clk.vendor));
		clk.max = 0x16;
		clk.l15[0] = 2;
		clk.l15[1] = (uint32_t)(hz / 1000000 * 2 / 24 * 2);   /* CPUID says twice the real frequency */
		clk.l15[2] = i % 2 ? 24000000 : 0;
		clk.l16_eax = (uint32_t)(2 * hz / 1000000);
		r3_sim(hz, hz / 1000000, i % 4 < 2 ? R3_OK : R3_DEAD_HIGH, R3_OK);
		uint64_t got = tsc_calibrate(0x408, false);
		const char *want_src = i % 4 < 2 ? "PIT" : "ACPI PM timer";
		if ((!r3_near(got, hz) || strcmp(tsc_source(), want_src)) && bad_first++ < 3)
			printf("#   TSC %llu Hz, CPUID states twice that: %llu Hz from %s, want the %s's\n",
			       (unsigned long long)hz, (unsigned long long)got, tsc_source(), want_src);
	}
	r3_cpuid_table = NULL;
	ok(bad == 0 && from15 > n / 10 && from16 > n / 10 && none > n / 10 && r3_clock_edges > n / 8,
	   "tsc_cpuid_hz on %u generated CPUs (vendor, highest leaf, leaf 0x15 and 0x16 registers zero, tiny, typical, "
	   "near 2^32 or random, %u at 50 MHz or 20 GHz or one step past) agrees with the SDM's rules in 128-bit "
	   "arithmetic, no leaf past the highest read (%u wrong; %u from 0x15, %u from 0x16, %u none)", n, r3_clock_edges,
	   bad, from15, from16, none);
	ok(bad_cal == 0, "tsc_calibrate with the PIT dead and no PM timer takes CPUID's frequency and names its leaf, "
	   "or gives 0 and \"none\" (60 CPUs, %u wrong)", bad_cal);
	ok(bad_first == 0, "a live PIT or PM timer is measured first, whatever CPUID states (40 CPUs, %u wrong)",
	   bad_first);
}

/* A CPU taken away right as it sees the PIT's edge (an SMI on a PC; the host's scheduler under an
 * emulator with fewer cores than CPUs) stretches the PIT's interval by as long: stalls of 0.5 to
 * 10 ms on generated frequencies and read costs. The PM timer, read with the TSC at both ends, is
 * not skewed by it; where the PIT's figure is more than 2 % off, the PM timer's is taken and the
 * PIT's kept as rejected, within 1 % of the truth; a stall too short to matter changes nothing. */
static void test_tsc_pit_overruled_by_reference(void)
{
	uint64_t rng = 0x5A11ULL;
	unsigned bad = 0, overruled = 0, n = 200;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hz = 60000000ull + test_rng_next(&rng) % 19840000000ull;
		uint64_t cost = hz / 20000000 + test_rng_next(&rng) % (hz / 500000 + 1);
		uint64_t stall = hz / 2000 + test_rng_next(&rng) % (hz / 100);
		r3_sim(hz, cost, R3_OK, R3_OK);
		sim.stall = i % 8 == 0 ? hz / 100000 : stall;   /* every eighth: 10 us, under the 2 % */
		uint64_t got = tsc_calibrate(0x408, i & 1), pit = tsc_pit_rejected();
		bool off = sim.stall > hz / 50 * CALIB_MS / 1000 + hz / 5000;   /* clearly past 2 % of 20 ms */
		bool good = r3_near(got, hz) &&
			    /* the PIT's figure is kept as rejected unless it was past TSC_HZ_MAX (no figure at all) */
			    (off ? strcmp(tsc_source(), "ACPI PM timer") == 0 && (pit > hz + hz / 50 || pit == 0)
				 : sim.stall < hz / 50 * CALIB_MS / 1000 ? strcmp(tsc_source(), "PIT") == 0 && pit == 0 : true);
		overruled += strcmp(tsc_source(), "ACPI PM timer") == 0;
		if (!good && bad++ < 3)
			printf("#   TSC at %llu Hz, a %llu-tick stall at the PIT's edge: %llu (%s), PIT's %llu rejected\n",
			       (unsigned long long)hz, (unsigned long long)sim.stall, (unsigned long long)got, tsc_source(),
			       (unsigned long long)pit);
	}
	ok(bad == 0 && overruled > n / 2, "%u calibrations with the CPU taken away 0.01-10 ms at the PIT's edge: "
	   "within 1%%, the PM timer's figure where the PIT's was more than 2%% off (%u times), the PIT's where "
	   "it was not (%u wrong)", n, overruled, bad);
}

/* The PM timer with the CPU held up 0.5-2 ms after one read in four (an SMI; an emulator's busy
 * host): a hold-up after the read that starts or ends a sample skews it by as long, one in the
 * middle does not. Each sample's slack (the TSC around those two reads) shows it, and the samples
 * are taken again, 5 at most, the steadiest kept: nearly every calibration is within 1 %, where one
 * sample alone is not (the test's own check that the hold-ups matter). */
static void test_tsc_pm_held_up_resampled(void)
{
	uint64_t rng = 0x9A11ULL;
	unsigned right = 0, single_right = 0, n = 300;

	for (unsigned i = 0; i < n; i++) {
		uint64_t hz = 60000000ull + test_rng_next(&rng) % 19840000000ull;
		uint64_t cost = hz / 20000000 + test_rng_next(&rng) % (hz / 1000000 + 1);
		uint64_t stall = hz / 2000 + test_rng_next(&rng) % (hz / 666);
		r3_sim(hz, cost, R3_DEAD_LOW, R3_OK);
		sim.pm_stall_odds = 4;
		sim.pm_stall = stall;
		struct tsc_sample one;
		tsc_sample_pm(0x408, i & 1, &one);
		single_right += r3_near(one.hz, hz);
		r3_sim(hz, cost, R3_DEAD_LOW, R3_OK);
		sim.pm_stall_odds = 4;
		sim.pm_stall = stall;
		right += r3_near(tsc_calibrate(0x408, i & 1), hz) && strcmp(tsc_source(), "ACPI PM timer") == 0;
	}
	ok(right >= n - n / 50 && single_right <= n - n / 5, "%u PM timer calibrations with the CPU held up 0.5-2 ms "
	   "after one read in four: %u within 1%% (at least 98%% wanted), where one sample alone was in %u",
	   n, right, single_right);
}

/* ---------------------------------------------------------------- XD Bit Disable */

/*
 * cpu_detect on 6000 generated CPUs: vendor Intel, AMD or another (Intel's string with one bit
 * flipped); highest basic leaf 0, 1 or more; leaf 0x80000001 absent (no extended leaves, or only
 * 0x80000000) or present, with NX or without; IA32_MISC_ENABLE random, XD Bit Disable set or clear,
 * locked or not. nx and EFER are what the CPU shows once the bit is cleared where it clears (the
 * fake hides NX while it is set, as the hardware does), cpu_feat.xd and the note say what
 * happened; the MSR is read or written only on an Intel CPU with leaf 1, written once and only to
 * clear that bit, every other bit kept.
 */
/* Fills gen's leaves with random words and the vendor string of CPU k's kind, which it returns:
 * 0 Intel, 1 AMD, 2 Intel's string with one bit flipped (k % 3). The caller sets the highest leaves. */
static unsigned gen_random_cpu(uint64_t *rng, unsigned k)
{
	uint32_t *w = &gen.basic[0][0];
	for (size_t i = 0; i < sizeof(gen.basic) / 4 + sizeof(gen.ext) / 4; i++)
		w[i] = (uint32_t)test_rng_next(rng);
	unsigned v = k % 3;
	const uint32_t *vendor = v == 1 ? r3_amd : r3_intel;
	gen.basic[0][1] = vendor[0];
	gen.basic[0][3] = vendor[1];
	gen.basic[0][2] = vendor[2];
	if (v == 2)
		gen.basic[0][1 + test_rng_next(rng) % 3] ^= 1u << (test_rng_next(rng) % 32);
	return v;
}

static void test_cpu_detect_xd_disable_generated(void)
{
	uint64_t rng = 0x8D15AB1EULL;
	unsigned bad = 0, bad_access = 0, bad_bits = 0, n = 6000, outcome[4] = { 0 }, restored = 0;

	r3_cpuid_table = r3_gen_cpuid;
	for (unsigned k = 0; k < n; k++) {
		unsigned v = gen_random_cpu(&rng, k);
		switch (test_rng_next(&rng) % 4) {
		case 0: gen.max_basic = 0; break;
		case 1: gen.max_basic = 1; break;
		default: gen.max_basic = 2 + (uint32_t)(test_rng_next(&rng) % 0x1F); break;
		}
		switch (test_rng_next(&rng) % 4) {
		case 0: gen.max_ext = (uint32_t)test_rng_next(&rng) % 0x20; break;   /* no extended leaves */
		case 1: gen.max_ext = 0x80000000u; break;                           /* no leaf 0x80000001 */
		default: gen.max_ext = 0x80000001u + (uint32_t)(test_rng_next(&rng) % 8); break;
		}
		bool has_nx = test_rng_next(&rng) & 1;
		gen.ext[1][3] = has_nx ? gen.ext[1][3] | (1u << 20) : gen.ext[1][3] & ~(1u << 20);
		uint64_t before = test_rng_next(&rng);
		before = test_rng_next(&rng) & 1 ? before | MISC_ENABLE_XD_DISABLE : before & ~MISC_ENABLE_XD_DISABLE;
		r3_misc.intel = v == 0;
		r3_misc.locked = test_rng_next(&rng) % 4 == 0;
		r3_misc.value = before;
		r3_misc.reads = r3_misc.writes = 0;
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		cpu_detect();

		bool touch = v == 0 && gen.max_basic >= 1, set = before & MISC_ENABLE_XD_DISABLE;
		bool cleared = touch && set && !r3_misc.locked, ext1 = gen.max_ext >= 0x80000001u;
		bool want_nx = ext1 && has_nx && !(v == 0 && set && !cleared);
		enum cpu_xd want_xd = !touch ? CPU_XD_NO_MSR : !set ? CPU_XD_CLEAR : cleared ? CPU_XD_REENABLED : CPU_XD_STUCK;
		outcome[want_xd]++;
		restored += cleared && want_nx;
		if ((cpu_feat.nx != want_nx || cpu_efer_value() != (EFER_LME | EFER_LMA | (want_nx ? EFER_NXE : 0)) ||
		     cpu_feat.xd != want_xd || (cpu_xd_text() != NULL) != (want_xd >= CPU_XD_REENABLED)) && bad++ < 3)
			printf("#   CPU %u: vendor %u, max leaf %u, max extended 0x%x, NX %d, MISC_ENABLE 0x%llx%s: nx %d, "
			       "xd %d (want nx %d, xd %d)\n", k, v, gen.max_basic, gen.max_ext, has_nx,
			       (unsigned long long)before, r3_misc.locked ? " locked" : "", cpu_feat.nx, cpu_feat.xd,
			       want_nx, want_xd);
		if (!touch && r3_misc.reads + r3_misc.writes && bad_access++ < 3)
			printf("#   CPU %u: vendor %u, max leaf %u: IA32_MISC_ENABLE read %u and written %u times\n", k, v,
			       gen.max_basic, r3_misc.reads, r3_misc.writes);
		bool lim = before & MISC_ENABLE_LIMIT_CPUID;   /* cleared too, by a write of its own */
		uint64_t after = (cleared ? before & ~MISC_ENABLE_XD_DISABLE : before) & ~(lim ? MISC_ENABLE_LIMIT_CPUID : 0);
		if (touch && (r3_misc.reads == 0 || r3_misc.writes != (set ? 1u : 0u) + (lim ? 1u : 0u) ||
			      r3_misc.value != after) && bad_bits++ < 3)
			printf("#   CPU %u: MISC_ENABLE 0x%llx%s became 0x%llx after %u reads, %u writes\n", k,
			       (unsigned long long)before, r3_misc.locked ? " locked" : "", (unsigned long long)r3_misc.value,
			       r3_misc.reads, r3_misc.writes);
	}
	r3_cpuid_table = NULL;
	r3_misc.intel = false;
	ok(bad == 0 && restored > n / 50 && outcome[CPU_XD_STUCK] > n / 50 && outcome[CPU_XD_CLEAR] > n / 50,
	   "cpu_detect on %u generated CPUs (Intel, AMD, other; max leaf 0, 1, more; leaf 0x80000001 absent or present, "
	   "NX or not; XD Bit Disable set or clear, locked or not): nx, EFER, cpu_feat.xd and the note as the CPU is "
	   "once the bit is cleared where it clears (%u wrong; NX turned back on %u times, %u stuck, %u clear, "
	   "%u MSR untouched)", n, bad, restored, outcome[CPU_XD_STUCK], outcome[CPU_XD_CLEAR], outcome[CPU_XD_NO_MSR]);
	ok(bad_access == 0, "IA32_MISC_ENABLE is never read or written unless the vendor is GenuineIntel and CPUID "
	   "leaf 1 exists (%u CPUs wrong)", bad_access);
	ok(bad_bits == 0, "on Intel it is read, written once only when XD Bit Disable is set and once only when Limit "
	   "CPUID Maxval is, with every other bit as it was (%u CPUs wrong)", bad_bits);
}

/*
 * cpu_detect on 6000 generated CPUs whose firmware may have set Limit CPUID Maxval (IA32_MISC_ENABLE
 * bit 22; the fake caps CPUID 0's highest leaf at 2 while it is set on an Intel CPU, as the
 * hardware does): vendor Intel, AMD or another; highest basic leaf 0..0x20. On Intel the bit is
 * cleared (cpu_feat.cpuid_unlimited says so) before any leaf past 0 is read, so leaf 7's SMEP, SMAP
 * and INVPCID count and tsc.c sees the CPU's own highest leaf (leaves 0x15 and 0x16: the TSC's
 * frequency on a PC without a ticking timer); every other vendor's MSR untouched. Before the fix,
 * such a CPU ran without SMEP, SMAP and INVPCID, and without CPUID's TSC frequency.
 */
static void test_cpu_detect_limit_cpuid_generated(void)
{
	uint64_t rng = 0x11A17C9DULL;
	unsigned bad = 0, n = 6000, lifted = 0;

	r3_cpuid_table = r3_gen_cpuid;
	for (unsigned k = 0; k < n; k++) {
		unsigned v = gen_random_cpu(&rng, k);
		gen.max_basic = (uint32_t)(test_rng_next(&rng) % 0x21);
		gen.max_ext = 0x80000000u + (uint32_t)(test_rng_next(&rng) % 9);
		uint64_t before = test_rng_next(&rng) & ~MISC_ENABLE_XD_DISABLE;
		before = test_rng_next(&rng) % 4 ? before | MISC_ENABLE_LIMIT_CPUID : before & ~MISC_ENABLE_LIMIT_CPUID;
		r3_misc.intel = v == 0;
		r3_misc.locked = false;
		r3_misc.value = before;
		r3_misc.reads = r3_misc.writes = 0;
		memset(&cpu_feat, 0, sizeof(cpu_feat));
		cpu_detect();
		struct tsc_cpuid c;
		tsc_cpuid_read(&c);

		bool intel = v == 0 && gen.max_basic >= 1, lim = before & MISC_ENABLE_LIMIT_CPUID;
		bool l7 = gen.max_basic >= 7;
		lifted += intel && lim && gen.max_basic > 2;
		bool good = cpu_feat.cpuid_unlimited == (intel && lim) &&
			    cpu_feat.smep == (l7 && (gen.basic[7][1] & (1u << 7))) &&
			    cpu_feat.smap == (l7 && (gen.basic[7][1] & (1u << 20))) &&
			    cpu_feat.invpcid == (l7 && (gen.basic[7][1] & (1u << 10))) &&
			    c.max_leaf == gen.max_basic &&
			    r3_misc.value == (intel ? before & ~MISC_ENABLE_LIMIT_CPUID : before) &&
			    (intel || r3_misc.reads + r3_misc.writes == 0);
		if (!good && bad++ < 3)
			printf("#   CPU %u: vendor %u, max leaf %u, MISC_ENABLE 0x%llx: unlimited %d, smep %d, smap %d, "
			       "invpcid %d, tsc.c's max leaf %u, MISC_ENABLE now 0x%llx\n", k, v, gen.max_basic,
			       (unsigned long long)before, cpu_feat.cpuid_unlimited, cpu_feat.smep, cpu_feat.smap,
			       cpu_feat.invpcid, c.max_leaf, (unsigned long long)r3_misc.value);
	}
	r3_cpuid_table = NULL;
	r3_misc.intel = false;
	r3_misc.value = 0;
	ok(bad == 0 && lifted > n / 20, "cpu_detect on %u generated CPUs (Intel, AMD, other; max leaf 0..0x20; Limit "
	   "CPUID Maxval set or clear): on Intel the limit is lifted before leaf 7 is read, so SMEP, SMAP, INVPCID "
	   "and tsc.c's leaves 0x15 and 0x16 are the CPU's own; other vendors' MSR untouched (%u wrong, %u lifted)",
	   n, bad, lifted);
}

int main(void)
{
	test_apic_page_any_cpuid_width();
	test_cpu_detect_generated();
	test_cpu_detect_memory_encryption_width();
	test_cpu_memory_encryption_logged();
	test_cpu_cet_off_generated();
	test_cpu_dr7_breakpoints_off();
	test_tsc_calibrate_generated();
	test_tsc_calibrate_garbage();
	test_tsc_dead_timers_bounded_by_tsc();
	test_tsc_frozen_tsc_read_bound();
	test_tsc_live_pit_exact();
	test_tsc_pit_overruled_by_reference();
	test_tsc_pm_held_up_resampled();
	test_tsc_cpuid_generated();
	test_cpu_detect_xd_disable_generated();
	test_cpu_detect_limit_cpuid_generated();
	return tap_done();
}
