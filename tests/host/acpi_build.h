/* Hand-made ACPI tables for the tests of the ACPI reader (test_acpi, test_acpi_dmap_seal): each
 * builder writes at a host pointer into the test's fake physical memory, little-endian, with the
 * layout of ACPI 6.5 §5.2 (RSDP, the common table header, RSDT and XSDT). */
#ifndef ACPI_BUILD_H
#define ACPI_BUILD_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ACPI_BUILD_HEADER_LEN 36   /* the common table header; a root table's entries follow it */
#define ACPI_BUILD_OFF_SUM    9    /* the header's checksum byte */

static inline void acpi_build_put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void acpi_build_put32(uint8_t *p, uint32_t v) { acpi_build_put16(p, v); acpi_build_put16(p + 2, v >> 16); }
static inline void acpi_build_put64(uint8_t *p, uint64_t v)
{
	acpi_build_put32(p, (uint32_t)v);
	acpi_build_put32(p + 4, (uint32_t)(v >> 32));
}

/* Sets the byte at p[off] so that the len bytes at p sum to 0. */
static inline void acpi_build_fix_sum(uint8_t *p, size_t len, size_t off)
{
	uint8_t s = 0;
	p[off] = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	p[off] = (uint8_t)-s;
}

/* Writes a table header at t (signature sig, length len, revision rev, OEM "RMTEST"), zeroing
 * only the header's 36 bytes; the checksum is left to acpi_build_seal. */
static inline void acpi_build_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memset(t, 0, ACPI_BUILD_HEADER_LEN);
	memcpy(t, sig, 4);
	acpi_build_put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "RMTEST", 6);
}

/* Fixes the checksum of the table at t over the length its header gives. */
static inline void acpi_build_seal(uint8_t *t)
{
	uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
	acpi_build_fix_sum(t, len, ACPI_BUILD_OFF_SUM);
}

/* An RSDP at r naming root: revision rev >= 2 gives an XSDT address (and the extended checksum),
 * below 2 an RSDT address. Both checksums right. */
static inline void acpi_build_rsdp(uint8_t *r, int rev, uint64_t root)
{
	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "RMTEST", 6);
	r[15] = (uint8_t)rev;
	if (rev >= 2) {
		acpi_build_put32(r + 20, 36);
		acpi_build_put64(r + 24, root);
	} else {
		acpi_build_put32(r + 16, (uint32_t)root);
	}
	acpi_build_fix_sum(r, 20, 8);
	if (rev >= 2)
		acpi_build_fix_sum(r, 36, 32);
}

/* A root table at t listing the n addresses in e: an XSDT (8-byte entries) when rev >= 2, else an
 * RSDT (4-byte entries, each address cut to 32 bits); checksum right. */
static inline void acpi_build_root(uint8_t *t, int rev, const uint64_t *e, size_t n)
{
	unsigned esz = rev >= 2 ? 8 : 4;
	acpi_build_header(t, rev >= 2 ? "XSDT" : "RSDT", (uint32_t)(ACPI_BUILD_HEADER_LEN + n * esz), 1);
	for (size_t i = 0; i < n; i++)
		if (esz == 8)
			acpi_build_put64(t + ACPI_BUILD_HEADER_LEN + i * 8, e[i]);
		else
			acpi_build_put32(t + ACPI_BUILD_HEADER_LEN + i * 4, (uint32_t)e[i]);
	acpi_build_seal(t);
}
#endif
