/*
 * libFuzzer harness over the ACPI reader (arch/x86_64/acpi.c, coverage-instrumented with
 * comparison tracing: signatures and lengths are magic values to find). The firmware's tables are
 * input from outside the kernel; this feeds the reader arbitrary physical memory.
 *
 * Input: a flag byte, two bytes giving the RSDP's offset, then the bytes of physical memory from
 * FZ_BASE (every other address is unreadable, as a hole or device memory is). Checksums are what
 * random bytes almost never get right, so the flag byte asks the harness to fix some of them first,
 * walking the tables as firmware would lay them out: bit 0 the RSDP's (both), bit 1 the root
 * table's, bit 2 each table the root lists, bit 3 each FADT's DSDT. The reader sees the result.
 *
 * The map function hands out a fresh allocation of exactly the bytes asked for, kept until the
 * reader's call returns (its contract), so ASan reports a read past what the reader mapped, not
 * only past the input. Checks, any failure aborting with a reason:
 *  - acpi_find_table agrees with a model written from the ACPI specification (the root through the
 *    RSDP, then the first listed table of the signature whose header, length and checksum are
 *    right): the status, the address and the length, for each signature the kernel reads;
 *  - acpi_read_madt: kept is min(entries, ACPI_MAX_CPUS), enabled <= usable <= entries, an xAPIC
 *    entry's id and uid fit 8 bits; acpi_read_pm_timer: a port only on success; acpi_read_hpet: a
 *    base address only on success, never 0; acpi_map_all: over_budget <= skipped; every status is
 *    one acpi_strerror names;
 *  - the work is bounded by the input: map calls per reader call at most 8 + 10 per root entry
 *    (no walk quadratic in the entries, none that goes on past the root);
 *  - every reader gives the same answer when called again (no state kept between calls).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acpi.h"
#include "acpi_build.h"

#define FZ_BASE      0x10000ULL   /* physical address of the input's memory bytes */
#define FZ_HDR       3            /* flag byte, RSDP offset (16 bits, little-endian) */
#define FZ_FIX_RSDP  (1u << 0)
#define FZ_FIX_ROOT  (1u << 1)
#define FZ_FIX_TABLE (1u << 2)
#define FZ_FIX_DSDT  (1u << 3)

/* The memory the reader sees, and what one reader call has mapped. */
static struct {
	const uint8_t *mem;
	size_t len;
	void **maps;
	size_t nmaps, room;
} fz;

/* Aborts with a message: a libFuzzer crash. */
static void fail(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_acpi: %s (%ld, %ld)\n", what, a, b);
	abort();
}

/* True when the n bytes at physical address pa lie in the input's memory; *off their offset. */
static bool fz_in(uint64_t pa, uint64_t n, size_t *off)
{
	if (pa < FZ_BASE || pa - FZ_BASE > fz.len || n > fz.len - (pa - FZ_BASE))
		return false;
	*off = (size_t)(pa - FZ_BASE);
	return true;
}

/* The reader's map function: a copy of exactly len bytes, held until fz_release. */
static const void *fz_map(void *ctx, uint64_t pa, size_t len)
{
	size_t off;
	(void)ctx;
	if (!fz_in(pa, len, &off))
		return NULL;
	if (fz.nmaps == fz.room) {
		fz.room = fz.room ? 2 * fz.room : 64;
		if (!(fz.maps = realloc(fz.maps, fz.room * sizeof(*fz.maps))))
			fail("out of memory", (long)fz.room, 0);
	}
	void *p = malloc(len);
	if (!p)
		fail("out of memory", (long)len, 0);
	memcpy(p, fz.mem + off, len);
	fz.maps[fz.nmaps++] = p;
	return p;
}

/* Ends one reader call: its mappings freed (the pointers it was given are no longer valid). */
static size_t fz_release(void)
{
	size_t n = fz.nmaps;
	for (size_t i = 0; i < fz.nmaps; i++)
		free(fz.maps[i]);
	fz.nmaps = 0;
	return n;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* True when the n bytes at p sum to 0 mod 256. */
static bool sum_ok(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

/* ---------------------------------------------------------------- the model, from the specification */

/* The root table, as ACPI 6.5 5.2.5-5.2.8 lay it out: the XSDT when the RSDP's revision is 2 or
 * more and names one, else the RSDT. A status, or ACPI_OK with its offset, length, entry size. */
static int model_root(const uint8_t *m, uint64_t rsdp, size_t *roff, uint32_t *rlen, unsigned *esz)
{
	size_t o, t;
	if (!fz_in(rsdp, 20, &o))
		return ACPI_EUNMAPPED;
	if (memcmp(m + o, "RSD PTR ", 8) || !sum_ok(m + o, 20))
		return ACPI_EBADRSDP;
	uint64_t root = le32(m + o + 16), xsdt = 0;
	if (m[o + 15] >= 2) {
		if (!fz_in(rsdp, 36, &o))
			return ACPI_EUNMAPPED;
		uint32_t n = le32(m + o + 20);
		if (n < 36 || n > ACPI_TABLE_MAX)
			return ACPI_EBADRSDP;
		if (!fz_in(rsdp, n, &o))
			return ACPI_EUNMAPPED;
		if (!sum_ok(m + o, n))
			return ACPI_EBADRSDP;
		xsdt = le64(m + o + 24);
	}
	*esz = xsdt ? 8 : 4;
	root = xsdt ? xsdt : root;
	if (!fz_in(root, 36, &t))
		return ACPI_EUNMAPPED;
	uint32_t n = le32(m + t + 4);
	if (memcmp(m + t, xsdt ? "XSDT" : "RSDT", 4) || n < 36 || n > ACPI_TABLE_MAX)
		return ACPI_EBADROOT;
	if (!fz_in(root, n, &t))
		return ACPI_EUNMAPPED;
	if (!sum_ok(m + t, n))
		return ACPI_EBADROOT;
	*roff = t;
	*rlen = n;
	return ACPI_OK;
}

/* acpi_find_table by the specification: the first listed table of signature sig whose length (the
 * header to ACPI_TABLE_MAX) and checksum are right; else EBADTABLE when one of sig was malformed,
 * EUNMAPPED when one of sig could not be read whole, ENOTABLE when none has the signature. A table
 * of sig whose length would take the bytes read whole past ACPI_FIND_BUDGET is passed over unread
 * (the contract's cap; reached only by inputs far larger than libFuzzer's default). */
static int model_find(const uint8_t *m, uint64_t rsdp, const char *sig, uint64_t *pa, uint32_t *len)
{
	size_t roff, t;
	uint32_t rlen, budget = ACPI_FIND_BUDGET;
	unsigned esz;
	int st = model_root(m, rsdp, &roff, &rlen, &esz), found = ACPI_ENOTABLE;
	if (st)
		return st;
	for (uint32_t off = 36; off + esz <= rlen; off += esz) {
		uint64_t e = esz == 8 ? le64(m + roff + off) : le32(m + roff + off);
		if (!fz_in(e, 36, &t) || memcmp(m + t, sig, 4))
			continue;
		uint32_t n = le32(m + t + 4);
		if (n >= 36 && n <= ACPI_TABLE_MAX && n > budget)
			continue;
		if (n >= 36 && n <= ACPI_TABLE_MAX)
			budget -= n;
		if (n < 36 || n > ACPI_TABLE_MAX) {
			found = ACPI_EBADTABLE;
		} else if (!fz_in(e, n, &t)) {
			found = found == ACPI_ENOTABLE ? ACPI_EUNMAPPED : found;
		} else if (!sum_ok(m + t, n)) {
			found = ACPI_EBADTABLE;
		} else {
			*pa = e;
			*len = n;
			return ACPI_OK;
		}
	}
	return found;
}

/* ---------------------------------------------------------------- the checksum fix-ups */

/* Fixes the checksum (byte 9) of the table at physical address pa over its header's length, when
 * the whole table lies in the input's memory. */
static void fix_table(uint8_t *m, uint64_t pa)
{
	size_t o;
	if (!fz_in(pa, 36, &o))
		return;
	uint32_t n = le32(m + o + 4);
	if (n >= 36 && fz_in(pa, n, &o))
		acpi_build_fix_sum(m + o, n, ACPI_BUILD_OFF_SUM);
}

/* The fix-ups flags asks for, in the order firmware would write the tables: the RSDP, the root,
 * the root's tables, each FADT's DSDT. */
static void fix_up(uint8_t *m, uint64_t rsdp, unsigned flags)
{
	size_t o;
	if (!fz_in(rsdp, 20, &o))
		return;
	if (flags & FZ_FIX_RSDP) {
		acpi_build_fix_sum(m + o, 20, 8);
		uint32_t n = fz_in(rsdp, 36, &o) ? le32(m + o + 20) : 0;
		if (m[o + 15] >= 2 && n >= 36 && fz_in(rsdp, n, &o))
			acpi_build_fix_sum(m + o, n, 32);
	}
	uint64_t xsdt = m[o + 15] >= 2 && fz_in(rsdp, 36, &o) ? le64(m + o + 24) : 0;
	uint64_t root = xsdt ? xsdt : le32(m + o + 16);
	unsigned esz = xsdt ? 8 : 4;
	size_t r;
	if (!fz_in(root, 36, &r))
		return;
	uint32_t rlen = le32(m + r + 4);
	if (rlen > fz.len - r)
		rlen = (uint32_t)(fz.len - r);
	for (uint32_t off = 36; off + esz <= rlen; off += esz) {
		uint64_t e = esz == 8 ? le64(m + r + off) : le32(m + r + off);
		size_t t;
		if ((flags & FZ_FIX_DSDT) && fz_in(e, 148, &t) && !memcmp(m + t, "FACP", 4))
			fix_table(m, le64(m + t + 140) ? le64(m + t + 140) : le32(m + t + 40));
		if (flags & FZ_FIX_TABLE)
			fix_table(m, e);
	}
	if (flags & FZ_FIX_ROOT)
		fix_table(m, root);
}

/* ---------------------------------------------------------------- the readers */

/* One reader call's results, compared between two runs. */
struct results {
	int st_find[6], st_madt, st_pm, st_dmar, st_hpet, st_all;
	uint64_t pa[6];
	uint32_t len[6];
	struct acpi_madt_info madt;
	struct acpi_pm_timer pm;
	struct acpi_dmar_info dmar;
	struct acpi_hpet_info hpet;
	struct acpi_map_all_info all;
};

/* True when two runs' results are the same, field by field (the structures' padding aside). */
static bool same_results(const struct results *a, const struct results *b)
{
	bool same = !memcmp(a->st_find, b->st_find, sizeof(a->st_find)) && !memcmp(a->pa, b->pa, sizeof(a->pa)) &&
		    !memcmp(a->len, b->len, sizeof(a->len)) && a->st_madt == b->st_madt && a->st_pm == b->st_pm &&
		    a->st_dmar == b->st_dmar && a->st_hpet == b->st_hpet && a->st_all == b->st_all;
	const struct acpi_madt_info *x = &a->madt, *y = &b->madt;
	same = same && x->lapic_base == y->lapic_base && x->flags == y->flags && x->revision == y->revision &&
	       x->entries == y->entries && x->usable == y->usable && x->enabled == y->enabled && x->kept == y->kept;
	for (size_t i = 0; same && i < x->kept; i++)
		same = x->cpu[i].apic_id == y->cpu[i].apic_id && x->cpu[i].uid == y->cpu[i].uid &&
		       x->cpu[i].x2apic == y->cpu[i].x2apic && x->cpu[i].enabled == y->cpu[i].enabled &&
		       x->cpu[i].online_capable == y->cpu[i].online_capable;
	return same && a->pm.port == b->pm.port && a->pm.bits32 == b->pm.bits32 &&
	       a->dmar.host_address_width == b->dmar.host_address_width && a->dmar.flags == b->dmar.flags &&
	       a->hpet.base == b->hpet.base && a->hpet.block_id == b->hpet.block_id && a->hpet.number == b->hpet.number &&
	       a->hpet.min_tick == b->hpet.min_tick && a->hpet.page_prot == b->hpet.page_prot &&
	       a->all.tables == b->all.tables && a->all.skipped == b->all.skipped && a->all.over_budget == b->all.over_budget;
}

static const char *const sigs[6] = { "APIC", "FACP", "DMAR", "HPET", "DSDT", "SSDT" };

/* Checks a status is one of the reader's; returns it. */
static int known(int st)
{
	if (st > ACPI_OK || st < ACPI_ENOADDR || !acpi_strerror(st))
		fail("a status the reader does not define", st, 0);
	return st;
}

/* Ends a reader call: its map calls within the bound the root's entries allow. */
static void bounded(size_t entries, const char *who)
{
	size_t calls = fz_release();
	if (calls > 8 + 10 * entries) {
		fprintf(stderr, "fuzz_acpi: %s\n", who);
		fail("map calls past 8 + 10 per root entry", (long)calls, (long)entries);
	}
}

/* Runs every reader once on the memory at fz, checking each against its contract. */
static void run_readers(uint64_t rsdp, size_t entries, struct results *r)
{
	static struct acpi_access acc = { fz_map, NULL };
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 6; i++) {
		r->st_find[i] = known(acpi_find_table(&acc, rsdp, sigs[i], &r->pa[i], &r->len[i]));
		bounded(entries, sigs[i]);
		uint64_t mpa = 0;
		uint32_t mlen = 0;
		int mst = model_find(fz.mem, rsdp, sigs[i], &mpa, &mlen);
		if (mst != r->st_find[i] || (mst == ACPI_OK && (mpa != r->pa[i] || mlen != r->len[i]))) {
			fprintf(stderr, "fuzz_acpi: %s: reader %d at 0x%llx+%u, model %d at 0x%llx+%u\n", sigs[i],
				r->st_find[i], (unsigned long long)r->pa[i], r->len[i], mst, (unsigned long long)mpa, mlen);
			fail("acpi_find_table disagrees with the model", r->st_find[i], mst);
		}
	}
	r->st_madt = known(acpi_read_madt(&acc, rsdp, &r->madt));
	bounded(entries, "MADT");
	const struct acpi_madt_info *m = &r->madt;
	if (m->kept != (m->entries < ACPI_MAX_CPUS ? m->entries : ACPI_MAX_CPUS) || m->enabled > m->usable ||
	    m->usable > m->entries)
		fail("MADT counts inconsistent", (long)m->kept, (long)m->entries);
	for (size_t i = 0; i < m->kept; i++)
		if (!m->cpu[i].x2apic && (m->cpu[i].apic_id > 0xFF || m->cpu[i].uid > 0xFF))
			fail("an xAPIC entry's id or uid past 8 bits", (long)m->cpu[i].apic_id, (long)m->cpu[i].uid);
	if (r->st_madt != ACPI_OK && (m->entries || m->kept || m->lapic_base))
		fail("a refused MADT reported CPUs", r->st_madt, (long)m->entries);
	r->st_pm = known(acpi_read_pm_timer(&acc, rsdp, &r->pm));
	bounded(entries, "PM timer");
	if ((r->st_pm == ACPI_OK) != (r->pm.port != 0) || (!r->pm.port && r->pm.bits32))
		fail("PM timer port and status disagree", r->st_pm, r->pm.port);
	r->st_dmar = known(acpi_read_dmar(&acc, rsdp, &r->dmar));
	bounded(entries, "DMAR");
	if (r->st_dmar != ACPI_OK && (r->dmar.flags || r->dmar.host_address_width))
		fail("a refused DMAR reported fields", r->st_dmar, r->dmar.flags);
	r->st_hpet = known(acpi_read_hpet(&acc, rsdp, &r->hpet));
	bounded(entries, "HPET");
	if ((r->st_hpet == ACPI_OK) != (r->hpet.base != 0))
		fail("HPET base and status disagree", r->st_hpet, (long)r->hpet.base);
	r->st_all = known(acpi_map_all(&acc, rsdp, &r->all));
	bounded(entries, "map_all");
	if (r->all.over_budget > r->all.skipped || (r->st_all == ACPI_OK) != (r->all.tables >= 2))
		fail("acpi_map_all counts inconsistent", (long)r->all.tables, (long)r->all.skipped);
	bool root_refused = r->st_find[0] == ACPI_ENORSDP || r->st_find[0] == ACPI_EBADRSDP || r->st_find[0] == ACPI_EBADROOT;
	if (r->st_all != ACPI_OK ? r->st_all != r->st_find[0] : root_refused)
		fail("acpi_map_all and acpi_find_table disagree on the root", r->st_all, r->st_find[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct results first, again;
	if (size < FZ_HDR)
		return 0;
	size_t len = size - FZ_HDR;
	uint8_t *m = malloc(len ? len : 1);
	if (!m)
		fail("out of memory", (long)len, 0);
	memcpy(m, data + FZ_HDR, len);
	fz.mem = m;
	fz.len = len;
	uint64_t rsdp = FZ_BASE + (data[1] | (uint32_t)data[2] << 8);
	fix_up(m, rsdp, data[0]);
	size_t roff = 0;
	uint32_t rlen = 36;
	unsigned esz = 4;
	size_t entries = model_root(m, rsdp, &roff, &rlen, &esz) == ACPI_OK ? (rlen - 36) / esz : 0;
	run_readers(rsdp, entries, &first);
	run_readers(rsdp, entries, &again);
	if (!same_results(&first, &again))
		fail("a reader answered differently the second time", 0, 0);
	if (getenv("FUZZ_ACPI_SHOW"))   /* what the readers made of an input (a crash's, a seed's) */
		fprintf(stderr, "fuzz_acpi: root entries %zu; find APIC %d FACP %d DMAR %d HPET %d DSDT %d SSDT %d; "
			"MADT %d (%zu CPUs, %zu enabled), PM timer %d (port 0x%x), DMAR %d, HPET %d (0x%llx), "
			"map_all %d (%u tables, %u skipped)\n", entries, first.st_find[0], first.st_find[1],
			first.st_find[2], first.st_find[3], first.st_find[4], first.st_find[5], first.st_madt,
			first.madt.entries, first.madt.enabled, first.st_pm, first.pm.port, first.st_dmar, first.st_hpet,
			(unsigned long long)first.hpet.base, first.st_all, first.all.tables, first.all.skipped);
	free(m);
	return 0;
}
