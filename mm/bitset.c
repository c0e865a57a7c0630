/* Summary-level bitmap (contract in bitset.h). */
#include "bitset.h"
#include "kprintf.h"
#include "kassert.h"

/* Words needed for n bits. */
static uint64_t bitset_words(uint64_t n) { return (n + 63) / 64; }

size_t bitset_meta_bytes(uint64_t nbits)
{
	size_t total = 0;
	uint64_t n = nbits ? nbits : 1;
	for (unsigned l = 0; l < BITSET_MAX_LEVELS; l++) {
		total += bitset_words(n) * 8;
		if (bitset_words(n) == 1)
			break;
		n = bitset_words(n);
	}
	return total;
}

void bitset_init(struct bitset *s, uint64_t nbits, void *meta)
{
	uint64_t *w = meta;
	uint64_t n = nbits ? nbits : 1;
	*s = (struct bitset){ .nbits = nbits };
	for (unsigned l = 0; l < BITSET_MAX_LEVELS; l++) {
		s->level[l] = w;
		s->words[l] = bitset_words(n);
		for (uint64_t i = 0; i < s->words[l]; i++)
			w[i] = 0;
		w += s->words[l];
		s->nlevels = l + 1;
		if (s->words[l] == 1)
			break;
		n = s->words[l];
	}
	KASSERT(s->words[s->nlevels - 1] == 1, "bitset of %llu bits needs more than %d levels",
		(unsigned long long)nbits, BITSET_MAX_LEVELS);
}

bool bitset_test(const struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	return (s->level[0][i / 64] >> (i % 64)) & 1;
}

void bitset_set(struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	for (unsigned l = 0; l < s->nlevels; l++, i /= 64) {
		bool was_empty = s->level[l][i / 64] == 0;
		s->level[l][i / 64] |= 1ULL << (i % 64);
		if (!was_empty)
			break;
	}
}

void bitset_clear(struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	for (unsigned l = 0; l < s->nlevels; l++, i /= 64) {
		s->level[l][i / 64] &= ~(1ULL << (i % 64));
		if (s->level[l][i / 64] != 0)
			break;
	}
}

/* Highest set bit <= i in level l, using the levels above to skip empty words. */
static uint64_t bitset_prev_at(const struct bitset *s, unsigned l, uint64_t i)
{
	uint64_t w = i / 64;
	uint64_t mask = (i % 64 == 63) ? ~0ULL : ((1ULL << (i % 64 + 1)) - 1);
	uint64_t bits = s->level[l][w] & mask;
	if (bits)
		return w * 64 + 63 - (uint64_t)__builtin_clzll(bits);
	if (w == 0 || l + 1 >= s->nlevels)
		goto scan;
	{
		uint64_t pw = bitset_prev_at(s, l + 1, w - 1);   /* previous non-empty word */
		if (pw == UINT64_MAX)
			return UINT64_MAX;
		return pw * 64 + 63 - (uint64_t)__builtin_clzll(s->level[l][pw]);
	}
scan:
	while (w-- > 0)
		if (s->level[l][w])
			return w * 64 + 63 - (uint64_t)__builtin_clzll(s->level[l][w]);
	return UINT64_MAX;
}

uint64_t bitset_prev(const struct bitset *s, uint64_t i)
{
	if (s->nbits == 0)
		return UINT64_MAX;
	if (i >= s->nbits)
		i = s->nbits - 1;
	return bitset_prev_at(s, 0, i);
}

/* Lowest set bit >= i in level l, using the levels above to skip empty words. */
static uint64_t bitset_next_at(const struct bitset *s, unsigned l, uint64_t i)
{
	uint64_t w = i / 64;
	if (w >= s->words[l])
		return UINT64_MAX;
	uint64_t bits = s->level[l][w] & (~0ULL << (i % 64));
	if (bits)
		return w * 64 + (uint64_t)__builtin_ctzll(bits);
	if (l + 1 < s->nlevels) {
		uint64_t nw = w + 1 < s->words[l] ? bitset_next_at(s, l + 1, w + 1) : UINT64_MAX;   /* next non-empty word */
		return nw == UINT64_MAX ? UINT64_MAX : nw * 64 + (uint64_t)__builtin_ctzll(s->level[l][nw]);
	}
	while (++w < s->words[l])
		if (s->level[l][w])
			return w * 64 + (uint64_t)__builtin_ctzll(s->level[l][w]);
	return UINT64_MAX;
}

uint64_t bitset_next(const struct bitset *s, uint64_t i)
{
	return i < s->nbits ? bitset_next_at(s, 0, i) : UINT64_MAX;
}

/* Set bits in one word (the kernel links no libgcc, so no __builtin_popcount). */
static uint64_t bitset_popcount(uint64_t x)
{
	uint64_t c = 0;
	for (; x; x &= x - 1)
		c++;
	return c;
}

uint64_t bitset_count(const struct bitset *s)
{
	uint64_t c = 0;
	for (uint64_t w = 0; w < s->words[0]; w++)
		c += bitset_popcount(s->level[0][w]);
	return c;
}

int bitset_check(const struct bitset *s)
{
	for (unsigned l = 0; l + 1 < s->nlevels; l++)
		for (uint64_t w = 0; w < s->words[l]; w++) {
			bool up = (s->level[l + 1][w / 64] >> (w % 64)) & 1;
			if (up != (s->level[l][w] != 0)) {
				kprintf("bitset_check: level %u word %llu is %s but its summary bit is %d\n", l,
					(unsigned long long)w, s->level[l][w] ? "non-empty" : "empty", up);
				return -1;
			}
		}
	if (s->nbits % 64 && (s->level[0][s->words[0] - 1] >> (s->nbits % 64))) {
		kprintf("bitset_check: bits set past the end\n");
		return -1;
	}
	return 0;
}
