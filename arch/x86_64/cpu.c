/* CPU feature detection and control-register setup: never assume the firmware set anything. */
#include "x86.h"
#include "cpu.h"
#include "kprintf.h"

struct cpu_features cpu_feat;

#define CPUID1_EDX_PAT   (1u << 16)
#define CPUID1_EDX_PGE   (1u << 13)
#define CPUID1_ECX_PCID  (1u << 17)
#define CPUID7_EBX_SMEP  (1u << 7)
#define CPUID7_EBX_INVPCID (1u << 10)
#define CPUID7_EBX_SMAP  (1u << 20)
#define CPUIDX1_EDX_NX   (1u << 20)
#define CPUIDX1_EDX_1G   (1u << 26)

#define CPUID_BRAND_FIRST 0x80000002u
#define CPUID_BRAND_LEAVES 3

/* Fills cpu_feat.brand from the brand-string leaves (when max_ext has them), leading blanks dropped. */
static void cpu_read_brand(uint32_t max_ext)
{
	uint32_t raw[4 * CPUID_BRAND_LEAVES + 1] = { 0 };
	const char *p = (const char *)raw;
	size_t i = 0;

	if (max_ext < CPUID_BRAND_FIRST + CPUID_BRAND_LEAVES - 1)
		return;
	for (uint32_t l = 0; l < CPUID_BRAND_LEAVES; l++)
		cpuid(CPUID_BRAND_FIRST + l, 0, &raw[4 * l]);
	while (*p == ' ')
		p++;
	for (; p[i] && i < sizeof(cpu_feat.brand) - 1; i++)
		cpu_feat.brand[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	cpu_feat.brand[i] = 0;
}

/* Fills cpu_feat from CPUID. */
void cpu_detect(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	uint32_t max_leaf = r[0];
	((uint32_t *)cpu_feat.vendor)[0] = r[1];
	((uint32_t *)cpu_feat.vendor)[1] = r[3];
	((uint32_t *)cpu_feat.vendor)[2] = r[2];
	cpu_feat.vendor[12] = 0;
	if (max_leaf >= 1) {
		cpuid(1, 0, r);
		cpu_feat.apic_id = r[1] >> 24;
		cpu_feat.pat = r[3] & CPUID1_EDX_PAT;
		cpu_feat.pge = r[3] & CPUID1_EDX_PGE;
		cpu_feat.pcid = r[2] & CPUID1_ECX_PCID;
	}
	if (max_leaf >= 7) {
		cpuid(7, 0, r);
		cpu_feat.smep = r[1] & CPUID7_EBX_SMEP;
		cpu_feat.smap = r[1] & CPUID7_EBX_SMAP;
		cpu_feat.invpcid = r[1] & CPUID7_EBX_INVPCID;
	}
	/* Without extended leaves a CPU answers with its highest basic leaf: only 0x8000xxxx counts. */
	cpuid(0x80000000, 0, r);
	uint32_t max_ext = (r[0] & 0xffff0000u) == 0x80000000u ? r[0] : 0;
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		cpu_feat.nx = r[3] & CPUIDX1_EDX_NX;
		cpu_feat.page1g = r[3] & CPUIDX1_EDX_1G;
	}
	cpu_read_brand(max_ext);
	cpu_feat.max_phys_bits = 36;
	if (max_ext >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		cpu_feat.max_phys_bits = r[0] & 0xff;
	}
}

/*
 * Sets EFER.NXE, CR0.WP, CR4.PGE/SMEP/SMAP from what the CPU has; an absent feature's bit is never
 * written (it would #GP). PCID stays off (one space).
 */
void cpu_init_control_regs(void)
{
	if (cpu_feat.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	uint64_t cr4 = read_cr4();
	if (cpu_feat.pge)
		cr4 |= CR4_PGE;
	if (cpu_feat.smep)
		cr4 |= CR4_SMEP;
	if (cpu_feat.smap)
		cr4 |= CR4_SMAP;
	write_cr4(cr4);
}

/* Programs the PAT so WB, WT, UC-, UC and WC are each reachable from a 4 KiB PTE (x86.h). */
void cpu_init_pat(void)
{
	if (cpu_feat.pat)
		wrmsr(MSR_PAT, PAT_VALUE);
}

/* Logs the decisions taken from CPUID. */
void cpu_print_features(void)
{
	kprintf("cpu: %s nx=%d 1g=%d pcid=%d invpcid=%d smep=%d smap=%d pat=%d pge=%d physbits=%u\n",
		cpu_feat.vendor, cpu_feat.nx, cpu_feat.page1g, cpu_feat.pcid, cpu_feat.invpcid,
		cpu_feat.smep, cpu_feat.smap, cpu_feat.pat, cpu_feat.pge, cpu_feat.max_phys_bits);
	kprintf("cpu: \"%s\", boot CPU APIC id %u\n", cpu_feat.brand, cpu_feat.apic_id);
	kprintf("cpu: direct map uses %s pages\n", cpu_feat.page1g ? "1 GiB" : "2 MiB");
}
