/*
 * mtrr_span_uniform (arch/x86_64/mtrr.c) against a per-page model of the SDM's MTRR rules (Vol. 3A
 * 11.11.4.1): on generated MTRR sets, a range it calls uniform has one type on every 4 KiB page
 * (never a large page over two types); a set whose variable ranges are all aligned to the range's
 * size is always called uniform above 1 MiB (the check does not keep large pages from ordinary
 * firmware layouts); and the cases it refuses by rule (fixed ranges on below 1 MiB, a truncated
 * copy) and allows by rule (MTRRs off) each once.
 */
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "test_rng.h"
#include "mtrr.h"
#include "x86.h"

#define MT_UC 0
#define MT_WC 1
#define MT_WT 4
#define MT_WP 5
#define MT_WB 6
static const uint8_t mtrr_types[] = { MT_UC, MT_WC, MT_WT, MT_WP, MT_WB };

/* The fixed-range type of a page below 1 MiB: 0x250 8 x 64 KiB, 0x258/0x259 8 x 16 KiB each, then
 * 0x268..0x26F 8 x 4 KiB each (cpu.c's order of fixed[]). */
static unsigned model_fixed_type(const struct cpu_mtrrs *m, uint64_t pa)
{
	unsigned msr, byte;
	if (pa < 0x80000) {
		msr = 0, byte = (unsigned)(pa >> 16);
	} else if (pa < 0xC0000) {
		msr = 1 + (unsigned)((pa - 0x80000) >> 17), byte = (unsigned)(((pa - 0x80000) >> 14) & 7);
	} else {
		msr = 3 + (unsigned)((pa - 0xC0000) >> 15), byte = (unsigned)(((pa - 0xC0000) >> 12) & 7);
	}
	return (unsigned)(m->fixed[msr] >> (8 * byte)) & 0xFF;
}

/* The memory type the MTRRs give the page at pa, by the SDM's precedence; two or more variable
 * ranges of types with no rule between them give 0x100 | the set of their types (undefined, but
 * the same undefined on two pages only with the same set). */
static unsigned model_type(const struct cpu_mtrrs *m, uint64_t pa, unsigned physbits)
{
	if (!(m->def_type & MTRR_DEF_E))
		return MT_UC;
	if (m->fixed_present && (m->def_type & MTRR_DEF_FE) && pa < 0x100000)
		return model_fixed_type(m, pa);
	uint64_t addr = ((1ULL << physbits) - 1) & ~0xFFFULL;
	unsigned set = 0;
	for (unsigned i = 0; i < m->nvar; i++) {
		uint64_t mask = m->var[2 * i + 1];
		if ((mask & MTRR_VAR_VALID) && ((pa ^ m->var[2 * i]) & mask & addr) == 0)
			set |= 1u << (m->var[2 * i] & 0xFF);
	}
	if (!set)
		return (unsigned)(m->def_type & 0xFF);
	if (set & (1u << MT_UC))
		return MT_UC;
	if ((set & (set - 1)) == 0)
		return (unsigned)__builtin_ctz(set);
	if (set == ((1u << MT_WT) | (1u << MT_WB)))
		return MT_WT;
	return 0x100 | set;
}

/* True when every page of [pa, pa + len) has one type in the model. */
static bool model_uniform(const struct cpu_mtrrs *m, uint64_t pa, uint64_t len, unsigned physbits)
{
	unsigned t = model_type(m, pa, physbits);
	for (uint64_t p = pa + 0x1000; p < pa + len; p += 0x1000)
		if (model_type(m, p, physbits) != t)
			return false;
	return true;
}

#define SPACE_BITS 33   /* the generated ranges and spans lie in the first 8 GiB */

/* A generated MTRR set: enabled, fixed ranges on or off, up to 10 variable ranges of sizes 4 KiB to
 * 4 GiB at aligned bases (when aligned_to, none smaller than it), a few with non-contiguous masks. */
static void gen_mtrrs(struct cpu_mtrrs *m, uint64_t *rng, unsigned physbits, uint64_t aligned_to)
{
	memset(m, 0, sizeof(*m));
	m->def_type = MTRR_DEF_E | mtrr_types[test_rng_next(rng) % 5];
	m->fixed_present = test_rng_next(rng) & 1;
	if (m->fixed_present && (test_rng_next(rng) & 1))
		m->def_type |= MTRR_DEF_FE;
	for (unsigned i = 0; i < MTRR_FIXED_COUNT; i++)
		for (unsigned b = 0; b < 8; b++)
			m->fixed[i] |= (uint64_t)mtrr_types[test_rng_next(rng) % 5] << (8 * b);
	m->nvar = (unsigned)(test_rng_next(rng) % 11);
	uint64_t addr = ((1ULL << physbits) - 1) & ~0xFFFULL;
	unsigned min_bits = aligned_to ? (unsigned)__builtin_ctzll(aligned_to) : 12;
	for (unsigned i = 0; i < m->nvar; i++) {
		unsigned bits = min_bits + (unsigned)(test_rng_next(rng) % (32 - min_bits + 1));
		uint64_t size = 1ULL << bits;
		uint64_t base = (test_rng_next(rng) & ((1ULL << SPACE_BITS) - 1)) & ~(size - 1);
		uint64_t mask = addr & ~(size - 1);
		if (!aligned_to && test_rng_next(rng) % 8 == 0)
			mask ^= (1ULL << (12 + test_rng_next(rng) % (SPACE_BITS - 12)));   /* a hole in the mask */
		m->var[2 * i] = base | mtrr_types[test_rng_next(rng) % 5];
		m->var[2 * i + 1] = mask | (test_rng_next(rng) % 6 ? MTRR_VAR_VALID : 0);
	}
}

/* A len-aligned range near a generated set's edges: a range's base or end, or anywhere. */
static uint64_t gen_span(const struct cpu_mtrrs *m, uint64_t *rng, uint64_t len)
{
	uint64_t pa = test_rng_next(rng) & ((1ULL << SPACE_BITS) - 1);
	if (m->nvar && test_rng_next(rng) % 4) {
		unsigned i = (unsigned)(test_rng_next(rng) % m->nvar);
		uint64_t base = m->var[2 * i] & ~0xFFFULL, size = 1ULL << __builtin_ctzll(m->var[2 * i + 1] & ~0xFFFULL);
		static const int64_t off[] = { 0, -1, 1 };
		pa = base + (uint64_t)(off[test_rng_next(rng) % 3] * (int64_t)len) + (test_rng_next(rng) & 1 ? size : 0);
	}
	return pa & ((1ULL << SPACE_BITS) - 1) & ~(len - 1);
}

static void test_generated(void)
{
	static const uint64_t lens[] = { 0x1000, 0x200000, 0x400000 };
	static const unsigned widths[] = { 36, 39, 46, 52 };
	uint64_t rng = 0x6d747272ULL;
	unsigned cases = 0, wrong = 0, said_uniform = 0, split = 0;
	for (unsigned c = 0; c < 3000; c++) {
		unsigned physbits = widths[c % 4];
		struct cpu_mtrrs m;
		gen_mtrrs(&m, &rng, physbits, 0);
		for (unsigned k = 0; k < 8; k++) {
			uint64_t len = lens[k % 3], pa = gen_span(&m, &rng, len);
			bool got = mtrr_span_uniform(&m, pa, len, physbits), model = model_uniform(&m, pa, len, physbits);
			cases++;
			said_uniform += got;
			split += !model;
			if (got && !model && wrong++ < 5)
				printf("# " "set %u: [0x%llx, +0x%llx) called uniform, the model has two types\n", c,
				     (unsigned long long)pa, (unsigned long long)len);
		}
	}
	ok(wrong == 0, "no range called uniform holds two types (%u ranges, %u called uniform, %u split)",
	   cases, said_uniform, split);
	ok(split > cases / 20 && said_uniform > cases / 4, "the generated ranges are of both kinds");
}

static void test_aligned_sets_allow_large_pages(void)
{
	uint64_t rng = 0x616c6967ULL;
	unsigned refused = 0, cases = 0;
	for (unsigned c = 0; c < 3000; c++) {
		unsigned physbits = 36 + c % 17;
		uint64_t len = c & 1 ? 0x200000 : 0x400000;
		struct cpu_mtrrs m;
		gen_mtrrs(&m, &rng, physbits, len);
		for (unsigned k = 0; k < 8; k++) {
			uint64_t pa = gen_span(&m, &rng, len);
			if (pa < 0x100000 && (m.def_type & MTRR_DEF_FE) && m.fixed_present)
				continue;
			cases++;
			if (!mtrr_span_uniform(&m, pa, len, physbits) && refused++ < 5)
				printf("# " "set %u: [0x%llx, +0x%llx) refused though every range is aligned to it\n", c,
				     (unsigned long long)pa, (unsigned long long)len);
		}
	}
	ok(refused == 0 && cases > 20000, "variable ranges aligned to the size never refuse a range (%u cases)", cases);
}

/* mtrr_spans_coarse: when it says no variable range can split a range of the size, every such range
 * from 1 MiB up is uniform (its callers answer those without mtrr_span_uniform); it says so of
 * every set of aligned ranges, and of none with a range smaller than the size. */
static void test_coarse(void)
{
	uint64_t rng = 0x636f6172ULL;
	unsigned wrong = 0, coarse = 0, aligned_fine = 0, cases = 0;
	for (unsigned c = 0; c < 6000; c++) {
		unsigned physbits = 36 + c % 17;
		uint64_t len = c & 2 ? 0x200000 : 0x400000;
		struct cpu_mtrrs m;
		gen_mtrrs(&m, &rng, physbits, c & 1 ? len : 0);
		bool k = mtrr_spans_coarse(&m, len, physbits);
		coarse += k;
		aligned_fine += (c & 1) && !k;
		for (unsigned j = 0; k && j < 8; j++) {
			uint64_t pa = gen_span(&m, &rng, len);
			if (pa < 0x100000)
				continue;
			cases++;
			if (!mtrr_span_uniform(&m, pa, len, physbits) && wrong++ < 5)
				printf("# set %u: coarse, yet [0x%llx, +0x%llx) is refused\n", c, (unsigned long long)pa,
				       (unsigned long long)len);
		}
	}
	ok(wrong == 0 && cases > 10000, "a coarse set refuses no range from 1 MiB up (%u ranges)", cases);
	ok(aligned_fine == 0 && coarse < 6000, "every aligned set is coarse, not every set (%u of 6000)", coarse);
	struct cpu_mtrrs m;
	memset(&m, 0, sizeof(m));
	m.def_type = MTRR_DEF_E | MT_WB;
	m.nvar = 1;
	m.var[0] = 0x100000 | MT_UC;
	m.var[1] = (((1ULL << 39) - 1) & ~0xFFFFFULL) | MTRR_VAR_VALID;
	ok(!mtrr_spans_coarse(&m, 0x200000, 39), "a 1 MiB range: not coarse for 2 MiB");
	ok(mtrr_spans_coarse(&m, 0x100000, 39), "... coarse for 1 MiB");
	m.var[1] &= ~MTRR_VAR_VALID;
	ok(mtrr_spans_coarse(&m, 0x200000, 39), "its valid bit clear: coarse");
	m.var_cut = true;
	ok(!mtrr_spans_coarse(&m, 0x200000, 39), "a copy without all variable ranges: not coarse");
	m.def_type &= ~MTRR_DEF_E;
	ok(mtrr_spans_coarse(&m, 0x200000, 39), "MTRRs off: coarse");
}

static void test_rules(void)
{
	struct cpu_mtrrs m;
	memset(&m, 0, sizeof(m));
	ok(mtrr_span_uniform(&m, 0, 0x200000, 39), "no MTRRs (all zero): uniform");
	m.def_type = MT_WB;   /* E clear */
	m.nvar = 1;
	m.var[0] = 0x100000 | MT_UC;
	m.var[1] = (((1ULL << 39) - 1) & ~0xFFFFFULL) | MTRR_VAR_VALID;
	ok(mtrr_span_uniform(&m, 0, 0x200000, 39), "MTRRs off: uniform whatever the ranges say");
	m.def_type |= MTRR_DEF_E;
	ok(!mtrr_span_uniform(&m, 0, 0x200000, 39), "a 1 MiB UC range inside a 2 MiB span: split");
	ok(mtrr_span_uniform(&m, 0x100000, 0x100000, 39), "the 1 MiB range alone: uniform");
	m.var[1] &= ~MTRR_VAR_VALID;
	ok(mtrr_span_uniform(&m, 0, 0x200000, 39), "the range's valid bit clear: uniform");
	m.fixed_present = true;
	m.def_type |= MTRR_DEF_FE;
	ok(!mtrr_span_uniform(&m, 0, 0x200000, 39), "fixed ranges on: the span at 0 is refused");
	ok(mtrr_span_uniform(&m, 0x200000, 0x200000, 39), "fixed ranges on: the span at 2 MiB is not");
	m.var_cut = true;
	ok(!mtrr_span_uniform(&m, 0x200000, 0x200000, 39), "a copy without all variable ranges: refused");
}

int main(void)
{
	test_rules();
	test_generated();
	test_aligned_sets_allow_large_pages();
	test_coarse();
	return tap_done();
}
