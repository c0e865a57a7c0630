/*
 * apic_esr_: the local APIC's error status register (ESR: xAPIC offset 0x280, x2APIC MSR 0x828) as
 * values, pure functions with no hardware access, so the host test (tests/host/test_smp_plan.c)
 * checks the names of every bit and of generated combinations. The bits (SDM vol. 3A, "Error
 * Handling" in the APIC chapter, figure "Error Status Register"):
 *
 *   bit 0  send checksum error      } P6 family and Pentium only (the APIC bus); never set
 *   bit 1  receive checksum error   } on a CPU with long mode, named all the same
 *   bit 2  send accept error        }
 *   bit 3  receive accept error     }
 *   bit 4  redirectable IPI: a lowest-priority IPI this APIC cannot send (the kernel sends none)
 *   bit 5  send illegal vector: a message sent with a vector 0..15 (fixed mode)
 *   bit 6  receive illegal vector: a message received with a vector 0..15
 *   bit 7  illegal register address (an xAPIC register, or x2APIC MSR, that does not exist)
 *   bits 31:8 reserved
 *
 * The register holds what the APIC logged up to the last write to it: a write (only 0 in x2APIC
 * mode) latches the errors logged since the write before and clears the log, so a reader writes
 * first and reads then (apic_esr_take, apic.h). The kernel masks the LVT error entry, so no error
 * interrupt takes the bits before the reader does.
 */
#ifndef APIC_ESR_H
#define APIC_ESR_H

#include "types.h"

#define APIC_ESR_SEND_CHECKSUM     (1u << 0)
#define APIC_ESR_RECEIVE_CHECKSUM  (1u << 1)
#define APIC_ESR_SEND_ACCEPT       (1u << 2)
#define APIC_ESR_RECEIVE_ACCEPT    (1u << 3)
#define APIC_ESR_REDIRECTABLE_IPI  (1u << 4)
#define APIC_ESR_SEND_ILLEGAL_VEC  (1u << 5)
#define APIC_ESR_RECV_ILLEGAL_VEC  (1u << 6)
#define APIC_ESR_ILLEGAL_REGISTER  (1u << 7)
#define APIC_ESR_DEFINED           0xFFu    /* bits 7:0; the others are reserved */
/* Room for apic_esr_text of any value: every name, the separators and the reserved bits' hex. */
#define APIC_ESR_TEXT_SIZE         256

/* The SDM's name of ESR bit `bit` (lower case), or NULL for a reserved bit (8..31) or bit >= 32. */
static inline const char *apic_esr_bit_name(unsigned bit)
{
	static const char *const names[8] = {
		"send checksum error", "receive checksum error", "send accept error", "receive accept error",
		"redirectable IPI", "send illegal vector", "receive illegal vector", "illegal register address",
	};
	return bit < 8 ? names[bit] : NULL;
}

/* Appends s to buf (size bytes) at *len, keeping buf NUL-terminated when size > 0 and counting in
 * *len every byte s has, stored or not (as snprintf counts). */
static inline void apic_esr_put(char *buf, size_t size, size_t *len, const char *s)
{
	for (; *s; s++, (*len)++)
		if (*len + 1 < size)
			buf[*len] = *s;
	if (size)
		buf[*len < size ? *len : size - 1] = '\0';
}

/*
 * Writes the names of esr's set bits into buf (size bytes), lowest bit first, joined by ", ";
 * reserved bits as one "reserved bits 0x..." (hex, no leading zeros) after them; "none" for 0.
 * Always NUL-terminated when size > 0, cut to fit; returns the length of the whole text (as snprintf
 * does), so a return >= size says it was cut. APIC_ESR_TEXT_SIZE bytes hold any value's.
 */
static inline size_t apic_esr_text(uint32_t esr, char *buf, size_t size)
{
	size_t len = 0;
	uint32_t reserved = esr & ~APIC_ESR_DEFINED;

	if (size)
		buf[0] = '\0';
	if (!esr) {
		apic_esr_put(buf, size, &len, "none");
		return len;
	}
	for (unsigned bit = 0; bit < 8; bit++) {
		if (!(esr & (1u << bit)))
			continue;
		if (len)
			apic_esr_put(buf, size, &len, ", ");
		apic_esr_put(buf, size, &len, apic_esr_bit_name(bit));
	}
	if (reserved) {
		char hex[11] = "0x";   /* "0x" and up to 8 digits */
		int digits = 0;
		for (uint32_t r = reserved; r; r >>= 4)
			digits++;
		for (int i = 0; i < digits; i++)
			hex[2 + i] = "0123456789abcdef"[(reserved >> (4 * (digits - 1 - i))) & 0xF];
		hex[2 + digits] = '\0';
		if (len)
			apic_esr_put(buf, size, &len, ", ");
		apic_esr_put(buf, size, &len, "reserved bits ");
		apic_esr_put(buf, size, &len, hex);
	}
	return len;
}

#endif
