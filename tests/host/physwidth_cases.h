/*
 * Generated CPUs for the physical address width (include/physwidth.h), and the rule written out
 * apart from it, for the kernel's reading (tests/host/test_arch_cpuid.c, through cpu_detect) and
 * the loader's (tests/host/test_loader_platform.c, through platform_phys_addr_bits): vendors
 * (AMD, Hygon, Intel, near misses), highest basic leaves (below and from 7) and extended leaves
 * (none, below 0x8000001F, at it, past it, garbage), CPUID 1's hypervisor bit on and off, CPUID
 * 0x80000008 widths 0..255, CPUID 0x8000001F's SME and SEV bits, C-bit positions 0..63 and EBX[11:6]
 * reductions 0..63, SYSCFG with MemEncryptionModEn set or clear, SEV_STATUS with SEV, SEV-ES and
 * SEV-SNP on or off, CPUID (7,0)'s TME bit and IA32_TME_ACTIVATE locked, enabled or not with 0..15
 * KeyID bits. The fake RDMSR logs every read the CPU's CPUID says is absent (a #GP on hardware),
 * SYSCFG read under a hypervisor and SEV_STATUS read without CPUID's SEV bit; pwc_broken names the
 * first invariant a reading breaks. Only <stdint.h>, <stdbool.h>, <string.h> and physwidth.h (for
 * its enum): the loader's test includes it beside GNU-EFI's headers.
 */
#ifndef TESTS_HOST_PHYSWIDTH_CASES_H
#define TESTS_HOST_PHYSWIDTH_CASES_H

#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "test_rng.h"
#include "physwidth.h"

#define PWC_MSR_SYSCFG 0xC0010010u
#define PWC_MSR_TME_ACTIVATE 0x982u
#define PWC_MSR_SEV_STATUS 0xC0010131u
#define PWC_BITS_UNKNOWN 0xFFFFFFFFu   /* pwc_broken's bits when the caller sees only the usable width */

/* One generated CPU: what its CPUID leaves and its MSRs say. */
struct pwc_cpu {
	char vendor[13];
	uint32_t max_basic;        /* CPUID 0 EAX */
	uint32_t leaf1_ecx;        /* CPUID 1 ECX: bit 31, a hypervisor */
	uint32_t leaf7_ecx;        /* CPUID (7,0) ECX */
	uint64_t tme_activate;     /* IA32_TME_ACTIVATE as firmware left it */
	uint32_t max_ext;          /* CPUID 0x80000000 EAX */
	uint32_t addr_eax;         /* CPUID 0x80000008 EAX */
	uint32_t enc_eax, enc_ebx; /* CPUID 0x8000001F EAX, EBX */
	uint64_t syscfg;           /* SYSCFG as firmware left it */
	uint64_t sev_status;       /* SEV_STATUS as the guest sees it */
};

static const char *const pwc_vendors[] = {
	"AuthenticAMD", "HygonGenuine", "GenuineIntel", "AuthenticAMd", "HygonGenuinE", "CentaurHauls", "AMDisbetter!",
};

/* Fills c with a generated CPU (every field drawn from *rng; the interesting values often). */
static inline void pwc_generate(struct pwc_cpu *c, uint64_t *rng)
{
	unsigned v = (unsigned)(test_rng_next(rng) % 10);
	memset(c, 0, sizeof(*c));
	/* AMD or Hygon in 4 of 10, Intel in 3 */
	memcpy(c->vendor, pwc_vendors[v < 4 ? v % 2 : v < 7 ? 2 : 3 + (unsigned)(test_rng_next(rng) % 4)], 12);
	c->max_basic = test_rng_next(rng) % 4 ? 7 + (uint32_t)(test_rng_next(rng) % 0x20) : (uint32_t)(test_rng_next(rng) % 7);
	c->leaf1_ecx = (uint32_t)test_rng_next(rng);   /* the hypervisor bit in half */
	c->sev_status = test_rng_next(rng) % 2 ? test_rng_next(rng) : test_rng_next(rng) & 7;   /* SEV on in half */
	c->leaf7_ecx = (uint32_t)test_rng_next(rng);
	c->tme_activate = test_rng_next(rng) & ~(0xfULL << 32);
	if (test_rng_next(rng) % 3)   /* locked and enabled in 2 of 3 */
		c->tme_activate |= 3;
	c->tme_activate |= (test_rng_next(rng) % 3 ? 1 + test_rng_next(rng) % 15 : 0) << 32;
	switch (test_rng_next(rng) % 6) {
	case 0: c->max_ext = (uint32_t)(test_rng_next(rng) % 0x20); break;                 /* no extended leaves */
	case 1: c->max_ext = 0x80000000u + (uint32_t)(test_rng_next(rng) % 0x1F); break; /* below 0x8000001F */
	case 2: c->max_ext = 0x8000001Fu; break;
	case 3: c->max_ext = 0x8000001Fu + (uint32_t)(test_rng_next(rng) % 0x40); break;
	case 4: c->max_ext = 0x80000028u; break;
	default: c->max_ext = (uint32_t)test_rng_next(rng); break;                      /* garbage */
	}
	uint32_t widths[] = { 48, 52, 43, 40, 36, 57, 64 };
	c->addr_eax = (uint32_t)test_rng_next(rng) & ~0xffu;
	c->addr_eax |= test_rng_next(rng) % 3 ? widths[test_rng_next(rng) % 7] : (uint32_t)(test_rng_next(rng) & 0xff);
	c->enc_eax = (uint32_t)test_rng_next(rng);
	c->enc_ebx = (uint32_t)test_rng_next(rng);   /* C-bit 0..63, reduction 0..63 */
	if (test_rng_next(rng) % 3)   /* a reduction of 1..6 bits, as AMD's parts report, in 2 of 3 */
		c->enc_ebx = (c->enc_ebx & ~(0x3fu << 6)) | (uint32_t)(1 + test_rng_next(rng) % 6) << 6;
	if (test_rng_next(rng) % 2) {   /* a C-bit where AMD's parts and QEMU put it, in half */
		uint32_t cbits[] = { 47, 51, 43, 39, 32 };
		c->enc_ebx = (c->enc_ebx & ~0x3fu) | cbits[test_rng_next(rng) % 5];
	}
	c->syscfg = test_rng_next(rng);
}

/* CPUID leaf (subleaf 0) of c into r: a leaf past the highest answers too (garbage is allowed). */
static inline void pwc_cpuid(const struct pwc_cpu *c, uint32_t leaf, uint32_t r[4])
{
	r[0] = r[1] = r[2] = r[3] = 0;
	if (leaf == 0) {
		r[0] = c->max_basic;
		memcpy(&r[1], c->vendor, 4);
		memcpy(&r[3], c->vendor + 4, 4);
		memcpy(&r[2], c->vendor + 8, 4);
	} else if (leaf == 1) {
		r[2] = c->leaf1_ecx;
	} else if (leaf == 7) {
		r[2] = c->leaf7_ecx;
	} else if (leaf == 0x80000000u) {
		r[0] = c->max_ext;
	} else if (leaf == 0x80000008u) {
		r[0] = c->addr_eax;
	} else if (leaf == 0x8000001Fu) {
		r[0] = c->enc_eax;
		r[1] = c->enc_ebx;
	}
}

/* Whether c runs under a hypervisor: CPUID 1 ECX bit 31, where leaf 1 is reported. */
static inline bool pwc_hypervisor(const struct pwc_cpu *c)
{
	return c->max_basic >= 1 && (c->leaf1_ecx >> 31);
}

/* Whether c is an AMD or Hygon CPU whose extended leaves reach 0x8000001F. */
static inline bool pwc_amd_leaf_1f(const struct pwc_cpu *c)
{
	bool amd = strcmp(c->vendor, "AuthenticAMD") == 0 || strcmp(c->vendor, "HygonGenuine") == 0;
	return amd && c->max_ext >> 16 == 0x8000u && c->max_ext >= 0x8000001Fu;
}

/* Whether SYSCFG may be read on c: an AMD or Hygon CPU with CPUID 0x8000001F's SME bit, not under a
 * hypervisor (which may #GP on it or answer garbage). */
static inline bool pwc_syscfg_exists(const struct pwc_cpu *c)
{
	return pwc_amd_leaf_1f(c) && (c->enc_eax & 1) && !pwc_hypervisor(c);
}

/* Whether c has SEV_STATUS: an AMD or Hygon CPU with CPUID 0x8000001F's SEV bit (bit 1). */
static inline bool pwc_sev_status_exists(const struct pwc_cpu *c)
{
	return pwc_amd_leaf_1f(c) && (c->enc_eax & 2);
}

/* Whether c is an SEV guest: SEV_STATUS, where it exists, with bit 0 set. */
static inline bool pwc_sev_active(const struct pwc_cpu *c)
{
	return pwc_sev_status_exists(c) && (c->sev_status & 1);
}

/* c's C-bit position, CPUID 0x8000001F EBX[5:0]. */
static inline unsigned pwc_cbit(const struct pwc_cpu *c)
{
	return c->enc_ebx & 0x3f;
}

/* Whether c has IA32_TME_ACTIVATE: an Intel CPU whose basic leaves reach 7, with its TME bit. */
static inline bool pwc_tme_exists(const struct pwc_cpu *c)
{
	return strcmp(c->vendor, "GenuineIntel") == 0 && c->max_basic >= 7 && (c->leaf7_ecx & (1u << 13));
}

/* The memory-encryption MSR reads of one reading: all, those CPUID says are absent (a #GP), SYSCFG's
 * under a hypervisor, SEV_STATUS's without CPUID's SEV bit. */
struct pwc_msr_log {
	unsigned reads, bad, syscfg_under_hypervisor, sev_status_unannounced;
};

/* Whether msr is one of the memory-encryption MSRs the fake RDMSR answers. */
static inline bool pwc_is_encrypt_msr(uint32_t msr)
{
	return msr == PWC_MSR_SYSCFG || msr == PWC_MSR_TME_ACTIVATE || msr == PWC_MSR_SEV_STATUS;
}

/* RDMSR of msr on c, logged into *log: its value, 0 where c has no such MSR. */
static inline uint64_t pwc_rdmsr(const struct pwc_cpu *c, uint32_t msr, struct pwc_msr_log *log)
{
	bool exists = (msr == PWC_MSR_SYSCFG && pwc_syscfg_exists(c)) ||
		      (msr == PWC_MSR_TME_ACTIVATE && pwc_tme_exists(c)) ||
		      (msr == PWC_MSR_SEV_STATUS && pwc_sev_status_exists(c));
	log->reads++;
	log->bad += !exists;
	log->syscfg_under_hypervisor += msr == PWC_MSR_SYSCFG && pwc_hypervisor(c);
	log->sev_status_unannounced += msr == PWC_MSR_SEV_STATUS && !pwc_sev_status_exists(c);
	if (!exists)
		return 0;
	return msr == PWC_MSR_SYSCFG ? c->syscfg : msr == PWC_MSR_SEV_STATUS ? c->sev_status : c->tme_activate;
}

/* How many MSR reads the rule makes on c: SEV_STATUS where it exists, then SYSCFG where it may be
 * read unless SEV is active; IA32_TME_ACTIVATE where it exists. */
static inline unsigned pwc_msr_reads(const struct pwc_cpu *c)
{
	return pwc_sev_status_exists(c) + (pwc_syscfg_exists(c) && !pwc_sev_active(c)) + pwc_tme_exists(c);
}

/* CPUID's own width: 0x80000008 EAX[7:0] when the leaf is reported, else 36. */
static inline unsigned pwc_cpu_bits(const struct pwc_cpu *c)
{
	return c->max_ext >> 16 == 0x8000u && c->max_ext >= 0x80000008u ? (c->addr_eax & 0xff) : 36;
}

/* The usable width before the 32..52 bounds. In an SEV guest CPUID's width less EBX[11:6], and no
 * more than the C-bit's position; elsewhere CPUID's less the bits SME (SYSCFG bit 23 on a CPU that
 * may read it) or TME (IA32_TME_ACTIVATE locked and enabled) takes; 0 when a reduction is the whole
 * width or more. */
static inline unsigned pwc_bits(const struct pwc_cpu *c)
{
	unsigned cpu = pwc_cpu_bits(c), red = (c->enc_ebx >> 6) & 0x3f, enc = 0;
	if (pwc_sev_active(c)) {
		unsigned below = red >= cpu ? 0 : cpu - red;
		return below < pwc_cbit(c) ? below : pwc_cbit(c);
	}
	if (pwc_syscfg_exists(c))
		enc = c->syscfg & (1ULL << 23) ? red : 0;
	else if (pwc_tme_exists(c))
		enc = (c->tme_activate & 3) == 3 ? (unsigned)(c->tme_activate >> 32) & 0xf : 0;
	return enc >= cpu ? 0 : cpu - enc;
}

/* The bits memory encryption takes: what CPUID's width loses to pwc_bits, or when nothing is left
 * the whole reduction (an SEV guest's EBX[11:6] or, with the C-bit at 0, the width; SME's; TME's
 * KeyID bits). */
static inline unsigned pwc_encrypt_bits(const struct pwc_cpu *c)
{
	unsigned cpu = pwc_cpu_bits(c), red = (c->enc_ebx >> 6) & 0x3f;
	if (pwc_bits(c))
		return cpu - pwc_bits(c);
	if (pwc_sev_active(c))
		return red >= cpu ? red : cpu;
	if (pwc_syscfg_exists(c))
		return c->syscfg & (1ULL << 23) ? red : 0;
	return pwc_tme_exists(c) && (c->tme_activate & 3) == 3 ? (unsigned)(c->tme_activate >> 32) & 0xf : 0;
}

/* Whose memory encryption the rule names on c: an SEV kind in an SEV guest (SEV-SNP by SEV_STATUS
 * bit 2, else SEV-ES by bit 1), else SME or TME when they take bits, else none. */
static inline enum physwidth_encrypt pwc_kind(const struct pwc_cpu *c)
{
	if (pwc_sev_active(c))
		return c->sev_status & 4 ? PHYSWIDTH_ENCRYPT_AMD_SEV_SNP :
		       c->sev_status & 2 ? PHYSWIDTH_ENCRYPT_AMD_SEV_ES : PHYSWIDTH_ENCRYPT_AMD_SEV;
	if (!pwc_encrypt_bits(c))
		return PHYSWIDTH_ENCRYPT_NONE;
	return pwc_syscfg_exists(c) ? PHYSWIDTH_ENCRYPT_AMD_SME : PHYSWIDTH_ENCRYPT_INTEL_TME;
}

/* The width the kernel and the loader use: pwc_bits kept in 32..52. */
static inline unsigned pwc_usable(const struct pwc_cpu *c)
{
	unsigned b = pwc_bits(c);
	return b < 32 ? 32 : b > 52 ? 52 : b;
}

/* The first invariant one reading of c's width breaks, or NULL: no SYSCFG read under a hypervisor,
 * no SEV_STATUS read without CPUID's SEV bit, no MSR read CPUID says is absent, the usable width in
 * 32..52, and in an SEV guest the width (bits, unless PWC_BITS_UNKNOWN) at most the C-bit's position,
 * the usable width too where that position is 32 or more. From the contract, not from the rule. */
static inline const char *pwc_broken(const struct pwc_cpu *c, const struct pwc_msr_log *log, unsigned bits,
				     unsigned usable)
{
	if (log->syscfg_under_hypervisor)
		return "SYSCFG read under a hypervisor";
	if (log->sev_status_unannounced)
		return "SEV_STATUS read without CPUID 0x8000001F's SEV bit";
	if (log->bad)
		return "an MSR read that CPUID says is absent";
	if (usable < 32 || usable > 52)
		return "the usable width outside 32..52";
	if (pwc_sev_active(c) && bits != PWC_BITS_UNKNOWN && bits > pwc_cbit(c))
		return "the width above the C-bit in an SEV guest";
	if (pwc_sev_active(c) && pwc_cbit(c) >= 32 && usable > pwc_cbit(c))
		return "the usable width above the C-bit in an SEV guest";
	return NULL;
}

#endif
