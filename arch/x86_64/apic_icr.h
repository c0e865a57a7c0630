/*
 * apic_icr_: the local APIC's interrupt command register as values, pure functions with no
 * hardware access, so the host test (tests/host/test_smp_plan.c) checks them against the SDM's
 * layout (vol. 3A, 11.6.1 and 11.12.9).
 *
 *   bits 7:0   vector (for a start-up IPI: the page number of the real-mode entry, vector << 12)
 *   bits 10:8  delivery mode: 000 fixed, 100 NMI, 101 INIT, 110 start-up
 *   bit 11     destination mode: 0 physical (the kernel always uses physical)
 *   bit 12     delivery status (xAPIC, read-only): 1 while the APIC is still sending
 *   bit 14     level: 1 assert (INIT de-assert, level 0, is for pre-Pentium 4 CPUs: never sent)
 *   bit 15     trigger mode: 0 edge
 *   bits 19:18 shorthand: 00 none (the kernel always names the destination)
 *   xAPIC:  destination in ICR high bits 31:24 (an 8-bit APIC id; 0xFF is the broadcast)
 *   x2APIC: one 64-bit MSR write (0x830), destination (a 32-bit x2APIC id) in bits 63:32
 */
#ifndef APIC_ICR_H
#define APIC_ICR_H

#include "types.h"

#define APIC_DM_FIXED    0x000u
#define APIC_DM_NMI      0x400u
#define APIC_DM_INIT     0x500u
#define APIC_DM_STARTUP  0x600u
#define APIC_ICR_BUSY    (1u << 12)   /* delivery status: send pending (xAPIC only) */
#define APIC_ICR_ASSERT  (1u << 14)
#define APIC_XAPIC_ID_MAX 0xFEu       /* highest xAPIC id a CPU can have: 0xFF broadcasts */
#define APIC_XAPIC_BROADCAST  0xFFu         /* the xAPIC destination every CPU takes */
#define APIC_X2APIC_BROADCAST 0xFFFFFFFFu   /* the x2APIC destination every CPU takes (SDM 11.12.9) */

/* The low 32 bits of a physical-destination, edge-triggered, asserted IPI. */
static inline uint32_t apic_icr_low(uint32_t mode, uint8_t vector)
{
	return APIC_ICR_ASSERT | (mode & 0x700u) | vector;
}

/* The xAPIC ICR high word naming apic_id (which must be at most APIC_XAPIC_ID_MAX). */
static inline uint32_t apic_icr_xapic_high(uint32_t apic_id)
{
	return (apic_id & 0xFFu) << 24;
}

/* The x2APIC ICR (MSR 0x830) value sending low to x2apic_id. */
static inline uint64_t apic_icr_x2apic(uint32_t x2apic_id, uint32_t low)
{
	return (uint64_t)x2apic_id << 32 | low;
}

/* The start-up vector for a trampoline at physical address pa: a page below 1 MiB, else 0 (none). */
static inline uint8_t apic_sipi_vector(paddr_t pa)
{
	if (!IS_ALIGNED(pa, PAGE_SIZE) || pa == 0 || pa >= 0x100000)
		return 0;
	return (uint8_t)(pa >> PAGE_SHIFT);
}

#endif
