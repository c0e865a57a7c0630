#!/bin/bash
# TAP: the whole boot suite with system PTE regions of several sizes (syspte=), one boot each.
#   tools/syspte-sizes.sh [SIZE@RAM ...]     default: the quick cases make test runs
#   tools/syspte-sizes.sh --all              every case below (what make test-matrix adds, too)
# A case passes when QEMU ends with the pass code, the log says SELF-TEST PASSED with 0 failed,
# and the region is the size asked, or, when the machine cannot hold it, smaller with the
# message naming both sizes ("cannot hold syspte=ASKED ... using syspte=GRANTED").
set -u
cd "$(dirname "$0")/.."
src=build/esp-test
QUICK=(2M@512M 512G@512M)
ALL=(2M@512M 64M@512M 1G@512M 16G@1G 32G@1G 64G@1G 128G@1G 256G@2G 512G@4G 512G@512M)
case ${1:-} in
--all) cases=("${ALL[@]}");;
"") cases=("${QUICK[@]}");;
*) cases=("$@");;
esac

# Prints SIZE (e.g. 64M, 2G) in MiB.
mib() { local v=${1%[MG]}; [ "${1: -1}" = G ] && echo $((v * 1024)) || echo "$v"; }

echo "1..${#cases[@]}"
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	size=${c%@*} ram=${c#*@}
	esp=$(mktemp -d /tmp/syspte-esp.XXXXXX)
	cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
	echo "onexit=qemu syspte=$size ${CMDLINE:-}" > "$esp/cmdline.txt"
	log=$esp.log
	start=$(date +%s)
	tools/qemu.sh --esp "$esp" --serial "$log" --timeout "${BOOT_TIMEOUT:-180}" -m "$ram"
	rc=$?
	secs=$(( $(date +%s) - start ))
	tr -d '\r' < "$log" > "$log.txt"
	region=$(sed -n 's/^syspte: region 0x[0-9a-f]*, \([0-9]*\) MiB,.*/\1/p' "$log.txt" | head -n1)
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log.txt" | tail -n1)
	why=""
	[ "$rc" = 33 ] || why="$why exit $rc;"
	grep -q '^SELF-TEST PASSED' "$log.txt" && [[ $summary =~ \ 0\ failed(,|$) ]] || why="$why suite: ${summary:-no summary};"
	if [ -z "$region" ]; then
		why="$why no region line;"
	elif [ "$region" != "$(mib "$size")" ]; then
		granted=$(sed -n "s/^syspte: this machine cannot hold syspte=$size (.*); using syspte=\([0-9]*[MG]\)$/\1/p" "$log.txt")
		if [ -z "$granted" ] || [ "$(mib "$granted")" != "$region" ] || [ "$region" -ge "$(mib "$size")" ]; then
			why="$why region $region MiB for syspte=$size without a message naming both sizes;"
		fi
	fi
	if [ -z "$why" ]; then
		echo "ok $n - syspte=$size on $ram: region $region MiB, $summary (${secs}s)"
	else
		echo "not ok $n - syspte=$size on $ram:$why (${secs}s)"
		sed 's/^/# /' "$log.txt" | grep -E '^# (syspte|cmdline|not ok|    #|SELF|[0-9]+ passed|KERNEL|STOP)' | tail -n 40
	fi
	rm -rf "$esp" "$log" "$log.txt"
done
