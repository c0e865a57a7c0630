# Sourced by the boot tests that run several QEMU cases (loader-test.sh, cmdline-boot-test.sh).
# tap_run_cases JOBS FUNCTION CASE...: prints the TAP plan, then runs FUNCTION N CASE for each case
# (N from 1), JOBS at a time, each into its own file, and prints their output in case order once
# all are done, so the TAP stream reads as if they had run one after another.
tap_run_cases() {
	local jobs_max=$1 fn=$2 out n i c
	shift 2
	out=$(mktemp -d /tmp/tap-cases.XXXXXX)
	echo "1..$#"
	n=0
	for c in "$@"; do
		n=$((n + 1))
		while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
			wait -n
		done
		"$fn" "$n" "$c" > "$out/$n" &
	done
	wait
	for i in $(seq 1 "$n"); do
		cat "$out/$i"
	done
	rm -rf "$out"
}
