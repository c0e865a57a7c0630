#!/bin/bash
# Boot matrix: boots the self-test suite once per configuration (CPU model, RAM size, boot medium,
# CPU count, serial port) and prints a table: config, result, seconds, details. Every boot must end
# through isa-debug-exit with the pass code (33); with a serial port the log must also say
# "SELF-TEST PASSED", "N passed, 0 failed, N skipped" and each string the config expects.
# Exit status 0 when all pass, 1 otherwise.
#   tools/matrix.sh [--only NAME[,NAME...]] [--logs DIR] [--list]
# Needs build/BOOTX64.EFI and build/kernel.elf (make test-matrix builds them). Environment:
# MATRIX_TIMEOUT (seconds per boot, default 120, times the config's factor), CMDLINE (extra kernel command-line words).
set -eu
cd "$(dirname "$0")/.."

# name | -cpu | -m | -smp | medium (dir, dir-high, sata, usb, nvme, usb-mbr, usb-superfloppy) | serial (yes/no) | timeout factor
#   | strings the serial log must contain, separated by ';' (optional)
#   [| extra command-line words: a dir medium of its own; with syspte=SIZE the region is checked too]
#   [| extra QEMU arguments]
# (12 GiB takes long: the exhaustion tests take all of RAM, and the host must supply it.)
# The CPUs without NX or PAT must say so at boot, skip the tests that need the feature with the
# reason, and pass the rest; a CPU with both skips nothing. The CPU models run two CPUs, so each
# AP's control state is checked against the boot CPU's on every model; a one-CPU machine skips the
# sixteen tests that need a second CPU (qemu64-512M: six of bring-up, eight of the shootdown, one
# of the 2 MiB leaves, one of the per-CPU caches).
# dmar-intel-iommu adds QEMU's VT-d unit, whose DMAR the kernel reads and names: QEMU 7.2 sets
# INTR_REMAP only (never X2APIC_OPT_OUT, and its TCG has no x2APIC), so the boot shows the table
# read on a real firmware, in xAPIC mode; the opt-out's effect is host-tested (test_smp_plan).
# Every configuration with a serial port must report all of its -smp CPUs started, up to the
# kernel's 255 (SMP_MAX_CPUS, include/cpumask.h): smp-72 starts all 72, so CPU masks span two words
# and every test runs on all 72; smp-96-maxcpus-4 starts 4 of 96 (maxcpus=4). QEMU's TCG runs at
# most 255 vCPUs (more need x2APIC, which it lacks), so no boot here reaches past the limit; the
# plan's limit is host-tested (test_smp_plan: 300 CPUs).
# usb-stick-mbr and usb-stick-superfloppy are sticks made by hand (hand_made_stick): an MBR
# partition, and FAT32 on the whole device with upper-case 8.3 names.
# nvme-disk-image boots the disk image from an NVMe drive, as most PCs now do; two-displays adds a
# virtio GPU beside the VGA, so the firmware has several graphics outputs and the loader must take
# the console's.
# smp-4-hotplug-slots-8: QEMU lists the four absent CPUs of maxcpus=8 as disabled MADT entries.
# no-display has no graphics device (no GOP), machine-pc-i440fx the older chipset (its PM timer at
# another port), no-hpet no HPET table: each boots the suite, the tests that need what is missing
# skipping with the reason.
# smp-6-sparse-apic-ids: two sockets of three cores, whose APIC ids QEMU spaces as hardware does
# (0-2 and 4-6: a socket's field rounded up to a power of two), so CPU index 5 is APIC id 6.
SMP_MAX_CPUS=$(sed -nE 's/^#define CPUMASK_MAX_CPUS ([0-9]+).*/\1/p' include/cpumask.h)   # the kernel's CPU limit
SKIP1="smp_call_reaches_a_busy_cpu_through_the_ipi # SKIP one CPU online;smp_calls_crossing_with_interrupts_off_all_finish # SKIP one CPU online;smp_a_cpu_spinning_for_a_lock_answers_the_holders_call # SKIP one CPU online;smp_stalled_cpu_is_reported_parked_and_restarts # SKIP one CPU online;tlb_shootdown_region_remap_seen_by_every_cpu_at_once # SKIP one CPU online;tlb_shootdown_unmap_locked_pages_seen_by_every_cpu_at_once # SKIP one CPU online;tlb_shootdown_pt_unmap_and_protect_seen_by_every_cpu_at_once # SKIP one CPU online;tlb_shootdown_a_map_sends_none # SKIP one CPU online;tlb_shootdown_cpus_unmapping_at_once_with_interrupts_off_all_finish # SKIP one CPU online;tlb_shootdown_answered_by_a_cpu_spinning_for_the_issuers_lock # SKIP one CPU online;tlb_shootdown_after_stopping_the_others_waits_for_none # SKIP one CPU online;tlb_shootdown_all_cpus_map_and_unmap_at_once # SKIP one CPU online;large_leaf_remap_seen_by_every_cpu # SKIP one CPU online;syspte_cache_all_cpus_reserve_and_free_at_once # SKIP one CPU online;smp_late_cpu_takes_nothing_of_the_cpu_the_trampoline_names # SKIP one CPU online;smp_joining_cpu_drops_translations_cached_before_its_join # SKIP one CPU online;smp_restarted_cpu_acknowledges_requests_from_before_its_stop # SKIP one CPU online;smp_cpu_stopping_itself_is_not_waited_for # SKIP one CPU online;smp_ap_fault_early_in_its_setup_is_handled # SKIP one CPU online;smp_stray_cpu_without_nx_is_not_taken_for_the_cpu_started # SKIP one CPU online"
CONFIGS=(
	"qemu64-512M|qemu64|512M|1|dir|yes|1|nx=1;pat=1;smp: 1 of 1 CPUs started;$SKIP1;, 0 failed, 20 skipped"
	"cpu-max|max|512M|2|dir|yes|1|1g=1;, 0 failed, 0 skipped"
	"cpu-no-nx|qemu64,-nx|512M|2|dir|yes|1|nx=0;vm: NOTE: this CPU has no NX;pt_nx_blocks_instruction_fetch # SKIP CPU without NX;pt_live_tables_wx_nx_no_user # SKIP CPU without NX;, 0 failed, 2 skipped"
	"cpu-no-pat|qemu64,-pat|512M|2|dir|yes|1|pat=0;vm: NOTE: this CPU has no PAT;MmWriteCombined WC -> UC-;cpu_pat_programmed # SKIP CPU without PAT;, 0 failed, 1 skipped"
	"cpu-no-nx-pat-pge|qemu64,-nx,-pat,-pge|512M|2|dir|yes|1|nx=0;pat=0;pge=0;this CPU has no NX;this CPU has no PAT;, 0 failed, 3 skipped"
	"cpu-no-ext-leaves|qemu64,xlevel=0|512M|2|dir|yes|1|nx=0 1g=0;physbits=36;this CPU has no NX;, 0 failed, 2 skipped"
	"cpu-core2duo|core2duo|512M|2|dir|yes|1|, 0 failed, 0 skipped"
	"cpu-Nehalem|Nehalem|512M|2|dir|yes|1|, 0 failed, 0 skipped"
	"cpu-Skylake-Server|Skylake-Server|512M|2|dir|yes|1|GenuineIntel nx=1 1g=1;, 0 failed, 0 skipped"
	"cpu-phys-bits-39|max,phys-bits=39|512M|2|dir|yes|1|physbits=39;, 0 failed, 0 skipped"
	"ram-128M|qemu64|128M|1|dir|yes|1"
	"ram-2G|qemu64|2G|1|dir|yes|1"
	"ram-12G-loader-above-4G|max|12G|1|dir-high|yes|3"
	"sata-disk-image|qemu64|512M|1|sata|yes|1"
	"usb-stick-xhci|qemu64|512M|1|usb|yes|1"
	"nvme-disk-image|qemu64|512M|1|nvme|yes|1"
	"usb-stick-mbr|qemu64|512M|1|usb-mbr|yes|1"
	"usb-stick-superfloppy|qemu64|512M|1|usb-superfloppy|yes|1"
	"two-displays|qemu64|512M|2|dir|yes|1|(GOP) chosen, the console's screen;summary: Display   1280 x 800;, 0 failed, 0 skipped||-device virtio-gpu-pci"
	"smp-2|qemu64|512M|2|dir|yes|1|, 0 failed, 0 skipped"
	"smp-4|qemu64|512M|4|dir|yes|1|, 0 failed, 0 skipped"
	"smp-8|qemu64|512M|8|dir|yes|1|, 0 failed, 0 skipped"
	"smp-16|qemu64|512M|16|dir|yes|1|, 0 failed, 0 skipped"
	"smp-4-mttcg|qemu64|512M|4|dir|yes|1|, 0 failed, 0 skipped||-accel tcg,thread=multi"
	"smp-16-mttcg|max|512M|16|dir|yes|1|, 0 failed, 0 skipped||-accel tcg,thread=multi"
	"smp-4-tcg-single-thread|qemu64|512M|4|dir|yes|1|, 0 failed, 0 skipped||-accel tcg,thread=single"
	"dmar-intel-iommu|qemu64|512M|2|dir|yes|1|acpi: DMAR: host address width 39 bits, flags 0x1 interrupt-remapping;CPUs started in;(xAPIC, boot CPU;, 0 failed, 0 skipped||-device intel-iommu,intremap=on"
	"smp-4-maxcpus-2|qemu64|512M|4|dir|yes|1|smp: APIC id 2 not started: beyond maxcpus=2;smp: APIC id 3 not started: beyond maxcpus=2;smp: 2 of 4 CPUs started;, 0 failed, 0 skipped|maxcpus=2"
	"smp-72|qemu64|512M|72|dir|yes|3|smp: 72 of 72 CPUs started;# 72 CPUs: ;, 0 failed, 0 skipped"
	"smp-96-maxcpus-4|qemu64|512M|96|dir|yes|1|smp: APIC id 4 not started: beyond maxcpus=4;more MADT entries not started: beyond maxcpus=4;smp: 4 of 96 CPUs started;, 0 failed, 0 skipped|maxcpus=4"
	"smp-6-sparse-apic-ids|qemu64|512M|6|dir|yes|1|smp: CPU 5 (APIC id 6) not started: no answer;, 0 failed, 0 skipped||-smp 6,sockets=2,cores=3,threads=1"
	"no-display|qemu64|512M|2|dir|yes|1|loader: no graphics output (GOP); the kernel gets no framebuffer.;summary: Display   no linear framebuffer;pt_framebuffer_write_combining # SKIP no framebuffer;summary_fbcon_pixels_and_text_window # SKIP no framebuffer;, 0 failed, 2 skipped||-vga none"
	"smp-4-hotplug-slots-8|qemu64|512M|4|dir|yes|1|smp: 4 MADT entries not started: disabled in the MADT;(ACPI MADT: 4 enabled, 8 listed);, 0 failed, 0 skipped||-smp 4,maxcpus=8"
	"machine-pc-i440fx|qemu64|512M|2|dir|yes|1|ACPI PM timer: present, port 0xb008;, 0 failed, 0 skipped||-machine pc"
	"no-hpet|qemu64|512M|2|dir|yes|1|HPET: table not found;summary_tsc_hpet_agrees # SKIP the firmware lists no HPET table;, 0 failed, 1 skipped||-machine hpet=off"
	"no-serial-port|qemu64|512M|1|dir|no|1"
	"syspte-2M|qemu64|512M|1|dir|yes|1||syspte=2M"
	"syspte-64M|qemu64|512M|1|dir|yes|1||syspte=64M"
	"syspte-16G|qemu64|1G|1|dir|yes|1||syspte=16G"
	"syspte-32G|qemu64|1G|1|dir|yes|1||syspte=32G"
	"syspte-64G|qemu64|1G|1|dir|yes|1||syspte=64G"
	"syspte-128G|qemu64|1G|1|dir|yes|1||syspte=128G"
	"syspte-256G|qemu64|2G|1|dir|yes|1||syspte=256G"
	"syspte-512G|qemu64|4G|1|dir|yes|2||syspte=512G"
	"syspte-512G-on-512M|qemu64|512M|1|dir|yes|1||syspte=512G"
)

# Prints a message and stops.
die() { echo "matrix.sh: $*" >&2; exit 2; }

only= logs= list=0
while [ $# -gt 0 ]; do
	case $1 in
	--only) only=$2; shift 2;;
	--logs) logs=$2; shift 2;;
	--list) list=1; shift;;
	*) die "unknown argument $1 (use --only NAME[,NAME], --logs DIR, --list)";;
	esac
done
if [ "$list" = 1 ]; then printf '%s\n' "${CONFIGS[@]%%|*}"; exit 0; fi
for o in ${only//,/ }; do
	printf '%s\n' "${CONFIGS[@]%%|*}" | grep -qx -- "$o" || die "no configuration named $o (tools/matrix.sh --list)"
done
# --only "," names none: a run of no boots is no pass.
[ -z "$only" ] || [ -n "${only//,/}" ] || die "--only $only names no configuration (tools/matrix.sh --list)"

timeout=${MATRIX_TIMEOUT:-120}
cmdline="onexit=qemu ${CMDLINE:-}"
efi=build/BOOTX64.EFI kernel=build/kernel.elf
for f in "$efi" "$kernel"; do [ -r "$f" ] || die "$f missing: run make build/kernel.elf build/BOOTX64.EFI"; done
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars_src=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -r "$code" ] || die "$code missing: run tools/install-deps.sh"
work=$(mktemp -d /tmp/matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT
logs=${logs:-$work/logs}
mkdir -p "$logs"

# Prints the seconds (one decimal) since $1, a `date +%s%N` timestamp.
seconds_since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); echo "$((ms / 1000)).$((ms % 1000 / 100))"; }

# Wanted: is config $1 selected by --only?
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# Builds the boot media the selected configs need, in $work.
prepare_media() {
	local need=" "
	for c in "${CONFIGS[@]}"; do
		IFS='|' read -r name _ _ _ medium _ _ _ <<< "$c"
		wanted "$name" && need+="$medium "
	done
	if [[ $need == *" dir "* ]]; then
		mkdir -p "$work/esp/EFI/BOOT"
		cp "$efi" "$work/esp/EFI/BOOT/BOOTX64.EFI"
		cp "$kernel" "$work/esp/kernel.elf"
		echo "$cmdline" > "$work/esp/cmdline.txt"
	fi
	if [[ $need == *" dir-high "* ]]; then
		# The loader rebased to 8 GiB: OVMF loads it there when RAM reaches that high. mmapdump=1
		# makes the kernel print the map, so the loader-code range shows where it really ran.
		mkdir -p "$work/esp-high/EFI/BOOT"
		# (objcopy warns "section below image base" for each section: the RVAs stay the same.)
		objcopy --image-base 0x200000000 "$efi" "$work/esp-high/EFI/BOOT/BOOTX64.EFI" 2>"$work/objcopy.err" \
			|| { cat "$work/objcopy.err" >&2; die "objcopy could not rebase $efi"; }
		cp "$kernel" "$work/esp-high/kernel.elf"
		echo "$cmdline mmapdump=1" > "$work/esp-high/cmdline.txt"
	fi
	if [[ $need == *" sata "* || $need == *" usb "* || $need == *" nvme "* ]]; then
		tools/image.sh "$work/disk-test.img" "$cmdline" --efi "$efi" --kernel "$kernel" >/dev/null
	fi
	[[ $need != *" usb-mbr "* ]] || hand_made_stick "$work/stick-mbr.img" mbr
	[[ $need != *" usb-superfloppy "* ]] || hand_made_stick "$work/stick-superfloppy.img" superfloppy
}

# Writes a 64 MiB stick image $1 as people make them by hand rather than with tools/image.sh: $2
# mbr, an MBR with one FAT32 partition (type 0x0C) from 1 MiB, files in lower case; superfloppy,
# FAT32 on the whole device with no partition table, file names in upper case (KERNEL.ELF), as
# tools that write bare 8.3 names leave them.
hand_made_stick() {
	local img=$1 kind=$2 sectors=$((64 * 2048)) at="" k=kernel.elf c=cmdline.txt
	rm -f "$img"
	truncate -s 64M "$img"
	if [ "$kind" = mbr ]; then
		# Partition entry 1 at byte 446: type 0x0C, first LBA 2048, 129024 sectors (little-endian);
		# the signature 0x55 0xAA at 510.
		printf '\x80\xfe\xff\xff\x0c\xfe\xff\xff\x00\x08\x00\x00\x00\xf8\x01\x00' |
			dd of="$img" bs=1 seek=446 conv=notrunc status=none
		printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none
		at=@@1M sectors=$((sectors - 2048))
	else
		k=KERNEL.ELF c=CMDLINE.TXT
	fi
	mformat -i "$img$at" -F -T "$sectors" -h 64 -s 32 -v STICK :: || die "mformat could not make $img"
	mmd -i "$img$at" ::/EFI ::/EFI/BOOT
	mcopy -i "$img$at" "$efi" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$img$at" "$kernel" "::/$k"
	echo "$cmdline" > "$work/cmdline-$kind.txt"
	mcopy -i "$img$at" "$work/cmdline-$kind.txt" "::/$c"
}

# Boots one configuration: boot NAME CPU MEM SMP MEDIUM SERIAL LIMIT [WORDS [QEMU-ARGS]]; sets rc
# (QEMU's exit status).
boot() {
	local name=$1 cpu=$2 mem=$3 smp=$4 medium=$5 serial=$6 limit=$7 words=${8:-} qextra=${9:-} vars
	local log=$logs/$name.log
	vars=$work/vars-$name.fd
	cp "$vars_src" "$vars"
	local args=(-machine q35 -cpu "$cpu" -m "$mem" -smp "$smp" -no-reboot -monitor none -display none
		-drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
		-drive if=pflash,format=raw,unit=1,file="$vars"
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -net none)
	# shellcheck disable=SC2206
	[ -z "$qextra" ] || args+=($qextra)
	case $medium in
	dir) if [ -n "$words" ]; then   # its own ESP, with the extra command-line words
		mkdir -p "$work/esp-$name"
		cp -r "$work/esp/EFI" "$work/esp/kernel.elf" "$work/esp-$name/"
		echo "$cmdline $words" > "$work/esp-$name/cmdline.txt"
		args+=(-drive format=raw,file=fat:rw:"$work/esp-$name")
	     else
		args+=(-drive format=raw,file=fat:rw:"$work/esp")
	     fi;;
	dir-high) args+=(-drive format=raw,file=fat:rw:"$work/esp-high");;
	sata) args+=(-drive file="$work/disk-test.img",format=raw,if=none,id=d,snapshot=on
		-device ide-hd,drive=d,bus=ide.0);;
	usb) args+=(-device qemu-xhci,id=xhci
		-drive if=none,id=stick,format=raw,file="$work/disk-test.img",snapshot=on
		-device usb-storage,bus=xhci.0,drive=stick,removable=on);;
	nvme) args+=(-drive file="$work/disk-test.img",format=raw,if=none,id=n,snapshot=on
		-device nvme,drive=n,serial=rmkernel);;
	usb-mbr|usb-superfloppy) args+=(-device qemu-xhci,id=xhci
		-drive if=none,id=stick,format=raw,file="$work/stick-${medium#usb-}.img",snapshot=on
		-device usb-storage,bus=xhci.0,drive=stick,removable=on);;
	esac
	if [ "$serial" = yes ]; then args+=(-serial file:"$log"); else args+=(-serial none); : > "$log"; fi
	set +e
	timeout -k 5 "$limit" qemu-system-x86_64 "${args[@]}" </dev/null >"$logs/$name.qemu" 2>&1
	rc=$?
	set -e
	echo "$rc" > "$logs/$name.rc"
}

# Prints SIZE (64M, 2G) in MiB.
mib() { local v=${1%[MG]}; [ "${1: -1}" = G ] && echo $((v * 1024)) || echo "$v"; }

# Judges the region of a syspte=SIZE boot (judge_region SIZE TEXT): the size asked, or a smaller
# one with the message naming both; appends to detail, and fails the verdict otherwise.
judge_region() {
	local size=$1 txt=$2 region granted
	region=$(sed -n 's/^syspte: region 0x[0-9a-f]*, \([0-9]*\) MiB,.*/\1/p' <<< "$txt" | head -n1)
	granted=$(sed -n "s/^syspte: this machine cannot hold syspte=$size (.*); using syspte=\([0-9]*[MG]\)$/\1/p" <<< "$txt")
	if [ -n "$region" ] && [ "$region" = "$(mib "$size")" ]; then
		detail+=", region $size"
	elif [ -n "$region" ] && [ -n "$granted" ] && [ "$(mib "$granted")" = "$region" ] && [ "$region" -lt "$(mib "$size")" ]; then
		detail+=", region $granted for syspte=$size (message names both)"
	else
		verdict=FAIL; detail+=", region ${region:-?} MiB for syspte=$size without the message"
	fi
}

# Judges one boot from rc and its log (judge NAME MEDIUM SERIAL LIMIT EXPECT WORDS SMP); sets verdict
# and detail.
judge() {
	local name=$1 medium=$2 serial=$3 limit=$4 expect=$5 words=${6:-} smp=${7:-1} log=$logs/$1.log txt summary features ram cpus bootdev low s want missing=""
	txt=$(tr -d '\r' < "$log" 2>/dev/null || true)   # no log when QEMU did not start
	verdict=FAIL
	case $rc in
	33) detail="exit 33";;
	35) detail="exit 35 (suite failed)";;
	124|137) detail="timeout after ${limit}s";;
	*) detail="exit $rc ($(tail -n1 "$logs/$name.qemu" 2>/dev/null))";;
	esac
	if [ "$serial" = no ]; then
		[ "$rc" = 33 ] && verdict=PASS && detail="exit 33, judged by exit code only"
		return 0
	fi
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' <<< "$txt" | tail -n1 || true)
	features=$(grep -oE '^cpu: .* nx=[01] 1g=[01] .* pat=[01] pge=[01]' <<< "$txt" | head -n1 |
		grep -oE '(nx|1g|pat|pge)=[01]' | tr '\n' ' ' | sed 's/ $//' || true)
	ram=$(grep -oE '^phys: [0-9]+ usable pages \([0-9]+ MiB\)' <<< "$txt" | grep -oE '[0-9]+ MiB' | head -n1 || true)
	# The bring-up's own line, before the KTAP: tests print lines of that shape for made-up machines.
	cpus=$(awk '/^KTAP version 1$/ { exit } { print }' <<< "$txt" | grep -oE '^smp: [0-9]+ of [0-9]+ CPUs started' |
		head -n1 | sed 's/^smp: //' || true)
	detail+=", ${summary:-no KTAP summary}${features:+, $features}${ram:+, $ram usable}, ${cpus:-no smp line}"
	[ "$rc" = 33 ] && grep -q '^SELF-TEST PASSED' <<< "$txt" && [[ $summary =~ \ passed,\ 0\ failed(,|$) ]] && verdict=PASS
	IFS=';' read -r -a want <<< "$expect"
	for s in "${want[@]}"; do grep -qF -- "$s" <<< "$txt" || missing+=" [$s]"; done
	[ -z "$missing" ] || { verdict=FAIL; detail+=", log lacks:$missing"; }
	# Every CPU QEMU runs is found, and started unless maxcpus= or the kernel's limit says fewer.
	local want_started=$smp
	[ "$want_started" -gt "$SMP_MAX_CPUS" ] && want_started=$SMP_MAX_CPUS
	[[ " $words" =~ \ maxcpus=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -lt "$want_started" ] && want_started=${BASH_REMATCH[1]}
	[ "$cpus" = "$want_started of $smp CPUs started" ] || { verdict=FAIL; detail+=", want $want_started of $smp CPUs started"; }
	bootdev=$(grep -oE 'BdsDxe: starting .*' <<< "$txt" | grep -oE '(Sata|USB|Scsi|NVMe|VirtioBlk)\([^)]*\)' | head -n1 || true)
	case $medium in
	sata) [[ $bootdev == Sata* ]] || { verdict=FAIL; detail+=", did not boot from SATA (${bootdev:-no boot line})"; }
	      [[ $bootdev == Sata* ]] && detail+=", from $bootdev";;
	usb|usb-mbr|usb-superfloppy)
	     [[ $bootdev == USB* ]] || { verdict=FAIL; detail+=", did not boot from USB (${bootdev:-no boot line})"; }
	     [[ $bootdev == USB* ]] && detail+=", from $bootdev";;
	nvme) [[ $bootdev == NVMe* ]] || { verdict=FAIL; detail+=", did not boot from NVMe (${bootdev:-no boot line})"; }
	     [[ $bootdev == NVMe* ]] && detail+=", from $bootdev";;
	dir-high)
		# Loader code (type 1) descriptors: the loader image must sit above 4 GiB.
		low=$(awk '$1 == 1 && $2 ~ /^[0-9a-f]+-/ { print substr($2, 1, 16) }' <<< "$txt" | sort | tail -n1)
		if [ -n "$low" ] && [ $((16#$low)) -ge $((1 << 32)) ]; then
			detail+=", loader code at 0x$low"
		else
			verdict=FAIL; detail+=", loader code not above 4 GiB (${low:-not in map})"
		fi;;
	esac
	if [[ " $words" =~ \ syspte=([0-9]+[MG]) ]]; then judge_region "${BASH_REMATCH[1]}" "$txt"; fi
	return 0
}

prepare_media
printf '%-26s %-6s %7s  %s\n' config result seconds details
printf '%-26s %-6s %7s  %s\n' ------ ------ ------- -------
failed=() ran=0
total_start=$(date +%s%N)
for c in "${CONFIGS[@]}"; do
	IFS='|' read -r name cpu mem smp medium serial factor expect words qextra <<< "$c"
	wanted "$name" || continue
	start=$(date +%s%N)
	boot "$name" "$cpu" "$mem" "$smp" "$medium" "$serial" $((timeout * factor)) "${words:-}" "${qextra:-}"
	secs=$(seconds_since "$start")
	judge "$name" "$medium" "$serial" $((timeout * factor)) "${expect:-}" "${words:-}" "$smp"
	printf '%-26s %-6s %7s  %s\n' "$name" "$verdict" "$secs" "$detail"
	ran=$((ran + 1))
	[ "$verdict" = PASS ] || failed+=("$name")
done
echo "total $(seconds_since "$total_start") s for $ran boots"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED: ${failed[*]}"
	for f in "${failed[@]}"; do
		echo "---- $f: last lines of the serial log ($logs/$f.log)"
		tr -d '\r' < "$logs/$f.log" | tail -n 30 | sed 's/^/    /'
		[ -s "$logs/$f.qemu" ] && sed 's/^/    qemu: /' "$logs/$f.qemu"
	done
	[ "$logs" = "$work/logs" ] && echo "(logs are removed on exit; keep them with --logs DIR)"
	exit 1
fi
echo "all $ran configurations passed"
