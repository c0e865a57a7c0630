/*
 * acpi_: a small, defensive reader of the ACPI tables the kernel needs: the RSDP the loader found,
 * the XSDT (or the RSDT for ACPI 1.0), the MADT (the CPUs and their local APICs), the FADT (the
 * PM timer), the DMAR's flags (whether the firmware opts out of x2APIC mode) and the HPET table
 * (the event timer block's address); and acpi_map_all, which maps every table once (the kernel's
 * premap before its direct map is sealed). Every table is
 * checked before use: signature, length (at least its header, at most ACPI_TABLE_MAX, and long
 * enough for the fields read) and checksum (bytes sum to 0 mod 256); MADT entries must lie inside
 * the table and have the length their type defines.
 *
 * Physical memory is read only through the caller's map function, so the parser runs unchanged on
 * the host (tests/host/test_acpi.c builds tables in a buffer). No allocation, no global state.
 */
#ifndef ACPI_H
#define ACPI_H

#include "types.h"

#define ACPI_TABLE_MAX   (1u << 20)  /* a longer table is refused as corrupt */
#define ACPI_MAX_CPUS    512         /* processor entries kept; more are counted, not kept */
#define ACPI_PM_TIMER_HZ 3579545u    /* the PM timer's fixed frequency */

/* Returns a pointer to len readable bytes at physical address pa, or NULL when they cannot be read.
 * A pointer returned must stay valid until the acpi_ call that asked for it returns. */
typedef const void *(*acpi_map_fn)(void *ctx, uint64_t pa, size_t len);

struct acpi_access {
	acpi_map_fn map;
	void *ctx;
};

enum acpi_status {
	ACPI_OK = 0,
	ACPI_ENORSDP = -1,    /* no RSDP address */
	ACPI_EBADRSDP = -2,   /* RSDP signature, checksum or length wrong */
	ACPI_EBADROOT = -3,   /* XSDT/RSDT signature, length or checksum wrong */
	ACPI_ENOTABLE = -4,   /* no valid table with that signature */
	ACPI_EBADTABLE = -5,  /* the table is there but malformed (entry outside it, bad entry length) */
	ACPI_EUNMAPPED = -6,  /* the map function could not provide the bytes */
	ACPI_ENOTMEM = -7,    /* a register block in I/O or another space than system memory */
	ACPI_ENOADDR = -8,    /* a register block at address 0 */
};

/* One processor the MADT lists (type 0, local APIC, or type 9, local x2APIC). */
struct acpi_cpu {
	uint32_t apic_id;         /* local (x2)APIC id */
	uint32_t uid;             /* ACPI processor id (8 bits for type 0) / UID (type 9) */
	bool x2apic;              /* from a type-9 entry */
	bool enabled;             /* flags bit 0: usable now */
	bool online_capable;      /* flags bit 1 in a MADT of revision 5 (ACPI 6.3) or later, where it is
				   * defined (reserved before: read as 0): a slot a CPU may be added to */
};

struct acpi_madt_info {
	uint64_t lapic_base;      /* local APIC address: the MADT's, or the type-5 override's */
	uint32_t flags;           /* MADT flags (bit 0: dual 8259 PICs present) */
	uint8_t revision;         /* the MADT's header revision (5 and later define Online Capable) */
	size_t entries;           /* processor entries seen, all kinds */
	size_t usable;            /* entries enabled or online-capable: CPUs that can run */
	size_t enabled;           /* entries enabled */
	size_t kept;              /* min(entries, ACPI_MAX_CPUS): cpu[] entries filled, in table order */
	struct acpi_cpu cpu[ACPI_MAX_CPUS];
};

/* The FADT's power-management timer. */
struct acpi_pm_timer {
	uint16_t port;            /* I/O port of the 24- or 32-bit counter; 0 when the FADT has none */
	bool bits32;              /* TMR_VAL_EXT: the counter has 32 bits, else 24 */
};

/* The DMAR's header fields (Intel VT-d specification 8.1); its remapping structures are not read. */
struct acpi_dmar_info {
	uint8_t host_address_width;   /* DMA address bits minus one */
	uint8_t flags;                /* ACPI_DMAR_INTR_REMAP, ACPI_DMAR_X2APIC_OPT_OUT, ... */
};

#define ACPI_DMAR_INTR_REMAP     (1u << 0)  /* the platform supports interrupt remapping */
#define ACPI_DMAR_X2APIC_OPT_OUT (1u << 1)  /* the firmware asks the OS not to enable x2APIC mode */
#define ACPI_DMAR_DMA_CTRL_OPT_IN (1u << 2) /* DMA control platform opt-in (not used here) */

/* The HPET table's fields (IA-PC HPET specification 1.0a, section 3.2.4). */
struct acpi_hpet_info {
	uint64_t base;            /* physical address of the event timer block (system memory), as given */
	uint32_t block_id;        /* Event Timer Block ID: a copy of the capabilities' low 32 bits */
	uint8_t number;           /* HPET sequence number */
	uint16_t min_tick;        /* main counter minimum clock tick in periodic mode */
	uint8_t page_prot;        /* page protection and OEM attribute */
};

#define ACPI_HPET_MIN_LEN 56      /* header, block ID, base GAS, number, minimum tick, protection */

/* The bytes of tables of the signature searched for that acpi_find_table reads whole at most
 * [ours]: a root listing one corrupt 1 MiB table 131068 times would have each search checksum
 * 128 GiB. */
#define ACPI_FIND_BUDGET (16u << 20)

/* Finds the table with signature sig (4 characters) through the RSDP at rsdp_pa; on ACPI_OK,
 * *pa and *len locate a table whose header, length and checksum were verified: the first in the
 * root's order. A table of sig whose length would take the bytes read whole past ACPI_FIND_BUDGET
 * is not read (the ones read before it were malformed or unreadable, which the status says). */
int acpi_find_table(const struct acpi_access *acc, uint64_t rsdp_pa, const char sig[4], uint64_t *pa,
		    uint32_t *len);

/* Reads the MADT's processors and local APIC address into *out; on any failure *out is empty (no
 * processor, address, flags or revision), even when the fault lies after good entries. */
int acpi_read_madt(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_madt_info *out);

/* Reads the PM timer's port and width from the FADT (the X_PM_TMR_BLK when it is an I/O address). */
int acpi_read_pm_timer(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_pm_timer *out);

/* Reads the DMAR's host address width and flags into *out (zeroed first); ACPI_ENOTABLE when the
 * firmware has none, ACPI_EBADTABLE when it is shorter than its flags or its checksum is wrong. */
int acpi_read_dmar(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_dmar_info *out);

/* Reads the HPET table into *out (zeroed first): ACPI_ENOTABLE when the firmware has none,
 * ACPI_EBADTABLE when it is shorter than ACPI_HPET_MIN_LEN or its checksum is wrong, ACPI_ENOTMEM
 * when its base address is not in system memory (address space ID 0), ACPI_ENOADDR when it is 0. */
int acpi_read_hpet(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_hpet_info *out);

/* What acpi_map_all did. */
struct acpi_map_all_info {
	uint32_t tables;          /* tables mapped whole: the RSDP, the root, its entries', a FADT's DSDT and FACS */
	uint32_t skipped;         /* entries and FADT addresses whose table was not mapped: address 0, the map
				   * function's NULL (out of range, device memory, past 2^64), a wrong length
				   * or checksum, a DSDT or FACS of the wrong signature, a table past the budget */
	uint32_t over_budget;     /* of those, tables left unread because the bytes read whole so far and
				   * theirs would pass ACPI_MAP_ALL_BUDGET */
};

/* The bytes of entries' tables (and DSDTs and FACSs) acpi_map_all reads whole at most [ours]: a
 * PC's tables total a few MiB; a root listing one 1 MiB table 131068 times would have the walk
 * checksum 128 GiB. */
#define ACPI_MAP_ALL_BUDGET (16u << 20)

/* Maps, through acc, every table the firmware describes, each whole: the RSDP, the XSDT (or the
 * RSDT, as the other readers choose), every table the root lists, and each FADT's DSDT (X_DSDT when
 * not 0, else DSDT) and FACS (X_FIRMWARE_CTRL when not 0, else FIRMWARE_CTRL). Headers are checked
 * as acpi_find_table checks them (the FACS: signature and length only; it has no checksum); an
 * entry that fails is counted in out->skipped and the walk goes on; so is one whose length would take
 * the bytes read whole past ACPI_MAP_ALL_BUDGET (out->over_budget), which is not read. Returns the root's status
 * (ACPI_ENORSDP, ACPI_EBADRSDP, ACPI_EBADROOT, ACPI_EUNMAPPED), else ACPI_OK whatever the entries. */
int acpi_map_all(const struct acpi_access *acc, uint64_t rsdp_pa, struct acpi_map_all_info *out);

/* A short description of an acpi_status value. */
const char *acpi_strerror(int status);

#endif
