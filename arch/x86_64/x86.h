/*
 * x86-64 instructions, control-register and MSR bits, named once. Private to arch/x86_64/ (and the
 * boot tests of the CPU set-up): the kernel reaches the CPU only through the interfaces cpu.h,
 * trap.h, tsc.h, serial.h and shutdown.h, which another architecture would provide in its own
 * terms (tools/check-layers.sh keeps x86.h out of kernel/).
 */
#ifndef X86_H
#define X86_H

#include "types.h"

#define CR0_PE  (1ULL << 0)
#define CR0_MP  (1ULL << 1)
#define CR0_ET  (1ULL << 4)
#define CR0_NE  (1ULL << 5)
#define CR0_WP  (1ULL << 16)
#define CR0_NW  (1ULL << 29)
#define CR0_CD  (1ULL << 30)
#define CR0_PG  (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_MCE (1ULL << 6)
#define CR4_PGE (1ULL << 7)
#define CR4_PCIDE (1ULL << 17)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_CET  (1ULL << 23)        /* control-flow enforcement: shadow stacks and IBT as IA32_S_CET says */
#define RFLAGS_IF (1ULL << 9)

#define MSR_APIC_BASE 0x1Bu
#define MSR_MISC_ENABLE 0x1A0u       /* IA32_MISC_ENABLE: Intel only (a #GP on AMD) */
#define MISC_ENABLE_XD_DISABLE (1ULL << 34) /* XD Bit Disable: CPUID hides NX, and EFER.NXE is reserved */
#define MISC_ENABLE_LIMIT_CPUID (1ULL << 22) /* Limit CPUID Maxval: CPUID 0 reports at most leaf 2 */
#define MSR_S_CET 0x6A2u             /* IA32_S_CET: supervisor shadow stack (bit 0), IBT (bit 2), ... */
#define MSR_MTRR_CAP  0xFEu
#define MSR_MTRR_PHYS_BASE0 0x200u   /* variable range n: base 0x200 + 2n, mask 0x201 + 2n */
#define MSR_MTRR_DEF_TYPE 0x2FFu
#define MTRR_CAP_VCNT 0xFFu          /* MTRRcap bits 7:0: variable ranges */
#define MTRR_CAP_FIX  (1ULL << 8)    /* MTRRcap: the fixed ranges exist */
#define MTRR_DEF_E    (1ULL << 11)   /* MTRRdefType: MTRRs enabled */
#define MTRR_DEF_FE   (1ULL << 10)   /* MTRRdefType: fixed ranges enabled */
#define MTRR_VAR_VALID (1ULL << 11)  /* IA32_MTRR_PHYSMASKn: the variable range is on */
#define MTRR_FIXED_END 0x100000ULL   /* the fixed ranges cover physical 0 to 1 MiB */
#define MSR_EFER 0xC0000080u
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define MSR_PAT  0x277u
#define MSR_GS_BASE 0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }

/* One 32-bit load or store of a memory-mapped device register at a (an uncached mapping): exactly one
 * access each, never merged, split or moved across the instructions around it. */
static inline uint32_t mmio_read32(const volatile void *a)
{
	uint32_t v;
	__asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(const volatile uint32_t *)a) : "memory");
	return v;
}
static inline void mmio_write32(volatile void *a, uint32_t v)
{
	__asm__ volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)a) : "r"(v) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#define DEFINE_CR(n) \
	static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)

#define DR7_RESET 0x400ULL           /* DR7 with every breakpoint disabled (bit 10 reads as 1) */
#define DR7_ENABLES 0xFFULL          /* L0, G0 .. L3, G3: breakpoints 0-3 enabled */
static inline uint64_t read_dr7(void) { uint64_t v; __asm__ volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static inline void write_dr7(uint64_t v) { __asm__ volatile("mov %0, %%dr7" ::"r"(v) : "memory"); }

static inline uint64_t read_rflags(void) { uint64_t f; __asm__ volatile("pushfq; popq %0" : "=r"(f)); return f; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void wbinvd(void) { __asm__ volatile("wbinvd" ::: "memory"); }
/* Every earlier store globally visible and every earlier instruction completed before any later
 * one starts: what the SDM asks before a WRMSR that does not serialize (vol. 3A, 11.12.3). */
static inline void mfence_lfence(void) { __asm__ volatile("mfence; lfence" ::: "memory"); }
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }

/* PAT layout the kernel programs: index = PAT:PCD:PWT bits of a 4 KiB PTE. */
#define PAT_MT_UC  0x00
#define PAT_MT_WC  0x01
#define PAT_MT_WT  0x04
#define PAT_MT_WB  0x06
#define PAT_MT_UCM 0x07
#define PAT_VALUE ((uint64_t)PAT_MT_WB | (uint64_t)PAT_MT_WT << 8 | (uint64_t)PAT_MT_UCM << 16 | \
		   (uint64_t)PAT_MT_UC << 24 | (uint64_t)PAT_MT_WC << 32 | (uint64_t)PAT_MT_WT << 40 | \
		   (uint64_t)PAT_MT_UCM << 48 | (uint64_t)PAT_MT_UC << 56)

#endif
