/*
 * physwidth_: the physical address width the loader's page tables (boot/platform.c) and the kernel
 * (arch/x86_64/cpu.c, arch_phys_addr_bits) both use, from one rule read through the caller's own
 * CPUID and RDMSR seams, so the two can never disagree on which frames exist.
 *
 * The CPU's width is CPUID 0x80000008 EAX[7:0] (36 without the leaf), less the address bits memory
 * encryption takes when the firmware turned it on, whether or not the operating system uses it:
 *  - AMD and Hygon CPUs with Secure Memory Encryption (CPUID 0x8000001F EAX bit 0): firmware that
 *    turns SME or TSME on in its setup sets SYSCFG (MSR 0xC0010010) bit 23, MemEncryptionModEn; the
 *    top CPUID 0x8000001F EBX[11:6] address bits are then not address bits (AMD APM Vol. 2, "Secure
 *    Memory Encryption"; Linux's early_detect_mem_encrypt).
 *    Never under a hypervisor (CPUID 1 ECX bit 31): a hypervisor may #GP on SYSCFG or answer
 *    anything, and a guest has no SME of its own (Linux's sme_enable: "No SME if Hypervisor bit is
 *    set", before it reads SYSCFG).
 *  - AMD SEV guests (CPUID 0x8000001F EAX bit 1, SEV): SEV_STATUS (MSR 0xC0010131) bit 0 says SEV
 *    is active, bit 1 SEV-ES, bit 2 SEV-SNP (AMD APM Vol. 2, "Secure Encrypted Virtualization",
 *    "SEV_STATUS MSR"). The MSR is read only where CPUID's SEV bit says it exists (a first-
 *    generation Hygon Dhyana has no such MSR: Linux's "x86/sev: Check SME/SEV support in CPUID
 *    first"), under a hypervisor bit or not (a hypervisor may hide that bit: Linux's "x86/sev: Do
 *    not require Hypervisor CPUID bit for SEV guests"; on bare metal the MSR reads 0, and Linux's
 *    sme_enable reads it there too). With SEV active, the guest's physical addresses are CPUID
 *    0x8000001F EBX[11:6] bits fewer, and bit EBX[5:0] (the C-bit) and above are not address bits
 *    either: the C-bit marks a page private, so every address must stay below it (APM Vol. 2,
 *    "Page Table Support": the C-bit is not part of the address; Linux's sme_enable takes
 *    sme_me_mask out of physical_mask). The width is then the smaller of the two. SYSCFG is not
 *    read then (a guest).
 *  - Intel CPUs with Total Memory Encryption (CPUID (7,0) ECX bit 13): firmware that turns
 *    multi-key TME on sets IA32_TME_ACTIVATE (MSR 0x982) locked (bit 0) and enabled (bit 1) with
 *    KeyID bits in bits 35:32, the top address bits, which name a key instead (Intel's MKTME
 *    specification; Linux's detect_tme_early).
 * The kernel cannot run as an SEV guest (its page tables carry no C-bit, it has no #VC handler):
 * the loader refuses one (boot/platform.c, platform_check_memory_encryption); the width is still
 * read by the same rule there, for the message and for any other caller.
 * Each MSR is read only where CPUID says it exists (elsewhere a #GP). The caller reads the width
 * before it changes what CPUID reports (the kernel's cpu_detect lifts an Intel firmware's Limit
 * CPUID Maxval after), so the loader and the kernel see the same leaves.
 *
 * Only <stdint.h> and <stdbool.h>: the loader includes this beside GNU-EFI's headers.
 */
#ifndef PHYSWIDTH_H
#define PHYSWIDTH_H

#include <stdint.h>
#include <stdbool.h>

#define PHYSWIDTH_LEAF_EXT_MAX   0x80000000u
#define PHYSWIDTH_LEAF_ADDR      0x80000008u   /* EAX[7:0]: physical address bits */
#define PHYSWIDTH_LEAF_FEATURES1 1u            /* ECX bit 31: running under a hypervisor */
#define PHYSWIDTH_HYPERVISOR     (1u << 31)
#define PHYSWIDTH_LEAF_ENCRYPT   0x8000001Fu   /* AMD memory encryption: EAX features, EBX[5:0] C-bit, EBX[11:6] reduction */
#define PHYSWIDTH_ENCRYPT_SME    (1u << 0)     /* CPUID 0x8000001F EAX: Secure Memory Encryption */
#define PHYSWIDTH_ENCRYPT_SEV    (1u << 1)     /* CPUID 0x8000001F EAX: Secure Encrypted Virtualization */
#define PHYSWIDTH_MSR_SEV_STATUS 0xC0010131u   /* AMD SEV_STATUS (a guest's view) */
#define PHYSWIDTH_SEV_ENABLED    (1ULL << 0)
#define PHYSWIDTH_SEV_ES_ENABLED (1ULL << 1)
#define PHYSWIDTH_SEV_SNP_ENABLED (1ULL << 2)
#define PHYSWIDTH_MSR_SYSCFG     0xC0010010u   /* AMD SYSCFG */
#define PHYSWIDTH_SYSCFG_MEM_ENCRYPT (1ULL << 23)   /* MemEncryptionModEn */
#define PHYSWIDTH_LEAF_FEATURES  7u            /* (7,0) ECX bit 13: Total Memory Encryption */
#define PHYSWIDTH_FEATURES_TME   (1u << 13)
#define PHYSWIDTH_MSR_TME_ACTIVATE 0x982u      /* Intel IA32_TME_ACTIVATE */
#define PHYSWIDTH_TME_LOCKED     (1ULL << 0)
#define PHYSWIDTH_TME_ENABLED    (1ULL << 1)
#define PHYSWIDTH_TME_KEYID_SHIFT 32           /* bits 35:32: KeyID bits */
#define PHYSWIDTH_DEFAULT_BITS   36u           /* without leaf 0x80000008 */
#define PHYSWIDTH_MIN_BITS       32u           /* the width the kernel and loader keep at least ... */
#define PHYSWIDTH_MAX_BITS       52u           /* ... and at most (the page-table format's) */

/* CPUID leaf (subleaf 0) into r[0..3] = EAX, EBX, ECX, EDX; RDMSR of msr. The caller's seams. */
typedef void (*physwidth_cpuid_fn)(uint32_t leaf, uint32_t r[4]);
typedef uint64_t (*physwidth_rdmsr_fn)(uint32_t msr);

/* Whose memory encryption took address bits. */
enum physwidth_encrypt {
	PHYSWIDTH_ENCRYPT_NONE,
	PHYSWIDTH_ENCRYPT_AMD_SME,     /* SYSCFG bit 23 */
	PHYSWIDTH_ENCRYPT_INTEL_TME,   /* IA32_TME_ACTIVATE's KeyID bits */
	PHYSWIDTH_ENCRYPT_AMD_SEV,     /* an SEV guest: SEV_STATUS bit 0 alone */
	PHYSWIDTH_ENCRYPT_AMD_SEV_ES,  /* an SEV-ES guest: bit 1 too (registers encrypted; a #VC on CPUID, MSRs, I/O) */
	PHYSWIDTH_ENCRYPT_AMD_SEV_SNP, /* an SEV-SNP guest: bit 2 (memory validated through the RMP) */
};

/* Whether e is one of the SEV guest kinds (the loader refuses to start the kernel on them). */
static inline bool physwidth_is_sev(enum physwidth_encrypt e)
{
	return e == PHYSWIDTH_ENCRYPT_AMD_SEV || e == PHYSWIDTH_ENCRYPT_AMD_SEV_ES || e == PHYSWIDTH_ENCRYPT_AMD_SEV_SNP;
}

/* The short name of e for logs: "none", "SME", "TME", "SEV", "SEV-ES" or "SEV-SNP". */
static inline const char *physwidth_encrypt_name(enum physwidth_encrypt e)
{
	switch (e) {
	case PHYSWIDTH_ENCRYPT_AMD_SME: return "SME";
	case PHYSWIDTH_ENCRYPT_INTEL_TME: return "TME";
	case PHYSWIDTH_ENCRYPT_AMD_SEV: return "SEV";
	case PHYSWIDTH_ENCRYPT_AMD_SEV_ES: return "SEV-ES";
	case PHYSWIDTH_ENCRYPT_AMD_SEV_SNP: return "SEV-SNP";
	default: return "none";
	}
}

/* What physwidth_read found. */
struct physwidth {
	uint32_t cpu_bits;       /* CPUID 0x80000008 EAX[7:0] as reported (0..255), 36 without the leaf */
	uint32_t encrypt_bits;   /* address bits memory encryption takes (AMD SME: CPUID 0x8000001F EBX[11:6]
				    while SYSCFG bit 23 is set; AMD SEV guest: the larger of EBX[11:6] and
				    the bits from the C-bit up, cpu_bits - cbit; Intel: IA32_TME_ACTIVATE's
				    KeyID bits while locked and enabled), else 0 */
	uint32_t bits;           /* the usable width: cpu_bits less encrypt_bits (0 when that is more);
				    with SEV active never above cbit */
	enum physwidth_encrypt encrypt;   /* an SEV kind whenever SEV_STATUS bit 0 is set (even with no
					     bit taken); else NONE when encrypt_bits is 0 */
	uint32_t cbit;           /* with SEV active: the C-bit's position, CPUID 0x8000001F EBX[5:0]; else 0 */
	uint64_t sev_status;     /* SEV_STATUS as read (0 where it was not read) */
};

/* The CPU's usable physical address width by the rule above, reading CPUID through cpuid and the
 * MSRs through rdmsr (each only where it exists); not yet kept in physwidth_usable's bounds. */
static inline struct physwidth physwidth_read(physwidth_cpuid_fn cpuid, physwidth_rdmsr_fn rdmsr)
{
	struct physwidth w = { PHYSWIDTH_DEFAULT_BITS, 0, PHYSWIDTH_DEFAULT_BITS, PHYSWIDTH_ENCRYPT_NONE, 0, 0 };
	uint32_t r[4], vendor[3];

	cpuid(0, r);
	uint32_t max_basic = r[0];
	vendor[0] = r[1];
	vendor[1] = r[3];
	vendor[2] = r[2];
	/* "AuthenticAMD" and "HygonGenuine" as CPUID 0 gives them in EBX, EDX, ECX (little-endian words) */
	bool amd = (vendor[0] == 0x68747541u && vendor[1] == 0x69746e65u && vendor[2] == 0x444d4163u) ||
		   (vendor[0] == 0x6f677948u && vendor[1] == 0x6e65476eu && vendor[2] == 0x656e6975u);
	/* "GenuineIntel" likewise */
	bool intel = vendor[0] == 0x756e6547u && vendor[1] == 0x49656e69u && vendor[2] == 0x6c65746eu;
	bool hypervisor = false;
	if (max_basic >= PHYSWIDTH_LEAF_FEATURES1) {
		cpuid(PHYSWIDTH_LEAF_FEATURES1, r);
		hypervisor = r[2] & PHYSWIDTH_HYPERVISOR;
	}
	cpuid(PHYSWIDTH_LEAF_EXT_MAX, r);
	/* without extended leaves a CPU answers with its highest basic leaf: only 0x8000xxxx counts */
	uint32_t max_ext = (r[0] & 0xffff0000u) == PHYSWIDTH_LEAF_EXT_MAX ? r[0] : 0;
	if (max_ext >= PHYSWIDTH_LEAF_ADDR) {
		cpuid(PHYSWIDTH_LEAF_ADDR, r);
		w.cpu_bits = r[0] & 0xff;
	}
	if (amd && max_ext >= PHYSWIDTH_LEAF_ENCRYPT) {
		cpuid(PHYSWIDTH_LEAF_ENCRYPT, r);
		uint32_t reduction = (r[1] >> 6) & 0x3f;
		w.sev_status = r[0] & PHYSWIDTH_ENCRYPT_SEV ? rdmsr(PHYSWIDTH_MSR_SEV_STATUS) : 0;
		if (w.sev_status & PHYSWIDTH_SEV_ENABLED) {
			/* the width is min(cpu_bits - reduction, cbit): the larger of the two takings */
			w.cbit = r[1] & 0x3f;
			uint32_t from_cbit = w.cpu_bits > w.cbit ? w.cpu_bits - w.cbit : 0;
			w.encrypt_bits = reduction > from_cbit ? reduction : from_cbit;
			w.encrypt = w.sev_status & PHYSWIDTH_SEV_SNP_ENABLED ? PHYSWIDTH_ENCRYPT_AMD_SEV_SNP :
				    w.sev_status & PHYSWIDTH_SEV_ES_ENABLED ? PHYSWIDTH_ENCRYPT_AMD_SEV_ES :
									       PHYSWIDTH_ENCRYPT_AMD_SEV;
		} else if (!hypervisor && (r[0] & PHYSWIDTH_ENCRYPT_SME) &&
			   (rdmsr(PHYSWIDTH_MSR_SYSCFG) & PHYSWIDTH_SYSCFG_MEM_ENCRYPT)) {
			w.encrypt_bits = reduction;
			w.encrypt = PHYSWIDTH_ENCRYPT_AMD_SME;
		}
	} else if (intel && max_basic >= PHYSWIDTH_LEAF_FEATURES) {
		cpuid(PHYSWIDTH_LEAF_FEATURES, r);
		uint64_t tme = r[2] & PHYSWIDTH_FEATURES_TME ? rdmsr(PHYSWIDTH_MSR_TME_ACTIVATE) : 0;
		if ((tme & PHYSWIDTH_TME_LOCKED) && (tme & PHYSWIDTH_TME_ENABLED)) {
			w.encrypt_bits = (uint32_t)(tme >> PHYSWIDTH_TME_KEYID_SHIFT) & 0xf;
			w.encrypt = PHYSWIDTH_ENCRYPT_INTEL_TME;
		}
	}
	if (!w.encrypt_bits && !physwidth_is_sev(w.encrypt))
		w.encrypt = PHYSWIDTH_ENCRYPT_NONE;
	w.bits = w.cpu_bits > w.encrypt_bits ? w.cpu_bits - w.encrypt_bits : 0;
	return w;
}

/* A width kept in 32..52: what the kernel's arch_phys_addr_bits and the loader's tables use (CPUID
 * is firmware or hypervisor input: 0 from a zero-filled leaf, anything up to 255). */
static inline uint32_t physwidth_usable(uint32_t bits)
{
	return bits < PHYSWIDTH_MIN_BITS ? PHYSWIDTH_MIN_BITS : bits > PHYSWIDTH_MAX_BITS ? PHYSWIDTH_MAX_BITS : bits;
}

#endif
