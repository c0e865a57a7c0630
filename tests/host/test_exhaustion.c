/* Host tests: physical memory and the pool taken to exhaustion and back (tests/common/exhaust.c). */
#include "tap.h"
#include "host_machine.h"
#include "exhaust.h"
#include "../common/exhaust.c"

int main(void)
{
	struct exhaust_result r;
	is(host_machine_create(48ULL << 20, 16ULL << 20), 0, "machine: 48 MiB of RAM");
	exhaust_physical_mdl(8ULL << 20, &r);
	ok(r.items > 0 && r.pages > r.free_before / 2, "MDLs took most of memory (%llu pages in %llu MDLs)",
	   (unsigned long long)r.pages, (unsigned long long)r.items);
	ok(r.free_at_end < 64, "memory really ran out (%llu pages left)", (unsigned long long)r.free_at_end);
	ok(r.nulls_clean, "refusals were clean NULLs");
	ok(r.census_same, "free census identical after freeing everything");
	ok(r.checks_pass, "checks pass");
	exhaust_pool(&r);
	ok(r.items > 0 && r.free_at_end < 16, "pool took memory until none was left (%llu blocks)", (unsigned long long)r.items);
	ok(r.nulls_clean, "refusals were clean NULLs");
	ok(r.census_same, "free census identical after freeing everything");
	ok(r.checks_pass, "pool tag totals back to zero, checks pass");
	return tap_done();
}
