/*
 * Real-PC robustness: what a PC's firmware and chipset do that QEMU with OVMF does not, held against
 * the kernel's own rules. The file #includes arch/x86_64/cpu.c, tsc.c and serial.c with their
 * instructions replaced by a fake CPU and fake I/O ports (x86.h's inline functions renamed below,
 * as tests/host/test_arch_cpuid.c does), and kernel/vm.c (its static functions), on the fake
 * machine, standing in for the rest of the kernel as tests/host/test_vm_dmap.c does.
 *
 *  1. test_fb_listed_as_ram_not_aliased: a firmware that lists the framebuffer's pages as RAM gets
 *     them kept out of the allocator (README, "Physical memory") and out of the direct map, so no
 *     page is mapped write-back there and write-combining at FB_BASE at once (the checklist's "Never
 *     map the same page WC and cacheable at once"; SDM vol. 3A 12.12.4: such aliases are unsupported
 *     and may cause a system failure; kernel/vm.c once made them); the descriptor's other pages stay
 *     in the direct map.
 *  2. test_fb_not_listed_no_alias: the usual PC, the framebuffer absent from the map or
 *     listed as MMIO or reserved: mapped WC at FB_BASE, never in the direct map.
 *  3. test_tsc_clock_without_pit_or_pm_timer (tsc.c takes CPUID's frequency last): on
 *     a PC whose PIT is clock-gated (Intel chipsets since Skylake may gate the 8254) and whose ACPI
 *     PM timer is off or absent (hardware-reduced ACPI), while CPUID leaf 0x15 (or 0x16) states the
 *     TSC's frequency, tsc_calibrate returned 0, so smp_init started no other CPU ("no calibrated
 *     clock"). (The rules for those leaves are checked on generated CPUs in test_arch_cpuid.c.)
 *  4. test_tsc_pit_gated_pm_timer_used: the same PC with its PM timer on: the PM timer
 *     calibrates, within 1 %.
 *  4a. test_tsc_hpet_calibrates, test_tsc_hpet_dead_bounded, test_tsc_hpet_period_bounds: the
 *     same PC without a PM timer and without CPUID's frequency (an AMD CPU), with a fake HPET:
 *     calibrated by it within 1 %, its configuration put back; a dead HPET costs a bounded wait;
 *     its period's bounds; a PM timer running at a rate whose TSC figure is implausible (Linux's
 *     verify_pmtmr_rate disables such ones) gives way to the HPET.
 *  5. test_serial_absent_or_present: COM1 reading 0xFF (no UART, the checklist's case),
 *     0x00, or a scratch register that does not hold its value: serial_init says no, and
 *     serial_write touches no port; a UART present gets every byte, LF as CR LF.
 *  6. test_serial_transmitter_stops (serial.c gives the port up): a UART whose scratch
 *     register works but whose transmitter-empty bit never sets (again) cost SERIAL_SPIN_LIMIT port
 *     reads for every byte, about 0.1 s each on hardware: a hang. Now one wait, then nothing.
 */
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "test_rng.h"
#include "capture.h"
#include "x86.h"

/* ---------------------------------------------------------------- the fake CPU and ports */

#define HWQ_COM1 0x3F8
enum hwq_uart { HWQ_UART_PRESENT, HWQ_UART_READS_FF, HWQ_UART_READS_00, HWQ_UART_SCRATCH_DEAD, HWQ_UART_THR_STOPS };
static struct {
	uint64_t tsc, tsc_hz, read_cost;  /* the simulated TSC, its frequency, TSC ticks per port read */
	bool pit_gated;                   /* OUT2 never rises (the 8254's clock gated off) */
	uint64_t pit_start;               /* TSC when channel 2's count was loaded */
	uint32_t pit_count;
	unsigned pit_bytes;
	uint32_t cpuid_max;               /* highest basic leaf */
	uint32_t leaf15[3];               /* CPUID 0x15: EAX (denominator), EBX (numerator), ECX (crystal Hz) */
	uint32_t leaf16_mhz;              /* CPUID 0x16 EAX: base frequency in MHz */
	uint64_t pm_hz;                   /* the PM timer's rate (0: ACPI's 3.579545 MHz) */
	enum hwq_uart uart;
	uint8_t uart_scratch;
	char uart_out[256];
	size_t uart_n;
	uint64_t uart_port_ops;           /* port reads and writes at COM1 */
	size_t uart_thre_bytes;           /* HWQ_UART_THR_STOPS: LSR's THRE clears once uart_n reaches this */
} sim;

static uint64_t hwq_rdtsc(void) { return sim.tsc += 1; }
static uint64_t hwq_rdmsr(uint32_t msr) { (void)msr; return 0; }
static void hwq_wrmsr(uint32_t msr, uint64_t v) { (void)msr; (void)v; }

static void hwq_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	(void)sub;
	r[0] = r[1] = r[2] = r[3] = 0;
	if (leaf == 0) {
		r[0] = sim.cpuid_max;
		r[1] = 0x756e6547;   /* "GenuineIntel" */
		r[3] = 0x49656e69;
		r[2] = 0x6c65746e;
	} else if (leaf == 0x15 && sim.cpuid_max >= 0x15) {
		r[0] = sim.leaf15[0];
		r[1] = sim.leaf15[1];
		r[2] = sim.leaf15[2];
	} else if (leaf == 0x16 && sim.cpuid_max >= 0x16) {
		r[0] = sim.leaf16_mhz;
	}
}

/* TSC ticks of a clock at hz over TSC ticks dt. */
static uint64_t hwq_ticks(uint64_t dt, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)dt * hz / sim.tsc_hz);
}

static void hwq_outb(uint16_t port, uint8_t v)
{
	if (port == 0x43) {
		sim.pit_bytes = 0;
		sim.pit_count = 0;
	} else if (port == 0x42) {
		sim.pit_count |= (uint32_t)v << (8 * sim.pit_bytes);
		if (++sim.pit_bytes == 2)
			sim.pit_start = sim.tsc;
	} else if (port >= HWQ_COM1 && port < HWQ_COM1 + 8) {
		sim.uart_port_ops++;
		if (sim.uart != HWQ_UART_PRESENT && sim.uart != HWQ_UART_THR_STOPS)
			return;
		if (port == HWQ_COM1 + 7)
			sim.uart_scratch = v;
		else if (port == HWQ_COM1 && sim.uart_n < sizeof(sim.uart_out))
			sim.uart_out[sim.uart_n++] = (char)v;
	}
}

static uint8_t hwq_inb(uint16_t port)
{
	sim.tsc += sim.read_cost;
	if (port >= HWQ_COM1 && port < HWQ_COM1 + 8) {
		sim.uart_port_ops++;
		switch (sim.uart) {
		case HWQ_UART_READS_FF: return 0xFF;
		case HWQ_UART_READS_00: return 0x00;
		case HWQ_UART_SCRATCH_DEAD: return port == HWQ_COM1 + 7 ? 0x5A : 0x60;   /* holds one value only */
		case HWQ_UART_THR_STOPS:
			if (port == HWQ_COM1 + 5)
				return sim.uart_n < sim.uart_thre_bytes ? 0x60 : 0x00;
			return port == HWQ_COM1 + 7 ? sim.uart_scratch : 0x00;
		default: return port == HWQ_COM1 + 7 ? sim.uart_scratch : port == HWQ_COM1 + 5 ? 0x60 : 0x00;
		}
	}
	if (port != 0x61)
		return 0xFF;
	if (sim.pit_gated || sim.pit_bytes < 2)
		return 0x00;
	return hwq_ticks(sim.tsc - sim.pit_start, 1193182) > sim.pit_count ? 0x20 : 0x00;
}

/* The PM timer at 3.579545 MHz (or sim.pm_hz; 24 bits), from the simulated TSC. */
static uint32_t hwq_inl(uint16_t port)
{
	(void)port;
	sim.tsc += sim.read_cost;
	return (uint32_t)hwq_ticks(sim.tsc, sim.pm_hz ? sim.pm_hz : 3579545) & 0xFFFFFF;
}

/*
 * The HPET (IA-PC HPET specification 1.0a, 2.3) at hwq_hpet_page: capabilities with hpet.period
 * (fs) and COUNT_SIZE_CAP, the general configuration (ENABLE_CNF starts and stops the main
 * counter), the main counter from the simulated TSC while enabled, 32 bits (wrapping) or 64.
 */
enum hwq_hpet_kind { HWQ_HPET_RUNS, HWQ_HPET_STUCK, HWQ_HPET_ALL_ONES };
static uint8_t hwq_hpet_page[4096];
static struct {
	enum hwq_hpet_kind kind;
	uint32_t period;                  /* COUNTER_CLK_PERIOD in femtoseconds */
	bool bits64;                      /* COUNT_SIZE_CAP */
	uint32_t cfg;                     /* general configuration, low 32 bits */
	uint64_t frozen;                  /* the counter while disabled, and its value at enable */
	uint64_t enabled_at;              /* TSC when ENABLE_CNF was last set */
	uint64_t reads, writes;
	bool other_write;                 /* a write to a register other than the configuration */
} hpet;

/* The main counter now (all 64 bits; masked to 32 when COUNT_SIZE_CAP is clear). */
static uint64_t hwq_hpet_counter(void)
{
	uint64_t c = hpet.frozen;

	if (hpet.kind == HWQ_HPET_RUNS && (hpet.cfg & 1))
		c += (uint64_t)((unsigned __int128)(sim.tsc - hpet.enabled_at) * 1000000000000000ull / sim.tsc_hz /
				hpet.period);
	return hpet.bits64 ? c : (uint32_t)c;
}

static uint32_t hwq_mmio_read32(const volatile void *a)
{
	size_t off = (size_t)((const volatile uint8_t *)a - hwq_hpet_page);

	sim.tsc += sim.read_cost;
	hpet.reads++;
	if (hpet.kind == HWQ_HPET_ALL_ONES)
		return 0xFFFFFFFFu;
	switch (off) {
	case 0x00: return 0x8086A201u | (hpet.bits64 ? 1u << 13 : 0);
	case 0x04: return hpet.period;
	case 0x10: return hpet.cfg;
	case 0xF0: return (uint32_t)hwq_hpet_counter();
	case 0xF4: return (uint32_t)(hwq_hpet_counter() >> 32);
	default: return 0;
	}
}

static void hwq_mmio_write32(volatile void *a, uint32_t v)
{
	size_t off = (size_t)((volatile uint8_t *)a - hwq_hpet_page);

	hpet.writes++;
	if (off != 0x10) {
		hpet.other_write = true;
		return;
	}
	if ((v & 1) && !(hpet.cfg & 1))
		hpet.enabled_at = sim.tsc;
	else if (!(v & 1) && (hpet.cfg & 1))
		hpet.frozen = hwq_hpet_counter();
	hpet.cfg = v;
}

#define rdmsr hwq_rdmsr
#define wrmsr hwq_wrmsr
#define cpuid hwq_cpuid
#define outb hwq_outb
#define inb hwq_inb
#define inl hwq_inl
#define rdtsc hwq_rdtsc
#define mmio_read32 hwq_mmio_read32
#define mmio_write32 hwq_mmio_write32

uint64_t boot_firmware_cr4;   /* entry.asm's, for cpu_detect: CET off */
#include "../../arch/x86_64/cpu.c"
#include "../../arch/x86_64/tsc.c"
#include "../../arch/x86_64/serial.c"

#undef rdmsr
#undef wrmsr
#undef cpuid
#undef outb
#undef inb
#undef inl
#undef rdtsc
#undef mmio_read32
#undef mmio_write32

/* ---------------------------------------------------------------- kernel/vm.c on the fake machine */

#define __data_start vm_test_data_start   /* the C library has a __data_start of its own */
#include "../../kernel/vm.c"

/* The rest of the kernel as vm.c sees it (cpu_feat is cpu.c's, set by hwq_vm_features). */
char __text_start[1], __text_end[1], __rodata_start[1], __rodata_end[1];
char __data_start[1], __data_end[1], __ksyms_start[1], __kernel_end[1], boot_stack_guard[1];
struct percpu_boot_ist percpu_boot_ist[PERCPU_IST_COUNT];   /* vm_init's guard pages (not called here) */
static struct machine_map m;
const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = machine_map_size(&m);
	*desc_size = m.desc_size;
	return m.buf;
}

/* The real RAM of every map: 64 MiB from 1 MiB; an MMIO range from 512 MiB up keeps the allocator
 * small while vm.c maps every RAM descriptor under it. */
#define REAL_FIRST 0x100000ULL
#define REAL_PAGES 0x4000ULL
#define CLAMP      0x20000000ULL
#define ARCH_END   (1ULL << 52)

static void hwq_vm_features(void)
{
	memset(&cpu_feat, 0, sizeof(cpu_feat));
	cpu_feat.nx = cpu_feat.page1g = cpu_feat.pat = true;
	cpu_feat.max_phys_bits = 46;
}

/* The page-table level of a leaf of page_size bytes. */
static int hwq_level(uint64_t page_size)
{
	return page_size == SIZE_1G ? 3 : page_size == SIZE_2M ? 2 : 1;
}

/* The memory type kernel_pt gives va, with its frame in *pa; -1 when unmapped. */
static int hwq_type_at(vaddr_t va, paddr_t *pa)
{
	uint64_t pte, size;
	if (!pt_query(&kernel_pt, va, pa, &pte, &size))
		return -1;
	return (int)arch_pte_cache(pte, hwq_level(size), vm_pt_features());
}

/* What kmain does with the map m and the framebuffer fb: the allocator with the framebuffer kept
 * out, the direct map, the framebuffer at FB_BASE. False when phys_init refused the map. */
static bool hwq_boot_vm(const struct bootinfo *bi)
{
	fake_arch_set_phys_bits(46);
	hwq_vm_features();
	char out[2048];
	capture_begin();
	int r = phys_init_except(m.buf, machine_map_size(&m), m.desc_size, bi->fb.base, bootinfo_fb_bytes(&bi->fb));
	if (!r) {
		KASSERT(pt_create(&kernel_pt, vm_pt_features()) == PT_OK, "no memory for the PML4");
		vm_fb_virt = 0;
		vm_map_dmap(bi);
		vm_map_fb(bi);
	}
	capture_end(out, sizeof(out));
	return r == 0;
}

/* What one framebuffer's check found. */
struct fb_alias {
	bool fb_ok;          /* every page checked is at FB_BASE, WC, translating to itself */
	paddr_t aliased;     /* the first page checked the direct map also holds with another type, or ~0 */
	int dmap_type;       /* that page's type in the direct map */
};

/* Checks the framebuffer's first and last page and 30 at random: FB_BASE maps each WC, and the
 * direct map holds none of them with another memory type. */
static struct fb_alias hwq_check_fb(const struct bootinfo_fb *fb, uint64_t *rng)
{
	struct fb_alias a = { true, ~0ULL, -1 };
	paddr_t first = ALIGN_DOWN(fb->base, PAGE_SIZE);
	uint64_t pages = (ALIGN_UP(fb->base + bootinfo_fb_bytes(fb), PAGE_SIZE) - first) / PAGE_SIZE;
	for (unsigned k = 0; k < 32; k++) {
		uint64_t i = k == 0 ? 0 : k == 1 ? pages - 1 : test_rng_next(rng) % pages;
		paddr_t page = first + i * PAGE_SIZE, got = 0;
		int fbt = hwq_type_at(FB_BASE + i * PAGE_SIZE, &got);
		if (fbt != PT_CACHE_WC || got != page)
			a.fb_ok = false;
		int dt = hwq_type_at(DMAP_BASE + page, &got);
		if (dt >= 0 && dt != fbt && a.aliased == ~0ULL) {
			a.aliased = page;
			a.dmap_type = dt;
		}
	}
	return a;
}

/* A generated GOP mode at base: 640..1920 x 480..1080, pitch the width or up to 64 pixels more. */
static struct bootinfo hwq_fb_at(paddr_t base, uint64_t *rng)
{
	uint32_t w = 640 + 32 * (uint32_t)(test_rng_next(rng) % 41), h = 480 + (uint32_t)(test_rng_next(rng) % 601);
	uint32_t pitch = w + (test_rng_next(rng) % 2 ? 0 : (uint32_t)(test_rng_next(rng) % 65));
	struct bootinfo bi = { .fb = { .base = base, .width = w, .height = h, .pitch = pitch,
				       .format = test_rng_next(rng) % 2 ? BOOTINFO_FB_BGRX : BOOTINFO_FB_RGBX } };
	bi.fb.size = (uint64_t)pitch * h * 4;
	return bi;
}

/*
 * README ("Physical memory"): the framebuffer's bytes are never handed out "even when a firmware
 * lists them as usable RAM"; the checklist: "Never map the same page WC and cacheable at once".
 * Generated: a framebuffer at 128..448 MiB (on a page boundary, or 64..4032 bytes past one), and a
 * descriptor of a direct-mapped type (conventional, boot-services code and data, loader data, ACPI
 * reclaim and NVS, runtime data) over exactly its pages, or reaching up to 64 pages either side,
 * descriptor strides 40 and 48. Oracle: every page checked is mapped WC at FB_BASE, and the direct
 * map holds none of them with another memory type (kept out of it, or mapped WC there too).
 */
static void test_fb_listed_as_ram_not_aliased(void)
{
	static const uint32_t types[] = { EFI_CONVENTIONAL, EFI_BS_CODE, EFI_BS_DATA, EFI_LOADER_DATA,
					  EFI_ACPI_RECLAIM, EFI_ACPI_NVS, EFI_RT_DATA };
	static const char *const names[PT_CACHE_TYPES] = { "WB", "WT", "UC-", "UC", "WC" };
	uint64_t rng = 0xFBA11A5ULL;
	unsigned n = 0, aliased = 0, fb_wrong = 0, refused = 0, lost = 0;
	for (unsigned c = 0; c < 140; c++) {
		uint32_t type = types[c % ARRAY_SIZE(types)];
		paddr_t base = 0x8000000ULL + (test_rng_next(&rng) % 0x14000) * PAGE_SIZE +
			       (c % 4 == 3 ? 64 * (1 + test_rng_next(&rng) % 63) : 0);
		struct bootinfo bi = hwq_fb_at(base, &rng);
		paddr_t first = ALIGN_DOWN(base, PAGE_SIZE);
		uint64_t fb_pages = (ALIGN_UP(base + bootinfo_fb_bytes(&bi.fb), PAGE_SIZE) - first) / PAGE_SIZE;
		uint64_t before = c % 3 ? test_rng_next(&rng) % 65 : 0, after = c % 3 ? test_rng_next(&rng) % 65 : 0;
		machine_map_init(&m, c % 2 ? 40 : 48);
		machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST, REAL_PAGES, 0);
		machine_map_add(&m, type, first - before * PAGE_SIZE, before + fb_pages + after, 0);
		machine_map_add(&m, EFI_MMIO, CLAMP, (ARCH_END - CLAMP) / PAGE_SIZE, 0);
		n++;
		if (!hwq_boot_vm(&bi)) {
			refused++;
			continue;
		}
		struct fb_alias a = hwq_check_fb(&bi.fb, &rng);
		fb_wrong += !a.fb_ok;
		/* The descriptor's pages beside the framebuffer stay in the direct map, write-back. */
		paddr_t got = 0;
		if (before && (hwq_type_at(DMAP_BASE + first - PAGE_SIZE, &got) != PT_CACHE_WB || got != first - PAGE_SIZE))
			lost++;
		paddr_t past = first + fb_pages * PAGE_SIZE;
		if (after && (hwq_type_at(DMAP_BASE + past, &got) != PT_CACHE_WB || got != past))
			lost++;
		if (a.aliased != ~0ULL && aliased++ < 3)
			printf("# framebuffer 0x%llx + 0x%llx listed as type %u: page 0x%llx is WC at FB_BASE and %s in the "
			       "direct map\n", (unsigned long long)base, (unsigned long long)bootinfo_fb_bytes(&bi.fb), type,
			       (unsigned long long)a.aliased, a.dmap_type >= 0 ? names[a.dmap_type] : "?");
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(aliased == 0 && fb_wrong == 0 && refused == 0 && lost == 0,
	   "%u framebuffers a firmware lists as RAM of a direct-mapped type: none of their pages is mapped both WC "
	   "(FB_BASE) and with another memory type (the direct map), the descriptor's pages beside them stay "
	   "direct-mapped WB: %u aliased, %u not WC at FB_BASE, %u maps refused, %u neighbours lost",
	   n, aliased, fb_wrong, refused, lost);
}

/*
 * The usual PC: the GOP framebuffer in a PCI BAR the map does not list, or lists as MMIO or
 * reserved, below and above 4 GiB. vm.c maps it WC at FB_BASE and the direct map holds none of it.
 */
static void test_fb_not_listed_no_alias(void)
{
	static const uint32_t types[] = { EFI_MMIO, EFI_RESERVED, 0xFFFFFFFFu /* not listed */ };
	uint64_t rng = 0x0B0A12ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 60; c++) {
		uint32_t type = types[c % ARRAY_SIZE(types)];
		paddr_t base = c % 2 ? 0x10000000ULL + (test_rng_next(&rng) % 0x8000) * PAGE_SIZE
				     : (0x4000000000ULL + (test_rng_next(&rng) % 0x1000) * SIZE_2M);
		struct bootinfo bi = hwq_fb_at(base, &rng);
		uint64_t bytes = ALIGN_UP(bootinfo_fb_bytes(&bi.fb), PAGE_SIZE);
		machine_map_init(&m, 48);
		machine_map_add(&m, EFI_CONVENTIONAL, REAL_FIRST, REAL_PAGES, 0);
		if (type != 0xFFFFFFFFu)
			machine_map_add(&m, type, base, bytes / PAGE_SIZE, 0);
		n++;
		if (!hwq_boot_vm(&bi)) {
			bad++;
			continue;
		}
		struct fb_alias a = hwq_check_fb(&bi.fb, &rng);
		paddr_t got;
		if ((!a.fb_ok || a.aliased != ~0ULL || hwq_type_at(DMAP_BASE + base, &got) >= 0) && bad++ < 3)
			printf("# framebuffer 0x%llx (map type 0x%x): at FB_BASE %s, in the direct map %s\n",
			       (unsigned long long)base, type, a.fb_ok ? "WC" : "wrong", a.aliased != ~0ULL ? "aliased" : "absent");
	}
	fake_arch_set_phys_bits(FAKE_PHYS_BITS_DEFAULT);
	ok(bad == 0, "%u framebuffers the map leaves out or lists as MMIO or reserved, below and above 4 GiB: WC at "
	   "FB_BASE, absent from the direct map (%u wrong)", n, bad);
}

/* ---------------------------------------------------------------- the TSC's clock */

/* A PC whose TSC runs at hz; port reads cost about 1 us (LPC). */
static void hwq_clock_pc(uint64_t hz, bool pit_gated)
{
	memset(&sim, 0, sizeof(sim));
	sim.tsc = 1000000;
	sim.tsc_hz = hz;
	sim.read_cost = hz / 1000000;
	sim.pit_gated = pit_gated;
	sim.cpuid_max = 0x16;
	tsc_freq = 0;
}

/* True when got is within 1 % of want. */
static bool hwq_within_1pct(uint64_t got, uint64_t want)
{
	return got >= want - want / 100 && got <= want + want / 100;
}

/*
 * tsc.h: calibration against the PIT or the PM timer, "0 when neither timer ticked"; then
 * smp_init starts no other CPU and every boot time reads 0. The checklist asks for a calibrated
 * timer ("the PIT, the ACPI PM timer or the HPET"); a PC with the 8254 clock-gated and the PM timer
 * disabled or absent (hardware-reduced ACPI: the FADT names none, pm_port 0) still states its TSC
 * frequency in CPUID: leaf 0x15 (TSC = crystal ECX x EBX / EAX, Intel SDM vol. 2A, CPUID) and,
 * where ECX is 0 (Skylake client), leaf 0x16's base frequency (MHz), as Linux's
 * native_calibrate_tsc reads them. Generated: crystals of 19.2, 24, 25 and 38.4 MHz, ratios for
 * 1..5 GHz, a third of the CPUs with ECX 0. Oracle: tsc_calibrate(0, false) within 1 % of the
 * frequency CPUID states (an HPET-based fallback would pass too on such a PC; the HPET is not
 * simulated here).
 */
static void test_tsc_clock_without_pit_or_pm_timer(void)
{
	static const uint32_t crystals[] = { 19200000, 24000000, 25000000, 38400000 };
	uint64_t rng = 0x75C15ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 24; c++) {
		uint32_t crystal = crystals[c % ARRAY_SIZE(crystals)];
		uint32_t den = 2, num = (uint32_t)(2 * (1000000000ULL + test_rng_next(&rng) % 4000000000ULL) / crystal);
		uint64_t hz = (uint64_t)crystal * num / den;
		hwq_clock_pc(hz, true);
		sim.leaf15[0] = den;
		sim.leaf15[1] = num;
		sim.leaf15[2] = c % 3 == 2 ? 0 : crystal;
		sim.leaf16_mhz = (uint32_t)(hz / 1000000);
		uint64_t want = c % 3 == 2 ? (uint64_t)sim.leaf16_mhz * 1000000 : hz;
		uint64_t got = tsc_calibrate(0, false);
		n++;
		if (!hwq_within_1pct(got, want) && bad++ < 3)
			printf("# PIT gated, no PM timer, CPUID 0x15 = %u/%u x %u Hz, 0x16 = %u MHz: tsc_calibrate %llu Hz "
			       "(source %s), want %llu\n", num, den, sim.leaf15[2], sim.leaf16_mhz, (unsigned long long)got,
			       tsc_source(), (unsigned long long)want);
	}
	ok(bad == 0, "%u PCs with the PIT gated and no PM timer whose CPUID states the TSC frequency: calibrated "
	   "within 1 %% (%u got another frequency or none, so no other CPU would start)", n, bad);
}

/* The PIT gated, the PM timer on: the fallback the code has works on such a PC. */
static void test_tsc_pit_gated_pm_timer_used(void)
{
	uint64_t rng = 0x9A7EDULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 16; c++) {
		uint64_t hz = 800000000ULL + test_rng_next(&rng) % 4200000000ULL;
		hwq_clock_pc(hz, true);
		uint64_t got = tsc_calibrate(0x408, c % 2);
		n++;
		if ((!hwq_within_1pct(got, hz) || strcmp(tsc_source(), "ACPI PM timer")) && bad++ < 3)
			printf("# TSC %llu Hz, PIT gated: %llu Hz from %s\n", (unsigned long long)hz, (unsigned long long)got,
			       tsc_source());
	}
	ok(bad == 0, "%u PCs with the PIT gated and a PM timer: calibrated by the PM timer within 1 %% (%u wrong)", n, bad);
}

/* ---------------------------------------------------------------- the HPET */

/* A PC with the PIT gated, no PM timer, CPUID stating nothing (an AMD CPU: leaves 0x15 and 0x16
 * reserved; here the highest leaf is 1) and an HPET of period fs, 64 or 32 bits, whose main counter
 * starts at count and whose configuration is cfg (ENABLE_CNF clear: stopped). */
static void hwq_hpet_pc(uint64_t hz, enum hwq_hpet_kind kind, uint32_t period, bool bits64, uint64_t count,
			uint32_t cfg)
{
	hwq_clock_pc(hz, true);
	sim.cpuid_max = 1;
	memset(&hpet, 0, sizeof(hpet));
	hpet.kind = kind;
	hpet.period = period;
	hpet.bits64 = bits64;
	hpet.frozen = count;
	hpet.cfg = cfg;
	hpet.enabled_at = sim.tsc;
	tsc_set_hpet(hwq_hpet_page);
}

/*
 * tsc.h: with the PIT gated and no PM timer, "then the HPET": an AMD PC with hardware-reduced ACPI
 * has no other clock. Generated: TSCs of 0.8..5 GHz, HPET periods of 14.318 MHz, 25 MHz and random
 * ones in 10 MHz..1 GHz, 32- and 64-bit counters, started or stopped, LEG_RT_CNF set or not, a
 * 32-bit counter a few ticks before it wraps. Oracle: within 1 % of the TSC's frequency, source
 * "HPET", the configuration register as it was and written exactly 0 (running) or 2 times (started,
 * then put back), no other register written.
 */
static void test_tsc_hpet_calibrates(void)
{
	static const uint32_t periods[] = { 69841279, 40000000, 100000000, 1000000, 10000000 };
	uint64_t rng = 0x4E7E7ULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 40; c++) {
		uint64_t hz = 800000000ULL + test_rng_next(&rng) % 4200000000ULL;
		uint32_t period = c < ARRAY_SIZE(periods) * 2 ? periods[c % ARRAY_SIZE(periods)] :
			1000000u + (uint32_t)(test_rng_next(&rng) % (100000000u - 1000000u + 1));
		bool bits64 = c % 2, running = c % 4 == 3;
		uint32_t cfg = (running ? 1u : 0) | (c % 3 == 0 ? 2u : 0);   /* ENABLE_CNF, LEG_RT_CNF */
		uint64_t count = c % 5 == 0 ? 0xFFFFFFFFull - (c % 7) * 100 : test_rng_next(&rng);
		hwq_hpet_pc(hz, HWQ_HPET_RUNS, period, bits64, count, cfg);
		uint64_t got = tsc_calibrate(0, false);
		n++;
		bool good = hwq_within_1pct(got, hz) && strcmp(tsc_source(), "HPET") == 0 && hpet.cfg == cfg &&
			    hpet.writes == (running ? 0u : 2u) && !hpet.other_write;
		if (!good && bad++ < 3)
			printf("# TSC %llu Hz, HPET period %u fs, %s, cfg 0x%x: %llu Hz from %s, cfg now 0x%x, %llu writes\n",
			       (unsigned long long)hz, period, bits64 ? "64-bit" : "32-bit", cfg, (unsigned long long)got,
			       tsc_source(), hpet.cfg, (unsigned long long)hpet.writes);
	}
	tsc_set_hpet(NULL);
	ok(bad == 0, "%u PCs with the PIT gated, no PM timer, no CPUID frequency and an HPET: calibrated by the HPET "
	   "within 1 %%, its configuration put back (%u wrong)", n, bad);
}

/*
 * A dead HPET costs a bounded wait: a counter that never advances (stopped or stuck), every
 * register reading all ones, periods just outside 1..100 ns, 0 and 2^32 - 1. tsc_measure_hpet
 * gives 0, spends at most the calibration limit (the interval at 20 GHz plus 25 %, plus five reads)
 * of TSC time and CALIB_POLL_MAX + a few reads, and leaves the configuration as it was; and
 * tsc_calibrate, with nothing else ticking, gives 0 and "none". Also with a TSC that stands still
 * (read cost 0): the read count alone ends the wait.
 */
static void test_tsc_hpet_dead_bounded(void)
{
	static const uint32_t periods[] = { HPET_PERIOD_MIN - 1, HPET_PERIOD_MAX + 1, 0, 0xFFFFFFFFu, 1 };
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 24; c++) {
		uint64_t hz = 1000000000ULL + c * 150000000ULL;
		enum hwq_hpet_kind kind = c % 3 == 0 ? HWQ_HPET_STUCK : c % 3 == 1 ? HWQ_HPET_ALL_ONES : HWQ_HPET_RUNS;
		uint32_t period = kind == HWQ_HPET_RUNS ? periods[c % ARRAY_SIZE(periods)] : 69841279;
		uint32_t cfg = c % 2 ? 2u : 0;
		hwq_hpet_pc(hz, kind, period, c % 4 < 2, 0, cfg);
		if (c % 6 == 0)
			sim.read_cost = 0;       /* a TSC that advances by one per read only */
		uint64_t t0 = sim.tsc;
		uint64_t got = tsc_measure_hpet(hwq_hpet_page);
		uint64_t spent = sim.tsc - t0, reads = hpet.reads;
		uint64_t target = 1000000000000000ull / 69841279 / 1000 * CALIB_MS;
		uint64_t most = tsc_calib_limit(target, 1000000000000000ull / 69841279) + 5 * sim.read_cost + 8;   /* + 3 reads before t0, 1 past the limit */
		bool cal = tsc_calibrate(0, false) == 0 && strcmp(tsc_source(), "none") == 0;
		n++;
		bool good = got == 0 && (kind == HWQ_HPET_ALL_ONES || hpet.cfg == cfg) && reads <= CALIB_POLL_MAX + 4 &&
			    (kind != HWQ_HPET_STUCK || sim.read_cost == 0 || spent <= most) && cal;
		if (!good && bad++ < 3)
			printf("# dead HPET (kind %d, period %u): %llu Hz, %llu TSC ticks (at most %llu), %llu reads, cfg 0x%x "
			       "(was 0x%x), calibrate %s\n", kind, period, (unsigned long long)got, (unsigned long long)spent,
			       (unsigned long long)most, (unsigned long long)reads, hpet.cfg, cfg, tsc_source());
	}
	tsc_set_hpet(NULL);
	ok(bad == 0, "%u dead HPETs (stuck, all ones, period out of 1..100 ns): 0 Hz after a bounded wait, configuration "
	   "put back, and no clock from tsc_calibrate (%u wrong)", n, bad);
}

/*
 * The period's bounds, generated on both sides: every period in HPET_PERIOD_MIN..HPET_PERIOD_MAX
 * tried (the ends, their neighbours inside and random ones) measures within 1 %; the neighbours
 * outside give 0 without writing the configuration. The PIT and PM timer win when they tick: with
 * the PIT alive, the source is the PIT, and the HPET's registers are never read.
 */
static void test_tsc_hpet_period_bounds(void)
{
	uint64_t rng = 0xB0D5ULL;
	unsigned n = 0, bad = 0;

	for (unsigned c = 0; c < 36; c++) {
		static const uint32_t edges[] = { HPET_PERIOD_MIN, HPET_PERIOD_MIN + 1, HPET_PERIOD_MAX - 1, HPET_PERIOD_MAX,
						  HPET_PERIOD_MIN - 1, HPET_PERIOD_MAX + 1 };
		uint32_t period = c < ARRAY_SIZE(edges) ? edges[c] :
			c % 2 ? HPET_PERIOD_MIN - 1 - (uint32_t)(test_rng_next(&rng) % (HPET_PERIOD_MIN - 1)) :
			HPET_PERIOD_MIN + (uint32_t)(test_rng_next(&rng) % (HPET_PERIOD_MAX - HPET_PERIOD_MIN + 1));
		bool inside = period >= HPET_PERIOD_MIN && period <= HPET_PERIOD_MAX;
		uint64_t hz = 1000000000ULL + test_rng_next(&rng) % 3000000000ULL;
		hwq_hpet_pc(hz, HWQ_HPET_RUNS, period, c % 2, test_rng_next(&rng), 0);
		uint64_t got = tsc_measure_hpet(hwq_hpet_page);
		n++;
		bool good = inside ? hwq_within_1pct(got, hz) && hpet.cfg == 0 && hpet.writes == 2 :
				     got == 0 && hpet.writes == 0;
		if (!good && bad++ < 3)
			printf("# HPET period %u fs (%s the bounds), TSC %llu Hz: %llu Hz, %llu writes\n", period,
			       inside ? "inside" : "outside", (unsigned long long)hz, (unsigned long long)got,
			       (unsigned long long)hpet.writes);
	}
	hwq_hpet_pc(2000000000ULL, HWQ_HPET_RUNS, 69841279, true, 0, 0);
	sim.pit_gated = false;
	uint64_t got = tsc_calibrate(0, false);
	bool pit_first = hwq_within_1pct(got, 2000000000ULL) && strcmp(tsc_source(), "PIT") == 0 && hpet.reads > 0 &&
			 tsc_pit_rejected() == 0;
	tsc_set_hpet(NULL);
	ok(bad == 0 && pit_first, "%u HPET periods at and beyond 1..100 ns: measured within 1 %% inside, refused outside "
	   "(%u wrong); a ticking PIT that the HPET agrees with is used (%s)", n, bad, pit_first ? "yes" : "no");
}

/*
 * tsc.c: "then a counter (the PM timer, else the HPET)". A PM timer that ticks, but at a rate
 * (100 times ACPI's) whose TSC figure lies outside TSC_HZ_MIN..TSC_HZ_MAX, counts as none: the
 * HPET calibrates, within 1 %, rather than no clock at all.
 */
static void test_tsc_pm_timer_implausible_hpet_used(void)
{
	uint64_t rng = 0x9B3E7ULL;
	unsigned n = 0, bad = 0;
	for (unsigned c = 0; c < 8; c++) {
		uint64_t hz = 800000000ULL + test_rng_next(&rng) % 4200000000ULL;
		hwq_hpet_pc(hz, HWQ_HPET_RUNS, 69841279, c % 2, test_rng_next(&rng), 0);
		sim.pm_hz = 100ull * PM_TIMER_HZ;
		uint64_t pm = tsc_measure_pm(0x408, false), got = tsc_calibrate(0x408, false);
		n++;
		if ((!pm || tsc_hz_plausible(pm) || !hwq_within_1pct(got, hz) || strcmp(tsc_source(), "HPET")) && bad++ < 3)
			printf("# TSC %llu Hz, PM timer at 100x: %llu Hz from it, calibrated %llu Hz from %s\n",
			       (unsigned long long)hz, (unsigned long long)pm, (unsigned long long)got, tsc_source());
	}
	tsc_set_hpet(NULL);
	ok(bad == 0, "%u PCs with the PIT gated, a PM timer at 100 times its rate and an HPET: the HPET calibrates "
	   "within 1 %% (%u wrong)", n, bad);
}

/* ---------------------------------------------------------------- COM1 */

/*
 * serial.c: "Probed through the scratch register: an absent port reads 0xFF everywhere"; the
 * checklist: "probe with the scratch register before trusting the port". A port reading 0xFF or
 * 0x00, or one whose scratch register keeps one value: serial_init false, and serial_write of any
 * text then touches no port (no bounded spin per byte on a port that is not there). A UART that
 * answers gets the bytes in order, each LF preceded by CR.
 */
static void test_serial_absent_or_present(void)
{
	static const enum hwq_uart absent[] = { HWQ_UART_READS_FF, HWQ_UART_READS_00, HWQ_UART_SCRATCH_DEAD };
	static const char text[] = "rmkernel: booting\nline two\n";
	static const char want[] = "rmkernel: booting\r\nline two\r\n";
	unsigned bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(absent); i++) {
		memset(&sim, 0, sizeof(sim));
		sim.uart = absent[i];
		bool found = serial_init();
		uint64_t ops = sim.uart_port_ops;
		serial_write(text, sizeof(text) - 1);
		if ((found || sim.uart_port_ops != ops) && bad++ < 3)
			printf("# COM1 mode %u: serial_init %d, %llu port operations for the text\n", absent[i], found,
			       (unsigned long long)(sim.uart_port_ops - ops));
	}
	memset(&sim, 0, sizeof(sim));
	sim.uart = HWQ_UART_PRESENT;
	bool found = serial_init();
	sim.uart_n = 0;   /* the divisor's low byte went through the data port */
	serial_write(text, sizeof(text) - 1);
	bool present_ok = found && sim.uart_n == sizeof(want) - 1 && memcmp(sim.uart_out, want, sim.uart_n) == 0;
	ok(bad == 0 && present_ok, "COM1 absent three ways: not used, no port touched after the probe (%u wrong); a "
	   "UART present gets the text with CR LF (%s)", bad, present_ok ? "ok" : "wrong");
}

/* Input bytes of text[0..n) whose whole expansion (LF as CR LF) lies in the first sent bytes out. */
static size_t hwq_chars_sent(const char *text, size_t n, size_t sent)
{
	size_t used = 0, i = 0;
	for (; i < n; i++) {
		used += text[i] == '\n' ? 2 : 1;
		if (used > sent)
			break;
	}
	return i;
}

/*
 * A UART whose scratch register works (serial_init says yes) but whose transmitter stops taking
 * bytes, at once or after k bytes: serial.h, a byte that times out stops the port. Generated: k
 * 0..40 (some at a CR of a CR LF), texts of 1..200 bytes (a sixth of them LF), then 1..20 more
 * writes. Oracle: COM1 got exactly the first k bytes of the expanded text; the port cost the k
 * bytes' reads and writes plus one bounded wait (SERIAL_SPIN_LIMIT reads) in all, none for the
 * later writes; serial_bytes_dropped counts every byte of text not sent; the console says it once.
 */
static void test_serial_transmitter_stops(void)
{
	uint64_t rng = 0x5E71A1ULL;
	unsigned n = 0, bad = 0;
	char text[201], expanded[402], out[1024];
	for (unsigned c = 0; c < 60; c++) {
		size_t len = 1 + test_rng_next(&rng) % 200, x = 0;
		for (size_t i = 0; i < len; i++) {
			text[i] = test_rng_next(&rng) % 6 ? (char)('a' + test_rng_next(&rng) % 26) : '\n';
			if (text[i] == '\n')
				expanded[x++] = '\r';
			expanded[x++] = text[i];
		}
		memset(&sim, 0, sizeof(sim));
		sim.uart = HWQ_UART_THR_STOPS;
		sim.uart_thre_bytes = 1000;
		bool found = serial_init();
		sim.uart_n = 0;   /* the divisor's low byte went through the data port */
		size_t k = c % 5 == 0 ? 0 : test_rng_next(&rng) % 41;
		for (size_t i = 0; c % 7 == 1 && i < x && i < 40; i++)
			if (expanded[i] == '\r')   /* stop between a CR and its LF */
				k = i + 1;
		k = k < x ? k : x - 1;
		sim.uart_thre_bytes = k;
		uint64_t ops0 = sim.uart_port_ops, dropped_want = len - hwq_chars_sent(text, len, k);
		capture_begin();
		serial_write(text, len);
		uint64_t ops1 = sim.uart_port_ops;
		unsigned more = 1 + (unsigned)(test_rng_next(&rng) % 20);
		for (unsigned w = 0; w < more; w++) {
			serial_write(text, len);
			dropped_want += len;
		}
		size_t said = capture_end(out, sizeof(out));
		unsigned times = 0;
		for (const char *p = out; (p = strstr(p, "serial: COM1")); p++)
			times++;
		n++;
		bool good = found && sim.uart_n == k && memcmp(sim.uart_out, expanded, k) == 0 &&
			    ops1 - ops0 <= 2 * k + SERIAL_SPIN_LIMIT && sim.uart_port_ops == ops1 &&
			    serial_bytes_dropped() == dropped_want && times == 1 && said > 0;
		if (!good && bad++ < 3)
			printf("# transmitter stops after %zu of %zu bytes: %zu sent, %llu port operations for the first "
			       "text (at most %zu), %llu for %u more, %llu dropped (want %llu), said %u times\n", k, x,
			       sim.uart_n, (unsigned long long)(ops1 - ops0), 2 * k + SERIAL_SPIN_LIMIT,
			       (unsigned long long)(sim.uart_port_ops - ops1), more,
			       (unsigned long long)serial_bytes_dropped(), (unsigned long long)dropped_want, times);
	}
	memset(&sim, 0, sizeof(sim));
	sim.uart = HWQ_UART_PRESENT;
	bool again = serial_init();
	sim.uart_n = 0;
	serial_write("ok\n", 3);
	bool reprobe = again && sim.uart_n == 4 && memcmp(sim.uart_out, "ok\r\n", 4) == 0 && serial_bytes_dropped() == 0;
	ok(bad == 0 && reprobe, "%u UARTs whose transmitter stops taking bytes: the bytes before sent, one bounded wait, "
	   "then no port touched and every byte counted as dropped, said once (%u wrong); a new probe of a working "
	   "UART sends again (%s)", n, bad, reprobe ? "ok" : "wrong");
}

int main(void)
{
	fake_arch_init();
	test_fb_listed_as_ram_not_aliased();
	test_fb_not_listed_no_alias();
	test_tsc_clock_without_pit_or_pm_timer();
	test_tsc_pit_gated_pm_timer_used();
	test_tsc_hpet_calibrates();
	test_tsc_hpet_dead_bounded();
	test_tsc_hpet_period_bounds();
	test_tsc_pm_timer_implausible_hpet_used();
	test_serial_absent_or_present();
	test_serial_transmitter_stops();
	return tap_done();
}
