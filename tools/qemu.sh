#!/bin/bash
# Boots an ESP directory in QEMU (q35, OVMF 4M as pflash with a fresh vars copy per run).
#   --esp DIR         the ESP tree (EFI/BOOT/BOOTX64.EFI, kernel.elf, cmdline.txt)
#   --interactive     serial on the terminal, no timeout
#   --serial FILE     serial to FILE (batch mode)
#   --timeout S       kill QEMU after S seconds (batch mode; default 120)
#   --gdb             wait for gdb on :1234 (-s -S)
# Other arguments go to QEMU unchanged (e.g. -m 4G -smp 2 -cpu max). OVMF_DIR (default
# /usr/share/OVMF) holds OVMF_CODE_4M.fd and OVMF_VARS_4M.fd.
# Exit status: QEMU's (33 = suite passed, 35 = failed through isa-debug-exit), 124 on timeout, 2
# when the ESP or an OVMF file is missing.
set -eu
esp= interactive=0 serial= timeout=120 gdb=()
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--esp) esp=$2; shift 2;;
	--interactive) interactive=1; shift;;
	--serial) serial=$2; shift 2;;
	--timeout) timeout=$2; shift 2;;
	--gdb) gdb=(-s -S); shift;;
	*) extra+=("$1"); shift;;
	esac
done
[ -n "$esp" ] || { echo "qemu.sh: --esp DIR is required" >&2; exit 2; }
[ -d "$esp" ] || { echo "qemu.sh: no ESP directory $esp (make builds it)" >&2; exit 2; }
ovmf=${OVMF_DIR:-/usr/share/OVMF}
code=$ovmf/OVMF_CODE_4M.fd vars_src=$ovmf/OVMF_VARS_4M.fd
for f in "$code" "$vars_src"; do
	[ -r "$f" ] || { echo "qemu.sh: $f missing: run tools/install-deps.sh" >&2; exit 2; }
done
vars=$(mktemp /tmp/ovmf-vars.XXXXXX.fd)
trap 'rm -f "$vars"' EXIT
cp "$vars_src" "$vars"
vars_file=$vars
if [ "$interactive" = 1 ]; then
	# The exec below ends this shell without its EXIT trap: QEMU gets the copy as an open file whose
	# name is already removed, so make run and make debug leave none in /tmp.
	exec 3<>"$vars"
	rm -f "$vars"
	vars_file=/dev/fd/3
fi
args=(-machine q35 -m 512M -no-reboot -monitor none
	-drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
	-drive if=pflash,format=raw,unit=1,file="$vars_file"
	-drive format=raw,file=fat:rw:"$esp"
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -net none)
if [ "$interactive" = 1 ]; then
	# A window needs a desktop and Debian's qemu-system-gui; otherwise the console is serial only.
	if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || ! ls /usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so >/dev/null 2>&1; then
		args+=(-display none)
	fi
	exec qemu-system-x86_64 "${args[@]}" -serial mon:stdio "${gdb[@]}" "${extra[@]}"
fi
set +e
timeout --foreground -k 5 "$timeout" qemu-system-x86_64 "${args[@]}" -display none \
	-serial file:"${serial:-/dev/null}" "${extra[@]}"
exit $?
