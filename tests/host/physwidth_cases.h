/*
 * Generated CPUs for the physical address width (include/physwidth.h), and the rule written out
 * apart from it, for the kernel's reading (tests/host/test_arch_cpuid.c, through cpu_detect) and
 * the loader's (tests/host/test_loader_platform.c, through platform_phys_addr_bits): vendors
 * (AMD, Hygon, Intel, near misses), highest basic leaves (below and from 7) and extended leaves
 * (none, below 0x8000001F, at it, past it, garbage), CPUID 0x80000008 widths 0..255, CPUID
 * 0x8000001F's SME bit and EBX reduction, SYSCFG with MemEncryptionModEn set or clear, CPUID (7,0)'s
 * TME bit and IA32_TME_ACTIVATE locked, enabled or not with 0..15 KeyID bits. Only <stdint.h>, <stdbool.h> and <string.h>: the
 * loader's test includes it beside GNU-EFI's headers.
 */
#ifndef TESTS_HOST_PHYSWIDTH_CASES_H
#define TESTS_HOST_PHYSWIDTH_CASES_H

#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "test_rng.h"

#define PWC_MSR_SYSCFG 0xC0010010u
#define PWC_MSR_TME_ACTIVATE 0x982u

/* One generated CPU: what its CPUID leaves and its SYSCFG say. */
struct pwc_cpu {
	char vendor[13];
	uint32_t max_basic;        /* CPUID 0 EAX */
	uint32_t leaf7_ecx;        /* CPUID (7,0) ECX */
	uint64_t tme_activate;     /* IA32_TME_ACTIVATE as firmware left it */
	uint32_t max_ext;          /* CPUID 0x80000000 EAX */
	uint32_t addr_eax;         /* CPUID 0x80000008 EAX */
	uint32_t enc_eax, enc_ebx; /* CPUID 0x8000001F EAX, EBX */
	uint64_t syscfg;           /* SYSCFG as firmware left it */
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
	c->enc_ebx = (uint32_t)test_rng_next(rng);
	if (test_rng_next(rng) % 3)   /* a reduction of 1..6 bits, as AMD's parts report, in 2 of 3 */
		c->enc_ebx = (c->enc_ebx & ~(0x3fu << 6)) | (uint32_t)(1 + test_rng_next(rng) % 6) << 6;
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

/* Whether c has SYSCFG (reading it elsewhere is a #GP): an AMD or Hygon CPU whose extended leaves
 * reach 0x8000001F, with its SME bit. */
static inline bool pwc_syscfg_exists(const struct pwc_cpu *c)
{
	bool amd = strcmp(c->vendor, "AuthenticAMD") == 0 || strcmp(c->vendor, "HygonGenuine") == 0;
	bool ext = c->max_ext >> 16 == 0x8000u;
	return amd && ext && c->max_ext >= 0x8000001Fu && (c->enc_eax & 1);
}

/* Whether c has IA32_TME_ACTIVATE: an Intel CPU whose basic leaves reach 7, with its TME bit. */
static inline bool pwc_tme_exists(const struct pwc_cpu *c)
{
	return strcmp(c->vendor, "GenuineIntel") == 0 && c->max_basic >= 7 && (c->leaf7_ecx & (1u << 13));
}

/* RDMSR of msr on c: its value, and in *exists whether c has it. */
static inline uint64_t pwc_rdmsr(const struct pwc_cpu *c, uint32_t msr, bool *exists)
{
	*exists = (msr == PWC_MSR_SYSCFG && pwc_syscfg_exists(c)) || (msr == PWC_MSR_TME_ACTIVATE && pwc_tme_exists(c));
	return !*exists ? 0 : msr == PWC_MSR_SYSCFG ? c->syscfg : c->tme_activate;
}

/* How many MSR reads the rule makes on c: one where either MSR exists. */
static inline unsigned pwc_msr_reads(const struct pwc_cpu *c)
{
	return pwc_syscfg_exists(c) || pwc_tme_exists(c);
}

/* CPUID's own width: 0x80000008 EAX[7:0] when the leaf is reported, else 36. */
static inline unsigned pwc_cpu_bits(const struct pwc_cpu *c)
{
	return c->max_ext >> 16 == 0x8000u && c->max_ext >= 0x80000008u ? (c->addr_eax & 0xff) : 36;
}

/* The bits memory encryption takes: EBX[11:6] while SYSCFG bit 23 is set on a CPU that has it; the
 * KeyID bits (35:32) while IA32_TME_ACTIVATE is locked and enabled on a CPU that has it. */
static inline unsigned pwc_encrypt_bits(const struct pwc_cpu *c)
{
	if (pwc_syscfg_exists(c))
		return c->syscfg & (1ULL << 23) ? (c->enc_ebx >> 6) & 0x3f : 0;
	if (pwc_tme_exists(c))
		return (c->tme_activate & 3) == 3 ? (unsigned)(c->tme_activate >> 32) & 0xf : 0;
	return 0;
}

/* The usable width before the 32..52 bounds (0 when the reduction is the whole width or more). */
static inline unsigned pwc_bits(const struct pwc_cpu *c)
{
	unsigned cpu = pwc_cpu_bits(c), enc = pwc_encrypt_bits(c);
	return enc >= cpu ? 0 : cpu - enc;
}

/* The width the kernel and the loader use: pwc_bits kept in 32..52. */
static inline unsigned pwc_usable(const struct pwc_cpu *c)
{
	unsigned b = pwc_bits(c);
	return b < 32 ? 32 : b > 52 ? 52 : b;
}

#endif
