/* TSC calibration against the PIT, the ACPI PM timer or the HPET, else CPUID's stated frequency (see tsc.h). */
#include "tsc.h"
#include "x86.h"
#include "kstring.h"

#define PIT_HZ            1193182u
#define PIT_CH2_DATA      0x42
#define PIT_COMMAND       0x43
#define PIT_CH2_MODE0     0xB0    /* channel 2, low then high byte, mode 0 (interrupt on count), binary */
#define PORT_SYS_CTRL_B   0x61    /* system control port B */
#define SYS_CTRL_GATE2    0x01    /* PIT channel 2 gate */
#define SYS_CTRL_SPEAKER  0x02    /* speaker data enable: kept off */
#define SYS_CTRL_OUT2     0x20    /* PIT channel 2 output (read-only) */
#define CALIB_MS          20u     /* measuring interval */
#define CALIB_POLL_MAX    20000000u  /* port reads before giving up on a timer whatever the TSC says */
#define CALIB_MARGIN_PCT  25u     /* TSC time allowed past the interval at TSC_HZ_MAX, in percent */
#define CALIB_AGREE_DIV   50u     /* the PIT and the reference agree within 1/50 (2 %) */
#define CALIB_TRIES       5u      /* samples of a counter at most (tsc_measure_counter) */
#define CALIB_SLACK_DIV   256u    /* a counter's sample is steady when its slack is within 1/256 of it */
#define PM_TIMER_HZ       3579545u
#define PM_MASK24         0xFFFFFFu
#define TSC_HZ_MIN        50000000ull      /* outside these, the measurement is wrong */
#define TSC_HZ_MAX        20000000000ull
#define CPUID_LEAF_TSC    0x15u   /* EAX/EBX: TSC / core crystal clock ratio; ECX: the crystal's Hz */
#define CPUID_LEAF_FREQ   0x16u   /* EAX: processor base frequency in MHz */
#define CPUID16_MHZ_MASK  0xFFFFu /* leaf 0x16 EAX[15:0]; EAX[31:16] are reserved */
#define CPUID_INTEL_EBX   0x756e6547u   /* "Genu" */
#define CPUID_INTEL_EDX   0x49656e69u   /* "ineI" */
#define CPUID_INTEL_ECX   0x6c65746eu   /* "ntel" */
#define HZ_PER_MHZ        1000000ull
/* HPET registers (IA-PC HPET specification 1.0a, 2.3), read and written 32 bits at a time, as every
 * HPET accepts (some do not take 64-bit accesses). Only the main counter's low 32 bits are read, so
 * COUNT_SIZE_CAP (capabilities bit 13: a 64-bit counter) changes nothing: either width measures
 * alike by differences mod 2^32. */
#define HPET_REG_CAP_PERIOD 0x04u   /* general capabilities, bits 63:32: COUNTER_CLK_PERIOD in fs */
#define HPET_REG_CONFIG     0x10u   /* general configuration, bits 31:0 (bits 63:32 reserved) */
#define HPET_REG_COUNTER    0xF0u   /* main counter, bits 31:0 */
#define HPET_CFG_ENABLE     (1u << 0)   /* ENABLE_CNF: the main counter runs */
#define HPET_FS_PER_S       1000000000000000ull
#define HPET_PERIOD_MAX     0x05F5E100u /* 100 ns (10 MHz): the specification's largest period */
/* 1 ns (1 GHz): the smallest period accepted. (t1 - t0) x the HPET's Hz must fit 64 bits: t1 - t0
 * is at most tsc_calib_limit (TSC_HZ_MAX x CALIB_MS x 1.25 = 5 x 10^8 ticks), so at 10^9 Hz the
 * product stays below 5 x 10^17 < 2^64; and CALIB_MS of ticks (2 x 10^7 at most) stays far below
 * 2^32, so differences of the counter's low 32 bits are exact. Real HPETs run at 10-25 MHz. */
#define HPET_PERIOD_MIN     1000000u

uint64_t tsc_at_kmain;
static uint64_t tsc_freq;
static const char *tsc_src = "none";
static uint64_t tsc_pit_off;   /* the PIT's figure the reference overruled (tsc_pit_rejected) */
static volatile void *tsc_hpet;   /* the HPET's register page (NULL: none), see tsc_set_hpet */

/* TSC ticks after t0 beyond which a wait for ticks of a timer at hz has failed: the wait at
 * TSC_HZ_MAX plus CALIB_MARGIN_PCT. A longer wait would measure a frequency above TSC_HZ_MAX, which
 * calibration rejects anyway, so a timer that never gets there costs at most this (0.1-0.2 s at
 * common TSC frequencies), not CALIB_POLL_MAX port reads (about 1 us each on hardware). */
static uint64_t tsc_calib_limit(uint64_t ticks, uint64_t hz)
{
	return TSC_HZ_MAX * ticks / hz * (100 + CALIB_MARGIN_PCT) / 100;
}

/* True when a wait that began at TSC t0 with limit ticks has gone on too long, after reads port
 * reads: past its TSC limit, or past CALIB_POLL_MAX reads (the backstop for a TSC that stands still). */
static bool tsc_calib_expired(uint64_t t0, uint64_t limit, uint32_t reads)
{
	return reads >= CALIB_POLL_MAX || rdtsc() - t0 > limit;
}

/* TSC ticks over CALIB_MS of PIT channel 2 in mode 0, or 0 when OUT2 does not behave. */
static uint64_t tsc_measure_pit(void)
{
	uint32_t count = PIT_HZ / 1000 * CALIB_MS;
	uint64_t limit = tsc_calib_limit(count, PIT_HZ);
	uint8_t saved = inb(PORT_SYS_CTRL_B);
	uint64_t t0, t1;
	uint32_t i = 0;
	bool risen;

	outb(PORT_SYS_CTRL_B, (uint8_t)((saved & ~SYS_CTRL_SPEAKER) | SYS_CTRL_GATE2));
	outb(PIT_COMMAND, PIT_CH2_MODE0);           /* OUT2 goes low */
	outb(PIT_CH2_DATA, (uint8_t)count);
	outb(PIT_CH2_DATA, (uint8_t)(count >> 8));   /* counting starts; OUT2 rises at zero */
	t0 = rdtsc();
	if (inb(PORT_SYS_CTRL_B) & SYS_CTRL_OUT2) { /* already high: no PIT (or a bus reading 0xFF) */
		outb(PORT_SYS_CTRL_B, saved);
		return 0;
	}
	while (!(risen = inb(PORT_SYS_CTRL_B) & SYS_CTRL_OUT2) && !tsc_calib_expired(t0, limit, ++i))
		;
	t1 = rdtsc();
	outb(PORT_SYS_CTRL_B, saved);
	return risen ? (t1 - t0) * PIT_HZ / count : 0;
}

/* One sample of a counter against the TSC: the frequency (0: the counter did not advance), the TSC
 * ticks over it, and its slack: the TSC ticks around the two reads of the counter that bound it, the
 * TSC read on either side of each. A CPU held up between a counter read and its TSC read (an SMI, an
 * emulator's busy host) shows as slack, never hides. */
struct tsc_sample {
	uint64_t hz, ticks, slack;
};

/* The PM timer at port over CALIB_MS: *out, hz 0 when it does not advance. */
static void tsc_sample_pm(uint16_t port, bool bits32, struct tsc_sample *out)
{
	uint32_t mask = bits32 ? 0xFFFFFFFFu : PM_MASK24, target = PM_TIMER_HZ / 1000 * CALIB_MS;
	uint64_t limit = tsc_calib_limit(target, PM_TIMER_HZ);
	uint64_t ta = rdtsc(), t0, tp, t1;
	uint32_t start = inl(port) & mask, now = start, i = 0;
	bool reached;

	t0 = tp = rdtsc();
	while (!(reached = ((now - start) & mask) >= target) && !tsc_calib_expired(t0, limit, i)) {
		tp = rdtsc();
		now = inl(port) & mask;
		i++;
	}
	t1 = rdtsc();
	*out = (struct tsc_sample){ 0 };
	if (reached)
		*out = (struct tsc_sample){ (t1 - t0) * PM_TIMER_HZ / ((now - start) & mask), t1 - t0, (t0 - ta) + (t1 - tp) };
}

/* Which counter tsc_measure_counter samples. */
struct tsc_counter {
	bool hpet;              /* the HPET at regs, else the PM timer at port */
	uint16_t port;
	bool bits32;
	volatile void *regs;
};

static void tsc_sample_hpet(volatile void *regs, struct tsc_sample *out);

/*
 * The TSC frequency against counter c, sampled until a sample's slack is within 1/CALIB_SLACK_DIV
 * of its ticks (CALIB_TRIES samples at most, then the one with the least slack for its length, as
 * Linux's calibration retries a reference read that took too long). 0 when the counter does not
 * advance at its first sample: a dead counter costs one bounded wait, not CALIB_TRIES.
 */
static uint64_t tsc_measure_counter(const struct tsc_counter *c)
{
	struct tsc_sample best = { 0 }, s;

	for (unsigned k = 0; k < CALIB_TRIES; k++) {
		if (c->hpet)
			tsc_sample_hpet(c->regs, &s);
		else
			tsc_sample_pm(c->port, c->bits32, &s);
		if (!s.hz)
			return best.hz;
		/* less slack for its length: s.slack / s.ticks < best.slack / best.ticks, without dividing */
		if (!best.hz || (unsigned __int128)s.slack * best.ticks < (unsigned __int128)best.slack * s.ticks)
			best = s;
		if (s.slack <= s.ticks / CALIB_SLACK_DIV)
			break;
	}
	return best.hz;
}

uint64_t tsc_measure_pm(uint16_t port, bool bits32)
{
	struct tsc_counter c = { .port = port, .bits32 = bits32 };
	return tsc_measure_counter(&c);
}

/* The HPET's main counter frequency in Hz from its capabilities at regs, or 0 when its
 * COUNTER_CLK_PERIOD is outside HPET_PERIOD_MIN..HPET_PERIOD_MAX (0, all ones: no HPET there). */
static uint64_t tsc_hpet_hz(volatile void *regs)
{
	uint32_t period = mmio_read32((volatile uint8_t *)regs + HPET_REG_CAP_PERIOD);

	if (period < HPET_PERIOD_MIN || period > HPET_PERIOD_MAX)
		return 0;
	return HPET_FS_PER_S / period;
}

/* The main counter's low 32 bits: the whole counter when COUNT_SIZE_CAP is clear, and for a 64-bit
 * counter a value that differences mod 2^32 measure exactly (one 32-bit read, no torn halves). */
static uint32_t tsc_hpet_count(volatile void *regs)
{
	return mmio_read32((volatile uint8_t *)regs + HPET_REG_COUNTER);
}

/* The HPET at regs over CALIB_MS (its main counter started for the while if it was stopped, and
 * its configuration put back): *out, hz 0 when it has no valid period or does not advance. */
static void tsc_sample_hpet(volatile void *regs, struct tsc_sample *out)
{
	uint64_t hpet_hz = regs ? tsc_hpet_hz(regs) : 0, limit, ta, t0, tp, t1;
	uint32_t target, start, now, i = 0, cfg;
	volatile void *cfg_reg;
	bool reached;

	*out = (struct tsc_sample){ 0 };
	if (!hpet_hz)
		return;
	cfg_reg = (volatile uint8_t *)regs + HPET_REG_CONFIG;
	target = (uint32_t)(hpet_hz / 1000 * CALIB_MS);
	limit = tsc_calib_limit(target, hpet_hz);
	cfg = mmio_read32(cfg_reg);
	if (!(cfg & HPET_CFG_ENABLE))   /* start the main counter; LEG_RT_CNF and the timers untouched */
		mmio_write32(cfg_reg, cfg | HPET_CFG_ENABLE);
	ta = rdtsc();
	start = now = tsc_hpet_count(regs);
	t0 = tp = rdtsc();
	while (!(reached = now - start >= target) && !tsc_calib_expired(t0, limit, i)) {
		tp = rdtsc();
		now = tsc_hpet_count(regs);
		i++;
	}
	t1 = rdtsc();
	if (!(cfg & HPET_CFG_ENABLE))
		mmio_write32(cfg_reg, cfg);
	if (reached && t1 - t0 <= UINT64_MAX / hpet_hz)
		*out = (struct tsc_sample){ (t1 - t0) * hpet_hz / (now - start), t1 - t0, (t0 - ta) + (t1 - tp) };
}

uint64_t tsc_measure_hpet(volatile void *regs)
{
	struct tsc_counter c = { .hpet = true, .regs = regs };
	return tsc_measure_counter(&c);
}

void tsc_set_hpet(volatile void *regs)
{
	tsc_hpet = regs;
}

volatile void *tsc_hpet_regs(void)
{
	return tsc_hpet;
}

/* What CPUID says about the TSC's frequency: leaves 0x15 and 0x16, zero where the CPU lacks them. */
struct tsc_cpuid {
	bool intel;              /* vendor GenuineIntel: the leaves below have Intel's meaning */
	uint32_t max_leaf;       /* CPUID 0 EAX: the highest basic leaf */
	uint32_t den, num;       /* leaf 0x15 EAX, EBX: TSC / crystal = num / den (either 0: not enumerated) */
	uint32_t crystal_hz;     /* leaf 0x15 ECX: the core crystal clock in Hz (0: not enumerated) */
	uint32_t base_mhz;       /* leaf 0x16 EAX[15:0]: the processor base frequency in MHz (0: none) */
};

/* Reads leaves 0 and, when the highest basic leaf reaches them, 0x15 and 0x16 (a leaf past the
 * highest returns another leaf's data on Intel CPUs, so it is never read). */
static void tsc_cpuid_read(struct tsc_cpuid *c)
{
	uint32_t r[4];

	memset(c, 0, sizeof(*c));
	cpuid(0, 0, r);
	c->max_leaf = r[0];
	c->intel = r[1] == CPUID_INTEL_EBX && r[3] == CPUID_INTEL_EDX && r[2] == CPUID_INTEL_ECX;
	if (c->max_leaf >= CPUID_LEAF_TSC) {
		cpuid(CPUID_LEAF_TSC, 0, r);
		c->den = r[0];
		c->num = r[1];
		c->crystal_hz = r[2];
	}
	if (c->max_leaf >= CPUID_LEAF_FREQ) {
		cpuid(CPUID_LEAF_FREQ, 0, r);
		c->base_mhz = r[0] & CPUID16_MHZ_MASK;
	}
}

/* True when hz is a TSC frequency calibration may accept. */
static bool tsc_hz_plausible(uint64_t hz)
{
	return hz >= TSC_HZ_MIN && hz <= TSC_HZ_MAX;
}

/*
 * The TSC frequency CPUID states, by the SDM's rules (vol. 2A, CPUID leaves 15H and 16H), or 0,
 * with the leaf that stated it in *src. Leaf 0x15: TSC = crystal x EBX / EAX when all three are
 * non-zero (EBX 0: the ratio is not enumerated; ECX 0: the crystal is not, as on Skylake client
 * CPUs). Otherwise leaf 0x16's base frequency, the rate an Intel invariant TSC runs at (what
 * Linux's native_calibrate_tsc derives from it when ECX is 0, and its cpu_khz_from_cpuid when the
 * ratio is missing). No crystal is guessed from the CPU model (Linux keeps a table for that; this
 * kernel does not). Only for GenuineIntel: other vendors' leaves 0x15 and 0x16 are reserved. A
 * value outside TSC_HZ_MIN..TSC_HZ_MAX counts as none. crystal x EBX < 2^64, so the product cannot
 * overflow.
 */
static uint64_t tsc_hz_from_cpuid(const struct tsc_cpuid *c, const char **src)
{
	uint64_t hz;

	if (!c->intel)
		return 0;
	if (c->max_leaf >= CPUID_LEAF_TSC && c->den && c->num && c->crystal_hz) {
		hz = (uint64_t)c->crystal_hz * c->num / c->den;
		if (tsc_hz_plausible(hz)) {
			*src = "CPUID leaf 0x15";
			return hz;
		}
	}
	if (c->max_leaf >= CPUID_LEAF_FREQ && c->base_mhz) {
		hz = (uint64_t)c->base_mhz * HZ_PER_MHZ;
		if (tsc_hz_plausible(hz)) {
			*src = "CPUID leaf 0x16";
			return hz;
		}
	}
	return 0;
}

uint64_t tsc_cpuid_hz(void)
{
	struct tsc_cpuid c;
	const char *src = "none";

	tsc_cpuid_read(&c);
	return tsc_hz_from_cpuid(&c, &src);
}

/* True when a and b differ by more than 1/CALIB_AGREE_DIV of b. */
static bool tsc_disagree(uint64_t a, uint64_t b)
{
	return a < b - b / CALIB_AGREE_DIV || a > b + b / CALIB_AGREE_DIV;
}

/*
 * The PIT first, then a counter (the PM timer, else the HPET) as the reference: the PIT's end is an
 * edge seen one poll late, and a CPU taken away at that moment (an SMI on a PC, the host's scheduler
 * under an emulator with fewer cores than CPUs) stretches the interval by as long; a counter's value
 * and the TSC are read together at both ends, which a delay between two polls does not skew. When
 * the PIT's figure is missing or disagrees with the reference by more than 2 %, the reference's
 * counts (Linux's calibration does the same), and tsc_pit_rejected() keeps what the PIT measured.
 */
uint64_t tsc_calibrate(uint16_t pm_port, bool pm32)
{
	uint64_t hz = tsc_measure_pit(), ref = pm_port ? tsc_measure_pm(pm_port, pm32) : 0;
	const char *ref_src = "ACPI PM timer";

	tsc_src = "PIT";
	tsc_pit_off = 0;
	if (!tsc_hz_plausible(ref)) {
		ref = tsc_measure_hpet(tsc_hpet);
		ref_src = "HPET";
	}
	if (tsc_hz_plausible(ref) && (!tsc_hz_plausible(hz) || tsc_disagree(hz, ref))) {
		tsc_pit_off = tsc_hz_plausible(hz) ? hz : 0;
		hz = ref;
		tsc_src = ref_src;
	}
	if (!tsc_hz_plausible(hz)) {
		struct tsc_cpuid c;
		tsc_cpuid_read(&c);
		hz = tsc_hz_from_cpuid(&c, &tsc_src);
	}
	if (!tsc_hz_plausible(hz)) {
		hz = 0;
		tsc_src = "none";
	}
	tsc_freq = hz;
	return hz;
}

uint64_t tsc_pit_rejected(void) { return tsc_pit_off; }

uint64_t tsc_read(void) { return rdtsc(); }
uint64_t tsc_hz(void) { return tsc_freq; }
const char *tsc_source(void) { return tsc_src; }

uint64_t tsc_to_ms(uint64_t ticks)
{
	if (!tsc_freq)
		return 0;
	return ticks / tsc_freq * 1000 + ticks % tsc_freq * 1000 / tsc_freq;   /* no overflow, no 128-bit division */
}

uint64_t tsc_to_us(uint64_t ticks)
{
	if (!tsc_freq)
		return 0;
	return ticks / tsc_freq * 1000000 + ticks % tsc_freq * 1000000 / tsc_freq;
}

uint64_t tsc_us_to_ticks(uint64_t us)
{
	return us / 1000000 * tsc_freq + us % 1000000 * tsc_freq / 1000000;   /* no overflow below 2^64 ticks */
}

void tsc_delay_us(uint64_t us)
{
	uint64_t start = rdtsc(), ticks = tsc_us_to_ticks(us);

	while (rdtsc() - start < ticks)
		__asm__ volatile("pause");
}
