/* Summary-level bitmap (contract in bitset.h). */
#include "bitset.h"
#include "kprintf.h"
#include "kassert.h"

uint64_t bitset_zero_piece[BITSET_PIECE_WORDS];

/* Words needed for n bits. */
static uint64_t bitset_words(uint64_t n) { return (n + 63) / 64; }

/* Level-0 pieces for nbits. */
static uint64_t bitset_npieces(uint64_t nbits)
{
	return (bitset_words(nbits ? nbits : 1) + BITSET_PIECE_WORDS - 1) / BITSET_PIECE_WORDS;
}

/* Lays out a bitset of nbits at meta (s filled when not NULL): the piece directory, level 0
 * unless chunked, the summaries; returns the bytes. */
static size_t bitset_layout(struct bitset *s, uint64_t nbits, void *meta, bool chunked)
{
	uint64_t *w = meta, n = nbits ? nbits : 1, off = bitset_npieces(nbits);
	if (s) {
		*s = (struct bitset){ .nbits = nbits, .piece = (uint64_t **)meta, .chunked = chunked };
	}
	for (unsigned l = 0; l < BITSET_MAX_LEVELS; l++) {
		bool stored = l > 0 || !chunked;
		if (s) {
			s->level[l] = stored ? w + off : NULL;
			s->words[l] = bitset_words(n);
			s->nlevels = l + 1;
		}
		off += stored ? bitset_words(n) : 0;
		if (bitset_words(n) == 1)
			break;
		n = bitset_words(n);
	}
	return off * 8;
}

size_t bitset_meta_bytes(uint64_t nbits) { return bitset_layout(NULL, nbits, NULL, false); }
size_t bitset_meta_bytes_chunked(uint64_t nbits) { return bitset_layout(NULL, nbits, NULL, true); }

/* bitset_init, level 0 flat or in chunks. */
static void bitset_init_common(struct bitset *s, uint64_t nbits, void *meta, bool chunked)
{
	size_t words = bitset_layout(s, nbits, meta, chunked) / 8;
	for (size_t i = 0; i < words; i++)
		((uint64_t *)meta)[i] = 0;
	for (uint64_t k = 0; k < bitset_npieces(nbits); k++)
		s->piece[k] = chunked ? bitset_zero_piece : s->level[0] + k * BITSET_PIECE_WORDS;
	KASSERT(s->words[s->nlevels - 1] == 1, "bitset of %llu bits needs more than %d levels",
		(unsigned long long)nbits, BITSET_MAX_LEVELS);
}

void bitset_init(struct bitset *s, uint64_t nbits, void *meta) { bitset_init_common(s, nbits, meta, false); }
void bitset_init_chunked(struct bitset *s, uint64_t nbits, void *meta) { bitset_init_common(s, nbits, meta, true); }

bool bitset_chunk_present(const struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	return s->piece[i / BITSET_CHUNK_BITS] != bitset_zero_piece;
}

void bitset_chunk_install(struct bitset *s, uint64_t i, void *page)
{
	KASSERT(s->chunked && !bitset_chunk_present(s, i) && page && ((uintptr_t)page & 7) == 0,
		"bitset: installing chunk %p for bit %llu", page, (unsigned long long)i);
	s->piece[i / BITSET_CHUNK_BITS] = page;
	s->chunks++;
}

/*
 * The searches here take ch: the bitset is chunked (its level 0 through the chunk directory), else
 * flat (level 0 read straight). The entry points test s->chunked once and call an always-inlined
 * body with ch a constant, so a flat bitset pays no directory load and a chunked one no test. The
 * inline set, clear and near prev (bitset.h) read level 0 through the directory in both forms.
 */
#define BITSET_HOT static inline __attribute__((always_inline))

/* Word w of level l. */
BITSET_HOT uint64_t *bitset_word_k(const struct bitset *s, unsigned l, uint64_t w, bool ch)
{
	if (l == 0 && ch)
		return &s->piece[w / BITSET_PIECE_WORDS][w % BITSET_PIECE_WORDS];
	return &s->level[l][w];
}

/* Word w of level l, the form read from s (for the cold paths). */
static inline uint64_t *bitset_word(const struct bitset *s, unsigned l, uint64_t w)
{
	return bitset_word_k(s, l, w, s->chunked);
}

/* True when level-0 word w lies in a missing chunk (reads zero, never written). */
static inline bool bitset_missing(const struct bitset *s, uint64_t w)
{
	return s->piece[w / BITSET_PIECE_WORDS] == bitset_zero_piece;
}

bool bitset_test(const struct bitset *s, uint64_t i)
{
	KASSERT(i < s->nbits, "bit %llu out of %llu", (unsigned long long)i, (unsigned long long)s->nbits);
	return (*bitset_word(s, 0, i / 64) >> (i % 64)) & 1;
}

/* Sets bit i of level l (>= 1) and goes on up while the word it set was empty (bitset_set's levels
 * past the first summary). */
void bitset_set_up(struct bitset *s, unsigned l, uint64_t i)
{
	for (; l < s->nlevels; l++, i /= 64) {
		uint64_t *w = &s->level[l][i / 64];
		bool was_empty = *w == 0;
		*w |= 1ULL << (i % 64);
		if (!was_empty)
			break;
	}
}

/* Clears bit i of level l (>= 1) and goes on up while the word it cleared became empty. */
void bitset_clear_up(struct bitset *s, unsigned l, uint64_t i)
{
	for (; l < s->nlevels; l++, i /= 64) {
		uint64_t *w = &s->level[l][i / 64];
		*w &= ~(1ULL << (i % 64));
		if (*w != 0)
			break;
	}
}

/* The highest set bit <= i (i < nbits): level 0's word first, then up the summaries while the
 * word holds none at or below the position (the search going on from the previous word), down
 * them from the first word that does. A missing chunk reads as zero words, and its summary bits
 * are clear. Level 0, the only one behind the chunk directory, is read outside the loops. */
BITSET_HOT uint64_t bitset_prev_k(const struct bitset *s, uint64_t i, bool ch)
{
	uint64_t bits = *bitset_word_k(s, 0, i / 64, ch) & (~0ULL >> (63 - i % 64));
	if (bits)
		return (i & ~63ULL) + 63 - (uint64_t)__builtin_clzll(bits);
	unsigned l = 0;
	do {
		if (i < 64 || ++l == s->nlevels)
			return UINT64_MAX;   /* no earlier word at this level, or none above */
		i = i / 64 - 1;
		bits = s->level[l][i / 64] & (~0ULL >> (63 - i % 64));
	} while (!bits);
	i = (i & ~63ULL) + 63 - (uint64_t)__builtin_clzll(bits);
	while (--l > 0)
		i = i * 64 + 63 - (uint64_t)__builtin_clzll(s->level[l][i]);
	return i * 64 + 63 - (uint64_t)__builtin_clzll(*bitset_word_k(s, 0, i, ch));
}

/* bitset_prev's general case: the whole search, any distance (i past the end: from the last bit). */
uint64_t bitset_prev_far(const struct bitset *s, uint64_t i)
{
	if (s->nbits == 0)
		return UINT64_MAX;
	if (i >= s->nbits)
		i = s->nbits - 1;
	return s->chunked ? bitset_prev_k(s, i, true) : bitset_prev_k(s, i, false);
}

/* The lowest set bit >= i (i < nbits), as bitset_prev_k the other way. */
BITSET_HOT uint64_t bitset_next_k(const struct bitset *s, uint64_t i, bool ch)
{
	uint64_t bits = *bitset_word_k(s, 0, i / 64, ch) & (~0ULL << (i % 64));
	if (bits)
		return (i & ~63ULL) + (uint64_t)__builtin_ctzll(bits);
	unsigned l = 0;
	do {
		if (++l == s->nlevels)
			return UINT64_MAX;
		i = i / 64 + 1;
		if (i / 64 >= s->words[l])
			return UINT64_MAX;
		bits = s->level[l][i / 64] & (~0ULL << (i % 64));
	} while (!bits);
	i = (i & ~63ULL) + (uint64_t)__builtin_ctzll(bits);
	while (--l > 0)
		i = i * 64 + (uint64_t)__builtin_ctzll(s->level[l][i]);
	return i * 64 + (uint64_t)__builtin_ctzll(*bitset_word_k(s, 0, i, ch));
}

uint64_t bitset_next(const struct bitset *s, uint64_t i)
{
	if (i >= s->nbits)
		return UINT64_MAX;
	return s->chunked ? bitset_next_k(s, i, true) : bitset_next_k(s, i, false);
}

uint64_t bitset_popcount(uint64_t x)
{
	/* pairs, nibbles, bytes summed in place; the multiply adds the eight bytes into the top one */
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

uint64_t bitset_count(const struct bitset *s)
{
	uint64_t c = 0;
	for (uint64_t w = 0; w < s->words[0]; w++)
		c += bitset_missing(s, w) ? 0 : bitset_popcount(*bitset_word(s, 0, w));
	return c;
}

int bitset_check(const struct bitset *s)
{
	for (unsigned l = 0; l + 1 < s->nlevels; l++)
		for (uint64_t w = 0; w < s->words[l]; w++) {
			bool up = (s->level[l + 1][w / 64] >> (w % 64)) & 1;
			bool missing = l == 0 && bitset_missing(s, w);
			uint64_t v = missing ? 0 : *bitset_word(s, l, w);
			if (up != (v != 0)) {
				kprintf("bitset_check: level %u word %llu is %s but its summary bit is %d%s\n", l,
					(unsigned long long)w, v ? "non-empty" : "empty", up,
					missing ? " (its chunk is missing)" : "");
				return -1;
			}
			if (missing && w % 64 == 0 && w + 64 <= s->words[l] && s->level[l + 1][w / 64] == 0)
				w += 63;   /* a clear summary word over a missing chunk: nothing to read */
		}
	for (unsigned k = 0; k < BITSET_PIECE_WORDS; k++)
		if (bitset_zero_piece[k]) {
			kprintf("bitset_check: the missing chunks' zero piece was written\n");
			return -1;
		}
	if (s->nbits % 64 && (*bitset_word(s, 0, s->words[0] - 1) >> (s->nbits % 64))) {
		kprintf("bitset_check: bits set past the end\n");
		return -1;
	}
	/* a summary bit past the words of the level below would send a search into a word that is none */
	for (unsigned l = 1; l < s->nlevels; l++)
		if (s->words[l - 1] % 64 && (s->level[l][s->words[l] - 1] >> (s->words[l - 1] % 64))) {
			kprintf("bitset_check: level %u has summary bits past the %llu words of level %u\n", l,
				(unsigned long long)s->words[l - 1], l - 1);
			return -1;
		}
	return 0;
}
