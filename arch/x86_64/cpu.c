/* CPU feature detection and control-register setup: never assume the firmware set anything. */
#include "x86.h"
#include "cpu.h"
#include "kprintf.h"
#include "kstring.h"
#include "physwidth.h"

struct cpu_features cpu_feat;

#define CPUID1_EDX_PAT   (1u << 16)
#define CPUID1_EDX_PGE   (1u << 13)
#define CPUID1_EDX_MTRR  (1u << 12)
#define CPUID1_EDX_MCE   (1u << 7)
#define CPUID1_ECX_PCID  (1u << 17)
#define CPUID1_ECX_X2APIC (1u << 21)
#define CPUID7_EBX_SMEP  (1u << 7)
#define CPUID7_EBX_INVPCID (1u << 10)
#define CPUID7_EBX_SMAP  (1u << 20)
#define CPUID7_ECX_CET_SS  (1u << 7)
#define CPUID7_EDX_CET_IBT (1u << 20)
#define CPUIDX1_EDX_NX   (1u << 20)
#define CPUIDX1_EDX_1G   (1u << 26)

#define CPUID_VENDOR_INTEL "GenuineIntel"

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

/* Clears this Intel CPU's XD Bit Disable when set; CPU_XD_STUCK when the write did not take. */
enum cpu_xd cpu_xd_enable(void)
{
	uint64_t misc = rdmsr(MSR_MISC_ENABLE);

	if (!(misc & MISC_ENABLE_XD_DISABLE))
		return CPU_XD_CLEAR;
	wrmsr(MSR_MISC_ENABLE, misc & ~MISC_ENABLE_XD_DISABLE);
	return rdmsr(MSR_MISC_ENABLE) & MISC_ENABLE_XD_DISABLE ? CPU_XD_STUCK : CPU_XD_REENABLED;
}

bool cpu_cpuid_unlimit(void)
{
	uint64_t misc = rdmsr(MSR_MISC_ENABLE);

	if (!(misc & MISC_ENABLE_LIMIT_CPUID))
		return false;
	wrmsr(MSR_MISC_ENABLE, misc & ~MISC_ENABLE_LIMIT_CPUID);
	return !(rdmsr(MSR_MISC_ENABLE) & MISC_ENABLE_LIMIT_CPUID);
}

/* What the notes say about XD Bit Disable (cpu_feat.xd and nx), or NULL. */
const char *cpu_xd_text(void)
{
	switch (cpu_feat.xd) {
	case CPU_XD_REENABLED:
		return cpu_feat.nx ? "Execute Disable was turned off in the firmware setup (IA32_MISC_ENABLE XD Bit "
				     "Disable); the kernel turned it back on, on every CPU" :
				     "IA32_MISC_ENABLE XD Bit Disable was set and the kernel cleared it, yet CPUID "
				     "reports no NX";
	case CPU_XD_STUCK:
		return "Execute Disable is turned off in the firmware setup (IA32_MISC_ENABLE XD Bit Disable) and "
		       "stayed off when the kernel wrote the bit clear";
	default:
		return NULL;
	}
}

/* CPUID leaf (subleaf 0) and RDMSR as physwidth_read calls them. */
static void cpu_cpuid_leaf(uint32_t leaf, uint32_t r[4]) { cpuid(leaf, 0, r); }
static uint64_t cpu_rdmsr(uint32_t msr) { return rdmsr(msr); }

/* Fills cpu_feat from CPUID; on an Intel CPU, Limit CPUID Maxval is cleared before any leaf past 0
 * is read, so every leaf the CPU has is seen (the boot CPU's: the kernel reads no leaf past 1 on
 * an AP), and XD Bit Disable before leaf 0x80000001 is, so nx is what the CPU has once Execute
 * Disable is back on. */
void cpu_detect(void)
{
	uint32_t r[4];
	/* the width first, on the leaves the loader saw (before Limit CPUID Maxval is lifted) */
	struct physwidth w = physwidth_read(cpu_cpuid_leaf, cpu_rdmsr);
	cpu_feat.max_phys_bits = w.bits;
	cpu_feat.cpu_phys_bits = w.cpu_bits;
	cpu_feat.encrypt_phys_bits = w.encrypt_bits;
	cpu_feat.phys_encrypt = w.encrypt;
	cpu_feat.phys_cbit = w.cbit;
	cpuid(0, 0, r);
	uint32_t max_leaf = r[0];
	((uint32_t *)cpu_feat.vendor)[0] = r[1];
	((uint32_t *)cpu_feat.vendor)[1] = r[3];
	((uint32_t *)cpu_feat.vendor)[2] = r[2];
	cpu_feat.vendor[12] = 0;
	bool intel = max_leaf >= 1 && memcmp(cpu_feat.vendor, CPUID_VENDOR_INTEL, sizeof(cpu_feat.vendor)) == 0;
	cpu_feat.cpuid_unlimited = intel && cpu_cpuid_unlimit();
	if (cpu_feat.cpuid_unlimited) {
		cpuid(0, 0, r);
		max_leaf = r[0];
	}
	if (max_leaf >= 1) {
		cpuid(1, 0, r);
		cpu_feat.signature = r[0];
		cpu_feat.apic_id = r[1] >> 24;
		cpu_feat.pat = r[3] & CPUID1_EDX_PAT;
		cpu_feat.pge = r[3] & CPUID1_EDX_PGE;
		cpu_feat.pcid = r[2] & CPUID1_ECX_PCID;
		cpu_feat.x2apic = r[2] & CPUID1_ECX_X2APIC;
		cpu_feat.mce = r[3] & CPUID1_EDX_MCE;
		cpu_feat.mtrr = r[3] & CPUID1_EDX_MTRR;
	}
	cpu_feat.xd = CPU_XD_NO_MSR;
	if (intel)
		cpu_feat.xd = cpu_xd_enable();
	if (max_leaf >= 7) {
		cpuid(7, 0, r);
		cpu_feat.smep = r[1] & CPUID7_EBX_SMEP;
		cpu_feat.smap = r[1] & CPUID7_EBX_SMAP;
		cpu_feat.invpcid = r[1] & CPUID7_EBX_INVPCID;
		cpu_feat.cet = (r[2] & CPUID7_ECX_CET_SS) || (r[3] & CPUID7_EDX_CET_IBT);
	}
	cpu_feat.cet_cr4_firmware = boot_firmware_cr4 & CR4_CET;
	/* Without extended leaves a CPU answers with its highest basic leaf: only 0x8000xxxx counts. */
	cpuid(0x80000000, 0, r);
	uint32_t max_ext = (r[0] & 0xffff0000u) == 0x80000000u ? r[0] : 0;
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		cpu_feat.nx = r[3] & CPUIDX1_EDX_NX;
		cpu_feat.page1g = r[3] & CPUIDX1_EDX_1G;
	}
	cpu_read_brand(max_ext);
}

/* CR0: protected mode and paging, write protection in ring 0 (WP), native x87 errors (NE, MP),
 * caches on (CD and NW clear: an AP leaves INIT with both set). */
uint64_t cpu_cr0_value(void)
{
	return CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
}

/*
 * CR4: PAE (long mode), and where the CPU has them PGE (global pages), SMEP, SMAP and MCE (a machine
 * check reaches the #MC handler instead of shutting the CPU down). Nothing else: no PCID (one
 * address space), no OSFXSR/OSXSAVE (the kernel uses no SSE), whatever the firmware had set.
 */
uint64_t cpu_cr4_value(void)
{
	return CR4_PAE | (cpu_feat.pge ? CR4_PGE : 0) | (cpu_feat.smep ? CR4_SMEP : 0) |
	       (cpu_feat.smap ? CR4_SMAP : 0) | (cpu_feat.mce ? CR4_MCE : 0);
}

/* EFER: long mode (LME, and LMA, which the CPU sets) and NXE when the CPU has NX; no SYSCALL. */
uint64_t cpu_efer_value(void)
{
	return EFER_LME | EFER_LMA | (cpu_feat.nx ? EFER_NXE : 0);
}

static const uint32_t cpu_mtrr_fixed_msr[MTRR_FIXED_COUNT] = {
	0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F,
};
static struct cpu_mtrrs cpu_mtrrs_boot;
static bool cpu_mtrrs_recorded;

void cpu_mtrr_read(struct cpu_mtrrs *m)
{
	memset(m, 0, sizeof(*m));   /* padding too: callers may compare with memcmp */
	if (!cpu_feat.mtrr)
		return;
	uint64_t cap = rdmsr(MSR_MTRR_CAP);
	m->def_type = rdmsr(MSR_MTRR_DEF_TYPE);
	m->fixed_present = cap & MTRR_CAP_FIX;
	m->nvar = (unsigned)MIN(cap & MTRR_CAP_VCNT, (uint64_t)MTRR_VAR_MAX);
	m->var_cut = (cap & MTRR_CAP_VCNT) > MTRR_VAR_MAX;
	for (unsigned i = 0; m->fixed_present && i < MTRR_FIXED_COUNT; i++)
		m->fixed[i] = rdmsr(cpu_mtrr_fixed_msr[i]);
	for (unsigned i = 0; i < 2 * m->nvar; i++)
		m->var[i] = rdmsr(MSR_MTRR_PHYS_BASE0 + i);
}

const struct cpu_mtrrs *cpu_mtrr_boot(void) { return &cpu_mtrrs_boot; }

/* True when a and b hold the same MTRR values. */
static bool cpu_mtrr_equal(const struct cpu_mtrrs *a, const struct cpu_mtrrs *b)
{
	bool same = a->def_type == b->def_type && a->nvar == b->nvar && a->fixed_present == b->fixed_present;
	for (unsigned i = 0; same && i < MTRR_FIXED_COUNT; i++)
		same = a->fixed[i] == b->fixed[i];
	for (unsigned i = 0; same && i < 2 * MTRR_VAR_MAX; i++)
		same = a->var[i] == b->var[i];
	return same;
}

/* Flushes this CPU's TLB, global entries included (CR4.PGE toggle, or a CR3 reload without PGE). */
static void cpu_flush_tlb(uint64_t cr4)
{
	if (cr4 & CR4_PGE) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
}

/*
 * Writes m into this CPU's MTRRs by the SDM's procedure (vol. 3A, 11.11.7.2): caches in no-fill
 * mode and flushed, TLB flushed, MTRRs disabled while they change, then flushed again and
 * restored. Interrupts must be off.
 */
static void cpu_mtrr_write(const struct cpu_mtrrs *m)
{
	uint64_t cr0 = read_cr0(), cr4 = read_cr4();

	write_cr0((cr0 | CR0_CD) & ~CR0_NW);
	wbinvd();
	cpu_flush_tlb(cr4);
	wrmsr(MSR_MTRR_DEF_TYPE, m->def_type & ~(MTRR_DEF_E | MTRR_DEF_FE));
	for (unsigned i = 0; m->fixed_present && i < MTRR_FIXED_COUNT; i++)
		wrmsr(cpu_mtrr_fixed_msr[i], m->fixed[i]);
	for (unsigned i = 0; i < 2 * m->nvar; i++)
		wrmsr(MSR_MTRR_PHYS_BASE0 + i, m->var[i]);
	wbinvd();
	cpu_flush_tlb(cr4);
	wrmsr(MSR_MTRR_DEF_TYPE, m->def_type);
	write_cr0(cr0);
}

/*
 * Writes EFER, CR0, CR4 and the PAT from the values above; a feature the CPU lacks is never
 * written (its bit would #GP). Runs on the boot CPU in kmain and on each AP as it starts, with
 * interrupts off. The PAT and the MTRRs are the same on every CPU, as the SDM requires (vol. 3A,
 * 11.12.4 and 11.11.8): the firmware sets the MTRRs, the kernel copies the boot CPU's to each AP
 * whose MTRRs differ (QEMU's INIT, for one, clears an AP's).
 */
void cpu_init_control_state(void)
{
	bool boot_cpu = !cpu_mtrrs_recorded;   /* the first call is the boot CPU's */

	if (cpu_feat.cet) {   /* before CR4.CET goes (entry.asm and the trampoline cleared it already) */
		if (boot_cpu)
			cpu_feat.cet_firmware = rdmsr(MSR_S_CET);
		wrmsr(MSR_S_CET, 0);
	}
	if (boot_cpu)
		cpu_feat.dr7_firmware = read_dr7();
	write_dr7(DR7_RESET);   /* as Linux's cpu_init clears the debug registers */
	wrmsr(MSR_EFER, cpu_efer_value());
	write_cr0(cpu_cr0_value());
	write_cr4(cpu_cr4_value());
	if (cpu_feat.pat)
		wrmsr(MSR_PAT, PAT_VALUE);
	if (!cpu_mtrrs_recorded) {
		cpu_mtrr_read(&cpu_mtrrs_boot);
		cpu_mtrrs_recorded = true;
		return;
	}
	struct cpu_mtrrs here;
	cpu_mtrr_read(&here);
	if (!cpu_mtrr_equal(&here, &cpu_mtrrs_boot))
		cpu_mtrr_write(&cpu_mtrrs_boot);
}

/* What the log says of breakpoints the firmware left enabled in the boot CPU's DR7, or NULL. */
const char *cpu_dr7_text(void)
{
	return cpu_feat.dr7_firmware & DR7_ENABLES ? "the firmware left hardware breakpoints enabled in DR7; the kernel "
						     "disabled them on every CPU" : NULL;
}

/* What the log says of CET (control-flow enforcement) the firmware left on, or NULL. */
const char *cpu_cet_text(void)
{
	if (!cpu_feat.cet_cr4_firmware && !cpu_feat.cet_firmware)
		return NULL;
	return cpu_feat.cet_cr4_firmware ? "the firmware left CET on (CR4.CET; IA32_S_CET below): the kernel turned it off at "
					   "entry, and IA32_S_CET to 0 on every CPU" :
					   "the firmware left IA32_S_CET set with CR4.CET clear: the kernel wrote it 0 on every CPU";
}

/* Logs the decisions taken from CPUID; the first line ends with the physical width and the memory
 * encryption that took bits of it (encrypt=none, SME, TME, SEV, SEV-ES or SEV-SNP). */
void cpu_print_features(void)
{
	kprintf("cpu: %s nx=%d 1g=%d pcid=%d invpcid=%d smep=%d smap=%d pat=%d pge=%d x2apic=%d physbits=%u encrypt=%s\n",
		cpu_feat.vendor, cpu_feat.nx, cpu_feat.page1g, cpu_feat.pcid, cpu_feat.invpcid,
		cpu_feat.smep, cpu_feat.smap, cpu_feat.pat, cpu_feat.pge, cpu_feat.x2apic, cpu_feat.max_phys_bits,
		physwidth_encrypt_name(cpu_feat.phys_encrypt));
	kprintf("cpu: control state CR0 0x%llx CR4 0x%llx EFER 0x%llx on every CPU\n",
		(unsigned long long)cpu_cr0_value(), (unsigned long long)cpu_cr4_value(),
		(unsigned long long)cpu_efer_value());
	kprintf("cpu: \"%s\", boot CPU APIC id %u\n", cpu_feat.brand, cpu_feat.apic_id);
	if (physwidth_is_sev(cpu_feat.phys_encrypt))
		kprintf("cpu: physical address width %u bits, %u with memory encryption on (SEV_STATUS: an AMD %s guest, "
			"C-bit %u: the top %u are not address bits)\n", cpu_feat.cpu_phys_bits, cpu_feat.max_phys_bits,
			physwidth_encrypt_name(cpu_feat.phys_encrypt), cpu_feat.phys_cbit, cpu_feat.encrypt_phys_bits);
	else if (cpu_feat.phys_encrypt != PHYSWIDTH_ENCRYPT_NONE)
		kprintf("cpu: physical address width %u bits, %u with memory encryption on (%s: the top %u are not "
			"address bits)\n", cpu_feat.cpu_phys_bits, cpu_feat.max_phys_bits,
			cpu_feat.phys_encrypt == PHYSWIDTH_ENCRYPT_AMD_SME ? "SYSCFG bit 23, MemEncryptionModEn" :
									     "IA32_TME_ACTIVATE's KeyID bits",
			cpu_feat.encrypt_phys_bits);
	kprintf("cpu: direct map uses %s pages\n", cpu_feat.page1g ? "1 GiB" : "2 MiB");
	if (cpu_feat.cpuid_unlimited)
		kprintf("cpu: the firmware limited CPUID to leaf 2 (IA32_MISC_ENABLE Limit CPUID Maxval); the kernel "
			"lifted the limit\n");
	const char *xd = cpu_xd_text();
	if (xd)
		kprintf("cpu: %s\n", xd);
	const char *cet = cpu_cet_text();
	if (cet)
		kprintf("cpu: %s (IA32_S_CET was 0x%llx)\n", cet, (unsigned long long)cpu_feat.cet_firmware);
	const char *dr7 = cpu_dr7_text();
	if (dr7)
		kprintf("cpu: %s (DR7 was 0x%llx)\n", dr7, (unsigned long long)cpu_feat.dr7_firmware);
}
