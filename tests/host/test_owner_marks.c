/*
 * Host tests of phys_check's owner census (mm/phys.c): it counts only the owner words marked
 * non-zero, and reads the unmarked ones 2 GiB of frames per call in turn, so that its cost follows
 * what is handed out, not the size of RAM (the boot suite runs it after every test). Each case
 * writes what a stray store would into the owner map, on a map of live allocations of every owner:
 *  - a small machine (under 2 GiB): a field set in an unmarked word, a marked word cleared, a
 *    marked word's owner changed: the first phys_check fails, naming the word's frames (or the
 *    counts), and passes again once restored;
 *  - a 20 GiB machine (ten sweeps' worth of words): a field set in an unmarked word is found by
 *    phys_check_full at once and by phys_check within ten calls, some of the cases needing more
 *    than one (the sweep is bounded); a marked word cleared or changed is found at once;
 * and generated allocations and frees keep the marks exact (every check passes between them).
 * The allocator's own bitmap words that must be zero are read in the same bounded window
 * (buddy_check_window): a stray end bit or an unsummarised start bit is found as a stray owner
 * field is, at once under 2 GiB and within ten calls at 20 GiB.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "machine.h"
#include "fake_arch.h"
#include "phys.h"
#include "testhooks.h"
#include "test_rng.h"
#include "capture.h"
#include "buddy_impl.h"

#define PER_WORD 32u                           /* frames an owner word holds */
#define SWEEP_FRAMES ((2ULL << 30) >> 12)      /* what one phys_check's sweep covers */
#define LIVE 400

static struct machine_map map;
static uint64_t rng = 0x5EEDB1750FULL;
static paddr_t live_pa[LIVE];
static uint64_t live_n[LIVE];

static uint64_t below(uint64_t n) { return n ? test_rng_next(&rng) % n : 0; }

/* A machine of one usable range [1 MiB, frames): phys_init's result. */
static int machine(uint64_t frames)
{
	machine_map_init(&map, 48);
	machine_map_add(&map, EFI_CONVENTIONAL, 1ULL << 20, frames - 256, 0);
	return phys_init(map.buf, machine_map_size(&map), map.desc_size);
}

/* Replaces live allocation k: frees the old one (when any), allocates 1..64 frames of a random owner
 * (some of them 2 MiB aligned, some high in RAM); true when granted. */
static bool churn(unsigned k, uint64_t frames)
{
	if (live_n[k])
		phys_free(live_pa[k], live_n[k]);
	live_n[k] = 0;
	uint64_t n = 1 + below(below(2) ? 64 : 3);
	paddr_t lo = below(2) ? below(frames) << 12 : 0;
	live_pa[k] = phys_alloc_owned(n, below(4) ? 1 : 512, lo, UINT64_MAX, (enum phys_owner)below(PHYS_OWNER_NONE));
	if (live_pa[k])
		live_n[k] = n;
	return live_pa[k] != 0;
}

/* A word of the map holding no owner and one holding some, at random; false when none found. */
static bool pick(uint64_t frames, uint64_t *zero, uint64_t *used)
{
	*zero = *used = UINT64_MAX;
	for (int t = 0; t < 100000 && *zero == UINT64_MAX; t++) {
		uint64_t f = below(frames);
		if (*phys_owner_word(f) == 0)
			*zero = f;
	}
	unsigned k = (unsigned)below(LIVE);
	for (unsigned t = 0; t < LIVE && *used == UINT64_MAX; t++, k = (k + 1) % LIVE)
		if (live_n[k] && *phys_owner_word(live_pa[k] >> 12))
			*used = live_pa[k] >> 12;
	return *zero != UINT64_MAX && *used != UINT64_MAX;
}

static char out[4096];

/* Runs phys_check (phys_check_full when full) until one fails, at most max calls, its message
 * captured: the number of calls, or 0 when none failed or the message does not contain want. */
static unsigned checks_to_find(unsigned max, bool full, const char *want)
{
	unsigned c = 0;
	bool failed = false;
	capture_begin();
	while (!failed && c < max) {
		c++;
		failed = (full ? phys_check_full() : phys_check()) != 0;
	}
	capture_end(out, sizeof out);
	return failed && strstr(out, want) ? c : 0;
}

/* What phys_check says of the owner word holding frame f. */
static const char *word_named(uint64_t f, const char *what)
{
	static char buf[160];
	uint64_t first = f / PER_WORD * PER_WORD;
	snprintf(buf, sizeof buf, "frames 0x%llx..0x%llx is %s", (unsigned long long)first,
		 (unsigned long long)(first + PER_WORD - 1), what);
	return buf;
}

/* A frame whose allocator bits a stray store could set unseen by the extents: an end bit where none
 * is and no extent starts (end_kind), or a start bit in a start word that is zero; its level-0
 * word in *w and the bit in *bit. False when none found. */
static bool pick_bit(uint64_t frames, bool end_kind, uint64_t **w, uint64_t *bit)
{
	struct buddy *b = phys_buddy_hook();
	for (int t = 0; t < 100000; t++) {
		uint64_t f = below(frames);
		uint64_t *sw = buddy_bm_word0(&b->start, f >> 6), *ew = buddy_bm_word0(&b->end, f >> 6);
		*bit = 1ULL << (f & 63);
		*w = end_kind ? ew : sw;
		if (end_kind ? !(*ew & *bit) && !(*sw & *bit) : *sw == 0)
			return true;
	}
	return false;
}

/* cases corruptions of each kind on a machine of frames frames; sweeps = the calls a full sweep
 * takes there. */
static void run(const char *name, uint64_t frames, unsigned cases)
{
	unsigned sweeps = (unsigned)((frames + SWEEP_FRAMES - 1) / SWEEP_FRAMES);
	is(machine(frames), 0, "%s: phys_init", name);
	for (unsigned k = 0; k < LIVE; k++)
		live_n[k] = 0;
	unsigned granted = 0, churn_bad = 0;
	for (unsigned k = 0; k < LIVE; k++)
		granted += churn(k, frames);
	unsigned stray_late = 0, stray_later = 0, stray_missed = 0, full_missed = 0, cleared_missed = 0,
		 changed_missed = 0, restored_bad = 0, none = 0, bit_missed = 0, bit_later = 0;
	for (unsigned c = 0; c < cases; c++) {
		for (unsigned s = 0; s < 8; s++)
			churn((unsigned)below(LIVE), frames);
		if (phys_check_full() != 0)
			churn_bad++;
		uint64_t zero, used;
		if (!pick(frames, &zero, &used)) {
			none++;
			continue;
		}
		/* an owner field set in an unmarked word */
		uint64_t *w = phys_owner_word(zero), keep = *w;
		*w = (1 + below(3)) << (2 * below(PER_WORD));
		unsigned at = checks_to_find(sweeps, false, word_named(zero, "not marked but holds owners"));
		stray_missed += at == 0;
		stray_late += at > 1;
		stray_later += at > 1 && at <= sweeps;
		full_missed += checks_to_find(1, true, word_named(zero, "not marked but holds owners")) != 1;
		*w = keep;
		restored_bad += phys_check_full() != 0;
		/* a marked word cleared; then its first owner field changed to another owner */
		w = phys_owner_word(used);
		keep = *w;
		*w = 0;
		cleared_missed += checks_to_find(1, false, word_named(used, "marked as holding owners but zero")) != 1;
		unsigned f = (unsigned)((used % PER_WORD) * 2);
		uint64_t was = keep >> f & 3, now = 1 + (was + below(2)) % 3;
		*w = (keep & ~(3ULL << f)) | now << f;
		changed_missed += checks_to_find(1, false, "phys_check: owner map holds") != 1;
		*w = keep;
		restored_bad += phys_check() != 0;
		/* a stray bit in the allocator's bitmaps: an end bit no extent ends on, a start bit no
		 * summary names; found in the window that holds it, as the owner fields are */
		uint64_t bit;
		bool end_kind = c & 1;
		if (!pick_bit(frames, end_kind, &w, &bit)) {
			none++;
			continue;
		}
		*w |= bit;
		const char *want = end_kind ? "end bits in units" : "summary bit";
		at = checks_to_find(sweeps, false, want);
		bit_missed += at == 0;
		bit_later += at > 1 && at <= sweeps;
		full_missed += checks_to_find(1, true, want) != 1;
		*w &= ~bit;
		restored_bad += phys_check_full() != 0;
	}
	ok(granted > LIVE / 2 && churn_bad == 0, "%s: %u of %u allocations of every owner granted, then %u rounds of "
	   "churn: every full check passes (%u failed)", name, granted, LIVE, cases, churn_bad);
	ok(none == 0, "%s: every case found a word with no owner and one with some (%u did not)", name, none);
	ok(stray_missed == 0 && full_missed == 0, "%s: an owner field in an unmarked word: found within %u checks "
	   "(missed %u) and by phys_check_full (missed %u)", name, sweeps, stray_missed, full_missed);
	if (sweeps == 1)
		ok(stray_late == 0, "%s, under 2 GiB: every stray field found by the first check (%u later)", name,
		   stray_late);
	else
		ok(stray_later > 0 && stray_later < cases, "%s, %u sweeps: a stray field is found by the check whose "
		   "2 GiB window holds it, not always the first (%u of %u later)", name, sweeps, stray_later, cases);
	ok(bit_missed == 0 && (sweeps == 1 ? bit_later == 0 : bit_later > 0 && bit_later < cases),
	   "%s: a stray bit in the allocator's bitmaps: found within %u checks (missed %u), %u of %u by a later check "
	   "than the first", name, sweeps, bit_missed, bit_later, cases);
	ok(cleared_missed == 0 && changed_missed == 0, "%s: a marked word cleared (missed %u) or given another owner "
	   "(missed %u): the first check fails", name, cleared_missed, changed_missed);
	is(restored_bad, 0, "%s: every check passes once the word is restored", name);
	for (unsigned k = 0; k < LIVE; k++)
		if (live_n[k])
			phys_free(live_pa[k], live_n[k]);
	struct phys_stats s;
	phys_get_stats(&s);
	ok(s.mdl_pages == 0 && s.pool_slab_pages == 0 && s.pool_large_pages == 0 && phys_check_full() == 0,
	   "%s: everything freed: no owner left and the full check passes", name);
	phys_reset();
}

int main(void)
{
	fake_arch_init();
	run("1.5 GiB", (3ULL << 29) >> 12, 60);
	run("20 GiB", (20ULL << 30) >> 12, 40);
	return tap_done();
}
