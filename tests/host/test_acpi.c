/*
 * Host tests of the ACPI reader (arch/x86_64/acpi.c) on tables built in a fake physical memory:
 * ACPI 2.0 (XSDT) and 1.0 (RSDT) paths, MADT processor entries of both kinds with every flag
 * combination, the local APIC override, the FADT's PM timer; generated MADTs compared with a model;
 * every single-byte corruption of a checksummed byte refused; random entry streams with fixed-up
 * checksums never read outside the table (each map call returns an exact-size copy, so ASan sees
 * any overrun) and are accepted exactly when well formed; the DMAR's width and flags for every
 * flags byte, a missing, short or corrupt DMAR refused with nothing reported; generated RSDPs
 * (revision, Length, XsdtAddress, corruptions) against the specification's rules; root tables with
 * a partial last entry and corrupt copies of a table; every MADT entry broken in every way an entry
 * can break; the HPET table's fields at their bounds (generated), its base address refused outside
 * system memory or at 0, a short, corrupt or missing table refused with nothing reported; a root repeating one
 * corrupt table searched reading at most ACPI_FIND_BUDGET of it whole. The whole test runs under an alarm, so a parser
 * that stops advancing fails it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "acpi.h"
#include "test_rng.h"
#include "acpi_build.h"

#define PHYS_BASE 0x80000u
#define PHYS_SIZE 0x40000u
#define RSDP_PA   0x80000u
#define ROOT_PA   0x81000u
#define MADT_PA   0x82000u
#define FADT_PA   0x90000u
#define OTHER_PA  0x91000u
#define DMAR_PA   0x92000u
#define RSDT2_PA  0x93000u   /* a second root (RSDT) listing MADT2_PA */
#define MADT2_PA  0x94000u   /* a second MADT: two local APICs */
#define HPET_PA   0x95000u
#define MAX_COPIES 64

static uint8_t phys[PHYS_SIZE];
static uint64_t deny_pa;   /* fake_map refuses more than deny_len bytes at deny_pa (0: nothing refused) */
static size_t deny_len;
static void *copies[MAX_COPIES];
static size_t ncopies;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	return test_rng_next(&rng);
}

/* acpi_map_fn: an exact-size copy of [pa, pa + len) when it lies in phys[], else NULL. */
static const void *fake_map(void *ctx, uint64_t pa, size_t len)
{
	(void)ctx;
	if (pa < PHYS_BASE || len > PHYS_SIZE || pa - PHYS_BASE > PHYS_SIZE - len || ncopies == MAX_COPIES)
		return NULL;
	if (deny_len && pa == deny_pa && len > deny_len)   /* a range the "machine" cannot read */
		return NULL;
	void *c = malloc(len);
	memcpy(c, phys + (pa - PHYS_BASE), len);
	copies[ncopies++] = c;
	return c;
}

static void free_copies(void)
{
	while (ncopies)
		free(copies[--ncopies]);
}

static const struct acpi_access acc = { fake_map, NULL };

static uint8_t *at(uint64_t pa) { return phys + (pa - PHYS_BASE); }
/* Writes a table header (signature, length) at pa; the checksum is fixed by seal(). */
static void header(uint64_t pa, const char *sig, uint32_t len) { acpi_build_header(at(pa), sig, len, 1); }

static void seal(uint64_t pa) { acpi_build_seal(at(pa)); }

/* An RSDP of revision rev (2: XSDT at root, else RSDT at root). */
static void make_rsdp(int rev, uint64_t root) { acpi_build_rsdp(at(RSDP_PA), rev, root); }

/* A root table listing the given tables. */
static void make_root(int rev, const uint64_t *tables, size_t n) { acpi_build_root(at(ROOT_PA), rev, tables, n); }

/* The model of a MADT being built. */
struct madt_model { uint32_t len; size_t entries, usable, enabled; uint64_t lapic; uint8_t rev; };

#define MADT_REV_CAPABLE 5   /* ACPI 6.3's MADT revision, the first where flags bit 1 is Online Capable */

/* Starts a MADT of header revision rev (Online Capable read from MADT_REV_CAPABLE on). */
static void madt_begin_rev(struct madt_model *m, uint32_t lapic, uint8_t rev)
{
	header(MADT_PA, "APIC", 44);
	at(MADT_PA)[8] = rev;
	acpi_build_put32(at(MADT_PA) + 36, lapic);
	acpi_build_put32(at(MADT_PA) + 40, 1);
	*m = (struct madt_model){ .len = 44, .lapic = lapic, .rev = rev };
}

/* Starts a MADT of revision MADT_REV_CAPABLE. */
static void madt_begin(struct madt_model *m, uint32_t lapic) { madt_begin_rev(m, lapic, MADT_REV_CAPABLE); }

/* Appends a processor entry (x2: type 9) with flags. */
static void madt_cpu(struct madt_model *m, bool x2, uint32_t id, uint32_t flags)
{
	uint8_t *e = at(MADT_PA) + m->len;
	if (x2) {
		memset(e, 0, 16);
		e[0] = 9, e[1] = 16;
		acpi_build_put32(e + 4, id), acpi_build_put32(e + 8, flags), acpi_build_put32(e + 12, id + 100);
		m->len += 16;
	} else {
		e[0] = 0, e[1] = 8, e[2] = (uint8_t)(id + 1), e[3] = (uint8_t)id;
		acpi_build_put32(e + 4, flags);
		m->len += 8;
	}
	m->entries++;
	m->enabled += flags & 1;
	m->usable += (flags & 1) || (m->rev >= MADT_REV_CAPABLE && (flags & 2));
}

/* Appends an entry of another type with the given length and junk contents. */
static void madt_other(struct madt_model *m, uint8_t type, uint8_t len)
{
	uint8_t *e = at(MADT_PA) + m->len;
	for (int i = 0; i < len; i++)
		e[i] = (uint8_t)rnd();
	e[0] = type, e[1] = len;
	m->len += len;
}

static void madt_end(struct madt_model *m)
{
	acpi_build_put32(at(MADT_PA) + 4, m->len);
	seal(MADT_PA);
}

/* An FADT with a PM timer at port (legacy field), optionally also as X_PM_TMR_BLK. */
static void make_fadt(uint16_t port, bool ext32, bool xblk, uint16_t xport)
{
	header(FADT_PA, "FACP", 244);
	memset(at(FADT_PA) + 36, 0, 244 - 36);
	acpi_build_put32(at(FADT_PA) + 76, port);
	at(FADT_PA)[91] = port ? 4 : 0;
	acpi_build_put32(at(FADT_PA) + 112, ext32 ? 1u << 8 : 0);
	if (xblk) {
		at(FADT_PA)[208] = 1;
		at(FADT_PA)[209] = 32;
		acpi_build_put64(at(FADT_PA) + 212, xport);
	}
	seal(FADT_PA);
}

/* A whole valid machine: RSDP rev, root with [other, FADT, MADT], a MADT of ncpu local APICs. */
static void make_machine(int rev, size_t ncpu, struct madt_model *m)
{
	memset(phys, 0, sizeof(phys));
	header(OTHER_PA, "HPET", 56);
	seal(OTHER_PA);
	make_fadt(0x608, true, rev >= 2, 0x608);
	madt_begin(m, 0xFEE00000u);
	for (size_t i = 0; i < ncpu; i++)
		madt_cpu(m, false, (uint32_t)i, i == 0 ? 1 : (uint32_t)(i % 4));
	madt_end(m);
	uint64_t t[] = { OTHER_PA, FADT_PA, MADT_PA };
	make_root(rev, t, 3);
	make_rsdp(rev, ROOT_PA);
}

static struct acpi_madt_info info;

/* Reads the MADT and compares with the model. */
static bool madt_matches(const struct madt_model *m)
{
	int st = acpi_read_madt(&acc, RSDP_PA, &info);
	free_copies();
	return st == ACPI_OK && info.entries == m->entries && info.usable == m->usable && info.enabled == m->enabled &&
	       info.kept == (m->entries < ACPI_MAX_CPUS ? m->entries : ACPI_MAX_CPUS) && info.lapic_base == m->lapic;
}

static void test_valid(void)
{
	struct madt_model m;
	for (int rev = 0; rev <= 2; rev += 2) {
		make_machine(rev, 4, &m);
		bool match = madt_matches(&m);
		ok(match, "rev %d: 4 local APICs: %zu entries, %zu enabled, %zu usable", rev, info.entries,
		   info.enabled, info.usable);
		ok(info.cpu[0].enabled && info.cpu[0].apic_id == 0 && info.cpu[2].online_capable && !info.cpu[2].enabled &&
		   info.cpu[3].online_capable && info.cpu[3].enabled && info.cpu[1].uid == 2,
		   "rev %d: per-CPU flags, ids and UIDs as written", rev);
		struct acpi_pm_timer tm;
		int st = acpi_read_pm_timer(&acc, RSDP_PA, &tm);
		free_copies();
		ok(st == ACPI_OK && tm.port == 0x608 && tm.bits32, "rev %d: PM timer at port 0x608, 32 bits", rev);
	}
	/* x2APIC entries and the address override. */
	make_machine(2, 0, &m);
	madt_begin(&m, 0xFEE00000u);
	madt_cpu(&m, true, 0x1000, 1);
	madt_cpu(&m, false, 3, 0);
	madt_other(&m, 5, 12);
	acpi_build_put64(at(MADT_PA) + m.len - 8, 0xFED00000ull);
	m.lapic = 0xFED00000ull;
	madt_other(&m, 1, 12);   /* an I/O APIC: skipped */
	madt_end(&m);
	bool match = madt_matches(&m);
	ok(match && info.cpu[0].x2apic && info.cpu[0].apic_id == 0x1000 && info.cpu[0].uid == 0x1064 &&
	   !info.cpu[1].enabled, "x2APIC entry, a disabled CPU, the APIC address override (0x%llx)",
	   (unsigned long long)info.lapic_base);
	/* Flags bit 1 is Online Capable from MADT revision 5 (ACPI 6.3) on, reserved before: a MADT of
	 * revision 4 or less with it set on a disabled entry lists no hot-plug slot (Linux's
	 * acpi_support_online_capable). Before, it was read in every revision. */
	for (uint8_t rev = 1; rev <= 6; rev++) {
		madt_begin_rev(&m, 0xFEE00000u, rev);
		madt_cpu(&m, false, 0, 1);
		madt_cpu(&m, false, 1, 2);
		madt_cpu(&m, true, 0x300, 2);
		madt_cpu(&m, false, 2, 3);
		madt_end(&m);
		match = madt_matches(&m);
		bool capable = rev >= MADT_REV_CAPABLE;
		ok(match && info.revision == rev && info.cpu[1].online_capable == capable &&
		   info.cpu[2].online_capable == capable && info.cpu[3].online_capable == capable && info.cpu[3].enabled &&
		   info.usable == (capable ? 4u : 2u) && info.enabled == 2,
		   "MADT revision %u: flags bit 1 %s (%zu usable)", rev, capable ? "is Online Capable" : "is reserved, ignored",
		   info.usable);
	}
	/* FADT without X block, 24-bit timer; FADT without a timer. */
	make_fadt(0xb008, false, false, 0);
	struct acpi_pm_timer tm;
	int st = acpi_read_pm_timer(&acc, RSDP_PA, &tm);
	free_copies();
	ok(st == ACPI_OK && tm.port == 0xb008 && !tm.bits32, "legacy PM_TMR_BLK, 24-bit timer");
	make_fadt(0, false, false, 0);
	st = acpi_read_pm_timer(&acc, RSDP_PA, &tm);
	free_copies();
	ok(st == ACPI_ENOTABLE && tm.port == 0, "no PM timer: ENOTABLE, port 0");
	/* Missing pieces. */
	ok(acpi_read_madt(&acc, 0, &info) == ACPI_ENORSDP, "no RSDP address");
	free_copies();
	ok(acpi_read_madt(&acc, 0x10, &info) == ACPI_EUNMAPPED, "RSDP in unreadable memory");
	free_copies();
	uint64_t t[] = { OTHER_PA };
	make_root(2, t, 1);
	ok(acpi_read_madt(&acc, RSDP_PA, &info) == ACPI_ENOTABLE && info.entries == 0, "no MADT in the XSDT");
	free_copies();
	uint64_t t2[] = { 0xdead0000ull, MADT_PA };
	make_root(2, t2, 2);
	ok(acpi_read_madt(&acc, RSDP_PA, &info) == ACPI_OK, "an unreadable entry before the MADT is skipped");
	free_copies();
}

/* Generated MADTs: random mixes of entry kinds and flags, more CPUs than kept included. */
static void test_generated(void)
{
	struct madt_model m;
	int good = 0, n = 300;
	for (int i = 0; i < n; i++) {
		make_machine(i % 3 == 0 ? 0 : 2, 0, &m);
		madt_begin_rev(&m, (uint32_t)rnd(), (uint8_t)(rnd() % 8));
		size_t k = rnd() % (i % 10 == 0 ? 700 : 40);
		for (size_t j = 0; j < k && m.len + 16 <= ACPI_TABLE_MAX && m.len + 16 < FADT_PA - MADT_PA; j++) {
			switch (rnd() % 4) {
			case 0: madt_cpu(&m, false, (uint32_t)rnd() & 0xff, (uint32_t)rnd()); break;
			case 1: madt_cpu(&m, true, (uint32_t)rnd(), (uint32_t)rnd()); break;
			case 2: madt_other(&m, (uint8_t)(1 + rnd() % 4), (uint8_t)(2 + rnd() % 14)); break;
			default: madt_other(&m, (uint8_t)(10 + rnd() % 100), (uint8_t)(2 + rnd() % 30)); break;
			}
		}
		madt_end(&m);
		good += madt_matches(&m);
	}
	is(good, n, "%d generated MADTs (up to 700 processor entries) read exactly as the model", n);
}

/* Every single-byte change inside a checksummed byte of RSDP, root or MADT is refused. */
static void test_single_byte_corruption(void)
{
	struct madt_model m;
	static const struct { uint64_t pa; uint32_t len; const char *what; } regions[] = {
		{ RSDP_PA, 36, "RSDP" }, { ROOT_PA, 36 + 3 * 8, "XSDT" }, { MADT_PA, 44 + 4 * 8, "MADT" },
	};
	for (size_t r = 0; r < 3; r++) {
		int refused = 0, total = 0;
		for (uint32_t off = 0; off < regions[r].len; off++) {
			make_machine(2, 4, &m);
			uint8_t delta = (uint8_t)(1 + rnd() % 255);
			at(regions[r].pa)[off] = (uint8_t)(at(regions[r].pa)[off] + delta);
			int st = acpi_read_madt(&acc, RSDP_PA, &info);
			free_copies();
			refused += st != ACPI_OK;
			total++;
		}
		is(refused, total, "%s: all %d single-byte corruptions refused", regions[r].what, total);
	}
}

/* Random entry streams with a valid checksum: never an overrun, accepted iff well formed. */
static void test_random_streams(void)
{
	struct madt_model m;
	int agree = 0, n = 2000, accepted = 0;
	for (int i = 0; i < n; i++) {
		make_machine(2, 0, &m);
		madt_begin(&m, 0xFEE00000u);
		uint32_t len = 44 + (uint32_t)(rnd() % 200);
		for (uint32_t k = 44; k < len; k++)
			at(MADT_PA)[k] = (uint8_t)rnd();
		/* Mostly plausible entries (a type and its own length, sometimes off by a little). */
		uint32_t off = 44;
		for (; off + 2 <= len && rnd() % 16;) {
			static const uint8_t types[] = { 0, 9, 5, 1, 2, 4, 40 }, lens[] = { 8, 16, 12, 12, 10, 6, 3 };
			unsigned t = (unsigned)(rnd() % sizeof(types));
			int el = lens[t] + (rnd() % 6 == 0 ? (int)(rnd() % 5) - 2 : 0);
			at(MADT_PA)[off] = types[t];
			at(MADT_PA)[off + 1] = (uint8_t)el;
			off += el > 0 ? (uint32_t)el : 1;
		}
		if (rnd() % 2 && off <= len)   /* often end the table right after the last entry */
			len = off;
		/* The model: walk the same bytes with the specification's rules. */
		bool wf = true;
		for (uint32_t off = 44; wf && off < len;) {
			uint32_t type = at(MADT_PA)[off], el = off + 1 < len ? at(MADT_PA)[off + 1] : 0;
			wf = len - off >= 2 && el >= 2 && el <= len - off && !(type == 0 && el < 8) &&
			     !(type == 9 && el < 16) && !(type == 5 && el < 12);
			off += el;
		}
		m.len = len;
		madt_end(&m);
		if (rnd() % 8 == 0) {   /* a length field past readable memory or the size limit */
			len = rnd() % 2 ? PHYS_SIZE : 0xFFFFFFF0u;
			acpi_build_put32(at(MADT_PA) + 4, len);
		}
		int st = acpi_read_madt(&acc, RSDP_PA, &info);
		free_copies();
		bool bounded = len <= FADT_PA - MADT_PA;
		bool empty = !info.entries && !info.kept && !info.usable && !info.enabled && !info.lapic_base;
		if (!bounded) {
			agree += st != ACPI_OK && empty;
		} else {
			agree += (st == ACPI_OK) == wf && (st == ACPI_OK || (st == ACPI_EBADTABLE && empty));
			accepted += st == ACPI_OK;
		}
	}
	is(agree, n, "%d random MADT bodies: accepted exactly when well formed (%d accepted), a refused one listing "
	   "no processor, no overrun", n, accepted);
}

/* A DMAR of len bytes (at least its header) with host address width haw and flags, listed in the
 * XSDT after the other tables; the bytes after the flags are a DRHD-like filler. */
static void make_dmar(uint32_t len, uint8_t haw, uint8_t flags)
{
	struct madt_model m;

	make_machine(2, 2, &m);
	header(DMAR_PA, "DMAR", len);
	for (uint32_t i = 36; i < len; i++)
		at(DMAR_PA)[i] = (uint8_t)(i * 7);
	if (len > 36)
		at(DMAR_PA)[36] = haw;
	if (len > 37)
		at(DMAR_PA)[37] = flags;
	seal(DMAR_PA);
	uint64_t t[] = { OTHER_PA, FADT_PA, MADT_PA, DMAR_PA };
	make_root(2, t, 4);
}

/* An HPET table of len bytes (at least its header) whose base GAS has address space space and
 * address base, with the other fields given, listed in the XSDT after the FADT and the MADT. */
static void make_hpet(uint32_t len, uint8_t space, uint64_t base, const struct acpi_hpet_info *f)
{
	struct madt_model m;

	make_machine(2, 2, &m);
	header(HPET_PA, "HPET", len);
	for (uint32_t i = 36; i < len; i++)
		at(HPET_PA)[i] = (uint8_t)(i * 5 + 3);
	uint8_t body[ACPI_HPET_MIN_LEN] = { 0 };
	acpi_build_put32(body + 36, f->block_id);
	body[40] = space;
	body[41] = 64;                  /* register bit width */
	body[42] = 0;                   /* bit offset */
	body[43] = 0;                   /* access size: undefined, as firmware often gives it */
	acpi_build_put64(body + 44, base);
	body[52] = f->number;
	acpi_build_put16(body + 53, f->min_tick);
	body[55] = f->page_prot;
	for (uint32_t i = 36; i < len && i < ACPI_HPET_MIN_LEN; i++)
		at(HPET_PA)[i] = body[i];
	seal(HPET_PA);
	uint64_t t[] = { FADT_PA, MADT_PA, HPET_PA };   /* not OTHER_PA: make_machine's blank "HPET" */
	make_root(2, t, 3);
}

/* Reads the HPET table; *out is filled with a pattern first, so a refusal must clear it. */
static int read_hpet(struct acpi_hpet_info *out)
{
	memset(out, 0xA5, sizeof(*out));
	int st = acpi_read_hpet(&acc, RSDP_PA, out);
	free_copies();
	return st;
}

static bool hpet_zero(const struct acpi_hpet_info *h)
{
	return h->base == 0 && h->block_id == 0 && h->number == 0 && h->min_tick == 0 && h->page_prot == 0;
}

/*
 * acpi.h: acpi_read_hpet's fields and refusals. Generated: every field at 0, at its maximum and
 * random, base addresses at 1, page-aligned or not, up to 2^64 - 1, tables of 56..120 bytes (kept as
 * given); address spaces 1..255 refused with ACPI_ENOTMEM, address 0 with ACPI_ENOADDR, lengths
 * 36..55 with ACPI_EBADTABLE, every single-byte corruption and no table refused, nothing reported.
 */
static void test_hpet(void)
{
	static const uint64_t bases[] = { 1, 0xFFF, 0x1000, 0xFED00000, 0xFED00400, 0xFFFFFFFFull, 0x100000000ull,
					  0xFFFFFFFFFFFFF000ull, UINT64_MAX };
	struct acpi_hpet_info h, f;
	unsigned n = 0, good = 0;

	for (unsigned i = 0; i < 96; i++) {
		uint64_t base = i < ARRAY_SIZE(bases) ? bases[i] : (rnd() | 1ull << 63) >> (rnd() % 64);   /* never 0 */
		uint32_t len = ACPI_HPET_MIN_LEN + (uint32_t)(i % 3 == 0 ? 0 : rnd() % 65);
		unsigned k = i % 3;     /* 0: all fields 0, 1: all at their maximum, 2: random */
		f.block_id = k == 0 ? 0 : k == 1 ? UINT32_MAX : (uint32_t)rnd();
		f.number = k == 0 ? 0 : k == 1 ? UINT8_MAX : (uint8_t)rnd();
		f.min_tick = k == 0 ? 0 : k == 1 ? UINT16_MAX : (uint16_t)rnd();
		f.page_prot = k == 0 ? 0 : k == 1 ? UINT8_MAX : (uint8_t)rnd();
		make_hpet(len, 0, base, &f);
		int st = read_hpet(&h);
		n++;
		bool right = st == ACPI_OK && h.base == base && h.block_id == f.block_id && h.number == f.number &&
			     h.min_tick == f.min_tick && h.page_prot == f.page_prot;
		good += right;
		if (!right)
			printf("# HPET of %u bytes at 0x%llx: %s, base 0x%llx id 0x%x number %u tick %u prot 0x%x\n", len,
			       (unsigned long long)base, acpi_strerror(st), (unsigned long long)h.base, h.block_id, h.number,
			       h.min_tick, h.page_prot);
	}
	is(good, n, "%u generated HPET tables: every field read as given, base address kept page-aligned or not", n);

	unsigned refused = 0;
	f = (struct acpi_hpet_info){ .block_id = 0x8086A201, .number = 0, .min_tick = 0x80, .page_prot = 0 };
	for (unsigned sp = 1; sp <= 255; sp++) {
		make_hpet(56, (uint8_t)sp, 0xFED00000, &f);
		refused += read_hpet(&h) == ACPI_ENOTMEM && hpet_zero(&h);
	}
	is(refused, 255u, "HPET base address in I/O or any other space than system memory: ACPI_ENOTMEM, nothing read");
	make_hpet(56, 0, 0, &f);
	ok(read_hpet(&h) == ACPI_ENOADDR && hpet_zero(&h), "HPET base address 0: ACPI_ENOADDR, nothing read");
	make_hpet(56, 1, 0, &f);
	ok(read_hpet(&h) == ACPI_ENOTMEM && hpet_zero(&h), "HPET base 0 in I/O space: ACPI_ENOTMEM, nothing read");

	refused = 0;
	for (uint32_t len = 36; len < ACPI_HPET_MIN_LEN; len++) {
		make_hpet(len, 0, 0xFED00000, &f);
		refused += read_hpet(&h) == ACPI_EBADTABLE && hpet_zero(&h);
	}
	is(refused, ACPI_HPET_MIN_LEN - 36u, "HPET tables of 36..55 bytes: ACPI_EBADTABLE, nothing read");

	refused = 0;
	for (uint32_t off = 0; off < ACPI_HPET_MIN_LEN; off++) {
		make_hpet(ACPI_HPET_MIN_LEN, 0, 0xFED00000, &f);
		at(HPET_PA)[off] = (uint8_t)(at(HPET_PA)[off] + 1 + rnd() % 255);
		refused += read_hpet(&h) != ACPI_OK && hpet_zero(&h);
	}
	is(refused, (unsigned)ACPI_HPET_MIN_LEN, "HPET: all %u single-byte corruptions refused, nothing read",
	   ACPI_HPET_MIN_LEN);

	make_hpet(ACPI_HPET_MIN_LEN, 0, 0xFED00000, &f);
	acpi_build_put32(at(HPET_PA) + 4, PHYS_SIZE);
	ok(read_hpet(&h) != ACPI_OK && hpet_zero(&h), "an HPET length past readable memory is refused");
	uint64_t none[] = { FADT_PA, MADT_PA };
	make_root(2, none, 2);
	ok(read_hpet(&h) == ACPI_ENOTABLE && hpet_zero(&h), "no HPET table: ACPI_ENOTABLE, nothing read");
}

/* Reads the DMAR; *out is filled with a pattern first, so a refusal must clear it. */
static int read_dmar(struct acpi_dmar_info *out)
{
	memset(out, 0xA5, sizeof(*out));
	int st = acpi_read_dmar(&acc, RSDP_PA, out);
	free_copies();
	return st;
}

static void test_dmar(void)
{
	struct acpi_dmar_info d;
	struct madt_model m;
	unsigned good = 0;

	for (unsigned f = 0; f < 256; f++) {
		uint8_t haw = (uint8_t)(38 + f % 27);
		make_dmar(f % 2 ? 38 : 48 + 8 * (f % 5), haw, (uint8_t)f);
		good += read_dmar(&d) == ACPI_OK && d.flags == f && d.host_address_width == haw;
	}
	is(good, 256, "every flags byte and width read back, at the minimal length (38) and with structures after it");
	make_dmar(38, 38, ACPI_DMAR_INTR_REMAP | ACPI_DMAR_X2APIC_OPT_OUT);
	ok(read_dmar(&d) == ACPI_OK && (d.flags & ACPI_DMAR_X2APIC_OPT_OUT) && (d.flags & ACPI_DMAR_INTR_REMAP),
	   "QEMU's flags under TCG (interrupt remapping, x2APIC opt-out): bits 0 and 1");
	make_machine(2, 2, &m);
	ok(read_dmar(&d) == ACPI_ENOTABLE && d.flags == 0 && d.host_address_width == 0, "no DMAR: ENOTABLE, nothing read");
	for (uint32_t len = 0; len < 38; len++) {
		make_dmar(len < 36 ? 36 : len, 38, ACPI_DMAR_X2APIC_OPT_OUT);
		acpi_build_put32(at(DMAR_PA) + 4, len);
		seal(DMAR_PA);
		int st = read_dmar(&d);
		ok(st != ACPI_OK && d.flags == 0, "a DMAR of %u bytes (shorter than its flags) is refused: %s", len,
		   acpi_strerror(st));
	}
	unsigned refused = 0, n = 0;
	for (uint32_t off = 0; off < 48; off++, n++) {
		make_dmar(48, 38, ACPI_DMAR_X2APIC_OPT_OUT);
		at(DMAR_PA)[off] = (uint8_t)(at(DMAR_PA)[off] + 1 + rnd() % 255);
		refused += read_dmar(&d) != ACPI_OK && d.flags == 0;
	}
	is(refused, n, "DMAR: all %u single-byte corruptions refused, no flag reported", n);
	make_dmar(48, 38, ACPI_DMAR_X2APIC_OPT_OUT);
	acpi_build_put32(at(DMAR_PA) + 4, PHYS_SIZE);
	ok(read_dmar(&d) != ACPI_OK && d.flags == 0, "a DMAR length past readable memory is refused");
}


/* An RSDT at RSDT2_PA listing [OTHER_PA, MADT2_PA], a valid MADT of two local APICs: the number
 * of processors a reader reports shows which root it went through. */
static void make_second_root(void)
{
	header(MADT2_PA, "APIC", 44 + 2 * 8);
	acpi_build_put32(at(MADT2_PA) + 36, 0xFEE00000u);
	for (int i = 0; i < 2; i++) {
		uint8_t *e = at(MADT2_PA) + 44 + i * 8;
		e[0] = 0, e[1] = 8, e[2] = (uint8_t)i, e[3] = (uint8_t)(40 + i);
		acpi_build_put32(e + 4, 1);
	}
	seal(MADT2_PA);
	header(RSDT2_PA, "RSDT", 36 + 2 * 4);
	acpi_build_put32(at(RSDT2_PA) + 36, OTHER_PA);
	acpi_build_put32(at(RSDT2_PA) + 40, MADT2_PA);
	seal(RSDT2_PA);
}

/*
 * The RSDP generated over revisions, Length fields, XSDT addresses and corruptions (ACPI 6.x
 * 5.2.5.3): the first 20 bytes are checked (signature, checksum) for every revision; a revision
 * below 2 uses the RSDT whatever Length and XsdtAddress say; from revision 2 Length must be
 * 36..ACPI_TABLE_MAX and readable, the extended checksum must hold over Length bytes, and a zero
 * XsdtAddress falls back to the RSDT. Which root was used shows in the MADT read through it.
 */
static void test_rsdp_variants(void)
{
	static const unsigned revs[] = { 0, 1, 2, 3, 255 };
	static const uint32_t lens[] = { 0, 19, 20, 35, 36, 37, 64, 0x1000, PHYS_SIZE, PHYS_SIZE + 1, ACPI_TABLE_MAX,
					 ACPI_TABLE_MAX + 1, 0xFFFFFFFFu };
	static const uint64_t xsdts[] = { 0, ROOT_PA };
	struct madt_model m;
	unsigned n = 0, wrong = 0, via_xsdt = 0, via_rsdt = 0;

	for (size_t r = 0; r < ARRAY_SIZE(revs); r++)
		for (size_t l = 0; l < ARRAY_SIZE(lens); l++)
			for (size_t x = 0; x < ARRAY_SIZE(xsdts); x++)
				for (int corrupt = 0; corrupt < 4; corrupt++) {   /* none, checksum, extended checksum, signature */
					make_machine(2, 4, &m);
					make_second_root();
					uint8_t *p = at(RSDP_PA);
					memset(p, 0, 36);
					memcpy(p, corrupt == 3 ? "RSD PTR_" : "RSD PTR ", 8);
					p[15] = (uint8_t)revs[r];
					acpi_build_put32(p + 16, RSDT2_PA);
					acpi_build_put32(p + 20, lens[l]);
					acpi_build_put64(p + 24, xsdts[x]);
					acpi_build_fix_sum(p, 20, 8);
					if (lens[l] >= 36 && lens[l] <= PHYS_SIZE)
						acpi_build_fix_sum(p, lens[l], 32);
					if (corrupt == 1)
						p[8]++;
					if (corrupt == 2)
						p[32]++;
					int want;
					size_t want_entries = 0;
					if (corrupt == 1 || corrupt == 3)
						want = ACPI_EBADRSDP;
					else if (revs[r] < 2)
						want = ACPI_OK, want_entries = 2;
					else if (lens[l] < 36 || lens[l] > ACPI_TABLE_MAX)
						want = ACPI_EBADRSDP;
					else if (lens[l] > PHYS_SIZE)
						want = ACPI_EUNMAPPED;
					else if (corrupt == 2)
						want = ACPI_EBADRSDP;
					else
						want = ACPI_OK, want_entries = xsdts[x] ? 4 : 2;
					int st = acpi_read_madt(&acc, RSDP_PA, &info);
					free_copies();
					bool good = st == want && (st != ACPI_OK || info.entries == want_entries);
					via_xsdt += st == ACPI_OK && info.entries == 4;
					via_rsdt += st == ACPI_OK && info.entries == 2;
					n++;
					if (!good && wrong++ < 5)
						printf("# RSDP revision %u, Length %u, XSDT 0x%llx, corruption %d: %s (%zu processors), want %s (%zu)\n",
						       revs[r], lens[l], (unsigned long long)xsdts[x], corrupt, acpi_strerror(st),
						       info.entries, acpi_strerror(want), want_entries);
				}
	ok(wrong == 0 && via_xsdt > 0 && via_rsdt > 0, "%u RSDPs (revision, Length, XsdtAddress, corruption): the outcome "
	   "and the root used as ACPI 5.2.5.3 says (%u through the XSDT, %u through the RSDT)", n, via_xsdt, via_rsdt);
}

/*
 * The root table's entries: a Length that leaves a partial entry after the last whole one (1..7
 * bytes of an XSDT entry, 1..3 of an RSDT one) is read up to the last whole entry, a table listed
 * only in the partial bytes is not found; a corrupt table of the signature before or after a valid
 * one does not hide it, and alone it is reported as corrupt.
 */
static void test_root_entries(void)
{
	struct madt_model m;
	unsigned n = 0, wrong = 0;

	for (int rev = 0; rev <= 2; rev += 2) {
		unsigned esz = rev >= 2 ? 8 : 4;
		for (unsigned extra = 1; extra < esz; extra++)
			for (int madt_partial = 0; madt_partial < 2; madt_partial++) {
				make_machine(rev, 4, &m);
				uint64_t t[] = { OTHER_PA, FADT_PA, MADT_PA };
				make_root(rev, t, madt_partial ? 2 : 3);
				uint32_t whole = 36 + (madt_partial ? 2 : 3) * esz;
				for (unsigned i = 0; i < extra; i++)   /* the partial entry: MADT_PA's low bytes */
					at(ROOT_PA)[whole + i] = (uint8_t)((uint64_t)MADT_PA >> (8 * i));
				acpi_build_put32(at(ROOT_PA) + 4, whole + extra);
				seal(ROOT_PA);
				int st = acpi_read_madt(&acc, RSDP_PA, &info);
				free_copies();
				int want = madt_partial ? ACPI_ENOTABLE : ACPI_OK;
				n++;
				if ((st != want || (st == ACPI_OK && info.entries != 4)) && wrong++ < 5)
					printf("# %s with %u bytes after %s whole entries: %s, want %s\n", rev ? "XSDT" : "RSDT",
					       extra, madt_partial ? "two" : "three", acpi_strerror(st), acpi_strerror(want));
			}
	}
	ok(wrong == 0, "%u root tables with a partial last entry: read to the last whole entry, the partial one never", n);

	/* A corrupt MADT (a copy of the second one with its checksum broken) before, after or instead of
	 * the valid one. */
	static const struct { uint64_t t[3]; size_t n; int want; size_t entries; const char *what; } orders[] = {
		{ { OTHER_PA, MADT2_PA, MADT_PA }, 3, ACPI_OK, 4, "corrupt MADT first" },
		{ { OTHER_PA, MADT_PA, MADT2_PA }, 3, ACPI_OK, 4, "corrupt MADT after the valid one" },
		{ { OTHER_PA, MADT2_PA, FADT_PA }, 3, ACPI_EBADTABLE, 0, "only a corrupt MADT" },
	};
	for (int rev = 0; rev <= 2; rev += 2)
		for (size_t o = 0; o < ARRAY_SIZE(orders); o++) {
			make_machine(rev, 4, &m);
			make_second_root();
			at(MADT2_PA)[9]++;
			make_root(rev, orders[o].t, orders[o].n);
			int st = acpi_read_madt(&acc, RSDP_PA, &info);
			free_copies();
			ok(st == orders[o].want && (st != ACPI_OK || info.entries == orders[o].entries),
			   "%s, %s: %s", rev ? "XSDT" : "RSDT", orders[o].what, acpi_strerror(st));
		}
}

/* The MADT of one entry of each kind test_madt_malformed_entries breaks; *ends receives the offset
 * just past each entry. */
static const uint8_t madt_kinds[][2] = { { 0, 8 }, { 9, 16 }, { 5, 12 }, { 1, 12 }, { 0, 8 }, { 4, 6 }, { 2, 10 } };

static void make_kinds_madt(struct madt_model *m, uint32_t *ends)
{
	make_machine(2, 0, m);
	madt_begin(m, 0xFEE00000u);
	for (size_t k = 0; k < ARRAY_SIZE(madt_kinds); k++) {
		if (madt_kinds[k][0] == 0 || madt_kinds[k][0] == 9)
			madt_cpu(m, madt_kinds[k][0] == 9, (uint32_t)k, 1);
		else
			madt_other(m, madt_kinds[k][0], madt_kinds[k][1]);
		ends[k] = m->len;
	}
}

/*
 * Every entry of a MADT broken in turn, each way an entry can break (ACPI 5.2.12: an entry is its
 * type, its length and that many bytes inside the table): a length of 0 (which would never
 * advance) or 1 (less than the type and length bytes; the bytes after it are made to read as a
 * well-formed entry, so only that length is wrong), one byte short of its type's size, a length running 1 or more bytes past the table's
 * end; then the table's own Length cutting the last entry short, or leaving 1..16 bytes that are
 * no entry. Each is refused as malformed, the checksum being right (a walk that stops advancing
 * is ended by main's alarm).
 */
static void test_madt_malformed_entries(void)
{
	struct madt_model m;
	uint32_t ends[ARRAY_SIZE(madt_kinds)];
	unsigned n = 0, wrong = 0;

	make_kinds_madt(&m, ends);
	madt_end(&m);
	int st = acpi_read_madt(&acc, RSDP_PA, &info);
	free_copies();
	ok(st == ACPI_OK && info.entries == 3, "the MADT of every kind reads (%s, %zu processors)", acpi_strerror(st),
	   info.entries);
	for (size_t k = 0; k < ARRAY_SIZE(madt_kinds); k++) {
		uint32_t start = k ? ends[k - 1] : 44;
		uint8_t type = madt_kinds[k][0], size = madt_kinds[k][1];
		unsigned bad[8], nbad = 0;
		bad[nbad++] = 0;
		bad[nbad++] = 1;
		if (type == 0 || type == 9 || type == 5)
			bad[nbad++] = size - 1u;
		uint32_t left = ends[ARRAY_SIZE(madt_kinds) - 1] - start;   /* bytes from the entry to the table's end */
		for (unsigned past = 1; past <= 3 && left + past <= 255; past++)
			bad[nbad++] = left + past;
		for (unsigned b = 0; b < nbad; b++) {
			make_kinds_madt(&m, ends);
			at(MADT_PA)[start + 1] = (uint8_t)bad[b];
			if (bad[b] == 1)   /* the bytes after read as a well-formed entry: only the length 1 is wrong */
				at(MADT_PA)[start + 2] = (uint8_t)(size - 1);
			madt_end(&m);
			st = acpi_read_madt(&acc, RSDP_PA, &info);
			free_copies();
			n++;
			if (st != ACPI_EBADTABLE && wrong++ < 5)
				printf("# entry %zu (type %u) given length %u: %s\n", k, type, bad[b], acpi_strerror(st));
		}
	}
	uint32_t last = ends[ARRAY_SIZE(madt_kinds) - 1], last_start = ends[ARRAY_SIZE(madt_kinds) - 2];
	for (uint32_t cut = 1; cut < last - last_start; cut++) {
		make_kinds_madt(&m, ends);
		m.len = last - cut;
		madt_end(&m);
		st = acpi_read_madt(&acc, RSDP_PA, &info);
		free_copies();
		n++;
		if (st != ACPI_EBADTABLE && wrong++ < 5)
			printf("# the table cut %u bytes into its last entry: %s\n", cut, acpi_strerror(st));
	}
	for (uint32_t extra = 1; extra <= 16; extra++) {
		make_kinds_madt(&m, ends);
		memset(at(MADT_PA) + m.len, 0, extra);
		m.len += extra;
		madt_end(&m);
		st = acpi_read_madt(&acc, RSDP_PA, &info);
		free_copies();
		n++;
		if (st != ACPI_EBADTABLE && wrong++ < 5)
			printf("# %u zero bytes after the last entry: %s\n", extra, acpi_strerror(st));
	}
	ok(wrong == 0, "%u MADTs with one entry broken (length 0, 1, short of its type, past the end) or the table's "
	   "Length cutting or trailing its entries: each refused as malformed", n);
}

/*
 * A table whose header is readable but whose body the map function cannot provide is "table
 * memory not readable" (ACPI_EUNMAPPED, acpi.h), not "table not found" (ACPI_ENOTABLE), which
 * acpi_find_table() once reported by keeping only ACPI_EBADTABLE of the per-entry statuses: for
 * the DMAR, ENOTABLE means "the firmware has none" (acpi_read_dmar()), and smpinit_dmar_opt_out()
 * dropped such a DMAR without a word, x2APIC opt-out included. Generated: the MADT, the FADT and the DMAR, each
 * with every readable prefix from its header (36 bytes) to one byte short of its Length.
 */
static void test_unreadable_table_body(void)
{
	static const struct { const char *what; uint64_t pa; } tables[] = {
		{ "MADT", MADT_PA }, { "FADT", FADT_PA }, { "DMAR", DMAR_PA },
	};
	unsigned n = 0, wrong = 0;

	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		make_dmar(48, 38, ACPI_DMAR_X2APIC_OPT_OUT);   /* a machine with all three */
		uint32_t len = at(tables[t].pa)[4] | at(tables[t].pa)[5] << 8;
		for (uint32_t readable = 36; readable < len; readable++) {
			struct acpi_pm_timer tm;
			struct acpi_dmar_info d;
			int st;
			deny_pa = tables[t].pa;
			deny_len = readable;
			if (t == 0)
				st = acpi_read_madt(&acc, RSDP_PA, &info);
			else if (t == 1)
				st = acpi_read_pm_timer(&acc, RSDP_PA, &tm);
			else
				st = acpi_read_dmar(&acc, RSDP_PA, &d);
			free_copies();
			deny_pa = deny_len = 0;
			n++;
			if (st != ACPI_EUNMAPPED && wrong++ < 5)
				printf("# %s of %u bytes, only %u readable: %s, want %s\n", tables[t].what, len, readable,
				       acpi_strerror(st), acpi_strerror(ACPI_EUNMAPPED));
		}
	}
	ok(wrong == 0, "%u tables whose header is readable and body is not: \"%s\", not \"%s\" (%u reported otherwise)", n,
	   acpi_strerror(ACPI_EUNMAPPED), acpi_strerror(ACPI_ENOTABLE), wrong);
}

/* A map function that also serves a table of up to ACPI_TABLE_MAX + 1 bytes at BIG_PA (beyond the
 * fake memory) and counts the requests for physical 0 or for a range that wraps: the reader must
 * never make one (a root entry of 0 is no table; a wrapping range is no memory). */
#define BIG_PA 0x10000000u
static uint8_t *big;
static unsigned bad_asks;

static const void *guard_map(void *ctx, uint64_t pa, size_t len)
{
	if (pa == 0 || (len && pa + len - 1 < pa)) {
		bad_asks++;
		return NULL;
	}
	if (big && pa >= BIG_PA && len <= ACPI_TABLE_MAX + 1u && pa - BIG_PA <= ACPI_TABLE_MAX + 1u - len)
		return big + (pa - BIG_PA);
	return fake_map(ctx, pa, len);
}

static const struct acpi_access gacc = { guard_map, NULL };

/*
 * The bounds of a table's Length and of the addresses the reader maps, each at the values around
 * it: a table of exactly its header (36 bytes) and one of exactly ACPI_TABLE_MAX bytes are found,
 * one byte less or more refused as malformed; root tables broken one way each give "root table
 * unreadable" when the map function cannot provide them and "bad root" (ACPI_EBADROOT) for any
 * fault of their own (signature, Length, checksum); root entries of 0 and of ranges that wrap past
 * 2^64 are skipped without a request to the map function, the valid MADT after them still found,
 * and an unreadable entry where no table has the signature leaves "no table" (ACPI_ENOTABLE); a MADT
 * of ACPI_MAX_CPUS processors or around it keeps the first ACPI_MAX_CPUS and counts all.
 */
static void test_table_bounds(void)
{
	struct madt_model m;
	uint64_t pa;
	uint32_t len;
	unsigned n = 0, wrong = 0;

	big = calloc(ACPI_TABLE_MAX + 1u, 1);
	for (int rev = 0; rev <= 2; rev += 2) {
		/* a table of Length 0..40 at OTHER_PA, sealed when it is at least a header */
		for (uint32_t l = 0; l <= 40; l++) {
			make_machine(rev, 4, &m);
			header(OTHER_PA, "OEMS", l);
			if (l >= 36)
				seal(OTHER_PA);
			int st = acpi_find_table(&gacc, RSDP_PA, "OEMS", &pa, &len), want = l >= 36 ? ACPI_OK : ACPI_EBADTABLE;
			free_copies();
			n++;
			if ((st != want || (st == ACPI_OK && (pa != OTHER_PA || len != l))) && wrong++ < 5)
				printf("# rev %d, a table of Length %u: %s, want %s\n", rev, l, acpi_strerror(st), acpi_strerror(want));
		}
		/* a table of Length ACPI_TABLE_MAX - 1 .. + 1 at BIG_PA, listed between two others */
		for (uint32_t l = ACPI_TABLE_MAX - 1; l <= ACPI_TABLE_MAX + 1; l++) {
			make_machine(rev, 4, &m);
			uint64_t t[] = { OTHER_PA, BIG_PA, MADT_PA };
			make_root(rev, t, 3);
			memset(big, 0, ACPI_TABLE_MAX + 1u);
			memcpy(big, "OEMB", 4);
			acpi_build_put32(big + 4, l);
			for (uint32_t i = 36; i < l; i++)
				big[i] = (uint8_t)(i * 7);
			acpi_build_fix_sum(big, l, 9);
			int st = acpi_find_table(&gacc, RSDP_PA, "OEMB", &pa, &len);
			int want = l <= ACPI_TABLE_MAX ? ACPI_OK : ACPI_EBADTABLE;
			free_copies();
			n++;
			if ((st != want || (st == ACPI_OK && (pa != BIG_PA || len != l))) && wrong++ < 5)
				printf("# rev %d, a table of Length %u: %s, want %s\n", rev, l, acpi_strerror(st), acpi_strerror(want));
		}
		/* the root table broken one way */
		static const char *const faults[] = { "outside memory", "header only readable", "signature", "Length 35",
						      "Length past ACPI_TABLE_MAX", "checksum", "empty (36 bytes)" };
		for (size_t f = 0; f < ARRAY_SIZE(faults); f++) {
			make_machine(rev, 4, &m);
			int want = ACPI_EBADROOT;
			switch (f) {
			case 0: make_rsdp(rev, 0x1000); want = ACPI_EUNMAPPED; break;
			case 1: deny_pa = ROOT_PA; deny_len = 36; want = ACPI_EUNMAPPED; break;
			case 2: memcpy(at(ROOT_PA), rev ? "RSDT" : "XSDT", 4); seal(ROOT_PA); break;
			case 3: acpi_build_put32(at(ROOT_PA) + 4, 35); break;
			case 4: acpi_build_put32(at(ROOT_PA) + 4, ACPI_TABLE_MAX + 1); break;
			case 5: at(ROOT_PA)[9]++; break;
			case 6: make_root(rev, NULL, 0); want = ACPI_ENOTABLE; break;
			}
			int st = acpi_find_table(&gacc, RSDP_PA, "APIC", &pa, &len);
			free_copies();
			deny_pa = deny_len = 0;
			n++;
			if (st != want && wrong++ < 5)
				printf("# rev %d, root table %s: %s, want %s\n", rev, faults[f], acpi_strerror(st), acpi_strerror(want));
		}
		/* root entries of 0 and of 36-byte ranges ending at or past 2^64 before the MADT */
		for (uint64_t back = 36; back >= (rev ? 1u : 36u); back--) {
			make_machine(rev, 4, &m);
			uint64_t t[] = { 0, rev ? (uint64_t)0 - back : 0, MADT_PA };
			make_root(rev, t, 3);
			bad_asks = 0;
			int st = acpi_read_madt(&gacc, RSDP_PA, &info);
			free_copies();
			n++;
			if ((st != ACPI_OK || info.entries != 4 || bad_asks) && wrong++ < 5)
				printf("# rev %d, root entries 0 and 2^64 - %llu: %s, %zu processors, %u requests for 0 or a "
				       "wrapping range\n", rev, (unsigned long long)back, acpi_strerror(st), info.entries, bad_asks);
		}
		/* an unreadable entry (outside memory) where no table has the signature: "no table" */
		make_machine(rev, 4, &m);
		uint64_t t[] = { OTHER_PA, 0x1000, MADT_PA };
		make_root(rev, t, 3);
		int st = acpi_find_table(&gacc, RSDP_PA, "DMAR", &pa, &len);
		free_copies();
		n++;
		if (st != ACPI_ENOTABLE && wrong++ < 5)
			printf("# rev %d, no DMAR and an unreadable entry: %s, want %s\n", rev, acpi_strerror(st),
			       acpi_strerror(ACPI_ENOTABLE));
		make_machine(rev, 4, &m);
		make_rsdp(rev ? 1 : 0, 0);   /* an RSDT address of 0 */
		bad_asks = 0;
		st = acpi_read_madt(&gacc, RSDP_PA, &info);
		free_copies();
		n++;
		if ((st != ACPI_EUNMAPPED || bad_asks) && wrong++ < 5)
			printf("# rev %d, an RSDT address of 0: %s, %u requests for 0\n", rev, acpi_strerror(st), bad_asks);
	}
	free(big);
	big = NULL;
	/* MADTs of ACPI_MAX_CPUS - 2 .. + 2 processors, local APICs and x2APICs alternating: the first
	 * ACPI_MAX_CPUS kept in table order, every one counted */
	for (uint32_t cpus = ACPI_MAX_CPUS - 2; cpus <= ACPI_MAX_CPUS + 2; cpus++) {
		make_machine(2, 0, &m);
		madt_begin(&m, 0xFEE00000u);
		for (uint32_t j = 0; j < cpus; j++)
			madt_cpu(&m, j % 2, j % 256, 1);
		madt_end(&m);
		memset(&info, 0, sizeof(info));
		int st = acpi_read_madt(&gacc, RSDP_PA, &info);
		free_copies();
		size_t kept = cpus < ACPI_MAX_CPUS ? cpus : ACPI_MAX_CPUS;
		n++;
		if ((st != ACPI_OK || info.entries != cpus || info.kept != kept || info.cpu[kept - 1].apic_id != (kept - 1) % 256 ||
		     info.cpu[kept - 1].x2apic != ((kept - 1) % 2 == 1)) && wrong++ < 5)
			printf("# a MADT of %u processors: %s, %zu seen, %zu kept\n", cpus, acpi_strerror(st), info.entries, info.kept);
	}
	ok(wrong == 0, "%u tables and roots at the bounds of Length (36, ACPI_TABLE_MAX) and of the addresses mapped "
	   "(0, 2^64), and of the processors kept: found, refused, skipped or kept as acpi.h says", n);
}

/*
 * The PM timer over generated FADTs (ACPI 6.x 5.2.9): X_PM_TMR_BLK is used when the table is long
 * enough to hold it (220 bytes), its address space is system I/O and its address a port (1..0xFFFF);
 * otherwise PM_TMR_BLK, when PM_TMR_LEN is 4 and the port is 1..0xFFFF; TMR_VAL_EXT gives 32 bits;
 * no port: ACPI_ENOTABLE, port 0. The two blocks name different ports, so which one was read shows.
 */
static void test_pm_timer_fields(void)
{
	static const uint8_t spaces[] = { 0, 1, 2 };
	static const uint64_t xaddrs[] = { 0, 0x408, 0xFFFF, 0x10000, 0x100000408ull };
	static const uint8_t leglens[] = { 0, 3, 4, 8 };
	static const uint32_t legports[] = { 0, 0x608, 0xFFFF, 0x10000 };
	static const uint32_t lens[] = { 116, 219, 220, 244 };
	struct madt_model m;
	unsigned n = 0, wrong = 0;

	make_machine(2, 4, &m);
	for (size_t sp = 0; sp < ARRAY_SIZE(spaces); sp++)
		for (size_t xa = 0; xa < ARRAY_SIZE(xaddrs); xa++)
			for (size_t ll = 0; ll < ARRAY_SIZE(leglens); ll++)
				for (size_t lp = 0; lp < ARRAY_SIZE(legports); lp++)
					for (size_t l = 0; l < ARRAY_SIZE(lens); l++)
						for (int ext = 0; ext < 2; ext++) {
							header(FADT_PA, "FACP", lens[l]);
							memset(at(FADT_PA) + 36, 0, 244 - 36);
							acpi_build_put32(at(FADT_PA) + 76, legports[lp]);
							at(FADT_PA)[91] = leglens[ll];
							acpi_build_put32(at(FADT_PA) + 112, ext ? 1u << 8 : 0);
							at(FADT_PA)[208] = spaces[sp];
							at(FADT_PA)[209] = 32;
							acpi_build_put64(at(FADT_PA) + 212, xaddrs[xa]);
							seal(FADT_PA);
							uint32_t want = 0;
							if (lens[l] >= 220 && spaces[sp] == 1 && xaddrs[xa] >= 1 && xaddrs[xa] <= 0xFFFF)
								want = (uint32_t)xaddrs[xa];
							else if (leglens[ll] == 4 && legports[lp] <= 0xFFFF)
								want = legports[lp];
							struct acpi_pm_timer tm;
							int st = acpi_read_pm_timer(&acc, RSDP_PA, &tm);
							free_copies();
							n++;
							if ((st != (want ? ACPI_OK : ACPI_ENOTABLE) || tm.port != want ||
							     tm.bits32 != (want && ext)) && wrong++ < 5)
								printf("# FADT of %u bytes, X block space %u at 0x%llx, PM_TMR_LEN %u at 0x%x, "
								       "TMR_VAL_EXT %d: %s, port 0x%x%s; want port 0x%x\n", lens[l],
								       spaces[sp], (unsigned long long)xaddrs[xa], leglens[ll], legports[lp],
								       ext, acpi_strerror(st), tm.port, tm.bits32 ? " (32 bits)" : "", want);
						}
	ok(wrong == 0, "%u generated FADTs: the PM timer from X_PM_TMR_BLK when it is an I/O port, else from "
	   "PM_TMR_BLK when PM_TMR_LEN is 4, else none", n);
}

/* A map function over a machine of its own (storm[], at STORM_PA) that counts the bytes asked of
 * STORM_TABLE's table beyond its header: what the reader checksums of it. */
#define STORM_PA    0x20000000u
#define STORM_ROOT  (STORM_PA + 0x1000u)
#define STORM_TABLE (STORM_PA + 0x100000u)
#define STORM_SIZE  0x200000u
static uint8_t *storm;
static uint64_t storm_body_bytes;

static const void *storm_map(void *ctx, uint64_t pa, size_t len)
{
	(void)ctx;
	if (pa < STORM_PA || len > STORM_SIZE || pa - STORM_PA > STORM_SIZE - len)
		return NULL;
	if (pa == STORM_TABLE && len > 36)
		storm_body_bytes += len;
	return storm + (pa - STORM_PA);
}

static const struct acpi_access sacc = { storm_map, NULL };

/*
 * A root listing one corrupt table of the signature searched for many times over (a 64 KiB table
 * 1024 times: 64 MiB to checksum, as a 1 MiB one 131068 times would be 128 GiB): each search reads
 * at most ACPI_FIND_BUDGET of such tables whole, not one checksum per entry, and reports the
 * table as corrupt; a good table listed after the corrupt ones within the budget is still found.
 * For each signature the kernel searches (MADT, FADT, DMAR, HPET).
 */
static void test_find_budget(void)
{
	enum { N = 1024, LEN = 0x10000 };
	static const char *const sigs[] = { "APIC", "FACP", "DMAR", "HPET" };
	static uint64_t entries[N];
	uint64_t pa;
	uint32_t len;

	storm = calloc(STORM_SIZE, 1);
	for (size_t s = 0; s < ARRAY_SIZE(sigs); s++) {
		uint8_t *t = storm + (STORM_TABLE - STORM_PA);
		acpi_build_header(t, sigs[s], LEN, 1);
		acpi_build_seal(t);
		t[ACPI_BUILD_OFF_SUM]++;   /* corrupt */
		for (unsigned i = 0; i < N; i++)
			entries[i] = STORM_TABLE;
		acpi_build_root(storm + (STORM_ROOT - STORM_PA), 2, entries, N);
		acpi_build_rsdp(storm, 2, STORM_ROOT);
		storm_body_bytes = 0;
		int st = acpi_find_table(&sacc, STORM_PA, sigs[s], &pa, &len);
		ok(st == ACPI_EBADTABLE && storm_body_bytes <= ACPI_FIND_BUDGET,
		   "test_find_budget: %s listed %u times, corrupt: %s, %llu MiB read whole (want \"%s\", at most %u MiB)",
		   sigs[s], N, acpi_strerror(st), (unsigned long long)(storm_body_bytes >> 20), acpi_strerror(ACPI_EBADTABLE),
		   ACPI_FIND_BUDGET >> 20);

		/* a good copy at another address, listed after as many corrupt ones as the budget affords */
		uint8_t *g = storm + (STORM_TABLE + LEN - STORM_PA);
		acpi_build_header(g, sigs[s], 64, 1);
		acpi_build_seal(g);
		unsigned afford = (ACPI_FIND_BUDGET - 64) / LEN;
		entries[afford] = STORM_TABLE + LEN;
		acpi_build_root(storm + (STORM_ROOT - STORM_PA), 2, entries, afford + 1);
		st = acpi_find_table(&sacc, STORM_PA, sigs[s], &pa, &len);
		ok(st == ACPI_OK && pa == STORM_TABLE + LEN && len == 64,
		   "%s: a good table after %u corrupt ones (%u MiB) is found: %s", sigs[s], afford, afford * LEN >> 20,
		   acpi_strerror(st));
	}
	free(storm);
	storm = NULL;
}

int main(void)
{
	alarm(120);   /* a parser that loops on some table (a zero-length entry) fails the test, not hangs it */
	test_valid();
	test_generated();
	test_single_byte_corruption();
	test_random_streams();
	test_dmar();
	test_hpet();
	test_rsdp_variants();
	test_root_entries();
	test_madt_malformed_entries();
	test_unreadable_table_body();
	test_table_bounds();
	test_pm_timer_fields();
	test_find_budget();
	for (int s = ACPI_ENOADDR; s <= ACPI_OK; s++)
		ok(acpi_strerror(s)[0] != 0, "status %d has a description: %s", s, acpi_strerror(s));
	return tap_done();
}
