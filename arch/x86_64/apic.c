/* The local APIC in xAPIC or x2APIC mode (see apic.h). Register offsets: SDM vol. 3A, table 11-1. */
#include "apic.h"
#include "apic_mode.h"
#include "x86.h"
#include "cpu.h"
#include "tsc.h"
#include "vmlayout.h"
#include "arch_mm.h"
#include "kprintf.h"

#define APIC_REG_ID       0x020
#define APIC_REG_VERSION  0x030
#define APIC_REG_TPR      0x080
#define APIC_REG_EOI      0x0B0
#define APIC_REG_SVR      0x0F0
#define APIC_REG_ESR      0x280
#define APIC_REG_ICR_LO   0x300
#define APIC_REG_ICR_HI   0x310
#define APIC_REG_LVT_TIMER   0x320
#define APIC_REG_LVT_THERMAL 0x330
#define APIC_REG_LVT_PERF    0x340
#define APIC_REG_LVT_LINT0   0x350
#define APIC_REG_LVT_ERROR   0x370
#define APIC_X2APIC_MSR_BASE 0x800u   /* x2APIC register r is MSR 0x800 + r / 16 */
#define APIC_X2APIC_ICR      0x830u

#define APIC_SVR_ENABLE   (1u << 8)
#define APIC_LVT_MASKED   (1u << 16)
#define APIC_LVT_MAX_PERF 4u          /* version bits 23:16 (highest LVT index) from which PERF exists */
#define APIC_LVT_MAX_THERMAL 5u
#define APIC_BASE_EXTD    (1ULL << 10) /* IA32_APIC_BASE: x2APIC mode */
#define APIC_BASE_EN      (1ULL << 11) /* IA32_APIC_BASE: global enable */
#define CPUID1_EDX_APIC   (1u << 9)
#define PIC1_DATA 0x21
#define PIC2_DATA 0xA1

static bool apic_up;
static bool apic_x2;
static paddr_t apic_phys;
static volatile uint32_t *const apic_mmio = (volatile uint32_t *)LAPIC_VA;

bool apic_ready(void) { return apic_up; }
bool apic_x2apic(void) { return apic_x2; }
paddr_t apic_mmio_phys(void) { return apic_x2 ? 0 : apic_phys; }

/* Reads register reg (an xAPIC offset) in the current mode. */
static uint32_t apic_read(uint32_t reg)
{
	if (apic_x2)
		return (uint32_t)rdmsr(APIC_X2APIC_MSR_BASE + (reg >> 4));
	return apic_mmio[reg / 4];
}

/* Writes register reg (an xAPIC offset) in the current mode. */
static void apic_write(uint32_t reg, uint32_t v)
{
	if (apic_x2)
		wrmsr(APIC_X2APIC_MSR_BASE + (reg >> 4), v);
	else
		apic_mmio[reg / 4] = v;
}

uint32_t apic_id(void)
{
	uint32_t id = apic_read(APIC_REG_ID);
	return apic_x2 ? id : id >> 24;
}

void apic_eoi(void) { apic_write(APIC_REG_EOI, 0); }

/* Waits until the xAPIC's delivery status says idle; 0, or -1 after APIC_SEND_TIMEOUT_US. */
static int apic_wait_idle(void)
{
	uint64_t deadline = rdtsc() + tsc_us_to_ticks(APIC_SEND_TIMEOUT_US);

	while (apic_read(APIC_REG_ICR_LO) & APIC_ICR_BUSY) {
		if (rdtsc() > deadline)
			return -1;
		arch_cpu_relax();
	}
	return 0;
}

int apic_send(uint32_t dest, uint32_t low)
{
	uint64_t f = arch_irq_save();   /* the two xAPIC writes must not interleave with a handler's send */
	int st = 0;

	if (apic_x2) {
		/* A WRMSR to the x2APIC ICR is not serializing: earlier stores (a posted call, the
		 * trampoline's data) must be visible before the IPI is (SDM vol. 3A, 11.12.3). MFENCE
		 * alone orders memory accesses, not the WRMSR, which may run ahead of it: the SDM's
		 * sequence is MFENCE then LFENCE. */
		mfence_lfence();
		wrmsr(APIC_X2APIC_ICR, apic_icr_x2apic(dest, low));
	} else {
		st = apic_wait_idle();
		if (st == 0) {
			apic_write(APIC_REG_ICR_HI, apic_icr_xapic_high(dest));
			apic_write(APIC_REG_ICR_LO, low);
			st = apic_wait_idle();
		}
	}
	arch_irq_restore(f);
	return st;
}

uint32_t apic_esr_take(void)
{
	uint64_t f = arch_irq_save();   /* the write and the read as one: a handler's take in between would eat the bits */
	uint32_t esr;

	apic_write(APIC_REG_ESR, 0);     /* x2APIC mode takes only 0 (a #GP otherwise) */
	esr = apic_read(APIC_REG_ESR);
	arch_irq_restore(f);
	return esr;
}

void apic_init_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	/* Disabled -> x2APIC is not a valid transition: enable in xAPIC mode first (SDM 11.12.5). */
	if (!(base & APIC_BASE_EN))
		wrmsr(MSR_APIC_BASE, base |= APIC_BASE_EN);
	if (apic_x2 && !(base & APIC_BASE_EXTD))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	apic_write(APIC_REG_SVR, APIC_SVR_ENABLE | APIC_VEC_SPURIOUS);
	apic_write(APIC_REG_TPR, 0);
	uint32_t maxlvt = (apic_read(APIC_REG_VERSION) >> 16) & 0xFF;
	apic_write(APIC_REG_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_REG_LVT_LINT0, APIC_LVT_MASKED);
	apic_write(APIC_REG_LVT_ERROR, APIC_LVT_MASKED);
	if (maxlvt >= APIC_LVT_MAX_PERF)
		apic_write(APIC_REG_LVT_PERF, APIC_LVT_MASKED);
	if (maxlvt >= APIC_LVT_MAX_THERMAL)
		apic_write(APIC_REG_LVT_THERMAL, APIC_LVT_MASKED);
	apic_write(APIC_REG_ESR, 0);
}

int apic_init_boot(const struct smp_ops *ops, bool dmar_x2apic_opt_out)
{
	uint32_t r[4];
	uint64_t base = rdmsr(MSR_APIC_BASE);
	enum apic_mode mode;

	cpuid(1, 0, r);
	if (!(r[3] & CPUID1_EDX_APIC)) {
		kprintf("apic: the CPU has no local APIC\n");
		return -1;
	}
	mode = apic_mode_choose(cpu_feat.x2apic, base & APIC_BASE_EXTD, dmar_x2apic_opt_out);
	if (mode == APIC_MODE_XAPIC_OPTED_OUT)
		kprintf("apic: the ACPI DMAR opts out of x2APIC mode (X2APIC_OPT_OUT): xAPIC mode, "
			"CPUs with APIC ids above 0xFE cannot start\n");
	else if (mode == APIC_MODE_X2APIC_FIRMWARE && dmar_x2apic_opt_out)
		kprintf("apic: the firmware enabled x2APIC mode: kept, although the ACPI DMAR opts out of it\n");
	apic_x2 = apic_mode_is_x2apic(mode);
	/* the width the kernel uses everywhere (32..52 whatever CPUID reports): the raw field may be
	 * 0 or past 63 on a hypervisor's zero-filled leaf */
	apic_phys = base & ~PAGE_MASK & (((uint64_t)1 << arch_phys_addr_bits()) - 1);
	if (!apic_x2) {
		if (ops->mapped(DMAP_BASE + apic_phys)) {
			kprintf("apic: the local APIC page 0x%llx lies in RAM the direct map covers (write-back); "
				"not using it\n", (unsigned long long)apic_phys);
			return -1;
		}
		if (ops->map(LAPIC_VA, apic_phys, PAGE_SIZE, SMP_CACHE_UC) != 0) {
			kprintf("apic: cannot map the local APIC page 0x%llx\n", (unsigned long long)apic_phys);
			return -1;
		}
	}
	/* The 8259 PICs stay masked: the kernel takes no legacy interrupt. */
	outb(PIC1_DATA, 0xFF);
	outb(PIC2_DATA, 0xFF);
	apic_up = true;
	apic_init_cpu();
	return 0;
}
