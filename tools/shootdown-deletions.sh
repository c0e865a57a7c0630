#!/bin/bash
# TAP producer for prove: proves that the host tests see a missing TLB shootdown. Runs
# build/host/test_shootdown once as it is (it must pass), then once per part of the shootdown
# deleted through TLB_INJECT (include/tlb_batch.h): the cross-CPU round, the receiving side's
# per-page path, its flush of everything (skipped, or without the global translations), the
# issuing CPU's own invalidation, and the round of each source of batches (the region's unmap,
# which MmUnmapReservedMapping and MmUnmapLockedPages share; pt_unmap; pt_protect). Each deletion
# must make the test fail; the failing checks are listed, counted by kind.
set -u
cd "$(dirname "$0")/.."
bin=${SHOOTDOWN_TEST:-build/host/test_shootdown}
names=(round recv-pages recv-all recv-all-local local region-unmap pt-unmap pt-protect)
what=("the cross-CPU round" "the receiving side's per-page path" "the receiving side's flush of everything"
      "the receiving side's flush of global translations (a CR3 reload instead)" "the issuing CPU's own invalidation"
      "the region unmap's round (MmUnmapReservedMapping, MmUnmapLockedPages)" "pt_unmap's round" "pt_protect's round")
echo "1..$(( ${#names[@]} + 1 ))"
log=$(mktemp /tmp/shootdown-deletions.XXXXXX)
trap 'rm -f "$log"' EXIT
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $bin is not built"
	exit 1
fi
(timeout 600 "$bin" > "$log" 2>&1; exit $?) 2>/dev/null
rc=$?
n=$(grep -c '^ok ' "$log")
if [ "$rc" = 0 ] && ! grep -q '^not ok' "$log"; then
	echo "ok 1 - with nothing deleted, test_shootdown passes ($n checks)"
else
	echo "not ok 1 - with nothing deleted, test_shootdown fails (exit $rc)"
	grep -E '^(not ok|#)' "$log" | head -20 | sed 's/^/# /'
fi
for i in "${!names[@]}"; do
	(TLB_INJECT=${names[$i]} timeout 600 "$bin" > "$log" 2>&1; exit $?) 2>/dev/null   # the shell's "Aborted" too
	rc=$?
	failed=$(grep -c '^not ok' "$log")
	end=$(grep -E '^\*\*\* STOP|^fake_arch|^PANIC|AddressSanitizer|ThreadSanitizer' "$log" | head -1)
	if [ "$rc" != 0 ] && { [ "$failed" -gt 0 ] || [ -n "$end" ]; }; then
		echo "ok $((i + 2)) - deleting ${what[$i]} (TLB_INJECT=${names[$i]}) is caught: $failed checks fail${end:+, then the run ends: $end}"
	else
		echo "not ok $((i + 2)) - deleting ${what[$i]} (TLB_INJECT=${names[$i]}) goes unseen (exit $rc, $failed checks fail)"
	fi
	grep '^not ok' "$log" | sed -E 's/^not ok [0-9]+ - //; s/, [0-9]+ pages: /: /' | sort | uniq -c | sed 's/^/#   /'
done
