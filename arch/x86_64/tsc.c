/* TSC calibration against the PIT or the ACPI PM timer (see tsc.h). */
#include "tsc.h"
#include "x86.h"

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
#define PM_TIMER_HZ       3579545u
#define PM_MASK24         0xFFFFFFu
#define TSC_HZ_MIN        50000000ull      /* outside these, the measurement is wrong */
#define TSC_HZ_MAX        20000000000ull

uint64_t tsc_at_kmain;
static uint64_t tsc_freq;
static const char *tsc_src = "none";

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

/* TSC ticks per second measured over CALIB_MS of the PM timer at port, or 0 if it does not advance. */
static uint64_t tsc_measure_pm(uint16_t port, bool bits32)
{
	uint32_t mask = bits32 ? 0xFFFFFFFFu : PM_MASK24, target = PM_TIMER_HZ / 1000 * CALIB_MS;
	uint64_t limit = tsc_calib_limit(target, PM_TIMER_HZ);
	uint32_t start = inl(port) & mask, now = start, i = 0;
	uint64_t t0 = rdtsc(), t1;
	bool reached;

	while (!(reached = ((now - start) & mask) >= target) && !tsc_calib_expired(t0, limit, i)) {
		now = inl(port) & mask;
		i++;
	}
	t1 = rdtsc();
	if (!reached)
		return 0;
	return (t1 - t0) * PM_TIMER_HZ / ((now - start) & mask);
}

uint64_t tsc_calibrate(uint16_t pm_port, bool pm32)
{
	uint64_t hz = tsc_measure_pit();

	tsc_src = "PIT";
	if (hz < TSC_HZ_MIN || hz > TSC_HZ_MAX) {
		hz = pm_port ? tsc_measure_pm(pm_port, pm32) : 0;
		tsc_src = "ACPI PM timer";
	}
	if (hz < TSC_HZ_MIN || hz > TSC_HZ_MAX) {
		hz = 0;
		tsc_src = "none";
	}
	tsc_freq = hz;
	return hz;
}

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
