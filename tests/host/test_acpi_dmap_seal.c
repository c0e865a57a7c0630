/*
 * The direct map's seal (kernel/sysinfo.c's sysinfo_acpi_premap, arch/x86_64/acpi.c's acpi_map_all),
 * built here unchanged on the fake machine's kernel_pt. Before the seal, ACPI tables in firmware
 * memory the direct map lacked were added to it (write-back) whenever they were read, also after
 * mm_init, when a driver may already map such a page uncached through the reserved-mapping API:
 * one frame with two memory types (Intel SDM Vol. 3A 11.12.4), and the region's rule "a frame the
 * direct map holds is mapped write-back" answered from a direct map that could still grow.
 *
 * The kernel's map functions return DMAP_BASE + pa, which the host cannot read; the tests' access
 * calls the kernel's function (its checks, its pt_map calls, its counts) and, when it returns the
 * direct map's address, hands the reader the bytes of the fake physical memory at pa instead.
 *
 * test_premap_rounds: generated machines (seeded; rounds vary the root, RSDT or XSDT, and the
 * FADT's DSDT and FACS fields: 64-bit, 32-bit only, or 64-bit ones over bad 32-bit ones), each with
 * good tables in ACPI reclaim, NVS and reserved memory (one across a page boundary) and generated
 * bad entries among them: address 0, random 64-bit (or 32-bit) addresses outside every listed
 * descriptor, addresses within 3 pages of 2^64, addresses inside each MMIO descriptor, a valid
 * table in a hole the memory map does not list, headers reaching one to 35 bytes into an MMIO
 * descriptor, headers in reserved memory with a length of 0, 1, 35, past ACPI_TABLE_MAX, 2^32 - 1,
 * or reaching into MMIO, and a wrong checksum. After the premap: sealed; every page of every good
 * table present; the reserved region's pages present exactly where a good table or a bad-length
 * header lies (the reader must read a header to judge it; nothing past it is added); the pages
 * counted match; tables and skipped entries counted as generated; X_DSDT / X_FIRMWARE_CTRL
 * preferred over the 32-bit fields. After the seal: the MADT, PM timer and HPET reads work from the
 * premapped pages and add nothing; a second RSDP, XSDT and MADT in reserved pages the premap did not
 * see cannot be read (ACPI_EUNMAPPED) and stay out of the direct map; the map function returns NULL
 * for a page the direct map lacks and counts it.
 * test_hpet_refuses_direct_mapped_page: the HPET's page is refused when the direct map holds it (a
 * premapped table's page), accepted for a device page.
 */
#include <stdint.h>
#include "tap.h"
#include "test_rng.h"
#include "acpi_build.h"
#include "capture.h"
#include "../../kernel/sysinfo.c"
#include "sysinfo_standins.h"
#include "fake_arch.h"
#include "machine.h"
#include "phys.h"

bool fbcon_active(void) { return false; }

#define RECL_PA   0x3F00000ULL     /* ACPI reclaim, 16 pages; NVS follows it, 16 pages */
#define NVS_PA    0x3F10000ULL
#define RESV_PA   0xDFFE0000ULL    /* reserved, 32 pages, up to the PCI window */
#define RESV_PAGES 32
#define PCI_PA    0xE0000000ULL    /* MMIO, 256 MiB */
#define HOLE_PA   0xF0000000ULL    /* not listed, up to the IOAPIC */
#define HPET_MMIO 0xFED00000ULL
#define LOW_PA    0xC0000ULL       /* not listed: [0xC0000, 0xE0000) a hole, [0xE0000, 0x100000) the BIOS area */

/* The good tables' places. */
#define RSDP_AT   (RESV_PA + 0x0000)
#define ROOT_AT   (RESV_PA + 0x1000)
#define DSDT_AT   (RESV_PA + 0x3000)   /* 0x2800 bytes: three pages */
#define DSDT_LEN  0x2800u
#define FACS_RESV (RESV_PA + 0x6000)
#define SSDT_AT   (RESV_PA + 0x7F00)   /* 0x200 bytes across a page boundary */
#define RSDP2_AT  (RESV_PA + 0xA000)   /* a second RSDP, XSDT and MADT no root of the premap lists */
#define ROOT2_AT  (RESV_PA + 0xB000)
#define MADT2_AT  (RESV_PA + 0xC000)
#define BADL_AT   (RESV_PA + 0x10000)  /* pages 16..30: headers of bad length, one a page */
#define FADT_AT   (RECL_PA + 0x0000)
#define MADT_AT   (RECL_PA + 0x1000)
#define HPETT_AT  (RECL_PA + 0x2000)
#define FACS_NVS  (NVS_PA + 0x0000)

#define MAP_N 10
static struct efi_memory_descriptor test_map[MAP_N];

const void *kernel_memory_map(size_t *size, size_t *desc_size)
{
	*size = sizeof(test_map);
	*desc_size = sizeof(test_map[0]);
	return test_map;
}

/* A firmware-like map: RAM, ACPI reclaim and NVS, reserved memory up to a PCI window, the IOAPIC's,
 * the HPET's and the local APIC's MMIO (the IOAPIC's page listed as reserved too, by a buggy
 * firmware); [HOLE_PA, 0xFEC00000) is a hole the map does not list. */
static void make_map(void)
{
	static const struct { uint32_t type; uint64_t start, pages; } d[MAP_N] = {
		{ EFI_CONVENTIONAL, 0x100000, 0x3000 }, { EFI_ACPI_RECLAIM, RECL_PA, 16 }, { EFI_ACPI_NVS, NVS_PA, 16 },
		{ EFI_RESERVED, RESV_PA, RESV_PAGES }, { EFI_MMIO, PCI_PA, 0x10000 }, { EFI_MMIO, 0xFEC00000, 1 },
		{ EFI_MMIO, HPET_MMIO, 1 }, { EFI_MMIO, 0xFEE00000, 1 }, { EFI_MMIO_PORT, 0xFFFFC000, 1 },
		{ EFI_RESERVED, 0xFEC00000, 1 },   /* the IOAPIC's page listed twice: device memory wins */
	};
	for (int i = 0; i < MAP_N; i++)
		test_map[i] = (struct efi_memory_descriptor){ .type = d[i].type, .phys_start = d[i].start,
							      .num_pages = d[i].pages, .attribute = 0xF };
}

/* The fake physical memory: windows holding table bytes; any other address reads as zeros. */
static uint8_t win_acpi[0x20000], win_resv[RESV_PAGES * 0x1000], win_hole[0x10000], win_low[0x40000];
static uint8_t zeros[ACPI_TABLE_MAX + 0x1000];
static const struct { uint64_t base; uint8_t *buf; size_t size; } wins[] = {
	{ RECL_PA, win_acpi, sizeof(win_acpi) }, { RESV_PA, win_resv, sizeof(win_resv) }, { HOLE_PA, win_hole, sizeof(win_hole) },
	{ LOW_PA, win_low, sizeof(win_low) },
};

/* The host bytes of [pa, pa + len): a window's, else zeros; NULL only for a range longer than those. */
static const void *test_phys(uint64_t pa, size_t len)
{
	for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++)
		if (pa >= wins[i].base && len <= wins[i].size && pa - wins[i].base <= wins[i].size - len)
			return wins[i].buf + (pa - wins[i].base);
	return len <= sizeof(zeros) ? zeros : NULL;
}

/* A writable pointer to pa inside a window (the tests build tables only there). */
static uint8_t *at(uint64_t pa)
{
	return (uint8_t *)test_phys(pa, 1);
}

/* A table of len bytes at pa with signature sig, zeroed after its header; returns its bytes (the
 * checksum is left to table_sum). */
static uint8_t *table(uint64_t pa, const char *sig, uint32_t len)
{
	uint8_t *t = at(pa);
	memset(t, 0, len);
	acpi_build_header(t, sig, len, 2);
	return t;
}

static void table_sum(uint64_t pa) { acpi_build_seal(at(pa)); }

/* An RSDP at pa naming root: revision 2 (XSDT) or 0 (RSDT). */
static void make_rsdp(uint64_t pa, int rev, uint64_t root) { acpi_build_rsdp(at(pa), rev, root); }

/* A root table at pa (XSDT when rev >= 2, else RSDT) listing n entries. */
static void make_root(uint64_t pa, int rev, const uint64_t *e, size_t n) { acpi_build_root(at(pa), rev, e, n); }

/* A MADT at pa with one enabled local APIC. */
static void make_madt(uint64_t pa)
{
	uint8_t *t = table(pa, "APIC", 52);
	acpi_build_put32(t + 36, 0xFEE00000);
	acpi_build_put32(t + 40, 1);
	t[44] = 0;
	t[45] = 8;
	t[48] = 1;   /* flags: enabled */
	table_sum(pa);
}

/* The FADT's DSDT and FACS fields a round writes. */
enum fadt_mode { FADT_X, FADT_32, FADT_X_OVER_BAD_32, FADT_MODES };

/* A FADT at FADT_AT with a PM timer at port 0x608 and the DSDT and FACS fields of mode. */
static void make_fadt(enum fadt_mode mode)
{
	uint8_t *t = table(FADT_AT, "FACP", mode == FADT_32 ? 116 : 244);
	acpi_build_put32(t + 76, 0x608);
	t[91] = 4;
	if (mode == FADT_X) {
		acpi_build_put64(t + 140, DSDT_AT);
		acpi_build_put64(t + 132, FACS_NVS);
	} else if (mode == FADT_32) {
		acpi_build_put32(t + 40, (uint32_t)DSDT_AT);
		acpi_build_put32(t + 36, (uint32_t)FACS_RESV);
	} else {   /* the 64-bit fields win: a good X_DSDT over a bad DSDT, a bad X_FIRMWARE_CTRL over a good one */
		acpi_build_put64(t + 140, DSDT_AT);
		acpi_build_put32(t + 40, (uint32_t)(PCI_PA + 0x1000));
		acpi_build_put64(t + 132, PCI_PA + 0x2000);
		acpi_build_put32(t + 36, (uint32_t)FACS_RESV);
	}
	table_sum(FADT_AT);
}

static void make_facs(uint64_t pa)
{
	uint8_t *f = at(pa);
	memset(f, 0, 64);
	memcpy(f, "FACS", 4);
	acpi_build_put32(f + 4, 64);
}

/* Reads through the kernel's map function result p: the fake memory's bytes when p is the direct
 * map's address of pa, NULL (and counted) when it is any other address. */
static unsigned wrong_ptrs;
static const void *read_through(const void *p, uint64_t pa, size_t len)
{
	if (!p)
		return NULL;
	if (p != (const void *)(DMAP_BASE + pa)) {
		wrong_ptrs++;
		return NULL;
	}
	return test_phys(pa, len);
}

static const void *premap_read(void *ctx, uint64_t pa, size_t len)
{
	return read_through(sysinfo_premap_map(ctx, pa, len), pa, len);
}

static const void *kernel_read(void *ctx, uint64_t pa, size_t len)
{
	return read_through(sysinfo_acpi_map(ctx, pa, len), pa, len);
}

static const struct acpi_access premap_acc = { premap_read, NULL };
static const struct acpi_access kernel_acc = { kernel_read, NULL };

/* Runs the premap (through premap_acc) over the machine built, its RSDP at rsdp, with the wrong
 * pointers counted afresh, and puts what it said on serial into said (size bytes); returns the
 * seal's record. */
static const struct sysinfo_dmap_seal *premap_said(uint64_t rsdp, char *said, size_t size)
{
	kernel_bootinfo.rsdp_phys = rsdp;
	wrong_ptrs = 0;
	capture_begin();
	sysinfo_premap_with(&premap_acc);
	capture_end(said, size);
	return sysinfo_dmap_seal();
}

static bool dmapped(uint64_t pa)
{
	return pa < DMAP_SIZE && pt_query(&kernel_pt, DMAP_BASE + ALIGN_DOWN(pa, PAGE_SIZE), NULL, NULL, NULL);
}

/* True when every page of [pa, pa + len) is in the direct map. */
static bool all_dmapped(uint64_t pa, uint64_t len)
{
	for (uint64_t p = ALIGN_DOWN(pa, PAGE_SIZE); p < pa + len; p += PAGE_SIZE)
		if (!dmapped(p))
			return false;
	return true;
}

/* True when a descriptor other than MMIO lists pa (the generator keeps random entries out of those). */
static bool listed(uint64_t pa)
{
	for (int i = 0; i < MAP_N; i++)
		if (test_map[i].type != EFI_MMIO && test_map[i].type != EFI_MMIO_PORT && pa >= test_map[i].phys_start &&
		    pa - test_map[i].phys_start < test_map[i].num_pages * 0x1000)
			return true;
	return false;
}

/* A fresh kernel_pt with what vm_init maps (RAM, ACPI reclaim and NVS), the seal undone. */
static void fresh_machine(void)
{
	kernel_pt = (struct pt){ 0 };
	if (pt_create(&kernel_pt, PT_FEAT_ALL) != PT_OK ||
	    pt_map(&kernel_pt, DMAP_BASE + 0x100000, 0x100000, 0x3000000, PT_PROT_W | PT_PROT_G, PT_SIZE_4K | PT_SIZE_2M) ||
	    pt_map(&kernel_pt, DMAP_BASE + RECL_PA, RECL_PA, 0x20000, PT_PROT_W | PT_PROT_G, PT_SIZE_4K)) {
		printf("Bail out! the fake machine's kernel_pt\n");
		exit(1);
	}
	sysinfo_seal = (struct sysinfo_dmap_seal){ 0 };
	memset(win_acpi, 0, sizeof(win_acpi));
	memset(win_resv, 0, sizeof(win_resv));
	memset(win_hole, 0, sizeof(win_hole));
	memset(win_low, 0, sizeof(win_low));
}

/* One generated bad entry: its address, and for a header of bad length in reserved memory the page
 * the premap must add (0 for none). */
struct bad { uint64_t pa; uint64_t header_page; const char *kind; };

/* Generates a bad entry of kind k (32-bit addresses for an RSDT); writes a bad-length header into
 * reserved page slot when the kind needs one. */
static struct bad make_bad(uint64_t *rng, unsigned k, bool rsdt, unsigned slot)
{
	uint64_t r = test_rng_next(rng), pa;
	static const uint64_t mmio[] = { PCI_PA, 0xFEC00000, HPET_MMIO, 0xFEE00000, 0xFFFFC000 };

	switch (k) {
	case 0:
		return (struct bad){ 0, 0, "address 0" };
	case 1:
		do
			pa = rsdt ? (uint32_t)test_rng_next(rng) : test_rng_next(rng);
		while (listed(pa) || listed(pa + 35) || pa == 0);
		return (struct bad){ pa, 0, "a random address" };
	case 2:
		return (struct bad){ rsdt ? 0xFFFFFFFFULL - r % 0x3000 : UINT64_MAX - r % 0x3000, 0, "near the top" };
	case 3: {
		uint64_t base = mmio[r % 5], pages = base == PCI_PA ? 0x10000 : 1;
		return (struct bad){ base + (r >> 8) % (pages * 0x1000), 0, "inside MMIO" };
	}
	case 4:
		return (struct bad){ HOLE_PA, 0, "a valid table in a hole" };
	case 5:
		return (struct bad){ PCI_PA - 1 - r % 35, 0, "a header reaching into MMIO" };
	default: {
		static const uint32_t lens[] = { 0, 1, 35, ACPI_TABLE_MAX + 1, 0xFFFFFFFFu };
		uint64_t page = BADL_AT + slot * 0x1000, off = (r >> 8) % (0x1000 - 0x80);
		unsigned v = (unsigned)(r % 7);
		pa = page + off;
		uint8_t *t = table(pa, "BADL", 0x80);
		if (v < 5)
			acpi_build_put32(t + 4, lens[v]);
		else if (v == 5)
			acpi_build_put32(t + 4, (uint32_t)(PCI_PA - pa + 1 + (r >> 20) % 0x1000));   /* reaches into MMIO */
		else {   /* length 0x80, its checksum wrong */
			uint8_t sum = 0;
			for (int i = 0; i < 0x80; i++)
				sum = (uint8_t)(sum + t[i]);
			t[9] = (uint8_t)(t[9] + (sum ? 0 : 1));
		}
		return (struct bad){ pa, page, "a header of bad length or checksum" };
	}
	}
}

/* The valid table a hole holds (kind 4): well formed, refused only for where it lies. */
static void make_hole_table(void)
{
	table(HOLE_PA, "SSDT", 0x40);
	table_sum(HOLE_PA);
}

static void test_premap_rounds(void)
{
	enum { ROUNDS = 36, MAX_ENTRIES = 48 };
	uint64_t rng = 0x5EA1D11AULL;
	unsigned bad_rounds = 0, nbad_total = 0;

	for (unsigned round = 0; round < ROUNDS; round++) {
		bool rsdt = round % 4 == 3;
		enum fadt_mode mode = (enum fadt_mode)(round % FADT_MODES);
		uint64_t entries[MAX_ENTRIES];
		struct bad bads[MAX_ENTRIES];
		bool expect[RESV_PAGES] = { 0 };
		size_t n = 0, nbad = 0;
		char why[200] = "";

		fresh_machine();
		make_rsdp(RSDP_AT, rsdt ? 0 : 2, ROOT_AT);
		make_fadt(mode);
		make_madt(MADT_AT);
		uint8_t *h = table(HPETT_AT, "HPET", 56);
		acpi_build_put64(h + 44, HPET_MMIO);
		table_sum(HPETT_AT);
		table(DSDT_AT, "DSDT", DSDT_LEN);
		table_sum(DSDT_AT);
		table(SSDT_AT, "SSDT", 0x200);
		table_sum(SSDT_AT);
		bool facs_bad = mode == FADT_32 && round % 2 == 0;   /* a FACS shorter than its 64 bytes: read, skipped */
		make_facs(FACS_NVS);
		make_facs(FACS_RESV);
		if (facs_bad)
			acpi_build_put32(at(FACS_RESV) + 4, (uint32_t)(test_rng_next(&rng) % 64));
		make_hole_table();
		static const uint64_t good[] = { FADT_AT, MADT_AT, SSDT_AT, HPETT_AT };
		unsigned nb = 4 + (unsigned)(test_rng_next(&rng) % 12), slot = 0;
		for (unsigned g = 0, i = 0; g < 4 || i < nb;) {
			bool take_bad = g == 4 || (i < nb && test_rng_next(&rng) % 2);
			if (take_bad) {
				unsigned k = (unsigned)(test_rng_next(&rng) % 7);
				if (k == 6 && slot == 14)   /* slots 0..13: pages 16..29; page 31 is kind 5's */
					k = 0;
				bads[nbad] = make_bad(&rng, k, rsdt, slot);
				slot += k == 6;
				entries[n++] = bads[nbad++].pa;
				i++;
			} else {
				entries[n++] = good[g++];
			}
		}
		bads[nbad++] = (struct bad){ 0xFEC00010, 0, "the IOAPIC's page, listed MMIO and reserved" };
		entries[n++] = 0xFEC00010;
		make_root(ROOT_AT, rsdt ? 0 : 2, entries, n);

		/* the reserved pages the premap must add: the good tables' there, the bad headers' pages */
		uint64_t facs = mode == FADT_32 ? FACS_RESV : FACS_NVS;
		const struct { uint64_t pa, len; } want[] = {
			{ RSDP_AT, 36 }, { ROOT_AT, 36 + n * (rsdt ? 4 : 8) }, { DSDT_AT, DSDT_LEN }, { SSDT_AT, 0x200 },
			{ facs, facs_bad ? 8 : 64 }, { FADT_AT, mode == FADT_32 ? 116 : 244 }, { MADT_AT, 52 }, { HPETT_AT, 56 },
		};
		for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
			for (uint64_t p = ALIGN_DOWN(want[w].pa, PAGE_SIZE); p < want[w].pa + want[w].len; p += PAGE_SIZE)
				if (p >= RESV_PA && p < RESV_PA + RESV_PAGES * 0x1000)
					expect[(p - RESV_PA) >> 12] = true;
		for (size_t b = 0; b < nbad; b++)
			if (bads[b].header_page)
				expect[(bads[b].header_page - RESV_PA) >> 12] = true;
		unsigned expect_pages = 0;
		for (int i = 0; i < RESV_PAGES; i++)
			expect_pages += expect[i];

		char said[256], want_said[256];
		const struct sysinfo_dmap_seal *s = premap_said(RSDP_AT, said, sizeof(said));
		bool facs_ok = mode != FADT_X_OVER_BAD_32 && !facs_bad;
		unsigned want_tables = 2 + 4 + 1 + facs_ok, want_skipped = (unsigned)nbad + !facs_ok;

		if (!s->sealed || s->status != ACPI_OK || wrong_ptrs)
			snprintf(why, sizeof(why), "sealed %d, status %d, %u wrong pointers", s->sealed, s->status, wrong_ptrs);
		else if (s->tables != want_tables || s->skipped != want_skipped)
			snprintf(why, sizeof(why), "%u tables, %u skipped; want %u and %u", s->tables, s->skipped, want_tables,
				 want_skipped);
		else if (s->pages != expect_pages)
			snprintf(why, sizeof(why), "%llu pages added, want %u", (unsigned long long)s->pages, expect_pages);
		snprintf(want_said, sizeof(want_said), "acpi: %u tables premapped, %u pages added to the direct map, %u entries "
			 "refused; direct map sealed\n", want_tables, expect_pages, want_skipped);
		if (!why[0] && strcmp(said, want_said))
			snprintf(why, sizeof(why), "serial said \"%.80s\", want \"%.80s\"", said, want_said);
		for (size_t w = 0; !why[0] && w < sizeof(want) / sizeof(want[0]); w++)
			if (!all_dmapped(want[w].pa, want[w].len))
				snprintf(why, sizeof(why), "the table at 0x%llx is not premapped whole", (unsigned long long)want[w].pa);
		for (int i = 0; !why[0] && i < RESV_PAGES; i++)
			if (dmapped(RESV_PA + i * 0x1000ULL) != expect[i])
				snprintf(why, sizeof(why), "reserved page 0x%llx: in the direct map %d, want %d",
					 (unsigned long long)(RESV_PA + i * 0x1000ULL), !expect[i], expect[i]);
		for (size_t b = 0; !why[0] && b < nbad; b++) {
			uint64_t last = bads[b].pa + 35 < bads[b].pa ? UINT64_MAX : bads[b].pa + 35;
			/* pages no descriptor lists as memory stay out; a bad header's reserved page is in expect[] */
			bool added = (!listed(bads[b].pa) && dmapped(bads[b].pa)) || (!listed(last) && dmapped(last));
			if (added)
				snprintf(why, sizeof(why), "bad entry 0x%llx (%s) added to the direct map",
					 (unsigned long long)bads[b].pa, bads[b].kind);
		}
		if (!why[0] && (dmapped(HOLE_PA) || dmapped(0xFEC00000) || dmapped(PCI_PA) || dmapped(PCI_PA + 0x1000) || dmapped(PCI_PA + 0x2000)))
			snprintf(why, sizeof(why), "a hole or MMIO page is in the direct map");

		/* after the seal: reads from the premapped pages work and add nothing */
		struct acpi_madt_info *madt = calloc(1, sizeof(*madt));
		struct acpi_pm_timer pm;
		struct acpi_hpet_info hp;
		uint64_t pages = s->pages, refused = s->refused;
		int m1 = acpi_read_madt(&kernel_acc, RSDP_AT, madt), p1 = acpi_read_pm_timer(&kernel_acc, RSDP_AT, &pm);
		int h1 = acpi_read_hpet(&kernel_acc, RSDP_AT, &hp);
		if (!why[0] && (m1 || madt->enabled != 1 || p1 || pm.port != 0x608 || h1 || hp.base != HPET_MMIO))
			snprintf(why, sizeof(why), "after the seal: MADT %d (%zu enabled), PM timer %d, HPET %d", m1,
				 madt->enabled, p1, h1);
		/* a table outside the premapped set: a second RSDP, XSDT and MADT in reserved pages */
		make_madt(MADT2_AT);
		uint64_t e2 = MADT2_AT;
		make_root(ROOT2_AT, 2, &e2, 1);
		make_rsdp(RSDP2_AT, 2, ROOT2_AT);
		int m2 = acpi_read_madt(&kernel_acc, RSDP2_AT, madt);
		uint64_t fn_rsdp = (uint64_t)(uintptr_t)sysinfo_acpi()->map(NULL, RSDP2_AT, 36);
		if (!why[0] && (m2 != ACPI_EUNMAPPED || fn_rsdp || dmapped(RSDP2_AT) || dmapped(ROOT2_AT) || dmapped(MADT2_AT)))
			snprintf(why, sizeof(why), "after the seal, an RSDP the premap did not see: MADT read %d, map function "
				 "0x%llx, pages in the direct map %d %d %d", m2, (unsigned long long)fn_rsdp, dmapped(RSDP2_AT),
				 dmapped(ROOT2_AT), dmapped(MADT2_AT));
		if (!why[0] && (s->pages != pages || s->refused <= refused))
			snprintf(why, sizeof(why), "after the seal: %llu pages added, %llu reads refused (before %llu)",
				 (unsigned long long)(s->pages - pages), (unsigned long long)s->refused,
				 (unsigned long long)refused);
		if (!why[0] && sysinfo_acpi()->map(NULL, SSDT_AT, 0x200) != (const void *)(DMAP_BASE + SSDT_AT))
			snprintf(why, sizeof(why), "after the seal, a premapped table is not returned");
		free(madt);
		nbad_total += (unsigned)nbad;
		if (why[0] && bad_rounds++ < 4)
			printf("#   round %u (%s, FADT mode %d, %zu entries): %s\n", round, rsdt ? "RSDT" : "XSDT", mode, n, why);
	}
	ok(bad_rounds == 0, "test_premap_rounds: %d generated machines, %u bad entries (address 0, random, near 2^64, inside "
	   "MMIO, a table in a hole, headers into MMIO, bad lengths and checksums) skipped and never added; every table, "
	   "the DSDT and the FACS premapped; after the seal reads work from those pages and nothing else is added "
	   "(%u rounds wrong)", ROUNDS, nbad_total, bad_rounds);
}

/* An RSDP in the BIOS read-only area, which the memory map leaves out (AMI's UEFI firmware, often):
 * premapped, and its tables read after the seal; a table in the unlisted page below that area
 * (0xD0000: option ROMs' space, no table's) is skipped and stays out of the direct map. */
static void test_premap_rsdp_in_bios_area(void)
{
	const uint64_t rsdp = 0xF0490, below = 0xDF000;
	uint64_t entries[] = { FADT_AT, below, MADT_AT };
	struct acpi_madt_info *madt = calloc(1, sizeof(*madt));
	char said[256];

	fresh_machine();
	make_fadt(FADT_X);
	make_facs(FACS_NVS);
	table(DSDT_AT, "DSDT", DSDT_LEN);
	table_sum(DSDT_AT);
	make_madt(MADT_AT);
	make_madt(below);
	make_root(ROOT_AT, 2, entries, 3);
	make_rsdp(rsdp, 2, ROOT_AT);
	const struct sysinfo_dmap_seal *s = premap_said(rsdp, said, sizeof(said));
	ok(s->sealed && s->status == ACPI_OK && !wrong_ptrs && s->tables == 6 && s->skipped == 1,
	   "test_premap_rsdp_in_bios_area: an RSDP at 0x%llx, outside every descriptor, is read: status %d, %u tables, "
	   "%u skipped (want 0, 6, 1)", (unsigned long long)rsdp, s->status, s->tables, s->skipped);
	ok(dmapped(rsdp) && !dmapped(below) && !dmapped(below - 0x1000) && !dmapped(0xE0000 - 0x1000),
	   "the RSDP's page is in the direct map, the unlisted page below the BIOS area is not (%d, %d)", dmapped(rsdp),
	   dmapped(below));
	int m = acpi_read_madt(&kernel_acc, rsdp, madt);
	ok(m == ACPI_OK && madt->enabled == 1, "after the seal the MADT is read through that RSDP: %d", m);
	free(madt);
}

/* A root listing one 64 KiB table 12000 times (750 MiB to checksum): the walk reads tables whole up
 * to ACPI_MAP_ALL_BUDGET and counts the rest as refused, unread, and says so. */
static void test_premap_budget(void)
{
	enum { N = 12000, LEN = 0x10000 };
	const uint64_t root = 0xE0000, big = RESV_PA + 0x10000;
	uint64_t *entries = malloc(N * sizeof(*entries));
	char said[256], want[256];

	fresh_machine();
	for (unsigned i = 0; i < N; i++)
		entries[i] = big;
	table(big, "SSDT", LEN);
	table_sum(big);
	make_root(root, 2, entries, N);
	make_rsdp(RSDP_AT, 2, root);
	const struct sysinfo_dmap_seal *s = premap_said(RSDP_AT, said, sizeof(said));
	unsigned afford = ACPI_MAP_ALL_BUDGET / LEN;
	ok(s->sealed && s->status == ACPI_OK && !wrong_ptrs && s->tables == 2 + afford && s->skipped == N - afford &&
	   all_dmapped(big, LEN), "test_premap_budget: a root listing a 64 KiB table %u times: %u tables read whole, %u "
	   "refused (want %u and %u: the walk reads %u MiB at most)", N, s->tables, s->skipped, 2 + afford, N - afford,
	   ACPI_MAP_ALL_BUDGET >> 20);
	snprintf(want, sizeof(want), "acpi: %u tables premapped, %llu pages added to the direct map, %u entries refused "
		 "(%u of them unread: past the %u MiB the walk reads); direct map sealed\n", 2 + afford,
		 (unsigned long long)s->pages, N - afford, N - afford, ACPI_MAP_ALL_BUDGET >> 20);
	ok(!strcmp(said, want), "serial says how many were left unread: \"%.140s\"", said);
	free(entries);
}

/* The HPET's page: refused when the direct map holds it (write-back), accepted for a device page
 * the direct map lacks; an unpremapped reserved page is no RAM and not in the direct map: accepted. */
static void test_hpet_refuses_direct_mapped_page(void)
{
	fresh_machine();
	uint64_t page = SSDT_AT + 0x100;   /* the SSDT's second page */
	ok(pt_map(&kernel_pt, DMAP_BASE + page, page, 0x1000, 0, PT_SIZE_4K) == PT_OK, "a table's page in the direct map");
	const char *dm = sysinfo_hpet_refusal(page), *dev = sysinfo_hpet_refusal(HPET_MMIO),
		   *resv = sysinfo_hpet_refusal(RESV_PA + 0x9000);
	ok(dm && strstr(dm, "direct map"), "test_hpet_refuses_direct_mapped_page: an HPET on a page the direct map holds "
	   "is refused: %s", dm ? dm : "(accepted)");
	ok(!dev && !resv, "an HPET on an MMIO page or a reserved page outside the direct map is accepted (%s; %s)",
	   dev ? dev : "accepted", resv ? resv : "accepted");
}

int main(void)
{
	static struct machine_map ram;

	fake_arch_init();
	make_map();
	machine_map_init(&ram, 48);   /* the frames kernel_pt's tables come from */
	machine_map_add(&ram, EFI_CONVENTIONAL, 0x100000, 8192, 0);
	phys_init(ram.buf, machine_map_size(&ram), ram.desc_size);
	test_premap_rounds();
	test_premap_rsdp_in_bios_area();
	test_premap_budget();
	test_hpet_refuses_direct_mapped_page();
	return tap_done();
}
