/*
 * The lock order and owners (include/spinlock.h) on the host: a lock taken below a held rank, a
 * lock taken again by its owner, a release by a CPU that does not hold it, the poll while spinning
 * for a lock another CPU holds, an NMI on every instruction of a lock and release (single-stepped),
 * a lock never initialised, a *_locked function called without its lock, and the page-fault path's
 * lookup and report while the region's lock is held. Bug checks are intercepted with a hook (one that
 * jumps back here where going on would deadlock); assertions run in a child process whose abort
 * and message are checked.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tap.h"
#include "kprintf.h"
#include "capture.h"
#include "lock_play.h"
#include "fake_arch.h"
#include "host_machine.h"
#include "syspte_impl.h"
#include "syspte_cache.h"
#include "reserved.h"
#include "bugcheck.h"
#include "testhooks.h"
#include "wdm.h"

#define TAG 0x6b636f4cu   /* 'Lock' */

static jmp_buf back;
static bool jumping;

/* Records the bug check, then, when asked to, jumps back to the test instead of returning. */
static void hook(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
	bugcheck_record_hook(code, p1, p2, p3, p4);
	if (jumping)
		longjmp(back, 1);
}

static bool held_none(void) { return spin_cpus[0].held == 0 && spin_cpus[1].held == 0; }

static void test_order(void)
{
	spinlock_t low = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-low"), high = SPINLOCK_INIT(LOCK_RANK_TEST_HIGH, "test-high");
	uint64_t f1 = spin_lock(&low), f2 = spin_lock(&high);
	ok(bugcheck_last.count == 0 && spin_held(&low) && spin_held(&high), "in order: no report, both held by CPU 0");
	spin_unlock(&high, f2);
	spin_unlock(&low, f1);
	ok(held_none() && !spin_held(&low), "released: no rank held");

	f2 = spin_lock(&high);
	f1 = spin_lock(&low);
	ok(bugcheck_last.count == 1 && bugcheck_last.code == BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION &&
	   bugcheck_last.p[0] == LOCK_BUGCHECK_ORDER && bugcheck_last.p[1] == (uintptr_t)&low &&
	   bugcheck_last.p[2] == LOCK_RANK_TEST_LOW && bugcheck_last.p[3] == 1u << LOCK_RANK_TEST_HIGH,
	   "out of order: 0xC4/0x1001, P2 the lock, P3 its rank, P4 the ranks held");
	ok(spin_held(&low) && spin_held(&high), "intercepted: the lock is taken anyway (one CPU cannot deadlock on it)");
	spin_unlock(&low, f1);
	spin_unlock(&high, f2);
	ok(held_none(), "released: no rank held");
}

static void test_same_rank(void)
{
	spinlock_t a = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "a"), b = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "b");
	uint64_t before = bugcheck_last.count, fa = spin_lock(&a), fb = spin_lock(&b);
	ok(bugcheck_last.count == before + 1 && bugcheck_last.p[0] == LOCK_BUGCHECK_ORDER && bugcheck_last.p[1] == (uintptr_t)&b,
	   "two locks of one rank never nest: 0xC4/0x1001");
	spin_unlock(&b, fb);
	spin_unlock(&a, fa);
}

static void test_reentry(void)
{
	spinlock_t l = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-low");
	uint64_t before = bugcheck_last.count, f = spin_lock(&l);
	jumping = true;
	if (!setjmp(back))
		spin_lock(&l);
	jumping = false;
	ok(bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_SPIN_LOCK_ALREADY_OWNED &&
	   bugcheck_last.p[0] == (uintptr_t)&l && bugcheck_last.p[1] == 0 && bugcheck_last.p[2] == LOCK_RANK_TEST_LOW,
	   "taken again by its owner: 0x0F, P1 the lock, P2 the CPU, P3 its rank");
	ok(spin_held(&l) && fake_irq_enabled == false, "the first hold is intact");
	spin_unlock(&l, f);
	ok(held_none() && fake_irq_enabled, "released, interrupts back on");
}

/* The child of test_reentry_hook_returns: a hook that returns cannot make re-entry go on. */
static void reenter_returning(void *arg)
{
	(void)arg;
	spinlock_t l = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-low");
	bugcheck_set_hook(bugcheck_record_hook);
	spin_lock(&l);
	spin_lock(&l);
}

static void test_owner(void)
{
	spinlock_t l = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-low");
	uint64_t before = bugcheck_last.count, f = spin_lock(&l);
	fake_cpu = 1;
	ok(!spin_held(&l) && spin_may_take(&l), "CPU 1 does not hold CPU 0's lock, and holds no rank itself");
	spin_unlock(&l, f);
	ok(bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_SPIN_LOCK_NOT_OWNED &&
	   bugcheck_last.p[0] == (uintptr_t)&l && bugcheck_last.p[1] == 1 && bugcheck_last.p[2] == 1,
	   "released by CPU 1: 0x10, P2 the CPU, P3 the owner (CPU 0 + 1)");
	fake_cpu = 0;
	ok(spin_held(&l) && spin_cpus[0].held == 1u << LOCK_RANK_TEST_LOW, "nothing released: CPU 0 still holds it");
	ok(!fake_irq_enabled && arch_irq_depth() == 1, "and the interrupt state is the holder's: disabled, one section");
	spin_unlock(&l, f);
	ok(held_none() && bugcheck_last.count == before + 1 && fake_irq_enabled, "its owner releases it, interrupts back on");
	uint64_t g = arch_irq_save();
	spin_unlock(&l, g);
	ok(bugcheck_last.count == before + 2 && bugcheck_last.code == BUGCHECK_SPIN_LOCK_NOT_OWNED && bugcheck_last.p[2] == 0,
	   "released while free: 0x10, P3 0");
	ok(!fake_irq_enabled && arch_irq_depth() == 1, "the caller's interrupt section left open");
	arch_irq_restore(g);
}

static spinlock_t polled = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-polled");
static unsigned polls_seen, polls_irqs_on;

/* Plays CPU 1, which holds polled: answers three polls of the spinning CPU, then releases it. */
static void poll_as_cpu1(void)
{
	polls_irqs_on += arch_irqs_enabled();
	if (++polls_seen == 3)
		__atomic_store_n(&polled.locked, 0, __ATOMIC_RELEASE);
}

/* A CPU spinning for a lock held elsewhere runs the calls posted to it (arch_cpu_poll) in its
 * loop, interrupts disabled, and takes the lock once it is released. A spin that never polls would
 * never end: the alarm kills the test instead. */
static void test_spin_polls(void)
{
	polled.locked = 1;   /* CPU 1 holds it */
	polled.owner = 2;
	fake_cpu_poll_hook = poll_as_cpu1;
	alarm(20);
	uint64_t before = fake_cpu_polls, f = spin_lock(&polled);
	alarm(0);
	fake_cpu_poll_hook = NULL;
	ok(polls_seen == 3 && fake_cpu_polls == before + 3, "spinning, the CPU polled until the holder released");
	is(polls_irqs_on, 0, "each poll with interrupts disabled");
	ok(spin_held(&polled) && !fake_irq_enabled, "then took the lock");
	spin_unlock(&polled, f);
	uint64_t g = spin_lock(&polled);
	ok(fake_cpu_polls == before + 3, "a free lock is taken without polling");
	spin_unlock(&polled, g);
	ok(held_none() && fake_irq_enabled, "released");
}

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)   /* test_nmi_window single-steps */
/* The lock an NMI finds this CPU taking or releasing (test_nmi_window), and what the NMIs saw. */
static spinlock_t nmi_lock = SPINLOCK_INIT(LOCK_RANK_TEST_LOW, "test-nmi");
static volatile uint64_t nmi_landed, nmi_inside, nmi_would_spin;

/* The handler of an NMI (on the host a single-step trap, after every instruction) on CPU 0, as the
 * kernel's console_write decides: with the lock's word set by this CPU (no other CPU takes
 * nmi_lock), spin_may_take must say no, or the handler would spin for ever on its own CPU's lock
 * with NMIs blocked. */
static void nmi_on_cpu0(int sig)
{
	(void)sig;
	nmi_landed++;
	if (!__atomic_load_n(&nmi_lock.locked, __ATOMIC_RELAXED))
		return;
	nmi_inside++;
	if (spin_may_take(&nmi_lock))
		nmi_would_spin++;
}

#define X86_RFLAGS_TF 0x100   /* trap flag: a debug trap (SIGTRAP) after each instruction */

/*
 * An NMI (or #MC) may land on any instruction of spin_lock and spin_unlock, and its handler prints
 * (console_write), which writes without the console's lock when this CPU holds it (spin_may_take
 * false) rather than spin for ever on it. So from the exchange that takes the lock to the store that
 * frees it, the lock's rank must be among this CPU's held ones: a rank recorded only after the
 * exchange, or given up before the store, leaves instructions where the handler would spin on the
 * lock its own CPU holds (the kernel hangs, NMIs blocked). The host single-steps one lock and
 * release, the handler standing in for an NMI after every instruction (skipped under
 * ThreadSanitizer, whose runtime is not stepped through).
 */
static void test_nmi_window(void)
{
	struct sigaction sa = { .sa_handler = nmi_on_cpu0 }, old;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTRAP, &sa, &old);
	__builtin_ia32_writeeflags_u64(__builtin_ia32_readeflags_u64() | X86_RFLAGS_TF);
	uint64_t f = spin_lock(&nmi_lock);
	spin_unlock(&nmi_lock, f);
	__builtin_ia32_writeeflags_u64(__builtin_ia32_readeflags_u64() & ~(uint64_t)X86_RFLAGS_TF);
	sigaction(SIGTRAP, &old, NULL);
	ok(nmi_inside > 0, "an NMI after each of %llu instructions, %llu of them with the lock's word set",
	   (unsigned long long)nmi_landed, (unsigned long long)nmi_inside);
	is(nmi_would_spin, 0, "none found the lock taken by its own CPU while spin_may_take said yes");
	ok(held_none() && fake_irq_enabled, "released");
}
#else
static void test_nmi_window(void) { ok(1, "# skip: single-stepping needs x86-64 outside ThreadSanitizer"); }
#endif

static void lock_zeroed(void *arg)
{
	(void)arg;
	spinlock_t l = { 0 };
	spin_lock(&l);
}

/* Calls a *_locked function of the region without its lock. */
static void find_unlocked(void *arg)
{
	syspte_find_start_locked(arg, 0);
}

/* Calls it as CPU 1 while CPU 0 holds the lock. */
static void find_other_cpu(void *arg)
{
	struct syspte_region *r = arg;
	spin_lock(&r->lock);
	fake_cpu = 1;
	syspte_find_start_locked(r, 0);
}

static void test_asserts(struct syspte_region *r)
{
	ok(tap_aborts_with(reenter_returning, NULL, "took its own test-low lock again"),
	   "re-entry whose bug check a hook returned from: a panic, not a hang");
	ok(tap_aborts_with(lock_zeroed, NULL, "taken before spin_init"), "a lock never initialised: a panic");
	ok(tap_aborts_with(find_unlocked, r, "syspte lock"), "a _locked function without its lock: a panic naming it");
	ok(tap_aborts_with(find_other_cpu, r, "not held by CPU 1"), "a _locked function on a CPU that does not hold it: a panic");
}

/* The lines syspte_describe prints for va, captured into out; returns the widest line's columns. */
static size_t describe_into(struct syspte_region *r, vaddr_t va, char *out, size_t cap)
{
	capture_begin();
	syspte_describe(r, va);
	capture_end(out, cap);
	size_t widest = 0;
	for (const char *line = out; *line;) {
		size_t n = strcspn(line, "\n");
		widest = n > widest ? n : widest;
		line += n + (line[n] == '\n');
	}
	return widest;
}

/* The page-fault path's calls while the region's lock is held: no lock taken, nothing read. */
static void test_fault_path(struct syspte_region *r)
{
	vaddr_t va = syspte_reserve(r, 4, TAG, 0);
	ok(va && syspte_reservation_base(r, va + 2 * PAGE_SIZE) == va, "unlocked: the reservation's base");
	uint64_t f = spin_lock(&r->lock), before = bugcheck_last.count;
	ok(!spin_may_take(&r->lock) && syspte_reservation_base(r, va + 2 * PAGE_SIZE) == 0,
	   "region lock held by this CPU: base 0, returned without waiting");
	static char said[1024];
	size_t widest = describe_into(r, va, said, sizeof(said));
	ok(bugcheck_last.count == before && strstr(said, "so the region is not read\n") && widest <= KPRINTF_SCREEN_COLS,
	   "syspte_describe says the region is not read, in lines of at most %d columns (%zu), no lock report",
	   KPRINTF_SCREEN_COLS, widest);
	spin_unlock(&r->lock, f);
	spinlock_t phys_ranked = SPINLOCK_INIT(LOCK_RANK_PHYS, "test-phys");
	f = spin_lock(&phys_ranked);
	ok(syspte_reservation_base(r, va) == 0 && bugcheck_last.count == before,
	   "a lock ranked after the region's held: base 0, no out-of-order acquisition");
	spin_unlock(&phys_ranked, f);
	syspte_release(r, va, TAG);
	ok(held_none() && syspte_check(r) == 0, "region intact");
}

/* The lock of the cache owning va's chunk, or NULL when no cache owns it (or va is 0). */
static spinlock_t *owning_cache_lock(struct syspte_region *r, vaddr_t va)
{
	unsigned o = va ? syspte_cache_owner_page(r, (va - r->base) >> PAGE_SHIFT) : 0;
	return o ? (spinlock_t *)syspte_cache_lock(r, o - 1) : NULL;
}

/*
 * A fatal report's syspte_describe while another CPU holds a lock its lookup takes and never lets
 * it go (that CPU stopped for a fatal error of its own): the region's lock, then the lock of the
 * cache owning the page's chunk, each held as CPU 5 for every page of a reservation and the pages
 * around it. Each time the report names the holder and reads nothing, after syspte_describe_polls
 * polls; once the lock is let go, the page is described as usual.
 */
static void test_describe_lock_never_freed(struct syspte_region *r)
{
	static char said[1024];
	uint32_t polls = syspte_describe_polls;
	syspte_describe_polls = 64;
	vaddr_t va = syspte_reserve(r, 3, TAG, 0);
	spinlock_t *locks[2] = { &r->lock, owning_cache_lock(r, va) };
	unsigned named = 0, read = 0, cases = 0, wide = 0;
	for (unsigned k = 0; k < 2; k++) {
		if (!locks[k])
			continue;
		for (vaddr_t v = va - PAGE_SIZE; v < va + 4 * PAGE_SIZE; v += PAGE_SIZE / 2) {
			if (!syspte_in_region(r, v))
				continue;
			lock_play_hold(locks[k], 5);
			wide += describe_into(r, v, said, sizeof(said)) > KPRINTF_SCREEN_COLS;
			named += strstr(said, "but CPU 5 holds its lock\n") && strstr(said, "the region is not read\n") &&
				 !strstr(said, "reservation");
			lock_play_release(locks[k]);
			wide += describe_into(r, v, said, sizeof(said)) > KPRINTF_SCREEN_COLS;
			read += strstr(said, "holds its lock") == NULL && strstr(said, "*** 0x") != NULL;
			cases++;
		}
	}
	syspte_describe_polls = polls;
	ok(va && locks[1] && cases >= 16 && named == cases && read == cases && wide == 0,
	   "syspte_describe with the region's or the owning cache's lock never let go: the holder named, nothing "
	   "read (%u of %u), then described once free (%u); lines within %d columns", named, cases, read,
	   KPRINTF_SCREEN_COLS);
	ok(va && syspte_release(r, va, TAG) == SYSPTE_OK && held_none() && syspte_check(r) == 0, "region intact");
}

/* Plays a CPU that holds a lock for a while, then lets it go. */
struct late_release {
	spinlock_t *l;
	unsigned usec;
};

static void *release_later(void *arg)
{
	struct late_release *lr = arg;
	usleep(lr->usec);
	lock_play_release(lr->l);
	return NULL;
}

/*
 * syspte_describe's bounded wait against the locks of two CPUs' caches, over every page of the two
 * chunks they own and the page around each: a cache's lock held for good (as CPU 5) is named when it
 * owns the page's chunk, and never stops the description of a page whose chunk, and the chunk of
 * the page before, it does not own (the lookup does not need it: the page is read). A lock held
 * with its owner not yet recorded is "stays held". A lock let go within the polls (by another
 * thread, after 1 to 3 ms) is waited for and the page described. The alarm ends a lookup that
 * spins for a lock nobody lets go.
 */
static void test_describe_lock_neighbours(struct syspte_region *r)
{
	static char said[1024];
	uint32_t polls = syspte_describe_polls;
	syspte_describe_polls = 64;
	vaddr_t va[2];
	unsigned own[2];
	for (unsigned c = 0; c < 2; c++) {   /* one reservation by CPU 0's cache, one by CPU 1's */
		fake_cpu_set(c);
		va[c] = syspte_reserve(r, 1 + c, TAG, 0);
		own[c] = va[c] ? syspte_cache_owner_page(r, (va[c] - r->base) >> PAGE_SHIFT) : 0;
	}
	fake_cpu_set(0);
	bool two = va[0] && va[1] && own[0] == 1 && own[1] == 2;
	unsigned needed = 0, named = 0, free_cases = 0, read = 0, wide = 0;
	alarm(60);
	for (unsigned c = 0; two && c < 2; c++) {
		uint64_t chunk = ((va[c] - r->base) >> PAGE_SHIFT) >> SYSPTE_CHUNK_SHIFT;
		uint64_t first = chunk << SYSPTE_CHUNK_SHIFT, last = first + SYSPTE_CHUNK_PAGES;   /* one past */
		for (uint64_t p = first ? first - 1 : 0; p <= last; p++) {
			vaddr_t v = r->base + (p << PAGE_SHIFT) + (p % 3) * (PAGE_SIZE / 3);
			if (!syspte_in_region(r, v))
				continue;
			unsigned op = syspte_cache_owner_page(r, p), ob = p ? syspte_cache_owner_page(r, p - 1) : 0;
			for (unsigned k = 0; k < 2; k++) {
				spinlock_t *l = (spinlock_t *)syspte_cache_lock(r, k);
				lock_play_hold(l, 5);
				wide += describe_into(r, v, said, sizeof(said)) > KPRINTF_SCREEN_COLS;
				lock_play_release(l);
				bool held_named = strstr(said, "but CPU 5 holds its lock\n") && strstr(said, "the region is not read\n");
				if (op == k + 1)
					needed++, named += held_named;
				else if (ob != k + 1)
					free_cases++, read += !held_named && strstr(said, "*** 0x") != NULL;
			}
		}
	}
	alarm(0);
	ok(two && needed >= 2 * SYSPTE_CHUNK_PAGES && named == needed && free_cases >= 2 * SYSPTE_CHUNK_PAGES &&
	   read == free_cases && wide == 0,
	   "two CPUs' caches: the owning cache's lock held for good is named (%u of %u pages), another cache's "
	   "lock never stops the description (%u of %u read); lines within %d columns",
	   named, needed, read, free_cases, KPRINTF_SCREEN_COLS);

	lock_play_hold(&r->lock, 5);
	r->lock.owner = 0;   /* taken, its owner not yet written */
	describe_into(r, va[0], said, sizeof(said));
	lock_play_release(&r->lock);
	ok(strstr(said, "but its lock stays held\n") && strstr(said, "the region is not read\n") && !strstr(said, "CPU"),
	   "a lock held with no owner recorded: \"its lock stays held\", nothing read");

	syspte_describe_polls = polls;
	unsigned waited = 0, runs = 4;
	alarm(60);
	for (unsigned i = 0; two && i < runs; i++) {   /* the region's lock, then each cache's */
		spinlock_t *l = i % 3 == 0 ? &r->lock : (spinlock_t *)syspte_cache_lock(r, i % 2);
		vaddr_t v = va[i % 2];
		lock_play_hold(l, 5);
		struct late_release lr = { l, 1000 + (unsigned)(i * 700) % 2000 };
		pthread_t t;
		bool started = pthread_create(&t, NULL, release_later, &lr) == 0;
		describe_into(r, v, said, sizeof(said));
		if (started)
			pthread_join(t, NULL);
		else
			lock_play_release(l);
		waited += started && !strstr(said, "holds its lock") && strstr(said, "is page 0 of reservation base") != NULL;
	}
	alarm(0);
	ok(two && waited == runs, "a lock let go within the polls is waited for: the page described (%u of %u)", waited, runs);
	for (unsigned c = 0; c < 2; c++) {
		fake_cpu_set(c);
		if (va[c])
			syspte_release(r, va[c], TAG);
	}
	fake_cpu_set(0);
	ok(held_none() && syspte_check(r) == 0, "region intact");
}

static spinlock_t *answer_lock;
static unsigned answer_polls;

/* Plays CPU 5 in a cached unmap: it holds its cache's lock while its TLB shootdown waits for this
 * CPU's answer, which this CPU gives in arch_cpu_poll (include/spinlock.h: a spinner answers the
 * shootdown); answered, it lets the lock go. */
static void answer_shootdown(void)
{
	if (++answer_polls == 1 && answer_lock)
		lock_play_release(answer_lock);
}

/*
 * syspte_describe's bounded wait answers TLB shootdowns: a cache's lock is held through a cached
 * unmap's shootdown (mm/syspte_map.c: a spinner on that lock answers it, so the round cannot
 * deadlock); the holder waits for the describing CPU's answer, so a wait that only polled the lock
 * would name a live CPU as one that "does not let it go" and describe nothing.
 */
static void test_describe_answers_shootdown(struct syspte_region *r)
{
	static char said[1024];
	uint32_t polls = syspte_describe_polls;
	syspte_describe_polls = 64;
	vaddr_t va = syspte_reserve(r, 2, TAG, 0);
	spinlock_t *cache_lock = owning_cache_lock(r, va);
	unsigned described = 0, cases = 0;
	for (unsigned k = 0; cache_lock && k < 2; k++) {   /* the owning cache's lock, then the region's */
		answer_lock = k ? &r->lock : cache_lock;
		answer_polls = 0;
		lock_play_hold(answer_lock, 5);
		fake_cpu_poll_hook = answer_shootdown;
		alarm(20);
		describe_into(r, va + k * PAGE_SIZE, said, sizeof(said));
		alarm(0);
		fake_cpu_poll_hook = NULL;
		if (answer_polls == 0)
			lock_play_release(answer_lock);
		described += strstr(said, "holds its lock") == NULL && strstr(said, "of reservation base") != NULL;
		cases++;
	}
	syspte_describe_polls = polls;
	ok(cases == 2 && described == cases,
	   "a lock whose holder waits for this CPU's shootdown answer: answered while waiting, the page described "
	   "(%u of %u)", described, cases);
	ok(va && syspte_release(r, va, TAG) == SYSPTE_OK && held_none() && syspte_check(r) == 0, "region intact");
}

/* A region call under a lock that ranks after the region's: the order report, then the call works. */
static void test_region_order(struct syspte_region *r)
{
	spinlock_t phys_ranked = SPINLOCK_INIT(LOCK_RANK_PHYS, "test-phys");
	uint64_t f = spin_lock(&phys_ranked), before = bugcheck_last.count;
	vaddr_t va = syspte_reserve(r, 2, TAG, 0);
	ok(bugcheck_last.count > before && bugcheck_last.code == BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION &&
	   bugcheck_last.p[1] != (uintptr_t)&phys_ranked,
	   "syspte_reserve under a PHYS-ranked lock: 0xC4/0x1001 on the region's (or the allocator's) lock");
	spin_unlock(&phys_ranked, f);
	ok(va && syspte_release(r, va, TAG) == SYSPTE_OK && syspte_check(r) == 0 && held_none(),
	   "intercepted, the call went on and left the region consistent");

	before = bugcheck_last.count;
	f = spin_lock(&r->lock);
	jumping = true;
	if (!setjmp(back))
		syspte_reserve(r, 2, TAG, 0);
	jumping = false;
	ok(bugcheck_last.count == before + 1 && bugcheck_last.code == BUGCHECK_SPIN_LOCK_ALREADY_OWNED &&
	   bugcheck_last.p[0] == (uintptr_t)&r->lock, "a region call under the region's own lock: 0x0F naming it");
	spin_unlock(&r->lock, f);
	ok(syspte_check(r) == 0 && held_none(), "region untouched");
}

int main(void)
{
	if (host_machine_create(64ULL << 20, 8ULL << 20))
		return 1;
	struct syspte_region *r = reserved_region();
	bugcheck_set_hook(hook);
	test_order();
	test_same_rank();
	test_reentry();
	test_owner();
	test_spin_polls();
	test_nmi_window();
	test_asserts(r);
	test_fault_path(r);
	test_describe_lock_never_freed(r);
	test_describe_lock_neighbours(r);
	test_describe_answers_shootdown(r);
	test_region_order(r);
	bugcheck_set_hook(NULL);
	host_machine_destroy();
	return tap_done();
}
