/*
 * ACPI table reader (see acpi.h for the contract). Layouts from the ACPI specification 6.x:
 * RSDP 5.2.5, system description table header 5.2.6, RSDT/XSDT 5.2.7-8, FADT 5.2.9, FACS 5.2.10,
 * DSDT 5.2.11.1, MADT 5.2.12;
 * the DMAR from Intel's VT-d specification (section 8.1); the HPET table from the IA-PC HPET
 * specification 1.0a (section 3.2.4).
 * Multi-byte fields are read byte by byte (tables are byte-packed, often unaligned).
 */
#include "acpi.h"

#define RSDP_V1_LEN        20        /* bytes covered by the ACPI 1.0 checksum */
#define RSDP_V2_MIN_LEN    36        /* the ACPI 2.0+ structure */
#define RSDP_OFF_REVISION  15
#define RSDP_OFF_RSDT      16
#define RSDP_OFF_LENGTH    20
#define RSDP_OFF_XSDT      24
#define SDT_HEADER_LEN     36
#define SDT_OFF_LENGTH     4
#define MADT_OFF_LAPIC     36
#define MADT_OFF_FLAGS     40
#define MADT_OFF_ENTRIES   44
#define MADT_LAPIC         0         /* processor local APIC: uid8, id8, flags32 */
#define MADT_LAPIC_LEN     8
#define MADT_LAPIC_OVR     5         /* local APIC address override: reserved16, address64 */
#define MADT_LAPIC_OVR_LEN 12
#define MADT_X2APIC        9         /* processor local x2APIC: reserved16, id32, flags32, uid32 */
#define MADT_X2APIC_LEN    16
#define MADT_CPU_ENABLED   (1u << 0)
#define MADT_CPU_ONLINE_CAPABLE (1u << 1)
#define SDT_OFF_REVISION   8
#define MADT_REV_ONLINE_CAPABLE 5    /* ACPI 6.3: the first MADT revision defining Online Capable */
#define FADT_OFF_PM_TMR    76        /* PM_TMR_BLK: 32-bit I/O port */
#define FADT_OFF_PM_TMR_LEN 91       /* PM_TMR_LEN: 4 when the timer exists */
#define FADT_OFF_FLAGS     112
#define FADT_TMR_VAL_EXT   (1u << 8)
#define FADT_OFF_X_PM_TMR  208       /* X_PM_TMR_BLK: a generic address structure (12 bytes) */
#define GAS_LEN            12
#define GAS_SPACE_IO       1
#define FADT_PM_TMR_LEN    4
#define IO_PORT_MAX        0xFFFFu
#define DMAR_OFF_HAW       36        /* Host Address Width: the DMA address bits, minus one */
#define DMAR_OFF_FLAGS     37
#define DMAR_MIN_LEN       (DMAR_OFF_FLAGS + 1)
#define HPET_OFF_BLOCK_ID  36
#define HPET_OFF_BASE      40        /* the base address: a generic address structure */
#define HPET_OFF_NUMBER    52
#define HPET_OFF_MIN_TICK  53
#define HPET_OFF_PAGE_PROT 55
#define FADT_OFF_FACS      36        /* FIRMWARE_CTRL: the FACS's 32-bit address */
#define FADT_OFF_DSDT      40        /* DSDT: the DSDT's 32-bit address */
#define FADT_OFF_X_FACS    132       /* X_FIRMWARE_CTRL: the FACS's 64-bit address (ACPI 2.0+) */
#define FADT_OFF_X_DSDT    140       /* X_DSDT: the DSDT's 64-bit address (ACPI 2.0+) */
#define FACS_OFF_LENGTH    4         /* the FACS has a signature and a length, no checksum */
#define FACS_MIN_LEN       64        /* the FACS's defined fields (ACPI 6.x, table 5.14) */
#define GAS_OFF_ADDRESS    4         /* a GAS's 64-bit address, after space, width, offset, access size */
#define GAS_SPACE_MEMORY   0

/* Little-endian loads from a byte-packed table. */
static uint32_t acpi_le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t acpi_le32(const uint8_t *p) { return acpi_le16(p) | acpi_le16(p + 2) << 16; }
static uint64_t acpi_le64(const uint8_t *p) { return acpi_le32(p) | (uint64_t)acpi_le32(p + 4) << 32; }

/* True when the len bytes at p sum to 0 mod 256. */
static bool acpi_checksum_ok(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

/* True when the 4 bytes at p are sig. */
static bool acpi_sig_is(const uint8_t *p, const char sig[4])
{
	return p[0] == (uint8_t)sig[0] && p[1] == (uint8_t)sig[1] && p[2] == (uint8_t)sig[2] &&
	       p[3] == (uint8_t)sig[3];
}

/* Maps len bytes at pa; NULL on failure or when [pa, pa + len) wraps. */
static const uint8_t *acpi_map(const struct acpi_access *acc, uint64_t pa, size_t len)
{
	if (pa == 0 || len == 0 || range_overflows(pa, len))
		return NULL;
	return acc->map(acc->ctx, pa, len);
}

/*
 * Maps the table at pa after checking its header: signature sig (NULL: any), a length of at least
 * min_len bytes (and the header) and at most ACPI_TABLE_MAX, and the checksum over that length.
 */
static int acpi_map_table(const struct acpi_access *acc, uint64_t pa, const char *sig, uint32_t min_len,
			  const uint8_t **table, uint32_t *len)
{
	const uint8_t *h = acpi_map(acc, pa, SDT_HEADER_LEN);
	uint32_t n;

	if (!h)
		return ACPI_EUNMAPPED;
	if (sig && !acpi_sig_is(h, sig))
		return ACPI_ENOTABLE;
	n = acpi_le32(h + SDT_OFF_LENGTH);
	if (n < SDT_HEADER_LEN || n < min_len || n > ACPI_TABLE_MAX)
		return ACPI_EBADTABLE;
	h = acpi_map(acc, pa, n);
	if (!h)
		return ACPI_EUNMAPPED;
	if (!acpi_checksum_ok(h, n))
		return ACPI_EBADTABLE;
	*table = h;
	*len = n;
	return ACPI_OK;
}

/* Finds the root table through the RSDP: the XSDT (8-byte entries) when revision >= 2 gives one,
 * else the RSDT (4-byte entries). */
static int acpi_map_root(const struct acpi_access *acc, uint64_t rsdp_pa, const uint8_t **root, uint32_t *len,
			 unsigned *entry_size)
{
	const uint8_t *r;
	uint64_t xsdt = 0;
	int st;

	if (!rsdp_pa)
		return ACPI_ENORSDP;
	r = acpi_map(acc, rsdp_pa, RSDP_V1_LEN);
	if (!r)
		return ACPI_EUNMAPPED;
	if (!acpi_sig_is(r, "RSD ") || !acpi_sig_is(r + 4, "PTR ") || !acpi_checksum_ok(r, RSDP_V1_LEN))
		return ACPI_EBADRSDP;
	if (r[RSDP_OFF_REVISION] >= 2) {
		uint32_t n;
		r = acpi_map(acc, rsdp_pa, RSDP_V2_MIN_LEN);
		if (!r)
			return ACPI_EUNMAPPED;
		n = acpi_le32(r + RSDP_OFF_LENGTH);
		if (n < RSDP_V2_MIN_LEN || n > ACPI_TABLE_MAX)
			return ACPI_EBADRSDP;
		r = acpi_map(acc, rsdp_pa, n);
		if (!r)
			return ACPI_EUNMAPPED;
		if (!acpi_checksum_ok(r, n))
			return ACPI_EBADRSDP;
		xsdt = acpi_le64(r + RSDP_OFF_XSDT);
	}
	if (xsdt) {
		*entry_size = 8;
		st = acpi_map_table(acc, xsdt, "XSDT", SDT_HEADER_LEN, root, len);
	} else {
		*entry_size = 4;
		st = acpi_map_table(acc, acpi_le32(r + RSDP_OFF_RSDT), "RSDT", SDT_HEADER_LEN, root, len);
	}
	return st == ACPI_OK ? ACPI_OK : st == ACPI_EUNMAPPED ? st : ACPI_EBADROOT;
}

/*
 * Charges the table at pa its length against *budget, the bytes of tables of signature sig
 * acpi_find_table may still read whole: true when it fits and is taken, or when acpi_map_table will
 * refuse the table before its body is read (a header that does not map, another signature, a
 * length of no table); false when the table is not to be read.
 */
static bool acpi_find_afford(const struct acpi_access *acc, uint64_t pa, const char sig[4], uint32_t *budget)
{
	const uint8_t *h = acpi_map(acc, pa, SDT_HEADER_LEN);
	uint32_t n;

	if (!h || !acpi_sig_is(h, sig) || (n = acpi_le32(h + SDT_OFF_LENGTH)) < SDT_HEADER_LEN || n > ACPI_TABLE_MAX)
		return true;
	if (n > *budget)
		return false;
	*budget -= n;
	return true;
}

int acpi_find_table(const struct acpi_access *acc, uint64_t rsdp_pa, const char sig[4], uint64_t *pa,
		    uint32_t *len)
{
	const uint8_t *root, *t;
	uint32_t root_len, n, budget = ACPI_FIND_BUDGET;
	unsigned esz;
	int st = acpi_map_root(acc, rsdp_pa, &root, &root_len, &esz);
	int found = ACPI_ENOTABLE;

	if (st)
		return st;
	for (uint32_t off = SDT_HEADER_LEN; off + esz <= root_len; off += esz) {
		uint64_t e = esz == 8 ? acpi_le64(root + off) : acpi_le32(root + off);

		if (!acpi_find_afford(acc, e, sig, &budget))
			continue;   /* past the budget: unread; a table of sig read before failed, so found says so */
		st = acpi_map_table(acc, e, sig, SDT_HEADER_LEN, &t, &n);
		if (st == ACPI_OK) {
			*pa = e;
			*len = n;
			return ACPI_OK;
		}
		if (st == ACPI_EBADTABLE)   /* a table with this signature exists but is corrupt */
			found = ACPI_EBADTABLE;
		else if (st == ACPI_EUNMAPPED && found == ACPI_ENOTABLE && (t = acpi_map(acc, e, SDT_HEADER_LEN)) &&
			 acpi_sig_is(t, sig))
			found = ACPI_EUNMAPPED;   /* one of the signature whose body could not be read: not "none" */
	}
	return found;
}

/* Finds the table sig and maps it whole, at least min_len bytes (acpi_map_table): its bytes in
 * *table and its length in *len, or the status of the step that failed. */
static int acpi_open_table(const struct acpi_access *acc, uint64_t rsdp_pa, const char sig[4], uint32_t min_len,
			   const uint8_t **table, uint32_t *len)
{
	uint64_t pa;
	int st = acpi_find_table(acc, rsdp_pa, sig, &pa, len);

	return st ? st : acpi_map_table(acc, pa, sig, min_len, table, len);
}

/* Records one processor entry of the MADT; flags bit 1 is Online Capable only in a MADT of revision
 * MADT_REV_ONLINE_CAPABLE or later (online_capable_defined), reserved before (Linux reads it so:
 * acpi_support_online_capable). */
static void acpi_madt_cpu(struct acpi_madt_info *out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2,
			  bool online_capable_defined)
{
	bool enabled = flags & MADT_CPU_ENABLED, capable = online_capable_defined && (flags & MADT_CPU_ONLINE_CAPABLE);

	if (out->kept < ACPI_MAX_CPUS)
		out->cpu[out->kept++] = (struct acpi_cpu){ .apic_id = apic_id, .uid = uid, .x2apic = x2,
							   .enabled = enabled, .online_capable = capable };
	out->entries++;
	out->enabled += enabled;
	out->usable += enabled || capable;
}

/* Empties *out (its cpu[] array aside, which kept bounds): what a refused MADT reports. */
static void acpi_madt_clear(struct acpi_madt_info *out)
{
	out->lapic_base = 0;
	out->flags = 0;
	out->revision = 0;
	out->entries = out->usable = out->enabled = out->kept = 0;
}

/* acpi_read_madt's walk of the entries of the MADT t (len bytes) into *out; ACPI_EBADTABLE at the
 * first entry that is cut off or shorter than its type defines. */
static int acpi_madt_entries(const uint8_t *t, uint32_t len, struct acpi_madt_info *out)
{
	bool capable_bit = out->revision >= MADT_REV_ONLINE_CAPABLE;
	for (uint32_t off = MADT_OFF_ENTRIES; off < len;) {
		uint32_t type, elen;

		if (len - off < 2)
			return ACPI_EBADTABLE;
		type = t[off];
		elen = t[off + 1];
		if (elen < 2 || elen > len - off)
			return ACPI_EBADTABLE;
		if ((type == MADT_LAPIC && elen < MADT_LAPIC_LEN) || (type == MADT_X2APIC && elen < MADT_X2APIC_LEN) ||
		    (type == MADT_LAPIC_OVR && elen < MADT_LAPIC_OVR_LEN))
			return ACPI_EBADTABLE;
		if (type == MADT_LAPIC)
			acpi_madt_cpu(out, t[off + 3], t[off + 2], acpi_le32(t + off + 4), false, capable_bit);
		else if (type == MADT_X2APIC)
			acpi_madt_cpu(out, acpi_le32(t + off + 4), acpi_le32(t + off + 12), acpi_le32(t + off + 8), true,
				      capable_bit);
		else if (type == MADT_LAPIC_OVR)
			out->lapic_base = acpi_le64(t + off + 4);
		off += elen;
	}
	return ACPI_OK;
}

int acpi_read_madt(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_madt_info *out)
{
	const uint8_t *t;
	uint32_t len;
	int st;

	acpi_madt_clear(out);
	st = acpi_open_table(acc, rsdp_pa, "APIC", MADT_OFF_ENTRIES, &t, &len);
	if (st)
		return st;
	out->lapic_base = acpi_le32(t + MADT_OFF_LAPIC);
	out->flags = acpi_le32(t + MADT_OFF_FLAGS);
	out->revision = t[SDT_OFF_REVISION];
	st = acpi_madt_entries(t, len, out);
	if (st)
		acpi_madt_clear(out);   /* a refused table lists no processor, not the ones before its fault */
	return st;
}

int acpi_read_pm_timer(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_pm_timer *out)
{
	const uint8_t *t;
	uint32_t len;
	int st;

	out->port = 0;
	out->bits32 = false;
	st = acpi_open_table(acc, rsdp_pa, "FACP", FADT_OFF_FLAGS + 4, &t, &len);
	if (st)
		return st;
	if (len >= FADT_OFF_X_PM_TMR + GAS_LEN && t[FADT_OFF_X_PM_TMR] == GAS_SPACE_IO) {
		uint64_t a = acpi_le64(t + FADT_OFF_X_PM_TMR + 4);
		if (a && a <= IO_PORT_MAX)
			out->port = (uint16_t)a;
	}
	if (!out->port && t[FADT_OFF_PM_TMR_LEN] == FADT_PM_TMR_LEN && acpi_le32(t + FADT_OFF_PM_TMR) <= IO_PORT_MAX)
		out->port = (uint16_t)acpi_le32(t + FADT_OFF_PM_TMR);
	out->bits32 = out->port && (acpi_le32(t + FADT_OFF_FLAGS) & FADT_TMR_VAL_EXT);
	return out->port ? ACPI_OK : ACPI_ENOTABLE;
}

int acpi_read_dmar(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_dmar_info *out)
{
	const uint8_t *t;
	uint32_t len;
	int st;

	*out = (struct acpi_dmar_info){ 0 };
	st = acpi_open_table(acc, rsdp_pa, "DMAR", DMAR_MIN_LEN, &t, &len);
	if (st)
		return st;
	out->host_address_width = t[DMAR_OFF_HAW];
	out->flags = t[DMAR_OFF_FLAGS];
	return ACPI_OK;
}

int acpi_read_hpet(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_hpet_info *out)
{
	const uint8_t *t;
	uint32_t len;
	int st;

	*out = (struct acpi_hpet_info){ 0 };
	st = acpi_open_table(acc, rsdp_pa, "HPET", ACPI_HPET_MIN_LEN, &t, &len);
	if (st)
		return st;
	if (t[HPET_OFF_BASE] != GAS_SPACE_MEMORY)
		return ACPI_ENOTMEM;
	if (!acpi_le64(t + HPET_OFF_BASE + GAS_OFF_ADDRESS))
		return ACPI_ENOADDR;
	out->base = acpi_le64(t + HPET_OFF_BASE + GAS_OFF_ADDRESS);
	out->block_id = acpi_le32(t + HPET_OFF_BLOCK_ID);
	out->number = t[HPET_OFF_NUMBER];
	out->min_tick = (uint16_t)acpi_le16(t + HPET_OFF_MIN_TICK);
	out->page_prot = t[HPET_OFF_PAGE_PROT];
	return ACPI_OK;
}

/* Maps the FACS at pa whole: signature "FACS", a length of at least FACS_MIN_LEN and at most
 * ACPI_TABLE_MAX (the FACS has no checksum to check). */
static int acpi_map_facs(const struct acpi_access *acc, uint64_t pa)
{
	const uint8_t *h = acpi_map(acc, pa, FACS_OFF_LENGTH + 4);
	uint32_t n;

	if (!h)
		return ACPI_EUNMAPPED;
	if (!acpi_sig_is(h, "FACS"))
		return ACPI_ENOTABLE;
	n = acpi_le32(h + FACS_OFF_LENGTH);
	if (n < FACS_MIN_LEN || n > ACPI_TABLE_MAX)
		return ACPI_EBADTABLE;
	return acpi_map(acc, pa, n) ? ACPI_OK : ACPI_EUNMAPPED;
}

/* One of the FADT's address pairs: the 64-bit field at xoff when the table holds it and it is not
 * 0 (the specification: then the 32-bit one is ignored), else the 32-bit field at off; 0 for none. */
static uint64_t acpi_fadt_addr(const uint8_t *t, uint32_t len, uint32_t off, uint32_t xoff)
{
	if (len >= xoff + 8 && acpi_le64(t + xoff))
		return acpi_le64(t + xoff);
	return len >= off + 4 ? acpi_le32(t + off) : 0;
}

/*
 * Charges the table at pa its length (the 32-bit word at offset 4, where an SDT and the FACS both
 * keep it) against *budget, the bytes acpi_map_all may still read whole: true when that length fits
 * and is taken, or when the table's checks will refuse it before its body is read (a header that
 * does not map, a length of no table); false, counted in out (skipped, over_budget), when the
 * table is not to be read. Maps the hdr bytes its own checks map first (an SDT's header, the
 * FACS's signature and length), so it maps no page they would not.
 */
static bool acpi_map_all_afford(const struct acpi_access *acc, uint64_t pa, uint32_t hdr, uint32_t *budget,
				struct acpi_map_all_info *out)
{
	const uint8_t *h = acpi_map(acc, pa, hdr);
	uint32_t n;

	if (!h || (n = acpi_le32(h + SDT_OFF_LENGTH)) > ACPI_TABLE_MAX)
		return true;
	if (n > *budget) {
		out->skipped++;
		out->over_budget++;
		return false;
	}
	*budget -= n;
	return true;
}

/* Maps the DSDT and the FACS a FADT (t, len bytes) names, where it names them and *budget affords
 * them, each counted in *out as mapped or skipped. Both addresses are read before anything else is
 * mapped. */
static void acpi_map_fadt_tables(const struct acpi_access *acc, const uint8_t *t, uint32_t len, uint32_t *budget,
				 struct acpi_map_all_info *out)
{
	uint64_t dsdt = acpi_fadt_addr(t, len, FADT_OFF_DSDT, FADT_OFF_X_DSDT);
	uint64_t facs = acpi_fadt_addr(t, len, FADT_OFF_FACS, FADT_OFF_X_FACS);
	const uint8_t *d;
	uint32_t n;

	if (dsdt && acpi_map_all_afford(acc, dsdt, SDT_HEADER_LEN, budget, out)) {
		if (acpi_map_table(acc, dsdt, "DSDT", SDT_HEADER_LEN, &d, &n) == ACPI_OK)
			out->tables++;
		else
			out->skipped++;
	}
	if (facs && acpi_map_all_afford(acc, facs, FACS_OFF_LENGTH + 4, budget, out)) {
		if (acpi_map_facs(acc, facs) == ACPI_OK)
			out->tables++;
		else
			out->skipped++;
	}
}

int acpi_map_all(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_map_all_info *out)
{
	const uint8_t *root, *t;
	uint32_t root_len, n, budget = ACPI_MAP_ALL_BUDGET;
	unsigned esz;
	int st;

	*out = (struct acpi_map_all_info){ 0 };
	st = acpi_map_root(acc, rsdp_pa, &root, &root_len, &esz);
	if (st)
		return st;
	out->tables = 2;   /* the RSDP and the root table, each mapped whole by acpi_map_root */
	for (uint32_t off = SDT_HEADER_LEN; off + esz <= root_len; off += esz) {
		uint64_t e = esz == 8 ? acpi_le64(root + off) : acpi_le32(root + off);

		if (!acpi_map_all_afford(acc, e, SDT_HEADER_LEN, &budget, out))
			continue;   /* past the budget: counted, not read */
		if (acpi_map_table(acc, e, NULL, SDT_HEADER_LEN, &t, &n) != ACPI_OK) {
			out->skipped++;   /* address 0, unmappable, bad length or checksum: the walk goes on */
			continue;
		}
		out->tables++;
		if (acpi_sig_is(t, "FACP"))
			acpi_map_fadt_tables(acc, t, n, &budget, out);
	}
	return ACPI_OK;
}

const char *acpi_strerror(int status)
{
	switch (status) {
	case ACPI_OK: return "ok";
	case ACPI_ENORSDP: return "no ACPI RSDP from the firmware";
	case ACPI_EBADRSDP: return "RSDP signature, checksum or length wrong";
	case ACPI_EBADROOT: return "XSDT/RSDT signature, length or checksum wrong";
	case ACPI_ENOTABLE: return "table not found";
	case ACPI_EBADTABLE: return "table malformed (length, checksum or entries)";
	case ACPI_EUNMAPPED: return "table memory not readable";
	case ACPI_ENOTMEM: return "register block not in system memory";
	case ACPI_ENOADDR: return "register block at address 0";
	default: return "unknown ACPI status";
	}
}
